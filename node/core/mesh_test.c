/*  mesh_test - selftest of the mesh: a line of four nodes wired by a
    test fabric (mesh_fabric.h), with custody, routing, quarantine, policy
    gossip and revocations end to end over a real store in a temporary
    directory.  */

#include "proto/corelib.h"
#include "node/core/mesh_internal.h"
#include "node/core/mesh_fabric.h"

void
mesh_test (bool verbose)
{
    printf (" * mesh: ");
    //  @selftest
    fabric_t world;
    fabric_init (&world, FABRIC_NODES, "mesh-test");
    uint64_t now = FABRIC_EPOCH_MS;
    //  A line n0 - n1 - n2 - n3; n0 has the coordinator link
    fabric_start_t options = { .verbose = verbose };
    for (int i = 0; i < FABRIC_NODES; i++)
        fabric_start (&world, i, now, &options);
    fabric_line (&world, FABRIC_NODES, now);
    assert (mesh_distance (world.nodes [0].mesh) == 1);
    assert (mesh_distance (world.nodes [1].mesh) == 2);
    assert (mesh_distance (world.nodes [3].mesh) == 4);

    //  n3's heartbeat crosses three relays, each ACKing after its commit
    fabric_send_own (&world, 3, MSG_HEARTBEAT, 1);
    mesh_flush (world.nodes [3].mesh, now);
    fabric_run (&world, now);
    assert (world.to_coord == 1);
    for (int i = 1; i < FABRIC_NODES; i++)
        assert (outbox_size (mesh_outbox (world.nodes [i].mesh)) == 0);
    //  n0 keeps it until the coordinator's CUSTODY_ACK
    assert (outbox_size (mesh_outbox (world.nodes [0].mesh)) == 1);
    assert (mesh_stats (world.nodes [1].mesh)->relayed == 1);

    //  The first hop's signature check (docs/mesh.md, Signatures). A
    //  forgery naming an origin other than the link's peer dies at n2,
    //  which holds gw-1's certificate: signed by n3's own key (valid, but
    //  not gw-1's) or by nobody's. So does n3's own envelope with a bad
    //  signature where n2 is the last check before it is used: for a
    //  device (n2 itself, or gw-1), and evidence, which a site server may
    //  take here. Only n3's own envelope toward the coordinator is taken
    //  unchecked: the link's CURVE key is n3's certificate's, and the
    //  coordinator checks every signature.
    keys_t forger;
    keys_generate (&forger);
    struct {
        const keys_t *signer;
        const char *origin;
        const char *dest;
        int type;
        bool checked;
    } first_hop [] = {
        { &world.nodes [3].keys, "gw-1", MESH_COORDINATOR, MSG_HEARTBEAT, true },
        { &forger, "gw-1", MESH_COORDINATOR, MSG_HEARTBEAT, true },
        { &forger, "gw-3", "gw-2", MSG_HEARTBEAT, true },
        { &forger, "gw-3", "gw-1", MSG_HEARTBEAT, true },
        { &forger, "gw-3", MESH_COORDINATOR, MSG_ATTEST_EVIDENCE, true },
        { &forger, "gw-3", MESH_COORDINATOR, MSG_HEARTBEAT, false }
    };
    size_t size;
    uint8_t *frame;
    uint64_t forged = 0;
    for (size_t i = 0; i < sizeof first_hop / sizeof first_hop [0]; i++) {
        frame = fabric_envelope (first_hop [i].signer, first_hop [i].origin,
                                 first_hop [i].type, 2 + i,
                                 (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
        //  What sigcheck is asked to check ahead: the same rule
        uint8_t key [WEFT_KEY_SIZE];
        assert (mesh_custody_key (world.nodes [2].mesh, "n3", first_hop [i].dest, frame, size,
                                  key) == first_hop [i].checked);
        fabric_send (&world.nodes [3].ctx, "n2", first_hop [i].dest, frame, size);
        free (frame);
        fabric_run (&world, now);
        forged += first_hop [i].checked;
        assert (mesh_stats (world.nodes [2].mesh)->forged == forged);
    }
    //  The unchecked one went on; the coordinator's check is its end
    assert (mesh_stats (world.nodes [2].mesh)->relayed == 2);
    assert (mesh_stats (world.nodes [1].mesh)->relayed == 2);
    assert (world.to_coord == 2);

    //  An envelope older than the de-duplication window (or dated beyond
    //  it: a clock gone wrong) is refused by the relay, never relayed:
    //  it could be one taken before and forgotten since
    for (int i = 0; i < 2; i++) {
        uint64_t time_ms = i? now + SEEN_WINDOW_MS + 1: now - SEEN_WINDOW_MS - 1;
        frame = fabric_envelope_at (&world.nodes [3].keys, "gw-3", MSG_HEARTBEAT,
                                    5 + (uint64_t) i, time_ms,
                                    (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
        fabric_send (&world.nodes [3].ctx, "n2", MESH_COORDINATOR, frame, size);
        free (frame);
        fabric_run (&world, now);
        assert (mesh_stats (world.nodes [2].mesh)->stale == (uint64_t) i + 1);
    }
    assert (mesh_stats (world.nodes [2].mesh)->relayed == 2);
    //  ... while one at the window's edge is taken
    frame = fabric_envelope_at (&world.nodes [3].keys, "gw-3", MSG_HEARTBEAT, 7,
                                now - SEEN_WINDOW_MS, (const uint8_t *) "\x93\x01\x02\x03", 4,
                                &size);
    fabric_send (&world.nodes [3].ctx, "n2", MESH_COORDINATOR, frame, size);
    free (frame);
    fabric_run (&world, now);
    assert (mesh_stats (world.nodes [2].mesh)->relayed == 3);
    assert (mesh_stats (world.nodes [2].mesh)->stale == 2);

    //  The coordinator's desired twin for gw-3 goes down the reverse route
    frame = fabric_envelope (&world.coord, MESH_COORDINATOR, MSG_TWIN_DESIRED, 1,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-3", frame, size,
                           now) == 0);
    mesh_flush (world.nodes [0].mesh, now);
    fabric_run (&world, now);
    assert (world.nodes [3].delivered == 1);
    //  The same envelope again (another path, a retransmit): delivered once
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-3", frame, size,
                           now) == 0);
    mesh_flush (world.nodes [0].mesh, now);
    fabric_run (&world, now);
    assert (world.nodes [3].delivered == 1);
    assert (mesh_stats (world.nodes [0].mesh)->duplicates == 1);
    free (frame);

    //  gw-3's agent refuses one: its CUSTODY_ACK carries the agent's
    //  status and reason. INTERNAL (not stored) leaves it with n2, which
    //  retransmits; a refusal for good ends n2's custody, counted
    world.nodes [3].refuse = WEFT_STATUS_INTERNAL;
    frame = fabric_envelope (&world.coord, MESH_COORDINATOR, MSG_TWIN_DESIRED, 2,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_on_frame (world.nodes [3].mesh, "n2", "gw-3", frame, size, now) == -1);
    fabric_msg_t *answer = (fabric_msg_t *) zlistx_last (world.wire);
    envelope_t answer_env;
    meshmsg_t answer_ack;
    assert (answer && answer->to == 2 && !answer->has_dest);
    assert (envelope_decode (&answer_env, answer->frame, answer->size) == 0);
    assert (answer_env.type == MSG_CUSTODY_ACK);
    assert (meshmsg_decode (&answer_ack, MSG_CUSTODY_ACK, answer_env.payload,
                            answer_env.payload_size) == 0);
    assert (answer_ack.status == WEFT_STATUS_INTERNAL);
    assert (streq (answer_ack.reason, "refused by the test"));
    fabric_run (&world, now);
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-3", frame, size,
                           now) == 0);
    mesh_flush (world.nodes [0].mesh, now);
    fabric_run (&world, now);
    assert (world.nodes [3].delivered == 1);
    assert (outbox_size (mesh_outbox (world.nodes [2].mesh)) == 1);
    assert (mesh_stats (world.nodes [2].mesh)->custody_refused == 0);
    world.nodes [3].refuse = WEFT_STATUS_DENIED;
    fabric_run (&world, now + OUTBOX_RETRY_MAX_MS);
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
    fabric_run (&world, now);
    free (frame);
    //  A list for every node that is no list: refused, with why
    frame = fabric_envelope (&world.coord, MESH_COORDINATOR, MSG_REVOCATIONS, 3,
                          (const uint8_t *) "\x91\x01", 2, &size);
    assert (mesh_on_frame (world.nodes [2].mesh, "n1", "*", frame, size, now) == -1);
    answer = (fabric_msg_t *) zlistx_last (world.wire);
    assert (answer && answer->to == 1);
    assert (envelope_decode (&answer_env, answer->frame, answer->size) == 0);
    assert (meshmsg_decode (&answer_ack, MSG_CUSTODY_ACK, answer_env.payload,
                            answer_env.payload_size) == 0);
    assert (answer_ack.status == WEFT_STATUS_BAD_REQUEST);
    assert (streq (answer_ack.reason, "malformed REVOCATIONS"));
    fabric_run (&world, now);
    free (frame);

    //  The coordinator link goes: n0 loses its route, and so does everyone
    mesh_link_down (world.nodes [0].mesh, MESH_COORDINATOR, now);
    fabric_run (&world, now);
    for (int i = 0; i < FABRIC_NODES; i++)
        assert (mesh_distance (world.nodes [i].mesh) == 0);
    //  While cut, n3's report is held by custody at n0
    fabric_send_own (&world, 3, MSG_TWIN_REPORTED, 3);
    now += 1000;
    for (int i = 0; i < FABRIC_NODES; i++)
        mesh_tick (world.nodes [i].mesh, now);
    fabric_run (&world, now);
    //  n0 holds it with no route: its next deadline is the next advert
    //  (the held envelope waits for a route or its 5 s), not a poll
    assert (outbox_size (mesh_outbox (world.nodes [0].mesh)) >= 1);
    assert (mesh_deadline (world.nodes [0].mesh) == now + 1000);
    int before = world.to_coord;
    mesh_link_up (world.nodes [0].mesh, MESH_COORDINATOR, MESH_LINK_COORDINATOR,
                  world.coord.curve_public, now);
    //  The new route wakes it: due at once
    assert (mesh_deadline (world.nodes [0].mesh) <= now);
    fabric_run (&world, now);
    for (int i = 0; i < FABRIC_NODES; i++)
        mesh_tick (world.nodes [i].mesh, now);
    fabric_run (&world, now);
    assert (mesh_distance (world.nodes [3].mesh) == 4);
    now += 2000;
    for (int i = 0; i < FABRIC_NODES; i++)
        mesh_tick (world.nodes [i].mesh, now);
    fabric_run (&world, now);
    assert (world.to_coord > before);

    //  Quarantine of gw-2: the list reaches every node (n3 through gw-2
    //  itself: the coordinator's lists pass a quarantined relay)
    meshmsg_t qmsg;
    memset (&qmsg, 0, sizeof qmsg);
    qmsg.type = MSG_QUARANTINE;
    qmsg.quarantine = 1;
    qmsg.names = "gw-2";
    qmsg.names_size = 4;
    fabric_coordinator_list (&world, &qmsg, 10, now);
    for (int i = 0; i < FABRIC_NODES; i++) {
        assert (mesh_quarantine (world.nodes [i].mesh) == 1);
        assert (mesh_quarantined (world.nodes [i].mesh, "gw-2"));
        assert (!mesh_quarantined (world.nodes [i].mesh, "gw-1"));
    }
    //  gw-2 is no next hop any more: n3, behind it, has no route
    assert (mesh_distance (world.nodes [2].mesh) == 3);
    assert (mesh_distance (world.nodes [3].mesh) == 0);
    //  gw-2's own report is refused at n1 (DENIED ends its retransmits)
    int to_coord = world.to_coord;
    fabric_send_own (&world, 2, MSG_TWIN_REPORTED, 20);
    mesh_flush (world.nodes [2].mesh, now);
    fabric_run (&world, now);
    assert (mesh_stats (world.nodes [1].mesh)->quarantined == 1);
    assert (outbox_size (mesh_outbox (world.nodes [2].mesh)) == 0);
    assert (mesh_stats (world.nodes [2].mesh)->custody_refused == 2);
    assert (world.to_coord == to_coord);
    //  its attestation evidence and heartbeats pass
    fabric_send_own (&world, 2, MSG_ATTEST_EVIDENCE, 21);
    fabric_send_own (&world, 2, MSG_HEARTBEAT, 22);
    mesh_flush (world.nodes [2].mesh, now);
    fabric_run (&world, now);
    assert (world.to_coord == to_coord + 2);
    assert (mesh_stats (world.nodes [1].mesh)->quarantined == 1);
    //  gw-2 relays nothing: gw-3's heartbeat handed over by gw-2 is refused
    frame = fabric_envelope (&world.nodes [3].keys, "gw-3", MSG_HEARTBEAT, 23,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    fabric_send (&world.nodes [2].ctx, "n1", MESH_COORDINATOR, frame, size);
    free (frame);
    fabric_run (&world, now);
    assert (mesh_stats (world.nodes [1].mesh)->quarantined == 2);
    //  and nothing but attestation traffic goes down to it
    frame = fabric_envelope (&world.coord, MESH_COORDINATOR, MSG_TWIN_DESIRED, 24,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-2", frame, size,
                           now) == -1);
    free (frame);
    frame = fabric_envelope (&world.coord, MESH_COORDINATOR, MSG_ATTEST_CHALLENGE, 25,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    int delivered = world.nodes [2].delivered;
    assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-2", frame, size,
                           now) == 0);
    free (frame);
    mesh_flush (world.nodes [0].mesh, now);
    fabric_run (&world, now);
    assert (world.nodes [2].delivered == delivered + 1);
    assert (mesh_stats (world.nodes [0].mesh)->quarantined == 1);
    char *qjson = mesh_stats_json (world.nodes [1].mesh);
    assert (strstr (qjson, "\"quarantined\":2,") && strstr (qjson, "\"quarantine\":1,"));
    free (qjson);
    //  Persisted: n1 restarted holds the list
    {
        fabric_restart_from_store (&world, 1, now);
        assert (mesh_quarantine (world.nodes [1].mesh) == 1);
        assert (mesh_quarantined (world.nodes [1].mesh, "gw-2"));
        mesh_destroy (&world.nodes [1].mesh);
    }
    //  (restore n1 with its real certificate and links)
    {
        fabric_node_t *node = &world.nodes [1];
        fabric_start (&world, 1, now, &options);
        mesh_link_down (world.nodes [0].mesh, "n1", now);
        mesh_link_down (world.nodes [2].mesh, "n1", now);
        mesh_link_up (world.nodes [0].mesh, "n1", MESH_LINK_ACCEPTED,
                      node->keys.curve_public, now);
        mesh_link_up (node->mesh, "n0", MESH_LINK_DIALLED, world.nodes [0].keys.curve_public,
                      now);
        fabric_run (&world, now);
        mesh_link_up (node->mesh, "n2", MESH_LINK_ACCEPTED, world.nodes [2].keys.curve_public,
                      now);
        mesh_link_up (world.nodes [2].mesh, "n1", MESH_LINK_DIALLED,
                      node->keys.curve_public, now);
        fabric_run (&world, now);
    }
    //  Version 2 releases gw-2: everyone takes it, n3 routes through gw-2 again
    qmsg.quarantine = 2;
    qmsg.names = "";
    qmsg.names_size = 0;
    fabric_coordinator_list (&world, &qmsg, 26, now);
    for (int i = 0; i < FABRIC_NODES; i++) {
        assert (mesh_quarantine (world.nodes [i].mesh) == 2);
        assert (!mesh_quarantined (world.nodes [i].mesh, "gw-2"));
    }
    now += 1000;
    for (int i = 0; i < FABRIC_NODES; i++)
        mesh_tick (world.nodes [i].mesh, now);
    fabric_run (&world, now);
    assert (mesh_distance (world.nodes [3].mesh) == 4);
    to_coord = world.to_coord;
    fabric_send_own (&world, 2, MSG_TWIN_REPORTED, 27);
    mesh_flush (world.nodes [2].mesh, now);
    fabric_run (&world, now);
    assert (world.to_coord == to_coord + 1);
    assert (mesh_stats (world.nodes [1].mesh)->quarantined == 0);   //  (n1 restarted)
    //  A policy the coordinator sends to gw-0 by name reaches gw-3 by
    //  gossip; the same object again stops at the first hop
    policy_object_t policy = { "profile", "gateway", 1, (const uint8_t *) "{}", 2 };
    uint8_t *object;
    size_t object_size;
    assert (policymsg_encode (&policy, world.ca.sign_secret, &object, &object_size) == 0);
    policymsg_t gossip = { .type = MSG_POLICY, .object = object, .object_size = object_size };
    uint8_t *gossip_payload;
    size_t gossip_size;
    assert (policymsg_msg_encode (&gossip, &gossip_payload, &gossip_size) == 0);
    for (int round = 0; round < 2; round++) {
        frame = fabric_envelope (&world.coord, MESH_COORDINATOR, MSG_POLICY, 100 + (uint64_t) round,
                              gossip_payload, gossip_size, &size);
        assert (mesh_on_frame (world.nodes [0].mesh, MESH_COORDINATOR, "gw-0", frame, size,
                               now) == 0);
        free (frame);
        fabric_run (&world, now);
    }
    for (int i = 0; i < FABRIC_NODES; i++)
        assert (policy_store_version (mesh_policies (world.nodes [i].mesh),
                                      "profile/gateway") == 1);
    assert (gossip_stats (mesh_gossip (world.nodes [0].mesh))->duplicates == 1);
    assert (gossip_stats (mesh_gossip (world.nodes [3].mesh))->stored == 1);
    //  Gossip from a neighbour that claims to be the coordinator's is refused
    frame = fabric_envelope (&world.nodes [1].keys, "gw-1", MSG_POLICY, 200, gossip_payload,
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
    fabric_coordinator_list (&world, &list, 9, now);
    for (int i = 0; i < 3; i++)
        assert (mesh_revocations (world.nodes [i].mesh) == 1);
    assert (!mesh_admit (world.nodes [2].mesh, world.nodes [3].keys.curve_public));
    assert (mesh_admit (world.nodes [2].mesh, world.nodes [1].keys.curve_public));
    assert (!mesh_has_link (world.nodes [2].mesh, "n3"));
    //  Survives a restart
    fabric_restart_from_store (&world, 1, now);
    assert (mesh_revocations (world.nodes [1].mesh) == 1);
    char *json = mesh_stats_json (world.nodes [2].mesh);
    assert (strstr (json, "\"forged_rejected\":5"));
    if (verbose)
        printf ("%s\n", json);
    free (json);

    keys_wipe (&forger);
    fabric_fini (&world, FABRIC_NODES);
    //  @end
    printf ("OK\n");
}
