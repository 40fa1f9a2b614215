/*  rpc_campaign_exclude - campaign.exclude: an admin of one tenant of a
    campaign that spans several takes the tenant out of it
    A deployment admin may roll a campaign out over several tenants (a
    fix for a vulnerability, say); each tenant stays master of its own
    devices unless the campaign's creator said otherwise (campaign.create
    excludable: false, for a fix that may not be refused). Excluding:
    the tenant's pending devices become skipped, with the reason, and
    leave their waves (which may let the campaign move on); devices of
    the tenant already under way finish and are followed as before
    (nothing is taken back); the tenant's devices never join it later.
    Audited in the tenant's chain with the admin who did it.  */

#include "proto/corelib.h"
#include "coordinator/core/campaign.h"
#include "coordinator/core/campaign_run.h"
#include "coordinator/core/campaign_internal.h"
#include "coordinator/core/campaign_site.h"
#include "coordinator/core/rpc_internal.h"

typedef struct {
    const char *tenant;
    json_t *pending;                //  [[device, record]] of the tenant
    json_int_t under_way;
} s_exclude_t;

static int
s_collect (void *arg, const char *device, json_t *record)
{
    s_exclude_t *exclude = (s_exclude_t *) arg;
    if (!streq (rpc_json_str (record, "tenant"), exclude->tenant))
        return 0;
    const char *state = rpc_json_str (record, "state");
    if (streq (state, "pending"))
        json_array_append_new (exclude->pending, json_pack ("[s, O]", device, record));
    else
    if (campaign_state_under_way (state))
        exclude->under_way++;
    return 0;
}

//  The refusal for this call into why, or NULL: the caller must be an
//  admin of a tenant the live campaign spans with others, and the
//  creator must have let tenants leave
static const char *
s_refusal (rpc_call_t *call, json_t *campaign, const char *tenant, int *status,
           char why [WEFT_TEXT_MAX + 1])
{
    const char *id = rpc_json_str (campaign, "id");
    *status = WEFT_STATUS_FORBIDDEN;
    if (!rpc_tenant_admin (call, tenant))
        snprintf (why, WEFT_TEXT_MAX + 1, "only an admin of %s takes it out of a campaign", tenant);
    else
    if (!campaign_has_tenant (campaign, tenant)) {
        *status = WEFT_STATUS_NOT_FOUND;
        snprintf (why, WEFT_TEXT_MAX + 1, "%s does not hold devices of %s", id, tenant);
    }
    else
    if (json_array_size (json_object_get (campaign, "tenants")) < 2) {
        *status = WEFT_STATUS_CONFLICT;
        snprintf (why, WEFT_TEXT_MAX + 1, "%s has only %s's devices: abort it instead", id, tenant);
    }
    else
    if (json_is_false (json_object_get (campaign, "excludable")))
        snprintf (why, WEFT_TEXT_MAX + 1, "%s was created not excludable: its tenants may not "
                  "leave it", id);
    else
    if (campaign_state_final (rpc_json_str (campaign, "state"))) {
        *status = WEFT_STATUS_CONFLICT;
        snprintf (why, WEFT_TEXT_MAX + 1, "%s is %s", id, rpc_json_str (campaign, "state"));
    }
    else
        return NULL;
    return why;
}

void
rpc_campaign_exclude (rpc_call_t *call)
{
    const char *tenant;
    if (!rpc_arg_name (call, "tenant", true, false, &tenant))
        return;
    json_t *campaign = rpc_campaign_find (call, false);
    if (!campaign)
        return;
    const char *id = rpc_json_str (campaign, "id");
    int status;
    char why [WEFT_TEXT_MAX + 1];
    const char *refusal = s_refusal (call, campaign, tenant, &status, why);
    if (refusal) {
        rpc_fail (call, status, "%s", refusal);
        json_decref (campaign);
        return;
    }
    //  Collected first, then written: no writes under the scan's cursor
    s_exclude_t exclude = { tenant, json_array (), 0 };
    if (campaign_devices (call->txn, id, s_collect, &exclude) < 0)
        rpc_fail (call, WEFT_STATUS_INTERNAL, "cannot read the campaign");
    campaign_run_t run;
    campaign_run_init (&run, call->txn, call->env->pki, call->env->coord_secret,
                       call->caller->name, call->now_ms);
    char reason [WEFT_TEXT_MAX + 1];
    snprintf (reason, sizeof reason, "excluded by %s's admin %s", tenant, call->caller->name);
    json_t *sizes = json_object_get (campaign, "sizes");
    size_t index;
    json_t *pair;
    json_array_foreach (exclude.pending, index, pair) {
        if (call->result->status != WEFT_STATUS_OK)
            break;
        const char *device = json_string_value (json_array_get (pair, 0));
        json_t *record = json_array_get (pair, 1);
        //  Out of its wave: the wave is done without it
        json_int_t wave = rpc_json_int (record, "wave");
        json_t *size = json_array_get (sizes, (size_t) wave);
        if (size)
            json_integer_set (size, json_integer_value (size) - 1);
        if (campaign_device_unindex (call->txn, id, device, record)
        ||  campaign_hold (call->txn, device, NULL))
            rpc_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
        json_object_set_new (record, "wave", json_integer (-1));
        if (call->result->status == WEFT_STATUS_OK
        &&  campaign_settle (&run, campaign, device, record, "skipped", reason))
            rpc_fail (call, run.status, "%s", run.error);
    }
    size_t excluded = json_array_size (exclude.pending);
    json_decref (exclude.pending);
    if (call->result->status == WEFT_STATUS_OK) {
        json_t *list = json_object_get (campaign, "excluded");
        if (!list)
            json_object_set_new (campaign, "excluded", list = json_array ());
        json_array_append_new (list, json_string (tenant));
        //  Its sites drop their pending devices too
        if (json_is_true (json_object_get (campaign, "at_sites"))
        &&  campaign_site_exclude (&run, campaign, tenant))
            rpc_fail (call, run.status, "%s", run.error);
        json_object_set_new (campaign, "devices", json_integer (
            rpc_json_int (campaign, "devices") - (json_int_t) excluded));
        json_object_set_new (campaign, "skipped", json_integer (
            rpc_json_int (campaign, "skipped") + (json_int_t) excluded));
        //  A wave left with none to wait for moves on (and the campaign
        //  is stored, as every move is)
        if (streq (rpc_json_str (campaign, "state"), "running")
        ?   campaign_advance (&run, campaign)
        :   campaign_put (call->txn, campaign))
            rpc_fail (call, run.status? run.status: WEFT_STATUS_INTERNAL, "%s",
                      *run.error? run.error: "store write failed");
    }
    if (call->result->status == WEFT_STATUS_OK)
        rpc_campaign_hand_offers (call, &run);
    campaign_run_fini (&run);
    if (call->result->status == WEFT_STATUS_OK) {
        rpc_audit_set (call, tenant, id);
        call->detail = json_pack ("{s:s, s:s, s:I, s:I}", "id", id, "tenant", tenant,
                                  "skipped", (json_int_t) excluded,
                                  "under_way", exclude.under_way);
        call->result->result = json_pack ("{s:s, s:s, s:I, s:I, s:s}", "id", id,
                                          "tenant", tenant, "skipped", (json_int_t) excluded,
                                          "under_way", exclude.under_way,
                                          "state", rpc_json_str (campaign, "state"));
    }
    json_decref (campaign);
}
