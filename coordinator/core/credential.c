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

#include "coordinator/core/credential.h"

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

int
credential_check_ek_cert (const byte *cert, size_t cert_size,
                          const char *ca_pem, size_t ca_pem_size,
                          const byte *ek_public, size_t ek_public_size, int64_t now)
{
    TPM2B_PUBLIC ek;
    if (tpmverify_parse_public (ek_public, ek_public_size, &ek))
        return TPMVERIFY_BAD_PUBLIC;
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

    rc = TPMVERIFY_EK_CERT_UNTRUSTED;
    ctx = X509_STORE_CTX_new ();
    if (!ctx || !X509_STORE_CTX_init (ctx, store, x509, NULL))
        goto done;
    X509_VERIFY_PARAM_set_time (X509_STORE_CTX_get0_param (ctx), (time_t) now);
    if (X509_verify_cert (ctx) != 1) {
        zsys_warning ("credential: EK certificate: %s",
            X509_verify_cert_error_string (X509_STORE_CTX_get_error (ctx)));
        goto done;
    }
    //  The certified key must be this EK, not merely some TPM's
    rc = TPMVERIFY_EK_CERT_KEY_MISMATCH;
    expected = tpmverify_pkey (&ek.publicArea);
    EVP_PKEY *certified = X509_get0_pubkey (x509);
    if (expected && certified && EVP_PKEY_eq (expected, certified) == 1)
        rc = TPMVERIFY_OK;
done:
    EVP_PKEY_free (expected);
    X509_STORE_CTX_free (ctx);
    X509_STORE_free (store);
    BIO_free (bio);
    X509_free (x509);
    return rc;
}

//  --------------------------------------------------------------------------
//  Self test: every refusal, against real TPMs (swtpm). The device side
//  comes from node/io/tpm; the verifier code under test is this module.

#include "node/io/tpm.h"

//  A marshalled TPM2B_PUBLIC with attributes changed

static zchunk_t *
s_test_with_attributes (zchunk_t *public, TPMA_OBJECT clear, TPMA_OBJECT set)
{
    TPM2B_PUBLIC parsed;
    assert (tpmverify_parse_public (zchunk_data (public), zchunk_size (public), &parsed) == 0);
    parsed.publicArea.objectAttributes &= ~clear;
    parsed.publicArea.objectAttributes |= set;
    byte buffer [sizeof (TPM2B_PUBLIC)];
    size_t offset = 0;
    assert (Tss2_MU_TPM2B_PUBLIC_Marshal (&parsed, buffer, sizeof buffer, &offset) == 0);
    return zchunk_new (buffer, offset);
}

//  Make a credential and activate it; returns true if the secret came back

static bool
s_test_activates (tpm_t *tpm, zchunk_t *ek_public, zchunk_t *name, zchunk_t *ak_blob)
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

void
credential_test (bool verbose)
{
    printf (" * credential: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    //  KDFa: deterministic, counter-mode, and every input matters
    byte key [32] = { 1, 2, 3 }, out1 [48], out2 [48];
    assert (credential_kdfa (key, 32, "STORAGE", key, 4, NULL, 0, 384, out1) == 0);
    assert (credential_kdfa (key, 32, "STORAGE", key, 4, NULL, 0, 384, out2) == 0);
    assert (memcmp (out1, out2, 48) == 0);
    assert (credential_kdfa (key, 32, "INTEGRITY", key, 4, NULL, 0, 384, out2) == 0);
    assert (memcmp (out1, out2, 48) != 0);
    assert (credential_kdfa (key, 32, "STORAGE", key, 4, NULL, 0, 128, out2) == 0);
    assert (memcmp (out1, out2, 16) != 0);     //  the size is hashed in too

    //  Malformed input is refused with a result, never an assertion
    byte junk [64];
    randombytes_buf (junk, sizeof junk);
    zchunk_t *credential = NULL, *encrypted = NULL;
    assert (tpmverify_name (junk, sizeof junk) == NULL);
    assert (tpmverify_name (junk, 1) == NULL);
    assert (tpmverify_check_ak (junk, sizeof junk) == TPMVERIFY_BAD_PUBLIC);
    assert (credential_make (junk, sizeof junk, junk, 34, junk, 32, &credential, &encrypted)
            == TPMVERIFY_BAD_PUBLIC);
    assert (!credential && !encrypted);
    assert (strcmp (tpmverify_strerror (TPMVERIFY_NONCE_MISMATCH),
                    "quote does not carry the verifier's nonce") == 0);

    //  Two TPMs, each with an EK certificate from its own local CA
    tpm_swtpm_t *swtpm_a = tpm_swtpm_new (true);
    tpm_swtpm_t *swtpm_b = tpm_swtpm_new (true);
    assert (swtpm_a && swtpm_b);
    tpm_t *tpm_a = tpm_new (tpm_swtpm_tcti (swtpm_a));
    tpm_t *tpm_b = tpm_new (tpm_swtpm_tcti (swtpm_b));
    assert (tpm_a && tpm_b);

    //  EK certificates: each chains to its own CA only, certifies its own
    //  EK only, and only while valid
    char *bundle_a = tpm_swtpm_ca_bundle (swtpm_a);
    char *bundle_b = tpm_swtpm_ca_bundle (swtpm_b);
    zchunk_t *cert_a = tpm_ek_cert (tpm_a, TPM_KEY_RSA);
    zchunk_t *ek_rsa_a = NULL, *ek_rsa_b = NULL;
    assert (cert_a);
    assert (tpm_ek_public (tpm_a, TPM_KEY_RSA, &ek_rsa_a, NULL) == 0);
    assert (tpm_ek_public (tpm_b, TPM_KEY_RSA, &ek_rsa_b, NULL) == 0);
    int64_t now = 1800000000;           //  2027; the core reads no clock
#define CHECK_CERT(cert, bundle, ek, when) \
    credential_check_ek_cert (zchunk_data (cert), zchunk_size (cert), bundle, strlen (bundle), \
                              zchunk_data (ek), zchunk_size (ek), when)
    assert (CHECK_CERT (cert_a, bundle_a, ek_rsa_a, now) == TPMVERIFY_OK);
    assert (CHECK_CERT (cert_a, bundle_b, ek_rsa_a, now) == TPMVERIFY_EK_CERT_UNTRUSTED);
    assert (CHECK_CERT (cert_a, bundle_a, ek_rsa_b, now) == TPMVERIFY_EK_CERT_KEY_MISMATCH);
    assert (CHECK_CERT (cert_a, bundle_a, ek_rsa_a, 86400) == TPMVERIFY_EK_CERT_UNTRUSTED);
    assert (CHECK_CERT (cert_a, "no PEM here", ek_rsa_a, now) == TPMVERIFY_EK_CERT_MALFORMED);
#undef CHECK_CERT
    assert (credential_check_ek_cert (junk, sizeof junk, bundle_a, strlen (bundle_a),
                zchunk_data (ek_rsa_a), zchunk_size (ek_rsa_a), now)
            == TPMVERIFY_EK_CERT_MALFORMED);
    if (verbose)
        printf ("   EK certificate: trusted CA and own key only\n");
    zchunk_destroy (&cert_a);
    zchunk_destroy (&ek_rsa_a);
    zchunk_destroy (&ek_rsa_b);
    free (bundle_a);
    free (bundle_b);

    tpm_key_type_t types [] = { TPM_KEY_ECC, TPM_KEY_RSA };
    for (int index = 0; index < 2; index++) {
        tpm_key_type_t type = types [index];
        const char *kind = type == TPM_KEY_RSA? "RSA": "ECC";
        zchunk_t *ek_a = NULL, *ek_b = NULL;
        assert (tpm_ek_public (tpm_a, type, &ek_a, NULL) == 0);
        assert (tpm_ek_public (tpm_b, type, &ek_b, NULL) == 0);
        zchunk_t *ak1 = NULL, *ak1_public = NULL, *ak1_name = NULL;
        zchunk_t *ak2 = NULL, *ak2_public = NULL, *ak2_name = NULL;
        zchunk_t *akb = NULL, *akb_public = NULL, *akb_name = NULL;
        assert (tpm_ak_create (tpm_a, type, type, &ak1, &ak1_public, &ak1_name) == 0);
        assert (tpm_ak_create (tpm_a, type, type, &ak2, &ak2_public, &ak2_name) == 0);
        assert (tpm_ak_create (tpm_b, type, type, &akb, &akb_public, &akb_name) == 0);

        //  The right EK and the right AK name: the secret comes back
        assert (s_test_activates (tpm_a, ek_a, ak1_name, ak1));
        //  Bound to another AK's name: the TPM refuses to release it
        assert (!s_test_activates (tpm_a, ek_a, ak2_name, ak1));
        //  Encrypted to another TPM's EK: refused
        assert (!s_test_activates (tpm_a, ek_b, ak1_name, ak1));
        //  An AK in TPM B with a credential for TPM A's EK: refused
        assert (!s_test_activates (tpm_b, ek_a, akb_name, akb));
        //  A secret longer than the name digest cannot be bound
        byte long_secret [33] = { 0 };
        assert (credential_make (zchunk_data (ek_a), zchunk_size (ek_a),
                    zchunk_data (ak1_name), zchunk_size (ak1_name),
                    long_secret, sizeof long_secret, &credential, &encrypted)
                == TPMVERIFY_BAD_ARGUMENT);
        //  An AK's public is no EK: nothing to encrypt the seed to
        assert (credential_make (zchunk_data (ak1_public), zchunk_size (ak1_public),
                    zchunk_data (ak1_name), zchunk_size (ak1_name),
                    long_secret, 16, &credential, &encrypted)
                == TPMVERIFY_BAD_PUBLIC);

        //  AK checks: the class of "AK not resident with the EK"
        assert (tpmverify_check_ak (zchunk_data (ak1_public), zchunk_size (ak1_public))
                == TPMVERIFY_OK);
        assert (tpmverify_check_ak (zchunk_data (ek_a), zchunk_size (ek_a))
                == TPMVERIFY_AK_NOT_RESTRICTED);
        zchunk_t *changed = s_test_with_attributes (ak1_public, TPMA_OBJECT_FIXEDTPM, 0);
        assert (tpmverify_check_ak (zchunk_data (changed), zchunk_size (changed))
                == TPMVERIFY_AK_NOT_FIXED);
        zchunk_destroy (&changed);
        changed = s_test_with_attributes (ak1_public, TPMA_OBJECT_SENSITIVEDATAORIGIN, 0);
        assert (tpmverify_check_ak (zchunk_data (changed), zchunk_size (changed))
                == TPMVERIFY_AK_NOT_TPM_MADE);
        zchunk_destroy (&changed);
        changed = s_test_with_attributes (ak1_public, TPMA_OBJECT_RESTRICTED, 0);
        assert (tpmverify_check_ak (zchunk_data (changed), zchunk_size (changed))
                == TPMVERIFY_AK_NOT_RESTRICTED);
        zchunk_destroy (&changed);
        changed = s_test_with_attributes (ak1_public, 0, TPMA_OBJECT_DECRYPT);
        assert (tpmverify_check_ak (zchunk_data (changed), zchunk_size (changed))
                == TPMVERIFY_AK_NOT_RESTRICTED);
        zchunk_destroy (&changed);

        //  Quotes: PCRs 0..7 and 10 over the verifier's nonce
        uint32_t mask = 0xff | (1u << 10);
        byte nonce [32], other_nonce [32], values [9 * 32];
        randombytes_buf (nonce, sizeof nonce);
        randombytes_buf (other_nonce, sizeof other_nonce);
        zchunk_t *attest = NULL, *signature = NULL;
        assert (tpm_quote (tpm_a, ak1, mask, nonce, sizeof nonce, &attest, &signature) == 0);
        for (int pcr = 0; pcr < 8; pcr++)
            assert (tpm_pcr_read (tpm_a, pcr, values + 32 * pcr) == 0);
        assert (tpm_pcr_read (tpm_a, 10, values + 32 * 8) == 0);
#define VERIFY(public, quote, sig, n, m, v, v_size) \
        tpmverify_quote (zchunk_data (public), zchunk_size (public), \
            zchunk_data (quote), zchunk_size (quote), zchunk_data (sig), zchunk_size (sig), \
            n, sizeof n, m, v, v_size)
        assert (VERIFY (ak1_public, attest, signature, nonce, mask, values, sizeof values)
                == TPMVERIFY_OK);
        //  A quote over another nonce (a stale or replayed quote)
        assert (VERIFY (ak1_public, attest, signature, other_nonce, mask, values, sizeof values)
                == TPMVERIFY_NONCE_MISMATCH);
        //  A tampered PCR value
        values [32 * 7] ^= 1;
        assert (VERIFY (ak1_public, attest, signature, nonce, mask, values, sizeof values)
                == TPMVERIFY_PCR_MISMATCH);
        values [32 * 7] ^= 1;
        //  Another PCR selection than the verifier asked for
        assert (VERIFY (ak1_public, attest, signature, nonce, mask & ~1u, values + 32, 8 * 32)
                == TPMVERIFY_PCR_SELECTION);
        //  Verified with another AK of the same TPM, or of another TPM
        assert (VERIFY (ak2_public, attest, signature, nonce, mask, values, sizeof values)
                == TPMVERIFY_BAD_SIGNATURE);
        assert (VERIFY (akb_public, attest, signature, nonce, mask, values, sizeof values)
                == TPMVERIFY_BAD_SIGNATURE);
        //  One flipped bit in the attestation
        zchunk_t *tampered = zchunk_dup (attest);
        zchunk_data (tampered) [zchunk_size (tampered) - 1] ^= 1;
        assert (VERIFY (ak1_public, tampered, signature, nonce, mask, values, sizeof values)
                == TPMVERIFY_BAD_SIGNATURE);
        zchunk_destroy (&tampered);
        //  Truncated attestation, truncated signature
        tampered = zchunk_new (zchunk_data (attest), zchunk_size (attest) - 3);
        assert (VERIFY (ak1_public, tampered, signature, nonce, mask, values, sizeof values)
                == TPMVERIFY_BAD_ATTEST);
        zchunk_destroy (&tampered);
        tampered = zchunk_new (zchunk_data (signature), zchunk_size (signature) - 3);
        assert (VERIFY (ak1_public, attest, tampered, nonce, mask, values, sizeof values)
                == TPMVERIFY_BAD_SIGNATURE_FORMAT);
        zchunk_destroy (&tampered);
        //  A key that is not an AK is refused before any signature check
        assert (VERIFY (ek_a, attest, signature, nonce, mask, values, sizeof values)
                == TPMVERIFY_AK_NOT_RESTRICTED);
        //  An AK public changed in its last byte (ECC: y, now off the
        //  curve, refused as a key; RSA: the modulus, the signature fails)
        tampered = zchunk_dup (ak1_public);
        zchunk_data (tampered) [zchunk_size (tampered) - 1] ^= 1;
        assert (VERIFY (tampered, attest, signature, nonce, mask, values, sizeof values)
                == (type == TPM_KEY_ECC? TPMVERIFY_BAD_PUBLIC: TPMVERIFY_BAD_SIGNATURE));
        zchunk_destroy (&tampered);

        uint64_t clock_1 = 0, clock_2 = 0;
        uint32_t resets_1 = 0, resets_2 = 0, restarts_1 = 0, restarts_2 = 0;
        assert (tpmverify_quote_clock (zchunk_data (attest), zchunk_size (attest),
                                        &clock_1, &resets_1, &restarts_1) == TPMVERIFY_OK);
        zchunk_destroy (&attest);
        zchunk_destroy (&signature);

        //  A quote signed by another AK, verified against the enrolled one
        assert (tpm_quote (tpm_a, ak2, mask, nonce, sizeof nonce, &attest, &signature) == 0);
        //  (later quotes: same reset count, clock not going back)
        assert (tpmverify_quote_clock (zchunk_data (attest), zchunk_size (attest),
                                        &clock_2, &resets_2, &restarts_2) == TPMVERIFY_OK);
        assert (resets_2 == resets_1 && restarts_2 == restarts_1 && clock_2 >= clock_1);
        assert (tpmverify_quote_clock (junk, sizeof junk, &clock_2, &resets_2, &restarts_2)
                == TPMVERIFY_BAD_ATTEST);
        assert (VERIFY (ak1_public, attest, signature, nonce, mask, values, sizeof values)
                == TPMVERIFY_BAD_SIGNATURE);
        assert (VERIFY (ak2_public, attest, signature, nonce, mask, values, sizeof values)
                == TPMVERIFY_OK);
        zchunk_destroy (&attest);
        zchunk_destroy (&signature);

        //  After an unexpected extend, the old values no longer match
        byte event [32];
        randombytes_buf (event, sizeof event);
        assert (tpm_pcr_extend (tpm_a, 10, event) == 0);
        assert (tpm_quote (tpm_a, ak1, mask, nonce, sizeof nonce, &attest, &signature) == 0);
        assert (VERIFY (ak1_public, attest, signature, nonce, mask, values, sizeof values)
                == TPMVERIFY_PCR_MISMATCH);
        assert (tpm_pcr_read (tpm_a, 10, values + 32 * 8) == 0);
        assert (VERIFY (ak1_public, attest, signature, nonce, mask, values, sizeof values)
                == TPMVERIFY_OK);
#undef VERIFY
        zchunk_destroy (&attest);
        zchunk_destroy (&signature);
        if (verbose)
            printf ("   %s: activation and quote refusals as expected\n", kind);

        zchunk_destroy (&ek_a);
        zchunk_destroy (&ek_b);
        zchunk_destroy (&ak1);
        zchunk_destroy (&ak1_public);
        zchunk_destroy (&ak1_name);
        zchunk_destroy (&ak2);
        zchunk_destroy (&ak2_public);
        zchunk_destroy (&ak2_name);
        zchunk_destroy (&akb);
        zchunk_destroy (&akb_public);
        zchunk_destroy (&akb_name);
    }
    tpm_destroy (&tpm_a);
    tpm_destroy (&tpm_b);
    tpm_swtpm_destroy (&swtpm_a);
    tpm_swtpm_destroy (&swtpm_b);
    //  @end
    printf ("OK\n");
}
