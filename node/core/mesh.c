/*  mesh - links, HELLO admission, link-local messages and timers of a
    node's mesh, without I/O
    The mesh's state is described in mesh_internal.h. This file holds
    the life cycle, the links and their HELLO, the dispatch of every
    frame a link brings, the timers and the counters; routing is in
    mesh_route.c, custody relay in mesh_custody.c, the revocation and
    quarantine lists in mesh_lists.c.

    Link-local messages (HELLO, ROUTE, CUSTODY_ACK, NODE_STATS) carry
    the HLC as their seq: they are idempotent, bound to one CURVE session
    and never enter a replay window; ids are BLAKE2b (name, "mesh", n).  */

#include "proto/corelib.h"
#include <sodium.h>
#include "node/core/mesh_internal.h"
#include "proto/hlc.h"
#include "proto/seal.h"

//  --------------------------------------------------------------------------
//  Small helpers

static void
s_link_destroy (void **item_p)
{
    mesh_link_t *link = (mesh_link_t *) *item_p;
    if (link) {
        free (link->acks);
        free (link->path);
        free (link);
        *item_p = NULL;
    }
}

void
mesh_link_set_path (mesh_link_t *link, const char *path)
{
    free (link->path);
    link->path = *path? strndup (path, MESHMSG_PATH_MAX): NULL;
}

void
mesh_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

void
mesh_forget_oldest (zhashx_t *hash, zlistx_t *order, size_t max)
{
    if (zhashx_size (hash) >= max) {
        char *oldest = (char *) zlistx_first (order);
        if (oldest)
            zhashx_delete (hash, oldest);
        zlistx_delete (order, zlistx_cursor (order));
    }
}

//  --------------------------------------------------------------------------
//  Link-local envelopes: sealed with our key, HLC as seq

//  Seal one of our link-local envelopes around an encoded payload.
//  Caller frees.
static uint8_t *
s_seal_payload (mesh_t *self, uint64_t now_ms, int type, const uint8_t *payload,
                size_t payload_size, size_t *size_p)
{
    //  Link-local messages have no seq: the HLC stands in, and names the id
    uint64_t hlc = hlc_next (&self->hlc, now_ms);
    uint8_t id [WEFT_ID_SIZE];
    envelope_id_derive (id, self->name, hlc | ENVELOPE_ID_LINK);
    //  Link-local messages never leave the link; NODE_STATS travels far
    envelope_head_t head = { .type = type, .origin = self->name, .tenant = self->tenant,
                             .seq = hlc, .hlc = hlc,
                             .hop_limit = type == MSG_NODE_STATS? WEFT_HOP_LIMIT: 1,
                             .id = id };
    uint8_t *frame = NULL;
    int rc = envelope_seal (&head, payload, payload_size, self->keys.sign_secret, NULL,
                            &frame, size_p);
    return rc? NULL: frame;
}

//  Seal one of our link-local envelopes. Caller frees.
static uint8_t *
s_seal (mesh_t *self, uint64_t now_ms, const meshmsg_t *msg, size_t *size_p)
{
    uint8_t *payload;
    size_t payload_size;
    int rc = meshmsg_encode (msg, &payload, &payload_size);
    if (rc) {
        zsys_error ("mesh: encode %s: %s", proto_msg_name (msg->type), proto_strerror (rc));
        return NULL;
    }
    uint8_t *frame = s_seal_payload (self, now_ms, msg->type, payload, payload_size, size_p);
    free (payload);
    return frame;
}

//  Gossip effect: a policy payload as a link-local envelope
static int
s_gossip_send (void *ctx, const char *link, int type, const uint8_t *payload, size_t size)
{
    mesh_t *self = (mesh_t *) ctx;
    size_t frame_size;
    uint8_t *frame = s_seal_payload (self, self->now_ms, type, payload, size, &frame_size);
    int rc = frame? self->fx.send (self->fx.ctx, link, NULL, frame, frame_size): -1;
    free (frame);
    return rc;
}

bool
mesh_gossip_type (int type)
{
    return type == MSG_POLICY || type == MSG_POLICY_SUMMARY || type == MSG_POLICY_KEYS;
}

void
mesh_send_local (mesh_t *self, mesh_link_t *link, uint64_t now_ms, const meshmsg_t *msg)
{
    size_t size;
    uint8_t *frame = s_seal (self, now_ms, msg, &size);
    if (frame) {
        self->fx.send (self->fx.ctx, link->name, NULL, frame, size);
        free (frame);
    }
}

void
mesh_send_advert (mesh_t *self, mesh_link_t *link, int type, uint64_t now_ms)
{
    meshmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = type;
    if (type == MSG_HELLO) {
        msg.cert = self->cert;
        msg.cert_size = self->cert_size;
        msg.passport = self->passport;
        msg.passport_size = self->passport_size;
    }
    snprintf (msg.path, sizeof msg.path, "%s", self->path);
    msg.revocations = self->revocations;
    msg.quarantine = qlist_version (self->quarantine);
    mesh_send_local (self, link, now_ms, &msg);
}

static void
s_send_hello (mesh_t *self, mesh_link_t *link, uint64_t now_ms)
{
    mesh_send_advert (self, link, MSG_HELLO, now_ms);
    link->hello_sent = true;
}

//  --------------------------------------------------------------------------
//  Create and destroy

mesh_t *
mesh_new (const mesh_config_t *config, const mesh_effects_t *effects)
{
    assert (config && effects);
    if (!config->name || !*config->name || !config->keys || !config->cert
    ||  !config->ca_key || !config->coord_sign || !config->store || !effects->send
    ||  !effects->deliver)
        return NULL;
    mesh_t *self = (mesh_t *) zmalloc (sizeof (mesh_t));
    self->name = strndup (config->name, WEFT_NAME_MAX);
    self->tenant = strndup (config->tenant? config->tenant: "", WEFT_NAME_MAX);
    self->keys = *config->keys;
    self->cert = (uint8_t *) zmalloc (config->cert_size);
    memcpy (self->cert, config->cert, config->cert_size);
    self->cert_size = config->cert_size;
    memcpy (self->ca_key, config->ca_key, WEFT_KEY_SIZE);
    memcpy (self->coord_sign, config->coord_sign, WEFT_KEY_SIZE);
    self->advert_ms = config->advert_ms? config->advert_ms: 5000;
    self->store = config->store;
    self->prefix = strndup (config->prefix? config->prefix: "", WEFT_NAME_MAX);
    self->verbose = config->verbose;
    self->admit_unattested = config->admit_unattested;
    self->fx = *effects;
    self->outbox = outbox_new (config->store, self->prefix, NULL);
    //  A link that acknowledges nothing is probed only once it would
    //  have been closed if it were dead (proto/io/tcplink.h: 5/2 intervals)
    outbox_set_link_timeout (self->outbox, RETRY_LINK_DEAD (self->advert_ms));
    self->links = zhashx_new ();
    zhashx_set_destructor (self->links, s_link_destroy);
    self->peers = zhashx_new ();
    zhashx_set_destructor (self->peers, mesh_free_item);
    self->seen = seen_new (SEEN_WINDOW_MS, MESH_SEEN_MAX);
    self->path = strdup ("");
    self->certs = zhashx_new ();
    zhashx_set_destructor (self->certs, mesh_free_item);
    self->ack_links = zlistx_new ();
    zlistx_set_destructor (self->ack_links, mesh_free_item);
    self->quarantine = qlist_new (config->store, MESH_TABLE, self->prefix, self->coord_sign);
    self->policies = policy_store_new (config->store, MESH_TABLE, self->prefix, self->ca_key);
    gossip_config_t gossip_config = { self->policies, self->advert_ms, MESH_LINKS_MAX + 1,
                                      false, self->verbose };
    gossip_effects_t gossip_effects = { self, s_gossip_send };
    self->gossip = gossip_new (&gossip_config, &gossip_effects);
    return self;
}

void
mesh_destroy (mesh_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        mesh_t *self = *self_p;
        outbox_destroy (&self->outbox);
        gossip_destroy (&self->gossip);
        policy_store_destroy (&self->policies);
        zhashx_destroy (&self->links);
        zhashx_destroy (&self->peers);
        zhashx_destroy (&self->routes);
        zlistx_destroy (&self->route_order);
        seen_destroy (&self->seen);
        free (self->path);
        zhashx_destroy (&self->certs);
        free (self->pending);
        qlist_destroy (&self->quarantine);
        zlistx_destroy (&self->ack_links);
        free (self->cert);
        free (self->name);
        free (self->tenant);
        free (self->prefix);
        free (self->revocation_frame);
        free (self->revoked_names);
        free (self->revoked_keys);
        free (self->revoked_operators);
        free (self->passport);
        zhashx_destroy (&self->required);
        keys_wipe (&self->keys);
        free (self);
        *self_p = NULL;
    }
}

int
mesh_start (mesh_t *self, uint64_t now_ms)
{
    assert (self);
    if (outbox_load (self->outbox) < 0 || policy_store_load (self->policies) < 0)
        return -1;
    if (mesh_restore_revocations (self) || mesh_attest_restore (self))
        return -1;
    qlist_load (self->quarantine);
    self->next_advert = now_ms;
    mesh_debug (self, "mesh: started, %zu queued, revocations version %" PRIu64
                ", quarantine version %" PRIu64 " (%zu)", outbox_size (self->outbox),
                self->revocations, qlist_version (self->quarantine),
                qlist_size (self->quarantine));
    return 0;
}

//  --------------------------------------------------------------------------
//  Links

void
mesh_link_up (mesh_t *self, const char *link_name, int kind,
              const uint8_t key [WEFT_KEY_SIZE], uint64_t now_ms)
{
    assert (self && link_name);
    mesh_link_t *link = (mesh_link_t *) zhashx_lookup (self->links, link_name);
    if (!link) {
        if (zhashx_size (self->links) >= MESH_LINKS_MAX) {
            zsys_warning ("mesh: too many links, %s ignored", link_name);
            return;
        }
        link = (mesh_link_t *) zmalloc (sizeof (mesh_link_t));
        snprintf (link->name, sizeof link->name, "%s", link_name);
        zhashx_insert (self->links, link_name, link);
    }
    link->kind = kind;
    if (key)
        memcpy (link->key, key, WEFT_KEY_SIZE);
    //  A new connection: what was in flight on the old one may be lost
    outbox_link_down (self->outbox, link_name);
    link->up = true;
    link->hello_sent = false;
    link->heard_ms = now_ms;
    if (kind == MESH_LINK_COORDINATOR) {
        snprintf (self->coord_link, sizeof self->coord_link, "%s", link_name);
        link->verified = true;
        snprintf (link->peer, sizeof link->peer, "%s", MESH_COORDINATOR);
        mesh_route_update (self, now_ms);
        //  Tells the coordinator our revocations
        mesh_send_advert (self, link, MSG_ROUTE, now_ms);
        gossip_link_up (self->gossip, link_name, false, now_ms);
    }
    else
    if (kind == MESH_LINK_DIALLED)
        s_send_hello (self, link, now_ms);
}

void
mesh_link_down (mesh_t *self, const char *link_name, uint64_t now_ms)
{
    assert (self && link_name);
    mesh_link_t *link = (mesh_link_t *) zhashx_lookup (self->links, link_name);
    if (!link)
        return;
    if (link->up && link->verified && link->kind != MESH_LINK_COORDINATOR)
        zsys_info ("mesh: neighbour %s on %s lost", link->peer, link->name);
    link->up = false;
    if (link->kind != MESH_LINK_COORDINATOR)
        link->verified = false;
    gossip_link_down (self->gossip, link_name);
    //  What was in flight on it goes to the next hop at once
    outbox_link_down (self->outbox, link_name);
    mesh_link_set_path (link, "");
    if (*link->peer) {
        const char *current = (const char *) zhashx_lookup (self->peers, link->peer);
        if (current && streq (current, link_name))
            zhashx_delete (self->peers, link->peer);
    }
    if (link->kind == MESH_LINK_ACCEPTED)
        zhashx_delete (self->links, link_name);
    mesh_route_update (self, now_ms);
}

int
mesh_send_local_to (mesh_t *self, const char *peer, int type, const uint8_t *payload,
                    size_t size, uint64_t now_ms)
{
    assert (self && peer);
    const char *link_name = streq (peer, MESH_COORDINATOR)? self->coord_link
                          : (const char *) zhashx_lookup (self->peers, peer);
    mesh_link_t *link = link_name && *link_name
                      ? (mesh_link_t *) zhashx_lookup (self->links, link_name): NULL;
    if (!link || !link->up || !link->verified)
        return -1;
    size_t frame_size;
    uint8_t *frame = s_seal_payload (self, now_ms, type, payload, size, &frame_size);
    int rc = frame? self->fx.send (self->fx.ctx, link->name, NULL, frame, frame_size): -1;
    free (frame);
    return rc? -1: 0;
}

bool
mesh_coordinator_up (mesh_t *self)
{
    assert (self);
    mesh_link_t *link = *self->coord_link
                      ? (mesh_link_t *) zhashx_lookup (self->links, self->coord_link): NULL;
    return link && link->up;
}

bool
mesh_has_link (mesh_t *self, const char *link_name)
{
    assert (self);
    return zhashx_lookup (self->links, link_name) != NULL;
}

bool
mesh_key_linked (mesh_t *self, const uint8_t key [WEFT_KEY_SIZE])
{
    assert (self && key);
    for (mesh_link_t *link = (mesh_link_t *) zhashx_first (self->links); link;
         link = (mesh_link_t *) zhashx_next (self->links))
        if (link->up && link->verified && link->kind != MESH_LINK_COORDINATOR
        &&  memcmp (link->key, key, WEFT_KEY_SIZE) == 0)
            return true;
    return false;
}

bool
mesh_neighbour (mesh_t *self, const char *name, char role [WEFT_NAME_MAX + 1],
                uint8_t ak_name [CERT_AK_NAME_SIZE], size_t *ak_name_size_p)
{
    assert (self && name);
    const char *link_name = (const char *) zhashx_lookup (self->peers, name);
    mesh_link_t *link = link_name? (mesh_link_t *) zhashx_lookup (self->links, link_name): NULL;
    if (!link || !link->verified || !link->up)
        return false;
    if (role)
        snprintf (role, WEFT_NAME_MAX + 1, "%s", link->role);
    if (ak_name && ak_name_size_p) {
        memcpy (ak_name, link->ak_name, link->ak_name_size);
        *ak_name_size_p = link->ak_name_size;
    }
    return true;
}

const char *
mesh_tenant (mesh_t *self)
{
    assert (self);
    return self->tenant;
}

void
mesh_neighbours_each (mesh_t *self, mesh_neighbour_fn *fn, void *arg)
{
    assert (self && fn);
    for (mesh_link_t *link = (mesh_link_t *) zhashx_first (self->links); link;
         link = (mesh_link_t *) zhashx_next (self->links))
        if (link->verified && link->up && link->kind != MESH_LINK_COORDINATOR)
            fn (arg, link->peer, link->role, link->tenant, link->ak_name, link->ak_name_size,
                link->epoch);
}

//  --------------------------------------------------------------------------
//  Link-local messages

static int
s_on_hello (mesh_t *self, mesh_link_t *link, const envelope_t *env, uint64_t now_ms)
{
    meshmsg_t msg;
    cert_t cert;
    const char *why = NULL;
    if (meshmsg_decode (&msg, MSG_HELLO, env->payload, env->payload_size))
        why = "malformed";
    else
    if (cert_decode (&cert, msg.cert, msg.cert_size, self->ca_key, now_ms / 1000))
        why = "certificate does not verify with our CA or has expired";
    else
    if (cert.kind != CERT_KIND_NODE || strcmp (cert.subject, env->origin) != 0)
        why = "certificate is not this node's";
    else
    if (sodium_memcmp (cert.curve_key, link->key, WEFT_KEY_SIZE) != 0)
        why = "certificate's CURVE key is not the link's";
    else
    if (envelope_verify (env, cert.sign_key))
        why = "bad signature";
    else
    if (mesh_is_revoked (self, cert.subject, cert.curve_key))
        why = "revoked";
    if (why) {
        self->stats.refused_hello++;
        zsys_warning ("mesh: HELLO from %s on %s refused: %s", env->origin, link->name, why);
        if (self->fx.close && link->kind == MESH_LINK_ACCEPTED)
            self->fx.close (self->fx.ctx, link->name);
        return -1;
    }
    bool was = link->verified;
    link->verified = true;
    snprintf (link->peer, sizeof link->peer, "%s", cert.subject);
    memcpy (link->sign_key, cert.sign_key, WEFT_KEY_SIZE);
    snprintf (link->role, sizeof link->role, "%s", cert.role);
    snprintf (link->tenant, sizeof link->tenant, "%s", cert.tenant);
    link->profile_known = false;        //  Made again for this certificate
    memcpy (link->ak_name, cert.ak_name, cert.ak_name_size);
    link->ak_name_size = cert.ak_name_size;
    mesh_link_set_path (link, msg.path);
    link->revocations = msg.revocations;
    link->quarantine = msg.quarantine;
    link->heard_ms = now_ms;
    mesh_attest_hello (self, link, &cert, &msg, now_ms);
    zhashx_update (self->peers, cert.subject, strdup (link->name));
    if (zhashx_size (self->certs) < MESH_ROUTES_MAX || zhashx_lookup (self->certs, cert.subject)) {
        uint8_t *key = (uint8_t *) zmalloc (WEFT_KEY_SIZE);
        memcpy (key, cert.sign_key, WEFT_KEY_SIZE);
        zhashx_update (self->certs, cert.subject, key);
    }
    if (!was) {
        link->epoch = ++self->epochs;
        zsys_info ("mesh: neighbour %s on %s", cert.subject, link->name);
        gossip_link_up (self->gossip, link->name, true, now_ms);
    }
    if (link->kind == MESH_LINK_ACCEPTED && !link->hello_sent)
        s_send_hello (self, link, now_ms);
    mesh_route_update (self, now_ms);
    mesh_send_revocations (self, link);
    mesh_send_quarantine (self, link);
    outbox_wake (self->outbox, cert.subject);
    return 0;
}

int
mesh_on_frame (mesh_t *self, const char *link_name, const char *dest,
               const uint8_t *frame, size_t size, uint64_t now_ms)
{
    assert (self && link_name);
    self->now_ms = now_ms;
    mesh_link_t *link = (mesh_link_t *) zhashx_lookup (self->links, link_name);
    if (!link) {
        mesh_debug (self, "mesh: frame on unknown link %s", link_name);
        return -1;
    }
    if (dest) {
        if (!*dest || strlen (dest) > WEFT_NAME_MAX) {
            self->stats.malformed++;
            return -1;
        }
        return mesh_on_custody (self, link, dest, frame, size, self->decoded, now_ms);
    }
    envelope_t env;
    if (envelope_decode (&env, frame, size)) {
        self->stats.malformed++;
        return -1;
    }
    if (link->kind == MESH_LINK_COORDINATOR) {
        if (!streq (env.origin, MESH_COORDINATOR) || envelope_verify (&env, self->coord_sign)) {
            self->stats.forged++;
            return -1;
        }
        if (env.type == MSG_CUSTODY_ACK)
            return mesh_on_custody_ack (self, &env);
        if (mesh_gossip_type (env.type))
            return gossip_on_message (self->gossip, link->name, env.type, env.payload,
                                      env.payload_size, now_ms);
        //  Not in custody, so nothing to acknowledge whatever we or the
        //  agent say: our passport (mesh_attest.c), or a reply to an
        //  old-style direct request
        char reason [WEFT_TEXT_MAX + 1];
        if (env.type == MSG_PASSPORT)
            return mesh_on_passport (self, &env, now_ms, reason) == WEFT_STATUS_OK? 0: -1;
        if (self->fx.local && self->fx.local (self->fx.ctx, MESH_COORDINATOR, "", &env))
            return 0;
        self->fx.deliver (self->fx.ctx, frame, size, reason);
        return 0;
    }
    if (env.type == MSG_HELLO)
        return s_on_hello (self, link, &env, now_ms);
    if (!link->verified) {
        self->stats.unauthenticated++;
        return -1;
    }
    if (!streq (env.origin, link->peer) || envelope_verify (&env, link->sign_key)) {
        self->stats.forged++;
        return -1;
    }
    if (env.type == MSG_ROUTE)
        return mesh_on_route (self, link, &env, now_ms);
    if (env.type == MSG_CUSTODY_ACK)
        return mesh_on_custody_ack (self, &env);
    if (mesh_gossip_type (env.type))
        return gossip_on_message (self->gossip, link->name, env.type, env.payload,
                                  env.payload_size, now_ms);
    //  The node's own link-local types (the chunk exchange)
    if (self->fx.local && self->fx.local (self->fx.ctx, link->peer, link->tenant, &env))
        return 0;
    //  Link-local and of no type anyone takes: nothing was in custody
    self->stats.malformed++;
    return -1;
}

//  --------------------------------------------------------------------------
//  Timers

void
mesh_tick (mesh_t *self, uint64_t now_ms)
{
    assert (self);
    if (now_ms >= self->next_advert) {
        self->next_advert = now_ms + self->advert_ms;
        mesh_route_update (self, now_ms);  //  Stale links drop out here
        self->now_ms = now_ms;
        gossip_tick (self->gossip, now_ms);
        for (mesh_link_t *link = (mesh_link_t *) zhashx_first (self->links); link;
             link = (mesh_link_t *) zhashx_next (self->links))
            if (link->up && (link->verified || link->kind == MESH_LINK_COORDINATOR)) {
                mesh_send_advert (self, link, MSG_ROUTE, now_ms);
                mesh_send_revocations (self, link);
                mesh_send_quarantine (self, link);
            }
        mesh_attest_tick (self, now_ms);
        //  Counters go up every few adverts, as telemetry
        if (++self->adverts % 5 == 0) {
            char *json = mesh_stats_json (self);
            meshmsg_t msg;
            memset (&msg, 0, sizeof msg);
            msg.type = MSG_NODE_STATS;
            msg.counters = json;
            msg.counters_size = strlen (json);
            size_t size;
            uint8_t *frame = s_seal (self, now_ms, &msg, &size);
            if (frame)
                mesh_send_own (self, frame, size);
            free (frame);
            free (json);
        }
    }
    mesh_flush (self, now_ms);
}

uint64_t
mesh_deadline (mesh_t *self)
{
    assert (self);
    //  The next advert, or the first retransmit or deferred send the
    //  outbox's due-time heap holds (1 if something is due already)
    uint64_t next = self->next_advert;
    uint64_t due = outbox_deadline (self->outbox);
    if (due && due < next)
        next = due;
    return next;
}

//  --------------------------------------------------------------------------
//  Accessors and counters

const mesh_stats_t *
mesh_stats (mesh_t *self)
{
    assert (self);
    return &self->stats;
}

outbox_t *
mesh_outbox (mesh_t *self)
{
    assert (self);
    return self->outbox;
}

policy_store_t *
mesh_policies (mesh_t *self)
{
    assert (self);
    return self->policies;
}

gossip_t *
mesh_gossip (mesh_t *self)
{
    assert (self);
    return self->gossip;
}

char *
mesh_stats_json (mesh_t *self)
{
    assert (self);
    const outbox_stats_t *o = outbox_stats (self->outbox);
    const mesh_stats_t *m = &self->stats;
    size_t neighbours = 0;
    for (mesh_link_t *link = (mesh_link_t *) zhashx_first (self->links); link;
         link = (mesh_link_t *) zhashx_next (self->links))
        if (link->verified && link->up && link->kind != MESH_LINK_COORDINATOR)
            neighbours++;
    mesh_link_t *next = *self->route_link?
        (mesh_link_t *) zhashx_lookup (self->links, self->route_link): NULL;
    char *policies = gossip_stats_json (self->gossip);
    char *json = zsys_sprintf (
        "{\"hops\":%zu,\"next_hop\":\"%s\",\"neighbours\":%zu,"
        "\"queue\":{\"control\":%" PRIu64 ",\"twin\":%" PRIu64 ",\"evidence\":%" PRIu64
        ",\"telemetry\":%" PRIu64 ",\"bulk\":%" PRIu64 "},"
        "\"retransmits\":%" PRIu64 ",\"relayed\":%" PRIu64 ",\"delivered\":%" PRIu64
        ",\"duplicates\":%" PRIu64 ",\"forged_rejected\":%" PRIu64
        ",\"dropped\":{\"queue_full\":%" PRIu64 ",\"hop_limit\":%" PRIu64 ",\"stale\":%" PRIu64
        ",\"revoked\":%" PRIu64 ",\"quarantined\":%" PRIu64 ",\"unattested\":%" PRIu64
        ",\"unauthenticated\":%" PRIu64
        ",\"malformed\":%" PRIu64
        "},\"refused_full\":%" PRIu64 ",\"commit_failed\":%" PRIu64
        ",\"refused_hello\":%" PRIu64 ",\"custody_refused\":%" PRIu64
        ",\"revocations\":%" PRIu64
        ",\"quarantine\":%" PRIu64 ",\"quarantined\":%zu,\"policies\":%s}",
        mesh_distance (self), next? next->peer: "", neighbours,
        o->depth [OUTBOX_CONTROL], o->depth [OUTBOX_TWIN], o->depth [OUTBOX_EVIDENCE],
        o->depth [OUTBOX_TELEMETRY], o->depth [OUTBOX_BULK],
        o->retransmits, m->relayed, m->delivered, m->duplicates, m->forged,
        o->dropped_full, m->hop_limit, m->stale, m->revoked, m->quarantined, m->unattested,
        m->unauthenticated, m->malformed, o->refused_full, o->commit_failed, m->refused_hello,
        m->custody_refused, self->revocations,
        qlist_version (self->quarantine), qlist_size (self->quarantine), policies);
    free (policies);
    return json;
}
