/*  ctl_campaign - weftctl's commands of release campaigns
    campaign create --query Q NAME VERSION --waves 1,3,100% [--threshold N|P%] [--success N|P%]
                    [--device-timeout 1h] [--rate N] [--concurrency N] [--soak 1h]
                    [--allow-empty] [--dynamic [--join-every 1m]] [--not-excludable]
                    [--at-sites]
    campaign create --query Q --patch JSON --waves ...   a configuration instead
    campaign show ID [--limit N] [--sites] [--watch [SECONDS]]
                                       the campaign, counts per state and wave
                                       (--sites: and per site); --watch renders
                                       it again every SECONDS
    campaign list [--limit N]          the campaigns you may see
    campaign start|pause|resume|abort|retry|revert ID
    campaign exclude ID --tenant T     an admin's tenant out of a campaign of several
    The plan's sizes travel as the texts typed ("1", "10%"): the
    coordinator resolves them over the devices that fit (docs/campaigns.md).  */

#include <czmq.h>
#include "tools/ctl.h"

#define S_TIMEOUT_MAX   (7 * 24 * 3600)     //  As the coordinator (CAMPAIGN_TIMEOUT_MAX_S)
#define S_JOIN_MAX      (24 * 3600)         //  As the coordinator (CAMPAIGN_JOIN_MAX_S)

#define S_WATCH_MAX     3600                //  Seconds between two renders, at most
#define S_SITES_SHOWN   20                  //  Sites show --sites asks for

static const char *s_moves [] = { "start", "pause", "resume", "abort", "retry", "revert",
                                  NULL };

//  --watch's seconds (the word after the campaign's id), or -1
static int
s_watch_s (const char *text)
{
    char *end;
    long value = strtol (text, &end, 10);
    return *text && !*end && value >= 1 && value <= S_WATCH_MAX? (int) value: -1;
}

//  The create command's args, or NULL after printing why
static json_t *
s_create_args (ctl_t *self, const char *name, const char *version)
{
    const char *query = keyfile_get (self->options, "query");
    const char *waves = keyfile_get (self->options, "waves");
    const char *threshold = keyfile_get (self->options, "threshold");
    const char *timeout = keyfile_get (self->options, "device-timeout");
    if (!query || !waves) {
        ctl_fail ("campaign create needs --query Q and --waves, e.g. --waves 1,3,100%%");
        return NULL;
    }
    int64_t timeout_s = timeout? options_duration_s (timeout, S_TIMEOUT_MAX): 0;
    if (timeout_s < 0) {
        ctl_fail ("bad --device-timeout '%s': use seconds or a number with s, m, h or d, "
                  "up to 7d", timeout);
        return NULL;
    }
    json_t *list = json_array ();
    char *copy = strdup (waves);
    char *saved = NULL;
    for (char *size = strtok_r (copy, ",", &saved); size; size = strtok_r (NULL, ",", &saved))
        json_array_append_new (list, json_string (size));
    free (copy);
    json_t *args = json_pack ("{s:s, s:o, s:b, s:b}", "query", query, "waves", list,
                              "allow_empty", options_flag (self->options, "allow-empty"),
                              "dynamic", options_flag (self->options, "dynamic"));
    if (options_flag (self->options, "not-excludable"))
        json_object_set_new (args, "excludable", json_false ());
    if (options_flag (self->options, "at-sites"))
        json_object_set_new (args, "at_sites", json_true ());
    if (name)
        json_object_set_new (args, "name", json_string (name));
    if (version)
        json_object_set_new (args, "version", json_string (version));
    if (threshold)
        json_object_set_new (args, "threshold", json_string (threshold));
    const char *success = keyfile_get (self->options, "success");
    if (success)
        json_object_set_new (args, "success", json_string (success));
    if (timeout_s)
        json_object_set_new (args, "timeout", json_integer (timeout_s));
    //  The pace: counts as typed (the coordinator says what is too many)
    const char *counts [] = { "rate", "concurrency", NULL };
    for (size_t index = 0; counts [index]; index++) {
        const char *text = keyfile_get (self->options, counts [index]);
        int64_t value = options_int (self->options, counts [index], -1);
        if (text && value < 1) {
            ctl_fail ("bad --%s '%s': want a number of devices, 1 or more", counts [index],
                      text);
            json_decref (args);
            return NULL;
        }
        if (text)
            json_object_set_new (args, counts [index], json_integer (value));
    }
    const char *soak = keyfile_get (self->options, "soak");
    int64_t soak_s = soak? options_duration_s (soak, S_TIMEOUT_MAX): 0;
    if (soak_s < 0 || (soak && soak_s == 0)) {
        ctl_fail ("bad --soak '%s': use seconds or a number with s, m, h or d, up to 7d",
                  soak);
        json_decref (args);
        return NULL;
    }
    if (soak_s)
        json_object_set_new (args, "soak", json_integer (soak_s));
    const char *join = keyfile_get (self->options, "join-every");
    int64_t join_s = join? options_duration_s (join, S_JOIN_MAX): 0;
    if (join_s < 0 || (join && join_s == 0)) {
        ctl_fail ("bad --join-every '%s': use seconds or a number with s, m, h or d, up to 1d",
                  join);
        json_decref (args);
        return NULL;
    }
    if (join_s)
        json_object_set_new (args, "join_every", json_integer (join_s));
    return args;
}

int
ctl_parse_campaign (ctl_t *self, int argc, char **argv, const char **method_p,
                    json_t **args_p)
{
    const char *verb = argc > 1? argv [1]: "";
    const char *patch = keyfile_get (self->options, "patch");
    if (streq (verb, "create") && ((argc == 4 && !patch) || (argc == 2 && patch))) {
        *method_p = "campaign.create";
        *args_p = s_create_args (self, argc == 4? argv [2]: NULL, argc == 4? argv [3]: NULL);
        json_t *parsed = *args_p && patch? ctl_parse_patch (patch): NULL;
        if (*args_p && patch && !parsed) {
            json_decref (*args_p);
            *args_p = NULL;
        }
        if (parsed)
            json_object_set_new (*args_p, "patch", parsed);
        return *args_p? CTL_OK: CTL_USAGE;
    }
    if (streq (verb, "list") && argc == 2) {
        *method_p = "campaign.list";
        *args_p = json_object ();
        return ctl_limit_arg (self, args_p);
    }
    if (streq (verb, "exclude") && argc == 3) {
        const char *tenant = keyfile_get (self->options, "tenant");
        if (!tenant) {
            ctl_fail ("campaign exclude needs --tenant T (the tenant you are an admin of)");
            return CTL_USAGE;
        }
        *method_p = "campaign.exclude";
        *args_p = json_pack ("{s:s, s:s}", "id", argv [2], "tenant", tenant);
        return CTL_OK;
    }
    bool watch = options_flag (self->options, "watch");
    if (streq (verb, "show") && (argc == 3 || (argc == 4 && watch))) {
        if (argc == 4 && s_watch_s (argv [3]) < 0) {
            ctl_fail ("bad --watch '%s': want seconds between renders, 1 to %d", argv [3],
                      S_WATCH_MAX);
            return CTL_USAGE;
        }
        *method_p = "campaign.show";
        *args_p = json_pack ("{s:s}", "id", argv [2]);
        if (options_flag (self->options, "sites"))
            json_object_set_new (*args_p, "sites", json_integer (S_SITES_SHOWN));
        return ctl_limit_arg (self, args_p);
    }
    for (size_t index = 0; s_moves [index]; index++)
        if (streq (verb, s_moves [index]) && argc == 3) {
            static char method [32];
            snprintf (method, sizeof method, "campaign.%s", verb);
            *method_p = method;
            *args_p = json_pack ("{s:s}", "id", argv [2]);
            return CTL_OK;
        }
    return -1;
}

//  A device's states, in the order it moves through them: the table's
//  columns, each as wide as its name
static const char *s_states [] = { "pending", "offered", "downloading", "waiting-window",
                                   "installing", "succeeded", "failed", "rolled-back",
                                   "skipped", NULL };

static void
s_counts_header (const char *label, int width)
{
    printf ("%-*s", width, label);
    for (size_t index = 0; s_states [index]; index++)
        printf (" %7s", s_states [index]);
    printf ("\n");
}

//  One row: label (width wide), then the devices in each state of counts
static void
s_counts (const char *label, int width, json_t *counts)
{
    printf ("%-*s", width, label);
    for (size_t index = 0; s_states [index]; index++)
        printf (" %*lld", (int) (strlen (s_states [index]) > 7? strlen (s_states [index]): 7),
                (long long) ctl_int (counts, s_states [index]));
    printf ("\n");
}

//  --sites: a row per site, the busiest (most devices not yet ended)
//  first, then one for the sites left out
static void
s_sites (json_t *result)
{
    int width = 8;
    size_t index;
    json_t *row;
    json_t *sites = json_object_get (result, "site_counts");
    json_array_foreach (sites, index, row) {
        int length = (int) strlen (ctl_str (row, "site"));
        width = length > width? length: width;
    }
    width = width > 40? 40: width;
    json_t *rest = json_object_get (result, "sites_rest");
    char label [64];
    snprintf (label, sizeof label, "%lld other sites", (long long) ctl_int (rest, "sites"));
    if (ctl_int (rest, "sites") && (int) strlen (label) > width)
        width = (int) strlen (label);
    printf ("\n");
    s_counts_header ("site", width);
    json_array_foreach (sites, index, row)
        s_counts (ctl_str (row, "site"), width, json_object_get (row, "counts"));
    if (ctl_int (rest, "sites"))
        s_counts (label, width, json_object_get (rest, "counts"));
}

#define S_BAR_WIDTH     20

//  "progress   [#####---------------]  25%  ended 3 of 12 (2 succeeded,
//  1 failed)": of the devices in waves (the skipped are in none)
static void
s_progress (json_t *counts)
{
    long long succeeded = (long long) ctl_int (counts, "succeeded");
    long long failed = (long long) ctl_int (counts, "failed");
    long long rolled_back = (long long) ctl_int (counts, "rolled-back");
    long long skipped = (long long) ctl_int (counts, "skipped");
    long long ended = succeeded + failed + rolled_back, total = 0;
    for (size_t index = 0; s_states [index]; index++)
        total += (long long) ctl_int (counts, s_states [index]);
    total -= skipped;
    char bar [S_BAR_WIDTH + 1];
    long long filled = total > 0? ended * S_BAR_WIDTH / total: 0;
    for (long long index = 0; index < S_BAR_WIDTH; index++)
        bar [index] = index < filled? '#': '-';
    bar [S_BAR_WIDTH] = 0;
    printf ("progress   [%s] %3lld%%  ended %lld of %lld (%lld succeeded, %lld failed", bar,
            total > 0? ended * 100 / total: 0, ended, total, succeeded, failed);
    if (rolled_back)
        printf (", %lld rolled back", rolled_back);
    printf (")");
    if (skipped)
        printf ("; %lld skipped", skipped);
    printf ("\n");
}

//  --sites of a campaign run at the sites: each site's part, its last
//  directive and what the site last reported (and when, by our clock)
static void
s_site_runs (json_t *result)
{
    json_t *runs = json_object_get (result, "site_runs");
    if (!json_array_size (runs))
        return;
    printf ("%-24s %-16s %7s %-10s %-10s %5s %s\n", "RUN BY SITE", "SERVER", "DEVICES",
            "DIRECTIVE", "REPORTED", "WAVE", "LAST REPORT");
    size_t index;
    json_t *run;
    json_array_foreach (runs, index, run) {
        json_t *report = json_object_get (run, "report");
        char wave [24] = "-", when [48] = "none yet";
        if (report) {
            snprintf (wave, sizeof wave, "%lld", (long long) ctl_int (report, "wave") + 1);
            time_t at = (time_t) (ctl_int (report, "received_ms") / 1000);
            struct tm tm;
            gmtime_r (&at, &tm);
            strftime (when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
        }
        char directive [48];
        snprintf (directive, sizeof directive, "%s #%lld", ctl_str (run, "state"),
                  (long long) ctl_int (run, "generation"));
        //  A server that refused its directive never reports: its reason
        const char *refused = report? "": ctl_str (run, "refused");
        printf ("%-24s %-16s %7lld %-10s %-10s %5s %s%s%s\n", ctl_str (run, "site"),
                ctl_str (run, "server"), (long long) ctl_int (run, "devices"), directive,
                report? ctl_str (report, "state"): *refused? "refused": "-", wave,
                *refused? refused: when,
                report && *ctl_str (report, "reason")? ": ": "",
                report? ctl_str (report, "reason"): "");
    }
}

static void
s_show (json_t *result)
{
    char *patch = json_object_get (result, "patch")
                ? json_dumps (json_object_get (result, "patch"), JSON_COMPACT | JSON_SORT_KEYS)
                : NULL;
    if (patch)
        printf ("%s  %s  patch %s  tenants", ctl_str (result, "id"), ctl_str (result, "state"),
                patch);
    else
        printf ("%s  %s  %s %s  tenants", ctl_str (result, "id"), ctl_str (result, "state"),
                ctl_str (result, "name"), ctl_str (result, "version"));
    free (patch);
    size_t index;
    json_t *item;
    json_array_foreach (json_object_get (result, "tenants"), index, item)
        printf (" %s", json_string_value (item));
    printf ("\ntarget     %s%s\n", ctl_str (result, "query"),
            json_is_true (json_object_get (result, "dynamic"))? "  (dynamic: devices join)": "");
    if (json_is_true (json_object_get (result, "at_sites")))
        printf ("at sites   each site's server runs the waves of its devices\n");
    if (json_integer_value (json_object_get (result, "join_s")) > 0)
        printf ("joins      the query runs again every %" JSON_INTEGER_FORMAT " s\n",
                json_integer_value (json_object_get (result, "join_s")));
    printf ("plan      ");
    json_array_foreach (json_object_get (result, "waves"), index, item)
        printf (" %s", json_string_value (item));
    printf ("  (devices per wave:");
    json_array_foreach (json_object_get (result, "sizes"), index, item)
        printf (" %lld", (long long) json_integer_value (item));
    printf ("); halt at %lld failed (%s); per-device timeout %llds\n",
            (long long) ctl_int (result, "threshold_devices"), ctl_str (result, "threshold"),
            (long long) ctl_int (result, "timeout_s"));
    if (*ctl_str (result, "success"))
        printf ("success    the next wave starts when %s of a wave succeeded\n",
                ctl_str (result, "success"));
    long long wave = (long long) ctl_int (result, "wave");
    if (wave >= 0)
        printf ("wave       %lld of %zu\n", wave + 1,
                json_array_size (json_object_get (result, "sizes")));
    if (ctl_int (result, "rate") || ctl_int (result, "concurrency") || ctl_int (result, "soak_s"))
        printf ("pace       %lld devices a minute, %lld under way per site, soak %llds "
                "(0: no limit)\n", (long long) ctl_int (result, "rate"),
                (long long) ctl_int (result, "concurrency"),
                (long long) ctl_int (result, "soak_s"));
    if (*ctl_str (result, "reason"))
        printf ("%-10s %s\n", ctl_str (result, "state"), ctl_str (result, "reason"));
    if (json_is_object (json_object_get (result, "counts")))
        s_progress (json_object_get (result, "counts"));
    s_counts_header ("", 8);
    json_array_foreach (json_object_get (result, "wave_counts"), index, item) {
        char label [32];
        snprintf (label, sizeof label, "wave %zu", index + 1);
        s_counts (label, 8, item);
    }
    s_counts ("all", 8, json_object_get (result, "counts"));
    if (json_is_array (json_object_get (result, "site_counts")))
        s_sites (result);
    if (json_is_array (json_object_get (result, "site_counts")))
        s_site_runs (result);
    json_t *reverts = json_object_get (result, "revert_counts");
    if (reverts) {
        //  A configuration undone: its devices' revert states, its wave
        printf ("revert     wave %lld of %zu:", (long long) ctl_int (result, "revert_wave") + 1,
                json_array_size (json_object_get (result, "sizes")));
        const char *states [] = { "pending", "offered", "succeeded", "failed", "skipped", NULL };
        for (size_t at = 0; states [at]; at++)
            printf (" %s %lld", states [at], (long long) ctl_int (reverts, states [at]));
        printf ("\n");
    }
    json_array_foreach (json_object_get (result, "device_rows"), index, item) {
        if (*ctl_str (item, "reason"))
            printf ("%s %s: %s\n", ctl_str (item, "id"), ctl_str (item, "state"),
                    ctl_str (item, "reason"));
        if (*ctl_str (item, "revert_reason"))
            printf ("%s revert %s: %s\n", ctl_str (item, "id"), ctl_str (item, "revert"),
                    ctl_str (item, "revert_reason"));
    }
}

bool
ctl_show_campaign (const char *method, json_t *result)
{
    if (streq (method, "campaign.create") || streq (method, "campaign.show")) {
        s_show (result);
        size_t index;
        json_t *item;
        json_array_foreach (json_object_get (result, "skipped_devices"), index, item)
            printf ("skipped %s: %s\n", ctl_str (item, "id"), ctl_str (item, "reason"));
        return true;
    }
    if (streq (method, "campaign.list")) {
        printf ("%-16s %-10s %-24s %-8s %s\n", "ID", "STATE", "RELEASE", "DEVICES", "TENANTS");
        size_t index, at;
        json_t *row, *tenant;
        json_array_foreach (json_object_get (result, "campaigns"), index, row) {
            char release [80];
            snprintf (release, sizeof release, "%s %s", ctl_str (row, "name"),
                      ctl_str (row, "version"));
            printf ("%-16s %-10s %-24s %-8lld", ctl_str (row, "id"), ctl_str (row, "state"),
                    release, (long long) ctl_int (row, "devices"));
            json_array_foreach (json_object_get (row, "tenants"), at, tenant)
                printf (" %s", json_string_value (tenant));
            printf ("\n");
        }
        if (json_is_true (json_object_get (result, "truncated")))
            printf ("(more campaigns: raise --limit)\n");
        return true;
    }
    if (streq (method, "campaign.exclude")) {
        printf ("%s: %s excluded, %lld pending devices skipped, %lld under way go on; "
                "the campaign is %s\n", ctl_str (result, "id"), ctl_str (result, "tenant"),
                (long long) ctl_int (result, "skipped"), (long long) ctl_int (result, "under_way"),
                ctl_str (result, "state"));
        return true;
    }
    if (strncmp (method, "campaign.", 9) == 0) {
        printf ("%s: %s -> %s", ctl_str (result, "id"), ctl_str (result, "from"),
                ctl_str (result, "state"));
        if (ctl_int (result, "offered") && !streq (method, "campaign.revert"))
            printf (", %lld devices offered the release", (long long) ctl_int (result, "offered"));
        //  Retried by their sites (campaign create --at-sites), none offered here
        if (ctl_int (result, "retried"))
            printf (ctl_int (result, "offered")? " (%lld of them failed before)"
                                               : ", %lld failed devices retried",
                    (long long) ctl_int (result, "retried"));
        if (ctl_int (result, "sites"))
            printf (", %lld site servers told (%lld devices run by their site)",
                    (long long) ctl_int (result, "sites"),
                    (long long) ctl_int (result, "site_devices"));
        if (streq (method, "campaign.revert"))
            printf (", %lld devices to revert, %lld given their previous values now, "
                    "%lld skipped", (long long) ctl_int (result, "devices"),
                    (long long) ctl_int (result, "offered"),
                    (long long) ctl_int (result, "skipped"));
        printf ("\n");
        return true;
    }
    return false;
}

//  --------------------------------------------------------------------------
//  campaign show ID --watch [SECONDS]: call campaign.show again every
//  SECONDS (default 2) and render it, until the campaign is finished or
//  aborted or the operator interrupts (SIGINT: exit 0). On a terminal
//  the screen is cleared between renders; elsewhere (a pipe, a file) a
//  separator line keeps every render.

int
ctl_campaign_watch (ctl_t *self, int argc, char **argv, json_t *args)
{
    int interval_s = argc == 4? s_watch_s (argv [3]): 2;
    assert (interval_s > 0);
    bool terminal = isatty (STDOUT_FILENO);
    int rc = CTL_OK;
    for (size_t renders = 0; !zsys_interrupted; renders++) {
        json_t *result = NULL;
        rc = ctl_call (self, "campaign.show", json_incref (args), &result);
        if (rc) {
            json_decref (result);
            break;
        }
        if (renders && terminal)
            printf ("\033[H\033[2J");
        else
        if (renders)
            printf ("----\n");
        if (self->json) {
            char *text = jsontext_dumps (result, JSON_INDENT (2) | JSON_SORT_KEYS);
            printf ("%s\n", text);
            free (text);
        }
        else
            ctl_show_campaign ("campaign.show", result);
        fflush (stdout);
        const char *state = ctl_str (result, "state");
        bool over = streq (state, "finished") || streq (state, "aborted");
        json_decref (result);
        if (over)
            break;
        //  Sleep in short steps, so an interrupt ends the wait at once
        for (int64_t until = zclock_mono () + interval_s * 1000;
             !zsys_interrupted && zclock_mono () < until; )
            zclock_sleep (100);
    }
    json_decref (args);
    //  An interrupt is how the operator stops watching: not a failure
    return zsys_interrupted? CTL_OK: rc;
}
