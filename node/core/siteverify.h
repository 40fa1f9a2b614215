/*  siteverify - a site server's delegated verifier, without I/O
    While its site is cut off from the coordinator, a site server
    attests the TPM gateways linked to it, as the coordinator would:
    its own fresh nonces (one outstanding per gateway, ATTEST_NONCE TTL
    30 s, used once), the AK bound in the gateway's certificate (the AK
    public the gateway sends must have the certificate's AK name), and
    the coordinator's CA-signed security profiles of the gateway's
    tenant (policy objects "profile/<tenant>/<device type>" spread by
    the site-wide policy gossip, proto/policy.h, checked against the
    CA key each time they are read): another tenant's profile never
    applies. The
    checks themselves are proto/bootverify.h, the coordinator's own. A
    gateway is due when it has no verdict from us yet, its verdict is
    older than the profile's interval_s, or it linked again (restarted).  */

#ifndef WEFT_SITEVERIFY_H_INCLUDED
#define WEFT_SITEVERIFY_H_INCLUDED

#include "proto/proto.h"
#include "proto/tpmmsg.h"
#include "proto/bootverify.h"
#include "proto/store.h"

#define SITEVERIFY_NONCE_SIZE       32
#define SITEVERIFY_NONCE_TTL_MS     30000
#define SITEVERIFY_GATEWAYS_MAX     4096        //  Gateways tracked at once

typedef struct _siteverify_t siteverify_t;

siteverify_t *
    siteverify_new (store_t *store, const char *table, const char *prefix,
                    const uint8_t ca_key [WEFT_KEY_SIZE]);

void
    siteverify_destroy (siteverify_t **self_p);

//  The profile of a device type of tenant ("" = no tenant) if the node
//  holds it (policy store in table under prefix) and it verifies with
//  the CA key, else NULL.
json_t *
    siteverify_profile_get (siteverify_t *self, const char *tenant, const char *device_type);

//  The gateway linked again: it is due at once.
void
    siteverify_forget (siteverify_t *self, const char *gateway);

//  Is gateway (of tenant and device_type, with the AK name of its
//  certificate) due for a challenge? If so returns 1 with a fresh nonce
//  (random bytes from the caller, who owns the RNG) taken as
//  outstanding and *mask_p the profile's PCRs; 0 if not due or no
//  profile of its tenant for its type.
int
    siteverify_challenge (siteverify_t *self, const char *gateway, const char *tenant,
                          const char *device_type, const uint8_t *ak_name,
                          size_t ak_name_size, const uint8_t nonce [SITEVERIFY_NONCE_SIZE],
                          uint64_t now_ms, uint32_t *mask_p);

//  Evidence from gateway. Returns 0 if it does not answer one of our
//  nonces (not ours: let it go on to the coordinator); 1 if it does,
//  with the verdict in result (the nonce is used up either way).
int
    siteverify_evidence (siteverify_t *self, const char *gateway, const tpmmsg_t *evidence,
                         uint64_t now_ms, bootverify_t *result);

void
    siteverify_test (bool verbose);

#endif
