/*  beacon - the LAN discovery beacon; see beacon.h for the layout.
    A fixed binary layout rather than msgpack: the datagram is tiny,
    read by every node on the LAN, and has no optional parts.  */

#include <stdio.h>
#include <string.h>
#include <assert.h>
#include "keys.h"
#include "beacon.h"

static const uint8_t s_magic [4] = { 'W', 'F', 'T', 'B' };

void
beacon_fingerprint (const uint8_t ca_key [WEFT_KEY_SIZE],
                    uint8_t fingerprint [BEACON_FINGERPRINT_SIZE])
{
    assert (ca_key && fingerprint);
    uint8_t hash [32];
    keys_hash (ca_key, WEFT_KEY_SIZE, hash);
    memcpy (fingerprint, hash, BEACON_FINGERPRINT_SIZE);
}

int
beacon_encode (const beacon_t *beacon, uint8_t data [BEACON_SIZE])
{
    assert (beacon && data);
    if (beacon->port == 0)
        return PROTO_ERR_VALUE;
    memcpy (data, s_magic, 4);
    data [4] = BEACON_VERSION;
    memcpy (data + 5, beacon->deployment, BEACON_FINGERPRINT_SIZE);
    data [21] = (uint8_t) (beacon->port >> 8);
    data [22] = (uint8_t) beacon->port;
    memcpy (data + 23, beacon->curve_key, WEFT_KEY_SIZE);
    return 0;
}

int
beacon_decode (beacon_t *beacon, const uint8_t *data, size_t size)
{
    assert (beacon);
    memset (beacon, 0, sizeof *beacon);
    if (!data || size < BEACON_SIZE)
        return PROTO_ERR_TRUNCATED;
    if (size > BEACON_MAX)
        return PROTO_ERR_OVERSIZE;
    if (memcmp (data, s_magic, 4) != 0)
        return PROTO_ERR_MALFORMED;
    if (data [4] != BEACON_VERSION)
        return PROTO_ERR_VERSION;
    uint16_t port = (uint16_t) ((data [21] << 8) | data [22]);
    if (port == 0)
        return PROTO_ERR_VALUE;
    memcpy (beacon->deployment, data + 5, BEACON_FINGERPRINT_SIZE);
    beacon->port = port;
    memcpy (beacon->curve_key, data + 23, WEFT_KEY_SIZE);
    return 0;
}

//  --------------------------------------------------------------------------
//  Selftest

void
beacon_test (bool verbose)
{
    printf (" * beacon: ");
    //  @selftest
    (void) verbose;
    uint8_t ca_key [WEFT_KEY_SIZE], other_ca [WEFT_KEY_SIZE];
    memset (ca_key, 7, sizeof ca_key);
    memset (other_ca, 8, sizeof other_ca);
    beacon_t beacon = { .port = 7720 }, back;
    beacon_fingerprint (ca_key, beacon.deployment);
    uint8_t other [BEACON_FINGERPRINT_SIZE];
    beacon_fingerprint (other_ca, other);
    assert (memcmp (other, beacon.deployment, sizeof other) != 0);
    memset (beacon.curve_key, 0xAB, WEFT_KEY_SIZE);

    uint8_t data [BEACON_MAX + 1];
    memset (data, 0xEE, sizeof data);
    assert (beacon_encode (&beacon, data) == 0);
    assert (beacon_decode (&back, data, BEACON_SIZE) == 0);
    assert (back.port == 7720 && memcmp (&back, &beacon, sizeof back) == 0);
    //  Trailing bytes up to the limit are ignored, beyond it refused
    assert (beacon_decode (&back, data, BEACON_MAX) == 0 && back.port == 7720);
    assert (beacon_decode (&back, data, BEACON_MAX + 1) == PROTO_ERR_OVERSIZE);
    //  Every prefix is refused and leaves nothing behind
    for (size_t size = 0; size < BEACON_SIZE; size++) {
        assert (beacon_decode (&back, data, size) == PROTO_ERR_TRUNCATED);
        assert (back.port == 0);
    }
    assert (beacon_decode (&back, NULL, 0) == PROTO_ERR_TRUNCATED);
    data [0] = 'X';
    assert (beacon_decode (&back, data, BEACON_SIZE) == PROTO_ERR_MALFORMED);
    data [0] = 'W';
    data [4] = 2;
    assert (beacon_decode (&back, data, BEACON_SIZE) == PROTO_ERR_VERSION);
    data [4] = BEACON_VERSION;
    data [21] = data [22] = 0;
    assert (beacon_decode (&back, data, BEACON_SIZE) == PROTO_ERR_VALUE);
    beacon.port = 0;
    assert (beacon_encode (&beacon, data) == PROTO_ERR_VALUE);
    //  @end
    printf ("OK\n");
}
