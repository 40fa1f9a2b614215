/*  chunkstore_test - selftest of the node's chunk store over a real
    store: held chunks, eviction of the least recently used to the
    budget, pinned releases never evicted, totals across a restart, an
    aborted transaction, two prefixes in one store that share nothing,
    and two that share packed bytes (weft-sim)  */

#include "proto/corelib.h"
#include "proto/chunker.h"
#include "proto/chunkstore.h"

//  A chunk of 4 KiB made from tag, its address and packed form
static void
s_test_chunk (uint8_t tag, uint8_t hash [32], uint8_t **packed_p, size_t *size_p)
{
    uint8_t data [4096];
    for (size_t i = 0; i < sizeof data; i++)
        data [i] = (uint8_t) (tag * 31 + i * 7 + (i >> 5));
    chunker_hash (data, sizeof data, hash);
    assert (chunker_pack (data, sizeof data, packed_p, size_p) == 0);
}

static void
s_test_put (chunkstore_t *chunks, store_t *store, uint8_t tag, uint8_t hash [32])
{
    uint8_t *packed;
    size_t size;
    s_test_chunk (tag, hash, &packed, &size);
    store_txn_t *txn = store_begin (store, true);
    assert (chunkstore_put (chunks, txn, hash, packed, size, 4096) == 0);
    assert (store_commit (&txn) == 0);
    free (packed);
}

static bool
s_test_has (chunkstore_t *chunks, store_t *store, const uint8_t hash [32])
{
    store_txn_t *txn = store_begin (store, false);
    bool has = chunkstore_has (chunks, txn, hash);
    store_abort (&txn);
    return has;
}

//  Two chunk stores under prefixes of their own in one store (weft-sim's
//  nodes): neither sees, counts, evicts or unpins the other's chunks
static void
s_test_prefixes (store_t *store)
{
    uint8_t *packed;
    size_t packed_size;
    uint8_t hashes [3][32];
    s_test_chunk (40, hashes [0], &packed, &packed_size);
    free (packed);
    uint64_t budget = packed_size + packed_size / 2;
    chunkstore_t *one = chunkstore_new (store, "n1/", budget);
    chunkstore_t *two = chunkstore_new (store, "n2/", budget);
    assert (one && two);
    s_test_put (one, store, 40, hashes [0]);
    assert (s_test_has (one, store, hashes [0]) && !s_test_has (two, store, hashes [0]));
    assert (chunkstore_count (two) == 0 && chunkstore_bytes (two) == 0);
    //  The same chunk in both costs each its own bytes
    s_test_put (two, store, 40, hashes [0]);
    assert (chunkstore_count (one) == 1 && chunkstore_count (two) == 1);
    //  One's eviction leaves two's copy
    s_test_put (one, store, 41, hashes [1]);
    assert (!s_test_has (one, store, hashes [0]) && s_test_has (one, store, hashes [1]));
    assert (s_test_has (two, store, hashes [0]) && !s_test_has (two, store, hashes [1]));
    //  Two's pin does not keep one's chunk; two's unpin does not
    //  release it either
    uint8_t entries [MANIFEST_ENTRY_SIZE] = { 0 };
    memcpy (entries, hashes [1], 32);
    entries [34] = 0x10;
    manifest_t manifest = { .name = "plc", .version = "2", .types = "*", .handler = "file",
                            .size = 4096, .chunk_count = 1, .chunks = entries };
    uint8_t manifest_hash [32] = { 0x5e };
    store_txn_t *txn = store_begin (store, true);
    assert (chunkstore_pin (two, txn, manifest_hash, &manifest) == 0);
    assert (store_commit (&txn) == 0);
    s_test_put (one, store, 42, hashes [2]);
    assert (!s_test_has (one, store, hashes [1]) && s_test_has (one, store, hashes [2]));
    assert (!chunkstore_over (one));
    //  Totals are kept apart across a restart
    uint64_t one_bytes = chunkstore_bytes (one), two_bytes = chunkstore_bytes (two);
    chunkstore_destroy (&one);
    chunkstore_destroy (&two);
    one = chunkstore_new (store, "n1/", budget);
    two = chunkstore_new (store, "n2/", budget);
    assert (chunkstore_bytes (one) == one_bytes && chunkstore_bytes (two) == two_bytes);
    assert (chunkstore_count (one) == 1 && chunkstore_count (two) == 1);
    chunkstore_destroy (&one);
    chunkstore_destroy (&two);
    //  A prefix longer than a name is refused
    char long_prefix [WEFT_NAME_MAX + 2];
    memset (long_prefix, 'x', sizeof long_prefix - 1);
    long_prefix [sizeof long_prefix - 1] = 0;
    assert (chunkstore_new (store, long_prefix, budget) == NULL);
}

static int
s_test_count_one (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    (void) key; (void) key_size; (void) value; (void) size;
    (*(size_t *) arg)++;
    return 0;
}

//  Copies of packed bytes kept under the shared prefix
static size_t
s_test_shared_copies (store_t *store)
{
    size_t copies = 0;
    store_txn_t *txn = store_begin (store, false);
    assert (store_scan (txn, CHUNKSTORE_TABLE, "~s/b", 4, s_test_count_one, &copies) >= 0);
    store_abort (&txn);
    return copies;
}

static bool
s_test_reads (chunkstore_t *chunks, store_t *store, const uint8_t hash [32])
{
    store_txn_t *txn = store_begin (store, false);
    size_t size;
    uint32_t chunk_size;
    uint8_t *packed = chunkstore_get (chunks, txn, hash, &size, &chunk_size);
    uint8_t out [4096];
    bool whole = packed && chunk_size == 4096
              && chunker_unpack (packed, size, hash, out, sizeof out) == 0;
    free (packed);
    store_abort (&txn);
    return whole;
}

//  Two chunk stores sharing packed bytes (weft-sim's nodes): a chunk
//  both hold is kept once, yet each counts it, evicts it and answers
//  for it as its own; the last one to evict it frees the bytes
static void
s_test_shared (store_t *store)
{
    uint8_t *packed;
    size_t packed_size;
    uint8_t hashes [3][32];
    s_test_chunk (50, hashes [0], &packed, &packed_size);
    free (packed);
    uint64_t budget = packed_size + packed_size / 2;
    chunkstore_t *one = chunkstore_new (store, "s1/", budget);
    chunkstore_t *two = chunkstore_new (store, "s2/", budget);
    assert (one && two);
    assert (chunkstore_share (one, "~s/") == 0 && chunkstore_share (two, "~s/") == 0);
    s_test_put (one, store, 50, hashes [0]);
    assert (s_test_reads (one, store, hashes [0]) && !s_test_has (two, store, hashes [0]));
    assert (!s_test_reads (two, store, hashes [0]));
    //  The same chunk in both: one copy, each counts its bytes
    s_test_put (two, store, 50, hashes [0]);
    assert (s_test_shared_copies (store) == 1);
    assert (chunkstore_bytes (one) == packed_size && chunkstore_bytes (two) == packed_size);
    assert (chunkstore_count (one) == 1 && chunkstore_count (two) == 1);
    //  One's eviction: one no longer holds it, two still reads it
    s_test_put (one, store, 51, hashes [1]);
    assert (!s_test_has (one, store, hashes [0]) && !s_test_reads (one, store, hashes [0]));
    assert (s_test_reads (one, store, hashes [1]) && s_test_reads (two, store, hashes [0]));
    assert (chunkstore_count (one) == 1 && chunkstore_bytes (one) == packed_size);
    assert (s_test_shared_copies (store) == 2);
    //  Two's eviction of the last holder's copy frees the bytes
    s_test_put (two, store, 52, hashes [2]);
    assert (!s_test_has (two, store, hashes [0]) && s_test_reads (two, store, hashes [2]));
    assert (s_test_shared_copies (store) == 2);
    //  An aborted put leaves no bytes behind
    s_test_chunk (53, hashes [0], &packed, &packed_size);
    store_txn_t *txn = store_begin (store, true);
    assert (chunkstore_put (one, txn, hashes [0], packed, packed_size, 4096) == 0);
    store_abort (&txn);
    free (packed);
    assert (chunkstore_reload (one) == 0 && s_test_shared_copies (store) == 2);
    //  Across a restart each index still reads the shared bytes
    uint64_t one_bytes = chunkstore_bytes (one);
    chunkstore_destroy (&one);
    chunkstore_destroy (&two);
    one = chunkstore_new (store, "s1/", budget);
    two = chunkstore_new (store, "s2/", budget);
    assert (chunkstore_share (one, "~s/") == 0 && chunkstore_share (two, "~s/") == 0);
    assert (s_test_reads (one, store, hashes [1]) && s_test_reads (two, store, hashes [2]));
    assert (chunkstore_bytes (one) == one_bytes && chunkstore_count (two) == 1);
    //  A shared prefix longer than a name is refused
    char long_prefix [WEFT_NAME_MAX + 2];
    memset (long_prefix, 'x', sizeof long_prefix - 1);
    long_prefix [sizeof long_prefix - 1] = 0;
    assert (chunkstore_share (one, long_prefix) == -1);
    chunkstore_destroy (&one);
    chunkstore_destroy (&two);
}

void
chunkstore_test (bool verbose)
{
    printf (" * chunkstore: ");
    //  @selftest
    char dir [] = "/tmp/weft-chunkstore-test.XXXXXX";
    assert (mkdtemp (dir));
    const char *tables [] = { CHUNKSTORE_TABLE, NULL };
    store_t *store = store_new (dir, tables, 0);
    assert (store);
    //  Room for about three packed chunks
    uint8_t *packed;
    size_t packed_size;
    uint8_t hashes [8][32];
    s_test_chunk (0, hashes [0], &packed, &packed_size);
    free (packed);
    uint64_t budget = 3 * packed_size + packed_size / 2;
    chunkstore_t *chunks = chunkstore_new (store, "", budget);
    assert (chunks && chunkstore_bytes (chunks) == 0);

    //  Held, read back whole
    s_test_put (chunks, store, 0, hashes [0]);
    store_txn_t *txn = store_begin (store, false);
    uint32_t chunk_size;
    size_t size;
    uint8_t *back = chunkstore_get (chunks, txn, hashes [0], &size, &chunk_size);
    assert (back && size == packed_size && chunk_size == 4096);
    uint8_t out [4096];
    assert (chunker_unpack (back, size, hashes [0], out, 4096) == 0);
    free (back);
    //  A delta against it applies to the chunk it was made of; one
    //  whose base is not held, or that hashes otherwise, does not
    uint8_t edited [4096], again [4096], edited_hash [32];
    memcpy (edited, out, sizeof edited);
    memcpy (edited + 1000, "a changed line", 14);
    chunker_hash (edited, sizeof edited, edited_hash);
    uint8_t *frame;
    size_t frame_size;
    assert (chunker_delta (out, sizeof out, edited, sizeof edited, &frame, &frame_size) == 0);
    uint8_t *delta = (uint8_t *) zmalloc (33 + frame_size);
    delta [0] = 1;
    memcpy (delta + 1, hashes [0], 32);
    memcpy (delta + 33, frame, frame_size);
    assert (chunkstore_undelta (chunks, txn, delta, 33 + frame_size, edited_hash, again,
                                sizeof again) == 0);
    assert (memcmp (again, edited, sizeof again) == 0);
    assert (chunkstore_undelta (chunks, txn, delta, 33 + frame_size, hashes [0], again,
                                sizeof again) == PROTO_ERR_SIGNATURE);
    assert (chunkstore_undelta (chunks, txn, delta, 32, edited_hash, again, sizeof again)
            == PROTO_ERR_MALFORMED);
    delta [1] ^= 1;
    assert (chunkstore_undelta (chunks, txn, delta, 33 + frame_size, edited_hash, again,
                                sizeof again) == -1);
    free (delta);
    free (frame);
    store_abort (&txn);
    //  The same chunk again costs nothing
    s_test_put (chunks, store, 0, hashes [0]);
    assert (chunkstore_count (chunks) == 1 && chunkstore_bytes (chunks) == packed_size);

    //  Three more: the least recently used goes. Chunk 0 was used after
    //  1 was put, so 1 goes first
    s_test_put (chunks, store, 1, hashes [1]);
    s_test_put (chunks, store, 2, hashes [2]);
    txn = store_begin (store, true);
    assert (chunkstore_touch (chunks, txn, hashes [0]) == 0);
    assert (store_commit (&txn) == 0);
    s_test_put (chunks, store, 3, hashes [3]);
    assert (chunkstore_count (chunks) == 3 && chunkstore_bytes (chunks) <= budget);
    assert (!s_test_has (chunks, store, hashes [1]));
    assert (s_test_has (chunks, store, hashes [0]) && s_test_has (chunks, store, hashes [2])
         && s_test_has (chunks, store, hashes [3]));

    //  A release pins chunks 2 and 3: they stay whatever comes
    uint8_t entries [2 * MANIFEST_ENTRY_SIZE] = { 0 };
    memcpy (entries, hashes [2], 32);
    memcpy (entries + MANIFEST_ENTRY_SIZE, hashes [3], 32);
    entries [34] = 0x10;
    entries [MANIFEST_ENTRY_SIZE + 34] = 0x10;
    manifest_t manifest = { .name = "plc", .version = "1", .types = "*", .handler = "file",
                            .size = 8192, .chunk_count = 2, .chunks = entries };
    uint8_t manifest_hash [32] = { 0x4d };
    txn = store_begin (store, true);
    assert (chunkstore_pin (chunks, txn, manifest_hash, &manifest) == 0);
    assert (store_commit (&txn) == 0);
    for (uint8_t tag = 4; tag < 8; tag++)
        s_test_put (chunks, store, tag, hashes [tag]);
    assert (s_test_has (chunks, store, hashes [2]) && s_test_has (chunks, store, hashes [3]));
    assert (s_test_has (chunks, store, hashes [7]));
    assert (!s_test_has (chunks, store, hashes [0]) && !s_test_has (chunks, store, hashes [4]));
    assert (chunkstore_bytes (chunks) <= budget && !chunkstore_over (chunks));

    //  Pinned chunks alone past a smaller budget: kept, and said so
    chunkstore_destroy (&chunks);
    chunks = chunkstore_new (store, "", packed_size);
    s_test_put (chunks, store, 1, hashes [1]);
    assert (chunkstore_over (chunks));
    assert (s_test_has (chunks, store, hashes [2]) && s_test_has (chunks, store, hashes [3]));
    assert (chunkstore_count (chunks) == 2);
    //  Unpinned, they may go
    txn = store_begin (store, true);
    assert (chunkstore_unpin (chunks, txn, manifest_hash, &manifest) == 0);
    assert (store_commit (&txn) == 0);
    assert (chunkstore_count (chunks) == 1 && !chunkstore_over (chunks));
    uint64_t bytes = chunkstore_bytes (chunks), count = chunkstore_count (chunks);

    //  An aborted put leaves the totals as the store has them
    uint8_t *more;
    size_t more_size;
    uint8_t more_hash [32];
    s_test_chunk (9, more_hash, &more, &more_size);
    chunkstore_destroy (&chunks);
    chunks = chunkstore_new (store, "", budget);
    txn = store_begin (store, true);
    assert (chunkstore_put (chunks, txn, more_hash, more, more_size, 4096) == 0);
    store_abort (&txn);
    assert (chunkstore_reload (chunks) == 0);
    assert (chunkstore_bytes (chunks) == bytes && chunkstore_count (chunks) == count);
    free (more);

    //  300 chunks of a pinned release, older than everything else: an
    //  eviction does not walk past them (they are not in its order)
    size_t pinned_count = CHUNKSTORE_EVICT_SCAN + 44;
    uint8_t *many = (uint8_t *) zmalloc (pinned_count * MANIFEST_ENTRY_SIZE);
    uint8_t (*many_hashes) [32] = zmalloc (pinned_count * 32);
    for (size_t i = 0; i < pinned_count; i++) {
        uint8_t *data;
        size_t data_size;
        s_test_chunk ((uint8_t) (i % 200 + 20), many_hashes [i], &data, &data_size);
        //  Distinct addresses: the tag repeats, so vary one byte
        many_hashes [i][0] = (uint8_t) i;
        many_hashes [i][1] = (uint8_t) (i >> 8);
        memcpy (many + i * MANIFEST_ENTRY_SIZE, many_hashes [i], 32);
        many [i * MANIFEST_ENTRY_SIZE + 34] = 0x10;
        free (data);
    }
    manifest_t big = { .name = "big", .version = "1", .types = "*", .handler = "file",
                       .size = pinned_count * 4096, .chunk_count = pinned_count,
                       .chunks = many };
    uint8_t big_hash [32] = { 0xb1 };
    txn = store_begin (store, true);
    assert (chunkstore_pin (chunks, txn, big_hash, &big) == 0);
    for (size_t i = 0; i < pinned_count; i++) {
        uint8_t *data;
        size_t data_size;
        uint8_t ignored [32];
        s_test_chunk ((uint8_t) (i % 200 + 20), ignored, &data, &data_size);
        assert (chunkstore_put (chunks, txn, many_hashes [i], data, data_size, 4096) == 0);
        free (data);
    }
    assert (store_commit (&txn) == 0);
    uint64_t pinned_bytes = chunkstore_bytes (chunks);
    chunkstore_destroy (&chunks);
    chunks = chunkstore_new (store, "", pinned_bytes + 2 * packed_size + packed_size / 2);
    s_test_put (chunks, store, 5, hashes [5]);
    s_test_put (chunks, store, 6, hashes [6]);
    s_test_put (chunks, store, 7, hashes [7]);
    assert (!chunkstore_over (chunks));
    assert (!s_test_has (chunks, store, hashes [5]) || !s_test_has (chunks, store, hashes [1]));
    assert (s_test_has (chunks, store, hashes [7]) && s_test_has (chunks, store, many_hashes [0]));
    txn = store_begin (store, true);
    assert (chunkstore_unpin (chunks, txn, big_hash, &big) == 0);
    assert (store_commit (&txn) == 0);
    //  Unpinned, they are back in the order where their last use was:
    //  the oldest go first under a smaller budget
    assert (s_test_has (chunks, store, many_hashes [0]));
    chunkstore_destroy (&chunks);
    chunks = chunkstore_new (store, "", 8 * packed_size);
    s_test_put (chunks, store, 5, hashes [5]);
    assert (!s_test_has (chunks, store, many_hashes [0]));
    assert (s_test_has (chunks, store, hashes [5]));
    //  At most CHUNKSTORE_EVICT_SCAN a call: the rest goes with the next
    assert (chunkstore_bytes (chunks) > 8 * packed_size && !chunkstore_over (chunks));
    uint8_t fresh [32];
    s_test_put (chunks, store, 250, fresh);
    assert (chunkstore_bytes (chunks) <= 8 * packed_size);
    free (many);
    free (many_hashes);
    bytes = chunkstore_bytes (chunks);
    count = chunkstore_count (chunks);

    //  A restart finds the same totals
    chunkstore_destroy (&chunks);
    store_destroy (&store);
    store = store_new (dir, tables, 0);
    chunks = chunkstore_new (store, "", budget);
    assert (chunkstore_bytes (chunks) == bytes && chunkstore_count (chunks) == count);
    if (verbose)
        printf ("\n   %" PRIu64 " chunks, %" PRIu64 " bytes held", count, bytes);
    chunkstore_destroy (&chunks);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);

    //  Prefixes, in a store of their own
    assert (mkdtemp (strcpy (dir, "/tmp/weft-chunkstore-test.XXXXXX")));
    store = store_new (dir, tables, 0);
    assert (store);
    s_test_prefixes (store);
    s_test_shared (store);
    store_destroy (&store);
    tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    //  @end
    printf ("OK\n");
}
