/*  attest_policy - the attestation policy of each tenant (see .h)
    Tenant and type are names (registry_name_valid) or, for the tenant,
    "", so neither holds a "/" or a NUL: the keys and the signed bytes
    split one way only.  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/codec.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/attest_policy.h"
#include "coordinator/core/attest_state.h"

#define S_PROFILE_CONTEXT   "weft-profile-v2"
#define S_ALLOWLIST_CONTEXT "weft-allowlist-v2"

//  --------------------------------------------------------------------------
//  Keys and signatures

static bool
s_tenant_valid (const char *tenant)
{
    return tenant && (*tenant == 0 || registry_name_valid (tenant));
}

//  The bytes a signature covers: tenant 0x00 [type 0x00] text. Caller frees.
static uint8_t *
s_signed (const char *tenant, const char *type, const char *text, size_t size,
          size_t *signed_size_p)
{
    size_t tenant_size = strlen (tenant) + 1;
    size_t type_size = type? strlen (type) + 1: 0;
    uint8_t *bytes = (uint8_t *) zmalloc (tenant_size + type_size + size + 1);
    memcpy (bytes, tenant, tenant_size);
    if (type)
        memcpy (bytes + tenant_size, type, type_size);
    memcpy (bytes + tenant_size + type_size, text, size);
    *signed_size_p = tenant_size + type_size + size;
    return bytes;
}

static void
s_sign (pki_t *pki, const char *context, const char *tenant, const char *type,
        const char *text, size_t size, char sig_hex [129])
{
    size_t signed_size;
    uint8_t *bytes = s_signed (tenant, type, text, size, &signed_size);
    uint8_t sig [64];
    pki_sign (pki, context, bytes, signed_size, sig);
    keys_hex (sig, 64, sig_hex);
    free (bytes);
}

//  Does the record's sig verify over (tenant, type, its doc)? The doc
//  is a JSON string of size bytes.
static bool
s_verified (json_t *record, const char *context, const char *tenant, const char *type,
            const uint8_t ca_key [32], uint8_t sig_out [64])
{
    json_t *doc = json_object_get (record, "doc");
    const char *sig_hex = json_string_value (json_object_get (record, "sig"));
    uint8_t sig [64];
    if (!json_is_string (doc) || !sig_hex || strlen (sig_hex) != 128
    ||  keys_unhex (sig_hex, sig, 64))
        return false;
    size_t signed_size;
    uint8_t *bytes = s_signed (tenant, type, json_string_value (doc), json_string_length (doc),
                               &signed_size);
    bool verified = codec_verify (context, bytes, signed_size, sig, ca_key) == 0;
    free (bytes);
    if (verified && sig_out)
        memcpy (sig_out, sig, 64);
    return verified;
}

static json_t *
s_get (store_txn_t *txn, const char *format, const char *tenant, const char *name)
{
    char *key = zsys_sprintf (format, tenant, name);
    json_t *record = registry_record_get (txn, ATTEST_TABLE, key);
    free (key);
    return record;
}

static int
s_put (store_txn_t *txn, const char *format, const char *tenant, const char *name,
       json_t *record)
{
    char *key = zsys_sprintf (format, tenant, name);
    int rc = record? registry_record_put (txn, ATTEST_TABLE, key, record): -1;
    free (key);
    return rc;
}

#define S_PROFILE_KEY   "profile/%s/%s"
#define S_LIST_KEY      "allowlist/%s/%s"

//  --------------------------------------------------------------------------
//  Profiles

static bool
s_hex32 (const char *hex)
{
    uint8_t out [32];
    return hex && strlen (hex) == 64 && keys_unhex (hex, out, 32) == 0;
}

//  PCR index from a profile key "0".."23", or -1
static int
s_pcr_key (const char *key)
{
    char *end = NULL;
    long pcr = strtol (key, &end, 10);
    return *key && end && *end == 0 && pcr >= 0 && pcr < ATTEST_PCRS? (int) pcr: -1;
}

uint32_t
attest_profile_mask (json_t *profile)
{
    uint32_t mask = 0;
    const char *key;
    json_t *value;
    json_object_foreach (json_object_get (profile, "pcrs"), key, value)
        if (s_pcr_key (key) >= 0)
            mask |= 1u << s_pcr_key (key);
    return mask;
}

//  Is doc a profile? False with a reason.
static bool
s_profile_valid (json_t *doc, char *error, size_t error_size)
{
    json_t *pcrs = json_object_get (doc, "pcrs");
    if (!json_is_object (doc) || !json_is_object (pcrs) || json_object_size (pcrs) == 0) {
        snprintf (error, error_size, "a profile needs \"pcrs\": {\"N\": \"sha256 hex\", ...}");
        return false;
    }
    const char *key;
    json_t *value;
    json_object_foreach (pcrs, key, value)
        if (s_pcr_key (key) < 0 || !s_hex32 (json_string_value (value))) {
            snprintf (error, error_size, "pcrs.%.8s: want PCR 0-23 and 64 hex digits", key);
            return false;
        }
    json_t *events = json_object_get (doc, "events");
    if (events) {
        json_object_foreach (events, key, value) {
            size_t index;
            json_t *item;
            if (s_pcr_key (key) < 0 || !json_is_array (value)
            ||  json_array_size (value) > EVENTLOG_EVENTS_MAX) {
                snprintf (error, error_size, "events.%.8s: want a list of sha256 hex", key);
                return false;
            }
            json_array_foreach (value, index, item)
                if (!s_hex32 (json_string_value (item))) {
                    snprintf (error, error_size, "events.%.8s[%zu]: want 64 hex digits",
                              key, index);
                    return false;
                }
        }
    }
    json_t *interval = json_object_get (doc, "interval_s");
    if (interval && (!json_is_integer (interval) || json_integer_value (interval) < 1
                     || json_integer_value (interval) > ATTEST_INTERVAL_MAX)) {
        snprintf (error, error_size, "interval_s must be an integer from 1 to %d",
                  ATTEST_INTERVAL_MAX);
        return false;
    }
    json_t *grace = json_object_get (doc, "grace_s");
    if (grace && (!json_is_integer (grace) || json_integer_value (grace) < 1
                  || json_integer_value (grace) > ATTEST_GRACE_MAX)) {
        snprintf (error, error_size, "grace_s must be an integer from 1 to %d",
                  ATTEST_GRACE_MAX);
        return false;
    }
    json_t *required = json_object_get (doc, "require_attestation");
    if (required && !json_is_boolean (required)) {
        snprintf (error, error_size, "require_attestation must be true or false");
        return false;
    }
    json_t *ima = json_object_get (doc, "ima");
    if (ima && !json_is_boolean (ima)) {
        snprintf (error, error_size, "ima must be true or false");
        return false;
    }
    //  What a device's releases add is the coordinator's to write, per
    //  device (attest_software.h), never a tenant-wide profile's
    if (json_object_get (doc, "release_events")) {
        snprintf (error, error_size, "release_events come from the releases a device "
                  "committed: list the expected digests in events");
        return false;
    }
    if (json_is_true (ima) && json_object_get (pcrs, "10")) {
        snprintf (error, error_size, "pcrs.10: PCR 10 is IMA's (\"ima\": true), "
                  "its value is checked by replaying the IMA list");
        return false;
    }
    return true;
}

int
attest_profile_put (store_txn_t *txn, const char *tenant, const char *type, json_t *doc,
                    pki_t *pki, char *error, size_t error_size)
{
    assert (txn && tenant && type && pki && error);
    if (!s_tenant_valid (tenant)) {
        snprintf (error, error_size, "invalid tenant");
        return -1;
    }
    if (!registry_name_valid (type)) {
        snprintf (error, error_size, "invalid device type");
        return -1;
    }
    if (!s_profile_valid (doc, error, error_size))
        return -1;
    char *text = registry_dump (doc);
    char sig_hex [129];
    s_sign (pki, S_PROFILE_CONTEXT, tenant, type, text, strlen (text), sig_hex);
    json_t *record = json_pack ("{s:s, s:s, s:s, s:s}", "tenant", tenant, "type", type,
                                "doc", text, "sig", sig_hex);
    free (text);
    int rc = s_put (txn, S_PROFILE_KEY, tenant, type, record);
    json_decref (record);
    if (rc)
        snprintf (error, error_size, "store write failed");
    return rc;
}

json_t *
attest_profile_get (store_txn_t *txn, const char *tenant, const char *type,
                    const uint8_t ca_key [32])
{
    assert (txn && tenant && type && ca_key);
    if (!s_tenant_valid (tenant) || !registry_name_valid (type))
        return NULL;
    json_t *record = s_get (txn, S_PROFILE_KEY, tenant, type);
    json_t *doc = NULL;
    if (s_verified (record, S_PROFILE_CONTEXT, tenant, type, ca_key, NULL))
        doc = json_loads (json_string_value (json_object_get (record, "doc")), 0, NULL);
    else
    if (record)
        zsys_warning ("attest: profile for %s of tenant '%s' does not verify with the CA key; "
                      "ignored", type, tenant);
    json_decref (record);
    return doc;
}

json_t *
attest_profile_of (store_txn_t *txn, json_t *device, const uint8_t ca_key [32])
{
    assert (txn && device && ca_key);
    const char *tenant = json_string_value (json_object_get (device, "tenant"));
    const char *type = json_string_value (json_object_get (device, "type"));
    return type? attest_profile_get (txn, tenant? tenant: "", type, ca_key): NULL;
}

typedef struct {
    attest_profile_fn *fn;
    void *arg;
    bool types;                         //  profile/<tenant>/<type>, else allowlist/<tenant>/list
    size_t legacy;                      //  Records from before tenants
} s_each_t;

static int
s_each_one (void *arg, const void *key, size_t key_size, const void *value, size_t value_size)
{
    (void) value;
    (void) value_size;
    s_each_t *each = (s_each_t *) arg;
    char text [2 * WEFT_NAME_MAX + 32];
    if (key_size >= sizeof text)
        return 0;
    memcpy (text, key, key_size);
    text [key_size] = 0;
    char *tenant = strchr (text, '/') + 1;      //  After the prefix
    char *slash = strchr (tenant, '/');
    if (!slash) {
        each->legacy++;             //  From before policies were per tenant
        return 0;
    }
    *slash = 0;
    const char *rest = slash + 1;
    if (!s_tenant_valid (tenant) || !registry_name_valid (rest)
    ||  (!each->types && !streq (rest, "list")))
        return 0;
    return each->fn (each->arg, tenant, each->types? rest: NULL);
}

//  Walk the records under prefix; say so if some are from before
//  policies were per tenant: they apply nowhere now
static int
s_each (store_txn_t *txn, const char *prefix, s_each_t *each)
{
    int rc = store_scan (txn, ATTEST_TABLE, prefix, strlen (prefix), s_each_one, each);
    if (each->legacy)
        zsys_warning ("attest: %zu %s record(s) from before attestation policy was per "
                      "tenant apply to no device; set them again per tenant (weftctl "
                      "attest ... --tenant)", each->legacy, each->types? "profile": "allowlist");
    return rc < 0? -1: 0;
}

int
attest_profile_each (store_txn_t *txn, attest_profile_fn *fn, void *arg)
{
    assert (txn && fn);
    s_each_t each = { fn, arg, true, 0 };
    return s_each (txn, "profile/", &each);
}

//  --------------------------------------------------------------------------
//  IMA allowlists

int
attest_allowlist_put (store_txn_t *txn, const char *tenant, const char *text, size_t size,
                      pki_t *pki, char *error, size_t error_size)
{
    assert (txn && tenant && pki && error);
    if (!s_tenant_valid (tenant)) {
        snprintf (error, error_size, "invalid tenant");
        return -1;
    }
    attest_ima_allowlist_t allow;
    if (!text || memchr (text, 0, size)) {
        snprintf (error, error_size, "an allowlist is text: sha256sum lines");
        return -1;
    }
    if (attest_ima_allowlist_parse (text, size, &allow, error, error_size))
        return -1;
    int count = (int) allow.count;
    attest_ima_allowlist_free (&allow);
    char sig_hex [129];
    s_sign (pki, S_ALLOWLIST_CONTEXT, tenant, NULL, text, size, sig_hex);
    json_t *record = json_pack ("{s:s, s:s%, s:s}", "tenant", tenant, "doc", text, size,
                                "sig", sig_hex);
    int rc = s_put (txn, S_LIST_KEY, tenant, "list", record);
    json_decref (record);
    //  The signature alone, so that a reader can tell a list it has
    //  parsed before without loading it (attest_allowlist_sig)
    record = json_pack ("{s:s}", "sig", sig_hex);
    if (rc == 0)
        rc = s_put (txn, S_LIST_KEY, tenant, "sig", record);
    json_decref (record);
    if (rc) {
        snprintf (error, error_size, "store write failed");
        return -1;
    }
    return count;
}

int
attest_allowlist_sig (store_txn_t *txn, const char *tenant, uint8_t sig [64])
{
    assert (txn && tenant && sig);
    json_t *record = s_tenant_valid (tenant)? s_get (txn, S_LIST_KEY, tenant, "sig"): NULL;
    const char *sig_hex = json_string_value (json_object_get (record, "sig"));
    int rc = sig_hex && strlen (sig_hex) == 128 && keys_unhex (sig_hex, sig, 64) == 0? 0: 1;
    json_decref (record);
    return rc;
}

//  tenant's list record if its signature verifies, else NULL (logged)
static json_t *
s_list_verified (store_txn_t *txn, const char *tenant, const uint8_t ca_key [32],
                 uint8_t sig_out [64])
{
    json_t *record = s_tenant_valid (tenant)? s_get (txn, S_LIST_KEY, tenant, "list"): NULL;
    if (record && !s_verified (record, S_ALLOWLIST_CONTEXT, tenant, NULL, ca_key, sig_out)) {
        zsys_warning ("attest: the IMA allowlist of tenant '%s' does not verify with the CA "
                      "key; ignored", tenant);
        json_decref (record);
        record = NULL;
    }
    return record;
}

int
attest_allowlist_get (store_txn_t *txn, const char *tenant, const uint8_t ca_key [32],
                      attest_ima_allowlist_t *allow, uint8_t sig_out [64])
{
    assert (txn && tenant && ca_key && allow);
    allow->digests = NULL;
    allow->count = 0;
    uint8_t sig [64];
    json_t *record = s_list_verified (txn, tenant, ca_key, sig);
    json_t *doc = json_object_get (record, "doc");
    char error [256];
    int rc = 1;
    if (record && attest_ima_allowlist_parse (json_string_value (doc), json_string_length (doc),
                                              allow, error, sizeof error) == 0) {
        rc = 0;
        if (sig_out)
            memcpy (sig_out, sig, 64);
    }
    json_decref (record);
    return rc;
}

char *
attest_allowlist_text (store_txn_t *txn, const char *tenant, const uint8_t ca_key [32],
                       size_t *size_p)
{
    assert (txn && tenant && ca_key && size_p);
    *size_p = 0;
    json_t *record = s_list_verified (txn, tenant, ca_key, NULL);
    json_t *doc = json_object_get (record, "doc");
    char *text = NULL;
    if (record) {
        *size_p = json_string_length (doc);
        text = (char *) zmalloc (*size_p + 1);
        memcpy (text, json_string_value (doc), *size_p);
    }
    json_decref (record);
    return text;
}

int
attest_allowlist_each (store_txn_t *txn, attest_profile_fn *fn, void *arg)
{
    assert (txn && fn);
    s_each_t each = { fn, arg, false, 0 };
    return s_each (txn, "allowlist/", &each);
}

//  --------------------------------------------------------------------------
//  Selftest

static int
s_test_collect (void *arg, const char *tenant, const char *type)
{
    char line [200];
    snprintf (line, sizeof line, "%s:%s ", tenant, type? type: "-");
    strcat ((char *) arg, line);
    return 0;
}

void
attest_policy_test (bool verbose)
{
    printf (" * attest_policy: ");
    (void) verbose;
    //  @selftest
    char path [] = "/tmp/weft-attest-policy-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    keys_t ca, rogue;
    keys_generate (&ca);
    keys_generate (&rogue);
    pki_t *pki = pki_new (&ca);
    char error [256];
    const char *zero = "0000000000000000000000000000000000000000000000000000000000000000";
    const char *ones = "1111111111111111111111111111111111111111111111111111111111111111";
    json_t *acme = json_pack ("{s:{s:s}}", "pcrs", "0", zero);
    json_t *acmex = json_pack ("{s:{s:s}}", "pcrs", "0", ones);
    store_txn_t *txn = store_begin (store, true);

    //  One tenant's profile applies to its devices only; a prefix of a
    //  tenant's name is another tenant; "" is the devices without one
    assert (attest_profile_put (txn, "acme", "gateway", acme, pki, error, sizeof error) == 0);
    assert (attest_profile_put (txn, "acmex", "gateway", acmex, pki, error, sizeof error) == 0);
    json_t *got = attest_profile_get (txn, "acme", "gateway", ca.sign_public);
    assert (json_equal (got, acme));
    json_decref (got);
    got = attest_profile_get (txn, "acmex", "gateway", ca.sign_public);
    assert (json_equal (got, acmex));
    json_decref (got);
    assert (!attest_profile_get (txn, "globex", "gateway", ca.sign_public));
    assert (!attest_profile_get (txn, "", "gateway", ca.sign_public));
    assert (!attest_profile_get (txn, "acme", "gateway", rogue.sign_public));
    json_t *device = json_pack ("{s:s, s:s, s:s}", "id", "gw-1", "tenant", "acmex",
                                "type", "gateway");
    got = attest_profile_of (txn, device, ca.sign_public);
    assert (json_equal (got, acmex));
    json_decref (got);
    json_decref (device);
    //  Bad names and bad profiles are refused
    assert (attest_profile_put (txn, "a/b", "gateway", acme, pki, error, sizeof error) == -1);
    assert (streq (error, "invalid tenant"));
    assert (attest_profile_put (txn, "acme", "", acme, pki, error, sizeof error) == -1);
    json_t *bad = json_pack ("{s:{s:s}}", "pcrs", "24", zero);
    assert (attest_profile_put (txn, "acme", "gateway", bad, pki, error, sizeof error) == -1);
    assert (strstr (error, "pcrs.24"));
    json_decref (bad);
    bad = json_pack ("{s:{s:s}, s:{s:[s]}}", "pcrs", "8", zero, "release_events", "8", zero);
    assert (attest_profile_put (txn, "acme", "gateway", bad, pki, error, sizeof error) == -1);
    assert (strstr (error, "release_events come from the releases"));
    json_decref (bad);

    //  A record copied under another tenant's key does not verify there
    json_t *record = registry_record_get (txn, ATTEST_TABLE, "profile/acmex/gateway");
    assert (record);
    assert (registry_record_put (txn, ATTEST_TABLE, "profile/acme/gateway", record) == 0);
    json_decref (record);
    assert (!attest_profile_get (txn, "acme", "gateway", ca.sign_public));
    assert (attest_profile_put (txn, "acme", "gateway", acme, pki, error, sizeof error) == 0);
    //  A profile from before tenants is listed nowhere and used nowhere
    json_t *old = json_pack ("{s:s, s:s, s:s}", "type", "gateway", "doc", "{}", "sig", "00");
    assert (registry_record_put (txn, ATTEST_TABLE, "profile/gateway", old) == 0);
    json_decref (old);
    char listed [400] = "";
    assert (attest_profile_each (txn, s_test_collect, listed) == 0);
    assert (streq (listed, "acme:gateway acmex:gateway "));

    //  Allowlists per tenant, the signature read alone
    char text [200];
    snprintf (text, sizeof text, "%s  /bin/a\n", ones);
    assert (attest_allowlist_put (txn, "acme", text, strlen (text), pki, error, sizeof error)
            == 1);
    attest_ima_allowlist_t allow;
    uint8_t sig [64], stored [64];
    assert (attest_allowlist_get (txn, "acme", ca.sign_public, &allow, sig) == 0);
    assert (allow.count == 1);
    attest_ima_allowlist_free (&allow);
    assert (attest_allowlist_sig (txn, "acme", stored) == 0 && memcmp (sig, stored, 64) == 0);
    assert (attest_allowlist_get (txn, "acmex", ca.sign_public, &allow, NULL) == 1);
    assert (attest_allowlist_get (txn, "acme", rogue.sign_public, &allow, NULL) == 1);
    assert (attest_allowlist_sig (txn, "acmex", stored) == 1);
    size_t size;
    char *back = attest_allowlist_text (txn, "acme", ca.sign_public, &size);
    assert (back && size == strlen (text) && memcmp (back, text, size) == 0);
    free (back);
    assert (!attest_allowlist_text (txn, "", ca.sign_public, &size) && size == 0);
    record = registry_record_get (txn, ATTEST_TABLE, "allowlist/acme/list");
    assert (registry_record_put (txn, ATTEST_TABLE, "allowlist/acmex/list", record) == 0);
    json_decref (record);
    assert (attest_allowlist_get (txn, "acmex", ca.sign_public, &allow, NULL) == 1);
    assert (attest_allowlist_put (txn, "acme", "nothex  /x\n", 11, pki, error, sizeof error)
            == -1);
    listed [0] = 0;
    assert (attest_allowlist_each (txn, s_test_collect, listed) == 0);
    assert (streq (listed, "acme:- acmex:- "));

    store_abort (&txn);
    json_decref (acme);
    json_decref (acmex);
    pki_destroy (&pki);
    keys_wipe (&ca);
    keys_wipe (&rogue);
    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
