/*  coord - the coordinator's core: envelopes in, envelopes out
    Transactions are never nested: LMDB has one writer, and sealing a
    reply may itself write (sequence reservation), so replies are built
    only after the message's transaction has committed or aborted.
    Every accepted envelope's replay window is durable before anything
    outside the process sees its effect: in the same transaction as its
    durable effect (twin report, enrolment, RPC call), or, for heartbeats
    and ACKs, in the group commit (coord_commit) that precedes sending
    their replies. A replay is refused after a crash as well.
    Liveness (last_seen) changes on every heartbeat and is written in
    batches by coord_tick instead.
    This file holds the life cycle, the sealing of our envelopes, the RPC
    dispatch and the ZAP decision; enrolment, the mesh side and the lists
    we gossip have files of their own (coord_internal.h).  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/replay.h"
#include "proto/updmsg.h"
#include "coordinator/core/rpc.h"
#include "coordinator/core/nonces.h"
#include "coordinator/core/audit.h"
#include "coordinator/core/enrolment.h"
#include "coordinator/core/coord_internal.h"

//  Gossip effect: a policy payload to a node linked to us, sealed as
//  ours and sent by the push effect (not custody: never relayed)
static int
s_gossip_send (void *ctx, const char *link, int type, const uint8_t *payload, size_t size)
{
    coord_t *self = (coord_t *) ctx;
    uint8_t *frame;
    size_t frame_size;
    if (!self->effects.push
    ||  coord_seal_payload (self, NULL, type, payload, size, self->now_ms, &frame, &frame_size))
        return -1;
    self->effects.push (self->effects.ctx, link, frame, frame_size);
    free (frame);
    return 0;
}

//  --------------------------------------------------------------------------
//  Create the core.

coord_t *
coord_new (store_t *store, const keys_t *ca, const keys_t *keys,
           const uint8_t *cert, size_t cert_size, const coord_effects_t *effects)
{
    assert (store && ca && keys && cert);
    //  This run's epoch of per-device seqs, above all earlier ones
    coordseq_t *seqs = coordseq_new (store, COORDSEQ_LIMIT);
    if (!seqs)
        return NULL;

    registry_t *registry = registry_new (store);
    if (!registry) {
        coordseq_destroy (&seqs);
        return NULL;
    }
    coord_t *self = (coord_t *) zmalloc (sizeof (coord_t));
    self->store = store;
    self->registry = registry;
    self->pki = pki_new (ca);
    self->keys = *keys;
    self->cert = (uint8_t *) zmalloc (cert_size);
    memcpy (self->cert, cert, cert_size);
    self->cert_size = cert_size;
    if (effects)
        self->effects = *effects;
    self->seqs = seqs;
    self->mesh_info = json_object ();
    //  Frames held before a restart wait for their relays to link again
    self->custody = custody_new (store, NULL, &self->stats);
    int held = custody_load (self->custody, 0);
    if (held < 0)
        zsys_warning ("coord: cannot read the frames held in custody");
    else
    if (held > 0)
        zsys_info ("coord: %d frames held in custody from the last run", held);
    self->refusals = refusals_new ();
    self->aks = akcache_new ();
    self->imas = attest_runtime_new ();
    self->repo = artrepo_new (store);
    if (!self->repo)
        zsys_warning ("coord: cannot read the artifact repository's chunks");
    //  A database from before signed audit heads gets its head signed
    store_txn_t *txn = store_begin (store, true);
    if (!txn || audit_sign_head (txn, self->pki) || store_commit (&txn))
        zsys_warning ("coord: cannot sign the audit head");
    store_abort (&txn);
    //  ... and one from before the index of EKs enrolled by certificate
    //  gets it (once), so that none of them can be pre-registered
    txn = store_begin (store, true);
    if (!txn || enrolment_tpm_index (txn) || store_commit (&txn))
        zsys_warning ("coord: cannot index the EKs enrolled by certificate");
    store_abort (&txn);
    coord_revocations_build (self, 0);
    coord_quarantine_build (self, 0);
    self->policies = policy_store_new (store, PUBLISH_TABLE, "", ca->sign_public);
    if (policy_store_load (self->policies) < 0)
        zsys_warning ("coord: cannot read the policy store");
    gossip_config_t gossip_config = { self->policies, COORD_GOSSIP_MS, COORD_GOSSIP_LINKS,
                                      true, false };
    gossip_effects_t gossip_effects = { self, s_gossip_send };
    self->gossip = gossip_new (&gossip_config, &gossip_effects);
    //  Policies set before they were published (or by an older release)
    publish_policies (store, self->pki, self->policies, self->gossip, 0);
    return self;
}

//  --------------------------------------------------------------------------
//  Flush and free.

void
coord_destroy (coord_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        coord_t *self = *self_p;
        registry_destroy (&self->registry);
        pki_destroy (&self->pki);
        keys_wipe (&self->keys);
        json_decref (self->mesh_info);
        gossip_destroy (&self->gossip);
        custody_destroy (&self->custody);
        refusals_destroy (&self->refusals);
        akcache_destroy (&self->aks);
        attest_runtime_destroy (&self->imas);
        artrepo_destroy (&self->repo);
        policy_store_destroy (&self->policies);
        coordseq_destroy (&self->seqs);
        free (self->revocations);
        free (self->quarantine);
        free (self->cert);
        free (self);
        *self_p = NULL;
    }
}

void
coord_abandon (coord_t **self_p)
{
    assert (self_p);
    if (*self_p)
        registry_discard ((*self_p)->registry);
    coord_destroy (self_p);
}

void
coord_set_verbose (coord_t *self, bool verbose)
{
    assert (self);
    self->verbose = verbose;
}

void
coord_set_heartbeat (coord_t *self, uint64_t heartbeat_ms)
{
    assert (self);
    registry_set_online_ms (self->registry, 3 * heartbeat_ms);
    custody_set_heartbeat (self->custody, heartbeat_ms);
}

void
coord_count_malformed (coord_t *self)
{
    assert (self);
    self->stats.rejected_malformed++;
}

const coord_stats_t *
coord_stats (coord_t *self)
{
    assert (self);
    return &self->stats;
}

uint64_t
coord_deadline (coord_t *self)
{
    assert (self);
    uint64_t retry = custody_deadline (self->custody);
    return retry && retry < self->next_flush? retry: self->next_flush;
}

void
coord_sent_custody (coord_t *self, const char *dest, const char *relay, bool sent,
                    const uint8_t *frame, size_t size, uint64_t now_ms)
{
    assert (self && frame);
    //  To the device itself: only a TWIN_DESIRED, an UPDATE_OFFER or a
    //  SOFTWARE_ORDER is held, until the device's own ACK of it (nothing
    //  else of ours is acknowledged end to end); with no route, only an
    //  UPDATE_OFFER or a SOFTWARE_ORDER waits for one (a device fetches
    //  its desired twin at check-in)
    envelope_t env;
    bool routed = relay && *relay;
    bool decoded = envelope_decode (&env, frame, size) == 0;
    bool held = decoded && (env.type == MSG_UPDATE_OFFER || env.type == MSG_SITE_DIRECTIVE
                            || env.type == MSG_SOFTWARE_ORDER
                            || (routed && env.type == MSG_TWIN_DESIRED));
    if (dest && (!routed || streq (dest, relay)) && !held) {
        //  Not held, but a newer seq to the device: what is held for it
        //  (after a restart, from an earlier epoch) may be superseded
        if (dest && envelope_decode (&env, frame, size) == 0 && replay_windowed (env.type))
            custody_note_seq (self->custody, dest, env.seq);
        return;
    }
    int rc = custody_sent (self->custody, dest, relay, sent, frame, size, now_ms);
    if (rc == 1)
        zsys_warning ("coord: a frame for %s is not held: over the custody budget "
                      "(%d frames, %u bytes per device)", dest, CUSTODY_PER_DEST,
                      CUSTODY_DEST_BYTES);
    else
    if (rc)
        coord_debug (self, "coord: no custody of a frame for %s via %s (not an envelope)",
                     dest? dest: "?", relay? relay: "?");
}

void
coord_relay_linked (coord_t *self, const char *relay, uint64_t now_ms)
{
    assert (self);
    size_t woken = custody_wake (self->custody, relay, now_ms);
    if (woken)
        coord_debug (self, "coord: %s linked again: %zu frames through it due now", relay, woken);
}

void
coord_route_up (coord_t *self, const char *device, uint64_t now_ms)
{
    assert (self);
    size_t woken = custody_wake_dest (self->custody, device, now_ms);
    if (woken)
        coord_debug (self, "coord: a route to %s: %zu frames for it due now", device, woken);
}

void
coord_tick (coord_t *self, uint64_t now_ms)
{
    assert (self);
    //  Retransmit what a link passed over, what was in flight on a link
    //  that came back, a probe: the same envelope, through the device's
    //  current route (the adapter's; it tells custody where it went, and
    //  with none the frame waits for a route)
    //  Each entry at most once a tick, whatever the effect says
    const custody_entry_t *entry;
    size_t budget = custody_size (self->custody);
    while (self->effects.push && budget-- && (entry = custody_due (self->custody, now_ms))) {
        coord_debug (self, "coord: retransmitting to %s (send %u)", entry->dest,
                 entry->sends + 1);
        size_t size;
        uint8_t *frame = custody_frame (self->custody, entry, &size);
        if (frame)
            self->effects.push (self->effects.ctx, entry->dest, frame, size);
        custody_settle (self->custody, entry);
        free (frame);
    }
    if (custody_flush (self->custody))
        zsys_warning ("coord: the frames held in custody are not on disk yet");
    if (now_ms < self->next_flush)
        return;
    self->now_ms = now_ms;
    coord_audit_refusal (self, now_ms, NULL);      //  A quiet source's summary too
    gossip_tick (self->gossip, now_ms);
    coord_overdue_sweep (self, now_ms);
    coord_campaign_sweep (self, now_ms);
    if (registry_dirty (self->registry))
        registry_flush (self->registry);
    self->next_flush = now_ms + COORD_FLUSH_MS;
}

//  --------------------------------------------------------------------------
//  Sign and encode one of our envelopes.

int
coord_seal (coord_t *self, const char *dest, const msg_t *msg, uint64_t now_ms,
            uint8_t **frame_p, size_t *size_p)
{
    assert (self && msg);
    *frame_p = NULL;
    uint8_t *payload;
    size_t payload_size;
    int rc = msg_encode (msg, &payload, &payload_size);
    if (rc) {
        zsys_error ("coord: cannot encode %s: %s", proto_msg_name (msg->type),
                    proto_strerror (rc));
        return -1;
    }
    rc = coord_seal_payload (self, dest, msg->type, payload, payload_size, now_ms,
                             frame_p, size_p);
    free (payload);
    return rc;
}

//  Seal the desired document of a device.
int
coord_seal_desired (coord_t *self, const char *id, json_t *twin, uint64_t now_ms,
                    uint8_t **frame_p, size_t *size_p)
{
    char *doc = registry_dump (json_object_get (twin, "desired"));
    if (!doc)
        return -1;
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_TWIN_DESIRED;
    snprintf (msg.twin_desired.device, sizeof msg.twin_desired.device, "%s", id);
    msg.twin_desired.version = json_integer_value (json_object_get (twin, "desired_version"));
    msg.twin_desired.doc = doc;
    msg.twin_desired.doc_size = strlen (doc);
    int rc = coord_seal (self, id, &msg, now_ms, frame_p, size_p);
    free (doc);
    return rc;
}

bool
coord_envelope_expired (coord_t *self, const envelope_t *env, uint64_t now_ms)
{
    if (env->expiry && env->expiry <= now_ms) {
        self->stats.rejected_expired++;
        coord_debug (self, "coord: expired %s from %s", proto_msg_name (env->type), env->origin);
        return true;
    }
    return false;
}

//  --------------------------------------------------------------------------
//  Refusals in the audit log

void
coord_audit_refusal (coord_t *self, uint64_t now_ms, const audit_entry_t *entry)
{
    assert (self);
    json_t *held = refusals_roll (self->refusals, now_ms);
    bool admit = entry && refusals_admit (self->refusals, entry->source? entry->source: "");
    if (entry && !admit)
        self->stats.audit_refusals_held++;
    if (!held && !admit)
        return;
    store_txn_t *txn = store_begin (self->store, true);
    int rc = txn? 0: -1;
    const char *source;
    json_t *count;
    json_object_foreach (held, source, count) {
        json_t *detail = json_pack ("{s:O, s:i}", "refusals", count,
                                    "window_s", REFUSALS_WINDOW_MS / 1000);
        audit_entry_t summary = { COORD_ORIGIN, "audit.held", "", source, WEFT_STATUS_DENIED,
                                  detail, source, NULL };
        if (rc == 0)
            rc = audit_append (txn, self->pki, now_ms, &summary);
        json_decref (detail);
    }
    if (rc == 0 && admit)
        rc = audit_append (txn, self->pki, now_ms, entry);
    if (rc == 0)
        rc = store_commit (&txn);
    store_abort (&txn);
    json_decref (held);
    if (rc)
        zsys_error ("coord: cannot record a refusal in the audit log");
}

//  Hex key field of a record into key; -1 if missing or bad.
int
coord_record_key (json_t *record, const char *field, uint8_t key [32])
{
    const char *hex = json_string_value (json_object_get (record, field));
    return hex? keys_unhex (hex, key, 32): -1;
}

//  Sign and encode one of our envelopes around an encoded payload.

int
coord_seal_payload (coord_t *self, const char *dest, int type, const uint8_t *payload,
                    size_t payload_size, uint64_t now_ms, uint8_t **frame_p, size_t *size_p)
{
    assert (self && payload);
    *frame_p = NULL;
    uint64_t seq = coordseq_next (self->seqs, dest);
    if (seq == 0)
        return -1;
    envelope_head_t head = { .type = type, .origin = COORD_ORIGIN, .seq = seq,
                             .hlc = hlc_next (&self->hlc, now_ms),
                             .hop_limit = WEFT_HOP_LIMIT };
    int rc = envelope_seal (&head, payload, payload_size, self->keys.sign_secret, NULL,
                            frame_p, size_p);
    if (rc)
        zsys_error ("coord: cannot seal %s: %s", proto_msg_name (type), proto_strerror (rc));
    return rc? -1: 0;
}

//  Seal an ACK of env to its origin, end to end (status, message)
int
coord_ack (coord_t *self, const envelope_t *env, int status, const char *message,
           uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_ACK;
    memcpy (msg.ack.ack_id, env->id, WEFT_ID_SIZE);
    msg.ack.status = status;
    snprintf (msg.ack.message, sizeof msg.ack.message, "%s", message);
    return coord_seal (self, env->origin, &msg, now_ms, reply_p, reply_size_p)
         ? PROTO_ERR_INTERNAL: 0;
}

//  The offers of an update.assign that committed: sealed to each device
//  and sent by custody (the push effect; coord_sent_custody holds them
//  until the device or its relay acknowledges)
void
coord_send_offers (coord_t *self, director_batch_t *batch, uint64_t now_ms)
{
    size_t count = director_batch_size (batch);
    for (size_t i = 0; i < count; i++) {
        const char *device;
        size_t size, payload_size = 0, frame_size = 0;
        uint8_t *metadata = director_batch_offer (batch, i, &device, &size);
        updmsg_t msg = { .type = MSG_UPDATE_OFFER, .metadata = metadata,
                         .metadata_size = size };
        uint8_t *payload = NULL, *frame = NULL;
        if (updmsg_encode (&msg, &payload, &payload_size) == 0
        &&  coord_seal_payload (self, device, MSG_UPDATE_OFFER, payload, payload_size, now_ms,
                                &frame, &frame_size) == 0) {
            if (self->effects.push)
                self->effects.push (self->effects.ctx, device, frame, frame_size);
            self->stats.update_offers++;
        }
        else
            zsys_error ("coord: cannot seal the update offer to %s", device);
        free (frame);
        free (payload);
        free (metadata);
    }
}

void
coord_send_orders (coord_t *self, zlistx_t *orders, uint64_t now_ms)
{
    for (zframe_t *frame = orders? (zframe_t *) zlistx_first (orders): NULL; frame;
         frame = (zframe_t *) zlistx_next (orders)) {
        const char *device = (const char *) zframe_data (frame);
        size_t skip = strlen (device) + 1;
        updmsg_t msg = { .type = MSG_SOFTWARE_ORDER, .order = zframe_data (frame) + skip,
                         .order_size = zframe_size (frame) - skip };
        uint8_t *payload = NULL, *sealed = NULL;
        size_t payload_size = 0, sealed_size = 0;
        if (updmsg_encode (&msg, &payload, &payload_size) == 0
        &&  coord_seal_payload (self, device, MSG_SOFTWARE_ORDER, payload, payload_size,
                                now_ms, &sealed, &sealed_size) == 0) {
            if (self->effects.push)
                self->effects.push (self->effects.ctx, device, sealed, sealed_size);
        }
        else
            zsys_error ("coord: cannot seal the software order to %s", device);
        free (sealed);
        free (payload);
    }
}

//  A link-local envelope of ours (hop limit 1, seq = its HLC, as the
//  nodes' link-local messages)
int
coord_seal_local (coord_t *self, int type, const uint8_t *payload, size_t payload_size,
                  uint64_t now_ms, uint8_t **frame_p, size_t *size_p)
{
    assert (self && payload);
    *frame_p = NULL;
    uint64_t hlc = hlc_next (&self->hlc, now_ms);
    envelope_head_t head = { .type = type, .origin = COORD_ORIGIN, .seq = hlc, .hlc = hlc,
                             .hop_limit = 1 };
    int rc = envelope_seal (&head, payload, payload_size, self->keys.sign_secret, NULL,
                            frame_p, size_p);
    if (rc)
        zsys_error ("coord: cannot seal %s: %s", proto_msg_name (type), proto_strerror (rc));
    return rc? -1: 0;
}

//  device.list and device.show also tell the mesh view: hops, counters
static void
s_add_mesh_info (coord_t *self, const char *method, json_t *result)
{
    if (!result)
        return;
    if (streq (method, "device.list")) {
        size_t index;
        json_t *device;
        json_array_foreach (json_object_get (result, "devices"), index, device) {
            json_t *info = json_object_get (self->mesh_info,
                json_string_value (json_object_get (device, "id"))?: "");
            json_object_set (device, "hops", info? json_object_get (info, "hops"): json_integer (0));
        }
    }
    else
    if (streq (method, "device.show")) {
        json_t *info = json_object_get (self->mesh_info,
            json_string_value (json_object_get (result, "id"))?: "");
        json_t *hops = info? json_object_get (info, "hops"): NULL;
        json_object_set_new (result, "hops", hops? json_incref (hops): json_integer (0));
        json_t *stats = info? json_object_get (info, "stats"): NULL;
        json_object_set_new (result, "mesh", stats? json_incref (stats): json_object ());
    }
}

//  --------------------------------------------------------------------------
//  RPC socket

static int
s_rpc_reply (coord_t *self, const envelope_t *env, int status, const char *error,
             json_t *result, uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p)
{
    //  A refusal's result is always null; a success's an object
    char *text = result && status == WEFT_STATUS_OK? registry_dump (result): NULL;
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_RPC_REPLY;
    memcpy (msg.rpc_reply.request_id, env->id, WEFT_ID_SIZE);
    msg.rpc_reply.status = status;
    snprintf (msg.rpc_reply.error, sizeof msg.rpc_reply.error, "%s", error);
    msg.rpc_reply.result = text? text: status == WEFT_STATUS_OK? "{}": "null";
    msg.rpc_reply.result_size = strlen (msg.rpc_reply.result);
    int rc = coord_seal (self, NULL, &msg, now_ms, reply_p, reply_size_p);
    if (rc && status == WEFT_STATUS_OK) {
        //  Most likely a result over the frame limits
        msg.rpc_reply.status = WEFT_STATUS_INTERNAL;
        snprintf (msg.rpc_reply.error, sizeof msg.rpc_reply.error, "result too large");
        msg.rpc_reply.result = "null";
        msg.rpc_reply.result_size = 4;
        rc = coord_seal (self, NULL, &msg, now_ms, reply_p, reply_size_p);
    }
    free (text);
    return rc? PROTO_ERR_INTERNAL: 0;
}

//  Record a refused request (coord_audit_refusal) with its reason, the
//  request id if known, and the method asked for as its action
static void
s_rpc_refused (coord_t *self, uint64_t now_ms, audit_entry_t *entry, const envelope_t *env,
               int status, const char *reason)
{
    json_t *detail = json_pack ("{s:s}", "error", reason);
    if (env) {
        char id [2 * WEFT_ID_SIZE + 1];
        envelope_id_hex (env->id, id);
        json_object_set_new (detail, "request", json_string (id));
    }
    entry->status = status;
    entry->detail = detail;
    coord_audit_refusal (self, now_ms, entry);
    entry->detail = NULL;
    json_decref (detail);
}

//  Refuse an operator's request: recorded (s_rpc_refused) and answered
//  with an RPC_REPLY saying why
static int
s_rpc_refuse (coord_t *self, uint64_t now_ms, audit_entry_t *entry, const envelope_t *env,
              int status, const char *reason, uint8_t **reply_p, size_t *reply_size_p)
{
    s_rpc_refused (self, now_ms, entry, env, status, reason);
    return s_rpc_reply (self, env, status, reason, NULL, now_ms, reply_p, reply_size_p);
}

int
coord_on_rpc (coord_t *self, const char *user_id, const char *peer, const uint8_t *frame,
              size_t size, uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p)
{
    assert (self && reply_p && reply_size_p);
    *reply_p = NULL;
    //  Every refusal is recorded, as the link's operator's (ZAP named it),
    //  with the peer address, in its tenant's audit chain too; and only
    //  bytes that are no envelope go unanswered: every refusal of an
    //  envelope is an RPC_REPLY to its id, on the operator's own
    //  (CURVE-authenticated) connection, saying why
    char tenant [WEFT_NAME_MAX + 1] = "";
    char method [WEFT_NAME_MAX + 1] = "rpc";
    audit_entry_t refusal = { user_id? user_id: "?", method, "", "", 0, NULL, peer, tenant };
    envelope_t env;
    if (envelope_decode (&env, frame, size)) {
        self->stats.rejected_malformed++;
        s_rpc_refused (self, now_ms, &refusal, NULL, WEFT_STATUS_BAD_REQUEST,
                       "undecodable envelope");
        return PROTO_ERR_DROPPED;
    }
    char why [WEFT_TEXT_MAX + 1];
    if (!user_id || !streq (env.origin, user_id)) {
        self->stats.rejected_origin++;
        snprintf (why, sizeof why, "origin %s is not the operator of this connection",
                  env.origin);
        return s_rpc_refuse (self, now_ms, &refusal, &env, WEFT_STATUS_DENIED, why,
                             reply_p, reply_size_p);
    }
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return s_rpc_reply (self, &env, WEFT_STATUS_INTERNAL, "store unavailable", NULL,
                            now_ms, reply_p, reply_size_p);
    json_t *op = registry_operator_get (txn, env.origin);
    store_abort (&txn);
    snprintf (tenant, sizeof tenant, "%s", json_string_value (json_object_get (op, "tenant"))?: "");
    uint8_t sign_key [32];
    rpc_caller_t caller;
    bool known = op && coord_record_key (op, "sign_key", sign_key) == 0;
    //  A revoked operator's open connection outlives ZAP: refuse it here
    bool op_revoked = known && json_is_true (json_object_get (op, "revoked"));
    if (known && !op_revoked)
        rpc_caller_load (&caller, env.origin, op);      //  Grants from the record
    json_decref (op);
    if (!known) {
        self->stats.rejected_origin++;
        return s_rpc_refuse (self, now_ms, &refusal, &env, WEFT_STATUS_DENIED,
                             "unknown operator", reply_p, reply_size_p);
    }
    if (envelope_verify (&env, sign_key)) {
        self->stats.rejected_signature++;
        coord_debug (self, "coord: bad signature from operator %s", env.origin);
        return s_rpc_refuse (self, now_ms, &refusal, &env, WEFT_STATUS_DENIED,
                             "signature does not verify with the operator's key",
                             reply_p, reply_size_p);
    }
    msg_t msg;
    int decoded = env.type == MSG_RPC_REQUEST
                ? msg_decode (&msg, MSG_RPC_REQUEST, env.payload, env.payload_size): -1;
    if (decoded == 0)
        snprintf (method, sizeof method, "%s", msg.rpc_request.method);
    if (op_revoked) {
        self->stats.rejected_origin++;
        coord_debug (self, "coord: %s from revoked operator %s refused", method, env.origin);
        return s_rpc_refuse (self, now_ms, &refusal, &env, WEFT_STATUS_DENIED,
                             "operator revoked", reply_p, reply_size_p);
    }
    if (env.type != MSG_RPC_REQUEST) {
        self->stats.rejected_malformed++;
        snprintf (why, sizeof why, "%s on the operator socket, which takes RPC_REQUEST only",
                  proto_msg_name (env.type)? proto_msg_name (env.type): "unknown message type");
        return s_rpc_refuse (self, now_ms, &refusal, &env, WEFT_STATUS_BAD_REQUEST, why,
                             reply_p, reply_size_p);
    }
    if (decoded) {
        self->stats.rejected_malformed++;
        return s_rpc_refuse (self, now_ms, &refusal, &env, WEFT_STATUS_BAD_REQUEST,
                             "malformed request", reply_p, reply_size_p);
    }
    if (coord_envelope_expired (self, &env, now_ms))
        return s_rpc_refuse (self, now_ms, &refusal, &env, WEFT_STATUS_EXPIRED,
                             "request expired", reply_p, reply_size_p);

    txn = store_begin (self->store, true);
    if (!txn)
        return s_rpc_reply (self, &env, WEFT_STATUS_INTERNAL, "store unavailable",
                            NULL, now_ms, reply_p, reply_size_p);
    //  Operators are refused replays by request id and expiry (nonces.h),
    //  recorded with the call's effect
    nonces_status_t fresh = nonces_check (txn, env.origin, env.id, env.expiry, now_ms);
    if (fresh != NONCES_OK) {
        store_abort (&txn);
        if (fresh == NONCES_REPLAY)
            self->stats.rejected_replay++;
        else
        if (fresh == NONCES_NO_EXPIRY)
            self->stats.rejected_expired++;
        coord_debug (self, "coord: request from %s refused: %d", env.origin, fresh);
        int status = fresh == NONCES_REPLAY? WEFT_STATUS_DENIED
                   : fresh == NONCES_NO_EXPIRY? WEFT_STATUS_EXPIRED
                   : fresh == NONCES_FULL? WEFT_STATUS_DENIED: WEFT_STATUS_INTERNAL;
        const char *reason = fresh == NONCES_REPLAY? "replayed request"
                           : fresh == NONCES_NO_EXPIRY? "request must expire within 60 s"
                           : fresh == NONCES_FULL? "too many requests in the last minute"
                           : "store unavailable";
        if (status != WEFT_STATUS_INTERNAL)
            s_rpc_refused (self, now_ms, &refusal, &env, status, reason);
        return s_rpc_reply (self, &env, status, reason, NULL, now_ms, reply_p, reply_size_p);
    }
    snprintf (caller.source, sizeof caller.source, "%s", peer? peer: "");
    self->stats.rpc_calls++;
    rpc_env_t rpc_env = { self->registry, self->pki, self->keys.curve_public, &self->stats,
                          self->keys.sign_secret, self->repo };
    rpc_result_t result;
    memset (&result, 0, sizeof result);
    int rc = 0;
    if (rpc_is_read (msg.rpc_request.method)) {
        //  The request id is durable before the query runs, so a replay
        //  is refused exactly; the query then reads in a read
        //  transaction and never holds LMDB's single writer
        rc = store_commit (&txn);
        store_txn_t *read = rc == 0? store_begin (self->store, false): NULL;
        if (read)
            rpc_call_read (&rpc_env, read, &caller, msg.rpc_request.method,
                           msg.rpc_request.args, msg.rpc_request.args_size, now_ms, &result);
        else
            rc = -1;
        store_abort (&read);
        if (rc == 0 && result.audit) {
            //  A refusal is recorded in a short write transaction of its own
            txn = store_begin (self->store, true);
            rc = txn? rpc_audit_deferred (&rpc_env, txn, &caller, msg.rpc_request.method,
                                          &result, now_ms): -1;
            if (rc == 0)
                rc = store_commit (&txn);
            if (rc)
                snprintf (result.error, sizeof result.error, "cannot write the audit log");
        }
        if (rc == 0 && result.status == WEFT_STATUS_INTERNAL)
            rc = -1;
    }
    else {
        //  device.revoke too: rpc.c authorises and audits it
        rpc_call (&rpc_env, txn, &caller, msg.rpc_request.method, msg.rpc_request.args,
                  msg.rpc_request.args_size, now_ms, &result);
        if (result.status == WEFT_STATUS_INTERNAL)
            rc = -1;
        if (rc == 0)
            rc = store_commit (&txn);
    }
    store_abort (&txn);
    if (rc && self->repo && !rpc_is_read (msg.rpc_request.method)
    &&  strncmp (msg.rpc_request.method, "artifact.", 9) == 0)
        artrepo_aborted (self->repo);      //  Its uploads and totals were rolled back
    if (rc) {
        rpc_result_clear (&result);
        result.status = WEFT_STATUS_INTERNAL;
        if (!result.error [0])
            snprintf (result.error, sizeof result.error, "store write failed");
        result.push [0] = 0;
    }
    bool revoked = rc == 0 && result.status == WEFT_STATUS_OK
                && (streq (msg.rpc_request.method, "device.revoke")
                    || streq (msg.rpc_request.method, "operator.revoke"));
    if (rc == 0 && result.status == WEFT_STATUS_OK
    &&  (streq (msg.rpc_request.method, "attest.profile.set")
         || streq (msg.rpc_request.method, "attest.allowlist.set"))) {
        self->now_ms = now_ms;
        publish_policies (self->store, self->pki, self->policies, self->gossip, now_ms);
    }
    if (rc == 0 && result.status == WEFT_STATUS_OK)
        s_add_mesh_info (self, msg.rpc_request.method, result.result);
    if (rc == 0 && result.status == WEFT_STATUS_OK
    &&  streq (msg.rpc_request.method, "attest.clear"))
        coord_quarantine_build (self, now_ms);
    coord_debug (self, "coord: %s called %s: %s%s%s", env.origin, msg.rpc_request.method,
                proto_status_name (result.status), result.status? " ": "", result.error);

    rc = s_rpc_reply (self, &env, result.status, result.error, result.result, now_ms,
                      reply_p, reply_size_p);
    if (result.offers && result.status == WEFT_STATUS_OK)
        coord_send_offers (self, result.offers, now_ms);
    for (size_t batch = 0; result.status == WEFT_STATUS_OK && batch < RPC_OFFER_BATCHES
                           && result.more_offers [batch]; batch++)
        coord_send_offers (self, result.more_offers [batch], now_ms);
    if (result.status == WEFT_STATUS_OK)
        coord_send_directives (self, result.directives, now_ms);
    if (result.status == WEFT_STATUS_OK)
        coord_send_orders (self, result.orders, now_ms);
    rpc_result_clear (&result);
    if (revoked) {
        char id [WEFT_NAME_MAX + 1] = "";
        json_error_t error;
        json_t *args = json_loadb (msg.rpc_request.args, msg.rpc_request.args_size, 0, &error);
        bool device = streq (msg.rpc_request.method, "device.revoke");
        snprintf (id, sizeof id, "%s",
                  json_string_value (json_object_get (args, device? "id": "name"))?: "");
        json_decref (args);
        coord_revocations_build (self, now_ms);
        zsys_info ("coord: %s %s revoked by %s (revocation list version %" PRIu64 ")",
                   device? "device": "operator", id, env.origin, self->revocations_version);
        //  No device connection to close for an operator
        if (!device)
            id [0] = 0;
        if (self->revoked)
            self->revoked (self->effects.ctx, id);
    }

    //  A changed desired twin goes to the device at once if it is
    //  connected; otherwise its next heartbeat fetches it
    if (result.push [0] && self->effects.push
    &&  !coord_device_quarantined (self, result.push, now_ms)) {
        txn = store_begin (self->store, false);
        json_t *twin = txn? registry_twin_get (txn, result.push): NULL;
        store_abort (&txn);
        uint8_t *frame_out;
        size_t frame_size;
        if (twin
        &&  coord_seal_desired (self, result.push, twin, now_ms, &frame_out, &frame_size) == 0) {
            self->effects.push (self->effects.ctx, result.push, frame_out, frame_size);
            free (frame_out);
        }
        json_decref (twin);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  ZAP decision

bool
coord_admit (coord_t *self, const char *domain, const char *address,
             const uint8_t client_key [32], uint64_t now_ms,
             char user_id [COORD_USER_ID_MAX + 1])
{
    assert (self && domain);
    if (streq (domain, "enrol")) {
        keys_hex (client_key, 32, user_id);
        return true;
    }
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return false;
    char *name = NULL;
    bool admit = false;
    char tenant [WEFT_NAME_MAX + 1] = "";
    bool revoked_operator = false;
    if (streq (domain, "mesh")) {
        name = registry_device_by_curve (txn, client_key);
        json_t *device = name? registry_device_get (txn, name): NULL;
        admit = device && !json_is_true (json_object_get (device, "revoked"));
        json_decref (device);
    }
    else
    if (streq (domain, "rpc")) {
        name = registry_operator_by_curve (txn, client_key);
        json_t *op = name? registry_operator_get (txn, name): NULL;
        admit = op && !json_is_true (json_object_get (op, "revoked"));
        revoked_operator = op && !admit;
        snprintf (tenant, sizeof tenant, "%s",
                  json_string_value (json_object_get (op, "tenant"))?: "");
        json_decref (op);
    }
    store_abort (&txn);
    if (admit)
        snprintf (user_id, COORD_USER_ID_MAX + 1, "%s", name);
    else
    if (revoked_operator) {
        //  A revoked operator trying again is recorded; a stranger's key
        //  proves nothing of anyone and is only counted (zap_refused)
        json_t *detail = json_pack ("{s:s}", "error", "operator revoked");
        audit_entry_t entry = { name, "connect", "", "", WEFT_STATUS_DENIED, detail,
                                address, tenant };
        coord_audit_refusal (self, now_ms, &entry);
        json_decref (detail);
    }
    free (name);
    return admit;
}
