/*  world - weft-sim's virtual world: sites, links, faults, the
    coordinator core in-process, the agents through node_host, the
    invariant checker and the run's outputs
    Single-threaded and deterministic: every decision comes from the
    scheduler's (time, sequence) order and from PRNG streams derived
    from the one seed; virtual time is the only time the cores see.  */

#ifndef WEFT_SIM_WORLD_H_INCLUDED
#define WEFT_SIM_WORLD_H_INCLUDED

#include "sim/scenario.h"

typedef struct {
    const char *dir;                //  Parent for the run's LMDB directories
    const char *command;            //  Command line that reproduces the run
    const char *json_path;          //  Summary JSON (NULL = stdout)
    const char *csv_path;           //  Convergence curve CSV, or NULL
    const char *plot_path;          //  SVG chart, or NULL
    const char *trace_path;         //  Every event, one per line, or NULL
    bool bug_ack_before_commit;     //  Test-only injected bug
    bool bug_push_overtakes_reply;  //  Test-only: pushes skip held replies
    bool bug_revocation_not_relayed;    //  Test-only: servers drop the list to gateways
    bool bug_tpm_tampered;          //  Test-only: an honest node's TPM quotes a bad boot
    bool bug_chunk_twice;           //  Test-only: the coordinator sends each chunk twice
    bool bug_site_deaf;             //  Test-only: servers never hear failing gateways
    bool verbose;                   //  Progress on stderr
    bool quiet;                     //  No human summary on stderr
} world_options_t;

//  Run scenario (already merged with the command-line overrides).
//  Returns 0 if every invariant held, 1 on a violation (seed, command
//  and trace excerpt printed on stderr), 2 on a setup error.
int
    world_run (const scenario_t *scenario, const world_options_t *options);

#endif
