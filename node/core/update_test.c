/*  update_test - selftest of the update module over a real LMDB store
    and chunk store: offers built from the fixture publisher's keys,
    every refusal of an offer (the device's version and files stay), the
    install state machine with a handler played by the test on a model
    of the device's files, a failing health check rolling back, a bad or
    wrong-sized chunk failing the stage, and a crash at every step: the
    device is on the old version or the new one, and the attempt
    completes after the restart. The device and releases are the rig of
    update_rig.h.  */

#include "proto/corelib.h"
#include "node/core/update_rig.h"

void
update_test (bool verbose)
{
    printf (" * update: ");
    //  @selftest
    release_fixture_t k;
    release_fixture_keys (&k);
    uint64_t now = FIXTURE_NOW;
    size_t root_size;
    uint8_t *root = release_fixture_root (&k, 1, now + 365 * FIXTURE_DAY, k.root, 2, k.root,
                                          &root_size);
    update_rig_release_t v1, v2, v0, wrong;
    update_rig_release (&v1, "1.0", 1, "gateway,server", 1, 0);
    update_rig_release (&v2, "2.0", 2, "gateway", 2, 40 * 1024);
    update_rig_release (&v0, "0.9", 0, "gateway", 3, 0);
    update_rig_release (&wrong, "2.1", 2, "server", 4, 0);
    release_target_t targets [] = { v1.target, v2.target, v0.target, wrong.target };
    release_published_t p1, p2;
    release_fixture_publish (&k, 1, targets, 1, now + FIXTURE_DAY, &p1);
    release_fixture_publish (&k, 2, targets, 4, now + FIXTURE_DAY, &p2);

    update_rig_t device;
    memset (&device, 0, sizeof device);
    strcpy (device.dir, "/tmp/weft-update-test-XXXXXX");
    assert (mkdtemp (device.dir));
    device.now = now;
    device.root = root;
    device.root_size = root_size;
    strcpy (device.target, "0.1");      //  Shipped with the device
    update_rig_open (&device);
    assert (update_trusting (device.update));
    char reason [WEFT_TEXT_MAX + 1];

    //  v1: assigned, downloading until its chunks are held, then staged,
    //  activated, checked and committed
    size_t a_size, o_size;
    uint8_t *a = update_rig_assign (&k.coord, UPDATE_RIG_DEVICE, "1.0", v1.hash, now,
                                    now + FIXTURE_DAY, &a_size);
    uint8_t *offer = update_rig_offer (root, root_size, &p1, v1.manifest, v1.manifest_size, a,
                                       a_size, &o_size);
    free (a);
    assert (update_offer (device.update, offer, o_size, now, reason) == WEFT_STATUS_OK);
    assert (update_state (device.update) == UPDATE_DOWNLOADING);
    assert (device.wants == 1 && device.step == 0);
    assert (strstr (device.report, "\"state\":\"downloading\""));
    assert (strstr (device.report, "\"held\":0"));
    //  The same offer again: OK, nothing changes
    assert (update_offer (device.update, offer, o_size, now, reason) == WEFT_STATUS_OK);
    assert (streq (reason, "duplicate") && device.wants == 1);
    update_rig_hold (&device, &v1);
    update_chunks_held (device.update, v1.hash, now);
    assert (update_state (device.update) == UPDATE_VERIFIED && device.step == UPDATE_STEP_STAGE);
    assert (update_rig_run (&device, 0, false) == 0);
    assert (update_state (device.update) == UPDATE_COMMITTED);
    assert (streq (update_installed_version (device.update), "1.0"));
    assert (streq (device.target, "1.0") && !device.has_prev);
    assert (strstr (device.report, "\"state\":\"committed\""));
    assert (strstr (device.report, "\"previous\":\"\""));
    //  Delivered again after the commit: still a duplicate
    assert (update_offer (device.update, offer, o_size, now, reason) == WEFT_STATUS_OK);
    assert (device.installs == 4);
    free (offer);

    //  Refusals, each leaving version and files as they are
    //  Targets short of their threshold (one of two release keys)
    release_published_t short_p;
    release_fixture_publish_by (&k, 3, targets, 2, now + FIXTURE_DAY, &k.targets [0], 1,
                                &short_p);
    a = update_rig_assign (&k.coord, UPDATE_RIG_DEVICE, "2.0", v2.hash, now, now + FIXTURE_DAY,
                           &a_size);
    offer = update_rig_offer (root, root_size, &short_p, v2.manifest, v2.manifest_size, a, a_size,
                              &o_size);
    update_rig_refused (&device, offer, o_size, "threshold");
    free (offer);
    //  Signed by the coordinator alone: a release the targets do not name
    update_rig_release_t rogue;
    update_rig_release (&rogue, "6.6", 9, "*", 6, 0);
    uint8_t *ra = update_rig_assign (&k.coord, UPDATE_RIG_DEVICE, "6.6", rogue.hash, now,
                                     now + FIXTURE_DAY, &a_size);
    size_t ra_size = a_size;
    offer = update_rig_offer (root, root_size, &p2, rogue.manifest, rogue.manifest_size, ra,
                              ra_size, &o_size);
    update_rig_refused (&device, offer, o_size,
                        "mix and match");     //  Its manifest: no target names it
    free (offer);
    offer = update_rig_offer (root, root_size, &p2, v2.manifest, v2.manifest_size, ra, ra_size,
                              &o_size);
    update_rig_refused (&device, offer, o_size, "no such release");   //  With a published manifest
    free (offer);
    free (ra);
    //  An assignment not signed by the coordinator, and one for another device
    update_rig_refused_assigned (&device, &k.rogue, UPDATE_RIG_DEVICE, "2.0", &v2, root,
                                 root_size, &p2, "no valid assignment");
    update_rig_refused_assigned (&device, &k.coord, "gw-2", "2.0", &v2, root, root_size, &p2,
                                 "no valid assignment");
    //  Mix and match: v1's manifest under the assignment of v2
    free (a);
    a = update_rig_assign (&k.coord, UPDATE_RIG_DEVICE, "2.0", v2.hash, now, now + FIXTURE_DAY,
                           &a_size);
    offer = update_rig_offer (root, root_size, &p2, v1.manifest, v1.manifest_size, a, a_size,
                              &o_size);
    update_rig_refused (&device, offer, o_size, "mix and match");
    free (offer);
    //  Mix and match: p2's timestamp and snapshot with p1's targets
    release_published_t mixed = p2;
    mixed.targets = p1.targets;
    mixed.targets_size = p1.targets_size;
    offer = update_rig_offer (root, root_size, &mixed, v2.manifest, v2.manifest_size, a, a_size,
                              &o_size);
    update_rig_refused (&device, offer, o_size, "mix and match");
    free (offer);
    //  Frozen: the timestamp has expired
    offer = update_rig_offer (root, root_size, &p2, v2.manifest, v2.manifest_size, a, a_size,
                              &o_size);
    device.now = now + FIXTURE_DAY + 1;
    update_rig_refused (&device, offer, o_size, "expired");
    device.now = now;
    //  Cut short, or a byte changed: not whole
    update_rig_refused (&device, offer, o_size - 1, "malformed");
    offer [o_size / 2] ^= 1;
    assert (update_offer (device.update, offer, o_size, now, reason) == WEFT_STATUS_DENIED);
    offer [o_size / 2] ^= 1;
    free (offer);
    free (a);
    //  Another device type
    update_rig_refused_assigned (&device, &k.coord, UPDATE_RIG_DEVICE, "2.1", &wrong, root,
                                 root_size, &p2, "device type");
    //  Anti-rollback: 0.9 (anti-rollback 0) below the installed 1.0's 1
    update_rig_refused_assigned (&device, &k.coord, UPDATE_RIG_DEVICE, "0.9", &v0, root,
                                 root_size, &p2, "anti-rollback");

    //  v2 with a failing health check: rolled back by itself, the twin says why
    a = update_rig_assign (&k.coord, UPDATE_RIG_DEVICE, "2.0", v2.hash, now, now + FIXTURE_DAY,
                           &a_size);
    offer = update_rig_offer (root, root_size, &p2, v2.manifest, v2.manifest_size, a, a_size,
                              &o_size);
    free (a);
    assert (update_offer (device.update, offer, o_size, now, reason) == WEFT_STATUS_OK);
    //  Chunks shared with v1 are held already; the rest arrive
    assert (update_state (device.update) == UPDATE_DOWNLOADING);
    update_rig_hold (&device, &v2);
    update_chunks_held (device.update, v2.hash, now);
    device.fail_health = true;
    size_t drops = device.drops;
    assert (update_rig_run (&device, 0, false) == 0);
    assert (update_state (device.update) == UPDATE_ROLLED_BACK);
    assert (streq (update_installed_version (device.update), "1.0"));
    assert (streq (device.target, "1.0"));
    assert (strstr (device.report, "\"error\":\"health check failed: exit status 3\""));
    assert (strstr (device.report, "\"state\":\"rolled-back\""));
    assert (device.drops == drops + 1);
    //  The same assignment again changes nothing; the metadata moved
    //  forward to p2, so p1 is now stale
    assert (update_offer (device.update, offer, o_size, now, reason) == WEFT_STATUS_OK);
    assert (update_state (device.update) == UPDATE_ROLLED_BACK);
    a = update_rig_assign (&k.coord, UPDATE_RIG_DEVICE, "1.0", v1.hash, now + 1,
                           now + FIXTURE_DAY, &a_size);
    uint8_t *stale = update_rig_offer (root, root_size, &p1, v1.manifest, v1.manifest_size, a,
                                       a_size, &o_size);
    size_t stale_size = o_size;
    update_rig_refused (&device, stale, stale_size, "older than the trusted");
    free (stale);
    free (a);
    free (offer);

    //  A chunk that does not unpack to its address, then one of another
    //  size: the stage fails, nothing switched
    device.fail_health = false;
    for (int bad = 0; bad < 2; bad++) {
        update_rig_fresh (&device);
        const uint8_t *entry = v2.entries;
        uint32_t size = (uint32_t) entry [33] << 16 | (uint32_t) entry [34] << 8 | entry [35];
        //  Bytes of the same size but other content, or of another size
        uint8_t *fake = (uint8_t *) zmalloc (size + 100);
        memset (fake, 'x', size + 100);
        uint8_t *packed;
        size_t packed_size;
        assert (chunker_pack (fake, bad? size + 100: size, &packed, &packed_size) == 0);
        store_txn_t *txn = store_begin (device.store, true);
        assert (chunkstore_put (device.chunks, txn, entry, packed, packed_size,
                                bad? size + 100: size) == 0);
        assert (store_commit (&txn) == 0);
        free (packed);
        free (fake);
        update_rig_hold (&device, &v2);          //  The rest; the bad one stays as held
        update_rig_taken (&device, &k.coord, "2.0", &v2, root, root_size, &p2);
        assert (update_state (device.update) == UPDATE_VERIFIED);
        assert (update_rig_run (&device, 0, false) == 0);
        assert (update_state (device.update) == UPDATE_ROLLED_BACK);
        assert (streq (device.target, "0.1"));
        assert (*update_installed_version (device.update) == 0);
        assert (strstr (update_error (device.update), "stage failed: chunk 0"));
        assert (strstr (update_error (device.update), "does not unpack"));
    }

    //  A crash at every step, before and after the handler carried it
    //  out: after the restart the device is on the old version or the
    //  new one, never between, and the attempt completes
    size_t crashes = 0;
    for (int stop = 1; stop <= 4; stop++)
        for (int run_it = 0; run_it < 2; run_it++) {
            update_rig_fresh (&device);
            update_rig_hold (&device, &v2);
            a = update_rig_assign (&k.coord, UPDATE_RIG_DEVICE, "2.0", v2.hash, now,
                                   now + FIXTURE_DAY, &a_size);
            offer = update_rig_offer (root, root_size, &p2, v2.manifest, v2.manifest_size, a,
                                      a_size, &o_size);
            free (a);
            assert (update_offer (device.update, offer, o_size, now, reason)
                    == WEFT_STATUS_OK);
            int asked = update_rig_run (&device, stop, run_it);
            assert (asked);
            assert (streq (device.target, "0.1") || streq (device.target, "2.0"));
            update_rig_close (&device);
            size_t reports = device.reports;
            update_rig_open (&device);           //  Asks again for the step it waits for
            //  and reports anew: a check-in after the restart is its ACK
            assert (device.reports > reports);
            //  (a commit not answered is asked again through its health check)
            assert (device.step == (asked == UPDATE_STEP_COMMIT? UPDATE_STEP_HEALTH: asked));
            assert (update_rig_run (&device, 0, false) == 0);
            assert (update_state (device.update) == UPDATE_COMMITTED);
            assert (streq (device.target, "2.0") && !device.has_prev);
            assert (streq (update_installed_version (device.update), "2.0"));
            //  Delivered again after the restart: a duplicate
            assert (update_offer (device.update, offer, o_size, now, reason)
                    == WEFT_STATUS_OK);
            assert (device.step == 0);
            free (offer);
            crashes++;
        }
    //  A crash while downloading asks for the chunks again; one during
    //  the rollback of a failed health check completes the rollback
    for (int run_it = 0; run_it < 2; run_it++) {
        update_rig_fresh (&device);
        update_rig_taken (&device, &k.coord, "2.0", &v2, root, root_size, &p2);
        size_t wants = device.wants;
        update_rig_close (&device);
        update_rig_open (&device);
        assert (device.wants == wants + 1);
        assert (update_state (device.update) == UPDATE_DOWNLOADING);
        update_rig_hold (&device, &v2);
        update_chunks_held (device.update, v2.hash, now);
        device.fail_health = true;
        assert (update_rig_run (&device, 4, run_it) == UPDATE_STEP_ROLLBACK);
        assert (streq (device.target, "0.1") || streq (device.target, "2.0"));
        update_rig_close (&device);
        device.fail_health = false;
        update_rig_open (&device);
        assert (device.step == UPDATE_STEP_ROLLBACK);
        assert (update_rig_run (&device, 0, false) == 0);
        assert (update_state (device.update) == UPDATE_ROLLED_BACK);
        assert (streq (device.target, "0.1"));
        assert (strstr (device.report, "health check failed"));
        crashes++;
    }
    //  A crash after a state's commit and before the drop it leads to
    //  (the commit of v2 letting v1 go, the rollback letting v2 go, an
    //  offer replacing a release not yet installed): the release stays
    //  kept until the restart lets it go; the one needed stays
    for (int point = 0; point < 3; point++) {
        update_rig_fresh (&device);
        update_rig_hold (&device, &v1);
        if (point == 2)
            //  0.9 asked for, still downloading when v2 comes
            update_rig_taken (&device, &k.coord, "0.9", &v0, root, root_size, &p2);
        else {
            update_rig_taken (&device, &k.coord, "1.0", &v1, root, root_size, &p1);
            assert (update_rig_run (&device, 0, false) == 0);
            assert (update_state (device.update) == UPDATE_COMMITTED);
        }
        assert (device.kept_count == 1);
        const uint8_t *left = point == 0? v1.hash: point == 1? v2.hash: v0.hash;
        const uint8_t *needed = point == 1? v1.hash: v2.hash;
        device.fail_health = point == 1;
        device.lose_drop = true;
        update_rig_hold (&device, &v2);
        update_rig_taken (&device, &k.coord, "2.0", &v2, root, root_size, &p2);
        assert (update_rig_run (&device, 0, false) == 0);
        assert (update_state (device.update)
                == (point == 1? UPDATE_ROLLED_BACK: UPDATE_COMMITTED));
        assert (!device.lose_drop && device.kept_count == 2);
        assert (update_rig_kept_at (&device, left) >= 0);
        update_rig_close (&device);
        update_rig_open (&device);
        assert (device.kept_count == 1);
        assert (update_rig_kept_at (&device, needed) == 0
                && update_rig_kept_at (&device, left) < 0);
        device.fail_health = false;
        crashes++;
    }
    //  The installed release offered again (after another was rolled
    //  back), failing its health check: rolled back, its chunks kept
    update_rig_fresh (&device);
    update_rig_hold (&device, &v1);
    update_rig_taken (&device, &k.coord, "1.0", &v1, root, root_size, &p1);
    assert (update_rig_run (&device, 0, false) == 0);
    device.fail_health = true;
    update_rig_hold (&device, &v2);
    update_rig_taken (&device, &k.coord, "2.0", &v2, root, root_size, &p2);
    assert (update_rig_run (&device, 0, false) == 0);
    assert (update_state (device.update) == UPDATE_ROLLED_BACK);
    device.now++;                       //  Another assignment
    update_rig_taken (&device, &k.coord, "1.0", &v1, root, root_size, &p2);
    assert (update_rig_run (&device, 0, false) == 0);
    assert (update_state (device.update) == UPDATE_ROLLED_BACK);
    assert (streq (update_installed_version (device.update), "1.0"));
    assert (device.kept_count == 1 && update_rig_kept_at (&device, v1.hash) == 0);
    update_rig_close (&device);
    update_rig_open (&device);
    assert (device.kept_count == 1 && update_rig_kept_at (&device, v1.hash) == 0);
    device.fail_health = false;
    device.now = now;

    //  A job record of format 2 (before the release let go and the
    //  offerer) still reads
    update_rig_fresh (&device);
    update_rig_hold (&device, &v1);
    update_rig_taken (&device, &k.coord, "1.0", &v1, root, root_size, &p1);
    assert (update_rig_run (&device, 0, false) == 0);
    store_txn_t *txn = store_begin (device.store, true);
    size_t job_size;
    uint8_t *job = (uint8_t *) store_get (txn, UPDATE_TABLE, "job", 3, &job_size);
    assert (job && job_size > 114 && job [0] == 4);
    size_t offerer_at = 114;
    for (int text = 0; text < 5; text++)
        offerer_at += strlen ((const char *) job + offerer_at) + 1;
    assert (job [offerer_at] == 0);         //  The coordinator's offer: ""
    memmove (job + offerer_at, job + offerer_at + 1, job_size - offerer_at - 1);
    job [0] = 2;
    memmove (job + 82, job + 114, job_size - 1 - 114);
    assert (store_put (txn, UPDATE_TABLE, "job", 3, job, job_size - 1 - 32) == 0);
    assert (store_commit (&txn) == 0);
    free (job);
    update_rig_close (&device);
    update_rig_open (&device);
    assert (update_state (device.update) == UPDATE_COMMITTED);
    assert (streq (update_installed_version (device.update), "1.0"));
    assert (device.kept_count == 1 && update_rig_kept_at (&device, v1.hash) == 0);
    if (verbose)
        printf ("\n   %zu crash points, v2 in %zu chunks", crashes, v2.count);

    //  Maintenance windows: staged any time, installed only inside the
    //  window, from its opening (the module's tick at its deadline)
    char closed [64], open [64];
    unsigned hour = (unsigned) (now / 3600000 % 24);
    snprintf (closed, sizeof closed, "[\"* %02u:00-%02u:00\"]", (hour + 3) % 24,
              (hour + 4) % 24);
    snprintf (open, sizeof open, "[\"Mon 00:00-Mon 00:00\"]");
    update_rig_fresh (&device);
    update_rig_window (&device, closed);
    update_rig_hold (&device, &v1);
    update_rig_taken (&device, &k.coord, "1.0", &v1, root, root_size, &p1);
    assert (update_rig_run (&device, 0, false) == 0);
    assert (update_state (device.update) == UPDATE_STAGED && streq (device.target, "0.1"));
    assert (strstr (device.report, "\"state\":\"staged\""));
    assert (strstr (device.report, "\"waiting\":\"maintenance window: next opens "));
    assert (strstr (device.report, " (in 2 h ") || strstr (device.report, " (in 3 h)"));
    uint64_t opens = update_deadline (device.update);
    assert (opens > now + 2 * 3600000 && opens <= now + 3 * 3600000);
    char opens_text [48];
    snprintf (opens_text, sizeof opens_text, "\"opens_ms\":%" PRIu64 ",", opens);
    assert (strstr (device.report, opens_text));    //  For a campaign's deadline
    //  A restart while it waits: still waiting, nothing asked
    update_rig_close (&device);
    update_rig_open (&device);
    assert (update_state (device.update) == UPDATE_STAGED && device.step == 0);
    assert (strstr (device.report, "\"waiting\":\"maintenance window: next opens "));
    update_tick (device.update, opens - 1);
    assert (update_state (device.update) == UPDATE_STAGED && device.step == 0);
    device.now = opens;
    update_tick (device.update, opens);
    assert (device.step == UPDATE_STEP_ACTIVATE && !strstr (device.report, "waiting"));
    //  Started inside the window, it runs to its end when the window closes
    update_rig_window (&device, closed);
    assert (update_rig_run (&device, 0, false) == 0);
    assert (update_state (device.update) == UPDATE_COMMITTED && streq (device.target, "1.0"));
    assert (update_deadline (device.update) == 0);
    //  The offset of local time: the same window, open at UTC+3 (DST
    //  moves it alike); then a newer release replaces one that waits
    device.now = now;
    update_rig_fresh (&device);
    update_rig_window (&device, closed);
    update_rig_hold (&device, &v1);
    update_rig_taken (&device, &k.coord, "1.0", &v1, root, root_size, &p1);
    assert (update_rig_run (&device, 0, false) == 0
            && update_state (device.update) == UPDATE_STAGED);
    update_rig_hold (&device, &v2);
    size_t drops_before = device.drops;
    update_rig_taken (&device, &k.coord, "2.0", &v2, root, root_size, &p2);
    assert (device.drops == drops_before + 1 && device.step == UPDATE_STEP_STAGE);
    assert (update_rig_run (&device, 0, false) == 0
            && update_state (device.update) == UPDATE_STAGED);
    assert (strstr (device.report, "\"version\":\"2.0\""));
    device.offset = 3 * 3600;
    update_set_utc_offset (device.update, device.offset, now);
    assert (update_rig_run (&device, 0, false) == 0 && streq (device.target, "2.0"));
    device.offset = 0;
    //  A malformed window: nothing installs, the report says why; fixed
    //  (here: removed), the release installs at once
    update_rig_fresh (&device);
    update_rig_window (&device, "[\"Sun 2:00-04:00\"]");
    assert (device.window.malformed);
    update_rig_hold (&device, &v1);
    update_rig_taken (&device, &k.coord, "1.0", &v1, root, root_size, &p1);
    assert (update_rig_run (&device, 0, false) == 0
            && update_state (device.update) == UPDATE_STAGED);
    assert (strstr (device.report, "\"waiting\":\"maintenance window malformed: window 1 "));
    assert (!strstr (device.report, "opens_ms"));   //  Never opens
    assert (update_deadline (device.update) == 0);
    update_tick (device.update, now + 7 * FIXTURE_DAY);
    assert (device.step == 0);
    update_rig_window (&device, open);
    assert (update_rig_run (&device, 0, false) == 0 && streq (device.target, "1.0"));
    update_rig_window (&device, NULL);
    assert (!device.window.set);

    //  An offer of a site server's: the device keeps who sent it (its
    //  status goes there too), across a restart, until an offer of the
    //  coordinator's replaces the job
    update_rig_fresh (&device);
    update_rig_hold (&device, &v1);
    {
        size_t a_size, o_size;
        uint8_t *a = update_rig_assign (&k.coord, UPDATE_RIG_DEVICE, "1.0", v1.hash, now,
                                        now + FIXTURE_DAY, &a_size);
        uint8_t *o = update_rig_offer (root, root_size, &p1, v1.manifest, v1.manifest_size, a,
                                       a_size, &o_size);
        assert (update_offer_from (device.update, "srv-1", o, o_size, device.now, reason)
                == WEFT_STATUS_OK);
        free (o);
        free (a);
    }
    assert (streq (update_offerer (device.update), "srv-1"));
    update_rig_close (&device);
    update_rig_open (&device);
    assert (streq (update_offerer (device.update), "srv-1"));
    assert (update_rig_run (&device, 0, false) == 0 && streq (device.target, "1.0"));
    update_rig_hold (&device, &v2);
    update_rig_taken (&device, &k.coord, "2.0", &v2, root, root_size, &p2);
    assert (*update_offerer (device.update) == 0);
    assert (update_rig_run (&device, 0, false) == 0 && streq (device.target, "2.0"));
    assert (strstr (device.report, "\"handler\":\"file\""));
    assert (!strstr (device.report, "\"fw\""));

    //  Firmware: committed, the report carries its revision as fw (the
    //  node's weft.fw); one rolled back carries none, so fw stays
    update_rig_release_t fw3, fw4;
    update_rig_release_by (&fw3, "firmware", "3.0", 3, "gateway", 5, 0);
    update_rig_release_by (&fw4, "firmware", "4.0", 4, "gateway", 6, 0);
    release_target_t fw_targets [] = { v2.target, fw3.target, fw4.target };
    release_published_t p3;
    release_fixture_publish (&k, 3, fw_targets, 3, now + FIXTURE_DAY, &p3);
    update_rig_hold (&device, &fw3);
    update_rig_taken (&device, &k.coord, "3.0", &fw3, root, root_size, &p3);
    assert (update_rig_run (&device, 0, false) == 0 && streq (device.target, "3.0"));
    assert (strstr (device.report, "\"state\":\"committed\""));
    assert (strstr (device.report, "\"handler\":\"firmware\""));
    assert (strstr (device.report, "\"fw\":\"3.0\""));
    update_rig_hold (&device, &fw4);
    update_rig_taken (&device, &k.coord, "4.0", &fw4, root, root_size, &p3);
    device.fail_health = true;
    assert (update_rig_run (&device, 0, false) == 0 && streq (device.target, "3.0"));
    device.fail_health = false;
    assert (strstr (device.report, "\"state\":\"rolled-back\""));
    assert (strstr (device.report, "\"installed\":\"3.0\""));
    assert (!strstr (device.report, "\"fw\""));
    update_rig_release_free (&fw3);
    update_rig_release_free (&fw4);
    release_fixture_free (&p3);

    //  No pinned root: every offer refused
    update_rig_close (&device);
    char command [320];
    snprintf (command, sizeof command, "rm -rf %s && mkdir -m 700 %s", device.dir, device.dir);
    assert (system (command) == 0);
    device.root = NULL;
    device.root_size = 0;
    update_rig_open (&device);
    assert (!update_trusting (device.update));
    a = update_rig_assign (&k.coord, UPDATE_RIG_DEVICE, "2.0", v2.hash, now, now + FIXTURE_DAY,
                           &a_size);
    offer = update_rig_offer (root, root_size, &p2, v2.manifest, v2.manifest_size, a, a_size,
                              &o_size);
    update_rig_refused (&device, offer, o_size, "no release root");
    free (offer);
    free (a);
    update_rig_close (&device);
    snprintf (command, sizeof command, "rm -rf %s", device.dir);
    assert (system (command) == 0);
    free (device.manifest);
    update_rig_release_free (&v1);
    update_rig_release_free (&v2);
    update_rig_release_free (&v0);
    update_rig_release_free (&wrong);
    update_rig_release_free (&rogue);
    release_fixture_free (&p1);
    release_fixture_free (&p2);
    release_fixture_free (&short_p);
    free (root);
    //  @end
    printf ("OK\n");
}
