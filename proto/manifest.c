/*  manifest - what an artifact is made of (see manifest.h)
    Manifests come from release bundles and from peers: the codec's
    pre-scan bounds them, and every field is checked before it is
    believed, the sizes against each other.  */

#include "proto/corelib.h"
#include "proto/codec.h"
#include "proto/chunker.h"
#include "proto/manifest.h"

#define S_ITEMS     8

static uint32_t
s_get_be32 (const uint8_t *in)
{
    return (uint32_t) in [0] << 24 | (uint32_t) in [1] << 16 | (uint32_t) in [2] << 8 | in [3];
}

//  Do the entries' sizes add up to size, each within the chunker's bounds?
static bool
s_sizes_valid (const uint8_t *chunks, size_t count, uint64_t size)
{
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t chunk = s_get_be32 (chunks + i * MANIFEST_ENTRY_SIZE + CHUNKER_HASH_SIZE);
        if (chunk == 0 || chunk > CHUNKER_MAX)
            return false;
        total += chunk;
    }
    return total == size;
}

static bool
s_text_valid (const char *text)
{
    for (; *text; text++)
        if ((unsigned char) *text < 0x20 || *text == 0x7f)
            return false;
    return true;
}

int
manifest_encode (const manifest_t *manifest, uint8_t **out_p, size_t *size_p)
{
    assert (manifest && out_p && size_p);
    *out_p = NULL;
    *size_p = 0;
    if (!manifest->name [0] || !manifest->version [0] || !manifest->types [0]
    ||  !manifest->handler [0] || manifest->chunk_count > MANIFEST_CHUNKS_MAX
    ||  (manifest->chunk_count && !manifest->chunks)
    ||  !s_sizes_valid (manifest->chunks, manifest->chunk_count, manifest->size))
        return PROTO_ERR_VALUE;
    codec_writer_t *w = codec_writer_new (256 + manifest->chunk_count * MANIFEST_ENTRY_SIZE);
    codec_put_array (w, S_ITEMS);
    codec_put_uint (w, MANIFEST_FORMAT);
    codec_put_str (w, manifest->name, WEFT_NAME_MAX);
    codec_put_str (w, manifest->version, MANIFEST_VERSION_MAX);
    codec_put_uint (w, manifest->anti_rollback);
    codec_put_str (w, manifest->types, MANIFEST_TYPES_MAX);
    codec_put_str (w, manifest->handler, MANIFEST_HANDLER_MAX);
    codec_put_uint (w, manifest->size);
    codec_put_bin (w, manifest->chunks, manifest->chunk_count * MANIFEST_ENTRY_SIZE);
    return codec_writer_finish (&w, out_p, size_p);
}

int
manifest_decode (manifest_t *manifest, const uint8_t *data, size_t size)
{
    assert (manifest);
    memset (manifest, 0, sizeof *manifest);
    codec_reader_t *r;
    int rc = codec_reader_new (&r, data, size);
    if (rc)
        return rc;
    uint64_t format = 0;
    size_t chunks_size = 0;
    if (codec_items (r) != S_ITEMS)
        rc = PROTO_ERR_TYPE;
    if (!rc)
        rc = codec_get_uint (r, 0, UINT64_MAX, &format);
    if (!rc && format != MANIFEST_FORMAT)
        rc = PROTO_ERR_VERSION;
    if (!rc)
        rc = codec_get_str (r, 1, manifest->name, WEFT_NAME_MAX);
    if (!rc)
        rc = codec_get_str (r, 2, manifest->version, MANIFEST_VERSION_MAX);
    if (!rc)
        rc = codec_get_uint (r, 3, UINT64_MAX, &manifest->anti_rollback);
    if (!rc)
        rc = codec_get_str (r, 4, manifest->types, MANIFEST_TYPES_MAX);
    if (!rc)
        rc = codec_get_str (r, 5, manifest->handler, MANIFEST_HANDLER_MAX);
    if (!rc)
        rc = codec_get_uint (r, 6, MANIFEST_SIZE_MAX, &manifest->size);
    if (!rc)
        rc = codec_get_binref (r, 7, &manifest->chunks, &chunks_size);
    codec_reader_destroy (&r);
    if (!rc && (chunks_size % MANIFEST_ENTRY_SIZE
                || chunks_size / MANIFEST_ENTRY_SIZE > MANIFEST_CHUNKS_MAX))
        rc = PROTO_ERR_VALUE;
    if (!rc) {
        manifest->chunk_count = chunks_size / MANIFEST_ENTRY_SIZE;
        if (!manifest->name [0] || !manifest->version [0] || !manifest->types [0]
        ||  !manifest->handler [0] || !s_text_valid (manifest->name)
        ||  !s_text_valid (manifest->version) || !s_text_valid (manifest->types)
        ||  !s_text_valid (manifest->handler)
        ||  !s_sizes_valid (manifest->chunks, manifest->chunk_count, manifest->size))
            rc = PROTO_ERR_VALUE;
    }
    if (rc)
        memset (manifest, 0, sizeof *manifest);
    return rc;
}

void
manifest_chunk (const manifest_t *manifest, size_t index, const uint8_t **hash_p,
                uint32_t *size_p)
{
    assert (manifest && index < manifest->chunk_count);
    const uint8_t *entry = manifest->chunks + index * MANIFEST_ENTRY_SIZE;
    if (hash_p)
        *hash_p = entry;
    if (size_p)
        *size_p = s_get_be32 (entry + CHUNKER_HASH_SIZE);
}

bool
manifest_fits (const manifest_t *manifest, const char *type)
{
    assert (manifest && type);
    size_t length = strlen (type);
    const char *item = manifest->types;
    while (*item) {
        const char *end = strchr (item, ',');
        size_t item_length = end? (size_t) (end - item): strlen (item);
        if ((item_length == 1 && *item == '*')
        ||  (length && item_length == length && memcmp (item, type, length) == 0))
            return true;
        item += item_length + (end? 1: 0);
    }
    return false;
}

//  --------------------------------------------------------------------------
//  Selftest

static void
s_test_entry (uint8_t *entry, uint8_t fill, uint32_t size)
{
    memset (entry, fill, CHUNKER_HASH_SIZE);
    entry [32] = (uint8_t) (size >> 24);
    entry [33] = (uint8_t) (size >> 16);
    entry [34] = (uint8_t) (size >> 8);
    entry [35] = (uint8_t) size;
}

void
manifest_test (bool verbose)
{
    printf (" * manifest: ");
    //  @selftest
    uint8_t chunks [3 * MANIFEST_ENTRY_SIZE];
    s_test_entry (chunks, 1, 5000);
    s_test_entry (chunks + 36, 2, 70);
    s_test_entry (chunks + 72, 3, CHUNKER_MAX);
    manifest_t manifest = { .name = "plc-runtime", .version = "2.4.1", .anti_rollback = 7,
                            .types = "gateway,server", .handler = "file",
                            .size = 5000 + 70 + CHUNKER_MAX, .chunk_count = 3,
                            .chunks = chunks };
    uint8_t *data;
    size_t size;
    assert (manifest_encode (&manifest, &data, &size) == 0);
    manifest_t back;
    assert (manifest_decode (&back, data, size) == 0);
    assert (streq (back.name, "plc-runtime") && streq (back.version, "2.4.1"));
    assert (back.anti_rollback == 7 && back.size == manifest.size && back.chunk_count == 3);
    const uint8_t *hash;
    uint32_t chunk_size;
    manifest_chunk (&back, 1, &hash, &chunk_size);
    assert (hash [0] == 2 && chunk_size == 70);
    assert (manifest_fits (&back, "gateway") && manifest_fits (&back, "server"));
    assert (!manifest_fits (&back, "gate") && !manifest_fits (&back, "sensor")
         && !manifest_fits (&back, ""));
    snprintf (back.types, sizeof back.types, "*");
    assert (manifest_fits (&back, "sensor"));

    //  Every truncation fails cleanly
    for (size_t cut = 0; cut < size; cut++)
        assert (manifest_decode (&back, data, cut) != 0 && back.chunk_count == 0);
    free (data);

    //  Sizes must add up; a chunk of 0 or above CHUNKER_MAX is refused
    manifest.size++;
    assert (manifest_encode (&manifest, &data, &size) == PROTO_ERR_VALUE);
    manifest.size--;
    s_test_entry (chunks + 36, 2, 0);
    manifest.size -= 70;
    assert (manifest_encode (&manifest, &data, &size) == PROTO_ERR_VALUE);
    s_test_entry (chunks + 36, 2, CHUNKER_MAX + 1);
    manifest.size += CHUNKER_MAX + 1;
    assert (manifest_encode (&manifest, &data, &size) == PROTO_ERR_VALUE);
    s_test_entry (chunks + 36, 2, 70);
    manifest.size = 5000 + 70 + CHUNKER_MAX;

    //  Encoded by hand: a size that does not add up, and a chunk list
    //  of a length that is not whole entries, are refused on decode
    manifest.size = 5000 + 70 + CHUNKER_MAX;
    assert (manifest_encode (&manifest, &data, &size) == 0);
    uint8_t *bad = (uint8_t *) zmalloc (size);
    memcpy (bad, data, size);
    bad [size - 3 * 36 + 35] ^= 1;      //  The first chunk's size
    assert (manifest_decode (&back, bad, size) == PROTO_ERR_VALUE);
    free (bad);
    free (data);
    manifest.chunk_count = 0;
    manifest.size = 0;
    assert (manifest_encode (&manifest, &data, &size) == 0);   //  An empty artifact
    assert (manifest_decode (&back, data, size) == 0 && back.chunk_count == 0);
    free (data);
    if (verbose)
        printf ("\n   at most %d chunks, %" PRIu64 " bytes", (int) MANIFEST_CHUNKS_MAX,
                (uint64_t) MANIFEST_SIZE_MAX);
    //  @end
    printf ("OK\n");
}
