/*  custody_internal - what custody.c (the index and the timers) and
    custody_store.c (CUSTODY_TABLE) share: the state of the coordinator's
    custody. Private to coordinator/core/custody*.c; callers use custody.h.  */

#ifndef WEFT_CUSTODY_INTERNAL_H_INCLUDED
#define WEFT_CUSTODY_INTERNAL_H_INCLUDED

#include "proto/envelope.h"
#include "proto/retry.h"
#include "coordinator/core/custody.h"

#define CUSTODY_LINK_MAX    (WEFT_NAME_MAX + 1)     //  "=" and a device id

typedef enum {
    CUSTODY_NONE,                   //  Not placed yet (or being moved)
    CUSTODY_WAITING,                //  Waits for its link, or for a route
    CUSTODY_DUE,                    //  In the due heap
    CUSTODY_FLIGHT                  //  In flight on its link
} custody_state_t;

//  A link: a relay's connection, or a device's own ("=" id)
typedef struct {
    retry_link_t retry;             //  Back-off and probe (first: proto/retry.h)
    char name [CUSTODY_LINK_MAX + 1];
    zlistx_t *in_flight;            //  custody_held_t, in send order
    zlistx_t *waiting;              //  custody_held_t that wait for it to link
} custody_link_t;

typedef struct {
    custody_entry_t pub;
    uint64_t order;                 //  Store key; send order, breaks ties
    uint64_t expires_ms;            //  Given up at
    uint64_t due_ms;                //  While due: when
    bool windowed;                  //  A type the device windows (replay_windowed)
    custody_state_t state;
    uint8_t *data;                  //  The frame until it is written, else NULL
    void *unwritten_handle;         //  Position in the unwritten list, with data
    retry_slot_t due_slot;          //  Position in the due heap
    retry_slot_t expiry_slot;       //  Position in the expiry heap
    void *dest_handle;              //  Position in its device's list
    custody_link_t *link;                 //  In flight on it or waiting for it, or NULL
    void *link_handle;              //  Position in that list
} custody_held_t;

//  A device with frames held
typedef struct {
    zlistx_t *entries;              //  custody_held_t, send order
    uint64_t top_seq;               //  Highest seq sent to it meanwhile
    size_t bytes;                   //  Frame bytes held for it
} custody_dest_t;

struct _custody_t {
    store_t *store;                 //  Borrowed, or NULL
    custody_limits_t limits;
    coord_stats_t *stats;           //  Borrowed
    zhashx_t *by_id;                //  Id hex -> custody_held_t
    zhashx_t *by_dest;              //  Device id -> custody_dest_t
    zhashx_t *links;                //  Link name -> custody_link_t
    retry_heap_t due;               //  CUSTODY_DUE, by due time then order
    retry_heap_t probes;            //  Links with entries in flight, by probe time
    retry_heap_t expiry;            //  Every entry, by expiry
    zlistx_t *deletes;              //  Orders (uint64_t *) to delete at the next flush
    zlistx_t *unwritten;            //  custody_held_t whose frame is not written yet
    uint64_t next_order;
    size_t count;
    size_t bytes;
};

//  A valid device (or relay) id: 1-64 characters, not "*"
bool
    custody_name_ok (const char *name);

//  Hold a frame of a decoded envelope for dest_id: placed in flight on
//  link_name (sent) or waiting for it ("" for none: a route), indexed.
//  data (heap) is taken, or NULL when the frame is in the store already
//  under order.
custody_held_t *
    custody_hold (custody_t *self, const envelope_t *env, const char *dest_id,
                  const char *link_name, bool sent, uint8_t *data, size_t size,
                  uint64_t order, uint64_t expires_ms, uint64_t now_ms);

#endif
