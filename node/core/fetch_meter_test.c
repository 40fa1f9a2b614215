/*  fetch_meter_test - selftest of a metered uplink: the site server's
    coordinator link (played by the world, fetch_world.h) is metered.
    Outside its transfer window nothing crosses it, and the server says
    why; at the opening (its own deadline) the release comes. A daily
    budget smaller than a release stops it at the budget, the count
    survives a restart (the node's real LMDB store), and the rest comes
    after local midnight. The gateways' links inside the site are never
    metered. The clock and the local time's offset are the test's.  */

#include "proto/corelib.h"
#include "node/core/node.h"
#include "node/core/fetch.h"
#include "node/core/mesh_fabric.h"
#include "node/core/fetch_world.h"

#define S_DAY_S     86400

//  The offset from UTC (seconds east, within +-12 h) that makes local
//  time at now_ms the given second of the day
static int32_t
s_offset_for (uint64_t now_ms, int64_t local_second)
{
    int64_t offset = ((local_second - (int64_t) (now_ms / 1000 % S_DAY_S)) % S_DAY_S + S_DAY_S)
                   % S_DAY_S;
    return (int32_t) (offset > S_DAY_S / 2? offset - S_DAY_S: offset);
}

static void
s_link (fetch_t *fetch, const char *doc, int32_t offset, uint64_t now)
{
    meter_link_t link;
    int rc = meter_link_from_doc (&link, doc, strlen (doc));
    assert (rc == 0);
    fetch_set_link (fetch, &link, offset, now);
}

//  Tick the world every half second until until (Unix ms)
static uint64_t
s_run_until (fworld_t *world, uint64_t now, uint64_t until)
{
    while (now < until)
        fworld_tick (world, now = now + 500 < until? now + 500: until);
    return now;
}

void
fetch_meter_test (bool verbose)
{
    printf (" * fetch_meter: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    fworld_t world;
    fworld_init (&world, verbose);
    uint64_t now = FABRIC_EPOCH_MS;
    fworld_up (&world, now);
    fworld_node_t *server = &world.nodes [0];
    fetch_t *fetch = node_fetch (server->node);
    char why [METER_DESCRIBE_MAX + 1];
    uint64_t resumes;
    assert (!fetch_metered (fetch) && !fetch_link_set (fetch));

    //  Local time 12:00:00, a window opening at 12:01: nothing crosses
    //  the uplink before, and the server says why and when
    int32_t offset = s_offset_for (now, 12 * 3600);
    s_link (fetch, "{\"link\": {\"metered\": true, \"window\": [\"* 12:01-13:00\"]}}",
            offset, now);
    assert (fetch_metered (fetch));
    fworld_release_t *one = fworld_release_new ("1.0");
    world.held [world.held_count++] = one;
    fworld_want (server, one, now);
    uint64_t opens = now + 60000;
    now = s_run_until (&world, now, now + 30000);
    assert (world.uplink_chunks == 0 && fworld_held (server, one) == 0);
    assert (fetch_link_waiting (fetch, now, why, &resumes));
    assert (strncmp (why, "metered link: outside transfer window, next opens ", 50) == 0);
    assert (strstr (why, " 12:01 (in 1 min)"));
    assert (resumes == opens);
    //  The server wakes for the opening by itself
    assert (fetch_deadline (fetch) && fetch_deadline (fetch) <= opens);
    //  Inside the site nothing is metered: gw-1, metered too, fetches
    //  from the server (which holds 1.0 after the opening) below
    fworld_node_t *gw1 = &world.nodes [1];
    s_link (node_fetch (gw1->node), "{\"link\": {\"metered\": true, \"window\": "
            "[\"* 03:00-04:00\"]}}", offset, now);
    now = s_run_until (&world, now, opens - 500);
    assert (world.uplink_chunks == 0);
    now = s_run_until (&world, now, opens + 5000);
    assert (fworld_held (server, one) == one->count);
    assert (world.uplink_chunks == one->count);
    assert (!fetch_link_waiting (fetch, now, why, &resumes));
    fworld_want (gw1, one, now);
    now = s_run_until (&world, now, now + 5000);
    assert (fworld_held (gw1, one) == one->count);
    if (verbose)
        printf ("   outside the window nothing crossed; at its opening %zu chunks did; "
                "a metered gateway fetched from its site server\n", one->count);

    //  A budget of 60% of a release, no window, local time 23:58: the
    //  uplink stops at the budget
    fworld_release_t *two = fworld_release_new ("2.0");
    world.held [world.held_count++] = two;
    uint64_t total = 0;
    for (size_t c = 0; c < two->count; c++)
        total += two->packed_size [c];
    uint64_t budget = total * 6 / 10;
    offset = s_offset_for (now, 23 * 3600 + 58 * 60);
    char doc [128];
    snprintf (doc, sizeof doc, "{\"link\": {\"metered\": true, \"budget_bytes_per_day\": %"
              PRIu64 "}}", budget);
    s_link (fetch, doc, offset, now);
    uint64_t before = world.uplink_bytes;
    fworld_want (server, two, now);
    now = s_run_until (&world, now, now + 10000);
    size_t held = fworld_held (server, two);
    assert (held > 0 && held < two->count);
    assert (world.uplink_bytes - before <= budget);
    assert (world.uplink_bytes - before > budget / 2);
    assert (fetch_link_waiting (fetch, now, why, &resumes));
    assert (strncmp (why, "metered link: budget spent (", 28) == 0);
    uint64_t midnight = now + 120000 - (uint64_t) ((now / 1000 + (uint64_t) offset
                                                   + 120) % S_DAY_S) * 1000 - now % 1000;
    assert (resumes == midnight);

    //  Restarted the same day: the count is the store's, so the day's
    //  bytes stay within the budget (a small chunk may still fit what is
    //  left; the 40% missing would all come were the count lost)
    node_destroy (&server->node);
    fworld_start (&world, 0, NODE_CHUNK_BUDGET, 0, now);
    //  weft-node takes the link from its stored twin as it starts, before
    //  any link is up; the test's node has no twin: given here
    fetch = node_fetch (server->node);
    s_link (fetch, doc, offset, now);
    fworld_link (&world, 0, now);
    now = s_run_until (&world, now, now + 10000);
    assert (world.uplink_bytes - before <= budget);
    held = fworld_held (server, two);
    assert (held < two->count);
    uint64_t chunks = world.uplink_chunks;
    assert (fetch_link_waiting (fetch, now, why, &resumes) && resumes == midnight);
    if (verbose)
        printf ("   budget %" PRIu64 " of %" PRIu64 " bytes: %zu of %zu chunks, "
                "held after a restart (%s)\n", budget, total, held, two->count, why);

    //  At local midnight a new day's budget: the rest comes
    now = s_run_until (&world, now, midnight - 500);
    assert (world.uplink_chunks == chunks);
    now = s_run_until (&world, now, midnight + 10000);
    assert (fworld_held (server, two) == two->count);
    assert (!fetch_link_waiting (fetch, now, why, &resumes));

    //  Not metered any more: the count stays, nothing is held
    s_link (fetch, "{\"link\": {\"metered\": false}}", offset, now);
    assert (!fetch_metered (fetch) && fetch_link_set (fetch));
    if (verbose)
        printf ("   the rest after local midnight\n");
    fworld_fini (&world);
    //  @end
    printf ("OK\n");
}
