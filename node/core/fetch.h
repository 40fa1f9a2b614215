/*  fetch - the chunk exchange of a node: fetching the chunks of the
    releases it wants from its neighbours, and serving the chunks it
    holds to them (CHUNK_WANT / CHUNK_DATA, docs/protocol.md section 21)
    Sans-IO: the node core (node.c) hands it the link-local envelopes
    the mesh checked, its time, and one chunkstore (proto/chunkstore.h)
    shared with the update module; it acts through its effects.

    Wanted releases are kept in FETCH_TABLE (key prefix "w", or "s" for
    one a site server fetches for its site, and the manifest's hash ->
    the manifest's bytes; a release may be under both), and their chunks are pinned
    in the chunkstore, so after a restart fetching resumes from what is
    held: a chunk is stored only once verified, in one transaction per
    burst (fetch_flush), so a crash loses at most that burst.

    Fetching: each missing chunk is asked of one peer at a time, in
    order: a gateway asks the site servers it is linked to, then its
    other neighbours, then the coordinator link if it has one; a site
    server asks its coordinator link (its upstream) first. At most
    FETCH_WINDOW chunks are in flight per peer (bulk: what a link queues
    ahead of control traffic is bounded), and a rate limit per peer may
    space the asks. A peer that answers size 0 is skipped for that chunk
    and the next peer asked; one that answers nothing within the timeout
    (gone, or a slow peer that trickles) is skipped and asked nothing
    for FETCH_RETRY_MS (unless its link comes back); one that sends a chunk that does not unpack to
    its address and manifest size is asked no more for that release
    until its next retry round. A chunk every peer failed waits
    FETCH_RETRY_MS before it is asked again from the first; when a peer
    comes (a link up and verified), every chunk not held starts again
    from the first peer at once. A CHUNK_DATA
    nobody asked of that peer is dropped. When the pinned chunks alone
    pass the chunkstore's budget, fetching pauses (said in the log and by
    fetch_paused) rather than evict a chunk some release needs.

    Deltas: a node asking the coordinator names in its CHUNK_WANT (have)
    up to UPDMSG_HAVE_MAX releases it wants and holds in full (those of
    the asked release's name first), so the
    coordinator may answer a chunk with a delta against their chunks. The
    delta is applied against the bases in the chunkstore, the result
    checked against the address, packed and kept like any chunk; one
    that does not apply (a base evicted since, a bad frame) is dropped and
    the chunk asked again of the same peer with no have, once: a second
    failure counts as a bad chunk. Neighbours are never sent have: inside
    a site, whole chunks.

    Serving: a CHUNK_WANT is answered, one CHUNK_DATA per address, only
    for a release this node wants or holds (fetch_want and not dropped),
    only for addresses of that release's manifest, and only to a
    neighbour of our tenant or the coordinator; size 0 otherwise.
    Served chunks are marked used (LRU) in the next burst's transaction.
    A wanted chunk this node lacks but is fetching itself (a site server
    asked by several gateways) is answered when it arrives: the asks are
    merged, so each chunk crosses the uplink once for the whole site
    (at most FETCH_WAITERS_MAX peers per chunk and FETCH_WAITING_MAX
    chunks wait, each at most the timeout; beyond that, and when the
    chunk cannot be had, size 0).

    Metered uplink (fetch_set_link, meter.h): asks of the coordinator
    link wait outside its transfer windows and while the day's byte
    budget would be passed by the chunks in flight plus the next one;
    the bytes of every CHUNK_DATA the coordinator link sends are counted,
    and the day's count is kept in FETCH_TABLE (key prefix + "meter") in
    the burst's transaction, so it survives a restart. Neighbours inside
    the site are never metered.  */

#ifndef WEFT_FETCH_H_INCLUDED
#define WEFT_FETCH_H_INCLUDED

#include "proto/proto.h"
#include "proto/store.h"
#include "proto/chunkstore.h"
#include "node/core/meter.h"

#define FETCH_TABLE         "fetch"     //  Wanted releases
#define FETCH_COORDINATOR   "coordinator"   //  The coordinator link's peer name
#define FETCH_WINDOW        8           //  Chunks in flight per peer
#define FETCH_TIMEOUT_MS    10000       //  An asked chunk's answer, at most
#define FETCH_RETRY_MS      30000       //  Before a chunk every peer failed is asked again
#define FETCH_RELEASES_MAX  64          //  Releases wanted at once
#define FETCH_SITE_MAX      8           //  Of them, kept for the site (fetch_want_site)
#define FETCH_PUMP_MAX      256         //  Chunks considered per pump
#define FETCH_WAITERS_MAX   16          //  Peers waiting for one chunk we fetch
#define FETCH_WAITING_MAX   4096        //  Chunks peers wait for, at most

//  Where a peer stands in the order chunks are asked in
typedef enum {
    FETCH_PEER_COORDINATOR = 0,         //  The coordinator link
    FETCH_PEER_SERVER = 1,              //  A site server neighbour
    FETCH_PEER_GATEWAY = 2              //  Any other neighbour
} fetch_peer_kind_t;

//  One peer we may ask, for fetch_effects_t's peers
typedef void (fetch_peer_fn) (void *arg, const char *peer, int kind);

typedef struct {
    void *ctx;
    //  Send a link-local envelope of type around payload (borrowed) to
    //  peer (a neighbour's name, or "coordinator"). 0, or -1 if not queued.
    int (*send) (void *ctx, const char *peer, int type, const uint8_t *payload, size_t size);
    //  Call fn for each peer that may be asked now: verified neighbours
    //  of our tenant whose link is up, and the coordinator link if up.
    void (*peers) (void *ctx, fetch_peer_fn *fn, void *arg);
    //  Optional: every chunk of the release is held (once per release
    //  and run; again after a restart).
    void (*done) (void *ctx, const uint8_t manifest_hash [32]);
} fetch_effects_t;

typedef struct {
    const char *name;                   //  Our device id (logs)
    const char *tenant;                 //  Ours: only its neighbours are served
    store_t *store;                     //  With FETCH_TABLE and CHUNKSTORE_TABLE
    const char *prefix;                 //  Key prefix in FETCH_TABLE
    chunkstore_t *chunks;               //  Borrowed, shared with the update module
    bool server;                        //  A site server: the coordinator link first
    uint64_t timeout_ms;                //  0: FETCH_TIMEOUT_MS
    uint64_t rate;                      //  Bytes per second asked of one peer, 0: no limit
    bool verbose;
} fetch_config_t;

typedef struct {
    uint64_t asked;                     //  Chunks asked
    uint64_t received;                  //  Chunks verified and kept
    uint64_t received_bytes;            //  Their bytes as they came (packed or delta)
    uint64_t deltas;                    //  Of them, came as deltas
    uint64_t deltas_dropped;            //  Deltas that did not apply (asked again whole)
    uint64_t not_held;                  //  Answers of size 0
    uint64_t timeouts;                  //  Asks not answered in time
    uint64_t bad;                       //  Chunks that failed verification
    uint64_t unasked;                   //  CHUNK_DATA nobody asked for (dropped)
    uint64_t served;                    //  Chunks sent to peers
    uint64_t served_bytes;              //  Their packed bytes
    uint64_t refused;                   //  Addresses answered size 0
    uint64_t merged;                    //  Peers' asks answered by our own fetch
    uint64_t expired;                   //  Chunks peers waited for in vain (size 0)
    uint64_t malformed;                 //  Undecodable CHUNK_ messages
} fetch_stats_t;

typedef struct _fetch_t fetch_t;

//  Create; NULL if the configuration is incomplete.
fetch_t *
    fetch_new (const fetch_config_t *config, const fetch_effects_t *effects);

void
    fetch_destroy (fetch_t **self_p);

//  Take up the releases an earlier run wanted, from the store. 0 or -1.
int
    fetch_start (fetch_t *self, uint64_t now_ms);

//  Fetch every chunk of this release (manifest: its bytes, which hash to
//  manifest_hash) not held: stored and pinned at once, so it resumes
//  after a restart. Wanting it again changes nothing. 0, or -1 (logged:
//  a manifest that does not decode or hash, too many releases, store).
int
    fetch_want (fetch_t *self, const uint8_t manifest_hash [32], const uint8_t *manifest,
                size_t manifest_size, uint64_t now_ms);

//  A site server relays an offer of this release to a device of its
//  site: fetch it too (from the uplink), so each chunk crosses the uplink
//  once and the site's devices find it here. Kept and pinned like a
//  release this node wants, until FETCH_SITE_MAX newer ones were taken
//  for the site (or for good while this node wants it itself). 0 or -1.
int
    fetch_want_site (fetch_t *self, const uint8_t manifest_hash [32], const uint8_t *manifest,
                     size_t manifest_size, uint64_t now_ms);

//  This node no longer needs it: unpinned (its chunks become evictable), forgotten,
//  peers waiting for its chunks answered size 0. 0 (also if unknown) or -1.
int
    fetch_drop (fetch_t *self, const uint8_t manifest_hash [32]);

//  How far a wanted release is: chunks and (unpacked) bytes held of the
//  total. 0, or -1 if it is not wanted.
int
    fetch_progress (fetch_t *self, const uint8_t manifest_hash [32], size_t *held_chunks_p,
                    size_t *total_chunks_p, uint64_t *held_bytes_p, uint64_t *total_bytes_p);

//  A CHUNK_WANT or CHUNK_DATA payload from peer (a verified neighbour of
//  tenant, or "coordinator" with tenant ""). Returns true if the type
//  is ours (whatever became of it), false for any other type.
bool
    fetch_on_message (fetch_t *self, const char *peer, const char *tenant, int type,
                      const uint8_t *payload, size_t size, uint64_t now_ms);

//  End of a burst: store the chunks received in one transaction, mark
//  the served ones used, answer waiting peers, tell releases done, then
//  ask for more.
void
    fetch_flush (fetch_t *self, uint64_t now_ms);

//  Timer work: asks past their timeout, retries, rate-limited asks; then
//  fetch_flush.
void
    fetch_tick (fetch_t *self, uint64_t now_ms);

//  When fetch_tick next wants to run (Unix ms), 0 if never.
uint64_t
    fetch_deadline (fetch_t *self);

//  The chunkstore (borrowed): the installer reads chunks here.
chunkstore_t *
    fetch_chunks (fetch_t *self);

//  The uplink's metering (the twin's desired "link", meter.h) and the
//  local time's offset from UTC (seconds east): asks of the coordinator
//  link follow them from now on.
void
    fetch_set_link (fetch_t *self, const meter_link_t *link, int32_t offset_s,
                    uint64_t now_ms);

//  Is the uplink metered (a valid or malformed link member says so)?
bool
    fetch_metered (fetch_t *self);

//  Was a link member ever set (then "unmetered" is worth saying)?
bool
    fetch_link_set (fetch_t *self);

//  Do chunks wait for the metered uplink? Then why (meter_describe's
//  words) and when they may go (Unix ms, 0 never) in *resumes_p.
bool
    fetch_link_waiting (fetch_t *self, uint64_t now_ms, char why [METER_DESCRIBE_MAX + 1],
                        uint64_t *resumes_p);

//  Is fetching paused because the pinned chunks pass the budget?
bool
    fetch_paused (fetch_t *self);

const fetch_stats_t *
    fetch_stats (fetch_t *self);

void
    fetch_test (bool verbose);

#endif
