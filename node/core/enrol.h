/*  enrol - the node's side of enrolment, without I/O
    Parses a token, builds the ENROL_REQUEST envelope and checks the
    coordinator's ENROL_RESPONSE. The daemon does the exchange over a
    CURVE link whose server key comes from the token; this module only
    turns bytes into decisions, so the simulator and the tests can use
    the same checks.  */

#ifndef WEFT_ENROL_H_INCLUDED
#define WEFT_ENROL_H_INCLUDED

#include "proto/proto.h"
#include "proto/keys.h"
#include "proto/cert.h"
#include "proto/tpmmsg.h"
#include "proto/corelib.h"

//  A parsed token: wt1.<id 16 hex>.<secret 32 hex>.<server key 64 hex>
typedef struct {
    char id [17];                       //  Token id, hex
    uint8_t server_key [WEFT_KEY_SIZE]; //  Coordinator's CURVE public key
} enrol_token_t;

//  What an accepted ENROL_RESPONSE gives the node. Certificates are
//  copied (heap); free them with enrol_result_clear.
typedef struct {
    uint8_t *cert;                      //  Our certificate, encoded
    size_t cert_size;
    uint8_t *coord_cert;                //  Coordinator certificate, encoded
    size_t coord_cert_size;
    uint8_t ca_key [WEFT_KEY_SIZE];     //  Root public key
    cert_t node;                        //  Our certificate, decoded
    cert_t coord;                       //  Coordinator certificate, decoded
    uint8_t *release_root;              //  Our tenant's signed release root, or NULL
    size_t release_root_size;
} enrol_result_t;

//  Parse a token. Returns 0, or -1 with a reason in error.
int
    enrol_token_parse (const char *text, enrol_token_t *token, char *error,
                       size_t error_size);

//  Build the signed ENROL_REQUEST (origin = name, seq 1). Returns 0 and
//  a heap frame the caller frees, or -1 (logged).
int
    enrol_request_encode (const keys_t *keys, const char *name,
                          const char *device_type, const char *token,
                          uint64_t now_ms, uint8_t **frame_p, size_t *size_p);

//  Check a reply. Returns 0 with result filled; PROTO_ERR_REFUSED if
//  the coordinator refused (error holds its message); PROTO_ERR_BAD_REPLY
//  if the reply is malformed or fails a check (error says which). now_s is the wall clock for the
//  certificates' validity, or 0 to skip it. A release root in the reply
//  must pass enrol_release_root_check for our certificate's tenant.
int
    enrol_response_check (const uint8_t *frame, size_t size, const keys_t *keys,
                          const char *name, const uint8_t server_key [WEFT_KEY_SIZE],
                          uint64_t now_s, enrol_result_t *result, char *error,
                          size_t error_size);

//  Is root (signed form) a release root a node of tenant may pin: a
//  root role that decodes, names tenant, and is signed by its own root
//  threshold? Its expiry is not checked (a device whose clock is wrong
//  still pins it; the update module checks expiries on the clock it
//  runs with). Returns 0, or -1 with the reason in error.
int
    enrol_release_root_check (const uint8_t *root, size_t size, const char *tenant,
                              char *error, size_t error_size);

//  TPM onboarding (docs/security.md). Build a signed TPM_ENROL_REQUEST
//  (ticket and proof NULL) or TPM_PROOF (origin = name, token may be
//  ""): EK public, EK certificate (may be empty) and AK public as the
//  TPM marshals them. Returns 0 and a heap frame, or -1 (logged).
int
    enrol_tpm_request_encode (const keys_t *keys, const char *name,
                              const char *device_type, const char *token,
                              zchunk_t *ek_public, zchunk_t *ek_cert, zchunk_t *ak_public,
                              const uint8_t *ticket, const uint8_t *proof,
                              uint64_t now_ms, uint8_t **frame_p, size_t *size_p);

//  What a TPM_CHALLENGE gives the node (copies; free with
//  enrol_tpm_challenge_clear).
typedef struct {
    char device [WEFT_NAME_MAX + 1];    //  The id the coordinator will issue
    zchunk_t *credential;               //  For tpm_activate
    zchunk_t *secret;
    uint8_t ticket [TPMMSG_TICKET_SIZE];
} enrol_tpm_challenge_t;

//  Read a reply to a TPM_ENROL_REQUEST. Returns 0 with challenge filled;
//  1 if it is an ENROL_RESPONSE instead (a refusal: check it with
//  enrol_response_check); PROTO_ERR_BAD_REPLY if malformed (error says
//  why).
int
    enrol_tpm_challenge_decode (const uint8_t *frame, size_t size,
                                enrol_tpm_challenge_t *challenge, char *error,
                                size_t error_size);

void
    enrol_tpm_challenge_clear (enrol_tpm_challenge_t *challenge);

//  Free the copies in a result; safe to call twice.
void
    enrol_result_clear (enrol_result_t *result);

void
    enrol_test (bool verbose);

#endif
