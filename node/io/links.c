/*  links - weft-node's ZeroMQ links (see links.h)
    One thread: every socket is on the driver's poller; the node core
    is called only from links_handle and links_tick, between polls.  */

#include <czmq.h>
#include "node/io/links.h"
#include "node/io/transport.h"
#include "node/io/listener.h"
#include "node/io/sigcheck.h"
#include "proto/io/zap.h"
#include "node/io/opserver.h"
#include "node/io/beacon.h"
#include "node/core/discovery.h"

#define LINKS_MAX           (LINKS_NEIGHBOURS_MAX + DISCOVERY_PEERS_MAX)
#define LINKS_HELLO_MS      10000   //  A discovered peer has this long to verify
#define LINKS_BEACON_EXPIRE_MS  (10 * BEACON_INTERVAL_MS)
#define LINKS_BEACON_BAN_MS     60000
#define LINKS_BEACON_YIELD_MS   (3 * BEACON_INTERVAL_MS)
#define LINKS_BURST         256     //  Messages per socket per poll burst

//  A dialled neighbour
typedef struct {
    char link [WEFT_NAME_MAX + 1];      //  "d:N" in the mesh
    char *endpoint;
    uint8_t key [32];                   //  Its CURVE server key
    transport_t *transport;             //  NULL once closed (revoked or cut)
    bool cut;                           //  Closed by the fault switch
} neighbour_t;

struct _links_t {
    links_config_t config;              //  Strings borrowed from the options
    zpoller_t *poller;                  //  The driver's
    node_t *node;                       //  Borrowed, once started
    transport_t *transport;             //  To the coordinator, or NULL
    //  Configured ones first, then one slot per discovered peer
    neighbour_t neighbours [LINKS_MAX];
    size_t neighbour_count;             //  Configured
    discovery_t *discovery;             //  --beacon, or NULL
    zactor_t *beacon;
    listener_t *listener;               //  Our listener, or NULL
    zap_t *zap;
    sigcheck_t *sigcheck;               //  Signature checks of a burst on threads
    uint64_t fault_checked;
};

//  Parse "KEYHEX@ENDPOINT,..." into self->neighbours
static int
s_parse_neighbours (links_t *self, const char *list)
{
    if (!list || !*list)
        return 0;
    char *copy = strdup (list);
    char *save = NULL;
    int rc = 0;
    for (char *item = strtok_r (copy, ",", &save); item; item = strtok_r (NULL, ",", &save)) {
        char *at = strchr (item, '@');
        if (!at || at - item != 64 || self->neighbour_count == LINKS_NEIGHBOURS_MAX) {
            rc = -1;
            break;
        }
        *at = 0;
        neighbour_t *n = &self->neighbours [self->neighbour_count];
        if (keys_unhex (item, n->key, 32)) {
            rc = -1;
            break;
        }
        n->endpoint = strdup (at + 1);
        snprintf (n->link, sizeof n->link, "d:%zu", self->neighbour_count);
        self->neighbour_count++;
    }
    free (copy);
    return rc;
}

links_t *
links_new (const links_config_t *config, zpoller_t *poller, char *error, size_t error_size)
{
    assert (config && poller);
    links_t *self = (links_t *) zmalloc (sizeof (links_t));
    self->config = *config;
    self->poller = poller;
    if (s_parse_neighbours (self, config->neighbours)) {
        snprintf (error, error_size, "--neighbour wants KEYHEX@ENDPOINT[,...] "
                  "(64 hex digits, at most %d)", LINKS_NEIGHBOURS_MAX);
        links_destroy (&self);
    }
    return self;
}

void
links_destroy (links_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        links_t *self = *self_p;
        sigcheck_destroy (&self->sigcheck);
        zactor_destroy (&self->beacon);
        discovery_destroy (&self->discovery);
        transport_destroy (&self->transport);
        for (size_t i = 0; i < LINKS_MAX; i++) {
            transport_destroy (&self->neighbours [i].transport);
            free (self->neighbours [i].endpoint);
        }
        listener_destroy (&self->listener);
        zap_destroy (&self->zap);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  The node core's transport

//  Send [dest,] frame on a DEALER or [routing id, dest,] frame on the router
static int
s_send (void *ctx, const char *link, const char *dest, const uint8_t *frame, size_t size)
{
    links_t *self = (links_t *) ctx;
    void *handle = NULL;
    uint8_t route [256];
    size_t route_size = 0;
    if (streq (link, MESH_COORDINATOR))
        handle = self->transport? zsock_resolve (transport_sock (self->transport)): NULL;
    else
    if (link [0] == 'd') {
        size_t index = (size_t) atoi (link + 2);
        if (index < LINKS_MAX && self->neighbours [index].transport)
            handle = zsock_resolve (transport_sock (self->neighbours [index].transport));
    }
    else
    if (link [0] == 'r' && self->listener) {
        route_size = strlen (link + 2) / 2;
        if (route_size == 0 || route_size > sizeof route
        ||  keys_unhex (link + 2, route, route_size))
            return -1;
        handle = zsock_resolve (listener_sock (self->listener));
    }
    if (!handle)
        return -1;
    if (route_size && zmq_send (handle, route, route_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    if (dest)
        zmq_send (handle, dest, strlen (dest), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    return zmq_send (handle, frame, size, ZMQ_DONTWAIT) == -1? -1: 0;
}

node_links_t
links_binding (links_t *self)
{
    node_links_t binding = { self, s_send, NULL };
    return binding;
}

static void
s_transport_close (links_t *self, transport_t **transport_p)
{
    if (*transport_p) {
        zpoller_remove (self->poller, transport_sock (*transport_p));
        zpoller_remove (self->poller, transport_monitor (*transport_p));
        transport_destroy (transport_p);
    }
}

void
links_close (links_t *self, const char *link)
{
    assert (self);
    if (link [0] == 'd') {
        size_t index = (size_t) atoi (link + 2);
        if (index < LINKS_MAX)
            s_transport_close (self, &self->neighbours [index].transport);
    }
    else
    //  That peer's connection alone: ZAP refuses it when it dials again
    //  (a revoked key), and every other peer stays connected
    if (link [0] == 'r' && self->listener)
        listener_close (self->listener, link);
}

//  --------------------------------------------------------------------------
//  Opening

//  ZAP on our listener: any key of the deployment that is not revoked
//  may connect; the HELLO that follows must prove a certificate for it
static bool
s_admit (void *arg, const char *domain, const char *address, const uint8_t client_key [32],
         char user_id [ZAP_USER_ID_MAX + 1])
{
    links_t *self = (links_t *) arg;
    (void) address;
    if (streq (domain, "ops"))
        return opserver_admit (client_key, user_id);
    if (!streq (domain, "mesh") || !node_admit (self->node, client_key))
        return false;
    keys_hex (client_key, 32, user_id);
    return true;
}

static void
s_coord_connect (links_t *self)
{
    self->transport = transport_new (self->config.coord_endpoint, self->config.keys,
                                     self->config.coord_curve, self->config.heartbeat_ms,
                                     self->config.verbose);
    if (self->transport) {
        zpoller_add (self->poller, transport_sock (self->transport));
        zpoller_add (self->poller, transport_monitor (self->transport));
    }
}

static void
s_neighbour_connect (links_t *self, neighbour_t *n)
{
    n->transport = transport_new (n->endpoint, self->config.keys, n->key,
                                  self->config.heartbeat_ms, self->config.verbose);
    if (n->transport) {
        zpoller_add (self->poller, transport_sock (n->transport));
        zpoller_add (self->poller, transport_monitor (n->transport));
    }
}

static bool
s_key_linked (void *ctx, const uint8_t key [WEFT_KEY_SIZE])
{
    return mesh_key_linked (node_mesh (((links_t *) ctx)->node), key);
}

//  LAN discovery (--beacon): announce our listener's port and CURVE
//  key, and hand what we hear to the discovery core
static void
s_beacon_start (links_t *self)
{
    const keys_t *keys = self->config.keys;
    discovery_config_t config = {
        .own_key = keys->curve_public, .ca_key = self->config.ca_key,
        .hello_ms = LINKS_HELLO_MS, .expire_ms = LINKS_BEACON_EXPIRE_MS,
        .ban_ms = LINKS_BEACON_BAN_MS, .yield_ms = LINKS_BEACON_YIELD_MS,
        .linked = s_key_linked, .ctx = self, .verbose = self->config.verbose
    };
    self->discovery = discovery_new (&config);
    for (size_t i = 0; i < self->neighbour_count; i++)
        discovery_exclude (self->discovery, self->neighbours [i].key);
    //  Only a node with a TCP listener has something to announce
    uint8_t datagram [BEACON_SIZE];
    beacon_t beacon = { .port = 0 };
    const char *listen = self->config.listen;
    const char *colon = listen? strrchr (listen, ':'): NULL;
    if (colon && strncmp (listen, "tcp://", 6) == 0)
        beacon.port = (uint16_t) atoi (colon + 1);
    beacon_fingerprint (self->config.ca_key, beacon.deployment);
    memcpy (beacon.curve_key, keys->curve_public, WEFT_KEY_SIZE);
    bool announce = beacon_encode (&beacon, datagram) == 0;
    if (!announce)
        zsys_warning ("node: no --listen tcp://ADDRESS:PORT: beacons are heard, not sent");
    beacon_io_config_t io = { self->config.beacon, self->config.beacon_port,
                              announce? datagram: NULL, 0, self->config.verbose };
    self->beacon = zactor_new (beacon_io_actor, &io);
    zpoller_add (self->poller, self->beacon);
}

int
links_start (links_t *self, node_t *node, bool zap_needed)
{
    assert (self && node);
    self->node = node;
    self->sigcheck = sigcheck_new (node_mesh (node), self->config.verify_threads);
    zsys_info ("node: envelope signatures checked on the event loop and %d "
               "worker thread%s", (int) self->config.verify_threads,
               self->config.verify_threads == 1? "": "s");
    const char *listen = self->config.listen;
    if (zap_needed || (listen && *listen)) {
        //  The ZAP handler exists before a listener binds
        self->zap = zap_new (s_admit, self);
        if (!self->zap)
            return -1;
        zpoller_add (self->poller, zap_sock (self->zap));
    }
    if (listen && *listen) {
        self->listener = listener_new (listen, self->config.keys, self->config.heartbeat_ms);
        if (!self->listener)
            return -1;
        zpoller_add (self->poller, listener_sock (self->listener));
        zpoller_add (self->poller, listener_monitor (self->listener));
        zsys_info ("node: mesh listener on %s", listen);
    }
    if (self->config.beacon && *self->config.beacon)
        s_beacon_start (self);
    if (self->config.coord_endpoint && *self->config.coord_endpoint) {
        s_coord_connect (self);
        zsys_info ("node: linking to %s", self->config.coord_endpoint);
    }
    for (size_t i = 0; i < self->neighbour_count; i++) {
        neighbour_t *n = &self->neighbours [i];
        s_neighbour_connect (self, n);
        if (n->transport)
            zsys_info ("node: neighbour %s", n->endpoint);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Reading

//  Read a burst from a DEALER link: [frame] or [dest, frame]
static void
s_read_dealer (links_t *self, zsock_t *sock, const char *link, uint64_t now)
{
    for (int i = 0; i < LINKS_BURST; i++) {
        //  Until the socket has no more (see listener_recv)
        zmsg_t *msg = zmsg_recv_nowait (sock);
        if (!msg)
            break;
        zframe_t *last = zmsg_last (msg);
        char *dest = NULL;
        if (zmsg_size (msg) == 2) {
            zframe_t *first = zmsg_first (msg);
            if (zframe_size (first) > 0 && zframe_size (first) <= WEFT_NAME_MAX)
                dest = zframe_strdup (first);
        }
        if (zmsg_size (msg) <= 2 && last)
            sigcheck_add (self->sigcheck, link, dest, &msg, last, now);
        free (dest);
        zmsg_destroy (&msg);
    }
    sigcheck_feed (self->sigcheck, now);
}

//  Read a burst from our listener: [routing id, frame] or [routing id, dest, frame]
static void
s_read_router (links_t *self, uint64_t now)
{
    mesh_t *mesh = node_mesh (self->node);
    for (int i = 0; i < LINKS_BURST; i++) {
        char link [LISTENER_LINK_MAX + 1];
        uint8_t key [32];
        char *dest = NULL;
        zmsg_t *msg = NULL;
        int rc = listener_recv (self->listener, link, key, &dest, &msg);
        if (rc == PROTO_ERR_EMPTY)
            break;
        if (rc == 1 || (rc == 0 && !mesh_has_link (mesh, link)))
            mesh_link_up (mesh, link, MESH_LINK_ACCEPTED, key, now);
        if (msg)
            sigcheck_add (self->sigcheck, link, dest, &msg, zmsg_last (msg), now);
        free (dest);
        zmsg_destroy (&msg);
    }
    sigcheck_feed (self->sigcheck, now);
}

static void
s_beacon_heard (links_t *self, uint64_t now)
{
    char address [INET_ADDRSTRLEN + 1];
    zframe_t *frame = NULL;
    if (beacon_io_recv (self->beacon, address, sizeof address, &frame)) {
        zsys_error ("node: LAN beacons are off (see above)");
        zpoller_remove (self->poller, self->beacon);
        zactor_destroy (&self->beacon);
        return;
    }
    int outcome = discovery_beacon (self->discovery, address, zframe_data (frame),
                                    zframe_size (frame), now);
    if (outcome == DISCOVERY_NEW)
        zsys_info ("node: beacon from %s: new peer", address);
    else
    if (outcome != DISCOVERY_REFRESHED && outcome != DISCOVERY_OWN && self->config.verbose)
        zsys_debug ("node: beacon from %s ignored: %s", address,
                    discovery_outcome_name (outcome));
    zframe_destroy (&frame);
}

//  A transport's monitor event: the link is up or down in the mesh
static void
s_monitor (links_t *self, transport_t *transport, const char *link, int kind,
           const uint8_t *key, uint64_t now)
{
    int event = transport_event (transport);
    mesh_t *mesh = node_mesh (self->node);
    if (event == TRANSPORT_CONNECTED)
        mesh_link_up (mesh, link, kind, key, now);
    else
    if (event == TRANSPORT_DISCONNECTED)
        mesh_link_down (mesh, link, now);
}

bool
links_handle (links_t *self, void *which, uint64_t now)
{
    assert (self);
    if (!which)
        return false;
    if (self->transport && which == transport_sock (self->transport))
        s_read_dealer (self, transport_sock (self->transport), MESH_COORDINATOR, now);
    else
    if (self->transport && which == transport_monitor (self->transport))
        s_monitor (self, self->transport, MESH_COORDINATOR, MESH_LINK_COORDINATOR,
                   self->config.coord_curve, now);
    else
    if (self->listener && which == listener_sock (self->listener))
        s_read_router (self, now);
    else
    if (self->listener && which == listener_monitor (self->listener))
        listener_event (self->listener, now);
    else
    if (self->zap && which == zap_sock (self->zap))
        zap_handle (self->zap);
    else
    if (self->beacon && which == (void *) self->beacon)
        s_beacon_heard (self, now);
    else {
        for (size_t i = 0; i < LINKS_MAX; i++) {
            neighbour_t *n = &self->neighbours [i];
            if (!n->transport)
                continue;
            if (which == transport_sock (n->transport)) {
                s_read_dealer (self, transport_sock (n->transport), n->link, now);
                return true;
            }
            if (which == transport_monitor (n->transport)) {
                s_monitor (self, n->transport, n->link, MESH_LINK_DIALLED, n->key, now);
                return true;
            }
        }
        return false;
    }
    return true;
}

//  --------------------------------------------------------------------------
//  Housekeeping

//  Test-only fault switch. While the file exists: if it is empty (or
//  has a line "coordinator") the coordinator link is closed; every
//  other line names the endpoint of a dialled neighbour whose link is
//  closed. A link comes back when its line (or the file) goes.
static void
s_fault_switch (links_t *self, const char *path, uint64_t now)
{
    mesh_t *mesh = node_mesh (self->node);
    bool dial_coordinator = self->config.coord_endpoint && *self->config.coord_endpoint;
    char text [4096] = "";
    bool exists = false;
    FILE *file = fopen (path, "r");
    if (file) {
        exists = true;
        size_t size = fread (text, 1, sizeof text - 1, file);
        text [size] = 0;
        fclose (file);
    }
    bool cut_coord = false;
    bool any_line = false;
    bool cut_neighbour [LINKS_NEIGHBOURS_MAX] = { false };
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        line [strcspn (line, " \t\r")] = 0;
        if (!*line)
            continue;
        any_line = true;
        if (streq (line, "coordinator"))
            cut_coord = true;
        for (size_t i = 0; i < self->neighbour_count; i++)
            if (streq (line, self->neighbours [i].endpoint))
                cut_neighbour [i] = true;
    }
    if (exists && !any_line)
        cut_coord = true;
    if (cut_coord && self->transport) {
        zsys_warning ("node: fault switch: coordinator link cut");
        s_transport_close (self, &self->transport);
        mesh_link_down (mesh, MESH_COORDINATOR, now);
    }
    else
    if (!cut_coord && dial_coordinator && !self->transport) {
        zsys_warning ("node: fault switch: coordinator link restored");
        s_coord_connect (self);
    }
    for (size_t i = 0; i < self->neighbour_count; i++) {
        neighbour_t *n = &self->neighbours [i];
        if (cut_neighbour [i] && n->transport) {
            zsys_warning ("node: fault switch: link to %s cut", n->endpoint);
            s_transport_close (self, &n->transport);
            mesh_link_down (mesh, n->link, now);
            n->cut = true;
        }
        else
        if (!cut_neighbour [i] && n->cut) {
            zsys_warning ("node: fault switch: link to %s restored", n->endpoint);
            n->cut = false;
            s_neighbour_connect (self, n);
        }
    }
}

//  Dial the peers discovery wants dialled, close the ones it let go
static void
s_discovery_act (links_t *self, uint64_t now)
{
    discovery_peer_t peer;
    int action;
    while ((action = discovery_next (self->discovery, now, &peer))) {
        neighbour_t *n = &self->neighbours [LINKS_NEIGHBOURS_MAX + peer.slot];
        if (action == DISCOVERY_DIAL) {
            free (n->endpoint);
            n->endpoint = strdup (peer.endpoint);
            memcpy (n->key, peer.key, WEFT_KEY_SIZE);
            snprintf (n->link, sizeof n->link, "d:%zu", (size_t) (n - self->neighbours));
            s_neighbour_connect (self, n);
            zsys_info ("node: dialling discovered peer %s", peer.endpoint);
        }
        else
        if (action == DISCOVERY_FORGET)
            zsys_info ("node: forgetting discovered peer %s: %s", peer.endpoint, peer.why);
        else {
            zsys_info ("node: dropping discovered peer %s: %s", peer.endpoint, peer.why);
            s_transport_close (self, &n->transport);
            mesh_link_down (node_mesh (self->node), n->link, now);
        }
    }
}

//  Peers of our listener whose connection is gone leave the mesh
static void
s_listener_gone (links_t *self, uint64_t now)
{
    zlistx_t *gone = listener_gone (self->listener, now);
    for (char *link = gone? (char *) zlistx_first (gone): NULL; link;
         link = (char *) zlistx_next (gone)) {
        if (self->config.verbose)
            zsys_debug ("node: %s left the listener", link);
        mesh_link_down (node_mesh (self->node), link, now);
    }
    zlistx_destroy (&gone);
}

void
links_faults (links_t *self, uint64_t now)
{
    assert (self);
    const char *fault_file = self->config.fault_file;
    if (fault_file && *fault_file && now >= self->fault_checked + 200) {
        self->fault_checked = now;
        s_fault_switch (self, fault_file, now);
    }
}

void
links_tick (links_t *self, uint64_t now)
{
    assert (self);
    if (self->discovery)
        s_discovery_act (self, now);
    if (self->listener)
        s_listener_gone (self, now);
}

uint64_t
links_deadline (links_t *self)
{
    assert (self);
    return self->listener? listener_deadline (self->listener): 0;
}
