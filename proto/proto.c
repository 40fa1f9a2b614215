/*  proto - names for result codes, status codes and message types
    The names are part of logs and of weftctl's output, and status names
    match docs/protocol.md, so they are fixed once chosen.  */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <assert.h>
#include "proto.h"

//  --------------------------------------------------------------------------
//  The result codes: value, name and text, one row each, in order of
//  falling value. The texts appear in logs, refusal reasons and the audit log,
//  so they are fixed once chosen; tests/spec/errors_spec_test.c checks
//  that docs/protocol.md section 8.2 lists the same rows.

static const proto_rc_row_t s_rcs [] = {
    { PROTO_OK,             "PROTO_OK",             "success" },
    { PROTO_ERR_TRUNCATED,  "PROTO_ERR_TRUNCATED",  "input ends inside a value" },
    { PROTO_ERR_MALFORMED,  "PROTO_ERR_MALFORMED",  "malformed msgpack" },
    { PROTO_ERR_OVERSIZE,   "PROTO_ERR_OVERSIZE",   "frame, string, array or map too large" },
    { PROTO_ERR_DEPTH,      "PROTO_ERR_DEPTH",      "nested too deeply" },
    { PROTO_ERR_TYPE,       "PROTO_ERR_TYPE",       "wrong type or shape" },
    { PROTO_ERR_VERSION,    "PROTO_ERR_VERSION",    "unknown format version" },
    { PROTO_ERR_UNSIGNED,   "PROTO_ERR_UNSIGNED",   "signature missing" },
    { PROTO_ERR_SIGNATURE,  "PROTO_ERR_SIGNATURE",  "signature does not verify" },
    { PROTO_ERR_TRAILING,   "PROTO_ERR_TRAILING",   "trailing bytes after the value" },
    { PROTO_ERR_UNKNOWN,    "PROTO_ERR_UNKNOWN",    "unknown message type" },
    { PROTO_ERR_EXPIRED,    "PROTO_ERR_EXPIRED",    "expired or not yet valid" },
    { PROTO_ERR_REPLAY,     "PROTO_ERR_REPLAY",     "replayed sequence number" },
    { PROTO_ERR_VALUE,      "PROTO_ERR_VALUE",      "field has a bad value" },
    { PROTO_ERR_DROPPED,    "PROTO_ERR_DROPPED",    "dropped without an answer" },
    { PROTO_ERR_REFUSED,    "PROTO_ERR_REFUSED",    "refused, with a reason" },
    { PROTO_ERR_STORE,      "PROTO_ERR_STORE",      "store failed, nothing kept" },
    { PROTO_ERR_INTERNAL,   "PROTO_ERR_INTERNAL",   "cannot build, sign or seal the message" },
    { PROTO_ERR_TIMEOUT,    "PROTO_ERR_TIMEOUT",    "no connection or answer in time" },
    { PROTO_ERR_IO,         "PROTO_ERR_IO",         "file or TPM I/O failed" },
    { PROTO_ERR_BAD_REPLY,  "PROTO_ERR_BAD_REPLY",  "answer malformed or fails a check" },
    { PROTO_ERR_MISMATCH,   "PROTO_ERR_MISMATCH",   "does not match the state the peer holds" },
    { PROTO_ERR_NOT_QUEUED, "PROTO_ERR_NOT_QUEUED", "built but not queued" },
    { PROTO_ERR_EMPTY,      "PROTO_ERR_EMPTY",      "nothing waits" }
};
#define S_RCS   (sizeof s_rcs / sizeof s_rcs [0])

static const proto_rc_row_t *
s_rc_row (int rc)
{
    for (size_t i = 0; i < S_RCS; i++)
        if (s_rcs [i].rc == rc)
            return &s_rcs [i];
    return NULL;
}

const proto_rc_row_t *
proto_rcs (size_t *count_p)
{
    assert (count_p);
    *count_p = S_RCS;
    return s_rcs;
}

//  --------------------------------------------------------------------------
//  Text for a proto_rc_t; never NULL.

const char *
proto_strerror (int rc)
{
    const proto_rc_row_t *row = s_rc_row (rc);
    return row? row->text: "unknown error";
}

//  --------------------------------------------------------------------------
//  Name of a proto_rc_t, or NULL.

const char *
proto_rc_name (int rc)
{
    const proto_rc_row_t *row = s_rc_row (rc);
    return row? row->name: NULL;
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
        case MSG_SITE_DIRECTIVE:    return "SITE_DIRECTIVE";
        case MSG_SITE_REPORT:       return "SITE_REPORT";
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
    //  Every result code from PROTO_ERR_LAST to PROTO_OK (but -1) has a
    //  row of its own: a distinct value, a name that spells the enum and
    //  a text of its own, never "unknown error"
    size_t count;
    const proto_rc_row_t *rows = proto_rcs (&count);
    assert (count == (size_t) -PROTO_ERR_LAST);
    for (int a = PROTO_ERR_LAST; a <= PROTO_OK; a++) {
        if (a == -1)
            continue;               //  Not a proto_rc_t
        assert (proto_strerror (a));
        assert (*proto_strerror (a));
        assert (strcmp (proto_strerror (a), "unknown error") != 0);
        assert (proto_rc_name (a));
        assert (strncmp (proto_rc_name (a), a? "PROTO_ERR_": "PROTO_OK", a? 10: 8) == 0);
        for (int b = PROTO_ERR_LAST; b < a; b++)
            if (b != -1) {
                assert (strcmp (proto_strerror (a), proto_strerror (b)) != 0);
                assert (strcmp (proto_rc_name (a), proto_rc_name (b)) != 0);
            }
    }
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < i; j++)
            assert (rows [i].rc != rows [j].rc);
    assert (proto_rc_name (PROTO_ERR_REFUSED)
            && strcmp (proto_rc_name (PROTO_ERR_REFUSED), "PROTO_ERR_REFUSED") == 0);
    assert (strcmp (proto_strerror (-1), "unknown error") == 0);
    assert (strcmp (proto_strerror (42), "unknown error") == 0);
    assert (strcmp (proto_strerror (PROTO_ERR_LAST - 1), "unknown error") == 0);
    assert (proto_rc_name (-1) == NULL);
    assert (proto_rc_name (PROTO_ERR_LAST - 1) == NULL);

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
