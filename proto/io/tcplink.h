/*  tcplink - what every Weft link asks of TCP and ZMTP: timers that
    notice a dead peer, and the identity of one connection, so that it
    alone can be closed
    Every mesh, coordinator and operator socket is tuned by tcplink_tune
    from one number, the heartbeat interval H of its side:

        ZMTP PING every H (ZMQ_HEARTBEAT_IVL); no traffic for 3H/2
        after a PING closes the connection (ZMQ_HEARTBEAT_TIMEOUT); the
        PING asks the peer to close after 3H/2 without one
        (ZMQ_HEARTBEAT_TTL), so a peer that runs no timer of its own
        still lets go of us;
        TCP keepalive after H idle, every H, 3 probes; data unacknowledged
        by the peer's TCP for 3H closes it (TCP_USER_TIMEOUT, set through
        ZMQ_TCP_MAXRT); a connect that has not completed in 2H is tried
        again (ZMQ_CONNECT_TIMEOUT), and a dialler whose peer is gone
        tries again after 100 ms doubling up to H, at most 5 s
        (ZMQ_RECONNECT_IVL_MAX), so a link comes back within that of its
        peer; a ZMTP/CURVE
        handshake must finish within TCPLINK_HANDSHAKE_MS
        (ZMQ_HANDSHAKE_IVL).

    A link whose packets are silently dropped (a blackhole: nothing
    resets it) is closed by the side that PINGs at most H + 3H/2 = 5H/2
    after the last packet got through: the next PING is due within H,
    its PONG never comes. Both sides run the timers, so both let go.

    A connection is named by its file descriptor and the socket's inode
    (tcplink_conn_t). libzmq attaches the descriptor to every message it
    receives (metadata "__fd"); the inode tells a descriptor that libzmq
    closed and the kernel gave to a newer connection apart from the one
    we saw. Shutting that socket down under libzmq's feet makes libzmq
    close that connection alone, as if the peer had gone: a ROUTER keeps
    every other peer, which recreating the socket would not.  */

#ifndef WEFT_TCPLINK_H_INCLUDED
#define WEFT_TCPLINK_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define TCPLINK_HEARTBEAT_MS    5000    //  Default heartbeat interval
#define TCPLINK_HANDSHAKE_MS    10000   //  Greeting, CURVE and ZAP, per connection
#define TCPLINK_RECONNECT_MS    5000    //  Longest pause between redials

//  The socket options tcplink_tune sets for heartbeat interval H
typedef struct {
    int heartbeat_ivl;              //  ms between PINGs (H)
    int heartbeat_timeout;          //  ms without traffic after a PING: dead
    int heartbeat_ttl;              //  ms the peer waits for our next PING
    int keepalive_idle;             //  s idle before the first TCP probe
    int keepalive_intvl;            //  s between probes
    int keepalive_cnt;              //  Probes unanswered: dead
    int user_timeout;               //  ms data may stay unacknowledged
    int connect_timeout;            //  ms a TCP connect may take
    int reconnect_max;              //  ms between redials at most
    int handshake;                  //  ms for greeting, CURVE and ZAP
} tcplink_timers_t;

//  One TCP (or IPC) connection of a ZeroMQ socket
typedef struct {
    int fd;                         //  Descriptor libzmq uses, -1 none
    uint64_t dev;                   //  Its socket's device and inode
    uint64_t ino;
} tcplink_conn_t;

//  The timers for heartbeat interval heartbeat_ms (at least 100 ms).
void
    tcplink_timers (uint64_t heartbeat_ms, tcplink_timers_t *timers);

//  Set every timer on sock, before it binds or connects.
void
    tcplink_tune (zsock_t *sock, uint64_t heartbeat_ms);

//  Longest time a tuned side takes to close a link that went silent:
//  the next PING, then its timeout (5H/2).
uint64_t
    tcplink_dead_ms (uint64_t heartbeat_ms);

//  The connection a received frame came on. Returns 0, or -1 if the
//  frame carries no descriptor (inproc) or it is closed already.
int
    tcplink_conn_of (zframe_t *frame, tcplink_conn_t *conn);

//  Is conn still open (libzmq has not closed it)? Two system calls, no
//  I/O on the connection.
bool
    tcplink_conn_alive (const tcplink_conn_t *conn);

//  Close conn alone (libzmq sees the peer go and drops it). Returns 0,
//  or -1 if it was closed already (nothing is touched then).
int
    tcplink_conn_close (const tcplink_conn_t *conn);

//  Same connection?
bool
    tcplink_conn_same (const tcplink_conn_t *a, const tcplink_conn_t *b);

void
    tcplink_test (bool verbose);

#endif
