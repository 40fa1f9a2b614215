/*  world_internal - what the parts of weft-sim's world share
    The world's state (sites, links, nodes, the coordinator's held
    frames, the run's figures) and the functions one part of the world
    calls in another: world.c (events, setup, the run), network.c
    (links, connections, faults), coord_host.c (the coordinator core
    and the I/O weft-coord's server does around it), checks.c (the
    invariants) and report.c (the outputs).  */

#ifndef WEFT_SIM_WORLD_INTERNAL_H_INCLUDED
#define WEFT_SIM_WORLD_INTERNAL_H_INCLUDED

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
#define SIM_COORD_SENT      8                   //  Coordinator custody rounds tracked per node
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
    EV_RESET,               //  A gateway's connection breaks; arg = incarnation
    EV_COORD_RESTART,       //  The crashed coordinator starts again
    EV_QUOTE,               //  A node's TPM has its quote; arg = incarnation
    EV_INSTALL_DONE         //  arg = incarnation << 32 | update step
} ev_type_t;

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
    coord_sent_t coord_sent [SIM_COORD_SENT];      //  The latest the coordinator keeps
    uint8_t coord_sent_next;
    bool relinked;                  //  Server: new uplink the coordinator has not heard on
    uint64_t sent, sent_bytes, received, received_bytes;
    uint8_t verdict;                //  At the coordinator: 0 none, 1 passed, 2 failed
} snode_t;

//  Attestation figures (attestation.c)
typedef struct {
    uint32_t bad;                   //  Bad actors in the fleet
    uint64_t asked, answered;       //  Quotes the node cores asked, the TPMs answered
    uint64_t failed_quotes;         //  ... could not answer
    uint64_t coord_evidence;        //  Evidence the coordinator verified itself
    uint64_t delegated;             //  Verdicts of site servers it took and checked again
    uint64_t delegated_pass, delegated_fail;
    uint32_t unsettled;             //  Nodes whose verdict is not yet the expected one
    uint64_t settled_us;            //  When the last one settled
    uint32_t passed, failed;        //  Verdicts at the end
    uint32_t quarantined;           //  ... quarantined by the coordinator
    uint32_t site_quarantined;      //  Gateways their site server quarantines
    zhashx_t *in_flight;            //  Gateways judged at their site, verdict not yet
                                    //  at the coordinator
} attest_stats_t;

//  The software release (rollout.c)
typedef struct {
    uint8_t *fail;                  //  Per node: its install fails the health check
    uint8_t *done;                  //  Per node: 1 committed, 2 rolled back
    uint32_t gateways, assigned, committed, rolled_back;
    uint32_t chunks;                //  In the release
    uint64_t copy_bytes;            //  Packed bytes of one copy of its chunks
    uint64_t *site_bytes;           //  CHUNK_DATA packed bytes down each site's uplink
    uint32_t *site_chunks;
    zhashx_t *seen;                 //  Site || address sent down: the uplink's losses then
    uint64_t resent;                //  Chunks sent again after a loss on the uplink
    uint64_t assign_us, last_us;    //  The assignment; the last commit or rollback
    bool campaign;                  //  Offered by a campaign ("campaign" action)
    bool campaign_idle;             //  It finished or halted, its counts the devices'
    uint64_t campaign_seen_us;      //  When its record was last read
    uint32_t *site_failed;          //  Per site: its gateways rolled back
    uint32_t *site_threshold;       //  ... its directive's threshold (0: none seen)
    uint32_t *site_concurrency;     //  ... its directive's concurrency
    uint32_t *site_late;            //  ... gateways staged once the threshold was met
    uint32_t late_max;              //  The most of site_late
    uint32_t directive_frames;      //  SITE_DIRECTIVE frames sent down the uplinks
    uint64_t idle_us;               //  When the coordinator's counts were the gateways' at the end
} release_stats_t;

typedef struct {
    uint64_t time;
    uint32_t type, node;
    uint64_t arg;
} trace_t;

typedef struct {
    uint64_t at_us;
    uint32_t delivered, converged;
    size_t rss;                     //  Resident set then, bytes
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
    //  Connections between nodes of a site (topology.c): node i dials
    //  dial_peer [dial_start [i] .. dial_start [i + 1]) (its slots),
    //  dial_linked says which are up; node i is dialled by the entries
    //  dialled_by [dialled_start [i] ..). A server's own connection is
    //  to the coordinator (snode_t.linked)
    uint32_t *dial_start, *dial_peer, *dial_owner, *dialled_start, *dialled_by;
    bool *dial_linked;
    uint8_t *level;                 //  Hops from the site server (server 0)
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
    bool coord_down;                //  Crashed, not started again yet
    uint64_t coord_crashes;
    keys_t ca_keys, coord_keys;     //  To start the coordinator again
    uint8_t *coord_cert;
    size_t coord_cert_size;
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
    //  Attestation (attestation.c), when the scenario has it
    uint8_t *tenant_of;             //  Tenant index per node
    uint8_t *bad_of;                //  Bad actor per node
    uint8_t *tpm_bad;               //  Boot the TPM quotes is bad, per node
    attest_stats_t attest;
    release_stats_t rel;
    char violation [512];
    bool stop;
} world_t;

//  Custody attempts: the slot of (node, id, peer) in the lossy cache;
//  peer ARRIVAL holds the round the node took the envelope in
#define ARRIVAL             (UINT32_MAX - 3)

extern const char *world_ev_names [];

//  world.c
uint64_t
    world_now_ms (world_t *self);
void
    world_keys (uint64_t seed, const char *label, keys_t *keys);
size_t
    world_peak_rss (void);
size_t
    world_rss (void);
void
    world_violation (world_t *self, const char *format, ...);

//  topology.c
int
    topo_build (world_t *self);
void
    topo_free (world_t *self);
int
    topo_conn (world_t *self, uint32_t a, uint32_t b, uint32_t *dialler_p);
uint32_t
    topo_slots (world_t *self, uint32_t node);
uint32_t
    topo_neighbours (world_t *self, uint32_t node, uint32_t *out);

//  network.c
attempt_t *
    net_attempt (world_t *self, uint32_t node, const uint8_t *id, uint32_t peer);
void
    net_connect (world_t *self, uint32_t node, uint32_t slot);
void
    net_connect_later (world_t *self, uint32_t node);
void
    net_connect_slot_later (world_t *self, uint32_t node, uint32_t slot);
void
    net_crash (world_t *self, uint32_t node, uint64_t for_us);
frame_t *
    net_frame (uint32_t src, uint32_t dst, uint32_t dest, const uint8_t *data, size_t size);
bool
    net_is_server (world_t *self, uint32_t node);
void
    net_link_down (world_t *self, uint32_t index, uint64_t for_us);
void
    net_link_heal (world_t *self, uint32_t index);
int
    net_link_of (world_t *self, uint32_t node, uint32_t peer);
void
    net_transmit (world_t *self, frame_t *frame);
void
    net_unlink (world_t *self, uint32_t node);
void
    net_unlink_slot (world_t *self, uint32_t node, uint32_t slot);

//  coord_host.c
void
    coord_host_arm (world_t *self);
void
    coord_host_commit (world_t *self);
void
    coord_host_crash (world_t *self, uint64_t for_us);
void
    coord_host_restart (world_t *self);
void
    coord_host_frame (world_t *self, frame_t *frame);
void
    coord_host_revoke (world_t *self, uint32_t node);
int
    coord_host_setup (world_t *self, const keys_t *ca, const keys_t *coord_keys);
void
    coord_host_twin_set (world_t *self, uint32_t node, const char *patch);
json_t *
    coord_host_call (world_t *self, const char *method, char *args);

//  attestation.c
//  rollout.c
int
    rollout_setup (world_t *self);
void
    rollout_record (world_t *self, uint32_t node, json_t *record);
int
    rollout_upload (world_t *self);
void
    rollout_assign (world_t *self);
void
    rollout_install_asked (void *ctx, uint32_t node, int step);
void
    rollout_campaign (world_t *self, const scn_action_t *action);
void
    rollout_install_done (world_t *self, uint32_t node, uint64_t arg);
void
    rollout_observe (world_t *self, uint32_t server, const uint8_t *data, size_t size);
bool
    rollout_delivered (world_t *self, const frame_t *frame);
bool
    rollout_idle (world_t *self);
void
    rollout_check (world_t *self);
void
    rollout_report (world_t *self, FILE *out);
void
    rollout_teardown (world_t *self);

int
    attest_setup (world_t *self);
int
    attest_coord_setup (world_t *self, store_txn_t *txn, pki_t *pki);
int
    attest_record (world_t *self, uint32_t node, json_t *record);
void
    attest_quote_asked (void *ctx, uint32_t node);
void
    attest_quote_due (world_t *self, uint32_t node, uint64_t incarnation);
void
    attest_observe (world_t *self, const uint8_t *data, size_t size);
void
    attest_sent (world_t *self, uint32_t node, uint32_t dest, const envelope_t *env);
bool
    attest_idle (world_t *self);
void
    attest_tally (world_t *self);
void
    attest_teardown (world_t *self);

//  checks.c
void
    check_attestation (world_t *self);
void
    check_delivered (void *ctx, uint32_t node, const uint8_t *data, size_t size);
void
    check_first_hop (world_t *self, const frame_t *frame);
void
    check_node (world_t *self, uint32_t node);

//  report.c
void
    report_csv (world_t *self, const char *path);
void
    report_summary (world_t *self, double wall_s, size_t baseline_rss);
void
    report_svg (world_t *self, const char *path);
void
    report_violation (world_t *self);

#endif
