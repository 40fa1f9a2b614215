/*  coordseq - sequence numbers of the coordinator's own envelopes
    Both streams reserve from one stored high-water mark,
    meta/seq_reserved: every number at or below it may have been used,
    so a reservation starts above it and writes its new end before any
    number of it leaves the process. One stored mark also keeps a
    database readable by releases that know only the global counter.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "coordinator/core/registry.h"
#include "coordinator/core/coordseq.h"

#define S_META_KEY  "seq_reserved"

struct _coordseq_t {
    store_t *store;                 //  Not owned
    uint32_t limit;                 //  Highest counter value per epoch
    uint64_t reserved;              //  Highest seq this run reserved
    uint64_t base;                  //  Epoch base: seq = base + counter
    uint64_t epochs;                //  Epochs reserved by this run
    uint64_t global_next;           //  Next global seq
    uint64_t global_end;            //  Last global seq of the block held
    uint8_t key [crypto_shorthash_KEYBYTES];    //  Destination hash key
    uint32_t counter [COORDSEQ_BUCKETS];        //  Last counter used per bucket
};

//  Reserve count numbers above everything reserved so far, in one
//  write. Returns the first, or 0 if the store fails or the space ends.
static uint64_t
s_reserve (coordseq_t *self, uint64_t count)
{
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn) {
        zsys_error ("coordseq: cannot reserve sequence numbers: store unavailable");
        return 0;
    }
    uint64_t stored = registry_meta_get (txn, S_META_KEY);
    uint64_t from = stored > self->reserved? stored: self->reserved;
    if (from > UINT64_MAX - count) {
        store_abort (&txn);
        zsys_error ("coordseq: sequence numbers exhausted");
        return 0;
    }
    int rc = registry_meta_put (txn, S_META_KEY, from + count);
    if (rc == 0)
        rc = store_commit (&txn);
    store_abort (&txn);
    if (rc) {
        zsys_error ("coordseq: cannot reserve sequence numbers: store write failed");
        return 0;
    }
    self->reserved = from + count;
    return from + 1;
}

//  A new epoch: every counter restarts above the last one's numbers
static int
s_new_epoch (coordseq_t *self)
{
    uint64_t first = s_reserve (self, self->limit);
    if (first == 0)
        return -1;
    self->base = first - 1;
    self->epochs++;
    memset (self->counter, 0, sizeof self->counter);
    return 0;
}

coordseq_t *
coordseq_new (store_t *store, uint32_t limit)
{
    assert (store && limit > 0);
    coordseq_t *self = (coordseq_t *) zmalloc (sizeof (coordseq_t));
    self->store = store;
    self->limit = limit;
    randombytes_buf (self->key, sizeof self->key);
    if (s_new_epoch (self)) {
        free (self);
        return NULL;
    }
    //  The global counter reserves its first block on first use
    self->global_next = 1;
    return self;
}

void
coordseq_destroy (coordseq_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

uint64_t
coordseq_next (coordseq_t *self, const char *dest)
{
    assert (self);
    if (!dest) {
        if (self->global_next > self->global_end) {
            uint64_t first = s_reserve (self, COORDSEQ_BLOCK);
            if (first == 0)
                return 0;
            self->global_next = first;
            self->global_end = first + COORDSEQ_BLOCK - 1;
        }
        return self->global_next++;
    }
    uint8_t hash [crypto_shorthash_BYTES];
    crypto_shorthash (hash, (const uint8_t *) dest, strlen (dest), self->key);
    size_t bucket = ((size_t) hash [0] | (size_t) hash [1] << 8) % COORDSEQ_BUCKETS;
    if (self->counter [bucket] >= self->limit && s_new_epoch (self))
        return 0;
    return self->base + ++self->counter [bucket];
}

uint64_t
coordseq_epochs (coordseq_t *self)
{
    assert (self);
    return self->epochs;
}

//  --------------------------------------------------------------------------
//  Selftest

#include "proto/replay.h"

static store_t *
s_test_store (const char *path)
{
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    return store;
}

static uint64_t
s_test_stored (store_t *store)
{
    store_txn_t *txn = store_begin (store, false);
    assert (txn);
    uint64_t value = registry_meta_get (txn, S_META_KEY);
    store_abort (&txn);
    return value;
}

void
coordseq_test (bool verbose)
{
    printf (" * coordseq: ");
    //  @selftest
    char path [] = "/tmp/weft-coordseq-test-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = s_test_store (path);

    //  A database of an older release: its single counter reserved up to
    //  5000, so nodes may hold windows near 5000
    store_txn_t *txn = store_begin (store, true);
    assert (registry_meta_put (txn, S_META_KEY, 5000) == 0);
    assert (store_commit (&txn) == 0);

    coordseq_t *seqs = coordseq_new (store, COORDSEQ_LIMIT);
    assert (seqs && coordseq_epochs (seqs) == 1);
    //  One write at open, past the whole epoch
    assert (s_test_stored (store) == 5000 + (uint64_t) COORDSEQ_LIMIT);

    //  Seqs to one device are dense, whatever goes to others between
    uint64_t x1 = coordseq_next (seqs, "dev-x");
    assert (x1 > 5000);
    for (int i = 0; i < 1000; i++) {
        char name [32];
        snprintf (name, sizeof name, "dev-%d", i);
        uint64_t seq = coordseq_next (seqs, name);
        assert (seq > 5000 && seq <= 5000 + (uint64_t) COORDSEQ_LIMIT);
        assert (coordseq_next (seqs, NULL) > 5000 + (uint64_t) COORDSEQ_LIMIT);
    }
    uint64_t x2 = coordseq_next (seqs, "dev-x");
    //  At most a few devices of 1,000 share its bucket of 65,536
    assert (x2 > x1 && x2 - x1 < 8);
    //  The global counter reserved one block, after the epoch
    assert (s_test_stored (store) == 5000 + (uint64_t) COORDSEQ_LIMIT + COORDSEQ_BLOCK);
    uint64_t last_global = coordseq_next (seqs, NULL);
    coordseq_destroy (&seqs);

    //  A restart: a new epoch above both streams of the last run
    seqs = coordseq_new (store, COORDSEQ_LIMIT);
    assert (seqs);
    uint64_t x3 = coordseq_next (seqs, "dev-x");
    assert (x3 > x2 && x3 > last_global);
    uint64_t global = coordseq_next (seqs, NULL);
    assert (global > x3);
    coordseq_destroy (&seqs);

    //  A counter at its limit reserves a new epoch: still increasing
    //  for every device, the others jump past the old epoch too
    uint64_t before = s_test_stored (store);
    seqs = coordseq_new (store, 3);
    uint64_t y1 = coordseq_next (seqs, "dev-y");
    assert (y1 == before + 1);
    uint64_t z1 = coordseq_next (seqs, "dev-z");
    assert (coordseq_next (seqs, "dev-y") == y1 + 1);
    assert (coordseq_next (seqs, "dev-y") == y1 + 2);
    assert (coordseq_epochs (seqs) == 1);
    uint64_t y4 = coordseq_next (seqs, "dev-y");
    assert (coordseq_epochs (seqs) == 2);
    assert (y4 > y1 + 2);
    uint64_t z2 = coordseq_next (seqs, "dev-z");
    assert (z2 > z1 && z2 > y1 + 2);
    coordseq_destroy (&seqs);

    //  The same key in a run: one device always lands in one bucket, and
    //  its frames in reverse pass its window (56 of them: a few of the
    //  2,800 others may share its bucket)
    seqs = coordseq_new (store, COORDSEQ_LIMIT);
    uint64_t mine [56];
    for (int i = 0; i < 56; i++) {
        mine [i] = coordseq_next (seqs, "dev-w");
        char name [32];
        for (int j = 0; j < 50; j++) {
            snprintf (name, sizeof name, "other-%d-%d", i, j);
            coordseq_next (seqs, name);
        }
    }
    replay_t window = { 0, 0 };
    //  A window fed by the old counter's frames, as nodes hold it
    assert (replay_accept (&window, 4990) == 0);
    for (int i = 55; i >= 0; i--)
        assert (replay_accept (&window, mine [i]) == 0);
    coordseq_destroy (&seqs);
    if (verbose)
        printf ("(window top %" PRIu64 ") ", window.top);

    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
