/*  ctl_parse - weftctl's command line: commands, their arguments and
    options, into one method and its args
    Everything is checked here, before anything touches the network, so
    a usage error (exit 2) never depends on the coordinator being up.
    A command option given to a command that would ignore it is refused.  */

#include <czmq.h>
#include <sys/stat.h>
#include "proto/io/options.h"
#include "tools/ctl.h"

#define CTL_TTL_MAX         (30 * 86400)
#define CTL_FILE_MAX        (4 * 1024 * 1024)   //  hierarchy import file

//  --------------------------------------------------------------------------
//  A twin patch from the command line: a JSON object (RFC 7386 would
//  replace the whole twin with any other value, which the coordinator
//  refuses). NULL after printing why.

json_t *
ctl_parse_patch (const char *text)
{
    json_error_t error;
    json_t *patch = json_loads (text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    if (!patch) {
        ctl_fail ("bad JSON at line %d column %d: %s", error.line, error.column, error.text);
        return NULL;
    }
    if (!json_is_object (patch)) {
        json_decref (patch);
        ctl_fail ("the patch must be a JSON object, e.g. '{\"sampling_ms\": 500}' "
                  "(a merge patch that is not an object would replace the whole twin)");
        return NULL;
    }
    return patch;
}

//  --------------------------------------------------------------------------
//  KEY=VALUE edits into args: metadata (only with metadata; KEY= clears
//  it), tag.KEY=VALUE, untag=KEY (into args.tags). Returns 0 or -1
//  after printing why.

static int
s_parse_edits (json_t *args, int count, char **words, bool metadata)
{
    static const char *fields [] = {
        "type", "hw", "fw", "sw", "location", "path", "asset", NULL
    };
    for (int i = 0; i < count; i++) {
        const char *word = words [i];
        const char *equals = strchr (word, '=');
        if (!equals || equals == word) {
            ctl_fail ("'%s' is not KEY=VALUE", word);
            return -1;
        }
        char key [80];
        size_t len = (size_t) (equals - word);
        if (len >= sizeof (key)) {
            ctl_fail ("key too long in '%s'", word);
            return -1;
        }
        memcpy (key, word, len);
        key [len] = 0;
        const char *value = equals + 1;
        json_t *tags = json_object_get (args, "tags");
        if (strncmp (key, "tag.", 4) == 0 || streq (key, "untag")) {
            if (!tags) {
                tags = json_object ();
                json_object_set_new (args, "tags", tags);
            }
            if (streq (key, "untag"))
                json_object_set_new (tags, value, json_null ());
            else
                json_object_set_new (tags, key + 4, json_string (value));
            continue;
        }
        bool known = false;
        for (int f = 0; fields [f] && metadata; f++)
            if (streq (key, fields [f]))
                known = true;
        if (!known) {
            if (metadata)
                ctl_fail ("unknown key %s (use type hw fw sw location path asset, "
                          "tag.KEY or untag)", key);
            else
                ctl_fail ("unknown edit %s (use tag.KEY=VALUE or untag=KEY)", key);
            return -1;
        }
        json_object_set_new (args, key, *value? json_string (value): json_null ());
    }
    return 0;
}


//  --tenant T into args as "tenant": the audit chain of T (audit list,
//  verify, head), or whose attestation policy it is (attest profile
//  set, attest allowlist set; "-" for the devices without a tenant)
static void
s_tenant_arg (ctl_t *self, json_t *args)
{
    const char *tenant = keyfile_get (self->options, "tenant");
    if (tenant)
        json_object_set_new (args, "tenant", json_string (streq (tenant, "-")? "": tenant));
}

//  --------------------------------------------------------------------------
//  --limit N (1..1000) into *args_p; on a bad one args are dropped

int
ctl_limit_arg (ctl_t *self, json_t **args_p)
{
    const char *limit = keyfile_get (self->options, "limit");
    if (limit) {
        char *end;
        long value = strtol (limit, &end, 10);
        if (*end || end == limit || value < 1 || value > 1000) {
            ctl_fail ("bad --limit '%s': use 1 to 1000", limit);
            json_decref (*args_p);
            *args_p = NULL;
            return CTL_USAGE;
        }
        json_object_set_new (*args_p, "limit", json_integer (value));
    }
    return CTL_OK;
}

//  --------------------------------------------------------------------------
//  Check the command line and build the request. Returns 0 with
//  *method_p and *args_p set, or an exit code after printing why.

static int
s_parse_request (ctl_t *self, int argc, char **argv, const char **method_p, json_t **args_p)
{
    const char *noun = argc > 0? argv [0]: NULL;
    const char *verb = argc > 1? argv [1]: NULL;
    *args_p = NULL;
    if (!noun) {
        ctl_fail ("no command given (try weftctl --help)");
        return CTL_USAGE;
    }
    if (streq (noun, "call") && (argc == 2 || argc == 3)) {
        //  Any method by name, its args as JSON: what the commands
        //  below build for you. The coordinator checks both.
        json_error_t error;
        json_t *args = argc == 3? json_loads (argv [2], JSON_REJECT_DUPLICATES, &error)
                     : json_object ();
        if (!json_is_object (args)) {
            ctl_fail ("call %s: the args must be a JSON object%s%s", argv [1],
                      args? "": ": ", args? "": error.text);
            json_decref (args);
            return CTL_USAGE;
        }
        self->raw = true;
        *method_p = argv [1];
        *args_p = args;
        return CTL_OK;
    }
    if (streq (noun, "stats") && argc == 1) {
        *method_p = "coord.stats";
        *args_p = json_object ();
        return CTL_OK;
    }
    if (streq (noun, "token") && verb && streq (verb, "create") && argc == 2) {
        const char *ttl_text = keyfile_get (self->options, "ttl");
        int64_t ttl = options_duration_s (ttl_text? ttl_text: "1h", CTL_TTL_MAX);
        if (ttl < 0) {
            ctl_fail ("bad --ttl '%s': use seconds or a number with s, m, h or d, up to 30d",
                      ttl_text);
            return CTL_USAGE;
        }
        //  Refused before the call, so no token is made for nothing
        const char *out = keyfile_get (self->options, "out");
        if (out && access (out, F_OK) == 0) {
            ctl_fail ("%s already exists; not overwriting it", out);
            return CTL_USAGE;
        }
        json_t *args = json_pack ("{s:I}", "ttl", (json_int_t) ttl);
        const char *tenant = keyfile_get (self->options, "tenant");
        const char *type = keyfile_get (self->options, "type");
        const char *path = keyfile_get (self->options, "path");
        if (tenant)
            json_object_set_new (args, "tenant", json_string (tenant));
        if (path)
            json_object_set_new (args, "path", json_string (path));
        if (type)
            json_object_set_new (args, "type", json_string (type));
        *method_p = "token.create";
        *args_p = args;
        return CTL_OK;
    }
    if (streq (noun, "device") && verb && streq (verb, "show") && argc == 3) {
        *method_p = "device.show";
        *args_p = json_pack ("{s:s}", "id", argv [2]);
        return CTL_OK;
    }
    if (streq (noun, "device") && verb && streq (verb, "preregister") && argc >= 3) {
        const char *file = keyfile_get (self->options, "ek-pub");
        zfile_t *ek = file? zfile_new (NULL, file): NULL;
        zchunk_t *chunk = ek && zfile_input (ek) == 0? zfile_read (ek, 4096, 0): NULL;
        zfile_destroy (&ek);
        if (!chunk || zchunk_size (chunk) == 0) {
            ctl_fail ("device preregister needs --ek-pub FILE (a TPM2B_PUBLIC)%s%s",
                      file? ": cannot read ": "", file? file: "");
            zchunk_destroy (&chunk);
            return CTL_USAGE;
        }
        char *hex = (char *) zmalloc (2 * zchunk_size (chunk) + 1);
        keys_hex (zchunk_data (chunk), zchunk_size (chunk), hex);
        zchunk_destroy (&chunk);
        json_t *args = json_pack ("{s:s, s:s}", "id", argv [2], "ek_public", hex);
        free (hex);
        const char *options [] = { "tenant", "path", "type", NULL };
        for (int i = 0; options [i]; i++)
            if (keyfile_get (self->options, options [i]))
                json_object_set_new (args, options [i],
                                     json_string (keyfile_get (self->options, options [i])));
        if (s_parse_edits (args, argc - 3, argv + 3, false)) {
            json_decref (args);
            return CTL_USAGE;
        }
        *method_p = "device.preregister";
        *args_p = args;
        return CTL_OK;
    }
    if (streq (noun, "attest") && verb && streq (verb, "profile") && argc == 5
    &&  streq (argv [2], "set")) {
        json_error_t error;
        json_t *profile = json_load_file (argv [4], JSON_REJECT_DUPLICATES, &error);
        if (!json_is_object (profile)) {
            ctl_fail ("%s: not a JSON object (%s)", argv [4], error.text);
            json_decref (profile);
            return CTL_USAGE;
        }
        *method_p = "attest.profile.set";
        *args_p = json_pack ("{s:s, s:o}", "type", argv [3], "profile", profile);
        s_tenant_arg (self, *args_p);
        return CTL_OK;
    }
    if (streq (noun, "attest") && verb && streq (verb, "allowlist") && argc == 4
    &&  streq (argv [2], "set")) {
        zfile_t *file = zfile_new (NULL, argv [3]);
        zchunk_t *chunk = file && zfile_input (file) == 0?
                          zfile_read (file, WEFT_STR_MAX / 8 * 7 + 1, 0): NULL;
        zfile_destroy (&file);
        if (!chunk || zchunk_size (chunk) > WEFT_STR_MAX / 8 * 7) {
            ctl_fail ("%s: cannot read it, or larger than %d bytes", argv [3],
                      WEFT_STR_MAX / 8 * 7);
            zchunk_destroy (&chunk);
            return CTL_USAGE;
        }
        *method_p = "attest.allowlist.set";
        *args_p = json_pack ("{s:s%}", "allowlist", (const char *) zchunk_data (chunk),
                             zchunk_size (chunk));
        zchunk_destroy (&chunk);
        if (!*args_p) {
            ctl_fail ("%s: not text", argv [3]);
            return CTL_USAGE;
        }
        s_tenant_arg (self, *args_p);
        return CTL_OK;
    }
    if (streq (noun, "attest") && verb && streq (verb, "status") && argc == 2) {
        *method_p = "attest.status";
        *args_p = json_object ();
        return CTL_OK;
    }
    if (streq (noun, "attest") && verb && (streq (verb, "show") || streq (verb, "clear"))
    &&  argc == 3) {
        *method_p = streq (verb, "show")? "attest.show": "attest.clear";
        *args_p = json_pack ("{s:s}", "id", argv [2]);
        return CTL_OK;
    }
    if (streq (noun, "device") && verb && streq (verb, "revoke") && argc == 3) {
        *method_p = "device.revoke";
        *args_p = json_pack ("{s:s}", "id", argv [2]);
        return CTL_OK;
    }
    if (streq (noun, "twin") && verb && streq (verb, "get") && argc == 3) {
        *method_p = "twin.get";
        *args_p = json_pack ("{s:s}", "id", argv [2]);
        return CTL_OK;
    }
    if (streq (noun, "twin") && verb && streq (verb, "set") && argc == 4) {
        json_t *patch = ctl_parse_patch (argv [3]);
        if (!patch)
            return CTL_USAGE;
        *method_p = "twin.set";
        *args_p = json_pack ("{s:s, s:o}", "id", argv [2], "patch", patch);
        return CTL_OK;
    }
    if (streq (noun, "operator") && verb && streq (verb, "add") && argc == 3) {
        const char *role = keyfile_get (self->options, "role");
        const char *out = keyfile_get (self->options, "out");
        if (!role || !out) {
            ctl_fail ("operator add needs --role ROLE and --out FILE");
            return CTL_USAGE;
        }
        *method_p = "operator.add";
        return CTL_OK;              //  s_operator_add builds the request
    }
    const char *query = keyfile_get (self->options, "query");
    if ((streq (noun, "device") && verb && (streq (verb, "list") || streq (verb, "count"))
         && argc == 2)
    ||  (streq (noun, "audit") && verb && streq (verb, "list") && argc == 2)) {
        json_t *args = json_object ();
        if (query)
            json_object_set_new (args, "query", json_string (query));
        const char *limit = keyfile_get (self->options, "limit");
        if (limit) {
            char *end;
            long value = strtol (limit, &end, 10);
            if (*end || end == limit || value < 1 || value > 100000) {
                ctl_fail ("bad --limit '%s': use a positive number", limit);
                json_decref (args);
                return CTL_USAGE;
            }
            json_object_set_new (args, "limit", json_integer (value));
        }
        *method_p = streq (noun, "audit")? "audit.list"
                  : streq (verb, "list")? "device.list": "device.count";
        s_tenant_arg (self, args);
        *args_p = args;
        return CTL_OK;
    }
    if (streq (noun, "device") && verb && streq (verb, "set") && argc >= 4) {
        json_t *args = json_pack ("{s:s}", "id", argv [2]);
        if (s_parse_edits (args, argc - 3, argv + 3, true)) {
            json_decref (args);
            return CTL_USAGE;
        }
        *method_p = "device.set";
        *args_p = args;
        return CTL_OK;
    }
    if (streq (noun, "batch") && verb && argc >= 3) {
        if (!query) {
            ctl_fail ("batch %s needs --query (e.g. --query 'site=plant-2 and type=gateway')",
                      verb);
            return CTL_USAGE;
        }
        json_t *args = json_pack ("{s:s, s:b}", "query", query,
                                  "dry_run", options_flag (self->options, "dry-run"));
        if (streq (verb, "twin") && argc == 3) {
            json_t *patch = ctl_parse_patch (argv [2]);
            if (!patch) {
                json_decref (args);
                return CTL_USAGE;
            }
            json_object_set_new (args, "patch", patch);
            *method_p = "batch.twin";
        }
        else
        if (streq (verb, "tag")) {
            json_t *edits = json_object ();
            if (s_parse_edits (edits, argc - 2, argv + 2, false)) {
                json_decref (edits);
                json_decref (args);
                return CTL_USAGE;
            }
            json_object_set (args, "tags", json_object_get (edits, "tags"));
            json_decref (edits);
            *method_p = "batch.tag";
        }
        else
        if (streq (verb, "move") && argc == 3) {
            json_object_set_new (args, "path", json_string (argv [2]));
            const char *asset = keyfile_get (self->options, "asset");
            if (asset)
                json_object_set_new (args, "asset", json_string (asset));
            *method_p = "batch.move";
        }
        else {
            json_decref (args);
            ctl_fail ("unknown command or wrong arguments: batch %s (try weftctl --help)", verb);
            return CTL_USAGE;
        }
        *args_p = args;
        return CTL_OK;
    }
    if (streq (noun, "hierarchy") && verb && streq (verb, "import") && argc == 3) {
        struct stat st;
        if (stat (argv [2], &st) == 0 && st.st_size > CTL_FILE_MAX) {
            ctl_fail ("%s is larger than %d bytes: import it one site at a time",
                      argv [2], CTL_FILE_MAX);
            return CTL_USAGE;
        }
        json_error_t error;
        json_t *doc = json_load_file (argv [2], JSON_REJECT_DUPLICATES, &error);
        if (!doc) {
            ctl_fail ("%s: bad JSON at line %d column %d: %s", argv [2], error.line,
                      error.column, error.text);
            return CTL_USAGE;
        }
        *method_p = "hierarchy.import";
        *args_p = json_pack ("{s:o}", "doc", doc);
        return CTL_OK;
    }
    if (streq (noun, "hierarchy") && verb && streq (verb, "export") && argc == 2) {
        *method_p = "hierarchy.export";
        *args_p = json_object ();
        return CTL_OK;
    }
    if (streq (noun, "audit") && verb && streq (verb, "verify") && argc == 2) {
        *method_p = "audit.verify";
        *args_p = json_object ();
        const char *anchor = keyfile_get (self->options, "anchor");
        if (anchor) {
            json_error_t error;
            json_t *head = json_load_file (anchor, JSON_REJECT_DUPLICATES, &error);
            if (!json_is_object (head)) {
                ctl_fail ("cannot read the anchor %s: %s", anchor,
                          head? "not a JSON object": error.text);
                json_decref (head);
                json_decref (*args_p);
                *args_p = NULL;
                return CTL_USAGE;
            }
            json_object_set_new (*args_p, "anchor", head);
        }
        s_tenant_arg (self, *args_p);
        return CTL_OK;
    }
    if (streq (noun, "audit") && verb && streq (verb, "head") && argc == 2) {
        *method_p = "audit.head";
        *args_p = json_object ();
        s_tenant_arg (self, *args_p);
        return CTL_OK;
    }
    if (streq (noun, "operator") && verb && streq (verb, "credential") && argc == 2) {
        const char *ttl_text = keyfile_get (self->options, "ttl");
        int64_t ttl = options_duration_s (ttl_text? ttl_text: "7d", CTL_TTL_MAX);
        if (ttl < 0) {
            ctl_fail ("bad --ttl '%s': use seconds or a number with s, m, h or d, up to 30d",
                      ttl_text);
            return CTL_USAGE;
        }
        *method_p = "operator.credential";
        *args_p = json_pack ("{s:I}", "ttl", (json_int_t) ttl);
        return CTL_OK;
    }
    if (streq (noun, "operator") && verb && streq (verb, "revoke") && argc == 3) {
        *method_p = "operator.revoke";
        *args_p = json_pack ("{s:s}", "name", argv [2]);
        return CTL_OK;
    }
    if (streq (noun, "node") && verb && streq (verb, "stats") && argc == 2) {
        *method_p = "node.stats";
        *args_p = json_object ();
        return CTL_OK;
    }
    if (streq (noun, "bundle") && verb && streq (verb, "import") && argc == 3) {
        *method_p = "node.bundle.import";
        *args_p = json_pack ("{s:s}", "file", argv [2]);
        return CTL_OK;
    }
    if (streq (noun, "node") && verb && streq (verb, "audit") && argc == 2) {
        *method_p = "node.audit";
        *args_p = json_object ();
        return ctl_limit_arg (self, args_p);
    }
    if (streq (noun, "release")) {
        int rc = ctl_parse_release (self, argc, argv, method_p, args_p);
        if (rc >= 0)
            return rc;
    }
    if (streq (noun, "update")) {
        int rc = ctl_parse_update (self, argc, argv, method_p, args_p);
        if (rc >= 0)
            return rc;
    }
    if (streq (noun, "entitlement")) {
        int rc = ctl_parse_entitlement (self, argc, argv, method_p, args_p);
        if (rc >= 0)
            return rc;
    }
    if (streq (noun, "campaign")) {
        int rc = ctl_parse_campaign (self, argc, argv, method_p, args_p);
        if (rc >= 0)
            return rc;
    }
    if (streq (noun, "artifact")) {
        int rc = ctl_parse_artifact (self, argc, argv, method_p, args_p);
        if (rc >= 0)
            return rc;
    }
    if (streq (noun, "operator") && verb && streq (verb, "grant") && argc == 5) {
        *method_p = "operator.grant";
        *args_p = json_pack ("{s:s, s:s, s:s, s:b}", "name", argv [2], "role", argv [3],
                             "path", streq (argv [4], "*")? "": argv [4],
                             "remove", options_flag (self->options, "remove"));
        return CTL_OK;
    }
    ctl_fail ("unknown command or wrong arguments: %s%s%s (try weftctl --help)",
              noun, verb? " ": "", verb? verb: "");
    return CTL_USAGE;
}


//  --------------------------------------------------------------------------
//  Parse the command, then refuse command options given to a command
//  that would silently ignore them (a --tenant on device list would
//  suggest a filter that is not applied).

int
ctl_parse_command (ctl_t *self, int argc, char **argv, const char **method_p, json_t **args_p)
{
    int rc = s_parse_request (self, argc, argv, method_p, args_p);
    if (rc)
        return rc;
    const char *method = *method_p;
    const char *owners [][2] = {
        { "tenant", "token.create operator.add device.preregister audit.list audit.verify "
                    "audit.head attest.profile.set attest.allowlist.set release.root.set "
                    "release.root.show artifact.upload artifact.list artifact.show artifact.remove "
                    "campaign.exclude" },
        { "ttl", "token.create operator.credential update.assign" },
        { "type", "token.create device.preregister" },
        { "role", "operator.add" },
        { "out", "operator.add token.create" },
        { "path", "operator.add device.preregister token.create" },
        { "node", "node.stats node.audit node.bundle.import" },
        { "node-key", "node.stats node.audit node.bundle.import" },
        { "ek-pub", "device.preregister" },
        { "query", "device.list device.count batch.twin batch.tag batch.move audit.list "
                   "update.assign update.status update.uninstall entitlement.grant "
                   "campaign.create" },
        { "limit", "device.list audit.list node.audit update.status campaign.show "
                   "campaign.list" },
        { "waves", "campaign.create" },
        { "threshold", "campaign.create" },
        { "success", "campaign.create" },
        { "device-timeout", "campaign.create" },
        { "allow-empty", "campaign.create" },
        { "dynamic", "campaign.create" },
        { "join-every", "campaign.create" },
        { "not-excludable", "campaign.create" },
        { "at-sites", "campaign.create" },
        { "patch", "campaign.create" },
        { "rate", "campaign.create" },
        { "concurrency", "campaign.create" },
        { "soak", "campaign.create" },
        { "dry-run", "batch.twin batch.tag batch.move" },
        { "asset", "batch.move" },
        { "remove", "operator.grant" },
        { "anchor", "audit.verify" },
        { "until", "entitlement.grant" }
    };
    for (size_t i = 0; i < sizeof (owners) / sizeof (owners [0]); i++) {
        if (keyfile_get (self->options, owners [i][0])
        &&  (self->raw || !strstr (owners [i][1], method))) {
            ctl_fail ("--%s does not apply to %s%s%s", owners [i][0], argv [0],
                      argc > 1? " ": "", argc > 1? argv [1]: "");
            json_decref (*args_p);
            *args_p = NULL;
            return CTL_USAGE;
        }
    }
    return CTL_OK;
}
