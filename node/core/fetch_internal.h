/*  fetch_internal - what the fetch_ files share: the state of the chunk
    exchange, of one wanted release, and the helpers one part calls in
    another. Private to node/core/fetch*.c; callers use fetch.h.
    fetch.c: life cycle, wanted releases, bursts and timers;
    fetch_ask.c: asking peers and taking their answers;
    fetch_serve.c: answering peers' asks.

    Each wanted release keeps, per chunk of its manifest, a state and
    the number of peers tried, and a ring of the chunk indexes still to
    ask in order: every chunk is in the ring at most once (in_ring), so
    a pump pops, looks at the state, and skips what is no longer queued.
    Chunks in flight are in one hash by address (binary keys) and in one
    list in the order they were asked, so the oldest ask is the first to
    time out and the deadline is the list's head. Chunks peers wait for
    (merged asks) are in a hash by address and a list oldest first, and
    the ones still queued are asked first (urgent).  */

#ifndef WEFT_FETCH_INTERNAL_H_INCLUDED
#define WEFT_FETCH_INTERNAL_H_INCLUDED

#include "proto/corelib.h"
#include "proto/chunker.h"
#include "proto/manifest.h"
#include "proto/updmsg.h"
#include "node/core/fetch.h"

#define FETCH_CANDIDATES_MAX    32          //  Peers considered in one pump
#define FETCH_TOUCH_MAX         256         //  Served chunks marked used per burst
#define FETCH_KEY_MAX           (WEFT_NAME_MAX + 1 + 32)

typedef enum {
    FETCH_HELD = 0,                     //  In the chunkstore
    FETCH_QUEUED = 1,                   //  To ask
    FETCH_FLIGHT = 2,                   //  Asked, not answered
    FETCH_STAGED = 3,                   //  Verified, stored at the next flush
    FETCH_STALLED = 4                   //  Every peer failed: waits for retry_at
} fetch_state_t;

//  Who wants a release: this node's own update module (key 'w' in
//  FETCH_TABLE), the site's devices (key 's'), or both
#define FETCH_OWN   1
#define FETCH_SITE  2

typedef struct {
    uint8_t hash [32];                  //  Of the manifest
    uint8_t *bytes;                     //  The manifest (owned)
    size_t size;
    manifest_t manifest;                //  Decoded, borrows bytes
    uint8_t *state;                     //  Per chunk, fetch_state_t
    uint8_t *attempts;                  //  Per chunk, peers tried
    uint8_t *in_ring;                   //  Per chunk, 1 if in ring
    uint8_t *plain;                     //  Per chunk, 1: a delta of it failed, asked
                                        //  again with no have (whole)
    uint32_t *ring;                     //  chunk_count slots
    size_t ring_head, ring_count;
    size_t held;                        //  Chunks held
    uint64_t held_bytes;                //  Their unpacked bytes
    size_t stalled;                     //  Chunks in FETCH_STALLED
    uint64_t retry_at;                  //  When stalled chunks are asked again
    zlistx_t *bad;                      //  Peers asked no more (names)
    zhashx_t *index;                    //  Address -> chunk index + 1
    bool told;                          //  done told this run
    uint8_t owners;                     //  FETCH_OWN | FETCH_SITE: who wants it
    uint64_t site_seq;                  //  When the site took it (eviction order)
} fetch_release_t;

typedef struct {
    uint8_t address [32];               //  The key in flights
    fetch_release_t *release;
    size_t index;
    char peer [WEFT_NAME_MAX + 1];
    uint64_t deadline;
    uint32_t epoch;                     //  The peers' epoch it was asked in
    uint64_t metered;                   //  Bytes counted in metered_flight, 0 none
    void *handle;                       //  In order
} fetch_flight_t;

typedef struct {
    uint8_t address [32];               //  The key in waiting
    uint8_t manifest [32];
    uint64_t expires;                   //  Answered size 0 then
    void *handle;                       //  In waiters, oldest first
    void *urgent;                       //  In urgent while the chunk is queued, or NULL
    size_t count;
    char peers [FETCH_WAITERS_MAX][WEFT_NAME_MAX + 1];
} fetch_waiter_t;

typedef struct {
    fetch_release_t *release;
    size_t index;
    uint8_t *packed;
    size_t packed_size;
    size_t wire_size;                   //  Bytes it came in: packed, or its delta
    uint32_t size;
} fetch_staged_t;

typedef struct {
    size_t in_flight;                   //  Chunks asked of it, unanswered
    uint64_t next_ms;                   //  Rate limit: no ask before
    uint64_t quiet_until;               //  It let an ask time out: not asked before
} fetch_peer_t;

typedef struct {
    char name [WEFT_NAME_MAX + 1];
    int rank;
} fetch_candidate_t;

//  A metered uplink (fetch_link.c)
typedef struct {
    meter_t meter;
    uint64_t flight;                    //  Bytes in flight on it (bound)
    uint64_t held;                      //  Bytes of the chunk the meter holds, 0 none
    bool dirty;                         //  The day's count to store at the next burst
} fetch_meter_t;

struct _fetch_t {
    char name [WEFT_NAME_MAX + 1];
    char tenant [WEFT_NAME_MAX + 1];
    char prefix [WEFT_NAME_MAX + 1];
    store_t *store;
    chunkstore_t *chunks;
    bool server;
    uint64_t timeout_ms;
    uint64_t rate;
    bool verbose;
    fetch_effects_t fx;
    zhashx_t *releases;                 //  Manifest hash -> fetch_release_t
    zhashx_t *flights;                  //  Address -> fetch_flight_t
    zlistx_t *order;                    //  Of fetch_flight_t, oldest ask first
    zhashx_t *waiting;                  //  Address -> fetch_waiter_t
    zlistx_t *waiters;                  //  The same, oldest first (borrowed)
    zlistx_t *urgent;                   //  Those whose chunk is still queued (borrowed)
    zlistx_t *staged;                   //  Of fetch_staged_t
    zhashx_t *peers;                    //  Name -> fetch_peer_t
    uint8_t (*touch) [32];              //  Served, to mark used (made at the
                                        //  first serve: most nodes never serve)
    size_t touch_count;
    //  FETCH_CANDIDATES_MAX each, made at the first pump with a release
    //  (4.6 KB most nodes never use: weft-sim hosts 100,000 of them)
    fetch_candidate_t *candidates;
    size_t candidate_count;
    fetch_candidate_t *previous;        //  The last pump's
    size_t previous_count;
    uint64_t site_seq;                  //  Site releases taken this run
    uint32_t epoch;                     //  Grows each time a peer comes
    uint64_t wake_ms;                   //  A rate-limited ask is due, 0 none
    bool uplink;                        //  The coordinator link was a candidate last pump
    bool paused;                        //  Pinned chunks pass the budget
    fetch_meter_t *meter;               //  The uplink's metering, NULL: never set (most
                                        //  nodes; weft-sim hosts 100,000)
    fetch_stats_t stats;
};

#define fetch_debug(self, ...) \
    do { if ((self)->verbose) zsys_debug (__VA_ARGS__); } while (0)

//  --------------------------------------------------------------------------
//  Releases (fetch.c)

//  The first 16 hex digits of a hash, for logs
void
    fetch_hex (const uint8_t *hash, char out [17]);

//  Queue a chunk index at the end of the release's ring (once)
void
    fetch_ring_push (fetch_release_t *release, size_t index);

//  Take the index at the front of the ring (ring_count > 0)
size_t
    fetch_ring_pop (fetch_release_t *release);

//  Put back at the front the index fetch_ring_pop just took
void
    fetch_ring_unpop (fetch_release_t *release, size_t index);

//  The chunk is in the chunkstore: count it held
void
    fetch_mark_held (fetch_release_t *release, size_t index);

//  Every chunk not held nor in flight is asked again from the first
//  peer (stalled ones at once)
void
    fetch_retry (fetch_release_t *release);

//  The chunk's index in the release, or -1 if it is not one of its chunks
ssize_t
    fetch_index_of (fetch_release_t *release, const uint8_t address [32]);

//  --------------------------------------------------------------------------
//  Asking (fetch_ask.c)

//  The state of a peer we ask, made at its first ask
fetch_peer_t *
    fetch_peer (fetch_t *self, const char *name);

//  An ask made in epoch failed (size 0, a bad chunk, no answer, not
//  sent): the next peer is asked for it, or the first if a peer came
//  since (the order it was asked in is gone)
void
    fetch_failed (fetch_t *self, fetch_release_t *release, size_t index, uint32_t epoch);

//  An ask answered or given up: forget it
void
    fetch_flight_end (fetch_t *self, fetch_flight_t *flight);

//  --------------------------------------------------------------------------
//  The metered uplink (fetch_link.c)

//  The day's count of a metered uplink into the burst's transaction
int
    fetch_meter_save (fetch_t *self, store_txn_t *txn);

//  The most bytes a chunk of size may take on the wire (zlib may grow
//  what does not compress)
#define fetch_wire_bound(size)  ((uint64_t) (size) + (size) / 256 + 64)

//  Ask for what is missing, as far as windows and rates allow: first
//  the chunks peers wait for, then each release's ring in order
void
    fetch_pump (fetch_t *self, uint64_t now_ms);

//  A peer's CHUNK_DATA: kept for the next flush if we asked it of that
//  peer and it verifies
void
    fetch_on_data (fetch_t *self, const char *peer, const updmsg_t *msg, uint64_t now_ms);

//  --------------------------------------------------------------------------
//  Serving (fetch_serve.c)

//  A peer's CHUNK_WANT: each address answered, or its peer made to wait
void
    fetch_on_want (fetch_t *self, const char *peer, const char *tenant, const updmsg_t *msg,
                   uint64_t now_ms);

//  Answer and forget the peers waiting for address: with the chunk, or
//  size 0 (packed NULL)
void
    fetch_answer_waiters (fetch_t *self, const uint8_t address [32], const uint8_t *packed,
                          size_t packed_size, uint32_t size);

//  A chunk peers wait for turned out to be held already: they get it
void
    fetch_answer_held (fetch_t *self, store_txn_t *txn, fetch_release_t *release,
                       size_t index);

#endif
