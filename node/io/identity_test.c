/*  identity - selftest (see identity.h)  */

#include <czmq.h>
#include <sodium.h>
#include <sys/stat.h>
#include "node/io/identity.h"
#include "proto/io/filewrite.h"
#include "proto/io/fsperm.h"
#include "proto/io/keyfile.h"
#include "proto/io/tcplink.h"
#include "node/core/enrol.h"
#include "node/io/tpm.h"
#include "proto/cert.h"
#include "proto/envelope.h"
#include "proto/seal.h"
#include "proto/msg.h"

//  Selftest: a fake coordinator answers one enrolment request.

typedef struct {
    keys_t ca;
    keys_t coord;
    int status;
    const char *message;
} test_coord_t;

static void
s_test_coordinator (zsock_t *pipe, void *args)
{
    test_coord_t *coord = (test_coord_t *) args;
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_curve_server (router, 1);
    zsock_set_curve_secretkey_bin (router, coord->coord.curve_secret);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_signal (pipe, 0);
    zstr_sendf (pipe, "%d", port);
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which != router)
            break;                  //  $TERM or interrupted
        zmsg_t *msg = zmsg_recv (router);
        zframe_t *routing = zmsg_pop (msg);
        zframe_t *body = zmsg_pop (msg);
        envelope_t env;
        msg_t request;
        int rc = envelope_decode (&env, zframe_data (body), zframe_size (body));
        assert (rc == 0);
        rc = msg_decode (&request, MSG_ENROL_REQUEST, env.payload, env.payload_size);
        assert (rc == 0);
        assert (envelope_verify (&env, request.enrol_request.sign_key) == 0);
        cert_t cert;
        memset (&cert, 0, sizeof cert);
        cert.serial = 1;
        cert.kind = CERT_KIND_COORDINATOR;
        strcpy (cert.subject, "coordinator");
        memcpy (cert.sign_key, coord->coord.sign_public, WEFT_KEY_SIZE);
        memcpy (cert.curve_key, coord->coord.curve_public, WEFT_KEY_SIZE);
        cert.not_after = 4000000000ULL;
        uint8_t *coord_cert, *node_cert;
        size_t coord_cert_size, node_cert_size;
        rc = cert_encode (&cert, coord->ca.sign_secret, &coord_cert, &coord_cert_size);
        assert (rc == 0);
        cert.serial = 2;
        cert.kind = CERT_KIND_NODE;
        strcpy (cert.subject, env.origin);
        strcpy (cert.tenant, "acme");
        memcpy (cert.sign_key, request.enrol_request.sign_key, WEFT_KEY_SIZE);
        memcpy (cert.curve_key, request.enrol_request.curve_key, WEFT_KEY_SIZE);
        rc = cert_encode (&cert, coord->ca.sign_secret, &node_cert, &node_cert_size);
        assert (rc == 0);
        msg_t reply;
        memset (&reply, 0, sizeof reply);
        reply.type = MSG_ENROL_RESPONSE;
        reply.enrol_response.status = coord->status;
        snprintf (reply.enrol_response.message, sizeof reply.enrol_response.message,
                  "%s", coord->message);
        reply.enrol_response.cert = node_cert;
        reply.enrol_response.cert_size = node_cert_size;
        memcpy (reply.enrol_response.ca_key, coord->ca.sign_public, WEFT_KEY_SIZE);
        reply.enrol_response.coord_cert = coord_cert;
        reply.enrol_response.coord_cert_size = coord_cert_size;
        uint8_t *payload, *frame;
        size_t payload_size, size;
        rc = msg_encode (&reply, &payload, &payload_size);
        assert (rc == 0);
        envelope_head_t head = { .type = MSG_ENROL_RESPONSE, .origin = "coordinator",
                                 .seq = 1, .hop_limit = 1 };
        rc = envelope_seal (&head, payload, payload_size, coord->coord.sign_secret, NULL,
                            &frame, &size);
        assert (rc == 0);
        zmsg_t *out = zmsg_new ();
        zmsg_append (out, &routing);
        zmsg_addmem (out, frame, size);
        zmsg_send (&out, router);
        free (frame);
        free (payload);
        free (node_cert);
        free (coord_cert);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

void
identity_test (bool verbose)
{
    printf (" * identity: ");
    //  @selftest
    char dir [] = "/tmp/weft-identity-test.XXXXXX";
    assert (mkdtemp (dir));
    char error [256];
    identity_t *identity = identity_load (dir, "gw-1", "gateway", error, sizeof error);
    assert (identity);
    assert (!identity_enrolled (identity));
    assert (identity_coord_sign (identity) == NULL);
    struct stat st;
    assert (stat (identity_path (identity), &st) == 0);
    assert ((st.st_mode & 0777) == 0600);
    keys_t keys = *identity_keys (identity);
    identity_destroy (&identity);
    identity_destroy (&identity);

    //  Reused at restart; the name may change until enrolled
    identity = identity_load (dir, "gw-2", "gateway", error, sizeof error);
    assert (identity);
    assert (memcmp (identity_keys (identity)->sign_public, keys.sign_public, WEFT_KEY_SIZE) == 0);
    assert (streq (identity_name (identity), "gw-2"));

    //  Enrol against a fake coordinator
    test_coord_t coord;
    keys_generate (&coord.ca);
    keys_generate (&coord.coord);
    coord.status = WEFT_STATUS_DENIED;
    coord.message = "token already used";
    zactor_t *server = zactor_new (s_test_coordinator, &coord);
    char *port = zstr_recv (server);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%s", port);
    zstr_free (&port);
    char key_hex [65], token [200];
    keys_hex (coord.coord.curve_public, WEFT_KEY_SIZE, key_hex);
    snprintf (token, sizeof token, "wt1.0123456789abcdef.00112233445566778899aabbccddeeff.%s",
              key_hex);
    assert (identity_enrol (identity, endpoint, "wt1.bad", 2000, error, sizeof error)
            == PROTO_ERR_VALUE);
    int rc = identity_enrol (identity, endpoint, token, 5000, error, sizeof error);
    assert (rc == PROTO_ERR_REFUSED);
    assert (streq (error, "token already used"));
    assert (!identity_enrolled (identity));
    coord.status = WEFT_STATUS_OK;
    coord.message = "";
    rc = identity_enrol (identity, endpoint, token, 5000, error, sizeof error);
    if (rc)
        printf ("%s\n", error);
    assert (rc == 0);
    assert (identity_enrolled (identity));
    assert (streq (identity_tenant (identity), "acme"));
    assert (memcmp (identity_coord_curve (identity), coord.coord.curve_public,
                    WEFT_KEY_SIZE) == 0);
    zactor_destroy (&server);
    identity_destroy (&identity);

    //  After enrolment the saved name wins and everything verifies again
    identity = identity_load (dir, "other", "server", error, sizeof error);
    assert (identity);
    assert (identity_enrolled (identity));
    assert (streq (identity_name (identity), "gw-2"));
    assert (streq (identity_type (identity), "gateway"));
    assert (streq (identity_tenant (identity), "acme"));
    assert (memcmp (identity_coord_sign (identity), coord.coord.sign_public,
                    WEFT_KEY_SIZE) == 0);
    char *path = strdup (identity_path (identity));
    identity_destroy (&identity);

    //  A key file others can read is refused
    assert (chmod (path, 0644) == 0);
    assert (identity_load (dir, "gw-1", "gateway", error, sizeof error) == NULL);
    if (verbose)
        printf ("(%s) ", error);
    unlink (path);
    free (path);
    keys_wipe (&keys);
    keys_wipe (&coord.ca);
    keys_wipe (&coord.coord);
    rmdir (dir);
    //  @end
    printf ("OK\n");
}
