/*  coord_host - the coordinator core in weft-sim, and the I/O that
    weft-coord's server (coordinator/io/server.c) does around it
    Custody transfers from the site servers go to coord_on_mesh_link and
    are acknowledged per server after the group commit (coord_commit);
    replies wait for it, and a push made meanwhile waits behind them.
    What goes through a server is handed to the core's custody
    (coord_sent_custody) and retransmitted by coord_tick at
    coord_deadline. The operator's calls (twin.set, device.revoke) go
    through the real RPC path.  */

#include "sim/world_internal.h"
#include "proto/seal.h"

//  Remember TWIN_DESIRED envelopes sent to node, to match its ACKs.
static void
s_observe_down (world_t *self, uint32_t node, const uint8_t *data, size_t size)
{
    envelope_t env;
    msg_t msg;
    if (envelope_decode (&env, data, size) || env.type != MSG_TWIN_DESIRED)
        return;
    if (msg_decode (&msg, MSG_TWIN_DESIRED, env.payload, env.payload_size))
        return;
    snode_t *n = &self->node [node];
    memcpy (n->ring_ids [n->ring_next], env.id, WEFT_ID_SIZE);
    n->ring_versions [n->ring_next] = msg.twin_desired.version;
    n->ring_next = (n->ring_next + 1) % RING;
}

//  A coordinator frame to server (its uplink), as weft-coord's server
//  sends it: link-local (dest DEST_NONE) or a custody transfer.
static void
s_coord_send (world_t *self, uint32_t server, uint32_t dest, const uint8_t *data,
              size_t size, uint32_t round)
{
    if (dest < self->nodes)
        s_observe_down (self, dest, data, size);
    if (dest == DEST_NONE || dest == server)
        rollout_observe (self, server, data, size);
    frame_t *frame = net_frame (COORD, server, dest, data, size);
    frame->link = 2 * self->node [server].site + 1;
    frame->dir = 1;
    frame->round = round;
    net_transmit (self, frame);
}

//  The round of the coordinator's custody transfer to a device through
//  its server: first on its first send, one more on each retransmission
//  (coord_tick's, through the push effect), like a relay's. Kept per
//  device for its last SIM_COORD_SENT frames (exact for those; a frame
//  the coordinator kept longer counts as a first send again)
static uint32_t
s_coord_round (world_t *self, uint32_t device, const uint8_t *data, size_t size,
               uint32_t first)
{
    envelope_t env;
    if (envelope_decode (&env, data, size))
        return first;
    uint64_t id;
    memcpy (&id, env.id, sizeof id);
    id |= 1;
    snode_t *n = &self->node [device];
    for (int i = 0; i < SIM_COORD_SENT; i++)
        if (n->coord_sent [i].id == id)
            return n->coord_sent [i].round + ++n->coord_sent [i].sends;
    coord_sent_t *slot = &n->coord_sent [n->coord_sent_next];
    n->coord_sent_next = (uint8_t) ((n->coord_sent_next + 1) % SIM_COORD_SENT);
    *slot = (coord_sent_t) { id, first - 1, 1 };
    return first;
}

//  Arm the coordinator's timer for coord_deadline (its batch writes and
//  its custody retransmissions) unless it is armed for sooner already
void
coord_host_arm (world_t *self)
{
    uint64_t at_ms = coord_deadline (self->coord);
    uint64_t at_us = at_ms > EPOCH_MS? (at_ms - EPOCH_MS) * 1000: 0;
    if (at_us < self->sched.now)
        at_us = self->sched.now;
    if (self->tick_gen && at_us >= self->tick_us)
        return;
    self->tick_us = at_us;
    sched_push (&self->sched, at_us, EV_TICK, 0, ++self->tick_gen, NULL);
}

//  Hold a coordinator frame until the next group commit, in seq order.
static void
s_hold (world_t *self, frame_t *frame)
{
    if (self->npending == self->pending_cap) {
        self->pending_cap = self->pending_cap? 2 * self->pending_cap: 256;
        self->pending = (frame_t **) realloc (self->pending,
                                              self->pending_cap * sizeof (frame_t *));
        assert (self->pending);
    }
    self->pending [self->npending++] = frame;
}

//  The coordinator reaches a device through the server its last
//  envelope came from (weft-coord's route table); none: dropped, the
//  device gets the document on its next heartbeat. The coordinator
//  keeps custody of what it sends through a server (coord_sent_custody)
//  and retransmits it through here until the server's CUSTODY_ACK.
static void
s_fx_push (void *ctx, const char *device_id, const uint8_t *data, size_t size)
{
    world_t *self = (world_t *) ctx;
    uint32_t index;
    if (!node_host_index (device_id, &index) || index >= self->nodes)
        return;
    uint32_t via = self->node [index].via;
    if (via == COORD)
        return;
    //  Replies waiting for the group commit carry lower seqs: a push must
    //  not overtake them on the way to a node, or it could leave them more
    //  than REPLAY_WINDOW seqs behind (refused as replays). It waits too.
    //  A push starts a chain: one round after the device's own round
    uint32_t round = s_coord_round (self, index, data, size, self->node [index].round + 1);
    if (self->npending && !self->opt->bug_push_overtakes_reply) {
        frame_t *held = net_frame (COORD, via, index, data, size);
        held->push = true;
        held->round = round;
        s_hold (self, held);
        return;
    }
    s_coord_send (self, via, index, data, size, round);
    //  Through a relay, or a document to the server itself (kept until its
    //  ACK), as server.c's s_push
    char relay [NH_NAME_MAX];
    node_host_name (via, relay);
    coord_sent_custody (self->coord, device_id, relay, true, data, size, world_now_ms (self));
    coord_host_arm (self);
}

//  A link-local frame to a node linked to us directly (a CHUNK_DATA to a
//  site server): on its uplink, no custody; dropped if it is no server
static void
s_fx_send_link (void *ctx, const char *device_id, const uint8_t *data, size_t size)
{
    world_t *self = (world_t *) ctx;
    uint32_t index;
    if (!node_host_index (device_id, &index) || index >= self->nodes
    ||  self->sites [self->node [index].site].first != index)
        return;
    s_coord_send (self, index, DEST_NONE, data, size, 0);
    if (self->opt->bug_chunk_twice)
        s_coord_send (self, index, DEST_NONE, data, size, 0);
}

//  A frame from a site server's link (weft-coord's s_recv): a custody
//  transfer [dest, envelope] whose origin may be a gateway behind the
//  server, or a link-local envelope (ROUTE, HELLO, CUSTODY_ACK)
void
coord_host_frame (world_t *self, frame_t *frame)
{
    uint32_t server = frame->src;
    //  An ACK of a TWIN_DESIRED: the node says the version is durable
    envelope_t env;
    msg_t msg;
    uint32_t origin;
    if (envelope_decode (&env, frame->data, frame->size) == 0 && env.type == MSG_ACK
    &&  node_host_index (env.origin, &origin) && origin < self->nodes
    &&  msg_decode (&msg, MSG_ACK, env.payload, env.payload_size) == 0
    &&  msg.ack.status == WEFT_STATUS_OK) {
        snode_t *n = &self->node [origin];
        for (int i = 0; i < RING; i++)
            if (memcmp (n->ring_ids [i], msg.ack.ack_id, WEFT_ID_SIZE) == 0) {
                self->desired_acks++;
                if (n->ring_versions [i] > n->acked_desired)
                    n->acked_desired = n->ring_versions [i];
                check_node (self, origin);
                break;
            }
    }
    if (frame->dest != DEST_NONE && frame->dest != COORD) {
        self->coord_malformed++;    //  weft-coord takes custody only for itself
        return;
    }
    char name [NH_NAME_MAX];
    node_host_name (server, name);
    coord_link_t link;
    memset (&link, 0, sizeof link);
    link.custody = frame->dest == COORD;
    uint8_t *reply = NULL;
    size_t reply_size = 0;
    int rc = coord_on_mesh_link (self->coord, name, &link, frame->data, frame->size,
                                 world_now_ms (self), &reply, &reply_size);
    if (rc == 0)
        attest_observe (self, frame->data, frame->size);
    //  A verified envelope: its origin is reached through this server
    if (rc == 0 && link.origin [0] && node_host_index (link.origin, &origin)
    &&  origin < self->nodes && self->node [origin].via != server) {
        self->node [origin].via = server;
        //  What the core keeps for it and could not send goes now
        coord_route_up (self->coord, link.origin, world_now_ms (self));
        coord_host_arm (self);
    }
    //  The server's own first one on a new connection: what the core
    //  keeps for the devices behind it goes out at once (weft-coord's
    //  s_recv does the same when a relay's routing id changes)
    if (rc == 0 && streq (link.origin, name) && self->node [server].relinked) {
        self->node [server].relinked = false;
        coord_relay_linked (self->coord, name, world_now_ms (self));
        coord_host_arm (self);
    }
    if (reply) {
        uint32_t dest = DEST_NONE;
        if (link.reply_dest [0] && !node_host_index (link.reply_dest, &dest))
            dest = streq (link.reply_dest, "*")? DEST_ALL: DEST_NONE;
        frame_t *held = net_frame (COORD, server, dest, reply, reply_size);
        held->round = frame->round + 1;     //  Caused by the request
        s_hold (self, held);
        free (reply);
    }
    //  Custody is acknowledged after the commit, with the core's verdict:
    //  the held frame is id || status || reason
    if (link.custody && link.decoded) {
        uint8_t verdict [WEFT_ID_SIZE + 1 + WEFT_TEXT_MAX];
        size_t reason_size = strlen (link.ack_reason);
        memcpy (verdict, link.id, WEFT_ID_SIZE);
        verdict [WEFT_ID_SIZE] = (uint8_t) link.ack_status;
        memcpy (verdict + WEFT_ID_SIZE + 1, link.ack_reason, reason_size);
        frame_t *ack = net_frame (COORD, server, DEST_NONE, verdict,
                                  WEFT_ID_SIZE + 1 + reason_size);
        ack->ack = true;
        s_hold (self, ack);
    }
    if (!self->commit_armed) {
        self->commit_armed = true;
        sched_push (&self->sched, self->sched.now + COMMIT_US, EV_COMMIT, 0, 0, NULL);
    }
}

//  After the group commit: one CUSTODY_ACK per server for its ids (as
//  weft-coord does per burst), then the replies and held pushes in order
void
coord_host_commit (world_t *self)
{
    self->commit_armed = false;
    if (self->coord_down)
        return;
    bool durable = coord_commit (self->coord) == 0;
    uint64_t now_ms = world_now_ms (self);
    for (size_t i = 0; durable && i < self->npending; i++) {
        frame_t *frame = self->pending [i];
        if (!frame->ack)
            continue;
        if (frame->data [WEFT_ID_SIZE] != WEFT_STATUS_OK) {
            //  A refusal goes alone, with its reason
            char reason [WEFT_TEXT_MAX + 1];
            size_t reason_size = frame->size - WEFT_ID_SIZE - 1;
            memcpy (reason, frame->data + WEFT_ID_SIZE + 1, reason_size);
            reason [reason_size] = 0;
            uint8_t *ack;
            size_t ack_size;
            if (coord_custody_ack (self->coord, frame->data, 1, frame->data [WEFT_ID_SIZE],
                                   reason, now_ms, &ack, &ack_size) == 0) {
                s_coord_send (self, frame->dst, DEST_NONE, ack, ack_size, 0);
                free (ack);
            }
            continue;
        }
        site_t *site = &self->sites [self->node [frame->dst].site];
        if (site->nacks == site->acks_cap) {
            site->acks_cap = site->acks_cap? 2 * site->acks_cap: 16;
            site->acks = (uint8_t *) realloc (site->acks, site->acks_cap * WEFT_ID_SIZE);
            assert (site->acks);
        }
        if (site->nacks == 0)
            self->ack_sites [self->nack_sites++] = self->node [frame->dst].site;
        memcpy (site->acks + site->nacks++ * WEFT_ID_SIZE, frame->data, WEFT_ID_SIZE);
    }
    for (size_t k = 0; k < self->nack_sites; k++) {
        site_t *site = &self->sites [self->ack_sites [k]];
        for (size_t first = 0; first < site->nacks; first += MESHMSG_ACK_IDS_MAX) {
            size_t count = site->nacks - first;
            count = count > MESHMSG_ACK_IDS_MAX? MESHMSG_ACK_IDS_MAX: count;
            uint8_t *ack;
            size_t ack_size;
            if (coord_custody_ack (self->coord, site->acks + first * WEFT_ID_SIZE, count,
                                   WEFT_STATUS_OK, NULL, now_ms, &ack, &ack_size) == 0) {
                s_coord_send (self, site->first, DEST_NONE, ack, ack_size, 0);
                free (ack);
            }
        }
        site->nacks = 0;
    }
    self->nack_sites = 0;
    for (size_t i = 0; i < self->npending; i++) {
        frame_t *frame = self->pending [i];
        if (!frame->ack && (durable || frame->push)) {
            bool custody = frame->dest < self->nodes;
            if (custody && !frame->push)
                frame->round = s_coord_round (self, frame->dest, frame->data, frame->size,
                                              frame->round);
            s_coord_send (self, frame->dst, frame->dest, frame->data, frame->size,
                          frame->round);
            if (custody) {
                char name [NH_NAME_MAX], relay [NH_NAME_MAX];
                node_host_name (frame->dest, name);
                node_host_name (frame->dst, relay);
                coord_sent_custody (self->coord, name, relay, true, frame->data,
                                    frame->size, now_ms);
            }
        }
        free (frame);
    }
    self->npending = 0;
    coord_host_arm (self);
}

//  One call by the operator, through the coordinator's RPC path. Returns
//  the result object (caller frees) or NULL if the call failed.
static json_t *
s_operator_call (world_t *self, const char *method, char *args)
{
    if (self->coord_down) {
        zstr_free (&args);          //  The operator's call finds no coordinator
        return NULL;
    }
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_RPC_REQUEST;
    snprintf (msg.rpc_request.method, sizeof msg.rpc_request.method, "%s", method);
    msg.rpc_request.args = args;
    msg.rpc_request.args_size = strlen (args);
    uint8_t *payload = NULL, *frame = NULL, *reply = NULL;
    size_t payload_size, size, reply_size;
    int rc = msg_encode (&msg, &payload, &payload_size);
    zstr_free (&args);
    self->op_seq++;
    uint8_t id [WEFT_ID_SIZE];
    envelope_id_derive (id, OPERATOR, self->op_seq);
    //  Operator requests expire within 60 s
    envelope_head_t head = { .type = MSG_RPC_REQUEST, .origin = OPERATOR,
                             .seq = self->op_seq, .hlc = world_now_ms (self) << 16,
                             .expiry = world_now_ms (self) + 30000,
                             .hop_limit = WEFT_HOP_LIMIT, .id = id };
    envelope_t env;
    if (rc == 0)
        rc = envelope_seal (&head, payload, payload_size, self->op_keys.sign_secret, NULL,
                            &frame, &size);
    free (payload);
    if (rc == 0)
        rc = coord_on_rpc (self->coord, OPERATOR, "", frame, size, world_now_ms (self),
                           &reply, &reply_size);
    free (frame);
    json_t *result = NULL;
    if (rc == 0 && reply && envelope_decode (&env, reply, reply_size) == 0
    &&  msg_decode (&msg, MSG_RPC_REPLY, env.payload, env.payload_size) == 0
    &&  msg.rpc_reply.status == WEFT_STATUS_OK) {
        json_error_t error;
        result = json_loadb (msg.rpc_reply.result, msg.rpc_reply.result_size, 0, &error);
    }
    free (reply);
    return result;
}

//  Any call by the operator (rollout.c.s)
json_t *
coord_host_call (world_t *self, const char *method, char *args)
{
    return s_operator_call (self, method, args);
}

//  One twin.set by the operator.
void
coord_host_twin_set (world_t *self, uint32_t node, const char *patch)
{
    char name [NH_NAME_MAX];
    node_host_name (node, name);
    json_t *result = s_operator_call (self, "twin.set", zsys_sprintf (
        "{\"id\":\"%s\",\"patch\":%s}", name, patch));
    self->twin_calls++;
    uint64_t version = json_integer_value (json_object_get (result, "desired_version"));
    json_decref (result);
    if (version == 0) {
        self->twin_failed++;
        return;
    }
    snode_t *n = &self->node [node];
    if (version <= n->want)
        world_violation (self, "node %u: desired version at the coordinator went from %"
                     PRIu64 " to %" PRIu64, node, n->want, version);
    n->want = version;
    n->call_us = self->sched.now;
    n->call_round = n->round;
    if (n->delivered) {
        n->delivered = false;
        self->delivered--;
    }
    check_node (self, node);
}

//  device.revoke by the operator; weft-coord then sends the new list to
//  the nodes linked to it (here: once to each connected site server)
void
coord_host_revoke (world_t *self, uint32_t node)
{
    char name [NH_NAME_MAX];
    node_host_name (node, name);
    json_t *result = s_operator_call (self, "device.revoke",
                                      zsys_sprintf ("{\"id\":\"%s\"}", name));
    bool ok = json_is_true (json_object_get (result, "revoked"));
    json_decref (result);
    size_t size;
    const uint8_t *list = ok? coord_revocations (self->coord, &size): NULL;
    envelope_t env;
    meshmsg_t msg;
    if (!ok || !list || envelope_decode (&env, list, size)
    ||  meshmsg_decode (&msg, MSG_REVOCATIONS, env.payload, env.payload_size)) {
        world_violation (self, "device.revoke of node %u failed", node);
        return;
    }
    self->node [node].revoked = true;
    self->revoke_version = msg.revocations;
    self->revoke_node = node;
    self->revoke_us = self->sched.now;
    self->revoke_round = 0;
    self->revocation_holders = 0;
    for (uint32_t i = 0; i < self->nodes; i++)
        self->node [i].revocation_held = false;
    //  The coordinator closes the revoked node's connection; ZAP refuses it after
    if (net_is_server (self, node))
        net_unlink (self, node);
    for (uint32_t s = 0; s < self->nsites; s++) {
        uint32_t server = self->sites [s].first;
        if (server != node && self->node [server].linked)
            s_coord_send (self, server, DEST_ALL, list, size, 1);
    }
    for (uint32_t i = 0; i < self->nodes; i++)
        check_node (self, i);
}

//  The quarantine list changed (a verdict failed, or passed again):
//  weft-coord sends it to every node linked to it, here each connected
//  site server, which spreads it to its gateways
static void
s_quarantine_changed (void *ctx)
{
    world_t *self = (world_t *) ctx;
    size_t size;
    const uint8_t *list = coord_quarantine (self->coord, &size);
    for (uint32_t s = 0; list && s < self->nsites; s++) {
        uint32_t server = self->sites [s].first;
        if (self->node [server].linked)
            s_coord_send (self, server, DEST_ALL, list, size, 1);
    }
}

//  Coordinator store: its certificate, the operator, every device.
int
coord_host_setup (world_t *self, const keys_t *ca, const keys_t *coord_keys)
{
    size_t map = ((size_t) self->nodes * 16384 + ((size_t) 256 << 20));
    self->coord_store = store_new (self->coord_dir, registry_tables (), map);
    if (!self->coord_store || store_set_nosync (self->coord_store, true))
        return -1;
    uint64_t now_s = EPOCH_MS / 1000;
    pki_t *pki = pki_new (ca);
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.kind = CERT_KIND_COORDINATOR;
    snprintf (cert.subject, sizeof cert.subject, "%s", COORD_ORIGIN);
    snprintf (cert.role, sizeof cert.role, "coordinator");
    memcpy (cert.sign_key, coord_keys->sign_public, 32);
    memcpy (cert.curve_key, coord_keys->curve_public, 32);
    uint8_t *coord_cert = NULL, *op_cert = NULL;
    size_t coord_cert_size = 0, op_cert_size = 0;
    uint64_t serial;
    char error [WEFT_TEXT_MAX + 1];
    store_txn_t *txn = store_begin (self->coord_store, true);
    int rc = txn? pki_issue (pki, txn, &cert, now_s, &coord_cert, &coord_cert_size): -1;
    if (rc == 0)
        rc = rpc_operator_create (pki, txn, OPERATOR, "admin", "",
                                  self->op_keys.sign_public, self->op_keys.curve_public,
                                  true, now_s, &op_cert, &op_cert_size, &serial, error);
    free (op_cert);
    if (rc == 0)
        rc = attest_coord_setup (self, txn, pki);
    if (rc == 0)
        rc = store_commit (&txn);
    store_abort (&txn);
    pki_destroy (&pki);
    //  Device records, in batches
    for (uint32_t first = 0; rc == 0 && first < self->nodes; first += 10000) {
        txn = store_begin (self->coord_store, true);
        rc = txn? 0: -1;
        for (uint32_t i = first; rc == 0 && i < first + 10000 && i < self->nodes; i++) {
            keys_t keys;
            node_host_keys (self->scn->seed, i, &keys);
            char name [NH_NAME_MAX], sign_hex [65], curve_hex [65];
            node_host_name (i, name);
            keys_hex (keys.sign_public, 32, sign_hex);
            keys_hex (keys.curve_public, 32, curve_hex);
            keys_wipe (&keys);
            const char *type = i == self->sites [self->node [i].site].first
                             ? "server": "gateway";
            json_t *record = json_pack ("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:b}",
                "id", name, "tenant", "", "type", type, "role", type,
                "enrolled", (json_int_t) now_s, "cert_serial", (json_int_t) 0,
                "sign_key", sign_hex, "curve_key", curve_hex, "cert", "",
                "token", "", "revoked", 0);
            rc = record? attest_record (self, i, record): -1;
            if (record)
                rollout_record (self, i, record);
            if (rc == 0)
                rc = registry_device_put (txn, record);
            json_decref (record);
        }
        if (rc == 0)
            rc = store_commit (&txn);
        store_abort (&txn);
    }
    if (rc == 0) {
        coord_effects_t effects = { self, s_fx_push, s_fx_send_link };
        self->coord = coord_new (self->coord_store, ca, coord_keys, coord_cert,
                                 coord_cert_size, &effects);
        rc = self->coord? 0: -1;
    }
    if (self->coord) {              //  As weft-coord --heartbeat, the fleet's
        coord_set_heartbeat (self->coord, self->scn->heartbeat_ms);
        coord_set_quarantine_hook (self->coord, s_quarantine_changed);
    }
    self->ca_keys = *ca;
    self->coord_keys = *coord_keys;
    self->coord_cert = coord_cert;
    self->coord_cert_size = coord_cert_size;
    return rc;
}

//  The coordinator crashes: the core goes without writing what was
//  pending (coord_abandon), the replies and ACKs held for the group
//  commit are never sent, the site servers' connections break (frames
//  in flight on the uplinks are lost with them) and its routes to the
//  devices are forgotten, as weft-coord's are. It starts again from its
//  store after for_us; the servers then dial it again.
void
coord_host_crash (world_t *self, uint64_t for_us)
{
    if (self->coord_down)
        return;
    coord_abandon (&self->coord);
    self->coord_down = true;
    self->coord_crashes++;
    for (size_t i = 0; i < self->npending; i++)
        free (self->pending [i]);
    self->npending = 0;
    self->commit_armed = false;
    self->tick_gen++;                   //  Its armed timer is gone
    self->tick_us = UINT64_MAX;
    for (uint32_t i = 0; i < self->nodes; i++)
        self->node [i].via = COORD;
    for (uint32_t s = 0; s < self->nsites; s++) {
        self->links [2 * s + 1].epoch++;
        net_unlink (self, self->sites [s].first);
    }
    sched_push (&self->sched, self->sched.now + for_us, EV_COORD_RESTART, 0, 0, NULL);
}

//  EV_COORD_RESTART: weft-coord starting over its store.
void
coord_host_restart (world_t *self)
{
    coord_effects_t effects = { self, s_fx_push, s_fx_send_link };
    self->coord = coord_new (self->coord_store, &self->ca_keys, &self->coord_keys,
                             self->coord_cert, self->coord_cert_size, &effects);
    if (!self->coord) {
        world_violation (self, "the coordinator cannot start from its store");
        return;
    }
    coord_set_heartbeat (self->coord, self->scn->heartbeat_ms);
    coord_set_quarantine_hook (self->coord, s_quarantine_changed);
    self->coord_down = false;
    coord_host_arm (self);
    for (uint32_t s = 0; s < self->nsites; s++)
        if (self->node [self->sites [s].first].up)
            net_connect_later (self, self->sites [s].first);
}
