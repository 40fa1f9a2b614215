/*  credential - the verifier's side of TPM 2.0 identity
    MakeCredential in software, quote verification, AK checks.

    Pure computation on bytes the TPM marshals (Tss2_MU): no I/O, no clock.
    The RSA and ECC parts use OpenSSL libcrypto, randomness included (the
    seed and the ephemeral ECDH key must never repeat, so they are not
    taken from a caller's deterministic source).

    The verifier never trusts a name a node sends: it computes the AK's
    name from the AK public (credential_name) and binds the secret to that.
    Only the TPM that holds the EK can decrypt the seed, and it releases the
    secret only if an object with that name is loaded in it: a secret the
    node sends back proves the AK and the EK sit in the same TPM.

    Inputs come from the network: every parser checks sizes and returns a
    result, never asserts.  */

#ifndef WEFT_CREDENTIAL_H_INCLUDED
#define WEFT_CREDENTIAL_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  Results: 0 is success, each failure has its own negative value
typedef enum {
    CREDENTIAL_OK = 0,
    CREDENTIAL_BAD_PUBLIC = -1,         //  public key malformed or unsupported
    CREDENTIAL_BAD_ARGUMENT = -2,       //  secret, nonce or PCR list out of range
    CREDENTIAL_CRYPTO = -3,             //  libcrypto failed (out of memory, RNG)
    CREDENTIAL_AK_NOT_RESTRICTED = -4,  //  AK is not a restricted signing key
    CREDENTIAL_AK_NOT_FIXED = -5,       //  AK may leave its TPM (not fixedTPM/fixedParent)
    CREDENTIAL_AK_NOT_TPM_MADE = -6,    //  AK was imported (not sensitiveDataOrigin)
    CREDENTIAL_BAD_ATTEST = -7,         //  TPMS_ATTEST malformed
    CREDENTIAL_NOT_TPM_GENERATED = -8,  //  magic is not TPM_GENERATED_VALUE
    CREDENTIAL_NOT_QUOTE = -9,          //  attestation is not a quote
    CREDENTIAL_NONCE_MISMATCH = -10,    //  extraData is not the verifier's nonce
    CREDENTIAL_BAD_SIGNATURE_FORMAT = -11,  //  TPMT_SIGNATURE malformed or wrong scheme
    CREDENTIAL_BAD_SIGNATURE = -12,     //  signature does not verify with the AK
    CREDENTIAL_PCR_SELECTION = -13,     //  quote covers other PCRs than asked
    CREDENTIAL_PCR_MISMATCH = -14,      //  PCR values do not match the quoted digest
    CREDENTIAL_EK_CERT_MALFORMED = -15, //  EK certificate or CA bundle unreadable
    CREDENTIAL_EK_CERT_UNTRUSTED = -16, //  EK certificate does not chain to a known CA
    CREDENTIAL_EK_CERT_KEY_MISMATCH = -17   //  EK certificate is for another key
} credential_result_t;

//  Human text for a credential_result_t
const char *
    credential_strerror (int result);

//  Compute the name of a key from its marshalled TPM2B_PUBLIC: nameAlg
//  (2 bytes) || H(TPMT_PUBLIC). Returns the name or NULL if malformed.
zchunk_t *
    credential_name (const byte *public, size_t public_size);

//  MakeCredential (TPM 2.0 Part 1, 24): bind secret (1..32 bytes) to the
//  object name and protect it with a seed encrypted to the EK (RSA-OAEP
//  SHA-256, label "IDENTITY"; or ECDH P-256 with an ephemeral key and
//  KDFe). Returns a credential_result_t; on success *credential_p holds a
//  marshalled TPM2B_ID_OBJECT and *secret_p a TPM2B_ENCRYPTED_SECRET, the
//  inputs of TPM2_ActivateCredential.
int
    credential_make (const byte *ek_public, size_t ek_public_size,
                     const byte *name, size_t name_size,
                     const byte *secret, size_t secret_size,
                     zchunk_t **credential_p, zchunk_t **encrypted_secret_p);

//  Check an EK certificate (DER, as read from the TPM's NV): it chains to
//  the CA certificates in ca_pem (a PEM bundle of the vendors' roots and
//  intermediates), is valid at now (unix seconds, the caller's clock), and
//  certifies the key in ek_public (TPM2B_PUBLIC). Returns a result; the
//  chain error is logged.
int
    credential_check_ek_cert (const byte *cert, size_t cert_size,
                              const char *ca_pem, size_t ca_pem_size,
                              const byte *ek_public, size_t ek_public_size, int64_t now);

//  Check that a TPM2B_PUBLIC is a usable AK: a restricted signing key
//  (not decrypt) created inside the TPM, fixedTPM and fixedParent, ECC
//  P-256 ECDSA-SHA256 or RSA-2048 RSASSA-SHA256. Returns a result.
int
    credential_check_ak (const byte *ak_public, size_t ak_public_size);

//  Verify a quote: attest (marshalled TPMS_ATTEST) signed with the AK
//  (TPM2B_PUBLIC) as signature (TPMT_SIGNATURE); the quote is TPM-made,
//  carries nonce as extraData, selects exactly the sha256 PCRs in pcr_mask
//  and its digest equals the hash of pcr_values (32 bytes per PCR in
//  ascending order, as many as bits in pcr_mask). Returns a result.
int
    credential_verify_quote (const byte *ak_public, size_t ak_public_size,
                             const byte *attest, size_t attest_size,
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
    credential_quote_clock (const byte *attest, size_t attest_size, uint64_t *clock,
                            uint32_t *reset_count, uint32_t *restart_count);

//  KDFa (TPM 2.0 Part 1, 11.4.10.2) with SHA-256, exposed for tests and
//  for the session crypto to come. Writes bits / 8 bytes. Returns 0 or -1.
int
    credential_kdfa (const byte *key, size_t key_size, const char *label,
                     const byte *context_u, size_t context_u_size,
                     const byte *context_v, size_t context_v_size,
                     uint32_t bits, byte *out);

//  Self test; the parts that need a TPM start swtpm processes.
void
    credential_test (bool verbose);

#endif
