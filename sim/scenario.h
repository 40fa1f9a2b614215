/*  scenario - weft-sim scenario files: a line-based description of a
    fleet, its network and the timed events to play on it
    Parsed with explicit limits (line length, number of lines and
    actions, value ranges); anything out of bounds is an error naming
    the line, never an assertion. Plain C with no dependencies beyond
    libc, so the fuzz target (tests/fuzz/scenario.c) can include the
    source directly. The format is documented in docs/sim.md.  */

#ifndef WEFT_SIM_SCENARIO_H_INCLUDED
#define WEFT_SIM_SCENARIO_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCN_TEXT_MAX        (1024 * 1024)   //  Largest scenario file
#define SCN_LINE_MAX        4096            //  Longest line
#define SCN_LINES_MAX       20000           //  Most lines
#define SCN_ACTIONS_MAX     4096            //  Most timed actions
#define SCN_DOC_MAX         2048            //  Longest twin patch text
#define SCN_NODES_MAX       1000000         //  Node names are n000000..n999999: six
                                            //  digits, so names sort as indices
#define SCN_SITES_MAX       10000           //  Most sites
#define SCN_FAULTS_MAX      100000          //  Most random faults
#define SCN_TIME_MAX_MS     (30ULL * 24 * 3600 * 1000)  //  Any duration
#define SCN_LATENCY_MAX_US  (60ULL * 1000 * 1000)       //  Link latency, jitter
#define SCN_BAD_MAX         1000            //  Most bad actors (attest bad=)
#define SCN_BANDWIDTH_MAX   (100ULL * 1000 * 1000 * 1000)   //  Bytes per second
#define SCN_DEPTH_MAX       12              //  Gateway levels (the hop limit is 16)
#define SCN_RELEASE_MAX     (64ULL << 20)   //  Largest simulated release (bytes)
#define SCN_RELEASE_FAIL_MAX    1000        //  Most gateways whose install fails

//  How the gateways of a site link up (docs/sim.md, "Topologies")
typedef enum {
    SCN_STAR = 0,                   //  Every gateway dials its site server
    SCN_LINE = 1,                   //  Lines of gateways, each dials the one before
    SCN_RING = 2,                   //  Lines whose last gateway also dials the server
    SCN_GRID = 3                    //  Lines, each gateway also dials its neighbour lane's
} scn_topology_t;

typedef enum {
    SCN_TWIN = 1,                   //  twin.set of a patch on every device
    SCN_OUTAGE = 2,                 //  A site's uplink is down for a while
    SCN_PARTITION = 3,              //  A site's LAN is down for a while
    SCN_CRASH = 4,                  //  Node(s) crash, restart after a while
    SCN_LOSS = 5,                   //  Change the loss of a link class
    SCN_REVOKE = 6,                 //  device.revoke of one node
    SCN_DROP = 7,                   //  Change the drop of a link class
    SCN_COORD_CRASH = 8,            //  The coordinator crashes, restarts after a while
    SCN_ASSIGN = 9,                 //  update.assign of the release to every gateway
    SCN_CAMPAIGN = 10               //  A campaign of the release over every gateway
} scn_kind_t;

typedef struct {
    uint64_t at_ms;                 //  Virtual time from the start
    int kind;                       //  scn_kind_t
    uint32_t target;                //  Site or node index
    bool fraction_set;              //  Crash a fraction, not one node
    double fraction;                //  Of all nodes, chosen by the seed
    uint64_t for_ms;                //  Fault duration
    double value;                   //  New loss or drop (SCN_LOSS, SCN_DROP)
    int link;                       //  0 = lan, 1 = uplink (SCN_LOSS, SCN_DROP)
    char *doc;                      //  Twin patch; campaign.create's plan (JSON text), owned
    uint32_t line;                  //  Where it was written
} scn_action_t;

typedef struct {
    uint64_t latency_us;            //  One-way base latency
    uint64_t jitter_us;             //  Added uniformly in [0, jitter]
    double loss;                    //  Probability a transmission of a frame
                                    //  is lost; TCP sends it again (a delay)
    uint64_t bandwidth;             //  Bytes per second, 0 = unlimited
    double drop;                    //  Probability a frame vanishes unnoticed
} scn_link_t;

typedef struct {
    char name [64];                 //  From the "name" line
    uint32_t nodes;                 //  All agents (servers + gateways)
    uint32_t sites;                 //  Each site: one server, the rest gateways
    uint64_t seed;                  //  The run's only source of randomness
    uint64_t duration_ms;           //  Hard end of virtual time
    uint64_t settle_ms;             //  Allowed to converge after the last heal
    uint64_t heartbeat_ms;          //  Agent heartbeat interval
    uint64_t apply_ms;              //  Latency of an apply
    uint64_t tpm_ms;                //  Latency of a TPM operation (unseal at boot)
    uint64_t sample_ms;             //  Convergence curve resolution
    uint32_t twin_rate;             //  twin.set calls per second, 0 = all at once
    int topology;                   //  scn_topology_t, the same in every site
    uint32_t depth;                 //  Gateway levels of a line (not star)
    double cross;                   //  Chance a gateway also dials a diagonal one
    scn_link_t lan;                 //  Gateway <-> site server, gateway <-> gateway
    scn_link_t uplink;              //  Site server <-> coordinator
    uint32_t faults;                //  Random faults drawn from the seed
    uint64_t faults_from_ms;        //  ... starting in this window
    uint64_t faults_to_ms;
    uint64_t fault_max_ms;          //  Longest random fault
    //  Attestation ("attest" line): nodes with a simulated TPM, a
    //  profile per tenant and device type at the coordinator
    bool attest;
    uint32_t attest_bad;            //  Gateways whose event log is off the profile
    uint32_t attest_tenants;        //  1 or 2 tenants, by site
    uint64_t attest_interval_ms;    //  The profile's interval_s
    uint64_t quote_ms;              //  Latency of a quote
    //  A software release ("release" line): built and uploaded to the
    //  coordinator's repository at the start, offered by "assign"
    bool release;
    uint64_t release_size;          //  Bytes of the artifact
    uint32_t release_fail;          //  Gateways whose install fails its health check
    uint32_t release_fail_at;       //  ... each the Nth gateway of its site (0: the last)
    size_t nactions;
    scn_action_t *actions;          //  Sorted by time, ties in file order
} scenario_t;

//  Set defaults (no actions).
void
    scenario_defaults (scenario_t *self);

//  Parse text (size bytes, need not be NUL-terminated) over the
//  defaults already in self. Returns 0, or -1 with a message naming
//  the line in error (error_size bytes). On -1 self holds no
//  allocations.
int
    scenario_parse (scenario_t *self, const char *text, size_t size,
                    char *error, size_t error_size);

//  Parse a duration such as "250ms", "5s", "2m", "1h" (bare = ms).
//  Returns 0 or -1.
int
    scenario_duration (const char *text, uint64_t *ms_p);

//  Free the actions.
void
    scenario_free (scenario_t *self);

#endif
