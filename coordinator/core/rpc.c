/*  rpc - the coordinator's operator methods
    Every method names the arguments it accepts; any other argument is
    refused, so a typo never passes silently. Authorization is checked
    before arguments are read, scope (tenant) when a device is looked
    up. Messages are short and stable: scripts and tests match on them.  */

#include <czmq.h>
#include <sodium.h>
#include "proto/keys.h"
#include "coordinator/core/mergepatch.h"
#include "coordinator/core/tokens.h"
#include "coordinator/core/rpc.h"

typedef struct {
    rpc_env_t *env;
    store_txn_t *txn;
    const rpc_caller_t *caller;
    json_t *args;                   //  A JSON object
    uint64_t now_ms;
    rpc_result_t *result;
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
s_role_rank (const char *role)
{
    return streq (role, "viewer")? 1
         : streq (role, "operator")? 2
         : streq (role, "admin")? 3: 0;
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

//  The device id argument and its record, within the caller's scope.
//  Another tenant's device answers exactly as a missing one.
static json_t *
s_device (s_call_t *call)
{
    const char *id;
    if (!s_arg_name (call, "id", true, false, &id))
        return NULL;
    json_t *device = registry_device_get (call->txn, id);
    const char *tenant = json_string_value (json_object_get (device, "tenant"));
    if (device && *call->caller->tenant
    &&  !(tenant && streq (tenant, call->caller->tenant))) {
        json_decref (device);
        device = NULL;
    }
    if (!device)
        s_fail (call, WEFT_STATUS_NOT_FOUND, "unknown device %s", id);
    return device;
}

//  Can the caller act in this tenant?
static bool
s_in_scope (s_call_t *call, const char *tenant)
{
    if (*call->caller->tenant && !streq (tenant, call->caller->tenant)) {
        s_fail (call, WEFT_STATUS_FORBIDDEN, "tenant %s is outside your scope",
                *tenant? tenant: "(none)");
        return false;
    }
    return true;
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
        "enrolled", s_int (device, "enrolled"), "assurance", "software");
    json_decref (twin);
    return summary;
}

//  --------------------------------------------------------------------------
//  Methods

typedef struct {
    s_call_t *call;
    json_t *list;
} s_list_t;

static int
s_list_one (void *arg, json_t *device)
{
    s_list_t *list = (s_list_t *) arg;
    const char *tenant = s_str (device, "tenant");
    if (*list->call->caller->tenant && !streq (tenant, list->call->caller->tenant))
        return 0;
    json_array_append_new (list->list, s_device_summary (list->call, device));
    return 0;
}

static void
s_device_list (s_call_t *call)
{
    s_list_t list = { call, json_array () };
    if (registry_device_each (call->txn, s_list_one, &list) < 0) {
        json_decref (list.list);
        s_fail (call, WEFT_STATUS_INTERNAL, "cannot read the registry");
        return;
    }
    call->result->result = json_pack ("{s:o}", "devices", list.list);
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

static void
s_twin_set (s_call_t *call)
{
    json_t *device = s_device (call);
    if (!device)
        return;
    json_t *twin = NULL;
    json_t *desired = NULL;
    char *text = NULL;
    const char *id = s_str (device, "id");
    json_t *patch = json_object_get (call->args, "patch");
    if (!patch) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "missing argument patch");
        goto done;
    }
    if (!json_is_object (patch)) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "patch must be a JSON object");
        goto done;
    }
    if (mergepatch_depth (patch, MERGEPATCH_DEPTH_MAX) > MERGEPATCH_DEPTH_MAX) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "patch nests deeper than %d levels",
                MERGEPATCH_DEPTH_MAX);
        goto done;
    }
    twin = registry_twin_get (call->txn, id);
    if (!twin) {
        s_fail (call, WEFT_STATUS_INTERNAL, "twin of %s is corrupt", id);
        goto done;
    }
    desired = mergepatch_apply (json_object_get (twin, "desired"), patch);
    text = registry_dump (desired);
    if (!text || strlen (text) > REGISTRY_DOC_MAX) {
        s_fail (call, WEFT_STATUS_BAD_REQUEST, "desired document would exceed %d bytes",
                REGISTRY_DOC_MAX);
        goto done;
    }
    json_int_t version = s_int (twin, "desired_version") + 1;
    json_object_set (twin, "desired", desired);
    json_object_set_new (twin, "desired_version", json_integer (version));
    if (registry_twin_put (call->txn, id, twin)) {
        s_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
        goto done;
    }
    call->result->result = json_pack ("{s:s, s:I, s:O}", "id", id,
                                      "desired_version", version, "desired", desired);
    snprintf (call->result->push, sizeof call->result->push, "%s", id);
done:
    free (text);
    json_decref (desired);
    json_decref (twin);
    json_decref (device);
}

static void
s_token_create (s_call_t *call)
{
    const char *tenant, *type;
    if (!s_arg_name (call, "tenant", false, true, &tenant)
    ||  !s_arg_name (call, "type", false, true, &type))
        return;
    if (!tenant)
        tenant = call->caller->tenant;
    if (!type)
        type = "";
    if (!s_in_scope (call, tenant))
        return;
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
    if (tokens_create (call->txn, tenant, type, (uint64_t) ttl, call->now_ms / 1000,
                       call->env->coord_curve, text, id, &expires)) {
        s_fail (call, WEFT_STATUS_INTERNAL, "store write failed");
        return;
    }
    call->result->result = json_pack ("{s:s, s:s, s:s, s:s, s:I}", "token", text,
        "id", id, "tenant", tenant, "type", type, "expires", (json_int_t) expires);
    sodium_memzero (text, sizeof text);
}

static void
s_operator_add (s_call_t *call)
{
    const char *name, *role, *tenant;
    uint8_t sign_key [32], curve_key [32];
    if (!s_arg_name (call, "name", true, false, &name)
    ||  !s_arg_name (call, "role", true, false, &role)
    ||  !s_arg_name (call, "tenant", false, true, &tenant)
    ||  !s_arg_key (call, "sign_key", sign_key)
    ||  !s_arg_key (call, "curve_key", curve_key))
        return;
    if (!tenant)
        tenant = call->caller->tenant;
    if (!s_in_scope (call, tenant))
        return;
    uint8_t *cert;
    size_t cert_size;
    uint64_t serial;
    int status = rpc_operator_create (call->env->pki, call->txn, name, role, tenant,
                                      sign_key, curve_key, false, call->now_ms / 1000,
                                      &cert, &cert_size, &serial, call->result->error);
    if (status) {
        call->result->status = status;
        return;
    }
    char *cert_hex = (char *) zmalloc (2 * cert_size + 1);
    keys_hex (cert, cert_size, cert_hex);
    call->result->result = json_pack ("{s:s, s:I, s:s, s:s, s:s}", "cert", cert_hex,
        "serial", (json_int_t) serial, "name", name, "role", role, "tenant", tenant);
    free (cert_hex);
    free (cert);
}

static void
s_coord_stats (s_call_t *call)
{
    if (*call->caller->tenant) {
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

#define S_KEYS_MAX  6

static const struct {
    const char *name;
    const char *role;               //  Least role that may call it
    const char *keys [S_KEYS_MAX];  //  Arguments accepted, NULL-ended
    s_method_fn *fn;
} s_methods [] = {
    { "token.create", "admin", { "tenant", "ttl", "type", NULL }, s_token_create },
    { "device.list", "viewer", { NULL }, s_device_list },
    { "device.show", "viewer", { "id", NULL }, s_device_show },
    { "twin.get", "viewer", { "id", NULL }, s_twin_get },
    { "twin.set", "operator", { "id", "patch", NULL }, s_twin_set },
    { "operator.add", "admin",
        { "name", "role", "tenant", "sign_key", "curve_key", NULL }, s_operator_add },
    { "coord.stats", "viewer", { NULL }, s_coord_stats },
};

//  --------------------------------------------------------------------------
//  Run one method.

void
rpc_call (rpc_env_t *env, store_txn_t *txn, const rpc_caller_t *caller,
          const char *method, const char *args, size_t args_size,
          uint64_t now_ms, rpc_result_t *result)
{
    assert (env && txn && caller && method && result);
    memset (result, 0, sizeof *result);
    s_call_t call = { env, txn, caller, NULL, now_ms, result };

    size_t index = 0;
    size_t count = sizeof s_methods / sizeof s_methods [0];
    while (index < count && !streq (s_methods [index].name, method))
        index++;
    if (index == count) {
        s_fail (&call, WEFT_STATUS_BAD_REQUEST, "unknown method %.64s", method);
        return;
    }
    int rank = s_role_rank (caller->role);
    if (rank == 0 || rank < s_role_rank (s_methods [index].role)) {
        s_fail (&call, WEFT_STATUS_FORBIDDEN, "role %s may not call %s",
                caller->role, method);
        return;
    }
    if (args_size > RPC_ARGS_MAX) {
        s_fail (&call, WEFT_STATUS_BAD_REQUEST, "args larger than %d bytes", RPC_ARGS_MAX);
        return;
    }
    json_error_t error;
    if (args_size == 0)
        call.args = json_object ();
    else
        call.args = json_loadb (args, args_size, JSON_REJECT_DUPLICATES, &error);
    if (!call.args) {
        s_fail (&call, WEFT_STATUS_BAD_REQUEST, "args are not valid JSON: %.80s", error.text);
        return;
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
    if (result->status != WEFT_STATUS_OK) {
        json_decref (result->result);
        result->result = NULL;
        result->push [0] = 0;
    }
    else
    if (!result->result)
        result->result = json_object ();
done:
    json_decref (call.args);
}

void
rpc_result_clear (rpc_result_t *result)
{
    assert (result);
    json_decref (result->result);
    result->result = NULL;
}

//  --------------------------------------------------------------------------
//  Create an operator.

int
rpc_operator_create (pki_t *pki, store_txn_t *txn, const char *name,
                     const char *role, const char *tenant,
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
    if (s_role_rank (role) == 0) {
        snprintf (error, WEFT_TEXT_MAX + 1, "role must be viewer, operator or admin");
        return WEFT_STATUS_BAD_REQUEST;
    }
    if (*tenant && !registry_name_valid (tenant)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "invalid tenant");
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
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.kind = CERT_KIND_OPERATOR;
    snprintf (cert.subject, sizeof cert.subject, "%s", name);
    snprintf (cert.tenant, sizeof cert.tenant, "%s", tenant);
    snprintf (cert.role, sizeof cert.role, "%s", role);
    memcpy (cert.sign_key, sign_key, 32);
    memcpy (cert.curve_key, curve_key, 32);
    if (pki_issue (pki, txn, &cert, now_s, cert_p, cert_size_p)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "cannot issue certificate");
        return WEFT_STATUS_INTERNAL;
    }
    char sign_hex [65], curve_hex [65];
    keys_hex (sign_key, 32, sign_hex);
    keys_hex (curve_key, 32, curve_hex);
    json_t *record = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}",
        "name", name, "role", role, "tenant", tenant, "sign_key", sign_hex,
        "curve_key", curve_hex, "cert_serial", (json_int_t) cert.serial,
        "created", (json_int_t) now_s);
    int rc = registry_operator_put (txn, record);
    json_decref (record);
    if (rc) {
        free (*cert_p);
        *cert_p = NULL;
        snprintf (error, WEFT_TEXT_MAX + 1, "store write failed");
        return WEFT_STATUS_INTERNAL;
    }
    *serial_p = cert.serial;
    error [0] = 0;
    return WEFT_STATUS_OK;
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
    assert (streq (rig.result.error, "role must be viewer, operator or admin"));
    store_txn_t *txn = store_begin (rig.store, false);
    char *name = registry_operator_by_curve (txn, op.curve_public);
    store_abort (&txn);
    assert (name && streq (name, "bob"));
    free (name);
    if (verbose)
        printf ("last error '%s' ", rig.result.error);

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
