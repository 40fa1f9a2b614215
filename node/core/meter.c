/*  meter - a metered uplink: when bulk chunks may cross it (see meter.h)
    The transfer windows are maintenance windows (window.c parses them);
    this adds the daily byte budget and the reason chunks wait.  */

#include "proto/corelib.h"
#include "node/core/meter.h"

#define S_DAY_MS    86400000ULL

static int
s_malformed (meter_link_t *link, const char *format, ...)
{
    memset (link, 0, sizeof *link);
    link->set = true;
    link->metered = true;               //  Meant to meter: held, not free
    link->malformed = true;
    va_list args;
    va_start (args, format);
    vsnprintf (link->error, sizeof link->error, format, args);
    va_end (args);
    return -1;
}

int
meter_link_from_json (meter_link_t *link, const json_t *member)
{
    assert (link);
    memset (link, 0, sizeof *link);
    if (!member || json_is_null (member))
        return 0;
    if (!json_is_object (member))
        return s_malformed (link, "link is not an object (want {\"metered\": true, "
                            "\"window\": [\"* 01:00-05:00\"], \"budget_bytes_per_day\": N})");
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *) member, key, value) {
        if (!streq (key, "metered") && !streq (key, "window")
        &&  !streq (key, "budget_bytes_per_day"))
            return s_malformed (link, "unknown member \"%.24s\" (metered, window, "
                                "budget_bytes_per_day)", key);
    }
    const json_t *metered = json_object_get (member, "metered");
    if (!json_is_boolean (metered))
        return s_malformed (link, "\"metered\" must be true or false");
    const json_t *budget = json_object_get (member, "budget_bytes_per_day");
    if (budget && !json_is_null (budget)
    &&  (!json_is_integer (budget) || json_integer_value (budget) < 1
    ||   (uint64_t) json_integer_value (budget) > METER_BUDGET_MAX))
        return s_malformed (link, "\"budget_bytes_per_day\" must be a whole number "
                            "1..2^53 (or left out: no budget)");
    const json_t *windows = json_object_get (member, "window");
    window_t window;
    memset (&window, 0, sizeof window);
    if (windows && !json_is_null (windows)) {
        //  The maintenance windows' parser, on the same shape
        json_t *wrap = json_pack ("{s:O}", "windows", windows);
        int rc = wrap? window_from_json (&window, wrap): -1;
        json_decref (wrap);
        if (rc)
            return s_malformed (link, "window: %s", window.error);
    }
    link->set = true;
    link->metered = json_is_true (metered);
    if (link->metered) {
        link->window = window;
        link->budget = json_is_integer (budget)? (uint64_t) json_integer_value (budget): 0;
    }
    return 0;
}

int
meter_link_from_doc (meter_link_t *link, const char *doc, size_t size)
{
    assert (link && doc);
    json_t *json = json_loadb (doc, size, 0, NULL);
    int rc = 0;
    if (json_is_object (json))
        rc = meter_link_from_json (link, json_object_get (json, "link"));
    else
        memset (link, 0, sizeof *link);
    json_decref (json);
    return rc;
}

bool
meter_link_eq (const meter_link_t *link, const meter_link_t *other)
{
    assert (link && other);
    return link->set == other->set && link->metered == other->metered
        && link->malformed == other->malformed && link->budget == other->budget
        && streq (link->error, other->error) && window_eq (&link->window, &other->window);
}

uint64_t
meter_day (uint64_t now_ms, int32_t offset_s)
{
    if (offset_s > WINDOW_OFFSET_MAX || offset_s < -WINDOW_OFFSET_MAX)
        offset_s = 0;                   //  Not a real zone: UTC
    int64_t local = (int64_t) now_ms + (int64_t) offset_s * 1000;
    return local > 0? (uint64_t) local / S_DAY_MS: 0;
}

//  The next local midnight after now_ms (Unix ms)
static uint64_t
s_midnight (uint64_t now_ms, int32_t offset_s)
{
    if (offset_s > WINDOW_OFFSET_MAX || offset_s < -WINDOW_OFFSET_MAX)
        offset_s = 0;
    int64_t next = (int64_t) (meter_day (now_ms, offset_s) + 1) * (int64_t) S_DAY_MS
                 - (int64_t) offset_s * 1000;
    return next > (int64_t) now_ms? (uint64_t) next: now_ms + 1;
}

//  A new local day starts with nothing spent
static void
s_roll (meter_t *self, uint64_t now_ms)
{
    uint64_t day = meter_day (now_ms, self->offset_s);
    if (day != self->day) {
        self->day = day;
        self->spent = 0;
    }
}

void
meter_restore (meter_t *self, uint64_t day, uint64_t spent, uint64_t now_ms)
{
    assert (self);
    self->day = day;
    self->spent = spent;
    s_roll (self, now_ms);
}

meter_state_t
meter_check (meter_t *self, uint64_t bytes, uint64_t now_ms)
{
    assert (self);
    if (!self->link.metered)
        return METER_OPEN;
    if (self->link.malformed)
        return METER_MALFORMED;
    if (!window_open (&self->link.window, now_ms, self->offset_s))
        return METER_WINDOW;
    s_roll (self, now_ms);
    if (self->link.budget && (self->spent > self->link.budget
                           || bytes > self->link.budget - self->spent))
        return METER_BUDGET;
    return METER_OPEN;
}

void
meter_spend (meter_t *self, uint64_t bytes, uint64_t now_ms)
{
    assert (self);
    s_roll (self, now_ms);
    self->spent += bytes;
}

uint64_t
meter_spent (meter_t *self, uint64_t now_ms)
{
    assert (self);
    s_roll (self, now_ms);
    return self->spent;
}

uint64_t
meter_resumes (meter_t *self, uint64_t bytes, uint64_t now_ms)
{
    assert (self);
    switch (meter_check (self, bytes, now_ms)) {
        case METER_OPEN:
            return now_ms;
        case METER_WINDOW:
            return window_next (&self->link.window, now_ms, self->offset_s);
        case METER_BUDGET: {
            if (bytes > self->link.budget)
                return 0;               //  Not even a whole day's budget
            //  Tomorrow's budget, in tomorrow's first window
            uint64_t midnight = s_midnight (now_ms, self->offset_s);
            return window_next (&self->link.window, midnight, self->offset_s);
        }
        default:
            return 0;
    }
}

//  "in 3 h 10 min"
static void
s_in (uint64_t ms, char *out, size_t max)
{
    uint64_t minutes = (ms + 59999) / 60000;
    if (minutes >= 60 && minutes % 60)
        snprintf (out, max, "in %" PRIu64 " h %" PRIu64 " min", minutes / 60, minutes % 60);
    else
    if (minutes >= 60)
        snprintf (out, max, "in %" PRIu64 " h", minutes / 60);
    else
        snprintf (out, max, "in %" PRIu64 " min", minutes);
}

void
meter_describe (meter_t *self, uint64_t bytes, uint64_t now_ms,
                char text [METER_DESCRIBE_MAX + 1])
{
    assert (self && text);
    *text = 0;
    meter_state_t state = meter_check (self, bytes, now_ms);
    if (state == METER_MALFORMED)
        snprintf (text, METER_DESCRIBE_MAX + 1, "metered link: malformed: %s",
                  self->link.error);
    else
    if (state == METER_WINDOW) {
        char when [WINDOW_DESCRIBE_MAX + 1];
        window_describe (&self->link.window, now_ms, self->offset_s, when);
        snprintf (text, METER_DESCRIBE_MAX + 1, "metered link: outside transfer window, %s",
                  when);
    }
    else
    if (state == METER_BUDGET) {
        uint64_t resumes = meter_resumes (self, bytes, now_ms);
        char in [32];
        s_in (resumes > now_ms? resumes - now_ms: 0, in, sizeof in);
        if (resumes == 0)
            snprintf (text, METER_DESCRIBE_MAX + 1, "metered link: budget spent: a chunk "
                      "of %" PRIu64 " bytes passes the whole day's budget of %" PRIu64,
                      bytes, self->link.budget);
        else
            snprintf (text, METER_DESCRIBE_MAX + 1, "metered link: budget spent (%" PRIu64
                      " of %" PRIu64 " bytes today), resumes %s", self->spent,
                      self->link.budget, in);
    }
}

//  --------------------------------------------------------------------------
//  Selftest

#define S_MON       1796601600000ULL    //  Mon 2026-12-07 00:00 UTC
#define S_HOUR      3600000ULL

static void
s_link (meter_t *meter, const char *json_text)
{
    memset (meter, 0, sizeof *meter);
    int rc = meter_link_from_doc (&meter->link, json_text, strlen (json_text));
    assert (rc == 0);
}

static void
s_refused (const char *json_text, const char *reason)
{
    meter_t meter;
    memset (&meter, 0, sizeof meter);
    int rc = meter_link_from_doc (&meter.link, json_text, strlen (json_text));
    if (rc != -1 || !strstr (meter.link.error, reason)) {
        fprintf (stderr, "meter: %s: \"%s\", wanted \"%s\"\n", json_text,
                 meter.link.error, reason);
        assert (false);
    }
    //  Malformed holds the uplink and says why
    assert (meter_check (&meter, 1, S_MON) == METER_MALFORMED);
    assert (meter_resumes (&meter, 1, S_MON) == 0);
    char text [METER_DESCRIBE_MAX + 1];
    meter_describe (&meter, 1, S_MON, text);
    assert (strncmp (text, "metered link: malformed: ", 25) == 0);
}

void
meter_test (bool verbose)
{
    printf (" * meter: ");
    //  @selftest
    meter_t meter;
    //  No member, or not metered: open at any time, whatever is spent
    s_link (&meter, "{\"maintenance\": {\"windows\": [\"* 01:00-02:00\"]}}");
    assert (!meter.link.set && meter_check (&meter, 1ULL << 40, S_MON) == METER_OPEN);
    s_link (&meter, "{\"link\": {\"metered\": false, \"budget_bytes_per_day\": 10}}");
    assert (meter.link.set && !meter.link.metered);
    meter_spend (&meter, 1000, S_MON);
    assert (meter_check (&meter, 1000, S_MON) == METER_OPEN);

    //  A window: held outside, open inside, resumes when it opens
    s_link (&meter, "{\"link\": {\"metered\": true, \"window\": [\"* 01:00-05:00\"]}}");
    assert (meter.link.metered && meter.link.budget == 0);
    assert (meter_check (&meter, 1, S_MON + 6 * S_HOUR) == METER_WINDOW);
    assert (meter_resumes (&meter, 1, S_MON + 6 * S_HOUR) == S_MON + 25 * S_HOUR);
    assert (meter_check (&meter, 1, S_MON + 1 * S_HOUR) == METER_OPEN);
    assert (meter_resumes (&meter, 1, S_MON + 2 * S_HOUR) == S_MON + 2 * S_HOUR);
    char text [METER_DESCRIBE_MAX + 1];
    meter_describe (&meter, 1, S_MON + 6 * S_HOUR, text);
    assert (streq (text, "metered link: outside transfer window, next opens Tue 01:00 "
                   "(in 19 h)"));
    meter_describe (&meter, 1, S_MON + 2 * S_HOUR, text);
    assert (*text == 0);
    //  Local time: 01:00 in UTC+2 is 23:00 UTC the day before
    meter.offset_s = 7200;
    assert (meter_check (&meter, 1, S_MON - 1 * S_HOUR) == METER_OPEN);
    assert (meter_check (&meter, 1, S_MON + 2 * S_HOUR) == METER_OPEN);
    assert (meter_check (&meter, 1, S_MON + 3 * S_HOUR) == METER_WINDOW);

    //  A budget: what passes it waits for the next local day
    s_link (&meter, "{\"link\": {\"metered\": true, \"budget_bytes_per_day\": 1000}}");
    assert (meter.link.budget == 1000 && !meter.link.window.set);
    uint64_t noon = S_MON + 12 * S_HOUR;
    assert (meter_check (&meter, 600, noon) == METER_OPEN);
    meter_spend (&meter, 600, noon);
    assert (meter_check (&meter, 400, noon) == METER_OPEN);
    assert (meter_check (&meter, 401, noon) == METER_BUDGET);
    assert (meter_resumes (&meter, 401, noon) == S_MON + 24 * S_HOUR);
    meter_describe (&meter, 401, noon, text);
    assert (streq (text, "metered link: budget spent (600 of 1000 bytes today), resumes in 12 h"));
    assert (meter_resumes (&meter, 1001, noon) == 0);      //  Never fits
    meter_describe (&meter, 1001, noon, text);
    assert (strstr (text, "passes the whole day's budget"));
    //  The day boundary resets the count
    assert (meter_spent (&meter, S_MON + 24 * S_HOUR - 1) == 600);
    assert (meter_check (&meter, 1000, S_MON + 24 * S_HOUR) == METER_OPEN);
    assert (meter_spent (&meter, S_MON + 24 * S_HOUR) == 0);
    //  ... at local midnight, not UTC's
    meter_spend (&meter, 1000, noon);
    meter.offset_s = -3600;             //  Local midnight is 01:00 UTC
    meter_restore (&meter, meter_day (noon, -3600), 1000, noon);
    assert (meter_check (&meter, 1, S_MON + 24 * S_HOUR + S_HOUR / 2) == METER_BUDGET);
    assert (meter_resumes (&meter, 1, noon) == S_MON + 25 * S_HOUR);
    assert (meter_check (&meter, 1, S_MON + 25 * S_HOUR) == METER_OPEN);
    //  A stored count of another day is none
    meter_restore (&meter, meter_day (noon, -3600) - 1, 999, noon);
    assert (meter_spent (&meter, noon) == 0);

    //  Window and budget: a spent budget resumes in tomorrow's window
    s_link (&meter, "{\"link\": {\"metered\": true, \"window\": [\"* 01:00-05:00\"], "
                    "\"budget_bytes_per_day\": 100}}");
    meter_spend (&meter, 100, S_MON + 2 * S_HOUR);
    assert (meter_check (&meter, 1, S_MON + 2 * S_HOUR) == METER_BUDGET);
    assert (meter_resumes (&meter, 1, S_MON + 2 * S_HOUR) == S_MON + 25 * S_HOUR);

    //  Equality follows every setting
    meter_t other;
    s_link (&other, "{\"link\": {\"metered\": true, \"window\": [\"* 01:00-05:00\"], "
                    "\"budget_bytes_per_day\": 101}}");
    assert (!meter_link_eq (&meter.link, &other.link));
    s_link (&other, "{\"link\": {\"metered\": true, \"window\": [\"* 01:00-05:00\"], "
                    "\"budget_bytes_per_day\": 100}}");
    assert (meter_link_eq (&meter.link, &other.link));

    //  Bad members are refused with the reason, and hold the uplink
    s_refused ("{\"link\": 5}", "link is not an object");
    s_refused ("{\"link\": {\"metered\": 1}}", "\"metered\" must be true or false");
    s_refused ("{\"link\": {}}", "\"metered\" must be true or false");
    s_refused ("{\"link\": {\"metered\": true, \"speed\": 3}}", "unknown member \"speed\"");
    s_refused ("{\"link\": {\"metered\": true, \"budget_bytes_per_day\": 0}}", "1..2^53");
    s_refused ("{\"link\": {\"metered\": true, \"budget_bytes_per_day\": -5}}", "1..2^53");
    s_refused ("{\"link\": {\"metered\": true, \"budget_bytes_per_day\": 1.5}}", "1..2^53");
    s_refused ("{\"link\": {\"metered\": true, \"budget_bytes_per_day\": 9007199254740993}}",
               "1..2^53");
    s_refused ("{\"link\": {\"metered\": true, \"window\": \"* 01:00-05:00\"}}",
               "window: \"windows\" is not a list");
    s_refused ("{\"link\": {\"metered\": true, \"window\": [\"Xyz 01:00-05:00\"]}}",
               "unknown day");
    s_refused ("{\"link\": {\"metered\": true, \"window\": []}}", "window: ");
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
