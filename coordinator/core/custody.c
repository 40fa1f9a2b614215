/*  custody - the coordinator's custody of the frames it sends through relays
    Indexes (memory only; the frames themselves are in CUSTODY_TABLE
    once written): a hash by envelope id for the ACKs; per device, its
    entries in send order (at most per_dest, so finding its superseded
    ones touches a handful); per link (a relay's connection, or "=" and
    a device id for the device's own), the entries in flight on it in
    send order and those that wait for it; a heap of the entries due by
    due time; a heap of the links with entries in flight by probe time;
    and a heap of all entries by expiry. Every operation is O(log n) or
    O(k) for the k entries it moves; nothing walks all entries. The
    store side is in custody_store.c.  */

#include "proto/corelib.h"
#include "proto/replay.h"
#include "coordinator/core/custody_internal.h"

//  --------------------------------------------------------------------------
//  Heaps and small helpers

static bool
s_due_before (const void *a_, const void *b_)
{
    const custody_held_t *a = (const custody_held_t *) a_, *b = (const custody_held_t *) b_;
    if (a->due_ms != b->due_ms)
        return a->due_ms < b->due_ms;
    return a->order < b->order;
}

static bool
s_expiry_before (const void *a, const void *b)
{
    return ((const custody_held_t *) a)->expires_ms < ((const custody_held_t *) b)->expires_ms;
}

static void
s_dest_free (void **item)
{
    custody_dest_t *dest = (custody_dest_t *) *item;
    if (dest) {
        zlistx_destroy (&dest->entries);
        free (dest);
        *item = NULL;
    }
}

static void
s_link_free (void **item)
{
    custody_link_t *link = (custody_link_t *) *item;
    if (link) {
        zlistx_destroy (&link->in_flight);
        zlistx_destroy (&link->waiting);
        free (link);
        *item = NULL;
    }
}

bool
custody_name_ok (const char *name)
{
    return name && *name && strlen (name) <= WEFT_NAME_MAX && !streq (name, "*");
}

//  The link a frame to dest through relay goes on ("" when there is no
//  route: none)
static void
s_link_name (const char *dest, const char *relay, char name [CUSTODY_LINK_MAX + 1])
{
    if (!relay || !*relay)
        name [0] = 0;
    else
    if (streq (relay, dest))
        snprintf (name, CUSTODY_LINK_MAX + 1, "=%s", dest);
    else
        snprintf (name, CUSTODY_LINK_MAX + 1, "%s", relay);
}

static custody_link_t *
s_link_get (custody_t *self, const char *name)
{
    custody_link_t *link = (custody_link_t *) zhashx_lookup (self->links, name);
    if (!link) {
        link = (custody_link_t *) zmalloc (sizeof (custody_link_t));
        snprintf (link->name, sizeof link->name, "%s", name);
        link->in_flight = zlistx_new ();
        link->waiting = zlistx_new ();
        retry_link_init (&link->retry);
        zhashx_insert (self->links, name, link);
    }
    return link;
}

static void
s_link_arm (custody_t *self, custody_link_t *link, uint64_t now_ms)
{
    retry_link_arm (&self->probes, link, now_ms, self->limits.link_timeout_ms);
}

//  Take an entry out of whatever state it is in
static void
s_detach (custody_t *self, custody_held_t *entry)
{
    if (entry->state == CUSTODY_NONE)
        return;
    if (entry->state == CUSTODY_DUE)
        retry_heap_remove (&self->due, entry);
    else
    if (entry->link) {
        custody_link_t *link = entry->link;
        zlistx_delete (entry->state == CUSTODY_FLIGHT? link->in_flight: link->waiting,
                       entry->link_handle);
        if (zlistx_size (link->in_flight) == 0)
            retry_link_disarm (&self->probes, link);
        if (zlistx_size (link->in_flight) == 0 && zlistx_size (link->waiting) == 0)
            zhashx_delete (self->links, link->name);
    }
    entry->link = NULL;
    entry->link_handle = NULL;
    entry->state = CUSTODY_NONE;
}

static void
s_make_due (custody_t *self, custody_held_t *entry, uint64_t due_ms)
{
    s_detach (self, entry);
    entry->state = CUSTODY_DUE;
    entry->due_ms = due_ms;
    retry_heap_push (&self->due, entry);
}

//  In flight on link (named), or waiting for it (or for a route)
static void
s_place (custody_t *self, custody_held_t *entry, const char *link_name, bool sent,
         uint64_t now_ms)
{
    s_detach (self, entry);
    entry->state = CUSTODY_WAITING;
    if (!*link_name)
        return;                     //  No route: waits for its device's
    custody_link_t *link = s_link_get (self, link_name);
    entry->link = link;
    if (sent) {
        entry->state = CUSTODY_FLIGHT;
        entry->link_handle = zlistx_add_end (link->in_flight, entry);
        if (!link->retry.slot.heap)
            s_link_arm (self, link, now_ms);
    }
    else
        entry->link_handle = zlistx_add_end (link->waiting, entry);
}

//  Forget one entry; counter is the stat it counts in (NULL: none)
static void
s_drop (custody_t *self, custody_held_t *entry, uint64_t *counter)
{
    s_detach (self, entry);
    char hex [2 * WEFT_ID_SIZE + 1];
    envelope_id_hex (entry->pub.id, hex);
    zhashx_delete (self->by_id, hex);
    custody_dest_t *dest = (custody_dest_t *) zhashx_lookup (self->by_dest, entry->pub.dest);
    assert (dest);
    zlistx_delete (dest->entries, entry->dest_handle);
    dest->bytes -= entry->pub.size;
    if (zlistx_size (dest->entries) == 0)
        zhashx_delete (self->by_dest, entry->pub.dest);
    retry_heap_remove (&self->expiry, entry);
    if (entry->data)
        zlistx_delete (self->unwritten, entry->unwritten_handle);
    else {
        uint64_t *order = (uint64_t *) zmalloc (sizeof (uint64_t));
        *order = entry->order;
        zlistx_add_end (self->deletes, order);
    }
    self->count--;
    self->bytes -= entry->pub.size;
    self->stats->custody_held = self->count;
    if (counter)
        (*counter)++;
    free (entry->data);
    free (entry);
}

//  The device would refuse it as a replay: a frame REPLAY_WINDOW or more
//  seqs newer was sent to it since
static bool
s_superseded (const custody_held_t *entry, const custody_dest_t *dest)
{
    return entry->windowed && entry->pub.seq + REPLAY_WINDOW <= dest->top_seq;
}

//  --------------------------------------------------------------------------
//  Create and destroy

custody_t *
custody_new (store_t *store, const custody_limits_t *limits, coord_stats_t *stats)
{
    assert (stats);
    custody_t *self = (custody_t *) zmalloc (sizeof (custody_t));
    self->store = store;
    if (limits)
        self->limits = *limits;
    if (!self->limits.per_dest)
        self->limits.per_dest = CUSTODY_PER_DEST;
    if (!self->limits.dest_bytes)
        self->limits.dest_bytes = CUSTODY_DEST_BYTES;
    if (!self->limits.count_max)
        self->limits.count_max = CUSTODY_COUNT_MAX;
    if (!self->limits.bytes_max)
        self->limits.bytes_max = CUSTODY_BYTES_MAX;
    if (!self->limits.age_ms)
        self->limits.age_ms = CUSTODY_AGE_MS;
    if (!self->limits.link_timeout_ms)
        self->limits.link_timeout_ms = CUSTODY_LINK_TIMEOUT_MS;
    self->stats = stats;
    self->by_id = zhashx_new ();
    self->by_dest = zhashx_new ();
    zhashx_set_destructor (self->by_dest, s_dest_free);
    self->links = zhashx_new ();
    zhashx_set_destructor (self->links, s_link_free);
    self->deletes = zlistx_new ();
    self->unwritten = zlistx_new ();
    retry_heap_init (&self->due, s_due_before, offsetof (custody_held_t, due_slot));
    retry_heap_init (&self->expiry, s_expiry_before, offsetof (custody_held_t, expiry_slot));
    retry_heap_init (&self->probes, retry_link_before, offsetof (custody_link_t, retry.slot));
    self->next_order = 1;
    return self;
}

void
custody_set_heartbeat (custody_t *self, uint64_t heartbeat_ms)
{
    assert (self);
    self->limits.link_timeout_ms = RETRY_LINK_DEAD (heartbeat_ms? heartbeat_ms: 5000);
}

void
custody_destroy (custody_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        custody_t *self = *self_p;
        for (custody_held_t *entry = (custody_held_t *) zhashx_first (self->by_id); entry;
             entry = (custody_held_t *) zhashx_next (self->by_id)) {
            free (entry->data);
            free (entry);
        }
        zhashx_destroy (&self->by_id);
        zhashx_destroy (&self->by_dest);
        zhashx_destroy (&self->links);
        for (uint64_t *order = (uint64_t *) zlistx_first (self->deletes); order;
             order = (uint64_t *) zlistx_next (self->deletes))
            free (order);
        zlistx_destroy (&self->deletes);
        zlistx_destroy (&self->unwritten);
        retry_heap_free (&self->due);
        retry_heap_free (&self->expiry);
        retry_heap_free (&self->probes);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Taking a frame

//  A new entry for a decoded envelope, placed and indexed. data is
//  taken (NULL: the frame is in the store already, under order).
custody_held_t *
custody_hold (custody_t *self, const envelope_t *env, const char *dest_id,
             const char *link_name, bool sent, uint8_t *data, size_t size,
             uint64_t order, uint64_t expires_ms, uint64_t now_ms)
{
    custody_dest_t *dest = (custody_dest_t *) zhashx_lookup (self->by_dest, dest_id);
    if (!dest) {
        dest = (custody_dest_t *) zmalloc (sizeof (custody_dest_t));
        dest->entries = zlistx_new ();
        zhashx_insert (self->by_dest, dest_id, dest);
    }
    bool windowed = replay_windowed (env->type);
    if (windowed && env->seq > dest->top_seq)
        dest->top_seq = env->seq;
    custody_held_t *entry = (custody_held_t *) zmalloc (sizeof (custody_held_t));
    entry->windowed = windowed;
    memcpy (entry->pub.id, env->id, WEFT_ID_SIZE);
    snprintf (entry->pub.dest, sizeof entry->pub.dest, "%s", dest_id);
    entry->pub.size = size;
    entry->pub.seq = env->seq;
    entry->pub.type = env->type;
    entry->pub.sends = sent? 1: 0;
    entry->order = order;
    entry->expires_ms = expires_ms;
    entry->data = data;
    if (data)
        entry->unwritten_handle = zlistx_add_end (self->unwritten, entry);
    char hex [2 * WEFT_ID_SIZE + 1];
    envelope_id_hex (env->id, hex);
    zhashx_insert (self->by_id, hex, entry);
    entry->dest_handle = zlistx_add_end (dest->entries, entry);
    dest->bytes += size;
    retry_heap_push (&self->expiry, entry);
    self->count++;
    self->bytes += size;
    self->stats->custody_held = self->count;
    s_place (self, entry, link_name, sent, now_ms);
    return entry;
}

int
custody_sent (custody_t *self, const char *dest_id, const char *relay, bool sent,
              const uint8_t *frame, size_t size, uint64_t now_ms)
{
    assert (self && frame);
    envelope_t env;
    if (!custody_name_ok (dest_id) || (relay && *relay && !custody_name_ok (relay))
    ||  size == 0 || envelope_decode (&env, frame, size))
        return -1;
    char link_name [CUSTODY_LINK_MAX + 1];
    s_link_name (dest_id, relay, link_name);
    char hex [2 * WEFT_ID_SIZE + 1];
    envelope_id_hex (env.id, hex);
    custody_held_t *held = (custody_held_t *) zhashx_lookup (self->by_id, hex);
    if (held) {                     //  Our own retransmission
        if (sent) {
            held->pub.sends++;
            if (held->pub.sends > 1)
                self->stats->custody_resent++;
        }
        s_place (self, held, link_name, sent, now_ms);
        return 0;
    }
    //  Superseded ones first (the device would refuse them anyway); at
    //  most per_dest to look at
    custody_dest_t *dest = (custody_dest_t *) zhashx_lookup (self->by_dest, dest_id);
    if (dest && replay_windowed (env.type) && env.seq > dest->top_seq)
        dest->top_seq = env.seq;
    custody_held_t *next;
    for (custody_held_t *old = dest? (custody_held_t *) zlistx_first (dest->entries): NULL;
         old; old = next) {
        next = (custody_held_t *) zlistx_next (dest->entries);
        if (s_superseded (old, dest)) {
            bool last = zlistx_size (dest->entries) == 1;
            s_drop (self, old, &self->stats->custody_expired);
            if (last) {
                dest = NULL;        //  Its record went with its last entry
                break;
            }
        }
    }
    //  Within the budget, or refused: nothing held is evicted for room
    size_t dest_count = dest? zlistx_size (dest->entries): 0;
    size_t dest_bytes = dest? dest->bytes: 0;
    if (dest_count >= self->limits.per_dest || dest_bytes + size > self->limits.dest_bytes
    ||  self->count >= self->limits.count_max || self->bytes + size > self->limits.bytes_max) {
        self->stats->custody_over_budget++;
        return 1;
    }
    uint64_t expires_ms = now_ms + self->limits.age_ms;
    if (env.expiry && env.expiry < expires_ms)
        expires_ms = env.expiry;
    uint8_t *data = (uint8_t *) zmalloc (size);
    memcpy (data, frame, size);
    custody_hold (self, &env, dest_id, link_name, sent, data, size, self->next_order++,
                 expires_ms, now_ms);
    return 0;
}

void
custody_note_seq (custody_t *self, const char *dest_id, uint64_t seq)
{
    assert (self);
    custody_dest_t *dest = dest_id? (custody_dest_t *) zhashx_lookup (self->by_dest, dest_id)
                                  : NULL;
    if (dest && seq > dest->top_seq)
        dest->top_seq = seq;
}

//  --------------------------------------------------------------------------
//  Links and ACKs

//  Everything in flight on a link or waiting for it: due now
static size_t
s_wake_link (custody_t *self, const char *name, uint64_t now_ms)
{
    custody_link_t *link = (custody_link_t *) zhashx_lookup (self->links, name);
    if (!link)
        return 0;
    size_t count = zlistx_size (link->in_flight) + zlistx_size (link->waiting);
    //  The last entry out takes the link with it
    for (size_t i = 0; i < count; i++) {
        custody_held_t *entry = (custody_held_t *) zlistx_first (link->in_flight);
        if (!entry)
            entry = (custody_held_t *) zlistx_first (link->waiting);
        s_make_due (self, entry, now_ms);
    }
    return count;
}

size_t
custody_wake (custody_t *self, const char *relay, uint64_t now_ms)
{
    assert (self);
    if (!custody_name_ok (relay))
        return 0;
    char own [CUSTODY_LINK_MAX + 1];
    s_link_name (relay, relay, own);
    return s_wake_link (self, relay, now_ms) + s_wake_link (self, own, now_ms);
}

size_t
custody_wake_dest (custody_t *self, const char *dest_id, uint64_t now_ms)
{
    assert (self);
    custody_dest_t *dest = dest_id? (custody_dest_t *) zhashx_lookup (self->by_dest, dest_id): NULL;
    size_t count = 0;
    //  Whatever waits, for a route or for a link it was sent on before
    //  (the device may be behind another relay now); at most per_dest
    for (custody_held_t *entry = dest? (custody_held_t *) zlistx_first (dest->entries): NULL; entry;
         entry = (custody_held_t *) zlistx_next (dest->entries))
        if (entry->state == CUSTODY_WAITING) {
            s_make_due (self, entry, now_ms);
            count++;
        }
    return count;
}

static custody_held_t *
s_lookup (custody_t *self, const uint8_t *id)
{
    char hex [2 * WEFT_ID_SIZE + 1];
    envelope_id_hex (id, hex);
    return (custody_held_t *) zhashx_lookup (self->by_id, hex);
}

//  entry was acknowledged. A hop sends its ACKs in the order it received
//  (after its commit) on one connection: what went before it unanswered
//  was dropped. The link is working: its probe waits anew.
static void
s_answered (custody_t *self, custody_held_t *entry, uint64_t now_ms)
{
    custody_link_t *link = entry->state == CUSTODY_FLIGHT? entry->link: NULL;
    if (!link)
        return;
    //  Sent once: again at once; a retransmission: after the back-off
    //  (proto/retry.h)
    bool missed_again = false;
    custody_held_t *first;
    while ((first = (custody_held_t *) zlistx_first (link->in_flight)) != entry) {
        missed_again |= first->pub.sends > 1;
        s_make_due (self, first, now_ms + retry_link_passed_over_ms (&link->retry, first->pub.sends));
    }
    retry_link_acked (&link->retry, entry->pub.sends > 1, missed_again);
    if (zlistx_size (link->in_flight) > 1)
        s_link_arm (self, link, now_ms);
}

int
custody_ack (custody_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t now_ms)
{
    assert (self && id);
    custody_held_t *entry = s_lookup (self, id);
    if (!entry)
        return -1;
    s_answered (self, entry, now_ms);
    s_drop (self, entry, &self->stats->custody_acked);
    return 0;
}

const custody_entry_t *
custody_find (custody_t *self, const uint8_t id [WEFT_ID_SIZE])
{
    assert (self && id);
    custody_held_t *entry = s_lookup (self, id);
    return entry? &entry->pub: NULL;
}

int
custody_refused (custody_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t now_ms)
{
    assert (self && id);
    custody_held_t *entry = s_lookup (self, id);
    if (!entry)
        return -1;
    (void) now_ms;
    s_drop (self, entry, &self->stats->custody_refused);
    return 0;
}

int
custody_not_taken (custody_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t now_ms)
{
    assert (self && id);
    custody_held_t *entry = s_lookup (self, id);
    if (!entry || entry->state != CUSTODY_FLIGHT)
        return -1;
    custody_link_t *link = entry->link;
    uint64_t backoff = link->retry.backoff_ms;
    retry_link_missed (&link->retry);
    if (zlistx_size (link->in_flight) > 1)
        s_link_arm (self, link, now_ms);
    s_make_due (self, entry, now_ms + backoff);     //  May free the link
    return 0;
}

//  --------------------------------------------------------------------------
//  Timers

const custody_entry_t *
custody_due (custody_t *self, uint64_t now_ms)
{
    assert (self);
    custody_held_t *entry;
    while ((entry = (custody_held_t *) retry_heap_top (&self->expiry))
    &&     entry->expires_ms <= now_ms)
        s_drop (self, entry, &self->stats->custody_expired);
    //  A link that acknowledged nothing for its timeout: its oldest
    //  frame goes once more, and its back-off grows
    custody_link_t *link;
    while ((link = (custody_link_t *) retry_heap_top (&self->probes)) && link->retry.probe_ms <= now_ms) {
        entry = (custody_held_t *) zlistx_first (link->in_flight);
        retry_link_missed (&link->retry);
        if (zlistx_size (link->in_flight) > 1)
            s_link_arm (self, link, now_ms);
        s_make_due (self, entry, now_ms);           //  May free the link
    }
    while ((entry = (custody_held_t *) retry_heap_top (&self->due)) && entry->due_ms <= now_ms) {
        custody_dest_t *dest = (custody_dest_t *) zhashx_lookup (self->by_dest, entry->pub.dest);
        if (!s_superseded (entry, dest))
            return &entry->pub;
        s_drop (self, entry, &self->stats->custody_expired);
    }
    return NULL;
}

void
custody_settle (custody_t *self, const custody_entry_t *pub)
{
    assert (self && pub);
    custody_held_t *entry = (custody_held_t *) pub;
    if (entry->state == CUSTODY_DUE)
        s_place (self, entry, "", false, 0);
}

uint64_t
custody_deadline (custody_t *self)
{
    assert (self);
    uint64_t next = 0;
    custody_held_t *entry = (custody_held_t *) retry_heap_top (&self->due);
    if (entry)
        next = entry->due_ms;
    custody_link_t *link = (custody_link_t *) retry_heap_top (&self->probes);
    if (link && (next == 0 || link->retry.probe_ms < next))
        next = link->retry.probe_ms;
    entry = (custody_held_t *) retry_heap_top (&self->expiry);
    if (entry && (next == 0 || entry->expires_ms < next))
        next = entry->expires_ms;
    return next;
}

size_t
custody_size (custody_t *self)
{
    assert (self);
    return self->count;
}

size_t
custody_bytes (custody_t *self)
{
    assert (self);
    return self->bytes;
}
