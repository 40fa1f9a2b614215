/*  checkin - coordinator check-ins against Eclipse Mosquitto
    200 enrolled devices send HEARTBEATs to the real coordinator
    (coordinator/io/server.c on its own thread, its LMDB store synced
    like weft-coord's) as weft-node sends them: CURVE DEALER links,
    each heartbeat a custody transfer [dest "coordinator", envelope]
    signed by the device, answered with a CUSTODY_ACK after the commit
    that holds it. Each device keeps WINDOW heartbeats unacknowledged.
    The envelopes are sealed before the clock starts: the figure is the
    coordinator's, not the signing clients'.
    Comparator, in the same run and interleaved: Mosquitto from Debian,
    started on a free 127.0.0.1 port with a temporary configuration and
    persistence on, and 200 libmosquitto clients publishing QoS 1 with
    a payload of the heartbeat envelope's size, each keeping WINDOW
    publishes unacknowledged (PUBACK). The same client count, payload
    size and window on both sides. Prints
        BENCH coord_checkin <n> check-ins/s ratio=<x> vs mosquitto ...
    the median of RUNS runs of each, with the goal of issue 13, and the
    CPU time per message of the coordinator's event loop (its verifier
    pool's workers not counted) and of the broker process.  */

#include <czmq.h>
#include <sodium.h>
#include <signal.h>
#include <poll.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <mosquitto.h>

#include "proto/envelope.h"
#include "proto/msg.h"
#include "proto/meshmsg.h"
#include "proto/cert.h"
#include "coordinator/core/pki.h"
#include "coordinator/core/registry.h"
#include "coordinator/io/server.h"
#include "proto/io/workpool.h"
#include "tests/bench/bench.h"

#define RUNS        5
#define DEVICES     200
#define PER_DEVICE  60              //  Heartbeats per device and run
#define WINDOW      4               //  Unacknowledged per device
#define TIMEOUT_MS  60000

typedef struct {
    keys_t keys;
    char id [32];
    uint8_t **frames;               //  This run's sealed heartbeats
    size_t *sizes;
    size_t sent, acked;
    uint64_t seq;                   //  Last seq sealed
    zsock_t *dealer;
} s_device_t;

typedef struct {
    char dir [64];
    store_t *store;
    keys_t ca, coord;
    uint8_t *cert;
    size_t cert_size;
    s_device_t devices [DEVICES];
    size_t payload_size;            //  A heartbeat envelope's size
} s_world_t;

//  --------------------------------------------------------------------------
//  The coordinator on a thread of its own

static void
s_server_actor (zsock_t *pipe, void *args)
{
    s_world_t *w = (s_world_t *) args;
    server_config_t config = { "127.0.0.1", 0, 0, 0, 0, false,
                               (int) workpool_default_threads () };
    server_t *server = server_new (&config, w->store, &w->ca, &w->coord, w->cert,
                                   w->cert_size);
    assert (server);
    zsock_signal (pipe, 0);
    zsock_send (pipe, "i", server_port (server, "mesh"));
    //  "CPU": the event loop's CPU time so far (us); "$TERM": stop
    while (true) {
        while (!(zsock_events (pipe) & ZMQ_POLLIN))
            server_run_for (server, 10);
        char *command = zstr_recv (pipe);
        bool cpu = command && streq (command, "CPU");
        zstr_free (&command);
        if (!cpu)
            break;
        struct timespec used;
        clock_gettime (CLOCK_THREAD_CPUTIME_ID, &used);
        zsock_send (pipe, "8", (uint64_t) used.tv_sec * 1000000 + (uint64_t) used.tv_nsec / 1000);
    }
    server_destroy (&server);
}

static void
s_seal (s_world_t *w, s_device_t *d, size_t count)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_HEARTBEAT;
    msg.heartbeat.uptime_s = 1000;
    uint8_t *payload;
    size_t payload_size;
    int rc = msg_encode (&msg, &payload, &payload_size);
    assert (rc == 0);
    for (size_t i = 0; i < count; i++) {
        envelope_t env;
        memset (&env, 0, sizeof env);
        randombytes_buf (env.id, sizeof env.id);
        env.type = MSG_HEARTBEAT;
        snprintf (env.origin, sizeof env.origin, "%s", d->id);
        env.seq = ++d->seq;
        env.hlc = env.seq;
        env.hop_limit = env.hops = 16;
        env.payload = payload;
        env.payload_size = payload_size;
        rc = envelope_encode (&env, d->keys.sign_secret, &d->frames [i], &d->sizes [i]);
        assert (rc == 0);
    }
    w->payload_size = d->sizes [0];
    free (payload);
}

static void
s_send_next (s_device_t *d)
{
    zmq_send (zsock_resolve (d->dealer), "coordinator", 11, ZMQ_SNDMORE);
    zmq_send (zsock_resolve (d->dealer), d->frames [d->sent], d->sizes [d->sent], 0);
    d->sent++;
}

//  One run of the coordinator: check-ins per second; the event loop's
//  CPU time per check-in (us) in *cpu_us_p
static double
s_weft (s_world_t *w, double *cpu_us_p)
{
    for (int i = 0; i < DEVICES; i++) {
        s_device_t *d = &w->devices [i];
        d->sent = d->acked = 0;
        s_seal (w, d, PER_DEVICE);
    }
    zactor_t *actor = zactor_new (s_server_actor, w);
    int port;
    zsock_recv (actor, "i", &port);
    zmq_pollitem_t items [DEVICES];
    for (int i = 0; i < DEVICES; i++) {
        s_device_t *d = &w->devices [i];
        d->dealer = zsock_new (ZMQ_DEALER);
        zsock_set_curve_secretkey_bin (d->dealer, d->keys.curve_secret);
        zsock_set_curve_publickey_bin (d->dealer, d->keys.curve_public);
        zsock_set_curve_serverkey_bin (d->dealer, w->coord.curve_public);
        zsock_set_linger (d->dealer, 0);
        int rc = zsock_connect (d->dealer, "tcp://127.0.0.1:%d", port);
        assert (rc == 0);
        items [i].socket = zsock_resolve (d->dealer);
        items [i].fd = 0;
        items [i].events = ZMQ_POLLIN;
    }
    //  Every link up and admitted before the clock starts: one heartbeat
    //  each, acknowledged
    size_t total = 0, target = (size_t) DEVICES * PER_DEVICE;
    int64_t start = 0;
    int64_t deadline = zclock_mono () + TIMEOUT_MS;
    for (int i = 0; i < DEVICES; i++)
        s_send_next (&w->devices [i]);
    bool warm = false;
    while (total < target && zclock_mono () < deadline) {
        if (zmq_poll (items, DEVICES, 100) <= 0)
            continue;
        for (int i = 0; i < DEVICES; i++) {
            if (!(items [i].revents & ZMQ_POLLIN))
                continue;
            s_device_t *d = &w->devices [i];
            zframe_t *frame;
            while ((frame = zframe_recv_nowait (d->dealer))) {
                envelope_t env;
                meshmsg_t ack;
                if (envelope_decode (&env, zframe_data (frame), zframe_size (frame)) == 0
                &&  env.type == MSG_CUSTODY_ACK
                &&  meshmsg_decode (&ack, MSG_CUSTODY_ACK, env.payload, env.payload_size) == 0) {
                    assert (ack.status == WEFT_STATUS_OK);
                    d->acked += ack.id_count;
                    total += ack.id_count;
                }
                zframe_destroy (&frame);
            }
            while (warm && d->sent < PER_DEVICE && d->sent - d->acked < WINDOW)
                s_send_next (d);
        }
        if (!warm && total == DEVICES) {
            warm = true;
            start = zclock_usecs ();
            for (int i = 0; i < DEVICES; i++)
                while (w->devices [i].sent < PER_DEVICE
                   &&  w->devices [i].sent - w->devices [i].acked < WINDOW)
                    s_send_next (&w->devices [i]);
        }
    }
    assert (total == target);
    double rate = (double) (target - DEVICES) * 1e6 / (double) (zclock_usecs () - start);
    zstr_send (actor, "CPU");
    uint64_t cpu_us;
    zsock_recv (actor, "8", &cpu_us);
    *cpu_us_p = (double) cpu_us / (double) target;
    for (int i = 0; i < DEVICES; i++) {
        s_device_t *d = &w->devices [i];
        zsock_destroy (&d->dealer);
        for (size_t k = 0; k < PER_DEVICE; k++)
            free (d->frames [k]);
    }
    zactor_destroy (&actor);
    return rate;
}

//  --------------------------------------------------------------------------
//  Mosquitto

static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset (&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t size = sizeof addr;
    int port = -1;
    if (fd >= 0 && bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0
    &&  getsockname (fd, (struct sockaddr *) &addr, &size) == 0)
        port = ntohs (addr.sin_port);
    if (fd >= 0)
        close (fd);
    return port;
}

typedef struct {
    struct mosquitto *mosq;
    size_t sent, acked;
    bool connected;
} s_client_t;

typedef struct {
    s_client_t clients [DEVICES];
    uint8_t *payload;
    size_t payload_size;
    size_t total;
    size_t connected;
} s_mqtt_t;

static void
s_on_connect (struct mosquitto *mosq, void *arg, int rc)
{
    (void) mosq;
    s_client_t *client = (s_client_t *) arg;
    assert (rc == 0);
    client->connected = true;
}

static void
s_on_publish (struct mosquitto *mosq, void *arg, int mid)
{
    (void) mosq, (void) mid;
    s_client_t *client = (s_client_t *) arg;
    client->acked++;
}

//  A broker on port with persistence under dir; returns its pid
static pid_t
s_mosquitto_start (const char *dir, int port)
{
    char conf [256];
    snprintf (conf, sizeof conf, "%s/mosquitto.conf", dir);
    FILE *file = fopen (conf, "w");
    assert (file);
    fprintf (file, "listener %d 127.0.0.1\nallow_anonymous true\npersistence true\n"
             "persistence_location %s/\nmax_inflight_messages %d\n"
             "max_queued_messages 100000\nlog_dest none\n", port, dir, WINDOW);
    fclose (file);
    pid_t pid = fork ();
    assert (pid >= 0);
    if (pid == 0) {
        execlp ("mosquitto", "mosquitto", "-c", conf, (char *) NULL);
        _exit (127);
    }
    return pid;
}

//  CPU time (us) process pid used so far
static double
s_cpu_us (pid_t pid)
{
    char path [64], line [1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    double us = 0;
    if (file && fgets (line, sizeof line, file)) {
        //  utime and stime are fields 14 and 15, after the ")" of comm
        char *rest = strrchr (line, ')');
        unsigned long utime = 0, stime = 0;
        if (rest && sscanf (rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                            &utime, &stime) == 2)
            us = (double) (utime + stime) * 1e6 / (double) sysconf (_SC_CLK_TCK);
    }
    if (file)
        fclose (file);
    return us;
}

//  One run of Mosquitto's clients: publishes per second; the broker's
//  CPU time per publish (us) in *cpu_us_p
static double
s_mosquitto (int port, pid_t broker, size_t payload_size, double *cpu_us_p)
{
    double cpu_start = s_cpu_us (broker);
    s_mqtt_t mqtt;
    memset (&mqtt, 0, sizeof mqtt);
    mqtt.payload = (uint8_t *) zmalloc (payload_size);
    randombytes_buf (mqtt.payload, payload_size);
    struct pollfd fds [DEVICES];
    for (int i = 0; i < DEVICES; i++) {
        s_client_t *c = &mqtt.clients [i];
        char id [32];
        snprintf (id, sizeof id, "dev-%03d", i);
        c->mosq = mosquitto_new (id, true, c);
        assert (c->mosq);
        mosquitto_connect_callback_set (c->mosq, s_on_connect);
        mosquitto_publish_callback_set (c->mosq, s_on_publish);
        mosquitto_max_inflight_messages_set (c->mosq, WINDOW);
        int rc = MOSQ_ERR_CONN_REFUSED;
        for (int tries = 0; tries < 100 && rc != MOSQ_ERR_SUCCESS; tries++) {
            rc = mosquitto_connect (c->mosq, "127.0.0.1", port, 60);
            if (rc != MOSQ_ERR_SUCCESS)
                zclock_sleep (50);
        }
        assert (rc == MOSQ_ERR_SUCCESS);
    }
    size_t target = (size_t) DEVICES * PER_DEVICE;
    int64_t start = 0;
    int64_t deadline = zclock_mono () + TIMEOUT_MS;
    size_t total = 0;
    bool warm = false;
    while (total < target && zclock_mono () < deadline) {
        for (int i = 0; i < DEVICES; i++) {
            s_client_t *c = &mqtt.clients [i];
            fds [i].fd = mosquitto_socket (c->mosq);
            fds [i].events = POLLIN | (mosquitto_want_write (c->mosq)? POLLOUT: 0);
            fds [i].revents = 0;
        }
        poll (fds, DEVICES, 100);
        total = 0;
        size_t connected = 0;
        for (int i = 0; i < DEVICES; i++) {
            s_client_t *c = &mqtt.clients [i];
            if (fds [i].revents & POLLIN)
                mosquitto_loop_read (c->mosq, 1);
            if (fds [i].revents & POLLOUT)
                mosquitto_loop_write (c->mosq, 1);
            mosquitto_loop_misc (c->mosq);
            connected += c->connected;
            if (warm)
                while (c->sent < PER_DEVICE && c->sent - c->acked < WINDOW) {
                    int rc = mosquitto_publish (c->mosq, NULL, "weft/checkin",
                                                (int) payload_size, mqtt.payload, 1, false);
                    assert (rc == MOSQ_ERR_SUCCESS);
                    c->sent++;
                }
            else
            if (c->connected && c->sent == 0) {
                //  One publish each, acknowledged, before the clock starts
                mosquitto_publish (c->mosq, NULL, "weft/checkin", (int) payload_size,
                                   mqtt.payload, 1, false);
                c->sent++;
            }
            total += c->acked;
        }
        if (!warm && total == DEVICES && connected == DEVICES) {
            warm = true;
            start = zclock_usecs ();
        }
    }
    assert (total == target);
    double rate = (double) (target - DEVICES) * 1e6 / (double) (zclock_usecs () - start);
    *cpu_us_p = (s_cpu_us (broker) - cpu_start) / (double) target;
    for (int i = 0; i < DEVICES; i++) {
        mosquitto_disconnect (mqtt.clients [i].mosq);
        mosquitto_destroy (mqtt.clients [i].mosq);
    }
    free (mqtt.payload);
    return rate;
}

//  --------------------------------------------------------------------------
//  200 devices enrolled: their records as enrolment leaves them

static void
s_world_new (s_world_t *w)
{
    snprintf (w->dir, sizeof w->dir, "/tmp/weft-bench-checkin-XXXXXX");
    assert (mkdtemp (w->dir));
    w->store = store_new (w->dir, registry_tables (), 0);
    assert (w->store);
    keys_generate (&w->ca);
    keys_generate (&w->coord);
    pki_t *pki = pki_new (&w->ca);
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.kind = CERT_KIND_COORDINATOR;
    strcpy (cert.subject, "coordinator");
    memcpy (cert.sign_key, w->coord.sign_public, 32);
    memcpy (cert.curve_key, w->coord.curve_public, 32);
    store_txn_t *txn = store_begin (w->store, true);
    int rc = pki_issue (pki, txn, &cert, (uint64_t) zclock_time () / 1000, &w->cert,
                        &w->cert_size);
    assert (rc == 0);
    for (int i = 0; i < DEVICES; i++) {
        s_device_t *d = &w->devices [i];
        keys_generate (&d->keys);
        snprintf (d->id, sizeof d->id, "dev-%03d", i);
        d->frames = (uint8_t **) zmalloc (PER_DEVICE * sizeof (uint8_t *));
        d->sizes = (size_t *) zmalloc (PER_DEVICE * sizeof (size_t));
        char sign_hex [65], curve_hex [65];
        keys_hex (d->keys.sign_public, 32, sign_hex);
        keys_hex (d->keys.curve_public, 32, curve_hex);
        json_t *device = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", d->id,
            "tenant", "", "type", "gateway", "role", "gateway", "sign_key", sign_hex,
            "curve_key", curve_hex, "revoked", 0);
        rc = registry_device_put (txn, device);
        assert (rc == 0);
        json_decref (device);
    }
    rc = store_commit (&txn);
    assert (rc == 0);
    pki_destroy (&pki);
}

static void
s_world_destroy (s_world_t *w)
{
    for (int i = 0; i < DEVICES; i++) {
        keys_wipe (&w->devices [i].keys);
        free (w->devices [i].frames);
        free (w->devices [i].sizes);
    }
    store_destroy (&w->store);
    free (w->cert);
    keys_wipe (&w->ca);
    keys_wipe (&w->coord);
    bench_clear (w->dir);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    //  The devices' links and the coordinator's share this process's
    //  ZeroMQ context: an I/O thread for each side, as the coordinator
    //  has one of its own in weft-coord (CURVE is done there)
    zsys_set_io_threads (2);
    zsys_init ();
    zsys_set_max_sockets (0);
    zsys_handler_set (NULL);
    mosquitto_lib_init ();
    s_world_t *w = (s_world_t *) zmalloc (sizeof (s_world_t));
    s_world_new (w);
    char mqtt_dir [] = "/tmp/weft-bench-mosquitto-XXXXXX";
    assert (mkdtemp (mqtt_dir));
    int port = s_free_port ();
    pid_t broker = s_mosquitto_start (mqtt_dir, port);
    zclock_sleep (200);
    int status;
    if (waitpid (broker, &status, WNOHANG) == broker) {
        fprintf (stderr, "bench-checkin: mosquitto did not start (make deps installs it); "
                 "skipped\n");
        s_world_destroy (w);
        free (w);
        bench_clear (mqtt_dir);
        return 0;
    }
    double weft [RUNS], mqtt [RUNS], weft_cpu [RUNS], mqtt_cpu [RUNS];
    for (int run = 0; run < RUNS; run++) {
        weft [run] = s_weft (w, &weft_cpu [run]);
        mqtt [run] = s_mosquitto (port, broker, w->payload_size, &mqtt_cpu [run]);
    }
    kill (broker, SIGTERM);
    waitpid (broker, &status, 0);
    double wm = bench_median (weft, RUNS), mm = bench_median (mqtt, RUNS);
    printf ("BENCH coord_checkin %.0f check-ins/s ratio=%.2f vs mosquitto QoS-1 publishes/s "
            "with persistence (%.0f/s; goal >= 0.50; %d clients, %zu B payload, %d in "
            "flight each; CPU per message: coordinator event loop %.0f us, broker %.0f us)\n",
            wm, wm / mm, mm, DEVICES, w->payload_size, WINDOW,
            bench_median (weft_cpu, RUNS), bench_median (mqtt_cpu, RUNS));
    s_world_destroy (w);
    free (w);
    bench_clear (mqtt_dir);
    mosquitto_lib_cleanup ();
    return 0;
}
