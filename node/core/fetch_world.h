/*  fetch_world - selftest support for the chunk exchange (fetch_test.c):
    a site server (node 0, srv-1) and three gateways, each a whole node
    core over its own real LMDB store, wired to each other in memory
    (node_wire; links named after their peers). The server's coordinator
    link is played by the world, which holds the releases in held and
    answers CHUNK_WANT as the coordinator does (CHUNK_DATA signed with
    its key), counting what crosses the uplink. The gateways link to
    the server and to each other in a ring.  */

#ifndef WEFT_FETCH_WORLD_H_INCLUDED
#define WEFT_FETCH_WORLD_H_INCLUDED

#include "proto/proto.h"
#include "proto/keys.h"
#include "proto/store.h"
#include "node/core/node.h"

#define FWORLD_NODES    4               //  srv-1, gw-1, gw-2, gw-3
#define FWORLD_CHUNKS   40              //  Chunks of a release, about
#define FWORLD_RELEASES 8               //  In held, at most

typedef struct _fworld_t fworld_t;

typedef struct {
    fworld_t *world;
    int index;
    node_t *node;
    keys_t keys;
    char name [16];
    store_t *store;
    char dir [64];
} fworld_node_t;

//  A release: its manifest and packed chunks
typedef struct _fworld_release_t {
    uint8_t *manifest;
    size_t manifest_size;
    uint8_t hash [32];
    size_t count;
    uint8_t (*addresses) [32];
    uint8_t **packed;
    size_t *packed_size;
    uint32_t *size;
    //  A release edited from another (fworld_release_edit): its changed
    //  chunks as deltas against from's chunks over the same bytes (NULL
    //  where none is smaller than the packed chunk)
    const struct _fworld_release_t *from;
    uint8_t **delta;
    size_t *delta_size;
    uint8_t *data;                      //  Its bytes, size of them
    size_t data_size;
} fworld_release_t;

struct _fworld_t {
    fworld_node_t nodes [FWORLD_NODES];
    const char *names [FWORLD_NODES];   //  The nodes' names, for node_wire_index
    zlistx_t *wire;                     //  Of node_wire_msg_t
    keys_t ca, coord;
    //  Frames from node i to node j (NODE_WIRE_COORD: the coordinator)
    //  are lost, at [i + 1][j + 1]
    bool mute [FWORLD_NODES + 1][FWORLD_NODES + 1];
    bool verbose;
    //  The coordinator's side: what it holds, and what it sent up
    fworld_release_t *held [FWORLD_RELEASES];
    size_t held_count;
    zhashx_t *uplink;               //  Address (hex) -> times sent (in the pointer)
    uint64_t uplink_chunks, uplink_bytes;
    uint64_t uplink_deltas;         //  Of the chunks, sent as deltas
    int corrupt;                    //  Damage the next N chunks it sends
    int stale;                      //  The next N deltas name a base nobody holds
    //  A neighbour that sends bad bytes: its next N chunks are damaged
    //  and signed again with its key (the mesh passes them)
    int damage_from, damage;
    //  Frames handed over in bursts (what is on the wire at once), each
    //  node settling once after its burst, as weft-node's poll loop
    //  does; else each frame is a burst of its own
    bool bursts;
};


//  A world of a server and three gateways, nodes not started
void
    fworld_init (fworld_t *world, bool verbose);

//  Nodes, stores (their directories too) and held releases destroyed
void
    fworld_fini (fworld_t *world);

//  Node index started over its store (made at its first start) with a
//  certificate of tenant (role server for node 0), a chunk budget and
//  a rate per peer
void
    fworld_start_as (fworld_t *world, int index, const char *tenant, uint64_t budget,
                     uint64_t rate, uint64_t now);

//  The same, of tenant acme
void
    fworld_start (fworld_t *world, int index, uint64_t budget, uint64_t rate, uint64_t now);

//  Every node started (tenant acme, the default budget, no rate) and
//  linked, the wire run quiet
void
    fworld_up (fworld_t *world, uint64_t now);

//  Node index's links up, on both sides (as after its restart); the
//  HELLOs wait on the wire
void
    fworld_link (fworld_t *world, int index, uint64_t now);

//  Hand over what is on the wire until it is quiet, or limit messages.
//  Returns how many were handed over.
size_t
    fworld_run (fworld_t *world, uint64_t now, size_t limit);

//  Every node ticks, then the wire runs quiet
void
    fworld_tick (fworld_t *world, uint64_t now);

//  Take the actions a node queued (none matter here)
void
    fworld_drain (fworld_node_t *node);

//  A release of about FWORLD_CHUNKS random chunks
fworld_release_t *
    fworld_release_new (const char *version);

//  A release of from's bytes with edits of edit_size random bytes
//  spread evenly, its changed chunks also as deltas against the chunks
//  of from over the same bytes (as build --delta-from); the coordinator
//  sends those deltas to an asker whose have names from
fworld_release_t *
    fworld_release_edit (const fworld_release_t *from, const char *version, size_t edits,
                         size_t edit_size);

void
    fworld_release_destroy (fworld_release_t **release_p);

//  The node wants the release (fetch_want, then the node settles)
void
    fworld_want (fworld_node_t *node, fworld_release_t *release, uint64_t now);

//  How many of the release's chunks the node holds
size_t
    fworld_held (fworld_node_t *node, fworld_release_t *release);

//  The coordinator sends the server chunk c of release, asked or not
void
    fworld_coord_data (fworld_t *world, fworld_release_t *release, size_t c, uint64_t now);

//  Selftest of deltas over the uplink (fetch_delta_test.c)
void
    fetch_delta_test (bool verbose);

//  Selftest of a metered uplink (fetch_meter_test.c)
void
    fetch_meter_test (bool verbose);

#endif
