/*  fetch - the chunk exchange of a node (see fetch.h): its life cycle,
    the wanted releases, bursts and timers. The state is described in
    fetch_internal.h.  */

#include "node/core/fetch_internal.h"

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

void
fetch_hex (const uint8_t *hash, char out [17])
{
    for (int i = 0; i < 8; i++)
        snprintf (out + 2 * i, 3, "%02x", hash [i]);
}

//  --------------------------------------------------------------------------
//  Releases

static size_t
s_key (fetch_t *self, int owner, const uint8_t hash [32], uint8_t key [FETCH_KEY_MAX])
{
    size_t prefix = strlen (self->prefix);
    memcpy (key, self->prefix, prefix);
    key [prefix] = owner == FETCH_SITE? 's': 'w';
    memcpy (key + prefix + 1, hash, 32);
    return prefix + 1 + 32;
}

void
fetch_ring_push (fetch_release_t *release, size_t index)
{
    if (release->in_ring [index])
        return;
    size_t count = release->manifest.chunk_count;
    release->ring [(release->ring_head + release->ring_count) % count] = (uint32_t) index;
    release->ring_count++;
    release->in_ring [index] = 1;
}

size_t
fetch_ring_pop (fetch_release_t *release)
{
    size_t index = release->ring [release->ring_head];
    release->ring_head = (release->ring_head + 1) % release->manifest.chunk_count;
    release->ring_count--;
    release->in_ring [index] = 0;
    return index;
}

//  Put back at the front the index fetch_ring_pop just took
void
fetch_ring_unpop (fetch_release_t *release, size_t index)
{
    size_t count = release->manifest.chunk_count;
    release->ring_head = (release->ring_head + count - 1) % count;
    release->ring [release->ring_head] = (uint32_t) index;
    release->ring_count++;
    release->in_ring [index] = 1;
}

static void
s_release_destroy (fetch_release_t **release_p)
{
    fetch_release_t *release = *release_p;
    if (release) {
        zhashx_destroy (&release->index);
        zlistx_destroy (&release->bad);
        free (release->state);
        free (release->attempts);
        free (release->in_ring);
        free (release->plain);
        free (release->ring);
        free (release->bytes);
        free (release);
        *release_p = NULL;
    }
}

//  A release from its manifest bytes (taken), its held chunks read in
//  txn. NULL if the manifest does not decode or has no chunk.
static fetch_release_t *
s_release_new (const uint8_t hash [32], uint8_t *bytes, size_t size, chunkstore_t *chunks,
               store_txn_t *txn)
{
    fetch_release_t *release = (fetch_release_t *) zmalloc (sizeof (fetch_release_t));
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
    release->plain = (uint8_t *) zmalloc (count);
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
            release->state [i] = FETCH_HELD;
            release->held++;
            release->held_bytes += chunk_size;
        }
        else {
            release->state [i] = FETCH_QUEUED;
            fetch_ring_push (release, i);
        }
    }
    return release;
}

void
fetch_mark_held (fetch_release_t *release, size_t index)
{
    if (release->state [index] == FETCH_HELD)
        return;
    if (release->state [index] == FETCH_STALLED)
        release->stalled--;
    const uint8_t *address;
    uint32_t chunk_size;
    manifest_chunk (&release->manifest, index, &address, &chunk_size);
    release->state [index] = FETCH_HELD;
    release->held++;
    release->held_bytes += chunk_size;
}

//  The chunk's index in the release, or -1 if it is not one of its chunks
void
fetch_retry (fetch_release_t *release)
{
    for (size_t i = 0; i < release->manifest.chunk_count; i++)
        if (release->state [i] == FETCH_STALLED || release->state [i] == FETCH_QUEUED) {
            if (release->state [i] == FETCH_STALLED)
                fetch_ring_push (release, i);
            release->state [i] = FETCH_QUEUED;
            release->attempts [i] = 0;
        }
    release->stalled = 0;
}

ssize_t
fetch_index_of (fetch_release_t *release, const uint8_t address [32])
{
    uintptr_t index = (uintptr_t) zhashx_lookup (release->index, address);
    return index? (ssize_t) index - 1: -1;
}

//  --------------------------------------------------------------------------
//  Messages from peers, after the mesh checked their signature

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
        fetch_on_want (self, peer, tenant, &msg, now_ms);
    else
        fetch_on_data (self, peer, &msg, now_ms);
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
s_staged_destroy (fetch_staged_t **staged_p)
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
        fetch_staged_t *staged;
        while ((staged = (fetch_staged_t *) zlistx_detach (self->staged, NULL)))
            s_staged_destroy (&staged);
        zlistx_destroy (&self->staged);
        fetch_flight_t *flight;
        while ((flight = (fetch_flight_t *) zlistx_detach (self->order, NULL)))
            free (flight);
        zlistx_destroy (&self->order);
        free (self->touch);
        free (self->candidates);
        zhashx_destroy (&self->flights);
        zlistx_destroy (&self->urgent);
        zlistx_destroy (&self->waiters);
        for (void *waiter = zhashx_first (self->waiting); waiter;
             waiter = zhashx_next (self->waiting))
            free (waiter);
        zhashx_destroy (&self->waiting);
        for (fetch_release_t *release = (fetch_release_t *) zhashx_first (self->releases); release;
             release = (fetch_release_t *) zhashx_next (self->releases))
            s_release_destroy (&release);
        zhashx_destroy (&self->releases);
        zhashx_destroy (&self->peers);
        free (self->meter);
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

//  Take up the releases owner wanted in an earlier run
static int
s_start (fetch_t *self, store_txn_t *txn, int owner)
{
    uint8_t key [FETCH_KEY_MAX], none [32] = { 0 };
    size_t key_size = s_key (self, owner, none, key) - 32;
    zlistx_t *found = zlistx_new ();
    int rc = store_scan (txn, FETCH_TABLE, key, key_size, s_collect, found) >= 0? 0: -1;
    zchunk_t *item;
    while ((item = (zchunk_t *) zlistx_detach (found, NULL))) {
        size_t size = zchunk_size (item) - 32;
        fetch_release_t *release = (fetch_release_t *) zhashx_lookup (self->releases,
                                                                      zchunk_data (item));
        if (release)
            release->owners |= owner;
        else
        if (rc == 0 && size > 0 && zhashx_size (self->releases) < FETCH_RELEASES_MAX) {
            uint8_t *bytes = (uint8_t *) zmalloc (size);
            memcpy (bytes, zchunk_data (item) + 32, size);
            release = s_release_new (zchunk_data (item), bytes, size, self->chunks, txn);
            if (release) {
                release->owners = owner;
                zhashx_insert (self->releases, release->hash, release);
            }
            else
                zsys_error ("fetch: %s: a stored manifest does not decode, ignored", self->name);
        }
        zchunk_destroy (&item);
    }
    zlistx_destroy (&found);
    return rc;
}

int
fetch_start (fetch_t *self, uint64_t now_ms)
{
    assert (self);
    (void) now_ms;
    store_txn_t *txn = store_begin (self->store, false);
    int rc = txn? s_start (self, txn, FETCH_OWN): -1;
    if (rc == 0)
        rc = s_start (self, txn, FETCH_SITE);
    store_abort (&txn);
    if (rc == 0 && zhashx_size (self->releases))
        zsys_info ("fetch: %s: %zu release(s) wanted, fetching resumes", self->name,
                   zhashx_size (self->releases));
    return rc;
}

//  --------------------------------------------------------------------------
//  Wanting and dropping

//  End a write transaction: committed if rc is 0, else abandoned; if
//  it did not commit, the chunkstore reads its totals again. 0 or -1.
static int
s_end (fetch_t *self, store_txn_t **txn_p, int rc)
{
    if (rc == 0)
        rc = store_commit (txn_p);
    else
        store_abort (txn_p);
    if (rc)
        chunkstore_reload (self->chunks);
    return rc? -1: 0;
}

//  Another owner wants a release already wanted: its key stored. 0 or -1.
static int
s_own_also (fetch_t *self, fetch_release_t *release, int owner)
{
    if (release->owners & owner)
        return 0;
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn)
        return -1;
    uint8_t key [FETCH_KEY_MAX];
    size_t key_size = s_key (self, owner, release->hash, key);
    int rc = store_put (txn, FETCH_TABLE, key, key_size, release->bytes, release->size);
    if (s_end (self, &txn, rc))
        return -1;
    release->owners |= owner;
    return 0;
}

static int
s_want (fetch_t *self, int owner, const uint8_t manifest_hash [32], const uint8_t *manifest,
        size_t manifest_size)
{
    fetch_release_t *release = (fetch_release_t *) zhashx_lookup (self->releases, manifest_hash);
    if (release)
        return s_own_also (self, release, owner);
    char hex [17];
    fetch_hex (manifest_hash, hex);
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
    release = s_release_new (manifest_hash, bytes, manifest_size, self->chunks, txn);
    uint8_t key [FETCH_KEY_MAX];
    size_t key_size = s_key (self, owner, manifest_hash, key);
    int rc = release? 0: -1;
    if (rc == 0)
        rc = store_put (txn, FETCH_TABLE, key, key_size, manifest, manifest_size);
    if (rc == 0)
        rc = chunkstore_pin (self->chunks, txn, manifest_hash, &release->manifest);
    rc = s_end (self, &txn, rc);
    if (rc) {
        zsys_error ("fetch: %s: release %s not wanted: %s", self->name, hex,
                    release? "store failed": "the manifest does not decode");
        s_release_destroy (&release);
        return -1;
    }
    release->owners = owner;
    zhashx_insert (self->releases, release->hash, release);
    zsys_info ("fetch: %s: release %s wanted%s: %zu of %zu chunks held", self->name, hex,
               owner == FETCH_SITE? " for the site": "", release->held,
               release->manifest.chunk_count);
    return 0;
}

int
fetch_want (fetch_t *self, const uint8_t manifest_hash [32], const uint8_t *manifest,
            size_t manifest_size, uint64_t now_ms)
{
    assert (self && manifest_hash && manifest);
    (void) now_ms;
    return s_want (self, FETCH_OWN, manifest_hash, manifest, manifest_size);
}

//  owner no longer wants the release; when nobody does, it is unpinned
//  and forgotten. 0 or -1.
static int
s_drop (fetch_t *self, fetch_release_t *release, int owner)
{
    const uint8_t *manifest_hash = release->hash;
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn)
        return -1;
    uint8_t key [FETCH_KEY_MAX];
    size_t key_size = s_key (self, owner, manifest_hash, key);
    int rc = store_del (txn, FETCH_TABLE, key, key_size) < 0? -1: 0;
    bool last = (release->owners & ~owner) == 0;
    if (rc == 0 && last)
        rc = chunkstore_unpin (self->chunks, txn, manifest_hash, &release->manifest);
    if (s_end (self, &txn, rc))
        return -1;
    release->owners &= ~owner;
    if (!last)
        return 0;
    //  What is in flight, staged or waited for in it goes
    fetch_flight_t *flight = (fetch_flight_t *) zlistx_first (self->order);
    while (flight) {
        fetch_flight_t *next = (fetch_flight_t *) zlistx_next (self->order);
        if (flight->release == release)
            fetch_flight_end (self, flight);
        flight = next;
    }
    fetch_staged_t *staged = (fetch_staged_t *) zlistx_first (self->staged);
    while (staged) {
        if (staged->release == release) {
            zlistx_detach_cur (self->staged);
            s_staged_destroy (&staged);
            staged = (fetch_staged_t *) zlistx_first (self->staged);
        }
        else
            staged = (fetch_staged_t *) zlistx_next (self->staged);
    }
    for (size_t i = 0; i < release->manifest.chunk_count; i++) {
        const uint8_t *address;
        uint32_t chunk_size;
        manifest_chunk (&release->manifest, i, &address, &chunk_size);
        fetch_waiter_t *waiter = (fetch_waiter_t *) zhashx_lookup (self->waiting, address);
        if (waiter && memcmp (waiter->manifest, manifest_hash, 32) == 0)
            fetch_answer_waiters (self, address, NULL, 0, 0);
    }
    zhashx_delete (self->releases, release->hash);
    s_release_destroy (&release);
    self->paused = false;           //  Its chunks may be evicted now
    return 0;
}

int
fetch_drop (fetch_t *self, const uint8_t manifest_hash [32])
{
    assert (self && manifest_hash);
    fetch_release_t *release = (fetch_release_t *) zhashx_lookup (self->releases, manifest_hash);
    return release && (release->owners & FETCH_OWN)? s_drop (self, release, FETCH_OWN): 0;
}

int
fetch_want_site (fetch_t *self, const uint8_t manifest_hash [32], const uint8_t *manifest,
                 size_t manifest_size, uint64_t now_ms)
{
    assert (self && manifest_hash && manifest);
    (void) now_ms;
    if (s_want (self, FETCH_SITE, manifest_hash, manifest, manifest_size))
        return -1;
    fetch_release_t *release = (fetch_release_t *) zhashx_lookup (self->releases, manifest_hash);
    release->site_seq = ++self->site_seq;
    //  The oldest the site took goes past FETCH_SITE_MAX (few: releases
    //  wanted are bounded by FETCH_RELEASES_MAX)
    size_t count = 0;
    fetch_release_t *oldest = NULL;
    for (fetch_release_t *it = (fetch_release_t *) zhashx_first (self->releases); it;
         it = (fetch_release_t *) zhashx_next (self->releases))
        if (it->owners & FETCH_SITE) {
            count++;
            if (!oldest || it->site_seq < oldest->site_seq)
                oldest = it;
        }
    if (count > FETCH_SITE_MAX) {
        char hex [17];
        fetch_hex (oldest->hash, hex);
        zsys_info ("fetch: %s: release %s no longer kept for the site (%d newer)", self->name,
                   hex, FETCH_SITE_MAX);
        return s_drop (self, oldest, FETCH_SITE);
    }
    return 0;
}

int
fetch_progress (fetch_t *self, const uint8_t manifest_hash [32], size_t *held_chunks_p,
                size_t *total_chunks_p, uint64_t *held_bytes_p, uint64_t *total_bytes_p)
{
    assert (self && manifest_hash);
    fetch_release_t *release = (fetch_release_t *) zhashx_lookup (self->releases, manifest_hash);
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
    if (zlistx_size (self->staged) == 0 && self->touch_count == 0
    &&  !(self->meter && self->meter->dirty))
        return;
    store_txn_t *txn = store_begin (self->store, true);
    int rc = txn? 0: -1;
    if (rc == 0 && self->meter && self->meter->dirty)
        rc = fetch_meter_save (self, txn);
    for (fetch_staged_t *staged = (fetch_staged_t *) zlistx_first (self->staged); staged && rc == 0;
         staged = (fetch_staged_t *) zlistx_next (self->staged)) {
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
    rc = s_end (self, &txn, rc);
    fetch_staged_t *staged;
    while ((staged = (fetch_staged_t *) zlistx_detach (self->staged, NULL))) {
        const uint8_t *address;
        uint32_t chunk_size;
        manifest_chunk (&staged->release->manifest, staged->index, &address, &chunk_size);
        if (rc == 0) {
            fetch_mark_held (staged->release, staged->index);
            self->stats.received++;
            self->stats.received_bytes += staged->wire_size;
            fetch_answer_waiters (self, address, staged->packed, staged->packed_size, staged->size);
        }
        else
            //  Not stored: asked again (of the same peer)
            fetch_failed (self, staged->release, staged->index, self->epoch);
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
    for (fetch_release_t *release = (fetch_release_t *) zhashx_first (self->releases); release;
         release = (fetch_release_t *) zhashx_next (self->releases))
        if (!release->told && release->held == release->manifest.chunk_count) {
            release->told = true;
            char hex [17];
            fetch_hex (release->hash, hex);
            zsys_info ("fetch: %s: release %s: every chunk held", self->name, hex);
            if (self->fx.done)
                self->fx.done (self->fx.ctx, release->hash);
        }
    fetch_pump (self, now_ms);
}

void
fetch_tick (fetch_t *self, uint64_t now_ms)
{
    assert (self);
    fetch_flight_t *flight;
    while ((flight = (fetch_flight_t *) zlistx_first (self->order)) && flight->deadline <= now_ms) {
        self->stats.timeouts++;
        fetch_debug (self, "fetch: %s: no answer from %s in time", self->name, flight->peer);
        fetch_release_t *release = flight->release;
        size_t index = flight->index;
        uint32_t epoch = flight->epoch;
        //  Silent (gone, or trickling): not asked again for a while
        fetch_peer (self, flight->peer)->quiet_until = now_ms + FETCH_RETRY_MS;
        fetch_flight_end (self, flight);
        fetch_failed (self, release, index, epoch);
    }
    //  Peers that waited as long as they would: size 0, they ask elsewhere
    fetch_waiter_t *waiter;
    while ((waiter = (fetch_waiter_t *) zlistx_first (self->waiters))
    &&     waiter->expires <= now_ms) {
        self->stats.expired++;
        fetch_answer_waiters (self, waiter->address, NULL, 0, 0);
    }
    for (fetch_release_t *release = (fetch_release_t *) zhashx_first (self->releases); release;
         release = (fetch_release_t *) zhashx_next (self->releases))
        if (release->stalled && release->retry_at <= now_ms) {
            fetch_retry (release);
            zlistx_purge (release->bad);    //  Each peer gets another chance
        }
    fetch_flush (self, now_ms);
}

uint64_t
fetch_deadline (fetch_t *self)
{
    assert (self);
    uint64_t next = self->wake_ms;
    fetch_flight_t *flight = (fetch_flight_t *) zlistx_first (self->order);
    if (flight && (next == 0 || flight->deadline < next))
        next = flight->deadline;
    fetch_waiter_t *waiter = (fetch_waiter_t *) zlistx_first (self->waiters);
    if (waiter && (next == 0 || waiter->expires < next))
        next = waiter->expires;
    for (fetch_release_t *release = (fetch_release_t *) zhashx_first (self->releases); release;
         release = (fetch_release_t *) zhashx_next (self->releases))
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

