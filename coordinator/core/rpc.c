/*  rpc - the coordinator's operator methods
    Every method names the arguments it accepts; any other argument is
    refused, so a typo never passes silently, and neither does a tenant,
    role or identity smuggled into a request: the caller's scope comes
    only from its grants. A query only narrows what the scopes allow.
    Authorization is checked before arguments are read, scope when a
    device is looked up. Messages are short and stable: scripts and
    tests match on them.  */

#include <czmq.h>
#include <sodium.h>
#include "proto/keys.h"
#include "proto/opcred.h"
#include "coordinator/core/mergepatch.h"
#include "coordinator/core/tokens.h"
#include "coordinator/core/enrolment.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/audit.h"
#include "coordinator/core/opcert.h"
#include "coordinator/core/hierupload.h"
#include "coordinator/core/rpc.h"

//  Permissions; a role is a set of them (proto/opcred.h, shared with
//  site servers that authorise operators offline)
#define P_READ          OPCRED_P_READ
#define P_WRITE         OPCRED_P_WRITE
#define P_ADMIN         OPCRED_P_ADMIN
#define P_AUDIT         OPCRED_P_AUDIT
#define P_OPERATORS     OPCRED_P_OPERATORS
#define P_REVOKE        OPCRED_P_REVOKE

typedef struct {
    rpc_env_t *env;
    store_txn_t *txn;
    const rpc_caller_t *caller;
    json_t *args;                   //  A JSON object
    uint64_t now_ms;
    rpc_result_t *result;
    int perm;                       //  The method's permission
    devquery_ctx_t read;            //  Subtrees the caller may read
    devquery_ctx_t act;             //  Subtrees where it may call this method
    char scope [HIERARCHY_PATH_MAX + 1];    //  For the audit record
    char target [HIERARCHY_PATH_MAX + 1];   //  For the audit record
    json_t *detail;                 //  For the audit record, owned
} s_call_t;

typedef void (s_method_fn) (s_call_t *call);

static void
s_fail (s_call_t *call, int status, const char *format, ...)
{
    call->result->status = status;
    va_list args;
    va_start (args, format);
    vsnprintf (call->result->error, sizeof call->result->error, format, args);
    va_end (args);
}

static int
s_role_perms (const char *role)
{
    return opcred_role_perms (role);
}

static void
s_audit_set (s_call_t *call, const char *scope, const char *target)
{
    if (scope)
        snprintf (call->scope, sizeof call->scope, "%s", scope);
    if (target)
        snprintf (call->target, sizeof call->target, "%s", target);
}

//  --------------------------------------------------------------------------
//  Argument helpers. Each returns false with the error set.

//  Optional or required name-shaped string; *value NULL if absent.
static bool
s_arg_name (s_call_t *call, const char *key, bool required, bool allow_empty,
            const char **value)
{
    json_t *json = json_object_get (call->args, key);
    *value = NULL;
    if (!json) {
        if (required)
            s_fail (call, WEFT_STATUS_BAD_REQUEST, "missing argument %s", key);
        return !required;
    }
    const char *text = json_string_value (json);
    if (!text || (*text == 0 && !allow_empty)
    || (*text && !registry_name_valid (text))) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST,
                "%s must be a name of 1-64 characters A-Z a-z 0-9 . _ -", key);
        return false;
    }
    *value = text;
    return true;
}

//  Optional hierarchy path ("" allowed with allow_empty)
static bool
s_arg_path (s_call_t *call, const char *key, bool required, bool allow_empty,
            const char **value)
{
    json_t *json = json_object_get (call->args, key);
    *value = NULL;
    if (!json) {
        if (required)
            s_fail (call, WEFT_STATUS_BAD_REQUEST, "missing argument %s", key);
        return !required;
    }
    const char *text = json_string_value (json);
    if (!text || (*text == 0 && !allow_empty) || (*text && !hierarchy_path_valid (text))) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST,
                "%s must be a hierarchy path like acme/plant-2/line-7", key);
        return false;
    }
    *value = text;
    return true;
}

//  Required 64-hex key
static bool
s_arg_key (s_call_t *call, const char *key, uint8_t out [32])
{
    json_t *json = json_object_get (call->args, key);
    if (!json) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "missing argument %s", key);
        return false;
    }
    const char *text = json_string_value (json);
    if (!text || strlen (text) != 64 || keys_unhex (text, out, 32)) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "%s must be 64 hex characters", key);
        return false;
    }
    return true;
}

//  Optional query; *query_p NULL if absent. Caller destroys.
static bool
s_arg_query (s_call_t *call, query_t **query_p)
{
    *query_p = NULL;
    json_t *json = json_object_get (call->args, "query");
    if (!json)
        return true;
    if (!json_is_string (json)) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "query must be a string");
        return false;
    }
    char error [200];
    *query_p = query_new (json_string_value (json), error, sizeof error);
    if (!*query_p) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "query: %s", error);
        return false;
    }
    return true;
}

static bool
s_arg_bool (s_call_t *call, const char *key, bool *value)
{
    json_t *json = json_object_get (call->args, key);
    *value = json_is_true (json);
    if (json && !json_is_boolean (json)) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "%s must be true or false", key);
        return false;
    }
    return true;
}

static bool
s_arg_int (s_call_t *call, const char *key, json_int_t fallback, json_int_t max,
           json_int_t *value)
{
    json_t *json = json_object_get (call->args, key);
    *value = fallback;
    if (!json)
        return true;
    *value = json_integer_value (json);
    if (!json_is_integer (json) || *value < 1 || *value > max) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "%s must be an integer of 1..%lld", key,
                (long long) max);
        return false;
    }
    return true;
}

static bool
s_arg_limit (s_call_t *call, json_int_t fallback, json_int_t max, json_int_t *limit)
{
    return s_arg_int (call, "limit", fallback, max, limit);
}

//  Metadata or tag value: text without control characters
static bool
s_value_valid (const char *value)
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
static bool
s_tags_valid (s_call_t *call, json_t *tags)
{
    if (!json_is_object (tags)) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "tags must be an object of key: \"value\" or null");
        return false;
    }
    if (json_object_size (tags) > RPC_TAGS_MAX) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "more than %d tags", RPC_TAGS_MAX);
        return false;
    }
    const char *key;
    json_t *value;
    json_object_foreach (tags, key, value) {
        if (!s_tag_key_valid (key)) {
            s_fail (call, WEFT_STATUS_BAD_REQUEST,
                    "tag key %.64s: use 1-64 of A-Z a-z 0-9 _ - .", key);
            return false;
        }
        if (!json_is_null (value) && !s_value_valid (json_string_value (value))) {
            s_fail (call, WEFT_STATUS_BAD_REQUEST,
                    "tag %s: value must be text of at most %d bytes, or null to remove",
                    key, RPC_VALUE_MAX);
            return false;
        }
    }
    return true;
}

//  Apply a checked tags edit to a device record. False if the device
//  would carry too many tags (error set).
static bool
s_tags_apply (s_call_t *call, json_t *device, json_t *tags)
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
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "device %s would carry more than %d tags",
                json_string_value (json_object_get (device, "id")), RPC_TAGS_MAX);
        return false;
    }
    return true;
}

//  --------------------------------------------------------------------------
//  Scope

static bool
s_covered (const devquery_ctx_t *ctx, const char *path)
{
    for (size_t i = 0; i < ctx->scope_count; i++)
        if (devquery_covers (ctx->scopes [i], path))
            return true;
    return false;
}

//  The device id argument and its record, where the caller may call
//  this method. A device the caller cannot read answers exactly as a
//  missing one; one it can read but not act on is forbidden.
static json_t *
s_device (s_call_t *call)
{
    const char *id;
    if (!s_arg_name (call, "id", true, false, &id))
        return NULL;
    json_t *device = registry_device_get (call->txn, id);
    if (device && !devquery_visible (&call->read, device)) {
        json_decref (device);
        device = NULL;
    }
    s_audit_set (call, NULL, id);
    if (!device) {
        s_fail (call, WEFT_STATUS_NOT_FOUND, "unknown device %s", id);
        return NULL;
    }
    s_audit_set (call, registry_device_scope (device), NULL);
    if (!devquery_visible (&call->act, device)) {
        s_fail (call, WEFT_STATUS_FORBIDDEN, "your grants do not allow changing %s", id);
        json_decref (device);
        return NULL;
    }
    return device;
}

static json_int_t
s_int (json_t *object, const char *key)
{
    return json_integer_value (json_object_get (object, key));
}

static const char *
s_str (json_t *object, const char *key)
{
    const char *value = json_string_value (json_object_get (object, key));
    return value? value: "";
}

//  Fields common to device.list and device.show
static json_t *
s_device_summary (s_call_t *call, json_t *device)
{
    const char *id = s_str (device, "id");
    json_t *twin = registry_twin_get (call->txn, id);
    uint64_t last_seen = registry_last_seen (call->env->registry, call->txn, id);
    json_t *summary = json_pack ("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:s}",
        "id", id, "tenant", s_str (device, "tenant"), "type", s_str (device, "type"),
        "online", registry_online (call->env->registry, id, call->now_ms),
        "last_seen", (json_int_t) (last_seen / 1000),
        "desired_version", s_int (twin, "desired_version"),
        "reported_version", s_int (twin, "reported_version"),
        "enrolled", s_int (device, "enrolled"),
        "assurance", *s_str (device, "assurance")? s_str (device, "assurance"): "software");
    static const char *meta [] = { "path", "asset", "hw", "fw", "sw", "location", NULL };
    for (int i = 0; meta [i]; i++)
        if (*s_str (device, meta [i]))
            json_object_set (summary, meta [i], json_object_get (device, meta [i]));
    json_t *tags = json_object_get (device, "tags");
    json_object_set_new (summary, "tags", json_is_object (tags)? json_copy (tags): json_object ());
    json_decref (twin);
    return summary;
}

//  --------------------------------------------------------------------------
//  Device reads

typedef struct {
    s_call_t *call;
    json_t *list;
    size_t limit;
    size_t total;
    bool stop_early;                //  Stop one past the limit
} s_list_t;

static int
s_list_one (void *arg, json_t *device)
{
    s_list_t *list = (s_list_t *) arg;
    if (list->total++ < list->limit)
        json_array_append_new (list->list, s_device_summary (list->call, device));
    return list->stop_early && list->total > list->limit;
}

static void
s_device_list (s_call_t *call)
{
    query_t *query;
    json_int_t limit;
    if (!s_arg_limit (call, RPC_LIST_DEFAULT, RPC_LIST_MAX, &limit)
    ||  !s_arg_query (call, &query))
        return;
    //  Without a query a whole fleet is not read just to count it: the
    //  list stops past the limit, and the total comes from the table
    //  when the caller sees everything (else it is left out)
    bool global = false;
    for (size_t i = 0; i < call->read.scope_count; i++)
        global |= *call->read.scopes [i] == 0;
    s_list_t list = { call, json_array (), (size_t) limit, 0, query == NULL };
    if (devquery_run (&call->read, query, s_list_one, &list, NULL) < 0) {
        json_decref (list.list);
        s_fail (call, WEFT_STATUS_INTERNAL, "cannot read the registry");
    }
    else {
        bool truncated = list.total > list.limit;
        call->result->result = json_pack ("{s:o, s:b}", "devices", list.list,
                                          "truncated", truncated);
        int64_t total = !truncated? (int64_t) list.total
                      : query? (int64_t) list.total
                      : global? registry_device_count (call->txn): -1;
        if (total >= 0)
            json_object_set_new (call->result->result, "total", json_integer (total));
    }
    query_destroy (&query);
}

static int
s_count_one (void *arg, json_t *device)
{
    (void) device;
    (*(size_t *) arg)++;
    return 0;
}

static void
s_device_count (s_call_t *call)
{
    query_t *query;
    if (!s_arg_query (call, &query))
        return;
    size_t count = 0;
    if (devquery_run (&call->read, query, s_count_one, &count, NULL) < 0)
        s_fail (call, WEFT_STATUS_INTERNAL, "cannot read the registry");
    else
        call->result->result = json_pack ("{s:I}", "count", (json_int_t) count);
    query_destroy (&query);
}

static void
s_device_show (s_call_t *call)
{
    json_t *device = s_device (call);
    if (!device)
        return;
    json_t *show = s_device_summary (call, device);
    json_object_set (show, "role", json_object_get (device, "role"));
    json_object_set (show, "cert_serial", json_object_get (device, "cert_serial"));
    json_object_set (show, "sign_key", json_object_get (device, "sign_key"));
    json_object_set (show, "curve_key", json_object_get (device, "curve_key"));
    if (*s_str (device, "ak_name")) {
        json_object_set (show, "ek", json_object_get (device, "ek"));
        json_object_set (show, "ek_via", json_object_get (device, "ek_via"));
        json_object_set (show, "ak_name", json_object_get (device, "ak_name"));
    }
    json_decref (device);
    call->result->result = show;
}

static void
s_twin_get (s_call_t *call)
{
    json_t *device = s_device (call);
    if (!device)
        return;
    const char *id = s_str (device, "id");
    json_t *twin = registry_twin_get (call->txn, id);
    if (!twin)
        s_fail (call, WEFT_STATUS_INTERNAL, "twin of %s is corrupt", id);
    else {
        json_object_set_new (twin, "id", json_string (id));
        call->result->result = twin;
    }
    json_decref (device);
}

//  --------------------------------------------------------------------------
//  Twin patches

static bool
s_patch_valid (s_call_t *call, json_t *patch)
{
    if (!patch) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "missing argument patch");
        return false;
    }
    if (!json_is_object (patch)) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "patch must be a JSON object");
        return false;
    }
    if (mergepatch_depth (patch, MERGEPATCH_DEPTH_MAX) > MERGEPATCH_DEPTH_MAX) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "patch nests deeper than %d levels",
                MERGEPATCH_DEPTH_MAX);
        return false;
    }
    return true;
}

//  Patch one device's desired twin. Returns the new desired document
//  (caller decrefs) and version, or NULL with the error set.
static json_t *
s_patch_twin (s_call_t *call, const char *id, json_t *patch, json_int_t *version_p)
{
    json_t *twin = registry_twin_get (call->txn, id);
    if (!twin) {
        s_fail (call, WEFT_STATUS_INTERNAL, "twin of %s is corrupt", id);
        return NULL;
    }
    json_t *desired = mergepatch_apply (json_object_get (twin, "desired"), patch);
    char *text = registry_dump (desired);
    if (!text || strlen (text) > REGISTRY_DOC_MAX) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "desired document of %s would exceed %d bytes",
                id, REGISTRY_DOC_MAX);
        free (text);
        json_decref (desired);
        json_decref (twin);
        return NULL;
    }
    free (text);
    json_int_t version = s_int (twin, "desired_version") + 1;
    json_object_set (twin, "desired", desired);
    json_object_set_new (twin, "desired_version", json_integer (version));
    if (registry_twin_put (call->txn, id, twin)) {
        s_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
        json_decref (desired);
        desired = NULL;
    }
    json_decref (twin);
    *version_p = version;
    return desired;
}

static void
s_twin_set (s_call_t *call)
{
    json_t *device = s_device (call);
    if (!device)
        return;
    const char *id = s_str (device, "id");
    json_t *patch = json_object_get (call->args, "patch");
    json_int_t version;
    json_t *desired = s_patch_valid (call, patch)? s_patch_twin (call, id, patch, &version)
                    : NULL;
    if (desired) {
        //  The old message for the single-device case
        call->result->result = json_pack ("{s:s, s:I, s:O}", "id", id,
                                          "desired_version", version, "desired", desired);
        snprintf (call->result->push, sizeof call->result->push, "%s", id);
        call->detail = json_pack ("{s:O}", "patch", patch);
    }
    else
    if (strstr (call->result->error, "would exceed"))
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "desired document would exceed %d bytes",
                REGISTRY_DOC_MAX);
    json_decref (desired);
    json_decref (device);
}

//  --------------------------------------------------------------------------
//  Metadata

//  Check and apply a placement: path (NULL = keep, "" = unplace) and
//  asset (NULL = keep, "" = none). False with the error set.
static bool
s_place (s_call_t *call, json_t *device, const char *path, const char *asset)
{
    const char *id = s_str (device, "id");
    const char *tenant = s_str (device, "tenant");
    const char *fields [2] = { path, asset };
    const char *names [2] = { "path", "asset" };
    for (int i = 0; i < 2; i++) {
        const char *value = fields [i];
        if (!value)
            continue;
        if (*value) {
            size_t len = strlen (tenant);
            if (!*tenant || strncmp (value, tenant, len) || (value [len] && value [len] != '/')) {
                s_fail (call, WEFT_STATUS_BAD_REQUEST, "%s %s is outside the tenant of %s",
                        names [i], value, id);
                return false;
            }
            json_t *node = hierarchy_get (call->txn, value);
            json_decref (node);
            //  A node outside the caller's reach answers as a missing one
            if (!node || !s_covered (&call->read, value)) {
                s_fail (call, WEFT_STATUS_NOT_FOUND, "unknown hierarchy node %s", value);
                return false;
            }
        }
        if (*value)
            json_object_set_new (device, names [i], json_string (value));
        else
            json_object_del (device, names [i]);
    }
    //  The device must stay where the caller may act
    if (!devquery_visible (&call->act, device)) {
        s_fail (call, WEFT_STATUS_FORBIDDEN, "%s would leave the subtrees you may change", id);
        return false;
    }
    return true;
}

static void
s_device_set (s_call_t *call)
{
    json_t *device = s_device (call);
    if (!device)
        return;
    static const char *meta [] = { "type", "hw", "fw", "sw", "location", NULL };
    json_t *changes = json_object ();
    for (int i = 0; meta [i]; i++) {
        json_t *value = json_object_get (call->args, meta [i]);
        if (!value)
            continue;
        bool clear = json_is_null (value) && !streq (meta [i], "type");
        const char *text = json_string_value (value);
        bool ok = clear || (streq (meta [i], "type")? registry_name_valid (text)
                                                    : s_value_valid (text) && *text);
        if (!ok) {
            s_fail (call, WEFT_STATUS_BAD_REQUEST, streq (meta [i], "type")
                    ? "type must be a name of 1-64 characters A-Z a-z 0-9 . _ -"
                    : "%s must be text of 1-%d bytes without control characters, or null",
                    meta [i], RPC_VALUE_MAX);
            goto done;
        }
        if (clear)
            json_object_del (device, meta [i]);
        else
            json_object_set (device, meta [i], value);
        json_object_set (changes, meta [i], value);
    }
    const char *path = NULL, *asset = NULL;
    json_t *path_json = json_object_get (call->args, "path");
    json_t *asset_json = json_object_get (call->args, "asset");
    if ((path_json && !json_is_null (path_json) && !s_arg_path (call, "path", false, true, &path))
    ||  (asset_json && !json_is_null (asset_json) && !s_arg_path (call, "asset", false, true, &asset)))
        goto done;
    if (json_is_null (path_json))
        path = "";
    if (json_is_null (asset_json))
        asset = "";
    if ((path || asset) && !s_place (call, device, path, asset))
        goto done;
    if (path_json)
        json_object_set (changes, "path", path_json);
    if (asset_json)
        json_object_set (changes, "asset", asset_json);
    json_t *tags = json_object_get (call->args, "tags");
    if (tags) {
        if (!s_tags_valid (call, tags) || !s_tags_apply (call, device, tags))
            goto done;
        json_object_set (changes, "tags", tags);
    }
    if (registry_device_put (call->txn, device)) {
        s_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
        goto done;
    }
    s_audit_set (call, registry_device_scope (device), NULL);
    call->result->result = s_device_summary (call, device);
    call->detail = changes;
    changes = NULL;
done:
    json_decref (changes);
    json_decref (device);
}

//  --------------------------------------------------------------------------
//  Batches: a query over the subtrees where the caller may change
//  devices; dry_run lists the matches and changes nothing

typedef struct {
    s_call_t *call;
    zlistx_t *ids;
} s_batch_t;

static int
s_batch_one (void *arg, json_t *device)
{
    s_batch_t *batch = (s_batch_t *) arg;
    zlistx_add_end (batch->ids, strdup (s_str (device, "id")));
    //  One past the limit is enough to refuse
    return zlistx_size (batch->ids) > RPC_BATCH_MAX;
}

//  Matching ids, or NULL with the error set. Sets the result's common
//  fields. Caller destroys the list.
static zlistx_t *
s_batch_select (s_call_t *call, bool *dry_run_p)
{
    query_t *query;
    if (!s_arg_bool (call, "dry_run", dry_run_p) || !s_arg_query (call, &query))
        return NULL;
    if (!query) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "missing argument query");
        return NULL;
    }
    s_batch_t batch = { call, zlistx_new () };
    zlistx_set_destructor (batch.ids, (czmq_destructor *) zstr_free);
    int64_t rc = devquery_run (&call->act, query, s_batch_one, &batch, NULL);
    char *canonical = query_to_string (query);
    query_destroy (&query);
    if (rc < 0)
        s_fail (call, WEFT_STATUS_INTERNAL, "cannot read the registry");
    else
    if (zlistx_size (batch.ids) > RPC_BATCH_MAX)
        s_fail (call, WEFT_STATUS_BAD_REQUEST,
                "query matches more than %d devices; narrow it", RPC_BATCH_MAX);
    if (call->result->status) {
        free (canonical);
        zlistx_destroy (&batch.ids);
        return NULL;
    }
    json_t *ids = json_array ();
    for (char *id = (char *) zlistx_first (batch.ids); id;
         id = (char *) zlistx_next (batch.ids))
        json_array_append_new (ids, json_string (id));
    call->result->result = json_pack ("{s:s, s:b, s:I, s:o}", "query", canonical,
                                      "dry_run", *dry_run_p,
                                      "matched", (json_int_t) zlistx_size (batch.ids),
                                      "devices", ids);
    call->detail = json_pack ("{s:s, s:b, s:I}", "query", canonical, "dry_run", *dry_run_p,
                              "matched", (json_int_t) zlistx_size (batch.ids));
    s_audit_set (call, call->act.scopes [0], "");
    free (canonical);
    return batch.ids;
}

static void
s_batch_twin (s_call_t *call)
{
    json_t *patch = json_object_get (call->args, "patch");
    if (!s_patch_valid (call, patch))
        return;
    bool dry_run;
    zlistx_t *ids = s_batch_select (call, &dry_run);
    if (!ids)
        return;
    json_object_set (call->detail, "patch", patch);
    for (char *id = (char *) zlistx_first (ids); id && !dry_run;
         id = (char *) zlistx_next (ids)) {
        json_int_t version;
        json_t *desired = s_patch_twin (call, id, patch, &version);
        json_decref (desired);
        if (!desired)
            break;
    }
    zlistx_destroy (&ids);
}

static void
s_json_free (void **item_p)
{
    json_decref ((json_t *) *item_p);
    *item_p = NULL;
}

static void
s_batch_edit (s_call_t *call, json_t *tags, const char *path, const char *asset)
{
    bool dry_run;
    zlistx_t *ids = s_batch_select (call, &dry_run);
    if (!ids)
        return;
    if (tags)
        json_object_set (call->detail, "tags", tags);
    if (path)
        json_object_set_new (call->detail, "path", json_string (path));
    if (asset)
        json_object_set_new (call->detail, "asset", json_string (asset));
    //  Check every device before writing any, so a refusal writes nothing
    zlistx_t *records = zlistx_new ();
    zlistx_set_destructor (records, s_json_free);
    for (char *id = (char *) zlistx_first (ids); id && call->result->status == 0;
         id = (char *) zlistx_next (ids)) {
        json_t *device = registry_device_get (call->txn, id);
        if (!device) {
            s_fail (call, WEFT_STATUS_INTERNAL, "device %s vanished", id);
            break;
        }
        zlistx_add_end (records, device);
        if (tags)
            s_tags_apply (call, device, tags);
        if (call->result->status == 0 && (path || asset))
            s_place (call, device, path, asset);
    }
    for (json_t *device = (json_t *) zlistx_first (records);
         device && !dry_run && call->result->status == 0;
         device = (json_t *) zlistx_next (records))
        if (registry_device_put (call->txn, device))
            s_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
    zlistx_destroy (&records);
    zlistx_destroy (&ids);
}

static void
s_batch_tag (s_call_t *call)
{
    json_t *tags = json_object_get (call->args, "tags");
    if (!tags) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "missing argument tags");
        return;
    }
    if (s_tags_valid (call, tags))
        s_batch_edit (call, tags, NULL, NULL);
}

static void
s_batch_move (s_call_t *call)
{
    const char *path, *asset;
    if (!s_arg_path (call, "path", true, false, &path)
    ||  !s_arg_path (call, "asset", false, true, &asset))
        return;
    s_batch_edit (call, NULL, path, asset);
}

//  --------------------------------------------------------------------------
//  Hierarchy

//  A document larger than one call comes in parts (hierupload.h):
//  upload {id, part, parts}; the import runs when the last one is in
static void
s_hierarchy_import (s_call_t *call)
{
    json_t *doc = json_object_get (call->args, "doc");
    if (!doc) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "missing argument doc");
        return;
    }
    s_audit_set (call, call->act.scopes [0], "");
    json_t *upload = json_object_get (call->args, "upload");
    const char *upload_id = json_string_value (json_object_get (upload, "id"));
    json_t *whole = NULL;
    if (upload) {
        json_t *part = json_object_get (upload, "part"), *parts = json_object_get (upload, "parts");
        if (!json_is_object (upload) || json_object_size (upload) != 3 || !upload_id
        ||  !json_is_integer (part) || !json_is_integer (parts)) {
            s_fail (call, WEFT_STATUS_BAD_REQUEST, "upload must be {id, part, parts}");
            return;
        }
        size_t received;
        call->result->status = hierupload_put (call->txn, call->caller->name, upload_id,
            (int) json_integer_value (part), (int) json_integer_value (parts), doc,
            call->now_ms, &whole, &received, call->result->error);
        if (call->result->status != WEFT_STATUS_OK)
            return;
        if (!whole) {
            call->result->result = json_pack ("{s:s, s:I, s:O}", "upload", upload_id,
                "received", (json_int_t) received, "parts", parts);
            call->detail = json_pack ("{s:s, s:O, s:O}", "upload", upload_id, "part", part,
                                      "parts", parts);
            return;
        }
        doc = whole;
    }
    json_t *report;
    int status = hierarchy_import (call->txn, doc, call->act.scopes, call->act.scope_count,
                                   &report, call->result->error);
    json_decref (whole);
    if (status == WEFT_STATUS_OK && upload_id
    &&  hierupload_drop (call->txn, call->caller->name, upload_id)) {
        json_decref (report);
        snprintf (call->result->error, sizeof call->result->error, "store write failed");
        status = WEFT_STATUS_INTERNAL;
    }
    call->result->status = status;
    if (status == WEFT_STATUS_OK) {
        call->result->result = report;
        call->detail = json_pack ("{s:I, s:I, s:I, s:O}",
            "created", (json_int_t) json_array_size (json_object_get (report, "created")),
            "updated", (json_int_t) json_array_size (json_object_get (report, "updated")),
            "removed", (json_int_t) json_array_size (json_object_get (report, "removed")),
            "unchanged", json_object_get (report, "unchanged"));
        if (upload_id)
            json_object_set_new (call->detail, "upload", json_string (upload_id));
    }
}

static void
s_hierarchy_export (s_call_t *call)
{
    json_t *doc = hierarchy_export (call->txn, call->read.scopes, call->read.scope_count);
    if (!doc)
        s_fail (call, WEFT_STATUS_INTERNAL, "cannot read the hierarchy");
    call->result->result = doc;
}

//  --------------------------------------------------------------------------
//  Tokens, operators

//  The tenant (first segment) of a path into out
static void
s_tenant_of (const char *path, char out [WEFT_NAME_MAX + 1])
{
    size_t len = strcspn (path, "/");
    if (len > WEFT_NAME_MAX)
        len = WEFT_NAME_MAX;
    memcpy (out, path, len);
    out [len] = 0;
}

static void
s_token_create (s_call_t *call)
{
    const char *tenant, *type, *path = NULL;
    if (!s_arg_name (call, "tenant", false, true, &tenant)
    ||  !s_arg_name (call, "type", false, true, &type)
    ||  !s_arg_path (call, "path", false, true, &path))
        return;
    char own [WEFT_NAME_MAX + 1];
    if (!tenant) {
        s_tenant_of (path && *path? path: call->act.scopes [0], own);
        tenant = own;
    }
    if (!type)
        type = "";
    if (!path)
        path = "";
    s_audit_set (call, *path? path: tenant, "");
    //  A device enrolled into a tenant sits at its root, or at path
    if (!s_covered (&call->act, *path? path: tenant)) {
        s_fail (call, WEFT_STATUS_FORBIDDEN, "%s %s is outside your scope",
                *path? "path": "tenant", *path? path: *tenant? tenant: "(none)");
        return;
    }
    if (*path && !devquery_covers (tenant, path)) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "path %s is not in tenant %s", path, tenant);
        return;
    }
    //  The place goes into the device's certificate, whose field is shorter
    if (strlen (path) > WEFT_NAME_MAX) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "a token's path is at most %d bytes",
                WEFT_NAME_MAX);
        return;
    }
    json_t *node = *path? hierarchy_get (call->txn, path): NULL;
    json_decref (node);
    if (*path && !node) {
        s_fail (call, WEFT_STATUS_NOT_FOUND, "unknown hierarchy node %s", path);
        return;
    }
    json_int_t ttl = TOKENS_TTL_DEFAULT;
    json_t *ttl_json = json_object_get (call->args, "ttl");
    if (ttl_json) {
        ttl = json_integer_value (ttl_json);
        if (!json_is_integer (ttl_json) || ttl < 1 || ttl > TOKENS_TTL_MAX) {
            s_fail (call, WEFT_STATUS_BAD_REQUEST,
                    "ttl must be an integer of 1..%d seconds", TOKENS_TTL_MAX);
            return;
        }
    }
    char text [WEFT_TOKEN_MAX + 1];
    char id [2 * TOKENS_ID_SIZE + 1];
    uint64_t expires;
    if (tokens_create (call->txn, tenant, path, type, (uint64_t) ttl, call->now_ms / 1000,
                       call->env->coord_curve, text, id, &expires)) {
        s_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
        return;
    }
    call->result->result = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I}", "token", text,
        "id", id, "tenant", tenant, "path", path, "type", type,
        "expires", (json_int_t) expires);
    call->detail = json_pack ("{s:s, s:s, s:I}", "token_id", id, "type", type,
                              "expires", (json_int_t) expires);
    sodium_memzero (text, sizeof text);
}

//  Pre-register a TPM's EK as a device with its placement
static void
s_device_preregister (s_call_t *call)
{
    const char *id, *tenant, *type, *path = NULL;
    if (!s_arg_name (call, "id", true, false, &id)
    ||  !s_arg_name (call, "tenant", false, true, &tenant)
    ||  !s_arg_name (call, "type", false, true, &type)
    ||  !s_arg_path (call, "path", false, true, &path))
        return;
    const char *ek_hex = json_string_value (json_object_get (call->args, "ek_public"));
    size_t hex_size = ek_hex? strlen (ek_hex): 0;
    if (hex_size == 0 || hex_size % 2 || hex_size > 2 * TPMMSG_PUBLIC_MAX) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "ek_public must be the hex of a TPM2B_PUBLIC");
        return;
    }
    json_t *tags = json_object_get (call->args, "tags");
    if (tags && !s_tags_valid (call, tags))
        return;
    char own [WEFT_NAME_MAX + 1];
    if (!tenant) {
        s_tenant_of (call->act.scopes [0], own);
        tenant = own;
    }
    const char *scope = path && *path? path: tenant;
    s_audit_set (call, scope, id);
    if (!s_covered (&call->act, scope)) {
        s_fail (call, WEFT_STATUS_FORBIDDEN, "%s is outside your scope", *scope? scope: "(none)");
        return;
    }
    uint8_t *ek = (uint8_t *) zmalloc (hex_size / 2);
    char error [WEFT_TEXT_MAX + 1] = "";
    if (keys_unhex (ek_hex, ek, hex_size / 2))
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "ek_public must be the hex of a TPM2B_PUBLIC");
    else
    if (enrolment_tpm_preregister (call->txn, id, ek, hex_size / 2, tenant, path, tags,
                                   type? type: "", call->now_ms / 1000,
                                   error, sizeof error))
        s_fail (call, strstr (error, "already") || strstr (error, "another")
                ? WEFT_STATUS_CONFLICT: WEFT_STATUS_BAD_REQUEST, "%s", error);
    else {
        json_t *record = enrolment_tpm_prereg_get (call->txn, ek, hex_size / 2);
        call->result->result = json_pack ("{s:s, s:s, s:s, s:s}", "id", id,
            "ek", s_str (record, "ek"), "tenant", tenant, "path", path? path: "");
        call->detail = json_pack ("{s:s}", "ek", s_str (record, "ek"));
        json_decref (record);
    }
    free (ek);
}

//  --------------------------------------------------------------------------
//  Attestation (coordinator/core/attest.h)

static void
s_attest_profile_set (s_call_t *call)
{
    const char *type;
    if (!s_arg_name (call, "type", true, false, &type))
        return;
    s_audit_set (call, "", type);
    char error [WEFT_TEXT_MAX + 1] = "";
    if (attest_profile_put (call->txn, type, json_object_get (call->args, "profile"),
                            call->env->pki, error, sizeof error))
        s_fail (call, strstr (error, "store")? WEFT_STATUS_INTERNAL: WEFT_STATUS_BAD_REQUEST,
                "%s", error);
    else {
        call->result->result = attest_profile_get (call->txn, type, pki_ca_key (call->env->pki));
        call->detail = json_pack ("{s:s}", "type", type);
    }
}

static void
s_attest_allowlist_set (s_call_t *call)
{
    json_t *text = json_object_get (call->args, "allowlist");
    s_audit_set (call, "", "allowlist");
    if (!json_is_string (text)) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "allowlist: want the text of a sha256sum list");
        return;
    }
    char error [WEFT_TEXT_MAX + 1] = "";
    int count = attest_allowlist_put (call->txn, json_string_value (text),
                                      json_string_length (text), call->env->pki,
                                      error, sizeof error);
    if (count < 0)
        s_fail (call, strstr (error, "store")? WEFT_STATUS_INTERNAL: WEFT_STATUS_BAD_REQUEST,
                "%s", error);
    else {
        call->result->result = json_pack ("{s:i}", "digests", count);
        call->detail = json_pack ("{s:i}", "digests", count);
    }
}

static bool
s_attest_visible (void *arg, const char *id)
{
    s_call_t *call = (s_call_t *) arg;
    json_t *device = registry_device_get (call->txn, id);
    bool visible = device && devquery_visible (&call->read, device);
    json_decref (device);
    return visible;
}

static void
s_attest_status (s_call_t *call)
{
    call->result->result = attest_summary (call->txn, s_attest_visible, call);
}

static void
s_attest_show (s_call_t *call)
{
    json_t *device = s_device (call);
    if (!device)
        return;
    json_t *verdict = attest_verdict_get (call->txn, s_str (device, "id"));
    json_t *show = json_pack ("{s:s, s:s, s:O}", "id", s_str (device, "id"),
        "assurance", *s_str (device, "assurance")? s_str (device, "assurance"): "software",
        "verdict", verdict? verdict: json_null ());
    json_decref (verdict);
    json_decref (device);
    call->result->result = show;
}

static void
s_attest_clear (s_call_t *call)
{
    json_t *device = s_device (call);
    if (!device)
        return;
    if (attest_verdict_clear (call->txn, s_str (device, "id")) < 0)
        s_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
    else
        call->result->result = json_pack ("{s:s}", "id", s_str (device, "id"));
    json_decref (device);
}

//  May the caller grant role on path? Only what it holds there itself,
//  and only where it manages operators.
static bool
s_may_grant (s_call_t *call, const char *role, const char *path)
{
    int wanted = s_role_perms (role);
    int held = 0;
    bool manages = false;
    for (size_t i = 0; i < call->caller->grant_count; i++) {
        const rpc_grant_t *grant = &call->caller->grants [i];
        if (!devquery_covers (grant->path, path))
            continue;
        int perms = s_role_perms (grant->role);
        held |= perms;
        if (perms & P_OPERATORS)
            manages = true;
    }
    if (!manages) {
        s_fail (call, WEFT_STATUS_FORBIDDEN, "%s is outside your scope",
                *path? path: "the global scope");
        return false;
    }
    if ((wanted & held) != wanted) {
        s_fail (call, WEFT_STATUS_FORBIDDEN, "you cannot grant %s on %s: you do not hold it there",
                role, *path? path: "everything");
        return false;
    }
    return true;
}

static void
s_operator_add (s_call_t *call)
{
    const char *name, *role, *tenant, *path;
    uint8_t sign_key [32], curve_key [32];
    if (!s_arg_name (call, "name", true, false, &name)
    ||  !s_arg_name (call, "role", true, false, &role)
    ||  !s_arg_name (call, "tenant", false, true, &tenant)
    ||  !s_arg_path (call, "path", false, true, &path)
    ||  !s_arg_key (call, "sign_key", sign_key)
    ||  !s_arg_key (call, "curve_key", curve_key))
        return;
    s_audit_set (call, NULL, name);
    if (tenant && path && *tenant && *path && !devquery_covers (tenant, path)) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "path %s is not in tenant %s", path, tenant);
        return;
    }
    //  The subtree: path, else tenant, else the creator's first subtree
    const char *scope = path? path: tenant? tenant: call->act.scopes [0];
    s_audit_set (call, scope, NULL);
    if (s_role_perms (role) == 0) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST,
                "role must be viewer, operator, auditor, security-officer or admin");
        return;
    }
    if (!s_may_grant (call, role, scope))
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
    s_tenant_of (scope, own);
    call->result->result = json_pack ("{s:s, s:I, s:s, s:s, s:s, s:s}", "cert", cert_hex,
        "serial", (json_int_t) serial, "name", name, "role", role, "tenant", own,
        "path", scope);
    call->detail = json_pack ("{s:s, s:s, s:I}", "role", role, "path", scope,
                              "serial", (json_int_t) serial);
    free (cert_hex);
    free (cert);
}

//  The record of an operator the caller manages (one who manages all
//  of its subtrees), or NULL after failing as if it did not exist
static json_t *
s_managed_operator (s_call_t *call, const char *name)
{
    json_t *op = registry_operator_get (call->txn, name);
    json_t *grants = op? opcert_grants (op): NULL;
    size_t index;
    json_t *grant;
    bool managed = op != NULL;
    json_array_foreach (grants, index, grant)
        if (managed && !s_covered (&call->act, s_str (grant, "path")))
            managed = false;
    json_decref (grants);
    if (!managed) {
        json_decref (op);
        s_fail (call, WEFT_STATUS_NOT_FOUND, "unknown operator %s", name);
        return NULL;
    }
    return op;
}

static void
s_operator_grant (s_call_t *call)
{
    const char *name, *role, *path;
    bool remove;
    if (!s_arg_name (call, "name", true, false, &name)
    ||  !s_arg_name (call, "role", true, false, &role)
    ||  !s_arg_path (call, "path", true, true, &path)
    ||  !s_arg_bool (call, "remove", &remove))
        return;
    s_audit_set (call, path, name);
    if (s_role_perms (role) == 0) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST,
                "role must be viewer, operator, auditor, security-officer or admin");
        return;
    }
    json_t *op = s_managed_operator (call, name);
    json_t *grants = op? opcert_grants (op): NULL;
    size_t index;
    json_t *grant;
    if (!op)
        goto done;
    if (!s_may_grant (call, role, path))
        goto done;
    bool found = false;
    json_array_foreach (grants, index, grant)
        if (streq (s_str (grant, "role"), role) && streq (s_str (grant, "path"), path)) {
            found = true;
            break;
        }
    if (remove && found)
        json_array_remove (grants, index);
    else
    if (!remove && !found) {
        if (json_array_size (grants) >= RPC_GRANTS_MAX) {
            s_fail (call, WEFT_STATUS_BAD_REQUEST, "an operator holds at most %d grants",
                    RPC_GRANTS_MAX);
            goto done;
        }
        json_array_append_new (grants, json_pack ("{s:s, s:s}", "role", role, "path", path));
    }
    json_object_set (op, "grants", grants);
    if (registry_operator_put (call->txn, op)) {
        s_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
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
static void
s_operator_credential (s_call_t *call)
{
    json_int_t ttl;
    if (!s_arg_int (call, "ttl", OPCERT_TTL_DEFAULT_S, OPCERT_TTL_MAX_S, &ttl))
        return;
    json_t *op = registry_operator_get (call->txn, call->caller->name);
    if (!op) {
        s_fail (call, WEFT_STATUS_NOT_FOUND, "unknown operator %s", call->caller->name);
        return;
    }
    s_audit_set (call, NULL, call->caller->name);
    uint8_t *cert = NULL;
    size_t cert_size = 0;
    uint64_t serial = 0;
    call->result->status = opcert_issue (call->env->pki, call->txn, op, call->now_ms / 1000,
                                         (uint64_t) ttl, &cert, &cert_size, &serial,
                                         call->result->error);
    if (call->result->status == WEFT_STATUS_OK && registry_operator_put (call->txn, op))
        s_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
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
static void
s_operator_revoke (s_call_t *call)
{
    const char *name;
    if (!s_arg_name (call, "name", true, false, &name))
        return;
    s_audit_set (call, NULL, name);
    if (streq (name, call->caller->name)) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "you cannot revoke yourself");
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
            s_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
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
//  Audit

static void
s_audit_list (s_call_t *call)
{
    query_t *query;
    json_int_t limit;
    if (!s_arg_limit (call, 100, AUDIT_LIST_MAX, &limit) || !s_arg_query (call, &query))
        return;
    json_t *records = audit_list (call->txn, query, call->act.scopes, call->act.scope_count,
                                  (size_t) limit);
    query_destroy (&query);
    if (!records)
        s_fail (call, WEFT_STATUS_INTERNAL, "cannot read the audit log");
    else
        call->result->result = json_pack ("{s:o}", "records", records);
}

//  A signed head as JSON, the form audit.head exports and an anchor takes
static json_t *
s_head_json (const audit_head_t *head)
{
    return json_pack ("{s:I, s:s, s:s}", "seq", (json_int_t) head->seq, "hash", head->hash,
                      "sig", head->sig);
}

static void
s_audit_verify (s_call_t *call)
{
    audit_head_t anchor;
    json_t *json = json_object_get (call->args, "anchor");
    if (json) {
        const char *hash = s_str (json, "hash"), *sig = s_str (json, "sig");
        json_int_t seq = json_integer_value (json_object_get (json, "seq"));
        if (!json_is_object (json) || json_object_size (json) != 3 || seq < 1
        ||  strlen (hash) != 2 * AUDIT_HASH_SIZE || strlen (sig) != 2 * WEFT_SIG_SIZE) {
            s_fail (call, WEFT_STATUS_BAD_REQUEST,
                    "anchor must be {seq, hash, sig} as audit head prints it");
            return;
        }
        anchor.seq = (uint64_t) seq;
        snprintf (anchor.hash, sizeof anchor.hash, "%s", hash);
        snprintf (anchor.sig, sizeof anchor.sig, "%s", sig);
    }
    uint64_t records;
    char head [2 * AUDIT_HASH_SIZE + 1];
    char error [WEFT_TEXT_MAX + 1];
    int rc = audit_verify (call->txn, pki_ca_key (call->env->pki), json? &anchor: NULL,
                           &records, head, error);
    call->result->result = json_pack ("{s:b, s:I, s:s, s:s, s:b}", "intact", rc == 0,
                                      "records", (json_int_t) records, "head", head,
                                      "error", error, "anchored", json != NULL);
}

//  The signed head, to keep outside the coordinator as an anchor
static void
s_audit_head (s_call_t *call)
{
    audit_head_t head;
    if (audit_head (call->txn, &head)) {
        s_fail (call, WEFT_STATUS_INTERNAL, "the audit head is corrupt");
        return;
    }
    call->result->result = s_head_json (&head);
}

//  device.revoke: mark the device revoked and bump the revocation
//  list's version; weft-coord then closes its links and spreads the
//  list (coord.c). Revoking twice is not an error.
static void
s_device_revoke (s_call_t *call)
{
    json_t *device = s_device (call);
    if (!device)
        return;
    const char *id = s_str (device, "id");
    bool already = json_is_true (json_object_get (device, "revoked"));
    uint64_t version = registry_meta_get (call->txn, "revocations_version");
    if (!already) {
        json_object_set_new (device, "revoked", json_true ());
        json_object_set_new (device, "revoked_at", json_integer ((json_int_t) (call->now_ms / 1000)));
        if (registry_device_put (call->txn, device)
        ||  registry_meta_put (call->txn, "revocations_version", ++version))
            s_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
    }
    if (call->result->status == 0) {
        call->result->result = json_pack ("{s:s, s:b, s:I}", "id", id, "revoked", 1,
                                          "revocations_version", (json_int_t) version);
        call->detail = json_pack ("{s:b, s:I}", "already", already,
                                  "revocations_version", (json_int_t) version);
    }
    json_decref (device);
}

static void
s_coord_stats (s_call_t *call)
{
    bool global = false;
    for (size_t i = 0; i < call->read.scope_count; i++)
        if (*call->read.scopes [i] == 0)
            global = true;
    if (!global) {
        s_fail (call, WEFT_STATUS_FORBIDDEN,
                "coord.stats needs an operator without a tenant");
        return;
    }
    const coord_stats_t *stats = call->env->stats;
    int64_t devices = registry_device_count (call->txn);
    call->result->result = json_pack (
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
        "rejected_signature", (json_int_t) stats->rejected_signature,
        "rejected_replay", (json_int_t) stats->rejected_replay,
        "rejected_origin", (json_int_t) stats->rejected_origin,
        "rejected_malformed", (json_int_t) stats->rejected_malformed,
        "rejected_expired", (json_int_t) stats->rejected_expired,
        "enrolments", (json_int_t) stats->enrolments,
        "enrol_refused", (json_int_t) stats->enrol_refused,
        "rpc_calls", (json_int_t) stats->rpc_calls,
        "duplicates", (json_int_t) stats->duplicates,
        "devices", (json_int_t) (devices > 0? devices: 0),
        "online", (json_int_t) registry_online_count (call->env->registry, call->now_ms));
}

#define S_KEYS_MAX  10

static const struct {
    const char *name;
    int perm;                       //  Permission it needs
    bool writes;                    //  Audited also when it succeeds
    const char *keys [S_KEYS_MAX];  //  Arguments accepted, NULL-ended
    s_method_fn *fn;
} s_methods [] = {
    { "token.create", P_ADMIN, true, { "tenant", "path", "ttl", "type", NULL }, s_token_create },
    { "device.preregister", P_ADMIN, true,
        { "id", "ek_public", "tenant", "path", "tags", "type", NULL }, s_device_preregister },
    { "device.list", P_READ, false, { "query", "limit", NULL }, s_device_list },
    { "device.count", P_READ, false, { "query", NULL }, s_device_count },
    { "device.show", P_READ, false, { "id", NULL }, s_device_show },
    { "device.set", P_WRITE, true,
        { "id", "type", "hw", "fw", "sw", "location", "path", "asset", "tags", NULL },
        s_device_set },
    { "twin.get", P_READ, false, { "id", NULL }, s_twin_get },
    { "twin.set", P_WRITE, true, { "id", "patch", NULL }, s_twin_set },
    { "device.revoke", P_REVOKE, true, { "id", NULL }, s_device_revoke },
    { "batch.twin", P_WRITE, true, { "query", "patch", "dry_run", NULL }, s_batch_twin },
    { "batch.tag", P_WRITE, true, { "query", "tags", "dry_run", NULL }, s_batch_tag },
    { "batch.move", P_WRITE, true, { "query", "path", "asset", "dry_run", NULL },
        s_batch_move },
    { "hierarchy.import", P_ADMIN, true, { "doc", "upload", NULL }, s_hierarchy_import },
    { "hierarchy.export", P_READ, false, { NULL }, s_hierarchy_export },
    { "operator.add", P_OPERATORS, true,
        { "name", "role", "tenant", "path", "sign_key", "curve_key", NULL }, s_operator_add },
    { "operator.grant", P_OPERATORS, true, { "name", "role", "path", "remove", NULL },
        s_operator_grant },
    { "operator.credential", P_READ, true, { "ttl", NULL }, s_operator_credential },
    { "operator.revoke", P_OPERATORS, true, { "name", NULL }, s_operator_revoke },
    { "audit.list", P_AUDIT, false, { "query", "limit", NULL }, s_audit_list },
    { "audit.verify", P_AUDIT, false, { "anchor", NULL }, s_audit_verify },
    { "audit.head", P_AUDIT, false, { NULL }, s_audit_head },
    { "coord.stats", P_READ, false, { NULL }, s_coord_stats },
    { "attest.profile.set", P_ADMIN, true, { "type", "profile", NULL }, s_attest_profile_set },
    { "attest.allowlist.set", P_ADMIN, true, { "allowlist", NULL }, s_attest_allowlist_set },
    { "attest.status", P_READ, false, { NULL }, s_attest_status },
    { "attest.show", P_READ, false, { "id", NULL }, s_attest_show },
    { "attest.clear", P_ADMIN, true, { "id", NULL }, s_attest_clear },
};

//  --------------------------------------------------------------------------
//  The caller's grants

void
rpc_caller_load (rpc_caller_t *caller, const char *name, json_t *op)
{
    assert (caller && name);
    memset (caller, 0, sizeof *caller);
    snprintf (caller->name, sizeof caller->name, "%s", name);
    snprintf (caller->role, sizeof caller->role, "%s", s_str (op, "role"));
    snprintf (caller->tenant, sizeof caller->tenant, "%s", s_str (op, "tenant"));
    json_t *grants = json_object_get (op, "grants");
    size_t index;
    json_t *grant;
    json_array_foreach (grants, index, grant) {
        if (caller->grant_count == RPC_GRANTS_MAX)
            break;
        const char *role = s_str (grant, "role");
        const char *path = s_str (grant, "path");
        if (s_role_perms (role) == 0 || (*path && !hierarchy_path_valid (path)))
            continue;               //  A corrupt grant grants nothing
        rpc_grant_t *slot = &caller->grants [caller->grant_count++];
        snprintf (slot->role, sizeof slot->role, "%s", role);
        snprintf (slot->path, sizeof slot->path, "%s", path);
    }
    if (!json_is_array (grants) && s_role_perms (caller->role)) {
        snprintf (caller->grants [0].role, sizeof caller->grants [0].role, "%s", caller->role);
        snprintf (caller->grants [0].path, sizeof caller->grants [0].path, "%s",
                  caller->tenant);
        caller->grant_count = 1;
    }
}

//  Scopes of the grants whose role has perm
static void
s_scopes (const rpc_caller_t *caller, int perm, devquery_ctx_t *ctx)
{
    ctx->scope_count = 0;
    for (size_t i = 0; i < caller->grant_count; i++)
        if (s_role_perms (caller->grants [i].role) & perm)
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

int
rpc_audit_deferred (rpc_env_t *env, store_txn_t *txn, const rpc_caller_t *caller,
                    const char *method, rpc_result_t *result, uint64_t now_ms)
{
    assert (env && txn && caller && method && result);
    if (!result->audit)
        return 0;
    int rc = audit_append (txn, env->pki, now_ms, caller->name, method,
        json_string_value (json_object_get (result->audit, "scope")),
        json_string_value (json_object_get (result->audit, "target")),
        result->status, json_object_get (result->audit, "detail"));
    json_decref (result->audit);
    result->audit = NULL;
    return rc;
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
    //  A caller made from role and tenant only (tests, old records)
    rpc_caller_t legacy;
    if (caller->grant_count == 0) {
        json_t *op = json_pack ("{s:s, s:s}", "role", caller->role, "tenant", caller->tenant);
        rpc_caller_load (&legacy, caller->name, op);
        json_decref (op);
        caller = &legacy;
    }
    s_call_t call;
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
        s_fail (&call, WEFT_STATUS_BAD_REQUEST, "unknown method %.64s", method);
        goto done;
    }
    if (defer && s_methods [index].writes) {
        s_fail (&call, WEFT_STATUS_INTERNAL, "%s is not a read-only method", method);
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
        s_fail (&call, WEFT_STATUS_FORBIDDEN, "role %s may not call %s",
                *roles? roles: "(none)", method);
        goto done;
    }
    if (args_size > RPC_ARGS_MAX) {
        s_fail (&call, WEFT_STATUS_BAD_REQUEST, "args larger than %d bytes", RPC_ARGS_MAX);
        goto done;
    }
    json_error_t error;
    if (args_size == 0)
        call.args = json_object ();
    else
        call.args = json_loadb (args, args_size, JSON_REJECT_DUPLICATES, &error);
    if (!call.args) {
        s_fail (&call, WEFT_STATUS_BAD_REQUEST, "args are not valid JSON: %.80s", error.text);
        goto done;
    }
    if (!json_is_object (call.args)) {
        s_fail (&call, WEFT_STATUS_BAD_REQUEST, "args must be a JSON object");
        goto done;
    }
    const char *key;
    json_t *value;
    json_object_foreach (call.args, key, value) {
        size_t k = 0;
        while (s_methods [index].keys [k] && !streq (s_methods [index].keys [k], key))
            k++;
        if (!s_methods [index].keys [k]) {
            s_fail (&call, WEFT_STATUS_BAD_REQUEST, "unknown argument %.64s for %s",
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
    }
    else
    if (!result->result)
        result->result = json_object ();
    //  Changes and refusals go to the audit log, with the change
    bool writes = index < count && s_methods [index].writes;
    if ((writes || result->status != WEFT_STATUS_OK)
    &&  result->status != WEFT_STATUS_INTERNAL) {
        if (result->status != WEFT_STATUS_OK) {
            json_decref (call.detail);
            call.detail = json_pack ("{s:s}", "error", result->error);
        }
        if (defer)
            result->audit = json_pack ("{s:s, s:s, s:O?}", "scope", call.scope,
                                       "target", call.target, "detail", call.detail);
        else
        if (audit_append (txn, env->pki, now_ms, caller->name, method, call.scope, call.target,
                          result->status, call.detail)) {
            rpc_result_clear (result);
            result->status = WEFT_STATUS_INTERNAL;
            snprintf (result->error, sizeof result->error, "cannot write the audit log");
            result->push [0] = 0;
        }
    }
    json_decref (call.detail);
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
    if (s_role_perms (role) == 0) {
        snprintf (error, WEFT_TEXT_MAX + 1,
                  "role must be viewer, operator, auditor, security-officer or admin");
        return WEFT_STATUS_BAD_REQUEST;
    }
    if (*path && !hierarchy_path_valid (path)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "invalid tenant or path");
        return WEFT_STATUS_BAD_REQUEST;
    }
    json_t *existing = registry_operator_get (txn, name);
    json_decref (existing);
    if (existing && !replace) {
        snprintf (error, WEFT_TEXT_MAX + 1, "operator %s already exists", name);
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
    s_tenant_of (path, tenant);
    char sign_hex [65], curve_hex [65];
    keys_hex (sign_key, 32, sign_hex);
    keys_hex (curve_key, 32, curve_hex);
    json_t *record = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I, s:[{s:s, s:s}]}",
        "name", name, "role", role, "tenant", tenant, "sign_key", sign_hex,
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

//  --------------------------------------------------------------------------
//  Selftest: the authorization matrix and argument checks

typedef struct {
    store_t *store;
    rpc_env_t env;
    rpc_result_t result;
} s_rig_t;

//  Call and return the status; the result stays in rig->result.
static int
s_call (s_rig_t *rig, const char *name, const char *role, const char *tenant,
        const char *method, const char *args)
{
    rpc_caller_t caller;
    memset (&caller, 0, sizeof caller);
    snprintf (caller.name, sizeof caller.name, "%s", name);
    snprintf (caller.role, sizeof caller.role, "%s", role);
    snprintf (caller.tenant, sizeof caller.tenant, "%s", tenant);
    rpc_result_clear (&rig->result);
    store_txn_t *txn = store_begin (rig->store, true);
    assert (txn);
    rpc_call (&rig->env, txn, &caller, method, args, args? strlen (args): 0,
              1700000000000ULL, &rig->result);
    if (rig->result.status == WEFT_STATUS_INTERNAL)
        store_abort (&txn);
    else
        assert (store_commit (&txn) == 0);
    return rig->result.status;
}

//  Call as an operator holding one grant: role on path
static int
s_call_grant (s_rig_t *rig, const char *role, const char *path, const char *method,
              const char *args)
{
    rpc_caller_t caller;
    memset (&caller, 0, sizeof caller);
    snprintf (caller.name, sizeof caller.name, "%s-%s", role, *path? "scoped": "global");
    snprintf (caller.grants [0].role, sizeof caller.grants [0].role, "%s", role);
    snprintf (caller.grants [0].path, sizeof caller.grants [0].path, "%s", path);
    caller.grant_count = 1;
    rpc_result_clear (&rig->result);
    store_txn_t *txn = store_begin (rig->store, true);
    assert (txn);
    rpc_call (&rig->env, txn, &caller, method, args, args? strlen (args): 0,
              1700000000000ULL, &rig->result);
    if (rig->result.status == WEFT_STATUS_INTERNAL)
        store_abort (&txn);
    else
        assert (store_commit (&txn) == 0);
    return rig->result.status;
}

//  Ids in a device.list or batch result, comma-joined, into out
static const char *
s_ids (s_rig_t *rig, char *out, size_t size)
{
    json_t *list = json_object_get (rig->result.result, "devices");
    size_t index;
    json_t *item;
    out [0] = 0;
    json_array_foreach (list, index, item) {
        const char *id = json_is_string (item)? json_string_value (item): s_str (item, "id");
        size_t len = strlen (out);
        snprintf (out + len, size - len, "%s%s", len? ",": "", id);
    }
    return out;
}

static void
s_add_device (s_rig_t *rig, const char *id, const char *tenant, uint8_t fill)
{
    uint8_t key [32];
    memset (key, fill, 32);
    char hex [65];
    keys_hex (key, 32, hex);
    json_t *device = json_pack ("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I}",
        "id", id, "tenant", tenant, "type", "gateway", "role", "gateway",
        "enrolled", (json_int_t) 1700000000, "sign_key", hex, "curve_key", hex,
        "cert_serial", (json_int_t) fill);
    store_txn_t *txn = store_begin (rig->store, true);
    assert (registry_device_put (txn, device) == 0);
    assert (store_commit (&txn) == 0);
    json_decref (device);
}

void
rpc_test (bool verbose)
{
    printf (" * rpc: ");
    //  @selftest
    s_rig_t rig;
    memset (&rig, 0, sizeof rig);
    char path [] = "/tmp/weft-rpc-test-XXXXXX";
    assert (mkdtemp (path));
    rig.store = store_new (path, registry_tables (), 0);
    assert (rig.store);
    keys_t ca;
    keys_generate (&ca);
    uint8_t coord_curve [32];
    randombytes_buf (coord_curve, 32);
    coord_stats_t stats;
    memset (&stats, 0, sizeof stats);
    stats.rpc_calls = 7;
    rig.env.registry = registry_new (rig.store);
    rig.env.pki = pki_new (&ca);
    rig.env.coord_curve = coord_curve;
    rig.env.stats = &stats;
    s_add_device (&rig, "dev-a", "acme", 1);
    s_add_device (&rig, "dev-b", "globex", 2);

    //  Unknown method, role checks before anything else
    assert (s_call (&rig, "v", "viewer", "", "device.nuke", "{}") == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "unknown method device.nuke"));
    assert (s_call (&rig, "v", "viewer", "", "twin.set",
                    "{\"id\":\"dev-a\",\"patch\":{}}") == WEFT_STATUS_FORBIDDEN);
    assert (streq (rig.result.error, "role viewer may not call twin.set"));
    assert (s_call (&rig, "v", "viewer", "", "token.create", "{}") == WEFT_STATUS_FORBIDDEN);
    assert (streq (rig.result.error, "role viewer may not call token.create"));
    assert (s_call (&rig, "o", "operator", "", "token.create", "{}") == WEFT_STATUS_FORBIDDEN);
    assert (s_call (&rig, "o", "operator", "", "operator.add", "{}") == WEFT_STATUS_FORBIDDEN);
    assert (s_call (&rig, "x", "root", "", "device.list", "{}") == WEFT_STATUS_FORBIDDEN);

    //  Reads for everyone
    assert (s_call (&rig, "v", "viewer", "", "device.list", NULL) == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (rig.result.result, "devices")) == 2);
    assert (s_call (&rig, "v", "viewer", "", "device.show", "{\"id\":\"dev-b\"}")
            == WEFT_STATUS_OK);
    assert (streq (s_str (rig.result.result, "tenant"), "globex"));
    assert (streq (s_str (rig.result.result, "assurance"), "software"));
    assert (s_call (&rig, "v", "viewer", "", "coord.stats", "{}") == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "rpc_calls") == 7);
    assert (s_int (rig.result.result, "devices") == 2);

    //  Tenant scope: another tenant's device is exactly a missing one
    assert (s_call (&rig, "t", "operator", "acme", "device.show", "{\"id\":\"dev-b\"}")
            == WEFT_STATUS_NOT_FOUND);
    assert (streq (rig.result.error, "unknown device dev-b"));
    assert (s_call (&rig, "t", "operator", "acme", "device.show", "{\"id\":\"dev-z\"}")
            == WEFT_STATUS_NOT_FOUND);
    assert (streq (rig.result.error, "unknown device dev-z"));
    assert (s_call (&rig, "t", "operator", "acme", "twin.set",
                    "{\"id\":\"dev-b\",\"patch\":{\"a\":1}}") == WEFT_STATUS_NOT_FOUND);
    assert (streq (rig.result.error, "unknown device dev-b"));
    assert (s_call (&rig, "t", "operator", "acme", "twin.get", "{\"id\":\"dev-b\"}")
            == WEFT_STATUS_NOT_FOUND);
    assert (s_call (&rig, "t", "viewer", "acme", "device.list", "{}") == WEFT_STATUS_OK);
    json_t *devices = json_object_get (rig.result.result, "devices");
    assert (json_array_size (devices) == 1);
    assert (streq (s_str (json_array_get (devices, 0), "id"), "dev-a"));
    assert (s_call (&rig, "t", "viewer", "acme", "coord.stats", "{}") == WEFT_STATUS_FORBIDDEN);
    assert (s_call (&rig, "t", "admin", "acme", "token.create", "{\"tenant\":\"globex\"}")
            == WEFT_STATUS_FORBIDDEN);
    assert (streq (rig.result.error, "tenant globex is outside your scope"));

    //  Twin set and get, merge patch semantics, versions
    assert (s_call (&rig, "t", "operator", "acme", "twin.set",
                    "{\"id\":\"dev-a\",\"patch\":{\"led\":\"on\",\"rate\":5}}") == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "desired_version") == 1);
    assert (streq (rig.result.push, "dev-a"));
    assert (s_call (&rig, "t", "operator", "acme", "twin.set",
                    "{\"id\":\"dev-a\",\"patch\":{\"rate\":null}}") == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "desired_version") == 2);
    assert (s_call (&rig, "t", "viewer", "acme", "twin.get", "{\"id\":\"dev-a\"}")
            == WEFT_STATUS_OK);
    json_t *desired = json_object_get (rig.result.result, "desired");
    assert (json_object_size (desired) == 1);
    assert (streq (s_str (desired, "led"), "on"));
    assert (s_int (rig.result.result, "desired_version") == 2);
    assert (rig.result.push [0] == 0);

    //  Argument checks
    assert (s_call (&rig, "a", "admin", "", "twin.set", "{\"id\":\"dev-a\",\"patch\":[1]}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "patch must be a JSON object"));
    assert (rig.result.push [0] == 0);
    assert (s_call (&rig, "a", "admin", "", "twin.set", "{\"id\":\"dev-a\"}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "missing argument patch"));
    assert (s_call (&rig, "a", "admin", "", "device.show", "[]") == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "args must be a JSON object"));
    assert (s_call (&rig, "a", "admin", "", "device.show", "{\"id\":") == WEFT_STATUS_BAD_REQUEST);
    assert (s_call (&rig, "a", "admin", "", "device.show", "{\"id\":\"a\",\"id\":\"b\"}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (s_call (&rig, "a", "admin", "", "device.show", "{\"id\":\"dev-a\",\"x\":1}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "unknown argument x for device.show"));
    assert (s_call (&rig, "a", "admin", "", "device.show", "{\"id\":7}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (s_call (&rig, "a", "admin", "", "device.show", "{}") == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "missing argument id"));
    //  A desired document over 32 KiB is refused and not stored
    size_t big = REGISTRY_DOC_MAX + 100;
    char *args = (char *) zmalloc (big + 64);
    int len = sprintf (args, "{\"id\":\"dev-a\",\"patch\":{\"blob\":\"");
    memset (args + len, 'x', big);
    strcpy (args + len + big, "\"}}");
    assert (s_call (&rig, "a", "admin", "", "twin.set", args) == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "desired document would exceed 32768 bytes"));
    free (args);
    assert (s_call (&rig, "a", "admin", "", "twin.get", "{\"id\":\"dev-a\"}") == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "desired_version") == 2);
    //  Too deep
    char deep [400] = "{\"id\":\"dev-a\",\"patch\":";
    for (int i = 0; i < 40; i++)
        strcat (deep, "{\"a\":");
    strcat (deep, "1");
    for (int i = 0; i < 40; i++)
        strcat (deep, "}");
    strcat (deep, "}");
    assert (s_call (&rig, "a", "admin", "", "twin.set", deep) == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "patch nests deeper than 32 levels"));

    //  Tokens
    assert (s_call (&rig, "a", "admin", "", "token.create", "{\"ttl\":0}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (s_call (&rig, "a", "admin", "", "token.create", "{\"ttl\":2592001}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (s_call (&rig, "a", "admin", "", "token.create",
                    "{\"tenant\":\"acme\",\"ttl\":60}") == WEFT_STATUS_OK);
    assert (strncmp (s_str (rig.result.result, "token"), "wt1.", 4) == 0);
    assert (s_int (rig.result.result, "expires") == 1700000000 + 60);
    assert (s_call (&rig, "t", "admin", "acme", "token.create", "{}") == WEFT_STATUS_OK);
    assert (streq (s_str (rig.result.result, "tenant"), "acme"));

    //  Operators
    keys_t op;
    keys_generate (&op);
    char sign_hex [65], curve_hex [65], add [400];
    keys_hex (op.sign_public, 32, sign_hex);
    keys_hex (op.curve_public, 32, curve_hex);
    snprintf (add, sizeof add, "{\"name\":\"bob\",\"role\":\"viewer\",\"tenant\":\"acme\","
              "\"sign_key\":\"%s\",\"curve_key\":\"%s\"}", sign_hex, curve_hex);
    assert (s_call (&rig, "a", "admin", "", "operator.add", add) == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "serial") >= 1);
    const char *cert_hex = s_str (rig.result.result, "cert");
    size_t cert_size = strlen (cert_hex) / 2;
    uint8_t *cert_bin = (uint8_t *) zmalloc (cert_size);
    assert (keys_unhex (cert_hex, cert_bin, cert_size) == 0);
    cert_t cert;
    assert (cert_decode (&cert, cert_bin, cert_size, ca.sign_public, 1700000000) == 0);
    assert (cert.kind == CERT_KIND_OPERATOR);
    assert (streq (cert.subject, "bob") && streq (cert.role, "viewer"));
    assert (streq (cert.tenant, "acme"));
    free (cert_bin);
    assert (s_call (&rig, "a", "admin", "", "operator.add", add) == WEFT_STATUS_CONFLICT);
    assert (streq (rig.result.error, "operator bob already exists"));
    snprintf (add, sizeof add, "{\"name\":\"eve\",\"role\":\"viewer\","
              "\"sign_key\":\"%s\",\"curve_key\":\"%s\"}", sign_hex, curve_hex);
    assert (s_call (&rig, "a", "admin", "", "operator.add", add) == WEFT_STATUS_CONFLICT);
    assert (streq (rig.result.error, "curve key already in use"));
    snprintf (add, sizeof add, "{\"name\":\"eve\",\"role\":\"god\","
              "\"sign_key\":\"%s\",\"curve_key\":\"%s\"}", sign_hex, curve_hex);
    assert (s_call (&rig, "a", "admin", "", "operator.add", add) == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error,
                    "role must be viewer, operator, auditor, security-officer or admin"));
    store_txn_t *txn = store_begin (rig.store, false);
    char *name = registry_operator_by_curve (txn, op.curve_public);
    store_abort (&txn);
    assert (name && streq (name, "bob"));
    free (name);
    if (verbose)
        printf ("last error '%s' ", rig.result.error);

    //  --- Hierarchy, metadata, scopes
    const char *tree = "{\"doc\":{\"version\":1,\"nodes\":["
        "{\"path\":\"acme\",\"level\":\"enterprise\"},"
        "{\"path\":\"acme/plant-1\",\"level\":\"site\"},"
        "{\"path\":\"acme/plant-2\",\"level\":\"site\"},"
        "{\"path\":\"acme/plant-2/line-7\",\"level\":\"line\"},"
        "{\"path\":\"acme/plant-2/line-7/pump-a\",\"level\":\"asset\",\"name\":\"Pump A\"},"
        "{\"path\":\"globex\",\"level\":\"enterprise\"},"
        "{\"path\":\"globex/site-a\",\"level\":\"site\"}]}}";
    assert (s_call_grant (&rig, "operator", "", "hierarchy.import", tree) == WEFT_STATUS_FORBIDDEN);
    assert (s_call_grant (&rig, "admin", "acme", "hierarchy.import", tree) == WEFT_STATUS_FORBIDDEN);
    assert (streq (rig.result.error, "node 6 (globex) is outside your scope"));
    assert (s_call_grant (&rig, "admin", "", "hierarchy.import", tree) == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (rig.result.result, "created")) == 7);
    //  An import in parts: nothing is written before the last part, and a
    //  bad node in the last part leaves the nodes of the first one out
    const char *part_1 = "{\"upload\":{\"id\":\"00aa00bb\",\"part\":1,\"parts\":2},"
        "\"doc\":{\"version\":1,\"nodes\":[{\"path\":\"initech\",\"level\":\"enterprise\"}]}}";
    assert (s_call_grant (&rig, "admin", "", "hierarchy.import", part_1) == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "received") == 1);
    txn = store_begin (rig.store, false);
    json_t *node = hierarchy_get (txn, "initech");
    store_abort (&txn);
    assert (node == NULL);
    assert (s_call_grant (&rig, "admin", "", "hierarchy.import",
        "{\"upload\":{\"id\":\"00aa00bb\",\"part\":2,\"parts\":2},\"doc\":{\"version\":1,"
        "\"nodes\":[{\"path\":\"initech/x\",\"level\":\"planet\"}]}}") == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (rig.result.error, "node 2 (initech/x)"));
    txn = store_begin (rig.store, false);
    node = hierarchy_get (txn, "initech");
    store_abort (&txn);
    assert (node == NULL);
    assert (s_call_grant (&rig, "admin", "", "hierarchy.import",
        "{\"upload\":{\"id\":\"00aa00bb\",\"part\":2,\"parts\":2},\"doc\":{\"version\":1,"
        "\"nodes\":[{\"path\":\"initech/x\",\"level\":\"site\"}]}}") == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (rig.result.result, "created")) == 2);
    assert (s_call_grant (&rig, "admin", "", "hierarchy.import",
        "{\"upload\":{\"id\":\"00aa00bb\",\"part\":2,\"parts\":2},\"doc\":{\"version\":1,"
        "\"nodes\":[]}}") == WEFT_STATUS_OK);     //  Dropped after the import: staged anew
    assert (s_int (rig.result.result, "received") == 0);
    assert (s_call_grant (&rig, "admin", "", "hierarchy.import",
        "{\"upload\":{\"id\":\"00aa00bb\",\"part\":1},\"doc\":{}}") == WEFT_STATUS_BAD_REQUEST);
    //  A token may place the device (into its certificate): inside the
    //  tenant and the caller's scope, on a node that exists
    assert (s_call_grant (&rig, "admin", "acme", "token.create",
                          "{\"path\":\"acme/plant-2\"}") == WEFT_STATUS_OK);
    assert (streq (s_str (rig.result.result, "tenant"), "acme"));
    assert (streq (s_str (rig.result.result, "path"), "acme/plant-2"));
    assert (s_call_grant (&rig, "admin", "acme/plant-1", "token.create",
                          "{\"path\":\"acme/plant-2\"}") == WEFT_STATUS_FORBIDDEN);
    assert (streq (rig.result.error, "path acme/plant-2 is outside your scope"));
    assert (s_call_grant (&rig, "admin", "", "token.create",
                          "{\"tenant\":\"globex\",\"path\":\"acme/plant-2\"}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "path acme/plant-2 is not in tenant globex"));
    assert (s_call_grant (&rig, "admin", "acme", "token.create",
                          "{\"path\":\"acme/plant-9\"}") == WEFT_STATUS_NOT_FOUND);
    s_add_device (&rig, "dev-p1", "acme", 3);
    s_add_device (&rig, "dev-p2", "acme", 4);
    assert (s_call_grant (&rig, "operator", "acme", "device.set",
        "{\"id\":\"dev-p1\",\"path\":\"acme/plant-1\",\"fw\":\"2.2.0\","
        "\"tags\":{\"line\":\"1\"}}") == WEFT_STATUS_OK);
    assert (streq (s_str (rig.result.result, "path"), "acme/plant-1"));
    assert (s_call_grant (&rig, "operator", "acme", "device.set",
        "{\"id\":\"dev-p2\",\"path\":\"acme/plant-2/line-7\","
        "\"asset\":\"acme/plant-2/line-7/pump-a\",\"fw\":\"2.10.1\",\"hw\":\"rev-b\","
        "\"location\":\"Hall 3\",\"tags\":{\"line\":\"7\",\"maintenance\":\"\"}}")
            == WEFT_STATUS_OK);
    //  Placement must stay in the device's tenant and exist
    assert (s_call_grant (&rig, "admin", "", "device.set",
        "{\"id\":\"dev-p1\",\"path\":\"globex/site-a\"}") == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "path globex/site-a is outside the tenant of dev-p1"));
    assert (s_call_grant (&rig, "admin", "", "device.set",
        "{\"id\":\"dev-p1\",\"path\":\"acme/plant-9\"}") == WEFT_STATUS_NOT_FOUND);
    assert (s_call_grant (&rig, "admin", "", "device.set",
        "{\"id\":\"dev-p1\",\"tags\":{\"bad key\":\"x\"}}") == WEFT_STATUS_BAD_REQUEST);
    assert (s_call_grant (&rig, "admin", "", "device.set",
        "{\"id\":\"dev-p1\",\"fw\":\"a\\nb\"}") == WEFT_STATUS_BAD_REQUEST);

    //  Queries over the indexes
    char ids [512];
    assert (s_call_grant (&rig, "viewer", "", "device.list",
        "{\"query\":\"site=plant-2 and fw>2.9 and tag.line=7 and tag.maintenance\"}")
            == WEFT_STATUS_OK);
    assert (streq (s_ids (&rig, ids, sizeof ids), "dev-p2"));
    assert (s_call_grant (&rig, "viewer", "", "device.count", "{\"query\":\"path^=acme/\"}")
            == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "count") == 2);
    assert (s_call_grant (&rig, "viewer", "", "device.list", "{\"query\":\"fw<\"}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "query: column 4: expected a value after '<'"));
    assert (s_call_grant (&rig, "viewer", "", "device.list", "{\"limit\":1}") == WEFT_STATUS_OK);
    assert (json_is_true (json_object_get (rig.result.result, "truncated")));
    assert (s_int (rig.result.result, "total") == 4);
    assert (s_call_grant (&rig, "viewer", "acme", "device.list", "{\"limit\":1}") == WEFT_STATUS_OK);
    assert (json_is_true (json_object_get (rig.result.result, "truncated")));
    assert (json_object_get (rig.result.result, "total") == NULL);
    assert (s_call_grant (&rig, "viewer", "acme", "device.list",
                          "{\"limit\":1,\"query\":\"tenant=acme\"}") == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "total") == 3);

    //  Tenant isolation, every method: globex's dev-b answers exactly as
    //  a missing device to an admin of acme, and never shows in a list
    const char *methods [] = { "device.show", "twin.get", "twin.set", "device.set", NULL };
    const char *extra [] = { "", "", ",\"patch\":{\"a\":1}", ",\"fw\":\"9\"" };
    for (int i = 0; methods [i]; i++) {
        char args_b [128], args_z [128];
        snprintf (args_b, sizeof args_b, "{\"id\":\"dev-b\"%s}", extra [i]);
        snprintf (args_z, sizeof args_z, "{\"id\":\"dev-z\"%s}", extra [i]);
        assert (s_call_grant (&rig, "admin", "acme", methods [i], args_b) == WEFT_STATUS_NOT_FOUND);
        char hidden [WEFT_TEXT_MAX + 1];
        snprintf (hidden, sizeof hidden, "%s", rig.result.error);
        assert (s_call_grant (&rig, "admin", "acme", methods [i], args_z) == WEFT_STATUS_NOT_FOUND);
        assert (streq (hidden, "unknown device dev-b"));
        assert (streq (rig.result.error, "unknown device dev-z"));
    }
    const char *reads [] = {
        "device.list", "{\"query\":\"id=dev-b or tenant=globex\"}",
        "device.count", "{\"query\":\"tenant=globex\"}",
        "batch.twin", "{\"query\":\"id=dev-b\",\"patch\":{\"a\":1}}",
        "batch.tag", "{\"query\":\"tenant=globex\",\"tags\":{\"x\":\"1\"}}",
        "batch.move", "{\"query\":\"type=gateway\",\"path\":\"acme/plant-1\",\"dry_run\":true}",
        NULL
    };
    for (int i = 0; reads [i]; i += 2) {
        assert (s_call_grant (&rig, "admin", "acme", reads [i], reads [i + 1]) == WEFT_STATUS_OK);
        s_ids (&rig, ids, sizeof ids);
        assert (!strstr (ids, "dev-b"));
        assert (s_int (rig.result.result, "count") == 0);
    }
    assert (s_call_grant (&rig, "admin", "acme", "hierarchy.export", "{}") == WEFT_STATUS_OK);
    char *text = registry_dump (rig.result.result);
    assert (!strstr (text, "globex"));
    free (text);
    assert (s_call_grant (&rig, "admin", "acme", "token.create", "{\"tenant\":\"globex\"}")
            == WEFT_STATUS_FORBIDDEN);
    //  Smuggled tenant, role or identity: refused as unknown arguments
    assert (s_call_grant (&rig, "admin", "acme", "device.list", "{\"tenant\":\"globex\"}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "unknown argument tenant for device.list"));
    assert (s_call_grant (&rig, "admin", "acme", "twin.set",
                          "{\"id\":\"dev-b\",\"patch\":{},\"role\":\"admin\"}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (s_call_grant (&rig, "operator", "acme", "batch.twin",
        "{\"query\":\"id=dev-b\",\"patch\":{},\"caller\":\"root\"}") == WEFT_STATUS_BAD_REQUEST);

    //  Scopes inside a tenant: plant 2's operator sees only plant 2
    assert (s_call_grant (&rig, "operator", "acme/plant-2", "device.list", "{}") == WEFT_STATUS_OK);
    assert (streq (s_ids (&rig, ids, sizeof ids), "dev-p2"));
    assert (s_call_grant (&rig, "operator", "acme/plant-2", "device.show", "{\"id\":\"dev-p1\"}")
            == WEFT_STATUS_NOT_FOUND);
    assert (streq (rig.result.error, "unknown device dev-p1"));
    assert (s_call_grant (&rig, "operator", "acme/plant-2", "device.show", "{\"id\":\"dev-a\"}")
            == WEFT_STATUS_NOT_FOUND);
    assert (s_call_grant (&rig, "operator", "acme/plant-2", "device.set",
        "{\"id\":\"dev-p2\",\"path\":\"acme/plant-1\"}") == WEFT_STATUS_NOT_FOUND);
    assert (streq (rig.result.error, "unknown hierarchy node acme/plant-1"));
    assert (s_call_grant (&rig, "operator", "acme/plant-2", "device.set",
        "{\"id\":\"dev-p2\",\"path\":null}") == WEFT_STATUS_FORBIDDEN);
    assert (s_call_grant (&rig, "operator", "acme/plant-2", "batch.twin",
        "{\"query\":\"tenant=acme\",\"patch\":{\"rate\":9}}") == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "matched") == 1);
    assert (streq (s_ids (&rig, ids, sizeof ids), "dev-p2"));
    assert (s_call_grant (&rig, "viewer", "acme/plant-2", "twin.set",
        "{\"id\":\"dev-p2\",\"patch\":{}}") == WEFT_STATUS_FORBIDDEN);
    assert (s_call_grant (&rig, "viewer", "acme/plant-2", "twin.get", "{\"id\":\"dev-p1\"}")
            == WEFT_STATUS_NOT_FOUND);

    //  Batches: dry run changes nothing, then the change
    assert (s_call_grant (&rig, "operator", "acme", "batch.tag",
        "{\"query\":\"path^=acme/\",\"tags\":{\"campaign\":\"c1\",\"line\":null},"
        "\"dry_run\":true}") == WEFT_STATUS_OK);
    assert (streq (s_ids (&rig, ids, sizeof ids), "dev-p1,dev-p2"));
    assert (s_call_grant (&rig, "viewer", "", "device.count", "{\"query\":\"tag.campaign\"}")
            == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "count") == 0);
    assert (s_call_grant (&rig, "operator", "acme", "batch.tag",
        "{\"query\":\"path^=acme/\",\"tags\":{\"campaign\":\"c1\",\"line\":null}}")
            == WEFT_STATUS_OK);
    assert (s_call_grant (&rig, "viewer", "", "device.count",
        "{\"query\":\"tag.campaign=c1 and not tag.line\"}") == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "count") == 2);
    assert (s_call_grant (&rig, "operator", "acme", "batch.move",
        "{\"query\":\"tag.campaign=c1\",\"path\":\"acme/plant-2\"}") == WEFT_STATUS_OK);
    assert (s_call_grant (&rig, "viewer", "", "device.count", "{\"query\":\"site=plant-2\"}")
            == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "count") == 2);
    //  One device that cannot move refuses the whole batch
    assert (s_call_grant (&rig, "admin", "", "batch.move",
        "{\"query\":\"type=gateway\",\"path\":\"acme/plant-1\"}") == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "path acme/plant-1 is outside the tenant of dev-b"));
    assert (s_call_grant (&rig, "viewer", "", "device.count", "{\"query\":\"site=plant-2\"}")
            == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "count") == 2);
    assert (s_call_grant (&rig, "operator", "acme", "batch.twin", "{\"patch\":{}}")
            == WEFT_STATUS_BAD_REQUEST);

    //  Grants: no escalation beyond what the granter holds there
    keys_t op2;
    keys_generate (&op2);
    keys_hex (op2.sign_public, 32, sign_hex);
    keys_hex (op2.curve_public, 32, curve_hex);
    snprintf (add, sizeof add, "{\"name\":\"sam\",\"role\":\"operator\","
              "\"path\":\"acme/plant-2\",\"sign_key\":\"%s\",\"curve_key\":\"%s\"}",
              sign_hex, curve_hex);
    assert (s_call_grant (&rig, "security-officer", "acme", "operator.add", add)
            == WEFT_STATUS_FORBIDDEN);
    assert (streq (rig.result.error,
                   "you cannot grant operator on acme/plant-2: you do not hold it there"));
    assert (s_call_grant (&rig, "admin", "acme/plant-1", "operator.add", add)
            == WEFT_STATUS_FORBIDDEN);
    assert (s_call_grant (&rig, "admin", "acme", "operator.add", add) == WEFT_STATUS_OK);
    assert (streq (s_str (rig.result.result, "path"), "acme/plant-2"));
    assert (s_call_grant (&rig, "admin", "acme", "operator.grant",
        "{\"name\":\"sam\",\"role\":\"viewer\",\"path\":\"acme/plant-1\"}") == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (rig.result.result, "grants")) == 2);
    assert (s_call_grant (&rig, "admin", "globex", "operator.grant",
        "{\"name\":\"sam\",\"role\":\"viewer\",\"path\":\"globex\"}") == WEFT_STATUS_NOT_FOUND);
    assert (streq (rig.result.error, "unknown operator sam"));
    assert (s_call_grant (&rig, "admin", "acme", "operator.grant",
        "{\"name\":\"sam\",\"role\":\"admin\",\"path\":\"\"}") == WEFT_STATUS_FORBIDDEN);
    txn = store_begin (rig.store, false);
    json_t *sam = registry_operator_get (txn, "sam");
    store_abort (&txn);
    rpc_caller_t loaded;
    rpc_caller_load (&loaded, "sam", sam);
    json_decref (sam);
    assert (loaded.grant_count == 2);
    assert (streq (loaded.grants [1].role, "viewer"));
    assert (streq (loaded.grants [1].path, "acme/plant-1"));
    keys_wipe (&op2);

    //  Revocation: security officers and admins, within their subtrees
    assert (s_call_grant (&rig, "operator", "acme", "device.revoke", "{\"id\":\"dev-p1\"}")
            == WEFT_STATUS_FORBIDDEN);
    assert (s_call_grant (&rig, "security-officer", "acme", "device.revoke",
                          "{\"id\":\"dev-b\"}") == WEFT_STATUS_NOT_FOUND);
    assert (streq (rig.result.error, "unknown device dev-b"));
    assert (s_call_grant (&rig, "security-officer", "acme", "device.revoke",
                          "{\"id\":\"dev-p1\"}") == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "revocations_version") == 1);
    assert (s_call_grant (&rig, "admin", "", "device.revoke", "{\"id\":\"dev-p1\"}")
            == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "revocations_version") == 1);

    //  A credential lists every grant; its validity is the ttl asked
    assert (s_call (&rig, "sam", "viewer", "", "operator.credential", "{\"ttl\":600}")
            == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (rig.result.result, "grants")) == 2);
    cert_hex = s_str (rig.result.result, "cert");
    cert_size = strlen (cert_hex) / 2;
    cert_bin = (uint8_t *) zmalloc (cert_size);
    assert (keys_unhex (cert_hex, cert_bin, cert_size) == 0);
    cert_t cred;
    assert (opcred_verify (&cred, cert_bin, cert_size, ca.sign_public, 1700000000, NULL, 0, NULL)
            == OPCRED_OK);
    assert (cred.grant_count == 2 && cred.not_after == 1700000000 + 600);
    assert (opcred_may (&cred, "viewer", "acme", "acme/plant-1/x", NULL) == OPCRED_OK);
    assert (opcred_may (&cred, "operator", "acme", "acme/plant-2", NULL) == OPCRED_OK);
    assert (opcred_may (&cred, "viewer", "acme", "acme/plant-3", NULL) == OPCRED_NOT_GRANTED);
    assert (opcred_verify (&cred, cert_bin, cert_size, ca.sign_public, 1700000601, NULL, 0, NULL)
            == OPCRED_EXPIRED);
    free (cert_bin);
    assert (s_call (&rig, "sam", "viewer", "", "operator.credential", "{\"ttl\":0}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "ttl must be an integer of 1..31536000"));
    assert (s_call (&rig, "nobody", "viewer", "", "operator.credential", "{}")
            == WEFT_STATUS_NOT_FOUND);

    //  Revoking an operator: only whoever manages it, never oneself;
    //  the revocation list's version grows once
    assert (s_call_grant (&rig, "admin", "globex", "operator.revoke", "{\"name\":\"sam\"}")
            == WEFT_STATUS_NOT_FOUND);
    assert (s_call_grant (&rig, "operator", "acme", "operator.revoke", "{\"name\":\"sam\"}")
            == WEFT_STATUS_FORBIDDEN);
    assert (s_call (&rig, "sam", "admin", "", "operator.revoke", "{\"name\":\"sam\"}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (s_call_grant (&rig, "admin", "acme", "operator.revoke", "{\"name\":\"sam\"}")
            == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "revocations_version") == 2);
    assert (s_call_grant (&rig, "admin", "acme", "operator.revoke", "{\"name\":\"sam\"}")
            == WEFT_STATUS_OK);
    assert (s_int (rig.result.result, "revocations_version") == 2);
    txn = store_begin (rig.store, false);
    sam = registry_operator_get (txn, "sam");
    store_abort (&txn);
    assert (json_is_true (json_object_get (sam, "revoked")));
    json_decref (sam);

    //  Audit: changes and refusals recorded, chain intact, scoped reads
    assert (s_call_grant (&rig, "operator", "acme", "audit.list", "{}") == WEFT_STATUS_FORBIDDEN);
    assert (s_call_grant (&rig, "auditor", "", "audit.verify", "{}") == WEFT_STATUS_OK);
    assert (json_is_true (json_object_get (rig.result.result, "intact")));
    assert (s_int (rig.result.result, "records") > 20);
    assert (s_call_grant (&rig, "auditor", "", "audit.list",
        "{\"query\":\"action=device.set and status=NOT_FOUND\",\"limit\":100}")
            == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (rig.result.result, "records")) >= 2);
    assert (s_call_grant (&rig, "auditor", "acme/plant-2", "audit.list", "{\"limit\":1000}")
            == WEFT_STATUS_OK);
    json_t *records = json_object_get (rig.result.result, "records");
    size_t index;
    json_t *record;
    assert (json_array_size (records) > 0);
    json_array_foreach (records, index, record)
        assert (strncmp (s_str (record, "scope"), "acme/plant-2", 12) == 0);
    //  Reads are not recorded; refusals are
    assert (s_call_grant (&rig, "auditor", "", "audit.list",
        "{\"query\":\"action=device.list\"}") == WEFT_STATUS_OK);
    records = json_object_get (rig.result.result, "records");
    json_array_foreach (records, index, record)
        assert (!streq (s_str (record, "status"), "OK"));

    rpc_result_clear (&rig.result);
    keys_wipe (&op);
    keys_wipe (&ca);
    pki_destroy (&rig.env.pki);
    registry_destroy (&rig.env.registry);
    store_destroy (&rig.store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
