/*  eventlog_test - selftest of the TCG event log replay (eventlog.c)
    Built logs for each rule (startup locality, H-CRTM, padding, the
    refusals), then the real firmware logs of tests/fixtures/eventlog,
    replayed and compared with what tpm2_eventlog prints for them when
    tpm2-tools is installed, and with the reference values committed
    next to them. Run from the repository root (tests/run.sh does).  */

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/eventlog.h"

#define S_FIXTURES  "tests/fixtures/eventlog/"

static void
s_sha256 (const void *a, size_t a_size, const void *b, size_t b_size, uint8_t out [32])
{
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init (&state);
    crypto_hash_sha256_update (&state, (const uint8_t *) a, a_size);
    crypto_hash_sha256_update (&state, (const uint8_t *) b, b_size);
    crypto_hash_sha256_final (&state, out);
}

static int
s_replay (zchunk_t *log, uint8_t pcrs [EVENTLOG_PCRS][32], eventlog_info_t *info,
          char *error)
{
    return eventlog_replay (zchunk_data (log), zchunk_size (log), pcrs, NULL, 0, info,
                            error, 256);
}

//  A whole file, or NULL
static zchunk_t *
s_read (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    zchunk_t *chunk = zchunk_new (NULL, 0);
    uint8_t buffer [4096];
    size_t got;
    while ((got = fread (buffer, 1, sizeof buffer, file)) > 0)
        zchunk_extend (chunk, buffer, got);
    fclose (file);
    return chunk;
}

//  The "pcrs: sha256:" part of tpm2_eventlog's output read from file:
//  sets bit N of the result for each PCR N given in values
static uint32_t
s_parse_pcrs (FILE *file, uint8_t values [EVENTLOG_PCRS][32])
{
    char line [512];
    bool in_pcrs = false, in_sha256 = false;
    uint32_t mask = 0;
    while (fgets (line, sizeof line, file)) {
        if (strncmp (line, "pcrs:", 5) == 0)
            in_pcrs = true;
        else
        if (in_pcrs && strncmp (line, "  sha256:", 9) == 0)
            in_sha256 = true;
        else
        if (in_pcrs && strncmp (line, "  ", 2) == 0 && line [2] != ' ')
            in_sha256 = false;
        else
        if (in_sha256) {
            unsigned pcr;
            char hex [80];
            if (sscanf (line, " %u : 0x%79s", &pcr, hex) == 2 && pcr < EVENTLOG_PCRS
            &&  strlen (hex) == 64 && keys_unhex (hex, values [pcr], 32) == 0)
                mask |= 1u << pcr;
        }
    }
    return mask;
}

//  tpm2_eventlog's PCRs for path and its version (major * 100 + minor),
//  or 0 if the tool is missing or refuses the log
static uint32_t
s_tpm2_eventlog (const char *path, uint8_t values [EVENTLOG_PCRS][32], int *version_p)
{
    *version_p = 0;
    FILE *pipe = popen ("tpm2_eventlog --version 2>/dev/null", "r");
    char line [256] = "";
    if (pipe) {
        unsigned major, minor;
        if (fgets (line, sizeof line, pipe) && strstr (line, "version=\"")
        &&  sscanf (strstr (line, "version=\"") + 9, "%u.%u", &major, &minor) == 2)
            *version_p = (int) (major * 100 + minor);
        pclose (pipe);
    }
    if (*version_p == 0)
        return 0;
    char *command = zsys_sprintf ("tpm2_eventlog '%s' 2>/dev/null", path);
    pipe = popen (command, "r");
    free (command);
    uint32_t mask = pipe? s_parse_pcrs (pipe, values): 0;
    if (pipe && pclose (pipe) != 0)
        mask = 0;
    return mask;
}

static uint32_t
s_reference (const char *path, uint8_t values [EVENTLOG_PCRS][32])
{
    FILE *file = fopen (path, "r");
    assert (file);
    uint32_t mask = s_parse_pcrs (file, values);
    fclose (file);
    return mask;
}

//  Which PCRs a replay extended, from its events
static uint32_t
s_used (zchunk_t *log)
{
    eventlog_event_t *events = (eventlog_event_t *) zmalloc (EVENTLOG_EVENTS_MAX
                                                             * sizeof *events);
    uint8_t pcrs [EVENTLOG_PCRS][32];
    char error [256];
    int count = eventlog_replay (zchunk_data (log), zchunk_size (log), pcrs, events,
                                 EVENTLOG_EVENTS_MAX, NULL, error, sizeof error);
    uint32_t mask = 0;
    for (int i = 0; i < count; i++)
        mask |= 1u << events [i].pcr;
    free (events);
    return mask;
}

//  One real log: replays to its reference values and to tpm2_eventlog's;
//  padded with zeros it replays the same
static void
s_real_log (const char *name, int events_expected, int locality, bool verbose)
{
    char *path = zsys_sprintf (S_FIXTURES "%s.bin", name);
    char *reference_path = zsys_sprintf (S_FIXTURES "%s.pcrs", name);
    zchunk_t *log = s_read (path);
    if (!log) {
        fprintf (stderr, "eventlog: %s missing (run from the repository root)\n", path);
        assert (false);
    }
    uint8_t pcrs [EVENTLOG_PCRS][32], reference [EVENTLOG_PCRS][32];
    eventlog_info_t info;
    char error [256];
    int count = s_replay (log, pcrs, &info, error);
    if (count < 0)
        fprintf (stderr, "eventlog: %s refused: %s\n", name, error);
    assert (count == events_expected);
    assert (info.startup_locality == locality && info.padding == 0 && !info.hcrtm);
    //  The reference: upstream's expected output, or tpm2_eventlog 5.8's
    uint32_t used = s_used (log);
    uint32_t mask = s_reference (reference_path, reference);
    assert (mask == used);
    for (int pcr = 0; pcr < EVENTLOG_PCRS; pcr++)
        if (mask & (1u << pcr))
            assert (memcmp (pcrs [pcr], reference [pcr], 32) == 0);
    //  The tpm2_eventlog installed here, if any
    uint8_t theirs [EVENTLOG_PCRS][32];
    int version;
    mask = s_tpm2_eventlog (path, theirs, &version);
    if (version == 0) {
        if (verbose)
            printf ("   %s: tpm2_eventlog not installed, cross-check skipped\n", name);
    }
    else {
        //  Before 5.6 tpm2_eventlog started PCR 0 at zero whatever the
        //  startup locality, and extended EV_NO_ACTION events too (their
        //  digests are zero; tpm2-tools commits 576a31bc and 9735dc33):
        //  what it prints is then compared with that replay of our events
        eventlog_event_t *events = (eventlog_event_t *) zmalloc (EVENTLOG_EVENTS_MAX
                                                                 * sizeof *events);
        assert (eventlog_replay (zchunk_data (log), zchunk_size (log), reference, events,
                                 EVENTLOG_EVENTS_MAX, NULL, error, sizeof error) == count);
        assert (mask == used);
        int differ = 0;
        for (int pcr = 0; pcr < EVENTLOG_PCRS; pcr++) {
            if (!(mask & (1u << pcr)))
                continue;
            if (version >= 506) {
                assert (memcmp (pcrs [pcr], theirs [pcr], 32) == 0);
                continue;
            }
            uint8_t before [32] = { 0 };
            for (int i = 0; i < count; i++)
                if (events [i].pcr == (uint32_t) pcr)
                    s_sha256 (before, 32, events [i].digest, 32, before);
            assert (memcmp (before, theirs [pcr], 32) == 0);
            if (memcmp (pcrs [pcr], theirs [pcr], 32) != 0)
                differ++;
        }
        free (events);
        //  Only PCR 0 of the locality log differs, and only before 5.6
        assert (differ == (version < 506 && locality > 0? 1: 0));
        if (verbose)
            printf ("   %s: %d events, PCRs equal tpm2_eventlog %d.%d's%s\n", name, count,
                    version / 100, version % 100, differ? " but PCR 0 (it predates "
                    "startup localities and extends EV_NO_ACTION events)": "");
    }
    //  Padded as firmware hands over its log area: the same PCRs
    uint8_t zeros [4096] = { 0 };
    zchunk_extend (log, zeros, sizeof zeros);
    uint8_t padded [EVENTLOG_PCRS][32];
    assert (s_replay (log, padded, &info, error) == count);
    assert (info.padding == sizeof zeros);
    assert (memcmp (padded, pcrs, sizeof pcrs) == 0);
    zchunk_destroy (&log);
    free (path);
    free (reference_path);
}

void
eventlog_test (bool verbose)
{
    printf (" * eventlog: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    //  A built log: replayed, every truncation refused, never read past
    zchunk_t *log = NULL;
    uint8_t digest [32], pcrs [EVENTLOG_PCRS][32], expect [32] = { 0 };
    eventlog_append (&log, 8, "kernel-6.1", 10, digest);
    eventlog_append (&log, 9, "initrd", 6, NULL);
    eventlog_append (&log, 8, "cmdline ro", 10, NULL);
    eventlog_event_t events [8];
    eventlog_info_t info;
    char error [256];
    assert (eventlog_replay (zchunk_data (log), zchunk_size (log), pcrs, events, 8, &info,
                             error, sizeof error) == 3);
    assert (events [0].pcr == 8 && memcmp (events [0].digest, digest, 32) == 0);
    assert (info.startup_locality == -1 && info.padding == 0 && info.pcr0_start == 0);
    s_sha256 (expect, 32, digest, 32, expect);
    assert (memcmp (pcrs [0], (uint8_t [32]) { 0 }, 32) == 0);
    for (size_t cut = 0; cut < zchunk_size (log); cut++)
        assert (eventlog_replay (zchunk_data (log), cut, pcrs, NULL, 0, NULL,
                                 error, sizeof error) < 3);
    assert (eventlog_replay (NULL, 0, pcrs, NULL, 0, NULL, error, sizeof error) == -1);

    //  Zero padding after the last event ends the log; anything else in
    //  it is an event, and must be one
    size_t unpadded = zchunk_size (log);
    uint8_t zeros [100] = { 0 };
    zchunk_extend (log, zeros, sizeof zeros);
    assert (s_replay (log, pcrs, &info, error) == 3 && info.padding == 100);
    zchunk_data (log) [zchunk_size (log) - 1] = 1;
    assert (s_replay (log, pcrs, &info, error) == -1);
    assert (streq (error, "event #3 is malformed"));
    zchunk_t *cut = zchunk_new (zchunk_data (log), unpadded + 1);
    zchunk_data (cut) [unpadded] = 0;
    assert (s_replay (cut, pcrs, &info, error) == 3 && info.padding == 1);
    zchunk_destroy (&cut);
    zchunk_destroy (&log);

    //  Startup locality 3: PCR 0 starts at 0x00..03, then extends
    eventlog_append_locality (&log, 3);
    eventlog_append (&log, 0, "crtm", 4, digest);
    eventlog_append (&log, 1, "config", 6, NULL);
    assert (s_replay (log, pcrs, &info, error) == 3);
    assert (info.startup_locality == 3 && info.pcr0_start == 3);
    memset (expect, 0, 32);
    expect [31] = 3;
    s_sha256 (expect, 32, digest, 32, expect);
    assert (memcmp (pcrs [0], expect, 32) == 0);
    //  ... which a replay from locality 0 does not give
    eventlog_event_t all [8];
    assert (eventlog_replay (zchunk_data (log), zchunk_size (log), pcrs, all, 8, NULL,
                             error, sizeof error) == 3);
    uint8_t other [32];
    eventlog_replay_pcr (all, 3, 0, 0, other);
    assert (memcmp (other, expect, 32) != 0);
    eventlog_replay_pcr (all, 3, 0, 3, other);
    assert (memcmp (other, expect, 32) == 0);
    zchunk_destroy (&log);
    //  After PCR 0 was extended, a StartupLocality event is refused
    eventlog_append (&log, 0, "crtm", 4, NULL);
    eventlog_append_locality (&log, 3);
    assert (s_replay (log, pcrs, &info, error) == -1);
    assert (streq (error, "event #1: StartupLocality event after PCR 0 was extended"));
    zchunk_destroy (&log);
    //  Locality 4 (H-CRTM); with no PCR 0 event the PCR still starts there
    eventlog_append_locality (&log, 4);
    assert (s_replay (log, pcrs, &info, error) == 1);
    assert (pcrs [0][31] == 4 && memcmp (pcrs [0], (uint8_t [31]) { 0 }, 31) == 0);
    //  Two of them, or a locality a TPM does not start PCR 0 from
    eventlog_append_locality (&log, 4);
    assert (s_replay (log, pcrs, &info, error) == -1);
    assert (streq (error, "event #1: a second StartupLocality event"));
    zchunk_destroy (&log);
    eventlog_append_locality (&log, 2);
    assert (s_replay (log, pcrs, &info, error) == -1);
    assert (streq (error, "event #0: StartupLocality 2 (PCR 0 starts from locality 0, 3 or "
                   "4 only)"));
    zchunk_destroy (&log);
    //  An EV_NO_ACTION event elsewhere, or another signature, changes nothing
    eventlog_append_locality (&log, 0);
    assert (s_replay (log, pcrs, &info, error) == 1 && info.startup_locality == 0);
    assert (memcmp (pcrs [0], (uint8_t [32]) { 0 }, 32) == 0);
    zchunk_destroy (&log);

    //  SHA-1-only logs are refused saying so; so is a crypto-agile log
    //  without a sha256 bank
    eventlog_append (&log, 8, "x", 1, NULL);
    zchunk_t *sha1 = zchunk_dup (log);
    memcpy (zchunk_data (sha1) + 32 + 24 + 4, "\x04\x00\x14\x00", 4);     //  sha1, 20
    assert (s_replay (sha1, pcrs, &info, error) == -1);
    assert (streq (error, "event log has no sha256 bank (SHA-1 digests only): Weft replays "
                   "crypto-agile logs with a sha256 bank only"));
    zchunk_destroy (&sha1);
    //  A Spec ID event cut short of its algorithm count (16..27 bytes
    //  of data) is refused; nothing past it is read
    for (uint32_t cut = 16; cut < 28; cut++) {
        zchunk_t *short_log = zchunk_new (zchunk_data (log), 32 + cut);
        uint8_t *le = zchunk_data (short_log) + 28;
        le [0] = (uint8_t) cut, le [1] = le [2] = le [3] = 0;
        assert (s_replay (short_log, pcrs, &info, error) == -1);
        char want [WEFT_TEXT_MAX];
        snprintf (want, sizeof want, "event log header of %u bytes is truncated (a Spec "
                  "ID event has at least 28)", cut);
        assert (streq (error, want));
        zchunk_destroy (&short_log);
    }
    memcpy (zchunk_data (log) + 32, "Spec ID Event00", 16);
    assert (s_replay (log, pcrs, &info, error) == -1);
    assert (strncmp (error, "event log is in the SHA-1-only format", 37) == 0);
    zchunk_destroy (&log);
    log = s_read (S_FIXTURES "tpm2-tools-uefi-sha1.bin");
    assert (log);
    assert (s_replay (log, pcrs, &info, error) == -1);
    if (verbose)
        printf ("   tpm2-tools-uefi-sha1: %s\n", error);
    assert (streq (error, "event log is in the SHA-1-only format (TPM 1.2, no \"Spec ID "
                   "Event03\" header): Weft replays crypto-agile logs with a sha256 bank only"));
    zchunk_destroy (&log);

    //  Real firmware logs
    s_real_log ("keylime-fedora41-locality3", 120, 3, verbose);
    s_real_log ("tpm2-tools-bootorder", 103, -1, verbose);
    //  @end
    printf ("OK\n");
}
