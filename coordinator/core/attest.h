/*  attest - boot attestation at the coordinator (the verifier of record)
    Security profiles: per tenant and device type, the expected sha256
    PCR values (and optionally the expected event digests per PCR) and
    the re-attestation interval, signed by the CA like every Weft policy
    and checked against the CA key each time they are used
    (attest_policy.h). A device is verified against its own tenant's
    profile for its type and its tenant's IMA allowlist only. A challenge is
    a fresh 32-byte nonce kept per device until its evidence arrives (or
    ATTEST_NONCE_TTL_MS passes); evidence is checked in this order, and
    the verdict names the first failure:
        nonce outstanding, equal, fresh      else "stale or repeated nonce"
        quote signed by the AK bound at enrolment, over that nonce and
        exactly the PCR values sent          else the credential error
        event log parses and replays to every quoted PCR it touches
                                             else "PCR N: event log does not replay"
        each profile PCR equals its expected value, each profile event
        digest equals the log's              else "PCR N ... event #K"
        with "ima": true in the profile, the IMA list replays to the
        quoted PCR 10 and its files are on the signed allowlist
        (attest_runtime.h)                   else "IMA entry #N (path) ..."
    Verdicts and the last evidence's summary are kept in the "attest"
    table: "verdict/" + device id. Works inside the caller's write
    transactions; no clock, no I/O.  */

#ifndef WEFT_ATTEST_H_INCLUDED
#define WEFT_ATTEST_H_INCLUDED

#include "proto/corelib.h"
#include <jansson.h>
#include "proto/tpmmsg.h"
#include "proto/eventlog.h"
#include "proto/passport.h"
#include "proto/store.h"
#include "coordinator/core/pki.h"
#include "proto/attest_ima.h"
#include "coordinator/core/akcache.h"
#include "coordinator/core/attest_runtime.h"
#include "coordinator/core/attest_policy.h"

#define ATTEST_TABLE            "attest"
#define ATTEST_NONCE_SIZE       32
#define ATTEST_NONCE_TTL_MS     30000       //  Evidence later than this is stale
#define ATTEST_INTERVAL_DEFAULT PASSPORT_INTERVAL_DEFAULT_S    //  Seconds between attestations
#define ATTEST_PCRS             EVENTLOG_PCRS

//  --- Profiles and allowlists of each tenant: attest_policy.h

//  A device's IMA state (entries verified, PCR 10 then): zero if none.
void
    attest_ima_state_get (store_txn_t *txn, const char *device_id, attest_ima_state_t *state);

int
    attest_ima_state_put (store_txn_t *txn, const char *device_id,
                          const attest_ima_state_t *state);

//  --- Challenges and evidence

//  Should device (its registry record) be challenged now? If so, stores
//  a fresh nonce and returns 1 with nonce and mask filled; 0 if not due
//  (no TPM, no profile, verdict recent, challenge outstanding); -1 on a
//  store failure. uptime_s is the node's (from its heartbeat): a node
//  that restarted since its verdict is attested again. If the profile
//  has "ima": true, mask includes PCR 10, *ima_from_p is the IMA
//  entry number to send the list from (entries verified so far) and
//  ima_pcr10 PCR 10 after them; else *ima_from_p is -1.
int
    attest_challenge (store_txn_t *txn, json_t *device, const uint8_t ca_key [32],
                      uint64_t uptime_s, uint64_t now_ms,
                      uint8_t nonce [ATTEST_NONCE_SIZE], uint32_t *mask_p,
                      int64_t *ima_from_p, uint8_t ima_pcr10 [32]);

//  Check evidence from device and record the verdict. Returns the
//  verdict (caller json_decref's it): {device, ok, time, reason, pcr,
//  event, nonce}; ok false names the first failure. aks (or NULL)
//  keeps the device's AK parsed for its next quotes, imas (or NULL) the
//  tenants' IMA allowlists (attest_runtime.h).
json_t *
    attest_evidence (store_txn_t *txn, json_t *device, const uint8_t ca_key [32],
                     const tpmmsg_t *evidence, akcache_t *aks, attest_runtime_t *imas,
                     uint64_t now_ms);

//  The stored verdict of a device, or NULL.
json_t *
    attest_verdict_get (store_txn_t *txn, const char *device_id);

//  Is the device quarantined at now_ms: its last verdict failed, or its
//  profile requires attestation and it never attested or is overdue
//  (attest_state.h)? The coordinator then takes no twin reports from it
//  and sends it no desired twin; its heartbeats only bring challenges
//  (and passports), until it passes again or an operator clears it.
bool
    attest_quarantined (store_txn_t *txn, const char *device_id, const uint8_t ca_key [32],
                        uint64_t now_ms);

//  Store a verdict reached elsewhere (attest_delegated.h) on device (its
//  registry record) with the profile it was checked against, and put the
//  device in or out of quarantine with it. Returns 0 or -1.
int
    attest_verdict_put (store_txn_t *txn, json_t *device, json_t *verdict, json_t *profile);

//  Clear a device's failed or overdue verdict (operator decision): it is
//  admitted ("cleared") until it falls due again (interval_s + grace_s
//  from now) and challenged at its next heartbeat. Returns 0, 1 if it
//  has no verdict, -1 on a store failure.
int
    attest_verdict_clear (store_txn_t *txn, json_t *device, const uint8_t ca_key [32],
                          uint64_t now_ms);

//  Fleet summary of the verdicts of the devices visible (fn returns true
//  for them; NULL: all) at now_ms: {verdicts, passed, failed, overdue,
//  cleared, failing: [{device, reason, state}], the failed and overdue
//  ones, at most 100}.
typedef bool (attest_visible_fn) (void *arg, const char *device_id);
json_t *
    attest_summary (store_txn_t *txn, uint64_t now_ms, attest_visible_fn *visible, void *arg);

#endif
