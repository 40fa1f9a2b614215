/*  bootverify - boot evidence checked against a security profile (.h)  */

#include "proto/corelib.h"
#include <stdarg.h>
#include "proto/keys.h"
#include "proto/tpmverify.h"
#include "proto/bootverify.h"

static bool
s_fail (bootverify_t *result, int pcr, int event, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (result->reason, sizeof result->reason, format, args);
    va_end (args);
    result->ok = false;
    result->pcr = pcr;
    result->event = event;
    return false;
}

static bool
s_hex32 (const char *hex, uint8_t out [32])
{
    return hex && strlen (hex) == 64 && keys_unhex (hex, out, 32) == 0;
}

//  Index of the last event extending pcr (not EV_NO_ACTION), or -1;
//  *logged_p counts them
static int
s_last_event (const eventlog_event_t *events, int count, int pcr, int *logged_p)
{
    int last = -1, logged = 0;
    for (int i = 0; i < count; i++)
        if (events [i].pcr == (uint32_t) pcr && events [i].type != EVENTLOG_EV_NO_ACTION) {
            last = i;
            logged++;
        }
    if (logged_p)
        *logged_p = logged;
    return last;
}

//  PCR 0 mismatches: would its events replay to the quoted value had the
//  TPM started at another locality (0, 3, 4) than the log says? Returns
//  that locality, or -1. Tells a firmware log that lost its
//  StartupLocality event from a PCR extended outside the log.
static int
s_other_locality (const eventlog_event_t *events, int count, const eventlog_info_t *info,
                  const uint8_t quoted [32])
{
    const uint8_t starts [] = { 0, 3, 4 };
    for (size_t i = 0; i < sizeof starts; i++) {
        if (starts [i] == info->pcr0_start)
            continue;
        uint8_t value [32];
        eventlog_replay_pcr (events, count, 0, starts [i], value);
        if (memcmp (value, quoted, 32) == 0)
            return starts [i];
    }
    return -1;
}

//  Is digest among the hex digests of list (a JSON array, may be NULL)?
static bool
s_listed (json_t *list, const uint8_t digest [32])
{
    size_t index;
    json_t *item;
    json_array_foreach (list, index, item) {
        uint8_t want [32];
        if (s_hex32 (json_string_value (item), want) && memcmp (want, digest, 32) == 0)
            return true;
    }
    return false;
}

//  The profile's event digests and PCR values. An event that is not
//  the profile's at its place passes if its digest is among the
//  profile's "release_events" of its PCR: the boot measurements of the
//  releases the device runs (the coordinator adds them per device)
static bool
s_profile (const bootverify_t *r, json_t *profile, const eventlog_event_t *events,
           int count, bootverify_t *result)
{
    json_t *expected_events = json_object_get (profile, "events");
    json_t *release_events = json_object_get (profile, "release_events");
    for (int pcr = 0; pcr < EVENTLOG_PCRS; pcr++) {
        char key [12];
        snprintf (key, sizeof key, "%d", pcr);
        json_t *list = json_object_get (expected_events, key);
        if (list) {
            int k = 0;
            for (int i = 0; i < count; i++) {
                if (events [i].pcr != (uint32_t) pcr || events [i].type == EVENTLOG_EV_NO_ACTION)
                    continue;
                uint8_t want [32];
                json_t *item = json_array_get (list, (size_t) k);
                char got_hex [65];
                keys_hex (events [i].digest, 32, got_hex);
                if ((!item || !s_hex32 (json_string_value (item), want)
                     || memcmp (want, events [i].digest, 32) != 0)
                &&  !(item && s_listed (json_object_get (release_events, key),
                                        events [i].digest)))
                    return s_fail (result, pcr, i, "PCR %d: event #%d (type 0x%x, digest "
                                   "%.16s...) is not the profile's", pcr, i, events [i].type,
                                   got_hex);
                k++;
            }
            if ((size_t) k != json_array_size (list))
                return s_fail (result, pcr, -1, "PCR %d: %d events logged, the profile "
                               "expects %zu", pcr, k, json_array_size (list));
        }
        uint8_t want [32];
        const char *want_hex = json_string_value (json_object_get (
                                   json_object_get (profile, "pcrs"), key));
        if (want_hex && s_hex32 (want_hex, want) && memcmp (want, r->values [pcr], 32) != 0) {
            int last = s_last_event (events, count, pcr, NULL);
            char got_hex [65];
            keys_hex (r->values [pcr], 32, got_hex);
            return s_fail (result, pcr, last, "PCR %d is %.16s..., the profile expects "
                           "%.16s... (last event extending it: #%d)", pcr, got_hex, want_hex,
                           last);
        }
    }
    return true;
}

bool
bootverify_check (const uint8_t *ak_public, size_t ak_public_size,
                  const tpmmsg_t *evidence, uint32_t boot_mask, json_t *profile,
                  bootverify_t *result)
{
    assert (evidence && result);
    int rc;
    tpmverify_ak_t *ak = tpmverify_ak_new (ak_public, ak_public_size, &rc);
    bool ok = ak? bootverify_check_ak (ak, evidence, boot_mask, profile, result): false;
    tpmverify_ak_destroy (&ak);
    if (rc != TPMVERIFY_OK) {
        memset (result, 0, sizeof *result);
        result->pcr = result->event = result->events = -1;
        if (!json_is_object (profile))
            return s_fail (result, -1, -1, "no valid profile");
        return s_fail (result, -1, -1, "quote refused: %s", tpmverify_strerror (rc));
    }
    return ok;
}

bool
bootverify_check_ak (const tpmverify_ak_t *ak, const tpmmsg_t *evidence,
                     uint32_t boot_mask, json_t *profile, bootverify_t *result)
{
    assert (ak && evidence && result);
    memset (result, 0, sizeof *result);
    result->pcr = result->event = result->events = -1;
    if (!json_is_object (profile))
        return s_fail (result, -1, -1, "no valid profile");
    //  1. Signed by the AK, over the nonce and exactly these PCR values
    int rc = tpmverify_quote_ak (ak, evidence->attest,
                                 evidence->attest_size, evidence->signature,
                                 evidence->signature_size, evidence->nonce, evidence->nonce_size,
                                 evidence->pcr_mask, evidence->pcrs, evidence->pcrs_size);
    if (rc != TPMVERIFY_OK)
        return s_fail (result, -1, -1, "quote refused: %s", tpmverify_strerror (rc));
    result->quoted = true;
    result->mask = evidence->pcr_mask;
    const uint8_t *value = evidence->pcrs;
    for (int pcr = 0; pcr < EVENTLOG_PCRS; pcr++)
        if (result->mask & (1u << pcr)) {
            memcpy (result->values [pcr], value, 32);
            value += 32;
        }
    //  2. The event log replays to the quoted PCRs
    uint8_t replayed [EVENTLOG_PCRS][32];
    char error [256];
    eventlog_event_t *events =
        (eventlog_event_t *) zmalloc (EVENTLOG_EVENTS_MAX * sizeof (eventlog_event_t));
    eventlog_info_t info;
    int count = eventlog_replay (evidence->event_log, evidence->event_log_size, replayed,
                                 events, EVENTLOG_EVENTS_MAX, &info, error, sizeof error);
    bool ok = true;
    if (count < 0)
        ok = s_fail (result, -1, -1, "event log refused: %s", error);
    else
        result->events = count;
    for (int pcr = 0; ok && pcr < EVENTLOG_PCRS; pcr++) {
        if (!(boot_mask & result->mask & (1u << pcr))
        ||  memcmp (result->values [pcr], replayed [pcr], 32) == 0)
            continue;
        int logged;
        int last = s_last_event (events, count, pcr, &logged);
        int locality = pcr == 0? s_other_locality (events, count, &info, result->values [0]): -1;
        if (locality >= 0)
            ok = s_fail (result, pcr, last, "PCR 0: event log does not replay to the quoted "
                         "value, but would from locality %d: the log %s (firmware log "
                         "incomplete or edited)", locality, info.startup_locality >= 0
                         ? "names another StartupLocality": "has no StartupLocality event");
        else
            ok = s_fail (result, pcr, last, "PCR %d: event log does not replay to the quoted "
                         "value (extended outside the log after event #%d; %d events logged "
                         "for it)", pcr, last, logged);
    }
    //  3. The profile
    if (ok)
        ok = s_profile (result, profile, events, count, result);
    free (events);
    if (ok) {
        result->ok = true;
        snprintf (result->reason, sizeof result->reason, "boot state matches the profile");
    }
    return ok;
}

//  --------------------------------------------------------------------------
//  Selftest: what needs no TPM (the quote paths are exercised on swtpm
//  by the attest and credential selftests, through this module)

void
bootverify_test (bool verbose)
{
    printf (" * bootverify: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    tpmmsg_t evidence;
    memset (&evidence, 0, sizeof evidence);
    evidence.type = MSG_ATTEST_EVIDENCE;
    uint8_t nonce [32] = { 1 };
    evidence.nonce = nonce;
    evidence.nonce_size = sizeof nonce;
    evidence.pcr_mask = 1u << 8;
    uint8_t pcr [32] = { 0 };
    evidence.pcrs = pcr;
    evidence.pcrs_size = 32;
    bootverify_t result;
    //  No profile: refused before anything is parsed
    assert (!bootverify_check ((const uint8_t *) "x", 1, &evidence, 0, NULL, &result));
    assert (!result.ok && strstr (result.reason, "no valid profile"));
    //  A bad AK: the quote is refused, nothing is believed
    json_t *profile = json_pack ("{s:{s:s}}", "pcrs", "8",
        "0000000000000000000000000000000000000000000000000000000000000000");
    assert (!bootverify_check ((const uint8_t *) "x", 1, &evidence, 0, profile, &result));
    assert (!result.quoted && result.pcr == -1 && result.events == -1);
    assert (strstr (result.reason, "quote refused: public key malformed"));
    json_decref (profile);

    //  The profile's events, and those the device's releases add
    eventlog_event_t log [3] = { { 8, 0xd, { 1 } }, { 8, 0xd, { 2 } }, { 9, 0xd, { 3 } } };
    char hex [4][65];
    for (int i = 0; i < 4; i++) {
        uint8_t digest [32] = { (uint8_t) (i + 1) };
        keys_hex (digest, 32, hex [i]);
    }
    bootverify_t values;
    memset (&values, 0, sizeof values);
    profile = json_pack ("{s:{s:[s,s], s:[s]}}", "events", "8", hex [0], hex [1], "9", hex [2]);
    assert (s_profile (&values, profile, log, 3, &result));
    log [1].digest [0] = 4;             //  A new kernel in PCR 8
    assert (!s_profile (&values, profile, log, 3, &result) && result.pcr == 8
            && result.event == 1);
    //  ... passes once a release the device runs names it for PCR 8,
    json_object_set_new (profile, "release_events", json_pack ("{s:[s]}", "8", hex [3]));
    assert (s_profile (&values, profile, log, 3, &result));
    //  not for another PCR, and never as an extra event
    log [2].digest [0] = 4;
    assert (!s_profile (&values, profile, log, 3, &result) && result.pcr == 9);
    log [2].digest [0] = 3;
    log [2].pcr = 8;
    assert (!s_profile (&values, profile, log, 3, &result) && result.pcr == 8);
    json_decref (profile);
    //  @end
    printf ("OK\n");
}
