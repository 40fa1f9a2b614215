/*  sigcheck - signature checks of a poll burst on several threads
    The burst's keyed frames are checked at once on a workpool (the
    workers and the calling thread), then fed to the mesh in arrival
    order.  */

#include "proto/envelope.h"
#include "proto/seal.h"
#include "proto/io/workpool.h"
#include "node/io/sigcheck.h"

typedef struct {
    char link [2 + 256 + 1];
    char dest [WEFT_NAME_MAX + 1];
    bool has_dest;
    zmsg_t *msg;                    //  Owned
    zframe_t *frame;                //  In msg
    envelope_t env;                 //  The frame decoded (custody frames)
    bool decoded;
    bool keyed;                     //  The mesh would check it with key
    uint8_t key [WEFT_KEY_SIZE];
    bool ok;                        //  Checked here and valid
} s_job_t;

struct _sigcheck_t {
    mesh_t *mesh;
    s_job_t jobs [SIGCHECK_BURST];
    size_t count;
    size_t bytes;
    s_job_t *keyed [SIGCHECK_BURST];    //  The keyed jobs of the burst
    workpool_t *pool;
    sigcheck_stats_t stats;
};

//  A workpool job: one keyed frame
static void
s_check (void *item, void *arg)
{
    (void) arg;
    s_job_t *job = *(s_job_t **) item;
    job->ok = envelope_verify (&job->env, job->key) == 0;
}

size_t
sigcheck_default_threads (void)
{
    return workpool_default_threads ();
}

sigcheck_t *
sigcheck_new (mesh_t *mesh, size_t threads)
{
    assert (mesh);
    sigcheck_t *self = (sigcheck_t *) zmalloc (sizeof (sigcheck_t));
    self->mesh = mesh;
    self->pool = workpool_new (threads > SIGCHECK_THREADS_MAX? SIGCHECK_THREADS_MAX: threads);
    return self;
}

void
sigcheck_destroy (sigcheck_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        sigcheck_t *self = *self_p;
        for (size_t i = 0; i < self->count; i++)
            zmsg_destroy (&self->jobs [i].msg);
        workpool_destroy (&self->pool);
        free (self);
        *self_p = NULL;
    }
}

void
sigcheck_add (sigcheck_t *self, const char *link, const char *dest, zmsg_t **msg_p,
              zframe_t *frame, uint64_t now_ms)
{
    assert (self && link && msg_p && *msg_p && frame);
    if (self->count == SIGCHECK_BURST || self->bytes + zframe_size (frame) > SIGCHECK_BYTES_MAX)
        sigcheck_feed (self, now_ms);
    s_job_t *job = &self->jobs [self->count++];
    snprintf (job->link, sizeof job->link, "%s", link);
    job->has_dest = dest != NULL;
    snprintf (job->dest, sizeof job->dest, "%s", dest? dest: "");
    job->msg = *msg_p;
    *msg_p = NULL;
    job->frame = frame;
    job->ok = false;
    //  A custody frame is decoded once, here; the check and the mesh use
    //  that view of it (it borrows the frame, which the job holds)
    job->decoded = dest && envelope_decode (&job->env, zframe_data (frame),
                                            zframe_size (frame)) == 0;
    job->keyed = job->decoded && workpool_threads (self->pool) > 0
              && mesh_custody_key_of (self->mesh, link, dest, &job->env, job->key);
    self->bytes += zframe_size (frame);
}

void
sigcheck_feed (sigcheck_t *self, uint64_t now_ms)
{
    assert (self);
    size_t keyed = 0;
    for (size_t i = 0; i < self->count; i++)
        if (self->jobs [i].keyed)
            self->keyed [keyed++] = &self->jobs [i];
    if (keyed >= 2)
        workpool_run (self->pool, s_check, NULL, self->keyed, keyed, sizeof (s_job_t *));
    for (size_t i = 0; i < self->count; i++) {
        s_job_t *job = &self->jobs [i];
        const char *dest = job->has_dest? job->dest: NULL;
        const uint8_t *data = zframe_data (job->frame);
        size_t size = zframe_size (job->frame);
        if (keyed >= 2 && job->keyed) {
            self->stats.checked++;
            self->stats.failed += !job->ok;
        }
        bool checked = keyed >= 2 && job->keyed && job->ok;
        if (job->decoded)
            mesh_on_decoded_frame (self->mesh, job->link, dest, data, size, &job->env,
                                   checked? job->key: NULL, now_ms);
        else
            mesh_on_frame (self->mesh, job->link, dest, data, size, now_ms);
        zmsg_destroy (&job->msg);
        self->stats.frames++;
    }
    self->count = 0;
    self->bytes = 0;
}

const sigcheck_stats_t *
sigcheck_stats (sigcheck_t *self)
{
    assert (self);
    return &self->stats;
}

//  --------------------------------------------------------------------------
//  Selftest: a relay's mesh core with a neighbour past its HELLO; bursts
//  of good and forged custody frames, checked on 2 worker threads and
//  on none, reach the mesh with the same verdicts and in order.

#include "proto/cert.h"
#include "proto/meshmsg.h"

static int
s_test_send (void *ctx, const char *link, const char *dest, const uint8_t *frame,
             size_t size)
{
    (void) ctx, (void) link, (void) dest, (void) frame, (void) size;
    return 0;
}

static int
s_test_deliver (void *ctx, const uint8_t *frame, size_t size, char reason [WEFT_TEXT_MAX + 1])
{
    (void) ctx, (void) frame, (void) size, (void) reason;
    return WEFT_STATUS_OK;
}

static zmsg_t *
s_test_envelope (const keys_t *keys, const char *origin, int type, uint8_t id_byte,
                 uint16_t id_seq, const uint8_t *payload, size_t payload_size, uint8_t hops)
{
    envelope_t env;
    memset (&env, 0, sizeof env);
    env.id [0] = id_byte;
    env.id [1] = (uint8_t) (id_seq >> 8);
    env.id [2] = (uint8_t) id_seq;
    env.type = type;
    snprintf (env.origin, sizeof env.origin, "%s", origin);
    env.hlc = env.seq = 1767225600000ULL << 16 | id_seq;
    env.hop_limit = env.hops = hops;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame;
    size_t size;
    assert (envelope_encode (&env, keys->sign_secret, &frame, &size) == 0);
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, frame, size);
    free (frame);
    return msg;
}

void
sigcheck_test (bool verbose)
{
    printf (" * sigcheck: ");
    //  @selftest
    char dir [] = "/tmp/weft-sigcheck-test.XXXXXX";
    assert (mkdtemp (dir));
    const char *tables [] = { MESH_TABLE, OUTBOX_TABLE, NULL };
    store_t *store = store_new (dir, tables, 0);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    assert (store);
    keys_t ca, coord, relay, src, forger;
    keys_generate (&ca);
    keys_generate (&coord);
    keys_generate (&relay);
    keys_generate (&src);
    keys_generate (&forger);
    uint64_t now = 1767225600000ULL;
    uint8_t *certs [2];
    size_t cert_sizes [2];
    const keys_t *owners [2] = { &relay, &src };
    const char *names [2] = { "relay", "src" };
    for (int i = 0; i < 2; i++) {
        cert_t cert;
        memset (&cert, 0, sizeof cert);
        cert.serial = (uint64_t) i + 1;
        cert.kind = CERT_KIND_NODE;
        strcpy (cert.subject, names [i]);
        strcpy (cert.role, "gateway");
        memcpy (cert.sign_key, owners [i]->sign_public, WEFT_KEY_SIZE);
        memcpy (cert.curve_key, owners [i]->curve_public, WEFT_KEY_SIZE);
        cert.not_after = now / 1000 + 86400;
        assert (cert_encode (&cert, ca.sign_secret, &certs [i], &cert_sizes [i]) == 0);
    }
    mesh_config_t config = {
        .name = "relay", .tenant = "", .keys = &relay, .cert = certs [0],
        .cert_size = cert_sizes [0], .ca_key = ca.sign_public,
        .coord_sign = coord.sign_public, .advert_ms = 1000, .store = store,
        .prefix = "", .verbose = verbose
    };
    mesh_effects_t effects = { NULL, s_test_send, NULL, s_test_deliver, NULL, NULL, NULL, NULL, NULL };
    mesh_t *mesh = mesh_new (&config, &effects);
    assert (mesh && mesh_start (mesh, now) == 0);
    mesh_link_up (mesh, MESH_COORDINATOR, MESH_LINK_COORDINATOR, coord.curve_public, now);
    mesh_link_up (mesh, "r:01", MESH_LINK_ACCEPTED, src.curve_public, now);

    //  Before its HELLO, nothing on the link is checked ahead
    zmsg_t *msg = s_test_envelope (&src, "src", MSG_TWIN_REPORTED, 1, 0,
                                   (const uint8_t *) "\x91\x01", 2, 16);
    zframe_t *frame = zmsg_first (msg);
    uint8_t key [WEFT_KEY_SIZE];
    assert (!mesh_custody_key (mesh, "r:01", "dev-9", zframe_data (frame),
                               zframe_size (frame), key));
    zmsg_destroy (&msg);
    meshmsg_t hello;
    memset (&hello, 0, sizeof hello);
    hello.type = MSG_HELLO;
    hello.cert = certs [1];
    hello.cert_size = cert_sizes [1];
    uint8_t *payload;
    size_t payload_size;
    assert (meshmsg_encode (&hello, &payload, &payload_size) == 0);
    msg = s_test_envelope (&src, "src", MSG_HELLO, 9, 0, payload, payload_size, 1);
    free (payload);
    frame = zmsg_first (msg);
    assert (mesh_on_frame (mesh, "r:01", NULL, zframe_data (frame), zframe_size (frame),
                           now) == 0);
    zmsg_destroy (&msg);

    //  Two bursts of 40 for a device, every fifth forged: through 2
    //  workers, then none. (The neighbour's own envelopes toward the
    //  coordinator are not checked at this hop at all: mesh_custody.c.)
    for (int round = 0; round < 2; round++) {
        sigcheck_t *sigcheck = sigcheck_new (mesh, round == 0? 2: 0);
        for (uint16_t i = 0; i < 40; i++) {
            bool forged = i % 5 == 4;
            msg = s_test_envelope (forged? &forger: &src, "src", MSG_TWIN_REPORTED,
                                   (uint8_t) (0x10 + round), i,
                                   (const uint8_t *) "\x91\x01", 2, 16);
            frame = zmsg_first (msg);
            if (i == 0) {
                assert (mesh_custody_key (mesh, "r:01", "dev-9", zframe_data (frame),
                                          zframe_size (frame), key));
                assert (memcmp (key, src.sign_public, WEFT_KEY_SIZE) == 0);
                assert (!mesh_custody_key (mesh, "r:01", NULL, zframe_data (frame),
                                           zframe_size (frame), key));
                assert (!mesh_custody_key (mesh, "r:99", "dev-9", zframe_data (frame),
                                           zframe_size (frame), key));
            }
            sigcheck_add (sigcheck, "r:01", "dev-9", &msg, frame, now);
            assert (msg == NULL);
        }
        sigcheck_feed (sigcheck, now);
        assert (mesh_flush (mesh, now) == 0);
        const sigcheck_stats_t *stats = sigcheck_stats (sigcheck);
        assert (stats->frames == 40);
        assert (stats->checked == (round == 0? 40: 0));
        assert (stats->failed == (round == 0? 8: 0));
        assert (mesh_stats (mesh)->relayed == 32 * (uint64_t) (round + 1));
        assert (mesh_stats (mesh)->forged == 8 * (uint64_t) (round + 1));
        sigcheck_destroy (&sigcheck);
    }
    //  The good ones are queued in arrival order
    outbox_t *outbox = mesh_outbox (mesh);
    size_t count = 0;
    for (outbox_entry_t *entry = outbox_first (outbox); entry; entry = outbox_next (outbox)) {
        uint16_t seq = (uint16_t) (entry->id [1] << 8 | entry->id [2]);
        assert (entry->id [0] == 0x10 + count / 32 && seq % 5 != 4);
        assert (seq == (count % 32) / 4 * 5 + (count % 32) % 4);
        count++;
    }
    assert (count == 64);
    //  A frame "checked" with a key that is not the sender's is checked again
    msg = s_test_envelope (&forger, "src", MSG_TWIN_REPORTED, 0x20, 0,
                           (const uint8_t *) "\x91\x01", 2, 16);
    frame = zmsg_first (msg);
    assert (mesh_on_checked_frame (mesh, "r:01", "dev-9", zframe_data (frame),
                                   zframe_size (frame), forger.sign_public, now) == -1);
    assert (mesh_stats (mesh)->forged == 17);
    zmsg_destroy (&msg);
    //  The mesh takes the caller's decoded view and does not decode the
    //  frame's bytes again (here zeros): what it relays is framed from
    //  the view, and a forged view is still refused
    msg = s_test_envelope (&src, "src", MSG_TWIN_REPORTED, 0x21, 0,
                           (const uint8_t *) "\x91\x01", 2, 16);
    frame = zmsg_first (msg);
    envelope_t env;
    assert (envelope_decode (&env, zframe_data (frame), zframe_size (frame)) == 0);
    uint8_t zeros [512] = { 0 };
    assert (zframe_size (frame) <= sizeof zeros);
    assert (mesh_on_frame (mesh, "r:01", "dev-9", zeros, zframe_size (frame), now) == -1);
    assert (mesh_on_decoded_frame (mesh, "r:01", "dev-9", zeros, zframe_size (frame), &env,
                                   NULL, now) == 0);
    assert (mesh_flush (mesh, now) == 0);
    assert (mesh_stats (mesh)->relayed == 65);
    bool found = false;
    for (outbox_entry_t *entry = outbox_first (outbox); entry; entry = outbox_next (outbox))
        if (entry->id [0] == 0x21) {
            envelope_t relayed;
            assert (envelope_decode (&relayed, entry->frame, entry->size) == 0);
            assert (relayed.hops == 15 && envelope_verify (&relayed, src.sign_public) == 0);
            found = true;
        }
    assert (found);
    zmsg_destroy (&msg);
    msg = s_test_envelope (&forger, "src", MSG_TWIN_REPORTED, 0x22, 0,
                           (const uint8_t *) "\x91\x01", 2, 16);
    frame = zmsg_first (msg);
    assert (envelope_decode (&env, zframe_data (frame), zframe_size (frame)) == 0);
    assert (mesh_custody_key_of (mesh, "r:01", "dev-9", &env, key));
    assert (memcmp (key, src.sign_public, WEFT_KEY_SIZE) == 0);
    assert (mesh_on_decoded_frame (mesh, "r:01", "dev-9", zframe_data (frame),
                                   zframe_size (frame), &env, NULL, now) == -1);
    assert (mesh_stats (mesh)->forged == 18);
    zmsg_destroy (&msg);
    //  A burst left unfed is freed with the pool
    sigcheck_t *sigcheck = sigcheck_new (mesh, 1);
    msg = s_test_envelope (&src, "src", MSG_TWIN_REPORTED, 0x30, 0,
                           (const uint8_t *) "\x91\x01", 2, 16);
    sigcheck_add (sigcheck, "r:01", "dev-9", &msg, zmsg_first (msg), now);
    sigcheck_destroy (&sigcheck);
    sigcheck_destroy (&sigcheck);
    mesh_destroy (&mesh);
    store_destroy (&store);
    free (certs [0]);
    free (certs [1]);
    keys_wipe (&ca);
    keys_wipe (&coord);
    keys_wipe (&relay);
    keys_wipe (&src);
    keys_wipe (&forger);
    //  @end
    printf ("OK\n");
}
