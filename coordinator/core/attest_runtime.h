/*  attest_runtime - the IMA part of a verdict (runtime attestation)
    When a device's profile has "ima": true, its challenge asks for PCR
    10 and the IMA list from the entry number the coordinator has
    verified up to (attest_challenge); attest_evidence, once the boot
    checks passed, hands the evidence here. The list is checked with
    attest_ima_verify against the per-device state and the CA-signed
    allowlist of the device's tenant; the new state is written in the caller's
    transaction, the one that stores the verdict, so a verdict and the
    state it was reached from never disagree. The tenants' allowlists
    are parsed once per signed version into an attest_runtime_t, which
    each coordinator core owns. No clock, no I/O.  */

#ifndef WEFT_ATTEST_RUNTIME_H_INCLUDED
#define WEFT_ATTEST_RUNTIME_H_INCLUDED

#include <jansson.h>
#include "proto/tpmmsg.h"
#include "proto/store.h"

typedef struct _attest_runtime_t attest_runtime_t;

//  Create the parsed allowlists' cache of one coordinator core.
attest_runtime_t *
    attest_runtime_new (void);

//  Destroy it; nulls the caller's pointer.
void
    attest_runtime_destroy (attest_runtime_t **self_p);

//  Check the IMA list of evidence from device (its registry record;
//  already known to be quoted by the device's AK over our nonce, with
//  quoted_pcr10 the PCR 10 it covers) against its tenant's allowlist. Adds "ima": {from, sent, verified, entry} to verdict. On a
//  failure sets verdict's ok false, its reason (naming the entry
//  number and path), "pcr" 10 and "event" the entry number, and
//  returns -1; on success stores the advanced state and returns 0. The
//  allowlist comes from self's copy while its signature is the stored
//  one (self NULL: parsed for this check alone).
int
    attest_runtime_check (attest_runtime_t *self, store_txn_t *txn, json_t *device,
                          const uint8_t ca_key [32], const tpmmsg_t *evidence,
                          const uint8_t quoted_pcr10 [32], json_t *verdict);

void
    attest_runtime_test (bool verbose);

#endif
