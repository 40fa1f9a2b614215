/*  keyfile - small text files of name=value lines holding identities
    Used for a node's identity, the coordinator's CA and operator
    credentials. Files with secrets are written atomically (temporary
    file, fsync, rename) with mode 0600, and keyfile_load with
    private=true refuses a file that group or others can read, as ssh
    does, rather than trust a secret others may have copied.  */

#ifndef WEFT_KEYFILE_H_INCLUDED
#define WEFT_KEYFILE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _keyfile_t keyfile_t;

keyfile_t *
    keyfile_new (void);

void
    keyfile_destroy (keyfile_t **self_p);

//  Load path. Returns NULL and sets *error (static text) if the file is
//  missing, unreadable, malformed, or (with private) readable by others.
keyfile_t *
    keyfile_load (const char *path, bool private, const char **error);

//  Save atomically with mode 0600 (private) or 0644. Returns 0 or -1.
int
    keyfile_save (keyfile_t *self, const char *path, bool private);

//  Value for name, borrowed, or NULL.
const char *
    keyfile_get (keyfile_t *self, const char *name);

//  Set name to value (copied). Names are [a-z0-9_-]+; values are one line.
void
    keyfile_set (keyfile_t *self, const char *name, const char *value);

//  Hex-encoded binary helpers. get_bin returns 0 if name holds exactly
//  size bytes of hex, else -1.
void
    keyfile_set_bin (keyfile_t *self, const char *name, const void *data,
                     size_t size);
int
    keyfile_get_bin (keyfile_t *self, const char *name, void *data, size_t size);

//  Variable-size binary value (hex). Returns a heap copy or NULL.
uint8_t *
    keyfile_get_blob (keyfile_t *self, const char *name, size_t *size_p);

void
    keyfile_test (bool verbose);

#endif
