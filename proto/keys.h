/*  keys - node and operator key material, and small crypto helpers
    An identity is an Ed25519 signing pair (envelopes, certificates) and
    an X25519 pair for ZeroMQ CURVE. Both are made on the device. Secret
    halves are wiped by keys_wipe; never log them. Wraps libsodium, which
    must be initialised (sodium_init) before use.  */

#ifndef WEFT_KEYS_H_INCLUDED
#define WEFT_KEYS_H_INCLUDED

#include "proto.h"

typedef struct {
    uint8_t sign_public [WEFT_KEY_SIZE];
    uint8_t sign_secret [WEFT_SECRET_SIZE];
    uint8_t curve_public [WEFT_KEY_SIZE];
    uint8_t curve_secret [WEFT_KEY_SIZE];
} keys_t;

//  Make a fresh identity.
void
    keys_generate (keys_t *keys);

//  Make an identity deterministically from a 32-byte seed, for tests,
//  golden vectors and the simulator. The CURVE pair is derived from the
//  seed through BLAKE2b, so the two pairs are unrelated. Never use a
//  guessable seed for a real device.
void
    keys_from_seed (keys_t *keys, const uint8_t seed [32]);

//  keys_from_seed with a seed of 32 copies of one byte: the identities of
//  the golden vectors (docs/protocol.md section 14) and of tests.
void
    keys_from_byte (keys_t *keys, uint8_t byte);

//  Serialise an identity to a msgpack blob for a key file, and back.
//  Caller frees *out_p after wiping it with sodium_memzero.
int
    keys_encode (const keys_t *keys, uint8_t **out_p, size_t *size_p);
int
    keys_decode (keys_t *keys, const uint8_t *data, size_t size);

//  Wipe secret material.
void
    keys_wipe (keys_t *keys);

//  Lower-case hex of size bytes into hex (2 * size + 1 bytes).
void
    keys_hex (const uint8_t *data, size_t size, char *hex);

//  Parse exactly size bytes of hex. Returns 0 or -1.
int
    keys_unhex (const char *hex, uint8_t *data, size_t size);

//  Z85 text of a CURVE key (40 chars + NUL), as ZeroMQ wants it.
void
    keys_z85 (const uint8_t key [WEFT_KEY_SIZE], char z85 [41]);

//  BLAKE2b-256 of data into hash.
void
    keys_hash (const void *data, size_t size, uint8_t hash [32]);

void
    keys_test (bool verbose);

#endif
