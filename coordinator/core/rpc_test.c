/*  rpc_test - selftest of the operator methods: the authorization
    matrix and argument checks, run through rpc_call on a real store
    in a temporary directory.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "coordinator/core/rpc_internal.h"
#include "coordinator/core/attest.h"

//  --------------------------------------------------------------------------
//  Selftest: the authorization matrix and argument checks

typedef struct {
    store_t *store;
    rpc_env_t env;
    rpc_result_t result;
} s_rig_t;

//  Call as caller in a write transaction, committed unless the call
//  failed with INTERNAL. Returns the status; the result stays in
//  rig->result.
static int
s_call_as (s_rig_t *rig, const rpc_caller_t *caller, const char *method, const char *args)
{
    rpc_result_clear (&rig->result);
    store_txn_t *txn = store_begin (rig->store, true);
    assert (txn);
    rpc_call (&rig->env, txn, caller, method, args, args? strlen (args): 0,
              1700000000000ULL, &rig->result);
    if (rig->result.status == WEFT_STATUS_INTERNAL)
        store_abort (&txn);
    else
        assert (store_commit (&txn) == 0);
    return rig->result.status;
}

//  Call as an operator of a tenant with one grant: role on the tenant
static int
s_call (s_rig_t *rig, const char *name, const char *role, const char *tenant,
        const char *method, const char *args)
{
    rpc_caller_t caller;
    memset (&caller, 0, sizeof caller);
    snprintf (caller.name, sizeof caller.name, "%s", name);
    snprintf (caller.tenant, sizeof caller.tenant, "%s", tenant);
    snprintf (caller.grants [0].role, sizeof caller.grants [0].role, "%s", role);
    snprintf (caller.grants [0].path, sizeof caller.grants [0].path, "%s", tenant);
    caller.grant_count = 1;
    return s_call_as (rig, &caller, method, args);
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
    return s_call_as (rig, &caller, method, args);
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
        const char *id = json_is_string (item)? json_string_value (item): rpc_json_str (item, "id");
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

//  Store an attestation verdict, passed or failed, for device id
static void
s_verdict (s_rig_t *rig, const char *id, bool ok)
{
    store_txn_t *txn = store_begin (rig->store, true);
    json_t *device = registry_device_get (txn, id);
    assert (device);
    json_t *verdict = json_pack ("{s:s, s:b, s:I, s:I, s:s, s:i, s:i}", "device", id, "ok", ok,
        "time", (json_int_t) 1700000000, "time_ms", (json_int_t) 1700000000000,
        "reason", ok? "": "PCR 7 does not match", "pcr", ok? -1: 7, "event", -1);
    assert (attest_verdict_put (txn, device, verdict, NULL) == 0);
    assert (store_commit (&txn) == 0);
    json_decref (verdict);
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
    assert (streq (rpc_json_str (rig.result.result, "tenant"), "globex"));
    assert (streq (rpc_json_str (rig.result.result, "assurance"), "software"));
    assert (s_call (&rig, "v", "viewer", "", "coord.stats", "{}") == WEFT_STATUS_OK);
    assert (rpc_json_int (rig.result.result, "rpc_calls") == 7);
    assert (rpc_json_int (rig.result.result, "devices") == 2);

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
    assert (streq (rpc_json_str (json_array_get (devices, 0), "id"), "dev-a"));
    assert (s_call (&rig, "t", "viewer", "acme", "coord.stats", "{}") == WEFT_STATUS_FORBIDDEN);
    assert (s_call (&rig, "t", "admin", "acme", "token.create", "{\"tenant\":\"globex\"}")
            == WEFT_STATUS_FORBIDDEN);
    assert (streq (rig.result.error, "tenant globex is outside your scope"));

    //  Twin set and get, merge patch semantics, versions
    assert (s_call (&rig, "t", "operator", "acme", "twin.set",
                    "{\"id\":\"dev-a\",\"patch\":{\"led\":\"on\",\"rate\":5}}") == WEFT_STATUS_OK);
    assert (rpc_json_int (rig.result.result, "desired_version") == 1);
    assert (streq (rig.result.push, "dev-a"));
    assert (s_call (&rig, "t", "operator", "acme", "twin.set",
                    "{\"id\":\"dev-a\",\"patch\":{\"rate\":null}}") == WEFT_STATUS_OK);
    assert (rpc_json_int (rig.result.result, "desired_version") == 2);
    assert (s_call (&rig, "t", "viewer", "acme", "twin.get", "{\"id\":\"dev-a\"}")
            == WEFT_STATUS_OK);
    json_t *desired = json_object_get (rig.result.result, "desired");
    assert (json_object_size (desired) == 1);
    assert (streq (rpc_json_str (desired, "led"), "on"));
    assert (rpc_json_int (rig.result.result, "desired_version") == 2);
    assert (rig.result.push [0] == 0);

    //  Numbers keep the text the operator wrote (the shortest text that
    //  reads back as the same double), in the store, in twin.get and in
    //  batch.twin: 0.1 never comes back as 0.10000000000000001
    assert (s_call (&rig, "t", "operator", "acme", "twin.set",
                    "{\"id\":\"dev-a\",\"patch\":{\"gain\":0.1,\"list\":[2.5e-7,1.0,1e16],"
                    "\"n\":{\"x\":0.3}}}") == WEFT_STATUS_OK);
    char *text = registry_dump (rig.result.result);
    assert (strstr (text, "\"desired\":{\"gain\":0.1,\"led\":\"on\","
                          "\"list\":[2.5e-7,1.0,1e16],\"n\":{\"x\":0.3}}"));
    free (text);
    assert (s_call (&rig, "t", "viewer", "acme", "twin.get", "{\"id\":\"dev-a\"}")
            == WEFT_STATUS_OK);
    text = registry_dump (json_object_get (rig.result.result, "desired"));
    assert (streq (text, "{\"gain\":0.1,\"led\":\"on\",\"list\":[2.5e-7,1.0,1e16],"
                         "\"n\":{\"x\":0.3}}"));
    free (text);
    store_txn_t *number_txn = store_begin (rig.store, false);
    size_t stored_size;
    char *stored = (char *) store_get (number_txn, "twins", "dev-a", 5, &stored_size);
    store_abort (&number_txn);
    //  Stored as the double itself (msgpack float 64), not as text
    assert (stored && memmem (stored, stored_size, "\xa4gain\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a",
                              14));
    free (stored);
    assert (s_call (&rig, "t", "operator", "acme", "batch.twin",
                    "{\"query\":\"id=dev-a\",\"patch\":{\"gain\":0.7,\"list\":null,\"n\":null}}")
            == WEFT_STATUS_OK);
    assert (s_call (&rig, "t", "viewer", "acme", "twin.get", "{\"id\":\"dev-a\"}")
            == WEFT_STATUS_OK);
    text = registry_dump (json_object_get (rig.result.result, "desired"));
    assert (streq (text, "{\"gain\":0.7,\"led\":\"on\"}"));
    free (text);
    assert (s_call (&rig, "t", "operator", "acme", "twin.set",
                    "{\"id\":\"dev-a\",\"patch\":{\"gain\":null}}") == WEFT_STATUS_OK);

    //  Argument checks. A patch that is not an object would replace the
    //  whole document (RFC 7386 section 2); a desired twin is an object
    const char *replacements [] = { "[1]", "null", "\"x\"", "7", "0.5", "true" };
    for (size_t i = 0; i < sizeof replacements / sizeof replacements [0]; i++) {
        char args [128];
        snprintf (args, sizeof args, "{\"id\":\"dev-a\",\"patch\":%s}", replacements [i]);
        assert (s_call (&rig, "a", "admin", "", "twin.set", args) == WEFT_STATUS_BAD_REQUEST);
        assert (streq (rig.result.error, RPC_PATCH_NOT_OBJECT));
        assert (rig.result.push [0] == 0);
        snprintf (args, sizeof args, "{\"query\":\"id=dev-a\",\"patch\":%s}", replacements [i]);
        assert (s_call (&rig, "a", "admin", "", "batch.twin", args) == WEFT_STATUS_BAD_REQUEST);
        assert (streq (rig.result.error, RPC_PATCH_NOT_OBJECT));
    }
    assert (s_call (&rig, "t", "viewer", "acme", "twin.get", "{\"id\":\"dev-a\"}")
            == WEFT_STATUS_OK);
    assert (rpc_json_int (rig.result.result, "desired_version") == 5);
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
    assert (streq (rig.result.error, "id must be a name of 1-64 characters A-Z a-z 0-9 . _ -"));
    assert (s_call (&rig, "a", "admin", "", "batch.move",
                    "{\"query\":\"type=gateway\",\"path\":\"acme//x\"}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "path must be a hierarchy path like acme/plant-2/line-7"));
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
    assert (rpc_json_int (rig.result.result, "desired_version") == 5);
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
    assert (strncmp (rpc_json_str (rig.result.result, "token"), "wt1.", 4) == 0);
    assert (rpc_json_int (rig.result.result, "expires") == 1700000000 + 60);
    assert (s_call (&rig, "t", "admin", "acme", "token.create", "{}") == WEFT_STATUS_OK);
    assert (streq (rpc_json_str (rig.result.result, "tenant"), "acme"));

    //  Operators
    keys_t op;
    keys_generate (&op);
    char sign_hex [65], curve_hex [65], add [400];
    keys_hex (op.sign_public, 32, sign_hex);
    keys_hex (op.curve_public, 32, curve_hex);
    snprintf (add, sizeof add, "{\"name\":\"bob\",\"role\":\"viewer\",\"tenant\":\"acme\","
              "\"sign_key\":\"%s\",\"curve_key\":\"%s\"}", sign_hex, curve_hex);
    assert (s_call (&rig, "a", "admin", "", "operator.add", add) == WEFT_STATUS_OK);
    assert (rpc_json_int (rig.result.result, "serial") >= 1);
    const char *cert_hex = rpc_json_str (rig.result.result, "cert");
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
    assert (streq (rig.result.error, "operator name bob is not available"));
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
    assert (rpc_json_int (rig.result.result, "received") == 1);
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
    assert (rpc_json_int (rig.result.result, "received") == 0);
    assert (s_call_grant (&rig, "admin", "", "hierarchy.import",
        "{\"upload\":{\"id\":\"00aa00bb\",\"part\":1},\"doc\":{}}") == WEFT_STATUS_BAD_REQUEST);
    //  A token may place the device (into its certificate): inside the
    //  tenant and the caller's scope, on a node that exists
    assert (s_call_grant (&rig, "admin", "acme", "token.create",
                          "{\"path\":\"acme/plant-2\"}") == WEFT_STATUS_OK);
    assert (streq (rpc_json_str (rig.result.result, "tenant"), "acme"));
    assert (streq (rpc_json_str (rig.result.result, "path"), "acme/plant-2"));
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
    assert (streq (rpc_json_str (rig.result.result, "path"), "acme/plant-1"));
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
    assert (rpc_json_int (rig.result.result, "count") == 2);
    assert (s_call_grant (&rig, "viewer", "", "device.list", "{\"query\":\"fw<\"}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "query: column 4: expected a value after '<'"));
    assert (s_call_grant (&rig, "viewer", "", "device.list", "{\"limit\":1}") == WEFT_STATUS_OK);
    assert (json_is_true (json_object_get (rig.result.result, "truncated")));
    assert (rpc_json_int (rig.result.result, "total") == 4);
    assert (s_call_grant (&rig, "viewer", "acme", "device.list", "{\"limit\":1}") == WEFT_STATUS_OK);
    assert (json_is_true (json_object_get (rig.result.result, "truncated")));
    assert (json_object_get (rig.result.result, "total") == NULL);
    assert (s_call_grant (&rig, "viewer", "acme", "device.list",
                          "{\"limit\":1,\"query\":\"tenant=acme\"}") == WEFT_STATUS_OK);
    assert (rpc_json_int (rig.result.result, "total") == 3);

    //  Tenant isolation, every method: globex's dev-b answers exactly as
    //  a missing device to an admin of acme, and never shows in a list
    //  (its failed attestation verdict included)
    s_verdict (&rig, "dev-a", true);
    s_verdict (&rig, "dev-b", false);
    const char *methods [] = { "device.show", "twin.get", "twin.set", "device.set",
                               "attest.show", "attest.clear", NULL };
    const char *extra [] = { "", "", ",\"patch\":{\"a\":1}", ",\"fw\":\"9\"", "", "" };
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
        assert (rpc_json_int (rig.result.result, "count") == 0);
    }
    assert (s_call_grant (&rig, "admin", "acme", "attest.status", NULL) == WEFT_STATUS_OK);
    assert (rpc_json_int (rig.result.result, "verdicts") == 1);
    assert (rpc_json_int (rig.result.result, "failed") == 0);
    char *status = json_dumps (rig.result.result, 0);
    assert (!strstr (status, "dev-b"));
    free (status);
    assert (s_call_grant (&rig, "admin", "acme", "attest.show", "{\"id\":\"dev-a\"}")
            == WEFT_STATUS_OK);
    assert (streq (rpc_json_str (rig.result.result, "state"), "fresh"));
    assert (s_call_grant (&rig, "admin", "globex", "attest.show", "{\"id\":\"dev-b\"}")
            == WEFT_STATUS_OK);
    assert (streq (rpc_json_str (rig.result.result, "state"), "failed"));   //  Not cleared
    assert (s_call_grant (&rig, "admin", "acme", "hierarchy.export", "{}") == WEFT_STATUS_OK);
    text = registry_dump (rig.result.result);
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
    assert (rpc_json_int (rig.result.result, "matched") == 1);
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
    assert (rpc_json_int (rig.result.result, "count") == 0);
    assert (s_call_grant (&rig, "operator", "acme", "batch.tag",
        "{\"query\":\"path^=acme/\",\"tags\":{\"campaign\":\"c1\",\"line\":null}}")
            == WEFT_STATUS_OK);
    assert (s_call_grant (&rig, "viewer", "", "device.count",
        "{\"query\":\"tag.campaign=c1 and not tag.line\"}") == WEFT_STATUS_OK);
    assert (rpc_json_int (rig.result.result, "count") == 2);
    assert (s_call_grant (&rig, "operator", "acme", "batch.move",
        "{\"query\":\"tag.campaign=c1\",\"path\":\"acme/plant-2\"}") == WEFT_STATUS_OK);
    assert (s_call_grant (&rig, "viewer", "", "device.count", "{\"query\":\"site=plant-2\"}")
            == WEFT_STATUS_OK);
    assert (rpc_json_int (rig.result.result, "count") == 2);
    //  One device that cannot move refuses the whole batch
    assert (s_call_grant (&rig, "admin", "", "batch.move",
        "{\"query\":\"type=gateway\",\"path\":\"acme/plant-1\"}") == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig.result.error, "path acme/plant-1 is outside the tenant of dev-b"));
    assert (s_call_grant (&rig, "viewer", "", "device.count", "{\"query\":\"site=plant-2\"}")
            == WEFT_STATUS_OK);
    assert (rpc_json_int (rig.result.result, "count") == 2);
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
    assert (streq (rig.result.error, "your roles on acme/plant-2 may not grant operator "
                                     "(docs/security.md, role map)"));
    assert (s_call_grant (&rig, "admin", "acme/plant-1", "operator.add", add)
            == WEFT_STATUS_FORBIDDEN);
    assert (s_call_grant (&rig, "admin", "acme", "operator.add", add) == WEFT_STATUS_OK);
    assert (streq (rpc_json_str (rig.result.result, "path"), "acme/plant-2"));
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
    assert (rpc_json_int (rig.result.result, "revocations_version") == 1);
    assert (s_call_grant (&rig, "admin", "", "device.revoke", "{\"id\":\"dev-p1\"}")
            == WEFT_STATUS_OK);
    assert (rpc_json_int (rig.result.result, "revocations_version") == 1);

    //  A credential lists every grant; its validity is the ttl asked
    assert (s_call (&rig, "sam", "viewer", "", "operator.credential", "{\"ttl\":600}")
            == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (rig.result.result, "grants")) == 2);
    cert_hex = rpc_json_str (rig.result.result, "cert");
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
    assert (rpc_json_int (rig.result.result, "revocations_version") == 2);
    assert (s_call_grant (&rig, "admin", "acme", "operator.revoke", "{\"name\":\"sam\"}")
            == WEFT_STATUS_OK);
    assert (rpc_json_int (rig.result.result, "revocations_version") == 2);
    txn = store_begin (rig.store, false);
    sam = registry_operator_get (txn, "sam");
    store_abort (&txn);
    assert (json_is_true (json_object_get (sam, "revoked")));
    json_decref (sam);

    //  Audit: changes and refusals recorded, chain intact, scoped reads
    assert (s_call_grant (&rig, "operator", "acme", "audit.list", "{}") == WEFT_STATUS_FORBIDDEN);
    assert (s_call_grant (&rig, "auditor", "", "audit.verify", "{}") == WEFT_STATUS_OK);
    assert (json_is_true (json_object_get (rig.result.result, "intact")));
    assert (rpc_json_int (rig.result.result, "records") > 20);
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
        assert (strncmp (rpc_json_str (record, "scope"), "acme/plant-2", 12) == 0);
    //  Reads are not recorded; refusals are
    assert (s_call_grant (&rig, "auditor", "", "audit.list",
        "{\"query\":\"action=device.list\"}") == WEFT_STATUS_OK);
    records = json_object_get (rig.result.result, "records");
    json_array_foreach (records, index, record)
        assert (!streq (rpc_json_str (record, "status"), "OK"));

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
