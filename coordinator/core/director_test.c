/*  director_test - selftest of the director: offers of a release in the
    repository, checked as a device checks them (bundle_check, then
    release_check of the assignment); refusals of an unknown release,
    another tenant's, an expired publication, a device type that does not
    fit; update.assign across tenants; campaign.* across tenants, their
    refusals and transitions. On a real store.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "proto/bundle.h"
#include "proto/release_fixture.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/relroot.h"
#include "coordinator/core/artrepo.h"
#include "coordinator/core/director.h"
#include "coordinator/core/campaign.h"
#include "coordinator/core/rpc_internal.h"
#include "coordinator/core/director_fixture.h"

//  Check an offer as device (of type) does, from root; the result of
//  the first check that fails, or of release_check
static int
s_check (const uint8_t *offer, size_t size, const uint8_t *root, size_t root_size,
         const uint8_t coord_key [32], const char *device, const char *type, uint64_t now)
{
    release_trust_t trust;
    assert (release_trust_init (&trust, root, root_size, now) == 0);
    bundle_check_t *check = bundle_check_new (&trust, now);
    int rc = bundle_check_magic (check, offer);
    const uint8_t *assignment = NULL, *manifest = NULL;
    size_t assignment_size = 0, manifest_size = 0;
    for (size_t at = BUNDLE_MAGIC_SIZE; rc == 0 && at < size; ) {
        bundle_record_t record;
        size_t length;
        rc = bundle_header (offer + at, &record, &length);
        if (rc == 0)
            rc = bundle_check_record (check, offer + at, offer + at + BUNDLE_HEADER_SIZE, length);
        if (record == BUNDLE_ASSIGNMENT) {
            assignment = offer + at + BUNDLE_HEADER_SIZE;
            assignment_size = length;
        }
        if (record == BUNDLE_MANIFEST) {
            manifest = offer + at + BUNDLE_HEADER_SIZE;
            manifest_size = length;
        }
        at += BUNDLE_HEADER_SIZE + length;
    }
    if (rc == 0)
        rc = bundle_check_done (check);
    manifest_t parsed;
    if (rc == 0)
        rc = release_check (bundle_check_trust (check), assignment, assignment_size, coord_key,
                            device, type, 0, manifest, manifest_size, now, &parsed);
    bundle_check_destroy (&check);
    return rc;
}

//  --------------------------------------------------------------------------
//  update.assign across tenants (rpc_call): an operator of a tenant
//  assigns its release to its devices; nobody reaches another tenant's
//  devices, nor offers one tenant's release to another's

static int
s_assign (rpc_env_t *env, store_t *store, const char *role, const char *path,
          const char *args, rpc_result_t *result)
{
    return director_fixture_call (env, store, role, path, "update.assign", args, result);
}

static void
s_test_rpc (store_t *store, rpc_env_t *envp)
{
    rpc_env_t env = *envp;
    director_fixture_device (store, "gw-1", "acme", "gateway");
    director_fixture_device (store, "sn-1", "acme", "sensor");
    director_fixture_device (store, "gb-1", "globex", "gateway");
    rpc_result_t result;
    memset (&result, 0, sizeof result);
    const char *release = "\"name\":\"plc\",\"version\":\"1.0\"";
    char args [256];

    //  acme's operator: its gateway, by id and by query (the sensor skipped)
    snprintf (args, sizeof args, "{\"id\":\"gw-1\",%s}", release);
    assert (s_assign (&env, store, "operator", "acme", args, &result) == WEFT_STATUS_OK);
    assert (result.offers && director_batch_size (result.offers) == 1);
    assert (streq (rpc_json_str (result.result, "tenant"), "acme"));
    snprintf (args, sizeof args, "{\"query\":\"tenant=acme\",%s}", release);
    assert (s_assign (&env, store, "operator", "acme", args, &result) == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (result.result, "assigned")) == 1);
    json_t *skipped = json_array_get (json_object_get (result.result, "skipped"), 0);
    assert (streq (rpc_json_str (skipped, "id"), "sn-1"));
    snprintf (args, sizeof args, "{\"id\":\"sn-1\",%s}", release);
    assert (s_assign (&env, store, "operator", "acme", args, &result)
            == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (result.error, "device sn-1 is of type sensor") && !result.offers);

    //  Not to globex's device by acme's operator, by id or by query
    snprintf (args, sizeof args, "{\"id\":\"gb-1\",%s}", release);
    assert (s_assign (&env, store, "operator", "acme", args, &result)
            == WEFT_STATUS_NOT_FOUND);
    snprintf (args, sizeof args, "{\"query\":\"tenant=globex\",%s}", release);
    assert (s_assign (&env, store, "operator", "acme", args, &result)
            == WEFT_STATUS_NOT_FOUND);
    assert (strstr (result.error, "matches no device you may change"));
    //  Nor acme's release to globex's device by globex's operator, nor
    //  acme's device by globex's operator
    snprintf (args, sizeof args, "{\"id\":\"gb-1\",%s}", release);
    assert (s_assign (&env, store, "operator", "globex", args, &result)
            == WEFT_STATUS_NOT_FOUND);
    assert (strstr (result.error, "no release plc 1.0 in tenant globex"));
    snprintf (args, sizeof args, "{\"id\":\"gw-1\",%s}", release);
    assert (s_assign (&env, store, "operator", "globex", args, &result)
            == WEFT_STATUS_NOT_FOUND);
    assert (strstr (result.error, "unknown device gw-1"));
    //  A viewer may not; devices of two tenants at once are refused
    assert (s_assign (&env, store, "viewer", "acme", args, &result) == WEFT_STATUS_FORBIDDEN);
    snprintf (args, sizeof args, "{\"query\":\"type=gateway\",%s}", release);
    assert (s_assign (&env, store, "operator", "", args, &result) == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (result.error, "devices of tenants"));
    //  Bad arguments
    snprintf (args, sizeof args, "{\"id\":\"gw-1\",\"query\":\"type=gateway\",%s}", release);
    assert (s_assign (&env, store, "operator", "acme", args, &result)
            == WEFT_STATUS_BAD_REQUEST);
    snprintf (args, sizeof args, "{\"id\":\"gw-1\",\"ttl\":0,%s}", release);
    assert (s_assign (&env, store, "operator", "acme", args, &result)
            == WEFT_STATUS_BAD_REQUEST);
    assert (s_assign (&env, store, "operator", "acme",
                      "{\"id\":\"gw-1\",\"name\":\"plc\",\"version\":\"7\"}", &result)
            == WEFT_STATUS_NOT_FOUND);

    //  update.status: the assignment and what the device reports, to
    //  readers of its tenant only
    store_txn_t *txn = store_begin (store, true);
    json_t *twin = registry_twin_get (txn, "gw-1");
    json_object_set_new (twin, "reported", json_pack ("{s:{s:s, s:s, s:s, s:{s:i, s:i}}}",
        "software", "state", "fetching", "name", "plc", "version", "0.9", "progress",
        "chunks", 3, "bytes", 70000));
    assert (registry_twin_put (txn, "gw-1", twin) == 0);
    json_decref (twin);
    assert (store_commit (&txn) == 0);
    assert (director_fixture_call (&env, store, "viewer", "acme", "update.status",
                                   "{\"id\":\"gw-1\"}", &result) == WEFT_STATUS_OK);
    json_t *row = json_array_get (json_object_get (result.result, "devices"), 0);
    assert (streq (rpc_json_str (json_object_get (row, "assigned"), "version"), "1.0"));
    assert (streq (rpc_json_str (json_object_get (row, "software"), "state"), "fetching"));
    assert (director_fixture_call (&env, store, "viewer", "globex", "update.status",
                                   "{\"id\":\"gw-1\"}", &result) == WEFT_STATUS_NOT_FOUND);
    assert (director_fixture_call (&env, store, "viewer", "globex", "update.status", "{}", &result)
            == WEFT_STATUS_OK);
    json_t *rows = json_object_get (result.result, "devices");
    assert (json_array_size (rows) == 1);
    assert (streq (rpc_json_str (json_array_get (rows, 0), "id"), "gb-1"));
    assert (!json_object_get (json_array_get (rows, 0), "assigned"));
    assert (director_fixture_call (&env, store, "viewer", "acme", "update.status",
                                   "{\"query\":\"type=gateway\",\"limit\":1}", &result)
            == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (result.result, "devices")) == 1);
    assert (json_is_true (json_object_get (result.result, "truncated")) == false);
    rpc_result_clear (&result);
}

//  --------------------------------------------------------------------------
//  campaign.* (rpc_call): a tenant's operator targets its own devices
//  only; other tenants neither see nor move its campaigns; several
//  tenants only for a deployment admin; the refusals; the transitions

static int
s_campaign (rpc_env_t *env, store_t *store, const char *role, const char *path,
            const char *method, const char *args, rpc_result_t *result)
{
    return director_fixture_call (env, store, role, path, method, args, result);
}

static const char *
s_state (rpc_env_t *env, store_t *store, const char *id, rpc_result_t *result)
{
    char args [64];
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", id);
    assert (s_campaign (env, store, "admin", "", "campaign.show", args, result)
            == WEFT_STATUS_OK);
    return rpc_json_str (result->result, "state");
}

static void
s_test_campaign (store_t *store, rpc_env_t *envp, const release_fixture_t *k)
{
    rpc_env_t env = *envp;
    artrepo_t *repo = env.repo;
    director_fixture_device (store, "gw-2", "acme", "gateway");
    director_fixture_device (store, "gw-3", "acme", "gateway");
    rpc_result_t result;
    memset (&result, 0, sizeof result);
    const char *plan = "\"name\":\"plc\",\"version\":\"1.0\",\"waves\":[\"1\",\"100%\"]";
    char args [512];

    //  acme's operator: its 3 gateways in 2 waves, the sensor skipped
    snprintf (args, sizeof args, "{\"query\":\"tenant=acme\",%s}", plan);
    assert (s_campaign (&env, store, "operator", "acme", "campaign.create", args, &result)
            == WEFT_STATUS_OK);
    assert (streq (rpc_json_str (result.result, "id"), "campaign-1"));
    assert (streq (rpc_json_str (result.result, "state"), "created"));
    assert (rpc_json_int (result.result, "devices") == 3);
    json_t *sizes = json_object_get (result.result, "sizes");
    assert (json_integer_value (json_array_get (sizes, 0)) == 1);
    assert (json_integer_value (json_array_get (sizes, 1)) == 2);
    json_t *skipped = json_array_get (json_object_get (result.result, "skipped_devices"), 0);
    assert (streq (rpc_json_str (skipped, "id"), "sn-1"));
    assert (strstr (rpc_json_str (skipped, "reason"), "type sensor"));
    //  A device is in one live campaign at a time
    assert (s_campaign (&env, store, "operator", "acme", "campaign.create", args, &result)
            == WEFT_STATUS_CONFLICT);
    assert (strstr (result.error, "is in campaign-1"));

    //  globex's people neither see nor move it, nor target acme's devices
    const char *one = "{\"id\":\"campaign-1\"}";
    assert (s_campaign (&env, store, "admin", "globex", "campaign.show", one, &result)
            == WEFT_STATUS_NOT_FOUND);
    assert (s_campaign (&env, store, "admin", "globex", "campaign.start", one, &result)
            == WEFT_STATUS_NOT_FOUND);
    assert (s_campaign (&env, store, "admin", "globex", "campaign.abort", one, &result)
            == WEFT_STATUS_NOT_FOUND);
    assert (s_campaign (&env, store, "viewer", "globex", "campaign.list", "{}", &result)
            == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (result.result, "campaigns")) == 0);
    snprintf (args, sizeof args, "{\"query\":\"tenant=acme\",%s}", plan);
    assert (s_campaign (&env, store, "operator", "globex", "campaign.create", args, &result)
            == WEFT_STATUS_NOT_FOUND);
    assert (strstr (result.error, "matches no device you may change"));
    //  acme's viewer sees it, may not move it
    assert (s_campaign (&env, store, "viewer", "acme", "campaign.list", "{}", &result)
            == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (result.result, "campaigns")) == 1);
    assert (s_campaign (&env, store, "viewer", "acme", "campaign.start", one, &result)
            == WEFT_STATUS_FORBIDDEN);
    assert (streq (s_state (&env, store, "campaign-1", &result), "created"));

    //  Several tenants: not for an operator of everything, nor without
    //  the release in each tenant's repository
    snprintf (args, sizeof args, "{\"query\":\"type=gateway\",%s}", plan);
    assert (s_campaign (&env, store, "operator", "", "campaign.create", args, &result)
            == WEFT_STATUS_FORBIDDEN);
    assert (strstr (result.error, "only a deployment admin"));
    assert (s_campaign (&env, store, "admin", "", "campaign.create", args, &result)
            == WEFT_STATUS_NOT_FOUND);
    assert (strstr (result.error, "no release plc 1.0 in tenant globex"));

    //  Refusals: unknown release, plans and thresholds that cannot be
    //  met, nothing matched, no query; none stores a campaign
    snprintf (args, sizeof args, "{\"query\":\"tenant=acme\",\"name\":\"plc\","
              "\"version\":\"7\",\"waves\":[\"100%%\"]}");
    assert (s_campaign (&env, store, "operator", "acme", "campaign.create", args, &result)
            == WEFT_STATUS_NOT_FOUND);
    assert (s_campaign (&env, store, "admin", "", "campaign.abort", one, &result)
            == WEFT_STATUS_OK);
    const char *bad [] = {
        "\"waves\":[\"5\",\"100%\"]", "wave 1 wants 5 devices",
        "\"waves\":[\"1\",\"1\"]", "cover 2 of the 3",
        "\"waves\":[\"100%\",\"1\"]", "would be empty",
        "\"waves\":[\"x\"]", "is not N devices",
        "\"waves\":[]", "want 1 to 16",
        "\"waves\":[\"100%\"],\"threshold\":\"4\"", "never be reached",
        "\"waves\":[\"100%\"],\"threshold\":\"0\"", "threshold",
        NULL };
    for (size_t index = 0; bad [index]; index += 2) {
        snprintf (args, sizeof args, "{\"query\":\"tenant=acme\",\"name\":\"plc\","
                  "\"version\":\"1.0\",%s}", bad [index]);
        assert (s_campaign (&env, store, "operator", "acme", "campaign.create", args, &result)
                == WEFT_STATUS_BAD_REQUEST);
        assert (strstr (result.error, bad [index + 1]));
    }
    snprintf (args, sizeof args, "{\"query\":\"tenant=acme and type=none\",%s}", plan);
    assert (s_campaign (&env, store, "operator", "acme", "campaign.create", args, &result)
            == WEFT_STATUS_NOT_FOUND);
    assert (strstr (result.error, "--allow-empty"));
    snprintf (args, sizeof args, "{%s}", plan);
    assert (s_campaign (&env, store, "operator", "acme", "campaign.create", args, &result)
            == WEFT_STATUS_BAD_REQUEST);
    assert (s_campaign (&env, store, "viewer", "acme", "campaign.list", "{}", &result)
            == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (result.result, "campaigns")) == 1);
    snprintf (args, sizeof args, "{\"query\":\"tenant=acme and type=none\",\"allow_empty\":true,"
              "%s}", plan);
    assert (s_campaign (&env, store, "operator", "acme", "campaign.create", args, &result)
            == WEFT_STATUS_OK);
    assert (rpc_json_int (result.result, "devices") == 0);

    //  With globex's release: a deployment admin's campaign over both,
    //  which acme's operator may not move and acme's viewer sees only
    //  its own devices of
    size_t root_size, bundle_size;
    uint8_t hash [32];
    release_fixture_t keys = *k;
    keys.tenant = "globex";
    k = &keys;
    uint8_t *root = release_fixture_root_of (k, "globex", 1, FIXTURE_NOW + 365 * FIXTURE_DAY,
                                             k->root, 2, k->root, &root_size);
    uint8_t *bundle = release_fixture_bundle (k, root, root_size, 1, "plc", "1.0", 64 * 1024,
                                              hash, &bundle_size);
    director_fixture_upload (store, repo, "globex", root, root_size, bundle, bundle_size);
    free (bundle);
    free (root);
    snprintf (args, sizeof args, "{\"query\":\"type=gateway\",%s}", plan);
    assert (s_campaign (&env, store, "admin", "", "campaign.create", args, &result)
            == WEFT_STATUS_OK);
    const char *both = rpc_json_str (result.result, "id");
    assert (streq (both, "campaign-3"));
    assert (rpc_json_int (result.result, "devices") == 4);
    assert (json_array_size (json_object_get (result.result, "tenants")) == 2);
    const char *three = "{\"id\":\"campaign-3\"}";
    assert (s_campaign (&env, store, "operator", "acme", "campaign.start", three, &result)
            == WEFT_STATUS_FORBIDDEN);
    assert (s_campaign (&env, store, "viewer", "acme", "campaign.show", three, &result)
            == WEFT_STATUS_OK);
    json_t *rows = json_object_get (result.result, "device_rows");
    assert (json_array_size (rows) == 3);
    size_t index;
    json_t *row;
    json_array_foreach (rows, index, row)
        assert (!streq (rpc_json_str (row, "id"), "gb-1"));
    assert (rpc_json_int (json_object_get (result.result, "counts"), "pending") == 3);
    //  Per site too: acme's viewer counts acme's devices only, the
    //  deployment's admin both tenants'
    const char *three_sites = "{\"id\":\"campaign-3\",\"sites\":20}";
    assert (s_campaign (&env, store, "viewer", "acme", "campaign.show", three_sites, &result)
            == WEFT_STATUS_OK);
    json_t *sites = json_object_get (result.result, "site_counts");
    assert (json_array_size (sites) == 1);
    assert (streq (rpc_json_str (json_array_get (sites, 0), "site"), "acme"));
    assert (rpc_json_int (json_object_get (json_array_get (sites, 0), "counts"), "pending")
            == 3);
    assert (s_campaign (&env, store, "admin", "", "campaign.show", three_sites, &result)
            == WEFT_STATUS_OK);
    sites = json_object_get (result.result, "site_counts");
    assert (json_array_size (sites) == 2);
    assert (streq (rpc_json_str (json_array_get (sites, 0), "site"), "acme"));
    assert (streq (rpc_json_str (json_array_get (sites, 1), "site"), "globex"));
    assert (rpc_json_int (json_array_get (sites, 1), "open") == 1);
    assert (s_campaign (&env, store, "viewer", "globex", "campaign.show", three_sites, &result)
            == WEFT_STATUS_OK);
    sites = json_object_get (result.result, "site_counts");
    assert (json_array_size (sites) == 1);
    assert (streq (rpc_json_str (json_array_get (sites, 0), "site"), "globex"));

    //  Transitions
    assert (s_campaign (&env, store, "admin", "", "campaign.resume", three, &result)
            == WEFT_STATUS_CONFLICT);
    assert (strstr (result.error, "campaign-3 is created: it cannot resume"));
    assert (s_campaign (&env, store, "admin", "", "campaign.start", three, &result)
            == WEFT_STATUS_OK);
    //  Wave 1 (one device) is offered, as update.assign offers
    assert (streq (rpc_json_str (result.result, "from"), "created"));
    assert (streq (rpc_json_str (result.result, "state"), "running"));
    assert (rpc_json_int (result.result, "offered") == 1);
    assert (result.offers && director_batch_size (result.offers) == 1);
    assert (!result.more_offers [0]);
    assert (streq (s_state (&env, store, "campaign-3", &result), "running"));
    assert (rpc_json_int (json_object_get (result.result, "counts"), "offered") == 1);
    assert (rpc_json_int (json_object_get (result.result, "counts"), "pending") == 3);
    assert (rpc_json_int (result.result, "wave") == 0);
    assert (s_campaign (&env, store, "admin", "", "campaign.start", three, &result)
            == WEFT_STATUS_CONFLICT);
    assert (s_campaign (&env, store, "admin", "", "campaign.retry", three, &result)
            == WEFT_STATUS_CONFLICT);
    assert (s_campaign (&env, store, "admin", "", "campaign.pause", three, &result)
            == WEFT_STATUS_OK);
    assert (streq (s_state (&env, store, "campaign-3", &result), "paused"));
    assert (s_campaign (&env, store, "admin", "", "campaign.resume", three, &result)
            == WEFT_STATUS_OK);
    assert (s_campaign (&env, store, "admin", "", "campaign.abort", three, &result)
            == WEFT_STATUS_OK);
    assert (streq (s_state (&env, store, "campaign-3", &result), "aborted"));
    assert (s_campaign (&env, store, "admin", "", "campaign.abort", three, &result)
            == WEFT_STATUS_CONFLICT);
    //  Aborted: its devices are free for another campaign
    store_txn_t *txn = store_begin (store, false);
    char held [CAMPAIGN_ID_MAX + 1];
    assert (!campaign_of (txn, "gw-1", held) && !campaign_of (txn, "gb-1", held));
    store_abort (&txn);
    snprintf (args, sizeof args, "{\"query\":\"tenant=globex\",%s}",
              "\"name\":\"plc\",\"version\":\"1.0\",\"waves\":[\"100%\"]");
    assert (s_campaign (&env, store, "operator", "globex", "campaign.create", args, &result)
            == WEFT_STATUS_OK);
    txn = store_begin (store, false);
    assert (campaign_of (txn, "gb-1", held) && streq (held, "campaign-4"));
    store_abort (&txn);
    //  Halted with its device failed: retry offers it again, and only
    //  to a device of its own tenant
    const char *four = "{\"id\":\"campaign-4\"}";
    assert (s_campaign (&env, store, "operator", "globex", "campaign.start", four, &result)
            == WEFT_STATUS_OK);
    assert (rpc_json_int (result.result, "offered") == 1);
    txn = store_begin (store, true);
    json_t *record = campaign_device_get (txn, "campaign-4", "gb-1");
    assert (streq (rpc_json_str (record, "state"), "offered"));
    json_object_set_new (record, "state", json_string ("failed"));
    json_object_set_new (record, "reason", json_string ("health check failed"));
    assert (campaign_device_put (txn, "campaign-4", "gb-1", record) == 0);
    json_decref (record);
    json_t *campaign = campaign_get (txn, "campaign-4");
    json_object_set_new (campaign, "state", json_string ("halted"));
    assert (campaign_put (txn, campaign) == 0);
    json_decref (campaign);
    assert (store_commit (&txn) == 0);
    assert (s_campaign (&env, store, "operator", "acme", "campaign.retry", four, &result)
            == WEFT_STATUS_NOT_FOUND);
    assert (s_campaign (&env, store, "operator", "globex", "campaign.retry", four, &result)
            == WEFT_STATUS_OK);
    assert (rpc_json_int (result.result, "retried") == 1);
    assert (result.offers && director_batch_size (result.offers) == 1);
    const char *device;
    size_t size;
    free (director_batch_offer (result.offers, 0, &device, &size));
    assert (streq (device, "gb-1"));
    assert (streq (s_state (&env, store, "campaign-4", &result), "running"));
    assert (rpc_json_int (json_object_get (result.result, "counts"), "offered") == 1);
    rpc_result_clear (&result);
}

void
director_test (bool verbose)
{
    printf (" * director: ");
    //  @selftest
    char dir [] = "/tmp/weft-director-test-XXXXXX";
    assert (mkdtemp (dir));
    store_t *store = store_new (dir, registry_tables (), 0);
    assert (store);
    artrepo_t *repo = artrepo_new (store);
    release_fixture_t k;
    release_fixture_keys (&k);
    uint64_t now = FIXTURE_NOW;
    size_t root_size, size;
    uint8_t *root = release_fixture_root (&k, 1, now + 365 * FIXTURE_DAY, k.root, 2, k.root,
                                          &root_size);
    uint8_t hash [32];
    uint8_t *bundle = release_fixture_bundle (&k, root, root_size, 1, "plc", "1.0", 200 * 1024,
                                              hash, &size);
    char error [WEFT_TEXT_MAX + 1];
    size_t bundle_size = size;
    director_fixture_upload (store, repo, "acme", root, root_size, bundle, bundle_size);
    store_txn_t *txn;
    int status;

    //  Refused: no such release, another tenant's, a publication expired
    txn = store_begin (store, true);
    assert (!director_batch_new (txn, "acme", "plc", "9.9", now, &status, error));
    assert (status == WEFT_STATUS_NOT_FOUND && strstr (error, "no release plc 9.9 in tenant"));
    assert (!director_batch_new (txn, "globex", "plc", "1.0", now, &status, error));
    assert (status == WEFT_STATUS_NOT_FOUND);
    assert (!director_batch_new (txn, "acme", "plc", "1.0", now + 30 * FIXTURE_DAY, &status,
                                 error));
    assert (status == WEFT_STATUS_CONFLICT && strstr (error, "upload a fresh bundle"));

    //  Two gateways; a sensor does not fit
    director_batch_t *batch = director_batch_new (txn, "acme", "plc", "1.0", now, &status,
                                                  error);
    assert (batch && status == WEFT_STATUS_OK);
    char hex [65];
    keys_hex (hash, 32, hex);
    assert (streq (director_batch_hash (batch), hex));
    keys_t coord;
    keys_generate (&coord);
    uint64_t until = now + FIXTURE_DAY;
    assert (director_batch_add (batch, txn, "dev-s", "sensor", "otto", coord.sign_secret, now,
                                until, error) == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (error, "device dev-s is of type sensor; plc 1.0 is for gateway"));
    assert (director_batch_add (batch, txn, "dev-1", "gateway", "otto", coord.sign_secret, now,
                                until, error) == 0);
    assert (director_batch_add (batch, txn, "dev-2", "gateway", "otto", coord.sign_secret, now,
                                until, error) == 0);
    assert (director_batch_size (batch) == 2);
    assert (store_commit (&txn) == 0);

    //  Each offer checks as its device checks it, and only for it
    const char *device;
    uint8_t *offer = director_batch_offer (batch, 0, &device, &size);
    assert (streq (device, "dev-1") && size < DIRECTOR_OFFER_MAX);
    assert (s_check (offer, size, root, root_size, coord.sign_public, "dev-1", "gateway", now)
            == RELEASE_OK);
    assert (s_check (offer, size, root, root_size, coord.sign_public, "dev-2", "gateway", now)
            == RELEASE_NOT_ASSIGNED);
    assert (s_check (offer, size, root, root_size, k.coord.sign_public, "dev-1", "gateway", now)
            == RELEASE_NOT_ASSIGNED);
    assert (s_check (offer, size, root, root_size, coord.sign_public, "dev-1", "gateway",
                     until + 1) != RELEASE_OK);
    offer [size - 40] ^= 1;         //  The assignment's signature
    assert (s_check (offer, size, root, root_size, coord.sign_public, "dev-1", "gateway", now)
            != RELEASE_OK);
    free (offer);
    offer = director_batch_offer (batch, 1, &device, &size);
    assert (streq (device, "dev-2"));
    assert (s_check (offer, size, root, root_size, coord.sign_public, "dev-2", "gateway", now)
            == RELEASE_OK);
    free (offer);
    director_batch_destroy (&batch);
    director_batch_destroy (&batch);

    //  What each device was assigned is kept
    txn = store_begin (store, false);
    json_t *assigned = director_assigned (txn, "dev-2");
    assert (assigned && streq (json_string_value (json_object_get (assigned, "version")), "1.0"));
    assert (streq (json_string_value (json_object_get (assigned, "by")), "otto"));
    json_decref (assigned);
    assert (!director_assigned (txn, "dev-s"));
    store_abort (&txn);

    keys_t ca;
    keys_generate (&ca);
    coord_stats_t stats;
    memset (&stats, 0, sizeof stats);
    rpc_env_t env = { registry_new (store), pki_new (&ca), coord.curve_public, &stats,
                      coord.sign_secret, repo };
    s_test_rpc (store, &env);
    s_test_campaign (store, &env, &k);
    registry_destroy (&env.registry);
    pki_destroy (&env.pki);
    keys_wipe (&ca);
    keys_wipe (&coord);
    free (bundle);
    free (root);
    artrepo_destroy (&repo);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    if (verbose)
        printf ("(offers checked as a device does, refusals) ");
    //  @end
    printf ("OK\n");
}
