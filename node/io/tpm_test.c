/*  tpm_test - selftest of the TPM adapter
    The device side against swtpm, checked by the verifier code and by
    tpm2-tools where they are installed.  */

#include "node/io/tpm_internal.h"
#include "proto/credential.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <sys/stat.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  Self test: the device side against swtpm, checked by the verifier code


static bool
s_chunk_eq (zchunk_t *a, zchunk_t *b)
{
    return zchunk_size (a) == zchunk_size (b)
        && memcmp (zchunk_data (a), zchunk_data (b), zchunk_size (a)) == 0;
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
    if (tpm_swtpm_run (version, log, NULL) != 0)
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
    assert (tpm_ak_blob_parse (blob, &ek_type, &public, &private) == 0);
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
    assert (tpm_swtpm_run (checkquote, log, NULL) == 0);
    char *checkquote_bad [] = { "tpm2_checkquote", "-u", path [1], "-m", path [3], "-s", path [4],
        "-g", "sha256", "-q", "00112233", NULL };
    assert (tpm_swtpm_run (checkquote_bad, log, NULL) != 0);
    char *makecredential [] = { "tpm2_makecredential", "-T", "none", "-u", path [0],
        "-n", name_hex, "-s", path [6], "-o", path [7], NULL };
    assert (tpm_swtpm_run (makecredential, log, NULL) == 0);
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
    assert (tpm_swtpm_run (createek, log, NULL) == 0);
    zchunk_t *ek_from_tools = s_test_read (dir, "ek-tools.pub");
    assert (ek_from_tools && s_chunk_eq (ek_from_tools, ek_public));
    zchunk_destroy (&ek_from_tools);
    assert (tpm_swtpm_run (flush_transient, log, NULL) == 0);
    assert (tpm_swtpm_run (start_session, log, NULL) == 0);
    assert (tpm_swtpm_run (policy_secret, log, NULL) == 0);
    assert (tpm_swtpm_run (load, log, NULL) == 0);
    assert (tpm_swtpm_run (flush_session, log, NULL) == 0);
    assert (tpm_swtpm_run (flush_transient, log, NULL) == 0);
    assert (tpm_swtpm_run (start_session, log, NULL) == 0);
    assert (tpm_swtpm_run (policy_secret, log, NULL) == 0);
    assert (tpm_swtpm_run (activate, log, NULL) == 0);
    assert (tpm_swtpm_run (flush_session, log, NULL) == 0);
    assert (tpm_swtpm_run (flush_transient, log, NULL) == 0);
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
           && tpm_swtpm_activates (tpm, ek_public, ak_name, blob)
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
            assert (tpm_swtpm_activates (tpm, ek_public, ak_name, blob));
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
    assert (tpm_swtpm_activates (tpm, ek_public, blob_name, saved_blob));
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
    tpm_ek_flush (tpm);
    tpm_set_fault (tpm, 0);
    assert (s_test_cycle (tpm, ek_public));
    unsigned commands = tpm->calls;
    assert (commands >= 10);
    for (unsigned nth = 1; nth <= commands; nth++) {
        tpm_ek_flush (tpm);
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
        assert (tpm_swtpm_activates (tpm, ek_public, ak_name, blob));
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
