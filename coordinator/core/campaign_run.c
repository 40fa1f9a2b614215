/*  campaign_run - a running campaign follows its devices (see
    campaign_run.h)  */

#include "proto/corelib.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/audit.h"
#include "coordinator/core/campaign_run.h"
#include "coordinator/core/campaign_internal.h"
#include "coordinator/core/campaign_revert.h"
#include "coordinator/core/campaign_site.h"
#include "coordinator/core/rpc_internal.h"

#define S_DEADLINE_KEY_MAX  (2 + 16 + 1 + CAMPAIGN_ID_MAX + 1 + WEFT_NAME_MAX + 1)

void
campaign_run_init (campaign_run_t *run, store_txn_t *txn, pki_t *pki,
                   const uint8_t secret [WEFT_SECRET_SIZE], const char *actor, uint64_t now_ms)
{
    assert (run && txn && actor);
    memset (run, 0, sizeof *run);
    run->txn = txn;
    run->pki = pki;
    run->secret = secret;
    run->actor = actor;
    run->now_ms = now_ms;
    run->status = WEFT_STATUS_OK;
}

void
campaign_run_fini (campaign_run_t *run)
{
    for (size_t index = 0; index < run->offer_count; index++)
        director_batch_destroy (&run->offers [index]);
    run->offer_count = 0;
    zlistx_destroy (&run->directives);
}

size_t
campaign_run_offered (campaign_run_t *run)
{
    size_t offered = run->patched;
    for (size_t index = 0; index < run->offer_count; index++)
        offered += run->offers [index]? director_batch_size (run->offers [index]): 0;
    return offered;
}

int
campaign_run_fail (campaign_run_t *run, int status, const char *format, ...)
{
    if (run->status == WEFT_STATUS_OK) {
        run->status = status;
        va_list args;
        va_start (args, format);
        vsnprintf (run->error, sizeof run->error, format, args);
        va_end (args);
    }
    return -1;
}

//  --------------------------------------------------------------------------
//  Counters per wave, in the campaign record

static json_int_t
s_count (json_t *campaign, const char *name, json_int_t wave)
{
    return json_integer_value (json_array_get (json_object_get (campaign, name),
                                               (size_t) wave));
}

void
campaign_count_add (json_t *campaign, const char *name, json_int_t wave, json_int_t delta)
{
    size_t waves = json_array_size (json_object_get (campaign, "sizes"));
    if (wave < 0 || (size_t) wave >= waves)
        return;
    json_t *counts = json_object_get (campaign, name);
    if (!json_is_array (counts)) {
        counts = json_array ();
        for (size_t index = 0; index < waves; index++)
            json_array_append_new (counts, json_integer (0));
        json_object_set_new (campaign, name, counts);
    }
    json_int_t value = s_count (campaign, name, wave) + delta;
    json_array_set_new (counts, (size_t) wave, json_integer (value < 0? 0: value));
}

//  --------------------------------------------------------------------------
//  Deadlines

static size_t
s_deadline_key (char *key, uint64_t deadline_ms, const char *id, const char *device)
{
    return (size_t) snprintf (key, S_DEADLINE_KEY_MAX, "t/%016" PRIx64 "/%s/%s", deadline_ms,
                              id, device);
}

int
campaign_deadline_set (campaign_run_t *run, const char *id, const char *device,
                       json_t *record, uint64_t deadline_ms)
{
    if (campaign_deadline_drop (run, id, device, record))
        return -1;
    char key [S_DEADLINE_KEY_MAX];
    size_t size = s_deadline_key (key, deadline_ms, id, device);
    json_object_set_new (record, "deadline_ms", json_integer ((json_int_t) deadline_ms));
    return store_put (run->txn, CAMPAIGN_TABLE, key, size, "", 0);
}

int
campaign_deadline_drop (campaign_run_t *run, const char *id, const char *device,
                        json_t *record)
{
    json_int_t deadline_ms = rpc_json_int (record, "deadline_ms");
    if (deadline_ms <= 0)
        return 0;
    char key [S_DEADLINE_KEY_MAX];
    size_t size = s_deadline_key (key, (uint64_t) deadline_ms, id, device);
    json_object_del (record, "deadline_ms");
    return store_del (run->txn, CAMPAIGN_TABLE, key, size) < 0? -1: 0;
}

//  --------------------------------------------------------------------------
//  Audit of the transitions a campaign makes by itself: the deployment's
//  chain and each of its tenants'

int
campaign_audit (campaign_run_t *run, json_t *campaign, const char *action, json_t *detail)
{
    json_t *tenants = json_object_get (campaign, "tenants");
    const char *first = json_string_value (json_array_get (tenants, 0));
    audit_entry_t entry = { "coordinator", action, first? first: "",
                            rpc_json_str (campaign, "id"), WEFT_STATUS_OK, detail, NULL, first };
    int rc = run->pki? audit_append (run->txn, run->pki, run->now_ms, &entry): 0;
    for (size_t index = 1; rc == 0 && run->pki && index < json_array_size (tenants); index++)
        rc = audit_append_tenant (run->txn, run->pki, run->now_ms,
                                  json_string_value (json_array_get (tenants, index)), &entry);
    json_decref (detail);
    return rc? campaign_run_fail (run, WEFT_STATUS_INTERNAL, "audit write failed"): 0;
}

//  --------------------------------------------------------------------------
//  A device's record moves

bool
campaign_device_final (const char *state)
{
    return streq (state, "succeeded") || streq (state, "failed")
        || streq (state, "rolled-back") || streq (state, "skipped");
}

//  Store the device's new state; a final one is counted for its wave
int
campaign_settle (campaign_run_t *run, json_t *campaign, const char *device, json_t *record,
          const char *state, const char *reason)
{
    const char *counter = !campaign_device_final (state)? NULL
                        : streq (state, "succeeded")? "succeeded": "failed";
    return campaign_settle_in (run, campaign, device, record, "state", "reason", state, reason,
                               counter);
}

int
campaign_settle_in (campaign_run_t *run, json_t *campaign, const char *device, json_t *record,
                    const char *state_key, const char *reason_key, const char *state,
                    const char *reason, const char *counter)
{
    const char *id = rpc_json_str (campaign, "id");
    json_object_set_new (record, state_key, json_string (state));
    if (reason && *reason)
        json_object_set_new (record, reason_key, json_string (reason));
    else
        json_object_del (record, reason_key);
    json_object_set_new (record, "updated_ms", json_integer ((json_int_t) run->now_ms));
    if (counter) {
        campaign_count_add (campaign, counter, rpc_json_int (record, "wave"), 1);
        if (campaign_deadline_drop (run, id, device, record))
            return campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
    }
    if (campaign_device_put (run->txn, id, device, record))
        return campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
    return 0;
}

//  --------------------------------------------------------------------------
//  The campaign moves on

int
campaign_halt (campaign_run_t *run, json_t *campaign, const char *counter, const char *what,
               const char *to, json_int_t wave)
{
    json_int_t failed = campaign_total (campaign, counter);
    json_int_t threshold = rpc_json_int (campaign, "threshold_devices");
    if (threshold <= 0 || failed < threshold)
        return 0;
    char reason [WEFT_TEXT_MAX + 1];
    snprintf (reason, sizeof reason, "%" JSON_INTEGER_FORMAT " device%s %s: the threshold is %"
              JSON_INTEGER_FORMAT, failed, failed == 1? "": "s", what, threshold);
    char from [WEFT_NAME_MAX + 1];
    snprintf (from, sizeof from, "%s", rpc_json_str (campaign, "state"));
    json_object_set_new (campaign, "state", json_string (to));
    json_object_set_new (campaign, "reason", json_string (reason));
    //  The sites that run its waves pause too
    if (json_is_true (json_object_get (campaign, "at_sites"))
    &&  campaign_site_directives (run, campaign, false, NULL))
        return -1;
    return campaign_audit (run, campaign, "campaign.halt", json_pack ("{s:s, s:s, s:I, s:I, "
                           "s:I}", "from", from, "state", to, "failed", failed, "threshold",
                           threshold, "wave", wave + 1))? -1: 1;
}

//  Release the holds of a finished campaign's devices
static int
s_release_one (void *arg, const char *device, json_t *record)
{
    campaign_run_t *run = (campaign_run_t *) arg;
    if (!streq (rpc_json_str (record, "state"), "skipped")
    &&  campaign_hold (run->txn, device, NULL))
        return campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
    return 0;
}

int
campaign_advance (campaign_run_t *run, json_t *campaign)
{
    assert (run && campaign);
    const char *id = rpc_json_str (campaign, "id");
    json_t *sizes = json_object_get (campaign, "sizes");
    int rc = 0;
    while (rc == 0 && streq (rpc_json_str (campaign, "state"), "running")) {
        json_int_t failed = campaign_total (campaign, "failed");
        json_int_t wave = rpc_json_int (campaign, "wave");
        int halted = campaign_halt (run, campaign, "failed", "failed", "halted", wave);
        if (halted) {
            rc = halted < 0? -1: 0;
            break;
        }
        json_int_t succeeded = s_count (campaign, "succeeded", wave);
        json_int_t done = succeeded + s_count (campaign, "failed", wave);
        json_int_t size = json_integer_value (json_array_get (sizes, (size_t) wave));
        bool last = (size_t) wave + 1 >= json_array_size (sizes);
        //  A success threshold starts the next wave before the wave's
        //  last devices end (they go on, and count in their wave); the
        //  campaign finishes only when every device has ended
        char error [WEFT_TEXT_MAX + 1];
        bool enough = json_object_get (campaign, "success")
                   && succeeded >= campaign_success (rpc_json_str (campaign, "success"), size,
                                                     error);
        if (wave < 0 || (done < size && (last || !enough)))
            break;
        json_int_t all = 0;
        for (size_t index = 0; index < json_array_size (sizes); index++)
            all += json_integer_value (json_array_get (sizes, index));
        if (last && campaign_total (campaign, "succeeded") + campaign_total (campaign, "failed")
                    < all)
            break;                  //  An earlier wave's last devices still under way
        if ((size_t) wave + 1 >= json_array_size (sizes)
        &&  json_is_true (json_object_get (campaign, "dynamic")))
            break;                  //  Keeps running for the devices that join
        if ((size_t) wave + 1 >= json_array_size (sizes)) {
            json_object_set_new (campaign, "state", json_string ("finished"));
            if (campaign_devices (run->txn, id, s_release_one, run) < 0)
                rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "cannot read the campaign");
            if (rc == 0)
                rc = campaign_audit (run, campaign, "campaign.finish", json_pack ("{s:s, s:s, s:I, "
                              "s:I}", "from", "running", "state", "finished", "succeeded",
                              campaign_total (campaign, "succeeded"), "failed", failed));
            break;
        }
        //  A soak between waves: the next waits for it, in the pace index
        json_int_t soak_s = rpc_json_int (campaign, "soak_s");
        json_int_t until_ms = rpc_json_int (campaign, "soak_until_ms");
        if (soak_s > 0 && !until_ms) {
            until_ms = (json_int_t) run->now_ms + soak_s * 1000;
            json_object_set_new (campaign, "soak_until_ms", json_integer (until_ms));
        }
        if (soak_s > 0 && (uint64_t) until_ms > run->now_ms) {
            if (campaign_pace_at (run, id, (uint64_t) until_ms))
                rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
            break;
        }
        json_object_del (campaign, "soak_until_ms");
        json_object_set_new (campaign, "wave", json_integer (wave + 1));
        size_t before = campaign_run_offered (run);
        rc = campaign_offer_due (run, campaign, false, NULL);
        if (rc && run->status != WEFT_STATUS_INTERNAL) {
            //  The wave cannot be offered (say the release's publication
            //  expired): the campaign halts and says why; what was
            //  offered before the refusal is followed as any offer
            json_object_set_new (campaign, "state", json_string ("halted"));
            json_object_set_new (campaign, "reason", json_string (run->error));
            rc = campaign_audit (run, campaign, "campaign.halt", json_pack ("{s:s, s:s, s:I, s:s}",
                          "from", "running", "state", "halted", "wave", wave + 2,
                          "reason", run->error));
            run->status = WEFT_STATUS_OK;
            *run->error = 0;
            break;
        }
        if (rc == 0)
            rc = campaign_audit (run, campaign, "campaign.wave", json_pack ("{s:I, s:I}",
                          "wave", wave + 2, "offered",
                          (json_int_t) (campaign_run_offered (run) - before)));
    }
    json_object_set_new (campaign, "updated_ms", json_integer ((json_int_t) run->now_ms));
    if (rc == 0 && campaign_put (run->txn, campaign))
        rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
    return rc;
}

//  --------------------------------------------------------------------------
//  Reports

//  The live campaign that holds device and the device's row in it, or
//  NULL (caller decrefs both)
static json_t *
s_held (campaign_run_t *run, const char *device, json_t **record_p)
{
    char id [CAMPAIGN_ID_MAX + 1];
    json_t *campaign = campaign_of (run->txn, device, id)? campaign_get (run->txn, id): NULL;
    *record_p = campaign? campaign_device_get (run->txn, id, device): NULL;
    return campaign;
}

int
campaign_report (campaign_run_t *run, const char *device, json_t *software,
                 uint64_t applied_version, const char *status)
{
    assert (run && device);
    json_t *record;
    json_t *campaign = s_held (run, device, &record);
    if (record && campaign_reverting (campaign)) {
        int rc = campaign_revert_report (run, campaign, device, record, applied_version,
                                         status);
        json_decref (record);
        json_decref (campaign);
        return rc;
    }
    const char *now_state = rpc_json_str (record, "state");
    //  A device its site runs may report before its site does
    //  (campaign_site.h): pending, with the assignment's offered_ms
    bool at_site = json_object_get (record, "at_site") != NULL;
    bool under_way = record && !campaign_device_final (now_state)
                  && (!streq (now_state, "pending") || at_site);
    const char *state = NULL, *reason = NULL;
    char why [WEFT_TEXT_MAX + 1];
    if (under_way && json_object_get (campaign, "patch")) {
        //  A configuration: the device applied (or tried) the version
        //  the patch made, or a later one that holds it too
        json_int_t version = rpc_json_int (record, "desired_version");
        if (version > 0 && applied_version >= (uint64_t) version) {
            bool ok = status && streq (status, "ok");
            state = ok? "succeeded": "failed";
            snprintf (why, sizeof why, "apply failed: %s", status && *status? status: "?");
            reason = ok? NULL: why;
            //  Back to its last good configuration (counted as failed)
            int restored = ok? 0: campaign_revert_failed_device (run, campaign, device, record);
            if (restored < 0) {
                json_decref (record);
                json_decref (campaign);
                return -1;
            }
            if (restored) {
                state = "rolled-back";
                snprintf (why, sizeof why, "apply failed: %s; its previous configuration "
                          "restored", status && *status? status: "?");
            }
        }
    }
    else
    if (under_way && json_is_object (software)
    &&  streq (rpc_json_str (software, "name"), rpc_json_str (campaign, "name"))
    &&  streq (rpc_json_str (software, "version"), rpc_json_str (campaign, "version"))
    &&  rpc_json_int (software, "assigned_ms") == rpc_json_int (record, "offered_ms")) {
        //  Only a report of this campaign's release and assignment counts;
        //  a device waiting for its maintenance window says so
        state = sitemsg_dev_state_name (sitemsg_dev_state_of (rpc_json_str (software, "state"),
                                                              rpc_json_str (software,
                                                                            "waiting")));
        reason = state && streq (state, "rolled-back")? rpc_json_str (software, "error")
                                                      : rpc_json_str (software, "waiting");
    }
    int rc = 0;
    if (state && (!streq (state, now_state)
              ||  !streq (reason? reason: "", rpc_json_str (record, "reason")))) {
        //  A device waiting for its maintenance window has its whole
        //  timeout from the window's opening: the wait is not its fault
        json_int_t opens_ms = rpc_json_int (software, "opens_ms");
        uint64_t deadline_ms = (uint64_t) opens_ms
                             + (uint64_t) rpc_json_int (campaign, "timeout_s") * 1000;
        if (!campaign_device_final (state) && opens_ms > 0 && !at_site
        &&  (uint64_t) opens_ms <= run->now_ms + CAMPAIGN_WINDOW_WAIT_MAX_MS
        &&  deadline_ms > (uint64_t) rpc_json_int (record, "deadline_ms")
        &&  campaign_deadline_set (run, rpc_json_str (campaign, "id"), device, record,
                                   deadline_ms))
            rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
        if (rc == 0)
            rc = campaign_settle (run, campaign, device, record, state, reason);
        if (rc == 0 && campaign_device_final (state))
            rc = campaign_advance (run, campaign);
    }
    json_decref (record);
    json_decref (campaign);
    return rc;
}

int
campaign_refused (campaign_run_t *run, const char *device, const char *reason)
{
    assert (run && device);
    json_t *record;
    json_t *campaign = s_held (run, device, &record);
    int rc = 0;
    if (record && streq (rpc_json_str (record, "state"), "offered")) {
        char why [WEFT_TEXT_MAX + 1];
        snprintf (why, sizeof why, "offer refused: %s", reason && *reason? reason: "no reason");
        rc = campaign_settle (run, campaign, device, record, "failed", why);
        if (rc == 0)
            rc = campaign_advance (run, campaign);
        rc = rc? -1: 1;
    }
    json_decref (record);
    json_decref (campaign);
    return rc;
}

//  --------------------------------------------------------------------------
//  Deadlines passed

typedef struct {
    uint64_t now_ms;
    json_t *due;                    //  [[campaign, device, key]]
} s_expire_t;

static int
s_expire_one (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    (void) value;
    (void) size;
    s_expire_t *expire = (s_expire_t *) arg;
    char text [S_DEADLINE_KEY_MAX];
    if (key_size < 2 + 16 + 2 || key_size >= sizeof text)
        return 0;
    memcpy (text, key, key_size);
    text [key_size] = 0;
    char *end;
    uint64_t deadline_ms = strtoull (text + 2, &end, 16);
    if (end != text + 18 || deadline_ms > expire->now_ms)
        return 1;                   //  In deadline order: the rest are later
    char *slash = strchr (text + 19, '/');
    if (!slash)
        return 0;
    *slash = 0;
    json_array_append_new (expire->due, json_pack ("[s, s, s%]", text + 19, slash + 1,
                                                   (const char *) key, key_size));
    return json_array_size (expire->due) >= CAMPAIGN_SWEEP_MAX;
}

int
campaign_expire (campaign_run_t *run)
{
    assert (run);
    s_expire_t expire = { run->now_ms, json_array () };
    if (store_scan (run->txn, CAMPAIGN_TABLE, "t/", 2, s_expire_one, &expire) < 0) {
        json_decref (expire.due);
        return campaign_run_fail (run, WEFT_STATUS_INTERNAL, "cannot read the deadlines");
    }
    int handled = 0, rc = 0;
    size_t index;
    json_t *row;
    json_array_foreach (expire.due, index, row) {
        const char *id = json_string_value (json_array_get (row, 0));
        const char *device = json_string_value (json_array_get (row, 1));
        const char *key = json_string_value (json_array_get (row, 2));
        json_t *campaign = campaign_get (run->txn, id);
        json_t *record = campaign_device_get (run->txn, id, device);
        const char *state = rpc_json_str (record, "state");
        bool reverting = campaign && record && campaign_reverting (campaign);
        int moved = reverting? campaign_revert_expire (run, campaign, device, record): 0;
        if (moved < 0)
            rc = -1;
        else
        if (moved)
            ;                       //  Its deadline went with its move
        else
        if (!reverting && campaign && record && !campaign_device_final (state)
        &&  !streq (state, "pending") && !campaign_state_final (rpc_json_str (campaign, "state"))) {
            char reason [WEFT_TEXT_MAX + 1];
            snprintf (reason, sizeof reason, "timed out: %s after %" JSON_INTEGER_FORMAT " s",
                      state, rpc_json_int (campaign, "timeout_s"));
            rc = campaign_settle (run, campaign, device, record, "failed", reason);
            if (rc == 0)
                rc = campaign_advance (run, campaign);
        }
        else
        if (store_del (run->txn, CAMPAIGN_TABLE, key, strlen (key)) < 0)
            rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
        handled++;
        json_decref (record);
        json_decref (campaign);
        if (rc)
            break;
    }
    json_decref (expire.due);
    return rc? -1: handled;
}
