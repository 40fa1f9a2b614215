/*  fetch_world - selftest support for the chunk exchange: a site server
    and three gateways over real stores (see fetch_world.h)  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/envelope.h"
#include "proto/chunker.h"
#include "proto/manifest.h"
#include "proto/updmsg.h"
#include "node/core/mesh_fabric.h"
#include "node/core/node_wire.h"
#include "node/core/fetch_world.h"

static int
s_send (void *ctx, const char *link, const char *dest, const uint8_t *frame, size_t size)
{
    fworld_node_t *node = (fworld_node_t *) ctx;
    int to = node_wire_index (node->world->names, FWORLD_NODES, link);
    if (to == NODE_WIRE_NONE)
        return -1;
    if (!dest)                      //  Custody traffic is not this test's
        node_wire_add (node->world->wire, node->index, to, NULL, frame, size);
    return 0;
}

void
fworld_drain (fworld_node_t *node)
{
    while (node_next (node->node))
        ;
}

//  A CHUNK_DATA from the coordinator to node to, on the wire
static void
s_coord_send (fworld_t *world, int to, const updmsg_t *data, uint64_t now)
{
    uint8_t *payload;
    size_t payload_size;
    assert (updmsg_encode (data, &payload, &payload_size) == 0);
    size_t size;
    uint8_t *frame = fabric_envelope_at (&world->coord, MESH_COORDINATOR, MSG_CHUNK_DATA, 1,
                                         now, payload, payload_size, &size);
    node_wire_add (world->wire, NODE_WIRE_COORD, to, NULL, frame, size);
    free (frame);
    free (payload);
}

//  Does the want name this release in its have?
static bool
s_has (const updmsg_t *want, const uint8_t hash [32])
{
    for (size_t i = 0; i < want->have_count; i++)
        if (memcmp (want->have + 32 * i, hash, 32) == 0)
            return true;
    return false;
}

//  The coordinator answers a CHUNK_WANT from the server's uplink
static void
s_coordinator (fworld_t *world, node_wire_msg_t *msg, uint64_t now)
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
            fworld_release_t *release = world->held [r];
            if (memcmp (release->hash, want.manifest, 32))
                continue;
            for (size_t c = 0; c < release->count; c++)
                if (memcmp (release->addresses [c], address, 32) == 0) {
                    data.size = release->size [c];
                    data.packed = release->packed [c];
                    data.packed_size = release->packed_size [c];
                    if (release->delta && release->delta [c]
                    &&  s_has (&want, release->from->hash)) {
                        data.delta = release->delta [c];
                        data.delta_size = release->delta_size [c];
                    }
                }
        }
        uint8_t stale [UPDMSG_DELTA_MAX];
        if (data.delta_size) {
            data.packed = NULL;
            data.packed_size = 0;
            world->uplink_deltas++;
            if (world->stale) {
                world->stale--;
                memcpy (stale, data.delta, data.delta_size);
                stale [1] ^= 0x01;          //  Its first base: nobody holds that
                data.delta = stale;
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
            world->uplink_bytes += data.packed_size + data.delta_size;
        }
        s_coord_send (world, msg->from, &data, now);
    }
}

//  A CHUNK_DATA from node msg->from with a chunk: one bit of the chunk
//  flipped, signed again by its sender. false if not such a message.
static bool
s_damage (fworld_t *world, node_wire_msg_t *msg)
{
    envelope_t env;
    updmsg_t data;
    if (envelope_decode (&env, msg->frame, msg->size) || env.type != MSG_CHUNK_DATA
    ||  updmsg_decode (&data, MSG_CHUNK_DATA, env.payload, env.payload_size) || !data.size)
        return false;
    uint8_t damaged [UPDMSG_PACKED_MAX];
    memcpy (damaged, data.packed, data.packed_size);
    damaged [data.packed_size / 2] ^= 0x01;
    data.packed = damaged;
    uint8_t *payload, *frame;
    size_t payload_size, size;
    assert (updmsg_encode (&data, &payload, &payload_size) == 0);
    env.payload = payload;
    env.payload_size = payload_size;
    assert (envelope_encode (&env, world->nodes [msg->from].keys.sign_secret, &frame, &size)
            == 0);
    free (payload);
    free (msg->frame);
    msg->frame = frame;
    msg->size = size;
    return true;
}

//  Hand over what is on the wire until it is quiet, or limit messages
size_t
fworld_run (fworld_t *world, uint64_t now, size_t limit)
{
    size_t handed = 0;
    node_wire_msg_t *msg;
    //  In bursts: what is on the wire now, each node settling once after
    size_t burst = world->bursts? zlistx_size (world->wire): 0;
    bool touched [FWORLD_NODES] = { false };
    while ((msg = (node_wire_msg_t *) zlistx_first (world->wire)) && handed < limit) {
        zlistx_detach_cur (world->wire);
        handed++;
        if (world->damage && msg->from == world->damage_from && s_damage (world, msg))
            world->damage--;
        if (world->mute [msg->from + 1][msg->to + 1])
            ;
        else
        if (msg->to == NODE_WIRE_COORD)
            s_coordinator (world, msg, now);
        else
        if (world->nodes [msg->to].node) {
            fworld_node_t *node = &world->nodes [msg->to];
            const char *link = msg->from == NODE_WIRE_COORD? MESH_COORDINATOR
                                                   : world->nodes [msg->from].name;
            if (world->bursts) {
                node_clock (node->node, now);
                mesh_on_frame (node_mesh (node->node), link, NULL, msg->frame, msg->size, now);
                touched [msg->to] = true;
            }
            else {
                node_frame (node->node, link, NULL, msg->frame, msg->size, now);
                fworld_drain (node);
            }
        }
        node_wire_msg_destroy (&msg);
        if (world->bursts && (--burst == 0 || handed == limit)) {
            for (int i = 0; i < FWORLD_NODES; i++)
                if (touched [i] && world->nodes [i].node) {
                    node_settle (world->nodes [i].node, now);
                    fworld_drain (&world->nodes [i]);
                    touched [i] = false;
                }
            burst = zlistx_size (world->wire);
        }
    }
    return handed;
}

//  Every node ticks, then the wire runs quiet
void
fworld_tick (fworld_t *world, uint64_t now)
{
    for (int i = 0; i < FWORLD_NODES; i++)
        if (world->nodes [i].node) {
            node_tick (world->nodes [i].node, now);
            fworld_drain (&world->nodes [i]);
        }
    fworld_run (world, now, SIZE_MAX);
}

void
fworld_start_as (fworld_t *world, int index, const char *tenant, uint64_t budget, uint64_t rate,
            uint64_t now)
{
    fworld_node_t *node = &world->nodes [index];
    if (!node->store) {
        const char *tables [] = { AGENT_TABLE, MESH_TABLE, OUTBOX_TABLE, CHUNKSTORE_TABLE,
                                  FETCH_TABLE, UPDATE_TABLE, NULL };
        snprintf (node->dir, sizeof node->dir, "/tmp/weft-fetch-core.XXXXXX");
        assert (mkdtemp (node->dir));
        node->store = store_new (node->dir, tables, 0);
        assert (node->store);
    }
    size_t cert_size;
    uint8_t *cert = fabric_cert (&world->ca, &node->keys, node->name, tenant,
                                 index == 0? "server": "gateway", (uint64_t) index + 10, now,
                                 NULL, &cert_size);
    node_config_t config = {
        .name = node->name, .tenant = tenant, .keys = &node->keys, .cert = cert,
        .cert_size = cert_size, .ca_key = world->ca.sign_public,
        .coord_sign = world->coord.sign_public, .heartbeat_ms = 1000, .store = node->store,
        .prefix = "", .admit_unattested = true, .chunk_budget = budget,
        .chunk_rate = rate, .verbose = world->verbose
    };
    node_links_t links = { node, s_send, NULL };
    node->node = node_new (&config, &links, now);
    assert (node->node);
    free (cert);
    fworld_drain (node);
}

void
fworld_start (fworld_t *world, int index, uint64_t budget, uint64_t rate, uint64_t now)
{
    fworld_start_as (world, index, "acme", budget, rate, now);
}

void
fworld_up (fworld_t *world, uint64_t now)
{
    for (int i = 0; i < FWORLD_NODES; i++)
        fworld_start (world, i, NODE_CHUNK_BUDGET, 0, now);
    for (int i = 0; i < FWORLD_NODES; i++)
        fworld_link (world, i, now);
    fworld_run (world, now, SIZE_MAX);
}

//  Node index's links up: the server's uplink and the gateways' links
//  to it and to each other in a ring, on both sides (the HELLOs wait on
//  the wire)
void
fworld_link (fworld_t *world, int index, uint64_t now)
{
    fworld_node_t *node = &world->nodes [index];
    if (index == 0) {
        node_link_up (node->node, MESH_COORDINATOR, MESH_LINK_COORDINATOR,
                      world->coord.curve_public, now);
        for (int i = 1; i < FWORLD_NODES; i++)
            node_link_up (node->node, world->nodes [i].name, MESH_LINK_ACCEPTED,
                          world->nodes [i].keys.curve_public, now);
    }
    else {
        int gateways = FWORLD_NODES - 1;
        int next = index % gateways + 1, previous = (index + gateways - 2) % gateways + 1;
        node_link_up (node->node, world->nodes [next].name, MESH_LINK_DIALLED,
                      world->nodes [next].keys.curve_public, now);
        node_link_up (node->node, world->nodes [previous].name, MESH_LINK_ACCEPTED,
                      world->nodes [previous].keys.curve_public, now);
        //  And theirs to it (new connections, as after its restart)
        if (world->nodes [next].node)
            node_link_up (world->nodes [next].node, node->name, MESH_LINK_ACCEPTED,
                          node->keys.curve_public, now);
        if (world->nodes [previous].node) {
            node_link_up (world->nodes [previous].node, node->name, MESH_LINK_DIALLED,
                          node->keys.curve_public, now);
            fworld_drain (&world->nodes [previous]);
        }
        node_link_up (world->nodes [0].node, node->name, MESH_LINK_ACCEPTED,
                      node->keys.curve_public, now);
        node_link_up (node->node, world->nodes [0].name, MESH_LINK_DIALLED,
                      world->nodes [0].keys.curve_public, now);
        fworld_drain (&world->nodes [0]);
    }
    fworld_drain (node);
}

//  A release of data (taken), size bytes
static fworld_release_t *
s_release (uint8_t *data, size_t size, const char *version)
{
    chunker_t *chunker = chunker_new ();
    fworld_release_t *release = (fworld_release_t *) zmalloc (sizeof (fworld_release_t));
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
    release->data = data;
    release->data_size = size;
    return release;
}

//  A release of about FWORLD_CHUNKS random chunks
fworld_release_t *
fworld_release_new (const char *version)
{
    size_t size = FWORLD_CHUNKS * CHUNKER_AVG;
    uint8_t *data = (uint8_t *) zmalloc (size);
    randombytes_buf (data, size);
    return s_release (data, size, version);
}

fworld_release_t *
fworld_release_edit (const fworld_release_t *from, const char *version, size_t edits,
                     size_t edit_size)
{
    assert (edit_size < from->data_size / (edits + 1));
    uint8_t *data = (uint8_t *) zmalloc (from->data_size);
    memcpy (data, from->data, from->data_size);
    for (size_t e = 1; e <= edits; e++)
        randombytes_buf (data + e * (from->data_size - edit_size) / (edits + 1), edit_size);
    fworld_release_t *release = s_release (data, from->data_size, version);
    release->from = from;
    release->delta = (uint8_t **) zmalloc (release->count * sizeof (uint8_t *));
    release->delta_size = (size_t *) zmalloc (release->count * sizeof (size_t));
    //  Bases as weft-artifact build --delta-from takes them by offset: the
    //  chunks of from over the same bytes (at most CHUNKER_DELTA_BASES,
    //  consecutive, so their bytes lie one after another in from's data)
    size_t at = 0, first = 0, first_at = 0;
    for (size_t c = 0; c < release->count; c++) {
        size_t end = at + release->size [c];
        while (first + 1 < from->count && first_at + from->size [first] <= at)
            first_at += from->size [first++];
        size_t bases = 0, base_size = 0;
        while (bases < CHUNKER_DELTA_BASES && first + bases < from->count
           &&  first_at + base_size < end)
            base_size += from->size [first + bases++];
        bool held = false;
        for (size_t b = 0; b < bases && !held; b++)
            held = memcmp (release->addresses [c], from->addresses [first + b], 32) == 0;
        if (!held) {
            uint8_t *frame;
            size_t frame_size;
            assert (chunker_delta (from->data + first_at, base_size, data + at,
                                   release->size [c], &frame, &frame_size) == 0);
            size_t delta_size = 1 + 32 * bases + frame_size;
            if (delta_size < release->packed_size [c]) {
                uint8_t *delta = (uint8_t *) zmalloc (delta_size);
                delta [0] = (uint8_t) bases;
                for (size_t b = 0; b < bases; b++)
                    memcpy (delta + 1 + 32 * b, from->addresses [first + b], 32);
                memcpy (delta + 1 + 32 * bases, frame, frame_size);
                release->delta [c] = delta;
                release->delta_size [c] = delta_size;
            }
            free (frame);
        }
        at = end;
    }
    return release;
}

void
fworld_release_destroy (fworld_release_t **release_p)
{
    fworld_release_t *release = *release_p;
    for (size_t c = 0; c < release->count; c++)
        free (release->packed [c]);
    for (size_t c = 0; release->delta && c < release->count; c++)
        free (release->delta [c]);
    free (release->delta);
    free (release->delta_size);
    free (release->data);
    free (release->packed);
    free (release->packed_size);
    free (release->size);
    free (release->addresses);
    free (release->manifest);
    free (release);
    *release_p = NULL;
}

void
fworld_want (fworld_node_t *node, fworld_release_t *release, uint64_t now)
{
    assert (fetch_want (node_fetch (node->node), release->hash, release->manifest,
                        release->manifest_size, now) == 0);
    node_settle (node->node, now);
    fworld_drain (node);
}

size_t
fworld_held (fworld_node_t *node, fworld_release_t *release)
{
    size_t held = 0, total = 0;
    assert (fetch_progress (node_fetch (node->node), release->hash, &held, &total, NULL, NULL)
            == 0);
    assert (total == release->count);
    return held;
}

//  A CHUNK_DATA from the coordinator to the server, as the test makes it
void
fworld_coord_data (fworld_t *world, fworld_release_t *release, size_t c, uint64_t now)
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
    fworld_run (world, now, SIZE_MAX);
}

//  A world of a server and three gateways (not started)
void
fworld_init (fworld_t *world, bool verbose)
{
    memset (world, 0, sizeof *world);
    world->verbose = verbose;
    world->wire = zlistx_new ();
    world->uplink = zhashx_new ();
    keys_generate (&world->ca);
    keys_generate (&world->coord);
    const char *names [] = { "srv-1", "gw-1", "gw-2", "gw-3" };
    for (int i = 0; i < FWORLD_NODES; i++) {
        fworld_node_t *node = &world->nodes [i];
        node->world = world;
        node->index = i;
        snprintf (node->name, sizeof node->name, "%s", names [i]);
        world->names [i] = node->name;
        keys_generate (&node->keys);
    }
}

void
fworld_fini (fworld_t *world)
{
    for (int i = 0; i < FWORLD_NODES; i++) {
        fworld_node_t *node = &world->nodes [i];
        node_destroy (&node->node);
        store_destroy (&node->store);
        zdir_t *tree = zdir_new (node->dir, NULL);
        zdir_remove (tree, true);
        zdir_destroy (&tree);
        keys_wipe (&node->keys);
    }
    node_wire_purge (world->wire);
    zlistx_destroy (&world->wire);
    zhashx_destroy (&world->uplink);
    for (size_t r = 0; r < world->held_count; r++)
        fworld_release_destroy (&world->held [r]);
    keys_wipe (&world->ca);
    keys_wipe (&world->coord);
}
