/*  seal - seal and open envelopes; envelope ids (see seal.h)  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include <sodium.h>
#include "keys.h"
#include "seal.h"

//  --------------------------------------------------------------------------
//  Sign payload into a frame under head.

int
envelope_seal (const envelope_head_t *head, const uint8_t *payload, size_t payload_size,
               const uint8_t secret [WEFT_SECRET_SIZE], uint8_t id [WEFT_ID_SIZE],
               uint8_t **frame_p, size_t *size_p)
{
    assert (head && head->origin && secret && frame_p && size_p);
    *frame_p = NULL;
    *size_p = 0;
    envelope_t env;
    memset (&env, 0, sizeof env);
    if (head->id)
        memcpy (env.id, head->id, WEFT_ID_SIZE);
    else
        randombytes_buf (env.id, WEFT_ID_SIZE);
    env.type = head->type;
    if (strlen (head->origin) > WEFT_NAME_MAX
    ||  (head->tenant && strlen (head->tenant) > WEFT_NAME_MAX))
        return PROTO_ERR_OVERSIZE;
    strcpy (env.origin, head->origin);
    strcpy (env.tenant, head->tenant? head->tenant: "");
    env.seq = head->seq;
    env.hlc = head->hlc;
    env.expiry = head->expiry;
    env.hop_limit = env.hops = head->hop_limit;
    env.payload = payload;
    env.payload_size = payload_size;
    int rc = envelope_encode (&env, secret, frame_p, size_p);
    if (rc == 0 && id)
        memcpy (id, env.id, WEFT_ID_SIZE);
    return rc;
}

//  --------------------------------------------------------------------------
//  Decode a frame and verify it with the signer's key.

int
envelope_open (envelope_t *env, const uint8_t *frame, size_t size,
               const uint8_t key [WEFT_KEY_SIZE])
{
    assert (env && key);
    int rc = envelope_decode (env, frame, size);
    if (rc == 0)
        rc = envelope_verify (env, key);
    if (rc)
        memset (env, 0, sizeof (envelope_t));
    return rc;
}

//  --------------------------------------------------------------------------
//  The id of origin's envelope number n.

void
envelope_id_derive (uint8_t id [WEFT_ID_SIZE], const char *origin, uint64_t n)
{
    assert (id && origin);
    uint8_t material [WEFT_NAME_MAX + 1 + 8];
    size_t name_size = strnlen (origin, WEFT_NAME_MAX);
    memcpy (material, origin, name_size);
    material [name_size] = 0;
    proto_put_be64 (material + name_size + 1, n);
    uint8_t hash [32];
    keys_hash (material, name_size + 1 + 8, hash);
    memcpy (id, hash, WEFT_ID_SIZE);
}

//  --------------------------------------------------------------------------
//  Selftest

void
seal_test (bool verbose)
{
    printf (" * seal: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    keys_t node, other;
    keys_from_byte (&node, 0x01);
    keys_from_byte (&other, 0x02);
    const uint8_t payload [] = { 0x91, 0x01 };
    uint8_t *frame;
    size_t size;
    uint8_t id [WEFT_ID_SIZE];
    envelope_head_t head = { .type = MSG_HEARTBEAT, .origin = "node-1", .tenant = "acme",
                             .seq = 7, .hlc = 1ULL << 40, .hop_limit = WEFT_HOP_LIMIT };
    assert (envelope_seal (&head, payload, sizeof payload, node.sign_secret, id,
                           &frame, &size) == 0);
    envelope_t env;
    assert (envelope_open (&env, frame, size, node.sign_public) == 0);
    assert (env.type == MSG_HEARTBEAT && strcmp (env.origin, "node-1") == 0
            && strcmp (env.tenant, "acme") == 0 && env.seq == 7 && env.hlc == 1ULL << 40
            && env.hop_limit == WEFT_HOP_LIMIT && env.hops == WEFT_HOP_LIMIT
            && env.expiry == 0 && memcmp (env.id, id, WEFT_ID_SIZE) == 0
            && env.payload_size == sizeof payload
            && memcmp (env.payload, payload, sizeof payload) == 0);
    //  Another key, or a changed byte: refused, env zeroed
    assert (envelope_open (&env, frame, size, other.sign_public) == PROTO_ERR_SIGNATURE);
    assert (env.type == 0 && env.payload == NULL);
    frame [size - 1] ^= 1;
    assert (envelope_open (&env, frame, size, node.sign_public) == PROTO_ERR_SIGNATURE);
    assert (envelope_open (&env, frame, 3, node.sign_public) != 0);
    free (frame);

    //  A given id is kept; a random one differs each time
    uint8_t given [WEFT_ID_SIZE];
    envelope_id_derive (given, "node-1", 7);
    head.id = given;
    assert (envelope_seal (&head, payload, sizeof payload, node.sign_secret, id,
                           &frame, &size) == 0);
    assert (memcmp (id, given, WEFT_ID_SIZE) == 0);
    free (frame);
    head.id = NULL;
    uint8_t first [WEFT_ID_SIZE];
    assert (envelope_seal (&head, payload, sizeof payload, node.sign_secret, first,
                           &frame, &size) == 0);
    free (frame);
    assert (envelope_seal (&head, payload, sizeof payload, node.sign_secret, id,
                           &frame, &size) == 0);
    free (frame);
    assert (memcmp (id, first, WEFT_ID_SIZE) != 0);

    //  Bad heads: no origin, an origin or tenant too long, no type
    head.origin = "";
    assert (envelope_seal (&head, payload, sizeof payload, node.sign_secret, NULL,
                           &frame, &size) == PROTO_ERR_VALUE && frame == NULL);
    char long_name [WEFT_NAME_MAX + 2];
    memset (long_name, 'n', sizeof long_name - 1);
    long_name [sizeof long_name - 1] = 0;
    head.origin = long_name;
    assert (envelope_seal (&head, payload, sizeof payload, node.sign_secret, NULL,
                           &frame, &size) == PROTO_ERR_OVERSIZE);
    head.origin = "node-1";
    head.tenant = long_name;
    assert (envelope_seal (&head, payload, sizeof payload, node.sign_secret, NULL,
                           &frame, &size) == PROTO_ERR_OVERSIZE);
    head.tenant = NULL;
    head.type = 0;
    assert (envelope_seal (&head, payload, sizeof payload, node.sign_secret, NULL,
                           &frame, &size) == PROTO_ERR_VALUE);

    //  Derived ids: the same (origin, n) gives the same id, and the
    //  layout is BLAKE2b (origin || 0 || be64 n), the one nodes have
    //  always used for their seq-numbered envelopes
    uint8_t again [WEFT_ID_SIZE], other_id [WEFT_ID_SIZE];
    envelope_id_derive (again, "node-1", 7);
    assert (memcmp (again, given, WEFT_ID_SIZE) == 0);
    envelope_id_derive (other_id, "node-1", 7 | ENVELOPE_ID_LINK);
    assert (memcmp (other_id, given, WEFT_ID_SIZE) != 0);
    envelope_id_derive (other_id, "node-2", 7);
    assert (memcmp (other_id, given, WEFT_ID_SIZE) != 0);
    const uint8_t material [] = { 'n', 'o', 'd', 'e', '-', '1', 0, 0, 0, 0, 0, 0, 0, 0, 7 };
    uint8_t hash [32];
    keys_hash (material, sizeof material, hash);
    assert (memcmp (hash, given, WEFT_ID_SIZE) == 0);
    keys_wipe (&node);
    keys_wipe (&other);
    //  @end
    printf ("OK\n");
}
