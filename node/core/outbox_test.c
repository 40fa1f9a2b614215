/*  outbox_test - selftest of the custody outbox over a real store in a
    temporary directory: group commit, priorities and bounds, restart,
    the index by due time, and retransmission per link (in flight, passed
    over, probes, a link going down).  */

#include "proto/corelib.h"
#include "node/core/outbox.h"

static store_t *
s_test_store (void)
{
    char dir [] = "/tmp/weft-outbox-test.XXXXXX";
    assert (mkdtemp (dir));
    const char *tables [] = { OUTBOX_TABLE, NULL };
    store_t *store = store_new (dir, tables, 0);
    //  The open environment outlives its directory: remove it now, so a
    //  failed assertion leaves nothing behind
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    assert (store);
    return store;
}

//  Stage count entries (ids tag, i) for dest and commit them
static void
s_test_fill (outbox_t *outbox, uint8_t tag, int count, int klass, const char *dest)
{
    const uint8_t frame [] = "envelope";
    for (int i = 0; i < count; i++) {
        uint8_t id [WEFT_ID_SIZE];
        memset (id, 0, sizeof id);
        id [0] = tag;
        id [1] = (uint8_t) (i >> 8);
        id [2] = (uint8_t) i;
        assert (outbox_stage (outbox, klass, dest, id, frame, 8) == 0);
    }
    assert (outbox_flush (outbox) == 0);
}

static void
s_test_id (uint8_t tag, int i, uint8_t id [WEFT_ID_SIZE])
{
    memset (id, 0, WEFT_ID_SIZE);
    id [0] = tag;
    id [1] = (uint8_t) (i >> 8);
    id [2] = (uint8_t) i;
}

//  Send everything due at now on link; returns how many
static int
s_test_pump (outbox_t *outbox, const char *link, uint64_t now)
{
    int count = 0;
    outbox_entry_t *entry;
    while ((entry = outbox_due (outbox, now))) {
        outbox_sent (outbox, entry, link, now);
        count++;
    }
    return count;
}

//  What a later ACK passed over: sent once, again at once (a loss); a
//  retransmission dropped again waits the link's back-off, which grows
//  while the hop keeps dropping retransmissions
static void
s_test_passed_over (store_t *store)
{
    outbox_t *outbox = outbox_new (store, "passed/", NULL);
    assert (outbox_load (outbox) == 0);
    outbox_set_link_timeout (outbox, 15000);
    uint8_t id [WEFT_ID_SIZE];
    s_test_fill (outbox, 0x53, 2, OUTBOX_TWIN, "coordinator");
    assert (s_test_pump (outbox, "up", 1000) == 2);
    s_test_id (0x53, 1, id);
    assert (outbox_ack (outbox, id, 2000) == 0);
    outbox_entry_t *entry = outbox_due (outbox, 2000);
    assert (entry && entry->id [0] == 0x53 && entry->id [2] == 0 && entry->sends == 1);
    assert (s_test_pump (outbox, "up", 2000) == 1);
    //  Dropped again (a later one ACKed): after the back-off, 1 s ...
    s_test_fill (outbox, 0x54, 1, OUTBOX_TWIN, "coordinator");
    assert (s_test_pump (outbox, "up", 2500) == 1);
    s_test_id (0x54, 0, id);
    assert (outbox_ack (outbox, id, 3000) == 0);
    assert (outbox_due (outbox, 3000 + RETRY_MIN_MS - 1) == NULL);
    assert (s_test_pump (outbox, "up", 3000 + RETRY_MIN_MS) == 1);
    //  ... and once more: 2 s
    s_test_fill (outbox, 0x55, 1, OUTBOX_TWIN, "coordinator");
    assert (s_test_pump (outbox, "up", 4100) == 1);
    s_test_id (0x55, 0, id);
    assert (outbox_ack (outbox, id, 5000) == 0);
    assert (outbox_due (outbox, 5000 + 2 * RETRY_MIN_MS - 1) == NULL);
    assert (s_test_pump (outbox, "up", 5000 + 2 * RETRY_MIN_MS) == 1);
    s_test_id (0x53, 0, id);
    assert (outbox_ack (outbox, id, 7100) == 0);
    assert (outbox_in_flight (outbox, "up") == 0 && outbox_stats (outbox)->passed_over == 3);
    outbox_destroy (&outbox);
}

//  Retransmission per link: one copy in flight, what a later ACK passed
//  over, probes, a link that goes down
static void
s_test_links (store_t *store, bool verbose)
{
    outbox_t *outbox = outbox_new (store, "links/", NULL);
    assert (outbox_load (outbox) == 0);
    outbox_set_link_timeout (outbox, 15000);
    s_test_fill (outbox, 0x50, 8, OUTBOX_TWIN, "coordinator");
    uint8_t id [WEFT_ID_SIZE];

    //  Sent once; while the link is up nothing goes again, however long
    //  the ACKs take: a link that does not drain gets no second copy
    assert (s_test_pump (outbox, "up", 1000) == 8);
    assert (outbox_in_flight (outbox, "up") == 8 && outbox_in_flight (outbox, "other") == 0);
    for (uint64_t t = 1000; t < 1000 + 15000; t += 250)
        assert (outbox_due (outbox, t) == NULL);
    assert (outbox_deadline (outbox) == 1000 + 15000);
    assert (outbox_stats (outbox)->retransmits == 0);
    //  ... nor does a new route wake what is in flight
    outbox_wake (outbox, "coordinator");
    assert (outbox_due (outbox, 2000) == NULL);

    //  The hop ACKs the 3rd: the two sent before it were dropped (in
    //  order on one connection). Sent once, they were lost on a working
    //  connection: again at once, not after the back-off (a device's
    //  first report, dropped, would leave the coordinator without its
    //  route until then); the others stay in flight
    s_test_id (0x50, 2, id);
    assert (outbox_ack (outbox, id, 5000) == 0);
    assert (outbox_stats (outbox)->passed_over == 2);
    assert (outbox_in_flight (outbox, "up") == 5);
    outbox_entry_t *entry = outbox_due (outbox, 5000);
    assert (entry && entry->id [2] == 0);
    assert (s_test_pump (outbox, "up", 6000) == 2);
    assert (outbox_stats (outbox)->retransmits == 2);
    //  The link made progress: its probe waits anew from that ACK
    assert (outbox_deadline (outbox) == 5000 + 15000);
    //  The 4th ACKed: nothing went before it (the 1st and 2nd went
    //  again after it), so nothing was passed over
    s_test_id (0x50, 3, id);
    assert (outbox_ack (outbox, id, 7000) == 0);
    assert (outbox_stats (outbox)->passed_over == 2 && outbox_in_flight (outbox, "up") == 6);
    //  The 8th ACKed: the 5th, 6th and 7th, sent before it and still in
    //  flight, were dropped (the 1st and 2nd went after it: they stay).
    //  Three more losses in one burst are three losses, not a link
    //  missing more and more: again at once too
    s_test_id (0x50, 7, id);
    assert (outbox_ack (outbox, id, 8000) == 0);
    assert (outbox_stats (outbox)->passed_over == 5);
    assert (outbox_in_flight (outbox, "up") == 2);
    assert (s_test_pump (outbox, "up", 8000) == 3);
    //  The 1st and 2nd (retransmissions) are taken; the 5th,
    //  6th and 7th, sent after it, are still in flight
    s_test_id (0x50, 0, id);
    assert (outbox_ack (outbox, id, 11000) == 0);
    s_test_id (0x50, 1, id);
    assert (outbox_ack (outbox, id, 11000) == 0);
    assert (outbox_in_flight (outbox, "up") == 3);

    //  INTERNAL from the hop: that one goes again after the back-off
    //  (the hop could not take it: waited for)
    s_test_id (0x50, 4, id);
    assert (outbox_not_taken (outbox, id, 12000) == 0);
    assert (outbox_not_taken (outbox, id, 12000) == -1);  //  Not in flight now
    assert (outbox_in_flight (outbox, "up") == 2);
    assert (outbox_due (outbox, 12000 + RETRY_MIN_MS - 1) == NULL);
    assert (s_test_pump (outbox, "up", 12000 + RETRY_MIN_MS) == 1);

    //  Nothing ACKed for the link timeout: the oldest goes once more as
    //  a probe
    assert (outbox_deadline (outbox) == 12000 + 15000);
    assert (outbox_due (outbox, 12000 + 15000 - 1) == NULL);
    entry = outbox_due (outbox, 12000 + 15000);
    assert (entry && entry->id [2] == 5);
    assert (outbox_stats (outbox)->probes == 1);
    outbox_sent (outbox, entry, "up", 12000 + 15000);
    assert (outbox_in_flight (outbox, "up") == 3);

    //  The link goes down: everything in flight on it is due at once,
    //  for whichever next hop comes next
    assert (outbox_link_down (outbox, "up") == 3);
    assert (outbox_link_down (outbox, "up") == 0);
    assert (outbox_in_flight (outbox, "up") == 0);
    assert (outbox_stats (outbox)->links_down == 3);
    assert (outbox_deadline (outbox) == 1);
    assert (s_test_pump (outbox, "next", 30000) == 3);
    assert (outbox_in_flight (outbox, "next") == 3);
    //  A dropped telemetry entry in flight leaves its link too
    s_test_fill (outbox, 0x51, 2000, OUTBOX_TELEMETRY, "coordinator");
    assert (s_test_pump (outbox, "next", 31000) == 2000);
    s_test_fill (outbox, 0x52, 1, OUTBOX_TELEMETRY, "coordinator");
    assert (outbox_stats (outbox)->dropped_full == 1);
    assert (outbox_in_flight (outbox, "next") == 3 + 1999);
    //  Refused for good: removed, and nothing sent before it is taken
    //  for dropped (the hop's ACKs of those may wait for its commit)
    uint64_t passed_over = outbox_stats (outbox)->passed_over;
    s_test_id (0x50, 6, id);
    assert (outbox_refused (outbox, id) == 0);
    assert (outbox_refused (outbox, id) == -1);
    assert (outbox_stats (outbox)->refused == 1);
    assert (outbox_stats (outbox)->passed_over == passed_over);
    assert (outbox_in_flight (outbox, "next") == 2 + 1999);
    if (verbose)
        printf ("(passed over %" PRIu64 ", probes %" PRIu64 ") ",
                outbox_stats (outbox)->passed_over, outbox_stats (outbox)->probes);
    outbox_destroy (&outbox);
}

void
outbox_test (bool verbose)
{
    printf (" * outbox: ");
    //  @selftest
    store_t *store = s_test_store ();
    size_t limits [OUTBOX_CLASSES] = { 3, 3, 3, 2, 2 };
    outbox_t *outbox = outbox_new (store, "n1/", limits);
    assert (outbox_load (outbox) == 0);
    uint8_t id [WEFT_ID_SIZE];
    const uint8_t frame [] = "envelope";

    //  Staged entries are invisible until committed; one commit for all
    for (int i = 0; i < 3; i++) {
        memset (id, i + 1, sizeof id);
        assert (outbox_stage (outbox, OUTBOX_TWIN, "coordinator", id, frame, 8) == 0);
    }
    memset (id, 9, sizeof id);
    assert (outbox_stage (outbox, OUTBOX_CONTROL, "gw-2", id, frame, 8) == 0);
    assert (outbox_first (outbox) == NULL);
    assert (outbox_ack (outbox, id, 0) == -1);  //  Not durable yet
    assert (outbox_dirty (outbox));
    assert (outbox_flush (outbox) == 0);
    assert (!outbox_dirty (outbox));
    assert (outbox_size (outbox) == 4);
    //  Priority, then FIFO
    outbox_entry_t *entry = outbox_first (outbox);
    assert (entry && entry->klass == OUTBOX_CONTROL && streq (entry->dest, "gw-2"));
    entry = outbox_next (outbox);
    assert (entry && entry->klass == OUTBOX_TWIN && entry->id [0] == 1);
    entry = outbox_next (outbox);
    assert (entry && entry->id [0] == 2);
    outbox_sent (outbox, entry, "l1", 1000);
    assert (entry->sends == 1 && outbox_in_flight (outbox, "l1") == 1);
    outbox_sent (outbox, entry, "l1", 2000);
    assert (outbox_stats (outbox)->retransmits == 1);
    assert (outbox_in_flight (outbox, "l1") == 1);     //  One copy per link
    entry = outbox_next (outbox);
    assert (entry && entry->id [0] == 3);
    assert (outbox_next (outbox) == NULL);

    //  Twin is full: back-pressure; a duplicate is accepted silently
    memset (id, 4, sizeof id);
    assert (outbox_stage (outbox, OUTBOX_TWIN, "coordinator", id, frame, 8) == 1);
    assert (outbox_stats (outbox)->refused_full == 1);
    memset (id, 1, sizeof id);
    assert (outbox_stage (outbox, OUTBOX_TWIN, "coordinator", id, frame, 8) == 0);
    assert (outbox_stats (outbox)->duplicates == 1);
    //  Telemetry drops its oldest
    for (int i = 0; i < 3; i++) {
        memset (id, 0x20 + i, sizeof id);
        assert (outbox_stage (outbox, OUTBOX_TELEMETRY, "coordinator", id, frame, 8) == 0);
        assert (outbox_flush (outbox) == 0);
    }
    assert (outbox_stats (outbox)->dropped_full == 1);
    assert (outbox_stats (outbox)->depth [OUTBOX_TELEMETRY] == 2);

    //  ACK, then a failed commit: the delete stays pending, the staged
    //  entry is forgotten (its sender still holds it)
    memset (id, 1, sizeof id);
    assert (outbox_ack (outbox, id, 3000) == 0);
    assert (outbox_ack (outbox, id, 3000) == -1);
    memset (id, 5, sizeof id);
    assert (outbox_stage (outbox, OUTBOX_TWIN, "coordinator", id, frame, 8) == 0);
    store_fail_after (store, 1);
    assert (outbox_flush (outbox) == -1);
    store_fail_after (store, 0);
    assert (outbox_stats (outbox)->commit_failed == 1);
    assert (outbox_ack (outbox, id, 3000) == -1);  //  Never became durable
    assert (outbox_dirty (outbox));             //  The delete waits
    assert (outbox_flush (outbox) == 0);

    //  Restart: everything durable comes back in order, nothing else,
    //  and nothing is in flight any more: all due at once
    size_t before = outbox_size (outbox);
    outbox_destroy (&outbox);
    outbox_destroy (&outbox);
    outbox = outbox_new (store, "n1/", limits);
    assert (outbox_load (outbox) == (int) before);
    entry = outbox_first (outbox);
    assert (entry->klass == OUTBOX_CONTROL);
    entry = outbox_next (outbox);
    assert (entry->klass == OUTBOX_TWIN && entry->id [0] == 2);
    assert (entry->size == 8 && memcmp (entry->frame, frame, 8) == 0);
    assert (outbox_deadline (outbox) == 1);     //  Due now
    assert (outbox_in_flight (outbox, "l1") == 0);
    //  Another prefix sees nothing
    outbox_t *other = outbox_new (store, "n2/", NULL);
    assert (outbox_load (other) == 0);
    outbox_destroy (&other);
    outbox_destroy (&outbox);

    //  The due index: with many entries waiting, a pump touches none of
    //  them until they are due, and only the due ones then
    outbox = outbox_new (store, "n3/", NULL);
    assert (outbox_load (outbox) == 0);
    for (int i = 0; i < 1000; i++) {
        s_test_id (0x30, i, id);
        assert (outbox_stage (outbox, i % 2? OUTBOX_TELEMETRY: OUTBOX_TWIN,
                              "coordinator", id, frame, 8) == 0);
    }
    assert (outbox_flush (outbox) == 0);
    //  All due now: served by priority, then FIFO; entry i deferred to
    //  11,000 + i (no route yet)
    uint64_t visited = outbox_stats (outbox)->visited;
    uint64_t now = 10000;
    int last_class = 0, count = 0;
    while ((entry = outbox_due (outbox, now))) {
        assert (entry->klass >= last_class);
        last_class = entry->klass;
        outbox_defer (outbox, entry, now, 1000 + (uint64_t) count);
        count++;
    }
    assert (count == 1000);
    assert (outbox_stats (outbox)->visited - visited == 1000);
    assert (outbox_deadline (outbox) == 11000);
    //  Nothing due: no entry visited
    visited = outbox_stats (outbox)->visited;
    for (uint64_t t = 10000; t < 11000; t += 100)
        assert (outbox_due (outbox, t) == NULL);
    assert (outbox_stats (outbox)->visited == visited);
    //  Ten due: exactly those ten visited; one deferred, one acked, the
    //  others sent (in flight: not due again while their link is up)
    count = 0;
    while ((entry = outbox_due (outbox, 11009))) {
        if (count == 0)
            outbox_defer (outbox, entry, 11009, 500);
        else
        if (count == 1)
            assert (outbox_ack (outbox, entry->id, 11009) == 0);
        else
            outbox_sent (outbox, entry, "up", 11009);
        count++;
    }
    assert (count == 10);
    assert (outbox_stats (outbox)->visited - visited == 10);
    assert (outbox_deadline (outbox) == 11010);
    //  wake makes everything not in flight due at once
    outbox_wake (outbox, "coordinator");
    assert (outbox_deadline (outbox) == 1);
    count = 0;
    while ((entry = outbox_due (outbox, 11010))) {
        assert (outbox_ack (outbox, entry->id, 11010) == 0);
        count++;
    }
    assert (count == 999 - 8);
    assert (outbox_in_flight (outbox, "up") == 8);
    assert (outbox_link_down (outbox, "up") == 8);
    while ((entry = outbox_due (outbox, 11011)))
        assert (outbox_ack (outbox, entry->id, 11011) == 0);
    assert (outbox_size (outbox) == 0 && outbox_deadline (outbox) == 0);
    assert (outbox_flush (outbox) == 0);
    outbox_destroy (&outbox);

    //  A wake for one destination touches only that destination's
    //  entries, however many others wait; acked ones leave the index,
    //  and a reload rebuilds it
    outbox = outbox_new (store, "n4/", NULL);
    assert (outbox_load (outbox) == 0);
    for (int i = 0; i < 1003; i++) {
        s_test_id (0x40, i, id);
        assert (outbox_stage (outbox, OUTBOX_TWIN, i < 1000? "dev-a": i < 1002? "coordinator"
                                                   : "dev-b", id, frame, 8) == 0);
    }
    outbox_wake (outbox, "coordinator");     //  Staged entries are not durable yet
    assert (outbox_stats (outbox)->woken == 0);
    assert (outbox_flush (outbox) == 0);
    while ((entry = outbox_due (outbox, 20000)))
        outbox_defer (outbox, entry, 20000, 1000);
    assert (outbox_deadline (outbox) == 21000);
    outbox_wake (outbox, "coordinator");
    assert (outbox_stats (outbox)->woken == 2);
    assert (outbox_deadline (outbox) == 1);
    count = 0;
    while ((entry = outbox_due (outbox, 20001))) {
        assert (streq (entry->dest, "coordinator"));
        assert (outbox_ack (outbox, entry->id, 20001) == 0);
        count++;
    }
    assert (count == 2 && outbox_deadline (outbox) == 21000);
    outbox_wake (outbox, "coordinator");
    outbox_wake (outbox, "nobody");
    assert (outbox_stats (outbox)->woken == 2 && outbox_deadline (outbox) == 21000);
    outbox_wake (outbox, "dev-b");
    assert (outbox_stats (outbox)->woken == 3);
    assert ((entry = outbox_due (outbox, 20002)) && streq (entry->dest, "dev-b"));
    assert (outbox_flush (outbox) == 0);
    outbox_destroy (&outbox);
    outbox = outbox_new (store, "n4/", NULL);
    assert (outbox_load (outbox) == 1001);
    while ((entry = outbox_due (outbox, 30000)))
        outbox_defer (outbox, entry, 30000, 1000);
    outbox_wake (outbox, "dev-b");
    assert (outbox_stats (outbox)->woken == 1);
    outbox_wake (outbox, NULL);     //  Everything: still a walk
    assert (outbox_stats (outbox)->woken == 1002);
    outbox_destroy (&outbox);

    //  A relay's re-framed copy is taken, not copied, whatever the
    //  outcome; a frame larger than the commit's stack buffer is stored
    //  whole
    outbox = outbox_new (store, "n5/", limits);
    assert (outbox_load (outbox) == 0);
    uint8_t *owned = (uint8_t *) malloc (3000);
    assert (owned);
    for (size_t i = 0; i < 3000; i++)
        owned [i] = (uint8_t) (i * 7);
    const uint8_t *kept = owned;
    memset (id, 0x50, sizeof id);
    assert (outbox_stage_owned (outbox, OUTBOX_TWIN, "coordinator", id, &owned, 3000) == 0);
    assert (owned == NULL);
    assert (outbox_flush (outbox) == 0);
    entry = outbox_first (outbox);
    assert (entry && entry->frame == kept && entry->size == 3000);
    for (int i = 0; i < 4; i++) {
        owned = (uint8_t *) malloc (8);
        assert (owned);
        memcpy (owned, frame, 8);
        //  The duplicate (i 0), two that fit, one the full class refuses
        memset (id, 0x50 + i, sizeof id);
        assert (outbox_stage_owned (outbox, OUTBOX_TWIN, "coordinator", id, &owned, 8)
                == (i == 3? 1: 0));
        assert (owned == NULL);
    }
    assert (outbox_stats (outbox)->duplicates == 1);
    owned = (uint8_t *) malloc (8);
    assert (owned);
    assert (outbox_stage_owned (outbox, OUTBOX_CLASSES, "coordinator", id, &owned, 8) == -1);
    assert (owned == NULL);
    assert (outbox_flush (outbox) == 0);
    outbox_destroy (&outbox);
    outbox = outbox_new (store, "n5/", limits);
    assert (outbox_load (outbox) == 3);
    entry = outbox_first (outbox);
    assert (entry && entry->id [0] == 0x50 && entry->size == 3000);
    for (size_t i = 0; i < 3000; i++)
        assert (entry->frame [i] == (uint8_t) (i * 7));
    outbox_destroy (&outbox);

    s_test_links (store, verbose);
    s_test_passed_over (store);
    store_destroy (&store);
    if (verbose)
        printf ("(%zu entries) ", before);
    //  @end
    printf ("OK\n");
}
