/*  rpc_release - the methods of software releases: release.root.*
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

//  Does one of the caller's read scopes lie in tenant (or cover it)?
static bool
s_tenant_readable (rpc_call_t *call, const char *tenant)
{
    for (size_t i = 0; i < call->read.scope_count; i++) {
        char own [WEFT_NAME_MAX + 1];
        rpc_tenant_of (call->read.scopes [i], own);
        if (*call->read.scopes [i] == 0 || streq (own, tenant))
            return true;
    }
    return false;
}

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
    uint8_t *root = s_tenant_readable (call, tenant)
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
