/*  node_host - weft-sim's adapter to the node core
    Agents share one store; node i keeps its state under the key prefix
    "n<i>/" in AGENT_TABLE, with exactly the transactions the daemon's
    agent uses, so a simulated crash (destroy the agent, start a new one
    over the same store) loses exactly what a real crash loses: all
    memory, nothing committed. The agent is created and started the
    same way weft-node does it.  */

#include <czmq.h>
#include "node/core/agent.h"
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

struct _node_host_t {
    store_t *store;                 //  Shared environment, borrowed
    uint32_t nodes;
    uint64_t seed;                  //  Identity of node i comes from it
    uint8_t coord_sign [32];        //  Coordinator's public key
    uint64_t heartbeat_ms;
    nh_world_t world;               //  Effects go here
    agent_t **agents;               //  Running agent per node, NULL if down
    s_ctx_t *ctxs;                  //  Effect context per node
    s_snapshot_t **snapshots;       //  Test-only bug, allocated on first use
};

static const char *s_tables [] = { AGENT_TABLE, NULL };

const char **
node_host_tables (void)
{
    return s_tables;
}

int
node_host_timer_kinds (void)
{
    return AGENT_TIMERS;
}

void
node_host_name (uint32_t node, char name [NH_NAME_MAX])
{
    snprintf (name, NH_NAME_MAX, "n%06u", node);
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

//  --------------------------------------------------------------------------
//  Effects, forwarded with the node's index

static int
s_send (void *ctx, const uint8_t *frame, size_t size)
{
    s_ctx_t *c = (s_ctx_t *) ctx;
    return c->host->world.send (c->host->world.ctx, c->node, frame, size);
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

//  --------------------------------------------------------------------------

node_host_t *
node_host_new (store_t *store, uint32_t nodes, uint64_t seed,
               const uint8_t coord_sign [32], uint64_t heartbeat_ms,
               const nh_world_t *world)
{
    assert (store && world);
    node_host_t *self = (node_host_t *) zmalloc (sizeof (node_host_t));
    self->store = store;
    self->nodes = nodes;
    self->seed = seed;
    memcpy (self->coord_sign, coord_sign, 32);
    self->heartbeat_ms = heartbeat_ms;
    self->world = *world;
    self->agents = (agent_t **) zmalloc (nodes * sizeof (agent_t *));
    self->ctxs = (s_ctx_t *) zmalloc (nodes * sizeof (s_ctx_t));
    for (uint32_t i = 0; i < nodes; i++)
        self->ctxs [i] = (s_ctx_t) { self, i };
    return self;
}

void
node_host_destroy (node_host_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        node_host_t *self = *self_p;
        for (uint32_t i = 0; i < self->nodes; i++) {
            agent_destroy (&self->agents [i]);
            if (self->snapshots)
                node_host_forget (self, i);
        }
        free (self->snapshots);
        free (self->agents);
        free (self->ctxs);
        free (self);
        *self_p = NULL;
    }
}

int
node_host_boot (node_host_t *self, uint32_t node, uint64_t now_ms)
{
    assert (node < self->nodes && !self->agents [node]);
    char name [NH_NAME_MAX], prefix [NH_NAME_MAX + 1];
    node_host_name (node, name);
    snprintf (prefix, sizeof prefix, "%s/", name);
    keys_t keys;
    node_host_keys (self->seed, node, &keys);
    agent_config_t config = {
        .name = name, .tenant = "", .keys = &keys, .coord_sign = self->coord_sign,
        .heartbeat_ms = self->heartbeat_ms, .store = self->store, .prefix = prefix,
        .verbose = false
    };
    agent_effects_t effects = { &self->ctxs [node], s_send, s_timer, s_apply };
    agent_t *agent = agent_new (&config, &effects);
    keys_wipe (&keys);
    if (!agent)
        return -1;
    self->agents [node] = agent;
    if (agent_start (agent, now_ms)) {
        agent_destroy (&self->agents [node]);
        return -1;
    }
    return 0;
}

void
node_host_crash (node_host_t *self, uint32_t node)
{
    assert (node < self->nodes);
    agent_destroy (&self->agents [node]);
}

bool
node_host_up (node_host_t *self, uint32_t node)
{
    return self->agents [node] != NULL;
}

void
node_host_connected (node_host_t *self, uint32_t node, uint64_t now_ms)
{
    if (self->agents [node])
        agent_connected (self->agents [node], now_ms);
}

void
node_host_disconnected (node_host_t *self, uint32_t node, uint64_t now_ms)
{
    if (self->agents [node])
        agent_disconnected (self->agents [node], now_ms);
}

int
node_host_message (node_host_t *self, uint32_t node, uint64_t now_ms,
                   const uint8_t *frame, size_t size)
{
    if (!self->agents [node])
        return -1;
    return agent_message (self->agents [node], now_ms, frame, size);
}

void
node_host_timer (node_host_t *self, uint32_t node, uint64_t now_ms, int kind)
{
    if (self->agents [node])
        agent_timer (self->agents [node], now_ms, kind);
}

void
node_host_applied (node_host_t *self, uint32_t node, uint64_t now_ms,
                   uint64_t version, bool ok)
{
    if (self->agents [node])
        agent_applied (self->agents [node], now_ms, version, ok, NULL, 0,
                       ok? NULL: "simulated failure");
}

void
node_host_state (node_host_t *self, uint32_t node, nh_state_t *state)
{
    agent_t *agent = self->agents [node];
    memset (state, 0, sizeof *state);
    if (agent) {
        state->desired = agent_desired_version (agent);
        state->applied = agent_applied_version (agent);
        state->reported = agent_reported_version (agent);
        state->pending = agent_report_pending (agent);
    }
}

size_t
node_host_upstreams (node_host_t *self, uint32_t node, uint32_t *out, size_t max)
{
    (void) self;
    (void) node;
    if (max == 0)
        return 0;
    out [0] = NH_COORDINATOR;       //  One upstream: the coordinator
    return 1;
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
