/*  sitecamp_test - selftest of a site's campaign over a real LMDB store
    and a simulated clock: directives taken and refused, waves in order
    within concurrency, soak, success_pct, timeouts, the local halt, a
    retry re-arming failed devices, pause, resume and abort, a restart
    resuming from the store, and every outcome reported once in
    batches.  */

#include "proto/corelib.h"
#include "proto/bundle.h"
#include "proto/keys.h"
#include "proto/release.h"
#include "proto/sitemsg.h"
#include "node/core/update.h"
#include "node/core/sitecamp.h"

#define T_NOW   1767225600000ULL

typedef struct {
    char dir [64];
    store_t *store;
    sitecamp_t *camp;
    keys_t coord;
    uint64_t now;
    //  What went out
    char offers [64][WEFT_NAME_MAX + 1];
    size_t offer_count;
    bool offers_fail;
    size_t reports;
    int last_state;
    char last_reason [WEFT_TEXT_MAX + 1];
    //  Outcomes seen: device, state (each pair at most once)
    char seen_device [256][WEFT_NAME_MAX + 1];
    int seen_state [256];
    char seen_reason [256][WEFT_TEXT_MAX + 1];
    size_t seen_count;
    uint32_t success_pct, soak_s;       //  Of the next directives
    uint32_t concurrency;
    //  Batches: outcomes counted only (many devices)
    bool count_only;
    bool reports_fail;                  //  Reports not queued (outbox full)
    size_t outcomes, batch_max;
    uint64_t sent_ms;                   //  The last report's sent_ms
    uint64_t gap_min;                   //  Least time between two reports
} t_site_t;

static const uint8_t s_common [] = "weftbnd1\x05\x00\x00\x00\x02{}";
#define S_COMMON_SIZE (sizeof s_common - 1)     //  Without the NUL

static int
s_offer (void *ctx, const char *device, const uint8_t *metadata, size_t size)
{
    t_site_t *t = (t_site_t *) ctx;
    if (t->offers_fail)
        return -1;
    if (t->count_only)
        return 0;
    //  The offer is the common bytes, the device's assignment, the end
    const uint8_t *body;
    size_t body_size;
    assert (memcmp (metadata, s_common, S_COMMON_SIZE) == 0);
    assert (bundle_find (metadata, size, BUNDLE_ASSIGNMENT, &body, &body_size) == 0);
    release_assignment_t opened;
    assert (release_assignment_open (&opened, body, body_size, t->coord.sign_public) == 0);
    assert (streq (opened.device, device));
    assert (t->offer_count < 64);
    snprintf (t->offers [t->offer_count++], WEFT_NAME_MAX + 1, "%s", device);
    return 0;
}

static int
s_report (void *ctx, const uint8_t *payload, size_t size)
{
    t_site_t *t = (t_site_t *) ctx;
    sitemsg_t msg;
    assert (sitemsg_decode (&msg, MSG_SITE_REPORT, payload, size) == 0);
    if (t->count_only && !streq (msg.campaign, "c-5"))
        return 0;                   //  Batches are counted of c-5 only
    if (t->reports_fail)
        return -1;
    t->reports++;
    t->last_state = (int) msg.state;
    if (t->sent_ms && (t->gap_min == 0 || msg.sent_ms - t->sent_ms < t->gap_min))
        t->gap_min = msg.sent_ms - t->sent_ms;
    t->sent_ms = msg.sent_ms;
    snprintf (t->last_reason, sizeof t->last_reason, "%s", msg.reason);
    const uint8_t *at = msg.entries;
    size_t left = msg.entries_size;
    sitemsg_outcome_t outcome;
    size_t batch = 0;
    while (t->count_only && sitemsg_next_outcome (&at, &left, &outcome) == 1)
        batch++;
    t->outcomes += batch;
    if (batch > t->batch_max)
        t->batch_max = batch;
    while (!t->count_only && sitemsg_next_outcome (&at, &left, &outcome) == 1) {
        for (size_t i = 0; i < t->seen_count; i++)
            if (streq (t->seen_device [i], outcome.device) && t->seen_state [i] == outcome.state) {
                fprintf (stderr, "DUP %s %d at %zu\n", outcome.device, outcome.state, t->reports);
                assert (false);
            }
        assert (t->seen_count < 256);
        snprintf (t->seen_device [t->seen_count], WEFT_NAME_MAX + 1, "%s", outcome.device);
        snprintf (t->seen_reason [t->seen_count], WEFT_TEXT_MAX + 1, "%s", outcome.reason);
        t->seen_state [t->seen_count++] = outcome.state;
    }
    return 0;
}

static int s_fetches = 0;
static void
s_release (void *ctx, const uint8_t *common, size_t size)
{
    (void) ctx;
    assert (size == S_COMMON_SIZE && memcmp (common, s_common, size) == 0);
    s_fetches++;
}

static void
s_open (t_site_t *t)
{
    sitecamp_config_t config = { .name = "server-1", .tenant = "acme",
                                 .coord_sign = t->coord.sign_public, .store = t->store,
                                 .prefix = "" };
    sitecamp_effects_t effects = { t, s_offer, s_report, s_release };
    t->camp = sitecamp_new (&config, &effects, t->now);
    assert (t->camp);
}

//  Was this outcome reported? Its reason, or NULL
static const char *
s_reason (t_site_t *t, const char *device, int state)
{
    for (size_t i = 0; i < t->seen_count; i++)
        if (streq (t->seen_device [i], device) && t->seen_state [i] == state)
            return t->seen_reason [i];
    return NULL;
}

static bool
s_seen (t_site_t *t, const char *device, int state)
{
    return s_reason (t, device, state) != NULL;
}

static bool
s_offered (t_site_t *t, const char *device)
{
    for (size_t i = 0; i < t->offer_count; i++)
        if (streq (t->offers [i], device))
            return true;
    return false;
}

//  A device re-armed by a retry: its outcomes start again
static void
s_forget (t_site_t *t, const char *device)
{
    size_t kept = 0;
    for (size_t i = 0; i < t->seen_count; i++)
        if (!streq (t->seen_device [i], device)) {
            memmove (t->seen_device [kept], t->seen_device [i], WEFT_NAME_MAX + 1);
            memmove (t->seen_reason [kept], t->seen_reason [i], WEFT_TEXT_MAX + 1);
            t->seen_state [kept++] = t->seen_state [i];
        }
    t->seen_count = kept;
}

//  Run the clock to until, ticking at every deadline
static void
s_run (t_site_t *t, uint64_t until)
{
    sitecamp_tick (t->camp, t->now);
    while (true) {
        uint64_t due = sitecamp_deadline (t->camp);
        if (due == 0 || due > until)
            break;
        t->now = due > t->now? due: t->now;
        sitecamp_tick (t->camp, t->now);
    }
    t->now = until;
    sitecamp_tick (t->camp, t->now);
}

//  A directive: devices "name:wave" separated by spaces (NULL: none)
static int
s_directive (t_site_t *t, const char *campaign, uint64_t generation, int state,
             const char *tenant, const char *devices, uint64_t issued_ms, char *reason)
{
    uint8_t *entries = NULL;
    size_t entries_size = 0;
    uint8_t *assignments [16];
    size_t count = 0;
    char list [256];
    snprintf (list, sizeof list, "%s", devices? devices: "");
    for (char *item = strtok (list, " "); item; item = strtok (NULL, " ")) {
        char *colon = strchr (item, ':');
        *colon = 0;
        release_assignment_t assignment = { .issued_ms = issued_ms,
                                            .expires_ms = issued_ms + 86400000ULL };
        snprintf (assignment.device, sizeof assignment.device, "%s", item);
        snprintf (assignment.tenant, sizeof assignment.tenant, "%s", tenant);
        strcpy (assignment.name, "gw-fw");
        strcpy (assignment.version, "2.0");
        size_t size;
        assert (release_assign (&assignment, t->coord.sign_secret, &assignments [count],
                                &size) == 0);
        sitemsg_device_t device = { .wave = (uint32_t) atoi (colon + 1),
                                    .assignment = assignments [count], .assignment_size = size };
        snprintf (device.device, sizeof device.device, "%s", item);
        assert (sitemsg_put_device (&entries, &entries_size, &device) == 0);
        count++;
    }
    sitemsg_t msg = { .type = MSG_SITE_DIRECTIVE, .generation = generation,
                      .state = (uint32_t) state, .threshold = 2,
                      .success_pct = t->success_pct, .soak_s = t->soak_s,
                      .concurrency = t->concurrency, .timeout_s = 60,
                      .common = count? s_common: NULL, .common_size = count? S_COMMON_SIZE: 0,
                      .entries = entries, .entries_size = entries_size };
    snprintf (msg.campaign, sizeof msg.campaign, "%s", campaign);
    strcpy (msg.site, "plant-1");
    snprintf (msg.tenant, sizeof msg.tenant, "%s", tenant);
    strcpy (msg.name, "gw-fw");
    strcpy (msg.version, "2.0");
    uint8_t *payload;
    size_t size;
    assert (sitemsg_encode (&msg, &payload, &size) == 0);
    int status = sitecamp_directive (t->camp, "coordinator", payload, size, t->now, reason);
    free (payload);
    free (entries);
    for (size_t i = 0; i < count; i++)
        free (assignments [i]);
    return status;
}

//  A device's reported software
static void
s_soft (t_site_t *t, const char *device, const char *state, uint64_t assigned_ms)
{
    char json [256];
    snprintf (json, sizeof json, "{\"name\":\"gw-fw\",\"version\":\"2.0\",\"state\":\"%s\","
              "\"assigned_ms\":%" PRIu64 ",\"error\":\"health check failed\"}", state,
              assigned_ms);
    sitecamp_software (t->camp, device, json, strlen (json), t->now);
}

void
sitecamp_test (bool verbose)
{
    printf (" * sitecamp: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    t_site_t *t = (t_site_t *) zmalloc (sizeof (t_site_t));
    strcpy (t->dir, "/tmp/weft-sitecamp-XXXXXX");
    assert (mkdtemp (t->dir));
    const char *tables [] = { UPDATE_TABLE, NULL };
    t->store = store_new (t->dir, tables, 0);
    assert (t->store);
    uint8_t seed [32];
    memset (seed, 0xc0, sizeof seed);
    keys_from_seed (&t->coord, seed);
    t->now = T_NOW;
    t->soak_s = 10;
    t->concurrency = 2;
    s_open (t);
    char reason [WEFT_TEXT_MAX + 1];
    uint64_t issued = T_NOW - 1000;

    //  Refused: not from the coordinator, malformed, another tenant, an
    //  assignment that does not verify; nothing held after them
    assert (sitecamp_directive (t->camp, "gw-9", s_common, S_COMMON_SIZE, t->now, reason)
            == WEFT_STATUS_DENIED);
    assert (streq (reason, "a site directive comes from the coordinator only"));
    assert (sitecamp_directive (t->camp, "coordinator", s_common, S_COMMON_SIZE, t->now,
                                reason) == WEFT_STATUS_BAD_REQUEST);
    assert (streq (reason, "SITE_DIRECTIVE malformed"));
    assert (s_directive (t, "c-1", 1, SITE_RUN, "globex", "d0:0", issued, reason)
            == WEFT_STATUS_DENIED);
    assert (streq (reason, "a directive of tenant globex for a server of acme"));
    keys_t stranger = t->coord;
    memset (seed, 0x11, sizeof seed);
    keys_from_seed (&t->coord, seed);
    assert (s_directive (t, "c-1", 1, SITE_RUN, "acme", "d0:0", issued, reason)
            == WEFT_STATUS_DENIED);
    t->coord = stranger;
    assert (sitecamp_state (t->camp, "c-1", NULL, NULL, NULL) == -1);
    assert (sitecamp_deadline (t->camp) == 0 && !sitecamp_holds (t->camp, "d0"));

    //  Waves 0: d0; 1: d1 d2 d3; 2: d4. Concurrency 2, soak 10 s,
    //  threshold 2, timeout 60 s
    assert (s_directive (t, "c-1", 1, SITE_RUN, "acme", "d0:0 d1:1 d2:1 d3:1 d4:2", issued,
                         reason) == WEFT_STATUS_OK);
    assert (s_fetches == 1);        //  The release is fetched for the site at once
    assert (sitecamp_holds (t->camp, "d0") && !sitecamp_holds (t->camp, "stranger"));
    //  The same generation again changes nothing
    assert (s_directive (t, "c-1", 1, SITE_PAUSE, "acme", NULL, issued, reason)
            == WEFT_STATUS_OK);
    s_run (t, t->now);
    assert (t->offer_count == 1 && streq (t->offers [0], "d0"));
    assert (sitecamp_device (t->camp, "c-1", "d1") == 0);
    //  d0 downloads, then commits: wave 0 is over, wave 1 after the soak
    t->now += 1000;
    s_soft (t, "d0", "downloading", issued);
    assert (sitecamp_device (t->camp, "c-1", "d0") == SITE_DEV_DOWNLOADING);
    s_soft (t, "d0", "committed", issued);
    s_run (t, t->now + 5000);
    assert (t->offer_count == 1);   //  Soaking
    s_run (t, t->now + 6000);
    assert (t->offer_count == 3 && s_offered (t, "d1") && s_offered (t, "d2"));
    assert (!s_offered (t, "d3"));  //  Concurrency 2
    //  The outcomes so far were reported, in batches
    assert (s_seen (t, "d0", SITE_DEV_OFFERED) && s_seen (t, "d0", SITE_DEV_SUCCEEDED));
    //  A report of another assignment or release changes nothing; a
    //  device not in the campaign is ignored
    s_soft (t, "d1", "committed", issued + 1);
    s_soft (t, "stranger", "committed", issued);
    assert (sitecamp_device (t->camp, "c-1", "d1") == SITE_DEV_OFFERED);
    s_soft (t, "d1", "committed", issued);
    s_run (t, t->now + 1);
    assert (t->offer_count == 4 && s_offered (t, "d3"));
    //  d2 says nothing: timed out 60 s after its offer; d3 rolls back:
    //  the threshold (2) halts the site, d4 is never offered
    s_run (t, t->now + 30000);
    s_soft (t, "d3", "rolled-back", issued);
    s_run (t, t->now + 40000);
    uint32_t wave, failed, under_way;
    assert (sitecamp_state (t->camp, "c-1", &wave, &failed, &under_way) == SITE_HALTED);
    assert (wave == 1 && failed == 2 && under_way == 0);
    s_run (t, t->now + 60000);
    assert (!s_offered (t, "d4") && t->offer_count == 4);
    assert (t->last_state == SITE_HALTED
            && streq (t->last_reason, "2 devices failed: the threshold is 2"));
    assert (streq (s_reason (t, "d2", SITE_DEV_FAILED), "timed out: offered after 60 s"));
    assert (streq (s_reason (t, "d3", SITE_DEV_ROLLED_BACK), "health check failed"));
    assert (sitecamp_device (t->camp, "c-1", "d2") == SITE_DEV_FAILED);

    //  Retry: d2 and d3 re-armed with new assignments, the site runs again
    uint64_t reissued = t->now;
    s_forget (t, "d2");
    s_forget (t, "d3");
    size_t seen_before = t->seen_count;
    assert (s_directive (t, "c-1", 2, SITE_RUN, "acme", "d0:0 d2:1 d3:1", reissued, reason)
            == WEFT_STATUS_OK);
    assert (sitecamp_device (t->camp, "c-1", "d0") == SITE_DEV_SUCCEEDED);
    s_run (t, t->now + 1);
    assert (sitecamp_state (t->camp, "c-1", NULL, &failed, NULL) == SITE_RUNNING);
    assert (failed == 0 && t->offer_count == 6);
    s_soft (t, "d2", "committed", issued);      //  The old assignment: ignored
    assert (sitecamp_device (t->camp, "c-1", "d2") == SITE_DEV_OFFERED);
    s_soft (t, "d2", "committed", reissued);
    s_soft (t, "d3", "committed", reissued);
    s_run (t, t->now + 2000);
    assert (t->seen_count > seen_before && s_seen (t, "d2", SITE_DEV_SUCCEEDED));

    //  A restart: what the store holds resumes (the soak, then wave 2)
    sitecamp_destroy (&t->camp);
    s_open (t);
    s_run (t, t->now + 11000);
    assert (s_offered (t, "d4"));
    sitecamp_destroy (&t->camp);
    s_open (t);
    assert (sitecamp_holds (t->camp, "d4"));
    s_soft (t, "d4", "committed", issued);
    s_run (t, t->now + 3000);
    assert (sitecamp_state (t->camp, "c-1", &wave, NULL, NULL) == SITE_FINISHED);
    assert (wave == 2 && t->last_state == SITE_FINISHED);
    //  Every final outcome reported once (s_report asserts no pair twice)
    const char *ended [] = { "d0", "d1", "d2", "d3", "d4" };
    for (size_t i = 0; i < 5; i++)
        assert (s_seen (t, ended [i], SITE_DEV_SUCCEEDED));

    //  Pause, resume, abort. Offers not queued wait for the next tick.
    t->offers_fail = true;
    assert (s_directive (t, "c-2", 1, SITE_RUN, "acme", "e0:0 e1:0 e2:0 e3:0", issued, reason)
            == WEFT_STATUS_OK);
    s_run (t, t->now + 1);
    assert (sitecamp_device (t->camp, "c-2", "e0") == 0);
    t->offers_fail = false;
    assert (s_directive (t, "c-2", 2, SITE_PAUSE, "acme", NULL, issued, reason)
            == WEFT_STATUS_OK);
    size_t offers = t->offer_count;
    s_run (t, t->now + 5000);
    assert (t->offer_count == offers);
    assert (sitecamp_state (t->camp, "c-2", NULL, NULL, NULL) == SITE_PAUSED);
    assert (t->last_state == SITE_PAUSED);
    assert (s_directive (t, "c-2", 3, SITE_RUN, "acme", NULL, issued, reason)
            == WEFT_STATUS_OK);
    s_run (t, t->now + 1);
    assert (t->offer_count == offers + 2);
    assert (s_directive (t, "c-2", 4, SITE_ABORT, "acme", NULL, issued, reason)
            == WEFT_STATUS_OK);
    s_run (t, t->now + 2000);
    assert (sitecamp_state (t->camp, "c-2", NULL, NULL, &under_way) == SITE_ABORTED);
    assert (under_way == 2 && t->last_state == SITE_ABORTED);
    assert (sitecamp_device (t->camp, "c-2", "e2") == -1);     //  Pending: dropped
    //  Devices under way are still followed and reported
    const char *first = t->offers [offers];
    s_soft (t, first, "committed", issued);
    s_run (t, t->now + 3000);
    assert (s_seen (t, first, SITE_DEV_SUCCEEDED));
    assert (t->offer_count == offers + 2);
    //  A later run does not undo an abort
    assert (s_directive (t, "c-2", 5, SITE_RUN, "acme", "e2:0", issued, reason)
            == WEFT_STATUS_OK);
    s_run (t, t->now + 1000);
    assert (sitecamp_state (t->camp, "c-2", NULL, NULL, NULL) == SITE_ABORTED);
    assert (t->offer_count == offers + 2);

    //  success_pct 50, no soak: half of wave 0 succeeded starts wave 1
    //  while the other half is still under way
    t->success_pct = 50;
    t->soak_s = 0;
    assert (s_directive (t, "c-3", 1, SITE_RUN, "acme", "f0:0 f1:0 f2:1", issued, reason)
            == WEFT_STATUS_OK);
    s_run (t, t->now + 1);
    assert (s_offered (t, "f0") && s_offered (t, "f1") && !s_offered (t, "f2"));
    s_soft (t, "f0", "committed", issued);
    s_run (t, t->now + 1);
    assert (s_offered (t, "f2"));
    assert (sitecamp_device (t->camp, "c-3", "f1") == SITE_DEV_OFFERED);
    //  A directive whose common bytes leave no room for an assignment
    uint8_t *big = (uint8_t *) zmalloc (UPDMSG_METADATA_MAX);
    memcpy (big, BUNDLE_MAGIC, BUNDLE_MAGIC_SIZE);
    sitemsg_t large = { .type = MSG_SITE_DIRECTIVE, .campaign = "c-4", .generation = 1,
                        .site = "plant-1", .tenant = "acme", .state = SITE_RUN,
                        .name = "gw-fw", .version = "2.0", .threshold = 1, .timeout_s = 1,
                        .common = big, .common_size = UPDMSG_METADATA_MAX - 100 };
    uint8_t *payload;
    size_t size;
    assert (sitemsg_encode (&large, &payload, &size) == 0);
    assert (sitecamp_directive (t->camp, "coordinator", payload, size, t->now, reason)
            == WEFT_STATUS_DENIED);
    assert (strstr (reason, "leave no room"));
    free (payload);
    free (big);

    //  Batches: 1100 devices offered (no concurrency limit) while the
    //  reports cannot be queued are reported offered once they can, in
    //  reports of at most 1024 outcomes, 2 s apart
    uint8_t *many = NULL;
    size_t many_size = 0;
    for (int i = 0; i < 1100; i++) {
        release_assignment_t assignment = { .name = "gw-fw", .version = "2.0",
                                            .tenant = "acme", .issued_ms = issued,
                                            .expires_ms = issued + 86400000ULL };
        snprintf (assignment.device, sizeof assignment.device, "g%04d", i);
        uint8_t *signed_assignment;
        size_t signed_size;
        assert (release_assign (&assignment, t->coord.sign_secret, &signed_assignment,
                                &signed_size) == 0);
        sitemsg_device_t device = { .wave = 0, .assignment = signed_assignment,
                                    .assignment_size = signed_size };
        snprintf (device.device, sizeof device.device, "g%04d", i);
        assert (sitemsg_put_device (&many, &many_size, &device) == 0);
        free (signed_assignment);
    }
    sitemsg_t batch = { .type = MSG_SITE_DIRECTIVE, .campaign = "c-5", .generation = 1,
                        .site = "plant-1", .tenant = "acme", .state = SITE_RUN,
                        .name = "gw-fw", .version = "2.0", .threshold = 10, .timeout_s = 3600,
                        .common = s_common, .common_size = S_COMMON_SIZE,
                        .entries = many, .entries_size = many_size };
    assert (sitemsg_encode (&batch, &payload, &size) == 0);
    free (many);
    t->count_only = true;
    t->sent_ms = t->gap_min = 0;
    size_t reports = t->reports;
    //  The other campaigns are settled: their reports are all sent
    assert (sitecamp_directive (t->camp, "coordinator", payload, size, t->now, reason)
            == WEFT_STATUS_OK);
    free (payload);
    t->reports_fail = true;
    s_run (t, t->now + 10000);
    assert (t->outcomes == 0);
    t->reports_fail = false;
    s_run (t, t->now + 3000);
    assert (t->outcomes == 1100 && t->batch_max == SITEMSG_OUTCOMES_MAX);
    assert (t->reports - reports == 2 && t->gap_min >= SITECAMP_REPORT_MS);
    uint32_t held;
    assert (sitecamp_state (t->camp, "c-5", NULL, NULL, &held) == SITE_RUNNING);
    assert (held == 1100);
    //  All time out at once: 1100 failures, reported in full batches
    s_run (t, t->now + 3600 * 1000 + 10000);
    assert (t->outcomes == 2200);
    assert (sitecamp_state (t->camp, "c-5", NULL, NULL, &held) == SITE_HALTED);
    assert (held == 0 && t->last_state == SITE_HALTED);

    sitecamp_destroy (&t->camp);
    store_destroy (&t->store);
    char path [128];
    snprintf (path, sizeof path, "%s/data.mdb", t->dir);
    unlink (path);
    snprintf (path, sizeof path, "%s/lock.mdb", t->dir);
    unlink (path);
    rmdir (t->dir);
    keys_wipe (&t->coord);
    keys_wipe (&stranger);
    free (t);
    //  @end
    printf ("OK\n");
}
