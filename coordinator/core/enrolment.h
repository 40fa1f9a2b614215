/*  enrolment - the coordinator's side of device enrolment
    Decides an ENROL_REQUEST whose envelope signature the caller has
    already checked against the request's own sign key, and records the
    device inside the caller's write transaction: token marked used,
    device record, curve key index and empty twin, all or nothing. The
    caller commits only when result.created is set.  */

#ifndef WEFT_ENROLMENT_H_INCLUDED
#define WEFT_ENROLMENT_H_INCLUDED

#include "proto/corelib.h"
#include <jansson.h>
#include "proto/msg.h"
#include "proto/tpmmsg.h"
#include "proto/keys.h"
#include "coordinator/core/pki.h"

#define ENROLMENT_TPM_TABLE         "tpm_ek"    //  Pre-registered EKs
#define ENROLMENT_TICKET_TTL_S      300         //  TPM_CHALLENGE answers within this

typedef struct {
    int status;                     //  weft_status_t
    char message [WEFT_TEXT_MAX + 1];   //  Why refused, or "enrolled"
    uint8_t *cert;                  //  Node certificate on OK, heap
    size_t cert_size;
    bool created;                   //  A new device was written to txn
    char tenant [WEFT_NAME_MAX + 1];    //  Tenant the request concerns, also when
                                    //  refused: its token's or EK pre-registration's
                                    //  ("" if neither was found), for the audit log
    //  TPM onboarding, first step: a challenge instead of a certificate
    bool challenge;                 //  Send TPM_CHALLENGE with these
    char device [WEFT_NAME_MAX + 1];    //  Device id to be issued
    zchunk_t *credential;           //  TPM2B_ID_OBJECT
    zchunk_t *secret;               //  TPM2B_ENCRYPTED_SECRET
    uint8_t ticket [TPMMSG_TICKET_SIZE];    //  To be returned in TPM_PROOF
    //  With a certificate: the signed release root of its tenant, heap,
    //  or NULL if the tenant has none (coord_enrol.c)
    uint8_t *release_root;
    size_t release_root_size;
} enrolment_result_t;

//  Decide and record. name is the envelope origin (the requested device
//  id), link_key the CURVE key the connection authenticated. On OK,
//  either created (commit txn) or a retry by the same key with the same
//  token (the stored certificate is returned; nothing to commit).
void
    enrolment_apply (pki_t *pki, store_txn_t *txn, const uint8_t coord_curve [32],
                     const char *name, const msg_enrol_request_t *request,
                     const uint8_t link_key [32], uint64_t now_s,
                     enrolment_result_t *result);

//  TPM onboarding (docs/security.md). A TPM_ENROL_REQUEST (request->
//  type) gets a challenge: a secret bound to the AK's name and
//  encrypted to the EK, which only the TPM holding both recovers; a
//  TPM_PROOF with that secret gets the certificate, with the AK's name
//  bound into it. The EK must be pre-registered
//  (enrolment_tpm_preregister), or its certificate must chain to
//  ek_ca_pem (may be NULL). Stateless between the two steps: the secret
//  is derived from the ticket and everything the request carries with a
//  key derived from coord_keys, so a proof fits only the request it
//  answers. link_key is the connection's CURVE key, name the envelope
//  origin (used only when the EK is not pre-registered). Records the
//  device in txn when result->created.
void
    enrolment_tpm_apply (pki_t *pki, store_txn_t *txn, const keys_t *coord_keys,
                         const char *ek_ca_pem, size_t ek_ca_size, const char *name,
                         const tpmmsg_t *request, const uint8_t link_key [32],
                         uint64_t now_s, enrolment_result_t *result);

//  The refusal for a device id held elsewhere, whoever holds it and
//  however (enrolled, or reserved for a TPM), so that it tells no tenant
//  what another one has (docs/registry.md, "Device ids")
#define ENROLMENT_ID_TAKEN          "device id %s is not available"

//  Is id reserved for a TPM (pre-registered, or enrolled by its EK)?
bool
    enrolment_id_reserved (store_txn_t *txn, const char *id);

//  Index the EKs of devices enrolled by an EK certificate before such
//  EKs were indexed (once per database; a meta flag records it), so
//  that none of them can be pre-registered. Returns 0 or -1.
int
    enrolment_tpm_index (store_txn_t *txn);

//  Pre-register an EK (TPM2B_PUBLIC) as device id with its placement:
//  tenant, path and tags ({key: value}, may be NULL) and type (may be
//  ""; the device then enrols as a gateway). Never replaces anything:
//  an EK already registered (pre-registered or enrolled, in any tenant)
//  and an id held (enrolled, or reserved for another EK) are refused.
//  The caller checks that tenant and path are the caller's to give.
//  Returns 0, or -1 with a reason in error (bad id or key, "this EK is
//  already registered", ENROLMENT_ID_TAKEN).
int
    enrolment_tpm_preregister (store_txn_t *txn, const char *id,
                               const uint8_t *ek_public, size_t ek_public_size,
                               const char *tenant, const char *path, json_t *tags,
                               const char *type, uint64_t now_s,
                               char *error, size_t error_size);

//  The vendor EK CA bundle (PEM) weft-coord was started with, kept in
//  ENROLMENT_TPM_TABLE so that the core reads it through the store. NULL
//  or size 0 removes it. Returns 0 or -1.
int
    enrolment_tpm_set_ca (store_txn_t *txn, const char *pem, size_t size);

//  The bundle, or NULL if none (caller frees; NUL-terminated).
char *
    enrolment_tpm_ca (store_txn_t *txn, size_t *size_p);

//  The pre-registration of an EK, or NULL. Caller json_decref's it.
json_t *
    enrolment_tpm_prereg_get (store_txn_t *txn, const uint8_t *ek_public,
                              size_t ek_public_size);

//  Free the certificate in a result.
void
    enrolment_result_clear (enrolment_result_t *result);

//  The key an EK is indexed by in ENROLMENT_TPM_TABLE: hex BLAKE2b-256
//  of its TPM2B_PUBLIC.
#define ENROLMENT_EK_HASH_HEX   65
void
    enrolment_ek_hash (const uint8_t *ek_public, size_t ek_public_size,
                       char hex [ENROLMENT_EK_HASH_HEX]);

#endif
