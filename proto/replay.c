/*  replay - per-origin sequence window that refuses replayed envelopes
    top is the highest sequence accepted; bit i of seen says top - i was
    accepted (bit 0 is top itself). Sequence 0 is never valid: origins
    start at 1, and 0 is how an empty window says "nothing seen".  */

#include <stdio.h>
#include <string.h>
#include <assert.h>
#include "replay.h"

//  --------------------------------------------------------------------------
//  Would seq be accepted? Does not change the window.

bool
replay_fresh (const replay_t *window, uint64_t seq)
{
    assert (window);
    if (seq == 0)
        return false;
    if (seq > window->top)
        return true;
    uint64_t behind = window->top - seq;
    if (behind >= REPLAY_WINDOW)
        return false;               //  Too old to tell: refuse
    return ((window->seen >> behind) & 1) == 0;
}

//  --------------------------------------------------------------------------
//  Accept seq if fresh.

int
replay_accept (replay_t *window, uint64_t seq)
{
    assert (window);
    if (!replay_fresh (window, seq))
        return PROTO_ERR_REPLAY;
    if (seq > window->top) {
        uint64_t shift = seq - window->top;
        window->seen = shift >= REPLAY_WINDOW? 0: window->seen << shift;
        window->seen |= 1;
        window->top = seq;
    }
    else
        window->seen |= (uint64_t) 1 << (window->top - seq);
    return PROTO_OK;
}

//  --------------------------------------------------------------------------
//  The coordinator's envelopes a device windows.

bool
replay_windowed (int type)
{
    return type == MSG_TWIN_DESIRED || type == MSG_ACK;
}

//  --------------------------------------------------------------------------
//  Store form: big-endian top, then big-endian seen.

void
replay_save (const replay_t *window, uint8_t out [16])
{
    assert (window && out);
    for (int i = 0; i < 8; i++) {
        out [i] = (uint8_t) (window->top >> (56 - 8 * i));
        out [8 + i] = (uint8_t) (window->seen >> (56 - 8 * i));
    }
}

void
replay_load (replay_t *window, const uint8_t in [16])
{
    assert (window && in);
    window->top = 0;
    window->seen = 0;
    for (int i = 0; i < 8; i++) {
        window->top = (window->top << 8) | in [i];
        window->seen = (window->seen << 8) | in [8 + i];
    }
}

//  --------------------------------------------------------------------------
//  Selftest

void
replay_test (bool verbose)
{
    printf (" * replay: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    replay_t window = { 0, 0 };
    assert (!replay_fresh (&window, 0));
    assert (replay_accept (&window, 0) == PROTO_ERR_REPLAY);
    assert (replay_fresh (&window, 1));
    assert (replay_accept (&window, 1) == 0);
    assert (replay_accept (&window, 1) == PROTO_ERR_REPLAY);
    assert (replay_accept (&window, 2) == 0);
    assert (window.top == 2 && window.seen == 3);

    //  Reordering within the window is accepted once
    assert (replay_accept (&window, 10) == 0);
    assert (replay_accept (&window, 5) == 0);
    assert (replay_accept (&window, 5) == PROTO_ERR_REPLAY);
    assert (replay_accept (&window, 3) == 0);
    assert (replay_accept (&window, 10) == PROTO_ERR_REPLAY);
    assert (replay_fresh (&window, 4));

    //  Edge of the window: top - 63 is the oldest acceptable
    assert (replay_accept (&window, 100) == 0);
    assert (replay_fresh (&window, 37));
    assert (!replay_fresh (&window, 36));
    assert (replay_accept (&window, 36) == PROTO_ERR_REPLAY);
    assert (replay_accept (&window, 37) == 0);
    assert (replay_accept (&window, 37) == PROTO_ERR_REPLAY);

    //  A refusal leaves the window unchanged
    replay_t before = window;
    assert (replay_accept (&window, 100) == PROTO_ERR_REPLAY);
    assert (window.top == before.top && window.seen == before.seen);

    //  A jump of 64 or more clears the map
    assert (replay_accept (&window, 164) == 0);
    assert (window.seen == 1);
    assert (!replay_fresh (&window, 100));
    assert (replay_accept (&window, UINT64_MAX) == 0);
    assert (replay_accept (&window, UINT64_MAX) == PROTO_ERR_REPLAY);
    assert (replay_fresh (&window, UINT64_MAX - 1));

    //  Only the coordinator's per-device envelopes enter a device's window
    assert (replay_windowed (MSG_TWIN_DESIRED) && replay_windowed (MSG_ACK));
    assert (!replay_windowed (MSG_ATTEST_CHALLENGE) && !replay_windowed (MSG_HEARTBEAT));

    //  Save and load round trip; a restart does not forget
    replay_t fresh = { 0, 0 };
    assert (replay_accept (&fresh, 1000) == 0);
    assert (replay_accept (&fresh, 998) == 0);
    uint8_t saved [16];
    replay_save (&fresh, saved);
    const uint8_t expect [16] = {
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,   //  top 1000
        0, 0, 0, 0, 0, 0, 0, 0x05       //  bits 0 and 2
    };
    assert (memcmp (saved, expect, 16) == 0);
    replay_t loaded;
    replay_load (&loaded, saved);
    assert (loaded.top == 1000 && loaded.seen == 5);
    assert (replay_accept (&loaded, 998) == PROTO_ERR_REPLAY);
    assert (replay_accept (&loaded, 999) == 0);
    //  @end
    printf ("OK\n");
}
