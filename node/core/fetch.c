/*  fetch - the chunk exchange of a node (see fetch.h)
    Each wanted release keeps, per chunk of its manifest, a state and
    the number of peers tried, and a ring of the chunk indexes still to
    ask in order: every chunk is in the ring at most once (in_ring), so
    a pump pops, looks at the state, and skips what is no longer queued.
    Chunks in flight are in one hash by address (binary keys) and in one
    list in the order they were asked, so the oldest ask is the first to
    time out and the deadline is the list's head. Chunks peers wait for
    (merged asks) are in a hash by address, and the ones still queued
    are asked first (urgent).  */

#include "proto/corelib.h"
#include "proto/chunker.h"
#include "proto/manifest.h"
#include "proto/updmsg.h"
#include "node/core/fetch.h"

#define S_CANDIDATES_MAX    32          //  Peers considered in one pump
#define S_TOUCH_MAX         256         //  Served chunks marked used per burst
#define S_KEY_MAX           (WEFT_NAME_MAX + 1 + 32)

typedef enum {
    S_HELD = 0,                         //  In the chunkstore
    S_QUEUED = 1,                       //  To ask
    S_FLIGHT = 2,                       //  Asked, not answered
    S_STAGED = 3,                       //  Verified, stored at the next flush
    S_STALLED = 4                       //  Every peer failed: waits for retry_at
} s_state_t;

typedef struct {
    uint8_t hash [32];                  //  Of the manifest
    uint8_t *bytes;                     //  The manifest (owned)
    size_t size;
    manifest_t manifest;                //  Decoded, borrows bytes
    uint8_t *state;                     //  Per chunk, s_state_t
    uint8_t *attempts;                  //  Per chunk, peers tried
    uint8_t *in_ring;                   //  Per chunk, 1 if in ring
    uint32_t *ring;                     //  chunk_count slots
    size_t ring_head, ring_count;
    size_t held;                        //  Chunks held
    uint64_t held_bytes;                //  Their unpacked bytes
    size_t stalled;                     //  Chunks in S_STALLED
    uint64_t retry_at;                  //  When stalled chunks are asked again
    zlistx_t *bad;                      //  Peers asked no more (names)
    zhashx_t *index;                    //  Address -> chunk index + 1
    bool told;                          //  done told this run
} s_release_t;

typedef struct {
    uint8_t address [32];               //  The key in flights
    s_release_t *release;
    size_t index;
    char peer [WEFT_NAME_MAX + 1];
    uint64_t deadline;
    void *handle;                       //  In order
} s_flight_t;

typedef struct {
    uint8_t address [32];               //  The key in waiting
    uint8_t manifest [32];
    uint64_t expires;                   //  Answered size 0 then
    void *handle;                       //  In waiters, oldest first
    void *urgent;                       //  In urgent while the chunk is queued, or NULL
    size_t count;
    char peers [FETCH_WAITERS_MAX][WEFT_NAME_MAX + 1];
} s_waiter_t;

typedef struct {
    s_release_t *release;
    size_t index;
    uint8_t *packed;
    size_t packed_size;
    uint32_t size;
} s_staged_t;

typedef struct {
    size_t in_flight;                   //  Chunks asked of it, unanswered
    uint64_t next_ms;                   //  Rate limit: no ask before
    uint64_t quiet_until;               //  It let an ask time out: not asked before
} s_peer_t;

typedef struct {
    char name [WEFT_NAME_MAX + 1];
    int rank;
} s_candidate_t;

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
    zhashx_t *releases;                 //  Manifest hash -> s_release_t
    zhashx_t *flights;                  //  Address -> s_flight_t
    zlistx_t *order;                    //  Of s_flight_t, oldest ask first
    zhashx_t *waiting;                  //  Address -> s_waiter_t
    zlistx_t *waiters;                  //  The same, oldest first (borrowed)
    zlistx_t *urgent;                   //  Those whose chunk is still queued (borrowed)
    zlistx_t *staged;                   //  Of s_staged_t
    zhashx_t *peers;                    //  Name -> s_peer_t
    uint8_t touch [S_TOUCH_MAX][32];    //  Served, to mark used
    size_t touch_count;
    s_candidate_t candidates [S_CANDIDATES_MAX];
    size_t candidate_count;
    uint64_t wake_ms;                   //  A rate-limited ask is due, 0 none
    bool uplink;                        //  The coordinator link was a candidate last pump
    bool paused;                        //  Pinned chunks pass the budget
    uint8_t scratch [CHUNKER_MAX];      //  An unpacked chunk
    fetch_stats_t stats;
};

#define fetch_debug(self, ...) \
    do { if ((self)->verbose) zsys_debug (__VA_ARGS__); } while (0)

//  --------------------------------------------------------------------------
//  Hashes keyed by 32 binary bytes the item holds

static size_t
s_key_hash (const void *key)
{
    size_t hash;
    memcpy (&hash, key, sizeof hash);
    return hash;
}

static int
s_key_compare (const void *a, const void *b)
{
    return memcmp (a, b, 32);
}

static zhashx_t *
s_hash_new (void)
{
    zhashx_t *hash = zhashx_new ();
    zhashx_set_key_hasher (hash, s_key_hash);
    zhashx_set_key_comparator (hash, s_key_compare);
    zhashx_set_key_duplicator (hash, NULL);
    zhashx_set_key_destructor (hash, NULL);
    return hash;
}

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static void
s_hex (const uint8_t *hash, char out [17])
{
    for (int i = 0; i < 8; i++)
        snprintf (out + 2 * i, 3, "%02x", hash [i]);
}

//  --------------------------------------------------------------------------
//  Releases

static size_t
s_key (fetch_t *self, const uint8_t hash [32], uint8_t key [S_KEY_MAX])
{
    size_t prefix = strlen (self->prefix);
    memcpy (key, self->prefix, prefix);
    key [prefix] = 'w';
    memcpy (key + prefix + 1, hash, 32);
    return prefix + 1 + 32;
}

static void
s_ring_push (s_release_t *release, size_t index)
{
    if (release->in_ring [index])
        return;
    size_t count = release->manifest.chunk_count;
    release->ring [(release->ring_head + release->ring_count) % count] = (uint32_t) index;
    release->ring_count++;
    release->in_ring [index] = 1;
}

static size_t
s_ring_pop (s_release_t *release)
{
    size_t index = release->ring [release->ring_head];
    release->ring_head = (release->ring_head + 1) % release->manifest.chunk_count;
    release->ring_count--;
    release->in_ring [index] = 0;
    return index;
}

//  Put back at the front the index s_ring_pop just took
static void
s_ring_unpop (s_release_t *release, size_t index)
{
    size_t count = release->manifest.chunk_count;
    release->ring_head = (release->ring_head + count - 1) % count;
    release->ring [release->ring_head] = (uint32_t) index;
    release->ring_count++;
    release->in_ring [index] = 1;
}

static void
s_release_destroy (s_release_t **release_p)
{
    s_release_t *release = *release_p;
    if (release) {
        zhashx_destroy (&release->index);
        zlistx_destroy (&release->bad);
        free (release->state);
        free (release->attempts);
        free (release->in_ring);
        free (release->ring);
        free (release->bytes);
        free (release);
        *release_p = NULL;
    }
}

//  A release from its manifest bytes (taken), its held chunks read in
//  txn. NULL if the manifest does not decode or has no chunk.
static s_release_t *
s_release_new (const uint8_t hash [32], uint8_t *bytes, size_t size, chunkstore_t *chunks,
               store_txn_t *txn)
{
    s_release_t *release = (s_release_t *) zmalloc (sizeof (s_release_t));
    memcpy (release->hash, hash, 32);
    release->bytes = bytes;
    release->size = size;
    if (manifest_decode (&release->manifest, bytes, size) || release->manifest.chunk_count == 0) {
        s_release_destroy (&release);
        return NULL;
    }
    size_t count = release->manifest.chunk_count;
    release->state = (uint8_t *) zmalloc (count);
    release->attempts = (uint8_t *) zmalloc (count);
    release->in_ring = (uint8_t *) zmalloc (count);
    release->ring = (uint32_t *) zmalloc (count * sizeof (uint32_t));
    release->bad = zlistx_new ();
    zlistx_set_destructor (release->bad, s_free_item);
    release->index = s_hash_new ();
    for (size_t i = 0; i < count; i++) {
        const uint8_t *address;
        uint32_t chunk_size;
        manifest_chunk (&release->manifest, i, &address, &chunk_size);
        //  A chunk twice in one manifest is fetched once, under its first index
        if (!zhashx_lookup (release->index, address))
            zhashx_insert (release->index, address, (void *) (uintptr_t) (i + 1));
        if (chunkstore_has (chunks, txn, address)) {
            release->state [i] = S_HELD;
            release->held++;
            release->held_bytes += chunk_size;
        }
        else {
            release->state [i] = S_QUEUED;
            s_ring_push (release, i);
        }
    }
    return release;
}

static void
s_mark_held (s_release_t *release, size_t index)
{
    if (release->state [index] == S_HELD)
        return;
    if (release->state [index] == S_STALLED)
        release->stalled--;
    const uint8_t *address;
    uint32_t chunk_size;
    manifest_chunk (&release->manifest, index, &address, &chunk_size);
    release->state [index] = S_HELD;
    release->held++;
    release->held_bytes += chunk_size;
}

//  The chunk's index in the release, or -1 if it is not one of its chunks
static ssize_t
s_index_of (s_release_t *release, const uint8_t address [32])
{
    uintptr_t index = (uintptr_t) zhashx_lookup (release->index, address);
    return index? (ssize_t) index - 1: -1;
}

//  --------------------------------------------------------------------------
//  Sending

static void
s_send_data (fetch_t *self, const char *peer, const uint8_t manifest [32],
             const uint8_t address [32], const uint8_t *packed, size_t packed_size,
             uint32_t size)
{
    updmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_CHUNK_DATA;
    memcpy (msg.manifest, manifest, 32);
    memcpy (msg.address, address, 32);
    msg.size = packed? size: 0;
    msg.packed = packed;
    msg.packed_size = packed? packed_size: 0;
    uint8_t *payload;
    size_t payload_size;
    if (updmsg_encode (&msg, &payload, &payload_size))
        return;
    if (self->fx.send (self->fx.ctx, peer, MSG_CHUNK_DATA, payload, payload_size) == 0) {
        if (packed) {
            self->stats.served++;
            self->stats.served_bytes += packed_size;
        }
        else
            self->stats.refused++;
    }
    free (payload);
}

static int
s_send_want (fetch_t *self, const char *peer, const uint8_t manifest [32],
             const uint8_t *addresses, size_t count)
{
    updmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_CHUNK_WANT;
    memcpy (msg.manifest, manifest, 32);
    msg.addresses = addresses;
    msg.address_count = count;
    uint8_t *payload;
    size_t payload_size;
    int rc = updmsg_encode (&msg, &payload, &payload_size);
    if (rc == 0)
        rc = self->fx.send (self->fx.ctx, peer, MSG_CHUNK_WANT, payload, payload_size);
    free (payload);
    return rc? -1: 0;
}

//  Answer and forget the peers waiting for address: with the chunk, or
//  size 0 (packed NULL)
static void
s_answer_waiters (fetch_t *self, const uint8_t address [32], const uint8_t *packed,
                  size_t packed_size, uint32_t size)
{
    s_waiter_t *waiter = (s_waiter_t *) zhashx_lookup (self->waiting, address);
    if (!waiter)
        return;
    for (size_t i = 0; i < waiter->count; i++)
        s_send_data (self, waiter->peers [i], waiter->manifest, address, packed, packed_size,
                     size);
    if (packed)
        self->stats.merged += waiter->count;
    if (waiter->urgent)
        zlistx_delete (self->urgent, waiter->urgent);
    zlistx_delete (self->waiters, waiter->handle);
    zhashx_delete (self->waiting, address);
    free (waiter);
}

//  A chunk peers wait for turned out to be held already: they get it
static void
s_answer_held (fetch_t *self, store_txn_t *txn, s_release_t *release, size_t index)
{
    const uint8_t *address;
    uint32_t chunk_size;
    manifest_chunk (&release->manifest, index, &address, &chunk_size);
    size_t packed_size = 0;
    uint8_t *packed = chunkstore_get (self->chunks, txn, address, &packed_size, &chunk_size);
    s_answer_waiters (self, address, packed, packed_size, chunk_size);
    free (packed);
}

//  --------------------------------------------------------------------------
//  Asking

static s_peer_t *
s_peer (fetch_t *self, const char *name)
{
    s_peer_t *peer = (s_peer_t *) zhashx_lookup (self->peers, name);
    if (!peer) {
        peer = (s_peer_t *) zmalloc (sizeof (s_peer_t));
        zhashx_insert (self->peers, name, peer);
    }
    return peer;
}

//  An ask that failed (size 0, a bad chunk, no answer, not sent): the
//  next peer is asked for it
static void
s_failed (fetch_t *self, s_release_t *release, size_t index)
{
    (void) self;
    if (release->attempts [index] < UINT8_MAX)
        release->attempts [index]++;
    release->state [index] = S_QUEUED;
    s_ring_push (release, index);
}

static void
s_flight_end (fetch_t *self, s_flight_t *flight)
{
    s_peer_t *peer = (s_peer_t *) zhashx_lookup (self->peers, flight->peer);
    if (peer && peer->in_flight)
        peer->in_flight--;
    zlistx_delete (self->order, flight->handle);
    zhashx_delete (self->flights, flight->address);
    free (flight);
}

static void
s_candidate (void *arg, const char *name, int kind)
{
    fetch_t *self = (fetch_t *) arg;
    if (self->candidate_count == S_CANDIDATES_MAX || strlen (name) > WEFT_NAME_MAX)
        return;
    //  A site server asks its upstream first; a gateway its site server
    int rank = kind == FETCH_PEER_COORDINATOR? (self->server? 0: 2)
             : kind == FETCH_PEER_SERVER? (self->server? 1: 0): (self->server? 2: 1);
    if (kind == FETCH_PEER_COORDINATOR)
        self->uplink = true;
    s_candidate_t *candidate = &self->candidates [self->candidate_count++];
    snprintf (candidate->name, sizeof candidate->name, "%s", name);
    candidate->rank = rank;
}

static int
s_candidate_order (const void *a, const void *b)
{
    const s_candidate_t *x = (const s_candidate_t *) a, *y = (const s_candidate_t *) b;
    return x->rank != y->rank? x->rank - y->rank: strcmp (x->name, y->name);
}

static bool
s_is_bad (s_release_t *release, const char *name)
{
    for (const char *bad = (const char *) zlistx_first (release->bad); bad;
         bad = (const char *) zlistx_next (release->bad))
        if (streq (bad, name))
            return true;
    return false;
}

//  The peer a chunk is asked of after attempts failures, or NULL
static const char *
s_pick (fetch_t *self, s_release_t *release, size_t attempts, uint64_t now_ms)
{
    for (size_t i = 0; i < self->candidate_count; i++) {
        const char *name = self->candidates [i].name;
        if (zlistx_size (release->bad) && s_is_bad (release, name))
            continue;
        s_peer_t *peer = (s_peer_t *) zhashx_lookup (self->peers, name);
        if (peer && peer->quiet_until > now_ms)
            continue;
        if (attempts-- == 0)
            return name;
    }
    return NULL;
}

//  Every peer failed for this chunk: it waits for the release's retry,
//  and peers waiting for it hear size 0 now
static void
s_stall (fetch_t *self, s_release_t *release, size_t index, uint64_t now_ms)
{
    const uint8_t *address;
    uint32_t chunk_size;
    manifest_chunk (&release->manifest, index, &address, &chunk_size);
    release->state [index] = S_STALLED;
    if (release->stalled++ == 0)
        release->retry_at = now_ms + FETCH_RETRY_MS;
    s_answer_waiters (self, address, NULL, 0, 0);
}

//  The outcome of trying to ask one chunk
typedef enum { S_ASKED, S_SKIPPED, S_BLOCKED } s_ask_t;

//  Ask one queued chunk of its next peer, adding it to that peer's
//  batch. S_BLOCKED: that peer has no room now (its window, its rate).
static s_ask_t
s_ask (fetch_t *self, s_release_t *release, size_t index, store_txn_t *txn,
       const char **peer_p, uint64_t now_ms)
{
    const uint8_t *address;
    uint32_t chunk_size;
    manifest_chunk (&release->manifest, index, &address, &chunk_size);
    if (chunkstore_has (self->chunks, txn, address)) {
        //  Came in another release, or twice in this one
        s_mark_held (release, index);
        return S_SKIPPED;
    }
    if (zhashx_lookup (self->flights, address)) {
        //  In flight for another release: looked at again later
        s_ring_push (release, index);
        return S_SKIPPED;
    }
    const char *name = s_pick (self, release, release->attempts [index], now_ms);
    if (!name) {
        s_stall (self, release, index, now_ms);
        return S_SKIPPED;
    }
    s_peer_t *peer = s_peer (self, name);
    if (peer->in_flight >= FETCH_WINDOW)
        return S_BLOCKED;
    if (self->rate && peer->next_ms > now_ms) {
        if (self->wake_ms == 0 || peer->next_ms < self->wake_ms)
            self->wake_ms = peer->next_ms;
        return S_BLOCKED;
    }
    if (self->rate)
        peer->next_ms = (peer->next_ms > now_ms? peer->next_ms: now_ms)
                      + (uint64_t) chunk_size * 1000 / self->rate;
    s_flight_t *flight = (s_flight_t *) zmalloc (sizeof (s_flight_t));
    memcpy (flight->address, address, 32);
    flight->release = release;
    flight->index = index;
    snprintf (flight->peer, sizeof flight->peer, "%s", name);
    flight->deadline = now_ms + self->timeout_ms;
    flight->handle = zlistx_add_end (self->order, flight);
    zhashx_insert (self->flights, flight->address, flight);
    peer->in_flight++;
    release->state [index] = S_FLIGHT;
    self->stats.asked++;
    *peer_p = flight->peer;
    return S_ASKED;
}

//  The asks of one pump for one release, one CHUNK_WANT per peer
typedef struct {
    char peer [WEFT_NAME_MAX + 1];
    uint8_t addresses [FETCH_WINDOW * 32];
    size_t indexes [FETCH_WINDOW];
    size_t count;
} s_batch_t;

static void
s_batch_add (s_batch_t *batches, size_t *batch_count, const char *peer,
             s_release_t *release, size_t index)
{
    s_batch_t *batch = NULL;
    for (size_t i = 0; i < *batch_count && !batch; i++)
        if (streq (batches [i].peer, peer))
            batch = &batches [i];
    if (!batch) {
        assert (*batch_count < S_CANDIDATES_MAX);
        batch = &batches [(*batch_count)++];
        snprintf (batch->peer, sizeof batch->peer, "%s", peer);
        batch->count = 0;
    }
    assert (batch->count < FETCH_WINDOW);
    const uint8_t *address;
    uint32_t chunk_size;
    manifest_chunk (&release->manifest, index, &address, &chunk_size);
    memcpy (batch->addresses + 32 * batch->count, address, 32);
    batch->indexes [batch->count++] = index;
}

static void
s_batches_send (fetch_t *self, s_release_t *release, s_batch_t *batches, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        s_batch_t *batch = &batches [i];
        if (s_send_want (self, batch->peer, release->hash, batch->addresses, batch->count)
            == 0)
            continue;
        //  Not queued (the link just went): the next peer, at once
        for (size_t j = 0; j < batch->count; j++) {
            s_flight_t *flight = (s_flight_t *) zhashx_lookup (self->flights,
                                                               batch->addresses + 32 * j);
            if (flight)
                s_flight_end (self, flight);
            s_failed (self, release, batch->indexes [j]);
        }
    }
}

//  Ask for what is missing, as far as windows and rates allow: first
//  the chunks peers wait for, then each release's ring in order
static void
s_pump (fetch_t *self, uint64_t now_ms)
{
    if (self->paused || zhashx_size (self->releases) == 0)
        return;
    self->candidate_count = 0;
    self->uplink = false;
    self->fx.peers (self->fx.ctx, s_candidate, self);
    if (self->candidate_count == 0)
        return;
    qsort (self->candidates, self->candidate_count, sizeof (s_candidate_t), s_candidate_order);
    self->wake_ms = 0;
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return;
    s_batch_t batches [S_CANDIDATES_MAX];
    size_t visited = 0;
    //  Chunks peers wait for, while they are queued
    s_waiter_t *waiter = (s_waiter_t *) zlistx_first (self->urgent);
    while (waiter && visited < FETCH_PUMP_MAX) {
        visited++;
        s_release_t *release = (s_release_t *) zhashx_lookup (self->releases, waiter->manifest);
        ssize_t index = release? s_index_of (release, waiter->address): -1;
        if (index < 0 || release->state [index] != S_QUEUED) {
            zlistx_delete (self->urgent, waiter->urgent);
            waiter->urgent = NULL;
            waiter = (s_waiter_t *) zlistx_first (self->urgent);
            continue;
        }
        const char *peer;
        size_t batch_count = 0;
        s_ask_t ask = s_ask (self, release, (size_t) index, txn, &peer, now_ms);
        if (ask == S_BLOCKED)
            break;
        zlistx_delete (self->urgent, waiter->urgent);
        waiter->urgent = NULL;
        if (ask == S_SKIPPED && release->state [index] == S_HELD)
            s_answer_held (self, txn, release, (size_t) index);
        if (ask == S_ASKED) {
            s_batch_add (batches, &batch_count, peer, release, (size_t) index);
            s_batches_send (self, release, batches, batch_count);
        }
        waiter = (s_waiter_t *) zlistx_first (self->urgent);
    }
    for (s_release_t *release = (s_release_t *) zhashx_first (self->releases); release;
         release = (s_release_t *) zhashx_next (self->releases)) {
        size_t batch_count = 0;
        size_t round = release->ring_count;
        while (release->ring_count && round-- && visited < FETCH_PUMP_MAX) {
            visited++;
            size_t index = release->ring [release->ring_head];
            if (release->state [index] != S_QUEUED) {
                s_ring_pop (release);
                continue;
            }
            const char *peer;
            s_ring_pop (release);
            s_ask_t ask = s_ask (self, release, index, txn, &peer, now_ms);
            if (ask == S_BLOCKED) {
                //  Its peer is busy, and most chunks behind it go to the
                //  same peer: the release waits for an answer
                s_ring_unpop (release, index);
                break;
            }
            if (ask == S_ASKED)
                s_batch_add (batches, &batch_count, peer, release, index);
        }
        s_batches_send (self, release, batches, batch_count);
    }
    store_abort (&txn);
}

//  --------------------------------------------------------------------------
//  Receiving

static void
s_on_want (fetch_t *self, const char *peer, const char *tenant, const updmsg_t *msg,
           uint64_t now_ms)
{
    s_release_t *release = (s_release_t *) zhashx_lookup (self->releases, msg->manifest);
    bool known = release && (streq (peer, FETCH_COORDINATOR) || streq (tenant, self->tenant));
    store_txn_t *txn = known? store_begin (self->store, false): NULL;
    for (size_t i = 0; i < msg->address_count; i++) {
        const uint8_t *address = msg->addresses + 32 * i;
        ssize_t index = txn? s_index_of (release, address): -1;
        size_t packed_size = 0;
        uint32_t chunk_size = 0;
        uint8_t *packed = index >= 0? chunkstore_get (self->chunks, txn, address, &packed_size,
                                                      &chunk_size): NULL;
        if (packed) {
            s_send_data (self, peer, msg->manifest, address, packed, packed_size, chunk_size);
            if (self->touch_count < S_TOUCH_MAX)
                memcpy (self->touch [self->touch_count++], address, 32);
            free (packed);
            continue;
        }
        //  Not held: if we are fetching it ourselves and have an uplink
        //  (a site server), the peer waits for it. Only a node with an
        //  uplink makes peers wait, so waits lead up to the coordinator,
        //  which waits for no one, and never go round in a circle.
        int state = index >= 0? release->state [index]: S_HELD;
        s_waiter_t *waiter = index >= 0? (s_waiter_t *) zhashx_lookup (self->waiting, address)
                                       : NULL;
        bool coming = !self->paused && self->uplink
                   && (state == S_QUEUED || state == S_FLIGHT || state == S_STAGED);
        if (coming && !waiter && zhashx_size (self->waiting) < FETCH_WAITING_MAX) {
            waiter = (s_waiter_t *) zmalloc (sizeof (s_waiter_t));
            memcpy (waiter->address, address, 32);
            memcpy (waiter->manifest, msg->manifest, 32);
            waiter->expires = now_ms + self->timeout_ms;
            zhashx_insert (self->waiting, waiter->address, waiter);
            waiter->handle = zlistx_add_end (self->waiters, waiter);
            if (state == S_QUEUED)
                waiter->urgent = zlistx_add_end (self->urgent, waiter);
        }
        bool waits = false;
        for (size_t j = 0; coming && waiter && j < waiter->count; j++)
            if (streq (waiter->peers [j], peer))
                waits = true;           //  Asked again: it waits once
        if (coming && waiter && !waits && waiter->count < FETCH_WAITERS_MAX) {
            snprintf (waiter->peers [waiter->count++], WEFT_NAME_MAX + 1, "%s", peer);
            waits = true;
        }
        if (!waits)
            s_send_data (self, peer, msg->manifest, address, NULL, 0, 0);
    }
    store_abort (&txn);
}

static void
s_on_data (fetch_t *self, const char *peer, const updmsg_t *msg)
{
    s_flight_t *flight = (s_flight_t *) zhashx_lookup (self->flights, msg->address);
    if (!flight || !streq (flight->peer, peer)
    ||  memcmp (flight->release->hash, msg->manifest, 32) != 0) {
        self->stats.unasked++;
        fetch_debug (self, "fetch: %s: CHUNK_DATA from %s not asked for, dropped", self->name,
                     peer);
        return;
    }
    s_release_t *release = flight->release;
    size_t index = flight->index;
    s_flight_end (self, flight);
    s_peer (self, peer)->quiet_until = 0;
    if (msg->size == 0) {
        self->stats.not_held++;
        s_failed (self, release, index);
        return;
    }
    const uint8_t *address;
    uint32_t chunk_size;
    manifest_chunk (&release->manifest, index, &address, &chunk_size);
    if (msg->size != chunk_size
    ||  chunker_unpack (msg->packed, msg->packed_size, address, self->scratch, chunk_size)) {
        self->stats.bad++;
        char hex [17];
        s_hex (release->hash, hex);
        zsys_warning ("fetch: %s: a bad chunk from %s (not the manifest's size or address): "
                      "%s is asked no more for release %s", self->name, peer, peer, hex);
        if (!s_is_bad (release, peer) && zlistx_size (release->bad) < S_CANDIDATES_MAX)
            zlistx_add_end (release->bad, strdup (peer));
        s_failed (self, release, index);
        return;
    }
    s_staged_t *staged = (s_staged_t *) zmalloc (sizeof (s_staged_t));
    staged->release = release;
    staged->index = index;
    staged->packed = (uint8_t *) zmalloc (msg->packed_size);
    memcpy (staged->packed, msg->packed, msg->packed_size);
    staged->packed_size = msg->packed_size;
    staged->size = chunk_size;
    zlistx_add_end (self->staged, staged);
    release->state [index] = S_STAGED;
}

bool
fetch_on_message (fetch_t *self, const char *peer, const char *tenant, int type,
                  const uint8_t *payload, size_t size, uint64_t now_ms)
{
    assert (self && peer && tenant);
    if (type != MSG_CHUNK_WANT && type != MSG_CHUNK_DATA)
        return false;
    updmsg_t msg;
    if (updmsg_decode (&msg, type, payload, size)) {
        self->stats.malformed++;
        zsys_warning ("fetch: %s: malformed %s from %s dropped", self->name,
                      proto_msg_name (type), peer);
        return true;
    }
    if (type == MSG_CHUNK_WANT)
        s_on_want (self, peer, tenant, &msg, now_ms);
    else
        s_on_data (self, peer, &msg);
    return true;
}

//  --------------------------------------------------------------------------
//  Create and destroy

fetch_t *
fetch_new (const fetch_config_t *config, const fetch_effects_t *effects)
{
    assert (config && effects);
    if (!config->store || !config->chunks || !effects->send || !effects->peers)
        return NULL;
    fetch_t *self = (fetch_t *) zmalloc (sizeof (fetch_t));
    snprintf (self->name, sizeof self->name, "%s", config->name? config->name: "");
    snprintf (self->tenant, sizeof self->tenant, "%s", config->tenant? config->tenant: "");
    snprintf (self->prefix, sizeof self->prefix, "%s", config->prefix? config->prefix: "");
    self->store = config->store;
    self->chunks = config->chunks;
    self->server = config->server;
    self->timeout_ms = config->timeout_ms? config->timeout_ms: FETCH_TIMEOUT_MS;
    self->rate = config->rate;
    self->verbose = config->verbose;
    self->fx = *effects;
    self->releases = s_hash_new ();
    self->flights = s_hash_new ();
    self->waiting = s_hash_new ();
    self->waiters = zlistx_new ();
    self->order = zlistx_new ();
    self->urgent = zlistx_new ();
    self->staged = zlistx_new ();
    self->peers = zhashx_new ();
    zhashx_set_destructor (self->peers, s_free_item);
    return self;
}

static void
s_staged_destroy (s_staged_t **staged_p)
{
    if (*staged_p) {
        free ((*staged_p)->packed);
        free (*staged_p);
        *staged_p = NULL;
    }
}

void
fetch_destroy (fetch_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        fetch_t *self = *self_p;
        s_staged_t *staged;
        while ((staged = (s_staged_t *) zlistx_detach (self->staged, NULL)))
            s_staged_destroy (&staged);
        zlistx_destroy (&self->staged);
        s_flight_t *flight;
        while ((flight = (s_flight_t *) zlistx_detach (self->order, NULL)))
            free (flight);
        zlistx_destroy (&self->order);
        zhashx_destroy (&self->flights);
        zlistx_destroy (&self->urgent);
        zlistx_destroy (&self->waiters);
        for (void *waiter = zhashx_first (self->waiting); waiter;
             waiter = zhashx_next (self->waiting))
            free (waiter);
        zhashx_destroy (&self->waiting);
        for (s_release_t *release = (s_release_t *) zhashx_first (self->releases); release;
             release = (s_release_t *) zhashx_next (self->releases))
            s_release_destroy (&release);
        zhashx_destroy (&self->releases);
        zhashx_destroy (&self->peers);
        free (self);
        *self_p = NULL;
    }
}

//  Collects the stored releases (fetch_start)
static int
s_collect (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    zlistx_t *found = (zlistx_t *) arg;
    (void) key_size;
    zchunk_t *item = zchunk_new (NULL, 32 + size);
    zchunk_append (item, (const uint8_t *) key + key_size - 32, 32);
    zchunk_append (item, value, size);
    zlistx_add_end (found, item);
    return 0;
}

int
fetch_start (fetch_t *self, uint64_t now_ms)
{
    assert (self);
    (void) now_ms;
    uint8_t key [S_KEY_MAX], none [32] = { 0 };
    size_t key_size = s_key (self, none, key) - 32;
    zlistx_t *found = zlistx_new ();
    store_txn_t *txn = store_begin (self->store, false);
    int rc = txn && store_scan (txn, FETCH_TABLE, key, key_size, s_collect, found) >= 0? 0: -1;
    zchunk_t *item;
    while ((item = (zchunk_t *) zlistx_detach (found, NULL))) {
        size_t size = zchunk_size (item) - 32;
        if (rc == 0 && size > 0 && zhashx_size (self->releases) < FETCH_RELEASES_MAX) {
            uint8_t *bytes = (uint8_t *) zmalloc (size);
            memcpy (bytes, zchunk_data (item) + 32, size);
            s_release_t *release = s_release_new (zchunk_data (item), bytes, size, self->chunks,
                                                  txn);
            if (release)
                zhashx_insert (self->releases, release->hash, release);
            else
                zsys_error ("fetch: %s: a stored manifest does not decode, ignored", self->name);
        }
        zchunk_destroy (&item);
    }
    zlistx_destroy (&found);
    store_abort (&txn);
    if (rc == 0 && zhashx_size (self->releases))
        zsys_info ("fetch: %s: %zu release(s) wanted, fetching resumes", self->name,
                   zhashx_size (self->releases));
    return rc;
}

//  --------------------------------------------------------------------------
//  Wanting and dropping

int
fetch_want (fetch_t *self, const uint8_t manifest_hash [32], const uint8_t *manifest,
            size_t manifest_size, uint64_t now_ms)
{
    assert (self && manifest_hash && manifest);
    (void) now_ms;
    if (zhashx_lookup (self->releases, manifest_hash))
        return 0;
    char hex [17];
    s_hex (manifest_hash, hex);
    uint8_t hash [32];
    chunker_hash (manifest, manifest_size, hash);
    if (memcmp (hash, manifest_hash, 32) != 0) {
        zsys_error ("fetch: %s: release %s: the manifest does not hash to its name", self->name,
                    hex);
        return -1;
    }
    if (zhashx_size (self->releases) >= FETCH_RELEASES_MAX) {
        zsys_error ("fetch: %s: release %s: %d releases wanted already", self->name, hex,
                    FETCH_RELEASES_MAX);
        return -1;
    }
    uint8_t *bytes = (uint8_t *) zmalloc (manifest_size);
    memcpy (bytes, manifest, manifest_size);
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn) {
        free (bytes);
        return -1;
    }
    s_release_t *release = s_release_new (manifest_hash, bytes, manifest_size, self->chunks, txn);
    uint8_t key [S_KEY_MAX];
    size_t key_size = s_key (self, manifest_hash, key);
    int rc = release? 0: -1;
    if (rc == 0)
        rc = store_put (txn, FETCH_TABLE, key, key_size, manifest, manifest_size);
    if (rc == 0)
        rc = chunkstore_pin (self->chunks, txn, manifest_hash, &release->manifest);
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    if (rc) {
        chunkstore_reload (self->chunks);
        zsys_error ("fetch: %s: release %s not wanted: %s", self->name, hex,
                    release? "store failed": "the manifest does not decode");
        s_release_destroy (&release);
        return -1;
    }
    zhashx_insert (self->releases, release->hash, release);
    zsys_info ("fetch: %s: release %s wanted: %zu of %zu chunks held", self->name, hex,
               release->held, release->manifest.chunk_count);
    return 0;
}

int
fetch_drop (fetch_t *self, const uint8_t manifest_hash [32])
{
    assert (self && manifest_hash);
    s_release_t *release = (s_release_t *) zhashx_lookup (self->releases, manifest_hash);
    if (!release)
        return 0;
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn)
        return -1;
    uint8_t key [S_KEY_MAX];
    size_t key_size = s_key (self, manifest_hash, key);
    int rc = store_del (txn, FETCH_TABLE, key, key_size) < 0? -1: 0;
    if (rc == 0)
        rc = chunkstore_unpin (self->chunks, txn, manifest_hash, &release->manifest);
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    if (rc) {
        chunkstore_reload (self->chunks);
        return -1;
    }
    //  What is in flight, staged or waited for in it goes
    s_flight_t *flight = (s_flight_t *) zlistx_first (self->order);
    while (flight) {
        s_flight_t *next = (s_flight_t *) zlistx_next (self->order);
        if (flight->release == release)
            s_flight_end (self, flight);
        flight = next;
    }
    s_staged_t *staged = (s_staged_t *) zlistx_first (self->staged);
    while (staged) {
        if (staged->release == release) {
            zlistx_detach_cur (self->staged);
            s_staged_destroy (&staged);
            staged = (s_staged_t *) zlistx_first (self->staged);
        }
        else
            staged = (s_staged_t *) zlistx_next (self->staged);
    }
    for (size_t i = 0; i < release->manifest.chunk_count; i++) {
        const uint8_t *address;
        uint32_t chunk_size;
        manifest_chunk (&release->manifest, i, &address, &chunk_size);
        s_waiter_t *waiter = (s_waiter_t *) zhashx_lookup (self->waiting, address);
        if (waiter && memcmp (waiter->manifest, manifest_hash, 32) == 0)
            s_answer_waiters (self, address, NULL, 0, 0);
    }
    zhashx_delete (self->releases, manifest_hash);
    s_release_destroy (&release);
    self->paused = false;           //  Its chunks may be evicted now
    return 0;
}

int
fetch_progress (fetch_t *self, const uint8_t manifest_hash [32], size_t *held_chunks_p,
                size_t *total_chunks_p, uint64_t *held_bytes_p, uint64_t *total_bytes_p)
{
    assert (self && manifest_hash);
    s_release_t *release = (s_release_t *) zhashx_lookup (self->releases, manifest_hash);
    if (!release)
        return -1;
    if (held_chunks_p)
        *held_chunks_p = release->held;
    if (total_chunks_p)
        *total_chunks_p = release->manifest.chunk_count;
    if (held_bytes_p)
        *held_bytes_p = release->held_bytes;
    if (total_bytes_p)
        *total_bytes_p = release->manifest.size;
    return 0;
}

//  --------------------------------------------------------------------------
//  Bursts and timers

//  Store what came in this burst, in one transaction, and mark the
//  served chunks used
static void
s_commit (fetch_t *self)
{
    if (zlistx_size (self->staged) == 0 && self->touch_count == 0)
        return;
    store_txn_t *txn = store_begin (self->store, true);
    int rc = txn? 0: -1;
    for (s_staged_t *staged = (s_staged_t *) zlistx_first (self->staged); staged && rc == 0;
         staged = (s_staged_t *) zlistx_next (self->staged)) {
        const uint8_t *address;
        uint32_t chunk_size;
        manifest_chunk (&staged->release->manifest, staged->index, &address, &chunk_size);
        rc = chunkstore_put (self->chunks, txn, address, staged->packed, staged->packed_size,
                             staged->size);
    }
    for (size_t i = 0; i < self->touch_count && rc == 0; i++)
        if (chunkstore_has (self->chunks, txn, self->touch [i]))
            rc = chunkstore_touch (self->chunks, txn, self->touch [i]);
    self->touch_count = 0;
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    if (rc)
        chunkstore_reload (self->chunks);
    s_staged_t *staged;
    while ((staged = (s_staged_t *) zlistx_detach (self->staged, NULL))) {
        const uint8_t *address;
        uint32_t chunk_size;
        manifest_chunk (&staged->release->manifest, staged->index, &address, &chunk_size);
        if (rc == 0) {
            s_mark_held (staged->release, staged->index);
            self->stats.received++;
            self->stats.received_bytes += staged->packed_size;
            s_answer_waiters (self, address, staged->packed, staged->packed_size, staged->size);
        }
        else
            //  Not stored: asked again (of the same peer)
            s_failed (self, staged->release, staged->index);
        s_staged_destroy (&staged);
    }
    if (rc)
        zsys_error ("fetch: %s: chunks not stored (store failed): asked again", self->name);
    if (rc == 0 && chunkstore_over (self->chunks) && !self->paused) {
        self->paused = true;
        zsys_error ("fetch: %s: the chunks of the releases wanted pass the chunk budget: "
                    "fetching paused (raise --chunk-budget)", self->name);
    }
}

void
fetch_flush (fetch_t *self, uint64_t now_ms)
{
    assert (self);
    s_commit (self);
    for (s_release_t *release = (s_release_t *) zhashx_first (self->releases); release;
         release = (s_release_t *) zhashx_next (self->releases))
        if (!release->told && release->held == release->manifest.chunk_count) {
            release->told = true;
            char hex [17];
            s_hex (release->hash, hex);
            zsys_info ("fetch: %s: release %s: every chunk held", self->name, hex);
            if (self->fx.done)
                self->fx.done (self->fx.ctx, release->hash);
        }
    s_pump (self, now_ms);
}

void
fetch_tick (fetch_t *self, uint64_t now_ms)
{
    assert (self);
    s_flight_t *flight;
    while ((flight = (s_flight_t *) zlistx_first (self->order)) && flight->deadline <= now_ms) {
        self->stats.timeouts++;
        fetch_debug (self, "fetch: %s: no answer from %s in time", self->name, flight->peer);
        s_release_t *release = flight->release;
        size_t index = flight->index;
        //  Silent (gone, or trickling): not asked again for a while
        s_peer (self, flight->peer)->quiet_until = now_ms + FETCH_RETRY_MS;
        s_flight_end (self, flight);
        s_failed (self, release, index);
    }
    //  Peers that waited as long as they would: size 0, they ask elsewhere
    s_waiter_t *waiter;
    while ((waiter = (s_waiter_t *) zlistx_first (self->waiters)) && waiter->expires <= now_ms) {
        self->stats.expired++;
        s_answer_waiters (self, waiter->address, NULL, 0, 0);
    }
    for (s_release_t *release = (s_release_t *) zhashx_first (self->releases); release;
         release = (s_release_t *) zhashx_next (self->releases))
        if (release->stalled && release->retry_at <= now_ms) {
            for (size_t i = 0; i < release->manifest.chunk_count; i++)
                if (release->state [i] == S_STALLED) {
                    release->state [i] = S_QUEUED;
                    release->attempts [i] = 0;
                    s_ring_push (release, i);
                }
            release->stalled = 0;
            zlistx_purge (release->bad);    //  Each peer gets another chance
        }
    fetch_flush (self, now_ms);
}

uint64_t
fetch_deadline (fetch_t *self)
{
    assert (self);
    uint64_t next = self->wake_ms;
    s_flight_t *flight = (s_flight_t *) zlistx_first (self->order);
    if (flight && (next == 0 || flight->deadline < next))
        next = flight->deadline;
    s_waiter_t *waiter = (s_waiter_t *) zlistx_first (self->waiters);
    if (waiter && (next == 0 || waiter->expires < next))
        next = waiter->expires;
    for (s_release_t *release = (s_release_t *) zhashx_first (self->releases); release;
         release = (s_release_t *) zhashx_next (self->releases))
        if (release->stalled && (next == 0 || release->retry_at < next))
            next = release->retry_at;
    return next;
}

chunkstore_t *
fetch_chunks (fetch_t *self)
{
    assert (self);
    return self->chunks;
}

bool
fetch_paused (fetch_t *self)
{
    assert (self);
    return self->paused;
}

const fetch_stats_t *
fetch_stats (fetch_t *self)
{
    assert (self);
    return &self->stats;
}
