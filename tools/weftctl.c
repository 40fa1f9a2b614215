/*  weftctl - the operator command line over the coordinator RPC
    One call per run: load the operator identity, open a CURVE DEALER to
    the coordinator's RPC port, send one signed RPC_REQUEST and wait for
    the coordinator's signed RPC_REPLY. weftctl keeps no state, so the
    coordinator refuses replays by the envelope's random id, remembered
    until the request's expiry, which weftctl sets at most 50 s ahead
    (the coordinator accepts at most 60 s): parallel runs under one
    identity never refuse each other. The envelope seq (time in
    microseconds) is informational for operators.

    For the end-to-end replay test only: WEFT_CTL_SAVE_REQUEST=FILE
    writes the signed request frame to FILE, and WEFT_CTL_SEND_REQUEST=
    FILE sends that frame again instead of a new one.

    Arguments are checked before anything touches the network, so a
    usage error (exit 2) never depends on the coordinator being up.
    Exit codes: 0 success, 1 refused or failed operation, 2 usage error,
    3 coordinator unreachable within --timeout.  */

#include <czmq.h>
#include <sodium.h>
#include <jansson.h>
#include <time.h>
#include <sys/stat.h>
#include "proto/proto.h"
#include "proto/envelope.h"
#include "proto/msg.h"
#include "proto/keys.h"
#include "proto/cert.h"
#include "node/io/keyfile.h"
#include "node/io/options.h"

#define CTL_TTL_MAX         (30 * 86400)
#define CTL_EXPIRY_MAX_MS   50000       //  Below the coordinator's 60 s
#define CTL_FILE_MAX        (4 * 1024 * 1024)   //  hierarchy import file

#include "tools/ctl.h"

static const option_spec_t s_specs [] = {
    { "identity", "FILE", NULL,
      "operator identity (default $WEFT_IDENTITY, else .weft/coord/admin.op)" },
    { "json", NULL, NULL, "print the JSON result instead of a table" },
    { "timeout", "SECONDS", "5", "how long to wait for the coordinator" },
    { "tenant", "TENANT", NULL, "token create, operator add: tenant" },
    { "ttl", "DURATION", NULL,
      "token create, operator credential: lifetime, e.g. 90s, 30m, 1h, 2d\n"
      "(default 1h for a token, 7d for a credential)" },
    { "type", "TYPE", NULL, "token create: device type the token is for" },
    { "role", "ROLE", NULL,
      "operator add: viewer, operator, auditor, security-officer or admin" },
    { "path", "PATH", NULL,
      "operator add: subtree granted, e.g. acme/plant-2; token create: where the\n"
      "device is placed (into its certificate)" },
    { "anchor", "FILE", NULL, "audit verify: a signed head saved by 'audit head', kept elsewhere" },
    { "node", "ENDPOINT", NULL, "node stats: a site server's operator port (weft-node --ops-listen)" },
    { "node-key", "HEX", NULL, "node stats: that node's CURVE public key" },
    { "query", "QUERY", NULL, "device list/count, batch, audit list: which ones (docs/query.md)" },
    { "limit", "N", NULL, "device list, audit list: at most N rows" },
    { "dry-run", NULL, NULL, "batch: list the matching devices, change nothing" },
    { "asset", "PATH", NULL, "batch move: the asset the devices monitor" },
    { "remove", NULL, NULL, "operator grant: remove the grant instead" },
    { "out", "FILE", NULL, "operator add: where to write the new identity" },
    { "ek-pub", "FILE", NULL,
      "device preregister: the TPM's EK public (weft-node --write-ek, tpm2_createek -u)" },
    { "verbose", NULL, NULL, "explain ignored replies on stderr" },
    { NULL, NULL, NULL, NULL }
};

static const char *s_synopsis =
    "usage: weftctl [options] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  token create [--tenant T] [--path P] [--ttl 1h] [--type TYPE]   make an enrolment token\n"
    "  device list [--query Q] [--limit N]   visible devices, state, place, versions\n"
    "  device count [--query Q]           how many visible devices match\n"
    "  device show ID                     one device: certificate, keys, metadata, state\n"
    "  device set ID KEY=VALUE...         metadata: type hw fw sw location path asset\n"
    "                                     (KEY= clears), tag.KEY=VALUE, untag=KEY\n"
    "  device revoke ID                   revoke a device: refused by the coordinator and the mesh\n"
    "  device preregister ID --ek-pub FILE [--tenant T] [--path P] [--type T] [tag.KEY=VALUE...]\n"
    "                                     let the TPM with this EK enrol as ID, placed so\n"
    "  twin get ID                        desired and reported twin of a device\n"
    "  twin set ID 'JSON'                 apply a JSON merge patch (RFC 7386) to desired\n"
    "  batch twin --query Q 'JSON' [--dry-run]     patch every matching twin\n"
    "  batch tag --query Q tag.KEY=VALUE|untag=KEY... [--dry-run]\n"
    "  batch move --query Q PATH [--asset A] [--dry-run]   place matching devices\n"
    "  hierarchy import FILE              create/update places and assets (docs/registry.md)\n"
    "  hierarchy export                   the visible hierarchy as an import file\n"
    "  operator add NAME --role ROLE [--tenant T] [--path P] --out FILE\n"
    "                                     create an operator identity file\n"
    "  operator grant NAME ROLE PATH [--remove]   add or remove a grant\n"
    "  operator credential [--ttl 7d]     fetch a credential with all your grants into\n"
    "                                     your identity, for site servers offline\n"
    "  operator revoke NAME               revoke an operator, at the coordinator and sites\n"
    "  node stats --node EP --node-key HEX   a site server's counters, authorised by\n"
    "                                     your credential alone (works offline)\n"
    "  audit list [--query Q] [--limit N] newest audit records first\n"
    "  audit verify [--anchor FILE]       check the audit log's hash chain and signed head\n"
    "  audit head                         the CA-signed head (seq, hash): keep it elsewhere\n"
    "  attest profile set TYPE FILE       the security profile (JSON, docs/security.md) of a type\n"
    "  attest allowlist set FILE          the IMA allowlist (sha256sum lines, docs/security.md)\n"
    "  attest status                      attestation verdicts across the fleet\n"
    "  attest show ID                     a device's last attestation verdict\n"
    "  attest clear ID                    forget a device's verdict (re-attested next heartbeat)\n"
    "  stats                              coordinator counters\n"
    "\n"
    "Exit codes: 0 ok, 1 refused or failed, 2 usage error, 3 coordinator unreachable.";


//  --------------------------------------------------------------------------
//  Print an error in the one format scripts and people both read.

static void
s_fail (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "weftctl: ");
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
}


//  --------------------------------------------------------------------------
//  Wall clock in microseconds; only weftctl's main reads the clock.

static uint64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


//  --------------------------------------------------------------------------
//  Parse a duration: plain seconds, or a number with s, m, h or d.
//  Returns seconds, or -1 if the text is not a duration.

static int64_t
s_parse_ttl (const char *text)
{
    char *end;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (errno || end == text || value <= 0)
        return -1;
    int64_t unit = 1;
    if (*end == 's')
        end++;
    else
    if (*end == 'm') {
        unit = 60;
        end++;
    }
    else
    if (*end == 'h') {
        unit = 3600;
        end++;
    }
    else
    if (*end == 'd') {
        unit = 86400;
        end++;
    }
    if (*end || value > CTL_TTL_MAX)
        return -1;
    return (int64_t) value * unit;
}


//  --------------------------------------------------------------------------
//  "3s ago", "4m ago", "2h ago", "5d ago" or "never".

static void
s_format_ago (int64_t then_s, int64_t now_s, char *buf, size_t size)
{
    if (then_s <= 0) {
        snprintf (buf, size, "never");
        return;
    }
    int64_t age = now_s - then_s;
    if (age < 0)
        age = 0;
    if (age < 120)
        snprintf (buf, size, "%llds ago", (long long) age);
    else
    if (age < 7200)
        snprintf (buf, size, "%lldm ago", (long long) (age / 60));
    else
    if (age < 2 * 86400)
        snprintf (buf, size, "%lldh ago", (long long) (age / 3600));
    else
        snprintf (buf, size, "%lldd ago", (long long) (age / 86400));
}


//  --------------------------------------------------------------------------
//  UTC time as ISO 8601, or "-" for 0.

static void
s_format_time (int64_t when_s, char *buf, size_t size)
{
    if (when_s <= 0) {
        snprintf (buf, size, "-");
        return;
    }
    time_t when = (time_t) when_s;
    struct tm tm;
    gmtime_r (&when, &tm);
    strftime (buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}


//  --------------------------------------------------------------------------
//  Small accessors that tolerate missing or mistyped fields in a reply:
//  weftctl prints what it got rather than crash on a newer coordinator.

static const char *
s_str (json_t *obj, const char *key)
{
    const char *value = json_string_value (json_object_get (obj, key));
    return value? value: "";
}

static int64_t
s_int (json_t *obj, const char *key)
{
    json_t *value = json_object_get (obj, key);
    if (json_is_integer (value))
        return (int64_t) json_integer_value (value);
    if (json_is_real (value))
        return (int64_t) json_real_value (value);
    return 0;
}

static void
s_print_doc (const char *label, json_t *doc)
{
    //  Small documents read best on one line, large ones indented
    char *text = doc? json_dumps (doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY): NULL;
    if (!text) {
        printf ("%s: {}\n", label);
        return;
    }
    if (strlen (text) > 60) {
        free (text);
        text = json_dumps (doc, JSON_INDENT (2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    }
    else {
        free (text);
        text = json_dumps (doc, JSON_SORT_KEYS | JSON_ENCODE_ANY);
    }
    //  Indent every line of the document under its label
    printf ("%s:", label);
    if (strchr (text, '\n')) {
        printf ("\n  ");
        for (char *c = text; *c; c++) {
            putchar (*c);
            if (*c == '\n')
                printf ("  ");
        }
        printf ("\n");
    }
    else
        printf (" %s\n", text);
    free (text);
}


//  --------------------------------------------------------------------------
//  Load the operator identity and the coordinator keys it carries.
//  Returns 0 or an exit code.

static int
s_load_identity (ctl_t *self)
{
    const char *path = keyfile_get (self->options, "identity");
    if (!path || !*path)
        path = getenv ("WEFT_IDENTITY");
    if (!path || !*path)
        path = ".weft/coord/admin.op";
    self->identity_path = path;
    const char *error = NULL;
    self->identity = keyfile_load (path, true, &error);
    if (!self->identity) {
        s_fail ("cannot load identity %s: %s", path, error? error: "unreadable");
        return CTL_REFUSED;
    }
    self->name = keyfile_get (self->identity, "name");
    self->tenant = keyfile_get (self->identity, "tenant");
    self->endpoint = keyfile_get (self->identity, "endpoint");
    if (!self->tenant)
        self->tenant = "";
    if (!self->name || !*self->name || strlen (self->name) > WEFT_NAME_MAX
    ||  strlen (self->tenant) > WEFT_NAME_MAX
    ||  !self->endpoint || !*self->endpoint
    ||  keyfile_get_bin (self->identity, "sign_public", self->keys.sign_public, WEFT_KEY_SIZE)
    ||  keyfile_get_bin (self->identity, "sign_secret", self->keys.sign_secret, WEFT_SECRET_SIZE)
    ||  keyfile_get_bin (self->identity, "curve_public", self->keys.curve_public, WEFT_KEY_SIZE)
    ||  keyfile_get_bin (self->identity, "curve_secret", self->keys.curve_secret, WEFT_KEY_SIZE)
    ||  keyfile_get_bin (self->identity, "coord_sign", self->coord_sign, WEFT_KEY_SIZE)
    ||  keyfile_get_bin (self->identity, "coord_curve", self->coord_curve, WEFT_KEY_SIZE)) {
        s_fail ("identity %s is incomplete (needs name, endpoint, keys, coord_sign, coord_curve)",
                path);
        return CTL_REFUSED;
    }
    return CTL_OK;
}


//  --------------------------------------------------------------------------
//  Read one monitor event: returns the event number, or 0 if none.

static int
s_monitor_event (zsock_t *monitor)
{
    zmsg_t *msg = zmsg_recv (monitor);
    if (!msg)
        return 0;
    int event = 0;
    zframe_t *frame = zmsg_first (msg);
    if (frame && zframe_size (frame) >= 2) {
        uint16_t value;
        memcpy (&value, zframe_data (frame), 2);
        event = value;
    }
    zmsg_destroy (&msg);
    return event;
}


//  --------------------------------------------------------------------------
//  Take an RPC reply apart. Returns 1 if it is the answer to request_id
//  (msg filled), 0 if it is to be ignored.

static int
s_accept_reply (ctl_t *self, zmsg_t *reply, const uint8_t *request_id, msg_t *msg)
{
    //  Tolerate an empty delimiter frame before the envelope
    zframe_t *frame = zmsg_last (reply);
    envelope_t env;
    int rc = frame? envelope_decode (&env, zframe_data (frame), zframe_size (frame)): -1;
    //  A site server's reply is authenticated by the CURVE link to the
    //  node key we asked for; we do not hold its signing key
    if (rc == 0 && !self->node_mode)
        rc = envelope_verify (&env, self->coord_sign);
    if (rc == 0 && (env.type != MSG_RPC_REPLY
                    || (!self->node_mode && !streq (env.origin, "coordinator"))))
        rc = PROTO_ERR_TYPE;
    if (rc == 0)
        rc = msg_decode (msg, MSG_RPC_REPLY, env.payload, env.payload_size);
    if (rc) {
        if (self->verbose)
            s_fail ("ignoring a reply that does not verify: %s", proto_strerror (rc));
        return 0;
    }
    if (memcmp (msg->rpc_reply.request_id, request_id, WEFT_ID_SIZE)) {
        if (self->verbose)
            s_fail ("ignoring a reply to another request");
        return 0;
    }
    return 1;
}


//  --------------------------------------------------------------------------
//  Test hook of the replay scenario: save the request frame, or send a
//  saved one instead (its id becomes the one to wait for). Returns 0
//  or -1 after printing why.

static int
s_test_frame (uint8_t **frame_p, size_t *size_p, uint8_t request_id [WEFT_ID_SIZE])
{
    const char *save = getenv ("WEFT_CTL_SAVE_REQUEST");
    const char *send = getenv ("WEFT_CTL_SEND_REQUEST");
    if (save && *save) {
        FILE *file = fopen (save, "wb");
        if (!file || fwrite (*frame_p, 1, *size_p, file) != *size_p) {
            s_fail ("cannot write %s", save);
            if (file)
                fclose (file);
            return -1;
        }
        fclose (file);
    }
    if (send && *send) {
        zfile_t *file = zfile_new (NULL, send);
        zchunk_t *chunk = file && zfile_input (file) == 0
                        ? zfile_read (file, WEFT_FRAME_MAX, 0): NULL;
        envelope_t env;
        if (!chunk || envelope_decode (&env, zchunk_data (chunk), zchunk_size (chunk))) {
            s_fail ("cannot read a request frame from %s", send);
            zchunk_destroy (&chunk);
            zfile_destroy (&file);
            return -1;
        }
        memcpy (request_id, env.id, WEFT_ID_SIZE);
        free (*frame_p);
        *size_p = zchunk_size (chunk);
        *frame_p = (uint8_t *) zmalloc (*size_p);
        memcpy (*frame_p, zchunk_data (chunk), *size_p);
        zchunk_destroy (&chunk);
        zfile_destroy (&file);
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Call method with args (taken). On success *result_p holds the JSON
//  result (caller decrefs). Returns 0 or an exit code, after printing
//  the reason.

int
ctl_call (ctl_t *self, const char *method, json_t *args, json_t **result_p)
{
    *result_p = NULL;
    char *args_text = json_dumps (args, JSON_COMPACT);
    json_decref (args);
    if (!args_text) {
        s_fail ("cannot encode arguments");
        return CTL_REFUSED;
    }
    msg_t request = { .type = MSG_RPC_REQUEST };
    snprintf (request.rpc_request.method, sizeof (request.rpc_request.method), "%s", method);
    request.rpc_request.args = args_text;
    request.rpc_request.args_size = strlen (args_text);
    request.rpc_request.credential = self->credential;
    request.rpc_request.credential_size = self->credential_size;
    uint8_t *payload = NULL;
    size_t payload_size = 0;
    int rc = msg_encode (&request, &payload, &payload_size);
    free (args_text);
    if (rc) {
        s_fail ("request too large: %s", proto_strerror (rc));
        return CTL_REFUSED;
    }
    uint64_t now_us = s_now_us ();
    envelope_t env;
    memset (&env, 0, sizeof (env));
    randombytes_buf (env.id, WEFT_ID_SIZE);
    env.type = MSG_RPC_REQUEST;
    snprintf (env.origin, sizeof (env.origin), "%s", self->name);
    snprintf (env.tenant, sizeof (env.tenant), "%s", self->tenant);
    env.seq = now_us;
    env.hlc = (now_us / 1000) << 16;
    //  A request that sat in a queue past our deadline is not wanted,
    //  and the coordinator remembers its id until then (replays)
    uint64_t ttl_ms = (uint64_t) self->timeout_s * 1000 + 5000;
    env.expiry = now_us / 1000 + (ttl_ms < CTL_EXPIRY_MAX_MS? ttl_ms: CTL_EXPIRY_MAX_MS);
    env.hop_limit = 1;
    env.hops = 1;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t request_id [WEFT_ID_SIZE];
    memcpy (request_id, env.id, WEFT_ID_SIZE);
    uint8_t *frame_data = NULL;
    size_t frame_size = 0;
    rc = envelope_encode (&env, self->keys.sign_secret, &frame_data, &frame_size);
    free (payload);
    if (rc) {
        s_fail ("cannot encode request: %s", proto_strerror (rc));
        return CTL_REFUSED;
    }
    if (s_test_frame (&frame_data, &frame_size, request_id))
        return CTL_REFUSED;

    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_linger (dealer, 0);
    zsock_set_curve_publickey_bin (dealer, self->keys.curve_public);
    zsock_set_curve_secretkey_bin (dealer, self->keys.curve_secret);
    zsock_set_curve_serverkey_bin (dealer, self->coord_curve);
    //  The monitor tells a refused key apart from a silent coordinator
    char monitor_ep [64];
    snprintf (monitor_ep, sizeof (monitor_ep), "inproc://weftctl-monitor-%p", (void *) dealer);
    zmq_socket_monitor (zsock_resolve (dealer), monitor_ep,
                        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    assert (monitor);
    zsock_set_linger (monitor, 0);
    zsock_connect (monitor, "%s", monitor_ep);
    if (zsock_connect (dealer, "%s", self->endpoint)) {
        s_fail ("bad %s endpoint %s", self->node_mode? "node": "coordinator", self->endpoint);
        free (frame_data);
        zsock_destroy (&monitor);
        zsock_destroy (&dealer);
        return CTL_REFUSED;
    }
    zframe_t *frame = zframe_new (frame_data, frame_size);
    free (frame_data);
    zframe_send (&frame, dealer, 0);

    zpoller_t *poller = zpoller_new (dealer, monitor, NULL);
    int64_t deadline = zclock_mono () + (int64_t) self->timeout_s * 1000;
    int result_rc = CTL_UNREACHABLE;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        void *which = zpoller_wait (poller, (int) left);
        if (!which) {
            if (zpoller_terminated (poller)) {
                s_fail ("interrupted");
                result_rc = CTL_REFUSED;
                goto done;
            }
            continue;
        }
        if (which == monitor) {
            int event = s_monitor_event (monitor);
            if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
                s_fail ("%s at %s refused the key of identity %s (unknown or revoked operator)",
                        self->node_mode? "node": "coordinator", self->endpoint,
                        self->identity_path);
                result_rc = CTL_REFUSED;
                goto done;
            }
            if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
                s_fail ("CURVE handshake with %s failed (wrong coord_curve in %s?)",
                        self->endpoint, self->identity_path);
                result_rc = CTL_REFUSED;
                goto done;
            }
            continue;
        }
        zmsg_t *reply = zmsg_recv (dealer);
        if (!reply)
            continue;
        msg_t msg;
        if (!s_accept_reply (self, reply, request_id, &msg)) {
            zmsg_destroy (&reply);
            continue;
        }
        //  msg borrows from reply until we are done with it
        if (msg.rpc_reply.status != WEFT_STATUS_OK) {
            s_fail ("%s", *msg.rpc_reply.error
                    ? msg.rpc_reply.error: proto_status_name (msg.rpc_reply.status));
            result_rc = CTL_REFUSED;
        }
        else {
            json_error_t error;
            json_t *result = msg.rpc_reply.result_size
                ? json_loadb (msg.rpc_reply.result, msg.rpc_reply.result_size,
                              JSON_DECODE_ANY, &error)
                : json_object ();
            if (result) {
                *result_p = result;
                result_rc = CTL_OK;
            }
            else {
                s_fail ("%s sent a result that is not JSON: %s",
                self->node_mode? "node": "coordinator", error.text);
                result_rc = CTL_REFUSED;
            }
        }
        zmsg_destroy (&reply);
        goto done;
    }
    s_fail ("%s at %s did not answer within %ds", self->node_mode? "node": "coordinator",
            self->endpoint, self->timeout_s);
done:
    zpoller_destroy (&poller);
    zmq_socket_monitor (zsock_resolve (dealer), NULL, 0);
    zsock_destroy (&monitor);
    zsock_destroy (&dealer);
    return result_rc;
}


//  --------------------------------------------------------------------------
//  Print a table: rows of cells, columns padded to the widest cell.

#define CTL_COLUMNS_MAX 12

static void
s_print_table (zlist_t *rows, int columns)
{
    size_t width [CTL_COLUMNS_MAX] = { 0 };
    for (char **row = (char **) zlist_first (rows); row; row = (char **) zlist_next (rows))
        for (int col = 0; col < columns; col++)
            if (strlen (row [col]) > width [col])
                width [col] = strlen (row [col]);
    for (char **row = (char **) zlist_first (rows); row; row = (char **) zlist_next (rows)) {
        for (int col = 0; col < columns; col++) {
            if (col == columns - 1)
                printf ("%s\n", row [col]);
            else
                printf ("%-*s  ", (int) width [col], row [col]);
        }
    }
}

static char **
s_row_new (int columns, ...)
{
    char **row = (char **) zmalloc (sizeof (char *) * columns);
    va_list args;
    va_start (args, columns);
    for (int col = 0; col < columns; col++)
        row [col] = strdup (va_arg (args, const char *));
    va_end (args);
    return row;
}

static void
s_rows_destroy (zlist_t **rows_p, int columns)
{
    char **row;
    while ((row = (char **) zlist_pop (*rows_p))) {
        for (int col = 0; col < columns; col++)
            free (row [col]);
        free (row);
    }
    zlist_destroy (rows_p);
}


//  --------------------------------------------------------------------------
//  Human output for each command.

static void
s_show_device_list (json_t *result)
{
    json_t *devices = json_object_get (result, "devices");
    int64_t now_s = (int64_t) (s_now_us () / 1000000);
    zlist_t *rows = zlist_new ();
    zlist_append (rows, s_row_new (11, "ID", "TENANT", "TYPE", "ASSURANCE", "PATH", "FW",
                                   "STATE", "LAST SEEN", "DESIRED", "REPORTED", "HOPS"));
    size_t index;
    json_t *device;
    size_t online = 0;
    json_array_foreach (devices, index, device) {
        char ago [32], desired [24], reported [24], hops [24];
        snprintf (hops, sizeof (hops), "%lld", (long long) s_int (device, "hops"));
        s_format_ago (s_int (device, "last_seen"), now_s, ago, sizeof (ago));
        snprintf (desired, sizeof (desired), "%lld", (long long) s_int (device, "desired_version"));
        snprintf (reported, sizeof (reported), "%lld", (long long) s_int (device, "reported_version"));
        bool is_online = json_is_true (json_object_get (device, "online"));
        online += is_online;
        const char *tenant = s_str (device, "tenant");
        const char *path = s_str (device, "path");
        const char *fw = s_str (device, "fw");
        const char *assurance = s_str (device, "assurance");
        zlist_append (rows, s_row_new (11, s_str (device, "id"), *tenant? tenant: "-",
                                       s_str (device, "type"), *assurance? assurance: "software",
                                       *path? path: "-",
                                       *fw? fw: "-", is_online? "online": "offline",
                                       ago, desired, reported,
                                       s_int (device, "hops")? hops: "-"));
    }
    s_print_table (rows, 11);
    s_rows_destroy (&rows, 11);
    printf ("%zu device%s, %zu online\n", json_array_size (devices),
            json_array_size (devices) == 1? "": "s", online);
    if (json_is_true (json_object_get (result, "truncated"))) {
        if (json_object_get (result, "total"))
            printf ("showing the first %zu of %lld; narrow with --query or raise --limit\n",
                    json_array_size (devices), (long long) s_int (result, "total"));
        else
            printf ("showing the first %zu; narrow with --query or raise --limit\n",
                    json_array_size (devices));
    }
}

static void
s_show_device (json_t *result)
{
    int64_t now_s = (int64_t) (s_now_us () / 1000000);
    char ago [32], enrolled [32];
    s_format_ago (s_int (result, "last_seen"), now_s, ago, sizeof (ago));
    s_format_time (s_int (result, "enrolled"), enrolled, sizeof (enrolled));
    const char *tenant = s_str (result, "tenant");
    printf ("id:               %s\n", s_str (result, "id"));
    printf ("tenant:           %s\n", *tenant? tenant: "-");
    printf ("type:             %s\n", s_str (result, "type"));
    printf ("role:             %s\n", s_str (result, "role"));
    printf ("state:            %s\n",
            json_is_true (json_object_get (result, "online"))? "online": "offline");
    printf ("last seen:        %s\n", ago);
    printf ("enrolled:         %s\n", enrolled);
    printf ("cert serial:      %lld\n", (long long) s_int (result, "cert_serial"));
    printf ("assurance:        %s\n", s_str (result, "assurance"));
    if (*s_str (result, "ak_name")) {
        printf ("TPM EK:           %s (accepted: %s)\n", s_str (result, "ek"),
                s_str (result, "ek_via"));
        printf ("TPM AK name:      %s\n", s_str (result, "ak_name"));
    }
    printf ("sign key:         %s\n", s_str (result, "sign_key"));
    printf ("curve key:        %s\n", s_str (result, "curve_key"));
    printf ("desired version:  %lld\n", (long long) s_int (result, "desired_version"));
    printf ("reported version: %lld\n", (long long) s_int (result, "reported_version"));
    printf ("hops:             %lld\n", (long long) s_int (result, "hops"));
    json_t *mesh = json_object_get (result, "mesh");
    if (json_object_size (mesh)) {
        char *text = json_dumps (mesh, JSON_COMPACT | JSON_SORT_KEYS);
        printf ("mesh counters:    %s\n", text? text: "{}");
        free (text);
    }
    const char *meta [][2] = {
        { "path", "path:             " }, { "asset", "asset:            " },
        { "hw", "hardware:         " }, { "fw", "firmware:         " },
        { "sw", "software:         " }, { "location", "location:         " }
    };
    for (size_t i = 0; i < sizeof (meta) / sizeof (meta [0]); i++) {
        const char *value = s_str (result, meta [i][0]);
        printf ("%s%s\n", meta [i][1], *value? value: "-");
    }
    json_t *tags = json_object_get (result, "tags");
    printf ("tags:            ");
    const char *key;
    json_t *value;
    if (json_object_size (tags) == 0)
        printf (" -");
    json_object_foreach (tags, key, value)
        printf (" %s=%s", key, json_string_value (value)? json_string_value (value): "");
    printf ("\n");
}

static void
s_show_batch (json_t *result)
{
    json_t *devices = json_object_get (result, "devices");
    bool dry_run = json_is_true (json_object_get (result, "dry_run"));
    long long matched = (long long) s_int (result, "matched");
    printf ("%s %lld device%s matching %s%s\n", dry_run? "would change": "changed",
            matched, matched == 1? "": "s", s_str (result, "query"), matched? ":": "");
    size_t index;
    json_t *id;
    json_array_foreach (devices, index, id)
        printf ("  %s\n", json_string_value (id)? json_string_value (id): "?");
}

static void
s_show_import (json_t *result)
{
    const char *kinds [][2] = { { "created", "+" }, { "updated", "~" }, { "removed", "-" } };
    for (size_t k = 0; k < 3; k++) {
        size_t index;
        json_t *path;
        json_array_foreach (json_object_get (result, kinds [k][0]), index, path)
            printf ("%s %s\n", kinds [k][1], json_string_value (path));
    }
    printf ("created %zu, updated %zu, removed %zu, unchanged %lld\n",
            json_array_size (json_object_get (result, "created")),
            json_array_size (json_object_get (result, "updated")),
            json_array_size (json_object_get (result, "removed")),
            (long long) s_int (result, "unchanged"));
}

static void
s_show_audit (json_t *result)
{
    json_t *records = json_object_get (result, "records");
    zlist_t *rows = zlist_new ();
    zlist_append (rows, s_row_new (7, "SEQ", "TIME", "ACTOR", "ACTION", "SCOPE", "TARGET",
                                   "STATUS"));
    size_t index;
    json_t *record;
    json_array_foreach (records, index, record) {
        char seq [24], when [32];
        snprintf (seq, sizeof (seq), "%lld", (long long) s_int (record, "seq"));
        s_format_time (s_int (record, "time") / 1000, when, sizeof (when));
        const char *scope = s_str (record, "scope");
        const char *target = s_str (record, "target");
        zlist_append (rows, s_row_new (7, seq, when, s_str (record, "actor"),
                                       s_str (record, "action"), *scope? scope: "-",
                                       *target? target: "-", s_str (record, "status")));
    }
    s_print_table (rows, 7);
    s_rows_destroy (&rows, 7);
}

static void
s_show_twin (json_t *result)
{
    int64_t desired = s_int (result, "desired_version");
    int64_t applied = s_int (result, "applied_version");
    const char *status = s_str (result, "status");
    printf ("device:           %s\n", s_str (result, "id"));
    printf ("desired version:  %lld\n", (long long) desired);
    printf ("reported version: %lld\n", (long long) s_int (result, "reported_version"));
    //  A device reports the version it tried; status says if it worked
    bool failed = *status && !streq (status, "ok");
    printf ("applied version:  %lld%s\n", (long long) applied,
            failed? " (failed)": applied == desired? " (in sync)": " (pending)");
    printf ("status:           %s\n", *status? status: "-");
    s_print_doc ("desired", json_object_get (result, "desired"));
    s_print_doc ("reported", json_object_get (result, "reported"));
}

static void
s_show_twin_set (json_t *result)
{
    printf ("%s: desired version %lld\n", s_str (result, "id"),
            (long long) s_int (result, "desired_version"));
    s_print_doc ("desired", json_object_get (result, "desired"));
}

static void
s_show_token (json_t *result)
{
    char expires [32];
    s_format_time (s_int (result, "expires"), expires, sizeof (expires));
    const char *tenant = s_str (result, "tenant");
    printf ("%s\n", s_str (result, "token"));
    fprintf (stderr, "token %s for tenant %s, single use, expires %s\n",
             s_str (result, "id"), *tenant? tenant: "-", expires);
}

static void
s_show_stats (json_t *result)
{
    const char *key;
    json_t *value;
    size_t width = 0;
    json_object_foreach (result, key, value)
        if (strlen (key) > width)
            width = strlen (key);
    //  Sorted, so the output is stable for people and diffs
    zlist_t *keys = zlist_new ();
    json_object_foreach (result, key, value)
        zlist_append (keys, (void *) key);
    zlist_sort (keys, (zlist_compare_fn *) strcmp);
    for (key = (const char *) zlist_first (keys); key; key = (const char *) zlist_next (keys)) {
        char *text = json_dumps (json_object_get (result, key), JSON_ENCODE_ANY | JSON_COMPACT);
        printf ("%-*s  %s\n", (int) width, key, text? text: "?");
        free (text);
    }
    zlist_destroy (&keys);
}


//  --------------------------------------------------------------------------
//  operator add: make keys here, have the coordinator certify the public
//  halves, and write the new identity. The secret keys never leave this
//  machine.

static int
s_operator_add (ctl_t *self, const char *name, const char *role, const char *tenant,
                const char *out)
{
    if (access (out, F_OK) == 0) {
        s_fail ("%s already exists; not overwriting an identity", out);
        return CTL_REFUSED;
    }
    keys_t keys;
    keys_generate (&keys);
    char sign_hex [2 * WEFT_KEY_SIZE + 1], curve_hex [2 * WEFT_KEY_SIZE + 1];
    keys_hex (keys.sign_public, WEFT_KEY_SIZE, sign_hex);
    keys_hex (keys.curve_public, WEFT_KEY_SIZE, curve_hex);
    json_t *args = json_pack ("{s:s, s:s, s:s, s:s}", "name", name, "role", role,
                              "sign_key", sign_hex, "curve_key", curve_hex);
    //  Without --tenant or --path the coordinator gives the creator's
    //  own subtree
    if (tenant)
        json_object_set_new (args, "tenant", json_string (tenant));
    const char *path = keyfile_get (self->options, "path");
    if (path)
        json_object_set_new (args, "path", json_string (path));
    json_t *result;
    int rc = ctl_call (self, "operator.add", args, &result);
    if (rc) {
        keys_wipe (&keys);
        return rc;
    }
    const char *cert_hex = s_str (result, "cert");
    if (!*cert_hex) {
        s_fail ("coordinator answered without a certificate");
        json_decref (result);
        keys_wipe (&keys);
        return CTL_REFUSED;
    }
    keyfile_t *identity = keyfile_new ();
    keyfile_set (identity, "name", name);
    keyfile_set (identity, "role", role);
    //  The tenant the coordinator certified, which may be the creator's
    if (json_is_string (json_object_get (result, "tenant")))
        tenant = s_str (result, "tenant");
    keyfile_set (identity, "tenant", tenant? tenant: "");
    keyfile_set_bin (identity, "sign_public", keys.sign_public, WEFT_KEY_SIZE);
    keyfile_set_bin (identity, "sign_secret", keys.sign_secret, WEFT_SECRET_SIZE);
    keyfile_set_bin (identity, "curve_public", keys.curve_public, WEFT_KEY_SIZE);
    keyfile_set_bin (identity, "curve_secret", keys.curve_secret, WEFT_KEY_SIZE);
    keyfile_set (identity, "cert", cert_hex);
    const char *ca_key = keyfile_get (self->identity, "ca_key");
    if (ca_key)
        keyfile_set (identity, "ca_key", ca_key);
    keyfile_set (identity, "endpoint", self->endpoint);
    keyfile_set (identity, "coord_curve", keyfile_get (self->identity, "coord_curve"));
    keyfile_set (identity, "coord_sign", keyfile_get (self->identity, "coord_sign"));
    keys_wipe (&keys);
    rc = keyfile_save (identity, out, true);
    keyfile_destroy (&identity);
    if (rc) {
        s_fail ("cannot write %s: %s", out, strerror (errno));
        json_decref (result);
        return CTL_REFUSED;
    }
    if (self->json) {
        char *text = json_dumps (result, JSON_INDENT (2) | JSON_SORT_KEYS);
        printf ("%s\n", text);
        free (text);
    }
    else
        printf ("operator %s (role %s%s%s, serial %lld) written to %s\n", name, role,
                tenant && *tenant? ", tenant ": "", tenant && *tenant? tenant: "",
                (long long) s_int (result, "serial"), out);
    json_decref (result);
    return CTL_OK;
}


//  --------------------------------------------------------------------------
//  KEY=VALUE edits into args: metadata (only with metadata; KEY= clears
//  it), tag.KEY=VALUE, untag=KEY (into args.tags). Returns 0 or -1
//  after printing why.

static int
s_parse_edits (json_t *args, int count, char **words, bool metadata)
{
    static const char *fields [] = {
        "type", "hw", "fw", "sw", "location", "path", "asset", NULL
    };
    for (int i = 0; i < count; i++) {
        const char *word = words [i];
        const char *equals = strchr (word, '=');
        if (!equals || equals == word) {
            s_fail ("'%s' is not KEY=VALUE", word);
            return -1;
        }
        char key [80];
        size_t len = (size_t) (equals - word);
        if (len >= sizeof (key)) {
            s_fail ("key too long in '%s'", word);
            return -1;
        }
        memcpy (key, word, len);
        key [len] = 0;
        const char *value = equals + 1;
        json_t *tags = json_object_get (args, "tags");
        if (strncmp (key, "tag.", 4) == 0 || streq (key, "untag")) {
            if (!tags) {
                tags = json_object ();
                json_object_set_new (args, "tags", tags);
            }
            if (streq (key, "untag"))
                json_object_set_new (tags, value, json_null ());
            else
                json_object_set_new (tags, key + 4, json_string (value));
            continue;
        }
        bool known = false;
        for (int f = 0; fields [f] && metadata; f++)
            if (streq (key, fields [f]))
                known = true;
        if (!known) {
            if (metadata)
                s_fail ("unknown key %s (use type hw fw sw location path asset, "
                        "tag.KEY or untag)", key);
            else
                s_fail ("unknown edit %s (use tag.KEY=VALUE or untag=KEY)", key);
            return -1;
        }
        json_object_set_new (args, key, *value? json_string (value): json_null ());
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Check the command line and build the request. Returns 0 with
//  *method_p and *args_p set, or an exit code after printing why.

static int
s_parse_request (ctl_t *self, int argc, char **argv, const char **method_p, json_t **args_p)
{
    const char *noun = argc > 0? argv [0]: NULL;
    const char *verb = argc > 1? argv [1]: NULL;
    *args_p = NULL;
    if (!noun) {
        s_fail ("no command given (try weftctl --help)");
        return CTL_USAGE;
    }
    if (streq (noun, "stats") && argc == 1) {
        *method_p = "coord.stats";
        *args_p = json_object ();
        return CTL_OK;
    }
    if (streq (noun, "token") && verb && streq (verb, "create") && argc == 2) {
        const char *ttl_text = keyfile_get (self->options, "ttl");
        int64_t ttl = s_parse_ttl (ttl_text? ttl_text: "1h");
        if (ttl < 0) {
            s_fail ("bad --ttl '%s': use seconds or a number with s, m, h or d, up to 30d",
                    ttl_text);
            return CTL_USAGE;
        }
        json_t *args = json_pack ("{s:I}", "ttl", (json_int_t) ttl);
        const char *tenant = keyfile_get (self->options, "tenant");
        const char *type = keyfile_get (self->options, "type");
        const char *path = keyfile_get (self->options, "path");
        if (tenant)
            json_object_set_new (args, "tenant", json_string (tenant));
        if (path)
            json_object_set_new (args, "path", json_string (path));
        if (type)
            json_object_set_new (args, "type", json_string (type));
        *method_p = "token.create";
        *args_p = args;
        return CTL_OK;
    }
    if (streq (noun, "device") && verb && streq (verb, "show") && argc == 3) {
        *method_p = "device.show";
        *args_p = json_pack ("{s:s}", "id", argv [2]);
        return CTL_OK;
    }
    if (streq (noun, "device") && verb && streq (verb, "preregister") && argc >= 3) {
        const char *file = keyfile_get (self->options, "ek-pub");
        zfile_t *ek = file? zfile_new (NULL, file): NULL;
        zchunk_t *chunk = ek && zfile_input (ek) == 0? zfile_read (ek, 4096, 0): NULL;
        zfile_destroy (&ek);
        if (!chunk || zchunk_size (chunk) == 0) {
            s_fail ("device preregister needs --ek-pub FILE (a TPM2B_PUBLIC)%s%s",
                    file? ": cannot read ": "", file? file: "");
            zchunk_destroy (&chunk);
            return CTL_USAGE;
        }
        char *hex = (char *) zmalloc (2 * zchunk_size (chunk) + 1);
        keys_hex (zchunk_data (chunk), zchunk_size (chunk), hex);
        zchunk_destroy (&chunk);
        json_t *args = json_pack ("{s:s, s:s}", "id", argv [2], "ek_public", hex);
        free (hex);
        const char *options [] = { "tenant", "path", "type", NULL };
        for (int i = 0; options [i]; i++)
            if (keyfile_get (self->options, options [i]))
                json_object_set_new (args, options [i],
                                     json_string (keyfile_get (self->options, options [i])));
        if (s_parse_edits (args, argc - 3, argv + 3, false)) {
            json_decref (args);
            return CTL_USAGE;
        }
        *method_p = "device.preregister";
        *args_p = args;
        return CTL_OK;
    }
    if (streq (noun, "attest") && verb && streq (verb, "profile") && argc == 5
    &&  streq (argv [2], "set")) {
        json_error_t error;
        json_t *profile = json_load_file (argv [4], JSON_REJECT_DUPLICATES, &error);
        if (!json_is_object (profile)) {
            s_fail ("%s: not a JSON object (%s)", argv [4], error.text);
            json_decref (profile);
            return CTL_USAGE;
        }
        *method_p = "attest.profile.set";
        *args_p = json_pack ("{s:s, s:o}", "type", argv [3], "profile", profile);
        return CTL_OK;
    }
    if (streq (noun, "attest") && verb && streq (verb, "allowlist") && argc == 4
    &&  streq (argv [2], "set")) {
        zfile_t *file = zfile_new (NULL, argv [3]);
        zchunk_t *chunk = file && zfile_input (file) == 0?
                          zfile_read (file, WEFT_STR_MAX / 8 * 7 + 1, 0): NULL;
        zfile_destroy (&file);
        if (!chunk || zchunk_size (chunk) > WEFT_STR_MAX / 8 * 7) {
            s_fail ("%s: cannot read it, or larger than %d bytes", argv [3], WEFT_STR_MAX / 8 * 7);
            zchunk_destroy (&chunk);
            return CTL_USAGE;
        }
        *method_p = "attest.allowlist.set";
        *args_p = json_pack ("{s:s%}", "allowlist", (const char *) zchunk_data (chunk),
                             zchunk_size (chunk));
        zchunk_destroy (&chunk);
        if (!*args_p) {
            s_fail ("%s: not text", argv [3]);
            return CTL_USAGE;
        }
        return CTL_OK;
    }
    if (streq (noun, "attest") && verb && streq (verb, "status") && argc == 2) {
        *method_p = "attest.status";
        *args_p = json_object ();
        return CTL_OK;
    }
    if (streq (noun, "attest") && verb && (streq (verb, "show") || streq (verb, "clear"))
    &&  argc == 3) {
        *method_p = streq (verb, "show")? "attest.show": "attest.clear";
        *args_p = json_pack ("{s:s}", "id", argv [2]);
        return CTL_OK;
    }
    if (streq (noun, "device") && verb && streq (verb, "revoke") && argc == 3) {
        *method_p = "device.revoke";
        *args_p = json_pack ("{s:s}", "id", argv [2]);
        return CTL_OK;
    }
    if (streq (noun, "twin") && verb && streq (verb, "get") && argc == 3) {
        *method_p = "twin.get";
        *args_p = json_pack ("{s:s}", "id", argv [2]);
        return CTL_OK;
    }
    if (streq (noun, "twin") && verb && streq (verb, "set") && argc == 4) {
        json_error_t error;
        json_t *patch = json_loads (argv [3], JSON_REJECT_DUPLICATES, &error);
        if (!patch) {
            s_fail ("bad JSON at line %d column %d: %s", error.line, error.column, error.text);
            return CTL_USAGE;
        }
        if (!json_is_object (patch)) {
            json_decref (patch);
            s_fail ("the patch must be a JSON object, e.g. '{\"sampling_ms\": 500}'");
            return CTL_USAGE;
        }
        *method_p = "twin.set";
        *args_p = json_pack ("{s:s, s:o}", "id", argv [2], "patch", patch);
        return CTL_OK;
    }
    if (streq (noun, "operator") && verb && streq (verb, "add") && argc == 3) {
        const char *role = keyfile_get (self->options, "role");
        const char *out = keyfile_get (self->options, "out");
        if (!role || !out) {
            s_fail ("operator add needs --role ROLE and --out FILE");
            return CTL_USAGE;
        }
        *method_p = "operator.add";
        return CTL_OK;              //  s_operator_add builds the request
    }
    const char *query = keyfile_get (self->options, "query");
    if ((streq (noun, "device") && verb && (streq (verb, "list") || streq (verb, "count"))
         && argc == 2)
    ||  (streq (noun, "audit") && verb && streq (verb, "list") && argc == 2)) {
        json_t *args = json_object ();
        if (query)
            json_object_set_new (args, "query", json_string (query));
        const char *limit = keyfile_get (self->options, "limit");
        if (limit) {
            char *end;
            long value = strtol (limit, &end, 10);
            if (*end || end == limit || value < 1 || value > 100000) {
                s_fail ("bad --limit '%s': use a positive number", limit);
                json_decref (args);
                return CTL_USAGE;
            }
            json_object_set_new (args, "limit", json_integer (value));
        }
        *method_p = streq (noun, "audit")? "audit.list"
                  : streq (verb, "list")? "device.list": "device.count";
        *args_p = args;
        return CTL_OK;
    }
    if (streq (noun, "device") && verb && streq (verb, "set") && argc >= 4) {
        json_t *args = json_pack ("{s:s}", "id", argv [2]);
        if (s_parse_edits (args, argc - 3, argv + 3, true)) {
            json_decref (args);
            return CTL_USAGE;
        }
        *method_p = "device.set";
        *args_p = args;
        return CTL_OK;
    }
    if (streq (noun, "batch") && verb && argc >= 3) {
        if (!query) {
            s_fail ("batch %s needs --query (e.g. --query 'site=plant-2 and type=gateway')",
                    verb);
            return CTL_USAGE;
        }
        json_t *args = json_pack ("{s:s, s:b}", "query", query,
                                  "dry_run", options_flag (self->options, "dry-run"));
        if (streq (verb, "twin") && argc == 3) {
            json_error_t error;
            json_t *patch = json_loads (argv [2], JSON_REJECT_DUPLICATES, &error);
            if (!json_is_object (patch)) {
                s_fail ("the patch must be a JSON object, e.g. '{\"sampling_ms\": 500}'");
                json_decref (patch);
                json_decref (args);
                return CTL_USAGE;
            }
            json_object_set_new (args, "patch", patch);
            *method_p = "batch.twin";
        }
        else
        if (streq (verb, "tag")) {
            json_t *edits = json_object ();
            if (s_parse_edits (edits, argc - 2, argv + 2, false)) {
                json_decref (edits);
                json_decref (args);
                return CTL_USAGE;
            }
            json_object_set (args, "tags", json_object_get (edits, "tags"));
            json_decref (edits);
            *method_p = "batch.tag";
        }
        else
        if (streq (verb, "move") && argc == 3) {
            json_object_set_new (args, "path", json_string (argv [2]));
            const char *asset = keyfile_get (self->options, "asset");
            if (asset)
                json_object_set_new (args, "asset", json_string (asset));
            *method_p = "batch.move";
        }
        else {
            json_decref (args);
            s_fail ("unknown command or wrong arguments: batch %s (try weftctl --help)", verb);
            return CTL_USAGE;
        }
        *args_p = args;
        return CTL_OK;
    }
    if (streq (noun, "hierarchy") && verb && streq (verb, "import") && argc == 3) {
        struct stat st;
        if (stat (argv [2], &st) == 0 && st.st_size > CTL_FILE_MAX) {
            s_fail ("%s is larger than %d bytes: import it one site at a time",
                    argv [2], CTL_FILE_MAX);
            return CTL_USAGE;
        }
        json_error_t error;
        json_t *doc = json_load_file (argv [2], JSON_REJECT_DUPLICATES, &error);
        if (!doc) {
            s_fail ("%s: bad JSON at line %d column %d: %s", argv [2], error.line,
                    error.column, error.text);
            return CTL_USAGE;
        }
        *method_p = "hierarchy.import";
        *args_p = json_pack ("{s:o}", "doc", doc);
        return CTL_OK;
    }
    if (streq (noun, "hierarchy") && verb && streq (verb, "export") && argc == 2) {
        *method_p = "hierarchy.export";
        *args_p = json_object ();
        return CTL_OK;
    }
    if (streq (noun, "audit") && verb && streq (verb, "verify") && argc == 2) {
        *method_p = "audit.verify";
        *args_p = json_object ();
        const char *anchor = keyfile_get (self->options, "anchor");
        if (anchor) {
            json_error_t error;
            json_t *head = json_load_file (anchor, JSON_REJECT_DUPLICATES, &error);
            if (!json_is_object (head)) {
                s_fail ("cannot read the anchor %s: %s", anchor,
                        head? "not a JSON object": error.text);
                json_decref (head);
                json_decref (*args_p);
                *args_p = NULL;
                return CTL_USAGE;
            }
            json_object_set_new (*args_p, "anchor", head);
        }
        return CTL_OK;
    }
    if (streq (noun, "audit") && verb && streq (verb, "head") && argc == 2) {
        *method_p = "audit.head";
        *args_p = json_object ();
        return CTL_OK;
    }
    if (streq (noun, "operator") && verb && streq (verb, "credential") && argc == 2) {
        const char *ttl_text = keyfile_get (self->options, "ttl");
        int64_t ttl = s_parse_ttl (ttl_text? ttl_text: "7d");
        if (ttl < 0) {
            s_fail ("bad --ttl '%s': use seconds or a number with s, m, h or d, up to 30d",
                    ttl_text);
            return CTL_USAGE;
        }
        *method_p = "operator.credential";
        *args_p = json_pack ("{s:I}", "ttl", (json_int_t) ttl);
        return CTL_OK;
    }
    if (streq (noun, "operator") && verb && streq (verb, "revoke") && argc == 3) {
        *method_p = "operator.revoke";
        *args_p = json_pack ("{s:s}", "name", argv [2]);
        return CTL_OK;
    }
    if (streq (noun, "node") && verb && streq (verb, "stats") && argc == 2) {
        *method_p = "node.stats";
        *args_p = json_object ();
        return CTL_OK;
    }
    if (streq (noun, "operator") && verb && streq (verb, "grant") && argc == 5) {
        *method_p = "operator.grant";
        *args_p = json_pack ("{s:s, s:s, s:s, s:b}", "name", argv [2], "role", argv [3],
                             "path", streq (argv [4], "*")? "": argv [4],
                             "remove", options_flag (self->options, "remove"));
        return CTL_OK;
    }
    s_fail ("unknown command or wrong arguments: %s%s%s (try weftctl --help)",
            noun, verb? " ": "", verb? verb: "");
    return CTL_USAGE;
}


//  --------------------------------------------------------------------------
//  Parse the command, then refuse command options given to a command
//  that would silently ignore them (a --tenant on device list would
//  suggest a filter that is not applied).

static int
s_parse_command (ctl_t *self, int argc, char **argv, const char **method_p, json_t **args_p)
{
    int rc = s_parse_request (self, argc, argv, method_p, args_p);
    if (rc)
        return rc;
    const char *method = *method_p;
    const char *owners [][2] = {
        { "tenant", "token.create operator.add device.preregister" },
        { "ttl", "token.create operator.credential" },
        { "type", "token.create device.preregister" },
        { "role", "operator.add" },
        { "out", "operator.add" },
        { "path", "operator.add device.preregister token.create" },
        { "node", "node.stats" },
        { "node-key", "node.stats" },
        { "ek-pub", "device.preregister" },
        { "query", "device.list device.count batch.twin batch.tag batch.move audit.list" },
        { "limit", "device.list audit.list" },
        { "dry-run", "batch.twin batch.tag batch.move" },
        { "asset", "batch.move" },
        { "remove", "operator.grant" },
        { "anchor", "audit.verify" }
    };
    for (size_t i = 0; i < sizeof (owners) / sizeof (owners [0]); i++) {
        if (keyfile_get (self->options, owners [i][0]) && !strstr (owners [i][1], method)) {
            s_fail ("--%s does not apply to %s%s%s", owners [i][0], argv [0],
                    argc > 1? " ": "", argc > 1? argv [1]: "");
            json_decref (*args_p);
            *args_p = NULL;
            return CTL_USAGE;
        }
    }
    return CTL_OK;
}


int
main (int argc, char *argv [])
{
    ctl_t ctl;
    memset (&ctl, 0, sizeof (ctl));
    int argi = 0, exit_code = 0;
    ctl.options = options_parse (s_synopsis, s_specs, argc, argv, &argi, &exit_code);
    if (!ctl.options)
        return exit_code;
    if (sodium_init () < 0) {
        s_fail ("libsodium failed to initialise");
        keyfile_destroy (&ctl.options);
        return CTL_REFUSED;
    }
    //  weftctl is a foreground tool: errors go to stderr, no log noise
    zsys_init ();
    zsys_set_logstream (stderr);
    ctl.json = options_flag (ctl.options, "json");
    ctl.verbose = options_flag (ctl.options, "verbose");
    ctl.timeout_s = (int) options_int (ctl.options, "timeout", 5);
    if (ctl.timeout_s < 1 || ctl.timeout_s > 3600) {
        s_fail ("bad --timeout: use 1 to 3600 seconds");
        keyfile_destroy (&ctl.options);
        return CTL_USAGE;
    }
    const char *method = NULL;
    json_t *args = NULL;
    int rc = s_parse_command (&ctl, argc - argi, argv + argi, &method, &args);
    if (rc == CTL_OK)
        rc = s_load_identity (&ctl);
    if (rc == CTL_OK && strncmp (method, "node.", 5) == 0)
        rc = ctl_node_mode (&ctl);
    if (rc == CTL_OK && streq (method, "operator.add")) {
        rc = s_operator_add (&ctl, argv [argi + 2], keyfile_get (ctl.options, "role"),
                             keyfile_get (ctl.options, "tenant"),
                             keyfile_get (ctl.options, "out"));
    }
    else
    if (rc == CTL_OK) {
        json_t *result = NULL;
        rc = streq (method, "hierarchy.import")? ctl_import (&ctl, args, &result)
                                                : ctl_call (&ctl, method, args, &result);
        args = NULL;
        if (rc == CTL_OK && streq (method, "operator.credential"))
            rc = ctl_credential_save (&ctl, result);
        else
        if (rc == CTL_OK && ctl.json) {
            char *text = json_dumps (result, JSON_INDENT (2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            printf ("%s\n", text);
            free (text);
            if (streq (method, "audit.verify")
            &&  !json_is_true (json_object_get (result, "intact")))
                rc = CTL_REFUSED;
        }
        else
        if (rc == CTL_OK) {
            if (streq (method, "device.list"))
                s_show_device_list (result);
            else
            if (streq (method, "device.show"))
                s_show_device (result);
            else
            if (streq (method, "attest.status")) {
                printf ("%lld verdicts: %lld passed, %lld failed\n",
                        (long long) s_int (result, "verdicts"), (long long) s_int (result, "passed"),
                        (long long) s_int (result, "failed"));
                size_t index;
                json_t *failing;
                json_array_foreach (json_object_get (result, "failing"), index, failing)
                    printf ("FAILED %s: %s\n", s_str (failing, "device"), s_str (failing, "reason"));
            }
            else
            if (streq (method, "attest.show")) {
                json_t *verdict = json_object_get (result, "verdict");
                char when [32];
                s_format_time (s_int (verdict, "time"), when, sizeof (when));
                printf ("id:               %s\n", s_str (result, "id"));
                printf ("assurance:        %s\n", s_str (result, "assurance"));
                if (!json_is_object (verdict))
                    printf ("verdict:          none yet\n");
                else {
                    bool ok = json_is_true (json_object_get (verdict, "ok"));
                    printf ("verdict:          %s\n", ok? "passed": "FAILED");
                    printf ("reason:           %s\n", s_str (verdict, "reason"));
                    printf ("checked:          %s\n", when);
                    if (*s_str (verdict, "via"))
                        printf ("verified by:      %s (site server, while cut off; checked "
                                "again here%s)\n", s_str (verdict, "via"),
                                json_is_true (json_object_get (verdict, "disagrees"))
                                ? ": DISAGREES with the site": "");
                    if (!ok)
                        printf ("quarantined:      yes (no twin traffic until it passes "
                                "or 'weftctl attest clear')\n");
                    json_t *ima = json_object_get (verdict, "ima");
                    if (!ok && s_int (verdict, "pcr") >= 0)
                        printf ("first mismatch:   PCR %lld, %s #%lld\n",
                                (long long) s_int (verdict, "pcr"), ima? "IMA entry": "event",
                                (long long) s_int (verdict, "event"));
                    if (ima)
                        printf ("IMA:              %lld entries sent from #%lld, "
                                "%lld verified in all\n", (long long) s_int (ima, "sent"),
                                (long long) s_int (ima, "from"),
                                (long long) s_int (ima, "verified"));
                    printf ("events in log:    %lld\n", (long long) s_int (verdict, "events"));
                    const char *key;
                    json_t *value;
                    json_object_foreach (json_object_get (verdict, "pcrs"), key, value)
                        printf ("PCR %-2s            %s\n", key, json_string_value (value));
                }
                if (!json_is_object (verdict) || !json_is_true (json_object_get (verdict, "ok")))
                    rc = CTL_REFUSED;
            }
            else
            if (streq (method, "attest.profile.set") || streq (method, "attest.clear"))
                printf ("%s done\n", method);
            else
            if (streq (method, "attest.allowlist.set"))
                printf ("IMA allowlist set: %d digests\n",
                        (int) json_integer_value (json_object_get (result, "digests")));
            else
            if (streq (method, "device.preregister"))
                printf ("device %s pre-registered (EK %.16s...), tenant %s, path %s\n",
                        s_str (result, "id"), s_str (result, "ek"),
                        *s_str (result, "tenant")? s_str (result, "tenant"): "-",
                        *s_str (result, "path")? s_str (result, "path"): "-");
            else
            if (streq (method, "operator.revoke"))
                printf ("operator %s revoked (revocation list version %lld)\n",
                        s_str (result, "name"), (long long) s_int (result, "revocations_version"));
            else
            if (streq (method, "node.stats") || streq (method, "audit.head")) {
                char *text = json_dumps (result, JSON_INDENT (2) | JSON_SORT_KEYS);
                printf ("%s\n", text);
                free (text);
            }
            else
            if (streq (method, "device.revoke"))
                printf ("device %s revoked (revocation list version %lld)\n",
                        s_str (result, "id"), (long long) s_int (result, "revocations_version"));
            else
            if (streq (method, "twin.get"))
                s_show_twin (result);
            else
            if (streq (method, "twin.set"))
                s_show_twin_set (result);
            else
            if (streq (method, "token.create"))
                s_show_token (result);
            else
            if (streq (method, "device.set"))
                s_show_device (result);
            else
            if (streq (method, "device.count"))
                printf ("%lld\n", (long long) s_int (result, "count"));
            else
            if (strncmp (method, "batch.", 6) == 0)
                s_show_batch (result);
            else
            if (streq (method, "hierarchy.import"))
                s_show_import (result);
            else
            if (streq (method, "hierarchy.export")) {
                char *text = json_dumps (result, JSON_INDENT (2) | JSON_SORT_KEYS);
                printf ("%s\n", text);
                free (text);
            }
            else
            if (streq (method, "audit.list"))
                s_show_audit (result);
            else
            if (streq (method, "audit.verify")) {
                if (json_is_true (json_object_get (result, "intact")))
                    printf ("audit log intact: %lld records, head %s, signed by the CA%s\n",
                            (long long) s_int (result, "records"), s_str (result, "head"),
                            json_is_true (json_object_get (result, "anchored"))
                            ? ", anchor found": "");
                else {
                    s_fail ("audit log broken: %s", s_str (result, "error"));
                    rc = CTL_REFUSED;
                }
            }
            else
            if (streq (method, "operator.grant")) {
                size_t index;
                json_t *grant;
                printf ("%s:", s_str (result, "name"));
                json_array_foreach (json_object_get (result, "grants"), index, grant)
                    printf (" %s@%s", s_str (grant, "role"),
                            *s_str (grant, "path")? s_str (grant, "path"): "*");
                printf ("\n");
            }
            else
                s_show_stats (result);
        }
        json_decref (result);
    }
    json_decref (args);
    keys_wipe (&ctl.keys);
    free (ctl.credential);
    keyfile_destroy (&ctl.identity);
    keyfile_destroy (&ctl.options);
    return rc;
}
