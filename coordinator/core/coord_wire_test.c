/*  coord_wire_test - the coordinator answers as docs/protocol.md says
    The golden vectors (tests/golden), which a second implementation
    copies, are accepted by the real core at their own time; every
    refusal of an operator request is an RPC_REPLY whose result is null;
    every refusal of an intact mesh envelope is acknowledged with its
    status and reason (the CUSTODY_ACK of a custody transfer, and the
    ACK of a twin report), so no sender retransmits it forever.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/codec.h"
#include "proto/envelope.h"
#include "proto/meshmsg.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/pki.h"
#include "coordinator/core/rpc.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/coord.h"

#define S_GOLDEN_MS     1767225600000ULL    //  The golden vectors' time

typedef struct {
    char path [64];
    store_t *store;
    keys_t ca, coord, admin, node;  //  The golden vectors' identities
    keys_t relay;                   //  relay-1, in acme, and revoked gone-1
    uint8_t *cert;
    size_t cert_size;
    coord_t *core;
} s_rig_t;

static void
s_seed (keys_t *keys, uint8_t byte)
{
    uint8_t seed [32];
    memset (seed, byte, sizeof seed);
    keys_from_seed (keys, seed);
}

//  A coordinator with the golden identities: CA 0xca, coordinator 0xc0,
//  operator admin 0xad (admin of everything), node-1 0x01 in acme
static void
s_rig_new (s_rig_t *rig)
{
    memset (rig, 0, sizeof *rig);
    strcpy (rig->path, "/tmp/weft-coord-wire-XXXXXX");
    assert (mkdtemp (rig->path));
    s_seed (&rig->ca, 0xca);
    s_seed (&rig->coord, 0xc0);
    s_seed (&rig->admin, 0xad);
    s_seed (&rig->node, 0x01);
    rig->store = store_new (rig->path, registry_tables (), 0);
    assert (rig->store);
    pki_t *pki = pki_new (&rig->ca);
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.kind = CERT_KIND_COORDINATOR;
    strcpy (cert.subject, COORD_ORIGIN);
    strcpy (cert.role, "coordinator");
    memcpy (cert.sign_key, rig->coord.sign_public, 32);
    memcpy (cert.curve_key, rig->coord.curve_public, 32);
    store_txn_t *txn = store_begin (rig->store, true);
    assert (pki_issue (pki, txn, &cert, S_GOLDEN_MS / 1000, &rig->cert, &rig->cert_size) == 0);
    uint8_t *op_cert;
    size_t op_cert_size;
    uint64_t serial;
    char error [WEFT_TEXT_MAX + 1];
    assert (rpc_operator_create (pki, txn, "admin", "admin", "", rig->admin.sign_public,
                                 rig->admin.curve_public, true, S_GOLDEN_MS / 1000, &op_cert,
                                 &op_cert_size, &serial, error) == 0);
    free (op_cert);
    char sign_hex [65], curve_hex [65];
    keys_hex (rig->node.sign_public, 32, sign_hex);
    keys_hex (rig->node.curve_public, 32, curve_hex);
    json_t *device = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", "node-1",
        "tenant", "acme", "type", "gateway", "role", "gateway", "sign_key", sign_hex,
        "curve_key", curve_hex, "revoked", 0);
    assert (registry_device_put (txn, device) == 0);
    json_decref (device);
    keys_generate (&rig->relay);
    const char *others [] = { "relay-1", "gone-1" };
    for (size_t i = 0; i < 2; i++) {
        keys_hex (rig->relay.sign_public, 32, sign_hex);
        keys_hex (rig->relay.curve_public, 32, curve_hex);
        curve_hex [0] = (char) ('a' + i);   //  Keys are unique per device
        device = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", others [i],
            "tenant", "acme", "type", "server", "role", "server", "sign_key", sign_hex,
            "curve_key", curve_hex, "revoked", i == 1);
        assert (registry_device_put (txn, device) == 0);
        json_decref (device);
    }
    assert (store_commit (&txn) == 0);
    pki_destroy (&pki);
    rig->core = coord_new (rig->store, &rig->ca, &rig->coord, rig->cert, rig->cert_size, NULL);
    assert (rig->core);
}

static void
s_rig_destroy (s_rig_t *rig)
{
    keys_wipe (&rig->relay);
    coord_destroy (&rig->core);
    store_destroy (&rig->store);
    free (rig->cert);
    zdir_t *dir = zdir_new (rig->path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
}

//  A golden vector's bytes (run from the repository root); caller frees
static uint8_t *
s_golden (const char *name, size_t *size_p)
{
    uint8_t *data = NULL;
    int rc = codec_golden (name, NULL, 0, &data, size_p);
    assert (rc == 0 && data);
    return data;
}

//  Decode and verify a reply of ours; msg borrows from frame
static void
s_reply (s_rig_t *rig, const uint8_t *frame, size_t size, int type, msg_t *msg)
{
    envelope_t env;
    assert (frame);
    assert (envelope_decode (&env, frame, size) == 0);
    assert (envelope_verify (&env, rig->coord.sign_public) == 0);
    assert (env.type == type);
    assert (msg_decode (msg, type, env.payload, env.payload_size) == 0);
}

//  An envelope of ours to the core: fields set by the caller's env,
//  payload from msg (or raw bytes), signed with signer
static uint8_t *
s_seal (envelope_t *env, const msg_t *msg, const uint8_t *raw, size_t raw_size,
        const keys_t *signer, size_t *size_p)
{
    uint8_t *payload = NULL;
    size_t payload_size = raw_size;
    if (msg)
        assert (msg_encode (msg, &payload, &payload_size) == 0);
    env->payload = msg? payload: raw;
    env->payload_size = payload_size;
    if (env->hop_limit == 0)
        env->hop_limit = env->hops = WEFT_HOP_LIMIT;
    uint8_t *frame;
    assert (envelope_encode (env, signer->sign_secret, &frame, size_p) == 0);
    free (payload);
    return frame;
}

//  Send an operator request frame; the reply's status, error in why,
//  and its result must be exactly null unless the status is OK
static int
s_rpc_frame (s_rig_t *rig, const char *link, const uint8_t *frame, size_t size,
             uint64_t now_ms, char why [WEFT_TEXT_MAX + 1])
{
    uint8_t *reply;
    size_t reply_size;
    assert (coord_on_rpc (rig->core, link, "192.0.2.7", frame, size, now_ms, &reply,
                          &reply_size) == 0);
    msg_t answer;
    s_reply (rig, reply, reply_size, MSG_RPC_REPLY, &answer);
    snprintf (why, WEFT_TEXT_MAX + 1, "%s", answer.rpc_reply.error);
    int status = answer.rpc_reply.status;
    if (status != WEFT_STATUS_OK)
        assert (answer.rpc_reply.result_size == 4
                && memcmp (answer.rpc_reply.result, "null", 4) == 0);
    else
        assert (answer.rpc_reply.result_size >= 2 && answer.rpc_reply.result [0] == '{');
    free (reply);
    return status;
}

//  A request from admin: method, args, seq, expiry, type
static int
s_rpc (s_rig_t *rig, const keys_t *signer, const char *method, const char *args,
       uint64_t expiry, int type, uint64_t now_ms, char why [WEFT_TEXT_MAX + 1])
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_RPC_REQUEST;
    snprintf (msg.rpc_request.method, sizeof msg.rpc_request.method, "%s", method);
    msg.rpc_request.args = args;
    msg.rpc_request.args_size = strlen (args);
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, sizeof env.id);
    env.type = type;
    strcpy (env.origin, "admin");
    env.expiry = expiry;
    size_t size;
    uint8_t *frame = type == MSG_RPC_REQUEST
        ? s_seal (&env, &msg, NULL, 0, signer, &size)
        : s_seal (&env, NULL, (const uint8_t *) "\x90", 1, signer, &size);
    int status = s_rpc_frame (rig, "admin", frame, size, now_ms, why);
    free (frame);
    return status;
}

//  --------------------------------------------------------------------------
//  The golden vectors, accepted at their time

static void
s_test_golden (bool verbose)
{
    s_rig_t rig;
    s_rig_new (&rig);
    char why [WEFT_TEXT_MAX + 1];
    uint8_t *reply;
    size_t reply_size;
    msg_t answer;

    //  The operator's request: twin.set of node-1, expiry 30 s ahead, no
    //  seq. Applied once; the same bytes again are a replay, and expired
    //  once their expiry passed
    size_t size;
    uint8_t *request = s_golden ("envelope-rpc-request", &size);
    assert (s_rpc_frame (&rig, "admin", request, size, S_GOLDEN_MS, why) == WEFT_STATUS_OK);
    assert (s_rpc_frame (&rig, "admin", request, size, S_GOLDEN_MS + 1000, why)
            == WEFT_STATUS_DENIED);
    assert (streq (why, "replayed request"));
    assert (s_rpc_frame (&rig, "admin", request, size, S_GOLDEN_MS + 30000, why)
            == WEFT_STATUS_EXPIRED);
    assert (streq (why, "request expired"));
    free (request);

    //  The node's report (seq 4), its ACK of a desired twin (seq 5) and
    //  its heartbeat (seq 6, expiring 15 s after its time)
    uint8_t *report = s_golden ("envelope-twin-reported", &size);
    assert (coord_on_mesh (rig.core, "node-1", report, size, S_GOLDEN_MS, &reply, &reply_size)
            == 0);
    s_reply (&rig, reply, reply_size, MSG_ACK, &answer);
    assert (answer.ack.status == WEFT_STATUS_OK && streq (answer.ack.message, ""));
    free (reply);
    free (report);
    const char *upward [] = { "envelope-ack", "envelope-heartbeat" };
    for (size_t i = 0; i < 2; i++) {
        uint8_t *frame = s_golden (upward [i], &size);
        assert (coord_on_mesh (rig.core, "node-1", frame, size, S_GOLDEN_MS, &reply,
                               &reply_size) == 0);
        free (reply);               //  The heartbeat's TWIN_DESIRED
        free (frame);
    }
    assert (coord_commit (rig.core) == 0);
    const coord_stats_t *stats = coord_stats (rig.core);
    assert (stats->rejected_replay == 1 && stats->rejected_expired == 1);
    assert (stats->rejected_signature == 0 && stats->rejected_origin == 0);
    assert (stats->rejected_malformed == 0);
    assert (s_rpc (&rig, &rig.admin, "twin.get", "{\"id\":\"node-1\"}", S_GOLDEN_MS + 1000,
                   MSG_RPC_REQUEST, S_GOLDEN_MS, why) == WEFT_STATUS_OK);
    if (verbose)
        printf ("\n   golden vectors accepted at %" PRIu64, (uint64_t) S_GOLDEN_MS);
    s_rig_destroy (&rig);
}

//  --------------------------------------------------------------------------
//  Operator requests: every refusal answered, result null

static void
s_test_rpc_refusals (void)
{
    s_rig_t rig;
    s_rig_new (&rig);
    char why [WEFT_TEXT_MAX + 1];
    uint64_t now = S_GOLDEN_MS;
    uint64_t expiry = now + 30000;
    keys_t stranger;
    keys_generate (&stranger);

    assert (s_rpc (&rig, &rig.admin, "device.show", "{\"id\":\"node-1\"}", expiry,
                   MSG_RPC_REQUEST, now, why) == WEFT_STATUS_OK);
    //  Expiry: required, ahead of now, at most 60 s ahead
    assert (s_rpc (&rig, &rig.admin, "device.show", "{\"id\":\"node-1\"}", 0,
                   MSG_RPC_REQUEST, now, why) == WEFT_STATUS_EXPIRED);
    assert (streq (why, "request must expire within 60 s"));
    assert (s_rpc (&rig, &rig.admin, "device.show", "{\"id\":\"node-1\"}", now + 60001,
                   MSG_RPC_REQUEST, now, why) == WEFT_STATUS_EXPIRED);
    assert (streq (why, "request must expire within 60 s"));
    assert (s_rpc (&rig, &rig.admin, "device.show", "{\"id\":\"node-1\"}", now,
                   MSG_RPC_REQUEST, now, why) == WEFT_STATUS_EXPIRED);
    assert (streq (why, "request expired"));
    assert (s_rpc (&rig, &rig.admin, "device.show", "{\"id\":\"node-1\"}", now + 60000,
                   MSG_RPC_REQUEST, now, why) == WEFT_STATUS_OK);
    //  Authentication: signature, type, payload
    assert (s_rpc (&rig, &stranger, "device.show", "{\"id\":\"node-1\"}", expiry,
                   MSG_RPC_REQUEST, now, why) == WEFT_STATUS_DENIED);
    assert (streq (why, "signature does not verify with the operator's key"));
    assert (s_rpc (&rig, &rig.admin, "device.show", "{}", expiry, MSG_HEARTBEAT, now, why)
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (why, "HEARTBEAT on the operator socket, which takes RPC_REQUEST only"));
    assert (s_rpc (&rig, &rig.admin, "device.show", "{}", expiry, MSG_RPC_REQUEST + 100, now,
                   why) == WEFT_STATUS_BAD_REQUEST);
    //  The method's refusals
    assert (s_rpc (&rig, &rig.admin, "device.nope", "{}", expiry, MSG_RPC_REQUEST, now, why)
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (why, "unknown method device.nope"));
    assert (s_rpc (&rig, &rig.admin, "device.show", "{\"id\":\"node-9\"}", expiry,
                   MSG_RPC_REQUEST, now, why) == WEFT_STATUS_NOT_FOUND);
    assert (s_rpc (&rig, &rig.admin, "device.show", "{\"x\":1}", expiry, MSG_RPC_REQUEST,
                   now, why) == WEFT_STATUS_BAD_REQUEST);
    //  A payload that is not an RPC_REQUEST
    msg_t msg;
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, sizeof env.id);
    env.type = MSG_RPC_REQUEST;
    strcpy (env.origin, "admin");
    env.expiry = expiry;
    size_t size;
    uint8_t *frame = s_seal (&env, NULL, (const uint8_t *) "\x91\x01", 2, &rig.admin, &size);
    assert (s_rpc_frame (&rig, "admin", frame, size, now, why) == WEFT_STATUS_BAD_REQUEST);
    assert (streq (why, "malformed request"));
    free (frame);
    //  Another operator's name on admin's connection; an unknown operator
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_RPC_REQUEST;
    strcpy (msg.rpc_request.method, "coord.stats");
    msg.rpc_request.args = "{}";
    msg.rpc_request.args_size = 2;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, sizeof env.id);
    env.type = MSG_RPC_REQUEST;
    strcpy (env.origin, "olga");
    env.expiry = expiry;
    frame = s_seal (&env, &msg, NULL, 0, &stranger, &size);
    assert (s_rpc_frame (&rig, "admin", frame, size, now, why) == WEFT_STATUS_DENIED);
    assert (streq (why, "origin olga is not the operator of this connection"));
    assert (s_rpc_frame (&rig, "olga", frame, size, now, why) == WEFT_STATUS_DENIED);
    assert (streq (why, "unknown operator"));
    free (frame);
    //  Bytes that are not an envelope: nothing to answer
    uint8_t *reply = (uint8_t *) "x";
    size_t reply_size;
    assert (coord_on_rpc (rig.core, "admin", "192.0.2.7", (const uint8_t *) "\x93\x01", 2,
                          now, &reply, &reply_size) == -2);
    assert (reply == NULL);
    keys_wipe (&stranger);
    s_rig_destroy (&rig);
}

//  --------------------------------------------------------------------------
//  Mesh envelopes: every refusal of an intact one is acknowledged

//  A custody transfer (or a direct frame, custody false) from link: the
//  core's verdict in link, its reply (if any) decoded into reply_msg
static int
s_mesh (s_rig_t *rig, const char *from, bool custody, const uint8_t *frame, size_t size,
        uint64_t now_ms, coord_link_t *link, msg_t *reply_msg, int *reply_type)
{
    memset (link, 0, sizeof *link);
    link->custody = custody;
    uint8_t *reply = NULL;
    size_t reply_size = 0;
    int rc = coord_on_mesh_link (rig->core, from, link, frame, size, now_ms, &reply,
                                 &reply_size);
    *reply_type = 0;
    if (reply) {
        envelope_t env;
        assert (envelope_decode (&env, reply, reply_size) == 0);
        *reply_type = env.type;
        if (env.type == MSG_ACK) {
            assert (msg_decode (reply_msg, MSG_ACK, env.payload, env.payload_size) == 0);
            //  Copy out what the frame lends
            static char message [WEFT_TEXT_MAX + 1];
            snprintf (message, sizeof message, "%s", reply_msg->ack.message);
            memcpy (reply_msg->ack.message, message, sizeof message);
        }
        free (reply);
    }
    assert (coord_commit (rig->core) == 0);
    return rc;
}

//  An envelope from origin, signed by signer: a message, or raw payload
static uint8_t *
s_from (const char *origin, const keys_t *signer, uint64_t seq, uint64_t expiry, int type,
        const msg_t *msg, size_t *size_p)
{
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, sizeof env.id);
    env.type = type;
    snprintf (env.origin, sizeof env.origin, "%s", origin);
    snprintf (env.tenant, sizeof env.tenant, "acme");
    env.seq = seq;
    env.hlc = S_GOLDEN_MS << 16;
    env.expiry = expiry;
    return msg? s_seal (&env, msg, NULL, 0, signer, size_p)
              : s_seal (&env, NULL, (const uint8_t *) "\x91\xa1x", 3, signer, size_p);
}

static void
s_test_mesh_refusals (void)
{
    s_rig_t rig;
    s_rig_new (&rig);
    uint64_t now = S_GOLDEN_MS;
    keys_t stranger;
    keys_generate (&stranger);
    coord_link_t link;
    msg_t reply;
    int reply_type;
    size_t size;
    uint8_t *frame;
    msg_t heartbeat;
    memset (&heartbeat, 0, sizeof heartbeat);
    heartbeat.type = MSG_HEARTBEAT;
    heartbeat.heartbeat.desired_version = 0;
    const coord_stats_t *stats = coord_stats (rig.core);

    //  Accepted, through the relay: OK
    frame = s_from ("node-1", &rig.node, 10, 0, MSG_HEARTBEAT, &heartbeat, &size);
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type) == 0);
    assert (link.decoded && link.ack_status == WEFT_STATUS_OK && link.ack_reason [0] == 0);
    assert (streq (link.origin, "node-1"));
    //  The same again: a replay, refused for good
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type) == -2);
    assert (link.decoded && link.ack_status == WEFT_STATUS_DENIED);
    assert (streq (link.ack_reason, "replayed: seq 10 of node-1 was seen or is too old"));
    assert (stats->rejected_replay == 1);
    free (frame);
    //  Forged, unknown origin, revoked origin: one neutral reason
    const char *not_authenticated [][2] = {
        { "node-1", "not authenticated: node-1 is unknown or revoked, or the signature "
                    "does not verify" },
        { "ghost-9", "not authenticated: ghost-9 is unknown or revoked, or the signature "
                     "does not verify" },
        { "gone-1", "not authenticated: gone-1 is unknown or revoked, or the signature "
                    "does not verify" }
    };
    for (size_t i = 0; i < 3; i++) {
        frame = s_from (not_authenticated [i][0], &stranger, 11, 0, MSG_HEARTBEAT, &heartbeat,
                        &size);
        assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type)
                == -2);
        assert (link.ack_status == WEFT_STATUS_DENIED);
        assert (streq (link.ack_reason, not_authenticated [i][1]));
        free (frame);
    }
    assert (stats->rejected_signature == 1 && stats->rejected_origin == 2);
    //  Expired
    frame = s_from ("node-1", &rig.node, 12, now, MSG_HEARTBEAT, &heartbeat, &size);
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type) == -2);
    assert (link.ack_status == WEFT_STATUS_EXPIRED);
    assert (streq (link.ack_reason, "expired at 1767225600000 (unix ms), received at "
                                    "1767225600000"));
    free (frame);
    //  Not expired yet: one ms left
    frame = s_from ("node-1", &rig.node, 13, now + 1, MSG_HEARTBEAT, &heartbeat, &size);
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type) == 0);
    assert (link.ack_status == WEFT_STATUS_OK);
    free (frame);
    //  The coordinator's name from a relay; another device's name on a
    //  direct link
    frame = s_from (COORD_ORIGIN, &rig.coord, 14, 0, MSG_HEARTBEAT, &heartbeat, &size);
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type) == -2);
    assert (link.ack_status == WEFT_STATUS_DENIED);
    assert (streq (link.ack_reason, "origin coordinator on the link of relay-1"));
    free (frame);
    frame = s_from ("node-1", &rig.node, 15, 0, MSG_HEARTBEAT, &heartbeat, &size);
    assert (s_mesh (&rig, "relay-1", false, frame, size, now, &link, &reply, &reply_type)
            == -2);
    assert (link.ack_status == WEFT_STATUS_DENIED);
    assert (streq (link.ack_reason, "origin node-1 on the link of relay-1"));
    free (frame);
    //  Malformed payload, a type the mesh does not take, gossip in custody
    frame = s_from ("node-1", &rig.node, 16, 0, MSG_HEARTBEAT, NULL, &size);
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type) == -2);
    assert (link.ack_status == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (link.ack_reason, "malformed HEARTBEAT: "));
    free (frame);
    frame = s_from ("node-1", &rig.node, 17, 0, MSG_RPC_REQUEST, NULL, &size);
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type) == -2);
    assert (link.ack_status == WEFT_STATUS_BAD_REQUEST);
    assert (streq (link.ack_reason, "RPC_REQUEST is not taken on the mesh socket"));
    free (frame);
    frame = s_from ("node-1", &rig.node, 18, 0, MSG_POLICY_SUMMARY, NULL, &size);
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type) == -2);
    assert (link.ack_status == WEFT_STATUS_DENIED);
    assert (streq (link.ack_reason, "policy gossip is link-local, never a custody transfer"));
    free (frame);
    //  Bytes that are no envelope: no id, nothing to acknowledge
    assert (s_mesh (&rig, "relay-1", true, (const uint8_t *) "\x93\x01", 2, now, &link,
                    &reply, &reply_type) == -2);
    assert (!link.decoded);

    //  A report naming another device: refused with a CUSTODY_ACK and an
    //  ACK to its origin, through the relay; the twin is untouched
    msg_t report;
    memset (&report, 0, sizeof report);
    report.type = MSG_TWIN_REPORTED;
    strcpy (report.twin_reported.device, "relay-1");
    report.twin_reported.version = 3;
    report.twin_reported.doc = "{\"x\":1}";
    report.twin_reported.doc_size = 7;
    strcpy (report.twin_reported.status, "ok");
    frame = s_from ("node-1", &rig.node, 19, 0, MSG_TWIN_REPORTED, &report, &size);
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type) == 0);
    assert (link.ack_status == WEFT_STATUS_DENIED);
    assert (streq (link.ack_reason, "report names device relay-1, not its origin node-1"));
    assert (reply_type == MSG_ACK && reply.ack.status == WEFT_STATUS_DENIED);
    assert (streq (reply.ack.message, link.ack_reason));
    assert (streq (link.reply_dest, "node-1"));
    //  Its retransmission gets the same answer
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type) == 0);
    assert (reply_type == MSG_ACK && reply.ack.status == WEFT_STATUS_DENIED);
    free (frame);
    //  Not an object
    strcpy (report.twin_reported.device, "node-1");
    report.twin_reported.doc = "[1]";
    report.twin_reported.doc_size = 3;
    frame = s_from ("node-1", &rig.node, 20, 0, MSG_TWIN_REPORTED, &report, &size);
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type) == 0);
    assert (link.ack_status == WEFT_STATUS_BAD_REQUEST);
    assert (reply_type == MSG_ACK && reply.ack.status == WEFT_STATUS_BAD_REQUEST);
    assert (streq (reply.ack.message,
                   "reported document must be a JSON object of at most 32768 bytes"));
    free (frame);
    //  The store fails: INTERNAL, no ACK (the sender retransmits)
    report.twin_reported.doc = "{\"x\":2}";
    report.twin_reported.doc_size = 7;
    frame = s_from ("node-1", &rig.node, 21, 0, MSG_TWIN_REPORTED, &report, &size);
    store_fail_after (rig.store, 1);
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type) == -2);
    store_fail_after (rig.store, 0);
    assert (link.ack_status == WEFT_STATUS_INTERNAL && reply_type == 0);
    //  ... and is taken once it works again
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type) == 0);
    assert (link.ack_status == WEFT_STATUS_OK);
    assert (reply_type == MSG_ACK && reply.ack.status == WEFT_STATUS_OK);
    free (frame);
    //  A quarantined device's report
    store_txn_t *txn = store_begin (rig.store, true);
    json_t *verdict = json_pack ("{s:b, s:s}", "ok", 0, "reason", "PCR 7 differs");
    assert (attest_verdict_put (txn, "node-1", verdict) == 0);
    json_decref (verdict);
    assert (store_commit (&txn) == 0);
    report.twin_reported.version = 4;
    frame = s_from ("node-1", &rig.node, 22, 0, MSG_TWIN_REPORTED, &report, &size);
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type) == 0);
    assert (link.ack_status == WEFT_STATUS_DENIED);
    assert (reply_type == MSG_ACK && reply.ack.status == WEFT_STATUS_DENIED);
    assert (streq (reply.ack.message, "node-1 is quarantined (failed attestation): report "
                                      "refused"));
    free (frame);

    //  What we sent through a relay and the relay refused for good ends
    //  our custody too, counted as refused, not acknowledged
    msg_t desired;
    memset (&desired, 0, sizeof desired);
    desired.type = MSG_TWIN_DESIRED;
    strcpy (desired.twin_desired.device, "node-1");
    desired.twin_desired.version = 1;
    desired.twin_desired.doc = "{}";
    desired.twin_desired.doc_size = 2;
    uint8_t *sent;
    size_t sent_size;
    assert (coord_seal (rig.core, "node-1", &desired, now, &sent, &sent_size) == 0);
    envelope_t sent_env;
    assert (envelope_decode (&sent_env, sent, sent_size) == 0);
    coord_sent_custody (rig.core, "node-1", "relay-1", sent, sent_size, now);
    assert (stats->custody_held == 1);
    meshmsg_t refusal;
    memset (&refusal, 0, sizeof refusal);
    refusal.type = MSG_CUSTODY_ACK;
    refusal.ids = sent_env.id;
    refusal.id_count = 1;
    refusal.status = WEFT_STATUS_DENIED;
    strcpy (refusal.reason, "quarantined");
    uint8_t *payload;
    size_t payload_size;
    assert (meshmsg_encode (&refusal, &payload, &payload_size) == 0);
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, sizeof env.id);
    env.type = MSG_CUSTODY_ACK;
    strcpy (env.origin, "relay-1");
    env.seq = env.hlc = now << 16;
    env.hop_limit = env.hops = 1;
    frame = s_seal (&env, NULL, payload, payload_size, &rig.relay, &size);
    free (payload);
    assert (s_mesh (&rig, "relay-1", false, frame, size, now, &link, &reply, &reply_type) == 0);
    assert (stats->custody_held == 0 && stats->custody_refused == 1);
    assert (stats->custody_acked == 0);
    free (frame);
    //  Sent to the device itself, refused by its ACK: the same
    coord_sent_custody (rig.core, "node-1", "node-1", sent, sent_size, now);
    assert (stats->custody_held == 1);
    msg_t refused;
    memset (&refused, 0, sizeof refused);
    refused.type = MSG_ACK;
    memcpy (refused.ack.ack_id, sent_env.id, WEFT_ID_SIZE);
    refused.ack.status = WEFT_STATUS_DENIED;
    strcpy (refused.ack.message, "TWIN_DESIRED for relay-1, not for this device");
    frame = s_from ("node-1", &rig.node, 23, 0, MSG_ACK, &refused, &size);
    assert (s_mesh (&rig, "node-1", true, frame, size, now, &link, &reply, &reply_type) == 0);
    assert (stats->custody_held == 0 && stats->custody_refused == 2);
    free (frame);
    free (sent);

    keys_wipe (&stranger);
    s_rig_destroy (&rig);
}

//  --------------------------------------------------------------------------
//  The enrolment socket: a type it does not take is answered

static void
s_test_enrol_refusals (void)
{
    s_rig_t rig;
    s_rig_new (&rig);
    msg_t heartbeat;
    memset (&heartbeat, 0, sizeof heartbeat);
    heartbeat.type = MSG_HEARTBEAT;
    size_t size;
    uint8_t *frame = s_from ("node-9", &rig.node, 1, 0, MSG_HEARTBEAT, &heartbeat, &size);
    char link [65];
    keys_hex (rig.node.curve_public, 32, link);
    uint8_t *reply;
    size_t reply_size;
    assert (coord_on_enrol (rig.core, link, "192.0.2.7", frame, size, S_GOLDEN_MS, &reply,
                            &reply_size) == 0);
    msg_t answer;
    s_reply (&rig, reply, reply_size, MSG_ENROL_RESPONSE, &answer);
    assert (answer.enrol_response.status == WEFT_STATUS_BAD_REQUEST);
    assert (streq (answer.enrol_response.message, "HEARTBEAT on the enrolment socket, which "
                   "takes ENROL_REQUEST, TPM_ENROL_REQUEST and TPM_PROOF"));
    free (reply);
    free (frame);
    reply = (uint8_t *) "x";
    assert (coord_on_enrol (rig.core, link, "192.0.2.7", (const uint8_t *) "\x90", 1,
                            S_GOLDEN_MS, &reply, &reply_size) == -2);
    assert (reply == NULL);
    s_rig_destroy (&rig);
}

void
coord_wire_test (bool verbose)
{
    printf (" * coord_wire: ");
    //  @selftest
    s_test_golden (verbose);
    s_test_rpc_refusals ();
    s_test_mesh_refusals ();
    s_test_enrol_refusals ();
    //  @end
    printf ("%sOK\n", verbose? "\n   ": "");
}
