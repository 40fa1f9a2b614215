/*  fuzz/eventlog - libFuzzer target for the TCG binary event log parser
    (coordinator/core/attest_eventlog.c, included directly). Whatever the
    input, the parser returns an event count within the limit or -1, and
    never reads outside the input.  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "coordinator/core/attest_eventlog.c"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uint8_t pcrs [ATTEST_PCRS][32];
    attest_event_t events [16];
    char error [256];
    int count = attest_eventlog_replay (data, size, pcrs, events, 16, error, sizeof error);
    assert (count >= -1 && count <= ATTEST_EVENTS_MAX);
    if (count > 0)
        assert (events [0].pcr < ATTEST_PCRS);
    return 0;
}
