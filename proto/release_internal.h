/*  release_internal - what release.c (the format) and release_trust.c
    (the chain of trust) share; not for use outside them  */

#ifndef WEFT_RELEASE_INTERNAL_H_INCLUDED
#define WEFT_RELEASE_INTERNAL_H_INCLUDED

#include "proto/release.h"

#define RELEASE_SIG_ENTRY   (WEFT_KEY_SIZE + WEFT_SIG_SIZE)

//  A signed role, borrowed from its bytes
typedef struct {
    release_role_t role;
    const uint8_t *body;
    size_t body_size;
    const uint8_t *sigs;
    size_t sig_count;
} release_signed_t;

int
    release_signed_open (release_signed_t *self, const uint8_t *data, size_t size);
bool
    release_threshold_met (const release_signed_t *self, const release_keyset_t *keyset);
#endif
