/*  bundle_test - the selftest of bundle checking: a whole bundle
    passes; cut anywhere, altered anywhere, out of order, stale or
    carrying a stranger's bytes, it is refused  */

#include "proto/corelib.h"
#include "proto/chunker.h"
#include "proto/manifest.h"
#include "proto/bundle.h"
#include "proto/release_fixture.h"
#include <sodium.h>

//  A bundle in memory
typedef struct {
    uint8_t *data;
    size_t size, alloc;
} s_buffer_t;

static void
s_append (s_buffer_t *buffer, const void *data, size_t size)
{
    if (buffer->size + size > buffer->alloc) {
        buffer->alloc = (buffer->size + size) * 2;
        buffer->data = (uint8_t *) realloc (buffer->data, buffer->alloc);
        assert (buffer->data);
    }
    memcpy (buffer->data + buffer->size, data, size);
    buffer->size += size;
}

static void
s_record (s_buffer_t *buffer, bundle_record_t type, const uint8_t *body, size_t size)
{
    uint8_t header [BUNDLE_HEADER_SIZE];
    bundle_header_put (header, type, size);
    s_append (buffer, header, sizeof header);
    s_append (buffer, body, size);
}

static void
s_end (s_buffer_t *buffer)
{
    uint8_t hash [32];
    crypto_generichash (hash, 32, buffer->data, buffer->size, NULL, 0);
    s_record (buffer, BUNDLE_END, hash, 32);
}

//  Check a bundle from trust as a reader of the file would: the
//  result, and the chunks carried
static int
s_check (const release_trust_t *trust, const uint8_t *data, size_t size, size_t *carried)
{
    bundle_check_t *check = bundle_check_new (trust, FIXTURE_NOW);
    int rc = size >= BUNDLE_MAGIC_SIZE? bundle_check_magic (check, data): RELEASE_MALFORMED;
    size_t at = BUNDLE_MAGIC_SIZE;
    while (rc == 0 && at < size) {
        bundle_record_t type;
        size_t length;
        if (size - at < BUNDLE_HEADER_SIZE
        ||  bundle_header (data + at, &type, &length)
        ||  size - at - BUNDLE_HEADER_SIZE < length)
            rc = RELEASE_MALFORMED;
        else {
            rc = bundle_check_record (check, data + at, data + at + BUNDLE_HEADER_SIZE, length);
            at += BUNDLE_HEADER_SIZE + length;
        }
    }
    if (rc == 0)
        rc = bundle_check_done (check);
    if (carried)
        *carried = bundle_check_chunks (check, NULL);
    bundle_check_destroy (&check);
    return rc;
}

void
bundle_test (bool verbose)
{
    printf (" * bundle: ");
    //  @selftest
    release_fixture_t k;
    release_fixture_keys (&k);
    size_t root_size;
    uint8_t *root = release_fixture_root (&k, 1, FIXTURE_NOW + 365 * FIXTURE_DAY, k.root, 2,
                                          k.root, &root_size);
    release_trust_t trust;
    assert (release_trust_init (&trust, root, root_size, FIXTURE_NOW) == 0);

    //  An artifact of 200 KiB in chunks, and its manifest
    chunker_t *chunker = chunker_new ();
    size_t size = 200 * 1024;
    uint8_t *artifact = (uint8_t *) zmalloc (size);
    randombytes_buf_deterministic (artifact, size, (const uint8_t *) "weft-bundle-test-seed-0123456789");
    uint8_t entries [64 * MANIFEST_ENTRY_SIZE];
    uint8_t *packed [64];
    size_t packed_size [64], count = 0, offset = 0;
    while (offset < size) {
        size_t cut = chunker_cut (chunker, artifact + offset, size - offset, true);
        uint8_t *entry = entries + count * MANIFEST_ENTRY_SIZE;
        chunker_hash (artifact + offset, cut, entry);
        entry [32] = 0;
        entry [33] = (uint8_t) (cut >> 16);
        entry [34] = (uint8_t) (cut >> 8);
        entry [35] = (uint8_t) cut;
        assert (chunker_pack (artifact + offset, cut, &packed [count], &packed_size [count]) == 0);
        count++;
        offset += cut;
    }
    manifest_t manifest = { .name = "plc-runtime", .version = "2.0", .types = "gateway",
                            .handler = "file", .size = size, .chunk_count = count,
                            .chunks = entries };
    uint8_t *manifest_data;
    size_t manifest_size;
    assert (manifest_encode (&manifest, &manifest_data, &manifest_size) == 0);
    release_target_t target = { .name = "plc-runtime", .version = "2.0",
                                .manifest_size = manifest_size };
    keys_hash (manifest_data, manifest_size, target.manifest_hash);
    release_published_t published;
    release_fixture_publish (&k, 1, &target, 1, FIXTURE_NOW + FIXTURE_DAY, &published);

    //  The whole bundle
    s_buffer_t bundle = { NULL, 0, 0 };
    s_append (&bundle, BUNDLE_MAGIC, BUNDLE_MAGIC_SIZE);
    s_record (&bundle, BUNDLE_ROOT, root, root_size);
    s_record (&bundle, BUNDLE_TIMESTAMP, published.timestamp, published.timestamp_size);
    s_record (&bundle, BUNDLE_SNAPSHOT, published.snapshot, published.snapshot_size);
    s_record (&bundle, BUNDLE_TARGETS, published.targets, published.targets_size);
    s_record (&bundle, BUNDLE_MANIFEST, manifest_data, manifest_size);
    size_t chunks_at = bundle.size;
    for (size_t i = 0; i < count; i++) {
        uint8_t *body = (uint8_t *) zmalloc (32 + packed_size [i]);
        memcpy (body, entries + i * MANIFEST_ENTRY_SIZE, 32);
        memcpy (body + 32, packed [i], packed_size [i]);
        s_record (&bundle, BUNDLE_CHUNK, body, 32 + packed_size [i]);
        free (body);
    }
    size_t end_at = bundle.size;
    s_end (&bundle);
    size_t carried;
    assert (s_check (&trust, bundle.data, bundle.size, &carried) == RELEASE_OK);
    assert (carried == count);
    if (verbose)
        printf ("\n   %zu chunks, %zu bytes", count, bundle.size);
    //  A record found by its framing alone; none past a cut or the end
    const uint8_t *found;
    size_t found_size;
    assert (bundle_find (bundle.data, bundle.size, BUNDLE_MANIFEST, &found, &found_size) == 0);
    assert (found_size == manifest_size && memcmp (found, manifest_data, manifest_size) == 0);
    assert (bundle_find (bundle.data, chunks_at - 1, BUNDLE_MANIFEST, &found, &found_size));
    assert (bundle_find (bundle.data, bundle.size, BUNDLE_ASSIGNMENT, &found, &found_size));
    assert (bundle_find (bundle.data + 1, bundle.size - 1, BUNDLE_ROOT, &found, &found_size));

    //  An offer composed from the shared records and one assignment: the
    //  bytes a bundle written record by record has, and it checks whole
    static const uint8_t stand_in [] = { 0x92, 0xc4, 0x01, 0x01, 0xc4, 0x01, 0x02 };
    s_buffer_t offer = { NULL, 0, 0 };
    s_append (&offer, bundle.data, chunks_at);
    s_record (&offer, BUNDLE_ASSIGNMENT, stand_in, sizeof stand_in);
    s_end (&offer);
    size_t composed_size;
    uint8_t *composed = bundle_offer_compose (bundle.data, chunks_at, stand_in,
                                              sizeof stand_in, &composed_size);
    assert (composed_size == offer.size && memcmp (composed, offer.data, offer.size) == 0);
    assert (s_check (&trust, composed, composed_size, NULL) == RELEASE_OK);
    assert (bundle_find (composed, composed_size, BUNDLE_ASSIGNMENT, &found, &found_size) == 0);
    assert (found_size == sizeof stand_in && memcmp (found, stand_in, found_size) == 0);
    composed [composed_size - 1] ^= 1;      //  The end hash counts
    assert (s_check (&trust, composed, composed_size, NULL) != RELEASE_OK);
    free (composed);
    free (offer.data);

    //  Cut anywhere: refused. Altered anywhere: refused.
    for (size_t cut = 0; cut < bundle.size; cut += 97)
        assert (s_check (&trust, bundle.data, cut, NULL) != RELEASE_OK);
    assert (s_check (&trust, bundle.data, end_at, NULL) == RELEASE_MALFORMED);
    for (size_t at = 0; at < bundle.size; at += 211) {
        bundle.data [at] ^= 0x20;
        assert (s_check (&trust, bundle.data, bundle.size, NULL) != RELEASE_OK);
        bundle.data [at] ^= 0x20;
    }
    //  A chunk twice, or a stranger's chunk: refused even with a
    //  correct end hash
    s_buffer_t twice = { NULL, 0, 0 };
    s_append (&twice, bundle.data, end_at);
    s_append (&twice, bundle.data + chunks_at, end_at - chunks_at);
    s_end (&twice);
    assert (s_check (&trust, twice.data, twice.size, NULL) == RELEASE_MISMATCH);
    twice.size = end_at;
    uint8_t stranger [32 + 64];
    memset (stranger, 7, sizeof stranger);
    s_record (&twice, BUNDLE_CHUNK, stranger, sizeof stranger);
    s_end (&twice);
    assert (s_check (&trust, twice.data, twice.size, NULL) == RELEASE_MISMATCH);
    //  Out of order: a chunk before the manifest
    twice.size = chunks_at - BUNDLE_HEADER_SIZE - manifest_size;
    s_append (&twice, bundle.data + chunks_at, end_at - chunks_at);
    s_record (&twice, BUNDLE_MANIFEST, manifest_data, manifest_size);
    s_end (&twice);
    assert (s_check (&trust, twice.data, twice.size, NULL) == RELEASE_MISMATCH);
    //  Stale: a device that trusts a newer publication refuses it
    release_published_t newer;
    release_fixture_publish (&k, 2, &target, 1, FIXTURE_NOW + FIXTURE_DAY, &newer);
    release_trust_t ahead = trust;
    assert (release_fixture_take (&ahead, &newer, FIXTURE_NOW) == 0);
    assert (s_check (&ahead, bundle.data, bundle.size, NULL) == RELEASE_ROLLED_BACK);
    //  Frozen: checked after the timestamp expired
    bundle_check_t *late = bundle_check_new (&trust, FIXTURE_NOW + FIXTURE_DAY);
    assert (bundle_check_magic (late, bundle.data) == 0);
    size_t at = BUNDLE_MAGIC_SIZE, length;
    bundle_record_t type;
    int rc = 0;
    while (rc == 0 && at < bundle.size) {
        assert (bundle_header (bundle.data + at, &type, &length) == 0);
        rc = bundle_check_record (late, bundle.data + at, bundle.data + at + 5, length);
        at += 5 + length;
    }
    assert (rc == RELEASE_EXPIRED);
    bundle_check_destroy (&late);
    //  Metadata only (a fresh timestamp for a site cut off): no
    //  manifest, no chunk, still whole
    twice.size = 0;
    s_append (&twice, bundle.data, chunks_at - BUNDLE_HEADER_SIZE - manifest_size);
    s_end (&twice);
    assert (s_check (&trust, twice.data, twice.size, &carried) == RELEASE_OK && carried == 0);
    //  A delta of a carried chunk (for the coordinator's uplink): taken
    //  once per chunk, after the chunks; one of a chunk not carried, a
    //  second one, or one that does not split is refused
    assert (count >= 2);
    size_t first_size = (size_t) entries [34] << 8 | entries [35] | (size_t) entries [33] << 16;
    uint8_t *frame;
    size_t frame_size;
    assert (chunker_delta (artifact + first_size, 1024, artifact, first_size, &frame,
                           &frame_size) == 0);
    size_t delta_size = 32 + 1 + 32 + frame_size;
    uint8_t *delta = (uint8_t *) zmalloc (delta_size);
    memcpy (delta, entries, 32);
    delta [32] = 1;
    memcpy (delta + 33, entries + MANIFEST_ENTRY_SIZE, 32);
    memcpy (delta + 65, frame, frame_size);
    twice.size = 0;
    s_append (&twice, bundle.data, end_at);
    s_record (&twice, BUNDLE_DELTA, delta, delta_size);
    size_t delta_end = twice.size;
    s_end (&twice);
    assert (s_check (&trust, twice.data, twice.size, &carried) == RELEASE_OK
            && carried == count);
    twice.size = delta_end;
    s_record (&twice, BUNDLE_DELTA, delta, delta_size);
    s_end (&twice);
    assert (s_check (&trust, twice.data, twice.size, NULL) == RELEASE_MISMATCH);
    twice.size = 0;             //  Its chunk not in the bundle
    s_append (&twice, bundle.data, chunks_at);
    s_record (&twice, BUNDLE_DELTA, delta, delta_size);
    s_end (&twice);
    assert (s_check (&trust, twice.data, twice.size, NULL) == RELEASE_MISMATCH);
    twice.size = 0;             //  Before the chunks
    s_append (&twice, bundle.data, end_at - BUNDLE_HEADER_SIZE - 32 - packed_size [count - 1]);
    s_record (&twice, BUNDLE_DELTA, delta, delta_size);
    {
        uint8_t *body = (uint8_t *) zmalloc (32 + packed_size [count - 1]);
        memcpy (body, entries + (count - 1) * MANIFEST_ENTRY_SIZE, 32);
        memcpy (body + 32, packed [count - 1], packed_size [count - 1]);
        s_record (&twice, BUNDLE_CHUNK, body, 32 + packed_size [count - 1]);
        free (body);
    }
    s_end (&twice);
    assert (s_check (&trust, twice.data, twice.size, NULL) == RELEASE_ORDER);
    delta [32] = 0;             //  Names no base
    twice.size = 0;
    s_append (&twice, bundle.data, end_at);
    s_record (&twice, BUNDLE_DELTA, delta, delta_size);
    s_end (&twice);
    assert (s_check (&trust, twice.data, twice.size, NULL) == RELEASE_MALFORMED);
    free (delta);
    free (frame);
    //  Headers: an unknown type and an oversized length
    uint8_t header [BUNDLE_HEADER_SIZE];
    bundle_header_put (header, (bundle_record_t) 9, 10);
    assert (bundle_header (header, &type, &length) == PROTO_ERR_MALFORMED);
    bundle_header_put (header, BUNDLE_CHUNK, BUNDLE_RECORD_MAX + 1);
    assert (bundle_header (header, &type, &length) == PROTO_ERR_OVERSIZE);
    assert (bundle_check_magic (late = bundle_check_new (&trust, FIXTURE_NOW),
                                (const uint8_t *) "weftbnd2") == PROTO_ERR_VERSION);
    bundle_check_destroy (&late);

    free (twice.data);
    free (bundle.data);
    for (size_t i = 0; i < count; i++)
        free (packed [i]);
    release_fixture_free (&published);
    release_fixture_free (&newer);
    free (manifest_data);
    free (artifact);
    free (root);
    chunker_destroy (&chunker);
    //  @end
    printf ("OK\n");
}
