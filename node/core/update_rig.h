/*  update_rig - the device and the releases the update selftests
    drive: a real LMDB store and chunk store, the update module, and a
    model of the device's files that the rig's handler keeps as the file
    handler keeps real ones; releases built and published with the
    fixture publisher's keys (proto/release_fixture.h), offers composed
    from them. For selftests only (update_rig_test.c).  */

#ifndef WEFT_UPDATE_RIG_H_INCLUDED
#define WEFT_UPDATE_RIG_H_INCLUDED

#include "proto/corelib.h"
#include "proto/chunker.h"
#include "proto/bundle.h"
#include "proto/release_fixture.h"
#include "node/core/update.h"

#define UPDATE_RIG_DEVICE    "gw-1"
#define UPDATE_RIG_ARTIFACT  (96 * 1024)

//  A release: its artifact, manifest and packed chunks
typedef struct {
    uint8_t *artifact;
    size_t size;
    uint8_t *manifest;
    size_t manifest_size;
    uint8_t hash [32];
    size_t count;
    uint8_t entries [16 * MANIFEST_ENTRY_SIZE];
    uint8_t *packed [16];
    size_t packed_size [16];
    release_target_t target;
} update_rig_release_t;

//  The device: its store, the module, and a model of its files that
//  the test's handler keeps as the file handler keeps real ones
typedef struct {
    char dir [64];
    store_t *store;
    chunkstore_t *chunks;
    update_t *update;
    const uint8_t *root;
    size_t root_size;
    size_t wants, drops, installs, reports;
    //  The releases wanted, as the fetch module keeps them in the store
    //  (a crash keeps them); lose_drop: the next drop is lost (a crash
    //  came first)
    uint8_t kept [8][32];
    size_t kept_count;
    bool lose_drop;
    int step;                       //  Asked and not yet answered
    char report [1024];
    char target [16], prev [16], staged [16];
    bool has_prev;                  //  An activation kept the previous
    bool inactive;                  //  Deactivated (entitlement lapsed)
    bool fail_use;                  //  (De)activation steps fail
    bool fail_health;
    const char *staging;            //  Version of the job (what a stage makes)
    uint8_t *manifest;              //  Of the step asked (copied)
    size_t manifest_size;
    uint64_t now;
    window_t window;                //  The twin's, set again at every start
    int32_t offset;
} update_rig_t;

//  Where hash is among the releases the module wants kept, or -1
ssize_t
    update_rig_kept_at (update_rig_t *device, const uint8_t hash [32]);

//  Open the store, chunk store and module, set the window and start
void
    update_rig_open (update_rig_t *device);

//  A crash: nothing but the store survives
void
    update_rig_close (update_rig_t *device);

//  A new device on version 0.1: the store wiped, the module opened
void
    update_rig_fresh (update_rig_t *device);

//  The twin's maintenance windows, JSON list; NULL: none
void
    update_rig_window (update_rig_t *device, const char *windows);

//  Run steps until none is asked, or until the stop-th step is asked
//  (then return it unanswered; executed first if run_it)
int
    update_rig_run (update_rig_t *device, int stop, bool run_it);

//  A release of UPDATE_RIG_ARTIFACT bytes: the first shared bytes alike
//  between releases, the rest made from seed
void
    update_rig_release (update_rig_release_t *r, const char *version,
                        uint64_t anti_rollback, const char *types, uint8_t seed,
                        size_t shared);
//  The same, installed by handler (update_rig_release's: "file")
void
    update_rig_release_by (update_rig_release_t *r, const char *handler, const char *version,
                           uint64_t anti_rollback, const char *types, uint8_t seed,
                           size_t shared);
void
    update_rig_release_free (update_rig_release_t *r);

//  The chunks of a release into the device's chunk store
void
    update_rig_hold (update_rig_t *device, const update_rig_release_t *r);

//  An assignment of version (manifest hash) to device, signed by signer
uint8_t *
    update_rig_assign (const keys_t *signer, const char *device, const char *version,
                       const uint8_t hash [32], uint64_t issued, uint64_t expires,
                       size_t *size_p);

//  An offer: the root, a publication, one manifest, one assignment
uint8_t *
    update_rig_offer (const uint8_t *root, size_t root_size, const release_published_t *p,
                      const uint8_t *manifest, size_t manifest_size, const uint8_t *assign,
                      size_t assign_size, size_t *size_p);

//  An offer refused: the reason, and nothing changed on the device
void
    update_rig_refused (update_rig_t *device, const uint8_t *offer, size_t size,
                        const char *why);

//  An offer of release under an assignment by the coordinator, taken
void
    update_rig_taken (update_rig_t *device, const keys_t *coord, const char *version,
                      const update_rig_release_t *release, const uint8_t *root,
                      size_t root_size, const release_published_t *p);

//  An offer of release under an assignment by signer to device, refused
void
    update_rig_refused_assigned (update_rig_t *device, const keys_t *signer, const char *to,
                                 const char *version, const update_rig_release_t *release,
                                 const uint8_t *root, size_t root_size,
                                 const release_published_t *p, const char *why);

#endif
