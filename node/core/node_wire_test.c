/*  node_wire - selftest support: node cores wired in memory (see
    node_wire.h)  */

#include "proto/corelib.h"
#include "node/core/mesh.h"
#include "node/core/node_wire.h"

int
node_wire_index (const char *const *names, int count, const char *link)
{
    if (streq (link, MESH_COORDINATOR))
        return NODE_WIRE_COORD;
    for (int i = 0; i < count; i++)
        if (names [i] && streq (names [i], link))
            return i;
    return NODE_WIRE_NONE;
}

void
node_wire_add (zlistx_t *wire, int from, int to, const char *dest, const uint8_t *frame,
               size_t size)
{
    node_wire_msg_t *msg = (node_wire_msg_t *) zmalloc (sizeof (node_wire_msg_t));
    msg->from = from;
    msg->to = to;
    if (dest) {
        snprintf (msg->dest, sizeof msg->dest, "%s", dest);
        msg->has_dest = true;
    }
    msg->frame = (uint8_t *) zmalloc (size);
    memcpy (msg->frame, frame, size);
    msg->size = size;
    zlistx_add_end (wire, msg);
}

void
node_wire_msg_destroy (node_wire_msg_t **msg_p)
{
    if (*msg_p) {
        free ((*msg_p)->frame);
        free (*msg_p);
        *msg_p = NULL;
    }
}

void
node_wire_purge (zlistx_t *wire)
{
    node_wire_msg_t *msg;
    while ((msg = (node_wire_msg_t *) zlistx_detach (wire, NULL)))
        node_wire_msg_destroy (&msg);
}
