/*  fuzz/envelope - libFuzzer target for envelope_decode and what follows
    Decodes the input as a frame; if that succeeds, verifies it with a
    fixed key (it will almost never verify, but must never crash),
    decodes the payload for the envelope's type, and reframes it. Any
    crash, leak or sanitizer report is a bug in proto/.
    With WEFT_FUZZ_EXPORT=FILE, a decoded envelope's type byte and
    payload are written to FILE: tests/fuzz/run.sh seeds the msg
    target's corpus that way from the golden vectors.  */

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/envelope.h"
#include "proto/msg.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static uint8_t public_key [WEFT_KEY_SIZE];
    static bool ready = false;
    if (!ready) {
        if (sodium_init () < 0)
            abort ();
        uint8_t seed [32], secret [WEFT_SECRET_SIZE];
        memset (seed, 0x01, sizeof seed);   //  The golden vectors' node key
        crypto_sign_seed_keypair (public_key, secret, seed);
        ready = true;
    }
    envelope_t env;
    if (envelope_decode (&env, data, size) != 0)
        return 0;
    //  Borrowed pointers must lie inside the input
    assert (env.body >= data && env.body + env.body_size <= data + size);
    assert (env.sig >= data && env.sig + WEFT_SIG_SIZE <= data + size);
    assert (env.payload >= data && env.payload + env.payload_size <= data + size);
    assert (env.hops <= env.hop_limit);
    assert (env.origin [0] && strlen (env.origin) <= WEFT_NAME_MAX);
    int rc = envelope_verify (&env, public_key);
    assert (rc == 0 || rc == PROTO_ERR_SIGNATURE);
    const char *export = getenv ("WEFT_FUZZ_EXPORT");
    if (export && *export) {
        FILE *file = fopen (export, "wb");
        if (file) {
            fputc (env.type & 0xff, file);
            fwrite (env.payload, 1, env.payload_size, file);
            fclose (file);
        }
    }
    msg_t msg;
    msg_decode (&msg, env.type, env.payload, env.payload_size);
    uint8_t *frame;
    size_t frame_size;
    if (envelope_reframe (&env, env.hops, &frame, &frame_size) == 0) {
        envelope_t again;
        rc = envelope_decode (&again, frame, frame_size);
        assert (rc == 0);
        assert (again.body_size == env.body_size
             && memcmp (again.body, env.body, env.body_size) == 0);
        free (frame);
    }
    return 0;
}
