/*  ctl_release - weftctl's commands of software releases
    release root set --tenant T FILE    the tenant's signed release root
    release root show --tenant T        what the coordinator holds
    update assign DEVICE|--query Q NAME VERSION [--ttl 7d]
                                        offer a release to devices
    update status [DEVICE|--query Q]    what they were assigned and report
    update uninstall DEVICE|--query Q NAME
                                        order devices to remove software
    entitlement grant DEVICE|--query Q NAME --until T
                                        let devices run software until T
    The root file is the signed bytes as weft-artifact root and sign
    wrote them; it travels as hex in the call's args.  */

#include <czmq.h>
#include <time.h>
#include "tools/ctl.h"

#define S_ROOT_MAX      (64 * 1024)     //  As the coordinator (RELROOT_MAX)
#define S_ASSIGN_TTL_MAX    (90 * 24 * 3600)    //  As the coordinator (DIRECTOR_TTL_MAX_S)
#define S_UNTIL_MAX_S       (3650LL * 24 * 3600)    //  As the coordinator: ten years

int
ctl_parse_release (ctl_t *self, int argc, char **argv, const char **method_p,
                   json_t **args_p)
{
    const char *tenant = keyfile_get (self->options, "tenant");
    if (argc == 4 && streq (argv [1], "root") && streq (argv [2], "set")) {
        zfile_t *file = zfile_new (NULL, argv [3]);
        zchunk_t *chunk = file && zfile_input (file) == 0
                        ? zfile_read (file, S_ROOT_MAX + 1, 0): NULL;
        zfile_destroy (&file);
        if (!chunk || zchunk_size (chunk) == 0 || zchunk_size (chunk) > S_ROOT_MAX) {
            ctl_fail ("%s: cannot read it, or empty, or larger than %d bytes", argv [3],
                      S_ROOT_MAX);
            zchunk_destroy (&chunk);
            return CTL_USAGE;
        }
        char *hex = (char *) zmalloc (2 * zchunk_size (chunk) + 1);
        keys_hex (zchunk_data (chunk), zchunk_size (chunk), hex);
        zchunk_destroy (&chunk);
        *method_p = "release.root.set";
        *args_p = json_pack ("{s:s}", "root", hex);
        free (hex);
    }
    else
    if (argc == 3 && streq (argv [1], "root") && streq (argv [2], "show")) {
        *method_p = "release.root.show";
        *args_p = json_object ();
    }
    else
        return -1;
    if (tenant)
        json_object_set_new (*args_p, "tenant", json_string (tenant));
    return CTL_OK;
}

int
ctl_parse_update (ctl_t *self, int argc, char **argv, const char **method_p, json_t **args_p)
{
    const char *query = keyfile_get (self->options, "query");
    const char *verb = argc > 1? argv [1]: "";
    if (streq (verb, "status") && (argc == 2 || (argc == 3 && !query))) {
        *method_p = "update.status";
        *args_p = argc == 3? json_pack ("{s:s}", "id", argv [2]): json_object ();
        if (query)
            json_object_set_new (*args_p, "query", json_string (query));
        return ctl_limit_arg (self, args_p);
    }
    if (streq (verb, "uninstall") && argc == (query? 3: 4)) {
        *method_p = "update.uninstall";
        *args_p = json_pack ("{s:s}", "name", argv [argc - 1]);
        if (query)
            json_object_set_new (*args_p, "query", json_string (query));
        else
            json_object_set_new (*args_p, "id", json_string (argv [2]));
        return CTL_OK;
    }
    if (!streq (verb, "assign") || argc != (query? 4: 5))
        return -1;
    const char *ttl_text = keyfile_get (self->options, "ttl");
    int64_t ttl = ttl_text? options_duration_s (ttl_text, S_ASSIGN_TTL_MAX): 0;
    if (ttl < 0) {
        ctl_fail ("bad --ttl '%s': use seconds or a number with s, m, h or d, up to 90d",
                  ttl_text);
        return CTL_USAGE;
    }
    *method_p = "update.assign";
    *args_p = json_pack ("{s:s, s:s}", "name", argv [argc - 2], "version", argv [argc - 1]);
    if (query)
        json_object_set_new (*args_p, "query", json_string (query));
    else
        json_object_set_new (*args_p, "id", json_string (argv [2]));
    if (ttl)
        json_object_set_new (*args_p, "ttl", json_integer (ttl));
    return CTL_OK;
}

//  --until: "now", a duration from now (30d), or a UTC time
//  (2027-01-31 or 2027-01-31T12:00:00Z). Unix ms, or -1.
static int64_t
s_until_ms (const char *text)
{
    int64_t now_ms = (int64_t) time (NULL) * 1000;
    if (streq (text, "now"))
        return now_ms;
    int64_t duration = options_duration_s (text, S_UNTIL_MAX_S);
    if (duration > 0)
        return now_ms + duration * 1000;
    struct tm tm;
    memset (&tm, 0, sizeof tm);
    const char *end = strptime (text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end) {
        memset (&tm, 0, sizeof tm);
        end = strptime (text, "%Y-%m-%d", &tm);
    }
    if (!end || *end)
        return -1;
    int64_t when_ms = (int64_t) timegm (&tm) * 1000;
    return when_ms > 0 && when_ms <= now_ms + S_UNTIL_MAX_S * 1000? when_ms: -1;
}

int
ctl_parse_entitlement (ctl_t *self, int argc, char **argv, const char **method_p,
                       json_t **args_p)
{
    const char *query = keyfile_get (self->options, "query");
    const char *until = keyfile_get (self->options, "until");
    if (argc != (query? 3: 4) || !streq (argv [1], "grant"))
        return -1;
    int64_t until_ms = until? s_until_ms (until): -1;
    if (until_ms < 0) {
        ctl_fail ("entitlement grant needs --until: now, a duration (30d) or a UTC time "
                  "(2027-01-31, 2027-01-31T12:00:00Z), at most ten years ahead");
        return CTL_USAGE;
    }
    *method_p = "entitlement.grant";
    *args_p = json_pack ("{s:s, s:I}", "name", argv [argc - 1], "until", (json_int_t) until_ms);
    if (query)
        json_object_set_new (*args_p, "query", json_string (query));
    else
        json_object_set_new (*args_p, "id", json_string (argv [2]));
    return CTL_OK;
}

static void
s_time (int64_t ms, char *buf, size_t size)
{
    time_t when = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r (&when, &tm);
    strftime (buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

bool
ctl_show_release (const char *method, json_t *result)
{
    char when [64];
    if (streq (method, "release.root.set")) {
        s_time (ctl_int (result, "expires_ms"), when, sizeof when);
        printf ("release root of %s: version %lld, expires %s, %s\n",
                ctl_str (result, "tenant"), (long long) ctl_int (result, "version"), when,
                json_is_true (json_object_get (result, "changed"))? "stored"
                                                                   : "unchanged (already set)");
        return true;
    }
    if (streq (method, "update.assign")) {
        s_time (ctl_int (result, "expires_ms"), when, sizeof when);
        size_t index;
        json_t *item;
        json_t *assigned = json_object_get (result, "assigned");
        printf ("%s %s of tenant %s offered to %zu devices (assignment expires %s):",
                ctl_str (result, "name"), ctl_str (result, "version"), ctl_str (result, "tenant"),
                json_array_size (assigned), when);
        json_array_foreach (assigned, index, item)
            printf (" %s", json_string_value (item));
        printf ("\n");
        json_array_foreach (json_object_get (result, "skipped"), index, item)
            printf ("skipped %s: %s\n", ctl_str (item, "id"), ctl_str (item, "reason"));
        return true;
    }
    if (streq (method, "update.uninstall") || streq (method, "entitlement.grant")) {
        bool grant = streq (method, "entitlement.grant");
        s_time (ctl_int (result, "until_ms"), when, sizeof when);
        json_t *devices = json_object_get (result, "devices");
        size_t count = json_array_size (devices);
        printf ("%s of tenant %s: ", ctl_str (result, "name"), ctl_str (result, "tenant"));
        if (grant)
            printf ("entitlement until %s", when);
        else
            printf ("uninstall order");
        printf (" sent to %zu device%s:", count, count == 1? "": "s");
        size_t index;
        json_t *item;
        json_array_foreach (devices, index, item)
            printf (" %s", json_string_value (item));
        printf ("\n");
        return true;
    }
    if (streq (method, "update.status")) {
        size_t index;
        json_t *row;
        printf ("%-24s %-20s %-12s %-20s %-16s %s\n", "DEVICE", "ASSIGNED", "STATE",
                "RUNNING", "PROGRESS", "ERROR OR WAITING");
        json_array_foreach (json_object_get (result, "devices"), index, row) {
            json_t *assigned = json_object_get (row, "assigned");
            json_t *software = json_object_get (row, "software");
            json_t *progress = json_object_get (software, "progress");
            char release [80] = "-", running [80] = "-", done [40] = "-";
            if (assigned)
                snprintf (release, sizeof release, "%s %s", ctl_str (assigned, "name"),
                          ctl_str (assigned, "version"));
            if (software)
                snprintf (running, sizeof running, "%s %s", ctl_str (software, "name"),
                          ctl_str (software, "version"));
            if (progress)
                snprintf (done, sizeof done, "%lld chunks, %lld B",
                          (long long) ctl_int (progress, "chunks"),
                          (long long) ctl_int (progress, "bytes"));
            //  A staged release outside its maintenance window says why
            const char *why = ctl_str (software, "error");
            char waiting [256];
            if (!*why && *ctl_str (software, "waiting")) {
                snprintf (waiting, sizeof waiting, "waiting: %s", ctl_str (software, "waiting"));
                why = waiting;
            }
            printf ("%-24s %-20s %-12s %-20s %-16s %s\n", ctl_str (row, "id"), release,
                    software? ctl_str (software, "state"): "-", running, done, why);
        }
        if (json_is_true (json_object_get (result, "truncated")))
            printf ("(more devices: narrow the query or raise --limit)\n");
        return true;
    }
    if (streq (method, "release.root.show")) {
        s_time (ctl_int (result, "expires_ms"), when, sizeof when);
        printf ("tenant     %s\nversion    %lld\nexpires    %s\nhash       %s\nversions  ",
                ctl_str (result, "tenant"), (long long) ctl_int (result, "version"), when,
                ctl_str (result, "hash"));
        size_t index;
        json_t *item;
        json_array_foreach (json_object_get (result, "versions"), index, item)
            printf (" %lld", (long long) json_integer_value (item));
        printf ("\n");
        const char *roles [] = { "root", "targets", "snapshot", "timestamp" };
        for (size_t i = 0; i < 4; i++) {
            json_t *role = json_object_get (json_object_get (result, "roles"), roles [i]);
            json_t *keys = json_object_get (role, "keys");
            printf ("%-10s %lld of %zu:", roles [i], (long long) ctl_int (role, "threshold"),
                    json_array_size (keys));
            json_array_foreach (keys, index, item)
                printf (" %.16s", json_string_value (item));
            printf ("\n");
        }
        printf ("signed by ");
        json_array_foreach (json_object_get (result, "signed_by"), index, item)
            printf (" %.16s", json_string_value (item));
        printf ("\n");
        return true;
    }
    return false;
}
