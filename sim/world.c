/*  world - weft-sim's virtual world: events, setup and the run
    Topology: site s holds nodes [first, first + count); its first node
    is the site server, the others are gateways. The overlay is the
    mesh's: every gateway dials its site server or, in a deep topology
    (topology.c), gateways nearer to it (over the site LAN),
    the server links to the coordinator (over the site uplink) and
    relays for its gateways with the real mesh core (custody outbox,
    CUSTODY_ACKs, routes, revocations). The links and faults are in
    network.c, the coordinator core and the I/O around it in
    coord_host.c, the invariants in checks.c, the outputs in report.c.
    This file runs the events: frames into the nodes' cores (through
    node_host) and the coordinator's, their timers and applies, the
    scenario's actions; it sets the world up from the scenario and
    tears it down.
    Rounds: every frame carries a round, one more than its sender's (a
    Lamport clock of hops; a custody retransmission is one round after
    the previous attempt); see docs/sim.md.  */

#include "sim/world_internal.h"

const char *world_ev_names [] = {
    "?", "frame", "timer", "apply-done", "connect", "restart", "boot", "action",
    "heal", "twin-call", "commit", "tick", "sample", "reset", "coord-restart", "quote",
    "install"
};

uint64_t
world_now_ms (world_t *self)
{
    return EPOCH_MS + self->sched.now / 1000;
}

//  --------------------------------------------------------------------------
//  Violations stop the run

void
world_violation (world_t *self, const char *format, ...)
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
//  Effects of the nodes (through node_host)

static int
s_fx_send (void *ctx, uint32_t node, uint32_t peer, const char *dest,
           const uint8_t *data, size_t size)
{
    world_t *self = (world_t *) ctx;
    int link = net_link_of (self, node, peer == NH_COORDINATOR? COORD: peer);
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
    frame_t *frame = net_frame (node, peer == NH_COORDINATOR? COORD: peer, code, data, size);
    frame->link = (uint32_t) link;
    //  Up: toward the coordinator (a lower level, or a lower index at one level)
    frame->dir = peer == NH_COORDINATOR || self->level [peer] < self->level [node]
              || (self->level [peer] == self->level [node] && peer < node)? 0: 1;
    envelope_t env;
    if (dest && envelope_decode (&env, data, size) == 0) {
        attest_sent (self, node, code, &env);
        //  A custody (re)transmission to this peer: one round after the
        //  previous attempt, the first one round after it was taken
        uint32_t taken = net_attempt (self, node, env.id, ARRIVAL)->round;
        attempt_t *attempt = net_attempt (self, node, env.id, peer);
        if (attempt->sends == 0)
            attempt->round = taken;
        frame->round = attempt->round + ++attempt->sends;
    }
    else {
        frame->round = n->round + 1;
        frame->hello = envelope_decode (&env, data, size) == 0 && env.type == MSG_HELLO;
    }
    net_transmit (self, frame);
    return 0;
}

static void
s_fx_close (void *ctx, uint32_t node, uint32_t peer)
{
    //  The mesh takes its own end down; the connection (the gateway's)
    //  breaks in an event of its own, once this mesh has returned
    world_t *self = (world_t *) ctx;
    uint32_t dialler;
    int entry = peer < self->nodes? topo_conn (self, node, peer, &dialler): -1;
    if (entry < 0)
        return;
    sched_push (&self->sched, self->sched.now, EV_RESET, dialler,
                ((uint64_t) (entry - self->dial_start [dialler]) << 32)
                | self->node [dialler].incarnation, NULL);
}

static void
s_fx_timer (void *ctx, uint32_t node, int kind, uint64_t at_ms)
{
    world_t *self = (world_t *) ctx;
    snode_t *n = &self->node [node];
    assert (kind >= 0 && kind < NH_TIMERS);
    n->timer_gen [kind]++;
    //  One slot per node and kind, re-keyed in place: a re-armed timer
    //  leaves no stale event behind
    uint32_t slot = node * NH_TIMERS + (uint32_t) kind;
    if (at_ms == 0) {
        sched_disarm (&self->sched, slot);
        return;
    }
    uint64_t at_us = at_ms > EPOCH_MS? (at_ms - EPOCH_MS) * 1000: 0;
    sched_arm (&self->sched, slot, at_us, EV_TIMER, node,
               ((uint64_t) n->timer_gen [kind] << 4) | (uint64_t) kind);
}

static void
s_fx_apply (void *ctx, uint32_t node, uint64_t version)
{
    world_t *self = (world_t *) ctx;
    snode_t *n = &self->node [node];
    if (version <= n->done_applied)
        world_violation (self, "node %u: desired version %" PRIu64 " applied twice "
                     "(version %" PRIu64 " already applied and committed)",
                     node, version, n->done_applied);
    sched_push (&self->sched, self->sched.now + self->scn->apply_ms * 1000,
                EV_APPLY_DONE, node, ((uint64_t) n->incarnation << 32) | version, NULL);
}

static void
s_action (world_t *self, const scn_action_t *action, uint32_t index)
{
    if (action->kind == SCN_TWIN) {
        self->last_twin_us = self->sched.now;
        if (self->scn->twin_rate == 0)
            for (uint32_t i = 0; i < self->nodes; i++)
                coord_host_twin_set (self, i, action->doc);
        else
            for (uint32_t i = 0; i < self->nodes; i++)
                sched_push (&self->sched, self->sched.now
                            + (uint64_t) i * 1000000 / self->scn->twin_rate,
                            EV_TWIN_CALL, i, index, NULL);
    }
    else
    if (action->kind == SCN_OUTAGE)
        net_link_down (self, 2 * action->target + 1, action->for_ms * 1000);
    else
    if (action->kind == SCN_PARTITION)
        net_link_down (self, 2 * action->target, action->for_ms * 1000);
    else
    if (action->kind == SCN_CRASH) {
        if (action->fraction_set) {
            uint64_t count = (uint64_t) llround (action->fraction * self->nodes);
            for (uint64_t i = 0; i < count; i++)
                net_crash (self, (uint32_t) rng_below (&self->faults, self->nodes),
                         action->for_ms * 1000);
        }
        else
            net_crash (self, action->target, action->for_ms * 1000);
    }
    else
    if (action->kind == SCN_LOSS)
        self->classes [action->link].loss = action->value;
    else
    if (action->kind == SCN_DROP)
        self->classes [action->link].drop = action->value;
    else
    if (action->kind == SCN_COORD_CRASH)
        coord_host_crash (self, action->for_ms * 1000);
    else
    if (action->kind == SCN_REVOKE)
        coord_host_revoke (self, action->target);
    else
    if (action->kind == SCN_ASSIGN)
        rollout_assign (self);
    else
    if (action->kind == SCN_CAMPAIGN)
        rollout_campaign (self, action);
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
                 world_ev_names [event->type], event->node, arg);
}

static void
s_handle (world_t *self, event_t *event)
{
    uint32_t node = event->node;
    snode_t *n = node < self->nodes? &self->node [node]: NULL;
    uint64_t now_ms = world_now_ms (self);
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
                check_first_hop (self, frame);
            if (frame->dst == COORD) {
                if (self->coord_down)
                    self->frames_dropped_down++;
                else
                    coord_host_frame (self, frame);
                free (frame);
                break;
            }
            snode_t *to = &self->node [frame->dst];
            //  Between two nodes: only over a live connection
            int entry = frame->src == COORD? -1: topo_conn (self, frame->src, frame->dst, NULL);
            bool connected = frame->src == COORD? to->linked
                           : entry >= 0 && self->dial_linked [entry];
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
                    attempt_t *arrival = net_attempt (self, frame->dst, env.id, ARRIVAL);
                    if (arrival->sends++ == 0)
                        arrival->round = frame->round;
                }
            }
            if (rollout_delivered (self, frame))
                node_host_frame (self->host, frame->dst,
                                 frame->src == COORD? NH_COORDINATOR: frame->src, dest_p,
                                 frame->data, frame->size, now_ms);
            check_node (self, frame->dst);
            free (frame);
            break;
        }
        case EV_TIMER: {
            int kind = (int) (event->arg & 15);
            if (n->up && n->timer_gen [kind] == (uint32_t) (event->arg >> 4)) {
                node_host_timer (self->host, node, now_ms, kind);
                check_node (self, node);
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
                check_node (self, node);
            }
            break;
        case EV_CONNECT:
            if (n->up && n->incarnation == (uint32_t) event->arg) {
                net_connect (self, node, (uint32_t) (event->arg >> 32));
                check_node (self, node);
            }
            break;
        case EV_RESTART:
            //  Power on; the TPM unseals the node's keys before it starts
            sched_push (&self->sched, self->sched.now + self->scn->tpm_ms * 1000,
                        EV_BOOT, node, 0, NULL);
            break;
        case EV_BOOT:
            n->booting = false;
            if (node_host_boot (self->host, node, net_is_server (self, node), now_ms)) {
                world_violation (self, "node %u: cannot start from its store", node);
                break;
            }
            n->up = true;
            self->up++;
            n->pending = false;
            n->linked = false;
            check_node (self, node);
            net_connect_later (self, node);
            break;
        case EV_ACTION:
            s_action (self, &self->actions [node], node);
            break;
        case EV_HEAL:
            net_link_heal (self, node);
            break;
        case EV_TWIN_CALL:
            coord_host_twin_set (self, node, self->actions [event->arg].doc);
            break;
        case EV_COMMIT:
            coord_host_commit (self);
            break;
        case EV_COORD_RESTART:
            coord_host_restart (self);
            break;
        case EV_QUOTE:
            attest_quote_due (self, node, event->arg);
            check_node (self, node);
            break;
        case EV_INSTALL_DONE:
            rollout_install_done (self, node, event->arg);
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
                    coord_host_arm (self);
                }
            }
            break;
        case EV_RESET:
            if (n->up && n->incarnation == (uint32_t) event->arg
            &&  (net_is_server (self, node)? n->linked
                 : self->dial_linked [self->dial_start [node] + (event->arg >> 32)])) {
                net_unlink_slot (self, node, (uint32_t) (event->arg >> 32));
                net_connect_slot_later (self, node, (uint32_t) (event->arg >> 32));
                check_node (self, node);
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
                self->sched.now, self->delivered, self->converged, world_rss () };
            sched_push (&self->sched, self->sched.now + self->scn->sample_ms * 1000,
                        EV_SAMPLE, 0, 0, NULL);
            break;
        default:
            assert (false);
    }
}

//  --------------------------------------------------------------------------
//  Setup

void
world_keys (uint64_t seed, const char *label, keys_t *keys)
{
    uint8_t material [48];
    memset (material, 0, sizeof material);
    snprintf ((char *) material, 40, "weft-sim %s", label);
    memcpy (material + 40, &seed, 8);
    uint8_t key_seed [32];
    keys_hash (material, sizeof material, key_seed);
    keys_from_seed (keys, key_seed);
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
    sched_slots (&self->sched, scn->nodes * NH_TIMERS);
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
    if (topo_build (self))
        return -1;
    if (scn->attest && scn->topology != SCN_STAR) {
        fprintf (stderr, "weft-sim: attest needs topology star (a site server judges "
                 "the gateways it links to)\n");
        return -1;
    }
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
    size_t offers = 0;                  //  assign and campaign actions
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
        if ((action->kind == SCN_ASSIGN || action->kind == SCN_CAMPAIGN) && !scn->release) {
            fprintf (stderr, "weft-sim: line %u: %s needs a release line\n", action->line,
                     action->kind == SCN_ASSIGN? "assign": "campaign");
            return -1;
        }
        if (action->kind == SCN_ASSIGN || action->kind == SCN_CAMPAIGN) {
            if (offers++) {
                fprintf (stderr, "weft-sim: line %u: one assign or campaign per scenario\n",
                         action->line);
                return -1;
            }
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
    world_keys (scn->seed, "ca", &ca);
    world_keys (scn->seed, "coordinator", &coord_keys);
    world_keys (scn->seed, "operator", &self->op_keys);
    //  The nodes' host first: the coordinator's records name their AKs
    size_t map = (size_t) self->nodes * 16384 + ((size_t) 256 << 20);
    if (scn->release)
        //  The release's packed bytes are kept once (NH_CHUNK_SHARED;
        //  pages: twice); every node keeps its index of them, at most
        //  a sixteenth of the bytes (chunks of 4 kB or more), and its
        //  update and fetch records
        map += (size_t) self->nodes * (scn->release_size / 16 + 65536)
             + 2 * (size_t) scn->release_size;
    self->node_store = store_new (self->node_dir, node_host_tables (), map);
    int rc = self->node_store? store_set_nosync (self->node_store, true): -1;
    if (rc == 0) {
        nh_world_t fx = { self, s_fx_send, s_fx_close, s_fx_timer, s_fx_apply,
                          check_delivered, scn->attest? attest_quote_asked: NULL,
                          rollout_install_asked };
        self->host = node_host_new (self->node_store, self->nodes, scn->seed, &ca,
                                    &coord_keys, scn->heartbeat_ms, &fx);
        rc = attest_setup (self);
    }
    if (rc == 0)
        rc = coord_host_setup (self, &ca, &coord_keys);
    if (rc == 0)
        rc = rollout_setup (self);
    if (rc == 0)
        rc = rollout_upload (self);
    if (rc == 0) {
        //  Every node boots at a random moment of the first heartbeat
        for (uint32_t i = 0; i < self->nodes; i++) {
            self->node [i].booting = true;
            sched_push (&self->sched, rng_below (&self->reconnect,
                                                 scn->heartbeat_ms * 1000),
                        EV_BOOT, i, 0, NULL);
        }
        coord_host_arm (self);
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
    topo_free (self);
    free (self->node);
    free (self->samples);
    attest_teardown (self);
    rollout_teardown (self);
    keys_wipe (&self->op_keys);
    keys_wipe (&self->ca_keys);
    keys_wipe (&self->coord_keys);
    free (self->coord_cert);
}

//  --------------------------------------------------------------------------
//  Run

int
world_run (const scenario_t *scenario, const world_options_t *options)
{
    world_t *self = (world_t *) zmalloc (sizeof (world_t));
    self->scn = scenario;
    self->opt = options;
    size_t baseline = world_rss ();
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
        &&  (!self->revoke_version || self->revocation_holders + 1 >= self->nodes)
        &&  attest_idle (self) && rollout_idle (self))
            break;                  //  Every device holds the last change
        if (options->verbose && self->events >= progress) {
            progress = self->events + 1000000;
            fprintf (stderr, "weft-sim: %.1f s virtual, %" PRIu64 " events, delivered %u, "
                     "converged %u, queued %zu\n", self->sched.now / 1e6, self->events,
                     self->delivered, self->converged, self->sched.size);
        }
    }
    if (zsys_interrupted)
        world_violation (self, "interrupted");
    if (!self->violation [0] && check_convergence && self->converged < self->nodes) {
        uint32_t example = 0;
        for (uint32_t i = 0; i < self->nodes; i++)
            if (!self->node [i].converged) {
                example = i;
                break;
            }
        nh_state_t st;
        node_host_state (self->host, example, &st);
        world_violation (self, "%u of %u devices did not converge within %.1f s after the "
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
            world_violation (self, "%u of %u nodes do not refuse revoked node %u within %.1f s "
                         "after the last fault healed (e.g. node %u: up %d, revocations "
                         "version %" PRIu64 " of %" PRIu64 ")", missing, self->nodes - 1,
                         self->revoke_node, scenario->settle_ms / 1000.0, example,
                         self->node [example].up,
                         node_host_revocations (self->host, example), self->revoke_version);
    }
    attest_tally (self);
    if (!self->violation [0] && check_convergence)
        check_attestation (self);
    if (!self->violation [0] && check_convergence)
        rollout_check (self);
    //  Last sample, at the end
    self->samples = (sample_t *) realloc (self->samples,
                                          (self->nsamples + 1) * sizeof (sample_t));
    assert (self->samples);
    self->samples [self->nsamples++] = (sample_t) {
        self->sched.now, self->delivered, self->converged, world_rss () };
    double wall_s = (zclock_usecs () - wall_start) / 1e6;
    report_summary (self, wall_s, baseline);
    if (options->csv_path)
        report_csv (self, options->csv_path);
    if (options->plot_path)
        report_svg (self, options->plot_path);
    int rc = 0;
    if (self->violation [0]) {
        report_violation (self);
        rc = 1;
    }
    if (self->trace_file)
        fclose (self->trace_file);
    s_teardown (self);
    free (self);
    return rc;
}
