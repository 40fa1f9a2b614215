/*  agent_test - selftest of the agent: fake time, captured frames, a
    fake coordinator, and a real LMDB store in a temporary directory;
    what it answers to each frame, and the golden TWIN_DESIRED taken at
    its time.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/codec.h"
#include "node/core/agent.h"
#include "proto/envelope.h"
#include "proto/msg.h"
#include "proto/replay.h"

//  --------------------------------------------------------------------------
//  Selftest: fake time, captured frames, a fake coordinator, and a real
//  LMDB store in a temporary directory.

#define TEST_FRAMES 64

typedef struct {
    uint8_t *frames [TEST_FRAMES];      //  Sent frames, owned
    size_t sizes [TEST_FRAMES];
    size_t sent;
    bool fail_send;                     //  Simulate a lost link
    uint64_t timers [AGENT_TIMERS];     //  Armed deadlines
    uint64_t apply_version;             //  Last apply asked
    char *apply_doc;
    size_t applies;
} test_world_t;

static int
s_test_send (void *ctx, const uint8_t *frame, size_t size)
{
    test_world_t *world = (test_world_t *) ctx;
    if (world->fail_send)
        return -1;
    assert (world->sent < TEST_FRAMES);
    world->frames [world->sent] = (uint8_t *) zmalloc (size);
    memcpy (world->frames [world->sent], frame, size);
    world->sizes [world->sent++] = size;
    return 0;
}

static void
s_test_timer (void *ctx, int kind, uint64_t at_ms)
{
    test_world_t *world = (test_world_t *) ctx;
    assert (kind >= 0 && kind < AGENT_TIMERS);
    world->timers [kind] = at_ms;
}

static void
s_test_apply (void *ctx, uint64_t version, const char *doc, size_t size)
{
    test_world_t *world = (test_world_t *) ctx;
    world->apply_version = version;
    free (world->apply_doc);
    world->apply_doc = (char *) zmalloc (size + 1);
    memcpy (world->apply_doc, doc, size);
    world->applies++;
}

static void
s_test_clear (test_world_t *world)
{
    for (size_t i = 0; i < world->sent; i++)
        free (world->frames [i]);
    world->sent = 0;
}

//  Decode the nth sent frame, verified with the node's key
static int
s_test_sent (test_world_t *world, size_t index, const keys_t *node,
             envelope_t *env, msg_t *msg)
{
    assert (index < world->sent);
    assert (envelope_decode (env, world->frames [index], world->sizes [index]) == 0);
    assert (envelope_verify (env, node->sign_public) == 0);
    assert (msg_decode (msg, env->type, env->payload, env->payload_size) == 0);
    return env->type;
}

//  A coordinator envelope; caller frees
static uint8_t *
s_test_coord (const keys_t *signer, const char *origin, uint64_t seq,
              uint64_t expiry, const msg_t *msg, size_t *size_p, uint8_t *id)
{
    uint8_t *payload;
    size_t payload_size;
    int rc = msg_encode (msg, &payload, &payload_size);
    assert (rc == 0);
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, WEFT_ID_SIZE);
    if (id)
        memcpy (id, env.id, WEFT_ID_SIZE);
    env.type = msg->type;
    strcpy (env.origin, origin);
    env.seq = seq;
    env.hlc = (uint64_t) 1000 << 16;
    env.expiry = expiry;
    env.hop_limit = env.hops = WEFT_HOP_LIMIT;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame;
    rc = envelope_encode (&env, signer->sign_secret, &frame, size_p);
    assert (rc == 0);
    free (payload);
    return frame;
}

static uint8_t *
s_test_desired (const keys_t *signer, uint64_t seq, uint64_t version,
                const char *doc, size_t *size_p, uint8_t *id)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_TWIN_DESIRED;
    strcpy (msg.twin_desired.device, "gw-1");
    msg.twin_desired.version = version;
    msg.twin_desired.doc = doc;
    msg.twin_desired.doc_size = strlen (doc);
    return s_test_coord (signer, AGENT_COORDINATOR, seq, 0, &msg, size_p, id);
}

static uint8_t *
s_test_ack (const keys_t *signer, uint64_t seq, const uint8_t *ack_id, int status,
            size_t *size_p)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_ACK;
    memcpy (msg.ack.ack_id, ack_id, WEFT_ID_SIZE);
    msg.ack.status = status;
    return s_test_coord (signer, AGENT_COORDINATOR, seq, 0, &msg, size_p, NULL);
}

void
agent_test (bool verbose)
{
    printf (" * agent: ");
    //  @selftest
    char dir [] = "/tmp/weft-agent-test.XXXXXX";
    assert (mkdtemp (dir));
    const char *tables [] = { AGENT_TABLE, NULL };
    store_t *store = store_new (dir, tables, 0);
    assert (store);
    keys_t node, coord, forger;
    keys_generate (&node);
    keys_generate (&coord);
    keys_generate (&forger);
    test_world_t world;
    memset (&world, 0, sizeof world);
    agent_effects_t effects = { &world, s_test_send, s_test_timer, s_test_apply };
    agent_config_t config = {
        .name = "gw-1", .tenant = "acme", .keys = &node,
        .coord_sign = coord.sign_public, .heartbeat_ms = 5000,
        .store = store, .prefix = "", .verbose = verbose
    };
    agent_t *agent = agent_new (&config, &effects);
    assert (agent);
    uint64_t now = 1700000000000ULL;
    envelope_t env;
    msg_t msg;
    size_t size;
    uint8_t id [WEFT_ID_SIZE];

    //  Heartbeat on connect, and the heartbeat timer
    assert (agent_start (agent, now) == 0);
    assert (world.timers [AGENT_TIMER_HEARTBEAT] == now + 5000);
    assert (world.applies == 0);
    agent_connected (agent, now);
    assert (world.sent == 1);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_HEARTBEAT);
    assert (streq (env.origin, "gw-1") && streq (env.tenant, "acme"));
    assert (env.seq == 2);          //  Seq 1 was the enrolment request
    assert ((env.hlc >> 16) == now);
    assert (msg.heartbeat.desired_version == 0);
    uint64_t last_seq = env.seq;
    s_test_clear (&world);
    now += 5000;
    agent_timer (agent, now, AGENT_TIMER_HEARTBEAT);
    assert (world.sent == 1);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_HEARTBEAT);
    assert (env.seq > last_seq);
    assert (msg.heartbeat.uptime_s == 5);
    assert (world.timers [AGENT_TIMER_HEARTBEAT] == now + 5000);
    s_test_clear (&world);

    //  Desired version 1: stored, ACKed, applied once
    uint8_t *desired1 = s_test_desired (&coord, 1, 1, "{\"led\":\"on\"}", &size, id);
    size_t desired1_size = size;
    assert (agent_message (agent, now, desired1, desired1_size) == 0);
    assert (agent_desired_version (agent) == 1);
    assert (world.sent == 1);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_ACK);
    assert (memcmp (msg.ack.ack_id, id, WEFT_ID_SIZE) == 0);
    assert (msg.ack.status == WEFT_STATUS_OK);
    assert (world.applies == 1 && world.apply_version == 1);
    assert (streq (world.apply_doc, "{\"led\":\"on\"}"));
    s_test_clear (&world);

    //  Delivered twice: refused as a replay, no ACK, no second apply
    assert (agent_message (agent, now, desired1, desired1_size) == -1);
    assert (world.sent == 0 && world.applies == 1);

    //  Applied: the report goes out and repeats with back-off until ACKed
    agent_applied (agent, now, 1, true, NULL, 0, NULL);
    assert (agent_applied_version (agent) == 1);
    assert (agent_reported_version (agent) == 1);
    assert (agent_report_pending (agent));
    assert (world.sent == 1);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_TWIN_REPORTED);
    assert (msg.twin_reported.version == 1);
    assert (msg.twin_reported.desired_version == 1);
    assert (streq (msg.twin_reported.status, "ok"));
    assert (msg.twin_reported.doc_size == strlen ("{\"led\":\"on\"}"));
    uint8_t first_id [WEFT_ID_SIZE];
    memcpy (first_id, env.id, WEFT_ID_SIZE);
    assert (world.timers [AGENT_TIMER_RETRANSMIT] == now + AGENT_RETRY_MIN_MS);
    s_test_clear (&world);
    now += AGENT_RETRY_MIN_MS;
    agent_timer (agent, now, AGENT_TIMER_RETRANSMIT);
    assert (world.sent == 1);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_TWIN_REPORTED);
    assert (msg.twin_reported.version == 1);
    assert (world.timers [AGENT_TIMER_RETRANSMIT] == now + 2 * AGENT_RETRY_MIN_MS);
    //  The same envelope again (relays de-duplicate it by id)...
    uint8_t second_id [WEFT_ID_SIZE];
    memcpy (second_id, env.id, WEFT_ID_SIZE);
    assert (memcmp (first_id, second_id, WEFT_ID_SIZE) == 0);
    s_test_clear (&world);
    uint64_t sealed = now - AGENT_RETRY_MIN_MS;
    now = sealed + AGENT_RESEAL_MS - 1;
    agent_timer (agent, now, AGENT_TIMER_RETRANSMIT);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_TWIN_REPORTED);
    assert (memcmp (env.id, first_id, WEFT_ID_SIZE) == 0);
    s_test_clear (&world);
    //  ... until it is as old as half the de-duplication window: sealed anew
    now = sealed + AGENT_RESEAL_MS;
    agent_timer (agent, now, AGENT_TIMER_RETRANSMIT);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_TWIN_REPORTED);
    assert (memcmp (env.id, first_id, WEFT_ID_SIZE) != 0 && msg.twin_reported.version == 1);
    memcpy (second_id, env.id, WEFT_ID_SIZE);
    s_test_clear (&world);
    agent_timer (agent, now + 1, AGENT_TIMER_RETRANSMIT);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_TWIN_REPORTED);
    assert (memcmp (env.id, second_id, WEFT_ID_SIZE) == 0);
    s_test_clear (&world);

    //  Cut off (a week's outage): neither heartbeats nor reports sealed
    //  anew pile up in the outbox, the timers keep running, and the
    //  route's return sends a heartbeat and the pending report at once
    agent_disconnected (agent, now);
    agent_timer (agent, now + 5000, AGENT_TIMER_HEARTBEAT);
    assert (world.sent == 0);
    assert (world.timers [AGENT_TIMER_HEARTBEAT] == now + 10000);
    now += 2 * AGENT_RESEAL_MS;
    agent_timer (agent, now, AGENT_TIMER_RETRANSMIT);
    assert (world.sent == 0);
    assert (world.timers [AGENT_TIMER_RETRANSMIT] > now);
    agent_connected (agent, now);
    assert (world.sent == 2);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_HEARTBEAT);
    assert (s_test_sent (&world, 1, &node, &env, &msg) == MSG_TWIN_REPORTED);
    assert (memcmp (env.id, second_id, WEFT_ID_SIZE) != 0 && msg.twin_reported.version == 1);
    s_test_clear (&world);

    //  An ACK for something else does not end it; the right one does
    uint8_t other_id [WEFT_ID_SIZE] = { 1, 2, 3 };
    uint8_t *ack = s_test_ack (&coord, 2, other_id, WEFT_STATUS_OK, &size);
    assert (agent_message (agent, now, ack, size) == 0);
    free (ack);
    assert (agent_report_pending (agent));
    ack = s_test_ack (&coord, 3, first_id, WEFT_STATUS_OK, &size);
    assert (agent_message (agent, now, ack, size) == 0);
    free (ack);
    assert (!agent_report_pending (agent));
    assert (world.timers [AGENT_TIMER_RETRANSMIT] == 0);
    agent_timer (agent, now + 60000, AGENT_TIMER_RETRANSMIT);
    assert (world.sent == 0);

    //  A newer version, then an older one, which is ACKed but ignored
    uint8_t *frame = s_test_desired (&coord, 5, 3, "{\"led\":\"off\"}", &size, NULL);
    assert (agent_message (agent, now, frame, size) == 0);
    free (frame);
    assert (agent_desired_version (agent) == 3);
    assert (world.applies == 2 && world.apply_version == 3);
    s_test_clear (&world);
    frame = s_test_desired (&coord, 4, 2, "{\"led\":\"dim\"}", &size, NULL);
    assert (agent_message (agent, now, frame, size) == 0);   //  In the window
    free (frame);
    assert (agent_desired_version (agent) == 3);
    assert (world.applies == 2);
    assert (world.sent == 1);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_ACK);
    s_test_clear (&world);

    //  Forged signature, wrong origin, expired, not a JSON object, garbage
    uint64_t dropped = agent_dropped (agent);
    frame = s_test_desired (&forger, 6, 9, "{\"led\":\"evil\"}", &size, NULL);
    assert (agent_message (agent, now, frame, size) == -1);
    free (frame);
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_TWIN_DESIRED;
    strcpy (msg.twin_desired.device, "gw-1");
    msg.twin_desired.version = 9;
    msg.twin_desired.doc = "{}";
    msg.twin_desired.doc_size = 2;
    frame = s_test_coord (&coord, "gw-2", 7, 0, &msg, &size, NULL);
    assert (agent_message (agent, now, frame, size) == -1);
    free (frame);
    frame = s_test_coord (&coord, AGENT_COORDINATOR, 8, now - 1, &msg, &size, NULL);
    assert (agent_message (agent, now, frame, size) == -1);
    free (frame);
    frame = s_test_desired (&coord, 9, 9, "[1,2]", &size, NULL);
    assert (agent_message (agent, now, frame, size) == -1);
    free (frame);
    uint8_t garbage [64];
    randombytes_buf (garbage, sizeof garbage);
    assert (agent_message (agent, now, garbage, sizeof garbage) == -1);
    assert (agent_message (agent, now, garbage, 0) == -1);
    assert (agent_dropped (agent) == dropped + 6);
    assert (agent_desired_version (agent) == 3);
    assert (world.sent == 0 && world.applies == 2);

    //  What each one answers, as the mesh acknowledges its custody
    //  transfer (agent_receive): a refusal for good with its reason,
    //  and nothing changes
    char reason [WEFT_TEXT_MAX + 1];
    frame = s_test_desired (&forger, 6, 9, "{\"led\":\"evil\"}", &size, NULL);
    assert (agent_receive (agent, now, frame, size, reason) == WEFT_STATUS_DENIED);
    assert (streq (reason, "the signature does not verify with the coordinator's key"));
    free (frame);
    frame = s_test_coord (&coord, "gw-2", 7, 0, &msg, &size, NULL);
    assert (agent_receive (agent, now, frame, size, reason) == WEFT_STATUS_DENIED);
    assert (streq (reason, "origin gw-2 is not the coordinator"));
    free (frame);
    frame = s_test_coord (&coord, AGENT_COORDINATOR, 8, now, &msg, &size, NULL);
    assert (agent_receive (agent, now, frame, size, reason) == WEFT_STATUS_EXPIRED);
    assert (strstr (reason, "expired at "));
    free (frame);
    frame = s_test_desired (&coord, 9, 9, "[1,2]", &size, NULL);
    assert (agent_receive (agent, now, frame, size, reason) == WEFT_STATUS_BAD_REQUEST);
    assert (streq (reason, "TWIN_DESIRED version 9 is not a JSON object of at most 65536 bytes"));
    free (frame);
    strcpy (msg.twin_desired.device, "gw-2");
    frame = s_test_coord (&coord, AGENT_COORDINATOR, 9, 0, &msg, &size, NULL);
    assert (agent_receive (agent, now, frame, size, reason) == WEFT_STATUS_DENIED);
    assert (streq (reason, "TWIN_DESIRED for gw-2, not for gw-1"));
    free (frame);
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_HEARTBEAT;
    frame = s_test_coord (&coord, AGENT_COORDINATOR, 9, 0, &msg, &size, NULL);
    assert (agent_receive (agent, now, frame, size, reason) == WEFT_STATUS_BAD_REQUEST);
    assert (streq (reason, "HEARTBEAT is not for the agent"));
    free (frame);
    ack = s_test_ack (&coord, 2, first_id, WEFT_STATUS_OK, &size);
    assert (agent_receive (agent, now, ack, size, reason) == WEFT_STATUS_DENIED);
    assert (streq (reason, "replayed: seq 2 was seen or is too old"));
    free (ack);
    assert (agent_receive (agent, now, garbage, sizeof garbage, reason)
            == WEFT_STATUS_BAD_REQUEST);
    //  A retransmission of a document we hold: taken (the sender may stop
    //  sending it), neither applied nor acknowledged again
    assert (agent_receive (agent, now, desired1, desired1_size, reason) == WEFT_STATUS_OK);
    assert (streq (reason, "duplicate: holding desired version 3"));
    assert (agent_message (agent, now, desired1, desired1_size) == -1);
    assert (agent_desired_version (agent) == 3);
    assert (world.sent == 0 && world.applies == 2);

    //  Restart before version 3's apply finished: it is applied again,
    //  the replay window survived, and seqs never go back
    agent_destroy (&agent);
    agent_destroy (&agent);
    store_destroy (&store);
    store = store_new (dir, tables, 0);
    assert (store);
    config.store = store;
    free (world.apply_doc);
    memset (&world, 0, sizeof world);
    agent = agent_new (&config, &effects);
    now += 1000;
    assert (agent_start (agent, now) == 0);
    assert (agent_desired_version (agent) == 3);
    assert (agent_applied_version (agent) == 1);
    assert (agent_reported_version (agent) == 1);
    assert (!agent_report_pending (agent));
    assert (world.applies == 1 && world.apply_version == 3);
    assert (streq (world.apply_doc, "{\"led\":\"off\"}"));
    assert (agent_message (agent, now, desired1, desired1_size) == -1);
    assert (world.applies == 1);
    agent_connected (agent, now);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_HEARTBEAT);
    assert (env.seq >= last_seq + AGENT_SEQ_BLOCK);
    assert (msg.heartbeat.desired_version == 3);
    assert (msg.heartbeat.reported_version == 1);
    last_seq = env.seq;
    s_test_clear (&world);

    //  Apply fails: reported carries the error and the previous document
    agent_applied (agent, now, 3, false, NULL, 0, "exit status 1");
    assert (agent_applied_version (agent) == 3);
    assert (agent_reported_version (agent) == 2);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_TWIN_REPORTED);
    assert (streq (msg.twin_reported.status, "exit status 1"));
    assert (msg.twin_reported.desired_version == 3);
    assert (msg.twin_reported.doc_size == strlen ("{\"led\":\"on\"}"));
    s_test_clear (&world);
    //  A stale result is ignored
    agent_applied (agent, now, 3, true, NULL, 0, NULL);
    assert (agent_reported_version (agent) == 2 && world.sent == 0);

    //  Crash between store and ACK: the ACK is lost, the document is not
    world.fail_send = true;
    frame = s_test_desired (&coord, 10, 4, "{\"fan\":2}", &size, NULL);
    assert (agent_message (agent, now, frame, size) == 0);
    free (frame);
    assert (world.applies == 2);    //  The crash comes before the apply ends
    agent_destroy (&agent);
    store_destroy (&store);
    store = store_new (dir, tables, 0);
    config.store = store;
    free (world.apply_doc);
    memset (&world, 0, sizeof world);
    agent = agent_new (&config, &effects);
    now += 1000;
    assert (agent_start (agent, now) == 0);
    assert (agent_desired_version (agent) == 4);
    assert (world.applies == 1 && world.apply_version == 4);
    assert (streq (world.apply_doc, "{\"fan\":2}"));
    //  The unacknowledged report from before the crash is resent on connect
    assert (agent_report_pending (agent));
    assert (world.timers [AGENT_TIMER_RETRANSMIT] == now + AGENT_RETRY_MIN_MS);
    agent_connected (agent, now);
    assert (world.sent == 2);
    assert (s_test_sent (&world, 1, &node, &env, &msg) == MSG_TWIN_REPORTED);
    assert (msg.twin_reported.version == 2);
    assert (env.seq > last_seq);
    s_test_clear (&world);

    //  Apply with the handler's own report
    agent_applied (agent, now, 4, true, "{\"fan\":2,\"rpm\":900}", 19, NULL);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_TWIN_REPORTED);
    assert (msg.twin_reported.version == 3);
    assert (msg.twin_reported.doc_size == 19);
    assert (memcmp (msg.twin_reported.doc, "{\"fan\":2,\"rpm\":900}", 19) == 0);
    //  The coordinator refuses it for good: its custody ends, counted,
    //  and it is never sent again
    ack = s_test_ack (&coord, 12, env.id, WEFT_STATUS_DENIED, &size);
    s_test_clear (&world);
    assert (agent_refused (agent) == 0 && agent_report_pending (agent));
    assert (agent_receive (agent, now, ack, size, reason) == WEFT_STATUS_OK);
    free (ack);
    assert (agent_refused (agent) == 1 && !agent_report_pending (agent));
    assert (world.timers [AGENT_TIMER_RETRANSMIT] == 0);
    agent_timer (agent, now + 60000, AGENT_TIMER_RETRANSMIT);
    assert (world.sent == 0);

    //  The store fails: no ACK (INTERNAL: the sender retransmits), nothing
    //  changes, and the same frame is accepted once the store works again
    frame = s_test_desired (&coord, 11, 5, "{\"fan\":3}", &size, NULL);
    store_fail_after (store, 1);
    assert (agent_receive (agent, now, frame, size, reason) == WEFT_STATUS_INTERNAL);
    assert (streq (reason, "cannot store desired version 5"));
    assert (agent_desired_version (agent) == 4 && world.sent == 0);
    store_fail_after (store, 1);
    assert (agent_message (agent, now, frame, size) == -1);
    assert (agent_desired_version (agent) == 4 && world.sent == 0);
    store_fail_after (store, 0);
    assert (agent_message (agent, now, frame, size) == 0);
    assert (agent_desired_version (agent) == 5);
    assert (world.sent == 1);
    s_test_clear (&world);
    agent_applied (agent, now, 5, true, NULL, 0, NULL);
    assert (agent_applied_version (agent) == 5);
    s_test_clear (&world);

    //  Restart once everything is applied: nothing is applied again, and
    //  the last desired frame delivered once more is still a replay
    agent_destroy (&agent);
    store_destroy (&store);
    store = store_new (dir, tables, 0);
    config.store = store;
    free (world.apply_doc);
    memset (&world, 0, sizeof world);
    agent = agent_new (&config, &effects);
    assert (agent_start (agent, now) == 0);
    assert (agent_desired_version (agent) == 5 && agent_applied_version (agent) == 5);
    assert (world.applies == 0);
    assert (agent_message (agent, now, frame, size) == -1);
    assert (world.applies == 0 && world.sent == 0);
    free (frame);

    //  A firmware release committed: its fw becomes the node's weft.fw,
    //  and the report of the next apply keeps it (with the software)
    const char *fw = "{\"state\":\"committed\",\"handler\":\"firmware\",\"fw\":\"2.3.0\"}";
    assert (agent_report_software (agent, now, fw, strlen (fw)) == 0);
    char doc [256];
    for (int round = 0; round < 2; round++) {
        assert (world.sent >= 1);
        assert (s_test_sent (&world, world.sent - 1, &node, &env, &msg) == MSG_TWIN_REPORTED);
        assert (msg.twin_reported.doc_size < sizeof doc);
        memcpy (doc, msg.twin_reported.doc, msg.twin_reported.doc_size);
        doc [msg.twin_reported.doc_size] = 0;
        assert (strstr (doc, "\"weft\":{\"fw\":\"2.3.0\"}"));
        assert (strstr (doc, "\"software\":{"));
        s_test_clear (&world);
        if (round == 0) {
            frame = s_test_desired (&coord, 14, 6, "{\"fan\":4}", &size, NULL);
            assert (agent_message (agent, now, frame, size) == 0);
            free (frame);
            agent_applied (agent, now, 6, true, NULL, 0, NULL);
            assert (agent_applied_version (agent) == 6);
        }
    }
    assert (strstr (doc, "\"fan\":4"));

    //  HLC never goes backwards, even if the clock does
    uint64_t hlc = agent_hlc (agent, now);
    assert (agent_hlc (agent, now - 10000) > hlc);

    //  The golden TWIN_DESIRED (tests/golden, run from the repository
    //  root) is taken by node-1's agent at its time, and acknowledged
    {
        keys_t golden_node, golden_coord;
        keys_from_byte (&golden_node, 0x01);
        keys_from_byte (&golden_coord, 0xc0);
        agent_config_t golden = {
            .name = "node-1", .tenant = "acme", .keys = &golden_node,
            .coord_sign = golden_coord.sign_public, .store = store, .prefix = "golden/"
        };
        test_world_t golden_world;
        memset (&golden_world, 0, sizeof golden_world);
        agent_effects_t golden_effects = { &golden_world, s_test_send, s_test_timer,
                                           s_test_apply };
        agent_t *node_1 = agent_new (&golden, &golden_effects);
        assert (node_1 && agent_start (node_1, 1767225600000ULL) == 0);
        uint8_t *vector;
        size_t vector_size;
        assert (codec_golden ("envelope-twin-desired", NULL, 0, &vector, &vector_size) == 0);
        assert (agent_receive (node_1, 1767225600000ULL, vector, vector_size, reason)
                == WEFT_STATUS_OK);
        assert (agent_desired_version (node_1) == 3);
        assert (golden_world.sent == 1);
        assert (s_test_sent (&golden_world, 0, &golden_node, &env, &msg) == MSG_ACK);
        free (vector);
        s_test_clear (&golden_world);
        free (golden_world.apply_doc);
        agent_destroy (&node_1);
        keys_wipe (&golden_node);
        keys_wipe (&golden_coord);
    }

    free (desired1);
    free (world.apply_doc);
    agent_destroy (&agent);
    store_destroy (&store);
    keys_wipe (&node);
    keys_wipe (&coord);
    keys_wipe (&forger);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    //  @end
    printf ("OK\n");
}
