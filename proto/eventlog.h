/*  eventlog - the TCG PC Client binary event log (crypto-agile format)
    Parsed and replayed by verifiers (the coordinator, and site servers
    verifying for it), appended to by weft-node --measure and tests.
    Input comes from the network: every length is checked against what
    is left and against the limits below before it is used. Needs only
    libsodium (SHA-256) and CZMQ's zchunk.

    What a replay follows (TCG PC Client Platform Firmware Profile,
    "PFP", and TPM 2.0 Part 1, PCR initialisation), as tpm2_eventlog
    5.6 and later do:
      * every PCR starts at zero, except PCR 0 when the log says the TPM
        started at locality 3 or 4: an EV_NO_ACTION event in PCR 0 whose
        data is "StartupLocality\0" and one byte (0, 3 or 4) sets PCR 0's
        last byte to that locality before its first extend, and so does
        an EV_EFI_HCRTM_EVENT (an H-CRTM, locality 4) as PCR 0's first
        event;
      * EV_NO_ACTION events are logged, never extended;
      * zero bytes after the last event (firmware hands over the log in
        a zero-filled area) end the log; anything else must be events.
    Only the crypto-agile format with a sha256 bank is replayed; a
    SHA-1-only log (TPM 1.2 format, no "Spec ID Event03" header) and a
    crypto-agile log without sha256 are refused, each with its own
    reason, because Weft quotes the sha256 PCR bank.  */

#ifndef WEFT_EVENTLOG_H_INCLUDED
#define WEFT_EVENTLOG_H_INCLUDED

#include "proto/corelib.h"
#include <stdint.h>

#define EVENTLOG_PCRS           24
#define EVENTLOG_EVENTS_MAX     4096        //  Events in one log
#define EVENTLOG_EVENT_DATA_MAX (64 * 1024) //  Bytes of one event's data

//  TCG event types used here
#define EVENTLOG_EV_NO_ACTION       0x00000003
#define EVENTLOG_EV_IPL             0x0000000d
#define EVENTLOG_EV_EFI_HCRTM_EVENT 0x80000010

//  One replayed event, for verdicts
typedef struct {
    uint32_t pcr;
    uint32_t type;
    uint8_t digest [32];            //  sha256
} eventlog_event_t;

//  What a replay found besides the events
typedef struct {
    int startup_locality;           //  From its StartupLocality event, -1 if none
    bool hcrtm;                     //  PCR 0 began with an H-CRTM event
    uint8_t pcr0_start;             //  Last byte of PCR 0 before its first extend
    size_t padding;                 //  Zero bytes after the last event
} eventlog_info_t;

//  Parse log and replay its sha256 digests into pcrs (zero at start,
//  PCR 0 as the log's startup locality says). Fills up to events_max
//  events (may be NULL) and info (may be NULL). Returns the number of
//  events, or -1 with a reason in error if malformed or refused.
int
    eventlog_replay (const uint8_t *log, size_t size, uint8_t pcrs [EVENTLOG_PCRS][32],
                     eventlog_event_t *events, size_t events_max, eventlog_info_t *info,
                     char *error, size_t error_size);

//  PCR pcr replayed from events (count of them, as eventlog_replay gave
//  them) with its last byte starting at start: what the PCR would be had
//  the TPM started at another locality. Writes value.
void
    eventlog_replay_pcr (const eventlog_event_t *events, int count, uint32_t pcr,
                         uint8_t start, uint8_t value [32]);

//  Append one EV_IPL event with the sha256 of data for pcr to *log_p
//  (a new log with its Spec ID header if *log_p is NULL). Writes the
//  digest extended into digest (may be NULL). For tests and for
//  weft-node --measure.
void
    eventlog_append (zchunk_t **log_p, uint32_t pcr, const void *data,
                     size_t data_size, uint8_t digest [32]);

//  Append a StartupLocality event (EV_NO_ACTION in PCR 0) to *log_p,
//  which must be a log that extended nothing into PCR 0 yet. For tests
//  and for weft-node --measure-locality.
void
    eventlog_append_locality (zchunk_t **log_p, uint8_t locality);

void
    eventlog_test (bool verbose);

#endif
