/*  sched - the simulator's discrete-event scheduler and random numbers
    The heap stores events by value; an event's data pointer, if any,
    belongs to the event and is freed by whoever handles it. A timer
    slot's event carries its slot, and every move in the heap writes
    the event's index into slot_pos, so arming a slot again re-keys its
    one event in O(log n) instead of leaving a stale copy behind.  */

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sim/sched.h"

void
sched_init (sched_t *self)
{
    memset (self, 0, sizeof *self);
}

void
sched_free (sched_t *self)
{
    for (size_t i = 0; i < self->size; i++)
        free (self->heap [i].data);
    free (self->heap);
    free (self->slot_pos);
    memset (self, 0, sizeof *self);
}

static bool
s_before (const event_t *a, const event_t *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

//  Put event at index i, keeping its slot's position
static void
s_place (sched_t *self, size_t i, const event_t *event)
{
    self->heap [i] = *event;
    if (event->slot != SCHED_NO_SLOT)
        self->slot_pos [event->slot] = (uint32_t) i;
}

//  Move event up from the hole at i to its place
static void
s_sift_up (sched_t *self, size_t i, const event_t *event)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!s_before (event, &self->heap [parent]))
            break;
        s_place (self, i, &self->heap [parent]);
        i = parent;
    }
    s_place (self, i, event);
}

//  Move event down from the hole at i to its place
static void
s_sift_down (sched_t *self, size_t i, const event_t *event)
{
    while (true) {
        size_t child = 2 * i + 1;
        if (child >= self->size)
            break;
        if (child + 1 < self->size && s_before (&self->heap [child + 1], &self->heap [child]))
            child++;
        if (!s_before (&self->heap [child], event))
            break;
        s_place (self, i, &self->heap [child]);
        i = child;
    }
    s_place (self, i, event);
}

//  Take the event at index i out of the heap
static void
s_remove_at (sched_t *self, size_t i)
{
    if (self->heap [i].slot != SCHED_NO_SLOT)
        self->slot_pos [self->heap [i].slot] = UINT32_MAX;
    event_t last = self->heap [--self->size];
    if (i == self->size)
        return;
    if (i > 0 && s_before (&last, &self->heap [(i - 1) / 2]))
        s_sift_up (self, i, &last);
    else
        s_sift_down (self, i, &last);
}

static void
s_insert (sched_t *self, const event_t *event)
{
    if (self->size == self->capacity) {
        size_t grow = self->capacity? self->capacity * 2: 1024;
        event_t *heap = (event_t *) realloc (self->heap, grow * sizeof *heap);
        if (!heap)
            abort ();               //  Out of memory: as zmalloc does
        self->heap = heap;
        self->capacity = grow;
    }
    s_sift_up (self, self->size++, event);
    if (self->size > self->peak)
        self->peak = self->size;
}

void
sched_push (sched_t *self, uint64_t time, uint32_t type, uint32_t node,
            uint64_t arg, void *data)
{
    event_t event = { time < self->now? self->now: time, self->next_seq++,
                      type, node, arg, data, SCHED_NO_SLOT };
    s_insert (self, &event);
}

void
sched_slots (sched_t *self, uint32_t slots)
{
    assert (!self->slot_pos && slots <= SCHED_SLOTS_MAX);
    self->slot_pos = (uint32_t *) malloc ((slots? slots: 1) * sizeof (uint32_t));
    if (!self->slot_pos)
        abort ();
    memset (self->slot_pos, 0xff, (slots? slots: 1) * sizeof (uint32_t));
    self->slots = slots;
}

void
sched_arm (sched_t *self, uint32_t slot, uint64_t time, uint32_t type,
           uint32_t node, uint64_t arg)
{
    assert (slot < self->slots);
    event_t event = { time < self->now? self->now: time, self->next_seq++,
                      type, node, arg, NULL, slot };
    uint32_t pos = self->slot_pos [slot];
    if (pos == UINT32_MAX) {
        s_insert (self, &event);
        return;
    }
    //  Re-keyed in place: later than before (the usual re-arm) sinks,
    //  earlier rises
    if (s_before (&event, &self->heap [pos]))
        s_sift_up (self, pos, &event);
    else
        s_sift_down (self, pos, &event);
}

void
sched_disarm (sched_t *self, uint32_t slot)
{
    assert (slot < self->slots);
    uint32_t pos = self->slot_pos [slot];
    if (pos != UINT32_MAX)
        s_remove_at (self, pos);
}

bool
sched_armed (const sched_t *self, uint32_t slot)
{
    assert (slot < self->slots);
    return self->slot_pos [slot] != UINT32_MAX;
}

bool
sched_pop (sched_t *self, event_t *event)
{
    if (self->size == 0)
        return false;
    *event = self->heap [0];
    s_remove_at (self, 0);
    self->now = event->time;
    return true;
}

//  --------------------------------------------------------------------------
//  Random numbers

static uint64_t
s_splitmix (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void
rng_derive (rng_t *self, uint64_t seed, const char *label)
{
    //  FNV-1a of the label, mixed with the seed
    uint64_t state = 0xcbf29ce484222325ULL;
    for (const char *c = label; *c; c++)
        state = (state ^ (uint8_t) *c) * 0x100000001b3ULL;
    state ^= seed * 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 4; i++)
        self->s [i] = s_splitmix (&state);
}

static uint64_t
s_rotl (uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t
rng_next (rng_t *self)
{
    uint64_t *s = self->s;
    uint64_t result = s_rotl (s [1] * 5, 7) * 9;
    uint64_t t = s [1] << 17;
    s [2] ^= s [0];
    s [3] ^= s [1];
    s [1] ^= s [2];
    s [0] ^= s [3];
    s [2] ^= t;
    s [3] = s_rotl (s [3], 45);
    return result;
}

uint64_t
rng_below (rng_t *self, uint64_t bound)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t value;
    do
        value = rng_next (self);
    while (value >= limit);
    return value % bound;
}

double
rng_unit (rng_t *self)
{
    return (double) (rng_next (self) >> 11) * (1.0 / 9007199254740992.0);
}

void
hash_mix (uint64_t *hash, uint64_t value)
{
    uint64_t h = *hash ^ (value + 0x9e3779b97f4a7c15ULL + (*hash << 6) + (*hash >> 2));
    h = (h ^ (h >> 31)) * 0x7fb5d329728ea185ULL;
    *hash = h ^ (h >> 27);
}

//  --------------------------------------------------------------------------
//  Selftest

void
sched_test (bool verbose)
{
    (void) verbose;
    printf (" * sched: ");
    //  @selftest
    sched_t sched;
    sched_init (&sched);
    sched_slots (&sched, 3);
    //  Ties run in push order; a slot re-armed takes a new sequence
    sched_push (&sched, 10, 1, 0, 0, NULL);
    sched_arm (&sched, 0, 10, 2, 0, 0);
    sched_push (&sched, 10, 3, 0, 0, NULL);
    sched_arm (&sched, 1, 5, 4, 0, 0);
    sched_arm (&sched, 0, 10, 2, 0, 1);     //  Now after type 3
    assert (sched.size == 4);
    sched_arm (&sched, 2, 7, 5, 0, 0);
    sched_disarm (&sched, 2);
    sched_disarm (&sched, 2);               //  Not armed: nothing happens
    assert (!sched_armed (&sched, 2));
    uint32_t order [] = { 4, 1, 3, 2 };
    event_t event;
    for (size_t i = 0; i < 4; i++) {
        assert (sched_pop (&sched, &event));
        assert (event.type == order [i]);
    }
    assert (event.arg == 1 && event.slot == 0 && !sched_armed (&sched, 0));
    assert (!sched_pop (&sched, &event));

    //  A million re-arms of one slot among other events leave one event
    //  for it in the heap; the order matches pushes with stale copies
    //  skipped, event for event
    sched_t fresh;
    sched_init (&fresh);
    rng_t rng;
    rng_derive (&rng, 1, "sched");
    uint64_t gen [8] = { 0 };
    for (uint32_t round = 0; round < 200000; round++) {
        uint32_t slot = (uint32_t) rng_below (&rng, 3);
        uint64_t at = sched.now + rng_below (&rng, 1000);
        if (rng_below (&rng, 10) == 0) {
            sched_push (&sched, at, 9, 0, round, NULL);
            sched_push (&fresh, at, 9, 0, round, NULL);
        }
        else
        if (rng_below (&rng, 20) == 0) {
            sched_disarm (&sched, slot);
            gen [slot]++;
        }
        else {
            sched_arm (&sched, slot, at, 8, slot, round);
            sched_push (&fresh, at, 8, slot, ++gen [slot] << 32 | round, NULL);
        }
        assert (sched.size <= 3 + 20000 + 100);
        if (rng_below (&rng, 3) == 0 && sched_pop (&sched, &event)) {
            event_t other;
            do
                assert (sched_pop (&fresh, &other));
            while (other.type == 8 && other.arg >> 32 != gen [other.node]);
            assert (other.time == event.time && other.type == event.type);
            assert ((uint32_t) other.arg == (uint32_t) event.arg);
            if (event.type == 8)
                gen [event.slot]++;     //  Fired: a copy still queued is stale
        }
    }
    sched_free (&sched);
    sched_free (&fresh);
    //  @end
    printf ("OK\n");
}
