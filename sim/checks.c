/*  checks - weft-sim's invariants (docs/sim.md, "Invariants")
    Checked after every event that touches a node and at every ACK the
    coordinator receives; the first violation stops the run.  */

#include "proto/replay.h"
#include "sim/world_internal.h"

//  What reaches a node's agent: coordinator frames it windows must
//  arrive within its replay window, or it refuses them as replays. The
//  others (revocations, gossip, challenges) never enter that window
void
check_delivered (void *ctx, uint32_t node, const uint8_t *data, size_t size)
{
    world_t *self = (world_t *) ctx;
    snode_t *to = &self->node [node];
    envelope_t env;
    if (envelope_decode (&env, data, size) || !streq (env.origin, COORD_ORIGIN))
        return;
    if (self->opt->bug_ack_before_commit && env.type == MSG_TWIN_DESIRED) {
        node_host_snapshot (self->host, node);
        to->snapshot_us = self->sched.now;
    }
    if (!replay_windowed (env.type))
        return;
    if (env.seq + REPLAY_WINDOW <= to->coord_top)
        self->relayed_refused++;    //  A relay reordered it (docs/sim.md, invariant 5)
    if (env.seq > to->coord_top)
        to->coord_top = env.seq;
}

//  Invariant 5: the coordinator's frames for a device's window reach
//  their first hop (over one FIFO link) within that window. Their seqs
//  are the device's own (coordseq.h), compared per device
void
check_first_hop (world_t *self, const frame_t *frame)
{
    envelope_t env;
    if (frame->dest >= self->nodes || envelope_decode (&env, frame->data, frame->size)
    ||  !replay_windowed (env.type))
        return;
    snode_t *d = &self->node [frame->dest];
    if (env.seq < d->first_hop_top)
        self->first_hop_behind++;
    if (env.seq + REPLAY_WINDOW <= d->first_hop_top)
        world_violation (self, "node %u: coordinator seq %" PRIu64 " arrived after seq %"
                     PRIu64 ", outside the replay window (refused as a replay)",
                     frame->dest, env.seq, d->first_hop_top);
    if (env.seq > d->first_hop_top)
        d->first_hop_top = env.seq;
}

static uint64_t
s_coord_reported (world_t *self, uint32_t node)
{
    char name [NH_NAME_MAX];
    node_host_name (node, name);
    store_txn_t *txn = store_begin (self->coord_store, false);
    if (!txn)
        return 0;
    json_t *twin = registry_twin_get (txn, name);
    store_abort (&txn);
    uint64_t version = json_integer_value (json_object_get (twin, "reported_version"));
    json_decref (twin);
    return version;
}

void
check_node (world_t *self, uint32_t node)
{
    snode_t *n = &self->node [node];
    if (!n->up)
        return;
    nh_state_t st;
    node_host_state (self->host, node, &st);
    if (st.desired < n->acked_desired)
        world_violation (self, "node %u: acknowledged desired version %" PRIu64
                     " lost (holds %" PRIu64 ")", node, n->acked_desired, st.desired);
    if (st.desired < n->max_desired || st.applied < n->max_applied
    ||  st.reported < n->max_reported)
        world_violation (self, "node %u: twin version went back (desired %" PRIu64 " was %"
                     PRIu64 ", applied %" PRIu64 " was %" PRIu64 ", reported %" PRIu64
                     " was %" PRIu64 ")", node, st.desired, n->max_desired, st.applied,
                     n->max_applied, st.reported, n->max_reported);
    if (st.desired > n->max_desired)
        n->max_desired = st.desired;
    if (st.applied > n->max_applied)
        n->max_applied = st.applied;
    if (st.reported > n->max_reported)
        n->max_reported = st.reported;
    if (n->pending && !st.pending) {
        //  The coordinator ACKed our report: it must hold it
        uint64_t held = s_coord_reported (self, node);
        if (held < st.reported)
            world_violation (self, "node %u: acknowledged reported version %" PRIu64
                         " lost at the coordinator (holds %" PRIu64 ")",
                         node, st.reported, held);
    }
    n->pending = st.pending;
    if (!n->delivered && n->want && st.desired >= n->want) {
        n->delivered = true;
        n->deliver_us = self->sched.now - n->call_us;
        uint32_t round = self->event_round? self->event_round: n->round;
        n->deliver_round = round > n->call_round? round - n->call_round: 0;
        self->delivered++;
    }
    if (self->revoke_version && !n->revocation_held
    &&  node_host_revocations (self->host, node) >= self->revoke_version) {
        n->revocation_held = true;
        n->revoked_us = self->sched.now - self->revoke_us;
        uint32_t round = self->event_round? self->event_round: n->round;
        n->revoked_round = round > self->revoke_round? round - self->revoke_round: 0;
        self->revocation_holders++;
    }
    bool converged = st.desired == n->want && st.applied == n->want && !st.pending;
    if (converged != n->converged) {
        n->converged = converged;
        if (converged)
            self->converged++;
        else
            self->converged--;
    }
}

//  Invariant 7: attestation. By the last fault's end plus settle, every
//  honest node's last verdict at the coordinator is a pass and every
//  bad actor's a failure that quarantines it (a delegated verdict that
//  crosses a tenant stops the run where the coordinator receives it,
//  attestation.c). Called after attest_tally.
void
check_attestation (world_t *self)
{
    if (!self->scn->attest || self->attest.unsettled == 0) {
        if (self->scn->attest && self->attest.quarantined != self->attest.bad)
            world_violation (self, "attestation: %u devices quarantined at the coordinator, "
                             "%u bad actors", self->attest.quarantined, self->attest.bad);
        return;
    }
    uint32_t example = 0;
    for (uint32_t i = 0; i < self->nodes; i++)
        if (self->node [i].verdict != (self->bad_of [i]? 2: 1)) {
            example = i;
            break;
        }
    world_violation (self, "attestation: %u of %u devices have not the expected verdict "
                     "within %.1f s after the last fault healed (e.g. node %u: %s, verdict "
                     "%s, up %d)", self->attest.unsettled, self->nodes,
                     self->scn->settle_ms / 1000.0, example,
                     self->bad_of [example]? "bad actor": "honest",
                     self->node [example].verdict == 1? "passed":
                     self->node [example].verdict == 2? "failed": "none",
                     self->node [example].up);
}
