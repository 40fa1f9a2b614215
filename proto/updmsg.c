/*  updmsg - the payloads of software updates (see updmsg.h)
    The fields and limits are rows of proto/wire_table.c.  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "codec.h"
#include "keys.h"
#include "envelope.h"
#include "updmsg.h"
#include "sworder.h"
#include "wire.h"

int
updmsg_encode (const updmsg_t *msg, uint8_t **payload_p, size_t *size_p)
{
    assert (msg);
    return wire_encode_family (WIRE_FAMILY_UPDATE, msg->type, msg, payload_p, size_p);
}

int
updmsg_decode (updmsg_t *msg, int type, const uint8_t *payload, size_t size)
{
    return wire_decode_family (WIRE_FAMILY_UPDATE, type, msg, sizeof (updmsg_t),
                               payload, size);
}

int
updmsg_check (const void *msg)
{
    const updmsg_t *self = (const updmsg_t *) msg;
    if (self->type != MSG_CHUNK_DATA)
        return 0;
    if (self->packed_size && self->delta_size)
        return PROTO_ERR_VALUE;
    return (self->size == 0) == (self->packed_size == 0 && self->delta_size == 0)
           ? 0: PROTO_ERR_VALUE;
}

//  --------------------------------------------------------------------------
//  Selftest, with golden vectors

//  The envelope a peer would send, compared with tests/golden/NAME.hex
static void
s_golden (const char *name, int type, const uint8_t *payload, size_t size)
{
    keys_t signer;
    uint8_t seed [32];
    memset (seed, 0x05, sizeof seed);
    keys_from_seed (&signer, seed);
    envelope_t env;
    memset (&env, 0, sizeof env);
    for (int i = 0; i < WEFT_ID_SIZE; i++)
        env.id [i] = (uint8_t) (type << 3 | i);
    env.type = type;
    strcpy (env.origin, "server-1");
    env.seq = (uint64_t) type;
    env.hlc = 1767225600000ULL << 16;
    env.hop_limit = env.hops = type == MSG_UPDATE_OFFER || type == MSG_UPDATE_STATUS
                             || type == MSG_SOFTWARE_ORDER? WEFT_HOP_LIMIT: 1;
    env.payload = payload;
    env.payload_size = size;
    uint8_t *frame, *file;
    size_t frame_size, file_size;
    assert (envelope_encode (&env, signer.sign_secret, &frame, &frame_size) == 0);
    assert (codec_golden (name, frame, frame_size, &file, &file_size) == 0);
    envelope_t got;
    updmsg_t back;
    assert (envelope_decode (&got, file, file_size) == 0);
    assert (envelope_verify (&got, signer.sign_public) == 0);
    assert (updmsg_decode (&back, type, got.payload, got.payload_size) == 0);
    free (file);
    free (frame);
    keys_wipe (&signer);
}

void
updmsg_test (bool verbose)
{
    printf (" * updmsg: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    uint8_t addresses [3 * 32];
    for (size_t i = 0; i < sizeof addresses; i++)
        addresses [i] = (uint8_t) (i * 7 + 1);
    static const uint8_t metadata [] = "weftbnd1 (a bundle without chunks)";
    static const uint8_t packed [] = { 0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01 };
    updmsg_t msg, back;
    uint8_t *payload;
    size_t size;

    //  UPDATE_OFFER
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_UPDATE_OFFER;
    msg.metadata = metadata;
    msg.metadata_size = sizeof metadata;
    assert (updmsg_encode (&msg, &payload, &size) == 0);
    assert (updmsg_decode (&back, MSG_UPDATE_OFFER, payload, size) == 0);
    assert (back.metadata_size == sizeof metadata
            && memcmp (back.metadata, metadata, sizeof metadata) == 0);
    for (size_t cut = 0; cut < size; cut++)
        assert (updmsg_decode (&back, MSG_UPDATE_OFFER, payload, cut) != 0);
    s_golden ("envelope-update-offer", MSG_UPDATE_OFFER, payload, size);
    free (payload);
    msg.metadata_size = 0;
    assert (updmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    msg.metadata_size = UPDMSG_METADATA_MAX + 1;
    assert (updmsg_encode (&msg, &payload, &size) == PROTO_ERR_OVERSIZE);

    //  CHUNK_WANT
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_CHUNK_WANT;
    memset (msg.manifest, 0xab, 32);
    msg.addresses = addresses;
    msg.address_count = 3;
    assert (updmsg_encode (&msg, &payload, &size) == 0);
    assert (updmsg_decode (&back, MSG_CHUNK_WANT, payload, size) == 0);
    assert (back.address_count == 3 && memcmp (back.addresses, addresses, 96) == 0
            && memcmp (back.manifest, msg.manifest, 32) == 0);
    for (size_t cut = 0; cut < size; cut++)
        assert (updmsg_decode (&back, MSG_CHUNK_WANT, payload, cut) != 0);
    s_golden ("envelope-chunk-want", MSG_CHUNK_WANT, payload, size);
    free (payload);
    msg.address_count = 0;
    assert (updmsg_encode (&msg, &payload, &size) != 0);
    msg.address_count = UPDMSG_WANT_MAX + 1;
    assert (updmsg_encode (&msg, &payload, &size) != 0);
    //  CHUNK_WANT naming the releases the asker holds (deltas welcome)
    uint8_t have [2 * 32];
    memset (have, 0xcd, 32);
    memset (have + 32, 0xef, 32);
    msg.address_count = 3;
    msg.have = have;
    msg.have_count = 2;
    assert (updmsg_encode (&msg, &payload, &size) == 0);
    assert (updmsg_decode (&back, MSG_CHUNK_WANT, payload, size) == 0);
    assert (back.address_count == 3 && back.have_count == 2
            && memcmp (back.have, have, sizeof have) == 0);
    for (size_t cut = 0; cut < size; cut++)
        assert (updmsg_decode (&back, MSG_CHUNK_WANT, payload, cut) != 0);
    s_golden ("envelope-chunk-want-have", MSG_CHUNK_WANT, payload, size);
    free (payload);
    msg.have_count = UPDMSG_HAVE_MAX + 1;
    assert (updmsg_encode (&msg, &payload, &size) != 0);

    //  CHUNK_DATA: held, and not held
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_CHUNK_DATA;
    memset (msg.manifest, 0xab, 32);
    memcpy (msg.address, addresses, 32);
    msg.size = 1;
    msg.packed = packed;
    msg.packed_size = sizeof packed;
    assert (updmsg_encode (&msg, &payload, &size) == 0);
    assert (updmsg_decode (&back, MSG_CHUNK_DATA, payload, size) == 0);
    assert (back.size == 1 && back.packed_size == sizeof packed
            && memcmp (back.address, addresses, 32) == 0);
    for (size_t cut = 0; cut < size; cut++)
        assert (updmsg_decode (&back, MSG_CHUNK_DATA, payload, cut) != 0);
    s_golden ("envelope-chunk-data", MSG_CHUNK_DATA, payload, size);
    free (payload);
    msg.size = 0;           //  Bytes for a chunk said not held
    assert (updmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    msg.packed = NULL;
    msg.packed_size = 0;
    assert (updmsg_encode (&msg, &payload, &size) == 0);
    assert (updmsg_decode (&back, MSG_CHUNK_DATA, payload, size) == 0);
    assert (back.size == 0 && back.packed_size == 0);
    free (payload);
    msg.size = 1;           //  A size with no bytes
    assert (updmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    msg.size = CHUNKER_MAX + 1;
    msg.packed = packed;
    msg.packed_size = sizeof packed;
    assert (updmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    msg.size = CHUNKER_MAX;
    msg.packed_size = UPDMSG_PACKED_MAX + 1;
    assert (updmsg_encode (&msg, &payload, &size) == PROTO_ERR_OVERSIZE);
    //  CHUNK_DATA carrying a delta instead of the packed chunk
    uint8_t delta [1 + 32 + 4];
    delta [0] = 1;
    memcpy (delta + 1, addresses + 32, 32);
    memcpy (delta + 33, "\x28\xb5\x2f\xfd", 4);
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_CHUNK_DATA;
    memset (msg.manifest, 0xab, 32);
    memcpy (msg.address, addresses, 32);
    msg.size = 1;
    msg.delta = delta;
    msg.delta_size = sizeof delta;
    assert (updmsg_encode (&msg, &payload, &size) == 0);
    assert (updmsg_decode (&back, MSG_CHUNK_DATA, payload, size) == 0);
    assert (back.size == 1 && back.packed_size == 0 && back.delta_size == sizeof delta
            && memcmp (back.delta, delta, sizeof delta) == 0);
    for (size_t cut = 0; cut < size; cut++)
        assert (updmsg_decode (&back, MSG_CHUNK_DATA, payload, cut) != 0);
    s_golden ("envelope-chunk-data-delta", MSG_CHUNK_DATA, payload, size);
    free (payload);
    msg.packed = packed;    //  Both forms at once
    msg.packed_size = sizeof packed;
    assert (updmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    msg.packed = NULL;
    msg.packed_size = 0;
    msg.size = 0;           //  A delta for a chunk said not held
    assert (updmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    msg.size = 1;
    msg.delta_size = UPDMSG_DELTA_MAX + 1;
    assert (updmsg_encode (&msg, &payload, &size) == PROTO_ERR_OVERSIZE);
    //  UPDATE_STATUS
    static const char status [] = "{\"assigned_ms\":1767225600000,\"name\":\"plc\","
                                  "\"state\":\"committed\",\"version\":\"1.0\"}";
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_UPDATE_STATUS;
    msg.status = status;
    msg.status_size = strlen (status);
    assert (updmsg_encode (&msg, &payload, &size) == 0);
    assert (updmsg_decode (&back, MSG_UPDATE_STATUS, payload, size) == 0);
    assert (back.status_size == strlen (status) && memcmp (back.status, status,
                                                           back.status_size) == 0);
    for (size_t cut = 0; cut < size; cut++)
        assert (updmsg_decode (&back, MSG_UPDATE_STATUS, payload, cut) != 0);
    s_golden ("envelope-update-status", MSG_UPDATE_STATUS, payload, size);
    free (payload);
    msg.status_size = 0;
    assert (updmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    msg.status_size = UPDMSG_STATUS_MAX + 1;
    assert (updmsg_encode (&msg, &payload, &size) == PROTO_ERR_OVERSIZE);
    //  SOFTWARE_ORDER: the bytes are opaque here (proto/sworder.h)
    static const uint8_t order [] = { 0x92, 0xc4, 0x01, 0x90, 0xc4, 0x00 };
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_SOFTWARE_ORDER;
    msg.order = order;
    msg.order_size = sizeof order;
    assert (updmsg_encode (&msg, &payload, &size) == 0);
    assert (updmsg_decode (&back, MSG_SOFTWARE_ORDER, payload, size) == 0);
    assert (back.order_size == sizeof order && memcmp (back.order, order, sizeof order) == 0);
    for (size_t cut = 0; cut < size; cut++)
        assert (updmsg_decode (&back, MSG_SOFTWARE_ORDER, payload, cut) != 0);
    s_golden ("envelope-software-order", MSG_SOFTWARE_ORDER, payload, size);
    free (payload);
    msg.order_size = 0;
    assert (updmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    msg.order_size = SWORDER_MAX + 1;
    assert (updmsg_encode (&msg, &payload, &size) == PROTO_ERR_OVERSIZE);
    //  A type of another family
    assert (updmsg_decode (&back, MSG_HELLO, packed, sizeof packed) == PROTO_ERR_UNKNOWN);
    //  @end

    printf ("OK\n");
}
