/*  fetch_test - selftest of the chunk exchange: a site server and three
    gateways, each a whole node core over its own real LMDB store, wired
    to each other in memory (links named after their peers); the
    coordinator link of the server is played by the test, which holds
    every chunk and answers CHUNK_WANT as the coordinator does (CHUNK_DATA
    signed with its key), counting what crosses the uplink.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/envelope.h"
#include "proto/chunker.h"
#include "proto/manifest.h"
#include "proto/updmsg.h"
#include "node/core/node.h"
#include "node/core/mesh_fabric.h"
#include "node/core/node_wire.h"

#define T_NODES     4
#define T_COORD     NODE_WIRE_COORD
#define T_CHUNKS    40              //  Chunks of a release, about

typedef struct _t_world_t t_world_t;

typedef struct {
    t_world_t *world;
    int index;
    node_t *node;
    keys_t keys;
    char name [16];
    store_t *store;
    char dir [64];
} t_node_t;

//  A release: its manifest and packed chunks
typedef struct {
    uint8_t *manifest;
    size_t manifest_size;
    uint8_t hash [32];
    size_t count;
    uint8_t (*addresses) [32];
    uint8_t **packed;
    size_t *packed_size;
    uint32_t *size;
} t_release_t;

struct _t_world_t {
    t_node_t nodes [T_NODES];
    const char *names [T_NODES];    //  The nodes' names, for node_wire_index
    zlistx_t *wire;                 //  Of node_wire_msg_t
    keys_t ca, coord;
    bool mute [T_NODES + 1][T_NODES + 1];  //  Frames from i to j are lost (at i + 1, j + 1)
    bool verbose;
    //  The coordinator's side: what it holds, and what it sent up
    t_release_t *held [6];
    size_t held_count;
    zhashx_t *uplink;               //  Address (hex) -> times sent (in the pointer)
    uint64_t uplink_chunks, uplink_bytes;
    int corrupt;                    //  Damage the next N chunks it sends
};

static int
s_send (void *ctx, const char *link, const char *dest, const uint8_t *frame, size_t size)
{
    t_node_t *node = (t_node_t *) ctx;
    int to = node_wire_index (node->world->names, T_NODES, link);
    if (to == NODE_WIRE_NONE)
        return -1;
    if (!dest)                      //  Custody traffic is not this test's
        node_wire_add (node->world->wire, node->index, to, NULL, frame, size);
    return 0;
}

static void
s_drain (t_node_t *node)
{
    while (node_next (node->node))
        ;
}

//  A CHUNK_DATA from the coordinator to node to, on the wire
static void
s_coord_send (t_world_t *world, int to, const updmsg_t *data, uint64_t now)
{
    uint8_t *payload;
    size_t payload_size;
    assert (updmsg_encode (data, &payload, &payload_size) == 0);
    size_t size;
    uint8_t *frame = fabric_envelope_at (&world->coord, MESH_COORDINATOR, MSG_CHUNK_DATA, 1,
                                         now, payload, payload_size, &size);
    node_wire_add (world->wire, T_COORD, to, NULL, frame, size);
    free (frame);
    free (payload);
}

//  The coordinator answers a CHUNK_WANT from the server's uplink
static void
s_coordinator (t_world_t *world, node_wire_msg_t *msg, uint64_t now)
{
    envelope_t env;
    updmsg_t want;
    if (envelope_decode (&env, msg->frame, msg->size) || env.type != MSG_CHUNK_WANT
    ||  updmsg_decode (&want, MSG_CHUNK_WANT, env.payload, env.payload_size))
        return;
    for (size_t i = 0; i < want.address_count; i++) {
        const uint8_t *address = want.addresses + 32 * i;
        updmsg_t data;
        memset (&data, 0, sizeof data);
        data.type = MSG_CHUNK_DATA;
        memcpy (data.manifest, want.manifest, 32);
        memcpy (data.address, address, 32);
        uint8_t damaged [UPDMSG_PACKED_MAX];
        for (size_t r = 0; r < world->held_count; r++) {
            t_release_t *release = world->held [r];
            if (memcmp (release->hash, want.manifest, 32))
                continue;
            for (size_t c = 0; c < release->count; c++)
                if (memcmp (release->addresses [c], address, 32) == 0) {
                    data.size = release->size [c];
                    data.packed = release->packed [c];
                    data.packed_size = release->packed_size [c];
                }
        }
        if (data.size && world->corrupt) {
            world->corrupt--;
            memcpy (damaged, data.packed, data.packed_size);
            damaged [data.packed_size / 2] ^= 0x01;
            data.packed = damaged;
        }
        if (data.size) {
            char hex [65];
            keys_hex (address, 32, hex);
            uintptr_t times = (uintptr_t) zhashx_lookup (world->uplink, hex);
            zhashx_update (world->uplink, hex, (void *) (times + 1));
            world->uplink_chunks++;
            world->uplink_bytes += data.packed_size;
        }
        s_coord_send (world, msg->from, &data, now);
    }
}

//  Hand over what is on the wire until it is quiet, or limit messages
static size_t
s_run (t_world_t *world, uint64_t now, size_t limit)
{
    size_t handed = 0;
    node_wire_msg_t *msg;
    while ((msg = (node_wire_msg_t *) zlistx_first (world->wire)) && handed < limit) {
        zlistx_detach_cur (world->wire);
        handed++;
        if (world->mute [msg->from + 1][msg->to + 1])
            ;
        else
        if (msg->to == T_COORD)
            s_coordinator (world, msg, now);
        else
        if (world->nodes [msg->to].node) {
            t_node_t *node = &world->nodes [msg->to];
            const char *link = msg->from == T_COORD? MESH_COORDINATOR
                                                   : world->nodes [msg->from].name;
            node_frame (node->node, link, NULL, msg->frame, msg->size, now);
            s_drain (node);
        }
        node_wire_msg_destroy (&msg);
    }
    return handed;
}

//  Every node ticks, then the wire runs quiet
static void
s_tick (t_world_t *world, uint64_t now)
{
    for (int i = 0; i < T_NODES; i++)
        if (world->nodes [i].node) {
            node_tick (world->nodes [i].node, now);
            s_drain (&world->nodes [i]);
        }
    s_run (world, now, SIZE_MAX);
}

static void
s_start (t_world_t *world, int index, uint64_t budget, uint64_t rate, uint64_t now)
{
    t_node_t *node = &world->nodes [index];
    if (!node->store) {
        const char *tables [] = { AGENT_TABLE, MESH_TABLE, OUTBOX_TABLE, CHUNKSTORE_TABLE,
                                  FETCH_TABLE, NULL };
        snprintf (node->dir, sizeof node->dir, "/tmp/weft-fetch-core.XXXXXX");
        assert (mkdtemp (node->dir));
        node->store = store_new (node->dir, tables, 0);
        assert (node->store);
    }
    size_t cert_size;
    uint8_t *cert = fabric_cert (&world->ca, &node->keys, node->name, "acme",
                                 index == 0? "server": "gateway", (uint64_t) index + 10, now,
                                 NULL, &cert_size);
    node_config_t config = {
        .name = node->name, .tenant = "acme", .keys = &node->keys, .cert = cert,
        .cert_size = cert_size, .ca_key = world->ca.sign_public,
        .coord_sign = world->coord.sign_public, .heartbeat_ms = 1000, .store = node->store,
        .prefix = "", .admit_unattested = true, .chunk_budget = budget,
        .chunk_rate = rate, .verbose = world->verbose
    };
    node_links_t links = { node, s_send, NULL };
    node->node = node_new (&config, &links, now);
    assert (node->node);
    free (cert);
    s_drain (node);
}

//  Node index's links up: the server's uplink and the gateways' links
//  to it and to each other in a ring (the HELLOs wait on the wire)
static void
s_link (t_world_t *world, int index, uint64_t now)
{
    t_node_t *node = &world->nodes [index];
    if (index == 0) {
        node_link_up (node->node, MESH_COORDINATOR, MESH_LINK_COORDINATOR,
                      world->coord.curve_public, now);
        for (int i = 1; i < T_NODES; i++)
            node_link_up (node->node, world->nodes [i].name, MESH_LINK_ACCEPTED,
                          world->nodes [i].keys.curve_public, now);
    }
    else {
        int next = index % (T_NODES - 1) + 1, previous = (index + T_NODES - 3) % (T_NODES - 1) + 1;
        node_link_up (node->node, world->nodes [next].name, MESH_LINK_DIALLED,
                      world->nodes [next].keys.curve_public, now);
        node_link_up (node->node, world->nodes [previous].name, MESH_LINK_ACCEPTED,
                      world->nodes [previous].keys.curve_public, now);
        node_link_up (world->nodes [0].node, node->name, MESH_LINK_ACCEPTED,
                      node->keys.curve_public, now);
        node_link_up (node->node, world->nodes [0].name, MESH_LINK_DIALLED,
                      world->nodes [0].keys.curve_public, now);
        s_drain (&world->nodes [0]);
    }
    s_drain (node);
}

//  A release of about T_CHUNKS random chunks
static t_release_t *
s_release_new (const char *version)
{
    size_t size = T_CHUNKS * CHUNKER_AVG;
    uint8_t *data = (uint8_t *) zmalloc (size);
    randombytes_buf (data, size);
    chunker_t *chunker = chunker_new ();
    t_release_t *release = (t_release_t *) zmalloc (sizeof (t_release_t));
    size_t max = size / CHUNKER_MIN + 1;
    release->addresses = zmalloc (max * 32);
    release->packed = (uint8_t **) zmalloc (max * sizeof (uint8_t *));
    release->packed_size = (size_t *) zmalloc (max * sizeof (size_t));
    release->size = (uint32_t *) zmalloc (max * sizeof (uint32_t));
    uint8_t *entries = (uint8_t *) zmalloc (max * MANIFEST_ENTRY_SIZE);
    for (size_t at = 0; at < size; ) {
        size_t cut = chunker_cut (chunker, data + at, size - at, true);
        size_t c = release->count++;
        chunker_hash (data + at, cut, release->addresses [c]);
        assert (chunker_pack (data + at, cut, &release->packed [c], &release->packed_size [c])
                == 0);
        release->size [c] = (uint32_t) cut;
        memcpy (entries + c * MANIFEST_ENTRY_SIZE, release->addresses [c], 32);
        uint8_t *be32 = entries + c * MANIFEST_ENTRY_SIZE + 32;
        be32 [0] = (uint8_t) (cut >> 24);
        be32 [1] = (uint8_t) (cut >> 16);
        be32 [2] = (uint8_t) (cut >> 8);
        be32 [3] = (uint8_t) cut;
        at += cut;
    }
    manifest_t manifest;
    memset (&manifest, 0, sizeof manifest);
    snprintf (manifest.name, sizeof manifest.name, "app");
    snprintf (manifest.version, sizeof manifest.version, "%s", version);
    snprintf (manifest.types, sizeof manifest.types, "*");
    snprintf (manifest.handler, sizeof manifest.handler, "file");
    manifest.size = size;
    manifest.chunk_count = release->count;
    manifest.chunks = entries;
    assert (manifest_encode (&manifest, &release->manifest, &release->manifest_size) == 0);
    chunker_hash (release->manifest, release->manifest_size, release->hash);
    free (entries);
    chunker_destroy (&chunker);
    free (data);
    return release;
}

static void
s_release_destroy (t_release_t **release_p)
{
    t_release_t *release = *release_p;
    for (size_t c = 0; c < release->count; c++)
        free (release->packed [c]);
    free (release->packed);
    free (release->packed_size);
    free (release->size);
    free (release->addresses);
    free (release->manifest);
    free (release);
    *release_p = NULL;
}

static void
s_want (t_node_t *node, t_release_t *release, uint64_t now)
{
    assert (fetch_want (node_fetch (node->node), release->hash, release->manifest,
                        release->manifest_size, now) == 0);
    node_settle (node->node, now);
    s_drain (node);
}

static size_t
s_held (t_node_t *node, t_release_t *release)
{
    size_t held = 0, total = 0;
    assert (fetch_progress (node_fetch (node->node), release->hash, &held, &total, NULL, NULL)
            == 0);
    assert (total == release->count);
    return held;
}

//  A CHUNK_DATA from the coordinator to the server, as the test makes it
static void
s_coord_data (t_world_t *world, t_release_t *release, size_t c, uint64_t now)
{
    updmsg_t data;
    memset (&data, 0, sizeof data);
    data.type = MSG_CHUNK_DATA;
    memcpy (data.manifest, release->hash, 32);
    memcpy (data.address, release->addresses [c], 32);
    data.size = release->size [c];
    data.packed = release->packed [c];
    data.packed_size = release->packed_size [c];
    s_coord_send (world, 0, &data, now);
    s_run (world, now, SIZE_MAX);
}

void
fetch_test (bool verbose)
{
    printf (" * fetch: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    t_world_t world;
    memset (&world, 0, sizeof world);
    world.verbose = verbose;
    world.wire = zlistx_new ();
    world.uplink = zhashx_new ();
    keys_generate (&world.ca);
    keys_generate (&world.coord);
    const char *names [] = { "srv-1", "gw-1", "gw-2", "gw-3" };
    for (int i = 0; i < T_NODES; i++) {
        t_node_t *node = &world.nodes [i];
        node->world = &world;
        node->index = i;
        snprintf (node->name, sizeof node->name, "%s", names [i]);
        world.names [i] = node->name;
        keys_generate (&node->keys);
    }
    uint64_t now = FABRIC_EPOCH_MS;
    for (int i = 0; i < T_NODES; i++)
        s_start (&world, i, NODE_CHUNK_BUDGET, 0, now);
    for (int i = 0; i < T_NODES; i++)
        s_link (&world, i, now);
    s_run (&world, now, SIZE_MAX);
    t_node_t *server = &world.nodes [0];
    for (int i = 1; i < T_NODES; i++)
        assert (mesh_neighbour (node_mesh (server->node), world.nodes [i].name, NULL, NULL,
                                NULL));

    //  A release the coordinator holds; the server and every gateway want
    //  it at once: the gateways ask the server, which asks its uplink
    //  once per chunk and answers all three as each arrives
    t_release_t *one = s_release_new ("1.0");
    world.held [world.held_count++] = one;
    for (int i = 0; i < T_NODES; i++)
        s_want (&world.nodes [i], one, now);
    for (int round = 0; round < 50 && zlistx_size (world.wire); round++) {
        s_run (&world, now, SIZE_MAX);
        now += 10;
        s_tick (&world, now);
    }
    for (int i = 0; i < T_NODES; i++)
        assert (s_held (&world.nodes [i], one) == one->count);
    assert (world.uplink_chunks == one->count);
    assert (zhashx_size (world.uplink) == one->count);
    for (uintptr_t times = (uintptr_t) zhashx_first (world.uplink); times;
         times = (uintptr_t) zhashx_next (world.uplink))
        assert (times == 1);
    const fetch_stats_t *stats = fetch_stats (node_fetch (server->node));
    assert (stats->merged > 0);
    for (int i = 1; i < T_NODES; i++) {
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
    t_release_t *two = s_release_new ("2.0");
    world.held [world.held_count++] = two;
    uint64_t uplink = world.uplink_chunks;
    world.corrupt = 1;
    s_want (server, two, now);
    s_run (&world, now, SIZE_MAX);
    assert (stats->bad == 1);
    //  The other peers (the gateways) do not hold it: what was not in
    //  flight from the uplink waits for the retry, then comes from the
    //  uplink, intact
    for (int round = 0; round < 5; round++) {
        now += 1000;
        s_tick (&world, now);
    }
    assert (s_held (server, two) < two->count);
    now += FETCH_RETRY_MS;
    s_tick (&world, now);
    assert (s_held (server, two) == two->count);
    assert (world.uplink_chunks == uplink + two->count + 1);
    if (verbose)
        printf ("   a damaged chunk from the uplink dropped, fetched again after the retry\n");

    //  A CHUNK_DATA nobody asked for is dropped, even intact
    uint64_t unasked = stats->unasked;
    uint64_t received = stats->received;
    s_coord_data (&world, one, 0, now);
    assert (stats->unasked == unasked + 1 && stats->received == received);
    //  And a want for a release the server does not know gets size 0
    //  (the gateway, which does not know it either, hears nothing it keeps)
    t_release_t *unknown = s_release_new ("9.9");
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
    s_run (&world, now, SIZE_MAX);
    s_release_destroy (&unknown);
    if (verbose)
        printf ("   unasked chunk dropped; unknown release and other tenant refused\n");

    //  A peer that never answers: gw-2 asks the server first, which is
    //  mute toward it; after the timeout it asks its neighbours, which
    //  hold the release (gw-1 and gw-3 want it too)
    t_node_t *gw2 = &world.nodes [2];
    world.mute [1][3] = true;
    s_want (&world.nodes [1], two, now);
    s_want (&world.nodes [3], two, now);
    for (int round = 0; round < 20; round++) {
        now += 100;
        s_tick (&world, now);
    }
    assert (s_held (&world.nodes [1], two) == two->count);
    assert (s_held (&world.nodes [3], two) == two->count);
    uplink = world.uplink_chunks;
    s_want (gw2, two, now);
    s_run (&world, now, SIZE_MAX);
    assert (s_held (gw2, two) == 0);
    const fetch_stats_t *gw2_stats = fetch_stats (node_fetch (gw2->node));
    for (int round = 0; round < 20 && s_held (gw2, two) < two->count; round++) {
        now += FETCH_TIMEOUT_MS / 4;
        s_tick (&world, now);
    }
    assert (s_held (gw2, two) == two->count);
    assert (gw2_stats->timeouts > 0);
    assert (world.uplink_chunks == uplink);
    world.mute [1][3] = false;
    if (verbose)
        printf ("   a mute server timed out (%" PRIu64 " asks), the chunks came from the "
                "peers\n", gw2_stats->timeouts);

    //  A restart in the middle: gw-3 has part of a third release when
    //  its node stops; started again from its store, it resumes from the
    //  chunks it held and asks only for the rest
    t_release_t *three = s_release_new ("3.0");
    world.held [world.held_count++] = three;
    s_want (server, three, now);
    for (int round = 0; round < 10; round++)
        s_tick (&world, now += 100);
    assert (s_held (server, three) == three->count);
    t_node_t *gw3 = &world.nodes [3];
    s_want (gw3, three, now);
    //  A few answers only, then the node is gone (what is on the wire
    //  is lost with it)
    for (int step = 0; step < 6; step++)
        s_run (&world, now, 1);
    size_t held = s_held (gw3, three);
    node_destroy (&gw3->node);
    s_run (&world, now, SIZE_MAX);
    assert (held > 0 && held < three->count);
    s_start (&world, 3, NODE_CHUNK_BUDGET, 0, now);
    assert (s_held (gw3, three) == held);
    s_link (&world, 3, now);
    s_run (&world, now, SIZE_MAX);
    for (int round = 0; round < 20 && s_held (gw3, three) < three->count; round++)
        s_tick (&world, now += 100);
    assert (s_held (gw3, three) == three->count);
    //  Only the missing ones were asked after the restart
    assert (fetch_stats (node_fetch (gw3->node))->received == three->count - held);
    if (verbose)
        printf ("   restart with %zu of %zu chunks held: resumed, the rest fetched\n", held,
                three->count);

    //  A budget too small for the release: gw-1 pauses fetching once its
    //  pinned chunks pass it, rather than evict what a release needs
    t_node_t *gw1 = &world.nodes [1];
    node_destroy (&gw1->node);
    s_start (&world, 1, 4 * CHUNKER_AVG, 0, now);
    s_link (&world, 1, now);
    s_run (&world, now, SIZE_MAX);
    s_want (gw1, three, now);
    for (int round = 0; round < 20; round++)
        s_tick (&world, now += 100);
    assert (fetch_paused (node_fetch (gw1->node)));
    held = s_held (gw1, three);
    assert (held > 0 && held < three->count);
    chunkstore_t *chunks = fetch_chunks (node_fetch (gw1->node));
    assert (chunkstore_over (chunks));
    //  Paused: nothing more is asked
    uint64_t asked = fetch_stats (node_fetch (gw1->node))->asked;
    for (int round = 0; round < 5; round++)
        s_tick (&world, now += FETCH_RETRY_MS);
    assert (fetch_stats (node_fetch (gw1->node))->asked == asked);
    assert (s_held (gw1, three) == held);
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
    t_release_t *four = s_release_new ("4.0");
    world.held [world.held_count++] = four;
    world.mute [T_COORD + 1][1] = true;
    uint64_t expired = stats->expired;
    s_want (server, four, now);
    s_want (gw2, four, now);
    s_run (&world, now, SIZE_MAX);
    assert (s_held (gw2, four) == 0);
    s_tick (&world, now += FETCH_TIMEOUT_MS);
    assert (stats->expired > expired);
    world.mute [T_COORD + 1][1] = false;
    for (int round = 0; round < 10 && s_held (gw2, four) < four->count; round++)
        s_tick (&world, now += FETCH_RETRY_MS);
    assert (s_held (server, four) == four->count);
    assert (s_held (gw2, four) == four->count);
    if (verbose)
        printf ("   a mute uplink: %" PRIu64 " waiting asks answered size 0, then fetched\n",
                stats->expired - expired);

    //  A rate limit per peer: gw-2, limited to 64 KiB/s, gets no more
    //  than that from the server, and all of it in about its time
    t_release_t *five = s_release_new ("5.0");
    world.held [world.held_count++] = five;
    s_want (server, five, now);
    for (int round = 0; round < 10; round++)
        s_tick (&world, now += 100);
    assert (s_held (server, five) == five->count);
    node_destroy (&gw2->node);
    uint64_t rate = 64 * 1024;
    s_start (&world, 2, NODE_CHUNK_BUDGET, rate, now);
    s_link (&world, 2, now);
    s_run (&world, now, SIZE_MAX);
    s_want (gw2, five, now);
    uint64_t start = now;
    uint64_t held_bytes = 0, total_bytes = 0;
    while (now - start < 60000) {
        s_tick (&world, now += 100);
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

    for (int i = 0; i < T_NODES; i++) {
        t_node_t *node = &world.nodes [i];
        node_destroy (&node->node);
        store_destroy (&node->store);
        zdir_t *tree = zdir_new (node->dir, NULL);
        zdir_remove (tree, true);
        zdir_destroy (&tree);
        keys_wipe (&node->keys);
    }
    node_wire_purge (world.wire);
    zlistx_destroy (&world.wire);
    zhashx_destroy (&world.uplink);
    for (size_t r = 0; r < world.held_count; r++)
        s_release_destroy (&world.held [r]);
    keys_wipe (&world.ca);
    keys_wipe (&world.coord);
    //  @end
    printf ("OK\n");
}
