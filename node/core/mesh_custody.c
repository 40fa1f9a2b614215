/*  mesh_custody - custody relay: frames taken from neighbours, their
    CUSTODY_ACKs, duplicate suppression and forwarding from the outbox
    A frame is acknowledged only after mesh_flush committed it (outbox.h);
    its id is marked seen then too, so a retransmission after a failed
    commit is taken again, and one after a good commit is only ACKed.
    A frame refused for good is answered at once with the refusal's
    status and reason and never marked seen: its retransmission meets
    the same checks and gets the same answer. Undecodable bytes, and
    frames before the link's HELLO (the sender retries once it is
    verified), get no answer.
    The ids taken are remembered for SEEN_WINDOW_MS by their envelope's
    time (proto/seen.h); a frame to relay whose time is older than that
    window is refused (EXPIRED): it could have been taken before and
    forgotten. Frames for this node itself are handed on whatever their
    age (the agent's replay window judges them).  */

#include "proto/corelib.h"
#include <stdarg.h>
#include "node/core/mesh_internal.h"

//  --------------------------------------------------------------------------
//  Custody: seen ids, ACKs, refusals

//  The envelope's time: the millisecond part of its hlc
static uint64_t
s_time (const envelope_t *env)
{
    return env->hlc >> 16;
}

static int
s_seen (mesh_t *self, const envelope_t *env)
{
    return seen_check (self->seen, env->id, s_time (env), self->now_ms);
}

static void
s_mark_seen (mesh_t *self, const envelope_t *env)
{
    seen_add (self->seen, env->id, s_time (env), self->now_ms);
}

//  Room for one more item of size in a flat array that grows by
//  doubling (a burst's worth at most: it is emptied at every flush)
static void *
s_room (void *items, size_t count, size_t *max_p, size_t size)
{
    if (count < *max_p)
        return items;
    *max_p = *max_p? 2 * *max_p: 4;    //  A link's ACKs: a handful per flush
    items = realloc (items, *max_p * size);
    assert (items);
    return items;
}

static void
s_pend_seen (mesh_t *self, const envelope_t *env)
{
    self->pending = (mesh_pending_t *) s_room (self->pending, self->pending_count,
                                               &self->pending_max, sizeof (mesh_pending_t));
    mesh_pending_t *pending = &self->pending [self->pending_count++];
    memcpy (pending->id, env->id, WEFT_ID_SIZE);
    pending->time_ms = s_time (env);
}

//  A flush visits only the links with ACKs queued, not every link (a
//  site server has hundreds)
static void
s_queue_ack (mesh_t *self, mesh_link_t *link, const uint8_t *id)
{
    //  The coordinator too keeps custody of what it sends us until then
    if (link->ack_count == 0)
        zlistx_add_end (self->ack_links, strdup (link->name));
    link->acks = (uint8_t *) s_room (link->acks, link->ack_count, &link->ack_max,
                                     WEFT_ID_SIZE);
    memcpy (link->acks + link->ack_count++ * WEFT_ID_SIZE, id, WEFT_ID_SIZE);
}

//  ACK at once with a status that ends the sender's retransmissions
//  (INTERNAL: it retransmits), and the reason
static void
s_refuse (mesh_t *self, mesh_link_t *link, const envelope_t *env, const char *dest,
          int status, uint64_t now_ms, const char *format, ...)
{
    meshmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_CUSTODY_ACK;
    msg.ids = env->id;
    msg.id_count = 1;
    msg.status = status;
    va_list args;
    va_start (args, format);
    vsnprintf (msg.reason, sizeof msg.reason, format, args);
    va_end (args);
    mesh_debug (self, "mesh: %s from %s for %s refused: %s (%s)",
                proto_msg_name (env->type)? proto_msg_name (env->type): "envelope",
                env->origin, dest, msg.reason, proto_status_name (status));
    mesh_send_local (self, link, now_ms, &msg);
}

static int
s_class_of (int type)
{
    switch (type) {
        case MSG_ACK:
        case MSG_REVOCATIONS:
        case MSG_QUARANTINE:
        case MSG_RPC_REQUEST:
        case MSG_RPC_REPLY:         return OUTBOX_CONTROL;
        case MSG_TWIN_DESIRED:
        case MSG_TWIN_REPORTED:     return OUTBOX_TWIN;
        case MSG_ATTEST_CHALLENGE:
        case MSG_ATTEST_EVIDENCE:
        case MSG_DELEGATED_VERDICT:
        case MSG_PASSPORT:          return OUTBOX_EVIDENCE;
        case MSG_HEARTBEAT:
        case MSG_NODE_STATS:        return OUTBOX_TELEMETRY;
        default:                    return OUTBOX_BULK;
    }
}

//  Is this the neighbour's own envelope on its way to the coordinator?
//  Then the link has authenticated its origin already: the link's CURVE
//  key is the one in the neighbour's certificate (checked at HELLO), and
//  CURVE authenticates every frame on it, so nobody but the neighbour
//  can have sent it, and the neighbour signs with its own key anyway.
//  The coordinator checks every signature with the registered key, so a
//  bad one (the neighbour's own fault) still dies there, is refused with
//  a reason and never applied. ATTEST_EVIDENCE is checked all the same:
//  a site server may take it here (fx.intercept) instead of relaying it.
//  See docs/mesh.md, Signatures.
static bool
s_vouched_by_link (mesh_link_t *link, const char *dest, const envelope_t *env)
{
    return link->kind != MESH_LINK_COORDINATOR && streq (env->origin, link->peer)
        && streq (dest, MESH_COORDINATOR) && env->type != MSG_ATTEST_EVIDENCE;
}

//  The key a custody frame's signature is checked with: the
//  coordinator's always; the neighbour's own (first hop) unless the
//  link vouches for it; any other origin whose certificate we hold.
//  NULL: not checked here.
static const uint8_t *
s_custody_key (mesh_t *self, mesh_link_t *link, const char *dest, const envelope_t *env)
{
    if (streq (env->origin, MESH_COORDINATOR))
        return self->coord_sign;
    if (link->kind == MESH_LINK_COORDINATOR)
        return NULL;                //  Relayed by the coordinator: trust it
    if (s_vouched_by_link (link, dest, env))
        return NULL;
    if (streq (env->origin, link->peer))
        return link->sign_key;
    return (const uint8_t *) zhashx_lookup (self->certs, env->origin);
}

int
mesh_on_custody (mesh_t *self, mesh_link_t *link, const char *dest, const uint8_t *frame,
                 size_t size, const envelope_t *decoded, uint64_t now_ms)
{
    if (!link->verified) {
        self->stats.unauthenticated++;
        mesh_debug (self, "mesh: custody frame on %s before HELLO, dropped", link->name);
        return -1;
    }
    envelope_t env;
    if (decoded)
        env = *decoded;
    else
    if (envelope_decode (&env, frame, size)) {
        self->stats.malformed++;
        return -1;
    }
    self->now_ms = now_ms;
    int seen = s_seen (self, &env);
    if (seen == SEEN_DUPLICATE) {
        self->stats.duplicates++;
        s_queue_ack (self, link, env.id);
        return 0;
    }
    const uint8_t *key = s_custody_key (self, link, dest, &env);
    bool checked = key && self->checked_key
                && memcmp (key, self->checked_key, WEFT_KEY_SIZE) == 0;
    if (key && !checked && envelope_verify (&env, key)) {
        self->stats.forged++;
        zsys_warning ("mesh: forged or tampered envelope (origin %s) from %s dropped",
                      env.origin, link->peer);
        s_refuse (self, link, &env, dest, WEFT_STATUS_DENIED, now_ms,
                  "the signature of %s does not verify", env.origin);
        return -1;
    }
    if (mesh_is_revoked (self, env.origin, NULL)) {
        self->stats.revoked++;
        s_refuse (self, link, &env, dest, WEFT_STATUS_DENIED, now_ms, "%s is revoked", env.origin);
        return -1;
    }
    int refusal = mesh_quarantine_refuses (self, link, &env, dest, now_ms);
    if (refusal == MESH_QUARANTINED) {
        self->stats.quarantined++;
        s_refuse (self, link, &env, dest, WEFT_STATUS_DENIED, now_ms,
                  "quarantined: of %s's traffic, or of traffic to %s, only attestation "
                  "passes", env.origin, dest);
        return -1;
    }
    if (refusal == MESH_UNATTESTED) {
        self->stats.unattested++;
        s_refuse (self, link, &env, dest, WEFT_STATUS_DENIED, now_ms,
                  "no fresh attestation: of %s's traffic, or of traffic to %s, only "
                  "attestation passes", env.origin, dest);
        return -1;
    }
    if (mesh_gossip_type (env.type)) {
        //  The coordinator's gossip, sent to us by name: never relayed
        if (link->kind != MESH_LINK_COORDINATOR || !streq (env.origin, MESH_COORDINATOR)) {
            self->stats.malformed++;
            s_refuse (self, link, &env, dest, WEFT_STATUS_DENIED, now_ms,
                      "policy gossip is link-local, never a custody transfer");
            return -1;
        }
        return gossip_on_message (self->gossip, link->name, env.type, env.payload,
                                  env.payload_size, now_ms);
    }
    if (streq (dest, "*")) {
        if ((env.type != MSG_REVOCATIONS && env.type != MSG_QUARANTINE)
        ||  !streq (env.origin, MESH_COORDINATOR)) {
            self->stats.malformed++;
            s_refuse (self, link, &env, dest, WEFT_STATUS_DENIED, now_ms,
                      "only the coordinator's REVOCATIONS and QUARANTINE go to every node");
            return -1;
        }
        self->now_ms = now_ms;
        int rc = env.type == MSG_REVOCATIONS? mesh_on_revocations (self, frame, size, now_ms)
                                            : mesh_on_quarantine (self, frame, size);
        if (rc == PROTO_ERR_STORE)
            return -1;              //  Not stored: not ACKed, the sender retries
        if (rc == -1) {
            self->stats.malformed++;
            s_refuse (self, link, &env, dest, WEFT_STATUS_BAD_REQUEST, now_ms, "malformed %s",
                      proto_msg_name (env.type));
            return -1;
        }
        if (link->kind != MESH_LINK_COORDINATOR) {
            if (env.type == MSG_REVOCATIONS)
                link->revocations = self->revocations;
            else
                link->quarantine = qlist_version (self->quarantine);
            s_queue_ack (self, link, env.id);
        }
        return 0;
    }
    //  Evidence a neighbour sends in answer to our own challenge (a
    //  site server's delegated verification) ends here, whatever its
    //  destination; its signature was checked above (first hop)
    bool ours = env.type == MSG_ATTEST_EVIDENCE && streq (env.origin, link->peer)
             && self->fx.intercept && self->fx.intercept (self->fx.ctx, frame, size);
    if (ours || streq (dest, self->name)) {
        //  Our passport is the mesh's (mesh_attest.c); the rest the agent's
        char reason [WEFT_TEXT_MAX + 1] = "";
        int status = ours? WEFT_STATUS_OK
                   : env.type == MSG_PASSPORT? mesh_on_passport (self, &env, now_ms, reason)
                   : self->fx.deliver (self->fx.ctx, frame, size, reason);
        if (status != WEFT_STATUS_OK) {
            //  The agent refused it (or could not store it: INTERNAL,
            //  retransmitted); not seen, so a retransmission is judged again
            s_refuse (self, link, &env, dest, status, now_ms, "%s", reason);
            return -1;
        }
        self->stats.delivered++;
        if (seen == SEEN_NEW)
            s_mark_seen (self, &env);
        s_queue_ack (self, link, env.id);
        return 0;
    }
    if (seen != SEEN_NEW) {
        //  Too old (or too far ahead) to tell whether we took it before
        //  and forgot it: refused, so nothing is relayed twice
        self->stats.stale++;
        s_refuse (self, link, &env, dest, WEFT_STATUS_EXPIRED, now_ms,
                  "its time is outside this relay's de-duplication window (%d s)",
                  (int) (SEEN_WINDOW_MS / 1000));
        return -1;
    }
    if (env.hops <= 1) {
        self->stats.hop_limit++;
        s_refuse (self, link, &env, dest, WEFT_STATUS_DENIED, now_ms,
                  "out of hops (hop limit %u) on the way to %s", env.hop_limit, dest);
        return -1;
    }
    uint8_t *relayed;
    size_t relayed_size;
    if (envelope_reframe (&env, (uint8_t) (env.hops - 1), &relayed, &relayed_size)) {
        self->stats.malformed++;
        return -1;
    }
    int rc = outbox_stage_owned (self->outbox, s_class_of (env.type), dest, env.id,
                                 &relayed, relayed_size);
    if (rc != 0)
        return -1;                  //  Full (back-pressure) or bad: no ACK, retried
    self->stats.relayed++;
    if (streq (dest, MESH_COORDINATOR) && link->kind != MESH_LINK_COORDINATOR)
        mesh_learn_route (self, env.origin, link->peer);
    if (self->fx.relaying && streq (env.origin, MESH_COORDINATOR))
        self->fx.relaying (self->fx.ctx, &env);
    else
    if (self->fx.upward && streq (dest, MESH_COORDINATOR))
        self->fx.upward (self->fx.ctx, &env);
    s_queue_ack (self, link, env.id);
    s_pend_seen (self, &env);
    return 0;
}

bool
mesh_custody_key (mesh_t *self, const char *link_name, const char *dest,
                  const uint8_t *frame, size_t size, uint8_t key [WEFT_KEY_SIZE])
{
    assert (self && link_name && key);
    envelope_t env;
    return frame && envelope_decode (&env, frame, size) == 0
        && mesh_custody_key_of (self, link_name, dest, &env, key);
}

bool
mesh_custody_key_of (mesh_t *self, const char *link_name, const char *dest,
                     const envelope_t *env, uint8_t key [WEFT_KEY_SIZE])
{
    assert (self && link_name && env && key);
    mesh_link_t *link = (mesh_link_t *) zhashx_lookup (self->links, link_name);
    if (!dest || !link || !link->verified || s_seen (self, env) == SEEN_DUPLICATE)
        return false;
    const uint8_t *which = s_custody_key (self, link, dest, env);
    if (which)
        memcpy (key, which, WEFT_KEY_SIZE);
    return which != NULL;
}

int
mesh_on_decoded_frame (mesh_t *self, const char *link_name, const char *dest,
                       const uint8_t *frame, size_t size, const envelope_t *env,
                       const uint8_t *key, uint64_t now_ms)
{
    assert (self && env);
    self->checked_key = key;
    self->decoded = env;
    int rc = mesh_on_frame (self, link_name, dest, frame, size, now_ms);
    self->decoded = NULL;
    self->checked_key = NULL;
    return rc;
}

int
mesh_on_checked_frame (mesh_t *self, const char *link_name, const char *dest,
                       const uint8_t *frame, size_t size, const uint8_t key [WEFT_KEY_SIZE],
                       uint64_t now_ms)
{
    assert (self && key);
    self->checked_key = key;
    int rc = mesh_on_frame (self, link_name, dest, frame, size, now_ms);
    self->checked_key = NULL;
    return rc;
}

//  --------------------------------------------------------------------------
//  Acknowledgements

int
mesh_on_custody_ack (mesh_t *self, const envelope_t *env)
{
    meshmsg_t msg;
    if (meshmsg_decode (&msg, MSG_CUSTODY_ACK, env->payload, env->payload_size)) {
        self->stats.malformed++;
        return -1;
    }
    //  INTERNAL: the next hop could not commit them; they go again after
    //  the link's back-off (outbox.h)
    if (msg.status == WEFT_STATUS_INTERNAL) {
        for (size_t i = 0; i < msg.id_count; i++)
            outbox_not_taken (self->outbox, msg.ids + i * WEFT_ID_SIZE, self->now_ms);
        return 0;
    }
    //  Taken, or refused for good: either way our custody ends; a refusal
    //  is counted and logged with its reason, never retransmitted
    size_t refused = 0;
    for (size_t i = 0; i < msg.id_count; i++)
        if (msg.status == WEFT_STATUS_OK)
            outbox_ack (self->outbox, msg.ids + i * WEFT_ID_SIZE, self->now_ms);
        else
        if (outbox_refused (self->outbox, msg.ids + i * WEFT_ID_SIZE) == 0)
            refused++;
    if (refused) {
        self->stats.custody_refused += refused;
        char hex [2 * WEFT_ID_SIZE + 1];
        keys_hex (msg.ids, WEFT_ID_SIZE, hex);
        zsys_warning ("mesh: %s refused %zu envelope%s we held (%s%s): %s %s", env->origin,
                      refused, refused > 1? "s": "", hex, msg.id_count > 1? ", ...": "",
                      proto_status_name (msg.status), msg.reason);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Our own envelopes

int
mesh_send_own (mesh_t *self, const uint8_t *frame, size_t size)
{
    return mesh_send_to (self, MESH_COORDINATOR, frame, size);
}

int
mesh_send_to (mesh_t *self, const char *dest, const uint8_t *frame, size_t size)
{
    assert (self && dest);
    envelope_t env;
    if (!*dest || strlen (dest) > WEFT_NAME_MAX || envelope_decode (&env, frame, size))
        return -1;
    return outbox_stage (self->outbox, s_class_of (env.type), dest, env.id, frame, size);
}

//  --------------------------------------------------------------------------
//  Commit, acknowledge, forward

static void
s_pump (mesh_t *self, uint64_t now_ms)
{
    //  Only due entries are touched (the outbox indexes by due time).
    //  One without a next hop waits: toward the coordinator a new route
    //  wakes it at once, so it looks again only with each advert (a
    //  site cut off for a week must not tick every few seconds for
    //  it); a device's downward route is learnt from its traffic
    //  without a wake, so that one looks again every second
    size_t visited = 0;
    outbox_entry_t *entry;
    while (visited < MESH_PUMP_MAX
       && (entry = outbox_due (self->outbox, now_ms))) {
        visited++;
        mesh_link_t *link = mesh_next_hop (self, entry->dest);
        if (!link)
            outbox_defer (self->outbox, entry, now_ms,
                          streq (entry->dest, MESH_COORDINATOR)? self->advert_ms: 1000);
        else
        if (self->fx.send (self->fx.ctx, link->name, entry->dest, entry->frame,
                           entry->size) == 0)
            outbox_sent (self->outbox, entry, link->name, now_ms);
        else
            outbox_defer (self->outbox, entry, now_ms, 100);
    }
}

static void
s_send_acks (mesh_t *self, uint64_t now_ms, bool durable)
{
    for (char *name = (char *) zlistx_first (self->ack_links); name;
         name = (char *) zlistx_next (self->ack_links)) {
        mesh_link_t *link = (mesh_link_t *) zhashx_lookup (self->links, name);
        if (!link || link->ack_count == 0)
            continue;               //  Gone (its ACKs with it), or sent already
        for (size_t first = 0; durable && first < link->ack_count;
             first += MESHMSG_ACK_IDS_MAX) {
            size_t held = link->ack_count - first;
            meshmsg_t msg;
            memset (&msg, 0, sizeof msg);
            msg.type = MSG_CUSTODY_ACK;
            msg.ids = link->acks + first * WEFT_ID_SIZE;
            msg.id_count = held < MESHMSG_ACK_IDS_MAX? held: MESHMSG_ACK_IDS_MAX;
            msg.status = WEFT_STATUS_OK;
            mesh_send_local (self, link, now_ms, &msg);
            self->stats.acks_sent++;
        }
        link->ack_count = 0;
    }
    zlistx_purge (self->ack_links);
}

int
mesh_flush (mesh_t *self, uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
    int rc = outbox_flush (self->outbox);
    for (size_t i = 0; rc == 0 && i < self->pending_count; i++)
        seen_add (self->seen, self->pending [i].id, self->pending [i].time_ms, now_ms);
    self->pending_count = 0;
    //  After a failed commit nothing of the burst is acknowledged; the
    //  senders retransmit and duplicates are ACKed then
    s_send_acks (self, now_ms, rc == 0);
    s_pump (self, now_ms);
    return rc;
}
