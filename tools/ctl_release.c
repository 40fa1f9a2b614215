/*  ctl_release - weftctl's commands of software releases
    release root set --tenant T FILE    the tenant's signed release root
    release root show --tenant T        what the coordinator holds
    The root file is the signed bytes as weft-artifact root and sign
    wrote them; it travels as hex in the call's args.  */

#include <czmq.h>
#include "tools/ctl.h"

#define S_ROOT_MAX      (64 * 1024)     //  As the coordinator (RELROOT_MAX)

int
ctl_parse_release (ctl_t *self, int argc, char **argv, const char **method_p,
                   json_t **args_p)
{
    const char *tenant = keyfile_get (self->options, "tenant");
    if (argc == 4 && streq (argv [1], "root") && streq (argv [2], "set")) {
        zfile_t *file = zfile_new (NULL, argv [3]);
        zchunk_t *chunk = file && zfile_input (file) == 0
                        ? zfile_read (file, S_ROOT_MAX + 1, 0): NULL;
        zfile_destroy (&file);
        if (!chunk || zchunk_size (chunk) == 0 || zchunk_size (chunk) > S_ROOT_MAX) {
            ctl_fail ("%s: cannot read it, or empty, or larger than %d bytes", argv [3],
                      S_ROOT_MAX);
            zchunk_destroy (&chunk);
            return CTL_USAGE;
        }
        char *hex = (char *) zmalloc (2 * zchunk_size (chunk) + 1);
        keys_hex (zchunk_data (chunk), zchunk_size (chunk), hex);
        zchunk_destroy (&chunk);
        *method_p = "release.root.set";
        *args_p = json_pack ("{s:s}", "root", hex);
        free (hex);
    }
    else
    if (argc == 3 && streq (argv [1], "root") && streq (argv [2], "show")) {
        *method_p = "release.root.show";
        *args_p = json_object ();
    }
    else
        return -1;
    if (tenant)
        json_object_set_new (*args_p, "tenant", json_string (tenant));
    return CTL_OK;
}

static void
s_time (int64_t ms, char *buf, size_t size)
{
    time_t when = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r (&when, &tm);
    strftime (buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

bool
ctl_show_release (const char *method, json_t *result)
{
    char when [64];
    if (streq (method, "release.root.set")) {
        s_time (ctl_int (result, "expires_ms"), when, sizeof when);
        printf ("release root of %s: version %lld, expires %s, %s\n",
                ctl_str (result, "tenant"), (long long) ctl_int (result, "version"), when,
                json_is_true (json_object_get (result, "changed"))? "stored"
                                                                   : "unchanged (already set)");
        return true;
    }
    if (streq (method, "release.root.show")) {
        s_time (ctl_int (result, "expires_ms"), when, sizeof when);
        printf ("tenant     %s\nversion    %lld\nexpires    %s\nhash       %s\nversions  ",
                ctl_str (result, "tenant"), (long long) ctl_int (result, "version"), when,
                ctl_str (result, "hash"));
        size_t index;
        json_t *item;
        json_array_foreach (json_object_get (result, "versions"), index, item)
            printf (" %lld", (long long) json_integer_value (item));
        printf ("\n");
        const char *roles [] = { "root", "targets", "snapshot", "timestamp" };
        for (size_t i = 0; i < 4; i++) {
            json_t *role = json_object_get (json_object_get (result, "roles"), roles [i]);
            json_t *keys = json_object_get (role, "keys");
            printf ("%-10s %lld of %zu:", roles [i], (long long) ctl_int (role, "threshold"),
                    json_array_size (keys));
            json_array_foreach (keys, index, item)
                printf (" %.16s", json_string_value (item));
            printf ("\n");
        }
        printf ("signed by ");
        json_array_foreach (json_object_get (result, "signed_by"), index, item)
            printf (" %.16s", json_string_value (item));
        printf ("\n");
        return true;
    }
    return false;
}
