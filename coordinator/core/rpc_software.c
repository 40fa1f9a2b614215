/*  rpc_software - the director's orders about installed software:
    entitlement.grant and update.uninstall (docs/updates.md,
    Entitlements and Uninstall)
    An operator orders devices it may change (write on their place),
    one by id or those a query matches, all of one tenant, at most
    RPC_BATCH_MAX. Each device gets its own order naming it, signed with
    the coordinator's key (proto/sworder.h), so no order a device holds
    can be replayed to another. The orders are left in the result for
    the core to seal and send by custody once the call's transaction has
    committed; what each device then does shows in its reported
    software (update.status).  */

#include "proto/corelib.h"
#include "proto/sworder.h"
#include "coordinator/core/rpc_internal.h"

//  Latest end of an entitlement: ten years from now
#define S_UNTIL_MAX_MS      (3650ULL * 86400000ULL)

//  One signed order per device selected, into the result's orders;
//  the result names the devices. False with the error set.
static bool
s_orders (rpc_call_t *call, int kind, const char *name, uint64_t until_ms)
{
    if (!call->env->coord_secret) {
        rpc_fail (call, WEFT_STATUS_INTERNAL, "no signing key for software orders");
        return false;
    }
    rpc_select_t select;
    memset (&select, 0, sizeof select);
    if (!rpc_update_select (call, &select)) {
        zlistx_destroy (&select.ids);
        return false;
    }
    if (!*select.tenant) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "device %s is in no tenant: software is a "
                  "tenant's", (char *) zlistx_first (select.ids));
        zlistx_destroy (&select.ids);
        return false;
    }
    zlistx_t *orders = zlistx_new ();
    zlistx_set_destructor (orders, (czmq_destructor *) zframe_destroy);
    json_t *devices = json_array ();
    for (char *id = (char *) zlistx_first (select.ids); id;
         id = (char *) zlistx_next (select.ids)) {
        sworder_t order = { .kind = kind, .issued_ms = call->now_ms, .until_ms = until_ms };
        snprintf (order.tenant, sizeof order.tenant, "%s", select.tenant);
        snprintf (order.scope, sizeof order.scope, "%s", id);
        snprintf (order.name, sizeof order.name, "%s", name);
        uint8_t *data;
        size_t size;
        if (sworder_sign (&order, call->env->coord_secret, &data, &size)) {
            rpc_fail (call, WEFT_STATUS_INTERNAL, "cannot sign the order for %s", id);
            break;
        }
        zframe_t *frame = zframe_new (NULL, strlen (id) + 1 + size);
        memcpy (zframe_data (frame), id, strlen (id) + 1);
        memcpy (zframe_data (frame) + strlen (id) + 1, data, size);
        free (data);
        zlistx_add_end (orders, frame);
        json_array_append_new (devices, json_string (id));
    }
    if (call->result->status == WEFT_STATUS_OK) {
        json_t *result = json_pack ("{s:s, s:s, s:I, s:o}", "tenant", select.tenant,
                                    "name", name, "issued_ms", (json_int_t) call->now_ms,
                                    "devices", devices);
        if (kind == SWORDER_ENTITLE)
            json_object_set_new (result, "until_ms", json_integer ((json_int_t) until_ms));
        call->result->result = result;
        call->detail = json_deep_copy (result);
        if (json_object_get (call->args, "query"))
            rpc_audit_set (call, select.tenant, NULL);
        call->result->orders = orders;
    }
    else {
        json_decref (devices);
        zlistx_destroy (&orders);
    }
    zlistx_destroy (&select.ids);
    return call->result->status == WEFT_STATUS_OK;
}

//  --------------------------------------------------------------------------
//  entitlement.grant: the devices may run software name until the
//  "until" argument (Unix ms); a time already past takes the right away

void
rpc_entitlement_grant (rpc_call_t *call)
{
    const char *name;
    json_int_t until;
    if (!rpc_arg_name (call, "name", true, false, &name)
    ||  !rpc_arg_int (call, "until", 0, (json_int_t) (call->now_ms + S_UNTIL_MAX_MS), &until))
        return;
    if (until == 0) {
        rpc_fail (call, WEFT_STATUS_BAD_REQUEST, "until is required: when the entitlement "
                  "ends (Unix ms)");
        return;
    }
    s_orders (call, SWORDER_ENTITLE, name, (uint64_t) until);
}

//  --------------------------------------------------------------------------
//  update.uninstall: the devices remove software name

void
rpc_update_uninstall (rpc_call_t *call)
{
    const char *name;
    if (rpc_arg_name (call, "name", true, false, &name))
        s_orders (call, SWORDER_UNINSTALL, name, 0);
}
