/*  campaign_join - late joiners of a dynamic campaign (see
    campaign_run.h)
    A dynamic campaign runs its query again, within the scopes its
    creator could change then ("scopes" in its record), at most once
    every join_s seconds (its creator's choice; CAMPAIGN_JOIN_MS when not
    given), from the pace index: a device that matches now
    (enrolled since, or whose tags, place, type or firmware changed),
    of one of the campaign's tenants, and in no campaign that is
    neither aborted nor finished joins the current wave as pending (the
    wave waits for it), or is kept as skipped if the release does not
    fit its type, so it is not looked at again. The query's cost is
    that of the query (the registry's indexes), once an interval per
    dynamic campaign; it never scans on a report.  */

#include "proto/corelib.h"
#include "proto/manifest.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/devquery.h"
#include "coordinator/core/artrepo.h"
#include "coordinator/core/campaign_run.h"
#include "coordinator/core/campaign_internal.h"
#include "coordinator/core/campaign_revert.h"
#include "coordinator/core/rpc_internal.h"

uint64_t
campaign_join_ms (const json_t *campaign)
{
    json_int_t join_s = json_integer_value (json_object_get (campaign, "join_s"));
    return join_s > 0? (uint64_t) join_s * 1000: CAMPAIGN_JOIN_MS;
}

typedef struct {
    campaign_run_t *run;
    json_t *campaign;
    const char *id;
    json_int_t wave;
    zhashx_t *manifests;            //  Tenant -> its release's manifest bytes (a cache)
    size_t joined;
    int rc;
} s_join_t;

//  Why the release does not fit the device's type, or NULL if it does
static const char *
s_misfit (s_join_t *join, registry_device_t *device, char reason [WEFT_TEXT_MAX + 1])
{
    if (json_object_get (join->campaign, "patch"))
        return NULL;                //  Every device takes a configuration
    const char *name = rpc_json_str (join->campaign, "name");
    const char *version = rpc_json_str (join->campaign, "version");
    zchunk_t *bytes = (zchunk_t *) zhashx_lookup (join->manifests, device->tenant);
    if (!bytes) {
        size_t size = 0;
        uint8_t *data = artrepo_manifest (join->run->txn, device->tenant, name, version, &size);
        bytes = zchunk_new (data, data? size: 0);
        free (data);
        zhashx_insert (join->manifests, device->tenant, bytes);
    }
    manifest_t manifest;
    const char *type = device->type? device->type: "";
    if (zchunk_size (bytes) == 0
    ||  manifest_decode (&manifest, zchunk_data (bytes), zchunk_size (bytes)))
        snprintf (reason, WEFT_TEXT_MAX + 1, "no release %s %s in tenant %s", name, version,
                  device->tenant);
    else
    if (!manifest_fits (&manifest, type))
        snprintf (reason, WEFT_TEXT_MAX + 1, "type %.64s; %s %s is for %.64s",
                  *type? type: "(none)", name, version, manifest.types);
    else
        return NULL;
    return reason;
}

static int
s_join_one (void *arg, registry_device_t *device)
{
    s_join_t *join = (s_join_t *) arg;
    campaign_run_t *run = join->run;
    char held [CAMPAIGN_ID_MAX + 1];
    if (!device->tenant || !campaign_has_tenant (join->campaign, device->tenant)
    ||  campaign_of (run->txn, device->id, held))
        return 0;
    json_t *before = campaign_device_get (run->txn, join->id, device->id);
    json_decref (before);
    if (before)
        return 0;                   //  Skipped before: not looked at again
    char reason [WEFT_TEXT_MAX + 1];
    const char *misfit = s_misfit (join, device, reason);
    const char *path = device->path && *device->path? device->path: device->tenant;
    json_t *record = json_pack ("{s:i, s:s, s:s, s:s, s:s, s:I}", "wave",
        misfit? -1: (int) join->wave, "state", misfit? "skipped": "pending",
        "tenant", device->tenant, "type", device->type? device->type: "", "path", path,
        "joined_ms", (json_int_t) run->now_ms);
    if (misfit)
        json_object_set_new (record, "reason", json_string (misfit));
    int rc = campaign_device_add (run->txn, join->id, device->id, record);
    json_decref (record);
    if (rc == 0 && !misfit) {
        rc = campaign_hold (run->txn, device->id, join->id);
        //  The wave waits for it
        json_t *sizes = json_object_get (join->campaign, "sizes");
        json_array_set_new (sizes, (size_t) join->wave, json_integer (
            json_integer_value (json_array_get (sizes, (size_t) join->wave)) + 1));
        json_object_set_new (join->campaign, "devices", json_integer (
            rpc_json_int (join->campaign, "devices") + 1));
        join->joined++;
    }
    else
    if (rc == 0)
        json_object_set_new (join->campaign, "skipped", json_integer (
            rpc_json_int (join->campaign, "skipped") + 1));
    if (rc) {
        join->rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
        return 1;
    }
    return join->joined >= CAMPAIGN_SWEEP_MAX
        || rpc_json_int (join->campaign, "devices") >= CAMPAIGN_DEVICES_MAX;
}

int
campaign_join (campaign_run_t *run, json_t *campaign)
{
    assert (run && campaign);
    const char *state = rpc_json_str (campaign, "state");
    if (!json_is_true (json_object_get (campaign, "dynamic"))
    ||  campaign_state_final (state) || streq (state, "created")
    ||  campaign_reverting (campaign))
        return 0;
    char error [WEFT_TEXT_MAX + 1];
    query_t *query = query_new (rpc_json_str (campaign, "query"), error, sizeof error);
    if (!query)
        return campaign_run_fail (run, WEFT_STATUS_INTERNAL, "campaign %s: its query: %s",
                                  rpc_json_str (campaign, "id"), error);
    devquery_ctx_t ctx = { NULL, run->txn, run->now_ms, { NULL }, 0 };
    size_t index;
    json_t *scope;
    json_array_foreach (json_object_get (campaign, "scopes"), index, scope)
        if (ctx.scope_count < DEVQUERY_SCOPES_MAX)
            ctx.scopes [ctx.scope_count++] = json_string_value (scope);
    json_int_t wave = rpc_json_int (campaign, "wave");
    s_join_t join = { run, campaign, rpc_json_str (campaign, "id"), wave < 0? 0: wave,
                      zhashx_new (), 0, 0 };
    zhashx_set_destructor (join.manifests, (czmq_destructor *) zchunk_destroy);
    if (devquery_run (&ctx, query, s_join_one, &join, NULL) < 0 && join.rc == 0)
        join.rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "cannot read the registry");
    query_destroy (&query);
    zhashx_destroy (&join.manifests);
    json_object_set_new (campaign, "joined_ms", json_integer ((json_int_t) run->now_ms));
    return join.rc? -1: (int) join.joined;
}
