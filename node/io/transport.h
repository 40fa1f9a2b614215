/*  transport - the node's CURVE link to the coordinator
    A DEALER, CURVE client with our keys and the coordinator's server
    key from its certificate. ZeroMQ reconnects on its own; a socket
    monitor reports each completed CURVE handshake, so the agent can
    heartbeat at once on every (re)connection. Sends never block: with
    ZMQ_IMMEDIATE nothing is queued while the link is down, and the
    agent's own retransmits cover what is lost.  */

#ifndef WEFT_TRANSPORT_H_INCLUDED
#define WEFT_TRANSPORT_H_INCLUDED

#include <czmq.h>
#include "proto/keys.h"

typedef enum {
    TRANSPORT_NONE = 0,             //  Some other monitor event
    TRANSPORT_CONNECTED = 1,        //  CURVE handshake succeeded
    TRANSPORT_DISCONNECTED = 2,     //  Link lost
    TRANSPORT_REFUSED = 3           //  Coordinator refused our key
} transport_event_t;

typedef struct _transport_t transport_t;

//  Connect to endpoint, with the link timers of heartbeat interval
//  heartbeat_ms (tcplink.h). Returns NULL and logs if the endpoint is bad.
transport_t *
    transport_new (const char *endpoint, const keys_t *keys,
                   const uint8_t server_key [32], uint64_t heartbeat_ms, bool verbose);

void
    transport_destroy (transport_t **self_p);

//  Sockets for a zpoller: data, and monitor events.
zsock_t *
    transport_sock (transport_t *self);
zsock_t *
    transport_monitor (transport_t *self);

//  Send one frame without blocking. Returns 0, or -1 if not queued.
int
    transport_send (transport_t *self, const uint8_t *frame, size_t size);

//  Receive one message if one is waiting (never blocks). Returns the
//  last frame of it, which the caller destroys, or NULL.
zframe_t *
    transport_recv (transport_t *self);

//  Read one monitor event (call when transport_monitor is readable).
int
    transport_event (transport_t *self);

void
    transport_test (bool verbose);

#endif
