/*  topology - who dials whom inside a site (docs/sim.md, "Topologies")
    The gateways of a site are laid out in lanes of `depth` levels: the
    first gateway of a lane dials the site server, every other one the
    gateway before it in its lane, so a change from the coordinator hops
    through as many gateways as its level. A ring's last gateway also
    dials the server (two ways around); in a grid every gateway also
    dials the one at its level in the lane before; with cross=P a
    gateway also dials, with chance P drawn from the seed, the gateway
    one level up in the next lane. A star is lanes of one level. Each
    connection is one overlay link over the site LAN, dialled by one end
    as weft-node's --neighbour is; the mesh core routes over them (path
    vector) and the oracle searches the same links.  */

#include "sim/world_internal.h"

#define TOPO_DIALS_MAX  4           //  Primary, ring, grid, cross

int
topo_build (world_t *self)
{
    const scenario_t *scn = self->scn;
    uint32_t n = self->nodes;
    self->dial_start = (uint32_t *) zmalloc ((n + 1) * sizeof (uint32_t));
    self->dial_peer = (uint32_t *) zmalloc ((TOPO_DIALS_MAX * (size_t) n + 1) * sizeof (uint32_t));
    self->dial_owner = (uint32_t *) zmalloc ((TOPO_DIALS_MAX * (size_t) n + 1) * sizeof (uint32_t));
    self->dial_linked = (bool *) zmalloc ((TOPO_DIALS_MAX * (size_t) n + 1) * sizeof (bool));
    self->dialled_start = (uint32_t *) zmalloc ((n + 2) * sizeof (uint32_t));
    self->level = (uint8_t *) zmalloc (n + 1);
    rng_t rng;
    rng_derive (&rng, scn->seed, "topology");
    uint32_t entries = 0;
    for (uint32_t s = 0; s < self->nsites; s++) {
        const site_t *site = &self->sites [s];
        uint32_t server = site->first;
        uint32_t gateways = site->count - 1;
        uint32_t depth = scn->topology == SCN_STAR? 1: scn->depth;
        uint32_t lanes = (gateways + depth - 1) / depth;
        self->dial_start [server] = entries;
        for (uint32_t g = 0; g < gateways; g++) {
            uint32_t node = server + 1 + g;
            uint32_t level = g / lanes + 1, lane = g % lanes;
            self->level [node] = (uint8_t) level;
            self->dial_start [node] = entries;
            self->dial_peer [entries++] = level == 1? server: node - lanes;
            if (scn->topology == SCN_RING && level > 1 && g + lanes >= gateways)
                self->dial_peer [entries++] = server;
            if (scn->topology == SCN_GRID && lane > 0)
                self->dial_peer [entries++] = node - 1;
            if (scn->cross > 0 && level > 1 && lanes > 1 && rng_unit (&rng) < scn->cross)
                self->dial_peer [entries++] = server + 1 + (level - 2) * lanes
                                            + (lane + 1) % lanes;
        }
    }
    self->dial_start [n] = entries;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t e = self->dial_start [i]; e < self->dial_start [i + 1]; e++)
            self->dial_owner [e] = i;
    //  Who dials each node, in the order of the entries (ascending diallers)
    for (uint32_t e = 0; e < entries; e++)
        self->dialled_start [self->dial_peer [e] + 1]++;
    for (uint32_t i = 0; i < n; i++)
        self->dialled_start [i + 1] += self->dialled_start [i];
    self->dialled_by = (uint32_t *) zmalloc ((entries + 1) * sizeof (uint32_t));
    uint32_t *fill = (uint32_t *) zmalloc ((n + 1) * sizeof (uint32_t));
    memcpy (fill, self->dialled_start, n * sizeof (uint32_t));
    for (uint32_t e = 0; e < entries; e++)
        self->dialled_by [fill [self->dial_peer [e]]++] = e;
    free (fill);
    for (uint32_t i = 0; i < n; i++)
        if (topo_slots (self, i) + self->dialled_start [i + 1] - self->dialled_start [i]
            > NH_NEIGHBOURS_MAX) {
            fprintf (stderr, "weft-sim: node %u has more than %u links (use more sites)\n",
                     i, NH_NEIGHBOURS_MAX);
            return -1;
        }
    return 0;
}

void
topo_free (world_t *self)
{
    free (self->dial_start);
    free (self->dial_peer);
    free (self->dial_owner);
    free (self->dial_linked);
    free (self->dialled_start);
    free (self->dialled_by);
    free (self->level);
}

uint32_t
topo_slots (world_t *self, uint32_t node)
{
    return self->dial_start [node + 1] - self->dial_start [node];
}

//  The connection between nodes a and b: its entry, and the node that
//  dials it; -1 if they have none. At most TOPO_DIALS_MAX compares a side.
int
topo_conn (world_t *self, uint32_t a, uint32_t b, uint32_t *dialler_p)
{
    for (int side = 0; side < 2; side++) {
        uint32_t from = side? b: a, to = side? a: b;
        for (uint32_t e = self->dial_start [from]; e < self->dial_start [from + 1]; e++)
            if (self->dial_peer [e] == to) {
                if (dialler_p)
                    *dialler_p = from;
                return (int) e;
            }
    }
    return -1;
}
