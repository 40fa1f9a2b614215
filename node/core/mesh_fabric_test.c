/*  mesh_fabric_test - selftest support: mesh nodes wired to each other in
    memory (mesh_fabric.h), for the selftests of the mesh  */

#include "proto/corelib.h"
#include <sodium.h>
#include "node/core/mesh_fabric.h"

void
fabric_init (fabric_t *world, int count, const char *name)
{
    assert (count > 0 && count <= FABRIC_NODES);
    memset (world, 0, sizeof *world);
    snprintf (world->dir, sizeof world->dir, "/tmp/weft-%s.XXXXXX", name);
    assert (mkdtemp (world->dir));
    const char *tables [] = { MESH_TABLE, OUTBOX_TABLE, NULL };
    world->store = store_new (world->dir, tables, 0);
    assert (world->store);
    keys_generate (&world->ca);
    keys_generate (&world->coord);
    world->wire = zlistx_new ();
    for (int i = 0; i < count; i++) {
        fabric_node_t *node = &world->nodes [i];
        snprintf (node->name, sizeof node->name, "gw-%d", i);
        keys_generate (&node->keys);
        node->ctx.world = world;
        node->ctx.index = i;
    }
}

void
fabric_fini (fabric_t *world, int count)
{
    fabric_msg_t *msg;
    while ((msg = (fabric_msg_t *) zlistx_first (world->wire))) {
        zlistx_detach_cur (world->wire);
        free (msg->frame);
        free (msg);
    }
    zlistx_destroy (&world->wire);
    for (int i = 0; i < count; i++) {
        mesh_destroy (&world->nodes [i].mesh);
        keys_wipe (&world->nodes [i].keys);
    }
    keys_wipe (&world->ca);
    keys_wipe (&world->coord);
    store_destroy (&world->store);
    zdir_t *tree = zdir_new (world->dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
}

//  Link names: "n<i>" on both sides
int
fabric_send (void *ctx, const char *link, const char *dest, const uint8_t *frame, size_t size)
{
    fabric_ctx_t *c = (fabric_ctx_t *) ctx;
    if (streq (link, MESH_COORDINATOR)) {
        if (dest)
            c->world->to_coord++;
        return 0;
    }
    int to = link [1] - '0';
    if (c->world->cut [c->index][to])
        return -1;
    fabric_msg_t *msg = (fabric_msg_t *) zmalloc (sizeof (fabric_msg_t));
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
s_deliver (void *ctx, const uint8_t *frame, size_t size, char reason [WEFT_TEXT_MAX + 1])
{
    fabric_ctx_t *c = (fabric_ctx_t *) ctx;
    fabric_node_t *node = &c->world->nodes [c->index];
    if (node->refuse) {
        snprintf (reason, WEFT_TEXT_MAX + 1, "refused by the test");
        return node->refuse;
    }
    node->delivered++;
    node->last_size = size < sizeof node->last? size: sizeof node->last;
    memcpy (node->last, frame, node->last_size);
    return WEFT_STATUS_OK;
}

void
fabric_run (fabric_t *world, uint64_t now)
{
    for (int round = 0; round < 50; round++) {
        fabric_msg_t *msg;
        bool any = false;
        while ((msg = (fabric_msg_t *) zlistx_first (world->wire))) {
            zlistx_detach_cur (world->wire);
            mesh_on_frame (world->nodes [msg->to].mesh, msg->link,
                           msg->has_dest? msg->dest: NULL, msg->frame, msg->size, now);
            free (msg->frame);
            free (msg);
            any = true;
        }
        for (int i = 0; i < FABRIC_NODES; i++)
            if (world->nodes [i].mesh)
                mesh_flush (world->nodes [i].mesh, now);
        if (!any && zlistx_size (world->wire) == 0)
            break;
    }
}

void
fabric_tick (fabric_t *world, int count, uint64_t now)
{
    for (int i = 0; i < count; i++)
        mesh_tick (world->nodes [i].mesh, now);
    fabric_run (world, now);
}

uint8_t *
fabric_envelope (const keys_t *keys, const char *origin, int type, uint64_t seq,
                 const uint8_t *payload, size_t payload_size, size_t *size_p)
{
    return fabric_envelope_at (keys, origin, type, seq, FABRIC_EPOCH_MS, payload,
                               payload_size, size_p);
}

uint8_t *
fabric_envelope_at (const keys_t *keys, const char *origin, int type, uint64_t seq,
                    uint64_t time_ms, const uint8_t *payload, size_t payload_size,
                    size_t *size_p)
{
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, WEFT_ID_SIZE);
    env.type = type;
    snprintf (env.origin, sizeof env.origin, "%s", origin);
    env.seq = seq;
    env.hlc = time_ms << 16 | (seq & 0xFFFF);
    env.hop_limit = env.hops = WEFT_HOP_LIMIT;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame;
    int rc = envelope_encode (&env, keys->sign_secret, &frame, size_p);
    assert (rc == 0);
    return frame;
}

void
fabric_coordinator_list (fabric_t *world, const meshmsg_t *list, uint64_t seq, uint64_t now)
{
    uint8_t *payload;
    size_t payload_size;
    assert (meshmsg_encode (list, &payload, &payload_size) == 0);
    size_t size;
    uint8_t *frame = fabric_envelope (&world->coord, MESH_COORDINATOR, list->type, seq,
                                      payload, payload_size, &size);
    free (payload);
    assert (mesh_on_frame (world->nodes [0].mesh, MESH_COORDINATOR, "*", frame, size,
                           now) == 0);
    free (frame);
    fabric_run (world, now);
}

void
fabric_send_own (fabric_t *world, int index, int type, uint64_t seq)
{
    fabric_node_t *node = &world->nodes [index];
    size_t size;
    uint8_t *frame = fabric_envelope (&node->keys, node->name, type, seq,
                                      (const uint8_t *) "\x93\x01\x02\x03", 4, &size);
    assert (mesh_send_own (node->mesh, frame, size) == 0);
    free (frame);
}

//  Start node index's mesh from config (name, keys, store, CA and
//  coordinator keys, effects filled in here)
static void
s_start (fabric_t *world, int index, mesh_config_t *config, uint64_t now)
{
    fabric_node_t *node = &world->nodes [index];
    config->name = node->name;
    config->keys = &node->keys;
    config->ca_key = world->ca.sign_public;
    config->coord_sign = world->coord.sign_public;
    config->store = world->store;
    mesh_effects_t effects = { &node->ctx, fabric_send, NULL, s_deliver, NULL, NULL, NULL, NULL, NULL };
    node->mesh = mesh_new (config, &effects);
    assert (node->mesh);
    assert (mesh_start (node->mesh, now) == 0);
}

uint8_t *
fabric_cert (const keys_t *ca, const keys_t *keys, const char *name, const char *tenant,
             const char *role, uint64_t serial, uint64_t now, const uint8_t *ak_name,
             size_t *size_p)
{
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.serial = serial;
    cert.kind = CERT_KIND_NODE;
    snprintf (cert.subject, sizeof cert.subject, "%s", name);
    snprintf (cert.tenant, sizeof cert.tenant, "%s", tenant);
    snprintf (cert.role, sizeof cert.role, "%s", role);
    memcpy (cert.sign_key, keys->sign_public, WEFT_KEY_SIZE);
    memcpy (cert.curve_key, keys->curve_public, WEFT_KEY_SIZE);
    cert.not_after = now / 1000 + 86400;
    if (ak_name) {
        memcpy (cert.ak_name, ak_name, CERT_AK_NAME_SIZE);
        cert.ak_name_size = CERT_AK_NAME_SIZE;
    }
    uint8_t *bytes;
    assert (cert_encode (&cert, ca->sign_secret, &bytes, size_p) == 0);
    return bytes;
}

void
fabric_start (fabric_t *world, int index, uint64_t now, const fabric_start_t *options)
{
    fabric_start_t none = { 0 };
    if (!options)
        options = &none;
    fabric_node_t *node = &world->nodes [index];
    size_t cert_size;
    uint8_t *cert_bytes = fabric_cert (&world->ca, &node->keys, node->name, "",
                                       options->role? options->role: "gateway",
                                       options->serial? options->serial: (uint64_t) index + 10,
                                       now, NULL, &cert_size);
    char prefix [16];
    snprintf (prefix, sizeof prefix, "%d/", index);
    mesh_config_t config = {
        .tenant = "", .cert = cert_bytes, .cert_size = cert_size, .advert_ms = 1000,
        .prefix = options->prefix? options->prefix: prefix,
        .admit_unattested = options->admit_unattested, .verbose = options->verbose
    };
    s_start (world, index, &config, now);
    free (cert_bytes);
}

void
fabric_restart_from_store (fabric_t *world, int index, uint64_t now)
{
    mesh_destroy (&world->nodes [index].mesh);
    char prefix [16];
    snprintf (prefix, sizeof prefix, "%d/", index);
    mesh_config_t config = { .cert = (const uint8_t *) "x", .cert_size = 1, .prefix = prefix };
    s_start (world, index, &config, now);
}

void
fabric_line (fabric_t *world, int count, uint64_t now)
{
    mesh_link_up (world->nodes [0].mesh, MESH_COORDINATOR, MESH_LINK_COORDINATOR,
                  world->coord.curve_public, now);
    for (int i = 0; i + 1 < count; i++) {
        //  i+1 dials i: on i+1 the link is "n<i>", on i it is "n<i+1>"
        char name [16];
        snprintf (name, sizeof name, "n%d", i + 1);
        mesh_link_up (world->nodes [i].mesh, name, MESH_LINK_ACCEPTED,
                      world->nodes [i + 1].keys.curve_public, now);
        snprintf (name, sizeof name, "n%d", i);
        mesh_link_up (world->nodes [i + 1].mesh, name, MESH_LINK_DIALLED,
                      world->nodes [i].keys.curve_public, now);
        fabric_run (world, now);
    }
}

void
fabric_policy (fabric_t *world, int index, const policy_object_t *policy)
{
    uint8_t *object;
    size_t size;
    assert (policymsg_encode (policy, world->ca.sign_secret, &object, &size) == 0);
    assert (policy_store_offer (mesh_policies (world->nodes [index].mesh), object, size,
                                NULL, NULL) == POLICY_STORED);
    free (object);
}
