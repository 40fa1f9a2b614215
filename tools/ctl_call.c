/*  ctl_call - weftctl's one RPC: identity, envelope, CURVE DEALER, reply
    Loads the operator identity, sends one signed RPC_REQUEST to the
    coordinator's RPC port (or a node's operator port) and waits for the
    signed RPC_REPLY to that request's id. weftctl keeps no state, so the
    coordinator refuses replays by the envelope's random id, remembered
    until the request's expiry, which weftctl sets at most 50 s ahead
    (the coordinator accepts at most 60 s): parallel runs under one
    identity never refuse each other. An operator request carries no
    sequence number: its seq is 0, which the coordinator and site
    servers ignore (docs/protocol.md, section 13).

    For the end-to-end replay test only: WEFT_CTL_SAVE_REQUEST=FILE
    writes the signed request frame to FILE, and WEFT_CTL_SEND_REQUEST=
    FILE sends that frame again instead of a new one.  */

#include <czmq.h>
#include <sodium.h>
#include <time.h>
#include "proto/envelope.h"
#include "proto/seal.h"
#include "proto/msg.h"
#include "proto/io/tcplink.h"
#include "tools/ctl.h"

#define CTL_EXPIRY_MAX_MS   50000       //  Below the coordinator's 60 s

//  --------------------------------------------------------------------------
//  Wall clock in microseconds; only weftctl's main reads the clock.

uint64_t
ctl_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

//  --------------------------------------------------------------------------
//  Load the operator identity and the coordinator keys it carries.
//  Returns 0 or an exit code.

int
ctl_identity_load (ctl_t *self)
{
    const char *path = keyfile_get (self->options, "identity");
    if (!path || !*path)
        path = getenv ("WEFT_IDENTITY");
    if (!path || !*path)
        path = ".weft/coord/admin.op";
    self->identity_path = path;
    const char *error = NULL;
    self->identity = keyfile_load (path, true, &error);
    if (!self->identity) {
        ctl_fail ("cannot load identity %s: %s", path, error? error: "unreadable");
        return CTL_REFUSED;
    }
    self->name = keyfile_get (self->identity, "name");
    self->tenant = keyfile_get (self->identity, "tenant");
    self->endpoint = keyfile_get (self->identity, "endpoint");
    if (!self->tenant)
        self->tenant = "";
    if (!self->name || !*self->name || strlen (self->name) > WEFT_NAME_MAX
    ||  strlen (self->tenant) > WEFT_NAME_MAX
    ||  !self->endpoint || !*self->endpoint
    ||  keyfile_get_bin (self->identity, "sign_public", self->keys.sign_public, WEFT_KEY_SIZE)
    ||  keyfile_get_bin (self->identity, "sign_secret", self->keys.sign_secret, WEFT_SECRET_SIZE)
    ||  keyfile_get_bin (self->identity, "curve_public", self->keys.curve_public, WEFT_KEY_SIZE)
    ||  keyfile_get_bin (self->identity, "curve_secret", self->keys.curve_secret, WEFT_KEY_SIZE)
    ||  keyfile_get_bin (self->identity, "coord_sign", self->coord_sign, WEFT_KEY_SIZE)
    ||  keyfile_get_bin (self->identity, "coord_curve", self->coord_curve, WEFT_KEY_SIZE)) {
        ctl_fail ("identity %s is incomplete (needs name, endpoint, keys, coord_sign, coord_curve)",
                  path);
        return CTL_REFUSED;
    }
    return CTL_OK;
}


//  --------------------------------------------------------------------------
//  Read one monitor event: returns the event number, or 0 if none.

static int
s_monitor_event (zsock_t *monitor)
{
    zmsg_t *msg = zmsg_recv (monitor);
    if (!msg)
        return 0;
    int event = 0;
    zframe_t *frame = zmsg_first (msg);
    if (frame && zframe_size (frame) >= 2) {
        uint16_t value;
        memcpy (&value, zframe_data (frame), 2);
        event = value;
    }
    zmsg_destroy (&msg);
    return event;
}


//  --------------------------------------------------------------------------
//  Take an RPC reply apart. Returns 1 if it is the answer to request_id
//  (msg filled), 0 if it is to be ignored.

static int
s_accept_reply (ctl_t *self, zmsg_t *reply, const uint8_t *request_id, msg_t *msg)
{
    //  Tolerate an empty delimiter frame before the envelope
    zframe_t *frame = zmsg_last (reply);
    envelope_t env;
    int rc = frame? envelope_decode (&env, zframe_data (frame), zframe_size (frame)): -1;
    //  A site server's reply is authenticated by the CURVE link to the
    //  node key we asked for; we do not hold its signing key
    if (rc == 0 && !self->node_mode)
        rc = envelope_verify (&env, self->coord_sign);
    if (rc == 0 && (env.type != MSG_RPC_REPLY
                    || (!self->node_mode && !streq (env.origin, "coordinator"))))
        rc = PROTO_ERR_TYPE;
    if (rc == 0)
        rc = msg_decode (msg, MSG_RPC_REPLY, env.payload, env.payload_size);
    if (rc) {
        if (self->verbose)
            ctl_fail ("ignoring a reply that does not verify: %s", proto_strerror (rc));
        return 0;
    }
    if (memcmp (msg->rpc_reply.request_id, request_id, WEFT_ID_SIZE)) {
        if (self->verbose)
            ctl_fail ("ignoring a reply to another request");
        return 0;
    }
    return 1;
}


//  --------------------------------------------------------------------------
//  Test hook of the replay scenario: save the request frame, or send a
//  saved one instead (its id becomes the one to wait for). Returns 0
//  or -1 after printing why.

static int
s_test_frame (uint8_t **frame_p, size_t *size_p, uint8_t request_id [WEFT_ID_SIZE])
{
    const char *save = getenv ("WEFT_CTL_SAVE_REQUEST");
    const char *send = getenv ("WEFT_CTL_SEND_REQUEST");
    if (save && *save) {
        int fd = open (save, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        FILE *file = fd >= 0? fdopen (fd, "wb"): NULL;
        if (!file || fwrite (*frame_p, 1, *size_p, file) != *size_p) {
            ctl_fail ("cannot write %s", save);
            if (file)
                fclose (file);
            return -1;
        }
        fclose (file);
    }
    if (send && *send) {
        zfile_t *file = zfile_new (NULL, send);
        zchunk_t *chunk = file && zfile_input (file) == 0
                        ? zfile_read (file, WEFT_FRAME_MAX, 0): NULL;
        envelope_t env;
        if (!chunk || envelope_decode (&env, zchunk_data (chunk), zchunk_size (chunk))) {
            ctl_fail ("cannot read a request frame from %s", send);
            zchunk_destroy (&chunk);
            zfile_destroy (&file);
            return -1;
        }
        memcpy (request_id, env.id, WEFT_ID_SIZE);
        free (*frame_p);
        *size_p = zchunk_size (chunk);
        *frame_p = (uint8_t *) zmalloc (*size_p);
        memcpy (*frame_p, zchunk_data (chunk), *size_p);
        zchunk_destroy (&chunk);
        zfile_destroy (&file);
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Call method with args (taken). On success *result_p holds the JSON
//  result (caller decrefs). Returns 0 or an exit code, after printing
//  the reason.

int
ctl_call (ctl_t *self, const char *method, json_t *args, json_t **result_p)
{
    *result_p = NULL;
    char *args_text = jsontext_dumps (args, JSON_COMPACT);
    json_decref (args);
    if (!args_text) {
        ctl_fail ("cannot encode arguments");
        return CTL_REFUSED;
    }
    msg_t request = { .type = MSG_RPC_REQUEST };
    snprintf (request.rpc_request.method, sizeof (request.rpc_request.method), "%s", method);
    request.rpc_request.args = args_text;
    request.rpc_request.args_size = strlen (args_text);
    request.rpc_request.credential = self->credential;
    request.rpc_request.credential_size = self->credential_size;
    uint8_t *payload = NULL;
    size_t payload_size = 0;
    int rc = msg_encode (&request, &payload, &payload_size);
    free (args_text);
    if (rc) {
        ctl_fail ("request too large: %s", proto_strerror (rc));
        return CTL_REFUSED;
    }
    uint64_t now_us = ctl_now_us ();
    //  Replays are refused by id, not by seq (0). A request that sat in a
    //  queue past our deadline is not wanted, and the coordinator
    //  remembers its id until then (replays)
    uint64_t ttl_ms = (uint64_t) self->timeout_s * 1000 + 5000;
    envelope_head_t head = { .type = MSG_RPC_REQUEST, .origin = self->name,
                             .tenant = self->tenant, .seq = 0,
                             .hlc = (now_us / 1000) << 16,
                             .expiry = now_us / 1000
                                     + (ttl_ms < CTL_EXPIRY_MAX_MS? ttl_ms: CTL_EXPIRY_MAX_MS),
                             .hop_limit = 1 };
    uint8_t request_id [WEFT_ID_SIZE];
    uint8_t *frame_data = NULL;
    size_t frame_size = 0;
    rc = envelope_seal (&head, payload, payload_size, self->keys.sign_secret, request_id,
                        &frame_data, &frame_size);
    free (payload);
    if (rc) {
        ctl_fail ("cannot encode request: %s", proto_strerror (rc));
        return CTL_REFUSED;
    }
    if (s_test_frame (&frame_data, &frame_size, request_id))
        return CTL_REFUSED;

    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_linger (dealer, 0);
    zsock_set_curve_publickey_bin (dealer, self->keys.curve_public);
    zsock_set_curve_secretkey_bin (dealer, self->keys.curve_secret);
    zsock_set_curve_serverkey_bin (dealer, self->coord_curve);
    //  A coordinator that went silent mid-call closes the connection,
    //  and a dial that hangs is tried again, within --timeout anyway
    tcplink_tune (dealer, TCPLINK_HEARTBEAT_MS);
    //  The monitor tells a refused key apart from a silent coordinator
    char monitor_ep [64];
    snprintf (monitor_ep, sizeof (monitor_ep), "inproc://weftctl-monitor-%p", (void *) dealer);
    zmq_socket_monitor (zsock_resolve (dealer), monitor_ep,
                        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    assert (monitor);
    zsock_set_linger (monitor, 0);
    zsock_connect (monitor, "%s", monitor_ep);
    if (zsock_connect (dealer, "%s", self->endpoint)) {
        ctl_fail ("bad %s endpoint %s", self->node_mode? "node": "coordinator", self->endpoint);
        free (frame_data);
        zsock_destroy (&monitor);
        zsock_destroy (&dealer);
        return CTL_REFUSED;
    }
    zframe_t *frame = zframe_new (frame_data, frame_size);
    free (frame_data);
    zframe_send (&frame, dealer, 0);

    zpoller_t *poller = zpoller_new (dealer, monitor, NULL);
    int64_t deadline = zclock_mono () + (int64_t) self->timeout_s * 1000;
    int result_rc = CTL_UNREACHABLE;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        void *which = zpoller_wait (poller, (int) left);
        if (!which) {
            if (zpoller_terminated (poller)) {
                ctl_fail ("interrupted");
                result_rc = CTL_REFUSED;
                goto done;
            }
            continue;
        }
        if (which == monitor) {
            int event = s_monitor_event (monitor);
            if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
                ctl_fail ("%s at %s refused the key of identity %s (unknown or revoked operator)",
                          self->node_mode? "node": "coordinator", self->endpoint,
                          self->identity_path);
                result_rc = CTL_REFUSED;
                goto done;
            }
            if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
                ctl_fail ("CURVE handshake with %s failed (wrong coord_curve in %s?)",
                          self->endpoint, self->identity_path);
                result_rc = CTL_REFUSED;
                goto done;
            }
            continue;
        }
        zmsg_t *reply = zmsg_recv (dealer);
        if (!reply)
            continue;
        msg_t msg;
        if (!s_accept_reply (self, reply, request_id, &msg)) {
            zmsg_destroy (&reply);
            continue;
        }
        //  msg borrows from reply until we are done with it
        if (msg.rpc_reply.status != WEFT_STATUS_OK) {
            ctl_fail ("%s", *msg.rpc_reply.error
                      ? msg.rpc_reply.error: proto_status_name (msg.rpc_reply.status));
            result_rc = CTL_REFUSED;
        }
        else {
            json_error_t error;
            json_t *result = msg.rpc_reply.result_size
                ? json_loadb (msg.rpc_reply.result, msg.rpc_reply.result_size,
                              JSON_DECODE_ANY, &error)
                : json_object ();
            if (result) {
                *result_p = result;
                result_rc = CTL_OK;
            }
            else {
                ctl_fail ("%s sent a result that is not JSON: %s",
                self->node_mode? "node": "coordinator", error.text);
                result_rc = CTL_REFUSED;
            }
        }
        zmsg_destroy (&reply);
        goto done;
    }
    ctl_fail ("%s at %s did not answer within %ds", self->node_mode? "node": "coordinator",
              self->endpoint, self->timeout_s);
done:
    zpoller_destroy (&poller);
    zmq_socket_monitor (zsock_resolve (dealer), NULL, 0);
    zsock_destroy (&monitor);
    zsock_destroy (&dealer);
    return result_rc;
}
