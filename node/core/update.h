/*  update - software updates on the device: the offer's checks, the
    install state machine, reported.software
    An UPDATE_OFFER (docs/protocol.md section 21) is a bundle without
    chunks: the module walks its roles from the trust it keeps (the
    root pinned at enrolment, moved forward by every offer it accepts,
    never back), checks the director's assignment for this device, and
    the manifest against our type and the anti-rollback version of what
    is installed. An accepted release goes through, each state committed
    to LMDB before the effect it leads to:

        assigned -> downloading -> verified -> staged -> installing
                 -> health -> committed
                                    \-> failed -> rolled back

    downloading   the effect want: the chunks are fetched (node/core/fetch,
                  or taken from an imported bundle); update_chunks_held
                  says they are all in the chunk store
    verified      every chunk of the manifest is in the chunk store
    staged        the handler assembled the artifact beside its target
                  (INSTALL stage), checking each chunk's address and size;
                  it waits here for the maintenance window (window.h)
    installing    the handler switched to it (INSTALL activate), keeping
                  the previous for a rollback; an ab handler "reboots"
    health        the handler's health check (INSTALL health)
    committed     the previous is let go (INSTALL commit); installed
    failed        a step failed: the handler puts the previous back
                  (INSTALL rollback), then rolled back
    What is installed leaves by the director's uninstall order (a
    SOFTWARE_ORDER, proto/sworder.h), never while an install is under
    way: removing (INSTALL remove) -> uninstalled; its chunks are let go
    (evictable), its anti-rollback version stays. While its entitlement
    has lapsed (node/core/entitle.h) it is deactivated (INSTALL
    deactivate; reactivate at a renewal), between steps of no job.
    Every step the handler runs is idempotent, so after a crash the
    module asks again for the step of the state it finds: the device is
    on the old version or the new one, and the attempt completes. A
    release let go (the previous at a commit, the job's at a rollback,
    one a newer offer replaced) is named in the job record committed
    with that state and dropped again at start, so a crash between the
    commit and the drop leaves no chunks pinned for good.
    Sans-IO: the handler is the driver's (node/io/install.h); the chunk
    store and the store are the node's.
    Table UPDATE_TABLE, keys under the node's prefix:
        "trust"     format (1) || release_trust_t     the metadata trusted
        "job"       the release under way or last finished (s_job_*)
        "installed" anti_rollback be64 || name || 0 || version    committed  */

#ifndef WEFT_UPDATE_H_INCLUDED
#define WEFT_UPDATE_H_INCLUDED

#include "proto/proto.h"
#include "proto/store.h"
#include "proto/release.h"
#include "proto/chunkstore.h"
#include "node/core/window.h"
#include "node/core/entitle.h"

#define UPDATE_TABLE        "update"
#define UPDATE_ERROR_MAX    200         //  Reason kept for reported.software

typedef enum {
    UPDATE_IDLE = 0,
    UPDATE_ASSIGNED = 1,
    UPDATE_DOWNLOADING = 2,
    UPDATE_VERIFIED = 3,
    UPDATE_STAGED = 4,
    UPDATE_INSTALLING = 5,
    UPDATE_HEALTH = 6,
    UPDATE_COMMITTED = 7,
    UPDATE_FAILED = 8,
    UPDATE_ROLLED_BACK = 9,
    UPDATE_REMOVING = 10,           //  The director ordered it removed (update_use.c)
    UPDATE_UNINSTALLED = 11
} update_state_t;

//  Steps the handler carries out (INSTALL action)
typedef enum {
    UPDATE_STEP_STAGE = 1,          //  Assemble the artifact from its chunks
    UPDATE_STEP_ACTIVATE = 2,       //  Switch to it, keeping the previous
    UPDATE_STEP_HEALTH = 3,         //  Check the new version runs
    UPDATE_STEP_COMMIT = 4,         //  Let the previous go
    UPDATE_STEP_ROLLBACK = 5,       //  Put the previous back
    UPDATE_STEP_REMOVE = 6,         //  Uninstall what is installed
    UPDATE_STEP_DEACTIVATE = 7,     //  Take it out of use, reversibly
    UPDATE_STEP_REACTIVATE = 8      //  Put it back in use
} update_step_t;

//  What one step needs; borrowed for the duration of the effect
typedef struct {
    int step;                       //  update_step_t
    uint8_t manifest_hash [32];
    const uint8_t *manifest;        //  The manifest's bytes
    size_t manifest_size;
    const char *name, *version, *handler;
    const char *previous;           //  Version installed before, "" if none
} update_install_t;

typedef struct {
    void *ctx;
    //  Fetch every chunk of this release not held (pinning them); the
    //  answer is update_chunks_held.
    void (*want) (void *ctx, const uint8_t hash [32], const uint8_t *manifest, size_t size);
    //  The release is no longer needed: unpin its chunks, stop fetching.
    void (*drop) (void *ctx, const uint8_t hash [32]);
    //  Carry out a step; the answer is update_installed. One at a time.
    void (*install) (void *ctx, const update_install_t *install);
    //  reported.software changed: a JSON object (borrowed).
    void (*report) (void *ctx, const char *json, size_t size);
} update_effects_t;

typedef struct {
    const char *name;               //  Our device id
    const char *tenant;
    const char *type;               //  Our device type (certificate role)
    const uint8_t *coord_sign;      //  The coordinator's key (assignments)
    const uint8_t *release_root;    //  Pinned root, signed form, or NULL
    size_t release_root_size;
    store_t *store;                 //  With UPDATE_TABLE and CHUNKSTORE_TABLE
    const char *prefix;
    chunkstore_t *chunks;           //  The node's chunk store, borrowed
} update_config_t;

typedef struct _update_t update_t;

//  NULL if the configuration is incomplete.
update_t *
    update_new (const update_config_t *config, const update_effects_t *effects);
void
    update_destroy (update_t **self_p);

//  Load the trust (or start it from the pinned root) and the job; ask
//  again for what the job's state was waiting for. 0 or -1 (store).
int
    update_start (update_t *self, uint64_t now_ms);

//  An UPDATE_OFFER's metadata. Returns a weft_status_t for its custody
//  ACK: OK (taken, or the same assignment again), DENIED with
//  "update refused: R", INTERNAL (store failure or an install under
//  way: the sender tries again later).
int
    update_offer (update_t *self, const uint8_t *metadata, size_t size, uint64_t now_ms,
                  char reason [WEFT_TEXT_MAX + 1]);

//  The same for an offer that offerer (a node's id) sent: the device's
//  reported software then goes to it too at every change (node.c, as
//  UPDATE_STATUS), as long as this is its job. "" as update_offer.
int
    update_offer_from (update_t *self, const char *offerer, const uint8_t *metadata,
                       size_t size, uint64_t now_ms, char reason [WEFT_TEXT_MAX + 1]);

//  The node whose offer the current job is, "" for the coordinator's (or
//  one taken here, from a bundle)
const char *
    update_offerer (update_t *self);

//  Every chunk of the release named is in the chunk store.
void
    update_chunks_held (update_t *self, const uint8_t hash [32], uint64_t now_ms);

//  The handler's result of a step (error: why it failed).
void
    update_installed (update_t *self, int step, bool ok, const char *error, uint64_t now_ms);

//  The maintenance window (the desired twin's "maintenance", window.h)
//  and the local time's offset from UTC (seconds east). A release is
//  downloaded and staged any time; a staged one starts installing only
//  inside the window (never with a malformed one), and reported.software
//  says why it waits ("waiting"); an install started runs to its end.
//  A newer offer replaces a release that waits. No window: any time.
void
    update_set_window (update_t *self, const window_t *window, uint64_t now_ms);
void
    update_set_utc_offset (update_t *self, int32_t offset_s, uint64_t now_ms);

//  The uplink as the chunk exchange sees it (fetch.h, meter.h), for
//  reported.software: link "metered", "unmetered" (a link member says
//  so) or NULL (none); while a download waits for the metered link,
//  why (NULL: it does not) and when it resumes (Unix ms, 0 not known).
//  Reported when it changes.
void
    update_set_link (update_t *self, const char *link, const char *waiting,
                     uint64_t resumes_ms);

//  When the window of a staged release opens (Unix ms), 0 if nothing
//  waits for a time; then update_tick.
uint64_t
    update_deadline (update_t *self);
void
    update_tick (update_t *self, uint64_t now_ms);

//  The director's uninstall order for the software named (opened and
//  checked for us: sworder_open). A weft_status_t for its custody ACK:
//  OK (removing, or removed already by this order), DENIED with
//  "uninstall refused: R" (an install under way, nothing of that name
//  installed, an order older than the assignment of what is
//  installed), INTERNAL (store failure, or a step with the handler: the
//  sender tries again).
int
    update_uninstall (update_t *self, const sworder_t *order, uint64_t now_ms,
                      char reason [WEFT_TEXT_MAX + 1]);

//  The entitlements the module asks about what is installed (borrowed,
//  outlives the module), and the news that one changed: the installed
//  software is deactivated or reactivated to match, between jobs.
void
    update_set_entitle (update_t *self, entitle_t *entitle, uint64_t now_ms);
void
    update_entitlement_changed (update_t *self, uint64_t now_ms);

//  State of the job, and what is installed.
int
    update_state (update_t *self);
const char *
    update_state_name (int state);
const char *
    update_installed_version (update_t *self);
const char *
    update_error (update_t *self);

//  The metadata trusted now (for a bundle imported at this node), NULL
//  while no root is pinned (update_trusting).
const release_trust_t *
    update_trust (update_t *self);

//  Did the trust start (a root is pinned)?
bool
    update_trusting (update_t *self);

//  reported.software as JSON; caller frees.
char *
    update_report_json (update_t *self);

//  Read a release's chunks from the chunk store in the manifest's order,
//  each unpacked and checked against its address and size, and hand
//  them to sink (0 to go on); the sum must be the manifest's size.
//  0, or -1 with error saying which chunk and why.
typedef int (update_sink_fn) (void *arg, const uint8_t *data, size_t size);
int
    update_assemble (chunkstore_t *chunks, store_t *store, const uint8_t *manifest,
                     size_t manifest_size, update_sink_fn *sink, void *arg,
                     char error [UPDATE_ERROR_MAX + 1]);

//  An offer's metadata (a bundle without chunks) from its records, in
//  the order given (roots ascending, timestamp, snapshot, targets, the
//  manifest, the assignment), then the end record. Caller frees.
typedef struct {
    int type;                       //  bundle_record_t
    const uint8_t *data;
    size_t size;
} update_record_t;

uint8_t *
    update_offer_compose (const update_record_t *records, size_t count, size_t *size_p);

void
    update_test (bool verbose);
//  Uninstall and entitlements (update_use_test.c)
void
    update_use_test (bool verbose);

#endif
