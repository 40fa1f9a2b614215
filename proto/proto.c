/*  proto - names for result codes, status codes and message types
    The names are part of logs and of weftctl's output, and status names
    match docs/protocol.md, so they are fixed once chosen.  */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <assert.h>
#include "proto.h"

//  --------------------------------------------------------------------------
//  Text for a proto_rc_t; never NULL.

const char *
proto_strerror (int rc)
{
    switch (rc) {
        case PROTO_OK:              return "success";
        case PROTO_ERR_TRUNCATED:   return "input ends inside a value";
        case PROTO_ERR_MALFORMED:   return "malformed msgpack";
        case PROTO_ERR_OVERSIZE:    return "frame, string, array or map too large";
        case PROTO_ERR_DEPTH:       return "nested too deeply";
        case PROTO_ERR_TYPE:        return "wrong type or shape";
        case PROTO_ERR_VERSION:     return "unknown format version";
        case PROTO_ERR_UNSIGNED:    return "signature missing";
        case PROTO_ERR_SIGNATURE:   return "signature does not verify";
        case PROTO_ERR_TRAILING:    return "trailing bytes after the value";
        case PROTO_ERR_UNKNOWN:     return "unknown message type";
        case PROTO_ERR_EXPIRED:     return "expired or not yet valid";
        case PROTO_ERR_REPLAY:      return "replayed sequence number";
        case PROTO_ERR_VALUE:       return "field has a bad value";
        default:                    return "unknown error";
    }
}

//  --------------------------------------------------------------------------
//  Text for a weft_status_t; never NULL.

const char *
proto_status_name (int status)
{
    switch (status) {
        case WEFT_STATUS_OK:            return "OK";
        case WEFT_STATUS_BAD_REQUEST:   return "BAD_REQUEST";
        case WEFT_STATUS_NOT_FOUND:     return "NOT_FOUND";
        case WEFT_STATUS_FORBIDDEN:     return "FORBIDDEN";
        case WEFT_STATUS_CONFLICT:      return "CONFLICT";
        case WEFT_STATUS_EXPIRED:       return "EXPIRED";
        case WEFT_STATUS_INTERNAL:      return "INTERNAL";
        case WEFT_STATUS_DENIED:        return "DENIED";
        default:                        return "UNKNOWN";
    }
}

//  --------------------------------------------------------------------------
//  A refusal's reason; returns status.

int
proto_refusal (char reason [WEFT_TEXT_MAX + 1], int status, const char *format, ...)
{
    assert (reason && format);
    va_list args;
    va_start (args, format);
    vsnprintf (reason, WEFT_TEXT_MAX + 1, format, args);
    va_end (args);
    return status;
}

//  --------------------------------------------------------------------------
//  Name of a message type, or NULL if unknown.

const char *
proto_msg_name (int type)
{
    switch (type) {
        case MSG_ENROL_REQUEST:     return "ENROL_REQUEST";
        case MSG_ENROL_RESPONSE:    return "ENROL_RESPONSE";
        case MSG_TWIN_DESIRED:      return "TWIN_DESIRED";
        case MSG_TWIN_REPORTED:     return "TWIN_REPORTED";
        case MSG_ACK:               return "ACK";
        case MSG_HEARTBEAT:         return "HEARTBEAT";
        case MSG_RPC_REQUEST:       return "RPC_REQUEST";
        case MSG_RPC_REPLY:         return "RPC_REPLY";
        case MSG_HELLO:             return "HELLO";
        case MSG_ROUTE:             return "ROUTE";
        case MSG_CUSTODY_ACK:       return "CUSTODY_ACK";
        case MSG_REVOCATIONS:       return "REVOCATIONS";
        case MSG_NODE_STATS:        return "NODE_STATS";
        case MSG_POLICY:            return "POLICY";
        case MSG_POLICY_SUMMARY:    return "POLICY_SUMMARY";
        case MSG_POLICY_KEYS:       return "POLICY_KEYS";
        case MSG_TPM_ENROL_REQUEST: return "TPM_ENROL_REQUEST";
        case MSG_TPM_CHALLENGE:     return "TPM_CHALLENGE";
        case MSG_TPM_PROOF:         return "TPM_PROOF";
        case MSG_ATTEST_CHALLENGE:  return "ATTEST_CHALLENGE";
        case MSG_ATTEST_EVIDENCE:   return "ATTEST_EVIDENCE";
        case MSG_QUARANTINE:        return "QUARANTINE";
        case MSG_DELEGATED_VERDICT: return "DELEGATED_VERDICT";
        case MSG_PASSPORT:          return "PASSPORT";
        default:                    return NULL;
    }
}

void
proto_put_be64 (uint8_t out [8], uint64_t value)
{
    for (int i = 7; i >= 0; i--) {
        out [i] = (uint8_t) value;
        value >>= 8;
    }
}

uint64_t
proto_get_be64 (const uint8_t in [8])
{
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value = (value << 8) | in [i];
    return value;
}

//  --------------------------------------------------------------------------
//  Selftest

void
proto_test (bool verbose)
{
    printf (" * proto: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    //  Every result code has its own text
    for (int a = PROTO_ERR_VALUE; a <= PROTO_OK; a++) {
        if (a == -1)
            continue;               //  Not a proto_rc_t
        assert (proto_strerror (a));
        assert (strcmp (proto_strerror (a), "unknown error") != 0);
        for (int b = PROTO_ERR_VALUE; b < a; b++)
            if (b != -1)
                assert (strcmp (proto_strerror (a), proto_strerror (b)) != 0);
    }
    assert (strcmp (proto_strerror (-1), "unknown error") == 0);
    assert (strcmp (proto_strerror (42), "unknown error") == 0);

    assert (strcmp (proto_status_name (WEFT_STATUS_OK), "OK") == 0);
    assert (strcmp (proto_status_name (WEFT_STATUS_NOT_FOUND), "NOT_FOUND") == 0);
    assert (strcmp (proto_status_name (WEFT_STATUS_DENIED), "DENIED") == 0);
    assert (strcmp (proto_status_name (99), "UNKNOWN") == 0);
    assert (strcmp (proto_status_name (-1), "UNKNOWN") == 0);

    for (int type = MSG_ENROL_REQUEST; type <= MSG_RPC_REPLY; type++)
        assert (proto_msg_name (type));
    assert (strcmp (proto_msg_name (MSG_HEARTBEAT), "HEARTBEAT") == 0);
    assert (proto_msg_name (0) == NULL);
    assert (proto_msg_name (65535) == NULL);

    uint8_t be [8];
    proto_put_be64 (be, 0x0102030405060708ULL);
    assert (be [0] == 1 && be [7] == 8);
    assert (proto_get_be64 (be) == 0x0102030405060708ULL);
    //  @end
    printf ("OK\n");
}
