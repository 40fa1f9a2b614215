/*  enrolment - the coordinator's side of device enrolment
    Checks, in this order, each with its own message so an operator can
    tell from a node's log what went wrong:
        curve key of the request = the link's key     DENIED
        device name valid, not "coordinator"           BAD_REQUEST
        token known, secret right                      DENIED "unknown token"
        token unused (or this device's own retry)      DENIED "token already used"
        token unexpired                                EXPIRED "token expired"
        name not held (enrolled, or reserved for a     CONFLICT "device id X is
        TPM by a pre-registration), in any tenant      not available" (neutral)
        curve key not held by another device           CONFLICT
        device type the token's (none: gateway)        BAD_REQUEST
    Device ids are one namespace for the whole deployment (they are mesh
    origins and certificate subjects), so a refusal for an id held
    elsewhere says the same neutral text whoever holds it and however:
    it must not tell one tenant what another has (docs/registry.md).
    A retry by the same keys with the same token (the reply was lost)
    gets the stored certificate again rather than a refusal, so a node
    never ends up with a used token and no certificate.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/tokens.h"
#include "coordinator/core/credential.h"
#include "node/io/tpm.h"
#include "coordinator/core/enrolment.h"

static void
s_refuse (enrolment_result_t *result, int status, const char *format, ...)
{
    result->status = status;
    va_list args;
    va_start (args, format);
    vsnprintf (result->message, sizeof result->message, format, args);
    va_end (args);
}

//  Does the stored device carry exactly these keys?

static bool
s_same_keys (json_t *device, const msg_enrol_request_t *request)
{
    uint8_t sign [32], curve [32];
    const char *sign_hex = json_string_value (json_object_get (device, "sign_key"));
    const char *curve_hex = json_string_value (json_object_get (device, "curve_key"));
    return sign_hex && curve_hex
        && keys_unhex (sign_hex, sign, 32) == 0
        && keys_unhex (curve_hex, curve, 32) == 0
        && memcmp (sign, request->sign_key, 32) == 0
        && memcmp (curve, request->curve_key, 32) == 0;
}

//  The stored certificate of a device, for a retry: the same request
//  again (its reply was lost), within the token's or the ticket's life.
//  Never for a device revoked since: a captured request or activation
//  proof replayed after device.revoke must not bring its certificate
//  back to life.

static void
s_resend (json_t *device, enrolment_result_t *result)
{
    if (json_is_true (json_object_get (device, "revoked"))) {
        s_refuse (result, WEFT_STATUS_DENIED, "device is revoked");
        return;
    }
    const char *cert_hex = json_string_value (json_object_get (device, "cert"));
    size_t size = cert_hex? strlen (cert_hex) / 2: 0;
    if (size == 0 || strlen (cert_hex) != 2 * size) {
        s_refuse (result, WEFT_STATUS_INTERNAL, "stored certificate is corrupt");
        return;
    }
    result->cert = (uint8_t *) zmalloc (size);
    if (keys_unhex (cert_hex, result->cert, size)) {
        enrolment_result_clear (result);
        s_refuse (result, WEFT_STATUS_INTERNAL, "stored certificate is corrupt");
        return;
    }
    result->cert_size = size;
    result->status = WEFT_STATUS_OK;
    snprintf (result->message, sizeof result->message, "already enrolled");
}

//  --------------------------------------------------------------------------
//  Decide one enrolment request and record the device.

void
enrolment_apply (pki_t *pki, store_txn_t *txn, const uint8_t coord_curve [32],
                 const char *name, const msg_enrol_request_t *request,
                 const uint8_t link_key [32], uint64_t now_s,
                 enrolment_result_t *result)
{
    assert (pki && txn && name && request && result);
    memset (result, 0, sizeof *result);
    json_t *token = NULL;
    json_t *device = NULL;
    char *holder = NULL;

    if (sodium_memcmp (request->curve_key, link_key, 32) != 0) {
        s_refuse (result, WEFT_STATUS_DENIED, "curve key does not match the connection");
        goto done;
    }
    if (!registry_name_valid (name)) {
        s_refuse (result, WEFT_STATUS_BAD_REQUEST,
                  "invalid device name (want 1-64 of A-Z a-z 0-9 . _ -)");
        goto done;
    }
    if (streq (name, "coordinator")) {
        s_refuse (result, WEFT_STATUS_BAD_REQUEST, "device name coordinator is reserved");
        goto done;
    }
    tokens_status_t token_status = tokens_check (txn, request->token, coord_curve,
                                                 now_s, &token);
    if (token_status == TOKENS_UNKNOWN) {
        s_refuse (result, WEFT_STATUS_DENIED, "unknown token");
        goto done;
    }
    //  A true token names its tenant: whatever follows concerns it
    snprintf (result->tenant, sizeof result->tenant, "%s",
              json_string_value (json_object_get (token, "tenant"))?: "");
    device = registry_device_get (txn, name);
    if (token_status == TOKENS_USED) {
        const char *used_by = json_string_value (json_object_get (token, "used_by"));
        if (device && streq (used_by, name) && s_same_keys (device, request))
            s_resend (device, result);
        else
            s_refuse (result, WEFT_STATUS_DENIED, "token already used");
        goto done;
    }
    if (token_status == TOKENS_EXPIRED) {
        s_refuse (result, WEFT_STATUS_EXPIRED, "token expired");
        goto done;
    }
    if (device || enrolment_id_reserved (txn, name)) {
        s_refuse (result, WEFT_STATUS_CONFLICT, ENROLMENT_ID_TAKEN, name);
        goto done;
    }
    holder = registry_device_by_curve (txn, request->curve_key);
    if (holder) {
        s_refuse (result, WEFT_STATUS_CONFLICT, "curve key already enrolled as another device");
        goto done;
    }
    //  The token decides the type, and so the role in the certificate:
    //  a token without one enrols a gateway, never what the device asks
    const char *token_type = json_string_value (json_object_get (token, "type"));
    const char *type = token_type && *token_type? token_type: "gateway";
    if (request->device_type [0] && !streq (request->device_type, type)) {
        if (token_type && *token_type)
            s_refuse (result, WEFT_STATUS_BAD_REQUEST, "token is for device type %s", type);
        else
            s_refuse (result, WEFT_STATUS_BAD_REQUEST, "a token without a type enrols a "
                      "gateway, not a %s (ask for a token of that type)", request->device_type);
        goto done;
    }
    if (!registry_name_valid (type)) {
        s_refuse (result, WEFT_STATUS_BAD_REQUEST, "invalid device type");
        goto done;
    }
    const char *tenant = json_string_value (json_object_get (token, "tenant"));
    if (!tenant)
        tenant = "";
    //  The token's place, checked when it was made, certified here
    const char *path = json_string_value (json_object_get (token, "path"));
    if (!path)
        path = "";

    //  All checks passed: certificate, token, device, index, twin
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.kind = CERT_KIND_NODE;
    snprintf (cert.subject, sizeof cert.subject, "%s", name);
    snprintf (cert.tenant, sizeof cert.tenant, "%s", tenant);
    snprintf (cert.role, sizeof cert.role, "%s", type);
    snprintf (cert.path, sizeof cert.path, "%s", path);
    memcpy (cert.sign_key, request->sign_key, 32);
    memcpy (cert.curve_key, request->curve_key, 32);
    if (pki_issue (pki, txn, &cert, now_s, &result->cert, &result->cert_size)) {
        s_refuse (result, WEFT_STATUS_INTERNAL, "cannot issue certificate");
        goto done;
    }
    char sign_hex [65], curve_hex [65];
    keys_hex (request->sign_key, 32, sign_hex);
    keys_hex (request->curve_key, 32, curve_hex);
    char *cert_hex = (char *) zmalloc (2 * result->cert_size + 1);
    keys_hex (result->cert, result->cert_size, cert_hex);
    json_t *record = json_pack ("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:b}",
        "id", name, "tenant", tenant, "type", type, "role", type,
        "enrolled", (json_int_t) now_s, "cert_serial", (json_int_t) cert.serial,
        "sign_key", sign_hex, "curve_key", curve_hex, "cert", cert_hex,
        "token", json_string_value (json_object_get (token, "id")), "revoked", 0);
    if (record)
        json_object_set_new (record, "assurance", json_string ("software"));
    if (record && *path)
        json_object_set_new (record, "path", json_string (path));
    free (cert_hex);
    json_t *twin = registry_twin_get (txn, name);
    int rc = record && twin? 0: -1;
    if (rc == 0)
        rc = tokens_use (txn, token, name);
    if (rc == 0)
        rc = registry_device_put (txn, record);
    if (rc == 0)
        rc = registry_twin_put (txn, name, twin);
    json_decref (record);
    json_decref (twin);
    if (rc) {
        enrolment_result_clear (result);
        s_refuse (result, WEFT_STATUS_INTERNAL, "store write failed");
        goto done;
    }
    result->status = WEFT_STATUS_OK;
    result->created = true;
    snprintf (result->message, sizeof result->message, "enrolled");
done:
    if (result->status != WEFT_STATUS_OK)
        enrolment_result_clear (result);
    free (holder);
    json_decref (token);
    json_decref (device);
}

void
enrolment_result_clear (enrolment_result_t *result)
{
    assert (result);
    free (result->cert);
    result->cert = NULL;
    result->cert_size = 0;
    result->created = false;
    result->challenge = false;
    zchunk_destroy (&result->credential);
    zchunk_destroy (&result->secret);
}

//  --------------------------------------------------------------------------
//  TPM onboarding. Pre-registrations live in ENROLMENT_TPM_TABLE under
//  "ek/" + hex BLAKE2b-256 (EK public) -> {id, ek, tenant, path, tags,
//  type, created, enrolled}, and "id/" + device id -> the same EK hash,
//  so that one id is never pre-registered for two EKs. An EK enrolled
//  by its certificate has "cert-ek/" + hash -> {id}. No entry is ever
//  replaced: an EK is registered once, for good.

#define S_EK_HASH_HEX   65

static void
s_ek_hash (const uint8_t *ek_public, size_t ek_public_size, char hex [S_EK_HASH_HEX])
{
    uint8_t hash [32];
    crypto_generichash (hash, sizeof hash, ek_public, ek_public_size, NULL, 0);
    keys_hex (hash, sizeof hash, hex);
}

static json_t *
s_table_get (store_txn_t *txn, const char *prefix, const char *key)
{
    char *full = zsys_sprintf ("%s%s", prefix, key);
    size_t size = 0;
    char *value = (char *) store_get (txn, ENROLMENT_TPM_TABLE, full, strlen (full), &size);
    free (full);
    if (!value)
        return NULL;
    json_t *json = json_loadb (value, size, 0, NULL);
    free (value);
    return json;
}

static int
s_table_put (store_txn_t *txn, const char *prefix, const char *key, json_t *json)
{
    char *full = zsys_sprintf ("%s%s", prefix, key);
    char *text = registry_dump (json);
    int rc = text? store_put (txn, ENROLMENT_TPM_TABLE, full, strlen (full),
                              text, strlen (text)): -1;
    free (text);
    free (full);
    return rc;
}

json_t *
enrolment_tpm_prereg_get (store_txn_t *txn, const uint8_t *ek_public, size_t ek_public_size)
{
    assert (txn && ek_public);
    char hash [S_EK_HASH_HEX];
    s_ek_hash (ek_public, ek_public_size, hash);
    return s_table_get (txn, "ek/", hash);
}

static void
s_json_destroy (void **item_p)
{
    json_decref ((json_t *) *item_p);
    *item_p = NULL;
}

//  Devices enrolled by an EK certificate, for enrolment_tpm_index
static int
s_cert_ek_collect (void *arg, json_t *device)
{
    const char *via = json_string_value (json_object_get (device, "ek_via"));
    const char *ek = json_string_value (json_object_get (device, "ek"));
    if (via && streq (via, "ek-cert") && ek && json_string_value (json_object_get (device, "id")))
        zlistx_add_end ((zlistx_t *) arg, json_incref (device));
    return 0;
}

bool
enrolment_id_reserved (store_txn_t *txn, const char *id)
{
    assert (txn && id);
    json_t *by_id = s_table_get (txn, "id/", id);
    json_decref (by_id);
    return by_id != NULL;
}

//  An EK enrolled by its certificate: "cert-ek/" + hash -> {id}, so
//  that it can never be pre-registered afterwards
static int
s_cert_ek_put (store_txn_t *txn, const char *hash, const char *id)
{
    json_t *entry = json_pack ("{s:s}", "id", id);
    int rc = s_table_put (txn, "cert-ek/", hash, entry);
    json_decref (entry);
    return rc;
}

//  Is an EK registered: pre-registered, or enrolled by its certificate?
static bool
s_ek_registered (store_txn_t *txn, const char *hash)
{
    json_t *entry = s_table_get (txn, "ek/", hash);
    if (!entry)
        entry = s_table_get (txn, "cert-ek/", hash);
    json_decref (entry);
    return entry != NULL;
}

int
enrolment_tpm_index (store_txn_t *txn)
{
    assert (txn);
    if (registry_meta_get (txn, "cert_ek_index") > 0)
        return 0;
    zlistx_t *devices = zlistx_new ();
    zlistx_set_destructor (devices, s_json_destroy);
    int rc = registry_device_each (txn, s_cert_ek_collect, devices) < 0? -1: 0;
    for (json_t *device = (json_t *) zlistx_first (devices); device && rc == 0;
         device = (json_t *) zlistx_next (devices))
        rc = s_cert_ek_put (txn, json_string_value (json_object_get (device, "ek")),
                            json_string_value (json_object_get (device, "id")));
    if (rc == 0)
        rc = registry_meta_put (txn, "cert_ek_index", 1);
    zlistx_destroy (&devices);
    return rc;
}

int
enrolment_tpm_preregister (store_txn_t *txn, const char *id,
                           const uint8_t *ek_public, size_t ek_public_size,
                           const char *tenant, const char *path, json_t *tags,
                           const char *type, uint64_t now_s,
                           char *error, size_t error_size)
{
    assert (txn && id && ek_public && error);
    if (!registry_name_valid (id) || streq (id, "coordinator")) {
        snprintf (error, error_size, "invalid device id");
        return -1;
    }
    if (ek_public_size == 0 || ek_public_size > TPMMSG_PUBLIC_MAX) {
        snprintf (error, error_size, "EK public key malformed");
        return -1;
    }
    //  It must be a key MakeCredential can use
    zchunk_t *name = tpmverify_name (ek_public, ek_public_size);
    if (!name) {
        snprintf (error, error_size, "EK public key malformed (want a TPM2B_PUBLIC, "
                  "as tpm2_createek -u or weft-node --write-ek writes)");
        return -1;
    }
    zchunk_destroy (&name);
    //  An EK is registered once, for good: whoever registered it first
    //  (pre-registered or enrolled, in whichever tenant) keeps it. Else
    //  an admin of another tenant could re-register a known public EK
    //  and take the TPM over at its next onboarding.
    char hash [S_EK_HASH_HEX];
    s_ek_hash (ek_public, ek_public_size, hash);
    if (s_ek_registered (txn, hash)) {
        snprintf (error, error_size, "this EK is already registered");
        return -1;
    }
    json_t *device = registry_device_get (txn, id);
    json_decref (device);
    if (device || enrolment_id_reserved (txn, id)) {
        snprintf (error, error_size, ENROLMENT_ID_TAKEN, id);
        return -1;
    }
    json_t *record = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", id, "ek", hash,
        "tenant", tenant? tenant: "", "path", path? path: "", "type", type? type: "",
        "created", (json_int_t) now_s);
    json_object_set_new (record, "tags", tags && json_is_object (tags)? json_incref (tags)
                                                                : json_object ());
    json_t *index = json_pack ("{s:s}", "ek", hash);
    int rc = s_table_put (txn, "ek/", hash, record);
    if (rc == 0)
        rc = s_table_put (txn, "id/", id, index);
    json_decref (index);
    json_decref (record);
    if (rc)
        snprintf (error, error_size, "store write failed");
    return rc;
}

#define S_CA_KEY    "ca/ek"

int
enrolment_tpm_set_ca (store_txn_t *txn, const char *pem, size_t size)
{
    assert (txn);
    if (!pem || size == 0)
        return store_del (txn, ENROLMENT_TPM_TABLE, S_CA_KEY, strlen (S_CA_KEY)) < 0? -1: 0;
    return store_put (txn, ENROLMENT_TPM_TABLE, S_CA_KEY, strlen (S_CA_KEY), pem, size);
}

char *
enrolment_tpm_ca (store_txn_t *txn, size_t *size_p)
{
    assert (txn && size_p);
    size_t size = 0;
    char *pem = (char *) store_get (txn, ENROLMENT_TPM_TABLE, S_CA_KEY, strlen (S_CA_KEY),
                                    &size);
    *size_p = 0;
    if (!pem)
        return NULL;
    char *text = (char *) zmalloc (size + 1);
    memcpy (text, pem, size);
    free (pem);
    *size_p = size;
    return text;
}

//  The key the coordinator derives tickets' secrets with
static void
s_ticket_key (const keys_t *coord_keys, uint8_t key [32])
{
    const char *label = "weft-tpm-ticket-v1";
    crypto_generichash (key, 32, (const uint8_t *) label, strlen (label),
                        coord_keys->sign_secret, 32);
}

//  The secret of a ticket: keyed hash of the ticket, the device id, and
//  everything the request binds (keys, EK, AK, type)
static void
s_ticket_secret (const keys_t *coord_keys, const uint8_t ticket [TPMMSG_TICKET_SIZE],
                 const char *device, const tpmmsg_t *request, uint8_t secret [32])
{
    uint8_t key [32];
    s_ticket_key (coord_keys, key);
    crypto_generichash_state state;
    crypto_generichash_init (&state, key, sizeof key, 32);
    crypto_generichash_update (&state, ticket, TPMMSG_TICKET_SIZE);
    crypto_generichash_update (&state, (const uint8_t *) device, strlen (device) + 1);
    crypto_generichash_update (&state, (const uint8_t *) request->device_type,
                               strlen (request->device_type) + 1);
    crypto_generichash_update (&state, request->sign_key, WEFT_KEY_SIZE);
    crypto_generichash_update (&state, request->curve_key, WEFT_KEY_SIZE);
    uint8_t size [4];
    size [0] = (uint8_t) (request->ek_public_size >> 8);
    size [1] = (uint8_t) request->ek_public_size;
    size [2] = (uint8_t) (request->ak_public_size >> 8);
    size [3] = (uint8_t) request->ak_public_size;
    crypto_generichash_update (&state, size, sizeof size);
    crypto_generichash_update (&state, request->ek_public, request->ek_public_size);
    crypto_generichash_update (&state, request->ak_public, request->ak_public_size);
    crypto_generichash_final (&state, secret, 32);
    sodium_memzero (key, sizeof key);
}

static uint64_t
s_ticket_expiry (const uint8_t *ticket)
{
    uint64_t expiry = 0;
    for (int i = 0; i < 8; i++)
        expiry = expiry << 8 | ticket [i];
    return expiry;
}

//  Does the stored device carry exactly these keys and this AK?
static bool
s_same_tpm_device (json_t *device, const tpmmsg_t *request, const char *ak_name_hex)
{
    msg_enrol_request_t keys;
    memset (&keys, 0, sizeof keys);
    memcpy (keys.sign_key, request->sign_key, 32);
    memcpy (keys.curve_key, request->curve_key, 32);
    const char *stored_ak = json_string_value (json_object_get (device, "ak_name"));
    return s_same_keys (device, &keys) && stored_ak && streq (stored_ak, ak_name_hex);
}

//  --------------------------------------------------------------------------
//  Decide one step of TPM onboarding.

void
enrolment_tpm_apply (pki_t *pki, store_txn_t *txn, const keys_t *coord_keys,
                     const char *ek_ca_pem, size_t ek_ca_size, const char *name,
                     const tpmmsg_t *request, const uint8_t link_key [32],
                     uint64_t now_s, enrolment_result_t *result)
{
    assert (pki && txn && coord_keys && name && request && result);
    memset (result, 0, sizeof *result);
    bool proof_step = request->type == MSG_TPM_PROOF;
    json_t *prereg = NULL;
    json_t *device = NULL;
    json_t *record = NULL;
    char *holder = NULL;
    zchunk_t *ak_name = NULL;
    uint8_t secret [32];
    memset (secret, 0, sizeof secret);

    if (request->type != MSG_TPM_ENROL_REQUEST && !proof_step) {
        s_refuse (result, WEFT_STATUS_BAD_REQUEST, "not a TPM enrolment message");
        goto done;
    }
    if (sodium_memcmp (request->curve_key, link_key, 32) != 0) {
        s_refuse (result, WEFT_STATUS_DENIED, "curve key does not match the connection");
        goto done;
    }
    int check = tpmverify_check_ak (request->ak_public, request->ak_public_size);
    if (check != TPMVERIFY_OK) {
        s_refuse (result, WEFT_STATUS_DENIED, "AK refused: %s", tpmverify_strerror (check));
        goto done;
    }
    //  Who is this EK? Pre-registered, or certified by a vendor we trust
    char ek_hash [S_EK_HASH_HEX];
    s_ek_hash (request->ek_public, request->ek_public_size, ek_hash);
    prereg = s_table_get (txn, "ek/", ek_hash);
    const char *id = name;
    const char *via = "preregistered";
    if (prereg) {
        id = json_string_value (json_object_get (prereg, "id"));
        snprintf (result->tenant, sizeof result->tenant, "%s",
                  json_string_value (json_object_get (prereg, "tenant"))?: "");
    }
    else
    if (request->ek_cert_size && ek_ca_pem) {
        char why [256];
        check = credential_check_ek_cert (request->ek_cert, request->ek_cert_size,
                                          ek_ca_pem, ek_ca_size, request->ek_public,
                                          request->ek_public_size, (int64_t) now_s,
                                          why, sizeof why);
        if (check != TPMVERIFY_OK) {
            s_refuse (result, WEFT_STATUS_DENIED, "EK certificate refused: %s", why);
            goto done;
        }
        via = "ek-cert";
        if (enrolment_id_reserved (txn, name)) {
            s_refuse (result, WEFT_STATUS_CONFLICT, ENROLMENT_ID_TAKEN, name);
            goto done;
        }
    }
    else {
        s_refuse (result, WEFT_STATUS_DENIED, "EK is not pre-registered%s",
                  request->ek_cert_size? " and no EK CA is configured": "");
        goto done;
    }
    if (!id || !registry_name_valid (id) || streq (id, "coordinator")) {
        s_refuse (result, WEFT_STATUS_BAD_REQUEST,
                  "invalid device name (want 1-64 of A-Z a-z 0-9 . _ -)");
        goto done;
    }
    ak_name = tpmverify_name (request->ak_public, request->ak_public_size);
    if (!ak_name || zchunk_size (ak_name) != CERT_AK_NAME_SIZE) {
        s_refuse (result, WEFT_STATUS_DENIED, "AK refused: unsupported name algorithm");
        goto done;
    }
    char ak_name_hex [2 * CERT_AK_NAME_SIZE + 1];
    keys_hex (zchunk_data (ak_name), CERT_AK_NAME_SIZE, ak_name_hex);

    //  Identity takeover: the id or the keys belong to someone else
    device = registry_device_get (txn, id);
    bool retry = device && s_same_tpm_device (device, request, ak_name_hex);
    if (device && !retry) {
        s_refuse (result, WEFT_STATUS_CONFLICT, ENROLMENT_ID_TAKEN, id);
        goto done;
    }
    if (retry && json_is_true (json_object_get (device, "revoked"))) {
        s_refuse (result, WEFT_STATUS_DENIED, "device is revoked");
        goto done;
    }
    holder = registry_device_by_curve (txn, request->curve_key);
    if (holder && !streq (holder, id)) {
        s_refuse (result, WEFT_STATUS_CONFLICT, "curve key already enrolled as another device");
        goto done;
    }
    //  The type, and so the role, is the pre-registration's (none:
    //  gateway); an EK known only by its certificate enrols a gateway:
    //  the device never chooses a privileged role (server) itself
    const char *prereg_type = json_string_value (json_object_get (prereg, "type"));
    const char *type = prereg_type && *prereg_type? prereg_type: "gateway";
    if (!prereg && request->device_type [0] && !streq (request->device_type, type)) {
        s_refuse (result, WEFT_STATUS_BAD_REQUEST, "an EK enrolled by its certificate "
                  "enrols a gateway, not a %s (pre-register it with that type)",
                  request->device_type);
        goto done;
    }
    if (!registry_name_valid (type)) {
        s_refuse (result, WEFT_STATUS_BAD_REQUEST, "invalid device type");
        goto done;
    }

    if (!proof_step) {
        //  Step 1: a credential only that TPM can activate
        uint64_t expiry = now_s + ENROLMENT_TICKET_TTL_S;
        for (int i = 0; i < 8; i++)
            result->ticket [i] = (uint8_t) (expiry >> (56 - 8 * i));
        randombytes_buf (result->ticket + 8, TPMMSG_TICKET_SIZE - 8);
        s_ticket_secret (coord_keys, result->ticket, id, request, secret);
        check = credential_make (request->ek_public, request->ek_public_size,
                                 zchunk_data (ak_name), zchunk_size (ak_name),
                                 secret, sizeof secret, &result->credential, &result->secret);
        if (check != TPMVERIFY_OK) {
            s_refuse (result, WEFT_STATUS_BAD_REQUEST, "cannot make a credential: %s",
                      tpmverify_strerror (check));
            goto done;
        }
        snprintf (result->device, sizeof result->device, "%s", id);
        result->challenge = true;
        result->status = WEFT_STATUS_OK;
        snprintf (result->message, sizeof result->message, "challenge");
        goto done;
    }
    //  Step 2: the proof must be the secret of this very request's ticket
    if (s_ticket_expiry (request->ticket) <= now_s) {
        s_refuse (result, WEFT_STATUS_EXPIRED, "activation ticket expired");
        goto done;
    }
    s_ticket_secret (coord_keys, request->ticket, id, request, secret);
    if (request->proof_size != sizeof secret
    ||  sodium_memcmp (request->proof, secret, sizeof secret) != 0) {
        s_refuse (result, WEFT_STATUS_DENIED,
                  "activation proof does not match (not the TPM holding this EK and AK)");
        goto done;
    }
    if (retry) {
        s_resend (device, result);
        goto done;
    }
    const char *tenant = json_string_value (json_object_get (prereg, "tenant"));
    const char *path = json_string_value (json_object_get (prereg, "path"));
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.kind = CERT_KIND_NODE;
    snprintf (cert.subject, sizeof cert.subject, "%s", id);
    snprintf (cert.tenant, sizeof cert.tenant, "%s", tenant? tenant: "");
    snprintf (cert.role, sizeof cert.role, "%s", type);
    snprintf (cert.path, sizeof cert.path, "%s", path? path: "");
    memcpy (cert.sign_key, request->sign_key, 32);
    memcpy (cert.curve_key, request->curve_key, 32);
    memcpy (cert.ak_name, zchunk_data (ak_name), CERT_AK_NAME_SIZE);
    cert.ak_name_size = CERT_AK_NAME_SIZE;
    if (pki_issue (pki, txn, &cert, now_s, &result->cert, &result->cert_size)) {
        s_refuse (result, WEFT_STATUS_INTERNAL, "cannot issue certificate");
        goto done;
    }
    char sign_hex [65], curve_hex [65];
    keys_hex (request->sign_key, 32, sign_hex);
    keys_hex (request->curve_key, 32, curve_hex);
    char *cert_hex = (char *) zmalloc (2 * result->cert_size + 1);
    keys_hex (result->cert, result->cert_size, cert_hex);
    char *ak_hex = (char *) zmalloc (2 * request->ak_public_size + 1);
    keys_hex (request->ak_public, request->ak_public_size, ak_hex);
    record = json_pack ("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:b,"
                        " s:s, s:s, s:s, s:s, s:s}",
        "id", id, "tenant", cert.tenant, "type", type, "role", type,
        "enrolled", (json_int_t) now_s, "cert_serial", (json_int_t) cert.serial,
        "sign_key", sign_hex, "curve_key", curve_hex, "cert", cert_hex,
        "token", "", "revoked", 0,
        "assurance", "tpm", "ek", ek_hash, "ek_via", via,
        "ak_public", ak_hex, "ak_name", ak_name_hex);
    free (cert_hex);
    free (ak_hex);
    if (record && cert.path [0])
        json_object_set_new (record, "path", json_string (cert.path));
    json_t *tags = json_object_get (prereg, "tags");
    if (record && json_is_object (tags) && json_object_size (tags))
        json_object_set (record, "tags", tags);
    json_t *twin = registry_twin_get (txn, id);
    int rc = record && twin? 0: -1;
    if (rc == 0)
        rc = registry_device_put (txn, record);
    if (rc == 0)
        rc = registry_twin_put (txn, id, twin);
    if (rc == 0 && prereg) {
        json_object_set_new (prereg, "enrolled", json_integer ((json_int_t) now_s));
        rc = s_table_put (txn, "ek/", ek_hash, prereg);
    }
    else
    if (rc == 0)
        //  No pre-registration, from any tenant, may claim this TPM later
        rc = s_cert_ek_put (txn, ek_hash, id);
    json_decref (twin);
    if (rc) {
        enrolment_result_clear (result);
        s_refuse (result, WEFT_STATUS_INTERNAL, "store write failed");
        goto done;
    }
    snprintf (result->device, sizeof result->device, "%s", id);
    result->status = WEFT_STATUS_OK;
    result->created = true;
    snprintf (result->message, sizeof result->message, "enrolled");
done:
    if (result->status != WEFT_STATUS_OK)
        enrolment_result_clear (result);
    sodium_memzero (secret, sizeof secret);
    zchunk_destroy (&ak_name);
    free (holder);
    json_decref (record);
    json_decref (device);
    json_decref (prereg);
}

//  --------------------------------------------------------------------------
//  Selftest

typedef struct {
    store_t *store;
    pki_t *pki;
    keys_t ca;
    uint8_t coord_curve [32];
    uint64_t now;
} s_rig_t;

//  Revoke a device as device.revoke does: marked in its record
static void
s_revoke (s_rig_t *rig, const char *id)
{
    store_txn_t *txn = store_begin (rig->store, true);
    json_t *device = registry_device_get (txn, id);
    assert (device);
    json_object_set_new (device, "revoked", json_true ());
    assert (registry_device_put (txn, device) == 0);
    assert (store_commit (&txn) == 0);
    json_decref (device);
}

//  One enrolment attempt in its own transaction, committed if created.
static int
s_enrol (s_rig_t *rig, const char *name, const char *token, keys_t *keys,
         enrolment_result_t *result)
{
    msg_enrol_request_t request;
    memset (&request, 0, sizeof request);
    snprintf (request.token, sizeof request.token, "%s", token);
    memcpy (request.sign_key, keys->sign_public, 32);
    memcpy (request.curve_key, keys->curve_public, 32);
    strcpy (request.device_type, "gateway");
    store_txn_t *txn = store_begin (rig->store, true);
    assert (txn);
    enrolment_apply (rig->pki, txn, rig->coord_curve, name, &request,
                     keys->curve_public, rig->now, result);
    if (result->created) {
        if (store_commit (&txn)) {
            enrolment_result_clear (result);
            result->status = WEFT_STATUS_INTERNAL;
        }
    }
    else
        store_abort (&txn);
    return result->status;
}

static void
s_token (s_rig_t *rig, const char *type, uint64_t ttl, char *text)
{
    char id [17];
    store_txn_t *txn = store_begin (rig->store, true);
    assert (tokens_create (txn, "acme", "acme/plant-1", type, ttl, rig->now, rig->coord_curve,
                           text, id, NULL) == 0);
    assert (store_commit (&txn) == 0);
}

//  --- TPM onboarding selftest: two swtpm processes, A and B, each with
//  an EK certificate from its own local CA

typedef struct {
    tpm_t *tpm;
    zchunk_t *ek;                   //  EK public (RSA)
    zchunk_t *ek_cert;              //  DER
    zchunk_t *ak_blob;
    zchunk_t *ak;                   //  AK public (ECC)
    keys_t keys;                    //  The node's own keys
} s_tpm_node_t;

static void
s_tpm_node_init (s_tpm_node_t *node, const char *tcti)
{
    memset (node, 0, sizeof *node);
    node->tpm = tpm_new (tcti);
    assert (node->tpm);
    assert (tpm_ek_public (node->tpm, TPM_KEY_RSA, &node->ek, NULL) == 0);
    node->ek_cert = tpm_ek_cert (node->tpm, TPM_KEY_RSA);
    assert (node->ek_cert);
    assert (tpm_ak_create (node->tpm, TPM_KEY_RSA, TPM_KEY_ECC, &node->ak_blob,
                           &node->ak, NULL) == 0);
    keys_generate (&node->keys);
}

static void
s_tpm_node_fini (s_tpm_node_t *node)
{
    tpm_destroy (&node->tpm);
    zchunk_destroy (&node->ek);
    zchunk_destroy (&node->ek_cert);
    zchunk_destroy (&node->ak_blob);
    zchunk_destroy (&node->ak);
    keys_wipe (&node->keys);
}

//  A request from node with this EK and AK (either may be another node's)
static void
s_tpm_request (tpmmsg_t *msg, int type, s_tpm_node_t *node, zchunk_t *ek, zchunk_t *ak,
               bool with_cert)
{
    memset (msg, 0, sizeof *msg);
    msg->type = type;
    memcpy (msg->sign_key, node->keys.sign_public, 32);
    memcpy (msg->curve_key, node->keys.curve_public, 32);
    strcpy (msg->device_type, "gateway");
    msg->ek_public = zchunk_data (ek);
    msg->ek_public_size = zchunk_size (ek);
    if (with_cert) {
        msg->ek_cert = zchunk_data (node->ek_cert);
        msg->ek_cert_size = zchunk_size (node->ek_cert);
    }
    msg->ak_public = zchunk_data (ak);
    msg->ak_public_size = zchunk_size (ak);
}

//  node's proof of activation: the secret it recovered for ticket
static void
s_tpm_proof (tpmmsg_t *msg, s_tpm_node_t *node, zchunk_t *ek, zchunk_t *ak, bool with_cert,
             const uint8_t *ticket, const uint8_t *proof, size_t proof_size)
{
    s_tpm_request (msg, MSG_TPM_PROOF, node, ek, ak, with_cert);
    msg->ticket = ticket;
    msg->ticket_size = TPMMSG_TICKET_SIZE;
    msg->proof = proof;
    msg->proof_size = proof_size;
}

//  One step in its own transaction, committed if created
static int
s_tpm_step (s_rig_t *rig, const keys_t *coord, const char *bundle, const char *name,
            tpmmsg_t *msg, const uint8_t *link_key, enrolment_result_t *result)
{
    store_txn_t *txn = store_begin (rig->store, true);
    assert (txn);
    enrolment_tpm_apply (rig->pki, txn, coord, bundle, bundle? strlen (bundle): 0, name,
                         msg, link_key, rig->now, result);
    if (result->created)
        assert (store_commit (&txn) == 0);
    else
        store_abort (&txn);
    return result->status;
}

//  Full onboarding of node as name with the given EK and AK, activating
//  with activator's TPM. Returns the final status; message in result.
static int
s_tpm_onboard (s_rig_t *rig, const keys_t *coord, const char *bundle, const char *name,
               s_tpm_node_t *node, s_tpm_node_t *activator, bool with_cert,
               enrolment_result_t *result)
{
    tpmmsg_t msg;
    s_tpm_request (&msg, MSG_TPM_ENROL_REQUEST, node, node->ek, node->ak, with_cert);
    if (s_tpm_step (rig, coord, bundle, name, &msg, node->keys.curve_public, result))
        return result->status;
    assert (result->challenge);
    zchunk_t *secret = tpm_activate (activator->tpm, activator->ak_blob,
                                     result->credential, result->secret);
    uint8_t ticket [TPMMSG_TICKET_SIZE];
    memcpy (ticket, result->ticket, sizeof ticket);
    enrolment_result_clear (result);
    uint8_t guess [32];
    randombytes_buf (guess, sizeof guess);
    s_tpm_proof (&msg, node, node->ek, node->ak, with_cert, ticket,
                 secret? zchunk_data (secret): guess, 32);
    int status = s_tpm_step (rig, coord, bundle, name, &msg, node->keys.curve_public, result);
    zchunk_destroy (&secret);
    return status;
}

static void
s_tpm_test (s_rig_t *rig, bool verbose)
{
    tpm_swtpm_t *swtpm_a = tpm_swtpm_new (true);
    tpm_swtpm_t *swtpm_b = tpm_swtpm_new (true);
    assert (swtpm_a && swtpm_b);
    s_tpm_node_t a, b;
    s_tpm_node_init (&a, tpm_swtpm_tcti (swtpm_a));
    s_tpm_node_init (&b, tpm_swtpm_tcti (swtpm_b));
    char *bundle_a = tpm_swtpm_ca_bundle (swtpm_a);
    keys_t coord;
    keys_generate (&coord);
    enrolment_result_t result;
    char error [256];
    rig->now = (uint64_t) time (NULL);  //  The EK certificates were made just now
    #define S_CASE(name) if (verbose) printf ("\n   tpm: %s", name)

    S_CASE ("refuses an unregistered EK");
    assert (s_tpm_onboard (rig, &coord, NULL, "gw-a", &a, &a, false, &result)
            == WEFT_STATUS_DENIED);
    assert (streq (result.message, "EK is not pre-registered"));
    assert (s_tpm_onboard (rig, &coord, NULL, "gw-a", &a, &a, true, &result)
            == WEFT_STATUS_DENIED);
    assert (streq (result.message, "EK is not pre-registered and no EK CA is configured"));

    S_CASE ("refuses an EK certificate from an unknown CA");
    assert (s_tpm_onboard (rig, &coord, bundle_a, "gw-b", &b, &b, true, &result)
            == WEFT_STATUS_DENIED);
    const char *unknown = "EK certificate refused: EK certificate's issuer is unknown (not "
                          "in the EK CA bundle): ";
    assert (strncmp (result.message, unknown, strlen (unknown)) == 0);

    S_CASE ("pre-registered EK onboards with placement, AK bound in the certificate");
    store_txn_t *txn = store_begin (rig->store, true);
    json_t *tags = json_pack ("{s:s}", "line", "3");
    assert (enrolment_tpm_preregister (txn, "gw-a", zchunk_data (a.ek), zchunk_size (a.ek),
                                       "acme", "acme/plant-1", tags, "gateway", rig->now,
                                       error, sizeof error) == 0);
    //  One id, one EK
    assert (enrolment_tpm_preregister (txn, "gw-a", zchunk_data (b.ek), zchunk_size (b.ek),
                                       "acme", "", NULL, "", rig->now,
                                       error, sizeof error) == -1);
    assert (enrolment_tpm_preregister (txn, "gw-x", (const uint8_t *) "junk", 4,
                                       "acme", "", NULL, "", rig->now,
                                       error, sizeof error) == -1);
    json_decref (tags);
    assert (store_commit (&txn) == 0);
    //  The id is held for that TPM: a token (of any tenant) cannot take
    //  it, and the refusal is the one for any id held elsewhere
    char token [WEFT_TOKEN_MAX + 1];
    s_token (rig, "", 3600, token);
    keys_t squatter;
    keys_generate (&squatter);
    assert (s_enrol (rig, "gw-a", token, &squatter, &result) == WEFT_STATUS_CONFLICT);
    assert (streq (result.message, "device id gw-a is not available"));
    keys_wipe (&squatter);
    //  The node asks as "whatever": the pre-registration names it
    assert (s_tpm_onboard (rig, &coord, NULL, "whatever", &a, &a, false, &result)
            == WEFT_STATUS_OK);
    assert (result.created && streq (result.device, "gw-a"));
    cert_t cert;
    assert (cert_decode (&cert, result.cert, result.cert_size, rig->ca.sign_public,
                         rig->now) == 0);
    assert (streq (cert.subject, "gw-a") && streq (cert.tenant, "acme"));
    assert (streq (cert.path, "acme/plant-1"));
    zchunk_t *ak_name = tpmverify_name (zchunk_data (a.ak), zchunk_size (a.ak));
    assert (cert.ak_name_size == CERT_AK_NAME_SIZE
            && memcmp (cert.ak_name, zchunk_data (ak_name), CERT_AK_NAME_SIZE) == 0);
    zchunk_destroy (&ak_name);
    enrolment_result_clear (&result);
    txn = store_begin (rig->store, false);
    json_t *device = registry_device_get (txn, "gw-a");
    store_abort (&txn);
    assert (device);
    assert (streq (json_string_value (json_object_get (device, "assurance")), "tpm"));
    assert (streq (json_string_value (json_object_get (device, "path")), "acme/plant-1"));
    assert (streq (json_string_value (
                   json_object_get (json_object_get (device, "tags"), "line")), "3"));
    json_decref (device);
    //  A lost reply: the same node gets the same certificate again
    assert (s_tpm_onboard (rig, &coord, NULL, "gw-a", &a, &a, false, &result)
            == WEFT_STATUS_OK);
    assert (!result.created && streq (result.message, "already enrolled"));
    enrolment_result_clear (&result);

    S_CASE ("an ECC P-256 EK onboards like an RSA one");
    //  TPM A's ECC EK, with an AK made under it; A's TPM activates
    s_tpm_node_t e;
    memset (&e, 0, sizeof e);
    e.tpm = a.tpm;
    assert (tpm_ek_public (a.tpm, TPM_KEY_ECC, &e.ek, NULL) == 0);
    assert (tpm_ak_create (a.tpm, TPM_KEY_ECC, TPM_KEY_ECC, &e.ak_blob, &e.ak, NULL) == 0);
    keys_generate (&e.keys);
    txn = store_begin (rig->store, true);
    assert (enrolment_tpm_preregister (txn, "gw-e", zchunk_data (e.ek), zchunk_size (e.ek),
                                       "acme", "acme/plant-1", NULL, "gateway", rig->now,
                                       error, sizeof error) == 0);
    assert (store_commit (&txn) == 0);
    assert (s_tpm_onboard (rig, &coord, NULL, "gw-e", &e, &e, false, &result)
            == WEFT_STATUS_OK);
    assert (result.created && streq (result.device, "gw-e"));
    assert (cert_decode (&cert, result.cert, result.cert_size, rig->ca.sign_public,
                         rig->now) == 0);
    ak_name = tpmverify_name (zchunk_data (e.ak), zchunk_size (e.ak));
    assert (cert.ak_name_size == CERT_AK_NAME_SIZE
            && memcmp (cert.ak_name, zchunk_data (ak_name), CERT_AK_NAME_SIZE) == 0);
    zchunk_destroy (&ak_name);
    enrolment_result_clear (&result);
    //  Its RSA EK is another key: not the one pre-registered as gw-e
    assert (s_tpm_onboard (rig, &coord, NULL, "gw-e", &a, &a, false, &result)
            != WEFT_STATUS_OK || !streq (result.device, "gw-e"));
    enrolment_result_clear (&result);
    zchunk_destroy (&e.ek);
    zchunk_destroy (&e.ak_blob);
    zchunk_destroy (&e.ak);
    keys_wipe (&e.keys);

    S_CASE ("an activation proof replayed after a revocation gets no certificate");
    //  The proof is captured within its ticket's life; then gw-a is revoked
    tpmmsg_t msg;
    s_tpm_request (&msg, MSG_TPM_ENROL_REQUEST, &a, a.ek, a.ak, false);
    assert (s_tpm_step (rig, &coord, NULL, "gw-a", &msg, a.keys.curve_public, &result)
            == WEFT_STATUS_OK && result.challenge);
    zchunk_t *captured = tpm_activate (a.tpm, a.ak_blob, result.credential, result.secret);
    assert (captured);
    uint8_t ticket [TPMMSG_TICKET_SIZE];
    memcpy (ticket, result.ticket, sizeof ticket);
    enrolment_result_clear (&result);
    s_revoke (rig, "gw-a");
    s_tpm_proof (&msg, &a, a.ek, a.ak, false, ticket, zchunk_data (captured),
                 zchunk_size (captured));
    assert (s_tpm_step (rig, &coord, NULL, "gw-a", &msg, a.keys.curve_public, &result)
            == WEFT_STATUS_DENIED);
    assert (streq (result.message, "device is revoked") && !result.cert);
    zchunk_destroy (&captured);
    //  ... and a new request gets no challenge
    assert (s_tpm_onboard (rig, &coord, NULL, "gw-a", &a, &a, false, &result)
            == WEFT_STATUS_DENIED);
    assert (streq (result.message, "device is revoked") && !result.challenge);

    S_CASE ("refuses a second enrolment claiming an existing device's id");
    //  B's EK is accepted by its certificate, but gw-a is taken
    char *bundle_b = tpm_swtpm_ca_bundle (swtpm_b);
    assert (s_tpm_onboard (rig, &coord, bundle_b, "gw-a", &b, &b, true, &result)
            == WEFT_STATUS_CONFLICT);
    assert (streq (result.message, "device id gw-a is not available"));
    //  New keys with A's own EK and AK: still another key
    s_tpm_node_t thief = a;
    keys_generate (&thief.keys);
    assert (s_tpm_onboard (rig, &coord, NULL, "gw-a", &thief, &a, false, &result)
            == WEFT_STATUS_CONFLICT);
    keys_wipe (&thief.keys);

    S_CASE ("EK accepted by a certificate chaining to the vendor CA");
    assert (s_tpm_onboard (rig, &coord, bundle_b, "gw-b", &b, &b, true, &result)
            == WEFT_STATUS_OK);
    assert (result.created);
    enrolment_result_clear (&result);
    //  Identity takeover of a device enrolled by EK certificate: B's own
    //  EK and AK, but other keys
    s_tpm_node_t other = b;
    keys_generate (&other.keys);
    assert (s_tpm_onboard (rig, &coord, bundle_b, "gw-b", &other, &b, true, &result)
            == WEFT_STATUS_CONFLICT);
    assert (streq (result.message, "device id gw-b is not available"));
    keys_wipe (&other.keys);
    //  ... and B asking for a privileged role with its certificate alone
    s_tpm_node_t srv = b;
    keys_generate (&srv.keys);
    tpmmsg_t ask;
    s_tpm_request (&ask, MSG_TPM_ENROL_REQUEST, &srv, b.ek, b.ak, true);
    strcpy (ask.device_type, "server");
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-s", &ask, srv.keys.curve_public, &result)
            == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (result.message, "enrols a gateway, not a server"));
    keys_wipe (&srv.keys);

    S_CASE ("an EK registered once is never registered again, from any tenant");
    txn = store_begin (rig->store, true);
    //  A's EK, pre-registered in acme and enrolled: not under another
    //  id or tenant, and not again as itself
    assert (enrolment_tpm_preregister (txn, "gw-stolen", zchunk_data (a.ek), zchunk_size (a.ek),
                                       "globex", "", NULL, "", rig->now, error, sizeof error)
            == -1);
    assert (streq (error, "this EK is already registered"));
    assert (enrolment_tpm_preregister (txn, "gw-a", zchunk_data (a.ek), zchunk_size (a.ek),
                                       "acme", "", NULL, "", rig->now, error, sizeof error)
            == -1);
    //  B's EK, enrolled by its certificate only
    assert (enrolment_tpm_preregister (txn, "gw-b2", zchunk_data (b.ek), zchunk_size (b.ek),
                                       "globex", "", NULL, "", rig->now, error, sizeof error)
            == -1);
    assert (streq (error, "this EK is already registered"));
    json_t *entry = enrolment_tpm_prereg_get (txn, zchunk_data (a.ek), zchunk_size (a.ek));
    assert (streq (json_string_value (json_object_get (entry, "id")), "gw-a"));
    assert (streq (json_string_value (json_object_get (entry, "tenant")), "acme"));
    json_decref (entry);
    //  A database from before the index: indexed once at start
    char hash [S_EK_HASH_HEX];
    s_ek_hash (zchunk_data (b.ek), zchunk_size (b.ek), hash);
    char *key = zsys_sprintf ("cert-ek/%s", hash);
    assert (store_del (txn, ENROLMENT_TPM_TABLE, key, strlen (key)) == 0);
    free (key);
    assert (registry_meta_put (txn, "cert_ek_index", 0) == 0);
    assert (enrolment_tpm_preregister (txn, "gw-b2", zchunk_data (b.ek), zchunk_size (b.ek),
                                       "globex", "", NULL, "", rig->now, error, sizeof error)
            == 0);              //  The hole the index closes
    store_abort (&txn);
    txn = store_begin (rig->store, true);
    key = zsys_sprintf ("cert-ek/%s", hash);
    assert (store_del (txn, ENROLMENT_TPM_TABLE, key, strlen (key)) == 0);
    free (key);
    assert (registry_meta_put (txn, "cert_ek_index", 0) == 0);
    assert (enrolment_tpm_index (txn) == 0);
    assert (enrolment_tpm_preregister (txn, "gw-b2", zchunk_data (b.ek), zchunk_size (b.ek),
                                       "globex", "", NULL, "", rig->now, error, sizeof error)
            == -1);
    assert (registry_meta_get (txn, "cert_ek_index") == 1);
    assert (enrolment_tpm_index (txn) == 0);
    assert (store_commit (&txn) == 0);

    S_CASE ("refuses an AK not resident with the EK");
    //  C: A's pre-registered EK with B's AK; neither TPM can activate
    s_tpm_node_t c;
    memset (&c, 0, sizeof c);
    keys_generate (&c.keys);
    s_tpm_request (&msg, MSG_TPM_ENROL_REQUEST, &c, a.ek, b.ak, false);
    assert (s_tpm_step (rig, &coord, NULL, "gw-c", &msg, c.keys.curve_public, &result)
            == WEFT_STATUS_CONFLICT);   //  A's EK is pre-registered as gw-a: taken
    enrolment_result_clear (&result);
    //  With an EK accepted by certificate (B's), and A's AK
    s_tpm_request (&msg, MSG_TPM_ENROL_REQUEST, &c, b.ek, a.ak, false);
    msg.ek_cert = zchunk_data (b.ek_cert);
    msg.ek_cert_size = zchunk_size (b.ek_cert);
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-c", &msg, c.keys.curve_public, &result)
            == WEFT_STATUS_OK && result.challenge);
    zchunk_t *secret_a = tpm_activate (a.tpm, a.ak_blob, result.credential, result.secret);
    zchunk_t *secret_b = tpm_activate (b.tpm, b.ak_blob, result.credential, result.secret);
    assert (!secret_a && !secret_b);    //  Neither TPM holds both
    memcpy (ticket, result.ticket, sizeof ticket);
    enrolment_result_clear (&result);
    uint8_t guess [32];
    randombytes_buf (guess, sizeof guess);
    msg.type = MSG_TPM_PROOF;
    msg.ticket = ticket;
    msg.ticket_size = sizeof ticket;
    msg.proof = guess;
    msg.proof_size = sizeof guess;
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-c", &msg, c.keys.curve_public, &result)
            == WEFT_STATUS_DENIED);
    assert (streq (result.message,
                   "activation proof does not match (not the TPM holding this EK and AK)"));
    //  An AK that is not an AK (the EK itself) is refused at once
    s_tpm_request (&msg, MSG_TPM_ENROL_REQUEST, &c, b.ek, b.ek, false);
    msg.ek_cert = zchunk_data (b.ek_cert);
    msg.ek_cert_size = zchunk_size (b.ek_cert);
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-c", &msg, c.keys.curve_public, &result)
            == WEFT_STATUS_DENIED);
    assert (strncmp (result.message, "AK refused: ", 12) == 0);

    S_CASE ("refuses a replay of another node's activation response");
    //  D captures gw-b's challenge and the secret TPM B recovered, and
    //  presents them with its own keys
    s_tpm_node_t d = b;
    keys_generate (&d.keys);
    s_tpm_request (&msg, MSG_TPM_ENROL_REQUEST, &b, b.ek, b.ak, true);
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-b", &msg, b.keys.curve_public, &result)
            == WEFT_STATUS_OK && result.challenge);
    zchunk_t *secret = tpm_activate (b.tpm, b.ak_blob, result.credential, result.secret);
    assert (secret);
    memcpy (ticket, result.ticket, sizeof ticket);
    enrolment_result_clear (&result);
    s_tpm_proof (&msg, &d, b.ek, b.ak, true, ticket, zchunk_data (secret), zchunk_size (secret));
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-d", &msg, d.keys.curve_public, &result)
            == WEFT_STATUS_DENIED);
    assert (streq (result.message,
                   "activation proof does not match (not the TPM holding this EK and AK)"));
    //  The very same proof from another connection
    s_tpm_proof (&msg, &b, b.ek, b.ak, true, ticket, zchunk_data (secret), zchunk_size (secret));
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-b", &msg, d.keys.curve_public, &result)
            == WEFT_STATUS_DENIED);
    assert (streq (result.message, "curve key does not match the connection"));
    //  ... and after the ticket expired, even from its owner
    rig->now += ENROLMENT_TICKET_TTL_S;
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-b", &msg, b.keys.curve_public, &result)
            == WEFT_STATUS_EXPIRED);
    rig->now -= ENROLMENT_TICKET_TTL_S;
    zchunk_destroy (&secret);
    keys_wipe (&d.keys);
    keys_wipe (&c.keys);

    keys_wipe (&coord);
    free (bundle_a);
    free (bundle_b);
    s_tpm_node_fini (&a);
    s_tpm_node_fini (&b);
    tpm_swtpm_destroy (&swtpm_a);
    tpm_swtpm_destroy (&swtpm_b);
    if (verbose)
        printf ("\n   ");
}

void
enrolment_test (bool verbose)
{
    printf (" * enrolment: ");
    //  @selftest
    s_rig_t rig;
    char path [] = "/tmp/weft-enrolment-test-XXXXXX";
    assert (mkdtemp (path));
    rig.store = store_new (path, registry_tables (), 0);
    assert (rig.store);
    keys_generate (&rig.ca);
    rig.pki = pki_new (&rig.ca);
    randombytes_buf (rig.coord_curve, 32);
    rig.now = 1700000000;

    keys_t node, other, third;
    keys_generate (&node);
    keys_generate (&other);
    keys_generate (&third);
    char token [WEFT_TOKEN_MAX + 1], token2 [WEFT_TOKEN_MAX + 1];
    enrolment_result_t result;

    //  Unknown token
    assert (s_enrol (&rig, "dev-1", "wt1.nonsense", &node, &result) == WEFT_STATUS_DENIED);
    assert (streq (result.message, "unknown token"));

    //  Good enrolment
    s_token (&rig, "", 3600, token);
    assert (s_enrol (&rig, "dev-1", token, &node, &result) == WEFT_STATUS_OK);
    assert (result.created);
    cert_t cert;
    assert (cert_decode (&cert, result.cert, result.cert_size, rig.ca.sign_public, rig.now) == 0);
    assert (streq (cert.subject, "dev-1"));
    assert (streq (cert.tenant, "acme"));
    assert (streq (cert.role, "gateway"));
    assert (streq (cert.path, "acme/plant-1"));     //  The token's place
    assert (memcmp (cert.curve_key, node.curve_public, 32) == 0);
    {
        store_txn_t *txn = store_begin (rig.store, false);
        json_t *device = registry_device_get (txn, "dev-1");
        store_abort (&txn);
        assert (streq (json_string_value (json_object_get (device, "path")), "acme/plant-1"));
        json_decref (device);
    }
    uint8_t *first = result.cert;
    size_t first_size = result.cert_size;
    result.cert = NULL;

    //  Lost reply: the same keys and token get the same certificate
    assert (s_enrol (&rig, "dev-1", token, &node, &result) == WEFT_STATUS_OK);
    assert (!result.created);
    assert (result.cert_size == first_size && memcmp (result.cert, first, first_size) == 0);
    enrolment_result_clear (&result);
    free (first);

    //  Revoked since: the same request again gets no certificate
    s_revoke (&rig, "dev-1");
    assert (s_enrol (&rig, "dev-1", token, &node, &result) == WEFT_STATUS_DENIED);
    assert (streq (result.message, "device is revoked") && !result.cert);

    //  Single use: another key, or another name, is refused
    assert (s_enrol (&rig, "dev-2", token, &other, &result) == WEFT_STATUS_DENIED);
    assert (streq (result.message, "token already used"));
    assert (s_enrol (&rig, "dev-1", token, &other, &result) == WEFT_STATUS_DENIED);
    assert (streq (result.message, "token already used"));

    //  Identity takeover with a fresh token is refused, token stays unused
    s_token (&rig, "", 3600, token2);
    assert (s_enrol (&rig, "dev-1", token2, &other, &result) == WEFT_STATUS_CONFLICT);
    assert (streq (result.message, "device id dev-1 is not available"));
    //  Same key under a second name
    assert (s_enrol (&rig, "dev-9", token2, &node, &result) == WEFT_STATUS_CONFLICT);
    assert (streq (result.message, "curve key already enrolled as another device"));
    //  Reserved and invalid names
    assert (s_enrol (&rig, "coordinator", token2, &other, &result) == WEFT_STATUS_BAD_REQUEST);
    assert (streq (result.message, "device name coordinator is reserved"));
    assert (s_enrol (&rig, "bad name", token2, &other, &result) == WEFT_STATUS_BAD_REQUEST);
    //  Link key differs from the request's key
    msg_enrol_request_t request;
    memset (&request, 0, sizeof request);
    strcpy (request.token, token2);
    memcpy (request.sign_key, other.sign_public, 32);
    memcpy (request.curve_key, other.curve_public, 32);
    store_txn_t *txn = store_begin (rig.store, true);
    enrolment_apply (rig.pki, txn, rig.coord_curve, "dev-2", &request,
                     third.curve_public, rig.now, &result);
    store_abort (&txn);
    assert (result.status == WEFT_STATUS_DENIED);
    assert (streq (result.message, "curve key does not match the connection"));
    //  token2 still works
    assert (s_enrol (&rig, "dev-2", token2, &other, &result) == WEFT_STATUS_OK);
    enrolment_result_clear (&result);

    //  Expiry
    s_token (&rig, "", 60, token);
    rig.now += 60;
    assert (s_enrol (&rig, "dev-3", token, &third, &result) == WEFT_STATUS_EXPIRED);
    assert (streq (result.message, "token expired"));
    //  Type bound by the token
    s_token (&rig, "server", 60, token);
    assert (s_enrol (&rig, "dev-3", token, &third, &result) == WEFT_STATUS_BAD_REQUEST);
    assert (streq (result.message, "token is for device type server"));
    //  A token without a type enrols a gateway: the device cannot ask
    //  for a privileged role itself
    s_token (&rig, "", 60, token);
    memset (&request, 0, sizeof request);
    strcpy (request.token, token);
    strcpy (request.device_type, "server");
    memcpy (request.sign_key, third.sign_public, 32);
    memcpy (request.curve_key, third.curve_public, 32);
    txn = store_begin (rig.store, true);
    enrolment_apply (rig.pki, txn, rig.coord_curve, "dev-3", &request,
                     third.curve_public, rig.now, &result);
    store_abort (&txn);
    assert (result.status == WEFT_STATUS_BAD_REQUEST);
    assert (streq (result.message, "a token without a type enrols a gateway, not a server "
                                   "(ask for a token of that type)"));
    request.device_type [0] = 0;    //  Asking for nothing: a gateway
    txn = store_begin (rig.store, true);
    enrolment_apply (rig.pki, txn, rig.coord_curve, "dev-3", &request,
                     third.curve_public, rig.now, &result);
    store_abort (&txn);
    assert (result.status == WEFT_STATUS_OK);
    cert_t gateway;
    assert (cert_decode (&gateway, result.cert, result.cert_size, rig.ca.sign_public, rig.now)
            == 0 && streq (gateway.role, "gateway"));
    enrolment_result_clear (&result);

    //  Store failures at every write: all or nothing
    s_token (&rig, "", 3600, token);
    for (int nth = 1; nth <= 8; nth++) {
        store_fail_after (rig.store, nth);
        int status = s_enrol (&rig, "dev-4", token, &third, &result);
        store_fail_after (rig.store, 0);
        enrolment_result_clear (&result);
        txn = store_begin (rig.store, false);
        json_t *device = registry_device_get (txn, "dev-4");
        json_t *record = NULL;
        tokens_status_t token_status = tokens_check (txn, token, rig.coord_curve,
                                                     rig.now, &record);
        char *holder = registry_device_by_curve (txn, third.curve_public);
        store_abort (&txn);
        if (verbose)
            printf ("\n   fail at write %d: status %d device %s", nth, status,
                    device? "yes": "no");
        if (status == WEFT_STATUS_OK) {
            assert (device && token_status == TOKENS_USED && holder);
            json_decref (device);
            json_decref (record);
            free (holder);
            break;
        }
        assert (!device);
        assert (token_status == TOKENS_OK);     //  Still unused
        assert (!holder);
        json_decref (record);
    }

    //  TPM onboarding, against real swtpm processes
    s_tpm_test (&rig, verbose);

    pki_destroy (&rig.pki);
    keys_wipe (&rig.ca);
    keys_wipe (&node);
    keys_wipe (&other);
    keys_wipe (&third);
    store_destroy (&rig.store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("%sOK\n", verbose? "\n   ": "");
}
