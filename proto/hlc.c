/*  hlc - the hybrid logical clock (see hlc.h)  */

#include <stdio.h>
#include <assert.h>
#include "hlc.h"

uint64_t
hlc_next (uint64_t *last, uint64_t now_ms)
{
    assert (last);
    uint64_t physical = now_ms << 16;
    *last = physical > *last? physical: *last + 1;
    return *last;
}

void
hlc_observe (uint64_t *last, uint64_t now_ms, uint64_t remote, uint64_t ahead_ms)
{
    assert (last);
    if ((remote >> 16) > now_ms + ahead_ms)
        return;                     //  A clock that far off would drag ours
    if (remote > *last)
        *last = remote;
}

uint64_t
hlc_ms (uint64_t stamp)
{
    return stamp >> 16;
}

//  --------------------------------------------------------------------------
//  Selftest

void
hlc_test (bool verbose)
{
    (void) verbose;
    printf (" * hlc: ");
    //  @selftest
    uint64_t clock = 0;
    assert (hlc_next (&clock, 1000) == 1000ULL << 16);
    //  Same millisecond, or the wall clock stepping back: counts up
    assert (hlc_next (&clock, 1000) == (1000ULL << 16) + 1);
    assert (hlc_next (&clock, 999) == (1000ULL << 16) + 2);
    assert (hlc_next (&clock, 1001) == 1001ULL << 16);
    assert (hlc_ms (clock) == 1001);
    //  A peer a little ahead pulls us forward; one far ahead does not
    hlc_observe (&clock, 1001, (1500ULL << 16) + 3, 1000);
    assert (clock == (1500ULL << 16) + 3);
    assert (hlc_next (&clock, 1002) == (1500ULL << 16) + 4);
    hlc_observe (&clock, 1002, 5000ULL << 16, 1000);
    assert (clock == (1500ULL << 16) + 4);
    hlc_observe (&clock, 1002, 5, 1000);    //  Behind us: no change
    assert (clock == (1500ULL << 16) + 4);
    //  @end
    printf ("OK\n");
}
