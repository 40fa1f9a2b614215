/*  mesh_fabric - selftest support: mesh nodes wired to each other in
    memory, over one real store, for the mesh selftests (mesh_test.c,
    mesh_attest_test.c)
    A link's name is "n<i>" on both sides: at node j the link to node i
    is "n<i>". What a node sends waits on the wire until fabric_run
    hands it over; cut [i][j] makes node i's sends to node j fail.  */

#ifndef WEFT_MESH_FABRIC_H_INCLUDED
#define WEFT_MESH_FABRIC_H_INCLUDED

#include "proto/envelope.h"
#include "proto/keys.h"
#include "proto/meshmsg.h"
#include "proto/policymsg.h"
#include "node/core/mesh.h"

#define FABRIC_NODES 4
#define FABRIC_EPOCH_MS 1767225600000ULL     //  The tests' clock starts here

typedef struct _fabric_t fabric_t;

//  The effects' context of one node
typedef struct {
    fabric_t *world;
    int index;
} fabric_ctx_t;

typedef struct {
    mesh_t *mesh;
    char name [16];
    keys_t keys;
    fabric_ctx_t ctx;
    int delivered;                      //  Frames given to the agent
    int refuse;                         //  Status the agent answers with, 0 = take
    uint8_t last [256];                 //  The last of them, cut to 256 bytes
    size_t last_size;
} fabric_node_t;

//  A link message on the wire: to node index, link name at the receiver
typedef struct {
    int to;
    char link [32];
    char dest [WEFT_NAME_MAX + 1];
    bool has_dest;
    uint8_t *frame;
    size_t size;
} fabric_msg_t;

struct _fabric_t {
    fabric_node_t nodes [FABRIC_NODES];
    zlistx_t *wire;                     //  Of fabric_msg_t
    bool cut [FABRIC_NODES][FABRIC_NODES];
    int to_coord;                       //  Custody frames to the coordinator
    store_t *store;
    keys_t ca, coord;                   //  The CA's and coordinator's keys
    char dir [64];                      //  The store's temporary directory
};

//  How fabric_start starts a node; zero values are the defaults
typedef struct {
    const char *role;                   //  Device type: "gateway"
    uint64_t serial;                    //  Certificate serial: index + 10
    const char *prefix;                 //  Store prefix: "<index>/"
    bool admit_unattested;
    bool verbose;
} fabric_start_t;

//  A world of count nodes named "gw-<i>", none started: a store in a new
//  temporary directory (named after name), new CA and coordinator keys
void
    fabric_init (fabric_t *world, int count, const char *name);

//  Destroy the first count nodes, the wire, the keys, the store and
//  its directory
void
    fabric_fini (fabric_t *world, int count);

//  A node certificate by ca for keys, valid a day from now; ak_name
//  (CERT_AK_NAME_SIZE bytes) binds a TPM AK, or NULL. Caller frees.
uint8_t *
    fabric_cert (const keys_t *ca, const keys_t *keys, const char *name, const char *tenant,
                 const char *role, uint64_t serial, uint64_t now, const uint8_t *ak_name,
                 size_t *size_p);

//  Start node index's mesh with a node certificate of the CA
void
    fabric_start (fabric_t *world, int index, uint64_t now, const fabric_start_t *options);

//  Node index's mesh started again from what the store kept; its
//  certificate is a placeholder, so it is only read, never linked
void
    fabric_restart_from_store (fabric_t *world, int index, uint64_t now);

//  Links the first count nodes in a line: node 0 to the coordinator,
//  node i+1 dialling node i, each link run until quiet
void
    fabric_line (fabric_t *world, int count, uint64_t now);

//  Hand over what is on the wire, and flush every node, until quiet
void
    fabric_run (fabric_t *world, uint64_t now);

//  Every one of the first count nodes ticks at now, then fabric_run
void
    fabric_tick (fabric_t *world, int count, uint64_t now);

//  The mesh's send effect: node ctx sends frame on link (to dest)
int
    fabric_send (void *ctx, const char *link, const char *dest, const uint8_t *frame,
                 size_t size);

//  An envelope signed by keys (a random id), stamped FABRIC_EPOCH_MS (its
//  hlc, which the relays' de-duplication window reads); caller frees
uint8_t *
    fabric_envelope (const keys_t *keys, const char *origin, int type, uint64_t seq,
                     const uint8_t *payload, size_t payload_size, size_t *size_p);

//  The same, stamped time_ms
uint8_t *
    fabric_envelope_at (const keys_t *keys, const char *origin, int type, uint64_t seq,
                        uint64_t time_ms, const uint8_t *payload, size_t payload_size,
                        size_t *size_p);

//  A list signed by the coordinator (QUARANTINE, REVOCATIONS) handed to
//  node 0 for every node ("*"); then fabric_run
void
    fabric_coordinator_list (fabric_t *world, const meshmsg_t *list, uint64_t seq,
                             uint64_t now);

//  Node index's own envelope (a small payload) into its mesh's custody
void
    fabric_send_own (fabric_t *world, int index, int type, uint64_t seq);

//  Offer policy, signed by the CA, to node index's policy store
void
    fabric_policy (fabric_t *world, int index, const policy_object_t *policy);

#endif
