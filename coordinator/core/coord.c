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
    batches by coord_tick instead.  */

#include <czmq.h>
#include <sodium.h>
#include "proto/envelope.h"
#include "proto/meshmsg.h"
#include "proto/tpmmsg.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/pki.h"
#include "coordinator/core/enrolment.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/rpc.h"
#include "coordinator/core/nonces.h"
#include "coordinator/core/audit.h"
#include "coordinator/core/hierarchy.h"
#include "coordinator/core/quarantine.h"
#include "coordinator/core/publish.h"
#include "coordinator/core/attest_delegated.h"
#include "coordinator/core/coordseq.h"
#include "coordinator/core/custody.h"
#include "coordinator/core/coord.h"

//  Per-message logs only when verbose
#define s_debug(self, ...) \
    do { if ((self)->verbose) zsys_debug (__VA_ARGS__); } while (0)

struct _coord_t {
    store_t *store;                 //  Not owned
    registry_t *registry;           //  Records and liveness
    pki_t *pki;                     //  CA
    keys_t keys;                    //  Coordinator's own keys
    uint8_t *cert;                  //  Coordinator's certificate
    size_t cert_size;
    coord_effects_t effects;        //  Push to devices
    coord_stats_t stats;            //  Counters
    coordseq_t *seqs;               //  Sequence numbers of our envelopes
    uint64_t hlc;                   //  Last hybrid logical clock issued
    uint64_t next_flush;            //  Unix ms of the next batch write
    bool verbose;                   //  Log every message
    coord_revoked_fn *revoked;      //  Revocation hook, or NULL
    json_t *mesh_info;              //  Device id -> {hops, stats}, memory only
    uint8_t *revocations;           //  Our signed REVOCATIONS envelope, or NULL
    size_t revocations_size;
    uint64_t revocations_version;   //  Its version
    coord_quarantine_fn *quarantine_changed;    //  Quarantine hook, or NULL
    uint8_t *quarantine;            //  Our signed QUARANTINE envelope, or NULL
    size_t quarantine_size;
    uint64_t quarantine_version;    //  Its version
    policy_store_t *policies;       //  Site-wide policies published (publish.h)
    gossip_t *gossip;               //  Their gossip with the nodes linked to us
    custody_t *custody;             //  Frames sent through relays, until ACKed
    uint64_t now_ms;                //  Time of the event being handled
};

static void s_revocations_build (coord_t *self, uint64_t now_ms);
static void s_quarantine_build (coord_t *self, uint64_t now_ms);

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

    coord_t *self = (coord_t *) zmalloc (sizeof (coord_t));
    self->store = store;
    self->registry = registry_new (store);
    self->pki = pki_new (ca);
    self->keys = *keys;
    self->cert = (uint8_t *) zmalloc (cert_size);
    memcpy (self->cert, cert, cert_size);
    self->cert_size = cert_size;
    if (effects)
        self->effects = *effects;
    self->seqs = seqs;
    self->mesh_info = json_object ();
    self->custody = custody_new (NULL, &self->stats);
    //  A database from before signed audit heads gets its head signed
    store_txn_t *txn = store_begin (store, true);
    if (!txn || audit_sign_head (txn, self->pki) || store_commit (&txn))
        zsys_warning ("coord: cannot sign the audit head");
    store_abort (&txn);
    s_revocations_build (self, 0);
    s_quarantine_build (self, 0);
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
coord_sent_custody (coord_t *self, const char *dest, const char *relay,
                    const uint8_t *frame, size_t size, uint64_t now_ms)
{
    assert (self && frame);
    //  Sent to the device itself: only a TWIN_DESIRED is held, until the
    //  device's own ACK of it (nothing else of ours is acknowledged)
    envelope_t env;
    if (dest && relay && streq (dest, relay)
    &&  (envelope_decode (&env, frame, size) || env.type != MSG_TWIN_DESIRED))
        return;
    if (custody_sent (self->custody, dest, relay, frame, size, now_ms))
        s_debug (self, "coord: no custody of a frame for %s via %s (not an envelope)",
                 dest? dest: "?", relay? relay: "?");
}

void
coord_relay_linked (coord_t *self, const char *relay, uint64_t now_ms)
{
    assert (self);
    size_t woken = custody_wake (self->custody, relay, now_ms);
    if (woken)
        s_debug (self, "coord: %s linked again: %zu frames through it due now", relay, woken);
}

void
coord_tick (coord_t *self, uint64_t now_ms)
{
    assert (self);
    //  Retransmit what no relay acknowledged: the same envelope, through
    //  the device's current route (the adapter's; none: the next retry)
    const custody_entry_t *entry;
    while (self->effects.push && (entry = custody_due (self->custody, now_ms))) {
        s_debug (self, "coord: retransmitting to %s (send %u)", entry->dest,
                 entry->sends + 1);
        self->effects.push (self->effects.ctx, entry->dest, entry->frame, entry->size);
        custody_resent (self->custody, entry, now_ms);
    }
    if (now_ms < self->next_flush)
        return;
    self->now_ms = now_ms;
    gossip_tick (self->gossip, now_ms);
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

//  Seal an ACK of env.
static int
s_ack (coord_t *self, const envelope_t *env, int status, const char *message,
       uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_ACK;
    memcpy (msg.ack.ack_id, env->id, WEFT_ID_SIZE);
    msg.ack.status = status;
    snprintf (msg.ack.message, sizeof msg.ack.message, "%s", message);
    return coord_seal (self, env->origin, &msg, now_ms, reply_p, reply_size_p)? -2: 0;
}

//  Seal the desired document of a device.
static int
s_desired (coord_t *self, const char *id, json_t *twin, uint64_t now_ms,
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

//  Decode an envelope and check that its origin is the link's identity.
static int
s_open (coord_t *self, const char *user_id, const uint8_t *frame, size_t size,
        envelope_t *env, bool relayed)
{
    int rc = envelope_decode (env, frame, size);
    if (rc) {
        self->stats.rejected_malformed++;
        s_debug (self, "coord: undecodable envelope from %s: %s",
                    user_id? user_id: "?", proto_strerror (rc));
        return -2;
    }
    if (!user_id || (!streq (env->origin, user_id)
                     && (!relayed || streq (env->origin, COORD_ORIGIN)))) {
        self->stats.rejected_origin++;
        s_debug (self, "coord: envelope origin %s on link of %s", env->origin,
                    user_id? user_id: "(none)");
        return -2;
    }
    return 0;
}

static bool
s_expired (coord_t *self, const envelope_t *env, uint64_t now_ms)
{
    if (env->expiry && env->expiry <= now_ms) {
        self->stats.rejected_expired++;
        s_debug (self, "coord: expired %s from %s", proto_msg_name (env->type), env->origin);
        return true;
    }
    return false;
}

//  Record an enrolment in the audit log, in its transaction
static int
s_audit_enrol (store_txn_t *txn, pki_t *pki, const char *id, const char *method,
               uint64_t now_ms)
{
    json_t *device = registry_device_get (txn, id);
    json_t *detail = json_pack ("{s:s, s:O}", "method", method, "cert_serial",
                                json_object_get (device, "cert_serial")?: json_null ());
    int rc = audit_append (txn, pki, now_ms, id, "enrol", device? registry_device_scope (device): "",
                           id, WEFT_STATUS_OK, detail);
    json_decref (detail);
    json_decref (device);
    return rc;
}

//  Hex key field of a record into key; -1 if missing or bad.
static int
s_record_key (json_t *record, const char *field, uint8_t key [32])
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
    uint64_t hlc = now_ms << 16;
    self->hlc = hlc > self->hlc? hlc: self->hlc + 1;
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, sizeof env.id);
    env.type = type;
    strcpy (env.origin, COORD_ORIGIN);
    env.seq = seq;
    env.hlc = self->hlc;
    env.hop_limit = WEFT_HOP_LIMIT;
    env.hops = WEFT_HOP_LIMIT;
    env.payload = payload;
    env.payload_size = payload_size;
    int rc = envelope_encode (&env, self->keys.sign_secret, frame_p, size_p);
    if (rc)
        zsys_error ("coord: cannot seal %s: %s", proto_msg_name (type), proto_strerror (rc));
    return rc? -1: 0;
}

//  --------------------------------------------------------------------------
//  TPM onboarding on the enrolment socket (enrolment_tpm_apply): the
//  answer is a TPM_CHALLENGE, or an ENROL_RESPONSE with the certificate
//  or the refusal.

static int
s_on_tpm_enrol (coord_t *self, const char *user_id, envelope_t *env, uint64_t now_ms,
                uint8_t **reply_p, size_t *reply_size_p)
{
    uint8_t link_key [32];
    if (!user_id || strlen (user_id) != 64 || keys_unhex (user_id, link_key, 32)) {
        self->stats.rejected_origin++;
        return -2;
    }
    tpmmsg_t request;
    enrolment_result_t result;
    memset (&result, 0, sizeof result);
    int rc = tpmmsg_decode (&request, env->type, env->payload, env->payload_size);
    if (rc) {
        self->stats.rejected_malformed++;
        result.status = WEFT_STATUS_BAD_REQUEST;
        snprintf (result.message, sizeof result.message, "malformed TPM enrolment request");
    }
    else
    if (envelope_verify (env, request.sign_key)) {
        self->stats.rejected_signature++;
        result.status = WEFT_STATUS_DENIED;
        snprintf (result.message, sizeof result.message,
                  "signature does not verify with the request's sign key");
    }
    else
    if (s_expired (self, env, now_ms)) {
        result.status = WEFT_STATUS_EXPIRED;
        snprintf (result.message, sizeof result.message, "request expired");
    }
    else {
        store_txn_t *txn = store_begin (self->store, true);
        if (!txn) {
            result.status = WEFT_STATUS_INTERNAL;
            snprintf (result.message, sizeof result.message, "store unavailable");
        }
        else {
            size_t ca_size = 0;
            char *ca = enrolment_tpm_ca (txn, &ca_size);
            enrolment_tpm_apply (self->pki, txn, &self->keys, ca, ca_size, env->origin,
                                 &request, link_key, now_ms / 1000, &result);
            free (ca);
            if (result.created
            && (s_audit_enrol (txn, self->pki, result.device, "tpm", now_ms) || store_commit (&txn))) {
                enrolment_result_clear (&result);
                result.status = WEFT_STATUS_INTERNAL;
                snprintf (result.message, sizeof result.message, "store write failed");
            }
            store_abort (&txn);
        }
    }
    if (result.created) {
        self->stats.enrolments++;
        zsys_info ("coord: enrolled device %s by TPM credential activation", result.device);
    }
    else
    if (result.status != WEFT_STATUS_OK) {
        self->stats.enrol_refused++;
        zsys_info ("coord: TPM enrolment of %s refused: %s", env->origin, result.message);
    }
    if (result.challenge) {
        tpmmsg_t challenge;
        memset (&challenge, 0, sizeof challenge);
        challenge.type = MSG_TPM_CHALLENGE;
        snprintf (challenge.device, sizeof challenge.device, "%s", result.device);
        challenge.credential = zchunk_data (result.credential);
        challenge.credential_size = zchunk_size (result.credential);
        challenge.secret = zchunk_data (result.secret);
        challenge.secret_size = zchunk_size (result.secret);
        challenge.ticket = result.ticket;
        challenge.ticket_size = sizeof result.ticket;
        uint8_t *payload = NULL;
        size_t payload_size = 0;
        rc = tpmmsg_encode (&challenge, &payload, &payload_size);
        if (rc == 0)
            rc = coord_seal_payload (self, NULL, MSG_TPM_CHALLENGE, payload, payload_size, now_ms,
                                     reply_p, reply_size_p);
        free (payload);
        enrolment_result_clear (&result);
        return rc? -2: 0;
    }
    msg_t reply;
    memset (&reply, 0, sizeof reply);
    reply.type = MSG_ENROL_RESPONSE;
    reply.enrol_response.status = result.status;
    snprintf (reply.enrol_response.message, sizeof reply.enrol_response.message,
              "%s", result.message);
    reply.enrol_response.cert = result.cert;
    reply.enrol_response.cert_size = result.cert_size;
    memcpy (reply.enrol_response.ca_key, pki_ca_key (self->pki), WEFT_KEY_SIZE);
    reply.enrol_response.coord_cert = self->cert;
    reply.enrol_response.coord_cert_size = self->cert_size;
    rc = coord_seal (self, NULL, &reply, now_ms, reply_p, reply_size_p);
    enrolment_result_clear (&result);
    return rc? -2: 0;
}

//  --------------------------------------------------------------------------
//  Enrolment socket

int
coord_on_enrol (coord_t *self, const char *user_id, const uint8_t *frame,
                size_t size, uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p)
{
    assert (self && reply_p && reply_size_p);
    *reply_p = NULL;
    envelope_t env;
    msg_t msg;
    uint8_t link_key [32];
    int rc = envelope_decode (&env, frame, size);
    if (rc == 0 && (env.type == MSG_TPM_ENROL_REQUEST || env.type == MSG_TPM_PROOF))
        return s_on_tpm_enrol (self, user_id, &env, now_ms, reply_p, reply_size_p);
    if (rc || env.type != MSG_ENROL_REQUEST) {
        self->stats.rejected_malformed++;
        self->stats.enrol_refused++;
        s_debug (self, "coord: bad enrolment envelope: %s",
                    rc? proto_strerror (rc): "wrong type");
        return -2;
    }
    if (!user_id || strlen (user_id) != 64 || keys_unhex (user_id, link_key, 32)) {
        self->stats.rejected_origin++;
        return -2;
    }
    enrolment_result_t result;
    memset (&result, 0, sizeof result);
    rc = msg_decode (&msg, MSG_ENROL_REQUEST, env.payload, env.payload_size);
    if (rc) {
        self->stats.rejected_malformed++;
        result.status = WEFT_STATUS_BAD_REQUEST;
        snprintf (result.message, sizeof result.message, "malformed enrolment request");
    }
    else
    if (envelope_verify (&env, msg.enrol_request.sign_key)) {
        self->stats.rejected_signature++;
        result.status = WEFT_STATUS_DENIED;
        snprintf (result.message, sizeof result.message,
                  "signature does not verify with the request's sign key");
    }
    else
    if (s_expired (self, &env, now_ms)) {
        result.status = WEFT_STATUS_EXPIRED;
        snprintf (result.message, sizeof result.message, "request expired");
    }
    else {
        store_txn_t *txn = store_begin (self->store, true);
        if (!txn) {
            result.status = WEFT_STATUS_INTERNAL;
            snprintf (result.message, sizeof result.message, "store unavailable");
        }
        else {
            enrolment_apply (self->pki, txn, self->keys.curve_public, env.origin,
                             &msg.enrol_request, link_key, now_ms / 1000, &result);
            if (result.created) {
                if (s_audit_enrol (txn, self->pki, env.origin, "token", now_ms) || store_commit (&txn)) {
                    enrolment_result_clear (&result);
                    result.status = WEFT_STATUS_INTERNAL;
                    snprintf (result.message, sizeof result.message, "store write failed");
                }
            }
            store_abort (&txn);
        }
    }
    if (result.created) {
        self->stats.enrolments++;
        zsys_info ("coord: enrolled device %s", env.origin);
    }
    else
    if (result.status != WEFT_STATUS_OK) {
        self->stats.enrol_refused++;
        zsys_info ("coord: enrolment of %s refused: %s", env.origin, result.message);
    }
    else
        zsys_info ("coord: device %s enrolment repeated, same certificate", env.origin);

    msg_t reply;
    memset (&reply, 0, sizeof reply);
    reply.type = MSG_ENROL_RESPONSE;
    reply.enrol_response.status = result.status;
    snprintf (reply.enrol_response.message, sizeof reply.enrol_response.message,
              "%s", result.message);
    reply.enrol_response.cert = result.cert;
    reply.enrol_response.cert_size = result.cert_size;
    memcpy (reply.enrol_response.ca_key, pki_ca_key (self->pki), WEFT_KEY_SIZE);
    reply.enrol_response.coord_cert = self->cert;
    reply.enrol_response.coord_cert_size = self->cert_size;
    rc = coord_seal (self, NULL, &reply, now_ms, reply_p, reply_size_p);
    enrolment_result_clear (&result);
    return rc? -2: 0;
}

//  --------------------------------------------------------------------------
//  Mesh socket

//  Accept seq for origin_key in memory. The window reaches the store in
//  the next coord_commit, which the adapter calls before it sends any
//  reply to these messages: one commit covers every heartbeat and ACK
//  read in a burst, and nothing acts outside the process before the
//  window is durable, so a replay is refused after a crash too. The
//  effect inside the process (liveness) needs no rollback: the window
//  stays advanced in memory and is written by the next commit.
static int
s_accept_pending (coord_t *self, const char *origin_key, uint64_t seq)
{
    replay_t window;
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return -1;
    registry_replay_window (self->registry, txn, origin_key, &window);
    store_abort (&txn);
    if (replay_accept (&window, seq)) {
        self->stats.rejected_replay++;
        return -1;
    }
    registry_replay_set (self->registry, origin_key, &window, true);
    return 0;
}

int
coord_commit (coord_t *self)
{
    assert (self);
    return registry_flush_windows (self->registry);
}

static int
s_heartbeat (coord_t *self, const envelope_t *env, const msg_heartbeat_t *heartbeat,
             const char *origin_key, uint64_t now_ms, uint8_t **reply_p,
             size_t *reply_size_p)
{
    if (s_accept_pending (self, origin_key, env->seq)) {
        s_debug (self, "coord: replayed heartbeat from %s seq %" PRIu64, env->origin, env->seq);
        return -2;
    }
    registry_seen (self->registry, env->origin, now_ms);
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return 0;
    json_t *twin = registry_twin_get (txn, env->origin);
    store_abort (&txn);
    uint64_t version = json_integer_value (json_object_get (twin, "desired_version"));
    int rc = 0;
    if (twin && heartbeat->desired_version < version) {
        s_debug (self, "coord: %s holds desired %" PRIu64 ", sending %" PRIu64,
                    env->origin, heartbeat->desired_version, version);
        rc = s_desired (self, env->origin, twin, now_ms, reply_p, reply_size_p)? -2: 0;
    }
    json_decref (twin);
    return rc;
}

//  --------------------------------------------------------------------------
//  Boot attestation (coordinator/core/attest.h): a TPM device due for it
//  gets an ATTEST_CHALLENGE as the answer to its heartbeat, and its
//  ATTEST_EVIDENCE is verified and the verdict recorded.

static bool
s_quarantined (coord_t *self, const char *id)
{
    store_txn_t *txn = store_begin (self->store, false);
    bool quarantined = txn && attest_quarantined (txn, id);
    store_abort (&txn);
    return quarantined;
}

static void
s_attest_challenge (coord_t *self, const char *id, uint64_t uptime_s, uint64_t now_ms,
                    uint8_t **reply_p, size_t *reply_size_p)
{
    store_txn_t *txn = store_begin (self->store, false);
    json_t *device = txn? registry_device_get (txn, id): NULL;
    store_abort (&txn);
    const char *assurance = json_string_value (json_object_get (device, "assurance"));
    uint8_t nonce [ATTEST_NONCE_SIZE];
    uint32_t mask = 0;
    int64_t ima_from = -1;
    uint8_t ima_pcr10 [32] = { 0 };
    int due = 0;
    if (assurance && streq (assurance, "tpm")) {
        txn = store_begin (self->store, true);
        due = txn? attest_challenge (txn, device, pki_ca_key (self->pki), uptime_s, now_ms,
                                     nonce, &mask, &ima_from, ima_pcr10): -1;
        if (due == 1 && store_commit (&txn))
            due = -1;
        store_abort (&txn);
    }
    json_decref (device);
    if (due != 1)
        return;
    tpmmsg_t challenge;
    memset (&challenge, 0, sizeof challenge);
    challenge.type = MSG_ATTEST_CHALLENGE;
    challenge.nonce = nonce;
    challenge.nonce_size = sizeof nonce;
    challenge.pcr_mask = mask;
    challenge.ima = ima_from >= 0;
    challenge.ima_from = ima_from >= 0? (uint64_t) ima_from: 0;
    memcpy (challenge.ima_pcr10, ima_pcr10, 32);
    uint8_t *payload = NULL;
    size_t payload_size = 0;
    //  Global counter: the node's attestor answers it by its nonce, no
    //  replay window sees it, and the device's windowed seqs stay dense
    if (tpmmsg_encode (&challenge, &payload, &payload_size) == 0
    &&  coord_seal_payload (self, NULL, MSG_ATTEST_CHALLENGE, payload, payload_size, now_ms,
                            reply_p, reply_size_p) == 0)
        s_debug (self, "coord: attestation challenge to %s (IMA from entry #%" PRId64 ")",
                 id, ima_from);
    free (payload);
}

static int
s_attest_evidence (coord_t *self, const envelope_t *env, uint64_t now_ms)
{
    char origin_key [WEFT_NAME_MAX + 3];
    snprintf (origin_key, sizeof origin_key, "d/%s", env->origin);
    tpmmsg_t evidence;
    int rc = tpmmsg_decode (&evidence, MSG_ATTEST_EVIDENCE, env->payload, env->payload_size);
    if (rc) {
        self->stats.rejected_malformed++;
        s_debug (self, "coord: bad ATTEST_EVIDENCE from %s: %s", env->origin,
                    proto_strerror (rc));
        return -2;
    }
    if (s_accept_pending (self, origin_key, env->seq))
        return -2;
    registry_seen (self->registry, env->origin, now_ms);
    store_txn_t *txn = store_begin (self->store, true);
    json_t *device = txn? registry_device_get (txn, env->origin): NULL;
    json_t *verdict = device? attest_evidence (txn, device, pki_ca_key (self->pki),
                                               &evidence, now_ms): NULL;
    //  The alert names the asset and the place, not only the device id
    char alert [512] = "";
    if (txn && verdict && !json_is_true (json_object_get (verdict, "ok")))
        hierarchy_alert_text (txn, device, "Attestation failed",
                              json_string_value (json_object_get (verdict, "reason"))?: "?",
                              alert, sizeof alert);
    if (txn && store_commit (&txn))
        zsys_error ("coord: cannot record the attestation verdict of %s", env->origin);
    store_abort (&txn);
    json_t *ima = json_object_get (verdict, "ima");
    if (json_is_true (json_object_get (verdict, "ok")) && ima)
        zsys_info ("coord: attestation of %s passed (IMA: %" JSON_INTEGER_FORMAT
                   " entries sent from #%" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT
                   " verified in all)", env->origin,
                   json_integer_value (json_object_get (ima, "sent")),
                   json_integer_value (json_object_get (ima, "from")),
                   json_integer_value (json_object_get (ima, "verified")));
    else
    if (json_is_true (json_object_get (verdict, "ok")))
        zsys_info ("coord: attestation of %s passed", env->origin);
    else
    if (verdict)
        zsys_warning ("coord: ALERT attestation of %s failed: %s [%s]", env->origin,
                      json_string_value (json_object_get (verdict, "reason")), alert);
    json_decref (verdict);
    json_decref (device);
    s_quarantine_build (self, now_ms);
    return 0;
}

//  A site server's verdict with its evidence (attest_delegated.h): checked
//  again, recorded as ours, and quarantine follows our result
static int
s_attest_delegated (coord_t *self, const envelope_t *env, uint64_t now_ms)
{
    delegmsg_t msg;
    int rc = delegmsg_decode (&msg, MSG_DELEGATED_VERDICT, env->payload, env->payload_size);
    char origin_key [WEFT_NAME_MAX + 3];
    snprintf (origin_key, sizeof origin_key, "d/%s", env->origin);
    if (rc || s_accept_pending (self, origin_key, env->seq)) {
        if (rc)
            self->stats.rejected_malformed++;
        return -2;
    }
    registry_seen (self->registry, env->origin, now_ms);
    store_txn_t *txn = store_begin (self->store, true);
    json_t *server = txn? registry_device_get (txn, env->origin): NULL;
    json_t *device = txn? registry_device_get (txn, msg.device): NULL;
    char error [256] = "unknown device";
    json_t *verdict = server && device? attest_delegated (txn, server, device,
                                                          pki_ca_key (self->pki), &msg,
                                                          error, sizeof error): NULL;
    char alert [512] = "";
    if (verdict && !json_is_true (json_object_get (verdict, "ok")))
        hierarchy_alert_text (txn, device, "Attestation failed (verified by a site server)",
                              json_string_value (json_object_get (verdict, "reason"))?: "?",
                              alert, sizeof alert);
    if (txn && verdict && store_commit (&txn))
        zsys_error ("coord: cannot record the delegated verdict on %s", msg.device);
    store_abort (&txn);
    if (!verdict)
        zsys_warning ("coord: delegated verdict on %s from %s refused: %s", msg.device,
                      env->origin, error);
    else
    if (json_is_true (json_object_get (verdict, "ok")))
        zsys_info ("coord: attestation of %s passed (verified by %s, checked again)",
                   msg.device, env->origin);
    else
        zsys_warning ("coord: ALERT attestation of %s failed (verified by %s, checked again): "
                      "%s [%s]", msg.device, env->origin,
                      json_string_value (json_object_get (verdict, "reason")), alert);
    if (json_is_true (json_object_get (verdict, "disagrees")))
        zsys_warning ("coord: ALERT site server %s judged %s %s, our check says otherwise",
                      env->origin, msg.device, msg.ok? "passed": "failed");
    json_decref (verdict);
    json_decref (server);
    json_decref (device);
    s_quarantine_build (self, now_ms);
    return 0;
}

static int
s_reported (coord_t *self, const envelope_t *env, const msg_twin_reported_t *reported,
            const char *origin_key, uint64_t now_ms, uint8_t **reply_p,
            size_t *reply_size_p)
{
    if (!streq (reported->device, env->origin)) {
        self->stats.rejected_origin++;
        s_debug (self, "coord: %s reported the twin of %s", env->origin, reported->device);
        return -2;
    }
    json_error_t error;
    json_t *doc = NULL;
    if (reported->doc_size <= REGISTRY_DOC_MAX)
        doc = json_loadb (reported->doc, reported->doc_size, JSON_REJECT_DUPLICATES, &error);
    if (!json_is_object (doc)) {
        json_decref (doc);
        self->stats.rejected_malformed++;
        s_debug (self, "coord: bad reported document from %s", env->origin);
        //  Acknowledge with the reason, so the node stops retransmitting
        return s_ack (self, env, WEFT_STATUS_BAD_REQUEST,
                      "reported document must be a JSON object of at most 32768 bytes",
                      now_ms, reply_p, reply_size_p);
    }
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn) {
        json_decref (doc);
        return -2;
    }
    replay_t window;
    registry_replay_window (self->registry, txn, origin_key, &window);
    json_t *twin = registry_twin_get (txn, env->origin);
    uint64_t held = json_integer_value (json_object_get (twin, "reported_version"));
    int rc = 0;
    if (!twin)
        rc = -1;
    else
    if (replay_accept (&window, env->seq)) {
        store_abort (&txn);
        json_decref (twin);
        json_decref (doc);
        if (reported->version <= held) {
            //  A retransmission whose ACK was lost: acknowledge again
            self->stats.duplicates++;
            return s_ack (self, env, WEFT_STATUS_OK, "duplicate", now_ms,
                          reply_p, reply_size_p);
        }
        self->stats.rejected_replay++;
        s_debug (self, "coord: replayed report from %s seq %" PRIu64, env->origin, env->seq);
        return -2;
    }
    if (rc == 0)
        rc = registry_replay_put (txn, origin_key, &window);
    if (rc == 0 && reported->version > held) {
        json_object_set (twin, "reported", doc);
        json_object_set_new (twin, "reported_version", json_integer (reported->version));
        json_object_set_new (twin, "applied_version",
                             json_integer (reported->desired_version));
        json_object_set_new (twin, "status", json_string (reported->status));
        rc = registry_twin_put (txn, env->origin, twin);
        //  fw/hw/sw the node reports under "weft" become its metadata
        if (rc == 0)
            rc = registry_device_report_meta (txn, env->origin, doc);
    }
    if (rc == 0)
        rc = store_commit (&txn);
    store_abort (&txn);
    json_decref (twin);
    json_decref (doc);
    if (rc) {
        //  No ACK: the node retransmits and we try again
        zsys_warning ("coord: cannot store the report of %s", env->origin);
        return -2;
    }
    registry_replay_set (self->registry, origin_key, &window, false);
    registry_seen (self->registry, env->origin, now_ms);
    if (reported->version > held)
        s_debug (self, "coord: %s reported version %" PRIu64 " (desired %" PRIu64 " %s)",
                    env->origin, reported->version, reported->desired_version,
                    reported->status);
    return s_ack (self, env, WEFT_STATUS_OK, "", now_ms, reply_p, reply_size_p);
}

int
coord_on_mesh (coord_t *self, const char *user_id, const uint8_t *frame,
               size_t size, uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p)
{
    coord_link_t link;
    memset (&link, 0, sizeof link);
    return coord_on_mesh_link (self, user_id, &link, frame, size, now_ms, reply_p,
                               reply_size_p);
}

//  Mesh bookkeeping of a device: hops its last envelope took
static void
s_mesh_seen (coord_t *self, const envelope_t *env, bool custody)
{
    json_t *info = json_object_get (self->mesh_info, env->origin);
    if (!info) {
        info = json_object ();
        json_object_set_new (self->mesh_info, env->origin, info);
    }
    int hops = custody? (int) env->hop_limit - (int) env->hops + 1: 1;
    json_object_set_new (info, "hops", json_integer (hops < 1? 1: hops));
}

//  Link-local mesh messages: no replay window (idempotent, one session)
static int
s_mesh_local (coord_t *self, const envelope_t *env, coord_link_t *link, uint64_t now_ms,
              uint8_t **reply_p, size_t *reply_size_p)
{
    meshmsg_t msg;
    if (meshmsg_decode (&msg, env->type, env->payload, env->payload_size)) {
        self->stats.rejected_malformed++;
        return -2;
    }
    (void) now_ms;
    //  A relay took custody of frames we sent through it (INTERNAL: it
    //  could not commit them, keep retransmitting)
    if (env->type == MSG_CUSTODY_ACK && msg.status != WEFT_STATUS_INTERNAL)
        for (size_t i = 0; i < msg.id_count; i++)
            custody_ack (self->custody, msg.ids + i * WEFT_ID_SIZE);
    if (env->type == MSG_ROUTE && msg.revocations < self->revocations_version
    &&  self->revocations) {
        *reply_p = (uint8_t *) zmalloc (self->revocations_size);
        memcpy (*reply_p, self->revocations, self->revocations_size);
        *reply_size_p = self->revocations_size;
        snprintf (link->reply_dest, sizeof link->reply_dest, "*");
    }
    else
    //  One list per ROUTE: the quarantine list follows on the next one
    if (env->type == MSG_ROUTE && msg.quarantine < self->quarantine_version
    &&  self->quarantine) {
        *reply_p = (uint8_t *) zmalloc (self->quarantine_size);
        memcpy (*reply_p, self->quarantine, self->quarantine_size);
        *reply_size_p = self->quarantine_size;
        snprintf (link->reply_dest, sizeof link->reply_dest, "*");
    }
    else
    if (env->type == MSG_NODE_STATS) {
        json_error_t error;
        json_t *stats = json_loadb (msg.counters, msg.counters_size, 0, &error);
        if (json_is_object (stats)) {
            json_t *info = json_object_get (self->mesh_info, env->origin);
            if (!info) {
                info = json_object ();
                json_object_set_new (self->mesh_info, env->origin, info);
            }
            json_object_set (info, "stats", stats);
        }
        json_decref (stats);
    }
    return 0;
}

int
coord_on_mesh_link (coord_t *self, const char *user_id, coord_link_t *link,
                    const uint8_t *frame, size_t size, uint64_t now_ms,
                    uint8_t **reply_p, size_t *reply_size_p)
{
    assert (self && link && reply_p && reply_size_p);
    *reply_p = NULL;
    link->decoded = false;
    link->origin [0] = 0;
    link->reply_dest [0] = 0;
    link->store_failed = false;
    envelope_t env;
    if (envelope_decode (&env, frame, size) == 0) {
        link->decoded = true;
        memcpy (link->id, env.id, WEFT_ID_SIZE);
    }
    if (s_open (self, user_id, frame, size, &env, link->custody))
        return -2;
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return -2;
    json_t *device = registry_device_get (txn, env.origin);
    store_abort (&txn);
    uint8_t sign_key [32];
    bool known = device && !json_is_true (json_object_get (device, "revoked"))
              && s_record_key (device, "sign_key", sign_key) == 0;
    json_decref (device);
    if (!known) {
        self->stats.rejected_origin++;
        return -2;
    }
    if (envelope_verify (&env, sign_key)) {
        self->stats.rejected_signature++;
        s_debug (self, "coord: bad signature from %s", env.origin);
        return -2;
    }
    if (s_expired (self, &env, now_ms))
        return -2;
    snprintf (link->origin, sizeof link->origin, "%s", env.origin);
    if (link->custody && !streq (env.origin, user_id))
        snprintf (link->reply_dest, sizeof link->reply_dest, "%s", env.origin);
    else
    if (link->custody)
        snprintf (link->reply_dest, sizeof link->reply_dest, "%s", env.origin);
    s_mesh_seen (self, &env, link->custody);
    if (env.type == MSG_POLICY || env.type == MSG_POLICY_SUMMARY || env.type == MSG_POLICY_KEYS) {
        //  Gossip speaks only between neighbours
        link->reply_dest [0] = 0;
        if (link->custody) {
            self->stats.rejected_malformed++;
            return -2;
        }
        self->now_ms = now_ms;
        gossip_on_message (self->gossip, env.origin, env.type, env.payload, env.payload_size,
                           now_ms);
        return 0;
    }
    if (env.type == MSG_HELLO || env.type == MSG_ROUTE || env.type == MSG_CUSTODY_ACK
    ||  env.type == MSG_NODE_STATS) {
        link->reply_dest [0] = 0;
        return s_mesh_local (self, &env, link, now_ms, reply_p, reply_size_p);
    }
    if (env.type == MSG_ATTEST_EVIDENCE)
        return s_attest_evidence (self, &env, now_ms);
    if (env.type == MSG_DELEGATED_VERDICT)
        return s_attest_delegated (self, &env, now_ms);
    if (env.type != MSG_HEARTBEAT && env.type != MSG_TWIN_REPORTED && env.type != MSG_ACK) {
        self->stats.rejected_malformed++;
        s_debug (self, "coord: unexpected %s on mesh from %s",
                    proto_msg_name (env.type)? proto_msg_name (env.type): "type", env.origin);
        return -2;
    }
    msg_t msg;
    int rc = msg_decode (&msg, env.type, env.payload, env.payload_size);
    if (rc) {
        self->stats.rejected_malformed++;
        s_debug (self, "coord: bad %s from %s: %s", proto_msg_name (env.type), env.origin,
                    proto_strerror (rc));
        return -2;
    }
    char origin_key [WEFT_NAME_MAX + 3];
    snprintf (origin_key, sizeof origin_key, "d/%s", env.origin);
    bool quarantined = (env.type == MSG_HEARTBEAT || env.type == MSG_TWIN_REPORTED)
                    && s_quarantined (self, env.origin);
    if (env.type == MSG_TWIN_REPORTED && quarantined) {
        self->stats.rejected_origin++;
        s_debug (self, "coord: %s is quarantined (failed attestation): report refused",
                    env.origin);
        return -2;
    }
    if (env.type == MSG_HEARTBEAT) {
        //  A quarantined device gets no desired twin, only challenges
        msg_heartbeat_t heartbeat = msg.heartbeat;
        if (quarantined)
            heartbeat.desired_version = UINT64_MAX;
        rc = s_heartbeat (self, &env, &heartbeat, origin_key, now_ms,
                          reply_p, reply_size_p);
        if (rc == 0 && !*reply_p)
            s_attest_challenge (self, env.origin, msg.heartbeat.uptime_s, now_ms,
                                reply_p, reply_size_p);
        return rc;
    }
    if (env.type == MSG_TWIN_REPORTED)
        return s_reported (self, &env, &msg.twin_reported, origin_key, now_ms,
                           reply_p, reply_size_p);
    //  ACK of a TWIN_DESIRED: a later heartbeat says what the node holds;
    //  a copy sent to it directly need not be sent again
    if (s_accept_pending (self, origin_key, env.seq))
        return -2;
    if (msg.ack.status == WEFT_STATUS_OK)
        custody_ack (self->custody, msg.ack.ack_id);
    registry_seen (self->registry, env.origin, now_ms);
    return 0;
}

//  --------------------------------------------------------------------------
//  Revocations

typedef struct {
    char names [WEFT_STR_MAX];
    size_t names_size;
    uint8_t keys [MESHMSG_REVOKED_MAX * WEFT_KEY_SIZE];
    size_t count;
    uint8_t operators [MESHMSG_REVOKED_MAX * WEFT_KEY_SIZE];
    size_t operator_count;
} s_revoked_t;

//  Revoked operators travel as keys only: their names may equal device ids
static int
s_revoked_operator (void *arg, json_t *op)
{
    s_revoked_t *list = (s_revoked_t *) arg;
    uint8_t key [WEFT_KEY_SIZE];
    if (!json_is_true (json_object_get (op, "revoked"))
    ||  s_record_key (op, "curve_key", key))
        return 0;
    if (list->operator_count == MESHMSG_REVOKED_MAX) {
        zsys_warning ("coord: revocation list full; operator %s and later ones not listed",
                      json_string_value (json_object_get (op, "name")));
        return 1;
    }
    memcpy (list->operators + list->operator_count++ * WEFT_KEY_SIZE, key, WEFT_KEY_SIZE);
    return 0;
}

static int
s_revoked_one (void *arg, json_t *device)
{
    s_revoked_t *list = (s_revoked_t *) arg;
    if (!json_is_true (json_object_get (device, "revoked")))
        return 0;
    const char *id = json_string_value (json_object_get (device, "id"));
    uint8_t key [WEFT_KEY_SIZE];
    if (!id || s_record_key (device, "curve_key", key))
        return 0;
    if (list->count == MESHMSG_REVOKED_MAX
    ||  list->names_size + strlen (id) + 1 >= sizeof list->names) {
        zsys_warning ("coord: revocation list full; %s and later ones not listed", id);
        return 1;
    }
    list->names_size += (size_t) snprintf (list->names + list->names_size,
        sizeof list->names - list->names_size, "%s%s", list->count? ",": "", id);
    memcpy (list->keys + list->count * WEFT_KEY_SIZE, key, WEFT_KEY_SIZE);
    list->count++;
    return 0;
}

//  (Re)build and seal the revocation list from the registry
static void
s_revocations_build (coord_t *self, uint64_t now_ms)
{
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return;
    uint64_t version = registry_meta_get (txn, "revocations_version");
    s_revoked_t *list = (s_revoked_t *) zmalloc (sizeof (s_revoked_t));
    if (version) {
        registry_device_each (txn, s_revoked_one, list);
        registry_operator_each (txn, s_revoked_operator, list);
    }
    store_abort (&txn);
    if (version) {
        meshmsg_t msg;
        memset (&msg, 0, sizeof msg);
        msg.type = MSG_REVOCATIONS;
        msg.revocations = version;
        msg.names = list->names;
        msg.names_size = list->names_size;
        msg.curve_keys = list->keys;
        msg.key_count = list->count;
        msg.operator_keys = list->operators;
        msg.operator_count = list->operator_count;
        uint8_t *payload;
        size_t payload_size;
        if (meshmsg_encode (&msg, &payload, &payload_size) == 0) {
            uint64_t seq = coordseq_next (self->seqs, NULL);
            envelope_t env;
            memset (&env, 0, sizeof env);
            randombytes_buf (env.id, sizeof env.id);
            env.type = MSG_REVOCATIONS;
            strcpy (env.origin, COORD_ORIGIN);
            env.seq = seq;
            env.hlc = now_ms << 16;
            env.hop_limit = env.hops = WEFT_HOP_LIMIT;
            env.payload = payload;
            env.payload_size = payload_size;
            uint8_t *frame;
            size_t size;
            if (seq && envelope_encode (&env, self->keys.sign_secret, &frame, &size) == 0) {
                free (self->revocations);
                self->revocations = frame;
                self->revocations_size = size;
                self->revocations_version = version;
            }
            free (payload);
        }
    }
    free (list);
}

//  --------------------------------------------------------------------------
//  Quarantine (coordinator/core/quarantine.h): (re)seal the list when
//  the set's version moved, and tell the adapter

static void
s_quarantine_build (coord_t *self, uint64_t now_ms)
{
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return;
    uint64_t version = quarantine_version (txn);
    uint8_t *payload = NULL;
    size_t payload_size = 0;
    int rc = -1;
    if (version && version != self->quarantine_version)
        rc = quarantine_payload (txn, &payload, &payload_size, &version);
    store_abort (&txn);
    uint8_t *frame;
    size_t size;
    if (rc == 0
    &&  coord_seal_payload (self, NULL, MSG_QUARANTINE, payload, payload_size, now_ms,
                            &frame, &size) == 0) {
        free (self->quarantine);
        self->quarantine = frame;
        self->quarantine_size = size;
        self->quarantine_version = version;
        zsys_info ("coord: quarantine list version %" PRIu64, version);
        if (self->quarantine_changed && now_ms)
            self->quarantine_changed (self->effects.ctx);
    }
    free (payload);
}

void
coord_set_quarantine_hook (coord_t *self, coord_quarantine_fn *fn)
{
    assert (self);
    self->quarantine_changed = fn;
}

const uint8_t *
coord_quarantine (coord_t *self, size_t *size_p)
{
    assert (self && size_p);
    *size_p = self->quarantine_size;
    return self->quarantine;
}

void
coord_set_revoked (coord_t *self, coord_revoked_fn *fn)
{
    assert (self);
    self->revoked = fn;
}

const uint8_t *
coord_revocations (coord_t *self, size_t *size_p)
{
    assert (self && size_p);
    *size_p = self->revocations_size;
    return self->revocations;
}

int
coord_custody_ack (coord_t *self, const uint8_t *ids, size_t count, uint64_t now_ms,
                   uint8_t **frame_p, size_t *size_p)
{
    assert (self && ids);
    meshmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_CUSTODY_ACK;
    msg.ids = ids;
    msg.id_count = count;
    uint8_t *payload;
    size_t payload_size;
    if (meshmsg_encode (&msg, &payload, &payload_size))
        return -1;
    //  Link-local: the HLC is its seq, like the nodes' own (no window)
    uint64_t hlc = now_ms << 16;
    self->hlc = hlc > self->hlc? hlc: self->hlc + 1;
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, sizeof env.id);
    env.type = MSG_CUSTODY_ACK;
    strcpy (env.origin, COORD_ORIGIN);
    env.seq = self->hlc;
    env.hlc = self->hlc;
    env.hop_limit = env.hops = 1;
    env.payload = payload;
    env.payload_size = payload_size;
    int rc = envelope_encode (&env, self->keys.sign_secret, frame_p, size_p);
    free (payload);
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
    char *text = result? registry_dump (result): NULL;
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_RPC_REPLY;
    memcpy (msg.rpc_reply.request_id, env->id, WEFT_ID_SIZE);
    msg.rpc_reply.status = status;
    snprintf (msg.rpc_reply.error, sizeof msg.rpc_reply.error, "%s", error);
    msg.rpc_reply.result = text? text: "{}";
    msg.rpc_reply.result_size = strlen (msg.rpc_reply.result);
    int rc = coord_seal (self, NULL, &msg, now_ms, reply_p, reply_size_p);
    if (rc && status == WEFT_STATUS_OK) {
        //  Most likely a result over the frame limits
        msg.rpc_reply.status = WEFT_STATUS_INTERNAL;
        snprintf (msg.rpc_reply.error, sizeof msg.rpc_reply.error, "result too large");
        msg.rpc_reply.result = "{}";
        msg.rpc_reply.result_size = 2;
        rc = coord_seal (self, NULL, &msg, now_ms, reply_p, reply_size_p);
    }
    free (text);
    return rc? -2: 0;
}

int
coord_on_rpc (coord_t *self, const char *user_id, const uint8_t *frame,
              size_t size, uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p)
{
    assert (self && reply_p && reply_size_p);
    *reply_p = NULL;
    envelope_t env;
    if (s_open (self, user_id, frame, size, &env, false))
        return -2;
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return -2;
    json_t *op = registry_operator_get (txn, env.origin);
    store_abort (&txn);
    uint8_t sign_key [32];
    rpc_caller_t caller;
    //  A revoked operator's open connection outlives ZAP: refuse it here
    bool known = op && s_record_key (op, "sign_key", sign_key) == 0
              && !json_is_true (json_object_get (op, "revoked"));
    if (known)
        rpc_caller_load (&caller, env.origin, op);      //  Grants from the record
    json_decref (op);
    if (!known) {
        self->stats.rejected_origin++;
        return -2;
    }
    if (envelope_verify (&env, sign_key)) {
        self->stats.rejected_signature++;
        s_debug (self, "coord: bad signature from operator %s", env.origin);
        return -2;
    }
    if (env.type != MSG_RPC_REQUEST) {
        self->stats.rejected_malformed++;
        return -2;
    }
    msg_t msg;
    if (msg_decode (&msg, MSG_RPC_REQUEST, env.payload, env.payload_size)) {
        self->stats.rejected_malformed++;
        return s_rpc_reply (self, &env, WEFT_STATUS_BAD_REQUEST, "malformed request",
                            NULL, now_ms, reply_p, reply_size_p);
    }
    if (s_expired (self, &env, now_ms))
        return s_rpc_reply (self, &env, WEFT_STATUS_EXPIRED, "request expired",
                            NULL, now_ms, reply_p, reply_size_p);

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
        s_debug (self, "coord: request from %s refused: %d", env.origin, fresh);
        return s_rpc_reply (self, &env,
            fresh == NONCES_REPLAY? WEFT_STATUS_DENIED
          : fresh == NONCES_NO_EXPIRY? WEFT_STATUS_EXPIRED
          : fresh == NONCES_FULL? WEFT_STATUS_DENIED: WEFT_STATUS_INTERNAL,
            fresh == NONCES_REPLAY? "replayed request"
          : fresh == NONCES_NO_EXPIRY? "request must expire within 60 s"
          : fresh == NONCES_FULL? "too many requests in the last minute": "store unavailable",
            NULL, now_ms, reply_p, reply_size_p);
    }
    self->stats.rpc_calls++;
    rpc_env_t rpc_env = { self->registry, self->pki, self->keys.curve_public, &self->stats };
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
        s_quarantine_build (self, now_ms);
    s_debug (self, "coord: %s called %s: %s%s%s", env.origin, msg.rpc_request.method,
                proto_status_name (result.status), result.status? " ": "", result.error);

    rc = s_rpc_reply (self, &env, result.status, result.error, result.result, now_ms,
                      reply_p, reply_size_p);
    rpc_result_clear (&result);
    if (revoked) {
        char id [WEFT_NAME_MAX + 1] = "";
        json_error_t error;
        json_t *args = json_loadb (msg.rpc_request.args, msg.rpc_request.args_size, 0, &error);
        bool device = streq (msg.rpc_request.method, "device.revoke");
        snprintf (id, sizeof id, "%s",
                  json_string_value (json_object_get (args, device? "id": "name"))?: "");
        json_decref (args);
        s_revocations_build (self, now_ms);
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
    if (result.push [0] && self->effects.push && !s_quarantined (self, result.push)) {
        txn = store_begin (self->store, false);
        json_t *twin = txn? registry_twin_get (txn, result.push): NULL;
        store_abort (&txn);
        uint8_t *frame_out;
        size_t frame_size;
        if (twin && s_desired (self, result.push, twin, now_ms, &frame_out, &frame_size) == 0) {
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
coord_admit (void *arg, const char *domain, const uint8_t client_key [32],
             char user_id [COORD_USER_ID_MAX + 1])
{
    coord_t *self = (coord_t *) arg;
    assert (self);
    if (streq (domain, "enrol")) {
        keys_hex (client_key, 32, user_id);
        return true;
    }
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return false;
    char *name = NULL;
    bool admit = false;
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
        json_decref (op);
    }
    store_abort (&txn);
    if (admit)
        snprintf (user_id, COORD_USER_ID_MAX + 1, "%s", name);
    free (name);
    return admit;
}

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
} s_rig_t;

static void
s_test_push (void *ctx, const char *device_id, const uint8_t *frame, size_t size)
{
    s_rig_t *rig = (s_rig_t *) ctx;
    assert (frame && size);
    rig->pushes++;
    snprintf (rig->pushed_to, sizeof rig->pushed_to, "%s", device_id);
}

static void
s_rig_open (s_rig_t *rig)
{
    rig->store = store_new (rig->path, registry_tables (), 0);
    assert (rig->store);
    coord_effects_t effects = { rig, s_test_push };
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

//  Sign an envelope as origin.
static uint8_t *
s_envelope (const keys_t *keys, const char *origin, uint64_t seq, const msg_t *msg,
            size_t *size_p)
{
    uint8_t *payload;
    size_t payload_size;
    assert (msg_encode (msg, &payload, &payload_size) == 0);
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, sizeof env.id);
    env.type = msg->type;
    snprintf (env.origin, sizeof env.origin, "%s", origin);
    env.seq = seq;
    env.hlc = seq;
    //  Operator requests must expire within a minute (nonces.h)
    if (msg->type == MSG_RPC_REQUEST)
        env.expiry = 1700000000000ULL + 30000;
    env.hop_limit = WEFT_HOP_LIMIT;
    env.hops = WEFT_HOP_LIMIT;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame;
    assert (envelope_encode (&env, keys->sign_secret, &frame, size_p) == 0);
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
    int rc = coord_on_rpc (rig->coord, name, frame, size, 1700000000000ULL,
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
    assert (coord_admit (rig->coord, "enrol", node->curve_public, link));
    uint8_t *reply;
    size_t reply_size;
    assert (coord_on_enrol (rig->coord, link, frame, size, 1700000000000ULL,
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
    assert (coord_admit (rig.coord, "rpc", admin.curve_public, user));
    assert (streq (user, "admin"));
    assert (!coord_admit (rig.coord, "rpc", stranger.curve_public, user));
    assert (!coord_admit (rig.coord, "mesh", node.curve_public, user));
    assert (!coord_admit (rig.coord, "other", admin.curve_public, user));

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
    assert (!coord_admit (rig.coord, "mesh", node.curve_public, user));
    assert (s_enrol (&rig, &node, "dev-1", token, out) == WEFT_STATUS_OK);
    assert (coord_admit (rig.coord, "mesh", node.curve_public, user));
    assert (streq (user, "dev-1"));
    assert (s_enrol (&rig, &node, "dev-1", token, out) == WEFT_STATUS_OK);
    assert (streq (out, "already enrolled"));
    assert (s_enrol (&rig, &stranger, "dev-2", token, out) == WEFT_STATUS_DENIED);
    assert (streq (out, "token already used"));
    assert (coord_stats (rig.coord)->enrolments == 1);
    assert (coord_stats (rig.coord)->enrol_refused == 2);
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
    assert (coord_on_enrol (rig.coord, link, frame, size, now_ms, &reply, &reply_size) == 0);
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
    assert (coord_on_mesh (rig.coord, "dev-1", frame, size, now_ms, &reply, &reply_size) == -2);
    assert (coord_stats (rig.coord)->rejected_replay == 1);
    assert (coord_on_mesh (rig.coord, "dev-9", frame, size, now_ms, &reply, &reply_size) == -2);
    assert (coord_stats (rig.coord)->rejected_origin == 1);
    free (frame);
    frame = s_envelope (&stranger, "dev-1", 3, &msg, &size);
    assert (coord_on_mesh (rig.coord, "dev-1", frame, size, now_ms, &reply, &reply_size) == -2);
    assert (coord_stats (rig.coord)->rejected_signature == 1);
    free (frame);
    assert (coord_on_mesh (rig.coord, "dev-1", (const uint8_t *) "junk", 4, now_ms,
                           &reply, &reply_size) == -2);
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
        assert (coord_on_mesh (rig.coord, "dev-1", frame, size, now_ms, &reply,
                               &reply_size) == 0);
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
    //  Reported twin of another device
    strcpy (msg.twin_reported.device, "dev-2");
    frame = s_envelope (&node, "dev-1", 6, &msg, &size);
    assert (coord_on_mesh (rig.coord, "dev-1", frame, size, now_ms, &reply, &reply_size) == -2);
    free (frame);

    //  Replay after a restart: the window was saved with the effect
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_RPC_REQUEST;
    strcpy (msg.rpc_request.method, "device.list");
    msg.rpc_request.args = "{}";
    msg.rpc_request.args_size = 2;
    frame = s_envelope (&admin, "admin", 1000, &msg, &size);
    uint64_t seq_before, seq_after;
    assert (coord_on_rpc (rig.coord, "admin", frame, size, now_ms, &reply, &reply_size) == 0);
    s_open_reply (&rig, reply, reply_size, MSG_RPC_REPLY, &answer, &seq_before);
    assert (answer.rpc_reply.status == WEFT_STATUS_OK);
    free (reply);
    s_rig_close (&rig);
    s_rig_open (&rig);
    assert (coord_on_rpc (rig.coord, "admin", frame, size, now_ms, &reply, &reply_size) == 0);
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
    assert (coord_on_rpc (rig.coord, "viv", frame, size, now_ms, &reply, &reply_size) == -2);
    assert (coord_stats (rig.coord)->rejected_origin == 1);
    free (frame);
    //  Heartbeat windows flushed by the destroy survive too
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_HEARTBEAT;
    frame = s_envelope (&node, "dev-1", 4, &msg, &size);
    assert (coord_on_mesh (rig.coord, "dev-1", frame, size, now_ms, &reply, &reply_size) == -2);
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

    //  Custody of a frame sent through a relay: the deadline brings the
    //  retry 1 s later, which goes through the push effect (the same
    //  frame) until a relay's CUSTODY_ACK names its id; INTERNAL (the
    //  relay could not commit it) keeps it
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_HEARTBEAT;
    frame = s_envelope (&rig.keys, COORD_ORIGIN, 77, &msg, &size);
    envelope_t sent;
    assert (envelope_decode (&sent, frame, size) == 0);
    coord_sent_custody (rig.coord, "dev-2", "dev-1", frame, size, now_ms);
    coord_sent_custody (rig.coord, "dev-2", "dev-1", frame, size, now_ms);   //  Held once
    coord_sent_custody (rig.coord, "dev-2", "dev-1", (const uint8_t *) "junk", 4, now_ms);
    assert (coord_stats (rig.coord)->custody_held == 1);
    assert (coord_deadline (rig.coord) == now_ms + 1000);
    int pushes = rig.pushes;
    coord_tick (rig.coord, now_ms + 999);
    assert (rig.pushes == pushes);
    coord_tick (rig.coord, now_ms + 1000);
    assert (rig.pushes == pushes + 1 && streq (rig.pushed_to, "dev-2"));
    assert (coord_stats (rig.coord)->custody_resent == 1);
    assert (coord_deadline (rig.coord) == now_ms + 1000 + 2000);
    //  Its relay linked again: due at once
    coord_relay_linked (rig.coord, "dev-1", now_ms + 1200);
    assert (coord_deadline (rig.coord) == now_ms + 1200);
    coord_tick (rig.coord, now_ms + 1200);
    assert (rig.pushes == pushes + 2 && coord_stats (rig.coord)->custody_resent == 2);
    assert (coord_deadline (rig.coord) == now_ms + 1200 + 1000);
    for (int status = WEFT_STATUS_INTERNAL; ; status = WEFT_STATUS_OK) {
        meshmsg_t ack;
        memset (&ack, 0, sizeof ack);
        ack.type = MSG_CUSTODY_ACK;
        ack.ids = sent.id;
        ack.id_count = 1;
        ack.status = status;
        uint8_t *payload;
        size_t payload_size;
        assert (meshmsg_encode (&ack, &payload, &payload_size) == 0);
        envelope_t env;
        memset (&env, 0, sizeof env);
        randombytes_buf (env.id, sizeof env.id);
        env.type = MSG_CUSTODY_ACK;
        strcpy (env.origin, "dev-1");
        env.seq = env.hlc = (now_ms << 16) + (uint64_t) status;
        env.hop_limit = env.hops = 1;
        env.payload = payload;
        env.payload_size = payload_size;
        uint8_t *ack_frame;
        size_t ack_size;
        assert (envelope_encode (&env, node.sign_secret, &ack_frame, &ack_size) == 0);
        free (payload);
        assert (coord_on_mesh (rig.coord, "dev-1", ack_frame, ack_size, now_ms + 1500,
                               &reply, &reply_size) == 0);
        assert (reply == NULL);
        free (ack_frame);
        if (status == WEFT_STATUS_OK)
            break;
        assert (coord_stats (rig.coord)->custody_held == 1);
    }
    assert (coord_stats (rig.coord)->custody_held == 0);
    assert (coord_stats (rig.coord)->custody_acked == 1);
    assert (coord_deadline (rig.coord) == now_ms + COORD_FLUSH_MS);
    free (frame);

    //  Sent to the device itself: only a TWIN_DESIRED is held, and the
    //  device's own ACK of it (by envelope id) releases it
    frame = s_envelope (&rig.keys, COORD_ORIGIN, 78, &msg, &size);    //  A heartbeat
    coord_sent_custody (rig.coord, "dev-1", "dev-1", frame, size, now_ms);
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
    coord_sent_custody (rig.coord, "dev-1", "dev-1", frame, size, now_ms);
    assert (coord_stats (rig.coord)->custody_held == 1);
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_ACK;
    memcpy (msg.ack.ack_id, sent.id, WEFT_ID_SIZE);
    msg.ack.status = WEFT_STATUS_OK;
    uint8_t *ack_frame = s_envelope (&node, "dev-1", 100, &msg, &size);
    assert (coord_on_mesh (rig.coord, "dev-1", ack_frame, size, now_ms, &reply,
                           &reply_size) == 0);
    free (ack_frame);
    assert (coord_stats (rig.coord)->custody_held == 0);
    assert (coord_stats (rig.coord)->custody_acked == 2);
    free (frame);

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
