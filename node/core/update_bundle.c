/*  update_bundle - an update's bytes for handlers and importers (see
    update.h): a release assembled from its chunks in the chunk store,
    checked against their addresses; an offer composed from a bundle's
    records. No I/O: the sink writes.  */

#include "proto/corelib.h"
#include "proto/bundle.h"
#include "proto/manifest.h"
#include "proto/keys.h"
#include "proto/chunker.h"
#include "node/core/update.h"

int
update_assemble (chunkstore_t *chunks, store_t *store, const uint8_t *manifest_data,
                 size_t manifest_size, update_sink_fn *sink, void *arg,
                 char error [UPDATE_ERROR_MAX + 1])
{
    assert (chunks && store && sink && error);
    *error = 0;
    manifest_t manifest;
    if (manifest_decode (&manifest, manifest_data, manifest_size)) {
        snprintf (error, UPDATE_ERROR_MAX + 1, "the manifest does not decode");
        return -1;
    }
    store_txn_t *txn = store_begin (store, false);
    if (!txn) {
        snprintf (error, UPDATE_ERROR_MAX + 1, "cannot read the chunk store");
        return -1;
    }
    uint8_t *chunk = (uint8_t *) zmalloc (CHUNKER_MAX);
    uint64_t written = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < manifest.chunk_count; i++) {
        const uint8_t *hash;
        uint32_t size, held_size = 0;
        size_t packed_size = 0;
        manifest_chunk (&manifest, i, &hash, &size);
        uint8_t *packed = chunkstore_get (chunks, txn, hash, &packed_size, &held_size);
        char hex [17];
        for (int b = 0; b < 8; b++)
            snprintf (hex + 2 * b, 3, "%02x", hash [b]);
        if (!packed) {
            snprintf (error, UPDATE_ERROR_MAX + 1, "chunk %zu (%s...) is not held", i, hex);
            rc = -1;
        }
        else
        if (held_size != size || chunker_unpack (packed, packed_size, hash, chunk, size)) {
            //  The address is the check: nothing else of a chunk is trusted
            snprintf (error, UPDATE_ERROR_MAX + 1, "chunk %zu (%s...) does not unpack to its "
                      "address and size (%u bytes)", i, hex, size);
            rc = -1;
        }
        else
        if (sink (arg, chunk, size)) {
            snprintf (error, UPDATE_ERROR_MAX + 1, "cannot write chunk %zu", i);
            rc = -1;
        }
        else
            written += size;
        free (packed);
    }
    store_abort (&txn);
    free (chunk);
    if (rc == 0 && written != manifest.size) {
        snprintf (error, UPDATE_ERROR_MAX + 1, "%" PRIu64 " bytes assembled, the manifest says "
                  "%" PRIu64, written, manifest.size);
        rc = -1;
    }
    return rc;
}

uint8_t *
update_offer_compose (const update_record_t *records, size_t count, size_t *size_p)
{
    assert (records && size_p);
    size_t size = BUNDLE_MAGIC_SIZE + BUNDLE_HEADER_SIZE + 32;
    for (size_t i = 0; i < count; i++)
        size += BUNDLE_HEADER_SIZE + records [i].size;
    uint8_t *data = (uint8_t *) zmalloc (size);
    memcpy (data, BUNDLE_MAGIC, BUNDLE_MAGIC_SIZE);
    size_t at = BUNDLE_MAGIC_SIZE;
    for (size_t i = 0; i < count; i++) {
        bundle_header_put (data + at, (bundle_record_t) records [i].type, records [i].size);
        memcpy (data + at + BUNDLE_HEADER_SIZE, records [i].data, records [i].size);
        at += BUNDLE_HEADER_SIZE + records [i].size;
    }
    uint8_t hash [32];
    keys_hash (data, at, hash);
    bundle_header_put (data + at, BUNDLE_END, 32);
    memcpy (data + at + BUNDLE_HEADER_SIZE, hash, 32);
    *size_p = size;
    return data;
}
