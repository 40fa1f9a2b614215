/*  tpm - the node's TPM 2.0 adapter (tpm2-tss ESYS)
    Endorsement key, attestation key, credential activation, quotes and PCRs.

    Every call blocks on the TPM (a real TPM takes tens to hundreds of
    milliseconds per command, an RSA primary key seconds), so the node runs
    a tpm_t in an actor of its own (tpm_actor) and never on an event loop. A tpm_t is
    thread-confined: one per thread, never shared.

    Objects: the EK of the type last used is kept loaded (it is recreated
    from the endorsement seed, so it is the same key every time); the AK is
    loaded from its saved blob for each operation and flushed before the
    call returns, as is every session. Nothing is made persistent: the AK
    lives in the node's own storage as an opaque blob (tpm_ak_create), which
    only this TPM can load, under this TPM's EK.

    Byte formats handed out, all as the TPM marshals them (Tss2_MU):
      EK and AK public:     TPM2B_PUBLIC
      name:                 TPM2B_NAME contents (nameAlg || digest)
      credential blob:      TPM2B_ID_OBJECT
      encrypted secret:     TPM2B_ENCRYPTED_SECRET
      quote:                TPMS_ATTEST and TPMT_SIGNATURE  */

#ifndef WEFT_TPM_H_INCLUDED
#define WEFT_TPM_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _tpm_t tpm_t;

//  Key algorithms for the EK and the AK
typedef enum {
    TPM_KEY_RSA = 1,                //  RSA-2048 (AK: RSASSA-SHA256)
    TPM_KEY_ECC = 2                 //  ECC NIST P-256 (AK: ECDSA-SHA256)
} tpm_key_type_t;

//  NV indices of the EK certificates (TCG EK Credential Profile, low range)
#define TPM_NV_EK_CERT_RSA  0x01c00002
#define TPM_NV_EK_CERT_ECC  0x01c0000a
//  Persistent EK handles (TCG TPM v2.0 Provisioning Guidance)
#define TPM_EK_PERSISTENT_RSA   0x81010001
#define TPM_EK_PERSISTENT_ECC   0x81010002

//  Open the TPM through a TCTI configuration string, as Tss2_TctiLdr takes
//  it: "device:/dev/tpmrm0" in production (the kernel resource manager),
//  "swtpm:host=127.0.0.1,port=N" for swtpm. NULL or "" picks tpm2-tss's
//  default. Returns NULL if the TPM cannot be opened.
tpm_t *
    tpm_new (const char *tcti);

//  Flush what this tpm_t loaded and close the TPM; nulls the pointer.
void
    tpm_destroy (tpm_t **self_p);

//  Create (or recreate: same seed, same key) the EK of the given type from
//  the standard TCG template and return its TPM2B_PUBLIC and its name.
//  Either output may be NULL if not wanted. Returns 0 or -1.
int
    tpm_ek_public (tpm_t *self, tpm_key_type_t type, zchunk_t **public_p, zchunk_t **name_p);

//  The EK this TPM is provisioned with, so that a node presents the key
//  its vendor certified (or its owner provisioned): the type of its EK
//  certificate in NV (RSA-2048 first, then ECC P-256), else of a
//  persistent EK (0x81010001 RSA, 0x81010002 ECC), else RSA-2048 if the
//  TPM implements RSA, else ECC P-256. Returns 0 with *type_p set, or -1.
int
    tpm_ek_type (tpm_t *self, tpm_key_type_t *type_p);

//  Read the EK certificate (DER) for the given type from NV. Returns NULL
//  if the TPM holds none (swtpm provisioned without certificates) or on error.
zchunk_t *
    tpm_ek_cert (tpm_t *self, tpm_key_type_t type);

//  Create an AK (restricted signing key: fixedTPM, fixedParent,
//  sensitiveDataOrigin, userWithAuth) under the EK of ek_type, as
//  tpm2_createak does. Returns in *blob_p the opaque blob to save and pass
//  to tpm_activate / tpm_quote (it survives process restarts), in
//  *public_p its TPM2B_PUBLIC and in *name_p its name. Returns 0 or -1.
int
    tpm_ak_create (tpm_t *self, tpm_key_type_t ek_type, tpm_key_type_t ak_type,
                   zchunk_t **blob_p, zchunk_t **public_p, zchunk_t **name_p);

//  The type of the EK an AK blob was made under, or 0 if it is not a blob.
tpm_key_type_t
    tpm_ak_blob_ek_type (zchunk_t *blob);

//  Public part and name of a saved AK blob, without touching the TPM.
int
    tpm_ak_blob_public (zchunk_t *blob, zchunk_t **public_p, zchunk_t **name_p);

//  Recover a secret the verifier bound to this AK's name and encrypted to
//  this TPM's EK (TPM2_ActivateCredential, with the EK authorised through a
//  PolicySecret(TPM_RH_ENDORSEMENT) session). credential is a marshalled
//  TPM2B_ID_OBJECT, secret a marshalled TPM2B_ENCRYPTED_SECRET. Returns the
//  secret (caller frees and should wipe), or NULL if the TPM refuses it.
zchunk_t *
    tpm_activate (tpm_t *self, zchunk_t *ak_blob, zchunk_t *credential, zchunk_t *secret);

//  Quote the sha256 PCRs in pcr_mask (bit N = PCR N, PCRs 0-23) with the
//  AK, over the verifier's nonce as qualifyingData (1..64 bytes). Returns
//  the marshalled TPMS_ATTEST and TPMT_SIGNATURE. Returns 0 or -1.
int
    tpm_quote (tpm_t *self, zchunk_t *ak_blob, uint32_t pcr_mask,
               const byte *nonce, size_t nonce_size,
               zchunk_t **attest_p, zchunk_t **signature_p);

//  Read one sha256 PCR into digest (32 bytes). Returns 0 or -1.
int
    tpm_pcr_read (tpm_t *self, int pcr, byte *digest);

//  Extend one sha256 PCR with a 32-byte digest. Returns 0 or -1.
int
    tpm_pcr_extend (tpm_t *self, int pcr, const byte *digest);

//  The TPM actor: a tpm_t in a thread of its own, so that no TPM command
//  ever runs on an event loop. args is the TCTI string (may be NULL). Each
//  request on the actor's pipe gets exactly one reply, in order; the
//  caller polls the actor like any socket. Frames are binary; numbers are
//  one byte (types, PCR index) or four bytes big-endian (PCR mask):
//
//    "EK" type (0: the TPM's, tpm_ek_type) -> "OK" public name cert (empty
//                                         if none) type
//    "AK" ek_type ak_type              -> "OK" blob public name
//    "ACTIVATE" blob credential secret -> "OK" secret
//    "QUOTE" blob mask nonce           -> "OK" attest signature
//    "PCR READ" index                  -> "OK" digest
//    "PCR EXTEND" index digest         -> "OK"
//    anything that fails               -> "ERROR" reason
//
//  If the TPM cannot be opened the actor still starts and answers every
//  request "ERROR" "TPM unavailable": the node then runs with its software
//  identity. "$TERM" ends the actor (zactor_destroy).
void
    tpm_actor (zsock_t *pipe, void *args);

//  Test hook: the nth TPM command from now fails as if the TPM refused it
//  (0: none). Flushes never fail. For fault tests of the node: whatever
//  fails, no object or session stays loaded.
void
    tpm_set_fault (tpm_t *self, unsigned nth);

//  Test support: a swtpm process on free loopback ports with its state in
//  a fresh temporary directory. A watchdog process kills swtpm and removes
//  the directory when tpm_swtpm_destroy runs or when this process dies,
//  even by an assertion. With ek_cert, the TPM is first provisioned by
//  swtpm_setup with EK certificates issued by a local CA (swtpm_localca),
//  whose certificates are left in tpm_swtpm_ca_dir.
typedef struct _tpm_swtpm_t tpm_swtpm_t;

tpm_swtpm_t *
    tpm_swtpm_new (bool ek_cert);

void
    tpm_swtpm_destroy (tpm_swtpm_t **self_p);

//  TCTI string for tpm_new, e.g. "swtpm:host=127.0.0.1,port=41234"
const char *
    tpm_swtpm_tcti (tpm_swtpm_t *self);

//  Directory holding the local CA's certificates (ek_cert only), else NULL
const char *
    tpm_swtpm_ca_dir (tpm_swtpm_t *self);

//  The local CA's root and issuer certificates as one PEM bundle, as a
//  vendor CA bundle for EK certificates (ek_cert only). Caller frees.
char *
    tpm_swtpm_ca_bundle (tpm_swtpm_t *self);

//  Test support: make a credential for name under ek_public in software,
//  as the coordinator does (credential_make), and activate it with the
//  AK of ak_blob; true if the TPM gave the secret back
bool
    tpm_swtpm_activates (tpm_t *tpm, zchunk_t *ek_public, zchunk_t *name,
                         zchunk_t *ak_blob);

//  Test support: define an owner-readable NV index and write data into
//  it (at most 4 KiB), as a vendor provisions an EK certificate. Returns
//  0 or -1.
int
    tpm_nv_provision (tpm_t *self, uint32_t index, const byte *data, size_t size);

//  Test support: make the EK of type persistent at handle, as an owner's
//  provisioning does (TPM_EK_PERSISTENT_RSA/ECC). Returns 0 or -1.
int
    tpm_ek_persist (tpm_t *self, tpm_key_type_t type, uint32_t handle);

//  Self test of this module; starts swtpm processes.
void
    tpm_test (bool verbose);

//  Self test of the EK choice (tpm_ek_test.c): which EK a TPM presents
void
    tpm_ek_test (bool verbose);

#endif
