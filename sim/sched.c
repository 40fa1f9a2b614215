/*  sched - the simulator's discrete-event scheduler and random numbers
    The heap stores events by value; an event's data pointer, if any,
    belongs to the event and is freed by whoever handles it.  */

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
    memset (self, 0, sizeof *self);
}

static bool
s_before (const event_t *a, const event_t *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

void
sched_push (sched_t *self, uint64_t time, uint32_t type, uint32_t node,
            uint64_t arg, void *data)
{
    if (self->size == self->capacity) {
        size_t grow = self->capacity? self->capacity * 2: 1024;
        event_t *heap = (event_t *) realloc (self->heap, grow * sizeof *heap);
        if (!heap)
            abort ();               //  Out of memory: as zmalloc does
        self->heap = heap;
        self->capacity = grow;
    }
    event_t event = { time < self->now? self->now: time, self->next_seq++,
                      type, node, arg, data };
    size_t i = self->size++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!s_before (&event, &self->heap [parent]))
            break;
        self->heap [i] = self->heap [parent];
        i = parent;
    }
    self->heap [i] = event;
    if (self->size > self->peak)
        self->peak = self->size;
}

bool
sched_pop (sched_t *self, event_t *event)
{
    if (self->size == 0)
        return false;
    *event = self->heap [0];
    event_t last = self->heap [--self->size];
    size_t i = 0;
    while (true) {
        size_t child = 2 * i + 1;
        if (child >= self->size)
            break;
        if (child + 1 < self->size && s_before (&self->heap [child + 1], &self->heap [child]))
            child++;
        if (!s_before (&self->heap [child], &last))
            break;
        self->heap [i] = self->heap [child];
        i = child;
    }
    if (self->size)
        self->heap [i] = last;
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
