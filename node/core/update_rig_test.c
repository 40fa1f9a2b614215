/*  update_rig_test - the device and the releases the update selftests
    drive (see update_rig.h)  */

#include <sodium.h>
#include "node/core/update_rig.h"

ssize_t
update_rig_kept_at (update_rig_t *device, const uint8_t hash [32])
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
    update_rig_t *device = (update_rig_t *) ctx;
    device->wants++;
    if (update_rig_kept_at (device, hash) < 0) {
        assert (device->kept_count < 8);
        memcpy (device->kept [device->kept_count++], hash, 32);
    }
}

static void
s_drop (void *ctx, const uint8_t hash [32])
{
    update_rig_t *device = (update_rig_t *) ctx;
    device->drops++;
    if (device->lose_drop) {
        device->lose_drop = false;
        return;
    }
    ssize_t at = update_rig_kept_at (device, hash);
    if (at >= 0)
        memcpy (device->kept [at], device->kept [--device->kept_count], 32);
}

static void
s_install (void *ctx, const update_install_t *install)
{
    update_rig_t *device = (update_rig_t *) ctx;
    assert (device->step == 0);     //  One step at a time
    device->step = install->step;
    device->staging = install->version;
    free (device->manifest);
    device->manifest = (uint8_t *) zmalloc (install->manifest_size + 1);
    if (install->manifest_size)
        memcpy (device->manifest, install->manifest, install->manifest_size);
    device->manifest_size = install->manifest_size;
    device->installs++;
}

static void
s_report (void *ctx, const char *json, size_t size)
{
    update_rig_t *device = (update_rig_t *) ctx;
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

void
update_rig_open (update_rig_t *device)
{
    const char *tables [] = { UPDATE_TABLE, CHUNKSTORE_TABLE, NULL };
    device->store = store_new (device->dir, tables, 0);
    assert (device->store);
    device->chunks = chunkstore_new (device->store, "", 64 * 1024 * 1024);
    assert (device->chunks);
    release_fixture_t k;
    release_fixture_keys (&k);
    update_config_t config = {
        .name = UPDATE_RIG_DEVICE, .tenant = "acme", .type = "gateway",
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
void
update_rig_close (update_rig_t *device)
{
    update_destroy (&device->update);
    chunkstore_destroy (&device->chunks);
    store_destroy (&device->store);
}

//  A new device on version 0.1: the store wiped, the module opened
void
update_rig_fresh (update_rig_t *device)
{
    update_rig_close (device);
    char command [160];
    snprintf (command, sizeof command, "rm -rf %s && mkdir -m 700 %s", device->dir,
              device->dir);
    assert (system (command) == 0);
    strcpy (device->target, "0.1");
    *device->prev = *device->staged = 0;
    device->has_prev = false;
    device->kept_count = 0;
    update_rig_open (device);
}

//  The twin's maintenance windows, JSON list; NULL: none
void
update_rig_window (update_rig_t *device, const char *windows)
{
    char doc [256] = "{}";
    if (windows)
        snprintf (doc, sizeof doc, "{\"maintenance\": {\"windows\": %s}}", windows);
    window_from_doc (&device->window, doc, strlen (doc));
    update_set_window (device->update, &device->window, device->now);
}

//  Carry out the step asked, on the model, as the file handler does
static void
s_do_step (update_rig_t *device, bool *ok, char *error)
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
            assert (written == UPDATE_RIG_ARTIFACT);
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
    else
    if (step == UPDATE_STEP_REMOVE)
        *device->target = 0;
    else
    if (step == UPDATE_STEP_DEACTIVATE || step == UPDATE_STEP_REACTIVATE) {
        if (device->fail_use) {
            *ok = false;
            strcpy (error, "the handler cannot");
        }
        else
            device->inactive = step == UPDATE_STEP_DEACTIVATE;
    }
}

//  Run steps until none is asked, or until the stop-th step is asked
//  (then return it unanswered; executed first if run_it)
int
update_rig_run (update_rig_t *device, int stop, bool run_it)
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

void
update_rig_release (update_rig_release_t *r, const char *version, uint64_t anti_rollback,
                    const char *types, uint8_t seed, size_t shared)
{
    update_rig_release_by (r, "file", version, anti_rollback, types, seed, shared);
}

void
update_rig_release_by (update_rig_release_t *r, const char *handler, const char *version,
                       uint64_t anti_rollback, const char *types, uint8_t seed, size_t shared)
{
    memset (r, 0, sizeof *r);
    r->size = UPDATE_RIG_ARTIFACT;
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
    manifest_t m = { .name = "plc-runtime", .anti_rollback = anti_rollback,
                     .size = r->size, .chunk_count = r->count, .chunks = r->entries };
    snprintf (m.handler, sizeof m.handler, "%s", handler);
    strcpy (m.version, version);
    strcpy (m.types, types);
    assert (manifest_encode (&m, &r->manifest, &r->manifest_size) == 0);
    keys_hash (r->manifest, r->manifest_size, r->hash);
    strcpy (r->target.name, "plc-runtime");
    strcpy (r->target.version, version);
    memcpy (r->target.manifest_hash, r->hash, 32);
    r->target.manifest_size = r->manifest_size;
}

void
update_rig_release_free (update_rig_release_t *r)
{
    for (size_t i = 0; i < r->count; i++)
        free (r->packed [i]);
    free (r->artifact);
    free (r->manifest);
}

//  The chunks of a release into the device's chunk store
void
update_rig_hold (update_rig_t *device, const update_rig_release_t *r)
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

uint8_t *
update_rig_assign (const keys_t *signer, const char *device, const char *version,
                   const uint8_t hash [32], uint64_t issued, uint64_t expires, size_t *size_p)
{
    return release_fixture_assign (signer, device, version, hash, issued, expires, size_p);
}

//  An offer: the root, a publication, one manifest, one assignment
uint8_t *
update_rig_offer (const uint8_t *root, size_t root_size, const release_published_t *p,
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
void
update_rig_refused (update_rig_t *device, const uint8_t *offer, size_t size, const char *why)
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
void
update_rig_taken (update_rig_t *device, const keys_t *coord, const char *version,
                  const update_rig_release_t *release, const uint8_t *root, size_t root_size,
                  const release_published_t *p)
{
    size_t a_size, o_size;
    char reason [WEFT_TEXT_MAX + 1];
    uint8_t *a = update_rig_assign (coord, UPDATE_RIG_DEVICE, version, release->hash,
                                    device->now, device->now + FIXTURE_DAY, &a_size);
    uint8_t *offer = update_rig_offer (root, root_size, p, release->manifest,
                                       release->manifest_size, a, a_size, &o_size);
    assert (update_offer (device->update, offer, o_size, device->now, reason)
            == WEFT_STATUS_OK);
    free (offer);
    free (a);
}

//  An offer of release under an assignment by signer to device, refused
void
update_rig_refused_assigned (update_rig_t *device, const keys_t *signer, const char *to,
                             const char *version, const update_rig_release_t *release, const uint8_t *root,
                             size_t root_size, const release_published_t *p, const char *why)
{
    size_t a_size, o_size;
    uint8_t *a = update_rig_assign (signer, to, version, release->hash, device->now,
                                    device->now + FIXTURE_DAY, &a_size);
    uint8_t *offer = update_rig_offer (root, root_size, p, release->manifest,
                                       release->manifest_size, a, a_size, &o_size);
    update_rig_refused (device, offer, o_size, why);
    free (offer);
    free (a);
}

