/*  release_fixture - a publisher's keys and signed roles for selftests
    and fuzz targets (see release_fixture.h)  */

#include "proto/corelib.h"
#include "proto/release_fixture.h"

void
release_fixture_keys (release_fixture_t *k)
{
    assert (k);
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
release_fixture_publish (const release_fixture_t *k, uint64_t v,
                         const release_target_t *targets, size_t count,
                         uint64_t timestamp_expires, release_published_t *out)
{
    uint8_t *body, hash [32];
    size_t size;
    assert (release_targets_encode (v, FIXTURE_NOW + 30 * FIXTURE_DAY, "acme", targets, count,
                                    &body, &size) == 0);
    out->targets = release_fixture_sign (RELEASE_TARGETS, body, size, k->targets, 2,
                                         &out->targets_size);
    free (body);
    keys_hash (out->targets, out->targets_size, hash);
    assert (release_pointer_encode (v, FIXTURE_NOW + 7 * FIXTURE_DAY, "acme", v, hash, &body,
                                    &size) == 0);
    out->snapshot = release_fixture_sign (RELEASE_SNAPSHOT, body, size, &k->snapshot, 1,
                                          &out->snapshot_size);
    free (body);
    keys_hash (out->snapshot, out->snapshot_size, hash);
    assert (release_pointer_encode (v, timestamp_expires, "acme", v, hash, &body, &size) == 0);
    out->timestamp = release_fixture_sign (RELEASE_TIMESTAMP, body, size, &k->timestamp, 1,
                                           &out->timestamp_size);
    free (body);
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
