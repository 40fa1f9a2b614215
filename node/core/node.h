/*  node - the node core: one sans-IO object that composes the agent's
    cores (mesh with its custody outbox, gossip and policies; agent; the
    delegated verifier) and the attestation flow between them and the TPM
    The driver (weft-node's main, weft-sim's node_host, the selftest)
    feeds it events and carries out its actions; it never reads the
    clock, a socket, the disk or the TPM itself.

    Events, each with the current time (Unix ms):
        node_link_up / node_link_down   a transport link came or went
        node_frame                      a frame from a link
        node_timer / node_tick          a timer fired / whatever is due
                                        (also a maintenance window opening)
        node_quote_done / _failed       the TPM's answer to a QUOTE
        node_applied                    the apply handler's result
        node_installed                  the install handler's result of a step
        node_chunks_held                every chunk of a release is held
    and each event ends with the burst settled (node_settle): the mesh
    commits what it took (one LMDB transaction), then sends its ACKs and
    pumps its outbox, the agent learns of a route to the coordinator
    gained or lost, the delegated verifier challenges what is due.

    Actions, drained by the driver after each event (node_next):
        NODE_ACT_CLOSE  close a link (its peer is revoked)
        NODE_ACT_QUOTE  ask the TPM for a quote: nonce, PCR mask, IMA
        NODE_ACT_APPLY  apply the desired twin document at a version
        NODE_ACT_TIMER  timer kind now falls due at at_ms (0: disarmed)
        NODE_ACT_INSTALL  a step of a software install (node/core/update.h)
    Sending a frame on a link is the one effect called at once (the
    links binding): custody needs to know whether the transport queued
    the frame before it counts it as sent. Store writes go through the
    store interface the node was created with.

    Attestation: an ATTEST_CHALLENGE for us (from the coordinator, signed
    with its key, or from a site server we are linked to while the site
    is cut off) becomes a QUOTE action; the quote comes back as
    node_quote_done, and the evidence goes to whoever asked: upstream by
    custody to the coordinator, or to the site server by its name. On a
    site server, a gateway's evidence answering our own challenge is
    judged here (delegate.h) instead of being relayed.

    Campaigns at the site: a server with updates on takes SITE_DIRECTIVEs
    from the coordinator and runs its site's waves (sitecamp.h): its
    offers go out by custody with this node as origin, and the twin
    reports of its devices that it relays to the coordinator move them.  */

#ifndef WEFT_NODE_H_INCLUDED
#define WEFT_NODE_H_INCLUDED

#include "proto/proto.h"
#include "proto/keys.h"
#include "proto/tpmmsg.h"
#include "proto/store.h"
#include "node/core/mesh.h"
#include "node/core/agent.h"
#include "node/core/delegate.h"
#include "node/core/fetch.h"
#include "node/core/update.h"
#include "proto/chunkstore.h"

#define NODE_TIMER_MESH     AGENT_TIMERS        //  The mesh's and the chunk exchange's deadline
#define NODE_TIMERS         (AGENT_TIMERS + 1)  //  Agent's kinds, then the mesh's
#define NODE_ACTIONS_MIN    8                   //  Actions room at first
#define NODE_ACTIONS_MAX    4096                //  Actions queued at most
#define NODE_CHUNK_BUDGET   (1ULL << 30)        //  --chunk-budget's default (bytes)

typedef enum {
    NODE_ACT_CLOSE = 1,
    NODE_ACT_QUOTE = 2,
    NODE_ACT_APPLY = 3,
    NODE_ACT_TIMER = 4,
    NODE_ACT_INSTALL = 5
} node_act_t;

//  One action. Its memory is the node's until the next node_next.
typedef struct {
    int kind;                           //  node_act_t
    char link [WEFT_NAME_MAX + 1];      //  CLOSE: the link
    //  QUOTE
    uint8_t nonce [TPMMSG_NONCE_MAX];   //  The verifier's nonce
    size_t nonce_size;
    uint32_t pcr_mask;                  //  Bit N = sha256 PCR N
    bool ima;                           //  IMA entries asked
    uint64_t ima_from;                  //  From this entry number
    uint8_t ima_pcr10 [32];             //  PCR 10 after ima_from entries
    //  APPLY
    uint64_t version;
    char *doc;                          //  JSON, doc_size bytes (no NUL)
    size_t doc_size;
    //  TIMER
    int timer;                          //  Agent timer kind or NODE_TIMER_MESH
    uint64_t at_ms;
    //  INSTALL: the step, and the release (as update_install_t)
    int step;                           //  update_step_t
    uint8_t manifest_hash [32];
    uint8_t *manifest;                  //  manifest_size bytes
    size_t manifest_size;
    char release [WEFT_NAME_MAX + 1];   //  Its name
    char release_version [MANIFEST_VERSION_MAX + 1];
    char handler [MANIFEST_HANDLER_MAX + 1];
    char previous [MANIFEST_VERSION_MAX + 1];
} node_action_t;

//  The driver's transport, called from inside an event
typedef struct {
    void *ctx;
    //  Send one frame on a link (dest NULL: a link-local envelope; else a
    //  custody transfer toward dest). Borrowed frame. Returns 0 if
    //  queued, -1 if not (custody tries again later).
    int (*send) (void *ctx, const char *link, const char *dest,
                 const uint8_t *frame, size_t size);
    //  Optional (NULL): an envelope addressed to us, just before it is
    //  handled; weft-sim's invariant checks watch these. Borrowed.
    void (*delivered) (void *ctx, const uint8_t *frame, size_t size);
} node_links_t;

typedef struct {
    const char *name;                   //  Our device id
    const char *tenant;
    const keys_t *keys;                 //  Copied
    const uint8_t *cert;                //  Our certificate, copied
    size_t cert_size;
    const uint8_t *ca_key;              //  Root public key (32)
    const uint8_t *coord_sign;          //  Coordinator Ed25519 key (32)
    uint64_t heartbeat_ms;              //  Heartbeats and ROUTE adverts
    store_t *store;                     //  With AGENT_TABLE, MESH_TABLE, OUTBOX_TABLE
                                        //  (and UPDATE_TABLE, CHUNKSTORE_TABLE)
    const char *prefix;                 //  Key prefix ("" in the daemon)
    bool admit_unattested;              //  Never require peers' attestation
    bool quotes;                        //  We have a TPM: answer challenges
    //  The chunk store (CHUNKSTORE_TABLE) and its exchange (FETCH_TABLE):
    //  packed bytes kept of unpinned chunks, 0 for no chunk store (then
    //  the node neither fetches, serves nor installs releases)
    uint64_t chunk_budget;
    uint64_t chunk_rate;                //  Bytes/s asked of one peer, 0: no limit
    //  Where the chunk store keeps packed bytes once for every node of
    //  the store (chunkstore_share: weft-sim's nodes), NULL for its own
    const char *chunk_shared;
    bool verbose;
    //  Software updates: on when chunk_budget is not 0 (the store has
    //  UPDATE_TABLE too; a server also keeps the campaigns it runs for
    //  its site there, node/core/sitecamp.h); the release root pinned
    //  at enrolment (signed
    //  form, docs/updates.md), NULL if none yet
    const uint8_t *release_root;
    size_t release_root_size;
    //  Local time's offset from UTC (seconds east) at start: maintenance
    //  windows are local time (node_set_utc_offset follows changes)
    int32_t utc_offset_s;
} node_config_t;

typedef struct _node_t node_t;

//  Create the node's cores and start them from the store (their
//  persisted state); the certificate's role says whether we are a site
//  server. Returns NULL (logged) if the configuration is incomplete or
//  the store fails.
node_t *
    node_new (const node_config_t *config, const node_links_t *links, uint64_t now_ms);

//  Destroy; what is committed stays in the store (a crash loses no more).
void
    node_destroy (node_t **self_p);

//  --------------------------------------------------------------------------
//  Events

//  A link came up (mesh_link_kind_t; key: the peer's CURVE key) or went.
void
    node_link_up (node_t *self, const char *link, int kind, const uint8_t key [32],
                  uint64_t now_ms);
void
    node_link_down (node_t *self, const char *link, uint64_t now_ms);

//  One frame from a link (dest as in node_links_t), then settled.
//  Returns as mesh_on_frame. (The daemon reads a burst, checks its
//  signatures on threads, feeds node_mesh and settles once.)
int
    node_frame (node_t *self, const char *link, const char *dest, const uint8_t *frame,
                size_t size, uint64_t now_ms);

//  The time of what follows, for a driver that feeds a burst of frames
//  straight to node_mesh (the daemon's signature-check threads) and
//  settles once after it: what the mesh delivers is handled at now_ms.
void
    node_clock (node_t *self, uint64_t now_ms);

//  Timer kind fired (as armed by a TIMER action).
void
    node_timer (node_t *self, int kind, uint64_t now_ms);

//  Fire every timer that is due, then settle: for a driver that polls
//  with node_deadline as its timeout rather than scheduling TIMERs.
void
    node_tick (node_t *self, uint64_t now_ms);

//  End of a burst of events: commit, ACK, pump, route changes told to
//  the agent, due delegated challenges.
void
    node_settle (node_t *self, uint64_t now_ms);

//  The offset of the device's local time from UTC (seconds east) now,
//  for maintenance windows (the driver reads it, with the clock, before
//  each tick; a DST change moves the windows with local time).
void
    node_set_utc_offset (node_t *self, int32_t offset_s);

//  The TPM's answer to our last QUOTE: an ATTEST_EVIDENCE payload
//  (tpmmsg.h), borrowed; or why it failed.
void
    node_quote_done (node_t *self, const uint8_t *payload, size_t size, uint64_t now_ms);
void
    node_quote_failed (node_t *self, const char *reason, uint64_t now_ms);

//  Result of an APPLY, as agent_applied.
void
    node_applied (node_t *self, uint64_t version, bool ok, const char *reported,
                  size_t reported_size, const char *error, uint64_t now_ms);

//  The install handler's result of a step (update_installed).
void
    node_installed (node_t *self, int step, bool ok, const char *error, uint64_t now_ms);

//  Every chunk of the release named by its manifest's hash is in the
//  chunk store (update_chunks_held).
void
    node_chunks_held (node_t *self, const uint8_t hash [32], uint64_t now_ms);

//  An offer's metadata taken at this node from an imported bundle:
//  checked as a delivered UPDATE_OFFER. Returns its weft_status_t.
int
    node_update_offer (node_t *self, const uint8_t *metadata, size_t size, uint64_t now_ms,
                       char reason [WEFT_TEXT_MAX + 1]);

//  An UPDATE_OFFER for another device, sent by custody with us as its
//  origin (the device checks the chain, not who sent it); we keep its
//  release for the site (fetch_want_site), so the device can fetch its
//  chunks from us. 0 or -1.
int
    node_update_send (node_t *self, const char *device, const uint8_t *metadata, size_t size,
                      uint64_t now_ms);

//  --------------------------------------------------------------------------
//  Actions and state

//  Next action, or NULL when none is left. Valid until the next call.
const node_action_t *
    node_next (node_t *self);

//  Earliest deadline of the agent's timers and the mesh (Unix ms), 0
//  if none.
uint64_t
    node_deadline (node_t *self);

//  Would our listener's ZAP admit this CURVE key (not revoked)?
bool
    node_admit (node_t *self, const uint8_t key [32]);

//  The cores, borrowed: for queries (stats, versions) and for the
//  daemon's signature-check threads, which feed the mesh directly.
mesh_t *
    node_mesh (node_t *self);
agent_t *
    node_agent (node_t *self);
//  NULL when updates are off (chunk_budget 0)
update_t *
    node_update (node_t *self);
chunkstore_t *
    node_chunks (node_t *self);

//  The chunk exchange (its chunkstore: fetch_chunks), NULL if the node
//  was created with no chunk budget. Borrowed.
fetch_t *
    node_fetch (node_t *self);

//  Our certificate's role ("server" or "gateway") and place.
const char *
    node_role (node_t *self);
const char *
    node_path (node_t *self);

//  Evidence sent in answer to challenges, and quotes failed, since start.
uint64_t
    node_evidence_sent (node_t *self);
uint64_t
    node_quotes_failed (node_t *self);

void
    node_test (bool verbose);

#endif
