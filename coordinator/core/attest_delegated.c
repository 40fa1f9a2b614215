/*  attest_delegated - verdicts of site servers, checked again (see .h)  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/tpmmsg.h"
#include "proto/bootverify.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/attest_software.h"
#include "coordinator/core/attest_delegated.h"

static const char *
s_str (json_t *record, const char *key)
{
    return json_string_value (json_object_get (record, key))?: "";
}

json_t *
attest_delegated (store_txn_t *txn, json_t *server, json_t *device,
                  const uint8_t ca_key [32], const delegmsg_t *msg,
                  char *error, size_t error_size)
{
    assert (txn && server && device && ca_key && msg && error);
    const char *id = s_str (device, "id");
    if (!streq (s_str (server, "role"), "server")) {
        snprintf (error, error_size, "%s is not a site server", s_str (server, "id"));
        return NULL;
    }
    if (!streq (s_str (server, "tenant"), s_str (device, "tenant"))) {
        snprintf (error, error_size, "%s is not in the tenant of %s", s_str (server, "id"), id);
        return NULL;
    }
    const char *ak_hex = s_str (device, "ak_public");
    size_t ak_size = strlen (ak_hex) / 2;
    if (ak_size == 0 || ak_size > TPMMSG_PUBLIC_MAX) {
        snprintf (error, error_size, "no AK bound to %s at enrolment", id);
        return NULL;
    }
    tpmmsg_t evidence;
    if (tpmmsg_decode (&evidence, MSG_ATTEST_EVIDENCE, msg->evidence, msg->evidence_size)) {
        snprintf (error, error_size, "evidence malformed");
        return NULL;
    }
    json_t *held = attest_verdict_get (txn, id);
    uint64_t held_ms = (uint64_t) json_integer_value (json_object_get (held, "time_ms"));
    json_decref (held);
    if (held && held_ms >= msg->time_ms) {
        snprintf (error, error_size, "older than the verdict held");
        return NULL;
    }
    uint8_t ak [TPMMSG_PUBLIC_MAX];
    keys_unhex (ak_hex, ak, ak_size);
    json_t *profile = attest_profile_of (txn, device, ca_key);
    //  Boot only: the IMA list is not part of delegated verification
    uint32_t boot_mask = evidence.pcr_mask & ~(1u << ATTEST_IMA_PCR);
    bootverify_t *check = (bootverify_t *) zmalloc (sizeof (bootverify_t));
    //  Checked here as the coordinator checks its own evidence: with the
    //  boot measurements of the device's committed releases
    json_t *checked = attest_software_profile (txn, id, profile);
    bool passed = bootverify_check (ak, ak_size, &evidence, boot_mask, checked, check);
    json_decref (checked);
    json_t *verdict = json_pack ("{s:s, s:b, s:I, s:I, s:s, s:i, s:i, s:s, s:b, s:s}",
        "device", id, "ok", passed, "time", (json_int_t) (msg->time_ms / 1000),
        "time_ms", (json_int_t) msg->time_ms, "reason", check->reason, "pcr", check->pcr,
        "event", check->event, "via", s_str (server, "id"), "site_ok", msg->ok,
        "site_reason", msg->reason);
    if (passed != msg->ok)
        json_object_set_new (verdict, "disagrees", json_true ());
    if (check->events >= 0)
        json_object_set_new (verdict, "events", json_integer (check->events));
    if (check->quoted) {
        json_t *quoted = json_object ();
        for (int pcr = 0; pcr < EVENTLOG_PCRS; pcr++)
            if (check->mask & (1u << pcr)) {
                char hex [65], key [12];
                keys_hex (check->values [pcr], 32, hex);
                snprintf (key, sizeof key, "%d", pcr);
                json_object_set_new (quoted, key, json_string (hex));
            }
        json_object_set_new (verdict, "pcrs", quoted);
    }
    free (check);
    int rc = attest_verdict_put (txn, device, verdict, profile);
    json_decref (profile);
    if (rc) {
        snprintf (error, error_size, "store write failed");
        json_decref (verdict);
        return NULL;
    }
    return verdict;
}

//  --------------------------------------------------------------------------
//  Selftest: the refusals and the re-check without a TPM (a real swtpm
//  quote checked through a site server is tests/e2e/55-tpm-delegated.sh)

void
attest_delegated_test (bool verbose)
{
    printf (" * attest_delegated: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    char path [] = "/tmp/weft-delegated.XXXXXX";
    assert (mkdtemp (path));
    const char *tables [] = { ATTEST_TABLE, NULL };
    store_t *store = store_new (path, tables, 0);
    assert (store);
    uint8_t ca_key [32] = { 0 };
    json_t *server = json_pack ("{s:s, s:s, s:s}", "id", "server-1", "role", "server",
                                "tenant", "acme");
    json_t *gateway = json_pack ("{s:s, s:s, s:s}", "id", "gw-b", "role", "gateway",
                                 "tenant", "acme");
    json_t *device = json_pack ("{s:s, s:s, s:s, s:s}", "id", "gw-a", "type", "gateway",
                                "tenant", "acme", "ak_public", "0001aabb");
    //  Evidence that decodes but whose quote cannot verify
    tpmmsg_t ev;
    memset (&ev, 0, sizeof ev);
    ev.type = MSG_ATTEST_EVIDENCE;
    uint8_t bytes [64];
    memset (bytes, 3, sizeof bytes);
    ev.nonce = bytes;
    ev.nonce_size = 32;
    ev.pcr_mask = 1u << 9;
    ev.attest = ev.signature = ev.pcrs = bytes;
    ev.attest_size = ev.signature_size = 16;
    ev.pcrs_size = 32;
    uint8_t *payload;
    size_t size;
    assert (tpmmsg_encode (&ev, &payload, &size) == 0);
    delegmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_DELEGATED_VERDICT;
    strcpy (msg.device, "gw-a");
    msg.ok = true;                  //  The server says it passed
    msg.pcr = msg.event = -1;
    msg.time_ms = 5000;
    msg.evidence = payload;
    msg.evidence_size = size;
    char error [256];
    store_txn_t *txn = store_begin (store, true);
    //  Only a site server of the same tenant is heard
    assert (!attest_delegated (txn, gateway, device, ca_key, &msg, error, sizeof error));
    assert (strstr (error, "not a site server"));
    json_object_set_new (server, "tenant", json_string ("other"));
    assert (!attest_delegated (txn, server, device, ca_key, &msg, error, sizeof error));
    assert (strstr (error, "not in the tenant"));
    json_object_set_new (server, "tenant", json_string ("acme"));
    //  Malformed evidence
    delegmsg_t bad = msg;
    bad.evidence = (const uint8_t *) "\x91\x01";
    bad.evidence_size = 2;
    assert (!attest_delegated (txn, server, device, ca_key, &bad, error, sizeof error));
    assert (strstr (error, "malformed"));
    //  The server's "passed" is not taken: the coordinator's own check
    //  fails (no valid profile, and the quote would not verify), is
    //  recorded, names the server and the disagreement, and quarantines
    json_t *verdict = attest_delegated (txn, server, device, ca_key, &msg, error,
                                        sizeof error);
    assert (verdict && !json_is_true (json_object_get (verdict, "ok")));
    assert (json_is_true (json_object_get (verdict, "disagrees")));
    assert (streq (json_string_value (json_object_get (verdict, "via")), "server-1"));
    json_decref (verdict);
    assert (attest_quarantined (txn, "gw-a", ca_key, 1));
    //  A verdict older than the one held is refused
    msg.time_ms = 4000;
    assert (!attest_delegated (txn, server, device, ca_key, &msg, error, sizeof error));
    assert (strstr (error, "older"));
    //  A device without an AK
    json_object_del (device, "ak_public");
    msg.time_ms = 6000;
    assert (!attest_delegated (txn, server, device, ca_key, &msg, error, sizeof error));
    assert (strstr (error, "no AK"));
    store_abort (&txn);
    free (payload);
    json_decref (server);
    json_decref (gateway);
    json_decref (device);
    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
