/*  eventlog - the TCG PC Client binary event log (crypto-agile format)
    Parsed and replayed by verifiers (the coordinator, and site servers
    verifying for it), appended to by weft-node --measure and tests.
    Input comes from the network: every length is checked against what
    is left and against the limits below before it is used. Needs only
    libsodium (SHA-256) and CZMQ's zchunk.  */

#ifndef WEFT_EVENTLOG_H_INCLUDED
#define WEFT_EVENTLOG_H_INCLUDED

#include "proto/corelib.h"
#include <stdint.h>

#define EVENTLOG_PCRS           24
#define EVENTLOG_EVENTS_MAX     4096        //  Events in one log
#define EVENTLOG_EVENT_DATA_MAX (64 * 1024) //  Bytes of one event's data

//  TCG event types used here
#define EVENTLOG_EV_NO_ACTION   0x00000003
#define EVENTLOG_EV_IPL         0x0000000d

//  One replayed event, for verdicts
typedef struct {
    uint32_t pcr;
    uint32_t type;
    uint8_t digest [32];            //  sha256
} eventlog_event_t;

//  Parse log and replay its sha256 digests into pcrs (all zero at
//  start). Fills up to events_max events (may be NULL). Returns the
//  number of events, or -1 with a reason in error if malformed.
int
    eventlog_replay (const uint8_t *log, size_t size, uint8_t pcrs [EVENTLOG_PCRS][32],
                     eventlog_event_t *events, size_t events_max,
                     char *error, size_t error_size);

//  Append one EV_IPL event with the sha256 of data for pcr to *log_p
//  (a new log with its Spec ID header if *log_p is NULL). Writes the
//  digest extended into digest (may be NULL). For tests and for
//  weft-node --measure.
void
    eventlog_append (zchunk_t **log_p, uint32_t pcr, const void *data,
                     size_t data_size, uint8_t digest [32]);

#endif
