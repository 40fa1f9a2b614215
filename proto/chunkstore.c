/*  chunkstore - the chunks a node holds for updates (see chunkstore.h)  */

#include "proto/corelib.h"
#include "proto/chunker.h"
#include "proto/chunkstore.h"

#define S_ADDRESS   CHUNKER_HASH_SIZE
#define S_HEAD      12                      //  last use (8) || size (4)
#define S_INDEX     (S_HEAD + 4)            //  Shared: S_HEAD || packed size (4)

//  Longest key: prefix || 'p' address manifest
#define S_KEY_MAX   (WEFT_NAME_MAX + 1 + 2 * S_ADDRESS)

struct _chunkstore_t {
    store_t *store;
    char prefix [WEFT_NAME_MAX + 1];        //  Key prefix ("" in the daemon)
    size_t prefix_size;
    char shared [WEFT_NAME_MAX + 1];        //  Prefix of the shared bytes
    size_t shared_size;
    bool sharing;                           //  Packed bytes kept once per store
    uint64_t budget;
    uint64_t bytes;                         //  Packed bytes held
    uint64_t count;                         //  Chunks held
    uint64_t tick;                          //  Last use stamp given
    bool over;
};

static void
s_put_be32 (uint8_t *out, uint32_t value)
{
    out [0] = (uint8_t) (value >> 24);
    out [1] = (uint8_t) (value >> 16);
    out [2] = (uint8_t) (value >> 8);
    out [3] = (uint8_t) value;
}

static uint32_t
s_get_be32 (const uint8_t *in)
{
    return (uint32_t) in [0] << 24 | (uint32_t) in [1] << 16 | (uint32_t) in [2] << 8 | in [3];
}

//  Key of tag under prefix, followed by size bytes of body (and as
//  many of tail); returns its size
static size_t
s_key_under (const char *prefix, size_t prefix_size, uint8_t key [S_KEY_MAX], char tag,
             const void *body, size_t size, const void *tail, size_t tail_size)
{
    memcpy (key, prefix, prefix_size);
    key [prefix_size] = (uint8_t) tag;
    if (size)
        memcpy (key + prefix_size + 1, body, size);
    if (tail_size)
        memcpy (key + prefix_size + 1 + size, tail, tail_size);
    return prefix_size + 1 + size + tail_size;
}

static size_t
s_key (chunkstore_t *self, uint8_t key [S_KEY_MAX], char tag, const void *body, size_t size,
       const void *tail, size_t tail_size)
{
    return s_key_under (self->prefix, self->prefix_size, key, tag, body, size, tail, tail_size);
}

static uint64_t
s_meta_get (chunkstore_t *self, store_txn_t *txn, const char *name)
{
    uint8_t key [S_KEY_MAX];
    size_t key_size = s_key (self, key, 'm', name, strlen (name), NULL, 0);
    size_t size;
    uint8_t *value = (uint8_t *) store_get (txn, CHUNKSTORE_TABLE, key, key_size, &size);
    uint64_t result = value && size == 8? proto_get_be64 (value): 0;
    free (value);
    return result;
}

static int
s_meta_put (chunkstore_t *self, store_txn_t *txn, const char *name, uint64_t value)
{
    uint8_t key [S_KEY_MAX];
    size_t key_size = s_key (self, key, 'm', name, strlen (name), NULL, 0);
    uint8_t data [8];
    proto_put_be64 (data, value);
    return store_put (txn, CHUNKSTORE_TABLE, key, key_size, data, sizeof data);
}

int
chunkstore_reload (chunkstore_t *self)
{
    assert (self);
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return -1;
    self->bytes = s_meta_get (self, txn, "bytes");
    self->count = s_meta_get (self, txn, "count");
    self->tick = s_meta_get (self, txn, "tick");
    store_abort (&txn);
    return 0;
}

chunkstore_t *
chunkstore_new (store_t *store, const char *prefix, uint64_t budget)
{
    assert (store);
    if (prefix && strlen (prefix) > WEFT_NAME_MAX)
        return NULL;
    chunkstore_t *self = (chunkstore_t *) zmalloc (sizeof (chunkstore_t));
    self->store = store;
    snprintf (self->prefix, sizeof self->prefix, "%s", prefix? prefix: "");
    self->prefix_size = strlen (self->prefix);
    self->budget = budget;
    if (chunkstore_reload (self))
        chunkstore_destroy (&self);
    return self;
}

void
chunkstore_destroy (chunkstore_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

int
chunkstore_share (chunkstore_t *self, const char *shared)
{
    assert (self && shared);
    if (strlen (shared) > WEFT_NAME_MAX)
        return -1;
    snprintf (self->shared, sizeof self->shared, "%s", shared);
    self->shared_size = strlen (self->shared);
    self->sharing = true;
    return 0;
}

//  Keys under the prefix: 'c' address; 'l' tick address; 'p' address manifest
static size_t
s_chunk_key (chunkstore_t *self, uint8_t key [S_KEY_MAX], const uint8_t hash [32])
{
    return s_key (self, key, 'c', hash, S_ADDRESS, NULL, 0);
}

static size_t
s_lru_key (chunkstore_t *self, uint8_t key [S_KEY_MAX], uint64_t tick, const uint8_t hash [32])
{
    uint8_t stamp [8];
    proto_put_be64 (stamp, tick);
    return s_key (self, key, 'l', stamp, sizeof stamp, hash, S_ADDRESS);
}

static int
s_totals_put (chunkstore_t *self, store_txn_t *txn)
{
    return s_meta_put (self, txn, "bytes", self->bytes) || s_meta_put (self, txn, "count", self->count)
        || s_meta_put (self, txn, "tick", self->tick)? -1: 0;
}

static int
s_pinned_one (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    (void) key; (void) key_size; (void) value; (void) size;
    *(bool *) arg = true;
    return 1;
}

static bool
s_pinned (chunkstore_t *self, store_txn_t *txn, const uint8_t hash [32])
{
    uint8_t prefix [S_KEY_MAX];
    size_t prefix_size = s_key (self, prefix, 'p', hash, S_ADDRESS, NULL, 0);
    bool pinned = false;
    store_scan (txn, CHUNKSTORE_TABLE, prefix, prefix_size, s_pinned_one, &pinned);
    return pinned;
}

//  The oldest entries of the LRU index, up to CHUNKSTORE_EVICT_SCAN
typedef struct {
    uint8_t (*keys) [S_KEY_MAX];
    size_t key_size;                        //  Size of an LRU key under the prefix
    size_t count;
} s_oldest_t;

static int
s_collect (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    (void) value; (void) size;
    s_oldest_t *oldest = (s_oldest_t *) arg;
    if (key_size == oldest->key_size)
        memcpy (oldest->keys [oldest->count++], key, key_size);
    return oldest->count == CHUNKSTORE_EVICT_SCAN;
}

//  Shared bytes: 'b' address -> packed bytes, 'r' address -> be64
//  count of the chunk stores that hold them. The first holder writes
//  them, the last one to let go deletes them.
static int
s_shared_ref (chunkstore_t *self, store_txn_t *txn, const uint8_t hash [32],
              const uint8_t *packed, size_t packed_size, int delta)
{
    uint8_t key [S_KEY_MAX];
    size_t key_size = s_key_under (self->shared, self->shared_size, key, 'r', hash, S_ADDRESS,
                                   NULL, 0);
    size_t size;
    uint8_t *value = (uint8_t *) store_get (txn, CHUNKSTORE_TABLE, key, key_size, &size);
    uint64_t refs = value && size == 8? proto_get_be64 (value): 0;
    free (value);
    if (delta < 0 && refs == 0)
        return -1;                          //  Index and bytes disagree
    refs = delta < 0? refs - 1: refs + 1;
    uint8_t data [8];
    proto_put_be64 (data, refs);
    int rc = refs? store_put (txn, CHUNKSTORE_TABLE, key, key_size, data, sizeof data)
                 : store_del (txn, CHUNKSTORE_TABLE, key, key_size) < 0? -1: 0;
    uint8_t bytes_key [S_KEY_MAX];
    size_t bytes_key_size = s_key_under (self->shared, self->shared_size, bytes_key, 'b', hash,
                                         S_ADDRESS, NULL, 0);
    if (rc == 0 && refs == 1 && delta > 0)
        rc = store_put (txn, CHUNKSTORE_TABLE, bytes_key, bytes_key_size, packed, packed_size);
    else
    if (rc == 0 && refs == 0)
        rc = store_del (txn, CHUNKSTORE_TABLE, bytes_key, bytes_key_size) < 0? -1: 0;
    return rc;
}

//  Packed size of the chunk whose index value is value (of size), or
//  -1 if the value is too short
static int64_t
s_packed_size (chunkstore_t *self, const uint8_t *value, size_t size)
{
    if (self->sharing)
        return size == S_INDEX? (int64_t) s_get_be32 (value + S_HEAD): -1;
    return size >= S_HEAD? (int64_t) (size - S_HEAD): -1;
}

//  Drop a held chunk and its LRU entry
static int
s_drop (chunkstore_t *self, store_txn_t *txn, const uint8_t hash [32], uint64_t tick,
        size_t packed_size)
{
    uint8_t key [S_KEY_MAX], lru [S_KEY_MAX];
    size_t key_size = s_chunk_key (self, key, hash);
    size_t lru_size = s_lru_key (self, lru, tick, hash);
    if (store_del (txn, CHUNKSTORE_TABLE, key, key_size) < 0
    ||  store_del (txn, CHUNKSTORE_TABLE, lru, lru_size) < 0
    ||  (self->sharing && s_shared_ref (self, txn, hash, NULL, 0, -1)))
        return -1;
    self->bytes -= packed_size;
    self->count--;
    return 0;
}

static int
s_evict (chunkstore_t *self, store_txn_t *txn)
{
    self->over = false;
    if (self->bytes <= self->budget)
        return 0;
    uint8_t prefix [S_KEY_MAX];
    size_t prefix_size = s_key (self, prefix, 'l', NULL, 0, NULL, 0);
    s_oldest_t oldest = {
        zmalloc (CHUNKSTORE_EVICT_SCAN * sizeof (*oldest.keys)), prefix_size + 8 + S_ADDRESS, 0
    };
    int rc = store_scan (txn, CHUNKSTORE_TABLE, prefix, prefix_size, s_collect, &oldest) < 0? -1: 0;
    for (size_t i = 0; rc == 0 && i < oldest.count && self->bytes > self->budget; i++) {
        const uint8_t *stamp = oldest.keys [i] + prefix_size;
        const uint8_t *hash = stamp + 8;
        uint8_t key [S_KEY_MAX];
        size_t key_size = s_chunk_key (self, key, hash);
        size_t size;
        uint8_t *value = (uint8_t *) store_get (txn, CHUNKSTORE_TABLE, key, key_size, &size);
        int64_t packed_size = value? s_packed_size (self, value, size): -1;
        if (packed_size >= 0)
            rc = s_drop (self, txn, hash, proto_get_be64 (stamp), (size_t) packed_size);
        free (value);
    }
    //  Over only when nothing evictable is left (not when this call
    //  stopped at its bound; the next one goes on)
    self->over = rc == 0 && self->bytes > self->budget && oldest.count < CHUNKSTORE_EVICT_SCAN;
    free (oldest.keys);
    return rc;
}

//  Stamp the chunk whose stored value is value (of size) as used now
static int
s_stamp (chunkstore_t *self, store_txn_t *txn, const uint8_t hash [32], uint8_t *value,
         size_t size)
{
    uint8_t key [S_KEY_MAX], lru [S_KEY_MAX];
    size_t lru_size = s_lru_key (self, lru, proto_get_be64 (value), hash);
    if (store_del (txn, CHUNKSTORE_TABLE, lru, lru_size) < 0)
        return -1;
    proto_put_be64 (value, ++self->tick);
    lru_size = s_lru_key (self, lru, self->tick, hash);
    size_t key_size = s_chunk_key (self, key, hash);
    return store_put (txn, CHUNKSTORE_TABLE, key, key_size, value, size)
        || (!s_pinned (self, txn, hash)
            && store_put (txn, CHUNKSTORE_TABLE, lru, lru_size, NULL, 0))? -1: 0;
}

int
chunkstore_put (chunkstore_t *self, store_txn_t *txn, const uint8_t hash [32],
                const uint8_t *packed, size_t packed_size, uint32_t chunk_size)
{
    assert (self && txn && hash && packed);
    uint8_t key [S_KEY_MAX];
    size_t key_size = s_chunk_key (self, key, hash);
    size_t size;
    uint8_t *held = (uint8_t *) store_get (txn, CHUNKSTORE_TABLE, key, key_size, &size);
    if (held) {
        int rc = size >= S_HEAD? s_stamp (self, txn, hash, held, size): -1;
        free (held);
        return rc? -1: s_totals_put (self, txn);
    }
    //  Sharing, the index keeps the packed size in place of the bytes
    size_t value_size = self->sharing? S_INDEX: S_HEAD + packed_size;
    uint8_t *value = (uint8_t *) zmalloc (value_size);
    proto_put_be64 (value, ++self->tick);
    s_put_be32 (value + 8, chunk_size);
    if (self->sharing)
        s_put_be32 (value + S_HEAD, (uint32_t) packed_size);
    else
        memcpy (value + S_HEAD, packed, packed_size);
    uint8_t lru [S_KEY_MAX];
    size_t lru_size = s_lru_key (self, lru, self->tick, hash);
    //  A chunk of a pinned release (pinned before it arrives) is never
    //  in the eviction order
    int rc = store_put (txn, CHUNKSTORE_TABLE, key, key_size, value, value_size)
          || (self->sharing && s_shared_ref (self, txn, hash, packed, packed_size, 1))
          || (!s_pinned (self, txn, hash)
              && store_put (txn, CHUNKSTORE_TABLE, lru, lru_size, NULL, 0))? -1: 0;
    free (value);
    if (rc == 0) {
        self->bytes += packed_size;
        self->count++;
        rc = s_evict (self, txn);
    }
    return rc? -1: s_totals_put (self, txn);
}

uint8_t *
chunkstore_get (chunkstore_t *self, store_txn_t *txn, const uint8_t hash [32],
                size_t *packed_size_p, uint32_t *chunk_size_p)
{
    assert (self && txn && hash && packed_size_p);
    uint8_t key [S_KEY_MAX];
    size_t key_size = s_chunk_key (self, key, hash);
    size_t size;
    uint8_t *value = (uint8_t *) store_get (txn, CHUNKSTORE_TABLE, key, key_size, &size);
    int64_t packed_size = value? s_packed_size (self, value, size): -1;
    if (packed_size < 0) {
        free (value);
        return NULL;
    }
    uint32_t chunk_size = s_get_be32 (value + 8);
    if (self->sharing) {
        //  Held by this node: the bytes are the store's, as the first
        //  holder packed them (callers unpack against the address)
        free (value);
        key_size = s_key_under (self->shared, self->shared_size, key, 'b', hash, S_ADDRESS,
                                NULL, 0);
        value = (uint8_t *) store_get (txn, CHUNKSTORE_TABLE, key, key_size, &size);
        if (!value)
            return NULL;
        packed_size = (int64_t) size;
    }
    else
        memmove (value, value + S_HEAD, (size_t) packed_size);
    if (chunk_size_p)
        *chunk_size_p = chunk_size;
    *packed_size_p = (size_t) packed_size;
    return value;
}

bool
chunkstore_has (chunkstore_t *self, store_txn_t *txn, const uint8_t hash [32])
{
    assert (self && txn && hash);
    uint8_t key [S_KEY_MAX];
    size_t key_size = s_chunk_key (self, key, hash);
    size_t size;
    uint8_t *value = (uint8_t *) store_get (txn, CHUNKSTORE_TABLE, key, key_size, &size);
    bool held = value && s_packed_size (self, value, size) >= 0;
    free (value);
    return held;
}

int
chunkstore_touch (chunkstore_t *self, store_txn_t *txn, const uint8_t hash [32])
{
    assert (self && txn && hash);
    uint8_t key [S_KEY_MAX];
    size_t key_size = s_chunk_key (self, key, hash);
    size_t size;
    uint8_t *value = (uint8_t *) store_get (txn, CHUNKSTORE_TABLE, key, key_size, &size);
    int rc = value && size >= S_HEAD? s_stamp (self, txn, hash, value, size): -1;
    free (value);
    return rc? -1: s_totals_put (self, txn);
}

//  The held chunk's last use stamp, or 0 if not held
static uint64_t
s_last_use (chunkstore_t *self, store_txn_t *txn, const uint8_t hash [32])
{
    uint8_t key [S_KEY_MAX];
    size_t key_size = s_chunk_key (self, key, hash);
    size_t size;
    uint8_t *value = (uint8_t *) store_get (txn, CHUNKSTORE_TABLE, key, key_size, &size);
    uint64_t tick = value && size >= S_HEAD? proto_get_be64 (value): 0;
    free (value);
    return tick;
}

//  Pinning takes a chunk out of the eviction order; the last unpin of
//  a held chunk puts it back where its last use was
static int
s_pin (chunkstore_t *self, store_txn_t *txn, const uint8_t manifest_hash [32],
       const manifest_t *manifest, bool pin)
{
    assert (self && txn && manifest_hash && manifest);
    uint8_t key [S_KEY_MAX], lru [S_KEY_MAX];
    int rc = 0;
    for (size_t i = 0; i < manifest->chunk_count && rc == 0; i++) {
        const uint8_t *hash;
        manifest_chunk (manifest, i, &hash, NULL);
        size_t key_size = s_key (self, key, 'p', hash, S_ADDRESS, manifest_hash, S_ADDRESS);
        bool was_pinned = s_pinned (self, txn, hash);
        rc = pin? store_put (txn, CHUNKSTORE_TABLE, key, key_size, NULL, 0)
                : store_del (txn, CHUNKSTORE_TABLE, key, key_size) < 0? -1: 0;
        uint64_t tick = rc == 0? s_last_use (self, txn, hash): 0;
        if (tick && pin && !was_pinned) {
            size_t lru_size = s_lru_key (self, lru, tick, hash);
            rc = store_del (txn, CHUNKSTORE_TABLE, lru, lru_size) < 0? -1: 0;
        }
        else
        if (tick && !pin && was_pinned && !s_pinned (self, txn, hash)) {
            size_t lru_size = s_lru_key (self, lru, tick, hash);
            rc = store_put (txn, CHUNKSTORE_TABLE, lru, lru_size, NULL, 0);
        }
    }
    //  Unpinned chunks may be evicted now
    return rc || pin? rc: s_evict (self, txn);
}

int
chunkstore_pin (chunkstore_t *self, store_txn_t *txn, const uint8_t manifest_hash [32],
                const manifest_t *manifest)
{
    return s_pin (self, txn, manifest_hash, manifest, true);
}

int
chunkstore_unpin (chunkstore_t *self, store_txn_t *txn, const uint8_t manifest_hash [32],
                  const manifest_t *manifest)
{
    int rc = s_pin (self, txn, manifest_hash, manifest, false);
    return rc? rc: s_totals_put (self, txn);
}

int
chunkstore_undelta (chunkstore_t *self, store_txn_t *txn, const uint8_t *delta,
                    size_t delta_size, const uint8_t hash [32], uint8_t *out, size_t size)
{
    assert (self && txn && delta && hash && out);
    size_t base_count, frame_size;
    const uint8_t *bases, *frame;
    if (chunker_delta_split (delta, delta_size, &base_count, &bases, &frame, &frame_size))
        return PROTO_ERR_MALFORMED;
    //  The bases one after another, as the delta was made against them
    uint8_t *base = (uint8_t *) malloc (CHUNKER_DELTA_BASES * CHUNKER_MAX);
    assert (base);
    size_t base_size = 0;
    int rc = 0;
    for (size_t i = 0; i < base_count && rc == 0; i++) {
        size_t packed_size;
        uint32_t chunk_size;
        uint8_t *packed = chunkstore_get (self, txn, bases + 32 * i, &packed_size, &chunk_size);
        if (!packed || chunk_size == 0 || chunk_size > CHUNKER_MAX
        ||  chunker_unpack (packed, packed_size, bases + 32 * i, base + base_size, chunk_size))
            rc = -1;
        else
            base_size += chunk_size;
        free (packed);
    }
    if (rc == 0)
        rc = chunker_undelta (frame, frame_size, base, base_size, hash, out, size);
    free (base);
    return rc;
}

uint64_t
chunkstore_bytes (chunkstore_t *self)
{
    assert (self);
    return self->bytes;
}

uint64_t
chunkstore_count (chunkstore_t *self)
{
    assert (self);
    return self->count;
}

bool
chunkstore_over (chunkstore_t *self)
{
    assert (self);
    return self->over;
}
