/*  attest_state - what a device's attestation admits it to, at the
    coordinator, and the passports that tell its peers
    States (docs/security.md, "Attestation states"):
        not required    its type has no profile, or the profile says
                        "require_attestation": false, and no failure
        never attested  the profile requires attestation; no verdict yet
        fresh           the last attestation passed, less than the
                        profile's interval_s + grace_s ago
        cleared         an operator cleared a failure (weftctl attest
                        clear), less than interval_s + grace_s ago
        overdue         fresh or cleared once, but no new pass within
                        interval_s + grace_s (and the profile requires it)
        failed          the last verdict failed
    Never attested, overdue and failed are quarantined: no twin traffic at
    the coordinator, and peers that require attestation refuse the node
    (a failure also puts it on the signed QUARANTINE list; the others are
    known to peers offline by the passport the node presents, or lacks).
    A fresh or cleared device gets a passport (proto/passport.h) that
    expires when it would become overdue.
    A verdict that passed or was cleared records when it falls due
    ("due_ms") and whether its profile required attestation then, and is
    indexed by that time ("due/" + 16 hex digits + "/" + id in the attest
    table), so the coordinator finds the devices that just became overdue
    by reading the front of the index, never by scanning the fleet. A
    change of profile applies from each device's next verdict. Works
    inside the caller's transactions; no clock, no I/O.  */

#ifndef WEFT_ATTEST_STATE_H_INCLUDED
#define WEFT_ATTEST_STATE_H_INCLUDED

#include "proto/corelib.h"
#include <jansson.h>
#include "proto/store.h"

#include "proto/passport.h"

#define ATTEST_GRACE_DEFAULT    PASSPORT_GRACE_DEFAULT_S    //  Past interval_s before overdue
#define ATTEST_GRACE_MAX        PASSPORT_GRACE_MAX_S
#define ATTEST_INTERVAL_MAX     PASSPORT_INTERVAL_MAX_S

typedef enum {
    ATTEST_NOT_REQUIRED = 0,
    ATTEST_NEVER = 1,
    ATTEST_FRESH = 2,
    ATTEST_CLEARED = 3,
    ATTEST_OVERDUE = 4,
    ATTEST_FAILED = 5
} attest_state_t;

typedef struct {
    int state;                      //  attest_state_t
    bool required;                  //  The profile requires fresh attestation
    uint64_t attested_ms;           //  Last pass or clear (verifier's clock), 0 none
    uint64_t due_ms;                //  Overdue from then on, 0 if not known
} attest_status_t;

//  Store a verdict on device (its registry record) reached with
//  profile (may be NULL): marks when it falls due, moves its entry in
//  the due index, and puts the device in or out of the quarantine set
//  (coordinator/core/quarantine.h). verdict gains "due_ms" and
//  "required". Returns 0 or -1.
int
    attest_verdict_store (store_txn_t *txn, json_t *device, json_t *verdict,
                          json_t *profile);

//  The state of a stored verdict at now_ms (for a device with no
//  verdict use attest_status).
int
    attest_verdict_state (json_t *verdict, uint64_t now_ms);

//  The attestation status of device id at now_ms. device is its
//  registry record, or NULL to read it (only needed when it has no
//  verdict: the profile of its type then says whether one is required).
//  Returns 0 with status filled, or -1 if id is unknown.
int
    attest_status (store_txn_t *txn, const char *id, json_t *device,
                   const uint8_t ca_key [32], uint64_t now_ms, attest_status_t *status);

//  Does this state keep the device out (no twin traffic, peers refuse)?
bool
    attest_state_quarantines (int state);

//  The state's name, as attest.show and the logs give it.
const char *
    attest_state_name (int state);

//  The coordinator's passport for device id if it is fresh or cleared at
//  now_ms and attested later than held_ms: signed with the coordinator's
//  secret key, expiring when the device falls due. device is its
//  registry record, or NULL to read it (only when a passport is made: a
//  heartbeat of a device without one costs one small read). Returns 0
//  with a heap buffer (free()) and *attested_ms_p (may be NULL), 1 if
//  the device gets none (not fresh or cleared, held already, revoked),
//  -1 on error.
int
    attest_passport (store_txn_t *txn, const char *id, json_t *device, uint64_t held_ms,
                     uint64_t now_ms, const uint8_t secret [64], uint8_t **passport_p,
                     size_t *size_p, uint64_t *attested_ms_p);

//  Devices that fell due at or before now_ms: each one still overdue
//  (its verdict not replaced since) is passed to fn with its verdict,
//  and its index entry is removed. At most max devices a call; the rest
//  wait for the next. Returns the number of entries taken, or -1.
typedef void (attest_overdue_fn) (void *arg, const char *device_id, json_t *verdict);
int
    attest_overdue_sweep (store_txn_t *txn, uint64_t now_ms, size_t max,
                          attest_overdue_fn *fn, void *arg);

void
    attest_state_test (bool verbose);

#endif
