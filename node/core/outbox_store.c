/*  outbox_store - the outbox in OUTBOX_TABLE: what a previous run left,
    and the group commit of a burst
    Store layout, one entry per queued envelope:
        key   prefix || class (1 byte) || seq (u64 BE)
        value dest length (1 byte) || dest || id (16) || frame
    seq grows within a run and restarts above the highest stored one, so
    key order is FIFO order within a class and a restart keeps it.  */

#include "proto/corelib.h"
#include "node/core/outbox_internal.h"

//  --------------------------------------------------------------------------
//  Load what a previous run left.

typedef struct {
    outbox_t *self;
    int loaded;
} s_load_t;

static int
s_load_one (void *arg, const void *key, size_t key_size, const void *value,
            size_t value_size)
{
    s_load_t *load = (s_load_t *) arg;
    outbox_t *self = load->self;
    const uint8_t *k = (const uint8_t *) key;
    const uint8_t *v = (const uint8_t *) value;
    if (key_size != self->prefix_size + 9 || value_size < 1)
        return 0;
    int klass = k [self->prefix_size];
    size_t dest_size = v [0];
    if (klass >= OUTBOX_CLASSES || dest_size > OUTBOX_DEST_MAX
    ||  value_size < 1 + dest_size + WEFT_ID_SIZE + 1) {
        zsys_warning ("outbox: skipping a malformed stored entry");
        return 0;
    }
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = seq << 8 | k [self->prefix_size + 1 + i];
    outbox_held_t *entry = (outbox_held_t *) zmalloc (sizeof (outbox_held_t));
    entry->seq = seq;
    entry->pub.klass = klass;
    memcpy (entry->pub.dest, v + 1, dest_size);
    memcpy (entry->pub.id, v + 1 + dest_size, WEFT_ID_SIZE);
    entry->pub.size = value_size - 1 - dest_size - WEFT_ID_SIZE;
    entry->data = (uint8_t *) zmalloc (entry->pub.size);
    memcpy (entry->data, v + 1 + dest_size + WEFT_ID_SIZE, entry->pub.size);
    entry->pub.frame = entry->data;
    entry->pub.durable = true;
    char hex [2 * WEFT_ID_SIZE + 1];
    outbox_id_hex (entry->pub.id, hex);
    if (zhashx_lookup (self->by_id, hex)) {
        outbox_held_free (&entry);
        return 0;
    }
    entry->handle = zlistx_add_end (outbox_queue (self, klass), entry);
    zhashx_insert (self->by_id, hex, entry);
    outbox_dest_add (self, entry);
    retry_heap_push (&self->ready, entry);      //  Due now
    self->stats.depth [klass]++;
    if (seq >= self->next_seq)
        self->next_seq = seq + 1;
    load->loaded++;
    return 0;
}

int
outbox_load (outbox_t *self)
{
    assert (self);
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return -1;
    s_load_t load = { self, 0 };
    int rc = store_scan (txn, OUTBOX_TABLE, self->prefix, self->prefix_size,
                         s_load_one, &load);
    store_abort (&txn);
    return rc < 0? -1: load.loaded;
}

bool
outbox_dirty (outbox_t *self)
{
    assert (self);
    return zlistx_size (self->staged) > 0 || zlistx_size (self->deletes) > 0;
}

int
outbox_flush (outbox_t *self)
{
    assert (self);
    if (!outbox_dirty (self))
        return 0;
    store_txn_t *txn = store_begin (self->store, true);
    int rc = txn? 0: -1;
    outbox_del_t *del = (outbox_del_t *) zlistx_first (self->deletes);
    while (del && rc == 0) {
        if (store_del (txn, OUTBOX_TABLE, del->key, del->size) < 0)
            rc = -1;
        del = (outbox_del_t *) zlistx_next (self->deletes);
    }
    outbox_held_t *entry = (outbox_held_t *) zlistx_first (self->staged);
    while (entry && rc == 0) {
        uint8_t key [OUTBOX_KEY_MAX];
        size_t key_size = outbox_key (self, entry->pub.klass, entry->seq, key);
        size_t dest_size = strlen (entry->pub.dest);
        size_t size = 1 + dest_size + WEFT_ID_SIZE + entry->pub.size;
        //  Most frames fit the stack buffer: no allocation per entry
        uint8_t buffer [2048];
        uint8_t *value = size <= sizeof buffer? buffer: (uint8_t *) malloc (size);
        assert (value);
        value [0] = (uint8_t) dest_size;
        memcpy (value + 1, entry->pub.dest, dest_size);
        memcpy (value + 1 + dest_size, entry->pub.id, WEFT_ID_SIZE);
        memcpy (value + 1 + dest_size + WEFT_ID_SIZE, entry->pub.frame, entry->pub.size);
        rc = store_put (txn, OUTBOX_TABLE, key, key_size, value, size);
        if (value != buffer)
            free (value);
        entry = (outbox_held_t *) zlistx_next (self->staged);
    }
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    if (rc == 0) {
        del = (outbox_del_t *) zlistx_first (self->deletes);
        while (del) {
            free (del);
            del = (outbox_del_t *) zlistx_next (self->deletes);
        }
        zlistx_purge (self->deletes);
    }
    else
        self->stats.commit_failed++;
    //  Staged entries become durable, or are forgotten: never acknowledged
    entry = (outbox_held_t *) zlistx_first (self->staged);
    while (entry) {
        if (rc == 0) {
            entry->pub.durable = true;
            entry->handle = zlistx_add_end (outbox_queue (self, entry->pub.klass), entry);
            outbox_dest_add (self, entry);
            retry_heap_push (&self->ready, entry);  //  Due now (due_ms 0)
            self->stats.depth [entry->pub.klass]++;
            self->stats.staged++;
        }
        else {
            char hex [2 * WEFT_ID_SIZE + 1];
            outbox_id_hex (entry->pub.id, hex);
            zhashx_delete (self->by_id, hex);
            outbox_held_free (&entry);
        }
        entry = (outbox_held_t *) zlistx_next (self->staged);
    }
    zlistx_purge (self->staged);
    memset (self->staged_count, 0, sizeof self->staged_count);
    if (rc)
        zsys_warning ("outbox: commit failed; the burst is not acknowledged");
    return rc? -1: 0;
}
