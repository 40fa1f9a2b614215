/*  manifest - what an artifact is made of (see manifest.h)
    Manifests come from release bundles and from peers: the codec's
    pre-scan bounds them, and every field is checked before it is
    believed, the sizes against each other.  */

#include "proto/corelib.h"
#include "proto/codec.h"
#include "proto/chunker.h"
#include "proto/keys.h"
#include "proto/manifest.h"

#define S_ITEMS     8           //  Without reference values
#define S_ITEMS_REFS 10         //  With them

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

//  --------------------------------------------------------------------------
//  Reference values: two nested arrays of bin entries, walked by one
//  function that checks every entry and fills refs when it is given

//  One ima entry (sha256 || path) into *ima, checked
static int
s_ima_entry (codec_reader_t *r, size_t index, manifest_ima_t *ima)
{
    const uint8_t *entry;
    size_t entry_size;
    int rc = codec_get_binref (r, index, &entry, &entry_size);
    if (rc == 0 && (entry_size < 33 || entry_size > 32 + MANIFEST_PATH_MAX
                    || memchr (entry + 32, 0, entry_size - 32)))
        rc = PROTO_ERR_VALUE;
    if (rc == 0) {
        memcpy (ima->digest, entry, 32);
        memcpy (ima->path, entry + 32, entry_size - 32);
        ima->path [entry_size - 32] = 0;
        if (!s_text_valid (ima->path))
            rc = PROTO_ERR_VALUE;
    }
    return rc;
}

//  One boot entry (pcr || sha256) into *boot, checked
static int
s_boot_entry (codec_reader_t *r, size_t index, manifest_boot_t *boot)
{
    uint8_t entry [33];
    int rc = codec_get_bin (r, index, entry, 33);
    if (rc == 0 && entry [0] > MANIFEST_PCR_MAX)
        rc = PROTO_ERR_VALUE;
    if (rc == 0) {
        boot->pcr = entry [0];
        memcpy (boot->digest, entry + 1, 32);
    }
    return rc;
}

//  The ima (boot false) or boot array: its entries counted into
//  *count_p and, with refs, copied there
static int
s_walk (const uint8_t *data, size_t size, bool boot, manifest_refs_t *refs, size_t *count_p)
{
    *count_p = 0;
    codec_reader_t *r;
    int rc = codec_reader_new (&r, data, size);
    if (rc)
        return rc;
    int items = codec_items (r);
    if (items < 1)
        rc = PROTO_ERR_TYPE;
    else
    if (items > (boot? MANIFEST_BOOT_MAX: MANIFEST_IMA_MAX))
        rc = PROTO_ERR_OVERSIZE;
    for (int i = 0; rc == 0 && i < items; i++) {
        manifest_ima_t ima;
        manifest_boot_t pcr;
        rc = boot? s_boot_entry (r, (size_t) i, &pcr): s_ima_entry (r, (size_t) i, &ima);
        if (rc == 0 && refs && boot)
            refs->boot [i] = pcr;
        if (rc == 0 && refs && !boot)
            refs->ima [i] = ima;
    }
    codec_reader_destroy (&r);
    if (rc == 0)
        *count_p = (size_t) items;
    return rc;
}

//  The packed ima and boot arrays of refs (NULL each when empty)
static int
s_refs_pack (const manifest_refs_t *refs, uint8_t **ima_p, size_t *ima_size_p,
             uint8_t **boot_p, size_t *boot_size_p)
{
    *ima_p = *boot_p = NULL;
    *ima_size_p = *boot_size_p = 0;
    if (!refs)
        return 0;
    if (refs->ima_count > MANIFEST_IMA_MAX || refs->boot_count > MANIFEST_BOOT_MAX)
        return PROTO_ERR_OVERSIZE;
    int rc = 0;
    if (refs->ima_count) {
        codec_writer_t *w = codec_writer_new (refs->ima_count * 64);
        codec_put_array (w, refs->ima_count);
        for (size_t i = 0; i < refs->ima_count; i++) {
            const manifest_ima_t *entry = &refs->ima [i];
            size_t length = strnlen (entry->path, MANIFEST_PATH_MAX + 1);
            if (length == 0 || length > MANIFEST_PATH_MAX || !s_text_valid (entry->path))
                rc = PROTO_ERR_VALUE;
            uint8_t packed [32 + MANIFEST_PATH_MAX];
            memcpy (packed, entry->digest, 32);
            memcpy (packed + 32, entry->path, rc? 0: length);
            codec_put_bin (w, packed, 32 + (rc? 0: length));
        }
        if (rc)
            codec_writer_destroy (&w);
        else
            rc = codec_writer_finish (&w, ima_p, ima_size_p);
    }
    if (rc == 0 && refs->boot_count) {
        codec_writer_t *w = codec_writer_new (refs->boot_count * 40);
        codec_put_array (w, refs->boot_count);
        for (size_t i = 0; i < refs->boot_count; i++) {
            if (refs->boot [i].pcr > MANIFEST_PCR_MAX)
                rc = PROTO_ERR_VALUE;
            uint8_t packed [33];
            packed [0] = (uint8_t) refs->boot [i].pcr;
            memcpy (packed + 1, refs->boot [i].digest, 32);
            codec_put_bin (w, packed, 33);
        }
        if (rc)
            codec_writer_destroy (&w);
        else
            rc = codec_writer_finish (&w, boot_p, boot_size_p);
    }
    if (rc) {
        free (*ima_p);
        *ima_p = NULL;
    }
    return rc;
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
    uint8_t *ima, *boot;
    size_t ima_size, boot_size;
    int rc = s_refs_pack (manifest->refs, &ima, &ima_size, &boot, &boot_size);
    if (rc)
        return rc;
    codec_writer_t *w = codec_writer_new (256 + manifest->chunk_count * MANIFEST_ENTRY_SIZE
                                          + ima_size + boot_size);
    codec_put_array (w, ima || boot? S_ITEMS_REFS: S_ITEMS);
    codec_put_uint (w, MANIFEST_FORMAT);
    codec_put_str (w, manifest->name, WEFT_NAME_MAX);
    codec_put_str (w, manifest->version, MANIFEST_VERSION_MAX);
    codec_put_uint (w, manifest->anti_rollback);
    codec_put_str (w, manifest->types, MANIFEST_TYPES_MAX);
    codec_put_str (w, manifest->handler, MANIFEST_HANDLER_MAX);
    codec_put_uint (w, manifest->size);
    codec_put_bin (w, manifest->chunks, manifest->chunk_count * MANIFEST_ENTRY_SIZE);
    if (ima || boot) {
        if (ima)
            codec_put_bin (w, ima, ima_size);
        else
            codec_put_nil (w);
        if (boot)
            codec_put_bin (w, boot, boot_size);
        else
            codec_put_nil (w);
    }
    free (ima);
    free (boot);
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
    int items = codec_items (r);
    if (items != S_ITEMS && items < S_ITEMS_REFS)
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
    if (!rc && items >= S_ITEMS_REFS && !codec_is_nil (r, 8))
        rc = codec_get_binref (r, 8, &manifest->ima_packed, &manifest->ima_packed_size);
    if (!rc && items >= S_ITEMS_REFS && !codec_is_nil (r, 9))
        rc = codec_get_binref (r, 9, &manifest->boot_packed, &manifest->boot_packed_size);
    codec_reader_destroy (&r);
    if (!rc && manifest->ima_packed)
        rc = s_walk (manifest->ima_packed, manifest->ima_packed_size, false, NULL,
                         &manifest->ima_count);
    if (!rc && manifest->boot_packed)
        rc = s_walk (manifest->boot_packed, manifest->boot_packed_size, true, NULL,
                          &manifest->boot_count);
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

int
manifest_refs (const manifest_t *manifest, manifest_refs_t *refs)
{
    assert (manifest && refs);
    refs->ima_count = refs->boot_count = 0;
    int rc = 0;
    if (manifest->ima_packed)
        rc = s_walk (manifest->ima_packed, manifest->ima_packed_size, false, refs,
                         &refs->ima_count);
    if (rc == 0 && manifest->boot_packed)
        rc = s_walk (manifest->boot_packed, manifest->boot_packed_size, true, refs,
                          &refs->boot_count);
    if (rc)
        refs->ima_count = refs->boot_count = 0;
    return rc;
}

//  A sha256 digest in exactly 64 hex digits of text (length bytes)
static bool
s_digest (const char *text, size_t length, uint8_t digest [32])
{
    char hex [65];
    if (length != 64)
        return false;
    memcpy (hex, text, 64);
    hex [64] = 0;
    return keys_unhex (hex, digest, 32) == 0;
}

int
manifest_ima_parse (const char *text, manifest_ima_t *entry, char *error, size_t error_size)
{
    assert (text && entry && error);
    const char *equals = strrchr (text, '=');
    size_t path_length = equals? (size_t) (equals - text): 0;
    if (!equals || path_length == 0) {
        snprintf (error, error_size, "IMA reference '%.40s' is not PATH=SHA256HEX", text);
        return -1;
    }
    if (path_length > MANIFEST_PATH_MAX) {
        snprintf (error, error_size, "IMA reference path '%.40s...' is longer than %d bytes",
                  text, MANIFEST_PATH_MAX);
        return -1;
    }
    if (!s_digest (equals + 1, strlen (equals + 1), entry->digest)) {
        snprintf (error, error_size, "IMA reference '%.40s': the digest is not 64 hex "
                  "digits (a sha256)", text);
        return -1;
    }
    memcpy (entry->path, text, path_length);
    entry->path [path_length] = 0;
    if (!s_text_valid (entry->path)) {
        snprintf (error, error_size, "IMA reference path holds a control character");
        return -1;
    }
    return 0;
}

int
manifest_boot_parse (const char *text, manifest_boot_t *entry, char *error,
                     size_t error_size)
{
    assert (text && entry && error);
    char *end;
    errno = 0;
    unsigned long pcr = strtoul (text, &end, 10);
    if (end == text || *end != ':' || errno || !isdigit ((unsigned char) *text)) {
        snprintf (error, error_size, "boot reference '%.40s' is not PCR:SHA256HEX", text);
        return -1;
    }
    if (pcr > MANIFEST_PCR_MAX) {
        snprintf (error, error_size, "boot reference '%.40s': PCR %lu is above %d", text,
                  pcr, MANIFEST_PCR_MAX);
        return -1;
    }
    if (!s_digest (end + 1, strlen (end + 1), entry->digest)) {
        snprintf (error, error_size, "boot reference '%.40s': the digest is not 64 hex "
                  "digits (a sha256)", text);
        return -1;
    }
    entry->pcr = (uint32_t) pcr;
    return 0;
}

int
manifest_ima_list (const char *text, size_t size, manifest_refs_t *refs, char *error,
                   size_t error_size)
{
    assert (text && refs && error);
    const char *end = text + size;
    size_t number = 0;
    for (const char *line = text; line < end; ) {
        const char *eol = memchr (line, '\n', (size_t) (end - line));
        size_t length = eol? (size_t) (eol - line): (size_t) (end - line);
        const char *next = eol? eol + 1: end;
        number++;
        while (length && (line [length - 1] == '\r' || line [length - 1] == ' '))
            length--;
        if (length == 0 || line [0] == '#') {
            line = next;
            continue;
        }
        //  ima-ng: "PCR TEMPLATE ima-ng sha256:HEX PATH"; sha256sum: "HEX  PATH"
        const char *digest = line, *path = NULL;
        const char *ng = memmem (line, length, " ima-ng sha256:", 15);
        if (ng) {
            digest = ng + 15;
            path = digest + 64 < line + length && digest [64] == ' '? digest + 65: NULL;
        }
        else
        if (length > 66 && line [64] == ' ')
            path = line + (line [65] == ' ' || line [65] == '*'? 66: 65);
        manifest_ima_t entry;
        size_t path_length = path? (size_t) (line + length - path): 0;
        if (!path || path_length == 0 || !s_digest (digest, 64, entry.digest)) {
            snprintf (error, error_size, "line %zu is neither an ima-ng entry nor "
                      "sha256sum output", number);
            return -1;
        }
        if (path_length > MANIFEST_PATH_MAX) {
            snprintf (error, error_size, "line %zu: the path is longer than %d bytes",
                      number, MANIFEST_PATH_MAX);
            return -1;
        }
        memcpy (entry.path, path, path_length);
        entry.path [path_length] = 0;
        if (!s_text_valid (entry.path)) {
            snprintf (error, error_size, "line %zu: the path holds a control character",
                      number);
            return -1;
        }
        //  boot_aggregate is the boot's, not a file's
        if (!streq (entry.path, "boot_aggregate")) {
            if (refs->ima_count == MANIFEST_IMA_MAX) {
                snprintf (error, error_size, "line %zu: more than %d IMA references",
                          number, MANIFEST_IMA_MAX);
                return -1;
            }
            refs->ima [refs->ima_count++] = entry;
        }
        line = next;
    }
    return 0;
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

    //  Reference values: round trip; without them the 8-item form
    manifest_refs_t *refs = (manifest_refs_t *) zmalloc (sizeof (manifest_refs_t));
    manifest_refs_t *got = (manifest_refs_t *) zmalloc (sizeof (manifest_refs_t));
    char error [256];
    char hex [65];
    memset (hex, 'a', 64);
    hex [64] = 0;
    char text [400];
    snprintf (text, sizeof text, "/usr/bin/plc=%s", hex);
    assert (manifest_ima_parse (text, &refs->ima [0], error, sizeof error) == 0);
    assert (streq (refs->ima [0].path, "/usr/bin/plc") && refs->ima [0].digest [0] == 0xaa);
    snprintf (text, sizeof text, "8:%s", hex);
    assert (manifest_boot_parse (text, &refs->boot [0], error, sizeof error) == 0);
    assert (refs->boot [0].pcr == 8 && refs->boot [0].digest [31] == 0xaa);
    refs->ima_count = refs->boot_count = 1;
    manifest.chunk_count = 1;
    manifest.size = 5000;
    assert (manifest_encode (&manifest, &data, &size) == 0);
    assert (manifest_decode (&back, data, size) == 0 && back.ima_count == 0
            && back.boot_count == 0 && !back.ima_packed);
    assert (manifest_refs (&back, got) == 0 && got->ima_count == 0 && got->boot_count == 0);
    size_t plain_size = size;
    uint8_t *plain = data;
    manifest.refs = refs;
    assert (manifest_encode (&manifest, &data, &size) == 0);
    assert (size > plain_size && memcmp (data + 1, plain + 1, plain_size - 1) == 0);
    assert (codec_golden ("manifest-refs", data, size, NULL, NULL) == 0);
    free (plain);
    assert (manifest_decode (&back, data, size) == 0);
    assert (back.ima_count == 1 && back.boot_count == 1 && back.chunk_count == 1);
    assert (manifest_refs (&back, got) == 0 && got->ima_count == 1 && got->boot_count == 1);
    assert (streq (got->ima [0].path, "/usr/bin/plc")
            && memcmp (got->ima [0].digest, refs->ima [0].digest, 32) == 0);
    assert (got->boot [0].pcr == 8
            && memcmp (got->boot [0].digest, refs->boot [0].digest, 32) == 0);
    for (size_t cut = 0; cut < size; cut++)
        assert (manifest_decode (&back, data, cut) != 0 && back.ima_count == 0);
    free (data);
    //  Only boot references: ima is nil
    refs->ima_count = 0;
    assert (manifest_encode (&manifest, &data, &size) == 0);
    assert (manifest_decode (&back, data, size) == 0 && back.ima_count == 0
            && back.boot_count == 1);
    free (data);

    //  Limits: the most of each round-trips, one more is refused
    for (size_t i = 0; i < MANIFEST_IMA_MAX; i++) {
        memset (refs->ima [i].digest, (int) i, 32);
        memset (refs->ima [i].path, 'p', MANIFEST_PATH_MAX);
        refs->ima [i].path [MANIFEST_PATH_MAX] = 0;
    }
    for (size_t i = 0; i < MANIFEST_BOOT_MAX; i++)
        refs->boot [i].pcr = (uint32_t) i;
    refs->ima_count = MANIFEST_IMA_MAX;
    refs->boot_count = MANIFEST_BOOT_MAX;
    assert (manifest_encode (&manifest, &data, &size) == 0);
    assert (manifest_decode (&back, data, size) == 0 && back.ima_count == MANIFEST_IMA_MAX
            && back.boot_count == MANIFEST_BOOT_MAX);
    assert (manifest_refs (&back, got) == 0 && got->ima [255].digest [0] == 255
            && got->boot [15].pcr == 15);
    free (data);
    refs->ima_count = MANIFEST_IMA_MAX + 1;
    assert (manifest_encode (&manifest, &data, &size) == PROTO_ERR_OVERSIZE);
    refs->ima_count = 1;
    refs->boot_count = MANIFEST_BOOT_MAX + 1;
    assert (manifest_encode (&manifest, &data, &size) == PROTO_ERR_OVERSIZE);
    refs->boot_count = 1;
    refs->boot [0].pcr = MANIFEST_PCR_MAX + 1;
    assert (manifest_encode (&manifest, &data, &size) == PROTO_ERR_VALUE);
    refs->boot [0].pcr = 0;
    refs->ima [0].path [0] = 0;
    assert (manifest_encode (&manifest, &data, &size) == PROTO_ERR_VALUE);
    snprintf (refs->ima [0].path, MANIFEST_PATH_MAX + 1, "/bin/a\tb");
    assert (manifest_encode (&manifest, &data, &size) == PROTO_ERR_VALUE);
    snprintf (refs->ima [0].path, MANIFEST_PATH_MAX + 1, "/bin/ok");

    //  Encoded by hand: a PCR above 23 and a short digest are refused on decode
    codec_writer_t *w = codec_writer_new (0);
    codec_put_array (w, 1);
    uint8_t bad_boot [33] = { MANIFEST_PCR_MAX + 1 };
    codec_put_bin (w, bad_boot, 33);
    uint8_t *boot;
    size_t boot_size;
    assert (codec_writer_finish (&w, &boot, &boot_size) == 0);
    size_t count;
    assert (s_walk (boot, boot_size, true, NULL, &count) == PROTO_ERR_VALUE && count == 0);
    free (boot);
    w = codec_writer_new (0);
    codec_put_array (w, 1);
    codec_put_bin (w, hex, 32);         //  A digest and no path
    assert (codec_writer_finish (&w, &boot, &boot_size) == 0);
    assert (s_walk (boot, boot_size, false, NULL, &count) == PROTO_ERR_VALUE);
    free (boot);
    w = codec_writer_new (0);
    codec_put_array (w, 1);
    uint8_t nul_path [40] = { 0 };
    memcpy (nul_path + 32, "/bin/x\0y", 8);
    codec_put_bin (w, nul_path, 40);    //  A NUL inside the path
    assert (codec_writer_finish (&w, &boot, &boot_size) == 0);
    assert (s_walk (boot, boot_size, false, NULL, &count) == PROTO_ERR_VALUE);
    free (boot);

    //  Text forms: malformed entries are refused, saying why
    assert (manifest_ima_parse ("/bin/x", &refs->ima [0], error, sizeof error) == -1
            && strstr (error, "not PATH=SHA256HEX"));
    snprintf (text, sizeof text, "=%s", hex);
    assert (manifest_ima_parse (text, &refs->ima [0], error, sizeof error) == -1);
    assert (manifest_ima_parse ("/bin/x=abc", &refs->ima [0], error, sizeof error) == -1
            && strstr (error, "64 hex digits"));
    snprintf (text, sizeof text, "/a=b=%s", hex);
    assert (manifest_ima_parse (text, &refs->ima [0], error, sizeof error) == 0
            && streq (refs->ima [0].path, "/a=b"));
    snprintf (text, sizeof text, "24:%s", hex);
    assert (manifest_boot_parse (text, &refs->boot [0], error, sizeof error) == -1
            && strstr (error, "above 23"));
    snprintf (text, sizeof text, "x:%s", hex);
    assert (manifest_boot_parse (text, &refs->boot [0], error, sizeof error) == -1
            && strstr (error, "not PCR:SHA256HEX"));
    assert (manifest_boot_parse ("4:zz", &refs->boot [0], error, sizeof error) == -1);

    //  Lists: ima-ng and sha256sum lines, boot_aggregate left out
    char list [1024];
    snprintf (list, sizeof list, "# comment\n10 %s ima-ng sha256:%s boot_aggregate\n"
              "10 %s ima-ng sha256:%s /usr/bin/plc\n\n%s  /etc/plc.conf\n%s */bin/x\n",
              hex, hex, hex, hex, hex, hex);
    refs->ima_count = 0;
    assert (manifest_ima_list (list, strlen (list), refs, error, sizeof error) == 0);
    assert (refs->ima_count == 3 && streq (refs->ima [0].path, "/usr/bin/plc")
            && streq (refs->ima [1].path, "/etc/plc.conf") && streq (refs->ima [2].path, "/bin/x"));
    snprintf (list, sizeof list, "%s  /ok\nnot a digest line\n", hex);
    assert (manifest_ima_list (list, strlen (list), refs, error, sizeof error) == -1
            && strstr (error, "line 2"));
    refs->ima_count = MANIFEST_IMA_MAX;
    snprintf (list, sizeof list, "%s  /one-too-many\n", hex);
    assert (manifest_ima_list (list, strlen (list), refs, error, sizeof error) == -1
            && strstr (error, "more than 256"));
    free (refs);
    free (got);
    if (verbose)
        printf ("\n   at most %d chunks, %" PRIu64 " bytes", (int) MANIFEST_CHUNKS_MAX,
                (uint64_t) MANIFEST_SIZE_MAX);
    //  @end
    printf ("OK\n");
}
