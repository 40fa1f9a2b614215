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
#include "proto/credential.h"
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
    free (result->release_root);
    result->release_root = NULL;
    result->release_root_size = 0;
}

//  --------------------------------------------------------------------------
//  TPM onboarding. Pre-registrations live in ENROLMENT_TPM_TABLE under
//  "ek/" + hex BLAKE2b-256 (EK public) -> {id, ek, tenant, path, tags,
//  type, created, enrolled}, and "id/" + device id -> the same EK hash,
//  so that one id is never pre-registered for two EKs. An EK enrolled
//  by its certificate has "cert-ek/" + hash -> {id}. No entry is ever
//  replaced: an EK is registered once, for good.

void
enrolment_ek_hash (const uint8_t *ek_public, size_t ek_public_size,
                   char hex [ENROLMENT_EK_HASH_HEX])
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
    char hash [ENROLMENT_EK_HASH_HEX];
    enrolment_ek_hash (ek_public, ek_public_size, hash);
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
    char hash [ENROLMENT_EK_HASH_HEX];
    enrolment_ek_hash (ek_public, ek_public_size, hash);
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
    char ek_hash [ENROLMENT_EK_HASH_HEX];
    enrolment_ek_hash (request->ek_public, request->ek_public_size, ek_hash);
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
