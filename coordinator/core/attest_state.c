/*  attest_state - attestation states, the due index and passports (see
    attest_state.h). The verdict records and the index live in the
    attest table (ATTEST_TABLE); each verdict is written here, with its
    index entry and its quarantine mark, in the caller's transaction.  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/passport.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/quarantine.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/attest_internal.h"
#include "coordinator/core/attest_state.h"

#define S_DUE_PREFIX    "due/"
#define S_DUE_KEY_MAX   (4 + 16 + 1 + WEFT_NAME_MAX + 1)

static uint64_t
s_uint (json_t *record, const char *key)
{
    json_int_t value = json_integer_value (json_object_get (record, key));
    return value > 0? (uint64_t) value: 0;
}

//  "due/" + 16 hex digits of due_ms + "/" + id: the index sorts by time
static int
s_due_key (uint64_t due_ms, const char *id, char key [S_DUE_KEY_MAX])
{
    return snprintf (key, S_DUE_KEY_MAX, S_DUE_PREFIX "%016" PRIx64 "/%s", due_ms, id);
}

//  --------------------------------------------------------------------------
//  Store a verdict, its due time and index entry, and its quarantine mark

int
attest_verdict_store (store_txn_t *txn, json_t *device, json_t *verdict, json_t *profile)
{
    assert (txn && device && verdict);
    const char *id = json_string_value (json_object_get (device, "id"));
    assert (id);
    bool ok = json_is_true (json_object_get (verdict, "ok"));
    //  The entry of the verdict this one replaces leaves the index
    json_t *old = attest_record_get (txn, "verdict/", id);
    char key [S_DUE_KEY_MAX];
    int rc = 0;
    if (s_uint (old, "due_ms") && json_is_true (json_object_get (old, "required"))) {
        int size = s_due_key (s_uint (old, "due_ms"), id, key);
        rc = store_del (txn, ATTEST_TABLE, key, (size_t) size) < 0? -1: 0;
    }
    json_decref (old);
    int interval_s, grace_s;
    bool required;
    passport_profile_terms (profile, &interval_s, &grace_s, &required);
    json_object_del (verdict, "due_ms");
    json_object_set_new (verdict, "required", json_boolean (required));
    if (ok) {
        uint64_t due_ms = s_uint (verdict, "time_ms") + (uint64_t) (interval_s + grace_s) * 1000;
        json_object_set_new (verdict, "due_ms", json_integer ((json_int_t) due_ms));
        if (required && rc == 0) {
            int size = s_due_key (due_ms, id, key);
            rc = store_put (txn, ATTEST_TABLE, key, (size_t) size, "1", 1);
        }
    }
    if (rc == 0)
        rc = attest_record_put (txn, "verdict/", id, verdict);
    if (rc == 0 && quarantine_mark (txn, id, !ok) < 0)
        rc = -1;
    return rc;
}

//  --------------------------------------------------------------------------
//  States

int
attest_verdict_state (json_t *verdict, uint64_t now_ms)
{
    assert (verdict);
    if (!json_is_true (json_object_get (verdict, "ok")))
        return ATTEST_FAILED;
    bool cleared = json_is_true (json_object_get (verdict, "cleared"));
    uint64_t due_ms = s_uint (verdict, "due_ms");
    bool required = !json_is_false (json_object_get (verdict, "required"));
    if (due_ms && now_ms >= due_ms)
        return required? ATTEST_OVERDUE: ATTEST_NOT_REQUIRED;
    return cleared? ATTEST_CLEARED: ATTEST_FRESH;
}

int
attest_status (store_txn_t *txn, const char *id, json_t *device, const uint8_t ca_key [32],
               uint64_t now_ms, attest_status_t *status)
{
    assert (txn && id && ca_key && status);
    memset (status, 0, sizeof *status);
    json_t *verdict = attest_record_get (txn, "verdict/", id);
    if (verdict) {
        status->state = attest_verdict_state (verdict, now_ms);
        status->required = !json_is_false (json_object_get (verdict, "required"));
        status->due_ms = s_uint (verdict, "due_ms");
        if (json_is_true (json_object_get (verdict, "ok")))
            status->attested_ms = s_uint (verdict, "time_ms");
        json_decref (verdict);
        return 0;
    }
    //  No verdict yet: does its type's profile require one?
    json_t *record = device? json_incref (device): registry_device_get (txn, id);
    if (!record)
        return -1;
    json_t *profile = attest_profile_of (txn, record, ca_key);
    passport_profile_terms (profile, NULL, NULL, &status->required);
    status->state = status->required? ATTEST_NEVER: ATTEST_NOT_REQUIRED;
    json_decref (profile);
    json_decref (record);
    return 0;
}

bool
attest_state_quarantines (int state)
{
    return state == ATTEST_NEVER || state == ATTEST_OVERDUE || state == ATTEST_FAILED;
}

const char *
attest_state_name (int state)
{
    switch (state) {
        case ATTEST_NOT_REQUIRED:   return "not required";
        case ATTEST_NEVER:          return "never attested";
        case ATTEST_FRESH:          return "fresh";
        case ATTEST_CLEARED:        return "cleared";
        case ATTEST_OVERDUE:        return "overdue";
        case ATTEST_FAILED:         return "failed";
        default:                    return "?";
    }
}

//  --------------------------------------------------------------------------
//  The coordinator's passport for a fresh or cleared device

int
attest_passport (store_txn_t *txn, const char *id, json_t *device, uint64_t held_ms,
                 uint64_t now_ms, const uint8_t secret [64], uint8_t **passport_p,
                 size_t *size_p, uint64_t *attested_ms_p)
{
    assert (txn && id && secret && passport_p && size_p);
    *passport_p = NULL;
    *size_p = 0;
    json_t *verdict = attest_record_get (txn, "verdict/", id);
    int state = verdict? attest_verdict_state (verdict, now_ms): ATTEST_NEVER;
    passport_t passport;
    memset (&passport, 0, sizeof passport);
    passport.attested_ms = s_uint (verdict, "time_ms");
    passport.expires_ms = s_uint (verdict, "due_ms");
    bool cleared = json_is_true (json_object_get (verdict, "cleared"));
    json_decref (verdict);
    if ((state != ATTEST_FRESH && state != ATTEST_CLEARED) || !passport.expires_ms
    ||  passport.expires_ms <= now_ms || passport.attested_ms <= held_ms)
        return 1;
    json_t *record = device? json_incref (device): registry_device_get (txn, id);
    if (!record || json_is_true (json_object_get (record, "revoked"))) {
        json_decref (record);
        return 1;                   //  A revoked device is vouched for by no one
    }
    snprintf (passport.device, sizeof passport.device, "%s", id);
    snprintf (passport.tenant, sizeof passport.tenant, "%s",
              json_string_value (json_object_get (record, "tenant"))?: "");
    passport.cert_serial = s_uint (record, "cert_serial");
    json_decref (record);
    passport.verdict = cleared? PASSPORT_CLEARED: PASSPORT_PASSED;
    snprintf (passport.issuer, sizeof passport.issuer, "%s", PASSPORT_COORDINATOR);
    if (attested_ms_p)
        *attested_ms_p = passport.attested_ms;
    return passport_encode (&passport, secret, passport_p, size_p)? -1: 0;
}

//  --------------------------------------------------------------------------
//  The front of the due index: who became overdue

static void
s_free_key (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

typedef struct {
    uint64_t now_ms;
    size_t max;
    zlistx_t *keys;                 //  Index keys due, in order
} s_sweep_t;

static int
s_sweep_one (void *arg, const void *key, size_t key_size, const void *value,
             size_t value_size)
{
    (void) value;
    (void) value_size;
    s_sweep_t *sweep = (s_sweep_t *) arg;
    char text [S_DUE_KEY_MAX];
    if (key_size >= sizeof text || zlistx_size (sweep->keys) >= sweep->max)
        return 1;
    memcpy (text, key, key_size);
    text [key_size] = 0;
    uint64_t due_ms = 0;
    if (key_size < 4 + 16 + 2 || sscanf (text + 4, "%16" SCNx64, &due_ms) != 1)
        return 0;                   //  Not ours: skipped
    if (due_ms > sweep->now_ms)
        return 1;                   //  The rest falls due later
    zlistx_add_end (sweep->keys, strdup (text));
    return 0;
}

int
attest_overdue_sweep (store_txn_t *txn, uint64_t now_ms, size_t max,
                      attest_overdue_fn *fn, void *arg)
{
    assert (txn && fn);
    s_sweep_t sweep = { now_ms, max, zlistx_new () };
    zlistx_set_destructor (sweep.keys, s_free_key);
    int rc = store_scan (txn, ATTEST_TABLE, S_DUE_PREFIX, strlen (S_DUE_PREFIX), s_sweep_one,
                         &sweep) < 0? -1: 0;
    int taken = 0;
    for (char *key = (char *) zlistx_first (sweep.keys); rc == 0 && key;
         key = (char *) zlistx_next (sweep.keys)) {
        const char *id = key + 4 + 16 + 1;
        json_t *verdict = attest_record_get (txn, "verdict/", id);
        char current [S_DUE_KEY_MAX] = "";
        if (verdict)
            s_due_key (s_uint (verdict, "due_ms"), id, current);
        //  Only if this entry is still the verdict's own
        if (verdict && streq (current, key)
        &&  attest_verdict_state (verdict, now_ms) == ATTEST_OVERDUE)
            fn (arg, id, verdict);
        json_decref (verdict);
        if (store_del (txn, ATTEST_TABLE, key, strlen (key)) < 0)
            rc = -1;
        else
            taken++;
    }
    zlistx_destroy (&sweep.keys);
    return rc? -1: taken;
}

//  --------------------------------------------------------------------------
//  Selftest

#include "coordinator/core/pki.h"

typedef struct {
    int calls;
    char last [WEFT_NAME_MAX + 1];
} s_test_overdue_t;

static void
s_test_overdue (void *arg, const char *device_id, json_t *verdict)
{
    s_test_overdue_t *seen = (s_test_overdue_t *) arg;
    assert (json_is_true (json_object_get (verdict, "ok")));
    seen->calls++;
    snprintf (seen->last, sizeof seen->last, "%s", device_id);
}

static json_t *
s_test_verdict (const char *id, bool ok, uint64_t time_ms)
{
    return json_pack ("{s:s, s:b, s:I, s:I, s:s}", "device", id, "ok", ok,
                      "time", (json_int_t) (time_ms / 1000), "time_ms", (json_int_t) time_ms,
                      "reason", ok? "boot state matches the profile": "PCR 9: ...");
}

//  Store a verdict in a transaction of its own
static void
s_test_store (store_t *store, json_t *device, bool ok, uint64_t time_ms,
              const uint8_t ca_key [32])
{
    store_txn_t *txn = store_begin (store, true);
    json_t *profile = attest_profile_of (txn, device, ca_key);
    json_t *verdict = s_test_verdict (json_string_value (json_object_get (device, "id")), ok,
                                      time_ms);
    assert (attest_verdict_store (txn, device, verdict, profile) == 0);
    assert (store_commit (&txn) == 0);
    json_decref (verdict);
    json_decref (profile);
}

static int
s_test_state (store_t *store, const char *id, const uint8_t ca_key [32], uint64_t now_ms)
{
    store_txn_t *txn = store_begin (store, false);
    attest_status_t status;
    assert (attest_status (txn, id, NULL, ca_key, now_ms, &status) == 0);
    assert (attest_quarantined (txn, id, ca_key, now_ms)
            == attest_state_quarantines (status.state));
    store_abort (&txn);
    return status.state;
}

static int
s_test_sweep (store_t *store, uint64_t now_ms, s_test_overdue_t *seen)
{
    store_txn_t *txn = store_begin (store, true);
    int taken = attest_overdue_sweep (txn, now_ms, 1000, s_test_overdue, seen);
    assert (store_commit (&txn) == 0);
    return taken;
}

void
attest_state_test (bool verbose)
{
    printf (" * attest_state: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    char path [] = "/tmp/weft-attest-state-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    keys_t ca, coord;
    keys_generate (&ca);
    keys_generate (&coord);
    pki_t *pki = pki_new (&ca);
    const uint8_t *ca_key = pki_ca_key (pki);
    uint64_t t0 = 1767225600000ULL;
    char error [256];

    //  Terms: defaults, and what a profile sets
    int interval, grace;
    bool required;
    passport_profile_terms (NULL, &interval, &grace, &required);
    assert (interval == ATTEST_INTERVAL_DEFAULT && grace == ATTEST_GRACE_DEFAULT && !required);
    json_t *doc = json_pack ("{s:{s:s}, s:i, s:i}", "pcrs", "8",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "interval_s", 4, "grace_s", 3);
    passport_profile_terms (doc, &interval, &grace, &required);
    assert (interval == 4 && grace == 3 && required);
    //  gateway: a profile that requires attestation; sensor: one that
    //  does not; server: none
    store_txn_t *txn = store_begin (store, true);
    assert (attest_profile_put (txn, "acme", "gateway", doc, pki, error, sizeof error) == 0);
    json_object_set_new (doc, "require_attestation", json_false ());
    assert (attest_profile_put (txn, "acme", "sensor", doc, pki, error, sizeof error) == 0);
    json_object_set_new (doc, "require_attestation", json_integer (1));
    assert (attest_profile_put (txn, "acme", "gateway", doc, pki, error, sizeof error) == -1);
    json_object_del (doc, "require_attestation");
    json_object_set_new (doc, "grace_s", json_integer (ATTEST_GRACE_MAX + 1));
    assert (attest_profile_put (txn, "acme", "gateway", doc, pki, error, sizeof error) == -1);
    json_decref (doc);
    const char *ids [] = { "gw-1", "sn-1", "srv-1" };
    const char *types [] = { "gateway", "sensor", "server" };
    json_t *devices [3];
    for (int i = 0; i < 3; i++) {
        char key [65];
        memset (key, 'a' + i, 64);
        key [64] = 0;
        devices [i] = json_pack ("{s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "id", ids [i],
                                 "type", types [i], "tenant", "acme",
                                 "cert_serial", (json_int_t) (10 + i), "assurance", "tpm",
                                 "sign_key", key, "curve_key", key);
        assert (registry_device_put (txn, devices [i]) == 0);
    }
    assert (store_commit (&txn) == 0);
    json_t *gw = devices [0], *sensor = devices [1];

    //  Never attested: quarantined where the profile requires it
    assert (s_test_state (store, "gw-1", ca_key, t0) == ATTEST_NEVER);
    assert (s_test_state (store, "sn-1", ca_key, t0) == ATTEST_NOT_REQUIRED);
    assert (s_test_state (store, "srv-1", ca_key, t0) == ATTEST_NOT_REQUIRED);
    txn = store_begin (store, false);
    attest_status_t status;
    assert (attest_status (txn, "nobody", NULL, ca_key, t0, &status) == -1);
    uint8_t *passport;
    size_t size;
    uint64_t attested;
    assert (attest_passport (txn, "gw-1", gw, 0, t0, coord.sign_secret, &passport, &size,
                             &attested) == 1);
    store_abort (&txn);

    //  A pass: fresh for interval + grace, then overdue; the passport
    //  expires when it falls due
    s_test_store (store, gw, true, t0, ca_key);
    assert (s_test_state (store, "gw-1", ca_key, t0 + 6999) == ATTEST_FRESH);
    assert (s_test_state (store, "gw-1", ca_key, t0 + 7000) == ATTEST_OVERDUE);
    txn = store_begin (store, false);
    assert (attest_passport (txn, "gw-1", NULL, 0, t0 + 1000, coord.sign_secret, &passport,
                             &size, &attested) == 0);
    assert (attested == t0);
    cert_t holder;
    memset (&holder, 0, sizeof holder);
    strcpy (holder.subject, "gw-1");
    strcpy (holder.tenant, "acme");
    holder.serial = 10;
    passport_t read;
    assert (passport_check (passport, size, &holder, ca_key, coord.sign_public, t0 + 6999,
                            &read, NULL, 0) == PASSPORT_OK);
    assert (read.expires_ms == t0 + 7000 && read.verdict == PASSPORT_PASSED);
    assert (passport_check (passport, size, &holder, ca_key, coord.sign_public, t0 + 7000,
                            NULL, NULL, 0) == PASSPORT_EXPIRED);
    free (passport);
    assert (attest_passport (txn, "gw-1", gw, 0, t0 + 7000, coord.sign_secret, &passport,
                             &size, NULL) == 1);
    //  Held already: none; revoked: none
    assert (attest_passport (txn, "gw-1", gw, t0, t0 + 1000, coord.sign_secret, &passport,
                             &size, NULL) == 1);
    json_t *revoked = json_deep_copy (gw);
    json_object_set_new (revoked, "revoked", json_true ());
    assert (attest_passport (txn, "gw-1", revoked, 0, t0 + 1000, coord.sign_secret, &passport,
                             &size, NULL) == 1);
    json_decref (revoked);
    store_abort (&txn);

    //  The due index: nothing before it falls due, the device once after
    s_test_overdue_t seen = { 0, "" };
    assert (s_test_sweep (store, t0 + 6999, &seen) == 0 && seen.calls == 0);
    assert (s_test_sweep (store, t0 + 8000, &seen) == 1 && seen.calls == 1);
    assert (streq (seen.last, "gw-1"));
    assert (s_test_sweep (store, t0 + 9000, &seen) == 0 && seen.calls == 1);
    //  A new pass moves its entry: the old time finds nothing
    s_test_store (store, gw, true, t0 + 10000, ca_key);
    s_test_store (store, gw, true, t0 + 15000, ca_key);
    assert (s_test_sweep (store, t0 + 17500, &seen) == 0);
    assert (s_test_sweep (store, t0 + 22000, &seen) == 1 && seen.calls == 2);
    //  A failure: quarantined, and out of the index
    s_test_store (store, gw, true, t0 + 30000, ca_key);
    s_test_store (store, gw, false, t0 + 31000, ca_key);
    assert (s_test_state (store, "gw-1", ca_key, t0 + 32000) == ATTEST_FAILED);
    assert (s_test_sweep (store, t0 + 60000, &seen) == 0 && seen.calls == 2);
    //  Cleared by an operator: admitted until it falls due
    txn = store_begin (store, true);
    assert (attest_verdict_clear (txn, gw, ca_key, t0 + 40000) == 0);
    assert (store_commit (&txn) == 0);
    assert (s_test_state (store, "gw-1", ca_key, t0 + 46999) == ATTEST_CLEARED);
    txn = store_begin (store, false);
    assert (attest_passport (txn, "gw-1", gw, 0, t0 + 41000, coord.sign_secret, &passport,
                             &size, NULL) == 0);
    assert (passport_check (passport, size, &holder, ca_key, coord.sign_public, t0 + 41000,
                            &read, NULL, 0) == PASSPORT_OK && read.verdict == PASSPORT_CLEARED);
    free (passport);
    store_abort (&txn);
    assert (s_test_state (store, "gw-1", ca_key, t0 + 47000) == ATTEST_OVERDUE);
    assert (s_test_sweep (store, t0 + 47000, &seen) == 1 && seen.calls == 3);
    //  A profile that does not require attestation: never quarantined
    //  for being late, and not in the index
    s_test_store (store, sensor, true, t0, ca_key);
    assert (s_test_state (store, "sn-1", ca_key, t0 + 100000) == ATTEST_NOT_REQUIRED);
    assert (s_test_sweep (store, t0 + 200000, &seen) == 0);
    s_test_store (store, sensor, false, t0 + 200000, ca_key);
    assert (s_test_state (store, "sn-1", ca_key, t0 + 200001) == ATTEST_FAILED);

    //  Many devices: a sweep takes exactly those that fell due, in order
    //  of their due time, however many are in the index
    txn = store_begin (store, true);
    json_t *profile = attest_profile_get (txn, "acme", "gateway", ca_key);
    for (int i = 0; i < 10000; i++) {
        char id [32];
        snprintf (id, sizeof id, "gw-many-%05d", i);
        json_t *device = json_pack ("{s:s, s:s, s:s}", "id", id, "type", "gateway",
                                    "tenant", "acme");
        json_t *verdict = s_test_verdict (id, true, t0 + 1000000 + (uint64_t) i * 1000);
        assert (attest_verdict_store (txn, device, verdict, profile) == 0);
        json_decref (verdict);
        json_decref (device);
    }
    json_decref (profile);
    assert (store_commit (&txn) == 0);
    seen.calls = 0;
    //  gw-many-00000 .. 00009 fall due at t0 + 1007000 .. 1016000
    assert (s_test_sweep (store, t0 + 1016000, &seen) == 10 && seen.calls == 10);
    assert (streq (seen.last, "gw-many-00009"));
    assert (s_test_sweep (store, t0 + 1016000, &seen) == 0);
    if (verbose)
        printf ("   never, fresh, overdue, failed, cleared, not required; the due index "
                "takes 10 of 10,000 entries\n");

    for (int i = 0; i < 3; i++)
        json_decref (devices [i]);
    pki_destroy (&pki);
    keys_wipe (&ca);
    keys_wipe (&coord);
    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
