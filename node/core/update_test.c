/*  update_test - selftest of the update module over a real LMDB store
    and chunk store: offers built from the fixture publisher's keys,
    every refusal of an offer (the device's version and files stay), the
    install state machine with a handler played by the test on a model
    of the device's files, a failing health check rolling back, a bad or
    wrong-sized chunk failing the stage, and a crash at every step: the
    device is on the old version or the new one, and the attempt
    completes after the restart.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/chunker.h"
#include "proto/bundle.h"
#include "proto/release_fixture.h"
#include "node/core/update.h"

#define T_DEVICE    "gw-1"
#define T_ARTIFACT  (96 * 1024)

//  A release: its artifact, manifest and packed chunks
typedef struct {
    uint8_t *artifact;
    size_t size;
    uint8_t *manifest;
    size_t manifest_size;
    uint8_t hash [32];
    size_t count;
    uint8_t entries [16 * MANIFEST_ENTRY_SIZE];
    uint8_t *packed [16];
    size_t packed_size [16];
    release_target_t target;
} t_release_t;

//  The device: its store, the module, and a model of its files that
//  the test's handler keeps as the file handler keeps real ones
typedef struct {
    char dir [64];
    store_t *store;
    chunkstore_t *chunks;
    update_t *update;
    const uint8_t *root;
    size_t root_size;
    size_t wants, drops, installs, reports;
    //  The releases wanted, as the fetch module keeps them in the store
    //  (a crash keeps them); lose_drop: the next drop is lost (a crash
    //  came first)
    uint8_t kept [8][32];
    size_t kept_count;
    bool lose_drop;
    int step;                       //  Asked and not yet answered
    char report [1024];
    char target [16], prev [16], staged [16];
    bool has_prev;                  //  An activation kept the previous
    bool fail_health;
    const char *staging;            //  Version of the job (what a stage makes)
    uint8_t *manifest;              //  Of the step asked (copied)
    size_t manifest_size;
    uint64_t now;
    window_t window;                //  The twin's, set again at every start
    int32_t offset;
} t_device_t;

static ssize_t
s_kept_at (t_device_t *device, const uint8_t hash [32])
{
    for (size_t i = 0; i < device->kept_count; i++)
        if (memcmp (device->kept [i], hash, 32) == 0)
            return (ssize_t) i;
    return -1;
}

static void
s_want (void *ctx, const uint8_t hash [32], const uint8_t *manifest, size_t size)
{
    (void) manifest; (void) size;
    t_device_t *device = (t_device_t *) ctx;
    device->wants++;
    if (s_kept_at (device, hash) < 0) {
        assert (device->kept_count < 8);
        memcpy (device->kept [device->kept_count++], hash, 32);
    }
}

static void
s_drop (void *ctx, const uint8_t hash [32])
{
    t_device_t *device = (t_device_t *) ctx;
    device->drops++;
    if (device->lose_drop) {
        device->lose_drop = false;
        return;
    }
    ssize_t at = s_kept_at (device, hash);
    if (at >= 0)
        memcpy (device->kept [at], device->kept [--device->kept_count], 32);
}

static void
s_install (void *ctx, const update_install_t *install)
{
    t_device_t *device = (t_device_t *) ctx;
    assert (device->step == 0);     //  One step at a time
    device->step = install->step;
    device->staging = install->version;
    free (device->manifest);
    device->manifest = (uint8_t *) zmalloc (install->manifest_size);
    memcpy (device->manifest, install->manifest, install->manifest_size);
    device->manifest_size = install->manifest_size;
    device->installs++;
}

static void
s_report (void *ctx, const char *json, size_t size)
{
    t_device_t *device = (t_device_t *) ctx;
    assert (size < sizeof device->report);
    memcpy (device->report, json, size);
    device->report [size] = 0;
    device->reports++;
}

static int
s_sink (void *arg, const uint8_t *data, size_t size)
{
    (void) data;
    *(size_t *) arg += size;
    return 0;
}

static void
s_open (t_device_t *device)
{
    const char *tables [] = { UPDATE_TABLE, CHUNKSTORE_TABLE, NULL };
    device->store = store_new (device->dir, tables, 0);
    assert (device->store);
    device->chunks = chunkstore_new (device->store, "", 64 * 1024 * 1024);
    assert (device->chunks);
    release_fixture_t k;
    release_fixture_keys (&k);
    update_config_t config = {
        .name = T_DEVICE, .tenant = "acme", .type = "gateway",
        .coord_sign = k.coord.sign_public, .release_root = device->root,
        .release_root_size = device->root_size, .store = device->store, .prefix = "",
        .chunks = device->chunks
    };
    update_effects_t effects = { device, s_want, s_drop, s_install, s_report };
    device->update = update_new (&config, &effects);
    assert (device->update);
    device->step = 0;
    update_set_utc_offset (device->update, device->offset, device->now);
    update_set_window (device->update, &device->window, device->now);
    assert (update_start (device->update, device->now) == 0);
}

//  A crash: nothing but the store survives
static void
s_close (t_device_t *device)
{
    update_destroy (&device->update);
    chunkstore_destroy (&device->chunks);
    store_destroy (&device->store);
}

//  A new device on version 0.1: the store wiped, the module opened
static void
s_fresh (t_device_t *device)
{
    s_close (device);
    char command [160];
    snprintf (command, sizeof command, "rm -rf %s && mkdir -m 700 %s", device->dir,
              device->dir);
    assert (system (command) == 0);
    strcpy (device->target, "0.1");
    *device->prev = *device->staged = 0;
    device->has_prev = false;
    device->kept_count = 0;
    s_open (device);
}

//  The twin's maintenance windows, JSON list; NULL: none
static void
s_set_window (t_device_t *device, const char *windows)
{
    char doc [256] = "{}";
    if (windows)
        snprintf (doc, sizeof doc, "{\"maintenance\": {\"windows\": %s}}", windows);
    window_from_doc (&device->window, doc, strlen (doc));
    update_set_window (device->update, &device->window, device->now);
}

//  Carry out the step asked, on the model, as the file handler does
static void
s_do_step (t_device_t *device, bool *ok, char *error)
{
    *ok = true;
    *error = 0;
    int step = device->step;
    if (step == UPDATE_STEP_STAGE) {
        //  Read the chunks back as the handler does; a bad one fails
        size_t written = 0;
        char why [UPDATE_ERROR_MAX + 1];
        if (update_assemble (device->chunks, device->store, device->manifest,
                             device->manifest_size, s_sink, &written, why)) {
            *ok = false;
            strcpy (error, why);
        }
        else {
            assert (written == T_ARTIFACT);
            snprintf (device->staged, sizeof device->staged, "%s", device->staging);
        }
    }
    else
    if (step == UPDATE_STEP_ACTIVATE) {
        if (*device->staged) {      //  Else done before a crash
            strcpy (device->prev, device->target);
            device->has_prev = true;
            strcpy (device->target, device->staged);
            *device->staged = 0;
        }
    }
    else
    if (step == UPDATE_STEP_HEALTH) {
        if (device->fail_health) {
            *ok = false;
            strcpy (error, "exit status 3");
        }
    }
    else
    if (step == UPDATE_STEP_COMMIT) {
        *device->prev = 0;
        device->has_prev = false;
    }
    else
    if (step == UPDATE_STEP_ROLLBACK) {
        *device->staged = 0;
        if (device->has_prev)
            strcpy (device->target, device->prev);
        *device->prev = 0;
        device->has_prev = false;
    }
}

//  Run steps until none is asked, or until the stop-th step is asked
//  (then return it unanswered; executed first if run_it)
static int
s_run (t_device_t *device, int stop, bool run_it)
{
    int steps = 0;
    while (device->step) {
        steps++;
        bool ok;
        char error [UPDATE_ERROR_MAX + 1];
        if (steps == stop) {
            if (run_it)
                s_do_step (device, &ok, error);
            return device->step;
        }
        s_do_step (device, &ok, error);
        int step = device->step;
        device->step = 0;
        update_installed (device->update, step, ok, error, device->now);
    }
    return 0;
}

static void
s_release (t_release_t *r, const char *version, uint64_t anti_rollback, const char *types,
           uint8_t seed, size_t shared)
{
    memset (r, 0, sizeof *r);
    r->size = T_ARTIFACT;
    r->artifact = (uint8_t *) zmalloc (r->size);
    uint8_t key [32] = { 0 };
    randombytes_buf_deterministic (r->artifact, r->size, key);
    //  The first shared bytes alike between releases, the rest per seed
    key [0] = seed;
    randombytes_buf_deterministic (r->artifact + shared, r->size - shared, key);
    chunker_t *chunker = chunker_new ();
    size_t offset = 0;
    while (offset < r->size) {
        size_t cut = chunker_cut (chunker, r->artifact + offset, r->size - offset, true);
        assert (r->count < 16);
        uint8_t *entry = r->entries + r->count * MANIFEST_ENTRY_SIZE;
        chunker_hash (r->artifact + offset, cut, entry);
        entry [32] = 0;
        entry [33] = (uint8_t) (cut >> 16);
        entry [34] = (uint8_t) (cut >> 8);
        entry [35] = (uint8_t) cut;
        assert (chunker_pack (r->artifact + offset, cut, &r->packed [r->count],
                              &r->packed_size [r->count]) == 0);
        r->count++;
        offset += cut;
    }
    chunker_destroy (&chunker);
    manifest_t m = { .name = "plc-runtime", .anti_rollback = anti_rollback, .handler = "file",
                     .size = r->size, .chunk_count = r->count, .chunks = r->entries };
    strcpy (m.version, version);
    strcpy (m.types, types);
    assert (manifest_encode (&m, &r->manifest, &r->manifest_size) == 0);
    keys_hash (r->manifest, r->manifest_size, r->hash);
    strcpy (r->target.name, "plc-runtime");
    strcpy (r->target.version, version);
    memcpy (r->target.manifest_hash, r->hash, 32);
    r->target.manifest_size = r->manifest_size;
}

static void
s_release_free (t_release_t *r)
{
    for (size_t i = 0; i < r->count; i++)
        free (r->packed [i]);
    free (r->artifact);
    free (r->manifest);
}

//  The chunks of a release into the device's chunk store
static void
s_hold (t_device_t *device, const t_release_t *r)
{
    store_txn_t *txn = store_begin (device->store, true);
    for (size_t i = 0; i < r->count; i++) {
        const uint8_t *entry = r->entries + i * MANIFEST_ENTRY_SIZE;
        uint32_t size = (uint32_t) entry [33] << 16 | (uint32_t) entry [34] << 8 | entry [35];
        assert (chunkstore_put (device->chunks, txn, entry, r->packed [i], r->packed_size [i],
                                size) == 0);
    }
    assert (store_commit (&txn) == 0);
}

static uint8_t *
s_assign (const keys_t *signer, const char *device, const char *version,
          const uint8_t hash [32], uint64_t issued, uint64_t expires, size_t *size_p)
{
    return release_fixture_assign (signer, device, version, hash, issued, expires, size_p);
}

//  An offer: the root, a publication, one manifest, one assignment
static uint8_t *
s_offer (const uint8_t *root, size_t root_size, const release_published_t *p,
         const uint8_t *manifest, size_t manifest_size, const uint8_t *assign,
         size_t assign_size, size_t *size_p)
{
    update_record_t records [] = {
        { BUNDLE_ROOT, root, root_size },
        { BUNDLE_TIMESTAMP, p->timestamp, p->timestamp_size },
        { BUNDLE_SNAPSHOT, p->snapshot, p->snapshot_size },
        { BUNDLE_TARGETS, p->targets, p->targets_size },
        { BUNDLE_MANIFEST, manifest, manifest_size },
        { BUNDLE_ASSIGNMENT, assign, assign_size }
    };
    return update_offer_compose (records, 6, size_p);
}

//  An offer refused: the reason, and nothing changed on the device
static void
s_refused (t_device_t *device, const uint8_t *offer, size_t size, const char *why)
{
    char reason [WEFT_TEXT_MAX + 1];
    char target [16];
    strcpy (target, device->target);
    int state = update_state (device->update);
    size_t installs = device->installs, wants = device->wants;
    int rc = update_offer (device->update, offer, size, device->now, reason);
    if (rc != WEFT_STATUS_DENIED || !strstr (reason, why)) {
        printf ("\n   expected refusal '%s', got %d '%s'\n", why, rc, reason);
        fflush (stdout);
        assert (false);
    }
    assert (strncmp (reason, "update refused: ", 16) == 0);
    assert (streq (device->target, target));
    assert (update_state (device->update) == state);
    assert (device->installs == installs && device->wants == wants);
}

//  An offer of release under an assignment by the coordinator, taken
static void
s_taken (t_device_t *device, const keys_t *coord, const char *version,
         const t_release_t *release, const uint8_t *root, size_t root_size,
         const release_published_t *p)
{
    size_t a_size, o_size;
    char reason [WEFT_TEXT_MAX + 1];
    uint8_t *a = s_assign (coord, T_DEVICE, version, release->hash, device->now,
                           device->now + FIXTURE_DAY, &a_size);
    uint8_t *offer = s_offer (root, root_size, p, release->manifest, release->manifest_size,
                              a, a_size, &o_size);
    assert (update_offer (device->update, offer, o_size, device->now, reason)
            == WEFT_STATUS_OK);
    free (offer);
    free (a);
}

//  An offer of release under an assignment by signer to device, refused
static void
s_refused_assigned (t_device_t *device, const keys_t *signer, const char *to,
                    const char *version, const t_release_t *release, const uint8_t *root,
                    size_t root_size, const release_published_t *p, const char *why)
{
    size_t a_size, o_size;
    uint8_t *a = s_assign (signer, to, version, release->hash, device->now,
                           device->now + FIXTURE_DAY, &a_size);
    uint8_t *offer = s_offer (root, root_size, p, release->manifest, release->manifest_size,
                              a, a_size, &o_size);
    s_refused (device, offer, o_size, why);
    free (offer);
    free (a);
}

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
    t_release_t v1, v2, v0, wrong;
    s_release (&v1, "1.0", 1, "gateway,server", 1, 0);
    s_release (&v2, "2.0", 2, "gateway", 2, 40 * 1024);
    s_release (&v0, "0.9", 0, "gateway", 3, 0);
    s_release (&wrong, "2.1", 2, "server", 4, 0);
    release_target_t targets [] = { v1.target, v2.target, v0.target, wrong.target };
    release_published_t p1, p2;
    release_fixture_publish (&k, 1, targets, 1, now + FIXTURE_DAY, &p1);
    release_fixture_publish (&k, 2, targets, 4, now + FIXTURE_DAY, &p2);

    t_device_t device;
    memset (&device, 0, sizeof device);
    strcpy (device.dir, "/tmp/weft-update-test-XXXXXX");
    assert (mkdtemp (device.dir));
    device.now = now;
    device.root = root;
    device.root_size = root_size;
    strcpy (device.target, "0.1");      //  Shipped with the device
    s_open (&device);
    assert (update_trusting (device.update));
    char reason [WEFT_TEXT_MAX + 1];

    //  v1: assigned, downloading until its chunks are held, then staged,
    //  activated, checked and committed
    size_t a_size, o_size;
    uint8_t *a = s_assign (&k.coord, T_DEVICE, "1.0", v1.hash, now, now + FIXTURE_DAY, &a_size);
    uint8_t *offer = s_offer (root, root_size, &p1, v1.manifest, v1.manifest_size, a, a_size,
                              &o_size);
    free (a);
    assert (update_offer (device.update, offer, o_size, now, reason) == WEFT_STATUS_OK);
    assert (update_state (device.update) == UPDATE_DOWNLOADING);
    assert (device.wants == 1 && device.step == 0);
    assert (strstr (device.report, "\"state\":\"downloading\""));
    assert (strstr (device.report, "\"held\":0"));
    //  The same offer again: OK, nothing changes
    assert (update_offer (device.update, offer, o_size, now, reason) == WEFT_STATUS_OK);
    assert (streq (reason, "duplicate") && device.wants == 1);
    s_hold (&device, &v1);
    update_chunks_held (device.update, v1.hash, now);
    assert (update_state (device.update) == UPDATE_VERIFIED && device.step == UPDATE_STEP_STAGE);
    assert (s_run (&device, 0, false) == 0);
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
    a = s_assign (&k.coord, T_DEVICE, "2.0", v2.hash, now, now + FIXTURE_DAY, &a_size);
    offer = s_offer (root, root_size, &short_p, v2.manifest, v2.manifest_size, a, a_size,
                     &o_size);
    s_refused (&device, offer, o_size, "threshold");
    free (offer);
    //  Signed by the coordinator alone: a release the targets do not name
    t_release_t rogue;
    s_release (&rogue, "6.6", 9, "*", 6, 0);
    uint8_t *ra = s_assign (&k.coord, T_DEVICE, "6.6", rogue.hash, now, now + FIXTURE_DAY,
                            &a_size);
    size_t ra_size = a_size;
    offer = s_offer (root, root_size, &p2, rogue.manifest, rogue.manifest_size, ra, ra_size,
                     &o_size);
    s_refused (&device, offer, o_size, "mix and match");     //  Its manifest: no target names it
    free (offer);
    offer = s_offer (root, root_size, &p2, v2.manifest, v2.manifest_size, ra, ra_size,
                     &o_size);
    s_refused (&device, offer, o_size, "no such release");   //  With a published manifest
    free (offer);
    free (ra);
    //  An assignment not signed by the coordinator, and one for another device
    s_refused_assigned (&device, &k.rogue, T_DEVICE, "2.0", &v2, root, root_size, &p2,
                        "no valid assignment");
    s_refused_assigned (&device, &k.coord, "gw-2", "2.0", &v2, root, root_size, &p2,
                        "no valid assignment");
    //  Mix and match: v1's manifest under the assignment of v2
    free (a);
    a = s_assign (&k.coord, T_DEVICE, "2.0", v2.hash, now, now + FIXTURE_DAY, &a_size);
    offer = s_offer (root, root_size, &p2, v1.manifest, v1.manifest_size, a, a_size, &o_size);
    s_refused (&device, offer, o_size, "mix and match");
    free (offer);
    //  Mix and match: p2's timestamp and snapshot with p1's targets
    release_published_t mixed = p2;
    mixed.targets = p1.targets;
    mixed.targets_size = p1.targets_size;
    offer = s_offer (root, root_size, &mixed, v2.manifest, v2.manifest_size, a, a_size,
                     &o_size);
    s_refused (&device, offer, o_size, "mix and match");
    free (offer);
    //  Frozen: the timestamp has expired
    offer = s_offer (root, root_size, &p2, v2.manifest, v2.manifest_size, a, a_size, &o_size);
    device.now = now + FIXTURE_DAY + 1;
    s_refused (&device, offer, o_size, "expired");
    device.now = now;
    //  Cut short, or a byte changed: not whole
    s_refused (&device, offer, o_size - 1, "malformed");
    offer [o_size / 2] ^= 1;
    assert (update_offer (device.update, offer, o_size, now, reason) == WEFT_STATUS_DENIED);
    offer [o_size / 2] ^= 1;
    free (offer);
    free (a);
    //  Another device type
    s_refused_assigned (&device, &k.coord, T_DEVICE, "2.1", &wrong, root, root_size, &p2,
                        "device type");
    //  Anti-rollback: 0.9 (anti-rollback 0) below the installed 1.0's 1
    s_refused_assigned (&device, &k.coord, T_DEVICE, "0.9", &v0, root, root_size, &p2,
                        "anti-rollback");

    //  v2 with a failing health check: rolled back by itself, the twin says why
    a = s_assign (&k.coord, T_DEVICE, "2.0", v2.hash, now, now + FIXTURE_DAY, &a_size);
    offer = s_offer (root, root_size, &p2, v2.manifest, v2.manifest_size, a, a_size, &o_size);
    free (a);
    assert (update_offer (device.update, offer, o_size, now, reason) == WEFT_STATUS_OK);
    //  Chunks shared with v1 are held already; the rest arrive
    assert (update_state (device.update) == UPDATE_DOWNLOADING);
    s_hold (&device, &v2);
    update_chunks_held (device.update, v2.hash, now);
    device.fail_health = true;
    size_t drops = device.drops;
    assert (s_run (&device, 0, false) == 0);
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
    a = s_assign (&k.coord, T_DEVICE, "1.0", v1.hash, now + 1, now + FIXTURE_DAY, &a_size);
    uint8_t *stale = s_offer (root, root_size, &p1, v1.manifest, v1.manifest_size, a, a_size,
                              &o_size);
    size_t stale_size = o_size;
    s_refused (&device, stale, stale_size, "older than the trusted");
    free (stale);
    free (a);
    free (offer);

    //  A chunk that does not unpack to its address, then one of another
    //  size: the stage fails, nothing switched
    device.fail_health = false;
    for (int bad = 0; bad < 2; bad++) {
        s_fresh (&device);
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
        s_hold (&device, &v2);          //  The rest; the bad one stays as held
        s_taken (&device, &k.coord, "2.0", &v2, root, root_size, &p2);
        assert (update_state (device.update) == UPDATE_VERIFIED);
        assert (s_run (&device, 0, false) == 0);
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
            s_fresh (&device);
            s_hold (&device, &v2);
            a = s_assign (&k.coord, T_DEVICE, "2.0", v2.hash, now, now + FIXTURE_DAY,
                          &a_size);
            offer = s_offer (root, root_size, &p2, v2.manifest, v2.manifest_size, a, a_size,
                             &o_size);
            free (a);
            assert (update_offer (device.update, offer, o_size, now, reason)
                    == WEFT_STATUS_OK);
            int asked = s_run (&device, stop, run_it);
            assert (asked);
            assert (streq (device.target, "0.1") || streq (device.target, "2.0"));
            s_close (&device);
            size_t reports = device.reports;
            s_open (&device);           //  Asks again for the step it waits for
            //  and reports anew: a check-in after the restart is its ACK
            assert (device.reports > reports);
            //  (a commit not answered is asked again through its health check)
            assert (device.step == (asked == UPDATE_STEP_COMMIT? UPDATE_STEP_HEALTH: asked));
            assert (s_run (&device, 0, false) == 0);
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
        s_fresh (&device);
        s_taken (&device, &k.coord, "2.0", &v2, root, root_size, &p2);
        size_t wants = device.wants;
        s_close (&device);
        s_open (&device);
        assert (device.wants == wants + 1);
        assert (update_state (device.update) == UPDATE_DOWNLOADING);
        s_hold (&device, &v2);
        update_chunks_held (device.update, v2.hash, now);
        device.fail_health = true;
        assert (s_run (&device, 4, run_it) == UPDATE_STEP_ROLLBACK);
        assert (streq (device.target, "0.1") || streq (device.target, "2.0"));
        s_close (&device);
        device.fail_health = false;
        s_open (&device);
        assert (device.step == UPDATE_STEP_ROLLBACK);
        assert (s_run (&device, 0, false) == 0);
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
        s_fresh (&device);
        s_hold (&device, &v1);
        if (point == 2)
            //  0.9 asked for, still downloading when v2 comes
            s_taken (&device, &k.coord, "0.9", &v0, root, root_size, &p2);
        else {
            s_taken (&device, &k.coord, "1.0", &v1, root, root_size, &p1);
            assert (s_run (&device, 0, false) == 0);
            assert (update_state (device.update) == UPDATE_COMMITTED);
        }
        assert (device.kept_count == 1);
        const uint8_t *left = point == 0? v1.hash: point == 1? v2.hash: v0.hash;
        const uint8_t *needed = point == 1? v1.hash: v2.hash;
        device.fail_health = point == 1;
        device.lose_drop = true;
        s_hold (&device, &v2);
        s_taken (&device, &k.coord, "2.0", &v2, root, root_size, &p2);
        assert (s_run (&device, 0, false) == 0);
        assert (update_state (device.update)
                == (point == 1? UPDATE_ROLLED_BACK: UPDATE_COMMITTED));
        assert (!device.lose_drop && device.kept_count == 2);
        assert (s_kept_at (&device, left) >= 0);
        s_close (&device);
        s_open (&device);
        assert (device.kept_count == 1);
        assert (s_kept_at (&device, needed) == 0 && s_kept_at (&device, left) < 0);
        device.fail_health = false;
        crashes++;
    }
    //  The installed release offered again (after another was rolled
    //  back), failing its health check: rolled back, its chunks kept
    s_fresh (&device);
    s_hold (&device, &v1);
    s_taken (&device, &k.coord, "1.0", &v1, root, root_size, &p1);
    assert (s_run (&device, 0, false) == 0);
    device.fail_health = true;
    s_hold (&device, &v2);
    s_taken (&device, &k.coord, "2.0", &v2, root, root_size, &p2);
    assert (s_run (&device, 0, false) == 0);
    assert (update_state (device.update) == UPDATE_ROLLED_BACK);
    device.now++;                       //  Another assignment
    s_taken (&device, &k.coord, "1.0", &v1, root, root_size, &p2);
    assert (s_run (&device, 0, false) == 0);
    assert (update_state (device.update) == UPDATE_ROLLED_BACK);
    assert (streq (update_installed_version (device.update), "1.0"));
    assert (device.kept_count == 1 && s_kept_at (&device, v1.hash) == 0);
    s_close (&device);
    s_open (&device);
    assert (device.kept_count == 1 && s_kept_at (&device, v1.hash) == 0);
    device.fail_health = false;
    device.now = now;

    //  A job record of format 2 (before the release let go) still reads
    s_fresh (&device);
    s_hold (&device, &v1);
    s_taken (&device, &k.coord, "1.0", &v1, root, root_size, &p1);
    assert (s_run (&device, 0, false) == 0);
    store_txn_t *txn = store_begin (device.store, true);
    size_t job_size;
    uint8_t *job = (uint8_t *) store_get (txn, UPDATE_TABLE, "job", 3, &job_size);
    assert (job && job_size > 114 && job [0] == 3);
    job [0] = 2;
    memmove (job + 82, job + 114, job_size - 114);
    assert (store_put (txn, UPDATE_TABLE, "job", 3, job, job_size - 32) == 0);
    assert (store_commit (&txn) == 0);
    free (job);
    s_close (&device);
    s_open (&device);
    assert (update_state (device.update) == UPDATE_COMMITTED);
    assert (streq (update_installed_version (device.update), "1.0"));
    assert (device.kept_count == 1 && s_kept_at (&device, v1.hash) == 0);
    if (verbose)
        printf ("\n   %zu crash points, v2 in %zu chunks", crashes, v2.count);

    //  Maintenance windows: staged any time, installed only inside the
    //  window, from its opening (the module's tick at its deadline)
    char closed [64], open [64];
    unsigned hour = (unsigned) (now / 3600000 % 24);
    snprintf (closed, sizeof closed, "[\"* %02u:00-%02u:00\"]", (hour + 3) % 24,
              (hour + 4) % 24);
    snprintf (open, sizeof open, "[\"Mon 00:00-Mon 00:00\"]");
    s_fresh (&device);
    s_set_window (&device, closed);
    s_hold (&device, &v1);
    s_taken (&device, &k.coord, "1.0", &v1, root, root_size, &p1);
    assert (s_run (&device, 0, false) == 0);
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
    s_close (&device);
    s_open (&device);
    assert (update_state (device.update) == UPDATE_STAGED && device.step == 0);
    assert (strstr (device.report, "\"waiting\":\"maintenance window: next opens "));
    update_tick (device.update, opens - 1);
    assert (update_state (device.update) == UPDATE_STAGED && device.step == 0);
    device.now = opens;
    update_tick (device.update, opens);
    assert (device.step == UPDATE_STEP_ACTIVATE && !strstr (device.report, "waiting"));
    //  Started inside the window, it runs to its end when the window closes
    s_set_window (&device, closed);
    assert (s_run (&device, 0, false) == 0);
    assert (update_state (device.update) == UPDATE_COMMITTED && streq (device.target, "1.0"));
    assert (update_deadline (device.update) == 0);
    //  The offset of local time: the same window, open at UTC+3 (DST
    //  moves it alike); then a newer release replaces one that waits
    device.now = now;
    s_fresh (&device);
    s_set_window (&device, closed);
    s_hold (&device, &v1);
    s_taken (&device, &k.coord, "1.0", &v1, root, root_size, &p1);
    assert (s_run (&device, 0, false) == 0 && update_state (device.update) == UPDATE_STAGED);
    s_hold (&device, &v2);
    size_t drops_before = device.drops;
    s_taken (&device, &k.coord, "2.0", &v2, root, root_size, &p2);
    assert (device.drops == drops_before + 1 && device.step == UPDATE_STEP_STAGE);
    assert (s_run (&device, 0, false) == 0 && update_state (device.update) == UPDATE_STAGED);
    assert (strstr (device.report, "\"version\":\"2.0\""));
    device.offset = 3 * 3600;
    update_set_utc_offset (device.update, device.offset, now);
    assert (s_run (&device, 0, false) == 0 && streq (device.target, "2.0"));
    device.offset = 0;
    //  A malformed window: nothing installs, the report says why; fixed
    //  (here: removed), the release installs at once
    s_fresh (&device);
    s_set_window (&device, "[\"Sun 2:00-04:00\"]");
    assert (device.window.malformed);
    s_hold (&device, &v1);
    s_taken (&device, &k.coord, "1.0", &v1, root, root_size, &p1);
    assert (s_run (&device, 0, false) == 0 && update_state (device.update) == UPDATE_STAGED);
    assert (strstr (device.report, "\"waiting\":\"maintenance window malformed: window 1 "));
    assert (!strstr (device.report, "opens_ms"));   //  Never opens
    assert (update_deadline (device.update) == 0);
    update_tick (device.update, now + 7 * FIXTURE_DAY);
    assert (device.step == 0);
    s_set_window (&device, open);
    assert (s_run (&device, 0, false) == 0 && streq (device.target, "1.0"));
    s_set_window (&device, NULL);
    assert (!device.window.set);

    //  No pinned root: every offer refused
    s_close (&device);
    char command [320];
    snprintf (command, sizeof command, "rm -rf %s && mkdir -m 700 %s", device.dir, device.dir);
    assert (system (command) == 0);
    device.root = NULL;
    device.root_size = 0;
    s_open (&device);
    assert (!update_trusting (device.update));
    a = s_assign (&k.coord, T_DEVICE, "2.0", v2.hash, now, now + FIXTURE_DAY, &a_size);
    offer = s_offer (root, root_size, &p2, v2.manifest, v2.manifest_size, a, a_size, &o_size);
    s_refused (&device, offer, o_size, "no release root");
    free (offer);
    free (a);
    s_close (&device);
    snprintf (command, sizeof command, "rm -rf %s", device.dir);
    assert (system (command) == 0);
    free (device.manifest);
    s_release_free (&v1);
    s_release_free (&v2);
    s_release_free (&v0);
    s_release_free (&wrong);
    s_release_free (&rogue);
    release_fixture_free (&p1);
    release_fixture_free (&p2);
    release_fixture_free (&short_p);
    free (root);
    //  @end
    printf ("OK\n");
}
