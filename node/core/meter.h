/*  meter - a metered uplink (cellular, satellite): when bulk chunks may
    cross it. From the twin's desired member "link" (docs/updates.md,
    Metered links):

        "link": {"metered": true, "window": ["* 01:00-05:00"],
                 "budget_bytes_per_day": 50000000}

    "window" takes the maintenance windows' syntax (window.h) and is
    optional (any time); "budget_bytes_per_day" is optional (no budget),
    1..2^53. The budget counts the bytes of chunks received over the
    uplink in one local day (midnight to midnight, the device's local
    time) and is reset at the day boundary. Only bulk chunks are held:
    control, twin and attestation traffic never ask the meter.
    A malformed member is kept as such, with the reason: then no chunk
    crosses the uplink (the device waits and says why), never "any time"
    on a link the operator meant to meter.
    Sans-IO: the caller gives the time (Unix ms) and the local time's
    offset from UTC (seconds east); it stores the day's count (meter_day,
    meter_spent) and gives it back at start (meter_restore).  */

#ifndef WEFT_METER_H_INCLUDED
#define WEFT_METER_H_INCLUDED

#include "node/core/window.h"

#define METER_BUDGET_MAX    (1ULL << 53)        //  Bytes per day taken, at most
#define METER_DESCRIBE_MAX  (WINDOW_DESCRIBE_MAX + 96)

typedef struct {
    bool set;                           //  A link member is there
    bool metered;                       //  ... marking the uplink metered
    bool malformed;                     //  ... and it is not valid: nothing crosses
    window_t window;                    //  Transfer windows; not set: any time
    uint64_t budget;                    //  Bytes per local day, 0: no budget
    char error [WINDOW_ERROR_MAX + 1];  //  Why it is malformed
} meter_link_t;

typedef struct {
    meter_link_t link;
    int32_t offset_s;                   //  Local time's offset from UTC
    uint64_t day;                       //  Local day the count is for
    uint64_t spent;                     //  Bytes over the uplink that day
} meter_t;

//  Why a chunk may not cross the uplink now
typedef enum {
    METER_OPEN = 0,                     //  It may
    METER_WINDOW = 1,                   //  Outside every transfer window
    METER_BUDGET = 2,                   //  The day's budget would be passed
    METER_MALFORMED = 3                 //  The link member is not valid
} meter_state_t;

//  The settings of a "link" member (NULL or null: none). 0, or -1
//  (link->malformed, link->error says why).
int
    meter_link_from_json (meter_link_t *link, const json_t *member);

//  The same from a whole desired document (JSON text, size bytes)
int
    meter_link_from_doc (meter_link_t *link, const char *doc, size_t size);

//  Are two link settings the same?
bool
    meter_link_eq (const meter_link_t *link, const meter_link_t *other);

//  The local day (days since 1970-01-01 in local time) at now_ms
uint64_t
    meter_day (uint64_t now_ms, int32_t offset_s);

//  Take the stored count of a day back (a count of another day is 0)
void
    meter_restore (meter_t *self, uint64_t day, uint64_t spent, uint64_t now_ms);

//  May bytes more cross the uplink at now_ms (METER_OPEN), or why not
meter_state_t
    meter_check (meter_t *self, uint64_t bytes, uint64_t now_ms);

//  Bytes crossed the uplink at now_ms: counted for that local day
void
    meter_spend (meter_t *self, uint64_t bytes, uint64_t now_ms);

//  Bytes counted for today (0 after the day boundary)
uint64_t
    meter_spent (meter_t *self, uint64_t now_ms);

//  When a chunk of bytes may cross again (Unix ms): now_ms if now, 0 if
//  never (malformed, or bytes alone pass the budget)
uint64_t
    meter_resumes (meter_t *self, uint64_t bytes, uint64_t now_ms);

//  Why chunks wait, for the device's report: "metered link: outside
//  transfer window, next opens * 01:00 (in 3 h)", "metered link: budget
//  spent (N of M bytes today), resumes at local midnight (in 2 h)" or
//  "metered link: malformed: REASON"; "" when open.
void
    meter_describe (meter_t *self, uint64_t bytes, uint64_t now_ms,
                    char text [METER_DESCRIBE_MAX + 1]);

void
    meter_test (bool verbose);

#endif
