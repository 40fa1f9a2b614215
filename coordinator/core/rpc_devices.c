/*  rpc_devices - the device and twin methods: device.list, .count,
    .show, .set, twin.get, .set, batch.*, hierarchy.*
    A device the caller cannot read answers exactly as a missing one
    (rpc_arg_device). A batch checks every device before it writes any,
    so a refusal writes nothing but its audit record.  */

#include "proto/corelib.h"
#include "coordinator/core/mergepatch.h"
#include "coordinator/core/hierupload.h"
#include "coordinator/core/rpc_internal.h"

//  --------------------------------------------------------------------------
//  Device reads

typedef struct {
    rpc_call_t *call;
    json_t *list;
    size_t limit;
    size_t total;
    bool stop_early;                //  Stop one past the limit
} s_list_t;

static int
s_list_one (void *arg, registry_device_t *device)
{
    s_list_t *list = (s_list_t *) arg;
    if (list->total++ < list->limit) {
        json_t *record = registry_device_json (device);
        if (record)
            json_array_append_new (list->list, rpc_device_summary (list->call, record));
        json_decref (record);
    }
    return list->stop_early && list->total > list->limit;
}

void
rpc_device_list (rpc_call_t *call)
{
    query_t *query;
    json_int_t limit;
    if (!rpc_arg_limit (call, RPC_LIST_DEFAULT, RPC_LIST_MAX, &limit)
    ||  !rpc_arg_query (call, &query))
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
        rpc_fail (call, WEFT_STATUS_INTERNAL, "cannot read the registry");
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
s_count_one (void *arg, registry_device_t *device)
{
    (void) device;
    (*(size_t *) arg)++;
    return 0;
}

void
rpc_device_count (rpc_call_t *call)
{
    query_t *query;
    if (!rpc_arg_query (call, &query))
        return;
    size_t count = 0;
    if (devquery_run (&call->read, query, s_count_one, &count, NULL) < 0)
        rpc_fail (call, WEFT_STATUS_INTERNAL, "cannot read the registry");
    else
        call->result->result = json_pack ("{s:I}", "count", (json_int_t) count);
    query_destroy (&query);
}

void
rpc_device_show (rpc_call_t *call)
{
    json_t *device = rpc_arg_device (call);
    if (!device)
        return;
    json_t *show = rpc_device_summary (call, device);
    json_object_set (show, "role", json_object_get (device, "role"));
    json_object_set (show, "cert_serial", json_object_get (device, "cert_serial"));
    json_object_set (show, "sign_key", json_object_get (device, "sign_key"));
    json_object_set (show, "curve_key", json_object_get (device, "curve_key"));
    if (*rpc_json_str (device, "ak_name")) {
        json_object_set (show, "ek", json_object_get (device, "ek"));
        json_object_set (show, "ek_via", json_object_get (device, "ek_via"));
        json_object_set (show, "ak_name", json_object_get (device, "ak_name"));
    }
    json_decref (device);
    call->result->result = show;
}

void
rpc_twin_get (rpc_call_t *call)
{
    json_t *device = rpc_arg_device (call);
    if (!device)
        return;
    const char *id = rpc_json_str (device, "id");
    json_t *twin = registry_twin_get (call->txn, id);
    if (!twin)
        rpc_fail (call, WEFT_STATUS_INTERNAL, "twin of %s is corrupt", id);
    else {
        json_object_set_new (twin, "id", json_string (id));
        call->result->result = twin;
    }
    json_decref (device);
}

//  --------------------------------------------------------------------------
//  Twin patches

bool
rpc_patch_valid (rpc_call_t *call, json_t *patch)
{
    if (!patch) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "missing argument patch");
        return false;
    }
    if (!json_is_object (patch)) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, RPC_PATCH_NOT_OBJECT);
        return false;
    }
    if (mergepatch_depth (patch, MERGEPATCH_DEPTH_MAX) > MERGEPATCH_DEPTH_MAX) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "patch nests deeper than %d levels",
                  MERGEPATCH_DEPTH_MAX);
        return false;
    }
    return true;
}

//  Patch one device's desired twin. Returns the new desired document
//  (caller decrefs) and version, or NULL with the error set.
static json_t *
s_patch_twin (rpc_call_t *call, const char *id, json_t *patch, json_int_t *version_p)
{
    int status;
    char error [WEFT_TEXT_MAX + 1];
    json_t *desired = registry_twin_patch (call->txn, id, patch, version_p, &status, error);
    if (!desired)
        rpc_fail (call, status, "%s", error);
    return desired;
}

void
rpc_twin_set (rpc_call_t *call)
{
    json_t *device = rpc_arg_device (call);
    if (!device)
        return;
    const char *id = rpc_json_str (device, "id");
    json_t *patch = json_object_get (call->args, "patch");
    json_int_t version;
    json_t *desired = rpc_patch_valid (call, patch)? s_patch_twin (call, id, patch, &version)
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
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "desired document would exceed %d bytes",
                  REGISTRY_DOC_MAX);
    json_decref (desired);
    json_decref (device);
}

//  --------------------------------------------------------------------------
//  Metadata

//  Check and apply a placement: path (NULL = keep, "" = unplace) and
//  asset (NULL = keep, "" = none). False with the error set.
static bool
s_place (rpc_call_t *call, json_t *device, const char *path, const char *asset)
{
    const char *id = rpc_json_str (device, "id");
    const char *tenant = rpc_json_str (device, "tenant");
    const char *fields [2] = { path, asset };
    const char *names [2] = { "path", "asset" };
    for (int i = 0; i < 2; i++) {
        const char *value = fields [i];
        if (!value)
            continue;
        if (*value) {
            size_t len = strlen (tenant);
            if (!*tenant || strncmp (value, tenant, len) || (value [len] && value [len] != '/')) {
                rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "%s %s is outside the tenant of %s",
                          names [i], value, id);
                return false;
            }
            json_t *node = hierarchy_get (call->txn, value);
            json_decref (node);
            //  A node outside the caller's reach answers as a missing one
            if (!node || !rpc_covered (&call->read, value)) {
                rpc_fail (call, WEFT_STATUS_NOT_FOUND, "unknown hierarchy node %s", value);
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
        rpc_fail (call, WEFT_STATUS_FORBIDDEN, "%s would leave the subtrees you may change", id);
        return false;
    }
    return true;
}

//  device.set. A field with security meaning needs the right its
//  effect needs: type picks the device's attestation profile, so it
//  needs what changing attestation policy needs (rpc_tenant_admin on
//  the device's tenant); a move needs write where the device is and
//  where it goes (s_place). Tenant and role are not arguments at all.
void
rpc_device_set (rpc_call_t *call)
{
    json_t *device = rpc_arg_device (call);
    if (!device)
        return;
    if (json_object_get (call->args, "type")
    &&  !rpc_tenant_admin (call, rpc_json_str (device, "tenant"))) {
        rpc_fail (call, WEFT_STATUS_FORBIDDEN, "type picks the attestation profile of %s: "
                  "changing it needs admin on its tenant", rpc_json_str (device, "id"));
        json_decref (device);
        return;
    }
    static const char *meta [] = { "type", "hw", "fw", "sw", "location", NULL };
    json_t *changes = json_object ();
    for (int i = 0; meta [i]; i++) {
        json_t *value = json_object_get (call->args, meta [i]);
        if (!value)
            continue;
        bool clear = json_is_null (value) && !streq (meta [i], "type");
        const char *text = json_string_value (value);
        bool ok = clear || (streq (meta [i], "type")? registry_name_valid (text)
                                                    : rpc_value_valid (text) && *text);
        if (!ok) {
            rpc_fail (call, WEFT_STATUS_BAD_REQUEST, streq (meta [i], "type")
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
    if ((path_json && !json_is_null (path_json) && !rpc_arg_path (call, "path", false, true, &path))
    ||  (asset_json && !json_is_null (asset_json) && !rpc_arg_path (call, "asset", false, true, &asset)))
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
        if (!rpc_tags_valid (call, tags) || !rpc_tags_apply (call, device, tags))
            goto done;
        json_object_set (changes, "tags", tags);
    }
    if (registry_device_put (call->txn, device)) {
        rpc_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
        goto done;
    }
    rpc_audit_set (call, registry_device_scope (device), NULL);
    call->result->result = rpc_device_summary (call, device);
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
    rpc_call_t *call;
    zlistx_t *ids;
    json_t *matched;                //  Tenant -> devices matched there
} s_batch_t;

static int
s_batch_one (void *arg, registry_device_t *device)
{
    s_batch_t *batch = (s_batch_t *) arg;
    zlistx_add_end (batch->ids, strdup (device->id));
    const char *tenant = device->tenant? device->tenant: "";
    json_object_set_new (batch->matched, tenant,
        json_integer (json_integer_value (json_object_get (batch->matched, tenant)) + 1));
    //  One past the limit is enough to refuse
    return zlistx_size (batch->ids) > RPC_BATCH_MAX;
}

//  Matching ids, or NULL with the error set. Sets the result's common
//  fields. Caller destroys the list.
static zlistx_t *
s_batch_select (rpc_call_t *call, bool *dry_run_p)
{
    query_t *query;
    if (!rpc_arg_bool (call, "dry_run", dry_run_p) || !rpc_arg_query (call, &query))
        return NULL;
    if (!query) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "missing argument query");
        return NULL;
    }
    s_batch_t batch = { call, zlistx_new (), json_object () };
    zlistx_set_destructor (batch.ids, (czmq_destructor *) zstr_free);
    int64_t rc = devquery_run (&call->act, query, s_batch_one, &batch, NULL);
    char *canonical = query_to_string (query);
    query_destroy (&query);
    if (rc < 0)
        rpc_fail (call, WEFT_STATUS_INTERNAL, "cannot read the registry");
    else
    if (zlistx_size (batch.ids) > RPC_BATCH_MAX)
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST,
                  "query matches more than %d devices; narrow it", RPC_BATCH_MAX);
    if (call->result->status) {
        free (canonical);
        zlistx_destroy (&batch.ids);
        json_decref (batch.matched);
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
    rpc_audit_set (call, call->act.scopes [0], "");
    //  Each tenant's audit chain gets its part: its own count, not the
    //  others' (the details are completed by the batch, so they are
    //  filled in s_batch_parts)
    call->tenants = batch.matched;
    json_object_del (call->tenants, "");        //  Devices of no tenant: deployment only
    free (canonical);
    return batch.ids;
}

//  Each touched tenant's part of the detail: the batch's, with that
//  tenant's count of matches
static void
s_batch_parts (rpc_call_t *call)
{
    const char *tenant;
    json_t *count;
    void *tmp;
    json_object_foreach_safe (call->tenants, tmp, tenant, count) {
        json_t *part = json_deep_copy (call->detail);
        json_object_set (part, "matched", count);
        json_object_set_new (call->tenants, tenant, part);
    }
}

void
rpc_batch_twin (rpc_call_t *call)
{
    json_t *patch = json_object_get (call->args, "patch");
    if (!rpc_patch_valid (call, patch))
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
    s_batch_parts (call);
    zlistx_destroy (&ids);
}

static void
s_json_free (void **item_p)
{
    json_decref ((json_t *) *item_p);
    *item_p = NULL;
}

static void
s_batch_edit (rpc_call_t *call, json_t *tags, const char *path, const char *asset)
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
            rpc_fail (call, WEFT_STATUS_INTERNAL, "device %s vanished", id);
            break;
        }
        zlistx_add_end (records, device);
        if (tags)
            rpc_tags_apply (call, device, tags);
        if (call->result->status == 0 && (path || asset))
            s_place (call, device, path, asset);
    }
    for (json_t *device = (json_t *) zlistx_first (records);
         device && !dry_run && call->result->status == 0;
         device = (json_t *) zlistx_next (records))
        if (registry_device_put (call->txn, device))
            rpc_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
    s_batch_parts (call);
    zlistx_destroy (&records);
    zlistx_destroy (&ids);
}

void
rpc_batch_tag (rpc_call_t *call)
{
    json_t *tags = json_object_get (call->args, "tags");
    if (!tags) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "missing argument tags");
        return;
    }
    if (rpc_tags_valid (call, tags))
        s_batch_edit (call, tags, NULL, NULL);
}

void
rpc_batch_move (rpc_call_t *call)
{
    const char *path, *asset;
    if (!rpc_arg_path (call, "path", true, false, &path)
    ||  !rpc_arg_path (call, "asset", false, true, &asset))
        return;
    s_batch_edit (call, NULL, path, asset);
}

//  --------------------------------------------------------------------------
//  Hierarchy

//  A document larger than one call comes in parts (hierupload.h):
//  upload {id, part, parts}; the import runs when the last one is in
void
rpc_hierarchy_import (rpc_call_t *call)
{
    json_t *doc = json_object_get (call->args, "doc");
    if (!doc) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "missing argument doc");
        return;
    }
    rpc_audit_set (call, call->act.scopes [0], "");
    json_t *upload = json_object_get (call->args, "upload");
    const char *upload_id = json_string_value (json_object_get (upload, "id"));
    json_t *whole = NULL;
    if (upload) {
        json_t *part = json_object_get (upload, "part"), *parts = json_object_get (upload, "parts");
        if (!json_is_object (upload) || json_object_size (upload) != 3 || !upload_id
        ||  !json_is_integer (part) || !json_is_integer (parts)) {
            rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "upload must be {id, part, parts}");
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
        //  Each tenant's audit chain gets its own counts
        call->tenants = json_object ();
        const char *lists [] = { "created", "updated", "removed", NULL };
        for (int i = 0; lists [i]; i++) {
            size_t index;
            json_t *path;
            json_array_foreach (json_object_get (report, lists [i]), index, path) {
                char tenant [WEFT_NAME_MAX + 1];
                rpc_tenant_of (json_string_value (path)? json_string_value (path): "", tenant);
                json_t *part = json_object_get (call->tenants, tenant);
                if (!part) {
                    part = json_pack ("{s:i, s:i, s:i}", "created", 0, "updated", 0,
                                      "removed", 0);
                    json_object_set_new (call->tenants, tenant, part);
                }
                json_object_set_new (part, lists [i], json_integer (
                    json_integer_value (json_object_get (part, lists [i])) + 1));
            }
        }
        json_object_del (call->tenants, "");
    }
}

void
rpc_hierarchy_export (rpc_call_t *call)
{
    json_t *doc = hierarchy_export (call->txn, call->read.scopes, call->read.scope_count);
    if (!doc)
        rpc_fail (call, WEFT_STATUS_INTERNAL, "cannot read the hierarchy");
    call->result->result = doc;
}
