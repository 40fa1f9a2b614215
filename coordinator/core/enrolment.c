/*  enrolment - the coordinator's side of device enrolment
    Checks, in this order, each with its own message so an operator can
    tell from a node's log what went wrong:
        curve key of the request = the link's key     DENIED
        device name valid, not "coordinator"           BAD_REQUEST
        token known, secret right                      DENIED "unknown token"
        token unused (or this device's own retry)      DENIED "token already used"
        token unexpired                                EXPIRED "token expired"
        name not held by another key                   CONFLICT (takeover)
        curve key not held by another device           CONFLICT
        device type allowed by the token               BAD_REQUEST
    A retry by the same keys with the same token (the reply was lost)
    gets the stored certificate again rather than a refusal, so a node
    never ends up with a used token and no certificate.  */

#include <czmq.h>
#include <sodium.h>
#include "proto/keys.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/tokens.h"
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

//  The stored certificate of a device, for a retry.

static void
s_resend (json_t *device, enrolment_result_t *result)
{
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
    if (device) {
        if (s_same_keys (device, request))
            s_refuse (result, WEFT_STATUS_CONFLICT, "device %s is already enrolled", name);
        else
            s_refuse (result, WEFT_STATUS_CONFLICT,
                      "device id already enrolled with another key");
        goto done;
    }
    holder = registry_device_by_curve (txn, request->curve_key);
    if (holder) {
        s_refuse (result, WEFT_STATUS_CONFLICT, "curve key already enrolled as another device");
        goto done;
    }
    const char *token_type = json_string_value (json_object_get (token, "type"));
    const char *type = request->device_type [0]? request->device_type
                     : token_type && *token_type? token_type: "gateway";
    if (token_type && *token_type && !streq (token_type, type)) {
        s_refuse (result, WEFT_STATUS_BAD_REQUEST, "token is for device type %s", token_type);
        goto done;
    }
    if (!registry_name_valid (type)) {
        s_refuse (result, WEFT_STATUS_BAD_REQUEST, "invalid device type");
        goto done;
    }
    const char *tenant = json_string_value (json_object_get (token, "tenant"));
    if (!tenant)
        tenant = "";

    //  All checks passed: certificate, token, device, index, twin
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.kind = CERT_KIND_NODE;
    snprintf (cert.subject, sizeof cert.subject, "%s", name);
    snprintf (cert.tenant, sizeof cert.tenant, "%s", tenant);
    snprintf (cert.role, sizeof cert.role, "%s", type);
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
    assert (tokens_create (txn, "acme", type, ttl, rig->now, rig->coord_curve,
                           text, id, NULL) == 0);
    assert (store_commit (&txn) == 0);
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
    assert (memcmp (cert.curve_key, node.curve_public, 32) == 0);
    uint8_t *first = result.cert;
    size_t first_size = result.cert_size;
    result.cert = NULL;

    //  Lost reply: the same keys and token get the same certificate
    assert (s_enrol (&rig, "dev-1", token, &node, &result) == WEFT_STATUS_OK);
    assert (!result.created);
    assert (result.cert_size == first_size && memcmp (result.cert, first, first_size) == 0);
    enrolment_result_clear (&result);
    free (first);

    //  Single use: another key, or another name, is refused
    assert (s_enrol (&rig, "dev-2", token, &other, &result) == WEFT_STATUS_DENIED);
    assert (streq (result.message, "token already used"));
    assert (s_enrol (&rig, "dev-1", token, &other, &result) == WEFT_STATUS_DENIED);
    assert (streq (result.message, "token already used"));

    //  Identity takeover with a fresh token is refused, token stays unused
    s_token (&rig, "", 3600, token2);
    assert (s_enrol (&rig, "dev-1", token2, &other, &result) == WEFT_STATUS_CONFLICT);
    assert (streq (result.message, "device id already enrolled with another key"));
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
