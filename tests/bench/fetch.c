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
        chunks (1.00: each chunk crossed the uplink once for the site).
    Prints
        BENCH <name> <value> <unit> ratio=<x> vs <comparator>
    with the median of RUNS runs of each, interleaved.  */

#include <czmq.h>
#include <sodium.h>

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

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (NULL);
    zsys_set_logsystem (false);
    assert (sodium_init () >= 0);
    double exchange [RUNS], floor [RUNS], ratio [RUNS];
    for (int run = 0; run < RUNS; run++) {
        exchange [run] = s_exchange (&ratio [run]);
        floor [run] = s_floor ();
    }
    double x = bench_median (exchange, RUNS), f = bench_median (floor, RUNS);
    double u = bench_median (ratio, RUNS);
    printf ("BENCH fetch_site_chunks %.0f chunks/s ratio=%.2f vs chunker_unpack+chunkstore_put "
            "alone\n", x, x / f);
    printf ("BENCH fetch_site_uplink %.2f copies ratio=%.2f vs one copy over the uplink "
            "(server + 3 gateways)\n", u, u);
    return 0;
}
