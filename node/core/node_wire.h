/*  node_wire - selftest support: node cores wired to each other in
    memory (node_test.c, fetch_test.c)
    A link's name is its peer's name on both sides, and the link to the
    coordinator is MESH_COORDINATOR. What a core sends waits on the wire
    (a list of node_wire_msg_t, oldest first) until the test hands it
    over to node_frame, or plays the coordinator's side itself.  */

#ifndef WEFT_NODE_WIRE_H_INCLUDED
#define WEFT_NODE_WIRE_H_INCLUDED

#include "proto/proto.h"

#define NODE_WIRE_COORD     -1      //  The coordinator's index on the wire
#define NODE_WIRE_NONE      -2      //  No such link

typedef struct {
    int from, to;                   //  Node index, or NODE_WIRE_COORD
    char dest [WEFT_NAME_MAX + 1];  //  Custody destination, if has_dest
    bool has_dest;
    uint8_t *frame;
    size_t size;
} node_wire_msg_t;

//  The index among names (count of them) of the peer link leads to,
//  NODE_WIRE_COORD for MESH_COORDINATOR, or NODE_WIRE_NONE.
int
    node_wire_index (const char *const *names, int count, const char *link);

//  A copy of frame from node from to node to (dest: custody toward
//  dest, or NULL for a link-local envelope), at the end of wire.
void
    node_wire_add (zlistx_t *wire, int from, int to, const char *dest, const uint8_t *frame,
                   size_t size);

void
    node_wire_msg_destroy (node_wire_msg_t **msg_p);

//  Destroy every message on wire (the list stays).
void
    node_wire_purge (zlistx_t *wire);

#endif
