/*  replay - per-origin sequence window that refuses replayed envelopes
    Every origin numbers its envelopes 1, 2, 3, ... and never reuses a
    number, across restarts too. A receiver keeps, per origin, the
    highest number seen and a 64-bit map of the numbers below it, so
    messages reordered by up to 64 positions (several paths through the
    mesh) are still accepted once, and anything older or seen is
    refused. The window is a plain value: store it with the receiver's
    state so a restart does not forget it.  */

#ifndef WEFT_REPLAY_H_INCLUDED
#define WEFT_REPLAY_H_INCLUDED

#include "proto.h"

#define REPLAY_WINDOW   64

typedef struct {
    uint64_t top;                   //  Highest sequence accepted, 0 = none
    uint64_t seen;                  //  Bit i set: top - i accepted
} replay_t;

//  Would seq be accepted? Does not change the window.
bool
    replay_fresh (const replay_t *window, uint64_t seq);

//  Accept seq if fresh. Returns 0, or PROTO_ERR_REPLAY and leaves the
//  window unchanged.
int
    replay_accept (replay_t *window, uint64_t seq);

//  Does a device's agent window the coordinator's envelopes of this type
//  (TWIN_DESIRED and ACK, numbered per device, docs/protocol.md §4.7)?
//  The others never enter a window.
bool
    replay_windowed (int type);

//  Encode the window as 16 bytes (big-endian top, seen) for a store.
void
    replay_save (const replay_t *window, uint8_t out [16]);
void
    replay_load (replay_t *window, const uint8_t in [16]);

void
    replay_test (bool verbose);

#endif
