/*  sched - the simulator's discrete-event scheduler and random numbers
    A binary min-heap of events keyed by (time, sequence): the sequence
    is a counter stamped at insertion, so events at the same virtual
    time run in the order they were scheduled, run after run. Time is
    virtual microseconds from the start of the run; nothing here reads
    a clock.
    Timers live in slots: a slot holds at most one event, and arming it
    again moves that event in the heap (a new time and a new sequence,
    ordered exactly as a fresh push would be); disarming removes it. A
    node that re-arms its timer a million times leaves no stale events
    behind to pop and skip: the heap holds one event per armed timer,
    whatever the horizon.
    rng_t is xoshiro256** seeded through splitmix64. A run has one seed;
    each component takes its own stream with rng_derive (seed, label),
    so adding draws in one component never shifts another's.  */

#ifndef WEFT_SIM_SCHED_H_INCLUDED
#define WEFT_SIM_SCHED_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t time;                  //  Virtual microseconds
    uint64_t seq;                   //  Insertion order, breaks ties
    uint32_t type;                  //  Event kind (the world's enum)
    uint32_t node;                  //  Subject node, or a site
    uint64_t arg;                   //  Kind-specific: generation, version
    void *data;                     //  Kind-specific, owned by the event
    uint32_t slot;                  //  Timer slot, or SCHED_NO_SLOT
} event_t;

#define SCHED_NO_SLOT       UINT32_MAX      //  An event pushed, not a timer
#define SCHED_SLOTS_MAX     (UINT32_MAX - 1)

typedef struct {
    event_t *heap;                  //  Min-heap by (time, seq)
    size_t size;
    size_t capacity;
    uint64_t next_seq;              //  Stamped on each push
    uint64_t now;                   //  Time of the event last popped
    uint64_t peak;                  //  Largest size reached
    uint32_t *slot_pos;             //  Heap index of each slot's event
    uint32_t slots;                 //  Number of timer slots
} sched_t;

void
    sched_init (sched_t *self);
void
    sched_free (sched_t *self);

//  Schedule an event; times before now are clamped to now.
void
    sched_push (sched_t *self, uint64_t time, uint32_t type, uint32_t node,
                uint64_t arg, void *data);

//  Make room for slots timer slots (0 .. slots - 1), none armed. Call
//  once, before the first sched_arm.
void
    sched_slots (sched_t *self, uint32_t slots);

//  Arm timer slot for time (clamped to now): its event, if armed,
//  moves there; the event gets a new sequence, as a push would.
void
    sched_arm (sched_t *self, uint32_t slot, uint64_t time, uint32_t type,
               uint32_t node, uint64_t arg);

//  Disarm timer slot: its event, if any, leaves the heap.
void
    sched_disarm (sched_t *self, uint32_t slot);

//  True if timer slot has an event in the heap.
bool
    sched_armed (const sched_t *self, uint32_t slot);

//  Pop the earliest event into *event; false if none. Advances now.
bool
    sched_pop (sched_t *self, event_t *event);

typedef struct {
    uint64_t s [4];
} rng_t;

//  Seed a stream from the run seed and a component label.
void
    rng_derive (rng_t *self, uint64_t seed, const char *label);
uint64_t
    rng_next (rng_t *self);
//  Uniform in [0, bound) (bound > 0), without modulo bias.
uint64_t
    rng_below (rng_t *self, uint64_t bound);
//  Uniform in [0, 1).
double
    rng_unit (rng_t *self);

void
    sched_test (bool verbose);

//  64-bit mixing for the trace hash: fold value into *hash.
void
    hash_mix (uint64_t *hash, uint64_t value);

#endif
