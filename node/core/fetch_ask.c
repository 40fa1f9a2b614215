/*  fetch_ask - asking peers for chunks and taking their answers (see
    fetch.h: whom a node asks, in what order, and what it does when a
    peer answers size 0, nothing, or bytes that are not the chunk)  */

#include "node/core/fetch_internal.h"

//  --------------------------------------------------------------------------
//  Asking

//  The releases other than asked that this node holds in full, as a
//  CHUNK_WANT's have (the coordinator may send deltas against their
//  chunks): at most UPDMSG_HAVE_MAX, those of the asked release's name
//  first (its earlier versions, what its deltas are made against).
//  Their count.
static size_t
s_have (fetch_t *self, const uint8_t asked [32], uint8_t have [UPDMSG_HAVE_MAX * 32])
{
    fetch_release_t *wanted = (fetch_release_t *) zhashx_lookup (self->releases, asked);
    size_t count = 0;
    for (int pass = 0; pass < 2; pass++)
        for (fetch_release_t *release = (fetch_release_t *) zhashx_first (self->releases);
             release && count < UPDMSG_HAVE_MAX;
             release = (fetch_release_t *) zhashx_next (self->releases)) {
            bool same = wanted && streq (release->manifest.name, wanted->manifest.name);
            if (same == (pass == 0)
            &&  release->held == release->manifest.chunk_count
            &&  memcmp (release->hash, asked, 32) != 0)
                memcpy (have + 32 * count++, release->hash, 32);
        }
    return count;
}

static int
s_send_want (fetch_t *self, const char *peer, const uint8_t manifest [32],
             const uint8_t *addresses, size_t count, bool plain)
{
    updmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_CHUNK_WANT;
    memcpy (msg.manifest, manifest, 32);
    msg.addresses = addresses;
    msg.address_count = count;
    //  Deltas over the uplink only: inside a site, whole chunks
    uint8_t have [UPDMSG_HAVE_MAX * 32];
    if (!plain && streq (peer, FETCH_COORDINATOR)) {
        msg.have = have;
        msg.have_count = s_have (self, manifest, have);
    }
    uint8_t *payload;
    size_t payload_size;
    int rc = updmsg_encode (&msg, &payload, &payload_size);
    if (rc == 0)
        rc = self->fx.send (self->fx.ctx, peer, MSG_CHUNK_WANT, payload, payload_size);
    free (payload);
    return rc? -1: 0;
}

fetch_peer_t *
fetch_peer (fetch_t *self, const char *name)
{
    fetch_peer_t *peer = (fetch_peer_t *) zhashx_lookup (self->peers, name);
    if (!peer) {
        peer = (fetch_peer_t *) zmalloc (sizeof (fetch_peer_t));
        zhashx_insert (self->peers, name, peer);
    }
    return peer;
}

void
fetch_failed (fetch_t *self, fetch_release_t *release, size_t index, uint32_t epoch)
{
    if (epoch != self->epoch)
        release->attempts [index] = 0;
    else
    if (release->attempts [index] < UINT8_MAX)
        release->attempts [index]++;
    release->state [index] = FETCH_QUEUED;
    fetch_ring_push (release, index);
}

void
fetch_flight_end (fetch_t *self, fetch_flight_t *flight)
{
    fetch_peer_t *peer = (fetch_peer_t *) zhashx_lookup (self->peers, flight->peer);
    if (peer && peer->in_flight)
        peer->in_flight--;
    zlistx_delete (self->order, flight->handle);
    if (flight->metered)
        self->meter->flight -= flight->metered;
    zhashx_delete (self->flights, flight->address);
    free (flight);
}

static void
s_candidate (void *arg, const char *name, int kind)
{
    fetch_t *self = (fetch_t *) arg;
    if (strlen (name) > WEFT_NAME_MAX)
        return;
    //  A site server asks its upstream first; a gateway its site server
    int rank = kind == FETCH_PEER_COORDINATOR? (self->server? 0: 2)
             : kind == FETCH_PEER_SERVER? (self->server? 1: 0): (self->server? 2: 1);
    fetch_candidate_t *candidate;
    if (self->candidate_count < FETCH_CANDIDATES_MAX)
        candidate = &self->candidates [self->candidate_count++];
    else {
        //  Full (a site server with dozens of gateways): a better-ranked
        //  peer takes the place of the worst, so the coordinator, offered
        //  after every neighbour, is never the one left out
        candidate = &self->candidates [0];
        for (size_t i = 1; i < FETCH_CANDIDATES_MAX; i++)
            if (self->candidates [i].rank > candidate->rank)
                candidate = &self->candidates [i];
        if (candidate->rank <= rank)
            return;
        if (streq (candidate->name, FETCH_COORDINATOR))
            self->uplink = false;
    }
    if (kind == FETCH_PEER_COORDINATOR)
        self->uplink = true;
    snprintf (candidate->name, sizeof candidate->name, "%s", name);
    candidate->rank = rank;
}

static int
s_candidate_order (const void *a, const void *b)
{
    const fetch_candidate_t *x = (const fetch_candidate_t *) a, *y = (const fetch_candidate_t *) b;
    return x->rank != y->rank? x->rank - y->rank: strcmp (x->name, y->name);
}

static bool
s_is_bad (fetch_release_t *release, const char *name)
{
    for (const char *bad = (const char *) zlistx_first (release->bad); bad;
         bad = (const char *) zlistx_next (release->bad))
        if (streq (bad, name))
            return true;
    return false;
}

//  The peer a chunk is asked of after attempts failures, or NULL
static const char *
s_pick (fetch_t *self, fetch_release_t *release, size_t attempts, uint64_t now_ms)
{
    for (size_t i = 0; i < self->candidate_count; i++) {
        const char *name = self->candidates [i].name;
        if (zlistx_size (release->bad) && s_is_bad (release, name))
            continue;
        fetch_peer_t *peer = (fetch_peer_t *) zhashx_lookup (self->peers, name);
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
s_stall (fetch_t *self, fetch_release_t *release, size_t index, uint64_t now_ms)
{
    const uint8_t *address;
    uint32_t chunk_size;
    manifest_chunk (&release->manifest, index, &address, &chunk_size);
    release->state [index] = FETCH_STALLED;
    if (release->stalled++ == 0)
        release->retry_at = now_ms + FETCH_RETRY_MS;
    fetch_answer_waiters (self, address, NULL, 0, 0);
}

//  The outcome of trying to ask one chunk
typedef enum { S_ASKED, S_SKIPPED, S_BLOCKED } s_ask_t;

//  Ask one queued chunk of its next peer, adding it to that peer's
//  batch. S_BLOCKED: that peer has no room now (its window, its rate).
static s_ask_t
s_ask (fetch_t *self, fetch_release_t *release, size_t index, store_txn_t *txn,
       const char **peer_p, uint64_t now_ms)
{
    const uint8_t *address;
    uint32_t chunk_size;
    manifest_chunk (&release->manifest, index, &address, &chunk_size);
    if (chunkstore_has (self->chunks, txn, address)) {
        //  Came in another release, or twice in this one
        fetch_mark_held (release, index);
        return S_SKIPPED;
    }
    if (zhashx_lookup (self->flights, address)) {
        //  In flight for another release: looked at again later
        fetch_ring_push (release, index);
        return S_SKIPPED;
    }
    const char *name = s_pick (self, release, release->attempts [index], now_ms);
    if (!name) {
        s_stall (self, release, index, now_ms);
        return S_SKIPPED;
    }
    fetch_peer_t *peer = fetch_peer (self, name);
    if (peer->in_flight >= FETCH_WINDOW)
        return S_BLOCKED;
    //  A metered uplink: the chunks in flight and this one must fit the
    //  window and the day's budget
    uint64_t metered = 0;
    if (self->meter && self->meter->meter.link.metered && streq (name, FETCH_COORDINATOR)) {
        metered = fetch_wire_bound (chunk_size);
        uint64_t bytes = self->meter->flight + metered;
        if (meter_check (&self->meter->meter, bytes, now_ms) != METER_OPEN) {
            if (self->meter->held == 0)
                self->meter->held = metered;
            uint64_t resumes = meter_resumes (&self->meter->meter, bytes, now_ms);
            if (resumes > now_ms && (self->wake_ms == 0 || resumes < self->wake_ms))
                self->wake_ms = resumes;
            return S_BLOCKED;
        }
    }
    if (self->rate && peer->next_ms > now_ms) {
        if (self->wake_ms == 0 || peer->next_ms < self->wake_ms)
            self->wake_ms = peer->next_ms;
        return S_BLOCKED;
    }
    if (self->rate)
        peer->next_ms = (peer->next_ms > now_ms? peer->next_ms: now_ms)
                      + (uint64_t) chunk_size * 1000 / self->rate;
    fetch_flight_t *flight = (fetch_flight_t *) zmalloc (sizeof (fetch_flight_t));
    memcpy (flight->address, address, 32);
    flight->release = release;
    flight->index = index;
    snprintf (flight->peer, sizeof flight->peer, "%s", name);
    flight->deadline = now_ms + self->timeout_ms;
    flight->epoch = self->epoch;
    flight->metered = metered;
    if (metered)
        self->meter->flight += metered;
    flight->handle = zlistx_add_end (self->order, flight);
    zhashx_insert (self->flights, flight->address, flight);
    peer->in_flight++;
    release->state [index] = FETCH_FLIGHT;
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
    bool plain;                         //  A chunk in it must come whole
} s_batch_t;

static void
s_batch_add (s_batch_t *batches, size_t *batch_count, const char *peer,
             fetch_release_t *release, size_t index)
{
    s_batch_t *batch = NULL;
    for (size_t i = 0; i < *batch_count && !batch; i++)
        if (streq (batches [i].peer, peer))
            batch = &batches [i];
    if (!batch) {
        assert (*batch_count < FETCH_CANDIDATES_MAX);
        batch = &batches [(*batch_count)++];
        snprintf (batch->peer, sizeof batch->peer, "%s", peer);
        batch->count = 0;
        batch->plain = false;
    }
    if (release->plain [index])
        batch->plain = true;
    assert (batch->count < FETCH_WINDOW);
    const uint8_t *address;
    uint32_t chunk_size;
    manifest_chunk (&release->manifest, index, &address, &chunk_size);
    memcpy (batch->addresses + 32 * batch->count, address, 32);
    batch->indexes [batch->count++] = index;
}

static void
s_batches_send (fetch_t *self, fetch_release_t *release, s_batch_t *batches, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        s_batch_t *batch = &batches [i];
        if (s_send_want (self, batch->peer, release->hash, batch->addresses, batch->count,
                         batch->plain) == 0)
            continue;
        //  Not queued (the link just went): the next peer, at once
        for (size_t j = 0; j < batch->count; j++) {
            fetch_flight_t *flight = (fetch_flight_t *) zhashx_lookup (self->flights,
                                                               batch->addresses + 32 * j);
            if (flight)
                fetch_flight_end (self, flight);
            fetch_failed (self, release, batch->indexes [j], self->epoch);
        }
    }
}

//  A chunk's peers are tried in the order of the candidates, counted by
//  its attempts, so a peer that came since (its link came up, or it was
//  verified later: after a restart links come up in any order) would be
//  passed over or not asked before the retry. When one comes (or comes
//  back: a pump with no peer forgets them all), every chunk not held
//  starts again from the first peer (those in flight when their ask
//  fails: the epoch), and a peer that comes back is asked at once even
//  if it fell silent on its old link.
static void
s_peers_changed (fetch_t *self)
{
    bool came = false;
    for (size_t i = 0; i < self->candidate_count; i++) {
        bool known = false;
        for (size_t j = 0; j < self->previous_count && !known; j++)
            known = streq (self->candidates [i].name, self->previous [j].name)
                 && self->candidates [i].rank == self->previous [j].rank;
        if (!known) {
            //  A new connection: its silence on the old one is forgotten
            fetch_peer_t *peer = (fetch_peer_t *) zhashx_lookup (self->peers,
                                                                 self->candidates [i].name);
            if (peer)
                peer->quiet_until = 0;
            came = true;
        }
    }
    memcpy (self->previous, self->candidates, self->candidate_count * sizeof (fetch_candidate_t));
    self->previous_count = self->candidate_count;
    if (!came)
        return;
    self->epoch++;
    for (fetch_release_t *release = (fetch_release_t *) zhashx_first (self->releases); release;
         release = (fetch_release_t *) zhashx_next (self->releases))
        fetch_retry (release);
}

//  Ask for what is missing, as far as windows and rates allow: first
//  the chunks peers wait for, then each release's ring in order
void
fetch_pump (fetch_t *self, uint64_t now_ms)
{
    if (self->meter)
        self->meter->held = 0;
    if (self->paused || zhashx_size (self->releases) == 0)
        return;
    if (!self->candidates) {
        self->candidates = (fetch_candidate_t *) zmalloc (2 * FETCH_CANDIDATES_MAX
                                                          * sizeof (fetch_candidate_t));
        self->previous = self->candidates + FETCH_CANDIDATES_MAX;
    }
    self->candidate_count = 0;
    self->uplink = false;
    self->fx.peers (self->fx.ctx, s_candidate, self);
    if (self->candidate_count == 0) {
        self->previous_count = 0;
        return;
    }
    qsort (self->candidates, self->candidate_count, sizeof (fetch_candidate_t), s_candidate_order);
    s_peers_changed (self);
    self->wake_ms = 0;
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return;
    s_batch_t batches [FETCH_CANDIDATES_MAX];
    size_t visited = 0;
    //  Chunks peers wait for, while they are queued
    fetch_waiter_t *waiter = (fetch_waiter_t *) zlistx_first (self->urgent);
    while (waiter && visited < FETCH_PUMP_MAX) {
        visited++;
        fetch_release_t *release = (fetch_release_t *) zhashx_lookup (self->releases,
                                                                      waiter->manifest);
        ssize_t index = release? fetch_index_of (release, waiter->address): -1;
        if (index < 0 || release->state [index] != FETCH_QUEUED) {
            zlistx_delete (self->urgent, waiter->urgent);
            waiter->urgent = NULL;
            waiter = (fetch_waiter_t *) zlistx_first (self->urgent);
            continue;
        }
        const char *peer;
        size_t batch_count = 0;
        s_ask_t ask = s_ask (self, release, (size_t) index, txn, &peer, now_ms);
        if (ask == S_BLOCKED)
            break;
        zlistx_delete (self->urgent, waiter->urgent);
        waiter->urgent = NULL;
        if (ask == S_SKIPPED && release->state [index] == FETCH_HELD)
            fetch_answer_held (self, txn, release, (size_t) index);
        if (ask == S_ASKED) {
            s_batch_add (batches, &batch_count, peer, release, (size_t) index);
            s_batches_send (self, release, batches, batch_count);
        }
        waiter = (fetch_waiter_t *) zlistx_first (self->urgent);
    }
    for (fetch_release_t *release = (fetch_release_t *) zhashx_first (self->releases); release;
         release = (fetch_release_t *) zhashx_next (self->releases)) {
        size_t batch_count = 0;
        size_t round = release->ring_count;
        while (release->ring_count && round-- && visited < FETCH_PUMP_MAX) {
            visited++;
            size_t index = release->ring [release->ring_head];
            if (release->state [index] != FETCH_QUEUED) {
                fetch_ring_pop (release);
                continue;
            }
            const char *peer;
            fetch_ring_pop (release);
            s_ask_t ask = s_ask (self, release, index, txn, &peer, now_ms);
            if (ask == S_BLOCKED) {
                //  Its peer is busy, and most chunks behind it go to the
                //  same peer: the release waits for an answer
                fetch_ring_unpop (release, index);
                break;
            }
            if (ask == S_ASKED)
                s_batch_add (batches, &batch_count, peer, release, index);
        }
        s_batches_send (self, release, batches, batch_count);
    }
    store_abort (&txn);
}

void
fetch_on_data (fetch_t *self, const char *peer, const updmsg_t *msg, uint64_t now_ms)
{
    fetch_flight_t *flight = (fetch_flight_t *) zhashx_lookup (self->flights, msg->address);
    if (!flight || !streq (flight->peer, peer)
    ||  memcmp (flight->release->hash, msg->manifest, 32) != 0) {
        self->stats.unasked++;
        fetch_debug (self, "fetch: %s: CHUNK_DATA from %s not asked for, dropped", self->name,
                     peer);
        return;
    }
    fetch_release_t *release = flight->release;
    size_t index = flight->index;
    uint32_t epoch = flight->epoch;
    fetch_flight_end (self, flight);
    fetch_peer (self, peer)->quiet_until = 0;
    if (self->meter && self->meter->meter.link.metered && streq (peer, FETCH_COORDINATOR)) {
        //  What the uplink carried, good or bad, is paid for
        meter_spend (&self->meter->meter, msg->delta_size? msg->delta_size: msg->packed_size,
                     now_ms);
        self->meter->dirty = true;
    }
    if (msg->size == 0) {
        self->stats.not_held++;
        fetch_failed (self, release, index, epoch);
        return;
    }
    const uint8_t *address;
    uint32_t chunk_size;
    manifest_chunk (&release->manifest, index, &address, &chunk_size);
    //  Unpacked only to be checked: a buffer for the call, not one per
    //  node (weft-sim runs 100,000 of them)
    uint8_t *unpacked = msg->size == chunk_size? (uint8_t *) malloc (chunk_size): NULL;
    uint8_t *packed = NULL;
    size_t packed_size = 0;
    bool bad;
    if (msg->delta_size) {
        //  Applied against our own bases, checked, then packed as kept
        store_txn_t *txn = unpacked? store_begin (self->store, false): NULL;
        int rc = txn? chunkstore_undelta (self->chunks, txn, msg->delta, msg->delta_size,
                                          address, unpacked, chunk_size): -1;
        store_abort (&txn);
        if (rc == 0 && chunker_pack (unpacked, chunk_size, &packed, &packed_size))
            rc = -1;
        free (unpacked);
        if (rc && !release->plain [index]) {
            //  A base gone since we named its release, or a delta that
            //  does not apply: asked again of the same peer, whole
            self->stats.deltas_dropped++;
            fetch_debug (self, "fetch: %s: a delta from %s did not apply (%d), asked again "
                         "whole", self->name, peer, rc);
            release->plain [index] = 1;
            release->state [index] = FETCH_QUEUED;
            fetch_ring_push (release, index);
            return;
        }
        bad = rc != 0;
    }
    else {
        bad = !unpacked
           || chunker_unpack (msg->packed, msg->packed_size, address, unpacked, chunk_size);
        free (unpacked);
        if (!bad) {
            packed = (uint8_t *) zmalloc (msg->packed_size);
            memcpy (packed, msg->packed, msg->packed_size);
            packed_size = msg->packed_size;
        }
    }
    if (bad) {
        self->stats.bad++;
        char hex [17];
        fetch_hex (release->hash, hex);
        zsys_warning ("fetch: %s: a bad chunk from %s (not the manifest's size or address): "
                      "%s is asked no more for release %s", self->name, peer, peer, hex);
        if (!s_is_bad (release, peer) && zlistx_size (release->bad) < FETCH_CANDIDATES_MAX)
            zlistx_add_end (release->bad, strdup (peer));
        fetch_failed (self, release, index, epoch);
        return;
    }
    if (msg->delta_size)
        self->stats.deltas++;
    fetch_staged_t *staged = (fetch_staged_t *) zmalloc (sizeof (fetch_staged_t));
    staged->release = release;
    staged->index = index;
    staged->packed = packed;
    staged->packed_size = packed_size;
    staged->wire_size = msg->delta_size? msg->delta_size: msg->packed_size;
    staged->size = chunk_size;
    zlistx_add_end (self->staged, staged);
    release->state [index] = FETCH_STAGED;
}
