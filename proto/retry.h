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

//  The link timeout for heartbeat interval h ms: the longest a dead
//  link stays open (proto/io/tcplink.h closes a silent one within 5h/2),
//  so a link still up after it has read what was sent on it
#define RETRY_LINK_DEAD(h)  ((h) * 5 / 2)

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

//  --------------------------------------------------------------------------
//  Retransmission per link (node/core/outbox.h, coordinator/core/custody.h):
//  each link (one connection) has a back-off, RETRY_MIN_MS doubling to
//  RETRY_MAX_MS while what it receives goes unanswered or is not taken
//  (INTERNAL), and reset when it takes a retransmission, and a probe due the link timeout or the
//  back-off (the longer) after it last made progress, while it has
//  anything in flight. A link record starts with a retry_link_t; the
//  probe heap orders the records with retry_link_before.

typedef struct {
    uint64_t backoff_ms;            //  Delay of the next retransmission on it
    uint64_t probe_ms;              //  When its oldest in flight goes again
    retry_slot_t slot;              //  Position in the probe heap
} retry_link_t;

//  A new link: the first back-off, no probe.
void
    retry_link_init (retry_link_t *link);

//  Heap order of link records (each starting with a retry_link_t).
bool
    retry_link_before (const void *a, const void *b);

//  (Re)arm the probe of record (starting with its retry_link_t) at
//  now_ms + max (timeout_ms, back-off).
void
    retry_link_arm (retry_heap_t *probes, void *record, uint64_t now_ms, uint64_t timeout_ms);

//  Nothing in flight any more: no probe.
void
    retry_link_disarm (retry_heap_t *probes, void *record);

//  The link missed something: dropped it unanswered, or could not take
//  it (INTERNAL): its back-off grows.
void
    retry_link_missed (retry_link_t *link);

//  The delay before an entry the link passed over goes again (an ACK of
//  a later one on the same connection says it was dropped unanswered),
//  given its transmissions so far. Sent once: at once, a frame lost on
//  a working connection (one ACK burst may reveal several such losses:
//  each is one loss, not a link missing more and more). Sent before:
//  the link's back-off, a hop that drops even the retransmission (a
//  full queue, a failing commit) is waited for, longer each time
//  (retry_link_acked). Call before retry_link_acked.
uint64_t
    retry_link_passed_over_ms (const retry_link_t *link, uint32_t sends);

//  The link acknowledged an entry: a retransmission taken starts the
//  back-off again from RETRY_MIN_MS; else, if the ACK passed over a
//  retransmission sent before it (dropped unanswered again), the
//  back-off grows.
void
    retry_link_acked (retry_link_t *link, bool retransmission, bool missed_again);

void
    retry_test (bool verbose);

#endif
