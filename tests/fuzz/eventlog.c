/*  fuzz/eventlog - libFuzzer target for the TCG binary event log parser
    (proto/eventlog.c). Whatever the
    input, the parser returns an event count within the limit or -1, and
    never reads outside the input.  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/eventlog.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uint8_t pcrs [EVENTLOG_PCRS][32];
    eventlog_event_t events [16];
    char error [256];
    eventlog_info_t info;
    int count = eventlog_replay (data, size, pcrs, events, 16, &info, error, sizeof error);
    assert (count >= -1 && count <= EVENTLOG_EVENTS_MAX);
    if (count > 0)
        assert (events [0].pcr < EVENTLOG_PCRS);
    if (count >= 0)
        assert (info.padding <= size && info.startup_locality <= 4);
    return 0;
}
