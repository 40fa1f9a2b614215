/*  tcplink - what every Weft link asks of TCP and ZMTP: timers that
    notice a dead peer, and the identity of one connection
    The selftest runs real peers in child processes and stops them with
    SIGSTOP: the kernel keeps their TCP connections up (it still
    acknowledges segments), but nothing answers a PING any more, which
    is what a blackholed or hung peer looks like from here.  */

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "proto/retry.h"
#include "proto/io/tcplink.h"

#define TCPLINK_HEARTBEAT_MIN_MS    100

void
tcplink_timers (uint64_t heartbeat_ms, tcplink_timers_t *timers)
{
    assert (timers);
    if (heartbeat_ms < TCPLINK_HEARTBEAT_MIN_MS)
        heartbeat_ms = TCPLINK_HEARTBEAT_MIN_MS;
    if (heartbeat_ms > 3600 * 1000)
        heartbeat_ms = 3600 * 1000;
    int h = (int) heartbeat_ms;
    int seconds = h / 1000 > 0? h / 1000: 1;
    timers->heartbeat_ivl = h;
    timers->heartbeat_timeout = h + h / 2;
    timers->heartbeat_ttl = h + h / 2;
    timers->keepalive_idle = seconds;
    timers->keepalive_intvl = seconds;
    timers->keepalive_cnt = 3;
    timers->user_timeout = 3 * h;
    timers->connect_timeout = 2 * h > 1000? 2 * h: 1000;
    timers->reconnect_max = h < TCPLINK_RECONNECT_MS? h: TCPLINK_RECONNECT_MS;
    timers->handshake = 2 * h > TCPLINK_HANDSHAKE_MS? 2 * h: TCPLINK_HANDSHAKE_MS;
}

void
tcplink_tune (zsock_t *sock, uint64_t heartbeat_ms)
{
    assert (sock);
    tcplink_timers_t t;
    tcplink_timers (heartbeat_ms, &t);
    zsock_set_heartbeat_ivl (sock, t.heartbeat_ivl);
    zsock_set_heartbeat_timeout (sock, t.heartbeat_timeout);
    zsock_set_heartbeat_ttl (sock, t.heartbeat_ttl);
    zsock_set_tcp_keepalive (sock, 1);
    zsock_set_tcp_keepalive_idle (sock, t.keepalive_idle);
    zsock_set_tcp_keepalive_intvl (sock, t.keepalive_intvl);
    zsock_set_tcp_keepalive_cnt (sock, t.keepalive_cnt);
    zsock_set_tcp_maxrt (sock, t.user_timeout);
    zsock_set_connect_timeout (sock, t.connect_timeout);
    zsock_set_reconnect_ivl_max (sock, t.reconnect_max);
    zsock_set_handshake_ivl (sock, t.handshake);
}

uint64_t
tcplink_dead_ms (uint64_t heartbeat_ms)
{
    tcplink_timers_t t;
    tcplink_timers (heartbeat_ms, &t);
    uint64_t dead = (uint64_t) t.heartbeat_ivl + (uint64_t) t.heartbeat_timeout;
    //  What the custody queues count on (proto/retry.h)
    assert (dead == RETRY_LINK_DEAD ((uint64_t) t.heartbeat_ivl));
    return dead;
}

//  --------------------------------------------------------------------------
//  Connections

static int
s_identify (int fd, tcplink_conn_t *conn)
{
    struct stat info;
    if (fd < 0 || fstat (fd, &info) || !S_ISSOCK (info.st_mode))
        return -1;
    conn->fd = fd;
    conn->dev = (uint64_t) info.st_dev;
    conn->ino = (uint64_t) info.st_ino;
    return 0;
}

int
tcplink_conn_of (zframe_t *frame, tcplink_conn_t *conn)
{
    assert (frame && conn);
    conn->fd = -1;
    const char *fd = zframe_meta (frame, "__fd");
    if (!fd || !*fd)
        return -1;
    char *end = NULL;
    long value = strtol (fd, &end, 10);
    if (*end || value < 0 || value > INT32_MAX)
        return -1;
    return s_identify ((int) value, conn);
}

bool
tcplink_conn_alive (const tcplink_conn_t *conn)
{
    assert (conn);
    tcplink_conn_t now;
    return conn->fd >= 0 && s_identify (conn->fd, &now) == 0 && tcplink_conn_same (conn, &now);
}

int
tcplink_conn_close (const tcplink_conn_t *conn)
{
    assert (conn);
    if (!tcplink_conn_alive (conn))
        return -1;
    //  Not close (): the descriptor is libzmq's. After shutdown its reads
    //  end, and it closes the connection as if the peer had.
    return shutdown (conn->fd, SHUT_RDWR) == 0? 0: -1;
}

bool
tcplink_conn_same (const tcplink_conn_t *a, const tcplink_conn_t *b)
{
    assert (a && b);
    return a->fd == b->fd && a->dev == b->dev && a->ino == b->ino;
}

//  --------------------------------------------------------------------------
//  Selftest

//  A child process with its own libzmq context (none of the parent's is
//  usable after fork): a ROUTER that binds and reads forever, or a DEALER
//  that connects and sends one message, neither with heartbeats. It
//  writes its port (ROUTER) to fd out, then serves until killed.
static pid_t
s_test_peer (int type, int port, int out)
{
    pid_t pid = fork ();
    assert (pid >= 0);
    if (pid > 0)
        return pid;
    void *ctx = zmq_ctx_new ();
    void *sock = zmq_socket (ctx, type);
    char endpoint [64];
    if (type == ZMQ_ROUTER) {
        zmq_bind (sock, "tcp://127.0.0.1:*");
        size_t size = sizeof endpoint;
        zmq_getsockopt (sock, ZMQ_LAST_ENDPOINT, endpoint, &size);
        int bound = atoi (strrchr (endpoint, ':') + 1);
        if (write (out, &bound, sizeof bound) != sizeof bound)
            _exit (1);
    }
    else {
        snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
        zmq_connect (sock, endpoint);
        zmq_send (sock, "stalling", 8, 0);
    }
    char buffer [64];
    while (true)
        zmq_recv (sock, buffer, sizeof buffer, 0);
    _exit (0);
}

static void
s_test_reap (pid_t pid)
{
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
}

//  Wait for a monitor event on monitor; returns its code or 0 on timeout
static int
s_test_event (zsock_t *monitor, int timeout_ms)
{
    zpoller_t *poller = zpoller_new (monitor, NULL);
    int code = 0;
    if (zpoller_wait (poller, timeout_ms) == monitor) {
        zmsg_t *msg = zmsg_recv (monitor);
        zframe_t *first = msg? zmsg_first (msg): NULL;
        if (first && zframe_size (first) == 6) {
            uint16_t event;
            memcpy (&event, zframe_data (first), 2);
            code = event;
        }
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    return code;
}

void
tcplink_test (bool verbose)
{
    printf (" * tcplink: ");
    //  @selftest
    //  The timers follow the heartbeat interval
    tcplink_timers_t t;
    tcplink_timers (5000, &t);
    assert (t.heartbeat_ivl == 5000 && t.heartbeat_timeout == 7500);
    assert (t.heartbeat_ttl == 7500 && t.user_timeout == 15000);
    assert (t.keepalive_idle == 5 && t.keepalive_intvl == 5 && t.keepalive_cnt == 3);
    assert (t.connect_timeout == 10000 && t.handshake == TCPLINK_HANDSHAKE_MS);
    assert (t.reconnect_max == 5000);
    assert (tcplink_dead_ms (5000) == 12500 && tcplink_dead_ms (1000) == 2500);
    tcplink_timers (1, &t);                 //  Floors
    assert (t.heartbeat_ivl == 100 && t.keepalive_idle == 1 && t.connect_timeout == 1000);

    //  ... and reach the socket
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    tcplink_tune (router, 2000);
    assert (zsock_heartbeat_ivl (router) == 2000);
    assert (zsock_heartbeat_timeout (router) == 3000);
    assert (zsock_heartbeat_ttl (router) == 3000);
    assert (zsock_tcp_keepalive (router) == 1 && zsock_tcp_keepalive_idle (router) == 2);
    assert (zsock_tcp_keepalive_intvl (router) == 2 && zsock_tcp_keepalive_cnt (router) == 3);
    assert (zsock_tcp_maxrt (router) == 6000 && zsock_connect_timeout (router) == 4000);
    assert (zsock_handshake_ivl (router) == TCPLINK_HANDSHAKE_MS);
    assert (zsock_reconnect_ivl_max (router) == 2000);

    //  Two peers on one ROUTER: each message names its connection
    zsock_set_router_mandatory (router, 1);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_t *peers [2];
    tcplink_conn_t conns [2];
    zframe_t *rids [2];
    for (int i = 0; i < 2; i++) {
        peers [i] = zsock_new (ZMQ_DEALER);
        tcplink_tune (peers [i], 2000);
        zsock_connect (peers [i], "tcp://127.0.0.1:%d", port);
        zstr_send (peers [i], "hello");
        zmsg_t *msg = zmsg_recv (router);
        assert (msg && zmsg_size (msg) == 2);
        rids [i] = zmsg_pop (msg);
        assert (tcplink_conn_of (zmsg_first (msg), &conns [i]) == 0);
        assert (tcplink_conn_alive (&conns [i]));
        zmsg_destroy (&msg);
    }
    assert (!tcplink_conn_same (&conns [0], &conns [1]));
    //  A frame made here carries no descriptor
    zframe_t *inproc = zframe_new ("x", 1);
    tcplink_conn_t none;
    assert (tcplink_conn_of (inproc, &none) == -1 && !tcplink_conn_alive (&none));
    assert (tcplink_conn_close (&none) == -1);
    zframe_destroy (&inproc);

    //  Close the first alone: the ROUTER drops it, the second stays, and
    //  the first peer comes back on a new connection
    assert (tcplink_conn_close (&conns [0]) == 0);
    int64_t until = zclock_mono () + 5000;
    while (tcplink_conn_alive (&conns [0]) && zclock_mono () < until)
        zclock_sleep (10);
    assert (!tcplink_conn_alive (&conns [0]));
    assert (tcplink_conn_close (&conns [0]) == -1);
    assert (tcplink_conn_alive (&conns [1]));
    zmsg_t *msg = zmsg_new ();
    zmsg_append (msg, &rids [1]);
    zmsg_addstr (msg, "still here");
    assert (zmsg_send (&msg, router) == 0);
    char *text = zstr_recv (peers [1]);
    assert (text && streq (text, "still here"));
    zstr_free (&text);
    zstr_send (peers [0], "again");
    msg = zmsg_recv (router);
    zframe_t *rid = zmsg_pop (msg);
    assert (!zframe_eq (rid, rids [0]));
    tcplink_conn_t again;
    assert (tcplink_conn_of (zmsg_first (msg), &again) == 0);
    assert (!tcplink_conn_same (&again, &conns [0]) && tcplink_conn_alive (&again));
    zframe_destroy (&rid);
    zmsg_destroy (&msg);
    zframe_destroy (&rids [0]);
    for (int i = 0; i < 2; i++)
        zsock_destroy (&peers [i]);

    //  A peer that stops answering (SIGSTOP: its kernel still keeps TCP
    //  up) is let go within the heartbeat's 5H/2, not before its 3H/2
    //  timeout. First our DEALER dialling a silent ROUTER...
    uint64_t heartbeat = 400;
    int pipe_fds [2];
    assert (pipe (pipe_fds) == 0);
    pid_t child = s_test_peer (ZMQ_ROUTER, 0, pipe_fds [1]);
    int child_port = 0;
    assert (read (pipe_fds [0], &child_port, sizeof child_port) == sizeof child_port);
    close (pipe_fds [0]);
    close (pipe_fds [1]);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    tcplink_tune (dealer, heartbeat);
    char monitor_ep [64];
    snprintf (monitor_ep, sizeof monitor_ep, "inproc://tcplink-test-%p", (void *) dealer);
    assert (zmq_socket_monitor (zsock_resolve (dealer), monitor_ep,
                                ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) == 0);
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    assert (zsock_connect (monitor, "%s", monitor_ep) == 0);
    zsock_connect (dealer, "tcp://127.0.0.1:%d", child_port);
    assert (s_test_event (monitor, 5000) == ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    zstr_send (dealer, "ping");
    //  Alive while the peer answers PINGs
    assert (s_test_event (monitor, (int) (3 * heartbeat)) == 0);
    kill (child, SIGSTOP);
    int64_t stopped = zclock_mono ();
    int event = s_test_event (monitor, 10000);
    int64_t noticed = zclock_mono () - stopped;
    assert (event == ZMQ_EVENT_DISCONNECTED);
    //  Loose upper bound: the machine may be busy; the e2e tests time it
    assert (noticed >= (int64_t) (heartbeat * 3 / 2) - 50);
    assert (noticed <= (int64_t) tcplink_dead_ms (heartbeat) + 2000);
    if (verbose)
        printf ("(silent listener noticed in %" PRId64 " ms) ", noticed);
    zmq_socket_monitor (zsock_resolve (dealer), NULL, 0);
    zsock_destroy (&monitor);
    zsock_destroy (&dealer);
    s_test_reap (child);

    //  ... then a silent DEALER on our ROUTER: the listener drops it
    zsock_t *listener = zsock_new (ZMQ_ROUTER);
    tcplink_tune (listener, heartbeat);
    port = zsock_bind (listener, "tcp://127.0.0.1:*");
    assert (port > 0);
    child = s_test_peer (ZMQ_DEALER, port, -1);
    msg = zmsg_recv (listener);
    assert (msg && zmsg_size (msg) == 2);
    tcplink_conn_t silent;
    assert (tcplink_conn_of (zmsg_last (msg), &silent) == 0);
    zmsg_destroy (&msg);
    zclock_sleep ((int) (3 * heartbeat));
    assert (tcplink_conn_alive (&silent));   //  Its kernel answered for it
    kill (child, SIGSTOP);
    stopped = zclock_mono ();
    until = stopped + 10000;
    while (tcplink_conn_alive (&silent) && zclock_mono () < until)
        zclock_sleep (10);
    noticed = zclock_mono () - stopped;
    assert (!tcplink_conn_alive (&silent));
    assert (noticed >= (int64_t) (heartbeat * 3 / 2) - 50);
    assert (noticed <= (int64_t) tcplink_dead_ms (heartbeat) + 2000);
    if (verbose)
        printf ("(silent dialler dropped in %" PRId64 " ms) ", noticed);
    s_test_reap (child);
    zsock_destroy (&listener);
    zframe_destroy (&rids [1]);
    zsock_destroy (&router);
    //  @end
    printf ("OK\n");
}
