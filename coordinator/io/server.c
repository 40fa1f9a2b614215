/*  server - weft-coord's sockets and event loop
    Frames on a ROUTER are [routing id, envelope]; a peer that speaks
    like REQ may add an empty delimiter ([routing id, "", envelope]),
    and the reply mirrors whatever shape the request had. On the mesh
    socket a mesh node sends custody transfers [routing id, dest,
    envelope] (dest "coordinator"): the envelope may come from a device
    behind that node (a relay); it is acknowledged with a CUSTODY_ACK
    after the burst's commit, and replies and pushes to its origin go
    back the same way as custody transfers [routing id, origin, reply]
    (the route to a device is the link its last envelope came in on).
    The core keeps custody of those sent through a relay until the
    relay's CUSTODY_ACK names them, durably, and retransmits them through
    the push effect (coord_sent_custody: told whether each went out);
    a relay's connection is looked up by the relay's own id, so a relay
    that came back (with a new routing id) gets them over its new
    connection.
    Anything else is counted as malformed and dropped. The User-Id that
    ZAP gave the connection is read from the envelope frame's metadata.
    Revoking a device closes its own mesh connection alone (the route
    remembers which connection carried it, proto/io/tcplink.h: the
    revoked device dials again and ZAP refuses it; every other device
    keeps its connection) and pushes the new revocation list to the
    nodes linked, which close its links to them.
    The mesh socket is read a burst at a time (SERVER_BURST messages): the
    origins' keys are looked up in one read transaction
    (coord_mesh_key), the signatures checked at once on the verifier
    pool (proto/io/workpool: its workers and this thread), then the core
    takes the messages in the order they came, commits once, and the
    burst's CUSTODY_ACKs go out, one per link.  */

#include <czmq.h>
#include "proto/envelope.h"
#include "proto/meshmsg.h"
#include "proto/io/zap.h"
#include "proto/io/tcplink.h"
#include "proto/io/workpool.h"
#include "coordinator/core/coord.h"
#include "coordinator/core/registry.h"
#include "coordinator/io/server.h"
#include "coordinator/io/server_internal.h"

#if COORD_USER_ID_MAX != ZAP_USER_ID_MAX
#   error "coord_admit's user_id must fit zap_fn's"
#endif

#define S_SNDHWM        1000        //  Queued replies per peer before drops
#define S_LINGER_MS     200         //  Time to flush replies at shutdown
#define S_BACKLOG       1024        //  Connections the kernel queues before accept
#define S_WAIT_MAX_MS   1000        //  Longest sleep between deadline checks

typedef enum { S_MESH, S_ENROL, S_RPC } s_kind_t;

struct _server_t {
    coord_t *coord;                 //  The core
    zap_t *zap;                     //  ZAP handler, bound first
    zsock_t *mesh;                  //  Nodes
    zsock_t *enrol;                 //  Enrolment
    zsock_t *rpc;                   //  Operators
    zpoller_t *poller;
    zhashx_t *routes;               //  Device id -> s_route_t
    store_t *store;                 //  The registry's store, borrowed
    const keys_t *keys;             //  For a new mesh socket
    char bind [64];
    uint64_t heartbeat_ms;          //  Link timers of every socket
    bool verbose;
    int ports [3];                  //  Bound ports by s_kind_t
    workpool_t *verifiers;          //  Signature checks of a mesh burst
    uint64_t checked;               //  Signatures checked on it
    uint64_t check_failed;          //  Of those, did not verify
};

//  Where a device is reached: the link, whether it speaks custody, and
//  the node at the other end of the link (the device, or its relay)
typedef struct {
    zframe_t *rid;
    bool custody;
    char relay [COORD_USER_ID_MAX + 1];
    tcplink_conn_t conn;            //  The connection rid names
} s_route_t;

//  --------------------------------------------------------------------------
int
server_send (zsock_t *sock, zframe_t *route, bool delimiter, const uint8_t *frame,
             size_t size)
{
    void *handle = zsock_resolve (sock);
    if (zmq_send (handle, zframe_data (route), zframe_size (route),
                  ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    //  Once the first frame is accepted the rest of the message is too
    if (delimiter)
        zmq_send (handle, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    return zmq_send (handle, frame, size, ZMQ_DONTWAIT) == -1? -1: 0;
}

//  Push effect of the core: a frame for a device's latest mesh link.

//  Send [routing id, dest, frame] (a custody transfer toward dest)
static int
s_send_custody (zsock_t *sock, zframe_t *route, const char *dest, const uint8_t *frame,
                size_t size)
{
    void *handle = zsock_resolve (sock);
    if (zmq_send (handle, zframe_data (route), zframe_size (route),
                  ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    zmq_send (handle, dest, strlen (dest), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    return zmq_send (handle, frame, size, ZMQ_DONTWAIT) == -1? -1: 0;
}

//  True if the route goes through a relay (a custody transfer that the
//  relay acknowledges and the core keeps custody of until then)
static bool
s_relayed (const s_route_t *route, const char *device_id)
{
    return route->custody && !streq (route->relay, device_id);
}

static void
s_push (void *ctx, const char *device_id, const uint8_t *frame, size_t size)
{
    server_t *self = (server_t *) ctx;
    s_route_t *route = (s_route_t *) zhashx_lookup (self->routes, device_id);
    if (!route) {
        //  Never heard of since we started: its next heartbeat brings it
        //  the document (held, it would go after the newer reply); an
        //  update offer waits in custody for its route
        if (self->verbose)
            zsys_debug ("coord: %s not connected, it will fetch on heartbeat", device_id);
        coord_sent_custody (self->coord, device_id, NULL, false, frame, size,
                            (uint64_t) zclock_time ());
        return;
    }
    //  Through a relay: over the relay's current connection, which a
    //  restarted relay renews with its first message (its rid changes)
    bool relayed = s_relayed (route, device_id);
    s_route_t *relay = relayed? (s_route_t *) zhashx_lookup (self->routes, route->relay)
                              : NULL;
    zframe_t *rid = relay? relay->rid: route->rid;
    int rc = route->custody? s_send_custody (self->mesh, rid, device_id, frame, size)
                           : server_send (self->mesh, rid, false, frame, size);
    int error = errno;
    //  Sent (in flight on that connection), or not (the connection is
    //  gone: it waits for the relay to link again), until the relay
    //  acknowledges it; a retransmission is not held twice. Sent
    //  directly: a TWIN_DESIRED is kept until the device's ACK.
    coord_sent_custody (self->coord, device_id, relayed? route->relay: device_id, rc == 0,
                        frame, size, (uint64_t) zclock_time ());
    if (rc) {
        if (self->verbose)
            zsys_debug ("coord: push to %s failed: %s", device_id, zmq_strerror (error));
        //  A relay's connection is gone, but the device may still be
        //  behind the relay when it comes back: keep the device's route
        if (error == EHOSTUNREACH && relay)
            zhashx_delete (self->routes, route->relay);
        else
        if (error == EHOSTUNREACH && !relayed)
            zhashx_delete (self->routes, device_id);
    }
}

static void
s_route_destroy (void **item_p)
{
    s_route_t *route = (s_route_t *) *item_p;
    if (route) {
        zframe_destroy (&route->rid);
        free (route);
    }
    *item_p = NULL;
}

//  Link-local effect of the core (CHUNK_DATA): on a node's own link,
//  never as custody; dropped when the node is not linked directly
static void
s_send_link (void *ctx, const char *device_id, const uint8_t *frame, size_t size)
{
    server_t *self = (server_t *) ctx;
    s_route_t *route = (s_route_t *) zhashx_lookup (self->routes, device_id);
    if (!route || !streq (route->relay, device_id)
    ||  server_send (self->mesh, route->rid, false, frame, size)) {
        if (self->verbose)
            zsys_debug ("coord: a link-local frame for %s dropped: not linked", device_id);
    }
}

//  A device was revoked: close the connection it speaks on itself (and
//  so the routes through it), and tell the nodes linked to us (they
//  spread it and close its links) at once. Every other connection stays.
static void
s_revoked (void *ctx, const char *device_id)
{
    server_t *self = (server_t *) ctx;
    size_t size;
    const uint8_t *list = coord_revocations (self->coord, &size);
    zlistx_t *doomed = zlistx_new ();
    bool closed = false;
    for (s_route_t *route = (s_route_t *) zhashx_first (self->routes); route;
         route = (s_route_t *) zhashx_next (self->routes)) {
        const char *id = (const char *) zhashx_cursor (self->routes);
        if (streq (route->relay, device_id)) {
            //  Its own link, and those of devices relayed by it
            if (!closed && tcplink_conn_close (&route->conn) == 0) {
                zsys_info ("coord: closed the mesh connection of revoked %s", device_id);
                closed = true;
            }
            zlistx_add_end (doomed, (void *) id);
        }
        else
        if (list && route->custody && !streq (id, device_id))
            s_send_custody (self->mesh, route->rid, "*", list, size);
    }
    for (const char *id = (const char *) zlistx_first (doomed); id;
         id = (const char *) zlistx_next (doomed))
        zhashx_delete (self->routes, id);
    zlistx_destroy (&doomed);
}

//  Send a site-wide frame once to every node linked to us (several
//  devices may share a relay's link)
static void
s_broadcast (void *ctx, const uint8_t *list, size_t size)
{
    server_t *self = (server_t *) ctx;
    zhashx_t *sent = zhashx_new ();
    for (s_route_t *route = (s_route_t *) zhashx_first (self->routes); route;
         route = (s_route_t *) zhashx_next (self->routes)) {
        char *rid = zframe_strhex (route->rid);
        if (route->custody && !zhashx_lookup (sent, rid)) {
            zhashx_insert (sent, rid, (void *) 1);
            s_send_custody (self->mesh, route->rid, "*", list, size);
        }
        free (rid);
    }
    zhashx_destroy (&sent);
}

//  The quarantine list changed: every node linked to us spreads it
static void
s_quarantine_changed (void *ctx)
{
    server_t *self = (server_t *) ctx;
    size_t size;
    const uint8_t *list = coord_quarantine (self->coord, &size);
    if (list)
        s_broadcast (self, list, size);
}

//  ZAP: the core decides, at the wall clock, with the peer's address
static bool
s_admit (void *arg, const char *domain, const char *address, const uint8_t client_key [32],
         char user_id [ZAP_USER_ID_MAX + 1])
{
    server_t *self = (server_t *) arg;
    return coord_admit (self->coord, domain, address, client_key, (uint64_t) zclock_time (),
                        user_id);
}

//  --------------------------------------------------------------------------
//  A CURVE server ROUTER with a ZAP domain. Port 0 binds an ephemeral port.

static zsock_t *
s_router (server_t *self, const keys_t *keys, const char *domain, const char *bind,
          int port, s_kind_t kind)
{
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    if (!sock)
        return NULL;
    zsock_set_zap_domain (sock, domain);
    zsock_set_curve_server (sock, 1);
    zsock_set_curve_secretkey_bin (sock, keys->curve_secret);
    zsock_set_curve_publickey_bin (sock, keys->curve_public);
    zsock_set_router_mandatory (sock, 1);
    zsock_set_sndtimeo (sock, 0);
    zsock_set_sndhwm (sock, S_SNDHWM);
    zsock_set_linger (sock, S_LINGER_MS);
    //  libzmq drops larger messages before we ever see them
    zsock_set_maxmsgsize (sock, WEFT_FRAME_MAX);
    //  A connection that does not finish its greeting, CURVE handshake
    //  and ZAP check in 10 s is closed: half-open connections (a
    //  scanner, a flood, a device that died mid-handshake) cost a
    //  descriptor and a little memory only that long (libzmq's default
    //  is 30 s; a real handshake takes a few round trips). Once up, a
    //  peer that falls silent (a dead or blackholed link) is dropped by
    //  the heartbeat within 5/2 intervals (tcplink.h). The backlog
    //  absorbs a burst of devices reconnecting at once (libzmq's
    //  default is 100).
    tcplink_tune (sock, self->heartbeat_ms);
    zsock_set_backlog (sock, S_BACKLOG);
    int rc = port? zsock_bind (sock, "tcp://%s:%d", bind, port)
                 : zsock_bind (sock, "tcp://%s:*", bind);
    if (rc == -1) {
        zsys_error ("coord: cannot listen on tcp://%s:%d (%s): %s", bind, port, domain,
                    zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    self->ports [kind] = port? port: rc;
    zsys_info ("coord: %s on tcp://%s:%d", domain, bind, self->ports [kind]);
    return sock;
}

//  --------------------------------------------------------------------------
//  Create and bind.

server_t *
server_new (const server_config_t *config, store_t *store, const keys_t *ca,
            const keys_t *keys, const uint8_t *cert, size_t cert_size)
{
    assert (config && store && ca && keys && cert);
    server_t *self = (server_t *) zmalloc (sizeof (server_t));
    self->verbose = config->verbose;
    self->heartbeat_ms = config->heartbeat_ms? config->heartbeat_ms: TCPLINK_HEARTBEAT_MS;
    self->routes = zhashx_new ();
    zhashx_set_destructor (self->routes, s_route_destroy);
    coord_effects_t effects = { self, s_push, s_send_link };
    self->coord = coord_new (store, ca, keys, cert, cert_size, &effects);
    if (!self->coord) {
        server_destroy (&self);
        return NULL;
    }
    coord_set_revoked (self->coord, s_revoked);
    coord_set_quarantine_hook (self->coord, s_quarantine_changed);
    self->store = store;
    self->keys = keys;
    snprintf (self->bind, sizeof self->bind, "%s", config->bind);
    coord_set_verbose (self->coord, config->verbose);
    coord_set_heartbeat (self->coord, self->heartbeat_ms);
    //  The handler must exist before a CURVE socket binds, or libzmq
    //  lets the first clients in unchecked
    self->zap = zap_new (s_admit, self);
    if (self->zap)
        zap_set_verbose (self->zap, config->verbose);
    if (self->zap)
        self->mesh = s_router (self, keys, "mesh", config->bind, config->mesh_port, S_MESH);
    if (self->mesh)
        self->enrol = s_router (self, keys, "enrol", config->bind, config->enrol_port, S_ENROL);
    if (self->enrol)
        self->rpc = s_router (self, keys, "rpc", config->bind, config->rpc_port, S_RPC);
    if (!self->rpc) {
        server_destroy (&self);
        return NULL;
    }
    self->poller = zpoller_new (zap_sock (self->zap), self->mesh, self->enrol,
                                self->rpc, NULL);
    int threads = config->verify_threads < 0? 0: config->verify_threads;
    self->verifiers = workpool_new ((size_t) threads);
    zsys_info ("coord: envelope signatures checked on the event loop and %zu worker "
               "thread%s", workpool_threads (self->verifiers),
               workpool_threads (self->verifiers) == 1? "": "s");
    return self;
}

//  --------------------------------------------------------------------------
//  Unbind and free.

void
server_destroy (server_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        server_t *self = *self_p;
        zpoller_destroy (&self->poller);
        workpool_destroy (&self->verifiers);
        zsock_destroy (&self->rpc);
        zsock_destroy (&self->enrol);
        zsock_destroy (&self->mesh);
        zap_destroy (&self->zap);
        coord_destroy (&self->coord);
        zhashx_destroy (&self->routes);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Read one message from a ROUTER, hand it to the core, answer.

//  Send a reply; on a mesh link that is gone, forget the device's route.
//  Returns 0 if sent, else -1.
static int
s_reply (server_t *self, zsock_t *sock, s_kind_t kind, zframe_t *route, bool delimiter,
         const char *user_id, const uint8_t *frame, size_t size)
{
    if (server_send (sock, route, delimiter, frame, size)) {
        if (self->verbose)
            zsys_debug ("coord: reply to %s dropped: %s", user_id? user_id: "?",
                        zmq_strerror (errno));
        if (kind == S_MESH && user_id && errno == EHOSTUNREACH)
            zhashx_delete (self->routes, user_id);
        return -1;
    }
    return 0;
}

//  A mesh message of a burst and its signature check on the pool
typedef struct {
    zmsg_t *msg;                    //  Owned
    const uint8_t *frame;           //  Its envelope, in msg
    size_t size;
    bool keyed;                     //  Checked with key on the pool
    uint8_t key [32];
    bool ok;                        //  The signature verified
} s_job_t;

//  A pool job: check one envelope's signature with the origin's key
static void
s_check (void *item, void *arg)
{
    (void) arg;
    s_job_t *job = (s_job_t *) item;
    if (!job->keyed)
        return;                     //  The core checks it, or refuses it
    envelope_t env;
    job->ok = envelope_decode (&env, job->frame, job->size) == 0
           && envelope_verify (&env, job->key) == 0;
}

//  The envelope of a mesh message, its User-Id and whether it is a
//  custody transfer to us, if it has the shape the core takes; else NULL
static zframe_t *
s_mesh_envelope (zmsg_t *msg, const char **user_id_p, bool *custody_p)
{
    size_t frames = zmsg_size (msg);
    zframe_t *body = zmsg_last (msg);
    zmsg_first (msg);
    zframe_t *second = frames == 3? zmsg_next (msg): NULL;
    *custody_p = second && zframe_size (second) > 0 && zframe_streq (second, COORD_ORIGIN);
    *user_id_p = body? zframe_meta (body, "User-Id"): NULL;
    return frames == 2 || (frames == 3 && second && zframe_size (second) == 0) || *custody_p
         ? body: NULL;
}

static bool
    s_handle (server_t *self, zsock_t *sock, s_kind_t kind, zmsg_t *msg,
              const s_job_t *job, server_held_t *held);

//  Read one message from a ROUTER, hand it to the core, answer at once
//  or, when held is not NULL (mesh), leave the reply in *held for after
//  the group commit. Returns false if there was no message.
static bool
s_recv (server_t *self, zsock_t *sock, s_kind_t kind, server_held_t *held)
{
    zmsg_t *msg = zmsg_recv_nowait (sock);
    if (!msg)
        return false;
    return s_handle (self, sock, kind, msg, NULL, held);
}

//  Hand one message (taken) to the core; job: its signature check on
//  the pool, or NULL.
static bool
s_handle (server_t *self, zsock_t *sock, s_kind_t kind, zmsg_t *msg, const s_job_t *job,
          server_held_t *held)
{
    size_t frames = zmsg_size (msg);
    zframe_t *route = zmsg_pop (msg);
    zframe_t *body = zmsg_pop (msg);
    bool delimiter = false;
    char *dest = NULL;
    if (frames == 3 && body && zframe_size (body) == 0) {
        zframe_destroy (&body);
        body = zmsg_pop (msg);
        delimiter = true;
    }
    else
    if (frames == 3 && kind == S_MESH && body && zframe_size (body) <= WEFT_NAME_MAX) {
        dest = zframe_strdup (body);
        zframe_destroy (&body);
        body = zmsg_pop (msg);
    }
    if (!route || !body || (frames != 2 && !delimiter && !dest)
    ||  (dest && !streq (dest, COORD_ORIGIN))) {
        coord_count_malformed (self->coord);
        if (self->verbose)
            zsys_debug ("coord: dropped a message of %zu frames", frames);
        goto done;
    }
    const char *user_id = zframe_meta (body, "User-Id");
    //  The peer's address, for the audit records of refusals
    const char *peer = zframe_meta (body, "Peer-Address");
    uint64_t now_ms = (uint64_t) zclock_time ();
    uint8_t *reply = NULL;
    size_t reply_size = 0;
    int rc;
    coord_link_t link;
    memset (&link, 0, sizeof link);
    link.custody = dest != NULL;
    if (job && job->keyed && job->ok) {
        link.checked = true;
        memcpy (link.checked_key, job->key, sizeof link.checked_key);
    }
    if (kind == S_MESH)
        rc = coord_on_mesh_link (self->coord, user_id, &link, zframe_data (body),
                                 zframe_size (body), now_ms, &reply, &reply_size);
    else
    if (kind == S_ENROL)
        rc = coord_on_enrol (self->coord, user_id, peer? peer: "", zframe_data (body),
                             zframe_size (body), now_ms, &reply, &reply_size);
    else
        rc = coord_on_rpc (self->coord, user_id, peer? peer: "", zframe_data (body),
                           zframe_size (body), now_ms, &reply, &reply_size);

    if (kind == S_MESH && link.custody && link.decoded && self->verbose) {
        char hex [2 * WEFT_ID_SIZE + 1];
        envelope_id_hex (link.id, hex);
        zsys_debug ("coord: custody transfer %s of %s via %s (%s%s%s)", hex,
                    link.origin [0]? link.origin: "?", user_id? user_id: "?",
                    proto_status_name (link.ack_status), link.ack_reason [0]? ": ": "",
                    link.ack_reason);
    }
    //  A verified message from a device: this link is where it is now
    //  (for a relayed one, the link to the relay that leads to it)
    const char *origin = link.origin [0]? link.origin: user_id;
    if (kind == S_MESH && rc == 0 && origin) {
        s_route_t *current = (s_route_t *) zhashx_lookup (self->routes, origin);
        if (!current || !zframe_eq (current->rid, route) || current->custody != link.custody
        ||  !streq (current->relay, user_id? user_id: "")) {
            if (self->verbose)
                zsys_debug ("coord: %s connected%s%s", origin,
                            streq (origin, user_id? user_id: "")? "": " via ",
                            streq (origin, user_id? user_id: "")? "": user_id);
            s_route_t *fresh = (s_route_t *) zmalloc (sizeof (s_route_t));
            fresh->rid = zframe_dup (route);
            if (tcplink_conn_of (body, &fresh->conn))
                fresh->conn.fd = -1;
            fresh->custody = link.custody;
            snprintf (fresh->relay, sizeof fresh->relay, "%s", user_id? user_id: "");
            //  A node on a new connection of its own: what we keep for
            //  the devices behind it goes out at once, not at the next
            //  back-off (up to 30 s)
            bool relinked = streq (origin, user_id? user_id: "")
                         && (!current || !zframe_eq (current->rid, route));
            zhashx_update (self->routes, origin, fresh);
            if (relinked)
                coord_relay_linked (self->coord, origin, now_ms);
            //  And what waits for a route to this device goes now
            coord_route_up (self->coord, origin, now_ms);
        }
    }
    //  A custody transfer is acknowledged after the burst's commit, with
    //  the core's verdict: OK, INTERNAL (retransmit), or its refusal
    bool ack = kind == S_MESH && link.custody && link.decoded && held;
    if ((reply || ack) && held) {
        held->route = route;
        route = NULL;
        held->delimiter = delimiter;
        held->frame = reply;
        held->size = reply_size;
        snprintf (held->user_id, sizeof held->user_id, "%s", user_id? user_id: "");
        snprintf (held->dest, sizeof held->dest, "%s", reply? link.reply_dest: "");
        held->ack = ack;
        memcpy (held->ack_id, link.id, WEFT_ID_SIZE);
        held->ack_status = link.ack_status;
        snprintf (held->ack_reason, sizeof held->ack_reason, "%s", link.ack_reason);
    }
    else
    if (reply) {
        s_reply (self, sock, kind, route, delimiter, user_id, reply, reply_size);
        free (reply);
    }
done:
    free (dest);
    zframe_destroy (&route);
    zframe_destroy (&body);
    zmsg_destroy (&msg);
    return true;
}

//  Read a burst of mesh messages, commit their replay windows once,
//  then release the replies (or drop them if the commit failed: the
//  nodes retry).
static void
s_recv_mesh (server_t *self)
{
    server_held_t held [SERVER_BURST];
    s_job_t jobs [SERVER_BURST];
    size_t count = 0, reads = 0;
    memset (held, 0, sizeof held);
    while (reads < SERVER_BURST && (jobs [reads].msg = zmsg_recv_nowait (self->mesh)))
        reads++;
    //  The keys in one read transaction, the signatures on the pool
    size_t keyed = 0;
    store_txn_t *txn = reads >= 2 && workpool_threads (self->verifiers)
                     ? store_begin (self->store, false): NULL;
    for (size_t i = 0; i < reads; i++) {
        s_job_t *job = &jobs [i];
        const char *user_id;
        bool custody;
        zframe_t *body = s_mesh_envelope (job->msg, &user_id, &custody);
        job->frame = body? zframe_data (body): NULL;
        job->size = body? zframe_size (body): 0;
        job->ok = false;
        job->keyed = txn && body
                  && coord_mesh_key (self->coord, txn, user_id, custody, job->frame,
                                     job->size, job->key);
        keyed += job->keyed;
    }
    store_abort (&txn);
    if (keyed >= 2) {
        workpool_run (self->verifiers, s_check, NULL, jobs, reads, sizeof jobs [0]);
        for (size_t i = 0; i < reads; i++)
            if (jobs [i].keyed) {
                self->checked++;
                self->check_failed += !jobs [i].ok;
            }
    }
    //  The core takes them in the order they came
    for (size_t i = 0; i < reads; i++) {
        s_handle (self, self->mesh, S_MESH, jobs [i].msg, keyed >= 2? &jobs [i]: NULL,
                  &held [count]);
        if (held [count].frame || held [count].ack)
            count++;
    }
    bool durable = coord_commit (self->coord) == 0;
    uint64_t now_ms = (uint64_t) zclock_time ();
    if (durable)
        server_send_acks (self->coord, self->verifiers, self->mesh, self->verbose, held,
                          count, now_ms);
    for (size_t i = 0; i < count; i++) {
        if (durable && held [i].frame && held [i].dest [0]) {
            int rc = s_send_custody (self->mesh, held [i].route, held [i].dest,
                                     held [i].frame, held [i].size);
            //  A reply through a relay (not a site-wide list): kept until
            //  the relay acknowledges it
            if (!streq (held [i].dest, "*") && !streq (held [i].dest, held [i].user_id))
                coord_sent_custody (self->coord, held [i].dest, held [i].user_id, rc == 0,
                                    held [i].frame, held [i].size, now_ms);
        }
        else
        if (durable && held [i].frame) {
            int rc = s_reply (self, self->mesh, S_MESH, held [i].route, held [i].delimiter,
                              held [i].user_id, held [i].frame, held [i].size);
            //  A document to the device itself: kept until its ACK
            coord_sent_custody (self->coord, held [i].user_id, held [i].user_id, rc == 0,
                                held [i].frame, held [i].size, now_ms);
        }
        zframe_destroy (&held [i].route);
        free (held [i].frame);
    }
}

//  --------------------------------------------------------------------------
//  Event loop.

int
server_run_for (server_t *self, int64_t timeout_ms)
{
    assert (self);
    int64_t until = timeout_ms >= 0? zclock_mono () + timeout_ms: INT64_MAX;
    while (!zsys_interrupted && zclock_mono () < until) {
        int64_t now = zclock_time ();
        int64_t wait = (int64_t) coord_deadline (self->coord) - now;
        if (wait > S_WAIT_MAX_MS)
            wait = S_WAIT_MAX_MS;
        if (wait > until - zclock_mono ())
            wait = until - zclock_mono ();
        void *which = zpoller_wait (self->poller, wait > 0? (int) wait: 0);
        if (which == zap_sock (self->zap))
            zap_handle (self->zap);
        else
        if (which == self->mesh)
            s_recv_mesh (self);
        else
        if (which == self->enrol)
            s_recv (self, self->enrol, S_ENROL, NULL);
        else
        if (which == self->rpc)
            s_recv (self, self->rpc, S_RPC, NULL);
        else
        if (zpoller_terminated (self->poller))
            break;
        if (store_broken (self->store)) {
            zsys_error ("coord: the store refuses all writes after a disk failure; "
                        "exiting so that a restart recovers");
            return -1;
        }
        coord_tick (self->coord, (uint64_t) zclock_time ());
    }
    return 0;
}

int
server_run (server_t *self)
{
    return server_run_for (self, -1);
}

//  --------------------------------------------------------------------------
//  Accessors

int
server_port (server_t *self, const char *which)
{
    assert (self && which);
    return streq (which, "mesh")? self->ports [S_MESH]
         : streq (which, "enrol")? self->ports [S_ENROL]
         : streq (which, "rpc")? self->ports [S_RPC]: -1;
}

uint64_t
server_pool_checked (server_t *self, uint64_t *failed_p)
{
    assert (self);
    if (failed_p)
        *failed_p = self->check_failed;
    return self->checked;
}

coord_t *
server_coord (server_t *self)
{
    assert (self);
    return self->coord;
}
