/*  update_internal - what update.c and update_store.c share: the
    module's state and its storage  */

#ifndef WEFT_UPDATE_INTERNAL_H_INCLUDED
#define WEFT_UPDATE_INTERNAL_H_INCLUDED

#include "proto/manifest.h"
#include "proto/release.h"
#include "node/core/update.h"
#include "node/core/window.h"
#include <jansson.h>

#define UPDATE_KEY_MAX      (WEFT_NAME_MAX + 16)
#define UPDATE_TRUST_FORMAT 1
#define UPDATE_JOB_FORMAT   4         //  1: before assigned_ms, 2: before left,
                                      //  3: before offerer (read still)

//  The uplink as the chunk exchange sees it (update_set_link)
typedef struct {
    const char *kind;                   //  "metered", "unmetered" or NULL (static)
    char *waiting;                      //  Why a download waits for it, NULL: it does not
    uint64_t resumes_ms;                //  ... until, 0 not known
} update_link_t;

struct _update_t {
    update_effects_t effects;
    store_t *store;
    chunkstore_t *chunks;
    //  Sized to fit (a node is a few KB in weft-sim)
    char *prefix;
    char *name;
    char *tenant;
    char *type;
    uint8_t coord_sign [WEFT_KEY_SIZE];
    uint8_t *root;                      //  Pinned root from the config, or NULL
    size_t root_size;
    bool trusting;                      //  trust holds a root
    release_trust_t *trust;             //  Made when a root is first pinned: 7 KB
                                        //  that a node with no releases never needs
    //  The job
    int state;                          //  update_state_t
    uint8_t hash [32];                  //  Its manifest's hash
    uint8_t assign_hash [32];           //  Of the assignment that asked for it
    uint64_t assigned_ms;               //  Its issue time: names it in reports
    uint8_t left [32];                  //  The release it let go (dropped), zero: none
    uint64_t anti_rollback;
    char job_name [WEFT_NAME_MAX + 1];
    char job_version [MANIFEST_VERSION_MAX + 1];
    char handler [MANIFEST_HANDLER_MAX + 1];
    char previous [MANIFEST_VERSION_MAX + 1];
    char offerer [WEFT_NAME_MAX + 1];   //  Node whose offer this job is, "" the coordinator
    char error [UPDATE_ERROR_MAX + 1];
    uint8_t *manifest;                  //  Its bytes, owned
    size_t manifest_size;
    size_t chunk_count;
    //  What is installed
    char inst_name [WEFT_NAME_MAX + 1];
    char inst_version [MANIFEST_VERSION_MAX + 1];
    uint64_t inst_anti_rollback;
    uint8_t inst_hash [32];
    bool installed;
    int step;                           //  Step with the handler, 0 if none
    //  When a staged release may start installing (window.h)
    window_t *window;                   //  The twin's "maintenance", NULL: none (most
                                        //  devices: weft-sim hosts 100,000)
    int32_t offset_s;                   //  Local time's offset from UTC
    update_link_t *link;                //  The uplink, NULL: never said (most devices)
    uint64_t now_ms;                    //  Time of the last event (the report's "in ...")
    //  Entitlement of what is installed (update_use.c)
    entitle_t *entitle;                 //  Borrowed, NULL: nothing governed
    int in_use;                         //  As the handler last left it: 1 active,
                                        //  0 deactivated, -1 not known (a start)
};

//  update.c, for update_use.c: enter a state (committed first, then
//  reported and resumed), ask the handler for a step of the job, report,
//  let a release's chunks go unless still needed
void
    update_enter (update_t *self, int state, const char *error, bool installed,
                  uint64_t now_ms);
void
    update_step (update_t *self, int step);
void
    update_report_now (update_t *self);
void
    update_let_go (update_t *self, const uint8_t hash [32]);

//  update_use.c: a step of its own ended (true), or not its step; the
//  installed software's use made to match its entitlement, between jobs
bool
    update_use_installed (update_t *self, int step, bool ok, const char *why,
                          uint64_t now_ms);
void
    update_use_settle (update_t *self, uint64_t now_ms);
//  "active"/"reason" for reported.software when governed
void
    update_use_report (update_t *self, json_t *json);

//  Commit the job (and, when asked, the trust and what is installed) in
//  one transaction. 0 or -1 (logged).
int
    update_store_save (update_t *self, bool trust, bool installed);

//  Commit the trust alone. 0 or -1.
int
    update_store_trust (update_t *self);

//  Read the trust, what is installed and the job as committed: at
//  start, and after a write failed (memory then holds what the store
//  holds). 0 or -1.
int
    update_store_load (update_t *self);

#endif
