/*  enrol - the node's side of enrolment, without I/O
    Trust chain: the token pins the coordinator's CURVE key; the
    coordinator certificate in the reply must carry that same key and
    verify against the root key in the reply, so the root key is
    trusted because the token vouches for the coordinator, not because
    the reply says so. The reply envelope must then verify with the
    coordinator certificate's signing key, and our own certificate must
    verify against the root and carry exactly our keys and name.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "node/core/enrol.h"
#include "proto/envelope.h"
#include "proto/seal.h"
#include "proto/msg.h"
#include "proto/release.h"
#include "proto/release_fixture.h"

#define ENROL_COORDINATOR   "coordinator"

//  --------------------------------------------------------------------------
//  Parse a token.

int
enrol_token_parse (const char *text, enrol_token_t *token, char *error,
                   size_t error_size)
{
    assert (token);
    assert (error);
    memset (token, 0, sizeof *token);
    //  wt1. + 16 + . + 32 + . + 64
    const size_t expected = 4 + 16 + 1 + 32 + 1 + 64;
    if (!text || strlen (text) != expected || strncmp (text, "wt1.", 4) != 0
    ||  text [20] != '.' || text [53] != '.') {
        snprintf (error, error_size, "malformed token (expected wt1.<id>.<secret>.<key>)");
        return -1;
    }
    uint8_t id [8], secret [16];
    char part [65];
    memcpy (part, text + 4, 16);
    part [16] = 0;
    int rc = keys_unhex (part, id, sizeof id);
    memcpy (part, text + 21, 32);
    part [32] = 0;
    if (rc == 0)
        rc = keys_unhex (part, secret, sizeof secret);
    if (rc == 0)
        rc = keys_unhex (text + 54, token->server_key, WEFT_KEY_SIZE);
    sodium_memzero (secret, sizeof secret);
    sodium_memzero (part, sizeof part);
    if (rc) {
        snprintf (error, error_size, "malformed token (bad hex)");
        return -1;
    }
    memcpy (token->id, text + 4, 16);
    token->id [16] = 0;
    return 0;
}

//  --------------------------------------------------------------------------
//  Build the signed ENROL_REQUEST.

int
enrol_request_encode (const keys_t *keys, const char *name,
                      const char *device_type, const char *token,
                      uint64_t now_ms, uint8_t **frame_p, size_t *size_p)
{
    assert (keys && name && device_type && token && frame_p && size_p);
    *frame_p = NULL;
    if (strlen (name) > WEFT_NAME_MAX || strlen (device_type) > WEFT_NAME_MAX
    ||  strlen (token) > WEFT_TOKEN_MAX) {
        zsys_error ("enrol: name, type or token too long");
        return -1;
    }
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_ENROL_REQUEST;
    snprintf (msg.enrol_request.token, sizeof msg.enrol_request.token, "%s", token);
    memcpy (msg.enrol_request.sign_key, keys->sign_public, WEFT_KEY_SIZE);
    memcpy (msg.enrol_request.curve_key, keys->curve_public, WEFT_KEY_SIZE);
    snprintf (msg.enrol_request.device_type, sizeof msg.enrol_request.device_type,
              "%s", device_type);
    uint8_t *payload = NULL;
    size_t payload_size = 0;
    int rc = msg_encode (&msg, &payload, &payload_size);
    sodium_memzero (msg.enrol_request.token, sizeof msg.enrol_request.token);
    if (rc) {
        zsys_error ("enrol: encode request: %s", proto_strerror (rc));
        return -1;
    }
    envelope_head_t head = { .type = MSG_ENROL_REQUEST, .origin = name, .seq = 1,
                             .hlc = now_ms << 16, .hop_limit = 1 };
    rc = envelope_seal (&head, payload, payload_size, keys->sign_secret, NULL,
                        frame_p, size_p);
    sodium_memzero (payload, payload_size);     //  holds the token secret
    free (payload);
    if (rc) {
        zsys_error ("enrol: encode envelope: %s", proto_strerror (rc));
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Check a reply.

int
enrol_response_check (const uint8_t *frame, size_t size, const keys_t *keys,
                      const char *name, const uint8_t server_key [WEFT_KEY_SIZE],
                      uint64_t now_s, enrol_result_t *result, char *error,
                      size_t error_size)
{
    assert (keys && name && server_key && result && error);
    memset (result, 0, sizeof *result);
    envelope_t env;
    int rc = envelope_decode (&env, frame, size);
    if (rc) {
        snprintf (error, error_size, "malformed reply from coordinator (%s)",
                  proto_strerror (rc));
        return PROTO_ERR_BAD_REPLY;
    }
    if (env.type != MSG_ENROL_RESPONSE || strcmp (env.origin, ENROL_COORDINATOR)) {
        snprintf (error, error_size, "unexpected reply from coordinator");
        return PROTO_ERR_BAD_REPLY;
    }
    msg_t msg;
    rc = msg_decode (&msg, MSG_ENROL_RESPONSE, env.payload, env.payload_size);
    if (rc) {
        snprintf (error, error_size, "malformed reply from coordinator (%s)",
                  proto_strerror (rc));
        return PROTO_ERR_BAD_REPLY;
    }
    msg_enrol_response_t *response = &msg.enrol_response;
    if (response->status != WEFT_STATUS_OK) {
        //  The link is authenticated with the token's server key, so
        //  the refusal comes from the coordinator the token names.
        snprintf (error, error_size, "%s", *response->message
                  ? response->message: proto_status_name (response->status));
        return PROTO_ERR_REFUSED;
    }
    rc = cert_decode (&result->coord, response->coord_cert,
                      response->coord_cert_size, response->ca_key, now_s);
    if (rc) {
        snprintf (error, error_size, "coordinator certificate does not verify (%s)",
                  proto_strerror (rc));
        return PROTO_ERR_BAD_REPLY;
    }
    if (result->coord.kind != CERT_KIND_COORDINATOR
    ||  sodium_memcmp (result->coord.curve_key, server_key, WEFT_KEY_SIZE) != 0) {
        snprintf (error, error_size,
                  "coordinator certificate does not match the token's server key");
        return PROTO_ERR_BAD_REPLY;
    }
    if (envelope_verify (&env, result->coord.sign_key) != 0) {
        snprintf (error, error_size, "reply signature does not verify");
        return PROTO_ERR_BAD_REPLY;
    }
    rc = cert_decode (&result->node, response->cert, response->cert_size,
                      response->ca_key, now_s);
    if (rc) {
        snprintf (error, error_size, "our certificate does not verify (%s)",
                  proto_strerror (rc));
        return PROTO_ERR_BAD_REPLY;
    }
    if (result->node.kind != CERT_KIND_NODE
    ||  memcmp (result->node.sign_key, keys->sign_public, WEFT_KEY_SIZE) != 0
    ||  memcmp (result->node.curve_key, keys->curve_public, WEFT_KEY_SIZE) != 0
    ||  strcmp (result->node.subject, name) != 0) {
        snprintf (error, error_size, "our certificate does not carry our name and keys");
        return PROTO_ERR_BAD_REPLY;
    }
    if (response->release_root_size
    &&  enrol_release_root_check (response->release_root, response->release_root_size,
                                  result->node.tenant, error, error_size)) {
        char reason [256];
        snprintf (reason, sizeof reason, "%s", error);
        snprintf (error, error_size, "release root in the reply refused: %s", reason);
        return PROTO_ERR_BAD_REPLY;
    }
    memcpy (result->ca_key, response->ca_key, WEFT_KEY_SIZE);
    if (response->release_root_size) {
        result->release_root = (uint8_t *) zmalloc (response->release_root_size);
        memcpy (result->release_root, response->release_root, response->release_root_size);
        result->release_root_size = response->release_root_size;
    }
    result->cert = (uint8_t *) zmalloc (response->cert_size);
    memcpy (result->cert, response->cert, response->cert_size);
    result->cert_size = response->cert_size;
    result->coord_cert = (uint8_t *) zmalloc (response->coord_cert_size);
    memcpy (result->coord_cert, response->coord_cert, response->coord_cert_size);
    result->coord_cert_size = response->coord_cert_size;
    return 0;
}

//  --------------------------------------------------------------------------
//  A release root to pin.

int
enrol_release_root_check (const uint8_t *root, size_t size, const char *tenant,
                          char *error, size_t error_size)
{
    assert (tenant && error);
    release_role_t role;
    const uint8_t *body;
    size_t body_size;
    release_root_t decoded;
    if (!root || size == 0 || size > MSG_RELEASE_ROOT_MAX
    ||  release_open (root, size, &role, &body, &body_size) || role != RELEASE_ROOT
    ||  release_root_decode (&decoded, body, body_size)) {
        snprintf (error, error_size, "not a signed release root");
        return -1;
    }
    if (!*tenant || !streq (decoded.tenant, tenant)) {
        snprintf (error, error_size, "the root is tenant %s's, this device is %s's",
                  decoded.tenant, *tenant? tenant: "in no tenant");
        return -1;
    }
    //  Its own threshold, at time 0: the expiry is not ours to judge here
    release_trust_t trust;
    int rc = release_trust_init (&trust, root, size, 0);
    if (rc) {
        snprintf (error, error_size, "%s", release_strerror (rc));
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  TPM onboarding: request or proof.

int
enrol_tpm_request_encode (const keys_t *keys, const char *name, const char *device_type,
                          const char *token, zchunk_t *ek_public, zchunk_t *ek_cert,
                          zchunk_t *ak_public, const uint8_t *ticket, const uint8_t *proof,
                          uint64_t now_ms, uint8_t **frame_p, size_t *size_p)
{
    assert (keys && name && device_type && ek_public && ak_public && frame_p && size_p);
    *frame_p = NULL;
    if (strlen (name) > WEFT_NAME_MAX || strlen (device_type) > WEFT_NAME_MAX
    ||  (token && strlen (token) > WEFT_TOKEN_MAX)) {
        zsys_error ("enrol: name, type or token too long");
        return PROTO_ERR_REFUSED;
    }
    tpmmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = ticket? MSG_TPM_PROOF: MSG_TPM_ENROL_REQUEST;
    snprintf (msg.token, sizeof msg.token, "%s", token? token: "");
    memcpy (msg.sign_key, keys->sign_public, WEFT_KEY_SIZE);
    memcpy (msg.curve_key, keys->curve_public, WEFT_KEY_SIZE);
    snprintf (msg.device_type, sizeof msg.device_type, "%s", device_type);
    msg.ek_public = zchunk_data (ek_public);
    msg.ek_public_size = zchunk_size (ek_public);
    if (ek_cert) {
        msg.ek_cert = zchunk_data (ek_cert);
        msg.ek_cert_size = zchunk_size (ek_cert);
    }
    msg.ak_public = zchunk_data (ak_public);
    msg.ak_public_size = zchunk_size (ak_public);
    if (ticket) {
        assert (proof);
        msg.ticket = ticket;
        msg.ticket_size = TPMMSG_TICKET_SIZE;
        msg.proof = proof;
        msg.proof_size = TPMMSG_PROOF_SIZE;
    }
    uint8_t *payload = NULL;
    size_t payload_size = 0;
    int rc = tpmmsg_encode (&msg, &payload, &payload_size);
    sodium_memzero (msg.token, sizeof msg.token);
    if (rc) {
        zsys_error ("enrol: encode TPM request: %s", proto_strerror (rc));
        return PROTO_ERR_REFUSED;
    }
    envelope_head_t head = { .type = msg.type, .origin = name, .seq = ticket? 2: 1,
                             .hlc = now_ms << 16, .hop_limit = 1 };
    rc = envelope_seal (&head, payload, payload_size, keys->sign_secret, NULL,
                        frame_p, size_p);
    sodium_memzero (payload, payload_size);
    free (payload);
    if (rc) {
        zsys_error ("enrol: encode envelope: %s", proto_strerror (rc));
        return PROTO_ERR_REFUSED;
    }
    return 0;
}

int
enrol_tpm_challenge_decode (const uint8_t *frame, size_t size,
                            enrol_tpm_challenge_t *challenge, char *error, size_t error_size)
{
    assert (challenge && error);
    memset (challenge, 0, sizeof *challenge);
    envelope_t env;
    int rc = envelope_decode (&env, frame, size);
    if (rc == 0 && env.type == MSG_ENROL_RESPONSE)
        return 1;
    if (rc || env.type != MSG_TPM_CHALLENGE || strcmp (env.origin, ENROL_COORDINATOR)) {
        snprintf (error, error_size, "unexpected reply from coordinator");
        return PROTO_ERR_BAD_REPLY;
    }
    //  The CURVE link is authenticated with the coordinator's key, so the
    //  challenge comes from it; the certificate that follows is checked
    //  in full by enrol_response_check
    tpmmsg_t msg;
    rc = tpmmsg_decode (&msg, MSG_TPM_CHALLENGE, env.payload, env.payload_size);
    if (rc) {
        snprintf (error, error_size, "malformed TPM challenge (%s)", proto_strerror (rc));
        return PROTO_ERR_BAD_REPLY;
    }
    snprintf (challenge->device, sizeof challenge->device, "%s", msg.device);
    challenge->credential = zchunk_new (msg.credential, msg.credential_size);
    challenge->secret = zchunk_new (msg.secret, msg.secret_size);
    memcpy (challenge->ticket, msg.ticket, TPMMSG_TICKET_SIZE);
    return 0;
}

void
enrol_tpm_challenge_clear (enrol_tpm_challenge_t *challenge)
{
    if (challenge) {
        zchunk_destroy (&challenge->credential);
        zchunk_destroy (&challenge->secret);
        memset (challenge, 0, sizeof *challenge);
    }
}

//  --------------------------------------------------------------------------
//  Free the copies in a result.

void
enrol_result_clear (enrol_result_t *result)
{
    if (result) {
        free (result->cert);
        free (result->coord_cert);
        free (result->release_root);
        memset (result, 0, sizeof *result);
    }
}

//  --------------------------------------------------------------------------
//  Selftest helpers: a coordinator's reply, signed by coord_keys.

static uint8_t *
    s_test_reply_root (const keys_t *coord_keys, int status, const char *message,
                       const uint8_t *cert, size_t cert_size, const uint8_t *ca_key,
                       const uint8_t *coord_cert, size_t coord_cert_size,
                       const uint8_t *root, size_t root_size, size_t *size_p);

static uint8_t *
s_test_reply (const keys_t *coord_keys, int status, const char *message,
              const uint8_t *cert, size_t cert_size, const uint8_t *ca_key,
              const uint8_t *coord_cert, size_t coord_cert_size, size_t *size_p)
{
    return s_test_reply_root (coord_keys, status, message, cert, cert_size, ca_key,
                              coord_cert, coord_cert_size, NULL, 0, size_p);
}

//  The same with a release root
static uint8_t *
s_test_reply_root (const keys_t *coord_keys, int status, const char *message,
                   const uint8_t *cert, size_t cert_size, const uint8_t *ca_key,
                   const uint8_t *coord_cert, size_t coord_cert_size,
                   const uint8_t *root, size_t root_size, size_t *size_p)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_ENROL_RESPONSE;
    msg.enrol_response.status = status;
    snprintf (msg.enrol_response.message, sizeof msg.enrol_response.message, "%s", message);
    msg.enrol_response.cert = cert;
    msg.enrol_response.cert_size = cert_size;
    if (ca_key)
        memcpy (msg.enrol_response.ca_key, ca_key, WEFT_KEY_SIZE);
    msg.enrol_response.coord_cert = coord_cert;
    msg.enrol_response.coord_cert_size = coord_cert_size;
    msg.enrol_response.release_root = root;
    msg.enrol_response.release_root_size = root_size;
    uint8_t *payload;
    size_t payload_size;
    int rc = msg_encode (&msg, &payload, &payload_size);
    assert (rc == 0);
    envelope_head_t head = { .type = MSG_ENROL_RESPONSE, .origin = ENROL_COORDINATOR,
                             .seq = 1, .hop_limit = 1 };
    uint8_t *frame;
    rc = envelope_seal (&head, payload, payload_size, coord_keys->sign_secret, NULL,
                        &frame, size_p);
    assert (rc == 0);
    free (payload);
    return frame;
}

void
enrol_test (bool verbose)
{
    printf (" * enrol: ");
    //  @selftest
    keys_t ca, coord, node, other;
    keys_generate (&ca);
    keys_generate (&coord);
    keys_generate (&node);
    keys_generate (&other);
    char coord_curve_hex [65];
    keys_hex (coord.curve_public, WEFT_KEY_SIZE, coord_curve_hex);
    char text [200];
    snprintf (text, sizeof text, "wt1.0123456789abcdef.%s.%s",
              "00112233445566778899aabbccddeeff", coord_curve_hex);
    enrol_token_t token;
    char error [256];
    assert (enrol_token_parse (text, &token, error, sizeof error) == 0);
    assert (streq (token.id, "0123456789abcdef"));
    assert (memcmp (token.server_key, coord.curve_public, WEFT_KEY_SIZE) == 0);
    assert (enrol_token_parse ("wt1.nope", &token, error, sizeof error) == -1);
    assert (enrol_token_parse (NULL, &token, error, sizeof error) == -1);
    text [30] = 'x';
    assert (enrol_token_parse (text, &token, error, sizeof error) == -1);
    text [30] = '0';
    assert (enrol_token_parse (text, &token, error, sizeof error) == 0);

    //  The request is signed by the node's new key, origin = name
    uint8_t *frame;
    size_t size;
    assert (enrol_request_encode (&node, "gw-1", "gateway", text, 1000, &frame, &size) == 0);
    envelope_t env;
    assert (envelope_decode (&env, frame, size) == 0);
    assert (env.type == MSG_ENROL_REQUEST && env.seq == 1);
    assert (streq (env.origin, "gw-1"));
    assert (envelope_verify (&env, node.sign_public) == 0);
    msg_t msg;
    assert (msg_decode (&msg, MSG_ENROL_REQUEST, env.payload, env.payload_size) == 0);
    assert (streq (msg.enrol_request.token, text));
    assert (memcmp (msg.enrol_request.curve_key, node.curve_public, WEFT_KEY_SIZE) == 0);
    free (frame);

    //  Certificates
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.serial = 1;
    cert.kind = CERT_KIND_COORDINATOR;
    strcpy (cert.subject, "coordinator");
    memcpy (cert.sign_key, coord.sign_public, WEFT_KEY_SIZE);
    memcpy (cert.curve_key, coord.curve_public, WEFT_KEY_SIZE);
    cert.not_after = 4000000000ULL;
    uint8_t *coord_cert;
    size_t coord_cert_size;
    assert (cert_encode (&cert, ca.sign_secret, &coord_cert, &coord_cert_size) == 0);
    cert.serial = 2;
    cert.kind = CERT_KIND_NODE;
    strcpy (cert.subject, "gw-1");
    strcpy (cert.tenant, "acme");
    strcpy (cert.role, "gateway");
    memcpy (cert.sign_key, node.sign_public, WEFT_KEY_SIZE);
    memcpy (cert.curve_key, node.curve_public, WEFT_KEY_SIZE);
    uint8_t *node_cert;
    size_t node_cert_size;
    assert (cert_encode (&cert, ca.sign_secret, &node_cert, &node_cert_size) == 0);

    //  Accepted
    enrol_result_t result;
    frame = s_test_reply (&coord, WEFT_STATUS_OK, "", node_cert, node_cert_size,
                          ca.sign_public, coord_cert, coord_cert_size, &size);
    int rc = enrol_response_check (frame, size, &node, "gw-1", coord.curve_public,
                                   0, &result, error, sizeof error);
    assert (rc == 0);
    assert (streq (result.node.tenant, "acme"));
    assert (result.cert_size == node_cert_size);
    assert (memcmp (result.ca_key, ca.sign_public, WEFT_KEY_SIZE) == 0);
    enrol_result_clear (&result);
    enrol_result_clear (&result);

    //  Wrong name, wrong server key, truncated
    assert (enrol_response_check (frame, size, &node, "gw-2", coord.curve_public,
                                  0, &result, error, sizeof error) == PROTO_ERR_BAD_REPLY);
    assert (enrol_response_check (frame, size, &node, "gw-1", other.curve_public,
                                  0, &result, error, sizeof error) == PROTO_ERR_BAD_REPLY);
    assert (enrol_response_check (frame, size - 3, &node, "gw-1", coord.curve_public,
                                  0, &result, error, sizeof error) == PROTO_ERR_BAD_REPLY);
    assert (enrol_response_check (frame, size, &other, "gw-1", coord.curve_public,
                                  0, &result, error, sizeof error) == PROTO_ERR_BAD_REPLY);
    free (frame);

    //  Signed by someone else
    frame = s_test_reply (&other, WEFT_STATUS_OK, "", node_cert, node_cert_size,
                          ca.sign_public, coord_cert, coord_cert_size, &size);
    assert (enrol_response_check (frame, size, &node, "gw-1", coord.curve_public,
                                  0, &result, error, sizeof error) == PROTO_ERR_BAD_REPLY);
    free (frame);

    //  The tenant's release root comes with the certificate, checked:
    //  signed by its own threshold, of our tenant
    release_fixture_t k;
    release_fixture_keys (&k);
    size_t root_size;
    uint8_t *root = release_fixture_root (&k, 1, FIXTURE_NOW + FIXTURE_DAY, k.root, 2,
                                          k.root, &root_size);
    frame = s_test_reply_root (&coord, WEFT_STATUS_OK, "", node_cert, node_cert_size,
                               ca.sign_public, coord_cert, coord_cert_size, root, root_size,
                               &size);
    assert (enrol_response_check (frame, size, &node, "gw-1", coord.curve_public,
                                  0, &result, error, sizeof error) == 0);
    assert (result.release_root_size == root_size
            && memcmp (result.release_root, root, root_size) == 0);
    enrol_result_clear (&result);
    free (frame);
    assert (enrol_release_root_check (root, root_size, "acme", error, sizeof error) == 0);
    assert (enrol_release_root_check (root, root_size, "", error, sizeof error) == -1);
    assert (enrol_release_root_check (root, root_size - 1, "acme", error, sizeof error) == -1);
    assert (streq (error, "not a signed release root"));
    free (root);
    //  Another tenant's root, one short of its threshold, not a root
    uint8_t *roots [3];
    size_t sizes [3];
    roots [0] = release_fixture_root_of (&k, "globex", 1, FIXTURE_NOW + FIXTURE_DAY, k.root, 2,
                                         k.root, &sizes [0]);
    roots [1] = release_fixture_root (&k, 1, FIXTURE_NOW + FIXTURE_DAY, k.root, 1, k.root,
                                      &sizes [1]);
    uint8_t body [4] = { 0x94, 1, 2, 3 };
    roots [2] = release_fixture_sign (RELEASE_TARGETS, body, sizeof body, k.targets, 2,
                                      &sizes [2]);
    const char *why [3] = { "tenant globex's", "threshold", "not a signed release root" };
    for (int i = 0; i < 3; i++) {
        frame = s_test_reply_root (&coord, WEFT_STATUS_OK, "", node_cert, node_cert_size,
                                   ca.sign_public, coord_cert, coord_cert_size, roots [i],
                                   sizes [i], &size);
        assert (enrol_response_check (frame, size, &node, "gw-1", coord.curve_public, 0,
                                      &result, error, sizeof error) == PROTO_ERR_BAD_REPLY);
        assert (strstr (error, "release root in the reply refused"));
        assert (strstr (error, why [i]));
        assert (!result.cert && !result.release_root);
        free (frame);
        free (roots [i]);
    }

    //  Refused: the coordinator's message comes through
    frame = s_test_reply (&coord, WEFT_STATUS_DENIED, "token already used", NULL, 0,
                          NULL, NULL, 0, &size);
    assert (enrol_response_check (frame, size, &node, "gw-1", coord.curve_public,
                                  0, &result, error, sizeof error) == PROTO_ERR_REFUSED);
    assert (streq (error, "token already used"));
    free (frame);
    free (node_cert);
    free (coord_cert);
    keys_wipe (&ca);
    keys_wipe (&coord);
    keys_wipe (&node);
    keys_wipe (&other);
    if (verbose)
        printf ("(token, request, reply checks) ");
    //  @end
    printf ("OK\n");
}
