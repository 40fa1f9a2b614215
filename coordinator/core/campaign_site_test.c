/*  campaign_site_test - selftest of campaigns run at the sites: at
    start each site with a server of the campaign's tenant (the smallest
    id; not one of another tenant) gets one directive of its devices, in
    the site's waves, with assignments that verify, its devices out of
    the due index; a site without a server is offered by the coordinator;
    a report moves the devices of its site only, forward only, each
    final state counted once (also after the device's own twin report);
    a report from another server is refused and changes nothing; the
    threshold halts the campaign and pauses every site; retry re-arms a
    site's failed devices with fresh assignments; pause and abort reach
    the sites as new generations; create refuses --at-sites with a patch
    or --dynamic. On a real store, through rpc_call.  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/release.h"
#include "proto/release_fixture.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/campaign_site.h"
#include "coordinator/core/rpc_internal.h"
#include "coordinator/core/director_fixture.h"

typedef director_fixture_t s_rig_t;

static int
s_call_at (s_rig_t *rig, const char *method, const char *args, uint64_t now_ms)
{
    return director_fixture_call_at (&rig->env, rig->store, "admin", "acme", method, args,
                                     now_ms, &rig->result);
}

static int
s_call (s_rig_t *rig, const char *method, const char *args)
{
    return s_call_at (rig, method, args, FIXTURE_NOW);
}

//  The directive of the last call to site (asserted there)
static campaign_directive_t *
s_directive (zlistx_t *directives, const char *site)
{
    campaign_directive_t *directive = directives
        ? (campaign_directive_t *) zlistx_first (directives): NULL;
    for (; directive; directive = (campaign_directive_t *) zlistx_next (directives))
        if (streq (directive->msg.site, site))
            return directive;
    assert (false);
    return NULL;
}

//  Its device entries as "device:wave ..." each assignment verified:
//  signed by the coordinator, to that device, of plc 1.0, issued at
//  issued_ms
static void
s_entries (s_rig_t *rig, campaign_directive_t *directive, uint64_t issued_ms, char *text,
           size_t size)
{
    *text = 0;
    const uint8_t *at = directive->msg.entries;
    size_t left = directive->msg.entries_size;
    sitemsg_device_t entry;
    while (sitemsg_next_device (&at, &left, &entry) == 1) {
        release_assignment_t assignment;
        assert (release_assignment_open (&assignment, entry.assignment, entry.assignment_size,
                                         rig->coord.sign_public) == 0);
        assert (streq (assignment.device, entry.device));
        assert (streq (assignment.name, "plc") && streq (assignment.version, "1.0"));
        assert (assignment.issued_ms == issued_ms);
        size_t used = strlen (text);
        snprintf (text + used, size - used, "%s%s:%u", used? " ": "", entry.device, entry.wave);
    }
    assert (left == 0);
}

static json_t *
s_device (s_rig_t *rig, const char *device)
{
    store_txn_t *txn = store_begin (rig->store, false);
    json_t *record = campaign_device_get (txn, "campaign-1", device);
    store_abort (&txn);
    assert (record);
    return record;
}

static bool
s_is (s_rig_t *rig, const char *device, const char *state)
{
    json_t *record = s_device (rig, device);
    bool is = streq (rpc_json_str (record, "state"), state);
    json_decref (record);
    return is;
}

//  campaign-1's record (caller decrefs)
static json_t *
s_campaign (s_rig_t *rig)
{
    store_txn_t *txn = store_begin (rig->store, false);
    json_t *campaign = campaign_get (txn, "campaign-1");
    store_abort (&txn);
    assert (campaign);
    return campaign;
}

static json_int_t
s_total (s_rig_t *rig, const char *counter)
{
    json_t *campaign = s_campaign (rig);
    json_int_t total = campaign_total (campaign, counter);
    json_decref (campaign);
    return total;
}

static bool
s_state (s_rig_t *rig, const char *state)
{
    json_t *campaign = s_campaign (rig);
    bool is = streq (rpc_json_str (campaign, "state"), state);
    json_decref (campaign);
    return is;
}

//  A SITE_REPORT from origin for site: outcomes "device=STATE ..."
//  (STATE a SITE_DEV_ number); the status, the devices moved in
//  *applied_p and the directives the run made in *directives_p (if not
//  NULL, caller destroys)
static int
s_report (s_rig_t *rig, const char *origin, const char *site, const char *outcomes,
          size_t *applied_p, zlistx_t **directives_p)
{
    sitemsg_t report;
    memset (&report, 0, sizeof report);
    report.type = MSG_SITE_REPORT;
    snprintf (report.campaign, sizeof report.campaign, "campaign-1");
    report.generation = 1;
    snprintf (report.site, sizeof report.site, "%s", site);
    report.state = 1;
    report.sent_ms = FIXTURE_NOW + 1000;
    uint8_t *entries = NULL;
    size_t entries_size = 0;
    char *copy = strdup (outcomes), *saved = NULL;
    for (char *item = strtok_r (copy, " ", &saved); item; item = strtok_r (NULL, " ", &saved)) {
        sitemsg_outcome_t outcome;
        memset (&outcome, 0, sizeof outcome);
        char *equal = strchr (item, '=');
        *equal = 0;
        snprintf (outcome.device, sizeof outcome.device, "%s", item);
        outcome.state = atoi (equal + 1);
        outcome.at_ms = FIXTURE_NOW + 500;
        if (outcome.state == SITE_DEV_FAILED)
            snprintf (outcome.reason, sizeof outcome.reason, "timed out: installing after 60 s");
        assert (sitemsg_put_outcome (&entries, &entries_size, &outcome) == 0);
    }
    free (copy);
    report.entries = entries;
    report.entries_size = entries_size;
    store_txn_t *txn = store_begin (rig->store, true);
    campaign_run_t run;
    campaign_run_init (&run, txn, rig->env.pki, rig->env.coord_secret, "coordinator",
                       FIXTURE_NOW + 2000);
    char reason [WEFT_TEXT_MAX + 1] = "";
    int status = campaign_site_report (&run, origin, &report, applied_p, reason);
    if (status == WEFT_STATUS_DENIED)
        assert (strstr (reason, "not the site server of campaign campaign-1 at "));
    if (status == WEFT_STATUS_OK)
        assert (store_commit (&txn) == 0);
    store_abort (&txn);
    if (directives_p) {
        *directives_p = run.directives;
        run.directives = NULL;
    }
    campaign_run_fini (&run);
    free (entries);
    return status;
}

//  The device's own twin report of the campaign's release
static void
s_twin (s_rig_t *rig, const char *device, const char *state, uint64_t assigned_ms)
{
    store_txn_t *txn = store_begin (rig->store, true);
    campaign_run_t run;
    campaign_run_init (&run, txn, rig->env.pki, rig->env.coord_secret, "coordinator",
                       FIXTURE_NOW + 1000);
    json_t *software = json_pack ("{s:s, s:s, s:s, s:I}", "state", state, "name", "plc",
                                  "version", "1.0", "assigned_ms", (json_int_t) assigned_ms);
    assert (campaign_report (&run, device, software, 0, "ok") == 0);
    json_decref (software);
    assert (store_commit (&txn) == 0);
    campaign_run_fini (&run);
}

static void
s_test_create (s_rig_t *rig)
{
    //  Release campaigns only, and a fixed target
    assert (s_call (rig, "campaign.create", "{\"query\":\"type=gateway\",\"patch\":{\"a\":1},"
                    "\"waves\":[\"100%\"],\"at_sites\":true}") == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig->result.error, "--at-sites runs release campaigns only"));
    assert (s_call (rig, "campaign.create", "{\"query\":\"type=gateway\",\"name\":\"plc\","
                    "\"version\":\"1.0\",\"waves\":[\"100%\"],\"dynamic\":true,"
                    "\"at_sites\":true}") == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig->result.error, "--at-sites and --dynamic do not go together yet"));
    assert (s_call (rig, "campaign.create", "{\"query\":\"type=gateway\",\"name\":\"plc\","
                    "\"version\":\"1.0\",\"waves\":[\"100%\"],\"at_sites\":\"yes\"}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (director_fixture_indexed (rig->store, "c/") == 0);      //  Nothing stored
    assert (s_call (rig, "campaign.create", "{\"query\":\"tenant=acme and type=gateway\","
                    "\"name\":\"plc\",\"version\":\"1.0\",\"waves\":[\"1\",\"50%\",\"100%\"],"
                    "\"threshold\":\"2\",\"at_sites\":true}") == WEFT_STATUS_OK);
    assert (json_is_true (json_object_get (rig->result.result, "at_sites")));
    assert (rpc_json_int (rig->result.result, "devices") == 8);
}

static void
s_test_start (s_rig_t *rig)
{
    assert (s_call (rig, "campaign.start", "{\"id\":\"campaign-1\"}") == WEFT_STATUS_OK);
    //  Two sites have a server of acme; acme/east has none: its first
    //  device (the campaign's canary) is offered by the coordinator
    assert (zlistx_size (rig->result.directives) == 2);
    assert (rpc_json_int (rig->result.result, "offered") == 1);
    assert (director_batch_size (rig->result.offers) == 1);
    campaign_directive_t *north = s_directive (rig->result.directives, "acme/north");
    assert (streq (north->server, "srv-n"));         //  The smallest id of acme's
    assert (north->msg.generation == 1 && north->msg.state == 1);
    assert (streq (north->msg.tenant, "acme") && streq (north->msg.name, "plc"));
    assert (north->msg.threshold == 2 && north->msg.success_pct == 0);
    assert (north->msg.common_size > 0);
    char text [512];
    //  The campaign's waves 1, 50%, 100% over the site's 4 devices
    s_entries (rig, north, FIXTURE_NOW, text, sizeof text);
    assert (streq (text, "n-1:0 n-2:1 n-3:1 n-4:2"));
    //  It goes on the wire as it is: the row check takes it
    uint8_t *payload;
    size_t payload_size;
    assert (sitemsg_encode (&north->msg, &payload, &payload_size) == 0);
    sitemsg_t decoded;
    assert (sitemsg_decode (&decoded, MSG_SITE_DIRECTIVE, payload, payload_size) == 0);
    assert (decoded.entries_size == north->msg.entries_size && decoded.threshold == 2);
    assert (memcmp (decoded.common, north->msg.common, decoded.common_size) == 0);
    free (payload);
    campaign_directive_t *south = s_directive (rig->result.directives, "acme/south");
    assert (streq (south->server, "srv-s"));         //  Not globex's srv-a
    s_entries (rig, south, FIXTURE_NOW, text, sizeof text);
    assert (streq (text, "s-1:0 s-2:1"));
    //  Run by its site: pending, the assignment's time, no deadline, not due here
    json_t *record = s_device (rig, "n-2");
    assert (streq (rpc_json_str (record, "state"), "pending"));
    assert (streq (rpc_json_str (record, "at_site"), "srv-n"));
    assert (rpc_json_int (record, "offered_ms") == (json_int_t) FIXTURE_NOW);
    assert (!json_object_get (record, "deadline_ms"));
    json_decref (record);
    assert (director_fixture_indexed (rig->store, "q/campaign-1/") == 1);   //  e-2 only
    assert (director_fixture_indexed (rig->store, "t/") == 1);              //  e-1 only
    assert (s_is (rig, "e-1", "offered"));
    //  campaign.show says each site's part
    assert (s_call (rig, "campaign.show", "{\"id\":\"campaign-1\"}") == WEFT_STATUS_OK);
    json_t *runs = json_object_get (rig->result.result, "site_runs");
    assert (json_array_size (runs) == 2);
    assert (streq (rpc_json_str (json_array_get (runs, 0), "site"), "acme/north"));
    assert (rpc_json_int (json_array_get (runs, 0), "devices") == 4);
}

static void
s_test_reports (s_rig_t *rig)
{
    //  Forward only, each final state once
    size_t applied;
    assert (s_report (rig, "srv-n", "acme/north", "n-1=5 n-2=2", &applied, NULL)
            == WEFT_STATUS_OK);
    assert (applied == 2);
    assert (s_is (rig, "n-1", "succeeded") && s_is (rig, "n-2", "downloading"));
    assert (s_total (rig, "succeeded") == 1);
    assert (s_report (rig, "srv-n", "acme/north", "n-1=5 n-2=2", &applied, NULL)
            == WEFT_STATUS_OK);
    assert (applied == 0 && s_total (rig, "succeeded") == 1);
    assert (s_report (rig, "srv-n", "acme/north", "n-2=1", &applied, NULL) == WEFT_STATUS_OK);
    assert (applied == 0 && s_is (rig, "n-2", "downloading"));     //  Never back
    assert (s_report (rig, "srv-n", "acme/north", "n-1=6", &applied, NULL) == WEFT_STATUS_OK);
    assert (applied == 0 && s_is (rig, "n-1", "succeeded"));       //  Final stays
    assert (s_total (rig, "failed") == 0);
    //  The device's own report first: the site's of the same outcome
    //  changes nothing; one of an older assignment moves nothing
    s_twin (rig, "n-3", "committed", FIXTURE_NOW - 1);
    assert (s_is (rig, "n-3", "pending"));
    s_twin (rig, "n-3", "committed", FIXTURE_NOW);
    assert (s_is (rig, "n-3", "succeeded") && s_total (rig, "succeeded") == 2);
    assert (s_report (rig, "srv-n", "acme/north", "n-3=5", &applied, NULL) == WEFT_STATUS_OK);
    assert (applied == 0 && s_total (rig, "succeeded") == 2);
    //  Another site's device, or an unknown one, in a site's report: ignored
    assert (s_report (rig, "srv-n", "acme/north", "s-1=5 e-2=5 zz=5", &applied, NULL)
            == WEFT_STATUS_OK);
    assert (applied == 0 && s_is (rig, "s-1", "pending") && s_is (rig, "e-2", "pending"));
    //  Not the server the directive went to: another tenant's server at
    //  the site, the other site's server, a second acme server: refused,
    //  nothing changes
    assert (s_report (rig, "srv-a", "acme/south", "s-1=6", &applied, NULL)
            == WEFT_STATUS_DENIED);
    assert (s_report (rig, "srv-s", "acme/north", "n-4=6", &applied, NULL)
            == WEFT_STATUS_DENIED);
    assert (s_report (rig, "srv-o", "acme/north", "n-4=6", &applied, NULL)
            == WEFT_STATUS_DENIED);
    assert (s_report (rig, "srv-n", "acme/west", "n-4=6", &applied, NULL)
            == WEFT_STATUS_DENIED);
    assert (s_is (rig, "s-1", "pending") && s_is (rig, "n-4", "pending"));
    assert (s_total (rig, "failed") == 0);
    //  The site's own state is kept
    assert (s_call (rig, "campaign.show", "{\"id\":\"campaign-1\"}") == WEFT_STATUS_OK);
    json_t *north = json_array_get (json_object_get (rig->result.result, "site_runs"), 0);
    json_t *report = json_object_get (north, "report");
    assert (streq (rpc_json_str (report, "state"), "running"));
    assert (rpc_json_int (report, "received_ms") == (json_int_t) FIXTURE_NOW + 2000);
}

static void
s_test_halt_retry (s_rig_t *rig)
{
    //  Two failed at acme/south: the threshold (2) halts the campaign,
    //  and every site is told to pause
    size_t applied;
    zlistx_t *directives = NULL;
    assert (s_report (rig, "srv-s", "acme/south", "s-1=6 s-2=7", &applied, &directives)
            == WEFT_STATUS_OK);
    assert (applied == 2 && s_state (rig, "halted"));
    assert (zlistx_size (directives) == 2);
    campaign_directive_t *pause = s_directive (directives, "acme/north");
    assert (pause->msg.state == 2 && pause->msg.generation == 2);
    assert (pause->msg.entries_size == 0 && pause->msg.common_size == 0);
    assert (s_directive (directives, "acme/south")->msg.state == 2);
    zlistx_destroy (&directives);

    //  Retry: the failed devices of acme/south pending again under a
    //  fresh assignment, in its directive; north resumes with none
    uint64_t later = FIXTURE_NOW + 60000;
    assert (s_call_at (rig, "campaign.retry", "{\"id\":\"campaign-1\"}", later)
            == WEFT_STATUS_OK);
    assert (rpc_json_int (rig->result.result, "retried") == 2);
    assert (s_state (rig, "running") && s_total (rig, "failed") == 0);
    campaign_directive_t *south = s_directive (rig->result.directives, "acme/south");
    assert (south->msg.state == 1 && south->msg.generation == 3);
    char text [512];
    s_entries (rig, south, later, text, sizeof text);
    assert (streq (text, "s-1:0 s-2:1"));
    json_t *record = s_device (rig, "s-1");
    assert (streq (rpc_json_str (record, "state"), "pending"));
    assert (rpc_json_int (record, "offered_ms") == (json_int_t) later);
    json_decref (record);
    campaign_directive_t *north = s_directive (rig->result.directives, "acme/north");
    assert (north->msg.state == 1 && north->msg.entries_size == 0);
    //  A report of the earlier attempt's twin moves nothing now
    s_twin (rig, "s-1", "rolled-back", FIXTURE_NOW);
    assert (s_is (rig, "s-1", "pending"));

    //  pause and abort go to the sites as new generations
    assert (s_call (rig, "campaign.pause", "{\"id\":\"campaign-1\"}") == WEFT_STATUS_OK);
    assert (s_directive (rig->result.directives, "acme/north")->msg.state == 2);
    assert (s_directive (rig->result.directives, "acme/north")->msg.generation == 4);
    assert (s_call (rig, "campaign.abort", "{\"id\":\"campaign-1\"}") == WEFT_STATUS_OK);
    assert (s_directive (rig->result.directives, "acme/south")->msg.state == 3);
    //  An aborted campaign takes no outcome (its devices are free)
    assert (s_report (rig, "srv-n", "acme/north", "n-4=5", &applied, NULL) == WEFT_STATUS_OK);
    assert (applied == 0 && s_is (rig, "n-4", "pending"));
}

//  A deployment admin's campaign over acme and globex, each site run by
//  a server of its tenant: globex's admin takes globex out, and globex's
//  site is told to abort (its pending devices dropped there too); the
//  campaign's later moves reach acme's sites only
static void
s_test_exclude (s_rig_t *rig)
{
    release_fixture_t k;
    release_fixture_keys (&k);
    k.tenant = "globex";
    size_t root_size, bundle_size;
    uint8_t hash [32];
    uint8_t *root = release_fixture_root_of (&k, "globex", 1, FIXTURE_NOW + 365 * FIXTURE_DAY,
                                             k.root, 2, k.root, &root_size);
    uint8_t *bundle = release_fixture_bundle (&k, root, root_size, 1, "plc", "1.0", 4096, hash,
                                              &bundle_size);
    director_fixture_upload (rig->store, rig->repo, "globex", root, root_size, bundle,
                             bundle_size);
    free (bundle);
    free (root);
    director_fixture_device_at (rig->store, "srv-gw", "globex", "server", "globex/west");
    director_fixture_device_at (rig->store, "gx-1", "globex", "gateway", "globex/west");
    director_fixture_device_at (rig->store, "gx-2", "globex", "gateway", "globex/west");
    assert (director_fixture_call (&rig->env, rig->store, "admin", "", "campaign.create",
                                   "{\"query\":\"id=n-1 or id=gx-1 or id=gx-2\","
                                   "\"name\":\"plc\",\"version\":\"1.0\","
                                   "\"waves\":[\"100%\"],\"at_sites\":true}",
                                   &rig->result) == WEFT_STATUS_OK);
    char id [CAMPAIGN_ID_MAX + 1], args [96];
    snprintf (id, sizeof id, "%s", rpc_json_str (rig->result.result, "id"));
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", id);
    assert (director_fixture_call (&rig->env, rig->store, "admin", "", "campaign.start", args,
                                   &rig->result) == WEFT_STATUS_OK);
    assert (zlistx_size (rig->result.directives) == 2);
    assert (streq (s_directive (rig->result.directives, "globex/west")->server, "srv-gw"));
    snprintf (args, sizeof args, "{\"id\":\"%s\",\"tenant\":\"globex\"}", id);
    assert (director_fixture_call (&rig->env, rig->store, "admin", "globex", "campaign.exclude",
                                   args, &rig->result) == WEFT_STATUS_OK);
    assert (rpc_json_int (rig->result.result, "skipped") == 2);
    assert (zlistx_size (rig->result.directives) == 1);
    campaign_directive_t *abort = s_directive (rig->result.directives, "globex/west");
    assert (abort->msg.state == SITE_ABORT && abort->msg.generation == 2);
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", id);
    assert (director_fixture_call (&rig->env, rig->store, "admin", "", "campaign.pause", args,
                                   &rig->result) == WEFT_STATUS_OK);
    assert (zlistx_size (rig->result.directives) == 1);
    assert (streq (s_directive (rig->result.directives, "acme/north")->server, "srv-n"));
    assert (director_fixture_call (&rig->env, rig->store, "admin", "", "campaign.abort", args,
                                   &rig->result) == WEFT_STATUS_OK);
}

//  count devices id_prefix-NNNNN of acme at path, in one transaction
static void
s_many (s_rig_t *rig, const char *prefix, int count, const char *path)
{
    store_txn_t *txn = store_begin (rig->store, true);
    char key [65];
    memset (key, 'a', 64);
    key [64] = 0;
    for (int index = 0; index < count; index++) {
        char id [WEFT_NAME_MAX + 1];
        snprintf (id, sizeof id, "%s-%05d", prefix, index);
        json_t *device = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", id,
                                    "tenant", "acme", "type", "gateway", "role", "gateway",
                                    "path", path, "sign_key", key, "curve_key", key);
        assert (registry_device_put (txn, device) == 0);
        json_decref (device);
    }
    assert (store_commit (&txn) == 0);
}

//  A campaign of the devices under path: its start refused with error
//  (%s: the campaign's id), leaving the campaign and every device of it
//  as they were, c-1 at a site of its own too
static void
s_refused_start (s_rig_t *rig, const char *path, const char *error)
{
    char args [256];
    snprintf (args, sizeof args, "{\"query\":\"path^=%s\",\"name\":\"plc\","
              "\"version\":\"1.0\",\"waves\":[\"100%%\"],\"at_sites\":true}", path);
    assert (s_call (rig, "campaign.create", args) == WEFT_STATUS_OK);
    char id [CAMPAIGN_ID_MAX + 1];
    snprintf (id, sizeof id, "%s", rpc_json_str (rig->result.result, "id"));
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", id);
    char expected [WEFT_TEXT_MAX + 1];
    snprintf (expected, sizeof expected, error, id);
    assert (s_call (rig, "campaign.start", args) == WEFT_STATUS_BAD_REQUEST);
    assert (strncmp (rig->result.error, expected, strlen (expected)) == 0);
    assert (strstr (rig->result.error, "narrow") || strstr (rig->result.error, "at most"));
    assert (!rig->result.directives);
    assert (s_call (rig, "campaign.show", args) == WEFT_STATUS_OK);
    assert (streq (rpc_json_str (rig->result.result, "state"), "created"));
    json_t *counts = json_object_get (rig->result.result, "counts");
    assert (rpc_json_int (counts, "pending") == rpc_json_int (rig->result.result, "devices"));
    store_txn_t *read = store_begin (rig->store, false);
    json_t *record = campaign_device_get (read, id, "c-1");
    store_abort (&read);
    assert (record && !json_object_get (record, "at_site"));
    json_decref (record);
    char prefix [CAMPAIGN_ID_MAX + 4];
    snprintf (prefix, sizeof prefix, "s/%s/", id);
    assert (director_fixture_indexed (rig->store, prefix) == 0);
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", id);
    assert (s_call (rig, "campaign.abort", args) == WEFT_STATUS_OK);
}

//  A site with more devices than a directive carries, or whose
//  directive would pass a frame, refuses the start naming the site;
//  nothing is written, at any site
static void
s_test_too_large (s_rig_t *rig)
{
    director_fixture_device_at (rig->store, "srv-b", "acme", "server", "acme/big");
    director_fixture_device_at (rig->store, "srv-c", "acme", "server", "acme/big-c");
    director_fixture_device_at (rig->store, "c-1", "acme", "gateway", "acme/big-c");
    s_many (rig, "b", SITEMSG_DEVICES_MAX + 1, "acme/big/hall");
    s_refused_start (rig, "acme/big", "site acme/big has 4097 devices of %s: a site "
                     "directive carries at most 4096");
    //  4096 devices of long ids: their assignments pass a frame
    char prefix [64];
    memset (prefix, 'l', 57);
    prefix [57] = 0;
    director_fixture_device_at (rig->store, "srv-l", "acme", "server", "acme/long");
    s_many (rig, prefix, SITEMSG_DEVICES_MAX, "acme/long/hall");
    director_fixture_device_at (rig->store, "c-1", "acme", "gateway", "acme/long-c");
    director_fixture_device_at (rig->store, "srv-m", "acme", "server", "acme/long-c");
    s_refused_start (rig, "acme/long", "the directive of site acme/long of %s would be ");
}

void
campaign_site_test (bool verbose)
{
    printf (" * campaign_site: ");
    //  @selftest
    char dir [] = "/tmp/weft-campaign-site-test-XXXXXX";
    assert (mkdtemp (dir));
    store_t *store = store_new (dir, registry_tables (), 0);
    assert (store);
    s_rig_t rig;
    director_fixture_init (&rig, store);
    uint8_t hash [32];
    director_fixture_release (rig.store, rig.repo, 16 * 1024, hash);
    assert (s_call (&rig, "hierarchy.import", "{\"doc\":{\"version\":1,\"nodes\":["
                    "{\"path\":\"acme\",\"level\":\"enterprise\"},"
                    "{\"path\":\"acme/north\",\"level\":\"site\"},"
                    "{\"path\":\"acme/south\",\"level\":\"site\"}]}}") == WEFT_STATUS_OK);
    //  Servers: two of acme at acme/north (srv-n is the smaller id), one
    //  at acme/south, and globex's srv-a at acme/south, which is not acme's
    director_fixture_device_at (rig.store, "srv-n", "acme", "server", "acme/north");
    director_fixture_device_at (rig.store, "srv-o", "acme", "server", "acme/north/line-1");
    director_fixture_device_at (rig.store, "srv-s", "acme", "server", "acme/south");
    director_fixture_device_at (rig.store, "srv-a", "globex", "server", "acme/south");
    const char *north [] = { "n-1", "n-2", "n-3", "n-4", NULL };
    for (size_t index = 0; north [index]; index++)
        director_fixture_device_at (rig.store, north [index], "acme", "gateway",
                                    "acme/north/line-1");
    director_fixture_device_at (rig.store, "s-1", "acme", "gateway", "acme/south");
    director_fixture_device_at (rig.store, "s-2", "acme", "gateway", "acme/south/bay");
    director_fixture_device_at (rig.store, "e-1", "acme", "gateway", "acme/east");
    director_fixture_device_at (rig.store, "e-2", "acme", "gateway", "acme/east");

    s_test_create (&rig);
    s_test_start (&rig);
    s_test_reports (&rig);
    s_test_halt_retry (&rig);
    s_test_exclude (&rig);
    s_test_too_large (&rig);

    director_fixture_fini (&rig);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    if (verbose)
        printf ("(create, start, plan, assignments, reports, once, wrong server, halt, "
                "retry, pause, abort, exclude, too large) ");
    //  @end
    printf ("OK\n");
}
