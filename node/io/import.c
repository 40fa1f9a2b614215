/*  import - a bundle file taken in at this node (see import.h)  */

#include "proto/bundle.h"
#include "proto/chunker.h"
#include "proto/keys.h"
#include "node/io/import.h"

struct _import_t {
    node_t *node;
    store_t *store;
    chunkstore_t *chunks;
    char *path;
    char *name;                     //  Our device id
    uint8_t coord_key [32];
    FILE *file;
    uint64_t size;                  //  Of the file
    uint64_t done;                  //  Read by the current pass
    int state;                      //  import_state_t
    char text [WEFT_TEXT_MAX + 1];
    bundle_check_t *check;
    zhashx_t *sizes;                //  Chunk address (hex) -> unpacked size
    zlistx_t *records;              //  Metadata kept for the offers
    size_t chunk_count;             //  Chunk records in the file
    size_t stored;                  //  Stored by the second pass
    uint8_t *unpacked;              //  CHUNKER_MAX bytes, the second pass's
};

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

static void
s_hex (const uint8_t address [32], char hex [65])
{
    for (size_t i = 0; i < 32; i++)
        snprintf (hex + 2 * i, 3, "%02x", address [i]);
}

//  Read exactly size bytes. False at end of file or on error.
static bool
s_read (import_t *self, void *data, size_t size)
{
    if (size && fread (data, 1, size, self->file) != size)
        return false;
    self->done += size;
    return true;
}

//  The next record of the file: 0 (body heap, caller frees), or -1 when
//  the file ends inside it (or its header is malformed: *malformed_p)
static int
s_record (import_t *self, uint8_t header [BUNDLE_HEADER_SIZE], bundle_record_t *type_p,
          uint8_t **body_p, size_t *length_p, bool *malformed_p)
{
    *body_p = NULL;
    *malformed_p = false;
    if (!s_read (self, header, BUNDLE_HEADER_SIZE))
        return -1;
    if (bundle_header (header, type_p, length_p)) {
        *malformed_p = true;
        return -1;
    }
    uint8_t *body = (uint8_t *) zmalloc (*length_p + 1);
    if (!s_read (self, body, *length_p)) {
        free (body);
        return -1;
    }
    *body_p = body;
    return 0;
}

static int
s_fail (import_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->text, sizeof self->text, format, args);
    va_end (args);
    self->state = IMPORT_FAILED;
    zsys_error ("import: %s", self->text);
    return IMPORT_FAILED;
}

//  An offer for each assignment: ours taken here, the others sent
static size_t
s_offers (node_t *node, zlistx_t *records, const char *name, const uint8_t coord_key [32],
          uint64_t now_ms)
{
    size_t count = zlistx_size (records);
    s_record_t **all = (s_record_t **) zmalloc ((count + 1) * sizeof (s_record_t *));
    update_record_t *chain = (update_record_t *) zmalloc ((count + 2) * sizeof (update_record_t));
    size_t chain_size = 0, at = 0, made = 0;
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
        made++;
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
    return made;
}

//  The first pass: every record through the bundle check, nothing
//  stored; the metadata kept, the chunks' sizes from the manifests
static int
s_check (import_t *self, size_t slice)
{
    uint64_t until = self->done + slice;
    if (self->done == 0) {
        uint8_t magic [BUNDLE_MAGIC_SIZE];
        if (!s_read (self, magic, sizeof magic)
        ||  bundle_check_magic (self->check, magic))
            return s_fail (self, "bundle %s refused, nothing stored: not a bundle", self->path);
    }
    while (self->done < until) {
        uint8_t header [BUNDLE_HEADER_SIZE];
        bundle_record_t type;
        uint8_t *body;
        size_t length;
        bool malformed;
        if (s_record (self, header, &type, &body, &length, &malformed))
            return s_fail (self, "bundle %s refused, nothing stored: %s", self->path,
                           malformed? release_strerror (RELEASE_MALFORMED): "cut short");
        int rc = bundle_check_record (self->check, header, body, length);
        if (rc != RELEASE_OK) {
            free (body);
            return s_fail (self, "bundle %s refused, nothing stored: %s", self->path,
                           release_strerror (rc));
        }
        if (type == BUNDLE_CHUNK)
            self->chunk_count++;
        if (type == BUNDLE_MANIFEST) {
            manifest_t manifest;
            if (manifest_decode (&manifest, body, length) == 0)
                for (size_t i = 0; i < manifest.chunk_count; i++) {
                    const uint8_t *hash;
                    uint32_t size;
                    char hex [65];
                    manifest_chunk (&manifest, i, &hash, &size);
                    s_hex (hash, hex);
                    zhashx_update (self->sizes, hex, (void *) (uintptr_t) size);
                }
        }
        if (type == BUNDLE_CHUNK || type == BUNDLE_DELTA || type == BUNDLE_END)
            free (body);            //  Deltas are for the coordinator's uplinks
        else {
            s_record_t *record = (s_record_t *) zmalloc (sizeof (s_record_t));
            record->type = type;
            record->data = body;
            record->size = length;
            zlistx_add_end (self->records, record);
        }
        if (type == BUNDLE_END) {
            if (fgetc (self->file) != EOF)
                return s_fail (self, "bundle %s refused, nothing stored: bytes after its end",
                               self->path);
            if (bundle_check_done (self->check) != RELEASE_OK)
                return s_fail (self, "bundle %s refused, nothing stored: cut short", self->path);
            //  Second pass from the first record
            if (fseek (self->file, BUNDLE_MAGIC_SIZE, SEEK_SET))
                return s_fail (self, "cannot read %s again: %s", self->path, strerror (errno));
            self->done = BUNDLE_MAGIC_SIZE;
            self->state = IMPORT_STORING;
            zsys_info ("import: bundle %s whole and signed, storing its %zu chunks", self->path,
                       self->chunk_count);
            break;
        }
    }
    return self->state;
}

//  The second pass: each chunk unpacked to its address again and
//  stored, one transaction per slice; at the end, the offers
static int
s_store (import_t *self, size_t slice, uint64_t now_ms)
{
    uint64_t until = self->done + slice;
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn)
        return s_fail (self, "bundle %s: cannot store its chunks", self->path);
    bool ended = false;
    const char *error = NULL;
    while (!ended && !error && self->done < until) {
        uint8_t header [BUNDLE_HEADER_SIZE];
        bundle_record_t type;
        uint8_t *body;
        size_t length;
        bool malformed;
        if (s_record (self, header, &type, &body, &length, &malformed)) {
            error = "it changed since it was checked";
            break;
        }
        if (type == BUNDLE_CHUNK) {
            char hex [65];
            s_hex (body, hex);
            uintptr_t size = length > 32? (uintptr_t) zhashx_lookup (self->sizes, hex): 0;
            if (size == 0 || size > CHUNKER_MAX
            ||  chunker_unpack (body + 32, length - 32, body, self->unpacked, size))
                error = "it changed since it was checked";
            else
            if (chunkstore_put (self->chunks, txn, body, body + 32, length - 32,
                                (uint32_t) size))
                error = "cannot store its chunks";
            else
                self->stored++;
        }
        ended = type == BUNDLE_END;
        free (body);
    }
    if (!error && store_commit (&txn))
        error = "cannot store its chunks";
    if (error) {
        store_abort (&txn);
        chunkstore_reload (self->chunks);
        return s_fail (self, "bundle %s: %s (%zu of its %zu chunks stored)", self->path, error,
                       self->stored, self->chunk_count);
    }
    if (ended) {
        size_t offers = s_offers (self->node, self->records, self->name, self->coord_key,
                                  now_ms);
        snprintf (self->text, sizeof self->text, "%zu chunks stored, %zu offers", self->stored,
                  offers);
        zsys_info ("import: bundle %s checked, %s", self->path, self->text);
        self->state = IMPORT_DONE;
    }
    return self->state;
}

import_t *
import_new (node_t *node, store_t *store, const char *path, const char *name,
            const uint8_t coord_key [32], uint64_t now_ms, char **error)
{
    assert (node && store && path && name && coord_key && error);
    *error = NULL;
    update_t *update = node_update (node);
    if (!update || !update_trusting (update)) {
        *error = zsys_sprintf ("bundle %s not imported: no release root is pinned on this "
                               "node (weft-node --pin-release-root)", path);
        return NULL;
    }
    FILE *file = fopen (path, "rb");
    if (!file) {
        *error = zsys_sprintf ("cannot read %s: %s", path, strerror (errno));
        return NULL;
    }
    import_t *self = (import_t *) zmalloc (sizeof (import_t));
    self->node = node;
    self->store = store;
    self->chunks = node_chunks (node);
    self->path = strdup (path);
    self->name = strdup (name);
    memcpy (self->coord_key, coord_key, 32);
    self->file = file;
    struct stat info;
    self->size = fstat (fileno (file), &info) == 0? (uint64_t) info.st_size: 0;
    self->state = IMPORT_CHECKING;
    self->check = bundle_check_new (update_trust (update), now_ms);
    self->sizes = zhashx_new ();
    self->records = zlistx_new ();
    zlistx_set_destructor (self->records, s_record_free);
    self->unpacked = (uint8_t *) zmalloc (CHUNKER_MAX);
    snprintf (self->text, sizeof self->text, "checking");
    return self;
}

void
import_destroy (import_t **self_p)
{
    assert (self_p);
    import_t *self = *self_p;
    if (self) {
        if (self->file)
            fclose (self->file);
        bundle_check_destroy (&self->check);
        zhashx_destroy (&self->sizes);
        zlistx_destroy (&self->records);
        free (self->unpacked);
        free (self->path);
        free (self->name);
        free (self);
        *self_p = NULL;
    }
}

int
import_step (import_t *self, size_t slice, uint64_t now_ms)
{
    assert (self);
    if (self->state == IMPORT_CHECKING)
        s_check (self, slice);
    else
    if (self->state == IMPORT_STORING)
        s_store (self, slice, now_ms);
    if (self->state == IMPORT_CHECKING || self->state == IMPORT_STORING)
        snprintf (self->text, sizeof self->text, "%s: %" PRIu64 " of %" PRIu64 " bytes",
                  self->state == IMPORT_CHECKING? "checking": "storing chunks", self->done,
                  self->size);
    if (self->state == IMPORT_DONE || self->state == IMPORT_FAILED) {
        if (self->file)
            fclose (self->file);
        self->file = NULL;
    }
    return self->state;
}

int
import_state (import_t *self)
{
    assert (self);
    return self->state;
}

const char *
import_text (import_t *self)
{
    assert (self);
    return self->text;
}

void
import_progress (import_t *self, uint64_t *done_p, uint64_t *size_p)
{
    assert (self && done_p && size_p);
    *done_p = self->done;
    *size_p = self->size;
}

int
import_bundle (node_t *node, store_t *store, const char *path, const char *name,
               const uint8_t coord_key [32], uint64_t now_ms, char **error)
{
    import_t *self = import_new (node, store, path, name, coord_key, now_ms, error);
    if (!self)
        return -1;
    int state;
    while ((state = import_step (self, IMPORT_SLICE_BYTES, now_ms)) != IMPORT_DONE
       &&  state != IMPORT_FAILED)
        ;
    if (state == IMPORT_FAILED)
        *error = strdup (import_text (self));
    import_destroy (&self);
    return state == IMPORT_DONE? 0: -1;
}
