/*  attest_test - selftest of the coordinator's attestation verdicts,
    on quotes made by a real TPM (swtpm)  */

#include "proto/corelib.h"
#include <sodium.h>
#include <openssl/evp.h>
#include "proto/keys.h"
#include "proto/codec.h"
#include "coordinator/core/registry.h"
#include "proto/credential.h"
#include "proto/bootverify.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/attest_runtime.h"
#include "coordinator/core/attest_internal.h"
#include "coordinator/core/attest_state.h"
#include "node/io/tpm.h"
#include "tests/tpm/tpm_tests.h"

static void
s_sha256 (const void *a, size_t a_size, const void *b, size_t b_size, uint8_t out [32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    assert (ctx);
    unsigned int size = 32;
    int ok = EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL)
          && EVP_DigestUpdate (ctx, a, a_size)
          && (b_size == 0 || EVP_DigestUpdate (ctx, b, b_size))
          && EVP_DigestFinal_ex (ctx, out, &size);
    EVP_MD_CTX_free (ctx);
    assert (ok);
}

//  Quote the PCRs of mask with ak over nonce into an evidence message
//  whose buffers are kept in the chunks given
static void
s_test_quote (tpm_t *tpm, zchunk_t *ak, uint32_t mask, const uint8_t *nonce,
              zchunk_t *log, tpmmsg_t *msg, zchunk_t **attest_p, zchunk_t **sig_p,
              uint8_t *pcrs)
{
    assert (tpm_quote (tpm, ak, mask, nonce, ATTEST_NONCE_SIZE, attest_p, sig_p) == 0);
    size_t n = 0;
    for (int pcr = 0; pcr < ATTEST_PCRS; pcr++)
        if (mask & (1u << pcr))
            assert (tpm_pcr_read (tpm, pcr, pcrs + 32 * n++) == 0);
    memset (msg, 0, sizeof *msg);
    msg->type = MSG_ATTEST_EVIDENCE;
    msg->nonce = nonce;
    msg->nonce_size = ATTEST_NONCE_SIZE;
    msg->pcr_mask = mask;
    msg->attest = zchunk_data (*attest_p);
    msg->attest_size = zchunk_size (*attest_p);
    msg->signature = zchunk_data (*sig_p);
    msg->signature_size = zchunk_size (*sig_p);
    msg->pcrs = pcrs;
    msg->pcrs_size = 32 * n;
    msg->event_log = zchunk_data (log);
    msg->event_log_size = zchunk_size (log);
}

//  One challenge-evidence round in two transactions; returns the verdict
static json_t *
s_test_round (store_t *store, json_t *device, const keys_t *ca, tpm_t *tpm, zchunk_t *ak,
              zchunk_t *log, uint64_t now, uint64_t later, uint8_t *nonce_out)
{
    uint8_t nonce [ATTEST_NONCE_SIZE];
    uint32_t mask = 0;
    int64_t ima_from;
    uint8_t ima_pcr10 [32];
    store_txn_t *txn = store_begin (store, true);
    assert (attest_challenge (txn, device, ca->sign_public, 0, now, nonce, &mask,
                              &ima_from, ima_pcr10) == 1);
    assert (store_commit (&txn) == 0);
    if (nonce_out)
        memcpy (nonce_out, nonce, sizeof nonce);
    tpmmsg_t msg;
    zchunk_t *attest = NULL, *sig = NULL;
    uint8_t pcrs [ATTEST_PCRS * 32];
    s_test_quote (tpm, ak, mask, nonce, log, &msg, &attest, &sig, pcrs);
    txn = store_begin (store, true);
    //  Through a cache of the AK, as the coordinator verifies
    akcache_t *aks = akcache_new ();
    json_t *verdict = attest_evidence (txn, device, ca->sign_public, &msg, aks, NULL, later);
    assert (store_commit (&txn) == 0);
    assert (akcache_size (aks) == (json_is_true (json_object_get (verdict, "ok"))? 1u: 0u)
         || !json_is_true (json_object_get (verdict, "ok")));
    akcache_destroy (&aks);
    zchunk_destroy (&attest);
    zchunk_destroy (&sig);
    return verdict;
}

void
attest_test (bool verbose)
{
    printf (" * attest: ");
    //  @selftest
    //  An event log, replayed for the profile below
    zchunk_t *log = NULL;
    uint8_t digest [32];
    eventlog_append (&log, 8, "kernel-6.1", 10, digest);
    eventlog_append (&log, 9, "initrd", 6, NULL);
    eventlog_append (&log, 8, "cmdline ro", 10, NULL);
    uint8_t pcrs [ATTEST_PCRS][32];
    eventlog_event_t events [8];
    char error [256];

    //  A device, its TPM and AK, and a profile from the replayed log
    char path [] = "/tmp/weft-attest-test-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    keys_t ca, rogue;
    keys_generate (&ca);
    keys_generate (&rogue);
    pki_t *pki = pki_new (&ca);
    tpm_swtpm_t *swtpm = tpm_swtpm_new (false);
    assert (swtpm);
    tpm_t *tpm = tpm_new (tpm_swtpm_tcti (swtpm));
    assert (tpm);
    zchunk_t *ak = NULL, *ak_public = NULL, *other_ak = NULL;
    assert (tpm_ak_create (tpm, TPM_KEY_RSA, TPM_KEY_ECC, &ak, &ak_public, NULL) == 0);
    assert (tpm_ak_create (tpm, TPM_KEY_RSA, TPM_KEY_ECC, &other_ak, NULL, NULL) == 0);
    //  The same events, extended into the TPM
    const char *measured [][2] = { { "8", "kernel-6.1" }, { "9", "initrd" },
                                   { "8", "cmdline ro" } };
    for (int i = 0; i < 3; i++) {
        s_sha256 (measured [i][1], strlen (measured [i][1]), NULL, 0, digest);
        assert (tpm_pcr_extend (tpm, atoi (measured [i][0]), digest) == 0);
    }
    assert (eventlog_replay (zchunk_data (log), zchunk_size (log), pcrs, events, 8, NULL,
                                    error, sizeof error) == 3);
    char pcr8 [65], pcr9 [65], ev0 [65], ev2 [65], ak_hex [2 * 1024 + 1];
    keys_hex (pcrs [8], 32, pcr8);
    keys_hex (pcrs [9], 32, pcr9);
    keys_hex (events [0].digest, 32, ev0);
    keys_hex (events [2].digest, 32, ev2);
    keys_hex (zchunk_data (ak_public), zchunk_size (ak_public), ak_hex);
    json_t *device = json_pack ("{s:s, s:s, s:s, s:s, s:s}", "id", "gw-1", "type", "gateway",
                                "tenant", "acme", "assurance", "tpm", "ak_public", ak_hex);
    json_t *doc = json_pack ("{s:{s:s, s:s}, s:{s:[s, s]}, s:i}", "pcrs", "8", pcr8,
                             "9", pcr9, "events", "8", ev0, ev2, "interval_s", 60);
    store_txn_t *txn = store_begin (store, true);
    assert (attest_profile_put (txn, "acme", "gateway", doc, pki, error, sizeof error) == 0);
    //  Another tenant's device of that type is not challenged: the
    //  profile is acme's
    json_t *stranger = json_pack ("{s:s, s:s, s:s, s:s, s:s}", "id", "gw-9", "type", "gateway",
                                  "tenant", "acmex", "assurance", "tpm", "ak_public", ak_hex);
    uint8_t nonce9 [ATTEST_NONCE_SIZE], pcr10_9 [32];
    uint32_t mask9;
    int64_t ima9;
    assert (attest_challenge (txn, stranger, ca.sign_public, 0, 1700000000000ULL, nonce9, &mask9,
                              &ima9, pcr10_9) == 0);
    json_decref (stranger);
    //  IMA state per device
    attest_ima_state_t ima = { 7, { 1, 2, 3 } }, ima_back;
    attest_ima_state_get (txn, "gw-1", &ima_back);
    assert (ima_back.count == 0);
    assert (attest_ima_state_put (txn, "gw-1", &ima) == 0);
    attest_ima_state_get (txn, "gw-1", &ima_back);
    assert (memcmp (&ima, &ima_back, sizeof ima) == 0);
    assert (store_commit (&txn) == 0);
    json_decref (doc);
    txn = store_begin (store, false);
    json_t *profile = attest_profile_get (txn, "acme", "gateway", ca.sign_public);
    assert (profile);
    json_decref (profile);
    assert (!attest_profile_get (txn, "acme", "gateway", rogue.sign_public));  //  Not the CA's
    store_abort (&txn);

    //  Passes
    uint64_t now = 1700000000000ULL;
    uint8_t nonce [ATTEST_NONCE_SIZE];
    json_t *verdict = s_test_round (store, device, &ca, tpm, ak, log, now, now + 100, nonce);
    if (verbose)
        printf ("\n   pass: %s", json_string_value (json_object_get (verdict, "reason")));
    assert (json_is_true (json_object_get (verdict, "ok")));
    json_decref (verdict);
    //  Not due again within the interval, unless the node restarted
    uint32_t mask;
    int64_t ima_from;
    uint8_t ima_pcr10 [32];
    txn = store_begin (store, true);
    assert (attest_challenge (txn, device, ca.sign_public, 3600, now + 1000, nonce, &mask,
                              &ima_from, ima_pcr10) == 0);
    store_abort (&txn);

    //  Refuses a quote over a repeated nonce: the same evidence again
    tpmmsg_t msg;
    zchunk_t *attest = NULL, *sig = NULL;
    uint8_t values [ATTEST_PCRS * 32];
    s_test_quote (tpm, ak, 0x300, nonce, log, &msg, &attest, &sig, values);
    txn = store_begin (store, true);
    verdict = attest_evidence (txn, device, ca.sign_public, &msg, NULL, NULL, now + 200);
    store_abort (&txn);
    assert (!json_is_true (json_object_get (verdict, "ok")));
    assert (strstr (json_string_value (json_object_get (verdict, "reason")), "repeated nonce"));
    json_decref (verdict);
    zchunk_destroy (&attest);
    zchunk_destroy (&sig);

    //  Refuses a quote over a stale nonce
    now += 61000;
    verdict = s_test_round (store, device, &ca, tpm, ak, log, now, now + ATTEST_NONCE_TTL_MS + 1,
                            NULL);
    if (verbose)
        printf ("\n   stale: %s", json_string_value (json_object_get (verdict, "reason")));
    assert (strncmp (json_string_value (json_object_get (verdict, "reason")), "stale nonce", 11) == 0);
    json_decref (verdict);

    //  Refuses a quote signed by any AK other than the one bound at enrolment
    now += 61000;
    verdict = s_test_round (store, device, &ca, tpm, other_ak, log, now, now + 100, NULL);
    if (verbose)
        printf ("\n   other AK: %s", json_string_value (json_object_get (verdict, "reason")));
    assert (streq (json_string_value (json_object_get (verdict, "reason")),
                   "quote refused: signature does not verify with the AK"));
    json_decref (verdict);

    //  An unexpected extend of PCR 9: the next attestation fails naming it
    now += 61000;
    memset (digest, 0x66, 32);
    assert (tpm_pcr_extend (tpm, 9, digest) == 0);
    verdict = s_test_round (store, device, &ca, tpm, ak, log, now, now + 100, NULL);
    if (verbose)
        printf ("\n   extend: %s", json_string_value (json_object_get (verdict, "reason")));
    assert (json_integer_value (json_object_get (verdict, "pcr")) == 9);
    assert (strncmp (json_string_value (json_object_get (verdict, "reason")), "PCR 9:", 6) == 0);
    json_decref (verdict);
    //  ... and the log edited to match: the profile names PCR 9's value
    eventlog_append (&log, 9, "unexpected", 10, NULL);
    now += 61000;
    verdict = s_test_round (store, device, &ca, tpm, ak, log, now, now + 100, NULL);
    assert (json_integer_value (json_object_get (verdict, "pcr")) == 9);
    json_decref (verdict);
    txn = store_begin (store, false);
    assert (attest_quarantined (txn, "gw-1", ca.sign_public, now));
    assert (!attest_quarantined (txn, "gw-2", ca.sign_public, now));
    json_t *summary = attest_summary (txn, now, NULL, NULL);
    store_abort (&txn);
    assert (json_integer_value (json_object_get (summary, "failed")) == 1);
    json_decref (summary);

    json_decref (device);
    zchunk_destroy (&log);
    zchunk_destroy (&ak);
    zchunk_destroy (&ak_public);
    zchunk_destroy (&other_ak);
    tpm_destroy (&tpm);
    tpm_swtpm_destroy (&swtpm);
    pki_destroy (&pki);
    keys_wipe (&ca);
    keys_wipe (&rogue);
    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("%sOK\n", verbose? "\n   ": "");
}
