/*  credential - the verifier's side of TPM 2.0 identity
    MakeCredential in software, quote verification, AK checks.

    MakeCredential follows TPM 2.0 Part 1, 24 (Credential Protection) and
    the reference implementation's CryptSecretDecrypt / ProduceOuterWrap,
    which is what a real TPM runs on the other side:

      seed     RSA EK: 32 random bytes, RSA-OAEP(SHA-256, label "IDENTITY\0")
               ECC EK: ephemeral P-256 key e; Z = x(e * EK);
                       seed = KDFe(SHA-256, Z, "IDENTITY", x(e), x(EK), 256)
      symKey   = KDFa(SHA-256, seed, "STORAGE", name, -, 128)
      encId    = AES-128-CFB(symKey, IV = 0, TPM2B_DIGEST(secret))
      hmacKey  = KDFa(SHA-256, seed, "INTEGRITY", -, -, 256)
      hmac     = HMAC-SHA-256(hmacKey, encId || name)
      blob     = TPM2B_ID_OBJECT(TPM2B_DIGEST(hmac) || encId)
      secret   = TPM2B_ENCRYPTED_SECRET(OAEP ciphertext | TPMS_ECC_POINT e)

    Every label is hashed with exactly one terminating zero octet.
    Only SHA-256 name algorithms and AES-128-CFB EK symmetric parameters
    are accepted: those are what the TCG low-range EK templates use.  */

#include "proto/credential.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <limits.h>
#include <sodium.h>
#include <tss2/tss2_mu.h>

#define CREDENTIAL_DIGEST_SIZE  32      //  SHA-256
#define CREDENTIAL_AES_KEY_BITS 128
#define CREDENTIAL_ECC_SIZE     32      //  P-256 coordinate

//  --------------------------------------------------------------------------
//  KDFa with HMAC-SHA-256 (Part 1, 11.4.10.2)

int
credential_kdfa (const byte *key, size_t key_size, const char *label,
                 const byte *context_u, size_t context_u_size,
                 const byte *context_v, size_t context_v_size,
                 uint32_t bits, byte *out)
{
    assert (key && label && out);
    assert (bits > 0 && bits % 8 == 0);
    size_t want = bits / 8;
    size_t done = 0;
    int rc = -1;
    EVP_MAC *mac = EVP_MAC_fetch (NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac? EVP_MAC_CTX_new (mac): NULL;
    if (!ctx)
        goto done;
    OSSL_PARAM params [] = {
        OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end ()
    };
    for (uint32_t counter = 1; done < want; counter++) {
        byte counter_be [4] = { counter >> 24, counter >> 16, counter >> 8, counter };
        byte bits_be [4] = { bits >> 24, bits >> 16, bits >> 8, bits };
        byte block [CREDENTIAL_DIGEST_SIZE];
        size_t block_size = 0;
        if (!EVP_MAC_init (ctx, key, key_size, params)
        ||  !EVP_MAC_update (ctx, counter_be, 4)
        ||  !EVP_MAC_update (ctx, (const byte *) label, strlen (label) + 1)
        ||  (context_u_size && !EVP_MAC_update (ctx, context_u, context_u_size))
        ||  (context_v_size && !EVP_MAC_update (ctx, context_v, context_v_size))
        ||  !EVP_MAC_update (ctx, bits_be, 4)
        ||  !EVP_MAC_final (ctx, block, &block_size, sizeof block))
            goto done;
        size_t take = want - done < block_size? want - done: block_size;
        memcpy (out + done, block, take);
        done += take;
        OPENSSL_cleanse (block, sizeof block);
    }
    rc = 0;
done:
    EVP_MAC_CTX_free (ctx);
    EVP_MAC_free (mac);
    return rc;
}

//  --------------------------------------------------------------------------
//  KDFe with SHA-256 (Part 1, 11.4.10.3), one block is all a seed needs

static int
s_kdfe (const byte *z, size_t z_size, const char *label,
        const byte *party_u, size_t party_u_size,
        const byte *party_v, size_t party_v_size, byte *out)
{
    byte counter_be [4] = { 0, 0, 0, 1 };
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    unsigned int size = 0;
    int ok = ctx
        && EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL)
        && EVP_DigestUpdate (ctx, counter_be, 4)
        && EVP_DigestUpdate (ctx, z, z_size)
        && EVP_DigestUpdate (ctx, label, strlen (label) + 1)
        && EVP_DigestUpdate (ctx, party_u, party_u_size)
        && EVP_DigestUpdate (ctx, party_v, party_v_size)
        && EVP_DigestFinal_ex (ctx, out, &size);
    EVP_MD_CTX_free (ctx);
    return ok && size == CREDENTIAL_DIGEST_SIZE? 0: -1;
}

//  --------------------------------------------------------------------------
//  RSA EK: random seed, encrypted with OAEP SHA-256 and label "IDENTITY\0"

static int
s_seed_rsa (const TPMT_PUBLIC *ek, byte *seed, TPM2B_ENCRYPTED_SECRET *out)
{
    int rc = TPMVERIFY_BAD_PUBLIC;
    EVP_PKEY *pkey = tpmverify_pkey (ek);
    EVP_PKEY_CTX *ctx = pkey? EVP_PKEY_CTX_new_from_pkey (NULL, pkey, NULL): NULL;
    if (!ctx)
        goto done;
    rc = TPMVERIFY_CRYPTO;
    if (RAND_bytes (seed, CREDENTIAL_DIGEST_SIZE) != 1)
        goto done;
    static const char label [] = "IDENTITY";       //  sizeof includes the zero
    byte *label_copy = OPENSSL_memdup (label, sizeof label);
    if (!label_copy
    ||  EVP_PKEY_encrypt_init (ctx) <= 0
    ||  EVP_PKEY_CTX_set_rsa_padding (ctx, RSA_PKCS1_OAEP_PADDING) <= 0
    ||  EVP_PKEY_CTX_set_rsa_oaep_md (ctx, EVP_sha256 ()) <= 0
    ||  EVP_PKEY_CTX_set_rsa_mgf1_md (ctx, EVP_sha256 ()) <= 0) {
        OPENSSL_free (label_copy);
        goto done;
    }
    if (EVP_PKEY_CTX_set0_rsa_oaep_label (ctx, label_copy, sizeof label) <= 0) {
        OPENSSL_free (label_copy);
        goto done;
    }
    size_t size = sizeof out->secret;
    if (EVP_PKEY_encrypt (ctx, out->secret, &size, seed, CREDENTIAL_DIGEST_SIZE) <= 0)
        goto done;
    out->size = (UINT16) size;
    rc = TPMVERIFY_OK;
done:
    EVP_PKEY_CTX_free (ctx);
    EVP_PKEY_free (pkey);
    return rc;
}

//  --------------------------------------------------------------------------
//  ECC EK: ephemeral P-256 key, ECDH, seed from KDFe; the secret carries
//  the ephemeral public point

static int
s_seed_ecc (const TPMT_PUBLIC *ek, byte *seed, TPM2B_ENCRYPTED_SECRET *out)
{
    int rc = TPMVERIFY_BAD_PUBLIC;
    byte z [CREDENTIAL_ECC_SIZE];
    EVP_PKEY *peer = tpmverify_pkey (ek);
    EVP_PKEY *ephemeral = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    BIGNUM *x = NULL, *y = NULL;
    if (!peer)
        goto done;
    rc = TPMVERIFY_CRYPTO;
    ephemeral = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    ctx = ephemeral? EVP_PKEY_CTX_new_from_pkey (NULL, ephemeral, NULL): NULL;
    size_t z_size = sizeof z;
    if (!ctx
    ||  EVP_PKEY_derive_init (ctx) <= 0
    ||  EVP_PKEY_derive_set_peer (ctx, peer) <= 0
    ||  EVP_PKEY_derive (ctx, z, &z_size) <= 0
    ||  z_size != sizeof z)
        goto done;
    if (!EVP_PKEY_get_bn_param (ephemeral, OSSL_PKEY_PARAM_EC_PUB_X, &x)
    ||  !EVP_PKEY_get_bn_param (ephemeral, OSSL_PKEY_PARAM_EC_PUB_Y, &y))
        goto done;
    TPMS_ECC_POINT point;
    memset (&point, 0, sizeof point);
    point.x.size = point.y.size = CREDENTIAL_ECC_SIZE;
    if (BN_bn2binpad (x, point.x.buffer, CREDENTIAL_ECC_SIZE) != CREDENTIAL_ECC_SIZE
    ||  BN_bn2binpad (y, point.y.buffer, CREDENTIAL_ECC_SIZE) != CREDENTIAL_ECC_SIZE)
        goto done;
    if (s_kdfe (z, sizeof z, "IDENTITY",
                point.x.buffer, CREDENTIAL_ECC_SIZE,
                ek->unique.ecc.x.buffer, ek->unique.ecc.x.size, seed))
        goto done;
    size_t offset = 0;
    if (Tss2_MU_TPMS_ECC_POINT_Marshal (&point, out->secret, sizeof out->secret, &offset)
        != TSS2_RC_SUCCESS)
        goto done;
    out->size = (UINT16) offset;
    rc = TPMVERIFY_OK;
done:
    OPENSSL_cleanse (z, sizeof z);
    BN_free (x);
    BN_free (y);
    EVP_PKEY_CTX_free (ctx);
    EVP_PKEY_free (ephemeral);
    EVP_PKEY_free (peer);
    return rc;
}

//  --------------------------------------------------------------------------
//  AES-128-CFB with a zero IV, as TPM2 parameter and credential encryption

static int
s_aes_cfb (const byte *key, const byte *in, size_t size, byte *out)
{
    byte iv [16] = { 0 };
    int out_size = 0, final_size = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
    int ok = ctx
        && EVP_EncryptInit_ex (ctx, EVP_aes_128_cfb128 (), NULL, key, iv)
        && EVP_EncryptUpdate (ctx, out, &out_size, in, (int) size)
        && EVP_EncryptFinal_ex (ctx, out + out_size, &final_size);
    EVP_CIPHER_CTX_free (ctx);
    return ok && (size_t) (out_size + final_size) == size? 0: -1;
}

//  --------------------------------------------------------------------------
//  MakeCredential in software

int
credential_make (const byte *ek_public, size_t ek_public_size,
                 const byte *name, size_t name_size,
                 const byte *secret, size_t secret_size,
                 zchunk_t **credential_p, zchunk_t **encrypted_secret_p)
{
    assert (credential_p && encrypted_secret_p);
    *credential_p = NULL;
    *encrypted_secret_p = NULL;
    if (!name || name_size < 2 || name_size > sizeof (((TPM2B_NAME *) 0)->name)
    ||  !secret || secret_size == 0 || secret_size > CREDENTIAL_DIGEST_SIZE)
        return TPMVERIFY_BAD_ARGUMENT;

    TPM2B_PUBLIC ek;
    if (tpmverify_parse_public (ek_public, ek_public_size, &ek))
        return TPMVERIFY_BAD_PUBLIC;
    const TPMT_PUBLIC *area = &ek.publicArea;
    const TPMT_SYM_DEF_OBJECT *symmetric = area->type == TPM2_ALG_RSA
        ? &area->parameters.rsaDetail.symmetric
        : &area->parameters.eccDetail.symmetric;
    //  The seed must be decryptable by a storage key (restricted decrypt)
    TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    if ((area->type != TPM2_ALG_RSA && area->type != TPM2_ALG_ECC)
    ||  area->nameAlg != TPM2_ALG_SHA256
    ||  (area->objectAttributes & need) != need
    ||  (area->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)
    ||  symmetric->algorithm != TPM2_ALG_AES
    ||  symmetric->keyBits.aes != CREDENTIAL_AES_KEY_BITS
    ||  symmetric->mode.aes != TPM2_ALG_CFB)
        return TPMVERIFY_BAD_PUBLIC;

    byte seed [CREDENTIAL_DIGEST_SIZE];
    byte sym_key [CREDENTIAL_AES_KEY_BITS / 8];
    byte hmac_key [CREDENTIAL_DIGEST_SIZE];
    byte plain [2 + CREDENTIAL_DIGEST_SIZE];
    TPM2B_ENCRYPTED_SECRET encrypted;
    TPM2B_ID_OBJECT blob;
    memset (&encrypted, 0, sizeof encrypted);
    memset (&blob, 0, sizeof blob);

    int rc = area->type == TPM2_ALG_RSA
        ? s_seed_rsa (area, seed, &encrypted)
        : s_seed_ecc (area, seed, &encrypted);
    if (rc)
        goto done;

    rc = TPMVERIFY_CRYPTO;
    //  encIdentity: the whole TPM2B_DIGEST, size field included, encrypted
    size_t plain_size = 2 + secret_size;
    plain [0] = (byte) (secret_size >> 8);
    plain [1] = (byte) secret_size;
    memcpy (plain + 2, secret, secret_size);
    byte *hmac = blob.credential + 2;
    byte *enc_identity = blob.credential + 2 + CREDENTIAL_DIGEST_SIZE;
    if (credential_kdfa (seed, sizeof seed, "STORAGE", name, name_size, NULL, 0,
                         CREDENTIAL_AES_KEY_BITS, sym_key)
    ||  s_aes_cfb (sym_key, plain, plain_size, enc_identity)
    ||  credential_kdfa (seed, sizeof seed, "INTEGRITY", NULL, 0, NULL, 0,
                         CREDENTIAL_DIGEST_SIZE * 8, hmac_key))
        goto done;

    //  outerHMAC over encIdentity || name, stored as a TPM2B_DIGEST
    EVP_MAC *mac = EVP_MAC_fetch (NULL, "HMAC", NULL);
    EVP_MAC_CTX *mctx = mac? EVP_MAC_CTX_new (mac): NULL;
    OSSL_PARAM params [] = {
        OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end ()
    };
    size_t hmac_size = 0;
    int ok = mctx
        && EVP_MAC_init (mctx, hmac_key, sizeof hmac_key, params)
        && EVP_MAC_update (mctx, enc_identity, plain_size)
        && EVP_MAC_update (mctx, name, name_size)
        && EVP_MAC_final (mctx, hmac, &hmac_size, CREDENTIAL_DIGEST_SIZE)
        && hmac_size == CREDENTIAL_DIGEST_SIZE;
    EVP_MAC_CTX_free (mctx);
    EVP_MAC_free (mac);
    if (!ok)
        goto done;
    blob.credential [0] = 0;
    blob.credential [1] = CREDENTIAL_DIGEST_SIZE;
    blob.size = (UINT16) (2 + CREDENTIAL_DIGEST_SIZE + plain_size);

    byte buffer [sizeof (TPM2B_ENCRYPTED_SECRET) + sizeof (TPM2B_ID_OBJECT)];
    size_t offset = 0;
    if (Tss2_MU_TPM2B_ID_OBJECT_Marshal (&blob, buffer, sizeof buffer, &offset) != TSS2_RC_SUCCESS)
        goto done;
    *credential_p = zchunk_new (buffer, offset);
    offset = 0;
    if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal (&encrypted, buffer, sizeof buffer, &offset)
        != TSS2_RC_SUCCESS) {
        zchunk_destroy (credential_p);
        goto done;
    }
    *encrypted_secret_p = zchunk_new (buffer, offset);
    rc = TPMVERIFY_OK;
done:
    OPENSSL_cleanse (seed, sizeof seed);
    OPENSSL_cleanse (sym_key, sizeof sym_key);
    OPENSSL_cleanse (hmac_key, sizeof hmac_key);
    OPENSSL_cleanse (plain, sizeof plain);
    OPENSSL_cleanse (&blob, sizeof blob);
    return rc;
}

//  --------------------------------------------------------------------------
//  Check an EK certificate against a CA bundle and the EK public

//  "CN=..., not after 2024-01-01 00:00:00 UTC" style text of a time
static void
s_asn1_time (const ASN1_TIME *when, char *out, size_t out_size)
{
    struct tm tm;
    if (when && ASN1_TIME_to_tm (when, &tm))
        strftime (out, out_size, "%Y-%m-%d %H:%M:%S UTC", &tm);
    else
        snprintf (out, out_size, "?");
}

//  Who a certificate is, for a reason: its subject's CN, or the whole name
static void
s_subject (X509 *x509, char *out, size_t out_size)
{
    X509_NAME *name = X509_get_subject_name (x509);
    int index = name? X509_NAME_get_index_by_NID (name, NID_commonName, -1): -1;
    ASN1_STRING *cn = index >= 0? X509_NAME_ENTRY_get_data (X509_NAME_get_entry (name, index))
                                : NULL;
    if (cn && ASN1_STRING_length (cn) > 0)
        snprintf (out, out_size, "\"%.*s\"", ASN1_STRING_length (cn) > 64? 64
                  : ASN1_STRING_length (cn), (const char *) ASN1_STRING_get0_data (cn));
    else
    if (name)
        X509_NAME_oneline (name, out, (int) out_size);
    else
        snprintf (out, out_size, "?");
}

//  The chain's verdict as a result, with the reason in detail: which
//  certificate (the EK's, or an issuer's) and what is wrong with it
static int
s_chain_failure (X509_STORE_CTX *ctx, X509 *leaf, char *detail, size_t detail_size)
{
    int error = X509_STORE_CTX_get_error (ctx);
    int depth = X509_STORE_CTX_get_error_depth (ctx);
    X509 *which = X509_STORE_CTX_get_current_cert (ctx);
    if (!which)
        which = leaf;
    char who [160], issuer [160], when [40];
    s_subject (which, who, sizeof who);
    X509_NAME_oneline (X509_get_issuer_name (which), issuer, sizeof issuer);
    const char *cert = depth == 0? "EK certificate": "issuer certificate";
    switch (error) {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
            snprintf (detail, detail_size, "%s: %s (issuer %s)",
                      tpmverify_strerror (TPMVERIFY_EK_CERT_UNKNOWN_ISSUER), who, issuer);
            return TPMVERIFY_EK_CERT_UNKNOWN_ISSUER;
        case X509_V_ERR_CERT_HAS_EXPIRED:
            s_asn1_time (X509_get0_notAfter (which), when, sizeof when);
            snprintf (detail, detail_size, "%s: %s %s not valid after %s",
                      tpmverify_strerror (TPMVERIFY_EK_CERT_EXPIRED), cert, who, when);
            return TPMVERIFY_EK_CERT_EXPIRED;
        case X509_V_ERR_CERT_NOT_YET_VALID:
            s_asn1_time (X509_get0_notBefore (which), when, sizeof when);
            snprintf (detail, detail_size, "%s: %s %s not valid before %s",
                      tpmverify_strerror (TPMVERIFY_EK_CERT_NOT_YET_VALID), cert, who, when);
            return TPMVERIFY_EK_CERT_NOT_YET_VALID;
        case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
            snprintf (detail, detail_size, "%s: %s %s (issuer %s)",
                      tpmverify_strerror (TPMVERIFY_EK_CERT_BAD_SIGNATURE), cert, who, issuer);
            return TPMVERIFY_EK_CERT_BAD_SIGNATURE;
        default:
            snprintf (detail, detail_size, "%s: %s %s: %s",
                      tpmverify_strerror (TPMVERIFY_EK_CERT_CHAIN), cert, who,
                      X509_verify_cert_error_string (error));
            return TPMVERIFY_EK_CERT_CHAIN;
    }
}

//  An EK certificate's usage: keyEncipherment for an RSA EK, keyAgreement
//  for an ECC EK (TCG EK Credential Profile), when the extension is there;
//  an extended key usage, when there, must name tcg-kp-EKCertificate
//  (2.23.133.8.1) or any usage
static bool
s_usage_ok (X509 *x509, int key_type, char *detail, size_t detail_size)
{
    uint32_t flags = X509_get_extension_flags (x509);
    uint32_t need = key_type == TPM2_ALG_RSA? KU_KEY_ENCIPHERMENT: KU_KEY_AGREEMENT;
    if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage (x509) & need)) {
        snprintf (detail, detail_size, "%s: an %s EK needs %s", tpmverify_strerror (
                  TPMVERIFY_EK_CERT_KEY_USAGE), key_type == TPM2_ALG_RSA? "RSA": "ECC",
                  key_type == TPM2_ALG_RSA? "keyEncipherment": "keyAgreement");
        return false;
    }
    if (!(flags & EXFLAG_XKUSAGE))
        return true;
    EXTENDED_KEY_USAGE *usages = (EXTENDED_KEY_USAGE *)
        X509_get_ext_d2i (x509, NID_ext_key_usage, NULL, NULL);
    ASN1_OBJECT *ek = OBJ_txt2obj ("2.23.133.8.1", 1);
    bool ok = false;
    for (int i = 0; usages && ek && i < sk_ASN1_OBJECT_num (usages); i++) {
        ASN1_OBJECT *usage = sk_ASN1_OBJECT_value (usages, i);
        if (OBJ_cmp (usage, ek) == 0 || OBJ_obj2nid (usage) == NID_anyExtendedKeyUsage)
            ok = true;
    }
    ASN1_OBJECT_free (ek);
    sk_ASN1_OBJECT_pop_free (usages, ASN1_OBJECT_free);
    if (!ok)
        snprintf (detail, detail_size, "%s: its extended key usage does not name "
                  "tcg-kp-EKCertificate (2.23.133.8.1)",
                  tpmverify_strerror (TPMVERIFY_EK_CERT_KEY_USAGE));
    return ok;
}

int
credential_check_ek_cert (const byte *cert, size_t cert_size,
                          const char *ca_pem, size_t ca_pem_size,
                          const byte *ek_public, size_t ek_public_size, int64_t now,
                          char *detail, size_t detail_size)
{
    char ignored [8];
    if (!detail) {
        detail = ignored;
        detail_size = sizeof ignored;
    }
    snprintf (detail, detail_size, "%s", tpmverify_strerror (TPMVERIFY_EK_CERT_MALFORMED));
    TPM2B_PUBLIC ek;
    if (tpmverify_parse_public (ek_public, ek_public_size, &ek)) {
        snprintf (detail, detail_size, "%s", tpmverify_strerror (TPMVERIFY_BAD_PUBLIC));
        return TPMVERIFY_BAD_PUBLIC;
    }
    if (!cert || cert_size == 0 || cert_size > 16384 || !ca_pem || ca_pem_size == 0
    ||  ca_pem_size > INT_MAX)
        return TPMVERIFY_EK_CERT_MALFORMED;

    int rc = TPMVERIFY_EK_CERT_MALFORMED;
    X509 *x509 = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    EVP_PKEY *expected = NULL;
    BIO *bio = NULL;
    const byte *cursor = cert;
    x509 = d2i_X509 (NULL, &cursor, (long) cert_size);
    if (!x509 || cursor != cert + cert_size)
        goto done;

    //  Every certificate of the bundle goes into the store; the chain must
    //  end at one of its self-signed roots
    store = X509_STORE_new ();
    bio = BIO_new_mem_buf (ca_pem, (int) ca_pem_size);
    if (!store || !bio)
        goto done;
    int loaded = 0;
    X509 *ca;
    while ((ca = PEM_read_bio_X509 (bio, NULL, NULL, NULL))) {
        int added = X509_STORE_add_cert (store, ca);
        X509_free (ca);
        if (!added)
            goto done;
        loaded++;
    }
    ERR_clear_error ();                 //  the end of the bundle reads as an error
    if (loaded == 0)
        goto done;

    rc = TPMVERIFY_CRYPTO;
    ctx = X509_STORE_CTX_new ();
    if (!ctx || !X509_STORE_CTX_init (ctx, store, x509, NULL))
        goto done;
    X509_VERIFY_PARAM_set_time (X509_STORE_CTX_get0_param (ctx), (time_t) now);
    if (X509_verify_cert (ctx) != 1) {
        rc = s_chain_failure (ctx, x509, detail, detail_size);
        zsys_warning ("credential: %s", detail);
        goto done;
    }
    //  The certified key must be this EK, not merely some TPM's
    rc = TPMVERIFY_EK_CERT_KEY_MISMATCH;
    snprintf (detail, detail_size, "%s", tpmverify_strerror (rc));
    expected = tpmverify_pkey (&ek.publicArea);
    EVP_PKEY *certified = X509_get0_pubkey (x509);
    if (!expected || !certified || EVP_PKEY_eq (expected, certified) != 1)
        goto done;
    //  ... and certified for what an EK does
    rc = TPMVERIFY_EK_CERT_KEY_USAGE;
    if (!s_usage_ok (x509, ek.publicArea.type, detail, detail_size))
        goto done;
    rc = TPMVERIFY_OK;
    snprintf (detail, detail_size, "%s", tpmverify_strerror (rc));
done:
    EVP_PKEY_free (expected);
    X509_STORE_CTX_free (ctx);
    X509_STORE_free (store);
    BIO_free (bio);
    X509_free (x509);
    return rc;
}
