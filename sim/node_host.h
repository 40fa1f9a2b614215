/*  node_host - weft-sim's adapter to the node core (node/core/agent.h)
    The only sim file that includes the agent's header: when the agent
    API changes (the mesh), this file and its overlay function change,
    nothing else. Hosts up to SCN_NODES_MAX agents in one LMDB
    environment, each under its own key prefix, with effects bound to
    the simulated world through nh_world_t. Keys come from the run seed
    (keys_from_seed), so a node restarts with the same identity.  */

#ifndef WEFT_SIM_NODE_HOST_H_INCLUDED
#define WEFT_SIM_NODE_HOST_H_INCLUDED

#include "proto/keys.h"
#include "node/io/store.h"

#define NH_NAME_MAX     16          //  "n123456" and its NUL
#define NH_COORDINATOR  UINT32_MAX  //  Overlay id of the coordinator

//  The world's side of the agents' effects, by node index.
typedef struct {
    void *ctx;
    int (*send) (void *ctx, uint32_t node, const uint8_t *frame, size_t size);
    void (*timer) (void *ctx, uint32_t node, int kind, uint64_t at_ms);
    void (*apply) (void *ctx, uint32_t node, uint64_t version);
} nh_world_t;

typedef struct {
    uint64_t desired;               //  Desired version held
    uint64_t applied;               //  Last version applied
    uint64_t reported;              //  Reported version
    bool pending;                   //  Report not yet ACKed
} nh_state_t;

typedef struct _node_host_t node_host_t;

//  Tables the host needs in its store.
const char **
    node_host_tables (void);

//  Create the host for nodes agents over store (borrowed).
node_host_t *
    node_host_new (store_t *store, uint32_t nodes, uint64_t seed,
                   const uint8_t coord_sign [32], uint64_t heartbeat_ms,
                   const nh_world_t *world);
void
    node_host_destroy (node_host_t **self_p);

//  Timer kinds an agent uses.
int
    node_host_timer_kinds (void);

//  Name of node i; its identity from the seed.
void
    node_host_name (uint32_t node, char name [NH_NAME_MAX]);
void
    node_host_keys (uint64_t seed, uint32_t node, keys_t *keys);

//  Create the agent from the store and start it. 0 or -1.
int
    node_host_boot (node_host_t *self, uint32_t node, uint64_t now_ms);

//  Crash: the agent and everything in its memory is gone; the store
//  keeps what was committed.
void
    node_host_crash (node_host_t *self, uint32_t node);

bool
    node_host_up (node_host_t *self, uint32_t node);

//  Events into a running agent (ignored if it is down).
void
    node_host_connected (node_host_t *self, uint32_t node, uint64_t now_ms);
void
    node_host_disconnected (node_host_t *self, uint32_t node, uint64_t now_ms);
int
    node_host_message (node_host_t *self, uint32_t node, uint64_t now_ms,
                       const uint8_t *frame, size_t size);
void
    node_host_timer (node_host_t *self, uint32_t node, uint64_t now_ms, int kind);
void
    node_host_applied (node_host_t *self, uint32_t node, uint64_t now_ms,
                       uint64_t version, bool ok);

//  Versions of a running agent (zeros if down).
void
    node_host_state (node_host_t *self, uint32_t node, nh_state_t *state);

//  Overlay neighbours of a node that a message from the coordinator
//  can reach it through, for the oracle BFS. Star: the coordinator.
size_t
    node_host_upstreams (node_host_t *self, uint32_t node, uint32_t *out, size_t max);

//  Test-only bug (--bug ack-before-commit): remember the node's stored
//  twin state before a message, and put it back at a crash, as if the
//  commit that preceded the ACK had never reached the disk.
void
    node_host_snapshot (node_host_t *self, uint32_t node);
void
    node_host_rollback (node_host_t *self, uint32_t node);
void
    node_host_forget (node_host_t *self, uint32_t node);

#endif
