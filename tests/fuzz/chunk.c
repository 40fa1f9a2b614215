/*  fuzz/chunk - libFuzzer target for packed chunks (proto/chunker.c),
    as peers and bundles bring them. The first two bytes give the size
    the manifest would name; the rest is the packed chunk. Whatever the
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
    size_t want = ((size_t) data [0] << 8 | data [1]) + 1;     //  1..65536
    uint8_t *out = (uint8_t *) malloc (want);
    uint8_t hash [32] = { 0 };
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
