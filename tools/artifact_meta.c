/*  artifact_meta - weft-artifact root, targets, snapshot, timestamp
    (each role written unsigned, for its key holders to sign) and
    inspect (any role, manifest or assignment as JSON)  */

#include <czmq.h>
#include <jansson.h>
#include "proto/manifest.h"
#include "proto/release.h"
#include "proto/keys.h"
#include "proto/io/options.h"
#include "tools/artifact.h"

#define S_EXPIRES_MAX_S     (10 * 365 * 86400)

//  "HEX,HEX" into keyset with the threshold of option name-threshold
static int
s_keyset (keyfile_t *options, const char *role, release_keyset_t *keyset)
{
    char name [64];
    snprintf (name, sizeof name, "%s-keys", role);
    const char *list = keyfile_get (options, name);
    memset (keyset, 0, sizeof *keyset);
    if (!list) {
        artifact_fail ("root needs --%s", name);
        return -1;
    }
    char *copy = strdup (list), *saveptr = NULL;
    for (char *hex = strtok_r (copy, ",", &saveptr); hex; hex = strtok_r (NULL, ",", &saveptr)) {
        if (keyset->key_count == RELEASE_KEYS_MAX
        ||  keys_unhex (hex, keyset->keys [keyset->key_count], WEFT_KEY_SIZE)) {
            artifact_fail ("--%s: '%s' is not a public key (64 hex digits; at most %d keys)",
                           name, hex, RELEASE_KEYS_MAX);
            free (copy);
            return -1;
        }
        keyset->key_count++;
    }
    free (copy);
    snprintf (name, sizeof name, "%s-threshold", role);
    int64_t threshold = options_int (options, name, 0);
    if (threshold < 1 || threshold > (int64_t) keyset->key_count) {
        artifact_fail ("--%s must be 1..%zu", name, keyset->key_count);
        return -1;
    }
    keyset->threshold = (uint32_t) threshold;
    return 0;
}

//  The newest root's number in repo (0: none)
static uint64_t
s_newest_root (const char *repo)
{
    uint64_t version = 0;
    while (true) {
        char *path = zsys_sprintf ("%s/root.%" PRIu64, repo, version + 1);
        bool exists = zsys_file_exists (path);
        free (path);
        if (!exists)
            return version;
        version++;
    }
}

//  Body of the role in path (decoded root if root_p), or NULL
static uint8_t *
s_read_role (const char *path, release_role_t want, const uint8_t **body_p, size_t *body_size_p,
             size_t *size_p)
{
    uint8_t *data = artifact_read (path, WEFT_FRAME_MAX, size_p);
    release_role_t role;
    if (data && (release_open (data, *size_p, &role, body_p, body_size_p) || role != want)) {
        artifact_fail ("%s is not a signed role of the kind expected", path);
        free (data);
        data = NULL;
    }
    return data;
}

//  The version of the role in path, 0 if there is none
static uint64_t
s_role_version (const char *path, release_role_t role)
{
    if (!zsys_file_exists (path))
        return 0;
    size_t size, body_size, count;
    const uint8_t *body;
    uint8_t *data = s_read_role (path, role, &body, &body_size, &size);
    uint64_t version = 0, expires, named;
    uint8_t hash [32];
    char tenant [WEFT_NAME_MAX + 1];
    release_target_t targets [RELEASE_TARGETS_MAX];
    if (data && role == RELEASE_TARGETS
    &&  release_targets_decode (body, body_size, &version, &expires, tenant, targets, &count))
        version = 0;
    if (data && role != RELEASE_TARGETS
    &&  release_pointer_decode (body, body_size, &version, &expires, tenant, &named, hash))
        version = 0;
    free (data);
    return version;
}

//  The role's version: --version, or one above what path holds
static uint64_t
s_next_version (keyfile_t *options, const char *path, release_role_t role)
{
    int64_t given = options_int (options, "version", 0);
    return given > 0? (uint64_t) given: s_role_version (path, role) + 1;
}

static int
s_write_unsigned (const char *path, release_role_t role, uint8_t *body, size_t body_size)
{
    uint8_t *out;
    size_t size;
    int rc = release_sign (role, body, body_size, NULL, 0, &out, &size);
    free (body);
    if (rc == 0)
        rc = artifact_write (path, out, size, 0644);
    free (out);
    if (rc == 0)
        printf ("%s written unsigned: each key holder runs weft-artifact sign --key KEY %s\n",
                path, path);
    return rc? 1: 0;
}

//  --allow-downgrade NAME=FLOOR,...: releases the root lets below the
//  installed anti-rollback version, down to FLOOR
static int
s_downgrades (const char *text, release_root_t *root)
{
    if (!text)
        return 0;
    char *copy = strdup (text), *saved = NULL;
    int rc = 0;
    for (char *item = strtok_r (copy, ",", &saved); item && rc == 0;
         item = strtok_r (NULL, ",", &saved)) {
        char *equals = strchr (item, '=');
        char *end = NULL;
        unsigned long long floor = equals? strtoull (equals + 1, &end, 10): 0;
        if (!equals || equals == item || equals - item > WEFT_NAME_MAX || !end || *end
        ||  end == equals + 1 || root->downgrade_count == RELEASE_DOWNGRADES_MAX) {
            artifact_fail ("--allow-downgrade takes NAME=ANTI_ROLLBACK,... (at most %d), "
                           "not '%s'", RELEASE_DOWNGRADES_MAX, item);
            rc = -1;
            break;
        }
        release_downgrade_t *downgrade = &root->downgrades [root->downgrade_count++];
        snprintf (downgrade->name, sizeof downgrade->name, "%.*s", (int) (equals - item), item);
        downgrade->floor = floor;
    }
    free (copy);
    return rc;
}

int
artifact_role (const char *role_name, keyfile_t *options, int argc, char *argv [], int argi)
{
    const char *repo = keyfile_get (options, "repo");
    int64_t expires_s = options_duration_s (keyfile_get (options, "expires"), S_EXPIRES_MAX_S);
    if (!repo || expires_s < 0) {
        artifact_fail ("%s needs --repo DIR and --expires DURATION (e.g. 30d; at most "
                       "3650d)", role_name);
        return 2;
    }
    uint64_t expires_ms = (uint64_t) zclock_time () + (uint64_t) expires_s * 1000;
    uint64_t newest = s_newest_root (repo);
    release_root_t root;
    memset (&root, 0, sizeof root);
    if (newest) {
        char *path = zsys_sprintf ("%s/root.%" PRIu64, repo, newest);
        size_t size, body_size;
        const uint8_t *body;
        uint8_t *data = s_read_role (path, RELEASE_ROOT, &body, &body_size, &size);
        int rc = data? release_root_decode (&root, body, body_size): RELEASE_MALFORMED;
        free (data);
        free (path);
        if (rc)
            return 1;
    }
    uint8_t *body = NULL;
    size_t body_size = 0;
    if (streq (role_name, "root")) {
        const char *tenant = keyfile_get (options, "tenant");
        if (!tenant || !*tenant || strlen (tenant) > WEFT_NAME_MAX) {
            artifact_fail ("root needs --tenant");
            return 2;
        }
        if (newest && !streq (tenant, root.tenant)) {
            artifact_fail ("the repository's roots are of tenant %s", root.tenant);
            return 2;
        }
        release_root_t next;
        memset (&next, 0, sizeof next);
        next.version = newest + 1;
        next.expires_ms = expires_ms;
        snprintf (next.tenant, sizeof next.tenant, "%s", tenant);
        const char *roles [] = { "root", "targets", "snapshot", "timestamp" };
        for (int i = 0; i < 4; i++)
            if (s_keyset (options, roles [i], &next.roles [i]))
                return 2;
        if (s_downgrades (keyfile_get (options, "allow-downgrade"), &next))
            return 2;
        if (release_root_encode (&next, &body, &body_size))
            return 1;
        char *path = zsys_sprintf ("%s/root.%" PRIu64, repo, next.version);
        zsys_dir_create (repo);
        int rc = s_write_unsigned (path, RELEASE_ROOT, body, body_size);
        if (rc == 0 && newest)
            printf ("root version %" PRIu64 " needs the signatures of %u of the old root keys "
                    "and %u of the new\n", next.version, root.roles [0].threshold,
                    next.roles [0].threshold);
        free (path);
        return rc;
    }
    if (!newest) {
        artifact_fail ("the repository has no root yet (weft-artifact root)");
        return 1;
    }
    char *path = zsys_sprintf ("%s/%s", repo, role_name);
    int rc = 0;
    if (streq (role_name, "targets")) {
        release_target_t targets [RELEASE_TARGETS_MAX];
        size_t count = 0;
        for (; argi < argc && rc == 0; argi++) {
            char *equals = strchr (argv [argi], '=');
            if (!equals || count == RELEASE_TARGETS_MAX) {
                artifact_fail ("targets are NAME=VERSION (at most %d)", RELEASE_TARGETS_MAX);
                rc = 2;
                break;
            }
            release_target_t *target = &targets [count++];
            memset (target, 0, sizeof *target);
            snprintf (target->name, sizeof target->name, "%.*s", (int) (equals - argv [argi]),
                      argv [argi]);
            snprintf (target->version, sizeof target->version, "%s", equals + 1);
            char *manifest = zsys_sprintf ("%s/manifests/%s_%s", repo, target->name,
                                           target->version);
            size_t size;
            uint8_t *data = artifact_read (manifest, WEFT_FRAME_MAX, &size);
            free (manifest);
            if (!data)
                rc = 1;
            else {
                keys_hash (data, size, target->manifest_hash);
                target->manifest_size = size;
            }
            free (data);
        }
        if (rc == 0 && count == 0) {
            artifact_fail ("targets needs one or more NAME=VERSION (built with build)");
            rc = 2;
        }
        if (rc == 0 && release_targets_encode (s_next_version (options, path, RELEASE_TARGETS),
                                               expires_ms, root.tenant, targets, count, &body,
                                               &body_size))
            rc = 1;
    }
    else {
        //  A snapshot names the targets; a timestamp, the snapshot
        bool snapshot = streq (role_name, "snapshot");
        release_role_t role = snapshot? RELEASE_SNAPSHOT: RELEASE_TIMESTAMP;
        release_role_t named_role = snapshot? RELEASE_TARGETS: RELEASE_SNAPSHOT;
        char *named_path = zsys_sprintf ("%s/%s", repo, snapshot? "targets": "snapshot");
        uint64_t named_version = s_role_version (named_path, named_role);
        size_t size;
        uint8_t *data = artifact_read (named_path, WEFT_FRAME_MAX, &size);
        uint8_t hash [32];
        if (!data || named_version == 0)
            rc = 1;
        else {
            keys_hash (data, size, hash);
            if (release_pointer_encode (s_next_version (options, path, role), expires_ms,
                                        root.tenant, named_version, hash, &body, &body_size))
                rc = 1;
        }
        free (data);
        free (named_path);
        if (rc == 0)
            rc = s_write_unsigned (path, role, body, body_size);
        free (path);
        return rc;
    }
    if (rc == 0)
        rc = s_write_unsigned (path, RELEASE_TARGETS, body, body_size);
    free (path);
    return rc;
}

//  --------------------------------------------------------------------------
//  inspect

static json_t *
s_hex (const uint8_t *data, size_t size)
{
    char *hex = (char *) zmalloc (2 * size + 1);
    keys_hex (data, size, hex);
    json_t *text = json_string (hex);
    free (hex);
    return text;
}

static json_t *
s_inspect_role (const uint8_t *data, size_t size)
{
    release_role_t role;
    const uint8_t *body;
    size_t body_size;
    if (release_open (data, size, &role, &body, &body_size))
        return NULL;
    const char *names [] = { "", "root", "targets", "snapshot", "timestamp" };
    json_t *out = json_pack ("{s:s}", "role", names [role]);
    release_root_t root;
    release_target_t targets [RELEASE_TARGETS_MAX];
    uint64_t version = 0, expires = 0, named = 0;
    uint8_t hash [32];
    char tenant [WEFT_NAME_MAX + 1] = "";
    size_t count = 0;
    int rc = 0;
    if (role == RELEASE_ROOT) {
        rc = release_root_decode (&root, body, body_size);
        version = root.version;
        expires = root.expires_ms;
        snprintf (tenant, sizeof tenant, "%s", root.tenant);
        for (int i = 0; i < 4 && rc == 0; i++) {
            json_t *keys = json_array ();
            for (size_t k = 0; k < root.roles [i].key_count; k++)
                json_array_append_new (keys, s_hex (root.roles [i].keys [k], 32));
            json_object_set_new (out, names [i + 1], json_pack ("{s:i, s:o}", "threshold",
                                 (json_int_t) root.roles [i].threshold, "keys", keys));
        }
        json_t *downgrades = json_object ();
        for (size_t i = 0; i < root.downgrade_count; i++)
            json_object_set_new (downgrades, root.downgrades [i].name,
                                 json_integer ((json_int_t) root.downgrades [i].floor));
        if (root.downgrade_count)
            json_object_set_new (out, "downgrades", downgrades);
        else
            json_decref (downgrades);
    }
    else
    if (role == RELEASE_TARGETS) {
        rc = release_targets_decode (body, body_size, &version, &expires, tenant, targets,
                                     &count);
        json_t *list = json_array ();
        for (size_t i = 0; i < count && rc == 0; i++)
            json_array_append_new (list, json_pack ("{s:s, s:s, s:o, s:I}",
                                   "name", targets [i].name, "version", targets [i].version,
                                   "manifest_hash", s_hex (targets [i].manifest_hash, 32),
                                   "manifest_size", (json_int_t) targets [i].manifest_size));
        json_object_set_new (out, "targets", list);
    }
    else {
        rc = release_pointer_decode (body, body_size, &version, &expires, tenant, &named, hash);
        const char *what = role == RELEASE_SNAPSHOT? "targets": "snapshot";
        json_object_set_new (out, what, json_pack ("{s:I, s:o}", "version", (json_int_t) named,
                                                   "hash", s_hex (hash, 32)));
    }
    if (rc) {
        json_decref (out);
        return NULL;
    }
    json_object_set_new (out, "version", json_integer ((json_int_t) version));
    json_object_set_new (out, "expires_ms", json_integer ((json_int_t) expires));
    json_object_set_new (out, "tenant", json_string (tenant));
    //  The keys that signed, as written (a device counts the valid ones
    //  of the role's keys only)
    json_t *signers = json_array ();
    release_signed_view_t view;
    if (release_signatures (data, size, &view) == 0)
        for (size_t i = 0; i < view.count; i++)
            json_array_append_new (signers, s_hex (view.keys [i], 32));
    json_object_set_new (out, "signed_by", signers);
    return out;
}

static json_t *
s_inspect_manifest (const uint8_t *data, size_t size)
{
    manifest_t manifest;
    if (manifest_decode (&manifest, data, size))
        return NULL;
    uint8_t hash [32];
    keys_hash (data, size, hash);
    json_t *out = json_pack ("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:o}", "kind",
                             "manifest", "name", manifest.name, "version", manifest.version,
                             "anti_rollback", (json_int_t) manifest.anti_rollback, "types",
                             manifest.types, "handler", manifest.handler, "size",
                             (json_int_t) manifest.size, "chunks",
                             (json_int_t) manifest.chunk_count, "hash", s_hex (hash, 32));
    json_t *refs = artifact_refs_json (&manifest);
    if (refs)
        json_object_set_new (out, "references", refs);
    return out;
}

int
artifact_inspect (const char *path)
{
    size_t size;
    uint8_t *data = artifact_read (path, WEFT_FRAME_MAX, &size);
    if (!data)
        return 1;
    json_t *out = s_inspect_role (data, size);
    if (!out)
        out = s_inspect_manifest (data, size);
    free (data);
    if (!out) {
        artifact_fail ("%s is neither a release role nor a manifest", path);
        return 1;
    }
    char *text = json_dumps (out, JSON_INDENT (2) | JSON_SORT_KEYS);
    printf ("%s\n", text);
    free (text);
    json_decref (out);
    return 0;
}
