/*  oracle - the fewest rounds in which news from the coordinator can
    reach every node of an overlay
    A round is one transmission over one link (docs/sim.md, "Rounds").
    With no drops this is a breadth-first search from the coordinator.
    With drops, every transmission is lost with its link's drop
    probability and repeated in the next round, as a flood with
    perfect retransmission would: each link then costs a geometric
    number of rounds, drawn from the caller's stream, and a node's depth
    is its shortest path over those costs (Dijkstra on the scheduler's
    heap). No protocol can beat this on the same links under the same
    drop rates; weft-sim compares its rounds with it.  */

#ifndef WEFT_SIM_ORACLE_H_INCLUDED
#define WEFT_SIM_ORACLE_H_INCLUDED

#include "sim/sched.h"

typedef struct {
    uint32_t nodes;
    const uint32_t *start;          //  CSR: node i's neighbours are
    const uint32_t *adjacent;       //  adjacent [start [i] .. start [i + 1])
    const bool *root;               //  Linked to the coordinator
    double root_drop;               //  Drop on a coordinator link (uplink)
    double edge_drop;               //  Drop on a node-to-node link (LAN)
} oracle_overlay_t;

//  The largest depth over the nodes the coordinator can reach; rng is
//  drawn from only when a drop probability is above 0.
uint32_t
    oracle_depth (const oracle_overlay_t *overlay, rng_t *rng);

void
    oracle_test (bool verbose);

#endif
