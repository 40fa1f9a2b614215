/*  relroot_test - selftest of the tenants' release roots: the store's
    checks, release.root.set and show across tenants (rpc_call), the
    artifact.* methods across tenants, and the root a device gets at
    enrolment (coord_on_enrol), on a real store.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "proto/msg.h"
#include "proto/envelope.h"
#include "proto/seal.h"
#include "proto/release_fixture.h"
#include "coordinator/core/coord.h"
#include "coordinator/core/relroot.h"
#include "coordinator/core/rpc_internal.h"
#include "coordinator/core/tokens.h"
#include "coordinator/core/artrepo.h"

#define S_NOW       FIXTURE_NOW
#define S_EXPIRES   (FIXTURE_NOW + 30 * FIXTURE_DAY)

//  --------------------------------------------------------------------------
//  The store's checks

static int
s_collect (void *arg, uint64_t version, const uint8_t *root, size_t size)
{
    assert (root && size);
    char *out = (char *) arg;
    size_t len = strlen (out);
    snprintf (out + len, 64 - len, "%" PRIu64 " ", version);
    return 0;
}

static void
s_test_store (store_t *store, const release_fixture_t *k)
{
    store_txn_t *txn = store_begin (store, true);
    char error [WEFT_TEXT_MAX + 1];
    size_t size;
    release_root_t decoded;
    //  Refused before anything is stored: short of its own threshold,
    //  expired, another tenant's, not a root, garbage, no tenant
    uint8_t *root = release_fixture_root (k, 1, S_EXPIRES, k->root, 1, k->root, &size);
    assert (relroot_set (txn, "acme", root, size, S_NOW, NULL, error, sizeof error) == -1);
    assert (strstr (error, "threshold"));
    free (root);
    root = release_fixture_root (k, 1, S_NOW, k->root, 2, k->root, &size);
    assert (relroot_set (txn, "acme", root, size, S_NOW, NULL, error, sizeof error) == -1);
    assert (strstr (error, "expired"));
    free (root);
    root = release_fixture_root (k, 1, S_EXPIRES, k->root, 2, k->root, &size);
    assert (relroot_set (txn, "globex", root, size, S_NOW, NULL, error, sizeof error) == -1);
    assert (streq (error, "the root is tenant acme's, not globex's"));
    assert (relroot_set (txn, "", root, size, S_NOW, NULL, error, sizeof error) == -1);
    assert (relroot_set (txn, "acme", root, size - 1, S_NOW, NULL, error, sizeof error) == -1);
    assert (strstr (error, "not a signed release root"));
    uint8_t body [4] = { 0x94, 1, 2, 3 };
    size_t other_size;
    uint8_t *other = release_fixture_sign (RELEASE_TARGETS, body, sizeof body, k->targets, 2,
                                           &other_size);
    assert (relroot_set (txn, "acme", other, other_size, S_NOW, NULL, error, sizeof error)
            == -1);
    free (other);
    assert (relroot_get (txn, "acme", &other_size) == NULL && other_size == 0);

    //  The first root; the same again changes nothing
    assert (relroot_set (txn, "acme", root, size, S_NOW, &decoded, error, sizeof error) == 0);
    assert (decoded.version == 1 && streq (decoded.tenant, "acme"));
    assert (relroot_set (txn, "acme", root, size, S_NOW, NULL, error, sizeof error) == 1);

    //  Rotations: the next version only, vouched for by the stored root
    keys_t fresh [3] = { k->rogue, k->coord, k->snapshot };
    uint8_t *v3 = release_fixture_root (k, 3, S_EXPIRES, k->root, 2, k->root, &other_size);
    assert (relroot_set (txn, "acme", v3, other_size, S_NOW, NULL, error, sizeof error) == -1);
    assert (streq (error, "root version 3 does not follow the stored version 1: "
                          "set version 2 first"));
    free (v3);
    uint8_t *forged = release_fixture_root (k, 2, S_EXPIRES, fresh, 2, fresh, &other_size);
    assert (relroot_set (txn, "acme", forged, other_size, S_NOW, NULL, error, sizeof error)
            == -1);
    assert (strstr (error, "does not follow from the stored version 1"));
    assert (strstr (error, "threshold"));
    free (forged);
    //  Signed by two old root keys and two of its own: root[1], root[2]
    //  carry over, the rogue key joins
    keys_t next_keys [3] = { k->root [1], k->root [2], k->rogue };
    uint8_t *v2 = release_fixture_root (k, 2, S_EXPIRES, next_keys, 2, next_keys, &other_size);
    assert (relroot_set (txn, "acme", v2, other_size, S_NOW, &decoded, error, sizeof error)
            == 0);
    assert (decoded.version == 2);
    assert (relroot_set (txn, "acme", root, size, S_NOW, NULL, error, sizeof error) == -1);
    assert (streq (error, "root version 1 is not newer than the stored version 2"));
    size_t got_size;
    uint8_t *got = relroot_get (txn, "acme", &got_size);
    assert (got && got_size == other_size && memcmp (got, v2, got_size) == 0);
    free (got);
    char versions [64] = "";
    assert (relroot_each (txn, "acme", s_collect, versions) == 2);
    assert (streq (versions, "1 2 "));
    versions [0] = 0;
    assert (relroot_each (txn, "globex", s_collect, versions) == 0);
    assert (!relroot_get (txn, "globex", &got_size));
    free (v2);
    free (root);
    store_abort (&txn);
}

//  --------------------------------------------------------------------------
//  release.root.set and show: an admin of the tenant sets, readers of
//  the tenant read, no one of another tenant does either

typedef struct {
    store_t *store;
    rpc_env_t env;
    rpc_result_t result;
} s_rig_t;

static int
s_call (s_rig_t *rig, const char *role, const char *path, const char *method,
        const char *args)
{
    rpc_caller_t caller;
    memset (&caller, 0, sizeof caller);
    snprintf (caller.name, sizeof caller.name, "%s-%s", role, *path? path: "all");
    rpc_tenant_of (path, caller.tenant);
    snprintf (caller.grants [0].role, sizeof caller.grants [0].role, "%s", role);
    snprintf (caller.grants [0].path, sizeof caller.grants [0].path, "%s", path);
    caller.grant_count = 1;
    rpc_result_clear (&rig->result);
    store_txn_t *txn = store_begin (rig->store, true);
    rpc_call (&rig->env, txn, &caller, method, args, strlen (args), S_NOW, &rig->result);
    if (rig->result.status == WEFT_STATUS_INTERNAL)
        store_abort (&txn);
    else
        assert (store_commit (&txn) == 0);
    return rig->result.status;
}

//  {"tenant": tenant, "root": hex of root}, caller frees
static char *
s_set_args (const char *tenant, const uint8_t *root, size_t size)
{
    char *hex = (char *) zmalloc (2 * size + 1);
    keys_hex (root, size, hex);
    char *args = zsys_sprintf ("{\"tenant\":\"%s\",\"root\":\"%s\"}", tenant, hex);
    free (hex);
    return args;
}

static void
s_test_rpc (s_rig_t *rig, const release_fixture_t *k)
{
    size_t size, globex_size;
    uint8_t *root = release_fixture_root (k, 1, S_EXPIRES, k->root, 2, k->root, &size);
    uint8_t *globex = release_fixture_root_of (k, "globex", 1, S_EXPIRES, k->root, 2, k->root,
                                               &globex_size);
    char *acme_args = s_set_args ("acme", root, size);
    char *globex_args = s_set_args ("globex", globex, globex_size);
    //  An admin of globex cannot set acme's root, nor one below a
    //  tenant's root, nor an operator of acme
    assert (s_call (rig, "admin", "globex", "release.root.set", acme_args)
            == WEFT_STATUS_FORBIDDEN);
    assert (strstr (rig->result.error, "set by an admin of its root (acme)"));
    assert (s_call (rig, "admin", "acme/plant-1", "release.root.set", acme_args)
            == WEFT_STATUS_FORBIDDEN);
    assert (s_call (rig, "operator", "acme", "release.root.set", acme_args)
            == WEFT_STATUS_FORBIDDEN);
    //  Nor can globex's admin pass acme's root off as globex's
    char *smuggled = s_set_args ("globex", root, size);
    assert (s_call (rig, "admin", "globex", "release.root.set", smuggled)
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig->result.error, "the root is tenant acme's, not globex's"));
    free (smuggled);
    assert (s_call (rig, "admin", "acme", "release.root.show", "{}") == WEFT_STATUS_NOT_FOUND);
    //  Bad arguments
    assert (s_call (rig, "admin", "acme", "release.root.set", "{\"root\":\"zz\"}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig->result.error, "root: not hex"));
    assert (s_call (rig, "admin", "acme", "release.root.set", "{\"root\":\"abc\"}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (s_call (rig, "admin", "acme", "release.root.set", "{\"root\":\"00\",\"x\":1}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (s_call (rig, "admin", "", "release.root.set", "{\"root\":\"00\"}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (rig->result.error, "tenant: name the tenant (--tenant T)"));

    //  Set by acme's admin (tenant from its grant), and by a global admin
    char *own_args = s_set_args ("acme", root, size);
    assert (s_call (rig, "admin", "acme", "release.root.set", own_args) == WEFT_STATUS_OK);
    assert (rpc_json_int (rig->result.result, "version") == 1);
    assert (json_is_true (json_object_get (rig->result.result, "changed")));
    assert (s_call (rig, "admin", "", "release.root.set", globex_args) == WEFT_STATUS_OK);
    assert (s_call (rig, "admin", "acme", "release.root.set", own_args) == WEFT_STATUS_OK);
    assert (json_is_false (json_object_get (rig->result.result, "changed")));
    free (own_args);
    //  A rotation the stored root does not vouch for is the caller's
    //  error (BAD_REQUEST); a store that fails is the coordinator's
    keys_t fresh [3] = { k->rogue, k->coord, k->snapshot };
    size_t next_size;
    uint8_t *next = release_fixture_root (k, 2, S_EXPIRES, fresh, 2, fresh, &next_size);
    char *next_args = s_set_args ("acme", next, next_size);
    assert (s_call (rig, "admin", "acme", "release.root.set", next_args)
            == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (rig->result.error, "does not follow from the stored version 1"));
    free (next_args);
    free (next);
    next = release_fixture_root (k, 2, S_EXPIRES, k->root, 2, k->root, &next_size);
    next_args = s_set_args ("acme", next, next_size);
    store_fail_after (rig->store, 1);
    assert (s_call (rig, "admin", "acme", "release.root.set", next_args)
            == WEFT_STATUS_INTERNAL);
    store_fail_after (rig->store, 0);
    free (next_args);
    free (next);

    //  Read by a viewer of a site of acme; globex's admin sees none
    assert (s_call (rig, "viewer", "acme/plant-1", "release.root.show", "{}")
            == WEFT_STATUS_OK);
    json_t *shown = rig->result.result;
    assert (streq (rpc_json_str (shown, "tenant"), "acme"));
    assert (rpc_json_int (shown, "version") == 1);
    char *hex = (char *) zmalloc (2 * size + 1);
    keys_hex (root, size, hex);
    assert (streq (rpc_json_str (shown, "root"), hex));
    free (hex);
    json_t *root_role = json_object_get (json_object_get (shown, "roles"), "root");
    assert (rpc_json_int (root_role, "threshold") == 2);
    assert (json_array_size (json_object_get (root_role, "keys")) == 3);
    assert (json_array_size (json_object_get (shown, "signed_by")) == 2);
    assert (json_array_size (json_object_get (shown, "versions")) == 1);
    assert (s_call (rig, "admin", "globex", "release.root.show", "{\"tenant\":\"acme\"}")
            == WEFT_STATUS_NOT_FOUND);
    assert (streq (rig->result.error,
                   "tenant acme has no release root (weftctl release root set)"));
    assert (s_call (rig, "admin", "globex", "release.root.show", "{}") == WEFT_STATUS_OK);
    assert (streq (rpc_json_str (rig->result.result, "tenant"), "globex"));

    //  Audited: the set, and each refusal, in the tenant's chain
    store_txn_t *txn = store_begin (rig->store, false);
    int64_t records = store_count (txn, "audit");
    store_abort (&txn);
    assert (records >= 9);
    rpc_result_clear (&rig->result);
    free (acme_args);
    free (globex_args);
    free (root);
    free (globex);
}

//  --------------------------------------------------------------------------
//  artifact.*: an admin of the tenant uploads its releases, readers of
//  the tenant read them, no one of another tenant does either; a store
//  that fails at the end leaves the repository as it was

//  Upload data as an admin of path for tenant, in parts; the status of
//  the first refusal or of the last part
static int
s_upload (s_rig_t *rig, const char *path, const char *tenant, const uint8_t *data,
          size_t size, int fail_at_last)
{
    char *args = zsys_sprintf ("{\"tenant\":\"%s\",\"size\":%zu}", tenant, size);
    int status = s_call (rig, "admin", path, "artifact.upload", args);
    free (args);
    if (status)
        return status;
    char id [17];
    snprintf (id, sizeof id, "%s", rpc_json_str (rig->result.result, "upload"));
    char *hex = (char *) zmalloc (2 * ARTREPO_PART_MAX + 1);
    for (size_t at = 0; status == WEFT_STATUS_OK && at < size; at += ARTREPO_PART_MAX) {
        size_t part = size - at < ARTREPO_PART_MAX? size - at: ARTREPO_PART_MAX;
        keys_hex (data + at, part, hex);
        args = zsys_sprintf ("{\"upload\":\"%s\",\"offset\":%zu,\"data\":\"%s\"}", id, at, hex);
        if (fail_at_last && at + part == size)
            store_fail_after (rig->store, fail_at_last);
        status = s_call (rig, "admin", path, "artifact.part", args);
        store_fail_after (rig->store, 0);
        if (status == WEFT_STATUS_INTERNAL)
            artrepo_aborted (rig->env.repo);
        free (args);
    }
    free (hex);
    return status;
}

static int
s_visit (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    (void) arg; (void) key; (void) key_size; (void) value; (void) size;
    return 0;
}

static size_t
s_releases (s_rig_t *rig, const char *role, const char *path, const char *args)
{
    assert (s_call (rig, role, path, "artifact.list", args) == WEFT_STATUS_OK);
    return json_array_size (json_object_get (rig->result.result, "releases"));
}

static void
s_test_artifacts (s_rig_t *rig, const release_fixture_t *k)
{
    rig->env.repo = artrepo_new (rig->store);
    assert (rig->env.repo);
    size_t root_size, size;
    uint8_t *root = release_fixture_root (k, 1, S_EXPIRES, k->root, 2, k->root, &root_size);
    uint8_t hash [32];
    uint8_t *bundle = release_fixture_bundle (k, root, root_size, 1, "plc", "1.0", 80 * 1024,
                                              hash, &size);
    //  Not by another tenant's admin, an operator, or an admin below
    //  the tenant's root
    char *args = zsys_sprintf ("{\"tenant\":\"acme\",\"size\":%zu}", size);
    assert (s_call (rig, "admin", "globex", "artifact.upload", args) == WEFT_STATUS_FORBIDDEN);
    assert (strstr (rig->result.error, "managed by an admin of its root (acme)"));
    assert (s_call (rig, "operator", "acme", "artifact.upload", args) == WEFT_STATUS_FORBIDDEN);
    assert (s_call (rig, "admin", "acme/plant-1", "artifact.upload", args)
            == WEFT_STATUS_FORBIDDEN);
    free (args);
    //  Nor passed off by globex's admin as globex's: its root refuses it
    assert (s_upload (rig, "globex", "globex", bundle, size, 0) == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (rig->result.error, "another tenant"));
    //  Bad arguments
    assert (s_call (rig, "admin", "acme", "artifact.upload", "{\"size\":0}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (s_call (rig, "admin", "acme", "artifact.part",
                    "{\"upload\":\"0011223344556677\",\"offset\":0,\"data\":\"zz\"}")
            == WEFT_STATUS_BAD_REQUEST);
    assert (s_call (rig, "admin", "acme", "artifact.part",
                    "{\"upload\":\"0011223344556677\",\"offset\":0,\"data\":\"00\"}")
            == WEFT_STATUS_NOT_FOUND);

    //  The store fails as the end record is taken in: nothing is kept
    assert (s_upload (rig, "acme", "acme", bundle, size, 3) == WEFT_STATUS_INTERNAL);
    assert (s_releases (rig, "admin", "acme", "{}") == 0);
    store_txn_t *txn = store_begin (rig->store, false);
    assert (store_scan (txn, ARTREPO_TABLE, "stage/", 6, s_visit, NULL) == 0);
    store_abort (&txn);
    assert (chunkstore_count (artrepo_chunks (rig->env.repo)) == 0);

    //  acme's admin uploads; another admin cannot add parts to its upload
    args = zsys_sprintf ("{\"tenant\":\"acme\",\"size\":%zu}", size);
    assert (s_call (rig, "admin", "acme", "artifact.upload", args) == WEFT_STATUS_OK);
    char *part = zsys_sprintf ("{\"upload\":\"%s\",\"offset\":0,\"data\":\"00\"}",
                               rpc_json_str (rig->result.result, "upload"));
    assert (s_call (rig, "admin", "", "artifact.part", part) == WEFT_STATUS_NOT_FOUND);
    free (part);
    free (args);
    assert (s_upload (rig, "acme", "acme", bundle, size, 0) == WEFT_STATUS_OK);
    json_t *releases = json_object_get (rig->result.result, "releases");
    assert (json_array_size (releases) == 1);
    assert (streq (rpc_json_str (json_array_get (releases, 0), "name"), "plc"));

    //  Read by a viewer of a site of acme; globex's admin sees nothing
    assert (s_releases (rig, "viewer", "acme/plant-1", "{}") == 1);
    assert (s_call (rig, "viewer", "acme/plant-1", "artifact.show",
                    "{\"name\":\"plc\",\"version\":\"1.0\"}") == WEFT_STATUS_OK);
    char hex [65];
    keys_hex (hash, 32, hex);
    assert (streq (rpc_json_str (rig->result.result, "manifest_hash"), hex));
    assert (streq (rpc_json_str (rig->result.result, "tenant"), "acme"));
    assert (s_releases (rig, "admin", "globex", "{\"tenant\":\"acme\"}") == 0);
    assert (s_releases (rig, "admin", "globex", "{}") == 0);
    assert (s_call (rig, "admin", "globex", "artifact.show",
                    "{\"tenant\":\"acme\",\"name\":\"plc\",\"version\":\"1.0\"}")
            == WEFT_STATUS_NOT_FOUND);
    //  Removed by acme's admin only
    const char *remove = "{\"tenant\":\"acme\",\"name\":\"plc\",\"version\":\"1.0\"}";
    assert (s_call (rig, "admin", "globex", "artifact.remove", remove)
            == WEFT_STATUS_FORBIDDEN);
    assert (s_call (rig, "viewer", "acme", "artifact.remove", remove)
            == WEFT_STATUS_FORBIDDEN);
    assert (s_releases (rig, "viewer", "acme", "{}") == 1);
    assert (s_call (rig, "admin", "acme", "artifact.remove", remove) == WEFT_STATUS_OK);
    assert (s_releases (rig, "viewer", "acme", "{}") == 0);
    assert (s_call (rig, "admin", "acme", "artifact.remove", remove) == WEFT_STATUS_NOT_FOUND);
    rpc_result_clear (&rig->result);
    artrepo_destroy (&rig->env.repo);
    free (bundle);
    free (root);
}

//  --------------------------------------------------------------------------
//  Enrolment: the device gets its own tenant's newest root, or none

//  Enrol name with a fresh token of tenant; the answer's release root
//  (heap, caller frees) or NULL, in *size_p its size
static uint8_t *
s_enrol (coord_t *coord, store_t *store, const keys_t *coord_keys, const char *tenant,
         const char *name, size_t *size_p)
{
    char token [WEFT_TOKEN_MAX + 1], id [2 * TOKENS_ID_SIZE + 1];
    uint64_t expires;
    store_txn_t *txn = store_begin (store, true);
    assert (tokens_create (txn, tenant, "", "", 3600, S_NOW / 1000, coord_keys->curve_public,
                           token, id, &expires) == 0);
    assert (store_commit (&txn) == 0);
    keys_t node;
    keys_generate (&node);
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_ENROL_REQUEST;
    snprintf (msg.enrol_request.token, sizeof msg.enrol_request.token, "%s", token);
    memcpy (msg.enrol_request.sign_key, node.sign_public, 32);
    memcpy (msg.enrol_request.curve_key, node.curve_public, 32);
    uint8_t *payload, *frame, *reply;
    size_t payload_size, size, reply_size;
    assert (msg_encode (&msg, &payload, &payload_size) == 0);
    envelope_head_t head = { .type = MSG_ENROL_REQUEST, .origin = name, .seq = 1,
                             .hlc = S_NOW << 16, .hop_limit = 1 };
    assert (envelope_seal (&head, payload, payload_size, node.sign_secret, NULL,
                           &frame, &size) == 0);
    free (payload);
    char link [COORD_USER_ID_MAX + 1];
    assert (coord_admit (coord, "enrol", "192.0.2.9", node.curve_public, S_NOW, link));
    assert (coord_on_enrol (coord, link, "192.0.2.9", frame, size, S_NOW, &reply,
                            &reply_size) == 0);
    free (frame);
    envelope_t env;
    assert (envelope_decode (&env, reply, reply_size) == 0);
    assert (msg_decode (&msg, MSG_ENROL_RESPONSE, env.payload, env.payload_size) == 0);
    assert (msg.enrol_response.status == WEFT_STATUS_OK);
    *size_p = msg.enrol_response.release_root_size;
    uint8_t *root = NULL;
    if (*size_p) {
        root = (uint8_t *) zmalloc (*size_p);
        memcpy (root, msg.enrol_response.release_root, *size_p);
    }
    free (reply);
    keys_wipe (&node);
    return root;
}

static void
s_test_enrol (const char *dir, const release_fixture_t *k)
{
    store_t *store = store_new (dir, registry_tables (), 0);
    keys_t ca, keys;
    keys_generate (&ca);
    keys_generate (&keys);
    pki_t *pki = pki_new (&ca);
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.kind = CERT_KIND_COORDINATOR;
    strcpy (cert.subject, "coordinator");
    strcpy (cert.role, "coordinator");
    memcpy (cert.sign_key, keys.sign_public, 32);
    memcpy (cert.curve_key, keys.curve_public, 32);
    uint8_t *coord_cert;
    size_t coord_cert_size;
    store_txn_t *txn = store_begin (store, true);
    assert (pki_issue (pki, txn, &cert, S_NOW / 1000, &coord_cert, &coord_cert_size) == 0);
    assert (store_commit (&txn) == 0);
    pki_destroy (&pki);
    coord_effects_t effects = { NULL, NULL, NULL };
    coord_t *coord = coord_new (store, &ca, &keys, coord_cert, coord_cert_size, &effects);
    assert (coord);

    //  The roots the rpc test set: acme's, globex's; initech has none
    size_t size, acme_size, globex_size;
    uint8_t *acme = release_fixture_root (k, 1, S_EXPIRES, k->root, 2, k->root, &acme_size);
    uint8_t *globex = release_fixture_root_of (k, "globex", 1, S_EXPIRES, k->root, 2, k->root,
                                               &globex_size);
    uint8_t *got = s_enrol (coord, store, &keys, "acme", "dev-a", &size);
    assert (got && size == acme_size && memcmp (got, acme, size) == 0);
    free (got);
    got = s_enrol (coord, store, &keys, "globex", "dev-b", &size);
    assert (got && size == globex_size && memcmp (got, globex, size) == 0);
    free (got);
    got = s_enrol (coord, store, &keys, "initech", "dev-c", &size);
    assert (!got && size == 0);
    got = s_enrol (coord, store, &keys, "", "dev-d", &size);
    assert (!got && size == 0);
    free (acme);
    free (globex);
    coord_destroy (&coord);
    store_destroy (&store);
    free (coord_cert);
    keys_wipe (&ca);
    keys_wipe (&keys);
}

void
relroot_test (bool verbose)
{
    printf (" * relroot: ");
    //  @selftest
    char dir [] = "/tmp/weft-relroot-test-XXXXXX";
    assert (mkdtemp (dir));
    release_fixture_t k;
    release_fixture_keys (&k);
    s_rig_t rig;
    memset (&rig, 0, sizeof rig);
    rig.store = store_new (dir, registry_tables (), 0);
    assert (rig.store);
    s_test_store (rig.store, &k);

    keys_t ca;
    keys_generate (&ca);
    uint8_t coord_curve [32];
    randombytes_buf (coord_curve, 32);
    coord_stats_t stats;
    memset (&stats, 0, sizeof stats);
    rig.env.registry = registry_new (rig.store);
    rig.env.pki = pki_new (&ca);
    rig.env.coord_curve = coord_curve;
    rig.env.stats = &stats;
    s_test_rpc (&rig, &k);
    s_test_artifacts (&rig, &k);
    registry_destroy (&rig.env.registry);
    pki_destroy (&rig.env.pki);
    store_destroy (&rig.store);
    keys_wipe (&ca);

    s_test_enrol (dir, &k);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    if (verbose)
        printf ("(checks, rotation, rpc across tenants, enrolment) ");
    //  @end
    printf ("OK\n");
}
