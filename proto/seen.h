/*  seen - the envelope ids a hop has taken, in bounded memory, with a
    window that keeps forgetting them safe
    A relay acknowledges an envelope it already took again and does not
    forward it twice; for that it remembers the ids it took. It cannot
    remember them forever, so each id is kept with its envelope's time
    (the hlc's millisecond part) and the set answers for a window:

      * an id whose time is older than now - window (or not newer than
        one the set forgot to make room, see below) is STALE: the hop
        refuses the envelope outright, so an id it forgot can never be
        taken twice;
      * an id whose time is ahead of now + window is AHEAD (its origin's
        clock is wrong): refused as well, or it would pin the set;
      * any other id is a DUPLICATE if the set holds it, else NEW.

    Ids are forgotten oldest first (in the order they were added) once
    their time has left the window, or when the set holds max ids and
    needs room: then the forgotten id's time becomes the floor below
    which everything is STALE, so the rule above still holds and the
    window only narrows under a flood. Memory: 24 bytes per id in a
    ring, 8 per id in its index, growing by doubling from 64 up to max
    (SEEN_MAX: 32 MiB at most). Every operation is O(1) (expected;
    the index hashes ids with a random SipHash key, so chosen ids cannot
    make it slow). No I/O, no clock: the caller gives now.  */

#ifndef WEFT_SEEN_H_INCLUDED
#define WEFT_SEEN_H_INCLUDED

#include "proto.h"

#define SEEN_WINDOW_MS  (10 * 60 * 1000)    //  Ids answer for this long, by envelope time
#define SEEN_MAX        (1u << 20)          //  Ids held at most

typedef enum {
    SEEN_NEW = 0,                   //  Not taken before: take it, then seen_add
    SEEN_DUPLICATE = 1,             //  Taken already: acknowledge it again
    SEEN_STALE = 2,                 //  Older than the window: refuse it
    SEEN_AHEAD = 3                  //  Time beyond now + window: refuse it
} seen_result_t;

typedef struct _seen_t seen_t;

//  Create an empty set; window_ms 0 = SEEN_WINDOW_MS, max 0 = SEEN_MAX.
seen_t *
    seen_new (uint64_t window_ms, size_t max);

void
    seen_destroy (seen_t **self_p);

//  What is envelope id with time time_ms at now_ms? (seen_result_t)
int
    seen_check (seen_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t time_ms,
                uint64_t now_ms);

//  Remember id (taken at now_ms). An id held already stays as it is.
void
    seen_add (seen_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t time_ms,
              uint64_t now_ms);

//  The time at or below which an envelope is STALE at now_ms.
uint64_t
    seen_floor (seen_t *self, uint64_t now_ms);

//  Ids held, and the bytes the set has allocated.
size_t
    seen_size (seen_t *self);
size_t
    seen_memory (seen_t *self);

void
    seen_test (bool verbose);

#endif
