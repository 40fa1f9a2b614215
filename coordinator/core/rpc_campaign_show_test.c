/*  rpc_campaign_show_test - selftest of campaign.show's counts per site:
    each device counted at the site the pace finds for it (the nearest
    place of level site, else two segments of its path), the sites with
    the most devices not yet ended first, at most `sites` of them and
    the rest summed; only the devices the caller may read (a deployment
    admin's campaign over two tenants seen by each tenant's viewer); the
    argument's bounds. On a real store, through rpc_call, with a
    configuration campaign (no release needed).  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/release_fixture.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/campaign_run.h"
#include "coordinator/core/rpc_internal.h"
#include "coordinator/core/director_fixture.h"

typedef director_fixture_t s_rig_t;

static int
s_call (s_rig_t *rig, const char *role, const char *path, const char *method,
        const char *args)
{
    return director_fixture_call (&rig->env, rig->store, role, path, method, args,
                                  &rig->result);
}

//  device applied the campaign's patch: it ends succeeded
static void
s_applied (s_rig_t *rig, const char *device)
{
    store_txn_t *txn = store_begin (rig->store, true);
    json_t *record = campaign_device_get (txn, "campaign-1", device);
    assert (record);
    campaign_run_t run;
    campaign_run_init (&run, txn, rig->env.pki, rig->env.coord_secret, "coordinator",
                       FIXTURE_NOW);
    assert (campaign_report (&run, device, NULL,
                             (uint64_t) rpc_json_int (record, "desired_version"), "ok") == 0);
    json_decref (record);
    assert (store_commit (&txn) == 0);
    campaign_run_fini (&run);
}

//  Row index of site_counts, which must be site with open devices; its counts
static json_t *
s_site (s_rig_t *rig, size_t index, const char *site, json_int_t open)
{
    json_t *row = json_array_get (json_object_get (rig->result.result, "site_counts"), index);
    assert (row && streq (rpc_json_str (row, "site"), site));
    assert (rpc_json_int (row, "open") == open);
    return json_object_get (row, "counts");
}

static size_t
s_sites (s_rig_t *rig)
{
    return json_array_size (json_object_get (rig->result.result, "site_counts"));
}

void
rpc_campaign_show_test (bool verbose)
{
    printf (" * rpc_campaign_show: ");
    //  @selftest
    char dir [] = "/tmp/weft-campaign-show-test-XXXXXX";
    assert (mkdtemp (dir));
    store_t *store = store_new (dir, registry_tables (), 0);
    assert (store);
    s_rig_t rig;
    director_fixture_init (&rig, store);
    //  acme/north/hall is a site; the other places count by two segments
    assert (s_call (&rig, "admin", "", "hierarchy.import", "{\"doc\":{\"version\":1,"
                    "\"nodes\":[{\"path\":\"acme\",\"level\":\"enterprise\"},"
                    "{\"path\":\"acme/north\",\"level\":\"area\"},"
                    "{\"path\":\"acme/north/hall\",\"level\":\"site\"}]}}") == WEFT_STATUS_OK);
    director_fixture_device_at (rig.store, "st-1", "acme", "gateway", "acme/east/line-1");
    director_fixture_device_at (rig.store, "st-2", "acme", "gateway", "acme/east/line-2");
    director_fixture_device_at (rig.store, "st-3", "acme", "gateway", "acme/west");
    director_fixture_device_at (rig.store, "st-4", "acme", "gateway", "acme/north/hall/bay-2");
    director_fixture_device_at (rig.store, "st-5", "acme", "gateway", "acme/east");
    director_fixture_device_at (rig.store, "gx-1", "globex", "gateway", "globex/site-a");

    //  A deployment admin's configuration over both tenants, all offered
    assert (s_call (&rig, "admin", "", "campaign.create", "{\"query\":\"type=gateway\","
                    "\"patch\":{\"fix\":1},\"waves\":[\"100%\"],\"threshold\":\"100%\"}")
            == WEFT_STATUS_OK);
    assert (s_call (&rig, "admin", "", "campaign.start", "{\"id\":\"campaign-1\"}")
            == WEFT_STATUS_OK);
    assert (rpc_json_int (rig.result.result, "offered") == 6);
    s_applied (&rig, "st-3");
    assert (s_call (&rig, "admin", "", "campaign.show", "{\"id\":\"campaign-1\"}")
            == WEFT_STATUS_OK);
    assert (!json_object_get (rig.result.result, "site_counts"));     //  Not asked for

    //  The busiest first, then by name; acme/west has nothing open
    assert (s_call (&rig, "admin", "", "campaign.show", "{\"id\":\"campaign-1\",\"sites\":10}")
            == WEFT_STATUS_OK);
    assert (s_sites (&rig) == 4);
    assert (rpc_json_int (s_site (&rig, 0, "acme/east", 3), "offered") == 3);
    s_site (&rig, 1, "acme/north/hall", 1);
    s_site (&rig, 2, "globex/site-a", 1);
    assert (rpc_json_int (s_site (&rig, 3, "acme/west", 0), "succeeded") == 1);
    assert (rpc_json_int (json_object_get (rig.result.result, "sites_rest"), "sites") == 0);

    //  At most sites of them: the others summed
    assert (s_call (&rig, "admin", "", "campaign.show", "{\"id\":\"campaign-1\",\"sites\":2}")
            == WEFT_STATUS_OK);
    assert (s_sites (&rig) == 2);
    json_t *rest = json_object_get (rig.result.result, "sites_rest");
    assert (rpc_json_int (rest, "sites") == 2);
    rest = json_object_get (rest, "counts");
    assert (rpc_json_int (rest, "offered") == 1 && rpc_json_int (rest, "succeeded") == 1);

    //  Each tenant's viewer counts its own devices only
    assert (s_call (&rig, "viewer", "acme", "campaign.show",
                    "{\"id\":\"campaign-1\",\"sites\":10}") == WEFT_STATUS_OK);
    assert (s_sites (&rig) == 3);
    s_site (&rig, 0, "acme/east", 3);
    s_site (&rig, 1, "acme/north/hall", 1);
    s_site (&rig, 2, "acme/west", 0);
    assert (s_call (&rig, "viewer", "globex", "campaign.show",
                    "{\"id\":\"campaign-1\",\"sites\":10}") == WEFT_STATUS_OK);
    assert (s_sites (&rig) == 1);
    s_site (&rig, 0, "globex/site-a", 1);
    assert (s_call (&rig, "viewer", "initech", "campaign.show",
                    "{\"id\":\"campaign-1\",\"sites\":10}") == WEFT_STATUS_NOT_FOUND);

    //  Out of bounds or not a number: refused
    const char *bad [] = { "0", "101", "\"3\"", "-1", NULL };
    for (size_t index = 0; bad [index]; index++) {
        char args [64];
        snprintf (args, sizeof args, "{\"id\":\"campaign-1\",\"sites\":%s}", bad [index]);
        assert (s_call (&rig, "admin", "", "campaign.show", args) == WEFT_STATUS_BAD_REQUEST);
        assert (streq (rig.result.error, "sites must be an integer of 1..100"));
    }

    director_fixture_fini (&rig);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    if (verbose)
        printf ("(sites, order, bound, rest, tenants) ");
    //  @end
    printf ("OK\n");
}
