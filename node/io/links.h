/*  links - weft-node's ZeroMQ links, bound to the node core
    The CURVE DEALER to the coordinator (optional), DEALERs to the
    configured neighbours and to peers found by LAN beacons (--beacon:
    node/core/discovery.h decides, node/io/beacon.h hears and sends),
    and our own ROUTER listener whose ZAP handler admits only keys the
    node's mesh does not refuse. Frames read in a burst have their
    signatures checked on threads (sigcheck.h) and are fed to the node's
    mesh in order; the driver then settles the node once for the burst.
    Link names are the mesh's: "coordinator", "d:N" for the N-th dialled
    slot (configured ones first), "r:HEX" for a peer of the listener.
    A test-only fault switch (--fault-file PATH) cuts the coordinator
    link, or the links to named neighbours, while PATH exists.  */

#ifndef WEFT_LINKS_H_INCLUDED
#define WEFT_LINKS_H_INCLUDED

#include <czmq.h>
#include "proto/keys.h"
#include "node/core/node.h"

#define LINKS_NEIGHBOURS_MAX    32

typedef struct {
    const keys_t *keys;                 //  Our keys, borrowed
    const char *coord_endpoint;         //  NULL or "": do not dial the coordinator
    const uint8_t *coord_curve;         //  Its CURVE key
    const char *neighbours;             //  "KEYHEX@ENDPOINT,..." or NULL
    const char *listen;                 //  Our listener endpoint, or NULL
    const char *beacon;                 //  Beacon interfaces, or NULL
    uint16_t beacon_port;
    const uint8_t *ca_key;              //  The deployment (beacons)
    uint64_t heartbeat_ms;              //  Every link's timers
    size_t verify_threads;              //  Signature checks off the loop
    const char *fault_file;             //  Tests only, or NULL
    bool verbose;
} links_config_t;

typedef struct _links_t links_t;

//  Parse the neighbours; nothing is opened yet. NULL if the neighbour
//  list is malformed (error says why).
links_t *
    links_new (const links_config_t *config, zpoller_t *poller, char *error,
               size_t error_size);
void
    links_destroy (links_t **self_p);

//  The node core's transport (node_links_t.send's context is self).
node_links_t
    links_binding (links_t *self);

//  Open everything for node (borrowed, outlives self): the ZAP handler
//  (ops also admits operators on the "ops" domain), the listener,
//  beacons, the dials. Returns 0 or -1 (logged).
int
    links_start (links_t *self, node_t *node, bool zap_needed);

//  A socket of ours is readable: handle it. True if it was ours.
bool
    links_handle (links_t *self, void *which, uint64_t now_ms);

//  Right after each poll: the test-only fault switch.
void
    links_faults (links_t *self, uint64_t now_ms);

//  After the node settled: discovery's dials and drops, listener peers
//  whose connection is gone (the node settles them next time).
void
    links_tick (links_t *self, uint64_t now_ms);

//  Close a link the node let go (a revoked peer).
void
    links_close (links_t *self, const char *link);

//  Earliest deadline of the listener's link timers (Unix ms), 0 if none.
uint64_t
    links_deadline (links_t *self);

#endif
