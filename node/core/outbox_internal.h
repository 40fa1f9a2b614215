/*  outbox_internal - what outbox.c (the queues, the index by due time
    and the links) and outbox_store.c (loading and the group commit)
    share: the state of a node's custody outbox. Private to
    node/core/outbox*.c; callers use outbox.h.  */

#ifndef WEFT_OUTBOX_INTERNAL_H_INCLUDED
#define WEFT_OUTBOX_INTERNAL_H_INCLUDED

#include "node/core/outbox.h"

#define OUTBOX_KEY_MAX      (WEFT_NAME_MAX + 1 + 1 + 8)

//  A link with entries in flight
typedef struct {
    retry_link_t retry;             //  Back-off and probe (first: proto/retry.h)
    char name [OUTBOX_LINK_MAX + 1];
    zlistx_t *in_flight;            //  outbox_held_t, in send order
} outbox_link_t;

typedef struct {
    outbox_entry_t pub;             //  What callers see
    uint64_t seq;                   //  Store key order
    uint8_t *data;                  //  Owned frame
    void *handle;                   //  Position in its class list
    retry_slot_t slot;              //  Position in waiting or ready
    void *dest_handle;              //  Position in its destination's list
    outbox_link_t *link;                 //  In flight on it, or NULL
    void *link_handle;              //  Position in its in-flight list
} outbox_held_t;

//  A store key to delete in the next flush
typedef struct {
    uint8_t key [OUTBOX_KEY_MAX];
    size_t size;
} outbox_del_t;

struct _outbox_t {
    store_t *store;                 //  Borrowed
    char *prefix;                   //  Key prefix, sized to fit
    size_t prefix_size;
    size_t limits [OUTBOX_CLASSES]; //  Entries per class
    zlistx_t *queues [OUTBOX_CLASSES];  //  outbox_held_t, FIFO, durable; each made
                                        //  at its first entry (outbox_queue)
    zlistx_t *staged;               //  outbox_held_t, not yet committed
    zlistx_t *deletes;              //  outbox_del_t
    zhashx_t *by_id;                //  id hex -> outbox_held_t (durable and staged)
    uint64_t next_seq;              //  Next store seq
    retry_heap_t waiting;           //  Durable, not yet due: by due time
    retry_heap_t ready;             //  Durable, due: by class, then seq
    zhashx_t *by_dest;              //  dest -> zlistx_t of durable outbox_held_t
    zhashx_t *links;                //  Link name -> outbox_link_t (with entries in flight)
    retry_heap_t probes;            //  Those links, by probe time
    uint64_t link_timeout_ms;       //  Silence before a link's probe
    size_t staged_count [OUTBOX_CLASSES];   //  Staged entries per class
    outbox_stats_t stats;
    int iter_class;                 //  Iteration state
};

//  Store key of an entry: prefix, class, seq (big-endian). Returns its size.
size_t
    outbox_key (outbox_t *self, int klass, uint64_t seq, uint8_t *key);

//  Free an entry and its frame, nulls the pointer.
void
    outbox_held_free (outbox_held_t **entry_p);

//  Hex of an envelope id (the index key).
void
    outbox_id_hex (const uint8_t *id, char *hex);

//  A class's queue, made if it is not yet.
zlistx_t *
    outbox_queue (outbox_t *self, int klass);

//  Put a durable entry in the index by destination.
void
    outbox_dest_add (outbox_t *self, outbox_held_t *entry);

#endif
