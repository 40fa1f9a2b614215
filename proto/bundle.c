/*  bundle - a release in one file, checked before anything in it is
    trusted (see bundle.h)  */

#include "proto/corelib.h"
#include "proto/chunker.h"
#include "proto/manifest.h"
#include "proto/bundle.h"
#include "proto/keys.h"
#include <sodium.h>

struct _bundle_check_t {
    release_trust_t trust;
    uint64_t now_ms;
    crypto_generichash_state hash;      //  Every byte before the end record
    int last;                           //  Type of the last record, 0 before any
    bool magic, ended;
    bool manifest_taken [RELEASE_TARGETS_MAX];
    uint8_t *entries;                   //  Chunks the manifests name, sorted, unique
    size_t entry_count, entry_alloc;
    uint8_t *carried;                   //  One flag per entry
    bool sorted;
    size_t carried_count;
    uint8_t *chunk;                     //  Scratch for unpacking
};

bundle_check_t *
bundle_check_new (const release_trust_t *trust, uint64_t now_ms)
{
    assert (trust);
    bundle_check_t *self = (bundle_check_t *) zmalloc (sizeof (bundle_check_t));
    self->trust = *trust;
    self->now_ms = now_ms;
    crypto_generichash_init (&self->hash, NULL, 0, 32);
    self->chunk = (uint8_t *) zmalloc (CHUNKER_MAX);
    return self;
}

void
bundle_check_destroy (bundle_check_t **self_p)
{
    assert (self_p);
    bundle_check_t *self = *self_p;
    if (self) {
        free (self->entries);
        free (self->carried);
        free (self->chunk);
        free (self);
        *self_p = NULL;
    }
}

int
bundle_check_magic (bundle_check_t *self, const uint8_t magic [BUNDLE_MAGIC_SIZE])
{
    assert (self && magic);
    if (self->magic || memcmp (magic, BUNDLE_MAGIC, BUNDLE_MAGIC_SIZE))
        return PROTO_ERR_VERSION;
    crypto_generichash_update (&self->hash, magic, BUNDLE_MAGIC_SIZE);
    self->magic = true;
    return 0;
}

int
bundle_header (const uint8_t header [BUNDLE_HEADER_SIZE], bundle_record_t *type_p,
               size_t *length_p)
{
    assert (header && type_p && length_p);
    uint8_t type = header [0];
    size_t length = (size_t) header [1] << 24 | (size_t) header [2] << 16
                  | (size_t) header [3] << 8 | header [4];
    *type_p = (bundle_record_t) type;
    *length_p = length;
    if (type == 0 || (type > BUNDLE_DELTA && type != BUNDLE_END))
        return PROTO_ERR_MALFORMED;
    return length > BUNDLE_RECORD_MAX? PROTO_ERR_OVERSIZE: 0;
}

int
bundle_find (const uint8_t *data, size_t size, bundle_record_t type, const uint8_t **body_p,
             size_t *length_p)
{
    assert (data && body_p && length_p);
    if (size < BUNDLE_MAGIC_SIZE || memcmp (data, BUNDLE_MAGIC, BUNDLE_MAGIC_SIZE))
        return -1;
    size_t at = BUNDLE_MAGIC_SIZE;
    while (size - at >= BUNDLE_HEADER_SIZE) {
        bundle_record_t found;
        size_t length;
        if (bundle_header (data + at, &found, &length) || size - at - BUNDLE_HEADER_SIZE < length)
            return -1;
        at += BUNDLE_HEADER_SIZE;
        if (found == type) {
            *body_p = data + at;
            *length_p = length;
            return 0;
        }
        if (found == BUNDLE_END)
            return -1;
        at += length;
    }
    return -1;
}

void
bundle_header_put (uint8_t header [BUNDLE_HEADER_SIZE], bundle_record_t type, size_t length)
{
    assert (header && length <= UINT32_MAX);
    header [0] = (uint8_t) type;
    header [1] = (uint8_t) (length >> 24);
    header [2] = (uint8_t) (length >> 16);
    header [3] = (uint8_t) (length >> 8);
    header [4] = (uint8_t) length;
}

uint8_t *
bundle_offer_compose (const uint8_t *common, size_t common_size, const uint8_t *assignment,
                      size_t assignment_size, size_t *size_p)
{
    assert (common && assignment && size_p);
    size_t size = common_size + 2 * BUNDLE_HEADER_SIZE + assignment_size + 32;
    uint8_t *data = (uint8_t *) malloc (size);
    assert (data);
    memcpy (data, common, common_size);
    uint8_t *at = data + common_size;
    bundle_header_put (at, BUNDLE_ASSIGNMENT, assignment_size);
    memcpy (at + BUNDLE_HEADER_SIZE, assignment, assignment_size);
    at += BUNDLE_HEADER_SIZE + assignment_size;
    bundle_header_put (at, BUNDLE_END, 32);
    keys_hash (data, (size_t) (at - data), at + BUNDLE_HEADER_SIZE);
    *size_p = size;
    return data;
}

static int
s_compare_entry (const void *a, const void *b)
{
    return memcmp (a, b, CHUNKER_HASH_SIZE);
}

//  A manifest named by a trusted target: its chunks join the set
static int
s_manifest (bundle_check_t *self, const uint8_t *body, size_t size)
{
    uint8_t hash [32];
    keys_hash (body, size, hash);
    size_t index = 0;
    while (index < self->trust.target_count
       &&  (memcmp (self->trust.targets [index].manifest_hash, hash, 32)
            || self->trust.targets [index].manifest_size != size))
        index++;
    if (index == self->trust.target_count || self->manifest_taken [index])
        return RELEASE_MISMATCH;
    manifest_t manifest;
    if (manifest_decode (&manifest, body, size))
        return RELEASE_MALFORMED;
    self->manifest_taken [index] = true;
    if (self->entry_count + manifest.chunk_count > self->entry_alloc) {
        self->entry_alloc = self->entry_count + manifest.chunk_count;
        self->entries = (uint8_t *) realloc (self->entries,
                                             self->entry_alloc * MANIFEST_ENTRY_SIZE + 1);
        assert (self->entries);
    }
    memcpy (self->entries + self->entry_count * MANIFEST_ENTRY_SIZE, manifest.chunks,
            manifest.chunk_count * MANIFEST_ENTRY_SIZE);
    self->entry_count += manifest.chunk_count;
    return RELEASE_OK;
}

//  Once the manifests are in: sort the entries and drop repeats
static void
s_seal_entries (bundle_check_t *self)
{
    if (self->sorted)
        return;
    self->sorted = true;
    if (self->entry_count)
        qsort (self->entries, self->entry_count, MANIFEST_ENTRY_SIZE, s_compare_entry);
    size_t unique = 0;
    for (size_t i = 0; i < self->entry_count; i++)
        if (unique == 0 || memcmp (self->entries + (unique - 1) * MANIFEST_ENTRY_SIZE,
                                   self->entries + i * MANIFEST_ENTRY_SIZE,
                                   CHUNKER_HASH_SIZE))
            memmove (self->entries + unique++ * MANIFEST_ENTRY_SIZE,
                     self->entries + i * MANIFEST_ENTRY_SIZE, MANIFEST_ENTRY_SIZE);
    self->entry_count = unique;
    self->carried = (uint8_t *) zmalloc (unique + 1);
}

//  The entry of a carried manifest for address, or NULL
static const uint8_t *
s_entry (bundle_check_t *self, const uint8_t *address)
{
    return self->entry_count
        ? (const uint8_t *) bsearch (address, self->entries, self->entry_count,
                                     MANIFEST_ENTRY_SIZE, s_compare_entry)
        : NULL;
}

static int
s_chunk (bundle_check_t *self, const uint8_t *body, size_t size)
{
    if (size < CHUNKER_HASH_SIZE)
        return RELEASE_MALFORMED;
    const uint8_t *entry = s_entry (self, body);
    if (!entry)
        return RELEASE_MISMATCH;
    size_t index = (size_t) (entry - self->entries) / MANIFEST_ENTRY_SIZE;
    if (self->carried [index])
        return RELEASE_MISMATCH;
    size_t chunk_size = (size_t) entry [32] << 24 | (size_t) entry [33] << 16
                      | (size_t) entry [34] << 8 | entry [35];
    if (chunker_unpack (body + CHUNKER_HASH_SIZE, size - CHUNKER_HASH_SIZE, entry,
                        self->chunk, chunk_size))
        return RELEASE_MISMATCH;
    self->carried [index] = 1;
    self->carried_count++;
    return RELEASE_OK;
}

//  A delta of a chunk the bundle carried, once per chunk. Its bases are
//  not in the bundle: whoever keeps it applies it against its own
//  chunks before it trusts it.
static int
s_delta (bundle_check_t *self, const uint8_t *body, size_t size)
{
    size_t base_count, frame_size;
    const uint8_t *bases, *frame;
    if (size < CHUNKER_HASH_SIZE
    ||  size - CHUNKER_HASH_SIZE > BUNDLE_DELTA_MAX
    ||  chunker_delta_split (body + CHUNKER_HASH_SIZE, size - CHUNKER_HASH_SIZE, &base_count,
                             &bases, &frame, &frame_size))
        return RELEASE_MALFORMED;
    const uint8_t *entry = s_entry (self, body);
    if (!entry)
        return RELEASE_MISMATCH;
    size_t index = (size_t) (entry - self->entries) / MANIFEST_ENTRY_SIZE;
    if (self->carried [index] != 1)
        return RELEASE_MISMATCH;        //  Its chunk not carried, or a second delta
    self->carried [index] = 2;
    return RELEASE_OK;
}

int
bundle_check_record (bundle_check_t *self, const uint8_t header [BUNDLE_HEADER_SIZE],
                     const uint8_t *body, size_t size)
{
    assert (self && header && (body || size == 0));
    bundle_record_t type;
    size_t length;
    if (!self->magic || self->ended || bundle_header (header, &type, &length) || length != size)
        return RELEASE_MALFORMED;
    //  In order; the three pointer roles once each, and all three
    bool once = type == BUNDLE_TIMESTAMP || type == BUNDLE_SNAPSHOT || type == BUNDLE_TARGETS;
    if ((int) type < self->last || (once && (int) type == self->last)
    ||  (type > BUNDLE_TARGETS && self->last < BUNDLE_TARGETS)
    ||  (type == BUNDLE_SNAPSHOT && self->last != BUNDLE_TIMESTAMP)
    ||  (type == BUNDLE_TARGETS && self->last != BUNDLE_SNAPSHOT))
        return RELEASE_ORDER;
    int rc = RELEASE_OK;
    if (type == BUNDLE_END) {
        uint8_t hash [32];
        crypto_generichash_final (&self->hash, hash, sizeof hash);
        if (size != 32 || sodium_memcmp (hash, body, 32))
            return RELEASE_MISMATCH;
        self->ended = true;
        self->last = type;
        return RELEASE_OK;
    }
    if (type == BUNDLE_ROOT) {
        release_root_t root;
        release_role_t role;
        const uint8_t *root_body;
        size_t root_size;
        rc = release_open (body, size, &role, &root_body, &root_size);
        if (!rc && role != RELEASE_ROOT)
            rc = RELEASE_MALFORMED;
        if (!rc)
            rc = release_root_decode (&root, root_body, root_size);
        //  Roots the device has walked already are skipped
        if (!rc && root.version > self->trust.root.version)
            rc = release_trust_update (&self->trust, body, size, self->now_ms);
    }
    else
    if (once) {
        release_role_t role;
        rc = release_open (body, size, &role, NULL, NULL);
        if (!rc && (int) role != (type == BUNDLE_TIMESTAMP? RELEASE_TIMESTAMP
                                  : type == BUNDLE_SNAPSHOT? RELEASE_SNAPSHOT
                                  : RELEASE_TARGETS))
            rc = RELEASE_MALFORMED;
        if (!rc)
            rc = release_trust_update (&self->trust, body, size, self->now_ms);
    }
    else
    if (type == BUNDLE_MANIFEST)
        rc = s_manifest (self, body, size);
    else
    if (type == BUNDLE_ASSIGNMENT)
        rc = size > 0 && size <= 1024? RELEASE_OK: RELEASE_MALFORMED;
    else {
        s_seal_entries (self);
        rc = type == BUNDLE_DELTA? s_delta (self, body, size): s_chunk (self, body, size);
    }
    if (rc)
        return rc;
    crypto_generichash_update (&self->hash, header, BUNDLE_HEADER_SIZE);
    crypto_generichash_update (&self->hash, body, size);
    self->last = type;
    return RELEASE_OK;
}

int
bundle_check_done (bundle_check_t *self)
{
    assert (self);
    return self->ended? RELEASE_OK: RELEASE_MALFORMED;
}

const release_trust_t *
bundle_check_trust (bundle_check_t *self)
{
    assert (self);
    return &self->trust;
}

size_t
bundle_check_chunks (bundle_check_t *self, size_t *missing_p)
{
    assert (self);
    s_seal_entries (self);
    if (missing_p)
        *missing_p = self->entry_count - self->carried_count;
    return self->carried_count;
}
