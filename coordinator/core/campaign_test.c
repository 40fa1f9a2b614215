/*  campaign_test - selftest of the campaign model: plan sizes, the
    waves and thresholds a plan resolves to and the ones refused, the
    records and the device index, on a real store.  */

#include "proto/corelib.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/campaign.h"

static int
s_count_one (void *arg, const char *device, json_t *record)
{
    (void) device;
    (void) record;
    (*(int *) arg)++;
    return 0;
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
    if (verbose)
        printf ("(plans, thresholds, records) ");
    //  @end
    printf ("OK\n");
}
