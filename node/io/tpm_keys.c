/*  tpm_keys - the EK, its certificate, the AK and credential activation
    The EK is recreated from the endorsement seed with the TCG template
    and kept loaded, one type at a time; it is used only through a
    PolicySecret(TPM_RH_ENDORSEMENT) session. The AK lives outside the TPM
    as a blob (see tpm.h) and is loaded for each operation, then flushed
    by the caller.  */

#include "node/io/tpm_internal.h"
#include "proto/tpmverify.h"

#include <sodium.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#define TPM_AK_BLOB_MAGIC   "WAK1"      //  AK blob format version
#define TPM_NV_CHUNK        512         //  NV read size every TPM accepts
#define TPM_EK_CERT_MAX     4096        //  Larger than any EK certificate

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
//  Make sure the EK of the given type is loaded; returns 0 or -1

int
tpm_ek_load (tpm_t *self, tpm_key_type_t type)
{
    if (self->ek != ESYS_TR_NONE && self->ek_type == type)
        return 0;
    tpm_ek_flush (self);              //  one EK at a time: objects are scarce

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
    TSS2_RC r = tpm_fault (self)? TPM_FAULT_RC: Esys_CreatePrimary (self->ectx, ESYS_TR_RH_ENDORSEMENT,
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
//  EK public and name

int
tpm_ek_public (tpm_t *self, tpm_key_type_t type, zchunk_t **public_p, zchunk_t **name_p)
{
    assert (self);
    if (public_p)
        *public_p = NULL;
    if (name_p)
        *name_p = NULL;
    if (tpm_ek_load (self, type))
        return -1;
    if (public_p && !(*public_p = tpm_public_chunk (self->ek_public)))
        return -1;
    if (name_p && !(*name_p = tpm_name_chunk (self, self->ek))) {
        if (public_p)
            zchunk_destroy (public_p);
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Does the TPM hold this handle (an NV index, a persistent object)? 1 if
//  so, 0 if not, -1 if it cannot tell. An absent index is the normal case
//  for TPMs without certificates: asking first keeps ESYS from logging an
//  error for it.

static int
s_handle_present (tpm_t *self, TPM2_HANDLE handle)
{
    TPMS_CAPABILITY_DATA *capability = NULL;
    TSS2_RC r = tpm_fault (self)? TPM_FAULT_RC: Esys_GetCapability (self->ectx,
        ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, handle, 1, NULL,
        &capability);
    int present = r == TSS2_RC_SUCCESS
        && capability->data.handles.count == 1
        && capability->data.handles.handle [0] == handle;
    Esys_Free (capability);
    if (r != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: list handles: %s", Tss2_RC_Decode (r));
        return -1;
    }
    return present;
}

//  --------------------------------------------------------------------------
//  The EK this TPM is provisioned with

int
tpm_ek_type (tpm_t *self, tpm_key_type_t *type_p)
{
    assert (self && type_p);
    //  The vendor's certificate says which EK it certified: RSA first
    //  (the TCG's default and what most TPMs carry), then ECC P-256
    const struct {
        TPM2_HANDLE handle;
        tpm_key_type_t type;
        const char *what;
    } evidence [] = {
        { TPM_NV_EK_CERT_RSA, TPM_KEY_RSA, "RSA EK certificate" },
        { TPM_NV_EK_CERT_ECC, TPM_KEY_ECC, "ECC P-256 EK certificate" },
        { TPM_EK_PERSISTENT_RSA, TPM_KEY_RSA, "persistent RSA EK" },
        { TPM_EK_PERSISTENT_ECC, TPM_KEY_ECC, "persistent ECC EK" }
    };
    for (size_t i = 0; i < sizeof evidence / sizeof evidence [0]; i++) {
        int present = s_handle_present (self, evidence [i].handle);
        if (present < 0)
            return -1;
        if (present) {
            zsys_debug ("tpm: %s at 0x%08x", evidence [i].what, evidence [i].handle);
            *type_p = evidence [i].type;
            return 0;
        }
    }
    //  Nothing provisioned: RSA-2048 if the TPM implements RSA, else ECC
    TPMS_CAPABILITY_DATA *capability = NULL;
    TSS2_RC r = tpm_fault (self)? TPM_FAULT_RC: Esys_GetCapability (self->ectx,
        ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_ALGS, TPM2_ALG_RSA, 1, NULL,
        &capability);
    bool rsa = r == TSS2_RC_SUCCESS && capability->data.algorithms.count >= 1
        && capability->data.algorithms.algProperties [0].alg == TPM2_ALG_RSA;
    Esys_Free (capability);
    if (r != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: list algorithms: %s", Tss2_RC_Decode (r));
        return -1;
    }
    *type_p = rsa? TPM_KEY_RSA: TPM_KEY_ECC;
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

    int present = s_handle_present (self, index);
    if (present == 0)
        zsys_debug ("tpm: no EK certificate at 0x%08x", index);
    if (present <= 0)
        goto done;
    TSS2_RC r = tpm_fault (self)? TPM_FAULT_RC: Esys_TR_FromTPMPublic (self->ectx, index,
        ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv);
    if (r != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: open NV 0x%08x: %s", index, Tss2_RC_Decode (r));
        nv = ESYS_TR_NONE;
        goto done;
    }
    r = tpm_fault (self)? TPM_FAULT_RC: Esys_NV_ReadPublic (self->ectx, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
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
        r = tpm_fault (self)? TPM_FAULT_RC: Esys_NV_Read (self->ectx, ESYS_TR_RH_OWNER, nv,
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

int
tpm_ak_blob_parse (zchunk_t *blob, tpm_key_type_t *ek_type, TPM2B_PUBLIC *public, TPM2B_PRIVATE *private)
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

tpm_key_type_t
tpm_ak_blob_ek_type (zchunk_t *blob)
{
    assert (blob);
    const byte *data = zchunk_data (blob);
    if (zchunk_size (blob) < 5 || memcmp (data, TPM_AK_BLOB_MAGIC, 4) != 0
    ||  (data [4] != TPM_KEY_RSA && data [4] != TPM_KEY_ECC))
        return (tpm_key_type_t) 0;
    return (tpm_key_type_t) data [4];
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
    if (tpm_ak_blob_parse (blob, &ek_type, &public, &private))
        return -1;
    sodium_memzero (&private, sizeof private);
    if (public.publicArea.nameAlg != TPM2_ALG_SHA256) {
        zsys_error ("tpm: AK blob has an unsupported name algorithm");
        return -1;
    }
    zchunk_t *marshalled = tpm_public_chunk (&public);
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
    tpmverify_ak_template (area, ak_type == TPM_KEY_RSA);
    TPM2B_SENSITIVE_CREATE sensitive = { 0 };
    TPM2B_DATA outside = { 0 };
    TPML_PCR_SELECTION creation_pcr = { 0 };

    if (tpm_ek_load (self, ek_type) || tpm_endorsement_session (self, &session))
        goto done;
    TSS2_RC r = tpm_fault (self)? TPM_FAULT_RC: Esys_Create (self->ectx, self->ek, session, ESYS_TR_NONE, ESYS_TR_NONE,
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
    tpm_flush (self, &session);
    Esys_Free (private);
    Esys_Free (public);
    return rc;
}

//  --------------------------------------------------------------------------
//  Load an AK blob under its EK; the caller flushes *ak_p

int
tpm_ak_load (tpm_t *self, zchunk_t *blob, ESYS_TR *ak_p)
{
    *ak_p = ESYS_TR_NONE;
    tpm_key_type_t ek_type;
    TPM2B_PUBLIC public;
    TPM2B_PRIVATE private;
    ESYS_TR session = ESYS_TR_NONE;
    int rc = -1;
    if (tpm_ak_blob_parse (blob, &ek_type, &public, &private)
    ||  tpm_ek_load (self, ek_type)
    ||  tpm_endorsement_session (self, &session))
        goto done;
    TSS2_RC r = tpm_fault (self)? TPM_FAULT_RC: Esys_Load (self->ectx, self->ek, session, ESYS_TR_NONE, ESYS_TR_NONE,
        &private, &public, ak_p);
    if (r == TSS2_RC_SUCCESS)
        rc = 0;
    else {
        zsys_error ("tpm: load AK: %s", Tss2_RC_Decode (r));
        *ak_p = ESYS_TR_NONE;
    }
done:
    tpm_flush (self, &session);
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
    if (tpm_ak_load (self, ak_blob, &ak) || tpm_endorsement_session (self, &session))
        goto done;
    TSS2_RC r = tpm_fault (self)? TPM_FAULT_RC: Esys_ActivateCredential (self->ectx, ak, self->ek,
        ESYS_TR_PASSWORD, session, ESYS_TR_NONE, &blob, &encrypted, &cert_info);
    if (r == TSS2_RC_SUCCESS)
        result = zchunk_new (cert_info->buffer, cert_info->size);
    else
        zsys_warning ("tpm: activate credential: %s", Tss2_RC_Decode (r));
done:
    if (cert_info)
        sodium_memzero (cert_info, sizeof *cert_info);
    Esys_Free (cert_info);
    tpm_flush (self, &session);
    tpm_flush (self, &ak);
    return result;
}
