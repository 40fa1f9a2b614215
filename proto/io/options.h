/*  options - command-line flags, config files and logging set-up
    Shared by every Weft program so they all behave alike: each option
    has an embedded default, a config file (--config FILE, name=value
    lines with the long option names) overrides the defaults, and flags
    override the file. --help prints the synopsis and every option.  */

#ifndef WEFT_OPTIONS_H_INCLUDED
#define WEFT_OPTIONS_H_INCLUDED

#include "proto/io/keyfile.h"

typedef struct {
    const char *name;               //  Long name without dashes
    const char *arg;                //  Argument name for --help; NULL for a flag
    const char *fallback;           //  Embedded default, or NULL for none
    const char *help;               //  One line for --help
} option_spec_t;

//  Parse argv against specs (terminated by a NULL name). Returns the
//  values (flags are "1" when given), with *argi_p set to the index of
//  the first positional argument after GNU-style permutation. Returns
//  NULL with *exit_p = 0 after --help, or 2 after a usage error (the
//  message is printed on stderr).
keyfile_t *
    options_parse (const char *synopsis, const option_spec_t *specs, int argc,
                   char *argv [], int *argi_p, int *exit_p);

//  Integer value of an option; returns fallback if unset or not a number.
int64_t
    options_int (keyfile_t *values, const char *name, int64_t fallback);

//  A duration: plain seconds, or a number with s, m, h or d ("90s",
//  "30m", "12h", "30d"). Returns seconds, or -1 if text is not a
//  positive duration of at most max_s seconds.
int64_t
    options_duration_s (const char *text, int64_t max_s);

//  Print "program: message" on stderr, the one error format scripts
//  and people both read.
void
    options_fail (const char *program, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Is a flag set?
bool
    options_flag (keyfile_t *values, const char *name);

//  Log with the ident as prefix to stderr, or to syslog when to_syslog.
void
    options_log_setup (const char *ident, bool to_syslog);

void
    options_test (bool verbose);

#endif
