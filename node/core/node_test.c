/*  node_test - selftest of the node core: a site server and a gateway,
    each a whole node core over one real LMDB store, wired to each other
    in memory, with the coordinator's side spoken by the test (envelopes
    signed with the coordinator's key, as weft-coord sends them). Every
    action a core asks for is carried out here, as a driver would.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/cert.h"
#include "proto/envelope.h"
#include "proto/msg.h"
#include "proto/tpmmsg.h"
#include "proto/policymsg.h"
#include "proto/eventlog.h"
#include "proto/meshmsg.h"
#include "proto/release.h"
#include "proto/sitemsg.h"
#include "node/core/node.h"
#include "node/core/softquote.h"
#include "node/core/mesh_fabric.h"
#include "node/core/node_wire.h"
#include "node/core/sitecamp.h"
#include "proto/bundle.h"

#define T_EPOCH_MS  1767225600000ULL
#define T_NODES     2
#define T_COORD     NODE_WIRE_COORD

typedef struct _t_world_t t_world_t;

typedef struct {
    t_world_t *world;
    int index;
    node_t *node;
    keys_t keys;
    char name [16];
    //  What its actions asked
    size_t quotes, applies, closes;
    node_action_t quote;            //  The last QUOTE (no doc)
    uint64_t apply_version;
    char apply_doc [256];
    size_t offers;                  //  UPDATE_OFFERs delivered to it
    char offer_origin [WEFT_NAME_MAX + 1];
} t_node_t;

struct _t_world_t {
    t_node_t nodes [T_NODES];
    const char *names [T_NODES];    //  The nodes' names, for node_wire_index
    zlistx_t *wire;                 //  Of node_wire_msg_t
    zlistx_t *up;                   //  Custody frames that reached the coordinator
    store_t *store;
    keys_t ca, coord;
    softquote_t *ak;                //  The gateway's AK (a software one)
    char dir [64];
    char refusal [WEFT_TEXT_MAX + 1];   //  The last refused custody's reason
};

//  An envelope delivered to a node: offers counted
static void
s_delivered (void *ctx, const uint8_t *frame, size_t size)
{
    t_node_t *node = (t_node_t *) ctx;
    envelope_t env;
    if (envelope_decode (&env, frame, size) == 0 && env.type == MSG_UPDATE_OFFER) {
        node->offers++;
        snprintf (node->offer_origin, sizeof node->offer_origin, "%s", env.origin);
    }
}

//  A CUSTODY_ACK on the wire that refuses: its reason kept
static void
s_refusal (t_world_t *world, const node_wire_msg_t *msg)
{
    envelope_t env;
    meshmsg_t ack;
    if (envelope_decode (&env, msg->frame, msg->size) == 0 && env.type == MSG_CUSTODY_ACK
    &&  meshmsg_decode (&ack, MSG_CUSTODY_ACK, env.payload, env.payload_size) == 0
    &&  ack.status != WEFT_STATUS_OK)
        snprintf (world->refusal, sizeof world->refusal, "%s", ack.reason);
}

static int
s_send (void *ctx, const char *link, const char *dest, const uint8_t *frame, size_t size)
{
    t_node_t *node = (t_node_t *) ctx;
    int to = node_wire_index (node->world->names, T_NODES, link);
    if (to == NODE_WIRE_NONE)
        return -1;
    node_wire_add (node->world->wire, node->index, to, dest, frame, size);
    return 0;
}

static void
s_act (t_node_t *node)
{
    const node_action_t *action;
    while ((action = node_next (node->node))) {
        if (action->kind == NODE_ACT_QUOTE) {
            node->quotes++;
            node->quote = *action;
        }
        else
        if (action->kind == NODE_ACT_APPLY) {
            node->applies++;
            node->apply_version = action->version;
            assert (action->doc_size < sizeof node->apply_doc);
            memcpy (node->apply_doc, action->doc, action->doc_size);
            node->apply_doc [action->doc_size] = 0;
        }
        else
        if (action->kind == NODE_ACT_CLOSE)
            node->closes++;
    }
}

//  The coordinator's side of the wire: ACK custody transfers (an ACK
//  link-local envelope of the mesh's kind is not needed: the test keeps
//  them) and keep what came up
static void
s_run (t_world_t *world, uint64_t now)
{
    node_wire_msg_t *msg;
    while ((msg = (node_wire_msg_t *) zlistx_first (world->wire))) {
        zlistx_detach_cur (world->wire);
        s_refusal (world, msg);
        if (msg->to == T_COORD) {
            if (msg->has_dest)
                zlistx_add_end (world->up, msg);
            else
                node_wire_msg_destroy (&msg);
            continue;
        }
        t_node_t *node = &world->nodes [msg->to];
        const char *link = msg->from == T_COORD? MESH_COORDINATOR
                                               : world->nodes [msg->from].name;
        node_frame (node->node, link, msg->has_dest? msg->dest: NULL, msg->frame,
                    msg->size, now);
        s_act (node);
        node_wire_msg_destroy (&msg);
    }
}

//  A coordinator envelope of type around payload, down the server's
//  uplink toward dest
static void
s_down (t_world_t *world, const keys_t *signer, const char *dest, int type,
        const uint8_t *payload, size_t payload_size, uint64_t now)
{
    size_t size;
    uint8_t *frame = fabric_envelope_at (signer, MESH_COORDINATOR, type, 1, now, payload,
                                         payload_size, &size);
    node_wire_add (world->wire, T_COORD, 0, dest, frame, size);
    free (frame);
    s_run (world, now);
}

//  The first envelope of type that came up from origin, decoded; false
//  if none. env's payload lives as long as world->up's frames.
static bool
s_came_up (t_world_t *world, const char *origin, int type, envelope_t *env)
{
    for (node_wire_msg_t *msg = (node_wire_msg_t *) zlistx_first (world->up); msg;
         msg = (node_wire_msg_t *) zlistx_next (world->up))
        if (envelope_decode (env, msg->frame, msg->size) == 0
        &&  env->type == type && streq (env->origin, origin))
            return true;
    return false;
}

static void
s_start (t_world_t *world, int index, const char *role, uint64_t now, bool verbose)
{
    t_node_t *node = &world->nodes [index];
    uint8_t ak_name [CERT_AK_NAME_SIZE];
    bool tpm = world->ak && streq (role, "gateway");
    if (tpm)
        softquote_name (world->ak, ak_name);
    size_t cert_size;
    uint8_t *cert_bytes = fabric_cert (&world->ca, &node->keys, node->name, "acme", role,
                                       (uint64_t) index + 10, now, tpm? ak_name: NULL,
                                       &cert_size);
    char prefix [16];
    snprintf (prefix, sizeof prefix, "%d/", index);
    node_config_t config = {
        .name = node->name, .tenant = "acme", .keys = &node->keys, .cert = cert_bytes,
        .cert_size = cert_size, .ca_key = world->ca.sign_public,
        .coord_sign = world->coord.sign_public, .heartbeat_ms = 1000,
        .store = world->store, .prefix = prefix, .quotes = true, .verbose = verbose,
        //  The server holds chunks for its site (and runs site campaigns)
        .chunk_budget = streq (role, "server")? 16 * 1024 * 1024: 0
    };
    node_links_t links = { node, s_send, s_delivered };
    node->node = node_new (&config, &links, now);
    assert (node->node);
    free (cert_bytes);
    s_act (node);
}

//  A SITE_DIRECTIVE payload of campaign c-1 for gw-1 in wave 0, of tenant
static uint8_t *
s_site_directive (t_world_t *world, const char *tenant, uint64_t issued_ms, size_t *size_p)
{
    release_assignment_t assignment = { .device = "gw-1", .name = "gw-fw", .version = "2.0",
                                        .issued_ms = issued_ms,
                                        .expires_ms = issued_ms + 86400000ULL };
    snprintf (assignment.tenant, sizeof assignment.tenant, "%s", tenant);
    uint8_t *signed_assignment, *entries = NULL, *payload;
    size_t signed_size, entries_size = 0;
    assert (release_assign (&assignment, world->coord.sign_secret, &signed_assignment,
                            &signed_size) == 0);
    sitemsg_device_t device = { .wave = 0, .device = "gw-1", .assignment = signed_assignment,
                                .assignment_size = signed_size };
    assert (sitemsg_put_device (&entries, &entries_size, &device) == 0);
    sitemsg_t msg = { .type = MSG_SITE_DIRECTIVE, .campaign = "c-1", .generation = 1,
                      .site = "plant-1", .state = SITE_RUN, .name = "gw-fw",
                      .version = "2.0", .threshold = 1, .timeout_s = 600,
                      .common = (const uint8_t *) BUNDLE_MAGIC,
                      .common_size = BUNDLE_MAGIC_SIZE, .entries = entries,
                      .entries_size = entries_size };
    snprintf (msg.tenant, sizeof msg.tenant, "%s", tenant);
    assert (sitemsg_encode (&msg, &payload, size_p) == 0);
    free (entries);
    free (signed_assignment);
    return payload;
}

//  A campaign run at the site: the directive is taken by the server
//  only, its offer reaches the gateway with the server as origin, the
//  gateway's twin report the server relays moves it (downloading), its
//  UPDATE_STATUS to the server ends it (as while the site is cut off),
//  and the outcome goes up in a SITE_REPORT. Returns the time it ran to.
static uint64_t
s_site_campaign (t_world_t *world, uint64_t now, bool verbose)
{
    t_node_t *server = &world->nodes [0], *gateway = &world->nodes [1];
    uint64_t issued = now - 1000;
    size_t size;
    uint8_t *payload = s_site_directive (world, "acme", issued, &size);
    s_down (world, &world->coord, "gw-1", MSG_SITE_DIRECTIVE, payload, size, now);
    assert (streq (world->refusal, "this node runs no site campaigns"));
    free (payload);
    payload = s_site_directive (world, "globex", issued, &size);
    s_down (world, &world->coord, "srv-1", MSG_SITE_DIRECTIVE, payload, size, now);
    assert (streq (world->refusal, "a directive of tenant globex for a server of acme"));
    free (payload);
    payload = s_site_directive (world, "acme", issued, &size);
    s_down (world, &world->coord, "srv-1", MSG_SITE_DIRECTIVE, payload, size, now);
    free (payload);
    for (int round = 0; round < 3 && gateway->offers == 0; round++) {
        now += 10;
        node_tick (server->node, now);
        s_act (server);
        s_run (world, now);
    }
    assert (gateway->offers == 1 && streq (gateway->offer_origin, "srv-1"));
    //  The gateway's twin report, relayed by the server to the coordinator
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_TWIN_REPORTED;
    strcpy (msg.twin_reported.device, "gw-1");
    msg.twin_reported.version = 100;
    char doc [200];
    snprintf (doc, sizeof doc, "{\"software\":{\"name\":\"gw-fw\",\"version\":\"2.0\","
              "\"state\":\"downloading\",\"assigned_ms\":%" PRIu64 "}}", issued);
    msg.twin_reported.doc = doc;
    msg.twin_reported.doc_size = strlen (doc);
    strcpy (msg.twin_reported.status, "ok");
    assert (msg_encode (&msg, &payload, &size) == 0);
    size_t frame_size;
    uint8_t *frame = fabric_envelope_at (&gateway->keys, "gw-1", MSG_TWIN_REPORTED, 1000000,
                                         now, payload, size, &frame_size);
    node_wire_add (world->wire, 1, 0, MESH_COORDINATOR, frame, frame_size);
    free (frame);
    free (payload);
    s_run (world, now);
    //  Committed: said to the server itself, by custody
    snprintf (doc, sizeof doc, "{\"name\":\"gw-fw\",\"version\":\"2.0\",\"state\":"
              "\"committed\",\"assigned_ms\":%" PRIu64 "}", issued);
    updmsg_t status = { .type = MSG_UPDATE_STATUS, .status = doc, .status_size = strlen (doc) };
    assert (updmsg_encode (&status, &payload, &size) == 0);
    frame = fabric_envelope_at (&gateway->keys, "gw-1", MSG_UPDATE_STATUS, 1000001, now,
                                payload, size, &frame_size);
    node_wire_add (world->wire, 1, 0, "srv-1", frame, frame_size);
    free (frame);
    free (payload);
    s_run (world, now);
    now += SITECAMP_REPORT_MS;
    node_tick (server->node, now);
    s_act (server);
    s_run (world, now);
    //  The last report up says finished, with gw-1 succeeded
    bool succeeded = false;
    int state = 0;
    for (node_wire_msg_t *up = (node_wire_msg_t *) zlistx_first (world->up); up;
         up = (node_wire_msg_t *) zlistx_next (world->up)) {
        envelope_t env;
        sitemsg_t report;
        if (envelope_decode (&env, up->frame, up->size) || env.type != MSG_SITE_REPORT
        ||  !streq (env.origin, "srv-1")
        ||  sitemsg_decode (&report, MSG_SITE_REPORT, env.payload, env.payload_size))
            continue;
        state = (int) report.state;
        const uint8_t *at = report.entries;
        size_t left = report.entries_size;
        sitemsg_outcome_t outcome;
        while (sitemsg_next_outcome (&at, &left, &outcome) == 1)
            if (streq (outcome.device, "gw-1") && outcome.state == SITE_DEV_SUCCEEDED)
                succeeded = true;
    }
    assert (succeeded && state == SITE_FINISHED);
    if (verbose)
        printf ("   site campaign: directive taken by the server, offer to the gateway, "
                "its relayed report and its status counted, the outcome reported up\n");
    return now;
}

void
node_test (bool verbose)
{
    printf (" * node: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    t_world_t world;
    memset (&world, 0, sizeof world);
    snprintf (world.dir, sizeof world.dir, "/tmp/weft-node-core.XXXXXX");
    assert (mkdtemp (world.dir));
    const char *tables [] = { AGENT_TABLE, MESH_TABLE, OUTBOX_TABLE, UPDATE_TABLE,
                              CHUNKSTORE_TABLE, FETCH_TABLE, NULL };
    world.store = store_new (world.dir, tables, 0);
    assert (world.store);
    keys_generate (&world.ca);
    keys_generate (&world.coord);
    world.wire = zlistx_new ();
    world.up = zlistx_new ();
    const char *names [] = { "srv-1", "gw-1" };
    for (int i = 0; i < T_NODES; i++) {
        t_node_t *node = &world.nodes [i];
        node->world = &world;
        node->index = i;
        snprintf (node->name, sizeof node->name, "%s", names [i]);
        world.names [i] = node->name;
        keys_generate (&node->keys);
    }
    world.ak = softquote_new ();
    assert (world.ak);
    uint64_t now = T_EPOCH_MS;
    //  An incomplete configuration is refused
    node_config_t empty = { .name = "x" };
    node_links_t links = { NULL, s_send, NULL };
    assert (node_new (&empty, &links, now) == NULL);

    t_node_t *server = &world.nodes [0], *gateway = &world.nodes [1];
    s_start (&world, 0, "server", now, verbose);
    s_start (&world, 1, "gateway", now, verbose);
    assert (streq (node_role (server->node), "server"));
    //  Actions queue up in order while a driver does not drain them (the
    //  queue grows past its first room), each heartbeat re-armed
    for (int i = 0; i < 3 * NODE_ACTIONS_MIN; i++)
        node_timer (gateway->node, AGENT_TIMER_HEARTBEAT, now);
    size_t armed = 0;
    const node_action_t *action;
    while ((action = node_next (gateway->node)))
        if (action->kind == NODE_ACT_TIMER && action->timer == AGENT_TIMER_HEARTBEAT)
            armed++;
    assert (armed >= 3 * NODE_ACTIONS_MIN);
    assert (node_deadline (gateway->node) > 0);     //  Its heartbeat at least
    //  The server's uplink, then the gateway dials the server
    node_link_up (server->node, MESH_COORDINATOR, MESH_LINK_COORDINATOR,
                  world.coord.curve_public, now);
    s_act (server);
    assert (node_admit (server->node, gateway->keys.curve_public));
    node_link_up (server->node, "gw-1", MESH_LINK_ACCEPTED, gateway->keys.curve_public, now);
    node_link_up (gateway->node, "srv-1", MESH_LINK_DIALLED, server->keys.curve_public, now);
    s_run (&world, now);
    now += 1000;
    for (int round = 0; round < 3; round++) {
        node_tick (server->node, now);
        node_tick (gateway->node, now);
        s_run (&world, now);
    }
    assert (mesh_distance (node_mesh (gateway->node)) == 2);
    envelope_t env;
    assert (s_came_up (&world, "gw-1", MSG_HEARTBEAT, &env));
    if (verbose)
        printf ("   linked: the gateway's heartbeat reached the coordinator through the server\n");

    //  Twin: a desired document down to the gateway becomes an APPLY;
    //  its result goes up as the reported twin
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_TWIN_DESIRED;
    strcpy (msg.twin_desired.device, "gw-1");
    msg.twin_desired.version = 7;
    msg.twin_desired.doc = "{\"fan\":2}";
    msg.twin_desired.doc_size = strlen (msg.twin_desired.doc);
    uint8_t *payload;
    size_t payload_size;
    assert (msg_encode (&msg, &payload, &payload_size) == 0);
    s_down (&world, &world.coord, "gw-1", MSG_TWIN_DESIRED, payload, payload_size, now);
    free (payload);
    assert (gateway->applies == 1 && gateway->apply_version == 7);
    assert (streq (gateway->apply_doc, "{\"fan\":2}"));
    assert (server->applies == 0);
    node_applied (gateway->node, 7, true, NULL, 0, NULL, now);
    s_act (gateway);
    s_run (&world, now);
    assert (agent_applied_version (node_agent (gateway->node)) == 7);
    assert (s_came_up (&world, "gw-1", MSG_TWIN_REPORTED, &env));
    if (verbose)
        printf ("   twin: desired applied, reported up\n");

    //  Attestation: the coordinator's challenge becomes a QUOTE with its
    //  nonce and PCRs; the evidence goes up in the gateway's name
    tpmmsg_t challenge;
    memset (&challenge, 0, sizeof challenge);
    challenge.type = MSG_ATTEST_CHALLENGE;
    uint8_t nonce [32];
    randombytes_buf (nonce, sizeof nonce);
    challenge.nonce = nonce;
    challenge.nonce_size = sizeof nonce;
    challenge.pcr_mask = 0x00000381;
    assert (tpmmsg_encode (&challenge, &payload, &payload_size) == 0);
    s_down (&world, &world.coord, "gw-1", MSG_ATTEST_CHALLENGE, payload, payload_size, now);
    assert (gateway->quotes == 1);
    assert (gateway->quote.nonce_size == sizeof nonce);
    assert (memcmp (gateway->quote.nonce, nonce, sizeof nonce) == 0);
    assert (gateway->quote.pcr_mask == 0x00000381 && !gateway->quote.ima);
    const uint8_t evidence [] = "quote bytes as the TPM made them";
    node_quote_done (gateway->node, evidence, sizeof evidence, now);
    s_act (gateway);
    s_run (&world, now);
    assert (node_evidence_sent (gateway->node) == 1);
    assert (s_came_up (&world, "gw-1", MSG_ATTEST_EVIDENCE, &env));
    assert (env.payload_size == sizeof evidence);
    assert (memcmp (env.payload, evidence, sizeof evidence) == 0);
    //  A challenge not signed by the coordinator asks no quote
    s_down (&world, &server->keys, "gw-1", MSG_ATTEST_CHALLENGE, payload, payload_size, now);
    assert (gateway->quotes == 1);
    free (payload);
    node_quote_failed (gateway->node, "TPM gone", now);
    assert (node_quotes_failed (gateway->node) == 1);
    if (verbose)
        printf ("   attestation: challenge, quote, evidence up; a forged challenge refused\n");

    now = s_site_campaign (&world, now, verbose);

    //  Delegation: the site server is cut off from the coordinator and
    //  holds the CA-signed profile of acme's gateways: it challenges the
    //  gateway itself, the gateway's (software) AK quotes, the server
    //  verifies the quote and the event log against the profile, issues
    //  the gateway its passport, and holds the verdict for the coordinator
    zchunk_t *event_log = NULL;
    uint8_t pcr8 [32];
    eventlog_append (&event_log, 8, "weft boot", 9, NULL);
    uint8_t pcrs [EVENTLOG_PCRS][32];
    char error [128];
    assert (eventlog_replay (zchunk_data (event_log), zchunk_size (event_log), pcrs, NULL, 0,
                             NULL, error, sizeof error) == 1);
    memcpy (pcr8, pcrs [8], 32);
    char hex [65], doc [160];
    keys_hex (pcr8, 32, hex);
    snprintf (doc, sizeof doc, "{\"pcrs\":{\"8\":\"%s\"},\"interval_s\":60}", hex);
    policy_object_t profile = { POLICY_KIND_PROFILE, "acme/gateway", 1,
                                (const uint8_t *) doc, strlen (doc) };
    uint8_t *object;
    size_t object_size;
    assert (policymsg_encode (&profile, world.ca.sign_secret, &object, &object_size) == 0);
    assert (policy_store_offer (mesh_policies (node_mesh (server->node)), object, object_size,
                                NULL, NULL) == POLICY_STORED);
    free (object);
    node_link_down (server->node, MESH_COORDINATOR, now);
    s_act (server);
    assert (mesh_distance (node_mesh (server->node)) == 0);
    now += DELEGATE_CHECK_MS;
    size_t quotes = gateway->quotes;
    node_tick (server->node, now);
    s_act (server);
    s_run (&world, now);
    assert (gateway->quotes == quotes + 1);
    assert (gateway->quote.pcr_mask == 1u << 8);
    uint8_t *answer;
    size_t answer_size;
    assert (softquote_evidence (world.ak, &gateway->quote, zchunk_data (event_log),
                                zchunk_size (event_log), &answer, &answer_size) == 0);
    node_quote_done (gateway->node, answer, answer_size, now);
    free (answer);
    s_act (gateway);
    s_run (&world, now);
    assert (mesh_passport_ms (node_mesh (gateway->node)) == now);
    assert (mesh_admitted (node_mesh (server->node), "gw-1", now));
    assert (!mesh_quarantined (node_mesh (server->node), "gw-1"));
    //  The verdict, with the evidence, goes up when the uplink is back
    size_t up = zlistx_size (world.up);
    node_link_up (server->node, MESH_COORDINATOR, MESH_LINK_COORDINATOR,
                  world.coord.curve_public, now);
    s_act (server);
    s_run (&world, now);
    assert (zlistx_size (world.up) > up);
    assert (s_came_up (&world, "srv-1", MSG_DELEGATED_VERDICT, &env));
    if (verbose)
        printf ("   delegation: challenged, quoted, verified at the site server, passport\n");

    //  A quote whose log does not match the profile fails: the server
    //  quarantines the gateway at once
    node_link_down (server->node, MESH_COORDINATOR, now);
    now += 61000 + DELEGATE_CHECK_MS;
    quotes = gateway->quotes;
    node_tick (server->node, now);
    node_tick (gateway->node, now);
    s_act (server);
    s_act (gateway);
    s_run (&world, now);
    assert (gateway->quotes == quotes + 1);
    zchunk_t *tampered = NULL;
    eventlog_append (&tampered, 8, "weft b00t", 9, NULL);
    assert (softquote_evidence (world.ak, &gateway->quote, zchunk_data (tampered),
                                zchunk_size (tampered), &answer, &answer_size) == 0);
    node_quote_done (gateway->node, answer, answer_size, now);
    free (answer);
    s_act (gateway);
    s_run (&world, now);
    assert (mesh_quarantined (node_mesh (server->node), "gw-1"));
    zchunk_destroy (&tampered);
    zchunk_destroy (&event_log);
    if (verbose)
        printf ("   delegation: a log off the profile fails, quarantined at the site\n");

    //  A crash loses nothing committed: the gateway's core starts again
    //  from the store with its twin
    node_destroy (&gateway->node);
    node_destroy (&gateway->node);
    s_start (&world, 1, "gateway", now, verbose);
    assert (agent_desired_version (node_agent (gateway->node)) == 7);

    for (int i = 0; i < T_NODES; i++) {
        node_destroy (&world.nodes [i].node);
        keys_wipe (&world.nodes [i].keys);
    }
    node_wire_purge (world.wire);
    node_wire_purge (world.up);
    zlistx_destroy (&world.wire);
    zlistx_destroy (&world.up);
    softquote_destroy (&world.ak);
    keys_wipe (&world.ca);
    keys_wipe (&world.coord);
    store_destroy (&world.store);
    zdir_t *tree = zdir_new (world.dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    //  @end
    printf ("OK\n");
}
