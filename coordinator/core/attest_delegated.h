/*  attest_delegated - verdicts of site servers, checked again
    A site server cut off from the coordinator attests its gateways
    itself, with the CA-signed profiles it holds (policy objects), its own
    nonces, and the AK bound in each gateway's certificate; when its
    uplink returns its DELEGATED_VERDICTs arrive with the raw evidence.
    The coordinator does not take the server's word: it checks the
    evidence again exactly as its own (proto/bootverify.h: quote with
    the AK bound at enrolment, event log replay, the profile it holds
    now, widened by the boot measurements of the device's committed
    releases, attest_software.h), records its own verdict (with "via" = the server, and
    "disagrees" when the server concluded otherwise) and quarantines or
    releases on that. What it must take on trust is freshness: the
    nonce was the server's, so only the server knows it was fresh and
    used once (docs/security.md). Works inside the caller's write
    transaction; no clock, no I/O.  */

#ifndef WEFT_ATTEST_DELEGATED_H_INCLUDED
#define WEFT_ATTEST_DELEGATED_H_INCLUDED

#include "proto/corelib.h"
#include <jansson.h>
#include "proto/delegmsg.h"
#include "proto/store.h"

//  Check a DELEGATED_VERDICT from server (its registry record) about
//  device (its record), record the coordinator's verdict and return it
//  (caller json_decref's it). NULL with a reason in error if refused:
//  not from a site server of the device's tenant, no TPM device,
//  evidence malformed, or older than the verdict held.
json_t *
    attest_delegated (store_txn_t *txn, json_t *server, json_t *device,
                      const uint8_t ca_key [32], const delegmsg_t *msg,
                      char *error, size_t error_size);

void
    attest_delegated_test (bool verbose);

#endif
