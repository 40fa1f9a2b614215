/*  release_test - the selftest of release metadata and of the chain of
    trust: each attack docs/updates.md names, refused  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/codec.h"
#include "proto/release.h"
#include "proto/release_fixture.h"

//  A manifest of one 100-byte chunk
static uint8_t *
s_manifest (const char *version, uint64_t anti_rollback, const char *types, size_t *size_p)
{
    uint8_t entry [36] = { 0 };
    entry [35] = 100;
    manifest_t m = { .anti_rollback = anti_rollback, .handler = "file", .size = 100,
                     .chunk_count = 1, .chunks = entry };
    strcpy (m.name, "plc-runtime");
    strcpy (m.version, version);
    strcpy (m.types, types);
    uint8_t *out;
    assert (manifest_encode (&m, &out, size_p) == 0);
    return out;
}

static uint8_t *
s_assignment (const release_fixture_t *k, const keys_t *signer, const char *device,
              const char *version, const uint8_t hash [32], uint64_t expires, size_t *size_p)
{
    (void) k;
    return release_fixture_assign (signer, device, version, hash, FIXTURE_NOW, expires,
                                   size_p);
}

void
release_test (bool verbose)
{
    printf (" * release: ");
    //  @selftest
    release_fixture_t k;
    release_fixture_keys (&k);
    release_trust_t trust, before;
    size_t size;

    //  A root signed by one of its three root keys is short of its
    //  threshold of two; a second signature merged in meets it; a key's
    //  second signature does not count twice
    uint8_t *one = release_fixture_root (&k, 1, FIXTURE_NOW + 365 * FIXTURE_DAY, &k.root [0], 1, k.root, &size);
    assert (release_trust_init (&trust, one, size, FIXTURE_NOW) == RELEASE_THRESHOLD);
    size_t one_size = size;
    uint8_t *twice, *root1;
    size_t twice_size, root1_size;
    assert (release_merge (one, one_size, one, one_size, &twice, &twice_size) == 0);
    assert (release_trust_init (&trust, twice, twice_size, FIXTURE_NOW) == RELEASE_THRESHOLD);
    uint8_t *other = release_fixture_root (&k, 1, FIXTURE_NOW + 365 * FIXTURE_DAY, &k.root [2], 1, k.root, &size);
    assert (release_merge (one, one_size, other, size, &root1, &root1_size) == 0);
    assert (release_trust_init (&trust, root1, root1_size, FIXTURE_NOW) == RELEASE_OK);
    assert (trust.root.version == 1 && streq (trust.root.tenant, "acme"));
    assert (release_trust_init (&before, root1, root1_size, FIXTURE_NOW + 366 * FIXTURE_DAY)
            == RELEASE_EXPIRED);
    free (twice);
    free (other);

    //  Bodies differing cannot be merged
    uint8_t *root2 = release_fixture_root (&k, 2, FIXTURE_NOW + 365 * FIXTURE_DAY, k.root, 2, k.root, &size);
    size_t root2_size = size;
    assert (release_merge (one, one_size, root2, root2_size, &twice, &twice_size)
            == RELEASE_MISMATCH);
    free (one);

    //  A release published and taken: timestamp, snapshot, targets
    size_t m1_size, m2_size;
    uint8_t *m1 = s_manifest ("1.0", 1, "gateway", &m1_size);
    uint8_t *m2 = s_manifest ("2.0", 2, "gateway", &m2_size);
    release_target_t t1 = { .name = "plc-runtime", .version = "1.0",
                            .manifest_size = m1_size };
    release_target_t t2 = { .name = "plc-runtime", .version = "2.0",
                            .manifest_size = m2_size };
    keys_hash (m1, m1_size, t1.manifest_hash);
    keys_hash (m2, m2_size, t2.manifest_hash);
    release_published_t p1, p2;
    release_fixture_publish (&k, 1, &t1, 1, FIXTURE_NOW + FIXTURE_DAY, &p1);
    release_fixture_publish (&k, 2, &t2, 1, FIXTURE_NOW + FIXTURE_DAY, &p2);
    //  In order only: a snapshot before its timestamp is refused
    assert (release_trust_update (&trust, p1.snapshot, p1.snapshot_size, FIXTURE_NOW)
            == RELEASE_ORDER);
    assert (release_fixture_take (&trust, &p1, FIXTURE_NOW) == RELEASE_OK);
    assert (trust.target_count == 1 && trust.targets_version == 1);

    //  The director assigns 1.0 to gw-1; the check passes
    manifest_t manifest;
    size_t a_size;
    uint8_t *a1 = s_assignment (&k, &k.coord, "gw-1", "1.0", t1.manifest_hash,
                                FIXTURE_NOW + FIXTURE_DAY, &a_size);
    assert (release_check (&trust, a1, a_size, k.coord.sign_public, "gw-1", "gateway", 0,
                           m1, m1_size, FIXTURE_NOW, &manifest) == RELEASE_OK);
    assert (streq (manifest.version, "1.0"));
    //  Another device, another type, a lower anti-rollback version, an
    //  expired assignment, one not signed by the coordinator
    assert (release_check (&trust, a1, a_size, k.coord.sign_public, "gw-2", "gateway", 0,
                           m1, m1_size, FIXTURE_NOW, &manifest) == RELEASE_NOT_ASSIGNED);
    assert (release_check (&trust, a1, a_size, k.coord.sign_public, "gw-1", "sensor", 0,
                           m1, m1_size, FIXTURE_NOW, &manifest) == RELEASE_WRONG_TYPE);
    assert (release_check (&trust, a1, a_size, k.coord.sign_public, "gw-1", "gateway", 2,
                           m1, m1_size, FIXTURE_NOW, &manifest) == RELEASE_ANTI_ROLLBACK);
    assert (release_check (&trust, a1, a_size, k.coord.sign_public, "gw-1", "gateway", 0,
                           m1, m1_size, FIXTURE_NOW + FIXTURE_DAY, &manifest) == RELEASE_NOT_ASSIGNED);
    //  Below the installed anti-rollback only where the root allows that
    //  release down to a floor at or below the release's own
    release_trust_t *down = (release_trust_t *) malloc (sizeof *down);
    *down = trust;
    down->root.downgrade_count = 2;
    snprintf (down->root.downgrades [0].name, WEFT_NAME_MAX + 1, "other");
    down->root.downgrades [0].floor = 0;
    snprintf (down->root.downgrades [1].name, WEFT_NAME_MAX + 1, "plc-runtime");
    down->root.downgrades [1].floor = 1;
    assert (release_check (down, a1, a_size, k.coord.sign_public, "gw-1", "gateway", 2,
                           m1, m1_size, FIXTURE_NOW, &manifest) == RELEASE_OK);
    down->root.downgrades [1].floor = 2;
    assert (release_check (down, a1, a_size, k.coord.sign_public, "gw-1", "gateway", 2,
                           m1, m1_size, FIXTURE_NOW, &manifest) == RELEASE_ANTI_ROLLBACK);
    //  In the root's signed body: encoded and decoded as written; a
    //  root without one is the 11 items it always was
    down->root.downgrades [1].floor = 1;
    uint8_t *down_body;
    size_t down_size;
    assert (release_root_encode (&down->root, &down_body, &down_size) == 0);
    release_root_t decoded;
    assert (release_root_decode (&decoded, down_body, down_size) == RELEASE_OK);
    assert (decoded.downgrade_count == 2 && decoded.downgrades [1].floor == 1
            && streq (decoded.downgrades [1].name, "plc-runtime"));
    free (down_body);
    down->root.downgrade_count = 0;
    assert (release_root_encode (&down->root, &down_body, &down_size) == 0);
    codec_reader_t *reader;
    assert (codec_reader_new (&reader, down_body, down_size) == 0);
    assert (codec_items (reader) == 11);
    codec_reader_destroy (&reader);
    free (down_body);
    //  Refused: a count with no entries, past the limit, an empty name
    const struct { uint64_t count; size_t entries; const char *name; } bad [] = {
        { 1, 0, "plc" }, { RELEASE_DOWNGRADES_MAX + 1, RELEASE_DOWNGRADES_MAX + 1, "plc" },
        { 1, 1, "" }, { 0, 0, "" }
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        codec_writer_t *w = codec_writer_new (1024);
        codec_put_array (w, 12 + 2 * bad [i].entries);
        codec_put_uint (w, 1);
        codec_put_uint (w, FIXTURE_NOW + FIXTURE_DAY);
        codec_put_str (w, "acme", WEFT_NAME_MAX);
        for (int role = 0; role < 4; role++) {
            codec_put_uint (w, 1);
            codec_put_bin (w, k.root [role % 3].sign_public, WEFT_KEY_SIZE);
        }
        codec_put_uint (w, bad [i].count);
        for (size_t entry = 0; entry < bad [i].entries; entry++) {
            codec_put_str (w, bad [i].name, WEFT_NAME_MAX);
            codec_put_uint (w, 1);
        }
        assert (codec_writer_finish (&w, &down_body, &down_size) == 0);
        assert (release_root_decode (&decoded, down_body, down_size) == RELEASE_MALFORMED);
        assert (decoded.downgrade_count == 0);
        free (down_body);
    }
    free (down);
    assert (release_check (&trust, a1, a_size, k.rogue.sign_public, "gw-1", "gateway", 0,
                           m1, m1_size, FIXTURE_NOW, &manifest) == RELEASE_NOT_ASSIGNED);
    //  The coordinator alone cannot make a release: 2.0 assigned before
    //  the publisher's metadata names it is unknown
    uint8_t *a2 = s_assignment (&k, &k.coord, "gw-1", "2.0", t2.manifest_hash,
                                FIXTURE_NOW + 2 * FIXTURE_DAY, &a_size);
    assert (release_check (&trust, a2, a_size, k.coord.sign_public, "gw-1", "gateway", 1,
                           m2, m2_size, FIXTURE_NOW, &manifest) == RELEASE_UNKNOWN);
    //  ... nor sign targets: the coordinator's key is not a targets key
    uint8_t *body;
    size_t body_size, forged_size;
    assert (release_targets_encode (2, FIXTURE_NOW + FIXTURE_DAY, "acme", &t2, 1, &body, &body_size) == 0);
    uint8_t *forged = release_fixture_sign (RELEASE_TARGETS, body, body_size, &k.coord, 1, &forged_size);
    free (body);
    before = trust;
    assert (release_trust_update (&trust, forged, forged_size, FIXTURE_NOW) == RELEASE_MISMATCH);
    assert (memcmp (&before, &trust, sizeof trust) == 0);
    free (forged);

    //  Mix and match: 2.0's timestamp, then 1.0's snapshot
    assert (release_trust_update (&trust, p2.timestamp, p2.timestamp_size, FIXTURE_NOW) == 0);
    assert (release_trust_update (&trust, p1.snapshot, p1.snapshot_size, FIXTURE_NOW)
            == RELEASE_MISMATCH);
    assert (release_trust_update (&trust, p2.snapshot, p2.snapshot_size, FIXTURE_NOW) == 0);
    assert (release_trust_update (&trust, p2.targets, p2.targets_size, FIXTURE_NOW) == 0);
    //  The manifest must be the one the targets name: 1.0's manifest
    //  under the 2.0 assignment is refused
    assert (release_check (&trust, a2, a_size, k.coord.sign_public, "gw-1", "gateway", 1,
                           m1, m1_size, FIXTURE_NOW, &manifest) == RELEASE_MISMATCH);
    assert (release_check (&trust, a2, a_size, k.coord.sign_public, "gw-1", "gateway", 1,
                           m2, m2_size, FIXTURE_NOW, &manifest) == RELEASE_OK);
    //  Rollback: 1.0's metadata, once 2.0's is trusted
    before = trust;
    assert (release_trust_update (&trust, p1.timestamp, p1.timestamp_size, FIXTURE_NOW)
            == RELEASE_ROLLED_BACK);
    assert (memcmp (&before, &trust, sizeof trust) == 0);
    //  Freeze: a day later the timestamp has expired; nothing installs
    //  until a fresh one comes
    assert (release_check (&trust, a2, a_size, k.coord.sign_public, "gw-1", "gateway", 1,
                           m2, m2_size, FIXTURE_NOW + FIXTURE_DAY, &manifest) == RELEASE_EXPIRED);
    assert (release_trust_update (&trust, p2.timestamp, p2.timestamp_size, FIXTURE_NOW + FIXTURE_DAY)
            == RELEASE_EXPIRED);

    //  Root rotation: version 2 signed by the old threshold; then a
    //  root whose new keys are the rogue's, signed by the rogue only,
    //  is refused
    assert (release_trust_update (&trust, root2, root2_size, FIXTURE_NOW) == RELEASE_OK);
    assert (trust.root.version == 2);
    assert (release_trust_update (&trust, root2, root2_size, FIXTURE_NOW) == RELEASE_ROLLED_BACK);
    keys_t rogues [3] = { k.rogue, k.rogue, k.rogue };
    keys_from_byte (&rogues [1], 0xef);
    keys_from_byte (&rogues [2], 0xf0);
    uint8_t *root3 = release_fixture_root (&k, 3, FIXTURE_NOW + 365 * FIXTURE_DAY, rogues, 3, rogues, &size);
    assert (release_trust_update (&trust, root3, size, FIXTURE_NOW) == RELEASE_THRESHOLD);
    free (root3);
    //  Another tenant's metadata is refused
    release_root_t acme = trust.root;
    strcpy (trust.root.tenant, "other");
    assert (release_trust_update (&trust, p2.timestamp, p2.timestamp_size, FIXTURE_NOW)
            == RELEASE_TENANT);
    trust.root = acme;

    //  Garbage and truncations never pass
    for (size_t cut = 0; cut < p2.targets_size; cut++)
        assert (release_open (p2.targets, cut, NULL, NULL, NULL) == RELEASE_MALFORMED);
    for (size_t cut = 0; cut < a_size; cut++)
        assert (release_check (&trust, a2, cut, k.coord.sign_public, "gw-1", "gateway", 1,
                               m2, m2_size, FIXTURE_NOW, &manifest) != RELEASE_OK);
    for (int result = RELEASE_ORDER; result <= RELEASE_OK; result++)
        assert (!strstr (release_strerror (result), "unknown"));
    //  Golden vectors: the same keys and times give the same bytes in
    //  every implementation (docs/updates.md)
    assert (codec_golden ("release-root", root1, root1_size, NULL, NULL) == 0);
    assert (codec_golden ("release-targets", p2.targets, p2.targets_size, NULL, NULL) == 0);
    assert (codec_golden ("release-snapshot", p2.snapshot, p2.snapshot_size, NULL, NULL) == 0);
    assert (codec_golden ("release-timestamp", p2.timestamp, p2.timestamp_size, NULL, NULL)
            == 0);
    assert (codec_golden ("release-assignment", a2, a_size, NULL, NULL) == 0);
    assert (codec_golden ("manifest", m2, m2_size, NULL, NULL) == 0);
    if (verbose)
        printf ("\n   root %zu bytes, targets %zu, snapshot %zu, timestamp %zu",
                root1_size, p2.targets_size, p2.snapshot_size, p2.timestamp_size);
    free (root1);
    free (root2);
    free (a1);
    free (a2);
    free (m1);
    free (m2);
    release_fixture_free (&p1);
    release_fixture_free (&p2);
    //  @end
    printf ("OK\n");
}
