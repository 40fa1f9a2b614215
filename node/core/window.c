/*  window - maintenance windows (see window.h)
    A window is a span of a period: a weekday's window repeats every
    week (10080 minutes from Mon 00:00), an every-day window ("*") every
    day. Time is reduced to the position in the period of the device's
    local time: the Unix epoch was a Thursday, so Mon 00:00 is three days
    before every multiple of a week after it.  */

#include "proto/corelib.h"
#include "node/core/window.h"

#define DAY_MIN     1440
#define WEEK_MIN    (7 * DAY_MIN)
#define MIN_MS      60000LL
#define DAY_MS      (DAY_MIN * MIN_MS)
#define WEEK_MS     (WEEK_MIN * MIN_MS)
#define EPOCH_DAY   3                   //  1970-01-01 was a Thursday (Mon = 0)
#define DAY_ANY     7                   //  "*"

static const char *s_day_names [] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };

//  --------------------------------------------------------------------------
//  Parsing, bounded by size throughout

//  Untrusted text for an error message: printable ASCII only, cut
static void
s_quote (const char *text, size_t size, char *out, size_t max)
{
    size_t length = 0;
    for (size_t i = 0; i < size && length + 4 < max; i++) {
        unsigned char c = (unsigned char) text [i];
        out [length++] = c >= 0x20 && c < 0x7f? (char) c: '?';
    }
    if (size > 0 && length + 4 >= max && length < size)
        out [length++] = '~';           //  Cut
    out [length] = 0;
}

static void
s_skip_blanks (const char *text, size_t size, size_t *at)
{
    while (*at < size && (text [*at] == ' ' || text [*at] == '\t'))
        (*at)++;
}

static bool
s_letter (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

//  A day at *at: 0..6 (Mon..Sun), DAY_ANY, or -1 with error
static int
s_day (const char *text, size_t size, size_t *at, char *error)
{
    if (*at < size && text [*at] == '*') {
        (*at)++;
        return DAY_ANY;
    }
    size_t start = *at;
    while (*at < size && s_letter (text [*at]) && *at - start < 16)
        (*at)++;
    size_t length = *at - start;
    if (length == 3)
        for (int day = 0; day < 7; day++)
            if (strncasecmp (text + start, s_day_names [day], 3) == 0)
                return day;
    char word [24];
    s_quote (text + start, length? length: size - start < 8? size - start: 8, word,
             sizeof word);
    snprintf (error, WINDOW_ERROR_MAX + 1, "unknown day \"%s\" (Mon..Sun or *)", word);
    return -1;
}

//  HH:MM at *at: minutes 0..1440 (24:00 only if end), or -1 with error
static int
s_clock (const char *text, size_t size, size_t *at, bool end, char *error)
{
    const char *p = text + *at;
    if (size - *at < 5 || !isdigit ((unsigned char) p [0]) || !isdigit ((unsigned char) p [1])
    ||  p [2] != ':' || !isdigit ((unsigned char) p [3]) || !isdigit ((unsigned char) p [4])) {
        char word [24];
        s_quote (p, size - *at < 8? size - *at: 8, word, sizeof word);
        snprintf (error, WINDOW_ERROR_MAX + 1, "\"%s\" is not a time HH:MM", word);
        return -1;
    }
    int hour = (p [0] - '0') * 10 + (p [1] - '0');
    int minute = (p [3] - '0') * 10 + (p [4] - '0');
    *at += 5;
    if (hour == 24 && minute == 0 && end)
        return DAY_MIN;
    if (hour > 23 || minute > 59) {
        snprintf (error, WINDOW_ERROR_MAX + 1, "%02d:%02d is not a time of day (00:00..23:59%s)",
                  hour, minute, end? ", or 24:00 as an end": "");
        return -1;
    }
    return hour * 60 + minute;
}

int
window_parse (const char *text, size_t size, window_span_t *span,
              char error [WINDOW_ERROR_MAX + 1])
{
    assert (text && span && error);
    memset (span, 0, sizeof *span);
    *error = 0;
    if (size > WINDOW_TEXT_MAX) {
        snprintf (error, WINDOW_ERROR_MAX + 1, "longer than %d bytes", WINDOW_TEXT_MAX);
        return -1;
    }
    size_t at = 0;
    s_skip_blanks (text, size, &at);
    int day = s_day (text, size, &at, error);
    if (day < 0)
        return -1;
    if (at == size || (text [at] != ' ' && text [at] != '\t')) {
        snprintf (error, WINDOW_ERROR_MAX + 1, "want DAY HH:MM-HH:MM, e.g. Sun 02:00-04:00");
        return -1;
    }
    s_skip_blanks (text, size, &at);
    int start = s_clock (text, size, &at, false, error);
    if (start < 0)
        return -1;
    s_skip_blanks (text, size, &at);
    if (at == size || text [at] != '-') {
        snprintf (error, WINDOW_ERROR_MAX + 1, "want a '-' after the start time");
        return -1;
    }
    at++;
    s_skip_blanks (text, size, &at);
    int end_day = -1;
    if (at < size && (s_letter (text [at]) || text [at] == '*')) {
        end_day = s_day (text, size, &at, error);
        if (end_day < 0)
            return -1;
        if (end_day == DAY_ANY || day == DAY_ANY) {
            snprintf (error, WINDOW_ERROR_MAX + 1, "an every-day window (*) has no end day; "
                      "a window that ends on another day names both days");
            return -1;
        }
        s_skip_blanks (text, size, &at);
    }
    int end = s_clock (text, size, &at, true, error);
    if (end < 0)
        return -1;
    s_skip_blanks (text, size, &at);
    if (at != size) {
        char word [24];
        s_quote (text + at, size - at, word, sizeof word);
        snprintf (error, WINDOW_ERROR_MAX + 1, "unexpected \"%s\" after the end time", word);
        return -1;
    }
    if (end_day < 0) {
        //  Same day, or the next one when the end is not after the start
        if (start == 0 && end == DAY_MIN)
            span->length = DAY_MIN;         //  00:00-24:00, the whole day
        else
        if (end == start) {
            snprintf (error, WINDOW_ERROR_MAX + 1, "empty or ambiguous: it ends where it "
                      "starts (a whole day: * 00:00-24:00, or Mon 00:00-Tue 00:00)");
            return -1;
        }
        else
            span->length = end > start? (uint32_t) (end - start)
                                      : (uint32_t) (end + DAY_MIN - start);
    }
    else {
        int from = day * DAY_MIN + start;
        int to = end_day * DAY_MIN + end;
        int length = ((to - from) % WEEK_MIN + WEEK_MIN) % WEEK_MIN;
        span->length = length? (uint32_t) length: WEEK_MIN;     //  Mon 00:00-Mon 00:00
    }
    if (day == DAY_ANY) {
        span->period = DAY_MIN;
        span->start = (uint32_t) start;
    }
    else {
        span->period = WEEK_MIN;
        span->start = (uint32_t) (day * DAY_MIN + start);
    }
    assert (span->length >= 1 && span->length <= span->period);
    return 0;
}

static int
s_malformed (window_t *self, const char *format, ...)
{
    memset (self, 0, sizeof *self);
    self->set = true;
    self->malformed = true;
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    return -1;
}

int
window_from_json (window_t *self, const json_t *maintenance)
{
    assert (self);
    memset (self, 0, sizeof *self);
    if (!maintenance || json_is_null (maintenance))
        return 0;
    if (!json_is_object (maintenance))
        return s_malformed (self, "maintenance is not an object "
                            "(want {\"windows\": [\"Sun 02:00-04:00\"]})");
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *) maintenance, key, value) {
        if (!streq (key, "windows")) {
            char word [24];
            s_quote (key, strlen (key), word, sizeof word);
            return s_malformed (self, "unknown member \"%s\" (only \"windows\")", word);
        }
    }
    const json_t *windows = json_object_get (maintenance, "windows");
    if (!windows)
        return s_malformed (self, "no \"windows\" member");
    if (!json_is_array (windows))
        return s_malformed (self, "\"windows\" is not a list of texts");
    size_t count = json_array_size (windows);
    if (count == 0)
        return s_malformed (self, "\"windows\" is empty (remove \"maintenance\" to "
                            "install any time)");
    if (count > WINDOW_MAX)
        return s_malformed (self, "%zu windows, at most %d", count, WINDOW_MAX);
    window_span_t spans [WINDOW_MAX];
    for (size_t index = 0; index < count; index++) {
        const json_t *item = json_array_get (windows, index);
        if (!json_is_string (item))
            return s_malformed (self, "window %zu is not a text", index + 1);
        const char *text = json_string_value (item);
        size_t size = json_string_length (item);
        char error [WINDOW_ERROR_MAX + 1];
        if (window_parse (text, size, &spans [index], error)) {
            char word [40];
            s_quote (text, size, word, 36);
            return s_malformed (self, "window %zu \"%s\": %s", index + 1, word, error);
        }
    }
    self->set = true;
    self->count = count;
    memcpy (self->spans, spans, count * sizeof spans [0]);
    return 0;
}

int
window_from_doc (window_t *self, const char *doc, size_t size)
{
    assert (self && doc);
    json_t *json = json_loadb (doc, size, 0, NULL);
    int rc = 0;
    if (json_is_object (json))
        rc = window_from_json (self, json_object_get (json, "maintenance"));
    else
        memset (self, 0, sizeof *self);
    json_decref (json);
    return rc;
}

//  --------------------------------------------------------------------------
//  Time

//  Local time at now_ms as milliseconds since Mon 00:00 of its week
static int64_t
s_week_ms (uint64_t now_ms, int32_t offset_s)
{
    if (offset_s > WINDOW_OFFSET_MAX || offset_s < -WINDOW_OFFSET_MAX)
        offset_s = 0;                   //  Not a real zone: UTC
    int64_t local = (int64_t) now_ms + (int64_t) offset_s * 1000 + EPOCH_DAY * DAY_MS;
    return (local % WEEK_MS + WEEK_MS) % WEEK_MS;
}

//  Milliseconds until span opens (0: open now)
static int64_t
s_until (const window_span_t *span, int64_t week_ms)
{
    int64_t period = span->period * MIN_MS;
    int64_t into = ((week_ms - span->start * MIN_MS) % period + period) % period;
    if (into < span->length * MIN_MS)
        return 0;
    return period - into;
}

bool
window_open (const window_t *self, uint64_t now_ms, int32_t offset_s)
{
    assert (self);
    if (!self->set)
        return true;
    return !self->malformed && self->count && window_next (self, now_ms, offset_s) == now_ms;
}

uint64_t
window_next (const window_t *self, uint64_t now_ms, int32_t offset_s)
{
    assert (self);
    if (!self->set)
        return now_ms;
    if (self->malformed || self->count == 0)
        return 0;
    int64_t week_ms = s_week_ms (now_ms, offset_s);
    int64_t soonest = WEEK_MS;
    for (size_t index = 0; index < self->count; index++) {
        int64_t until = s_until (&self->spans [index], week_ms);
        if (until < soonest)
            soonest = until;
    }
    return now_ms + (uint64_t) soonest;
}

void
window_describe (const window_t *self, uint64_t now_ms, int32_t offset_s,
                 char text [WINDOW_DESCRIBE_MAX + 1])
{
    assert (self && text);
    *text = 0;
    if (!self->set)
        return;
    if (self->malformed || self->count == 0) {
        snprintf (text, WINDOW_DESCRIBE_MAX + 1, "malformed: %s", self->error);
        return;
    }
    uint64_t next = window_next (self, now_ms, offset_s);
    if (next == now_ms)
        return;
    int64_t at = s_week_ms (next, offset_s);
    int64_t minute_of_week = at / MIN_MS;
    uint64_t minutes = (next - now_ms + MIN_MS - 1) / MIN_MS;
    char in [32];
    if (minutes >= DAY_MIN)
        snprintf (in, sizeof in, "%" PRIu64 " d %" PRIu64 " h", minutes / DAY_MIN,
                  minutes % DAY_MIN / 60);
    else
    if (minutes >= 60 && minutes % 60)
        snprintf (in, sizeof in, "%" PRIu64 " h %" PRIu64 " min", minutes / 60, minutes % 60);
    else
    if (minutes >= 60)
        snprintf (in, sizeof in, "%" PRIu64 " h", minutes / 60);
    else
        snprintf (in, sizeof in, "%" PRIu64 " min", minutes);
    snprintf (text, WINDOW_DESCRIBE_MAX + 1, "next opens %s %02d:%02d (in %s)",
              s_day_names [minute_of_week / DAY_MIN], (int) (minute_of_week % DAY_MIN / 60),
              (int) (minute_of_week % 60), in);
}

bool
window_eq (const window_t *self, const window_t *other)
{
    assert (self && other);
    if (self->set != other->set || self->malformed != other->malformed
    ||  self->count != other->count || !streq (self->error, other->error))
        return false;
    for (size_t index = 0; index < self->count; index++)
        if (self->spans [index].start != other->spans [index].start
        ||  self->spans [index].length != other->spans [index].length
        ||  self->spans [index].period != other->spans [index].period)
            return false;
    return true;
}

//  --------------------------------------------------------------------------
//  Selftest

//  Unix ms of a UTC time in the week from Mon 2026-12-07 (day 0), day
//  7 the next Monday
#define S_WEEK_MS   1796601600000ULL    //  Mon 2026-12-07 00:00 UTC
static uint64_t
s_at (int day, int hour, int minute)
{
    return S_WEEK_MS + (uint64_t) day * DAY_MS + (uint64_t) (hour * 60 + minute) * MIN_MS;
}

static void
s_window (window_t *window, const char *json_text)
{
    int rc = window_from_doc (window, json_text, strlen (json_text));
    assert (rc == 0);
    assert (window->set && !window->malformed);
}

static void
s_refused (const char *json_text, const char *reason)
{
    window_t window;
    int rc = window_from_doc (&window, json_text, strlen (json_text));
    if (rc != -1 || !strstr (window.error, reason)) {
        fprintf (stderr, "window: %s: \"%s\", wanted \"%s\"\n", json_text,
                 window.error, reason);
        assert (false);
    }
    assert (window.set && window.malformed && window.count == 0);
    assert (!window_open (&window, s_at (0, 0, 0), 0));
    assert (window_next (&window, s_at (0, 0, 0), 0) == 0);
    char text [WINDOW_DESCRIBE_MAX + 1];
    window_describe (&window, s_at (0, 0, 0), 0, text);
    assert (strncmp (text, "malformed: ", 11) == 0);
    assert (strlen (text) <= WINDOW_DESCRIBE_MAX);
}

void
window_test (bool verbose)
{
    printf (" * window: ");
    //  @selftest
    //  The reference week really starts on a Monday
    assert (s_week_ms (S_WEEK_MS, 0) == 0);
    assert (s_week_ms (0, 0) == 3 * DAY_MS);        //  1970-01-01 was a Thursday

    //  No member, null, not an object: install any time
    window_t window;
    assert (window_from_doc (&window, "{\"a\": 1}", 8) == 0);
    assert (!window.set && window_open (&window, s_at (2, 3, 4), 0));
    assert (window_next (&window, s_at (2, 3, 4), 0) == s_at (2, 3, 4));
    assert (window_from_doc (&window, "{\"maintenance\": null}", 21) == 0);
    assert (!window.set);
    assert (window_from_doc (&window, "[1]", 3) == 0 && !window.set);
    char text [WINDOW_DESCRIBE_MAX + 1];
    window_describe (&window, s_at (0, 0, 0), 0, text);
    assert (*text == 0);

    //  Sunday 02:00-04:00
    s_window (&window, "{\"maintenance\": {\"windows\": [\"Sun 02:00-04:00\"]}}");
    assert (window.count == 1 && window.spans [0].period == WEEK_MIN);
    assert (!window_open (&window, s_at (6, 1, 59), 0));
    assert (window_open (&window, s_at (6, 2, 0), 0));
    assert (window_open (&window, s_at (6, 3, 59), 0));
    assert (!window_open (&window, s_at (6, 4, 0), 0));
    assert (!window_open (&window, s_at (0, 2, 30), 0));
    assert (window_next (&window, s_at (0, 0, 0), 0) == s_at (6, 2, 0));
    //  After it: next week's (week wrap)
    assert (window_next (&window, s_at (6, 4, 0), 0) == s_at (13, 2, 0));
    window_describe (&window, s_at (5, 22, 50), 0, text);
    assert (streq (text, "next opens Sun 02:00 (in 3 h 10 min)"));
    window_describe (&window, s_at (6, 1, 0), 0, text);
    assert (streq (text, "next opens Sun 02:00 (in 1 h)"));
    window_describe (&window, s_at (6, 1, 59) + 30000, 0, text);
    assert (streq (text, "next opens Sun 02:00 (in 1 min)"));
    window_describe (&window, s_at (0, 0, 0), 0, text);
    assert (streq (text, "next opens Sun 02:00 (in 6 d 2 h)"));
    window_describe (&window, s_at (6, 3, 0), 0, text);
    assert (*text == 0);                            //  Open

    //  Offsets: the window is local time. At UTC+2 Sun 02:00 local is
    //  Sun 00:00 UTC; at UTC-5 it is Sun 07:00 UTC
    assert (window_open (&window, s_at (6, 0, 0), 7200));
    assert (!window_open (&window, s_at (6, 2, 0), 7200));
    assert (window_next (&window, s_at (5, 12, 0), 7200) == s_at (6, 0, 0));
    assert (window_next (&window, s_at (5, 12, 0), -5 * 3600) == s_at (6, 7, 0));
    assert (window_open (&window, s_at (6, 8, 59), -5 * 3600));
    window_describe (&window, s_at (5, 12, 0), -5 * 3600, text);
    assert (streq (text, "next opens Sun 02:00 (in 19 h)"));
    //  An offset past any zone counts as UTC
    assert (window_open (&window, s_at (6, 2, 0), 20 * 3600));
    //  A change of offset (DST) moves the window with local time
    uint64_t winter = window_next (&window, s_at (0, 0, 0), 3600);
    uint64_t summer = window_next (&window, s_at (0, 0, 0), 7200);
    assert (winter - summer == 3600 * 1000);

    //  Crossing midnight: Wed 22:00-01:00 is open Thu 00:30
    s_window (&window, "{\"maintenance\": {\"windows\": [\"Wed 22:00-01:00\"]}}");
    assert (window.spans [0].length == 180);
    assert (window_open (&window, s_at (2, 23, 0), 0));
    assert (window_open (&window, s_at (3, 0, 30), 0));
    assert (!window_open (&window, s_at (3, 1, 0), 0));
    //  Crossing the week's end: Sun 23:00-Mon 01:00 (no end day: next day)
    s_window (&window, "{\"maintenance\": {\"windows\": [\"sun 23:00 - 01:00\"]}}");
    assert (window_open (&window, s_at (0, 0, 30), 0));
    assert (window_open (&window, s_at (6, 23, 30), 0));
    assert (!window_open (&window, s_at (0, 1, 0), 0));
    assert (window_next (&window, s_at (0, 1, 0), 0) == s_at (6, 23, 0));
    //  ... and with end days over the weekend, and the whole week
    s_window (&window, "{\"maintenance\": {\"windows\": [\"Sat 22:00-Mon 06:00\"]}}");
    assert (window.spans [0].length == 32 * 60);
    assert (window_open (&window, s_at (0, 5, 0), 0) && window_open (&window, s_at (6, 12, 0), 0));
    assert (!window_open (&window, s_at (0, 6, 0), 0) && !window_open (&window, s_at (5, 21, 0), 0));
    s_window (&window, "{\"maintenance\": {\"windows\": [\"Mon 00:00-Mon 00:00\"]}}");
    assert (window.spans [0].length == WEEK_MIN);
    for (int day = 0; day < 7; day++)
        assert (window_open (&window, s_at (day, 13, day), 0));
    s_window (&window, "{\"maintenance\": {\"windows\": [\"Fri 12:00-Fri 11:59\"]}}");
    assert (window.spans [0].length == WEEK_MIN - 1);
    assert (!window_open (&window, s_at (4, 11, 59), 0));
    s_window (&window, "{\"maintenance\": {\"windows\": [\"Tue 10:00-10:01\"]}}");
    assert (window.spans [0].length == 1);

    //  Every day, and several windows: the soonest opening
    s_window (&window, "{\"maintenance\": {\"windows\": [\"* 22:00-01:00\", \"Sun 02:00-04:00\"]}}");
    assert (window.count == 2 && window.spans [0].period == DAY_MIN);
    for (int day = 0; day < 7; day++) {
        assert (window_open (&window, s_at (day, 22, 30), 0));
        assert (window_open (&window, s_at (day, 0, 30), 0));
        assert (!window_open (&window, s_at (day, 12, 0), 0));
        assert (window_next (&window, s_at (day, 12, 0), 0) == s_at (day, 22, 0));
    }
    assert (window_open (&window, s_at (6, 3, 0), 0));
    assert (window_next (&window, s_at (6, 1, 30), 0) == s_at (6, 2, 0));
    window_describe (&window, s_at (6, 12, 0), 0, text);
    assert (streq (text, "next opens Sun 22:00 (in 10 h)"));
    //  Sat 02:30 local (UTC+1): the every-day window opens first
    window_describe (&window, s_at (5, 1, 30), 3600, text);
    assert (streq (text, "next opens Sat 22:00 (in 19 h 30 min)"));
    s_window (&window, "{\"maintenance\": {\"windows\": [\"* 00:00-24:00\"]}}");
    assert (window.spans [0].length == DAY_MIN && window_open (&window, s_at (3, 7, 7), 0));
    s_window (&window, "{\"maintenance\": {\"windows\": [\"Mon 00:00-24:00\"]}}");
    assert (window.spans [0].length == DAY_MIN);
    assert (window_open (&window, s_at (0, 23, 59), 0) && !window_open (&window, s_at (1, 0, 0), 0));

    //  Equality
    window_t other;
    s_window (&other, "{\"maintenance\": {\"windows\": [\"Mon 00:00-24:00\"]}}");
    assert (window_eq (&window, &other));
    s_window (&other, "{\"maintenance\": {\"windows\": [\"Mon 00:00-23:59\"]}}");
    assert (!window_eq (&window, &other));

    //  Bad input: each refused with its reason, never open
    s_refused ("{\"maintenance\": 7}", "not an object");
    s_refused ("{\"maintenance\": {}}", "no \"windows\" member");
    s_refused ("{\"maintenance\": {\"windows\": \"Sun 02:00-04:00\"}}", "not a list");
    s_refused ("{\"maintenance\": {\"windows\": []}}", "is empty");
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun 02:00-04:00\"], \"tz\": 1}}",
               "unknown member \"tz\"");
    s_refused ("{\"maintenance\": {\"windows\": [\"* 1:00-2:00\",\"a\",\"b\",\"c\",\"d\","
               "\"e\",\"f\",\"g\",\"h\"]}}", "9 windows, at most 8");
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun 02:00-04:00\", 5]}}",
               "window 2 is not a text");
    s_refused ("{\"maintenance\": {\"windows\": [\"Sunday 02:00-04:00\"]}}",
               "window 1 \"Sunday 02:00-04:00\": unknown day \"Sunday\"");
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun 25:00-04:00\"]}}",
               "25:00 is not a time of day");
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun 02:60-04:00\"]}}",
               "02:60 is not a time of day");
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun 24:00-04:00\"]}}",
               "24:00 is not a time of day");
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun 2:00-04:00\"]}}",
               "\"2:00-04:\" is not a time HH:MM");
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun 02:00\"]}}", "want a '-'");
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun 02:00-\"]}}", "\"\" is not a time");
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun02:00-04:00\"]}}", "want DAY HH:MM");
    s_refused ("{\"maintenance\": {\"windows\": [\"02:00-04:00\"]}}", "unknown day \"02:00");
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun 02:00-04:00 weekly\"]}}",
               "unexpected \"weekly\" after the end time");
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun 02:00-02:00\"]}}", "ends where it starts");
    s_refused ("{\"maintenance\": {\"windows\": [\"* 02:00-Mon 04:00\"]}}", "has no end day");
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun 02:00-* 04:00\"]}}", "has no end day");
    s_refused ("{\"maintenance\": {\"windows\": [\"\"]}}", "unknown day \"\"");
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun 02:00-04:00\\u0007\"]}}",
               "unexpected \"?\"");
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun 02:00-04:00                "
               "                                                   \"]}}", "longer than 64");
    //  A bad window among good ones spoils the member: nothing installs
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun 02:00-04:00\", \"Mon 9:00-10:00\"]}}",
               "window 2");
    //  A long key is cut in the reason
    s_refused ("{\"maintenance\": {\"windows\": [\"Sun 02:00-04:00\"], "
               "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": 1}}", "~\"");
    //  window_parse alone, on text without a NUL
    window_span_t span;
    char error [WINDOW_ERROR_MAX + 1];
    assert (window_parse ("Sun 02:00-04:00xyz", 15, &span, error) == 0);
    assert (span.start == 6 * DAY_MIN + 120 && span.length == 120);
    assert (window_parse ("Sun 02:00-04:00xyz", 14, &span, error) == -1);
    assert (window_parse ("Su", 2, &span, error) == -1 && strstr (error, "unknown day"));
    //  @end
    if (verbose)
        printf ("(windows) ");
    printf ("OK\n");
}
