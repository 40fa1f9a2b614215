/*  retry - the retransmission schedule of a custody queue
    A sender that keeps custody of a frame until the next hop
    acknowledges it retransmits with back-off: first after
    RETRY_MIN_MS, doubling, capped at RETRY_MAX_MS. The node's outbox
    (node/core/outbox.h) and the coordinator's custody of the frames it
    sends through relays (coordinator/core/custody.h) share this rule
    and the index that finds what is due without a walk: a binary
    min-heap of items, each of which holds a retry_slot_t that knows its
    position, so an item can be removed or re-keyed in O(log n). The
    heap holds pointers it does not own; the order is the caller's.
    No I/O, no clock.  */

#ifndef WEFT_RETRY_H_INCLUDED
#define WEFT_RETRY_H_INCLUDED

#include "proto.h"

#define RETRY_MIN_MS    1000        //  First retransmit
#define RETRY_MAX_MS    30000       //  Back-off ceiling

//  The back-off after one more transmission: doubled, capped.
uint64_t
    retry_backoff_next (uint64_t backoff_ms);

typedef struct _retry_heap_t retry_heap_t;

//  Embedded in each item: where it sits
typedef struct {
    retry_heap_t *heap;             //  Heap that holds it, NULL if none
    size_t pos;                     //  Index in that heap
} retry_slot_t;

//  True if item a goes before item b
typedef bool (retry_before_fn) (const void *a, const void *b);

struct _retry_heap_t {
    void **items;
    size_t size;
    size_t max;
    size_t slot_offset;             //  offsetof (item type, its retry_slot_t)
    retry_before_fn *before;
};

//  Make an empty heap of items whose slot is at slot_offset.
void
    retry_heap_init (retry_heap_t *self, retry_before_fn *before, size_t slot_offset);

//  Free the index (not the items).
void
    retry_heap_free (retry_heap_t *self);

//  Add an item that no heap holds.
void
    retry_heap_push (retry_heap_t *self, void *item);

//  Remove an item this heap holds.
void
    retry_heap_remove (retry_heap_t *self, void *item);

//  The item's order key changed: move it to its place.
void
    retry_heap_update (retry_heap_t *self, void *item);

//  The first item, or NULL if empty.
void *
    retry_heap_top (const retry_heap_t *self);

//  True if this heap holds item.
bool
    retry_heap_holds (const retry_heap_t *self, const void *item);

void
    retry_test (bool verbose);

#endif
