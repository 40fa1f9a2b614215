/*  weft-node - the Weft agent
    Wires the sans-IO agent core to the world: the identity file and
    enrolment (node/io/identity), the CURVE link to the coordinator
    (node/io/transport), the LMDB store (node/io/store) and the apply
    handler actor (node/io/apply). One thread runs the event loop; its
    poll timeout is the agent's next timer deadline, so an idle node
    sleeps. SIGTERM and SIGINT set CZMQ's interrupt flag (its handler
    only sets a flag) and the loop stops cleanly.  */

#include <czmq.h>
#include <signal.h>
#include <sodium.h>
#include <unistd.h>
#include "node/core/agent.h"
#include "node/io/apply.h"
#include "node/io/identity.h"
#include "node/io/options.h"
#include "node/io/store.h"
#include "node/io/transport.h"

#define NODE_ENROL_TIMEOUT_MS   10000

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
    { "token", "TOKEN", NULL, "enrolment token (only until enrolled)" },
    { "apply-file", "PATH", NULL, "write the desired twin JSON to PATH atomically" },
    { "apply-command", "CMD", NULL,
      "run /bin/sh -c CMD with the desired JSON on stdin" },
    { "apply-timeout", "SECONDS", "60", "kill an apply command after this long" },
    { "heartbeat", "SECONDS", "5", "heartbeat interval" },
    { "syslog", NULL, NULL, "log to syslog instead of stderr" },
    { "verbose", NULL, NULL, "log every message (-v)" },
    { NULL, NULL, NULL, NULL }
};

//  What the agent's effects are bound to
typedef struct {
    transport_t *transport;
    apply_t *apply;
    uint64_t timers [AGENT_TIMERS];     //  Unix ms deadlines, 0 = disarmed
} node_t;

static int
s_send (void *ctx, const uint8_t *frame, size_t size)
{
    node_t *node = (node_t *) ctx;
    return transport_send (node->transport, frame, size);
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
    if (!identity_enrolled (identity)) {
        const char *token = keyfile_get (options, "token");
        const char *endpoint = keyfile_get (options, "enrol-endpoint");
        if (!token || !*token) {
            s_fatal (to_syslog, "not enrolled yet",
                     "give --token (from 'weftctl token create')");
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

    char *db_path = zsys_sprintf ("%s/db", dir);
    const char *tables [] = { AGENT_TABLE, NULL };
    store_t *store = store_new (db_path, tables, 0);
    free (db_path);
    node_t node;
    memset (&node, 0, sizeof node);
    node.transport = transport_new (keyfile_get (options, "coordinator"),
                                    identity_keys (identity),
                                    identity_coord_curve (identity), verbose);
    node.apply = apply_new (apply_file, apply_command, (int) apply_timeout * 1000, verbose);
    agent_t *agent = NULL;
    if (store && node.transport && node.apply) {
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
        agent = agent_new (&config, &effects);
        if (agent && agent_start (agent, s_now ()) != 0)
            agent_destroy (&agent);
    }
    if (!agent) {
        zsys_error ("node: cannot start (see above)");
        apply_destroy (&node.apply);
        transport_destroy (&node.transport);
        store_destroy (&store);
        identity_destroy (&identity);
        keyfile_destroy (&options);
        return 1;
    }
    zsys_info ("node: linking to %s", keyfile_get (options, "coordinator"));

    zpoller_t *poller = zpoller_new (transport_sock (node.transport),
                                     transport_monitor (node.transport),
                                     apply_sock (node.apply), NULL);
    while (!zsys_interrupted) {
        uint64_t now = s_now ();
        uint64_t next = 0;
        for (int kind = 0; kind < AGENT_TIMERS; kind++)
            if (node.timers [kind] && (next == 0 || node.timers [kind] < next))
                next = node.timers [kind];
        int wait = next == 0? 1000: next <= now? 0: (int) (next - now);
        if (wait > 1000)
            wait = 1000;            //  Bounded, so a clock step is noticed
        void *which = zpoller_wait (poller, wait);
        now = s_now ();
        if (which == transport_sock (node.transport)) {
            zframe_t *frame;
            while ((frame = transport_recv (node.transport))) {
                agent_message (agent, now, zframe_data (frame), zframe_size (frame));
                zframe_destroy (&frame);
            }
        }
        else
        if (which == transport_monitor (node.transport)) {
            int event = transport_event (node.transport);
            if (event == TRANSPORT_CONNECTED)
                agent_connected (agent, now);
            else
            if (event == TRANSPORT_DISCONNECTED)
                agent_disconnected (agent, now);
        }
        else
        if (which == apply_sock (node.apply)) {
            apply_result_t result;
            if (apply_result (node.apply, &result) == 0) {
                agent_applied (agent, now, result.version, result.ok, result.reported,
                               result.reported_size, result.error);
                apply_result_clear (&result);
            }
        }
        else
        if (zpoller_terminated (poller))
            break;
        for (int kind = 0; kind < AGENT_TIMERS; kind++)
            if (node.timers [kind] && node.timers [kind] <= now) {
                node.timers [kind] = 0;
                agent_timer (agent, now, kind);
            }
    }
    zsys_info ("node: stopping");
    zpoller_destroy (&poller);
    agent_destroy (&agent);
    apply_destroy (&node.apply);
    transport_destroy (&node.transport);
    store_destroy (&store);
    identity_destroy (&identity);
    keyfile_destroy (&options);
    return 0;
}
