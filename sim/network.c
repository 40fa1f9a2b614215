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
    if (self->node [peer].site != site || net_is_server (self, node) == net_is_server (self, peer))
        return -1;
    return (int) (2 * site);
}

//  Can node open its upstream link now (both ends up, the link up)?
static bool
s_path_up (world_t *self, uint32_t node)
{
    uint32_t site = self->node [node].site;
    if (net_is_server (self, node))
        return self->links [2 * site + 1].down == 0 && !self->coord_down;
    return self->links [2 * site].down == 0 && self->node [self->sites [site].first].up;
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
            uint32_t gateway = net_is_server (self, frame->src)? frame->dst: frame->src;
            sched_push (&self->sched, self->sched.now, EV_RESET, gateway,
                        self->node [gateway].incarnation, NULL);
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

void
net_connect_later (world_t *self, uint32_t node)
{
    uint64_t delay = RECONNECT_US + rng_below (&self->reconnect, 1000000);
    sched_push (&self->sched, self->sched.now + delay, EV_CONNECT, node,
                self->node [node].incarnation, NULL);
}

//  A node's upstream connection (gateway to its server, server to the
//  coordinator) is gone: both ends learn it
void
net_unlink (world_t *self, uint32_t node)
{
    snode_t *n = &self->node [node];
    if (!n->linked)
        return;
    n->linked = false;
    uint64_t now_ms = world_now_ms (self);
    if (net_is_server (self, node))
        node_host_link_down (self->host, node, NH_COORDINATOR, now_ms);
    else {
        uint32_t server = self->sites [n->site].first;
        node_host_link_down (self->host, node, server, now_ms);
        if (self->node [server].up)
            node_host_link_down (self->host, server, node, now_ms);
    }
}

//  EV_CONNECT: dial upstream if both ends are up and the link is; a
//  gateway whose server is down, or refuses it (revoked), tries again
void
net_connect (world_t *self, uint32_t node)
{
    snode_t *n = &self->node [node];
    if (n->linked)
        return;
    bool server = net_is_server (self, node);
    uint32_t upstream = self->sites [n->site].first;
    if (!s_path_up (self, node)) {
        if (!server && self->links [2 * n->site].down == 0)
            net_connect_later (self, node);       //  The server is down
        return;
    }
    if (server? n->revoked: !node_host_admits (self->host, upstream, node)
                            || !node_host_admits (self->host, node, upstream)) {
        sched_push (&self->sched, self->sched.now + self->scn->heartbeat_ms * 1000,
                    EV_CONNECT, node, n->incarnation, NULL);
        return;
    }
    n->linked = true;
    n->relinked = server;
    if (server)
        node_host_link_up (self->host, node, NH_COORDINATOR, NH_LINK_COORDINATOR,
                           world_now_ms (self));
    else
        node_host_link_up (self->host, node, upstream, NH_LINK_DIALLED, world_now_ms (self));
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
    if (net_is_server (self, node)) {
        //  Its gateways lose their link and dial again until it is back
        const site_t *site = &self->sites [n->site];
        for (uint32_t i = site->first + 1; i < site->first + site->count; i++)
            if (self->node [i].linked) {
                net_unlink (self, i);
                net_connect_later (self, i);
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
