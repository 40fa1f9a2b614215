/*  fetch_delta_test - selftest of deltas over a site's uplink: a site
    server holding 1.0 names it in its asks, and the coordinator (played
    by the world, fetch_world.h) answers 2.0's changed chunks with deltas
    against 1.0's; the server applies and checks them and serves its
    gateways whole chunks. A delta whose base the server does not hold is
    dropped and its chunk asked again whole, once.  */

#include "proto/corelib.h"
#include "proto/chunker.h"
#include "node/core/node.h"
#include "node/core/fetch.h"
#include "node/core/mesh_fabric.h"
#include "node/core/fetch_world.h"

//  Run the world until quiet, ticking, at most rounds times
static uint64_t
s_settle (fworld_t *world, uint64_t now, int rounds)
{
    for (int round = 0; round < rounds && zlistx_size (world->wire); round++) {
        fworld_run (world, now, SIZE_MAX);
        now += 10;
        fworld_tick (world, now);
    }
    return now;
}

//  Changed chunks of release that have a delta, and their packed bytes
static size_t
s_changed (const fworld_release_t *release, uint64_t *packed_p)
{
    size_t count = 0;
    *packed_p = 0;
    for (size_t c = 0; c < release->count; c++)
        if (release->delta [c]) {
            count++;
            *packed_p += release->packed_size [c];
        }
    return count;
}

void
fetch_delta_test (bool verbose)
{
    printf (" * fetch_delta: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    fworld_t world;
    fworld_init (&world, verbose);
    uint64_t now = FABRIC_EPOCH_MS;
    fworld_up (&world, now);
    fworld_node_t *server = &world.nodes [0], *gateway = &world.nodes [1];
    const fetch_stats_t *stats = fetch_stats (node_fetch (server->node));

    //  1.0 at the server, whole (it holds no release to name)
    fworld_release_t *one = fworld_release_new ("1.0");
    world.held [world.held_count++] = one;
    fworld_want (server, one, now);
    now = s_settle (&world, now, 50);
    assert (fworld_held (server, one) == one->count);
    assert (world.uplink_deltas == 0 && stats->deltas == 0);

    //  2.0, a few edits: its changed chunks come as deltas, applied and
    //  checked at the server, which serves the gateway whole chunks
    fworld_release_t *two = fworld_release_edit (one, "2.0", 4, 16);
    world.held [world.held_count++] = two;
    uint64_t packed;
    size_t changed = s_changed (two, &packed);
    assert (changed > 0);
    uint64_t bytes = world.uplink_bytes, chunks = world.uplink_chunks;
    fworld_want (server, two, now);
    fworld_want (gateway, two, now);
    now = s_settle (&world, now, 50);
    assert (fworld_held (server, two) == two->count);
    assert (fworld_held (gateway, two) == two->count);
    assert (world.uplink_deltas == changed && stats->deltas == changed);
    assert (stats->deltas_dropped == 0 && stats->bad == 0);
    //  Unchanged chunks were held already: the uplink carried the deltas
    assert (world.uplink_chunks - chunks == changed);
    uint64_t sent = world.uplink_bytes - bytes;
    assert (sent * 10 < packed);
    const fetch_stats_t *gw = fetch_stats (node_fetch (gateway->node));
    assert (gw->deltas == 0 && gw->bad == 0);
    if (verbose)
        printf ("   %zu changed chunks of %zu: %" PRIu64 " bytes over the uplink for %"
                PRIu64 " packed\n", changed, two->count, sent, packed);

    //  3.0 against 1.0, two of its deltas naming a base the server does
    //  not hold: each dropped, its chunk asked again whole and kept
    fworld_release_t *three = fworld_release_edit (one, "3.0", 4, 16);
    world.held [world.held_count++] = three;
    size_t changed3 = s_changed (three, &packed);
    assert (changed3 >= 2);
    world.stale = 2;
    uint64_t deltas = stats->deltas;
    chunks = world.uplink_chunks;
    fworld_want (server, three, now);
    now = s_settle (&world, now, 50);
    assert (fworld_held (server, three) == three->count);
    assert (stats->deltas_dropped == 2 && stats->bad == 0);
    assert (stats->deltas - deltas == changed3 - 2);
    assert (world.uplink_chunks - chunks == changed3 + 2);
    fworld_fini (&world);
    //  @end
    printf ("OK\n");
}
