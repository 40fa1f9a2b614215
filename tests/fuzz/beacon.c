/*  fuzz/beacon - libFuzzer target for the LAN discovery beacon
    Whatever decodes must re-encode to the same first BEACON_SIZE bytes
    and decode again to the same fields; whatever does not must leave
    the output zeroed.  */

#include <string.h>
#include <assert.h>
#include "proto/beacon.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    beacon_t beacon, back;
    static const beacon_t zero;
    if (beacon_decode (&beacon, data, size) != 0) {
        assert (memcmp (&beacon, &zero, sizeof beacon) == 0);
        return 0;
    }
    assert (size >= BEACON_SIZE && size <= BEACON_MAX && beacon.port != 0);
    uint8_t out [BEACON_SIZE];
    assert (beacon_encode (&beacon, out) == 0);
    assert (memcmp (out, data, BEACON_SIZE) == 0);
    assert (beacon_decode (&back, out, sizeof out) == 0);
    assert (memcmp (&back, &beacon, sizeof back) == 0);
    return 0;
}
