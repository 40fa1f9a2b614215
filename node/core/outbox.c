/*  outbox - the custody queue of a mesh node, durable in LMDB
    Memory holds one list per class (FIFO), a hash by id for ACKs, the
    staged entries of the current burst and the keys to delete; the
    store side (layout, load, group commit) is in outbox_store.c.

    Scheduling index (memory only, rebuilt by outbox_load: every loaded
    entry is due at once): each durable entry is in exactly one of two
    binary heaps (proto/retry.h). `waiting` is ordered by due time (then
    class, seq) and holds entries not yet due; `ready` is ordered by class then seq
    (priority, FIFO) and holds entries due. outbox_due moves what became
    due from waiting to ready and returns ready's top, so a pump touches
    only due entries: O(k log n) for k due of n queued, never a walk.
    A third index, by destination (dest -> list of its durable entries),
    lets outbox_wake reach the k entries of one destination in
    O(k log n) instead of walking all n.

    An entry in flight (sent, not yet acknowledged) is in neither heap
    but in its link's list, in send order (each send numbered on the
    link). A link with entries in flight sits in a third heap by the
    time of its probe, so outbox_due finds a probe without a walk. An
    ACK of an entry takes the entries sent before it on the same link
    off the front of that list: at most the k passed over are touched.  */

#include "proto/corelib.h"
#include "node/core/outbox_internal.h"

static const size_t s_default_limits [OUTBOX_CLASSES] = {
    20000,                          //  control
    20000,                          //  twin
    5000,                           //  evidence
    2000,                           //  telemetry
    1000                            //  bulk
};

//  --------------------------------------------------------------------------
//  Scheduling heaps

//  Heap orders (proto/retry.h): priority then FIFO among due entries;
//  due time first among waiting ones
static bool
s_ready_before (const void *a_, const void *b_)
{
    const outbox_held_t *a = (const outbox_held_t *) a_, *b = (const outbox_held_t *) b_;
    if (a->pub.klass != b->pub.klass)
        return a->pub.klass < b->pub.klass;
    return a->seq < b->seq;
}

static bool
s_waiting_before (const void *a_, const void *b_)
{
    const outbox_held_t *a = (const outbox_held_t *) a_, *b = (const outbox_held_t *) b_;
    if (a->pub.due_ms != b->pub.due_ms)
        return a->pub.due_ms < b->pub.due_ms;
    return s_ready_before (a, b);
}

//  Put a durable entry in the heap its due time asks for
static void
s_unschedule (outbox_t *self, outbox_held_t *entry)
{
    (void) self;
    if (entry->slot.heap)
        retry_heap_remove (entry->slot.heap, entry);
}

static void
s_schedule (outbox_t *self, outbox_held_t *entry, uint64_t now_ms)
{
    s_unschedule (self, entry);
    retry_heap_push (entry->pub.due_ms <= now_ms? &self->ready: &self->waiting, entry);
}

//  --------------------------------------------------------------------------
//  Links with entries in flight

static void
s_link_free (void **item_p)
{
    outbox_link_t *link = (outbox_link_t *) *item_p;
    if (link) {
        zlistx_destroy (&link->in_flight);
        free (link);
        *item_p = NULL;
    }
}

//  The probe of a link with entries in flight waits for the link
//  timeout or the link's back-off, whichever is longer
static void
s_link_arm (outbox_t *self, outbox_link_t *link, uint64_t now_ms)
{
    retry_link_arm (&self->probes, link, now_ms, self->link_timeout_ms);
}

//  Take an entry off its link's in-flight list. The link is kept (with
//  its back-off) until outbox_link_down; with nothing in flight it has
//  no probe.
static void
s_link_detach (outbox_t *self, outbox_held_t *entry)
{
    outbox_link_t *link = entry->link;
    if (!link)
        return;
    zlistx_delete (link->in_flight, entry->link_handle);
    entry->link = NULL;
    entry->link_handle = NULL;
    if (zlistx_size (link->in_flight) == 0)
        retry_link_disarm (&self->probes, link);
}

//  An entry that was in flight is due again at due_ms
static void
s_resend_at (outbox_t *self, outbox_held_t *entry, uint64_t due_ms, uint64_t now_ms)
{
    s_link_detach (self, entry);
    entry->pub.due_ms = due_ms;
    s_schedule (self, entry, now_ms);
}

//  --------------------------------------------------------------------------
//  Index by destination (durable entries only)

void
outbox_dest_add (outbox_t *self, outbox_held_t *entry)
{
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->by_dest, entry->pub.dest);
    if (!list) {
        list = zlistx_new ();
        zhashx_insert (self->by_dest, entry->pub.dest, list);
    }
    entry->dest_handle = zlistx_add_end (list, entry);
}

static void
s_dest_remove (outbox_t *self, outbox_held_t *entry)
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

size_t
outbox_key (outbox_t *self, int klass, uint64_t seq, uint8_t *key)
{
    memcpy (key, self->prefix, self->prefix_size);
    key [self->prefix_size] = (uint8_t) klass;
    for (int i = 0; i < 8; i++)
        key [self->prefix_size + 1 + i] = (uint8_t) (seq >> (56 - 8 * i));
    return self->prefix_size + 9;
}

void
outbox_held_free (outbox_held_t **entry_p)
{
    if (*entry_p) {
        free ((*entry_p)->data);
        free (*entry_p);
        *entry_p = NULL;
    }
}

void
outbox_id_hex (const uint8_t *id, char *hex)
{
    static const char digits [] = "0123456789abcdef";
    for (int i = 0; i < WEFT_ID_SIZE; i++) {
        hex [2 * i] = digits [id [i] >> 4];
        hex [2 * i + 1] = digits [id [i] & 15];
    }
    hex [2 * WEFT_ID_SIZE] = 0;
}

//  Most nodes use one or two classes of the five
zlistx_t *
outbox_queue (outbox_t *self, int klass)
{
    if (!self->queues [klass])
        self->queues [klass] = zlistx_new ();
    return self->queues [klass];
}

static outbox_held_t *
s_first (outbox_t *self, int klass)
{
    return self->queues [klass]? (outbox_held_t *) zlistx_first (self->queues [klass]): NULL;
}

outbox_t *
outbox_new (store_t *store, const char *prefix, const size_t *limits)
{
    assert (store);
    outbox_t *self = (outbox_t *) zmalloc (sizeof (outbox_t));
    self->store = store;
    self->prefix = strndup (prefix? prefix: "", WEFT_NAME_MAX);
    self->prefix_size = strlen (self->prefix);
    for (int c = 0; c < OUTBOX_CLASSES; c++) {
        self->limits [c] = limits && limits [c]? limits [c]: s_default_limits [c];
    }
    self->staged = zlistx_new ();
    self->deletes = zlistx_new ();
    self->by_id = zhashx_new ();
    self->by_dest = zhashx_new ();
    zhashx_set_destructor (self->by_dest, s_dest_list_free);
    self->links = zhashx_new ();
    zhashx_set_destructor (self->links, s_link_free);
    self->link_timeout_ms = OUTBOX_LINK_TIMEOUT_MS;
    self->next_seq = 1;
    retry_heap_init (&self->waiting, s_waiting_before, offsetof (outbox_held_t, slot));
    retry_heap_init (&self->ready, s_ready_before, offsetof (outbox_held_t, slot));
    retry_heap_init (&self->probes, retry_link_before, offsetof (outbox_link_t, retry.slot));
    return self;
}

void
outbox_destroy (outbox_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        outbox_t *self = *self_p;
        for (int c = 0; c < OUTBOX_CLASSES; c++) {
            outbox_held_t *entry = s_first (self, c);
            while (entry) {
                outbox_held_free (&entry);
                entry = (outbox_held_t *) zlistx_next (self->queues [c]);
            }
            zlistx_destroy (&self->queues [c]);
        }
        outbox_held_t *entry = (outbox_held_t *) zlistx_first (self->staged);
        while (entry) {
            outbox_held_free (&entry);
            entry = (outbox_held_t *) zlistx_next (self->staged);
        }
        zlistx_destroy (&self->staged);
        outbox_del_t *del = (outbox_del_t *) zlistx_first (self->deletes);
        while (del) {
            free (del);
            del = (outbox_del_t *) zlistx_next (self->deletes);
        }
        zlistx_destroy (&self->deletes);
        zhashx_destroy (&self->by_id);
        zhashx_destroy (&self->by_dest);
        zhashx_destroy (&self->links);
        retry_heap_free (&self->waiting);
        retry_heap_free (&self->ready);
        retry_heap_free (&self->probes);
        free (self->prefix);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Stage, ack, flush.

//  Forget a durable entry (its delete reaches the store in the next flush)
static void
s_remove (outbox_t *self, outbox_held_t *entry)
{
    char hex [2 * WEFT_ID_SIZE + 1];
    outbox_id_hex (entry->pub.id, hex);
    outbox_del_t *del = (outbox_del_t *) zmalloc (sizeof (outbox_del_t));
    del->size = outbox_key (self, entry->pub.klass, entry->seq, del->key);
    zlistx_add_end (self->deletes, del);
    zlistx_delete (self->queues [entry->pub.klass], entry->handle);
    s_unschedule (self, entry);
    s_link_detach (self, entry);
    s_dest_remove (self, entry);
    zhashx_delete (self->by_id, hex);
    self->stats.depth [entry->pub.klass]--;
    outbox_held_free (&entry);
}

//  Drop the oldest entry of a droppable class to make room.
static bool
s_drop_oldest (outbox_t *self, int klass)
{
    outbox_held_t *entry = s_first (self, klass);
    if (!entry)
        return false;
    s_remove (self, entry);
    self->stats.dropped_full++;
    return true;
}

//  Stages a frame: copied from frame, or taken from *owned_p (freed
//  whatever the outcome, and the pointer nulled)
static int
s_stage (outbox_t *self, int klass, const char *dest, const uint8_t id [WEFT_ID_SIZE],
         const uint8_t *frame, uint8_t **owned_p, size_t size)
{
    uint8_t *owned = owned_p? *owned_p: NULL;
    if (owned_p)
        *owned_p = NULL;
    size_t dest_size = strlen (dest);
    if (klass < 0 || klass >= OUTBOX_CLASSES || dest_size > OUTBOX_DEST_MAX
    ||  size == 0) {
        free (owned);
        return -1;
    }
    char hex [2 * WEFT_ID_SIZE + 1];
    outbox_id_hex (id, hex);
    if (zhashx_lookup (self->by_id, hex)) {
        self->stats.duplicates++;
        free (owned);
        return 0;
    }
    size_t held = (self->queues [klass]? zlistx_size (self->queues [klass]): 0)
                + self->staged_count [klass];
    if (held >= self->limits [klass]) {
        bool droppable = klass == OUTBOX_TELEMETRY || klass == OUTBOX_BULK;
        if (!droppable || !s_drop_oldest (self, klass)) {
            self->stats.refused_full++;
            free (owned);
            return 1;
        }
    }
    outbox_held_t *entry = (outbox_held_t *) zmalloc (sizeof (outbox_held_t));
    entry->seq = self->next_seq++;
    entry->pub.klass = klass;
    memcpy (entry->pub.dest, dest, dest_size + 1);     //  Measured above: no format
    memcpy (entry->pub.id, id, WEFT_ID_SIZE);
    if (owned)
        entry->data = owned;
    else {
        entry->data = (uint8_t *) malloc (size);
        assert (entry->data);
        memcpy (entry->data, frame, size);
    }
    entry->pub.frame = entry->data;
    entry->pub.size = size;
    entry->handle = zlistx_add_end (self->staged, entry);
    zhashx_insert (self->by_id, hex, entry);
    self->staged_count [klass]++;
    return 0;
}

int
outbox_stage (outbox_t *self, int klass, const char *dest,
              const uint8_t id [WEFT_ID_SIZE], const uint8_t *frame, size_t size)
{
    assert (self && dest && id && frame);
    return s_stage (self, klass, dest, id, frame, NULL, size);
}

int
outbox_stage_owned (outbox_t *self, int klass, const char *dest,
                    const uint8_t id [WEFT_ID_SIZE], uint8_t **frame_p, size_t size)
{
    assert (self && dest && id && frame_p && *frame_p);
    return s_stage (self, klass, dest, id, NULL, frame_p, size);
}

void
outbox_set_link_timeout (outbox_t *self, uint64_t timeout_ms)
{
    assert (self);
    self->link_timeout_ms = timeout_ms? timeout_ms: OUTBOX_LINK_TIMEOUT_MS;
}

static outbox_held_t *
s_lookup_durable (outbox_t *self, const uint8_t id [WEFT_ID_SIZE])
{
    char hex [2 * WEFT_ID_SIZE + 1];
    outbox_id_hex (id, hex);
    outbox_held_t *entry = (outbox_held_t *) zhashx_lookup (self->by_id, hex);
    //  Unknown, or an ACK before our own commit
    return entry && entry->pub.durable? entry: NULL;
}

//  Entries a link passed over (dropped or not taken, no answer) or did
//  not take (INTERNAL): due after delay_ms
static void
s_passed_over (outbox_t *self, outbox_held_t *entry, uint64_t delay_ms, uint64_t now_ms)
{
    s_resend_at (self, entry, now_ms + delay_ms, now_ms);
    self->stats.passed_over++;
}

int
outbox_ack (outbox_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t now_ms)
{
    assert (self && id);
    outbox_held_t *entry = s_lookup_durable (self, id);
    if (!entry)
        return -1;
    outbox_link_t *link = entry->link;
    if (link) {
        //  In order on one connection: what went before it and is still
        //  in flight was dropped unanswered: again at once if it was
        //  sent once, after the back-off if it was a retransmission
        //  (proto/retry.h). The link works: its probe waits anew.
        bool missed_again = false;
        outbox_held_t *first;
        while ((first = (outbox_held_t *) zlistx_first (link->in_flight)) != entry) {
            missed_again |= first->pub.sends > 1;
            s_passed_over (self, first, retry_link_passed_over_ms (&link->retry, first->pub.sends),
                           now_ms);
        }
        retry_link_acked (&link->retry, entry->pub.sends > 1, missed_again);
        s_remove (self, entry);
        if (zlistx_size (link->in_flight))
            s_link_arm (self, link, now_ms);
    }
    else
        s_remove (self, entry);
    self->stats.acked++;
    return 0;
}

int
outbox_refused (outbox_t *self, const uint8_t id [WEFT_ID_SIZE])
{
    assert (self && id);
    outbox_held_t *entry = s_lookup_durable (self, id);
    if (!entry)
        return -1;
    s_remove (self, entry);
    self->stats.refused++;
    return 0;
}

int
outbox_not_taken (outbox_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t now_ms)
{
    assert (self && id);
    outbox_held_t *entry = s_lookup_durable (self, id);
    if (!entry || !entry->link)
        return -1;
    outbox_link_t *link = entry->link;
    s_passed_over (self, entry, link->retry.backoff_ms, now_ms);
    retry_link_missed (&link->retry);
    if (zlistx_size (link->in_flight))
        s_link_arm (self, link, now_ms);
    return 0;
}

//  --------------------------------------------------------------------------
//  Iteration and scheduling.

outbox_entry_t *
outbox_first (outbox_t *self)
{
    assert (self);
    for (self->iter_class = 0; self->iter_class < OUTBOX_CLASSES; self->iter_class++) {
        outbox_held_t *entry = s_first (self, self->iter_class);
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
    zlistx_t *queue = self->queues [self->iter_class];
    outbox_held_t *entry = queue? (outbox_held_t *) zlistx_next (queue): NULL;
    while (!entry) {
        if (++self->iter_class >= OUTBOX_CLASSES)
            return NULL;
        entry = s_first (self, self->iter_class);
    }
    return &entry->pub;
}

void
outbox_sent (outbox_t *self, outbox_entry_t *pub, const char *link_name, uint64_t now_ms)
{
    assert (self && pub && link_name);
    outbox_held_t *entry = (outbox_held_t *) pub;
    if (pub->sends > 0)
        self->stats.retransmits++;
    pub->sends++;
    if (!pub->durable)
        return;
    s_unschedule (self, entry);
    s_link_detach (self, entry);
    outbox_link_t *link = (outbox_link_t *) zhashx_lookup (self->links, link_name);
    if (!link) {
        link = (outbox_link_t *) zmalloc (sizeof (outbox_link_t));
        snprintf (link->name, sizeof link->name, "%s", link_name);
        link->in_flight = zlistx_new ();
        retry_link_init (&link->retry);
        zhashx_insert (self->links, link_name, link);
    }
    entry->link = link;
    entry->link_handle = zlistx_add_end (link->in_flight, entry);
    pub->due_ms = 0;
    if (!link->retry.slot.heap)
        s_link_arm (self, link, now_ms);    //  The first in flight: the clock starts
}

size_t
outbox_link_down (outbox_t *self, const char *link_name)
{
    assert (self && link_name);
    outbox_link_t *link = (outbox_link_t *) zhashx_lookup (self->links, link_name);
    size_t count = 0;
    outbox_held_t *first;
    while (link && (first = (outbox_held_t *) zlistx_first (link->in_flight))) {
        s_resend_at (self, first, 0, 0);        //  Due now
        count++;
    }
    if (link)
        zhashx_delete (self->links, link_name);
    self->stats.links_down += count;
    return count;
}

size_t
outbox_in_flight (outbox_t *self, const char *link_name)
{
    assert (self && link_name);
    outbox_link_t *link = (outbox_link_t *) zhashx_lookup (self->links, link_name);
    return link? zlistx_size (link->in_flight): 0;
}

void
outbox_defer (outbox_t *self, outbox_entry_t *entry, uint64_t now_ms, uint64_t delay_ms)
{
    assert (self && entry);
    entry->due_ms = now_ms + (delay_ms? delay_ms: 1);
    if (entry->durable)
        s_schedule (self, (outbox_held_t *) entry, now_ms);
}

outbox_entry_t *
outbox_due (outbox_t *self, uint64_t now_ms)
{
    assert (self);
    //  A link that acknowledged nothing for its timeout: its oldest
    //  entry goes again (once), and the link's back-off grows
    outbox_link_t *link;
    while ((link = (outbox_link_t *) retry_heap_top (&self->probes)) && link->retry.probe_ms <= now_ms) {
        outbox_held_t *oldest = (outbox_held_t *) zlistx_first (link->in_flight);
        retry_link_missed (&link->retry);
        s_resend_at (self, oldest, now_ms, now_ms);
        if (zlistx_size (link->in_flight))
            s_link_arm (self, link, now_ms);
        self->stats.probes++;
    }
    outbox_held_t *entry;
    while ((entry = (outbox_held_t *) retry_heap_top (&self->waiting))
    &&     entry->pub.due_ms <= now_ms) {
        retry_heap_remove (&self->waiting, entry);
        retry_heap_push (&self->ready, entry);
    }
    entry = (outbox_held_t *) retry_heap_top (&self->ready);
    if (!entry)
        return NULL;
    self->stats.visited++;
    return &entry->pub;
}

static void
s_wake (outbox_t *self, outbox_held_t *entry)
{
    if (entry->link)
        return;                     //  In flight: its link is up
    self->stats.woken++;
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
            s_wake (self, (outbox_held_t *) entry);
        return;
    }
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->by_dest, dest);
    if (list)
        for (outbox_held_t *entry = (outbox_held_t *) zlistx_first (list); entry;
             entry = (outbox_held_t *) zlistx_next (list))
            s_wake (self, entry);
}

uint64_t
outbox_deadline (outbox_t *self)
{
    assert (self);
    uint64_t next = 0;
    outbox_held_t *first = (outbox_held_t *) retry_heap_top (&self->waiting);
    if (first)
        next = first->pub.due_ms;
    outbox_link_t *link = (outbox_link_t *) retry_heap_top (&self->probes);
    if (link && (next == 0 || link->retry.probe_ms < next))
        next = link->retry.probe_ms;
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
