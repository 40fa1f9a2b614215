/*  transport - the node's CURVE link to the coordinator
    The monitor is a PAIR socket in CZMQ's context fed by
    zmq_socket_monitor; each event is two frames, [u16 event, u32 value]
    in host order and the endpoint. The link's timers (proto/io/tcplink.h)
    detect a dead peer that never closed its TCP connection (a cut or
    blackholed uplink) within 5/2 heartbeat intervals, so the link is
    dropped and redialled instead of waiting on a half-open socket.  */

#include "node/io/transport.h"
#include "proto/io/tcplink.h"

#define TRANSPORT_RCV_MAX           (1024 * 1024 + 1024)    //  Frame limit plus slack

struct _transport_t {
    zsock_t *dealer;                //  The link
    zsock_t *monitor;               //  Its events
    char *endpoint;                 //  Where we connect
    bool verbose;                   //  Log link events
};

transport_t *
transport_new (const char *endpoint, const keys_t *keys,
               const uint8_t server_key [32], uint64_t heartbeat_ms, bool verbose)
{
    assert (endpoint && keys && server_key);
    transport_t *self = (transport_t *) zmalloc (sizeof (transport_t));
    self->endpoint = strdup (endpoint);
    self->verbose = verbose;
    self->dealer = zsock_new (ZMQ_DEALER);
    assert (self->dealer);
    zsock_set_linger (self->dealer, 0);
    zsock_set_immediate (self->dealer, 1);
    zsock_set_maxmsgsize (self->dealer, TRANSPORT_RCV_MAX);
    tcplink_tune (self->dealer, heartbeat_ms);
    zsock_set_curve_serverkey_bin (self->dealer, server_key);
    zsock_set_curve_publickey_bin (self->dealer, keys->curve_public);
    zsock_set_curve_secretkey_bin (self->dealer, keys->curve_secret);

    char monitor_endpoint [64];
    snprintf (monitor_endpoint, sizeof monitor_endpoint, "inproc://weft-transport-%p",
              (void *) self);
    int rc = zmq_socket_monitor (zsock_resolve (self->dealer), monitor_endpoint,
                                 ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED
                                 | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                                 | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    assert (rc == 0);
    self->monitor = zsock_new (ZMQ_PAIR);
    assert (self->monitor);
    rc = zsock_connect (self->monitor, "%s", monitor_endpoint);
    assert (rc == 0);
    if (zsock_connect (self->dealer, "%s", endpoint) != 0) {
        zsys_error ("transport: bad endpoint %s", endpoint);
        transport_destroy (&self);
        return NULL;
    }
    return self;
}

void
transport_destroy (transport_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        transport_t *self = *self_p;
        zmq_socket_monitor (zsock_resolve (self->dealer), NULL, 0);
        zsock_destroy (&self->monitor);
        zsock_destroy (&self->dealer);
        free (self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
transport_sock (transport_t *self)
{
    assert (self);
    return self->dealer;
}

zsock_t *
transport_monitor (transport_t *self)
{
    assert (self);
    return self->monitor;
}

int
transport_send (transport_t *self, const uint8_t *frame, size_t size)
{
    assert (self);
    return zmq_send (zsock_resolve (self->dealer), frame, size, ZMQ_DONTWAIT) < 0? -1: 0;
}

zframe_t *
transport_recv (transport_t *self)
{
    assert (self);
    if (!(zsock_events (self->dealer) & ZMQ_POLLIN))
        return NULL;
    zmsg_t *msg = zmsg_recv_nowait (self->dealer);
    if (!msg)
        return NULL;
    //  The coordinator may put an empty delimiter first; the envelope is last
    zframe_t *last = zmsg_last (msg);
    zframe_t *frame = last? zframe_dup (last): NULL;
    zmsg_destroy (&msg);
    return frame;
}

int
transport_event (transport_t *self)
{
    assert (self);
    zmsg_t *msg = zmsg_recv (self->monitor);
    if (!msg)
        return TRANSPORT_NONE;
    zframe_t *first = zmsg_first (msg);
    int event = 0;
    uint32_t value = 0;
    if (first && zframe_size (first) == 6) {
        uint16_t code;
        memcpy (&code, zframe_data (first), 2);
        memcpy (&value, zframe_data (first) + 2, 4);
        event = code;
    }
    zmsg_destroy (&msg);
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        zsys_info ("transport: connected to %s", self->endpoint);
        return TRANSPORT_CONNECTED;
    }
    if (event == ZMQ_EVENT_DISCONNECTED) {
        zsys_info ("transport: disconnected from %s", self->endpoint);
        return TRANSPORT_DISCONNECTED;
    }
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        zsys_warning ("transport: %s refused our key (status %u): "
                      "unknown or revoked device", self->endpoint, value);
        return TRANSPORT_REFUSED;
    }
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        zsys_warning ("transport: handshake with %s failed (protocol error %u)",
                      self->endpoint, value);
    return TRANSPORT_NONE;
}

//  --------------------------------------------------------------------------
//  Selftest: a CURVE ROUTER on loopback; connect, exchange, reconnect.

void
transport_test (bool verbose)
{
    printf (" * transport: ");
    //  @selftest
    keys_t server_keys, client_keys;
    keys_generate (&server_keys);
    keys_generate (&client_keys);
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_curve_server (router, 1);
    zsock_set_curve_secretkey_bin (router, server_keys.curve_secret);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    assert (port > 0);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    transport_t *transport = transport_new (endpoint, &client_keys,
                                            server_keys.curve_public, 1000, verbose);
    assert (transport);
    zpoller_t *poller = zpoller_new (transport_monitor (transport), NULL);
    int event = TRANSPORT_NONE;
    while (event != TRANSPORT_CONNECTED) {
        void *which = zpoller_wait (poller, 5000);
        assert (which);
        event = transport_event (transport);
    }
    assert (transport_send (transport, (const uint8_t *) "hello", 5) == 0);
    zmsg_t *msg = zmsg_recv (router);
    assert (msg && zmsg_size (msg) == 2);
    zframe_t *routing = zmsg_pop (msg);
    assert (zframe_streq (zmsg_first (msg), "hello"));
    zmsg_destroy (&msg);
    msg = zmsg_new ();
    zmsg_add (msg, routing);
    zmsg_addstr (msg, "world");
    zmsg_send (&msg, router);
    zpoller_t *data = zpoller_new (transport_sock (transport), NULL);
    assert (zpoller_wait (data, 5000) == transport_sock (transport));
    zframe_t *frame = transport_recv (transport);
    assert (frame && zframe_streq (frame, "world"));
    zframe_destroy (&frame);
    assert (transport_recv (transport) == NULL);

    //  The server goes away and comes back on the same port: reconnected
    zsock_destroy (&router);
    router = zsock_new (ZMQ_ROUTER);
    zsock_set_curve_server (router, 1);
    zsock_set_curve_secretkey_bin (router, server_keys.curve_secret);
    //  The old socket closes asynchronously; the port frees shortly after
    int rc = -1;
    for (int attempt = 0; attempt < 50 && rc == -1; attempt++) {
        rc = zsock_bind (router, "%s", endpoint);
        if (rc == -1)
            zclock_sleep (100);
    }
    assert (rc != -1);
    event = TRANSPORT_NONE;
    bool disconnected = false;
    while (event != TRANSPORT_CONNECTED) {
        void *which = zpoller_wait (poller, 10000);
        assert (which);
        event = transport_event (transport);
        if (event == TRANSPORT_DISCONNECTED)
            disconnected = true;
    }
    assert (disconnected);
    zpoller_destroy (&data);
    zpoller_destroy (&poller);
    transport_destroy (&transport);
    transport_destroy (&transport);
    zsock_destroy (&router);
    keys_wipe (&server_keys);
    keys_wipe (&client_keys);
    //  @end
    printf ("OK\n");
}
