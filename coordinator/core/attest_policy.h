/*  attest_policy - the attestation policy of each tenant: security
    profiles per device type and the IMA allowlist, CA-signed
    A profile or an allowlist belongs to one tenant and applies only to
    that tenant's devices; tenant "" holds the policy of the devices
    without a tenant (which only deployment-wide operators reach). Who
    may set them is the RPC's business (admin on the tenant's root,
    coordinator/core/rpc_admin.c); this module stores and verifies.

    Stored in the "attest" table:
        "profile/<tenant>/<type>"   {tenant, type, doc: text, sig}
        "allowlist/<tenant>/list"   {tenant, doc: text, sig}
        "allowlist/<tenant>/sig"    {sig}   (read without the list)
    Each signature is the CA's over the context, the tenant, the type
    (profiles) and the text, NUL-separated:
        profile     "weft-profile-v2"   tenant 0x00 type 0x00 doc
        allowlist   "weft-allowlist-v2" tenant 0x00 text
    so a record copied under another tenant's key no longer verifies,
    and is ignored (logged) like any record edited in the database.
    Records from before profiles were per tenant ("profile/<type>",
    "allowlist/fleet", signed without a tenant) verify under no key and
    are ignored. No clock, no I/O but the caller's transaction.  */

#ifndef WEFT_ATTEST_POLICY_H_INCLUDED
#define WEFT_ATTEST_POLICY_H_INCLUDED

#include "proto/corelib.h"
#include <jansson.h>
#include "proto/store.h"
#include "coordinator/core/pki.h"
#include "proto/attest_ima.h"

//  --- Profiles

//  Sign and store the profile for a device type of tenant. doc: {"pcrs":
//  {"N": "64 hex", ...}, "events": {"N": ["64 hex", ...]} (optional),
//  "interval_s": n (optional, at most 30 days), "grace_s": n (optional,
//  at most a day), "require_attestation": false (optional; see
//  attest_state.h), "ima": true (optional: runtime attestation, PCR 10
//  and the IMA list)}. Returns 0, or -1 with a reason.
int
    attest_profile_put (store_txn_t *txn, const char *tenant, const char *type, json_t *doc,
                        pki_t *pki, char *error, size_t error_size);

//  The profile of tenant's type if present and its signature verifies
//  with ca_key, else NULL. Caller json_decref's it.
json_t *
    attest_profile_get (store_txn_t *txn, const char *tenant, const char *type,
                        const uint8_t ca_key [32]);

//  The profile that applies to a device (its registry record): its
//  tenant's, for its type. NULL as attest_profile_get.
json_t *
    attest_profile_of (store_txn_t *txn, json_t *device, const uint8_t ca_key [32]);

//  The PCRs a profile names, as a mask (bit N = PCR N).
uint32_t
    attest_profile_mask (json_t *profile);

//  Call fn (tenant, type) for every stored profile (verified or not),
//  in key order. fn returns 0 to go on. Returns 0 or -1.
typedef int (attest_profile_fn) (void *arg, const char *tenant, const char *type);
int
    attest_profile_each (store_txn_t *txn, attest_profile_fn *fn, void *arg);

//  --- IMA allowlists

//  Sign and store tenant's IMA allowlist (sha256sum format, checked
//  with attest_ima_allowlist_parse). Returns the number of digests, or
//  -1 with a reason.
int
    attest_allowlist_put (store_txn_t *txn, const char *tenant, const char *text, size_t size,
                          pki_t *pki, char *error, size_t error_size);

//  tenant's stored allowlist if present and its signature verifies with
//  ca_key: returns 0 with allow filled (attest_ima_allowlist_free it)
//  and the signature verified in sig_out (may be NULL); 1 if there is
//  none or it does not verify (logged).
int
    attest_allowlist_get (store_txn_t *txn, const char *tenant, const uint8_t ca_key [32],
                          attest_ima_allowlist_t *allow, uint8_t sig_out [64]);

//  tenant's stored allowlist's signature, read without the list (to tell
//  whether a parsed copy is still current). Returns 0, or 1 if none.
int
    attest_allowlist_sig (store_txn_t *txn, const char *tenant, uint8_t sig [64]);

//  tenant's stored allowlist's text if present and its signature
//  verifies with ca_key (caller frees; *size_p its size), else NULL.
char *
    attest_allowlist_text (store_txn_t *txn, const char *tenant, const uint8_t ca_key [32],
                           size_t *size_p);

//  Call fn (tenant, NULL) for every tenant with a stored allowlist.
int
    attest_allowlist_each (store_txn_t *txn, attest_profile_fn *fn, void *arg);

void
    attest_policy_test (bool verbose);

#endif
