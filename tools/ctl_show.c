/*  ctl_show - weftctl's output for people: tables, documents, times
    Reads replies through accessors that tolerate missing or mistyped
    fields, so a newer coordinator's reply still prints.  */

#include <czmq.h>
#include <time.h>
#include "tools/ctl.h"

//  --------------------------------------------------------------------------
//  "3s ago", "4m ago", "2h ago", "5d ago" or "never".

static void
s_format_ago (int64_t then_s, int64_t now_s, char *buf, size_t size)
{
    if (then_s <= 0) {
        snprintf (buf, size, "never");
        return;
    }
    int64_t age = now_s - then_s;
    if (age < 0)
        age = 0;
    if (age < 120)
        snprintf (buf, size, "%llds ago", (long long) age);
    else
    if (age < 7200)
        snprintf (buf, size, "%lldm ago", (long long) (age / 60));
    else
    if (age < 2 * 86400)
        snprintf (buf, size, "%lldh ago", (long long) (age / 3600));
    else
        snprintf (buf, size, "%lldd ago", (long long) (age / 86400));
}


//  --------------------------------------------------------------------------
//  UTC time as ISO 8601, or "-" for 0.

static void
s_format_time (int64_t when_s, char *buf, size_t size)
{
    if (when_s <= 0) {
        snprintf (buf, size, "-");
        return;
    }
    time_t when = (time_t) when_s;
    struct tm tm;
    gmtime_r (&when, &tm);
    strftime (buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}


//  --------------------------------------------------------------------------
//  Small accessors that tolerate missing or mistyped fields in a reply:
//  weftctl prints what it got rather than crash on a newer coordinator.

const char *
ctl_str (json_t *obj, const char *key)
{
    const char *value = json_string_value (json_object_get (obj, key));
    return value? value: "";
}

int64_t
ctl_int (json_t *obj, const char *key)
{
    json_t *value = json_object_get (obj, key);
    if (json_is_integer (value))
        return (int64_t) json_integer_value (value);
    if (json_is_real (value))
        return (int64_t) json_real_value (value);
    return 0;
}

static void
s_print_doc (const char *label, json_t *doc)
{
    //  Small documents read best on one line, large ones indented
    char *text = doc? jsontext_dumps (doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY): NULL;
    if (!text) {
        printf ("%s: {}\n", label);
        return;
    }
    if (strlen (text) > 60) {
        free (text);
        text = jsontext_dumps (doc, JSON_INDENT (2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    }
    else {
        free (text);
        text = jsontext_dumps (doc, JSON_SORT_KEYS | JSON_ENCODE_ANY);
    }
    //  Indent every line of the document under its label
    printf ("%s:", label);
    if (strchr (text, '\n')) {
        printf ("\n  ");
        for (char *c = text; *c; c++) {
            putchar (*c);
            if (*c == '\n')
                printf ("  ");
        }
        printf ("\n");
    }
    else
        printf (" %s\n", text);
    free (text);
}

//  --------------------------------------------------------------------------
//  Print a table: rows of cells, columns padded to the widest cell.

#define CTL_COLUMNS_MAX 12

static void
s_print_table (zlist_t *rows, int columns)
{
    size_t width [CTL_COLUMNS_MAX] = { 0 };
    for (char **row = (char **) zlist_first (rows); row; row = (char **) zlist_next (rows))
        for (int col = 0; col < columns; col++)
            if (strlen (row [col]) > width [col])
                width [col] = strlen (row [col]);
    for (char **row = (char **) zlist_first (rows); row; row = (char **) zlist_next (rows)) {
        for (int col = 0; col < columns; col++) {
            if (col == columns - 1)
                printf ("%s\n", row [col]);
            else
                printf ("%-*s  ", (int) width [col], row [col]);
        }
    }
}

static char **
s_row_new (int columns, ...)
{
    char **row = (char **) zmalloc (sizeof (char *) * columns);
    va_list args;
    va_start (args, columns);
    for (int col = 0; col < columns; col++)
        row [col] = strdup (va_arg (args, const char *));
    va_end (args);
    return row;
}

static void
s_rows_destroy (zlist_t **rows_p, int columns)
{
    char **row;
    while ((row = (char **) zlist_pop (*rows_p))) {
        for (int col = 0; col < columns; col++)
            free (row [col]);
        free (row);
    }
    zlist_destroy (rows_p);
}


//  --------------------------------------------------------------------------
//  Human output for each command.

static void
s_show_device_list (json_t *result)
{
    json_t *devices = json_object_get (result, "devices");
    int64_t now_s = (int64_t) (ctl_now_us () / 1000000);
    zlist_t *rows = zlist_new ();
    zlist_append (rows, s_row_new (11, "ID", "TENANT", "TYPE", "ASSURANCE", "PATH", "FW",
                                   "STATE", "LAST SEEN", "DESIRED", "REPORTED", "HOPS"));
    size_t index;
    json_t *device;
    size_t online = 0;
    json_array_foreach (devices, index, device) {
        char ago [32], desired [24], reported [24], hops [24];
        snprintf (hops, sizeof (hops), "%lld", (long long) ctl_int (device, "hops"));
        s_format_ago (ctl_int (device, "last_seen"), now_s, ago, sizeof (ago));
        snprintf (desired, sizeof (desired), "%lld",
                  (long long) ctl_int (device, "desired_version"));
        snprintf (reported, sizeof (reported), "%lld",
                  (long long) ctl_int (device, "reported_version"));
        bool is_online = json_is_true (json_object_get (device, "online"));
        online += is_online;
        const char *tenant = ctl_str (device, "tenant");
        const char *path = ctl_str (device, "path");
        const char *fw = ctl_str (device, "fw");
        const char *assurance = ctl_str (device, "assurance");
        zlist_append (rows, s_row_new (11, ctl_str (device, "id"), *tenant? tenant: "-",
                                       ctl_str (device, "type"), *assurance? assurance: "software",
                                       *path? path: "-",
                                       *fw? fw: "-", is_online? "online": "offline",
                                       ago, desired, reported,
                                       ctl_int (device, "hops")? hops: "-"));
    }
    s_print_table (rows, 11);
    s_rows_destroy (&rows, 11);
    printf ("%zu device%s, %zu online\n", json_array_size (devices),
            json_array_size (devices) == 1? "": "s", online);
    if (json_is_true (json_object_get (result, "truncated"))) {
        if (json_object_get (result, "total"))
            printf ("showing the first %zu of %lld; narrow with --query or raise --limit\n",
                    json_array_size (devices), (long long) ctl_int (result, "total"));
        else
            printf ("showing the first %zu; narrow with --query or raise --limit\n",
                    json_array_size (devices));
    }
}

static void
s_show_device (json_t *result)
{
    int64_t now_s = (int64_t) (ctl_now_us () / 1000000);
    char ago [32], enrolled [32];
    s_format_ago (ctl_int (result, "last_seen"), now_s, ago, sizeof (ago));
    s_format_time (ctl_int (result, "enrolled"), enrolled, sizeof (enrolled));
    const char *tenant = ctl_str (result, "tenant");
    printf ("id:               %s\n", ctl_str (result, "id"));
    printf ("tenant:           %s\n", *tenant? tenant: "-");
    printf ("type:             %s\n", ctl_str (result, "type"));
    printf ("role:             %s\n", ctl_str (result, "role"));
    printf ("state:            %s\n",
            json_is_true (json_object_get (result, "online"))? "online": "offline");
    printf ("last seen:        %s\n", ago);
    printf ("enrolled:         %s\n", enrolled);
    printf ("cert serial:      %lld\n", (long long) ctl_int (result, "cert_serial"));
    printf ("assurance:        %s\n", ctl_str (result, "assurance"));
    if (*ctl_str (result, "ak_name")) {
        printf ("TPM EK:           %s (accepted: %s)\n", ctl_str (result, "ek"),
                ctl_str (result, "ek_via"));
        printf ("TPM AK name:      %s\n", ctl_str (result, "ak_name"));
    }
    printf ("sign key:         %s\n", ctl_str (result, "sign_key"));
    printf ("curve key:        %s\n", ctl_str (result, "curve_key"));
    printf ("desired version:  %lld\n", (long long) ctl_int (result, "desired_version"));
    printf ("reported version: %lld\n", (long long) ctl_int (result, "reported_version"));
    printf ("hops:             %lld\n", (long long) ctl_int (result, "hops"));
    json_t *mesh = json_object_get (result, "mesh");
    if (json_object_size (mesh)) {
        char *text = jsontext_dumps (mesh, JSON_COMPACT | JSON_SORT_KEYS);
        printf ("mesh counters:    %s\n", text? text: "{}");
        free (text);
    }
    const char *meta [][2] = {
        { "path", "path:             " }, { "asset", "asset:            " },
        { "hw", "hardware:         " }, { "fw", "firmware:         " },
        { "sw", "software:         " }, { "location", "location:         " }
    };
    for (size_t i = 0; i < sizeof (meta) / sizeof (meta [0]); i++) {
        const char *value = ctl_str (result, meta [i][0]);
        printf ("%s%s\n", meta [i][1], *value? value: "-");
    }
    json_t *tags = json_object_get (result, "tags");
    printf ("tags:            ");
    const char *key;
    json_t *value;
    if (json_object_size (tags) == 0)
        printf (" -");
    json_object_foreach (tags, key, value)
        printf (" %s=%s", key, json_string_value (value)? json_string_value (value): "");
    printf ("\n");
}

static void
s_show_batch (json_t *result)
{
    json_t *devices = json_object_get (result, "devices");
    bool dry_run = json_is_true (json_object_get (result, "dry_run"));
    long long matched = (long long) ctl_int (result, "matched");
    printf ("%s %lld device%s matching %s%s\n", dry_run? "would change": "changed",
            matched, matched == 1? "": "s", ctl_str (result, "query"), matched? ":": "");
    size_t index;
    json_t *id;
    json_array_foreach (devices, index, id)
        printf ("  %s\n", json_string_value (id)? json_string_value (id): "?");
}

static void
s_show_import (json_t *result)
{
    const char *kinds [][2] = { { "created", "+" }, { "updated", "~" }, { "removed", "-" } };
    for (size_t k = 0; k < 3; k++) {
        size_t index;
        json_t *path;
        json_array_foreach (json_object_get (result, kinds [k][0]), index, path)
            printf ("%s %s\n", kinds [k][1], json_string_value (path));
    }
    printf ("created %zu, updated %zu, removed %zu, unchanged %lld\n",
            json_array_size (json_object_get (result, "created")),
            json_array_size (json_object_get (result, "updated")),
            json_array_size (json_object_get (result, "removed")),
            (long long) ctl_int (result, "unchanged"));
}

static void
s_show_audit (json_t *result)
{
    json_t *records = json_object_get (result, "records");
    zlist_t *rows = zlist_new ();
    zlist_append (rows, s_row_new (8, "SEQ", "TIME", "ACTOR", "ACTION", "SCOPE", "TARGET",
                                   "STATUS", "SOURCE"));
    size_t index;
    json_t *record;
    json_array_foreach (records, index, record) {
        char seq [24], when [32];
        snprintf (seq, sizeof (seq), "%lld", (long long) ctl_int (record, "seq"));
        s_format_time (ctl_int (record, "time") / 1000, when, sizeof (when));
        const char *scope = ctl_str (record, "scope");
        const char *target = ctl_str (record, "target");
        const char *source = ctl_str (record, "source");
        zlist_append (rows, s_row_new (8, seq, when, ctl_str (record, "actor"),
                                       ctl_str (record, "action"), *scope? scope: "-",
                                       *target? target: "-", ctl_str (record, "status"),
                                       *source? source: "-"));
    }
    s_print_table (rows, 8);
    s_rows_destroy (&rows, 8);
}

//  A site server's refusals (node audit)
static void
s_show_node_audit (json_t *result)
{
    zlist_t *rows = zlist_new ();
    zlist_append (rows, s_row_new (7, "SEQ", "TIME", "ACTOR", "ACTION", "STATUS", "SOURCE",
                                   "REASON"));
    size_t index;
    json_t *record;
    json_array_foreach (json_object_get (result, "records"), index, record) {
        char seq [24], when [32];
        snprintf (seq, sizeof (seq), "%lld", (long long) ctl_int (record, "seq"));
        s_format_time (ctl_int (record, "time") / 1000, when, sizeof (when));
        const char *source = ctl_str (record, "source");
        zlist_append (rows, s_row_new (7, seq, when, ctl_str (record, "actor"),
                                       ctl_str (record, "action"), ctl_str (record, "status"),
                                       *source? source: "-", ctl_str (record, "error")));
    }
    s_print_table (rows, 7);
    s_rows_destroy (&rows, 7);
}

static void
s_show_twin (json_t *result)
{
    int64_t desired = ctl_int (result, "desired_version");
    int64_t applied = ctl_int (result, "applied_version");
    const char *status = ctl_str (result, "status");
    printf ("device:           %s\n", ctl_str (result, "id"));
    printf ("desired version:  %lld\n", (long long) desired);
    printf ("reported version: %lld\n", (long long) ctl_int (result, "reported_version"));
    //  A device reports the version it tried; status says if it worked
    bool failed = *status && !streq (status, "ok");
    printf ("applied version:  %lld%s\n", (long long) applied,
            failed? " (failed)": applied == desired? " (in sync)": " (pending)");
    printf ("status:           %s\n", *status? status: "-");
    s_print_doc ("desired", json_object_get (result, "desired"));
    s_print_doc ("reported", json_object_get (result, "reported"));
}

static void
s_show_twin_set (json_t *result)
{
    printf ("%s: desired version %lld\n", ctl_str (result, "id"),
            (long long) ctl_int (result, "desired_version"));
    s_print_doc ("desired", json_object_get (result, "desired"));
}

static void
s_show_token (json_t *result)
{
    char expires [32];
    s_format_time (ctl_int (result, "expires"), expires, sizeof (expires));
    const char *tenant = ctl_str (result, "tenant");
    const char *file = ctl_str (result, "file");
    if (!*file)
        printf ("%s\n", ctl_str (result, "token"));
    fprintf (stderr, "token %s for tenant %s, single use, expires %s%s%s\n",
             ctl_str (result, "id"), *tenant? tenant: "-", expires,
             *file? ", written to ": "", file);
}

static void
s_show_stats (json_t *result)
{
    const char *key;
    json_t *value;
    size_t width = 0;
    json_object_foreach (result, key, value)
        if (strlen (key) > width)
            width = strlen (key);
    //  Sorted, so the output is stable for people and diffs
    zlist_t *keys = zlist_new ();
    json_object_foreach (result, key, value)
        zlist_append (keys, (void *) key);
    zlist_sort (keys, (zlist_compare_fn *) strcmp);
    for (key = (const char *) zlist_first (keys); key; key = (const char *) zlist_next (keys)) {
        char *text = jsontext_dumps (json_object_get (result, key), JSON_ENCODE_ANY | JSON_COMPACT);
        printf ("%-*s  %s\n", (int) width, key, text? text: "?");
        free (text);
    }
    zlist_destroy (&keys);
}

//  --------------------------------------------------------------------------
//  Print a method's result for people (main prints it raw with --json).
//  Returns CTL_OK, or CTL_REFUSED when the result is itself a failure:
//  a device that failed attestation, an audit log that is broken.

int
ctl_show_result (const char *method, json_t *result)
{
    int rc = CTL_OK;
    if (ctl_show_release (method, result) || ctl_show_artifact (method, result)
    ||  ctl_show_campaign (method, result))
        return rc;
    if (streq (method, "device.list"))
        s_show_device_list (result);
    else
    if (streq (method, "device.show"))
        s_show_device (result);
    else
    if (streq (method, "attest.status")) {
        //  Overdue and cleared only when there are some: the first line
        //  stays what scripts read when nobody is late
        printf ("%lld verdicts: %lld passed, %lld failed",
                (long long) ctl_int (result, "verdicts"), (long long) ctl_int (result, "passed"),
                (long long) ctl_int (result, "failed"));
        if (ctl_int (result, "overdue"))
            printf (", %lld overdue", (long long) ctl_int (result, "overdue"));
        if (ctl_int (result, "cleared"))
            printf (", %lld cleared", (long long) ctl_int (result, "cleared"));
        printf ("\n");
        size_t index;
        json_t *failing;
        json_array_foreach (json_object_get (result, "failing"), index, failing)
            printf ("%s %s: %s\n", streq (ctl_str (failing, "state"), "overdue")? "OVERDUE"
                    : "FAILED", ctl_str (failing, "device"), ctl_str (failing, "reason"));
    }
    else
    if (streq (method, "attest.show")) {
        json_t *verdict = json_object_get (result, "verdict");
        char when [32];
        s_format_time (ctl_int (verdict, "time"), when, sizeof (when));
        const char *state = ctl_str (result, "state");
        bool quarantined = json_is_true (json_object_get (result, "quarantined"));
        printf ("id:               %s\n", ctl_str (result, "id"));
        printf ("assurance:        %s\n", ctl_str (result, "assurance"));
        if (*state) {
            char due [32] = "";
            if (ctl_int (result, "due_ms") > 0)
                s_format_time (ctl_int (result, "due_ms") / 1000, due, sizeof due);
            printf ("state:            %s%s%s%s\n", state, *due? " (due ": "", due,
                    *due? ")": "");
        }
        if (!json_is_object (verdict))
            printf ("verdict:          none yet\n");
        else {
            bool ok = json_is_true (json_object_get (verdict, "ok"));
            bool cleared = json_is_true (json_object_get (verdict, "cleared"));
            printf ("verdict:          %s\n", cleared? "cleared": ok? "passed": "FAILED");
            printf ("reason:           %s\n", ctl_str (verdict, "reason"));
            printf ("checked:          %s\n", when);
            if (*ctl_str (verdict, "via"))
                printf ("verified by:      %s (site server, while cut off; checked "
                        "again here%s)\n", ctl_str (verdict, "via"),
                        json_is_true (json_object_get (verdict, "disagrees"))
                        ? ": DISAGREES with the site": "");
            if (quarantined)
                printf ("quarantined:      yes (no twin traffic until it passes "
                        "or 'weftctl attest clear')\n");
            json_t *ima = json_object_get (verdict, "ima");
            if (!ok && ctl_int (verdict, "pcr") >= 0)
                printf ("first mismatch:   PCR %lld, %s #%lld\n",
                        (long long) ctl_int (verdict, "pcr"), ima? "IMA entry": "event",
                        (long long) ctl_int (verdict, "event"));
            if (ima)
                printf ("IMA:              %lld entries sent from #%lld, "
                        "%lld verified in all\n", (long long) ctl_int (ima, "sent"),
                        (long long) ctl_int (ima, "from"),
                        (long long) ctl_int (ima, "verified"));
            printf ("events in log:    %lld\n", (long long) ctl_int (verdict, "events"));
            //  What the device's committed releases add to its expected state
            const char *name;
            json_t *release;
            json_object_foreach (json_object_get (result, "software"), name, release)
                printf ("expects release:  %s %s (%lld files, %zu boot measurements%s)\n",
                        name, ctl_str (release, "version"),
                        (long long) ctl_int (release, "files"),
                        json_array_size (json_object_get (release, "boot")),
                        json_is_true (json_object_get (release, "found"))
                        ? "": "; not in the tenant's repository");
            const char *key;
            json_t *value;
            json_object_foreach (json_object_get (verdict, "pcrs"), key, value)
                printf ("PCR %-2s            %s\n", key, json_string_value (value));
        }
        //  Refused unless it may take part: failed, overdue or never attested
        if (!json_is_object (verdict) || !json_is_true (json_object_get (verdict, "ok"))
        ||  quarantined)
            rc = CTL_REFUSED;
    }
    else
    if (streq (method, "attest.profile.set"))
        printf ("profile of %s set for %s%s\n", ctl_str (result, "type"),
                *ctl_str (result, "tenant")? "tenant ": "the devices without a tenant",
                ctl_str (result, "tenant"));
    else
    if (streq (method, "attest.clear"))
        printf ("%s done\n", method);
    else
    if (streq (method, "attest.allowlist.set"))
        printf ("IMA allowlist set for %s%s: %d digests\n",
                *ctl_str (result, "tenant")? "tenant ": "the devices without a tenant",
                ctl_str (result, "tenant"),
                (int) json_integer_value (json_object_get (result, "digests")));
    else
    if (streq (method, "device.preregister"))
        printf ("device %s pre-registered (EK %.16s...), tenant %s, path %s\n",
                ctl_str (result, "id"), ctl_str (result, "ek"),
                *ctl_str (result, "tenant")? ctl_str (result, "tenant"): "-",
                *ctl_str (result, "path")? ctl_str (result, "path"): "-");
    else
    if (streq (method, "operator.revoke"))
        printf ("operator %s revoked (revocation list version %lld)\n",
                ctl_str (result, "name"), (long long) ctl_int (result, "revocations_version"));
    else
    if (streq (method, "node.stats") || streq (method, "audit.head")) {
        char *text = jsontext_dumps (result, JSON_INDENT (2) | JSON_SORT_KEYS);
        printf ("%s\n", text);
        free (text);
    }
    else
    if (streq (method, "device.revoke"))
        printf ("device %s revoked (revocation list version %lld)\n",
                ctl_str (result, "id"), (long long) ctl_int (result, "revocations_version"));
    else
    if (streq (method, "twin.get"))
        s_show_twin (result);
    else
    if (streq (method, "twin.set"))
        s_show_twin_set (result);
    else
    if (streq (method, "token.create"))
        s_show_token (result);
    else
    if (streq (method, "device.set"))
        s_show_device (result);
    else
    if (streq (method, "device.count"))
        printf ("%lld\n", (long long) ctl_int (result, "count"));
    else
    if (strncmp (method, "batch.", 6) == 0)
        s_show_batch (result);
    else
    if (streq (method, "hierarchy.import"))
        s_show_import (result);
    else
    if (streq (method, "hierarchy.export")) {
        char *text = jsontext_dumps (result, JSON_INDENT (2) | JSON_SORT_KEYS);
        printf ("%s\n", text);
        free (text);
    }
    else
    if (streq (method, "audit.list"))
        s_show_audit (result);
    else
    if (streq (method, "node.audit"))
        s_show_node_audit (result);
    else
    if (streq (method, "audit.verify")) {
        const char *tenant = ctl_str (result, "tenant");
        if (json_is_true (json_object_get (result, "intact")))
            printf ("audit log%s%s intact: %lld records, head %s, signed by the CA%s\n",
                    *tenant? " of tenant ": "", tenant,
                    (long long) ctl_int (result, "records"), ctl_str (result, "head"),
                    json_is_true (json_object_get (result, "anchored"))
                    ? ", anchor found": "");
        else {
            ctl_fail ("audit log%s%s broken: %s", *tenant? " of tenant ": "", tenant,
                      ctl_str (result, "error"));
            rc = CTL_REFUSED;
        }
    }
    else
    if (streq (method, "operator.grant")) {
        size_t index;
        json_t *grant;
        printf ("%s:", ctl_str (result, "name"));
        json_array_foreach (json_object_get (result, "grants"), index, grant)
            printf (" %s@%s", ctl_str (grant, "role"),
                    *ctl_str (grant, "path")? ctl_str (grant, "path"): "*");
        printf ("\n");
    }
    else
        s_show_stats (result);
    return rc;
}
