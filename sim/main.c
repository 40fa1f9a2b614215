/*  weft-sim - many real node cores and one coordinator core on a
    virtual clock and a virtual network, reproducible by seed
    Usage: weft-sim [options] SCENARIO_FILE (see --help and docs/sim.md).
    The run's randomness comes from the seed only: libsodium's random
    source is replaced, before sodium_init, by a stream derived from
    the seed, so the coordinator's random envelope ids and anything
    else drawn from it repeat run after run.  */

#include <czmq.h>
#include <sodium.h>
#include "sim/sched.h"
#include "sim/scenario.h"
#include "sim/world.h"

//  libsodium's randombytes implementation is process-wide by design;
//  this is the one piece of file-level state in weft-sim.
static rng_t s_random;

static const char *
s_random_name (void)
{
    return "weft-sim-seeded";
}

static uint32_t
s_random_u32 (void)
{
    return (uint32_t) (rng_next (&s_random) >> 32);
}

static void
s_random_stir (void)
{
}

static void
s_random_buf (void * const buf, const size_t size)
{
    uint8_t *out = (uint8_t *) buf;
    for (size_t i = 0; i < size; i += 8) {
        uint64_t value = rng_next (&s_random);
        size_t n = size - i < 8? size - i: 8;
        memcpy (out + i, &value, n);
    }
}

static uint32_t
s_random_uniform (const uint32_t bound)
{
    return bound? (uint32_t) rng_below (&s_random, bound): 0;
}

static randombytes_implementation s_random_impl = {
    s_random_name, s_random_u32, s_random_stir, s_random_uniform, s_random_buf, NULL
};

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: weft-sim [options] SCENARIO_FILE\n"
        "  --nodes N          override the node count\n"
        "  --sites N          override the site count\n"
        "  --seed N           override the seed\n"
        "  --loss P           override the packet loss (0..1) of LAN and uplink\n"
        "  --drop P           override the drop (0..1) of LAN and uplink\n"
        "  --duration D       override the duration (e.g. 300s, 5m)\n"
        "  --faults N         override the number of random faults\n"
        "  --json FILE        write the summary there (default: stdout)\n"
        "  --csv FILE         write the convergence curve\n"
        "  --plot FILE.svg    draw the convergence curve\n"
        "  --trace FILE       write every event (small runs)\n"
        "  --dir DIR          where the run's LMDB files go (default /tmp)\n"
        "  --bug NAME         test only: inject a bug (ack-before-commit,\n"
        "                     push-overtakes-reply, revocation-not-relayed,\n"
        "                     tpm-tampered, chunk-twice, site-deaf)\n"
        "  -q, --quiet        no one-line summary on stderr\n"
        "  -v, --verbose      progress and the cores' logs on stderr\n");
}

static int
s_number (const char *text, uint64_t max, uint64_t *value_p)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull (text, &end, 10);
    if (errno || end == text || *end || value > max || *text == '-')
        return -1;
    *value_p = value;
    return 0;
}

int
main (int argc, char *argv [])
{
    world_options_t options;
    memset (&options, 0, sizeof options);
    options.dir = "/tmp";
    const char *path = NULL;
    uint64_t nodes = 0, sites = 0, seed = 0, faults = 0, duration_ms = 0;
    bool seed_set = false, faults_set = false, nodes_set = false, sites_set = false;
    double loss = -1, drop = -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        const char *value = i + 1 < argc? argv [i + 1]: NULL;
        bool takes = strncmp (arg, "--", 2) == 0 && strcmp (arg, "--quiet") && strcmp (arg, "--verbose")
                  && strcmp (arg, "--help");
        if (takes && !value) {
            fprintf (stderr, "weft-sim: %s needs a value\n", arg);
            return 2;
        }
        int rc = 0;
        if (streq (arg, "--help") || streq (arg, "-h")) {
            s_usage (stdout);
            return 0;
        }
        else
        if (streq (arg, "-q") || streq (arg, "--quiet"))
            options.quiet = true;
        else
        if (streq (arg, "-v") || streq (arg, "--verbose"))
            options.verbose = true;
        else
        if (streq (arg, "--nodes"))
            rc = s_number (value, SCN_NODES_MAX, &nodes) || nodes == 0, nodes_set = true;
        else
        if (streq (arg, "--sites"))
            rc = s_number (value, SCN_SITES_MAX, &sites) || sites == 0, sites_set = true;
        else
        if (streq (arg, "--seed"))
            rc = s_number (value, UINT64_MAX, &seed), seed_set = true;
        else
        if (streq (arg, "--faults"))
            rc = s_number (value, SCN_FAULTS_MAX, &faults), faults_set = true;
        else
        if (streq (arg, "--duration"))
            rc = scenario_duration (value, &duration_ms) || duration_ms == 0;
        else
        if (streq (arg, "--loss") || streq (arg, "--drop")) {
            char *end;
            double *which = streq (arg, "--loss")? &loss: &drop;
            *which = strtod (value, &end);
            rc = *end || !(*which >= 0 && *which <= 1);
        }
        else
        if (streq (arg, "--json"))
            options.json_path = value;
        else
        if (streq (arg, "--csv"))
            options.csv_path = value;
        else
        if (streq (arg, "--plot"))
            options.plot_path = value;
        else
        if (streq (arg, "--trace"))
            options.trace_path = value;
        else
        if (streq (arg, "--dir"))
            options.dir = value;
        else
        if (streq (arg, "--bug")) {
            if (streq (value, "ack-before-commit"))
                options.bug_ack_before_commit = true;
            else
            if (streq (value, "push-overtakes-reply"))
                options.bug_push_overtakes_reply = true;
            else
            if (streq (value, "revocation-not-relayed"))
                options.bug_revocation_not_relayed = true;
            else
            if (streq (value, "tpm-tampered"))
                options.bug_tpm_tampered = true;
            else
            if (streq (value, "chunk-twice"))
                options.bug_chunk_twice = true;
            else
            if (streq (value, "site-deaf"))
                options.bug_site_deaf = true;
            else
                rc = 1;
        }
        else
        if (*arg == '-') {
            fprintf (stderr, "weft-sim: unknown option %s\n", arg);
            s_usage (stderr);
            return 2;
        }
        else
        if (!path) {
            path = arg;
            continue;
        }
        else {
            s_usage (stderr);
            return 2;
        }
        if (rc) {
            fprintf (stderr, "weft-sim: bad value for %s: %s\n", arg, value);
            return 2;
        }
        if (takes)
            i++;
    }
    if (!path) {
        s_usage (stderr);
        return 2;
    }
    //  The scenario, then the overrides
    zfile_t *file = zfile_new (NULL, path);
    zchunk_t *chunk = NULL;
    if (file && zfile_input (file) == 0)
        chunk = zfile_read (file, SCN_TEXT_MAX + 1, 0);
    zfile_destroy (&file);
    if (!chunk) {
        fprintf (stderr, "weft-sim: cannot read %s\n", path);
        return 2;
    }
    scenario_t scenario;
    scenario_defaults (&scenario);
    char error [256];
    int rc = scenario_parse (&scenario, (const char *) zchunk_data (chunk),
                             zchunk_size (chunk), error, sizeof error);
    zchunk_destroy (&chunk);
    if (rc) {
        fprintf (stderr, "weft-sim: %s: %s\n", path, error);
        return 2;
    }
    if (nodes_set)
        scenario.nodes = (uint32_t) nodes;
    if (sites_set)
        scenario.sites = (uint32_t) sites;
    if (seed_set)
        scenario.seed = seed;
    if (faults_set)
        scenario.faults = (uint32_t) faults;
    if (duration_ms)
        scenario.duration_ms = duration_ms;
    if (loss >= 0)
        scenario.lan.loss = scenario.uplink.loss = loss;
    if (drop >= 0)
        scenario.lan.drop = scenario.uplink.drop = drop;
    //  The command that reproduces this run: the same, with the seed
    char *command = (char *) zmalloc (4096);
    size_t used = 0;
    for (int i = 0; i < argc && used < 3900; i++) {
        if (streq (argv [i], "--seed")) {
            i++;
            continue;
        }
        used += snprintf (command + used, 4096 - used, "%s%s", i? " ": "", argv [i]);
    }
    if (used < 4000)
        snprintf (command + used, 4096 - used, " --seed %" PRIu64, scenario.seed);
    options.command = command;

    rng_derive (&s_random, scenario.seed, "sodium");
    randombytes_set_implementation (&s_random_impl);
    if (sodium_init () < 0) {
        fprintf (stderr, "weft-sim: cannot initialise libsodium\n");
        scenario_free (&scenario);
        free (command);
        return 2;
    }
    if (!options.verbose)
        zsys_set_logstream (NULL);
    else
        zsys_set_logstream (stderr);
    rc = world_run (&scenario, &options);
    scenario_free (&scenario);
    free (command);
    return rc;
}
