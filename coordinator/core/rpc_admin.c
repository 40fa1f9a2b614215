/*  rpc_admin - the administration methods: attest.*, operator.*,
    audit.*, device.revoke, coord.stats
    An operator manages only operators whose home and grants all lie in
    the subtrees where it manages operators, and only as the role map
    allows (proto/opcred.h): what it may give, take away, and whom it
    may change or revoke.  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/attest_state.h"
#include "coordinator/core/attest_software.h"
#include "coordinator/core/audit.h"
#include "coordinator/core/opcert.h"
#include "coordinator/core/rpc_internal.h"

//  --------------------------------------------------------------------------
//  Attestation (coordinator/core/attest.h)

//  The tenant whose attestation policy a call sets: its "tenant"
//  argument, else the tenant of the caller's first admin subtree. It
//  takes admin on the tenant's root: a profile quarantines every device
//  of its type in the tenant, so a subtree admin may not set it, and
//  no tenant's admin sets another's. NULL with the error set.
static const char *
s_policy_tenant (rpc_call_t *call, char own [WEFT_NAME_MAX + 1])
{
    const char *tenant;
    if (!rpc_arg_name (call, "tenant", false, true, &tenant))
        return NULL;
    if (!tenant) {
        rpc_tenant_of (call->act.scopes [0], own);
        tenant = own;
    }
    rpc_audit_set (call, tenant, NULL);
    if (!rpc_tenant_admin (call, tenant)) {
        rpc_fail (call, WEFT_STATUS_FORBIDDEN, "%s: attestation policy is set per tenant, "
                  "by an admin of its root (%s)", call->caller->name,
                  *tenant? tenant: "everything, for the devices without a tenant");
        return NULL;
    }
    return tenant;
}

void
rpc_attest_profile_set (rpc_call_t *call)
{
    const char *type, *tenant;
    char own [WEFT_NAME_MAX + 1];
    if (!rpc_arg_name (call, "type", true, false, &type)
    ||  !(tenant = s_policy_tenant (call, own)))
        return;
    rpc_audit_set (call, NULL, type);
    char error [WEFT_TEXT_MAX + 1] = "";
    if (attest_profile_put (call->txn, tenant, type, json_object_get (call->args, "profile"),
                            call->env->pki, error, sizeof error))
        rpc_fail (call, strstr (error, "store")? WEFT_STATUS_INTERNAL: WEFT_STATUS_BAD_REQUEST,
                  "%s", error);
    else {
        json_t *profile = attest_profile_get (call->txn, tenant, type,
                                              pki_ca_key (call->env->pki));
        call->result->result = json_pack ("{s:s, s:s, s:o?}", "tenant", tenant, "type", type,
                                          "profile", profile);
        call->detail = json_pack ("{s:s, s:s}", "tenant", tenant, "type", type);
    }
}

void
rpc_attest_allowlist_set (rpc_call_t *call)
{
    const char *tenant;
    char own [WEFT_NAME_MAX + 1];
    if (!(tenant = s_policy_tenant (call, own)))
        return;
    json_t *text = json_object_get (call->args, "allowlist");
    rpc_audit_set (call, NULL, "allowlist");
    if (!json_is_string (text)) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "allowlist: want the text of a sha256sum list");
        return;
    }
    char error [WEFT_TEXT_MAX + 1] = "";
    int count = attest_allowlist_put (call->txn, tenant, json_string_value (text),
                                      json_string_length (text), call->env->pki,
                                      error, sizeof error);
    if (count < 0)
        rpc_fail (call, strstr (error, "store")? WEFT_STATUS_INTERNAL: WEFT_STATUS_BAD_REQUEST,
                  "%s", error);
    else {
        call->result->result = json_pack ("{s:s, s:i}", "tenant", tenant, "digests", count);
        call->detail = json_pack ("{s:s, s:i}", "tenant", tenant, "digests", count);
    }
}

static bool
s_attest_visible (void *arg, const char *id)
{
    rpc_call_t *call = (rpc_call_t *) arg;
    json_t *device = registry_device_get (call->txn, id);
    bool visible = device && devquery_visible (&call->read, device);
    json_decref (device);
    return visible;
}

void
rpc_attest_status (rpc_call_t *call)
{
    call->result->result = attest_summary (call->txn, call->now_ms, s_attest_visible, call);
}

void
rpc_attest_show (rpc_call_t *call)
{
    json_t *device = rpc_arg_device (call);
    if (!device)
        return;
    json_t *verdict = attest_verdict_get (call->txn, rpc_json_str (device, "id"));
    attest_status_t status;
    memset (&status, 0, sizeof status);
    attest_status (call->txn, rpc_json_str (device, "id"), device,
                   pki_ca_key (call->env->pki), call->now_ms, &status);
    json_t *show = json_pack ("{s:s, s:s, s:O, s:s, s:b, s:b, s:I}",
        "id", rpc_json_str (device, "id"),
        "assurance", *rpc_json_str (device, "assurance")? rpc_json_str (device, "assurance")
                                                          : "software",
        "verdict", verdict? verdict: json_null (),
        "state", attest_state_name (status.state),
        "quarantined", attest_state_quarantines (status.state),
        "required", status.required, "due_ms", (json_int_t) status.due_ms);
    //  What its committed releases add to its expected state
    json_object_set_new (show, "software",
                         attest_software_show (call->txn, rpc_json_str (device, "id")));
    //  The passport it would get now, for an operator to inspect or hand on
    uint8_t *passport = NULL;
    size_t size = 0;
    if (call->env->coord_secret
    &&  attest_passport (call->txn, rpc_json_str (device, "id"), device, 0, call->now_ms,
                         call->env->coord_secret, &passport, &size, NULL) == 0) {
        char *hex = (char *) zmalloc (2 * size + 1);
        keys_hex (passport, size, hex);
        json_object_set_new (show, "passport", json_string (hex));
        free (hex);
    }
    free (passport);
    json_decref (verdict);
    json_decref (device);
    call->result->result = show;
}

void
rpc_attest_clear (rpc_call_t *call)
{
    json_t *device = rpc_arg_device (call);
    if (!device)
        return;
    if (attest_verdict_clear (call->txn, device, pki_ca_key (call->env->pki),
                              call->now_ms) < 0)
        rpc_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
    else
        call->result->result = json_pack ("{s:s}", "id", rpc_json_str (device, "id"));
    json_decref (device);
}

//  --------------------------------------------------------------------------
//  Operators

//  The role map (proto/opcred.h, docs/security.md) decides what the
//  caller may do to an operator; scope decides which operators it may
//  touch at all. Every check below reads both from one place.

//  Does one of the caller's grants cover path with a role that may do
//  action on role?
static bool
s_role_allows (rpc_call_t *call, int action, const char *role, const char *path)
{
    for (size_t i = 0; i < call->caller->grant_count; i++) {
        const rpc_grant_t *grant = &call->caller->grants [i];
        if (devquery_covers (grant->path, path)
        &&  opcred_may_manage (grant->role, action, role))
            return true;
    }
    return false;
}

static const char *
s_action_name (int action)
{
    return action == OPCRED_GRANT? "grant": action == OPCRED_REMOVE? "remove": "manage";
}

//  May the caller give (OPCRED_GRANT) or take (OPCRED_REMOVE) role on
//  path? False with the error set.
static bool
s_may_grant (rpc_call_t *call, int action, const char *role, const char *path)
{
    if (!rpc_covered (&call->act, path)) {
        rpc_fail (call, WEFT_STATUS_FORBIDDEN, "%s is outside your scope",
                  *path? path: "the global scope");
        return false;
    }
    if (!s_role_allows (call, action, role, path)) {
        rpc_fail (call, WEFT_STATUS_FORBIDDEN,
                  "your roles on %s may not %s %s (docs/security.md, role map)",
                  *path? path: "everything", s_action_name (action), role);
        return false;
    }
    return true;
}

void
rpc_operator_add (rpc_call_t *call)
{
    const char *name, *role, *tenant, *path;
    uint8_t sign_key [32], curve_key [32];
    if (!rpc_arg_name (call, "name", true, false, &name)
    ||  !rpc_arg_name (call, "role", true, false, &role)
    ||  !rpc_arg_name (call, "tenant", false, true, &tenant)
    ||  !rpc_arg_path (call, "path", false, true, &path)
    ||  !rpc_arg_key (call, "sign_key", sign_key)
    ||  !rpc_arg_key (call, "curve_key", curve_key))
        return;
    rpc_audit_set (call, NULL, name);
    if (tenant && path && *tenant && *path && !devquery_covers (tenant, path)) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "path %s is not in tenant %s", path, tenant);
        return;
    }
    //  The subtree: path, else tenant, else the creator's first subtree
    const char *scope = path? path: tenant? tenant: call->act.scopes [0];
    rpc_audit_set (call, scope, NULL);
    if (opcred_role_perms (role) == 0) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST,
                  "role must be viewer, operator, auditor, security-officer or admin");
        return;
    }
    if (!s_may_grant (call, OPCRED_GRANT, role, scope))
        return;
    uint8_t *cert;
    size_t cert_size;
    uint64_t serial;
    int status = rpc_operator_create (call->env->pki, call->txn, name, role, scope,
                                      sign_key, curve_key, false, call->now_ms / 1000,
                                      &cert, &cert_size, &serial, call->result->error);
    if (status) {
        call->result->status = status;
        return;
    }
    char *cert_hex = (char *) zmalloc (2 * cert_size + 1);
    keys_hex (cert, cert_size, cert_hex);
    char own [WEFT_NAME_MAX + 1];
    rpc_tenant_of (scope, own);
    call->result->result = json_pack ("{s:s, s:I, s:s, s:s, s:s, s:s}", "cert", cert_hex,
        "serial", (json_int_t) serial, "name", name, "role", role, "tenant", own,
        "path", scope);
    call->detail = json_pack ("{s:s, s:s, s:I}", "role", role, "path", scope,
                              "serial", (json_int_t) serial);
    free (cert_hex);
    free (cert);
}

//  Where an operator belongs: the subtree it was created on, kept when
//  it holds no grant any more (records from before homes: its tenant)
static const char *
s_operator_home (json_t *op)
{
    json_t *home = json_object_get (op, "home");
    return json_is_string (home)? json_string_value (home): rpc_json_str (op, "tenant");
}

//  The record of an operator the caller may manage, or NULL with the
//  error set. An operator whose home or any grant lies outside the
//  subtrees where the caller manages operators answers exactly as a
//  missing one, grantless or not; one inside them holding a role the
//  caller's role may not manage is forbidden.
static json_t *
s_managed_operator (rpc_call_t *call, const char *name)
{
    json_t *op = registry_operator_get (call->txn, name);
    json_t *grants = op? opcert_grants (op): NULL;
    size_t index;
    json_t *grant;
    bool reached = op && rpc_covered (&call->act, s_operator_home (op));
    json_array_foreach (grants, index, grant)
        if (reached && !rpc_covered (&call->act, rpc_json_str (grant, "path")))
            reached = false;
    if (!reached) {
        json_decref (grants);
        json_decref (op);
        rpc_fail (call, WEFT_STATUS_NOT_FOUND, "unknown operator %s", name);
        return NULL;
    }
    json_array_foreach (grants, index, grant) {
        const char *role = rpc_json_str (grant, "role");
        const char *path = rpc_json_str (grant, "path");
        if (opcred_role_perms (role) && !s_role_allows (call, OPCRED_MANAGE, role, path)) {
            rpc_fail (call, WEFT_STATUS_FORBIDDEN,
                      "your roles may not manage %s: it holds %s on %s "
                      "(docs/security.md, role map)", name, role, *path? path: "everything");
            json_decref (grants);
            json_decref (op);
            return NULL;
        }
    }
    json_decref (grants);
    return op;
}

void
rpc_operator_grant (rpc_call_t *call)
{
    const char *name, *role, *path;
    bool remove;
    if (!rpc_arg_name (call, "name", true, false, &name)
    ||  !rpc_arg_name (call, "role", true, false, &role)
    ||  !rpc_arg_path (call, "path", true, true, &path)
    ||  !rpc_arg_bool (call, "remove", &remove))
        return;
    rpc_audit_set (call, path, name);
    if (opcred_role_perms (role) == 0) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST,
                  "role must be viewer, operator, auditor, security-officer or admin");
        return;
    }
    json_t *op = s_managed_operator (call, name);
    json_t *grants = op? opcert_grants (op): NULL;
    size_t index;
    json_t *grant;
    if (!op)
        goto done;
    if (!s_may_grant (call, remove? OPCRED_REMOVE: OPCRED_GRANT, role, path))
        goto done;
    bool found = false;
    json_array_foreach (grants, index, grant)
        if (streq (rpc_json_str (grant, "role"), role)
        &&  streq (rpc_json_str (grant, "path"), path)) {
            found = true;
            break;
        }
    if (remove && found)
        json_array_remove (grants, index);
    else
    if (!remove && !found) {
        if (json_array_size (grants) >= RPC_GRANTS_MAX) {
            rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "an operator holds at most %d grants",
                      RPC_GRANTS_MAX);
            goto done;
        }
        json_array_append_new (grants, json_pack ("{s:s, s:s}", "role", role, "path", path));
    }
    json_object_set (op, "grants", grants);
    if (registry_operator_put (call->txn, op)) {
        rpc_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
        goto done;
    }
    call->result->result = json_pack ("{s:s, s:O}", "name", name, "grants", grants);
    call->detail = json_pack ("{s:s, s:s, s:b}", "role", role, "path", path, "remove", remove);
done:
    json_decref (grants);
    json_decref (op);
}

//  A fresh credential for the caller, with all of its grants, for site
//  servers to authorise it offline
void
rpc_operator_credential (rpc_call_t *call)
{
    json_int_t ttl;
    if (!rpc_arg_int (call, "ttl", OPCERT_TTL_DEFAULT_S, OPCERT_TTL_MAX_S, &ttl))
        return;
    json_t *op = registry_operator_get (call->txn, call->caller->name);
    if (!op) {
        rpc_fail (call, WEFT_STATUS_NOT_FOUND, "unknown operator %s", call->caller->name);
        return;
    }
    rpc_audit_set (call, NULL, call->caller->name);
    uint8_t *cert = NULL;
    size_t cert_size = 0;
    uint64_t serial = 0;
    call->result->status = opcert_issue (call->env->pki, call->txn, op, call->now_ms / 1000,
                                         (uint64_t) ttl, &cert, &cert_size, &serial,
                                         call->result->error);
    if (call->result->status == WEFT_STATUS_OK && registry_operator_put (call->txn, op))
        rpc_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
    if (call->result->status == WEFT_STATUS_OK) {
        char *cert_hex = (char *) zmalloc (2 * cert_size + 1);
        keys_hex (cert, cert_size, cert_hex);
        json_t *grants = opcert_grants (op);
        call->result->result = json_pack ("{s:s, s:I, s:I, s:o}", "cert", cert_hex,
            "serial", (json_int_t) serial,
            "not_after", (json_int_t) (call->now_ms / 1000 + (uint64_t) ttl), "grants", grants);
        call->detail = json_pack ("{s:I, s:I}", "serial", (json_int_t) serial, "ttl", ttl);
        free (cert_hex);
    }
    free (cert);
    json_decref (op);
}

//  Revoke an operator: the coordinator refuses its key from now on, and
//  its key goes on the revocation list, so site servers refuse its
//  credentials too
void
rpc_operator_revoke (rpc_call_t *call)
{
    const char *name;
    if (!rpc_arg_name (call, "name", true, false, &name))
        return;
    rpc_audit_set (call, NULL, name);
    if (streq (name, call->caller->name)) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "you cannot revoke yourself");
        return;
    }
    json_t *op = s_managed_operator (call, name);
    if (!op)
        return;
    bool already = json_is_true (json_object_get (op, "revoked"));
    uint64_t version = registry_meta_get (call->txn, "revocations_version");
    if (!already) {
        json_object_set_new (op, "revoked", json_true ());
        json_object_set_new (op, "revoked_at", json_integer ((json_int_t) (call->now_ms / 1000)));
        if (registry_operator_put (call->txn, op)
        ||  registry_meta_put (call->txn, "revocations_version", ++version))
            rpc_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
    }
    if (call->result->status == WEFT_STATUS_OK) {
        call->result->result = json_pack ("{s:s, s:b, s:I}", "name", name, "revoked", 1,
                                          "revocations_version", (json_int_t) version);
        call->detail = json_pack ("{s:b, s:I}", "already", already,
                                  "revocations_version", (json_int_t) version);
    }
    json_decref (op);
}

//  --------------------------------------------------------------------------
//  Audit: an auditor with a grant on everything reads the deployment's
//  chain, or any tenant's; one whose grants lie in tenants reads the
//  chains of those tenants only, and never learns how long another is

//  The chain the call reads into tenant ("" = the deployment's), from
//  the tenant argument (or the anchor's), else the caller's one tenant.
//  whole: the call proves the chain (verify, head), which needs a
//  grant on the whole tenant; a list needs one in it. False with the
//  error set.
static bool
s_audit_chain (rpc_call_t *call, const char *wanted, bool whole,
               char tenant [WEFT_NAME_MAX + 1])
{
    bool everything = false;
    for (size_t i = 0; i < call->act.scope_count; i++)
        everything |= *call->act.scopes [i] == 0;
    if (wanted) {
        bool granted = everything;
        for (size_t i = 0; i < call->act.scope_count && !granted; i++)
            granted = whole? streq (call->act.scopes [i], wanted)
                           : devquery_covers (wanted, call->act.scopes [i]);
        //  The same answer whether the tenant exists or not
        if (!granted) {
            rpc_fail (call, WEFT_STATUS_FORBIDDEN, "your grants do not cover the audit log "
                      "of tenant %s%s", wanted, whole? " as a whole": "");
            return false;
        }
        snprintf (tenant, WEFT_NAME_MAX + 1, "%s", wanted);
        return true;
    }
    if (everything) {
        tenant [0] = 0;
        return true;
    }
    char first [WEFT_NAME_MAX + 1];
    rpc_tenant_of (call->act.scopes [0], first);
    for (size_t i = 1; i < call->act.scope_count; i++) {
        char other [WEFT_NAME_MAX + 1];
        rpc_tenant_of (call->act.scopes [i], other);
        if (!streq (other, first)) {
            rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "your audit grants are in tenants %s "
                      "and %s: say which one (tenant)", first, other);
            return false;
        }
    }
    return s_audit_chain (call, first, whole, tenant);
}

void
rpc_audit_list (rpc_call_t *call)
{
    query_t *query;
    json_int_t limit;
    const char *wanted;
    char tenant [WEFT_NAME_MAX + 1];
    if (!rpc_arg_limit (call, 100, AUDIT_LIST_MAX, &limit)
    ||  !rpc_arg_name (call, "tenant", false, false, &wanted)
    ||  !s_audit_chain (call, wanted, false, tenant)
    ||  !rpc_arg_query (call, &query))
        return;
    json_t *records = audit_list (call->txn, tenant, query, call->act.scopes,
                                  call->act.scope_count, (size_t) limit);
    query_destroy (&query);
    if (!records)
        rpc_fail (call, WEFT_STATUS_INTERNAL, "cannot read the audit log");
    else
        call->result->result = json_pack ("{s:o, s:s}", "records", records, "tenant", tenant);
}

//  A signed head as JSON, the form audit.head exports and an anchor
//  takes: {seq, hash, sig}, and tenant for a tenant's chain
static json_t *
s_head_json (const audit_head_t *head)
{
    json_t *json = json_pack ("{s:I, s:s, s:s}", "seq", (json_int_t) head->seq,
                              "hash", head->hash, "sig", head->sig);
    if (*head->tenant)
        json_object_set_new (json, "tenant", json_string (head->tenant));
    return json;
}

void
rpc_audit_verify (rpc_call_t *call)
{
    audit_head_t anchor;
    memset (&anchor, 0, sizeof anchor);
    json_t *json = json_object_get (call->args, "anchor");
    const char *wanted;
    if (!rpc_arg_name (call, "tenant", false, false, &wanted))
        return;
    if (json) {
        const char *hash = rpc_json_str (json, "hash"), *sig = rpc_json_str (json, "sig");
        json_t *named = json_object_get (json, "tenant");
        json_int_t seq = json_integer_value (json_object_get (json, "seq"));
        if (!json_is_object (json) || json_object_size (json) != (named? 4: 3) || seq < 1
        ||  strlen (hash) != 2 * AUDIT_HASH_SIZE || strlen (sig) != 2 * WEFT_SIG_SIZE
        ||  (named && (!json_is_string (named)
                       || !registry_name_valid (json_string_value (named))))) {
            rpc_fail (call, WEFT_STATUS_BAD_REQUEST,
                      "anchor must be {seq, hash, sig} or {tenant, seq, hash, sig} as audit head "
                      "prints it");
            return;
        }
        if (named && wanted && !streq (wanted, json_string_value (named))) {
            rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "the anchor is the head of tenant %s, "
                      "not of %s", json_string_value (named), wanted);
            return;
        }
        if (named)
            wanted = json_string_value (named);
        anchor.seq = (uint64_t) seq;
        snprintf (anchor.tenant, sizeof anchor.tenant, "%s", named? wanted: "");
        snprintf (anchor.hash, sizeof anchor.hash, "%s", hash);
        snprintf (anchor.sig, sizeof anchor.sig, "%s", sig);
    }
    char tenant [WEFT_NAME_MAX + 1];
    if (!s_audit_chain (call, wanted, true, tenant))
        return;
    if (json && !streq (anchor.tenant, tenant)) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "the anchor is the deployment's head, not "
                  "tenant %s's", tenant);
        return;
    }
    rpc_audit_set (call, tenant, NULL);
    uint64_t records;
    char head [2 * AUDIT_HASH_SIZE + 1];
    char error [WEFT_TEXT_MAX + 1];
    int rc = audit_verify (call->txn, pki_ca_key (call->env->pki), tenant,
                           json? &anchor: NULL, &records, head, error);
    call->result->result = json_pack ("{s:b, s:I, s:s, s:s, s:b, s:s}", "intact", rc == 0,
                                      "records", (json_int_t) records, "head", head,
                                      "error", error, "anchored", json != NULL,
                                      "tenant", tenant);
}

//  The signed head, to keep outside the coordinator as an anchor
void
rpc_audit_head (rpc_call_t *call)
{
    const char *wanted;
    char tenant [WEFT_NAME_MAX + 1];
    if (!rpc_arg_name (call, "tenant", false, false, &wanted)
    ||  !s_audit_chain (call, wanted, true, tenant))
        return;
    rpc_audit_set (call, tenant, NULL);
    audit_head_t head;
    if (audit_head (call->txn, tenant, &head)) {
        rpc_fail (call, WEFT_STATUS_INTERNAL, "the audit head is corrupt");
        return;
    }
    call->result->result = s_head_json (&head);
}

//  --------------------------------------------------------------------------
//  Devices: revocation; coordinator counters

//  device.revoke: mark the device revoked and bump the revocation
//  list's version; weft-coord then closes its links and spreads the
//  list (coord.c). Revoking twice is not an error.
void
rpc_device_revoke (rpc_call_t *call)
{
    json_t *device = rpc_arg_device (call);
    if (!device)
        return;
    const char *id = rpc_json_str (device, "id");
    bool already = json_is_true (json_object_get (device, "revoked"));
    uint64_t version = registry_meta_get (call->txn, "revocations_version");
    if (!already) {
        json_object_set_new (device, "revoked", json_true ());
        json_object_set_new (device, "revoked_at", json_integer ((json_int_t) (call->now_ms / 1000)));
        if (registry_device_put (call->txn, device)
        ||  registry_meta_put (call->txn, "revocations_version", ++version))
            rpc_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
    }
    if (call->result->status == 0) {
        call->result->result = json_pack ("{s:s, s:b, s:I}", "id", id, "revoked", 1,
                                          "revocations_version", (json_int_t) version);
        call->detail = json_pack ("{s:b, s:I}", "already", already,
                                  "revocations_version", (json_int_t) version);
    }
    json_decref (device);
}

void
rpc_coord_stats (rpc_call_t *call)
{
    bool global = false;
    for (size_t i = 0; i < call->read.scope_count; i++)
        if (*call->read.scopes [i] == 0)
            global = true;
    if (!global) {
        rpc_fail (call, WEFT_STATUS_FORBIDDEN,
                  "coord.stats needs an operator without a tenant");
        return;
    }
    const coord_stats_t *stats = call->env->stats;
    int64_t devices = registry_device_count (call->txn);
    call->result->result = json_pack (
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
        "rejected_signature", (json_int_t) stats->rejected_signature,
        "rejected_replay", (json_int_t) stats->rejected_replay,
        "rejected_origin", (json_int_t) stats->rejected_origin,
        "rejected_malformed", (json_int_t) stats->rejected_malformed,
        "rejected_expired", (json_int_t) stats->rejected_expired,
        "enrolments", (json_int_t) stats->enrolments,
        "enrol_refused", (json_int_t) stats->enrol_refused,
        "rpc_calls", (json_int_t) stats->rpc_calls,
        "duplicates", (json_int_t) stats->duplicates,
        "custody_held", (json_int_t) stats->custody_held,
        "custody_resent", (json_int_t) stats->custody_resent,
        "custody_acked", (json_int_t) stats->custody_acked,
        "custody_refused", (json_int_t) stats->custody_refused,
        "custody_over_budget", (json_int_t) stats->custody_over_budget,
        "custody_expired", (json_int_t) stats->custody_expired,
        "devices", (json_int_t) (devices > 0? devices: 0),
        "online", (json_int_t) registry_online_count (call->env->registry, call->now_ms));
    json_object_set_new (call->result->result, "audit_refusals_held",
                         json_integer ((json_int_t) stats->audit_refusals_held));
    json_t *updates = json_pack ("{s:I, s:I, s:I, s:I, s:I}",
        "update_offers", (json_int_t) stats->update_offers,
        "chunk_wants", (json_int_t) stats->chunk_wants,
        "chunks_served", (json_int_t) stats->chunks_served,
        "chunk_bytes_served", (json_int_t) stats->chunk_bytes_served,
        "chunk_deltas_served", (json_int_t) stats->chunk_deltas_served);
    json_object_update (call->result->result, updates);
    json_decref (updates);
}
