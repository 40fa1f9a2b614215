/*  refusals - how many audit records refused requests may cause
    A fixed window rather than a sliding one: one table of counts, reset
    at the window's end, bounded by REFUSALS_SOURCES_MAX entries.  */

#include "proto/refusals.h"

typedef struct {
    uint64_t recorded;              //  Records of its own this window
    uint64_t held;                  //  Refusals counted only
} s_source_t;

struct _refusals_t {
    zhashx_t *sources;              //  Source address -> s_source_t
    uint64_t window_start;          //  Unix ms; 0 before the first refusal
    uint64_t recorded;              //  In all this window
    uint64_t held;                  //  In all, ever
};

static void
s_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

refusals_t *
refusals_new (void)
{
    refusals_t *self = (refusals_t *) zmalloc (sizeof (refusals_t));
    self->sources = zhashx_new ();
    zhashx_set_destructor (self->sources, s_free);
    return self;
}

void
refusals_destroy (refusals_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        refusals_t *self = *self_p;
        zhashx_destroy (&self->sources);
        free (self);
        *self_p = NULL;
    }
}

json_t *
refusals_roll (refusals_t *self, uint64_t now_ms)
{
    assert (self);
    if (self->window_start == 0 || now_ms < self->window_start) {
        self->window_start = now_ms;
        return NULL;
    }
    if (now_ms < self->window_start + REFUSALS_WINDOW_MS)
        return NULL;
    json_t *held = NULL;
    for (s_source_t *source = (s_source_t *) zhashx_first (self->sources); source;
         source = (s_source_t *) zhashx_next (self->sources))
        if (source->held) {
            if (!held)
                held = json_object ();
            json_object_set_new (held, (const char *) zhashx_cursor (self->sources),
                                 json_integer ((json_int_t) source->held));
        }
    zhashx_purge (self->sources);
    self->window_start = now_ms;
    self->recorded = 0;
    return held;
}

bool
refusals_admit (refusals_t *self, const char *source)
{
    assert (self && source);
    s_source_t *entry = (s_source_t *) zhashx_lookup (self->sources, source);
    if (!entry) {
        if (zhashx_size (self->sources) >= REFUSALS_SOURCES_MAX)
            source = "*";
        entry = (s_source_t *) zhashx_lookup (self->sources, source);
    }
    if (!entry) {
        entry = (s_source_t *) zmalloc (sizeof (s_source_t));
        zhashx_insert (self->sources, source, entry);
    }
    if (entry->recorded < REFUSALS_PER_SOURCE && self->recorded < REFUSALS_TOTAL) {
        entry->recorded++;
        self->recorded++;
        return true;
    }
    entry->held++;
    self->held++;
    return false;
}

uint64_t
refusals_held (refusals_t *self)
{
    assert (self);
    return self->held;
}

//  --------------------------------------------------------------------------
//  Selftest

void
refusals_test (bool verbose)
{
    (void) verbose;
    printf (" * refusals: ");
    //  @selftest
    refusals_t *refusals = refusals_new ();
    uint64_t now = 1700000000000ULL;
    assert (refusals_roll (refusals, now) == NULL);
    //  Per source: the first REFUSALS_PER_SOURCE, then counted only
    for (int i = 0; i < REFUSALS_PER_SOURCE; i++)
        assert (refusals_admit (refusals, "192.0.2.1"));
    assert (!refusals_admit (refusals, "192.0.2.1"));
    assert (!refusals_admit (refusals, "192.0.2.1"));
    assert (refusals_admit (refusals, "192.0.2.2"));        //  Another source is not held
    assert (refusals_roll (refusals, now + REFUSALS_WINDOW_MS - 1) == NULL);
    json_t *held = refusals_roll (refusals, now + REFUSALS_WINDOW_MS);
    assert (held && json_object_size (held) == 1);
    assert (json_integer_value (json_object_get (held, "192.0.2.1")) == 2);
    json_decref (held);
    assert (refusals_held (refusals) == 2);
    //  A new window: the source may again
    assert (refusals_admit (refusals, "192.0.2.1"));
    assert (refusals_roll (refusals, now + 2 * REFUSALS_WINDOW_MS) == NULL);

    //  In all: REFUSALS_TOTAL a window, also from many sources, whose
    //  count beyond REFUSALS_SOURCES_MAX is kept under "*"
    now += 3 * REFUSALS_WINDOW_MS;
    assert (refusals_roll (refusals, now) == NULL);
    int admitted = 0;
    for (int i = 0; i < 2 * REFUSALS_SOURCES_MAX; i++) {
        char source [32];
        snprintf (source, sizeof source, "10.0.%d.%d", i / 256, i % 256);
        admitted += refusals_admit (refusals, source);
    }
    assert (admitted == REFUSALS_TOTAL);
    held = refusals_roll (refusals, now + REFUSALS_WINDOW_MS);
    assert (json_object_size (held) == REFUSALS_SOURCES_MAX - REFUSALS_TOTAL + 1);
    assert (json_integer_value (json_object_get (held, "*")) == REFUSALS_SOURCES_MAX);
    json_decref (held);
    refusals_destroy (&refusals);
    refusals_destroy (&refusals);
    //  @end
    printf ("OK\n");
}
