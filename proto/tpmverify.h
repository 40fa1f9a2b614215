/*  tpmverify - checks of TPM evidence that need no state and no I/O
    (see tpmverify.c for why it lives in proto/). Inputs come from the
    network: every structure must unmarshal exactly, with nothing
    trailing, before anything in it is believed.  */

#ifndef WEFT_TPMVERIFY_H_INCLUDED
#define WEFT_TPMVERIFY_H_INCLUDED

#include "proto/corelib.h"
#include <stdbool.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

//  Results: 0 is success, each failure has its own negative value
typedef enum {
    TPMVERIFY_OK = 0,
    TPMVERIFY_BAD_PUBLIC = -1,         //  public key malformed or unsupported
    TPMVERIFY_BAD_ARGUMENT = -2,       //  secret, nonce or PCR list out of range
    TPMVERIFY_CRYPTO = -3,             //  libcrypto failed (out of memory, RNG)
    TPMVERIFY_AK_NOT_RESTRICTED = -4,  //  AK is not a restricted signing key
    TPMVERIFY_AK_NOT_FIXED = -5,       //  AK may leave its TPM (not fixedTPM/fixedParent)
    TPMVERIFY_AK_NOT_TPM_MADE = -6,    //  AK was imported (not sensitiveDataOrigin)
    TPMVERIFY_BAD_ATTEST = -7,         //  TPMS_ATTEST malformed
    TPMVERIFY_NOT_TPM_GENERATED = -8,  //  magic is not TPM_GENERATED_VALUE
    TPMVERIFY_NOT_QUOTE = -9,          //  attestation is not a quote
    TPMVERIFY_NONCE_MISMATCH = -10,    //  extraData is not the verifier's nonce
    TPMVERIFY_BAD_SIGNATURE_FORMAT = -11,  //  TPMT_SIGNATURE malformed or wrong scheme
    TPMVERIFY_BAD_SIGNATURE = -12,     //  signature does not verify with the AK
    TPMVERIFY_PCR_SELECTION = -13,     //  quote covers other PCRs than asked
    TPMVERIFY_PCR_MISMATCH = -14,      //  PCR values do not match the quoted digest
    TPMVERIFY_EK_CERT_MALFORMED = -15, //  EK certificate or CA bundle unreadable
    TPMVERIFY_EK_CERT_UNKNOWN_ISSUER = -16,    //  Its issuer is not in the CA bundle
    TPMVERIFY_EK_CERT_KEY_MISMATCH = -17,  //  EK certificate is for another key
    TPMVERIFY_EK_CERT_EXPIRED = -18,   //  It, or an issuer, expired
    TPMVERIFY_EK_CERT_NOT_YET_VALID = -19, //  It, or an issuer, is not valid yet
    TPMVERIFY_EK_CERT_BAD_SIGNATURE = -20, //  Its signature (or an issuer's) does not verify
    TPMVERIFY_EK_CERT_KEY_USAGE = -21, //  Its key usage does not allow an EK
    TPMVERIFY_EK_CERT_CHAIN = -22      //  Another chain error (CA flag, path length, ...)
} tpmverify_result_t;

//  Human text for a tpmverify_result_t
const char *
    tpmverify_strerror (int result);

//  Compute the name of a key from its marshalled TPM2B_PUBLIC: nameAlg
//  (2 bytes) || H(TPMT_PUBLIC). Returns the name or NULL if malformed.
zchunk_t *
    tpmverify_name (const byte *public, size_t public_size);

//  Unmarshal a TPM2B_PUBLIC that must fill the buffer exactly. 0 or -1.
int
    tpmverify_parse_public (const byte *data, size_t size, TPM2B_PUBLIC *public);

//  A libcrypto public key from a TPMT_PUBLIC (RSA-2048, or ECC P-256
//  on the curve), or NULL. Caller EVP_PKEY_free's it.
EVP_PKEY *
    tpmverify_pkey (const TPMT_PUBLIC *public);

//  Check that a TPM2B_PUBLIC is a usable AK: a restricted signing key
//  (not decrypt) created inside the TPM, fixedTPM and fixedParent, ECC
//  P-256 ECDSA-SHA256 or RSA-2048 RSASSA-SHA256. Returns a result.
int
    tpmverify_check_ak (const byte *ak_public, size_t ak_public_size);

//  Fill area with the template of the AK Weft makes (tpm2_createak's,
//  what tpmverify_check_ak accepts): restricted signing, made in the
//  TPM, RSA-2048 RSASSA-SHA256 (rsa) or ECC P-256 ECDSA-SHA256; the
//  unique field is left as it was (the TPM, or a software key, fills it).
void
    tpmverify_ak_template (TPMT_PUBLIC *area, bool rsa);

//  Verify a quote: attest (marshalled TPMS_ATTEST) signed with the AK
//  (TPM2B_PUBLIC) as signature (TPMT_SIGNATURE); the quote is TPM-made,
//  carries nonce as extraData, selects exactly the sha256 PCRs in pcr_mask
//  and its digest equals the hash of pcr_values (32 bytes per PCR in
//  ascending order, as many as bits in pcr_mask). Returns a result.
int
    tpmverify_quote (const byte *ak_public, size_t ak_public_size,
                             const byte *attest, size_t attest_size,
                             const byte *signature, size_t signature_size,
                             const byte *nonce, size_t nonce_size,
                             uint32_t pcr_mask, const byte *pcr_values, size_t pcr_values_size);

//  An AK parsed, checked (tpmverify_check_ak) and made a libcrypto key
//  once, for the quotes of one device: the verifier keeps it per device
//  instead of parsing and building the key for each quote. Read-only
//  once made, so several threads may verify with it at once. Returns
//  NULL and the reason in *result (if not NULL) when the AK is unusable.
typedef struct _tpmverify_ak_t tpmverify_ak_t;

tpmverify_ak_t *
    tpmverify_ak_new (const byte *ak_public, size_t ak_public_size, int *result);

void
    tpmverify_ak_destroy (tpmverify_ak_t **self_p);

//  tpmverify_quote with an AK made by tpmverify_ak_new.
int
    tpmverify_quote_ak (const tpmverify_ak_t *ak, const byte *attest, size_t attest_size,
                        const byte *signature, size_t signature_size,
                        const byte *nonce, size_t nonce_size,
                        uint32_t pcr_mask, const byte *pcr_values, size_t pcr_values_size);

//  Clock fields of a TPMS_ATTEST, to be read only after the quote verified:
//  clock (ms the TPM has been powered, monotonic but for reset),
//  resetCount (TPM resets, i.e. reboots), restartCount (resumes since the
//  last reset). A verifier compares them with the previous quote of the
//  same AK: a reboot the device did not report, or a clock going back, is
//  a reason to distrust the quote sequence. Returns a result.
int
    tpmverify_quote_clock (const byte *attest, size_t attest_size, uint64_t *clock,
                            uint32_t *reset_count, uint32_t *restart_count);

#endif
