/*  director - the coordinator's assignments of releases to devices
    The Uptane director: the release keys say which software exists, the
    coordinator says which device gets which release, signed with its
    own key (release_assign), and a device installs only what both
    signed. An assignment travels in an UPDATE_OFFER (docs/protocol.md
    section 21) whose metadata is a bundle without chunks: every root of
    the tenant (ascending), the newest timestamp, snapshot and targets
    the repository took in (artrepo.h), the release's manifest, the
    assignment, the end record.
    A batch assigns one release to many devices of its tenant: the
    records every offer shares are read and hashed once; each device
    adds only its assignment (a few hundred bytes) and the end hash,
    made when the offer is sent. An offer that would not fit the
    custody budget of one device (CUSTODY_DEST_BYTES) or a frame is
    refused when the batch is made.
    What was assigned to a device last is kept in ARTREPO_TABLE as
    asg/<device> (JSON: name, version, manifest_hash, issued_ms,
    expires_ms, by), for update status.
    Sans-IO: the caller passes transactions, keys and the time.  */

#ifndef WEFT_DIRECTOR_H_INCLUDED
#define WEFT_DIRECTOR_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "proto/store.h"
#include "proto/manifest.h"
#include "proto/updmsg.h"

//  Largest offer metadata: a frame with its envelope, and one device's
//  custody budget
#define DIRECTOR_OFFER_MAX      UPDMSG_METADATA_MAX
#define DIRECTOR_TTL_MAX_S      (90 * 24 * 3600)    //  Longest assignment
#define DIRECTOR_TTL_S          (7 * 24 * 3600)     //  Default assignment lifetime

typedef struct _director_batch_t director_batch_t;

//  A batch of offers of release name version of tenant, from the
//  repository at now_ms. NULL with *status_p (a weft_status_t) and
//  error set when the tenant has no such release, or it is not in the
//  tenant's current, unexpired targets, or its offer is too large.
director_batch_t *
    director_batch_new (store_txn_t *txn, const char *tenant, const char *name,
                        const char *version, uint64_t now_ms, int *status_p,
                        char error [WEFT_TEXT_MAX + 1]);
void
    director_batch_destroy (director_batch_t **self_p);

//  The release's manifest (borrowed from the batch) and its hash (hex)
const manifest_t *
    director_batch_manifest (director_batch_t *self);
const char *
    director_batch_hash (director_batch_t *self);

//  Assign the release to device (of type) until expires_ms, signed with
//  secret (the coordinator's signing key), and record it in txn as
//  assigned by operator. Returns a weft_status_t: BAD_REQUEST with
//  error when the type does not fit the manifest.
int
    director_batch_add (director_batch_t *self, store_txn_t *txn, const char *device,
                        const char *type, const char *operator_name,
                        const uint8_t secret [WEFT_SECRET_SIZE], uint64_t now_ms,
                        uint64_t expires_ms, char error [WEFT_TEXT_MAX + 1]);

//  Devices in the batch
size_t
    director_batch_size (director_batch_t *self);

//  The offer metadata of the index'th device (heap, caller frees);
//  *device_p borrowed from the batch.
uint8_t *
    director_batch_offer (director_batch_t *self, size_t index, const char **device_p,
                          size_t *size_p);

//  The bytes every offer of the batch shares (magic, roots, timestamp,
//  snapshot, targets, manifest records: no assignment, no end record)
//  and the index'th device's signed assignment record body, both
//  borrowed from the batch: a site server composes each offer from
//  them (bundle_offer_compose), byte for byte as director_batch_offer
const uint8_t *
    director_batch_shared (director_batch_t *self, size_t *size_p);
const uint8_t *
    director_batch_assignment (director_batch_t *self, size_t index, const char **device_p,
                               size_t *size_p);

//  The size of the signed assignment record body director_batch_add
//  would make for device at now_ms (nothing signed or stored); 0 if it
//  cannot be encoded
size_t
    director_batch_assignment_size (director_batch_t *self, const char *device,
                                    uint64_t now_ms, uint64_t expires_ms);

//  What was last assigned to device (caller decrefs), or NULL.
json_t *
    director_assigned (store_txn_t *txn, const char *device);

void
    director_test (bool verbose);

#endif
