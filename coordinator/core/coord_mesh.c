/*  coord_mesh - the mesh socket: heartbeats, twin reports, ACKs, custody
    ACKs from relays, gossip and the other link-local messages of the
    nodes linked to us; boot attestation's messages are handled in
    coord_mesh_attest.c.
    Heartbeats and ACKs advance the replay window in memory only; the
    adapter's coord_commit makes it durable before any reply leaves.
    Every envelope that decodes gets an answer for its custody transfer
    (coord_link_t): OK, INTERNAL when we could not store it (the sender
    retransmits), or the refusal and its reason, which ends the sender's
    custody; a refused twin report also gets an ACK with that status, so
    the device's own retransmissions end too. Only bytes that are no
    envelope are dropped without an answer (docs/protocol.md, section
    16.2 lists every refusal).  */

#include "proto/corelib.h"
#include <stdarg.h>
#include <sodium.h>
#include "proto/meshmsg.h"
#include "proto/tpmmsg.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/attest_software.h"
#include "coordinator/core/attest_state.h"
#include "coordinator/core/attest_delegated.h"
#include "coordinator/core/hierarchy.h"
#include "coordinator/core/coord_internal.h"

//  Refuse the envelope link carries: its CUSTODY_ACK says status and
//  why. Logged at debug level (the counters count). Returns
//  PROTO_ERR_REFUSED.
int
coord_refuse (coord_t *self, coord_link_t *link, const envelope_t *env, int status,
              const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (link->ack_reason, sizeof link->ack_reason, format, args);
    va_end (args);
    link->ack_status = status;
    coord_debug (self, "coord: %s from %s refused: %s %s",
                 proto_msg_name (env->type)? proto_msg_name (env->type): "envelope",
                 env->origin, proto_status_name (status), link->ack_reason);
    return PROTO_ERR_REFUSED;
}

//  Refuse an envelope whose payload did not decode (rc): counted
int
coord_refuse_malformed (coord_t *self, coord_link_t *link, const envelope_t *env, int rc)
{
    self->stats.rejected_malformed++;
    return coord_refuse (self, link, env, WEFT_STATUS_BAD_REQUEST, "malformed %s: %s",
                         proto_msg_name (env->type), proto_strerror (rc));
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
//  coord_fresh checks the seq into a copy of the window (0, or
//  PROTO_ERR_REFUSED with the refusal set on link: a replay DENIED, the
//  store unreadable INTERNAL);
//  registry_replay_set then accepts it. A message whose effect is
//  stored accepts it only once that is done, so a store failure
//  (INTERNAL: the sender retransmits) leaves the seq fresh for the
//  retransmission.
static int
s_fresh_in (coord_t *self, store_txn_t *txn, coord_link_t *link, const envelope_t *env,
            const char *origin_key, replay_t *window)
{
    registry_replay_window (self->registry, txn, origin_key, window);
    if (replay_accept (window, env->seq)) {
        self->stats.rejected_replay++;
        return coord_refuse (self, link, env, WEFT_STATUS_DENIED,
                             "replayed: seq %" PRIu64 " of %s was seen or is too old",
                             env->seq, env->origin);
    }
    return 0;
}

int
coord_fresh (coord_t *self, coord_link_t *link, const envelope_t *env, const char *origin_key,
             replay_t *window)
{
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return coord_refuse (self, link, env, WEFT_STATUS_INTERNAL, "store unavailable");
    int rc = s_fresh_in (self, txn, link, env, origin_key, window);
    store_abort (&txn);
    return rc;
}

//  Take env's seq into its origin's window, read in txn
static int
s_accept_pending_in (coord_t *self, store_txn_t *txn, coord_link_t *link,
                     const envelope_t *env, const char *origin_key)
{
    replay_t window;
    if (s_fresh_in (self, txn, link, env, origin_key, &window))
        return PROTO_ERR_REFUSED;
    registry_replay_set (self->registry, origin_key, &window, true);
    return 0;
}

static int
s_accept_pending (coord_t *self, coord_link_t *link, const envelope_t *env,
                  const char *origin_key)
{
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return coord_refuse (self, link, env, WEFT_STATUS_INTERNAL, "store unavailable");
    int rc = s_accept_pending_in (self, txn, link, env, origin_key);
    store_abort (&txn);
    return rc;
}

int
coord_commit (coord_t *self)
{
    assert (self);
    //  The frames taken into custody since the last burst go with it
    //  (failing, they stay in memory and go with the next one)
    if (custody_flush (self->custody))
        zsys_warning ("coord: the frames held in custody are not on disk yet");
    return registry_flush_windows (self->registry);
}

//  A heartbeat, read in txn (the check-in's read transaction)
static int
s_heartbeat (coord_t *self, store_txn_t *txn, coord_link_t *link, const envelope_t *env,
             const msg_heartbeat_t *heartbeat, const char *origin_key, uint64_t now_ms,
             uint8_t **reply_p, size_t *reply_size_p)
{
    if (s_accept_pending_in (self, txn, link, env, origin_key))
        return PROTO_ERR_REFUSED;
    registry_seen (self->registry, env->origin, now_ms);
    json_t *twin = registry_twin_get (txn, env->origin);
    uint64_t version = json_integer_value (json_object_get (twin, "desired_version"));
    int rc = 0;
    if (twin && heartbeat->desired_version < version) {
        coord_debug (self, "coord: %s holds desired %" PRIu64 ", sending %" PRIu64,
                    env->origin, heartbeat->desired_version, version);
        rc = coord_seal_desired (self, env->origin, twin, now_ms, reply_p, reply_size_p)? PROTO_ERR_INTERNAL: 0;
    }
    json_decref (twin);
    return rc;
}

//  Refuse a twin report: its CUSTODY_ACK and an ACK to the device carry
//  the status and reason, so the device stops retransmitting it
static int
s_refuse_report (coord_t *self, coord_link_t *link, const envelope_t *env, int status,
                 uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p,
                 const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char reason [WEFT_TEXT_MAX + 1];
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    coord_refuse (self, link, env, status, "%s", reason);
    return coord_ack (self, env, status, reason, now_ms, reply_p, reply_size_p);
}

static int
s_reported (coord_t *self, coord_link_t *link, const envelope_t *env,
            const msg_twin_reported_t *reported, const char *origin_key,
            const char *quarantined,
            uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p,
            store_txn_t **txn_p, registry_device_t *device)
{
    //  Checked in this order; each refusal is for good (the same bytes
    //  would be refused again), so the ACK ends the device's retries.
    //  The transaction ends before an ACK is sealed: sealing may reserve
    //  sequence numbers, a write of its own
    if (!streq (reported->device, env->origin)) {
        self->stats.rejected_origin++;
        store_abort (txn_p);
        return s_refuse_report (self, link, env, WEFT_STATUS_DENIED, now_ms, reply_p,
                                reply_size_p, "report names device %s, not its origin %s",
                                reported->device, env->origin);
    }
    if (quarantined) {
        self->stats.rejected_origin++;
        store_abort (txn_p);
        return s_refuse_report (self, link, env, WEFT_STATUS_DENIED, now_ms, reply_p,
                                reply_size_p, "%s is quarantined (%s): report refused",
                                env->origin, quarantined);
    }
    json_error_t error;
    json_t *doc = NULL;
    if (reported->doc_size <= REGISTRY_DOC_MAX)
        doc = json_loadb (reported->doc, reported->doc_size, JSON_REJECT_DUPLICATES, &error);
    if (!json_is_object (doc)) {
        json_decref (doc);
        self->stats.rejected_malformed++;
        store_abort (txn_p);
        return s_refuse_report (self, link, env, WEFT_STATUS_BAD_REQUEST, now_ms, reply_p,
                                reply_size_p, "reported document must be a JSON object of "
                                "at most %d bytes", REGISTRY_DOC_MAX);
    }
    //  The transaction coord_on_mesh_link began, in which the device
    //  was authenticated
    store_txn_t *txn = *txn_p;
    *txn_p = NULL;
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
            return coord_ack (self, env, WEFT_STATUS_OK, "duplicate", now_ms,
                          reply_p, reply_size_p);
        }
        self->stats.rejected_replay++;
        return s_refuse_report (self, link, env, WEFT_STATUS_DENIED, now_ms, reply_p,
                                reply_size_p, "replayed: seq %" PRIu64 " of %s was seen "
                                "or is too old", env->seq, env->origin);
    }
    if (rc == 0)
        rc = registry_replay_put (txn, origin_key, &window);
    campaign_run_t run;         //  The campaign that holds the device moves with it
    campaign_run_init (&run, txn, self->pki, self->keys.sign_secret, "coordinator", now_ms);
    if (rc == 0 && reported->version > held) {
        json_object_set (twin, "reported", doc);
        json_object_set_new (twin, "reported_version", json_integer (reported->version));
        json_object_set_new (twin, "applied_version",
                             json_integer (reported->desired_version));
        json_object_set_new (twin, "status", json_string (reported->status));
        rc = registry_twin_put (txn, env->origin, twin);
        //  fw/hw/sw the node reports under "weft" become its metadata
        if (rc == 0)
            rc = registry_device_report_meta (txn, env->origin, device, doc);
        if (rc == 0)
            rc = coord_campaign_report (self, &run, env->origin, doc,
                                        reported->desired_version, reported->status);
        //  A committed release brings its reference values to the
        //  device's expected state, from its own tenant's repository
        char note [WEFT_TEXT_MAX + 1];
        if (rc == 0
        &&  attest_software_follow (txn, env->origin, device->tenant,
                                    json_object_get (doc, "software"), note, sizeof note) < 0)
            rc = -1;
        if (rc == 0 && note [0])
            zsys_info ("coord: %s", note);
    }
    if (rc == 0)
        rc = store_commit (&txn);
    store_abort (&txn);
    coord_campaign_end (self, &run, rc == 0, now_ms);
    json_decref (twin);
    json_decref (doc);
    if (rc) {
        //  No ACK: the node retransmits and we try again
        zsys_warning ("coord: cannot store the report of %s", env->origin);
        return coord_refuse (self, link, env, WEFT_STATUS_INTERNAL, "cannot store the report");
    }
    registry_replay_set (self->registry, origin_key, &window, false);
    registry_seen (self->registry, env->origin, now_ms);
    if (reported->version > held)
        coord_debug (self, "coord: %s reported version %" PRIu64 " (desired %" PRIu64 " %s)",
                    env->origin, reported->version, reported->desired_version,
                    reported->status);
    return coord_ack (self, env, WEFT_STATUS_OK, "", now_ms, reply_p, reply_size_p);
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
    int rc = meshmsg_decode (&msg, env->type, env->payload, env->payload_size);
    if (rc)
        return coord_refuse_malformed (self, link, env, rc);
    //  A relay took custody of frames we sent through it, or refused them
    //  for good (INTERNAL: it could not commit them: again after its
    //  link's back-off)
    if (env->type == MSG_CUSTODY_ACK) {
        size_t refused = 0;
        for (size_t i = 0; i < msg.id_count; i++)
            if (msg.status == WEFT_STATUS_OK)
                custody_ack (self->custody, msg.ids + i * WEFT_ID_SIZE, now_ms);
            else
            if (msg.status == WEFT_STATUS_INTERNAL)
                custody_not_taken (self->custody, msg.ids + i * WEFT_ID_SIZE, now_ms);
            else
            if (custody_refused (self->custody, msg.ids + i * WEFT_ID_SIZE, now_ms) == 0)
                refused++;
        if (refused) {
            char hex [2 * WEFT_ID_SIZE + 1];
            envelope_id_hex (msg.ids, hex);
            zsys_warning ("coord: %s refused %zu envelope%s we sent (%s%s): %s %s",
                          env->origin, refused, refused > 1? "s": "", hex,
                          msg.id_count > 1? ", ...": "", proto_status_name (msg.status),
                          msg.reason);
        }
    }
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

bool
coord_mesh_key (coord_t *self, store_txn_t *txn, const char *user_id, bool custody,
                const uint8_t *frame, size_t size, uint8_t key [32])
{
    assert (self && txn && key);
    envelope_t env;
    if (!user_id || envelope_decode (&env, frame, size)
    ||  (!streq (env.origin, user_id) && (!custody || streq (env.origin, COORD_ORIGIN))))
        return false;
    registry_device_t device;
    registry_device_init (&device);
    bool known = registry_device_read (txn, env.origin, &device) == 0
              && !device.revoked && device.has_sign_key;
    if (known)
        memcpy (key, device.sign_key, 32);
    registry_device_fini (&device);
    return known;
}

//  Was the envelope on link checked already, with sign_key (the verifier
//  pool of the adapter, coord_mesh_key)?
static bool
s_checked (const coord_link_t *link, const uint8_t sign_key [32])
{
    return link->checked && memcmp (link->checked_key, sign_key, 32) == 0;
}

//  Is the device's record one of a device with a TPM?
static bool
s_has_tpm (const registry_device_t *device)
{
    return device->assurance && streq (device->assurance, "tpm");
}

//  Take one frame. txn_p is where a report's transaction lives (the
//  caller aborts what is left of it); device, the origin's record.
static int
s_on_mesh_link (coord_t *self, const char *user_id, coord_link_t *link,
                const uint8_t *frame, size_t size, uint64_t now_ms,
                uint8_t **reply_p, size_t *reply_size_p, store_txn_t **txn_p,
                registry_device_t *device)
{
    *reply_p = NULL;
    link->decoded = false;
    link->origin [0] = 0;
    link->reply_dest [0] = 0;
    link->ack_status = WEFT_STATUS_OK;
    link->ack_reason [0] = 0;
    envelope_t env;
    int rc = envelope_decode (&env, frame, size);
    if (rc) {
        //  Not intact: nothing to acknowledge, no id to name
        self->stats.rejected_malformed++;
        coord_debug (self, "coord: undecodable envelope from %s: %s",
                     user_id? user_id: "?", proto_strerror (rc));
        return PROTO_ERR_DROPPED;
    }
    link->decoded = true;
    memcpy (link->id, env.id, WEFT_ID_SIZE);
    if (!user_id || (!streq (env.origin, user_id)
                     && (!link->custody || streq (env.origin, COORD_ORIGIN)))) {
        self->stats.rejected_origin++;
        return coord_refuse (self, link, &env, WEFT_STATUS_DENIED,
                             "origin %s on the link of %s", env.origin,
                             user_id? user_id: "nobody");
    }
    //  A report is read, checked and written in one transaction, which
    //  begins here as a write; a heartbeat is answered from one read
    //  transaction; anything else only reads the origin
    bool report = env.type == MSG_TWIN_REPORTED;
    *txn_p = store_begin (self->store, report);
    if (!*txn_p)
        return coord_refuse (self, link, &env, WEFT_STATUS_INTERNAL, "store unavailable");
    bool known = registry_device_read (*txn_p, env.origin, device) == 0
              && !device->revoked && device->has_sign_key;
    if (!report && !(known && env.type == MSG_HEARTBEAT))
        store_abort (txn_p);
    //  One reason for an unknown or revoked origin and a bad signature,
    //  so a relay cannot learn from it which device ids exist
    if (!known
    ||  (!s_checked (link, device->sign_key) && envelope_verify (&env, device->sign_key))) {
        if (known)
            self->stats.rejected_signature++;
        else
            self->stats.rejected_origin++;
        return coord_refuse (self, link, &env, WEFT_STATUS_DENIED, "not authenticated: %s is "
                             "unknown or revoked, or the signature does not verify", env.origin);
    }
    if (coord_envelope_expired (self, &env, now_ms))
        return coord_refuse (self, link, &env, WEFT_STATUS_EXPIRED, "expired at %" PRIu64
                             " (unix ms), received at %" PRIu64, env.expiry, now_ms);
    snprintf (link->origin, sizeof link->origin, "%s", env.origin);
    if (link->custody)
        snprintf (link->reply_dest, sizeof link->reply_dest, "%s", env.origin);
    s_mesh_seen (self, &env, link->custody);
    if (env.type == MSG_POLICY || env.type == MSG_POLICY_SUMMARY || env.type == MSG_POLICY_KEYS) {
        //  Gossip speaks only between neighbours
        link->reply_dest [0] = 0;
        if (link->custody) {
            self->stats.rejected_malformed++;
            return coord_refuse (self, link, &env, WEFT_STATUS_DENIED,
                                 "policy gossip is link-local, never a custody transfer");
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
    if (env.type == MSG_CHUNK_WANT || env.type == MSG_CHUNK_DATA) {
        link->reply_dest [0] = 0;
        if (link->custody) {
            self->stats.rejected_malformed++;
            return coord_refuse (self, link, &env, WEFT_STATUS_DENIED,
                                 "the chunk exchange is link-local, never a custody transfer");
        }
        updmsg_t want;
        rc = updmsg_decode (&want, env.type, env.payload, env.payload_size);
        if (rc)
            return coord_refuse_malformed (self, link, &env, rc);
        //  We never ask: a CHUNK_DATA is dropped
        if (env.type == MSG_CHUNK_WANT)
            coord_chunk_want (self, env.origin, device->tenant, &want, now_ms);
        return 0;
    }
    if (env.type == MSG_SITE_REPORT)
        return coord_campaign_site_report (self, link, &env, now_ms, reply_p, reply_size_p);
    if (env.type == MSG_ATTEST_EVIDENCE)
        return coord_on_attest_evidence (self, link, &env, now_ms, reply_p, reply_size_p);
    if (env.type == MSG_DELEGATED_VERDICT)
        return coord_on_attest_delegated (self, link, &env, now_ms);
    if (env.type != MSG_HEARTBEAT && env.type != MSG_TWIN_REPORTED && env.type != MSG_ACK) {
        self->stats.rejected_malformed++;
        if (proto_msg_name (env.type))
            return coord_refuse (self, link, &env, WEFT_STATUS_BAD_REQUEST,
                                 "%s is not taken on the mesh socket", proto_msg_name (env.type));
        return coord_refuse (self, link, &env, WEFT_STATUS_BAD_REQUEST,
                             "unknown message type %d", env.type);
    }
    msg_t msg;
    rc = msg_decode (&msg, env.type, env.payload, env.payload_size);
    if (rc)
        return coord_refuse_malformed (self, link, &env, rc);
    char origin_key [WEFT_NAME_MAX + 3];
    snprintf (origin_key, sizeof origin_key, "d/%s", env.origin);
    const char *quarantined = env.type == MSG_HEARTBEAT || env.type == MSG_TWIN_REPORTED
                            ? coord_quarantined_in (self, *txn_p, env.origin, now_ms): NULL;
    if (env.type == MSG_HEARTBEAT) {
        //  A quarantined device gets no desired twin, only challenges
        msg_heartbeat_t heartbeat = msg.heartbeat;
        if (quarantined)
            heartbeat.desired_version = UINT64_MAX;
        rc = s_heartbeat (self, *txn_p, link, &env, &heartbeat, origin_key, now_ms,
                          reply_p, reply_size_p);
        //  One answer a heartbeat: the desired twin, else a newer
        //  passport than the node holds, else a challenge if it is due
        //  (a device without a TPM is never challenged)
        if (rc == 0 && !*reply_p)
            coord_attest_passport (self, *txn_p, env.origin, msg.heartbeat.passport_ms, now_ms,
                                   reply_p, reply_size_p);
        if (rc == 0 && !*reply_p && s_has_tpm (device)) {
            //  Done reading: the challenge writes in a transaction of its own
            store_abort (txn_p);
            coord_attest_challenge (self, env.origin, msg.heartbeat.uptime_s, now_ms,
                                    reply_p, reply_size_p);
        }
        return rc;
    }
    if (env.type == MSG_TWIN_REPORTED)
        return s_reported (self, link, &env, &msg.twin_reported, origin_key, quarantined,
                           now_ms, reply_p, reply_size_p, txn_p, device);
    //  ACK of a TWIN_DESIRED: a later heartbeat says what the node holds;
    //  a copy sent to it directly need not be sent again, also when the
    //  node refused it for good
    if (s_accept_pending (self, link, &env, origin_key))
        return PROTO_ERR_REFUSED;
    if (msg.ack.status == WEFT_STATUS_OK)
        custody_ack (self->custody, msg.ack.ack_id, now_ms);
    else
    if (msg.ack.status == WEFT_STATUS_INTERNAL)
        custody_not_taken (self->custody, msg.ack.ack_id, now_ms);
    else {
        //  A device that refuses its update offer for good fails in its
        //  campaign now, not at its deadline
        const custody_entry_t *held = custody_find (self->custody, msg.ack.ack_id);
        if (held && held->type == MSG_UPDATE_OFFER && streq (held->dest, env.origin))
            coord_campaign_refused (self, env.origin, msg.ack.message, now_ms);
        //  A site server that refuses its directive: the site's devices
        //  fail with its reason rather than stay pending
        if (held && held->type == MSG_SITE_DIRECTIVE && streq (held->dest, env.origin)) {
            size_t size;
            uint8_t *frame = custody_frame (self->custody, held, &size);
            if (frame)
                coord_campaign_directive_refused (self, env.origin, frame, size,
                                                  msg.ack.message, now_ms);
            free (frame);
        }
        if (custody_refused (self->custody, msg.ack.ack_id, now_ms) == 0)
            zsys_warning ("coord: %s refused an envelope we sent: %s %s", env.origin,
                          proto_status_name (msg.ack.status), msg.ack.message);
    }
    registry_seen (self->registry, env.origin, now_ms);
    return 0;
}

int
coord_on_mesh_link (coord_t *self, const char *user_id, coord_link_t *link,
                    const uint8_t *frame, size_t size, uint64_t now_ms,
                    uint8_t **reply_p, size_t *reply_size_p)
{
    assert (self && link && reply_p && reply_size_p);
    store_txn_t *txn = NULL;
    registry_device_t device;
    registry_device_init (&device);
    int rc = s_on_mesh_link (self, user_id, link, frame, size, now_ms, reply_p, reply_size_p,
                             &txn, &device);
    store_abort (&txn);
    registry_device_fini (&device);
    return rc;
}

int
coord_custody_ack (coord_t *self, const uint8_t *ids, size_t count, int status,
                   const char *reason, uint64_t now_ms, uint8_t **frame_p, size_t *size_p)
{
    assert (self);
    return coord_custody_ack_seal (self, coord_custody_ack_hlc (self, now_ms), ids, count,
                                   status, reason, frame_p, size_p);
}

uint64_t
coord_custody_ack_hlc (coord_t *self, uint64_t now_ms)
{
    assert (self);
    //  Link-local: the HLC is its seq, like the nodes' own (no window)
    return hlc_next (&self->hlc, now_ms);
}

int
coord_custody_ack_seal (const coord_t *self, uint64_t hlc, const uint8_t *ids, size_t count,
                        int status, const char *reason, uint8_t **frame_p, size_t *size_p)
{
    assert (self && ids);
    meshmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_CUSTODY_ACK;
    msg.ids = ids;
    msg.id_count = count;
    msg.status = status;
    snprintf (msg.reason, sizeof msg.reason, "%s", reason? reason: "");
    uint8_t *payload;
    size_t payload_size;
    if (meshmsg_encode (&msg, &payload, &payload_size))
        return -1;
    envelope_head_t head = { .type = MSG_CUSTODY_ACK, .origin = COORD_ORIGIN,
                             .seq = hlc, .hlc = hlc, .hop_limit = 1 };
    int rc = envelope_seal (&head, payload, payload_size, self->keys.sign_secret, NULL,
                            frame_p, size_p);
    free (payload);
    return rc? -1: 0;
}

//  --------------------------------------------------------------------------
//  Overdue attestations: alerted once, when they fall due; the device is
//  quarantined from then on by its state (attest_state.h), here and, by
//  its expired passport, at its peers

static void
s_overdue_alert (void *arg, const char *device_id, json_t *verdict)
{
    (void) arg;
    zsys_warning ("coord: ALERT attestation of %s overdue: no pass since %" JSON_INTEGER_FORMAT
                  " (unix s)%s; quarantined until it attests again", device_id,
                  json_integer_value (json_object_get (verdict, "time")),
                  json_is_true (json_object_get (verdict, "cleared"))? ", when it was cleared": "");
}

void
coord_overdue_sweep (coord_t *self, uint64_t now_ms)
{
    store_txn_t *txn = store_begin (self->store, true);
    int taken = txn? attest_overdue_sweep (txn, now_ms, COORD_OVERDUE_BATCH, s_overdue_alert,
                                           self): -1;
    if (taken > 0 && store_commit (&txn))
        zsys_error ("coord: cannot record the overdue sweep");
    store_abort (&txn);
    if (taken < 0)
        zsys_error ("coord: overdue sweep failed");
}
