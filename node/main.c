/*  weft-node - the Weft agent
    Wires the sans-IO agent and mesh cores to the world: the identity
    file and enrolment (node/io/identity), the CURVE links (node/io/
    transport: a DEALER to the coordinator if it is reachable, DEALERs
    to configured neighbours, and our own ROUTER listener whose ZAP
    handler refuses revoked keys), the LMDB store (node/io/store) and
    the apply handler actor (node/io/apply). Every envelope the agent
    sends goes through the mesh's custody outbox; every envelope the
    mesh delivers for us goes to the agent. One thread runs the event
    loop; its poll timeout is the nearest deadline. Each poll burst ends
    with one mesh_flush (one commit for the burst, then the ACKs).
    SIGTERM and SIGINT set CZMQ's interrupt flag and the loop stops
    cleanly. A test-only fault switch (--fault-file PATH: while PATH
    exists) cuts the coordinator link: the socket is closed, as if the
    uplink died, and dialled again when PATH is removed.  */

#include <czmq.h>
#include <signal.h>
#include <sodium.h>
#include <unistd.h>
#include "node/core/agent.h"
#include "node/core/mesh.h"
#include "node/core/delegate.h"
#include "node/io/zap.h"
#include "node/io/opserver.h"
#include "node/core/oplog.h"
#include "node/io/apply.h"
#include "node/io/identity.h"
#include "node/io/options.h"
#include "node/io/store.h"
#include "node/io/transport.h"
#include "node/io/tpm.h"
#include "node/io/attestor.h"
#include "proto/envelope.h"
#include "proto/tpmmsg.h"
#include "node/core/enrol.h"
#include "node/core/discovery.h"
#include "node/io/beacon.h"
#include "node/io/sigcheck.h"
#include "node/io/secret.h"
#include "node/io/listener.h"

#define NODE_ENROL_TIMEOUT_MS   10000
#define NODE_NEIGHBOURS_MAX     32
#define NODE_LINKS_MAX          (NODE_NEIGHBOURS_MAX + DISCOVERY_PEERS_MAX)
#define NODE_HELLO_MS           10000   //  A discovered peer has this long to verify
#define NODE_BEACON_EXPIRE_MS   (10 * BEACON_INTERVAL_MS)
#define NODE_BEACON_BAN_MS      60000
#define NODE_BEACON_YIELD_MS    (3 * BEACON_INTERVAL_MS)
#define NODE_BURST              256     //  Messages per socket per poll burst
#define NODE_TOKEN_ENV          "WEFT_TOKEN"    //  The enrolment token, if not in a file

static const char *s_synopsis =
    "usage: weft-node [options]\n"
    "The Weft agent: enrols once with a token, then keeps a CURVE link to the\n"
    "coordinator, heartbeats, and applies the desired twin it is sent.";

static const option_spec_t s_options [] = {
    { "data-dir", "DIR", ".weft/node", "identity (DIR/node.key) and state (DIR/db)" },
    { "name", "NAME", NULL, "device id to enrol as (default: the host name)" },
    { "type", "TYPE", "gateway", "device type to enrol as" },
    { "coordinator", "ENDPOINT", "tcp://127.0.0.1:7710", "coordinator mesh endpoint" },
    { "enrol-endpoint", "ENDPOINT", "tcp://127.0.0.1:7711", "coordinator enrolment endpoint" },
    { "token-file", "FILE", NULL,
      "enrolment token from FILE (mode 0600), - for standard input, or set\n"
      "WEFT_TOKEN instead (read only until enrolled)" },
    { "token", "TOKEN", NULL,
      "refused: any local user can read a command line; use --token-file or WEFT_TOKEN" },
    { "tpm", "TCTI", NULL,
      "enrol and attest with the TPM: device:/dev/tpmrm0, swtpm:host=H,port=N" },
    { "coord-key", "HEX", NULL,
      "coordinator's CURVE public key, for TPM enrolment without a token" },
    { "write-ek", "FILE", NULL,
      "write the TPM's EK public to FILE (for weftctl device preregister) and exit" },
    { "ek-type", "auto|rsa|ecc", "auto",
      "EK to enrol with: auto is the one the TPM's vendor certified (its EK\n"
      "certificate), else RSA-2048 if the TPM has RSA, else ECC P-256" },
    { "event-log", "PATH", ATTESTOR_EVENT_LOG, "TCG binary event log sent with each quote" },
    { "ima-log", "PATH", NULL,
      "IMA ascii list (ima-ng, sha256) sent when the coordinator asks (off by default)" },
    { "measure", "PCR:TEXT", NULL,
      "append an event for TEXT to --event-log, extend PCR with it, and exit (tests)" },
    { "apply-file", "PATH", NULL, "write the desired twin JSON to PATH atomically" },
    { "apply-command", "CMD", NULL,
      "run /bin/sh -c CMD with the desired JSON on stdin" },
    { "apply-timeout", "SECONDS", "60", "kill an apply command after this long" },
    { "heartbeat", "SECONDS", "5",
      "heartbeat interval, and the timers of every link (the same on a site's nodes)" },
    { "listen", "ENDPOINT", NULL, "mesh listener for neighbours, e.g. tcp://0.0.0.0:7720" },
    { "neighbour", "KEY@ENDPOINT,...", NULL,
      "neighbours to dial: CURVE key (hex) @ endpoint, comma-separated" },
    { "beacon", "IFACE,...", NULL,
      "find neighbours by LAN beacons on these interfaces (off by default)" },
    { "beacon-port", "PORT", "7729", "UDP port of the LAN beacons" },
    { "verify-threads", "N", NULL,
      "threads besides the event loop that check envelope signatures\n"
      "(default: one less than the CPUs, at most 3; 0 = none)" },
    { "no-coordinator", NULL, NULL, "do not dial the coordinator (reach it through the mesh)" },
    { "require-attestation", "auto|off", "auto",
      "auto: refuse neighbours whose device type has a profile requiring attestation\n"
      "unless they present a fresh passport; off: never ask for one" },
    { "ops-listen", "ENDPOINT", NULL,
      "site server: answer operators authorised by their credential alone (also\n"
      "offline), e.g. tcp://0.0.0.0:7730" },
    { "fault-file", "PATH", NULL,
      "tests only: while PATH exists the coordinator link is cut (or, if it lists\n"
      "endpoints one a line, the links dialled to those neighbours)" },
    { "syslog", NULL, NULL, "log to syslog instead of stderr" },
    { "verbose", NULL, NULL, "log every message (-v)" },
    { NULL, NULL, NULL, NULL }
};

//  A configured neighbour
typedef struct {
    char link [WEFT_NAME_MAX + 1];      //  "d:N" in the mesh
    char *endpoint;
    uint8_t key [32];                   //  Its CURVE server key
    transport_t *transport;             //  NULL once closed (revoked or cut)
    bool cut;                           //  Closed by the fault switch
} neighbour_t;

//  What the agent's and mesh's effects are bound to
typedef struct {
    transport_t *transport;             //  To the coordinator, or NULL
    const char *coord_endpoint;
    const keys_t *keys;
    const uint8_t *coord_curve;
    bool verbose;
    //  Configured ones first, then one slot per discovered peer
    //  (NODE_NEIGHBOURS_MAX + its discovery slot)
    neighbour_t neighbours [NODE_LINKS_MAX];
    size_t neighbour_count;             //  Configured
    discovery_t *discovery;             //  --beacon, or NULL
    zactor_t *beacon;
    listener_t *listener;               //  Our listener, or NULL
    char *listen;
    uint64_t heartbeat_ms;              //  Link timers (tcplink.h)
    zpoller_t *poller;
    apply_t *apply;
    agent_t *agent;
    zactor_t *attestor;                 //  Boot attestation (--tpm), or NULL
    const uint8_t *coord_sign;          //  Verifies ATTEST_CHALLENGE
    mesh_t *mesh;
    delegate_t *delegate;               //  Delegated attestation (site servers)
    char challenger [WEFT_NAME_MAX + 1];    //  Who asked the quote in progress
    opserver_t *ops;                    //  Operator port (--ops-listen), or NULL
    sigcheck_t *sigcheck;               //  Signature checks of a burst on threads
    uint64_t timers [AGENT_TIMERS];     //  Unix ms deadlines, 0 = disarmed
} node_t;

static int
s_send (void *ctx, const uint8_t *frame, size_t size)
{
    node_t *node = (node_t *) ctx;
    return mesh_send_own (node->mesh, frame, size) == 0? 0: -1;
}

//  Send [dest,] frame on a DEALER or [routing id, dest,] frame on the router
static int
s_mesh_send (void *ctx, const char *link, const char *dest, const uint8_t *frame,
             size_t size)
{
    node_t *node = (node_t *) ctx;
    void *handle = NULL;
    uint8_t route [256];
    size_t route_size = 0;
    if (streq (link, MESH_COORDINATOR))
        handle = node->transport? zsock_resolve (transport_sock (node->transport)): NULL;
    else
    if (link [0] == 'd') {
        size_t index = (size_t) atoi (link + 2);
        if (index < NODE_LINKS_MAX && node->neighbours [index].transport)
            handle = zsock_resolve (transport_sock (node->neighbours [index].transport));
    }
    else
    if (link [0] == 'r' && node->listener) {
        route_size = strlen (link + 2) / 2;
        if (route_size == 0 || route_size > sizeof route
        ||  keys_unhex (link + 2, route, route_size))
            return -1;
        handle = zsock_resolve (listener_sock (node->listener));
    }
    if (!handle)
        return -1;
    if (route_size && zmq_send (handle, route, route_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    if (dest)
        zmq_send (handle, dest, strlen (dest), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    return zmq_send (handle, frame, size, ZMQ_DONTWAIT) == -1? -1: 0;
}

static void
s_mesh_close (void *ctx, const char *link)
{
    node_t *node = (node_t *) ctx;
    if (link [0] == 'd') {
        size_t index = (size_t) atoi (link + 2);
        if (index < NODE_LINKS_MAX && node->neighbours [index].transport) {
            neighbour_t *n = &node->neighbours [index];
            zpoller_remove (node->poller, transport_sock (n->transport));
            zpoller_remove (node->poller, transport_monitor (n->transport));
            transport_destroy (&n->transport);
        }
    }
    else
    //  That peer's connection alone: ZAP refuses it when it dials again
    //  (a revoked key), and every other peer stays connected
    if (link [0] == 'r' && node->listener)
        listener_close (node->listener, link);
}

//  Evidence a neighbour sent in answer to our challenge (site server)
static bool
s_mesh_intercept (void *ctx, const uint8_t *frame, size_t size)
{
    node_t *node = (node_t *) ctx;
    return node->delegate
        && delegate_evidence (node->delegate, frame, size, (uint64_t) zclock_time ());
}

//  The mesh holds a new passport: our heartbeats name it from now on
static void
s_mesh_passport (void *ctx, uint64_t attested_ms)
{
    node_t *node = (node_t *) ctx;
    if (node->agent)
        agent_set_passport (node->agent, attested_ms);
}

static void
s_random (uint8_t *buf, size_t size)
{
    randombytes_buf (buf, size);
}

//  An envelope for us: a challenge goes to the attestor, the rest to the
//  agent. Returns how its custody transfer is acknowledged.
static int
s_mesh_deliver (void *ctx, const uint8_t *frame, size_t size, char reason [WEFT_TEXT_MAX + 1])
{
    node_t *node = (node_t *) ctx;
    envelope_t env;
    if (node->attestor && envelope_decode (&env, frame, size) == 0
    &&  env.type == MSG_ATTEST_CHALLENGE) {
        //  The coordinator's nonce goes to the attestor, which quotes off
        //  the loop; its evidence comes back through the poller
        tpmmsg_t challenge;
        //  From the coordinator, or from our site server while the site is
        //  cut off (the mesh checked its signature: it is our neighbour)
        bool site = !streq (env.origin, "coordinator") && node->delegate
                 && delegate_challenger (node->delegate, env.origin);
        if ((site || (streq (env.origin, "coordinator") && node->coord_sign
                      && envelope_verify (&env, node->coord_sign) == 0))
        &&  tpmmsg_decode (&challenge, MSG_ATTEST_CHALLENGE, env.payload,
                           env.payload_size) == 0) {
            uint8_t mask [4] = { (uint8_t) (challenge.pcr_mask >> 24),
                                 (uint8_t) (challenge.pcr_mask >> 16),
                                 (uint8_t) (challenge.pcr_mask >> 8),
                                 (uint8_t) challenge.pcr_mask };
            uint8_t from [8];
            for (int i = 0; i < 8; i++)
                from [i] = (uint8_t) (challenge.ima_from >> (56 - 8 * i));
            //  A site server's challenge is answered to it: the site may
            //  have no route to the coordinator
            snprintf (node->challenger, sizeof node->challenger, "%s",
                      site? env.origin: "coordinator");
            if (challenge.ima)
                zsock_send (node->attestor, "sbbbb", "CHALLENGE", challenge.nonce,
                            challenge.nonce_size, mask, sizeof mask, from, sizeof from,
                            challenge.ima_pcr10, sizeof challenge.ima_pcr10);
            else
                zsock_send (node->attestor, "sbb", "CHALLENGE", challenge.nonce,
                            challenge.nonce_size, mask, sizeof mask);
            if (challenge.ima)
                zsys_info ("node: attestation challenge from the coordinator (IMA from "
                           "entry #%" PRIu64 ")", challenge.ima_from);
            else
                zsys_info ("node: attestation challenge from %s",
                           site? env.origin: "the coordinator");
        }
        else {
            snprintf (reason, WEFT_TEXT_MAX + 1, "ATTEST_CHALLENGE from %s refused: not "
                      "from the coordinator or our site server, or malformed", env.origin);
            zsys_warning ("node: %s", reason);
            return WEFT_STATUS_DENIED;
        }
        return WEFT_STATUS_OK;
    }
    if (!node->agent) {
        snprintf (reason, WEFT_TEXT_MAX + 1, "this node runs no agent yet");
        return WEFT_STATUS_INTERNAL;
    }
    return agent_receive (node->agent, (uint64_t) zclock_time (), frame, size, reason);
}

//  ZAP on our listener: any key of the deployment that is not revoked
//  may connect; the HELLO that follows must prove a certificate for it
static bool
s_admit (void *arg, const char *domain, const char *address, const uint8_t client_key [32],
         char user_id [ZAP_USER_ID_MAX + 1])
{
    node_t *node = (node_t *) arg;
    (void) address;
    if (streq (domain, "ops"))
        return opserver_admit (client_key, user_id);
    if (!streq (domain, "mesh") || !mesh_admit (node->mesh, client_key))
        return false;
    keys_hex (client_key, 32, user_id);
    return true;
}

//  What the operator port answers (node/core/oplocal.h)
static char *
s_ops_read (void *ctx, const char *method)
{
    node_t *node = (node_t *) ctx;
    return streq (method, "node.stats")? mesh_stats_json (node->mesh): NULL;
}

static void
s_timer (void *ctx, int kind, uint64_t at_ms)
{
    node_t *node = (node_t *) ctx;
    assert (kind >= 0 && kind < AGENT_TIMERS);
    node->timers [kind] = at_ms;
}

static void
s_apply (void *ctx, uint64_t version, const char *doc, size_t size)
{
    node_t *node = (node_t *) ctx;
    if (apply_request (node->apply, version, doc, size) != 0)
        zsys_error ("node: cannot hand desired version %" PRIu64 " to the apply handler",
                    version);
}

//  A fatal start-up error: on stderr for the operator, and in syslog
//  too when logging goes there (on stderr the log line would repeat it).
static void
s_fatal (bool to_syslog, const char *what, const char *error)
{
    if (to_syslog)
        zsys_error ("node: %s%s%s", what, *what? ": ": "", error);
    fprintf (stderr, "weft-node: %s%s%s\n", what, *what? ": ": "", error);
}

//  SIGINT and SIGTERM only raise CZMQ's interrupt flag; the loop sees it.
//  Installed explicitly because a shell starts background jobs with
//  SIGINT ignored, and CZMQ leaves an ignored signal ignored.
static void
s_signal (int signal_value)
{
    (void) signal_value;
    zsys_interrupted = 1;
    zctx_interrupted = 1;
}

static uint64_t
s_now (void)
{
    return (uint64_t) zclock_time ();
}

//  Read a burst from a DEALER link: [frame] or [dest, frame]
static void
s_read_dealer (node_t *node, zsock_t *sock, const char *link, uint64_t now)
{
    for (int i = 0; i < NODE_BURST; i++) {
        if (!(zsock_events (sock) & ZMQ_POLLIN))
            break;
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
            sigcheck_add (node->sigcheck, link, dest, &msg, last, now);
        free (dest);
        zmsg_destroy (&msg);
    }
    sigcheck_feed (node->sigcheck, now);
}

//  Read a burst from our listener: [routing id, frame] or [routing id, dest, frame]
static void
s_read_router (node_t *node, uint64_t now)
{
    for (int i = 0; i < NODE_BURST; i++) {
        char link [LISTENER_LINK_MAX + 1];
        uint8_t key [32];
        char *dest = NULL;
        zmsg_t *msg = NULL;
        int rc = listener_recv (node->listener, link, key, &dest, &msg);
        if (rc == -1)
            break;
        if (rc == 1 || (rc == 0 && !mesh_has_link (node->mesh, link)))
            mesh_link_up (node->mesh, link, MESH_LINK_ACCEPTED, key, now);
        if (msg)
            sigcheck_add (node->sigcheck, link, dest, &msg, zmsg_last (msg), now);
        free (dest);
        zmsg_destroy (&msg);
    }
    sigcheck_feed (node->sigcheck, now);
}

//  Peers of our listener whose connection is gone leave the mesh
static void
s_listener_gone (node_t *node, uint64_t now)
{
    zlistx_t *gone = listener_gone (node->listener, now);
    for (char *link = gone? (char *) zlistx_first (gone): NULL; link;
         link = (char *) zlistx_next (gone)) {
        if (node->verbose)
            zsys_debug ("node: %s left the listener", link);
        mesh_link_down (node->mesh, link, now);
    }
    zlistx_destroy (&gone);
}

//  Parse "KEYHEX@ENDPOINT,..." into node->neighbours
static int
s_parse_neighbours (node_t *node, const char *list)
{
    if (!list || !*list)
        return 0;
    char *copy = strdup (list);
    char *save = NULL;
    int rc = 0;
    for (char *item = strtok_r (copy, ",", &save); item; item = strtok_r (NULL, ",", &save)) {
        char *at = strchr (item, '@');
        if (!at || at - item != 64 || node->neighbour_count == NODE_NEIGHBOURS_MAX) {
            rc = -1;
            break;
        }
        *at = 0;
        neighbour_t *n = &node->neighbours [node->neighbour_count];
        if (keys_unhex (item, n->key, 32)) {
            rc = -1;
            break;
        }
        n->endpoint = strdup (at + 1);
        snprintf (n->link, sizeof n->link, "d:%zu", node->neighbour_count);
        node->neighbour_count++;
    }
    free (copy);
    return rc;
}

static void
s_coord_connect (node_t *node)
{
    node->transport = transport_new (node->coord_endpoint, node->keys, node->coord_curve,
                                     node->heartbeat_ms, node->verbose);
    if (node->transport)
        zpoller_add (node->poller, transport_sock (node->transport)),
        zpoller_add (node->poller, transport_monitor (node->transport));
}

static void
s_neighbour_connect (node_t *node, neighbour_t *n)
{
    n->transport = transport_new (n->endpoint, node->keys, n->key, node->heartbeat_ms,
                                  node->verbose);
    if (n->transport) {
        zpoller_add (node->poller, transport_sock (n->transport));
        zpoller_add (node->poller, transport_monitor (n->transport));
    }
}

//  Test-only fault switch. While the file exists: if it is empty (or
//  has a line "coordinator") the coordinator link is closed; every
//  other line names the endpoint of a dialled neighbour whose link is
//  closed. A link comes back when its line (or the file) goes.
static void
s_fault_switch (node_t *node, const char *path, bool dial_coordinator, uint64_t now)
{
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
    bool cut_neighbour [NODE_NEIGHBOURS_MAX] = { false };
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        line [strcspn (line, " \t\r")] = 0;
        if (!*line)
            continue;
        any_line = true;
        if (streq (line, "coordinator"))
            cut_coord = true;
        for (size_t i = 0; i < node->neighbour_count; i++)
            if (streq (line, node->neighbours [i].endpoint))
                cut_neighbour [i] = true;
    }
    if (exists && !any_line)
        cut_coord = true;
    if (cut_coord && node->transport) {
        zsys_warning ("node: fault switch: coordinator link cut");
        zpoller_remove (node->poller, transport_sock (node->transport));
        zpoller_remove (node->poller, transport_monitor (node->transport));
        transport_destroy (&node->transport);
        mesh_link_down (node->mesh, MESH_COORDINATOR, now);
    }
    else
    if (!cut_coord && dial_coordinator && !node->transport) {
        zsys_warning ("node: fault switch: coordinator link restored");
        s_coord_connect (node);
    }
    for (size_t i = 0; i < node->neighbour_count; i++) {
        neighbour_t *n = &node->neighbours [i];
        if (cut_neighbour [i] && n->transport) {
            zsys_warning ("node: fault switch: link to %s cut", n->endpoint);
            zpoller_remove (node->poller, transport_sock (n->transport));
            zpoller_remove (node->poller, transport_monitor (n->transport));
            transport_destroy (&n->transport);
            mesh_link_down (node->mesh, n->link, now);
            n->cut = true;
        }
        else
        if (!cut_neighbour [i] && n->cut) {
            zsys_warning ("node: fault switch: link to %s restored", n->endpoint);
            n->cut = false;
            s_neighbour_connect (node, n);
        }
    }
}

static bool
s_key_linked (void *ctx, const uint8_t key [WEFT_KEY_SIZE])
{
    return mesh_key_linked (((node_t *) ctx)->mesh, key);
}

static void
s_neighbour_close (node_t *node, neighbour_t *n, uint64_t now)
{
    if (n->transport) {
        zpoller_remove (node->poller, transport_sock (n->transport));
        zpoller_remove (node->poller, transport_monitor (n->transport));
        transport_destroy (&n->transport);
    }
    mesh_link_down (node->mesh, n->link, now);
}

//  LAN discovery (--beacon): announce our listener's port and CURVE
//  key, and hand what we hear to the discovery core. Returns 0 or -1.
static int
s_beacon_start (node_t *node, const char *interfaces, int64_t port, const uint8_t *ca_key)
{
    discovery_config_t config = {
        .own_key = node->keys->curve_public, .ca_key = ca_key,
        .hello_ms = NODE_HELLO_MS, .expire_ms = NODE_BEACON_EXPIRE_MS,
        .ban_ms = NODE_BEACON_BAN_MS, .yield_ms = NODE_BEACON_YIELD_MS,
        .linked = s_key_linked, .ctx = node, .verbose = node->verbose
    };
    node->discovery = discovery_new (&config);
    for (size_t i = 0; i < node->neighbour_count; i++)
        discovery_exclude (node->discovery, node->neighbours [i].key);
    //  Only a node with a TCP listener has something to announce
    uint8_t datagram [BEACON_SIZE];
    beacon_t beacon = { .port = 0 };
    const char *colon = node->listen? strrchr (node->listen, ':'): NULL;
    if (colon && strncmp (node->listen, "tcp://", 6) == 0)
        beacon.port = (uint16_t) atoi (colon + 1);
    beacon_fingerprint (ca_key, beacon.deployment);
    memcpy (beacon.curve_key, node->keys->curve_public, WEFT_KEY_SIZE);
    bool announce = beacon_encode (&beacon, datagram) == 0;
    if (!announce)
        zsys_warning ("node: no --listen tcp://ADDRESS:PORT: beacons are heard, not sent");
    beacon_io_config_t io = { interfaces, (uint16_t) port, announce? datagram: NULL, 0,
                              node->verbose };
    node->beacon = zactor_new (beacon_io_actor, &io);
    zpoller_add (node->poller, node->beacon);
    return 0;
}

static void
s_beacon_heard (node_t *node, uint64_t now)
{
    char address [INET_ADDRSTRLEN + 1];
    zframe_t *frame = NULL;
    if (beacon_io_recv (node->beacon, address, sizeof address, &frame)) {
        zsys_error ("node: LAN beacons are off (see above)");
        zpoller_remove (node->poller, node->beacon);
        zactor_destroy (&node->beacon);
        return;
    }
    int outcome = discovery_beacon (node->discovery, address, zframe_data (frame),
                                    zframe_size (frame), now);
    if (outcome == DISCOVERY_NEW)
        zsys_info ("node: beacon from %s: new peer", address);
    else
    if (outcome != DISCOVERY_REFRESHED && outcome != DISCOVERY_OWN && node->verbose)
        zsys_debug ("node: beacon from %s ignored: %s", address,
                    discovery_outcome_name (outcome));
    zframe_destroy (&frame);
}

//  Dial the peers discovery wants dialled, close the ones it let go
static void
s_discovery_act (node_t *node, uint64_t now)
{
    discovery_peer_t peer;
    int action;
    while ((action = discovery_next (node->discovery, now, &peer))) {
        neighbour_t *n = &node->neighbours [NODE_NEIGHBOURS_MAX + peer.slot];
        if (action == DISCOVERY_DIAL) {
            free (n->endpoint);
            n->endpoint = strdup (peer.endpoint);
            memcpy (n->key, peer.key, WEFT_KEY_SIZE);
            snprintf (n->link, sizeof n->link, "d:%zu", (size_t) (n - node->neighbours));
            s_neighbour_connect (node, n);
            zsys_info ("node: dialling discovered peer %s", peer.endpoint);
        }
        else
        if (action == DISCOVERY_FORGET)
            zsys_info ("node: forgetting discovered peer %s: %s", peer.endpoint, peer.why);
        else {
            zsys_info ("node: dropping discovered peer %s: %s", peer.endpoint, peer.why);
            s_neighbour_close (node, n, now);
        }
    }
}

int
main (int argc, char *argv [])
{
    if (sodium_init () < 0) {
        fprintf (stderr, "weft-node: libsodium failed to initialise\n");
        return 1;
    }
    int argi = 0, exit_code = 0;
    keyfile_t *options = options_parse (s_synopsis, s_options, argc, argv, &argi, &exit_code);
    if (!options)
        return exit_code;
    if (argi < argc) {
        fprintf (stderr, "weft-node: unexpected argument '%s'\nTry 'weft-node --help'.\n",
                 argv [argi]);
        keyfile_destroy (&options);
        return 2;
    }
    int64_t heartbeat = options_int (options, "heartbeat", -1);
    int64_t apply_timeout = options_int (options, "apply-timeout", -1);
    if (heartbeat < 1 || heartbeat > 3600 || apply_timeout < 1 || apply_timeout > 86400) {
        fprintf (stderr, "weft-node: --heartbeat must be 1..3600 and --apply-timeout "
                 "1..86400 seconds\n");
        keyfile_destroy (&options);
        return 2;
    }
    if (keyfile_get (options, "token")) {
        secret_forget_env (NODE_TOKEN_ENV);
        fprintf (stderr, "weft-node: --token is refused: any local user can read a command "
                 "line (/proc/PID/cmdline) and would see the token; give --token-file FILE "
                 "(mode 0600), --token-file - (standard input) or set " NODE_TOKEN_ENV "\n");
        keyfile_destroy (&options);
        return 2;
    }
    const char *apply_file = keyfile_get (options, "apply-file");
    const char *apply_command = keyfile_get (options, "apply-command");
    if (apply_file && *apply_file && apply_command && *apply_command) {
        fprintf (stderr, "weft-node: give --apply-file or --apply-command, not both\n");
        keyfile_destroy (&options);
        return 2;
    }
    zsys_init ();
    bool to_syslog = options_flag (options, "syslog");
    options_log_setup ("weft-node", to_syslog);
    bool verbose = options_flag (options, "verbose");
    signal (SIGPIPE, SIG_IGN);      //  An apply command may close its stdin early
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);

    const char *dir = keyfile_get (options, "data-dir");
    char host [256] = "";
    gethostname (host, sizeof host - 1);
    const char *name = keyfile_get (options, "name");
    if (!name || !*name)
        name = *host? host: "node";
    char error [512] = "";
    identity_t *identity = identity_load (dir, name, keyfile_get (options, "type"),
                                          error, sizeof error);
    if (!identity) {
        s_fatal (to_syslog, "", error);
        keyfile_destroy (&options);
        return 1;
    }
    tpm_key_type_t ek_type;
    if (identity_ek_type_parse (keyfile_get (options, "ek-type"), &ek_type)) {
        s_fatal (to_syslog, "bad option", "--ek-type wants auto, rsa or ecc");
        identity_destroy (&identity);
        keyfile_destroy (&options);
        return 2;
    }
    const char *tcti = keyfile_get (options, "tpm");
    zactor_t *tpm = tcti && *tcti? zactor_new (tpm_actor, (void *) tcti): NULL;
    const char *write_ek = keyfile_get (options, "write-ek");
    if (write_ek && *write_ek) {
        int rc = tpm? identity_tpm_ek_write (tpm, ek_type, write_ek, NODE_ENROL_TIMEOUT_MS,
                                             error, sizeof error): -1;
        if (!tpm)
            snprintf (error, sizeof error, "--write-ek needs --tpm");
        if (rc)
            s_fatal (to_syslog, "cannot write the EK", error);
        zactor_destroy (&tpm);
        identity_destroy (&identity);
        keyfile_destroy (&options);
        return rc? 1: 0;
    }
    const char *measure = keyfile_get (options, "measure");
    if (measure && *measure) {
        //  The TPM serves the attestor now: close our own connection
        zactor_destroy (&tpm);
        attestor_config_t config = { tcti, keyfile_get (options, "event-log"), NULL, NULL };
        zactor_t *attestor = tcti && *tcti? zactor_new (attestor_actor, &config): NULL;
        int pcr = atoi (measure);
        const char *text = strchr (measure, ':');
        char *status = NULL, *reason = NULL;
        if (attestor && text && pcr >= 0 && pcr < 24) {
            byte index = (byte) pcr;
            zsock_send (attestor, "sbs", "MEASURE", &index, (size_t) 1, text + 1);
            zsock_recv (attestor, "ss", &status, &reason);
        }
        int rc = status && streq (status, "OK")? 0: 1;
        if (rc)
            s_fatal (to_syslog, "cannot measure", attestor? (reason? reason: "want --measure PCR:TEXT")
                                                          : "--measure needs --tpm");
        zstr_free (&status);
        zstr_free (&reason);
        zactor_destroy (&attestor);
        identity_destroy (&identity);
        keyfile_destroy (&options);
        return rc;
    }
    //  The token is read once, only while we need it, and never kept
    char token_text [WEFT_TOKEN_MAX + 1] = "";
    const char *token = NULL;
    if (identity_enrolled (identity))
        secret_forget_env (NODE_TOKEN_ENV);
    else {
        int found = secret_read (keyfile_get (options, "token-file"), NODE_TOKEN_ENV,
                                 token_text, sizeof token_text, error, sizeof error);
        if (found < 0) {
            s_fatal (to_syslog, "enrolment token", error);
            zactor_destroy (&tpm);
            identity_destroy (&identity);
            keyfile_destroy (&options);
            return 2;
        }
        token = found? token_text: NULL;
    }
    if (!identity_enrolled (identity) && tpm) {
        const char *endpoint = keyfile_get (options, "enrol-endpoint");
        const char *key_hex = keyfile_get (options, "coord-key");
        uint8_t server_key [32];
        enrol_token_t parsed;
        int rc = -2;
        if (key_hex && *key_hex) {
            if (strlen (key_hex) == 64 && keys_unhex (key_hex, server_key, 32) == 0)
                rc = 0;
            else
                snprintf (error, sizeof error, "--coord-key wants 64 hex digits");
        }
        else
        if (token && *token) {
            rc = enrol_token_parse (token, &parsed, error, sizeof error);
            memcpy (server_key, parsed.server_key, 32);
        }
        else
            snprintf (error, sizeof error, "give --coord-key (or a token: --token-file or " NODE_TOKEN_ENV ") for TPM enrolment");
        if (rc == 0) {
            zsys_info ("node: enrolling with the TPM at %s", endpoint);
            rc = identity_enrol_tpm (identity, endpoint, server_key, tpm, ek_type, token,
                                     NODE_ENROL_TIMEOUT_MS, error, sizeof error);
        }
        if (rc) {
            const char *what = rc == -1? "enrolment refused": "enrolment failed";
            s_fatal (to_syslog, what, error);
            zactor_destroy (&tpm);
            identity_destroy (&identity);
            keyfile_destroy (&options);
            return 1;
        }
        zsys_info ("node: enrolled as %s (tenant %s) by TPM credential activation",
                   identity_name (identity),
                   *identity_tenant (identity)? identity_tenant (identity): "-");
    }
    if (!identity_enrolled (identity)) {
        const char *endpoint = keyfile_get (options, "enrol-endpoint");
        if (!token) {
            s_fatal (to_syslog, "not enrolled yet",
                     "give the token from 'weftctl token create' with --token-file FILE, "
                     "--token-file - (standard input) or " NODE_TOKEN_ENV);
            zactor_destroy (&tpm);
            identity_destroy (&identity);
            keyfile_destroy (&options);
            return 1;
        }
        zsys_info ("node: enrolling as %s at %s", identity_name (identity), endpoint);
        int rc = identity_enrol (identity, endpoint, token, NODE_ENROL_TIMEOUT_MS,
                                 error, sizeof error);
        if (rc) {
            const char *what = rc == -1? "enrolment refused": "enrolment failed";
            s_fatal (to_syslog, what, error);
            zactor_destroy (&tpm);
            identity_destroy (&identity);
            keyfile_destroy (&options);
            return 1;
        }
        zsys_info ("node: enrolled as %s (tenant %s)", identity_name (identity),
                   *identity_tenant (identity)? identity_tenant (identity): "-");
    }
    else
        zsys_info ("node: starting as %s (tenant %s), identity %s", identity_name (identity),
                   *identity_tenant (identity)? identity_tenant (identity): "-",
                   identity_path (identity));

    sodium_memzero (token_text, sizeof token_text);
    token = NULL;

    char *db_path = zsys_sprintf ("%s/db", dir);
    const char *tables [] = { AGENT_TABLE, MESH_TABLE, OUTBOX_TABLE, OPLOG_TABLE, NULL };
    store_t *store = store_new (db_path, tables, 0);
    free (db_path);
    node_t node;
    memset (&node, 0, sizeof node);
    node.keys = identity_keys (identity);
    node.coord_sign = identity_coord_sign (identity);
    if (tpm) {
        //  From here on the attestor owns the TPM (one client at a time)
        zactor_destroy (&tpm);
        zchunk_t *ak = identity_ak_blob (identity);
        attestor_config_t config = { tcti, keyfile_get (options, "event-log"),
                                     keyfile_get (options, "ima-log"), ak };
        node.attestor = ak? zactor_new (attestor_actor, &config): NULL;
        zchunk_destroy (&ak);
        if (!node.attestor)
            zsys_warning ("node: no AK in %s: boot attestation is off", identity_path (identity));
    }
    node.coord_curve = identity_coord_curve (identity);
    node.coord_endpoint = keyfile_get (options, "coordinator");
    node.verbose = verbose;
    node.heartbeat_ms = (uint64_t) heartbeat * 1000;
    node.poller = zpoller_new (NULL);
    const char *listen = keyfile_get (options, "listen");
    node.listen = listen && *listen? strdup (listen): NULL;
    if (s_parse_neighbours (&node, keyfile_get (options, "neighbour"))) {
        fprintf (stderr, "weft-node: --neighbour wants KEYHEX@ENDPOINT[,...] "
                 "(64 hex digits, at most %d)\n", NODE_NEIGHBOURS_MAX);
        exit_code = 2;
    }
    //  Our certificate and the CA key, for HELLO
    const char *load_error = NULL;
    keyfile_t *idfile = keyfile_load (identity_path (identity), true, &load_error);
    size_t cert_size = 0;
    uint8_t *cert = idfile? (uint8_t *) keyfile_get_blob (idfile, "cert", &cert_size): NULL;
    uint8_t ca_key [32];
    bool have_ca = idfile && keyfile_get_bin (idfile, "ca_key", ca_key, 32) == 0;
    keyfile_destroy (&idfile);

    const char *require = keyfile_get (options, "require-attestation");
    if (require && !streq (require, "auto") && !streq (require, "off")) {
        fprintf (stderr, "weft-node: --require-attestation wants auto or off\n");
        exit_code = 2;
    }
    node.apply = apply_new (apply_file, apply_command, (int) apply_timeout * 1000, verbose);
    zap_t *zap = NULL;
    if (store && node.apply && cert && have_ca && exit_code == 0) {
        mesh_config_t mesh_config = {
            .name = identity_name (identity), .tenant = identity_tenant (identity),
            .keys = identity_keys (identity), .cert = cert, .cert_size = cert_size,
            .ca_key = ca_key, .coord_sign = identity_coord_sign (identity),
            .advert_ms = (uint64_t) heartbeat * 1000, .store = store, .prefix = "",
            .admit_unattested = require && streq (require, "off"), .verbose = verbose
        };
        mesh_effects_t mesh_effects = { &node, s_mesh_send, s_mesh_close, s_mesh_deliver,
                                        s_mesh_intercept, s_mesh_passport };
        node.mesh = mesh_new (&mesh_config, &mesh_effects);
        if (node.mesh && mesh_start (node.mesh, s_now ()) != 0)
            mesh_destroy (&node.mesh);
        const char *threads = keyfile_get (options, "verify-threads");
        int64_t count = threads && *threads? options_int (options, "verify-threads", -1)
                                           : (int64_t) sigcheck_default_threads ();
        if (count < 0 || count > SIGCHECK_THREADS_MAX) {
            fprintf (stderr, "weft-node: --verify-threads must be 0..%d\n", SIGCHECK_THREADS_MAX);
            mesh_destroy (&node.mesh);
            exit_code = 2;
        }
        if (node.mesh) {
            node.sigcheck = sigcheck_new (node.mesh, (size_t) count);
            zsys_info ("node: envelope signatures checked on the event loop and %d "
                       "worker thread%s", (int) count, count == 1? "": "s");
        }
    }
    if (node.mesh) {
        agent_config_t config = {
            .name = identity_name (identity),
            .tenant = identity_tenant (identity),
            .keys = identity_keys (identity),
            .coord_sign = identity_coord_sign (identity),
            .heartbeat_ms = (uint64_t) heartbeat * 1000,
            .store = store,
            .prefix = "",
            .verbose = verbose
        };
        agent_effects_t effects = { &node, s_send, s_timer, s_apply };
        node.agent = agent_new (&config, &effects);
        if (node.agent && agent_start (node.agent, s_now ()) != 0)
            agent_destroy (&node.agent);
        if (node.agent)
            agent_set_passport (node.agent, mesh_passport_ms (node.mesh));
    }
    const char *ops_listen = keyfile_get (options, "ops-listen");
    if (node.agent && (node.listen || (ops_listen && *ops_listen))) {
        //  The ZAP handler exists before a listener binds
        zap = zap_new (s_admit, &node);
        if (zap)
            zpoller_add (node.poller, zap_sock (zap));
        else
            agent_destroy (&node.agent);
    }
    if (node.agent && node.listen) {
        node.listener = listener_new (node.listen, node.keys, node.heartbeat_ms);
        if (!node.listener)
            agent_destroy (&node.agent);
        else {
            zpoller_add (node.poller, listener_sock (node.listener));
            zpoller_add (node.poller, listener_monitor (node.listener));
            zsys_info ("node: mesh listener on %s", node.listen);
        }
    }
    int64_t beacon_port = options_int (options, "beacon-port", -1);
    const char *beacon_ifaces = keyfile_get (options, "beacon");
    if (beacon_port < 1 || beacon_port > 65535) {
        fprintf (stderr, "weft-node: --beacon-port must be 1..65535\n");
        agent_destroy (&node.agent);
        exit_code = 2;
    }
    if (node.agent) {
        cert_t own;
        memset (&own, 0, sizeof own);
        cert_decode (&own, cert, cert_size, ca_key, 0);
        node.delegate = delegate_new (node.mesh, node.agent, store, "", ca_key,
                                      streq (own.role, "server"));
    }
    if (node.agent && beacon_ifaces && *beacon_ifaces)
        s_beacon_start (&node, beacon_ifaces, beacon_port, ca_key);
    if (node.agent && ops_listen && *ops_listen) {
        //  Operators are authorised for the place our certificate names
        cert_t own;
        memset (&own, 0, sizeof own);
        cert_decode (&own, cert, cert_size, ca_key, 0);
        oplocal_config_t ops_config = {
            .name = identity_name (identity), .tenant = identity_tenant (identity),
            .path = own.path, .keys = identity_keys (identity), .ca_key = ca_key,
            .store = store
        };
        node.ops = opserver_new (ops_listen, &ops_config, s_ops_read, &node);
        if (!node.ops)
            agent_destroy (&node.agent);
        else {
            zpoller_add (node.poller, opserver_sock (node.ops));
            zsys_info ("node: operator port on %s (place %s)", ops_listen,
                       *own.path? own.path: own.tenant);
        }
    }
    free (cert);
    if (!node.agent) {
        zsys_error ("node: cannot start (see above)");
        delegate_destroy (&node.delegate);
        agent_destroy (&node.agent);
        sigcheck_destroy (&node.sigcheck);
        mesh_destroy (&node.mesh);
        apply_destroy (&node.apply);
        zactor_destroy (&node.attestor);
        listener_destroy (&node.listener);
        opserver_destroy (&node.ops);
        zap_destroy (&zap);
        zpoller_destroy (&node.poller);
        for (size_t i = 0; i < node.neighbour_count; i++)
            free (node.neighbours [i].endpoint);
        free (node.listen);
        store_destroy (&store);
        zactor_destroy (&tpm);
        identity_destroy (&identity);
        keyfile_destroy (&options);
        return exit_code? exit_code: 1;
    }
    bool dial_coordinator = !options_flag (options, "no-coordinator")
                         && node.coord_endpoint && *node.coord_endpoint;
    if (dial_coordinator) {
        s_coord_connect (&node);
        zsys_info ("node: linking to %s", node.coord_endpoint);
    }
    for (size_t i = 0; i < node.neighbour_count; i++) {
        neighbour_t *n = &node.neighbours [i];
        s_neighbour_connect (&node, n);
        if (n->transport)
            zsys_info ("node: neighbour %s", n->endpoint);
    }
    zpoller_add (node.poller, apply_sock (node.apply));
    if (node.attestor)
        zpoller_add (node.poller, node.attestor);
    const char *fault_file = keyfile_get (options, "fault-file");
    uint64_t fault_checked = 0;

    size_t distance = 0;
    while (!zsys_interrupted) {
        uint64_t now = s_now ();
        uint64_t next = mesh_deadline (node.mesh);
        for (int kind = 0; kind < AGENT_TIMERS; kind++)
            if (node.timers [kind] && (next == 0 || node.timers [kind] < next))
                next = node.timers [kind];
        if (node.listener && (next == 0 || listener_deadline (node.listener) < next))
            next = listener_deadline (node.listener);
        int wait = next == 0? 1000: next <= now? 0: (int) (next - now);
        if (wait > 1000)
            wait = 1000;            //  Bounded, so a clock step is noticed
        void *which = zpoller_wait (node.poller, wait);
        now = s_now ();
        if (fault_file && *fault_file && now >= fault_checked + 200) {
            fault_checked = now;
            s_fault_switch (&node, fault_file, dial_coordinator, now);
        }
        if (which && node.transport && which == transport_sock (node.transport))
            s_read_dealer (&node, transport_sock (node.transport), MESH_COORDINATOR, now);
        else
        if (which && node.transport && which == transport_monitor (node.transport)) {
            int event = transport_event (node.transport);
            if (event == TRANSPORT_CONNECTED)
                mesh_link_up (node.mesh, MESH_COORDINATOR, MESH_LINK_COORDINATOR,
                              node.coord_curve, now);
            else
            if (event == TRANSPORT_DISCONNECTED)
                mesh_link_down (node.mesh, MESH_COORDINATOR, now);
        }
        else
        if (which && node.listener && which == listener_sock (node.listener))
            s_read_router (&node, now);
        else
        if (which && node.listener && which == listener_monitor (node.listener))
            listener_event (node.listener, now);
        else
        if (which && zap && which == zap_sock (zap))
            zap_handle (zap);
        else
        if (which && node.beacon && which == (void *) node.beacon)
            s_beacon_heard (&node, now);
        else
        if (which && node.ops && which == opserver_sock (node.ops)) {
            size_t revoked_count;
            const uint8_t *revoked = mesh_revoked_operators (node.mesh, &revoked_count);
            opserver_handle (node.ops, now, revoked, revoked_count);
        }
        else
        if (which && node.attestor && which == (void *) node.attestor) {
            char *status = NULL;
            uint8_t *payload = NULL;
            size_t payload_size = 0;
            zframe_t *reason = NULL;
            zmsg_t *reply = zmsg_recv (node.attestor);
            status = reply? zmsg_popstr (reply): NULL;
            reason = reply? zmsg_pop (reply): NULL;
            if (status && streq (status, "EVIDENCE") && reason) {
                payload = zframe_data (reason);
                payload_size = zframe_size (reason);
                uint8_t *frame = NULL;
                size_t frame_size = 0;
                if (*node.challenger && !streq (node.challenger, "coordinator")) {
                    if (agent_seal_payload (node.agent, now, MSG_ATTEST_EVIDENCE, payload,
                                            payload_size, &frame, &frame_size) == 0
                    &&  mesh_send_to (node.mesh, node.challenger, frame, frame_size) == 0)
                        zsys_info ("node: attestation evidence sent to %s", node.challenger);
                    free (frame);
                }
                else
                if (agent_send_payload (node.agent, now, MSG_ATTEST_EVIDENCE, payload,
                                        payload_size) == 0)
                    zsys_info ("node: attestation evidence sent");
            }
            else
                zsys_warning ("node: attestation failed: %.*s", reason? (int) zframe_size (reason): 0,
                              reason? (char *) zframe_data (reason): "");
            zframe_destroy (&reason);
            zstr_free (&status);
            zmsg_destroy (&reply);
        }
        else
        if (which == apply_sock (node.apply)) {
            apply_result_t result;
            if (apply_result (node.apply, &result) == 0) {
                agent_applied (node.agent, now, result.version, result.ok, result.reported,
                               result.reported_size, result.error);
                apply_result_clear (&result);
            }
        }
        else
        if (which)
            for (size_t i = 0; i < NODE_LINKS_MAX; i++) {
                neighbour_t *n = &node.neighbours [i];
                if (!n->transport)
                    continue;
                if (which == transport_sock (n->transport))
                    s_read_dealer (&node, transport_sock (n->transport), n->link, now);
                else
                if (which == transport_monitor (n->transport)) {
                    int event = transport_event (n->transport);
                    if (event == TRANSPORT_CONNECTED)
                        mesh_link_up (node.mesh, n->link, MESH_LINK_DIALLED, n->key, now);
                    else
                    if (event == TRANSPORT_DISCONNECTED)
                        mesh_link_down (node.mesh, n->link, now);
                }
            }
        if (zpoller_terminated (node.poller))
            break;
        if (store_broken (store)) {
            //  Nothing acknowledged is lost: a restart reopens a sound store
            zsys_error ("node: the store refuses all writes after a disk failure; "
                        "exiting so that a restart recovers");
            exit_code = 1;
            break;
        }
        for (int kind = 0; kind < AGENT_TIMERS; kind++)
            if (node.timers [kind] && node.timers [kind] <= now) {
                node.timers [kind] = 0;
                agent_timer (node.agent, now, kind);
            }
        if (node.discovery)
            s_discovery_act (&node, now);
        delegate_tick (node.delegate, now, s_random);
        if (mesh_deadline (node.mesh) <= now)
            mesh_tick (node.mesh, now);
        else
            mesh_flush (node.mesh, now);
        //  A route to the coordinator appeared: heartbeat and resend at once
        size_t hops = mesh_distance (node.mesh);
        if (hops && !distance)
            agent_connected (node.agent, now);
        else
        if (!hops && distance)
            agent_disconnected (node.agent, now);
        distance = hops;
        if (node.listener)
            s_listener_gone (&node, now);
    }
    zsys_info ("node: stopping");
    mesh_flush (node.mesh, s_now ());
    zpoller_destroy (&node.poller);
    delegate_destroy (&node.delegate);
    agent_destroy (&node.agent);
    sigcheck_destroy (&node.sigcheck);
    mesh_destroy (&node.mesh);
    apply_destroy (&node.apply);
    zactor_destroy (&node.attestor);
    zactor_destroy (&node.beacon);
    discovery_destroy (&node.discovery);
    transport_destroy (&node.transport);
    for (size_t i = 0; i < NODE_LINKS_MAX; i++) {
        transport_destroy (&node.neighbours [i].transport);
        free (node.neighbours [i].endpoint);
    }
    listener_destroy (&node.listener);
    opserver_destroy (&node.ops);
    zap_destroy (&zap);
    free (node.listen);
    store_destroy (&store);
    zactor_destroy (&tpm);
    identity_destroy (&identity);
    keyfile_destroy (&options);
    return exit_code;
}
