/*  proto - the Weft wire model: limits, result codes, message types
    This folder is the only code that encodes or decodes Weft's wire
    format, and it does no I/O. docs/protocol.md specifies every byte;
    the limits below are part of that specification.  */

#ifndef WEFT_PROTO_H_INCLUDED
#define WEFT_PROTO_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEFT_PROTO_VERSION      1           //  Envelope and certificate format
#define WEFT_FRAME_MAX          (1024 * 1024)   //  Largest envelope on the wire
#define WEFT_DEPTH_MAX          8           //  Deepest msgpack nesting accepted
#define WEFT_ITEMS_MAX          256         //  Largest array or map accepted
#define WEFT_STR_MAX            (64 * 1024) //  Largest string accepted
#define WEFT_NAME_MAX           64          //  Device, tenant, operator names
#define WEFT_TOKEN_MAX          160         //  Enrolment token text
#define WEFT_TEXT_MAX           255         //  Status messages
#define WEFT_ID_SIZE            16          //  Envelope id, random
#define WEFT_KEY_SIZE           32          //  Ed25519 or X25519 public key
#define WEFT_SECRET_SIZE        64          //  Ed25519 secret key (seed + public)
#define WEFT_SIG_SIZE           64          //  Ed25519 signature
#define WEFT_HOP_LIMIT          16          //  Default hop limit

//  Result codes, the one set every layer returns (proto/proto.c holds
//  the name and text of each; docs/protocol.md section 8.2 lists them).
//  0 is success; every decode failure has its own code so tests and
//  counters can tell them apart, and so has each other way a step can
//  end (refused with an answer, dropped, store failed...), so a caller
//  tests a name, never a number. -1 is no result code: it stays a
//  function's plain failure, as its comment says, beside the named codes
//  for any other way it can end (tests/static/error-codes.sh refuses
//  bare numbers below -1).
typedef enum {
    PROTO_OK = 0,
    PROTO_ERR_TRUNCATED = -2,       //  Input ends inside a value
    PROTO_ERR_MALFORMED = -3,       //  Not valid msgpack, or reserved byte
    PROTO_ERR_OVERSIZE = -4,        //  Frame, string, array or map too large
    PROTO_ERR_DEPTH = -5,           //  Nested deeper than WEFT_DEPTH_MAX
    PROTO_ERR_TYPE = -6,            //  Valid msgpack, wrong type or shape
    PROTO_ERR_VERSION = -7,         //  Unknown format version
    PROTO_ERR_UNSIGNED = -8,        //  Signature missing or wrong size
    PROTO_ERR_SIGNATURE = -9,       //  Signature does not verify
    PROTO_ERR_TRAILING = -10,       //  Bytes after the top-level value
    PROTO_ERR_UNKNOWN = -11,        //  Unknown message type
    PROTO_ERR_EXPIRED = -12,        //  Past its expiry or validity
    PROTO_ERR_REPLAY = -13,         //  Sequence number already seen
    PROTO_ERR_VALUE = -14,          //  Well-formed field with a bad value
    //  Beyond decoding: how a step that handles a message or a file ends
    PROTO_ERR_DROPPED = -15,        //  Not an envelope (or from a gone link): no answer
    PROTO_ERR_REFUSED = -16,        //  Refused, and the reason answered (or received)
    PROTO_ERR_STORE = -17,          //  The store failed: nothing kept, retry later
    PROTO_ERR_INTERNAL = -18,       //  Could not build, sign or seal a message
    PROTO_ERR_TIMEOUT = -19,        //  No connection or answer in time
    PROTO_ERR_IO = -20,             //  A file or the TPM could not be read or written
    PROTO_ERR_BAD_REPLY = -21,      //  A peer's answer is malformed or fails a check
    PROTO_ERR_MISMATCH = -22,       //  Does not match the state the peer holds
    PROTO_ERR_NOT_QUEUED = -23,     //  Built, but the transport did not take it
    PROTO_ERR_EMPTY = -24           //  Nothing waits now
} proto_rc_t;

//  The lowest result code; every code from here to PROTO_OK but -1 is
//  named.
#define PROTO_ERR_LAST  PROTO_ERR_EMPTY

//  Message types carried in an envelope.
typedef enum {
    MSG_ENROL_REQUEST = 1,
    MSG_ENROL_RESPONSE = 2,
    MSG_TWIN_DESIRED = 3,
    MSG_TWIN_REPORTED = 4,
    MSG_ACK = 5,
    MSG_HEARTBEAT = 6,
    MSG_RPC_REQUEST = 7,
    MSG_RPC_REPLY = 8,
    //  Mesh (proto/meshmsg.h): 9..19
    MSG_HELLO = 9,
    MSG_ROUTE = 10,
    MSG_CUSTODY_ACK = 11,
    MSG_REVOCATIONS = 12,
    MSG_NODE_STATS = 13,
    //  Site-wide policies (proto/policymsg.h): 14..16
    MSG_POLICY = 14,
    MSG_POLICY_SUMMARY = 15,
    MSG_POLICY_KEYS = 16,
    //  TPM onboarding and attestation (proto/tpmmsg.h): 20..29
    MSG_TPM_ENROL_REQUEST = 20,
    MSG_TPM_CHALLENGE = 21,
    MSG_TPM_PROOF = 22,
    MSG_ATTEST_CHALLENGE = 23,
    MSG_ATTEST_EVIDENCE = 24,
    //  Quarantine and delegated verification: 25..29
    MSG_QUARANTINE = 25,                //  Payload in proto/meshmsg.h
    MSG_DELEGATED_VERDICT = 26,         //  Payload in proto/delegmsg.h
    MSG_PASSPORT = 27,                  //  Payload in proto/passport.h
    //  Software updates (proto/updmsg.h): 28..30
    MSG_UPDATE_OFFER = 28,
    MSG_CHUNK_WANT = 29,
    MSG_CHUNK_DATA = 30,
    //  Campaigns at the sites (proto/sitemsg.h): 31..32
    MSG_SITE_DIRECTIVE = 31,
    MSG_SITE_REPORT = 32,
    //  A device's update state to the node that offered it (proto/updmsg.h)
    MSG_UPDATE_STATUS = 33,
    //  The director's entitlement or uninstall order (proto/updmsg.h)
    MSG_SOFTWARE_ORDER = 34
} msg_type_t;

//  Status codes in ENROL_RESPONSE, ACK and RPC_REPLY.
typedef enum {
    WEFT_STATUS_OK = 0,
    WEFT_STATUS_BAD_REQUEST = 1,    //  Malformed arguments
    WEFT_STATUS_NOT_FOUND = 2,      //  No such object (or not visible)
    WEFT_STATUS_FORBIDDEN = 3,      //  Authenticated but not authorised
    WEFT_STATUS_CONFLICT = 4,       //  Already exists, or stale version
    WEFT_STATUS_EXPIRED = 5,        //  Token or certificate expired
    WEFT_STATUS_INTERNAL = 6,       //  Coordinator failed (e.g. disk full)
    WEFT_STATUS_DENIED = 7          //  Credential unknown, used or revoked
} weft_status_t;

//  Text for a proto_rc_t ("unknown error" for another number); never
//  NULL.
const char *
    proto_strerror (int rc);

//  Name of a proto_rc_t ("PROTO_ERR_REFUSED"), or NULL for another number.
const char *
    proto_rc_name (int rc);

//  One result code: its value, name and text.
typedef struct {
    int rc;
    const char *name;
    const char *text;
} proto_rc_row_t;

//  Every result code, PROTO_OK first, in order of falling value; sets
//  *count_p. For tests and for the table in docs/protocol.md.
const proto_rc_row_t *
    proto_rcs (size_t *count_p);

//  Text for a weft_status_t; never NULL.
const char *
    proto_status_name (int status);

//  Write a refusal's reason (printf format) into reason and return
//  status, so a check reads "return proto_refusal (reason, DENIED, ...)".
int
    proto_refusal (char reason [WEFT_TEXT_MAX + 1], int status, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Name of a message type, or NULL if unknown.
const char *
    proto_msg_name (int type);

//  A u64 in 8 big-endian bytes (store keys and values), and back.
void
    proto_put_be64 (uint8_t out [8], uint64_t value);
uint64_t
    proto_get_be64 (const uint8_t in [8]);

//  Self test of the proto folder.
void
    proto_test (bool verbose);

#endif
