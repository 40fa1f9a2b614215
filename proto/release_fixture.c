/*  release_fixture - a publisher's keys and signed roles for selftests
    and fuzz targets (see release_fixture.h)  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/bundle.h"
#include "proto/chunker.h"
#include "proto/release_fixture.h"

void
release_fixture_keys (release_fixture_t *k)
{
    assert (k);
    k->tenant = NULL;
    for (int i = 0; i < 3; i++)
        keys_from_byte (&k->root [i], (uint8_t) (0x10 + i));
    keys_from_byte (&k->targets [0], 0x20);
    keys_from_byte (&k->targets [1], 0x21);
    keys_from_byte (&k->snapshot, 0x30);
    keys_from_byte (&k->timestamp, 0x40);
    keys_from_byte (&k->coord, 0xc0);
    keys_from_byte (&k->rogue, 0xee);
}

static void
s_keyset (release_keyset_t *set, uint32_t threshold, const keys_t *keys, size_t count)
{
    set->threshold = threshold;
    set->key_count = count;
    for (size_t i = 0; i < count; i++)
        memcpy (set->keys [i], keys [i].sign_public, 32);
}

uint8_t *
release_fixture_sign (release_role_t role, const uint8_t *body, size_t body_size,
                      const keys_t *keys, size_t count, size_t *size_p)
{
    uint8_t secrets [RELEASE_SIGS_MAX][WEFT_SECRET_SIZE];
    assert (count <= RELEASE_SIGS_MAX);
    for (size_t i = 0; i < count; i++)
        memcpy (secrets [i], keys [i].sign_secret, WEFT_SECRET_SIZE);
    uint8_t *out;
    assert (release_sign (role, body, body_size, (const uint8_t (*) [64]) secrets, count,
                          &out, size_p) == 0);
    return out;
}

uint8_t *
release_fixture_root (const release_fixture_t *k, uint64_t version, uint64_t expires_ms,
                      const keys_t *signers, size_t count, const keys_t *root_keys,
                      size_t *size_p)
{
    return release_fixture_root_of (k, "acme", version, expires_ms, signers, count,
                                    root_keys, size_p);
}

uint8_t *
release_fixture_root_of (const release_fixture_t *k, const char *tenant, uint64_t version,
                         uint64_t expires_ms, const keys_t *signers, size_t count,
                         const keys_t *root_keys, size_t *size_p)
{
    release_root_t root;
    memset (&root, 0, sizeof root);
    root.version = version;
    root.expires_ms = expires_ms;
    snprintf (root.tenant, sizeof root.tenant, "%s", tenant);
    s_keyset (&root.roles [RELEASE_ROOT - 1], 2, root_keys, 3);
    s_keyset (&root.roles [RELEASE_TARGETS - 1], 2, k->targets, 2);
    s_keyset (&root.roles [RELEASE_SNAPSHOT - 1], 1, &k->snapshot, 1);
    s_keyset (&root.roles [RELEASE_TIMESTAMP - 1], 1, &k->timestamp, 1);
    uint8_t *body;
    size_t body_size;
    assert (release_root_encode (&root, &body, &body_size) == 0);
    uint8_t *signed_root = release_fixture_sign (RELEASE_ROOT, body, body_size, signers,
                                                 count, size_p);
    free (body);
    return signed_root;
}

void
release_fixture_publish_by (const release_fixture_t *k, uint64_t v,
                            const release_target_t *targets, size_t count,
                            uint64_t timestamp_expires, const keys_t *signers,
                            size_t signer_count, release_published_t *out)
{
    uint8_t *body, hash [32];
    size_t size;
    const char *tenant = k->tenant? k->tenant: "acme";
    assert (release_targets_encode (v, FIXTURE_NOW + 30 * FIXTURE_DAY, tenant, targets, count,
                                    &body, &size) == 0);
    out->targets = release_fixture_sign (RELEASE_TARGETS, body, size, signers, signer_count,
                                         &out->targets_size);
    free (body);
    keys_hash (out->targets, out->targets_size, hash);
    assert (release_pointer_encode (v, FIXTURE_NOW + 7 * FIXTURE_DAY, tenant, v, hash, &body,
                                    &size) == 0);
    out->snapshot = release_fixture_sign (RELEASE_SNAPSHOT, body, size, &k->snapshot, 1,
                                          &out->snapshot_size);
    free (body);
    keys_hash (out->snapshot, out->snapshot_size, hash);
    assert (release_pointer_encode (v, timestamp_expires, tenant, v, hash, &body, &size) == 0);
    out->timestamp = release_fixture_sign (RELEASE_TIMESTAMP, body, size, &k->timestamp, 1,
                                           &out->timestamp_size);
    free (body);
}

void
release_fixture_publish (const release_fixture_t *k, uint64_t v,
                         const release_target_t *targets, size_t count,
                         uint64_t timestamp_expires, release_published_t *out)
{
    release_fixture_publish_by (k, v, targets, count, timestamp_expires, k->targets, 2, out);
}

void
release_fixture_free (release_published_t *published)
{
    free (published->targets);
    free (published->snapshot);
    free (published->timestamp);
    memset (published, 0, sizeof *published);
}

int
release_fixture_take (release_trust_t *trust, const release_published_t *p, uint64_t now_ms)
{
    int rc = release_trust_update (trust, p->timestamp, p->timestamp_size, now_ms);
    if (!rc)
        rc = release_trust_update (trust, p->snapshot, p->snapshot_size, now_ms);
    if (!rc)
        rc = release_trust_update (trust, p->targets, p->targets_size, now_ms);
    return rc;
}

uint8_t *
release_fixture_assign (const keys_t *signer, const char *device, const char *version,
                        const uint8_t hash [32], uint64_t issued, uint64_t expires,
                        size_t *size_p)
{
    release_assignment_t a;
    memset (&a, 0, sizeof a);
    snprintf (a.device, sizeof a.device, "%s", device);
    snprintf (a.tenant, sizeof a.tenant, "acme");
    snprintf (a.name, sizeof a.name, "plc-runtime");
    snprintf (a.version, sizeof a.version, "%s", version);
    memcpy (a.manifest_hash, hash, 32);
    a.issued_ms = issued;
    a.expires_ms = expires;
    uint8_t *out = NULL;
    int rc = release_assign (&a, signer->sign_secret, &out, size_p);
    assert (rc == 0);
    (void) rc;
    return out;
}

//  A bundle buffer
static void
s_append (uint8_t **data_p, size_t *size_p, const void *data, size_t size)
{
    *data_p = (uint8_t *) realloc (*data_p, *size_p + size);
    assert (*data_p);
    memcpy (*data_p + *size_p, data, size);
    *size_p += size;
}

static void
s_record (uint8_t **data_p, size_t *size_p, bundle_record_t type, const uint8_t *body,
          size_t size)
{
    uint8_t header [BUNDLE_HEADER_SIZE];
    bundle_header_put (header, type, size);
    s_append (data_p, size_p, header, sizeof header);
    s_append (data_p, size_p, body, size);
}

uint8_t *
release_fixture_bundle (const release_fixture_t *k, const uint8_t *root, size_t root_size,
                        uint64_t v, const char *name, const char *version, size_t artifact_size,
                        uint8_t manifest_hash [32], size_t *size_p)
{
    chunker_t *chunker = chunker_new ();
    uint8_t *artifact = (uint8_t *) zmalloc (artifact_size);
    uint8_t seed [32] = { 0 };
    snprintf ((char *) seed, sizeof seed, "%s-%s", name, version);
    randombytes_buf_deterministic (artifact, artifact_size, seed);
    size_t alloc = 16, count = 0, offset = 0;
    uint8_t *entries = (uint8_t *) zmalloc (alloc * MANIFEST_ENTRY_SIZE);
    uint8_t *chunks = NULL;
    size_t chunks_size = 0;
    while (offset < artifact_size) {
        size_t cut = chunker_cut (chunker, artifact + offset, artifact_size - offset, true);
        if (count == alloc) {
            alloc *= 2;
            entries = (uint8_t *) realloc (entries, alloc * MANIFEST_ENTRY_SIZE);
            assert (entries);
        }
        uint8_t *entry = entries + count * MANIFEST_ENTRY_SIZE;
        chunker_hash (artifact + offset, cut, entry);
        entry [32] = 0;
        entry [33] = (uint8_t) (cut >> 16);
        entry [34] = (uint8_t) (cut >> 8);
        entry [35] = (uint8_t) cut;
        uint8_t *packed;
        size_t packed_size;
        assert (chunker_pack (artifact + offset, cut, &packed, &packed_size) == 0);
        uint8_t header [BUNDLE_HEADER_SIZE];
        bundle_header_put (header, BUNDLE_CHUNK, 32 + packed_size);
        s_append (&chunks, &chunks_size, header, sizeof header);
        s_append (&chunks, &chunks_size, entry, 32);
        s_append (&chunks, &chunks_size, packed, packed_size);
        free (packed);
        count++;
        offset += cut;
    }
    chunker_destroy (&chunker);
    free (artifact);
    manifest_t manifest;
    memset (&manifest, 0, sizeof manifest);
    snprintf (manifest.name, sizeof manifest.name, "%s", name);
    snprintf (manifest.version, sizeof manifest.version, "%s", version);
    strcpy (manifest.types, "gateway");
    strcpy (manifest.handler, "file");
    manifest.size = artifact_size;
    manifest.chunk_count = count;
    manifest.chunks = entries;
    uint8_t *manifest_data;
    size_t manifest_size;
    assert (manifest_encode (&manifest, &manifest_data, &manifest_size) == 0);
    release_target_t target;
    memset (&target, 0, sizeof target);
    snprintf (target.name, sizeof target.name, "%s", name);
    snprintf (target.version, sizeof target.version, "%s", version);
    target.manifest_size = manifest_size;
    keys_hash (manifest_data, manifest_size, target.manifest_hash);
    memcpy (manifest_hash, target.manifest_hash, 32);
    release_published_t published;
    release_fixture_publish (k, v, &target, 1, FIXTURE_NOW + FIXTURE_DAY, &published);
    uint8_t *bundle = NULL;
    size_t size = 0;
    s_append (&bundle, &size, BUNDLE_MAGIC, BUNDLE_MAGIC_SIZE);
    s_record (&bundle, &size, BUNDLE_ROOT, root, root_size);
    s_record (&bundle, &size, BUNDLE_TIMESTAMP, published.timestamp, published.timestamp_size);
    s_record (&bundle, &size, BUNDLE_SNAPSHOT, published.snapshot, published.snapshot_size);
    s_record (&bundle, &size, BUNDLE_TARGETS, published.targets, published.targets_size);
    s_record (&bundle, &size, BUNDLE_MANIFEST, manifest_data, manifest_size);
    s_append (&bundle, &size, chunks, chunks_size);
    uint8_t hash [32];
    keys_hash (bundle, size, hash);
    s_record (&bundle, &size, BUNDLE_END, hash, 32);
    release_fixture_free (&published);
    free (manifest_data);
    free (entries);
    free (chunks);
    *size_p = size;
    return bundle;
}
