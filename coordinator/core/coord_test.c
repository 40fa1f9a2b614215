/*  coord_test - selftest of the coordinator's core: whole exchanges
    through real envelopes on a real store in a temporary directory
    (enrolment, heartbeats, reports, RPC, custody), through coord.h only.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/envelope.h"
#include "proto/meshmsg.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/pki.h"
#include "coordinator/core/rpc.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/attest_state.h"
#include "coordinator/core/attest_software.h"
#include "coordinator/core/artrepo.h"
#include "proto/manifest.h"
#include "coordinator/core/coord.h"

//  --------------------------------------------------------------------------
//  Selftest: whole exchanges through real envelopes

typedef struct {
    char path [64];
    store_t *store;
    keys_t ca, keys;
    uint8_t *cert;
    size_t cert_size;
    coord_t *coord;
    int pushes;                     //  Frames pushed
    char pushed_to [WEFT_NAME_MAX + 1];
    char relay [WEFT_NAME_MAX + 1]; //  If set, pushes go through it (and say so)
    uint64_t now_ms;                //  Time the pushes say they went
} s_rig_t;

static void
s_test_push (void *ctx, const char *device_id, const uint8_t *frame, size_t size)
{
    s_rig_t *rig = (s_rig_t *) ctx;
    assert (frame && size);
    rig->pushes++;
    snprintf (rig->pushed_to, sizeof rig->pushed_to, "%s", device_id);
    if (*rig->relay)
        coord_sent_custody (rig->coord, device_id, rig->relay, true, frame, size, rig->now_ms);
}

static void
s_rig_open (s_rig_t *rig)
{
    rig->store = store_new (rig->path, registry_tables (), 0);
    assert (rig->store);
    coord_effects_t effects = { rig, s_test_push, NULL };
    rig->coord = coord_new (rig->store, &rig->ca, &rig->keys, rig->cert,
                            rig->cert_size, &effects);
    assert (rig->coord);
}

static void
s_rig_close (s_rig_t *rig)
{
    coord_destroy (&rig->coord);
    store_destroy (&rig->store);
}

//  Sign an encoded payload of type as origin.
static uint8_t *
s_seal (const keys_t *keys, const char *origin, int type, uint64_t seq,
        const uint8_t *payload, size_t payload_size, size_t *size_p)
{
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, sizeof env.id);
    env.type = type;
    snprintf (env.origin, sizeof env.origin, "%s", origin);
    env.seq = seq;
    env.hlc = seq;
    //  Operator requests must expire within a minute (nonces.h)
    if (type == MSG_RPC_REQUEST)
        env.expiry = 1700000000000ULL + 30000;
    env.hop_limit = WEFT_HOP_LIMIT;
    env.hops = WEFT_HOP_LIMIT;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame;
    assert (envelope_encode (&env, keys->sign_secret, &frame, size_p) == 0);
    return frame;
}

//  Sign a message as origin.
static uint8_t *
s_envelope (const keys_t *keys, const char *origin, uint64_t seq, const msg_t *msg,
            size_t *size_p)
{
    uint8_t *payload;
    size_t payload_size;
    assert (msg_encode (msg, &payload, &payload_size) == 0);
    uint8_t *frame = s_seal (keys, origin, msg->type, seq, payload, payload_size, size_p);
    free (payload);
    return frame;
}

//  Open a reply from the coordinator: verify, decode into msg. Returns
//  the frame, which msg borrows from; caller frees it.
static uint8_t *
s_open_reply (s_rig_t *rig, uint8_t *frame, size_t size, int type, msg_t *msg,
              uint64_t *seq_p)
{
    assert (frame);
    envelope_t env;
    assert (envelope_decode (&env, frame, size) == 0);
    assert (envelope_verify (&env, rig->keys.sign_public) == 0);
    assert (streq (env.origin, COORD_ORIGIN));
    assert (env.type == type);
    assert (msg_decode (msg, type, env.payload, env.payload_size) == 0);
    if (seq_p)
        *seq_p = env.seq;
    return frame;
}

//  One RPC call as an operator; returns the status, result text in out.
static int
s_rpc (s_rig_t *rig, const keys_t *op, const char *name, uint64_t seq,
       const char *method, const char *args, char *out, size_t out_size)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_RPC_REQUEST;
    snprintf (msg.rpc_request.method, sizeof msg.rpc_request.method, "%s", method);
    msg.rpc_request.args = args;
    msg.rpc_request.args_size = strlen (args);
    size_t size;
    uint8_t *frame = s_envelope (op, name, seq, &msg, &size);
    uint8_t *reply;
    size_t reply_size;
    int rc = coord_on_rpc (rig->coord, name, "192.0.2.9", frame, size, 1700000000000ULL,
                           &reply, &reply_size);
    free (frame);
    if (rc)
        return -1;
    msg_t answer;
    s_open_reply (rig, reply, reply_size, MSG_RPC_REPLY, &answer, NULL);
    if (out) {
        size_t n = answer.rpc_reply.result_size < out_size - 1
                 ? answer.rpc_reply.result_size: out_size - 1;
        memcpy (out, answer.rpc_reply.result, n);
        out [n] = 0;
        if (answer.rpc_reply.status)
            snprintf (out, out_size, "%s", answer.rpc_reply.error);
    }
    int status = answer.rpc_reply.status;
    free (reply);
    return status;
}

//  A CUSTODY_ACK of one id from origin (a relay linked to us): status,
//  reason, its HLC as seq. Caller frees.
static uint8_t *
s_custody_ack (const keys_t *keys, const char *origin, const uint8_t *id, int status,
               const char *reason, uint64_t hlc, size_t *size_p)
{
    meshmsg_t ack;
    memset (&ack, 0, sizeof ack);
    ack.type = MSG_CUSTODY_ACK;
    ack.ids = id;
    ack.id_count = 1;
    ack.status = status;
    snprintf (ack.reason, sizeof ack.reason, "%s", reason);
    uint8_t *payload;
    size_t payload_size;
    assert (meshmsg_encode (&ack, &payload, &payload_size) == 0);
    uint8_t *frame = s_seal (keys, origin, MSG_CUSTODY_ACK, hlc, payload, payload_size, size_p);
    free (payload);
    return frame;
}

//  Enrol as name with keys; returns status, message in out.
static int
s_enrol (s_rig_t *rig, const keys_t *node, const char *name, const char *token,
         char *out)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_ENROL_REQUEST;
    snprintf (msg.enrol_request.token, sizeof msg.enrol_request.token, "%s", token);
    memcpy (msg.enrol_request.sign_key, node->sign_public, 32);
    memcpy (msg.enrol_request.curve_key, node->curve_public, 32);
    strcpy (msg.enrol_request.device_type, "gateway");
    size_t size;
    uint8_t *frame = s_envelope (node, name, 1, &msg, &size);
    char link [COORD_USER_ID_MAX + 1];
    assert (coord_admit (rig->coord, "enrol", "192.0.2.9", node->curve_public,
                          1700000000000ULL, link));
    uint8_t *reply;
    size_t reply_size;
    assert (coord_on_enrol (rig->coord, link, "192.0.2.9", frame, size, 1700000000000ULL,
                            &reply, &reply_size) == 0);
    free (frame);
    msg_t answer;
    s_open_reply (rig, reply, reply_size, MSG_ENROL_RESPONSE, &answer, NULL);
    strcpy (out, answer.enrol_response.message);
    int status = answer.enrol_response.status;
    if (status == 0) {
        cert_t cert;
        assert (cert_decode (&cert, answer.enrol_response.cert,
                             answer.enrol_response.cert_size, rig->ca.sign_public,
                             1700000000) == 0);
        assert (streq (cert.subject, name));
        assert (memcmp (answer.enrol_response.ca_key, rig->ca.sign_public, 32) == 0);
        assert (cert_decode (&cert, answer.enrol_response.coord_cert,
                             answer.enrol_response.coord_cert_size, rig->ca.sign_public,
                             1700000000) == 0);
        assert (cert.kind == CERT_KIND_COORDINATOR);
    }
    free (reply);
    return status;
}

//  A heartbeat from dev-1 naming the passport it holds; returns the reply
//  (caller frees) or NULL
static uint8_t *
s_heartbeat (s_rig_t *rig, const keys_t *node, uint64_t seq, uint64_t passport_ms,
             uint64_t now_ms, size_t *reply_size_p)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_HEARTBEAT;
    msg.heartbeat.desired_version = UINT64_MAX;
    msg.heartbeat.uptime_s = 1000;
    msg.heartbeat.passport_ms = passport_ms;
    size_t size;
    uint8_t *frame = s_envelope (node, "dev-1", seq, &msg, &size);
    uint8_t *reply = NULL;
    assert (coord_on_mesh (rig->coord, "dev-1", frame, size, now_ms, &reply,
                           reply_size_p) == 0);
    free (frame);
    return reply;
}

//  A twin report of doc from dev-1: the status of the coordinator's ACK
//  (its reason in reason), -1 without one
static int
s_report_doc (s_rig_t *rig, const keys_t *node, uint64_t seq, uint64_t now_ms,
              const char *doc, char reason [WEFT_TEXT_MAX + 1])
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_TWIN_REPORTED;
    strcpy (msg.twin_reported.device, "dev-1");
    msg.twin_reported.version = seq;
    msg.twin_reported.doc = doc;
    msg.twin_reported.doc_size = strlen (doc);
    strcpy (msg.twin_reported.status, "ok");
    size_t size, reply_size;
    uint8_t *frame = s_envelope (node, "dev-1", seq, &msg, &size);
    uint8_t *reply = NULL;
    int status = -1;
    envelope_t env;
    msg_t ack;
    if (coord_on_mesh (rig->coord, "dev-1", frame, size, now_ms, &reply, &reply_size) == 0
    &&  reply && envelope_decode (&env, reply, reply_size) == 0 && env.type == MSG_ACK
    &&  msg_decode (&ack, MSG_ACK, env.payload, env.payload_size) == 0) {
        status = ack.ack.status;
        snprintf (reason, WEFT_TEXT_MAX + 1, "%s", ack.ack.message);
    }
    free (frame);
    free (reply);
    return status;
}

static int
s_report (s_rig_t *rig, const keys_t *node, uint64_t seq, uint64_t now_ms,
          char reason [WEFT_TEXT_MAX + 1])
{
    return s_report_doc (rig, node, seq, now_ms, "{}", reason);
}

//  dev-1 (of acme) reports releases committed: the coordinator takes
//  the reference values from acme's repository only
static void
s_test_software (s_rig_t *rig, const keys_t *node, uint64_t now_ms)
{
    //  plc 9.0 only in globex's repository, plc 1.0 in acme's
    manifest_refs_t *refs = (manifest_refs_t *) zmalloc (sizeof (manifest_refs_t));
    refs->ima_count = 1;
    snprintf (refs->ima [0].path, sizeof refs->ima [0].path, "/opt/plc");
    const char *keys [] = { "man/globex/plc/9.0", "man/acme/plc/1.0" };
    for (int i = 0; i < 2; i++) {
        memset (refs->ima [0].digest, 0x90 + i, 32);
        manifest_t manifest = { .name = "plc", .version = "1", .types = "*",
                                .handler = "file", .refs = refs };
        uint8_t *data;
        size_t size;
        assert (manifest_encode (&manifest, &data, &size) == 0);
        store_txn_t *txn = store_begin (rig->store, true);
        assert (store_put (txn, ARTREPO_TABLE, keys [i], strlen (keys [i]), data, size) == 0);
        assert (store_commit (&txn) == 0);
        free (data);
    }
    free (refs);
    char reason [WEFT_TEXT_MAX + 1];
    const char *doc = "{\"software\": {\"state\": \"committed\", \"name\": \"plc\", "
                      "\"version\": \"%s\", \"installed\": \"%s\"}}";
    char text [256];
    uint8_t theirs [32], ours [32];
    memset (theirs, 0x90, 32);
    memset (ours, 0x91, 32);
    for (int i = 0; i < 2; i++) {
        snprintf (text, sizeof text, doc, i? "1.0": "9.0", i? "1.0": "9.0");
        assert (s_report_doc (rig, node, 200 + (uint64_t) i, now_ms, text, reason)
                == WEFT_STATUS_OK);
        attest_ima_allowlist_t expected;
        store_txn_t *txn = store_begin (rig->store, false);
        assert (attest_software_allowlist (txn, "dev-1", &expected) == 0);
        store_abort (&txn);
        //  globex's 9.0 brings nothing; acme's 1.0 its file
        assert (!attest_ima_allowed (&expected, theirs));
        assert (attest_ima_allowed (&expected, ours) == (i == 1));
        attest_ima_allowlist_free (&expected);
    }
}

//  Fresh attestation at the coordinator: a profile that requires it
//  quarantines dev-1 (never attested), a pass admits it and its
//  heartbeats bring the passport once, then it falls overdue; an
//  operator's clear admits it again with a "cleared" passport
static void
s_test_fresh_attestation (s_rig_t *rig, const keys_t *admin, const keys_t *node,
                          uint64_t now_ms)
{
    char out [4096];
    assert (s_rpc (rig, admin, "admin", 3000, "attest.profile.set",
                   "{\"tenant\":\"acme\",\"type\":\"gateway\",\"profile\":{\"pcrs\":{\"8\":"
                   "\"000000000000000000"
                   "0000000000000000000000000000000000000000000000\"},\"interval_s\":10,"
                   "\"grace_s\":5}}", out, sizeof out) == WEFT_STATUS_OK);
    size_t size;
    //  Never attested: its report is refused, its heartbeat gets nothing
    char reason [WEFT_TEXT_MAX + 1];
    assert (s_report (rig, node, 300, now_ms, reason) == WEFT_STATUS_DENIED);
    assert (streq (reason, "dev-1 is quarantined (never attested): report refused"));
    assert (s_heartbeat (rig, node, 301, 0, now_ms, &size) == NULL);
    //  A pass (dev-1 has no TPM: the verdict is written as attest.c
    //  writes one) admits it; the next heartbeat brings its passport
    store_txn_t *txn = store_begin (rig->store, true);
    json_t *device = registry_device_get (txn, "dev-1");
    json_t *profile = attest_profile_of (txn, device, rig->ca.sign_public);
    json_t *verdict = json_pack ("{s:s, s:b, s:I, s:I, s:s}", "device", "dev-1", "ok", 1,
                                 "time", (json_int_t) (now_ms / 1000), "time_ms",
                                 (json_int_t) now_ms, "reason", "boot state matches");
    assert (attest_verdict_store (txn, device, verdict, profile) == 0);
    assert (store_commit (&txn) == 0);
    json_decref (verdict);
    json_decref (profile);
    uint8_t *reply = s_heartbeat (rig, node, 302, 0, now_ms + 1000, &size);
    assert (reply);
    envelope_t env;
    assert (envelope_decode (&env, reply, size) == 0 && env.type == MSG_PASSPORT);
    assert (envelope_verify (&env, rig->keys.sign_public) == 0);
    cert_t holder;
    memset (&holder, 0, sizeof holder);
    strcpy (holder.subject, "dev-1");
    strcpy (holder.tenant, "acme");
    holder.serial = (uint64_t) json_integer_value (json_object_get (device, "cert_serial"));
    passport_t passport;
    assert (passport_check (env.payload, env.payload_size, &holder, rig->ca.sign_public,
                            rig->keys.sign_public, now_ms + 1000, &passport, NULL, 0)
            == PASSPORT_OK);
    assert (passport.attested_ms == now_ms && passport.expires_ms == now_ms + 15000);
    free (reply);
    //  ... once: the node names it in its heartbeats from then on
    assert (s_heartbeat (rig, node, 303, now_ms, now_ms + 2000, &size) == NULL);
    assert (s_report (rig, node, 304, now_ms + 2000, reason) == WEFT_STATUS_OK);
    assert (s_rpc (rig, admin, "admin", 3001, "attest.show", "{\"id\":\"dev-1\"}",
                   out, sizeof out) == 0);
    assert (strstr (out, "\"state\":\"fresh\"") && strstr (out, "\"passport\":\""));
    //  Overdue: quarantined again, and no passport to renew
    assert (s_report (rig, node, 305, now_ms + 15000, reason) == WEFT_STATUS_DENIED);
    assert (streq (reason, "dev-1 is quarantined (attestation overdue): report refused"));
    assert (s_heartbeat (rig, node, 306, now_ms, now_ms + 15000, &size) == NULL);
    coord_tick (rig->coord, now_ms + 15000 + COORD_FLUSH_MS);   //  The overdue alert
    txn = store_begin (rig->store, false);
    attest_status_t status;
    assert (attest_status (txn, "dev-1", device, rig->ca.sign_public, now_ms + 20000,
                           &status) == 0);
    store_abort (&txn);
    assert (status.state == ATTEST_OVERDUE && status.due_ms == now_ms + 15000);
    //  Cleared by an operator (at the RPC's clock): a "cleared" passport
    assert (s_rpc (rig, admin, "admin", 3002, "attest.clear", "{\"id\":\"dev-1\"}",
                   out, sizeof out) == 0);
    reply = s_heartbeat (rig, node, 307, now_ms - 1, now_ms + 1000, &size);
    assert (reply && envelope_decode (&env, reply, size) == 0 && env.type == MSG_PASSPORT);
    assert (passport_check (env.payload, env.payload_size, &holder, rig->ca.sign_public,
                            rig->keys.sign_public, now_ms + 1000, &passport, NULL, 0)
            == PASSPORT_OK);
    assert (passport.verdict == PASSPORT_CLEARED);
    free (reply);
    assert (s_report (rig, node, 308, now_ms + 1000, reason) == WEFT_STATUS_OK);
    json_decref (device);
}

void
coord_test (bool verbose)
{
    printf (" * coord: ");
    //  @selftest
    s_rig_t rig;
    memset (&rig, 0, sizeof rig);
    strcpy (rig.path, "/tmp/weft-coord-test-XXXXXX");
    assert (mkdtemp (rig.path));
    keys_generate (&rig.ca);
    keys_generate (&rig.keys);
    uint64_t now_ms = 1700000000000ULL;

    //  First start: the coordinator's certificate and an admin
    rig.store = store_new (rig.path, registry_tables (), 0);
    pki_t *pki = pki_new (&rig.ca);
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.kind = CERT_KIND_COORDINATOR;
    strcpy (cert.subject, COORD_ORIGIN);
    strcpy (cert.role, "coordinator");
    memcpy (cert.sign_key, rig.keys.sign_public, 32);
    memcpy (cert.curve_key, rig.keys.curve_public, 32);
    keys_t admin, viewer;
    keys_generate (&admin);
    keys_generate (&viewer);
    store_txn_t *txn = store_begin (rig.store, true);
    assert (pki_issue (pki, txn, &cert, now_ms / 1000, &rig.cert, &rig.cert_size) == 0);
    uint8_t *op_cert;
    size_t op_cert_size;
    uint64_t serial;
    char error [WEFT_TEXT_MAX + 1];
    assert (rpc_operator_create (pki, txn, "admin", "admin", "", admin.sign_public,
                                 admin.curve_public, true, now_ms / 1000, &op_cert,
                                 &op_cert_size, &serial, error) == 0);
    free (op_cert);
    assert (rpc_operator_create (pki, txn, "viv", "viewer", "", viewer.sign_public,
                                 viewer.curve_public, false, now_ms / 1000, &op_cert,
                                 &op_cert_size, &serial, error) == 0);
    free (op_cert);
    assert (store_commit (&txn) == 0);
    pki_destroy (&pki);
    store_destroy (&rig.store);
    s_rig_open (&rig);

    //  ZAP decisions
    char user [COORD_USER_ID_MAX + 1];
    keys_t node, stranger;
    keys_generate (&node);
    keys_generate (&stranger);
    assert (coord_admit (rig.coord, "rpc", "192.0.2.9", admin.curve_public,
                          1700000000000ULL, user));
    assert (streq (user, "admin"));
    assert (!coord_admit (rig.coord, "rpc", "192.0.2.9", stranger.curve_public,
                          1700000000000ULL, user));
    assert (!coord_admit (rig.coord, "mesh", "192.0.2.9", node.curve_public,
                          1700000000000ULL, user));
    assert (!coord_admit (rig.coord, "other", "192.0.2.9", admin.curve_public,
                          1700000000000ULL, user));

    //  Token, enrolment
    char out [4096];
    assert (s_rpc (&rig, &admin, "admin", 1, "token.create", "{\"tenant\":\"acme\"}",
                   out, sizeof out) == WEFT_STATUS_OK);
    json_error_t json_error;
    json_t *created = json_loads (out, 0, &json_error);
    char token [WEFT_TOKEN_MAX + 1];
    snprintf (token, sizeof token, "%s",
              json_string_value (json_object_get (created, "token")));
    json_decref (created);
    //  A store failure during enrolment leaves the token unused
    store_fail_after (rig.store, 1);
    assert (s_enrol (&rig, &node, "dev-1", token, out) == WEFT_STATUS_INTERNAL);
    store_fail_after (rig.store, 0);
    assert (!coord_admit (rig.coord, "mesh", "192.0.2.9", node.curve_public,
                          1700000000000ULL, user));
    assert (s_enrol (&rig, &node, "dev-1", token, out) == WEFT_STATUS_OK);
    assert (coord_admit (rig.coord, "mesh", "192.0.2.9", node.curve_public,
                          1700000000000ULL, user));
    assert (streq (user, "dev-1"));
    assert (s_enrol (&rig, &node, "dev-1", token, out) == WEFT_STATUS_OK);
    assert (streq (out, "already enrolled"));
    assert (s_enrol (&rig, &stranger, "dev-2", token, out) == WEFT_STATUS_DENIED);
    assert (streq (out, "token already used"));
    assert (coord_stats (rig.coord)->enrolments == 1);
    assert (coord_stats (rig.coord)->enrol_refused == 2);
    //  One audit record of the enrolment, by token, from the attempt
    //  that committed (the failed write left none)
    assert (s_rpc (&rig, &admin, "admin", 2, "audit.list",
                   "{\"query\":\"action=enrol and target=dev-1\"}", out, sizeof out) == 0);
    char *record = strstr (out, "\"method\":\"token\"");
    assert (record && !strstr (record + 1, "\"method\""));
    //  The enrol link's key must be the request's key
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_ENROL_REQUEST;
    strcpy (msg.enrol_request.token, token);
    memcpy (msg.enrol_request.sign_key, stranger.sign_public, 32);
    memcpy (msg.enrol_request.curve_key, stranger.curve_public, 32);
    size_t size;
    uint8_t *frame = s_envelope (&stranger, "dev-3", 1, &msg, &size);
    char link [65];
    keys_hex (node.curve_public, 32, link);
    uint8_t *reply;
    size_t reply_size;
    assert (coord_on_enrol (rig.coord, link, "192.0.2.9", frame, size, now_ms, &reply,
                            &reply_size) == 0);
    free (frame);
    msg_t answer;
    s_open_reply (&rig, reply, reply_size, MSG_ENROL_RESPONSE, &answer, NULL);
    assert (answer.enrol_response.status == WEFT_STATUS_DENIED);
    assert (streq (answer.enrol_response.message, "curve key does not match the connection"));
    free (reply);

    //  Twin set pushes at once; a heartbeat with an older version
    //  gets the document
    assert (s_rpc (&rig, &admin, "admin", 2, "twin.set",
                   "{\"id\":\"dev-1\",\"patch\":{\"led\":\"on\"}}", out, sizeof out) == 0);
    assert (rig.pushes == 1 && streq (rig.pushed_to, "dev-1"));
    assert (s_rpc (&rig, &viewer, "viv", 1, "twin.set",
                   "{\"id\":\"dev-1\",\"patch\":{\"led\":\"off\"}}", out, sizeof out)
            == WEFT_STATUS_FORBIDDEN);
    assert (streq (out, "role viewer may not call twin.set"));
    assert (rig.pushes == 1);

    memset (&msg, 0, sizeof msg);
    msg.type = MSG_HEARTBEAT;
    msg.heartbeat.desired_version = 0;
    frame = s_envelope (&node, "dev-1", 2, &msg, &size);
    assert (coord_on_mesh (rig.coord, "dev-1", frame, size, now_ms, &reply, &reply_size) == 0);
    s_open_reply (&rig, reply, reply_size, MSG_TWIN_DESIRED, &answer, NULL);
    assert (answer.twin_desired.version == 1);
    assert (streq (answer.twin_desired.device, "dev-1"));
    assert (answer.twin_desired.doc_size == strlen ("{\"led\":\"on\"}"));
    free (reply);
    //  Replayed heartbeat, wrong link, forged signature
    assert (coord_on_mesh (rig.coord, "dev-1", frame, size, now_ms, &reply, &reply_size)
        == PROTO_ERR_REFUSED);
    assert (coord_stats (rig.coord)->rejected_replay == 1);
    assert (coord_on_mesh (rig.coord, "dev-9", frame, size, now_ms, &reply, &reply_size)
        == PROTO_ERR_REFUSED);
    assert (coord_stats (rig.coord)->rejected_origin == 1);
    free (frame);
    frame = s_envelope (&stranger, "dev-1", 3, &msg, &size);
    assert (coord_on_mesh (rig.coord, "dev-1", frame, size, now_ms, &reply, &reply_size)
        == PROTO_ERR_REFUSED);
    assert (coord_stats (rig.coord)->rejected_signature == 1);
    free (frame);
    assert (coord_on_mesh (rig.coord, "dev-1", (const uint8_t *) "junk", 4, now_ms,
                           &reply, &reply_size) == PROTO_ERR_DROPPED);
    assert (coord_stats (rig.coord)->rejected_malformed == 1);
    //  Up to date: no reply
    msg.heartbeat.desired_version = 1;
    frame = s_envelope (&node, "dev-1", 4, &msg, &size);
    assert (coord_on_mesh (rig.coord, "dev-1", frame, size, now_ms, &reply, &reply_size) == 0);
    assert (reply == NULL);
    free (frame);
    //  The group commit makes heartbeat windows durable; a failed one
    //  leaves them pending for the next
    store_fail_after (rig.store, 1);
    assert (coord_commit (rig.coord) == -1);
    store_fail_after (rig.store, 0);
    assert (coord_commit (rig.coord) == 0);
    assert (coord_commit (rig.coord) == 0);        //  Nothing to write
    txn = store_begin (rig.store, false);
    size_t window_size;
    uint8_t *window_data = (uint8_t *) store_get (txn, "replay", "d/dev-1", 7, &window_size);
    store_abort (&txn);
    assert (window_data && window_size == 16);
    replay_t stored;
    replay_load (&stored, window_data);
    free (window_data);
    assert (stored.top == 4);

    //  Reported twin, ACK, retransmission re-acknowledged
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_TWIN_REPORTED;
    strcpy (msg.twin_reported.device, "dev-1");
    msg.twin_reported.version = 1;
    msg.twin_reported.desired_version = 1;
    msg.twin_reported.doc = "{\"led\":\"on\"}";
    msg.twin_reported.doc_size = strlen (msg.twin_reported.doc);
    strcpy (msg.twin_reported.status, "ok");
    frame = s_envelope (&node, "dev-1", 5, &msg, &size);
    for (int i = 0; i < 2; i++) {
        //  A report is one read-modify-write transaction: the device
        //  record, its attestation state, its twin and its metadata
        //  read and written in it, each record decoded once
        store_stats_t before_stats, after_stats;
        store_stats (rig.store, &before_stats);
        assert (coord_on_mesh (rig.coord, "dev-1", frame, size, now_ms, &reply,
                               &reply_size) == 0);
        store_stats (rig.store, &after_stats);
        if (verbose)
            printf ("\n   report: %d reads, %d writes, %d commits, %d decodes",
                    (int) (after_stats.reads - before_stats.reads),
                    (int) (after_stats.writes - before_stats.writes),
                    (int) (after_stats.commits - before_stats.commits),
                    (int) (after_stats.decodes - before_stats.decodes));
        assert (after_stats.reads == before_stats.reads);
        assert (after_stats.writes == before_stats.writes + 1);
        assert (after_stats.commits == before_stats.commits + (i == 0));
        assert (after_stats.decodes - before_stats.decodes <= 3);
        s_open_reply (&rig, reply, reply_size, MSG_ACK, &answer, NULL);
        assert (answer.ack.status == WEFT_STATUS_OK);
        free (reply);
    }
    free (frame);
    assert (coord_stats (rig.coord)->duplicates == 1);
    assert (s_rpc (&rig, &viewer, "viv", 2, "twin.get", "{\"id\":\"dev-1\"}",
                   out, sizeof out) == 0);
    json_t *twin = json_loads (out, 0, &json_error);
    assert (json_integer_value (json_object_get (twin, "reported_version")) == 1);
    assert (json_integer_value (json_object_get (twin, "applied_version")) == 1);
    assert (streq (json_string_value (json_object_get (twin, "status")), "ok"));
    json_decref (twin);
    assert (s_rpc (&rig, &viewer, "viv", 3, "device.list", "{}", out, sizeof out) == 0);
    assert (strstr (out, "\"online\":true"));
    //  Reported twin of another device: refused with an ACK that ends
    //  the device's retransmissions
    strcpy (msg.twin_reported.device, "dev-2");
    frame = s_envelope (&node, "dev-1", 6, &msg, &size);
    assert (coord_on_mesh (rig.coord, "dev-1", frame, size, now_ms, &reply, &reply_size) == 0);
    s_open_reply (&rig, reply, reply_size, MSG_ACK, &answer, NULL);
    assert (answer.ack.status == WEFT_STATUS_DENIED);
    assert (streq (answer.ack.message, "report names device dev-2, not its origin dev-1"));
    free (reply);
    free (frame);

    //  Replay after a restart: the window was saved with the effect
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_RPC_REQUEST;
    strcpy (msg.rpc_request.method, "device.list");
    msg.rpc_request.args = "{}";
    msg.rpc_request.args_size = 2;
    frame = s_envelope (&admin, "admin", 1000, &msg, &size);
    uint64_t seq_before, seq_after;
    assert (coord_on_rpc (rig.coord, "admin", "192.0.2.9", frame, size, now_ms, &reply,
                          &reply_size) == 0);
    s_open_reply (&rig, reply, reply_size, MSG_RPC_REPLY, &answer, &seq_before);
    assert (answer.rpc_reply.status == WEFT_STATUS_OK);
    free (reply);
    s_rig_close (&rig);
    s_rig_open (&rig);
    assert (coord_on_rpc (rig.coord, "admin", "192.0.2.9", frame, size, now_ms, &reply,
                          &reply_size) == 0);
    s_open_reply (&rig, reply, reply_size, MSG_RPC_REPLY, &answer, &seq_after);
    assert (answer.rpc_reply.status == WEFT_STATUS_DENIED);
    assert (streq (answer.rpc_reply.error, "replayed request"));
    assert (coord_stats (rig.coord)->rejected_replay == 1);
    //  Our own numbers never repeat across the restart
    assert (seq_after > seq_before);
    free (reply);
    //  A read-only call runs in a read transaction; its refusal is still
    //  in the audit log, and the chain and signed head still verify
    assert (s_rpc (&rig, &viewer, "viv", 5, "device.show", "{\"id\":\"nope-7\"}",
                   out, sizeof out) == WEFT_STATUS_NOT_FOUND);
    assert (s_rpc (&rig, &admin, "admin", 1001, "audit.list",
                   "{\"query\":\"actor=viv and action=device.show and target=nope-7\"}",
                   out, sizeof out) == 0);
    assert (strstr (out, "\"status\":\"NOT_FOUND\""));
    assert (s_rpc (&rig, &admin, "admin", 1002, "audit.verify", "{}", out, sizeof out) == 0);
    assert (strstr (out, "\"intact\":true"));
    //  The identity is the link's: an envelope from admin on viv's link
    assert (coord_on_rpc (rig.coord, "viv", "192.0.2.9", frame, size, now_ms, &reply,
                          &reply_size) == 0);
    s_open_reply (&rig, reply, reply_size, MSG_RPC_REPLY, &answer, NULL);
    assert (answer.rpc_reply.status == WEFT_STATUS_DENIED);
    assert (streq (answer.rpc_reply.error, "origin admin is not the operator of this connection"));
    assert (answer.rpc_reply.result_size == 4 && memcmp (answer.rpc_reply.result, "null", 4) == 0);
    free (reply);
    assert (coord_stats (rig.coord)->rejected_origin == 1);
    free (frame);
    //  Heartbeat windows flushed by the destroy survive too
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_HEARTBEAT;
    frame = s_envelope (&node, "dev-1", 4, &msg, &size);
    assert (coord_on_mesh (rig.coord, "dev-1", frame, size, now_ms, &reply, &reply_size)
        == PROTO_ERR_REFUSED);
    free (frame);
    //  Online only once it speaks again; last_seen kept
    assert (s_rpc (&rig, &viewer, "viv", 4, "device.show", "{\"id\":\"dev-1\"}",
                   out, sizeof out) == 0);
    assert (strstr (out, "\"online\":false"));
    assert (strstr (out, "\"last_seen\":1700000000"));
    assert (s_rpc (&rig, &admin, "admin", 1001, "coord.stats", "{}", out, sizeof out) == 0);
    if (verbose)
        printf ("\n   stats %s\n   ", out);
    assert (strstr (out, "\"devices\":1"));

    //  Timer
    coord_tick (rig.coord, now_ms);
    assert (coord_deadline (rig.coord) == now_ms + COORD_FLUSH_MS);

    //  Custody of a frame sent through a relay: in flight there, it is
    //  not sent again while the relay's connection lives; the relay
    //  linking again makes it go at once, through the push effect (the
    //  same frame); INTERNAL (the relay could not commit it) makes it go
    //  again after the back-off, until a CUSTODY_ACK names its id
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_HEARTBEAT;
    frame = s_envelope (&rig.keys, COORD_ORIGIN, 77, &msg, &size);
    envelope_t sent;
    assert (envelope_decode (&sent, frame, size) == 0);
    coord_sent_custody (rig.coord, "dev-2", "dev-1", true, frame, size, now_ms);
    coord_sent_custody (rig.coord, "dev-2", "dev-1", true, frame, size, now_ms);  //  Held once
    coord_sent_custody (rig.coord, "dev-2", "dev-1", true, (const uint8_t *) "junk", 4, now_ms);
    assert (coord_stats (rig.coord)->custody_held == 1);
    assert (coord_stats (rig.coord)->custody_resent == 1);
    assert (coord_deadline (rig.coord) == now_ms + COORD_FLUSH_MS);
    snprintf (rig.relay, sizeof rig.relay, "dev-1");
    int pushes = rig.pushes;
    coord_tick (rig.coord, now_ms + 4999);
    assert (rig.pushes == pushes);
    //  Its relay linked again: due at once
    coord_relay_linked (rig.coord, "dev-1", now_ms + 1200);
    assert (coord_deadline (rig.coord) == now_ms + 1200);
    rig.now_ms = now_ms + 1200;
    coord_tick (rig.coord, now_ms + 1200);
    assert (rig.pushes == pushes + 1 && streq (rig.pushed_to, "dev-2"));
    assert (coord_stats (rig.coord)->custody_resent == 2);
    for (int status = WEFT_STATUS_INTERNAL; ; status = WEFT_STATUS_OK) {
        size_t ack_size;
        uint8_t *ack_frame = s_custody_ack (&node, "dev-1", sent.id, status, "",
                                            (now_ms << 16) + (uint64_t) status, &ack_size);
        assert (coord_on_mesh (rig.coord, "dev-1", ack_frame, ack_size, now_ms + 1500,
                               &reply, &reply_size) == 0);
        assert (reply == NULL);
        free (ack_frame);
        if (status == WEFT_STATUS_OK)
            break;
        assert (coord_stats (rig.coord)->custody_held == 1);
        coord_tick (rig.coord, now_ms + 1500 + 999);
        assert (rig.pushes == pushes + 1);
        rig.now_ms = now_ms + 1500 + 1000;
        coord_tick (rig.coord, now_ms + 1500 + 1000);
        assert (rig.pushes == pushes + 2 && coord_stats (rig.coord)->custody_resent == 3);
    }
    rig.relay [0] = 0;
    assert (coord_stats (rig.coord)->custody_held == 0);
    assert (coord_stats (rig.coord)->custody_acked == 1);
    assert (coord_deadline (rig.coord) == now_ms + COORD_FLUSH_MS);
    free (frame);
    //  A relay refuses one for good: our custody ends too, counted as
    //  refused, not as acknowledged
    frame = s_envelope (&rig.keys, COORD_ORIGIN, 80, &msg, &size);
    assert (envelope_decode (&sent, frame, size) == 0);
    coord_sent_custody (rig.coord, "dev-2", "dev-1", true, frame, size, now_ms);
    assert (coord_stats (rig.coord)->custody_held == 1);
    size_t refusal_size;
    uint8_t *refusal = s_custody_ack (&node, "dev-1", sent.id, WEFT_STATUS_DENIED,
                                      "quarantined", (now_ms << 16) + 10, &refusal_size);
    assert (coord_on_mesh (rig.coord, "dev-1", refusal, refusal_size, now_ms, &reply,
                           &reply_size) == 0);
    free (refusal);
    assert (coord_stats (rig.coord)->custody_held == 0);
    assert (coord_stats (rig.coord)->custody_refused == 1);
    assert (coord_stats (rig.coord)->custody_acked == 1);
    free (frame);

    //  Sent to the device itself: only a TWIN_DESIRED is held, and the
    //  device's own ACK of it (by envelope id) releases it
    frame = s_envelope (&rig.keys, COORD_ORIGIN, 78, &msg, &size);    //  A heartbeat
    coord_sent_custody (rig.coord, "dev-1", "dev-1", true, frame, size, now_ms);
    assert (coord_stats (rig.coord)->custody_held == 0);
    free (frame);
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_TWIN_DESIRED;
    strcpy (msg.twin_desired.device, "dev-1");
    msg.twin_desired.version = 2;
    msg.twin_desired.doc = "{}";
    msg.twin_desired.doc_size = 2;
    frame = s_envelope (&rig.keys, COORD_ORIGIN, 79, &msg, &size);
    assert (envelope_decode (&sent, frame, size) == 0);
    coord_sent_custody (rig.coord, "dev-1", "dev-1", true, frame, size, now_ms);
    assert (coord_stats (rig.coord)->custody_held == 1);
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_ACK;
    memcpy (msg.ack.ack_id, sent.id, WEFT_ID_SIZE);
    msg.ack.status = WEFT_STATUS_OK;
    size_t ack_size;
    uint8_t *ack_frame = s_envelope (&node, "dev-1", 100, &msg, &ack_size);
    assert (coord_on_mesh (rig.coord, "dev-1", ack_frame, ack_size, now_ms, &reply,
                           &reply_size) == 0);
    free (ack_frame);
    assert (coord_stats (rig.coord)->custody_held == 0);
    assert (coord_stats (rig.coord)->custody_acked == 2);
    //  ... and its refusal ends it too
    coord_sent_custody (rig.coord, "dev-1", "dev-1", true, frame, size, now_ms);
    assert (coord_stats (rig.coord)->custody_held == 1);
    msg.ack.status = WEFT_STATUS_DENIED;
    strcpy (msg.ack.message, "TWIN_DESIRED for dev-2, not for dev-1");
    ack_frame = s_envelope (&node, "dev-1", 101, &msg, &ack_size);
    assert (coord_on_mesh (rig.coord, "dev-1", ack_frame, ack_size, now_ms, &reply,
                           &reply_size) == 0);
    free (ack_frame);
    assert (coord_stats (rig.coord)->custody_held == 0);
    assert (coord_stats (rig.coord)->custody_refused == 2);
    free (frame);
    s_test_software (&rig, &node, now_ms);
    s_test_fresh_attestation (&rig, &admin, &node, now_ms);

    //  Refusals before any method ran are in the audit log with the
    //  peer address: the replay and the envelope on another's link above,
    //  and a revoked operator's call on a connection that outlived ZAP
    assert (s_rpc (&rig, &admin, "admin", 2001, "audit.list",
                   "{\"query\":\"status=DENIED and action=device.list\"}",
                   out, sizeof out) == 0);
    assert (strstr (out, "\"error\":\"replayed request\"")
         && strstr (out, "\"source\":\"192.0.2.9\""));
    assert (s_rpc (&rig, &admin, "admin", 2002, "audit.list",
                   "{\"query\":\"actor=viv and action=rpc\"}", out, sizeof out) == 0);
    assert (strstr (out, "origin admin is not the operator of this connection"));
    assert (s_rpc (&rig, &admin, "admin", 2003, "operator.revoke", "{\"name\":\"viv\"}",
                   out, sizeof out) == 0);
    uint64_t origin_before = coord_stats (rig.coord)->rejected_origin;
    assert (s_rpc (&rig, &viewer, "viv", 2004, "twin.set",
                   "{\"id\":\"dev-1\",\"patch\":{\"a\":1}}", out, sizeof out)
            == WEFT_STATUS_DENIED);
    assert (streq (out, "operator revoked"));
    assert (coord_stats (rig.coord)->rejected_origin == origin_before + 1);
    assert (s_rpc (&rig, &admin, "admin", 2005, "audit.list",
                   "{\"query\":\"actor=viv and action=twin.set and status=DENIED\"}",
                   out, sizeof out) == 0);
    assert (strstr (out, "\"error\":\"operator revoked\""));
    //  ... and so is its next connection, which ZAP refuses
    assert (!coord_admit (rig.coord, "rpc", "192.0.2.10", viewer.curve_public,
                          1700000000000ULL, user));
    assert (s_rpc (&rig, &admin, "admin", 2006, "audit.list",
                   "{\"query\":\"actor=viv and action=connect\"}", out, sizeof out) == 0);
    assert (strstr (out, "\"source\":\"192.0.2.10\""));

    s_rig_close (&rig);
    free (rig.cert);
    keys_wipe (&rig.ca);
    keys_wipe (&rig.keys);
    keys_wipe (&admin);
    keys_wipe (&viewer);
    keys_wipe (&node);
    keys_wipe (&stranger);
    zdir_t *dir = zdir_new (rig.path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
