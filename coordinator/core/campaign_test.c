/*  campaign_test - selftest of the campaign model: plan sizes, the
    waves and thresholds a plan resolves to and the ones refused, the
    records and the device index, on a real store; who may move a
    campaign, checked over the places of its devices.  */

#include "proto/corelib.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/campaign.h"
#include "coordinator/core/director_fixture.h"

static int
s_count_one (void *arg, const char *device, json_t *record)
{
    (void) device;
    (void) record;
    (*(int *) arg)++;
    return 0;
}

static int
s_place_one (void *arg, const char *path, uint64_t count, const char *first)
{
    json_object_set_new ((json_t *) arg, path, json_pack ("[I, s]", (json_int_t) count, first));
    return 0;
}

//  Who may move a campaign, checked over the places of its devices: an
//  operator of one place is refused, naming the smallest device out of
//  reach (as a check of every device would), an operator of the tenant
//  is not; a campaign stored without its places is checked per device
static void
s_test_reach (bool verbose)
{
    (void) verbose;
    char dir [] = "/tmp/weft-campaign-reach-XXXXXX";
    assert (mkdtemp (dir));
    store_t *store = store_new (dir, registry_tables (), 0);
    assert (store);
    director_fixture_t fleet;
    director_fixture_init (&fleet, store);
    director_fixture_device_at (store, "n-1", "acme", "gateway", "acme/north");
    director_fixture_device_at (store, "n-2", "acme", "gateway", "acme/north");
    director_fixture_device_at (store, "s-3", "acme", "gateway", "acme/south");
    director_fixture_device_at (store, "s-2", "acme", "gateway", "acme/south/line-1");
    director_fixture_device_at (store, "t-1", "acme", "gateway", "acme/south/line-1");
    assert (director_fixture_call (&fleet.env, store, "admin", "acme", "campaign.create",
            "{\"query\":\"tenant=acme\",\"patch\":{\"fix\":1},\"waves\":[\"100%\"]}",
            &fleet.result) == WEFT_STATUS_OK);
    store_txn_t *txn = store_begin (store, false);
    json_t *places = json_object ();
    assert (campaign_places (txn, "campaign-1", s_place_one, places) == 3);
    store_abort (&txn);
    json_t *expected = json_pack ("{s:[i, s], s:[i, s], s:[i, s]}", "acme/north", 2, "n-1",
                                  "acme/south", 1, "s-3", "acme/south/line-1", 2, "s-2");
    assert (json_equal (places, expected));
    json_decref (expected);
    json_decref (places);
    const char *id = "{\"id\":\"campaign-1\"}";
    assert (director_fixture_call (&fleet.env, store, "operator", "acme/north",
                                   "campaign.start", id, &fleet.result)
            == WEFT_STATUS_FORBIDDEN);
    assert (streq (fleet.result.error,
                   "campaign-1 holds device s-2, which you may not change"));
    assert (director_fixture_call (&fleet.env, store, "operator", "acme/south",
                                   "campaign.start", id, &fleet.result)
            == WEFT_STATUS_FORBIDDEN);
    assert (streq (fleet.result.error,
                   "campaign-1 holds device n-1, which you may not change"));
    assert (director_fixture_call (&fleet.env, store, "operator", "acme", "campaign.start",
                                   id, &fleet.result) == WEFT_STATUS_OK);
    //  Without its places (stored so before they were kept): each device read
    txn = store_begin (store, true);
    json_t *campaign = campaign_get (txn, "campaign-1");
    json_object_del (campaign, "places");
    assert (campaign_put (txn, campaign) == 0);
    json_decref (campaign);
    assert (store_commit (&txn) == 0);
    assert (director_fixture_call (&fleet.env, store, "operator", "acme/north",
                                   "campaign.pause", id, &fleet.result)
            == WEFT_STATUS_FORBIDDEN);
    assert (streq (fleet.result.error,
                   "campaign-1 holds device s-2, which you may not change"));
    assert (director_fixture_call (&fleet.env, store, "operator", "acme", "campaign.pause",
                                   id, &fleet.result) == WEFT_STATUS_OK);
    director_fixture_fini (&fleet);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
}

void
campaign_test (bool verbose)
{
    printf (" * campaign: ");
    //  @selftest
    int64_t value;
    bool percent;
    assert (campaign_size_parse ("3", 10, &value, &percent) == 0 && value == 3 && !percent);
    assert (campaign_size_parse ("100%", 10, &value, &percent) == 0 && value == 100 && percent);
    assert (campaign_size_parse ("0", 10, &value, &percent) == -1);
    assert (campaign_size_parse ("11", 10, &value, &percent) == -1);
    assert (campaign_size_parse ("101%", 10, &value, &percent) == -1);
    assert (campaign_size_parse ("3x", 10, &value, &percent) == -1);
    assert (campaign_size_parse ("%", 10, &value, &percent) == -1);
    assert (campaign_size_parse ("", 10, &value, &percent) == -1);
    assert (campaign_size_parse ("99999999999999", 10, &value, &percent) == -1);

    //  Canary 1, then 3, then the rest, of 6
    size_t sizes [CAMPAIGN_WAVES_MAX];
    char error [WEFT_TEXT_MAX + 1];
    json_t *waves = json_pack ("[s, s, s]", "1", "3", "100%");
    assert (campaign_plan (waves, 6, sizes, error) == 0);
    assert (sizes [0] == 1 && sizes [1] == 3 && sizes [2] == 2);
    json_decref (waves);
    waves = json_pack ("[s, s]", "10%", "100%");
    assert (campaign_plan (waves, 1000, sizes, error) == 0);
    assert (sizes [0] == 100 && sizes [1] == 900);
    json_decref (waves);
    //  Cannot be met: more than there are, an empty wave, devices left over
    waves = json_pack ("[s, s]", "5", "100%");
    assert (campaign_plan (waves, 3, sizes, error) == -1 && strstr (error, "wave 1 wants 5"));
    json_decref (waves);
    waves = json_pack ("[s, s]", "100%", "1");
    assert (campaign_plan (waves, 3, sizes, error) == -1 && strstr (error, "would be empty"));
    json_decref (waves);
    waves = json_pack ("[s, s]", "1", "3");
    assert (campaign_plan (waves, 6, sizes, error) == -1 && strstr (error, "cover 4 of the 6"));
    json_decref (waves);
    waves = json_array ();
    assert (campaign_plan (waves, 6, sizes, error) == -1);
    json_decref (waves);
    assert (campaign_threshold ("2", 6, error) == 2);
    assert (campaign_threshold ("10%", 6, error) == 1);
    assert (campaign_threshold ("7", 6, error) == -1 && strstr (error, "never be reached"));
    assert (campaign_threshold ("-1", 6, error) == -1);

    //  Records on a real store
    char dir [] = "/tmp/weft-campaign-test-XXXXXX";
    assert (mkdtemp (dir));
    store_t *store = store_new (dir, registry_tables (), 0);
    assert (store);
    store_txn_t *txn = store_begin (store, true);
    char id [CAMPAIGN_ID_MAX + 1], other [CAMPAIGN_ID_MAX + 1];
    assert (campaign_next_id (txn, id) == 0 && streq (id, "campaign-1"));
    assert (campaign_next_id (txn, other) == 0 && streq (other, "campaign-2"));
    json_t *campaign = json_pack ("{s:s, s:s}", "id", id, "state", "created");
    assert (campaign_put (txn, campaign) == 0);
    json_decref (campaign);
    json_t *record = json_pack ("{s:i, s:s}", "wave", 0, "state", "pending");
    assert (campaign_device_put (txn, id, "gw-1", record) == 0);
    assert (campaign_device_put (txn, id, "gw-2", record) == 0);
    assert (campaign_device_put (txn, other, "gw-3", record) == 0);
    json_decref (record);
    assert (campaign_hold (txn, "gw-1", id) == 0);
    assert (store_commit (&txn) == 0);
    txn = store_begin (store, true);
    campaign = campaign_get (txn, "campaign-1");
    assert (campaign && streq (json_string_value (json_object_get (campaign, "state")),
                               "created"));
    json_decref (campaign);
    assert (!campaign_get (txn, "campaign-9"));
    int count = 0;
    assert (campaign_devices (txn, id, s_count_one, &count) == 2 && count == 2);
    char held [CAMPAIGN_ID_MAX + 1];
    assert (campaign_of (txn, "gw-1", held) && streq (held, id));
    assert (!campaign_of (txn, "gw-2", held));
    assert (campaign_hold (txn, "gw-1", NULL) == 0);
    assert (!campaign_of (txn, "gw-1", held));
    assert (campaign_state_final ("aborted") && !campaign_state_final ("halted"));
    store_abort (&txn);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    s_test_reach (verbose);
    if (verbose)
        printf ("(plans, thresholds, records, who may move one) ");
    //  @end
    printf ("OK\n");
}
