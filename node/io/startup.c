/*  startup - weft-node's command line and the steps before its loop
    (see startup.h)  */

#include <czmq.h>
#include <signal.h>
#include <sodium.h>
#include <unistd.h>
#include "node/io/startup.h"
#include "node/io/attestor.h"
#include "node/io/secret.h"
#include "node/io/sigcheck.h"
#include "node/core/enrol.h"
#include "proto/io/filewrite.h"
#include "proto/msg.h"

#define NODE_ENROL_TIMEOUT_MS   10000
#define NODE_TOKEN_ENV          STARTUP_TOKEN_ENV
#define SIGCHECK_THREADS_TEXT   "8"     //  SIGCHECK_THREADS_MAX
_Static_assert (SIGCHECK_THREADS_MAX == 8, "the --verify-threads message");

const char *startup_synopsis =
    "usage: weft-node [options]\n"
    "The Weft agent: enrols once with a token, then keeps a CURVE link to the\n"
    "coordinator, heartbeats, and applies the desired twin it is sent.";

const option_spec_t startup_options [] = {
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
    { "pin-release-root", "FILE", NULL,
      "pin FILE (the tenant's signed release root, weft-artifact root + sign) as\n"
      "DATA-DIR/release-root, for a node enrolled before its tenant had one, and exit" },
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
    { "install-dir", "DIR", NULL,
      "where software updates install their artifacts (default DATA-DIR/install)" },
    { "chunk-budget", "MIB", "1024",
      "update chunks kept, in MiB of packed bytes: the least recently used\n"
      "chunks no wanted or installed release needs are evicted past it" },
    { "chunk-rate", "KIB", "0",
      "update chunks asked of one neighbour at most, in KiB/s (0: no limit)" },
    { "health-command", "CMD", NULL,
      "after an update: run /bin/sh -c CMD (the release as JSON on stdin); a\n"
      "failure rolls the update back" },
    { "health-timeout", "SECONDS", "60", "a health command running longer has failed" },
    { "script-timeout", "SECONDS", "300",
      "a release's script (handler script) running longer has failed" },
    { "health-checkin", "SECONDS", "0",
      "with no health command: after an update the node must check in with the\n"
      "coordinator within this, or the update rolls back (0: running is enough)" },
    { "import", "FILE", NULL,
      "take in a bundle (weft-artifact bundle) at start: checked whole, its chunks\n"
      "stored, its assignment for this device installed, the others offered" },
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

keyfile_t *
startup_options_parse (int argc, char *argv [], int *exit_p)
{
    int argi = 0;
    *exit_p = 0;
    keyfile_t *options = options_parse (startup_synopsis, startup_options, argc, argv,
                                        &argi, exit_p);
    if (!options)
        return NULL;
    if (argi < argc) {
        fprintf (stderr, "weft-node: unexpected argument '%s'\nTry 'weft-node --help'.\n",
                 argv [argi]);
        keyfile_destroy (&options);
        *exit_p = 2;
        return NULL;
    }
    int64_t heartbeat = options_int (options, "heartbeat", -1);
    int64_t apply_timeout = options_int (options, "apply-timeout", -1);
    int64_t health_timeout = options_int (options, "health-timeout", -1);
    int64_t budget = options_int (options, "chunk-budget", -1);
    int64_t checkin = options_int (options, "health-checkin", -1);
    int64_t script_timeout = options_int (options, "script-timeout", -1);
    if (heartbeat < 1 || heartbeat > 3600 || apply_timeout < 1 || apply_timeout > 86400
    ||  health_timeout < 1 || health_timeout > 86400 || budget < 1 || budget > 1048576
    ||  checkin < 0 || checkin > 86400 || script_timeout < 1 || script_timeout > 86400) {
        fprintf (stderr, "weft-node: --heartbeat must be 1..3600, --apply-timeout, "
                 "--health-timeout and --script-timeout 1..86400 seconds, --health-checkin "
                 "0..86400 seconds, --chunk-budget 1..1048576 MiB\n");
        keyfile_destroy (&options);
        *exit_p = 2;
        return NULL;
    }
    if (keyfile_get (options, "token")) {
        secret_forget_env (NODE_TOKEN_ENV);
        fprintf (stderr, "weft-node: --token is refused: any local user can read a command "
                 "line (/proc/PID/cmdline) and would see the token; give --token-file FILE "
                 "(mode 0600), --token-file - (standard input) or set " NODE_TOKEN_ENV "\n");
        keyfile_destroy (&options);
        *exit_p = 2;
        return NULL;
    }
    const char *apply_file = keyfile_get (options, "apply-file");
    const char *apply_command = keyfile_get (options, "apply-command");
    if (apply_file && *apply_file && apply_command && *apply_command) {
        fprintf (stderr, "weft-node: give --apply-file or --apply-command, not both\n");
        keyfile_destroy (&options);
        *exit_p = 2;
        return NULL;
    }
    const char *require = keyfile_get (options, "require-attestation");
    const char *threads = keyfile_get (options, "verify-threads");
    int64_t beacon_port = options_int (options, "beacon-port", -1);
    const char *error = NULL;
    if (require && !streq (require, "auto") && !streq (require, "off"))
        error = "--require-attestation wants auto or off";
    else
    if (threads && *threads && (options_int (options, "verify-threads", -1) < 0
                            ||  options_int (options, "verify-threads", -1) > SIGCHECK_THREADS_MAX))
        error = "--verify-threads must be 0.." SIGCHECK_THREADS_TEXT;
    else
    if (beacon_port < 1 || beacon_port > 65535)
        error = "--beacon-port must be 1..65535";
    else
    if (options_int (options, "chunk-rate", -1) < 0
    ||  options_int (options, "chunk-rate", -1) > (1 << 24))
        error = "--chunk-rate must be 0..16777216 KiB/s";
    if (error) {
        fprintf (stderr, "weft-node: %s\n", error);
        keyfile_destroy (&options);
        *exit_p = 2;
        return NULL;
    }
    return options;
}

//  Installed explicitly because a shell starts background jobs with
//  SIGINT ignored, and CZMQ leaves an ignored signal ignored.
static void
s_signal (int signal_value)
{
    (void) signal_value;
    zsys_interrupted = 1;
    zctx_interrupted = 1;
}

void
startup_signals (void)
{
    signal (SIGPIPE, SIG_IGN);
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
}

void
startup_fatal (bool to_syslog, const char *what, const char *error)
{
    if (to_syslog)
        zsys_error ("node: %s%s%s", what, *what? ": ": "", error);
    fprintf (stderr, "weft-node: %s%s%s\n", what, *what? ": ": "", error);
}

//  --pin-release-root FILE: check it against our tenant and pin it.
//  Returns the exit code.
static int
s_pin_release_root (identity_t *identity, const char *file, bool to_syslog)
{
    char *why = NULL;
    size_t size = 0;
    uint8_t *root = (uint8_t *) filewrite_read (file, MSG_RELEASE_ROOT_MAX, &size, &why);
    char error [512] = "";
    int rc = root? identity_pin_release_root (identity, root, size, error, sizeof error): -1;
    if (!root)
        snprintf (error, sizeof error, "%s", why);
    free (why);
    free (root);
    if (rc) {
        startup_fatal (to_syslog, "cannot pin the release root", error);
        return 1;
    }
    zsys_info ("node: release root %s pinned for tenant %s", file, identity_tenant (identity));
    return 0;
}

identity_t *
startup_identity (keyfile_t *options, bool to_syslog, int *exit_p)
{
    *exit_p = 0;
    zactor_t *tpm = NULL;                   //  Ours until the attestor opens it
    char token_text [WEFT_TOKEN_MAX + 1] = "";
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
        startup_fatal (to_syslog, "", error);
        *exit_p = 1;
        return NULL;
    }
    tpm_key_type_t ek_type;
    if (identity_ek_type_parse (keyfile_get (options, "ek-type"), &ek_type)) {
        startup_fatal (to_syslog, "bad option", "--ek-type wants auto, rsa or ecc");
        *exit_p = 2;
        goto failed;
    }
    const char *tcti = keyfile_get (options, "tpm");
    tpm = tcti && *tcti? zactor_new (tpm_actor, (void *) tcti): NULL;
    const char *write_ek = keyfile_get (options, "write-ek");
    if (write_ek && *write_ek) {
        int rc = tpm? identity_tpm_ek_write (tpm, ek_type, write_ek, NODE_ENROL_TIMEOUT_MS,
                                             error, sizeof error): -1;
        if (!tpm)
            snprintf (error, sizeof error, "--write-ek needs --tpm");
        if (rc)
            startup_fatal (to_syslog, "cannot write the EK", error);
        *exit_p = rc? 1: 0;
        goto failed;
    }
    const char *pin = keyfile_get (options, "pin-release-root");
    if (pin && *pin) {
        *exit_p = s_pin_release_root (identity, pin, to_syslog);
        goto failed;
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
            startup_fatal (to_syslog, "cannot measure",
                           attestor? (reason? reason: "want --measure PCR:TEXT")
                                   : "--measure needs --tpm");
        zstr_free (&status);
        zstr_free (&reason);
        zactor_destroy (&attestor);
        *exit_p = rc;
        goto failed;
    }
    //  The token is read once, only while we need it, and never kept
    const char *token = NULL;
    if (identity_enrolled (identity))
        secret_forget_env (NODE_TOKEN_ENV);
    else {
        int found = secret_read (keyfile_get (options, "token-file"), NODE_TOKEN_ENV,
                                 token_text, sizeof token_text, error, sizeof error);
        if (found < 0) {
            startup_fatal (to_syslog, "enrolment token", error);
            *exit_p = 2;
            goto failed;
        }
        token = found? token_text: NULL;
    }
    if (!identity_enrolled (identity) && tpm) {
        const char *endpoint = keyfile_get (options, "enrol-endpoint");
        const char *key_hex = keyfile_get (options, "coord-key");
        uint8_t server_key [32];
        enrol_token_t parsed;
        int rc = PROTO_ERR_VALUE;
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
            const char *what = rc == PROTO_ERR_REFUSED? "enrolment refused": "enrolment failed";
            startup_fatal (to_syslog, what, error);
            *exit_p = 1;
            goto failed;
        }
        zsys_info ("node: enrolled as %s (tenant %s) by TPM credential activation",
                   identity_name (identity),
                   *identity_tenant (identity)? identity_tenant (identity): "-");
    }
    if (!identity_enrolled (identity)) {
        const char *endpoint = keyfile_get (options, "enrol-endpoint");
        if (!token) {
            startup_fatal (to_syslog, "not enrolled yet",
                           "give the token from 'weftctl token create' with --token-file FILE, "
                           "--token-file - (standard input) or " NODE_TOKEN_ENV);
            *exit_p = 1;
            goto failed;
        }
        zsys_info ("node: enrolling as %s at %s", identity_name (identity), endpoint);
        int rc = identity_enrol (identity, endpoint, token, NODE_ENROL_TIMEOUT_MS,
                                 error, sizeof error);
        if (rc) {
            const char *what = rc == PROTO_ERR_REFUSED? "enrolment refused": "enrolment failed";
            startup_fatal (to_syslog, what, error);
            *exit_p = 1;
            goto failed;
        }
        zsys_info ("node: enrolled as %s (tenant %s)", identity_name (identity),
                   *identity_tenant (identity)? identity_tenant (identity): "-");
    }
    else
        zsys_info ("node: starting as %s (tenant %s), identity %s", identity_name (identity),
                   *identity_tenant (identity)? identity_tenant (identity): "-",
                   identity_path (identity));

    sodium_memzero (token_text, sizeof token_text);
    //  The attestor opens the TPM again (one client at a time)
    zactor_destroy (&tpm);
    return identity;
failed:
    sodium_memzero (token_text, sizeof token_text);
    zactor_destroy (&tpm);
    identity_destroy (&identity);
    return NULL;
}

uint8_t *
startup_certificate (identity_t *identity, size_t *size_p, uint8_t ca_key [32])
{
    const char *error = NULL;
    keyfile_t *file = keyfile_load (identity_path (identity), true, &error);
    *size_p = 0;
    uint8_t *cert = file? (uint8_t *) keyfile_get_blob (file, "cert", size_p): NULL;
    if (cert && keyfile_get_bin (file, "ca_key", ca_key, 32) != 0) {
        free (cert);
        cert = NULL;
    }
    if (!cert)
        zsys_error ("node: %s holds no certificate and CA key%s%s", identity_path (identity),
                    error? ": ": "", error? error: "");
    keyfile_destroy (&file);
    return cert;
}
