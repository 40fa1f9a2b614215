/*  probe - speaks raw to a coordinator, for the end-to-end tests
    weft-probe does what a well-behaved node never does: it connects
    with keys the coordinator does not know, replays an envelope with a
    sequence number already used, and sends envelopes with a signature
    that does not verify. The tests then check that the coordinator
    refused each one (the CURVE/ZAP handshake result, or the rejected_*
    counters of "weftctl stats").

    It also carries "json", a tiny JSON path reader, so the shell tests
    need nothing beyond the Weft build itself (no jq, no python).

    Exit codes: 0 done / admitted, 1 refused, 2 usage, 3 no answer.  */

#include <czmq.h>
#include <sodium.h>
#include <jansson.h>
#include <time.h>
#include "proto/proto.h"
#include "proto/envelope.h"
#include "proto/msg.h"
#include "proto/keys.h"
#include "proto/cert.h"
#include "proto/meshmsg.h"
#include "proto/passport.h"
#include "proto/codec.h"
#include "proto/jsontext.h"
#include "proto/policymsg.h"
#include "proto/io/keyfile.h"
#include "proto/io/filewrite.h"
#include "proto/release.h"
#include "proto/sworder.h"
#include "proto/updmsg.h"

#define PROBE_OK            0
#define PROBE_REFUSED       1
#define PROBE_USAGE         2
#define PROBE_NO_ANSWER     3

//  What the command line asked for.
typedef struct {
    const char *command;            //  handshake, replay, forge, json
    const char *endpoint;           //  Coordinator endpoint
    const char *server_key_hex;     //  Coordinator CURVE key, hex
    const char *keyfile;            //  node.key or operator identity
    const char *origin;             //  Overrides the keyfile's identity
    const char *path;               //  json: path to print
    uint64_t seq;                   //  replay/forge: envelope seq
    int timeout_ms;                 //  Handshake deadline
    bool verbose;
    int count;                      //  mesh-send: envelopes to hand over
    const char *mode;               //  mesh-send: ok, forge or tamper
    const char *save;               //  mesh-send: write the first frame here
    const char *frame;              //  mesh-send: send this saved frame instead
    const char *dest;               //  mesh-send: destination (coordinator)
    int window;                     //  mesh-send: unanswered envelopes sent per round
    const char *ca;                 //  policy-make: the coordinator's ca.key
    const char *kind;               //  policy-make: object kind
    const char *name;               //  policy-make: object name
    uint64_t version;               //  policy-make: object version
    const char *content;            //  policy-make: object content (text)
    const char *object;             //  policy-send: object file
    bool custody;                   //  replay/forge: as a custody transfer
    bool expired;                   //  replay/forge: an expiry already past
    const char *report_of;          //  replay/forge: a TWIN_REPORTED naming this device
    const char *passport;           //  mesh-send: passport (hex) to present in HELLO
    const char *claim;              //  mesh-send: origin the envelopes name (HELLO unchanged)
} probe_args_t;

//  The identity the probe speaks as.
typedef struct {
    keys_t keys;                    //  CURVE and signing keys
    char origin [WEFT_NAME_MAX + 1];    //  Envelope origin
    char tenant [WEFT_NAME_MAX + 1];    //  Envelope tenant
    uint8_t server_key [WEFT_KEY_SIZE]; //  Coordinator CURVE key
    bool have_server_key;
} probe_identity_t;

static const char *s_usage =
    "usage: weft-probe COMMAND ...\n"
    "  handshake ENDPOINT SERVER_KEY_HEX [--keyfile F] [--timeout MS]\n"
    "      CURVE handshake with a random key (or F's keys); exit 0 if admitted,\n"
    "      1 if refused, 3 if there was no answer\n"
    "  replay ENDPOINT --keyfile NODE_KEY --seq N [--server-key HEX] [--origin NAME]\n"
    "         [--custody] [--expired] [--report-of DEVICE]\n"
    "      send a HEARTBEAT signed by the node's key with seq N; --custody sends it\n"
    "      as a custody transfer to the coordinator and prints the CUSTODY_ACK\n"
    "      ('custody-ack STATUS reason'); --expired gives it an expiry already\n"
    "      past; --report-of sends a TWIN_REPORTED naming DEVICE instead, and\n"
    "      prints the ACK ('ack STATUS message')\n"
    "  forge ENDPOINT --keyfile NODE_KEY [--seq N] [--server-key HEX] [--origin NAME]\n"
    "        [--custody]\n"
    "      send a HEARTBEAT on the node's link signed by a wrong key\n"
    "  mesh-send ENDPOINT --keyfile NODE_KEY --server-key NODE_CURVE_HEX [--count N]\n"
    "            [--mode ok|forge|tamper] [--seq FIRST] [--save F | --frame F] [--timeout MS]\n"
    "            [--window W] [--passport HEX] [--claim NAME]\n"
    "      be a mesh neighbour of the node at ENDPOINT (HELLO with the keyfile's\n"
    "      certificate) and hand it N TWIN_REPORTED envelopes (versions FIRST..)\n"
    "      for custody, at most W unanswered ones every 200 ms, retransmitting\n"
    "      each until its CUSTODY_ACK; prints\n"
    "      'acked ID' or 'denied ID' per envelope; exit 0 when all are answered;\n"
    "      --passport presents that attestation passport in the HELLO;\n"
    "      --claim names NAME as the envelopes' origin (the HELLO stays the\n"
    "      keyfile's node), as a neighbour forging another node's would\n"
    "  policy-make --ca CA_KEY --kind K --name N --version V --content TEXT --save F\n"
    "              [--mode ok|forge|unsigned]\n"
    "      write a policy object signed by the CA (forge: by another key;\n"
    "      unsigned: no signature) to F\n"
    "  policy-send ENDPOINT --keyfile NODE_KEY --server-key NODE_CURVE_HEX --object F\n"
    "      be a mesh neighbour of the node at ENDPOINT (HELLO) and gossip it the\n"
    "      policy object in F (one POLICY), then linger 1 s\n"
    "  decode FILE\n"
    "      print the envelope in FILE (a raw frame) as JSON: type, origin, tenant,\n"
    "      seq, hlc, expiry, hops, hop_limit, and id in hex\n"
    "  assign COORD_KEY DEVICE TENANT MANIFEST SECONDS OUT\n"
    "      write to OUT the director's assignment of the release MANIFEST (a\n"
    "      manifest file) to DEVICE of TENANT for SECONDS, signed with the\n"
    "      coordinator's key (its coord.key), as weft-coord signs one\n"
    "  order SIGNER_KEY NODE_KEY DEVICE TENANT NAME SECONDS OUT\n"
    "      write to OUT a SOFTWARE_ORDER envelope from the node of NODE_KEY (sealed\n"
    "      with its key) carrying an entitlement of DEVICE of TENANT to run NAME for\n"
    "      SECONDS, signed with SIGNER_KEY's signing key (the coordinator's coord.key\n"
    "      for a genuine one, any other for a forgery); for mesh-send --frame\n"
    "  json PATH\n"
    "      print the value at PATH (a.b.0.c; '#' = length, '*' = each element)\n      of the JSON on stdin\n";


//  --------------------------------------------------------------------------
//  Parse argv into args. Returns 0 or PROBE_USAGE.

static int
s_parse_args (int argc, char *argv [], probe_args_t *args)
{
    memset (args, 0, sizeof (*args));
    args->timeout_ms = 5000;
    const char *positional [3] = { NULL, NULL, NULL };
    int count = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        const char *value = i + 1 < argc? argv [i + 1]: NULL;
        if (streq (arg, "--help") || streq (arg, "-h")) {
            printf ("%s", s_usage);
            exit (0);
        }
        else
        if (streq (arg, "-v") || streq (arg, "--verbose"))
            args->verbose = true;
        else
        if (streq (arg, "--keyfile") && value)
            args->keyfile = argv [++i];
        else
        if (streq (arg, "--server-key") && value)
            args->server_key_hex = argv [++i];
        else
        if (streq (arg, "--origin") && value)
            args->origin = argv [++i];
        else
        if (streq (arg, "--claim") && value)
            args->claim = argv [++i];
        else
        if (streq (arg, "--seq") && value) {
            args->seq = strtoull (value, NULL, 10);
            i++;
        }
        else
        if (streq (arg, "--timeout") && value) {
            args->timeout_ms = atoi (value);
            i++;
        }
        else
        if (streq (arg, "--count") && value) {
            args->count = atoi (value);
            i++;
        }
        else
        if (streq (arg, "--mode") && value)
            args->mode = argv [++i];
        else
        if (streq (arg, "--save") && value)
            args->save = argv [++i];
        else
        if (streq (arg, "--frame") && value)
            args->frame = argv [++i];
        else
        if (streq (arg, "--dest") && value)
            args->dest = argv [++i];
        else
        if (streq (arg, "--window") && value) {
            args->window = atoi (value);
            i++;
        }
        else
        if (streq (arg, "--ca") && value)
            args->ca = argv [++i];
        else
        if (streq (arg, "--kind") && value)
            args->kind = argv [++i];
        else
        if (streq (arg, "--name") && value)
            args->name = argv [++i];
        else
        if (streq (arg, "--version") && value) {
            args->version = strtoull (value, NULL, 10);
            i++;
        }
        else
        if (streq (arg, "--content") && value)
            args->content = argv [++i];
        else
        if (streq (arg, "--object") && value)
            args->object = argv [++i];
        else
        if (streq (arg, "--custody"))
            args->custody = true;
        else
        if (streq (arg, "--expired"))
            args->expired = true;
        else
        if (streq (arg, "--report-of") && value)
            args->report_of = argv [++i];
        else
        if (streq (arg, "--passport") && value)
            args->passport = argv [++i];
        else
        if (*arg == '-' && arg [1]) {
            fprintf (stderr, "weft-probe: unknown option %s\n%s", arg, s_usage);
            return PROBE_USAGE;
        }
        else
        if (count < 3)
            positional [count++] = arg;
        else {
            fprintf (stderr, "weft-probe: too many arguments\n%s", s_usage);
            return PROBE_USAGE;
        }
    }
    args->command = positional [0];
    if (!args->command) {
        fprintf (stderr, "%s", s_usage);
        return PROBE_USAGE;
    }
    if (streq (args->command, "json") || streq (args->command, "decode")) {
        args->path = positional [1];
        return args->path? PROBE_OK: PROBE_USAGE;
    }
    if (streq (args->command, "policy-make"))
        return args->ca && args->kind && args->name && args->content && args->save
            && (!args->mode || streq (args->mode, "ok") || streq (args->mode, "forge")
                || streq (args->mode, "unsigned"))? PROBE_OK: PROBE_USAGE;
    args->endpoint = positional [1];
    if (streq (args->command, "handshake"))
        args->server_key_hex = positional [2];
    if (!args->endpoint
    ||  (streq (args->command, "handshake") && !args->server_key_hex)
    ||  (streq (args->command, "replay") && (!args->keyfile || !args->seq))
    ||  (streq (args->command, "forge") && !args->keyfile)
    ||  (streq (args->command, "mesh-send") && (!args->keyfile || !args->server_key_hex
         || args->count < 0 || args->count > 100000
         || (args->mode && !streq (args->mode, "ok") && !streq (args->mode, "forge")
             && !streq (args->mode, "tamper"))))
    ||  (streq (args->command, "policy-send") && (!args->keyfile || !args->server_key_hex
         || !args->object))
    ||  !(streq (args->command, "handshake") || streq (args->command, "replay")
          || streq (args->command, "forge") || streq (args->command, "mesh-send")
          || streq (args->command, "policy-send"))) {
        fprintf (stderr, "weft-probe: bad arguments\n%s", s_usage);
        return PROBE_USAGE;
    }
    return PROBE_OK;
}


//  --------------------------------------------------------------------------
//  Fill the identity: keys from a keyfile (node.key or an operator
//  identity: both use sign_public/sign_secret/curve_public/curve_secret),
//  origin and tenant from its certificate or name, the server key from
//  the coordinator certificate unless given. Returns 0 or PROBE_USAGE.

static int
s_load_identity (probe_args_t *args, probe_identity_t *id)
{
    memset (id, 0, sizeof (*id));
    if (args->server_key_hex) {
        if (keys_unhex (args->server_key_hex, id->server_key, WEFT_KEY_SIZE)) {
            fprintf (stderr, "weft-probe: server key must be 64 hex characters\n");
            return PROBE_USAGE;
        }
        id->have_server_key = true;
    }
    if (!args->keyfile) {
        keys_generate (&id->keys);
        snprintf (id->origin, sizeof (id->origin), "%s", args->origin? args->origin: "probe");
        return PROBE_OK;
    }
    const char *error = NULL;
    keyfile_t *file = keyfile_load (args->keyfile, false, &error);
    if (!file) {
        fprintf (stderr, "weft-probe: %s: %s\n", args->keyfile, error? error: "unreadable");
        return PROBE_USAGE;
    }
    int rc = PROBE_OK;
    if (keyfile_get_bin (file, "sign_public", id->keys.sign_public, WEFT_KEY_SIZE)
    ||  keyfile_get_bin (file, "sign_secret", id->keys.sign_secret, WEFT_SECRET_SIZE)
    ||  keyfile_get_bin (file, "curve_public", id->keys.curve_public, WEFT_KEY_SIZE)
    ||  keyfile_get_bin (file, "curve_secret", id->keys.curve_secret, WEFT_KEY_SIZE)) {
        fprintf (stderr, "weft-probe: %s lacks sign_/curve_ public/secret keys\n",
                 args->keyfile);
        rc = PROBE_USAGE;
    }
    uint8_t ca_key [WEFT_KEY_SIZE];
    bool have_ca = keyfile_get_bin (file, "ca_key", ca_key, WEFT_KEY_SIZE) == 0;
    size_t size = 0;
    uint8_t *blob = have_ca? keyfile_get_blob (file, "cert", &size): NULL;
    cert_t cert;
    if (blob && cert_decode (&cert, blob, size, ca_key, 0) == 0) {
        snprintf (id->origin, sizeof (id->origin), "%s", cert.subject);
        snprintf (id->tenant, sizeof (id->tenant), "%s", cert.tenant);
    }
    free (blob);
    blob = have_ca? keyfile_get_blob (file, "coord_cert", &size): NULL;
    if (blob && !id->have_server_key && cert_decode (&cert, blob, size, ca_key, 0) == 0) {
        memcpy (id->server_key, cert.curve_key, WEFT_KEY_SIZE);
        id->have_server_key = true;
    }
    free (blob);
    if (!*id->origin && keyfile_get (file, "name"))
        snprintf (id->origin, sizeof (id->origin), "%s", keyfile_get (file, "name"));
    if (!*id->tenant && keyfile_get (file, "tenant"))
        snprintf (id->tenant, sizeof (id->tenant), "%s", keyfile_get (file, "tenant"));
    if (!id->have_server_key && keyfile_get_bin (file, "coord_curve", id->server_key,
                                                 WEFT_KEY_SIZE) == 0)
        id->have_server_key = true;
    keyfile_destroy (&file);
    if (args->origin)
        snprintf (id->origin, sizeof (id->origin), "%s", args->origin);
    if (rc == PROBE_OK && (!*id->origin || !id->have_server_key)) {
        fprintf (stderr, "weft-probe: %s gives no origin or server key; "
                 "use --origin / --server-key\n", args->keyfile);
        rc = PROBE_USAGE;
    }
    return rc;
}


//  --------------------------------------------------------------------------
//  Connect a CURVE DEALER and wait for the handshake to finish. Returns
//  PROBE_OK with *dealer_p connected, PROBE_REFUSED, or PROBE_NO_ANSWER.

static int
s_connect (probe_args_t *args, probe_identity_t *id, zsock_t **dealer_p)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_linger (dealer, 1000);
    zsock_set_curve_publickey_bin (dealer, id->keys.curve_public);
    zsock_set_curve_secretkey_bin (dealer, id->keys.curve_secret);
    zsock_set_curve_serverkey_bin (dealer, id->server_key);
    char monitor_ep [64];
    snprintf (monitor_ep, sizeof (monitor_ep), "inproc://probe-monitor-%p", (void *) dealer);
    int rc = zmq_socket_monitor (zsock_resolve (dealer), monitor_ep,
                                 ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                                 | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                                 | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                                 | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
    assert (rc == 0);
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    assert (monitor);
    zsock_set_linger (monitor, 0);
    zsock_set_rcvtimeo (monitor, 100);
    rc = zsock_connect (monitor, "%s", monitor_ep);
    assert (rc == 0);
    if (zsock_connect (dealer, "%s", args->endpoint)) {
        fprintf (stderr, "weft-probe: bad endpoint %s\n", args->endpoint);
        zsock_destroy (&monitor);
        zsock_destroy (&dealer);
        return PROBE_USAGE;
    }
    int result = PROBE_NO_ANSWER;
    int64_t deadline = zclock_mono () + args->timeout_ms;
    while (zclock_mono () < deadline) {
        zmsg_t *event_msg = zmsg_recv (monitor);
        if (!event_msg)
            continue;
        zframe_t *frame = zmsg_first (event_msg);
        uint16_t event = 0;
        if (frame && zframe_size (frame) >= 2)
            memcpy (&event, zframe_data (frame), 2);
        zmsg_destroy (&event_msg);
        if (args->verbose)
            fprintf (stderr, "weft-probe: monitor event 0x%x\n", event);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            result = PROBE_OK;
            break;
        }
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
        ||  event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
        ||  event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
            result = PROBE_REFUSED;
            break;
        }
    }
    zmq_socket_monitor (zsock_resolve (dealer), NULL, 0);
    zsock_destroy (&monitor);
    if (result == PROBE_OK)
        *dealer_p = dealer;
    else {
        zsock_set_linger (dealer, 0);
        zsock_destroy (&dealer);
    }
    return result;
}


//  --------------------------------------------------------------------------
//  Send one HEARTBEAT envelope with seq, signed by sign_secret (the
//  origin's real key for replay, a wrong one for forge), then listen
//  briefly for whatever the coordinator says back.

static int
s_send_heartbeat (probe_args_t *args, probe_identity_t *id, uint64_t seq,
                  const uint8_t *sign_secret)
{
    zsock_t *dealer = NULL;
    int rc = s_connect (args, id, &dealer);
    if (rc) {
        fprintf (stderr, "weft-probe: %s: the handshake %s\n", args->endpoint,
                 rc == PROBE_REFUSED? "was refused": "did not complete");
        return rc;
    }
    msg_t msg = { .type = MSG_HEARTBEAT };
    msg.heartbeat.uptime_s = 1;
    if (args->report_of) {
        msg.type = MSG_TWIN_REPORTED;
        snprintf (msg.twin_reported.device, sizeof msg.twin_reported.device, "%s",
                  args->report_of);
        msg.twin_reported.version = seq;
        msg.twin_reported.doc = "{}";
        msg.twin_reported.doc_size = 2;
        strcpy (msg.twin_reported.status, "ok");
    }
    uint8_t *payload = NULL;
    size_t payload_size = 0;
    rc = msg_encode (&msg, &payload, &payload_size);
    assert (rc == 0);
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    uint64_t now_ms = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
    envelope_t env;
    memset (&env, 0, sizeof (env));
    randombytes_buf (env.id, WEFT_ID_SIZE);
    env.type = msg.type;
    snprintf (env.origin, sizeof (env.origin), "%s", id->origin);
    snprintf (env.tenant, sizeof (env.tenant), "%s", id->tenant);
    env.seq = seq;
    env.hlc = now_ms << 16;
    env.expiry = args->expired? now_ms - 1000: now_ms + 60000;
    env.hop_limit = 1;
    env.hops = 1;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame_data = NULL;
    size_t frame_size = 0;
    rc = envelope_encode (&env, sign_secret, &frame_data, &frame_size);
    free (payload);
    assert (rc == 0);
    if (args->custody)
        zstr_sendm (dealer, "coordinator");
    zframe_t *frame = zframe_new (frame_data, frame_size);
    free (frame_data);
    zframe_send (&frame, dealer, 0);
    printf ("sent %s origin=%s seq=%llu\n", proto_msg_name (env.type), id->origin,
            (unsigned long long) seq);
    //  What comes back: a CUSTODY_ACK of a custody transfer, with its
    //  status and reason; the ACK of a report; a TWIN_DESIRED
    zsock_set_rcvtimeo (dealer, 500);
    zmsg_t *reply;
    while ((reply = zmsg_recv (dealer))) {
        envelope_t answer;
        zframe_t *last = zmsg_last (reply);
        meshmsg_t ack;
        msg_t body;
        if (!last || envelope_decode (&answer, zframe_data (last), zframe_size (last)))
            ;
        else
        if (answer.type == MSG_CUSTODY_ACK
        &&  meshmsg_decode (&ack, MSG_CUSTODY_ACK, answer.payload, answer.payload_size) == 0)
            printf ("custody-ack %s %s\n", proto_status_name (ack.status), ack.reason);
        else
        if (answer.type == MSG_ACK
        &&  msg_decode (&body, MSG_ACK, answer.payload, answer.payload_size) == 0)
            printf ("ack %s %s\n", proto_status_name (body.ack.status), body.ack.message);
        else
            printf ("received %s from %s\n",
                    proto_msg_name (answer.type)? proto_msg_name (answer.type): "?",
                    answer.origin);
        zmsg_destroy (&reply);
    }
    zsock_destroy (&dealer);
    return PROBE_OK;
}


//  --------------------------------------------------------------------------
//  mesh-send: act as a mesh neighbour of a node. Every round (200 ms)
//  send our HELLO (a restarted node needs it again before it takes
//  custody), then every envelope not yet answered; print each CUSTODY_ACK
//  answer. Custody transfers the node hands us are acknowledged.

static uint64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

//  A link-local mesh envelope (HELLO, CUSTODY_ACK) from us. Caller frees.
static uint8_t *
s_mesh_local (probe_identity_t *id, const meshmsg_t *msg, size_t *size_p)
{
    uint8_t *payload = NULL;
    size_t payload_size = 0;
    if (meshmsg_encode (msg, &payload, &payload_size))
        return NULL;
    envelope_t env;
    memset (&env, 0, sizeof (env));
    randombytes_buf (env.id, WEFT_ID_SIZE);
    env.type = msg->type;
    snprintf (env.origin, sizeof (env.origin), "%s", id->origin);
    snprintf (env.tenant, sizeof (env.tenant), "%s", id->tenant);
    env.hlc = env.seq = s_now_ms () << 16;
    env.hop_limit = env.hops = 1;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame = NULL;
    int rc = envelope_encode (&env, id->keys.sign_secret, &frame, size_p);
    free (payload);
    return rc? NULL: frame;
}

static int
s_mesh_send (probe_args_t *args, probe_identity_t *id)
{
    const char *error = NULL;
    keyfile_t *file = keyfile_load (args->keyfile, false, &error);
    size_t cert_size = 0;
    uint8_t *cert = file? keyfile_get_blob (file, "cert", &cert_size): NULL;
    keyfile_destroy (&file);
    if (!cert) {
        fprintf (stderr, "weft-probe: %s holds no certificate\n", args->keyfile);
        return PROBE_USAGE;
    }
    const char *mode = args->mode? args->mode: "ok";
    const char *dest = args->dest? args->dest: "coordinator";
    int count = args->frame? 1: args->count > 0? args->count: 1;
    uint8_t **frames = (uint8_t **) zmalloc (sizeof (uint8_t *) * (size_t) count);
    size_t *sizes = (size_t *) zmalloc (sizeof (size_t) * (size_t) count);
    int *state = (int *) zmalloc (sizeof (int) * (size_t) count);   //  0 open, 1 acked, 2 denied
    zhashx_t *index = zhashx_new ();        //  id hex -> position + 1
    uint64_t now_ms = s_now_ms ();
    uint64_t first = args->seq? args->seq: now_ms * 1000;
    keys_t wrong;
    keys_generate (&wrong);
    int rc = PROBE_OK;
    for (int i = 0; i < count && rc == PROBE_OK; i++) {
        envelope_t env;
        if (args->frame) {
            zfile_t *saved = zfile_new (NULL, args->frame);
            zchunk_t *chunk = saved && zfile_input (saved) == 0? zfile_read (saved, 1 << 20, 0)
                                                              : NULL;
            if (chunk) {
                sizes [i] = zchunk_size (chunk);
                frames [i] = (uint8_t *) zmalloc (sizes [i]);
                memcpy (frames [i], zchunk_data (chunk), sizes [i]);
            }
            zchunk_destroy (&chunk);
            zfile_destroy (&saved);
            if (!frames [i] || envelope_decode (&env, frames [i], sizes [i])) {
                fprintf (stderr, "weft-probe: %s holds no envelope\n", args->frame);
                rc = PROBE_USAGE;
                break;
            }
        }
        else {
            msg_t msg = { .type = MSG_TWIN_REPORTED };
            const char *origin = args->claim? args->claim: id->origin;
            snprintf (msg.twin_reported.device, sizeof msg.twin_reported.device, "%s",
                      origin);
            msg.twin_reported.version = first + (uint64_t) i;
            char doc [64];
            snprintf (doc, sizeof doc, "{\"n\":%d,\"pad\":\"aaaa\"}", i);
            msg.twin_reported.doc = doc;
            msg.twin_reported.doc_size = strlen (doc);
            snprintf (msg.twin_reported.status, sizeof msg.twin_reported.status, "ok");
            uint8_t *payload = NULL;
            size_t payload_size = 0;
            int encoded = msg_encode (&msg, &payload, &payload_size);
            assert (encoded == 0);
            memset (&env, 0, sizeof (env));
            randombytes_buf (env.id, WEFT_ID_SIZE);
            env.type = MSG_TWIN_REPORTED;
            snprintf (env.origin, sizeof (env.origin), "%s", origin);
            snprintf (env.tenant, sizeof (env.tenant), "%s", id->tenant);
            env.seq = first + (uint64_t) i;
            env.hlc = (now_ms << 16) + (uint64_t) i;
            env.expiry = now_ms + 3600 * 1000;
            env.hop_limit = env.hops = WEFT_HOP_LIMIT;
            env.payload = payload;
            env.payload_size = payload_size;
            encoded = envelope_encode (&env, streq (mode, "forge")? wrong.sign_secret
                                                                  : id->keys.sign_secret,
                                       &frames [i], &sizes [i]);
            free (payload);
            assert (encoded == 0);
            if (streq (mode, "tamper")) {
                //  Change the document after signing
                uint8_t *pad = (uint8_t *) memmem (frames [i], sizes [i], "aaaa", 4);
                assert (pad);
                pad [0] = 'b';
            }
        }
        char hex [2 * WEFT_ID_SIZE + 1];
        envelope_id_hex (env.id, hex);
        zhashx_update (index, hex, (void *) (intptr_t) (i + 1));
    }
    keys_wipe (&wrong);
    if (rc == PROBE_OK && args->save) {
        FILE *out = fopen (args->save, "wb");
        if (!out || fwrite (frames [0], 1, sizes [0], out) != sizes [0]) {
            fprintf (stderr, "weft-probe: cannot write %s\n", args->save);
            rc = PROBE_USAGE;
        }
        if (out)
            fclose (out);
    }
    zsock_t *dealer = NULL;
    if (rc == PROBE_OK) {
        dealer = zsock_new (ZMQ_DEALER);
        assert (dealer);
        zsock_set_linger (dealer, 0);
        zsock_set_immediate (dealer, 1);
        zsock_set_sndhwm (dealer, 100000);
        zsock_set_curve_publickey_bin (dealer, id->keys.curve_public);
        zsock_set_curve_secretkey_bin (dealer, id->keys.curve_secret);
        zsock_set_curve_serverkey_bin (dealer, id->server_key);
        if (zsock_connect (dealer, "%s", args->endpoint)) {
            fprintf (stderr, "weft-probe: bad endpoint %s\n", args->endpoint);
            rc = PROBE_USAGE;
        }
    }
    meshmsg_t hello;
    memset (&hello, 0, sizeof hello);
    hello.type = MSG_HELLO;
    hello.cert = cert;
    hello.cert_size = cert_size;
    uint8_t passport [PASSPORT_MAX];
    size_t passport_size = args->passport? strlen (args->passport) / 2: 0;
    if (passport_size > sizeof passport
    ||  (passport_size && keys_unhex (args->passport, passport, passport_size))) {
        fprintf (stderr, "weft-probe: --passport wants the hex of a passport\n");
        rc = PROBE_USAGE;
    }
    hello.passport = passport_size? passport: NULL;
    hello.passport_size = passport_size;
    int answered = 0;
    int64_t deadline = zclock_mono () + args->timeout_ms;
    while (rc == PROBE_OK && answered < count && zclock_mono () < deadline && !zsys_interrupted) {
        size_t size;
        uint8_t *frame = s_mesh_local (id, &hello, &size);
        if (frame)
            zmq_send (zsock_resolve (dealer), frame, size, ZMQ_DONTWAIT);
        free (frame);
        int window = args->window > 0? args->window: 1000;
        for (int i = 0, sent = 0; i < count && sent < window; i++)
            if (state [i] == 0) {
                if (zmq_send (zsock_resolve (dealer), dest, strlen (dest),
                              ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
                    break;
                zmq_send (zsock_resolve (dealer), frames [i], sizes [i], ZMQ_DONTWAIT);
                sent++;
            }
        int64_t round_end = zclock_mono () + 200;
        while (zclock_mono () < round_end && answered < count) {
            zmq_pollitem_t item = { zsock_resolve (dealer), 0, ZMQ_POLLIN, 0 };
            if (zmq_poll (&item, 1, 50) <= 0)
                continue;
            zmsg_t *reply = zmsg_recv (dealer);
            zframe_t *last = reply? zmsg_last (reply): NULL;
            envelope_t env;
            meshmsg_t msg;
            if (last && envelope_decode (&env, zframe_data (last), zframe_size (last)) == 0) {
                if (zmsg_size (reply) == 2) {
                    //  A custody transfer for us: take it
                    meshmsg_t ack;
                    memset (&ack, 0, sizeof ack);
                    ack.type = MSG_CUSTODY_ACK;
                    ack.ids = env.id;
                    ack.id_count = 1;
                    ack.status = WEFT_STATUS_OK;
                    uint8_t *ack_frame = s_mesh_local (id, &ack, &size);
                    if (ack_frame)
                        zmq_send (zsock_resolve (dealer), ack_frame, size, ZMQ_DONTWAIT);
                    free (ack_frame);
                }
                else
                if (env.type == MSG_CUSTODY_ACK && meshmsg_decode (&msg, MSG_CUSTODY_ACK,
                                                      env.payload, env.payload_size) == 0
                &&  msg.status != WEFT_STATUS_INTERNAL)
                    for (size_t k = 0; k < msg.id_count; k++) {
                        char hex [2 * WEFT_ID_SIZE + 1];
                        envelope_id_hex (msg.ids + k * WEFT_ID_SIZE, hex);
                        intptr_t at = (intptr_t) zhashx_lookup (index, hex);
                        if (at && state [at - 1] == 0) {
                            state [at - 1] = msg.status == WEFT_STATUS_OK? 1: 2;
                            answered++;
                            printf ("%s %s\n", state [at - 1] == 1? "acked": "denied", hex);
                            fflush (stdout);
                        }
                    }
            }
            zmsg_destroy (&reply);
        }
    }
    fprintf (stderr, "weft-probe: %d of %d envelopes answered\n", answered, count);
    if (rc == PROBE_OK && answered < count)
        rc = PROBE_NO_ANSWER;
    zsock_destroy (&dealer);
    for (int i = 0; i < count; i++)
        free (frames [i]);
    free (frames);
    free (sizes);
    free (state);
    zhashx_destroy (&index);
    free (cert);
    return rc;
}

//  --------------------------------------------------------------------------
//  policy-make: a policy object, signed as asked

static int
s_policy_make (probe_args_t *args)
{
    const char *error = NULL;
    keyfile_t *file = keyfile_load (args->ca, true, &error);
    keys_t ca;
    memset (&ca, 0, sizeof ca);
    if (!file || keyfile_get_bin (file, "sign_secret", ca.sign_secret, WEFT_SECRET_SIZE)) {
        fprintf (stderr, "weft-probe: %s holds no CA key\n", args->ca);
        keyfile_destroy (&file);
        return PROBE_USAGE;
    }
    keyfile_destroy (&file);
    const char *mode = args->mode? args->mode: "ok";
    keys_t rogue;
    keys_generate (&rogue);
    policy_object_t object;
    memset (&object, 0, sizeof object);
    snprintf (object.kind, sizeof object.kind, "%s", args->kind);
    snprintf (object.name, sizeof object.name, "%s", args->name);
    object.version = args->version;
    object.content = (const uint8_t *) args->content;
    object.content_size = strlen (args->content);
    uint8_t *bytes = NULL;
    size_t size = 0;
    int rc;
    if (streq (mode, "unsigned")) {
        uint8_t *body;
        size_t body_size;
        rc = policymsg_body (&object, &body, &body_size);
        if (rc == 0) {
            codec_writer_t *w = codec_writer_new (0);
            codec_put_array (w, 2);
            codec_put_bin (w, body, body_size);
            codec_put_nil (w);
            rc = codec_writer_finish (&w, &bytes, &size);
            free (body);
        }
    }
    else
        rc = policymsg_encode (&object, streq (mode, "forge")? rogue.sign_secret: ca.sign_secret,
                               &bytes, &size);
    keys_wipe (&rogue);
    keys_wipe (&ca);
    if (rc) {
        fprintf (stderr, "weft-probe: cannot make the object: %s\n", proto_strerror (rc));
        return PROBE_USAGE;
    }
    FILE *out = fopen (args->save, "wb");
    rc = out && fwrite (bytes, 1, size, out) == size? PROBE_OK: PROBE_USAGE;
    if (out)
        fclose (out);
    free (bytes);
    return rc;
}

//  policy-send: HELLO, then one POLICY with the object
static int
s_policy_send (probe_args_t *args, probe_identity_t *id)
{
    const char *error = NULL;
    keyfile_t *file = keyfile_load (args->keyfile, false, &error);
    size_t cert_size = 0;
    uint8_t *cert = file? keyfile_get_blob (file, "cert", &cert_size): NULL;
    keyfile_destroy (&file);
    zfile_t *saved = zfile_new (NULL, args->object);
    zchunk_t *chunk = saved && zfile_input (saved) == 0? zfile_read (saved, 1 << 20, 0): NULL;
    zfile_destroy (&saved);
    if (!cert || !chunk) {
        fprintf (stderr, "weft-probe: need a certificate in %s and an object in %s\n",
                 args->keyfile, args->object);
        free (cert);
        zchunk_destroy (&chunk);
        return PROBE_USAGE;
    }
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_linger (dealer, 1000);
    zsock_set_curve_publickey_bin (dealer, id->keys.curve_public);
    zsock_set_curve_secretkey_bin (dealer, id->keys.curve_secret);
    zsock_set_curve_serverkey_bin (dealer, id->server_key);
    int rc = zsock_connect (dealer, "%s", args->endpoint)? PROBE_USAGE: PROBE_OK;
    meshmsg_t hello;
    memset (&hello, 0, sizeof hello);
    hello.type = MSG_HELLO;
    hello.cert = cert;
    hello.cert_size = cert_size;
    size_t size;
    uint8_t *frame = rc == PROBE_OK? s_mesh_local (id, &hello, &size): NULL;
    if (frame)
        zmq_send (zsock_resolve (dealer), frame, size, 0);
    free (frame);
    //  The node answers with its HELLO once it verified ours
    zmq_pollitem_t item = { zsock_resolve (dealer), 0, ZMQ_POLLIN, 0 };
    if (rc == PROBE_OK && zmq_poll (&item, 1, args->timeout_ms) <= 0)
        rc = PROBE_NO_ANSWER;
    policymsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_POLICY;
    msg.object = zchunk_data (chunk);
    msg.object_size = zchunk_size (chunk);
    uint8_t *payload = NULL;
    size_t payload_size = 0;
    if (rc == PROBE_OK && policymsg_msg_encode (&msg, &payload, &payload_size) == 0) {
        envelope_t env;
        memset (&env, 0, sizeof (env));
        randombytes_buf (env.id, WEFT_ID_SIZE);
        env.type = MSG_POLICY;
        snprintf (env.origin, sizeof (env.origin), "%s", id->origin);
        snprintf (env.tenant, sizeof (env.tenant), "%s", id->tenant);
        env.hlc = env.seq = s_now_ms () << 16;
        env.hop_limit = env.hops = 1;
        env.payload = payload;
        env.payload_size = payload_size;
        if (envelope_encode (&env, id->keys.sign_secret, &frame, &size) == 0) {
            zmq_send (zsock_resolve (dealer), frame, size, 0);
            free (frame);
        }
        free (payload);
        zclock_sleep (1000);
    }
    zsock_destroy (&dealer);
    zchunk_destroy (&chunk);
    free (cert);
    return rc;
}


//  --------------------------------------------------------------------------
//  Print the value at a dotted path of the JSON document on stdin.
//  Strings print raw, other values as compact JSON; '#' prints a length
//  and '*' walks every element of an array (one line each).

static int
s_json_walk (json_t *node, char **parts, int count)
{
    if (!node)
        return PROBE_REFUSED;
    if (count == 0) {
        if (json_is_string (node))
            printf ("%s\n", json_string_value (node));
        else {
            char *text = jsontext_dumps (node, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            printf ("%s\n", text);
            free (text);
        }
        return PROBE_OK;
    }
    const char *part = parts [0];
    if (streq (part, "#")) {
        size_t length = json_is_array (node)? json_array_size (node)
                      : json_is_object (node)? json_object_size (node)
                      : json_is_string (node)? json_string_length (node): 0;
        printf ("%zu\n", length);
        return PROBE_OK;
    }
    if (streq (part, "*") && json_is_array (node)) {
        size_t index;
        json_t *item;
        json_array_foreach (node, index, item)
            s_json_walk (item, parts + 1, count - 1);
        return PROBE_OK;
    }
    if (json_is_array (node))
        return s_json_walk (json_array_get (node, strtoul (part, NULL, 10)), parts + 1, count - 1);
    return s_json_walk (json_object_get (node, part), parts + 1, count - 1);
}

static int
s_json (const char *path)
{
    json_error_t error;
    json_t *root = json_loadf (stdin, JSON_DECODE_ANY, &error);
    if (!root) {
        fprintf (stderr, "weft-probe: stdin is not JSON: line %d: %s\n", error.line, error.text);
        return PROBE_REFUSED;
    }
    char *copy = strdup (path);
    char *parts [32];
    int count = 0;
    char *save = NULL;
    for (char *part = strtok_r (copy, ".", &save); part && count < 32;
         part = strtok_r (NULL, ".", &save))
        parts [count++] = part;
    int rc = s_json_walk (root, parts, count);
    if (rc)
        fprintf (stderr, "weft-probe: no value at %s\n", path);
    free (copy);
    json_decref (root);
    return rc;
}


//  --------------------------------------------------------------------------
//  Print the envelope fields of a raw frame in a file, as JSON.

static int
s_decode (const char *path)
{
    zchunk_t *chunk = NULL;
    zfile_t *file = zfile_new (NULL, path);
    if (file && zfile_input (file) == 0)
        chunk = zfile_read (file, WEFT_FRAME_MAX + 1, 0);
    zfile_destroy (&file);
    if (!chunk) {
        fprintf (stderr, "weft-probe: cannot read %s\n", path);
        return PROBE_USAGE;
    }
    envelope_t env;
    int rc = envelope_decode (&env, zchunk_data (chunk), zchunk_size (chunk));
    if (rc) {
        fprintf (stderr, "weft-probe: %s is not an envelope: %s\n", path, proto_strerror (rc));
        zchunk_destroy (&chunk);
        return PROBE_REFUSED;
    }
    char id [2 * WEFT_ID_SIZE + 1];
    keys_hex (env.id, WEFT_ID_SIZE, id);
    json_t *json = json_pack ("{s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:i, s:i, s:s}",
        "type", proto_msg_name (env.type)? proto_msg_name (env.type): "?",
        "type_number", env.type, "origin", env.origin, "tenant", env.tenant,
        "seq", (json_int_t) env.seq, "hlc", (json_int_t) env.hlc,
        "expiry", (json_int_t) env.expiry, "hops", env.hops, "hop_limit", env.hop_limit,
        "id", id);
    char *text = jsontext_dumps (json, JSON_COMPACT | JSON_SORT_KEYS);
    printf ("%s\n", text);
    free (text);
    json_decref (json);
    zchunk_destroy (&chunk);
    return PROBE_OK;
}

//  --------------------------------------------------------------------------
//  assign: the director's assignment, signed with the coordinator's key

static int
s_assign (int argc, char *argv [])
{
    if (argc != 8) {
        fprintf (stderr, "%s", s_usage);
        return PROBE_USAGE;
    }
    const char *load_error = NULL;
    char *error = NULL;
    keyfile_t *file = keyfile_load (argv [2], true, &load_error);
    uint8_t secret [WEFT_SECRET_SIZE];
    size_t size = 0;
    uint8_t *manifest_data = (uint8_t *) filewrite_read (argv [5], WEFT_FRAME_MAX, &size,
                                                         &error);
    manifest_t manifest;
    release_assignment_t a;
    memset (&a, 0, sizeof a);
    if (!file || keyfile_get_bin (file, "sign_secret", secret, WEFT_SECRET_SIZE)
    ||  !manifest_data || manifest_decode (&manifest, manifest_data, size)) {
        fprintf (stderr, "weft-probe: assign: %s\n", load_error? load_error
                                                    : error? error: "bad key or manifest");
        return PROBE_REFUSED;
    }
    snprintf (a.device, sizeof a.device, "%s", argv [3]);
    snprintf (a.tenant, sizeof a.tenant, "%s", argv [4]);
    snprintf (a.name, sizeof a.name, "%s", manifest.name);
    snprintf (a.version, sizeof a.version, "%s", manifest.version);
    keys_hash (manifest_data, size, a.manifest_hash);
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    a.issued_ms = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
    a.expires_ms = a.issued_ms + (uint64_t) atoll (argv [6]) * 1000;
    uint8_t *out = NULL;
    size_t out_size = 0;
    int rc = release_assign (&a, secret, &out, &out_size);
    if (rc == 0)
        rc = filewrite_atomic (argv [7], out, out_size, 0644, &error);
    if (rc)
        fprintf (stderr, "weft-probe: assign: %s\n", error? error: "cannot sign");
    free (out);
    free (manifest_data);
    free (error);
    keyfile_destroy (&file);
    return rc? PROBE_REFUSED: PROBE_OK;
}

//  order: a SOFTWARE_ORDER envelope as a relay would hand it on
static int
s_order (int argc, char *argv [])
{
    if (argc != 9) {
        fprintf (stderr, "%s", s_usage);
        return PROBE_USAGE;
    }
    if (sodium_init () < 0)
        return PROBE_REFUSED;
    const char *load_error = NULL;
    keyfile_t *file = keyfile_load (argv [2], true, &load_error);
    uint8_t secret [WEFT_SECRET_SIZE];
    probe_args_t args = { .command = "order", .keyfile = argv [3] };
    probe_identity_t id;
    if (!file || keyfile_get_bin (file, "sign_secret", secret, WEFT_SECRET_SIZE)
    ||  s_load_identity (&args, &id) != PROBE_OK) {
        fprintf (stderr, "weft-probe: order: %s\n", load_error? load_error: "bad keys");
        keyfile_destroy (&file);
        return PROBE_REFUSED;
    }
    keyfile_destroy (&file);
    uint64_t now_ms = s_now_ms ();
    sworder_t order = { .kind = SWORDER_ENTITLE, .issued_ms = now_ms,
                        .until_ms = now_ms + (uint64_t) atoll (argv [7]) * 1000 };
    snprintf (order.scope, sizeof order.scope, "%s", argv [4]);
    snprintf (order.tenant, sizeof order.tenant, "%s", argv [5]);
    snprintf (order.name, sizeof order.name, "%s", argv [6]);
    uint8_t *signed_order = NULL, *payload = NULL, *frame = NULL;
    size_t signed_size = 0, payload_size = 0, frame_size = 0;
    int rc = sworder_sign (&order, secret, &signed_order, &signed_size);
    updmsg_t msg = { .type = MSG_SOFTWARE_ORDER, .order = signed_order,
                     .order_size = signed_size };
    if (rc == 0)
        rc = updmsg_encode (&msg, &payload, &payload_size);
    if (rc == 0) {
        envelope_t env;
        memset (&env, 0, sizeof env);
        randombytes_buf (env.id, WEFT_ID_SIZE);
        env.type = MSG_SOFTWARE_ORDER;
        snprintf (env.origin, sizeof env.origin, "%s", id.origin);
        snprintf (env.tenant, sizeof env.tenant, "%s", id.tenant);
        env.seq = now_ms * 1000;
        env.hlc = now_ms << 16;
        env.expiry = now_ms + 3600 * 1000;
        env.hop_limit = env.hops = WEFT_HOP_LIMIT;
        env.payload = payload;
        env.payload_size = payload_size;
        rc = envelope_encode (&env, id.keys.sign_secret, &frame, &frame_size);
    }
    char *error = NULL;
    if (rc == 0)
        rc = filewrite_atomic (argv [8], frame, frame_size, 0644, &error);
    if (rc)
        fprintf (stderr, "weft-probe: order: %s\n", error? error: "cannot make it");
    free (error);
    free (frame);
    free (payload);
    free (signed_order);
    sodium_memzero (secret, sizeof secret);
    keys_wipe (&id.keys);
    return rc? PROBE_REFUSED: PROBE_OK;
}

int
main (int argc, char *argv [])
{
    probe_args_t args;
    if (argc > 1 && streq (argv [1], "assign"))
        return s_assign (argc, argv);
    if (argc > 1 && streq (argv [1], "order"))
        return s_order (argc, argv);
    int rc = s_parse_args (argc, argv, &args);
    if (rc)
        return rc;
    if (streq (args.command, "json"))
        return s_json (args.path);
    if (streq (args.command, "decode"))
        return s_decode (args.path);
    if (streq (args.command, "policy-make"))
        return s_policy_make (&args);
    if (sodium_init () < 0) {
        fprintf (stderr, "weft-probe: libsodium failed to initialise\n");
        return PROBE_REFUSED;
    }
    zsys_init ();
    zsys_set_logstream (stderr);
    probe_identity_t id;
    rc = s_load_identity (&args, &id);
    if (rc == PROBE_OK && streq (args.command, "handshake")) {
        zsock_t *dealer = NULL;
        rc = s_connect (&args, &id, &dealer);
        printf ("handshake %s\n", rc == PROBE_OK? "admitted"
                                : rc == PROBE_REFUSED? "refused": "timed out");
        if (dealer) {
            zsock_set_linger (dealer, 0);
            zsock_destroy (&dealer);
        }
    }
    else
    if (rc == PROBE_OK && streq (args.command, "mesh-send"))
        rc = s_mesh_send (&args, &id);
    else
    if (rc == PROBE_OK && streq (args.command, "policy-send"))
        rc = s_policy_send (&args, &id);
    else
    if (rc == PROBE_OK && streq (args.command, "replay"))
        rc = s_send_heartbeat (&args, &id, args.seq, id.keys.sign_secret);
    else
    if (rc == PROBE_OK && streq (args.command, "forge")) {
        //  Right link key, right origin, wrong signing key
        keys_t wrong;
        keys_generate (&wrong);
        struct timespec ts;
        clock_gettime (CLOCK_REALTIME, &ts);
        uint64_t seq = args.seq? args.seq
                     : (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
        rc = s_send_heartbeat (&args, &id, seq, wrong.sign_secret);
        keys_wipe (&wrong);
    }
    keys_wipe (&id.keys);
    return rc;
}
