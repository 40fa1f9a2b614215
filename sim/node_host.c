/*  node_host - weft-sim's adapter to the node cores
    Nodes share one store; node i keeps its state under the key prefix
    "n<i>/" in AGENT_TABLE, MESH_TABLE and OUTBOX_TABLE, with exactly the
    transactions weft-node's agent and mesh use, so a simulated crash
    (destroy both, start new ones over the same store) loses exactly what
    a real crash loses: all memory, nothing committed. The cores are
    created, started and driven the way weft-node does it (node/main.c):
    after every event into a node the burst ends with mesh_flush, or
    mesh_tick once its deadline has come, and a route to the coordinator
    appearing or vanishing is told to the agent. Link names are the
    peer's name ("n000042", or "coordinator").  */

#include <czmq.h>
#include "proto/cert.h"
#include "node/core/agent.h"
#include "node/core/mesh.h"
#include "sim/node_host.h"

typedef struct {
    node_host_t *host;
    uint32_t node;
} s_ctx_t;

typedef struct {
    uint8_t *desired;               //  Stored "desired" value, or NULL
    size_t desired_size;
    uint8_t *replay;                //  Stored "replay" value, or NULL
    size_t replay_size;
} s_snapshot_t;

typedef struct {
    agent_t *agent;                 //  NULL while down
    mesh_t *mesh;
    size_t distance;                //  Hops to the coordinator last seen
    uint64_t armed_ms;              //  Mesh deadline last armed
    uint64_t now_ms;                //  Time of the event under way
} s_node_t;

struct _node_host_t {
    store_t *store;                 //  Shared environment, borrowed
    uint32_t nodes;
    uint64_t seed;                  //  Identity of node i comes from it
    keys_t ca;                      //  Issues the nodes' certificates
    uint8_t coord_sign [32];        //  Coordinator's public keys
    uint8_t coord_curve [32];
    uint64_t heartbeat_ms;
    nh_world_t world;               //  Effects go here
    s_node_t *node;
    uint8_t (*curve) [32];          //  Public CURVE key per node, once known
    uint8_t *curve_known;
    s_ctx_t *ctxs;                  //  Effect context per node
    s_snapshot_t **snapshots;       //  Test-only bug, allocated on first use
};

_Static_assert (NH_NEIGHBOURS_MAX == MESH_LINKS_MAX - 1, "a server's links: its gateways "
                "and the coordinator");

static const char *s_tables [] = { AGENT_TABLE, MESH_TABLE, OUTBOX_TABLE, NULL };

const char **
node_host_tables (void)
{
    return s_tables;
}

void
node_host_name (uint32_t node, char name [NH_NAME_MAX])
{
    snprintf (name, NH_NAME_MAX, "n%06u", node);
}

bool
node_host_index (const char *name, uint32_t *index)
{
    if (streq (name, MESH_COORDINATOR)) {
        *index = NH_COORDINATOR;
        return true;
    }
    unsigned value;
    char tail;
    if (strlen (name) != 7 || sscanf (name, "n%6u%c", &value, &tail) != 1)
        return false;
    *index = value;
    return true;
}

static void
s_link_name (uint32_t peer, char name [NH_NAME_MAX])
{
    if (peer == NH_COORDINATOR)
        snprintf (name, NH_NAME_MAX, "%s", MESH_COORDINATOR);
    else
        node_host_name (peer, name);
}

void
node_host_keys (uint64_t seed, uint32_t node, keys_t *keys)
{
    uint8_t material [32];
    memset (material, 0, sizeof material);
    snprintf ((char *) material, sizeof material, "weft-sim node");
    memcpy (material + 16, &seed, 8);
    memcpy (material + 24, &node, 4);
    memset (material + 28, 0, 4);
    uint8_t key_seed [32];
    keys_hash (material, sizeof material, key_seed);
    keys_from_seed (keys, key_seed);
}

//  A node's public CURVE key (what ZAP sees), derived once
static const uint8_t *
s_curve (node_host_t *self, uint32_t node)
{
    if (!self->curve_known [node]) {
        keys_t keys;
        node_host_keys (self->seed, node, &keys);
        memcpy (self->curve [node], keys.curve_public, 32);
        keys_wipe (&keys);
        self->curve_known [node] = 1;
    }
    return self->curve [node];
}

//  --------------------------------------------------------------------------
//  Effects, forwarded with the node's index

static int
s_agent_send (void *ctx, const uint8_t *frame, size_t size)
{
    s_ctx_t *c = (s_ctx_t *) ctx;
    return mesh_send_own (c->host->node [c->node].mesh, frame, size) == 0? 0: -1;
}

static void
s_timer (void *ctx, int kind, uint64_t at_ms)
{
    s_ctx_t *c = (s_ctx_t *) ctx;
    c->host->world.timer (c->host->world.ctx, c->node, kind, at_ms);
}

static void
s_apply (void *ctx, uint64_t version, const char *doc, size_t size)
{
    (void) doc;
    (void) size;
    s_ctx_t *c = (s_ctx_t *) ctx;
    c->host->world.apply (c->host->world.ctx, c->node, version);
}

static int
s_mesh_send (void *ctx, const char *link, const char *dest, const uint8_t *frame,
             size_t size)
{
    s_ctx_t *c = (s_ctx_t *) ctx;
    uint32_t peer;
    if (!node_host_index (link, &peer))
        return -1;
    return c->host->world.send (c->host->world.ctx, c->node, peer, dest, frame, size);
}

static void
s_mesh_close (void *ctx, const char *link)
{
    s_ctx_t *c = (s_ctx_t *) ctx;
    uint32_t peer;
    if (node_host_index (link, &peer))
        c->host->world.close (c->host->world.ctx, c->node, peer);
}

static int
s_mesh_deliver (void *ctx, const uint8_t *frame, size_t size, char reason [WEFT_TEXT_MAX + 1])
{
    s_ctx_t *c = (s_ctx_t *) ctx;
    s_node_t *n = &c->host->node [c->node];
    c->host->world.deliver (c->host->world.ctx, c->node, frame, size);
    if (!n->agent) {
        snprintf (reason, WEFT_TEXT_MAX + 1, "this node runs no agent yet");
        return WEFT_STATUS_INTERNAL;
    }
    return agent_receive (n->agent, n->now_ms, frame, size, reason);
}

//  The node's mesh took a new passport: its agent's heartbeats name it
static void
s_mesh_passport (void *ctx, uint64_t attested_ms)
{
    s_ctx_t *c = (s_ctx_t *) ctx;
    s_node_t *n = &c->host->node [c->node];
    if (n->agent)
        agent_set_passport (n->agent, attested_ms);
}

//  End of a burst, as weft-node's loop ends each poll: commit and pump
//  (or tick when due), tell the agent about a route gained or lost (its
//  heartbeat then needs another flush), and arm the next mesh deadline.
static void
s_settle (node_host_t *self, uint32_t node, uint64_t now_ms)
{
    s_node_t *n = &self->node [node];
    if (!n->mesh)
        return;
    for (int pass = 0; pass < 2; pass++) {
        if (mesh_deadline (n->mesh) <= now_ms)
            mesh_tick (n->mesh, now_ms);
        else
            mesh_flush (n->mesh, now_ms);
        size_t hops = mesh_distance (n->mesh);
        bool was = n->distance != 0;
        n->distance = hops;
        if (hops && !was)
            agent_connected (n->agent, now_ms);
        else
        if (!hops && was)
            agent_disconnected (n->agent, now_ms);
        else
            break;
    }
    uint64_t deadline = mesh_deadline (n->mesh);
    if (deadline != n->armed_ms) {
        n->armed_ms = deadline;
        self->world.timer (self->world.ctx, node, NH_TIMER_MESH, deadline? deadline: 1);
    }
}

//  --------------------------------------------------------------------------

node_host_t *
node_host_new (store_t *store, uint32_t nodes, uint64_t seed, const keys_t *ca,
               const keys_t *coord, uint64_t heartbeat_ms, const nh_world_t *world)
{
    assert (store && world && ca && coord);
    node_host_t *self = (node_host_t *) zmalloc (sizeof (node_host_t));
    self->store = store;
    self->nodes = nodes;
    self->seed = seed;
    self->ca = *ca;
    memcpy (self->coord_sign, coord->sign_public, 32);
    memcpy (self->coord_curve, coord->curve_public, 32);
    self->heartbeat_ms = heartbeat_ms;
    self->world = *world;
    self->node = (s_node_t *) zmalloc (nodes * sizeof (s_node_t));
    self->curve = (uint8_t (*) [32]) zmalloc ((size_t) nodes * 32);
    self->curve_known = (uint8_t *) zmalloc (nodes);
    self->ctxs = (s_ctx_t *) zmalloc (nodes * sizeof (s_ctx_t));
    for (uint32_t i = 0; i < nodes; i++)
        self->ctxs [i] = (s_ctx_t) { self, i };
    return self;
}

void
node_host_crash (node_host_t *self, uint32_t node)
{
    assert (node < self->nodes);
    s_node_t *n = &self->node [node];
    agent_destroy (&n->agent);
    mesh_destroy (&n->mesh);
    n->distance = 0;
    n->armed_ms = 0;
}

void
node_host_destroy (node_host_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        node_host_t *self = *self_p;
        for (uint32_t i = 0; i < self->nodes; i++) {
            node_host_crash (self, i);
            if (self->snapshots)
                node_host_forget (self, i);
        }
        keys_wipe (&self->ca);
        free (self->snapshots);
        free (self->node);
        free (self->curve);
        free (self->curve_known);
        free (self->ctxs);
        free (self);
        *self_p = NULL;
    }
}

int
node_host_boot (node_host_t *self, uint32_t node, bool server, uint64_t now_ms)
{
    s_node_t *n = &self->node [node];
    assert (node < self->nodes && !n->agent && !n->mesh);
    char name [NH_NAME_MAX], prefix [NH_NAME_MAX + 1];
    node_host_name (node, name);
    snprintf (prefix, sizeof prefix, "%s/", name);
    keys_t keys;
    node_host_keys (self->seed, node, &keys);
    //  The certificate enrolment would have issued (signatures are
    //  deterministic, so it is the same one at every boot)
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.serial = (uint64_t) node + 1000;
    cert.kind = CERT_KIND_NODE;
    snprintf (cert.subject, sizeof cert.subject, "%s", name);
    snprintf (cert.role, sizeof cert.role, "%s", server? "server": "gateway");
    memcpy (cert.sign_key, keys.sign_public, 32);
    memcpy (cert.curve_key, keys.curve_public, 32);
    cert.not_before = 1600000000;
    cert.not_after = 1600000000 + 20ULL * 365 * 86400;
    uint8_t *cert_frame = NULL;
    size_t cert_size = 0;
    int rc = cert_encode (&cert, self->ca.sign_secret, &cert_frame, &cert_size);
    n->now_ms = now_ms;
    if (rc == 0) {
        mesh_config_t mesh_config = {
            .name = name, .tenant = "", .keys = &keys, .cert = cert_frame,
            .cert_size = cert_size, .ca_key = self->ca.sign_public,
            .coord_sign = self->coord_sign, .advert_ms = self->heartbeat_ms,
            .store = self->store, .prefix = prefix, .verbose = false
        };
        mesh_effects_t mesh_effects = { &self->ctxs [node], s_mesh_send, s_mesh_close,
                                        s_mesh_deliver, NULL, s_mesh_passport };
        n->mesh = mesh_new (&mesh_config, &mesh_effects);
        rc = n->mesh && mesh_start (n->mesh, now_ms) == 0? 0: -1;
    }
    free (cert_frame);
    if (rc == 0) {
        agent_config_t config = {
            .name = name, .tenant = "", .keys = &keys, .coord_sign = self->coord_sign,
            .heartbeat_ms = self->heartbeat_ms, .store = self->store, .prefix = prefix,
            .verbose = false
        };
        agent_effects_t effects = { &self->ctxs [node], s_agent_send, s_timer, s_apply };
        n->agent = agent_new (&config, &effects);
        rc = n->agent && agent_start (n->agent, now_ms) == 0? 0: -1;
        if (rc == 0)
            agent_set_passport (n->agent, mesh_passport_ms (n->mesh));
    }
    keys_wipe (&keys);
    if (rc) {
        node_host_crash (self, node);
        return -1;
    }
    s_settle (self, node, now_ms);
    return 0;
}

bool
node_host_up (node_host_t *self, uint32_t node)
{
    return self->node [node].agent != NULL;
}

void
node_host_link_up (node_host_t *self, uint32_t node, uint32_t peer, int kind,
                   uint64_t now_ms)
{
    s_node_t *n = &self->node [node];
    if (!n->mesh)
        return;
    n->now_ms = now_ms;
    char link [NH_NAME_MAX];
    s_link_name (peer, link);
    mesh_link_up (n->mesh, link, kind, peer == NH_COORDINATOR? self->coord_curve
                                                            : s_curve (self, peer), now_ms);
    s_settle (self, node, now_ms);
}

void
node_host_link_down (node_host_t *self, uint32_t node, uint32_t peer, uint64_t now_ms)
{
    s_node_t *n = &self->node [node];
    if (!n->mesh)
        return;
    n->now_ms = now_ms;
    char link [NH_NAME_MAX];
    s_link_name (peer, link);
    mesh_link_down (n->mesh, link, now_ms);
    s_settle (self, node, now_ms);
}

bool
node_host_linked (node_host_t *self, uint32_t node, uint32_t peer)
{
    s_node_t *n = &self->node [node];
    char link [NH_NAME_MAX];
    s_link_name (peer, link);
    return n->mesh && mesh_has_link (n->mesh, link);
}

int
node_host_frame (node_host_t *self, uint32_t node, uint32_t peer, const char *dest,
                 const uint8_t *frame, size_t size, uint64_t now_ms)
{
    s_node_t *n = &self->node [node];
    if (!n->mesh)
        return -1;
    n->now_ms = now_ms;
    char link [NH_NAME_MAX];
    s_link_name (peer, link);
    if (peer != NH_COORDINATOR && !mesh_has_link (n->mesh, link)) {
        //  A new peer on our listener: ZAP admits it unless it is revoked
        if (!mesh_admit (n->mesh, s_curve (self, peer)))
            return -1;
        mesh_link_up (n->mesh, link, MESH_LINK_ACCEPTED, s_curve (self, peer), now_ms);
    }
    int rc = mesh_on_frame (n->mesh, link, dest, frame, size, now_ms);
    s_settle (self, node, now_ms);
    return rc;
}

void
node_host_timer (node_host_t *self, uint32_t node, uint64_t now_ms, int kind)
{
    s_node_t *n = &self->node [node];
    if (!n->agent)
        return;
    n->now_ms = now_ms;
    if (kind == NH_TIMER_MESH)
        n->armed_ms = 0;            //  Fired: arm the next one whatever it is
    else
        agent_timer (n->agent, now_ms, kind);
    s_settle (self, node, now_ms);
}

void
node_host_applied (node_host_t *self, uint32_t node, uint64_t now_ms,
                   uint64_t version, bool ok)
{
    s_node_t *n = &self->node [node];
    if (!n->agent)
        return;
    n->now_ms = now_ms;
    agent_applied (n->agent, now_ms, version, ok, NULL, 0, ok? NULL: "simulated failure");
    s_settle (self, node, now_ms);
}

void
node_host_state (node_host_t *self, uint32_t node, nh_state_t *state)
{
    agent_t *agent = self->node [node].agent;
    memset (state, 0, sizeof *state);
    if (agent) {
        state->desired = agent_desired_version (agent);
        state->applied = agent_applied_version (agent);
        state->reported = agent_reported_version (agent);
        state->pending = agent_report_pending (agent);
    }
}

uint64_t
node_host_revocations (node_host_t *self, uint32_t node)
{
    mesh_t *mesh = self->node [node].mesh;
    return mesh? mesh_revocations (mesh): 0;
}

bool
node_host_admits (node_host_t *self, uint32_t node, uint32_t peer)
{
    mesh_t *mesh = self->node [node].mesh;
    if (!mesh)
        return false;
    return mesh_admit (mesh, s_curve (self, peer));
}

//  --------------------------------------------------------------------------
//  Test-only bug: a commit that does not survive a crash

static void *
s_read (node_host_t *self, store_txn_t *txn, uint32_t node, const char *field,
        size_t *size_p)
{
    char key [64];
    int size = snprintf (key, sizeof key, "n%06u/%s", node, field);
    *size_p = 0;
    return store_get (txn, AGENT_TABLE, key, (size_t) size, size_p);
    (void) self;
}

void
node_host_forget (node_host_t *self, uint32_t node)
{
    if (!self->snapshots || !self->snapshots [node])
        return;
    free (self->snapshots [node]->desired);
    free (self->snapshots [node]->replay);
    free (self->snapshots [node]);
    self->snapshots [node] = NULL;
}

void
node_host_snapshot (node_host_t *self, uint32_t node)
{
    if (!self->snapshots)
        self->snapshots = (s_snapshot_t **) zmalloc (self->nodes * sizeof (s_snapshot_t *));
    node_host_forget (self, node);
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return;
    s_snapshot_t *snapshot = (s_snapshot_t *) zmalloc (sizeof (s_snapshot_t));
    snapshot->desired = (uint8_t *) s_read (self, txn, node, "desired", &snapshot->desired_size);
    snapshot->replay = (uint8_t *) s_read (self, txn, node, "replay", &snapshot->replay_size);
    store_abort (&txn);
    self->snapshots [node] = snapshot;
}

static int
s_restore (store_txn_t *txn, uint32_t node, const char *field, const uint8_t *value,
           size_t size)
{
    char key [64];
    int key_size = snprintf (key, sizeof key, "n%06u/%s", node, field);
    if (value)
        return store_put (txn, AGENT_TABLE, key, (size_t) key_size, value, size);
    return store_del (txn, AGENT_TABLE, key, (size_t) key_size) < 0? -1: 0;
}

void
node_host_rollback (node_host_t *self, uint32_t node)
{
    if (!self->snapshots || !self->snapshots [node])
        return;
    s_snapshot_t *snapshot = self->snapshots [node];
    store_txn_t *txn = store_begin (self->store, true);
    int rc = txn? s_restore (txn, node, "desired", snapshot->desired,
                             snapshot->desired_size): -1;
    if (rc == 0)
        rc = s_restore (txn, node, "replay", snapshot->replay, snapshot->replay_size);
    if (rc == 0)
        store_commit (&txn);
    store_abort (&txn);
    node_host_forget (self, node);
}
