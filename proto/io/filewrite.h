/*  filewrite - a file replaced whole or not at all
    Written to a temporary file beside it, synced, renamed over the
    old one, and the directory synced so the rename survives a power
    loss: a reader sees the old bytes or the new ones, never a mix.  */

#ifndef WEFT_FILEWRITE_H_INCLUDED
#define WEFT_FILEWRITE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

//  Write size bytes of data to path with mode. Returns 0, or -1 with
//  *error set to a message naming the path and the cause (caller frees).
int
    filewrite_atomic (const char *path, const void *data, size_t size, mode_t mode,
                      char **error);

//  The same, replaced whole but not synced: for many files written in a
//  batch that the caller makes durable once at the end (syncfs).
int
    filewrite_batch (const char *path, const void *data, size_t size, mode_t mode,
                     char **error);

//  Read a whole file of at most max bytes. Returns a heap buffer (with
//  a NUL after the data, not counted in *size_p), or NULL with *error
//  set (caller frees): missing, unreadable, or larger than max.
void *
    filewrite_read (const char *path, size_t max, size_t *size_p, char **error);

void
    filewrite_test (bool verbose);

#endif
