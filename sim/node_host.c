/*  node_host - weft-sim's adapter to the node core
    Nodes share one store; node i keeps its state under the key prefix
    "n<i>/" in AGENT_TABLE, MESH_TABLE, OUTBOX_TABLE, UPDATE_TABLE,
    CHUNKSTORE_TABLE and FETCH_TABLE (but for the chunks' packed bytes,
    kept once per address under NH_CHUNK_SHARED), with exactly the
    transactions weft-node's cores use, so a simulated crash (destroy the
    node core, start a new one over the same store) loses exactly what a
    real crash loses: all memory, nothing committed. Each node is the
    node core weft-node runs (node/core/node.h): this file feeds it the
    world's events and carries its actions (timers, applies, closes)
    back into the world; it decides nothing of the protocol. Link names
    are the peer's name ("n000042", or "coordinator").  */

#include <czmq.h>
#include "proto/cert.h"
#include "proto/eventlog.h"
#include "node/core/node.h"
#include "node/core/fetch.h"
#include "node/core/update.h"
#include "proto/chunkstore.h"
#include "node/core/softquote.h"
#include "sim/node_host.h"

typedef struct {
    node_host_t *host;
    uint32_t node;
} s_ctx_t;

//  A quote asked of a node's TPM and not answered yet
typedef struct {
    uint8_t nonce [TPMMSG_NONCE_MAX];
    uint8_t nonce_size;
    bool asked;
    uint32_t mask;
} s_quote_t;

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
    keys_t ca;                      //  Issues the nodes' certificates
    uint8_t coord_sign [32];        //  Coordinator's public keys
    uint8_t coord_curve [32];
    uint64_t heartbeat_ms;
    nh_world_t world;               //  Effects go here
    node_t **node;                  //  The node core of node i, NULL while down
    uint8_t (*curve) [32];          //  Public CURVE key per node, once known
    uint8_t *curve_known;
    s_ctx_t *ctxs;                  //  Effect context per node
    s_snapshot_t **snapshots;       //  Test-only bug, allocated on first use
    //  Attestation (node_host_attest), else all NULL
    const uint8_t *tenant;          //  Tenant index per node, borrowed
    const uint8_t *bad;             //  Event log off the profile, per node, borrowed
    softquote_t *aks [NH_AK_POOL];  //  Node i's AK: aks [i % NH_AK_POOL]
    zchunk_t *log, *bad_log;        //  The two boots' event logs
    s_quote_t *quotes;              //  Outstanding quote per node
    //  Software releases (node_host_releases), else NULL
    uint8_t *release_root;          //  Pinned at every node's enrolment
    size_t release_root_size;
    uint8_t *own_tenant;            //  Tenant 0 for all, when attestation gave none
};

static const char *s_tenants [NH_TENANTS] = { "acme", "globex" };

_Static_assert (NH_NEIGHBOURS_MAX == MESH_LINKS_MAX - 1, "a server's links: its gateways "
                "and the coordinator");
_Static_assert (NH_TIMER_MESH == NODE_TIMER_MESH && NH_TIMERS == NODE_TIMERS,
                "the node core's timer kinds");

static const char *s_tables [] = { AGENT_TABLE, MESH_TABLE, OUTBOX_TABLE, UPDATE_TABLE,
                                   CHUNKSTORE_TABLE, FETCH_TABLE, NULL };

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

uint64_t
node_host_serial (uint32_t node)
{
    return (uint64_t) node + 1000;
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
//  The node core's transport, and its actions carried into the world

static int
s_send (void *ctx, const char *link, const char *dest, const uint8_t *frame, size_t size)
{
    s_ctx_t *c = (s_ctx_t *) ctx;
    uint32_t peer;
    if (!node_host_index (link, &peer))
        return -1;
    return c->host->world.send (c->host->world.ctx, c->node, peer, dest, frame, size);
}

static void
s_delivered (void *ctx, const uint8_t *frame, size_t size)
{
    s_ctx_t *c = (s_ctx_t *) ctx;
    c->host->world.deliver (c->host->world.ctx, c->node, frame, size);
}

//  Carry out what node's core asks, after each event
static void
s_act (node_host_t *self, uint32_t node)
{
    node_t *core = self->node [node];
    const node_action_t *action;
    while (core && (action = node_next (core))) {
        if (action->kind == NODE_ACT_TIMER)
            //  The mesh's deadline 0 means "now": a timer at once
            self->world.timer (self->world.ctx, node, action->timer,
                               action->timer == NODE_TIMER_MESH && action->at_ms == 0
                               ? 1: action->at_ms);
        else
        if (action->kind == NODE_ACT_APPLY)
            self->world.apply (self->world.ctx, node, action->version);
        else
        if (action->kind == NODE_ACT_CLOSE) {
            uint32_t peer;
            if (node_host_index (action->link, &peer))
                self->world.close (self->world.ctx, node, peer);
        }
        else
        if (action->kind == NODE_ACT_QUOTE && self->quotes
        &&  action->nonce_size <= TPMMSG_NONCE_MAX && !action->ima) {
            //  One quote at a time, as a TPM: the latest challenge wins
            //  (the node core answers whoever asked last)
            s_quote_t *quote = &self->quotes [node];
            memcpy (quote->nonce, action->nonce, action->nonce_size);
            quote->nonce_size = (uint8_t) action->nonce_size;
            quote->mask = action->pcr_mask;
            quote->asked = true;
            if (self->world.quote)
                self->world.quote (self->world.ctx, node);
        }
        else
        if (action->kind == NODE_ACT_INSTALL && self->world.install)
            self->world.install (self->world.ctx, node, action->step);
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
    self->node = (node_t **) zmalloc (nodes * sizeof (node_t *));
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
    node_destroy (&self->node [node]);
    if (self->quotes)
        self->quotes [node].asked = false;  //  Lost with the node's memory
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
        for (int k = 0; k < NH_AK_POOL; k++)
            softquote_destroy (&self->aks [k]);
        zchunk_destroy (&self->log);
        zchunk_destroy (&self->bad_log);
        free (self->quotes);
        free (self->release_root);
        free (self->own_tenant);
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
    assert (node < self->nodes && !self->node [node]);
    char name [NH_NAME_MAX], prefix [NH_NAME_MAX + 1];
    node_host_name (node, name);
    snprintf (prefix, sizeof prefix, "%s/", name);
    keys_t keys;
    node_host_keys (self->seed, node, &keys);
    //  The certificate enrolment would have issued (signatures are
    //  deterministic, so it is the same one at every boot)
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.serial = node_host_serial (node);
    cert.kind = CERT_KIND_NODE;
    snprintf (cert.subject, sizeof cert.subject, "%s", name);
    snprintf (cert.role, sizeof cert.role, "%s", server? "server": "gateway");
    const char *tenant = self->tenant? s_tenants [self->tenant [node]]: "";
    snprintf (cert.tenant, sizeof cert.tenant, "%s", tenant);
    if (self->quotes) {
        //  The AK name enrolment binds after the TPM's credential activation
        softquote_name (self->aks [node % NH_AK_POOL], cert.ak_name);
        cert.ak_name_size = CERT_AK_NAME_SIZE;
    }
    memcpy (cert.sign_key, keys.sign_public, 32);
    memcpy (cert.curve_key, keys.curve_public, 32);
    cert.not_before = 1600000000;
    cert.not_after = 1600000000 + 20ULL * 365 * 86400;
    uint8_t *cert_frame = NULL;
    size_t cert_size = 0;
    if (cert_encode (&cert, self->ca.sign_secret, &cert_frame, &cert_size) == 0) {
        node_config_t config = {
            .name = name, .tenant = tenant, .keys = &keys, .cert = cert_frame,
            .cert_size = cert_size, .ca_key = self->ca.sign_public,
            .coord_sign = self->coord_sign, .heartbeat_ms = self->heartbeat_ms,
            .store = self->store, .prefix = prefix, .quotes = self->quotes != NULL,
            .chunk_budget = NH_CHUNK_BUDGET, .chunk_shared = NH_CHUNK_SHARED,
            .release_root = self->release_root,
            .release_root_size = self->release_root_size, .verbose = false
        };
        node_links_t links = { &self->ctxs [node], s_send, s_delivered };
        self->node [node] = node_new (&config, &links, now_ms);
    }
    free (cert_frame);
    keys_wipe (&keys);
    if (!self->node [node])
        return -1;
    s_act (self, node);
    return 0;
}

//  --------------------------------------------------------------------------
//  The simulated TPMs

int
node_host_attest (node_host_t *self, const uint8_t *tenant, const uint8_t *bad)
{
    assert (self && tenant && bad && !self->quotes);
    self->tenant = tenant;
    self->bad = bad;
    for (int k = 0; k < NH_AK_POOL; k++) {
        uint8_t material [32], seed [32];
        memset (material, 0, sizeof material);
        snprintf ((char *) material, 16, "weft-sim ak");
        memcpy (material + 16, &self->seed, 8);
        material [24] = (uint8_t) k;
        keys_hash (material, sizeof material, seed);
        self->aks [k] = softquote_new_rsa (seed);
        if (!self->aks [k])
            return -1;
    }
    //  What the firmware and boot loader measure into PCR 8 (the bad
    //  actor's loader is another build)
    const char *good = "weft-sim boot loader 1.0", *evil = "weft-sim boot loader 1.0+x";
    eventlog_append (&self->log, 8, good, strlen (good), NULL);
    eventlog_append (&self->bad_log, 8, evil, strlen (evil), NULL);
    self->quotes = (s_quote_t *) zmalloc (self->nodes * sizeof (s_quote_t));
    return 0;
}

int
node_host_releases (node_host_t *self, const uint8_t *root, size_t root_size)
{
    assert (self && root && !self->release_root);
    if (!self->tenant) {
        self->own_tenant = (uint8_t *) zmalloc (self->nodes);
        self->tenant = self->own_tenant;
    }
    self->release_root = (uint8_t *) malloc (root_size);
    if (!self->release_root)
        return -1;
    memcpy (self->release_root, root, root_size);
    self->release_root_size = root_size;
    return 0;
}

const char *
node_host_tenant (uint8_t index)
{
    assert (index < NH_TENANTS);
    return s_tenants [index];
}

char *
node_host_ak_hex (node_host_t *self, uint32_t node, char **name_hex_p)
{
    assert (name_hex_p);
    *name_hex_p = NULL;
    if (!self->quotes)
        return NULL;
    softquote_t *ak = self->aks [node % NH_AK_POOL];
    size_t size;
    const uint8_t *public = softquote_public (ak, &size);
    char *hex = (char *) zmalloc (2 * size + 1);
    keys_hex (public, size, hex);
    uint8_t name [CERT_AK_NAME_SIZE];
    softquote_name (ak, name);
    *name_hex_p = (char *) zmalloc (2 * CERT_AK_NAME_SIZE + 1);
    keys_hex (name, CERT_AK_NAME_SIZE, *name_hex_p);
    return hex;
}

json_t *
node_host_profile (node_host_t *self, uint64_t interval_s)
{
    assert (self->log);
    uint8_t pcrs [EVENTLOG_PCRS][32];
    char error [128], hex [65];
    if (eventlog_replay (zchunk_data (self->log), zchunk_size (self->log), pcrs, NULL, 0,
                         NULL, error, sizeof error) < 0)
        return NULL;
    keys_hex (pcrs [8], 32, hex);
    return json_pack ("{s:{s:s}, s:I}", "pcrs", "8", hex, "interval_s",
                      (json_int_t) interval_s);
}

int
node_host_quote (node_host_t *self, uint32_t node, uint64_t now_ms)
{
    node_t *core = self->node [node];
    s_quote_t *quote = self->quotes? &self->quotes [node]: NULL;
    if (!core || !quote || !quote->asked)
        return 0;
    quote->asked = false;
    node_action_t action;
    memset (&action, 0, sizeof action);
    action.kind = NODE_ACT_QUOTE;
    memcpy (action.nonce, quote->nonce, quote->nonce_size);
    action.nonce_size = quote->nonce_size;
    action.pcr_mask = quote->mask;
    zchunk_t *log = self->bad [node]? self->bad_log: self->log;
    uint8_t *payload = NULL;
    size_t size = 0;
    int rc = softquote_evidence (self->aks [node % NH_AK_POOL], &action, zchunk_data (log),
                                 zchunk_size (log), &payload, &size);
    if (rc == 0)
        node_quote_done (core, payload, size, now_ms);
    else
        node_quote_failed (core, "the simulated TPM cannot quote these PCRs", now_ms);
    free (payload);
    s_act (self, node);
    return rc == 0? 1: -1;
}

bool
node_host_quarantines (node_host_t *self, uint32_t server, uint32_t peer)
{
    node_t *core = self->node [server];
    char name [NH_NAME_MAX];
    node_host_name (peer, name);
    return core && mesh_quarantined (node_mesh (core), name);
}

bool
node_host_up (node_host_t *self, uint32_t node)
{
    return self->node [node] != NULL;
}

void
node_host_link_up (node_host_t *self, uint32_t node, uint32_t peer, int kind,
                   uint64_t now_ms)
{
    node_t *core = self->node [node];
    if (!core)
        return;
    char link [NH_NAME_MAX];
    s_link_name (peer, link);
    node_link_up (core, link, kind, peer == NH_COORDINATOR? self->coord_curve
                                                          : s_curve (self, peer), now_ms);
    s_act (self, node);
}

void
node_host_link_down (node_host_t *self, uint32_t node, uint32_t peer, uint64_t now_ms)
{
    node_t *core = self->node [node];
    if (!core)
        return;
    char link [NH_NAME_MAX];
    s_link_name (peer, link);
    node_link_down (core, link, now_ms);
    s_act (self, node);
}

bool
node_host_linked (node_host_t *self, uint32_t node, uint32_t peer)
{
    node_t *core = self->node [node];
    char link [NH_NAME_MAX];
    s_link_name (peer, link);
    return core && mesh_has_link (node_mesh (core), link);
}

int
node_host_frame (node_host_t *self, uint32_t node, uint32_t peer, const char *dest,
                 const uint8_t *frame, size_t size, uint64_t now_ms)
{
    node_t *core = self->node [node];
    if (!core)
        return -1;
    char link [NH_NAME_MAX];
    s_link_name (peer, link);
    if (peer != NH_COORDINATOR && !mesh_has_link (node_mesh (core), link)) {
        //  A new peer on our listener: ZAP admits it unless it is revoked
        if (!node_admit (core, s_curve (self, peer)))
            return -1;
        mesh_link_up (node_mesh (core), link, MESH_LINK_ACCEPTED, s_curve (self, peer),
                      now_ms);
    }
    int rc = node_frame (core, link, dest, frame, size, now_ms);
    s_act (self, node);
    return rc;
}

void
node_host_timer (node_host_t *self, uint32_t node, uint64_t now_ms, int kind)
{
    node_t *core = self->node [node];
    if (!core)
        return;
    node_timer (core, kind, now_ms);
    s_act (self, node);
}

void
node_host_applied (node_host_t *self, uint32_t node, uint64_t now_ms,
                   uint64_t version, bool ok)
{
    node_t *core = self->node [node];
    if (!core)
        return;
    node_applied (core, version, ok, NULL, 0, ok? NULL: "simulated failure", now_ms);
    s_act (self, node);
}

//  A simulated install handler has no files: every step is only its
//  answer, which the real update module takes as weft-node's handler's
void
node_host_installed (node_host_t *self, uint32_t node, uint64_t now_ms, int step, bool ok)
{
    node_t *core = self->node [node];
    if (!core)
        return;
    node_installed (core, step, ok, ok? NULL: "simulated install failure", now_ms);
    s_act (self, node);
}

void
node_host_state (node_host_t *self, uint32_t node, nh_state_t *state)
{
    agent_t *agent = self->node [node]? node_agent (self->node [node]): NULL;
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
    node_t *core = self->node [node];
    return core? mesh_revocations (node_mesh (core)): 0;
}

bool
node_host_admits (node_host_t *self, uint32_t node, uint32_t peer)
{
    node_t *core = self->node [node];
    return core && node_admit (core, s_curve (self, peer));
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
