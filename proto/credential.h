/*  credential - the verifier's side of TPM 2.0 identity
    MakeCredential in software, quote verification, AK checks.

    Pure computation on bytes the TPM marshals (Tss2_MU): no I/O, no clock.
    The RSA and ECC parts use OpenSSL libcrypto, randomness included (the
    seed and the ephemeral ECDH key must never repeat, so they are not
    taken from a caller's deterministic source).

    The verifier never trusts a name a node sends: it computes the AK's
    name from the AK public (tpmverify_name) and binds the secret to that.
    Only the TPM that holds the EK can decrypt the seed, and it releases the
    secret only if an object with that name is loaded in it: a secret the
    node sends back proves the AK and the EK sit in the same TPM.

    Inputs come from the network: every parser checks sizes and returns a
    result, never asserts.  */

#ifndef WEFT_CREDENTIAL_H_INCLUDED
#define WEFT_CREDENTIAL_H_INCLUDED

#include "proto/corelib.h"
#include "proto/tpmverify.h"
#include <stdbool.h>
#include <stdint.h>


//  MakeCredential (TPM 2.0 Part 1, 24): bind secret (1..32 bytes) to the
//  object name and protect it with a seed encrypted to the EK (RSA-OAEP
//  SHA-256, label "IDENTITY"; or ECDH P-256 with an ephemeral key and
//  KDFe). Returns a tpmverify_result_t; on success *credential_p holds a
//  marshalled TPM2B_ID_OBJECT and *secret_p a TPM2B_ENCRYPTED_SECRET, the
//  inputs of TPM2_ActivateCredential.
int
    credential_make (const byte *ek_public, size_t ek_public_size,
                     const byte *name, size_t name_size,
                     const byte *secret, size_t secret_size,
                     zchunk_t **credential_p, zchunk_t **encrypted_secret_p);

//  Check an EK certificate (DER, as read from the TPM's NV): it chains to
//  the CA certificates in ca_pem (a PEM bundle of the vendors' roots and
//  intermediates) with valid signatures, every certificate of the chain
//  is valid at now (unix seconds, the caller's clock), it certifies the
//  key in ek_public (TPM2B_PUBLIC), and its key usage allows an EK
//  (keyEncipherment for RSA, keyAgreement for ECC, and an extended key
//  usage, if any, naming tcg-kp-EKCertificate). Returns a result, each
//  failure its own: TPMVERIFY_EK_CERT_UNKNOWN_ISSUER, _EXPIRED,
//  _NOT_YET_VALID, _BAD_SIGNATURE, _CHAIN (another chain error),
//  _KEY_MISMATCH, _KEY_USAGE, _MALFORMED. detail (may be NULL) gets the
//  reason for an operator: which certificate, its name, the date.
int
    credential_check_ek_cert (const byte *cert, size_t cert_size,
                              const char *ca_pem, size_t ca_pem_size,
                              const byte *ek_public, size_t ek_public_size, int64_t now,
                              char *detail, size_t detail_size);

//  KDFa (TPM 2.0 Part 1, 11.4.10.2) with SHA-256, exposed for tests and
//  for the session crypto to come. Writes bits / 8 bytes. Returns 0 or -1.
int
    credential_kdfa (const byte *key, size_t key_size, const char *label,
                     const byte *context_u, size_t context_u_size,
                     const byte *context_v, size_t context_v_size,
                     uint32_t bits, byte *out);

#endif
