/*  nonces - replay protection for operator requests by request id
    Keys hold raw bytes; origins are names without NUL, so "origin NUL"
    never collides with another origin's keys.  */

#include "proto/corelib.h"
#include "coordinator/core/nonces.h"

#define S_ID_KEY_MAX    (WEFT_NAME_MAX + 1 + WEFT_ID_SIZE)

//  "origin NUL id" (id NULL: the count key "origin NUL")
static size_t
s_id_key (uint8_t *key, const char *origin, const uint8_t *id)
{
    size_t len = strlen (origin);
    memcpy (key, origin, len);
    key [len++] = 0;
    if (id) {
        memcpy (key + len, id, WEFT_ID_SIZE);
        len += WEFT_ID_SIZE;
    }
    return len;
}

static uint64_t
s_count (store_txn_t *txn, const uint8_t *key, size_t key_size)
{
    size_t size;
    uint8_t *data = (uint8_t *) store_get (txn, "rpc_ids", key, key_size, &size);
    uint64_t count = data && size == 8? proto_get_be64 (data): 0;
    free (data);
    return count;
}

static int
s_set_count (store_txn_t *txn, const uint8_t *key, size_t key_size, uint64_t count)
{
    if (count == 0)
        return store_del (txn, "rpc_ids", key, key_size) < 0? -1: 0;
    uint8_t value [8];
    proto_put_be64 (value, count);
    return store_put (txn, "rpc_ids", key, key_size, value, 8);
}

typedef struct {
    uint64_t now_ms;
    size_t max;
    zlistx_t *keys;                 //  zchunk_t * of expired rpc_expiry keys
} s_prune_t;

static int
s_prune_one (void *arg, const void *key, size_t key_size, const void *value,
             size_t value_size)
{
    (void) value;
    (void) value_size;
    s_prune_t *self = (s_prune_t *) arg;
    if (key_size < 8 || proto_get_be64 ((const uint8_t *) key) > self->now_ms
    ||  zlistx_size (self->keys) >= self->max)
        return 1;                   //  Sorted by expiry: the rest is live
    zlistx_add_end (self->keys, zchunk_new (key, key_size));
    return 0;
}

static void
s_chunk_free (void **item_p)
{
    zchunk_destroy ((zchunk_t **) item_p);
}

int
nonces_prune (store_txn_t *txn, uint64_t now_ms, size_t max)
{
    s_prune_t prune = { now_ms, max, zlistx_new () };
    zlistx_set_destructor (prune.keys, s_chunk_free);
    int rc = store_scan (txn, "rpc_expiry", "", 0, s_prune_one, &prune) < 0? -1: 0;
    int removed = 0;
    for (zchunk_t *chunk = (zchunk_t *) zlistx_first (prune.keys); chunk && rc == 0;
         chunk = (zchunk_t *) zlistx_next (prune.keys)) {
        //  expiry (8) origin NUL id (16)
        const uint8_t *key = zchunk_data (chunk);
        size_t size = zchunk_size (chunk);
        rc = store_del (txn, "rpc_expiry", key, size) < 0? -1: 0;
        if (rc || size <= 8 + WEFT_ID_SIZE)
            continue;
        const uint8_t *id_key = key + 8;
        size_t id_key_size = size - 8;
        rc = store_del (txn, "rpc_ids", id_key, id_key_size) < 0? -1: 0;
        size_t count_key_size = id_key_size - WEFT_ID_SIZE;
        if (rc == 0)
            rc = s_set_count (txn, id_key, count_key_size,
                              s_count (txn, id_key, count_key_size) - 1);
        removed++;
    }
    zlistx_destroy (&prune.keys);
    return rc? -1: removed;
}

nonces_status_t
nonces_check (store_txn_t *txn, const char *origin, const uint8_t id [WEFT_ID_SIZE],
              uint64_t expiry_ms, uint64_t now_ms)
{
    assert (txn && origin && id);
    if (strlen (origin) == 0 || strlen (origin) > WEFT_NAME_MAX)
        return NONCES_ERROR;
    if (expiry_ms <= now_ms || expiry_ms > now_ms + NONCES_TTL_MAX_MS)
        return NONCES_NO_EXPIRY;
    if (nonces_prune (txn, now_ms, NONCES_PRUNE_BATCH) < 0)
        return NONCES_ERROR;
    uint8_t key [S_ID_KEY_MAX];
    size_t key_size = s_id_key (key, origin, id);
    size_t size;
    void *seen = store_get (txn, "rpc_ids", key, key_size, &size);
    free (seen);
    if (seen)
        return NONCES_REPLAY;
    uint8_t count_key [S_ID_KEY_MAX];
    size_t count_key_size = s_id_key (count_key, origin, NULL);
    uint64_t count = s_count (txn, count_key, count_key_size);
    if (count >= NONCES_PER_ORIGIN_MAX)
        return NONCES_FULL;
    uint8_t value [8];
    proto_put_be64 (value, expiry_ms);
    uint8_t expiry_key [8 + S_ID_KEY_MAX];
    memcpy (expiry_key, value, 8);
    memcpy (expiry_key + 8, key, key_size);
    if (store_put (txn, "rpc_ids", key, key_size, value, 8)
    ||  store_put (txn, "rpc_expiry", expiry_key, 8 + key_size, "", 0)
    ||  s_set_count (txn, count_key, count_key_size, count + 1))
        return NONCES_ERROR;
    return NONCES_OK;
}

//  --------------------------------------------------------------------------
//  Selftest

void
nonces_test (bool verbose)
{
    printf (" * nonces: ");
    (void) verbose;
    //  @selftest
    static const char *tables [] = { "rpc_ids", "rpc_expiry", NULL };
    char path [] = "/tmp/weft-nonces-test-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = store_new (path, tables, 0);
    assert (store);
    uint64_t now = 1700000000000ULL;
    uint8_t a [WEFT_ID_SIZE], b [WEFT_ID_SIZE];
    memset (a, 1, sizeof a);
    memset (b, 2, sizeof b);

    store_txn_t *txn = store_begin (store, true);
    assert (nonces_check (txn, "alice", a, 0, now) == NONCES_NO_EXPIRY);
    assert (nonces_check (txn, "alice", a, now, now) == NONCES_NO_EXPIRY);
    assert (nonces_check (txn, "alice", a, now + NONCES_TTL_MAX_MS + 1, now)
            == NONCES_NO_EXPIRY);
    assert (nonces_check (txn, "alice", a, now + 10000, now) == NONCES_OK);
    //  Out of order and in parallel: any fresh id is fine
    assert (nonces_check (txn, "alice", b, now + 5000, now) == NONCES_OK);
    assert (nonces_check (txn, "bob", a, now + 5000, now) == NONCES_OK);
    assert (store_commit (&txn) == 0);

    //  Replays refused, also after reopening the store
    store_destroy (&store);
    store = store_new (path, tables, 0);
    txn = store_begin (store, true);
    assert (nonces_check (txn, "alice", a, now + 10000, now + 1) == NONCES_REPLAY);
    assert (nonces_check (txn, "alice", b, now + 5000, now + 1) == NONCES_REPLAY);
    //  Pruned once expired: b and bob's a at now + 5000
    assert (nonces_prune (txn, now + 5000, 64) == 2);
    assert (store_count (txn, "rpc_expiry") == 1);
    assert (store_count (txn, "rpc_ids") == 2);         //  alice's a and count
    assert (nonces_prune (txn, now + 10000, 64) == 1);
    assert (store_count (txn, "rpc_expiry") == 0);
    assert (store_count (txn, "rpc_ids") == 0);
    store_abort (&txn);

    //  The bound per operator
    txn = store_begin (store, true);
    uint8_t id [WEFT_ID_SIZE];
    memset (id, 0, sizeof id);
    for (int i = 0; i < NONCES_PER_ORIGIN_MAX; i++) {
        id [0] = (uint8_t) i;
        id [1] = (uint8_t) (i >> 8);
        id [2] = (uint8_t) (i >> 16);
        assert (nonces_check (txn, "carol", id, now + 30000, now) == NONCES_OK);
    }
    id [3] = 1;
    assert (nonces_check (txn, "carol", id, now + 30000, now) == NONCES_FULL);
    assert (nonces_check (txn, "dave", id, now + 30000, now) == NONCES_OK);
    //  A check later prunes a batch, making room again
    assert (nonces_check (txn, "carol", id, now + 60000, now + 30000) == NONCES_OK);
    store_abort (&txn);

    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
