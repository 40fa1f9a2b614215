/*  qlist - the quarantine list a node holds
    The coordinator's signed QUARANTINE envelope: the devices whose last
    attestation failed, as a whole list with a version that only grows.
    Unlike the revocation list, names also leave it (the device passed
    again, or an operator cleared it); a newer version replaces the
    older whole, so a removal spreads exactly like an addition. The list
    is verified with the coordinator's key, stored before it is held
    (and before the caller acknowledges it), and reloaded at start, so a
    site cut off from the coordinator keeps refusing a quarantined node
    across restarts. Lookups are O(1). No I/O but the store.  */

#ifndef WEFT_QLIST_H_INCLUDED
#define WEFT_QLIST_H_INCLUDED

#include "proto/proto.h"
#include "proto/store.h"

typedef struct _qlist_t qlist_t;

//  A list kept in table (MESH_TABLE) under prefix + "quarantine".
qlist_t *
    qlist_new (store_t *store, const char *table, const char *prefix,
               const uint8_t coord_sign [WEFT_KEY_SIZE]);

void
    qlist_destroy (qlist_t **self_p);

//  Load the stored list. Returns 0 (also when none is stored), -1 if
//  the stored one does not verify (ignored, logged).
int
    qlist_load (qlist_t *self);

//  Take a QUARANTINE envelope. Returns 1 if it is newer and now held
//  (stored first), 0 if not newer (nothing changed), -1 if it is not a
//  valid coordinator QUARANTINE envelope, PROTO_ERR_STORE if it could
//  not be stored.
int
    qlist_take (qlist_t *self, const uint8_t *frame, size_t size);

//  Version held, 0 if none.
uint64_t
    qlist_version (qlist_t *self);

//  The signed envelope held (borrowed), or NULL.
const uint8_t *
    qlist_frame (qlist_t *self, size_t *size_p);

//  Is this device quarantined? NULL is not.
bool
    qlist_has (qlist_t *self, const char *name);

//  Number of devices on the list.
size_t
    qlist_size (qlist_t *self);

//  A site server's own verdict on a gateway (delegated verification):
//  quarantined at once, before the coordinator knows, and persisted.
//  quarantined false lifts it (the gateway passed here again). Returns
//  0, or -1 if the store failed. qlist_has and qlist_size count these.
int
    qlist_local (qlist_t *self, const char *name, bool quarantined);

size_t
    qlist_local_size (qlist_t *self);

//  After a newer coordinator list: our own entries it carries are its
//  now; with handed_over (every verdict we made reached the coordinator,
//  which checked it again before this list) all of them are dropped:
//  the coordinator's word is final.
void
    qlist_settle (qlist_t *self, bool handed_over);

//  May a quarantined device still exchange envelopes of this type?
//  Attestation traffic only: HEARTBEAT (its answer is the challenge),
//  ATTEST_CHALLENGE and ATTEST_EVIDENCE, DELEGATED_VERDICT (a site
//  server's verdict on it) and PASSPORT (the result that admits it
//  again, proto/passport.h); otherwise it could never pass again.
bool
    qlist_attestation (int type);

void
    qlist_test (bool verbose);

#endif
