/*  artrepo_serve - the chunks of the artifact repository served to the
    sites (artrepo_serve, see artrepo.h): a chunk only of a release the
    tenant holds, named by its manifest's hash, and only an address the
    manifest names. The addresses of the release served last are kept
    in memory, as the wants of one release come in runs.  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/manifest.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/artrepo_internal.h"

//  The addresses of tenant's release whose manifest hashes to manifest,
//  added to set as hex keys. false if tenant has no such release.
static bool
s_addresses (store_txn_t *txn, const char *tenant, const uint8_t manifest [32], zhashx_t *set)
{
    char key [WEFT_NAME_MAX + 72], hex [65];
    keys_hex (manifest, 32, hex);
    snprintf (key, sizeof key, "mh/%s/%s", tenant, hex);
    size_t size;
    char *release = (char *) store_get (txn, ARTREPO_TABLE, key, strlen (key), &size);
    char name [2 * WEFT_NAME_MAX + 2] = "";
    if (release && size < sizeof name)
        memcpy (name, release, size);
    free (release);
    char *slash = strchr (name, '/');
    if (!slash)
        return false;
    *slash = 0;
    uint8_t *data = artrepo_manifest (txn, tenant, name, slash + 1, &size);
    manifest_t parsed;
    if (!data || manifest_decode (&parsed, data, size)) {
        free (data);
        return false;
    }
    for (size_t i = 0; i < parsed.chunk_count; i++) {
        const uint8_t *address;
        uint32_t chunk_size;
        manifest_chunk (&parsed, i, &address, &chunk_size);
        keys_hex (address, 32, hex);
        zhashx_update (set, hex, (void *) (uintptr_t) 1);
    }
    free (data);
    return true;
}

//  Make the release of tenant whose manifest hashes to manifest the one
//  served: its addresses in served_set. false if tenant has none.
static bool
s_serving (artrepo_t *self, store_txn_t *txn, const char *tenant,
           const uint8_t manifest [32])
{
    char key [WEFT_NAME_MAX + 72], hex [65];
    keys_hex (manifest, 32, hex);
    snprintf (key, sizeof key, "%s/%s", tenant, hex);
    if (streq (key, self->served))
        return true;
    self->served [0] = 0;
    zhashx_destroy (&self->served_set);
    self->served_set = zhashx_new ();
    if (!s_addresses (txn, tenant, manifest, self->served_set)) {
        zhashx_destroy (&self->served_set);
        return false;
    }
    keys_hex (manifest, 32, hex);
    snprintf (self->served, sizeof self->served, "%s/%s", tenant, hex);
    return true;
}

//  Make the releases of tenant the asker holds (have: count manifest
//  hashes) the ones deltas are served against: their addresses in
//  have_set. Those tenant has not are left out.
static void
s_having (artrepo_t *self, store_txn_t *txn, const char *tenant, const uint8_t *have,
          size_t count)
{
    char key [sizeof self->having];
    size_t at = (size_t) snprintf (key, sizeof key, "%s", tenant);
    for (size_t i = 0; i < count; i++) {
        key [at++] = '/';
        keys_hex (have + 32 * i, 32, key + at);
        at += 64;
    }
    key [at] = 0;
    if (self->have_set && streq (key, self->having))
        return;
    zhashx_destroy (&self->have_set);
    self->have_set = zhashx_new ();
    for (size_t i = 0; i < count; i++)
        s_addresses (txn, tenant, have + 32 * i, self->have_set);
    snprintf (self->having, sizeof self->having, "%s", key);
}

uint8_t *
artrepo_serve (artrepo_t *self, store_txn_t *txn, const char *tenant,
               const uint8_t manifest [32], const uint8_t address [32], size_t *size_p,
               uint32_t *chunk_size_p)
{
    assert (self && txn && manifest && address && size_p && chunk_size_p);
    *size_p = 0;
    *chunk_size_p = 0;
    if (!tenant || !registry_name_valid (tenant) || !s_serving (self, txn, tenant, manifest))
        return NULL;
    char hex [65];
    keys_hex (address, 32, hex);
    if (!zhashx_lookup (self->served_set, hex))
        return NULL;
    return chunkstore_get (self->chunks, txn, address, size_p, chunk_size_p);
}

uint8_t *
artrepo_serve_delta (artrepo_t *self, store_txn_t *txn, const char *tenant,
                     const uint8_t *have, size_t have_count, const uint8_t address [32],
                     size_t *size_p)
{
    assert (self && txn && address && size_p);
    *size_p = 0;
    if (!tenant || !registry_name_valid (tenant) || have_count == 0
    ||  have_count > UPDMSG_HAVE_MAX)
        return NULL;
    char hex [65], key [WEFT_NAME_MAX + 80];
    keys_hex (address, 32, hex);
    snprintf (key, sizeof key, "delta/%s/%s", tenant, hex);
    size_t size;
    uint8_t *delta = (uint8_t *) store_get (txn, ARTREPO_TABLE, key, strlen (key), &size);
    size_t base_count, frame_size;
    const uint8_t *bases, *frame;
    if (!delta
    ||  chunker_delta_split (delta, size, &base_count, &bases, &frame, &frame_size)) {
        free (delta);
        return NULL;
    }
    //  Only bases the asker holds: chunks of the releases it named
    s_having (self, txn, tenant, have, have_count);
    for (size_t i = 0; i < base_count; i++) {
        keys_hex (bases + 32 * i, 32, hex);
        if (!zhashx_lookup (self->have_set, hex)) {
            free (delta);
            return NULL;
        }
    }
    *size_p = size;
    return delta;
}
