/*  oracle - fewest rounds from the coordinator over an overlay  */

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include "sim/oracle.h"

#define ORACLE_ATTEMPTS_MAX 64      //  A link that fails this often is cut

//  Rounds one transmission takes when each attempt is dropped with p
static uint32_t
s_attempts (double p, rng_t *rng)
{
    uint32_t attempts = 1;
    while (p > 0 && attempts < ORACLE_ATTEMPTS_MAX && rng_unit (rng) < p)
        attempts++;
    return attempts;
}

uint32_t
oracle_depth (const oracle_overlay_t *overlay, rng_t *rng)
{
    uint32_t n = overlay->nodes;
    uint32_t *depth = (uint32_t *) calloc (n? n: 1, sizeof (uint32_t));
    assert (depth);
    sched_t heap;
    sched_init (&heap);
    for (uint32_t i = 0; i < n; i++)
        if (overlay->root [i])
            sched_push (&heap, s_attempts (overlay->root_drop, rng), 0, i, 0, NULL);
    uint32_t max = 0;
    event_t event;
    while (sched_pop (&heap, &event)) {
        uint32_t i = event.node;
        if (depth [i])
            continue;               //  Reached sooner over another link
        depth [i] = (uint32_t) event.time;
        max = depth [i] > max? depth [i]: max;
        for (uint32_t c = overlay->start [i]; c < overlay->start [i + 1]; c++)
            if (!depth [overlay->adjacent [c]])
                sched_push (&heap, event.time + s_attempts (overlay->edge_drop, rng), 0,
                            overlay->adjacent [c], 0, NULL);
    }
    sched_free (&heap);
    free (depth);
    return max;
}

//  --------------------------------------------------------------------------
//  Selftest

void
oracle_test (bool verbose)
{
    (void) verbose;
    printf (" * oracle: ");
    //  @selftest
    //  Two sites: servers 0 and 3 (roots), gateways 1, 2 and 4; gateway 2
    //  also links to gateway 1 only through server 0; node 5 is unreachable
    uint32_t start [] = { 0, 2, 3, 4, 5, 6, 6 };
    uint32_t adjacent [] = { 1, 2, 0, 0, 4, 3 };
    bool root [] = { true, false, false, true, false, false };
    oracle_overlay_t overlay = { 6, start, adjacent, root, 0, 0 };
    rng_t rng;
    rng_derive (&rng, 1, "oracle");
    uint64_t before = rng.s [0];
    assert (oracle_depth (&overlay, &rng) == 2);
    assert (rng.s [0] == before);   //  No drops, no draws

    //  A chain of 1,000 gateways behind one server: depth 1,001
    enum { CHAIN = 1001 };
    uint32_t *chain_start = (uint32_t *) malloc ((CHAIN + 1) * sizeof (uint32_t));
    uint32_t *chain_adjacent = (uint32_t *) malloc (CHAIN * sizeof (uint32_t));
    bool *chain_root = (bool *) calloc (CHAIN, sizeof (bool));
    for (uint32_t i = 0; i < CHAIN; i++) {
        chain_start [i] = i;
        chain_adjacent [i] = i + 1 < CHAIN? i + 1: i - 1;
    }
    chain_start [CHAIN] = CHAIN;
    chain_root [0] = true;
    oracle_overlay_t line = { CHAIN, chain_start, chain_adjacent, chain_root, 0, 0 };
    assert (oracle_depth (&line, &rng) == CHAIN);

    //  Drops cost rounds: 10% on every link of the chain costs about
    //  1/0.9 rounds a hop, and the same stream gives the same depth
    line.root_drop = line.edge_drop = 0.1;
    rng_t a, b;
    rng_derive (&a, 7, "oracle");
    rng_derive (&b, 7, "oracle");
    uint32_t lossy = oracle_depth (&line, &a);
    assert (lossy == oracle_depth (&line, &b));
    assert (lossy > CHAIN * 1.05 && lossy < CHAIN * 1.2);
    //  Every attempt dropped: a link gives up after ORACLE_ATTEMPTS_MAX
    overlay.root_drop = overlay.edge_drop = 1.0;
    assert (oracle_depth (&overlay, &a) == 2 * ORACLE_ATTEMPTS_MAX);
    free (chain_start);
    free (chain_adjacent);
    free (chain_root);
    //  @end
    printf ("OK\n");
}
