/*  import - a bundle file taken in at this node (see import.h)  */

#include "proto/bundle.h"
#include "proto/keys.h"
#include "node/io/import.h"

//  A metadata record kept for the offers
typedef struct {
    int type;
    uint8_t *data;
    size_t size;
} s_record_t;

static void
s_record_free (void **item_p)
{
    s_record_t *record = (s_record_t *) *item_p;
    if (record) {
        free (record->data);
        free (record);
        *item_p = NULL;
    }
}

static char *
s_hex (const uint8_t *data, size_t size)
{
    char *hex = (char *) zmalloc (2 * size + 1);
    for (size_t i = 0; i < size; i++)
        snprintf (hex + 2 * i, 3, "%02x", data [i]);
    return hex;
}

//  Read exactly size bytes. False at end of file or on error.
static bool
s_read (FILE *file, void *data, size_t size)
{
    return size == 0 || fread (data, 1, size, file) == size;
}

//  Read and check every record; chunks into txn, metadata into records.
//  RELEASE_OK or the refusal (*cut set when the file ended early).
static int
s_take (FILE *file, bundle_check_t *check, chunkstore_t *chunks, store_txn_t *txn,
        zlistx_t *records, size_t *chunk_count, bool *cut)
{
    uint8_t magic [BUNDLE_MAGIC_SIZE];
    if (!s_read (file, magic, sizeof magic))
        return (*cut = true), RELEASE_MALFORMED;
    int rc = bundle_check_magic (check, magic)? RELEASE_MALFORMED: RELEASE_OK;
    //  Unpacked size of each chunk the manifests name, by address
    zhashx_t *sizes = zhashx_new ();
    bool ended = false;
    while (rc == RELEASE_OK && !ended) {
        uint8_t header [BUNDLE_HEADER_SIZE];
        bundle_record_t type;
        size_t length;
        if (!s_read (file, header, sizeof header)) {
            *cut = true;
            rc = RELEASE_MALFORMED;
            break;
        }
        if (bundle_header (header, &type, &length)) {
            rc = RELEASE_MALFORMED;
            break;
        }
        uint8_t *body = (uint8_t *) zmalloc (length + 1);
        if (!s_read (file, body, length)) {
            free (body);
            *cut = true;
            rc = RELEASE_MALFORMED;
            break;
        }
        rc = bundle_check_record (check, header, body, length);
        if (rc == RELEASE_OK && type == BUNDLE_CHUNK) {
            char *hex = s_hex (body, 32);
            uintptr_t size = (uintptr_t) zhashx_lookup (sizes, hex);
            free (hex);
            //  The check unpacked it to its address from a manifest's entry
            if (size == 0
            ||  chunkstore_put (chunks, txn, body, body + 32, length - 32, (uint32_t) size))
                rc = RELEASE_MALFORMED;
            else
                (*chunk_count)++;
            free (body);
        }
        else
        if (rc == RELEASE_OK && type != BUNDLE_END) {
            if (type == BUNDLE_MANIFEST) {
                manifest_t manifest;
                if (manifest_decode (&manifest, body, length) == 0)
                    for (size_t i = 0; i < manifest.chunk_count; i++) {
                        const uint8_t *hash;
                        uint32_t size;
                        manifest_chunk (&manifest, i, &hash, &size);
                        char *hex = s_hex (hash, 32);
                        zhashx_update (sizes, hex, (void *) (uintptr_t) size);
                        free (hex);
                    }
            }
            s_record_t *record = (s_record_t *) zmalloc (sizeof (s_record_t));
            record->type = type;
            record->data = body;
            record->size = length;
            zlistx_add_end (records, record);
        }
        else
            free (body);
        ended = type == BUNDLE_END;
    }
    zhashx_destroy (&sizes);
    if (rc == RELEASE_OK && fgetc (file) != EOF)
        rc = RELEASE_MALFORMED;             //  Bytes after the end record
    if (rc == RELEASE_OK)
        rc = bundle_check_done (check);
    return rc;
}

//  An offer for each assignment: ours taken here, the others sent
static void
s_offers (node_t *node, zlistx_t *records, const char *name, const uint8_t coord_key [32],
          uint64_t now_ms)
{
    size_t count = zlistx_size (records);
    s_record_t **all = (s_record_t **) zmalloc ((count + 1) * sizeof (s_record_t *));
    update_record_t *chain = (update_record_t *) zmalloc ((count + 2) * sizeof (update_record_t));
    size_t chain_size = 0, at = 0;
    for (s_record_t *record = zlistx_first (records); record; record = zlistx_next (records)) {
        all [at++] = record;
        if (record->type <= BUNDLE_TARGETS)
            chain [chain_size++] = (update_record_t) { record->type, record->data, record->size };
    }
    for (size_t i = 0; i < count; i++) {
        const s_record_t *record = all [i];
        if (record->type != BUNDLE_ASSIGNMENT)
            continue;
        release_assignment_t assignment;
        if (release_assignment_open (&assignment, record->data, record->size, coord_key)) {
            zsys_warning ("import: an assignment not signed by our coordinator, skipped");
            continue;
        }
        const s_record_t *manifest = NULL;
        for (size_t j = 0; j < count && !manifest; j++) {
            uint8_t hash [32];
            if (all [j]->type == BUNDLE_MANIFEST) {
                keys_hash (all [j]->data, all [j]->size, hash);
                if (memcmp (hash, assignment.manifest_hash, 32) == 0)
                    manifest = all [j];
            }
        }
        if (!manifest) {
            zsys_warning ("import: no manifest in the bundle for %s's assignment of %s %s",
                          assignment.device, assignment.name, assignment.version);
            continue;
        }
        chain [chain_size] = (update_record_t) { BUNDLE_MANIFEST, manifest->data,
                                                 manifest->size };
        chain [chain_size + 1] = (update_record_t) { BUNDLE_ASSIGNMENT, record->data,
                                                     record->size };
        size_t size;
        uint8_t *offer = update_offer_compose (chain, chain_size + 2, &size);
        if (streq (assignment.device, name)) {
            char reason [WEFT_TEXT_MAX + 1];
            int status = node_update_offer (node, offer, size, now_ms, reason);
            if (status == WEFT_STATUS_OK)
                zsys_info ("import: %s %s for this device taken%s%s", assignment.name,
                           assignment.version, *reason? ": ": "", reason);
            else
                zsys_error ("import: %s %s for this device: %s", assignment.name,
                            assignment.version, reason);
        }
        else
        if (node_update_send (node, assignment.device, offer, size, now_ms) == 0)
            zsys_info ("import: offer of %s %s sent to %s", assignment.name,
                       assignment.version, assignment.device);
        else
            zsys_warning ("import: offer of %s %s to %s not queued", assignment.name,
                          assignment.version, assignment.device);
        free (offer);
    }
    free (chain);
    free (all);
}

int
import_bundle (node_t *node, store_t *store, const char *path, const char *name,
               const uint8_t coord_key [32], uint64_t now_ms, char **error)
{
    assert (node && store && path && name && coord_key && error);
    *error = NULL;
    update_t *update = node_update (node);
    chunkstore_t *chunks = node_chunks (node);
    if (!update || !update_trusting (update)) {
        *error = zsys_sprintf ("bundle %s not imported: no release root is pinned on this "
                               "node (weft-node --pin-release-root)", path);
        return -1;
    }
    FILE *file = fopen (path, "rb");
    if (!file) {
        *error = zsys_sprintf ("cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    bundle_check_t *check = bundle_check_new (update_trust (update), now_ms);
    store_txn_t *txn = store_begin (store, true);
    zlistx_t *records = zlistx_new ();
    zlistx_set_destructor (records, s_record_free);
    size_t chunk_count = 0;
    bool cut = false;
    int rc = txn? s_take (file, check, chunks, txn, records, &chunk_count, &cut)
                : RELEASE_MALFORMED;
    fclose (file);
    bundle_check_destroy (&check);
    if (rc == RELEASE_OK && store_commit (&txn)) {
        *error = zsys_sprintf ("bundle %s: cannot store its chunks", path);
        chunkstore_reload (chunks);
        zlistx_destroy (&records);
        return -1;
    }
    if (rc != RELEASE_OK) {
        store_abort (&txn);
        chunkstore_reload (chunks);
        *error = zsys_sprintf ("bundle %s refused, nothing stored: %s", path,
                               cut? "cut short": release_strerror (rc));
        zlistx_destroy (&records);
        return -1;
    }
    zsys_info ("import: bundle %s checked, %zu chunks stored", path, chunk_count);
    s_offers (node, records, name, coord_key, now_ms);
    zlistx_destroy (&records);
    return 0;
}
