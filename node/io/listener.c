/*  listener - weft-node's mesh listener and the connection behind each
    peer on it
    A message left in the ROUTER's queue by a connection that is closed
    already names a descriptor that is gone (or another socket now):
    such a first message is dropped, not made a peer.  */

#include "proto/proto.h"
#include "proto/keys.h"
#include "proto/io/tcplink.h"
#include "node/io/listener.h"

//  A peer on the ROUTER
typedef struct {
    tcplink_conn_t conn;            //  Its connection
    bool closing;                   //  listener_close was called
} s_peer_t;

struct _listener_t {
    zsock_t *router;
    zsock_t *monitor;               //  DISCONNECTED events of the router
    zhashx_t *peers;                //  Link name -> s_peer_t
    uint64_t sweep_at;              //  Next look at the connections, unix ms
};

static void
s_peer_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

listener_t *
listener_new (const char *endpoint, const keys_t *keys, uint64_t heartbeat_ms)
{
    assert (endpoint && keys);
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert (router);
    zsock_set_zap_domain (router, "mesh");
    zsock_set_curve_server (router, 1);
    zsock_set_curve_secretkey_bin (router, keys->curve_secret);
    zsock_set_curve_publickey_bin (router, keys->curve_public);
    zsock_set_router_mandatory (router, 1);
    zsock_set_sndtimeo (router, 0);
    zsock_set_linger (router, 0);
    zsock_set_maxmsgsize (router, WEFT_FRAME_MAX + 1024);
    //  A neighbour that goes silent (dead, or its link blackholed) is
    //  dropped within 5/2 heartbeat intervals, not kept half-open
    tcplink_tune (router, heartbeat_ms);
    char monitor_endpoint [64];
    snprintf (monitor_endpoint, sizeof monitor_endpoint, "inproc://weft-listener-%p",
              (void *) router);
    int rc = zmq_socket_monitor (zsock_resolve (router), monitor_endpoint,
                                 ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED);
    assert (rc == 0);
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    assert (monitor);
    rc = zsock_connect (monitor, "%s", monitor_endpoint);
    assert (rc == 0);
    //  A listener made anew may find the port still held for a moment
    rc = -1;
    for (int attempt = 0; attempt < 50 && rc == -1; attempt++) {
        rc = zsock_bind (router, "%s", endpoint);
        if (rc == -1)
            zclock_sleep (100);
    }
    if (rc == -1) {
        zsys_error ("listener: cannot listen on %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zmq_socket_monitor (zsock_resolve (router), NULL, 0);
        zsock_destroy (&monitor);
        zsock_destroy (&router);
        return NULL;
    }
    listener_t *self = (listener_t *) zmalloc (sizeof (listener_t));
    self->router = router;
    self->monitor = monitor;
    self->peers = zhashx_new ();
    zhashx_set_destructor (self->peers, s_peer_free);
    return self;
}

void
listener_destroy (listener_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        listener_t *self = *self_p;
        zmq_socket_monitor (zsock_resolve (self->router), NULL, 0);
        zsock_destroy (&self->monitor);
        zsock_destroy (&self->router);
        zhashx_destroy (&self->peers);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
listener_sock (listener_t *self)
{
    assert (self);
    return self->router;
}

zsock_t *
listener_monitor (listener_t *self)
{
    assert (self);
    return self->monitor;
}

int
listener_recv (listener_t *self, char link [LISTENER_LINK_MAX + 1], uint8_t key [32],
               char **dest_p, zmsg_t **msg_p)
{
    assert (self && link && key && dest_p && msg_p);
    *dest_p = NULL;
    *msg_p = NULL;
    //  No ZMQ_EVENTS check first: libzmq answers it with a poll of its
    //  mailbox every time, where a non-blocking receive looks at the
    //  mailbox only now and then
    zmsg_t *msg = zmsg_recv_nowait (self->router);
    if (!msg)
        return PROTO_ERR_EMPTY;
    size_t frames = zmsg_size (msg);
    zframe_t *route = zmsg_first (msg);
    zframe_t *middle = zmsg_next (msg);
    zframe_t *last = zmsg_last (msg);
    const char *user_id = last? zframe_meta (last, "User-Id"): NULL;
    if ((frames != 2 && frames != 3) || zframe_size (route) == 0
    ||  zframe_size (route) > (LISTENER_LINK_MAX - 2) / 2
    ||  !user_id || strlen (user_id) != 64 || keys_unhex (user_id, key, 32)
    ||  (frames == 3 && (zframe_size (middle) == 0 || zframe_size (middle) > WEFT_NAME_MAX))) {
        zmsg_destroy (&msg);
        return PROTO_ERR_DROPPED;
    }
    memcpy (link, "r:", 2);
    keys_hex (zframe_data (route), zframe_size (route), link + 2);
    int rc = 0;
    s_peer_t *known = (s_peer_t *) zhashx_lookup (self->peers, link);
    if (known && known->closing) {
        zmsg_destroy (&msg);
        return PROTO_ERR_DROPPED;   //  Being closed: nothing more from it
    }
    if (!known) {
        s_peer_t *peer = (s_peer_t *) zmalloc (sizeof (s_peer_t));
        if (tcplink_conn_of (last, &peer->conn)) {
            free (peer);
            zmsg_destroy (&msg);
            return PROTO_ERR_DROPPED;   //  Its connection is gone already
        }
        zhashx_insert (self->peers, link, peer);
        rc = 1;
    }
    if (frames == 3)
        *dest_p = zframe_strdup (middle);
    *msg_p = msg;
    return rc;
}

int
listener_close (listener_t *self, const char *link)
{
    assert (self && link);
    s_peer_t *peer = (s_peer_t *) zhashx_lookup (self->peers, link);
    if (!peer || peer->closing)
        return -1;
    peer->closing = true;
    self->sweep_at = 0;             //  Reported gone at the next look
    return tcplink_conn_close (&peer->conn);
}

void
listener_event (listener_t *self, uint64_t now_ms)
{
    assert (self);
    zmsg_t *msg = zmsg_recv (self->monitor);
    zmsg_destroy (&msg);
    //  libzmq reports the disconnect just before it closes the
    //  descriptor: look a moment later
    uint64_t soon = now_ms + 20;
    if (soon < self->sweep_at)
        self->sweep_at = soon;
}

uint64_t
listener_deadline (listener_t *self)
{
    assert (self);
    return self->sweep_at;
}

zlistx_t *
listener_gone (listener_t *self, uint64_t now_ms)
{
    assert (self);
    if (now_ms < self->sweep_at)
        return NULL;
    self->sweep_at = now_ms + LISTENER_SWEEP_MS;
    zlistx_t *gone = NULL;
    for (s_peer_t *peer = (s_peer_t *) zhashx_first (self->peers); peer;
         peer = (s_peer_t *) zhashx_next (self->peers))
        if (peer->closing || !tcplink_conn_alive (&peer->conn)) {
            if (!gone) {
                gone = zlistx_new ();
                zlistx_set_destructor (gone, s_peer_free);
            }
            zlistx_add_end (gone, strdup ((const char *) zhashx_cursor (self->peers)));
        }
    for (char *name = gone? (char *) zlistx_first (gone): NULL; name;
         name = (char *) zlistx_next (gone))
        zhashx_delete (self->peers, name);
    return gone;
}

size_t
listener_size (listener_t *self)
{
    assert (self);
    return zhashx_size (self->peers);
}

//  --------------------------------------------------------------------------
//  Selftest

#include "proto/io/zap.h"

static bool
s_test_admit (void *arg, const char *domain, const char *address,
              const uint8_t client_key [32], char user_id [ZAP_USER_ID_MAX + 1])
{
    (void) arg;
    (void) address;
    if (!streq (domain, "mesh"))
        return false;
    keys_hex (client_key, 32, user_id);
    return true;
}

//  Serve ZAP and the listener until a message comes; returns its rc
static int
s_test_recv (listener_t *listener, zap_t *zap, char *link, char **dest_p)
{
    uint8_t key [32];
    zmsg_t *msg = NULL;
    int64_t until = zclock_mono () + 5000;
    int rc = PROTO_ERR_EMPTY;
    zpoller_t *poller = zpoller_new (zap_sock (zap), listener_sock (listener), NULL);
    while (zclock_mono () < until) {
        void *which = zpoller_wait (poller, 100);
        if (which == zap_sock (zap))
            zap_handle (zap);
        rc = listener_recv (listener, link, key, dest_p, &msg);
        if (rc >= 0)
            break;
    }
    zpoller_destroy (&poller);
    zmsg_destroy (&msg);
    return rc;
}

//  Wait until listener_gone names link (the connection events come in)
static bool
s_test_gone (listener_t *listener, const char *link)
{
    int64_t until = zclock_mono () + 5000;
    zpoller_t *poller = zpoller_new (listener_monitor (listener), NULL);
    bool found = false;
    while (!found && zclock_mono () < until) {
        if (zpoller_wait (poller, 50))
            listener_event (listener, (uint64_t) zclock_time ());
        zlistx_t *gone = listener_gone (listener, (uint64_t) zclock_time ());
        for (char *name = gone? (char *) zlistx_first (gone): NULL; name;
             name = (char *) zlistx_next (gone))
            if (streq (name, link))
                found = true;
        zlistx_destroy (&gone);
    }
    zpoller_destroy (&poller);
    return found;
}

void
listener_test (bool verbose)
{
    printf (" * listener: ");
    //  @selftest
    keys_t server, clients [2];
    keys_generate (&server);
    zap_t *zap = zap_new (s_test_admit, NULL);
    assert (zap);
    listener_t *listener = listener_new ("tcp://127.0.0.1:*", &server, 1000);
    assert (listener);
    char endpoint [64];
    size_t size = sizeof endpoint;
    zmq_getsockopt (zsock_resolve (listener_sock (listener)), ZMQ_LAST_ENDPOINT, endpoint,
                    &size);
    zsock_t *dealers [2];
    char links [2][LISTENER_LINK_MAX + 1];
    for (int i = 0; i < 2; i++) {
        keys_generate (&clients [i]);
        dealers [i] = zsock_new (ZMQ_DEALER);
        zsock_set_curve_serverkey_bin (dealers [i], server.curve_public);
        zsock_set_curve_publickey_bin (dealers [i], clients [i].curve_public);
        zsock_set_curve_secretkey_bin (dealers [i], clients [i].curve_secret);
        zsock_set_linger (dealers [i], 0);
        zsock_connect (dealers [i], "%s", endpoint);
        zstr_sendx (dealers [i], "coordinator", "envelope", NULL);
        char *dest = NULL;
        assert (s_test_recv (listener, zap, links [i], &dest) == 1);
        assert (dest && streq (dest, "coordinator"));
        free (dest);
    }
    assert (!streq (links [0], links [1]) && listener_size (listener) == 2);
    //  A known peer, and a shape that is dropped
    zstr_send (dealers [1], "envelope");
    char link [LISTENER_LINK_MAX + 1], *dest = NULL;
    assert (s_test_recv (listener, zap, link, &dest) == 0);
    assert (streq (link, links [1]) && dest == NULL);
    zstr_sendx (dealers [1], "a", "b", "c", NULL);
    zclock_sleep (100);
    uint8_t key [32];
    zmsg_t *msg = NULL;
    assert (listener_recv (listener, link, key, &dest, &msg) == PROTO_ERR_DROPPED && !msg);

    //  Close the first alone: it is gone, it comes back as a new peer on
    //  a new connection, and the second never left
    assert (listener_close (listener, "r:00") == -1);
    assert (listener_close (listener, links [0]) == 0);
    assert (listener_close (listener, links [0]) == -1);
    assert (s_test_gone (listener, links [0]));
    assert (listener_size (listener) == 1);
    zstr_send (dealers [0], "envelope");
    assert (s_test_recv (listener, zap, link, &dest) == 1);
    assert (!streq (link, links [0]));
    snprintf (links [0], sizeof links [0], "%s", link);
    zstr_send (dealers [1], "envelope");
    assert (s_test_recv (listener, zap, link, &dest) == 0 && streq (link, links [1]));

    //  A peer that goes away is reported gone (the monitor's event)
    zsock_destroy (&dealers [1]);
    assert (s_test_gone (listener, links [1]));
    assert (listener_size (listener) == 1);
    //  Nothing more to report until one goes
    assert (listener_gone (listener, (uint64_t) zclock_time () + LISTENER_SWEEP_MS) == NULL);
    assert (listener_deadline (listener) > (uint64_t) zclock_time ());
    zsock_destroy (&dealers [0]);
    listener_destroy (&listener);
    listener_destroy (&listener);
    zap_destroy (&zap);
    keys_wipe (&server);
    keys_wipe (&clients [0]);
    keys_wipe (&clients [1]);
    if (verbose)
        printf ("(closed one of two) ");
    //  @end
    printf ("OK\n");
}
