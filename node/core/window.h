/*  window - maintenance windows: when a device may install software
    The windows come from the device twin's desired document, member
    "maintenance" (docs/updates.md, Maintenance windows):

        "maintenance": {"windows": ["Sun 02:00-04:00", "* 22:00-01:00",
                                    "Sat 22:00-Mon 06:00"]}

    window = DAY HH:MM "-" [DAY] HH:MM, DAY one of Mon..Sun (any case)
    or "*" (every day, no end day then); an end before the start
    crosses midnight; an end day names the day the window closes
    (Mon 00:00-Mon 00:00 is the whole week). Times are the device's
    local time; "24:00" only as an end. At most WINDOW_MAX windows of
    1 minute to 7 days each. No member (or null): installs any time.
    A malformed member is kept as such, with the reason: then nothing
    installs (the device waits and says why), never "any time".
    The text is untrusted (any twin writer): every field is parsed with
    explicit limits. Sans-IO: the caller gives the time (Unix ms) and
    the local time's offset from UTC (seconds east, e.g. 3600 for CET).  */

#ifndef WEFT_WINDOW_H_INCLUDED
#define WEFT_WINDOW_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define WINDOW_MAX          8           //  Windows in one maintenance member
#define WINDOW_TEXT_MAX     64          //  Bytes of one window's text
#define WINDOW_ERROR_MAX    160         //  Reason a member is malformed
#define WINDOW_DESCRIBE_MAX (WINDOW_ERROR_MAX + 16)    //  window_describe's text
#define WINDOW_OFFSET_MAX   (18 * 3600) //  |UTC offset| taken, seconds

typedef struct {
    uint32_t start;                     //  Minutes after the period's start (Mon 00:00 or 00:00)
    uint32_t length;                    //  Minutes open, 1..period
    uint32_t period;                    //  10080 (one weekday) or 1440 (every day)
} window_span_t;

typedef struct {
    bool set;                           //  A maintenance member is there
    bool malformed;                     //  ... and it is not valid: never open
    size_t count;                       //  Spans, when set and valid
    window_span_t spans [WINDOW_MAX];
    char error [WINDOW_ERROR_MAX + 1];  //  Why it is malformed
} window_t;

//  One window's text (size bytes, need not end in NUL) into span.
//  0, or -1 with error saying why.
int
    window_parse (const char *text, size_t size, window_span_t *span,
                  char error [WINDOW_ERROR_MAX + 1]);

//  The windows of a "maintenance" member (NULL or null: none set).
//  0, or -1 (self->malformed, self->error says why).
int
    window_from_json (window_t *self, const json_t *maintenance);

//  The same from a whole desired document (JSON text, size bytes); a
//  document that is not a JSON object has no window.
int
    window_from_doc (window_t *self, const char *doc, size_t size);

//  May an install start at now_ms? True with no window set, false when
//  malformed.
bool
    window_open (const window_t *self, uint64_t now_ms, int32_t offset_s);

//  When the next window opens (Unix ms): now_ms if open now, 0 if
//  never (malformed).
uint64_t
    window_next (const window_t *self, uint64_t now_ms, int32_t offset_s);

//  Why an install waits, for the device's report: "next opens Sun 02:00
//  (in 3 h 10 min)", or "malformed: REASON"; "" when open.
void
    window_describe (const window_t *self, uint64_t now_ms, int32_t offset_s,
                     char text [WINDOW_DESCRIBE_MAX + 1]);

//  Are two window sets the same?
bool
    window_eq (const window_t *self, const window_t *other);

void
    window_test (bool verbose);

#endif
