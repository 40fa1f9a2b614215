/*  server_test - selftest of weft-coord's sockets: an operator's call
    over CURVE, a stranger refused, malformed shapes counted, a device's
    heartbeat and a twin.set pushed to it.  */

#include <czmq.h>
#include <sodium.h>
#include "proto/envelope.h"
#include "coordinator/core/coord.h"
#include "coordinator/core/registry.h"
#include "coordinator/io/server.h"
#include "proto/msg.h"
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

static void
s_test_send (const keys_t *keys, const char *origin, uint64_t seq, const msg_t *msg_in,
             zsock_t *client)
{
    msg_t msg = *msg_in;
    uint8_t *payload;
    size_t payload_size;
    assert (msg_encode (&msg, &payload, &payload_size) == 0);
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, sizeof env.id);
    env.type = msg.type;
    strcpy (env.origin, origin);
    env.seq = seq;
    //  Operator requests must expire within a minute (nonces.h)
    if (msg.type == MSG_RPC_REQUEST)
        env.expiry = (uint64_t) zclock_time () + 30000;
    env.hop_limit = env.hops = 1;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame;
    size_t size;
    assert (envelope_encode (&env, keys->sign_secret, &frame, &size) == 0);
    zframe_t *out = zframe_new (frame, size);
    zframe_send (&out, client, ZFRAME_DONTWAIT);
    free (frame);
    free (payload);
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

void
server_test (bool verbose)
{
    printf (" * server: ");
    //  @selftest
    char path [] = "/tmp/weft-server-test-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    keys_t ca, keys, admin, stranger;
    keys_generate (&ca);
    keys_generate (&keys);
    keys_generate (&admin);
    keys_generate (&stranger);
    pki_t *pki = pki_new (&ca);
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.kind = CERT_KIND_COORDINATOR;
    strcpy (cert.subject, "coordinator");
    memcpy (cert.sign_key, keys.sign_public, 32);
    memcpy (cert.curve_key, keys.curve_public, 32);
    uint8_t *cert_data, *op_cert;
    size_t cert_size, op_cert_size;
    uint64_t serial;
    char error [WEFT_TEXT_MAX + 1];
    store_txn_t *txn = store_begin (store, true);
    assert (pki_issue (pki, txn, &cert, 1700000000, &cert_data, &cert_size) == 0);
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
    char sign_hex [65], curve_hex [65];
    keys_hex (node.sign_public, 32, sign_hex);
    keys_hex (node.curve_public, 32, curve_hex);
    json_t *device = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", "dev-1",
        "tenant", "", "type", "gateway", "role", "gateway", "sign_key", sign_hex,
        "curve_key", curve_hex, "revoked", 0);
    txn = store_begin (store, true);
    assert (registry_device_put (txn, device) == 0);
    assert (store_commit (&txn) == 0);
    json_decref (device);
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
