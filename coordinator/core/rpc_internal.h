/*  rpc_internal - what the rpc_ files share: one call's state, the
    argument helpers and the methods that the table in rpc.c names
    Private to coordinator/core/rpc*.c; callers use rpc.h. A call lives
    on s_run's stack for one method; methods set call->result and, for
    the audit record, call->scope, target and detail.  */

#ifndef WEFT_RPC_INTERNAL_H_INCLUDED
#define WEFT_RPC_INTERNAL_H_INCLUDED

#include "proto/opcred.h"
#include "coordinator/core/rpc.h"
#include "coordinator/core/campaign_run.h"

//  Permissions; a role is a set of them (proto/opcred.h, shared with
//  site servers that authorise operators offline)
#define P_READ          OPCRED_P_READ
#define P_WRITE         OPCRED_P_WRITE
#define P_ADMIN         OPCRED_P_ADMIN
#define P_AUDIT         OPCRED_P_AUDIT
#define P_OPERATORS     OPCRED_P_OPERATORS
#define P_REVOKE        OPCRED_P_REVOKE

//  A twin patch must be an object: RFC 7386 replaces the whole document
//  with any other value, and a desired twin is always an object
#define RPC_PATCH_NOT_OBJECT \
    "patch must be a JSON object (a desired twin is an object; the whole-document " \
    "replacement of RFC 7386 by an array, string, number or null is refused)"

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
    json_t *tenants;                //  Tenant -> its part of the detail, when the
                                    //  call touched several (one record each); owned
    bool quiet;                     //  A success not worth a record of its own (a
                                    //  middle part of an upload: its end has one)
} rpc_call_t;

typedef void (rpc_method_fn) (rpc_call_t *call);

//  --------------------------------------------------------------------------
//  Errors, audit, scope (rpc_args.c)

//  Set the result's status and error message (printf format)
void
    rpc_fail (rpc_call_t *call, int status, const char *format, ...);

//  Set the audit record's scope and target; NULL keeps the one set
void
    rpc_audit_set (rpc_call_t *call, const char *scope, const char *target);

//  Does one of ctx's subtrees cover path?
bool
    rpc_covered (const devquery_ctx_t *ctx, const char *path);

//  The tenant (first segment) of a path into out
void
    rpc_tenant_of (const char *path, char out [WEFT_NAME_MAX + 1]);

//  Does the caller hold admin on tenant's root (or on everything)? What
//  is set per tenant needs it: attestation policy, and site servers,
//  which serve the whole tenant. Tenant "" (devices without a tenant)
//  needs admin on everything.
bool
    rpc_tenant_admin (rpc_call_t *call, const char *tenant);

//  Does one of the caller's read scopes lie in tenant (or cover it)?
bool
    rpc_tenant_readable (rpc_call_t *call, const char *tenant);

//  Where a new device will sit (token.create, device.preregister):
//  tenant, or path ("" = the tenant's root) in it; type what it enrols
//  as. The place must lie where the caller may call the method, the
//  path be an existing node of that tenant of at most 64 bytes (it goes
//  into the certificate), and a server needs rpc_tenant_admin. False
//  with the error set.
bool
    rpc_place_check (rpc_call_t *call, const char *tenant, const char *path,
                     const char *type);

//  --------------------------------------------------------------------------
//  Arguments (rpc_args.c). Each returns false with the error set.

//  Optional or required name-shaped string; *value NULL if absent.
bool
    rpc_arg_name (rpc_call_t *call, const char *key, bool required, bool allow_empty,
                  const char **value);

//  Optional hierarchy path ("" allowed with allow_empty)
bool
    rpc_arg_path (rpc_call_t *call, const char *key, bool required, bool allow_empty,
                  const char **value);

//  Required 64-hex key
bool
    rpc_arg_key (rpc_call_t *call, const char *key, uint8_t out [32]);

//  Optional query; *query_p NULL if absent. Caller destroys.
bool
    rpc_arg_query (rpc_call_t *call, query_t **query_p);

//  Optional boolean, false if absent
bool
    rpc_arg_bool (rpc_call_t *call, const char *key, bool *value);

//  Optional integer of 1..max, fallback if absent
bool
    rpc_arg_int (rpc_call_t *call, const char *key, json_int_t fallback, json_int_t max,
                 json_int_t *value);

//  The "limit" argument, as rpc_arg_int
bool
    rpc_arg_limit (rpc_call_t *call, json_int_t fallback, json_int_t max, json_int_t *limit);

//  The device id argument and its record (caller decrefs), where the
//  caller may call this method; NULL with the error set.
json_t *
    rpc_arg_device (rpc_call_t *call);

//  Metadata or tag value: text without control characters
bool
    rpc_value_valid (const char *value);

//  A tags edit {key: "value" | null}
bool
    rpc_tags_valid (rpc_call_t *call, json_t *tags);

//  Apply a checked tags edit to a device record. False if the device
//  would carry too many tags (error set).
bool
    rpc_tags_apply (rpc_call_t *call, json_t *device, json_t *tags);

//  --------------------------------------------------------------------------
//  Records (rpc_args.c)

//  Is patch a JSON merge patch a desired twin may take (an object, not
//  nested too deep)? False with the error set (rpc_devices.c)
bool
    rpc_patch_valid (rpc_call_t *call, json_t *patch);

//  A record's integer field, 0 if absent
json_int_t
    rpc_json_int (json_t *object, const char *key);

//  A record's string field, "" if absent (borrowed from object)
const char *
    rpc_json_str (json_t *object, const char *key);

//  Fields common to device.list and device.show (caller decrefs)
json_t *
    rpc_device_summary (rpc_call_t *call, json_t *device);

//  --------------------------------------------------------------------------
//  The methods, by name: device.list is rpc_device_list

//  rpc_devices.c
rpc_method_fn rpc_device_list, rpc_device_count, rpc_device_show, rpc_device_set,
    rpc_twin_get, rpc_twin_set, rpc_batch_twin, rpc_batch_tag, rpc_batch_move,
    rpc_hierarchy_import, rpc_hierarchy_export;

//  rpc_enrol.c
rpc_method_fn rpc_token_create, rpc_device_preregister;

//  rpc_admin.c
rpc_method_fn rpc_attest_profile_set, rpc_attest_allowlist_set, rpc_attest_status,
    rpc_attest_show, rpc_attest_clear, rpc_operator_add, rpc_operator_grant,
    rpc_operator_credential, rpc_operator_revoke, rpc_audit_list, rpc_audit_verify,
    rpc_audit_head, rpc_device_revoke, rpc_coord_stats;

//  rpc_release.c
rpc_method_fn rpc_release_root_set, rpc_release_root_show, rpc_artifact_upload,
    rpc_artifact_part, rpc_artifact_list, rpc_artifact_show, rpc_artifact_remove;

//  rpc_update.c
rpc_method_fn rpc_update_assign, rpc_update_status;

//  The devices of a call, with their tenant and type
typedef struct {
    zlistx_t *ids;                  //  "id\0type\0", owned: the caller destroys it
    char tenant [WEFT_NAME_MAX + 1];
    bool several;                   //  Devices of more than one tenant
    char other [WEFT_NAME_MAX + 1]; //  The second tenant met
} rpc_select_t;

//  rpc_update.c: the devices the call names ("id" or "query"), all of
//  one tenant, at most RPC_BATCH_MAX, where the caller may change them;
//  false with the error set. select zeroed by the caller.
bool
    rpc_update_select (rpc_call_t *call, rpc_select_t *select);

//  rpc_software.c: entitlements and uninstall orders (SOFTWARE_ORDER)
rpc_method_fn rpc_entitlement_grant, rpc_update_uninstall;

//  rpc_campaign.c: the campaign the "id" argument names, where the
//  caller may read one of its tenants (caller decrefs); with act, also
//  where it may change every device the campaign holds. NULL with the
//  error set.
json_t *
    rpc_campaign_find (rpc_call_t *call, bool act);

//  rpc_campaign.c: the offers a campaign's run made go with the call's
//  result, to be sent once it has committed (the run keeps none)
void
    rpc_campaign_hand_offers (rpc_call_t *call, campaign_run_t *run);

//  rpc_campaign.c, rpc_campaign_show.c, rpc_campaign_exclude.c
rpc_method_fn rpc_campaign_create, rpc_campaign_show, rpc_campaign_list, rpc_campaign_start,
    rpc_campaign_pause, rpc_campaign_resume, rpc_campaign_abort, rpc_campaign_retry,
    rpc_campaign_exclude, rpc_campaign_revert;

//  Selftest of campaign.show's counts per site (rpc_campaign_show_test.c)
void
    rpc_campaign_show_test (bool verbose);

#endif
