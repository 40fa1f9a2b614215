/*  relay - benchmark of one mesh relay with custody
    A sender hands 512-byte envelopes to a relay over CURVE (tcp on
    127.0.0.1); the relay is the real mesh core (node/core/mesh.c) with
    its LMDB outbox: it verifies each envelope (first hop), commits each
    poll burst in one transaction, acknowledges with CUSTODY_ACK, and
    forwards over CURVE to a sink that acknowledges like the coordinator
    (up to 256 ids per CUSTODY_ACK). The sender keeps at most WINDOW
    envelopes unacknowledged. Figure: envelopes/s delivered to the sink.
    The relay reads a burst and hands it to the mesh as weft-node does
    (node/io/sigcheck, the node's default thread count). The envelopes
    are the sender's own, so the relay takes them without an Ed25519
    check (the CURVE link vouches for their origin; docs/mesh.md,
    Signatures).
    Comparators, measured in the same run and interleaved:
      - the same relay checking every signature: the envelopes name
        another origin, whose certificate the relay holds (a HELLO on
        another link), as when it relays for a device further away;
      - raw libzmq with CURVE over the same two hops (sender -> relay ->
        sink, plain forwarding: no signature check, no store, no ACKs);
      - raw LMDB puts of the same frames, 256 per transaction (the
        relay's burst), synced like the relay's store.
    Prints
        BENCH <name> <value> <unit> ratio=<x> vs <comparator>
    with the median of RUNS runs of each.  */

#include <czmq.h>
#include <lmdb.h>
#include <sodium.h>

#include "proto/envelope.h"
#include "proto/keys.h"
#include "proto/cert.h"
#include "proto/meshmsg.h"
#include "node/core/mesh.h"
#include "proto/store.h"
#include "node/io/sigcheck.h"
#include "tests/bench/bench.h"

#define RUNS        5
#define MESSAGES    20000
#define PAYLOAD     512
#define WINDOW      2000
#define BURST       256

static uint64_t
s_now (void)
{
    return (uint64_t) zclock_time ();
}

//  Keys and certificates of the run
typedef struct {
    keys_t ca, coord, src, relay, far;
    uint8_t *src_cert, *relay_cert, *far_cert;
    size_t src_cert_size, relay_cert_size, far_cert_size;
    uint8_t **frames;               //  The sender's envelopes
    size_t *sizes;
    uint8_t **far_frames;           //  The same, of an origin further away
    size_t *far_sizes;
} world_t;

static uint8_t *
s_cert (world_t *w, const char *name, const keys_t *keys, size_t *size_p)
{
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.serial = (uint64_t) randombytes_random ();
    cert.kind = CERT_KIND_NODE;
    snprintf (cert.subject, sizeof cert.subject, "%s", name);
    snprintf (cert.role, sizeof cert.role, "gateway");
    memcpy (cert.sign_key, keys->sign_public, WEFT_KEY_SIZE);
    memcpy (cert.curve_key, keys->curve_public, WEFT_KEY_SIZE);
    cert.not_after = s_now () / 1000 + 86400;
    uint8_t *bytes;
    int rc = cert_encode (&cert, w->ca.sign_secret, &bytes, size_p);
    assert (rc == 0);
    return bytes;
}

static uint8_t *
s_envelope (const keys_t *keys, const char *origin, int type, const uint8_t *payload,
            size_t payload_size, uint8_t hops, size_t *size_p)
{
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, WEFT_ID_SIZE);
    env.type = type;
    snprintf (env.origin, sizeof env.origin, "%s", origin);
    env.hlc = env.seq = s_now () << 16 | randombytes_uniform (65536);
    env.hop_limit = env.hops = hops;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame;
    int rc = envelope_encode (&env, keys->sign_secret, &frame, size_p);
    assert (rc == 0);
    return frame;
}

static zsock_t *
s_server (const keys_t *keys, char *endpoint)
{
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    assert (sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_curve_secretkey_bin (sock, keys->curve_secret);
    zsock_set_curve_publickey_bin (sock, keys->curve_public);
    zsock_set_sndhwm (sock, 0);
    zsock_set_rcvhwm (sock, 0);
    zsock_set_linger (sock, 0);
    int port = zsock_bind (sock, "tcp://127.0.0.1:*");
    assert (port > 0);
    sprintf (endpoint, "tcp://127.0.0.1:%d", port);
    return sock;
}

static zsock_t *
s_client (const keys_t *keys, const keys_t *server, const char *endpoint)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    assert (sock);
    zsock_set_curve_serverkey_bin (sock, server->curve_public);
    zsock_set_curve_secretkey_bin (sock, keys->curve_secret);
    zsock_set_curve_publickey_bin (sock, keys->curve_public);
    zsock_set_sndhwm (sock, 0);
    zsock_set_rcvhwm (sock, 0);
    zsock_set_linger (sock, 0);
    int rc = zsock_connect (sock, "%s", endpoint);
    assert (rc == 0);
    return sock;
}

//  --------------------------------------------------------------------------
//  Weft: the relay with custody

typedef struct {
    zsock_t *router;                //  Relay's listener
    zsock_t *up;                    //  Relay's DEALER to the sink
} relay_io_t;

static int
s_relay_send (void *ctx, const char *link, const char *dest, const uint8_t *frame,
              size_t size)
{
    relay_io_t *io = (relay_io_t *) ctx;
    void *handle = NULL;
    uint8_t route [256];
    size_t route_size = 0;
    if (streq (link, MESH_COORDINATOR))
        handle = zsock_resolve (io->up);
    else {
        route_size = strlen (link + 2) / 2;
        if (route_size == 0 || route_size > sizeof route
        ||  keys_unhex (link + 2, route, route_size))
            return -1;
        handle = zsock_resolve (io->router);
        if (zmq_send (handle, route, route_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
            return -1;
    }
    if (dest)
        zmq_send (handle, dest, strlen (dest), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    return zmq_send (handle, frame, size, ZMQ_DONTWAIT) == -1? -1: 0;
}

static int
s_relay_deliver (void *ctx, const uint8_t *frame, size_t size,
                 char reason [WEFT_TEXT_MAX + 1])
{
    (void) ctx, (void) frame, (void) size, (void) reason;
    return WEFT_STATUS_OK;
}

//  A neighbour's HELLO (with its certificate) on link, for the mesh
static void
s_hello (mesh_t *mesh, const char *link, const keys_t *keys, const char *name,
         const uint8_t *cert, size_t cert_size)
{
    meshmsg_t hello;
    memset (&hello, 0, sizeof hello);
    hello.type = MSG_HELLO;
    hello.cert = cert;
    hello.cert_size = cert_size;
    uint8_t *payload;
    size_t payload_size, size;
    int rc = meshmsg_encode (&hello, &payload, &payload_size);
    assert (rc == 0);
    uint8_t *frame = s_envelope (keys, name, MSG_HELLO, payload, payload_size, 1, &size);
    rc = mesh_on_frame (mesh, link, NULL, frame, size, s_now ());
    assert (rc == 0);
    free (frame);
    free (payload);
}

//  far: the sender hands over envelopes of an origin further away,
//  which the relay checks
static double
s_weft_relay (world_t *w, const char *dir, bool far)
{
    const char *tables [] = { MESH_TABLE, OUTBOX_TABLE, NULL };
    store_t *store = store_new (dir, tables, 0);
    assert (store);
    char relay_ep [64], sink_ep [64];
    relay_io_t io;
    io.router = s_server (&w->relay, relay_ep);
    zsock_t *sink = s_server (&w->coord, sink_ep);
    io.up = s_client (&w->relay, &w->coord, sink_ep);
    zsock_t *sender = s_client (&w->src, &w->relay, relay_ep);
    mesh_config_t config = {
        .name = "relay", .tenant = "", .keys = &w->relay, .cert = w->relay_cert,
        .cert_size = w->relay_cert_size, .ca_key = w->ca.sign_public,
        .coord_sign = w->coord.sign_public, .advert_ms = 1000, .store = store,
        .prefix = "", .verbose = false
    };
    mesh_effects_t effects = { &io, s_relay_send, NULL, s_relay_deliver, NULL, NULL, NULL, NULL, NULL };
    mesh_t *mesh = mesh_new (&config, &effects);
    assert (mesh && mesh_start (mesh, s_now ()) == 0);
    sigcheck_t *sigcheck = sigcheck_new (mesh, sigcheck_default_threads ());
    uint8_t **frames = far? w->far_frames: w->frames;
    size_t *sizes = far? w->far_sizes: w->sizes;
    if (far) {
        //  The relay learns far's certificate from a HELLO (a link of its
        //  own, which the relay never sends anything on successfully)
        mesh_link_up (mesh, "x:far", MESH_LINK_ACCEPTED, w->far.curve_public, s_now ());
        s_hello (mesh, "x:far", &w->far, "far", w->far_cert, w->far_cert_size);
    }
    mesh_link_up (mesh, MESH_COORDINATOR, MESH_LINK_COORDINATOR, w->coord.curve_public,
                  s_now ());
    //  The sender's HELLO goes first on its connection
    meshmsg_t hello;
    memset (&hello, 0, sizeof hello);
    hello.type = MSG_HELLO;
    hello.cert = w->src_cert;
    hello.cert_size = w->src_cert_size;
    uint8_t *payload;
    size_t payload_size, size;
    int rc = meshmsg_encode (&hello, &payload, &payload_size);
    assert (rc == 0);
    uint8_t *frame = s_envelope (&w->src, "src", MSG_HELLO, payload, payload_size, 1, &size);
    zmq_send (zsock_resolve (sender), frame, size, 0);
    free (frame);
    free (payload);

    size_t next = 0, in_flight = 0, delivered = 0;
    uint8_t ids [MESHMSG_ACK_IDS_MAX * WEFT_ID_SIZE];
    zmq_pollitem_t items [] = {
        { zsock_resolve (sender), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (io.router), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (io.up), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (sink), 0, ZMQ_POLLIN, 0 }
    };
    int64_t start = zclock_usecs ();
    while (delivered < MESSAGES) {
        while (in_flight < WINDOW && next < MESSAGES) {
            zmq_send (zsock_resolve (sender), "coordinator", 11, ZMQ_SNDMORE);
            zmq_send (zsock_resolve (sender), frames [next], sizes [next], 0);
            next++;
            in_flight++;
        }
        zmq_poll (items, 4, 10);
        uint64_t now = s_now ();
        //  Sender: CUSTODY_ACKs from the relay
        for (int i = 0; i < BURST; i++) {
            zmsg_t *msg = zmsg_recv_nowait (sender);
            if (!msg)
                break;
            zframe_t *last = zmsg_last (msg);
            envelope_t env;
            meshmsg_t ack;
            if (zmsg_size (msg) == 1 && envelope_decode (&env, zframe_data (last),
                                                         zframe_size (last)) == 0
            &&  env.type == MSG_CUSTODY_ACK
            &&  meshmsg_decode (&ack, MSG_CUSTODY_ACK, env.payload, env.payload_size) == 0
            &&  ack.status == WEFT_STATUS_OK)
                in_flight -= ack.id_count <= in_flight? ack.id_count: in_flight;
            zmsg_destroy (&msg);
        }
        //  Relay: a burst from its listener, then one flush
        bool any = false;
        for (int i = 0; i < BURST; i++) {
            zmsg_t *msg = zmsg_recv_nowait (io.router);
            if (!msg)
                break;
            zframe_t *route = zmsg_first (msg);
            char link [2 + 256 + 1] = "r:";
            keys_hex (zframe_data (route), zframe_size (route), link + 2);
            if (!mesh_has_link (mesh, link))
                mesh_link_up (mesh, link, MESH_LINK_ACCEPTED, w->src.curve_public, now);
            zframe_t *last = zmsg_last (msg);
            char *dest = NULL;
            if (zmsg_size (msg) == 3) {
                zmsg_first (msg);
                dest = zframe_strdup (zmsg_next (msg));
            }
            sigcheck_add (sigcheck, link, dest, &msg, last, now);
            free (dest);
            zmsg_destroy (&msg);
            any = true;
        }
        sigcheck_feed (sigcheck, now);
        for (int i = 0; i < BURST; i++) {
            zmsg_t *msg = zmsg_recv_nowait (io.up);
            if (!msg)
                break;
            zframe_t *last = zmsg_last (msg);
            sigcheck_add (sigcheck, MESH_COORDINATOR, NULL, &msg, last, now);
            zmsg_destroy (&msg);
            any = true;
        }
        sigcheck_feed (sigcheck, now);
        if (mesh_deadline (mesh) <= now)
            mesh_tick (mesh, now);
        else
        if (any)
            mesh_flush (mesh, now);
        //  Sink: count, then acknowledge the burst like the coordinator
        zframe_t *peer = NULL;
        size_t held = 0;
        for (int i = 0; i < BURST; i++) {
            zmsg_t *msg = zmsg_recv_nowait (sink);
            if (!msg)
                break;
            zframe_t *last = zmsg_last (msg);
            envelope_t env;
            if (zmsg_size (msg) == 3
            &&  envelope_decode (&env, zframe_data (last), zframe_size (last)) == 0) {
                if (env.type == MSG_TWIN_REPORTED)
                    delivered++;
                if (!peer)
                    peer = zframe_dup (zmsg_first (msg));
                memcpy (ids + held * WEFT_ID_SIZE, env.id, WEFT_ID_SIZE);
                held++;
            }
            zmsg_destroy (&msg);
        }
        if (held) {
            meshmsg_t ack;
            memset (&ack, 0, sizeof ack);
            ack.type = MSG_CUSTODY_ACK;
            ack.ids = ids;
            ack.id_count = held;
            ack.status = WEFT_STATUS_OK;
            rc = meshmsg_encode (&ack, &payload, &payload_size);
            assert (rc == 0);
            frame = s_envelope (&w->coord, MESH_COORDINATOR, MSG_CUSTODY_ACK, payload,
                                payload_size, 1, &size);
            zframe_send (&peer, sink, ZFRAME_MORE);
            zmq_send (zsock_resolve (sink), frame, size, 0);
            free (frame);
            free (payload);
        }
        zframe_destroy (&peer);
    }
    double rate = (double) MESSAGES * 1e6 / (double) (zclock_usecs () - start);
    assert (mesh_stats (mesh)->forged == 0);
    assert (mesh_stats (mesh)->relayed == MESSAGES);
    sigcheck_destroy (&sigcheck);
    mesh_destroy (&mesh);
    zsock_destroy (&sender);
    zsock_destroy (&io.up);
    zsock_destroy (&sink);
    zsock_destroy (&io.router);
    store_destroy (&store);
    return rate;
}

//  --------------------------------------------------------------------------
//  Comparator: raw libzmq with CURVE over the same two hops

static double
s_raw_zmq (world_t *w)
{
    char relay_ep [64], sink_ep [64];
    zsock_t *router = s_server (&w->relay, relay_ep);
    zsock_t *sink = s_server (&w->coord, sink_ep);
    zsock_t *up = s_client (&w->relay, &w->coord, sink_ep);
    zsock_t *sender = s_client (&w->src, &w->relay, relay_ep);
    size_t next = 0, delivered = 0;
    zmq_pollitem_t items [] = {
        { zsock_resolve (router), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (sink), 0, ZMQ_POLLIN, 0 }
    };
    int64_t start = zclock_usecs ();
    while (delivered < MESSAGES) {
        while (next < MESSAGES && next < delivered + WINDOW) {
            zmq_send (zsock_resolve (sender), "coordinator", 11, ZMQ_SNDMORE);
            zmq_send (zsock_resolve (sender), w->frames [next], w->sizes [next], 0);
            next++;
        }
        zmq_poll (items, 2, 10);
        for (int i = 0; i < BURST; i++) {
            zmsg_t *msg = zmsg_recv_nowait (router);
            if (!msg)
                break;
            zframe_t *route = zmsg_pop (msg);
            zframe_destroy (&route);
            zmsg_send (&msg, up);
        }
        for (int i = 0; i < BURST; i++) {
            zmsg_t *msg = zmsg_recv_nowait (sink);
            if (!msg)
                break;
            if (zmsg_size (msg) == 3)
                delivered++;
            zmsg_destroy (&msg);
        }
    }
    double rate = (double) MESSAGES * 1e6 / (double) (zclock_usecs () - start);
    zsock_destroy (&sender);
    zsock_destroy (&up);
    zsock_destroy (&sink);
    zsock_destroy (&router);
    return rate;
}

//  Comparator: the same frames put into LMDB, BURST per transaction.
static double
s_raw_lmdb (world_t *w, const char *dir)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    int rc = mdb_env_create (&env);
    assert (rc == 0);
    mdb_env_set_maxdbs (env, 4);
    mdb_env_set_mapsize (env, (size_t) 1 << 30);
    rc = mdb_env_open (env, dir, MDB_NOTLS, 0600);
    assert (rc == 0);
    mdb_txn_begin (env, NULL, 0, &txn);
    mdb_dbi_open (txn, "bench", MDB_CREATE, &dbi);
    mdb_txn_commit (txn);
    int64_t start = zclock_usecs ();
    for (size_t at = 0; at < MESSAGES; ) {
        rc = mdb_txn_begin (env, NULL, 0, &txn);
        assert (rc == 0);
        for (int i = 0; i < BURST && at < MESSAGES; i++, at++) {
            uint8_t key [9] = { 1 };
            for (int b = 0; b < 8; b++)
                key [1 + b] = (uint8_t) (at >> (56 - 8 * b));
            MDB_val k = { sizeof key, key }, v = { w->sizes [at], w->frames [at] };
            rc = mdb_put (txn, dbi, &k, &v, 0);
            assert (rc == 0);
        }
        rc = mdb_txn_commit (txn);
        assert (rc == 0);
    }
    double rate = (double) MESSAGES * 1e6 / (double) (zclock_usecs () - start);
    mdb_env_close (env);
    return rate;
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    zsys_init ();
    zsys_set_logstream (stderr);
    world_t w;
    memset (&w, 0, sizeof w);
    keys_generate (&w.ca);
    keys_generate (&w.coord);
    keys_generate (&w.src);
    keys_generate (&w.relay);
    keys_generate (&w.far);
    w.src_cert = s_cert (&w, "src", &w.src, &w.src_cert_size);
    w.relay_cert = s_cert (&w, "relay", &w.relay, &w.relay_cert_size);
    w.far_cert = s_cert (&w, "far", &w.far, &w.far_cert_size);
    w.frames = (uint8_t **) zmalloc (sizeof (uint8_t *) * MESSAGES);
    w.sizes = (size_t *) zmalloc (sizeof (size_t) * MESSAGES);
    w.far_frames = (uint8_t **) zmalloc (sizeof (uint8_t *) * MESSAGES);
    w.far_sizes = (size_t *) zmalloc (sizeof (size_t) * MESSAGES);
    uint8_t payload [PAYLOAD];
    randombytes_buf (payload, sizeof payload);
    for (size_t i = 0; i < MESSAGES; i++) {
        w.frames [i] = s_envelope (&w.src, "src", MSG_TWIN_REPORTED, payload, sizeof payload,
                                   WEFT_HOP_LIMIT, &w.sizes [i]);
        w.far_frames [i] = s_envelope (&w.far, "far", MSG_TWIN_REPORTED, payload,
                                       sizeof payload, WEFT_HOP_LIMIT, &w.far_sizes [i]);
    }
    double weft [RUNS], checked [RUNS], zmq [RUNS], lmdb [RUNS];
    char dir [] = "/tmp/weft-bench-relay.XXXXXX";
    if (!mkdtemp (dir))
        return 1;
    char *a = zsys_sprintf ("%s/relay", dir);
    char *b = zsys_sprintf ("%s/lmdb", dir);
    for (int run = 0; run < RUNS; run++) {
        bench_clear (a);
        bench_clear (b);
        zsys_dir_create (b);
        weft [run] = s_weft_relay (&w, a, false);
        bench_clear (a);
        checked [run] = s_weft_relay (&w, a, true);
        zmq [run] = s_raw_zmq (&w);
        lmdb [run] = s_raw_lmdb (&w, b);
    }
    double r = bench_median (weft, RUNS), c = bench_median (checked, RUNS);
    double z = bench_median (zmq, RUNS), l = bench_median (lmdb, RUNS);
    printf ("BENCH relay_custody_512B %.0f msg/s ratio=%.2f vs raw libzmq CURVE, 2 hops "
            "(%.0f msg/s)\n", r, r / z, z);
    printf ("BENCH relay_custody_512B %.0f msg/s ratio=%.2f vs raw LMDB batched puts, "
            "%d per txn (%.0f puts/s)\n", r, r / l, BURST, l);
    printf ("BENCH relay_custody_512B %.0f msg/s ratio=%.2f vs the same relay checking "
            "every signature (%.0f msg/s: an origin further away; %zu worker threads)\n",
            r, r / c, c, sigcheck_default_threads ());
    bench_clear (dir);
    zstr_free (&a);
    zstr_free (&b);
    for (size_t i = 0; i < MESSAGES; i++) {
        free (w.frames [i]);
        free (w.far_frames [i]);
    }
    free (w.frames);
    free (w.sizes);
    free (w.far_frames);
    free (w.far_sizes);
    free (w.src_cert);
    free (w.relay_cert);
    free (w.far_cert);
    keys_wipe (&w.ca);
    keys_wipe (&w.coord);
    keys_wipe (&w.src);
    keys_wipe (&w.relay);
    keys_wipe (&w.far);
    return 0;
}
