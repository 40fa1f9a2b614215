/*  coord_enrol - the enrolment socket: a device's first envelope, by
    enrolment token (enrolment_apply) or by TPM credential activation
    (enrolment_tpm_apply). The link's CURVE key is the key the device
    asks a certificate for; an enrolment that creates a device commits
    with its audit record in one transaction. The certificate goes with
    the release root of the tenant it names (relroot.h), read in the
    same transaction, which the device pins.  */

#include "proto/corelib.h"
#include "proto/tpmmsg.h"
#include <sodium.h>
#include "coordinator/core/enrolment.h"
#include "coordinator/core/tokens.h"
#include "coordinator/core/audit.h"
#include "coordinator/core/relroot.h"
#include "coordinator/core/coord_internal.h"

//  Record an enrolment in the audit log, in its transaction
static int
s_audit_enrol (store_txn_t *txn, pki_t *pki, const char *id, const char *method,
               const char *peer, uint64_t now_ms)
{
    json_t *device = registry_device_get (txn, id);
    json_t *detail = json_pack ("{s:s, s:O}", "method", method, "cert_serial",
                                json_object_get (device, "cert_serial")?: json_null ());
    audit_entry_t entry = { id, "enrol", device? registry_device_scope (device): "", id,
                            WEFT_STATUS_OK, detail, peer,
                            json_string_value (json_object_get (device, "tenant")) };
    int rc = audit_append (txn, pki, now_ms, &entry);
    json_decref (detail);
    json_decref (device);
    return rc;
}

//  Record a refused enrolment (coord_audit_refusal): the device id it
//  asked for, the reason, the token's id (never its secret), the tenant
//  its token or EK pre-registration names
static void
s_audit_refused (coord_t *self, const char *id, const char *method, const char *token,
                 const char *peer, const enrolment_result_t *result, uint64_t now_ms)
{
    json_t *detail = json_pack ("{s:s, s:s}", "method", method, "error", result->message);
    char token_id [2 * TOKENS_ID_SIZE + 1];
    uint8_t secret [TOKENS_SECRET_SIZE], curve [32];
    if (token && tokens_parse (token, token_id, secret, curve) == 0)
        json_object_set_new (detail, "token_id", json_string (token_id));
    sodium_memzero (secret, sizeof secret);
    audit_entry_t entry = { *id? id: "?", "enrol", result->tenant, id, result->status, detail,
                            peer, result->tenant };
    coord_audit_refusal (self, now_ms, &entry);
    json_decref (detail);
}

//  --------------------------------------------------------------------------
//  What the token and the TPM paths share: the request's checks, the
//  decision in one write transaction, committed with its audit record
//  when it created a device, the counters and the log line.

//  The decision of one path in txn; sets result->device to the device
//  it enrols
typedef void (s_enrol_apply_fn) (coord_t *self, store_txn_t *txn, const envelope_t *env,
                                 const void *request, const uint8_t link_key [32],
                                 uint64_t now_ms, enrolment_result_t *result);

typedef struct {
    const char *request;            //  Its name in messages and logs
    const char *method;             //  In the audit record
    const char *how;                //  Follows "enrolled device ID" in the log
    s_enrol_apply_fn *apply;        //  The decision
} s_enrol_path_t;

//  On a certificate, the release root of the tenant it names, into
//  result->release_root (none if the tenant has none)
static void
s_release_root (coord_t *self, store_txn_t *txn, enrolment_result_t *result)
{
    cert_t cert;
    if (result->status != WEFT_STATUS_OK || !result->cert
    ||  cert_decode (&cert, result->cert, result->cert_size, pki_ca_key (self->pki), 0)
    ||  !*cert.tenant)
        return;
    result->release_root = relroot_get (txn, cert.tenant, &result->release_root_size);
}

//  decode_rc is the request payload's decoding; sign_key the key the
//  request names, which must verify env. result has the outcome.
static void
s_enrol_decide (coord_t *self, const s_enrol_path_t *path, const envelope_t *env,
                int decode_rc, const uint8_t *sign_key, const void *request,
                const char *token, const char *peer, const uint8_t link_key [32],
                uint64_t now_ms, enrolment_result_t *result)
{
    if (decode_rc) {
        self->stats.rejected_malformed++;
        result->status = WEFT_STATUS_BAD_REQUEST;
        snprintf (result->message, sizeof result->message, "malformed %s request",
                  path->request);
    }
    else
    if (envelope_verify (env, sign_key)) {
        self->stats.rejected_signature++;
        result->status = WEFT_STATUS_DENIED;
        snprintf (result->message, sizeof result->message,
                  "signature does not verify with the request's sign key");
    }
    else
    if (coord_envelope_expired (self, env, now_ms)) {
        result->status = WEFT_STATUS_EXPIRED;
        snprintf (result->message, sizeof result->message, "request expired");
    }
    else {
        store_txn_t *txn = store_begin (self->store, true);
        if (!txn) {
            result->status = WEFT_STATUS_INTERNAL;
            snprintf (result->message, sizeof result->message, "store unavailable");
        }
        else {
            path->apply (self, txn, env, request, link_key, now_ms, result);
            s_release_root (self, txn, result);
            if (result->created
            && (s_audit_enrol (txn, self->pki, result->device, path->method, peer, now_ms)
                || store_commit (&txn))) {
                enrolment_result_clear (result);
                result->status = WEFT_STATUS_INTERNAL;
                snprintf (result->message, sizeof result->message, "store write failed");
            }
            store_abort (&txn);
        }
    }
    if (result->created) {
        self->stats.enrolments++;
        zsys_info ("coord: enrolled device %s%s", result->device, path->how);
    }
    else
    if (result->status != WEFT_STATUS_OK) {
        self->stats.enrol_refused++;
        zsys_info ("coord: %s of %s refused: %s", path->request, env->origin, result->message);
        if (result->status != WEFT_STATUS_INTERNAL)
            s_audit_refused (self, env->origin, path->method, token, peer, result, now_ms);
    }
}

//  Seal the ENROL_RESPONSE with result's certificate or refusal, and
//  clear result
static int
s_enrol_response (coord_t *self, enrolment_result_t *result, uint64_t now_ms,
                  uint8_t **reply_p, size_t *reply_size_p)
{
    msg_t reply;
    memset (&reply, 0, sizeof reply);
    reply.type = MSG_ENROL_RESPONSE;
    reply.enrol_response.status = result->status;
    snprintf (reply.enrol_response.message, sizeof reply.enrol_response.message,
              "%s", result->message);
    reply.enrol_response.cert = result->cert;
    reply.enrol_response.cert_size = result->cert_size;
    memcpy (reply.enrol_response.ca_key, pki_ca_key (self->pki), WEFT_KEY_SIZE);
    reply.enrol_response.coord_cert = self->cert;
    reply.enrol_response.coord_cert_size = self->cert_size;
    reply.enrol_response.release_root = result->release_root;
    reply.enrol_response.release_root_size = result->release_root_size;
    int rc = coord_seal (self, NULL, &reply, now_ms, reply_p, reply_size_p);
    enrolment_result_clear (result);
    return rc? PROTO_ERR_INTERNAL: 0;
}

//  --------------------------------------------------------------------------
//  TPM onboarding on the enrolment socket (enrolment_tpm_apply): the
//  answer is a TPM_CHALLENGE, or an ENROL_RESPONSE with the certificate
//  or the refusal.

static void
s_apply_tpm (coord_t *self, store_txn_t *txn, const envelope_t *env, const void *request,
             const uint8_t link_key [32], uint64_t now_ms, enrolment_result_t *result)
{
    size_t ca_size = 0;
    char *ca = enrolment_tpm_ca (txn, &ca_size);
    enrolment_tpm_apply (self->pki, txn, &self->keys, ca, ca_size, env->origin,
                         (const tpmmsg_t *) request, link_key, now_ms / 1000, result);
    free (ca);
}

static const s_enrol_path_t s_tpm_path = {
    "TPM enrolment", "tpm", " by TPM credential activation", s_apply_tpm
};

static int
s_on_tpm_enrol (coord_t *self, const char *user_id, const char *peer, envelope_t *env,
                uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p)
{
    uint8_t link_key [32];
    if (!user_id || strlen (user_id) != 64 || keys_unhex (user_id, link_key, 32)) {
        self->stats.rejected_origin++;
        return PROTO_ERR_DROPPED;
    }
    tpmmsg_t request;
    enrolment_result_t result;
    memset (&result, 0, sizeof result);
    int rc = tpmmsg_decode (&request, env->type, env->payload, env->payload_size);
    s_enrol_decide (self, &s_tpm_path, env, rc, request.sign_key, &request,
                    rc == 0? request.token: NULL, peer, link_key, now_ms, &result);
    if (result.challenge) {
        tpmmsg_t challenge;
        memset (&challenge, 0, sizeof challenge);
        challenge.type = MSG_TPM_CHALLENGE;
        snprintf (challenge.device, sizeof challenge.device, "%s", result.device);
        challenge.credential = zchunk_data (result.credential);
        challenge.credential_size = zchunk_size (result.credential);
        challenge.secret = zchunk_data (result.secret);
        challenge.secret_size = zchunk_size (result.secret);
        challenge.ticket = result.ticket;
        challenge.ticket_size = sizeof result.ticket;
        uint8_t *payload = NULL;
        size_t payload_size = 0;
        rc = tpmmsg_encode (&challenge, &payload, &payload_size);
        if (rc == 0)
            rc = coord_seal_payload (self, NULL, MSG_TPM_CHALLENGE, payload, payload_size, now_ms,
                                     reply_p, reply_size_p);
        free (payload);
        enrolment_result_clear (&result);
        return rc? PROTO_ERR_INTERNAL: 0;
    }
    return s_enrol_response (self, &result, now_ms, reply_p, reply_size_p);
}

//  --------------------------------------------------------------------------
//  Enrolment socket

//  A token enrols the device the envelope's origin names
static void
s_apply_token (coord_t *self, store_txn_t *txn, const envelope_t *env, const void *request,
               const uint8_t link_key [32], uint64_t now_ms, enrolment_result_t *result)
{
    enrolment_apply (self->pki, txn, self->keys.curve_public, env->origin,
                     (const msg_enrol_request_t *) request, link_key, now_ms / 1000, result);
    snprintf (result->device, sizeof result->device, "%s", env->origin);
}

static const s_enrol_path_t s_token_path = {
    "enrolment", "token", "", s_apply_token
};

int
coord_on_enrol (coord_t *self, const char *user_id, const char *peer, const uint8_t *frame,
                size_t size, uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p)
{
    assert (self && reply_p && reply_size_p);
    *reply_p = NULL;
    envelope_t env;
    msg_t msg;
    uint8_t link_key [32];
    int rc = envelope_decode (&env, frame, size);
    if (rc == 0 && (env.type == MSG_TPM_ENROL_REQUEST || env.type == MSG_TPM_PROOF))
        return s_on_tpm_enrol (self, user_id, peer, &env, now_ms, reply_p, reply_size_p);
    if (rc) {
        //  Not an envelope: nothing to answer
        self->stats.rejected_malformed++;
        self->stats.enrol_refused++;
        coord_debug (self, "coord: bad enrolment envelope: %s", proto_strerror (rc));
        return PROTO_ERR_DROPPED;
    }
    if (env.type != MSG_ENROL_REQUEST) {
        self->stats.rejected_malformed++;
        self->stats.enrol_refused++;
        enrolment_result_t refusal;
        memset (&refusal, 0, sizeof refusal);
        refusal.status = WEFT_STATUS_BAD_REQUEST;
        snprintf (refusal.message, sizeof refusal.message, "%s on the enrolment socket, "
                  "which takes ENROL_REQUEST, TPM_ENROL_REQUEST and TPM_PROOF",
                  proto_msg_name (env.type)? proto_msg_name (env.type): "unknown type");
        return s_enrol_response (self, &refusal, now_ms, reply_p, reply_size_p);
    }
    if (!user_id || strlen (user_id) != 64 || keys_unhex (user_id, link_key, 32)) {
        self->stats.rejected_origin++;
        return PROTO_ERR_DROPPED;
    }
    enrolment_result_t result;
    memset (&result, 0, sizeof result);
    rc = msg_decode (&msg, MSG_ENROL_REQUEST, env.payload, env.payload_size);
    s_enrol_decide (self, &s_token_path, &env, rc, msg.enrol_request.sign_key,
                    &msg.enrol_request, rc == 0? msg.enrol_request.token: NULL, peer, link_key,
                    now_ms, &result);
    if (!result.created && result.status == WEFT_STATUS_OK)
        zsys_info ("coord: device %s enrolment repeated, same certificate", env.origin);
    return s_enrol_response (self, &result, now_ms, reply_p, reply_size_p);
}
