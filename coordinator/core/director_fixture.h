/*  director_fixture - what the selftests of the director and of
    campaigns share (tests only)  */

#ifndef WEFT_DIRECTOR_FIXTURE_H_INCLUDED
#define WEFT_DIRECTOR_FIXTURE_H_INCLUDED

#include "proto/store.h"
#include "coordinator/core/rpc.h"
#include "proto/keys.h"
#include "coordinator/core/artrepo.h"
#include "coordinator/core/coord_stats.h"

//  A coordinator's RPC environment over store (the caller's, which
//  it does not own): fresh CA and coordinator keys, an artifact
//  repository, a result for calls. _fini frees them.
typedef struct {
    store_t *store;
    artrepo_t *repo;
    keys_t ca, coord;
    coord_stats_t stats;
    rpc_env_t env;
    rpc_result_t result;
} director_fixture_t;

void
    director_fixture_init (director_fixture_t *self, store_t *store);
void
    director_fixture_fini (director_fixture_t *self);

//  A gateway-role device of tenant, of type, at path tenant
void
    director_fixture_device (store_t *store, const char *id, const char *tenant,
                             const char *type);

//  The same, placed at path (a place of tenant's hierarchy)
void
    director_fixture_device_at (store_t *store, const char *id, const char *tenant,
                                const char *type, const char *path);

//  A server (type and role server) of tenant at path, whose envelopes
//  keys sign
void
    director_fixture_server (store_t *store, const char *id, const char *tenant,
                             const char *path, const keys_t *keys);

//  Devices PREFIX-1 .. PREFIX-count, as director_fixture_device
void
    director_fixture_devices (store_t *store, const char *prefix, int count,
                              const char *tenant, const char *type);

//  Entries of the campaigns table whose key starts with prefix (an
//  index range: q/ID/, w/ID/SITE )
size_t
    director_fixture_indexed (store_t *store, const char *prefix);

//  Call method as role on path (an operator named ROLE-of-PATH) at
//  FIXTURE_NOW, committed; the status, the result in *result
int
    director_fixture_call (rpc_env_t *env, store_t *store, const char *role, const char *path,
                           const char *method, const char *args, rpc_result_t *result);

//  The same at now_ms
int
    director_fixture_call_at (rpc_env_t *env, store_t *store, const char *role,
                              const char *path, const char *method, const char *args,
                              uint64_t now_ms, rpc_result_t *result);

//  acme's release plc 1.0 of artifact_size random bytes, from the
//  fixture's keys (proto/release_fixture.h), in repo: its root set and
//  its bundle uploaded. The manifest's hash in manifest_hash.
void
    director_fixture_release (store_t *store, artrepo_t *repo, size_t artifact_size,
                              uint8_t manifest_hash [32]);

//  Set tenant's release root and upload bundle into its repository
void
    director_fixture_upload (store_t *store, artrepo_t *repo, const char *tenant,
                             const uint8_t *root, size_t root_size, const uint8_t *bundle,
                             size_t size);

#endif
