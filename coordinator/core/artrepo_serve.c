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
    self->served_set = zhashx_new ();
    for (size_t i = 0; i < parsed.chunk_count; i++) {
        const uint8_t *address;
        uint32_t chunk_size;
        manifest_chunk (&parsed, i, &address, &chunk_size);
        keys_hex (address, 32, hex);
        zhashx_update (self->served_set, hex, (void *) (uintptr_t) 1);
    }
    free (data);
    keys_hex (manifest, 32, hex);
    snprintf (self->served, sizeof self->served, "%s/%s", tenant, hex);
    return true;
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
