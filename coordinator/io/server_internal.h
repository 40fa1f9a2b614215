/*  server_internal - what server.c and server_acks.c share: a mesh
    reply held for the burst's group commit, and sending on a ROUTER.  */

#ifndef WEFT_SERVER_INTERNAL_H_INCLUDED
#define WEFT_SERVER_INTERNAL_H_INCLUDED

#include <czmq.h>
#include "proto/meshmsg.h"
#include "proto/io/workpool.h"
#include "coordinator/core/coord.h"

#define SERVER_BURST    256         //  Mesh messages per group commit
_Static_assert (SERVER_BURST <= MESHMSG_ACK_IDS_MAX, "a burst's ids fit one CUSTODY_ACK");

//  A mesh reply waiting for the group commit
typedef struct {
    zframe_t *route;                //  Routing id
    bool delimiter;                 //  Request had an empty delimiter
    uint8_t *frame;                 //  Reply envelope, or NULL
    size_t size;
    char user_id [COORD_USER_ID_MAX + 1];
    char dest [WEFT_NAME_MAX + 1];  //  Reply as a custody transfer to this
    bool ack;                       //  Send a CUSTODY_ACK of ack_id
    uint8_t ack_id [WEFT_ID_SIZE];
    int ack_status;                 //  With this status and reason
    char ack_reason [WEFT_TEXT_MAX + 1];
} server_held_t;

//  Send [routing id, (delimiter,) frame] without blocking. Returns 0 or
//  -1 with errno (EHOSTUNREACH: the peer is gone; EAGAIN: queue full).
int
    server_send (zsock_t *sock, zframe_t *route, bool delimiter, const uint8_t *frame,
                 size_t size);

//  The CUSTODY_ACKs of a burst whose commit held (count held replies),
//  sealed on pool and sent on mesh (server_acks.c)
void
    server_send_acks (coord_t *coord, workpool_t *pool, zsock_t *mesh, bool verbose,
                      server_held_t *held, size_t count, uint64_t now_ms);

#endif
