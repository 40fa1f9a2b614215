/*  update_use_test - selftest of uninstall and entitlements on the
    update rig (update_rig.h): an entitlement that lapses deactivates what
    is installed and a renewal reactivates it; an uninstall is refused
    while an install is under way and for what is not installed, removes
    the software (again after a crash in the middle), lets its chunks go,
    keeps its anti-rollback version, and an assignment from before it
    brings nothing back.  */

#include "proto/corelib.h"
#include "node/core/update_rig.h"
#include "node/core/entitle.h"

static void
s_changed (void *ctx, const char *name, bool active, const char *why)
{
    (void) name; (void) active; (void) why;
    update_rig_t *device = (update_rig_t *) ctx;
    update_entitlement_changed (device->update, device->now);
}

//  A signed order for the rig's device, opened as node.c does
static int
s_order (const keys_t *coord, int kind, uint64_t issued, uint64_t until, sworder_t *order,
         uint8_t **data_p, size_t *size_p)
{
    sworder_t o = { .kind = kind, .tenant = "acme", .scope = UPDATE_RIG_DEVICE,
                    .name = "plc-runtime", .issued_ms = issued, .until_ms = until };
    assert (sworder_sign (&o, coord->sign_secret, data_p, size_p) == 0);
    return sworder_open (order, *data_p, *size_p, coord->sign_public, "acme",
                         UPDATE_RIG_DEVICE, "gateway");
}

static int
s_uninstall (update_rig_t *device, const keys_t *coord, uint64_t issued,
             char reason [WEFT_TEXT_MAX + 1])
{
    sworder_t order;
    uint8_t *data;
    size_t size;
    assert (s_order (coord, SWORDER_UNINSTALL, issued, 0, &order, &data, &size) == 0);
    free (data);
    return update_uninstall (device->update, &order, device->now, reason);
}

static int
s_entitle (entitle_t *entitle, update_rig_t *device, const keys_t *coord, uint64_t issued,
           uint64_t until)
{
    sworder_t order;
    uint8_t *data;
    size_t size;
    char reason [WEFT_TEXT_MAX + 1];
    assert (s_order (coord, SWORDER_ENTITLE, issued, until, &order, &data, &size) == 0);
    int rc = entitle_order (entitle, &order, data, size, device->now, reason);
    free (data);
    return rc;
}

void
update_use_test (bool verbose)
{
    (void) verbose;
    printf (" * update_use: ");
    //  @selftest
    release_fixture_t k;
    release_fixture_keys (&k);
    uint64_t now = FIXTURE_NOW;
    size_t root_size;
    uint8_t *root = release_fixture_root (&k, 1, now + 365 * FIXTURE_DAY, k.root, 2, k.root,
                                          &root_size);
    update_rig_release_t v1, v2;
    update_rig_release (&v1, "1.0", 1, "gateway", 1, 0);
    update_rig_release (&v2, "2.0", 2, "gateway", 2, 40 * 1024);
    release_target_t targets [] = { v1.target, v2.target };
    release_published_t p;
    release_fixture_publish (&k, 1, targets, 2, now + 30 * FIXTURE_DAY, &p);
    update_rig_t device;
    memset (&device, 0, sizeof device);
    strcpy (device.dir, "/tmp/weft-update-use-test-XXXXXX");
    assert (mkdtemp (device.dir));
    device.now = now;
    device.root = root;
    device.root_size = root_size;
    strcpy (device.target, "0.1");
    update_rig_open (&device);
    char reason [WEFT_TEXT_MAX + 1];
    entitle_config_t config = { .name = UPDATE_RIG_DEVICE, .tenant = "acme",
                                .type = "gateway", .coord_sign = k.coord.sign_public,
                                .store = device.store, .prefix = "" };
    entitle_effects_t effects = { &device, s_changed };
    entitle_t *entitle = entitle_new (&config, &effects);
    update_set_entitle (device.update, entitle, now);
    assert (entitle_start (entitle, now) == 0);

    //  v1 installed; not governed: no step, no "active" in the report
    update_rig_taken (&device, &k.coord, "1.0", &v1, root, root_size, &p);
    update_rig_hold (&device, &v1);
    update_chunks_held (device.update, v1.hash, now);
    assert (update_rig_run (&device, 0, false) == 0);
    assert (streq (device.target, "1.0") && !strstr (device.report, "\"active\""));

    //  Entitled for a day: in use
    assert (s_entitle (entitle, &device, &k.coord, now + 1, now + FIXTURE_DAY) == 0);
    assert (device.step == UPDATE_STEP_REACTIVATE);
    assert (update_rig_run (&device, 0, false) == 0 && !device.inactive);
    assert (strstr (device.report, "\"active\":true"));
    //  The day ends: deactivated, and the twin says why
    device.now = now + FIXTURE_DAY;
    assert (entitle_deadline (entitle) == device.now);
    entitle_tick (entitle, device.now);
    assert (device.step == UPDATE_STEP_DEACTIVATE);
    assert (update_rig_run (&device, 0, false) == 0 && device.inactive);
    assert (strstr (device.report, "\"active\":false"));
    assert (strstr (device.report, "\"reason\":\"entitlement expired\""));
    assert (streq (device.target, "1.0"));          //  Still installed
    //  A crash: at start the handler is asked for the same state again
    entitle_destroy (&entitle);
    update_rig_close (&device);
    update_rig_open (&device);
    config.store = device.store;
    entitle = entitle_new (&config, &effects);
    update_set_entitle (device.update, entitle, device.now);
    assert (entitle_start (entitle, device.now) == 0);
    assert (device.step == UPDATE_STEP_DEACTIVATE);
    assert (update_rig_run (&device, 0, false) == 0 && device.inactive);
    //  Renewed: reactivated
    assert (s_entitle (entitle, &device, &k.coord, device.now, device.now + 9 * FIXTURE_DAY)
            == 0);
    assert (device.step == UPDATE_STEP_REACTIVATE);
    assert (update_rig_run (&device, 0, false) == 0 && !device.inactive);
    assert (strstr (device.report, "\"active\":true"));
    //  A handler that cannot deactivate is asked once, not for ever
    device.fail_use = true;
    assert (s_entitle (entitle, &device, &k.coord, device.now + 1, device.now) == 0);
    assert (device.step == UPDATE_STEP_DEACTIVATE);
    size_t asked = device.installs;
    assert (update_rig_run (&device, 0, false) == 0);
    assert (device.installs == asked && !device.inactive);
    assert (strstr (device.report, "\"active\":false"));
    device.fail_use = false;
    assert (s_entitle (entitle, &device, &k.coord, device.now + 2, device.now + 9 * FIXTURE_DAY)
            == 0);
    assert (update_rig_run (&device, 0, false) == 0 && !device.inactive);

    //  Uninstall refused while an install is under way, the job going on
    update_rig_taken (&device, &k.coord, "2.0", &v2, root, root_size, &p);
    assert (update_state (device.update) == UPDATE_DOWNLOADING);
    assert (s_uninstall (&device, &k.coord, device.now + 1, reason) == WEFT_STATUS_DENIED);
    assert (strstr (reason, "uninstall refused: plc-runtime 2.0 is downloading"));
    assert (update_state (device.update) == UPDATE_DOWNLOADING);
    update_rig_hold (&device, &v2);
    update_chunks_held (device.update, v2.hash, device.now);
    assert (update_rig_run (&device, 0, false) == 0);
    assert (streq (device.target, "2.0") && update_state (device.update) == UPDATE_COMMITTED);
    //  An order older than the assignment of what is installed
    assert (s_uninstall (&device, &k.coord, now, reason) == WEFT_STATUS_DENIED);
    assert (strstr (reason, "older than the assignment"));
    assert (streq (device.target, "2.0"));

    //  Uninstall, with a crash before the handler answers
    device.now += 1000;
    uint64_t ordered = device.now;
    assert (s_uninstall (&device, &k.coord, ordered, reason) == WEFT_STATUS_OK);
    assert (update_state (device.update) == UPDATE_REMOVING);
    assert (device.step == UPDATE_STEP_REMOVE);
    assert (strstr (device.report, "\"state\":\"removing\""));
    device.step = 0;
    entitle_destroy (&entitle);
    update_rig_close (&device);
    update_rig_open (&device);
    assert (update_state (device.update) == UPDATE_REMOVING);
    assert (device.step == UPDATE_STEP_REMOVE);     //  Asked again
    //  An offer meanwhile waits
    size_t a_size, o_size;
    uint8_t *a = update_rig_assign (&k.coord, UPDATE_RIG_DEVICE, "2.0", v2.hash, now,
                                    now + 5 * FIXTURE_DAY, &a_size);
    uint8_t *offer = update_rig_offer (root, root_size, &p, v2.manifest, v2.manifest_size, a,
                                       a_size, &o_size);
    assert (update_offer (device.update, offer, o_size, device.now, reason)
            == WEFT_STATUS_INTERNAL);
    assert (update_rig_run (&device, 0, false) == 0);
    assert (update_state (device.update) == UPDATE_UNINSTALLED);
    assert (*device.target == 0 && *update_installed_version (device.update) == 0);
    assert (strstr (device.report, "\"state\":\"uninstalled\""));
    //  Its chunks are let go (evictable), none of the releases is kept
    assert (update_rig_kept_at (&device, v2.hash) < 0);
    assert (update_rig_kept_at (&device, v1.hash) < 0);
    //  The same order again: nothing more; a restart stays uninstalled
    assert (s_uninstall (&device, &k.coord, ordered, reason) == WEFT_STATUS_OK);
    assert (streq (reason, "duplicate") && device.step == 0);
    update_rig_close (&device);
    update_rig_open (&device);
    assert (update_state (device.update) == UPDATE_UNINSTALLED && device.step == 0);
    //  An assignment from before the order brings nothing back; the
    //  anti-rollback version stays (v1 is still a rollback)
    assert (update_offer (device.update, offer, o_size, device.now, reason)
            == WEFT_STATUS_DENIED);
    assert (strstr (reason, "assigned before the order"));
    free (offer);
    free (a);
    a = update_rig_assign (&k.coord, UPDATE_RIG_DEVICE, "1.0", v1.hash, device.now + 1,
                           device.now + FIXTURE_DAY, &a_size);
    offer = update_rig_offer (root, root_size, &p, v1.manifest, v1.manifest_size, a, a_size,
                              &o_size);
    assert (update_offer (device.update, offer, o_size, device.now, reason)
            == WEFT_STATUS_DENIED);
    assert (strstr (reason, "rollback"));
    free (offer);
    free (a);
    //  Nothing installed: another uninstall is refused
    assert (s_uninstall (&device, &k.coord, device.now + 5, reason) == WEFT_STATUS_DENIED);
    assert (strstr (reason, "is not installed"));
    //  A later assignment installs it again
    device.now += 1000;
    update_rig_taken (&device, &k.coord, "2.0", &v2, root, root_size, &p);
    update_rig_hold (&device, &v2);
    update_chunks_held (device.update, v2.hash, device.now);
    assert (update_rig_run (&device, 0, false) == 0);
    assert (streq (device.target, "2.0"));

    update_rig_close (&device);
    free (device.manifest);
    update_rig_release_free (&v1);
    update_rig_release_free (&v2);
    free (p.targets);
    free (p.snapshot);
    free (p.timestamp);
    free (root);
    char command [128];
    snprintf (command, sizeof command, "rm -rf %s", device.dir);
    assert (system (command) == 0);
    //  @end
    printf ("OK\n");
}
