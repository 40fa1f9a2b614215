/*  campaign_revert_test - selftest of configuration campaigns undone:
    the undo of a patch and the check of keys changed since; a finished
    campaign reverted wave by wave from the last, each device's desired
    twin back to what it held before (a key that did not exist removed),
    a device changed since by twin.set skipped with the key, a failed
    apply halting the revert at the threshold and revert again taking
    it up, the holds released once reverted; a revert under way timed
    out; a device another campaign holds now skipped; reverted while
    running, leaving no index entries of its forward run; refusals: a
    release campaign, a campaign in a state that cannot revert, another
    tenant's operator. On a real store, through rpc_call.  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/release_fixture.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/mergepatch.h"
#include "coordinator/core/audit.h"
#include "coordinator/core/campaign_revert.h"
#include "coordinator/core/rpc_internal.h"
#include "coordinator/core/director_fixture.h"

typedef director_fixture_t s_env_t;

static int
s_as (s_env_t *self, const char *tenant, const char *method, const char *args, uint64_t now_ms)
{
    return director_fixture_call_at (&self->env, self->store, "operator", tenant, method,
                                     args, now_ms, &self->result);
}

//  The device's desired twin (caller decrefs) and its version
static json_t *
s_desired (s_env_t *self, const char *device, json_int_t *version_p)
{
    store_txn_t *txn = store_begin (self->store, false);
    json_t *twin = registry_twin_get (txn, device);
    store_abort (&txn);
    assert (twin);
    if (version_p)
        *version_p = rpc_json_int (twin, "desired_version");
    json_t *desired = json_incref (json_object_get (twin, "desired"));
    json_decref (twin);
    return desired;
}

static bool
s_desired_is (s_env_t *self, const char *device, const char *want)
{
    json_t *desired = s_desired (self, device, NULL);
    json_t *expected = json_loads (want, 0, NULL);
    assert (expected);
    bool equal = json_equal (desired, expected);
    json_decref (desired);
    json_decref (expected);
    return equal;
}

//  The device applied (or failed) its current desired version
static void
s_apply (s_env_t *self, const char *device, const char *status, uint64_t now_ms)
{
    json_int_t version;
    json_decref (s_desired (self, device, &version));
    store_txn_t *txn = store_begin (self->store, true);
    campaign_run_t run;
    campaign_run_init (&run, txn, self->env.pki, self->env.coord_secret, "coordinator", now_ms);
    assert (campaign_report (&run, device, NULL, (uint64_t) version, status) == 0);
    assert (store_commit (&txn) == 0);
    campaign_run_fini (&run);
}

static json_t *
s_record (s_env_t *self, const char *id, const char *device)
{
    store_txn_t *txn = store_begin (self->store, false);
    json_t *record = device? campaign_device_get (txn, id, device): campaign_get (txn, id);
    store_abort (&txn);
    assert (record);
    return record;
}

//  The device's revert state (and reason, if want_reason) are as said
static bool
s_revert_is (s_env_t *self, const char *id, const char *device, const char *state,
             const char *reason)
{
    json_t *record = s_record (self, id, device);
    bool is = streq (rpc_json_str (record, "revert"), state)
           && (!reason || strstr (rpc_json_str (record, "revert_reason"), reason));
    json_decref (record);
    return is;
}

static bool
s_state_is (s_env_t *self, const char *id, const char *state)
{
    json_t *campaign = s_record (self, id, NULL);
    bool is = streq (rpc_json_str (campaign, "state"), state);
    json_decref (campaign);
    return is;
}

static bool
s_held_by (s_env_t *self, const char *device, const char *want)
{
    store_txn_t *txn = store_begin (self->store, false);
    char id [CAMPAIGN_ID_MAX + 1];
    bool held = campaign_of (txn, device, id);
    store_abort (&txn);
    return want? held && streq (id, want): !held;
}

static void
s_test_undo (void)
{
    json_t *desired = json_loads ("{\"a\":1,\"b\":{\"c\":2,\"d\":3},\"g\":\"x\"}", 0, NULL);
    json_t *patch = json_loads ("{\"a\":5,\"b\":{\"c\":null,\"e\":1},\"f\":7,\"g\":{\"h\":1}}",
                                0, NULL);
    json_t *undo = campaign_revert_undo (desired, patch);
    json_t *want = json_loads ("{\"a\":1,\"b\":{\"c\":2,\"e\":null},\"f\":null,\"g\":\"x\"}",
                               0, NULL);
    assert (json_equal (undo, want));
    //  The patch, then its undo: the document as it was
    json_t *after = mergepatch_apply (desired, patch);
    json_t *back = mergepatch_apply (after, undo);
    assert (json_equal (back, desired));
    char key [WEFT_TEXT_MAX + 1];
    assert (!campaign_revert_changed (after, patch, key));
    assert (campaign_revert_changed (desired, patch, key));
    assert (streq (key, "a"));
    json_object_set_new (json_object_get (after, "b"), "c", json_integer (4));
    assert (campaign_revert_changed (after, patch, key));
    assert (streq (key, "b.c"));
    json_object_del (json_object_get (after, "b"), "c");
    json_object_set_new (after, "z", json_integer (1));     //  A key it did not set
    assert (!campaign_revert_changed (after, patch, key));
    json_decref (desired);
    json_decref (patch);
    json_decref (undo);
    json_decref (want);
    json_decref (after);
    json_decref (back);
}

static void
s_test_waves (s_env_t *self)
{
    const uint64_t t0 = FIXTURE_NOW;
    assert (s_as (self, "acme", "twin.set", "{\"id\":\"gw-1\",\"patch\":{\"rate\":1}}", t0)
            == WEFT_STATUS_OK);
    assert (s_as (self, "acme", "campaign.create", "{\"query\":\"tenant=acme\",\"patch\":"
                  "{\"rate\":5,\"mode\":\"x\"},\"waves\":[\"1\",\"2\",\"100%\"],\"threshold\":"
                  "\"1\"}", t0) == WEFT_STATUS_OK);
    const char *one = "{\"id\":\"campaign-1\"}";
    //  Created: nothing was patched, nothing to revert
    assert (s_as (self, "acme", "campaign.revert", one, t0) == WEFT_STATUS_CONFLICT);
    assert (strstr (self->result.error, "campaign-1 is created: it cannot revert"));
    assert (s_as (self, "acme", "campaign.start", one, t0) == WEFT_STATUS_OK);
    json_t *record = s_record (self, "campaign-1", "gw-1");
    assert (rpc_json_int (json_object_get (record, "undo"), "rate") == 1);
    assert (json_is_null (json_object_get (json_object_get (record, "undo"), "mode")));
    json_decref (record);
    for (int index = 1; index <= 5; index++) {
        char device [16];
        snprintf (device, sizeof device, "gw-%d", index);
        s_apply (self, device, "ok", t0 + 1000);
    }
    assert (s_state_is (self, "campaign-1", "finished"));
    assert (s_held_by (self, "gw-1", NULL));
    //  The operator changes gw-4's rate since: that is kept
    assert (s_as (self, "acme", "twin.set", "{\"id\":\"gw-4\",\"patch\":{\"rate\":9}}",
                  t0 + 2000) == WEFT_STATUS_OK);
    //  Another tenant's operator sees no such campaign; nothing moved
    assert (s_as (self, "globex", "campaign.revert", one, t0 + 3000) == WEFT_STATUS_NOT_FOUND);
    assert (s_state_is (self, "campaign-1", "finished"));
    assert (s_desired_is (self, "gw-5", "{\"rate\":5,\"mode\":\"x\"}"));
    //  Reverted from the last wave: gw-4 skipped, gw-5 gets its undo
    assert (s_as (self, "acme", "campaign.revert", one, t0 + 3000) == WEFT_STATUS_OK);
    assert (streq (rpc_json_str (self->result.result, "state"), "reverting"));
    assert (rpc_json_int (self->result.result, "devices") == 5);
    assert (rpc_json_int (self->result.result, "offered") == 1);
    assert (rpc_json_int (self->result.result, "skipped") == 1);
    assert (s_revert_is (self, "campaign-1", "gw-4", "skipped", "desired rate changed"));
    assert (s_desired_is (self, "gw-4", "{\"rate\":9,\"mode\":\"x\"}"));
    assert (s_desired_is (self, "gw-5", "{}"));
    assert (s_desired_is (self, "gw-3", "{\"rate\":5,\"mode\":\"x\"}"));
    assert (s_held_by (self, "gw-5", "campaign-1"));
    assert (s_as (self, "acme", "campaign.revert", one, t0 + 3000) == WEFT_STATUS_CONFLICT);
    assert (strstr (self->result.error, "is reverting: it cannot revert"));
    //  gw-5 applies it: the wave before, gw-2 and gw-3
    s_apply (self, "gw-5", "ok", t0 + 4000);
    assert (s_revert_is (self, "campaign-1", "gw-5", "succeeded", NULL));
    json_t *campaign = s_record (self, "campaign-1", NULL);
    assert (rpc_json_int (campaign, "revert_wave") == 1);
    json_decref (campaign);
    assert (s_desired_is (self, "gw-2", "{}") && s_desired_is (self, "gw-3", "{}"));
    //  gw-2 fails to apply it: the threshold (1) halts the revert
    s_apply (self, "gw-2", "apply command exited with status 1", t0 + 5000);
    assert (s_revert_is (self, "campaign-1", "gw-2", "failed", "apply failed: apply command"));
    campaign = s_record (self, "campaign-1", NULL);
    assert (streq (rpc_json_str (campaign, "state"), "revert-halted"));
    assert (streq (rpc_json_str (campaign, "reason"),
                   "1 device failed to revert: the threshold is 1"));
    json_decref (campaign);
    //  Revert again: gw-2 and gw-3 (under way) get their undo again, not
    //  taken for changed since (they hold it already)
    json_int_t before;
    json_decref (s_desired (self, "gw-2", &before));
    assert (s_as (self, "acme", "campaign.revert", one, t0 + 6000) == WEFT_STATUS_OK);
    assert (rpc_json_int (self->result.result, "offered") == 2);
    json_int_t after;
    json_decref (s_desired (self, "gw-2", &after));
    assert (after == before + 1);
    assert (s_revert_is (self, "campaign-1", "gw-3", "offered", NULL));
    s_apply (self, "gw-2", "ok", t0 + 7000);
    s_apply (self, "gw-3", "ok", t0 + 7000);
    assert (s_desired_is (self, "gw-1", "{\"rate\":1}"));
    s_apply (self, "gw-1", "ok", t0 + 8000);
    campaign = s_record (self, "campaign-1", NULL);
    assert (streq (rpc_json_str (campaign, "state"), "reverted"));
    assert (campaign_total (campaign, "reverted") == 4);
    assert (campaign_total (campaign, "revert_skipped") == 1);
    json_decref (campaign);
    for (int index = 1; index <= 5; index++) {
        char device [16];
        snprintf (device, sizeof device, "gw-%d", index);
        assert (s_held_by (self, device, NULL));
    }
    assert (s_as (self, "acme", "campaign.revert", one, t0 + 9000) == WEFT_STATUS_CONFLICT);
    assert (s_as (self, "acme", "campaign.abort", one, t0 + 9000) == WEFT_STATUS_CONFLICT);
}

static void
s_test_deadline (s_env_t *self)
{
    //  A revert under way past the per-device timeout fails
    const uint64_t t0 = FIXTURE_NOW + 100000;
    assert (s_as (self, "acme", "campaign.create", "{\"query\":\"id=gw-1\",\"patch\":"
                  "{\"level\":2},\"waves\":[\"100%\"],\"timeout\":60}", t0) == WEFT_STATUS_OK);
    const char *two = "{\"id\":\"campaign-2\"}";
    assert (s_as (self, "acme", "campaign.start", two, t0) == WEFT_STATUS_OK);
    assert (s_as (self, "acme", "campaign.revert", two, t0 + 1000) == WEFT_STATUS_OK);
    assert (streq (rpc_json_str (self->result.result, "from"), "running"));
    assert (s_desired_is (self, "gw-1", "{\"rate\":1}"));
    store_txn_t *txn = store_begin (self->store, true);
    campaign_run_t run;
    campaign_run_init (&run, txn, self->env.pki, self->env.coord_secret, "coordinator",
                       t0 + 60999);
    assert (campaign_expire (&run) == 0);
    run.now_ms = t0 + 61000;
    assert (campaign_expire (&run) == 1);
    assert (store_commit (&txn) == 0);
    campaign_run_fini (&run);
    assert (s_revert_is (self, "campaign-2", "gw-1", "failed", "timed out: reverting"));
    assert (s_state_is (self, "campaign-2", "revert-halted"));
    assert (s_as (self, "acme", "campaign.abort", two, t0 + 62000) == WEFT_STATUS_OK);
    assert (s_held_by (self, "gw-1", NULL));
    //  campaign-3 holds gw-1 now: reverting campaign-2 skips it, and
    //  leaves it to campaign-3
    assert (s_as (self, "acme", "campaign.create", "{\"query\":\"id=gw-1\",\"patch\":"
                  "{\"level\":3},\"waves\":[\"100%\"]}", t0 + 63000) == WEFT_STATUS_OK);
    assert (s_as (self, "acme", "campaign.revert", two, t0 + 63000) == WEFT_STATUS_OK);
    assert (streq (rpc_json_str (self->result.result, "state"), "reverted"));
    assert (s_revert_is (self, "campaign-2", "gw-1", "skipped",
                         "in campaign-3, which is neither aborted nor finished"));
    assert (s_held_by (self, "gw-1", "campaign-3"));
    assert (s_as (self, "acme", "campaign.abort", "{\"id\":\"campaign-3\"}", t0 + 64000)
            == WEFT_STATUS_OK);
}

static void
s_test_running (s_env_t *self)
{
    //  Reverted while its first wave runs: the device patched gets its
    //  undo, the one never patched is left alone, and no due or
    //  under-way entry of its forward run is left behind
    const uint64_t t0 = FIXTURE_NOW + 200000;
    assert (s_as (self, "acme", "campaign.create", "{\"query\":\"id=gw-2 or id=gw-3\","
                  "\"patch\":{\"level\":4},\"waves\":[\"1\",\"100%\"]}", t0)
            == WEFT_STATUS_OK);
    const char *four = "{\"id\":\"campaign-4\"}";
    assert (s_as (self, "acme", "campaign.start", four, t0) == WEFT_STATUS_OK);
    assert (s_desired_is (self, "gw-2", "{\"level\":4}"));
    assert (director_fixture_indexed (self->store, "q/campaign-4/") == 1);
    assert (s_as (self, "acme", "campaign.revert", four, t0 + 1000) == WEFT_STATUS_OK);
    assert (rpc_json_int (self->result.result, "devices") == 1);
    assert (s_desired_is (self, "gw-2", "{}"));
    json_int_t version;
    json_decref (s_desired (self, "gw-3", &version));
    s_apply (self, "gw-2", "ok", t0 + 2000);
    assert (s_state_is (self, "campaign-4", "reverted"));
    assert (director_fixture_indexed (self->store, "q/campaign-4/") == 0);
    assert (director_fixture_indexed (self->store, "w/campaign-4/") == 0);
    json_int_t after;
    assert (s_desired_is (self, "gw-3", "{}"));
    json_decref (s_desired (self, "gw-3", &after));
    assert (after == version);
    assert (s_held_by (self, "gw-2", NULL) && s_held_by (self, "gw-3", NULL));
}

static void
s_test_release (s_env_t *self)
{
    //  A release campaign rolls back per device: refused, left intact
    json_t *campaign = json_pack ("{s:s, s:s, s:[s], s:s, s:s, s:[s], s:[i], s:i}", "id",
                                  "campaign-9", "state", "halted", "tenants", "acme",
                                  "name", "plc", "version", "1.0", "waves", "100%", "sizes",
                                  0, "wave", 0);
    store_txn_t *txn = store_begin (self->store, true);
    assert (campaign_put (txn, campaign) == 0);
    assert (store_commit (&txn) == 0);
    json_decref (campaign);
    assert (s_as (self, "acme", "campaign.revert", "{\"id\":\"campaign-9\"}", FIXTURE_NOW)
            == WEFT_STATUS_CONFLICT);
    assert (strstr (self->result.error, "campaign-9 is a release campaign"));
    assert (s_state_is (self, "campaign-9", "halted"));
}

void
campaign_revert_test (bool verbose)
{
    printf (" * campaign_revert: ");
    //  @selftest
    s_test_undo ();
    char dir [] = "/tmp/weft-campaign-revert-test-XXXXXX";
    assert (mkdtemp (dir));
    store_t *store = store_new (dir, registry_tables (), 0);
    assert (store);
    s_env_t self;
    director_fixture_init (&self, store);
    director_fixture_devices (self.store, "gw", 5, "acme", "gateway");
    s_test_waves (&self);
    s_test_deadline (&self);
    s_test_running (&self);
    s_test_release (&self);

    director_fixture_fini (&self);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    if (verbose)
        printf ("(undo, changed since, waves reversed, threshold, again, deadline, held, "
                "reverted while running, release refused, cross-tenant) ");
    //  @end
    printf ("OK\n");
}
