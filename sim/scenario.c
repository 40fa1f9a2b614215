/*  scenario - weft-sim scenario files
    One directive per line; '#' starts a comment; words are separated
    by spaces or tabs. Every number is range-checked and every error
    names its line. The only allocation is the action array and each
    twin patch, all freed by scenario_free (or on a parse error).  */

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sim/scenario.h"

#define SCN_WORDS_MAX   16          //  Words per line (a twin patch is one)

//  --------------------------------------------------------------------------
//  Defaults: a small fleet, a good LAN, a modest uplink, no faults.

void
scenario_defaults (scenario_t *self)
{
    memset (self, 0, sizeof *self);
    snprintf (self->name, sizeof self->name, "unnamed");
    self->nodes = 100;
    self->sites = 10;
    self->seed = 1;
    self->duration_ms = 600 * 1000;
    self->settle_ms = 120 * 1000;
    self->heartbeat_ms = 5000;
    self->apply_ms = 100;
    self->tpm_ms = 300;
    self->sample_ms = 250;
    self->topology = SCN_STAR;
    self->depth = 1;
    self->lan = (scn_link_t) { 2000, 1000, 0.0, 12500000, 0.0 };
    self->uplink = (scn_link_t) { 40000, 10000, 0.0, 1250000, 0.0 };
    self->faults_from_ms = 0;
    self->faults_to_ms = 60 * 1000;
    self->fault_max_ms = 30 * 1000;
    self->attest_tenants = 1;
    self->attest_interval_ms = 60 * 1000;
    self->quote_ms = 100;
}

void
scenario_free (scenario_t *self)
{
    if (!self)
        return;
    for (size_t i = 0; i < self->nactions; i++)
        free (self->actions [i].doc);
    free (self->actions);
    self->actions = NULL;
    self->nactions = 0;
}

//  --------------------------------------------------------------------------
//  Number parsers; each accepts the whole word or fails.

static int
s_uint (const char *text, uint64_t max, uint64_t *value_p)
{
    if (!isdigit ((unsigned char) *text))
        return -1;
    errno = 0;
    char *end;
    unsigned long long value = strtoull (text, &end, 10);
    if (errno || *end || value > max)
        return -1;
    *value_p = value;
    return 0;
}

static int
s_fraction (const char *text, double *value_p)
{
    if (!isdigit ((unsigned char) *text) && *text != '.')
        return -1;
    errno = 0;
    char *end;
    double value = strtod (text, &end);
    if (errno || *end || !isfinite (value) || value < 0 || value > 1)
        return -1;
    *value_p = value;
    return 0;
}

int
scenario_duration (const char *text, uint64_t *ms_p)
{
    if (!text || !isdigit ((unsigned char) *text))
        return -1;
    errno = 0;
    char *end;
    double value = strtod (text, &end);
    if (errno || !isfinite (value) || value < 0)
        return -1;
    double scale;
    if (*end == 0 || strcmp (end, "ms") == 0)
        scale = 1;
    else
    if (strcmp (end, "us") == 0)
        scale = 0.001;
    else
    if (strcmp (end, "s") == 0)
        scale = 1000;
    else
    if (strcmp (end, "m") == 0)
        scale = 60 * 1000;
    else
    if (strcmp (end, "h") == 0)
        scale = 3600 * 1000;
    else
        return -1;
    double ms = value * scale;
    if (ms > (double) SCN_TIME_MAX_MS)
        return -1;
    *ms_p = (uint64_t) ms;
    return 0;
}

//  Microseconds, for link latencies: "2ms", "500us", "0.5ms".
static int
s_micros (const char *text, uint64_t *us_p)
{
    if (!text || !isdigit ((unsigned char) *text))
        return -1;
    errno = 0;
    char *end;
    double value = strtod (text, &end);
    if (errno || !isfinite (value) || value < 0)
        return -1;
    double us;
    if (*end == 0 || strcmp (end, "ms") == 0)
        us = value * 1000;
    else
    if (strcmp (end, "us") == 0)
        us = value;
    else
    if (strcmp (end, "s") == 0)
        us = value * 1000 * 1000;
    else
        return -1;
    if (us > (double) SCN_LATENCY_MAX_US)
        return -1;
    *us_p = (uint64_t) us;
    return 0;
}

//  Bytes per second with an optional k, M or G (decimal) suffix.
static int
s_bandwidth (const char *text, uint64_t *value_p)
{
    if (!isdigit ((unsigned char) *text))
        return -1;
    errno = 0;
    char *end;
    double value = strtod (text, &end);
    if (errno || !isfinite (value) || value < 0)
        return -1;
    if (*end == 'k' || *end == 'K')
        value *= 1e3, end++;
    else
    if (*end == 'M')
        value *= 1e6, end++;
    else
    if (*end == 'G')
        value *= 1e9, end++;
    if (*end || value > (double) SCN_BANDWIDTH_MAX)
        return -1;
    *value_p = (uint64_t) value;
    return 0;
}

//  --------------------------------------------------------------------------
//  One line, split into words in place.

typedef struct {
    char *words [SCN_WORDS_MAX];
    size_t count;
    char *rest [SCN_WORDS_MAX];     //  Text from word i to the end of line
} s_line_t;

static int
s_split (char *line, s_line_t *out)
{
    out->count = 0;
    char *cursor = line;
    while (*cursor) {
        while (*cursor == ' ' || *cursor == '\t')
            cursor++;
        if (*cursor == 0 || *cursor == '#')
            break;
        if (out->count == SCN_WORDS_MAX)
            return -1;
        out->rest [out->count] = cursor;
        out->words [out->count++] = cursor;
        while (*cursor && *cursor != ' ' && *cursor != '\t')
            cursor++;
        if (*cursor)
            *cursor++ = 0;
    }
    return 0;
}

//  Value of "key=value" if word has that key, else NULL.
static const char *
s_param (const char *word, const char *key)
{
    size_t size = strlen (key);
    if (strncmp (word, key, size) == 0 && word [size] == '=')
        return word + size + 1;
    return NULL;
}

static int
s_link (scn_link_t *link, s_line_t *line)
{
    for (size_t i = 1; i < line->count; i++) {
        const char *value;
        int rc = -1;
        if ((value = s_param (line->words [i], "latency")))
            rc = s_micros (value, &link->latency_us);
        else
        if ((value = s_param (line->words [i], "jitter")))
            rc = s_micros (value, &link->jitter_us);
        else
        if ((value = s_param (line->words [i], "loss")))
            rc = s_fraction (value, &link->loss);
        else
        if ((value = s_param (line->words [i], "drop")))
            rc = s_fraction (value, &link->drop);
        else
        if ((value = s_param (line->words [i], "bandwidth")))
            rc = s_bandwidth (value, &link->bandwidth);
        if (rc)
            return -1;
    }
    return 0;
}

static int
s_error (char *error, size_t error_size, uint32_t line, const char *format, ...)
{
    char text [256];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    if (error && error_size)
        snprintf (error, error_size, "line %u: %s", line, text);
    return -1;
}

//  An "at TIME KIND ..." line into action.
static int
s_action (scn_action_t *action, s_line_t *line, char *rest_after_kind)
{
    if (line->count < 3 || scenario_duration (line->words [1], &action->at_ms))
        return -1;
    const char *kind = line->words [2];
    if (strcmp (kind, "twin") == 0) {
        action->kind = SCN_TWIN;
        if (!rest_after_kind || *rest_after_kind != '{')
            return -1;
        size_t size = strlen (rest_after_kind);
        while (size && (rest_after_kind [size - 1] == ' ' || rest_after_kind [size - 1] == '\t'))
            size--;
        if (size == 0 || size > SCN_DOC_MAX)
            return -1;
        action->doc = (char *) malloc (size + 1);
        if (!action->doc)
            return -1;
        memcpy (action->doc, rest_after_kind, size);
        action->doc [size] = 0;
        return 0;
    }
    bool have_target = false, have_for = false;
    if (strcmp (kind, "outage") == 0 || strcmp (kind, "partition") == 0) {
        action->kind = strcmp (kind, "outage") == 0? SCN_OUTAGE: SCN_PARTITION;
        for (size_t i = 3; i < line->count; i++) {
            const char *value;
            uint64_t number;
            if ((value = s_param (line->words [i], "site"))) {
                if (s_uint (value, SCN_SITES_MAX - 1, &number))
                    return -1;
                action->target = (uint32_t) number;
                have_target = true;
            }
            else
            if ((value = s_param (line->words [i], "for"))) {
                if (scenario_duration (value, &action->for_ms))
                    return -1;
                have_for = true;
            }
            else
                return -1;
        }
        return have_target && have_for && action->for_ms > 0? 0: -1;
    }
    if (strcmp (kind, "crash") == 0) {
        action->kind = SCN_CRASH;
        for (size_t i = 3; i < line->count; i++) {
            const char *value;
            uint64_t number;
            if ((value = s_param (line->words [i], "node"))) {
                if (have_target || s_uint (value, SCN_NODES_MAX - 1, &number))
                    return -1;
                action->target = (uint32_t) number;
                have_target = true;
            }
            else
            if (strcmp (line->words [i], "coordinator") == 0) {
                if (have_target)
                    return -1;
                action->kind = SCN_COORD_CRASH;
                have_target = true;
            }
            else
            if ((value = s_param (line->words [i], "fraction"))) {
                if (have_target || s_fraction (value, &action->fraction))
                    return -1;
                action->fraction_set = true;
                have_target = true;
            }
            else
            if ((value = s_param (line->words [i], "for"))) {
                if (scenario_duration (value, &action->for_ms))
                    return -1;
                have_for = true;
            }
            else
                return -1;
        }
        return have_target && have_for && action->for_ms > 0? 0: -1;
    }
    if (strcmp (kind, "assign") == 0) {
        action->kind = SCN_ASSIGN;
        return line->count == 3? 0: -1;
    }
    if (strcmp (kind, "campaign") == 0) {
        //  waves=1,10%,100% [threshold=N|P%] [rate=N] [concurrency=N]
        //  [at-sites]: campaign.create's plan as JSON text, the sizes as
        //  typed (only digits, % and commas: nothing to escape), checked
        //  by the coordinator itself
        action->kind = SCN_CAMPAIGN;
        char plan [512] = "{";
        size_t used = 1;
        bool waves = false;
        for (size_t i = 3; i < line->count; i++) {
            const char *word = line->words [i];
            if (strcmp (word, "at-sites") == 0) {
                used += (size_t) snprintf (plan + used, sizeof plan - used, "%s\"at_sites\":true",
                                           used > 1? ",": "");
                continue;
            }
            const char *equals = strchr (word, '=');
            if (!equals || !equals [1] || strlen (equals + 1) > 100
            ||  strspn (equals + 1, "0123456789%,") != strlen (equals + 1))
                return -1;
            const char *value = equals + 1;
            const char *comma = used > 1? ",": "";
            if (s_param (word, "waves")) {
                used += (size_t) snprintf (plan + used, sizeof plan - used, "%s\"waves\":[\"",
                                           comma);
                for (const char *at = value; *at && used < sizeof plan - 8; at++)
                    used += (size_t) snprintf (plan + used, sizeof plan - used, "%s",
                                               *at == ','? "\",\"": (char []) { *at, 0 });
                used += (size_t) snprintf (plan + used, sizeof plan - used, "\"]");
                waves = true;
            }
            else
            if (s_param (word, "threshold"))
                used += (size_t) snprintf (plan + used, sizeof plan - used,
                                           "%s\"threshold\":\"%s\"", comma, value);
            else
            if ((s_param (word, "rate") || s_param (word, "concurrency"))
            &&  strspn (value, "0123456789") == strlen (value))
                used += (size_t) snprintf (plan + used, sizeof plan - used, "%s\"%.*s\":%s",
                                           comma, (int) (equals - word), word, value);
            else
                return -1;
            if (used >= sizeof plan - 2)
                return -1;
        }
        snprintf (plan + used, sizeof plan - used, "}");
        action->doc = waves? strdup (plan): NULL;
        return action->doc? 0: -1;
    }
    if (strcmp (kind, "revoke") == 0) {
        action->kind = SCN_REVOKE;
        uint64_t number;
        const char *value = line->count == 4? s_param (line->words [3], "node"): NULL;
        if (!value || s_uint (value, SCN_NODES_MAX - 1, &number))
            return -1;
        action->target = (uint32_t) number;
        return 0;
    }
    if (strcmp (kind, "loss") == 0 || strcmp (kind, "drop") == 0) {
        action->kind = strcmp (kind, "loss") == 0? SCN_LOSS: SCN_DROP;
        if (line->count != 4)
            return -1;
        const char *value;
        if ((value = s_param (line->words [3], "lan")))
            action->link = 0;
        else
        if ((value = s_param (line->words [3], "uplink")))
            action->link = 1;
        else
            return -1;
        return s_fraction (value, &action->value);
    }
    return -1;
}

//  Stable order by time: insertion sort (at most SCN_ACTIONS_MAX).
static void
s_sort (scenario_t *self)
{
    for (size_t i = 1; i < self->nactions; i++) {
        scn_action_t action = self->actions [i];
        size_t j = i;
        while (j > 0 && self->actions [j - 1].at_ms > action.at_ms) {
            self->actions [j] = self->actions [j - 1];
            j--;
        }
        self->actions [j] = action;
    }
}

//  --------------------------------------------------------------------------
//  Parse a whole file.

int
scenario_parse (scenario_t *self, const char *text, size_t size,
                char *error, size_t error_size)
{
    if (size > SCN_TEXT_MAX)
        return s_error (error, error_size, 0, "file larger than %d bytes", SCN_TEXT_MAX);
    char *buffer = (char *) malloc (SCN_LINE_MAX + 1);
    if (!buffer)
        return s_error (error, error_size, 0, "out of memory");
    size_t capacity = 0;
    uint32_t number = 0;
    size_t offset = 0;
    int rc = 0;
    while (offset < size && rc == 0) {
        size_t end = offset;
        while (end < size && text [end] != '\n')
            end++;
        number++;
        if (number > SCN_LINES_MAX) {
            rc = s_error (error, error_size, number, "more than %d lines", SCN_LINES_MAX);
            break;
        }
        size_t length = end - offset;
        if (length && text [offset + length - 1] == '\r')
            length--;
        if (length > SCN_LINE_MAX) {
            rc = s_error (error, error_size, number, "longer than %d bytes", SCN_LINE_MAX);
            break;
        }
        memcpy (buffer, text + offset, length);
        buffer [length] = 0;
        offset = end + 1;
        if (memchr (buffer, 0, length)) {
            rc = s_error (error, error_size, number, "NUL byte");
            break;
        }
        //  A twin patch may hold '#' and spaces: keep the raw rest of line
        char *raw_twin = NULL;
        {
            char *at = buffer;
            while (*at == ' ' || *at == '\t')
                at++;
            if (strncmp (at, "at ", 3) == 0) {
                char *twin = strstr (at, " twin ");
                char *brace = twin? strchr (twin, '{'): NULL;
                if (brace) {
                    raw_twin = strdup (brace);
                    if (!raw_twin) {
                        rc = s_error (error, error_size, number, "out of memory");
                        break;
                    }
                    *brace = 0;     //  Split only what comes before
                }
            }
        }
        s_line_t line;
        if (s_split (buffer, &line)) {
            free (raw_twin);
            rc = s_error (error, error_size, number, "more than %d words", SCN_WORDS_MAX);
            break;
        }
        if (line.count == 0) {
            free (raw_twin);
            continue;
        }
        const char *word = line.words [0];
        const char *arg = line.count > 1? line.words [1]: "";
        uint64_t value = 0;
        bool ok = true;
        if (strcmp (word, "at") == 0) {
            if (self->nactions == SCN_ACTIONS_MAX) {
                free (raw_twin);
                rc = s_error (error, error_size, number, "more than %d actions",
                              SCN_ACTIONS_MAX);
                break;
            }
            if (self->nactions == capacity) {
                size_t grow = capacity? capacity * 2: 16;
                scn_action_t *actions = (scn_action_t *) realloc (self->actions,
                                                                 grow * sizeof *actions);
                if (!actions) {
                    free (raw_twin);
                    rc = s_error (error, error_size, number, "out of memory");
                    break;
                }
                self->actions = actions;
                capacity = grow;
            }
            scn_action_t *action = &self->actions [self->nactions];
            memset (action, 0, sizeof *action);
            action->line = number;
            ok = s_action (action, &line, raw_twin) == 0;
            if (ok)
                self->nactions++;
            else
                free (action->doc);
        }
        else
        if (strcmp (word, "name") == 0 && line.count == 2)
            snprintf (self->name, sizeof self->name, "%s", arg);
        else
        if (strcmp (word, "nodes") == 0 && line.count == 2)
            ok = s_uint (arg, SCN_NODES_MAX, &value) == 0 && value > 0
              && (self->nodes = (uint32_t) value);
        else
        if (strcmp (word, "sites") == 0 && line.count == 2)
            ok = s_uint (arg, SCN_SITES_MAX, &value) == 0 && value > 0
              && (self->sites = (uint32_t) value);
        else
        if (strcmp (word, "seed") == 0 && line.count == 2)
            ok = s_uint (arg, UINT64_MAX, &self->seed) == 0;
        else
        if (strcmp (word, "duration") == 0 && line.count == 2)
            ok = scenario_duration (arg, &self->duration_ms) == 0;
        else
        if (strcmp (word, "settle") == 0 && line.count == 2)
            ok = scenario_duration (arg, &self->settle_ms) == 0;
        else
        if (strcmp (word, "heartbeat") == 0 && line.count == 2)
            ok = scenario_duration (arg, &self->heartbeat_ms) == 0 && self->heartbeat_ms >= 100;
        else
        if (strcmp (word, "apply") == 0 && line.count == 2)
            ok = scenario_duration (arg, &self->apply_ms) == 0;
        else
        if (strcmp (word, "tpm") == 0 && line.count == 2)
            ok = scenario_duration (arg, &self->tpm_ms) == 0;
        else
        if (strcmp (word, "sample") == 0 && line.count == 2)
            ok = scenario_duration (arg, &self->sample_ms) == 0 && self->sample_ms >= 10;
        else
        if (strcmp (word, "twin_rate") == 0 && line.count == 2)
            ok = s_uint (arg, 10000000, &value) == 0 && ((self->twin_rate = (uint32_t) value), 1);
        else
        if (strcmp (word, "topology") == 0 && line.count >= 2) {
            const char *kinds [] = { "star", "line", "ring", "grid" };
            ok = false;
            for (int k = 0; k < 4; k++)
                if (strcmp (arg, kinds [k]) == 0) {
                    self->topology = k;
                    ok = true;
                }
            for (size_t i = 2; ok && i < line.count; i++) {
                const char *param;
                if ((param = s_param (line.words [i], "depth")))
                    ok = s_uint (param, SCN_DEPTH_MAX, &value) == 0 && value >= 1
                      && ((self->depth = (uint32_t) value), 1);
                else
                if ((param = s_param (line.words [i], "cross")))
                    ok = s_fraction (param, &self->cross) == 0;
                else
                    ok = false;
            }
            if (ok && self->topology == SCN_STAR)
                self->depth = 1;
        }
        else
        if (strcmp (word, "lan") == 0)
            ok = s_link (&self->lan, &line) == 0;
        else
        if (strcmp (word, "uplink") == 0)
            ok = s_link (&self->uplink, &line) == 0;
        else
        if (strcmp (word, "faults") == 0 && line.count >= 2) {
            ok = s_uint (arg, SCN_FAULTS_MAX, &value) == 0;
            self->faults = (uint32_t) value;
            for (size_t i = 2; ok && i < line.count; i++) {
                const char *param;
                if ((param = s_param (line.words [i], "from")))
                    ok = scenario_duration (param, &self->faults_from_ms) == 0;
                else
                if ((param = s_param (line.words [i], "to")))
                    ok = scenario_duration (param, &self->faults_to_ms) == 0;
                else
                if ((param = s_param (line.words [i], "max")))
                    ok = scenario_duration (param, &self->fault_max_ms) == 0
                      && self->fault_max_ms > 0;
                else
                    ok = false;
            }
            ok = ok && self->faults_from_ms <= self->faults_to_ms;
        }
        else
        if (strcmp (word, "release") == 0) {
            self->release = true;
            self->release_size = 1000000;
            for (size_t i = 1; ok && i < line.count; i++) {
                const char *param;
                if ((param = s_param (line.words [i], "size")))
                    ok = s_bandwidth (param, &value) == 0 && value >= 1
                      && value <= SCN_RELEASE_MAX && ((self->release_size = value), 1);
                else
                if ((param = s_param (line.words [i], "fail")))
                    ok = s_uint (param, SCN_RELEASE_FAIL_MAX, &value) == 0
                      && ((self->release_fail = (uint32_t) value), 1);
                else
                if ((param = s_param (line.words [i], "fail-at")))
                    ok = s_uint (param, SCN_NODES_MAX, &value) == 0 && value >= 1
                      && ((self->release_fail_at = (uint32_t) value), 1);
                else
                    ok = false;
            }
        }
        else
        if (strcmp (word, "attest") == 0) {
            self->attest = true;
            for (size_t i = 1; ok && i < line.count; i++) {
                const char *param;
                if ((param = s_param (line.words [i], "bad")))
                    ok = s_uint (param, SCN_BAD_MAX, &value) == 0
                      && ((self->attest_bad = (uint32_t) value), 1);
                else
                if ((param = s_param (line.words [i], "tenants")))
                    ok = s_uint (param, 2, &value) == 0 && value >= 1
                      && ((self->attest_tenants = (uint32_t) value), 1);
                else
                if ((param = s_param (line.words [i], "interval")))
                    //  Whole seconds, as the profile's interval_s
                    ok = scenario_duration (param, &self->attest_interval_ms) == 0
                      && self->attest_interval_ms >= 1000
                      && self->attest_interval_ms <= 30ULL * 24 * 3600 * 1000
                      && self->attest_interval_ms % 1000 == 0;
                else
                if ((param = s_param (line.words [i], "quote")))
                    ok = scenario_duration (param, &self->quote_ms) == 0;
                else
                    ok = false;
            }
        }
        else
            ok = false;
        free (raw_twin);
        if (!ok)
            rc = s_error (error, error_size, number, "cannot read '%s'", word);
    }
    free (buffer);
    if (rc)
        scenario_free (self);
    else
        s_sort (self);
    return rc;
}
