/*  pki - the coordinator's certificate authority
    Holds the root Ed25519 key (from ca.key) and issues node, operator
    and coordinator certificates. Serials come from a counter in the
    store, advanced inside the caller's transaction, so a certificate's
    serial is taken exactly when the record that names it commits.  */

#ifndef WEFT_PKI_H_INCLUDED
#define WEFT_PKI_H_INCLUDED

#include "proto/cert.h"
#include "proto/keys.h"
#include "proto/store.h"

#define PKI_NODE_VALIDITY_S     (10ULL * 365 * 86400)   //  No renewal yet
#define PKI_CLOCK_SKEW_S        300                     //  not_before slack

typedef struct _pki_t pki_t;

//  Create over the CA keys (copied; the copy is wiped on destroy).
pki_t *
    pki_new (const keys_t *ca);

void
    pki_destroy (pki_t **self_p);

//  Sign body as a CA policy (profiles, allowlists) under context, as
//  codec_sign does; anyone holding the root public key verifies it.
void
    pki_sign (pki_t *self, const char *context, const uint8_t *body, size_t size,
              uint8_t sig [WEFT_SIG_SIZE]);

//  Root public key.
const uint8_t *
    pki_ca_key (pki_t *self);

//  Fill cert->serial from the store counter, set validity from now_s,
//  sign and encode. Returns 0 and a heap buffer the caller frees, or
//  -1 (store or encode failure, logged).
int
    pki_issue (pki_t *self, store_txn_t *txn, cert_t *cert, uint64_t now_s,
               uint8_t **out_p, size_t *size_p);

//  The same, valid for validity_s seconds from now_s.
int
    pki_issue_valid (pki_t *self, store_txn_t *txn, cert_t *cert, uint64_t now_s,
                     uint64_t validity_s, uint8_t **out_p, size_t *size_p);

void
    pki_test (bool verbose);

#endif
