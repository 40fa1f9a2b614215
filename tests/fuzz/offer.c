/*  fuzz/offer - libFuzzer target for an UPDATE_OFFER's metadata as the
    device's update module takes it (node/core/update.c), with a real
    store and chunk store in a temporary directory, trusting the fixture
    publisher's root (the golden vectors' keys). Whatever the input, the
    module answers with a status and a reason and reads nothing outside
    the input; a refusal leaves it idle (the fuzzer cannot forge the
    Ed25519 signatures an accepted offer needs). The module is included
    (fuzz targets link proto/ only), with what it calls: its
    store, the entitlements it consults, and the maintenance windows.  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/corelib.h"
#include "proto/release_fixture.h"
#include "node/core/update.c"
#include "node/core/update_store.c"
#include "node/core/update_use.c"
#include "node/core/entitle.c"
#include "node/core/window.c"

static void s_fuzz_want (void *ctx, const uint8_t hash [32], const uint8_t *m, size_t size)
{ (void) ctx; (void) hash; (void) m; (void) size; }
static void s_fuzz_drop (void *ctx, const uint8_t hash [32])
{ (void) ctx; (void) hash; }
static void s_fuzz_install (void *ctx, const update_install_t *install)
{ (void) ctx; (void) install; }

static char s_dir [] = "/tmp/weft-fuzz-offer.XXXXXX";

//  The store's directory goes with the run
static void
s_cleanup (void)
{
    char path [64];
    snprintf (path, sizeof path, "%s/data.mdb", s_dir);
    unlink (path);
    snprintf (path, sizeof path, "%s/lock.mdb", s_dir);
    unlink (path);
    rmdir (s_dir);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static update_t *update = NULL;
    if (!update) {
        assert (mkdtemp (s_dir));
        atexit (s_cleanup);
        const char *tables [] = { UPDATE_TABLE, CHUNKSTORE_TABLE, NULL };
        store_t *store = store_new (s_dir, tables, 0);
        assert (store);
        chunkstore_t *chunks = chunkstore_new (store, "", 1024 * 1024);
        release_fixture_t k;
        release_fixture_keys (&k);
        size_t root_size;
        uint8_t *root = release_fixture_root (&k, 1, FIXTURE_NOW + 365 * FIXTURE_DAY, k.root,
                                              2, k.root, &root_size);
        update_config_t config = {
            .name = "gw-1", .tenant = "acme", .type = "gateway",
            .coord_sign = k.coord.sign_public, .release_root = root,
            .release_root_size = root_size, .store = store, .prefix = "", .chunks = chunks
        };
        update_effects_t effects = { NULL, s_fuzz_want, s_fuzz_drop, s_fuzz_install, NULL };
        update = update_new (&config, &effects);
        assert (update && update_start (update, FIXTURE_NOW) == 0);
        free (root);
    }
    char reason [WEFT_TEXT_MAX + 1];
    int status = update_offer (update, data, size, FIXTURE_NOW, reason);
    assert (strlen (reason) <= WEFT_TEXT_MAX);
    if (status != WEFT_STATUS_OK)
        assert (update_state (update) == UPDATE_IDLE);
    return 0;
}
