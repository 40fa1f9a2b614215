/*  quarantine - the coordinator's set of quarantined devices
    A device is quarantined while its last attestation verdict is a
    failure (attest.c records verdicts and calls quarantine_mark in the
    same transaction). The set is indexed ("quarantine/" + id in the
    attest table) so the list sent to the mesh is built from the
    quarantined devices only, never from a scan of the fleet, and every
    change (in or out) bumps a version ("quarantine-version"), which is
    the version of the signed QUARANTINE list nodes compare. Works
    inside the caller's transactions; no I/O.  */

#ifndef WEFT_QUARANTINE_H_INCLUDED
#define WEFT_QUARANTINE_H_INCLUDED

#include "proto/corelib.h"
#include "proto/store.h"

//  Put the device in (quarantined true) or out of the set. Returns 1
//  if the set changed (the version was bumped), 0 if not, -1 on a
//  store failure.
int
    quarantine_mark (store_txn_t *txn, const char *device_id, bool quarantined);

//  Version of the set: 0 until the first change.
uint64_t
    quarantine_version (store_txn_t *txn);

//  Encode the QUARANTINE payload (proto/meshmsg.h) of the set: returns
//  0 with a heap payload (free()) and *version_p, or -1. Past
//  MESHMSG_QUARANTINED_MAX devices the rest are left out (logged).
int
    quarantine_payload (store_txn_t *txn, uint8_t **payload_p, size_t *size_p,
                        uint64_t *version_p);

void
    quarantine_test (bool verbose);

#endif
