/*  campaign_run_test - selftest of campaigns that follow their devices:
    reports move a device only for the campaign's release and
    assignment; waves go on when done, the campaign halts at its
    threshold, retry offers the failed again, the last wave finishes it
    and frees its devices; deadlines time devices out; a device that
    refuses its offer fails at once; offers are paced by rate and by
    site, waves wait for their soak; a configuration (a patch of the
    desired twin) follows the version each device applied; a dynamic
    campaign takes late joiners; a device that
    runs the release already succeeds at once; each transition the
    campaign makes is audited. On a real store, through rpc_call.  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/release_fixture.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/audit.h"
#include "coordinator/core/campaign_run.h"
#include "coordinator/core/rpc_internal.h"
#include "coordinator/core/director_fixture.h"

typedef director_fixture_t s_fleet_t;

//  A device reports software; the devices the run offered
static size_t
s_report_waiting (s_fleet_t *fleet, const char *device, const char *state,
                  uint64_t assigned_ms, const char *error, uint64_t opens_ms, uint64_t now_ms)
{
    store_txn_t *txn = store_begin (fleet->store, true);
    campaign_run_t run;
    campaign_run_init (&run, txn, fleet->env.pki, fleet->env.coord_secret, "coordinator",
                       now_ms);
    json_t *software = json_pack ("{s:s, s:s, s:s, s:s, s:I}", "state", state, "name", "plc",
                                  "version", "1.0", "installed", "0.9",
                                  "assigned_ms", (json_int_t) assigned_ms);
    if (error)
        json_object_set_new (software, "error", json_string (error));
    if (opens_ms) {
        json_object_set_new (software, "waiting", json_string ("maintenance window: ..."));
        json_object_set_new (software, "opens_ms", json_integer ((json_int_t) opens_ms));
    }
    assert (campaign_report (&run, device, software, 0, "ok") == 0);
    json_decref (software);
    assert (store_commit (&txn) == 0);
    size_t offered = campaign_run_offered (&run);
    campaign_run_fini (&run);
    return offered;
}

static size_t
s_report (s_fleet_t *fleet, const char *device, const char *state, uint64_t assigned_ms,
          const char *error, uint64_t now_ms)
{
    return s_report_waiting (fleet, device, state, assigned_ms, error, 0, now_ms);
}

static json_t *
s_device (s_fleet_t *fleet, const char *id, const char *device)
{
    store_txn_t *txn = store_begin (fleet->store, false);
    json_t *record = campaign_device_get (txn, id, device);
    store_abort (&txn);
    assert (record);
    return record;
}

static bool
s_device_is (s_fleet_t *fleet, const char *id, const char *device, const char *state)
{
    json_t *record = s_device (fleet, id, device);
    bool is = streq (rpc_json_str (record, "state"), state);
    json_decref (record);
    return is;
}

static json_t *
s_campaign (s_fleet_t *fleet, const char *id)
{
    store_txn_t *txn = store_begin (fleet->store, false);
    json_t *campaign = campaign_get (txn, id);
    store_abort (&txn);
    assert (campaign);
    return campaign;
}

static bool
s_campaign_is (s_fleet_t *fleet, const char *id, const char *state, json_int_t wave)
{
    json_t *campaign = s_campaign (fleet, id);
    bool is = streq (rpc_json_str (campaign, "state"), state)
           && rpc_json_int (campaign, "wave") == wave;
    json_decref (campaign);
    return is;
}

static int
s_call (s_fleet_t *fleet, const char *method, const char *args, uint64_t now_ms)
{
    return director_fixture_call_at (&fleet->env, fleet->store, "operator", "acme", method,
                                     args, now_ms, &fleet->result);
}

//  Run the deadlines at now_ms: how many were handled
static int
s_expire (s_fleet_t *fleet, uint64_t now_ms)
{
    store_txn_t *txn = store_begin (fleet->store, true);
    campaign_run_t run;
    campaign_run_init (&run, txn, fleet->env.pki, fleet->env.coord_secret, "coordinator",
                       now_ms);
    int handled = campaign_expire (&run);
    assert (handled >= 0 && store_commit (&txn) == 0);
    campaign_run_fini (&run);
    return handled;
}

static int
s_refused (s_fleet_t *fleet, const char *device, const char *reason, uint64_t now_ms)
{
    store_txn_t *txn = store_begin (fleet->store, true);
    campaign_run_t run;
    campaign_run_init (&run, txn, fleet->env.pki, fleet->env.coord_secret, "coordinator",
                       now_ms);
    int moved = campaign_refused (&run, device, reason);
    assert (moved >= 0 && store_commit (&txn) == 0);
    campaign_run_fini (&run);
    return moved;
}

//  Run the pace index at now_ms: the devices it offered
static size_t
s_pace (s_fleet_t *fleet, uint64_t now_ms)
{
    store_txn_t *txn = store_begin (fleet->store, true);
    campaign_run_t run;
    campaign_run_init (&run, txn, fleet->env.pki, fleet->env.coord_secret, "coordinator",
                       now_ms);
    assert (campaign_pace (&run) >= 0 && store_commit (&txn) == 0);
    size_t offered = campaign_run_offered (&run);
    campaign_run_fini (&run);
    return offered;
}

static size_t
s_count_state (s_fleet_t *fleet, const char *id, const char *state)
{
    size_t count = 0;
    for (int index = 1; index <= 5; index++) {
        char device [16];
        snprintf (device, sizeof device, "gw-%d", index);
        count += s_device_is (fleet, id, device, state);
    }
    return count;
}

//  Records of action in acme's chain
static size_t
s_audited (s_fleet_t *fleet, const char *action)
{
    store_txn_t *txn = store_begin (fleet->store, false);
    const char *scopes [] = { "" };
    json_t *records = audit_list (txn, "acme", NULL, scopes, 1, AUDIT_LIST_MAX);
    store_abort (&txn);
    size_t count = 0, index;
    json_t *record;
    json_array_foreach (records, index, record)
        count += streq (rpc_json_str (record, "action"), action)
              && streq (rpc_json_str (record, "actor"), "coordinator");
    json_decref (records);
    return count;
}

static void
s_test_waves (s_fleet_t *fleet)
{
    const uint64_t t0 = FIXTURE_NOW;
    const char *one = "{\"id\":\"campaign-1\"}";
    assert (s_call (fleet, "campaign.create", "{\"query\":\"tenant=acme\",\"name\":\"plc\","
                    "\"version\":\"1.0\",\"waves\":[\"1\",\"2\",\"100%\"],\"threshold\":\"2\","
                    "\"timeout\":60}", t0) == WEFT_STATUS_OK);
    assert (s_call (fleet, "campaign.start", one, t0) == WEFT_STATUS_OK);
    assert (rpc_json_int (fleet->result.result, "offered") == 1);
    json_t *record = s_device (fleet, "campaign-1", "gw-1");
    assert (streq (rpc_json_str (record, "state"), "offered"));
    assert (rpc_json_int (record, "offered_ms") == (json_int_t) t0);
    assert (rpc_json_int (record, "deadline_ms") == (json_int_t) (t0 + 60000));
    json_decref (record);

    //  Not this campaign's assignment, or of a device in no wave yet: nothing moves
    assert (s_report (fleet, "gw-1", "committed", t0 - 1, NULL, t0) == 0);
    assert (s_device_is (fleet, "campaign-1", "gw-1", "offered"));
    assert (s_report (fleet, "gw-2", "committed", t0, NULL, t0) == 0);
    assert (s_device_is (fleet, "campaign-1", "gw-2", "pending"));
    //  Downloading, then committed: wave 1 is done, wave 2 offered
    assert (s_report (fleet, "gw-1", "downloading", t0, NULL, t0) == 0);
    assert (s_device_is (fleet, "campaign-1", "gw-1", "downloading"));
    //  Staged, waiting for its maintenance window: waiting-window, and why
    store_txn_t *txn = store_begin (fleet->store, true);
    campaign_run_t run;
    campaign_run_init (&run, txn, fleet->env.pki, fleet->env.coord_secret, "coordinator", t0);
    json_t *software = json_pack ("{s:s, s:s, s:s, s:I, s:s}", "state", "staged", "name", "plc",
                                  "version", "1.0", "assigned_ms", (json_int_t) t0, "waiting",
                                  "maintenance window: next opens Sun 02:00 (in 3 h)");
    assert (campaign_report (&run, "gw-1", software, 0, "ok") == 0);
    json_decref (software);
    assert (store_commit (&txn) == 0);
    campaign_run_fini (&run);
    record = s_device (fleet, "campaign-1", "gw-1");
    assert (streq (rpc_json_str (record, "state"), "waiting-window"));
    assert (streq (rpc_json_str (record, "reason"),
                   "maintenance window: next opens Sun 02:00 (in 3 h)"));
    json_decref (record);
    //  Staged with no wait (about to install): installing
    assert (s_report (fleet, "gw-1", "staged", t0, NULL, t0) == 0);
    assert (s_device_is (fleet, "campaign-1", "gw-1", "installing"));
    assert (s_report (fleet, "gw-1", "health", t0, NULL, t0) == 0);
    assert (s_device_is (fleet, "campaign-1", "gw-1", "installing"));
    record = s_device (fleet, "campaign-1", "gw-1");
    assert (!json_object_get (record, "reason"));
    json_decref (record);
    const uint64_t t1 = t0 + 1000;
    assert (s_report (fleet, "gw-1", "committed", t0, NULL, t1) == 2);
    assert (s_device_is (fleet, "campaign-1", "gw-1", "succeeded"));
    assert (s_campaign_is (fleet, "campaign-1", "running", 1));
    assert (s_device_is (fleet, "campaign-1", "gw-2", "offered"));
    assert (s_device_is (fleet, "campaign-1", "gw-3", "offered"));
    assert (s_device_is (fleet, "campaign-1", "gw-4", "pending"));
    assert (s_audited (fleet, "campaign.wave") == 1);

    //  One rolled back (below the threshold), one committed: wave 3
    assert (s_report (fleet, "gw-2", "rolled-back", t1, "health check failed", t1) == 0);
    record = s_device (fleet, "campaign-1", "gw-2");
    assert (streq (rpc_json_str (record, "state"), "rolled-back"));
    assert (streq (rpc_json_str (record, "reason"), "health check failed"));
    assert (!json_object_get (record, "deadline_ms"));
    json_decref (record);
    assert (s_campaign_is (fleet, "campaign-1", "running", 1));
    assert (s_report (fleet, "gw-3", "committed", t1, NULL, t1) == 2);
    assert (s_campaign_is (fleet, "campaign-1", "running", 2));
    //  A second failure reaches the threshold: halted, saying why
    assert (s_report (fleet, "gw-4", "rolled-back", t1, "activate failed", t1) == 0);
    json_t *campaign = s_campaign (fleet, "campaign-1");
    assert (streq (rpc_json_str (campaign, "state"), "halted"));
    assert (streq (rpc_json_str (campaign, "reason"), "2 devices failed: the threshold is 2"));
    json_decref (campaign);
    assert (s_audited (fleet, "campaign.halt") == 1);
    //  A device still under way while halted is followed all the same
    assert (s_report (fleet, "gw-5", "committed", t1, NULL, t1) == 0);
    assert (s_device_is (fleet, "campaign-1", "gw-5", "succeeded"));
    assert (s_campaign_is (fleet, "campaign-1", "halted", 2));

    //  Retry: both failed devices offered again, under a new assignment
    const uint64_t t2 = t1 + 1000;
    assert (s_call (fleet, "campaign.retry", one, t2) == WEFT_STATUS_OK);
    assert (rpc_json_int (fleet->result.result, "retried") == 2);
    assert (rpc_json_int (fleet->result.result, "offered") == 2);
    assert (streq (rpc_json_str (fleet->result.result, "state"), "running"));
    //  A report of the attempt before the retry counts no more
    assert (s_report (fleet, "gw-4", "rolled-back", t1, "activate failed", t2) == 0);
    assert (s_device_is (fleet, "campaign-1", "gw-4", "offered"));
    assert (s_report (fleet, "gw-2", "committed", t2, NULL, t2) == 0);
    assert (s_campaign_is (fleet, "campaign-1", "running", 2));
    assert (s_report (fleet, "gw-4", "committed", t2, NULL, t2) == 0);
    assert (s_campaign_is (fleet, "campaign-1", "finished", 2));
    assert (s_audited (fleet, "campaign.finish") == 1);
    //  Finished: its devices are free, a report of them moves nothing
    txn = store_begin (fleet->store, false);
    char held [CAMPAIGN_ID_MAX + 1];
    assert (!campaign_of (txn, "gw-4", held));
    store_abort (&txn);
    assert (s_report (fleet, "gw-4", "rolled-back", t2, "late", t2) == 0);
    assert (s_device_is (fleet, "campaign-1", "gw-4", "succeeded"));
    //  No deadline is left behind
    assert (s_expire (fleet, t2 + 3600 * 1000) == 0);
}

static void
s_test_deadlines (s_fleet_t *fleet)
{
    const uint64_t t0 = FIXTURE_NOW + 10000;
    const char *two = "{\"id\":\"campaign-2\"}";
    assert (s_call (fleet, "campaign.create", "{\"query\":\"tenant=acme\",\"name\":\"plc\","
                    "\"version\":\"1.0\",\"waves\":[\"100%\"],\"threshold\":\"100%\","
                    "\"timeout\":60}", t0) == WEFT_STATUS_OK);
    assert (s_call (fleet, "campaign.start", two, t0) == WEFT_STATUS_OK);
    assert (rpc_json_int (fleet->result.result, "offered") == 5);
    assert (s_report (fleet, "gw-1", "downloading", t0, NULL, t0) == 0);
    //  gw-3 staged waits for its window, opening in an hour: its whole
    //  timeout counts from the opening; one further than a week is not
    //  believed, nor one earlier than the deadline it has
    assert (s_report_waiting (fleet, "gw-3", "staged", t0, NULL, t0 + 3600000, t0 + 10) == 0);
    json_t *waits = s_device (fleet, "campaign-2", "gw-3");
    assert (rpc_json_int (waits, "deadline_ms") == (json_int_t) (t0 + 3600000 + 60000));
    assert (streq (rpc_json_str (waits, "state"), "waiting-window"));
    assert (streq (rpc_json_str (waits, "reason"), "maintenance window: ..."));
    json_decref (waits);
    assert (s_report_waiting (fleet, "gw-4", "staged", t0, NULL, t0 + 9ULL * 24 * 3600000,
                              t0 + 10) == 0);
    assert (s_report_waiting (fleet, "gw-5", "staged", t0, NULL, t0 - 1000, t0 + 10) == 0);
    //  A device that refuses its offer fails at once, with its reason
    assert (s_refused (fleet, "gw-2", "update refused: anti-rollback", t0) == 1);
    json_t *refused = s_device (fleet, "campaign-2", "gw-2");
    assert (streq (rpc_json_str (refused, "reason"),
                   "offer refused: update refused: anti-rollback"));
    assert (!json_object_get (refused, "deadline_ms"));
    json_decref (refused);
    assert (s_refused (fleet, "gw-2", "again", t0) == 0);
    assert (s_refused (fleet, "gw-1", "downloading already", t0) == 0);
    assert (s_expire (fleet, t0 + 59999) == 0);
    assert (s_campaign_is (fleet, "campaign-2", "running", 0));
    //  Paused, the deadlines still run: a device that never answers fails
    assert (s_call (fleet, "campaign.pause", two, t0) == WEFT_STATUS_OK);
    assert (s_expire (fleet, t0 + 60000) == 3);
    assert (s_device_is (fleet, "campaign-2", "gw-3", "waiting-window"));
    assert (s_expire (fleet, t0 + 3600000 + 59999) == 0);
    assert (s_expire (fleet, t0 + 3600000 + 60000) == 1);
    assert (s_device_is (fleet, "campaign-2", "gw-3", "failed"));
    json_t *late = s_device (fleet, "campaign-2", "gw-3");
    assert (streq (rpc_json_str (late, "reason"), "timed out: waiting-window after 60 s"));
    json_decref (late);
    json_t *record = s_device (fleet, "campaign-2", "gw-1");
    assert (streq (rpc_json_str (record, "state"), "failed"));
    assert (streq (rpc_json_str (record, "reason"), "timed out: downloading after 60 s"));
    json_decref (record);
    assert (s_campaign_is (fleet, "campaign-2", "paused", 0));
    //  Resumed: the threshold was reached meanwhile, so it halts
    assert (s_call (fleet, "campaign.resume", two, t0 + 60000) == WEFT_STATUS_OK);
    assert (streq (rpc_json_str (fleet->result.result, "state"), "halted"));
    assert (s_campaign_is (fleet, "campaign-2", "halted", 0));
    assert (s_expire (fleet, t0 + 120000) == 0);
    assert (s_call (fleet, "campaign.abort", two, t0 + 60000) == WEFT_STATUS_OK);
}

static void
s_test_pace (s_fleet_t *fleet)
{
    //  At most 2 under way in the site: 2 offered, the rest when a slot frees
    uint64_t t0 = FIXTURE_NOW + 20000;
    const char *three = "{\"id\":\"campaign-3\"}";
    assert (s_call (fleet, "campaign.create", "{\"query\":\"tenant=acme\",\"name\":\"plc\","
                    "\"version\":\"1.0\",\"waves\":[\"100%\"],\"threshold\":\"100%\","
                    "\"concurrency\":2}", t0) == WEFT_STATUS_OK);
    assert (s_call (fleet, "campaign.start", three, t0) == WEFT_STATUS_OK);
    assert (rpc_json_int (fleet->result.result, "offered") == 2);
    assert (s_count_state (fleet, "campaign-3", "pending") == 3);
    //  The indexes the offers read: 3 due, 2 under way at the site
    assert (director_fixture_indexed (fleet->store, "q/campaign-3/") == 3);
    assert (director_fixture_indexed (fleet->store, "w/campaign-3/acme ") == 2);
    //  gw-2 waits for its window: still under way, it keeps its slot
    assert (s_report_waiting (fleet, "gw-2", "staged", t0, NULL, t0 + 3600000, t0 + 500) == 0);
    assert (s_device_is (fleet, "campaign-3", "gw-2", "waiting-window"));
    assert (director_fixture_indexed (fleet->store, "w/campaign-3/acme ") == 2);
    assert (s_report (fleet, "gw-1", "committed", t0, NULL, t0 + 1000) == 0);
    assert (director_fixture_indexed (fleet->store, "w/campaign-3/acme ") == 1);
    assert (s_pace (fleet, t0 + 4999) == 0);
    assert (s_pace (fleet, t0 + 5000) == 1);
    assert (s_count_state (fleet, "campaign-3", "offered") == 1);
    assert (s_count_state (fleet, "campaign-3", "waiting-window") == 1);
    assert (s_pace (fleet, t0 + 10000) == 0);   //  Both slots taken
    assert (director_fixture_indexed (fleet->store, "q/campaign-3/") == 2);
    assert (director_fixture_indexed (fleet->store, "w/campaign-3/acme ") == 2);
    assert (s_call (fleet, "campaign.abort", three, t0 + 10000) == WEFT_STATUS_OK);
    assert (director_fixture_indexed (fleet->store, "q/campaign-3/") == 0); //  Dropped with it
    assert (director_fixture_indexed (fleet->store, "w/campaign-3/") == 0);
    assert (s_pace (fleet, t0 + 20000) == 0);

    //  At most 2 a minute: the bucket's 2 at once, then one each 30 s
    t0 += 60000;
    const char *four = "{\"id\":\"campaign-4\"}";
    assert (s_call (fleet, "campaign.create", "{\"query\":\"tenant=acme\",\"name\":\"plc\","
                    "\"version\":\"1.0\",\"waves\":[\"100%\"],\"threshold\":\"100%\","
                    "\"rate\":2}", t0) == WEFT_STATUS_OK);
    assert (s_call (fleet, "campaign.start", four, t0) == WEFT_STATUS_OK);
    assert (rpc_json_int (fleet->result.result, "offered") == 2);
    assert (s_pace (fleet, t0 + 29000) == 0);
    assert (s_pace (fleet, t0 + 30001) == 1);
    //  Paused, nothing is offered; resumed, what the bucket holds
    assert (s_call (fleet, "campaign.pause", four, t0 + 30001) == WEFT_STATUS_OK);
    assert (s_pace (fleet, t0 + 120000) == 0);
    assert (s_call (fleet, "campaign.resume", four, t0 + 120000) == WEFT_STATUS_OK);
    assert (rpc_json_int (fleet->result.result, "offered") == 2);
    assert (s_count_state (fleet, "campaign-4", "pending") == 0);
    assert (s_call (fleet, "campaign.abort", four, t0 + 120000) == WEFT_STATUS_OK);

    //  A soak of 60 s between waves
    t0 += 200000;
    assert (s_call (fleet, "campaign.create", "{\"query\":\"tenant=acme\",\"name\":\"plc\","
                    "\"version\":\"1.0\",\"waves\":[\"1\",\"100%\"],\"soak\":60}", t0)
            == WEFT_STATUS_OK);
    assert (s_call (fleet, "campaign.start", "{\"id\":\"campaign-5\"}", t0) == WEFT_STATUS_OK);
    assert (s_report (fleet, "gw-1", "committed", t0, NULL, t0 + 1000) == 0);
    json_t *campaign = s_campaign (fleet, "campaign-5");
    assert (rpc_json_int (campaign, "soak_until_ms") == (json_int_t) (t0 + 61000));
    assert (rpc_json_int (campaign, "wave") == 0);
    json_decref (campaign);
    assert (s_pace (fleet, t0 + 60999) == 0);
    assert (s_pace (fleet, t0 + 61000) == 4);
    assert (s_campaign_is (fleet, "campaign-5", "running", 1));
    assert (s_call (fleet, "campaign.abort", "{\"id\":\"campaign-5\"}", t0 + 61000)
            == WEFT_STATUS_OK);
}

//  A device applied (or failed to apply) desired version applied
static void
s_applied (s_fleet_t *fleet, const char *device, uint64_t applied, const char *status,
           uint64_t now_ms)
{
    store_txn_t *txn = store_begin (fleet->store, true);
    campaign_run_t run;
    campaign_run_init (&run, txn, fleet->env.pki, fleet->env.coord_secret, "coordinator",
                       now_ms);
    assert (campaign_report (&run, device, NULL, applied, status) == 0);
    assert (store_commit (&txn) == 0);
    campaign_run_fini (&run);
}

static json_int_t
s_desired_version (s_fleet_t *fleet, const char *device, const char *key, json_int_t want)
{
    store_txn_t *txn = store_begin (fleet->store, false);
    json_t *twin = registry_twin_get (txn, device);
    store_abort (&txn);
    assert (rpc_json_int (json_object_get (twin, "desired"), key) == want);
    json_int_t version = rpc_json_int (twin, "desired_version");
    json_decref (twin);
    return version;
}

static void
s_test_config (s_fleet_t *fleet)
{
    //  Refused: a release and a patch at once, a patch not an object
    uint64_t t0 = FIXTURE_NOW + 500000;
    assert (s_call (fleet, "campaign.create", "{\"query\":\"tenant=acme\",\"name\":\"plc\","
                    "\"patch\":{\"a\":1},\"waves\":[\"100%\"]}", t0) == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (fleet->result.error, "a release (name, version) or a patch"));
    assert (s_call (fleet, "campaign.create", "{\"query\":\"tenant=acme\",\"patch\":[1],"
                    "\"waves\":[\"100%\"]}", t0) == WEFT_STATUS_BAD_REQUEST);
    //  Another tenant's operator reaches none of acme's twins
    assert (director_fixture_call_at (&fleet->env, fleet->store, "operator", "globex",
                                      "campaign.create", "{\"query\":\"tenant=acme\","
                                      "\"patch\":{\"rate\":9},\"waves\":[\"100%\"]}", t0,
                                      &fleet->result) == WEFT_STATUS_NOT_FOUND);
    s_desired_version (fleet, "gw-1", "rate", 0);
    //  A patch in two waves: the canary's desired twin first
    assert (s_call (fleet, "campaign.create", "{\"query\":\"tenant=acme\",\"patch\":"
                    "{\"rate\":5},\"waves\":[\"1\",\"100%\"],\"threshold\":\"2\"}", t0)
            == WEFT_STATUS_OK);
    const char *six = "{\"id\":\"campaign-6\"}";
    assert (s_call (fleet, "campaign.start", six, t0) == WEFT_STATUS_OK);
    assert (rpc_json_int (fleet->result.result, "offered") == 1);
    json_int_t v1 = s_desired_version (fleet, "gw-1", "rate", 5);
    s_desired_version (fleet, "gw-2", "rate", 0);
    json_t *record = s_device (fleet, "campaign-6", "gw-1");
    assert (rpc_json_int (record, "desired_version") == v1);
    json_decref (record);
    //  An older version applied moves nothing; this one, ok: wave 2
    s_applied (fleet, "gw-1", (uint64_t) v1 - 1, "ok", t0);
    assert (s_device_is (fleet, "campaign-6", "gw-1", "offered"));
    s_applied (fleet, "gw-1", (uint64_t) v1, "ok", t0 + 1000);
    assert (s_device_is (fleet, "campaign-6", "gw-1", "succeeded"));
    assert (s_campaign_is (fleet, "campaign-6", "running", 1));
    json_int_t v2 = s_desired_version (fleet, "gw-2", "rate", 5);
    //  A failed apply rolls the device back to its last good
    //  configuration (its desired twin as before the patch: no rate),
    //  and counts as failed
    s_applied (fleet, "gw-2", (uint64_t) v2, "apply command exited with status 1", t0 + 2000);
    record = s_device (fleet, "campaign-6", "gw-2");
    assert (streq (rpc_json_str (record, "state"), "rolled-back"));
    assert (streq (rpc_json_str (record, "reason"), "apply failed: apply command exited with "
                   "status 1; its previous configuration restored"));
    json_int_t restored = s_desired_version (fleet, "gw-2", "rate", 0);
    assert (restored > v2 && rpc_json_int (record, "rollback_version") == restored);
    json_decref (record);
    for (int index = 3; index <= 5; index++) {
        char device [16];
        snprintf (device, sizeof device, "gw-%d", index);
        s_applied (fleet, device, (uint64_t) s_desired_version (fleet, device, "rate", 5), "ok",
                   t0 + 3000);
    }
    assert (s_campaign_is (fleet, "campaign-6", "finished", 1));
}

static void
s_test_installed (s_fleet_t *fleet)
{
    //  gw-1 runs plc 1.0 already (its last report): it succeeds at once
    store_txn_t *txn = store_begin (fleet->store, true);
    json_t *twin = registry_twin_get (txn, "gw-1");
    assert (twin);
    json_object_set_new (twin, "reported", json_pack ("{s:{s:s, s:s, s:s, s:s}}", "software",
        "state", "committed", "name", "plc", "version", "1.0", "installed", "1.0"));
    assert (registry_twin_put (txn, "gw-1", twin) == 0);
    json_decref (twin);
    assert (store_commit (&txn) == 0);
    const uint64_t t0 = FIXTURE_NOW + 1000000;
    assert (s_call (fleet, "campaign.create", "{\"query\":\"id=gw-1\",\"name\":\"plc\","
                    "\"version\":\"1.0\",\"waves\":[\"100%\"]}", t0) == WEFT_STATUS_OK);
    assert (s_call (fleet, "campaign.start", "{\"id\":\"campaign-7\"}", t0) == WEFT_STATUS_OK);
    assert (rpc_json_int (fleet->result.result, "offered") == 0);
    assert (streq (rpc_json_str (fleet->result.result, "state"), "finished"));
    json_t *record = s_device (fleet, "campaign-7", "gw-1");
    assert (streq (rpc_json_str (record, "state"), "succeeded"));
    assert (streq (rpc_json_str (record, "reason"), "already installed"));
    json_decref (record);
}

static void
s_test_dynamic (s_fleet_t *fleet)
{
    //  Dynamic: a gateway that enrols later joins the current wave; a
    //  sensor is kept skipped; after its last wave it keeps running
    const uint64_t t0 = FIXTURE_NOW + 2000000;
    assert (s_call (fleet, "campaign.create", "{\"query\":\"tenant=acme\",\"name\":\"plc\","
                    "\"version\":\"1.0\",\"waves\":[\"100%\"],\"threshold\":\"100%\","
                    "\"dynamic\":true}", t0) == WEFT_STATUS_OK);
    const char *eight = "{\"id\":\"campaign-8\"}";
    assert (s_call (fleet, "campaign.start", eight, t0) == WEFT_STATUS_OK);
    assert (rpc_json_int (fleet->result.result, "offered") == 4);   //  gw-1 runs it
    for (int index = 2; index <= 5; index++) {
        char device [16];
        snprintf (device, sizeof device, "gw-%d", index);
        s_report (fleet, device, "committed", t0, NULL, t0 + 1000);
    }
    assert (s_campaign_is (fleet, "campaign-8", "running", 0));
    director_fixture_device (fleet->store, "gw-6", "acme", "gateway");
    director_fixture_device (fleet->store, "sn-9", "acme", "sensor");
    director_fixture_device (fleet->store, "gx-1", "globex", "gateway");
    assert (s_pace (fleet, t0 + CAMPAIGN_JOIN_MS - 1) == 0);
    assert (s_pace (fleet, t0 + CAMPAIGN_JOIN_MS) == 1);
    json_t *record = s_device (fleet, "campaign-8", "gw-6");
    assert (streq (rpc_json_str (record, "state"), "offered"));
    assert (rpc_json_int (record, "joined_ms") == (json_int_t) (t0 + CAMPAIGN_JOIN_MS));
    json_decref (record);
    record = s_device (fleet, "campaign-8", "sn-9");
    assert (streq (rpc_json_str (record, "state"), "skipped"));
    assert (strstr (rpc_json_str (record, "reason"), "is for gateway"));
    json_decref (record);
    store_txn_t *txn = store_begin (fleet->store, false);
    assert (!campaign_device_get (txn, "campaign-8", "gx-1"));  //  Another tenant's
    store_abort (&txn);
    json_t *campaign = s_campaign (fleet, "campaign-8");
    assert (rpc_json_int (campaign, "devices") == 6);
    json_decref (campaign);
    s_report (fleet, "gw-6", "committed", t0 + CAMPAIGN_JOIN_MS, NULL, t0 + CAMPAIGN_JOIN_MS);
    assert (s_campaign_is (fleet, "campaign-8", "running", 0));
    assert (s_pace (fleet, t0 + 2 * CAMPAIGN_JOIN_MS) == 0);
    assert (s_call (fleet, "campaign.abort", eight, t0 + 2 * CAMPAIGN_JOIN_MS)
            == WEFT_STATUS_OK);

    //  Its creator's interval: the query runs again every join_every
    //  seconds; only a dynamic campaign takes one, of 1 s to a day
    const uint64_t t1 = t0 + 3 * CAMPAIGN_JOIN_MS;
    assert (s_call (fleet, "campaign.create", "{\"query\":\"tenant=acme\",\"name\":\"plc\","
                    "\"version\":\"1.0\",\"waves\":[\"100%\"],\"join_every\":5}", t1)
            == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (fleet->result.error, "only a dynamic campaign"));
    assert (s_call (fleet, "campaign.create", "{\"query\":\"tenant=acme\",\"name\":\"plc\","
                    "\"version\":\"1.0\",\"waves\":[\"100%\"],\"dynamic\":true,"
                    "\"join_every\":86401}", t1) == WEFT_STATUS_BAD_REQUEST);
    assert (s_call (fleet, "campaign.create", "{\"query\":\"tenant=acme\",\"name\":\"plc\","
                    "\"version\":\"1.0\",\"waves\":[\"100%\"],\"threshold\":\"100%\","
                    "\"dynamic\":true,\"join_every\":5}", t1) == WEFT_STATUS_OK);
    campaign = s_campaign (fleet, "campaign-9");
    assert (rpc_json_int (campaign, "join_s") == 5);
    json_decref (campaign);
    assert (s_call (fleet, "campaign.start", "{\"id\":\"campaign-9\"}", t1) == WEFT_STATUS_OK);
    director_fixture_device (fleet->store, "gw-7", "acme", "gateway");
    assert (s_pace (fleet, t1 + 4999) == 0);
    assert (s_pace (fleet, t1 + 5000) == 1);
    assert (s_device_is (fleet, "campaign-9", "gw-7", "offered"));
    assert (s_pace (fleet, t1 + 9999) == 0);        //  Due again 5 s later
    assert (s_call (fleet, "campaign.abort", "{\"id\":\"campaign-9\"}", t1 + 10000)
            == WEFT_STATUS_OK);
}

//  call as role on path (a deployment admin: "admin", "")
static int
s_call_as (s_fleet_t *fleet, const char *role, const char *path, const char *method,
           const char *args, uint64_t now_ms)
{
    return director_fixture_call_at (&fleet->env, fleet->store, role, path, method, args,
                                     now_ms, &fleet->result);
}

static void
s_test_exclude (s_fleet_t *fleet)
{
    //  A deployment admin's configuration over acme and globex, canary
    //  gw-1 then the rest: globex's admin takes globex out; its pending
    //  devices are skipped, the wave no longer waits for them
    const uint64_t t0 = FIXTURE_NOW + 3000000;
    director_fixture_device (fleet->store, "gx-2", "globex", "gateway");
    director_fixture_device (fleet->store, "gx-3", "globex", "gateway");
    const char *ten = "{\"id\":\"campaign-10\",\"tenant\":\"globex\"}";
    assert (s_call_as (fleet, "admin", "", "campaign.create", "{\"query\":\"id=gw-1 or "
                       "id=gx-1 or id=gx-2 or id=gx-3\",\"patch\":{\"fix\":1},"
                       "\"waves\":[\"1\",\"100%\"],\"threshold\":\"2\"}", t0)
            == WEFT_STATUS_OK);
    assert (s_call_as (fleet, "admin", "", "campaign.start", "{\"id\":\"campaign-10\"}", t0)
            == WEFT_STATUS_OK);
    assert (s_device_is (fleet, "campaign-10", "gw-1", "offered"));
    assert (s_call_as (fleet, "operator", "globex", "campaign.exclude", ten, t0)
            == WEFT_STATUS_FORBIDDEN);
    assert (s_call_as (fleet, "admin", "acme", "campaign.exclude", ten, t0)
            == WEFT_STATUS_FORBIDDEN);
    assert (strstr (fleet->result.error, "only an admin of globex"));
    assert (s_call_as (fleet, "admin", "globex", "campaign.exclude", ten, t0)
            == WEFT_STATUS_OK);
    assert (rpc_json_int (fleet->result.result, "skipped") == 3);
    json_t *record = s_device (fleet, "campaign-10", "gx-2");
    assert (streq (rpc_json_str (record, "state"), "skipped"));
    assert (streq (rpc_json_str (record, "reason"), "excluded by globex's admin admin-of-globex"));
    json_decref (record);
    assert (director_fixture_indexed (fleet->store, "q/campaign-10/") == 0);
    store_txn_t *txn = store_begin (fleet->store, false);
    char held [CAMPAIGN_ID_MAX + 1];
    assert (!campaign_of (txn, "gx-2", held));      //  Free for another campaign
    store_abort (&txn);
    assert (s_call_as (fleet, "admin", "globex", "campaign.exclude", ten, t0)
            == WEFT_STATUS_NOT_FOUND);              //  Out already
    //  The canary applies: the second wave has nobody left, finished
    record = s_device (fleet, "campaign-10", "gw-1");
    s_applied (fleet, "gw-1", (uint64_t) rpc_json_int (record, "desired_version"), "ok", t0);
    json_decref (record);
    assert (s_campaign_is (fleet, "campaign-10", "finished", 1));

    //  One its creator made not excludable; one of a single tenant
    assert (s_call_as (fleet, "admin", "", "campaign.create", "{\"query\":\"id=gw-2 or "
                       "id=gx-3\",\"patch\":{\"fix\":2},\"waves\":[\"100%\"],"
                       "\"excludable\":false}", t0) == WEFT_STATUS_OK);
    assert (s_call_as (fleet, "admin", "globex", "campaign.exclude",
                       "{\"id\":\"campaign-11\",\"tenant\":\"globex\"}", t0)
            == WEFT_STATUS_FORBIDDEN);
    assert (strstr (fleet->result.error, "created not excludable"));
    assert (s_call_as (fleet, "admin", "", "campaign.abort", "{\"id\":\"campaign-11\"}", t0)
            == WEFT_STATUS_OK);
    assert (s_call_as (fleet, "admin", "acme", "campaign.create", "{\"query\":\"id=gw-2\","
                       "\"patch\":{\"fix\":3},\"waves\":[\"100%\"]}", t0) == WEFT_STATUS_OK);
    assert (s_call_as (fleet, "admin", "acme", "campaign.exclude",
                       "{\"id\":\"campaign-12\",\"tenant\":\"acme\"}", t0)
            == WEFT_STATUS_CONFLICT);
    assert (strstr (fleet->result.error, "abort it instead"));
    assert (s_call_as (fleet, "admin", "acme", "campaign.abort", "{\"id\":\"campaign-12\"}",
                       t0) == WEFT_STATUS_OK);
}

//  A configured device applies its desired version, ok
static void
s_applies (s_fleet_t *fleet, const char *id, const char *device, uint64_t now_ms)
{
    json_t *record = s_device (fleet, id, device);
    s_applied (fleet, device, (uint64_t) rpc_json_int (record, "desired_version"), "ok",
               now_ms);
    json_decref (record);
}

static void
s_test_success (s_fleet_t *fleet)
{
    //  Waves of 2 and the rest; the next wave starts once 1 of a wave
    //  succeeded; the campaign finishes only when every device ended
    const uint64_t t0 = FIXTURE_NOW + 4000000;
    assert (s_call (fleet, "campaign.create", "{\"query\":\"id=gw-3 or id=gw-4 or "
                    "id=gw-5 or id=gw-6\",\"patch\":{\"s\":1},\"waves\":[\"2\","
                    "\"100%\"],\"success\":\"x\"}", t0) == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (fleet->result.error, "success: 'x' is not"));
    assert (s_call (fleet, "campaign.create", "{\"query\":\"id=gw-3 or id=gw-4 or "
                    "id=gw-5 or id=gw-6\",\"patch\":{\"s\":1},\"waves\":[\"2\","
                    "\"100%\"],\"success\":\"50%\"}", t0) == WEFT_STATUS_OK);
    assert (s_call (fleet, "campaign.start", "{\"id\":\"campaign-13\"}", t0)
            == WEFT_STATUS_OK);
    const char *first [2], *second [2];
    size_t firsts = 0, seconds = 0;
    const char *all [] = { "gw-3", "gw-4", "gw-5", "gw-6" };
    for (size_t index = 0; index < 4; index++)
        if (s_device_is (fleet, "campaign-13", all [index], "offered"))
            first [firsts++] = all [index];
        else
            second [seconds++] = all [index];
    assert (firsts == 2 && seconds == 2);
    s_applies (fleet, "campaign-13", first [0], t0 + 1000);
    assert (s_campaign_is (fleet, "campaign-13", "running", 1));    //  Early
    assert (s_device_is (fleet, "campaign-13", second [0], "offered"));
    assert (s_device_is (fleet, "campaign-13", first [1], "offered"));
    s_applies (fleet, "campaign-13", second [0], t0 + 2000);
    s_applies (fleet, "campaign-13", second [1], t0 + 2000);
    assert (s_campaign_is (fleet, "campaign-13", "running", 1));    //  first [1] goes on
    s_applies (fleet, "campaign-13", first [1], t0 + 3000);
    assert (s_campaign_is (fleet, "campaign-13", "finished", 1));
}

void
campaign_run_test (bool verbose)
{
    printf (" * campaign_run: ");
    //  @selftest
    char dir [] = "/tmp/weft-campaign-run-test-XXXXXX";
    assert (mkdtemp (dir));
    store_t *store = store_new (dir, registry_tables (), 0);
    assert (store);
    s_fleet_t fleet;
    director_fixture_init (&fleet, store);
    uint8_t hash [32];
    director_fixture_release (fleet.store, fleet.repo, 64 * 1024, hash);
    director_fixture_devices (fleet.store, "gw", 5, "acme", "gateway");

    s_test_waves (&fleet);
    s_test_deadlines (&fleet);
    s_test_pace (&fleet);
    s_test_config (&fleet);
    s_test_installed (&fleet);
    s_test_dynamic (&fleet);
    s_test_exclude (&fleet);
    s_test_success (&fleet);

    director_fixture_fini (&fleet);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    if (verbose)
        printf ("(waves, halt, retry, finish, deadlines, pace, soak, config, installed, dynamic, "
                "exclude, success) ");
    //  @end
    printf ("OK\n");
}
