/*  server_pool_test - selftest of the coordinator's verifier pool: a
    burst of custody transfers from one device, one of them forged, is
    checked on 2 worker threads; the forgery gets a CUSTODY_ACK of its
    own that says why, the others one CUSTODY_ACK naming them in the
    order they were sent; a server destroyed with a burst unread
    leaves nothing behind.  */

#include <czmq.h>
#include <sodium.h>
#include "proto/envelope.h"
#include "proto/msg.h"
#include "proto/meshmsg.h"
#include "coordinator/core/coord.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/pki.h"
#include "coordinator/io/server.h"

#define S_TEST_BURST    12
#define S_TEST_FORGED   5           //  The forged one's index

//  A heartbeat of dev-1 sealed with signer, sent as a custody transfer
static void
s_test_heartbeat (zsock_t *dealer, const keys_t *signer, uint64_t seq, uint8_t id [16])
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_HEARTBEAT;
    uint8_t *payload;
    size_t payload_size;
    assert (msg_encode (&msg, &payload, &payload_size) == 0);
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, sizeof env.id);
    memcpy (id, env.id, WEFT_ID_SIZE);
    env.type = MSG_HEARTBEAT;
    strcpy (env.origin, "dev-1");
    env.seq = env.hlc = seq;
    env.hop_limit = env.hops = 16;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame;
    size_t size;
    assert (envelope_encode (&env, signer->sign_secret, &frame, &size) == 0);
    zmq_send (zsock_resolve (dealer), "coordinator", 11, ZMQ_SNDMORE);
    zmq_send (zsock_resolve (dealer), frame, size, 0);
    free (frame);
    free (payload);
}

void
server_pool_test (bool verbose)
{
    printf (" * server_pool: ");
    //  @selftest
    char path [] = "/tmp/weft-server-pool-test-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    keys_t ca, keys, node, forger;
    keys_generate (&ca);
    keys_generate (&keys);
    keys_generate (&node);
    keys_generate (&forger);
    pki_t *pki = pki_new (&ca);
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.kind = CERT_KIND_COORDINATOR;
    strcpy (cert.subject, "coordinator");
    memcpy (cert.sign_key, keys.sign_public, 32);
    memcpy (cert.curve_key, keys.curve_public, 32);
    uint8_t *cert_data;
    size_t cert_size;
    store_txn_t *txn = store_begin (store, true);
    assert (pki_issue (pki, txn, &cert, 1700000000, &cert_data, &cert_size) == 0);
    char sign_hex [65], curve_hex [65];
    keys_hex (node.sign_public, 32, sign_hex);
    keys_hex (node.curve_public, 32, curve_hex);
    json_t *device = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", "dev-1",
        "tenant", "", "type", "gateway", "role", "gateway", "sign_key", sign_hex,
        "curve_key", curve_hex, "revoked", 0);
    assert (registry_device_put (txn, device) == 0);
    json_decref (device);
    assert (store_commit (&txn) == 0);
    pki_destroy (&pki);

    server_config_t config = { "127.0.0.1", 0, 0, 0, 0, verbose, 2 };
    server_t *server = server_new (&config, store, &ca, &keys, cert_data, cert_size);
    assert (server);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_curve_secretkey_bin (dealer, node.curve_secret);
    zsock_set_curve_publickey_bin (dealer, node.curve_public);
    zsock_set_curve_serverkey_bin (dealer, keys.curve_public);
    zsock_set_linger (dealer, 0);
    assert (zsock_connect (dealer, "tcp://127.0.0.1:%d", server_port (server, "mesh")) == 0);
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

    //  A burst, read at once: every signature checked on the pool
    for (int i = 0; i < S_TEST_BURST; i++)
        s_test_heartbeat (dealer, i == S_TEST_FORGED? &forger: &node, (uint64_t) i + 2,
                          ids [i]);
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
    assert (server_pool_checked (server, &failed) - checked_before == S_TEST_BURST);
    assert (failed == 1);
    assert (coord_stats (server_coord (server))->rejected_signature == 1);

    //  Shut down with a burst queued and unread: nothing is left behind
    for (int i = 0; i < S_TEST_BURST; i++)
        s_test_heartbeat (dealer, &node, (uint64_t) i + 100, ids [i]);
    zclock_sleep (100);
    zsock_destroy (&dealer);
    server_destroy (&server);
    assert (server == NULL);
    store_destroy (&store);
    free (cert_data);
    keys_wipe (&ca);
    keys_wipe (&keys);
    keys_wipe (&node);
    keys_wipe (&forger);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
