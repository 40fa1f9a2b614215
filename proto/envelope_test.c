/*  envelope - selftest and golden vectors (see envelope.h)  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include <sodium.h>
#include "codec.h"
#include "keys.h"
#include "msg.h"
#include "cert.h"
#include "envelope.h"

//  Golden inputs: everything fixed so the bytes never change. Times are
//  2026-01-01T00:00:00Z.
#define GOLDEN_TIME_S       1767225600ULL
#define GOLDEN_TIME_MS      (GOLDEN_TIME_S * 1000)

//  Payload of each golden envelope; ENROL_RESPONSE carries certificates
//  made with the same fixed CA key as tests/golden/cert.hex.
static void
s_golden_msg (msg_t *msg, int type, uint8_t **cert_p, size_t *cert_size_p)
{
    keys_t ca, node, coord;
    keys_from_byte (&ca, 0xca);
    keys_from_byte (&node, 0x01);
    keys_from_byte (&coord, 0xc0);
    memset (msg, 0, sizeof (msg_t));
    msg->type = type;
    *cert_p = NULL;
    *cert_size_p = 0;
    switch (type) {
        case MSG_ENROL_REQUEST:
        {
            //  wt1.<token id>.<secret>.<coordinator CURVE public key>
            char server [2 * WEFT_KEY_SIZE + 1];
            keys_hex (coord.curve_public, WEFT_KEY_SIZE, server);
            snprintf (msg->enrol_request.token, sizeof msg->enrol_request.token,
                      "wt1.0011223344556677.0123456789abcdef0123456789abcdef.%s",
                      server);
        }
            memcpy (msg->enrol_request.sign_key, node.sign_public, WEFT_KEY_SIZE);
            memcpy (msg->enrol_request.curve_key, node.curve_public, WEFT_KEY_SIZE);
            strcpy (msg->enrol_request.device_type, "gateway");
            break;
        case MSG_ENROL_RESPONSE: {
            cert_t cert = {
                .serial = 2, .kind = CERT_KIND_NODE, .subject = "node-1",
                .tenant = "acme", .role = "gateway", .path = "",
                .not_before = GOLDEN_TIME_S,
                .not_after = GOLDEN_TIME_S + 365 * 86400
            };
            memcpy (cert.sign_key, node.sign_public, WEFT_KEY_SIZE);
            memcpy (cert.curve_key, node.curve_public, WEFT_KEY_SIZE);
            uint8_t *node_cert, *coord_cert;
            size_t node_cert_size, coord_cert_size;
            int rc = cert_encode (&cert, ca.sign_secret, &node_cert, &node_cert_size);
            assert (rc == 0);
            cert.serial = 1;
            cert.kind = CERT_KIND_COORDINATOR;
            strcpy (cert.subject, "coordinator");
            strcpy (cert.tenant, "");
            strcpy (cert.role, "coordinator");
            memcpy (cert.sign_key, coord.sign_public, WEFT_KEY_SIZE);
            memcpy (cert.curve_key, coord.curve_public, WEFT_KEY_SIZE);
            cert.not_after = GOLDEN_TIME_S + 10 * 365 * 86400;
            rc = cert_encode (&cert, ca.sign_secret, &coord_cert, &coord_cert_size);
            assert (rc == 0);
            //  One heap block holds both, so the caller frees once
            uint8_t *both = (uint8_t *) malloc (node_cert_size + coord_cert_size);
            assert (both);
            memcpy (both, node_cert, node_cert_size);
            memcpy (both + node_cert_size, coord_cert, coord_cert_size);
            free (node_cert);
            free (coord_cert);
            msg->enrol_response.status = WEFT_STATUS_OK;
            msg->enrol_response.cert = both;
            msg->enrol_response.cert_size = node_cert_size;
            memcpy (msg->enrol_response.ca_key, ca.sign_public, WEFT_KEY_SIZE);
            msg->enrol_response.coord_cert = both + node_cert_size;
            msg->enrol_response.coord_cert_size = coord_cert_size;
            *cert_p = both;
            *cert_size_p = node_cert_size + coord_cert_size;
            break;
        }
        case MSG_TWIN_DESIRED:
            strcpy (msg->twin_desired.device, "node-1");
            msg->twin_desired.version = 3;
            msg->twin_desired.doc = "{\"led\":\"on\",\"rate\":10}";
            msg->twin_desired.doc_size = strlen (msg->twin_desired.doc);
            break;
        case MSG_TWIN_REPORTED:
            strcpy (msg->twin_reported.device, "node-1");
            msg->twin_reported.version = 5;
            msg->twin_reported.desired_version = 3;
            msg->twin_reported.doc = "{\"led\":\"on\",\"rate\":10}";
            msg->twin_reported.doc_size = strlen (msg->twin_reported.doc);
            strcpy (msg->twin_reported.status, "ok");
            break;
        case MSG_ACK:
            for (int i = 0; i < WEFT_ID_SIZE; i++)
                msg->ack.ack_id [i] = (uint8_t) (0x40 + i);
            msg->ack.status = WEFT_STATUS_OK;
            break;
        case MSG_HEARTBEAT:
            msg->heartbeat.uptime_s = 3600;
            msg->heartbeat.desired_version = 3;
            msg->heartbeat.reported_version = 5;
            break;
        case MSG_RPC_REQUEST:
            strcpy (msg->rpc_request.method, "twin.set");
            msg->rpc_request.args = "{\"id\":\"node-1\",\"patch\":{\"led\":\"on\"}}";
            msg->rpc_request.args_size = strlen (msg->rpc_request.args);
            break;
        case MSG_RPC_REPLY:
            for (int i = 0; i < WEFT_ID_SIZE; i++)
                msg->rpc_reply.request_id [i] = (uint8_t) (0x70 + i);
            msg->rpc_reply.status = WEFT_STATUS_NOT_FOUND;
            strcpy (msg->rpc_reply.error, "unknown device node-9");
            msg->rpc_reply.result = "null";
            msg->rpc_reply.result_size = 4;
            break;
    }
    keys_wipe (&ca);
    keys_wipe (&node);
    keys_wipe (&coord);
}

//  Golden file name: envelope-twin-desired etc.
static void
s_golden_name (int type, char *name, size_t size)
{
    snprintf (name, size, "envelope-%s", proto_msg_name (type));
    for (char *c = name; *c; c++)
        *c = *c == '_'? '-': (char) (*c >= 'A' && *c <= 'Z'? *c + 32: *c);
}

//  Envelope fields of each golden envelope: nodes send up, the
//  coordinator sends down, an operator makes the RPC call.
static void
s_golden_envelope (envelope_t *env, int type, keys_t *signer)
{
    memset (env, 0, sizeof (envelope_t));
    for (int i = 0; i < WEFT_ID_SIZE; i++)
        env->id [i] = (uint8_t) (type << 4 | i);
    env->type = type;
    bool from_coord = type == MSG_ENROL_RESPONSE || type == MSG_TWIN_DESIRED
                   || type == MSG_RPC_REPLY || type == MSG_PASSPORT
                   || type == MSG_SITE_DIRECTIVE;
    if (from_coord) {
        strcpy (env->origin, "coordinator");
        keys_from_byte (signer, 0xc0);
    }
    else
    if (type == MSG_RPC_REQUEST) {
        strcpy (env->origin, "admin");
        keys_from_byte (signer, 0xad);
    }
    else {
        strcpy (env->origin, "node-1");
        keys_from_byte (signer, 0x01);
    }
    strcpy (env->tenant, type == MSG_RPC_REQUEST || from_coord? "": "acme");
    //  An operator request carries no seq (replays are refused by id
    //  until its expiry, which it must carry: at most 60 s ahead)
    env->seq = type == MSG_RPC_REQUEST? 0: (uint64_t) type;
    env->hlc = GOLDEN_TIME_MS << 16 | (uint64_t) type;
    env->expiry = type == MSG_HEARTBEAT? GOLDEN_TIME_MS + 15000
                : type == MSG_RPC_REQUEST? GOLDEN_TIME_MS + 30000: 0;
    env->hop_limit = WEFT_HOP_LIMIT;
    env->hops = WEFT_HOP_LIMIT;
}

uint8_t *
envelope_golden (int type, const uint8_t *payload, size_t payload_size, const char *name,
                 envelope_t *got)
{
    envelope_t env;
    keys_t signer;
    s_golden_envelope (&env, type, &signer);
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame, *file;
    size_t frame_size, file_size;
    assert (envelope_encode (&env, signer.sign_secret, &frame, &frame_size) == 0);
    assert (codec_golden (name, frame, frame_size, &file, &file_size) == 0);
    assert (envelope_decode (got, file, file_size) == 0);
    assert (envelope_verify (got, signer.sign_public) == 0);
    keys_wipe (&signer);
    free (frame);
    return file;
}

//  Sign a hand-built body and frame it; for malformed-input tests.
static void
s_craft (uint8_t hops, codec_writer_t **body_w, const uint8_t *secret,
         uint8_t **frame_p, size_t *size_p)
{
    uint8_t *body;
    size_t body_size;
    int rc = codec_writer_finish (body_w, &body, &body_size);
    assert (rc == 0);
    uint8_t sig [WEFT_SIG_SIZE];
    codec_sign (ENVELOPE_CONTEXT, body, body_size, secret, sig);
    rc = envelope_frame (hops, body, body_size, sig, frame_p, size_p);
    assert (rc == 0);
    free (body);
}

//  Body with field bad (0..9) given a wrong wire type, or none if -1;
//  version, origin and hop_limit may be overridden.
static codec_writer_t *
s_body (int bad, uint64_t version, const char *origin, uint64_t hop_limit, size_t items)
{
    codec_writer_t *w = codec_writer_new (0);
    uint8_t id [WEFT_ID_SIZE] = { 1 };
    codec_put_array (w, items);
    for (size_t i = 0; i < items; i++) {
        if ((int) i == bad) {
            //  A str where a uint or bin belongs, a uint where a str is
            if (i == 3 || i == 4)
                codec_put_uint (w, 1);
            else
                codec_put_strn (w, "x", 1, 1);
            continue;
        }
        switch (i) {
            case 0: codec_put_uint (w, version); break;
            case 1: codec_put_bin (w, id, sizeof id); break;
            case 2: codec_put_uint (w, MSG_HEARTBEAT); break;
            case 3: codec_put_strn (w, origin, strlen (origin), WEFT_STR_MAX); break;
            case 4: codec_put_strn (w, "", 0, 1); break;
            case 5: codec_put_uint (w, 1); break;
            case 6: codec_put_uint (w, 2); break;
            case 7: codec_put_uint (w, 0); break;
            case 8: codec_put_uint (w, hop_limit); break;
            case 9: codec_put_bin (w, "\x93\x01\x02\x03", 4); break;
            default: codec_put_uint (w, 42); break;
        }
    }
    return w;
}

void
envelope_test (bool verbose)
{
    printf (" * envelope: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    keys_t node;
    keys_from_byte (&node, 0x01);
    keys_t other;
    keys_from_byte (&other, 0x02);

    //  Golden vectors: one envelope per message type, byte for byte
    for (int type = MSG_ENROL_REQUEST; type <= MSG_RPC_REPLY; type++) {
        msg_t msg;
        uint8_t *certs;
        size_t certs_size;
        s_golden_msg (&msg, type, &certs, &certs_size);
        envelope_t env;
        keys_t signer;
        s_golden_envelope (&env, type, &signer);
        uint8_t *payload;
        size_t payload_size;
        assert (msg_encode (&msg, &payload, &payload_size) == 0);
        env.payload = payload;
        env.payload_size = payload_size;
        uint8_t *frame;
        size_t frame_size;
        assert (envelope_encode (&env, signer.sign_secret, &frame, &frame_size) == 0);
        assert (env.body == NULL && env.sig == NULL);

        char name [64];
        s_golden_name (type, name, sizeof name);
        uint8_t *file;
        size_t file_size;
        int rc = codec_golden (name, frame, frame_size, &file, &file_size);
        assert (rc == 0);

        //  Decode the file: fields, signature, payload
        envelope_t got;
        assert (envelope_decode (&got, file, file_size) == 0);
        assert (memcmp (got.id, env.id, WEFT_ID_SIZE) == 0);
        assert (got.type == type);
        assert (strcmp (got.origin, env.origin) == 0);
        assert (strcmp (got.tenant, env.tenant) == 0);
        assert (got.seq == env.seq && got.hlc == env.hlc && got.expiry == env.expiry);
        assert (got.hop_limit == WEFT_HOP_LIMIT && got.hops == WEFT_HOP_LIMIT);
        assert (got.payload_size == payload_size);
        assert (memcmp (got.payload, payload, payload_size) == 0);
        assert (got.body > file && got.sig > got.body);
        assert (envelope_verify (&got, signer.sign_public) == 0);
        assert (envelope_verify (&got, other.sign_public) == PROTO_ERR_SIGNATURE);
        msg_t back;
        assert (msg_decode (&back, got.type, got.payload, got.payload_size) == 0);
        uint8_t *again;
        size_t again_size;
        assert (msg_encode (&back, &again, &again_size) == 0);
        assert (again_size == payload_size && memcmp (again, payload, payload_size) == 0);
        free (again);
        if (verbose)
            printf ("   %s: %zu bytes\n", name, frame_size);

        //  A relay reframes with fewer hops; the signature still holds
        uint8_t *relayed;
        size_t relayed_size;
        assert (envelope_reframe (&got, got.hops - 1, &relayed, &relayed_size) == 0);
        envelope_t hop;
        assert (envelope_decode (&hop, relayed, relayed_size) == 0);
        assert (hop.hops == WEFT_HOP_LIMIT - 1);
        assert (envelope_verify (&hop, signer.sign_public) == 0);
        free (relayed);
        assert (envelope_reframe (&got, WEFT_HOP_LIMIT + 1, &relayed, &relayed_size)
                == PROTO_ERR_VALUE);

        //  Truncated at every offset: always an error, never a crash
        for (size_t cut = 0; cut < frame_size; cut++) {
            rc = envelope_decode (&got, frame, cut);
            assert (rc == PROTO_ERR_TRUNCATED || rc == PROTO_ERR_OVERSIZE);
        }
        //  Trailing bytes
        uint8_t *longer = (uint8_t *) malloc (frame_size + 1);
        assert (longer);
        memcpy (longer, frame, frame_size);
        longer [frame_size] = 0;
        assert (envelope_decode (&got, longer, frame_size + 1) == PROTO_ERR_TRAILING);
        free (longer);

        //  Every byte flipped: a decode error or a bad signature. The
        //  hops byte (offset 1) is unsigned by design; it is at the
        //  hop limit here, so any change is refused too.
        for (size_t at = 0; at < frame_size; at++) {
            static const uint8_t masks [] = { 0x01, 0x80, 0xff };
            for (size_t m = 0; m < sizeof masks; m++) {
                frame [at] ^= masks [m];
                rc = envelope_decode (&got, frame, frame_size);
                if (rc == 0)
                    rc = envelope_verify (&got, signer.sign_public);
                assert (rc != 0);
                frame [at] ^= masks [m];
            }
        }
        assert (envelope_decode (&got, frame, frame_size) == 0);
        assert (envelope_verify (&got, signer.sign_public) == 0);
        keys_wipe (&signer);
        free (file);
        free (frame);
        free (payload);
        free (certs);
    }
    //  A HEARTBEAT naming the passport its node holds (the trailing field)
    {
        msg_t msg, back;
        uint8_t *certs;
        size_t certs_size;
        s_golden_msg (&msg, MSG_HEARTBEAT, &certs, &certs_size);
        msg.heartbeat.passport_ms = GOLDEN_TIME_MS - 60000;
        uint8_t *payload;
        size_t payload_size;
        assert (msg_encode (&msg, &payload, &payload_size) == 0);
        envelope_t got;
        uint8_t *file = envelope_golden (MSG_HEARTBEAT, payload, payload_size,
                                         "envelope-heartbeat-passport", &got);
        assert (msg_decode (&back, MSG_HEARTBEAT, got.payload, got.payload_size) == 0);
        assert (back.heartbeat.passport_ms == GOLDEN_TIME_MS - 60000);
        free (file);
        free (payload);
        free (certs);
    }

    //  An ENROL_RESPONSE carrying the tenant's release root (the
    //  trailing field): the signed root of release-root.hex
    {
        msg_t msg, back;
        uint8_t *certs, *root;
        size_t certs_size, root_size;
        s_golden_msg (&msg, MSG_ENROL_RESPONSE, &certs, &certs_size);
        assert (codec_golden ("release-root", NULL, 0, &root, &root_size) == 0);
        msg.enrol_response.release_root = root;
        msg.enrol_response.release_root_size = root_size;
        uint8_t *payload;
        size_t payload_size;
        assert (msg_encode (&msg, &payload, &payload_size) == 0);
        envelope_t got;
        uint8_t *file = envelope_golden (MSG_ENROL_RESPONSE, payload, payload_size,
                                         "envelope-enrol-response-root", &got);
        assert (msg_decode (&back, MSG_ENROL_RESPONSE, got.payload, got.payload_size) == 0);
        assert (back.enrol_response.release_root_size == root_size
                && memcmp (back.enrol_response.release_root, root, root_size) == 0);
        free (file);
        free (payload);
        free (certs);
        free (root);
    }

    //  Unsigned frames: two items, nil signature, 63-byte signature
    {
        uint8_t *body;
        size_t body_size;
        codec_writer_t *w = s_body (-1, WEFT_PROTO_VERSION, "node-1", 16, 10);
        assert (codec_writer_finish (&w, &body, &body_size) == 0);
        uint8_t sig [WEFT_SIG_SIZE];
        codec_sign (ENVELOPE_CONTEXT, body, body_size, node.sign_secret, sig);
        for (int variant = 0; variant < 5; variant++) {
            w = codec_writer_new (0);
            codec_put_array (w, variant == 0? 2: 3);
            codec_put_uint (w, 1);
            codec_put_bin (w, body, body_size);
            if (variant == 1)
                codec_put_nil (w);
            else
            if (variant == 2)
                codec_put_bin (w, sig, WEFT_SIG_SIZE - 1);
            else
            if (variant == 3)
                codec_put_bin (w, NULL, 0);
            else
            if (variant == 4)
                codec_put_strn (w, "sig", 3, 3);
            uint8_t *frame;
            size_t frame_size;
            assert (codec_writer_finish (&w, &frame, &frame_size) == 0);
            envelope_t env;
            int rc = envelope_decode (&env, frame, frame_size);
            assert (rc == (variant == 4? PROTO_ERR_TYPE: PROTO_ERR_UNSIGNED));
            free (frame);
        }
        //  A signed frame with an extra unsigned item is refused
        w = codec_writer_new (0);
        codec_put_array (w, 4);
        codec_put_uint (w, 1);
        codec_put_bin (w, body, body_size);
        codec_put_bin (w, sig, WEFT_SIG_SIZE);
        codec_put_uint (w, 0);
        uint8_t *frame;
        size_t frame_size;
        assert (codec_writer_finish (&w, &frame, &frame_size) == 0);
        envelope_t env;
        assert (envelope_decode (&env, frame, frame_size) == PROTO_ERR_TYPE);
        free (frame);
        free (body);
    }

    //  Crafted bodies, each properly signed
    {
        envelope_t env;
        uint8_t *frame;
        size_t frame_size;
        codec_writer_t *w;

        //  The crafting itself is sound
        w = s_body (-1, WEFT_PROTO_VERSION, "node-1", 16, 10);
        s_craft (3, &w, node.sign_secret, &frame, &frame_size);
        assert (envelope_decode (&env, frame, frame_size) == 0);
        assert (envelope_verify (&env, node.sign_public) == 0);
        assert (env.type == MSG_HEARTBEAT && env.hops == 3 && env.seq == 1);
        free (frame);

        //  Wrong type in every body field
        for (int bad = 0; bad < ENVELOPE_ITEMS; bad++) {
            w = s_body (bad, WEFT_PROTO_VERSION, "node-1", 16, 10);
            s_craft (3, &w, node.sign_secret, &frame, &frame_size);
            assert (envelope_decode (&env, frame, frame_size) == PROTO_ERR_TYPE);
            free (frame);
        }
        //  Wrong types in the frame fields
        {
            const uint8_t hops_str [] = { 0x93, 0xa1, 'x', 0xc4, 0x00, 0xc4, 0x00 };
            assert (envelope_decode (&env, hops_str, sizeof hops_str) == PROTO_ERR_TYPE);
            const uint8_t body_uint [] = { 0x93, 0x01, 0x01, 0xc4, 0x00 };
            assert (envelope_decode (&env, body_uint, sizeof body_uint) == PROTO_ERR_TYPE);
            const uint8_t not_array [] = { 0x81, 0x01, 0x02 };
            assert (envelope_decode (&env, not_array, sizeof not_array) == PROTO_ERR_TYPE);
            const uint8_t negative_hops [] = { 0x93, 0xff, 0xc4, 0x00, 0xc0 };
            assert (envelope_decode (&env, negative_hops, sizeof negative_hops)
                    == PROTO_ERR_TYPE);
        }
        //  Wrong version, before anything else in the body
        w = s_body (-1, 2, "node-1", 16, 10);
        s_craft (3, &w, node.sign_secret, &frame, &frame_size);
        assert (envelope_decode (&env, frame, frame_size) == PROTO_ERR_VERSION);
        free (frame);
        w = s_body (-1, 2, "node-1", 16, 3);
        s_craft (3, &w, node.sign_secret, &frame, &frame_size);
        assert (envelope_decode (&env, frame, frame_size) == PROTO_ERR_VERSION);
        free (frame);
        //  Short body refused, longer body accepted (later fields)
        w = s_body (-1, WEFT_PROTO_VERSION, "node-1", 16, 9);
        s_craft (3, &w, node.sign_secret, &frame, &frame_size);
        assert (envelope_decode (&env, frame, frame_size) == PROTO_ERR_TYPE);
        free (frame);
        w = s_body (-1, WEFT_PROTO_VERSION, "node-1", 16, 12);
        s_craft (3, &w, node.sign_secret, &frame, &frame_size);
        assert (envelope_decode (&env, frame, frame_size) == 0);
        assert (envelope_verify (&env, node.sign_public) == 0);
        free (frame);
        //  hops above hop_limit; hop_limit above 255
        w = s_body (-1, WEFT_PROTO_VERSION, "node-1", 4, 10);
        s_craft (5, &w, node.sign_secret, &frame, &frame_size);
        assert (envelope_decode (&env, frame, frame_size) == PROTO_ERR_VALUE);
        free (frame);
        w = s_body (-1, WEFT_PROTO_VERSION, "node-1", 4, 10);
        s_craft (4, &w, node.sign_secret, &frame, &frame_size);
        assert (envelope_decode (&env, frame, frame_size) == 0);
        free (frame);
        w = s_body (-1, WEFT_PROTO_VERSION, "node-1", 256, 10);
        s_craft (4, &w, node.sign_secret, &frame, &frame_size);
        assert (envelope_decode (&env, frame, frame_size) == PROTO_ERR_VALUE);
        free (frame);
        //  Empty origin, over-long origin
        w = s_body (-1, WEFT_PROTO_VERSION, "", 16, 10);
        s_craft (4, &w, node.sign_secret, &frame, &frame_size);
        assert (envelope_decode (&env, frame, frame_size) == PROTO_ERR_VALUE);
        free (frame);
        char long_name [WEFT_NAME_MAX + 2];
        memset (long_name, 'o', WEFT_NAME_MAX + 1);
        long_name [WEFT_NAME_MAX + 1] = 0;
        w = s_body (-1, WEFT_PROTO_VERSION, long_name, 16, 10);
        s_craft (4, &w, node.sign_secret, &frame, &frame_size);
        assert (envelope_decode (&env, frame, frame_size) == PROTO_ERR_OVERSIZE);
        free (frame);
        long_name [WEFT_NAME_MAX] = 0;
        w = s_body (-1, WEFT_PROTO_VERSION, long_name, 16, 10);
        s_craft (4, &w, node.sign_secret, &frame, &frame_size);
        assert (envelope_decode (&env, frame, frame_size) == 0);
        assert (strlen (env.origin) == WEFT_NAME_MAX);
        free (frame);
        //  Signature by another key
        w = s_body (-1, WEFT_PROTO_VERSION, "node-1", 16, 10);
        s_craft (4, &w, other.sign_secret, &frame, &frame_size);
        assert (envelope_decode (&env, frame, frame_size) == 0);
        assert (envelope_verify (&env, node.sign_public) == PROTO_ERR_SIGNATURE);
        assert (envelope_verify (&env, other.sign_public) == 0);
        free (frame);
    }

    //  Limits and bad arguments on encode
    {
        envelope_t env;
        memset (&env, 0, sizeof env);
        env.type = MSG_HEARTBEAT;
        env.seq = 1;
        env.hop_limit = 2;
        uint8_t *frame;
        size_t frame_size;
        assert (envelope_encode (&env, node.sign_secret, &frame, &frame_size)
                == PROTO_ERR_VALUE);            //  No origin
        strcpy (env.origin, "node-1");
        env.hops = 3;
        assert (envelope_encode (&env, node.sign_secret, &frame, &frame_size)
                == PROTO_ERR_VALUE);            //  hops > hop_limit
        env.hops = 2;
        env.type = 0;
        assert (envelope_encode (&env, node.sign_secret, &frame, &frame_size)
                == PROTO_ERR_VALUE);
        env.type = MSG_HEARTBEAT;
        memset (env.tenant, 't', sizeof env.tenant);
        assert (envelope_encode (&env, node.sign_secret, &frame, &frame_size)
                == PROTO_ERR_OVERSIZE);         //  Unterminated tenant
        env.tenant [0] = 0;
        env.payload_size = WEFT_FRAME_MAX;
        uint8_t *big = (uint8_t *) calloc (1, WEFT_FRAME_MAX);
        assert (big);
        env.payload = big;
        assert (envelope_encode (&env, node.sign_secret, &frame, &frame_size)
                == PROTO_ERR_OVERSIZE);         //  Frame over the limit
        env.payload_size = SIZE_MAX;
        assert (envelope_encode (&env, node.sign_secret, &frame, &frame_size)
                == PROTO_ERR_OVERSIZE);
        env.payload_size = WEFT_FRAME_MAX - 256;
        assert (envelope_encode (&env, node.sign_secret, &frame, &frame_size) == 0);
        assert (frame_size <= WEFT_FRAME_MAX);
        envelope_t got;
        assert (envelope_decode (&got, frame, frame_size) == 0);
        assert (got.payload_size == WEFT_FRAME_MAX - 256);
        assert (envelope_verify (&got, node.sign_public) == 0);
        free (frame);
        free (big);
        uint8_t *huge = (uint8_t *) calloc (1, WEFT_FRAME_MAX + 1);
        assert (huge);
        assert (envelope_decode (&got, huge, WEFT_FRAME_MAX + 1) == PROTO_ERR_OVERSIZE);
        free (huge);
        //  Fixed 5-byte headers announcing 2^32-1 elements fail fast
        const uint8_t headers [][5] = {
            { 0xdd, 0xff, 0xff, 0xff, 0xff }, { 0xdf, 0xff, 0xff, 0xff, 0xff },
            { 0xdb, 0xff, 0xff, 0xff, 0xff }, { 0xc6, 0xff, 0xff, 0xff, 0xff }
        };
        for (size_t i = 0; i < 4; i++)
            assert (envelope_decode (&got, headers [i], 5) == PROTO_ERR_OVERSIZE);
        const uint8_t reserved [] = { 0x93, 0x01, 0xc1, 0xc4, 0x00 };
        assert (envelope_decode (&got, reserved, sizeof reserved) == PROTO_ERR_MALFORMED);
        const uint8_t deep [] = { 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x90 };
        assert (envelope_decode (&got, deep, sizeof deep) == PROTO_ERR_DEPTH);
        assert (envelope_decode (&got, NULL, 0) == PROTO_ERR_TRUNCATED);
        //  An encoded-but-not-decoded envelope has nothing to verify
        memset (&got, 0, sizeof got);
        assert (envelope_verify (&got, node.sign_public) == PROTO_ERR_SIGNATURE);
        assert (envelope_reframe (&got, 0, &frame, &frame_size) == PROTO_ERR_VALUE);
    }

    uint8_t id [WEFT_ID_SIZE];
    for (int i = 0; i < WEFT_ID_SIZE; i++)
        id [i] = (uint8_t) (i * 17);
    char hex [2 * WEFT_ID_SIZE + 1];
    envelope_id_hex (id, hex);
    assert (strcmp (hex, "00112233445566778899aabbccddeeff") == 0);
    keys_wipe (&node);
    keys_wipe (&other);
    //  @end
    printf ("OK\n");
}
