/*  rpc_release - the methods of software releases: release.root.*, artifact.*
    A tenant's release root decides which release keys its devices
    trust, so it is set by an admin of the tenant's root alone
    (rpc_tenant_admin), and read by anyone who may read some part of
    the tenant (its devices get it anyway, at enrolment). A tenant the
    caller cannot read answers exactly as one without a root.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "coordinator/core/relroot.h"
#include "coordinator/core/rpc_internal.h"

static const char *s_role_names [] = { "root", "targets", "snapshot", "timestamp" };

//  The tenant argument, else the tenant of the caller's first scope
//  for this method; NULL with the error set
static const char *
s_tenant_arg (rpc_call_t *call, char own [WEFT_NAME_MAX + 1])
{
    const char *tenant;
    if (!rpc_arg_name (call, "tenant", false, false, &tenant))
        return NULL;
    if (!tenant) {
        rpc_tenant_of (call->act.scope_count? call->act.scopes [0]: "", own);
        tenant = own;
    }
    if (!*tenant) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "tenant: name the tenant (--tenant T)");
        return NULL;
    }
    rpc_audit_set (call, tenant, "release-root");
    return tenant;
}

//  BLAKE2b-256 of bytes as hex
static void
s_hash_hex (const uint8_t *data, size_t size, char hex [65])
{
    uint8_t hash [32];
    crypto_generichash (hash, sizeof hash, data, size, NULL, 0);
    keys_hex (hash, sizeof hash, hex);
}

void
rpc_release_root_set (rpc_call_t *call)
{
    char own [WEFT_NAME_MAX + 1];
    const char *tenant = s_tenant_arg (call, own);
    if (!tenant)
        return;
    if (!rpc_tenant_admin (call, tenant)) {
        rpc_fail (call, WEFT_STATUS_FORBIDDEN, "%s: a tenant's release root is set by an "
                  "admin of its root (%s)", call->caller->name, tenant);
        return;
    }
    const char *hex = json_string_value (json_object_get (call->args, "root"));
    size_t hex_size = hex? strlen (hex): 0;
    if (!hex || hex_size == 0 || hex_size % 2 || hex_size > 2 * RELROOT_MAX) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "root: want the signed root as hex, "
                  "at most %d bytes", RELROOT_MAX);
        return;
    }
    size_t size = hex_size / 2;
    uint8_t *root = (uint8_t *) zmalloc (size);
    if (keys_unhex (hex, root, size)) {
        free (root);
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "root: not hex");
        return;
    }
    release_root_t decoded;
    char error [WEFT_TEXT_MAX + 1] = "";
    int rc = relroot_set (call->txn, tenant, root, size, call->now_ms, &decoded,
                          error, sizeof error);
    char hash [65];
    s_hash_hex (root, size, hash);
    free (root);
    if (rc < 0) {
        rpc_fail (call, rc == PROTO_ERR_IO? WEFT_STATUS_INTERNAL: WEFT_STATUS_BAD_REQUEST,
                  "%s", error);
        return;
    }
    call->result->result = json_pack ("{s:s, s:I, s:I, s:s, s:b}", "tenant", tenant,
        "version", (json_int_t) decoded.version, "expires_ms", (json_int_t) decoded.expires_ms,
        "hash", hash, "changed", rc == 0);
    call->detail = json_pack ("{s:s, s:I, s:s, s:b}", "tenant", tenant,
        "version", (json_int_t) decoded.version, "hash", hash, "changed", rc == 0);
}

static int
s_collect_version (void *arg, uint64_t version, const uint8_t *root, size_t size)
{
    (void) root;
    (void) size;
    json_array_append_new ((json_t *) arg, json_integer ((json_int_t) version));
    return 0;
}

void
rpc_release_root_show (rpc_call_t *call)
{
    char own [WEFT_NAME_MAX + 1];
    const char *tenant = s_tenant_arg (call, own);
    if (!tenant)
        return;
    size_t size = 0;
    uint8_t *root = rpc_tenant_readable (call, tenant)
                  ? relroot_get (call->txn, tenant, &size): NULL;
    release_role_t role;
    const uint8_t *body;
    size_t body_size;
    release_root_t decoded;
    if (!root || release_open (root, size, &role, &body, &body_size)
    ||  release_root_decode (&decoded, body, body_size)) {
        free (root);
        rpc_fail (call, WEFT_STATUS_NOT_FOUND, "tenant %s has no release root "
                  "(weftctl release root set)", tenant);
        return;
    }
    json_t *roles = json_object ();
    for (int i = 0; i < 4; i++) {
        json_t *keys = json_array ();
        for (size_t k = 0; k < decoded.roles [i].key_count; k++) {
            char hex [2 * WEFT_KEY_SIZE + 1];
            keys_hex (decoded.roles [i].keys [k], WEFT_KEY_SIZE, hex);
            json_array_append_new (keys, json_string (hex));
        }
        json_object_set_new (roles, s_role_names [i], json_pack ("{s:i, s:o}",
            "threshold", (int) decoded.roles [i].threshold, "keys", keys));
    }
    release_signed_view_t view;
    json_t *signers = json_array ();
    if (release_signatures (root, size, &view) == 0)
        for (size_t k = 0; k < view.count; k++) {
            char hex [2 * WEFT_KEY_SIZE + 1];
            keys_hex (view.keys [k], WEFT_KEY_SIZE, hex);
            json_array_append_new (signers, json_string (hex));
        }
    json_t *versions = json_array ();
    relroot_each (call->txn, tenant, s_collect_version, versions);
    char hash [65];
    s_hash_hex (root, size, hash);
    char *hex = (char *) zmalloc (2 * size + 1);
    keys_hex (root, size, hex);
    call->result->result = json_pack ("{s:s, s:I, s:I, s:s, s:o, s:o, s:o, s:s}",
        "tenant", tenant, "version", (json_int_t) decoded.version,
        "expires_ms", (json_int_t) decoded.expires_ms, "hash", hash, "roles", roles,
        "signed_by", signers, "versions", versions, "root", hex);
    free (hex);
    free (root);
}

//  --------------------------------------------------------------------------
//  The artifact repository (coordinator/core/artrepo.h): uploads, by an
//  admin of the tenant's root, as the release root; reads, by any
//  reader in the tenant

static bool
s_repo (rpc_call_t *call)
{
    if (!call->env->repo) {
        rpc_fail (call, WEFT_STATUS_INTERNAL, "the artifact repository is not open");
        return false;
    }
    return true;
}

//  The tenant of an admin call on releases; NULL with the error set
static const char *
s_admin_tenant (rpc_call_t *call, char own [WEFT_NAME_MAX + 1])
{
    const char *tenant = s_tenant_arg (call, own);
    if (tenant && !rpc_tenant_admin (call, tenant)) {
        rpc_fail (call, WEFT_STATUS_FORBIDDEN, "%s: a tenant's releases are managed by an "
                  "admin of its root (%s)", call->caller->name, tenant);
        return NULL;
    }
    return tenant;
}

void
rpc_artifact_upload (rpc_call_t *call)
{
    char own [WEFT_NAME_MAX + 1];
    const char *tenant = s_admin_tenant (call, own);
    if (!tenant || !s_repo (call))
        return;
    json_t *size = json_object_get (call->args, "size");
    if (!json_is_integer (size) || json_integer_value (size) <= 0) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "size: want the bundle's size in bytes");
        return;
    }
    char id [17], error [WEFT_TEXT_MAX + 1] = "";
    int status = artrepo_begin (call->env->repo, call->txn, call->caller->name, tenant,
                                (uint64_t) json_integer_value (size), call->now_ms, id, error);
    if (status) {
        rpc_fail (call, status, "%s", error);
        return;
    }
    rpc_audit_set (call, tenant, id);
    call->result->result = json_pack ("{s:s, s:s, s:I, s:i}", "tenant", tenant, "upload", id,
        "size", json_integer_value (size), "part_max", ARTREPO_PART_MAX);
    call->detail = json_pack ("{s:s, s:I}", "upload", id, "size", json_integer_value (size));
}

void
rpc_artifact_part (rpc_call_t *call)
{
    const char *id = json_string_value (json_object_get (call->args, "upload"));
    json_t *offset = json_object_get (call->args, "offset");
    const char *hex = json_string_value (json_object_get (call->args, "data"));
    size_t hex_size = hex? strlen (hex): 0;
    rpc_audit_set (call, NULL, id && strlen (id) <= 16? id: "?");
    if (!id || !json_is_integer (offset) || json_integer_value (offset) < 0
    ||  !hex || hex_size % 2 || hex_size > 2 * ARTREPO_PART_MAX) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "want upload, offset and data (hex of at "
                  "most %d bytes)", ARTREPO_PART_MAX);
        return;
    }
    if (!s_repo (call))
        return;
    uint8_t *data = (uint8_t *) zmalloc (hex_size / 2 + 1);
    if (keys_unhex (hex, data, hex_size / 2)) {
        free (data);
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "data: not hex");
        return;
    }
    char error [WEFT_TEXT_MAX + 1] = "";
    json_t *result = NULL;
    int status = artrepo_part (call->env->repo, call->txn, call->caller->name, id,
                               (uint64_t) json_integer_value (offset), data, hex_size / 2,
                               call->now_ms, &result, error);
    free (data);
    if (status) {
        rpc_fail (call, status, "%s", error);
        return;
    }
    call->result->result = result;
    json_t *releases = json_object_get (result, "releases");
    if (releases) {
        //  The upload's end: the record of what it added
        const char *tenant = rpc_json_str (result, "tenant");
        rpc_audit_set (call, tenant, NULL);
        call->detail = json_pack ("{s:s, s:s, s:O, s:O}", "upload", id, "tenant", tenant,
                                  "releases", releases, "chunks",
                                  json_object_get (result, "chunks"));
    }
    else
        call->quiet = true;
}

//  name and version arguments, required or not; false with the error set
static bool
s_release_args (rpc_call_t *call, bool required, const char **name_p, const char **version_p)
{
    return rpc_arg_name (call, "name", required, false, name_p)
        && (!version_p || rpc_arg_name (call, "version", required, false, version_p));
}

void
rpc_artifact_list (rpc_call_t *call)
{
    char own [WEFT_NAME_MAX + 1];
    const char *tenant = s_tenant_arg (call, own), *name;
    if (!tenant || !s_release_args (call, false, &name, NULL))
        return;
    if (!rpc_tenant_readable (call, tenant)) {
        call->result->result = json_pack ("{s:[]}", "releases");
        return;
    }
    call->result->result = artrepo_list (call->txn, tenant, name);
}

void
rpc_artifact_show (rpc_call_t *call)
{
    char own [WEFT_NAME_MAX + 1];
    const char *tenant = s_tenant_arg (call, own), *name, *version;
    if (!tenant || !s_release_args (call, true, &name, &version))
        return;
    json_t *release = rpc_tenant_readable (call, tenant)
                    ? artrepo_show (call->txn, tenant, name, version): NULL;
    if (!release) {
        rpc_fail (call, WEFT_STATUS_NOT_FOUND, "no release %s %s in tenant %s", name, version,
                  tenant);
        return;
    }
    json_object_set_new (release, "tenant", json_string (tenant));
    call->result->result = release;
}

void
rpc_artifact_remove (rpc_call_t *call)
{
    char own [WEFT_NAME_MAX + 1];
    const char *tenant = s_admin_tenant (call, own), *name, *version;
    if (!tenant || !s_release_args (call, true, &name, &version) || !s_repo (call))
        return;
    char target [2 * WEFT_NAME_MAX + 2];
    snprintf (target, sizeof target, "%s/%s", name, version);
    rpc_audit_set (call, NULL, target);
    char error [WEFT_TEXT_MAX + 1] = "";
    int status = artrepo_remove (call->env->repo, call->txn, tenant, name, version, error);
    if (status) {
        rpc_fail (call, status, "%s", error);
        return;
    }
    call->result->result = json_pack ("{s:s, s:s, s:s}", "tenant", tenant, "name", name,
                                      "version", version);
    call->detail = json_incref (call->result->result);
}
