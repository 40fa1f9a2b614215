/*  seen - the envelope ids a hop has taken, in bounded memory
    A ring of (id, time) in the order they were added, and an open
    addressing index (linear probing, twice the ring's size, ring slot
    + 1 per entry, 0 = empty; deletion shifts the cluster back instead
    of leaving tombstones). The oldest entry is always at the ring's
    head, so forgetting is O(1); the ring and the index double together
    while there is room.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/seen.h"

#define SEEN_CAP_MIN    8               //  A few ids: most hops take few; doubles

typedef struct {
    uint8_t id [WEFT_ID_SIZE];
    uint64_t time_ms;
} s_item_t;

struct _seen_t {
    uint64_t window_ms;             //  Ids answer for this long
    size_t max;                     //  Ring capacity at most
    s_item_t *ring;                 //  cap items; count from head on
    size_t cap;                     //  Power of two
    size_t head;
    size_t count;
    uint32_t *index;                //  2 * cap slots: ring slot + 1, 0 = empty
    uint64_t evicted_ms;            //  Newest time forgotten for room
    uint8_t key [crypto_shorthash_KEYBYTES];    //  Index hash key
};

static size_t
s_hash (seen_t *self, const uint8_t *id)
{
    uint8_t hash [crypto_shorthash_BYTES];
    crypto_shorthash (hash, id, WEFT_ID_SIZE, self->key);
    uint64_t value;
    memcpy (&value, hash, sizeof value);
    return (size_t) value & (2 * self->cap - 1);
}

//  Index position holding id, or the empty one where it would go
static size_t
s_find (seen_t *self, const uint8_t *id)
{
    size_t mask = 2 * self->cap - 1;
    size_t pos = s_hash (self, id);
    while (self->index [pos]
    &&     memcmp (self->ring [self->index [pos] - 1].id, id, WEFT_ID_SIZE) != 0)
        pos = (pos + 1) & mask;
    return pos;
}

//  Remove index position pos, shifting the rest of its cluster back
static void
s_index_delete (seen_t *self, size_t pos)
{
    size_t mask = 2 * self->cap - 1;
    size_t next = (pos + 1) & mask;
    self->index [pos] = 0;
    while (self->index [next]) {
        size_t home = s_hash (self, self->ring [self->index [next] - 1].id);
        //  Move it back if its home is not in (pos, next]
        bool between = pos <= next? (home > pos && home <= next)
                                  : (home > pos || home <= next);
        if (!between) {
            self->index [pos] = self->index [next];
            self->index [next] = 0;
            pos = next;
        }
        next = (next + 1) & mask;
    }
}

static void
s_forget_head (seen_t *self)
{
    s_item_t *oldest = &self->ring [self->head];
    size_t pos = s_find (self, oldest->id);
    assert (self->index [pos] == self->head + 1);
    s_index_delete (self, pos);
    self->head = (self->head + 1) & (self->cap - 1);
    self->count--;
}

static void
s_rebuild (seen_t *self, size_t cap)
{
    s_item_t *ring = (s_item_t *) zmalloc (cap * sizeof (s_item_t));
    for (size_t i = 0; i < self->count; i++)
        ring [i] = self->ring [(self->head + i) & (self->cap - 1)];
    free (self->ring);
    free (self->index);
    self->ring = ring;
    self->cap = cap;
    self->head = 0;
    self->index = (uint32_t *) zmalloc (2 * cap * sizeof (uint32_t));
    for (size_t i = 0; i < self->count; i++)
        self->index [s_find (self, ring [i].id)] = (uint32_t) (i + 1);
}

seen_t *
seen_new (uint64_t window_ms, size_t max)
{
    seen_t *self = (seen_t *) zmalloc (sizeof (seen_t));
    self->window_ms = window_ms? window_ms: SEEN_WINDOW_MS;
    if (!max)
        max = SEEN_MAX;
    self->max = SEEN_CAP_MIN;
    while (self->max < max && self->max < SEEN_MAX)
        self->max *= 2;             //  A power of two, at most SEEN_MAX
    randombytes_buf (self->key, sizeof self->key);
    self->cap = SEEN_CAP_MIN;
    self->ring = (s_item_t *) zmalloc (self->cap * sizeof (s_item_t));
    self->index = (uint32_t *) zmalloc (2 * self->cap * sizeof (uint32_t));
    return self;
}

void
seen_destroy (seen_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        seen_t *self = *self_p;
        free (self->ring);
        free (self->index);
        free (self);
        *self_p = NULL;
    }
}

//  Forget the ids whose time left the window (oldest added first; one
//  that came late with an older time waits its turn, which is safe)
static void
s_expire (seen_t *self, uint64_t now_ms)
{
    uint64_t cutoff = now_ms > self->window_ms? now_ms - self->window_ms: 0;
    while (self->count && self->ring [self->head].time_ms < cutoff)
        s_forget_head (self);
}

uint64_t
seen_floor (seen_t *self, uint64_t now_ms)
{
    assert (self);
    uint64_t cutoff = now_ms > self->window_ms? now_ms - self->window_ms - 1: 0;
    return cutoff > self->evicted_ms? cutoff: self->evicted_ms;
}

int
seen_check (seen_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t time_ms,
            uint64_t now_ms)
{
    assert (self && id);
    s_expire (self, now_ms);
    if (self->index [s_find (self, id)])
        return SEEN_DUPLICATE;
    if (time_ms > now_ms + self->window_ms)
        return SEEN_AHEAD;
    if (time_ms <= seen_floor (self, now_ms))
        return SEEN_STALE;
    return SEEN_NEW;
}

void
seen_add (seen_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t time_ms,
          uint64_t now_ms)
{
    assert (self && id);
    s_expire (self, now_ms);
    if (self->index [s_find (self, id)])
        return;
    if (self->count == self->cap) {
        if (self->cap < self->max)
            s_rebuild (self, self->cap * 2);
        else {
            //  Full: forget the oldest, and refuse anything not newer
            uint64_t forgotten = self->ring [self->head].time_ms;
            if (forgotten > self->evicted_ms)
                self->evicted_ms = forgotten;
            s_forget_head (self);
        }
    }
    size_t slot = (self->head + self->count) & (self->cap - 1);
    memcpy (self->ring [slot].id, id, WEFT_ID_SIZE);
    self->ring [slot].time_ms = time_ms;
    self->count++;
    self->index [s_find (self, id)] = (uint32_t) (slot + 1);
}

size_t
seen_size (seen_t *self)
{
    assert (self);
    return self->count;
}

size_t
seen_memory (seen_t *self)
{
    assert (self);
    return sizeof (seen_t) + self->cap * (sizeof (s_item_t) + 2 * sizeof (uint32_t));
}

//  --------------------------------------------------------------------------
//  Selftest

static void
s_test_id (uint32_t n, uint8_t id [WEFT_ID_SIZE])
{
    memset (id, 0xA5, WEFT_ID_SIZE);
    memcpy (id, &n, sizeof n);
}

void
seen_test (bool verbose)
{
    printf (" * seen: ");
    //  @selftest
    uint64_t window = 600000, now = 1000000000;
    seen_t *seen = seen_new (window, 1000);
    uint8_t id [WEFT_ID_SIZE], other [WEFT_ID_SIZE];
    s_test_id (1, id);
    s_test_id (2, other);

    //  New, then a duplicate; another id is still new
    assert (seen_check (seen, id, now, now) == SEEN_NEW);
    seen_add (seen, id, now, now);
    seen_add (seen, id, now, now);              //  Held already
    assert (seen_size (seen) == 1);
    assert (seen_check (seen, id, now, now + 1000) == SEEN_DUPLICATE);
    assert (seen_check (seen, other, now, now + 1000) == SEEN_NEW);
    //  The window: older than now - window is stale, beyond now + window
    //  ahead (a wrong clock); the edges are inside
    assert (seen_check (seen, other, now - window, now) == SEEN_NEW);
    assert (seen_check (seen, other, now - window - 1, now) == SEEN_STALE);
    assert (seen_check (seen, other, now + window, now) == SEEN_NEW);
    assert (seen_check (seen, other, now + window + 1, now) == SEEN_AHEAD);
    assert (seen_floor (seen, now) == now - window - 1);
    //  An id is held as long as its time is in the window, then forgotten,
    //  and by then its envelope is refused by its time: never taken twice
    assert (seen_check (seen, id, now, now + window) == SEEN_DUPLICATE);
    assert (seen_check (seen, id, now, now + window + 1) == SEEN_STALE);
    assert (seen_size (seen) == 0);

    //  Full (1000 ids, the rounded-up power of two is 1024): the oldest
    //  is forgotten for room, and the floor rises to its time, so the
    //  forgotten one is stale, never new
    now += 2 * window;
    for (uint32_t i = 0; i < 1024; i++) {
        s_test_id (100 + i, id);
        seen_add (seen, id, now + i, now + i);
    }
    assert (seen_size (seen) == 1024);
    size_t memory = seen_memory (seen);
    s_test_id (5000, id);
    seen_add (seen, id, now + 1024, now + 1024);
    assert (seen_size (seen) == 1024 && seen_memory (seen) == memory);
    s_test_id (100, id);                        //  The first one: forgotten
    assert (seen_check (seen, id, now, now + 1024) == SEEN_STALE);
    s_test_id (101, id);                        //  The second: held
    assert (seen_check (seen, id, now + 1, now + 1024) == SEEN_DUPLICATE);
    s_test_id (6000, id);                       //  Newer than the floor: new
    assert (seen_check (seen, id, now + 1, now + 1024) == SEEN_NEW);
    assert (seen_floor (seen, now + 1024) == now);

    //  Every id added is found until it is forgotten (the index survives
    //  growth and back-shifted deletes); memory stops growing at max
    seen_t *big = seen_new (window, 5000);
    uint64_t t = now;
    for (uint32_t i = 0; i < 20000; i++) {
        s_test_id (i, id);
        assert (seen_check (big, id, t, t) == SEEN_NEW);
        seen_add (big, id, t, t);
        if (i % 7 == 0) {
            //  An earlier one again, with its own time: a duplicate while
            //  held, stale once forgotten for room, never new
            s_test_id (i / 2, other);
            int result = seen_check (big, other, now + (uint64_t) (i / 2) * 10, t);
            bool held = i / 2 + 8192 > i;
            assert (held? result == SEEN_DUPLICATE: result == SEEN_STALE);
        }
        t += 10;
    }
    assert (seen_size (big) == 8192);
    for (uint32_t i = 20000 - 8192; i < 20000; i++) {
        s_test_id (i, id);
        assert (seen_check (big, id, now, t) == SEEN_DUPLICATE);
    }
    //  Time moves past the window: all forgotten, none taken again
    t += window + 1;
    s_test_id (19999, id);
    assert (seen_check (big, id, t - window - 11, t) == SEEN_STALE);
    assert (seen_size (big) == 0);
    if (verbose)
        printf ("(%zu bytes at most) ", seen_memory (big));
    seen_destroy (&big);
    seen_destroy (&seen);
    seen_destroy (&seen);
    //  @end
    printf ("OK\n");
}
