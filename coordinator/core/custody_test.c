/*  custody_test - selftest of the coordinator's custody: retransmission
    per link, the budget, expiry, and frames that survive a restart in a
    real store in a temporary directory.  */

#include "proto/corelib.h"
#include "proto/envelope.h"
#include "proto/keys.h"
#include "proto/replay.h"
#include "proto/retry.h"
#include "coordinator/core/custody.h"

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

//  Send a frame to dest through relay; returns custody_sent's answer
static int
s_test_send (custody_t *custody, const keys_t *keys, const char *dest, const char *relay,
             bool sent, uint64_t seq, uint8_t tag, uint64_t now_ms, uint8_t id [WEFT_ID_SIZE])
{
    uint8_t *frame;
    size_t size;
    s_test_frame (keys, seq, tag, 0, &frame, &size);
    int rc = custody_sent (custody, dest, relay, sent, frame, size, now_ms);
    envelope_t env;
    assert (envelope_decode (&env, frame, size) == 0);
    if (id)
        memcpy (id, env.id, WEFT_ID_SIZE);
    free (frame);
    return rc;
}

//  Take every due entry at now and send it again through relay
static int
s_test_resend (custody_t *custody, const char *relay, uint64_t now_ms)
{
    int count = 0;
    const custody_entry_t *entry;
    while ((entry = custody_due (custody, now_ms))) {
        size_t size;
        uint8_t *frame = custody_frame (custody, entry, &size);
        assert (frame && size == entry->size);
        assert (custody_sent (custody, entry->dest, relay, true, frame, size, now_ms) == 0);
        free (frame);
        count++;
    }
    return count;
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
    custody_limits_t limits = { 3, 0, 10, 0, 200000, 15000 };
    custody_t *custody = custody_new (NULL, &limits, &stats);
    uint8_t id [WEFT_ID_SIZE], ids [3][WEFT_ID_SIZE];

    //  Bad input is refused and holds nothing
    const uint8_t junk [] = "not an envelope";
    assert (custody_sent (custody, "gw-1", "srv", true, junk, sizeof junk, 0) == -1);
    uint8_t *frame;
    size_t size;
    s_test_frame (&keys, 1, 0xAA, 0, &frame, &size);
    assert (custody_sent (custody, "", "srv", true, frame, size, 0) == -1);
    assert (custody_sent (custody, "*", "srv", true, frame, size, 0) == -1);
    assert (custody_sent (custody, NULL, "srv", true, frame, size, 0) == -1);
    assert (custody_sent (custody, "gw-1", "*", true, frame, size, 0) == -1);
    free (frame);
    assert (custody_size (custody) == 0 && custody_deadline (custody) == 0);

    //  Held from the send; in flight on srv, it is not sent again while
    //  srv's connection lives, however long its ACK takes (a relay that
    //  does not drain gets no second copy). Our own retransmission of it
    //  is not held twice.
    for (int i = 0; i < 3; i++)
        assert (s_test_send (custody, &keys, "gw-1", "srv", true, 10 + (uint64_t) i, 0x01,
                             10000, ids [i]) == 0);
    assert (custody_size (custody) == 3);
    for (uint64_t t = 10000; t < 10000 + 15000; t += 500)
        assert (custody_due (custody, t) == NULL);
    assert (custody_deadline (custody) == 10000 + 15000);
    //  srv ACKs the 2nd: the 1st, sent before it, was dropped: again at
    //  once, srv having missed nothing before (proto/retry.h); the 3rd
    //  stays in flight
    assert (custody_ack (custody, ids [1], 12000) == 0);
    assert (custody_ack (custody, ids [1], 12000) == -1);
    assert (stats.custody_acked == 1);
    const custody_entry_t *entry = custody_due (custody, 12000);
    assert (entry && entry->seq == 10 && entry->sends == 1);
    assert (s_test_resend (custody, "srv", 13000) == 1);
    assert (stats.custody_resent == 1);
    //  The 3rd (sent before the retransmission) and the retransmission
    //  are taken, in that order: nothing passed over
    assert (custody_ack (custody, ids [2], 13200) == 0);
    assert (custody_ack (custody, ids [0], 13500) == 0);
    assert (custody_size (custody) == 0 && custody_deadline (custody) == 0);
    //  srv acknowledges nothing for its link timeout: its oldest frame
    //  goes once more, as a probe
    assert (s_test_send (custody, &keys, "gw-1", "srv", true, 13, 0x01, 14000, id) == 0);
    assert (s_test_send (custody, &keys, "gw-1", "srv", true, 14, 0x01, 14500, NULL) == 0);
    assert (custody_deadline (custody) == 14000 + 15000);
    assert (custody_due (custody, 14000 + 15000 - 1) == NULL);
    entry = custody_due (custody, 14000 + 15000);
    assert (entry && entry->seq == 13);
    assert (s_test_resend (custody, "srv", 14000 + 15000) == 1);
    //  The 14th passed over, sent once: again at once, though the probe
    //  grew srv's back-off (a loss, not a relay that cannot take it)
    assert (custody_ack (custody, id, 30000) == 0);
    assert (s_test_resend (custody, "srv", 30000) == 1);
    assert (custody_size (custody) == 1 && stats.custody_resent == 3);
    //  Passed over again, a retransmission now: after srv's back-off
    //  (1 s: the probe's retransmission taken reset it)
    assert (s_test_send (custody, &keys, "gw-1", "srv", true, 15, 0x01, 30100, id) == 0);
    assert (custody_ack (custody, id, 31000) == 0);
    assert (custody_due (custody, 31000 + RETRY_MIN_MS - 1) == NULL);
    assert (s_test_resend (custody, "srv", 31000 + RETRY_MIN_MS) == 1);
    assert (custody_size (custody) == 1 && stats.custody_resent == 4);
    custody_destroy (&custody);
    custody = custody_new (NULL, &limits, &stats);

    //  srv's connection was gone (not sent), or there was no route: the
    //  frames wait; srv linking again makes its own due now, a route to
    //  gw-3 its one
    assert (s_test_send (custody, &keys, "gw-2", "srv", false, 20, 0x02, 40000, ids [0]) == 0);
    assert (s_test_send (custody, &keys, "gw-2", "srv", true, 21, 0x02, 40000, ids [1]) == 0);
    assert (s_test_send (custody, &keys, "gw-3", NULL, false, 30, 0x02, 40000, ids [2]) == 0);
    assert (s_test_send (custody, &keys, "srv", "srv", true, 40, 0x02, 40000, id) == 0);
    assert (custody_due (custody, 41000) == NULL);
    assert (custody_wake (custody, "other", 41000) == 0);
    assert (custody_wake (custody, NULL, 41000) == 0);
    assert (custody_wake (custody, "srv", 41000) == 3);    //  gw-2's two and srv's own
    assert (s_test_resend (custody, "srv", 41000) == 3);
    assert (custody_wake_dest (custody, "gw-2", 41000) == 0);   //  In flight
    assert (custody_wake_dest (custody, "gw-3", 41000) == 1);
    entry = custody_due (custody, 41000);
    assert (entry && streq (entry->dest, "gw-3"));
    custody_settle (custody, entry);        //  Still no route: waits again
    assert (custody_due (custody, 41000) == NULL);
    for (int i = 0; i < 3; i++)
        assert (custody_ack (custody, ids [i], 42000) == 0);
    //  INTERNAL from the device's own link: again after the back-off
    assert (custody_not_taken (custody, id, 42000) == 0);
    assert (custody_not_taken (custody, id, 42000) == -1);
    assert (custody_due (custody, 42000 + RETRY_MIN_MS - 1) == NULL);
    assert (s_test_resend (custody, "srv", 42000 + RETRY_MIN_MS) == 1);
    assert (custody_ack (custody, id, 44000) == 0);
    assert (custody_size (custody) == 0);
    //  Refused for good: forgotten, counted; what went before it stays
    //  in flight (its ACK may wait for the relay's commit)
    assert (s_test_send (custody, &keys, "gw-4", "srv", true, 60, 0x02, 45000, ids [0]) == 0);
    assert (s_test_send (custody, &keys, "gw-4", "srv", true, 61, 0x02, 45000, ids [1]) == 0);
    uint64_t acked = stats.custody_acked;
    assert (custody_refused (custody, ids [1], 45500) == 0);
    assert (custody_refused (custody, ids [1], 45500) == -1);
    assert (stats.custody_refused == 1 && stats.custody_acked == acked);
    assert (custody_size (custody) == 1);
    for (uint64_t t = 45500; t < 45000 + 15000; t += 500)
        assert (custody_due (custody, t) == NULL);
    assert (custody_ack (custody, ids [0], 47000) == 0);
    assert (custody_size (custody) == 0);

    //  The budget: at most 3 per device (here), 10 in all; beyond it a
    //  frame is refused, and nothing held is evicted for it
    uint64_t refused = stats.custody_over_budget;
    for (uint64_t i = 0; i < 4; i++)
        assert (s_test_send (custody, &keys, "gw-a", "srv", false, 50 + i, 0x03, 50000,
                             NULL) == (i < 3? 0: 1));
    assert (stats.custody_over_budget == refused + 1 && custody_size (custody) == 3);
    for (uint64_t i = 0; i < 10; i++) {
        char dest [16];
        snprintf (dest, sizeof dest, "dev-%u", (unsigned) i);
        assert (s_test_send (custody, &keys, dest, "srv", false, 100 + i, 0x04, 50000,
                             NULL) == (i < 7? 0: 1));
    }
    assert (custody_size (custody) == 10 && stats.custody_over_budget == refused + 4);
    assert (stats.custody_held == 10);
    //  Expiry: the longest custody (200 s here) gives them all up
    assert (custody_due (custody, 50000 + 200000 - 1) == NULL);
    assert (custody_due (custody, 50000 + 200000) == NULL);
    assert (custody_size (custody) == 0 && stats.custody_expired == 10);
    //  ... and so does the envelope's own expiry, when sooner
    s_test_frame (&keys, 2, 0xAB, 300000, &frame, &size);
    assert (custody_sent (custody, "gw-1", "srv", true, frame, size, 290000) == 0);
    free (frame);
    assert (custody_deadline (custody) == 300000);
    assert (custody_due (custody, 300000) == NULL && stats.custody_expired == 11);
    custody_destroy (&custody);

    //  Superseded: a frame REPLAY_WINDOW seqs newer sent to the device
    //  makes the old one useless (the device would refuse it)
    custody = custody_new (NULL, NULL, &stats);
    uint64_t expired = stats.custody_expired;
    assert (s_test_send (custody, &keys, "gw-d", "srv", true, 300, 0x06, 60000, NULL) == 0);
    assert (s_test_send (custody, &keys, "gw-d", "srv", true, 300 + REPLAY_WINDOW - 1, 0x06,
                         60000, NULL) == 0);
    assert (custody_size (custody) == 2 && stats.custody_expired == expired);
    assert (s_test_send (custody, &keys, "gw-d", "srv", true, 300 + REPLAY_WINDOW, 0x06,
                         60000, NULL) == 0);
    assert (custody_size (custody) == 2 && stats.custody_expired == expired + 1);

    //  Many devices: a tick touches only the due entries
    for (uint32_t i = 0; i < 5000; i++) {
        char dest [16];
        snprintf (dest, sizeof dest, "n-%u", (unsigned) i);
        assert (s_test_send (custody, &keys, dest, i < 10? "srv-b": "srv-c", true,
                             10000 + i, 0x07, 70000, NULL) == 0);
    }
    assert (custody_wake (custody, "srv-b", 71000) == 10);
    assert (s_test_resend (custody, "srv-b", 71000) == 10);
    custody_destroy (&custody);

    //  Durable: what is held survives a restart, waiting for its relay
    char dir [] = "/tmp/weft-custody-test.XXXXXX";
    assert (mkdtemp (dir));
    const char *tables [] = { CUSTODY_TABLE, NULL };
    store_t *store = store_new (dir, tables, 0);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    assert (store);
    custody = custody_new (store, NULL, &stats);
    assert (custody_load (custody, 80000) == 0);
    uint8_t kept [5][WEFT_ID_SIZE];
    for (int i = 0; i < 5; i++)
        assert (s_test_send (custody, &keys, "gw-r", i < 4? "srv": NULL, i % 2 == 0 && i < 4,
                             400 + (uint64_t) i, 0x08, 80000, kept [i]) == 0);
    assert (custody_flush (custody) == 0);
    assert (custody_ack (custody, kept [0], 81000) == 0);
    assert (custody_flush (custody) == 0);
    assert (custody_flush (custody) == 0);      //  Nothing to do
    //  A frame read back from the store is the one sent
    s_test_frame (&keys, 401, 0x08, 0, &frame, &size);
    assert (custody_wake (custody, "srv", 81500) == 3);
    entry = custody_due (custody, 81500);
    assert (entry && entry->seq == 401);
    size_t stored_size;
    uint8_t *stored = custody_frame (custody, entry, &stored_size);
    assert (stored && stored_size == size && memcmp (stored, frame, size) == 0);
    free (stored);
    free (frame);
    custody_destroy (&custody);
    //  A restart: 4 held, all waiting for their relay (or route)
    custody = custody_new (store, NULL, &stats);
    assert (custody_load (custody, 90000) == 4);
    assert (custody_size (custody) == 4 && custody_due (custody, 90000) == NULL);
    assert (custody_wake (custody, "srv", 90000) == 3);
    assert (custody_wake_dest (custody, "gw-r", 90000) == 1);
    assert (s_test_resend (custody, "srv", 90000) == 4);
    for (int i = 1; i < 5; i++)
        assert (custody_ack (custody, kept [i], 91000) == 0);
    assert (custody_flush (custody) == 0);
    custody_destroy (&custody);
    custody = custody_new (store, NULL, &stats);
    assert (custody_load (custody, 92000) == 0);
    //  Expired while the coordinator was down: not loaded, and deleted
    s_test_frame (&keys, 500, 0x09, 93000, &frame, &size);
    assert (custody_sent (custody, "gw-r", "srv", true, frame, size, 92000) == 0);
    free (frame);
    assert (custody_flush (custody) == 0);
    custody_destroy (&custody);
    custody = custody_new (store, NULL, &stats);
    assert (custody_load (custody, 94000) == 0);
    assert (custody_flush (custody) == 0);
    custody_destroy (&custody);
    custody_destroy (&custody);
    store_destroy (&store);
    keys_wipe (&keys);
    if (verbose)
        printf ("(over budget %" PRIu64 ") ", stats.custody_over_budget);
    //  @end
    printf ("OK\n");
}
