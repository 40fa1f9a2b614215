/*  hlc - the hybrid logical clock every Weft sender stamps envelopes with
    A timestamp is Unix ms << 16 | a counter: it follows the wall clock,
    never goes backwards, and counts up within a millisecond, so two
    stamps from one clock always differ. A receiver may pull its clock
    forward to a peer's stamp, but not to one too far ahead of its own
    time (a peer's bad clock must not drag ours). The clock is a plain
    uint64_t the caller owns: the last stamp issued or seen.  */

#ifndef WEFT_HLC_H_INCLUDED
#define WEFT_HLC_H_INCLUDED

#include "proto.h"

//  The next stamp at now_ms; updates *last.
uint64_t
    hlc_next (uint64_t *last, uint64_t now_ms);

//  Take a peer's stamp: *last moves up to remote unless remote's time is
//  more than ahead_ms past now_ms.
void
    hlc_observe (uint64_t *last, uint64_t now_ms, uint64_t remote, uint64_t ahead_ms);

//  The milliseconds of a stamp.
uint64_t
    hlc_ms (uint64_t stamp);

void
    hlc_test (bool verbose);

#endif
