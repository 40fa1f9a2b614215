/*  rpc - the coordinator's operator methods
    Every method names the arguments it accepts; any other argument is
    refused, so a typo never passes silently, and neither does a tenant,
    role or identity smuggled into a request: the caller's scope comes
    only from its grants. A query only narrows what the scopes allow.
    Authorization is checked before arguments are read, scope when a
    device is looked up. Messages are short and stable: scripts and
    tests match on them.
    This file dispatches; the methods are in rpc_devices.c, rpc_enrol.c,
    rpc_admin.c and rpc_release.c, the argument checks they share in
    rpc_args.c, all declared in rpc_internal.h.  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "coordinator/core/audit.h"
#include "coordinator/core/opcert.h"
#include "coordinator/core/rpc_internal.h"

//  --------------------------------------------------------------------------
//  The methods: name, permission, accepted arguments, implementation

#define S_KEYS_MAX  17

static const struct {
    const char *name;
    int perm;                       //  Permission it needs
    bool writes;                    //  Audited also when it succeeds
    const char *keys [S_KEYS_MAX];  //  Arguments accepted, NULL-ended
    rpc_method_fn *fn;
} s_methods [] = {
    { "token.create", P_ADMIN, true, { "tenant", "path", "ttl", "type", NULL }, rpc_token_create },
    { "device.preregister", P_ADMIN, true,
        { "id", "ek_public", "tenant", "path", "tags", "type", NULL }, rpc_device_preregister },
    { "device.list", P_READ, false, { "query", "limit", NULL }, rpc_device_list },
    { "device.count", P_READ, false, { "query", NULL }, rpc_device_count },
    { "device.show", P_READ, false, { "id", NULL }, rpc_device_show },
    { "device.set", P_WRITE, true,
        { "id", "type", "hw", "fw", "sw", "location", "path", "asset", "tags", NULL },
        rpc_device_set },
    { "twin.get", P_READ, false, { "id", NULL }, rpc_twin_get },
    { "twin.set", P_WRITE, true, { "id", "patch", NULL }, rpc_twin_set },
    { "device.revoke", P_REVOKE, true, { "id", NULL }, rpc_device_revoke },
    { "batch.twin", P_WRITE, true, { "query", "patch", "dry_run", NULL }, rpc_batch_twin },
    { "batch.tag", P_WRITE, true, { "query", "tags", "dry_run", NULL }, rpc_batch_tag },
    { "batch.move", P_WRITE, true, { "query", "path", "asset", "dry_run", NULL },
        rpc_batch_move },
    { "hierarchy.import", P_ADMIN, true, { "doc", "upload", NULL }, rpc_hierarchy_import },
    { "hierarchy.export", P_READ, false, { NULL }, rpc_hierarchy_export },
    { "operator.add", P_OPERATORS, true,
        { "name", "role", "tenant", "path", "sign_key", "curve_key", NULL }, rpc_operator_add },
    { "operator.grant", P_OPERATORS, true, { "name", "role", "path", "remove", NULL },
        rpc_operator_grant },
    { "operator.credential", P_READ, true, { "ttl", NULL }, rpc_operator_credential },
    { "operator.revoke", P_OPERATORS, true, { "name", NULL }, rpc_operator_revoke },
    { "audit.list", P_AUDIT, false, { "query", "limit", "tenant", NULL }, rpc_audit_list },
    { "audit.verify", P_AUDIT, false, { "anchor", "tenant", NULL }, rpc_audit_verify },
    { "audit.head", P_AUDIT, false, { "tenant", NULL }, rpc_audit_head },
    { "coord.stats", P_READ, false, { NULL }, rpc_coord_stats },
    { "attest.profile.set", P_ADMIN, true, { "tenant", "type", "profile", NULL },
        rpc_attest_profile_set },
    { "attest.allowlist.set", P_ADMIN, true, { "tenant", "allowlist", NULL },
        rpc_attest_allowlist_set },
    { "attest.status", P_READ, false, { NULL }, rpc_attest_status },
    { "attest.show", P_READ, false, { "id", NULL }, rpc_attest_show },
    { "attest.clear", P_ADMIN, true, { "id", NULL }, rpc_attest_clear },
    { "release.root.set", P_ADMIN, true, { "tenant", "root", NULL }, rpc_release_root_set },
    { "release.root.show", P_READ, false, { "tenant", NULL }, rpc_release_root_show },
    { "artifact.upload", P_ADMIN, true, { "tenant", "size", NULL }, rpc_artifact_upload },
    { "artifact.part", P_ADMIN, true, { "upload", "offset", "data", NULL }, rpc_artifact_part },
    { "artifact.list", P_READ, false, { "tenant", "name", NULL }, rpc_artifact_list },
    { "artifact.show", P_READ, false, { "tenant", "name", "version", NULL }, rpc_artifact_show },
    { "artifact.remove", P_ADMIN, true, { "tenant", "name", "version", NULL },
        rpc_artifact_remove },
    { "update.assign", P_WRITE, true, { "id", "query", "name", "version", "ttl", NULL },
        rpc_update_assign },
    { "update.status", P_READ, false, { "id", "query", "limit", NULL }, rpc_update_status },
    { "update.uninstall", P_WRITE, true, { "id", "query", "name", NULL },
        rpc_update_uninstall },
    { "entitlement.grant", P_WRITE, true, { "id", "query", "name", "until", NULL },
        rpc_entitlement_grant },
    { "campaign.create", P_WRITE, true, { "query", "name", "version", "waves", "threshold",
        "timeout", "rate", "concurrency", "soak", "allow_empty", "patch", "dynamic", "join_every", "excludable", "success",
        "at_sites", NULL },
        rpc_campaign_create },
    { "campaign.show", P_READ, false, { "id", "limit", "sites", NULL },
        rpc_campaign_show },
    { "campaign.list", P_READ, false, { "limit", NULL }, rpc_campaign_list },
    { "campaign.start", P_WRITE, true, { "id", NULL }, rpc_campaign_start },
    { "campaign.pause", P_WRITE, true, { "id", NULL }, rpc_campaign_pause },
    { "campaign.resume", P_WRITE, true, { "id", NULL }, rpc_campaign_resume },
    { "campaign.abort", P_WRITE, true, { "id", NULL }, rpc_campaign_abort },
    { "campaign.retry", P_WRITE, true, { "id", NULL }, rpc_campaign_retry },
    { "campaign.exclude", P_ADMIN, true, { "id", "tenant", NULL }, rpc_campaign_exclude },
    { "campaign.revert", P_WRITE, true, { "id", NULL }, rpc_campaign_revert },
};

bool
rpc_method_at (size_t index, const char **name_p, int *perm_p, bool *writes_p,
               const char *const **keys_p)
{
    assert (name_p && perm_p && writes_p && keys_p);
    if (index >= sizeof s_methods / sizeof s_methods [0])
        return false;
    *name_p = s_methods [index].name;
    *perm_p = s_methods [index].perm;
    *writes_p = s_methods [index].writes;
    *keys_p = s_methods [index].keys;
    return true;
}

//  --------------------------------------------------------------------------
//  The caller's grants

void
rpc_caller_load (rpc_caller_t *caller, const char *name, json_t *op)
{
    assert (caller && name);
    memset (caller, 0, sizeof *caller);
    snprintf (caller->name, sizeof caller->name, "%s", name);
    snprintf (caller->tenant, sizeof caller->tenant, "%s", rpc_json_str (op, "tenant"));
    json_t *grants = opcert_grants (op);
    size_t index;
    json_t *grant;
    json_array_foreach (grants, index, grant) {
        if (caller->grant_count == RPC_GRANTS_MAX)
            break;
        const char *role = rpc_json_str (grant, "role");
        const char *path = rpc_json_str (grant, "path");
        if (opcred_role_perms (role) == 0 || (*path && !hierarchy_path_valid (path)))
            continue;               //  A corrupt grant grants nothing
        rpc_grant_t *slot = &caller->grants [caller->grant_count++];
        snprintf (slot->role, sizeof slot->role, "%s", role);
        snprintf (slot->path, sizeof slot->path, "%s", path);
    }
    json_decref (grants);
}

//  Scopes of the grants whose role has perm
static void
s_scopes (const rpc_caller_t *caller, int perm, devquery_ctx_t *ctx)
{
    ctx->scope_count = 0;
    for (size_t i = 0; i < caller->grant_count; i++)
        if (opcred_role_perms (caller->grants [i].role) & perm)
            ctx->scopes [ctx->scope_count++] = caller->grants [i].path;
}

//  --------------------------------------------------------------------------
//  Run one method.

static void
    s_run (rpc_env_t *env, store_txn_t *txn, const rpc_caller_t *caller,
           const char *method, const char *args, size_t args_size,
           uint64_t now_ms, rpc_result_t *result, bool defer);

void
rpc_call (rpc_env_t *env, store_txn_t *txn, const rpc_caller_t *caller,
          const char *method, const char *args, size_t args_size,
          uint64_t now_ms, rpc_result_t *result)
{
    s_run (env, txn, caller, method, args, args_size, now_ms, result, false);
}

void
rpc_call_read (rpc_env_t *env, store_txn_t *txn, const rpc_caller_t *caller,
               const char *method, const char *args, size_t args_size,
               uint64_t now_ms, rpc_result_t *result)
{
    s_run (env, txn, caller, method, args, args_size, now_ms, result, true);
}

bool
rpc_is_read (const char *method)
{
    assert (method);
    size_t count = sizeof s_methods / sizeof s_methods [0];
    for (size_t index = 0; index < count; index++)
        if (streq (s_methods [index].name, method))
            return !s_methods [index].writes;
    return false;
}

//  Append a call's records in txn: one to the deployment chain, and one
//  to each tenant chain it concerns: entry->tenant's, or, when the call
//  touched several tenants (tenants: tenant -> its part of the detail),
//  one per tenant with that part only. Returns 0 or -1.
static int
s_audit (pki_t *pki, store_txn_t *txn, uint64_t now_ms, audit_entry_t *entry,
         json_t *tenants)
{
    if (json_object_size (tenants) < 2)
        return audit_append (txn, pki, now_ms, entry);
    entry->tenant = NULL;
    if (audit_append (txn, pki, now_ms, entry))
        return -1;
    const char *key;
    json_t *part;
    json_object_foreach (tenants, key, part) {
        entry->scope = key;
        entry->detail = part;
        if (audit_append_tenant (txn, pki, now_ms, key, entry))
            return -1;
    }
    return 0;
}

int
rpc_audit_deferred (rpc_env_t *env, store_txn_t *txn, const rpc_caller_t *caller,
                    const char *method, rpc_result_t *result, uint64_t now_ms)
{
    assert (env && txn && caller && method && result);
    if (!result->audit)
        return 0;
    audit_entry_t entry = {
        caller->name, method, rpc_json_str (result->audit, "scope"),
        rpc_json_str (result->audit, "target"), result->status,
        json_object_get (result->audit, "detail"), caller->source,
        rpc_json_str (result->audit, "tenant")
    };
    int rc = s_audit (env->pki, txn, now_ms, &entry, NULL);
    json_decref (result->audit);
    result->audit = NULL;
    return rc;
}

//  The tenant a call's record concerns: that of the scope it touched,
//  else the caller's own. A refused call's scope counts only if the
//  caller may read there: an attempt on another tenant's objects is its
//  own tenant's business, and tells the other tenant nothing.
static void
s_record_tenant (const rpc_call_t *call, char tenant [WEFT_NAME_MAX + 1])
{
    if (*call->scope && (call->result->status == WEFT_STATUS_OK
                         || rpc_covered (&call->read, call->scope)))
        rpc_tenant_of (call->scope, tenant);
    else
        snprintf (tenant, WEFT_NAME_MAX + 1, "%s", call->caller->tenant);
}

//  Run one method; with defer, in a read transaction: the audit record
//  of a refusal is left in result->audit for rpc_audit_deferred
static void
s_run (rpc_env_t *env, store_txn_t *txn, const rpc_caller_t *caller,
       const char *method, const char *args, size_t args_size,
       uint64_t now_ms, rpc_result_t *result, bool defer)
{
    assert (env && txn && caller && method && result);
    memset (result, 0, sizeof *result);
    rpc_call_t call;
    memset (&call, 0, sizeof call);
    call.env = env;
    call.txn = txn;
    call.caller = caller;
    call.now_ms = now_ms;
    call.result = result;
    call.read.registry = call.act.registry = env->registry;
    call.read.txn = call.act.txn = txn;
    call.read.now_ms = call.act.now_ms = now_ms;

    size_t index = 0;
    size_t count = sizeof s_methods / sizeof s_methods [0];
    while (index < count && !streq (s_methods [index].name, method))
        index++;
    if (index == count) {
        rpc_fail (&call, WEFT_STATUS_BAD_REQUEST, "unknown method %.64s", method);
        goto done;
    }
    if (defer && s_methods [index].writes) {
        rpc_fail (&call, WEFT_STATUS_INTERNAL, "%s is not a read-only method", method);
        goto done;
    }
    call.perm = s_methods [index].perm;
    s_scopes (caller, P_READ, &call.read);
    s_scopes (caller, call.perm, &call.act);
    if (call.act.scope_count == 0) {
        char roles [RPC_GRANTS_MAX * (WEFT_NAME_MAX + 1) + 1] = "";
        for (size_t i = 0; i < caller->grant_count; i++) {
            if (i)
                strcat (roles, ",");
            strcat (roles, caller->grants [i].role);
        }
        rpc_fail (&call, WEFT_STATUS_FORBIDDEN, "role %s may not call %s",
                  *roles? roles: "(none)", method);
        goto done;
    }
    if (args_size > RPC_ARGS_MAX) {
        rpc_fail (&call, WEFT_STATUS_BAD_REQUEST, "args larger than %d bytes", RPC_ARGS_MAX);
        goto done;
    }
    json_error_t error;
    if (args_size == 0)
        call.args = json_object ();
    else
        call.args = json_loadb (args, args_size, JSON_REJECT_DUPLICATES, &error);
    if (!call.args) {
        rpc_fail (&call, WEFT_STATUS_BAD_REQUEST, "args are not valid JSON: %.80s", error.text);
        goto done;
    }
    if (!json_is_object (call.args)) {
        rpc_fail (&call, WEFT_STATUS_BAD_REQUEST, "args must be a JSON object");
        goto done;
    }
    const char *key;
    json_t *value;
    json_object_foreach (call.args, key, value) {
        size_t k = 0;
        while (s_methods [index].keys [k] && !streq (s_methods [index].keys [k], key))
            k++;
        if (!s_methods [index].keys [k]) {
            rpc_fail (&call, WEFT_STATUS_BAD_REQUEST, "unknown argument %.64s for %s",
                      key, method);
            goto done;
        }
    }
    s_methods [index].fn (&call);
done:
    if (result->status != WEFT_STATUS_OK) {
        json_decref (result->result);
        result->result = NULL;
        result->push [0] = 0;
        director_batch_destroy (&result->offers);
        for (size_t batch = 0; batch < RPC_OFFER_BATCHES; batch++)
            director_batch_destroy (&result->more_offers [batch]);
        zlistx_destroy (&result->directives);
        zlistx_destroy (&result->orders);
    }
    else
    if (!result->result)
        result->result = json_object ();
    //  Changes and refusals go to the audit log, with the change
    bool writes = index < count && s_methods [index].writes;
    if (((writes && !call.quiet) || result->status != WEFT_STATUS_OK)
    &&  result->status != WEFT_STATUS_INTERNAL) {
        if (result->status != WEFT_STATUS_OK) {
            json_decref (call.detail);
            call.detail = json_pack ("{s:s}", "error", result->error);
            json_decref (call.tenants);
            call.tenants = NULL;
        }
        char tenant [WEFT_NAME_MAX + 1];
        s_record_tenant (&call, tenant);
        if (json_object_size (call.tenants) == 1)
            snprintf (tenant, sizeof tenant, "%s",
                      json_object_iter_key (json_object_iter (call.tenants)));
        audit_entry_t entry = {
            caller->name, method, call.scope, call.target, result->status, call.detail,
            caller->source, tenant
        };
        if (defer)
            result->audit = json_pack ("{s:s, s:s, s:s, s:O?}", "scope", call.scope,
                                       "target", call.target, "tenant", tenant,
                                       "detail", call.detail);
        else
        if (s_audit (env->pki, txn, now_ms, &entry, call.tenants)) {
            rpc_result_clear (result);
            result->status = WEFT_STATUS_INTERNAL;
            snprintf (result->error, sizeof result->error, "cannot write the audit log");
            result->push [0] = 0;
        }
    }
    json_decref (call.detail);
    json_decref (call.tenants);
    json_decref (call.args);
}

void
rpc_result_clear (rpc_result_t *result)
{
    assert (result);
    json_decref (result->result);
    result->result = NULL;
    json_decref (result->audit);
    result->audit = NULL;
    director_batch_destroy (&result->offers);
    for (size_t index = 0; index < RPC_OFFER_BATCHES; index++)
        director_batch_destroy (&result->more_offers [index]);
    zlistx_destroy (&result->directives);
    zlistx_destroy (&result->orders);
}

//  --------------------------------------------------------------------------
//  Create an operator.

int
rpc_operator_create (pki_t *pki, store_txn_t *txn, const char *name,
                     const char *role, const char *path,
                     const uint8_t sign_key [32], const uint8_t curve_key [32],
                     bool replace, uint64_t now_s, uint8_t **cert_p,
                     size_t *cert_size_p, uint64_t *serial_p,
                     char error [WEFT_TEXT_MAX + 1])
{
    *cert_p = NULL;
    if (!registry_name_valid (name)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "invalid operator name");
        return WEFT_STATUS_BAD_REQUEST;
    }
    if (streq (name, "coordinator")) {
        snprintf (error, WEFT_TEXT_MAX + 1, "operator name coordinator is reserved");
        return WEFT_STATUS_BAD_REQUEST;
    }
    if (opcred_role_perms (role) == 0) {
        snprintf (error, WEFT_TEXT_MAX + 1,
                  "role must be viewer, operator, auditor, security-officer or admin");
        return WEFT_STATUS_BAD_REQUEST;
    }
    if (*path && !hierarchy_path_valid (path)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "invalid tenant or path");
        return WEFT_STATUS_BAD_REQUEST;
    }
    //  Operator names are one namespace for the deployment: the refusal
    //  is the same whoever holds the name, so it tells nothing of other
    //  tenants (docs/registry.md, "Names")
    json_t *existing = registry_operator_get (txn, name);
    json_decref (existing);
    if (existing && !replace) {
        snprintf (error, WEFT_TEXT_MAX + 1, "operator name %s is not available", name);
        return WEFT_STATUS_CONFLICT;
    }
    char *holder = registry_operator_by_curve (txn, curve_key);
    if (!holder)
        holder = registry_device_by_curve (txn, curve_key);
    bool taken = holder && !(replace && streq (holder, name));
    free (holder);
    if (taken) {
        snprintf (error, WEFT_TEXT_MAX + 1, "curve key already in use");
        return WEFT_STATUS_CONFLICT;
    }
    char tenant [WEFT_NAME_MAX + 1];
    rpc_tenant_of (path, tenant);
    char sign_hex [65], curve_hex [65];
    keys_hex (sign_key, 32, sign_hex);
    keys_hex (curve_key, 32, curve_hex);
    //  home: where the operator belongs, which it keeps when it holds
    //  no grant any more (only whoever manages operators there sees it)
    json_t *record = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:[{s:s, s:s}]}",
        "name", name, "role", role, "tenant", tenant, "home", path, "sign_key", sign_hex,
        "curve_key", curve_hex, "created", (json_int_t) now_s, "grants", "role", role,
        "path", path);
    size_t cert_size = 0;
    int status = opcert_issue (pki, txn, record, now_s, PKI_NODE_VALIDITY_S, cert_p,
                               &cert_size, serial_p, error);
    if (status == WEFT_STATUS_OK && registry_operator_put (txn, record)) {
        free (*cert_p);
        *cert_p = NULL;
        snprintf (error, WEFT_TEXT_MAX + 1, "store write failed");
        status = WEFT_STATUS_INTERNAL;
    }
    json_decref (record);
    *cert_size_p = cert_size;
    return status;
}
