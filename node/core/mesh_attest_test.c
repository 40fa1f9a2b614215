/*  mesh_attest_test - selftest of fresh attestation in the mesh
    (mesh_attest.c): gw-0 (with the coordinator link) - gw-1, a site
    server - gw-2, and a profile that requires attestation of gateways  */

#include "proto/corelib.h"
#include "proto/passport.h"
#include "node/core/mesh_internal.h"
#include "node/core/mesh_fabric.h"

//  The coordinator's PASSPORT for node index, attested at attested_ms,
//  handed to gw-0 for it (custody, as the coordinator sends it)
static void
s_passport (fabric_t *world, int index, uint64_t attested_ms, uint64_t expires_ms,
            uint64_t now)
{
    passport_t passport = { .cert_serial = (uint64_t) index + 10, .verdict = PASSPORT_PASSED,
                            .attested_ms = attested_ms, .expires_ms = expires_ms,
                            .issuer = PASSPORT_COORDINATOR };
    snprintf (passport.device, sizeof passport.device, "%s", world->nodes [index].name);
    uint8_t *bytes;
    size_t size, frame_size;
    assert (passport_encode (&passport, world->coord.sign_secret, &bytes, &size) == 0);
    uint8_t *frame = fabric_envelope (&world->coord, MESH_COORDINATOR, MSG_PASSPORT,
                                      1000 + attested_ms, bytes, size, &frame_size);
    free (bytes);
    if (index == 0)
        assert (mesh_on_frame (world->nodes [0].mesh, MESH_COORDINATOR, NULL, frame,
                               frame_size, now) == 0);
    else
        assert (mesh_on_frame (world->nodes [0].mesh, MESH_COORDINATOR,
                               world->nodes [index].name, frame, frame_size, now) == 0);
    free (frame);
    mesh_flush (world->nodes [0].mesh, now);
    fabric_run (world, now);
}

void
mesh_attest_test (bool verbose)
{
    printf (" * mesh_attest: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    fabric_t world;
    fabric_init (&world, 3, "mesh-attest");
    uint64_t now = FABRIC_EPOCH_MS;
    const char *roles [] = { "gateway", "server", "gateway" };
    for (int i = 0; i < 3; i++) {
        fabric_start_t options = { .role = roles [i], .verbose = verbose };
        fabric_start (&world, i, now, &options);
    }
    fabric_line (&world, 3, now);
    //  No profile yet: every neighbour takes part
    assert (mesh_admitted (world.nodes [1].mesh, "gw-2", now));
    assert (mesh_distance (world.nodes [2].mesh) == 3);

    //  The CA-signed profile of gateways (requires attestation) reaches
    //  every node; renewed HELLOs carry no passport: gateways are refused
    policy_object_t policy = { "profile", "gateway", 1,
                               (const uint8_t *) "{\"pcrs\":{},\"interval_s\":60}", 27 };
    for (int i = 0; i < 3; i++)
        fabric_policy (&world, i, &policy);
    assert (!mesh_admitted (world.nodes [1].mesh, "gw-2", now));
    assert (!mesh_admitted (world.nodes [1].mesh, "gw-0", now));
    assert (mesh_admitted (world.nodes [0].mesh, "gw-1", now));     //  A server: no profile
    fabric_tick (&world, 3, now);
    assert (mesh_distance (world.nodes [1].mesh) == 0);     //  Not through gw-0
    assert (mesh_distance (world.nodes [2].mesh) == 0);
    //  gw-2 hands the server its report: refused (DENIED ends it); its
    //  heartbeat is taken, and held (no route up)
    size_t size;
    uint8_t *frame = fabric_envelope (&world.nodes [2].keys, "gw-2", MSG_TWIN_REPORTED, 1,
                                   (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    fabric_send (&world.nodes [2].ctx, "n1", MESH_COORDINATOR, frame, size);
    free (frame);
    fabric_run (&world, now);
    assert (mesh_stats (world.nodes [1].mesh)->unattested == 1);
    int to_coord = world.to_coord;
    frame = fabric_envelope (&world.nodes [2].keys, "gw-2", MSG_HEARTBEAT, 2,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    fabric_send (&world.nodes [2].ctx, "n1", MESH_COORDINATOR, frame, size);
    free (frame);
    fabric_run (&world, now);
    assert (mesh_stats (world.nodes [1].mesh)->unattested == 1);
    assert (outbox_size (mesh_outbox (world.nodes [1].mesh)) == 1);
    //  Passports from the coordinator for gw-0 and gw-2, down through
    //  unattested relays (the coordinator's own attestation traffic)
    s_passport (&world, 0, now, now + 64000, now);
    s_passport (&world, 2, now, now + 64000, now);
    assert (mesh_passport_ms (world.nodes [2].mesh) == now);
    assert (mesh_admitted (world.nodes [1].mesh, "gw-2", now));
    assert (mesh_admitted (world.nodes [1].mesh, "gw-0", now));
    fabric_tick (&world, 3, now);
    assert (mesh_distance (world.nodes [2].mesh) == 3);
    assert (world.to_coord > to_coord);     //  The held heartbeat went up
    to_coord = world.to_coord;
    fabric_send_own (&world, 2, MSG_TWIN_REPORTED, 3);
    mesh_flush (world.nodes [2].mesh, now);
    fabric_run (&world, now);
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
    assert (passport_encode (&other, world.coord.sign_secret, &bytes, &size) == 0);
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
    assert (passport_encode (&other, world.coord.sign_secret, &bytes, &size) == 0);
    env.payload = bytes;
    env.payload_size = size;
    assert (mesh_on_passport (world.nodes [2].mesh, &env, now, reason) == WEFT_STATUS_OK);
    assert (mesh_passport_ms (world.nodes [2].mesh) == held);             //  Older: kept ours
    free (bytes);

    //  Overdue: past its expiry gw-2 is refused again, by the server's own
    //  clock, and no route goes through an overdue gw-0
    now += 64000;
    fabric_tick (&world, 3, now);
    assert (!mesh_admitted (world.nodes [1].mesh, "gw-2", now));
    assert (mesh_distance (world.nodes [1].mesh) == 0);
    frame = fabric_envelope (&world.nodes [2].keys, "gw-2", MSG_TWIN_REPORTED, 4,
                          (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    fabric_send (&world.nodes [2].ctx, "n1", MESH_COORDINATOR, frame, size);
    free (frame);
    fabric_run (&world, now);
    assert (mesh_stats (world.nodes [1].mesh)->unattested == 2);
    //  The site server's own passport for gw-2 (it verified it while cut
    //  off) admits it again; so does the coordinator's for gw-0
    assert (mesh_passport_issue (world.nodes [1].mesh, "gw-2", now, now + 64000, &bytes,
                                 &size) == 0);
    assert (mesh_passport_issue (world.nodes [1].mesh, "gw-7", now, now + 64000, &bytes,
                                 &size) == -1);     //  Not a neighbour
    size_t frame_size;
    frame = fabric_envelope (&world.nodes [1].keys, "gw-1", MSG_PASSPORT, 50, bytes, size,
                          &frame_size);
    free (bytes);
    assert (mesh_send_to (world.nodes [1].mesh, "gw-2", frame, frame_size) == 0);
    free (frame);
    mesh_flush (world.nodes [1].mesh, now);
    fabric_run (&world, now);
    assert (mesh_passport_ms (world.nodes [2].mesh) == now);
    assert (mesh_admitted (world.nodes [1].mesh, "gw-2", now));
    s_passport (&world, 0, now, now + 64000, now);
    fabric_tick (&world, 3, now);
    assert (mesh_distance (world.nodes [2].mesh) == 3);
    char *json = mesh_stats_json (world.nodes [1].mesh);
    assert (strstr (json, "\"unattested\":2,"));
    free (json);
    if (verbose)
        printf ("   overdue: refused; a site server's passport admits it again\n");

    //  A restart keeps our passport (not our peers': they present theirs)
    mesh_destroy (&world.nodes [2].mesh);
    fabric_start (&world, 2, now, &(fabric_start_t) { .verbose = verbose });
    assert (mesh_passport_ms (world.nodes [2].mesh) == now);
    //  A node told not to require attestation admits without one
    mesh_destroy (&world.nodes [2].mesh);
    fabric_node_t *late = &world.nodes [2];
    fabric_start_t unguarded = { .serial = 99, .prefix = "open/", .admit_unattested = true };
    fabric_start (&world, 2, now, &unguarded);
    policy = (policy_object_t) { "profile", "server", 1, (const uint8_t *) "{}", 2 };
    fabric_policy (&world, 2, &policy);
    mesh_link_down (world.nodes [1].mesh, "n2", now);
    mesh_link_up (world.nodes [1].mesh, "n2", MESH_LINK_ACCEPTED, late->keys.curve_public, now);
    mesh_link_up (late->mesh, "n1", MESH_LINK_DIALLED, world.nodes [1].keys.curve_public, now);
    fabric_run (&world, now);
    assert (mesh_admitted (late->mesh, "gw-1", now));   //  Its profile would require it
    assert (!mesh_admitted (world.nodes [1].mesh, "gw-2", now));    //  Serial 99: not its passport
    //  The same link, a new certificate of another type: the requirement
    //  (looked up per link, not per frame) follows its HELLO both ways
    const char *types [] = { "sensor", "gateway" };
    for (int i = 0; i < 2; i++) {
        mesh_destroy (&late->mesh);
        fabric_start_t again = { .serial = 100 + (uint64_t) i, .role = types [i],
                                 .prefix = i? "again/": "server/", .admit_unattested = true };
        fabric_start (&world, 2, now, &again);
        mesh_link_up (late->mesh, "n1", MESH_LINK_DIALLED, world.nodes [1].keys.curve_public,
                      now);
        fabric_run (&world, now);
        assert (mesh_admitted (world.nodes [1].mesh, "gw-2", now) == (i == 0));
    }

    fabric_fini (&world, 3);
    //  @end
    printf ("OK\n");
}
