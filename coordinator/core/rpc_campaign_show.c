/*  rpc_campaign_show - the methods that read release campaigns:
    campaign.show, campaign.list (rpc_campaign.c has the others)
    Who may read one of a campaign's tenants sees it, and of its devices
    those it may read.  */

#include "proto/corelib.h"
#include "coordinator/core/campaign.h"
#include "coordinator/core/rpc_internal.h"

//  --------------------------------------------------------------------------
//  campaign.show: the campaign, its counts per state and per wave, and
//  the devices the caller may read (at most limit)

typedef struct {
    rpc_call_t *call;
    json_t *counts;                 //  State -> devices
    json_t *waves;                  //  [{state -> devices}]
    json_t *reverts;                //  Revert state -> devices (campaign_revert.h)
    json_t *rows;
    size_t limit, total;
} s_show_t;

static void
s_count (json_t *counts, const char *state)
{
    json_t *count = json_object_get (counts, state);
    json_object_set_new (counts, state, json_integer (json_integer_value (count) + 1));
}

static int
s_show_one (void *arg, const char *device, json_t *record)
{
    s_show_t *show = (s_show_t *) arg;
    if (!rpc_covered (&show->call->read, rpc_json_str (record, "path")))
        return 0;
    const char *state = rpc_json_str (record, "state");
    s_count (show->counts, state);
    if (*rpc_json_str (record, "revert"))
        s_count (show->reverts, rpc_json_str (record, "revert"));
    json_int_t wave = rpc_json_int (record, "wave");
    if (wave >= 0 && (size_t) wave < json_array_size (show->waves))
        s_count (json_array_get (show->waves, (size_t) wave), state);
    if (++show->total <= show->limit) {
        json_t *row = json_pack ("{s:s, s:I, s:s}", "id", device, "wave", wave, "state", state);
        if (*rpc_json_str (record, "reason"))
            json_object_set (row, "reason", json_object_get (record, "reason"));
        if (*rpc_json_str (record, "revert"))
            json_object_set (row, "revert", json_object_get (record, "revert"));
        if (*rpc_json_str (record, "revert_reason"))
            json_object_set (row, "revert_reason", json_object_get (record, "revert_reason"));
        json_array_append_new (show->rows, row);
    }
    return 0;
}

void
rpc_campaign_show (rpc_call_t *call)
{
    json_int_t limit;
    if (!rpc_arg_limit (call, RPC_LIST_DEFAULT, RPC_LIST_MAX, &limit))
        return;
    json_t *campaign = rpc_campaign_find (call, false);
    if (!campaign)
        return;
    s_show_t show = { call, json_object (), json_array (), json_object (), json_array (),
                      (size_t) limit, 0 };
    for (size_t index = 0; index < json_array_size (json_object_get (campaign, "sizes"));
         index++)
        json_array_append_new (show.waves, json_object ());
    if (campaign_devices (call->txn, rpc_json_str (campaign, "id"), s_show_one, &show) < 0) {
        rpc_fail (call, WEFT_STATUS_INTERNAL, "cannot read the campaign");
        json_decref (show.counts);
        json_decref (show.waves);
        json_decref (show.reverts);
        json_decref (show.rows);
    }
    else {
        if (json_object_size (show.reverts))
            json_object_set (campaign, "revert_counts", show.reverts);
        json_decref (show.reverts);
        json_object_set_new (campaign, "counts", show.counts);
        json_object_set_new (campaign, "wave_counts", show.waves);
        json_object_set_new (campaign, "device_rows", show.rows);
        json_object_set_new (campaign, "truncated", json_boolean (show.total > show.limit));
        call->result->result = json_incref (campaign);
    }
    json_decref (campaign);
}

//  --------------------------------------------------------------------------
//  campaign.list: the campaigns the caller may see, oldest first

typedef struct {
    rpc_call_t *call;
    json_t *rows;
    size_t limit;
    bool truncated;
} s_list_t;

static int
s_list_one (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    s_list_t *list = (s_list_t *) arg;
    (void) key;
    (void) key_size;
    json_t *campaign = json_loadb ((const char *) value, size, 0, NULL);
    bool visible = false;
    size_t index;
    json_t *tenant;
    json_array_foreach (json_object_get (campaign, "tenants"), index, tenant)
        visible = visible || rpc_tenant_readable (list->call, json_string_value (tenant));
    if (visible && json_array_size (list->rows) == list->limit)
        list->truncated = true;
    else
    if (visible)
        json_array_append_new (list->rows, json_pack ("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, "
            "s:O, s:O}", "id", json_object_get (campaign, "id"),
            "state", json_object_get (campaign, "state"),
            "tenants", json_object_get (campaign, "tenants"),
            "name", json_object_get (campaign, "name"),
            "version", json_object_get (campaign, "version"),
            "wave", json_object_get (campaign, "wave"),
            "sizes", json_object_get (campaign, "sizes"),
            "devices", json_object_get (campaign, "devices"),
            "created_ms", json_object_get (campaign, "created_ms")));
    json_decref (campaign);
    return list->truncated;
}

void
rpc_campaign_list (rpc_call_t *call)
{
    json_int_t limit;
    if (!rpc_arg_limit (call, RPC_LIST_DEFAULT, RPC_LIST_MAX, &limit))
        return;
    s_list_t list = { call, json_array (), (size_t) limit, false };
    if (store_scan (call->txn, CAMPAIGN_TABLE, "c/", 2, s_list_one, &list) < 0) {
        json_decref (list.rows);
        rpc_fail (call, WEFT_STATUS_INTERNAL, "cannot read the campaigns");
        return;
    }
    call->result->result = json_pack ("{s:o, s:b}", "campaigns", list.rows,
                                      "truncated", list.truncated);
}
