/*  weft-node - the Weft agent
    Options, the identity (enrolled first if need be: node/io/startup),
    the LMDB store, the TPM's attestor actor, the apply handler, the
    ZeroMQ links (node/io/links) and the operator port, around the node
    core (node/core/node.h), which holds every protocol decision. One
    thread pumps events: a poll burst is read and fed to the core, the
    core settles (one commit for the burst, then the ACKs), and its
    actions are carried out (close a link, quote, apply). The poll
    timeout is the nearest deadline. SIGTERM and SIGINT set CZMQ's
    interrupt flag and the loop stops cleanly.  */

#include <czmq.h>
#include <sodium.h>
#include "node/core/node.h"
#include "node/core/oplog.h"
#include "node/io/apply.h"
#include "node/io/attestor.h"
#include "node/io/import.h"
#include "node/io/bundlein.h"
#include "node/io/install.h"
#include "node/io/links.h"
#include "node/io/opserver.h"
#include "node/io/sigcheck.h"
#include "node/io/startup.h"
#include "proto/store.h"
#include "proto/cert.h"

//  The offset of the system's local time from UTC at now_ms (seconds
//  east, DST included): maintenance windows are the device's local time
static int32_t
s_utc_offset (uint64_t now_ms)
{
    time_t now = (time_t) (now_ms / 1000);
    struct tm local;
    return localtime_r (&now, &local)? (int32_t) local.tm_gmtoff: 0;
}

//  What the operator port serves: the node and the bundles brought on site
typedef struct {
    node_t *node;
    bundlein_t *bundles;
} ops_t;

//  What the operator port answers (node/core/oplocal.h)
static int
s_ops_call (void *ctx, const char *method, const char *args, size_t args_size,
            char **result_p, char reason [WEFT_TEXT_MAX + 1])
{
    ops_t *ops = (ops_t *) ctx;
    if (streq (method, "node.stats")) {
        *result_p = mesh_stats_json (node_mesh (ops->node));
        return WEFT_STATUS_OK;
    }
    return bundlein_call (ops->bundles, method, args, args_size, (uint64_t) zclock_time (),
                          result_p, reason);
}

//  The TPM's answer (the attestor actor's reply) goes back to the core
static void
s_attestor_reply (node_t *node, zactor_t *attestor, uint64_t now)
{
    zmsg_t *reply = zmsg_recv (attestor);
    char *status = reply? zmsg_popstr (reply): NULL;
    zframe_t *body = reply? zmsg_pop (reply): NULL;
    if (status && streq (status, "EVIDENCE") && body)
        node_quote_done (node, zframe_data (body), zframe_size (body), now);
    else {
        char *reason = body? zframe_strdup (body): NULL;
        node_quote_failed (node, reason, now);
        free (reason);
    }
    zframe_destroy (&body);
    zstr_free (&status);
    zmsg_destroy (&reply);
}

//  What the event pump serves
typedef struct {
    node_t *node;
    links_t *links;
    zactor_t *attestor;                 //  The TPM (--tpm), or NULL
    apply_t *apply;
    opserver_t *ops;                    //  Operator port, or NULL
    install_t *install;                 //  Software updates' handlers
    store_t *store;
    bool reboot;                        //  Restart to run the new version
} pump_t;

//  Carry out what the core asks
static void
s_act (pump_t *pump)
{
    node_t *node = pump->node;
    links_t *links = pump->links;
    zactor_t *attestor = pump->attestor;
    apply_t *apply = pump->apply;
    const node_action_t *action;
    while ((action = node_next (node))) {
        if (action->kind == NODE_ACT_CLOSE)
            links_close (links, action->link);
        else
        if (action->kind == NODE_ACT_QUOTE && attestor) {
            uint8_t mask [4] = { (uint8_t) (action->pcr_mask >> 24),
                                 (uint8_t) (action->pcr_mask >> 16),
                                 (uint8_t) (action->pcr_mask >> 8),
                                 (uint8_t) action->pcr_mask };
            uint8_t from [8];
            for (int i = 0; i < 8; i++)
                from [i] = (uint8_t) (action->ima_from >> (56 - 8 * i));
            if (action->ima)
                zsock_send (attestor, "sbbbb", "CHALLENGE", action->nonce, action->nonce_size,
                            mask, sizeof mask, from, sizeof from, action->ima_pcr10,
                            sizeof action->ima_pcr10);
            else
                zsock_send (attestor, "sbb", "CHALLENGE", action->nonce, action->nonce_size,
                            mask, sizeof mask);
        }
        else
        if (action->kind == NODE_ACT_INSTALL && pump->install && !pump->reboot)
            pump->reboot = install_action (pump->install, node, pump->store, action,
                                           (uint64_t) zclock_time ());
        else
        if (action->kind == NODE_ACT_APPLY
        &&  apply_request (apply, action->version, action->doc, action->doc_size) != 0)
            zsys_error ("node: cannot hand desired version %" PRIu64 " to the apply handler",
                        action->version);
        //  TIMER: the loop polls with node_deadline instead
    }
}

//  One readable socket (or none: the poll timed out)
static void
s_handle (pump_t *pump, void *which, uint64_t now)
{
    node_t *node = pump->node;
    if (which && pump->ops && which == opserver_sock (pump->ops)) {
        size_t revoked_count;
        const uint8_t *revoked = mesh_revoked_operators (node_mesh (node), &revoked_count);
        opserver_handle (pump->ops, now, revoked, revoked_count);
    }
    else
    if (which && pump->attestor && which == (void *) pump->attestor)
        s_attestor_reply (node, pump->attestor, now);
    else
    if (which && which == apply_sock (pump->apply)) {
        apply_result_t result;
        if (apply_result (pump->apply, &result) == 0) {
            node_applied (node, result.version, result.ok, result.reported,
                          result.reported_size, result.error, now);
            apply_result_clear (&result);
        }
    }
    else
    if (!pump->install || !install_handle (pump->install, node, which, now))
        links_handle (pump->links, which, now);
}

int
main (int argc, char *argv [])
{
    if (sodium_init () < 0) {
        fprintf (stderr, "weft-node: libsodium failed to initialise\n");
        return 1;
    }
    int exit_code = 0;
    keyfile_t *options = startup_options_parse (argc, argv, &exit_code);
    if (!options)
        return exit_code;
    zsys_init ();
    bool to_syslog = options_flag (options, "syslog");
    options_log_setup ("weft-node", to_syslog);
    bool verbose = options_flag (options, "verbose");
    startup_signals ();
    identity_t *identity = startup_identity (options, to_syslog, &exit_code);
    if (!identity) {
        keyfile_destroy (&options);
        return exit_code;
    }
    uint64_t heartbeat_ms = (uint64_t) options_int (options, "heartbeat", 5) * 1000;
    char *db_path = zsys_sprintf ("%s/db", keyfile_get (options, "data-dir"));
    const char *tables [] = { AGENT_TABLE, MESH_TABLE, OUTBOX_TABLE, OPLOG_TABLE, UPDATE_TABLE,
                              CHUNKSTORE_TABLE, FETCH_TABLE, NULL };
    store_t *store = store_new (db_path, tables, 0);
    free (db_path);
    zactor_t *attestor = NULL;
    const char *tcti = keyfile_get (options, "tpm");
    if (tcti && *tcti) {
        //  From here on the attestor owns the TPM (one client at a time)
        zchunk_t *ak = identity_ak_blob (identity);
        attestor_config_t config = { tcti, keyfile_get (options, "event-log"),
                                     keyfile_get (options, "ima-log"), ak };
        attestor = ak? zactor_new (attestor_actor, &config): NULL;
        zchunk_destroy (&ak);
        if (!attestor)
            zsys_warning ("node: no AK in %s: boot attestation is off", identity_path (identity));
    }
    apply_t *apply = apply_new (keyfile_get (options, "apply-file"),
                                keyfile_get (options, "apply-command"),
                                (int) options_int (options, "apply-timeout", 60) * 1000, verbose);
    //  Software updates: the release root pinned at enrolment, the handlers
    size_t root_size = 0;
    uint8_t *release_root = install_release_root (keyfile_get (options, "data-dir"),
                                                  &root_size);
    install_t *install = install_from_options (options, verbose);
    zpoller_t *poller = zpoller_new (NULL);
    const char *threads = keyfile_get (options, "verify-threads");
    const char *coordinator = options_flag (options, "no-coordinator")
                            ? NULL: keyfile_get (options, "coordinator");
    //  Our certificate and the CA key, for HELLO
    uint8_t ca_key [32];
    size_t cert_size = 0;
    uint8_t *cert = startup_certificate (identity, &cert_size, ca_key);
    char error [256] = "";
    links_config_t links_config = {
        .keys = identity_keys (identity), .coord_endpoint = coordinator,
        .coord_curve = identity_coord_curve (identity),
        .neighbours = keyfile_get (options, "neighbour"), .listen = keyfile_get (options, "listen"),
        .beacon = keyfile_get (options, "beacon"),
        .beacon_port = (uint16_t) options_int (options, "beacon-port", 7729),
        .ca_key = ca_key, .heartbeat_ms = heartbeat_ms,
        .verify_threads = threads && *threads? (size_t) options_int (options, "verify-threads", 0)
                                             : sigcheck_default_threads (),
        .fault_file = keyfile_get (options, "fault-file"), .verbose = verbose
    };
    links_t *links = links_new (&links_config, poller, error, sizeof error);
    bool bad_option = links == NULL;
    if (bad_option)
        fprintf (stderr, "weft-node: %s\n", error);
    node_t *node = NULL;
    if (store && apply && links && cert && install) {
        const char *require = keyfile_get (options, "require-attestation");
        node_config_t config = {
            .name = identity_name (identity), .tenant = identity_tenant (identity),
            .keys = identity_keys (identity), .cert = cert, .cert_size = cert_size,
            .ca_key = ca_key, .coord_sign = identity_coord_sign (identity),
            .heartbeat_ms = heartbeat_ms, .store = store, .prefix = "",
            .admit_unattested = require && streq (require, "off"),
            .quotes = attestor != NULL, .verbose = verbose,
            .chunk_budget = (uint64_t) options_int (options, "chunk-budget", 1024) << 20,
            .chunk_rate = (uint64_t) options_int (options, "chunk-rate", 0) << 10,
            .release_root = release_root, .release_root_size = root_size,
            .utc_offset_s = s_utc_offset ((uint64_t) zclock_time ())
        };
        node_links_t binding = links_binding (links);
        node = node_new (&config, &binding, (uint64_t) zclock_time ());
    }
    free (cert);
    const char *ops_listen = keyfile_get (options, "ops-listen");
    bool ops_on = ops_listen && *ops_listen;
    opserver_t *ops = NULL;
    ops_t ops_ctx = { node, NULL };
    if (node && links_start (links, node, ops_on) != 0) {
        links_destroy (&links);         //  Before the node its threads feed
        node_destroy (&node);
    }
    if (node && ops_on) {
        //  Operators are authorised for the place our certificate names
        oplocal_config_t ops_config = {
            .name = identity_name (identity), .tenant = identity_tenant (identity),
            .path = node_path (node), .keys = identity_keys (identity), .ca_key = ca_key,
            .store = store
        };
        ops_ctx.bundles = bundlein_new (node, store, keyfile_get (options, "data-dir"),
                                        identity_name (identity),
                                        identity_coord_sign (identity), 0);
        ops = opserver_new (ops_listen, &ops_config, s_ops_call, &ops_ctx);
        if (ops) {
            zpoller_add (poller, opserver_sock (ops));
            zsys_info ("node: operator port on %s (place %s)", ops_listen,
                       *node_path (node)? node_path (node): identity_tenant (identity));
        }
        else {
            links_destroy (&links);
            node_destroy (&node);
        }
    }
    const char *import = keyfile_get (options, "import");
    if (node && import && *import) {
        char *why = NULL;
        if (import_bundle (node, store, import, identity_name (identity),
                           identity_coord_sign (identity), (uint64_t) zclock_time (), &why)) {
            fprintf (stderr, "weft-node: %s\n", why);
            zsys_error ("node: %s", why);
            links_destroy (&links);
            node_destroy (&node);
            bad_option = false;
        }
        free (why);
    }
    if (node) {
        zpoller_add (poller, apply_sock (apply));
        install_set_poller (install, poller);
        if (attestor)
            zpoller_add (poller, attestor);
    }
    else {
        zsys_error ("node: cannot start (see above)");
        exit_code = bad_option? 2: 1;
    }
    pump_t pump = { node, links, attestor, apply, ops, install, store, false };
    uint64_t offset_read = 0;           //  When the UTC offset was read last
    if (node)
        s_act (&pump);
    while (node && !zsys_interrupted) {
        uint64_t now = (uint64_t) zclock_time ();
        uint64_t next = node_deadline (node);
        uint64_t link_next = links_deadline (links);
        if (link_next && (next == 0 || link_next < next))
            next = link_next;
        int64_t wait = next == 0? 1000: next <= now? 0: (int64_t) (next - now);
        if (ops_ctx.bundles && bundlein_busy (ops_ctx.bundles))
            wait = 0;                   //  An import goes on, a slice per turn
        //  Bounded, so a clock step is noticed
        void *which = zpoller_wait (poller, wait > 1000? 1000: (int) wait);
        now = (uint64_t) zclock_time ();
        node_clock (node, now);
        links_faults (links, now);
        s_handle (&pump, which, now);
        if (zpoller_terminated (poller))
            break;
        if (store_broken (store)) {
            //  Nothing acknowledged is lost: a restart reopens a sound store
            zsys_error ("node: the store refuses all writes after a disk failure; "
                        "exiting so that a restart recovers");
            exit_code = 1;
            break;
        }
        if (now / 1000 != offset_read / 1000) {
            offset_read = now;          //  Once a second is enough for a DST change
            node_set_utc_offset (node, s_utc_offset (now));
        }
        if (ops_ctx.bundles)
            bundlein_step (ops_ctx.bundles, now);
        node_tick (node, now);
        install_tick (install, node, now);
        s_act (&pump);
        links_tick (links, now);
        if (pump.reboot) {
            //  The slot chosen runs after a restart (a reboot on a
            //  device): the update module asks for its next step then
            zsys_info ("node: restarting to run the slot chosen");
            exit_code = STARTUP_EXIT_RESTART;
            break;
        }
    }
    if (node) {
        zsys_info ("node: stopping");
        mesh_flush (node_mesh (node), (uint64_t) zclock_time ());
    }
    zpoller_destroy (&poller);
    opserver_destroy (&ops);
    bundlein_destroy (&ops_ctx.bundles);
    links_destroy (&links);
    node_destroy (&node);
    apply_destroy (&apply);
    install_destroy (&install);
    free (release_root);
    zactor_destroy (&attestor);
    store_destroy (&store);
    identity_destroy (&identity);
    keyfile_destroy (&options);
    return exit_code;
}
