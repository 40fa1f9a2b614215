/*  coord_seal_test - the coordinator's envelopes to one device pass that
    device's replay window when a relay reorders them, however many
    envelopes went to other devices in between, and across restarts of
    the coordinator over the same store (coordseq.h).  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/envelope.h"
#include "proto/replay.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/coord.h"

//  Seal an ACK to dest; returns its seq, the frame in *frame_p
static uint64_t
s_seal_ack (coord_t *coord, const char *dest, uint8_t **frame_p, size_t *size_p)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_ACK;
    randombytes_buf (msg.ack.ack_id, sizeof msg.ack.ack_id);
    msg.ack.status = WEFT_STATUS_OK;
    assert (coord_seal (coord, dest, &msg, 1700000000000ULL, frame_p, size_p) == 0);
    envelope_t env;
    assert (envelope_decode (&env, *frame_p, *size_p) == 0);
    return env.seq;
}

//  What the device's agent does with a coordinator frame: verify, then
//  check and record the seq in its window. 0 if accepted.
static int
s_device_accept (replay_t *window, const keys_t *coord_keys, const uint8_t *frame,
                 size_t size)
{
    envelope_t env;
    assert (envelope_decode (&env, frame, size) == 0);
    assert (envelope_verify (&env, coord_keys->sign_public) == 0);
    assert (streq (env.origin, COORD_ORIGIN));
    return replay_accept (window, env.seq);
}

void
coord_seal_test (bool verbose)
{
    printf (" * coord_seal: ");
    //  @selftest
    char path [] = "/tmp/weft-coord-seal-test-XXXXXX";
    assert (mkdtemp (path));
    keys_t ca, keys;
    keys_generate (&ca);
    keys_generate (&keys);
    const uint8_t cert [] = "certificate";
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    //  A store of a release with one counter for every envelope: a
    //  device's window may have reached 20000
    store_txn_t *txn = store_begin (store, true);
    assert (registry_meta_put (txn, "seq_reserved", 20480) == 0);
    assert (store_commit (&txn) == 0);
    replay_t window = { 0, 0 };
    assert (replay_accept (&window, 20000) == 0);

    coord_t *coord = coord_new (store, &ca, &keys, cert, sizeof cert, NULL);
    assert (coord);
    //  X gets 20 frames, then 1,000 go to other devices (and RPC replies
    //  on the global counter), then X gets 40 more
    uint8_t *frames [60];
    size_t sizes [60];
    uint64_t seqs [60];
    for (int i = 0; i < 20; i++)
        seqs [i] = s_seal_ack (coord, "dev-x", &frames [i], &sizes [i]);
    for (int i = 0; i < 1000; i++) {
        char dest [32];
        snprintf (dest, sizeof dest, "dev-%04d", i);
        uint8_t *frame;
        size_t size;
        s_seal_ack (coord, dest, &frame, &size);
        free (frame);
        s_seal_ack (coord, NULL, &frame, &size);
        free (frame);
    }
    for (int i = 20; i < 60; i++)
        seqs [i] = s_seal_ack (coord, "dev-x", &frames [i], &sizes [i]);
    //  A relay delivers them shuffled: a retransmission of each lost one
    //  after newer ones, control ahead of twin envelopes
    int order [60];
    for (int i = 0; i < 60; i++)
        order [i] = 59 - i;
    for (int i = 0; i < 60; i++) {
        int j = (int) randombytes_uniform (60);
        int swap = order [i];
        order [i] = order [j];
        order [j] = swap;
    }
    for (int i = 0; i < 60; i++) {
        assert (s_device_accept (&window, &keys, frames [order [i]], sizes [order [i]]) == 0);
        //  ... and a duplicate is still refused
        assert (s_device_accept (&window, &keys, frames [order [i]], sizes [order [i]]) != 0);
    }
    for (int i = 0; i < 60; i++)
        free (frames [i]);
    uint64_t top = window.top;
    assert (top > 20000);
    coord_destroy (&coord);

    //  A restart over the same store: X's frames stay above its window
    coord = coord_new (store, &ca, &keys, cert, sizeof cert, NULL);
    assert (coord);
    uint8_t *frame;
    size_t size;
    uint64_t seq = s_seal_ack (coord, "dev-x", &frame, &size);
    assert (seq > top && seq > seqs [59]);
    assert (s_device_accept (&window, &keys, frame, size) == 0);
    free (frame);
    coord_destroy (&coord);
    if (verbose)
        printf ("(X: %" PRIu64 "..%" PRIu64 ", after a restart %" PRIu64 ") ",
                seqs [0], seqs [59], seq);

    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
