/*  softquote - a software stand-in for a TPM's AK (see softquote.h)  */

#include "proto/corelib.h"
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>
#include <tss2/tss2_mu.h>
#include "proto/tpmmsg.h"
#include "proto/tpmverify.h"
#include "proto/eventlog.h"
#include "node/core/softquote.h"

struct _softquote_t {
    EVP_PKEY *key;                      //  P-256 private key
    uint8_t public [sizeof (TPM2B_PUBLIC)];     //  Marshalled TPM2B_PUBLIC
    size_t public_size;
    uint8_t name [CERT_AK_NAME_SIZE];
    uint64_t clock;                     //  TPMS_CLOCK_INFO.clock, grows per quote
};

softquote_t *
softquote_new (void)
{
    softquote_t *self = (softquote_t *) zmalloc (sizeof (softquote_t));
    self->key = EVP_EC_gen ("P-256");
    BIGNUM *x = NULL, *y = NULL;
    int rc = self->key
          && EVP_PKEY_get_bn_param (self->key, OSSL_PKEY_PARAM_EC_PUB_X, &x)
          && EVP_PKEY_get_bn_param (self->key, OSSL_PKEY_PARAM_EC_PUB_Y, &y)? 0: -1;
    TPM2B_PUBLIC public;
    memset (&public, 0, sizeof public);
    TPMT_PUBLIC *area = &public.publicArea;
    area->type = TPM2_ALG_ECC;
    area->nameAlg = TPM2_ALG_SHA256;
    area->objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT
                           | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                           | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;
    area->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    area->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    area->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    area->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    area->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    if (rc == 0
    && (BN_bn2binpad (x, area->unique.ecc.x.buffer, 32) != 32
    ||  BN_bn2binpad (y, area->unique.ecc.y.buffer, 32) != 32))
        rc = -1;
    area->unique.ecc.x.size = area->unique.ecc.y.size = 32;
    size_t offset = 0;
    if (rc == 0
    &&  Tss2_MU_TPM2B_PUBLIC_Marshal (&public, self->public, sizeof self->public, &offset)
        != TSS2_RC_SUCCESS)
        rc = -1;
    self->public_size = offset;
    zchunk_t *name = rc == 0? tpmverify_name (self->public, self->public_size): NULL;
    if (name && zchunk_size (name) == CERT_AK_NAME_SIZE)
        memcpy (self->name, zchunk_data (name), CERT_AK_NAME_SIZE);
    else
        rc = -1;
    zchunk_destroy (&name);
    BN_free (x);
    BN_free (y);
    if (rc)
        softquote_destroy (&self);
    return self;
}

void
softquote_destroy (softquote_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        softquote_t *self = *self_p;
        EVP_PKEY_free (self->key);
        free (self);
        *self_p = NULL;
    }
}

void
softquote_name (softquote_t *self, uint8_t name [CERT_AK_NAME_SIZE])
{
    assert (self);
    memcpy (name, self->name, CERT_AK_NAME_SIZE);
}

//  ECDSA-SHA256 over data as a marshalled TPMT_SIGNATURE
static int
s_sign (softquote_t *self, const uint8_t *data, size_t size, uint8_t *out, size_t out_max,
        size_t *out_size)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new ();
    uint8_t der [80];
    size_t der_size = sizeof der;
    int rc = md && EVP_DigestSignInit (md, NULL, EVP_sha256 (), NULL, self->key) == 1
          && EVP_DigestSign (md, der, &der_size, data, size) == 1? 0: -1;
    EVP_MD_CTX_free (md);
    const uint8_t *cursor = der;
    ECDSA_SIG *sig = rc == 0? d2i_ECDSA_SIG (NULL, &cursor, (long) der_size): NULL;
    TPMT_SIGNATURE signature;
    memset (&signature, 0, sizeof signature);
    signature.sigAlg = TPM2_ALG_ECDSA;
    signature.signature.ecdsa.hash = TPM2_ALG_SHA256;
    TPMS_SIGNATURE_ECC *ecc = &signature.signature.ecdsa;
    if (!sig
    ||  BN_bn2binpad (ECDSA_SIG_get0_r (sig), ecc->signatureR.buffer, 32) != 32
    ||  BN_bn2binpad (ECDSA_SIG_get0_s (sig), ecc->signatureS.buffer, 32) != 32)
        rc = -1;
    ecc->signatureR.size = ecc->signatureS.size = 32;
    ECDSA_SIG_free (sig);
    size_t offset = 0;
    if (rc == 0
    &&  Tss2_MU_TPMT_SIGNATURE_Marshal (&signature, out, out_max, &offset) != TSS2_RC_SUCCESS)
        rc = -1;
    *out_size = offset;
    return rc;
}

int
softquote_evidence (softquote_t *self, const node_action_t *quote,
                    const uint8_t *event_log, size_t event_log_size,
                    uint8_t **payload_p, size_t *size_p)
{
    assert (self && quote && payload_p && size_p);
    uint8_t pcrs [EVENTLOG_PCRS][32];
    memset (pcrs, 0, sizeof pcrs);
    char error [128];
    if (event_log && eventlog_replay (event_log, event_log_size, pcrs, NULL, 0, NULL,
                                      error, sizeof error) < 0)
        return -1;
    //  The PCR values asked, ascending, and their digest
    uint8_t values [EVENTLOG_PCRS * 32];
    size_t count = 0;
    for (uint32_t pcr = 0; pcr < EVENTLOG_PCRS; pcr++)
        if (quote->pcr_mask & (1u << pcr))
            memcpy (values + 32 * count++, pcrs [pcr], 32);
    if (quote->pcr_mask >> EVENTLOG_PCRS)
        return -1;
    TPMS_ATTEST attest;
    memset (&attest, 0, sizeof attest);
    attest.magic = TPM2_GENERATED_VALUE;
    attest.type = TPM2_ST_ATTEST_QUOTE;
    attest.qualifiedSigner.size = CERT_AK_NAME_SIZE;
    memcpy (attest.qualifiedSigner.name, self->name, CERT_AK_NAME_SIZE);
    attest.extraData.size = (UINT16) quote->nonce_size;
    memcpy (attest.extraData.buffer, quote->nonce, quote->nonce_size);
    attest.clockInfo.clock = ++self->clock;
    attest.clockInfo.safe = 1;
    TPML_PCR_SELECTION *select = &attest.attested.quote.pcrSelect;
    select->count = 1;
    select->pcrSelections [0].hash = TPM2_ALG_SHA256;
    select->pcrSelections [0].sizeofSelect = 3;
    for (int i = 0; i < 3; i++)
        select->pcrSelections [0].pcrSelect [i] = (uint8_t) (quote->pcr_mask >> (8 * i));
    attest.attested.quote.pcrDigest.size = 32;
    unsigned int digest_size = 0;
    if (!EVP_Digest (values, 32 * count, attest.attested.quote.pcrDigest.buffer,
                     &digest_size, EVP_sha256 (), NULL))
        return -1;
    uint8_t attest_bytes [sizeof (TPMS_ATTEST)];
    size_t attest_size = 0;
    if (Tss2_MU_TPMS_ATTEST_Marshal (&attest, attest_bytes, sizeof attest_bytes, &attest_size)
        != TSS2_RC_SUCCESS)
        return -1;
    uint8_t signature [sizeof (TPMT_SIGNATURE)];
    size_t signature_size = 0;
    if (s_sign (self, attest_bytes, attest_size, signature, sizeof signature, &signature_size))
        return -1;
    tpmmsg_t evidence;
    memset (&evidence, 0, sizeof evidence);
    evidence.type = MSG_ATTEST_EVIDENCE;
    evidence.nonce = quote->nonce;
    evidence.nonce_size = quote->nonce_size;
    evidence.pcr_mask = quote->pcr_mask;
    evidence.attest = attest_bytes;
    evidence.attest_size = attest_size;
    evidence.signature = signature;
    evidence.signature_size = signature_size;
    evidence.pcrs = values;
    evidence.pcrs_size = 32 * count;
    evidence.event_log = event_log;
    evidence.event_log_size = event_log_size;
    evidence.ak_public = self->public;
    evidence.ak_public_size = self->public_size;
    return tpmmsg_encode (&evidence, payload_p, size_p) == 0? 0: -1;
}
