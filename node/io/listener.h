/*  listener - weft-node's mesh listener: a CURVE ROUTER (ZAP domain
    "mesh") and the connection behind each peer on it
    Each peer is a link named "r:" and the hex of its routing id. The
    listener knows which connection carries it (tcplink_conn_t, from the
    first message), so that it can close that one peer alone (a revoked
    neighbour, a refused HELLO) while every other peer stays connected,
    and tell the mesh when a peer's connection is gone: closed by the
    peer, or dropped by the heartbeat (tcplink.h) because the peer went
    silent. A socket monitor's DISCONNECTED events make it look at once;
    it also looks every LISTENER_SWEEP_MS.  */

#ifndef WEFT_LISTENER_H_INCLUDED
#define WEFT_LISTENER_H_INCLUDED

#include <czmq.h>
#include "proto/proto.h"
#include "proto/keys.h"

#define LISTENER_SWEEP_MS   1000        //  Look at every connection this often
#define LISTENER_LINK_MAX   (2 + 256)   //  "r:" and a routing id in hex

typedef struct _listener_t listener_t;

//  Bind endpoint (a ZAP handler must already run in this process), with
//  the link timers of heartbeat interval heartbeat_ms. Returns NULL and
//  logs if it cannot bind within 5 s.
listener_t *
    listener_new (const char *endpoint, const keys_t *keys, uint64_t heartbeat_ms);

void
    listener_destroy (listener_t **self_p);

//  Sockets for a zpoller: the ROUTER, and its monitor.
zsock_t *
    listener_sock (listener_t *self);
zsock_t *
    listener_monitor (listener_t *self);

//  One message if one waits: [routing id, frame] or [routing id, dest,
//  frame]. Fills link (the peer's link name) and key (its CURVE key,
//  from ZAP's User-Id), *dest_p (heap, NULL for none) and *msg_p (the
//  caller owns both; the envelope is zmsg_last). Returns 1 if this is
//  the first message of that peer, 0 for a known one, PROTO_ERR_EMPTY
//  if nothing waits, PROTO_ERR_DROPPED if the message was dropped
//  (malformed, or left over from a connection that is gone or being
//  closed): call again.
int
    listener_recv (listener_t *self, char link [LISTENER_LINK_MAX + 1], uint8_t key [32],
                   char **dest_p, zmsg_t **msg_p);

//  Close the connection of one peer (the others stay). Returns 0, or
//  -1 if it is not known or gone already. Its link is reported gone by
//  the next listener_gone.
int
    listener_close (listener_t *self, const char *link);

//  A monitor event is waiting: read it (call when listener_monitor is
//  readable); the next listener_gone looks at the connections.
void
    listener_event (listener_t *self, uint64_t now_ms);

//  When listener_gone next wants to run (unix ms).
uint64_t
    listener_deadline (listener_t *self);

//  Names of the peers whose connection is gone (closed, or dropped by
//  the heartbeat), forgotten now; NULL if none or not due. Caller
//  destroys the list (of heap strings).
zlistx_t *
    listener_gone (listener_t *self, uint64_t now_ms);

//  Peers known.
size_t
    listener_size (listener_t *self);

void
    listener_test (bool verbose);

#endif
