/*  zap - a ZeroMQ Authentication Protocol (RFC 27) handler
    Request frames: version "1.0", request id, domain, address, routing
    id, mechanism, then credentials (for CURVE: the 32-byte client key).
    Reply frames: version, request id, status code, status text, user
    id, metadata. REP demands a reply to every request, so malformed
    requests get a 400 too; the status text never names the reason
    beyond "denied", as the peer learns nothing from it.  */

#include "proto/io/zap.h"

struct _zap_t {
    zsock_t *rep;                   //  Bound to ZAP_ENDPOINT
    zap_fn *fn;                     //  Decision callback
    void *arg;                      //  Its argument
    uint64_t admitted;              //  Requests answered 200
    uint64_t refused;               //  Requests answered 400 or dropped
    bool verbose;                   //  Log refusals
};

//  --------------------------------------------------------------------------
//  Bind the handler. Returns NULL if the endpoint is already bound.

zap_t *
zap_new (zap_fn *fn, void *arg)
{
    assert (fn);
    zsock_t *rep = zsock_new (ZMQ_REP);
    if (!rep)
        return NULL;
    if (zsock_bind (rep, "%s", ZAP_ENDPOINT) != 0) {
        zsys_error ("zap: cannot bind %s: %s", ZAP_ENDPOINT, zmq_strerror (zmq_errno ()));
        zsock_destroy (&rep);
        return NULL;
    }
    zap_t *self = (zap_t *) zmalloc (sizeof (zap_t));
    self->rep = rep;
    self->fn = fn;
    self->arg = arg;
    return self;
}

//  --------------------------------------------------------------------------
//  Unbind and free; nulls the caller's pointer.

void
zap_destroy (zap_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zap_t *self = *self_p;
        //  Closing releases an inproc name later, in libzmq's reaper;
        //  unbinding releases it now, for the next handler to bind
        zsock_unbind (self->rep, "%s", ZAP_ENDPOINT);
        zsock_destroy (&self->rep);
        free (self);
        *self_p = NULL;
    }
}

void
zap_set_verbose (zap_t *self, bool verbose)
{
    assert (self);
    self->verbose = verbose;
}

zsock_t *
zap_sock (zap_t *self)
{
    assert (self);
    return self->rep;
}

uint64_t
zap_admitted (zap_t *self)
{
    assert (self);
    return self->admitted;
}

uint64_t
zap_refused (zap_t *self)
{
    assert (self);
    return self->refused;
}

//  Copy a frame into a NUL-terminated string of at most max characters.
//  Returns false if it is longer or contains NUL.

static bool
s_frame_str (zframe_t *frame, char *out, size_t max)
{
    if (!frame || zframe_size (frame) > max)
        return false;
    size_t size = zframe_size (frame);
    if (size && memchr (zframe_data (frame), 0, size))
        return false;
    memcpy (out, zframe_data (frame), size);
    out [size] = 0;
    return true;
}

//  --------------------------------------------------------------------------
//  Read one request and answer it.

int
zap_handle (zap_t *self)
{
    assert (self);
    zmsg_t *request = zmsg_recv_nowait (self->rep);
    if (!request)
        return zsys_interrupted? -1: 0;

    char version [8] = "1.0";
    char domain [256] = "";
    char mechanism [32] = "";
    char user_id [ZAP_USER_ID_MAX + 1] = "";
    char peer [64] = "";
    zframe_t *request_id = NULL;
    bool wellformed = false;
    bool admit = false;

    zframe_t *frame = zmsg_pop (request);
    if (s_frame_str (frame, version, sizeof version - 1) && streq (version, "1.0")) {
        request_id = zmsg_pop (request);
        zframe_t *domain_frame = zmsg_pop (request);
        zframe_t *address = zmsg_pop (request);
        zframe_t *routing_id = zmsg_pop (request);
        zframe_t *mech_frame = zmsg_pop (request);
        zframe_t *credentials = zmsg_pop (request);
        if (request_id && routing_id && address
        &&  s_frame_str (domain_frame, domain, sizeof domain - 1)
        &&  s_frame_str (mech_frame, mechanism, sizeof mechanism - 1)) {
            wellformed = true;
            if (!s_frame_str (address, peer, sizeof peer - 1))
                peer [0] = 0;
            if (streq (mechanism, "CURVE") && credentials
            &&  zframe_size (credentials) == 32) {
                admit = self->fn (self->arg, domain, peer, zframe_data (credentials), user_id);
                user_id [ZAP_USER_ID_MAX] = 0;
            }
        }
        zframe_destroy (&domain_frame);
        zframe_destroy (&address);
        zframe_destroy (&routing_id);
        zframe_destroy (&mech_frame);
        zframe_destroy (&credentials);
    }
    else
        strcpy (version, "1.0");
    zframe_destroy (&frame);
    zmsg_destroy (&request);

    //  REP must answer every request, even one it cannot read
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    if (request_id)
        zmsg_append (reply, &request_id);
    else
        zmsg_addstr (reply, "");
    zmsg_addstr (reply, admit? "200": "400");
    zmsg_addstr (reply, admit? "OK": "denied");
    zmsg_addstr (reply, admit? user_id: "");
    zmsg_addmem (reply, "", 0);
    if (zmsg_send (&reply, self->rep) != 0)
        zmsg_destroy (&reply);
    if (admit)
        self->admitted++;
    else
        self->refused++;
    if (!admit && self->verbose)
        zsys_debug ("zap: refused %s client in domain '%s'",
                    mechanism [0]? mechanism: "malformed", domain);
    return wellformed? 0: PROTO_ERR_REFUSED;
}

//  --------------------------------------------------------------------------
//  Selftest: a CURVE ROUTER admits one client key and refuses another.

typedef struct {
    uint8_t allowed [32];
} s_test_ctx_t;

static bool
s_test_decide (void *arg, const char *domain, const char *address, const uint8_t key [32],
               char user_id [ZAP_USER_ID_MAX + 1])
{
    s_test_ctx_t *ctx = (s_test_ctx_t *) arg;
    assert (streq (address, "127.0.0.1"));
    if (!streq (domain, "test") || memcmp (key, ctx->allowed, 32) != 0)
        return false;
    strcpy (user_id, "alice");
    return true;
}

void
zap_test (bool verbose)
{
    printf (" * zap: ");
    //  @selftest
    zcert_t *server_cert = zcert_new ();
    zcert_t *good = zcert_new ();
    zcert_t *bad = zcert_new ();
    s_test_ctx_t ctx;
    memcpy (ctx.allowed, zcert_public_key (good), 32);

    zap_t *zap = zap_new (s_test_decide, &ctx);
    assert (zap);
    zap_set_verbose (zap, verbose);
    zap_t *second = zap_new (s_test_decide, &ctx);
    assert (second == NULL);            //  Endpoint taken

    zsock_t *server = zsock_new (ZMQ_ROUTER);
    zcert_apply (server_cert, server);
    zsock_set_curve_server (server, 1);
    zsock_set_zap_domain (server, "test");
    int port = zsock_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);

    zsock_t *clients [2];
    zcert_t *certs [2] = { good, bad };
    for (int i = 0; i < 2; i++) {
        clients [i] = zsock_new (ZMQ_DEALER);
        zcert_apply (certs [i], clients [i]);
        zsock_set_curve_serverkey_bin (clients [i], zcert_public_key (server_cert));
        zsock_set_sndtimeo (clients [i], 0);
        int rc = zsock_connect (clients [i], "tcp://127.0.0.1:%d", port);
        assert (rc == 0);
        zstr_send (clients [i], i == 0? "hello": "intruder");
    }
    zpoller_t *poller = zpoller_new (zap_sock (zap), server, NULL);
    int64_t deadline = zclock_mono () + 3000;
    bool got_good = false;
    while (zclock_mono () < deadline && !(got_good && zap_refused (zap) > 0)) {
        void *which = zpoller_wait (poller, 100);
        if (which == zap_sock (zap))
            assert (zap_handle (zap) == 0);
        else
        if (which == server) {
            zmsg_t *msg = zmsg_recv (server);
            assert (msg && zmsg_size (msg) == 2);
            zframe_t *body = zmsg_last (msg);
            const char *user = zframe_meta (body, "User-Id");
            assert (user && streq (user, "alice"));
            assert (zframe_streq (body, "hello"));
            got_good = true;
            zmsg_destroy (&msg);
        }
    }
    assert (got_good);
    assert (zap_admitted (zap) >= 1);
    assert (zap_refused (zap) >= 1);
    if (verbose)
        printf ("admitted %" PRIu64 " refused %" PRIu64 " ",
                zap_admitted (zap), zap_refused (zap));
    zpoller_destroy (&poller);
    for (int i = 0; i < 2; i++) {
        zsock_set_linger (clients [i], 0);
        zsock_destroy (&clients [i]);
    }
    zsock_destroy (&server);
    zap_destroy (&zap);
    zap_destroy (&zap);
    zcert_destroy (&server_cert);
    zcert_destroy (&good);
    zcert_destroy (&bad);
    //  @end
    printf ("OK\n");
}
