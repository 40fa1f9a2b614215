/*  rpc_campaign_show - the methods that read release campaigns:
    campaign.show (also per site), campaign.list (rpc_campaign.c has
    the others)
    Who may read one of a campaign's tenants sees it, and of its devices
    those it may read.  */

#include "proto/corelib.h"
#include "coordinator/core/campaign.h"
#include "coordinator/core/campaign_run.h"
#include "coordinator/core/campaign_site.h"
#include "coordinator/core/rpc_internal.h"

#define S_SITES_MAX     100         //  Sites campaign.show lists, at most

//  --------------------------------------------------------------------------
//  campaign.show: the campaign, its counts per state, per wave and (with
//  sites) per site, and the devices the caller may read (at most limit),
//  all in one pass over the campaign's devices. Per site: the sites with
//  the most devices not yet ended first, at most `sites`, and the rest
//  summed; the memory is one counter object per site and one cache entry
//  per distinct place.

typedef struct {
    rpc_call_t *call;
    json_t *counts;                 //  State -> devices
    json_t *waves;                  //  [{state -> devices}]
    json_t *reverts;                //  Revert state -> devices (campaign_revert.h)
    json_t *rows;
    size_t limit, total;
    json_t *sites;                  //  Site -> {state -> devices}, with sites
    zhashx_t *site_of;              //  Path -> its site (campaign_site's cache)
} s_show_t;

//  A site and how many of its devices have not ended, to order them
typedef struct {
    const char *site;
    json_t *counts;
    json_int_t open;
} s_site_t;

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
    if (show->sites) {
        //  The site the pace counted it at once offered, else its place's
        const char *site = json_is_string (json_object_get (record, "site"))
                         ? rpc_json_str (record, "site")
                         : campaign_site (show->call->txn, show->site_of,
                                          rpc_json_str (record, "path"));
        json_t *counts = json_object_get (show->sites, site);
        if (!counts) {
            counts = json_object ();
            json_object_set_new (show->sites, site, counts);
        }
        s_count (counts, state);
    }
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

//  Devices of counts not yet ended
static json_int_t
s_open (json_t *counts)
{
    json_int_t open = 0;
    const char *state;
    json_t *count;
    json_object_foreach (counts, state, count)
        if (!campaign_device_final (state))
            open += json_integer_value (count);
    return open;
}

static int
s_site_order (const void *a, const void *b)
{
    const s_site_t *left = (const s_site_t *) a, *right = (const s_site_t *) b;
    if (left->open != right->open)
        return left->open > right->open? -1: 1;
    return strcmp (left->site, right->site);
}

//  Into campaign: site_counts, the first max sites in order, each
//  {site, open, counts}; sites_rest {sites, counts}, the others summed
static void
s_site_counts (json_t *campaign, json_t *sites, size_t max)
{
    size_t count = json_object_size (sites), index = 0;
    s_site_t *order = (s_site_t *) zmalloc ((count? count: 1) * sizeof (s_site_t));
    const char *site;
    json_t *counts;
    json_object_foreach (sites, site, counts)
        order [index++] = (s_site_t) { site, counts, s_open (counts) };
    qsort (order, count, sizeof (s_site_t), s_site_order);
    json_t *listed = json_array ();
    json_t *rest = json_object ();
    for (index = 0; index < count; index++) {
        if (index < max) {
            json_array_append_new (listed, json_pack ("{s:s, s:I, s:O}", "site",
                                   order [index].site, "open", order [index].open,
                                   "counts", order [index].counts));
            continue;
        }
        const char *state;
        json_t *value;
        json_object_foreach (order [index].counts, state, value)
            json_object_set_new (rest, state, json_integer (rpc_json_int (rest, state)
                                                            + json_integer_value (value)));
    }
    free (order);
    json_object_set_new (campaign, "site_counts", listed);
    json_object_set_new (campaign, "sites_rest", json_pack ("{s:I, s:o}", "sites",
                         (json_int_t) (count > max? count - max: 0), "counts", rest));
}

//  Into a campaign run at the sites: site_runs, each site's part (its
//  server, the last directive and the site's last report) of the
//  tenants the caller may read
static void
s_site_runs (rpc_call_t *call, json_t *campaign)
{
    json_t *runs = json_is_true (json_object_get (campaign, "at_sites"))
                 ? campaign_site_runs (call->txn, rpc_json_str (campaign, "id")): NULL;
    json_t *shown = json_array ();
    size_t index;
    json_t *run;
    json_array_foreach (runs, index, run)
        if (rpc_tenant_readable (call, rpc_json_str (run, "tenant")))
            json_array_append (shown, run);
    json_decref (runs);
    if (json_object_get (campaign, "at_sites"))
        json_object_set_new (campaign, "site_runs", shown);
    else
        json_decref (shown);
}

void
rpc_campaign_show (rpc_call_t *call)
{
    json_int_t limit, sites = 0;
    if (!rpc_arg_limit (call, RPC_LIST_DEFAULT, RPC_LIST_MAX, &limit)
    ||  !rpc_arg_int (call, "sites", 0, S_SITES_MAX, &sites))
        return;
    json_t *campaign = rpc_campaign_find (call, false);
    if (!campaign)
        return;
    s_show_t show = { call, json_object (), json_array (), json_object (), json_array (),
                      (size_t) limit, 0, sites? json_object (): NULL,
                      sites? campaign_sites_new (): NULL };
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
        if (show.sites)
            s_site_counts (campaign, show.sites, (size_t) sites);
        s_site_runs (call, campaign);
        call->result->result = json_incref (campaign);
    }
    json_decref (show.sites);
    zhashx_destroy (&show.site_of);
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
