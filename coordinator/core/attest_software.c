/*  attest_software - a device's expected state follows its software
    (see attest_software.h)  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "proto/manifest.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/artrepo.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/attest_software.h"

#define S_PREFIX    "sw/"

//  A release name or version as a device may report it, safe in a key:
//  letters, digits and . _ + - (as weft-artifact build takes them)
static bool
s_safe (const char *text, size_t max)
{
    if (!text || !*text || strlen (text) > max)
        return false;
    for (; *text; text++)
        if (!isalnum ((unsigned char) *text) && !strchr ("._+-", *text))
            return false;
    return true;
}

static const char *
s_str (json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

typedef struct {
    size_t names;
    attest_ima_allowlist_t *allow;      //  Gathering digests, or NULL
    json_t *show;                       //  Gathering records, or NULL
    json_t *boot;                       //  Gathering {"N": [hex]}, or NULL
    int rc;
} s_scan_t;

static int
s_scan_fn (void *arg, const void *key, size_t key_size, const void *value, size_t value_size)
{
    s_scan_t *scan = (s_scan_t *) arg;
    scan->names++;
    if (!scan->allow && !scan->show && !scan->boot)
        return 0;
    json_t *record = json_loadb ((const char *) value, value_size, 0, NULL);
    const char *ima = s_str (record, "ima");
    size_t count = ima? strlen (ima) / 64: 0;
    if (scan->allow && count) {
        attest_ima_allowlist_t *allow = scan->allow;
        void *grown = realloc (allow->digests, (allow->count + count) * 32);
        if (!grown)
            scan->rc = -1;
        else {
            allow->digests = grown;
            for (size_t i = 0; i < count; i++) {
                char hex [65];
                memcpy (hex, ima + 64 * i, 64);
                hex [64] = 0;
                if (keys_unhex (hex, allow->digests [allow->count], 32) == 0)
                    allow->count++;
            }
        }
    }
    size_t index;
    json_t *item;
    json_array_foreach (scan->boot? json_object_get (record, "boot"): NULL, index, item) {
        char pcr [12];
        snprintf (pcr, sizeof pcr, "%d", (int) json_integer_value (json_object_get (item, "pcr")));
        json_t *list = json_object_get (scan->boot, pcr);
        if (!list) {
            list = json_array ();
            json_object_set_new (scan->boot, pcr, list);
        }
        json_array_append (list, json_object_get (item, "sha256"));
    }
    if (scan->show && record) {
        const char *slash = memchr ((const char *) key + strlen (S_PREFIX), '/',
                                    key_size - strlen (S_PREFIX));
        char name [WEFT_NAME_MAX + 1] = "";
        if (slash) {
            size_t length = key_size - (size_t) (slash + 1 - (const char *) key);
            snprintf (name, sizeof name, "%.*s", (int) length, slash + 1);
        }
        json_t *row = json_pack ("{s:O, s:I, s:O, s:O}", "version",
                                 json_object_get (record, "version"), "files",
                                 (json_int_t) count, "boot", json_object_get (record, "boot"),
                                 "found", json_object_get (record, "found"));
        if (row)
            json_object_set_new (scan->show, name, row);
    }
    json_decref (record);
    return scan->rc;
}

static int
s_scan (store_txn_t *txn, const char *device, s_scan_t *scan)
{
    char prefix [WEFT_NAME_MAX + 8];
    snprintf (prefix, sizeof prefix, S_PREFIX "%s/", device);
    int visited = store_scan (txn, ATTEST_TABLE, prefix, strlen (prefix), s_scan_fn, scan);
    return visited < 0 || scan->rc? -1: 0;
}

//  The record of a release's reference values (or of none, if found is
//  false)
static json_t *
s_record (const char *version, const uint8_t *manifest_data, size_t manifest_size)
{
    json_t *record = json_pack ("{s:s, s:b}", "version", version, "found",
                                manifest_data != NULL);
    if (!manifest_data)
        return record;
    uint8_t hash [32];
    char hex [65];
    keys_hash (manifest_data, manifest_size, hash);
    keys_hex (hash, 32, hex);
    json_object_set_new (record, "manifest", json_string (hex));
    manifest_t manifest;
    manifest_refs_t *refs = (manifest_refs_t *) zmalloc (sizeof (manifest_refs_t));
    if (manifest_decode (&manifest, manifest_data, manifest_size) == 0)
        manifest_refs (&manifest, refs);
    //  The digests sorted and unique, as one hex string
    attest_ima_allowlist_t files = { NULL, 0, NULL };
    files.digests = (uint8_t (*) [32]) zmalloc ((refs->ima_count + 1) * 32);
    for (size_t i = 0; i < refs->ima_count; i++)
        memcpy (files.digests [files.count++], refs->ima [i].digest, 32);
    attest_ima_allowlist_sort (&files);
    char *ima = (char *) zmalloc (files.count * 64 + 1);
    for (size_t i = 0; i < files.count; i++)
        keys_hex (files.digests [i], 32, ima + 64 * i);
    json_object_set_new (record, "ima", json_string (ima));
    free (ima);
    attest_ima_allowlist_free (&files);
    json_t *boot = json_array ();
    for (size_t i = 0; i < refs->boot_count; i++) {
        keys_hex (refs->boot [i].digest, 32, hex);
        json_array_append_new (boot, json_pack ("{s:i, s:s}", "pcr", (int) refs->boot [i].pcr,
                                                "sha256", hex));
    }
    json_object_set_new (record, "boot", boot);
    free (refs);
    return record;
}

int
attest_software_follow (store_txn_t *txn, const char *device, const char *tenant,
                        json_t *software, char *note, size_t note_size)
{
    assert (txn && device);
    if (note && note_size)
        note [0] = 0;
    const char *name = s_str (software, "name");
    const char *installed = s_str (software, "installed");
    if (!json_is_object (software) || !streq (s_str (software, "state") ?: "", "committed")
    ||  !s_safe (name, WEFT_NAME_MAX) || !s_safe (installed, MANIFEST_VERSION_MAX)
    ||  !registry_name_valid (device))
        return 0;
    char *key = zsys_sprintf (S_PREFIX "%s/%s", device, name);
    size_t size = 0;
    char *held = (char *) store_get (txn, ATTEST_TABLE, key, strlen (key), &size);
    json_t *old = held? json_loadb (held, size, 0, NULL): NULL;
    free (held);
    //  The same version again changes nothing, unless the repository
    //  did not hold it then: it may have been added since
    bool held_name = old != NULL;
    bool same = old && streq (s_str (old, "version") ?: "", installed);
    bool found = json_is_true (json_object_get (old, "found"));
    json_decref (old);
    if (same && found) {
        free (key);
        return 0;
    }
    if (!held_name) {
        s_scan_t scan = { 0, NULL, NULL, NULL, 0 };
        if (s_scan (txn, device, &scan)) {
            free (key);
            return -1;
        }
        if (scan.names >= ATTEST_SW_NAMES_MAX) {
            if (note)
                snprintf (note, note_size, "%s runs more than %d releases: %s %s not "
                          "followed", device, ATTEST_SW_NAMES_MAX, name, installed);
            free (key);
            return 0;
        }
    }
    //  Only the device's own tenant's repository: a release of the
    //  same name elsewhere is not this device's
    size_t manifest_size = 0;
    uint8_t *manifest = tenant && *tenant? artrepo_manifest (txn, tenant, name, installed,
                                                             &manifest_size): NULL;
    if (same && !manifest) {
        free (key);
        return 0;                   //  Still not there: nothing to write
    }
    json_t *record = s_record (installed, manifest, manifest_size);
    char *text = registry_dump (record);
    int rc = text? store_put (txn, ATTEST_TABLE, key, strlen (key), text, strlen (text)): -1;
    if (note && rc == 0 && manifest) {
        const char *ima = s_str (record, "ima");
        snprintf (note, note_size, "%s now expects %s %s: %zu files, %zu boot measurements",
                  device, name, installed, ima? strlen (ima) / 64: 0,
                  json_array_size (json_object_get (record, "boot")));
    }
    else
    if (note && rc == 0)
        snprintf (note, note_size, "%s now runs %s %s, which its tenant's repository does "
                  "not hold: no reference values", device, name, installed);
    free (text);
    json_decref (record);
    free (manifest);
    free (key);
    return rc? -1: 1;
}

int
attest_software_allowlist (store_txn_t *txn, const char *device,
                           attest_ima_allowlist_t *allow)
{
    assert (txn && device && allow);
    memset (allow, 0, sizeof *allow);
    s_scan_t scan = { 0, allow, NULL, NULL, 0 };
    if (s_scan (txn, device, &scan)) {
        attest_ima_allowlist_free (allow);
        return -1;
    }
    attest_ima_allowlist_sort (allow);
    return 0;
}

json_t *
attest_software_profile (store_txn_t *txn, const char *device, json_t *profile)
{
    assert (txn && device);
    if (!profile)
        return NULL;
    s_scan_t scan = { 0, NULL, NULL, json_object (), 0 };
    if (s_scan (txn, device, &scan)) {
        json_decref (scan.boot);
        return json_incref (profile);
    }
    //  Only a PCR whose events the profile lists can follow a release:
    //  its value is then what the log replays to (the quote covers it,
    //  the log must replay to the quoted value) with each event checked
    //  at its place, so the pinned value would only repeat that check
    //  for the events the profile was written for
    json_t *events = json_object_get (profile, "events");
    json_t *followed = json_object ();
    const char *key;
    json_t *list;
    json_object_foreach (scan.boot, key, list)
        if (json_object_get (events, key))
            json_object_set (followed, key, list);
    json_decref (scan.boot);
    if (json_object_size (followed) == 0) {
        json_decref (followed);
        return json_incref (profile);
    }
    json_t *copy = json_copy (profile);
    json_t *pcrs = json_copy (json_object_get (profile, "pcrs"));
    json_object_foreach (followed, key, list)
        json_object_del (pcrs, key);
    json_object_set_new (copy, "pcrs", pcrs);
    json_object_set_new (copy, "release_events", followed);
    return copy;
}

json_t *
attest_software_show (store_txn_t *txn, const char *device)
{
    assert (txn && device);
    s_scan_t scan = { 0, NULL, json_object (), NULL, 0 };
    s_scan (txn, device, &scan);
    return scan.show;
}

//  --------------------------------------------------------------------------
//  Selftest: releases put in tenants' repositories as artrepo keeps
//  them (the upload itself is artrepo's test), devices' reports followed

//  A manifest of name version naming files (their content's sha256) in
//  tenant's repository
static void
s_release (store_t *store, const char *tenant, const char *name, const char *version,
           const char *files [], size_t count)
{
    manifest_refs_t *refs = (manifest_refs_t *) zmalloc (sizeof (manifest_refs_t));
    for (size_t i = 0; i < count; i++) {
        crypto_hash_sha256 (refs->ima [i].digest, (const uint8_t *) files [i],
                            strlen (files [i]));
        snprintf (refs->ima [i].path, sizeof refs->ima [i].path, "/opt/%s", files [i]);
    }
    refs->ima_count = count;
    refs->boot_count = 1;
    refs->boot [0].pcr = 8;
    manifest_t manifest = { .anti_rollback = 1, .types = "*", .handler = "file",
                            .refs = refs };
    snprintf (manifest.name, sizeof manifest.name, "%s", name);
    snprintf (manifest.version, sizeof manifest.version, "%s", version);
    uint8_t *data;
    size_t size;
    assert (manifest_encode (&manifest, &data, &size) == 0);
    char *key = zsys_sprintf ("man/%s/%s/%s", tenant, name, version);
    store_txn_t *txn = store_begin (store, true);
    assert (store_put (txn, ARTREPO_TABLE, key, strlen (key), data, size) == 0);
    assert (store_commit (&txn) == 0);
    free (key);
    free (data);
    free (refs);
}

//  device of tenant reports software {state, name, installed}: the
//  result of following it
static int
s_report (store_t *store, const char *device, const char *tenant, const char *state,
          const char *name, const char *installed, char *note)
{
    json_t *software = json_pack ("{s:s, s:s, s:s, s:s}", "state", state, "name", name,
                                  "version", installed, "installed", installed);
    store_txn_t *txn = store_begin (store, true);
    int rc = attest_software_follow (txn, device, tenant, software, note, 256);
    assert (store_commit (&txn) == 0);
    json_decref (software);
    return rc;
}

//  Is the content's digest among device's expected files?
static bool
s_expects (store_t *store, const char *device, const char *content)
{
    uint8_t digest [32];
    crypto_hash_sha256 (digest, (const uint8_t *) content, strlen (content));
    attest_ima_allowlist_t allow;
    store_txn_t *txn = store_begin (store, false);
    assert (attest_software_allowlist (txn, device, &allow) == 0);
    store_abort (&txn);
    bool expects = attest_ima_allowed (&allow, digest);
    attest_ima_allowlist_free (&allow);
    return expects;
}

void
attest_software_test (bool verbose)
{
    printf (" * attest_software: ");
    //  @selftest
    char path [] = "/tmp/weft-attest-software-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    const char *v1 [] = { "plc 1.0", "plc.conf 1.0" };
    const char *v2 [] = { "plc 2.0", "plc.conf 1.0" };
    const char *theirs [] = { "globex plc 3.0" };
    s_release (store, "acme", "plc", "1.0", v1, 2);
    s_release (store, "acme", "plc", "2.0", v2, 2);
    s_release (store, "globex", "plc", "3.0", theirs, 1);
    char note [256];

    //  Nothing expected before a commit; a release under way is not
    //  followed, nor a malformed report
    assert (!s_expects (store, "gw-1", "plc 1.0"));
    assert (s_report (store, "gw-1", "acme", "installing", "plc", "1.0", note) == 0);
    assert (s_report (store, "gw-1", "acme", "committed", "../x", "1.0", note) == 0);
    assert (s_report (store, "gw-1", "acme", "committed", "plc", "", note) == 0);
    store_txn_t *txn = store_begin (store, true);
    assert (attest_software_follow (txn, "gw-1", "acme", NULL, note, sizeof note) == 0);
    json_t *odd = json_pack ("{s:i}", "state", 3);
    assert (attest_software_follow (txn, "gw-1", "acme", odd, note, sizeof note) == 0);
    json_decref (odd);
    store_abort (&txn);
    assert (!s_expects (store, "gw-1", "plc 1.0"));

    //  Committed 1.0: its files are expected; once is enough
    assert (s_report (store, "gw-1", "acme", "committed", "plc", "1.0", note) == 1);
    if (verbose)
        printf ("\n   %s", note);
    assert (strstr (note, "gw-1 now expects plc 1.0: 2 files, 1 boot measurements"));
    assert (s_expects (store, "gw-1", "plc 1.0") && s_expects (store, "gw-1", "plc.conf 1.0"));
    assert (!s_expects (store, "gw-1", "plc 2.0"));
    assert (s_report (store, "gw-1", "acme", "committed", "plc", "1.0", note) == 0);
    //  Its boot measurement widens the profile it is checked against
    //  (for a PCR whose events the profile lists: the pinned value
    //  gives way to the events, which the quoted value binds)
    json_t *profile = json_pack ("{s:{s:s, s:s}, s:{s:[s]}}", "pcrs", "8", "p8", "9", "p9",
                                 "events", "8", "00");
    txn = store_begin (store, false);
    json_t *checked = attest_software_profile (txn, "gw-1", profile);
    json_t *other = attest_software_profile (txn, "gw-2", profile);
    store_abort (&txn);
    json_t *boot = json_object_get (json_object_get (checked, "release_events"), "8");
    assert (checked != profile && json_array_size (boot) == 1
            && strlen (json_string_value (json_array_get (boot, 0))) == 64);
    assert (!json_object_get (json_object_get (checked, "pcrs"), "8")
            && json_object_get (json_object_get (checked, "pcrs"), "9"));
    assert (other == profile && !json_object_get (profile, "release_events")
            && json_object_get (json_object_get (profile, "pcrs"), "8"));
    json_decref (checked);
    json_decref (other);
    //  A profile that lists no events of PCR 8 cannot follow: unchanged
    json_object_del (profile, "events");
    txn = store_begin (store, false);
    checked = attest_software_profile (txn, "gw-1", profile);
    store_abort (&txn);
    assert (checked == profile);
    json_decref (checked);
    json_decref (profile);
    //  Another device's expectations are its own
    assert (!s_expects (store, "gw-2", "plc 1.0"));

    //  2.0 replaces 1.0: the file it left is no longer expected, the
    //  one both carry still is
    assert (s_report (store, "gw-1", "acme", "committed", "plc", "2.0", note) == 1);
    assert (s_expects (store, "gw-1", "plc 2.0") && s_expects (store, "gw-1", "plc.conf 1.0"));
    assert (!s_expects (store, "gw-1", "plc 1.0"));
    txn = store_begin (store, false);
    json_t *show = attest_software_show (txn, "gw-1");
    store_abort (&txn);
    assert (json_object_size (show) == 1);
    json_t *row = json_object_get (show, "plc");
    assert (streq (json_string_value (json_object_get (row, "version")), "2.0")
            && json_integer_value (json_object_get (row, "files")) == 2
            && json_array_size (json_object_get (row, "boot")) == 1
            && json_is_true (json_object_get (row, "found")));
    json_decref (show);

    //  Across tenants: a device of globex committing plc 1.0, which
    //  only acme's repository holds, gets nothing of acme's, at its
    //  first report or any later one; its own tenant's 3.0 it gets
    assert (s_report (store, "gw-g", "globex", "committed", "plc", "1.0", note) == 1);
    if (verbose)
        printf ("\n   %s", note);
    assert (strstr (note, "which its tenant's repository does not hold"));
    assert (s_report (store, "gw-g", "globex", "committed", "plc", "1.0", note) == 0);
    assert (!s_expects (store, "gw-g", "plc 1.0") && !s_expects (store, "gw-g", "plc.conf 1.0"));
    //  (a release added to the tenant's repository after the commit
    //  counts from the device's next report)
    const char *late [] = { "plc 1.5" };
    assert (s_report (store, "gw-1", "acme", "committed", "plc", "1.5", note) == 1);
    assert (!s_expects (store, "gw-1", "plc 1.5"));
    s_release (store, "acme", "plc", "1.5", late, 1);
    assert (s_report (store, "gw-1", "acme", "committed", "plc", "1.5", note) == 1);
    assert (s_expects (store, "gw-1", "plc 1.5"));
    assert (s_report (store, "gw-g", "globex", "committed", "plc", "3.0", note) == 1);
    assert (s_expects (store, "gw-g", "globex plc 3.0"));
    //  ... and acme's device committing 3.0 gets nothing of globex's,
    //  and loses 1.5's files: it left that release
    assert (s_report (store, "gw-1", "acme", "committed", "plc", "3.0", note) == 1);
    assert (!s_expects (store, "gw-1", "globex plc 3.0") && !s_expects (store, "gw-1", "plc 1.5"));
    //  A device with no tenant gets nothing
    assert (s_report (store, "gw-0", "", "committed", "plc", "1.0", note) == 1);
    assert (!s_expects (store, "gw-0", "plc 1.0"));

    //  Bounded: at most ATTEST_SW_NAMES_MAX names per device
    for (int i = 0; i < ATTEST_SW_NAMES_MAX; i++) {
        char name [16];
        snprintf (name, sizeof name, "app%d", i);
        assert (s_report (store, "gw-3", "acme", "committed", name, "1.0", note) == 1);
    }
    assert (s_report (store, "gw-3", "acme", "committed", "one-more", "1.0", note) == 0);
    assert (strstr (note, "more than 8 releases"));
    //  ... a name it already runs still moves
    assert (s_report (store, "gw-3", "acme", "committed", "app0", "2.0", note) == 1);

    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("%sOK\n", verbose? "\n   ": "");
}
