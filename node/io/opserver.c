/*  opserver - weft-node's operator port for offline requests
    At most OPSERVER_BURST requests are answered per call, so a burst
    of operators never holds up the mesh in the same loop.  */

#include <sodium.h>
#include "proto/envelope.h"
#include "proto/seal.h"
#include "proto/msg.h"
#include "proto/io/zap.h"
#include "node/io/opserver.h"
#include "proto/io/tcplink.h"

#define OPSERVER_BURST  16

struct _opserver_t {
    zsock_t *router;
    oplocal_t *local;
    int port;
};

opserver_t *
opserver_new (const char *endpoint, const oplocal_config_t *config, oplocal_call_fn *call,
              void *ctx)
{
    assert (endpoint && config);
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert (router);
    zsock_set_zap_domain (router, "ops");
    zsock_set_curve_server (router, 1);
    zsock_set_curve_secretkey_bin (router, config->keys->curve_secret);
    zsock_set_curve_publickey_bin (router, config->keys->curve_public);
    zsock_set_sndtimeo (router, 0);
    zsock_set_linger (router, 0);
    zsock_set_maxmsgsize (router, WEFT_FRAME_MAX + 1024);
    //  An operator's call is short; a peer that went silent is dropped
    tcplink_tune (router, TCPLINK_HEARTBEAT_MS);
    int port = zsock_bind (router, "%s", endpoint);
    if (port == -1) {
        zsys_error ("opserver: cannot listen on %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&router);
        return NULL;
    }
    opserver_t *self = (opserver_t *) zmalloc (sizeof (opserver_t));
    self->router = router;
    self->port = port;
    self->local = oplocal_new (config, call, ctx);
    return self;
}

void
opserver_destroy (opserver_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        opserver_t *self = *self_p;
        zsock_destroy (&self->router);
        oplocal_destroy (&self->local);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
opserver_sock (opserver_t *self)
{
    assert (self);
    return self->router;
}

int
opserver_port (opserver_t *self)
{
    assert (self);
    return self->port;
}

bool
opserver_admit (const uint8_t client_key [32], char user_id [65])
{
    keys_hex (client_key, 32, user_id);
    return true;
}

void
opserver_handle (opserver_t *self, uint64_t now_ms, const uint8_t *revoked,
                 size_t revoked_count)
{
    assert (self);
    for (int i = 0; i < OPSERVER_BURST; i++) {
        if (!(zsock_events (self->router) & ZMQ_POLLIN))
            break;
        zmsg_t *msg = zmsg_recv_nowait (self->router);
        if (!msg)
            break;
        size_t frames = zmsg_size (msg);
        zframe_t *route = zmsg_first (msg);
        zframe_t *last = zmsg_last (msg);
        const char *user_id = last? zframe_meta (last, "User-Id"): NULL;
        const char *peer = last? zframe_meta (last, "Peer-Address"): NULL;
        uint8_t key [32];
        uint8_t *reply = NULL;
        size_t reply_size = 0;
        if ((frames == 2 || frames == 3) && user_id && strlen (user_id) == 64
        &&  keys_unhex (user_id, key, 32) == 0
        &&  oplocal_on_request (self->local, key, peer? peer: "", zframe_data (last),
                                zframe_size (last),
                                now_ms, revoked, revoked_count, &reply, &reply_size) == 0) {
            void *handle = zsock_resolve (self->router);
            //  A peer gone or slow loses its answer, never blocks us
            if (zmq_send (handle, zframe_data (route), zframe_size (route),
                          ZMQ_SNDMORE | ZMQ_DONTWAIT) != -1) {
                if (frames == 3)
                    zmq_send (handle, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
                zmq_send (handle, reply, reply_size, ZMQ_DONTWAIT);
            }
            free (reply);
        }
        zmsg_destroy (&msg);
    }
}

//  --------------------------------------------------------------------------
//  Selftest: a real CURVE link with ZAP; a request without a credential
//  is answered with the reason, garbage is dropped

static bool
s_test_admit (void *arg, const char *domain, const char *address,
              const uint8_t client_key [32], char user_id [ZAP_USER_ID_MAX + 1])
{
    (void) arg;
    (void) address;
    return streq (domain, "ops") && opserver_admit (client_key, user_id);
}

static int
s_test_call (void *ctx, const char *method, const char *args, size_t args_size,
             char **result_p, char reason [WEFT_TEXT_MAX + 1])
{
    (void) ctx, (void) method, (void) args, (void) args_size, (void) reason;
    *result_p = strdup ("{}");
    return WEFT_STATUS_OK;
}

void
opserver_test (bool verbose)
{
    printf (" * opserver: ");
    (void) verbose;
    //  @selftest
    keys_t ca, node, op;
    keys_generate (&ca);
    keys_generate (&node);
    keys_generate (&op);
    zap_t *zap = zap_new (s_test_admit, NULL);
    assert (zap);
    oplocal_config_t config = { "server-1", "acme", "", &node, ca.sign_public, NULL };
    opserver_t *server = opserver_new ("tcp://127.0.0.1:*", &config, s_test_call, NULL);
    assert (server && opserver_port (server) > 0);

    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_curve_publickey_bin (dealer, op.curve_public);
    zsock_set_curve_secretkey_bin (dealer, op.curve_secret);
    zsock_set_curve_serverkey_bin (dealer, node.curve_public);
    assert (zsock_connect (dealer, "tcp://127.0.0.1:%d", opserver_port (server)) == 0);
    zstr_send (dealer, "garbage");
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_RPC_REQUEST;
    strcpy (msg.rpc_request.method, "node.stats");
    msg.rpc_request.args = "{}";
    msg.rpc_request.args_size = 2;
    uint8_t *payload, *frame;
    size_t payload_size, frame_size;
    assert (msg_encode (&msg, &payload, &payload_size) == 0);
    envelope_head_t head = { .type = MSG_RPC_REQUEST, .origin = "olga", .seq = 1,
                             .expiry = (uint64_t) zclock_time () + 10000, .hop_limit = 1 };
    uint8_t request_id [WEFT_ID_SIZE];
    assert (envelope_seal (&head, payload, payload_size, op.sign_secret, request_id,
                           &frame, &frame_size) == 0);
    free (payload);
    zframe_t *out = zframe_new (frame, frame_size);
    zframe_send (&out, dealer, 0);
    free (frame);

    zpoller_t *poller = zpoller_new (zap_sock (zap), opserver_sock (server), dealer, NULL);
    int64_t deadline = zclock_mono () + 5000;
    bool answered = false;
    while (!answered && zclock_mono () < deadline) {
        void *which = zpoller_wait (poller, 100);
        if (which == zap_sock (zap))
            zap_handle (zap);
        else
        if (which == opserver_sock (server))
            opserver_handle (server, (uint64_t) zclock_time (), NULL, 0);
        else
        if (which == dealer) {
            zframe_t *reply = zframe_recv (dealer);
            envelope_t got;
            assert (envelope_decode (&got, zframe_data (reply), zframe_size (reply)) == 0);
            assert (envelope_verify (&got, node.sign_public) == 0);
            assert (memcmp (msg.rpc_request.method, "node.stats", 10) == 0);
            msg_t answer;
            assert (msg_decode (&answer, MSG_RPC_REPLY, got.payload, got.payload_size) == 0);
            assert (memcmp (answer.rpc_reply.request_id, request_id, WEFT_ID_SIZE) == 0);
            assert (answer.rpc_reply.status == WEFT_STATUS_DENIED);
            assert (strstr (answer.rpc_reply.error, "no operator credential"));
            zframe_destroy (&reply);
            answered = true;
        }
    }
    assert (answered);
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    opserver_destroy (&server);
    opserver_destroy (&server);
    assert (opserver_new ("nonsense://x", &config, s_test_call, NULL) == NULL);
    zap_destroy (&zap);
    keys_wipe (&ca);
    keys_wipe (&node);
    keys_wipe (&op);
    //  @end
    printf ("OK\n");
}
