/*  campaign_offer - offers of a campaign's due devices, paced (see
    campaign_run.h): at most `rate` devices a minute (a bucket of
    `rate` offers that refills continuously), at most `concurrency`
    devices under way per site (offered, downloading, waiting-window or
    installing; the site of a device is the nearest place above it, or
    itself, of level site in the hierarchy, else the first two segments
    of its path). A
    due device held back stays pending, and the campaign is put in the
    pace index to be offered again when a slot may be free:
        p/<campaign>     (8 bytes: when, unix ms, big-endian)
    The index holds the few campaigns that wait (pacing, or soaking
    between waves), so the sweep at each tick reads only those. The due
    devices come from the campaign's due index (q/, campaign.h: keys
    and paths, no record read for a device the pace holds back), a
    site's devices under way from its range of the w/ index; only a
    retry reads every device record.  */

#include "proto/corelib.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/hierarchy.h"
#include "coordinator/core/campaign_run.h"
#include "coordinator/core/campaign_internal.h"
#include "coordinator/core/campaign_revert.h"
#include "coordinator/core/rpc_internal.h"

//  --------------------------------------------------------------------------
//  Offers

#define S_PACE_MS   5000        //  Soonest a paced campaign is looked at again

typedef struct {
    campaign_run_t *run;
    const char *id;
    int64_t wave;
    bool retry;                     //  Failed devices are due again too
    json_t *due;                    //  [[device, path]]
    json_t *under_way;              //  Site -> devices under way (those read)
    zhashx_t *site_of;              //  Path -> its site (a cache)
} s_due_t;

//  The site of a place: the nearest place at or above it of level site,
//  else its first two segments; each path's answer kept in cache
const char *
campaign_site (store_txn_t *txn, zhashx_t *cache, const char *path)
{
    assert (txn && cache && path);
    const char *site = (const char *) zhashx_lookup (cache, path);
    if (site)
        return site;
    char prefix [HIERARCHY_PATH_MAX + 1], found [HIERARCHY_PATH_MAX + 1] = "";
    snprintf (prefix, sizeof prefix, "%s", path);
    const char *second = strchr (path, '/');
    second = second? strchr (second + 1, '/'): NULL;
    snprintf (found, sizeof found, "%.*s", second? (int) (second - path): (int) strlen (path),
              path);
    for (size_t depth = 0; depth < HIERARCHY_DEPTH_MAX && *prefix; depth++) {
        json_t *node = hierarchy_get (txn, prefix);
        bool is_site = streq (rpc_json_str (node, "level"), "site");
        json_decref (node);
        if (is_site) {
            snprintf (found, sizeof found, "%s", prefix);
            break;
        }
        char *slash = strrchr (prefix, '/');
        if (!slash)
            break;
        *slash = 0;
    }
    zhashx_insert (cache, path, strdup (found));
    return (const char *) zhashx_lookup (cache, path);
}

zhashx_t *
campaign_sites_new (void)
{
    zhashx_t *cache = zhashx_new ();
    zhashx_set_destructor (cache, (czmq_destructor *) zstr_free);
    return cache;
}

//  A retry: the pending and the failed devices of the waves so far
static int
s_due_one (void *arg, const char *device, json_t *record)
{
    s_due_t *due = (s_due_t *) arg;
    json_int_t wave = rpc_json_int (record, "wave");
    const char *state = rpc_json_str (record, "state");
    bool failed = streq (state, "failed") || streq (state, "rolled-back");
    //  A device its site runs is retried by its site (campaign_site.h)
    if (json_object_get (record, "at_site"))
        return 0;
    if (wave >= 0 && wave <= due->wave && (streq (state, "pending") || (due->retry && failed)))
        json_array_append_new (due->due, json_pack ("[s, s]", device,
                                                    rpc_json_str (record, "path")));
    return 0;
}

//  Else: the pending devices of the waves so far, from the due index,
//  in wave order
static int
s_pending_one (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    s_due_t *due = (s_due_t *) arg;
    size_t prefix = 2 + strlen (due->id) + 1;
    if (key_size < prefix + 5 || ((const char *) key) [prefix + 4] != '/')
        return 0;
    char hex [5];
    memcpy (hex, (const char *) key + prefix, 4);
    hex [4] = 0;
    if ((int64_t) strtol (hex, NULL, 16) > due->wave)
        return 1;                       //  Later waves: not yet
    json_array_append_new (due->due, json_pack ("[s%, s%]", (const char *) key + prefix + 5,
                                                key_size - prefix - 5, (const char *) value,
                                                size));
    return 0;
}

static int
s_count_one (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    (void) key, (void) key_size, (void) value, (void) size;
    (*(json_int_t *) arg)++;
    return 0;
}

//  The devices under way at site (its range of the w/ index, read once
//  per call and then counted here)
static json_int_t
s_under_way_at (s_due_t *due, const char *site)
{
    json_t *count = json_object_get (due->under_way, site);
    if (count)
        return json_integer_value (count);
    char prefix [CAMPAIGN_ID_MAX + HIERARCHY_PATH_MAX + 8];
    int size = snprintf (prefix, sizeof prefix, "w/%s/%s ", due->id, site);
    json_int_t counted = 0;
    if (store_scan (due->run->txn, CAMPAIGN_TABLE, prefix, (size_t) size, s_count_one,
                    &counted) < 0)
        return -1;
    json_object_set_new (due->under_way, site, json_integer (counted));
    return counted;
}

int
campaign_pace_at (campaign_run_t *run, const char *id, uint64_t when_ms)
{
    char key [CAMPAIGN_ID_MAX + 3];
    size_t size = (size_t) snprintf (key, sizeof key, "p/%s", id);
    if (!when_ms)
        return store_del (run->txn, CAMPAIGN_TABLE, key, size) < 0? -1: 0;
    uint8_t value [8];
    proto_put_be64 (value, when_ms);
    return store_put (run->txn, CAMPAIGN_TABLE, key, size, value, 8);
}

//  The offers the rate allows now: the bucket refilled since it was last
//  drawn from, at most rate; a campaign without a rate has no limit
static double
s_tokens (campaign_run_t *run, json_t *campaign)
{
    json_int_t rate = rpc_json_int (campaign, "rate");
    if (rate <= 0)
        return INFINITY;
    json_t *held = json_object_get (campaign, "tokens");
    if (!held)
        return (double) rate;
    double tokens = json_number_value (held);
    uint64_t since = (uint64_t) rpc_json_int (campaign, "tokens_ms");
    if (run->now_ms > since)
        tokens += (double) rate * (double) (run->now_ms - since) / 60000.0;
    return tokens < (double) rate? tokens: (double) rate;
}

//  The batch of tenant, made on first use; NULL with the run's error set
static director_batch_t *
s_batch (campaign_run_t *run, json_t *campaign, zhashx_t *batches, const char *tenant)
{
    director_batch_t *batch = (director_batch_t *) zhashx_lookup (batches, tenant);
    if (batch)
        return batch;
    if (run->offer_count == CAMPAIGN_TENANTS_MAX) {
        campaign_run_fail (run, WEFT_STATUS_BAD_REQUEST, "a wave offers to at most %d "
                           "tenants", CAMPAIGN_TENANTS_MAX);
        return NULL;
    }
    int status;
    char error [WEFT_TEXT_MAX + 1] = "";
    batch = director_batch_new (run->txn, tenant, rpc_json_str (campaign, "name"),
                                rpc_json_str (campaign, "version"), run->now_ms, &status, error);
    if (!batch) {
        campaign_run_fail (run, status, "%s", error);
        return NULL;
    }
    run->offers [run->offer_count++] = batch;
    zhashx_insert (batches, tenant, batch);
    return batch;
}

//  Does the device run the campaign's release already (its last report)?
static bool
s_runs_it (campaign_run_t *run, json_t *campaign, const char *device)
{
    json_t *twin = registry_twin_get (run->txn, device);
    json_t *software = json_object_get (json_object_get (twin, "reported"), "software");
    bool runs = streq (rpc_json_str (software, "state"), "committed")
             && streq (rpc_json_str (software, "name"), rpc_json_str (campaign, "name"))
             && streq (rpc_json_str (software, "installed"), rpc_json_str (campaign, "version"));
    json_decref (twin);
    return runs;
}

int
campaign_offer_due (campaign_run_t *run, json_t *campaign, bool retry, size_t *retried_p)
{
    assert (run && campaign);
    if (!run->secret && !json_object_get (campaign, "patch"))
        return campaign_run_fail (run, WEFT_STATUS_INTERNAL, "no signing key for assignments");
    const char *id = rpc_json_str (campaign, "id");
    json_t *patch = json_object_get (campaign, "patch");
    json_int_t concurrency = rpc_json_int (campaign, "concurrency");
    s_due_t due = { run, id, rpc_json_int (campaign, "wave"), retry, json_array (),
                    json_object (), campaign_sites_new () };
    zhashx_t *batches = zhashx_new ();      //  Tenant -> batch, owned by the run
    char prefix [CAMPAIGN_ID_MAX + 4];
    int prefix_size = snprintf (prefix, sizeof prefix, "q/%s/", id);
    int64_t read = retry? campaign_devices (run->txn, id, s_due_one, &due)
                        : store_scan (run->txn, CAMPAIGN_TABLE, prefix, (size_t) prefix_size,
                                      s_pending_one, &due);
    int rc = read < 0? campaign_run_fail (run, WEFT_STATUS_INTERNAL, "cannot read the campaign")
                     : 0;
    uint64_t expires_ms = run->now_ms + (uint64_t) DIRECTOR_TTL_S * 1000;
    //  Retried: pending again, no longer counted as failed, whether the
    //  pace offers them now or later
    size_t index;
    json_t *pair;
    json_array_foreach (due.due, index, pair) {
        if (rc || !retry)
            break;
        const char *device = json_string_value (json_array_get (pair, 0));
        json_t *record = campaign_device_get (run->txn, id, device);
        if (record && !streq (rpc_json_str (record, "state"), "pending")) {
            campaign_count_add (campaign, "failed", rpc_json_int (record, "wave"), -1);
            if (retried_p)
                (*retried_p)++;
            rc = campaign_settle (run, campaign, device, record, "pending", NULL);
        }
        json_decref (record);
    }
    double tokens = s_tokens (run, campaign);
    size_t held = 0;                        //  Due devices the pace holds back
    bool by_rate = false;
    json_array_foreach (due.due, index, pair) {
        if (rc)
            break;
        const char *device = json_string_value (json_array_get (pair, 0));
        //  The pace first: a device it holds back costs no record read
        const char *site = concurrency > 0
                         ? campaign_site (run->txn, due.site_of,
                                          json_string_value (json_array_get (pair, 1)))
                         : NULL;
        json_int_t busy = site? s_under_way_at (&due, site): 0;
        if (busy < 0) {
            rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "cannot read the campaign");
            break;
        }
        if (concurrency > 0 && busy >= concurrency) {
            held++;
            continue;
        }
        if (tokens < 1) {
            held++;
            by_rate = true;
            break;                      //  None of the rest either
        }
        json_t *record = campaign_device_get (run->txn, id, device);
        if (!record) {
            rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "cannot read the campaign");
            break;
        }
        //  Owned by the list from here (freed with it)
        json_array_set_new (pair, 1, record);
        if (!patch && s_runs_it (run, campaign, device)) {
            rc = campaign_settle (run, campaign, device, record, "succeeded",
                                  "already installed");
            continue;
        }
        char error [WEFT_TEXT_MAX + 1] = "";
        int status;
        if (patch) {
            //  A configuration: the patch into the device's desired twin,
            //  which it takes at its next check-in; its undo (the values
            //  before) in its record, in this transaction, once: a retry
            //  keeps the first (campaign_revert.h)
            json_int_t version;
            json_t *twin = json_object_get (record, "undo")? NULL
                         : registry_twin_get (run->txn, device);
            json_t *undo = twin? campaign_revert_undo (json_object_get (twin, "desired"),
                                                       patch): NULL;
            json_decref (twin);
            json_t *desired = registry_twin_patch (run->txn, device, patch, &version, &status,
                                                   error);
            json_decref (desired);
            if (desired) {
                json_object_set_new (record, "desired_version", json_integer (version));
                if (undo)
                    json_object_set (record, "undo", undo);
                run->patched++;
            }
            json_decref (undo);
        }
        else {
            director_batch_t *batch = s_batch (run, campaign, batches,
                                               rpc_json_str (record, "tenant"));
            if (!batch) {
                rc = -1;
                break;
            }
            //  A device whose type changed since is failed, not a refusal
            status = director_batch_add (batch, run->txn, device, rpc_json_str (record, "type"),
                                         run->actor, run->secret, run->now_ms, expires_ms,
                                         error);
        }
        if (status == WEFT_STATUS_INTERNAL) {
            rc = campaign_run_fail (run, status, "%s", error);
            break;
        }
        if (status) {
            rc = campaign_settle (run, campaign, device, record, "failed", error);
            continue;
        }
        tokens -= 1;
        if (concurrency > 0)
            json_object_set_new (due.under_way, site, json_integer (busy + 1));
        if (site)
            json_object_set_new (record, "site", json_string (site));
        json_object_set_new (record, "offered_ms", json_integer ((json_int_t) run->now_ms));
        if (campaign_deadline_set (run, id, device, record, run->now_ms
                                   + (uint64_t) rpc_json_int (campaign, "timeout_s") * 1000))
            rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
        else
            rc = campaign_settle (run, campaign, device, record, "offered", NULL);
    }
    if (rc == 0 && rpc_json_int (campaign, "rate") > 0) {
        json_object_set_new (campaign, "tokens", json_real (tokens));
        json_object_set_new (campaign, "tokens_ms", json_integer ((json_int_t) run->now_ms));
    }
    //  Held back: looked at again when the next offer may be allowed; a
    //  dynamic campaign, when it runs its query again
    uint64_t when_ms = 0;
    if (held) {
        json_int_t rate = rpc_json_int (campaign, "rate");
        uint64_t wait_ms = by_rate? (uint64_t) ((1 - tokens) * 60000.0 / (double) rate) + 1: 0;
        when_ms = run->now_ms + (wait_ms > S_PACE_MS? wait_ms: S_PACE_MS);
    }
    if (json_is_true (json_object_get (campaign, "dynamic"))) {
        json_int_t joined_ms = rpc_json_int (campaign, "joined_ms");
        uint64_t join_ms = (uint64_t) (joined_ms? joined_ms: (json_int_t) run->now_ms)
                         + campaign_join_ms (campaign);
        when_ms = when_ms && when_ms < join_ms? when_ms: join_ms;
    }
    if (rc == 0 && when_ms)
        rc = campaign_pace_at (run, id, when_ms);
    zhashx_destroy (&batches);
    zhashx_destroy (&due.site_of);
    json_decref (due.due);
    json_decref (due.under_way);
    return rc;
}

//  --------------------------------------------------------------------------
//  The campaigns that wait: paced offers, a soak between waves

typedef struct {
    uint64_t now_ms;
    json_t *due;                    //  [campaign]
} s_pace_t;

static int
s_pace_one (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    s_pace_t *pace = (s_pace_t *) arg;
    if (size == 8 && proto_get_be64 ((const uint8_t *) value) <= pace->now_ms
    &&  key_size > 2 && key_size <= 2 + CAMPAIGN_ID_MAX)
        json_array_append_new (pace->due, json_stringn ((const char *) key + 2, key_size - 2));
    return json_array_size (pace->due) >= CAMPAIGN_SWEEP_MAX;
}

int
campaign_pace (campaign_run_t *run)
{
    assert (run);
    s_pace_t pace = { run->now_ms, json_array () };
    if (store_scan (run->txn, CAMPAIGN_TABLE, "p/", 2, s_pace_one, &pace) < 0) {
        json_decref (pace.due);
        return campaign_run_fail (run, WEFT_STATUS_INTERNAL, "cannot read the pace index");
    }
    int rc = 0;
    size_t index;
    json_t *item;
    json_array_foreach (pace.due, index, item) {
        const char *id = json_string_value (item);
        json_t *campaign = campaign_get (run->txn, id);
        //  Out of the index; the offers or the soak put it back if it
        //  still waits. A campaign not running waits for resume or retry.
        rc = campaign_pace_at (run, id, 0);
        json_int_t joined_ms = rpc_json_int (campaign, "joined_ms");
        if (rc == 0 && campaign
        &&  run->now_ms >= (uint64_t) joined_ms + campaign_join_ms (campaign)
        &&  campaign_join (run, campaign) < 0)
            rc = -1;
        if (rc == 0 && streq (rpc_json_str (campaign, "state"), "running")
        &&  !json_object_get (campaign, "soak_until_ms"))
            rc = campaign_offer_due (run, campaign, false, NULL);
        else
        if (rc == 0 && json_is_true (json_object_get (campaign, "dynamic"))
        &&  !campaign_state_final (rpc_json_str (campaign, "state")))
            rc = campaign_pace_at (run, id, run->now_ms + campaign_join_ms (campaign));
        if (rc == 0 && campaign)
            rc = campaign_advance (run, campaign);
        json_decref (campaign);
        if (rc)
            break;
    }
    int handled = (int) json_array_size (pace.due);
    json_decref (pace.due);
    return rc? -1: handled;
}
