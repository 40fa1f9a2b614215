/*  rpc_campaign - the methods of release campaigns: campaign.create,
    show, list, start, pause, resume, abort, retry, revert
    A campaign targets the devices a query matches where the caller may
    call the method (write on their places, as update.assign), all of
    one tenant, unless the caller is a deployment admin (admin on
    everything), who may target several: each tenant's devices then get
    the release NAME VERSION of their own tenant's repository, which
    must hold it. A device whose type the release does not fit is
    skipped, with the reason, not failed. A device is in at most one
    campaign that is neither aborted nor finished: a second one that
    targets it is refused (campaign.h, x/ index). Who may move a
    campaign may change every device it holds; who may read one of its
    tenants sees it, and of its devices those it may read. The model is
    in campaign.h; campaign.show and campaign.list in rpc_campaign_show.c.  */

#include "proto/corelib.h"
#include "proto/manifest.h"
#include "coordinator/core/campaign.h"
#include "coordinator/core/campaign_run.h"
#include "coordinator/core/campaign_revert.h"
#include "coordinator/core/campaign_site.h"
#include "coordinator/core/rpc_internal.h"

//  One batch of offers per tenant of a wave: the result's and its more
_Static_assert (CAMPAIGN_TENANTS_MAX == RPC_OFFER_BATCHES + 1, "offer batches of a wave");

#define S_SKIPPED_SHOWN     100     //  Skipped devices listed in create's result

//  The devices the query matches where the caller may act
typedef struct {
    json_t *devices;                //  [{id, tenant, type, path}]
    json_t *tenants;                //  Tenant -> its device count
    bool unnamed;                   //  A device without a tenant was met
} s_target_t;

static int
s_target_one (void *arg, registry_device_t *device)
{
    s_target_t *target = (s_target_t *) arg;
    const char *tenant = device->tenant? device->tenant: "";
    if (!*tenant)
        target->unnamed = true;
    json_array_append_new (target->devices, json_pack ("{s:s, s:s, s:s, s:s}",
        "id", device->id, "tenant", tenant, "type", device->type? device->type: "",
        "path", device->path && *device->path? device->path: tenant));
    json_t *count = json_object_get (target->tenants, tenant);
    json_object_set_new (target->tenants, tenant,
                         json_integer (json_integer_value (count) + 1));
    return json_array_size (target->devices) > CAMPAIGN_DEVICES_MAX;
}

//  The size text argument key, fallback if absent; NULL with the error set
static const char *
s_arg_size (rpc_call_t *call, const char *key, const char *fallback)
{
    json_t *value = json_object_get (call->args, key);
    if (!value)
        return fallback;
    if (!json_is_string (value)) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "%s: want N or P%% as a string", key);
        return NULL;
    }
    return json_string_value (value);
}

//  The fitting devices and the skipped ones, per tenant's manifest; false
//  with the error set (no release in a tenant)
static bool
s_fit (rpc_call_t *call, s_target_t *target, const char *name, const char *version,
       json_t *fitting, json_t *skipped)
{
    zhashx_t *manifests = zhashx_new ();
    zhashx_set_destructor (manifests, (czmq_destructor *) director_batch_destroy);
    const char *tenant;
    json_t *count;
    json_object_foreach (target->tenants, tenant, count) {
        int status;
        char error [WEFT_TEXT_MAX + 1] = "";
        director_batch_t *batch = director_batch_new (call->txn, tenant, name, version,
                                                      call->now_ms, &status, error);
        if (!batch) {
            rpc_fail (call, status, "%s", error);
            zhashx_destroy (&manifests);
            return false;
        }
        zhashx_insert (manifests, tenant, batch);
    }
    size_t index;
    json_t *device;
    json_array_foreach (target->devices, index, device) {
        director_batch_t *batch = (director_batch_t *) zhashx_lookup (manifests,
            rpc_json_str (device, "tenant"));
        const manifest_t *manifest = director_batch_manifest (batch);
        const char *type = rpc_json_str (device, "type");
        if (manifest_fits (manifest, type))
            json_array_append (fitting, device);
        else {
            json_t *row = json_deep_copy (device);
            char reason [WEFT_TEXT_MAX + 1];
            snprintf (reason, sizeof reason, "type %.64s; %s %s is for %.64s",
                      *type? type: "(none)", name, version, manifest->types);
            json_object_set_new (row, "reason", json_string (reason));
            json_array_append_new (skipped, row);
        }
    }
    zhashx_destroy (&manifests);
    return true;
}

//  The first device already held by a live campaign; false with the error set
static bool
s_free (rpc_call_t *call, json_t *fitting)
{
    size_t index;
    json_t *device;
    json_array_foreach (fitting, index, device) {
        char held [CAMPAIGN_ID_MAX + 1];
        if (campaign_of (call->txn, rpc_json_str (device, "id"), held)) {
            rpc_fail (call, WEFT_STATUS_CONFLICT, "device %s is in %s, which is neither "
                      "aborted nor finished: a device is in one campaign at a time "
                      "(abort it, or narrow the query)", rpc_json_str (device, "id"), held);
            return false;
        }
    }
    return true;
}

//  Store the campaign, its devices and their holds; false with the error set
static bool
s_store (rpc_call_t *call, json_t *campaign, json_t *fitting, json_t *skipped,
         const size_t *sizes)
{
    const char *id = rpc_json_str (campaign, "id");
    bool ok = campaign_put (call->txn, campaign) == 0;
    size_t wave = 0, taken = 0, index;
    json_t *device;
    json_array_foreach (fitting, index, device) {
        while (taken == sizes [wave]) {
            wave++;
            taken = 0;
        }
        taken++;
        json_t *record = json_pack ("{s:i, s:s, s:O, s:O, s:O}", "wave", (int) wave,
            "state", "pending", "tenant", json_object_get (device, "tenant"),
            "type", json_object_get (device, "type"), "path", json_object_get (device, "path"));
        const char *name = rpc_json_str (device, "id");
        ok = ok && campaign_device_add (call->txn, id, name, record) == 0
                && campaign_hold (call->txn, name, id) == 0;
        json_decref (record);
    }
    json_array_foreach (skipped, index, device) {
        json_t *record = json_pack ("{s:i, s:s, s:O, s:O, s:O, s:O}", "wave", -1,
            "state", "skipped", "reason", json_object_get (device, "reason"),
            "tenant", json_object_get (device, "tenant"), "type",
            json_object_get (device, "type"), "path", json_object_get (device, "path"));
        ok = ok && campaign_device_add (call->txn, id, rpc_json_str (device, "id"),
                                        record) == 0;
        json_decref (record);
    }
    if (!ok)
        rpc_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
    return ok;
}

//  The audit record: one per tenant when the campaign has several
static void
s_audit (rpc_call_t *call, json_t *campaign, json_t *detail)
{
    json_t *tenants = json_object_get (campaign, "tenants");
    const char *id = rpc_json_str (campaign, "id");
    rpc_audit_set (call, json_string_value (json_array_get (tenants, 0)), id);
    json_object_set_new (detail, "id", json_string (id));
    if (json_array_size (tenants) > 1) {
        call->tenants = json_object ();
        size_t index;
        json_t *tenant;
        json_array_foreach (tenants, index, tenant)
            json_object_set (call->tenants, json_string_value (tenant), detail);
    }
    call->detail = detail;
}

void
rpc_campaign_create (rpc_call_t *call)
{
    const char *name = NULL, *version = NULL, *threshold_text, *success_text;
    json_int_t timeout_s, rate, concurrency, soak_s, join_s;
    bool allow_empty, dynamic, excludable, at_sites;
    query_t *query;
    //  The payload: a release (name, version), or a patch of the desired twin
    json_t *patch = json_object_get (call->args, "patch");
    if (patch && (json_object_get (call->args, "name") || json_object_get (call->args,
                                                                            "version"))) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "a campaign carries a release (name, "
                  "version) or a patch of the desired twin, not both");
        return;
    }
    if ((patch && !rpc_patch_valid (call, patch))
    ||  !rpc_arg_name (call, "name", !patch, false, &name)
    ||  !rpc_arg_name (call, "version", !patch, false, &version)
    ||  !rpc_arg_int (call, "timeout", CAMPAIGN_TIMEOUT_S, CAMPAIGN_TIMEOUT_MAX_S, &timeout_s)
    ||  !rpc_arg_int (call, "rate", 0, CAMPAIGN_RATE_MAX, &rate)
    ||  !rpc_arg_int (call, "concurrency", 0, CAMPAIGN_DEVICES_MAX, &concurrency)
    ||  !rpc_arg_int (call, "soak", 0, CAMPAIGN_TIMEOUT_MAX_S, &soak_s)
    ||  !rpc_arg_bool (call, "allow_empty", &allow_empty)
    ||  !rpc_arg_bool (call, "dynamic", &dynamic)
    ||  !rpc_arg_bool (call, "excludable", &excludable)
    ||  !rpc_arg_bool (call, "at_sites", &at_sites)
    ||  !rpc_arg_int (call, "join_every", 0, CAMPAIGN_JOIN_MAX_S, &join_s)
    ||  !(threshold_text = s_arg_size (call, "threshold", "1"))
    ||  !(success_text = s_arg_size (call, "success", "100%"))
    ||  !rpc_arg_query (call, &query))
        return;
    if (!query) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "query: name the campaign's target "
                  "(docs/query.md)");
        return;
    }
    //  A site server runs a release's waves (campaign_site.h): not yet
    //  a patch, nor a target that changes
    if (at_sites && (patch || dynamic)) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "%s", patch
                  ? "--at-sites runs release campaigns only"
                  : "--at-sites and --dynamic do not go together yet");
        query_destroy (&query);
        return;
    }
    if (join_s && !dynamic) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "join_every: only a dynamic campaign runs "
                  "its query again");
        query_destroy (&query);
        return;
    }
    json_t *waves = json_object_get (call->args, "waves");
    size_t sizes [CAMPAIGN_WAVES_MAX];
    char error [WEFT_TEXT_MAX + 1];
    //  The plan's shape first, so a typo is refused before the registry is read
    if (campaign_plan (waves, 0, sizes, error)) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "%s", error);
        query_destroy (&query);
        return;
    }
    s_target_t target = { json_array (), json_object (), false };
    int64_t rc = devquery_run (&call->act, query, s_target_one, &target, NULL);
    char *canonical = query_to_string (query);
    query_destroy (&query);
    json_t *fitting = json_array (), *skipped = json_array ();
    json_t *campaign = NULL;
    int64_t threshold = 0;
    if (rc < 0)
        rpc_fail (call, WEFT_STATUS_INTERNAL, "cannot read the registry");
    else
    if (json_array_size (target.devices) > CAMPAIGN_DEVICES_MAX)
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "query matches more than %d devices; "
                  "narrow it", CAMPAIGN_DEVICES_MAX);
    else
    if (json_array_size (target.devices) == 0 && !allow_empty)
        rpc_fail (call, WEFT_STATUS_NOT_FOUND, "the query matches no device you may change "
                  "(allow_empty, --allow-empty, to create the campaign anyway)");
    else
    if (target.unnamed)
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "the query matches devices in no tenant: "
                  "releases are a tenant's");
    else
    if (json_object_size (target.tenants) > 1 && !rpc_tenant_admin (call, ""))
        rpc_fail (call, WEFT_STATUS_FORBIDDEN, "the query matches devices of %zu tenants: "
                  "only a deployment admin (admin on everything) may target several (add "
                  "tenant=T to the query)", json_object_size (target.tenants));
    else {
        //  An empty campaign is the tenant of the caller's scope, which
        //  must hold the release too
        if (json_object_size (target.tenants) == 0) {
            char own [WEFT_NAME_MAX + 1];
            rpc_tenant_of (call->act.scopes [0], own);
            json_object_set_new (target.tenants, own, json_integer (0));
        }
    }
    if (patch && call->result->status == WEFT_STATUS_OK)
        json_array_extend (fitting, target.devices);    //  Every device takes a patch
    if (call->result->status == WEFT_STATUS_OK
    &&  (patch || s_fit (call, &target, name, version, fitting, skipped))
    &&  s_free (call, fitting)) {
        if (json_array_size (fitting) == 0 && json_array_size (skipped) && !allow_empty)
            rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "no device of the query fits %s %s "
                      "(first: %s: %s)", name, version,
                      rpc_json_str (json_array_get (skipped, 0), "id"),
                      rpc_json_str (json_array_get (skipped, 0), "reason"));
        else
        if (campaign_plan (waves, json_array_size (fitting), sizes, error)
        ||  (threshold = campaign_threshold (threshold_text, json_array_size (fitting),
                                             error)) < 0
        ||  campaign_success (success_text, 1, error) < 0)
            rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "%s", error);
    }
    if (call->result->status == WEFT_STATUS_OK) {
        char id [CAMPAIGN_ID_MAX + 1];
        json_t *tenants = json_array ();
        const char *tenant;
        json_t *count;
        json_object_foreach (target.tenants, tenant, count)
            json_array_append_new (tenants, json_string (tenant));
        json_t *wave_sizes = json_array ();
        for (size_t index = 0; index < json_array_size (waves); index++)
            json_array_append_new (wave_sizes, json_integer ((json_int_t) sizes [index]));
        if (campaign_next_id (call->txn, id))
            rpc_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
        campaign = json_pack ("{s:s, s:s, s:o, s:s, s:s, s:s, s:O, s:o, s:s, s:I, s:I, s:i,"
                              " s:I, s:I, s:s, s:I, s:I}",
            "id", id, "state", "created", "tenants", tenants, "query", canonical,
            "name", name? name: "", "version", version? version: "", "waves", waves,
            "sizes", wave_sizes,
            "threshold", threshold_text, "threshold_devices", (json_int_t) threshold,
            "timeout_s", (json_int_t) timeout_s, "wave", -1,
            "devices", (json_int_t) json_array_size (fitting),
            "skipped", (json_int_t) json_array_size (skipped), "by", call->caller->name,
            "created_ms", (json_int_t) call->now_ms, "updated_ms", (json_int_t) call->now_ms);
        json_object_set_new (campaign, "rate", json_integer (rate));
        json_object_set_new (campaign, "concurrency", json_integer (concurrency));
        json_object_set_new (campaign, "soak_s", json_integer (soak_s));
        //  Its devices' places are kept (campaign.h, h/), for who may move it
        json_object_set_new (campaign, "places", json_true ());
        if (patch)
            json_object_set (campaign, "patch", patch);
        if (json_object_get (call->args, "success"))
            json_object_set_new (campaign, "success", json_string (success_text));
        if (at_sites)
            json_object_set_new (campaign, "at_sites", json_true ());
        if (json_is_false (json_object_get (call->args, "excludable")))
            json_object_set_new (campaign, "excludable", json_false ());
        if (dynamic) {
            //  Late joiners are sought within what its creator may change now
            json_t *scopes = json_array ();
            for (size_t index = 0; index < call->act.scope_count; index++)
                json_array_append_new (scopes, json_string (call->act.scopes [index]));
            json_object_set_new (campaign, "dynamic", json_true ());
            if (join_s)
                json_object_set_new (campaign, "join_s", json_integer (join_s));
            json_object_set_new (campaign, "scopes", scopes);
        }
    }
    if (campaign && call->result->status == WEFT_STATUS_OK
    &&  s_store (call, campaign, fitting, skipped, sizes)) {
        json_t *shown = json_array ();
        for (size_t index = 0; index < json_array_size (skipped) && index < S_SKIPPED_SHOWN;
             index++) {
            json_t *row = json_array_get (skipped, index);
            json_array_append_new (shown, json_pack ("{s:O, s:O}", "id",
                json_object_get (row, "id"), "reason", json_object_get (row, "reason")));
        }
        call->result->result = json_deep_copy (campaign);
        json_object_set_new (call->result->result, "skipped_devices", shown);
        json_t *detail = json_pack ("{s:s, s:s, s:s, s:O, s:s, s:I, s:I}",
            "name", name? name: "", "version", version? version: "", "query", canonical,
            "waves", waves, "threshold", threshold_text,
            "devices", (json_int_t) json_array_size (fitting),
            "skipped", (json_int_t) json_array_size (skipped));
        if (patch)
            json_object_set (detail, "patch", patch);
        s_audit (call, campaign, detail);
    }
    else
    if (canonical)
        rpc_audit_set (call, call->act.scopes [0], canonical);
    json_decref (campaign);
    free (canonical);
    json_decref (fitting);
    json_decref (skipped);
    json_decref (target.devices);
    json_decref (target.tenants);
}

//  --------------------------------------------------------------------------
//  A campaign by id (rpc_internal.h)

typedef struct {
    rpc_call_t *call;
    char device [WEFT_NAME_MAX + 1];    //  The first device out of reach
} s_reach_t;

//  A place of the campaign's devices: the smallest id of those out of
//  reach is the one named, as a scan of the devices in id order would
static int
s_reach_place (void *arg, const char *path, uint64_t count, const char *first)
{
    (void) count;
    s_reach_t *reach = (s_reach_t *) arg;
    if (!rpc_covered (&reach->call->act, path)
    &&  (!*reach->device || strcmp (first, reach->device) < 0))
        snprintf (reach->device, sizeof reach->device, "%s", first);
    return 0;
}

//  A campaign stored before its places were kept: each device
static int
s_reach_one (void *arg, const char *device, json_t *record)
{
    s_reach_t *reach = (s_reach_t *) arg;
    if (rpc_covered (&reach->call->act, rpc_json_str (record, "path")))
        return 0;
    snprintf (reach->device, sizeof reach->device, "%s", device);
    return 1;
}

json_t *
rpc_campaign_find (rpc_call_t *call, bool act)
{
    const char *id;
    if (!rpc_arg_name (call, "id", true, false, &id))
        return NULL;
    json_t *campaign = campaign_get (call->txn, id);
    bool visible = false;
    size_t index;
    json_t *tenant;
    json_array_foreach (json_object_get (campaign, "tenants"), index, tenant)
        visible = visible || rpc_tenant_readable (call, json_string_value (tenant));
    if (!visible) {
        rpc_fail (call, WEFT_STATUS_NOT_FOUND, "unknown campaign %s", id);
        json_decref (campaign);
        return NULL;
    }
    rpc_audit_set (call, json_string_value (json_array_get (json_object_get (campaign,
                   "tenants"), 0)), id);
    if (!act)
        return campaign;
    s_reach_t reach = { call, "" };
    if (json_array_size (json_object_get (campaign, "tenants")) > 1
    &&  !rpc_tenant_admin (call, "")) {
        rpc_fail (call, WEFT_STATUS_FORBIDDEN, "%s spans several tenants: only a deployment "
                  "admin moves it", id);
        json_decref (campaign);
        return NULL;
    }
    //  Per place of its devices, not per device (the h/ index)
    int64_t places = json_is_true (json_object_get (campaign, "places"))
                   ? campaign_places (call->txn, id, s_reach_place, &reach)
                   : campaign_devices (call->txn, id, s_reach_one, &reach);
    if (places < 0)
        rpc_fail (call, WEFT_STATUS_INTERNAL, "cannot read the campaign");
    else
    if (*reach.device)
        rpc_fail (call, WEFT_STATUS_FORBIDDEN, "%s holds device %s, which you may not "
                  "change", id, reach.device);
    if (call->result->status != WEFT_STATUS_OK) {
        json_decref (campaign);
        return NULL;
    }
    return campaign;
}

//  --------------------------------------------------------------------------
//  Transitions

//  The x/ holds of an aborted campaign's devices released (only those
//  it holds: a device a revert skipped may be another's now), and its
//  due and under-way index entries dropped
typedef struct {
    rpc_call_t *call;
    const char *id;
    int rc;
} s_sweep_t;

static int
s_sweep_one (void *arg, const char *device, json_t *record)
{
    s_sweep_t *sweep = (s_sweep_t *) arg;
    char holder [CAMPAIGN_ID_MAX + 1];
    if (!streq (rpc_json_str (record, "state"), "skipped")
    &&  campaign_of (sweep->call->txn, device, holder) && streq (holder, sweep->id))
        sweep->rc |= campaign_hold (sweep->call->txn, device, NULL);
    sweep->rc |= campaign_device_unindex (sweep->call->txn, sweep->id, device, record);
    return 0;
}

void
rpc_campaign_hand_offers (rpc_call_t *call, campaign_run_t *run)
{
    for (size_t batch = 0; batch < run->offer_count; batch++)
        if (batch == 0)
            call->result->offers = run->offers [batch];
        else
            call->result->more_offers [batch - 1] = run->offers [batch];
    run->offer_count = 0;
    zlistx_destroy (&call->result->directives);
    call->result->directives = run->directives;
    run->directives = NULL;
}

//  Is state one of from (NULL-terminated)?
static bool
s_allowed (const char *from [], const char *state)
{
    for (size_t index = 0; from [index]; index++)
        if (streq (from [index], state))
            return true;
    return false;
}

//  The campaign the caller may move, in one of the states from (its
//  state copied into state, as the record changes), or NULL (refused)
static json_t *
s_movable (rpc_call_t *call, const char *verb, const char *from [],
           char state [WEFT_NAME_MAX + 1])
{
    json_t *campaign = rpc_campaign_find (call, true);
    if (!campaign)
        return NULL;
    snprintf (state, WEFT_NAME_MAX + 1, "%s", rpc_json_str (campaign, "state"));
    if (!s_allowed (from, state)) {
        rpc_fail (call, WEFT_STATUS_CONFLICT, "%s is %s: it cannot %s",
                  rpc_json_str (campaign, "id"), state, verb);
        json_decref (campaign);
        return NULL;
    }
    return campaign;
}

static void
s_move (rpc_call_t *call, const char *verb, const char *from [], const char *to)
{
    char state [WEFT_NAME_MAX + 1];
    json_t *campaign = s_movable (call, verb, from, state);
    if (!campaign)
        return;
    const char *id = rpc_json_str (campaign, "id");
    s_sweep_t sweep = { call, id, 0 };
    if (streq (to, "aborted")
    &&  (campaign_devices (call->txn, id, s_sweep_one, &sweep) < 0 || sweep.rc)) {
        rpc_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
        json_decref (campaign);
        return;
    }
    if (streq (verb, "start"))
        json_object_set_new (campaign, "wave", json_integer (0));
    json_object_set_new (campaign, "state", json_string (to));
    json_object_del (campaign, "reason");
    json_object_set_new (campaign, "updated_ms", json_integer ((json_int_t) call->now_ms));
    //  Running again: the due devices are offered, and a wave that is
    //  done (or a threshold reached) while it was stopped moves it on
    size_t retried = 0;
    campaign_run_t run;
    campaign_run_init (&run, call->txn, call->env->pki, call->env->coord_secret,
                       call->caller->name, call->now_ms);
    //  A campaign run at the sites: each site's part goes to its server
    //  at start, and each move after as a new directive generation
    //  (campaign_site.h); a retry's devices at a site are retried there
    bool at_sites = json_is_true (json_object_get (campaign, "at_sites"));
    int moved = !at_sites? 0
              : streq (verb, "start")? campaign_site_start (&run, campaign)
              : campaign_site_directives (&run, campaign, streq (verb, "retry"), &retried);
    if (moved)
        rpc_fail (call, run.status, "%s", run.error);
    else
    if (streq (to, "running")
    &&  (campaign_offer_due (&run, campaign, streq (verb, "retry"), &retried)
    ||   campaign_advance (&run, campaign)))
        rpc_fail (call, run.status, "%s", run.error);
    else
    if (campaign_put (call->txn, campaign))
        rpc_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
    if (call->result->status != WEFT_STATUS_OK) {
        campaign_run_fini (&run);
        json_decref (campaign);
        return;
    }
    //  The offers go once the call has committed
    size_t offered = campaign_run_offered (&run);
    size_t sites = run.directives? zlistx_size (run.directives): 0;
    rpc_campaign_hand_offers (call, &run);
    campaign_run_fini (&run);
    const char *now = rpc_json_str (campaign, "state");
    call->result->result = json_pack ("{s:s, s:s, s:s, s:I, s:I}", "id", id, "from", state,
                                      "state", now, "retried", (json_int_t) retried,
                                      "offered", (json_int_t) offered);
    if (at_sites) {
        json_object_set_new (call->result->result, "sites", json_integer ((json_int_t) sites));
        json_object_set_new (call->result->result, "site_devices",
                             json_integer (rpc_json_int (campaign, "site_devices")));
    }
    s_audit (call, campaign, json_pack ("{s:s, s:s, s:I, s:I}", "from", state, "state", to,
                                        "retried", (json_int_t) retried,
                                        "offered", (json_int_t) offered));
    json_decref (campaign);
}

void
rpc_campaign_start (rpc_call_t *call)
{
    const char *from [] = { "created", NULL };
    s_move (call, "start", from, "running");
}

void
rpc_campaign_pause (rpc_call_t *call)
{
    const char *from [] = { "running", NULL };
    s_move (call, "pause", from, "paused");
}

void
rpc_campaign_resume (rpc_call_t *call)
{
    const char *from [] = { "paused", NULL };
    s_move (call, "resume", from, "running");
}

void
rpc_campaign_abort (rpc_call_t *call)
{
    const char *from [] = { "created", "running", "paused", "halted", "reverting",
                            "revert-halted", NULL };
    s_move (call, "abort", from, "aborted");
}

void
rpc_campaign_retry (rpc_call_t *call)
{
    const char *from [] = { "halted", NULL };
    s_move (call, "retry", from, "running");
}

//  campaign.revert: a configuration campaign undone, its last wave first
//  (campaign_revert.h); a release campaign is refused, as each device
//  rolls a release back by itself when its health check fails
void
rpc_campaign_revert (rpc_call_t *call)
{
    const char *from [] = { "running", "paused", "halted", "finished", "aborted",
                            "revert-halted", NULL };
    char state [WEFT_NAME_MAX + 1];
    json_t *campaign = s_movable (call, "revert", from, state);
    if (!campaign)
        return;
    const char *id = rpc_json_str (campaign, "id");
    if (!json_object_get (campaign, "patch"))
        rpc_fail (call, WEFT_STATUS_CONFLICT, "%s is a release campaign: only a "
                  "configuration campaign reverts (a release rolls back on each device, "
                  "by its health check)", id);
    campaign_run_t run;
    campaign_run_init (&run, call->txn, call->env->pki, call->env->coord_secret,
                       call->caller->name, call->now_ms);
    if (call->result->status == WEFT_STATUS_OK && campaign_revert_start (&run, campaign))
        rpc_fail (call, run.status, "%s", run.error);
    campaign_run_fini (&run);
    if (call->result->status != WEFT_STATUS_OK) {
        json_decref (campaign);
        return;
    }
    json_int_t offered = (json_int_t) run.patched;
    json_int_t devices = campaign_total (campaign, "revert_sizes");
    json_int_t skipped = campaign_total (campaign, "revert_skipped");
    call->result->result = json_pack ("{s:s, s:s, s:O, s:I, s:I, s:I}", "id", id, "from", state,
                                      "state", json_object_get (campaign, "state"),
                                      "devices", devices, "offered", offered,
                                      "skipped", skipped);
    s_audit (call, campaign, json_pack ("{s:s, s:O, s:I, s:I, s:I}", "from", state, "state",
                                        json_object_get (campaign, "state"), "devices",
                                        devices, "offered", offered, "skipped", skipped));
    json_decref (campaign);
}
