/*  oplocal - operator requests a node serves on its own
    Every refusal is recorded in the node's durable log (node/core/
    oplog.h) with the peer address. Only requests that passed every check
    take a slot
    in the replay table, so an unauthenticated peer cannot fill it; a
    full table refuses new requests until slots expire (a minute at
    most), which bounds memory and the rate per node.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/envelope.h"
#include "proto/seal.h"
#include "proto/msg.h"
#include "proto/opcred.h"
#include "node/core/oplog.h"
#include "node/core/oplocal.h"

//  Methods a node serves, and the role each needs on the node's place
static const struct {
    const char *name;
    const char *role;
} s_methods [] = {
    { "node.stats", "viewer" },
    { "node.audit", "auditor" },    //  The refusals recorded here (oplog.h)
    { "node.bundle.put", "operator" },
    { "node.bundle.import", "operator" },
    { "node.bundle.status", "viewer" },
    { NULL, NULL }
};

typedef struct {
    uint8_t id [WEFT_ID_SIZE];
    uint64_t expiry;                //  Unix ms; 0 = free slot
} s_seen_t;

struct _oplocal_t {
    char name [WEFT_NAME_MAX + 1];
    char tenant [WEFT_NAME_MAX + 1];
    char path [CERT_PATH_MAX + 1];
    keys_t keys;
    uint8_t ca_key [WEFT_KEY_SIZE];
    oplocal_call_fn *call;
    void *ctx;
    s_seen_t seen [OPLOCAL_IDS_MAX];    //  Accepted request ids until expiry
    uint64_t seq;                   //  Of our replies
    oplocal_stats_t stats;
    oplog_t *log;                   //  Refusals, durable; NULL without a store
    //  The request being answered, for the log
    const char *peer;               //  Its peer address
    char actor [WEFT_NAME_MAX + 1]; //  Its origin (as claimed until verified)
    char method [WEFT_NAME_MAX + 1];
};

oplocal_t *
oplocal_new (const oplocal_config_t *config, oplocal_call_fn *call, void *ctx)
{
    assert (config && config->name && config->tenant && config->keys && config->ca_key);
    assert (call);
    oplocal_t *self = (oplocal_t *) zmalloc (sizeof (oplocal_t));
    snprintf (self->name, sizeof self->name, "%s", config->name);
    snprintf (self->tenant, sizeof self->tenant, "%s", config->tenant);
    snprintf (self->path, sizeof self->path, "%s", config->path? config->path: "");
    self->keys = *config->keys;
    memcpy (self->ca_key, config->ca_key, WEFT_KEY_SIZE);
    self->call = call;
    self->ctx = ctx;
    if (config->store) {
        self->log = oplog_new (config->store, 0);
        if (!self->log)
            zsys_error ("oplocal: cannot open the log of refusals");
    }
    return self;
}

void
oplocal_destroy (oplocal_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        oplocal_t *self = *self_p;
        keys_wipe (&self->keys);
        oplog_destroy (&self->log);
        free (self);
        *self_p = NULL;
    }
}

const oplocal_stats_t *
oplocal_stats (oplocal_t *self)
{
    assert (self);
    return &self->stats;
}

//  Sign an RPC_REPLY to the request. Returns 0 or PROTO_ERR_INTERNAL.
static int
s_reply (oplocal_t *self, const envelope_t *request, int status, const char *error,
         const char *result, uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p)
{
    if (status == WEFT_STATUS_OK)
        self->stats.accepted++;
    else {
        self->stats.refused++;
        zsys_info ("oplocal: request from %s at %s refused: %s", request->origin,
                   *self->peer? self->peer: "?", error);
        if (self->log)
            oplog_refused (self->log, now_ms, self->peer, self->actor, self->method, status,
                           error);
    }
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_RPC_REPLY;
    memcpy (msg.rpc_reply.request_id, request->id, WEFT_ID_SIZE);
    msg.rpc_reply.status = status;
    snprintf (msg.rpc_reply.error, sizeof msg.rpc_reply.error, "%s", error);
    //  A refusal's result is always null, as the coordinator's
    msg.rpc_reply.result = status != WEFT_STATUS_OK? "null": result? result: "{}";
    msg.rpc_reply.result_size = strlen (msg.rpc_reply.result);
    uint8_t *payload;
    size_t payload_size;
    if (msg_encode (&msg, &payload, &payload_size))
        return PROTO_ERR_INTERNAL;
    //  Replies are matched by request id, not by a window: a seq that
    //  grows with the clock serves; no expiry for the same reason
    self->seq = now_ms * 1000 > self->seq? now_ms * 1000: self->seq + 1;
    envelope_head_t head = { .type = MSG_RPC_REPLY, .origin = self->name,
                             .tenant = self->tenant, .seq = self->seq,
                             .hlc = now_ms << 16, .hop_limit = 1 };
    int rc = envelope_seal (&head, payload, payload_size, self->keys.sign_secret, NULL,
                            reply_p, reply_size_p);
    free (payload);
    return rc? PROTO_ERR_INTERNAL: 0;
}

//  Record an accepted id; false if seen before or no slot is free
static int
s_remember (oplocal_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t expiry, uint64_t now_ms)
{
    s_seen_t *free_slot = NULL;
    for (size_t i = 0; i < OPLOCAL_IDS_MAX; i++) {
        s_seen_t *slot = &self->seen [i];
        if (slot->expiry && slot->expiry < now_ms)
            slot->expiry = 0;
        if (slot->expiry && memcmp (slot->id, id, WEFT_ID_SIZE) == 0)
            return WEFT_STATUS_DENIED;
        if (!slot->expiry && !free_slot)
            free_slot = slot;
    }
    if (!free_slot)
        return WEFT_STATUS_INTERNAL;
    memcpy (free_slot->id, id, WEFT_ID_SIZE);
    free_slot->expiry = expiry;
    return WEFT_STATUS_OK;
}

//  --------------------------------------------------------------------------
//  Handle one request.

//  node.audit {limit?}: the newest refusals recorded here
static int
s_audit_list (oplocal_t *self, const envelope_t *env, const msg_t *msg, uint64_t now_ms,
              uint8_t **reply_p, size_t *reply_size_p)
{
    json_error_t error;
    json_t *args = msg->rpc_request.args_size
                 ? json_loadb (msg->rpc_request.args, msg->rpc_request.args_size, 0, &error)
                 : json_object ();
    json_t *limit = json_object_get (args, "limit");
    bool valid = json_is_object (args) && json_object_size (args) <= (limit? 1: 0)
              && (!limit || (json_is_integer (limit) && json_integer_value (limit) >= 1
                             && json_integer_value (limit) <= OPLOG_LIST_MAX));
    size_t count = limit? (size_t) json_integer_value (limit): 100;
    json_decref (args);
    if (!valid) {
        char reason [WEFT_TEXT_MAX + 1];
        snprintf (reason, sizeof reason, "node.audit takes {limit?} of 1..%d", OPLOG_LIST_MAX);
        return s_reply (self, env, WEFT_STATUS_BAD_REQUEST, reason, NULL, now_ms, reply_p,
                        reply_size_p);
    }
    json_t *records = self->log? oplog_list (self->log, count): NULL;
    if (!records)
        return s_reply (self, env, WEFT_STATUS_INTERNAL, "no log of refusals here", NULL,
                        now_ms, reply_p, reply_size_p);
    json_t *result = json_pack ("{s:s, s:o}", "node", self->name, "records", records);
    char *text = json_dumps (result, JSON_COMPACT);
    json_decref (result);
    int rc = text? s_reply (self, env, WEFT_STATUS_OK, "", text, now_ms, reply_p, reply_size_p)
                 : s_reply (self, env, WEFT_STATUS_INTERNAL, "no answer", NULL, now_ms,
                            reply_p, reply_size_p);
    free (text);
    return rc;
}

int
oplocal_on_request (oplocal_t *self, const uint8_t link_key [WEFT_KEY_SIZE],
                    const char *peer, const uint8_t *frame, size_t size, uint64_t now_ms,
                    const uint8_t *revoked, size_t revoked_count,
                    uint8_t **reply_p, size_t *reply_size_p)
{
    assert (self && link_key && reply_p && reply_size_p);
    *reply_p = NULL;
    *reply_size_p = 0;
    self->peer = peer? peer: "";
    snprintf (self->actor, sizeof self->actor, "?");
    snprintf (self->method, sizeof self->method, "rpc");
    envelope_t env;
    if (!frame || envelope_decode (&env, frame, size)) {
        self->stats.refused++;
        if (self->log)
            oplog_refused (self->log, now_ms, self->peer, self->actor, self->method,
                           WEFT_STATUS_BAD_REQUEST, "not a request envelope");
        return PROTO_ERR_DROPPED;   //  Not an envelope: nothing to answer
    }
    snprintf (self->actor, sizeof self->actor, "%s", env.origin);
    if (env.type != MSG_RPC_REQUEST)
        return s_reply (self, &env, WEFT_STATUS_BAD_REQUEST, "the operator port takes "
                        "RPC_REQUEST only", NULL, now_ms, reply_p, reply_size_p);
    msg_t msg;
    if (msg_decode (&msg, MSG_RPC_REQUEST, env.payload, env.payload_size))
        return s_reply (self, &env, WEFT_STATUS_BAD_REQUEST, "malformed request", NULL,
                        now_ms, reply_p, reply_size_p);
    snprintf (self->method, sizeof self->method, "%s", msg.rpc_request.method);
    if (msg.rpc_request.credential_size == 0)
        return s_reply (self, &env, WEFT_STATUS_DENIED,
                        "no operator credential: a site server authorises operators by "
                        "their credential (weftctl operator credential)", NULL,
                        now_ms, reply_p, reply_size_p);
    cert_t cred;
    char reason [WEFT_TEXT_MAX + 1];
    int verdict = opcred_verify (&cred, msg.rpc_request.credential,
                                 msg.rpc_request.credential_size, self->ca_key,
                                 now_ms / 1000, revoked, revoked_count, reason);
    if (verdict != OPCRED_OK)
        return s_reply (self, &env, verdict == OPCRED_EXPIRED || verdict == OPCRED_NOT_YET_VALID
                        ? WEFT_STATUS_EXPIRED: WEFT_STATUS_DENIED, reason, NULL,
                        now_ms, reply_p, reply_size_p);
    //  A copied credential is useless without its keys: the link proves
    //  the CURVE key, the envelope signature the signing key
    if (sodium_memcmp (cred.curve_key, link_key, WEFT_KEY_SIZE) != 0) {
        snprintf (reason, sizeof reason,
                  "the credential of %s is not for this connection's key", cred.subject);
        return s_reply (self, &env, WEFT_STATUS_DENIED, reason, NULL, now_ms, reply_p,
                        reply_size_p);
    }
    if (strcmp (env.origin, cred.subject) != 0 || envelope_verify (&env, cred.sign_key)) {
        snprintf (reason, sizeof reason,
                  "request not signed by %s, the credential's operator", cred.subject);
        return s_reply (self, &env, WEFT_STATUS_DENIED, reason, NULL, now_ms, reply_p,
                        reply_size_p);
    }
    //  The coordinator's rule (nonces.h): now < expiry <= now + 60 s
    if (env.expiry == 0 || env.expiry > now_ms + OPLOCAL_TTL_MAX_MS)
        return s_reply (self, &env, WEFT_STATUS_EXPIRED, "request must expire within 60 s",
                        NULL, now_ms, reply_p, reply_size_p);
    if (env.expiry <= now_ms)
        return s_reply (self, &env, WEFT_STATUS_EXPIRED, "request expired", NULL,
                        now_ms, reply_p, reply_size_p);
    size_t index = 0;
    while (s_methods [index].name && strcmp (s_methods [index].name, msg.rpc_request.method))
        index++;
    if (!s_methods [index].name) {
        snprintf (reason, sizeof reason, "unknown method %.64s (a site server offline "
                  "serves node.stats, node.audit and node.bundle.put, import and status)",
                  msg.rpc_request.method);
        return s_reply (self, &env, WEFT_STATUS_BAD_REQUEST, reason, NULL, now_ms,
                        reply_p, reply_size_p);
    }
    if (opcred_may (&cred, s_methods [index].role, self->tenant, self->path, reason))
        return s_reply (self, &env, WEFT_STATUS_FORBIDDEN, reason, NULL, now_ms,
                        reply_p, reply_size_p);
    int fresh = s_remember (self, env.id, env.expiry, now_ms);
    if (fresh != WEFT_STATUS_OK)
        return s_reply (self, &env, WEFT_STATUS_DENIED,
                        fresh == WEFT_STATUS_DENIED? "replayed request"
                        : "too many requests in the last minute", NULL,
                        now_ms, reply_p, reply_size_p);
    if (streq (s_methods [index].name, "node.audit"))
        return s_audit_list (self, &env, &msg, now_ms, reply_p, reply_size_p);
    char *result = NULL;
    *reason = 0;
    int status = self->call (self->ctx, s_methods [index].name, msg.rpc_request.args,
                             msg.rpc_request.args_size, &result, reason);
    if (status == WEFT_STATUS_OK && !result) {
        status = WEFT_STATUS_INTERNAL;
        snprintf (reason, sizeof reason, "no answer");
    }
    int rc = s_reply (self, &env, status, status == WEFT_STATUS_OK? "": reason, result, now_ms,
                      reply_p, reply_size_p);
    free (result);
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest

#define T_NOW_MS    1767225600000ULL

static int
s_test_call (void *ctx, const char *method, const char *args, size_t args_size,
             char **result_p, char reason [WEFT_TEXT_MAX + 1])
{
    (*(int *) ctx)++;
    if (streq (method, "node.bundle.put") && (args_size == 0 || *args != '{')) {
        snprintf (reason, WEFT_TEXT_MAX + 1, "arguments must be an object");
        return WEFT_STATUS_BAD_REQUEST;
    }
    *result_p = strdup ("{\"hops\":1}");
    return WEFT_STATUS_OK;
}

typedef struct {
    keys_t ca;
    keys_t keys;
    uint8_t *cred;
    size_t cred_size;
} s_op_t;

//  An operator with one grant, credential signed by signer
static void
s_op_make (s_op_t *op, const keys_t *signer, const char *name, const char *role,
           const char *path, uint64_t not_after_s)
{
    keys_generate (&op->keys);
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.serial = 9;
    cert.kind = CERT_KIND_OPERATOR;
    snprintf (cert.subject, sizeof cert.subject, "%s", name);
    snprintf (cert.role, sizeof cert.role, "%s", role);
    memcpy (cert.sign_key, op->keys.sign_public, WEFT_KEY_SIZE);
    memcpy (cert.curve_key, op->keys.curve_public, WEFT_KEY_SIZE);
    cert.not_before = T_NOW_MS / 1000 - 300;
    cert.not_after = not_after_s;
    cert.grant_count = 1;
    snprintf (cert.grants [0].role, sizeof cert.grants [0].role, "%s", role);
    snprintf (cert.grants [0].path, sizeof cert.grants [0].path, "%s", path);
    int rc = cert_encode (&cert, signer->sign_secret, &op->cred, &op->cred_size);
    assert (rc == 0);
}

//  A request from op, signed by signer; id byte fill
static void
s_request (const s_op_t *op, const keys_t *signer, const char *origin, const char *method,
           bool with_cred, uint64_t expiry, uint8_t fill, uint8_t **frame_p, size_t *size_p)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_RPC_REQUEST;
    snprintf (msg.rpc_request.method, sizeof msg.rpc_request.method, "%s", method);
    msg.rpc_request.args = "{}";
    msg.rpc_request.args_size = 2;
    if (with_cred) {
        msg.rpc_request.credential = op->cred;
        msg.rpc_request.credential_size = op->cred_size;
    }
    uint8_t *payload;
    size_t payload_size;
    int rc = msg_encode (&msg, &payload, &payload_size);
    assert (rc == 0);
    envelope_t env;
    memset (&env, 0, sizeof env);
    memset (env.id, fill, sizeof env.id);
    env.type = MSG_RPC_REQUEST;
    snprintf (env.origin, sizeof env.origin, "%s", origin);
    env.seq = 1;
    env.hlc = T_NOW_MS << 16;
    env.expiry = expiry;
    env.hop_limit = env.hops = 1;
    env.payload = payload;
    env.payload_size = payload_size;
    rc = envelope_encode (&env, signer->sign_secret, frame_p, size_p);
    assert (rc == 0);
    free (payload);
}

//  Send a request, return the reply's status and error
static int
s_ask (oplocal_t *local, const keys_t *node, const uint8_t *link_key, uint8_t *frame,
       size_t size, const uint8_t *revoked, size_t revoked_count, char *error, uint64_t now_ms)
{
    uint8_t *reply;
    size_t reply_size;
    int rc = oplocal_on_request (local, link_key, "192.0.2.5", frame, size, now_ms, revoked,
                                 revoked_count,
                                 &reply, &reply_size);
    free (frame);
    if (rc)
        return -1;
    envelope_t env;
    msg_t msg;
    rc = envelope_decode (&env, reply, reply_size);
    assert (rc == 0 && env.type == MSG_RPC_REPLY);
    assert (envelope_verify (&env, node->sign_public) == 0);
    assert (strcmp (env.origin, "server-1") == 0);
    rc = msg_decode (&msg, MSG_RPC_REPLY, env.payload, env.payload_size);
    assert (rc == 0);
    strcpy (error, msg.rpc_reply.error);
    int status = msg.rpc_reply.status;
    if (status == WEFT_STATUS_OK && strncmp (msg.rpc_reply.result, "{\"node\"", 7))
        assert (msg.rpc_reply.result_size == 10
                && memcmp (msg.rpc_reply.result, "{\"hops\":1}", 10) == 0);
    else
    if (status == WEFT_STATUS_OK)
        snprintf (error, WEFT_TEXT_MAX + 1, "%.*s", (int) msg.rpc_reply.result_size,
                  msg.rpc_reply.result);
    else
        assert (msg.rpc_reply.result_size == 4
                && memcmp (msg.rpc_reply.result, "null", 4) == 0);
    assert (env.expiry == 0);
    free (reply);
    return status;
}

void
oplocal_test (bool verbose)
{
    printf (" * oplocal: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    keys_t ca, rogue, node;
    keys_generate (&ca);
    keys_generate (&rogue);
    keys_generate (&node);
    int reads = 0;
    char path [] = "/tmp/weft-oplocal-test-XXXXXX";
    assert (mkdtemp (path));
    const char *tables [] = { OPLOG_TABLE, NULL };
    store_t *store = store_new (path, tables, 0);
    assert (store);
    oplocal_config_t config = { "server-1", "acme", "acme/plant-2", &node, ca.sign_public,
                                store };
    oplocal_t *local = oplocal_new (&config, s_test_call, &reads);
    const uint64_t valid = T_NOW_MS / 1000 + 3600;
    const uint64_t expiry = T_NOW_MS + 30000;
    s_op_t vera, ola, gus, eve, rex, mal;
    s_op_make (&vera, &ca, "vera", "viewer", "acme/plant-2", valid);
    s_op_make (&ola, &ca, "ola", "admin", "acme/plant-1", valid);
    s_op_make (&gus, &ca, "gus", "admin", "globex", valid);
    s_op_make (&eve, &ca, "eve", "viewer", "acme", T_NOW_MS / 1000 - 1);
    s_op_make (&rex, &ca, "rex", "viewer", "acme/plant-2", valid);
    s_op_make (&mal, &rogue, "mal", "admin", "", valid);
    uint8_t revoked [2 * WEFT_KEY_SIZE];
    memcpy (revoked, ola.keys.sign_public, WEFT_KEY_SIZE);
    memcpy (revoked + WEFT_KEY_SIZE, rex.keys.curve_public, WEFT_KEY_SIZE);
    char error [WEFT_TEXT_MAX + 1];
    uint8_t *frame;
    size_t size;
#   define ASK(op, signer, origin, method, cred, exp, fill, link) \
        (s_request (&op, &signer, origin, method, cred, exp, fill, &frame, &size), \
         s_ask (local, &node, link, frame, size, revoked, 2, error, T_NOW_MS))

    //  Granted on the node's site: served
    assert (ASK (vera, vera.keys, "vera", "node.stats", true, expiry, 1, vera.keys.curve_public)
            == WEFT_STATUS_OK);
    assert (reads == 1 && *error == 0);
    //  The same request again: a replay
    assert (ASK (vera, vera.keys, "vera", "node.stats", true, expiry, 1, vera.keys.curve_public)
            == WEFT_STATUS_DENIED);
    assert (streq (error, "replayed request"));
    //  Another subtree, another tenant
    assert (ASK (ola, ola.keys, "ola", "node.stats", true, expiry, 2, ola.keys.curve_public)
            == WEFT_STATUS_FORBIDDEN);
    if (verbose)
        printf ("   %s\n", error);
    assert (streq (error, "ola holds no grant of viewer on acme/plant-2"));
    assert (ASK (gus, gus.keys, "gus", "node.stats", true, expiry, 3, gus.keys.curve_public)
            == WEFT_STATUS_FORBIDDEN);
    assert (streq (error, "gus holds no grant of viewer on acme/plant-2"));
    //  A bundle brought on site: an operator of the node's place may
    //  upload and import it, a viewer only follow it, and an admin of
    //  another tenant neither
    s_op_t otto;
    s_op_make (&otto, &ca, "otto", "operator", "acme/plant-2", valid);
    assert (ASK (vera, vera.keys, "vera", "node.bundle.put", true, expiry, 40,
                 vera.keys.curve_public) == WEFT_STATUS_FORBIDDEN);
    assert (streq (error, "vera holds no grant of operator on acme/plant-2"));
    assert (ASK (vera, vera.keys, "vera", "node.bundle.status", true, expiry, 41,
                 vera.keys.curve_public) == WEFT_STATUS_OK);
    assert (ASK (gus, gus.keys, "gus", "node.bundle.import", true, expiry, 42,
                 gus.keys.curve_public) == WEFT_STATUS_FORBIDDEN);
    assert (streq (error, "gus holds no grant of operator on acme/plant-2"));
    int before = reads;
    assert (ASK (otto, otto.keys, "otto", "node.bundle.put", true, expiry, 43,
                 otto.keys.curve_public) == WEFT_STATUS_OK);
    assert (ASK (otto, otto.keys, "otto", "node.bundle.import", true, expiry, 44,
                 otto.keys.curve_public) == WEFT_STATUS_OK);
    assert (reads == before + 2);
    free (otto.cred);
    //  Expired, revoked, forged credentials
    assert (ASK (eve, eve.keys, "eve", "node.stats", true, expiry, 4, eve.keys.curve_public)
            == WEFT_STATUS_EXPIRED);
    assert (strstr (error, "credential of eve expired at"));
    assert (ASK (rex, rex.keys, "rex", "node.stats", true, expiry, 5, rex.keys.curve_public)
            == WEFT_STATUS_DENIED);
    assert (streq (error, "credential of rex is revoked"));
    assert (ASK (mal, mal.keys, "mal", "node.stats", true, expiry, 6, mal.keys.curve_public)
            == WEFT_STATUS_DENIED);
    assert (streq (error, "credential not signed by the deployment CA"));
    //  Someone else's credential: over another link, or signed by another key
    assert (ASK (vera, vera.keys, "vera", "node.stats", true, expiry, 7, ola.keys.curve_public)
            == WEFT_STATUS_DENIED);
    assert (streq (error, "the credential of vera is not for this connection's key"));
    assert (ASK (vera, ola.keys, "vera", "node.stats", true, expiry, 8, vera.keys.curve_public)
            == WEFT_STATUS_DENIED);
    assert (streq (error, "request not signed by vera, the credential's operator"));
    assert (ASK (vera, vera.keys, "ola", "node.stats", true, expiry, 9, vera.keys.curve_public)
            == WEFT_STATUS_DENIED);
    //  No credential, an unknown method, a stale or far expiry
    assert (ASK (vera, vera.keys, "vera", "node.stats", false, expiry, 10, vera.keys.curve_public)
            == WEFT_STATUS_DENIED);
    assert (strstr (error, "no operator credential"));
    assert (ASK (vera, vera.keys, "vera", "device.list", true, expiry, 11, vera.keys.curve_public)
            == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (error, "unknown method device.list"));
    assert (ASK (vera, vera.keys, "vera", "node.stats", true, T_NOW_MS - 1, 12,
                 vera.keys.curve_public) == WEFT_STATUS_EXPIRED);
    assert (streq (error, "request expired"));
    assert (ASK (vera, vera.keys, "vera", "node.stats", true, T_NOW_MS + 60001, 13,
                 vera.keys.curve_public) == WEFT_STATUS_EXPIRED);
    assert (streq (error, "request must expire within 60 s"));
    //  The bounds, as the coordinator's: expiry now is expired, none is
    //  refused (now + 60 s, the latest accepted, is below)
    assert (ASK (vera, vera.keys, "vera", "node.stats", true, T_NOW_MS, 16,
                 vera.keys.curve_public) == WEFT_STATUS_EXPIRED);
    assert (streq (error, "request expired"));
    assert (ASK (vera, vera.keys, "vera", "node.stats", true, 0, 17,
                 vera.keys.curve_public) == WEFT_STATUS_EXPIRED);
    assert (streq (error, "request must expire within 60 s"));

    assert (reads == 4);         //  vera's stats and bundle status, otto's put and import
    //  Another type: answered; not an envelope: dropped unanswered
    {
        s_request (&vera, &vera.keys, "vera", "node.stats", true, expiry, 19, &frame, &size);
        envelope_t env;
        assert (envelope_decode (&env, frame, size) == 0);
        env.type = MSG_HEARTBEAT;
        uint8_t *other;
        size_t other_size;
        assert (envelope_encode (&env, vera.keys.sign_secret, &other, &other_size) == 0);
        free (frame);
        assert (s_ask (local, &node, vera.keys.curve_public, other, other_size, NULL, 0,
                       error, T_NOW_MS) == WEFT_STATUS_BAD_REQUEST);
        assert (streq (error, "the operator port takes RPC_REQUEST only"));
    }
    uint8_t *reply;
    size_t reply_size;
    assert (oplocal_on_request (local, vera.keys.curve_public, "192.0.2.6",
                                (const uint8_t *) "\x90", 1, T_NOW_MS, NULL, 0, &reply,
                                &reply_size) == PROTO_ERR_DROPPED);
    assert (reply == NULL);



    //  The replay table: full, then free again once requests expired
    const int taken = reads;        //  Each request served took a slot
    for (int i = 0; i < OPLOCAL_IDS_MAX - taken; i++) {
        s_request (&vera, &vera.keys, "vera", "node.stats", true, expiry, 0, &frame, &size);
        //  A distinct id each: re-sign with the id set (env and msg
        //  borrow from the first frame until it is re-encoded)
        envelope_t env;
        assert (envelope_decode (&env, frame, size) == 0);
        msg_t msg;
        assert (msg_decode (&msg, MSG_RPC_REQUEST, env.payload, env.payload_size) == 0);
        uint8_t *payload;
        size_t payload_size;
        assert (msg_encode (&msg, &payload, &payload_size) == 0);
        env.payload = payload;
        env.payload_size = payload_size;
        memset (env.id, 0, sizeof env.id);
        memcpy (env.id, &i, sizeof i);
        env.id [15] = 0xee;
        uint8_t *first = frame;
        assert (envelope_encode (&env, vera.keys.sign_secret, &frame, &size) == 0);
        free (first);
        free (payload);
        assert (s_ask (local, &node, vera.keys.curve_public, frame, size, NULL, 0, error,
                       T_NOW_MS) == WEFT_STATUS_OK);
    }
    assert (ASK (vera, vera.keys, "vera", "node.stats", true, expiry, 14, vera.keys.curve_public)
            == WEFT_STATUS_DENIED);
    assert (streq (error, "too many requests in the last minute"));
    s_request (&vera, &vera.keys, "vera", "node.stats", true, T_NOW_MS + 40000, 15, &frame, &size);
    assert (s_ask (local, &node, vera.keys.curve_public, frame, size, NULL, 0, error,
                   T_NOW_MS + 30001) == WEFT_STATUS_OK);
    s_request (&vera, &vera.keys, "vera", "node.stats", true, T_NOW_MS + 30001 + 60000, 18,
               &frame, &size);
    assert (s_ask (local, &node, vera.keys.curve_public, frame, size, NULL, 0, error,
                   T_NOW_MS + 30001) == WEFT_STATUS_OK);
    assert (oplocal_stats (local)->accepted == OPLOCAL_IDS_MAX + 2);

    //  Every refusal is in the node's log, with the peer address; an
    //  auditor of the place reads it (a viewer may not)
    s_op_t aude;
    s_op_make (&aude, &ca, "aude", "auditor", "acme/plant-2", valid);
    uint64_t later = T_NOW_MS + 30002;
    s_request (&vera, &vera.keys, "vera", "node.audit", true, later + 10000, 16, &frame, &size);
    assert (s_ask (local, &node, vera.keys.curve_public, frame, size, revoked, 2, error, later)
            == WEFT_STATUS_FORBIDDEN);
    s_request (&aude, &aude.keys, "aude", "node.audit", true, later + 10000, 17, &frame, &size);
    assert (oplocal_on_request (local, aude.keys.curve_public, "192.0.2.5", frame, size,
                                later, revoked, 2, &reply, &reply_size) == 0);
    free (frame);
    envelope_t answer_env;
    msg_t answer;
    assert (envelope_decode (&answer_env, reply, reply_size) == 0);
    assert (msg_decode (&answer, MSG_RPC_REPLY, answer_env.payload,
                        answer_env.payload_size) == 0);
    assert (answer.rpc_reply.status == WEFT_STATUS_OK);
    json_error_t json_error;
    json_t *log = json_loadb (answer.rpc_reply.result, answer.rpc_reply.result_size, 0,
                              &json_error);
    free (reply);
    json_t *records = json_object_get (log, "records");
    assert (streq (json_string_value (json_object_get (log, "node")), "server-1"));
    assert (json_array_size (records) == 21);     //  Every refusal above
    json_t *newest = json_array_get (records, 0);
    assert (streq (json_string_value (json_object_get (newest, "actor")), "vera"));
    assert (streq (json_string_value (json_object_get (newest, "action")), "node.audit"));
    assert (streq (json_string_value (json_object_get (newest, "status")), "FORBIDDEN"));
    assert (streq (json_string_value (json_object_get (newest, "source")), "192.0.2.5"));
    assert (streq (json_string_value (json_object_get (json_array_get (records, 1), "error")),
                   "too many requests in the last minute"));
    json_t *garbage = json_array_get (records, 2);
    assert (streq (json_string_value (json_object_get (garbage, "error")),
                   "not a request envelope"));
    assert (streq (json_string_value (json_object_get (garbage, "source")), "192.0.2.6"));
    json_t *revoked_one = json_array_get (records, 14);
    assert (streq (json_string_value (json_object_get (revoked_one, "error")),
                   "credential of rex is revoked"));
    json_decref (log);
    free (aude.cred);
    keys_wipe (&aude.keys);
#   undef ASK

    s_op_t *ops [] = { &vera, &ola, &gus, &eve, &rex, &mal };
    for (size_t i = 0; i < sizeof ops / sizeof ops [0]; i++) {
        free (ops [i]->cred);
        keys_wipe (&ops [i]->keys);
    }
    oplocal_destroy (&local);
    oplocal_destroy (&local);
    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    keys_wipe (&ca);
    keys_wipe (&rogue);
    keys_wipe (&node);
    //  @end
    printf ("OK\n");
}
