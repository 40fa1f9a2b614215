/*  tpm - the node's TPM 2.0 adapter (tpm2-tss ESYS)
    Endorsement key, attestation key, credential activation, quotes and PCRs.

    Blocking and thread-confined: the node drives a tpm_t from an actor of
    its own (see tpm.h). Without a resource manager (swtpm, /dev/tpm0) a
    TPM holds only a few transient objects and sessions (swtpm: 3 of
    each), so at most two objects are ever loaded here (the cached EK and
    the AK of the operation at hand), and every session and AK is flushed
    before a call returns, on every path. Each ESYS output starts NULL,
    each handle ESYS_TR_NONE, and each function has one exit that frees.

    The EK is never made persistent and neither is the AK: the EK comes
    back from the endorsement seed with the same template, and the AK is a
    blob (its TPM2B_PUBLIC and TPM2B_PRIVATE, the private part wrapped by
    the EK) that Esys_Load takes under that EK. Persistent handles are a
    small, machine-wide resource we leave to the platform owner.  */

#include "node/io/tpm.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>
#include <unistd.h>

#define TPM_AK_BLOB_MAGIC   "WAK1"      //  AK blob format version
#define TPM_NV_CHUNK        512         //  NV read size every TPM accepts
#define TPM_EK_CERT_MAX     4096        //  Larger than any EK certificate

struct _tpm_t {
    TSS2_TCTI_CONTEXT *tcti;            //  Transport, from the TCTI loader
    ESYS_CONTEXT *ectx;                 //  ESYS context over tcti
    ESYS_TR ek;                         //  Loaded EK, or ESYS_TR_NONE
    tpm_key_type_t ek_type;             //  Type of the loaded EK
    TPM2B_PUBLIC *ek_public;            //  Its public area (Esys_Free)
    unsigned calls;                     //  TPM commands since tpm_set_fault
    unsigned fault_at;                  //  Fail this command (1-based), 0 never
};

//  What an injected fault looks like: a TPM that gave up on the command
#define TPM_FAULT_RC    (TPM2_RC_FAILURE)

//  Count a TPM command; true if the test hook says this one fails

static bool
s_fault (tpm_t *self)
{
    self->calls++;
    return self->fault_at && self->calls == self->fault_at;
}

//  PolicySecret(TPM_RH_ENDORSEMENT) digest with SHA-256: the authPolicy of
//  the TCG low-range EK templates (EK Credential Profile, B.3.3)
static const TPM2B_DIGEST s_ek_policy = {
    .size = 32,
    .buffer = {
        0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
        0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
        0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa
    }
};

//  --------------------------------------------------------------------------
//  Open the TPM through the TCTI loader

tpm_t *
tpm_new (const char *tcti)
{
    tpm_t *self = (tpm_t *) zmalloc (sizeof (tpm_t));
    self->ek = ESYS_TR_NONE;
    const char *config = tcti && *tcti? tcti: NULL;
    TSS2_RC r = Tss2_TctiLdr_Initialize (config, &self->tcti);
    if (r != TSS2_RC_SUCCESS)
        zsys_error ("tpm: open TCTI '%s': %s", config? config: "(default)", Tss2_RC_Decode (r));
    else {
        r = Esys_Initialize (&self->ectx, self->tcti, NULL);
        if (r != TSS2_RC_SUCCESS)
            zsys_error ("tpm: initialise ESYS: %s", Tss2_RC_Decode (r));
    }
    if (r != TSS2_RC_SUCCESS)
        tpm_destroy (&self);
    return self;
}

//  --------------------------------------------------------------------------
//  Test hook: fail the nth TPM command from now (flushes never fail)

void
tpm_set_fault (tpm_t *self, unsigned nth)
{
    assert (self);
    self->calls = 0;
    self->fault_at = nth;
}

//  --------------------------------------------------------------------------
//  Flush the cached EK, close ESYS and the TCTI

static void
s_ek_flush (tpm_t *self)
{
    if (self->ek != ESYS_TR_NONE) {
        TSS2_RC r = Esys_FlushContext (self->ectx, self->ek);
        if (r != TSS2_RC_SUCCESS)
            zsys_warning ("tpm: flush EK: %s", Tss2_RC_Decode (r));
        self->ek = ESYS_TR_NONE;
    }
    Esys_Free (self->ek_public);
    self->ek_public = NULL;
}

void
tpm_destroy (tpm_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        tpm_t *self = *self_p;
        if (self->ectx) {
            s_ek_flush (self);
            Esys_Finalize (&self->ectx);
        }
        if (self->tcti)
            Tss2_TctiLdr_Finalize (&self->tcti);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Make sure the EK of the given type is loaded; returns 0 or -1

static int
s_ek_load (tpm_t *self, tpm_key_type_t type)
{
    if (self->ek != ESYS_TR_NONE && self->ek_type == type)
        return 0;
    s_ek_flush (self);              //  one EK at a time: objects are scarce

    TPM2B_PUBLIC template = { 0 };
    TPMT_PUBLIC *area = &template.publicArea;
    area->nameAlg = TPM2_ALG_SHA256;
    area->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
        | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY
        | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    area->authPolicy = s_ek_policy;
    if (type == TPM_KEY_RSA) {
        //  Template L-1: RSA 2048, AES-128-CFB, 256 zero bytes of unique
        area->type = TPM2_ALG_RSA;
        TPMS_RSA_PARMS *rsa = &area->parameters.rsaDetail;
        rsa->symmetric.algorithm = TPM2_ALG_AES;
        rsa->symmetric.keyBits.aes = 128;
        rsa->symmetric.mode.aes = TPM2_ALG_CFB;
        rsa->scheme.scheme = TPM2_ALG_NULL;
        rsa->keyBits = 2048;
        rsa->exponent = 0;
        area->unique.rsa.size = 256;
    }
    else {
        //  Template L-2: ECC NIST P-256, AES-128-CFB, 32 zero bytes x and y
        area->type = TPM2_ALG_ECC;
        TPMS_ECC_PARMS *ecc = &area->parameters.eccDetail;
        ecc->symmetric.algorithm = TPM2_ALG_AES;
        ecc->symmetric.keyBits.aes = 128;
        ecc->symmetric.mode.aes = TPM2_ALG_CFB;
        ecc->scheme.scheme = TPM2_ALG_NULL;
        ecc->curveID = TPM2_ECC_NIST_P256;
        ecc->kdf.scheme = TPM2_ALG_NULL;
        area->unique.ecc.x.size = 32;
        area->unique.ecc.y.size = 32;
    }
    TPM2B_SENSITIVE_CREATE sensitive = { 0 };
    TPM2B_DATA outside = { 0 };
    TPML_PCR_SELECTION creation_pcr = { 0 };
    ESYS_TR handle = ESYS_TR_NONE;
    TPM2B_PUBLIC *public = NULL;
    TSS2_RC r = s_fault (self)? TPM_FAULT_RC: Esys_CreatePrimary (self->ectx, ESYS_TR_RH_ENDORSEMENT,
        ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
        &sensitive, &template, &outside, &creation_pcr,
        &handle, &public, NULL, NULL, NULL);
    if (r != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: create %s EK: %s",
            type == TPM_KEY_RSA? "RSA": "ECC", Tss2_RC_Decode (r));
        return -1;
    }
    self->ek = handle;
    self->ek_type = type;
    self->ek_public = public;
    return 0;
}

//  --------------------------------------------------------------------------
//  Marshal a TPM2B_PUBLIC into a new chunk

static zchunk_t *
s_public_chunk (const TPM2B_PUBLIC *public)
{
    byte buffer [sizeof (TPM2B_PUBLIC)];
    size_t offset = 0;
    if (Tss2_MU_TPM2B_PUBLIC_Marshal (public, buffer, sizeof buffer, &offset) != TSS2_RC_SUCCESS)
        return NULL;
    return zchunk_new (buffer, offset);
}

//  Name of a loaded object as a new chunk

static zchunk_t *
s_name_chunk (tpm_t *self, ESYS_TR handle)
{
    TPM2B_NAME *name = NULL;
    zchunk_t *chunk = NULL;
    TSS2_RC r = Esys_TR_GetName (self->ectx, handle, &name);
    if (r == TSS2_RC_SUCCESS)
        chunk = zchunk_new (name->name, name->size);
    else
        zsys_error ("tpm: get name: %s", Tss2_RC_Decode (r));
    Esys_Free (name);
    return chunk;
}

//  --------------------------------------------------------------------------
//  EK public and name

int
tpm_ek_public (tpm_t *self, tpm_key_type_t type, zchunk_t **public_p, zchunk_t **name_p)
{
    assert (self);
    if (public_p)
        *public_p = NULL;
    if (name_p)
        *name_p = NULL;
    if (s_ek_load (self, type))
        return -1;
    if (public_p && !(*public_p = s_public_chunk (self->ek_public)))
        return -1;
    if (name_p && !(*name_p = s_name_chunk (self, self->ek))) {
        if (public_p)
            zchunk_destroy (public_p);
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  EK certificate from NV, or NULL

zchunk_t *
tpm_ek_cert (tpm_t *self, tpm_key_type_t type)
{
    assert (self);
    TPM2_HANDLE index = type == TPM_KEY_RSA? TPM_NV_EK_CERT_RSA: TPM_NV_EK_CERT_ECC;
    ESYS_TR nv = ESYS_TR_NONE;
    TPM2B_NV_PUBLIC *nv_public = NULL;
    TPM2B_MAX_NV_BUFFER *data = NULL;
    zchunk_t *cert = NULL;

    //  An absent index is the normal case for TPMs without certificates:
    //  ask first, rather than have ESYS log an error for it
    TPMS_CAPABILITY_DATA *capability = NULL;
    TSS2_RC r = s_fault (self)? TPM_FAULT_RC: Esys_GetCapability (self->ectx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
        TPM2_CAP_HANDLES, index, 1, NULL, &capability);
    bool present = r == TSS2_RC_SUCCESS
        && capability->data.handles.count == 1
        && capability->data.handles.handle [0] == index;
    Esys_Free (capability);
    if (r != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: list NV indices: %s", Tss2_RC_Decode (r));
        goto done;
    }
    if (!present) {
        zsys_debug ("tpm: no EK certificate at 0x%08x", index);
        goto done;
    }
    r = s_fault (self)? TPM_FAULT_RC: Esys_TR_FromTPMPublic (self->ectx, index,
        ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv);
    if (r != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: open NV 0x%08x: %s", index, Tss2_RC_Decode (r));
        nv = ESYS_TR_NONE;
        goto done;
    }
    r = s_fault (self)? TPM_FAULT_RC: Esys_NV_ReadPublic (self->ectx, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
        &nv_public, NULL);
    if (r != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: read NV public 0x%08x: %s", index, Tss2_RC_Decode (r));
        goto done;
    }
    uint16_t size = nv_public->nvPublic.dataSize;
    if (size == 0 || size > TPM_EK_CERT_MAX) {
        zsys_error ("tpm: EK certificate at 0x%08x has size %u", index, size);
        goto done;
    }
    cert = zchunk_new (NULL, size);
    for (uint16_t offset = 0; offset < size; ) {
        uint16_t chunk = size - offset > TPM_NV_CHUNK? TPM_NV_CHUNK: size - offset;
        r = s_fault (self)? TPM_FAULT_RC: Esys_NV_Read (self->ectx, ESYS_TR_RH_OWNER, nv,
            ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, chunk, offset, &data);
        if (r != TSS2_RC_SUCCESS || data->size != chunk) {
            zsys_error ("tpm: read NV 0x%08x: %s", index,
                r != TSS2_RC_SUCCESS? Tss2_RC_Decode (r): "short read");
            zchunk_destroy (&cert);
            goto done;
        }
        zchunk_extend (cert, data->buffer, data->size);
        offset += chunk;
        Esys_Free (data);
        data = NULL;
    }
done:
    Esys_Free (data);
    Esys_Free (nv_public);
    if (nv != ESYS_TR_NONE)
        Esys_TR_Close (self->ectx, &nv);    //  ESYS metadata only, nothing to flush
    return cert;
}

//  --------------------------------------------------------------------------
//  Start a policy session satisfied by PolicySecret(TPM_RH_ENDORSEMENT): the
//  only way to use the EK. The caller flushes *session_p.

static int
s_endorsement_session (tpm_t *self, ESYS_TR *session_p)
{
    TPMT_SYM_DEF symmetric = { .algorithm = TPM2_ALG_NULL };
    *session_p = ESYS_TR_NONE;
    TSS2_RC r = s_fault (self)? TPM_FAULT_RC: Esys_StartAuthSession (self->ectx, ESYS_TR_NONE, ESYS_TR_NONE,
        ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL,
        TPM2_SE_POLICY, &symmetric, TPM2_ALG_SHA256, session_p);
    if (r != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: start policy session: %s", Tss2_RC_Decode (r));
        *session_p = ESYS_TR_NONE;
        return -1;
    }
    //  Keep the session after use, so that it is always ours to flush
    r = Esys_TRSess_SetAttributes (self->ectx, *session_p,
        TPMA_SESSION_CONTINUESESSION, TPMA_SESSION_CONTINUESESSION);
    if (r == TSS2_RC_SUCCESS)
        r = s_fault (self)? TPM_FAULT_RC: Esys_PolicySecret (self->ectx, ESYS_TR_RH_ENDORSEMENT, *session_p,
            ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
            NULL, NULL, NULL, 0, NULL, NULL);
    if (r != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: policy secret: %s", Tss2_RC_Decode (r));
        return -1;
    }
    return 0;
}

//  Flush a transient object or session if set, and clear the handle

static void
s_flush (tpm_t *self, ESYS_TR *handle_p)
{
    if (*handle_p != ESYS_TR_NONE) {
        TSS2_RC r = Esys_FlushContext (self->ectx, *handle_p);
        if (r != TSS2_RC_SUCCESS)
            zsys_warning ("tpm: flush: %s", Tss2_RC_Decode (r));
        *handle_p = ESYS_TR_NONE;
    }
}

//  --------------------------------------------------------------------------
//  AK blob: magic, EK type, TPM2B_PUBLIC, TPM2B_PRIVATE

static zchunk_t *
s_blob_new (tpm_key_type_t ek_type, const TPM2B_PUBLIC *public, const TPM2B_PRIVATE *private)
{
    byte buffer [5 + sizeof (TPM2B_PUBLIC) + sizeof (TPM2B_PRIVATE)];
    memcpy (buffer, TPM_AK_BLOB_MAGIC, 4);
    buffer [4] = (byte) ek_type;
    size_t offset = 5;
    if (Tss2_MU_TPM2B_PUBLIC_Marshal (public, buffer, sizeof buffer, &offset) != TSS2_RC_SUCCESS
    ||  Tss2_MU_TPM2B_PRIVATE_Marshal (private, buffer, sizeof buffer, &offset) != TSS2_RC_SUCCESS)
        return NULL;
    return zchunk_new (buffer, offset);
}

static int
s_blob_parse (zchunk_t *blob, tpm_key_type_t *ek_type, TPM2B_PUBLIC *public, TPM2B_PRIVATE *private)
{
    const byte *data = zchunk_data (blob);
    size_t size = zchunk_size (blob);
    memset (public, 0, sizeof *public);
    memset (private, 0, sizeof *private);
    if (size < 5 || memcmp (data, TPM_AK_BLOB_MAGIC, 4) != 0
    ||  (data [4] != TPM_KEY_RSA && data [4] != TPM_KEY_ECC)) {
        zsys_error ("tpm: AK blob is not ours");
        return -1;
    }
    *ek_type = (tpm_key_type_t) data [4];
    size_t offset = 5;
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal (data, size, &offset, public) != TSS2_RC_SUCCESS
    ||  Tss2_MU_TPM2B_PRIVATE_Unmarshal (data, size, &offset, private) != TSS2_RC_SUCCESS
    ||  offset != size) {
        zsys_error ("tpm: AK blob is malformed");
        return -1;
    }
    return 0;
}

int
tpm_ak_blob_public (zchunk_t *blob, zchunk_t **public_p, zchunk_t **name_p)
{
    assert (blob);
    tpm_key_type_t ek_type;
    TPM2B_PUBLIC public;
    TPM2B_PRIVATE private;
    if (public_p)
        *public_p = NULL;
    if (name_p)
        *name_p = NULL;
    if (s_blob_parse (blob, &ek_type, &public, &private))
        return -1;
    sodium_memzero (&private, sizeof private);
    if (public.publicArea.nameAlg != TPM2_ALG_SHA256) {
        zsys_error ("tpm: AK blob has an unsupported name algorithm");
        return -1;
    }
    zchunk_t *marshalled = s_public_chunk (&public);
    if (!marshalled)
        return -1;
    if (name_p) {
        //  name = nameAlg || SHA-256 (TPMT_PUBLIC as marshalled)
        byte name [2 + crypto_hash_sha256_BYTES] = { TPM2_ALG_SHA256 >> 8, TPM2_ALG_SHA256 & 0xff };
        crypto_hash_sha256 (name + 2, zchunk_data (marshalled) + 2, zchunk_size (marshalled) - 2);
        *name_p = zchunk_new (name, sizeof name);
    }
    if (public_p)
        *public_p = marshalled;
    else
        zchunk_destroy (&marshalled);
    return 0;
}

//  --------------------------------------------------------------------------
//  Create an AK under the EK

int
tpm_ak_create (tpm_t *self, tpm_key_type_t ek_type, tpm_key_type_t ak_type,
               zchunk_t **blob_p, zchunk_t **public_p, zchunk_t **name_p)
{
    assert (self && blob_p);
    *blob_p = NULL;
    if (public_p)
        *public_p = NULL;
    if (name_p)
        *name_p = NULL;
    ESYS_TR session = ESYS_TR_NONE;
    TPM2B_PRIVATE *private = NULL;
    TPM2B_PUBLIC *public = NULL;
    int rc = -1;

    //  tpm2_createak's templates: restricted signing, made in the TPM
    TPM2B_PUBLIC template = { 0 };
    TPMT_PUBLIC *area = &template.publicArea;
    area->nameAlg = TPM2_ALG_SHA256;
    area->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
        | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH
        | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
    if (ak_type == TPM_KEY_RSA) {
        area->type = TPM2_ALG_RSA;
        TPMS_RSA_PARMS *rsa = &area->parameters.rsaDetail;
        rsa->symmetric.algorithm = TPM2_ALG_NULL;
        rsa->scheme.scheme = TPM2_ALG_RSASSA;
        rsa->scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
        rsa->keyBits = 2048;
    }
    else {
        area->type = TPM2_ALG_ECC;
        TPMS_ECC_PARMS *ecc = &area->parameters.eccDetail;
        ecc->symmetric.algorithm = TPM2_ALG_NULL;
        ecc->scheme.scheme = TPM2_ALG_ECDSA;
        ecc->scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
        ecc->curveID = TPM2_ECC_NIST_P256;
        ecc->kdf.scheme = TPM2_ALG_NULL;
    }
    TPM2B_SENSITIVE_CREATE sensitive = { 0 };
    TPM2B_DATA outside = { 0 };
    TPML_PCR_SELECTION creation_pcr = { 0 };

    if (s_ek_load (self, ek_type) || s_endorsement_session (self, &session))
        goto done;
    TSS2_RC r = s_fault (self)? TPM_FAULT_RC: Esys_Create (self->ectx, self->ek, session, ESYS_TR_NONE, ESYS_TR_NONE,
        &sensitive, &template, &outside, &creation_pcr,
        &private, &public, NULL, NULL, NULL);
    if (r != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: create AK: %s", Tss2_RC_Decode (r));
        goto done;
    }
    *blob_p = s_blob_new (ek_type, public, private);
    if (*blob_p && tpm_ak_blob_public (*blob_p, public_p, name_p) == 0)
        rc = 0;
    else
        zchunk_destroy (blob_p);
done:
    s_flush (self, &session);
    Esys_Free (private);
    Esys_Free (public);
    return rc;
}

//  --------------------------------------------------------------------------
//  Load an AK blob under its EK; the caller flushes *ak_p

static int
s_ak_load (tpm_t *self, zchunk_t *blob, ESYS_TR *ak_p)
{
    *ak_p = ESYS_TR_NONE;
    tpm_key_type_t ek_type;
    TPM2B_PUBLIC public;
    TPM2B_PRIVATE private;
    ESYS_TR session = ESYS_TR_NONE;
    int rc = -1;
    if (s_blob_parse (blob, &ek_type, &public, &private)
    ||  s_ek_load (self, ek_type)
    ||  s_endorsement_session (self, &session))
        goto done;
    TSS2_RC r = s_fault (self)? TPM_FAULT_RC: Esys_Load (self->ectx, self->ek, session, ESYS_TR_NONE, ESYS_TR_NONE,
        &private, &public, ak_p);
    if (r == TSS2_RC_SUCCESS)
        rc = 0;
    else {
        zsys_error ("tpm: load AK: %s", Tss2_RC_Decode (r));
        *ak_p = ESYS_TR_NONE;
    }
done:
    s_flush (self, &session);
    sodium_memzero (&private, sizeof private);
    return rc;
}

//  --------------------------------------------------------------------------
//  Credential activation

zchunk_t *
tpm_activate (tpm_t *self, zchunk_t *ak_blob, zchunk_t *credential, zchunk_t *secret)
{
    assert (self && ak_blob && credential && secret);
    ESYS_TR ak = ESYS_TR_NONE;
    ESYS_TR session = ESYS_TR_NONE;
    TPM2B_DIGEST *cert_info = NULL;
    zchunk_t *result = NULL;

    TPM2B_ID_OBJECT blob;
    TPM2B_ENCRYPTED_SECRET encrypted;
    size_t offset = 0, secret_offset = 0;
    memset (&blob, 0, sizeof blob);
    memset (&encrypted, 0, sizeof encrypted);
    if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal (zchunk_data (credential), zchunk_size (credential),
            &offset, &blob) != TSS2_RC_SUCCESS
    ||  offset != zchunk_size (credential)
    ||  Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal (zchunk_data (secret), zchunk_size (secret),
            &secret_offset, &encrypted) != TSS2_RC_SUCCESS
    ||  secret_offset != zchunk_size (secret)) {
        zsys_warning ("tpm: activate: malformed credential");
        return NULL;
    }
    //  The AK authorises with its (empty) password, the EK only by policy
    if (s_ak_load (self, ak_blob, &ak) || s_endorsement_session (self, &session))
        goto done;
    TSS2_RC r = s_fault (self)? TPM_FAULT_RC: Esys_ActivateCredential (self->ectx, ak, self->ek,
        ESYS_TR_PASSWORD, session, ESYS_TR_NONE, &blob, &encrypted, &cert_info);
    if (r == TSS2_RC_SUCCESS)
        result = zchunk_new (cert_info->buffer, cert_info->size);
    else
        zsys_warning ("tpm: activate credential: %s", Tss2_RC_Decode (r));
done:
    if (cert_info)
        sodium_memzero (cert_info, sizeof *cert_info);
    Esys_Free (cert_info);
    s_flush (self, &session);
    s_flush (self, &ak);
    return result;
}

//  --------------------------------------------------------------------------
//  Selection of sha256 PCRs from a bit mask

static void
s_pcr_selection (uint32_t mask, TPML_PCR_SELECTION *selection)
{
    memset (selection, 0, sizeof *selection);
    selection->count = 1;
    selection->pcrSelections [0].hash = TPM2_ALG_SHA256;
    selection->pcrSelections [0].sizeofSelect = 3;
    for (int index = 0; index < 3; index++)
        selection->pcrSelections [0].pcrSelect [index] = (byte) (mask >> (8 * index));
}

//  --------------------------------------------------------------------------
//  Quote PCRs over the verifier's nonce

int
tpm_quote (tpm_t *self, zchunk_t *ak_blob, uint32_t pcr_mask,
           const byte *nonce, size_t nonce_size,
           zchunk_t **attest_p, zchunk_t **signature_p)
{
    assert (self && ak_blob && nonce && attest_p && signature_p);
    *attest_p = NULL;
    *signature_p = NULL;
    ESYS_TR ak = ESYS_TR_NONE;
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *signature = NULL;
    int rc = -1;
    if (nonce_size == 0 || nonce_size > sizeof (((TPM2B_DATA *) 0)->buffer)
    ||  pcr_mask == 0 || pcr_mask > 0xffffff) {
        zsys_error ("tpm: quote: bad nonce or PCR mask");
        return -1;
    }
    TPM2B_DATA qualifying = { .size = (UINT16) nonce_size };
    memcpy (qualifying.buffer, nonce, nonce_size);
    TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL };   //  the AK's own
    TPML_PCR_SELECTION selection;
    s_pcr_selection (pcr_mask, &selection);

    if (s_ak_load (self, ak_blob, &ak))
        goto done;
    TSS2_RC r = s_fault (self)? TPM_FAULT_RC: Esys_Quote (self->ectx, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
        &qualifying, &scheme, &selection, &quoted, &signature);
    if (r != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: quote: %s", Tss2_RC_Decode (r));
        goto done;
    }
    byte buffer [sizeof (TPMT_SIGNATURE)];
    size_t offset = 0;
    if (Tss2_MU_TPMT_SIGNATURE_Marshal (signature, buffer, sizeof buffer, &offset)
        != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: quote: cannot marshal signature");
        goto done;
    }
    *signature_p = zchunk_new (buffer, offset);
    *attest_p = zchunk_new (quoted->attestationData, quoted->size);
    rc = 0;
done:
    Esys_Free (quoted);
    Esys_Free (signature);
    s_flush (self, &ak);
    return rc;
}

//  --------------------------------------------------------------------------
//  Read and extend sha256 PCRs

int
tpm_pcr_read (tpm_t *self, int pcr, byte *digest)
{
    assert (self && digest);
    if (pcr < 0 || pcr > 23)
        return -1;
    TPML_PCR_SELECTION selection;
    s_pcr_selection (1u << pcr, &selection);
    TPML_PCR_SELECTION *selection_out = NULL;
    TPML_DIGEST *values = NULL;
    int rc = -1;
    TSS2_RC r = s_fault (self)? TPM_FAULT_RC: Esys_PCR_Read (self->ectx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
        &selection, NULL, &selection_out, &values);
    if (r != TSS2_RC_SUCCESS)
        zsys_error ("tpm: read PCR %d: %s", pcr, Tss2_RC_Decode (r));
    else
    if (values->count != 1 || values->digests [0].size != 32)
        zsys_error ("tpm: read PCR %d: sha256 bank not active", pcr);
    else {
        memcpy (digest, values->digests [0].buffer, 32);
        rc = 0;
    }
    Esys_Free (selection_out);
    Esys_Free (values);
    return rc;
}

int
tpm_pcr_extend (tpm_t *self, int pcr, const byte *digest)
{
    assert (self && digest);
    if (pcr < 0 || pcr > 23)
        return -1;
    TPML_DIGEST_VALUES values = { .count = 1 };
    values.digests [0].hashAlg = TPM2_ALG_SHA256;
    memcpy (values.digests [0].digest.sha256, digest, 32);
    TSS2_RC r = s_fault (self)? TPM_FAULT_RC: Esys_PCR_Extend (self->ectx, ESYS_TR_PCR0 + pcr,
        ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &values);
    if (r != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: extend PCR %d: %s", pcr, Tss2_RC_Decode (r));
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  The TPM actor

//  Pop a frame of exactly size bytes (0: any size but empty); NULL if not

static zframe_t *
s_pop_frame (zmsg_t *msg, size_t size)
{
    zframe_t *frame = zmsg_pop (msg);
    if (frame && (size? zframe_size (frame) != size: zframe_size (frame) == 0))
        zframe_destroy (&frame);
    return frame;
}

//  A chunk copy of a frame's bytes

static zchunk_t *
s_frame_chunk (zframe_t *frame)
{
    return zchunk_new (zframe_data (frame), zframe_size (frame));
}

static bool
s_key_type_valid (byte type)
{
    return type == TPM_KEY_RSA || type == TPM_KEY_ECC;
}

//  Handle one request; returns the reply

static zmsg_t *
s_actor_request (tpm_t *self, const char *command, zmsg_t *request)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "OK");
    const char *error = "malformed request";
    zframe_t *first = NULL, *second = NULL, *third = NULL;
    zchunk_t *a = NULL, *b = NULL, *c = NULL, *d = NULL;

    if (!self)
        error = "TPM unavailable";
    else
    if (streq (command, "EK")) {
        first = s_pop_frame (request, 1);
        if (!first || !s_key_type_valid (zframe_data (first) [0]))
            goto failed;
        tpm_key_type_t type = (tpm_key_type_t) zframe_data (first) [0];
        error = "cannot create the EK";
        if (tpm_ek_public (self, type, &a, &b))
            goto failed;
        c = tpm_ek_cert (self, type);
        zmsg_addmem (reply, zchunk_data (a), zchunk_size (a));
        zmsg_addmem (reply, zchunk_data (b), zchunk_size (b));
        zmsg_addmem (reply, c? zchunk_data (c): NULL, c? zchunk_size (c): 0);
        goto done;
    }
    else
    if (streq (command, "AK")) {
        first = s_pop_frame (request, 1);
        second = s_pop_frame (request, 1);
        if (!first || !second
        ||  !s_key_type_valid (zframe_data (first) [0])
        ||  !s_key_type_valid (zframe_data (second) [0]))
            goto failed;
        error = "cannot create the AK";
        if (tpm_ak_create (self, (tpm_key_type_t) zframe_data (first) [0],
                           (tpm_key_type_t) zframe_data (second) [0], &a, &b, &c))
            goto failed;
        zmsg_addmem (reply, zchunk_data (a), zchunk_size (a));
        zmsg_addmem (reply, zchunk_data (b), zchunk_size (b));
        zmsg_addmem (reply, zchunk_data (c), zchunk_size (c));
        goto done;
    }
    else
    if (streq (command, "ACTIVATE")) {
        first = s_pop_frame (request, 0);
        second = s_pop_frame (request, 0);
        third = s_pop_frame (request, 0);
        if (!first || !second || !third)
            goto failed;
        a = s_frame_chunk (first);
        b = s_frame_chunk (second);
        c = s_frame_chunk (third);
        error = "credential refused";
        d = tpm_activate (self, a, b, c);
        if (!d)
            goto failed;
        zmsg_addmem (reply, zchunk_data (d), zchunk_size (d));
        sodium_memzero (zchunk_data (d), zchunk_size (d));
        goto done;
    }
    else
    if (streq (command, "QUOTE")) {
        first = s_pop_frame (request, 0);
        second = s_pop_frame (request, 4);
        third = s_pop_frame (request, 0);
        if (!first || !second || !third)
            goto failed;
        const byte *mask = zframe_data (second);
        a = s_frame_chunk (first);
        error = "cannot quote";
        if (tpm_quote (self, a,
                (uint32_t) mask [0] << 24 | mask [1] << 16 | mask [2] << 8 | mask [3],
                zframe_data (third), zframe_size (third), &b, &c))
            goto failed;
        zmsg_addmem (reply, zchunk_data (b), zchunk_size (b));
        zmsg_addmem (reply, zchunk_data (c), zchunk_size (c));
        goto done;
    }
    else
    if (streq (command, "PCR READ")) {
        first = s_pop_frame (request, 1);
        byte digest [32];
        if (!first)
            goto failed;
        error = "cannot read the PCR";
        if (tpm_pcr_read (self, zframe_data (first) [0], digest))
            goto failed;
        zmsg_addmem (reply, digest, sizeof digest);
        goto done;
    }
    else
    if (streq (command, "PCR EXTEND")) {
        first = s_pop_frame (request, 1);
        second = s_pop_frame (request, 32);
        if (!first || !second)
            goto failed;
        error = "cannot extend the PCR";
        if (tpm_pcr_extend (self, zframe_data (first) [0], zframe_data (second)))
            goto failed;
        goto done;
    }
    else
        error = "unknown request";
failed:
    zmsg_destroy (&reply);
    reply = zmsg_new ();
    zmsg_addstr (reply, "ERROR");
    zmsg_addstr (reply, error);
done:
    zframe_destroy (&first);
    zframe_destroy (&second);
    zframe_destroy (&third);
    zchunk_destroy (&a);
    zchunk_destroy (&b);
    zchunk_destroy (&c);
    zchunk_destroy (&d);
    return reply;
}

void
tpm_actor (zsock_t *pipe, void *args)
{
    tpm_t *self = tpm_new ((const char *) args);
    if (!self)
        zsys_warning ("tpm: no TPM; answering every request with an error");
    zsock_signal (pipe, 0);
    while (true) {
        zmsg_t *request = zmsg_recv (pipe);
        if (!request)
            break;                      //  interrupted
        char *command = zmsg_popstr (request);
        if (command && streq (command, "$TERM")) {
            zstr_free (&command);
            zmsg_destroy (&request);
            break;
        }
        zmsg_t *reply = s_actor_request (self, command? command: "", request);
        zmsg_send (&reply, pipe);
        zstr_free (&command);
        zmsg_destroy (&request);
    }
    tpm_destroy (&self);
    //  ESYS's crypto left OpenSSL state in this thread: free it now, as
    //  the process may exit before a detached thread's TLS destructors run
    OPENSSL_thread_stop ();
}

//  --------------------------------------------------------------------------
//  Test support: swtpm on free loopback ports
//
//  A watchdog process owns the cleanup. It holds the read end of a pipe
//  whose write end only this process holds, and it learns the pid of each
//  swtpm through it. When the pipe closes (tpm_swtpm_destroy, or this
//  process dying for any reason, an assertion included) it kills those
//  swtpm processes and removes the state directory. swtpm itself also gets
//  PR_SET_PDEATHSIG, so it never outlives its parent.

struct _tpm_swtpm_t {
    char dir [64];                      //  mkdtemp directory, absolute
    char tcti [64];                     //  swtpm:host=127.0.0.1,port=N
    char ca_dir [96];                   //  Local CA directory, or ""
    pid_t swtpm;                        //  swtpm process
    pid_t watchdog;                     //  Cleanup process
    int watchdog_fd;                    //  Write end of the watchdog's pipe
};

static void
s_watchdog (int fd, const char *dir)
{
    pid_t pids [64];
    size_t count = 0;
    pid_t pid;
    while (read (fd, &pid, sizeof pid) == sizeof pid)
        if (count < 64)
            pids [count++] = pid;
    for (size_t index = 0; index < count; index++)
        kill (pids [index], SIGKILL);
    //  Give the kernel a moment to close swtpm's files before removing them
    for (int tries = 0; tries < 50; tries++) {
        size_t alive = 0;
        for (size_t index = 0; index < count; index++)
            if (kill (pids [index], 0) == 0)
                alive++;
        if (alive == 0)
            break;
        usleep (20000);
    }
    execlp ("rm", "rm", "-rf", dir, (char *) NULL);
    _exit (1);
}

//  True if a loopback TCP port can be bound now

static bool
s_port_free (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons (port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    bool free = bind (fd, (struct sockaddr *) &address, sizeof address) == 0;
    close (fd);
    return free;
}

static bool
s_port_open (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons (port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    bool open = connect (fd, (struct sockaddr *) &address, sizeof address) == 0;
    close (fd);
    return open;
}

//  Run a program to completion, output to a log file; returns exit status

static int
s_run (char *const argv [], const char *log, char *const envp [])
{
    pid_t pid = fork ();
    if (pid == 0) {
        int fd = open (log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2 (fd, 1);
            dup2 (fd, 2);
        }
        if (envp)
            execve (argv [0], argv, envp);
        else
            execvp (argv [0], argv);
        _exit (127);
    }
    int status = -1;
    if (pid < 0 || waitpid (pid, &status, 0) != pid)
        return -1;
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  Provision the state with EK certificates from a local CA in dir/ca

static int
s_swtpm_provision (tpm_swtpm_t *self, const char *state, const char *log)
{
    snprintf (self->ca_dir, sizeof self->ca_dir, "%s/ca", self->dir);
    if (mkdir (self->ca_dir, 0700))
        return -1;
    char path [160];
    snprintf (path, sizeof path, "%s/swtpm_setup.conf", self->dir);
    FILE *file = fopen (path, "w");
    if (!file)
        return -1;
    fprintf (file, "create_certs_tool = /usr/bin/swtpm_localca\n"
                   "create_certs_tool_config = %s/swtpm-localca.conf\n"
                   "create_certs_tool_options = %s/swtpm-localca.options\n"
                   "active_pcr_banks = sha256\n", self->dir, self->dir);
    fclose (file);
    snprintf (path, sizeof path, "%s/swtpm-localca.conf", self->dir);
    if (!(file = fopen (path, "w")))
        return -1;
    fprintf (file, "statedir = %s\nsigningkey = %s/signkey.pem\n"
                   "issuercert = %s/issuercert.pem\ncertserial = %s/certserial\n",
             self->ca_dir, self->ca_dir, self->ca_dir, self->ca_dir);
    fclose (file);
    snprintf (path, sizeof path, "%s/swtpm-localca.options", self->dir);
    if (!(file = fopen (path, "w")))
        return -1;
    fprintf (file, "--platform-manufacturer Weft\n--platform-version 2.1\n"
                   "--platform-model weft-test\n");
    fclose (file);
    char config [160];
    snprintf (config, sizeof config, "%s/swtpm_setup.conf", self->dir);
    char *argv [] = {
        "swtpm_setup", "--tpm2", "--tpmstate", (char *) state, "--config", config,
        "--create-ek-cert", "--overwrite", NULL
    };
    return s_run (argv, log, NULL) == 0? 0: -1;
}

tpm_swtpm_t *
tpm_swtpm_new (bool ek_cert)
{
    tpm_swtpm_t *self = (tpm_swtpm_t *) zmalloc (sizeof (tpm_swtpm_t));
    self->watchdog_fd = -1;
    strcpy (self->dir, "/tmp/weft-swtpm.XXXXXX");
    if (!mkdtemp (self->dir)) {
        free (self);
        return NULL;
    }
    int fds [2];
    if (pipe2 (fds, O_CLOEXEC)) {
        rmdir (self->dir);
        free (self);
        return NULL;
    }
    self->watchdog = fork ();
    if (self->watchdog == 0) {
        //  Keep only the read end: another watchdog's pipe held open here
        //  would keep that one waiting for ever
        for (int fd = 3; fd < 4096; fd++)
            if (fd != fds [0])
                close (fd);
        s_watchdog (fds [0], self->dir);
    }
    close (fds [0]);
    self->watchdog_fd = fds [1];
    if (self->watchdog < 0) {
        tpm_swtpm_destroy (&self);
        return NULL;
    }
    char state [96], log [96];
    snprintf (state, sizeof state, "%s/state", self->dir);
    snprintf (log, sizeof log, "%s/swtpm.log", self->dir);
    if (mkdir (state, 0700)
    ||  (ek_cert && s_swtpm_provision (self, state, log))) {
        zsys_error ("tpm: cannot prepare swtpm state in %s", self->dir);
        tpm_swtpm_destroy (&self);
        return NULL;
    }
    for (int attempt = 0; attempt < 20; attempt++) {
        int port = 20000 + 2 * (int) randombytes_uniform (20000);
        if (!s_port_free (port) || !s_port_free (port + 1))
            continue;
        char server [64], ctrl [64], tpmstate [128];
        snprintf (server, sizeof server, "type=tcp,port=%d,bindaddr=127.0.0.1", port);
        snprintf (ctrl, sizeof ctrl, "type=tcp,port=%d,bindaddr=127.0.0.1", port + 1);
        snprintf (tpmstate, sizeof tpmstate, "dir=%s", state);
        char *argv [] = {
            "swtpm", "socket", "--tpm2", "--server", server, "--ctrl", ctrl,
            "--tpmstate", tpmstate, "--flags", "not-need-init,startup-clear", NULL
        };
        pid_t pid = fork ();
        if (pid == 0) {
            prctl (PR_SET_PDEATHSIG, SIGKILL);
            int fd = open (log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0) {
                dup2 (fd, 1);
                dup2 (fd, 2);
            }
            execvp (argv [0], argv);
            _exit (127);
        }
        if (pid < 0)
            break;
        if (write (self->watchdog_fd, &pid, sizeof pid) != sizeof pid)
            zsys_warning ("tpm: watchdog does not listen");
        //  Wait until swtpm listens, or gives up (port taken meanwhile)
        bool up = false;
        for (int tries = 0; tries < 500 && !up; tries++) {
            if (waitpid (pid, NULL, WNOHANG) == pid)
                break;
            up = s_port_open (port);
            if (!up)
                usleep (10000);
        }
        if (up) {
            self->swtpm = pid;
            snprintf (self->tcti, sizeof self->tcti, "swtpm:host=127.0.0.1,port=%d", port);
            return self;
        }
        kill (pid, SIGKILL);
        waitpid (pid, NULL, 0);
    }
    zsys_error ("tpm: swtpm did not start, see %s", log);
    tpm_swtpm_destroy (&self);
    return NULL;
}

void
tpm_swtpm_destroy (tpm_swtpm_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        tpm_swtpm_t *self = *self_p;
        if (self->swtpm > 0) {
            kill (self->swtpm, SIGTERM);
            waitpid (self->swtpm, NULL, 0);
        }
        if (self->watchdog_fd >= 0)
            close (self->watchdog_fd);      //  watchdog removes the directory
        if (self->watchdog > 0)
            waitpid (self->watchdog, NULL, 0);
        free (self);
        *self_p = NULL;
    }
}

const char *
tpm_swtpm_tcti (tpm_swtpm_t *self)
{
    assert (self);
    return self->tcti;
}

const char *
tpm_swtpm_ca_dir (tpm_swtpm_t *self)
{
    assert (self);
    return *self->ca_dir? self->ca_dir: NULL;
}

char *
tpm_swtpm_ca_bundle (tpm_swtpm_t *self)
{
    assert (self && *self->ca_dir);
    const char *names [] = { "swtpm-localca-rootca-cert.pem", "issuercert.pem" };
    char *bundle = (char *) zmalloc (16384);
    size_t size = 0;
    for (int index = 0; index < 2; index++) {
        char path [sizeof self->ca_dir + 64];
        snprintf (path, sizeof path, "%s/%s", self->ca_dir, names [index]);
        FILE *file = fopen (path, "r");
        assert (file);
        size += fread (bundle + size, 1, 16383 - size, file);
        fclose (file);
    }
    assert (size < 16383);
    return bundle;
}

//  --------------------------------------------------------------------------
//  Self test: the device side against swtpm, checked by the verifier code

#include "coordinator/core/credential.h"
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static bool
s_chunk_eq (zchunk_t *a, zchunk_t *b)
{
    return zchunk_size (a) == zchunk_size (b)
        && memcmp (zchunk_data (a), zchunk_data (b), zchunk_size (a)) == 0;
}

//  Make a credential for name with ek_public and activate it with ak_blob;
//  returns true if the TPM gave back the secret

static bool
s_test_activate (tpm_t *tpm, zchunk_t *ek_public, zchunk_t *name, zchunk_t *ak_blob)
{
    byte secret [32];
    randombytes_buf (secret, sizeof secret);
    zchunk_t *credential = NULL, *encrypted = NULL;
    int rc = credential_make (zchunk_data (ek_public), zchunk_size (ek_public),
        zchunk_data (name), zchunk_size (name), secret, sizeof secret, &credential, &encrypted);
    assert (rc == TPMVERIFY_OK);
    zchunk_t *recovered = tpm_activate (tpm, ak_blob, credential, encrypted);
    bool ok = recovered && zchunk_size (recovered) == sizeof secret
           && sodium_memcmp (zchunk_data (recovered), secret, sizeof secret) == 0;
    zchunk_destroy (&recovered);
    zchunk_destroy (&credential);
    zchunk_destroy (&encrypted);
    return ok;
}

//  Quote PCRs 0, 7 and 16 and verify; returns the credential result

static int
s_test_quote (tpm_t *tpm, zchunk_t *ak_blob, zchunk_t *ak_public)
{
    uint32_t mask = (1u << 0) | (1u << 7) | (1u << 16);
    byte nonce [20];
    randombytes_buf (nonce, sizeof nonce);
    zchunk_t *attest = NULL, *signature = NULL;
    int rc = tpm_quote (tpm, ak_blob, mask, nonce, sizeof nonce, &attest, &signature);
    assert (rc == 0);
    byte values [3 * 32];
    assert (tpm_pcr_read (tpm, 0, values) == 0);
    assert (tpm_pcr_read (tpm, 7, values + 32) == 0);
    assert (tpm_pcr_read (tpm, 16, values + 64) == 0);
    rc = tpmverify_quote (zchunk_data (ak_public), zchunk_size (ak_public),
        zchunk_data (attest), zchunk_size (attest),
        zchunk_data (signature), zchunk_size (signature),
        nonce, sizeof nonce, mask, values, sizeof values);
    zchunk_destroy (&attest);
    zchunk_destroy (&signature);
    return rc;
}

//  True if the DER certificate carries the RSA key of the EK public

static bool
s_test_cert_matches (zchunk_t *cert, zchunk_t *ek_public)
{
    const byte *cursor = zchunk_data (cert);
    X509 *x509 = d2i_X509 (NULL, &cursor, (long) zchunk_size (cert));
    if (!x509)
        return false;
    EVP_PKEY *key = X509_get0_pubkey (x509);
    BIGNUM *n = NULL;
    bool match = false;
    TPM2B_PUBLIC public = { 0 };
    size_t offset = 0;
    if (key && EVP_PKEY_get_bn_param (key, "n", &n)
    &&  Tss2_MU_TPM2B_PUBLIC_Unmarshal (zchunk_data (ek_public), zchunk_size (ek_public),
            &offset, &public) == TSS2_RC_SUCCESS) {
        byte modulus [256];
        match = BN_bn2binpad (n, modulus, sizeof modulus) == 256
             && public.publicArea.unique.rsa.size == 256
             && memcmp (modulus, public.publicArea.unique.rsa.buffer, 256) == 0;
    }
    BN_free (n);
    X509_free (x509);
    return match;
}

//  Write a chunk or a buffer to dir/name

static void
s_test_write (const char *dir, const char *name, const void *data, size_t size)
{
    char path [256];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "wb");
    assert (file);
    assert (fwrite (data, 1, size, file) == size);
    fclose (file);
}

static zchunk_t *
s_test_read (const char *dir, const char *name)
{
    char path [256];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    zchunk_t *chunk = zchunk_read (file, 8192);
    fclose (file);
    return chunk;
}

//  Cross-check with Debian's tpm2-tools, when installed: tpm2_createek
//  makes the same EK, tpm2_checkquote accepts our quote and refuses it
//  for another nonce, tpm2_makecredential's credential activates here,
//  and ours activates with tpm2_activatecredential on our AK blob loaded
//  by tpm2_load. swtpm serves one connection at a time, so the tpm_t is
//  closed while the tools run. Returns false if tpm2-tools is missing.

static bool
s_test_tools (tpm_swtpm_t *swtpm, tpm_key_type_t type, bool verbose)
{
    char dir [128], log [160];
    snprintf (dir, sizeof dir, "%s/tools-%s", swtpm->dir, type == TPM_KEY_RSA? "rsa": "ecc");
    snprintf (log, sizeof log, "%s/tools.log", dir);
    assert (mkdir (dir, 0700) == 0);
    char *version [] = { "tpm2_checkquote", "--version", NULL };
    if (s_run (version, log, NULL) != 0)
        return false;
    setenv ("TPM2TOOLS_TCTI", swtpm->tcti, 1);

    //  Our side: EK, AK, a quote, a credential in tpm2-tools' file format
    tpm_t *tpm = tpm_new (swtpm->tcti);
    assert (tpm);
    zchunk_t *ek_public = NULL, *blob = NULL, *ak_public = NULL, *ak_name = NULL;
    zchunk_t *attest = NULL, *signature = NULL, *credential = NULL, *encrypted = NULL;
    assert (tpm_ek_public (tpm, type, &ek_public, NULL) == 0);
    assert (tpm_ak_create (tpm, type, type, &blob, &ak_public, &ak_name) == 0);
    byte nonce [16] = "weft-test-nonce";
    assert (tpm_quote (tpm, blob, 0x83, nonce, sizeof nonce, &attest, &signature) == 0);
    byte secret [32];
    randombytes_buf (secret, sizeof secret);
    assert (credential_make (zchunk_data (ek_public), zchunk_size (ek_public),
        zchunk_data (ak_name), zchunk_size (ak_name), secret, sizeof secret,
        &credential, &encrypted) == TPMVERIFY_OK);
    tpm_destroy (&tpm);

    tpm_key_type_t ek_type;
    TPM2B_PUBLIC public;
    TPM2B_PRIVATE private;
    assert (s_blob_parse (blob, &ek_type, &public, &private) == 0);
    byte buffer [sizeof (TPM2B_PRIVATE)];
    size_t offset = 0;
    assert (Tss2_MU_TPM2B_PRIVATE_Marshal (&private, buffer, sizeof buffer, &offset) == 0);
    s_test_write (dir, "ak.priv", buffer, offset);
    s_test_write (dir, "ek.pub", zchunk_data (ek_public), zchunk_size (ek_public));
    s_test_write (dir, "ak.pub", zchunk_data (ak_public), zchunk_size (ak_public));
    s_test_write (dir, "quote.msg", zchunk_data (attest), zchunk_size (attest));
    s_test_write (dir, "quote.sig", zchunk_data (signature), zchunk_size (signature));
    zchunk_t *file = zchunk_new ("\xba\xdc\xc0\xde\x00\x00\x00\x01", 8);
    zchunk_extend (file, zchunk_data (credential), zchunk_size (credential));
    zchunk_extend (file, zchunk_data (encrypted), zchunk_size (encrypted));
    s_test_write (dir, "weft.cred", zchunk_data (file), zchunk_size (file));
    zchunk_destroy (&file);
    byte tools_secret [32];
    randombytes_buf (tools_secret, sizeof tools_secret);
    s_test_write (dir, "tools.secret", tools_secret, sizeof tools_secret);

    char path [12] [192];
    const char *names [] = { "ek.pub", "ak.pub", "ak.priv", "quote.msg", "quote.sig",
        "weft.cred", "tools.secret", "tools.cred", "ek.ctx", "ak.ctx", "session.ctx",
        "activated" };
    for (int index = 0; index < 12; index++)
        snprintf (path [index], sizeof path [index], "%s/%s", dir, names [index]);
    char nonce_hex [2 * sizeof nonce + 1], name_hex [2 * 34 + 1];
    sodium_bin2hex (nonce_hex, sizeof nonce_hex, nonce, sizeof nonce);
    sodium_bin2hex (name_hex, sizeof name_hex, zchunk_data (ak_name), zchunk_size (ak_name));
    const char *kind = type == TPM_KEY_RSA? "rsa": "ecc";

    char *checkquote [] = { "tpm2_checkquote", "-u", path [1], "-m", path [3], "-s", path [4],
        "-g", "sha256", "-q", nonce_hex, NULL };
    assert (s_run (checkquote, log, NULL) == 0);
    char *checkquote_bad [] = { "tpm2_checkquote", "-u", path [1], "-m", path [3], "-s", path [4],
        "-g", "sha256", "-q", "00112233", NULL };
    assert (s_run (checkquote_bad, log, NULL) != 0);
    char *makecredential [] = { "tpm2_makecredential", "-T", "none", "-u", path [0],
        "-n", name_hex, "-s", path [6], "-o", path [7], NULL };
    assert (s_run (makecredential, log, NULL) == 0);
    char ek_tools [200];
    snprintf (ek_tools, sizeof ek_tools, "%s/ek-tools.pub", dir);
    char *createek [] = { "tpm2_createek", "-c", path [8], "-G", (char *) kind,
        "-u", ek_tools, NULL };
    char *flush_transient [] = { "tpm2_flushcontext", "-t", NULL };
    char *start_session [] = { "tpm2_startauthsession", "--policy-session", "-S", path [10], NULL };
    char *policy_secret [] = { "tpm2_policysecret", "-S", path [10], "-c", "e", NULL };
    char *flush_session [] = { "tpm2_flushcontext", path [10], NULL };
    char session_auth [220];
    snprintf (session_auth, sizeof session_auth, "session:%s", path [10]);
    char *load [] = { "tpm2_load", "-C", path [8], "-u", path [1], "-r", path [2],
        "-c", path [9], "-P", session_auth, NULL };
    char *activate [] = { "tpm2_activatecredential", "-c", path [9], "-C", path [8],
        "-i", path [5], "-o", path [11], "-P", session_auth, NULL };
    //  Without a resource manager the tools leave objects loaded: flush them
    assert (s_run (createek, log, NULL) == 0);
    zchunk_t *ek_from_tools = s_test_read (dir, "ek-tools.pub");
    assert (ek_from_tools && s_chunk_eq (ek_from_tools, ek_public));
    zchunk_destroy (&ek_from_tools);
    assert (s_run (flush_transient, log, NULL) == 0);
    assert (s_run (start_session, log, NULL) == 0);
    assert (s_run (policy_secret, log, NULL) == 0);
    assert (s_run (load, log, NULL) == 0);
    assert (s_run (flush_session, log, NULL) == 0);
    assert (s_run (flush_transient, log, NULL) == 0);
    assert (s_run (start_session, log, NULL) == 0);
    assert (s_run (policy_secret, log, NULL) == 0);
    assert (s_run (activate, log, NULL) == 0);
    assert (s_run (flush_session, log, NULL) == 0);
    assert (s_run (flush_transient, log, NULL) == 0);
    zchunk_t *activated = s_test_read (dir, "activated");
    assert (activated && zchunk_size (activated) == sizeof secret);
    assert (memcmp (zchunk_data (activated), secret, sizeof secret) == 0);
    zchunk_destroy (&activated);

    //  The tools' credential, activated here
    tpm = tpm_new (swtpm->tcti);
    assert (tpm);
    zchunk_t *tools_file = s_test_read (dir, "tools.cred");
    assert (tools_file && zchunk_size (tools_file) > 10);
    byte *data = zchunk_data (tools_file);
    size_t id_size = 2 + ((size_t) data [8] << 8 | data [9]);
    assert (8 + id_size < zchunk_size (tools_file));
    zchunk_t *tools_credential = zchunk_new (data + 8, id_size);
    zchunk_t *tools_encrypted = zchunk_new (data + 8 + id_size, zchunk_size (tools_file) - 8 - id_size);
    zchunk_t *recovered = tpm_activate (tpm, blob, tools_credential, tools_encrypted);
    assert (recovered && zchunk_size (recovered) == sizeof tools_secret);
    assert (memcmp (zchunk_data (recovered), tools_secret, sizeof tools_secret) == 0);
    if (verbose)
        printf ("   %s: tpm2-tools agrees on EK, quote and both credentials\n", kind);
    tpm_destroy (&tpm);
    zchunk_destroy (&recovered);
    zchunk_destroy (&tools_credential);
    zchunk_destroy (&tools_encrypted);
    zchunk_destroy (&tools_file);
    zchunk_destroy (&ek_public);
    zchunk_destroy (&blob);
    zchunk_destroy (&ak_public);
    zchunk_destroy (&ak_name);
    zchunk_destroy (&attest);
    zchunk_destroy (&signature);
    zchunk_destroy (&credential);
    zchunk_destroy (&encrypted);
    sodium_memzero (&private, sizeof private);
    return true;
}

//  One create/activate/quote cycle that reports failure instead of
//  asserting, for fault injection

static bool
s_test_cycle (tpm_t *tpm, zchunk_t *ek_public)
{
    zchunk_t *blob = NULL, *ak_public = NULL, *ak_name = NULL;
    zchunk_t *attest = NULL, *signature = NULL;
    byte nonce [16] = { 7 };
    bool ok = tpm_ak_create (tpm, TPM_KEY_ECC, TPM_KEY_ECC, &blob, &ak_public, &ak_name) == 0
           && s_test_activate (tpm, ek_public, ak_name, blob)
           && tpm_quote (tpm, blob, 0x1, nonce, sizeof nonce, &attest, &signature) == 0;
    zchunk_destroy (&blob);
    zchunk_destroy (&ak_public);
    zchunk_destroy (&ak_name);
    zchunk_destroy (&attest);
    zchunk_destroy (&signature);
    return ok;
}

//  Number of handles the TPM lists from a handle range's first handle
//  (0x80000000 transient objects, 0x02000000 loaded sessions; written out
//  because tss2's TPM2_TRANSIENT_FIRST shifts a signed int into its sign bit)

static int
s_test_handles (tpm_t *tpm, TPM2_HANDLE first)
{
    TPMS_CAPABILITY_DATA *data = NULL;
    TSS2_RC r = Esys_GetCapability (tpm->ectx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
        TPM2_CAP_HANDLES, first, TPM2_MAX_CAP_HANDLES, NULL, &data);
    assert (r == TSS2_RC_SUCCESS);
    int count = 0;
    for (uint32_t index = 0; index < data->data.handles.count; index++)
        if ((data->data.handles.handle [index] >> 24) == (first >> 24))
            count++;
    Esys_Free (data);
    return count;
}

void
tpm_test (bool verbose)
{
    printf (" * tpm: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    tpm_swtpm_t *swtpm = tpm_swtpm_new (true);
    assert (swtpm);
    assert (tpm_swtpm_ca_dir (swtpm));
    tpm_t *tpm = tpm_new (tpm_swtpm_tcti (swtpm));
    assert (tpm);

    //  EK certificate: swtpm_setup writes the RSA one at 0x01c00002; it
    //  writes no ECC P-256 one (its ECC EK is P-384, at 0x01c00016)
    zchunk_t *ek_public = NULL, *ek_name = NULL;
    assert (tpm_ek_public (tpm, TPM_KEY_RSA, &ek_public, &ek_name) == 0);
    zchunk_t *cert = tpm_ek_cert (tpm, TPM_KEY_RSA);
    assert (cert);
    assert (s_test_cert_matches (cert, ek_public));
    //  ... issued by the local CA, as a vendor's CA issues a real one
    char issuer_path [160];
    snprintf (issuer_path, sizeof issuer_path, "%s/issuercert.pem", tpm_swtpm_ca_dir (swtpm));
    FILE *issuer_file = fopen (issuer_path, "r");
    assert (issuer_file);
    X509 *issuer = PEM_read_X509 (issuer_file, NULL, NULL, NULL);
    fclose (issuer_file);
    assert (issuer);
    const byte *cursor = zchunk_data (cert);
    X509 *x509 = d2i_X509 (NULL, &cursor, (long) zchunk_size (cert));
    assert (x509);
    assert (X509_verify (x509, X509_get0_pubkey (issuer)) == 1);
    X509_free (x509);
    X509_free (issuer);
    zchunk_destroy (&cert);
    assert (tpm_ek_cert (tpm, TPM_KEY_ECC) == NULL);
    zchunk_destroy (&ek_public);
    zchunk_destroy (&ek_name);

    //  RSA and ECC EKs with AKs of both kinds; the verifier computes the
    //  same names as the TPM and the software credential activates
    zchunk_t *saved_blob = NULL, *saved_public = NULL;
    tpm_key_type_t types [] = { TPM_KEY_RSA, TPM_KEY_ECC };
    for (int ek_index = 0; ek_index < 2; ek_index++) {
        tpm_key_type_t ek_type = types [ek_index];
        assert (tpm_ek_public (tpm, ek_type, &ek_public, &ek_name) == 0);
        zchunk_t *computed = tpmverify_name (zchunk_data (ek_public), zchunk_size (ek_public));
        assert (computed && s_chunk_eq (computed, ek_name));
        zchunk_destroy (&computed);
        for (int ak_index = 0; ak_index < 2; ak_index++) {
            zchunk_t *blob = NULL, *ak_public = NULL, *ak_name = NULL;
            assert (tpm_ak_create (tpm, ek_type, types [ak_index],
                                   &blob, &ak_public, &ak_name) == 0);
            assert (tpmverify_check_ak (zchunk_data (ak_public), zchunk_size (ak_public))
                    == TPMVERIFY_OK);
            computed = tpmverify_name (zchunk_data (ak_public), zchunk_size (ak_public));
            assert (computed && s_chunk_eq (computed, ak_name));
            zchunk_destroy (&computed);
            assert (s_test_activate (tpm, ek_public, ak_name, blob));
            assert (s_test_quote (tpm, blob, ak_public) == TPMVERIFY_OK);
            if (verbose)
                printf ("   %s EK, %s AK: activated and quoted\n",
                        ek_type == TPM_KEY_RSA? "RSA": "ECC",
                        types [ak_index] == TPM_KEY_RSA? "RSA": "ECC");
            if (ek_type == TPM_KEY_RSA && types [ak_index] == TPM_KEY_ECC) {
                saved_blob = blob;
                saved_public = ak_public;
            }
            else {
                zchunk_destroy (&blob);
                zchunk_destroy (&ak_public);
            }
            zchunk_destroy (&ak_name);
        }
        zchunk_destroy (&ek_public);
        zchunk_destroy (&ek_name);
    }

    //  PCR extend: new value is H(old || digest)
    byte before [32], after [32], digest [32], expected [32];
    assert (tpm_pcr_read (tpm, 16, before) == 0);
    randombytes_buf (digest, sizeof digest);
    assert (tpm_pcr_extend (tpm, 16, digest) == 0);
    assert (tpm_pcr_read (tpm, 16, after) == 0);
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init (&state);
    crypto_hash_sha256_update (&state, before, 32);
    crypto_hash_sha256_update (&state, digest, 32);
    crypto_hash_sha256_final (&state, expected);
    assert (memcmp (after, expected, 32) == 0);
    assert (tpm_pcr_read (tpm, 24, after) == -1);

    //  The AK survives the process: a new tpm_t loads it from its blob
    tpm_destroy (&tpm);
    tpm_destroy (&tpm);
    assert (tpm == NULL);
    tpm = tpm_new (tpm_swtpm_tcti (swtpm));
    assert (tpm);
    assert (s_test_quote (tpm, saved_blob, saved_public) == TPMVERIFY_OK);
    zchunk_t *blob_public = NULL, *blob_name = NULL;
    assert (tpm_ak_blob_public (saved_blob, &blob_public, &blob_name) == 0);
    assert (s_chunk_eq (blob_public, saved_public));
    assert (tpm_ek_public (tpm, TPM_KEY_RSA, &ek_public, NULL) == 0);
    assert (s_test_activate (tpm, ek_public, blob_name, saved_blob));
    zchunk_destroy (&ek_public);
    zchunk_destroy (&blob_public);
    zchunk_destroy (&blob_name);

    //  A blob that is not an AK blob is refused, not loaded
    zchunk_t *junk = zchunk_new ("WAK1\x02garbage", 12);
    zchunk_t *attest = NULL, *signature = NULL;
    byte nonce [8] = { 1 };
    assert (tpm_quote (tpm, junk, 1, nonce, sizeof nonce, &attest, &signature) == -1);
    assert (!attest && !signature);
    zchunk_destroy (&junk);
    zchunk_destroy (&saved_blob);
    zchunk_destroy (&saved_public);

    //  Whichever TPM command fails, the call fails cleanly: nothing stays
    //  loaded but the cached EK, no session stays open, the next works
    assert (tpm_ek_public (tpm, TPM_KEY_ECC, &ek_public, NULL) == 0);
    s_ek_flush (tpm);
    tpm_set_fault (tpm, 0);
    assert (s_test_cycle (tpm, ek_public));
    unsigned commands = tpm->calls;
    assert (commands >= 10);
    for (unsigned nth = 1; nth <= commands; nth++) {
        s_ek_flush (tpm);
        tpm_set_fault (tpm, nth);
        assert (!s_test_cycle (tpm, ek_public));
        tpm_set_fault (tpm, 0);
        assert (s_test_handles (tpm, 0x80000000u) <= 1);
        assert (s_test_handles (tpm, 0x02000000u) == 0);
    }
    assert (s_test_cycle (tpm, ek_public));
    if (verbose)
        printf ("   each of the %u TPM commands of a cycle failed in turn: nothing leaked\n",
                commands);
    zchunk_destroy (&ek_public);

    //  Many cycles of create, activate, quote: every object and session
    //  is flushed (swtpm holds 3 of each, so a leak fails within 3)
    assert (tpm_ek_public (tpm, TPM_KEY_ECC, &ek_public, NULL) == 0);
    int64_t started = zclock_mono ();
    for (int cycle = 0; cycle < 200; cycle++) {
        zchunk_t *blob = NULL, *ak_public = NULL, *ak_name = NULL;
        assert (tpm_ak_create (tpm, TPM_KEY_ECC, TPM_KEY_ECC, &blob, &ak_public, &ak_name) == 0);
        assert (s_test_activate (tpm, ek_public, ak_name, blob));
        assert (s_test_quote (tpm, blob, ak_public) == TPMVERIFY_OK);
        zchunk_destroy (&blob);
        zchunk_destroy (&ak_public);
        zchunk_destroy (&ak_name);
    }
    if (verbose)
        printf ("   200 create/activate/quote cycles in %d ms\n",
                (int) (zclock_mono () - started));
    zchunk_destroy (&ek_public);
    tpm_destroy (&tpm);

    //  Debian's tpm2-tools read and write the same bytes, when installed
    if (s_test_tools (swtpm, TPM_KEY_ECC, verbose))
        assert (s_test_tools (swtpm, TPM_KEY_RSA, verbose));
    else
        printf ("(tpm2-tools not installed: cross-check skipped) ");

    //  The actor: requests answered from its own thread; the caller's loop
    //  stays free while the TPM works
    zactor_t *actor = zactor_new (tpm_actor, (void *) tpm_swtpm_tcti (swtpm));
    assert (actor);
    byte ecc = TPM_KEY_ECC;
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, "EK");
    zmsg_addmem (request, &ecc, 1);
    zmsg_send (&request, actor);
    zmsg_t *reply = zmsg_recv (actor);
    char *status = zmsg_popstr (reply);
    assert (status && streq (status, "OK"));
    zstr_free (&status);
    zframe_t *frame = zmsg_pop (reply);
    ek_public = zchunk_new (zframe_data (frame), zframe_size (frame));
    zframe_destroy (&frame);
    zmsg_destroy (&reply);

    request = zmsg_new ();
    zmsg_addstr (request, "AK");
    zmsg_addmem (request, &ecc, 1);
    zmsg_addmem (request, &ecc, 1);
    zmsg_send (&request, actor);
    zpoller_t *poller = zpoller_new (actor, NULL);
    assert (zpoller_wait (poller, 0) == NULL);  //  not answered yet: we did not block
    reply = zmsg_recv (actor);
    status = zmsg_popstr (reply);
    assert (status && streq (status, "OK"));
    zstr_free (&status);
    zchunk_t *actor_blob = NULL, *actor_public = NULL, *actor_name = NULL;
    frame = zmsg_pop (reply);
    actor_blob = zchunk_new (zframe_data (frame), zframe_size (frame));
    zframe_destroy (&frame);
    frame = zmsg_pop (reply);
    actor_public = zchunk_new (zframe_data (frame), zframe_size (frame));
    zframe_destroy (&frame);
    frame = zmsg_pop (reply);
    actor_name = zchunk_new (zframe_data (frame), zframe_size (frame));
    zframe_destroy (&frame);
    zmsg_destroy (&reply);

    byte actor_secret [32];
    randombytes_buf (actor_secret, sizeof actor_secret);
    zchunk_t *credential = NULL, *encrypted = NULL;
    assert (credential_make (zchunk_data (ek_public), zchunk_size (ek_public),
        zchunk_data (actor_name), zchunk_size (actor_name),
        actor_secret, sizeof actor_secret, &credential, &encrypted) == TPMVERIFY_OK);
    request = zmsg_new ();
    zmsg_addstr (request, "ACTIVATE");
    zmsg_addmem (request, zchunk_data (actor_blob), zchunk_size (actor_blob));
    zmsg_addmem (request, zchunk_data (credential), zchunk_size (credential));
    zmsg_addmem (request, zchunk_data (encrypted), zchunk_size (encrypted));
    zmsg_send (&request, actor);
    reply = zmsg_recv (actor);
    status = zmsg_popstr (reply);
    assert (status && streq (status, "OK"));
    zstr_free (&status);
    frame = zmsg_pop (reply);
    assert (zframe_size (frame) == sizeof actor_secret);
    assert (memcmp (zframe_data (frame), actor_secret, sizeof actor_secret) == 0);
    zframe_destroy (&frame);
    zmsg_destroy (&reply);

    byte mask_be [4] = { 0, 0, 0, 0x81 };           //  PCRs 0 and 7
    byte actor_nonce [20];
    randombytes_buf (actor_nonce, sizeof actor_nonce);
    request = zmsg_new ();
    zmsg_addstr (request, "QUOTE");
    zmsg_addmem (request, zchunk_data (actor_blob), zchunk_size (actor_blob));
    zmsg_addmem (request, mask_be, 4);
    zmsg_addmem (request, actor_nonce, sizeof actor_nonce);
    zmsg_send (&request, actor);
    byte pcr_values [64];
    for (int index = 0; index < 2; index++) {
        byte pcr = index? 7: 0;
        request = zmsg_new ();
        zmsg_addstr (request, "PCR READ");
        zmsg_addmem (request, &pcr, 1);
        zmsg_send (&request, actor);
    }
    reply = zmsg_recv (actor);                      //  replies come in order
    status = zmsg_popstr (reply);
    assert (status && streq (status, "OK"));
    zstr_free (&status);
    zframe_t *attest_frame = zmsg_pop (reply);
    zframe_t *signature_frame = zmsg_pop (reply);
    zmsg_destroy (&reply);
    for (int index = 0; index < 2; index++) {
        reply = zmsg_recv (actor);
        status = zmsg_popstr (reply);
        assert (status && streq (status, "OK"));
        zstr_free (&status);
        frame = zmsg_pop (reply);
        assert (zframe_size (frame) == 32);
        memcpy (pcr_values + 32 * index, zframe_data (frame), 32);
        zframe_destroy (&frame);
        zmsg_destroy (&reply);
    }
    assert (tpmverify_quote (zchunk_data (actor_public), zchunk_size (actor_public),
        zframe_data (attest_frame), zframe_size (attest_frame),
        zframe_data (signature_frame), zframe_size (signature_frame),
        actor_nonce, sizeof actor_nonce, 0x81, pcr_values, sizeof pcr_values) == TPMVERIFY_OK);
    zframe_destroy (&attest_frame);
    zframe_destroy (&signature_frame);

    //  Bad requests get an error, and the actor carries on
    zstr_send (actor, "FLY");
    reply = zmsg_recv (actor);
    status = zmsg_popstr (reply);
    assert (status && streq (status, "ERROR"));
    zstr_free (&status);
    zmsg_destroy (&reply);
    zstr_send (actor, "QUOTE");
    reply = zmsg_recv (actor);
    status = zmsg_popstr (reply);
    assert (status && streq (status, "ERROR"));
    zstr_free (&status);
    zmsg_destroy (&reply);
    zpoller_destroy (&poller);
    zactor_destroy (&actor);
    if (verbose)
        printf ("   actor: EK, AK, activation, quote and PCRs off the caller's thread\n");
    zchunk_destroy (&ek_public);
    zchunk_destroy (&actor_blob);
    zchunk_destroy (&actor_public);
    zchunk_destroy (&actor_name);
    zchunk_destroy (&credential);
    zchunk_destroy (&encrypted);

    //  Without a TPM the actor answers, with an error
    actor = zactor_new (tpm_actor, "swtpm:host=127.0.0.1,port=1");
    zstr_send (actor, "PCR READ");
    reply = zmsg_recv (actor);
    status = zmsg_popstr (reply);
    assert (status && streq (status, "ERROR"));
    zstr_free (&status);
    char *reason = zmsg_popstr (reply);
    assert (reason && streq (reason, "TPM unavailable"));
    zstr_free (&reason);
    zmsg_destroy (&reply);
    zactor_destroy (&actor);

    //  An unreachable TPM fails cleanly
    assert (tpm_new ("swtpm:host=127.0.0.1,port=1") == NULL);

    char dir [64];
    snprintf (dir, sizeof dir, "%s", swtpm->dir);
    tpm_swtpm_destroy (&swtpm);
    tpm_swtpm_destroy (&swtpm);
    assert (access (dir, F_OK) == -1);      //  state removed
    //  @end
    printf ("OK\n");
}
