/*  node_host - weft-sim's adapter to the node core (node/core/node.h),
    the same object weft-node's main drives: the host feeds it the
    world's events (links, frames, timers, apply results) and carries its
    actions back (frames on simulated links, timers on the virtual
    clock, applies, closes). The only sim file that includes node/.
    Hosts up to SCN_NODES_MAX nodes in one LMDB environment, each under
    its own key prefix, with effects bound to the simulated world
    through nh_world_t. Keys and certificates come from the run seed, so
    a node restarts with the same identity.
    With attestation on (node_host_attest), every node has a simulated
    TPM: an AK from a small pool of RSA keys derived from the seed
    (node/core/softquote.h), bound in its certificate as enrolment
    binds a real one, and a TCG event log its quotes replay; a bad
    actor's log replays to another PCR 8 than the profile's.  */

#ifndef WEFT_SIM_NODE_HOST_H_INCLUDED
#define WEFT_SIM_NODE_HOST_H_INCLUDED

#include <jansson.h>
#include "proto/keys.h"
#include "proto/store.h"

#define NH_NAME_MAX     16          //  "n123456" and its NUL
#define NH_AK_POOL      8           //  RSA AKs per run, shared round robin
#define NH_TENANTS      2           //  Tenant names: node_host_tenant
#define NH_COORDINATOR  UINT32_MAX  //  Overlay id of the coordinator
#define NH_NEIGHBOURS_MAX   1023    //  Accepted links of a node (MESH_LINKS_MAX - 1)
#define NH_CHUNK_BUDGET (64ULL << 20)   //  Chunk store of a node: updates and fetch on
#define NH_CHUNK_SHARED "~chunks/"      //  Packed chunk bytes, once for every node

#define NH_TIMER_MESH   2           //  NODE_TIMER_MESH: the mesh's (after the agent's)
#define NH_TIMERS       3           //  NODE_TIMERS

//  Overlay link kinds, as mesh_link_kind_t
#define NH_LINK_COORDINATOR 0
#define NH_LINK_DIALLED     1
#define NH_LINK_ACCEPTED    2

//  The world's side of the nodes' effects, by node index. A link is
//  named by its peer: a node index or NH_COORDINATOR.
typedef struct {
    void *ctx;
    //  A frame on the link from node to peer: dest NULL for a link-local
    //  envelope, else a custody transfer toward dest ("coordinator", a
    //  device id, or "*").
    int (*send) (void *ctx, uint32_t node, uint32_t peer, const char *dest,
                 const uint8_t *frame, size_t size);
    //  The mesh closes the link to a revoked peer.
    void (*close) (void *ctx, uint32_t node, uint32_t peer);
    void (*timer) (void *ctx, uint32_t node, int kind, uint64_t at_ms);
    void (*apply) (void *ctx, uint32_t node, uint64_t version);
    //  An envelope the mesh hands to the node's agent, just before.
    void (*deliver) (void *ctx, uint32_t node, const uint8_t *frame, size_t size);
    //  The node core asks its TPM for a quote: answer it later with
    //  node_host_quote (NULL while attestation is off).
    void (*quote) (void *ctx, uint32_t node);
    //  The update module asks the install handler for a step of an
    //  install (update_step_t): answer it later with node_host_installed.
    void (*install) (void *ctx, uint32_t node, int step);
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

//  Create the host for nodes over store (borrowed). ca issues the
//  nodes' certificates (copied); coord holds the coordinator's public
//  keys.
node_host_t *
    node_host_new (store_t *store, uint32_t nodes, uint64_t seed, const keys_t *ca,
                   const keys_t *coord, uint64_t heartbeat_ms, const nh_world_t *world);
void
    node_host_destroy (node_host_t **self_p);


//  Attestation on: tenant [i] names node i's tenant (an index below
//  NH_TENANTS), bad [i] makes its event log replay off the profile;
//  both borrowed for the host's life. Derives the AK pool from the
//  seed. 0 or -1.
int
    node_host_attest (node_host_t *self, const uint8_t *tenant, const uint8_t *bad);

const char *
    node_host_tenant (uint8_t index);

//  Node i's AK public area (TPM2B_PUBLIC) and name as hex, as the
//  coordinator's registry keeps them; NULL if attestation is off.
//  Caller frees both.
char *
    node_host_ak_hex (node_host_t *self, uint32_t node, char **name_hex_p);

//  The profile an honest node's boot matches ({"pcrs": {"8": ...},
//  "interval_s": interval_s}). Caller json_decref's it.
json_t *
    node_host_profile (node_host_t *self, uint64_t interval_s);

//  The TPM answers node's last QUOTE (if it is still up and has one
//  outstanding). Returns 1 if it answered, 0 if nothing was asked, -1
//  if the quote failed.
int
    node_host_quote (node_host_t *self, uint32_t node, uint64_t now_ms);

//  Does server's mesh hold peer quarantined (its own verdict or the
//  coordinator's list)?
bool
    node_host_quarantines (node_host_t *self, uint32_t server, uint32_t peer);

//  Name of node i; its identity from the seed.
void
    node_host_name (uint32_t node, char name [NH_NAME_MAX]);
void
    node_host_keys (uint64_t seed, uint32_t node, keys_t *keys);
//  The serial of node i's certificate.
uint64_t
    node_host_serial (uint32_t node);

//  Create the mesh and the agent from the store and start them (server:
//  the certificate's role). 0 or -1.
int
    node_host_boot (node_host_t *self, uint32_t node, bool server, uint64_t now_ms);

//  Crash: the agent and everything in its memory is gone; the store
//  keeps what was committed.
void
    node_host_crash (node_host_t *self, uint32_t node);

bool
    node_host_up (node_host_t *self, uint32_t node);

//  Events into a running node (ignored if it is down). A link to peer
//  came up (kind NH_LINK_*; a dialled link sends HELLO) or went down.
void
    node_host_link_up (node_host_t *self, uint32_t node, uint32_t peer, int kind,
                       uint64_t now_ms);
void
    node_host_link_down (node_host_t *self, uint32_t node, uint32_t peer, uint64_t now_ms);
//  Is the link to peer known and up as far as the transport goes?
bool
    node_host_linked (node_host_t *self, uint32_t node, uint32_t peer);
//  A frame from peer (dest as in nh_world_t.send). A frame from a node
//  with no link yet opens an accepted link first, if the mesh admits
//  the peer's key (ZAP). Returns 0 if handled, -1 if dropped or refused.
int
    node_host_frame (node_host_t *self, uint32_t node, uint32_t peer, const char *dest,
                     const uint8_t *frame, size_t size, uint64_t now_ms);
void
    node_host_timer (node_host_t *self, uint32_t node, uint64_t now_ms, int kind);
void
    node_host_applied (node_host_t *self, uint32_t node, uint64_t now_ms,
                       uint64_t version, bool ok);

//  Software releases: every node's certificate names tenant 0 (unless
//  attestation gave tenants) and its enrolment pinned root, the
//  tenant's signed release root (copied). 0 or -1.
int
    node_host_releases (node_host_t *self, const uint8_t *root, size_t root_size);

//  The install handler's result of a step the node asked for.
void
    node_host_installed (node_host_t *self, uint32_t node, uint64_t now_ms, int step,
                         bool ok);

//  Versions of a running agent (zeros if down).
void
    node_host_state (node_host_t *self, uint32_t node, nh_state_t *state);

//  Revocation list version a running node holds (0 if down or none),
//  and whether its mesh would admit a peer with node peer's key.
uint64_t
    node_host_revocations (node_host_t *self, uint32_t node);
bool
    node_host_admits (node_host_t *self, uint32_t node, uint32_t peer);

//  Node index of a link or device name ("n000042"), NH_COORDINATOR for
//  "coordinator"; false if neither.
bool
    node_host_index (const char *name, uint32_t *index);

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
