/*  report - weft-sim's outputs: the JSON summary, the convergence
    curve (CSV, SVG) and the trace excerpt of a violation  */

#include "sim/world_internal.h"

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

//  50th, 99th and 100th percentiles of values (sorted here) over unit;
//  -1 where UINT64_MAX (never) is reached
static void
s_percentiles (uint64_t *values, size_t n, double unit, double out [3])
{
    qsort (values, n, sizeof (uint64_t), s_cmp_u64);
    double pct [3] = { 0.5, 0.99, 1.0 };
    for (int k = 0; k < 3; k++) {
        size_t index = (size_t) ceil (pct [k] * n);
        index = index? index - 1: 0;
        out [k] = values [index] == UINT64_MAX? -1: values [index] / unit;
    }
}

//  The oracle (sim/oracle.h) over the overlay the mesh runs on: every
//  link net_link_of allows (coordinator - server, server - each gateway of
//  its site). depths [0] with no drops (a breadth-first search), [1]
//  under the drop rates the link classes have at the end of the run,
//  from a stream of its own.
static void
s_oracle (world_t *self, uint32_t depths [2])
{
    uint32_t n = self->nodes;
    //  Adjacency in CSR form, from the same connections the network
    //  dials (topology.c): whom a node dials and who dials it, ascending
    uint32_t *start = (uint32_t *) zmalloc ((n + 2) * sizeof (uint32_t));
    bool *root = (bool *) zmalloc ((n + 1) * sizeof (bool));
    for (uint32_t i = 0; i < n; i++) {
        root [i] = net_link_of (self, i, COORD) >= 0;
        start [i + 1] = start [i] + topo_slots (self, i)
                      + self->dialled_start [i + 1] - self->dialled_start [i];
    }
    uint32_t *adjacent = (uint32_t *) zmalloc ((start [n] + 1) * sizeof (uint32_t));
    for (uint32_t i = 0; i < n; i++) {
        uint32_t *out = adjacent + start [i], count = 0;
        for (uint32_t e = self->dial_start [i]; e < self->dial_start [i + 1]; e++)
            out [count++] = self->dial_peer [e];
        for (uint32_t d = self->dialled_start [i]; d < self->dialled_start [i + 1]; d++)
            out [count++] = self->dial_owner [self->dialled_by [d]];
        //  Insertion sort: a few entries, or a server's already in order
        for (uint32_t k = 1; k < count; k++) {
            uint32_t value = out [k], j = k;
            while (j > 0 && out [j - 1] > value) {
                out [j] = out [j - 1];
                j--;
            }
            out [j] = value;
        }
    }
    oracle_overlay_t overlay = { n, start, adjacent, root, 0, 0 };
    rng_t rng;
    rng_derive (&rng, self->scn->seed, "oracle");
    depths [0] = oracle_depth (&overlay, &rng);
    overlay.root_drop = self->classes [1].drop;
    overlay.edge_drop = self->classes [0].drop;
    depths [1] = oracle_depth (&overlay, &rng);
    free (start);
    free (root);
    free (adjacent);
}

void
report_csv (world_t *self, const char *path)
{
    FILE *file = fopen (path, "w");
    if (!file) {
        fprintf (stderr, "weft-sim: cannot write %s\n", path);
        return;
    }
    fprintf (file, "time_s,delivered,converged,delivered_fraction,converged_fraction,"
             "rss_bytes\n");
    for (size_t i = 0; i < self->nsamples; i++) {
        const sample_t *s = &self->samples [i];
        fprintf (file, "%.3f,%u,%u,%.6f,%.6f,%zu\n", s->at_us / 1e6, s->delivered,
                 s->converged, (double) s->delivered / self->nodes,
                 (double) s->converged / self->nodes, s->rss);
    }
    fclose (file);
}

void
report_svg (world_t *self, const char *path)
{
    FILE *file = fopen (path, "w");
    if (!file) {
        fprintf (stderr, "weft-sim: cannot write %s\n", path);
        return;
    }
    const double w = 800, h = 400, left = 60, bottom = 40, top = 30, right = 20;
    double span = self->nsamples? self->samples [self->nsamples - 1].at_us / 1e6: 1;
    if (span <= 0)
        span = 1;
    fprintf (file, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
             "font-family=\"sans-serif\" font-size=\"12\">\n", w, h);
    fprintf (file, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf (file, "<text x=\"%.0f\" y=\"18\">weft-sim %s: %u nodes, seed %" PRIu64
             "</text>\n", left, self->scn->name, self->nodes, self->scn->seed);
    double x0 = left, y0 = h - bottom, pw = w - left - right, ph = h - bottom - top;
    fprintf (file, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
             x0, y0, x0 + pw, y0);
    fprintf (file, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
             x0, y0, x0, y0 - ph);
    for (int i = 0; i <= 4; i++) {
        double y = y0 - ph * i / 4;
        fprintf (file, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%d%%</text>\n",
                 x0 - 5, y + 4, i * 25);
        double x = x0 + pw * i / 4;
        fprintf (file, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%.1fs</text>\n",
                 x, y0 + 16, span * i / 4);
    }
    const char *colours [2] = { "#1f77b4", "#d62728" };
    const char *labels [2] = { "delivered", "converged" };
    for (int series = 0; series < 2; series++) {
        fprintf (file, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
                 colours [series]);
        for (size_t i = 0; i < self->nsamples; i++) {
            const sample_t *s = &self->samples [i];
            double value = (series? s->converged: s->delivered) / (double) self->nodes;
            fprintf (file, "%.1f,%.1f ", x0 + pw * (s->at_us / 1e6) / span, y0 - ph * value);
        }
        fprintf (file, "\"/>\n<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">%s</text>\n",
                 x0 + pw - 90, y0 - ph + 14 + 14 * series, colours [series], labels [series]);
    }
    fprintf (file, "</svg>\n");
    fclose (file);
}

void
report_summary (world_t *self, double wall_s, size_t baseline_rss)
{
    const scenario_t *scn = self->scn;
    uint32_t n = self->nodes;
    uint64_t *lat = (uint64_t *) zmalloc (n * sizeof (uint64_t));
    uint64_t *rounds_of = (uint64_t *) zmalloc (n * sizeof (uint64_t));
    uint64_t *revoke_us = (uint64_t *) zmalloc (n * sizeof (uint64_t));
    uint64_t *revoke_rounds = (uint64_t *) zmalloc (n * sizeof (uint64_t));
    uint64_t sent = 0, sent_bytes = 0, received = 0, received_bytes = 0;
    uint64_t result = 0;
    hash_mix (&result, scn->seed);
    for (uint32_t i = 0; i < n; i++) {
        const snode_t *node = &self->node [i];
        lat [i] = node->delivered? node->deliver_us: UINT64_MAX;
        rounds_of [i] = node->delivered? node->deliver_round: UINT64_MAX;
        revoke_us [i] = node->revocation_held? node->revoked_us: UINT64_MAX;
        revoke_rounds [i] = node->revocation_held? node->revoked_round: UINT64_MAX;
        if (self->revoke_version && i == self->revoke_node)
            revoke_us [i] = revoke_rounds [i] = 0;  //  Not counted: it is the revoked one
        sent += node->sent;
        sent_bytes += node->sent_bytes;
        received += node->received;
        received_bytes += node->received_bytes;
        nh_state_t st;
        node_host_state (self->host, i, &st);
        hash_mix (&result, st.desired);
        hash_mix (&result, st.applied);
        hash_mix (&result, ((uint64_t) st.reported << 1) | st.pending);
        hash_mix (&result, lat [i]);
        hash_mix (&result, node->sent_bytes);
    }
    double t [3], rounds [3], rt [3], rr [3];
    s_percentiles (lat, n, 1000.0, t);
    s_percentiles (rounds_of, n, 1, rounds);
    s_percentiles (revoke_us, n, 1000.0, rt);
    s_percentiles (revoke_rounds, n, 1, rr);
    free (lat);
    free (rounds_of);
    free (revoke_us);
    free (revoke_rounds);
    const coord_stats_t *stats = coord_stats (self->coord);
    hash_mix (&result, stats->rejected_replay);
    hash_mix (&result, stats->rejected_signature);
    hash_mix (&result, stats->duplicates);
    hash_mix (&result, self->sched.now);
    const attest_stats_t *a = &self->attest;
    if (scn->attest) {
        hash_mix (&result, a->asked);
        hash_mix (&result, a->coord_evidence);
        hash_mix (&result, a->delegated);
        hash_mix (&result, ((uint64_t) a->passed << 32) | a->failed);
    }
    uint64_t uplink_total = 0, uplink_min = UINT64_MAX, uplink_max = 0;
    uint64_t resent = 0, dropped = 0, cut = 0;
    for (uint32_t s = 0; s < self->nsites; s++) {
        const link_t *up = &self->links [2 * s + 1];
        uint64_t bytes = up->bytes [0] + up->bytes [1];
        uplink_total += bytes;
        uplink_min = bytes < uplink_min? bytes: uplink_min;
        uplink_max = bytes > uplink_max? bytes: uplink_max;
        for (int k = 0; k < 2; k++) {
            resent += self->links [2 * s + k].resent;
            dropped += self->links [2 * s + k].dropped;
            cut += self->links [2 * s + k].cut;
        }
        hash_mix (&result, bytes);
    }
    uint32_t oracles [2];
    s_oracle (self, oracles);
    uint32_t oracle = oracles [0];
    size_t peak = world_peak_rss ();

    FILE *out = self->opt->json_path? fopen (self->opt->json_path, "w"): stdout;
    if (!out) {
        fprintf (stderr, "weft-sim: cannot write %s\n", self->opt->json_path);
        out = stdout;
    }
    fprintf (out, "{\n  \"scenario\": \"%s\",\n  \"seed\": %" PRIu64 ",\n"
             "  \"nodes\": %u,\n  \"sites\": %u,\n", scn->name, scn->seed, n, self->nsites);
    fprintf (out, "  \"result\": \"%s\",\n", self->violation [0]? "violation": "ok");
    fprintf (out, "  \"trace_hash\": \"%016" PRIx64 "\",\n  \"result_hash\": \"%016" PRIx64
             "\",\n", self->trace_hash, result);
    fprintf (out, "  \"virtual_s\": %.3f,\n  \"events\": %" PRIu64 ",\n  \"wall_s\": %.3f,\n"
             "  \"events_per_s\": %.0f,\n", self->sched.now / 1e6, self->events, wall_s,
             wall_s > 0? self->events / wall_s: 0.0);
    fprintf (out, "  \"delivery\": {\"ratio\": %.6f, \"t50_ms\": %.1f, \"t99_ms\": %.1f, "
             "\"t100_ms\": %.1f, \"rounds50\": %.0f, \"rounds99\": %.0f, "
             "\"rounds100\": %.0f, \"oracle_rounds\": %u, \"rounds_vs_oracle\": %.2f, "
             "\"oracle_rounds_drop\": %u, \"rounds_vs_oracle_drop\": %.2f},\n",
             (double) self->delivered / n, t [0], t [1], t [2], rounds [0],
             rounds [1], rounds [2], oracle,
             rounds [2] > 0 && oracle? rounds [2] / oracle: -1.0, oracles [1],
             rounds [2] > 0 && oracles [1]? rounds [2] / oracles [1]: -1.0);
    if (self->revoke_version)
        fprintf (out, "  \"revocation\": {\"node\": %u, \"version\": %" PRIu64
                 ", \"holders\": %u, \"ratio\": %.6f, \"t50_ms\": %.1f, \"t99_ms\": %.1f, "
                 "\"t100_ms\": %.1f, \"rounds50\": %.0f, \"rounds99\": %.0f, "
                 "\"rounds100\": %.0f, \"refused_by\": %u},\n",
                 self->revoke_node, self->revoke_version, self->revocation_holders,
                 (double) self->revocation_holders / (n > 1? n - 1: 1), rt [0], rt [1],
                 rt [2], rr [0], rr [1], rr [2], self->refused_by);
    if (scn->attest)
        fprintf (out, "  \"attestation\": {\"bad_actors\": %u, \"quotes_asked\": %" PRIu64
                 ", \"quotes_answered\": %" PRIu64 ", \"quotes_failed\": %" PRIu64
                 ", \"verified_by_coordinator\": %" PRIu64 ", \"verified_by_delegates\": %"
                 PRIu64 ", \"delegated_passed\": %" PRIu64 ", \"delegated_failed\": %" PRIu64
                 ", \"passed\": %u, \"failed\": %u, \"quarantined\": %u, "
                 "\"quarantined_at_site\": %u, \"unsettled\": %u, \"settled_ms\": %.1f, "
                 "\"quotes_per_s\": %.1f},\n", a->bad, a->asked, a->answered,
                 a->failed_quotes, a->coord_evidence, a->delegated, a->delegated_pass,
                 a->delegated_fail, a->passed, a->failed, a->quarantined, a->site_quarantined,
                 a->unsettled, a->unsettled? -1.0: a->settled_us / 1000.0,
                 wall_s > 0? a->answered / wall_s: 0.0);
    rollout_report (self, out);
    fprintf (out, "  \"converged\": %u,\n", self->converged);
    fprintf (out, "  \"messages_per_node\": {\"sent\": %.2f, \"received\": %.2f},\n"
             "  \"bytes_per_node\": {\"sent\": %.1f, \"received\": %.1f},\n",
             (double) sent / n, (double) received / n, (double) sent_bytes / n,
             (double) received_bytes / n);
    fprintf (out, "  \"uplink_bytes_per_site\": {\"min\": %" PRIu64 ", \"mean\": %.1f, "
             "\"max\": %" PRIu64 "},\n", uplink_min, (double) uplink_total / self->nsites,
             uplink_max);
    fprintf (out, "  \"frames\": {\"sent\": %" PRIu64 ", \"delivered\": %" PRIu64
             ", \"resent\": %" PRIu64 ", \"dropped\": %" PRIu64 ", \"cut\": %" PRIu64
             ", \"to_down_node\": %" PRIu64 ", \"relayed_refused\": %" PRIu64
             ", \"first_hop_behind\": %" PRIu64 "},\n",
             self->frames_sent, self->frames_delivered, resent, dropped, cut,
             self->frames_dropped_down, self->relayed_refused, self->first_hop_behind);
    fprintf (out, "  \"faults\": {\"actions\": %zu, \"crashes\": %" PRIu64
             ", \"coordinator_crashes\": %" PRIu64 "},\n", self->nactions, self->crashes,
             self->coord_crashes);
    fprintf (out, "  \"twin_calls\": %" PRIu64 ",\n  \"twin_failed\": %" PRIu64 ",\n"
             "  \"desired_acks\": %" PRIu64 ",\n", self->twin_calls, self->twin_failed,
             self->desired_acks);
    fprintf (out, "  \"coordinator\": {\"rejected_replay\": %" PRIu64 ", \"rejected_signature\": %"
             PRIu64 ", \"rejected_origin\": %" PRIu64 ", \"duplicates\": %" PRIu64 "},\n",
             stats->rejected_replay, stats->rejected_signature, stats->rejected_origin,
             stats->duplicates);
    //  Growth over the second half of virtual time: flat memory per
    //  node means nothing accumulates with the horizon
    const sample_t *half = NULL, *end = NULL;
    for (size_t i = 0; i < self->nsamples; i++)
        if (!half && self->samples [i].at_us * 2 >= self->sched.now)
            half = &self->samples [i];
    end = self->nsamples? &self->samples [self->nsamples - 1]: NULL;
    double growth = 0;
    if (half && end && end->at_us > half->at_us)
        growth = ((double) end->rss - (double) half->rss) / n
               / ((end->at_us - half->at_us) / 3.6e9);
    fprintf (out, "  \"memory\": {\"peak_rss_bytes\": %zu, \"baseline_rss_bytes\": %zu, "
             "\"per_node_bytes\": %.0f, \"peak_events_queued\": %zu, "
             "\"rss_half_bytes\": %zu, \"rss_end_bytes\": %zu, "
             "\"growth_per_node_per_h\": %.1f}\n}\n", peak, baseline_rss,
             peak > baseline_rss? (double) (peak - baseline_rss) / n: 0.0,
             (size_t) self->sched.peak, half? half->rss: 0, end? end->rss: 0, growth);
    if (out != stdout)
        fclose (out);
    if (!self->opt->quiet)
        fprintf (stderr, "weft-sim: %s seed %" PRIu64 ": %u nodes, %.1f s virtual in %.1f s, "
                 "%" PRIu64 " events (%.0f/s), delivered %u, converged %u, trace %016" PRIx64
                 " result %016" PRIx64 "\n", scn->name, scn->seed, n, self->sched.now / 1e6,
                 wall_s, self->events, wall_s > 0? self->events / wall_s: 0.0,
                 self->delivered, self->converged, self->trace_hash, result);
}

void
report_violation (world_t *self)
{
    fprintf (stderr, "\nweft-sim: INVARIANT VIOLATED at %.6f s: %s\n",
             self->sched.now / 1e6, self->violation);
    fprintf (stderr, "weft-sim: seed %" PRIu64 "\nweft-sim: reproduce with: %s\n",
             self->scn->seed, self->opt->command? self->opt->command: "(unknown)");
    fprintf (stderr, "weft-sim: last events (time s, event, node, arg):\n");
    uint64_t first = self->trace_count > TRACE_RING? self->trace_count - TRACE_RING: 0;
    for (uint64_t i = first; i < self->trace_count; i++) {
        const trace_t *t = &self->trace [i % TRACE_RING];
        fprintf (stderr, "    %" PRIu64 ".%06" PRIu64 " %-10s %u %" PRIu64 "\n",
                 t->time / 1000000, t->time % 1000000, world_ev_names [t->type], t->node, t->arg);
    }
}

//  --------------------------------------------------------------------------
//  Memory of the process

size_t
world_rss (void)
{
    FILE *file = fopen ("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (file) {
        if (fscanf (file, "%lu %lu", &size, &resident) != 2)
            resident = 0;
        fclose (file);
    }
    return resident * (size_t) sysconf (_SC_PAGESIZE);
}

size_t
world_peak_rss (void)
{
    struct rusage usage;
    getrusage (RUSAGE_SELF, &usage);
    return (size_t) usage.ru_maxrss * 1024;
}
