/*  server - weft-coord's sockets and event loop
    Three CURVE ROUTER sockets (mesh, enrol, rpc) with the coordinator's
    own CURVE key, each with its ZAP domain, and the ZAP handler bound
    before any of them, all served by one zpoller loop in the calling
    thread. The loop feeds frames to the coord core with the link's
    User-Id and the wall clock, sends the replies, keeps the routing id
    of each device's latest mesh connection for pushes, and sleeps until
    the core's next deadline. Mesh messages are read in bursts whose
    replay windows commit together before any reply of the burst goes
    out (one fsync per burst). Nothing in the loop blocks: sends use
    DONTWAIT with ROUTER_MANDATORY, so a vanished peer costs a failed
    send, never a stall.  */

#ifndef WEFT_SERVER_H_INCLUDED
#define WEFT_SERVER_H_INCLUDED

#include "proto/keys.h"
#include "proto/store.h"
#include "coordinator/core/coord.h"

typedef struct {
    const char *bind;               //  Address to listen on, e.g. 127.0.0.1
    int mesh_port;                  //  Nodes
    int enrol_port;                 //  Enrolment
    int rpc_port;                   //  Operators
    uint64_t heartbeat_ms;          //  Link timers (tcplink.h) and online window; 0 = 5 s
    bool verbose;                   //  Log every message
    int verify_threads;             //  Verifier pool: workers besides the loop (0: none)
} server_config_t;

typedef struct _server_t server_t;

//  Create the core over the store and bind every socket. Returns NULL
//  (logged) if a port cannot be bound or the ZAP endpoint is taken.
server_t *
    server_new (const server_config_t *config, store_t *store, const keys_t *ca,
                const keys_t *keys, const uint8_t *cert, size_t cert_size);

//  Unbind, flush the core's batches and free.
void
    server_destroy (server_t **self_p);

//  Serve until SIGINT/SIGTERM (zsys_interrupted). Returns 0.
int
    server_run (server_t *self);

//  Serve for at most timeout_ms or until interrupted (for tests).
int
    server_run_for (server_t *self, int64_t timeout_ms);

//  Port bound for "mesh", "enrol" or "rpc" (-1 for another name).
int
    server_port (server_t *self, const char *which);

//  The core (borrowed).
coord_t *
    server_coord (server_t *self);

//  Mesh signatures checked on the verifier pool so far, and of those
//  the ones that did not verify (the core checks those again, and
//  refuses them).
uint64_t
    server_pool_checked (server_t *self, uint64_t *failed_p);

void
    server_test (bool verbose);

void
    server_pool_test (bool verbose);

#endif
