/*  rpc_args - what the rpc_ methods share: errors, the audit record,
    argument checks, the device argument and its summary
    Each argument helper reads one key of the call's args and returns
    false with the error set, so a method stops at its first bad
    argument. Messages are short and stable: scripts and tests match
    on them.  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "coordinator/core/rpc_internal.h"

void
rpc_fail (rpc_call_t *call, int status, const char *format, ...)
{
    call->result->status = status;
    va_list args;
    va_start (args, format);
    vsnprintf (call->result->error, sizeof call->result->error, format, args);
    va_end (args);
}

void
rpc_audit_set (rpc_call_t *call, const char *scope, const char *target)
{
    if (scope)
        snprintf (call->scope, sizeof call->scope, "%s", scope);
    if (target)
        snprintf (call->target, sizeof call->target, "%s", target);
}

//  --------------------------------------------------------------------------
//  Argument helpers. Each returns false with the error set.

//  A string argument of the shape valid accepts ("" too with
//  allow_empty); *value NULL if absent. shape names it in the error.
static bool
s_arg_string (rpc_call_t *call, const char *key, bool required, bool allow_empty,
              bool (*valid) (const char *), const char *shape, const char **value)
{
    json_t *json = json_object_get (call->args, key);
    *value = NULL;
    if (!json) {
        if (required)
            rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "missing argument %s", key);
        return !required;
    }
    const char *text = json_string_value (json);
    if (!text || (*text == 0 && !allow_empty) || (*text && !valid (text))) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "%s must be %s", key, shape);
        return false;
    }
    *value = text;
    return true;
}

//  Optional or required name-shaped string; *value NULL if absent.
bool
rpc_arg_name (rpc_call_t *call, const char *key, bool required, bool allow_empty,
              const char **value)
{
    return s_arg_string (call, key, required, allow_empty, registry_name_valid,
                         "a name of 1-64 characters A-Z a-z 0-9 . _ -", value);
}

//  Optional hierarchy path ("" allowed with allow_empty)
bool
rpc_arg_path (rpc_call_t *call, const char *key, bool required, bool allow_empty,
              const char **value)
{
    return s_arg_string (call, key, required, allow_empty, hierarchy_path_valid,
                         "a hierarchy path like acme/plant-2/line-7", value);
}

//  Required 64-hex key
bool
rpc_arg_key (rpc_call_t *call, const char *key, uint8_t out [32])
{
    json_t *json = json_object_get (call->args, key);
    if (!json) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "missing argument %s", key);
        return false;
    }
    const char *text = json_string_value (json);
    if (!text || strlen (text) != 64 || keys_unhex (text, out, 32)) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "%s must be 64 hex characters", key);
        return false;
    }
    return true;
}

//  Optional query; *query_p NULL if absent. Caller destroys.
bool
rpc_arg_query (rpc_call_t *call, query_t **query_p)
{
    *query_p = NULL;
    json_t *json = json_object_get (call->args, "query");
    if (!json)
        return true;
    if (!json_is_string (json)) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "query must be a string");
        return false;
    }
    char error [200];
    *query_p = query_new (json_string_value (json), error, sizeof error);
    if (!*query_p) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "query: %s", error);
        return false;
    }
    return true;
}

bool
rpc_arg_bool (rpc_call_t *call, const char *key, bool *value)
{
    json_t *json = json_object_get (call->args, key);
    *value = json_is_true (json);
    if (json && !json_is_boolean (json)) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "%s must be true or false", key);
        return false;
    }
    return true;
}

bool
rpc_arg_int (rpc_call_t *call, const char *key, json_int_t fallback, json_int_t max,
             json_int_t *value)
{
    json_t *json = json_object_get (call->args, key);
    *value = fallback;
    if (!json)
        return true;
    *value = json_integer_value (json);
    if (!json_is_integer (json) || *value < 1 || *value > max) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "%s must be an integer of 1..%lld", key,
                  (long long) max);
        return false;
    }
    return true;
}

bool
rpc_arg_limit (rpc_call_t *call, json_int_t fallback, json_int_t max, json_int_t *limit)
{
    return rpc_arg_int (call, "limit", fallback, max, limit);
}

//  Metadata or tag value: text without control characters
bool
rpc_value_valid (const char *value)
{
    if (!value || strlen (value) > RPC_VALUE_MAX)
        return false;
    for (const unsigned char *c = (const unsigned char *) value; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return false;
    return true;
}

//  Tag keys use the query's attribute-name characters
static bool
s_tag_key_valid (const char *key)
{
    size_t len = strlen (key);
    if (len == 0 || len > WEFT_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(isalnum ((unsigned char) key [i]) || key [i] == '_' || key [i] == '-'
           || key [i] == '.'))
            return false;
    return true;
}

//  A tags edit {key: "value" | null}
bool
rpc_tags_valid (rpc_call_t *call, json_t *tags)
{
    if (!json_is_object (tags)) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST,
                  "tags must be an object of key: \"value\" or null");
        return false;
    }
    if (json_object_size (tags) > RPC_TAGS_MAX) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "more than %d tags", RPC_TAGS_MAX);
        return false;
    }
    const char *key;
    json_t *value;
    json_object_foreach (tags, key, value) {
        if (!s_tag_key_valid (key)) {
            rpc_fail (call, WEFT_STATUS_BAD_REQUEST,
                      "tag key %.64s: use 1-64 of A-Z a-z 0-9 _ - .", key);
            return false;
        }
        if (!json_is_null (value) && !rpc_value_valid (json_string_value (value))) {
            rpc_fail (call, WEFT_STATUS_BAD_REQUEST,
                      "tag %s: value must be text of at most %d bytes, or null to remove",
                      key, RPC_VALUE_MAX);
            return false;
        }
    }
    return true;
}

//  Apply a checked tags edit to a device record. False if the device
//  would carry too many tags (error set).
bool
rpc_tags_apply (rpc_call_t *call, json_t *device, json_t *tags)
{
    json_t *current = json_object_get (device, "tags");
    if (!json_is_object (current)) {
        current = json_object ();
        json_object_set_new (device, "tags", current);
    }
    const char *key;
    json_t *value;
    json_object_foreach (tags, key, value) {
        if (json_is_null (value))
            json_object_del (current, key);
        else
            json_object_set (current, key, value);
    }
    if (json_object_size (current) > RPC_TAGS_MAX) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "device %s would carry more than %d tags",
                  json_string_value (json_object_get (device, "id")), RPC_TAGS_MAX);
        return false;
    }
    return true;
}

//  --------------------------------------------------------------------------
//  Scope

bool
rpc_covered (const devquery_ctx_t *ctx, const char *path)
{
    for (size_t i = 0; i < ctx->scope_count; i++)
        if (devquery_covers (ctx->scopes [i], path))
            return true;
    return false;
}

bool
rpc_tenant_admin (rpc_call_t *call, const char *tenant)
{
    for (size_t i = 0; i < call->caller->grant_count; i++) {
        const rpc_grant_t *grant = &call->caller->grants [i];
        if ((opcred_role_perms (grant->role) & P_ADMIN)
        &&  devquery_covers (grant->path, tenant))
            return true;
    }
    return false;
}

bool
rpc_tenant_readable (rpc_call_t *call, const char *tenant)
{
    for (size_t i = 0; i < call->read.scope_count; i++) {
        char own [WEFT_NAME_MAX + 1];
        rpc_tenant_of (call->read.scopes [i], own);
        if (*call->read.scopes [i] == 0 || streq (own, tenant))
            return true;
    }
    return false;
}

bool
rpc_place_check (rpc_call_t *call, const char *tenant, const char *path, const char *type)
{
    const char *place = *path? path: tenant;
    if (!rpc_covered (&call->act, place)) {
        rpc_fail (call, WEFT_STATUS_FORBIDDEN, "%s %s is outside your scope",
                  *path? "path": "tenant", *place? place: "(none)");
        return false;
    }
    char own [WEFT_NAME_MAX + 1];
    rpc_tenant_of (path, own);
    if (*path && !streq (own, tenant)) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "path %s is not in tenant %s", path,
                  *tenant? tenant: "(none)");
        return false;
    }
    //  The place goes into the device's certificate, whose field is shorter
    if (strlen (path) > WEFT_NAME_MAX) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "a device's path is at most %d bytes",
                  WEFT_NAME_MAX);
        return false;
    }
    json_t *node = *path? hierarchy_get (call->txn, path): NULL;
    json_decref (node);
    if (*path && !node) {
        rpc_fail (call, WEFT_STATUS_NOT_FOUND, "unknown hierarchy node %s", path);
        return false;
    }
    if (streq (type, "server") && !rpc_tenant_admin (call, tenant)) {
        rpc_fail (call, WEFT_STATUS_FORBIDDEN, "a server serves its whole tenant: "
                  "it needs admin on %s", *tenant? tenant: "everything");
        return false;
    }
    return true;
}

//  The device id argument and its record, where the caller may call
//  this method. A device the caller cannot read answers exactly as a
//  missing one; one it can read but not act on is forbidden.
json_t *
rpc_arg_device (rpc_call_t *call)
{
    const char *id;
    if (!rpc_arg_name (call, "id", true, false, &id))
        return NULL;
    json_t *device = registry_device_get (call->txn, id);
    if (device && !devquery_visible (&call->read, device)) {
        json_decref (device);
        device = NULL;
    }
    rpc_audit_set (call, NULL, id);
    if (!device) {
        rpc_fail (call, WEFT_STATUS_NOT_FOUND, "unknown device %s", id);
        return NULL;
    }
    rpc_audit_set (call, registry_device_scope (device), NULL);
    if (!devquery_visible (&call->act, device)) {
        rpc_fail (call, WEFT_STATUS_FORBIDDEN, "your grants do not allow changing %s", id);
        json_decref (device);
        return NULL;
    }
    return device;
}

json_int_t
rpc_json_int (json_t *object, const char *key)
{
    return json_integer_value (json_object_get (object, key));
}

const char *
rpc_json_str (json_t *object, const char *key)
{
    const char *value = json_string_value (json_object_get (object, key));
    return value? value: "";
}

//  Fields common to device.list and device.show
json_t *
rpc_device_summary (rpc_call_t *call, json_t *device)
{
    const char *id = rpc_json_str (device, "id");
    json_t *twin = registry_twin_get (call->txn, id);
    uint64_t last_seen = registry_last_seen (call->env->registry, call->txn, id);
    json_t *summary = json_pack ("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:s}",
        "id", id, "tenant", rpc_json_str (device, "tenant"), "type", rpc_json_str (device, "type"),
        "online", registry_online (call->env->registry, id, call->now_ms),
        "last_seen", (json_int_t) (last_seen / 1000),
        "desired_version", rpc_json_int (twin, "desired_version"),
        "reported_version", rpc_json_int (twin, "reported_version"),
        "enrolled", rpc_json_int (device, "enrolled"),
        "assurance", *rpc_json_str (device, "assurance")? rpc_json_str (device, "assurance")
                                                          : "software");
    static const char *meta [] = { "path", "asset", "hw", "fw", "sw", "location", NULL };
    for (int i = 0; meta [i]; i++)
        if (*rpc_json_str (device, meta [i]))
            json_object_set (summary, meta [i], json_object_get (device, meta [i]));
    json_t *tags = json_object_get (device, "tags");
    json_object_set_new (summary, "tags", json_is_object (tags)? json_copy (tags): json_object ());
    json_decref (twin);
    return summary;
}

//  The tenant (first segment) of a path into out
void
rpc_tenant_of (const char *path, char out [WEFT_NAME_MAX + 1])
{
    size_t len = strcspn (path, "/");
    if (len > WEFT_NAME_MAX)
        len = WEFT_NAME_MAX;
    memcpy (out, path, len);
    out [len] = 0;
}
