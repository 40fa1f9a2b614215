/*  mesh_test - selftest of the mesh: a line of four nodes wired by a
    test fabric, with custody, routing, quarantine, policy gossip and
    revocations end to end over a real store in a temporary directory.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/passport.h"
#include "node/core/mesh_internal.h"

//  --------------------------------------------------------------------------
//  Selftest: a line of nodes wired by a test fabric

#define T_NODES 4

typedef struct {
    mesh_t *mesh;
    char name [16];
    keys_t keys;
    int delivered;
    int refuse;                     //  Status the agent answers with, 0 = take
    uint8_t last [256];
    size_t last_size;
} t_node_t;

typedef struct {
    t_node_t nodes [T_NODES];
    //  Queued link messages: from node index, link name at the receiver
    zlistx_t *wire;
    bool cut [T_NODES][T_NODES];
    int to_coord;                       //  Custody frames to the coordinator
} t_world_t;

typedef struct {
    int to;
    char link [32];
    char dest [WEFT_NAME_MAX + 1];
    bool has_dest;
    uint8_t *frame;
    size_t size;
} t_msg_t;

typedef struct {
    t_world_t *world;
    int index;
} t_ctx_t;

static t_ctx_t s_ctx [T_NODES];

//  Link names: "n<i>" on both sides
static int
s_t_send (void *ctx, const char *link, const char *dest, const uint8_t *frame, size_t size)
{
    t_ctx_t *c = (t_ctx_t *) ctx;
    if (streq (link, MESH_COORDINATOR)) {
        if (dest)
            c->world->to_coord++;
        return 0;
    }
    int to = link [1] - '0';
    if (c->world->cut [c->index][to])
        return -1;
    t_msg_t *msg = (t_msg_t *) zmalloc (sizeof (t_msg_t));
    msg->to = to;
    snprintf (msg->link, sizeof msg->link, "n%d", c->index);
    if (dest) {
        msg->has_dest = true;
        snprintf (msg->dest, sizeof msg->dest, "%s", dest);
    }
    msg->frame = (uint8_t *) zmalloc (size);
    memcpy (msg->frame, frame, size);
    msg->size = size;
    zlistx_add_end (c->world->wire, msg);
    return 0;
}

static int
s_t_deliver (void *ctx, const uint8_t *frame, size_t size, char reason [WEFT_TEXT_MAX + 1])
{
    t_ctx_t *c = (t_ctx_t *) ctx;
    t_node_t *node = &c->world->nodes [c->index];
    if (node->refuse) {
        snprintf (reason, WEFT_TEXT_MAX + 1, "refused by the test");
        return node->refuse;
    }
    node->delivered++;
    node->last_size = size < sizeof node->last? size: sizeof node->last;
    memcpy (node->last, frame, node->last_size);
    return WEFT_STATUS_OK;
}

static void
s_t_run (t_world_t *world, uint64_t now)
{
    for (int round = 0; round < 50; round++) {
        t_msg_t *msg;
        bool any = false;
        while ((msg = (t_msg_t *) zlistx_first (world->wire))) {
            zlistx_detach_cur (world->wire);
            mesh_on_frame (world->nodes [msg->to].mesh, msg->link,
                           msg->has_dest? msg->dest: NULL, msg->frame, msg->size, now);
            free (msg->frame);
            free (msg);
            any = true;
        }
        for (int i = 0; i < T_NODES; i++)
            if (world->nodes [i].mesh)
                mesh_flush (world->nodes [i].mesh, now);
        if (!any && zlistx_size (world->wire) == 0)
            break;
    }
}

static uint8_t *
s_t_envelope (const keys_t *keys, const char *origin, int type, uint64_t seq,
              const uint8_t *payload, size_t payload_size, size_t *size_p)
{
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, WEFT_ID_SIZE);
    env.type = type;
    snprintf (env.origin, sizeof env.origin, "%s", origin);
    env.seq = seq;
    env.hop_limit = env.hops = WEFT_HOP_LIMIT;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame;
    int rc = envelope_encode (&env, keys->sign_secret, &frame, size_p);
    assert (rc == 0);
    return frame;
}

//  A list signed by the coordinator (QUARANTINE, REVOCATIONS) handed to
//  n0 for every node ("*"); the fabric then runs until it is quiet
static void
s_t_coordinator_list (t_world_t *world, const keys_t *coord, const meshmsg_t *list,
                      uint64_t seq, uint64_t now)
{
    uint8_t *payload;
    size_t payload_size;
    assert (meshmsg_encode (list, &payload, &payload_size) == 0);
    size_t size;
    uint8_t *frame = s_t_envelope (coord, MESH_COORDINATOR, list->type, seq, payload,
                                   payload_size, &size);
    free (payload);
    assert (mesh_on_frame (world->nodes [0].mesh, MESH_COORDINATOR, "*", frame, size,
                           now) == 0);
    free (frame);
    s_t_run (world, now);
}

//  Node index's own envelope (a small payload) into its mesh's custody
static void
s_t_send_own (t_world_t *world, int index, int type, uint64_t seq)
{
    t_node_t *node = &world->nodes [index];
    size_t size;
    uint8_t *frame = s_t_envelope (&node->keys, node->name, type, seq,
                                   (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_send_own (node->mesh, frame, size) == 0);
    free (frame);
}

//  Start node index's mesh on the shared store under prefix "<index>/",
//  with a node certificate of the CA for role (device type)
static void
s_t_start_as (t_world_t *world, int index, store_t *store, const keys_t *ca,
              const keys_t *coord, uint64_t now, const char *role, bool verbose)
{
    t_node_t *node = &world->nodes [index];
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.serial = (uint64_t) index + 10;
    cert.kind = CERT_KIND_NODE;
    strcpy (cert.subject, node->name);
    snprintf (cert.role, sizeof cert.role, "%s", role);
    memcpy (cert.sign_key, node->keys.sign_public, WEFT_KEY_SIZE);
    memcpy (cert.curve_key, node->keys.curve_public, WEFT_KEY_SIZE);
    cert.not_after = now / 1000 + 86400;
    uint8_t *cert_bytes;
    size_t cert_size;
    assert (cert_encode (&cert, ca->sign_secret, &cert_bytes, &cert_size) == 0);
    char prefix [16];
    snprintf (prefix, sizeof prefix, "%d/", index);
    mesh_config_t config = {
        .name = node->name, .tenant = "", .keys = &node->keys, .cert = cert_bytes,
        .cert_size = cert_size, .ca_key = ca->sign_public,
        .coord_sign = coord->sign_public, .advert_ms = 1000, .store = store,
        .prefix = prefix, .verbose = verbose
    };
    s_ctx [index].world = world;
    s_ctx [index].index = index;
    mesh_effects_t effects = { &s_ctx [index], s_t_send, NULL, s_t_deliver, NULL, NULL };
    node->mesh = mesh_new (&config, &effects);
    assert (node->mesh);
    assert (mesh_start (node->mesh, now) == 0);
    free (cert_bytes);
}

static void
s_t_start (t_world_t *world, int index, store_t *store, const keys_t *ca,
           const keys_t *coord, uint64_t now, bool verbose)
{
    s_t_start_as (world, index, store, ca, coord, now, "gateway", verbose);
}

//  Node index's mesh started again from what the store kept; its
//  certificate is a placeholder, so it is only read, never linked
static void
s_t_restart_from_store (t_world_t *world, int index, store_t *store, const keys_t *ca,
                        const keys_t *coord, uint64_t now)
{
    t_node_t *node = &world->nodes [index];
    mesh_destroy (&node->mesh);
    char prefix [16];
    snprintf (prefix, sizeof prefix, "%d/", index);
    mesh_config_t config = { .name = node->name, .keys = &node->keys,
        .cert = (const uint8_t *) "x", .cert_size = 1, .ca_key = ca->sign_public,
        .coord_sign = coord->sign_public, .store = store, .prefix = prefix };
    mesh_effects_t effects = { &s_ctx [index], s_t_send, NULL, s_t_deliver, NULL, NULL };
    node->mesh = mesh_new (&config, &effects);
    assert (node->mesh);
    assert (mesh_start (node->mesh, now) == 0);
}

void
mesh_test (bool verbose)
{
    printf (" * mesh: ");
    //  @selftest
    char dir [] = "/tmp/weft-mesh-test.XXXXXX";
    assert (mkdtemp (dir));
    const char *tables [] = { MESH_TABLE, OUTBOX_TABLE, NULL };
    store_t *store = store_new (dir, tables, 0);
    assert (store);
    keys_t ca, coord;
    keys_generate (&ca);
    keys_generate (&coord);
    t_world_t world;
    memset (&world, 0, sizeof world);
    world.wire = zlistx_new ();
    uint64_t now = 1767225600000ULL;
    //  A line n0 - n1 - n2 - n3; n0 has the coordinator link
    for (int i = 0; i < T_NODES; i++) {
        t_node_t *node = &world.nodes [i];
        snprintf (node->name, sizeof node->name, "gw-%d", i);
        keys_generate (&node->keys);
        s_t_start (&world, i, store, &ca, &coord, now, verbose);
    }
    mesh_link_up (world.nodes [0].mesh, MESH_COORDINATOR, MESH_LINK_COORDINATOR,
                  coord.curve_public, now);
    for (int i = 0; i + 1 < T_NODES; i++) {
        //  i+1 dials i: on i+1 the link is "n<i>", on i it is "n<i+1>"
        char name [16];
        snprintf (name, sizeof name, "n%d", i);
        snprintf (name, sizeof name, "n%d", i + 1);
        mesh_link_up (world.nodes [i].mesh, name, MESH_LINK_ACCEPTED,
                      world.nodes [i + 1].keys.curve_public, now);
        snprintf (name, sizeof name, "n%d", i);
        mesh_link_up (world.nodes [i + 1].mesh, name, MESH_LINK_DIALLED,
                      world.nodes [i].keys.curve_public, now);
        s_t_run (&world, now);
    }
    assert (mesh_distance (world.nodes [0].mesh) == 1);
    assert (mesh_distance (world.nodes [1].mesh) == 2);
    assert (mesh_distance (world.nodes [3].mesh) == 4);

    //  n3's heartbeat crosses three relays, each ACKing after its commit
    s_t_send_own (&world, 3, MSG_HEARTBEAT, 1);
    mesh_flush (world.nodes [3].mesh, now);
    s_t_run (&world, now);
    assert (world.to_coord == 1);
    for (int i = 1; i < T_NODES; i++)
        assert (outbox_size (mesh_outbox (world.nodes [i].mesh)) == 0);
    //  n0 keeps it until the coordinator's CUSTODY_ACK
    assert (outbox_size (mesh_outbox (world.nodes [0].mesh)) == 1);
    assert (mesh_stats (world.nodes [1].mesh)->relayed == 1);

    //  A forged envelope from n3 (claims gw-3, signed by another key) dies at n2
    keys_t forger;
    keys_generate (&forger);
    size_t size;
    uint8_t *frame = s_t_envelope (&forger, "gw-3", MSG_HEARTBEAT, 2,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    s_t_send (&s_ctx [3], "n2", MESH_COORDINATOR, frame, size);
    free (frame);
    s_t_run (&world, now);
    assert (mesh_stats (world.nodes [2].mesh)->forged == 1);
    assert (mesh_stats (world.nodes [1].mesh)->relayed == 1);

    //  The coordinator's desired twin for gw-3 goes down the reverse route
    frame = s_t_envelope (&coord, MESH_COORDINATOR, MSG_TWIN_DESIRED, 1,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-3", frame, size,
                           now) == 0);
    mesh_flush (world.nodes [0].mesh, now);
    s_t_run (&world, now);
    assert (world.nodes [3].delivered == 1);
    //  The same envelope again (another path, a retransmit): delivered once
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-3", frame, size,
                           now) == 0);
    mesh_flush (world.nodes [0].mesh, now);
    s_t_run (&world, now);
    assert (world.nodes [3].delivered == 1);
    assert (mesh_stats (world.nodes [0].mesh)->duplicates == 1);
    free (frame);

    //  gw-3's agent refuses one: its CUSTODY_ACK carries the agent's
    //  status and reason. INTERNAL (not stored) leaves it with n2, which
    //  retransmits; a refusal for good ends n2's custody, counted
    world.nodes [3].refuse = WEFT_STATUS_INTERNAL;
    frame = s_t_envelope (&coord, MESH_COORDINATOR, MSG_TWIN_DESIRED, 2,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_on_frame (world.nodes [3].mesh, "n2", "gw-3", frame, size, now) == -1);
    t_msg_t *answer = (t_msg_t *) zlistx_last (world.wire);
    envelope_t answer_env;
    meshmsg_t answer_ack;
    assert (answer && answer->to == 2 && !answer->has_dest);
    assert (envelope_decode (&answer_env, answer->frame, answer->size) == 0);
    assert (answer_env.type == MSG_CUSTODY_ACK);
    assert (meshmsg_decode (&answer_ack, MSG_CUSTODY_ACK, answer_env.payload,
                            answer_env.payload_size) == 0);
    assert (answer_ack.status == WEFT_STATUS_INTERNAL);
    assert (streq (answer_ack.reason, "refused by the test"));
    s_t_run (&world, now);
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-3", frame, size,
                           now) == 0);
    mesh_flush (world.nodes [0].mesh, now);
    s_t_run (&world, now);
    assert (world.nodes [3].delivered == 1);
    assert (outbox_size (mesh_outbox (world.nodes [2].mesh)) == 1);
    assert (mesh_stats (world.nodes [2].mesh)->custody_refused == 0);
    world.nodes [3].refuse = WEFT_STATUS_DENIED;
    s_t_run (&world, now + OUTBOX_RETRY_MAX_MS);
    assert (outbox_size (mesh_outbox (world.nodes [2].mesh)) == 0);
    assert (mesh_stats (world.nodes [2].mesh)->custody_refused == 1);
    assert (world.nodes [3].delivered == 1);
    char *refused_json = mesh_stats_json (world.nodes [2].mesh);
    assert (strstr (refused_json, "\"custody_refused\":1,"));
    free (refused_json);
    //  Not marked seen: once the agent takes it, a retransmission gets in
    world.nodes [3].refuse = 0;
    assert (mesh_on_frame (world.nodes [3].mesh, "n2", "gw-3", frame, size, now) == 0);
    assert (world.nodes [3].delivered == 2);
    s_t_run (&world, now);
    free (frame);
    //  A list for every node that is no list: refused, with why
    frame = s_t_envelope (&coord, MESH_COORDINATOR, MSG_REVOCATIONS, 3,
                          (const uint8_t *) "\x91\x01", 2, &size);
    assert (mesh_on_frame (world.nodes [2].mesh, "n1", "*", frame, size, now) == -1);
    answer = (t_msg_t *) zlistx_last (world.wire);
    assert (answer && answer->to == 1);
    assert (envelope_decode (&answer_env, answer->frame, answer->size) == 0);
    assert (meshmsg_decode (&answer_ack, MSG_CUSTODY_ACK, answer_env.payload,
                            answer_env.payload_size) == 0);
    assert (answer_ack.status == WEFT_STATUS_BAD_REQUEST);
    assert (streq (answer_ack.reason, "malformed REVOCATIONS"));
    s_t_run (&world, now);
    free (frame);

    //  The coordinator link goes: n0 loses its route, and so does everyone
    mesh_link_down (world.nodes [0].mesh, MESH_COORDINATOR, now);
    s_t_run (&world, now);
    for (int i = 0; i < T_NODES; i++)
        assert (mesh_distance (world.nodes [i].mesh) == 0);
    //  While cut, n3's report is held by custody at n0
    s_t_send_own (&world, 3, MSG_TWIN_REPORTED, 3);
    now += 1000;
    for (int i = 0; i < T_NODES; i++)
        mesh_tick (world.nodes [i].mesh, now);
    s_t_run (&world, now);
    //  n0 holds it with no route: its next deadline is the next advert
    //  (the held envelope waits for a route or its 5 s), not a poll
    assert (outbox_size (mesh_outbox (world.nodes [0].mesh)) >= 1);
    assert (mesh_deadline (world.nodes [0].mesh) == now + 1000);
    int before = world.to_coord;
    mesh_link_up (world.nodes [0].mesh, MESH_COORDINATOR, MESH_LINK_COORDINATOR,
                  coord.curve_public, now);
    //  The new route wakes it: due at once
    assert (mesh_deadline (world.nodes [0].mesh) <= now);
    s_t_run (&world, now);
    for (int i = 0; i < T_NODES; i++)
        mesh_tick (world.nodes [i].mesh, now);
    s_t_run (&world, now);
    assert (mesh_distance (world.nodes [3].mesh) == 4);
    now += 2000;
    for (int i = 0; i < T_NODES; i++)
        mesh_tick (world.nodes [i].mesh, now);
    s_t_run (&world, now);
    assert (world.to_coord > before);

    //  Quarantine of gw-2: the list reaches every node (n3 through gw-2
    //  itself: the coordinator's lists pass a quarantined relay)
    meshmsg_t qmsg;
    memset (&qmsg, 0, sizeof qmsg);
    qmsg.type = MSG_QUARANTINE;
    qmsg.quarantine = 1;
    qmsg.names = "gw-2";
    qmsg.names_size = 4;
    s_t_coordinator_list (&world, &coord, &qmsg, 10, now);
    for (int i = 0; i < T_NODES; i++) {
        assert (mesh_quarantine (world.nodes [i].mesh) == 1);
        assert (mesh_quarantined (world.nodes [i].mesh, "gw-2"));
        assert (!mesh_quarantined (world.nodes [i].mesh, "gw-1"));
    }
    //  gw-2 is no next hop any more: n3, behind it, has no route
    assert (mesh_distance (world.nodes [2].mesh) == 3);
    assert (mesh_distance (world.nodes [3].mesh) == 0);
    //  gw-2's own report is refused at n1 (DENIED ends its retransmits)
    int to_coord = world.to_coord;
    s_t_send_own (&world, 2, MSG_TWIN_REPORTED, 20);
    mesh_flush (world.nodes [2].mesh, now);
    s_t_run (&world, now);
    assert (mesh_stats (world.nodes [1].mesh)->quarantined == 1);
    assert (outbox_size (mesh_outbox (world.nodes [2].mesh)) == 0);
    assert (mesh_stats (world.nodes [2].mesh)->custody_refused == 2);
    assert (world.to_coord == to_coord);
    //  its attestation evidence and heartbeats pass
    s_t_send_own (&world, 2, MSG_ATTEST_EVIDENCE, 21);
    s_t_send_own (&world, 2, MSG_HEARTBEAT, 22);
    mesh_flush (world.nodes [2].mesh, now);
    s_t_run (&world, now);
    assert (world.to_coord == to_coord + 2);
    assert (mesh_stats (world.nodes [1].mesh)->quarantined == 1);
    //  gw-2 relays nothing: gw-3's heartbeat handed over by gw-2 is refused
    frame = s_t_envelope (&world.nodes [3].keys, "gw-3", MSG_HEARTBEAT, 23,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    s_t_send (&s_ctx [2], "n1", MESH_COORDINATOR, frame, size);
    free (frame);
    s_t_run (&world, now);
    assert (mesh_stats (world.nodes [1].mesh)->quarantined == 2);
    //  and nothing but attestation traffic goes down to it
    frame = s_t_envelope (&coord, MESH_COORDINATOR, MSG_TWIN_DESIRED, 24,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-2", frame, size,
                           now) == -1);
    free (frame);
    frame = s_t_envelope (&coord, MESH_COORDINATOR, MSG_ATTEST_CHALLENGE, 25,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    int delivered = world.nodes [2].delivered;
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-2", frame, size,
                           now) == 0);
    free (frame);
    mesh_flush (world.nodes [0].mesh, now);
    s_t_run (&world, now);
    assert (world.nodes [2].delivered == delivered + 1);
    assert (mesh_stats (world.nodes [0].mesh)->quarantined == 1);
    char *qjson = mesh_stats_json (world.nodes [1].mesh);
    assert (strstr (qjson, "\"quarantined\":2,") && strstr (qjson, "\"quarantine\":1,"));
    free (qjson);
    //  Persisted: n1 restarted holds the list
    {
        s_t_restart_from_store (&world, 1, store, &ca, &coord, now);
        assert (mesh_quarantine (world.nodes [1].mesh) == 1);
        assert (mesh_quarantined (world.nodes [1].mesh, "gw-2"));
        mesh_destroy (&world.nodes [1].mesh);
    }
    //  (restore n1 with its real certificate and links)
    {
        t_node_t *node = &world.nodes [1];
        s_t_start (&world, 1, store, &ca, &coord, now, verbose);
        mesh_link_down (world.nodes [0].mesh, "n1", now);
        mesh_link_down (world.nodes [2].mesh, "n1", now);
        mesh_link_up (world.nodes [0].mesh, "n1", MESH_LINK_ACCEPTED,
                      node->keys.curve_public, now);
        mesh_link_up (node->mesh, "n0", MESH_LINK_DIALLED, world.nodes [0].keys.curve_public,
                      now);
        s_t_run (&world, now);
        mesh_link_up (node->mesh, "n2", MESH_LINK_ACCEPTED, world.nodes [2].keys.curve_public,
                      now);
        mesh_link_up (world.nodes [2].mesh, "n1", MESH_LINK_DIALLED,
                      node->keys.curve_public, now);
        s_t_run (&world, now);
    }
    //  Version 2 releases gw-2: everyone takes it, n3 routes through gw-2 again
    qmsg.quarantine = 2;
    qmsg.names = "";
    qmsg.names_size = 0;
    s_t_coordinator_list (&world, &coord, &qmsg, 26, now);
    for (int i = 0; i < T_NODES; i++) {
        assert (mesh_quarantine (world.nodes [i].mesh) == 2);
        assert (!mesh_quarantined (world.nodes [i].mesh, "gw-2"));
    }
    now += 1000;
    for (int i = 0; i < T_NODES; i++)
        mesh_tick (world.nodes [i].mesh, now);
    s_t_run (&world, now);
    assert (mesh_distance (world.nodes [3].mesh) == 4);
    to_coord = world.to_coord;
    s_t_send_own (&world, 2, MSG_TWIN_REPORTED, 27);
    mesh_flush (world.nodes [2].mesh, now);
    s_t_run (&world, now);
    assert (world.to_coord == to_coord + 1);
    assert (mesh_stats (world.nodes [1].mesh)->quarantined == 0);   //  (n1 restarted)
    //  A policy the coordinator sends to gw-0 by name reaches gw-3 by
    //  gossip; the same object again stops at the first hop
    policy_object_t policy = { "profile", "gateway", 1, (const uint8_t *) "{}", 2 };
    uint8_t *object;
    size_t object_size;
    assert (policymsg_encode (&policy, ca.sign_secret, &object, &object_size) == 0);
    policymsg_t gossip = { .type = MSG_POLICY, .object = object, .object_size = object_size };
    uint8_t *gossip_payload;
    size_t gossip_size;
    assert (policymsg_msg_encode (&gossip, &gossip_payload, &gossip_size) == 0);
    for (int round = 0; round < 2; round++) {
        frame = s_t_envelope (&coord, MESH_COORDINATOR, MSG_POLICY, 100 + (uint64_t) round,
                              gossip_payload, gossip_size, &size);
        assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-0", frame, size,
                               now) == 0);
        free (frame);
        s_t_run (&world, now);
    }
    for (int i = 0; i < T_NODES; i++)
        assert (policy_store_version (mesh_policies (world.nodes [i].mesh),
                                      "profile/gateway") == 1);
    assert (gossip_stats (mesh_gossip (world.nodes [0].mesh))->duplicates == 1);
    assert (gossip_stats (mesh_gossip (world.nodes [3].mesh))->stored == 1);
    //  Gossip from a neighbour that claims to be the coordinator's is refused
    frame = s_t_envelope (&world.nodes [1].keys, "gw-1", MSG_POLICY, 200, gossip_payload,
                          gossip_size, &size);
    assert (mesh_on_frame (world.nodes [2].mesh, "n1", "gw-2", frame, size, now) == -1);
    free (frame);
    free (gossip_payload);
    free (object);

    //  Revocation of gw-3 from the coordinator: stored, spread, link closed
    uint8_t payload_keys [WEFT_KEY_SIZE];
    memcpy (payload_keys, world.nodes [3].keys.curve_public, WEFT_KEY_SIZE);
    meshmsg_t list;
    memset (&list, 0, sizeof list);
    list.type = MSG_REVOCATIONS;
    list.revocations = 1;
    list.names = "gw-3";
    list.names_size = 4;
    list.curve_keys = payload_keys;
    list.key_count = 1;
    s_t_coordinator_list (&world, &coord, &list, 9, now);
    for (int i = 0; i < 3; i++)
        assert (mesh_revocations (world.nodes [i].mesh) == 1);
    assert (!mesh_admit (world.nodes [2].mesh, world.nodes [3].keys.curve_public));
    assert (mesh_admit (world.nodes [2].mesh, world.nodes [1].keys.curve_public));
    assert (!mesh_has_link (world.nodes [2].mesh, "n3"));
    //  Survives a restart
    s_t_restart_from_store (&world, 1, store, &ca, &coord, now);
    assert (mesh_revocations (world.nodes [1].mesh) == 1);
    char *json = mesh_stats_json (world.nodes [2].mesh);
    assert (strstr (json, "\"forged_rejected\":1"));
    if (verbose)
        printf ("%s\n", json);
    free (json);

    t_msg_t *msg;
    while ((msg = (t_msg_t *) zlistx_first (world.wire))) {
        zlistx_detach_cur (world.wire);
        free (msg->frame);
        free (msg);
    }
    zlistx_destroy (&world.wire);
    for (int i = 0; i < T_NODES; i++) {
        mesh_destroy (&world.nodes [i].mesh);
        keys_wipe (&world.nodes [i].keys);
    }
    keys_wipe (&forger);
    keys_wipe (&ca);
    keys_wipe (&coord);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    //  @end
    printf ("OK\n");
}

//  --------------------------------------------------------------------------
//  Selftest of fresh attestation in the mesh (mesh_attest.c): gw-0 (with
//  the coordinator link) - gw-1, a site server - gw-2, and a profile that
//  requires attestation of gateways

//  The coordinator's PASSPORT for node index, attested at attested_ms,
//  handed to gw-0 for it (custody, as the coordinator sends it)
static void
s_t_passport (t_world_t *world, const keys_t *coord, int index, uint64_t attested_ms,
              uint64_t expires_ms, uint64_t now)
{
    passport_t passport = { .cert_serial = (uint64_t) index + 10, .verdict = PASSPORT_PASSED,
                            .attested_ms = attested_ms, .expires_ms = expires_ms,
                            .issuer = PASSPORT_COORDINATOR };
    snprintf (passport.device, sizeof passport.device, "%s", world->nodes [index].name);
    uint8_t *bytes;
    size_t size, frame_size;
    assert (passport_encode (&passport, coord->sign_secret, &bytes, &size) == 0);
    uint8_t *frame = s_t_envelope (coord, MESH_COORDINATOR, MSG_PASSPORT, 1000 + attested_ms,
                                   bytes, size, &frame_size);
    free (bytes);
    if (index == 0)
        assert (mesh_on_frame (world->nodes [0].mesh, MESH_COORDINATOR, NULL, frame,
                               frame_size, now) == 0);
    else
        assert (mesh_on_frame (world->nodes [0].mesh, MESH_COORDINATOR,
                               world->nodes [index].name, frame, frame_size, now) == 0);
    free (frame);
    mesh_flush (world->nodes [0].mesh, now);
    s_t_run (world, now);
}

//  Every node ticks at now (adverts, lapsed passports, routes)
static void
s_t_tick (t_world_t *world, int nodes, uint64_t now)
{
    for (int i = 0; i < nodes; i++)
        mesh_tick (world->nodes [i].mesh, now);
    s_t_run (world, now);
}

void
mesh_attest_test (bool verbose)
{
    printf (" * mesh_attest: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    char dir [] = "/tmp/weft-mesh-attest.XXXXXX";
    assert (mkdtemp (dir));
    const char *tables [] = { MESH_TABLE, OUTBOX_TABLE, NULL };
    store_t *store = store_new (dir, tables, 0);
    assert (store);
    keys_t ca, coord;
    keys_generate (&ca);
    keys_generate (&coord);
    t_world_t world;
    memset (&world, 0, sizeof world);
    world.wire = zlistx_new ();
    uint64_t now = 1767225600000ULL;
    const char *roles [] = { "gateway", "server", "gateway" };
    for (int i = 0; i < 3; i++) {
        t_node_t *node = &world.nodes [i];
        snprintf (node->name, sizeof node->name, "gw-%d", i);
        keys_generate (&node->keys);
        s_t_start_as (&world, i, store, &ca, &coord, now, roles [i], verbose);
    }
    mesh_link_up (world.nodes [0].mesh, MESH_COORDINATOR, MESH_LINK_COORDINATOR,
                  coord.curve_public, now);
    for (int i = 0; i + 1 < 3; i++) {
        char name [16];
        snprintf (name, sizeof name, "n%d", i + 1);
        mesh_link_up (world.nodes [i].mesh, name, MESH_LINK_ACCEPTED,
                      world.nodes [i + 1].keys.curve_public, now);
        snprintf (name, sizeof name, "n%d", i);
        mesh_link_up (world.nodes [i + 1].mesh, name, MESH_LINK_DIALLED,
                      world.nodes [i].keys.curve_public, now);
        s_t_run (&world, now);
    }
    //  No profile yet: every neighbour takes part
    assert (mesh_admitted (world.nodes [1].mesh, "gw-2", now));
    assert (mesh_distance (world.nodes [2].mesh) == 3);

    //  The CA-signed profile of gateways (requires attestation) reaches
    //  every node; renewed HELLOs carry no passport: gateways are refused
    policy_object_t policy = { "profile", "gateway", 1,
                               (const uint8_t *) "{\"pcrs\":{},\"interval_s\":60}", 27 };
    uint8_t *object;
    size_t object_size;
    assert (policymsg_encode (&policy, ca.sign_secret, &object, &object_size) == 0);
    for (int i = 0; i < 3; i++)
        assert (policy_store_offer (mesh_policies (world.nodes [i].mesh), object, object_size,
                                    NULL, NULL) == POLICY_STORED);
    free (object);
    assert (!mesh_admitted (world.nodes [1].mesh, "gw-2", now));
    assert (!mesh_admitted (world.nodes [1].mesh, "gw-0", now));
    assert (mesh_admitted (world.nodes [0].mesh, "gw-1", now));     //  A server: no profile
    s_t_tick (&world, 3, now);
    assert (mesh_distance (world.nodes [1].mesh) == 0);     //  Not through gw-0
    assert (mesh_distance (world.nodes [2].mesh) == 0);
    //  gw-2 hands the server its report: refused (DENIED ends it); its
    //  heartbeat is taken, and held (no route up)
    size_t size;
    uint8_t *frame = s_t_envelope (&world.nodes [2].keys, "gw-2", MSG_TWIN_REPORTED, 1,
                                   (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    s_t_send (&s_ctx [2], "n1", MESH_COORDINATOR, frame, size);
    free (frame);
    s_t_run (&world, now);
    assert (mesh_stats (world.nodes [1].mesh)->unattested == 1);
    int to_coord = world.to_coord;
    frame = s_t_envelope (&world.nodes [2].keys, "gw-2", MSG_HEARTBEAT, 2,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    s_t_send (&s_ctx [2], "n1", MESH_COORDINATOR, frame, size);
    free (frame);
    s_t_run (&world, now);
    assert (mesh_stats (world.nodes [1].mesh)->unattested == 1);
    assert (outbox_size (mesh_outbox (world.nodes [1].mesh)) == 1);
    //  Passports from the coordinator for gw-0 and gw-2, down through
    //  unattested relays (the coordinator's own attestation traffic)
    s_t_passport (&world, &coord, 0, now, now + 64000, now);
    s_t_passport (&world, &coord, 2, now, now + 64000, now);
    assert (mesh_passport_ms (world.nodes [2].mesh) == now);
    assert (mesh_admitted (world.nodes [1].mesh, "gw-2", now));
    assert (mesh_admitted (world.nodes [1].mesh, "gw-0", now));
    s_t_tick (&world, 3, now);
    assert (mesh_distance (world.nodes [2].mesh) == 3);
    assert (world.to_coord > to_coord);     //  The held heartbeat went up
    to_coord = world.to_coord;
    s_t_send_own (&world, 2, MSG_TWIN_REPORTED, 3);
    mesh_flush (world.nodes [2].mesh, now);
    s_t_run (&world, now);
    assert (world.to_coord == to_coord + 1);
    if (verbose)
        printf ("   never attested: refused; passports taken through relays; admitted\n");

    //  Refused passports: another device's, another issuer's; an older
    //  one is not taken
    uint64_t held = mesh_passport_ms (world.nodes [2].mesh);
    passport_t other = { .device = "gw-9", .cert_serial = 12, .verdict = PASSPORT_PASSED,
                         .attested_ms = now + 1, .expires_ms = now + 64000,
                         .issuer = PASSPORT_COORDINATOR };
    uint8_t *bytes;
    assert (passport_encode (&other, coord.sign_secret, &bytes, &size) == 0);
    envelope_t env;
    memset (&env, 0, sizeof env);
    strcpy (env.origin, MESH_COORDINATOR);
    env.type = MSG_PASSPORT;
    env.payload = bytes;
    env.payload_size = size;
    char reason [WEFT_TEXT_MAX + 1];
    assert (mesh_on_passport (world.nodes [2].mesh, &env, now, reason) == WEFT_STATUS_DENIED);
    assert (streq (reason, "passport refused: passport issued to gw-9 (certificate 12), "
                   "not this certificate"));
    free (bytes);
    strcpy (other.device, "gw-2");
    assert (passport_encode (&other, world.nodes [1].keys.sign_secret, &bytes, &size) == 0);
    env.payload = bytes;
    env.payload_size = size;
    assert (mesh_on_passport (world.nodes [2].mesh, &env, now, reason)    //  Forged
            == WEFT_STATUS_DENIED);
    free (bytes);
    other.attested_ms = now - 1;
    assert (passport_encode (&other, coord.sign_secret, &bytes, &size) == 0);
    env.payload = bytes;
    env.payload_size = size;
    assert (mesh_on_passport (world.nodes [2].mesh, &env, now, reason) == WEFT_STATUS_OK);
    assert (mesh_passport_ms (world.nodes [2].mesh) == held);             //  Older: kept ours
    free (bytes);

    //  Overdue: past its expiry gw-2 is refused again, by the server's own
    //  clock, and no route goes through an overdue gw-0
    now += 64000;
    s_t_tick (&world, 3, now);
    assert (!mesh_admitted (world.nodes [1].mesh, "gw-2", now));
    assert (mesh_distance (world.nodes [1].mesh) == 0);
    frame = s_t_envelope (&world.nodes [2].keys, "gw-2", MSG_TWIN_REPORTED, 4,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    s_t_send (&s_ctx [2], "n1", MESH_COORDINATOR, frame, size);
    free (frame);
    s_t_run (&world, now);
    assert (mesh_stats (world.nodes [1].mesh)->unattested == 2);
    //  The site server's own passport for gw-2 (it verified it while cut
    //  off) admits it again; so does the coordinator's for gw-0
    assert (mesh_passport_issue (world.nodes [1].mesh, "gw-2", now, now + 64000, &bytes,
                                 &size) == 0);
    assert (mesh_passport_issue (world.nodes [1].mesh, "gw-7", now, now + 64000, &bytes,
                                 &size) == -1);     //  Not a neighbour
    size_t frame_size;
    frame = s_t_envelope (&world.nodes [1].keys, "gw-1", MSG_PASSPORT, 50, bytes, size,
                          &frame_size);
    free (bytes);
    assert (mesh_send_to (world.nodes [1].mesh, "gw-2", frame, frame_size) == 0);
    free (frame);
    mesh_flush (world.nodes [1].mesh, now);
    s_t_run (&world, now);
    assert (mesh_passport_ms (world.nodes [2].mesh) == now);
    assert (mesh_admitted (world.nodes [1].mesh, "gw-2", now));
    s_t_passport (&world, &coord, 0, now, now + 64000, now);
    s_t_tick (&world, 3, now);
    assert (mesh_distance (world.nodes [2].mesh) == 3);
    char *json = mesh_stats_json (world.nodes [1].mesh);
    assert (strstr (json, "\"unattested\":2,"));
    free (json);
    if (verbose)
        printf ("   overdue: refused; a site server's passport admits it again\n");

    //  A restart keeps our passport (not our peers': they present theirs)
    mesh_destroy (&world.nodes [2].mesh);
    s_t_start_as (&world, 2, store, &ca, &coord, now, "gateway", verbose);
    assert (mesh_passport_ms (world.nodes [2].mesh) == now);
    //  A node told not to require attestation admits without one
    mesh_destroy (&world.nodes [2].mesh);
    t_node_t *late = &world.nodes [2];
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.serial = 99;
    cert.kind = CERT_KIND_NODE;
    strcpy (cert.subject, "gw-2");
    strcpy (cert.role, "gateway");
    memcpy (cert.sign_key, late->keys.sign_public, WEFT_KEY_SIZE);
    memcpy (cert.curve_key, late->keys.curve_public, WEFT_KEY_SIZE);
    cert.not_after = now / 1000 + 86400;
    uint8_t *cert_bytes;
    size_t cert_size;
    assert (cert_encode (&cert, ca.sign_secret, &cert_bytes, &cert_size) == 0);
    mesh_config_t open_config = {
        .name = "gw-2", .tenant = "", .keys = &late->keys, .cert = cert_bytes,
        .cert_size = cert_size, .ca_key = ca.sign_public, .coord_sign = coord.sign_public,
        .advert_ms = 1000, .store = store, .prefix = "open/", .admit_unattested = true
    };
    mesh_effects_t effects = { &s_ctx [2], s_t_send, NULL, s_t_deliver, NULL, NULL };
    late->mesh = mesh_new (&open_config, &effects);
    assert (late->mesh && mesh_start (late->mesh, now) == 0);
    free (cert_bytes);
    policy = (policy_object_t) { "profile", "server", 1, (const uint8_t *) "{}", 2 };
    assert (policymsg_encode (&policy, ca.sign_secret, &object, &object_size) == 0);
    assert (policy_store_offer (mesh_policies (late->mesh), object, object_size, NULL, NULL)
            == POLICY_STORED);
    free (object);
    mesh_link_down (world.nodes [1].mesh, "n2", now);
    mesh_link_up (world.nodes [1].mesh, "n2", MESH_LINK_ACCEPTED, late->keys.curve_public, now);
    mesh_link_up (late->mesh, "n1", MESH_LINK_DIALLED, world.nodes [1].keys.curve_public, now);
    s_t_run (&world, now);
    assert (mesh_admitted (late->mesh, "gw-1", now));   //  Its profile would require it
    assert (!mesh_admitted (world.nodes [1].mesh, "gw-2", now));    //  Serial 99: not its passport

    t_msg_t *msg;
    while ((msg = (t_msg_t *) zlistx_first (world.wire))) {
        zlistx_detach_cur (world.wire);
        free (msg->frame);
        free (msg);
    }
    zlistx_destroy (&world.wire);
    for (int i = 0; i < 3; i++) {
        mesh_destroy (&world.nodes [i].mesh);
        keys_wipe (&world.nodes [i].keys);
    }
    keys_wipe (&ca);
    keys_wipe (&coord);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    //  @end
    printf ("OK\n");
}
