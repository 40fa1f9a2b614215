/*  server_test - selftest of weft-coord's sockets: an operator's call
    over CURVE, a stranger refused, malformed shapes counted, a device's
    heartbeat and a twin.set pushed to it; and the verifier pool
    (server_pool_test).  */

#include <czmq.h>
#include <sodium.h>
#include "proto/envelope.h"
#include "coordinator/core/coord.h"
#include "coordinator/core/registry.h"
#include "coordinator/io/server.h"
#include "proto/msg.h"
#include "proto/meshmsg.h"
#include "coordinator/core/pki.h"
#include "coordinator/core/rpc.h"

static zsock_t *
s_test_client (const keys_t *keys, const keys_t *server, int port)
{
    zsock_t *client = zsock_new (ZMQ_DEALER);
    zsock_set_curve_secretkey_bin (client, keys->curve_secret);
    zsock_set_curve_publickey_bin (client, keys->curve_public);
    zsock_set_curve_serverkey_bin (client, server->curve_public);
    zsock_set_linger (client, 0);
    int rc = zsock_connect (client, "tcp://127.0.0.1:%d", port);
    assert (rc == 0);
    return client;
}

static void
s_test_send (const keys_t *keys, const char *origin, uint64_t seq, const msg_t *msg,
             zsock_t *client);

static void
s_test_call (const keys_t *keys, const char *origin, uint64_t seq, zsock_t *client)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_RPC_REQUEST;
    strcpy (msg.rpc_request.method, "coord.stats");
    msg.rpc_request.args = "{}";
    msg.rpc_request.args_size = 2;
    s_test_send (keys, origin, seq, &msg, client);
}

//  msg sealed by keys as origin with seq and hop limit hops; its id in
//  id_out if not NULL. Caller frees.
static uint8_t *
s_test_seal (const keys_t *keys, const char *origin, uint64_t seq, const msg_t *msg_in,
             uint8_t hops, uint8_t *id_out, size_t *size_p)
{
    msg_t msg = *msg_in;
    uint8_t *payload;
    size_t payload_size;
    assert (msg_encode (&msg, &payload, &payload_size) == 0);
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, sizeof env.id);
    if (id_out)
        memcpy (id_out, env.id, WEFT_ID_SIZE);
    env.type = msg.type;
    strcpy (env.origin, origin);
    env.seq = seq;
    //  Operator requests must expire within a minute (nonces.h)
    if (msg.type == MSG_RPC_REQUEST)
        env.expiry = (uint64_t) zclock_time () + 30000;
    env.hop_limit = env.hops = hops;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame;
    assert (envelope_encode (&env, keys->sign_secret, &frame, size_p) == 0);
    free (payload);
    return frame;
}

static void
s_test_send (const keys_t *keys, const char *origin, uint64_t seq, const msg_t *msg,
             zsock_t *client)
{
    size_t size;
    uint8_t *frame = s_test_seal (keys, origin, seq, msg, 1, NULL, &size);
    zframe_t *out = zframe_new (frame, size);
    zframe_send (&out, client, ZFRAME_DONTWAIT);
    free (frame);
}

//  Serve until client has a reply or timeout; returns it or NULL.
static zmsg_t *
s_test_wait (server_t *server, zsock_t *client, int64_t timeout_ms)
{
    int64_t until = zclock_mono () + timeout_ms;
    while (zclock_mono () < until) {
        server_run_for (server, 20);
        zmsg_t *reply = zmsg_recv_nowait (client);
        if (reply)
            return reply;
    }
    return NULL;
}

//  A store in a fresh directory (path, "XXXXXX"-ended, is filled in)
//  with the coordinator's certificate (issued by ca to keys) and its
//  ready-made keys
static store_t *
s_test_store (char *path, keys_t *ca, keys_t *keys, uint8_t **cert_p, size_t *cert_size_p)
{
    assert (mkdtemp (path));
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    keys_generate (ca);
    keys_generate (keys);
    pki_t *pki = pki_new (ca);
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.kind = CERT_KIND_COORDINATOR;
    strcpy (cert.subject, "coordinator");
    memcpy (cert.sign_key, keys->sign_public, 32);
    memcpy (cert.curve_key, keys->curve_public, 32);
    store_txn_t *txn = store_begin (store, true);
    assert (pki_issue (pki, txn, &cert, 1700000000, cert_p, cert_size_p) == 0);
    assert (store_commit (&txn) == 0);
    pki_destroy (&pki);
    return store;
}

//  Enrol device id with node's keys (its record as enrolment leaves it)
static void
s_test_device (store_t *store, const char *id, const keys_t *node)
{
    char sign_hex [65], curve_hex [65];
    keys_hex (node->sign_public, 32, sign_hex);
    keys_hex (node->curve_public, 32, curve_hex);
    json_t *device = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", id,
        "tenant", "", "type", "gateway", "role", "gateway", "sign_key", sign_hex,
        "curve_key", curve_hex, "revoked", 0);
    store_txn_t *txn = store_begin (store, true);
    assert (registry_device_put (txn, device) == 0);
    assert (store_commit (&txn) == 0);
    json_decref (device);
}

void
server_test (bool verbose)
{
    printf (" * server: ");
    //  @selftest
    char path [] = "/tmp/weft-server-test-XXXXXX";
    keys_t ca, keys, admin, stranger;
    uint8_t *cert_data, *op_cert;
    size_t cert_size, op_cert_size;
    store_t *store = s_test_store (path, &ca, &keys, &cert_data, &cert_size);
    keys_generate (&admin);
    keys_generate (&stranger);
    pki_t *pki = pki_new (&ca);
    uint64_t serial;
    char error [WEFT_TEXT_MAX + 1];
    store_txn_t *txn = store_begin (store, true);
    assert (rpc_operator_create (pki, txn, "admin", "admin", "", admin.sign_public,
                                 admin.curve_public, true, 1700000000, &op_cert,
                                 &op_cert_size, &serial, error) == 0);
    free (op_cert);
    assert (store_commit (&txn) == 0);
    pki_destroy (&pki);

    server_config_t config = { "127.0.0.1", 0, 0, 0, 0, verbose, 0 };
    server_t *server = server_new (&config, store, &ca, &keys, cert_data, cert_size);
    assert (server);
    assert (server_port (server, "rpc") > 0);

    zsock_t *client = s_test_client (&admin, &keys, server_port (server, "rpc"));
    s_test_call (&admin, "admin", 1, client);
    zmsg_t *reply = s_test_wait (server, client, 5000);
    assert (reply);
    zframe_t *frame = zmsg_last (reply);
    envelope_t env;
    assert (envelope_decode (&env, zframe_data (frame), zframe_size (frame)) == 0);
    assert (envelope_verify (&env, keys.sign_public) == 0);
    msg_t msg;
    assert (msg_decode (&msg, MSG_RPC_REPLY, env.payload, env.payload_size) == 0);
    assert (msg.rpc_reply.status == WEFT_STATUS_OK);
    zmsg_destroy (&reply);

    //  The admin's identity on a stranger's link: ZAP refuses the key
    zsock_t *intruder = s_test_client (&stranger, &keys, server_port (server, "rpc"));
    s_test_call (&admin, "admin", 2, intruder);
    reply = s_test_wait (server, intruder, 500);
    assert (reply == NULL);
    //  Malformed shapes are counted, not fatal
    zstr_sendx (client, "a", "b", "c", NULL);
    server_run_for (server, 200);
    assert (coord_stats (server_coord (server))->rejected_malformed == 1);

    //  A device on the mesh: heartbeat, then a twin.set is pushed to it
    keys_t node;
    keys_generate (&node);
    s_test_device (store, "dev-1", &node);
    zsock_t *dealer = s_test_client (&node, &keys, server_port (server, "mesh"));
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_HEARTBEAT;
    s_test_send (&node, "dev-1", 1, &msg, dealer);
    reply = s_test_wait (server, dealer, 300);
    assert (reply == NULL);             //  Nothing to send at version 0
    assert (coord_stats (server_coord (server))->rejected_origin == 0);
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_RPC_REQUEST;
    strcpy (msg.rpc_request.method, "twin.set");
    msg.rpc_request.args = "{\"id\":\"dev-1\",\"patch\":{\"led\":1}}";
    msg.rpc_request.args_size = strlen (msg.rpc_request.args);
    s_test_send (&admin, "admin", 3, &msg, client);
    reply = s_test_wait (server, client, 5000);
    assert (reply);
    zmsg_destroy (&reply);
    reply = s_test_wait (server, dealer, 5000);
    assert (reply);
    frame = zmsg_last (reply);
    assert (envelope_decode (&env, zframe_data (frame), zframe_size (frame)) == 0);
    assert (env.type == MSG_TWIN_DESIRED);
    assert (msg_decode (&msg, MSG_TWIN_DESIRED, env.payload, env.payload_size) == 0);
    assert (msg.twin_desired.version == 1);
    zmsg_destroy (&reply);
    zsock_destroy (&dealer);
    keys_wipe (&node);

    zsock_destroy (&intruder);
    zsock_destroy (&client);
    server_destroy (&server);
    server_destroy (&server);
    store_destroy (&store);
    free (cert_data);
    keys_wipe (&ca);
    keys_wipe (&keys);
    keys_wipe (&admin);
    keys_wipe (&stranger);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}

//  --------------------------------------------------------------------------
//  The verifier pool: a burst of custody transfers from one device, one
//  of them forged, interleaved with a second device's, checked on 2
//  worker threads; the forgery gets a CUSTODY_ACK of its own that says
//  why, the others one CUSTODY_ACK per link naming that link's ids in
//  the order they were sent (the acks sealed on the pool, their seqs
//  rising as they leave); a server destroyed with a burst unread leaves
//  nothing behind.

#define S_TEST_BURST    12
#define S_TEST_FORGED   5           //  The forged one's index

//  A heartbeat of origin sealed with signer, sent as a custody transfer
static void
s_test_heartbeat_of (zsock_t *dealer, const char *origin, const keys_t *signer,
                     uint64_t seq, uint8_t id [16])
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_HEARTBEAT;
    size_t size;
    uint8_t *frame = s_test_seal (signer, origin, seq, &msg, 16, id, &size);
    zmq_send (zsock_resolve (dealer), "coordinator", 11, ZMQ_SNDMORE);
    zmq_send (zsock_resolve (dealer), frame, size, 0);
    free (frame);
}

static void
s_test_heartbeat (zsock_t *dealer, const keys_t *signer, uint64_t seq, uint8_t id [16])
{
    s_test_heartbeat_of (dealer, "dev-1", signer, seq, id);
}

//  Receive what the server sends dealer within timeout_ms: one
//  CUSTODY_ACK, decoded into ack; its seq checked to rise above *seq_p
static zframe_t *
s_test_ack (server_t *server, zsock_t *dealer, const keys_t *keys, uint64_t *seq_p,
            meshmsg_t *ack)
{
    zframe_t *frame = NULL;
    for (int64_t until = zclock_mono () + 5000; !frame && zclock_mono () < until; ) {
        server_run_for (server, 20);
        frame = zframe_recv_nowait (dealer);
    }
    assert (frame);
    envelope_t env;
    assert (envelope_decode (&env, zframe_data (frame), zframe_size (frame)) == 0);
    assert (envelope_verify (&env, keys->sign_public) == 0);
    assert (env.type == MSG_CUSTODY_ACK);
    assert (env.seq > *seq_p);
    *seq_p = env.seq;
    assert (meshmsg_decode (ack, MSG_CUSTODY_ACK, env.payload, env.payload_size) == 0);
    return frame;
}

void
server_pool_test (bool verbose)
{
    printf (" * server_pool: ");
    //  @selftest
    char path [] = "/tmp/weft-server-pool-test-XXXXXX";
    keys_t ca, keys, node, node2, forger;
    uint8_t *cert_data;
    size_t cert_size;
    store_t *store = s_test_store (path, &ca, &keys, &cert_data, &cert_size);
    keys_generate (&node);
    keys_generate (&node2);
    keys_generate (&forger);
    s_test_device (store, "dev-1", &node);
    s_test_device (store, "dev-2", &node2);

    server_config_t config = { "127.0.0.1", 0, 0, 0, 0, verbose, 2 };
    server_t *server = server_new (&config, store, &ca, &keys, cert_data, cert_size);
    assert (server);
    zsock_t *dealer = s_test_client (&node, &keys, server_port (server, "mesh"));
    //  The link up and admitted first: one heartbeat, acknowledged
    uint8_t ids [S_TEST_BURST][WEFT_ID_SIZE];
    s_test_heartbeat (dealer, &node, 1, ids [0]);
    zframe_t *frame = NULL;
    for (int64_t until = zclock_mono () + 5000; !frame && zclock_mono () < until; ) {
        server_run_for (server, 20);
        frame = zframe_recv_nowait (dealer);
    }
    assert (frame);
    zframe_destroy (&frame);
    zsock_t *dealer2 = s_test_client (&node2, &keys, server_port (server, "mesh"));
    uint8_t ids2 [S_TEST_BURST / 2][WEFT_ID_SIZE];
    uint64_t seq2 = 0;
    meshmsg_t ack2;
    s_test_heartbeat_of (dealer2, "dev-2", &node2, 1, ids2 [0]);
    frame = s_test_ack (server, dealer2, &keys, &seq2, &ack2);
    assert (ack2.status == WEFT_STATUS_OK && ack2.id_count == 1);
    zframe_destroy (&frame);

    //  A burst, read at once: every signature checked on the pool
    for (int i = 0; i < S_TEST_BURST; i++) {
        s_test_heartbeat (dealer, i == S_TEST_FORGED? &forger: &node, (uint64_t) i + 2,
                          ids [i]);
        if (i % 2)
            s_test_heartbeat_of (dealer2, "dev-2", &node2, (uint64_t) i / 2 + 2, ids2 [i / 2]);
    }
    zclock_sleep (300);             //  All of it queued at the coordinator
    uint64_t failed;
    uint64_t checked_before = server_pool_checked (server, &failed);
    assert (failed == 0);
    size_t taken = 0;
    bool refused = false;
    for (int64_t until = zclock_mono () + 5000;
         (taken < S_TEST_BURST - 1 || !refused) && zclock_mono () < until; ) {
        server_run_for (server, 20);
        while ((frame = zframe_recv_nowait (dealer))) {
            envelope_t env;
            meshmsg_t ack;
            assert (envelope_decode (&env, zframe_data (frame), zframe_size (frame)) == 0);
            assert (envelope_verify (&env, keys.sign_public) == 0);
            assert (env.type == MSG_CUSTODY_ACK);
            assert (meshmsg_decode (&ack, MSG_CUSTODY_ACK, env.payload,
                                    env.payload_size) == 0);
            if (ack.status == WEFT_STATUS_OK) {
                //  The good ones, in the order they were sent
                for (size_t k = 0; k < ack.id_count; k++, taken++) {
                    size_t want = taken < S_TEST_FORGED? taken: taken + 1;
                    assert (memcmp (ack.ids + k * WEFT_ID_SIZE, ids [want],
                                    WEFT_ID_SIZE) == 0);
                }
            }
            else {
                //  The forgery alone, with its reason
                assert (ack.status == WEFT_STATUS_DENIED && ack.id_count == 1);
                assert (memcmp (ack.ids, ids [S_TEST_FORGED], WEFT_ID_SIZE) == 0);
                assert (strstr (ack.reason, "not authenticated"));
                refused = true;
            }
            zframe_destroy (&frame);
        }
    }
    assert (taken == S_TEST_BURST - 1 && refused);
    //  The other link's acks name its own ids only, in the order sent
    for (size_t taken2 = 0; taken2 < S_TEST_BURST / 2; ) {
        frame = s_test_ack (server, dealer2, &keys, &seq2, &ack2);
        assert (ack2.status == WEFT_STATUS_OK);
        for (size_t k = 0; k < ack2.id_count; k++, taken2++) {
            assert (taken2 < S_TEST_BURST / 2);
            assert (memcmp (ack2.ids + k * WEFT_ID_SIZE, ids2 [taken2], WEFT_ID_SIZE) == 0);
        }
        zframe_destroy (&frame);
    }
    assert (server_pool_checked (server, &failed) - checked_before
            == S_TEST_BURST + S_TEST_BURST / 2);
    assert (failed == 1);
    assert (coord_stats (server_coord (server))->rejected_signature == 1);

    //  Shut down with a burst queued and unread: nothing is left behind
    for (int i = 0; i < S_TEST_BURST; i++)
        s_test_heartbeat (dealer, &node, (uint64_t) i + 100, ids [i]);
    zclock_sleep (100);
    zsock_destroy (&dealer);
    zsock_destroy (&dealer2);
    server_destroy (&server);
    assert (server == NULL);
    store_destroy (&store);
    free (cert_data);
    keys_wipe (&ca);
    keys_wipe (&keys);
    keys_wipe (&node);
    keys_wipe (&node2);
    keys_wipe (&forger);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
