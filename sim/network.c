/*  network - weft-sim's links, connections and faults
    One frame crosses one overlay link (gateway - server over the site
    LAN, server - coordinator over the site uplink): serialised per
    direction, delayed by TCP's retransmissions under packet loss,
    dropped unnoticed with the drop probability, cut when the link goes
    down. Connections come up when both ends and the link are up; faults
    (crashes, outages, partitions) take them down.  */

#include "sim/world_internal.h"

bool
net_is_server (world_t *self, uint32_t node)
{
    return node == self->sites [self->node [node].site].first;
}

//  The physical link under the overlay link node - peer, or -1.
int
net_link_of (world_t *self, uint32_t node, uint32_t peer)
{
    uint32_t site = self->node [node].site;
    if (peer == COORD)
        return net_is_server (self, node)? (int) (2 * site + 1): -1;
    if (self->node [peer].site != site || topo_conn (self, node, peer, NULL) < 0)
        return -1;
    return (int) (2 * site);
}

//  Can node open its connection in slot now (both ends up, the link up)?
static bool
s_path_up (world_t *self, uint32_t node, uint32_t slot)
{
    uint32_t site = self->node [node].site;
    if (net_is_server (self, node))
        return self->links [2 * site + 1].down == 0 && !self->coord_down;
    uint32_t peer = self->dial_peer [self->dial_start [node] + slot];
    return self->links [2 * site].down == 0 && self->node [peer].up;
}

void
net_transmit (world_t *self, frame_t *frame)
{
    link_t *link = &self->links [frame->link];
    int dir = frame->dir;
    const scn_link_t *cls = &self->classes [link->cls];
    self->frames_sent++;
    if (link->down) {
        link->cut++;
        free (frame);
        return;
    }
    if (cls->drop > 0 && rng_unit (&self->net) < cls->drop) {
        link->dropped++;
        if (frame->hello) {
            //  A HELLO dropped stands for a connection that broke in its
            //  handshake; the gateway that dialled connects again. As an
            //  event of its own: the sender's mesh is still inside this send
            uint32_t dialler = frame->src;
            int entry = topo_conn (self, frame->src, frame->dst, &dialler);
            if (entry >= 0)
                sched_push (&self->sched, self->sched.now, EV_RESET, dialler,
                            ((uint64_t) (entry - self->dial_start [dialler]) << 32)
                            | self->node [dialler].incarnation, NULL);
        }
        free (frame);
        return;
    }
    //  A live TCP stream loses nothing: a lost transmission is sent again
    //  after the retransmission timeout, which doubles while it fails,
    //  and the frames behind it wait (FIFO below)
    uint64_t resend = 0;
    uint64_t timeout = RTO_MIN_US + 2 * (cls->latency_us + cls->jitter_us);
    while (cls->loss > 0 && rng_unit (&self->net) < cls->loss && timeout <= RTO_MAX_US) {
        link->resent++;
        resend += timeout;
        timeout *= 2;
    }
    uint64_t now = self->sched.now;
    uint64_t tx = cls->bandwidth? (uint64_t) frame->size * 1000000 / cls->bandwidth: 0;
    uint64_t start = link->busy [dir] > now? link->busy [dir]: now;
    link->busy [dir] = start + tx;
    uint64_t arrive = start + tx + resend + cls->latency_us
                    + (cls->jitter_us? rng_below (&self->net, cls->jitter_us + 1): 0);
    if (arrive < link->last [dir])
        arrive = link->last [dir];
    link->last [dir] = arrive;
    link->bytes [dir] += frame->size;
    link->frames++;
    frame->epoch = link->epoch;
    sched_push (&self->sched, arrive, EV_FRAME, frame->dst, 0, frame);
}

frame_t *
net_frame (uint32_t src, uint32_t dst, uint32_t dest, const uint8_t *data, size_t size)
{
    frame_t *frame = (frame_t *) zmalloc (sizeof (frame_t) + size);
    frame->src = src;
    frame->dst = dst;
    frame->dest = dest;
    frame->size = size;
    memcpy (frame->data, data, size);
    return frame;
}

attempt_t *
net_attempt (world_t *self, uint32_t node, const uint8_t *id, uint32_t peer)
{
    uint64_t key = 0;
    hash_mix (&key, node);
    hash_mix (&key, peer);
    uint64_t part;
    memcpy (&part, id, 8);
    hash_mix (&key, part);
    memcpy (&part, id + 8, 8);
    hash_mix (&key, part);
    key |= 1;
    attempt_t *slot = &self->attempts [(key >> 1) & self->attempts_mask];
    if (slot->key != key)
        *slot = (attempt_t) { key, self->node [node].round, 0 };
    return slot;
}

//  Connections node dials: a server its one to the coordinator, a
//  gateway its slots (topology.c)
static uint32_t
s_dials (world_t *self, uint32_t node)
{
    return net_is_server (self, node)? 1: topo_slots (self, node);
}

//  Dial again after a delay: every connection node dials
void
net_connect_later (world_t *self, uint32_t node)
{
    for (uint32_t slot = 0; slot < s_dials (self, node); slot++)
        net_connect_slot_later (self, node, slot);
}

void
net_connect_slot_later (world_t *self, uint32_t node, uint32_t slot)
{
    uint64_t delay = RECONNECT_US + rng_below (&self->reconnect, 1000000);
    sched_push (&self->sched, self->sched.now + delay, EV_CONNECT, node,
                ((uint64_t) slot << 32) | self->node [node].incarnation, NULL);
}

//  One connection node dialled is gone: both ends learn it
void
net_unlink_slot (world_t *self, uint32_t node, uint32_t slot)
{
    uint64_t now_ms = world_now_ms (self);
    if (net_is_server (self, node)) {
        if (self->node [node].linked) {
            self->node [node].linked = false;
            node_host_link_down (self->host, node, NH_COORDINATOR, now_ms);
        }
        return;
    }
    uint32_t entry = self->dial_start [node] + slot;
    if (!self->dial_linked [entry])
        return;
    self->dial_linked [entry] = false;
    uint32_t peer = self->dial_peer [entry];
    node_host_link_down (self->host, node, peer, now_ms);
    if (self->node [peer].up)
        node_host_link_down (self->host, peer, node, now_ms);
}

//  Every connection node dialled (gateway to its upstream gateways or
//  server, server to the coordinator) is gone
void
net_unlink (world_t *self, uint32_t node)
{
    for (uint32_t slot = 0; slot < s_dials (self, node); slot++)
        net_unlink_slot (self, node, slot);
}

//  EV_CONNECT: dial if both ends are up and the link is; a gateway
//  whose peer is down, or refuses it (revoked), tries again
void
net_connect (world_t *self, uint32_t node, uint32_t slot)
{
    snode_t *n = &self->node [node];
    bool server = net_is_server (self, node);
    if (server? n->linked: slot >= topo_slots (self, node)
                        || self->dial_linked [self->dial_start [node] + slot])
        return;
    uint32_t upstream = server? COORD: self->dial_peer [self->dial_start [node] + slot];
    if (!s_path_up (self, node, slot)) {
        if (!server && self->links [2 * n->site].down == 0)
            net_connect_slot_later (self, node, slot);     //  The peer is down
        return;
    }
    if (server? n->revoked: !node_host_admits (self->host, upstream, node)
                            || !node_host_admits (self->host, node, upstream)) {
        sched_push (&self->sched, self->sched.now + self->scn->heartbeat_ms * 1000,
                    EV_CONNECT, node, ((uint64_t) slot << 32) | n->incarnation, NULL);
        return;
    }
    if (server) {
        n->linked = true;
        n->relinked = true;
        node_host_link_up (self->host, node, NH_COORDINATOR, NH_LINK_COORDINATOR,
                           world_now_ms (self));
    }
    else {
        self->dial_linked [self->dial_start [node] + slot] = true;
        node_host_link_up (self->host, node, upstream, NH_LINK_DIALLED, world_now_ms (self));
    }
}

void
net_crash (world_t *self, uint32_t node, uint64_t for_us)
{
    snode_t *n = &self->node [node];
    if (!n->up || n->booting)
        return;
    if (self->opt->bug_ack_before_commit) {
        if (n->snapshot_us && self->sched.now - n->snapshot_us < BUG_WINDOW_US)
            node_host_rollback (self->host, node);
        else
            node_host_forget (self->host, node);
        n->snapshot_us = 0;
    }
    net_unlink (self, node);
    node_host_crash (self->host, node);
    n->up = false;
    n->booting = true;
    n->incarnation++;
    for (int k = 0; k < NH_TIMERS; k++) {
        n->timer_gen [k]++;
        sched_disarm (&self->sched, node * NH_TIMERS + (uint32_t) k);
    }
    if (n->converged) {
        n->converged = false;
        self->converged--;
    }
    self->up--;
    self->crashes++;
    //  The gateways that dial it lose their link and dial again until it
    //  is back
    for (uint32_t d = self->dialled_start [node]; d < self->dialled_start [node + 1]; d++) {
        uint32_t entry = self->dialled_by [d];
        if (self->dial_linked [entry]) {
            uint32_t dialler = self->dial_owner [entry];
            net_unlink_slot (self, dialler, entry - self->dial_start [dialler]);
            net_connect_slot_later (self, dialler, entry - self->dial_start [dialler]);
        }
    }
    sched_push (&self->sched, self->sched.now + for_us, EV_RESTART, node, 0, NULL);
}

void
net_link_down (world_t *self, uint32_t index, uint64_t for_us)
{
    link_t *link = &self->links [index];
    if (link->down++ == 0) {
        link->epoch++;
        const site_t *site = &self->sites [link->site];
        if (link->cls == 1)
            net_unlink (self, site->first);
        else
            for (uint32_t i = site->first + 1; i < site->first + site->count; i++)
                net_unlink (self, i);
    }
    sched_push (&self->sched, self->sched.now + for_us, EV_HEAL, index, 0, NULL);
}

void
net_link_heal (world_t *self, uint32_t index)
{
    link_t *link = &self->links [index];
    assert (link->down > 0);
    if (--link->down)
        return;
    const site_t *site = &self->sites [link->site];
    for (uint32_t i = site->first; i < site->first + site->count; i++)
        if (self->node [i].up && (link->cls == 1) == (i == site->first))
            net_connect_later (self, i);
}
