/*  custody - the coordinator's custody of the frames it sends through relays
    Indexes (memory only): a hash by envelope id for the ACKs; per
    device, its entries in send order (at most per_dest, so evicting a
    device's oldest or finding its superseded ones touches a handful);
    per relay, the entries last sent through it (for custody_wake);
    all entries in send order, for the global caps; and a heap by due
    time (proto/retry.h) so a tick touches only the due entries. Every
    operation is O(log n) or O(per_dest); nothing walks all entries.  */

#include "proto/corelib.h"
#include "proto/envelope.h"
#include "proto/replay.h"
#include "proto/retry.h"
#include "coordinator/core/custody.h"

typedef struct {
    custody_entry_t pub;
    uint8_t *data;                  //  Owned frame
    uint64_t order;                 //  Send order, breaks due-time ties
    uint64_t expires_ms;            //  Given up at
    retry_slot_t slot;              //  Position in the due heap
    void *dest_handle;              //  Position in its device's list
    void *age_handle;               //  Position in the global list
    char relay [WEFT_NAME_MAX + 1]; //  Relay it was last sent through
    void *relay_handle;             //  Position in that relay's list
} s_entry_t;

//  A device with frames held
typedef struct {
    zlistx_t *entries;              //  s_entry_t, send order
    uint64_t top_seq;               //  Highest seq sent to it meanwhile
} s_dest_t;

struct _custody_t {
    custody_limits_t limits;
    coord_stats_t *stats;           //  Borrowed
    zhashx_t *by_id;                //  Id hex -> s_entry_t
    zhashx_t *by_dest;              //  Device id -> s_dest_t
    zhashx_t *by_relay;             //  Relay id -> zlistx_t of s_entry_t
    zlistx_t *by_age;               //  s_entry_t, send order
    retry_heap_t due;               //  By due time, then send order
    uint64_t next_order;
    size_t bytes;
};

static bool
s_due_before (const void *a_, const void *b_)
{
    const s_entry_t *a = (const s_entry_t *) a_, *b = (const s_entry_t *) b_;
    if (a->pub.due_ms != b->pub.due_ms)
        return a->pub.due_ms < b->pub.due_ms;
    return a->order < b->order;
}

static void
s_dest_free (void **item)
{
    s_dest_t *dest = (s_dest_t *) *item;
    if (dest) {
        zlistx_destroy (&dest->entries);
        free (dest);
        *item = NULL;
    }
}

static void
s_list_free (void **item)
{
    zlistx_destroy ((zlistx_t **) item);
}

static void
s_relay_add (custody_t *self, s_entry_t *entry, const char *relay)
{
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->by_relay, relay);
    if (!list) {
        list = zlistx_new ();
        zhashx_insert (self->by_relay, relay, list);
    }
    snprintf (entry->relay, sizeof entry->relay, "%s", relay);
    entry->relay_handle = zlistx_add_end (list, entry);
}

static void
s_relay_remove (custody_t *self, s_entry_t *entry)
{
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->by_relay, entry->relay);
    assert (list && entry->relay_handle);
    zlistx_delete (list, entry->relay_handle);
    entry->relay_handle = NULL;
    if (zlistx_size (list) == 0)
        zhashx_delete (self->by_relay, entry->relay);
}

custody_t *
custody_new (const custody_limits_t *limits, coord_stats_t *stats)
{
    assert (stats);
    custody_t *self = (custody_t *) zmalloc (sizeof (custody_t));
    if (limits)
        self->limits = *limits;
    if (!self->limits.per_dest)
        self->limits.per_dest = CUSTODY_PER_DEST;
    if (!self->limits.count_max)
        self->limits.count_max = CUSTODY_COUNT_MAX;
    if (!self->limits.bytes_max)
        self->limits.bytes_max = CUSTODY_BYTES_MAX;
    if (!self->limits.age_ms)
        self->limits.age_ms = CUSTODY_AGE_MS;
    self->stats = stats;
    self->by_id = zhashx_new ();
    self->by_dest = zhashx_new ();
    zhashx_set_destructor (self->by_dest, s_dest_free);
    self->by_relay = zhashx_new ();
    zhashx_set_destructor (self->by_relay, s_list_free);
    self->by_age = zlistx_new ();
    retry_heap_init (&self->due, s_due_before, offsetof (s_entry_t, slot));
    return self;
}

void
custody_destroy (custody_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        custody_t *self = *self_p;
        for (s_entry_t *entry = (s_entry_t *) zlistx_first (self->by_age); entry;
             entry = (s_entry_t *) zlistx_next (self->by_age)) {
            free (entry->data);
            free (entry);
        }
        zlistx_destroy (&self->by_age);
        zhashx_destroy (&self->by_id);
        zhashx_destroy (&self->by_dest);
        zhashx_destroy (&self->by_relay);
        retry_heap_free (&self->due);
        free (self);
        *self_p = NULL;
    }
}

//  Forget one entry; counter is the stat it counts in (NULL: none)
static void
s_drop (custody_t *self, s_entry_t *entry, uint64_t *counter)
{
    char hex [2 * WEFT_ID_SIZE + 1];
    envelope_id_hex (entry->pub.id, hex);
    zhashx_delete (self->by_id, hex);
    s_dest_t *dest = (s_dest_t *) zhashx_lookup (self->by_dest, entry->pub.dest);
    assert (dest);
    zlistx_delete (dest->entries, entry->dest_handle);
    if (zlistx_size (dest->entries) == 0)
        zhashx_delete (self->by_dest, entry->pub.dest);
    zlistx_delete (self->by_age, entry->age_handle);
    s_relay_remove (self, entry);
    retry_heap_remove (&self->due, entry);
    self->bytes -= entry->pub.size;
    self->stats->custody_held = zlistx_size (self->by_age);
    if (counter)
        (*counter)++;
    free (entry->data);
    free (entry);
}

//  The device would refuse it as a replay: a frame REPLAY_WINDOW or more
//  seqs newer was sent to it since
static bool
s_superseded (const s_entry_t *entry, const s_dest_t *dest)
{
    return entry->pub.seq + REPLAY_WINDOW <= dest->top_seq;
}

static bool
s_name_ok (const char *name)
{
    return name && *name && strlen (name) <= WEFT_NAME_MAX && !streq (name, "*");
}

int
custody_sent (custody_t *self, const char *dest_id, const char *relay,
              const uint8_t *frame, size_t size, uint64_t now_ms)
{
    assert (self && frame);
    envelope_t env;
    if (!s_name_ok (dest_id) || !s_name_ok (relay)
    ||  size == 0 || envelope_decode (&env, frame, size))
        return -1;
    char hex [2 * WEFT_ID_SIZE + 1];
    envelope_id_hex (env.id, hex);
    s_entry_t *held = (s_entry_t *) zhashx_lookup (self->by_id, hex);
    if (held) {                     //  Our own retransmission
        if (!streq (held->relay, relay)) {
            s_relay_remove (self, held);
            s_relay_add (self, held, relay);
        }
        return 0;
    }
    //  Superseded ones first, then the oldest while full (dropping a
    //  device's last entry frees its record: look it up again)
    s_dest_t *dest = (s_dest_t *) zhashx_lookup (self->by_dest, dest_id);
    if (dest && env.seq > dest->top_seq)
        dest->top_seq = env.seq;
    s_entry_t *oldest;
    while (dest && (oldest = (s_entry_t *) zlistx_first (dest->entries))
    &&     s_superseded (oldest, dest)) {
        s_drop (self, oldest, &self->stats->custody_expired);
        dest = (s_dest_t *) zhashx_lookup (self->by_dest, dest_id);
    }
    while (dest && zlistx_size (dest->entries) >= self->limits.per_dest) {
        s_drop (self, (s_entry_t *) zlistx_first (dest->entries),
                &self->stats->custody_evicted);
        dest = (s_dest_t *) zhashx_lookup (self->by_dest, dest_id);
    }
    if (size > self->limits.bytes_max) {
        self->stats->custody_evicted++;
        return 0;
    }
    while (zlistx_size (self->by_age) >= self->limits.count_max
    ||     self->bytes + size > self->limits.bytes_max)
        s_drop (self, (s_entry_t *) zlistx_first (self->by_age),
                &self->stats->custody_evicted);
    dest = (s_dest_t *) zhashx_lookup (self->by_dest, dest_id);
    if (!dest) {
        dest = (s_dest_t *) zmalloc (sizeof (s_dest_t));
        dest->entries = zlistx_new ();
        dest->top_seq = env.seq;
        zhashx_insert (self->by_dest, dest_id, dest);
    }
    s_entry_t *entry = (s_entry_t *) zmalloc (sizeof (s_entry_t));
    memcpy (entry->pub.id, env.id, WEFT_ID_SIZE);
    snprintf (entry->pub.dest, sizeof entry->pub.dest, "%s", dest_id);
    entry->data = (uint8_t *) zmalloc (size);
    memcpy (entry->data, frame, size);
    entry->pub.frame = entry->data;
    entry->pub.size = size;
    entry->pub.seq = env.seq;
    entry->pub.sends = 1;
    entry->pub.due_ms = now_ms + RETRY_MIN_MS;
    entry->pub.backoff_ms = retry_backoff_next (RETRY_MIN_MS);
    entry->expires_ms = now_ms + self->limits.age_ms;
    if (env.expiry && env.expiry < entry->expires_ms)
        entry->expires_ms = env.expiry;
    entry->order = self->next_order++;
    zhashx_insert (self->by_id, hex, entry);
    entry->dest_handle = zlistx_add_end (dest->entries, entry);
    entry->age_handle = zlistx_add_end (self->by_age, entry);
    s_relay_add (self, entry, relay);
    retry_heap_push (&self->due, entry);
    self->bytes += size;
    self->stats->custody_held = zlistx_size (self->by_age);
    return 0;
}

size_t
custody_wake (custody_t *self, const char *relay, uint64_t now_ms)
{
    assert (self);
    zlistx_t *list = relay? (zlistx_t *) zhashx_lookup (self->by_relay, relay): NULL;
    size_t count = 0;
    if (list)
        for (s_entry_t *entry = (s_entry_t *) zlistx_first (list); entry;
             entry = (s_entry_t *) zlistx_next (list)) {
            entry->pub.due_ms = now_ms;
            entry->pub.backoff_ms = RETRY_MIN_MS;
            retry_heap_update (&self->due, entry);
            count++;
        }
    return count;
}

//  Custody of id ended (acknowledged or refused): forget it, counted
static int
s_end (custody_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t *counter)
{
    assert (self && id);
    char hex [2 * WEFT_ID_SIZE + 1];
    envelope_id_hex (id, hex);
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->by_id, hex);
    if (!entry)
        return -1;
    s_drop (self, entry, counter);
    return 0;
}

int
custody_ack (custody_t *self, const uint8_t id [WEFT_ID_SIZE])
{
    return s_end (self, id, &self->stats->custody_acked);
}

int
custody_refused (custody_t *self, const uint8_t id [WEFT_ID_SIZE])
{
    return s_end (self, id, &self->stats->custody_refused);
}

const custody_entry_t *
custody_due (custody_t *self, uint64_t now_ms)
{
    assert (self);
    s_entry_t *entry;
    while ((entry = (s_entry_t *) retry_heap_top (&self->due))
    &&     entry->pub.due_ms <= now_ms) {
        s_dest_t *dest = (s_dest_t *) zhashx_lookup (self->by_dest, entry->pub.dest);
        if (now_ms < entry->expires_ms && !s_superseded (entry, dest))
            return &entry->pub;
        s_drop (self, entry, &self->stats->custody_expired);
    }
    return NULL;
}

void
custody_resent (custody_t *self, const custody_entry_t *pub, uint64_t now_ms)
{
    assert (self && pub);
    s_entry_t *entry = (s_entry_t *) pub;
    assert (retry_heap_holds (&self->due, entry));
    entry->pub.sends++;
    entry->pub.due_ms = now_ms + entry->pub.backoff_ms;
    entry->pub.backoff_ms = retry_backoff_next (entry->pub.backoff_ms);
    retry_heap_update (&self->due, entry);
    self->stats->custody_resent++;
}

uint64_t
custody_deadline (custody_t *self)
{
    assert (self);
    s_entry_t *entry = (s_entry_t *) retry_heap_top (&self->due);
    return entry? entry->pub.due_ms: 0;
}

size_t
custody_size (custody_t *self)
{
    assert (self);
    return zlistx_size (self->by_age);
}

size_t
custody_bytes (custody_t *self)
{
    assert (self);
    return self->bytes;
}

//  --------------------------------------------------------------------------
//  Selftest

#include "proto/keys.h"

//  A coordinator envelope with this seq and id byte
static void
s_test_frame (const keys_t *keys, uint64_t seq, uint8_t tag, uint64_t expiry,
              uint8_t **frame_p, size_t *size_p)
{
    envelope_t env;
    memset (&env, 0, sizeof env);
    memset (env.id, tag, sizeof env.id);
    env.id [0] = (uint8_t) (seq >> 8);
    env.id [1] = (uint8_t) seq;
    env.type = MSG_TWIN_DESIRED;
    strcpy (env.origin, "coordinator");
    env.seq = seq;
    env.expiry = expiry;
    env.hop_limit = env.hops = WEFT_HOP_LIMIT;
    static const uint8_t payload [] = { 0x90 };
    env.payload = payload;
    env.payload_size = sizeof payload;
    assert (envelope_encode (&env, keys->sign_secret, frame_p, size_p) == 0);
}

static void
s_test_send (custody_t *custody, const keys_t *keys, const char *dest, uint64_t seq,
             uint8_t tag, uint64_t now_ms, uint8_t id [WEFT_ID_SIZE])
{
    uint8_t *frame;
    size_t size;
    s_test_frame (keys, seq, tag, 0, &frame, &size);
    assert (custody_sent (custody, dest, "srv", frame, size, now_ms) == 0);
    envelope_t env;
    assert (envelope_decode (&env, frame, size) == 0);
    if (id)
        memcpy (id, env.id, WEFT_ID_SIZE);
    free (frame);
}

void
custody_test (bool verbose)
{
    printf (" * custody: ");
    //  @selftest
    keys_t keys;
    keys_generate (&keys);
    coord_stats_t stats;
    memset (&stats, 0, sizeof stats);
    custody_limits_t limits = { 3, 10, 0, 200000 };
    custody_t *custody = custody_new (&limits, &stats);
    uint8_t id [WEFT_ID_SIZE], id2 [WEFT_ID_SIZE];

    //  Bad input is refused and holds nothing
    const uint8_t junk [] = "not an envelope";
    assert (custody_sent (custody, "gw-1", "srv", junk, sizeof junk, 0) == -1);
    uint8_t *frame;
    size_t size;
    s_test_frame (&keys, 1, 0xAA, 0, &frame, &size);
    assert (custody_sent (custody, "", "srv", frame, size, 0) == -1);
    assert (custody_sent (custody, "*", "srv", frame, size, 0) == -1);
    assert (custody_sent (custody, NULL, "srv", frame, size, 0) == -1);
    assert (custody_sent (custody, "gw-1", NULL, frame, size, 0) == -1);
    assert (custody_sent (custody, "gw-1", "", frame, size, 0) == -1);
    assert (custody_size (custody) == 0 && custody_deadline (custody) == 0);

    //  Held from the send; the same frame again (a retransmission
    //  through the push effect) is not held twice; the back-off runs
    //  1 s, 2 s, 4 s, ... capped, and a copy is kept
    assert (custody_sent (custody, "gw-1", "srv", frame, size, 10000) == 0);
    assert (custody_sent (custody, "gw-1", "srv", frame, size, 10500) == 0);
    assert (custody_size (custody) == 1 && custody_bytes (custody) == size);
    assert (custody_deadline (custody) == 10000 + RETRY_MIN_MS);
    assert (custody_due (custody, 10999) == NULL);
    const custody_entry_t *entry = custody_due (custody, 11000);
    assert (entry && streq (entry->dest, "gw-1") && entry->size == size);
    assert (memcmp (entry->frame, frame, size) == 0 && entry->seq == 1);
    free (frame);
    uint64_t now = 11000, interval = RETRY_MIN_MS;
    for (int i = 0; i < 8; i++) {
        interval = retry_backoff_next (interval);
        custody_resent (custody, entry, now);
        assert (custody_deadline (custody) == now + interval);
        assert (custody_due (custody, now + interval - 1) == NULL);
        now += interval;
        assert ((entry = custody_due (custody, now)));
    }
    assert (interval == RETRY_MAX_MS && stats.custody_resent == 8);
    //  Expiry: the longest custody (200 s here) ends it
    custody_resent (custody, entry, now);
    assert (custody_due (custody, 10000 + 200000 - 1));
    assert (custody_due (custody, 10000 + 200000) == NULL);
    assert (stats.custody_expired == 1 && custody_size (custody) == 0);
    assert (custody_deadline (custody) == 0);
    //  ... and so does the envelope's own expiry, when sooner
    s_test_frame (&keys, 2, 0xAB, 15000, &frame, &size);
    assert (custody_sent (custody, "gw-1", "srv", frame, size, 10000) == 0);
    free (frame);
    assert ((entry = custody_due (custody, 11000)));
    custody_resent (custody, entry, 11000);
    assert (custody_due (custody, 15000) == NULL && stats.custody_expired == 2);

    //  A relay that links again makes what was last sent through it due
    //  now, with the first back-off; the others keep theirs
    s_test_frame (&keys, 5, 0xAC, 0, &frame, &size);
    assert (custody_sent (custody, "gw-5", "srv-a", frame, size, 12000) == 0);
    free (frame);
    s_test_frame (&keys, 6, 0xAC, 0, &frame, &size);
    assert (custody_sent (custody, "gw-6", "srv-a", frame, size, 12000) == 0);
    assert ((entry = custody_due (custody, 13000)) && entry->seq == 5);
    custody_resent (custody, entry, 13000);
    //  gw-6's frame went through srv-b the second time
    assert (custody_sent (custody, "gw-6", "srv-b", frame, size, 13000) == 0);
    free (frame);
    assert ((entry = custody_due (custody, 13000)) && entry->seq == 6);
    custody_resent (custody, entry, 13000);
    assert (custody_due (custody, 14000) == NULL);
    assert (custody_wake (custody, "srv-c", 14000) == 0);
    assert (custody_wake (custody, NULL, 14000) == 0);
    assert (custody_wake (custody, "srv-a", 14000) == 1);
    assert ((entry = custody_due (custody, 14000)) && entry->seq == 5);
    custody_resent (custody, entry, 14000);
    assert (custody_deadline (custody) == 14000 + RETRY_MIN_MS);
    assert (custody_wake (custody, "srv-b", 14000) == 1);
    assert ((entry = custody_due (custody, 14000)) && entry->seq == 6);
    custody_resent (custody, entry, 14000);
    assert (custody_due (custody, 14999) == NULL);
    while ((entry = custody_due (custody, 15000))) {
        assert (custody_ack (custody, entry->id) == 0);
    }
    assert (custody_wake (custody, "srv-a", 15000) == 0);  //  Gone with the ACK
    uint64_t acked = stats.custody_acked;

    //  ACK: forgotten, its device's list too; an unknown id is an error
    s_test_send (custody, &keys, "gw-1", 3, 0x01, 20000, id);
    s_test_send (custody, &keys, "gw-2", 4, 0x01, 20000, id2);
    assert (custody_ack (custody, id) == 0);
    assert (custody_ack (custody, id) == -1);
    assert (stats.custody_acked == acked + 1 && custody_size (custody) == 1);
    assert ((entry = custody_due (custody, 21000)) && streq (entry->dest, "gw-2"));
    assert (custody_ack (custody, id2) == 0);
    assert (custody_due (custody, 99000) == NULL && custody_size (custody) == 0);

    //  Back-off order: due ones come out earliest first, ties in send order
    for (uint64_t i = 0; i < 3; i++)
        s_test_send (custody, &keys, i == 1? "gw-b": "gw-a", 10 + i, 0x02, 30000 - i * 100,
                     NULL);
    uint64_t expected [] = { 12, 11, 10 };
    for (int i = 0; i < 3; i++) {
        assert ((entry = custody_due (custody, 31000)) && entry->seq == expected [i]);
        custody_resent (custody, entry, 31000);
    }
    assert (custody_due (custody, 31000) == NULL);
    assert ((entry = custody_due (custody, 33000)) && entry->seq == 10);

    //  Bounds: at most 3 per device (the oldest goes), 10 in all
    uint64_t evicted = stats.custody_evicted;
    s_test_send (custody, &keys, "gw-a", 13, 0x03, 40000, NULL);
    assert (stats.custody_evicted == evicted);
    s_test_send (custody, &keys, "gw-a", 14, 0x03, 40000, NULL);
    assert (stats.custody_evicted == evicted + 1);     //  seq 10 went
    assert (custody_size (custody) == 4);
    for (uint64_t i = 0; i < 20; i++) {
        char dest [16];
        snprintf (dest, sizeof dest, "dev-%u", (unsigned) i);
        s_test_send (custody, &keys, dest, 100 + i, 0x04, 41000 + i, NULL);
    }
    assert (custody_size (custody) == 10);
    assert (stats.custody_evicted == evicted + 1 + 14);
    assert (stats.custody_held == 10);
    //  The oldest went: the first due now is dev-10's
    assert ((entry = custody_due (custody, 99000)) && streq (entry->dest, "dev-10"));
    custody_destroy (&custody);

    //  A byte cap: the oldest goes to make room
    s_test_frame (&keys, 200, 0x05, 0, &frame, &size);
    free (frame);
    limits = (custody_limits_t) { 0, 0, 3 * size, 0 };
    custody = custody_new (&limits, &stats);
    evicted = stats.custody_evicted;
    for (uint64_t i = 0; i < 4; i++)
        s_test_send (custody, &keys, "gw-c", 200 + i, 0x05, 50000, NULL);
    assert (custody_size (custody) == 3 && custody_bytes (custody) <= 3 * size);
    assert (stats.custody_evicted == evicted + 1);
    custody_destroy (&custody);

    //  Superseded: a frame REPLAY_WINDOW seqs newer sent to the device
    //  makes the old one useless (the device would refuse it)
    custody = custody_new (NULL, &stats);
    uint64_t expired = stats.custody_expired;
    s_test_send (custody, &keys, "gw-d", 300, 0x06, 60000, NULL);
    s_test_send (custody, &keys, "gw-d", 300 + REPLAY_WINDOW - 1, 0x06, 60000, NULL);
    assert (custody_size (custody) == 2 && stats.custody_expired == expired);
    s_test_send (custody, &keys, "gw-d", 300 + REPLAY_WINDOW, 0x06, 60000, NULL);
    assert (custody_size (custody) == 2 && stats.custody_expired == expired + 1);
    assert ((entry = custody_due (custody, 61000)) && entry->seq == 300 + REPLAY_WINDOW - 1);
    //  ... all of them at once: the device's record goes and comes back
    s_test_send (custody, &keys, "gw-d", 1000, 0x06, 60000, NULL);
    assert (custody_size (custody) == 1 && stats.custody_expired == expired + 3);
    s_test_send (custody, &keys, "gw-d", 1001, 0x06, 60000, NULL);
    assert (custody_size (custody) == 2);
    assert ((entry = custody_due (custody, 61000)) && entry->seq == 1000);
    custody_resent (custody, entry, 61000);
    assert ((entry = custody_due (custody, 61000)) && entry->seq == 1001);
    custody_resent (custody, entry, 61000);

    //  Many devices: a tick touches only the due entries
    for (uint32_t i = 0; i < 5000; i++) {
        char dest [16];
        snprintf (dest, sizeof dest, "n-%u", (unsigned) i);
        s_test_send (custody, &keys, dest, 10000 + i, 0x07, 70000 + i, NULL);
    }
    size_t count = 0;
    while ((entry = custody_due (custody, 71009))) {
        if (entry->seq >= 10000)
            count++;
        custody_resent (custody, entry, 71009);
    }
    assert (count == 10);
    custody_destroy (&custody);
    custody_destroy (&custody);
    keys_wipe (&keys);
    if (verbose)
        printf ("(evicted %" PRIu64 ") ", stats.custody_evicted);
    //  @end
    printf ("OK\n");
}
