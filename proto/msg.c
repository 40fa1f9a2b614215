/*  msg - the payloads carried inside envelopes
    Wire forms, one msgpack array each (docs/protocol.md):
        ENROL_REQUEST  [token: str(160), sign_key: bin(32),
                        curve_key: bin(32), device_type: str(64)]
        ENROL_RESPONSE [status, message: str(255), cert: bin,
                        ca_key: bin(32), coord_cert: bin]
        TWIN_DESIRED   [device: str(64), version, doc: str]
        TWIN_REPORTED  [device: str(64), version, desired_version,
                        doc: str, status: str(255)]
        ACK            [ack_id: bin(16), status, message: str(255)]
        HEARTBEAT      [uptime_s, desired_version, reported_version]
        RPC_REQUEST    [method: str(64), args: str
                        [, credential: bin(1..8192)]]
        RPC_REPLY      [request_id: bin(16), status, error: str(255),
                        result: bin]
    Unsigned fields are uint (status at most 255). JSON documents and
    arguments are str (at most WEFT_STR_MAX); an RPC result is bin so a
    large listing is bounded only by the frame. Extra trailing items are
    ignored, missing ones refused. msg_decode leaves *msg zeroed on error.
    The fields and their limits are rows of proto/wire_table.c; this file
    keeps the entry points callers use and the selftest.  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "codec.h"
#include "msg.h"
#include "wire.h"

//  --------------------------------------------------------------------------
//  Encode msg as payload bytes: its row of proto/wire_table.c.

int
msg_encode (const msg_t *msg, uint8_t **payload_p, size_t *size_p)
{
    assert (msg);
    return wire_encode_family (WIRE_FAMILY_MSG, msg->type, msg, payload_p, size_p);
}

//  --------------------------------------------------------------------------
//  Decode payload bytes of the given type.

int
msg_decode (msg_t *msg, int type, const uint8_t *payload, size_t size)
{
    return wire_decode_family (WIRE_FAMILY_MSG, type, msg, sizeof (msg_t), payload, size);
}

//  Items each type needs; longer arrays are accepted.
static int
s_items (int type)
{
    const wire_msg_t *spec = wire_msg (type);
    return spec? (int) wire_required (spec): 0;
}

//  --------------------------------------------------------------------------
//  Selftest

//  A sample of each type with every field set; cert bytes are opaque here.
static void
s_sample (msg_t *msg, int type)
{
    static const uint8_t cert [] = { 0x92, 0xc4, 0x01, 0x90, 0xc4, 0x00 };
    memset (msg, 0, sizeof (msg_t));
    msg->type = type;
    switch (type) {
        case MSG_ENROL_REQUEST:
            strcpy (msg->enrol_request.token, "wt1.0011223344556677.secret");
            memset (msg->enrol_request.sign_key, 0x11, WEFT_KEY_SIZE);
            memset (msg->enrol_request.curve_key, 0x22, WEFT_KEY_SIZE);
            strcpy (msg->enrol_request.device_type, "gateway");
            break;
        case MSG_ENROL_RESPONSE:
            msg->enrol_response.status = WEFT_STATUS_OK;
            msg->enrol_response.cert = cert;
            msg->enrol_response.cert_size = sizeof cert;
            memset (msg->enrol_response.ca_key, 0x33, WEFT_KEY_SIZE);
            msg->enrol_response.coord_cert = cert;
            msg->enrol_response.coord_cert_size = 3;
            break;
        case MSG_TWIN_DESIRED:
            strcpy (msg->twin_desired.device, "dev-1");
            msg->twin_desired.version = 7;
            msg->twin_desired.doc = "{\"led\":\"on\"}";
            msg->twin_desired.doc_size = 12;
            break;
        case MSG_TWIN_REPORTED:
            strcpy (msg->twin_reported.device, "dev-1");
            msg->twin_reported.version = 3;
            msg->twin_reported.desired_version = 7;
            msg->twin_reported.doc = "{}";
            msg->twin_reported.doc_size = 2;
            strcpy (msg->twin_reported.status, "ok");
            break;
        case MSG_ACK:
            memset (msg->ack.ack_id, 0x44, WEFT_ID_SIZE);
            msg->ack.status = WEFT_STATUS_CONFLICT;
            strcpy (msg->ack.message, "stale version");
            break;
        case MSG_HEARTBEAT:
            msg->heartbeat.uptime_s = 86400;
            msg->heartbeat.desired_version = UINT64_MAX;
            msg->heartbeat.reported_version = 0;
            break;
        case MSG_RPC_REQUEST:
            strcpy (msg->rpc_request.method, "device.list");
            msg->rpc_request.args = "{}";
            msg->rpc_request.args_size = 2;
            break;
        case MSG_RPC_REPLY:
            memset (msg->rpc_reply.request_id, 0x55, WEFT_ID_SIZE);
            msg->rpc_reply.status = WEFT_STATUS_NOT_FOUND;
            strcpy (msg->rpc_reply.error, "unknown device dev-9");
            msg->rpc_reply.result = "null";
            msg->rpc_reply.result_size = 4;
            break;
    }
}

static bool
s_same_bytes (const void *a, size_t a_size, const void *b, size_t b_size)
{
    return a_size == b_size && (a_size == 0 || memcmp (a, b, a_size) == 0);
}

//  Field by field comparison (borrowed fields by content).
static bool
s_equal (const msg_t *a, const msg_t *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
        case MSG_ENROL_REQUEST: {
            const msg_enrol_request_t *x = &a->enrol_request, *y = &b->enrol_request;
            return strcmp (x->token, y->token) == 0
                && memcmp (x->sign_key, y->sign_key, WEFT_KEY_SIZE) == 0
                && memcmp (x->curve_key, y->curve_key, WEFT_KEY_SIZE) == 0
                && strcmp (x->device_type, y->device_type) == 0;
        }
        case MSG_ENROL_RESPONSE: {
            const msg_enrol_response_t *x = &a->enrol_response, *y = &b->enrol_response;
            return x->status == y->status
                && strcmp (x->message, y->message) == 0
                && s_same_bytes (x->cert, x->cert_size, y->cert, y->cert_size)
                && memcmp (x->ca_key, y->ca_key, WEFT_KEY_SIZE) == 0
                && s_same_bytes (x->coord_cert, x->coord_cert_size,
                                 y->coord_cert, y->coord_cert_size);
        }
        case MSG_TWIN_DESIRED: {
            const msg_twin_desired_t *x = &a->twin_desired, *y = &b->twin_desired;
            return strcmp (x->device, y->device) == 0
                && x->version == y->version
                && s_same_bytes (x->doc, x->doc_size, y->doc, y->doc_size);
        }
        case MSG_TWIN_REPORTED: {
            const msg_twin_reported_t *x = &a->twin_reported, *y = &b->twin_reported;
            return strcmp (x->device, y->device) == 0
                && x->version == y->version
                && x->desired_version == y->desired_version
                && s_same_bytes (x->doc, x->doc_size, y->doc, y->doc_size)
                && strcmp (x->status, y->status) == 0;
        }
        case MSG_ACK:
            return memcmp (a->ack.ack_id, b->ack.ack_id, WEFT_ID_SIZE) == 0
                && a->ack.status == b->ack.status
                && strcmp (a->ack.message, b->ack.message) == 0;
        case MSG_HEARTBEAT:
            return a->heartbeat.uptime_s == b->heartbeat.uptime_s
                && a->heartbeat.desired_version == b->heartbeat.desired_version
                && a->heartbeat.reported_version == b->heartbeat.reported_version
                && a->heartbeat.passport_ms == b->heartbeat.passport_ms;
        case MSG_RPC_REQUEST:
            return strcmp (a->rpc_request.method, b->rpc_request.method) == 0
                && s_same_bytes (a->rpc_request.args, a->rpc_request.args_size,
                                 b->rpc_request.args, b->rpc_request.args_size)
                && a->rpc_request.credential_size == b->rpc_request.credential_size
                && (a->rpc_request.credential_size == 0
                    || memcmp (a->rpc_request.credential, b->rpc_request.credential,
                               a->rpc_request.credential_size) == 0);
        case MSG_RPC_REPLY: {
            const msg_rpc_reply_t *x = &a->rpc_reply, *y = &b->rpc_reply;
            return memcmp (x->request_id, y->request_id, WEFT_ID_SIZE) == 0
                && x->status == y->status
                && strcmp (x->error, y->error) == 0
                && s_same_bytes (x->result, x->result_size, y->result, y->result_size);
        }
    }
    return false;
}

//  Wire kind of each field, to build wrong-typed payloads.
typedef enum { F_UINT, F_STR, F_BIN } s_field_t;

static int
s_fields (int type, s_field_t *fields)
{
    static const s_field_t enrol_request [] = { F_STR, F_BIN, F_BIN, F_STR };
    static const s_field_t enrol_response [] = { F_UINT, F_STR, F_BIN, F_BIN, F_BIN };
    static const s_field_t twin_desired [] = { F_STR, F_UINT, F_STR };
    static const s_field_t twin_reported [] = { F_STR, F_UINT, F_UINT, F_STR, F_STR };
    static const s_field_t ack [] = { F_BIN, F_UINT, F_STR };
    static const s_field_t heartbeat [] = { F_UINT, F_UINT, F_UINT };
    static const s_field_t rpc_request [] = { F_STR, F_STR };
    static const s_field_t rpc_reply [] = { F_BIN, F_UINT, F_STR, F_BIN };
    const s_field_t *list = NULL;
    switch (type) {
        case MSG_ENROL_REQUEST:     list = enrol_request; break;
        case MSG_ENROL_RESPONSE:    list = enrol_response; break;
        case MSG_TWIN_DESIRED:      list = twin_desired; break;
        case MSG_TWIN_REPORTED:     list = twin_reported; break;
        case MSG_ACK:               list = ack; break;
        case MSG_HEARTBEAT:         list = heartbeat; break;
        case MSG_RPC_REQUEST:       list = rpc_request; break;
        case MSG_RPC_REPLY:         list = rpc_reply; break;
    }
    int items = s_items (type);
    memcpy (fields, list, (size_t) items * sizeof (s_field_t));
    return items;
}

void
msg_test (bool verbose)
{
    printf (" * msg: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    for (int type = MSG_ENROL_REQUEST; type <= MSG_RPC_REPLY; type++) {
        msg_t msg, back;
        s_sample (&msg, type);
        uint8_t *payload;
        size_t size;
        assert (msg_encode (&msg, &payload, &size) == 0);
        assert (msg_decode (&back, type, payload, size) == 0);
        assert (s_equal (&msg, &back));
        if (verbose)
            printf ("   %s: %zu bytes\n", proto_msg_name (type), size);

        //  Every truncation fails; no prefix is a valid payload
        for (size_t cut = 0; cut < size; cut++)
            assert (msg_decode (&back, type, payload, cut) != 0);
        //  Trailing byte after the array
        uint8_t *longer = (uint8_t *) malloc (size + 1);
        assert (longer);
        memcpy (longer, payload, size);
        longer [size] = 0xc0;
        assert (msg_decode (&back, type, longer, size + 1) == PROTO_ERR_TRAILING);
        free (longer);
        //  Wrong type code for the bytes: never a crash
        for (int other = 0; other <= MSG_RPC_REPLY + 1; other++)
            msg_decode (&back, other, payload, size);
        assert (msg_decode (&back, 0, payload, size) == PROTO_ERR_UNKNOWN);
        assert (msg_decode (&back, 99, payload, size) == PROTO_ERR_UNKNOWN);
        free (payload);

        //  Longer arrays are accepted (fields appended later), shorter
        //  ones refused; a wrong type in any field is refused.
        s_field_t fields [8];
        int items = s_fields (type, fields);
        for (int extra = -1; extra <= 1; extra++) {
            for (int bad = -1; bad < items; bad++) {
                if (extra != 0 && bad >= 0)
                    continue;
                codec_writer_t *w = codec_writer_new (0);
                codec_put_array (w, (size_t) (items + extra));
                for (int i = 0; i < items + extra; i++) {
                    //  Extra items past the optional credential of a request
                    //  and the optional release root of an enrolment answer
                    s_field_t kind = i < items? fields [i]
                                   : type == MSG_RPC_REQUEST && i == 2? F_BIN
                                   : type == MSG_ENROL_RESPONSE && i == 5? F_BIN: F_UINT;
                    if (i == bad)       //  Swap to another wire type
                        kind = kind == F_UINT? F_STR: kind == F_STR? F_BIN: F_UINT;
                    if (kind == F_UINT)
                        codec_put_uint (w, 1);
                    else
                    if (kind == F_STR)
                        codec_put_strn (w, "x", 1, 1);
                    else {
                        uint8_t zero [WEFT_KEY_SIZE] = { 0 };
                        //  Sizes that suit every bin field of that type
                        size_t bin = (type == MSG_ACK || type == MSG_RPC_REPLY)
                                   && i == 0? WEFT_ID_SIZE: WEFT_KEY_SIZE;
                        codec_put_bin (w, zero, bin);
                    }
                }
                assert (codec_writer_finish (&w, &payload, &size) == 0);
                int rc = msg_decode (&back, type, payload, size);
                if (bad >= 0 || extra < 0)
                    assert (rc == PROTO_ERR_TYPE);
                else
                    assert (rc == 0);
                if (rc)
                    assert (back.type == 0);
                free (payload);
            }
        }
    }
    //  Limits on decode: over-long strings, embedded NUL, status range
    {
        char name [WEFT_NAME_MAX + 2];
        memset (name, 'n', sizeof name);
        codec_writer_t *w = codec_writer_new (0);
        codec_put_array (w, 3);
        codec_put_strn (w, name, WEFT_NAME_MAX + 1, WEFT_STR_MAX);
        codec_put_uint (w, 1);
        codec_put_strn (w, "{}", 2, WEFT_STR_MAX);
        uint8_t *payload;
        size_t size;
        assert (codec_writer_finish (&w, &payload, &size) == 0);
        msg_t back;
        assert (msg_decode (&back, MSG_TWIN_DESIRED, payload, size) == PROTO_ERR_OVERSIZE);
        free (payload);

        const uint8_t nul [] = { 0x93, 0xa3, 'a', 0, 'b', 0x01, 0xa2, '{', '}' };
        assert (msg_decode (&back, MSG_TWIN_DESIRED, nul, sizeof nul) == PROTO_ERR_VALUE);
        const uint8_t nul_doc [] = { 0x93, 0xa1, 'a', 0x01, 0xa2, '{', 0 };
        assert (msg_decode (&back, MSG_TWIN_DESIRED, nul_doc, sizeof nul_doc) == PROTO_ERR_VALUE);

        uint8_t ack [] = { 0x93, 0xc4, 0x10, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
                           0xcd, 0x01, 0x00, 0xa0 };
        assert (msg_decode (&back, MSG_ACK, ack, sizeof ack) == PROTO_ERR_VALUE);
        //  A bin(15) id is refused as a bad value
        const uint8_t short_id [] = { 0x93, 0xc4, 0x0f, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
                                      0x00, 0xa0 };
        assert (msg_decode (&back, MSG_ACK, short_id, sizeof short_id) == PROTO_ERR_VALUE);
        //  Not an array at all
        const uint8_t scalar [] = { 0x01 };
        assert (msg_decode (&back, MSG_HEARTBEAT, scalar, 1) == PROTO_ERR_TYPE);
        assert (msg_decode (&back, MSG_HEARTBEAT, NULL, 0) == PROTO_ERR_TRUNCATED);
        const uint8_t huge [] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
        assert (msg_decode (&back, MSG_HEARTBEAT, huge, 5) == PROTO_ERR_OVERSIZE);
    }
    //  Limits on encode
    {
        msg_t msg;
        uint8_t *payload;
        size_t size;
        s_sample (&msg, MSG_ACK);
        msg.ack.status = 256;
        assert (msg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
        assert (payload == NULL);
        msg.ack.status = -1;
        assert (msg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
        s_sample (&msg, MSG_TWIN_DESIRED);
        memset (msg.twin_desired.device, 'd', sizeof msg.twin_desired.device);
        assert (msg_encode (&msg, &payload, &size) == PROTO_ERR_OVERSIZE);
        s_sample (&msg, MSG_TWIN_DESIRED);
        msg.twin_desired.doc_size = WEFT_STR_MAX + 1;
        char *big = (char *) calloc (1, WEFT_STR_MAX + 1);
        assert (big);
        memset (big, ' ', WEFT_STR_MAX + 1);
        msg.twin_desired.doc = big;
        assert (msg_encode (&msg, &payload, &size) == PROTO_ERR_OVERSIZE);
        msg.twin_desired.doc_size = WEFT_STR_MAX;
        assert (msg_encode (&msg, &payload, &size) == 0);
        msg_t back;
        assert (msg_decode (&back, MSG_TWIN_DESIRED, payload, size) == 0);
        assert (back.twin_desired.doc_size == WEFT_STR_MAX);
        free (payload);
        free (big);
        s_sample (&msg, MSG_RPC_REQUEST);
        msg.rpc_request.args = NULL;
        assert (msg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
        msg.rpc_request.args_size = 0;
        assert (msg_encode (&msg, &payload, &size) == 0);
        assert (msg_decode (&back, MSG_RPC_REQUEST, payload, size) == 0);
        assert (back.rpc_request.args_size == 0 && back.rpc_request.args);
        assert (back.rpc_request.credential_size == 0 && !back.rpc_request.credential);
        free (payload);
        //  With an operator credential (to a site server): a third field
        //  of 1..MSG_CREDENTIAL_MAX bytes
        uint8_t *credential = (uint8_t *) calloc (1, MSG_CREDENTIAL_MAX + 1);
        assert (credential);
        s_sample (&msg, MSG_RPC_REQUEST);
        msg.rpc_request.credential = credential;
        msg.rpc_request.credential_size = MSG_CREDENTIAL_MAX;
        assert (msg_encode (&msg, &payload, &size) == 0);
        assert (payload [0] == 0x93);
        assert (msg_decode (&back, MSG_RPC_REQUEST, payload, size) == 0);
        assert (s_equal (&msg, &back));
        for (size_t cut = 0; cut < size; cut++)
            assert (msg_decode (&back, MSG_RPC_REQUEST, payload, cut) != 0);
        free (payload);
        msg.rpc_request.credential_size = MSG_CREDENTIAL_MAX + 1;
        assert (msg_encode (&msg, &payload, &size) == PROTO_ERR_OVERSIZE);
        free (credential);
        //  An empty credential field, crafted: refused
        const uint8_t empty [] = { 0x93, 0xa1, 'm', 0xa2, '{', '}', 0xc4, 0x00 };
        assert (msg_decode (&back, MSG_RPC_REQUEST, empty, sizeof empty) == PROTO_ERR_VALUE);
        assert (msg_decode (&back, MSG_RPC_REQUEST, empty, sizeof empty - 2) != 0);
        msg.type = 0;
        assert (msg_encode (&msg, &payload, &size) == PROTO_ERR_UNKNOWN);
    }
    //  @end
    printf ("OK\n");
}
