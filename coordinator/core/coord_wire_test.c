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

//  A coordinator with the golden identities: CA 0xca, coordinator 0xc0,
//  operator admin 0xad (admin of everything), node-1 0x01 in acme
static void
s_rig_new (s_rig_t *rig)
{
    memset (rig, 0, sizeof *rig);
    strcpy (rig->path, "/tmp/weft-coord-wire-XXXXXX");
    assert (mkdtemp (rig->path));
    keys_from_byte (&rig->ca, 0xca);
    keys_from_byte (&rig->coord, 0xc0);
    keys_from_byte (&rig->admin, 0xad);
    keys_from_byte (&rig->node, 0x01);
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

//  A request from origin (signed by signer) on link's connection: method,
//  args, expiry, type (any other type than RPC_REQUEST gets a payload
//  that is no request)
static int
s_rpc_as (s_rig_t *rig, const char *link, const char *origin, const keys_t *signer,
          const char *method, const char *args, uint64_t expiry, int type, uint64_t now_ms,
          char why [WEFT_TEXT_MAX + 1])
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
    snprintf (env.origin, sizeof env.origin, "%s", origin);
    env.expiry = expiry;
    size_t size;
    uint8_t *frame = type == MSG_RPC_REQUEST
        ? s_seal (&env, &msg, NULL, 0, signer, &size)
        : s_seal (&env, NULL, (const uint8_t *) "\x90", 1, signer, &size);
    int status = s_rpc_frame (rig, link, frame, size, now_ms, why);
    free (frame);
    return status;
}

//  A request from admin on its own connection
static int
s_rpc (s_rig_t *rig, const keys_t *signer, const char *method, const char *args,
       uint64_t expiry, int type, uint64_t now_ms, char why [WEFT_TEXT_MAX + 1])
{
    return s_rpc_as (rig, "admin", "admin", signer, method, args, expiry, type, now_ms, why);
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
    assert (s_rpc_as (&rig, "admin", "olga", &stranger, "coord.stats", "{}", expiry,
                      MSG_RPC_REQUEST, now, why) == WEFT_STATUS_DENIED);
    assert (streq (why, "origin olga is not the operator of this connection"));
    assert (s_rpc_as (&rig, "olga", "olga", &stranger, "coord.stats", "{}", expiry,
                      MSG_RPC_REQUEST, now, why) == WEFT_STATUS_DENIED);
    assert (streq (why, "unknown operator"));
    //  Bytes that are not an envelope: nothing to answer
    uint8_t *reply = (uint8_t *) "x";
    size_t reply_size;
    assert (coord_on_rpc (rig.core, "admin", "192.0.2.7", (const uint8_t *) "\x93\x01", 2,
                          now, &reply, &reply_size) == PROTO_ERR_DROPPED);
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

    //  One envelope each, in the order the core checks them: who signs,
    //  as whom, its seq and expiry, its type (a heartbeat, else a payload
    //  that is no message), over custody or not; the answer expected
    //  (a reason ending in '*' is matched as a prefix)
    keys_t *node = &rig.node, *coord = &rig.coord;
    struct {
        keys_t *signer;
        const char *origin;
        uint64_t seq, expiry;
        int type;
        bool custody;
        int rc, status;
        const char *reason;
    } cases [] = {
        { node, "node-1", 10, 0, MSG_HEARTBEAT, true, 0, WEFT_STATUS_OK, "" },
        { node, "node-1", 10, 0, MSG_HEARTBEAT, true, PROTO_ERR_REFUSED, WEFT_STATUS_DENIED,
          "replayed: seq 10 of node-1 was seen or is too old" },
        { &stranger, "node-1", 11, 0, MSG_HEARTBEAT, true, PROTO_ERR_REFUSED, WEFT_STATUS_DENIED,
          "not authenticated: node-1 is unknown or revoked, or the signature does not verify" },
        { &stranger, "ghost-9", 11, 0, MSG_HEARTBEAT, true, PROTO_ERR_REFUSED, WEFT_STATUS_DENIED,
          "not authenticated: ghost-9 is unknown or revoked, or the signature does not verify" },
        { &stranger, "gone-1", 11, 0, MSG_HEARTBEAT, true, PROTO_ERR_REFUSED, WEFT_STATUS_DENIED,
          "not authenticated: gone-1 is unknown or revoked, or the signature does not verify" },
        { node, "node-1", 12, now, MSG_HEARTBEAT, true, PROTO_ERR_REFUSED, WEFT_STATUS_EXPIRED,
          "expired at 1767225600000 (unix ms), received at 1767225600000" },
        { node, "node-1", 13, now + 1, MSG_HEARTBEAT, true, 0, WEFT_STATUS_OK, "" },
        { coord, COORD_ORIGIN, 14, 0, MSG_HEARTBEAT, true, PROTO_ERR_REFUSED, WEFT_STATUS_DENIED,
          "origin coordinator on the link of relay-1" },
        { node, "node-1", 15, 0, MSG_HEARTBEAT, false, PROTO_ERR_REFUSED, WEFT_STATUS_DENIED,
          "origin node-1 on the link of relay-1" },
        { node, "node-1", 16, 0, -MSG_HEARTBEAT, true, PROTO_ERR_REFUSED, WEFT_STATUS_BAD_REQUEST,
          "malformed HEARTBEAT: *" },
        { node, "node-1", 17, 0, -MSG_RPC_REQUEST, true, PROTO_ERR_REFUSED, WEFT_STATUS_BAD_REQUEST,
          "RPC_REQUEST is not taken on the mesh socket" },
        { node, "node-1", 18, 0, -MSG_POLICY_SUMMARY, true, PROTO_ERR_REFUSED, WEFT_STATUS_DENIED,
          "policy gossip is link-local, never a custody transfer" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        int type = cases [i].type < 0? -cases [i].type: cases [i].type;
        frame = s_from (cases [i].origin, cases [i].signer, cases [i].seq, cases [i].expiry,
                        type, cases [i].type > 0? &heartbeat: NULL, &size);
        int rc = s_mesh (&rig, "relay-1", cases [i].custody, frame, size, now, &link, &reply,
                         &reply_type);
        free (frame);
        const char *want = cases [i].reason;
        size_t prefix = strlen (want) && want [strlen (want) - 1] == '*'? strlen (want) - 1: 0;
        if (rc != cases [i].rc || link.ack_status != cases [i].status || !link.decoded
        ||  (prefix? strncmp (link.ack_reason, want, prefix): strcmp (link.ack_reason, want))) {
            fprintf (stderr, "coord_wire: case %zu: rc %d %s '%s', expected %d %s '%s'\n", i,
                     rc, proto_status_name (link.ack_status), link.ack_reason, cases [i].rc,
                     proto_status_name (cases [i].status), want);
            assert (false);
        }
    }
    assert (stats->rejected_replay == 1);
    assert (stats->rejected_signature == 1 && stats->rejected_origin == 4);
    assert (stats->rejected_expired == 1 && stats->rejected_malformed == 3);
    //  Bytes that are no envelope: no id, nothing to acknowledge
    assert (s_mesh (&rig, "relay-1", true, (const uint8_t *) "\x93\x01", 2, now, &link,
                    &reply, &reply_type) == PROTO_ERR_DROPPED);
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
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type)
        == PROTO_ERR_REFUSED);
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
    json_t *device = registry_device_get (txn, "node-1");
    assert (attest_verdict_put (txn, device, verdict, NULL) == 0);
    json_decref (device);
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
    //  Evidence whose verdict cannot be stored: INTERNAL, and its seq is
    //  not used up, so the retransmission is taken, not refused as a replay
    frame = s_golden ("envelope-attest-evidence", &size);
    store_fail_after (rig.store, 1);
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type)
        == PROTO_ERR_REFUSED);
    store_fail_after (rig.store, 0);
    assert (link.ack_status == WEFT_STATUS_INTERNAL);
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type) == 0);
    assert (link.ack_status == WEFT_STATUS_OK);
    assert (s_mesh (&rig, "relay-1", true, frame, size, now, &link, &reply, &reply_type)
        == PROTO_ERR_REFUSED);
    assert (link.ack_status == WEFT_STATUS_DENIED && strstr (link.ack_reason, "replayed"));
    free (frame);

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
                            S_GOLDEN_MS, &reply, &reply_size) == PROTO_ERR_DROPPED);
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
