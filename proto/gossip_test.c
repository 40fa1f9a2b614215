/*  gossip - selftest (see gossip.h)  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/gossip.h"

//  Selftest: nodes wired by a fabric that delivers in rounds

#define T_NODES 5

typedef struct {
    int to;
    char from [8];
    int type;
    uint8_t *payload;
    size_t size;
} t_msg_t;

typedef struct {
    gossip_t *gossip [T_NODES];
    policy_store_t *policies [T_NODES];
    zlistx_t *wire;
    bool linked [T_NODES][T_NODES];
    int index [T_NODES];
    size_t sent [T_NODES];              //  Payloads each node sent
} t_world_t;

static t_world_t *s_world;

static int
s_count_each (void *arg, const char *key, uint64_t version)
{
    (void) key;
    (void) version;
    (*(int *) arg)++;
    return 0;
}

static int
s_t_send (void *ctx, const char *link, int type, const uint8_t *payload, size_t size)
{
    int from = *(int *) ctx;
    int to = link [1] - '0';
    if (!s_world->linked [from][to])
        return -1;
    t_msg_t *msg = (t_msg_t *) zmalloc (sizeof (t_msg_t));
    msg->to = to;
    snprintf (msg->from, sizeof msg->from, "n%d", from);
    msg->type = type;
    msg->payload = (uint8_t *) zmalloc (size + 1);
    if (size)
        memcpy (msg->payload, payload, size);
    msg->size = size;
    zlistx_add_end (s_world->wire, msg);
    s_world->sent [from]++;
    return 0;
}

static void
s_t_run (t_world_t *world, uint64_t now)
{
    t_msg_t *msg;
    while ((msg = (t_msg_t *) zlistx_first (world->wire))) {
        zlistx_detach_cur (world->wire);
        int from = msg->from [1] - '0';
        if (world->linked [msg->to][from])
            gossip_on_message (world->gossip [msg->to], msg->from, msg->type, msg->payload,
                               msg->size, now);
        free (msg->payload);
        free (msg);
    }
}

static void
s_t_link (t_world_t *world, int a, int b, bool up, uint64_t now)
{
    char name [8];
    world->linked [a][b] = world->linked [b][a] = up;
    snprintf (name, sizeof name, "n%d", b);
    if (up)
        gossip_link_up (world->gossip [a], name, true, now);
    else
        gossip_link_down (world->gossip [a], name);
    snprintf (name, sizeof name, "n%d", a);
    if (up)
        gossip_link_up (world->gossip [b], name, true, now);
    else
        gossip_link_down (world->gossip [b], name);
}

static uint8_t *
s_t_object (const keys_t *ca, const char *kind, const char *name, uint64_t version,
            size_t *size_p)
{
    policy_object_t object = { "", "", version, (const uint8_t *) "content", 7 };
    snprintf (object.kind, sizeof object.kind, "%s", kind);
    snprintf (object.name, sizeof object.name, "%s", name);
    uint8_t *bytes;
    int rc = policymsg_encode (&object, ca->sign_secret, &bytes, size_p);
    assert (rc == 0);
    return bytes;
}

void
gossip_test (bool verbose)
{
    printf (" * gossip: ");
    //  @selftest
    char dir [] = "/tmp/weft-gossip-test.XXXXXX";
    assert (mkdtemp (dir));
    const char *tables [] = { "mesh", NULL };
    store_t *store = store_new (dir, tables, 0);
    assert (store);
    store_set_nosync (store, true);
    keys_t ca, rogue;
    keys_generate (&ca);
    keys_generate (&rogue);
    t_world_t world;
    memset (&world, 0, sizeof world);
    s_world = &world;
    world.wire = zlistx_new ();
    uint64_t now = 1767225600000ULL;
    for (int i = 0; i < T_NODES; i++) {
        char prefix [16];
        snprintf (prefix, sizeof prefix, "%d/", i);
        world.policies [i] = policy_store_new (store, "mesh", prefix, ca.sign_public);
        world.index [i] = i;
        gossip_config_t config = { world.policies [i], 1000, 16, false, verbose };
        gossip_effects_t effects = { &world.index [i], s_t_send };
        world.gossip [i] = gossip_new (&config, &effects);
        assert (world.gossip [i]);
    }
    //  n0 is the source; n1 hub of n2, n3; n3 - n4 (4 hops from n0)
    s_t_link (&world, 0, 1, true, now);
    s_t_link (&world, 1, 2, true, now);
    s_t_link (&world, 1, 3, true, now);
    s_t_link (&world, 3, 4, true, now);
    s_t_run (&world, now);

    //  Three objects published at n0 reach everyone by push alone
    size_t size;
    uint8_t *object;
    const char *names [] = { "gateway", "server", "camera" };
    for (int i = 0; i < 3; i++) {
        object = s_t_object (&ca, "profile", names [i], 1, &size);
        assert (gossip_publish (world.gossip [0], object, size, now) == POLICY_STORED);
        free (object);
    }
    s_t_run (&world, now);
    for (int i = 0; i < T_NODES; i++) {
        assert (policy_store_count (world.policies [i]) == 3);
        const gossip_stats_t *stats = gossip_stats (world.gossip [i]);
        assert (stats->stored == 3 && stats->pulled == 0);
        //  Each version forwarded once, to at most GOSSIP_FANOUT links
        assert (stats->pushed <= 3 * GOSSIP_FANOUT);
    }
    //  Roots agree: a summary exchange moves nothing
    uint8_t root0 [POLICYMSG_DIGEST_SIZE], root4 [POLICYMSG_DIGEST_SIZE];
    policy_store_root (world.policies [0], root0);
    policy_store_root (world.policies [4], root4);
    assert (memcmp (root0, root4, sizeof root0) == 0);

    //  Forged, unsigned and stale objects are refused and go no further
    object = s_t_object (&rogue, "profile", "gateway", 9, &size);
    s_t_send (&world.index [2], "n1", MSG_POLICY, NULL, 0);     //  Malformed (empty)
    policymsg_t msg = { .type = MSG_POLICY, .object = object, .object_size = size };
    uint8_t *payload;
    size_t payload_size;
    assert (policymsg_msg_encode (&msg, &payload, &payload_size) == 0);
    s_t_send (&world.index [2], "n1", MSG_POLICY, payload, payload_size);
    free (payload);
    free (object);
    object = s_t_object (&ca, "profile", "gateway", 2, &size);
    assert (gossip_publish (world.gossip [0], object, size, now) == POLICY_STORED);
    free (object);
    s_t_run (&world, now);
    object = s_t_object (&ca, "profile", "gateway", 1, &size);
    msg.object = object;
    msg.object_size = size;
    assert (policymsg_msg_encode (&msg, &payload, &payload_size) == 0);
    s_t_send (&world.index [2], "n1", MSG_POLICY, payload, payload_size);
    free (payload);
    free (object);
    size_t pushed = gossip_stats (world.gossip [1])->pushed;
    s_t_run (&world, now);
    const gossip_stats_t *hub = gossip_stats (world.gossip [1]);
    assert (hub->forged == 1 && hub->stale == 1 && hub->malformed == 1);
    assert (hub->pushed == pushed);
    for (int i = 0; i < T_NODES; i++)
        assert (policy_store_version (world.policies [i], "profile/gateway") == 2);

    //  n4 is cut off while two objects change and one is added
    s_t_link (&world, 3, 4, false, now);
    object = s_t_object (&ca, "profile", "gateway", 3, &size);
    gossip_publish (world.gossip [0], object, size, now);
    free (object);
    object = s_t_object (&ca, "profile", "server", 2, &size);
    gossip_publish (world.gossip [0], object, size, now);
    free (object);
    object = s_t_object (&ca, "allowlist", "fleet", 1, &size);
    gossip_publish (world.gossip [0], object, size, now);
    free (object);
    s_t_run (&world, now);
    assert (policy_store_count (world.policies [3]) == 4);
    assert (policy_store_version (world.policies [4], "profile/gateway") == 2);
    //  ... and n0 is gone too: n3 serves what n4 missed, nothing more
    s_t_link (&world, 0, 1, false, now);
    now += 1000;
    size_t served = gossip_stats (world.gossip [3])->served;
    s_t_link (&world, 3, 4, true, now);
    s_t_run (&world, now);
    const gossip_stats_t *late = gossip_stats (world.gossip [4]);
    assert (late->pulled == 3);
    assert (late->wanted == 3);
    assert (gossip_stats (world.gossip [3])->served - served == 3);
    assert (policy_store_version (world.policies [4], "profile/gateway") == 3);
    assert (policy_store_version (world.policies [4], "allowlist/fleet") == 1);
    policy_store_root (world.policies [3], root0);
    policy_store_root (world.policies [4], root4);
    assert (memcmp (root0, root4, sizeof root0) == 0);

    //  A large set: 600 objects at n0, n2 joins n0 empty-handed: the
    //  listing is paged, and n2 pulls only the 600 it lacks
    for (int i = 0; i < 600; i++) {
        char name [16];
        snprintf (name, sizeof name, "d%d", i);
        object = s_t_object (&ca, "test", name, 1, &size);
        assert (policy_store_offer (world.policies [0], object, size, NULL, NULL)
                == POLICY_STORED);
        free (object);
    }
    size_t pulled = gossip_stats (world.gossip [2])->pulled;
    now += 1000;
    s_t_link (&world, 0, 2, true, now);
    s_t_run (&world, now);
    assert (gossip_stats (world.gossip [2])->pulled - pulled == 600);
    assert (policy_store_count (world.policies [2]) == 604);

    //  Anti-entropy costs what differs, not the set: everyone holds 604
    //  objects; n4 misses 3 changes, and n3 lists only the buckets they
    //  fall in
    for (int i = 0; i < T_NODES; i++)
        assert (policy_store_count (world.policies [i]) == 604);
    now += 1000;
    s_t_link (&world, 3, 4, false, now);
    const char *changed [] = { "d1", "d2", "d3" };
    bool bucket_changed [POLICYMSG_BUCKETS] = { false };
    for (int i = 0; i < 3; i++) {
        object = s_t_object (&ca, "test", changed [i], 2, &size);
        assert (gossip_publish (world.gossip [2], object, size, now) == POLICY_STORED);
        free (object);
        char key [32];
        snprintf (key, sizeof key, "test/%s", changed [i]);
        bucket_changed [policy_bucket (key)] = true;
    }
    s_t_run (&world, now);
    assert (policy_store_version (world.policies [3], "test/d1") == 2);
    int expected = 0;
    for (size_t bucket = 0; bucket < POLICYMSG_BUCKETS; bucket++)
        if (bucket_changed [bucket])
            policy_store_each (world.policies [3], bucket, s_count_each, &expected);
    size_t listed = gossip_stats (world.gossip [3])->listed;
    pulled = gossip_stats (world.gossip [4])->pulled;
    s_t_link (&world, 3, 4, true, now);
    s_t_run (&world, now);
    assert (gossip_stats (world.gossip [4])->pulled - pulled == 3);
    assert ((int) (gossip_stats (world.gossip [3])->listed - listed) == expected);
    assert (expected < 604 / 4);
    assert (policy_store_version (world.policies [4], "test/d3") == 2);

    //  A star: n0 with 4 leaves pushes a new object to 3 of them and
    //  sends the fourth its summary, which pulls it at once (no tick)
    s_t_link (&world, 1, 2, false, now);
    s_t_link (&world, 1, 3, false, now);
    s_t_link (&world, 3, 4, false, now);
    s_t_link (&world, 0, 1, true, now);
    s_t_link (&world, 0, 3, true, now);
    s_t_link (&world, 0, 4, true, now);
    s_t_run (&world, now);
    uint64_t pulled_before = 0;
    for (int i = 1; i < T_NODES; i++)
        pulled_before += gossip_stats (world.gossip [i])->pulled;
    pushed = gossip_stats (world.gossip [0])->pushed;
    object = s_t_object (&ca, "profile", "star", 1, &size);
    assert (gossip_publish (world.gossip [0], object, size, now) == POLICY_STORED);
    free (object);
    s_t_run (&world, now);
    uint64_t pulled_after = 0;
    for (int i = 1; i < T_NODES; i++) {
        assert (policy_store_version (world.policies [i], "profile/star") == 1);
        pulled_after += gossip_stats (world.gossip [i])->pulled;
    }
    assert (gossip_stats (world.gossip [0])->pushed - pushed == GOSSIP_FANOUT);
    assert (pulled_after - pulled_before == 1);

    //  A neighbour that asks again and again is answered a bounded
    //  number of times per interval
    policymsg_t ask = { .type = MSG_POLICY_SUMMARY,
                        .buckets = policy_store_buckets (world.policies [4]) };
    assert (policymsg_msg_encode (&ask, &payload, &payload_size) == 0);
    for (int i = 0; i < 3 * GOSSIP_REQUESTS_MAX; i++)
        gossip_on_message (world.gossip [0], "n2", MSG_POLICY_SUMMARY, payload, payload_size,
                           now);
    free (payload);
    assert (gossip_stats (world.gossip [0])->throttled >= 2 * GOSSIP_REQUESTS_MAX);
    s_t_run (&world, now);
    //  Pulls are forgotten after 3 intervals
    gossip_tick (world.gossip [0], now + 10000);
    char *json = gossip_stats_json (world.gossip [4]);
    assert (strstr (json, "\"pulled\":6"));
    if (verbose)
        printf ("%s ", json);
    free (json);

    for (int i = 0; i < T_NODES; i++) {
        gossip_destroy (&world.gossip [i]);
        policy_store_destroy (&world.policies [i]);
    }
    zlistx_destroy (&world.wire);
    keys_wipe (&ca);
    keys_wipe (&rogue);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    //  @end
    printf ("OK\n");
}
