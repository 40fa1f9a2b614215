/*  fuzz/ima - libFuzzer target for the IMA ascii measurement list parser
    and the allowlist parser (proto/attest_ima.c, included
    directly). Whatever the input, verification returns 0 or -1, a
    failure names an entry within the list or none, the state only
    advances on success, and nothing is read outside the input.  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/attest_ima.c"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char error [512];
    int64_t entry;
    uint8_t quoted [32] = { 0 };
    //  First byte: where the list starts and what was verified before
    uint64_t first = size? data [0] & 3: 0;
    attest_ima_state_t state = { size? (data [0] >> 2) & 3: 0, { 0 } };
    attest_ima_state_t before = state;
    const char *list = size? (const char *) data + 1: NULL;
    size_t list_size = size? size - 1: 0;
    int rc = attest_ima_verify (list, list_size, first, quoted, NULL, &state, &entry,
                                error, sizeof error);
    assert (rc == 0 || rc == -1);
    assert (entry >= -1 && entry <= ATTEST_IMA_ENTRIES_MAX + 4);
    if (rc == -1)
        assert (memcmp (&state, &before, sizeof state) == 0);

    attest_ima_allowlist_t allow;
    if (attest_ima_allowlist_parse (list, list_size, &allow, error, sizeof error) == 0) {
        assert (allow.count <= ATTEST_IMA_ALLOW_MAX);
        for (size_t i = 1; i < allow.count; i++)
            assert (memcmp (allow.digests [i - 1], allow.digests [i], 32) < 0);
        state = before;
        attest_ima_verify (list, list_size, first, quoted, &allow, &state, &entry,
                           error, sizeof error);
        attest_ima_allowlist_free (&allow);
    }
    return 0;
}
