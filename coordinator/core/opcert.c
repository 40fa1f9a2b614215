/*  opcert - the operator credentials the coordinator's CA issues
    The first grant also fills the certificate's role, tenant and path
    fields (the path only if it fits their 64 bytes), which is what a
    reader from before the grant list authorises from.  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/opcred.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/opcert.h"

_Static_assert (CERT_PATH_MAX >= 255, "a certificate holds any hierarchy path");

static const char *
s_str (json_t *object, const char *key)
{
    const char *value = json_string_value (json_object_get (object, key));
    return value? value: "";
}

json_t *
opcert_grants (json_t *op)
{
    json_t *grants = json_object_get (op, "grants");
    if (json_is_array (grants))
        return json_deep_copy (grants);
    return json_pack ("[{s:s, s:s}]", "role", s_str (op, "role"), "path", s_str (op, "tenant"));
}

int
opcert_fill (cert_t *cert, json_t *op, char error [WEFT_TEXT_MAX + 1])
{
    assert (cert && op);
    memset (cert, 0, sizeof *cert);
    const char *name = s_str (op, "name");
    cert->kind = CERT_KIND_OPERATOR;
    snprintf (cert->subject, sizeof cert->subject, "%s", name);
    if (!*name || strlen (name) > WEFT_NAME_MAX
    ||  keys_unhex (s_str (op, "sign_key"), cert->sign_key, WEFT_KEY_SIZE)
    ||  keys_unhex (s_str (op, "curve_key"), cert->curve_key, WEFT_KEY_SIZE)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "operator record %.64s is damaged", name);
        return -1;
    }
    json_t *grants = opcert_grants (op);
    size_t index;
    json_t *grant;
    json_array_foreach (grants, index, grant) {
        const char *role = s_str (grant, "role");
        const char *path = s_str (grant, "path");
        if (cert->grant_count == CERT_GRANTS_MAX)
            break;
        if (opcred_role_perms (role) == 0 || !cert_path_valid (path))
            continue;
        cert_grant_t *slot = &cert->grants [cert->grant_count++];
        snprintf (slot->role, sizeof slot->role, "%s", role);
        snprintf (slot->path, sizeof slot->path, "%s", path);
    }
    json_decref (grants);
    if (cert->grant_count == 0) {
        snprintf (error, WEFT_TEXT_MAX + 1, "operator %s holds no grant", name);
        return -1;
    }
    const cert_grant_t *first = &cert->grants [0];
    size_t tenant_size = strcspn (first->path, "/");
    snprintf (cert->tenant, sizeof cert->tenant, "%.*s", (int) tenant_size, first->path);
    snprintf (cert->role, sizeof cert->role, "%s", first->role);
    size_t path_size = strlen (first->path);
    if (path_size <= WEFT_NAME_MAX)
        memcpy (cert->path, first->path, path_size + 1);
    return 0;
}

int
opcert_issue (pki_t *pki, store_txn_t *txn, json_t *op, uint64_t now_s,
              uint64_t validity_s, uint8_t **cert_p, size_t *size_p,
              uint64_t *serial_p, char error [WEFT_TEXT_MAX + 1])
{
    assert (pki && txn && op && cert_p && size_p && serial_p);
    *cert_p = NULL;
    cert_t cert;
    if (opcert_fill (&cert, op, error))
        return WEFT_STATUS_CONFLICT;
    if (pki_issue_valid (pki, txn, &cert, now_s, validity_s, cert_p, size_p)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "cannot issue certificate");
        return WEFT_STATUS_INTERNAL;
    }
    json_object_set_new (op, "cert_serial", json_integer ((json_int_t) cert.serial));
    *serial_p = cert.serial;
    error [0] = 0;
    return WEFT_STATUS_OK;
}

//  --------------------------------------------------------------------------
//  Selftest

void
opcert_test (bool verbose)
{
    printf (" * opcert: ");
    (void) verbose;
    //  @selftest
    char dir [] = "/tmp/weft-opcert-test-XXXXXX";
    assert (mkdtemp (dir));
    store_t *store = store_new (dir, registry_tables (), 0);
    assert (store);
    keys_t ca, op_keys;
    keys_generate (&ca);
    keys_generate (&op_keys);
    pki_t *pki = pki_new (&ca);
    char sign_hex [65], curve_hex [65], error [WEFT_TEXT_MAX + 1];
    keys_hex (op_keys.sign_public, 32, sign_hex);
    keys_hex (op_keys.curve_public, 32, curve_hex);
    const uint64_t now = 1767225600;

    //  Every grant is in the credential; a corrupt one is left out
    json_t *op = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}",
        "name", "pete", "role", "operator", "tenant", "acme",
        "sign_key", sign_hex, "curve_key", curve_hex, "grants",
        "role", "operator", "path", "acme/plant-2",
        "role", "root", "path", "acme",
        "role", "viewer", "path", "acme/plant-1/line-3",
        "role", "auditor", "path", "globex");
    store_txn_t *txn = store_begin (store, true);
    uint8_t *data;
    size_t size;
    uint64_t serial;
    assert (opcert_issue (pki, txn, op, now, 3600, &data, &size, &serial, error) == 0);
    assert (serial == 1 && json_integer_value (json_object_get (op, "cert_serial")) == 1);
    cert_t cred;
    assert (opcred_verify (&cred, data, size, ca.sign_public, now, NULL, 0, NULL) == OPCRED_OK);
    assert (cred.grant_count == 3 && cred.not_after == now + 3600);
    assert (streq (cred.role, "operator") && streq (cred.tenant, "acme")
            && streq (cred.path, "acme/plant-2"));
    assert (memcmp (cred.curve_key, op_keys.curve_public, 32) == 0);
    assert (opcred_may (&cred, "viewer", "acme", "acme/plant-1/line-3/x", NULL) == OPCRED_OK);
    assert (opcred_may (&cred, "auditor", "globex", "", NULL) == OPCRED_OK);
    assert (opcred_may (&cred, "viewer", "acme", "acme", NULL) == OPCRED_NOT_GRANTED);
    assert (opcred_verify (&cred, data, size, ca.sign_public, now + 3601, NULL, 0, NULL)
            == OPCRED_EXPIRED);
    free (data);

    //  A record from before grants: its role on its tenant
    json_object_del (op, "grants");
    assert (opcert_issue (pki, txn, op, now, 3600, &data, &size, &serial, error) == 0);
    assert (serial == 2);
    assert (opcred_verify (&cred, data, size, ca.sign_public, now, NULL, 0, NULL) == OPCRED_OK);
    assert (cred.grant_count == 1 && streq (cred.grants [0].path, "acme"));
    free (data);

    //  No usable grant, or damaged keys: refused, no serial taken
    json_object_set_new (op, "grants", json_pack ("[{s:s, s:s}]", "role", "root", "path", ""));
    assert (opcert_issue (pki, txn, op, now, 3600, &data, &size, &serial, error)
            == WEFT_STATUS_CONFLICT);
    assert (streq (error, "operator pete holds no grant") && data == NULL);
    json_object_set_new (op, "grants", json_array ());
    assert (opcert_issue (pki, txn, op, now, 3600, &data, &size, &serial, error)
            == WEFT_STATUS_CONFLICT);
    json_object_set_new (op, "grants", json_pack ("[{s:s, s:s}]", "role", "viewer", "path", ""));
    json_object_set_new (op, "curve_key", json_string ("zz"));
    assert (opcert_issue (pki, txn, op, now, 3600, &data, &size, &serial, error)
            == WEFT_STATUS_CONFLICT);
    assert (strstr (error, "damaged"));
    assert (registry_meta_get (txn, "serial") == 2);
    store_abort (&txn);
    json_decref (op);

    //  A long path: in the list, not in the 64-byte path field
    cert_t cert;
    char long_path [200];
    snprintf (long_path, sizeof long_path, "acme/%060d/%060d", 1, 2);
    op = json_pack ("{s:s, s:s, s:s, s:[{s:s, s:s}]}", "name", "lea", "sign_key", sign_hex,
                    "curve_key", curve_hex, "grants", "role", "viewer", "path", long_path);
    assert (opcert_fill (&cert, op, error) == 0);
    assert (streq (cert.grants [0].path, long_path) && cert.path [0] == 0);
    assert (streq (cert.tenant, "acme"));
    json_decref (op);

    pki_destroy (&pki);
    store_destroy (&store);
    zdir_t *tmp = zdir_new (dir, NULL);
    zdir_remove (tmp, true);
    zdir_destroy (&tmp);
    keys_wipe (&ca);
    keys_wipe (&op_keys);
    //  @end
    printf ("OK\n");
}
