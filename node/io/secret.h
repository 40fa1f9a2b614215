/*  secret - a secret (an enrolment token) from a file, standard input or
    the environment, never from the command line
    Any local user reads any process's command line (/proc/PID/cmdline),
    so a secret comes from a file only its owner can read, from standard
    input, or from an environment variable (/proc/PID/environ is readable
    by the process's owner alone). A variable's text is wiped in place
    and the variable removed once read, so children (an apply command)
    do not inherit it and /proc/PID/environ no longer shows it.  */

#ifndef WEFT_SECRET_H_INCLUDED
#define WEFT_SECRET_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define SECRET_MAX      1024        //  Longest secret read, bytes

//  Read a secret of at most out_size - 1 bytes: from path ("-" is
//  standard input, up to its first newline) if path is given, else from
//  the environment variable env_name if it is set. White space around
//  it (a file's trailing newline) is dropped. A regular file must not
//  be readable or writable by group or others. Returns 1 with the
//  secret in out, 0 if neither source was given, or -1 with the reason
//  in error (unreadable, open to others, empty, too long, or given both
//  ways). The variable is wiped and removed in every case.
int
    secret_read (const char *path, const char *env_name, char *out, size_t out_size,
                 char *error, size_t error_size);

//  Wipe the environment variable's value in place and remove it.
void
    secret_forget_env (const char *env_name);

void
    secret_test (bool verbose);

#endif
