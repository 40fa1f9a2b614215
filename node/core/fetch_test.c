/*  fetch_test - selftest of the chunk exchange: a site server and three
    gateways, each a whole node core over its own real LMDB store, and
    the server's coordinator link played by the test (fetch_world.h):
    each chunk crosses the uplink once; bad, unasked and refused chunks,
    silent peers and uplinks, a restart, a small budget, a rate, and a
    neighbour of another tenant.  */
#include "proto/corelib.h"
#include <sodium.h>
#include "proto/envelope.h"
#include "proto/chunker.h"
#include "proto/manifest.h"
#include "proto/updmsg.h"
#include "node/core/node.h"
#include "node/core/mesh_fabric.h"
#include "node/core/node_wire.h"
#include "node/core/fetch_world.h"

void
fetch_test (bool verbose)
{
    printf (" * fetch: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    fworld_t world;
    fworld_init (&world, verbose);
    uint64_t now = FABRIC_EPOCH_MS;
    fworld_up (&world, now);
    fworld_node_t *server = &world.nodes [0];
    for (int i = 1; i < FWORLD_NODES; i++)
        assert (mesh_neighbour (node_mesh (server->node), world.nodes [i].name, NULL, NULL,
                                NULL));

    //  A release the coordinator holds; the server and every gateway want
    //  it at once: the gateways ask the server, which asks its uplink
    //  once per chunk and answers all three as each arrives
    fworld_release_t *one = fworld_release_new ("1.0");
    world.held [world.held_count++] = one;
    for (int i = 0; i < FWORLD_NODES; i++)
        fworld_want (&world.nodes [i], one, now);
    for (int round = 0; round < 50 && zlistx_size (world.wire); round++) {
        fworld_run (&world, now, SIZE_MAX);
        now += 10;
        fworld_tick (&world, now);
    }
    for (int i = 0; i < FWORLD_NODES; i++)
        assert (fworld_held (&world.nodes [i], one) == one->count);
    assert (world.uplink_chunks == one->count);
    assert (zhashx_size (world.uplink) == one->count);
    for (uintptr_t times = (uintptr_t) zhashx_first (world.uplink); times;
         times = (uintptr_t) zhashx_next (world.uplink))
        assert (times == 1);
    const fetch_stats_t *stats = fetch_stats (node_fetch (server->node));
    assert (stats->merged > 0);
    for (int i = 1; i < FWORLD_NODES; i++) {
        const fetch_stats_t *gw = fetch_stats (node_fetch (world.nodes [i].node));
        assert (gw->received == one->count && gw->bad == 0 && gw->unasked == 0);
    }
    //  Every chunk came through the mesh's link-local hook: verified, and
    //  none counted malformed
    assert (mesh_stats (node_mesh (world.nodes [1].node))->malformed == 0);
    if (verbose)
        printf ("   %zu chunks, %" PRIu64 " bytes over the uplink once for 3 gateways "
                "(%" PRIu64 " served by the server, %" PRIu64 " asks merged)\n", one->count,
                world.uplink_bytes, stats->served, stats->merged);

    //  A chunk that does not hash to its address is not kept: the peer
    //  that sent it is asked no more for the release until its retry
    fworld_release_t *two = fworld_release_new ("2.0");
    world.held [world.held_count++] = two;
    uint64_t uplink = world.uplink_chunks;
    world.corrupt = 1;
    fworld_want (server, two, now);
    fworld_run (&world, now, SIZE_MAX);
    assert (stats->bad == 1);
    //  The other peers (the gateways) do not hold it: what was not in
    //  flight from the uplink waits for the retry, then comes from the
    //  uplink, intact
    for (int round = 0; round < 5; round++) {
        now += 1000;
        fworld_tick (&world, now);
    }
    assert (fworld_held (server, two) < two->count);
    now += FETCH_RETRY_MS;
    fworld_tick (&world, now);
    assert (fworld_held (server, two) == two->count);
    assert (world.uplink_chunks == uplink + two->count + 1);
    if (verbose)
        printf ("   a damaged chunk from the uplink dropped, fetched again after the retry\n");

    //  A CHUNK_DATA nobody asked for is dropped, even intact
    uint64_t unasked = stats->unasked;
    uint64_t received = stats->received;
    fworld_coord_data (&world, one, 0, now);
    assert (stats->unasked == unasked + 1 && stats->received == received);
    //  And a want for a release the server does not know gets size 0
    //  (the gateway, which does not know it either, hears nothing it keeps)
    fworld_release_t *unknown = fworld_release_new ("9.9");
    uint64_t refused = stats->refused;
    updmsg_t want;
    memset (&want, 0, sizeof want);
    want.type = MSG_CHUNK_WANT;
    memcpy (want.manifest, unknown->hash, 32);
    want.addresses = unknown->addresses [0];
    want.address_count = 1;
    uint8_t *payload;
    size_t payload_size;
    assert (updmsg_encode (&want, &payload, &payload_size) == 0);
    assert (fetch_on_message (node_fetch (server->node), "gw-1", "acme", MSG_CHUNK_WANT, payload,
                              payload_size, now));
    assert (stats->refused == refused + 1);
    //  Nor a known release to a neighbour of another tenant
    memcpy (want.manifest, one->hash, 32);
    free (payload);
    want.addresses = one->addresses [0];
    assert (updmsg_encode (&want, &payload, &payload_size) == 0);
    assert (fetch_on_message (node_fetch (server->node), "gw-1", "other", MSG_CHUNK_WANT,
                              payload, payload_size, now));
    assert (stats->refused == refused + 2);
    free (payload);
    fworld_run (&world, now, SIZE_MAX);
    fworld_release_destroy (&unknown);
    if (verbose)
        printf ("   unasked chunk dropped; unknown release and other tenant refused\n");

    //  A peer that never answers: gw-2 asks the server first, which is
    //  mute toward it; after the timeout it asks its neighbours, which
    //  hold the release (gw-1 and gw-3 want it too)
    fworld_node_t *gw2 = &world.nodes [2];
    world.mute [1][3] = true;
    fworld_want (&world.nodes [1], two, now);
    fworld_want (&world.nodes [3], two, now);
    for (int round = 0; round < 20; round++) {
        now += 100;
        fworld_tick (&world, now);
    }
    assert (fworld_held (&world.nodes [1], two) == two->count);
    assert (fworld_held (&world.nodes [3], two) == two->count);
    uplink = world.uplink_chunks;
    fworld_want (gw2, two, now);
    fworld_run (&world, now, SIZE_MAX);
    assert (fworld_held (gw2, two) == 0);
    const fetch_stats_t *gw2_stats = fetch_stats (node_fetch (gw2->node));
    for (int round = 0; round < 20 && fworld_held (gw2, two) < two->count; round++) {
        now += FETCH_TIMEOUT_MS / 4;
        fworld_tick (&world, now);
    }
    assert (fworld_held (gw2, two) == two->count);
    assert (gw2_stats->timeouts > 0);
    assert (world.uplink_chunks == uplink);
    world.mute [1][3] = false;
    if (verbose)
        printf ("   a mute server timed out (%" PRIu64 " asks), the chunks came from the "
                "peers\n", gw2_stats->timeouts);

    //  A restart in the middle: gw-3 has part of a third release when
    //  its node stops; started again from its store, it resumes from the
    //  chunks it held and asks only for the rest
    fworld_release_t *three = fworld_release_new ("3.0");
    world.held [world.held_count++] = three;
    fworld_want (server, three, now);
    for (int round = 0; round < 10; round++)
        fworld_tick (&world, now += 100);
    assert (fworld_held (server, three) == three->count);
    fworld_node_t *gw3 = &world.nodes [3];
    fworld_want (gw3, three, now);
    //  A few answers only, then the node is gone (what is on the wire
    //  is lost with it)
    for (int step = 0; step < 6; step++)
        fworld_run (&world, now, 1);
    size_t held = fworld_held (gw3, three);
    node_destroy (&gw3->node);
    fworld_run (&world, now, SIZE_MAX);
    assert (held > 0 && held < three->count);
    fworld_start (&world, 3, NODE_CHUNK_BUDGET, 0, now);
    assert (fworld_held (gw3, three) == held);
    fworld_link (&world, 3, now);
    fworld_run (&world, now, SIZE_MAX);
    for (int round = 0; round < 20 && fworld_held (gw3, three) < three->count; round++)
        fworld_tick (&world, now += 100);
    assert (fworld_held (gw3, three) == three->count);
    //  Only the missing ones were asked after the restart
    assert (fetch_stats (node_fetch (gw3->node))->received == three->count - held);
    if (verbose)
        printf ("   restart with %zu of %zu chunks held: resumed, the rest fetched\n", held,
                three->count);

    //  A server that no longer wants a release answers size 0, and the
    //  gateway asks its next peer; a neighbour that sends bad bytes is
    //  asked no more for that release until the retry, which it then
    //  answers intact. Nothing of it crosses the uplink.
    fworld_release_t *six = fworld_release_new ("6.0");
    world.held [world.held_count++] = six;
    fworld_want (server, six, now);
    for (int round = 0; round < 10; round++)
        fworld_tick (&world, now += 100);
    fworld_want (&world.nodes [1], six, now);
    for (int round = 0; round < 10; round++)
        fworld_tick (&world, now += 100);
    assert (fworld_held (&world.nodes [1], six) == six->count);
    assert (fetch_drop (node_fetch (server->node), six->hash) == 0);
    uplink = world.uplink_chunks;
    const fetch_stats_t *gw3_stats = fetch_stats (node_fetch (gw3->node));
    uint64_t not_held = gw3_stats->not_held, bad = gw3_stats->bad;
    refused = stats->refused;
    world.damage_from = 1;
    world.damage = 1;
    fworld_want (gw3, six, now);
    fworld_run (&world, now, SIZE_MAX);
    assert (world.damage == 0);
    assert (gw3_stats->bad == bad + 1);
    assert (gw3_stats->not_held > not_held && stats->refused > refused);
    assert (fworld_held (gw3, six) < six->count);
    for (int round = 0; round < 5 && fworld_held (gw3, six) < six->count; round++)
        fworld_tick (&world, now += FETCH_RETRY_MS);
    assert (fworld_held (gw3, six) == six->count);
    assert (gw3_stats->bad == bad + 1);
    assert (world.uplink_chunks == uplink);
    if (verbose)
        printf ("   size 0 from the server, a bad chunk from gw-1: %" PRIu64 " asks refused, "
                "all %zu chunks from gw-1 after the retry\n", gw3_stats->not_held - not_held,
                six->count);

    //  A budget too small for the release: gw-1 pauses fetching once its
    //  pinned chunks pass it, rather than evict what a release needs
    fworld_node_t *gw1 = &world.nodes [1];
    node_destroy (&gw1->node);
    fworld_start (&world, 1, 4 * CHUNKER_AVG, 0, now);
    fworld_link (&world, 1, now);
    fworld_run (&world, now, SIZE_MAX);
    fworld_want (gw1, three, now);
    for (int round = 0; round < 20; round++)
        fworld_tick (&world, now += 100);
    assert (fetch_paused (node_fetch (gw1->node)));
    held = fworld_held (gw1, three);
    assert (held > 0 && held < three->count);
    chunkstore_t *chunks = fetch_chunks (node_fetch (gw1->node));
    assert (chunkstore_over (chunks));
    //  Paused: nothing more is asked
    uint64_t asked = fetch_stats (node_fetch (gw1->node))->asked;
    for (int round = 0; round < 5; round++)
        fworld_tick (&world, now += FETCH_RETRY_MS);
    assert (fetch_stats (node_fetch (gw1->node))->asked == asked);
    assert (fworld_held (gw1, three) == held);
    //  Releases dropped: their chunks are evictable, and fetching goes on
    assert (fetch_drop (node_fetch (gw1->node), three->hash) == 0);
    assert (fetch_drop (node_fetch (gw1->node), one->hash) == 0);
    assert (fetch_drop (node_fetch (gw1->node), two->hash) == 0);
    assert (!fetch_paused (node_fetch (gw1->node)));
    assert (fetch_progress (node_fetch (gw1->node), three->hash, NULL, NULL, NULL, NULL) == -1);
    if (verbose)
        printf ("   a budget of %d bytes: paused at %zu of %zu chunks\n", 4 * CHUNKER_AVG, held,
                three->count);

    //  An uplink that does not answer: the server's asks time out, and
    //  the gateway that waits on them hears size 0 then, not never;
    //  once the uplink answers again, both get every chunk
    fworld_release_t *four = fworld_release_new ("4.0");
    world.held [world.held_count++] = four;
    world.mute [NODE_WIRE_COORD + 1][1] = true;
    uint64_t expired = stats->expired;
    fworld_want (server, four, now);
    fworld_want (gw2, four, now);
    fworld_run (&world, now, SIZE_MAX);
    assert (fworld_held (gw2, four) == 0);
    fworld_tick (&world, now += FETCH_TIMEOUT_MS);
    assert (stats->expired > expired);
    world.mute [NODE_WIRE_COORD + 1][1] = false;
    for (int round = 0; round < 10 && fworld_held (gw2, four) < four->count; round++)
        fworld_tick (&world, now += FETCH_RETRY_MS);
    assert (fworld_held (server, four) == four->count);
    assert (fworld_held (gw2, four) == four->count);
    if (verbose)
        printf ("   a mute uplink: %" PRIu64 " waiting asks answered size 0, then fetched\n",
                stats->expired - expired);

    //  A rate limit per peer: gw-2, limited to 64 KiB/s, gets no more
    //  than that from the server, and all of it in about its time
    fworld_release_t *five = fworld_release_new ("5.0");
    world.held [world.held_count++] = five;
    fworld_want (server, five, now);
    for (int round = 0; round < 10; round++)
        fworld_tick (&world, now += 100);
    assert (fworld_held (server, five) == five->count);
    node_destroy (&gw2->node);
    uint64_t rate = 64 * 1024;
    fworld_start (&world, 2, NODE_CHUNK_BUDGET, rate, now);
    fworld_link (&world, 2, now);
    fworld_run (&world, now, SIZE_MAX);
    fworld_want (gw2, five, now);
    uint64_t start = now;
    uint64_t held_bytes = 0, total_bytes = 0;
    while (now - start < 60000) {
        fworld_tick (&world, now += 100);
        assert (fetch_progress (node_fetch (gw2->node), five->hash, NULL, NULL, &held_bytes,
                                &total_bytes) == 0);
        //  What was asked by now: the first chunk, then rate's worth
        assert (held_bytes <= CHUNKER_MAX + rate * (now - start) / 1000);
        if (held_bytes == total_bytes)
            break;
    }
    assert (held_bytes == total_bytes);
    assert (now - start + 1000 >= (total_bytes - CHUNKER_MAX) * 1000 / rate);
    if (verbose)
        printf ("   at 64 KiB/s: %" PRIu64 " bytes in %" PRIu64 " ms\n", total_bytes,
                now - start);

    //  Links lost with asks in flight: gw-3's asks of the server time
    //  out while it has no link at all; when its links come back it asks
    //  the server again at once (a new connection), not after the retry
    fworld_release_t *seven = fworld_release_new ("7.0");
    world.held [world.held_count++] = seven;
    fworld_want (server, seven, now);
    for (int round = 0; round < 10; round++)
        fworld_tick (&world, now += 100);
    assert (fworld_held (server, seven) == seven->count);
    world.mute [1][4] = true;
    fworld_want (gw3, seven, now);
    fworld_run (&world, now, SIZE_MAX);
    for (int i = 0; i < 3; i++) {
        node_link_down (gw3->node, world.nodes [i].name, now);
        node_link_down (world.nodes [i].node, "gw-3", now);
        fworld_drain (&world.nodes [i]);
    }
    fworld_drain (gw3);
    world.mute [1][4] = false;
    uint64_t timeouts = fetch_stats (node_fetch (gw3->node))->timeouts;
    fworld_tick (&world, now += FETCH_TIMEOUT_MS);
    assert (fetch_stats (node_fetch (gw3->node))->timeouts > timeouts);
    assert (fworld_held (gw3, seven) == 0);
    fworld_link (&world, 3, now);
    fworld_run (&world, now, SIZE_MAX);
    for (int round = 0; round < 30 && fworld_held (gw3, seven) < seven->count; round++)
        fworld_tick (&world, now += 100);
    assert (fworld_held (gw3, seven) == seven->count);
    if (verbose)
        printf ("   links lost with asks in flight: asked again at once when they came back\n");

    //  A neighbour of another tenant: gw-3 comes back with a certificate
    //  of tenant "other"; it asks no one of acme for chunks, and its
    //  CHUNK_WANT for a release the server holds is answered size 0
    node_destroy (&gw3->node);
    fworld_start_as (&world, 3, "other", NODE_CHUNK_BUDGET, 0, now);
    fworld_link (&world, 3, now);
    fworld_run (&world, now, SIZE_MAX);
    assert (mesh_neighbour (node_mesh (server->node), "gw-3", NULL, NULL, NULL));
    fworld_want (gw3, five, now);
    for (int round = 0; round < 5; round++)
        fworld_tick (&world, now += FETCH_RETRY_MS);
    assert (fworld_held (gw3, five) == 0);
    assert (fetch_stats (node_fetch (gw3->node))->asked == 0);
    uint64_t served = stats->served;
    refused = stats->refused;
    memset (&want, 0, sizeof want);
    want.type = MSG_CHUNK_WANT;
    memcpy (want.manifest, five->hash, 32);
    want.addresses = five->addresses [0];
    want.address_count = 1;
    assert (updmsg_encode (&want, &payload, &payload_size) == 0);
    size_t frame_size;
    uint8_t *frame = fabric_envelope_at (&gw3->keys, "gw-3", MSG_CHUNK_WANT, 1, now, payload,
                                         payload_size, &frame_size);
    free (payload);
    node_wire_add (world.wire, 3, 0, NULL, frame, frame_size);
    free (frame);
    fworld_run (&world, now, SIZE_MAX);
    assert (stats->refused == refused + 1 && stats->served == served);
    assert (fetch_stats (node_fetch (gw3->node))->unasked == 1);
    assert (fworld_held (gw3, five) == 0);
    if (verbose)
        printf ("   a neighbour of another tenant asks no one and is refused\n");

    //  Releases kept for the site (a server relaying the coordinator's
    //  offers): a drop by the node's own update module keeps one the site
    //  still has; past FETCH_SITE_MAX the oldest the site took goes, one
    //  the node wants itself stays; a restart keeps them
    fetch_t *site_fetch = node_fetch (server->node);
    fworld_release_t *site [FETCH_SITE_MAX + 2];
    for (int i = 0; i < FETCH_SITE_MAX + 2; i++) {
        char version [32];
        snprintf (version, sizeof version, "site-%d", i);
        site [i] = fworld_release_new (version);
    }
#   define S_KEPT(i) (fetch_progress (site_fetch, site [i]->hash, NULL, NULL, NULL, NULL) == 0)
#   define S_WANT(f, i) f (site_fetch, site [i]->hash, site [i]->manifest, \
                           site [i]->manifest_size, now)
    assert (S_WANT (fetch_want_site, 0) == 0 && S_WANT (fetch_want, 0) == 0);
    assert (fetch_drop (site_fetch, site [0]->hash) == 0 && S_KEPT (0));
    assert (S_WANT (fetch_want, 1) == 0 && S_WANT (fetch_want_site, 1) == 0);
    for (int i = 2; i < FETCH_SITE_MAX + 2; i++)
        assert (S_WANT (fetch_want_site, i) == 0);
    assert (!S_KEPT (0) && S_KEPT (1) && S_KEPT (2));
    assert (fetch_drop (site_fetch, site [1]->hash) == 0 && !S_KEPT (1));
    node_destroy (&server->node);
    fworld_start (&world, 0, NODE_CHUNK_BUDGET, 0, now);
    site_fetch = node_fetch (server->node);
    assert (!S_KEPT (0) && !S_KEPT (1));
    for (int i = 2; i < FETCH_SITE_MAX + 2; i++)
        assert (S_KEPT (i));
    //  Dropped by the update module: nothing, as it is the site's only
    assert (fetch_drop (site_fetch, site [2]->hash) == 0 && S_KEPT (2));
#   undef S_KEPT
#   undef S_WANT
    for (int i = 0; i < FETCH_SITE_MAX + 2; i++)
        fworld_release_destroy (&site [i]);
    if (verbose)
        printf ("   releases kept for the site: the newest %d, a restart keeps them\n",
                FETCH_SITE_MAX);

    fworld_fini (&world);
    //  @end
    printf ("OK\n");
}
