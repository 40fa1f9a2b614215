/*  rpc_update - the methods of software updates: update.assign, update.status
    An operator assigns a release of the repository to devices it may
    change (write on their place): one by id, or those a query matches,
    all of one tenant, at most RPC_BATCH_MAX. Only the release of the
    devices' own tenant is found, so no operator can offer one tenant's
    release to another's devices. The director (director.h) signs each
    assignment; the offers are left in the result for the core to seal
    and send by custody once the call's transaction has committed.  */

#include "proto/corelib.h"
#include "coordinator/core/rpc_internal.h"

static int
s_select_one (void *arg, registry_device_t *device)
{
    rpc_select_t *select = (rpc_select_t *) arg;
    const char *tenant = device->tenant? device->tenant: "";
    if (zlistx_size (select->ids) == 0)
        snprintf (select->tenant, sizeof select->tenant, "%s", tenant);
    else
    if (!streq (select->tenant, tenant) && !select->several) {
        select->several = true;
        snprintf (select->other, sizeof select->other, "%s", tenant);
    }
    const char *type = device->type? device->type: "";
    size_t size = strlen (device->id) + strlen (type) + 2;
    char *entry = (char *) zmalloc (size);
    memcpy (entry, device->id, strlen (device->id));
    memcpy (entry + strlen (device->id) + 1, type, strlen (type));
    zlistx_add_end (select->ids, entry);
    return zlistx_size (select->ids) > RPC_BATCH_MAX;
}

bool
rpc_update_select (rpc_call_t *call, rpc_select_t *select)
{
    select->ids = zlistx_new ();
    zlistx_set_destructor (select->ids, (czmq_destructor *) zstr_free);
    bool by_id = json_object_get (call->args, "id") != NULL;
    bool by_query = json_object_get (call->args, "query") != NULL;
    if (by_id == by_query) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "name the devices: id or query, not both");
        return false;
    }
    if (by_id) {
        json_t *record = rpc_arg_device (call);
        if (!record)
            return false;
        registry_device_t device;
        memset (&device, 0, sizeof device);
        device.id = rpc_json_str (record, "id");
        device.tenant = rpc_json_str (record, "tenant");
        device.type = rpc_json_str (record, "type");
        s_select_one (select, &device);
        json_decref (record);
        return true;
    }
    query_t *query;
    if (!rpc_arg_query (call, &query))
        return false;
    int64_t rc = devquery_run (&call->act, query, s_select_one, select, NULL);
    char *canonical = query_to_string (query);
    query_destroy (&query);
    rpc_audit_set (call, call->act.scopes [0], canonical);
    free (canonical);
    if (rc < 0)
        rpc_fail (call, WEFT_STATUS_INTERNAL, "cannot read the registry");
    else
    if (zlistx_size (select->ids) > RPC_BATCH_MAX)
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "query matches more than %d devices; narrow "
                  "it", RPC_BATCH_MAX);
    else
    if (zlistx_size (select->ids) == 0)
        rpc_fail (call, WEFT_STATUS_NOT_FOUND, "the query matches no device you may change");
    else
    if (select->several)
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "the query matches devices of tenants %s and "
                  "%s: a release is one tenant's (add tenant=T to the query)",
                  *select->tenant? select->tenant: "(none)",
                  *select->other? select->other: "(none)");
    return call->result->status == WEFT_STATUS_OK;
}

void
rpc_update_assign (rpc_call_t *call)
{
    const char *name, *version;
    json_int_t ttl;
    if (!rpc_arg_name (call, "name", true, false, &name)
    ||  !rpc_arg_name (call, "version", true, false, &version)
    ||  !rpc_arg_int (call, "ttl", DIRECTOR_TTL_S, DIRECTOR_TTL_MAX_S, &ttl))
        return;
    if (!call->env->coord_secret) {
        rpc_fail (call, WEFT_STATUS_INTERNAL, "no signing key for assignments");
        return;
    }
    rpc_select_t select;
    memset (&select, 0, sizeof select);
    if (!rpc_update_select (call, &select)) {
        zlistx_destroy (&select.ids);
        return;
    }
    if (!*select.tenant) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "device %s is in no tenant: releases are a "
                  "tenant's", (char *) zlistx_first (select.ids));
        zlistx_destroy (&select.ids);
        return;
    }
    int status;
    char error [WEFT_TEXT_MAX + 1] = "";
    director_batch_t *batch = director_batch_new (call->txn, select.tenant, name, version,
                                                  call->now_ms, &status, error);
    if (!batch) {
        rpc_fail (call, status, "%s", error);
        zlistx_destroy (&select.ids);
        return;
    }
    //  One device named is refused if it does not fit; of a query's, the
    //  ones that fit are assigned and the others listed
    bool by_id = json_object_get (call->args, "id") != NULL;
    uint64_t expires_ms = call->now_ms + (uint64_t) ttl * 1000;
    json_t *assigned = json_array (), *skipped = json_array ();
    for (char *entry = (char *) zlistx_first (select.ids); entry && status == WEFT_STATUS_OK;
         entry = (char *) zlistx_next (select.ids)) {
        const char *type = entry + strlen (entry) + 1;
        status = director_batch_add (batch, call->txn, entry, type, call->caller->name,
                                     call->env->coord_secret, call->now_ms, expires_ms, error);
        if (status == WEFT_STATUS_OK)
            json_array_append_new (assigned, json_string (entry));
        else
        if (status == WEFT_STATUS_BAD_REQUEST && !by_id) {
            json_array_append_new (skipped, json_pack ("{s:s, s:s}", "id", entry,
                                                       "reason", error));
            status = WEFT_STATUS_OK;
        }
    }
    if (status == WEFT_STATUS_OK && json_array_size (assigned) == 0) {
        status = WEFT_STATUS_BAD_REQUEST;
        snprintf (error, sizeof error, "no device of the query fits %s %s (it is for %.64s)",
                  name, version, director_batch_manifest (batch)->types);
    }
    if (status) {
        rpc_fail (call, status, "%s", error);
        director_batch_destroy (&batch);
        json_decref (assigned);
        json_decref (skipped);
        zlistx_destroy (&select.ids);
        return;
    }
    call->result->result = json_pack ("{s:s, s:s, s:s, s:s, s:I, s:O, s:o}",
        "tenant", select.tenant, "name", name, "version", version,
        "manifest_hash", director_batch_hash (batch), "expires_ms", (json_int_t) expires_ms,
        "assigned", assigned, "skipped", skipped);
    call->detail = json_pack ("{s:s, s:s, s:s, s:I, s:o}", "name", name, "version", version,
                              "manifest_hash", director_batch_hash (batch),
                              "expires_ms", (json_int_t) expires_ms, "assigned", assigned);
    char tenant [WEFT_NAME_MAX + 1];
    snprintf (tenant, sizeof tenant, "%s", select.tenant);
    if (!by_id)
        rpc_audit_set (call, tenant, NULL);
    call->result->offers = batch;
    zlistx_destroy (&select.ids);
}

//  --------------------------------------------------------------------------
//  update.status: what each device was assigned and what it reports of
//  its software (reported.software, written by the device's update
//  module: state, name, version, progress, error)

//  One device's row
static json_t *
s_status_row (store_txn_t *txn, const char *id)
{
    json_t *row = json_pack ("{s:s}", "id", id);
    json_t *assigned = director_assigned (txn, id);
    if (assigned)
        json_object_set_new (row, "assigned", json_pack ("{s:O, s:O, s:O, s:O}",
            "name", json_object_get (assigned, "name"),
            "version", json_object_get (assigned, "version"),
            "issued_ms", json_object_get (assigned, "issued_ms"),
            "expires_ms", json_object_get (assigned, "expires_ms")));
    json_t *twin = registry_twin_get (txn, id);
    json_t *software = json_object_get (json_object_get (twin, "reported"), "software");
    if (json_is_object (software))
        json_object_set (row, "software", software);
    json_decref (twin);
    json_decref (assigned);
    return row;
}

typedef struct {
    store_txn_t *txn;
    json_t *rows;
    size_t limit, total;
} s_status_t;

static int
s_status_one (void *arg, registry_device_t *device)
{
    s_status_t *status = (s_status_t *) arg;
    if (++status->total <= status->limit)
        json_array_append_new (status->rows, s_status_row (status->txn, device->id));
    return status->total > status->limit;
}

void
rpc_update_status (rpc_call_t *call)
{
    if (json_object_get (call->args, "id")) {
        json_t *device = rpc_arg_device (call);
        if (device)
            call->result->result = json_pack ("{s:[o], s:b}", "devices",
                s_status_row (call->txn, rpc_json_str (device, "id")), "truncated", false);
        json_decref (device);
        return;
    }
    query_t *query;
    json_int_t limit;
    if (!rpc_arg_limit (call, RPC_LIST_DEFAULT, RPC_LIST_MAX, &limit)
    ||  !rpc_arg_query (call, &query))
        return;
    s_status_t status = { call->txn, json_array (), (size_t) limit, 0 };
    if (devquery_run (&call->read, query, s_status_one, &status, NULL) < 0) {
        json_decref (status.rows);
        rpc_fail (call, WEFT_STATUS_INTERNAL, "cannot read the registry");
    }
    else
        call->result->result = json_pack ("{s:o, s:b}", "devices", status.rows,
                                          "truncated", status.total > status.limit);
    query_destroy (&query);
}
