/*  retry - the retransmission schedule of a custody queue  */

#include "proto/corelib.h"
#include "proto/retry.h"

uint64_t
retry_backoff_next (uint64_t backoff_ms)
{
    uint64_t next = backoff_ms? backoff_ms * 2: RETRY_MIN_MS;
    return next > RETRY_MAX_MS? RETRY_MAX_MS: next;
}

static retry_slot_t *
s_slot (const retry_heap_t *self, const void *item)
{
    return (retry_slot_t *) ((char *) item + self->slot_offset);
}

static void
s_set (retry_heap_t *self, size_t pos, void *item)
{
    self->items [pos] = item;
    s_slot (self, item)->pos = pos;
}

static void
s_up (retry_heap_t *self, size_t pos)
{
    void *item = self->items [pos];
    while (pos > 0) {
        size_t parent = (pos - 1) / 2;
        if (!self->before (item, self->items [parent]))
            break;
        s_set (self, pos, self->items [parent]);
        pos = parent;
    }
    s_set (self, pos, item);
}

static void
s_down (retry_heap_t *self, size_t pos)
{
    void *item = self->items [pos];
    while (true) {
        size_t child = 2 * pos + 1;
        if (child >= self->size)
            break;
        if (child + 1 < self->size && self->before (self->items [child + 1],
                                                    self->items [child]))
            child++;
        if (!self->before (self->items [child], item))
            break;
        s_set (self, pos, self->items [child]);
        pos = child;
    }
    s_set (self, pos, item);
}

void
retry_heap_init (retry_heap_t *self, retry_before_fn *before, size_t slot_offset)
{
    assert (self && before);
    memset (self, 0, sizeof *self);
    self->before = before;
    self->slot_offset = slot_offset;
}

void
retry_heap_free (retry_heap_t *self)
{
    assert (self);
    free (self->items);
    self->items = NULL;
    self->size = self->max = 0;
}

void
retry_heap_push (retry_heap_t *self, void *item)
{
    assert (self && item);
    retry_slot_t *slot = s_slot (self, item);
    assert (slot->heap == NULL);
    if (self->size == self->max) {
        self->max = self->max? self->max * 2: 4;   //  Most heaps hold a few items
        self->items = (void **) realloc (self->items, self->max * sizeof (void *));
        assert (self->items);
    }
    slot->heap = self;
    s_set (self, self->size++, item);
    s_up (self, slot->pos);
}

void
retry_heap_remove (retry_heap_t *self, void *item)
{
    assert (self && item);
    retry_slot_t *slot = s_slot (self, item);
    assert (slot->heap == self);
    size_t pos = slot->pos;
    void *last = self->items [--self->size];
    slot->heap = NULL;
    if (last != item) {
        s_set (self, pos, last);
        s_up (self, pos);
        s_down (self, s_slot (self, last)->pos);
    }
}

void
retry_heap_update (retry_heap_t *self, void *item)
{
    assert (self && item);
    assert (s_slot (self, item)->heap == self);
    size_t pos = s_slot (self, item)->pos;
    s_up (self, pos);
    s_down (self, s_slot (self, item)->pos);
}

void *
retry_heap_top (const retry_heap_t *self)
{
    assert (self);
    return self->size? self->items [0]: NULL;
}

bool
retry_heap_holds (const retry_heap_t *self, const void *item)
{
    assert (self && item);
    return s_slot (self, item)->heap == self;
}

//  --------------------------------------------------------------------------
//  Retransmission per link

void
retry_link_init (retry_link_t *link)
{
    assert (link);
    memset (link, 0, sizeof *link);
    link->backoff_ms = RETRY_MIN_MS;
}

bool
retry_link_before (const void *a, const void *b)
{
    return ((const retry_link_t *) a)->probe_ms < ((const retry_link_t *) b)->probe_ms;
}

void
retry_link_arm (retry_heap_t *probes, void *record, uint64_t now_ms, uint64_t timeout_ms)
{
    assert (probes && record);
    retry_link_t *link = (retry_link_t *) record;
    link->probe_ms = now_ms + (link->backoff_ms > timeout_ms? link->backoff_ms: timeout_ms);
    if (link->slot.heap)
        retry_heap_update (probes, record);
    else
        retry_heap_push (probes, record);
}

void
retry_link_disarm (retry_heap_t *probes, void *record)
{
    assert (probes && record);
    if (((retry_link_t *) record)->slot.heap)
        retry_heap_remove (probes, record);
}

void
retry_link_missed (retry_link_t *link)
{
    assert (link);
    link->backoff_ms = retry_backoff_next (link->backoff_ms);
}

uint64_t
retry_link_passed_over_ms (const retry_link_t *link, uint32_t sends)
{
    assert (link);
    return sends > 1? link->backoff_ms: 0;
}

void
retry_link_acked (retry_link_t *link, bool retransmission, bool missed_again)
{
    assert (link);
    if (retransmission)
        link->backoff_ms = RETRY_MIN_MS;
    else
    if (missed_again)
        retry_link_missed (link);
}

//  --------------------------------------------------------------------------
//  Selftest

typedef struct {
    uint64_t key;
    retry_slot_t slot;
} s_test_item_t;

static bool
s_test_before (const void *a, const void *b)
{
    return ((const s_test_item_t *) a)->key < ((const s_test_item_t *) b)->key;
}

void
retry_test (bool verbose)
{
    printf (" * retry: ");
    //  @selftest
    //  Back-off: 1 s, doubling, capped
    assert (retry_backoff_next (0) == RETRY_MIN_MS);
    assert (retry_backoff_next (RETRY_MIN_MS) == 2 * RETRY_MIN_MS);
    assert (retry_backoff_next (RETRY_MAX_MS - 1) == RETRY_MAX_MS);
    assert (retry_backoff_next (RETRY_MAX_MS) == RETRY_MAX_MS);

    //  Items come out in order whatever the order they went in, and
    //  after removals and re-keying from anywhere in the heap
    retry_heap_t heap, other;
    retry_heap_init (&heap, s_test_before, offsetof (s_test_item_t, slot));
    retry_heap_init (&other, s_test_before, offsetof (s_test_item_t, slot));
    assert (retry_heap_top (&heap) == NULL);
    s_test_item_t items [500];
    memset (items, 0, sizeof items);
    for (int i = 0; i < 500; i++) {
        items [i].key = (uint64_t) ((i * 7919) % 500);
        retry_heap_push (&heap, &items [i]);
    }
    assert (heap.size == 500 && retry_heap_holds (&heap, &items [3]));
    assert (!retry_heap_holds (&other, &items [3]));
    for (int i = 0; i < 500; i += 5)
        retry_heap_remove (&heap, &items [i]);
    for (int i = 1; i < 500; i += 5) {
        items [i].key += 1000;              //  Later
        retry_heap_update (&heap, &items [i]);
    }
    items [2].key = 0;                      //  Earlier than everything
    retry_heap_update (&heap, &items [2]);
    assert (retry_heap_top (&heap) == &items [2]);
    //  A removed item may go into another heap
    retry_heap_push (&other, &items [0]);
    assert (retry_heap_holds (&other, &items [0]) && other.size == 1);
    uint64_t last = 0;
    size_t count = 0;
    s_test_item_t *item;
    while ((item = (s_test_item_t *) retry_heap_top (&heap))) {
        assert (item->key >= last);
        last = item->key;
        retry_heap_remove (&heap, item);
        assert (!retry_heap_holds (&heap, item));
        count++;
    }
    assert (count == 400 && last >= 1000);
    retry_heap_free (&heap);
    retry_heap_free (&other);

    //  A link's probe waits the timeout or its back-off, the longer;
    //  refusals grow the back-off, a retransmission taken resets it
    typedef struct {
        retry_link_t retry;
        int name;
    } s_test_link_t;
    s_test_link_t links [2];
    retry_heap_t probes;
    retry_heap_init (&probes, retry_link_before, offsetof (s_test_link_t, retry.slot));
    for (int i = 0; i < 2; i++)
        retry_link_init (&links [i].retry);
    assert (links [0].retry.backoff_ms == RETRY_MIN_MS);
    retry_link_arm (&probes, &links [0], 1000, 15000);
    retry_link_arm (&probes, &links [1], 500, 15000);
    assert (retry_heap_top (&probes) == &links [1]);
    for (int i = 0; i < 5; i++)
        retry_link_missed (&links [1].retry);
    assert (links [1].retry.backoff_ms == RETRY_MAX_MS);
    retry_link_arm (&probes, &links [1], 500, 15000);
    assert (links [1].retry.probe_ms == 500 + RETRY_MAX_MS);
    assert (retry_heap_top (&probes) == &links [0] && links [0].retry.probe_ms == 16000);
    retry_link_acked (&links [1].retry, false, false);
    assert (links [1].retry.backoff_ms == RETRY_MAX_MS);
    retry_link_acked (&links [1].retry, true, true);
    assert (links [1].retry.backoff_ms == RETRY_MIN_MS);
    retry_link_acked (&links [1].retry, false, false);
    assert (links [1].retry.backoff_ms == RETRY_MIN_MS);
    //  Passed over: sent once, again at once whatever the back-off (a
    //  loss, however many in one burst); a retransmission waits the
    //  back-off, which its miss grows
    assert (retry_link_passed_over_ms (&links [1].retry, 1) == 0);
    assert (retry_link_passed_over_ms (&links [1].retry, 2) == RETRY_MIN_MS);
    retry_link_acked (&links [1].retry, false, true);
    assert (links [1].retry.backoff_ms == 2 * RETRY_MIN_MS);
    assert (retry_link_passed_over_ms (&links [1].retry, 1) == 0);
    assert (retry_link_passed_over_ms (&links [1].retry, 3) == 2 * RETRY_MIN_MS);
    retry_link_disarm (&probes, &links [0]);
    retry_link_disarm (&probes, &links [0]);
    assert (retry_heap_top (&probes) == &links [1]);
    retry_heap_free (&probes);
    if (verbose)
        printf ("(%zu ordered) ", count);
    //  @end
    printf ("OK\n");
}
