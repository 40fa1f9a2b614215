/*  chunker - content-defined chunking of artifacts (see chunker.h)  */

#include "proto/corelib.h"
#include "proto/chunker.h"
#include <sodium.h>
#include <zlib.h>
#include <zstd.h>

//  The gear hash shifts left one bit a byte, so its top bits depend on
//  the last 64 bytes: masks take the top bits. 16 bits before the
//  average (a cut there is 4x less likely than at the average), 12
//  after it (4x more likely): FastCDC's normalization level 2 for a
//  2^14 average.
#define S_MASK_STRICT   (~0ULL << (64 - 16))
#define S_MASK_LOOSE    (~0ULL << (64 - 12))

struct _chunker_t {
    uint64_t gear [256];
};

static uint64_t
s_splitmix64 (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

chunker_t *
chunker_new (void)
{
    chunker_t *self = (chunker_t *) zmalloc (sizeof (chunker_t));
    uint64_t state = CHUNKER_GEAR_SEED;
    for (int i = 0; i < 256; i++)
        self->gear [i] = s_splitmix64 (&state);
    return self;
}

void
chunker_destroy (chunker_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

size_t
chunker_cut (const chunker_t *self, const uint8_t *data, size_t size, bool final)
{
    assert (self && (data || size == 0));
    if (!final && size < CHUNKER_MAX)
        return 0;
    if (size <= CHUNKER_MIN)
        return size;
    size_t end = size < CHUNKER_MAX? size: CHUNKER_MAX;
    size_t normal = end < CHUNKER_AVG? end: CHUNKER_AVG;
    //  The first bytes of a chunk never cut, so the hash starts a full
    //  window before the smallest cut and is the same wherever the
    //  chunk began
    size_t i = CHUNKER_MIN - 64;
    uint64_t hash = 0;
    for (; i < CHUNKER_MIN; i++)
        hash = (hash << 1) + self->gear [data [i]];
    for (; i < normal; i++) {
        hash = (hash << 1) + self->gear [data [i]];
        if (!(hash & S_MASK_STRICT))
            return i + 1;
    }
    for (; i < end; i++) {
        hash = (hash << 1) + self->gear [data [i]];
        if (!(hash & S_MASK_LOOSE))
            return i + 1;
    }
    return end;
}

void
chunker_hash (const uint8_t *data, size_t size, uint8_t hash [CHUNKER_HASH_SIZE])
{
    crypto_generichash (hash, CHUNKER_HASH_SIZE, data, size, NULL, 0);
}

void
chunker_features (const chunker_t *self, const uint8_t *data, size_t size,
                  uint64_t features [CHUNKER_FEATURES])
{
    assert (self && (data || size == 0) && features);
    //  Odd multipliers and offsets of the format (splitmix64 again)
    uint64_t multiply [CHUNKER_FEATURES], add [CHUNKER_FEATURES];
    uint64_t state = CHUNKER_GEAR_SEED ^ 0xfea7u;
    for (int i = 0; i < CHUNKER_FEATURES; i++) {
        multiply [i] = s_splitmix64 (&state) | 1;
        add [i] = s_splitmix64 (&state);
        features [i] = 0;
    }
    uint64_t hash = 0;
    for (size_t at = 0; at < size; at++) {
        hash = (hash << 1) + self->gear [data [at]];
        if (at < 31)
            continue;               //  A full window first
        for (int i = 0; i < CHUNKER_FEATURES; i++) {
            uint64_t value = hash * multiply [i] + add [i];
            if (value > features [i])
                features [i] = value;
        }
    }
}

int
chunker_pack (const uint8_t *data, size_t size, uint8_t **out_p, size_t *size_p)
{
    assert ((data || size == 0) && out_p && size_p);
    uLongf packed_size = compressBound ((uLong) size);
    uint8_t *packed = (uint8_t *) zmalloc (packed_size);
    if (compress2 (packed, &packed_size, data, (uLong) size, Z_BEST_COMPRESSION) != Z_OK) {
        free (packed);
        *out_p = NULL;
        *size_p = 0;
        return PROTO_ERR_VALUE;
    }
    *out_p = packed;
    *size_p = packed_size;
    return 0;
}

int
chunker_unpack (const uint8_t *packed, size_t packed_size, const uint8_t hash [32],
                uint8_t *out, size_t size)
{
    assert ((packed || packed_size == 0) && hash && out);
    if (size == 0 || size > CHUNKER_MAX || packed_size > UINT32_MAX)
        return PROTO_ERR_VALUE;
    z_stream zs;
    memset (&zs, 0, sizeof zs);
    if (inflateInit (&zs) != Z_OK)
        return PROTO_ERR_MALFORMED;
    uint8_t extra;
    zs.next_in = (Bytef *) packed;
    zs.avail_in = (uInt) packed_size;
    zs.next_out = out;
    zs.avail_out = (uInt) size;
    int rc = inflate (&zs, Z_FINISH);
    if (rc == Z_BUF_ERROR && zs.avail_out == 0) {
        //  Full: one more byte says whether it is longer than size
        zs.next_out = &extra;
        zs.avail_out = 1;
        rc = inflate (&zs, Z_FINISH);
        rc = rc == Z_STREAM_END && zs.avail_out == 1? Z_STREAM_END: Z_DATA_ERROR;
    }
    bool whole = rc == Z_STREAM_END && zs.total_out == size && zs.avail_in == 0;
    inflateEnd (&zs);
    if (!whole)
        return PROTO_ERR_MALFORMED;
    uint8_t actual [CHUNKER_HASH_SIZE];
    chunker_hash (out, size, actual);
    return sodium_memcmp (actual, hash, CHUNKER_HASH_SIZE) == 0? 0: PROTO_ERR_SIGNATURE;
}

int
chunker_delta (const uint8_t *base, size_t base_size, const uint8_t *data, size_t size,
               uint8_t **out_p, size_t *size_p)
{
    assert (base && data && out_p && size_p);
    *out_p = NULL;
    *size_p = 0;
    if (base_size > CHUNKER_DELTA_BASES * CHUNKER_MAX || size > CHUNKER_MAX)
        return PROTO_ERR_VALUE;
    size_t bound = ZSTD_compressBound (size);
    uint8_t *out = (uint8_t *) zmalloc (bound);
    ZSTD_CCtx *cctx = ZSTD_createCCtx ();
    size_t rc = cctx? ZSTD_CCtx_setParameter (cctx, ZSTD_c_compressionLevel, 19): 1;
    if (cctx && !ZSTD_isError (rc))
        rc = ZSTD_CCtx_setParameter (cctx, ZSTD_c_contentSizeFlag, 1);
    if (cctx && !ZSTD_isError (rc))
        rc = ZSTD_CCtx_refPrefix (cctx, base, base_size);
    if (cctx && !ZSTD_isError (rc))
        rc = ZSTD_compress2 (cctx, out, bound, data, size);
    ZSTD_freeCCtx (cctx);
    if (!cctx || ZSTD_isError (rc)) {
        free (out);
        return PROTO_ERR_VALUE;
    }
    *out_p = out;
    *size_p = rc;
    return 0;
}

int
chunker_undelta (const uint8_t *delta, size_t delta_size, const uint8_t *base,
                 size_t base_size, const uint8_t hash [32], uint8_t *out, size_t size)
{
    assert ((delta || delta_size == 0) && base && hash && out);
    if (size == 0 || size > CHUNKER_MAX || base_size > CHUNKER_DELTA_BASES * CHUNKER_MAX)
        return PROTO_ERR_VALUE;
    //  The frame must say it is exactly size bytes, and be one frame
    if (ZSTD_getFrameContentSize (delta, delta_size) != size
    ||  ZSTD_findFrameCompressedSize (delta, delta_size) != delta_size)
        return PROTO_ERR_MALFORMED;
    ZSTD_DCtx *dctx = ZSTD_createDCtx ();
    if (!dctx)
        return PROTO_ERR_MALFORMED;
    //  The base and a chunk fit the window: nothing needs more
    size_t rc = ZSTD_DCtx_setParameter (dctx, ZSTD_d_windowLogMax, CHUNKER_DELTA_WINDOW_LOG);
    if (!ZSTD_isError (rc))
        rc = ZSTD_DCtx_refPrefix (dctx, base, base_size);
    if (!ZSTD_isError (rc))
        rc = ZSTD_decompressDCtx (dctx, out, size, delta, delta_size);
    ZSTD_freeDCtx (dctx);
    if (ZSTD_isError (rc) || rc != size)
        return PROTO_ERR_MALFORMED;
    uint8_t actual [CHUNKER_HASH_SIZE];
    chunker_hash (out, size, actual);
    return sodium_memcmp (actual, hash, CHUNKER_HASH_SIZE) == 0? 0: PROTO_ERR_SIGNATURE;
}

int
chunker_delta_split (const uint8_t *delta, size_t size, size_t *base_count_p,
                     const uint8_t **bases_p, const uint8_t **frame_p, size_t *frame_size_p)
{
    assert (base_count_p && bases_p && frame_p && frame_size_p);
    size_t count = size > 0? delta [0]: 0;
    if (count < 1 || count > CHUNKER_DELTA_BASES || size <= 1 + count * CHUNKER_HASH_SIZE)
        return PROTO_ERR_MALFORMED;
    *base_count_p = count;
    *bases_p = delta + 1;
    *frame_p = delta + 1 + count * CHUNKER_HASH_SIZE;
    *frame_size_p = size - 1 - count * CHUNKER_HASH_SIZE;
    return 0;
}

//  --------------------------------------------------------------------------
//  Selftest

//  Cut all of data into chunk hashes; returns the count
static size_t
s_test_cut_all (chunker_t *chunker, const uint8_t *data, size_t size,
                uint8_t (*hashes) [32], size_t max, size_t *longest, size_t *shortest)
{
    size_t count = 0, offset = 0;
    while (offset < size) {
        //  As a stream: a window of CHUNKER_MAX unless the stream ends
        size_t window = size - offset;
        bool final = window <= CHUNKER_MAX;
        size_t cut = chunker_cut (chunker, data + offset, final? window: CHUNKER_MAX, final);
        assert (cut > 0 && cut <= CHUNKER_MAX);
        assert (count < max);
        chunker_hash (data + offset, cut, hashes [count++]);
        if (offset + cut < size) {
            if (cut > *longest)
                *longest = cut;
            if (cut < *shortest)
                *shortest = cut;
        }
        offset += cut;
    }
    return count;
}

//  How many of b's chunks a has too
static size_t
s_test_shared (uint8_t (*a) [32], size_t na, uint8_t (*b) [32], size_t nb)
{
    size_t shared = 0;
    for (size_t j = 0; j < nb; j++)
        for (size_t i = 0; i < na; i++)
            if (memcmp (a [i], b [j], 32) == 0) {
                shared++;
                break;
            }
    return shared;
}

void
chunker_test (bool verbose)
{
    printf (" * chunker: ");
    //  @selftest
    chunker_t *chunker = chunker_new ();
    //  The format's gear table: these values fix where every
    //  implementation cuts
    assert (chunker->gear [0] == 0xe04b04a949375e94ULL);
    assert (chunker->gear [255] == 0x1cba3026a6c3f54aULL);

    //  Pseudo-random content, 2 MiB: a compressed or binary artifact
    size_t size = 2 * 1024 * 1024;
    uint8_t *data = (uint8_t *) zmalloc (size + 4096);
    uint64_t rng = 42;
    for (size_t i = 0; i < size; i += 8) {
        uint64_t v = s_splitmix64 (&rng);
        memcpy (data + i, &v, 8);
    }
    size_t max = size / CHUNKER_MIN + 2;
    uint8_t (*before) [32] = zmalloc (max * 32);
    uint8_t (*after) [32] = zmalloc ((max + 2) * 32);
    size_t longest = 0, shortest = SIZE_MAX;
    size_t n = s_test_cut_all (chunker, data, size, before, max, &longest, &shortest);
    //  Sizes within bounds, average near CHUNKER_AVG
    assert (shortest >= CHUNKER_MIN && longest <= CHUNKER_MAX);
    size_t average = size / n;
    //  Where the format cuts this content: the same in every
    //  implementation (docs/updates.md)
    size_t cuts [] = { 21901, 18634, 23817, 26287, 19843, 12607 };
    size_t offset = 0;
    for (size_t k = 0; k < sizeof cuts / sizeof cuts [0]; k++) {
        assert (chunker_cut (chunker, data + offset, CHUNKER_MAX, false) == cuts [k]);
        offset += cuts [k];
    }
    if (verbose)
        printf ("\n   %zu chunks, average %zu, %zu..%zu", n, average, shortest, longest);
    assert (average > CHUNKER_AVG * 3 / 4 && average < CHUNKER_AVG * 3 / 2);

    //  The same bytes cut the same way
    size_t l2 = 0, s2 = SIZE_MAX;
    assert (s_test_cut_all (chunker, data, size, after, max, &l2, &s2) == n);
    assert (memcmp (before, after, n * 32) == 0);

    //  Insert 100 bytes near the start and change 10 bytes in the
    //  middle: nearly every chunk is shared with the first version
    memmove (data + 1000 + 100, data + 1000, size - 1000);
    memset (data + 1000, 0xab, 100);
    size += 100;
    memset (data + size / 2, 0x5a, 10);
    size_t m = s_test_cut_all (chunker, data, size, after, max + 2, &l2, &s2);
    size_t shared = s_test_shared (before, n, after, m);
    if (verbose)
        printf (", after an insert and an edit %zu of %zu shared", shared, m);
    assert (shared + 6 >= m);

    //  Short streams and the window rule
    assert (chunker_cut (chunker, data, 0, true) == 0);
    assert (chunker_cut (chunker, data, 10, true) == 10);
    assert (chunker_cut (chunker, data, CHUNKER_MIN, true) == CHUNKER_MIN);
    assert (chunker_cut (chunker, data, CHUNKER_MAX - 1, false) == 0);
    //  Runs of one byte value: cut within the bounds all the same
    memset (data, 0, CHUNKER_MAX * 2);
    size_t cut = chunker_cut (chunker, data, CHUNKER_MAX * 2, false);
    assert (cut >= CHUNKER_MIN && cut <= CHUNKER_MAX);

    //  Addresses: BLAKE2b-256
    uint8_t hash [32], expected [32];
    chunker_hash ((const uint8_t *) "abc", 3, hash);
    crypto_generichash (expected, 32, (const uint8_t *) "abc", 3, NULL, 0);
    assert (memcmp (hash, expected, 32) == 0);

    //  Pack and unpack: exact size and address, or refused
    uint8_t *packed, *unpacked = (uint8_t *) zmalloc (CHUNKER_MAX + 1);
    size_t packed_size;
    memset (data, 'w', 5000);
    chunker_hash (data, 5000, hash);
    assert (chunker_pack (data, 5000, &packed, &packed_size) == 0 && packed_size < 100);
    assert (chunker_unpack (packed, packed_size, hash, unpacked, 5000) == 0);
    assert (memcmp (unpacked, data, 5000) == 0);
    assert (chunker_unpack (packed, packed_size, hash, unpacked, 4999) == PROTO_ERR_MALFORMED);
    assert (chunker_unpack (packed, packed_size, hash, unpacked, 5001) == PROTO_ERR_MALFORMED);
    assert (chunker_unpack (packed, packed_size - 1, hash, unpacked, 5000)
            == PROTO_ERR_MALFORMED);
    hash [0] ^= 1;
    assert (chunker_unpack (packed, packed_size, hash, unpacked, 5000) == PROTO_ERR_SIGNATURE);
    hash [0] ^= 1;
    packed [packed_size / 2] ^= 0x55;
    assert (chunker_unpack (packed, packed_size, hash, unpacked, 5000) != 0);
    free (packed);
    //  A bomb: 64 MiB of zeros packed is refused after size + 1 bytes
    size_t bomb = 64 * 1024 * 1024;
    uint8_t *zeros = (uint8_t *) zmalloc (bomb);
    assert (chunker_pack (zeros, bomb, &packed, &packed_size) == 0);
    free (zeros);
    assert (chunker_unpack (packed, packed_size, hash, unpacked, CHUNKER_MAX)
            == PROTO_ERR_MALFORMED);
    free (packed);

    //  A delta against a similar chunk: small, exact, and only with
    //  that base
    uint8_t *base = (uint8_t *) zmalloc (20000), *edited = (uint8_t *) zmalloc (20000);
    uint64_t fill = 99;
    for (size_t i = 0; i < 20000; i += 8) {
        uint64_t v = s_splitmix64 (&fill);
        memcpy (base + i, &v, 8);
    }
    memcpy (edited, base, 20000);
    memset (edited + 5000, 0x42, 300);
    chunker_hash (edited, 20000, hash);
    uint8_t *delta;
    size_t delta_size;
    assert (chunker_delta (base, 20000, edited, 20000, &delta, &delta_size) == 0);
    if (verbose)
        printf (", delta of a 300-byte edit in 20000: %zu bytes", delta_size);
    assert (delta_size < 500);
    assert (chunker_undelta (delta, delta_size, base, 20000, hash, unpacked, 20000) == 0);
    assert (memcmp (unpacked, edited, 20000) == 0);
    //  Another base gives other bytes: refused by the address
    uint8_t *other = (uint8_t *) zmalloc (20000);
    memset (other, 0x11, 20000);
    assert (chunker_undelta (delta, delta_size, other, 20000, hash, unpacked, 20000) != 0);
    free (other);
    assert (chunker_undelta (delta, delta_size, base, 20000, hash, unpacked, 19999)
            == PROTO_ERR_MALFORMED);
    assert (chunker_undelta (delta, delta_size - 1, base, 20000, hash, unpacked, 20000)
            == PROTO_ERR_MALFORMED);
    hash [5] ^= 1;
    assert (chunker_undelta (delta, delta_size, base, 20000, hash, unpacked, 20000)
            == PROTO_ERR_SIGNATURE);
    //  Features: an edited chunk keeps most of its base's; another
    //  chunk shares none
    uint64_t fa [CHUNKER_FEATURES], fb [CHUNKER_FEATURES], fc [CHUNKER_FEATURES];
    chunker_features (chunker, base, 20000, fa);
    chunker_features (chunker, edited, 20000, fb);
    memset (unpacked, 0x33, 20000);
    for (size_t i = 0; i < 20000; i += 3)
        unpacked [i] = (uint8_t) (i * 13);
    chunker_features (chunker, unpacked, 20000, fc);
    int same_ab = 0, same_ac = 0;
    for (int i = 0; i < CHUNKER_FEATURES; i++) {
        same_ab += fa [i] == fb [i];
        same_ac += fa [i] == fc [i];
    }
    assert (same_ab >= CHUNKER_FEATURES / 2 && same_ac == 0);

    //  Split: the bases named, the frame after them
    uint8_t carried [1 + 2 * 32 + 8] = { 2 };
    size_t base_count, frame_size;
    const uint8_t *bases, *frame;
    assert (chunker_delta_split (carried, sizeof carried, &base_count, &bases, &frame,
                                 &frame_size) == 0);
    assert (base_count == 2 && bases == carried + 1 && frame == carried + 65 && frame_size == 8);
    assert (chunker_delta_split (carried, 65, &base_count, &bases, &frame, &frame_size)
            == PROTO_ERR_MALFORMED);
    carried [0] = CHUNKER_DELTA_BASES + 1;
    assert (chunker_delta_split (carried, sizeof carried, &base_count, &bases, &frame,
                                 &frame_size) == PROTO_ERR_MALFORMED);
    carried [0] = 0;
    assert (chunker_delta_split (carried, sizeof carried, &base_count, &bases, &frame,
                                 &frame_size) == PROTO_ERR_MALFORMED);
    assert (chunker_delta_split (carried, 0, &base_count, &bases, &frame, &frame_size)
            == PROTO_ERR_MALFORMED);
    free (delta);
    free (base);
    free (edited);
    free (unpacked);

    free (before);
    free (after);
    free (data);
    chunker_destroy (&chunker);
    assert (chunker == NULL);
    //  @end
    printf ("OK\n");
}
