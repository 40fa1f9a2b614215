/*  attest - boot attestation at the coordinator
    See attest.h for the order of checks. The event log parser takes
    bytes from the network: every length is checked against what is left
    and against the limits in attest.h before it is used.  */

#include "proto/corelib.h"
#include <sodium.h>
#include <openssl/evp.h>
#include "proto/keys.h"
#include "proto/codec.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/credential.h"
#include "proto/bootverify.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/attest_runtime.h"
#include "coordinator/core/attest_internal.h"
#include "coordinator/core/attest_state.h"


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

//  --------------------------------------------------------------------------
//  Store helpers

static json_t *
s_get (store_txn_t *txn, const char *prefix, const char *key)
{
    char *full = zsys_sprintf ("%s%s", prefix, key);
    size_t size = 0;
    char *value = (char *) store_get (txn, ATTEST_TABLE, full, strlen (full), &size);
    free (full);
    json_t *json = value? json_loadb (value, size, 0, NULL): NULL;
    free (value);
    return json;
}

static int
s_put (store_txn_t *txn, const char *prefix, const char *key, json_t *json)
{
    char *full = zsys_sprintf ("%s%s", prefix, key);
    char *text = registry_dump (json);
    int rc = text? store_put (txn, ATTEST_TABLE, full, strlen (full), text, strlen (text)): -1;
    free (text);
    free (full);
    return rc;
}

static int
s_del (store_txn_t *txn, const char *prefix, const char *key)
{
    char *full = zsys_sprintf ("%s%s", prefix, key);
    int rc = store_del (txn, ATTEST_TABLE, full, strlen (full));
    free (full);
    return rc;
}

json_t *
attest_record_get (store_txn_t *txn, const char *prefix, const char *key)
{
    return s_get (txn, prefix, key);
}

int
attest_record_put (store_txn_t *txn, const char *prefix, const char *key, json_t *json)
{
    return s_put (txn, prefix, key, json);
}

static bool
s_hex32 (const char *hex, uint8_t out [32])
{
    return hex && strlen (hex) == 64 && keys_unhex (hex, out, 32) == 0;
}

//  --------------------------------------------------------------------------
//  Per-device IMA state

void
attest_ima_state_get (store_txn_t *txn, const char *device_id, attest_ima_state_t *state)
{
    assert (txn && device_id && state);
    memset (state, 0, sizeof *state);
    json_t *record = s_get (txn, "ima/", device_id);
    json_t *count = json_object_get (record, "count");
    uint8_t pcr10 [32];
    if (json_is_integer (count) && json_integer_value (count) >= 0
    &&  s_hex32 (json_string_value (json_object_get (record, "pcr10")), pcr10)) {
        state->count = (uint64_t) json_integer_value (count);
        memcpy (state->pcr10, pcr10, 32);
    }
    json_decref (record);
}

int
attest_ima_state_put (store_txn_t *txn, const char *device_id, const attest_ima_state_t *state)
{
    assert (txn && device_id && state);
    char pcr10 [65];
    keys_hex (state->pcr10, 32, pcr10);
    json_t *record = json_pack ("{s:I, s:s}", "count", (json_int_t) state->count,
                                "pcr10", pcr10);
    int rc = s_put (txn, "ima/", device_id, record);
    json_decref (record);
    return rc;
}

//  --------------------------------------------------------------------------
//  Challenges

int
attest_challenge (store_txn_t *txn, json_t *device, const uint8_t ca_key [32],
                  uint64_t uptime_s, uint64_t now_ms,
                  uint8_t nonce [ATTEST_NONCE_SIZE], uint32_t *mask_p, int64_t *ima_from_p,
                  uint8_t ima_pcr10 [32])
{
    assert (txn && device && ca_key && nonce && mask_p && ima_from_p && ima_pcr10);
    *ima_from_p = -1;
    memset (ima_pcr10, 0, 32);
    const char *id = json_string_value (json_object_get (device, "id"));
    const char *assurance = json_string_value (json_object_get (device, "assurance"));
    const char *type = json_string_value (json_object_get (device, "type"));
    if (!id || !type || !assurance || strcmp (assurance, "tpm"))
        return 0;
    json_t *profile = attest_profile_of (txn, device, ca_key);
    if (!profile)
        return 0;
    uint32_t mask = attest_profile_mask (profile);
    bool ima = json_is_true (json_object_get (profile, "ima"));
    json_int_t interval = json_integer_value (json_object_get (profile, "interval_s"));
    if (interval <= 0)
        interval = ATTEST_INTERVAL_DEFAULT;
    json_decref (profile);
    json_t *pending = s_get (txn, "nonce/", id);
    uint64_t issued = (uint64_t) json_integer_value (json_object_get (pending, "issued"));
    json_decref (pending);
    if (pending && now_ms < issued + ATTEST_NONCE_TTL_MS)
        return 0;                   //  Outstanding
    json_t *verdict = s_get (txn, "verdict/", id);
    uint64_t checked = (uint64_t) json_integer_value (json_object_get (verdict, "time_ms"));
    bool cleared = json_is_true (json_object_get (verdict, "cleared"));
    json_decref (verdict);
    if (verdict && !cleared && now_ms < checked + (uint64_t) interval * 1000
    &&  uptime_s * 1000 >= now_ms - checked)
        return 0;                   //  Recent, and no restart since
    randombytes_buf (nonce, ATTEST_NONCE_SIZE);
    char hex [2 * ATTEST_NONCE_SIZE + 1];
    keys_hex (nonce, ATTEST_NONCE_SIZE, hex);
    json_t *record = json_pack ("{s:s, s:I, s:I}", "nonce", hex, "issued", (json_int_t) now_ms,
                                "mask", (json_int_t) mask);
    if (ima) {
        //  The list from what was verified before: only new entries travel
        attest_ima_state_t state;
        attest_ima_state_get (txn, id, &state);
        mask |= 1u << ATTEST_IMA_PCR;
        json_object_set_new (record, "mask", json_integer (mask));
        json_object_set_new (record, "ima_from", json_integer ((json_int_t) state.count));
        *ima_from_p = (int64_t) state.count;
        memcpy (ima_pcr10, state.pcr10, 32);
    }
    int rc = s_put (txn, "nonce/", id, record);
    json_decref (record);
    *mask_p = mask;
    return rc? -1: 1;
}

//  --------------------------------------------------------------------------
//  Evidence

static json_t *
s_verdict (json_t *verdict, const char *format, ...)
{
    char reason [512];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    json_object_set_new (verdict, "ok", json_false ());
    json_object_set_new (verdict, "reason", json_string (reason));
    return verdict;
}

json_t *
attest_evidence (store_txn_t *txn, json_t *device, const uint8_t ca_key [32],
                 const tpmmsg_t *evidence, akcache_t *aks, uint64_t now_ms)
{
    assert (txn && device && ca_key && evidence);
    const char *id = json_string_value (json_object_get (device, "id"));
    const char *type = json_string_value (json_object_get (device, "type"));
    assert (id);
    json_t *verdict = json_pack ("{s:s, s:b, s:I, s:I, s:s, s:i, s:i}", "device", id,
        "ok", 0, "time", (json_int_t) (now_ms / 1000), "time_ms", (json_int_t) now_ms,
        "reason", "", "pcr", -1, "event", -1);
    json_t *pending = s_get (txn, "nonce/", id);
    json_t *profile = attest_profile_of (txn, device, ca_key);
    bootverify_t *check = NULL;
    uint8_t *ak = NULL;
    uint8_t nonce [ATTEST_NONCE_SIZE];
    const char *nonce_hex = json_string_value (json_object_get (pending, "nonce"));
    uint64_t issued = (uint64_t) json_integer_value (json_object_get (pending, "issued"));
    uint32_t mask = (uint32_t) json_integer_value (json_object_get (pending, "mask"));
    json_t *ima_from = json_object_get (pending, "ima_from");
    //  With IMA, PCR 10 is checked against the IMA list, not the event log
    uint32_t boot_mask = ima_from? mask & ~(1u << ATTEST_IMA_PCR): mask;

    //  1. The nonce we sent, once, in time
    if (!nonce_hex || keys_unhex (nonce_hex, nonce, sizeof nonce)
    ||  evidence->nonce_size != sizeof nonce
    ||  sodium_memcmp (evidence->nonce, nonce, sizeof nonce) != 0) {
        s_verdict (verdict, "stale or repeated nonce (no challenge outstanding with it)");
        goto done;
    }
    s_del (txn, "nonce/", id);      //  Used, whatever the outcome
    if (now_ms > issued + ATTEST_NONCE_TTL_MS) {
        s_verdict (verdict, "stale nonce: evidence came %" PRIu64 " ms after the challenge",
                   now_ms - issued);
        goto done;
    }
    if (!profile) {
        s_verdict (verdict, "no valid profile for device type %s of its tenant",
                   type? type: "?");
        goto done;
    }
    if (evidence->pcr_mask != mask) {
        s_verdict (verdict, "quote covers other PCRs than asked");
        goto done;
    }
    //  2. Signed by the AK bound at enrolment
    const char *ak_hex = json_string_value (json_object_get (device, "ak_public"));
    size_t ak_size = ak_hex? strlen (ak_hex) / 2: 0;
    ak = ak_size? (uint8_t *) zmalloc (ak_size): NULL;
    if (!ak || keys_unhex (ak_hex, ak, ak_size)) {
        s_verdict (verdict, "no AK bound to %s at enrolment", id);
        goto done;
    }
    check = (bootverify_t *) zmalloc (sizeof (bootverify_t));
    //  An unusable AK is not cached: bootverify_check says why
    const tpmverify_ak_t *parsed = aks? akcache_get (aks, id, ak, ak_size, NULL): NULL;
    bool passed = parsed? bootverify_check_ak (parsed, evidence, boot_mask, profile, check)
                        : bootverify_check (ak, ak_size, evidence, boot_mask, profile, check);
    if (check->events >= 0)
        json_object_set_new (verdict, "events", json_integer (check->events));
    if (check->quoted) {
        json_t *quoted = json_object ();
        json_object_set_new (verdict, "pcrs", quoted);
        for (int pcr = 0; pcr < ATTEST_PCRS; pcr++)
            if (check->mask & (1u << pcr)) {
                char hex [65], key [12];
                keys_hex (check->values [pcr], 32, hex);
                snprintf (key, sizeof key, "%d", pcr);
                json_object_set_new (quoted, key, json_string (hex));
            }
    }
    if (!passed) {
        json_object_set_new (verdict, "pcr", json_integer (check->pcr));
        json_object_set_new (verdict, "event", json_integer (check->event));
        s_verdict (verdict, "%s", check->reason);
        goto done;
    }
    //  5. Runtime: the IMA list replays to PCR 10, its files are allowed
    if (ima_from
    &&  attest_runtime_check (txn, device, ca_key, evidence, check->values [ATTEST_IMA_PCR],
                             verdict))
        goto done;
    json_object_set_new (verdict, "ok", json_true ());
    json_object_set_new (verdict, "reason", json_string (ima_from?
        "boot state matches the profile, IMA list verified": "boot state matches the profile"));
done:
    if (json_is_true (json_object_get (verdict, "ok")) || pending) {
        //  A verdict for evidence that answered no challenge is not stored:
        //  it would let a stale quote overwrite a fresh verdict
        if (attest_verdict_store (txn, device, verdict, profile))
            zsys_error ("attest: cannot store the verdict of %s", id);
    }
    free (check);
    free (ak);
    json_decref (pending);
    json_decref (profile);
    return verdict;
}

json_t *
attest_verdict_get (store_txn_t *txn, const char *device_id)
{
    assert (txn && device_id);
    return s_get (txn, "verdict/", device_id);
}

bool
attest_quarantined (store_txn_t *txn, const char *device_id, const uint8_t ca_key [32],
                    uint64_t now_ms)
{
    assert (txn && device_id && ca_key);
    attest_status_t status;
    return attest_status (txn, device_id, NULL, ca_key, now_ms, &status) == 0
        && attest_state_quarantines (status.state);
}

int
attest_verdict_put (store_txn_t *txn, json_t *device, json_t *verdict, json_t *profile)
{
    assert (txn && device && verdict);
    return attest_verdict_store (txn, device, verdict, profile);
}

int
attest_verdict_clear (store_txn_t *txn, json_t *device, const uint8_t ca_key [32],
                      uint64_t now_ms)
{
    assert (txn && device && ca_key);
    const char *id = json_string_value (json_object_get (device, "id"));
    assert (id);
    json_t *held = s_get (txn, "verdict/", id);
    json_decref (held);
    if (!held)
        return 1;
    //  Released until it falls due, and challenged at its next heartbeat
    json_t *profile = attest_profile_of (txn, device, ca_key);
    json_t *verdict = json_pack ("{s:s, s:b, s:b, s:I, s:I, s:s, s:i, s:i}", "device", id,
        "ok", 1, "cleared", 1, "time", (json_int_t) (now_ms / 1000), "time_ms",
        (json_int_t) now_ms, "reason", "cleared by an operator (attest clear)", "pcr", -1,
        "event", -1);
    int rc = attest_verdict_store (txn, device, verdict, profile);
    json_decref (verdict);
    json_decref (profile);
    return rc;
}

typedef struct {
    json_t *summary;
    uint64_t now_ms;
    attest_visible_fn *visible;
    void *arg;
} s_summary_t;

//  Add one to a summary's counter
static void
s_count (json_t *summary, const char *field)
{
    json_object_set_new (summary, field,
                         json_integer (json_integer_value (json_object_get (summary, field)) + 1));
}

static int
s_summary_one (void *arg, const void *key, size_t key_size, const void *value,
               size_t value_size)
{
    (void) key;
    (void) key_size;
    s_summary_t *self = (s_summary_t *) arg;
    json_t *summary = self->summary;
    json_t *verdict = json_loadb ((const char *) value, value_size, 0, NULL);
    const char *id = json_string_value (json_object_get (verdict, "device"));
    if (!id || (self->visible && !self->visible (self->arg, id))) {
        json_decref (verdict);
        return 0;
    }
    int state = attest_verdict_state (verdict, self->now_ms);
    bool failed = state == ATTEST_FAILED, overdue = state == ATTEST_OVERDUE;
    s_count (summary, failed? "failed": overdue? "overdue": state == ATTEST_CLEARED
                      ? "cleared": "passed");
    s_count (summary, "verdicts");
    json_t *failing = json_object_get (summary, "failing");
    char reason [160];
    if (overdue)
        snprintf (reason, sizeof reason, "attestation overdue since %" JSON_INTEGER_FORMAT
                  " (unix ms): no pass within the profile's interval and grace",
                  json_integer_value (json_object_get (verdict, "due_ms")));
    if ((failed || overdue) && json_array_size (failing) < 100)
        json_array_append_new (failing, json_pack ("{s:O, s:s, s:s}",
            "device", json_object_get (verdict, "device"),
            "reason", overdue? reason: json_string_value (json_object_get (verdict, "reason")),
            "state", attest_state_name (state)));
    json_decref (verdict);
    return 0;
}

json_t *
attest_summary (store_txn_t *txn, uint64_t now_ms, attest_visible_fn *visible, void *arg)
{
    s_summary_t self = { json_pack ("{s:i, s:i, s:i, s:i, s:i, s:[]}", "verdicts", 0,
                                    "passed", 0, "failed", 0, "overdue", 0, "cleared", 0,
                                    "failing"), now_ms, visible, arg };
    store_scan (txn, ATTEST_TABLE, "verdict/", 8, s_summary_one, &self);
    return self.summary;
}

//  --------------------------------------------------------------------------
//  Selftest

#include "node/io/tpm.h"

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
    //  Through a cache of the AK, as the coordinator verifies
    akcache_t *aks = akcache_new ();
    txn = store_begin (store, true);
    json_t *verdict = attest_evidence (txn, device, ca->sign_public, &msg, aks, later);
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
    verdict = attest_evidence (txn, device, ca.sign_public, &msg, NULL, now + 200);
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
