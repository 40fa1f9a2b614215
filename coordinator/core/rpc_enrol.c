/*  rpc_enrol - the methods that let a device in: token.create and
    device.preregister
    Both decide where a device that does not exist yet will sit, so both
    are checked as writes at that place (rpc_place_check): admin there,
    the path in the tenant and in the hierarchy, a server only by an
    admin of the tenant's root. Neither takes anything from anyone: a
    pre-registration never replaces an EK or an id
    (enrolment_tpm_preregister), and its refusal of an id held elsewhere
    is the neutral one.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "coordinator/core/tokens.h"
#include "coordinator/core/enrolment.h"
#include "coordinator/core/rpc_internal.h"

void
rpc_token_create (rpc_call_t *call)
{
    const char *tenant, *type, *path = NULL;
    if (!rpc_arg_name (call, "tenant", false, true, &tenant)
    ||  !rpc_arg_name (call, "type", false, true, &type)
    ||  !rpc_arg_path (call, "path", false, true, &path))
        return;
    char own [WEFT_NAME_MAX + 1];
    if (!tenant) {
        rpc_tenant_of (path && *path? path: call->act.scopes [0], own);
        tenant = own;
    }
    if (!type)
        type = "";
    if (!path)
        path = "";
    rpc_audit_set (call, *path? path: tenant, "");
    if (!rpc_place_check (call, tenant, path, type))
        return;
    json_int_t ttl = TOKENS_TTL_DEFAULT;
    json_t *ttl_json = json_object_get (call->args, "ttl");
    if (ttl_json) {
        ttl = json_integer_value (ttl_json);
        if (!json_is_integer (ttl_json) || ttl < 1 || ttl > TOKENS_TTL_MAX) {
            rpc_fail (call, WEFT_STATUS_BAD_REQUEST,
                      "ttl must be an integer of 1..%d seconds", TOKENS_TTL_MAX);
            return;
        }
    }
    char text [WEFT_TOKEN_MAX + 1];
    char id [2 * TOKENS_ID_SIZE + 1];
    uint64_t expires;
    if (tokens_create (call->txn, tenant, path, type, (uint64_t) ttl, call->now_ms / 1000,
                       call->env->coord_curve, text, id, &expires)) {
        rpc_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
        return;
    }
    call->result->result = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I}", "token", text,
        "id", id, "tenant", tenant, "path", path, "type", type,
        "expires", (json_int_t) expires);
    call->detail = json_pack ("{s:s, s:s, s:I}", "token_id", id, "type", type,
                              "expires", (json_int_t) expires);
    sodium_memzero (text, sizeof text);
}

//  Pre-register a TPM's EK as a device with its placement. Checked
//  like every other write: the place (path, else the tenant's root)
//  must lie where the caller is admin, the path in the tenant and in
//  the hierarchy; a server needs admin on the tenant's root, as a
//  server token does. The EK and the id are never taken from anyone
//  (enrolment_tpm_preregister), and the id's refusal is neutral.
void
rpc_device_preregister (rpc_call_t *call)
{
    const char *id, *tenant, *type, *path = NULL;
    if (!rpc_arg_name (call, "id", true, false, &id)
    ||  !rpc_arg_name (call, "tenant", false, true, &tenant)
    ||  !rpc_arg_name (call, "type", false, true, &type)
    ||  !rpc_arg_path (call, "path", false, true, &path))
        return;
    const char *ek_hex = json_string_value (json_object_get (call->args, "ek_public"));
    size_t hex_size = ek_hex? strlen (ek_hex): 0;
    if (hex_size == 0 || hex_size % 2 || hex_size > 2 * TPMMSG_PUBLIC_MAX) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "ek_public must be the hex of a TPM2B_PUBLIC");
        return;
    }
    json_t *tags = json_object_get (call->args, "tags");
    if (tags && !rpc_tags_valid (call, tags))
        return;
    if (!path)
        path = "";
    if (!type)
        type = "";
    char own [WEFT_NAME_MAX + 1];
    if (!tenant) {
        rpc_tenant_of (*path? path: call->act.scopes [0], own);
        tenant = own;
    }
    rpc_audit_set (call, *path? path: tenant, id);
    if (!rpc_place_check (call, tenant, path, type))
        return;
    uint8_t *ek = (uint8_t *) zmalloc (hex_size / 2);
    char error [WEFT_TEXT_MAX + 1] = "";
    if (keys_unhex (ek_hex, ek, hex_size / 2))
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "ek_public must be the hex of a TPM2B_PUBLIC");
    else
    if (enrolment_tpm_preregister (call->txn, id, ek, hex_size / 2, tenant, path, tags,
                                   type, call->now_ms / 1000, error, sizeof error))
        rpc_fail (call, strstr (error, "store")? WEFT_STATUS_INTERNAL
                      : strstr (error, "not available") || strstr (error, "registered")
                      ? WEFT_STATUS_CONFLICT: WEFT_STATUS_BAD_REQUEST, "%s", error);
    else {
        json_t *record = enrolment_tpm_prereg_get (call->txn, ek, hex_size / 2);
        call->result->result = json_pack ("{s:s, s:s, s:s, s:s, s:s}", "id", id,
            "ek", rpc_json_str (record, "ek"), "tenant", tenant, "path", path, "type", type);
        call->detail = json_pack ("{s:s, s:s}", "ek", rpc_json_str (record, "ek"),
                                  "type", type);
        json_decref (record);
    }
    free (ek);
}
