/*  mesh - links, routes, custody and revocations of a node, without I/O
    State in memory: the links (by the I/O layer's link name), the peer
    index (device id -> link), reverse routes (device id -> neighbour id),
    the seen-id LRU, certificates learnt from HELLOs (device id -> sign
    key), the current route, and the ACKs waiting for the next commit.
    In the store: the outbox (outbox.c) and, in MESH_TABLE under
    prefix "revocations", the coordinator's last REVOCATIONS envelope.

    Link-local messages (HELLO, ROUTE, CUSTODY_ACK, NODE_STATS) carry
    the HLC as their seq: they are idempotent, bound to one CURVE session
    and never enter a replay window; ids are BLAKE2b (name, "mesh", n).  */

#include <czmq.h>
#include <sodium.h>
#include "proto/envelope.h"
#include "proto/meshmsg.h"
#include "proto/cert.h"
#include "node/core/gossip.h"
#include "node/core/mesh.h"
#include "node/core/qlist.h"

#define s_debug(self, ...) \
    do { if ((self)->verbose) zsys_debug (__VA_ARGS__); } while (0)

typedef struct {
    char name [WEFT_NAME_MAX + 1];      //  I/O layer's link name
    int kind;                           //  mesh_link_kind_t
    uint8_t key [WEFT_KEY_SIZE];        //  Authenticated CURVE key
    bool up;                            //  Transport says connected
    bool verified;                      //  HELLO accepted (coordinator: always)
    bool hello_sent;                    //  Our HELLO went out on it
    char peer [WEFT_NAME_MAX + 1];      //  Certificate subject
    uint8_t sign_key [WEFT_KEY_SIZE];   //  Peer's Ed25519 key
    char path [MESHMSG_PATH_MAX + 1];   //  Peer's advertised path, "" none
    uint64_t revocations;               //  Peer's revocation version
    uint64_t quarantine;                //  Peer's quarantine list version
    char role [WEFT_NAME_MAX + 1];      //  Certificate role (= device type)
    uint8_t ak_name [CERT_AK_NAME_SIZE];    //  Certificate's AK name, if TPM
    size_t ak_name_size;
    uint64_t epoch;                     //  Changes each time the peer is verified anew
    uint64_t heard_ms;                  //  Last HELLO or ROUTE
    zlistx_t *acks;                     //  Ids (16 B) to ACK after commit
} s_link_t;

struct _mesh_t {
    char name [WEFT_NAME_MAX + 1];
    char tenant [WEFT_NAME_MAX + 1];
    keys_t keys;
    uint8_t *cert;
    size_t cert_size;
    uint8_t ca_key [WEFT_KEY_SIZE];
    uint8_t coord_sign [WEFT_KEY_SIZE];
    uint64_t advert_ms;
    store_t *store;
    char prefix [WEFT_NAME_MAX + 1];
    bool verbose;
    mesh_effects_t fx;
    outbox_t *outbox;
    zhashx_t *links;                    //  Link name -> s_link_t
    zhashx_t *peers;                    //  Device id -> link name (strdup)
    zhashx_t *routes;                   //  Device id -> neighbour id (strdup)
    zlistx_t *route_order;              //  Device ids, oldest first (bound)
    zhashx_t *seen;                     //  Id hex -> (void *) 1
    zlistx_t *seen_order;               //  Id hex, oldest first
    zhashx_t *certs;                    //  Device id -> sign key (32 B)
    zlistx_t *pending_seen;             //  Ids to mark seen after commit
    zlistx_t *ack_links;                //  Names of links with ACKs queued
    char route_link [WEFT_NAME_MAX + 1];    //  Next hop's link, "" none
    char path [MESHMSG_PATH_MAX + 1];   //  Our path, "" none
    uint64_t next_advert;               //  Unix ms
    uint64_t adverts;                   //  Adverts sent (stats every 5)
    uint64_t counter;                   //  For our link-local ids
    uint64_t hlc;                       //  Last HLC issued
    uint64_t now_ms;                    //  Time of the last event
    uint64_t revocations;               //  List version held
    uint8_t *revocation_frame;          //  Coordinator's signed list
    size_t revocation_size;
    char *revoked_names;                //  Comma list, NUL-ended
    uint8_t *revoked_keys;              //  32 B each
    size_t revoked_count;
    qlist_t *quarantine;                //  Coordinator's quarantine list
    uint64_t epochs;                    //  Link verifications so far
    uint8_t *revoked_operators;         //  Operators' CURVE keys, 32 B each
    size_t revoked_operator_count;
    const uint8_t *checked_key;         //  mesh_on_checked_frame: already verified with
    mesh_stats_t stats;
    policy_store_t *policies;           //  Site-wide policies held (policy.h)
    gossip_t *gossip;                   //  Their spreading (gossip.h)
};

//  --------------------------------------------------------------------------
//  Small helpers

static void
s_hex (const uint8_t *id, char *hex)
{
    keys_hex (id, WEFT_ID_SIZE, hex);
}

static void
s_link_destroy (void **item_p)
{
    s_link_t *link = (s_link_t *) *item_p;
    if (link) {
        void *id = zlistx_first (link->acks);
        while (id) {
            free (id);
            id = zlistx_next (link->acks);
        }
        zlistx_destroy (&link->acks);
        free (link);
        *item_p = NULL;
    }
}

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static bool
s_is_revoked (mesh_t *self, const char *name, const uint8_t *key)
{
    if (name && self->revoked_names
    &&  meshmsg_has_name (self->revoked_names, strlen (self->revoked_names), name))
        return true;
    if (key)
        for (size_t i = 0; i < self->revoked_count; i++)
            if (memcmp (self->revoked_keys + i * WEFT_KEY_SIZE, key, WEFT_KEY_SIZE) == 0)
                return true;
    return false;
}

//  Seal one of our link-local envelopes around an encoded payload.
//  Caller frees.
static uint8_t *
s_seal_payload (mesh_t *self, uint64_t now_ms, int type, const uint8_t *payload,
                size_t payload_size, size_t *size_p)
{
    uint64_t physical = now_ms << 16;
    self->hlc = physical > self->hlc? physical: self->hlc + 1;
    envelope_t env;
    memset (&env, 0, sizeof env);
    uint8_t material [WEFT_NAME_MAX + 16];
    size_t name_size = strlen (self->name);
    memcpy (material, self->name, name_size);
    memcpy (material + name_size, "mesh", 4);
    uint64_t counter = ++self->counter;
    memcpy (material + name_size + 4, &counter, 8);
    memcpy (material + name_size + 12, &self->hlc, 4);
    uint8_t hash [32];
    keys_hash (material, name_size + 16, hash);
    memcpy (env.id, hash, WEFT_ID_SIZE);
    env.type = type;
    snprintf (env.origin, sizeof env.origin, "%s", self->name);
    snprintf (env.tenant, sizeof env.tenant, "%s", self->tenant);
    env.seq = self->hlc;
    env.hlc = self->hlc;
    //  Link-local messages never leave the link; NODE_STATS travels far
    env.hop_limit = env.hops = type == MSG_NODE_STATS? WEFT_HOP_LIMIT: 1;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame = NULL;
    int rc = envelope_encode (&env, self->keys.sign_secret, &frame, size_p);
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

static bool
s_gossip_type (int type)
{
    return type == MSG_POLICY || type == MSG_POLICY_SUMMARY || type == MSG_POLICY_KEYS;
}

static void
s_send_local (mesh_t *self, s_link_t *link, uint64_t now_ms, const meshmsg_t *msg)
{
    size_t size;
    uint8_t *frame = s_seal (self, now_ms, msg, &size);
    if (frame) {
        self->fx.send (self->fx.ctx, link->name, NULL, frame, size);
        free (frame);
    }
}

static void
s_send_hello (mesh_t *self, s_link_t *link, uint64_t now_ms)
{
    meshmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_HELLO;
    msg.cert = self->cert;
    msg.cert_size = self->cert_size;
    snprintf (msg.path, sizeof msg.path, "%s", self->path);
    msg.revocations = self->revocations;
    msg.quarantine = qlist_version (self->quarantine);
    s_send_local (self, link, now_ms, &msg);
    link->hello_sent = true;
}

static void
s_send_route (mesh_t *self, s_link_t *link, uint64_t now_ms)
{
    meshmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_ROUTE;
    snprintf (msg.path, sizeof msg.path, "%s", self->path);
    msg.revocations = self->revocations;
    msg.quarantine = qlist_version (self->quarantine);
    s_send_local (self, link, now_ms, &msg);
}

//  Our revocation list to a link that holds an older one.
static void
s_send_revocations (mesh_t *self, s_link_t *link)
{
    if (self->revocation_frame && link->verified && link->kind != MESH_LINK_COORDINATOR
    &&  link->revocations < self->revocations)
        self->fx.send (self->fx.ctx, link->name, "*", self->revocation_frame,
                       self->revocation_size);
}

//  Our quarantine list to a link that holds an older one (also to a
//  quarantined peer: it learns when it is released)
static void
s_send_quarantine (mesh_t *self, s_link_t *link)
{
    size_t size;
    const uint8_t *frame = qlist_frame (self->quarantine, &size);
    if (frame && link->verified && link->kind != MESH_LINK_COORDINATOR
    &&  link->quarantine < qlist_version (self->quarantine))
        self->fx.send (self->fx.ctx, link->name, "*", frame, size);
}

//  Refuse this envelope because of the quarantine? A quarantined node
//  keeps its link (it must still deliver attestation evidence, or it
//  could never pass again), but its peers take nothing from it that it
//  relays for others, and nothing from or for it but attestation
//  traffic (qlist_attestation).
static bool
s_quarantine_refuses (mesh_t *self, s_link_t *link, const envelope_t *env, const char *dest)
{
    if (qlist_size (self->quarantine) == 0)
        return false;
    //  The lists are the coordinator's, verified at every hop: a
    //  quarantined relay cannot change them, and it must learn its release
    if (streq (dest, "*"))
        return false;
    if (link->kind != MESH_LINK_COORDINATOR && qlist_has (self->quarantine, link->peer)
    &&  !streq (env->origin, link->peer))
        return true;
    if (qlist_attestation (env->type))
        return false;
    return qlist_has (self->quarantine, env->origin) || qlist_has (self->quarantine, dest);
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
    snprintf (self->name, sizeof self->name, "%s", config->name);
    snprintf (self->tenant, sizeof self->tenant, "%s", config->tenant? config->tenant: "");
    self->keys = *config->keys;
    self->cert = (uint8_t *) zmalloc (config->cert_size);
    memcpy (self->cert, config->cert, config->cert_size);
    self->cert_size = config->cert_size;
    memcpy (self->ca_key, config->ca_key, WEFT_KEY_SIZE);
    memcpy (self->coord_sign, config->coord_sign, WEFT_KEY_SIZE);
    self->advert_ms = config->advert_ms? config->advert_ms: 5000;
    self->store = config->store;
    snprintf (self->prefix, sizeof self->prefix, "%s", config->prefix? config->prefix: "");
    self->verbose = config->verbose;
    self->fx = *effects;
    self->outbox = outbox_new (config->store, self->prefix, NULL);
    self->links = zhashx_new ();
    zhashx_set_destructor (self->links, s_link_destroy);
    self->peers = zhashx_new ();
    zhashx_set_destructor (self->peers, s_free_item);
    self->routes = zhashx_new ();
    zhashx_set_destructor (self->routes, s_free_item);
    self->route_order = zlistx_new ();
    zlistx_set_destructor (self->route_order, s_free_item);
    self->seen = zhashx_new ();
    self->seen_order = zlistx_new ();
    zlistx_set_destructor (self->seen_order, s_free_item);
    self->certs = zhashx_new ();
    zhashx_set_destructor (self->certs, s_free_item);
    self->pending_seen = zlistx_new ();
    self->ack_links = zlistx_new ();
    zlistx_set_destructor (self->ack_links, s_free_item);
    zlistx_set_destructor (self->pending_seen, s_free_item);
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
        zhashx_destroy (&self->seen);
        zlistx_destroy (&self->seen_order);
        zhashx_destroy (&self->certs);
        zlistx_destroy (&self->pending_seen);
        qlist_destroy (&self->quarantine);
        zlistx_destroy (&self->ack_links);
        free (self->cert);
        free (self->revocation_frame);
        free (self->revoked_names);
        free (self->revoked_keys);
        free (self->revoked_operators);
        keys_wipe (&self->keys);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Revocation list: verify, hold in memory. Returns 0, or -1 if the
//  frame is not a valid coordinator REVOCATIONS envelope.

static int
s_load_revocations (mesh_t *self, const uint8_t *frame, size_t size)
{
    envelope_t env;
    meshmsg_t msg;
    if (envelope_decode (&env, frame, size) || env.type != MSG_REVOCATIONS
    ||  strcmp (env.origin, MESH_COORDINATOR) != 0
    ||  envelope_verify (&env, self->coord_sign)
    ||  meshmsg_decode (&msg, MSG_REVOCATIONS, env.payload, env.payload_size))
        return -1;
    free (self->revocation_frame);
    self->revocation_frame = (uint8_t *) zmalloc (size);
    memcpy (self->revocation_frame, frame, size);
    self->revocation_size = size;
    self->revocations = msg.revocations;
    free (self->revoked_names);
    self->revoked_names = (char *) zmalloc (msg.names_size + 1);
    memcpy (self->revoked_names, msg.names, msg.names_size);
    free (self->revoked_keys);
    self->revoked_count = msg.key_count;
    self->revoked_keys = (uint8_t *) zmalloc (msg.key_count * WEFT_KEY_SIZE + 1);
    memcpy (self->revoked_keys, msg.curve_keys, msg.key_count * WEFT_KEY_SIZE);
    free (self->revoked_operators);
    self->revoked_operator_count = msg.operator_count;
    self->revoked_operators = (uint8_t *) zmalloc (msg.operator_count * WEFT_KEY_SIZE + 1);
    if (msg.operator_count)
        memcpy (self->revoked_operators, msg.operator_keys, msg.operator_count * WEFT_KEY_SIZE);
    return 0;
}

int
mesh_start (mesh_t *self, uint64_t now_ms)
{
    assert (self);
    if (outbox_load (self->outbox) < 0 || policy_store_load (self->policies) < 0)
        return -1;
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return -1;
    char key [WEFT_NAME_MAX + 16];
    int key_size = snprintf (key, sizeof key, "%srevocations", self->prefix);
    size_t size = 0;
    uint8_t *frame = (uint8_t *) store_get (txn, MESH_TABLE, key, (size_t) key_size, &size);
    store_abort (&txn);
    if (frame && s_load_revocations (self, frame, size))
        zsys_warning ("mesh: stored revocation list does not verify; ignored");
    free (frame);
    qlist_load (self->quarantine);
    self->next_advert = now_ms;
    s_debug (self, "mesh: started, %zu queued, revocations version %" PRIu64
             ", quarantine version %" PRIu64 " (%zu)", outbox_size (self->outbox),
             self->revocations, qlist_version (self->quarantine),
             qlist_size (self->quarantine));
    return 0;
}

//  --------------------------------------------------------------------------
//  Routing

//  Path through link (ours if we route through it), or false.
static bool
s_usable (mesh_t *self, s_link_t *link, uint64_t now_ms, int *names)
{
    if (!link->verified || !link->up)
        return false;
    if (link->kind == MESH_LINK_COORDINATOR) {
        *names = 0;
        return true;
    }
    if (!*link->path || now_ms > link->heard_ms + MESH_DEAD_ADVERTS * self->advert_ms)
        return false;
    if (qlist_has (self->quarantine, link->peer))
        return false;               //  It would relay nothing for us
    size_t size = strlen (link->path);
    int count = meshmsg_names (link->path, size);
    if (count <= 0 || count >= WEFT_HOP_LIMIT - 1
    ||  meshmsg_has_name (link->path, size, self->name))
        return false;               //  A loop, or too long to extend
    *names = count;
    return true;
}

static void
s_route_update (mesh_t *self, uint64_t now_ms)
{
    s_link_t *best = NULL;
    int best_names = 0;
    for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link;
         link = (s_link_t *) zhashx_next (self->links)) {
        int names;
        if (!s_usable (self, link, now_ms, &names))
            continue;
        bool better = !best || names < best_names
            || (names == best_names && streq (link->name, self->route_link))
            || (names == best_names && !streq (best->name, self->route_link)
                && strcmp (link->peer, best->peer) < 0);
        if (better) {
            best = link;
            best_names = names;
        }
    }
    char path [MESHMSG_PATH_MAX + WEFT_NAME_MAX + 2] = "";
    if (best && best->kind == MESH_LINK_COORDINATOR)
        snprintf (path, sizeof path, "%s", self->name);
    else
    if (best)
        snprintf (path, sizeof path, "%s,%s", self->name, best->path);
    const char *next = best? best->name: "";
    bool link_changed = strcmp (next, self->route_link) != 0;
    bool path_changed = strcmp (path, self->path) != 0;
    if (link_changed) {
        self->stats.route_changes++;
        zsys_info ("mesh: route to the coordinator %s%s%s (%d hops)",
                   best? "via ": "lost", best? (best->kind == MESH_LINK_COORDINATOR?
                   "direct link": best->peer): "", "", best? best_names + 1: 0);
        snprintf (self->route_link, sizeof self->route_link, "%s", next);
        if (best)
            outbox_wake (self->outbox, MESH_COORDINATOR);
    }
    if (strlen (path) > MESHMSG_PATH_MAX) {
        path [0] = 0;               //  Cannot happen: s_usable bounds the ids
        path_changed = self->path [0] != 0;
    }
    if (path_changed) {
        memcpy (self->path, path, strlen (path) + 1);
        //  Triggered update: neighbours learn at once
        for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link;
             link = (s_link_t *) zhashx_next (self->links))
            if (link->verified && link->up && link->kind != MESH_LINK_COORDINATOR)
                s_send_route (self, link, now_ms);
    }
}

size_t
mesh_distance (mesh_t *self)
{
    assert (self);
    return *self->path? (size_t) meshmsg_names (self->path, strlen (self->path)): 0;
}

//  Remember that device id is reached through neighbour peer.
static void
s_learn_route (mesh_t *self, const char *device, const char *peer)
{
    char *current = (char *) zhashx_lookup (self->routes, device);
    if (current && streq (current, peer))
        return;
    if (!current) {
        if (zhashx_size (self->routes) >= MESH_ROUTES_MAX) {
            char *oldest = (char *) zlistx_first (self->route_order);
            if (oldest)
                zhashx_delete (self->routes, oldest);
            zlistx_delete (self->route_order, zlistx_cursor (self->route_order));
        }
        zlistx_add_end (self->route_order, strdup (device));
    }
    zhashx_update (self->routes, device, strdup (peer));
}

//  Link toward dest, or NULL.
static s_link_t *
s_next_hop (mesh_t *self, const char *dest)
{
    if (streq (dest, MESH_COORDINATOR))
        return *self->route_link? (s_link_t *) zhashx_lookup (self->links, self->route_link)
                                : NULL;
    const char *peer = (const char *) zhashx_lookup (self->routes, dest);
    const char *link_name = (const char *) zhashx_lookup (self->peers, dest);
    if (!link_name && peer)
        link_name = (const char *) zhashx_lookup (self->peers, peer);
    s_link_t *link = link_name? (s_link_t *) zhashx_lookup (self->links, link_name): NULL;
    return link && link->verified && link->up? link: NULL;
}

//  --------------------------------------------------------------------------
//  Links

void
mesh_link_up (mesh_t *self, const char *link_name, int kind,
              const uint8_t key [WEFT_KEY_SIZE], uint64_t now_ms)
{
    assert (self && link_name);
    s_link_t *link = (s_link_t *) zhashx_lookup (self->links, link_name);
    if (!link) {
        if (zhashx_size (self->links) >= MESH_LINKS_MAX) {
            zsys_warning ("mesh: too many links, %s ignored", link_name);
            return;
        }
        link = (s_link_t *) zmalloc (sizeof (s_link_t));
        snprintf (link->name, sizeof link->name, "%s", link_name);
        link->acks = zlistx_new ();
        zhashx_insert (self->links, link_name, link);
    }
    link->kind = kind;
    if (key)
        memcpy (link->key, key, WEFT_KEY_SIZE);
    link->up = true;
    link->hello_sent = false;
    link->heard_ms = now_ms;
    if (kind == MESH_LINK_COORDINATOR) {
        link->verified = true;
        snprintf (link->peer, sizeof link->peer, "%s", MESH_COORDINATOR);
        s_route_update (self, now_ms);
        s_send_route (self, link, now_ms);  //  Tells the coordinator our revocations
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
    s_link_t *link = (s_link_t *) zhashx_lookup (self->links, link_name);
    if (!link)
        return;
    link->up = false;
    if (link->kind != MESH_LINK_COORDINATOR)
        link->verified = false;
    gossip_link_down (self->gossip, link_name);
    link->path [0] = 0;
    if (*link->peer) {
        const char *current = (const char *) zhashx_lookup (self->peers, link->peer);
        if (current && streq (current, link_name))
            zhashx_delete (self->peers, link->peer);
    }
    if (link->kind == MESH_LINK_ACCEPTED)
        zhashx_delete (self->links, link_name);
    s_route_update (self, now_ms);
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
    for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link;
         link = (s_link_t *) zhashx_next (self->links))
        if (link->up && link->verified && link->kind != MESH_LINK_COORDINATOR
        &&  memcmp (link->key, key, WEFT_KEY_SIZE) == 0)
            return true;
    return false;
}

bool
mesh_admit (mesh_t *self, const uint8_t key [WEFT_KEY_SIZE])
{
    assert (self);
    return !s_is_revoked (self, NULL, key);
}

//  Close every link of a revoked peer.
static void
s_close_revoked (mesh_t *self, uint64_t now_ms)
{
    zlistx_t *doomed = zlistx_new ();
    zlistx_set_destructor (doomed, s_free_item);
    for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link;
         link = (s_link_t *) zhashx_next (self->links))
        if (link->kind != MESH_LINK_COORDINATOR
        &&  s_is_revoked (self, *link->peer? link->peer: NULL, link->key))
            zlistx_add_end (doomed, strdup (link->name));
    for (char *name = (char *) zlistx_first (doomed); name;
         name = (char *) zlistx_next (doomed)) {
        zsys_info ("mesh: closing link %s of a revoked peer", name);
        if (self->fx.close)
            self->fx.close (self->fx.ctx, name);
        mesh_link_down (self, name, now_ms);
        zhashx_delete (self->links, name);
    }
    zlistx_destroy (&doomed);
}

//  --------------------------------------------------------------------------
//  Link-local messages

static int
s_on_hello (mesh_t *self, s_link_t *link, const envelope_t *env, uint64_t now_ms)
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
    if (s_is_revoked (self, cert.subject, cert.curve_key))
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
    memcpy (link->ak_name, cert.ak_name, cert.ak_name_size);
    link->ak_name_size = cert.ak_name_size;
    snprintf (link->path, sizeof link->path, "%s", msg.path);
    link->revocations = msg.revocations;
    link->quarantine = msg.quarantine;
    link->heard_ms = now_ms;
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
    s_route_update (self, now_ms);
    s_send_revocations (self, link);
    s_send_quarantine (self, link);
    outbox_wake (self->outbox, cert.subject);
    return 0;
}

static int
s_on_route (mesh_t *self, s_link_t *link, const envelope_t *env, uint64_t now_ms)
{
    meshmsg_t msg;
    if (meshmsg_decode (&msg, MSG_ROUTE, env->payload, env->payload_size)) {
        self->stats.malformed++;
        return -1;
    }
    //  The choice of route depends on this link only through whether it
    //  is usable and its path: an advert that changes neither (the usual
    //  periodic one) leaves it as it is, so a node with many neighbours
    //  does not rescan them all for each advert
    int names_before = 0, names_after = 0;
    bool before = s_usable (self, link, now_ms, &names_before);
    bool same_path = streq (link->path, msg.path);
    snprintf (link->path, sizeof link->path, "%s", msg.path);
    link->revocations = msg.revocations;
    link->quarantine = msg.quarantine;
    link->heard_ms = now_ms;
    bool after = s_usable (self, link, now_ms, &names_after);
    if (!same_path || before != after || names_before != names_after)
        s_route_update (self, now_ms);
    s_send_revocations (self, link);
    s_send_quarantine (self, link);
    return 0;
}

static int
s_on_custody_ack (mesh_t *self, const envelope_t *env)
{
    meshmsg_t msg;
    if (meshmsg_decode (&msg, MSG_CUSTODY_ACK, env->payload, env->payload_size)) {
        self->stats.malformed++;
        return -1;
    }
    if (msg.status == WEFT_STATUS_INTERNAL)
        return 0;                   //  The next hop could not commit: retransmit
    for (size_t i = 0; i < msg.id_count; i++)
        outbox_ack (self->outbox, msg.ids + i * WEFT_ID_SIZE);
    return 0;
}

//  --------------------------------------------------------------------------
//  Custody

static bool
s_seen (mesh_t *self, const uint8_t *id)
{
    char hex [2 * WEFT_ID_SIZE + 1];
    s_hex (id, hex);
    return zhashx_lookup (self->seen, hex) != NULL;
}

static void
s_mark_seen (mesh_t *self, const uint8_t *id)
{
    char hex [2 * WEFT_ID_SIZE + 1];
    s_hex (id, hex);
    if (zhashx_lookup (self->seen, hex))
        return;
    if (zhashx_size (self->seen) >= MESH_SEEN_MAX) {
        char *oldest = (char *) zlistx_first (self->seen_order);
        if (oldest)
            zhashx_delete (self->seen, oldest);
        zlistx_delete (self->seen_order, zlistx_cursor (self->seen_order));
    }
    zhashx_insert (self->seen, hex, (void *) 1);
    zlistx_add_end (self->seen_order, strdup (hex));
}

//  A flush visits only the links with ACKs queued, not every link (a
//  site server has hundreds)
static void
s_queue_ack (mesh_t *self, s_link_t *link, const uint8_t *id)
{
    //  The coordinator too keeps custody of what it sends us until then
    if (zlistx_size (link->acks) == 0)
        zlistx_add_end (self->ack_links, strdup (link->name));
    uint8_t *copy = (uint8_t *) zmalloc (WEFT_ID_SIZE);
    memcpy (copy, id, WEFT_ID_SIZE);
    zlistx_add_end (link->acks, copy);
}

//  ACK at once with a status that ends the sender's retransmissions
static void
s_refuse (mesh_t *self, s_link_t *link, const uint8_t *id, uint64_t now_ms)
{
    meshmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_CUSTODY_ACK;
    msg.ids = id;
    msg.id_count = 1;
    msg.status = WEFT_STATUS_DENIED;
    s_send_local (self, link, now_ms, &msg);
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
        case MSG_DELEGATED_VERDICT: return OUTBOX_EVIDENCE;
        case MSG_HEARTBEAT:
        case MSG_NODE_STATS:        return OUTBOX_TELEMETRY;
        default:                    return OUTBOX_BULK;
    }
}

static int
s_on_revocations (mesh_t *self, const uint8_t *frame, size_t size, uint64_t now_ms)
{
    envelope_t env;
    meshmsg_t msg;
    if (envelope_decode (&env, frame, size)
    ||  meshmsg_decode (&msg, MSG_REVOCATIONS, env.payload, env.payload_size))
        return -1;
    if (msg.revocations <= self->revocations)
        return 0;                   //  Held already (ACKed all the same)
    uint64_t before = self->revocations;
    //  Persist before anything else sees it (and before the ACK)
    store_txn_t *txn = store_begin (self->store, true);
    char key [WEFT_NAME_MAX + 16];
    int key_size = snprintf (key, sizeof key, "%srevocations", self->prefix);
    int rc = txn? store_put (txn, MESH_TABLE, key, (size_t) key_size, frame, size): -1;
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    if (rc || s_load_revocations (self, frame, size)) {
        zsys_warning ("mesh: cannot store revocation list version %" PRIu64, msg.revocations);
        return -2;
    }
    zsys_info ("mesh: revocation list version %" PRIu64 " (was %" PRIu64 "): %zu revoked",
               self->revocations, before, self->revoked_count);
    s_close_revoked (self, now_ms);
    for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link;
         link = (s_link_t *) zhashx_next (self->links))
        s_send_revocations (self, link);
    return 0;
}

//  A newer quarantine list: stored before the ACK, then pushed on.
//  Returns 0, or -2 if it could not be stored (not ACKed).
static int
s_on_quarantine (mesh_t *self, const uint8_t *frame, size_t size)
{
    uint64_t before = qlist_version (self->quarantine);
    int rc = qlist_take (self->quarantine, frame, size);
    if (rc == -2) {
        zsys_warning ("mesh: cannot store the quarantine list");
        return -2;
    }
    if (rc != 1)
        return 0;
    //  Our own verdicts are the coordinator's once it has them all: they
    //  travel in the evidence class, acknowledged after its commit
    qlist_settle (self->quarantine,
                  outbox_stats (self->outbox)->depth [OUTBOX_EVIDENCE] == 0);
    zsys_info ("mesh: quarantine list version %" PRIu64 " (was %" PRIu64 "): %zu quarantined",
               qlist_version (self->quarantine), before, qlist_size (self->quarantine));
    //  A quarantined peer may have been our next hop
    s_route_update (self, self->now_ms);
    for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link;
         link = (s_link_t *) zhashx_next (self->links))
        s_send_quarantine (self, link);
    return 0;
}

//  The key a custody frame's signature is checked with: the
//  coordinator's always; the neighbour's own (first hop); any other
//  origin whose certificate we hold. NULL: not checked here.
static const uint8_t *
s_custody_key (mesh_t *self, s_link_t *link, const envelope_t *env)
{
    if (streq (env->origin, MESH_COORDINATOR))
        return self->coord_sign;
    if (link->kind == MESH_LINK_COORDINATOR)
        return NULL;                //  Relayed by the coordinator: trust it
    if (streq (env->origin, link->peer))
        return link->sign_key;
    return (const uint8_t *) zhashx_lookup (self->certs, env->origin);
}

static int
s_on_custody (mesh_t *self, s_link_t *link, const char *dest, const uint8_t *frame,
              size_t size, uint64_t now_ms)
{
    if (!link->verified) {
        self->stats.unauthenticated++;
        s_debug (self, "mesh: custody frame on %s before HELLO, dropped", link->name);
        return -1;
    }
    envelope_t env;
    if (envelope_decode (&env, frame, size)) {
        self->stats.malformed++;
        return -1;
    }
    if (s_seen (self, env.id)) {
        self->stats.duplicates++;
        s_queue_ack (self, link, env.id);
        return 0;
    }
    const uint8_t *key = s_custody_key (self, link, &env);
    bool checked = key && self->checked_key
                && memcmp (key, self->checked_key, WEFT_KEY_SIZE) == 0;
    if (key && !checked && envelope_verify (&env, key)) {
        self->stats.forged++;
        zsys_warning ("mesh: forged or tampered envelope (origin %s) from %s dropped",
                      env.origin, link->peer);
        s_refuse (self, link, env.id, now_ms);
        return -1;
    }
    if (s_is_revoked (self, env.origin, NULL)) {
        self->stats.revoked++;
        s_refuse (self, link, env.id, now_ms);
        return -1;
    }
    if (s_quarantine_refuses (self, link, &env, dest)) {
        self->stats.quarantined++;
        s_debug (self, "mesh: %s from %s for %s refused: quarantined",
                 proto_msg_name (env.type)? proto_msg_name (env.type): "envelope",
                 env.origin, dest);
        s_refuse (self, link, env.id, now_ms);
        return -1;
    }
    if (s_gossip_type (env.type)) {
        //  The coordinator's gossip, sent to us by name: never relayed
        if (link->kind != MESH_LINK_COORDINATOR || !streq (env.origin, MESH_COORDINATOR)) {
            self->stats.malformed++;
            s_refuse (self, link, env.id, now_ms);
            return -1;
        }
        return gossip_on_message (self->gossip, link->name, env.type, env.payload,
                                  env.payload_size, now_ms);
    }
    if (streq (dest, "*")) {
        if ((env.type != MSG_REVOCATIONS && env.type != MSG_QUARANTINE)
        ||  !streq (env.origin, MESH_COORDINATOR)) {
            self->stats.malformed++;
            s_refuse (self, link, env.id, now_ms);
            return -1;
        }
        self->now_ms = now_ms;
        int rc = env.type == MSG_REVOCATIONS? s_on_revocations (self, frame, size, now_ms)
                                            : s_on_quarantine (self, frame, size);
        if (rc == -2)
            return -1;              //  Not stored: not ACKed, the sender retries
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
        self->stats.delivered++;
        s_mark_seen (self, env.id);
        if (!ours)
            self->fx.deliver (self->fx.ctx, frame, size);
        s_queue_ack (self, link, env.id);
        return 0;
    }
    if (env.hops <= 1) {
        self->stats.hop_limit++;
        s_refuse (self, link, env.id, now_ms);
        return -1;
    }
    uint8_t *relayed;
    size_t relayed_size;
    if (envelope_reframe (&env, (uint8_t) (env.hops - 1), &relayed, &relayed_size)) {
        self->stats.malformed++;
        return -1;
    }
    int rc = outbox_stage (self->outbox, s_class_of (env.type), dest, env.id,
                           relayed, relayed_size);
    free (relayed);
    if (rc != 0)
        return -1;                  //  Full (back-pressure) or bad: no ACK, retried
    self->stats.relayed++;
    if (streq (dest, MESH_COORDINATOR) && link->kind != MESH_LINK_COORDINATOR)
        s_learn_route (self, env.origin, link->peer);
    s_queue_ack (self, link, env.id);
    uint8_t *id = (uint8_t *) zmalloc (WEFT_ID_SIZE);
    memcpy (id, env.id, WEFT_ID_SIZE);
    zlistx_add_end (self->pending_seen, id);
    return 0;
}

bool
mesh_custody_key (mesh_t *self, const char *link_name, const char *dest,
                  const uint8_t *frame, size_t size, uint8_t key [WEFT_KEY_SIZE])
{
    assert (self && link_name && key);
    s_link_t *link = (s_link_t *) zhashx_lookup (self->links, link_name);
    envelope_t env;
    if (!dest || !link || !link->verified || envelope_decode (&env, frame, size)
    ||  s_seen (self, env.id))
        return false;
    const uint8_t *which = s_custody_key (self, link, &env);
    if (which)
        memcpy (key, which, WEFT_KEY_SIZE);
    return which != NULL;
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

int
mesh_on_frame (mesh_t *self, const char *link_name, const char *dest,
               const uint8_t *frame, size_t size, uint64_t now_ms)
{
    assert (self && link_name);
    s_link_t *link = (s_link_t *) zhashx_lookup (self->links, link_name);
    if (!link) {
        s_debug (self, "mesh: frame on unknown link %s", link_name);
        return -1;
    }
    if (dest) {
        if (!*dest || strlen (dest) > WEFT_NAME_MAX) {
            self->stats.malformed++;
            return -1;
        }
        return s_on_custody (self, link, dest, frame, size, now_ms);
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
            return s_on_custody_ack (self, &env);
        if (s_gossip_type (env.type))
            return gossip_on_message (self->gossip, link->name, env.type, env.payload,
                                      env.payload_size, now_ms);
        //  A reply to an old-style direct request: for us
        self->fx.deliver (self->fx.ctx, frame, size);
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
        return s_on_route (self, link, &env, now_ms);
    if (env.type == MSG_CUSTODY_ACK)
        return s_on_custody_ack (self, &env);
    if (s_gossip_type (env.type))
        return gossip_on_message (self->gossip, link->name, env.type, env.payload,
                                  env.payload_size, now_ms);
    self->stats.malformed++;
    return -1;
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

bool
mesh_neighbour (mesh_t *self, const char *name, char role [WEFT_NAME_MAX + 1],
                uint8_t ak_name [CERT_AK_NAME_SIZE], size_t *ak_name_size_p)
{
    assert (self && name);
    const char *link_name = (const char *) zhashx_lookup (self->peers, name);
    s_link_t *link = link_name? (s_link_t *) zhashx_lookup (self->links, link_name): NULL;
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

void
mesh_neighbours_each (mesh_t *self, mesh_neighbour_fn *fn, void *arg)
{
    assert (self && fn);
    for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link;
         link = (s_link_t *) zhashx_next (self->links))
        if (link->verified && link->up && link->kind != MESH_LINK_COORDINATOR)
            fn (arg, link->peer, link->role, link->ak_name, link->ak_name_size, link->epoch);
}

int
mesh_quarantine_local (mesh_t *self, const char *device, bool quarantined)
{
    assert (self && device);
    int rc = qlist_local (self->quarantine, device, quarantined);
    if (rc == 0)
        zsys_info ("mesh: %s %s by this node's own attestation verdict", device,
                   quarantined? "quarantined": "released");
    return rc;
}

//  --------------------------------------------------------------------------
//  Commit, acknowledge, forward

static void
s_pump (mesh_t *self, uint64_t now_ms)
{
    //  Only due entries are touched (the outbox indexes by due time).
    //  One without a next hop waits: toward the coordinator a new route
    //  wakes it at once, so it may wait long; a device's downward route
    //  is learnt from its traffic without a wake, so that one looks
    //  again every second
    size_t visited = 0;
    outbox_entry_t *entry;
    while (visited < MESH_PUMP_MAX
       && (entry = outbox_due (self->outbox, now_ms))) {
        visited++;
        s_link_t *link = s_next_hop (self, entry->dest);
        if (!link)
            outbox_defer (self->outbox, entry, now_ms,
                          streq (entry->dest, MESH_COORDINATOR)? 5000: 1000);
        else
        if (self->fx.send (self->fx.ctx, link->name, entry->dest, entry->frame,
                           entry->size) == 0)
            outbox_sent (self->outbox, entry, now_ms);
        else
            outbox_defer (self->outbox, entry, now_ms, 100);
    }
}

static void
s_send_acks (mesh_t *self, uint64_t now_ms, bool durable)
{
    for (char *name = (char *) zlistx_first (self->ack_links); name;
         name = (char *) zlistx_next (self->ack_links)) {
        s_link_t *link = (s_link_t *) zhashx_lookup (self->links, name);
        if (!link || zlistx_size (link->acks) == 0)
            continue;               //  Gone (its ACKs with it), or sent already
        uint8_t ids [MESHMSG_ACK_IDS_MAX * WEFT_ID_SIZE];
        size_t held = 0;
        uint8_t *id = (uint8_t *) zlistx_first (link->acks);
        while (id) {
            if (durable) {
                memcpy (ids + held * WEFT_ID_SIZE, id, WEFT_ID_SIZE);
                held++;
            }
            free (id);
            id = (uint8_t *) zlistx_next (link->acks);
            if (held == MESHMSG_ACK_IDS_MAX || (!id && held)) {
                meshmsg_t msg;
                memset (&msg, 0, sizeof msg);
                msg.type = MSG_CUSTODY_ACK;
                msg.ids = ids;
                msg.id_count = held;
                msg.status = WEFT_STATUS_OK;
                s_send_local (self, link, now_ms, &msg);
                self->stats.acks_sent++;
                held = 0;
            }
        }
        zlistx_purge (link->acks);
    }
    zlistx_purge (self->ack_links);
}

int
mesh_flush (mesh_t *self, uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
    int rc = outbox_flush (self->outbox);
    for (uint8_t *id = (uint8_t *) zlistx_first (self->pending_seen); id;
         id = (uint8_t *) zlistx_next (self->pending_seen))
        if (rc == 0)
            s_mark_seen (self, id);
    zlistx_purge (self->pending_seen);
    //  After a failed commit nothing of the burst is acknowledged; the
    //  senders retransmit and duplicates are ACKed then
    s_send_acks (self, now_ms, rc == 0);
    s_pump (self, now_ms);
    return rc;
}

//  --------------------------------------------------------------------------
//  Timers

void
mesh_tick (mesh_t *self, uint64_t now_ms)
{
    assert (self);
    if (now_ms >= self->next_advert) {
        self->next_advert = now_ms + self->advert_ms;
        s_route_update (self, now_ms);  //  Stale links drop out here
        self->now_ms = now_ms;
        gossip_tick (self->gossip, now_ms);
        for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link;
             link = (s_link_t *) zhashx_next (self->links))
            if (link->up && (link->verified || link->kind == MESH_LINK_COORDINATOR)) {
                s_send_route (self, link, now_ms);
                s_send_revocations (self, link);
                s_send_quarantine (self, link);
            }
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

uint64_t
mesh_revocations (mesh_t *self)
{
    assert (self);
    return self->revocations;
}

uint64_t
mesh_quarantine (mesh_t *self)
{
    assert (self);
    return qlist_version (self->quarantine);
}

bool
mesh_quarantined (mesh_t *self, const char *device)
{
    assert (self);
    return qlist_has (self->quarantine, device);
}

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

const uint8_t *
mesh_revoked_operators (mesh_t *self, size_t *count_p)
{
    assert (self && count_p);
    *count_p = self->revoked_operator_count;
    return self->revoked_operators;
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
    for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link;
         link = (s_link_t *) zhashx_next (self->links))
        if (link->verified && link->up && link->kind != MESH_LINK_COORDINATOR)
            neighbours++;
    s_link_t *next = *self->route_link?
        (s_link_t *) zhashx_lookup (self->links, self->route_link): NULL;
    char *policies = gossip_stats_json (self->gossip);
    char *json = zsys_sprintf (
        "{\"hops\":%zu,\"next_hop\":\"%s\",\"neighbours\":%zu,"
        "\"queue\":{\"control\":%" PRIu64 ",\"twin\":%" PRIu64 ",\"evidence\":%" PRIu64
        ",\"telemetry\":%" PRIu64 ",\"bulk\":%" PRIu64 "},"
        "\"retransmits\":%" PRIu64 ",\"relayed\":%" PRIu64 ",\"delivered\":%" PRIu64
        ",\"duplicates\":%" PRIu64 ",\"forged_rejected\":%" PRIu64
        ",\"dropped\":{\"queue_full\":%" PRIu64 ",\"hop_limit\":%" PRIu64
        ",\"revoked\":%" PRIu64 ",\"quarantined\":%" PRIu64 ",\"unauthenticated\":%" PRIu64
        ",\"malformed\":%" PRIu64
        "},\"refused_full\":%" PRIu64 ",\"commit_failed\":%" PRIu64
        ",\"refused_hello\":%" PRIu64 ",\"revocations\":%" PRIu64
        ",\"quarantine\":%" PRIu64 ",\"quarantined\":%zu,\"policies\":%s}",
        mesh_distance (self), next? next->peer: "", neighbours,
        o->depth [OUTBOX_CONTROL], o->depth [OUTBOX_TWIN], o->depth [OUTBOX_EVIDENCE],
        o->depth [OUTBOX_TELEMETRY], o->depth [OUTBOX_BULK],
        o->retransmits, m->relayed, m->delivered, m->duplicates, m->forged,
        o->dropped_full, m->hop_limit, m->revoked, m->quarantined, m->unauthenticated,
        m->malformed, o->refused_full, o->commit_failed, m->refused_hello, self->revocations,
        qlist_version (self->quarantine), qlist_size (self->quarantine), policies);
    free (policies);
    return json;
}

//  --------------------------------------------------------------------------
//  Selftest: a line of nodes wired by a test fabric

#define T_NODES 4

typedef struct {
    mesh_t *mesh;
    char name [16];
    keys_t keys;
    int delivered;
    uint8_t last [256];
    size_t last_size;
} t_node_t;

typedef struct {
    t_node_t nodes [T_NODES];
    //  Queued link messages: from node index, link name at the receiver
    zlistx_t *wire;
    bool cut [T_NODES][T_NODES];
    int to_coord;                       //  Custody frames to the coordinator
} t_world_t;

typedef struct {
    int to;
    char link [32];
    char dest [WEFT_NAME_MAX + 1];
    bool has_dest;
    uint8_t *frame;
    size_t size;
} t_msg_t;

typedef struct {
    t_world_t *world;
    int index;
} t_ctx_t;

static t_ctx_t s_ctx [T_NODES];

//  Link names: "n<i>" on both sides
static int
s_t_send (void *ctx, const char *link, const char *dest, const uint8_t *frame, size_t size)
{
    t_ctx_t *c = (t_ctx_t *) ctx;
    if (streq (link, MESH_COORDINATOR)) {
        if (dest)
            c->world->to_coord++;
        return 0;
    }
    int to = link [1] - '0';
    if (c->world->cut [c->index][to])
        return -1;
    t_msg_t *msg = (t_msg_t *) zmalloc (sizeof (t_msg_t));
    msg->to = to;
    snprintf (msg->link, sizeof msg->link, "n%d", c->index);
    if (dest) {
        msg->has_dest = true;
        snprintf (msg->dest, sizeof msg->dest, "%s", dest);
    }
    msg->frame = (uint8_t *) zmalloc (size);
    memcpy (msg->frame, frame, size);
    msg->size = size;
    zlistx_add_end (c->world->wire, msg);
    return 0;
}

static void
s_t_deliver (void *ctx, const uint8_t *frame, size_t size)
{
    t_ctx_t *c = (t_ctx_t *) ctx;
    t_node_t *node = &c->world->nodes [c->index];
    node->delivered++;
    node->last_size = size < sizeof node->last? size: sizeof node->last;
    memcpy (node->last, frame, node->last_size);
}

static void
s_t_run (t_world_t *world, uint64_t now)
{
    for (int round = 0; round < 50; round++) {
        t_msg_t *msg;
        bool any = false;
        while ((msg = (t_msg_t *) zlistx_first (world->wire))) {
            zlistx_detach_cur (world->wire);
            mesh_on_frame (world->nodes [msg->to].mesh, msg->link,
                           msg->has_dest? msg->dest: NULL, msg->frame, msg->size, now);
            free (msg->frame);
            free (msg);
            any = true;
        }
        for (int i = 0; i < T_NODES; i++)
            mesh_flush (world->nodes [i].mesh, now);
        if (!any && zlistx_size (world->wire) == 0)
            break;
    }
}

static uint8_t *
s_t_envelope (const keys_t *keys, const char *origin, int type, uint64_t seq,
              const uint8_t *payload, size_t payload_size, size_t *size_p)
{
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, WEFT_ID_SIZE);
    env.type = type;
    snprintf (env.origin, sizeof env.origin, "%s", origin);
    env.seq = seq;
    env.hop_limit = env.hops = WEFT_HOP_LIMIT;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame;
    int rc = envelope_encode (&env, keys->sign_secret, &frame, size_p);
    assert (rc == 0);
    return frame;
}

void
mesh_test (bool verbose)
{
    printf (" * mesh: ");
    //  @selftest
    char dir [] = "/tmp/weft-mesh-test.XXXXXX";
    assert (mkdtemp (dir));
    const char *tables [] = { MESH_TABLE, OUTBOX_TABLE, NULL };
    store_t *store = store_new (dir, tables, 0);
    assert (store);
    keys_t ca, coord;
    keys_generate (&ca);
    keys_generate (&coord);
    t_world_t world;
    memset (&world, 0, sizeof world);
    world.wire = zlistx_new ();
    uint64_t now = 1767225600000ULL;
    //  A line n0 - n1 - n2 - n3; n0 has the coordinator link
    for (int i = 0; i < T_NODES; i++) {
        t_node_t *node = &world.nodes [i];
        snprintf (node->name, sizeof node->name, "gw-%d", i);
        keys_generate (&node->keys);
        cert_t cert;
        memset (&cert, 0, sizeof cert);
        cert.serial = (uint64_t) i + 10;
        cert.kind = CERT_KIND_NODE;
        strcpy (cert.subject, node->name);
        strcpy (cert.role, "gateway");
        memcpy (cert.sign_key, node->keys.sign_public, WEFT_KEY_SIZE);
        memcpy (cert.curve_key, node->keys.curve_public, WEFT_KEY_SIZE);
        cert.not_after = now / 1000 + 86400;
        uint8_t *cert_bytes;
        size_t cert_size;
        assert (cert_encode (&cert, ca.sign_secret, &cert_bytes, &cert_size) == 0);
        char prefix [16];
        snprintf (prefix, sizeof prefix, "%d/", i);
        mesh_config_t config = {
            .name = node->name, .tenant = "", .keys = &node->keys, .cert = cert_bytes,
            .cert_size = cert_size, .ca_key = ca.sign_public,
            .coord_sign = coord.sign_public, .advert_ms = 1000, .store = store,
            .prefix = prefix, .verbose = verbose
        };
        s_ctx [i].world = &world;
        s_ctx [i].index = i;
        mesh_effects_t effects = { &s_ctx [i], s_t_send, NULL, s_t_deliver, NULL };
        node->mesh = mesh_new (&config, &effects);
        assert (node->mesh);
        assert (mesh_start (node->mesh, now) == 0);
        free (cert_bytes);
    }
    mesh_link_up (world.nodes [0].mesh, MESH_COORDINATOR, MESH_LINK_COORDINATOR,
                  coord.curve_public, now);
    for (int i = 0; i + 1 < T_NODES; i++) {
        //  i+1 dials i: on i+1 the link is "n<i>", on i it is "n<i+1>"
        char name [16];
        snprintf (name, sizeof name, "n%d", i);
        snprintf (name, sizeof name, "n%d", i + 1);
        mesh_link_up (world.nodes [i].mesh, name, MESH_LINK_ACCEPTED,
                      world.nodes [i + 1].keys.curve_public, now);
        snprintf (name, sizeof name, "n%d", i);
        mesh_link_up (world.nodes [i + 1].mesh, name, MESH_LINK_DIALLED,
                      world.nodes [i].keys.curve_public, now);
        s_t_run (&world, now);
    }
    assert (mesh_distance (world.nodes [0].mesh) == 1);
    assert (mesh_distance (world.nodes [1].mesh) == 2);
    assert (mesh_distance (world.nodes [3].mesh) == 4);

    //  n3's heartbeat crosses three relays, each ACKing after its commit
    size_t size;
    uint8_t *frame = s_t_envelope (&world.nodes [3].keys, "gw-3", MSG_HEARTBEAT, 1,
                                   (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_send_own (world.nodes [3].mesh, frame, size) == 0);
    free (frame);
    mesh_flush (world.nodes [3].mesh, now);
    s_t_run (&world, now);
    assert (world.to_coord == 1);
    for (int i = 1; i < T_NODES; i++)
        assert (outbox_size (mesh_outbox (world.nodes [i].mesh)) == 0);
    //  n0 keeps it until the coordinator's CUSTODY_ACK
    assert (outbox_size (mesh_outbox (world.nodes [0].mesh)) == 1);
    assert (mesh_stats (world.nodes [1].mesh)->relayed == 1);

    //  A forged envelope from n3 (claims gw-3, signed by another key) dies at n2
    keys_t forger;
    keys_generate (&forger);
    frame = s_t_envelope (&forger, "gw-3", MSG_HEARTBEAT, 2,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    s_t_send (&s_ctx [3], "n2", MESH_COORDINATOR, frame, size);
    free (frame);
    s_t_run (&world, now);
    assert (mesh_stats (world.nodes [2].mesh)->forged == 1);
    assert (mesh_stats (world.nodes [1].mesh)->relayed == 1);

    //  The coordinator's desired twin for gw-3 goes down the reverse route
    frame = s_t_envelope (&coord, MESH_COORDINATOR, MSG_TWIN_DESIRED, 1,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-3", frame, size,
                           now) == 0);
    mesh_flush (world.nodes [0].mesh, now);
    s_t_run (&world, now);
    assert (world.nodes [3].delivered == 1);
    //  The same envelope again (another path, a retransmit): delivered once
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-3", frame, size,
                           now) == 0);
    mesh_flush (world.nodes [0].mesh, now);
    s_t_run (&world, now);
    assert (world.nodes [3].delivered == 1);
    assert (mesh_stats (world.nodes [0].mesh)->duplicates == 1);
    free (frame);

    //  The coordinator link goes: n0 loses its route, and so does everyone
    mesh_link_down (world.nodes [0].mesh, MESH_COORDINATOR, now);
    s_t_run (&world, now);
    for (int i = 0; i < T_NODES; i++)
        assert (mesh_distance (world.nodes [i].mesh) == 0);
    //  While cut, n3's report is held by custody at n0
    frame = s_t_envelope (&world.nodes [3].keys, "gw-3", MSG_TWIN_REPORTED, 3,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_send_own (world.nodes [3].mesh, frame, size) == 0);
    free (frame);
    now += 1000;
    for (int i = 0; i < T_NODES; i++)
        mesh_tick (world.nodes [i].mesh, now);
    s_t_run (&world, now);
    //  n0 holds it with no route: its next deadline is the next advert
    //  (the held envelope waits for a route or its 5 s), not a poll
    assert (outbox_size (mesh_outbox (world.nodes [0].mesh)) >= 1);
    assert (mesh_deadline (world.nodes [0].mesh) == now + 1000);
    int before = world.to_coord;
    mesh_link_up (world.nodes [0].mesh, MESH_COORDINATOR, MESH_LINK_COORDINATOR,
                  coord.curve_public, now);
    //  The new route wakes it: due at once
    assert (mesh_deadline (world.nodes [0].mesh) <= now);
    s_t_run (&world, now);
    for (int i = 0; i < T_NODES; i++)
        mesh_tick (world.nodes [i].mesh, now);
    s_t_run (&world, now);
    assert (mesh_distance (world.nodes [3].mesh) == 4);
    now += 2000;
    for (int i = 0; i < T_NODES; i++)
        mesh_tick (world.nodes [i].mesh, now);
    s_t_run (&world, now);
    assert (world.to_coord > before);

    //  Quarantine of gw-2: the list reaches every node (n3 through gw-2
    //  itself: the coordinator's lists pass a quarantined relay)
    uint8_t *payload;
    size_t payload_size;
    meshmsg_t qmsg;
    memset (&qmsg, 0, sizeof qmsg);
    qmsg.type = MSG_QUARANTINE;
    qmsg.quarantine = 1;
    qmsg.names = "gw-2";
    qmsg.names_size = 4;
    assert (meshmsg_encode (&qmsg, &payload, &payload_size) == 0);
    frame = s_t_envelope (&coord, MESH_COORDINATOR, MSG_QUARANTINE, 10, payload,
                          payload_size, &size);
    free (payload);
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "*", frame, size,
                           now) == 0);
    free (frame);
    s_t_run (&world, now);
    for (int i = 0; i < T_NODES; i++) {
        assert (mesh_quarantine (world.nodes [i].mesh) == 1);
        assert (mesh_quarantined (world.nodes [i].mesh, "gw-2"));
        assert (!mesh_quarantined (world.nodes [i].mesh, "gw-1"));
    }
    //  gw-2 is no next hop any more: n3, behind it, has no route
    assert (mesh_distance (world.nodes [2].mesh) == 3);
    assert (mesh_distance (world.nodes [3].mesh) == 0);
    //  gw-2's own report is refused at n1 (DENIED ends its retransmits)
    int to_coord = world.to_coord;
    frame = s_t_envelope (&world.nodes [2].keys, "gw-2", MSG_TWIN_REPORTED, 20,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_send_own (world.nodes [2].mesh, frame, size) == 0);
    free (frame);
    mesh_flush (world.nodes [2].mesh, now);
    s_t_run (&world, now);
    assert (mesh_stats (world.nodes [1].mesh)->quarantined == 1);
    assert (outbox_size (mesh_outbox (world.nodes [2].mesh)) == 0);
    assert (world.to_coord == to_coord);
    //  its attestation evidence and heartbeats pass
    frame = s_t_envelope (&world.nodes [2].keys, "gw-2", MSG_ATTEST_EVIDENCE, 21,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_send_own (world.nodes [2].mesh, frame, size) == 0);
    free (frame);
    frame = s_t_envelope (&world.nodes [2].keys, "gw-2", MSG_HEARTBEAT, 22,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_send_own (world.nodes [2].mesh, frame, size) == 0);
    free (frame);
    mesh_flush (world.nodes [2].mesh, now);
    s_t_run (&world, now);
    assert (world.to_coord == to_coord + 2);
    assert (mesh_stats (world.nodes [1].mesh)->quarantined == 1);
    //  gw-2 relays nothing: gw-3's heartbeat handed over by gw-2 is refused
    frame = s_t_envelope (&world.nodes [3].keys, "gw-3", MSG_HEARTBEAT, 23,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    s_t_send (&s_ctx [2], "n1", MESH_COORDINATOR, frame, size);
    free (frame);
    s_t_run (&world, now);
    assert (mesh_stats (world.nodes [1].mesh)->quarantined == 2);
    //  and nothing but attestation traffic goes down to it
    frame = s_t_envelope (&coord, MESH_COORDINATOR, MSG_TWIN_DESIRED, 24,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-2", frame, size,
                           now) == -1);
    free (frame);
    frame = s_t_envelope (&coord, MESH_COORDINATOR, MSG_ATTEST_CHALLENGE, 25,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    int delivered = world.nodes [2].delivered;
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-2", frame, size,
                           now) == 0);
    free (frame);
    mesh_flush (world.nodes [0].mesh, now);
    s_t_run (&world, now);
    assert (world.nodes [2].delivered == delivered + 1);
    assert (mesh_stats (world.nodes [0].mesh)->quarantined == 1);
    char *qjson = mesh_stats_json (world.nodes [1].mesh);
    assert (strstr (qjson, "\"quarantined\":2,") && strstr (qjson, "\"quarantine\":1,"));
    free (qjson);
    //  Persisted: n1 restarted holds the list
    {
        mesh_destroy (&world.nodes [1].mesh);
        mesh_config_t config = { .name = "gw-1", .keys = &world.nodes [1].keys,
            .cert = (const uint8_t *) "x", .cert_size = 1, .ca_key = ca.sign_public,
            .coord_sign = coord.sign_public, .store = store, .prefix = "1/" };
        mesh_effects_t effects = { &s_ctx [1], s_t_send, NULL, s_t_deliver, NULL };
        world.nodes [1].mesh = mesh_new (&config, &effects);
        assert (mesh_start (world.nodes [1].mesh, now) == 0);
        assert (mesh_quarantine (world.nodes [1].mesh) == 1);
        assert (mesh_quarantined (world.nodes [1].mesh, "gw-2"));
        mesh_destroy (&world.nodes [1].mesh);
    }
    //  (restore n1 with its real certificate and links)
    {
        t_node_t *node = &world.nodes [1];
        cert_t cert;
        memset (&cert, 0, sizeof cert);
        cert.serial = 11;
        cert.kind = CERT_KIND_NODE;
        strcpy (cert.subject, node->name);
        strcpy (cert.role, "gateway");
        memcpy (cert.sign_key, node->keys.sign_public, WEFT_KEY_SIZE);
        memcpy (cert.curve_key, node->keys.curve_public, WEFT_KEY_SIZE);
        cert.not_after = now / 1000 + 86400;
        uint8_t *cert_bytes;
        size_t cert_size;
        assert (cert_encode (&cert, ca.sign_secret, &cert_bytes, &cert_size) == 0);
        mesh_config_t config = {
            .name = node->name, .tenant = "", .keys = &node->keys, .cert = cert_bytes,
            .cert_size = cert_size, .ca_key = ca.sign_public,
            .coord_sign = coord.sign_public, .advert_ms = 1000, .store = store,
            .prefix = "1/", .verbose = verbose
        };
        mesh_effects_t effects = { &s_ctx [1], s_t_send, NULL, s_t_deliver, NULL };
        node->mesh = mesh_new (&config, &effects);
        assert (mesh_start (node->mesh, now) == 0);
        free (cert_bytes);
        mesh_link_down (world.nodes [0].mesh, "n1", now);
        mesh_link_down (world.nodes [2].mesh, "n1", now);
        mesh_link_up (world.nodes [0].mesh, "n1", MESH_LINK_ACCEPTED,
                      node->keys.curve_public, now);
        mesh_link_up (node->mesh, "n0", MESH_LINK_DIALLED, world.nodes [0].keys.curve_public,
                      now);
        s_t_run (&world, now);
        mesh_link_up (node->mesh, "n2", MESH_LINK_ACCEPTED, world.nodes [2].keys.curve_public,
                      now);
        mesh_link_up (world.nodes [2].mesh, "n1", MESH_LINK_DIALLED,
                      node->keys.curve_public, now);
        s_t_run (&world, now);
    }
    //  Version 2 releases gw-2: everyone takes it, n3 routes through gw-2 again
    qmsg.quarantine = 2;
    qmsg.names = "";
    qmsg.names_size = 0;
    assert (meshmsg_encode (&qmsg, &payload, &payload_size) == 0);
    frame = s_t_envelope (&coord, MESH_COORDINATOR, MSG_QUARANTINE, 26, payload,
                          payload_size, &size);
    free (payload);
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "*", frame, size,
                           now) == 0);
    free (frame);
    s_t_run (&world, now);
    for (int i = 0; i < T_NODES; i++) {
        assert (mesh_quarantine (world.nodes [i].mesh) == 2);
        assert (!mesh_quarantined (world.nodes [i].mesh, "gw-2"));
    }
    now += 1000;
    for (int i = 0; i < T_NODES; i++)
        mesh_tick (world.nodes [i].mesh, now);
    s_t_run (&world, now);
    assert (mesh_distance (world.nodes [3].mesh) == 4);
    to_coord = world.to_coord;
    frame = s_t_envelope (&world.nodes [2].keys, "gw-2", MSG_TWIN_REPORTED, 27,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_send_own (world.nodes [2].mesh, frame, size) == 0);
    free (frame);
    mesh_flush (world.nodes [2].mesh, now);
    s_t_run (&world, now);
    assert (world.to_coord == to_coord + 1);
    assert (mesh_stats (world.nodes [1].mesh)->quarantined == 0);   //  (n1 restarted)
    //  A policy the coordinator sends to gw-0 by name reaches gw-3 by
    //  gossip; the same object again stops at the first hop
    policy_object_t policy = { "profile", "gateway", 1, (const uint8_t *) "{}", 2 };
    uint8_t *object;
    size_t object_size;
    assert (policymsg_encode (&policy, ca.sign_secret, &object, &object_size) == 0);
    policymsg_t gossip = { .type = MSG_POLICY, .object = object, .object_size = object_size };
    uint8_t *gossip_payload;
    size_t gossip_size;
    assert (policymsg_msg_encode (&gossip, &gossip_payload, &gossip_size) == 0);
    for (int round = 0; round < 2; round++) {
        frame = s_t_envelope (&coord, MESH_COORDINATOR, MSG_POLICY, 100 + (uint64_t) round,
                              gossip_payload, gossip_size, &size);
        assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-0", frame, size,
                               now) == 0);
        free (frame);
        s_t_run (&world, now);
    }
    for (int i = 0; i < T_NODES; i++)
        assert (policy_store_version (mesh_policies (world.nodes [i].mesh),
                                      "profile/gateway") == 1);
    assert (gossip_stats (mesh_gossip (world.nodes [0].mesh))->duplicates == 1);
    assert (gossip_stats (mesh_gossip (world.nodes [3].mesh))->stored == 1);
    //  Gossip from a neighbour that claims to be the coordinator's is refused
    frame = s_t_envelope (&world.nodes [1].keys, "gw-1", MSG_POLICY, 200, gossip_payload,
                          gossip_size, &size);
    assert (mesh_on_frame (world.nodes [2].mesh, "n1", "gw-2", frame, size, now) == -1);
    free (frame);
    free (gossip_payload);
    free (object);

    //  Revocation of gw-3 from the coordinator: stored, spread, link closed
    uint8_t payload_keys [WEFT_KEY_SIZE];
    memcpy (payload_keys, world.nodes [3].keys.curve_public, WEFT_KEY_SIZE);
    meshmsg_t list;
    memset (&list, 0, sizeof list);
    list.type = MSG_REVOCATIONS;
    list.revocations = 1;
    list.names = "gw-3";
    list.names_size = 4;
    list.curve_keys = payload_keys;
    list.key_count = 1;
    assert (meshmsg_encode (&list, &payload, &payload_size) == 0);
    frame = s_t_envelope (&coord, MESH_COORDINATOR, MSG_REVOCATIONS, 9, payload,
                          payload_size, &size);
    free (payload);
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "*", frame, size,
                           now) == 0);
    free (frame);
    s_t_run (&world, now);
    for (int i = 0; i < 3; i++)
        assert (mesh_revocations (world.nodes [i].mesh) == 1);
    assert (!mesh_admit (world.nodes [2].mesh, world.nodes [3].keys.curve_public));
    assert (mesh_admit (world.nodes [2].mesh, world.nodes [1].keys.curve_public));
    assert (!mesh_has_link (world.nodes [2].mesh, "n3"));
    //  Survives a restart
    mesh_destroy (&world.nodes [1].mesh);
    mesh_config_t config = { .name = "gw-1", .keys = &world.nodes [1].keys,
        .cert = (const uint8_t *) "x", .cert_size = 1, .ca_key = ca.sign_public,
        .coord_sign = coord.sign_public, .store = store, .prefix = "1/" };
    mesh_effects_t effects = { &s_ctx [1], s_t_send, NULL, s_t_deliver, NULL };
    world.nodes [1].mesh = mesh_new (&config, &effects);
    assert (mesh_start (world.nodes [1].mesh, now) == 0);
    assert (mesh_revocations (world.nodes [1].mesh) == 1);
    char *json = mesh_stats_json (world.nodes [2].mesh);
    assert (strstr (json, "\"forged_rejected\":1"));
    if (verbose)
        printf ("%s\n", json);
    free (json);

    t_msg_t *msg;
    while ((msg = (t_msg_t *) zlistx_first (world.wire))) {
        zlistx_detach_cur (world.wire);
        free (msg->frame);
        free (msg);
    }
    zlistx_destroy (&world.wire);
    for (int i = 0; i < T_NODES; i++) {
        mesh_destroy (&world.nodes [i].mesh);
        keys_wipe (&world.nodes [i].keys);
    }
    keys_wipe (&forger);
    keys_wipe (&ca);
    keys_wipe (&coord);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    //  @end
    printf ("OK\n");
}
