/*  msg - the payloads carried inside envelopes
    Each payload is one msgpack array whose fields are listed below in
    wire order. A decoder accepts longer arrays and ignores the extra
    trailing fields, so a newer peer can add fields at the end without
    a version bump. Decoded strings of up to WEFT_NAME_MAX/TEXT_MAX/
    TOKEN_MAX bytes are copied and NUL-terminated (embedded NUL is
    refused); large fields (documents, certificates, JSON) are borrowed
    from the payload buffer as pointer + size.  */

#ifndef WEFT_MSG_H_INCLUDED
#define WEFT_MSG_H_INCLUDED

#include "proto.h"

#define MSG_CREDENTIAL_MAX  8192      //  Operator credential in RPC_REQUEST, bytes
#define MSG_RELEASE_ROOT_MAX (64 * 1024)    //  Signed release root in ENROL_RESPONSE, bytes

//  MSG_ENROL_REQUEST: a new node asks for a certificate with a token.
//  The envelope's origin is the name the node asks for.
typedef struct {
    char token [WEFT_TOKEN_MAX + 1];    //  As printed by weftctl token create
    uint8_t sign_key [WEFT_KEY_SIZE];   //  Node's Ed25519 public key
    uint8_t curve_key [WEFT_KEY_SIZE];  //  Node's X25519 (CURVE) public key
    char device_type [WEFT_NAME_MAX + 1];   //  e.g. "gateway"
} msg_enrol_request_t;

//  MSG_ENROL_RESPONSE: the coordinator's answer.
typedef struct {
    int status;                         //  weft_status_t
    char message [WEFT_TEXT_MAX + 1];   //  Reason when refused
    const uint8_t *cert;                //  Node certificate, borrowed
    size_t cert_size;
    uint8_t ca_key [WEFT_KEY_SIZE];     //  Root public key to trust
    const uint8_t *coord_cert;          //  Coordinator certificate, borrowed
    size_t coord_cert_size;
    //  The tenant's signed release root (proto/release.h), borrowed;
    //  absent (0) when the tenant has none or the enrolment is refused
    const uint8_t *release_root;
    size_t release_root_size;
} msg_enrol_response_t;

//  MSG_TWIN_DESIRED: the whole desired document at a version.
typedef struct {
    char device [WEFT_NAME_MAX + 1];    //  Device the twin belongs to
    uint64_t version;                   //  Coordinator-assigned, grows
    const char *doc;                    //  JSON object, borrowed, not NUL-ended
    size_t doc_size;
} msg_twin_desired_t;

//  MSG_TWIN_REPORTED: the whole reported document at a version.
typedef struct {
    char device [WEFT_NAME_MAX + 1];    //  Device the twin belongs to
    uint64_t version;                   //  Device-assigned, grows
    uint64_t desired_version;           //  Last desired version applied
    const char *doc;                    //  JSON object, borrowed
    size_t doc_size;
    char status [WEFT_TEXT_MAX + 1];    //  "ok" or why applying failed
} msg_twin_reported_t;

//  MSG_ACK: receipt of one envelope.
typedef struct {
    uint8_t ack_id [WEFT_ID_SIZE];      //  Envelope acknowledged
    int status;                         //  weft_status_t
    char message [WEFT_TEXT_MAX + 1];
} msg_ack_t;

//  MSG_HEARTBEAT: liveness and versions held.
typedef struct {
    uint64_t uptime_s;
    uint64_t desired_version;           //  Desired version held
    uint64_t reported_version;          //  Reported version held
    uint64_t passport_ms;               //  attested_ms of the passport held, 0 none
} msg_heartbeat_t;

//  MSG_RPC_REQUEST: one operator call. Arguments are a JSON object.
typedef struct {
    char method [WEFT_NAME_MAX + 1];    //  e.g. "device.list"
    const char *args;                   //  JSON object, borrowed
    size_t args_size;
    //  Operator credential (proto/opcred.h), for a site server that
    //  authorises the request offline; borrowed, absent (0) otherwise
    const uint8_t *credential;
    size_t credential_size;
} msg_rpc_request_t;

//  MSG_RPC_REPLY: the answer to one call.
typedef struct {
    uint8_t request_id [WEFT_ID_SIZE];  //  Envelope id of the request
    int status;                         //  weft_status_t
    char error [WEFT_TEXT_MAX + 1];     //  Human message when status != OK
    const char *result;                 //  JSON value, borrowed
    size_t result_size;
} msg_rpc_reply_t;

typedef struct {
    int type;                           //  msg_type_t; selects the member
    union {
        msg_enrol_request_t enrol_request;
        msg_enrol_response_t enrol_response;
        msg_twin_desired_t twin_desired;
        msg_twin_reported_t twin_reported;
        msg_ack_t ack;
        msg_heartbeat_t heartbeat;
        msg_rpc_request_t rpc_request;
        msg_rpc_reply_t rpc_reply;
    };
} msg_t;

//  Encode msg as payload bytes. Returns 0 and a heap buffer the caller
//  frees with free(), or a proto_rc_t (e.g. a field over its limit).
int
    msg_encode (const msg_t *msg, uint8_t **payload_p, size_t *size_p);

//  Decode payload bytes of the given type within the limits of proto.h.
//  Large fields borrow from payload. Returns 0 or a proto_rc_t.
int
    msg_decode (msg_t *msg, int type, const uint8_t *payload, size_t size);

void
    msg_test (bool verbose);

#endif
