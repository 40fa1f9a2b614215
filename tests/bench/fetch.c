/*  fetch - benchmark of the chunk exchange in one site
    A site server and three gateways, each a whole node core over its
    own real LMDB store (node/core/fetch_world.h, the selftest's world:
    in-memory links, every envelope signed and checked), all want
    RELEASES releases of random data at once; the server's coordinator
    link is played by the world, which counts what crosses it. Frames
    are handed over in bursts, each node settling (one synced commit)
    once per burst as weft-node's poll loop does. Figures:
      - chunks/s stored across the four nodes (asked, received, checked
        by chunker_unpack, stored in one transaction per burst), against
        the same chunks only checked and stored (chunker_unpack, then
        chunkstore_put in one transaction per release and node, on
        stores of the same kind): what the exchange costs over its floor;
      - bytes over the uplink against one copy of the releases' packed
        chunks (1.00: each chunk crossed the uplink once for the site);
      - an update over the uplink: the server and the gateways hold 1.0
        and want 2.0 (5% of its bytes rewritten, in 4 places); the
        bytes the exchange carries over the uplink for it (deltas
        against 1.0's chunks, packed chunks where smaller) plus its
        manifest, against the best single-device delta of the same pair
        (libzstd level 19 with all of 1.0 as prefix, as zstd
        --patch-from; goal: 1.2 or less).
    Prints
        BENCH <name> <value> <unit> ratio=<x> vs <comparator>
    with the median of RUNS runs of each, interleaved.  */

#include <czmq.h>
#include <sodium.h>
#include <zstd.h>

#include "proto/chunker.h"
#include "proto/chunkstore.h"
#include "proto/store.h"
#include "node/core/fetch.h"
#include "node/core/mesh_fabric.h"
#include "node/core/fetch_world.h"
#include "tests/bench/bench.h"

#define RUNS        5
#define RELEASES    5

//  The exchange: chunks stored per second; uplink bytes over one copy
static double
s_exchange (double *uplink_ratio)
{
    fworld_t world;
    fworld_init (&world, false);
    world.bursts = true;
    uint64_t now = FABRIC_EPOCH_MS;
    fworld_up (&world, now);
    size_t chunks = 0;
    uint64_t copy = 0;
    for (int r = 0; r < RELEASES; r++) {
        fworld_release_t *release = fworld_release_new (r % 2? "2.0": "1.0");
        world.held [world.held_count++] = release;
        chunks += release->count;
        for (size_t c = 0; c < release->count; c++)
            copy += release->packed_size [c];
    }
    int64_t start = zclock_usecs ();
    for (size_t r = 0; r < world.held_count; r++)
        for (int i = 0; i < FWORLD_NODES; i++)
            fworld_want (&world.nodes [i], world.held [r], now);
    bool all = false;
    for (int round = 0; round < 10000 && !all; round++) {
        fworld_tick (&world, now += 10);
        all = true;
        for (size_t r = 0; r < world.held_count && all; r++)
            for (int i = 0; i < FWORLD_NODES && all; i++)
                all = fworld_held (&world.nodes [i], world.held [r]) == world.held [r]->count;
    }
    double seconds = (double) (zclock_usecs () - start) / 1e6;
    assert (all);
    *uplink_ratio = (double) world.uplink_bytes / (double) copy;
    fworld_fini (&world);
    return (double) (chunks * FWORLD_NODES) / seconds;
}

//  The floor: the same number of chunks checked and stored in four stores
static double
s_floor (void)
{
    fworld_release_t *releases [RELEASES];
    for (int r = 0; r < RELEASES; r++)
        releases [r] = fworld_release_new ("1.0");
    char dirs [FWORLD_NODES][64];
    store_t *stores [FWORLD_NODES];
    chunkstore_t *chunkstores [FWORLD_NODES];
    const char *tables [] = { CHUNKSTORE_TABLE, NULL };
    for (int i = 0; i < FWORLD_NODES; i++) {
        snprintf (dirs [i], sizeof dirs [i], "/tmp/weft-bench-fetch.XXXXXX");
        assert (mkdtemp (dirs [i]));
        stores [i] = store_new (dirs [i], tables, 0);
        chunkstores [i] = chunkstore_new (stores [i], "", NODE_CHUNK_BUDGET);
        assert (stores [i] && chunkstores [i]);
    }
    uint8_t *scratch = (uint8_t *) malloc (CHUNKER_MAX);
    size_t chunks = 0;
    int64_t start = zclock_usecs ();
    for (int r = 0; r < RELEASES; r++)
        for (int i = 0; i < FWORLD_NODES; i++) {
            fworld_release_t *release = releases [r];
            store_txn_t *txn = store_begin (stores [i], true);
            assert (txn);
            for (size_t c = 0; c < release->count; c++) {
                assert (chunker_unpack (release->packed [c], release->packed_size [c],
                                        release->addresses [c], scratch, release->size [c])
                        == 0);
                assert (chunkstore_put (chunkstores [i], txn, release->addresses [c],
                                        release->packed [c], release->packed_size [c],
                                        release->size [c]) == 0);
                chunks++;
            }
            assert (store_commit (&txn) == 0);
        }
    double seconds = (double) (zclock_usecs () - start) / 1e6;
    free (scratch);
    for (int i = 0; i < FWORLD_NODES; i++) {
        chunkstore_destroy (&chunkstores [i]);
        store_destroy (&stores [i]);
        bench_clear (dirs [i]);
    }
    for (int r = 0; r < RELEASES; r++)
        fworld_release_destroy (&releases [r]);
    return (double) chunks / seconds;
}

//  The best single-device delta of from -> to: zstd -19 --patch-from
static size_t
s_patch_from (const fworld_release_t *from, const fworld_release_t *to)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx ();
    assert (cctx);
    ZSTD_CCtx_setParameter (cctx, ZSTD_c_compressionLevel, 19);
    ZSTD_CCtx_setParameter (cctx, ZSTD_c_windowLog, 27);
    ZSTD_CCtx_setParameter (cctx, ZSTD_c_enableLongDistanceMatching, 1);
    assert (!ZSTD_isError (ZSTD_CCtx_refPrefix (cctx, from->data, from->data_size)));
    size_t bound = ZSTD_compressBound (to->data_size);
    uint8_t *out = (uint8_t *) malloc (bound);
    size_t size = ZSTD_compress2 (cctx, out, bound, to->data, to->data_size);
    assert (!ZSTD_isError (size));
    free (out);
    ZSTD_freeCCtx (cctx);
    return size;
}

//  2.0 over the uplink of a site holding 1.0: bytes carried (and the
//  single-device delta's, in *best)
static double
s_update (double *best)
{
    fworld_t world;
    fworld_init (&world, false);
    world.bursts = true;
    uint64_t now = FABRIC_EPOCH_MS;
    fworld_up (&world, now);
    fworld_release_t *one = fworld_release_new ("1.0");
    world.held [world.held_count++] = one;
    for (int i = 0; i < FWORLD_NODES; i++)
        fworld_want (&world.nodes [i], one, now);
    for (int round = 0; round < 10000 && zlistx_size (world.wire); round++)
        fworld_tick (&world, now += 10);
    fworld_release_t *two = fworld_release_edit (one, "2.0", 4, one->data_size / 80);
    world.held [world.held_count++] = two;
    uint64_t before = world.uplink_bytes;
    for (int i = 0; i < FWORLD_NODES; i++)
        fworld_want (&world.nodes [i], two, now);
    bool all = false;
    for (int round = 0; round < 10000 && !all; round++) {
        fworld_tick (&world, now += 10);
        all = true;
        for (int i = 0; i < FWORLD_NODES && all; i++)
            all = fworld_held (&world.nodes [i], two) == two->count;
    }
    assert (all && world.uplink_deltas > 0);
    double carried = (double) (world.uplink_bytes - before + two->manifest_size);
    *best = (double) s_patch_from (one, two);
    fworld_fini (&world);
    return carried;
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (NULL);
    zsys_set_logsystem (false);
    assert (sodium_init () >= 0);
    double exchange [RUNS], floor [RUNS], ratio [RUNS], update [RUNS], best [RUNS];
    for (int run = 0; run < RUNS; run++) {
        exchange [run] = s_exchange (&ratio [run]);
        floor [run] = s_floor ();
        update [run] = s_update (&best [run]);
    }
    double x = bench_median (exchange, RUNS), f = bench_median (floor, RUNS);
    double u = bench_median (ratio, RUNS);
    printf ("BENCH fetch_site_chunks %.0f chunks/s ratio=%.2f vs chunker_unpack+chunkstore_put "
            "alone\n", x, x / f);
    printf ("BENCH fetch_site_uplink %.2f copies ratio=%.2f vs one copy over the uplink "
            "(server + 3 gateways)\n", u, u);
    double w = bench_median (update, RUNS), b = bench_median (best, RUNS);
    printf ("BENCH fetch_update_uplink %.0f bytes ratio=%.2f vs the best single-device delta "
            "(zstd -19 --patch-from, %.0f bytes; 2.0 rewrites 5%% of a %d KiB 1.0 in 4 "
            "places; server + 3 gateways) goal=1.2 %s\n", w, w / b, b,
            FWORLD_CHUNKS * CHUNKER_AVG / 1024, w / b <= 1.2? "met": "MISSED");
    return 0;
}
