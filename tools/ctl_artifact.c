/*  ctl_artifact - weftctl's commands of the artifact repository
    artifact add FILE.wbd [--tenant T]          upload a bundle
    artifact list [NAME] [--tenant T]           the tenant's releases
    artifact show NAME [VERSION] [--tenant T]   one release (or its versions)
    artifact remove NAME VERSION [--tenant T]   remove a release
    bundle import FILE --node EP --node-key HEX  a bundle into a site server
    A bundle is megabytes and one call carries 64 KiB of arguments, so
    add sends it in parts: artifact.upload announces the size, then
    artifact.part carries the bytes in order (as hex), read from the
    file one part at a time. The coordinator checks every record as it
    arrives and takes the bundle in at its end record; the last part's
    answer is the report. A part whose answer was lost is sent again:
    the coordinator says how much it holds. On a terminal the progress
    goes to stderr. bundle import sends a bundle the same way to a site
    server's operator port, then has it imported and follows it.  */

#include <czmq.h>
#include <sodium.h>
#include "tools/ctl.h"

#define S_PART_BYTES    30000           //  = ARTREPO_PART_MAX
#define S_TRIES         3               //  Sends of one part before giving up

int
ctl_parse_artifact (ctl_t *self, int argc, char **argv, const char **method_p,
                    json_t **args_p)
{
    (void) self;
    const char *verb = argc > 1? argv [1]: "";
    if (streq (verb, "add") && argc == 3) {
        FILE *file = fopen (argv [2], "rb");
        struct stat st;
        bool readable = file && fstat (fileno (file), &st) == 0 && S_ISREG (st.st_mode)
                     && st.st_size > 0;
        if (file)
            fclose (file);
        if (!readable) {
            ctl_fail ("%s: cannot read it, or empty, or not a file", argv [2]);
            return CTL_USAGE;
        }
        *method_p = "artifact.upload";
        *args_p = json_pack ("{s:s}", "file", argv [2]);
    }
    else
    if (streq (verb, "list") && (argc == 2 || argc == 3)) {
        *method_p = "artifact.list";
        *args_p = argc == 3? json_pack ("{s:s}", "name", argv [2]): json_object ();
    }
    else
    if (streq (verb, "show") && argc == 3) {
        //  Without a version: the versions held of that name
        *method_p = "artifact.list";
        *args_p = json_pack ("{s:s}", "name", argv [2]);
    }
    else
    if ((streq (verb, "show") || streq (verb, "remove")) && argc == 4) {
        *method_p = streq (verb, "show")? "artifact.show": "artifact.remove";
        *args_p = json_pack ("{s:s, s:s}", "name", argv [2], "version", argv [3]);
    }
    else
        return -1;
    const char *tenant = keyfile_get (self->options, "tenant");
    if (tenant)
        json_object_set_new (*args_p, "tenant", json_string (tenant));
    return CTL_OK;
}

//  One part, sent again when its answer did not come; the answer's
//  received tells where the receiver is. artifact.part carries
//  {upload, offset, data}; node.bundle.put the total size too.
static int
s_part (ctl_t *self, const char *method, const char *id, uint64_t offset, uint64_t total,
        const uint8_t *data, size_t size, json_t **result_p)
{
    char *hex = (char *) zmalloc (2 * size + 1);
    keys_hex (data, size, hex);
    int rc = CTL_UNREACHABLE;
    for (int attempt = 0; attempt < S_TRIES && rc == CTL_UNREACHABLE; attempt++) {
        json_t *args = json_pack ("{s:s, s:I, s:s}", "upload", id, "offset",
                                  (json_int_t) offset, "data", hex);
        if (streq (method, "node.bundle.put"))
            json_object_set_new (args, "size", json_integer ((json_int_t) total));
        rc = ctl_call (self, method, args, result_p);
    }
    free (hex);
    return rc;
}

//  The whole file in parts, in order; the last part's answer in
//  *result_p. On a terminal the progress goes to stderr.
static int
s_send (ctl_t *self, const char *method, const char *id, FILE *file, const char *name,
        uint64_t size, json_t **result_p)
{
    json_t *result = NULL;
    bool terminal = isatty (STDERR_FILENO) && !self->json;
    uint8_t *part = (uint8_t *) zmalloc (S_PART_BYTES);
    uint64_t offset = 0;
    int rc = CTL_OK;
    while (rc == CTL_OK && offset < size) {
        size_t want = size - offset < S_PART_BYTES? (size_t) (size - offset): S_PART_BYTES;
        if (fseeko (file, (off_t) offset, SEEK_SET) || fread (part, 1, want, file) != want) {
            ctl_fail ("%s: cannot read at byte %llu (changed while sent?)", name,
                      (unsigned long long) offset);
            rc = CTL_REFUSED;
            break;
        }
        json_decref (result);
        rc = s_part (self, method, id, offset, size, part, want, &result);
        uint64_t received = (uint64_t) ctl_int (result, "received");
        if (rc == CTL_OK && (received <= offset || received > size)) {
            ctl_fail ("upload %s: the receiver holds %llu bytes after the part at %llu",
                      id, (unsigned long long) received, (unsigned long long) offset);
            rc = CTL_REFUSED;
        }
        if (rc == CTL_OK)
            offset = received;
        if (terminal)
            fprintf (stderr, "\rweftctl: %s: %llu of %llu bytes (%d%%)", name,
                     (unsigned long long) offset, (unsigned long long) size,
                     (int) (offset * 100 / size));
    }
    if (terminal)
        fprintf (stderr, "\n");
    free (part);
    if (rc == CTL_OK)
        *result_p = result;
    else
        json_decref (result);
    return rc;
}

int
ctl_artifact_add (ctl_t *self, json_t *args, json_t **result_p)
{
    *result_p = NULL;
    const char *path = ctl_str (args, "file");
    FILE *file = fopen (path, "rb");
    struct stat st;
    if (!file || fstat (fileno (file), &st)) {
        ctl_fail ("%s: %s", path, strerror (errno));
        if (file)
            fclose (file);
        json_decref (args);
        return CTL_REFUSED;
    }
    char *name = strdup (path);
    json_object_del (args, "file");
    json_object_set_new (args, "size", json_integer ((json_int_t) st.st_size));
    json_t *result = NULL;
    int rc = ctl_call (self, "artifact.upload", args, &result);
    char id [17] = "";
    snprintf (id, sizeof id, "%s", rc == CTL_OK? ctl_str (result, "upload"): "");
    json_decref (result);
    if (rc == CTL_OK)
        rc = s_send (self, "artifact.part", id, file, name, (uint64_t) st.st_size, result_p);
    free (name);
    fclose (file);
    return rc;
}

//  weftctl bundle import FILE --node EP --node-key HEX: the bundle in
//  parts to a site server's operator port (node/io/bundlein.h), then
//  its import, followed until it ends
int
ctl_bundle_import (ctl_t *self, json_t *args, json_t **result_p)
{
    *result_p = NULL;
    char *path = strdup (ctl_str (args, "file"));
    json_decref (args);
    FILE *file = fopen (path, "rb");
    struct stat st;
    if (!file || fstat (fileno (file), &st) || st.st_size == 0) {
        ctl_fail ("%s: %s", path, file? "empty": strerror (errno));
        if (file)
            fclose (file);
        free (path);
        return CTL_REFUSED;
    }
    //  The hash the node checks the whole upload against
    crypto_generichash_state state;
    crypto_generichash_init (&state, NULL, 0, 32);
    uint8_t buffer [65536], hash [32];
    size_t got;
    while ((got = fread (buffer, 1, sizeof buffer, file)) > 0)
        crypto_generichash_update (&state, buffer, got);
    crypto_generichash_final (&state, hash, 32);
    char hash_hex [65], id [17];
    keys_hex (hash, 32, hash_hex);
    uint8_t id_bin [8];
    randombytes_buf (id_bin, sizeof id_bin);
    keys_hex (id_bin, sizeof id_bin, id);
    json_t *result = NULL;
    int rc = s_send (self, "node.bundle.put", id, file, path, (uint64_t) st.st_size, &result);
    fclose (file);
    json_decref (result);
    result = NULL;
    if (rc == CTL_OK)
        rc = ctl_call (self, "node.bundle.import",
                       json_pack ("{s:s, s:s}", "upload", id, "hash", hash_hex), &result);
    //  Followed until it ends: each answer says how far it is
    const char *at = rc == CTL_OK? ctl_str (result, "state"): "";
    while (rc == CTL_OK && (streq (at, "checking") || streq (at, "storing"))) {
        zclock_sleep (200);
        json_decref (result);
        result = NULL;
        rc = ctl_call (self, "node.bundle.status", json_pack ("{s:s}", "upload", id), &result);
        at = rc == CTL_OK? ctl_str (result, "state"): "";
    }
    if (rc == CTL_OK && !streq (at, "done")) {
        ctl_fail ("%s: %s", path, ctl_str (result, "text"));
        rc = CTL_REFUSED;
    }
    free (path);
    if (rc == CTL_OK)
        *result_p = result;
    else
        json_decref (result);
    return rc;
}

static void
s_show_release (json_t *release)
{
    printf ("%s %s\n", ctl_str (release, "name"), ctl_str (release, "version"));
    printf ("  tenant         %s\n", ctl_str (release, "tenant"));
    printf ("  manifest       %s (%lld bytes)\n", ctl_str (release, "manifest_hash"),
            (long long) ctl_int (release, "manifest_size"));
    printf ("  size           %lld bytes in %lld chunks\n", (long long) ctl_int (release, "size"),
            (long long) ctl_int (release, "chunks"));
    printf ("  types          %s\n  handler        %s\n  anti-rollback  %lld\n",
            ctl_str (release, "types"), ctl_str (release, "handler"),
            (long long) ctl_int (release, "anti_rollback"));
}

bool
ctl_show_artifact (const char *method, json_t *result)
{
    size_t index;
    json_t *item;
    if (streq (method, "artifact.upload")) {
        json_array_foreach (json_object_get (result, "releases"), index, item)
            printf ("added %s %s to tenant %s\n", ctl_str (item, "name"),
                    ctl_str (item, "version"), ctl_str (result, "tenant"));
        printf ("%lld chunks received\n", (long long) ctl_int (result, "chunks"));
        if (ctl_int (result, "deltas") > 0)
            printf ("%lld deltas kept for the sites' uplinks\n",
                    (long long) ctl_int (result, "deltas"));
        return true;
    }
    if (streq (method, "artifact.list")) {
        json_t *releases = json_object_get (result, "releases");
        if (json_array_size (releases) == 0) {
            printf ("no releases\n");
            return true;
        }
        printf ("%-24s %-16s %12s %7s  %-16s %s\n", "NAME", "VERSION", "BYTES", "CHUNKS",
                "TYPES", "MANIFEST");
        json_array_foreach (releases, index, item)
            printf ("%-24s %-16s %12lld %7lld  %-16s %.16s\n", ctl_str (item, "name"),
                    ctl_str (item, "version"), (long long) ctl_int (item, "size"),
                    (long long) ctl_int (item, "chunks"), ctl_str (item, "types"),
                    ctl_str (item, "manifest_hash"));
        return true;
    }
    if (streq (method, "artifact.show")) {
        s_show_release (result);
        return true;
    }
    if (streq (method, "node.bundle.import")) {
        printf ("upload %s imported: %s\n", ctl_str (result, "upload"), ctl_str (result, "text"));
        return true;
    }
    if (streq (method, "artifact.remove")) {
        printf ("removed %s %s from tenant %s\n", ctl_str (result, "name"),
                ctl_str (result, "version"), ctl_str (result, "tenant"));
        return true;
    }
    return false;
}
