/*  director_fixture - what the selftests of the director and of
    campaigns share: an RPC environment over a store, a device in the
    registry, an RPC call as a role on a path, a tenant's release root
    and a bundle in its repository  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "proto/release_fixture.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/relroot.h"
#include "coordinator/core/artrepo.h"
#include "coordinator/core/rpc_internal.h"
#include "coordinator/core/campaign.h"
#include "coordinator/core/director_fixture.h"

void
director_fixture_init (director_fixture_t *self, store_t *store)
{
    memset (self, 0, sizeof *self);
    self->store = store;
    self->repo = artrepo_new (store);
    keys_generate (&self->ca);
    keys_generate (&self->coord);
    rpc_env_t env = { registry_new (store), pki_new (&self->ca), self->coord.curve_public,
                      &self->stats, self->coord.sign_secret, self->repo };
    self->env = env;
}

void
director_fixture_fini (director_fixture_t *self)
{
    rpc_result_clear (&self->result);
    registry_destroy (&self->env.registry);
    pki_destroy (&self->env.pki);
    keys_wipe (&self->ca);
    keys_wipe (&self->coord);
    artrepo_destroy (&self->repo);
}

void
director_fixture_device (store_t *store, const char *id, const char *tenant, const char *type)
{
    director_fixture_device_at (store, id, tenant, type, tenant);
}

void
director_fixture_device_at (store_t *store, const char *id, const char *tenant,
                            const char *type, const char *path)
{
    uint8_t key [32];
    randombytes_buf (key, 32);
    char hex [65];
    keys_hex (key, 32, hex);
    json_t *device = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I}", "id", id,
                                "tenant", tenant, "type", type, "role", "gateway",
                                "path", path, "enrolled", (json_int_t) 1700000000,
                                "sign_key", hex, "curve_key", hex, "cert_serial",
                                (json_int_t) key [0]);
    store_txn_t *txn = store_begin (store, true);
    assert (registry_device_put (txn, device) == 0);
    assert (store_commit (&txn) == 0);
    json_decref (device);
}

void
director_fixture_server (store_t *store, const char *id, const char *tenant, const char *path,
                         const keys_t *keys)
{
    char sign [65], curve [65];
    keys_hex (keys->sign_public, 32, sign);
    keys_hex (keys->curve_public, 32, curve);
    json_t *device = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I}", "id", id,
                                "tenant", tenant, "type", "server", "role", "server",
                                "path", path, "enrolled", (json_int_t) 1700000000,
                                "sign_key", sign, "curve_key", curve, "cert_serial",
                                (json_int_t) keys->sign_public [0]);
    store_txn_t *txn = store_begin (store, true);
    assert (registry_device_put (txn, device) == 0);
    assert (store_commit (&txn) == 0);
    json_decref (device);
}

void
director_fixture_devices (store_t *store, const char *prefix, int count, const char *tenant,
                          const char *type)
{
    for (int index = 1; index <= count; index++) {
        char id [WEFT_NAME_MAX + 1];
        snprintf (id, sizeof id, "%.32s-%d", prefix, index);
        director_fixture_device (store, id, tenant, type);
    }
}

static int
s_count_key (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    (void) key, (void) key_size, (void) value, (void) size;
    (*(size_t *) arg)++;
    return 0;
}

size_t
director_fixture_indexed (store_t *store, const char *prefix)
{
    size_t count = 0;
    store_txn_t *txn = store_begin (store, false);
    assert (store_scan (txn, CAMPAIGN_TABLE, prefix, strlen (prefix), s_count_key, &count) >= 0);
    store_abort (&txn);
    return count;
}

int
director_fixture_call (rpc_env_t *env, store_t *store, const char *role, const char *path,
                       const char *method, const char *args, rpc_result_t *result)
{
    return director_fixture_call_at (env, store, role, path, method, args, FIXTURE_NOW,
                                     result);
}

int
director_fixture_call_at (rpc_env_t *env, store_t *store, const char *role, const char *path,
                          const char *method, const char *args, uint64_t now_ms,
                          rpc_result_t *result)
{
    rpc_caller_t caller;
    memset (&caller, 0, sizeof caller);
    snprintf (caller.name, sizeof caller.name, "%s-of-%s", role, *path? path: "all");
    rpc_tenant_of (path, caller.tenant);
    snprintf (caller.grants [0].role, sizeof caller.grants [0].role, "%s", role);
    snprintf (caller.grants [0].path, sizeof caller.grants [0].path, "%s", path);
    caller.grant_count = 1;
    rpc_result_clear (result);
    store_txn_t *txn = store_begin (store, true);
    rpc_call (env, txn, &caller, method, args, strlen (args), now_ms, result);
    assert (store_commit (&txn) == 0);
    return result->status;
}

void
director_fixture_release (store_t *store, artrepo_t *repo, size_t artifact_size,
                          uint8_t manifest_hash [32])
{
    release_fixture_t k;
    release_fixture_keys (&k);
    size_t root_size, bundle_size;
    uint8_t *root = release_fixture_root (&k, 1, FIXTURE_NOW + 365 * FIXTURE_DAY, k.root, 2,
                                          k.root, &root_size);
    uint8_t *bundle = release_fixture_bundle (&k, root, root_size, 1, "plc", "1.0",
                                              artifact_size, manifest_hash, &bundle_size);
    director_fixture_upload (store, repo, "acme", root, root_size, bundle, bundle_size);
    free (bundle);
    free (root);
}

void
director_fixture_upload (store_t *store, artrepo_t *repo, const char *tenant,
                         const uint8_t *root, size_t root_size, const uint8_t *bundle,
                         size_t size)
{
    char error [WEFT_TEXT_MAX + 1], id [17];
    store_txn_t *txn = store_begin (store, true);
    assert (relroot_set (txn, tenant, root, root_size, FIXTURE_NOW, NULL, error,
                         sizeof error) == 0);
    assert (artrepo_begin (repo, txn, "olga", tenant, size, FIXTURE_NOW, id, error) == 0);
    json_t *result = NULL;
    int status = 0;
    for (size_t at = 0; at < size && status == 0; at += ARTREPO_PART_MAX) {
        json_decref (result);
        size_t part = size - at < ARTREPO_PART_MAX? size - at: ARTREPO_PART_MAX;
        status = artrepo_part (repo, txn, "olga", id, at, bundle + at, part, FIXTURE_NOW,
                               &result, error);
    }
    assert (status == 0 && json_object_get (result, "releases"));
    json_decref (result);
    assert (store_commit (&txn) == 0);
}
