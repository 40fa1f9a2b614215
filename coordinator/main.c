/*  weft-coord - the Weft coordinator daemon
    Loads or, on first start, creates everything it needs in the data
    directory: ca.key (root key), coord.key (own keys and certificate),
    admin.op (the first operator's identity for weftctl) and the LMDB
    database in db/. A restart reuses all of it. Then serves enrolment,
    the mesh and operator RPC until SIGINT or SIGTERM.  */

#include <czmq.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include "proto/cert.h"
#include "proto/keys.h"
#include "proto/opcred.h"
#include "proto/io/keyfile.h"
#include "proto/io/options.h"
#include "proto/store.h"
#include "proto/io/fsperm.h"
#include "coordinator/core/pki.h"
#include "coordinator/core/enrolment.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/rpc.h"
#include "coordinator/io/server.h"
#include "proto/io/workpool.h"

#define COORD_ADMIN     "admin"

static const option_spec_t s_options [] = {
    { "data-dir", "DIR", ".weft/coord", "keys, database and admin.op live here" },
    { "bind", "ADDR", "127.0.0.1", "address to listen on" },
    { "mesh-port", "PORT", "7710", "port for nodes" },
    { "enrol-port", "PORT", "7711", "port for enrolment" },
    { "rpc-port", "PORT", "7712", "port for operators (weftctl)" },
    { "heartbeat", "SECONDS", "5",
      "heartbeat interval of the fleet: link timers, and online = heard within 3" },
    { "verify-threads", "N", NULL,
      "threads besides the event loop that check the mesh's envelope signatures\n"
      "(default: one less than the CPUs, at most 3; 0 = none)" },
    { "ek-ca", "FILE", NULL,
      "PEM bundle of TPM vendors' EK CAs: accept TPMs whose EK certificate chains to it" },
    { "list-methods", NULL, NULL,
      "print the RPC method table (method, roles that may call it, read or write,\n"
      "arguments) and exit" },
    { "list-roles", NULL, NULL,
      "print the role map (docs/security.md) as the code applies it, and exit" },
    { "syslog", NULL, NULL, "log to syslog instead of stderr" },
    { "verbose", NULL, NULL, "log every message (-v)" },
    { NULL, NULL, NULL, NULL }
};

//  Everything main holds, so one exit path frees it all
typedef struct {
    char *dir;                      //  Data directory
    keys_t ca;                      //  Root keys
    keys_t keys;                    //  Coordinator keys
    uint8_t *cert;                  //  Coordinator certificate
    size_t cert_size;
    store_t *store;
} s_state_t;

static char *
s_path (const char *dir, const char *name)
{
    char *path = zsys_sprintf ("%s/%s", dir, name);
    assert (path);
    return path;
}

//  --------------------------------------------------------------------------
//  ca.key: load, or make on first start. Returns 0 or -1 (printed).

static int
s_load_ca (s_state_t *state)
{
    char *path = s_path (state->dir, "ca.key");
    int rc = -1;
    keyfile_t *file = NULL;
    if (access (path, F_OK) != 0) {
        keys_generate (&state->ca);
        file = keyfile_new ();
        keyfile_set (file, "kind", "weft-ca");
        keyfile_set_bin (file, "sign_public", state->ca.sign_public, WEFT_KEY_SIZE);
        keyfile_set_bin (file, "sign_secret", state->ca.sign_secret, WEFT_SECRET_SIZE);
        if (keyfile_save (file, path, true))
            zsys_error ("coord: cannot write %s: %s", path, strerror (errno));
        else {
            zsys_info ("coord: created root key %s", path);
            rc = 0;
        }
    }
    else {
        const char *error = NULL;
        file = keyfile_load (path, true, &error);
        uint8_t derived [WEFT_KEY_SIZE];
        if (!file)
            zsys_error ("coord: refusing to start: %s: %s", path, error);
        else
        if (keyfile_get_bin (file, "sign_public", state->ca.sign_public, WEFT_KEY_SIZE)
        ||  keyfile_get_bin (file, "sign_secret", state->ca.sign_secret, WEFT_SECRET_SIZE)
        ||  crypto_sign_ed25519_sk_to_pk (derived, state->ca.sign_secret)
        ||  memcmp (derived, state->ca.sign_public, WEFT_KEY_SIZE) != 0)
            zsys_error ("coord: refusing to start: %s does not hold a valid root key", path);
        else
            rc = 0;
    }
    keyfile_destroy (&file);
    free (path);
    return rc;
}

//  Does an encoded certificate verify and carry our keys?
static bool
s_cert_matches (s_state_t *state, const uint8_t *data, size_t size)
{
    cert_t cert;
    return data
        && cert_decode (&cert, data, size, state->ca.sign_public, 0) == 0
        && cert.kind == CERT_KIND_COORDINATOR
        && memcmp (cert.sign_key, state->keys.sign_public, WEFT_KEY_SIZE) == 0
        && memcmp (cert.curve_key, state->keys.curve_public, WEFT_KEY_SIZE) == 0;
}

//  --------------------------------------------------------------------------
//  coord.key: own keys and certificate, made on first start.

static int
s_load_coord (s_state_t *state, uint64_t now_s)
{
    char *path = s_path (state->dir, "coord.key");
    int rc = -1;
    keyfile_t *file = NULL;
    if (access (path, F_OK) == 0) {
        const char *error = NULL;
        file = keyfile_load (path, true, &error);
        if (!file) {
            zsys_error ("coord: refusing to start: %s: %s", path, error);
            goto done;
        }
        if (keyfile_get_bin (file, "sign_public", state->keys.sign_public, WEFT_KEY_SIZE)
        ||  keyfile_get_bin (file, "sign_secret", state->keys.sign_secret, WEFT_SECRET_SIZE)
        ||  keyfile_get_bin (file, "curve_public", state->keys.curve_public, WEFT_KEY_SIZE)
        ||  keyfile_get_bin (file, "curve_secret", state->keys.curve_secret, WEFT_KEY_SIZE)) {
            zsys_error ("coord: refusing to start: %s lacks keys", path);
            goto done;
        }
        state->cert = keyfile_get_blob (file, "cert", &state->cert_size);
        if (s_cert_matches (state, state->cert, state->cert_size)) {
            rc = 0;
            goto done;
        }
        //  Keys kept, certificate re-issued (e.g. a new ca.key)
        zsys_warning ("coord: %s has no valid certificate; issuing one", path);
        free (state->cert);
        state->cert = NULL;
    }
    else {
        file = keyfile_new ();
        keys_generate (&state->keys);
        keyfile_set (file, "kind", "weft-coordinator");
        keyfile_set_bin (file, "sign_public", state->keys.sign_public, WEFT_KEY_SIZE);
        keyfile_set_bin (file, "sign_secret", state->keys.sign_secret, WEFT_SECRET_SIZE);
        keyfile_set_bin (file, "curve_public", state->keys.curve_public, WEFT_KEY_SIZE);
        keyfile_set_bin (file, "curve_secret", state->keys.curve_secret, WEFT_KEY_SIZE);
    }
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.kind = CERT_KIND_COORDINATOR;
    strcpy (cert.subject, "coordinator");
    strcpy (cert.role, "coordinator");
    memcpy (cert.sign_key, state->keys.sign_public, WEFT_KEY_SIZE);
    memcpy (cert.curve_key, state->keys.curve_public, WEFT_KEY_SIZE);
    pki_t *pki = pki_new (&state->ca);
    store_txn_t *txn = store_begin (state->store, true);
    int issued = txn? pki_issue (pki, txn, &cert, now_s, &state->cert, &state->cert_size): -1;
    if (issued == 0)
        issued = store_commit (&txn);
    store_abort (&txn);
    pki_destroy (&pki);
    if (issued) {
        zsys_error ("coord: cannot issue the coordinator certificate");
        goto done;
    }
    keyfile_set_bin (file, "cert", state->cert, state->cert_size);
    keyfile_set_bin (file, "ca_key", state->ca.sign_public, WEFT_KEY_SIZE);
    if (keyfile_save (file, path, true)) {
        zsys_error ("coord: cannot write %s: %s", path, strerror (errno));
        goto done;
    }
    zsys_info ("coord: created coordinator identity %s (serial %" PRIu64 ")", path,
               cert.serial);
    rc = 0;
done:
    keyfile_destroy (&file);
    free (path);
    return rc;
}

//  --------------------------------------------------------------------------
//  admin.op: the first operator, made on first start or when deleted
//  (which rotates the admin's keys). On a restart the
//  endpoint is brought up to date with --bind and --rpc-port, and an
//  admin missing from the database (e.g. after restoring ca.key and
//  admin.op onto an empty one) is registered again from the file.

static int
s_load_admin (s_state_t *state, const char *endpoint, uint64_t now_s)
{
    char *path = s_path (state->dir, "admin.op");
    int rc = -1;
    keyfile_t *file = NULL;
    keys_t admin;
    memset (&admin, 0, sizeof admin);
    bool exists = access (path, F_OK) == 0;
    bool changed = false;
    if (exists) {
        const char *error = NULL;
        file = keyfile_load (path, true, &error);
        if (!file) {
            zsys_error ("coord: refusing to start: %s: %s", path, error);
            goto done;
        }
        if (keyfile_get_bin (file, "sign_public", admin.sign_public, WEFT_KEY_SIZE)
        ||  keyfile_get_bin (file, "curve_public", admin.curve_public, WEFT_KEY_SIZE)) {
            zsys_error ("coord: refusing to start: %s lacks keys", path);
            goto done;
        }
    }
    else {
        keys_generate (&admin);
        file = keyfile_new ();
        keyfile_set (file, "name", COORD_ADMIN);
        keyfile_set (file, "role", "admin");
        keyfile_set (file, "tenant", "");
        keyfile_set_bin (file, "sign_public", admin.sign_public, WEFT_KEY_SIZE);
        keyfile_set_bin (file, "sign_secret", admin.sign_secret, WEFT_SECRET_SIZE);
        keyfile_set_bin (file, "curve_public", admin.curve_public, WEFT_KEY_SIZE);
        keyfile_set_bin (file, "curve_secret", admin.curve_secret, WEFT_KEY_SIZE);
        changed = true;
    }
    const char *name = keyfile_get (file, "name");
    if (!name)
        name = COORD_ADMIN;
    store_txn_t *txn = store_begin (state->store, true);
    if (!txn)
        goto done;
    json_t *record = registry_operator_get (txn, name);
    json_decref (record);
    //  A new admin.op (first start, or deleted to rotate the admin's
    //  keys) replaces the operator's keys; the old ones stop working
    if (!record || !exists) {
        uint8_t *cert;
        size_t cert_size;
        uint64_t serial;
        char error [WEFT_TEXT_MAX + 1];
        pki_t *pki = pki_new (&state->ca);
        int status = rpc_operator_create (pki, txn, name, "admin", "", admin.sign_public,
                                          admin.curve_public, true, now_s, &cert,
                                          &cert_size, &serial, error);
        pki_destroy (&pki);
        if (status == 0)
            status = store_commit (&txn);
        store_abort (&txn);
        if (status) {
            zsys_error ("coord: cannot register operator %s: %s", name, error);
            goto done;
        }
        keyfile_set_bin (file, "cert", cert, cert_size);
        free (cert);
        changed = true;
        if (exists)
            zsys_warning ("coord: operator %s was missing from the database; "
                          "registered again from %s", name, path);
    }
    else
        store_abort (&txn);
    const char *old_endpoint = keyfile_get (file, "endpoint");
    if (!old_endpoint || !streq (old_endpoint, endpoint)) {
        keyfile_set (file, "endpoint", endpoint);
        changed = true;
    }
    char hex [2 * WEFT_KEY_SIZE + 1];
    keys_hex (state->ca.sign_public, WEFT_KEY_SIZE, hex);
    const char *value = keyfile_get (file, "ca_key");
    changed |= !value || !streq (value, hex);
    keyfile_set (file, "ca_key", hex);
    keys_hex (state->keys.curve_public, WEFT_KEY_SIZE, hex);
    value = keyfile_get (file, "coord_curve");
    changed |= !value || !streq (value, hex);
    keyfile_set (file, "coord_curve", hex);
    keys_hex (state->keys.sign_public, WEFT_KEY_SIZE, hex);
    value = keyfile_get (file, "coord_sign");
    changed |= !value || !streq (value, hex);
    keyfile_set (file, "coord_sign", hex);
    if (changed) {
        if (keyfile_save (file, path, true)) {
            zsys_error ("coord: cannot write %s: %s", path, strerror (errno));
            goto done;
        }
        zsys_info ("coord: %s %s (operator %s, %s)", exists? "updated": "created",
                   path, name, endpoint);
    }
    rc = 0;
done:
    keys_wipe (&admin);
    keyfile_destroy (&file);
    free (path);
    return rc;
}

//  The EK CA bundle given with --ek-ca goes into the store, where the
//  core reads it; without the option, a bundle from an earlier start is
//  removed, so the command line always says what is trusted.
static int
s_load_ek_ca (s_state_t *state, const char *path)
{
    char *pem = NULL;
    size_t size = 0;
    if (path && *path) {
        zfile_t *file = zfile_new (NULL, path);
        zchunk_t *chunk = file && zfile_input (file) == 0? zfile_read (file, 1024 * 1024, 0): NULL;
        zfile_destroy (&file);
        if (!chunk || zchunk_size (chunk) == 0
        ||  !memmem (zchunk_data (chunk), zchunk_size (chunk), "-----BEGIN CERTIFICATE-----", 27)) {
            zsys_error ("coord: --ek-ca %s: not a PEM certificate bundle", path);
            zchunk_destroy (&chunk);
            return -1;
        }
        size = zchunk_size (chunk);
        pem = (char *) zmalloc (size + 1);
        memcpy (pem, zchunk_data (chunk), size);
        zchunk_destroy (&chunk);
    }
    store_txn_t *txn = store_begin (state->store, true);
    int rc = txn? enrolment_tpm_set_ca (txn, pem, size): -1;
    if (rc == 0)
        rc = store_commit (&txn);
    store_abort (&txn);
    free (pem);
    if (rc)
        zsys_error ("coord: cannot record the EK CA bundle");
    else
    if (size)
        zsys_info ("coord: accepting TPMs whose EK certificate chains to %s", path);
    return rc;
}

//  Port option as 1..65535, or -1.
static int
s_port (keyfile_t *options, const char *name)
{
    int64_t port = options_int (options, name, -1);
    if (port < 1 || port > 65535) {
        fprintf (stderr, "weft-coord: --%s must be a port number 1-65535\n", name);
        return -1;
    }
    return (int) port;
}

//  Every connection to the coordinator, finished or still in its
//  handshake, holds a descriptor, and a fleet reconnecting at once (or a
//  flood of half-open connections, closed after the handshake deadline)
//  needs thousands; distributions start services with a soft limit of
//  1,024. Past the limit libzmq can accept nobody, legitimate devices
//  included. The hard limit is the administrator's ceiling, so raising
//  the soft limit to it needs no privilege.
static void
s_raise_fd_limit (void)
{
    struct rlimit limit = { 0, 0 };
    //  An unlimited hard limit still stops at the kernel's nr_open
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_max == RLIM_INFINITY)
        limit.rlim_max = 1 << 20;
    if (limit.rlim_cur < limit.rlim_max) {
        rlim_t was = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit (RLIMIT_NOFILE, &limit))
            zsys_warning ("coord: cannot raise the descriptor limit from %lu",
                          (unsigned long) was);
        else
            zsys_info ("coord: descriptor limit raised from %lu to %lu", (unsigned long) was,
                       (unsigned long) limit.rlim_cur);
    }
}

//  --------------------------------------------------------------------------
//  --list-methods and --list-roles: the tables the code runs on, printed
//  from the tables themselves (tests and docs are checked against them)

//  The roles that hold perm, comma-joined into out
static void
s_roles_holding (int perm, char *out, size_t size)
{
    out [0] = 0;
    for (size_t i = 0; opcred_role_name (i); i++)
        if ((opcred_role_perms (opcred_role_name (i)) & perm) == perm)
            snprintf (out + strlen (out), size - strlen (out), "%s%s", *out? ",": "",
                      opcred_role_name (i));
}

static void
s_list_methods (void)
{
    const char *name;
    int perm;
    bool writes;
    const char *const *keys;
    for (size_t i = 0; rpc_method_at (i, &name, &perm, &writes, &keys); i++) {
        char roles [200];
        s_roles_holding (perm, roles, sizeof roles);
        printf ("%s\t%s\t%s\t", name, roles, writes? "write": "read");
        for (size_t k = 0; keys [k]; k++)
            printf ("%s%s", k? ",": "", keys [k]);
        printf ("\n");
    }
}

//  Markdown rows, exactly as docs/security.md writes the role map
static void
s_list_roles (void)
{
    printf ("| method |");
    for (size_t r = 0; opcred_role_name (r); r++)
        printf (" %s |", opcred_role_name (r));
    printf ("\n");
    const char *name;
    int perm;
    bool writes;
    const char *const *keys;
    for (size_t i = 0; rpc_method_at (i, &name, &perm, &writes, &keys); i++) {
        printf ("| `%s` |", name);
        for (size_t r = 0; opcred_role_name (r); r++)
            printf (" %s |", (opcred_role_perms (opcred_role_name (r)) & perm) == perm
                             ? "yes": "no");
        printf ("\n");
    }
    printf ("| grant's role |");
    for (size_t t = 0; opcred_role_name (t); t++)
        printf (" %s |", opcred_role_name (t));
    printf ("\n");
    const char *actions [] = { "give", "take away", "manage" };
    int flags [] = { OPCRED_GRANT, OPCRED_REMOVE, OPCRED_MANAGE };
    for (size_t r = 0; opcred_role_name (r); r++) {
        printf ("| %s |", opcred_role_name (r));
        for (size_t t = 0; opcred_role_name (t); t++) {
            char cell [64] = "";
            for (size_t a = 0; a < 3; a++)
                if (opcred_may_manage (opcred_role_name (r), flags [a], opcred_role_name (t)))
                    snprintf (cell + strlen (cell), sizeof cell - strlen (cell), "%s%s",
                              *cell? ", ": "", actions [a]);
            printf (" %s |", *cell? cell: "no");
        }
        printf ("\n");
    }
}

int
main (int argc, char *argv [])
{
    if (sodium_init () < 0) {
        fprintf (stderr, "weft-coord: libsodium failed to initialise\n");
        return 1;
    }
    int argi, code;
    keyfile_t *options = options_parse (
        "Usage: weft-coord [options]\n"
        "The Weft coordinator: CA, registry, enrolment, twins and operator RPC.",
        s_options, argc, argv, &argi, &code);
    if (!options)
        return code;
    if (argi < argc) {
        fprintf (stderr, "weft-coord: unexpected argument '%s'\nTry 'weft-coord --help'.\n",
                 argv [argi]);
        keyfile_destroy (&options);
        return 2;
    }
    if (options_flag (options, "list-methods") || options_flag (options, "list-roles")) {
        if (options_flag (options, "list-methods"))
            s_list_methods ();
        else
            s_list_roles ();
        keyfile_destroy (&options);
        return 0;
    }
    s_raise_fd_limit ();
    server_config_t config;
    config.bind = keyfile_get (options, "bind");
    config.mesh_port = s_port (options, "mesh-port");
    config.enrol_port = s_port (options, "enrol-port");
    config.rpc_port = s_port (options, "rpc-port");
    config.verbose = options_flag (options, "verbose");
    int64_t heartbeat = options_int (options, "heartbeat", -1);
    if (heartbeat < 1 || heartbeat > 3600)
        fprintf (stderr, "weft-coord: --heartbeat must be 1..3600 seconds\n");
    config.heartbeat_ms = heartbeat > 0? (uint64_t) heartbeat * 1000: 0;
    const char *threads = keyfile_get (options, "verify-threads");
    int64_t verifiers = threads && *threads? options_int (options, "verify-threads", -1)
                                           : (int64_t) workpool_default_threads ();
    if (verifiers < 0 || verifiers > WORKPOOL_THREADS_MAX)
        fprintf (stderr, "weft-coord: --verify-threads must be 0..%d\n", WORKPOOL_THREADS_MAX);
    config.verify_threads = (int) verifiers;
    if (config.mesh_port < 0 || config.enrol_port < 0 || config.rpc_port < 0
    ||  !config.bind || !*config.bind || heartbeat < 1 || heartbeat > 3600
    ||  verifiers < 0 || verifiers > WORKPOOL_THREADS_MAX) {
        keyfile_destroy (&options);
        return 2;
    }
    zsys_init ();                   //  Installs the SIGINT/SIGTERM handler
    options_log_setup ("weft-coord", options_flag (options, "syslog"));

    s_state_t state;
    memset (&state, 0, sizeof state);
    state.dir = strdup (keyfile_get (options, "data-dir"));
    int rc = 1;
    uint64_t now_s = (uint64_t) zclock_time () / 1000;
    //  Clients connect to a wildcard bind over loopback
    const char *host = config.bind;
    if (streq (host, "*") || streq (host, "0.0.0.0"))
        host = "127.0.0.1";
    char endpoint [300];
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%d", host, config.rpc_port);
    char *db = s_path (state.dir, "db");
    server_t *server = NULL;

    char dir_error [512];
    if (fsperm_dir (state.dir, dir_error, sizeof dir_error)) {
        zsys_error ("coord: refusing the data directory: %s", dir_error);
        goto done;
    }
    if (s_load_ca (&state))
        goto done;
    state.store = store_new (db, registry_tables (), 0);
    if (!state.store) {
        zsys_error ("coord: cannot open the database in %s", db);
        goto done;
    }
    if (s_load_coord (&state, now_s) || s_load_admin (&state, endpoint, now_s))
        goto done;
    if (s_load_ek_ca (&state, keyfile_get (options, "ek-ca")))
        goto done;
    server = server_new (&config, state.store, &state.ca, &state.keys, state.cert,
                         state.cert_size);
    if (!server)
        goto done;
    zsys_info ("coord: ready, data in %s", state.dir);
    rc = server_run (server)? 1: 0;
    zsys_info ("coord: stopping");
done:
    if (rc && options_flag (options, "syslog"))
        fprintf (stderr, "weft-coord: could not start; the reason is in syslog\n");
    server_destroy (&server);
    store_destroy (&state.store);
    keys_wipe (&state.ca);
    keys_wipe (&state.keys);
    free (state.cert);
    free (state.dir);
    free (db);
    keyfile_destroy (&options);
    return rc;
}
