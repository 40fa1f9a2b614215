/*  credential_test - selftest of the verifier's side of TPM identity
    (credential.c): every refusal, against real TPMs (swtpm). The device
    side comes from node/io/tpm; the verifier code under test is
    credential.c. EK certificates are those swtpm_setup's local CA
    issues, and certificates made here for each way one can be wrong.  */

#include "proto/credential.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <tss2/tss2_mu.h>

#include "node/io/tpm.h"
#include "tests/tpm/tpm_tests.h"

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

//  --------------------------------------------------------------------------
//  Crafted EK certificates: a CA, and EK certificates it issues with the
//  properties each refusal needs

typedef struct {
    EVP_PKEY *key;
    X509 *cert;
} s_ca_t;

static void
s_set_name (X509_NAME *name, const char *cn)
{
    assert (X509_NAME_add_entry_by_txt (name, "O", MBSTRING_ASC,
                                        (const byte *) "Weft test vendor", -1, -1, 0));
    assert (X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC, (const byte *) cn,
                                        -1, -1, 0));
}

static void
s_add_ext (X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx (&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid (NULL, &ctx, nid, value);
    assert (ext);
    assert (X509_add_ext (cert, ext, -1));
    X509_EXTENSION_free (ext);
}

//  A certificate for key, named cn, issued by issuer (NULL: self-signed)
//  and signed with sign_key, valid from not_before to not_after (unix s)
static X509 *
s_make_cert (EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *sign_key,
             int64_t not_before, int64_t not_after, bool ca, const char *key_usage,
             const char *extended_usage)
{
    X509 *cert = X509_new ();
    assert (cert);
    assert (X509_set_version (cert, 2));
    ASN1_INTEGER_set (X509_get_serialNumber (cert), (long) randombytes_uniform (1u << 30));
    assert (ASN1_TIME_set (X509_getm_notBefore (cert), (time_t) not_before));
    assert (ASN1_TIME_set (X509_getm_notAfter (cert), (time_t) not_after));
    assert (X509_set_pubkey (cert, key));
    s_set_name (X509_get_subject_name (cert), cn);
    assert (X509_set_issuer_name (cert, issuer? X509_get_subject_name (issuer)
                                              : X509_get_subject_name (cert)));
    s_add_ext (cert, issuer? issuer: cert, NID_basic_constraints,
               ca? "critical,CA:TRUE": "critical,CA:FALSE");
    if (key_usage)
        s_add_ext (cert, issuer? issuer: cert, NID_key_usage, key_usage);
    if (extended_usage)
        s_add_ext (cert, issuer? issuer: cert, NID_ext_key_usage, extended_usage);
    assert (X509_sign (cert, sign_key, EVP_sha256 ()) > 0);
    return cert;
}

static void
s_ca_new (s_ca_t *ca, const char *cn, int64_t not_before, int64_t not_after)
{
    ca->key = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    assert (ca->key);
    ca->cert = s_make_cert (ca->key, cn, NULL, ca->key, not_before, not_after, true,
                            "critical,keyCertSign,cRLSign", NULL);
}

static void
s_ca_destroy (s_ca_t *ca)
{
    EVP_PKEY_free (ca->key);
    X509_free (ca->cert);
}

//  PEM bundle of a CA certificate (caller frees)
static char *
s_pem (X509 *cert)
{
    BIO *bio = BIO_new (BIO_s_mem ());
    assert (bio && PEM_write_bio_X509 (bio, cert));
    char *data;
    long size = BIO_get_mem_data (bio, &data);
    char *pem = (char *) zmalloc ((size_t) size + 1);
    memcpy (pem, data, (size_t) size);
    BIO_free (bio);
    return pem;
}

//  DER of a certificate as a chunk
static zchunk_t *
s_der (X509 *cert)
{
    byte *der = NULL;
    int size = i2d_X509 (cert, &der);
    assert (size > 0);
    zchunk_t *chunk = zchunk_new (der, (size_t) size);
    OPENSSL_free (der);
    return chunk;
}

//  The EK's key as libcrypto's
static EVP_PKEY *
s_ek_pkey (zchunk_t *ek_public)
{
    TPM2B_PUBLIC parsed;
    assert (tpmverify_parse_public (zchunk_data (ek_public), zchunk_size (ek_public),
                                    &parsed) == 0);
    EVP_PKEY *key = tpmverify_pkey (&parsed.publicArea);
    assert (key);
    return key;
}

static int
s_check (X509 *cert, const char *bundle, zchunk_t *ek, int64_t now, char *detail)
{
    zchunk_t *der = s_der (cert);
    int rc = credential_check_ek_cert (zchunk_data (der), zchunk_size (der), bundle,
                                       strlen (bundle), zchunk_data (ek), zchunk_size (ek),
                                       now, detail, 256);
    zchunk_destroy (&der);
    return rc;
}

static void
s_test_crafted_certs (tpm_t *tpm_a, tpm_t *tpm_b, int64_t now, bool verbose)
{
    int64_t day = 86400, year = 365 * day;
    s_ca_t vendor, stranger, expired_ca;
    s_ca_new (&vendor, "Vendor EK Root", now - year, now + 20 * year);
    s_ca_new (&stranger, "Someone Else's Root", now - year, now + 20 * year);
    s_ca_new (&expired_ca, "Vendor EK Root 2009", now - 20 * year, now - day);
    char *bundle = s_pem (vendor.cert);
    char *expired_bundle = s_pem (expired_ca.cert);
    char detail [256];
    tpm_key_type_t types [] = { TPM_KEY_RSA, TPM_KEY_ECC };
    for (int index = 0; index < 2; index++) {
        tpm_key_type_t type = types [index];
        bool rsa = type == TPM_KEY_RSA;
        const char *usage = rsa? "critical,keyEncipherment": "critical,keyAgreement";
        const char *eku = "2.23.133.8.1";
        zchunk_t *ek = NULL, *other_ek = NULL;
        assert (tpm_ek_public (tpm_a, type, &ek, NULL) == 0);
        assert (tpm_ek_public (tpm_b, type, &other_ek, NULL) == 0);
        EVP_PKEY *key = s_ek_pkey (ek);
        //  A good one, as a vendor issues it
        X509 *cert = s_make_cert (key, "EK", vendor.cert, vendor.key, now - day,
                                  now + 10 * year, false, usage, eku);
        assert (s_check (cert, bundle, ek, now, detail) == TPMVERIFY_OK);
        //  Wrong key: the certificate is for another TPM's EK
        assert (s_check (cert, bundle, other_ek, now, detail)
                == TPMVERIFY_EK_CERT_KEY_MISMATCH);
        //  Unknown issuer: not in the bundle
        char *stranger_bundle = s_pem (stranger.cert);
        assert (s_check (cert, stranger_bundle, ek, now, detail)
                == TPMVERIFY_EK_CERT_UNKNOWN_ISSUER);
        free (stranger_bundle);
        X509 *foreign = s_make_cert (key, "EK", stranger.cert, stranger.key, now - day,
                                     now + 10 * year, false, usage, eku);
        assert (s_check (foreign, bundle, ek, now, detail) == TPMVERIFY_EK_CERT_UNKNOWN_ISSUER);
        assert (strstr (detail, "Someone Else's Root"));
        X509_free (foreign);
        //  Expired, or not valid yet: the EK's certificate or its issuer's
        assert (s_check (cert, bundle, ek, now + 11 * year, detail)
                == TPMVERIFY_EK_CERT_EXPIRED);
        assert (strstr (detail, "EK certificate \"EK\" not valid after 20"));
        assert (s_check (cert, bundle, ek, now - 2 * day, detail)
                == TPMVERIFY_EK_CERT_NOT_YET_VALID);
        X509 *late = s_make_cert (key, "EK", expired_ca.cert, expired_ca.key, now - 2 * year,
                                  now + year, false, usage, eku);
        assert (s_check (late, expired_bundle, ek, now, detail) == TPMVERIFY_EK_CERT_EXPIRED);
        assert (strstr (detail, "issuer certificate \"Vendor EK Root 2009\""));
        X509_free (late);
        //  Bad signature: one bit of it flipped; or signed by another key
        //  in the vendor's name
        zchunk_t *der = s_der (cert);
        zchunk_data (der) [zchunk_size (der) - 1] ^= 1;
        assert (credential_check_ek_cert (zchunk_data (der), zchunk_size (der), bundle,
                    strlen (bundle), zchunk_data (ek), zchunk_size (ek), now, detail,
                    sizeof detail) == TPMVERIFY_EK_CERT_BAD_SIGNATURE);
        zchunk_destroy (&der);
        X509 *forged = s_make_cert (key, "EK", vendor.cert, stranger.key, now - day,
                                    now + 10 * year, false, usage, eku);
        assert (s_check (forged, bundle, ek, now, detail) == TPMVERIFY_EK_CERT_BAD_SIGNATURE);
        X509_free (forged);
        //  Wrong key usage: the other algorithm's, signing only, or an
        //  extended usage that is not an EK's
        X509 *misused = s_make_cert (key, "EK", vendor.cert, vendor.key, now - day,
                                     now + 10 * year, false,
                                     rsa? "critical,keyAgreement": "critical,keyEncipherment",
                                     eku);
        assert (s_check (misused, bundle, ek, now, detail) == TPMVERIFY_EK_CERT_KEY_USAGE);
        assert (strstr (detail, rsa? "an RSA EK needs keyEncipherment"
                                   : "an ECC EK needs keyAgreement"));
        X509_free (misused);
        misused = s_make_cert (key, "EK", vendor.cert, vendor.key, now - day, now + 10 * year,
                               false, "critical,digitalSignature", eku);
        assert (s_check (misused, bundle, ek, now, detail) == TPMVERIFY_EK_CERT_KEY_USAGE);
        X509_free (misused);
        misused = s_make_cert (key, "EK", vendor.cert, vendor.key, now - day, now + 10 * year,
                               false, usage, "serverAuth");
        assert (s_check (misused, bundle, ek, now, detail) == TPMVERIFY_EK_CERT_KEY_USAGE);
        assert (strstr (detail, "2.23.133.8.1"));
        X509_free (misused);
        //  Without the optional extensions it is still an EK certificate
        X509 *plain = s_make_cert (key, "EK", vendor.cert, vendor.key, now - day,
                                   now + 10 * year, false, NULL, NULL);
        assert (s_check (plain, bundle, ek, now, detail) == TPMVERIFY_OK);
        X509_free (plain);
        //  Another chain error: issued by a certificate that is no CA
        s_ca_t intermediate;
        intermediate.key = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
        intermediate.cert = s_make_cert (intermediate.key, "Not a CA", vendor.cert, vendor.key,
                                         now - day, now + 10 * year, false, NULL, NULL);
        X509 *chained = s_make_cert (key, "EK", intermediate.cert, intermediate.key,
                                     now - day, now + 10 * year, false, usage, eku);
        char *intermediate_pem = s_pem (intermediate.cert);
        char *chain_bundle = zsys_sprintf ("%s%s", bundle, intermediate_pem);
        free (intermediate_pem);
        assert (s_check (chained, chain_bundle, ek, now, detail) == TPMVERIFY_EK_CERT_CHAIN);
        assert (strstr (detail, "invalid CA certificate"));
        free (chain_bundle);
        X509_free (chained);
        s_ca_destroy (&intermediate);
        if (verbose)
            printf ("   %s EK certificate: unknown issuer, expired, not yet valid, bad "
                    "signature, key usage, wrong key each refused as such\n",
                    rsa? "RSA": "ECC P-256");
        X509_free (cert);
        EVP_PKEY_free (key);
        zchunk_destroy (&ek);
        zchunk_destroy (&other_ek);
    }
    free (bundle);
    free (expired_bundle);
    s_ca_destroy (&vendor);
    s_ca_destroy (&stranger);
    s_ca_destroy (&expired_ca);
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
                              zchunk_data (ek), zchunk_size (ek), when, detail, sizeof detail)
    char detail [256];
    assert (CHECK_CERT (cert_a, bundle_a, ek_rsa_a, now) == TPMVERIFY_OK);
    assert (CHECK_CERT (cert_a, bundle_b, ek_rsa_a, now) == TPMVERIFY_EK_CERT_UNKNOWN_ISSUER);
    assert (CHECK_CERT (cert_a, bundle_a, ek_rsa_b, now) == TPMVERIFY_EK_CERT_KEY_MISMATCH);
    assert (CHECK_CERT (cert_a, bundle_a, ek_rsa_a, 86400) == TPMVERIFY_EK_CERT_NOT_YET_VALID);
    assert (CHECK_CERT (cert_a, "no PEM here", ek_rsa_a, now) == TPMVERIFY_EK_CERT_MALFORMED);
#undef CHECK_CERT
    assert (credential_check_ek_cert (junk, sizeof junk, bundle_a, strlen (bundle_a),
                zchunk_data (ek_rsa_a), zchunk_size (ek_rsa_a), now, NULL, 0)
            == TPMVERIFY_EK_CERT_MALFORMED);
    //  Certificates made here, for each way one can be wrong, for RSA
    //  and ECC P-256 EKs
    s_test_crafted_certs (tpm_a, tpm_b, now, verbose);
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
        assert (tpm_swtpm_activates (tpm_a, ek_a, ak1_name, ak1));
        //  Bound to another AK's name: the TPM refuses to release it
        assert (!tpm_swtpm_activates (tpm_a, ek_a, ak2_name, ak1));
        //  Encrypted to another TPM's EK: refused
        assert (!tpm_swtpm_activates (tpm_a, ek_b, ak1_name, ak1));
        //  An AK in TPM B with a credential for TPM A's EK: refused
        assert (!tpm_swtpm_activates (tpm_b, ek_a, akb_name, akb));
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
