/*  beacon - LAN beacons over UDP broadcast, one socket per interface
    The actor polls its pipe and its UDP sockets with zmq_poll (which
    takes plain file descriptors), so no blocking call is ever made on
    the node's event loop. Receives are drained at most
    BEACON_RECV_BURST per socket per turn; the pipe's send timeout is 0,
    so when the node is busy, datagrams are dropped here.  */

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "node/io/beacon.h"

#define BEACON_RECV_BURST   64

typedef struct {
    char name [IF_NAMESIZE];
    int fd;
    bool warned;                    //  Send failure logged once
} s_iface_t;

typedef struct {
    s_iface_t ifaces [BEACON_IFACES_MAX];
    size_t count;
    uint16_t port;
    uint8_t datagram [BEACON_SIZE];
    bool publish;
    uint64_t interval_ms;
    bool verbose;
} s_actor_t;

//  Broadcast address of iface's first IPv4 address; for an interface
//  without one (lo), the last address of its subnet.
static int
s_broadcast_address (const char *iface, struct in_addr *address)
{
    struct ifaddrs *list = NULL;
    if (getifaddrs (&list) != 0)
        return -1;
    int rc = -1;
    for (struct ifaddrs *item = list; item; item = item->ifa_next) {
        if (!item->ifa_addr || item->ifa_addr->sa_family != AF_INET
        ||  strcmp (item->ifa_name, iface) != 0 || !(item->ifa_flags & IFF_UP))
            continue;
        if ((item->ifa_flags & IFF_BROADCAST) && item->ifa_broadaddr)
            *address = ((struct sockaddr_in *) item->ifa_broadaddr)->sin_addr;
        else
        if (item->ifa_netmask) {
            uint32_t host = ((struct sockaddr_in *) item->ifa_addr)->sin_addr.s_addr;
            uint32_t mask = ((struct sockaddr_in *) item->ifa_netmask)->sin_addr.s_addr;
            address->s_addr = host | ~mask;
        }
        else
            continue;
        rc = 0;
        break;
    }
    freeifaddrs (list);
    return rc;
}

static int
s_socket (const char *iface, uint16_t port)
{
    int fd = socket (AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    int on = 1;
    struct sockaddr_in bind_address = { .sin_family = AF_INET, .sin_port = htons (port),
                                        .sin_addr.s_addr = htonl (INADDR_ANY) };
    //  Every node on the host shares the port: each gets every broadcast
    if (setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on)
    ||  setsockopt (fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof on)
    ||  setsockopt (fd, SOL_SOCKET, SO_BINDTODEVICE, iface, (socklen_t) strlen (iface) + 1)
    ||  bind (fd, (struct sockaddr *) &bind_address, sizeof bind_address)) {
        int error = errno;
        close (fd);
        errno = error;
        return -1;
    }
    return fd;
}

static void
s_publish (s_actor_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        s_iface_t *iface = &self->ifaces [i];
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons (self->port) };
        errno = 0;
        int rc = s_broadcast_address (iface->name, &to.sin_addr);
        if (rc == 0)
            rc = sendto (iface->fd, self->datagram, BEACON_SIZE, 0, (struct sockaddr *) &to,
                         sizeof to) == BEACON_SIZE? 0: -1;
        if (rc && !iface->warned)
            zsys_warning ("beacon: cannot broadcast on %s: %s", iface->name,
                          errno? strerror (errno): "no IPv4 address");
        iface->warned = rc != 0;
    }
}

static void
s_receive (zsock_t *pipe, s_iface_t *iface)
{
    for (int i = 0; i < BEACON_RECV_BURST; i++) {
        uint8_t data [BEACON_MAX + 1];
        struct sockaddr_in from;
        socklen_t from_size = sizeof from;
        ssize_t size = recvfrom (iface->fd, data, sizeof data, MSG_TRUNC,
                                 (struct sockaddr *) &from, &from_size);
        if (size < 0)
            break;
        if (from_size < sizeof from || from.sin_family != AF_INET)
            continue;
        char address [INET_ADDRSTRLEN] = "";
        inet_ntop (AF_INET, &from.sin_addr, address, sizeof address);
        //  MSG_TRUNC gives the real size: pass an oversize one as such
        size_t kept = (size_t) size > sizeof data? sizeof data: (size_t) size;
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, address);
        zmsg_addmem (msg, data, kept);
        if (zmsg_send (&msg, pipe) != 0)
            zmsg_destroy (&msg);        //  The node is busy: dropped
    }
}

void
beacon_io_actor (zsock_t *pipe, void *args)
{
    const beacon_io_config_t *config = (const beacon_io_config_t *) args;
    s_actor_t self;
    memset (&self, 0, sizeof self);
    self.port = config->port;
    self.publish = config->datagram != NULL;
    if (config->datagram)
        memcpy (self.datagram, config->datagram, BEACON_SIZE);
    self.interval_ms = config->interval_ms? config->interval_ms: BEACON_INTERVAL_MS;
    self.verbose = config->verbose;
    char *list = strdup (config->interfaces? config->interfaces: "");
    zsock_signal (pipe, 0);         //  Config copied: the caller may free it

    bool ok = true;
    char *save = NULL;
    for (char *name = strtok_r (list, ",", &save); name && ok;
         name = strtok_r (NULL, ",", &save)) {
        if (self.count == BEACON_IFACES_MAX || strlen (name) >= IF_NAMESIZE) {
            zsys_error ("beacon: too many interfaces or a name too long (%s)", name);
            ok = false;
            break;
        }
        s_iface_t *iface = &self.ifaces [self.count];
        snprintf (iface->name, sizeof iface->name, "%s", name);
        iface->fd = s_socket (name, self.port);
        if (iface->fd == -1) {
            zsys_error ("beacon: cannot listen on %s port %u: %s", name, self.port,
                        strerror (errno));
            ok = false;
        }
        else {
            self.count++;
            zsys_info ("beacon: %s on %s, UDP port %u", self.publish? "announcing and listening"
                                                                    : "listening", name, self.port);
        }
    }
    free (list);
    if (!ok || self.count == 0)
        zstr_send (pipe, "ERROR");
    zsock_set_sndtimeo (pipe, 0);
    zmq_pollitem_t items [1 + BEACON_IFACES_MAX];
    memset (items, 0, sizeof items);
    items [0].socket = zsock_resolve (pipe);
    items [0].events = ZMQ_POLLIN;
    for (size_t i = 0; i < self.count; i++) {
        items [1 + i].fd = self.ifaces [i].fd;
        items [1 + i].events = ZMQ_POLLIN;
    }
    int64_t next_publish = zclock_mono ();
    bool terminated = false;
    while (!terminated) {
        int64_t now = zclock_mono ();
        if (ok && self.publish && now >= next_publish) {
            s_publish (&self);
            next_publish = now + (int64_t) self.interval_ms;
        }
        long timeout = ok && self.publish? (long) (next_publish - now): -1;
        if (timeout < 0 && ok && self.publish)
            timeout = 0;
        if (zmq_poll (items, ok? (int) (1 + self.count): 1, timeout) == -1)
            break;              //  Context terminated
        if (items [0].revents & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv (pipe);
            char *command = msg? zmsg_popstr (msg): NULL;
            terminated = !command || streq (command, "$TERM");
            zstr_free (&command);
            zmsg_destroy (&msg);
        }
        for (size_t i = 0; ok && i < self.count; i++)
            if (items [1 + i].revents & ZMQ_POLLIN)
                s_receive (pipe, &self.ifaces [i]);
    }
    for (size_t i = 0; i < self.count; i++)
        close (self.ifaces [i].fd);
}

int
beacon_io_recv (zactor_t *actor, char *address, size_t address_size, zframe_t **frame_p)
{
    assert (actor && address && address_size >= INET_ADDRSTRLEN && frame_p);
    *frame_p = NULL;
    zmsg_t *msg = zmsg_recv (actor);
    int rc = -1;
    if (msg && zmsg_size (msg) == 2) {
        char *text = zmsg_popstr (msg);
        if (text && strlen (text) < address_size) {
            snprintf (address, address_size, "%s", text);
            *frame_p = zmsg_pop (msg);
            rc = 0;
        }
        zstr_free (&text);
    }
    zmsg_destroy (&msg);
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest: two actors on lo and one UDP port hear each other's
//  beacons (and their own); an interface that does not exist is refused.

void
beacon_io_test (bool verbose)
{
    printf (" * beacon_io: ");
    //  @selftest
    //  A free UDP port: bind to 0 and read it back
    int probe = socket (AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET };
    socklen_t size = sizeof address;
    assert (bind (probe, (struct sockaddr *) &address, sizeof address) == 0);
    assert (getsockname (probe, (struct sockaddr *) &address, &size) == 0);
    uint16_t port = ntohs (address.sin_port);
    close (probe);

    uint8_t ca_key [WEFT_KEY_SIZE] = { 1 };
    beacon_t beacon = { .port = 7720 };
    beacon_fingerprint (ca_key, beacon.deployment);
    uint8_t datagrams [2][BEACON_SIZE];
    for (int i = 0; i < 2; i++) {
        memset (beacon.curve_key, 0x10 + i, WEFT_KEY_SIZE);
        assert (beacon_encode (&beacon, datagrams [i]) == 0);
    }
    beacon_io_config_t config = { "lo", port, datagrams [0], 100, verbose };
    zactor_t *first = zactor_new (beacon_io_actor, &config);
    config.datagram = datagrams [1];
    zactor_t *second = zactor_new (beacon_io_actor, &config);
    bool heard [2][2] = { { false } };
    zpoller_t *poller = zpoller_new (first, second, NULL);
    int64_t deadline = zclock_mono () + 5000;
    while (!(heard [0][0] && heard [0][1] && heard [1][0] && heard [1][1])
        && zclock_mono () < deadline) {
        zactor_t *which = (zactor_t *) zpoller_wait (poller, 500);
        if (!which)
            continue;
        char from [INET_ADDRSTRLEN];
        zframe_t *frame = NULL;
        assert (beacon_io_recv (which, from, sizeof from, &frame) == 0);
        beacon_t got;
        assert (beacon_decode (&got, zframe_data (frame), zframe_size (frame)) == 0);
        assert (streq (from, "127.0.0.1"));
        heard [which == second][got.curve_key [0] - 0x10] = true;
        zframe_destroy (&frame);
    }
    assert (heard [0][0] && heard [0][1] && heard [1][0] && heard [1][1]);
    zpoller_destroy (&poller);
    zactor_destroy (&first);
    zactor_destroy (&second);

    config.interfaces = "weftnoif0";
    zactor_t *bad = zactor_new (beacon_io_actor, &config);
    char from [INET_ADDRSTRLEN];
    zframe_t *frame = NULL;
    assert (beacon_io_recv (bad, from, sizeof from, &frame) == -1 && !frame);
    zactor_destroy (&bad);
    //  @end
    printf ("OK\n");
}
