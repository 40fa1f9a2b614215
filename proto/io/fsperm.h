/*  fsperm - the directories and files that hold Weft's state are its
    owner's alone
    A data directory holds private keys and the database, so it is
    created with mode 0700 (with any missing parent), and one that
    already exists is used only if it is a directory owned by us that
    group and others cannot enter, read or write; a database file must
    be 0600 or narrower. Anything wider is refused with the chmod that
    fixes it, never silently used and never changed for the operator:
    a data directory set by mistake to /tmp or a home directory must not
    have its mode narrowed under everyone else's feet.  */

#ifndef WEFT_FSPERM_H_INCLUDED
#define WEFT_FSPERM_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  Create path with mode 0700 (parents too, also 0700), or check the
//  existing one. Returns 0, or -1 with the reason and the fix in error.
int
    fsperm_dir (const char *path, char *error, size_t error_size);

//  Check an existing file that holds state: a regular file of ours that
//  group and others cannot read or write. A missing file is fine.
//  Returns 0, or -1 with the reason and the fix in error.
int
    fsperm_file (const char *path, char *error, size_t error_size);

void
    fsperm_test (bool verbose);

#endif
