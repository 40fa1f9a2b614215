/*  startup - weft-node's command line and the steps before its loop
    The option table, and the identity: loaded from --data-dir, or
    enrolled first (with a token, or by TPM credential activation), with
    the one-shot modes --write-ek and --measure answered here. The token
    is read only while it is needed and never kept.  */

#ifndef WEFT_STARTUP_H_INCLUDED
#define WEFT_STARTUP_H_INCLUDED

#include "node/io/keyfile.h"
#include "node/io/options.h"
#include "node/io/identity.h"

#define STARTUP_TOKEN_ENV   "WEFT_TOKEN"    //  The enrolment token, if not in a file

extern const char *startup_synopsis;
extern const option_spec_t startup_options [];

//  Parse and check the command line. NULL with *exit_p (0 after --help).
keyfile_t *
    startup_options_parse (int argc, char *argv [], int *exit_p);

//  A fatal start-up error: on stderr for the operator, and in syslog
//  too when logging goes there.
void
    startup_fatal (bool to_syslog, const char *what, const char *error);

//  Our identity, enrolled if it was not yet. NULL with *exit_p set when
//  we must stop: an error (logged), or a one-shot mode done (exit 0).
identity_t *
    startup_identity (keyfile_t *options, bool to_syslog, int *exit_p);

#endif
