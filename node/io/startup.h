/*  startup - weft-node's command line and the steps before its loop
    The option table, and the identity: loaded from --data-dir, or
    enrolled first (with a token, or by TPM credential activation), with
    the one-shot modes --write-ek and --measure answered here. The token
    is read only while it is needed and never kept.  */

#ifndef WEFT_STARTUP_H_INCLUDED
#define WEFT_STARTUP_H_INCLUDED

#include "proto/io/keyfile.h"
#include "proto/io/options.h"
#include "node/io/identity.h"

#define STARTUP_TOKEN_ENV   "WEFT_TOKEN"    //  The enrolment token, if not in a file

extern const char *startup_synopsis;
extern const option_spec_t startup_options [];

//  weft-node's exit status when it must be started again to run the
//  slot an install chose (docs/node.md, Exit status)
#define STARTUP_EXIT_RESTART    3

//  Parse and check the command line. NULL with *exit_p (0 after --help).
keyfile_t *
    startup_options_parse (int argc, char *argv [], int *exit_p);

//  SIGINT and SIGTERM raise CZMQ's interrupt flag (the loop sees it);
//  SIGPIPE is ignored (an apply command may close its stdin early).
void
    startup_signals (void);

//  A fatal start-up error: on stderr for the operator, and in syslog
//  too when logging goes there.
void
    startup_fatal (bool to_syslog, const char *what, const char *error);

//  Our identity, enrolled if it was not yet. NULL with *exit_p set when
//  we must stop: an error (logged), or a one-shot mode done (exit 0).
identity_t *
    startup_identity (keyfile_t *options, bool to_syslog, int *exit_p);

//  Our certificate (caller frees) and the CA's public key, as enrolment
//  stored them. NULL (logged) if the identity file lacks them.
uint8_t *
    startup_certificate (identity_t *identity, size_t *size_p, uint8_t ca_key [32]);

#endif
