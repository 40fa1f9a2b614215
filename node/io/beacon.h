/*  beacon - LAN beacons over UDP broadcast, one socket per interface
    An actor: it broadcasts our beacon datagram (if we have a listener)
    every interval on each interface it was given, and passes every
    datagram it receives there to the pipe as two frames, [source
    address (dotted IPv4), datagram (at most BEACON_MAX + 1 bytes, so an
    oversize one is seen as such)]. Parsing and every decision are the
    caller's (proto/beacon, node/core/discovery). Datagrams the caller
    is too slow for are dropped, never queued without bound.

    Why not CZMQ's zbeacon: it takes its interface from one process-wide
    setting, listens on every interface at once, and skips interfaces
    without a broadcast flag (lo). Discovery here is opt-in per
    interface, so each socket is bound to its device (SO_BINDTODEVICE).
    On an interface without a broadcast address (lo) the beacon goes to
    the subnet's last address (127.255.255.255), which Linux delivers to
    every socket on the port there.  */

#ifndef WEFT_BEACON_IO_H_INCLUDED
#define WEFT_BEACON_IO_H_INCLUDED

#include <czmq.h>
#include "proto/beacon.h"

#define BEACON_IFACES_MAX       8
#define BEACON_INTERVAL_MS      1000

typedef struct {
    const char *interfaces;         //  Comma-separated interface names
    uint16_t port;                  //  UDP port, the same on every node
    const uint8_t *datagram;        //  Our beacon, BEACON_SIZE bytes, or NULL
    uint64_t interval_ms;           //  0 = BEACON_INTERVAL_MS
    bool verbose;
} beacon_io_config_t;

//  Start with zactor_new (beacon_io_actor, &config); the config is
//  copied before zactor_new returns. Send "$TERM" (zactor_destroy) to
//  stop. If a socket cannot be made, the actor logs why and the first
//  message on its pipe is a single frame "ERROR".
void
    beacon_io_actor (zsock_t *pipe, void *args);

//  Receive one datagram from the actor. Returns 0 with address (at
//  least 16 bytes) and *frame_p (caller destroys), or -1 ("ERROR" or
//  an unexpected message).
int
    beacon_io_recv (zactor_t *actor, char *address, size_t address_size,
                    zframe_t **frame_p);

void
    beacon_io_test (bool verbose);

#endif
