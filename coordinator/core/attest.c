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
#include "proto/credential.h"
#include "proto/bootverify.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/attest_runtime.h"
#include "coordinator/core/attest_software.h"
#include "coordinator/core/attest_internal.h"
#include "coordinator/core/attest_state.h"


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
                 const tpmmsg_t *evidence, akcache_t *aks, attest_runtime_t *imas,
                 uint64_t now_ms)
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
    //  The profile widened by the boot measurements of the releases
    //  the device committed (attest_software.h)
    json_t *checked = attest_software_profile (txn, id, profile);
    bool passed = parsed? bootverify_check_ak (parsed, evidence, boot_mask, checked, check)
                        : bootverify_check (ak, ak_size, evidence, boot_mask, checked, check);
    json_decref (checked);
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
    &&  attest_runtime_check (imas, txn, device, ca_key, evidence,
                              check->values [ATTEST_IMA_PCR], verdict))
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
