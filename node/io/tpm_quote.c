/*  tpm_quote - quotes over the verifier's nonce, PCR reads and extends
    Only sha256 PCRs 0-23. The AK is loaded for the quote and flushed
    before it returns.  */

#include "node/io/tpm_internal.h"

#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

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

    if (tpm_ak_load (self, ak_blob, &ak))
        goto done;
    TSS2_RC r = tpm_fault (self)? TPM_FAULT_RC: Esys_Quote (self->ectx, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
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
    tpm_flush (self, &ak);
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
    TSS2_RC r = tpm_fault (self)? TPM_FAULT_RC: Esys_PCR_Read (self->ectx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
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
    TSS2_RC r = tpm_fault (self)? TPM_FAULT_RC: Esys_PCR_Extend (self->ectx, ESYS_TR_PCR0 + pcr,
        ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &values);
    if (r != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: extend PCR %d: %s", pcr, Tss2_RC_Decode (r));
        return -1;
    }
    return 0;
}
