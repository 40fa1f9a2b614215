/*  world - weft-sim's virtual world
    Topology: site s holds nodes [first, first + count); its first node
    is the site server, the others are gateways. The overlay is the
    mesh's: every gateway dials its site server (over the site LAN),
    the server links to the coordinator (over the site uplink) and
    relays for its gateways with the real mesh core (custody outbox,
    CUSTODY_ACKs, routes, revocations). Each link has latency, jitter,
    a bandwidth (frames serialise per direction, in FIFO order, like a
    TCP stream), packet loss (TCP resends: a delay), drop (a frame lost
    unnoticed) and a down count for overlapping faults; a frame in
    flight on a link that goes down is lost.
    The coordinator core runs once, over its own LMDB environment; this
    file plays weft-coord's server (coordinator/io/server.c): custody
    transfers are acknowledged per neighbour after the group commit
    (coord_commit), replies wait for it, and a push made meanwhile waits
    behind them, so frames to a node leave in seq order; what goes
    through a server is handed to the core's custody (coord_sent_custody)
    and retransmitted by coord_tick at coord_deadline. Device records
    and the operator are written at setup (enrolment itself is not
    simulated); twin changes and revocations go through the real RPC
    path (twin.set, device.revoke).
    Rounds: every frame carries a round, one more than its sender's (a
    Lamport clock of hops; a custody retransmission is one round after
    the previous attempt); see docs/sim.md.
    Invariants are checked after every event that touches a node and
    at every ACK the coordinator receives; see docs/sim.md.  */

#include <czmq.h>
#include <jansson.h>
#include <math.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include "proto/envelope.h"
#include "proto/msg.h"
#include "proto/meshmsg.h"
#include "proto/replay.h"
#include "coordinator/core/coord.h"
#include "coordinator/core/custody.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/pki.h"
#include "coordinator/core/rpc.h"
#include "node/core/agent.h"
#include "sim/sched.h"
#include "sim/oracle.h"
#include "sim/node_host.h"
#include "sim/world.h"

#define EPOCH_MS            1700000000000ULL    //  Virtual time 0, as Unix ms
#define COORD               UINT32_MAX          //  Frame end point: the coordinator
#define RING                4                   //  Desired ids remembered per node
#define TRACE_RING          48                  //  Events kept for an excerpt
#define COMMIT_US           1000                //  Coordinator group commit window
#define RECONNECT_US        100000              //  Reconnect delay, plus up to 1 s
#define BUG_WINDOW_US       1000000             //  Injected bug: unsafe window
#define RTO_MIN_US          200000              //  TCP retransmission timeout
#define RTO_MAX_US          120000000           //  (Linux: 200 ms to 120 s)
#define OPERATOR            "sim-operator"

typedef enum {
    EV_FRAME = 1,           //  A frame reached the end of a link
    EV_TIMER,               //  An agent timer; arg = generation << 4 | kind
    EV_APPLY_DONE,          //  arg = incarnation << 32 | version
    EV_CONNECT,             //  Link to the coordinator up; arg = incarnation
    EV_RESTART,             //  A crashed node powers on
    EV_BOOT,                //  ... and its TPM has unsealed its keys
    EV_ACTION,              //  Scenario action; node = index
    EV_HEAL,                //  A link fault ends; node = link
    EV_TWIN_CALL,           //  Rate-limited twin.set; arg = action
    EV_COMMIT,              //  Coordinator group commit
    EV_TICK,                //  Coordinator timer
    EV_SAMPLE,              //  Convergence curve sample
    EV_RESET                //  A gateway's connection breaks; arg = incarnation
} ev_type_t;

static const char *s_ev_names [] = {
    "?", "frame", "timer", "apply-done", "connect", "restart", "boot", "action",
    "heal", "twin-call", "commit", "tick", "sample", "reset"
};

#define DEST_NONE           (UINT32_MAX - 1)    //  Link-local envelope
#define DEST_ALL            (UINT32_MAX - 2)    //  Custody toward "*"

typedef struct {
    uint32_t src, dst;              //  Node or COORD: the two ends of one overlay link
    uint32_t dest;                  //  Custody destination: node, COORD, DEST_ALL or DEST_NONE
    uint32_t link;                  //  Physical link crossed
    uint8_t dir;                    //  0 up (toward the coordinator), 1 down
    bool push;                      //  Held push: sent even if the commit fails
    bool ack;                       //  Held CUSTODY_ACK id (data = the id)
    uint32_t epoch;                 //  Epoch of the link at send
    uint32_t round;                 //  Lamport round of the hop
    bool hello;                     //  A HELLO (its loss breaks the connection)
    size_t size;
    uint8_t data [];
} frame_t;

//  Custody attempts, by (node, envelope id): a lossy cache of the round
//  a node took an envelope into custody and how often it sent it since
typedef struct {
    uint64_t key;                   //  Hash of node and id, 0 = empty
    uint32_t round;                 //  Round it arrived in (or was made)
    uint32_t sends;
} attempt_t;

typedef struct {
    uint8_t cls;                    //  0 LAN, 1 uplink
    uint32_t site;
    uint32_t down;                  //  Overlapping faults holding it down
    uint32_t epoch;                 //  Bumped when it goes down
    uint64_t busy [2];              //  Serialised until, per direction
    uint64_t last [2];              //  Last arrival, per direction (FIFO)
    uint64_t bytes [2];
    uint64_t frames, resent, dropped, cut;
} link_t;

typedef struct {
    uint32_t first, count;          //  Nodes; first is the server
    uint8_t *acks;                  //  Custody ids to acknowledge at the commit
    size_t nacks, acks_cap;
} site_t;

//  The coordinator's custody transfer to a device: when it was first
//  sent and how often
typedef struct {
    uint64_t id;                    //  First 8 bytes of the envelope id, 0 = none
    uint32_t round;                 //  Round before the first send
    uint32_t sends;
} coord_sent_t;

typedef struct {
    uint32_t site;
    bool up;                        //  Agent running
    bool booting;                   //  Restart scheduled or in progress
    bool delivered;                 //  Holds its latest desired version
    bool converged;
    bool pending;                   //  Report pending after the last event
    uint32_t incarnation;           //  Bumped at each crash
    uint32_t timer_gen [4];         //  Current generation per timer kind
    uint64_t want;                  //  Desired version at the coordinator
    uint64_t call_us;               //  When want was set
    uint64_t deliver_us;            //  Latency of the latest delivery
    uint64_t acked_desired;         //  Highest desired version it ACKed
    uint64_t done_applied;          //  Highest version whose apply committed
    uint64_t max_desired, max_applied, max_reported;
    uint64_t coord_top;             //  Highest coordinator seq delivered to it
    uint64_t first_hop_top;         //  ... that reached its first hop
    uint32_t round;                 //  Highest round it received
    uint32_t call_round;            //  Coordinator's round at the twin change
    uint32_t deliver_round;         //  Rounds from the change to delivery
    uint32_t revoked_round;         //  Rounds until it held the revocation
    uint64_t revoked_us;            //  Time until it held the revocation
    bool revocation_held;
    bool linked;                    //  Upstream link up (transport)
    bool revoked;                   //  Revoked by the scenario
    uint32_t via;                   //  Coordinator's route to it: a server, or COORD = none
    uint64_t snapshot_us;           //  Injected bug: when the unsafe write was
    uint8_t ring_ids [RING][WEFT_ID_SIZE];  //  Recent TWIN_DESIRED ids to it
    uint64_t ring_versions [RING];
    uint8_t ring_next;
    coord_sent_t coord_sent [CUSTODY_PER_DEST];    //  As many as the coordinator keeps
    uint8_t coord_sent_next;
    bool relinked;                  //  Server: new uplink the coordinator has not heard on
    uint64_t sent, sent_bytes, received, received_bytes;
} snode_t;

typedef struct {
    uint64_t time;
    uint32_t type, node;
    uint64_t arg;
} trace_t;

typedef struct {
    uint64_t at_us;
    uint32_t delivered, converged;
} sample_t;

typedef struct {
    const scenario_t *scn;
    const world_options_t *opt;
    sched_t sched;
    rng_t net, faults, reconnect;
    scn_link_t classes [2];         //  LAN, uplink parameters (loss may change)
    uint32_t nodes, nsites;
    site_t *sites;
    link_t *links;                  //  2 per site: LAN, uplink
    snode_t *node;
    node_host_t *host;
    store_t *node_store, *coord_store;
    char root [480], node_dir [512], coord_dir [512];
    coord_t *coord;
    keys_t op_keys;
    uint64_t op_seq;
    //  Coordinator replies waiting for the group commit
    frame_t **pending;
    size_t npending, pending_cap;
    bool commit_armed;
    uint64_t tick_us;               //  The coordinator's timer: armed for
    uint64_t tick_gen;              //  ... this time, in this generation
    uint32_t *ack_sites;            //  Sites with CUSTODY_ACK ids, this commit
    size_t nack_sites;
    uint64_t coord_malformed;
    //  Rounds (Lamport clock of hops)
    uint32_t event_round;           //  Round of the frame being handled, 0 if none
    uint64_t relayed_refused;       //  Relayed coordinator frames behind the replay window
    uint64_t first_hop_behind;      //  Windowed frames at the first hop behind a later seq
    attempt_t *attempts;            //  Custody attempts, a lossy cache
    uint64_t attempts_mask;
    //  Revocation spread (the last revoke action)
    uint64_t revoke_version;        //  List version that revokes it, 0 = none
    uint32_t revoke_node;
    uint64_t revoke_us;             //  When device.revoke was called
    uint32_t revoke_round;          //  Coordinator's round then
    uint32_t revocation_holders;    //  Nodes holding that version
    uint32_t refused_by;            //  Up nodes whose mesh refuses its key, at the end
    //  Scenario actions and random faults, merged and sorted
    scn_action_t *actions;
    size_t nactions;
    uint64_t quiet_us;              //  Last fault healed and last change made
    uint64_t last_twin_us;          //  Start of the last twin change
    //  Progress and results
    uint32_t delivered, converged, up;
    uint64_t events;
    uint64_t trace_hash;
    trace_t trace [TRACE_RING];
    uint64_t trace_count;
    FILE *trace_file;
    sample_t *samples;
    size_t nsamples, samples_cap;
    uint64_t frames_sent, frames_delivered, frames_dropped_down;
    uint64_t twin_calls, twin_failed, crashes;
    uint64_t desired_acks;
    char violation [512];
    bool stop;
} world_t;

static uint64_t
s_now_ms (world_t *self)
{
    return EPOCH_MS + self->sched.now / 1000;
}

//  --------------------------------------------------------------------------
//  Violations stop the run

static void
s_violation (world_t *self, const char *format, ...)
{
    if (self->violation [0])
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (self->violation, sizeof self->violation, format, args);
    va_end (args);
    self->stop = true;
}

//  --------------------------------------------------------------------------
//  Network: one frame crosses one overlay link (gateway - server over
//  the site LAN, server - coordinator over the site uplink)

static void s_unlink (world_t *self, uint32_t node);
static void s_connect_later (world_t *self, uint32_t node);

static bool
s_is_server (world_t *self, uint32_t node)
{
    return node == self->sites [self->node [node].site].first;
}

//  The physical link under the overlay link node - peer, or -1.
static int
s_link_of (world_t *self, uint32_t node, uint32_t peer)
{
    uint32_t site = self->node [node].site;
    if (peer == COORD)
        return s_is_server (self, node)? (int) (2 * site + 1): -1;
    if (self->node [peer].site != site || s_is_server (self, node) == s_is_server (self, peer))
        return -1;
    return (int) (2 * site);
}

//  Can node open its upstream link now (both ends up, the link up)?
static bool
s_path_up (world_t *self, uint32_t node)
{
    uint32_t site = self->node [node].site;
    if (s_is_server (self, node))
        return self->links [2 * site + 1].down == 0;
    return self->links [2 * site].down == 0 && self->node [self->sites [site].first].up;
}

static void
s_transmit (world_t *self, frame_t *frame)
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
            uint32_t gateway = s_is_server (self, frame->src)? frame->dst: frame->src;
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

static frame_t *
s_frame (uint32_t src, uint32_t dst, uint32_t dest, const uint8_t *data, size_t size)
{
    frame_t *frame = (frame_t *) zmalloc (sizeof (frame_t) + size);
    frame->src = src;
    frame->dst = dst;
    frame->dest = dest;
    frame->size = size;
    memcpy (frame->data, data, size);
    return frame;
}

//  Remember TWIN_DESIRED envelopes sent to node, to match its ACKs.
static void
s_observe_down (world_t *self, uint32_t node, const uint8_t *data, size_t size)
{
    envelope_t env;
    msg_t msg;
    if (envelope_decode (&env, data, size) || env.type != MSG_TWIN_DESIRED)
        return;
    if (msg_decode (&msg, MSG_TWIN_DESIRED, env.payload, env.payload_size))
        return;
    snode_t *n = &self->node [node];
    memcpy (n->ring_ids [n->ring_next], env.id, WEFT_ID_SIZE);
    n->ring_versions [n->ring_next] = msg.twin_desired.version;
    n->ring_next = (n->ring_next + 1) % RING;
}

//  A coordinator frame to server (its uplink), as weft-coord's server
//  sends it: link-local (dest DEST_NONE) or a custody transfer.
static void
s_coord_send (world_t *self, uint32_t server, uint32_t dest, const uint8_t *data,
              size_t size, uint32_t round)
{
    if (dest < self->nodes)
        s_observe_down (self, dest, data, size);
    frame_t *frame = s_frame (COORD, server, dest, data, size);
    frame->link = 2 * self->node [server].site + 1;
    frame->dir = 1;
    frame->round = round;
    s_transmit (self, frame);
}

//  Custody attempts: the slot of (node, id, peer) in the lossy cache;
//  peer ARRIVAL holds the round the node took the envelope in
#define ARRIVAL             (UINT32_MAX - 3)

static attempt_t *
s_attempt (world_t *self, uint32_t node, const uint8_t *id, uint32_t peer)
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

//  The round of the coordinator's custody transfer to a device through
//  its server: first on its first send, one more on each retransmission
//  (coord_tick's, through the push effect), like a relay's. Kept per
//  device for the last CUSTODY_PER_DEST frames, all the coordinator
//  retransmits to it (exact, unlike the shared lossy cache)
static uint32_t
s_coord_round (world_t *self, uint32_t device, const uint8_t *data, size_t size,
               uint32_t first)
{
    envelope_t env;
    if (envelope_decode (&env, data, size))
        return first;
    uint64_t id;
    memcpy (&id, env.id, sizeof id);
    id |= 1;
    snode_t *n = &self->node [device];
    for (int i = 0; i < CUSTODY_PER_DEST; i++)
        if (n->coord_sent [i].id == id)
            return n->coord_sent [i].round + ++n->coord_sent [i].sends;
    coord_sent_t *slot = &n->coord_sent [n->coord_sent_next];
    n->coord_sent_next = (uint8_t) ((n->coord_sent_next + 1) % CUSTODY_PER_DEST);
    *slot = (coord_sent_t) { id, first - 1, 1 };
    return first;
}

//  Arm the coordinator's timer for coord_deadline (its batch writes and
//  its custody retransmissions) unless it is armed for sooner already
static void
s_coord_arm (world_t *self)
{
    uint64_t at_ms = coord_deadline (self->coord);
    uint64_t at_us = at_ms > EPOCH_MS? (at_ms - EPOCH_MS) * 1000: 0;
    if (at_us < self->sched.now)
        at_us = self->sched.now;
    if (self->tick_gen && at_us >= self->tick_us)
        return;
    self->tick_us = at_us;
    sched_push (&self->sched, at_us, EV_TICK, 0, ++self->tick_gen, NULL);
}

//  --------------------------------------------------------------------------
//  Effects of the nodes (through node_host) and of the coordinator

static int
s_fx_send (void *ctx, uint32_t node, uint32_t peer, const char *dest,
           const uint8_t *data, size_t size)
{
    world_t *self = (world_t *) ctx;
    int link = s_link_of (self, node, peer == NH_COORDINATOR? COORD: peer);
    if (link < 0)
        return -1;
    if (self->opt->bug_revocation_not_relayed && dest && streq (dest, "*"))
        return 0;                   //  Test-only: "sent", never on the wire
    snode_t *n = &self->node [node];
    n->sent++;
    n->sent_bytes += size;
    uint32_t code = DEST_NONE;
    if (dest && !node_host_index (dest, &code))
        code = streq (dest, "*")? DEST_ALL: DEST_NONE;
    if (code == NH_COORDINATOR)
        code = COORD;
    frame_t *frame = s_frame (node, peer == NH_COORDINATOR? COORD: peer, code, data, size);
    frame->link = (uint32_t) link;
    frame->dir = peer == NH_COORDINATOR || (peer < self->nodes && s_is_server (self, peer))
               ? 0: 1;
    envelope_t env;
    if (dest && envelope_decode (&env, data, size) == 0) {
        //  A custody (re)transmission to this peer: one round after the
        //  previous attempt, the first one round after it was taken
        uint32_t taken = s_attempt (self, node, env.id, ARRIVAL)->round;
        attempt_t *attempt = s_attempt (self, node, env.id, peer);
        if (attempt->sends == 0)
            attempt->round = taken;
        frame->round = attempt->round + ++attempt->sends;
    }
    else {
        frame->round = n->round + 1;
        frame->hello = envelope_decode (&env, data, size) == 0 && env.type == MSG_HELLO;
    }
    s_transmit (self, frame);
    return 0;
}

static void
s_fx_close (void *ctx, uint32_t node, uint32_t peer)
{
    //  The mesh takes its own end down; the connection (the gateway's)
    //  breaks in an event of its own, once this mesh has returned
    world_t *self = (world_t *) ctx;
    if (peer >= self->nodes)
        return;
    uint32_t gateway = s_is_server (self, node)? peer: node;
    sched_push (&self->sched, self->sched.now, EV_RESET, gateway,
                self->node [gateway].incarnation, NULL);
}

static void
s_fx_timer (void *ctx, uint32_t node, int kind, uint64_t at_ms)
{
    world_t *self = (world_t *) ctx;
    snode_t *n = &self->node [node];
    assert (kind >= 0 && kind < NH_TIMERS);
    n->timer_gen [kind]++;
    if (at_ms == 0)
        return;
    uint64_t at_us = at_ms > EPOCH_MS? (at_ms - EPOCH_MS) * 1000: 0;
    sched_push (&self->sched, at_us, EV_TIMER, node,
                ((uint64_t) n->timer_gen [kind] << 4) | (uint64_t) kind, NULL);
}

static void
s_fx_apply (void *ctx, uint32_t node, uint64_t version)
{
    world_t *self = (world_t *) ctx;
    snode_t *n = &self->node [node];
    if (version <= n->done_applied)
        s_violation (self, "node %u: desired version %" PRIu64 " applied twice "
                     "(version %" PRIu64 " already applied and committed)",
                     node, version, n->done_applied);
    sched_push (&self->sched, self->sched.now + self->scn->apply_ms * 1000,
                EV_APPLY_DONE, node, ((uint64_t) n->incarnation << 32) | version, NULL);
}

//  What reaches a node's agent: coordinator frames it windows must
//  arrive within its replay window, or it refuses them as replays. The
//  others (revocations, gossip, challenges) never enter that window
static void
s_fx_deliver (void *ctx, uint32_t node, const uint8_t *data, size_t size)
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
    if (!agent_windowed (env.type))
        return;
    if (env.seq + REPLAY_WINDOW <= to->coord_top)
        self->relayed_refused++;    //  A relay reordered it (docs/sim.md, invariant 5)
    if (env.seq > to->coord_top)
        to->coord_top = env.seq;
}

//  Invariant 5: the coordinator's frames for a device's window reach
//  their first hop (over one FIFO link) within that window. Their seqs
//  are the device's own (coordseq.h), compared per device
static void
s_check_first_hop (world_t *self, const frame_t *frame)
{
    envelope_t env;
    if (frame->dest >= self->nodes || envelope_decode (&env, frame->data, frame->size)
    ||  !agent_windowed (env.type))
        return;
    snode_t *d = &self->node [frame->dest];
    if (env.seq < d->first_hop_top)
        self->first_hop_behind++;
    if (env.seq + REPLAY_WINDOW <= d->first_hop_top)
        s_violation (self, "node %u: coordinator seq %" PRIu64 " arrived after seq %"
                     PRIu64 ", outside the replay window (refused as a replay)",
                     frame->dest, env.seq, d->first_hop_top);
    if (env.seq > d->first_hop_top)
        d->first_hop_top = env.seq;
}

//  Hold a coordinator frame until the next group commit, in seq order.
static void
s_hold (world_t *self, frame_t *frame)
{
    if (self->npending == self->pending_cap) {
        self->pending_cap = self->pending_cap? 2 * self->pending_cap: 256;
        self->pending = (frame_t **) realloc (self->pending,
                                              self->pending_cap * sizeof (frame_t *));
        assert (self->pending);
    }
    self->pending [self->npending++] = frame;
}

//  The coordinator reaches a device through the server its last
//  envelope came from (weft-coord's route table); none: dropped, the
//  device gets the document on its next heartbeat. The coordinator
//  keeps custody of what it sends through a server (coord_sent_custody)
//  and retransmits it through here until the server's CUSTODY_ACK.
static void
s_fx_push (void *ctx, const char *device_id, const uint8_t *data, size_t size)
{
    world_t *self = (world_t *) ctx;
    uint32_t index;
    if (!node_host_index (device_id, &index) || index >= self->nodes)
        return;
    uint32_t via = self->node [index].via;
    if (via == COORD)
        return;
    //  Replies waiting for the group commit carry lower seqs: a push must
    //  not overtake them on the way to a node, or it could leave them more
    //  than REPLAY_WINDOW seqs behind (refused as replays). It waits too.
    //  A push starts a chain: one round after the device's own round
    uint32_t round = s_coord_round (self, index, data, size, self->node [index].round + 1);
    if (self->npending && !self->opt->bug_push_overtakes_reply) {
        frame_t *held = s_frame (COORD, via, index, data, size);
        held->push = true;
        held->round = round;
        s_hold (self, held);
        return;
    }
    s_coord_send (self, via, index, data, size, round);
    if (via != index) {             //  Through a relay (server.c's s_relayed)
        char relay [NH_NAME_MAX];
        node_host_name (via, relay);
        coord_sent_custody (self->coord, device_id, relay, data, size, s_now_ms (self));
        s_coord_arm (self);
    }
}

//  --------------------------------------------------------------------------
//  Invariants after an event that touched a node

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

static void
s_check (world_t *self, uint32_t node)
{
    snode_t *n = &self->node [node];
    if (!n->up)
        return;
    nh_state_t st;
    node_host_state (self->host, node, &st);
    if (st.desired < n->acked_desired)
        s_violation (self, "node %u: acknowledged desired version %" PRIu64
                     " lost (holds %" PRIu64 ")", node, n->acked_desired, st.desired);
    if (st.desired < n->max_desired || st.applied < n->max_applied
    ||  st.reported < n->max_reported)
        s_violation (self, "node %u: twin version went back (desired %" PRIu64 " was %"
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
            s_violation (self, "node %u: acknowledged reported version %" PRIu64
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

//  --------------------------------------------------------------------------
//  The coordinator: frames in, replies after the group commit

//  A frame from a site server's link (weft-coord's s_recv): a custody
//  transfer [dest, envelope] whose origin may be a gateway behind the
//  server, or a link-local envelope (ROUTE, HELLO, CUSTODY_ACK)
static void
s_coord_frame (world_t *self, frame_t *frame)
{
    uint32_t server = frame->src;
    //  An ACK of a TWIN_DESIRED: the node says the version is durable
    envelope_t env;
    msg_t msg;
    uint32_t origin;
    if (envelope_decode (&env, frame->data, frame->size) == 0 && env.type == MSG_ACK
    &&  node_host_index (env.origin, &origin) && origin < self->nodes
    &&  msg_decode (&msg, MSG_ACK, env.payload, env.payload_size) == 0
    &&  msg.ack.status == WEFT_STATUS_OK) {
        snode_t *n = &self->node [origin];
        for (int i = 0; i < RING; i++)
            if (memcmp (n->ring_ids [i], msg.ack.ack_id, WEFT_ID_SIZE) == 0) {
                self->desired_acks++;
                if (n->ring_versions [i] > n->acked_desired)
                    n->acked_desired = n->ring_versions [i];
                s_check (self, origin);
                break;
            }
    }
    if (frame->dest != DEST_NONE && frame->dest != COORD) {
        self->coord_malformed++;    //  weft-coord takes custody only for itself
        return;
    }
    char name [NH_NAME_MAX];
    node_host_name (server, name);
    coord_link_t link;
    memset (&link, 0, sizeof link);
    link.custody = frame->dest == COORD;
    uint8_t *reply = NULL;
    size_t reply_size = 0;
    int rc = coord_on_mesh_link (self->coord, name, &link, frame->data, frame->size,
                                 s_now_ms (self), &reply, &reply_size);
    //  A verified envelope: its origin is reached through this server
    if (rc == 0 && link.origin [0] && node_host_index (link.origin, &origin)
    &&  origin < self->nodes)
        self->node [origin].via = server;
    //  The server's own first one on a new connection: what the core
    //  keeps for the devices behind it goes out at once (weft-coord's
    //  s_recv does the same when a relay's routing id changes)
    if (rc == 0 && streq (link.origin, name) && self->node [server].relinked) {
        self->node [server].relinked = false;
        coord_relay_linked (self->coord, name, s_now_ms (self));
        s_coord_arm (self);
    }
    if (reply) {
        uint32_t dest = DEST_NONE;
        if (link.reply_dest [0] && !node_host_index (link.reply_dest, &dest))
            dest = streq (link.reply_dest, "*")? DEST_ALL: DEST_NONE;
        frame_t *held = s_frame (COORD, server, dest, reply, reply_size);
        held->round = frame->round + 1;     //  Caused by the request
        s_hold (self, held);
        free (reply);
    }
    //  Custody is acknowledged after the commit, also when dropped
    if (link.custody && link.decoded) {
        frame_t *ack = s_frame (COORD, server, DEST_NONE, link.id, WEFT_ID_SIZE);
        ack->ack = true;
        s_hold (self, ack);
    }
    if (!self->commit_armed) {
        self->commit_armed = true;
        sched_push (&self->sched, self->sched.now + COMMIT_US, EV_COMMIT, 0, 0, NULL);
    }
}

//  After the group commit: one CUSTODY_ACK per server for its ids (as
//  weft-coord does per burst), then the replies and held pushes in order
static void
s_coord_commit (world_t *self)
{
    self->commit_armed = false;
    bool durable = coord_commit (self->coord) == 0;
    uint64_t now_ms = s_now_ms (self);
    for (size_t i = 0; durable && i < self->npending; i++) {
        frame_t *frame = self->pending [i];
        if (!frame->ack)
            continue;
        site_t *site = &self->sites [self->node [frame->dst].site];
        if (site->nacks == site->acks_cap) {
            site->acks_cap = site->acks_cap? 2 * site->acks_cap: 16;
            site->acks = (uint8_t *) realloc (site->acks, site->acks_cap * WEFT_ID_SIZE);
            assert (site->acks);
        }
        if (site->nacks == 0)
            self->ack_sites [self->nack_sites++] = self->node [frame->dst].site;
        memcpy (site->acks + site->nacks++ * WEFT_ID_SIZE, frame->data, WEFT_ID_SIZE);
    }
    for (size_t k = 0; k < self->nack_sites; k++) {
        site_t *site = &self->sites [self->ack_sites [k]];
        for (size_t first = 0; first < site->nacks; first += MESHMSG_ACK_IDS_MAX) {
            size_t count = site->nacks - first;
            count = count > MESHMSG_ACK_IDS_MAX? MESHMSG_ACK_IDS_MAX: count;
            uint8_t *ack;
            size_t ack_size;
            if (coord_custody_ack (self->coord, site->acks + first * WEFT_ID_SIZE, count,
                                   now_ms, &ack, &ack_size) == 0) {
                s_coord_send (self, site->first, DEST_NONE, ack, ack_size, 0);
                free (ack);
            }
        }
        site->nacks = 0;
    }
    self->nack_sites = 0;
    for (size_t i = 0; i < self->npending; i++) {
        frame_t *frame = self->pending [i];
        if (!frame->ack && (durable || frame->push)) {
            bool custody = frame->dest < self->nodes && frame->dest != frame->dst;
            if (custody && !frame->push)
                frame->round = s_coord_round (self, frame->dest, frame->data, frame->size,
                                              frame->round);
            s_coord_send (self, frame->dst, frame->dest, frame->data, frame->size,
                          frame->round);
            if (custody) {
                char name [NH_NAME_MAX], relay [NH_NAME_MAX];
                node_host_name (frame->dest, name);
                node_host_name (frame->dst, relay);
                coord_sent_custody (self->coord, name, relay, frame->data, frame->size,
                                    now_ms);
            }
        }
        free (frame);
    }
    self->npending = 0;
    s_coord_arm (self);
}

//  One call by the operator, through the coordinator's RPC path. Returns
//  the result object (caller frees) or NULL if the call failed.
static json_t *
s_operator_call (world_t *self, const char *method, char *args)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_RPC_REQUEST;
    snprintf (msg.rpc_request.method, sizeof msg.rpc_request.method, "%s", method);
    msg.rpc_request.args = args;
    msg.rpc_request.args_size = strlen (args);
    uint8_t *payload = NULL, *frame = NULL, *reply = NULL;
    size_t payload_size, size, reply_size;
    int rc = msg_encode (&msg, &payload, &payload_size);
    zstr_free (&args);
    envelope_t env;
    memset (&env, 0, sizeof env);
    self->op_seq++;
    uint8_t material [24] = "weft-sim operator";
    memcpy (material + 16, &self->op_seq, 8);
    uint8_t hash [32];
    keys_hash (material, sizeof material, hash);
    memcpy (env.id, hash, WEFT_ID_SIZE);
    env.type = MSG_RPC_REQUEST;
    snprintf (env.origin, sizeof env.origin, OPERATOR);
    env.seq = self->op_seq;
    env.hlc = s_now_ms (self) << 16;
    env.expiry = s_now_ms (self) + 30000;   //  Operator requests expire within 60 s
    env.hop_limit = env.hops = WEFT_HOP_LIMIT;
    env.payload = payload;
    env.payload_size = payload_size;
    if (rc == 0)
        rc = envelope_encode (&env, self->op_keys.sign_secret, &frame, &size);
    free (payload);
    if (rc == 0)
        rc = coord_on_rpc (self->coord, OPERATOR, frame, size, s_now_ms (self),
                           &reply, &reply_size);
    free (frame);
    json_t *result = NULL;
    if (rc == 0 && reply && envelope_decode (&env, reply, reply_size) == 0
    &&  msg_decode (&msg, MSG_RPC_REPLY, env.payload, env.payload_size) == 0
    &&  msg.rpc_reply.status == WEFT_STATUS_OK) {
        json_error_t error;
        result = json_loadb (msg.rpc_reply.result, msg.rpc_reply.result_size, 0, &error);
    }
    free (reply);
    return result;
}

//  One twin.set by the operator.
static void
s_twin_set (world_t *self, uint32_t node, const char *patch)
{
    char name [NH_NAME_MAX];
    node_host_name (node, name);
    json_t *result = s_operator_call (self, "twin.set", zsys_sprintf (
        "{\"id\":\"%s\",\"patch\":%s}", name, patch));
    self->twin_calls++;
    uint64_t version = json_integer_value (json_object_get (result, "desired_version"));
    json_decref (result);
    if (version == 0) {
        self->twin_failed++;
        return;
    }
    snode_t *n = &self->node [node];
    if (version <= n->want)
        s_violation (self, "node %u: desired version at the coordinator went from %"
                     PRIu64 " to %" PRIu64, node, n->want, version);
    n->want = version;
    n->call_us = self->sched.now;
    n->call_round = n->round;
    if (n->delivered) {
        n->delivered = false;
        self->delivered--;
    }
    s_check (self, node);
}

//  --------------------------------------------------------------------------
//  Faults

static void
s_connect_later (world_t *self, uint32_t node)
{
    uint64_t delay = RECONNECT_US + rng_below (&self->reconnect, 1000000);
    sched_push (&self->sched, self->sched.now + delay, EV_CONNECT, node,
                self->node [node].incarnation, NULL);
}

//  A node's upstream connection (gateway to its server, server to the
//  coordinator) is gone: both ends learn it
static void
s_unlink (world_t *self, uint32_t node)
{
    snode_t *n = &self->node [node];
    if (!n->linked)
        return;
    n->linked = false;
    uint64_t now_ms = s_now_ms (self);
    if (s_is_server (self, node))
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
static void
s_connect (world_t *self, uint32_t node)
{
    snode_t *n = &self->node [node];
    if (n->linked)
        return;
    bool server = s_is_server (self, node);
    uint32_t upstream = self->sites [n->site].first;
    if (!s_path_up (self, node)) {
        if (!server && self->links [2 * n->site].down == 0)
            s_connect_later (self, node);       //  The server is down
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
                           s_now_ms (self));
    else
        node_host_link_up (self->host, node, upstream, NH_LINK_DIALLED, s_now_ms (self));
}

static void
s_crash (world_t *self, uint32_t node, uint64_t for_us)
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
    s_unlink (self, node);
    node_host_crash (self->host, node);
    n->up = false;
    n->booting = true;
    n->incarnation++;
    for (int k = 0; k < 4; k++)
        n->timer_gen [k]++;
    if (n->converged) {
        n->converged = false;
        self->converged--;
    }
    self->up--;
    self->crashes++;
    if (s_is_server (self, node)) {
        //  Its gateways lose their link and dial again until it is back
        const site_t *site = &self->sites [n->site];
        for (uint32_t i = site->first + 1; i < site->first + site->count; i++)
            if (self->node [i].linked) {
                s_unlink (self, i);
                s_connect_later (self, i);
            }
    }
    sched_push (&self->sched, self->sched.now + for_us, EV_RESTART, node, 0, NULL);
}

static void
s_link_down (world_t *self, uint32_t index, uint64_t for_us)
{
    link_t *link = &self->links [index];
    if (link->down++ == 0) {
        link->epoch++;
        const site_t *site = &self->sites [link->site];
        if (link->cls == 1)
            s_unlink (self, site->first);
        else
            for (uint32_t i = site->first + 1; i < site->first + site->count; i++)
                s_unlink (self, i);
    }
    sched_push (&self->sched, self->sched.now + for_us, EV_HEAL, index, 0, NULL);
}

static void
s_link_heal (world_t *self, uint32_t index)
{
    link_t *link = &self->links [index];
    assert (link->down > 0);
    if (--link->down)
        return;
    const site_t *site = &self->sites [link->site];
    for (uint32_t i = site->first; i < site->first + site->count; i++)
        if (self->node [i].up && (link->cls == 1) == (i == site->first))
            s_connect_later (self, i);
}

//  device.revoke by the operator; weft-coord then sends the new list to
//  the nodes linked to it (here: once to each connected site server)
static void
s_revoke (world_t *self, uint32_t node)
{
    char name [NH_NAME_MAX];
    node_host_name (node, name);
    json_t *result = s_operator_call (self, "device.revoke",
                                      zsys_sprintf ("{\"id\":\"%s\"}", name));
    bool ok = json_is_true (json_object_get (result, "revoked"));
    json_decref (result);
    size_t size;
    const uint8_t *list = coord_revocations (self->coord, &size);
    envelope_t env;
    meshmsg_t msg;
    if (!ok || !list || envelope_decode (&env, list, size)
    ||  meshmsg_decode (&msg, MSG_REVOCATIONS, env.payload, env.payload_size)) {
        s_violation (self, "device.revoke of node %u failed", node);
        return;
    }
    self->node [node].revoked = true;
    self->revoke_version = msg.revocations;
    self->revoke_node = node;
    self->revoke_us = self->sched.now;
    self->revoke_round = 0;
    self->revocation_holders = 0;
    for (uint32_t i = 0; i < self->nodes; i++)
        self->node [i].revocation_held = false;
    //  The coordinator closes the revoked node's connection; ZAP refuses it after
    if (s_is_server (self, node))
        s_unlink (self, node);
    for (uint32_t s = 0; s < self->nsites; s++) {
        uint32_t server = self->sites [s].first;
        if (server != node && self->node [server].linked)
            s_coord_send (self, server, DEST_ALL, list, size, 1);
    }
    for (uint32_t i = 0; i < self->nodes; i++)
        s_check (self, i);
}

static void
s_action (world_t *self, const scn_action_t *action, uint32_t index)
{
    if (action->kind == SCN_TWIN) {
        self->last_twin_us = self->sched.now;
        if (self->scn->twin_rate == 0)
            for (uint32_t i = 0; i < self->nodes; i++)
                s_twin_set (self, i, action->doc);
        else
            for (uint32_t i = 0; i < self->nodes; i++)
                sched_push (&self->sched, self->sched.now
                            + (uint64_t) i * 1000000 / self->scn->twin_rate,
                            EV_TWIN_CALL, i, index, NULL);
    }
    else
    if (action->kind == SCN_OUTAGE)
        s_link_down (self, 2 * action->target + 1, action->for_ms * 1000);
    else
    if (action->kind == SCN_PARTITION)
        s_link_down (self, 2 * action->target, action->for_ms * 1000);
    else
    if (action->kind == SCN_CRASH) {
        if (action->fraction_set) {
            uint64_t count = (uint64_t) llround (action->fraction * self->nodes);
            for (uint64_t i = 0; i < count; i++)
                s_crash (self, (uint32_t) rng_below (&self->faults, self->nodes),
                         action->for_ms * 1000);
        }
        else
            s_crash (self, action->target, action->for_ms * 1000);
    }
    else
    if (action->kind == SCN_LOSS)
        self->classes [action->link].loss = action->value;
    else
    if (action->kind == SCN_DROP)
        self->classes [action->link].drop = action->value;
    else
    if (action->kind == SCN_REVOKE)
        s_revoke (self, action->target);
}

//  --------------------------------------------------------------------------
//  One event

static void
s_trace (world_t *self, const event_t *event)
{
    uint64_t arg = event->arg;
    if (event->type == EV_FRAME) {
        frame_t *frame = (frame_t *) event->data;
        arg = ((uint64_t) frame->size << 32) | frame->round;
    }
    hash_mix (&self->trace_hash, event->time);
    hash_mix (&self->trace_hash, ((uint64_t) event->type << 32) | event->node);
    hash_mix (&self->trace_hash, arg);
    trace_t *slot = &self->trace [self->trace_count++ % TRACE_RING];
    *slot = (trace_t) { event->time, event->type, event->node, arg };
    if (self->trace_file)
        fprintf (self->trace_file, "%" PRIu64 ".%06" PRIu64 " %s %u %" PRIu64 "\n",
                 event->time / 1000000, event->time % 1000000,
                 s_ev_names [event->type], event->node, arg);
}

static void
s_handle (world_t *self, event_t *event)
{
    uint32_t node = event->node;
    snode_t *n = node < self->nodes? &self->node [node]: NULL;
    uint64_t now_ms = s_now_ms (self);
    self->event_round = 0;
    switch (event->type) {
        case EV_FRAME: {
            frame_t *frame = (frame_t *) event->data;
            event->data = NULL;
            link_t *link = &self->links [frame->link];
            if (link->epoch != frame->epoch) {
                link->cut++;
                free (frame);
                break;
            }
            self->frames_delivered++;
            self->event_round = frame->round;
            if (frame->src == COORD)
                s_check_first_hop (self, frame);
            if (frame->dst == COORD) {
                s_coord_frame (self, frame);
                free (frame);
                break;
            }
            snode_t *to = &self->node [frame->dst];
            //  Between a gateway and its server: only over a live connection
            uint32_t gateway = frame->src == COORD || s_is_server (self, frame->src)
                             ? frame->dst: frame->src;
            bool connected = self->node [gateway].linked;
            if (!to->up || !connected) {
                self->frames_dropped_down++;
                free (frame);
                break;
            }
            to->received++;
            to->received_bytes += frame->size;
            if (frame->dest == frame->dst && frame->round > to->round)
                to->round = frame->round;   //  Only what is addressed to it
            char dest [NH_NAME_MAX];
            const char *dest_p = dest;
            if (frame->dest == DEST_NONE)
                dest_p = NULL;
            else
            if (frame->dest == DEST_ALL)
                dest_p = "*";
            else
            if (frame->dest == COORD)
                dest_p = COORD_ORIGIN;
            else
                node_host_name (frame->dest, dest);
            if (dest_p) {
                //  Custody taken in this round: its next hop is one more
                envelope_t env;
                if (envelope_decode (&env, frame->data, frame->size) == 0) {
                    attempt_t *arrival = s_attempt (self, frame->dst, env.id, ARRIVAL);
                    if (arrival->sends++ == 0)
                        arrival->round = frame->round;
                }
            }
            node_host_frame (self->host, frame->dst,
                             frame->src == COORD? NH_COORDINATOR: frame->src, dest_p,
                             frame->data, frame->size, now_ms);
            s_check (self, frame->dst);
            free (frame);
            break;
        }
        case EV_TIMER: {
            int kind = (int) (event->arg & 15);
            if (n->up && n->timer_gen [kind] == (uint32_t) (event->arg >> 4)) {
                node_host_timer (self->host, node, now_ms, kind);
                s_check (self, node);
            }
            break;
        }
        case EV_APPLY_DONE:
            if (n->up && n->incarnation == (uint32_t) (event->arg >> 32)) {
                uint64_t version = event->arg & 0xffffffffULL;
                node_host_applied (self->host, node, now_ms, version, true);
                nh_state_t st;
                node_host_state (self->host, node, &st);
                if (st.applied == version && version > n->done_applied)
                    n->done_applied = version;
                s_check (self, node);
            }
            break;
        case EV_CONNECT:
            if (n->up && n->incarnation == (uint32_t) event->arg) {
                s_connect (self, node);
                s_check (self, node);
            }
            break;
        case EV_RESTART:
            //  Power on; the TPM unseals the node's keys before it starts
            sched_push (&self->sched, self->sched.now + self->scn->tpm_ms * 1000,
                        EV_BOOT, node, 0, NULL);
            break;
        case EV_BOOT:
            n->booting = false;
            if (node_host_boot (self->host, node, s_is_server (self, node), now_ms)) {
                s_violation (self, "node %u: cannot start from its store", node);
                break;
            }
            n->up = true;
            self->up++;
            n->pending = false;
            n->linked = false;
            s_check (self, node);
            s_connect_later (self, node);
            break;
        case EV_ACTION:
            s_action (self, &self->actions [node], node);
            break;
        case EV_HEAL:
            s_link_heal (self, node);
            break;
        case EV_TWIN_CALL:
            s_twin_set (self, node, self->actions [event->arg].doc);
            break;
        case EV_COMMIT:
            s_coord_commit (self);
            break;
        case EV_TICK:
            //  weft-coord ticks between bursts, never while replies wait
            //  for the group commit: a retransmission held behind them
            //  could be superseded by the time it left. The commit arms
            //  the timer again.
            if (event->arg == self->tick_gen) {
                self->tick_gen++;       //  Nothing armed now
                self->tick_us = UINT64_MAX;
                if (!self->commit_armed) {
                    coord_tick (self->coord, now_ms);
                    s_coord_arm (self);
                }
            }
            break;
        case EV_RESET:
            if (n->up && n->incarnation == (uint32_t) event->arg && n->linked) {
                s_unlink (self, node);
                s_connect_later (self, node);
                s_check (self, node);
            }
            break;
        case EV_SAMPLE:
            if (self->nsamples == self->samples_cap) {
                self->samples_cap = self->samples_cap? 2 * self->samples_cap: 1024;
                self->samples = (sample_t *) realloc (self->samples,
                                                      self->samples_cap * sizeof (sample_t));
                assert (self->samples);
            }
            self->samples [self->nsamples++] = (sample_t) {
                self->sched.now, self->delivered, self->converged };
            sched_push (&self->sched, self->sched.now + self->scn->sample_ms * 1000,
                        EV_SAMPLE, 0, 0, NULL);
            break;
        default:
            assert (false);
    }
}

//  --------------------------------------------------------------------------
//  Setup

static void
s_keys (uint64_t seed, const char *label, keys_t *keys)
{
    uint8_t material [48];
    memset (material, 0, sizeof material);
    snprintf ((char *) material, 40, "weft-sim %s", label);
    memcpy (material + 40, &seed, 8);
    uint8_t key_seed [32];
    keys_hash (material, sizeof material, key_seed);
    keys_from_seed (keys, key_seed);
}

static size_t
s_rss (void)
{
    FILE *file = fopen ("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (file) {
        if (fscanf (file, "%lu %lu", &size, &resident) != 2)
            resident = 0;
        fclose (file);
    }
    return resident * (size_t) sysconf (_SC_PAGESIZE);
}

static size_t
s_peak_rss (void)
{
    struct rusage usage;
    getrusage (RUSAGE_SELF, &usage);
    return (size_t) usage.ru_maxrss * 1024;
}

//  Coordinator store: its certificate, the operator, every device.
static int
s_setup_coord (world_t *self, const keys_t *ca, const keys_t *coord_keys)
{
    size_t map = ((size_t) self->nodes * 16384 + ((size_t) 256 << 20));
    self->coord_store = store_new (self->coord_dir, registry_tables (), map);
    if (!self->coord_store || store_set_nosync (self->coord_store, true))
        return -1;
    uint64_t now_s = EPOCH_MS / 1000;
    pki_t *pki = pki_new (ca);
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.kind = CERT_KIND_COORDINATOR;
    snprintf (cert.subject, sizeof cert.subject, "%s", COORD_ORIGIN);
    snprintf (cert.role, sizeof cert.role, "coordinator");
    memcpy (cert.sign_key, coord_keys->sign_public, 32);
    memcpy (cert.curve_key, coord_keys->curve_public, 32);
    uint8_t *coord_cert = NULL, *op_cert = NULL;
    size_t coord_cert_size = 0, op_cert_size = 0;
    uint64_t serial;
    char error [WEFT_TEXT_MAX + 1];
    store_txn_t *txn = store_begin (self->coord_store, true);
    int rc = txn? pki_issue (pki, txn, &cert, now_s, &coord_cert, &coord_cert_size): -1;
    if (rc == 0)
        rc = rpc_operator_create (pki, txn, OPERATOR, "admin", "",
                                  self->op_keys.sign_public, self->op_keys.curve_public,
                                  true, now_s, &op_cert, &op_cert_size, &serial, error);
    free (op_cert);
    if (rc == 0)
        rc = store_commit (&txn);
    store_abort (&txn);
    pki_destroy (&pki);
    //  Device records, in batches
    for (uint32_t first = 0; rc == 0 && first < self->nodes; first += 10000) {
        txn = store_begin (self->coord_store, true);
        rc = txn? 0: -1;
        for (uint32_t i = first; rc == 0 && i < first + 10000 && i < self->nodes; i++) {
            keys_t keys;
            node_host_keys (self->scn->seed, i, &keys);
            char name [NH_NAME_MAX], sign_hex [65], curve_hex [65];
            node_host_name (i, name);
            keys_hex (keys.sign_public, 32, sign_hex);
            keys_hex (keys.curve_public, 32, curve_hex);
            keys_wipe (&keys);
            const char *type = i == self->sites [self->node [i].site].first
                             ? "server": "gateway";
            json_t *record = json_pack ("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:b}",
                "id", name, "tenant", "", "type", type, "role", type,
                "enrolled", (json_int_t) now_s, "cert_serial", (json_int_t) 0,
                "sign_key", sign_hex, "curve_key", curve_hex, "cert", "",
                "token", "", "revoked", 0);
            rc = record? registry_device_put (txn, record): -1;
            json_decref (record);
        }
        if (rc == 0)
            rc = store_commit (&txn);
        store_abort (&txn);
    }
    if (rc == 0) {
        coord_effects_t effects = { self, s_fx_push };
        self->coord = coord_new (self->coord_store, ca, coord_keys, coord_cert,
                                 coord_cert_size, &effects);
        rc = self->coord? 0: -1;
    }
    free (coord_cert);
    return rc;
}

static int
s_setup (world_t *self)
{
    const scenario_t *scn = self->scn;
    self->nodes = scn->nodes;
    self->nsites = scn->sites <= scn->nodes? scn->sites: scn->nodes;
    self->classes [0] = scn->lan;
    self->classes [1] = scn->uplink;
    rng_derive (&self->net, scn->seed, "net");
    rng_derive (&self->faults, scn->seed, "faults");
    rng_derive (&self->reconnect, scn->seed, "reconnect");
    sched_init (&self->sched);
    self->sites = (site_t *) zmalloc (self->nsites * sizeof (site_t));
    self->links = (link_t *) zmalloc (2 * self->nsites * sizeof (link_t));
    self->node = (snode_t *) zmalloc (self->nodes * sizeof (snode_t));
    for (uint32_t s = 0; s < self->nsites; s++) {
        uint32_t first = (uint32_t) ((uint64_t) s * self->nodes / self->nsites);
        uint32_t next = (uint32_t) ((uint64_t) (s + 1) * self->nodes / self->nsites);
        self->sites [s].first = first;
        self->sites [s].count = next - first;
        for (uint32_t i = first; i < next; i++)
            self->node [i].site = s;
        self->links [2 * s].cls = 0;
        self->links [2 * s].site = s;
        self->links [2 * s + 1].cls = 1;
        self->links [2 * s + 1].site = s;
        if (next - first > NH_NEIGHBOURS_MAX + 1) {
            fprintf (stderr, "weft-sim: %u nodes in a site, a site server takes at most "
                     "%u gateways (use more sites)\n", next - first, NH_NEIGHBOURS_MAX);
            return -1;
        }
    }
    for (uint32_t i = 0; i < self->nodes; i++)
        self->node [i].via = COORD;
    self->ack_sites = (uint32_t *) zmalloc (self->nsites * sizeof (uint32_t));
    //  Custody attempts: about 8 slots a node, a power of two
    size_t slots = 4096;
    while (slots < (size_t) self->nodes * 8)
        slots *= 2;
    self->attempts = (attempt_t *) zmalloc (slots * sizeof (attempt_t));
    self->attempts_mask = slots - 1;
    //  Actions from the file, then random faults, in time order
    self->nactions = scn->nactions + scn->faults;
    self->actions = (scn_action_t *) zmalloc ((self->nactions + 1) * sizeof (scn_action_t));
    for (size_t i = 0; i < scn->nactions; i++) {
        const scn_action_t *action = &scn->actions [i];
        if ((action->kind == SCN_OUTAGE || action->kind == SCN_PARTITION)
        &&  action->target >= self->nsites) {
            fprintf (stderr, "weft-sim: line %u: no site %u\n", action->line, action->target);
            return -1;
        }
        if ((action->kind == SCN_REVOKE
          || (action->kind == SCN_CRASH && !action->fraction_set))
        &&  action->target >= self->nodes) {
            fprintf (stderr, "weft-sim: line %u: no node %u\n", action->line, action->target);
            return -1;
        }
        if (action->kind == SCN_TWIN) {
            json_error_t error;
            json_t *doc = json_loads (action->doc, 0, &error);
            bool object = json_is_object (doc);
            json_decref (doc);
            if (!object) {
                fprintf (stderr, "weft-sim: line %u: twin patch is not a JSON object\n",
                         action->line);
                return -1;
            }
        }
        self->actions [i] = *action;
    }
    for (size_t i = scn->nactions; i < self->nactions; i++) {
        scn_action_t *action = &self->actions [i];
        action->at_ms = scn->faults_from_ms
                      + rng_below (&self->faults, scn->faults_to_ms - scn->faults_from_ms + 1);
        action->for_ms = 1000 + rng_below (&self->faults, scn->fault_max_ms);
        int kind = (int) rng_below (&self->faults, 3);
        action->kind = kind == 0? SCN_CRASH: kind == 1? SCN_OUTAGE: SCN_PARTITION;
        action->target = (uint32_t) rng_below (&self->faults,
                                               kind == 0? self->nodes: self->nsites);
    }
    //  Every node has booted by the end of the first heartbeat
    self->quiet_us = (scn->heartbeat_ms + scn->tpm_ms) * 1000;
    for (size_t i = 0; i < self->nactions; i++) {
        const scn_action_t *action = &self->actions [i];
        uint64_t end_us = (action->at_ms + action->for_ms) * 1000;
        if (action->kind == SCN_CRASH)
            end_us += scn->tpm_ms * 1000;
        if (action->kind == SCN_TWIN && scn->twin_rate)
            end_us += (uint64_t) self->nodes * 1000000 / scn->twin_rate;
        if (end_us > self->quiet_us)
            self->quiet_us = end_us;
        sched_push (&self->sched, action->at_ms * 1000, EV_ACTION, (uint32_t) i, 0, NULL);
    }

    //  Stores: one environment for all the agents, one for the coordinator
    snprintf (self->root, sizeof self->root, "%s/weft-sim.XXXXXX", self->opt->dir);
    if (!mkdtemp (self->root)) {
        fprintf (stderr, "weft-sim: cannot create a directory in %s\n", self->opt->dir);
        return -1;
    }
    snprintf (self->node_dir, sizeof self->node_dir, "%s/nodes", self->root);
    snprintf (self->coord_dir, sizeof self->coord_dir, "%s/coord", self->root);
    keys_t ca, coord_keys;
    s_keys (scn->seed, "ca", &ca);
    s_keys (scn->seed, "coordinator", &coord_keys);
    s_keys (scn->seed, "operator", &self->op_keys);
    int rc = s_setup_coord (self, &ca, &coord_keys);
    if (rc == 0) {
        size_t map = (size_t) self->nodes * 16384 + ((size_t) 256 << 20);
        self->node_store = store_new (self->node_dir, node_host_tables (), map);
        rc = self->node_store? store_set_nosync (self->node_store, true): -1;
    }
    if (rc == 0) {
        nh_world_t fx = { self, s_fx_send, s_fx_close, s_fx_timer, s_fx_apply,
                          s_fx_deliver };
        self->host = node_host_new (self->node_store, self->nodes, scn->seed, &ca,
                                    &coord_keys, scn->heartbeat_ms, &fx);
        //  Every node boots at a random moment of the first heartbeat
        for (uint32_t i = 0; i < self->nodes; i++) {
            self->node [i].booting = true;
            sched_push (&self->sched, rng_below (&self->reconnect,
                                                 scn->heartbeat_ms * 1000),
                        EV_BOOT, i, 0, NULL);
        }
        s_coord_arm (self);
        sched_push (&self->sched, 0, EV_SAMPLE, 0, 0, NULL);
    }
    keys_wipe (&coord_keys);
    keys_wipe (&ca);
    if (rc)
        fprintf (stderr, "weft-sim: cannot set up the stores in %s\n", self->root);
    return rc;
}

static void
s_teardown (world_t *self)
{
    node_host_destroy (&self->host);
    coord_destroy (&self->coord);
    store_destroy (&self->node_store);
    store_destroy (&self->coord_store);
    if (self->root [0]) {
        zdir_t *dir = zdir_new (self->root, NULL);
        if (dir) {
            zdir_remove (dir, true);
            zdir_destroy (&dir);
        }
        rmdir (self->node_dir);     //  In case zdir left them, empty
        rmdir (self->coord_dir);
        rmdir (self->root);
    }
    for (size_t i = 0; i < self->npending; i++)
        free (self->pending [i]);
    free (self->pending);
    sched_free (&self->sched);
    free (self->actions);
    for (uint32_t s = 0; self->sites && s < self->nsites; s++)
        free (self->sites [s].acks);
    free (self->sites);
    free (self->ack_sites);
    free (self->attempts);
    free (self->links);
    free (self->node);
    free (self->samples);
    keys_wipe (&self->op_keys);
}

//  --------------------------------------------------------------------------
//  Outputs

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

//  50th, 99th and 100th percentiles of values (sorted here) over unit;
//  -1 where UINT64_MAX (never) is reached
static void
s_percentiles (uint64_t *values, size_t n, double unit, double out [3])
{
    qsort (values, n, sizeof (uint64_t), s_cmp_u64);
    double pct [3] = { 0.5, 0.99, 1.0 };
    for (int k = 0; k < 3; k++) {
        size_t index = (size_t) ceil (pct [k] * n);
        index = index? index - 1: 0;
        out [k] = values [index] == UINT64_MAX? -1: values [index] / unit;
    }
}

//  The oracle (sim/oracle.h) over the overlay the mesh runs on: every
//  link s_link_of allows (coordinator - server, server - each gateway of
//  its site). depths [0] with no drops (a breadth-first search), [1]
//  under the drop rates the link classes have at the end of the run,
//  from a stream of its own.
static void
s_oracle (world_t *self, uint32_t depths [2])
{
    uint32_t n = self->nodes;
    //  Adjacency in CSR form, built from the same predicate the network uses
    uint32_t *start = (uint32_t *) zmalloc ((n + 2) * sizeof (uint32_t));
    bool *root = (bool *) zmalloc ((n + 1) * sizeof (bool));
    for (uint32_t s = 0; s < self->nsites; s++) {
        const site_t *site = &self->sites [s];
        for (uint32_t i = site->first; i < site->first + site->count; i++) {
            root [i] = s_link_of (self, i, COORD) >= 0;
            for (uint32_t j = site->first; j < site->first + site->count; j++)
                if (i != j && s_link_of (self, i, j) >= 0)
                    start [i + 1]++;
        }
    }
    for (uint32_t i = 0; i < n; i++)
        start [i + 1] += start [i];
    uint32_t *adjacent = (uint32_t *) zmalloc ((start [n] + 1) * sizeof (uint32_t));
    uint32_t *fill = (uint32_t *) zmalloc ((n + 1) * sizeof (uint32_t));
    memcpy (fill, start, (n + 1) * sizeof (uint32_t));
    for (uint32_t s = 0; s < self->nsites; s++) {
        const site_t *site = &self->sites [s];
        for (uint32_t i = site->first; i < site->first + site->count; i++)
            for (uint32_t j = site->first; j < site->first + site->count; j++)
                if (i != j && s_link_of (self, i, j) >= 0)
                    adjacent [fill [i]++] = j;
    }
    oracle_overlay_t overlay = { n, start, adjacent, root, 0, 0 };
    rng_t rng;
    rng_derive (&rng, self->scn->seed, "oracle");
    depths [0] = oracle_depth (&overlay, &rng);
    overlay.root_drop = self->classes [1].drop;
    overlay.edge_drop = self->classes [0].drop;
    depths [1] = oracle_depth (&overlay, &rng);
    free (start);
    free (root);
    free (adjacent);
    free (fill);
}

static void
s_write_csv (world_t *self, const char *path)
{
    FILE *file = fopen (path, "w");
    if (!file) {
        fprintf (stderr, "weft-sim: cannot write %s\n", path);
        return;
    }
    fprintf (file, "time_s,delivered,converged,delivered_fraction,converged_fraction\n");
    for (size_t i = 0; i < self->nsamples; i++) {
        const sample_t *s = &self->samples [i];
        fprintf (file, "%.3f,%u,%u,%.6f,%.6f\n", s->at_us / 1e6, s->delivered,
                 s->converged, (double) s->delivered / self->nodes,
                 (double) s->converged / self->nodes);
    }
    fclose (file);
}

static void
s_write_svg (world_t *self, const char *path)
{
    FILE *file = fopen (path, "w");
    if (!file) {
        fprintf (stderr, "weft-sim: cannot write %s\n", path);
        return;
    }
    const double w = 800, h = 400, left = 60, bottom = 40, top = 30, right = 20;
    double span = self->nsamples? self->samples [self->nsamples - 1].at_us / 1e6: 1;
    if (span <= 0)
        span = 1;
    fprintf (file, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
             "font-family=\"sans-serif\" font-size=\"12\">\n", w, h);
    fprintf (file, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf (file, "<text x=\"%.0f\" y=\"18\">weft-sim %s: %u nodes, seed %" PRIu64
             "</text>\n", left, self->scn->name, self->nodes, self->scn->seed);
    double x0 = left, y0 = h - bottom, pw = w - left - right, ph = h - bottom - top;
    fprintf (file, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
             x0, y0, x0 + pw, y0);
    fprintf (file, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
             x0, y0, x0, y0 - ph);
    for (int i = 0; i <= 4; i++) {
        double y = y0 - ph * i / 4;
        fprintf (file, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%d%%</text>\n",
                 x0 - 5, y + 4, i * 25);
        double x = x0 + pw * i / 4;
        fprintf (file, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%.1fs</text>\n",
                 x, y0 + 16, span * i / 4);
    }
    const char *colours [2] = { "#1f77b4", "#d62728" };
    const char *labels [2] = { "delivered", "converged" };
    for (int series = 0; series < 2; series++) {
        fprintf (file, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
                 colours [series]);
        for (size_t i = 0; i < self->nsamples; i++) {
            const sample_t *s = &self->samples [i];
            double value = (series? s->converged: s->delivered) / (double) self->nodes;
            fprintf (file, "%.1f,%.1f ", x0 + pw * (s->at_us / 1e6) / span, y0 - ph * value);
        }
        fprintf (file, "\"/>\n<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">%s</text>\n",
                 x0 + pw - 90, y0 - ph + 14 + 14 * series, colours [series], labels [series]);
    }
    fprintf (file, "</svg>\n");
    fclose (file);
}

static void
s_summary (world_t *self, double wall_s, size_t baseline_rss)
{
    const scenario_t *scn = self->scn;
    uint32_t n = self->nodes;
    uint64_t *lat = (uint64_t *) zmalloc (n * sizeof (uint64_t));
    uint64_t *rounds_of = (uint64_t *) zmalloc (n * sizeof (uint64_t));
    uint64_t *revoke_us = (uint64_t *) zmalloc (n * sizeof (uint64_t));
    uint64_t *revoke_rounds = (uint64_t *) zmalloc (n * sizeof (uint64_t));
    uint64_t sent = 0, sent_bytes = 0, received = 0, received_bytes = 0;
    uint64_t result = 0;
    hash_mix (&result, scn->seed);
    for (uint32_t i = 0; i < n; i++) {
        const snode_t *node = &self->node [i];
        lat [i] = node->delivered? node->deliver_us: UINT64_MAX;
        rounds_of [i] = node->delivered? node->deliver_round: UINT64_MAX;
        revoke_us [i] = node->revocation_held? node->revoked_us: UINT64_MAX;
        revoke_rounds [i] = node->revocation_held? node->revoked_round: UINT64_MAX;
        if (self->revoke_version && i == self->revoke_node)
            revoke_us [i] = revoke_rounds [i] = 0;  //  Not counted: it is the revoked one
        sent += node->sent;
        sent_bytes += node->sent_bytes;
        received += node->received;
        received_bytes += node->received_bytes;
        nh_state_t st;
        node_host_state (self->host, i, &st);
        hash_mix (&result, st.desired);
        hash_mix (&result, st.applied);
        hash_mix (&result, ((uint64_t) st.reported << 1) | st.pending);
        hash_mix (&result, lat [i]);
        hash_mix (&result, node->sent_bytes);
    }
    double t [3], rounds [3], rt [3], rr [3];
    s_percentiles (lat, n, 1000.0, t);
    s_percentiles (rounds_of, n, 1, rounds);
    s_percentiles (revoke_us, n, 1000.0, rt);
    s_percentiles (revoke_rounds, n, 1, rr);
    free (lat);
    free (rounds_of);
    free (revoke_us);
    free (revoke_rounds);
    const coord_stats_t *stats = coord_stats (self->coord);
    hash_mix (&result, stats->rejected_replay);
    hash_mix (&result, stats->rejected_signature);
    hash_mix (&result, stats->duplicates);
    hash_mix (&result, self->sched.now);
    uint64_t uplink_total = 0, uplink_min = UINT64_MAX, uplink_max = 0;
    uint64_t resent = 0, dropped = 0, cut = 0;
    for (uint32_t s = 0; s < self->nsites; s++) {
        const link_t *up = &self->links [2 * s + 1];
        uint64_t bytes = up->bytes [0] + up->bytes [1];
        uplink_total += bytes;
        uplink_min = bytes < uplink_min? bytes: uplink_min;
        uplink_max = bytes > uplink_max? bytes: uplink_max;
        for (int k = 0; k < 2; k++) {
            resent += self->links [2 * s + k].resent;
            dropped += self->links [2 * s + k].dropped;
            cut += self->links [2 * s + k].cut;
        }
        hash_mix (&result, bytes);
    }
    uint32_t oracles [2];
    s_oracle (self, oracles);
    uint32_t oracle = oracles [0];
    size_t peak = s_peak_rss ();

    FILE *out = self->opt->json_path? fopen (self->opt->json_path, "w"): stdout;
    if (!out) {
        fprintf (stderr, "weft-sim: cannot write %s\n", self->opt->json_path);
        out = stdout;
    }
    fprintf (out, "{\n  \"scenario\": \"%s\",\n  \"seed\": %" PRIu64 ",\n"
             "  \"nodes\": %u,\n  \"sites\": %u,\n", scn->name, scn->seed, n, self->nsites);
    fprintf (out, "  \"result\": \"%s\",\n", self->violation [0]? "violation": "ok");
    fprintf (out, "  \"trace_hash\": \"%016" PRIx64 "\",\n  \"result_hash\": \"%016" PRIx64
             "\",\n", self->trace_hash, result);
    fprintf (out, "  \"virtual_s\": %.3f,\n  \"events\": %" PRIu64 ",\n  \"wall_s\": %.3f,\n"
             "  \"events_per_s\": %.0f,\n", self->sched.now / 1e6, self->events, wall_s,
             wall_s > 0? self->events / wall_s: 0.0);
    fprintf (out, "  \"delivery\": {\"ratio\": %.6f, \"t50_ms\": %.1f, \"t99_ms\": %.1f, "
             "\"t100_ms\": %.1f, \"rounds50\": %.0f, \"rounds99\": %.0f, "
             "\"rounds100\": %.0f, \"oracle_rounds\": %u, \"rounds_vs_oracle\": %.2f, "
             "\"oracle_rounds_drop\": %u, \"rounds_vs_oracle_drop\": %.2f},\n",
             (double) self->delivered / n, t [0], t [1], t [2], rounds [0],
             rounds [1], rounds [2], oracle,
             rounds [2] > 0 && oracle? rounds [2] / oracle: -1.0, oracles [1],
             rounds [2] > 0 && oracles [1]? rounds [2] / oracles [1]: -1.0);
    if (self->revoke_version)
        fprintf (out, "  \"revocation\": {\"node\": %u, \"version\": %" PRIu64
                 ", \"holders\": %u, \"ratio\": %.6f, \"t50_ms\": %.1f, \"t99_ms\": %.1f, "
                 "\"t100_ms\": %.1f, \"rounds50\": %.0f, \"rounds99\": %.0f, "
                 "\"rounds100\": %.0f, \"refused_by\": %u},\n",
                 self->revoke_node, self->revoke_version, self->revocation_holders,
                 (double) self->revocation_holders / (n > 1? n - 1: 1), rt [0], rt [1],
                 rt [2], rr [0], rr [1], rr [2], self->refused_by);
    fprintf (out, "  \"converged\": %u,\n", self->converged);
    fprintf (out, "  \"messages_per_node\": {\"sent\": %.2f, \"received\": %.2f},\n"
             "  \"bytes_per_node\": {\"sent\": %.1f, \"received\": %.1f},\n",
             (double) sent / n, (double) received / n, (double) sent_bytes / n,
             (double) received_bytes / n);
    fprintf (out, "  \"uplink_bytes_per_site\": {\"min\": %" PRIu64 ", \"mean\": %.1f, "
             "\"max\": %" PRIu64 "},\n", uplink_min, (double) uplink_total / self->nsites,
             uplink_max);
    fprintf (out, "  \"frames\": {\"sent\": %" PRIu64 ", \"delivered\": %" PRIu64
             ", \"resent\": %" PRIu64 ", \"dropped\": %" PRIu64 ", \"cut\": %" PRIu64
             ", \"to_down_node\": %" PRIu64 ", \"relayed_refused\": %" PRIu64
             ", \"first_hop_behind\": %" PRIu64 "},\n",
             self->frames_sent, self->frames_delivered, resent, dropped, cut,
             self->frames_dropped_down, self->relayed_refused, self->first_hop_behind);
    fprintf (out, "  \"faults\": {\"actions\": %zu, \"crashes\": %" PRIu64 "},\n",
             self->nactions, self->crashes);
    fprintf (out, "  \"twin_calls\": %" PRIu64 ",\n  \"twin_failed\": %" PRIu64 ",\n"
             "  \"desired_acks\": %" PRIu64 ",\n", self->twin_calls, self->twin_failed,
             self->desired_acks);
    fprintf (out, "  \"coordinator\": {\"rejected_replay\": %" PRIu64 ", \"rejected_signature\": %"
             PRIu64 ", \"rejected_origin\": %" PRIu64 ", \"duplicates\": %" PRIu64 "},\n",
             stats->rejected_replay, stats->rejected_signature, stats->rejected_origin,
             stats->duplicates);
    fprintf (out, "  \"memory\": {\"peak_rss_bytes\": %zu, \"baseline_rss_bytes\": %zu, "
             "\"per_node_bytes\": %.0f, \"peak_events_queued\": %zu}\n}\n", peak, baseline_rss,
             peak > baseline_rss? (double) (peak - baseline_rss) / n: 0.0,
             (size_t) self->sched.peak);
    if (out != stdout)
        fclose (out);
    if (!self->opt->quiet)
        fprintf (stderr, "weft-sim: %s seed %" PRIu64 ": %u nodes, %.1f s virtual in %.1f s, "
                 "%" PRIu64 " events (%.0f/s), delivered %u, converged %u, trace %016" PRIx64
                 " result %016" PRIx64 "\n", scn->name, scn->seed, n, self->sched.now / 1e6,
                 wall_s, self->events, wall_s > 0? self->events / wall_s: 0.0,
                 self->delivered, self->converged, self->trace_hash, result);
}

static void
s_report_violation (world_t *self)
{
    fprintf (stderr, "\nweft-sim: INVARIANT VIOLATED at %.6f s: %s\n",
             self->sched.now / 1e6, self->violation);
    fprintf (stderr, "weft-sim: seed %" PRIu64 "\nweft-sim: reproduce with: %s\n",
             self->scn->seed, self->opt->command? self->opt->command: "(unknown)");
    fprintf (stderr, "weft-sim: last events (time s, event, node, arg):\n");
    uint64_t first = self->trace_count > TRACE_RING? self->trace_count - TRACE_RING: 0;
    for (uint64_t i = first; i < self->trace_count; i++) {
        const trace_t *t = &self->trace [i % TRACE_RING];
        fprintf (stderr, "    %" PRIu64 ".%06" PRIu64 " %-10s %u %" PRIu64 "\n",
                 t->time / 1000000, t->time % 1000000, s_ev_names [t->type], t->node, t->arg);
    }
}

//  --------------------------------------------------------------------------
//  Run

int
world_run (const scenario_t *scenario, const world_options_t *options)
{
    world_t *self = (world_t *) zmalloc (sizeof (world_t));
    self->scn = scenario;
    self->opt = options;
    size_t baseline = s_rss ();
    int64_t wall_start = zclock_usecs ();   //  For events/s only, never the cores
    if (s_setup (self)) {
        s_teardown (self);
        free (self);
        return 2;
    }
    if (options->trace_path) {
        self->trace_file = fopen (options->trace_path, "w");
        if (!self->trace_file)
            fprintf (stderr, "weft-sim: cannot write %s\n", options->trace_path);
    }
    uint64_t deadline = self->quiet_us + scenario->settle_ms * 1000;
    uint64_t end = scenario->duration_ms * 1000;
    bool check_convergence = deadline <= end;
    if (check_convergence)
        end = deadline;
    event_t event;
    uint64_t progress = 0;
    while (!self->stop && !zsys_interrupted && sched_pop (&self->sched, &event)) {
        if (event.time > end) {
            self->sched.now = end;
            free (event.data);
            break;
        }
        self->events++;
        s_trace (self, &event);
        s_handle (self, &event);
        free (event.data);
        if (self->sched.now >= self->quiet_us && self->up == self->nodes
        &&  self->converged == self->nodes && self->sched.now > 0
        &&  (!self->revoke_version || self->revocation_holders + 1 >= self->nodes))
            break;                  //  Every device holds the last change
        if (options->verbose && self->events >= progress) {
            progress = self->events + 1000000;
            fprintf (stderr, "weft-sim: %.1f s virtual, %" PRIu64 " events, delivered %u, "
                     "converged %u, queued %zu\n", self->sched.now / 1e6, self->events,
                     self->delivered, self->converged, self->sched.size);
        }
    }
    if (zsys_interrupted)
        s_violation (self, "interrupted");
    if (!self->violation [0] && check_convergence && self->converged < self->nodes) {
        uint32_t example = 0;
        for (uint32_t i = 0; i < self->nodes; i++)
            if (!self->node [i].converged) {
                example = i;
                break;
            }
        nh_state_t st;
        node_host_state (self->host, example, &st);
        s_violation (self, "%u of %u devices did not converge within %.1f s after the "
                     "last fault healed (e.g. node %u: up %d, desired %" PRIu64 " applied %"
                     PRIu64 " want %" PRIu64 " report pending %d)",
                     self->nodes - self->converged, self->nodes,
                     scenario->settle_ms / 1000.0, example, self->node [example].up,
                     st.desired, st.applied, self->node [example].want, st.pending);
    }
    if (self->revoke_version) {
        //  Invariant 6: every other node holds the list and its mesh
        //  refuses the revoked node's key (ZAP and HELLO)
        uint32_t missing = 0, example = 0;
        for (uint32_t i = 0; i < self->nodes; i++) {
            if (i == self->revoke_node)
                continue;
            if (self->node [i].up && !node_host_admits (self->host, i, self->revoke_node))
                self->refused_by++;
            else
            if (!missing++)
                example = i;
        }
        if (!self->violation [0] && check_convergence && missing)
            s_violation (self, "%u of %u nodes do not refuse revoked node %u within %.1f s "
                         "after the last fault healed (e.g. node %u: up %d, revocations "
                         "version %" PRIu64 " of %" PRIu64 ")", missing, self->nodes - 1,
                         self->revoke_node, scenario->settle_ms / 1000.0, example,
                         self->node [example].up,
                         node_host_revocations (self->host, example), self->revoke_version);
    }
    //  Last sample, at the end
    self->samples = (sample_t *) realloc (self->samples,
                                          (self->nsamples + 1) * sizeof (sample_t));
    assert (self->samples);
    self->samples [self->nsamples++] = (sample_t) {
        self->sched.now, self->delivered, self->converged };
    double wall_s = (zclock_usecs () - wall_start) / 1e6;
    s_summary (self, wall_s, baseline);
    if (options->csv_path)
        s_write_csv (self, options->csv_path);
    if (options->plot_path)
        s_write_svg (self, options->plot_path);
    int rc = 0;
    if (self->violation [0]) {
        s_report_violation (self);
        rc = 1;
    }
    if (self->trace_file)
        fclose (self->trace_file);
    s_teardown (self);
    free (self);
    return rc;
}
