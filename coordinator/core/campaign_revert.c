/*  campaign_revert - a configuration campaign undone, wave by wave in
    reverse order (see campaign_revert.h)  */

#include "proto/corelib.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/campaign_revert.h"
#include "coordinator/core/campaign_internal.h"
#include "coordinator/core/rpc_internal.h"

//  --------------------------------------------------------------------------
//  The undo, and whether the keys it restores changed since

json_t *
campaign_revert_undo (json_t *desired, json_t *patch)
{
    json_t *undo = json_object ();
    const char *key;
    json_t *value;
    json_object_foreach (patch, key, value) {
        json_t *before = json_object_get (desired, key);
        if (json_is_object (value) && json_is_object (before))
            //  Merged into the object there: only the keys it touches
            json_object_set_new (undo, key, campaign_revert_undo (before, value));
        else
            json_object_set_new (undo, key, before? json_deep_copy (before): json_null ());
    }
    return undo;
}

static bool
s_changed (json_t *desired, json_t *patch, char *key, size_t size)
{
    const char *name;
    json_t *value;
    json_object_foreach (patch, name, value) {
        json_t *now = json_object_get (desired, name);
        size_t used = strlen (key);
        snprintf (key + used, size - used, "%s%s", used? ".": "", name);
        bool changed = json_is_object (value)
                     ? !json_is_object (now) || s_changed (now, value, key, size)
                     : json_is_null (value)? now != NULL: !json_equal (now, value);
        if (changed)
            return true;
        key [used] = 0;
    }
    return false;
}

bool
campaign_revert_changed (json_t *desired, json_t *patch, char key [WEFT_TEXT_MAX + 1])
{
    *key = 0;
    return s_changed (desired, patch, key, WEFT_TEXT_MAX + 1);
}

int
campaign_revert_failed_device (campaign_run_t *run, json_t *campaign, const char *device,
                               json_t *record)
{
    json_t *undo = json_object_get (record, "undo");
    json_t *twin = undo? registry_twin_get (run->txn, device): NULL;
    char key [WEFT_TEXT_MAX + 1];
    bool restore = twin && !campaign_revert_changed (json_object_get (twin, "desired"),
                                                     json_object_get (campaign, "patch"), key);
    json_decref (twin);
    if (!restore)
        return 0;
    json_int_t version;
    int status;
    char error [WEFT_TEXT_MAX + 1] = "";
    json_t *desired = registry_twin_patch (run->txn, device, undo, &version, &status, error);
    json_decref (desired);
    if (!desired)
        return status == WEFT_STATUS_INTERNAL
             ? campaign_run_fail (run, status, "%s", error): 0;
    json_object_set_new (record, "rollback_version", json_integer (version));
    run->patched++;
    return 1;
}

bool
campaign_reverting (json_t *campaign)
{
    const char *state = rpc_json_str (campaign, "state");
    return streq (state, "reverting") || streq (state, "revert-halted");
}

//  --------------------------------------------------------------------------
//  A device's revert moves

static json_int_t
s_count (json_t *campaign, const char *name, json_int_t wave)
{
    return json_integer_value (json_array_get (json_object_get (campaign, name),
                                               (size_t) wave));
}

//  Store the device's revert state; a final one is counted for its wave
static int
s_settle (campaign_run_t *run, json_t *campaign, const char *device, json_t *record,
          const char *state, const char *reason)
{
    const char *counter = streq (state, "succeeded")? "reverted"
                        : streq (state, "failed")? "revert_failed"
                        : streq (state, "skipped")? "revert_skipped": NULL;
    return campaign_settle_in (run, campaign, device, record, "revert", "revert_reason", state,
                               reason, counter);
}

//  The undo of one device into its desired twin, unless the keys changed
static int
s_offer_one (campaign_run_t *run, json_t *campaign, const char *device, json_t *record)
{
    json_t *twin = registry_twin_get (run->txn, device);
    if (!twin)
        return s_settle (run, campaign, device, record, "failed", "its twin is corrupt");
    //  It holds what the patch set, or its undo already (an earlier
    //  revert of it did not end): either is the campaign's own doing
    char key [WEFT_TEXT_MAX + 1], other [WEFT_TEXT_MAX + 1];
    json_t *desired = json_object_get (twin, "desired");
    bool changed = campaign_revert_changed (desired, json_object_get (campaign, "patch"), key)
                && campaign_revert_changed (desired, json_object_get (record, "undo"), other);
    json_decref (twin);
    if (changed) {
        char reason [WEFT_TEXT_MAX + 1];
        snprintf (reason, sizeof reason, "desired %.150s changed since the campaign set it: "
                  "the newer value is kept", key);
        return s_settle (run, campaign, device, record, "skipped", reason);
    }
    json_int_t version;
    int status;
    char error [WEFT_TEXT_MAX + 1] = "";
    desired = registry_twin_patch (run->txn, device, json_object_get (record, "undo"),
                                   &version, &status, error);
    json_decref (desired);
    if (status == WEFT_STATUS_INTERNAL)
        return campaign_run_fail (run, status, "%s", error);
    if (status)
        return s_settle (run, campaign, device, record, "failed", error);
    run->patched++;
    json_object_set_new (record, "revert_version", json_integer (version));
    if (campaign_deadline_set (run, rpc_json_str (campaign, "id"), device, record, run->now_ms
                               + (uint64_t) rpc_json_int (campaign, "timeout_s") * 1000))
        return campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
    return s_settle (run, campaign, device, record, "offered", NULL);
}

typedef struct {
    json_int_t wave;                //  The wave's pending ones; -1: all with an undo
    json_t *due;                    //  [[device, record]]
} s_due_t;

static int
s_due_one (void *arg, const char *device, json_t *record)
{
    s_due_t *due = (s_due_t *) arg;
    if (json_object_get (record, "undo")
    && (due->wave < 0 || (rpc_json_int (record, "wave") == due->wave
                      &&  streq (rpc_json_str (record, "revert"), "pending"))))
        json_array_append_new (due->due, json_pack ("[s, O]", device, record));
    return 0;
}

//  Call fn for each device of the campaign with an undo: of wave and
//  pending, or (wave -1) all. 0 or -1 (run's error set).
typedef int (s_device_fn) (campaign_run_t *run, json_t *campaign, const char *device,
                           json_t *record);

static int
s_each (campaign_run_t *run, json_t *campaign, json_int_t wave, s_device_fn *fn)
{
    s_due_t due = { wave, json_array () };
    int rc = campaign_devices (run->txn, rpc_json_str (campaign, "id"), s_due_one, &due) < 0
           ? campaign_run_fail (run, WEFT_STATUS_INTERNAL, "cannot read the campaign"): 0;
    size_t index;
    json_t *pair;
    json_array_foreach (due.due, index, pair)
        if (rc == 0)
            rc = fn (run, campaign, json_string_value (json_array_get (pair, 0)),
                     json_array_get (pair, 1));
    json_decref (due.due);
    return rc;
}

static int
s_offer_wave (campaign_run_t *run, json_t *campaign)
{
    return s_each (run, campaign, rpc_json_int (campaign, "revert_wave"), s_offer_one);
}

//  --------------------------------------------------------------------------
//  The revert moves on

//  Release the holds of a reverted campaign's devices it still holds,
//  and drop the due and under-way entries of those its forward run left
//  pending or under way (each put of a device's row keeps them as its
//  forward state says)
typedef struct {
    campaign_run_t *run;
    const char *id;
} s_release_t;

static int
s_release_one (void *arg, const char *device, json_t *record)
{
    s_release_t *release = (s_release_t *) arg;
    char id [CAMPAIGN_ID_MAX + 1];
    if ((campaign_of (release->run->txn, device, id) && streq (id, release->id)
    &&   campaign_hold (release->run->txn, device, NULL))
    ||  campaign_device_unindex (release->run->txn, release->id, device, record))
        return campaign_run_fail (release->run, WEFT_STATUS_INTERNAL, "store write failed");
    return 0;
}

static int
s_advance (campaign_run_t *run, json_t *campaign)
{
    int rc = 0;
    while (rc == 0 && streq (rpc_json_str (campaign, "state"), "reverting")) {
        json_int_t failed = campaign_total (campaign, "revert_failed");
        json_int_t wave = rpc_json_int (campaign, "revert_wave");
        int halted = campaign_halt (run, campaign, "revert_failed", "failed to revert",
                                    "revert-halted", wave);
        if (halted) {
            rc = halted < 0? -1: 0;
            break;
        }
        json_int_t done = s_count (campaign, "reverted", wave)
                        + s_count (campaign, "revert_failed", wave)
                        + s_count (campaign, "revert_skipped", wave);
        if (done < s_count (campaign, "revert_sizes", wave))
            break;
        if (wave <= 0) {
            json_object_set_new (campaign, "state", json_string ("reverted"));
            s_release_t release = { run, rpc_json_str (campaign, "id") };
            if (campaign_devices (run->txn, release.id, s_release_one, &release) < 0
            ||  run->status != WEFT_STATUS_OK)
                rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "cannot read the campaign");
            if (rc == 0)
                rc = campaign_audit (run, campaign, "campaign.reverted", json_pack ("{s:s, "
                                     "s:s, s:I, s:I, s:I}", "from", "reverting", "state",
                                     "reverted", "reverted", campaign_total (campaign,
                                     "reverted"), "skipped", campaign_total (campaign,
                                     "revert_skipped"), "failed", failed));
            break;
        }
        json_object_set_new (campaign, "revert_wave", json_integer (wave - 1));
        size_t before = campaign_run_offered (run);
        rc = s_offer_wave (run, campaign);
        if (rc == 0)
            rc = campaign_audit (run, campaign, "campaign.wave", json_pack ("{s:s, s:I, s:I}",
                                 "phase", "revert", "wave", wave, "offered",
                                 (json_int_t) (campaign_run_offered (run) - before)));
    }
    json_object_set_new (campaign, "updated_ms", json_integer ((json_int_t) run->now_ms));
    if (rc == 0 && campaign_put (run->txn, campaign))
        rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
    return rc;
}

//  One device enters the revert: counted, held again, pending
static int
s_enter (campaign_run_t *run, json_t *campaign, const char *device, json_t *record)
{
    const char *id = rpc_json_str (campaign, "id");
    json_int_t wave = rpc_json_int (record, "wave");
    campaign_count_add (campaign, "revert_sizes", wave, 1);
    //  A forward deadline (or one of an earlier revert) no longer counts
    if (campaign_deadline_drop (run, id, device, record))
        return campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
    const char *state = rpc_json_str (record, "revert");
    if (streq (state, "succeeded") || streq (state, "skipped")) {
        campaign_count_add (campaign, streq (state, "succeeded")? "reverted": "revert_skipped",
                            wave, 1);
        return campaign_device_put (run->txn, id, device, record)
             ? campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed"): 0;
    }
    char holder [CAMPAIGN_ID_MAX + 1];
    if (campaign_of (run->txn, device, holder) && !streq (holder, id)) {
        char reason [WEFT_TEXT_MAX + 1];
        snprintf (reason, sizeof reason, "in %s, which is neither aborted nor finished",
                  holder);
        return s_settle (run, campaign, device, record, "skipped", reason);
    }
    if (campaign_hold (run->txn, device, id))
        return campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
    return s_settle (run, campaign, device, record, "pending", NULL);
}

int
campaign_revert_start (campaign_run_t *run, json_t *campaign)
{
    assert (run && campaign && json_object_get (campaign, "patch"));
    const char *counters [] = { "revert_sizes", "reverted", "revert_failed", "revert_skipped" };
    for (size_t index = 0; index < sizeof counters / sizeof counters [0]; index++)
        json_object_del (campaign, counters [index]);
    int rc = s_each (run, campaign, -1, s_enter);
    //  Out of the pace index: a reverting campaign offers nothing more
    if (rc == 0 && campaign_pace_at (run, rpc_json_str (campaign, "id"), 0))
        rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
    if (rc)
        return rc;
    json_int_t waves = (json_int_t) json_array_size (json_object_get (campaign, "sizes"));
    for (const char **counter = counters; counter < counters + 4; counter++)
        campaign_count_add (campaign, *counter, waves - 1, 0);    //  Zeros, not absent
    json_object_set_new (campaign, "state", json_string ("reverting"));
    json_object_set_new (campaign, "revert_wave", json_integer (waves - 1));
    json_object_del (campaign, "reason");
    json_object_del (campaign, "soak_until_ms");
    rc = s_offer_wave (run, campaign);
    return rc? rc: s_advance (run, campaign);
}

//  --------------------------------------------------------------------------
//  Reports and deadlines

int
campaign_revert_report (campaign_run_t *run, json_t *campaign, const char *device,
                        json_t *record, uint64_t applied_version, const char *status)
{
    assert (run && campaign && device);
    json_int_t version = rpc_json_int (record, "revert_version");
    if (!streq (rpc_json_str (record, "revert"), "offered") || version <= 0
    ||  applied_version < (uint64_t) version)
        return 0;
    bool ok = status && streq (status, "ok");
    char why [WEFT_TEXT_MAX + 1];
    snprintf (why, sizeof why, "apply failed: %s", status && *status? status: "?");
    int rc = s_settle (run, campaign, device, record, ok? "succeeded": "failed",
                       ok? NULL: why);
    return rc? rc: s_advance (run, campaign);
}

int
campaign_revert_expire (campaign_run_t *run, json_t *campaign, const char *device,
                        json_t *record)
{
    assert (run && campaign && device);
    if (!streq (rpc_json_str (record, "revert"), "offered"))
        return 0;
    char reason [WEFT_TEXT_MAX + 1];
    snprintf (reason, sizeof reason, "timed out: reverting after %" JSON_INTEGER_FORMAT " s",
              rpc_json_int (campaign, "timeout_s"));
    int rc = s_settle (run, campaign, device, record, "failed", reason);
    if (rc == 0)
        rc = s_advance (run, campaign);
    return rc? -1: 1;
}
