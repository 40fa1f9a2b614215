/*  artrepo - the coordinator's artifact repository (see .h); uploads,
    reading and removing here, serving chunks in artrepo_serve.c
    Tenants, release names and versions are names (registry_name_valid):
    no "/" or NUL, so the keys split one way only.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "proto/bundle.h"
#include "proto/manifest.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/relroot.h"
#include "coordinator/core/artrepo_internal.h"

static void
s_upload_destroy (artrepo_upload_t **upload_p)
{
    artrepo_upload_t *upload = *upload_p;
    if (upload) {
        bundle_check_destroy (&upload->check);
        free (upload->buf);
        free (upload);
        *upload_p = NULL;
    }
}

static void
    s_drop_all (artrepo_t *self);

artrepo_t *
artrepo_new (store_t *store)
{
    assert (store);
    artrepo_t *self = (artrepo_t *) zmalloc (sizeof (artrepo_t));
    self->store = store;
    self->chunks = chunkstore_new (store, "", ARTREPO_BUDGET);
    if (!self->chunks) {
        artrepo_destroy (&self);
        return NULL;
    }
    //  Uploads live in memory: what one staged before a restart is
    //  nobody's now
    s_drop_all (self);
    return self;
}

void
artrepo_destroy (artrepo_t **self_p)
{
    assert (self_p);
    artrepo_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < ARTREPO_UPLOADS_MAX; i++)
            s_upload_destroy (&self->uploads [i]);
        chunkstore_destroy (&self->chunks);
        zhashx_destroy (&self->served_set);
        zhashx_destroy (&self->have_set);
        free (self);
        *self_p = NULL;
    }
}

chunkstore_t *
artrepo_chunks (artrepo_t *self)
{
    assert (self);
    return self->chunks;
}

//  --------------------------------------------------------------------------
//  Keys

static uint8_t *
s_get (store_txn_t *txn, const char *key, size_t *size_p)
{
    return (uint8_t *) store_get (txn, ARTREPO_TABLE, key, strlen (key), size_p);
}

static int
s_put (store_txn_t *txn, const char *key, const void *value, size_t size)
{
    return store_put (txn, ARTREPO_TABLE, key, strlen (key), value, size);
}

static const char *s_roles [] = { NULL, "root", "targets", "snapshot", "timestamp" };

//  Drop an upload's staged records and the upload
static void
s_drop (artrepo_t *self, store_txn_t *txn, size_t slot)
{
    artrepo_upload_t *upload = self->uploads [slot];
    if (txn && upload) {
        char prefix [32];
        snprintf (prefix, sizeof prefix, "stage/%s/", upload->id);
        store_del_prefix (txn, ARTREPO_TABLE, prefix, strlen (prefix));
    }
    s_upload_destroy (&self->uploads [slot]);
}

//  Expired uploads go; their staged records with them
static void
s_expire (artrepo_t *self, store_txn_t *txn, uint64_t now_ms)
{
    for (size_t i = 0; i < ARTREPO_UPLOADS_MAX; i++)
        if (self->uploads [i] && self->uploads [i]->expires_ms <= now_ms)
            s_drop (self, txn, i);
}

//  --------------------------------------------------------------------------
//  Begin

//  What the coordinator trusts for tenant: its root, then the newest
//  publication stored (skipped if it no longer checks, e.g. expired)
int
artrepo_trust (store_txn_t *txn, const char *tenant, uint64_t now_ms, release_trust_t *trust)
{
    assert (txn && tenant && trust);
    size_t size;
    uint8_t *root = relroot_get (txn, tenant, &size);
    //  The stored root may have expired since: its successor in the
    //  bundle is what a device would walk to
    int rc = root? release_trust_init (trust, root, size, 0): -1;
    free (root);
    if (rc)
        return -1;
    for (int role = RELEASE_TIMESTAMP; role >= RELEASE_TARGETS; role--) {
        char key [WEFT_NAME_MAX + 32];
        snprintf (key, sizeof key, "meta/%s/%s", tenant, s_roles [role]);
        uint8_t *data = s_get (txn, key, &size);
        release_trust_t next = *trust;
        rc = data? release_trust_update (&next, data, size, now_ms): -1;
        free (data);
        if (rc)
            break;
        *trust = next;
    }
    return 0;
}

int
artrepo_begin (artrepo_t *self, store_txn_t *txn, const char *owner, const char *tenant,
               uint64_t size, uint64_t now_ms, char id [17], char error [WEFT_TEXT_MAX + 1])
{
    assert (self && txn && owner && tenant && id && error);
    s_expire (self, txn, now_ms);
    if (size < BUNDLE_MAGIC_SIZE + BUNDLE_HEADER_SIZE + 32 || size > ARTREPO_BUNDLE_MAX) {
        snprintf (error, WEFT_TEXT_MAX + 1, "size: a bundle is %d to %llu bytes",
                  BUNDLE_MAGIC_SIZE + BUNDLE_HEADER_SIZE + 32,
                  (unsigned long long) ARTREPO_BUNDLE_MAX);
        return WEFT_STATUS_BAD_REQUEST;
    }
    release_trust_t trust;
    if (artrepo_trust (txn, tenant, now_ms, &trust)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "tenant %s has no release root to check the "
                  "bundle against (weftctl release root set)", tenant);
        return WEFT_STATUS_CONFLICT;
    }
    size_t slot = ARTREPO_UPLOADS_MAX;
    for (size_t i = 0; i < ARTREPO_UPLOADS_MAX; i++)
        if (!self->uploads [i])
            slot = i;
    if (slot == ARTREPO_UPLOADS_MAX) {
        snprintf (error, WEFT_TEXT_MAX + 1, "%d uploads are in progress: try again when one "
                  "ends (an idle one expires after %d s)", ARTREPO_UPLOADS_MAX,
                  ARTREPO_TTL_MS / 1000);
        return WEFT_STATUS_CONFLICT;
    }
    artrepo_upload_t *upload = (artrepo_upload_t *) zmalloc (sizeof (artrepo_upload_t));
    uint8_t raw [8];
    randombytes_buf (raw, sizeof raw);
    keys_hex (raw, sizeof raw, upload->id);
    snprintf (upload->owner, sizeof upload->owner, "%s", owner);
    snprintf (upload->tenant, sizeof upload->tenant, "%s", tenant);
    upload->size = size;
    upload->expires_ms = now_ms + ARTREPO_TTL_MS;
    upload->check = bundle_check_new (&trust, now_ms);
    self->uploads [slot] = upload;
    memcpy (id, upload->id, 17);
    return WEFT_STATUS_OK;
}

//  --------------------------------------------------------------------------
//  Taking a whole bundle in

//  The index of a tenant's manifests by hash: mh/<tenant>/<hash hex> ->
//  "name/version" (release NULL: deleted). 0 or -1.
static int
s_index (artrepo_t *self, store_txn_t *txn, const char *tenant, const uint8_t hash [32],
         const char *release)
{
    char key [WEFT_NAME_MAX + 72], hex [65];
    keys_hex (hash, 32, hex);
    snprintf (key, sizeof key, "mh/%s/%s", tenant, hex);
    self->served [0] = 0;           //  What was served may be gone
    self->having [0] = 0;
    if (release)
        return s_put (txn, key, release, strlen (release));
    return store_del (txn, ARTREPO_TABLE, key, strlen (key)) < 0? -1: 0;
}

//  A manifest record: the release it names, its manifest stored, any
//  older manifest of the same name and version unpinned. The chunks
//  are pinned once they are all held (s_pin).
static int
s_take_manifest (artrepo_t *self, store_txn_t *txn, const char *tenant, const uint8_t *body,
                 size_t size, uint64_t now_ms, json_t *releases, char *error)
{
    manifest_t manifest;
    if (manifest_decode (&manifest, body, size)
    ||  !registry_name_valid (manifest.name) || !registry_name_valid (manifest.version)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "a manifest's name or version is not 1-64 of "
                  "A-Z a-z 0-9 . _ -");
        return WEFT_STATUS_BAD_REQUEST;
    }
    uint8_t hash [32];
    crypto_generichash (hash, 32, body, size, NULL, 0);
    char hash_hex [65];
    keys_hex (hash, 32, hash_hex);
    char key [3 * WEFT_NAME_MAX + 32];
    snprintf (key, sizeof key, "man/%s/%s/%s", tenant, manifest.name, manifest.version);
    size_t old_size;
    uint8_t *old = s_get (txn, key, &old_size);
    manifest_t old_manifest;
    uint8_t old_hash [32];
    if (old) {
        crypto_generichash (old_hash, 32, old, old_size, NULL, 0);
        if (memcmp (old_hash, hash, 32) && manifest_decode (&old_manifest, old, old_size) == 0
        &&  (chunkstore_unpin (self->chunks, txn, old_hash, &old_manifest)
             || s_index (self, txn, tenant, old_hash, NULL))) {
            free (old);
            return WEFT_STATUS_INTERNAL;
        }
        free (old);
    }
    char release [2 * WEFT_NAME_MAX + 2];
    snprintf (release, sizeof release, "%s/%s", manifest.name, manifest.version);
    if (s_index (self, txn, tenant, hash, release))
        return WEFT_STATUS_INTERNAL;
    json_t *record = json_pack ("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:I, s:I}",
        "name", manifest.name, "version", manifest.version, "manifest_hash", hash_hex,
        "manifest_size", (json_int_t) size, "size", (json_int_t) manifest.size,
        "chunks", (json_int_t) manifest.chunk_count, "types", manifest.types,
        "handler", manifest.handler, "anti_rollback", (json_int_t) manifest.anti_rollback,
        "added_ms", (json_int_t) now_ms);
    char *text = json_dumps (record, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = s_put (txn, key, body, size);
    snprintf (key, sizeof key, "rel/%s/%s/%s", tenant, manifest.name, manifest.version);
    if (rc == 0)
        rc = s_put (txn, key, text, strlen (text));
    free (text);
    json_array_append_new (releases, json_pack ("{s:s, s:s}", "name", manifest.name,
                                                "version", manifest.version));
    json_decref (record);
    return rc? WEFT_STATUS_INTERNAL: WEFT_STATUS_OK;
}

//  Every chunk of each manifest taken in must be held now; pin them
static int
s_pin (artrepo_t *self, store_txn_t *txn, const char *tenant, json_t *releases, char *error)
{
    size_t index;
    json_t *release;
    json_array_foreach (releases, index, release) {
        const char *name = json_string_value (json_object_get (release, "name"));
        const char *version = json_string_value (json_object_get (release, "version"));
        size_t size;
        uint8_t *data = artrepo_manifest (txn, tenant, name, version, &size);
        manifest_t manifest;
        if (!data || manifest_decode (&manifest, data, size)) {
            free (data);
            return WEFT_STATUS_INTERNAL;
        }
        for (size_t i = 0; i < manifest.chunk_count; i++) {
            const uint8_t *hash;
            uint32_t chunk_size;
            manifest_chunk (&manifest, i, &hash, &chunk_size);
            if (!chunkstore_has (self->chunks, txn, hash)) {
                char hex [65];
                keys_hex (hash, 32, hex);
                snprintf (error, WEFT_TEXT_MAX + 1, "chunk %.16s of %s %s is neither in the "
                          "bundle nor in the repository", hex, name, version);
                free (data);
                return WEFT_STATUS_BAD_REQUEST;
            }
        }
        uint8_t hash [32];
        crypto_generichash (hash, 32, data, size, NULL, 0);
        int rc = chunkstore_pin (self->chunks, txn, hash, &manifest);
        free (data);
        if (rc)
            return WEFT_STATUS_INTERNAL;
    }
    return WEFT_STATUS_OK;
}

//  Address (hex) -> unpacked size of every chunk the manifests taken in
//  name, so each chunk record is sized without a walk of the manifests
static zhashx_t *
s_chunk_sizes (store_txn_t *txn, const char *tenant, json_t *releases)
{
    zhashx_t *sizes = zhashx_new ();
    size_t index;
    json_t *release;
    json_array_foreach (releases, index, release) {
        size_t size;
        uint8_t *data = artrepo_manifest (txn, tenant,
                                          json_string_value (json_object_get (release, "name")),
                                          json_string_value (json_object_get (release, "version")),
                                          &size);
        manifest_t manifest;
        if (data && manifest_decode (&manifest, data, size) == 0)
            for (size_t i = 0; i < manifest.chunk_count; i++) {
                const uint8_t *at;
                uint32_t chunk_size;
                manifest_chunk (&manifest, i, &at, &chunk_size);
                char hex [65];
                keys_hex (at, 32, hex);
                zhashx_update (sizes, hex, (void *) (uintptr_t) chunk_size);
            }
        free (data);
    }
    return sizes;
}

//  A delta record (address || delta): kept under delta/<tenant>/<address
//  hex> if it applies, against bases this repository holds, to the
//  chunk it names (its chunk came before it, in this transaction). The
//  bases are not in the bundle, so nothing vouches for them but this
//  check: a delta that does not apply is left out, and its chunk goes
//  packed. 1 kept, 0 left out, -1 store error.
static int
s_take_delta (artrepo_t *self, store_txn_t *txn, const char *tenant, zhashx_t *sizes,
              const uint8_t *body, size_t size)
{
    char hex [65];
    keys_hex (body, 32, hex);
    uint32_t chunk_size = (uint32_t) (uintptr_t) zhashx_lookup (sizes, hex);
    if (chunk_size == 0 || chunk_size > CHUNKER_MAX)
        return 0;
    uint8_t *out = (uint8_t *) malloc (chunk_size);
    assert (out);
    int rc = chunkstore_undelta (self->chunks, txn, body + 32, size - 32, body, out,
                                 chunk_size);
    free (out);
    if (rc)
        return 0;
    char key [WEFT_NAME_MAX + 80];
    snprintf (key, sizeof key, "delta/%s/%s", tenant, hex);
    return s_put (txn, key, body + 32, size - 32)? -1: 1;
}

//  The staged records of a checked bundle, taken in. A weft_status_t.
static int
s_take_in (artrepo_t *self, store_txn_t *txn, artrepo_upload_t *upload, uint64_t now_ms,
           json_t *result, char *error)
{
    json_t *releases = json_array ();
    int status = WEFT_STATUS_OK;
    size_t chunks = 0, deltas = 0;
    zhashx_t *sizes = NULL;             //  Made at the first chunk: manifests come first
    for (uint32_t n = 0; n < upload->records && status == WEFT_STATUS_OK; n++) {
        char key [WEFT_NAME_MAX + 32];
        snprintf (key, sizeof key, "stage/%s/%08u", upload->id, n);
        size_t size;
        uint8_t *record = s_get (txn, key, &size);
        if (!record || size < 1) {
            free (record);
            status = WEFT_STATUS_INTERNAL;
            break;
        }
        int type = record [0];
        const uint8_t *body = record + 1;
        size--;
        if (type == BUNDLE_ROOT) {
            size_t stored_size;
            uint8_t *stored = relroot_get (txn, upload->tenant, &stored_size);
            release_trust_t trust;
            uint64_t stored_version = stored
                && release_trust_init (&trust, stored, stored_size, 0) == 0
                ? trust.root.version: 0;
            free (stored);
            release_role_t role;
            const uint8_t *root_body;
            size_t root_size;
            release_root_t root;
            if (release_open (body, size, &role, &root_body, &root_size) == 0
            &&  release_root_decode (&root, root_body, root_size) == 0
            &&  root.version > stored_version) {
                int rc = relroot_set (txn, upload->tenant, body, size, now_ms, NULL, error,
                                      WEFT_TEXT_MAX + 1);
                status = rc == PROTO_ERR_IO? WEFT_STATUS_INTERNAL
                       : rc < 0? WEFT_STATUS_BAD_REQUEST: WEFT_STATUS_OK;
            }
        }
        else
        if (type >= BUNDLE_TIMESTAMP && type <= BUNDLE_TARGETS) {
            //  Bundle types 2..4 are timestamp, snapshot, targets
            const char *role = type == BUNDLE_TIMESTAMP? "timestamp"
                             : type == BUNDLE_SNAPSHOT? "snapshot": "targets";
            snprintf (key, sizeof key, "meta/%s/%s", upload->tenant, role);
            if (s_put (txn, key, body, size))
                status = WEFT_STATUS_INTERNAL;
        }
        else
        if (type == BUNDLE_MANIFEST)
            status = s_take_manifest (self, txn, upload->tenant, body, size, now_ms, releases,
                                      error);
        else
        if (type == BUNDLE_CHUNK && size > 32) {
            if (!sizes)
                sizes = s_chunk_sizes (txn, upload->tenant, releases);
            char hex [65];
            keys_hex (body, 32, hex);
            uint32_t chunk_size = (uint32_t) (uintptr_t) zhashx_lookup (sizes, hex);
            if (chunk_size == 0
            ||  chunkstore_put (self->chunks, txn, body, body + 32, size - 32, chunk_size))
                status = WEFT_STATUS_INTERNAL;
            chunks++;
        }
        else
        if (type == BUNDLE_DELTA && size > 32) {
            if (!sizes)
                sizes = s_chunk_sizes (txn, upload->tenant, releases);
            int rc = s_take_delta (self, txn, upload->tenant, sizes, body, size);
            if (rc < 0)
                status = WEFT_STATUS_INTERNAL;
            deltas += rc == 1;
        }
        free (record);
    }
    zhashx_destroy (&sizes);
    if (status == WEFT_STATUS_OK)
        status = s_pin (self, txn, upload->tenant, releases, error);
    if (status == WEFT_STATUS_INTERNAL && !*error)
        snprintf (error, WEFT_TEXT_MAX + 1, "store write failed");
    json_object_set_new (result, "releases", releases);
    json_object_set_new (result, "chunks", json_integer ((json_int_t) chunks));
    json_object_set_new (result, "deltas", json_integer ((json_int_t) deltas));
    json_object_set_new (result, "tenant", json_string (upload->tenant));
    return status;
}

//  --------------------------------------------------------------------------
//  Parts

//  Check and stage the whole records in upload->buf. Returns a
//  weft_status_t; *ended when the end record was taken.
static int
s_consume (store_txn_t *txn, artrepo_upload_t *upload, bool *ended, char *error)
{
    size_t at = 0;
    int status = WEFT_STATUS_OK;
    while (status == WEFT_STATUS_OK && !*ended) {
        size_t left = upload->buf_size - at;
        if (!upload->magic) {
            if (left < BUNDLE_MAGIC_SIZE)
                break;
            if (bundle_check_magic (upload->check, upload->buf + at)) {
                snprintf (error, WEFT_TEXT_MAX + 1, "not a bundle (no %s magic)",
                          BUNDLE_MAGIC);
                status = WEFT_STATUS_BAD_REQUEST;
                break;
            }
            upload->magic = true;
            at += BUNDLE_MAGIC_SIZE;
            continue;
        }
        if (left < BUNDLE_HEADER_SIZE)
            break;
        bundle_record_t type;
        size_t length;
        const uint8_t *header = upload->buf + at;
        if (bundle_header (header, &type, &length)) {
            snprintf (error, WEFT_TEXT_MAX + 1, "bundle record at byte %llu: unknown type or "
                      "too long", (unsigned long long) (upload->received
                                                         - upload->buf_size + at));
            status = WEFT_STATUS_BAD_REQUEST;
            break;
        }
        if (left < BUNDLE_HEADER_SIZE + length)
            break;
        int rc = bundle_check_record (upload->check, header, header + BUNDLE_HEADER_SIZE,
                                      length);
        if (rc == RELEASE_OK && type == BUNDLE_END)
            rc = bundle_check_done (upload->check);
        if (rc != RELEASE_OK) {
            snprintf (error, WEFT_TEXT_MAX + 1, "bundle refused at byte %llu: %s",
                      (unsigned long long) (upload->received - upload->buf_size + at),
                      release_strerror (rc));
            status = WEFT_STATUS_BAD_REQUEST;
            break;
        }
        if (type == BUNDLE_END)
            *ended = true;
        else
        if (type != BUNDLE_ASSIGNMENT) {
            //  type || body under the next number
            char key [64];
            snprintf (key, sizeof key, "stage/%s/%08u", upload->id, upload->records++);
            uint8_t *record = (uint8_t *) zmalloc (length + 1);
            record [0] = (uint8_t) type;
            memcpy (record + 1, header + BUNDLE_HEADER_SIZE, length);
            if (s_put (txn, key, record, length + 1))
                status = WEFT_STATUS_INTERNAL;
            free (record);
        }
        at += BUNDLE_HEADER_SIZE + length;
    }
    memmove (upload->buf, upload->buf + at, upload->buf_size - at);
    upload->buf_size -= at;
    if (status == WEFT_STATUS_OK && *ended && (upload->buf_size || upload->received
                                                != upload->size)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "bytes after the end record");
        status = WEFT_STATUS_BAD_REQUEST;
    }
    if (status == WEFT_STATUS_INTERNAL && !*error)
        snprintf (error, WEFT_TEXT_MAX + 1, "store write failed");
    return status;
}

int
artrepo_part (artrepo_t *self, store_txn_t *txn, const char *owner, const char *id,
              uint64_t offset, const uint8_t *data, size_t size, uint64_t now_ms,
              json_t **result_p, char error [WEFT_TEXT_MAX + 1])
{
    assert (self && txn && owner && id && result_p && error);
    *result_p = NULL;
    error [0] = 0;
    s_expire (self, txn, now_ms);
    size_t slot = ARTREPO_UPLOADS_MAX;
    for (size_t i = 0; i < ARTREPO_UPLOADS_MAX; i++)
        if (self->uploads [i] && streq (self->uploads [i]->id, id)
        &&  streq (self->uploads [i]->owner, owner))
            slot = i;
    if (slot == ARTREPO_UPLOADS_MAX) {
        snprintf (error, WEFT_TEXT_MAX + 1, "no upload %s in progress (it ended, was refused "
                  "or expired: begin again)", id);
        return WEFT_STATUS_NOT_FOUND;
    }
    artrepo_upload_t *upload = self->uploads [slot];
    if (size > ARTREPO_PART_MAX || offset > upload->received
    ||  (offset == upload->received && offset + size > upload->size)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "part at %llu of %zu bytes: want the bytes from "
                  "%llu, at most %d, within the %llu announced",
                  (unsigned long long) offset, size, (unsigned long long) upload->received,
                  ARTREPO_PART_MAX, (unsigned long long) upload->size);
        return WEFT_STATUS_BAD_REQUEST;
    }
    if (offset < upload->received) {
        //  A retried part that was received: say where we are
        *result_p = json_pack ("{s:s, s:I, s:I}", "upload", id, "received",
                               (json_int_t) upload->received, "size", (json_int_t) upload->size);
        return WEFT_STATUS_OK;
    }
    if (upload->buf_size + size > upload->buf_alloc) {
        upload->buf_alloc = upload->buf_size + size + 4096;
        upload->buf = (uint8_t *) realloc (upload->buf, upload->buf_alloc);
        assert (upload->buf);
    }
    memcpy (upload->buf + upload->buf_size, data, size);
    upload->buf_size += size;
    upload->received += size;
    upload->expires_ms = now_ms + ARTREPO_TTL_MS;
    bool ended = false;
    int status = s_consume (txn, upload, &ended, error);
    if (status == WEFT_STATUS_OK && !ended && upload->received == upload->size) {
        snprintf (error, WEFT_TEXT_MAX + 1, "bundle refused: cut short (no end record in "
                  "the %llu bytes announced)", (unsigned long long) upload->size);
        status = WEFT_STATUS_BAD_REQUEST;
    }
    json_t *result = json_pack ("{s:s, s:I, s:I}", "upload", id, "received",
                                (json_int_t) upload->received, "size", (json_int_t) upload->size);
    if (status == WEFT_STATUS_OK && ended)
        status = s_take_in (self, txn, upload, now_ms, result, error);
    if (status != WEFT_STATUS_OK || ended) {
        s_drop (self, txn, slot);
        if (status == WEFT_STATUS_INTERNAL)
            chunkstore_reload (self->chunks);
    }
    if (status == WEFT_STATUS_OK)
        *result_p = result;
    else
        json_decref (result);
    return status;
}

//  The uploads go with what they staged in earlier transactions: their
//  checks advanced past records that the abort took back
static void
s_drop_all (artrepo_t *self)
{
    for (size_t i = 0; i < ARTREPO_UPLOADS_MAX; i++)
        s_upload_destroy (&self->uploads [i]);
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn || store_del_prefix (txn, ARTREPO_TABLE, "stage/", 6) < 0 || store_commit (&txn))
        zsys_warning ("artrepo: cannot drop the records staged by uploads");
    store_abort (&txn);
}

void
artrepo_aborted (artrepo_t *self)
{
    assert (self);
    s_drop_all (self);
    chunkstore_reload (self->chunks);
}

//  --------------------------------------------------------------------------
//  Reading and removing

static int
s_list_one (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    (void) key;
    (void) key_size;
    json_t *release = json_loadb ((const char *) value, size, 0, NULL);
    if (release)
        json_array_append_new ((json_t *) arg, release);
    return 0;
}

json_t *
artrepo_list (store_txn_t *txn, const char *tenant, const char *name)
{
    assert (txn && tenant);
    json_t *releases = json_array ();
    if (registry_name_valid (tenant) && (!name || registry_name_valid (name))) {
        char prefix [2 * WEFT_NAME_MAX + 16];
        snprintf (prefix, sizeof prefix, "rel/%s/%s%s", tenant, name? name: "", name? "/": "");
        store_scan (txn, ARTREPO_TABLE, prefix, strlen (prefix), s_list_one, releases);
    }
    return json_pack ("{s:o}", "releases", releases);
}

json_t *
artrepo_show (store_txn_t *txn, const char *tenant, const char *name, const char *version)
{
    assert (txn && tenant && name && version);
    if (!registry_name_valid (tenant) || !registry_name_valid (name)
    ||  !registry_name_valid (version))
        return NULL;
    char key [3 * WEFT_NAME_MAX + 16];
    snprintf (key, sizeof key, "rel/%s/%s/%s", tenant, name, version);
    size_t size;
    uint8_t *text = s_get (txn, key, &size);
    json_t *release = text? json_loadb ((const char *) text, size, 0, NULL): NULL;
    free (text);
    return release;
}

uint8_t *
artrepo_meta (store_txn_t *txn, const char *tenant, release_role_t role, size_t *size_p)
{
    assert (txn && tenant && size_p);
    *size_p = 0;
    if (!registry_name_valid (tenant) || role < RELEASE_TARGETS || role > RELEASE_TIMESTAMP)
        return NULL;
    char key [WEFT_NAME_MAX + 32];
    snprintf (key, sizeof key, "meta/%s/%s", tenant, s_roles [role]);
    return s_get (txn, key, size_p);
}

uint8_t *
artrepo_manifest (store_txn_t *txn, const char *tenant, const char *name,
                  const char *version, size_t *size_p)
{
    assert (txn && size_p);
    *size_p = 0;
    if (!tenant || !name || !version || !registry_name_valid (tenant)
    ||  !registry_name_valid (name) || !registry_name_valid (version))
        return NULL;
    char key [3 * WEFT_NAME_MAX + 16];
    snprintf (key, sizeof key, "man/%s/%s/%s", tenant, name, version);
    return s_get (txn, key, size_p);
}

int
artrepo_remove (artrepo_t *self, store_txn_t *txn, const char *tenant, const char *name,
                const char *version, char error [WEFT_TEXT_MAX + 1])
{
    assert (self && txn && error);
    size_t size;
    uint8_t *data = artrepo_manifest (txn, tenant, name, version, &size);
    manifest_t manifest;
    if (!data || manifest_decode (&manifest, data, size)) {
        free (data);
        snprintf (error, WEFT_TEXT_MAX + 1, "no release %s %s in tenant %s", name, version,
                  tenant);
        return WEFT_STATUS_NOT_FOUND;
    }
    uint8_t hash [32];
    crypto_generichash (hash, 32, data, size, NULL, 0);
    int rc = chunkstore_unpin (self->chunks, txn, hash, &manifest);
    if (rc == 0)
        rc = s_index (self, txn, tenant, hash, NULL);
    free (data);
    char key [3 * WEFT_NAME_MAX + 16];
    snprintf (key, sizeof key, "man/%s/%s/%s", tenant, name, version);
    if (rc == 0)
        rc = store_del (txn, ARTREPO_TABLE, key, strlen (key)) < 0? -1: 0;
    snprintf (key, sizeof key, "rel/%s/%s/%s", tenant, name, version);
    if (rc == 0)
        rc = store_del (txn, ARTREPO_TABLE, key, strlen (key)) < 0? -1: 0;
    if (rc) {
        snprintf (error, WEFT_TEXT_MAX + 1, "store write failed");
        return WEFT_STATUS_INTERNAL;
    }
    return WEFT_STATUS_OK;
}
