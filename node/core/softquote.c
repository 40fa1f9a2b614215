/*  softquote - a software stand-in for a TPM's AK (see softquote.h)  */

#include "proto/corelib.h"
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>
#include <openssl/param_build.h>
#include <jansson.h>
//  tss2_mu only marshals TPM structures to and from bytes in memory; it
//  never reaches a TPM (that is node/io/tpm*.c), so this stays a core
#include <tss2/tss2_mu.h>
#include "proto/tpmmsg.h"
#include "proto/tpmverify.h"
#include "proto/eventlog.h"
#include "proto/bootverify.h"
#include "proto/keys.h"
#include "node/core/softquote.h"

struct _softquote_t {
    EVP_PKEY *key;                      //  P-256 private key
    uint8_t public [sizeof (TPM2B_PUBLIC)];     //  Marshalled TPM2B_PUBLIC
    size_t public_size;
    uint8_t name [CERT_AK_NAME_SIZE];
    uint64_t clock;                     //  TPMS_CLOCK_INFO.clock, grows per quote
};

//  Marshal the public area (tpmverify_ak_template's), take its name; 0 or -1
static int
s_finish (softquote_t *self, TPM2B_PUBLIC *public)
{
    size_t offset = 0;
    if (Tss2_MU_TPM2B_PUBLIC_Marshal (public, self->public, sizeof self->public, &offset)
        != TSS2_RC_SUCCESS)
        return -1;
    self->public_size = offset;
    zchunk_t *name = tpmverify_name (self->public, self->public_size);
    int rc = name && zchunk_size (name) == CERT_AK_NAME_SIZE? 0: -1;
    if (rc == 0)
        memcpy (self->name, zchunk_data (name), CERT_AK_NAME_SIZE);
    zchunk_destroy (&name);
    return rc;
}

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
    tpmverify_ak_template (area, false);
    if (rc == 0
    && (BN_bn2binpad (x, area->unique.ecc.x.buffer, 32) != 32
    ||  BN_bn2binpad (y, area->unique.ecc.y.buffer, 32) != 32))
        rc = -1;
    area->unique.ecc.x.size = area->unique.ecc.y.size = 32;
    if (rc == 0)
        rc = s_finish (self, &public);
    BN_free (x);
    BN_free (y);
    if (rc)
        softquote_destroy (&self);
    return self;
}

//  A 1024-bit prime from the seed's SHA-256 stream under label: the
//  first prime at or above a stream value with its two top bits set
//  (so two of them make a 2048-bit modulus), p - 1 prime to 65537.
//  Primality is a property of the number, so the search is
//  deterministic though the Miller-Rabin witnesses are random.
static BIGNUM *
s_prime (const uint8_t seed [32], uint8_t label, BN_CTX *ctx)
{
    uint8_t stream [128];
    for (uint8_t block = 0; block < 4; block++) {
        uint8_t input [34];
        memcpy (input, seed, 32);
        input [32] = label;
        input [33] = block;
        if (!EVP_Digest (input, sizeof input, stream + 32 * block, NULL, EVP_sha256 (), NULL))
            return NULL;
    }
    stream [0] |= 0xC0;
    stream [127] |= 1;
    BIGNUM *p = BN_bin2bn (stream, sizeof stream, NULL);
    //  Primes are about ln (2^1024) = 710 apart: bound the walk well past it
    for (int step = 0; p && step < 100000; step++) {
        if (BN_mod_word (p, 65537) != 1 && BN_check_prime (p, ctx, NULL) == 1)
            return p;
        if (!BN_add_word (p, 2))
            break;
    }
    BN_free (p);
    return NULL;
}

softquote_t *
softquote_new_rsa (const uint8_t seed [32])
{
    assert (seed);
    softquote_t *self = (softquote_t *) zmalloc (sizeof (softquote_t));
    BN_CTX *ctx = BN_CTX_new ();
    BIGNUM *p = ctx? s_prime (seed, 'p', ctx): NULL;
    BIGNUM *q = ctx? s_prime (seed, 'q', ctx): NULL;
    BIGNUM *n = BN_new (), *e = BN_new (), *d = BN_new (), *lambda = BN_new ();
    BIGNUM *p1 = BN_new (), *q1 = BN_new (), *gcd = BN_new ();
    BIGNUM *dp = BN_new (), *dq = BN_new (), *qinv = BN_new ();
    //  n = pq, d = e^-1 mod lcm (p-1, q-1), and the CRT parameters
    int ok = p && q && BN_cmp (p, q) != 0 && n && e && d && lambda && p1 && q1 && gcd
          && dp && dq && qinv && BN_set_word (e, 65537) && BN_mul (n, p, q, ctx)
          && BN_num_bits (n) == 2048
          && BN_sub (p1, p, BN_value_one ()) && BN_sub (q1, q, BN_value_one ())
          && BN_gcd (gcd, p1, q1, ctx) && BN_mul (lambda, p1, q1, ctx)
          && BN_div (lambda, NULL, lambda, gcd, ctx)
          && BN_mod_inverse (d, e, lambda, ctx)
          && BN_mod (dp, d, p1, ctx) && BN_mod (dq, d, q1, ctx)
          && BN_mod_inverse (qinv, q, p, ctx);
    OSSL_PARAM_BLD *build = ok? OSSL_PARAM_BLD_new (): NULL;
    OSSL_PARAM *params = NULL;
    if (build
    &&  OSSL_PARAM_BLD_push_BN (build, OSSL_PKEY_PARAM_RSA_N, n)
    &&  OSSL_PARAM_BLD_push_BN (build, OSSL_PKEY_PARAM_RSA_E, e)
    &&  OSSL_PARAM_BLD_push_BN (build, OSSL_PKEY_PARAM_RSA_D, d)
    &&  OSSL_PARAM_BLD_push_BN (build, OSSL_PKEY_PARAM_RSA_FACTOR1, p)
    &&  OSSL_PARAM_BLD_push_BN (build, OSSL_PKEY_PARAM_RSA_FACTOR2, q)
    &&  OSSL_PARAM_BLD_push_BN (build, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp)
    &&  OSSL_PARAM_BLD_push_BN (build, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq)
    &&  OSSL_PARAM_BLD_push_BN (build, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv))
        params = OSSL_PARAM_BLD_to_param (build);
    EVP_PKEY_CTX *pctx = params? EVP_PKEY_CTX_new_from_name (NULL, "RSA", NULL): NULL;
    if (!pctx || EVP_PKEY_fromdata_init (pctx) != 1
    ||  EVP_PKEY_fromdata (pctx, &self->key, EVP_PKEY_KEYPAIR, params) != 1)
        ok = 0;
    TPM2B_PUBLIC public;
    memset (&public, 0, sizeof public);
    TPMT_PUBLIC *area = &public.publicArea;
    tpmverify_ak_template (area, true);
    area->unique.rsa.size = 256;
    if (ok && BN_bn2binpad (n, area->unique.rsa.buffer, 256) != 256)
        ok = 0;
    int rc = ok? s_finish (self, &public): -1;
    EVP_PKEY_CTX_free (pctx);
    OSSL_PARAM_free (params);
    OSSL_PARAM_BLD_free (build);
    BN_CTX_free (ctx);
    BN_clear_free (p);
    BN_clear_free (q);
    BN_clear_free (d);
    BN_clear_free (lambda);
    BN_clear_free (p1);
    BN_clear_free (q1);
    BN_clear_free (dp);
    BN_clear_free (dq);
    BN_clear_free (qinv);
    BN_free (gcd);
    BN_free (n);
    BN_free (e);
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

const uint8_t *
softquote_public (softquote_t *self, size_t *size_p)
{
    assert (self && size_p);
    *size_p = self->public_size;
    return self->public;
}

//  The AK's signature over data as a marshalled TPMT_SIGNATURE:
//  ECDSA-SHA256, or RSASSA-PKCS1-v1_5 SHA-256 (deterministic)
static int
s_sign (softquote_t *self, const uint8_t *data, size_t size, uint8_t *out, size_t out_max,
        size_t *out_size)
{
    bool rsa = EVP_PKEY_is_a (self->key, "RSA");
    EVP_MD_CTX *md = EVP_MD_CTX_new ();
    uint8_t der [256];
    size_t der_size = sizeof der;
    int rc = md && EVP_DigestSignInit (md, NULL, EVP_sha256 (), NULL, self->key) == 1
          && EVP_DigestSign (md, der, &der_size, data, size) == 1? 0: -1;
    EVP_MD_CTX_free (md);
    TPMT_SIGNATURE signature;
    memset (&signature, 0, sizeof signature);
    if (rsa) {
        signature.sigAlg = TPM2_ALG_RSASSA;
        signature.signature.rsassa.hash = TPM2_ALG_SHA256;
        if (der_size != 256)
            rc = -1;
        else {
            signature.signature.rsassa.sig.size = 256;
            memcpy (signature.signature.rsassa.sig.buffer, der, 256);
        }
    }
    else {
        const uint8_t *cursor = der;
        ECDSA_SIG *sig = rc == 0? d2i_ECDSA_SIG (NULL, &cursor, (long) der_size): NULL;
        signature.sigAlg = TPM2_ALG_ECDSA;
        signature.signature.ecdsa.hash = TPM2_ALG_SHA256;
        TPMS_SIGNATURE_ECC *ecc = &signature.signature.ecdsa;
        if (!sig
        ||  BN_bn2binpad (ECDSA_SIG_get0_r (sig), ecc->signatureR.buffer, 32) != 32
        ||  BN_bn2binpad (ECDSA_SIG_get0_s (sig), ecc->signatureS.buffer, 32) != 32)
            rc = -1;
        ecc->signatureR.size = ecc->signatureS.size = 32;
        ECDSA_SIG_free (sig);
    }
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

//  --------------------------------------------------------------------------
//  Selftest

//  Evidence of ak for quote over log, checked by the verifiers against
//  profile; returns the verdict and, if bytes_p, the payload
static bool
s_test_check (softquote_t *ak, const node_action_t *quote, zchunk_t *log, json_t *profile,
              uint8_t **bytes_p, size_t *size_p)
{
    uint8_t *payload;
    size_t size;
    assert (softquote_evidence (ak, quote, zchunk_data (log), zchunk_size (log), &payload,
                                &size) == 0);
    tpmmsg_t evidence;
    assert (tpmmsg_decode (&evidence, MSG_ATTEST_EVIDENCE, payload, size) == 0);
    assert (tpmverify_check_ak (evidence.ak_public, evidence.ak_public_size) == TPMVERIFY_OK);
    bootverify_t check;
    bool ok = bootverify_check (evidence.ak_public, evidence.ak_public_size, &evidence,
                                quote->pcr_mask, profile, &check);
    if (bytes_p) {
        *bytes_p = payload;
        *size_p = size;
    }
    else
        free (payload);
    return ok;
}

void
softquote_test (bool verbose)
{
    printf (" * softquote: ");
    //  @selftest
    zchunk_t *log = NULL, *tampered = NULL;
    eventlog_append (&log, 8, "weft boot", 9, NULL);
    eventlog_append (&tampered, 8, "weft b00t", 9, NULL);
    uint8_t pcrs [EVENTLOG_PCRS][32];
    char error [128], hex [65], doc [160];
    assert (eventlog_replay (zchunk_data (log), zchunk_size (log), pcrs, NULL, 0, NULL,
                             error, sizeof error) == 1);
    keys_hex (pcrs [8], 32, hex);
    snprintf (doc, sizeof doc, "{\"pcrs\":{\"8\":\"%s\"}}", hex);
    json_t *profile = json_loads (doc, 0, NULL);
    assert (profile);
    node_action_t quote;
    memset (&quote, 0, sizeof quote);
    quote.kind = NODE_ACT_QUOTE;
    quote.nonce_size = 32;
    memset (quote.nonce, 0x5A, 32);
    quote.pcr_mask = 1u << 8;

    //  The same seed gives the same AK and the same quote, byte for byte
    uint8_t seed [32], other [32];
    memset (seed, 1, sizeof seed);
    memset (other, 2, sizeof other);
    softquote_t *one = softquote_new_rsa (seed);
    softquote_t *two = softquote_new_rsa (seed);
    softquote_t *three = softquote_new_rsa (other);
    assert (one && two && three);
    uint8_t name_one [CERT_AK_NAME_SIZE], name_two [CERT_AK_NAME_SIZE];
    uint8_t name_three [CERT_AK_NAME_SIZE];
    softquote_name (one, name_one);
    softquote_name (two, name_two);
    softquote_name (three, name_three);
    assert (memcmp (name_one, name_two, CERT_AK_NAME_SIZE) == 0);
    assert (memcmp (name_one, name_three, CERT_AK_NAME_SIZE) != 0);
    uint8_t *bytes_one, *bytes_two;
    size_t size_one, size_two;
    assert (s_test_check (one, &quote, log, profile, &bytes_one, &size_one));
    assert (s_test_check (two, &quote, log, profile, &bytes_two, &size_two));
    assert (size_one == size_two && memcmp (bytes_one, bytes_two, size_one) == 0);
    free (bytes_one);
    free (bytes_two);
    //  The verifiers take it as they take a TPM's RSA AK: a log off the
    //  profile fails, and so does another AK's quote over the same nonce
    assert (!s_test_check (one, &quote, tampered, profile, NULL, NULL));
    uint8_t *payload;
    size_t size;
    assert (softquote_evidence (three, &quote, zchunk_data (log), zchunk_size (log),
                                &payload, &size) == 0);
    tpmmsg_t evidence;
    assert (tpmmsg_decode (&evidence, MSG_ATTEST_EVIDENCE, payload, size) == 0);
    assert (softquote_evidence (one, &quote, zchunk_data (log), zchunk_size (log),
                                &bytes_one, &size_one) == 0);
    tpmmsg_t own;
    assert (tpmmsg_decode (&own, MSG_ATTEST_EVIDENCE, bytes_one, size_one) == 0);
    bootverify_t check;
    assert (!bootverify_check (own.ak_public, own.ak_public_size, &evidence, quote.pcr_mask,
                               profile, &check));
    free (payload);
    free (bytes_one);
    //  The P-256 AK, random, still passes
    softquote_t *ecc = softquote_new ();
    assert (ecc);
    assert (s_test_check (ecc, &quote, log, profile, NULL, NULL));
    if (verbose)
        printf ("\n   RSA AK from a seed: same key and quote bytes, verified; P-256 AK verified ");
    softquote_destroy (&ecc);
    softquote_destroy (&one);
    softquote_destroy (&two);
    softquote_destroy (&three);
    json_decref (profile);
    zchunk_destroy (&log);
    zchunk_destroy (&tampered);
    //  @end
    printf ("OK\n");
}
