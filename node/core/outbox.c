/*  outbox - the custody queue of a mesh node, durable in LMDB
    Store layout, table OUTBOX_TABLE, one entry per queued envelope:
        key   prefix || class (1 byte) || seq (u64 BE)
        value dest length (1 byte) || dest || id (16) || frame
    seq grows within a run and restarts above the highest stored one, so
    key order is FIFO order within a class and a restart keeps it.
    Memory holds one list per class (FIFO), a hash by id for ACKs, the
    staged entries of the current burst and the keys to delete.

    Scheduling index (memory only, rebuilt by outbox_load: every loaded
    entry is due at once): each durable entry is in exactly one of two
    binary heaps (proto/retry.h). `waiting` is ordered by due time (then class, seq) and
    holds entries not yet due; `ready` is ordered by class then seq
    (priority, FIFO) and holds entries due. outbox_due moves what became
    due from waiting to ready and returns ready's top, so a pump touches
    only due entries: O(k log n) for k due of n queued, never a walk.
    A third index, by destination (dest -> list of its durable entries),
    lets outbox_wake reach the k entries of one destination in
    O(k log n) instead of walking all n.  */

#include "proto/corelib.h"
#include "node/core/outbox.h"

#define OUTBOX_KEY_MAX      (WEFT_NAME_MAX + 1 + 1 + 8)

static const size_t s_default_limits [OUTBOX_CLASSES] = {
    20000,                          //  control
    20000,                          //  twin
    5000,                           //  evidence
    2000,                           //  telemetry
    1000                            //  bulk
};

typedef struct {
    outbox_entry_t pub;             //  What callers see
    uint64_t seq;                   //  Store key order
    uint8_t *data;                  //  Owned frame
    void *handle;                   //  Position in its class list
    retry_slot_t slot;              //  Position in waiting or ready
    void *dest_handle;              //  Position in its destination's list
} s_entry_t;

//  A store key to delete in the next flush
typedef struct {
    uint8_t key [OUTBOX_KEY_MAX];
    size_t size;
} s_del_t;

struct _outbox_t {
    store_t *store;                 //  Borrowed
    char prefix [WEFT_NAME_MAX + 1];    //  Key prefix
    size_t prefix_size;
    size_t limits [OUTBOX_CLASSES]; //  Entries per class
    zlistx_t *queues [OUTBOX_CLASSES];  //  s_entry_t, FIFO, durable
    zlistx_t *staged;               //  s_entry_t, not yet committed
    zlistx_t *deletes;              //  s_del_t
    zhashx_t *by_id;                //  id hex -> s_entry_t (durable and staged)
    uint64_t next_seq;              //  Next store seq
    retry_heap_t waiting;           //  Durable, not yet due: by due time
    retry_heap_t ready;             //  Durable, due: by class, then seq
    zhashx_t *by_dest;              //  dest -> zlistx_t of durable s_entry_t
    size_t staged_count [OUTBOX_CLASSES];   //  Staged entries per class
    outbox_stats_t stats;
    int iter_class;                 //  Iteration state
};

//  --------------------------------------------------------------------------
//  Scheduling heaps

//  Heap orders (proto/retry.h): priority then FIFO among due entries;
//  due time first among waiting ones
static bool
s_ready_before (const void *a_, const void *b_)
{
    const s_entry_t *a = (const s_entry_t *) a_, *b = (const s_entry_t *) b_;
    if (a->pub.klass != b->pub.klass)
        return a->pub.klass < b->pub.klass;
    return a->seq < b->seq;
}

static bool
s_waiting_before (const void *a_, const void *b_)
{
    const s_entry_t *a = (const s_entry_t *) a_, *b = (const s_entry_t *) b_;
    if (a->pub.due_ms != b->pub.due_ms)
        return a->pub.due_ms < b->pub.due_ms;
    return s_ready_before (a, b);
}

//  Put a durable entry in the heap its due time asks for
static void
s_unschedule (outbox_t *self, s_entry_t *entry)
{
    (void) self;
    if (entry->slot.heap)
        retry_heap_remove (entry->slot.heap, entry);
}

static void
s_schedule (outbox_t *self, s_entry_t *entry, uint64_t now_ms)
{
    s_unschedule (self, entry);
    retry_heap_push (entry->pub.due_ms <= now_ms? &self->ready: &self->waiting, entry);
}

//  --------------------------------------------------------------------------
//  Index by destination (durable entries only)

static void
s_dest_add (outbox_t *self, s_entry_t *entry)
{
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->by_dest, entry->pub.dest);
    if (!list) {
        list = zlistx_new ();
        zhashx_insert (self->by_dest, entry->pub.dest, list);
    }
    entry->dest_handle = zlistx_add_end (list, entry);
}

static void
s_dest_remove (outbox_t *self, s_entry_t *entry)
{
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->by_dest, entry->pub.dest);
    assert (list && entry->dest_handle);
    zlistx_delete (list, entry->dest_handle);
    entry->dest_handle = NULL;
    if (zlistx_size (list) == 0)
        zhashx_delete (self->by_dest, entry->pub.dest);
}

static void
s_dest_list_free (void **item)
{
    zlistx_destroy ((zlistx_t **) item);
}

//  --------------------------------------------------------------------------

static size_t
s_key (outbox_t *self, int klass, uint64_t seq, uint8_t *key)
{
    memcpy (key, self->prefix, self->prefix_size);
    key [self->prefix_size] = (uint8_t) klass;
    for (int i = 0; i < 8; i++)
        key [self->prefix_size + 1 + i] = (uint8_t) (seq >> (56 - 8 * i));
    return self->prefix_size + 9;
}

static void
s_entry_free (s_entry_t **entry_p)
{
    if (*entry_p) {
        free ((*entry_p)->data);
        free (*entry_p);
        *entry_p = NULL;
    }
}

static void
s_id_hex (const uint8_t *id, char *hex)
{
    static const char digits [] = "0123456789abcdef";
    for (int i = 0; i < WEFT_ID_SIZE; i++) {
        hex [2 * i] = digits [id [i] >> 4];
        hex [2 * i + 1] = digits [id [i] & 15];
    }
    hex [2 * WEFT_ID_SIZE] = 0;
}

outbox_t *
outbox_new (store_t *store, const char *prefix, const size_t *limits)
{
    assert (store);
    outbox_t *self = (outbox_t *) zmalloc (sizeof (outbox_t));
    self->store = store;
    snprintf (self->prefix, sizeof self->prefix, "%s", prefix? prefix: "");
    self->prefix_size = strlen (self->prefix);
    for (int c = 0; c < OUTBOX_CLASSES; c++) {
        self->limits [c] = limits && limits [c]? limits [c]: s_default_limits [c];
        self->queues [c] = zlistx_new ();
    }
    self->staged = zlistx_new ();
    self->deletes = zlistx_new ();
    self->by_id = zhashx_new ();
    self->by_dest = zhashx_new ();
    zhashx_set_destructor (self->by_dest, s_dest_list_free);
    self->next_seq = 1;
    retry_heap_init (&self->waiting, s_waiting_before, offsetof (s_entry_t, slot));
    retry_heap_init (&self->ready, s_ready_before, offsetof (s_entry_t, slot));
    return self;
}

void
outbox_destroy (outbox_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        outbox_t *self = *self_p;
        for (int c = 0; c < OUTBOX_CLASSES; c++) {
            s_entry_t *entry = (s_entry_t *) zlistx_first (self->queues [c]);
            while (entry) {
                s_entry_free (&entry);
                entry = (s_entry_t *) zlistx_next (self->queues [c]);
            }
            zlistx_destroy (&self->queues [c]);
        }
        s_entry_t *entry = (s_entry_t *) zlistx_first (self->staged);
        while (entry) {
            s_entry_free (&entry);
            entry = (s_entry_t *) zlistx_next (self->staged);
        }
        zlistx_destroy (&self->staged);
        s_del_t *del = (s_del_t *) zlistx_first (self->deletes);
        while (del) {
            free (del);
            del = (s_del_t *) zlistx_next (self->deletes);
        }
        zlistx_destroy (&self->deletes);
        zhashx_destroy (&self->by_id);
        zhashx_destroy (&self->by_dest);
        retry_heap_free (&self->waiting);
        retry_heap_free (&self->ready);
        free (self);
        *self_p = NULL;
    }
}

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
    s_entry_t *entry = (s_entry_t *) zmalloc (sizeof (s_entry_t));
    entry->seq = seq;
    entry->pub.klass = klass;
    memcpy (entry->pub.dest, v + 1, dest_size);
    memcpy (entry->pub.id, v + 1 + dest_size, WEFT_ID_SIZE);
    entry->pub.size = value_size - 1 - dest_size - WEFT_ID_SIZE;
    entry->data = (uint8_t *) zmalloc (entry->pub.size);
    memcpy (entry->data, v + 1 + dest_size + WEFT_ID_SIZE, entry->pub.size);
    entry->pub.frame = entry->data;
    entry->pub.backoff_ms = OUTBOX_RETRY_MIN_MS;
    entry->pub.durable = true;
    char hex [2 * WEFT_ID_SIZE + 1];
    s_id_hex (entry->pub.id, hex);
    if (zhashx_lookup (self->by_id, hex)) {
        s_entry_free (&entry);
        return 0;
    }
    entry->handle = zlistx_add_end (self->queues [klass], entry);
    zhashx_insert (self->by_id, hex, entry);
    s_dest_add (self, entry);
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

//  --------------------------------------------------------------------------
//  Stage, ack, flush.

//  Drop the oldest entry of a droppable class to make room.
static bool
s_drop_oldest (outbox_t *self, int klass)
{
    s_entry_t *entry = (s_entry_t *) zlistx_first (self->queues [klass]);
    if (!entry)
        return false;
    outbox_ack (self, entry->pub.id);
    self->stats.acked--;            //  Not an ACK: a drop
    self->stats.dropped_full++;
    return true;
}

int
outbox_stage (outbox_t *self, int klass, const char *dest,
              const uint8_t id [WEFT_ID_SIZE], const uint8_t *frame, size_t size)
{
    assert (self && dest && id && frame);
    if (klass < 0 || klass >= OUTBOX_CLASSES || strlen (dest) > OUTBOX_DEST_MAX
    ||  size == 0)
        return -1;
    char hex [2 * WEFT_ID_SIZE + 1];
    s_id_hex (id, hex);
    if (zhashx_lookup (self->by_id, hex)) {
        self->stats.duplicates++;
        return 0;
    }
    size_t held = zlistx_size (self->queues [klass]) + self->staged_count [klass];
    if (held >= self->limits [klass]) {
        bool droppable = klass == OUTBOX_TELEMETRY || klass == OUTBOX_BULK;
        if (!droppable || !s_drop_oldest (self, klass)) {
            self->stats.refused_full++;
            return 1;
        }
    }
    s_entry_t *entry = (s_entry_t *) zmalloc (sizeof (s_entry_t));
    entry->seq = self->next_seq++;
    entry->pub.klass = klass;
    snprintf (entry->pub.dest, sizeof entry->pub.dest, "%s", dest);
    memcpy (entry->pub.id, id, WEFT_ID_SIZE);
    entry->data = (uint8_t *) zmalloc (size);
    memcpy (entry->data, frame, size);
    entry->pub.frame = entry->data;
    entry->pub.size = size;
    entry->pub.backoff_ms = OUTBOX_RETRY_MIN_MS;
    entry->handle = zlistx_add_end (self->staged, entry);
    zhashx_insert (self->by_id, hex, entry);
    self->staged_count [klass]++;
    return 0;
}

int
outbox_ack (outbox_t *self, const uint8_t id [WEFT_ID_SIZE])
{
    assert (self && id);
    char hex [2 * WEFT_ID_SIZE + 1];
    s_id_hex (id, hex);
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->by_id, hex);
    if (!entry || !entry->pub.durable)
        return -1;                  //  Unknown, or an ACK before our own commit
    s_del_t *del = (s_del_t *) zmalloc (sizeof (s_del_t));
    del->size = s_key (self, entry->pub.klass, entry->seq, del->key);
    zlistx_add_end (self->deletes, del);
    zlistx_delete (self->queues [entry->pub.klass], entry->handle);
    s_unschedule (self, entry);
    s_dest_remove (self, entry);
    zhashx_delete (self->by_id, hex);
    self->stats.depth [entry->pub.klass]--;
    self->stats.acked++;
    s_entry_free (&entry);
    return 0;
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
    s_del_t *del = (s_del_t *) zlistx_first (self->deletes);
    while (del && rc == 0) {
        if (store_del (txn, OUTBOX_TABLE, del->key, del->size) < 0)
            rc = -1;
        del = (s_del_t *) zlistx_next (self->deletes);
    }
    s_entry_t *entry = (s_entry_t *) zlistx_first (self->staged);
    while (entry && rc == 0) {
        uint8_t key [OUTBOX_KEY_MAX];
        size_t key_size = s_key (self, entry->pub.klass, entry->seq, key);
        size_t dest_size = strlen (entry->pub.dest);
        size_t size = 1 + dest_size + WEFT_ID_SIZE + entry->pub.size;
        uint8_t *value = (uint8_t *) zmalloc (size);
        value [0] = (uint8_t) dest_size;
        memcpy (value + 1, entry->pub.dest, dest_size);
        memcpy (value + 1 + dest_size, entry->pub.id, WEFT_ID_SIZE);
        memcpy (value + 1 + dest_size + WEFT_ID_SIZE, entry->pub.frame, entry->pub.size);
        rc = store_put (txn, OUTBOX_TABLE, key, key_size, value, size);
        free (value);
        entry = (s_entry_t *) zlistx_next (self->staged);
    }
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    if (rc == 0) {
        del = (s_del_t *) zlistx_first (self->deletes);
        while (del) {
            free (del);
            del = (s_del_t *) zlistx_next (self->deletes);
        }
        zlistx_purge (self->deletes);
    }
    else
        self->stats.commit_failed++;
    //  Staged entries become durable, or are forgotten: never acknowledged
    entry = (s_entry_t *) zlistx_first (self->staged);
    while (entry) {
        if (rc == 0) {
            entry->pub.durable = true;
            entry->handle = zlistx_add_end (self->queues [entry->pub.klass], entry);
            s_dest_add (self, entry);
            retry_heap_push (&self->ready, entry);  //  Due now (due_ms 0)
            self->stats.depth [entry->pub.klass]++;
            self->stats.staged++;
        }
        else {
            char hex [2 * WEFT_ID_SIZE + 1];
            s_id_hex (entry->pub.id, hex);
            zhashx_delete (self->by_id, hex);
            s_entry_free (&entry);
        }
        entry = (s_entry_t *) zlistx_next (self->staged);
    }
    zlistx_purge (self->staged);
    memset (self->staged_count, 0, sizeof self->staged_count);
    if (rc)
        zsys_warning ("outbox: commit failed; the burst is not acknowledged");
    return rc? -1: 0;
}

//  --------------------------------------------------------------------------
//  Iteration and scheduling.

outbox_entry_t *
outbox_first (outbox_t *self)
{
    assert (self);
    for (self->iter_class = 0; self->iter_class < OUTBOX_CLASSES; self->iter_class++) {
        s_entry_t *entry = (s_entry_t *) zlistx_first (self->queues [self->iter_class]);
        if (entry)
            return &entry->pub;
    }
    return NULL;
}

outbox_entry_t *
outbox_next (outbox_t *self)
{
    assert (self);
    if (self->iter_class >= OUTBOX_CLASSES)
        return NULL;
    s_entry_t *entry = (s_entry_t *) zlistx_next (self->queues [self->iter_class]);
    while (!entry) {
        if (++self->iter_class >= OUTBOX_CLASSES)
            return NULL;
        entry = (s_entry_t *) zlistx_first (self->queues [self->iter_class]);
    }
    return &entry->pub;
}

void
outbox_sent (outbox_t *self, outbox_entry_t *entry, uint64_t now_ms)
{
    assert (self && entry);
    if (entry->sends > 0)
        self->stats.retransmits++;
    entry->sends++;
    entry->due_ms = now_ms + entry->backoff_ms;
    entry->backoff_ms = retry_backoff_next (entry->backoff_ms);
    if (entry->durable)
        s_schedule (self, (s_entry_t *) entry, now_ms);
}

void
outbox_defer (outbox_t *self, outbox_entry_t *entry, uint64_t now_ms, uint64_t delay_ms)
{
    assert (self && entry);
    entry->due_ms = now_ms + (delay_ms? delay_ms: 1);
    if (entry->durable)
        s_schedule (self, (s_entry_t *) entry, now_ms);
}

outbox_entry_t *
outbox_due (outbox_t *self, uint64_t now_ms)
{
    assert (self);
    s_entry_t *entry;
    while ((entry = (s_entry_t *) retry_heap_top (&self->waiting))
    &&     entry->pub.due_ms <= now_ms) {
        retry_heap_remove (&self->waiting, entry);
        retry_heap_push (&self->ready, entry);
    }
    entry = (s_entry_t *) retry_heap_top (&self->ready);
    if (!entry)
        return NULL;
    self->stats.visited++;
    return &entry->pub;
}

static void
s_wake (outbox_t *self, s_entry_t *entry)
{
    self->stats.woken++;
    entry->pub.backoff_ms = OUTBOX_RETRY_MIN_MS;
    if (entry->pub.due_ms != 0) {
        entry->pub.due_ms = 0;
        s_schedule (self, entry, 0);
    }
}

void
outbox_wake (outbox_t *self, const char *dest)
{
    assert (self);
    if (!dest) {
        for (outbox_entry_t *entry = outbox_first (self); entry; entry = outbox_next (self))
            s_wake (self, (s_entry_t *) entry);
        return;
    }
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->by_dest, dest);
    if (list)
        for (s_entry_t *entry = (s_entry_t *) zlistx_first (list); entry;
             entry = (s_entry_t *) zlistx_next (list))
            s_wake (self, entry);
}

uint64_t
outbox_deadline (outbox_t *self)
{
    assert (self);
    uint64_t next = 0;
    s_entry_t *first = (s_entry_t *) retry_heap_top (&self->waiting);
    if (first)
        next = first->pub.due_ms;
    if (retry_heap_top (&self->ready))
        next = 1;                   //  Something is due already
    return next;
}

size_t
outbox_size (outbox_t *self)
{
    assert (self);
    return zhashx_size (self->by_id);
}

const outbox_stats_t *
outbox_stats (outbox_t *self)
{
    assert (self);
    return &self->stats;
}

//  --------------------------------------------------------------------------
//  Selftest

void
outbox_test (bool verbose)
{
    printf (" * outbox: ");
    //  @selftest
    char dir [] = "/tmp/weft-outbox-test.XXXXXX";
    assert (mkdtemp (dir));
    const char *tables [] = { OUTBOX_TABLE, NULL };
    store_t *store = store_new (dir, tables, 0);
    //  The open environment outlives its directory: remove it now, so a
    //  failed assertion leaves nothing behind
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    assert (store);
    size_t limits [OUTBOX_CLASSES] = { 3, 3, 3, 2, 2 };
    outbox_t *outbox = outbox_new (store, "n1/", limits);
    assert (outbox_load (outbox) == 0);
    uint8_t id [WEFT_ID_SIZE];
    const uint8_t frame [] = "envelope";

    //  Staged entries are invisible until committed; one commit for all
    for (int i = 0; i < 3; i++) {
        memset (id, i + 1, sizeof id);
        assert (outbox_stage (outbox, OUTBOX_TWIN, "coordinator", id, frame, 8) == 0);
    }
    memset (id, 9, sizeof id);
    assert (outbox_stage (outbox, OUTBOX_CONTROL, "gw-2", id, frame, 8) == 0);
    assert (outbox_first (outbox) == NULL);
    assert (outbox_ack (outbox, id) == -1);     //  Not durable yet
    assert (outbox_dirty (outbox));
    assert (outbox_flush (outbox) == 0);
    assert (!outbox_dirty (outbox));
    assert (outbox_size (outbox) == 4);
    //  Priority, then FIFO
    outbox_entry_t *entry = outbox_first (outbox);
    assert (entry && entry->klass == OUTBOX_CONTROL && streq (entry->dest, "gw-2"));
    entry = outbox_next (outbox);
    assert (entry && entry->klass == OUTBOX_TWIN && entry->id [0] == 1);
    entry = outbox_next (outbox);
    assert (entry && entry->id [0] == 2);
    outbox_sent (outbox, entry, 1000);
    assert (entry->due_ms == 1000 + OUTBOX_RETRY_MIN_MS);
    outbox_sent (outbox, entry, 2000);
    assert (entry->due_ms == 2000 + 2 * OUTBOX_RETRY_MIN_MS);
    assert (outbox_stats (outbox)->retransmits == 1);
    entry = outbox_next (outbox);
    assert (entry && entry->id [0] == 3);
    assert (outbox_next (outbox) == NULL);

    //  Twin is full: back-pressure; a duplicate is accepted silently
    memset (id, 4, sizeof id);
    assert (outbox_stage (outbox, OUTBOX_TWIN, "coordinator", id, frame, 8) == 1);
    assert (outbox_stats (outbox)->refused_full == 1);
    memset (id, 1, sizeof id);
    assert (outbox_stage (outbox, OUTBOX_TWIN, "coordinator", id, frame, 8) == 0);
    assert (outbox_stats (outbox)->duplicates == 1);
    //  Telemetry drops its oldest
    for (int i = 0; i < 3; i++) {
        memset (id, 0x20 + i, sizeof id);
        assert (outbox_stage (outbox, OUTBOX_TELEMETRY, "coordinator", id, frame, 8) == 0);
        assert (outbox_flush (outbox) == 0);
    }
    assert (outbox_stats (outbox)->dropped_full == 1);
    assert (outbox_stats (outbox)->depth [OUTBOX_TELEMETRY] == 2);

    //  ACK, then a failed commit: the delete stays pending, the staged
    //  entry is forgotten (its sender still holds it)
    memset (id, 1, sizeof id);
    assert (outbox_ack (outbox, id) == 0);
    assert (outbox_ack (outbox, id) == -1);
    memset (id, 5, sizeof id);
    assert (outbox_stage (outbox, OUTBOX_TWIN, "coordinator", id, frame, 8) == 0);
    store_fail_after (store, 1);
    assert (outbox_flush (outbox) == -1);
    store_fail_after (store, 0);
    assert (outbox_stats (outbox)->commit_failed == 1);
    assert (outbox_ack (outbox, id) == -1);     //  Never became durable
    assert (outbox_dirty (outbox));             //  The delete waits
    assert (outbox_flush (outbox) == 0);

    //  Restart: everything durable comes back in order, nothing else
    size_t before = outbox_size (outbox);
    outbox_destroy (&outbox);
    outbox_destroy (&outbox);
    outbox = outbox_new (store, "n1/", limits);
    assert (outbox_load (outbox) == (int) before);
    entry = outbox_first (outbox);
    assert (entry->klass == OUTBOX_CONTROL);
    entry = outbox_next (outbox);
    assert (entry->klass == OUTBOX_TWIN && entry->id [0] == 2);
    assert (entry->size == 8 && memcmp (entry->frame, frame, 8) == 0);
    assert (outbox_deadline (outbox) == 1);     //  Due now
    //  Another prefix sees nothing
    outbox_t *other = outbox_new (store, "n2/", NULL);
    assert (outbox_load (other) == 0);
    outbox_destroy (&other);
    outbox_destroy (&outbox);

    //  The due index: with many entries pending but not due, a pump
    //  touches none of them, and only the due ones when they are due
    outbox = outbox_new (store, "n3/", NULL);
    assert (outbox_load (outbox) == 0);
    for (int i = 0; i < 1000; i++) {
        memset (id, 0, sizeof id);
        id [0] = 0x30;
        id [1] = (uint8_t) (i >> 8);
        id [2] = (uint8_t) i;
        assert (outbox_stage (outbox, i % 2? OUTBOX_TELEMETRY: OUTBOX_TWIN,
                              "coordinator", id, frame, 8) == 0);
    }
    assert (outbox_flush (outbox) == 0);
    //  All due now: served by priority, then FIFO; each sent once at
    //  10,000 + i, so entry i is due again at 11,000 + i
    uint64_t visited = outbox_stats (outbox)->visited;
    uint64_t now = 10000;
    int last_class = 0, count = 0;
    while ((entry = outbox_due (outbox, now))) {
        assert (entry->klass >= last_class);
        last_class = entry->klass;
        outbox_sent (outbox, entry, now + count);
        count++;
    }
    assert (count == 1000);
    assert (outbox_stats (outbox)->visited - visited == 1000);
    assert (outbox_deadline (outbox) == 11000);
    //  Nothing due: no entry visited
    visited = outbox_stats (outbox)->visited;
    for (uint64_t t = 10000; t < 11000; t += 100)
        assert (outbox_due (outbox, t) == NULL);
    assert (outbox_stats (outbox)->visited == visited);
    //  Ten due: exactly those ten visited; one deferred, one acked
    count = 0;
    while ((entry = outbox_due (outbox, 11009))) {
        if (count == 0)
            outbox_defer (outbox, entry, 11009, 500);
        else
        if (count == 1)
            assert (outbox_ack (outbox, entry->id) == 0);
        else
            outbox_sent (outbox, entry, 11009);
        count++;
    }
    assert (count == 10);
    assert (outbox_stats (outbox)->visited - visited == 10);
    assert (outbox_deadline (outbox) == 11010);
    //  wake makes everything due at once
    outbox_wake (outbox, "coordinator");
    assert (outbox_deadline (outbox) == 1);
    count = 0;
    while ((entry = outbox_due (outbox, 11010))) {
        assert (outbox_ack (outbox, entry->id) == 0);
        count++;
    }
    assert (count == 999);
    assert (outbox_size (outbox) == 0 && outbox_deadline (outbox) == 0);
    assert (outbox_flush (outbox) == 0);
    outbox_destroy (&outbox);

    //  A wake for one destination touches only that destination's
    //  entries, however many others wait; acked ones leave the index,
    //  and a reload rebuilds it
    outbox = outbox_new (store, "n4/", NULL);
    assert (outbox_load (outbox) == 0);
    for (int i = 0; i < 1003; i++) {
        memset (id, 0, sizeof id);
        id [0] = 0x40;
        id [1] = (uint8_t) (i >> 8);
        id [2] = (uint8_t) i;
        assert (outbox_stage (outbox, OUTBOX_TWIN, i < 1000? "dev-a": i < 1002? "coordinator"
                                                   : "dev-b", id, frame, 8) == 0);
    }
    outbox_wake (outbox, "coordinator");     //  Staged entries are not durable yet
    assert (outbox_stats (outbox)->woken == 0);
    assert (outbox_flush (outbox) == 0);
    while ((entry = outbox_due (outbox, 20000)))
        outbox_sent (outbox, entry, 20000);
    assert (outbox_deadline (outbox) == 21000);
    outbox_wake (outbox, "coordinator");
    assert (outbox_stats (outbox)->woken == 2);
    assert (outbox_deadline (outbox) == 1);
    count = 0;
    while ((entry = outbox_due (outbox, 20001))) {
        assert (streq (entry->dest, "coordinator") && entry->backoff_ms == OUTBOX_RETRY_MIN_MS);
        assert (outbox_ack (outbox, entry->id) == 0);
        count++;
    }
    assert (count == 2 && outbox_deadline (outbox) == 21000);
    outbox_wake (outbox, "coordinator");
    outbox_wake (outbox, "nobody");
    assert (outbox_stats (outbox)->woken == 2 && outbox_deadline (outbox) == 21000);
    outbox_wake (outbox, "dev-b");
    assert (outbox_stats (outbox)->woken == 3);
    assert ((entry = outbox_due (outbox, 20002)) && streq (entry->dest, "dev-b"));
    assert (outbox_flush (outbox) == 0);
    outbox_destroy (&outbox);
    outbox = outbox_new (store, "n4/", NULL);
    assert (outbox_load (outbox) == 1001);
    while ((entry = outbox_due (outbox, 30000)))
        outbox_sent (outbox, entry, 30000);
    outbox_wake (outbox, "dev-b");
    assert (outbox_stats (outbox)->woken == 1);
    outbox_wake (outbox, NULL);     //  Everything: still a walk
    assert (outbox_stats (outbox)->woken == 1002);
    outbox_destroy (&outbox);
    store_destroy (&store);
    if (verbose)
        printf ("(%zu entries) ", before);
    //  @end
    printf ("OK\n");
}
