/*  fuzz/chunk - libFuzzer target for packed chunks and chunk deltas
    (proto/chunker.c), as peers and bundles bring them. The first two
    bytes give the size the manifest would name (the high bit of the
    first: the rest is a delta, against a fixed base, instead of a
    packed chunk). Whatever the
    input, unpacking writes no more than that size, and a chunk that
    unpacks hashes to the address asked for (here: the hash of what the
    fuzzer's bytes inflate to, taken from a first unpack with the wrong
    address).  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/corelib.h"
#include "proto/chunker.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    bool delta = data [0] & 0x80;
    size_t want = ((size_t) (data [0] & 0x7f) << 9 | (size_t) data [1] << 1) + 1;
    uint8_t *out = (uint8_t *) malloc (want);
    uint8_t hash [32] = { 0 };
    if (delta) {
        static uint8_t base [CHUNKER_DELTA_BASES * CHUNKER_MAX];
        size_t bases, frame_size;
        const uint8_t *names, *frame;
        if (chunker_delta_split (data + 2, size - 2, &bases, &names, &frame, &frame_size) == 0) {
            assert (bases >= 1 && bases <= CHUNKER_DELTA_BASES);
            assert (frame > data && frame + frame_size == data + size);
            int rc = chunker_undelta (frame, frame_size, base, bases * 1000, hash, out, want);
            if (rc == PROTO_ERR_SIGNATURE) {
                chunker_hash (out, want, hash);
                assert (chunker_undelta (frame, frame_size, base, bases * 1000, hash, out,
                                         want) == 0);
            }
            else
                assert (rc == PROTO_ERR_MALFORMED || rc == PROTO_ERR_VALUE);
        }
        free (out);
        return 0;
    }
    int rc = chunker_unpack (data + 2, size - 2, hash, out, want);
    if (rc == PROTO_ERR_SIGNATURE) {
        //  Whole and of the right size: with its own address it passes
        chunker_hash (out, want, hash);
        assert (chunker_unpack (data + 2, size - 2, hash, out, want) == 0);
    }
    else
        assert (rc == PROTO_ERR_MALFORMED || rc == PROTO_ERR_VALUE);
    free (out);
    return 0;
}
