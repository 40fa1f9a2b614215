/*  sitemsg - the payloads of campaigns run at the sites (types 31..32)
    Wire forms, one msgpack array each (docs/protocol.md section 22):
        SITE_DIRECTIVE [campaign: str(1..32), generation: uint 1..2^32-1,
                        site: str(1..255), tenant: str(1..64), state: uint 1..3,
                        name: str(1..64), version: str(1..64),
                        threshold: uint 1..100000, success_pct: uint 0..100,
                        soak_s: uint 0..604800, concurrency: uint 0..100000,
                        timeout_s: uint 1..604800,
                        common: bin(0..UPDMSG_METADATA_MAX),
                        devices: bin(0..UPDMSG_METADATA_MAX)]
        SITE_REPORT    [campaign: str(1..32), generation: uint 1..2^32-1,
                        site: str(1..255), state: uint 1..5, wave: uint 0..65535,
                        reason: str(0..255), sent_ms: uint,
                        outcomes: bin(0..UPDMSG_METADATA_MAX)]
    A SITE_DIRECTIVE travels by custody from the coordinator to the
    server of one site: that site's part of a campaign (its devices, each
    with its wave and its signed assignment, and the bundle bytes every
    offer shares), or, in a later generation, only a new state. The site
    server answers with SITE_REPORTs by custody to the coordinator: the
    site's state and every device outcome it learned since the last one.
    Entries (in devices and outcomes) are packed back to back:
        device  = wave: uint16 BE || id_size: uint8 (1..64) || id ||
                  assignment_size: uint16 BE (1..1024) || assignment
        outcome = state: uint8 (SITE_DEV_*) || at_ms: uint64 BE ||
                  id_size: uint8 (1..64) || id || reason_size: uint8 || reason
    The row check walks every entry, so a decoded message's entries are
    known well formed (ids and reasons hold no NUL byte).  */

#ifndef WEFT_SITEMSG_H_INCLUDED
#define WEFT_SITEMSG_H_INCLUDED

#include "proto.h"
#include "updmsg.h"
#include "bundle.h"

#define SITEMSG_CAMPAIGN_MAX    32          //  Campaign id
#define SITEMSG_SITE_MAX        255         //  A site's path
#define SITEMSG_DEVICES_MAX     4096        //  Devices in one directive
#define SITEMSG_OUTCOMES_MAX    1024        //  Outcomes in one report
#define SITEMSG_ASSIGNMENT_MAX  BUNDLE_ASSIGNMENT_MAX  //  One signed assignment body
#define SITEMSG_THRESHOLD_MAX   100000
#define SITEMSG_SECONDS_MAX     604800      //  soak_s, timeout_s: a week
#define SITEMSG_ENTRIES_MAX     UPDMSG_METADATA_MAX

//  The state a directive sets
typedef enum {
    SITE_RUN = 1,
    SITE_PAUSE = 2,
    SITE_ABORT = 3
} sitemsg_directive_state_t;

//  The site's state in a report
typedef enum {
    SITE_RUNNING = 1,
    SITE_PAUSED = 2,
    SITE_ABORTED = 3,
    SITE_HALTED = 4,
    SITE_FINISHED = 5
} sitemsg_site_state_t;

//  A device's state in an outcome (the campaign's names)
typedef enum {
    SITE_DEV_OFFERED = 1,
    SITE_DEV_DOWNLOADING = 2,
    SITE_DEV_WAITING = 3,           //  "waiting-window"
    SITE_DEV_INSTALLING = 4,
    SITE_DEV_SUCCEEDED = 5,
    SITE_DEV_FAILED = 6,
    SITE_DEV_ROLLED_BACK = 7
} sitemsg_dev_state_t;

typedef struct {
    int type;                           //  MSG_SITE_DIRECTIVE or MSG_SITE_REPORT
    char campaign [SITEMSG_CAMPAIGN_MAX + 1];
    uint64_t generation;
    char site [SITEMSG_SITE_MAX + 1];
    char tenant [WEFT_NAME_MAX + 1];    //  Directive
    uint32_t state;                     //  SITE_RUN.. (directive), SITE_RUNNING.. (report)
    char name [WEFT_NAME_MAX + 1];      //  Directive: the release
    char version [WEFT_NAME_MAX + 1];
    uint32_t threshold, success_pct, soak_s, concurrency, timeout_s;
    const uint8_t *common;              //  Directive: shared bundle bytes (borrowed)
    size_t common_size;
    const uint8_t *entries;             //  Devices or outcomes (borrowed)
    size_t entries_size;
    uint32_t wave;                      //  Report: the site's current wave
    char reason [WEFT_TEXT_MAX + 1];    //  Report: why halted
    uint64_t sent_ms;                   //  Report: the site server's clock
} sitemsg_t;

typedef struct {
    uint32_t wave;                      //  0-based
    char device [WEFT_NAME_MAX + 1];
    const uint8_t *assignment;          //  Borrowed
    size_t assignment_size;
} sitemsg_device_t;

typedef struct {
    int state;                          //  SITE_DEV_*
    uint64_t at_ms;
    char device [WEFT_NAME_MAX + 1];
    char reason [WEFT_TEXT_MAX + 1];
} sitemsg_outcome_t;

//  Encode. Returns 0 and a heap buffer (free()), or a proto_rc_t.
int
    sitemsg_encode (const sitemsg_t *msg, uint8_t **payload_p, size_t *size_p);

//  Decode a payload of the given type. Returns 0 or a proto_rc_t; *msg
//  is zeroed on error.
int
    sitemsg_decode (sitemsg_t *msg, int type, const uint8_t *payload, size_t size);

//  Cursors over entries (a borrowed buffer): 1 = one read and *at,
//  *left moved past it, 0 = the end, or a proto_rc_t (TRUNCATED, VALUE).
int
    sitemsg_next_device (const uint8_t **at, size_t *left, sitemsg_device_t *out);
int
    sitemsg_next_outcome (const uint8_t **at, size_t *left, sitemsg_outcome_t *out);

//  Append one entry to a heap buffer (*buf NULL to start; free()).
//  Returns 0, PROTO_ERR_VALUE for a field out of its range, or
//  PROTO_ERR_OVERSIZE when the buffer would pass SITEMSG_ENTRIES_MAX
//  (nothing appended then).
int
    sitemsg_put_device (uint8_t **buf, size_t *size, const sitemsg_device_t *device);
int
    sitemsg_put_outcome (uint8_t **buf, size_t *size, const sitemsg_outcome_t *outcome);

//  The rule of both rows (proto/wire_table.c runs it): every entry well
//  formed, no more than the maximum count, no trailing bytes; devices
//  only with common bytes, which start with the bundle magic. 0 or a
//  proto_rc_t.
int
    sitemsg_check (const void *msg);

//  The campaign's name of a SITE_DEV_* ("offered" .. "rolled-back"), or
//  NULL for another number.
const char *
    sitemsg_dev_state_name (int state);

//  The SITE_DEV_* of a node's reported.software.state (and its waiting
//  text: a staged release waiting for its window), 0 if none.
int
    sitemsg_dev_state_of (const char *node_state, const char *waiting);

void
    sitemsg_test (bool verbose);

#endif
