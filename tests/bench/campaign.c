/*  campaign - benchmark of planning and starting a campaign over 100,000
    devices at the coordinator (issue 15's goal: under 10 s; the
    comparable auto-assignment of a widely used update server took over
    a minute at 140,000 devices)
    100,000 gateways of one tenant in 100 sites; a release of the
    tenant's repository. Timed through rpc_call on a real LMDB store,
    each call in its own committed write transaction as weft-coord runs
    it (median of three runs, each aborted after, which frees its
    devices for the next):
        campaign.create  the query, the plan (waves 1, 1%, 10%, 100%),
                         one record and one hold per device
        campaign.start   the canary wave offered (one signed assignment)
    and once, a campaign whose first wave is every device:
        campaign.start   100,000 assignments signed and their offers
                         made
    Comparators measured in the same run:
        create:          raw LMDB puts of 200,000 records of the same
                         size (a record and a hold per device) in one
                         committed transaction
        start of all:    raw libsodium: 100,000 Ed25519 signatures of
                         an assignment's size
    Prints BENCH lines:
        BENCH <name> <value> <unit> ratio=<x> vs <comparator> [goal=<g> met|MISSED]  */

#include <czmq.h>
#include <lmdb.h>
#include <sodium.h>

#include "proto/keys.h"
#include "proto/release_fixture.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/campaign.h"
#include "coordinator/core/rpc_internal.h"
#include "coordinator/core/director_fixture.h"
#include "tests/bench/bench.h"

#define DEVICES     100000
#define SITES       100
#define BATCH       1000
#define RUNS        3
#define RECORD      120         //  Bytes of a campaign's device record, about
#define ASSIGNMENT  200         //  Bytes of a signed assignment, about

static double
s_now (void)
{
    return (double) zclock_usecs () / 1e6;
}

static void
s_register (store_t *store)
{
    for (int base = 0; base < DEVICES; base += BATCH) {
        store_txn_t *txn = store_begin (store, true);
        for (int i = base; i < base + BATCH; i++) {
            char id [32], path [64], hex [65];
            snprintf (id, sizeof id, "gw-%06d", i);
            snprintf (path, sizeof path, "acme/site-%03d", i % SITES);
            snprintf (hex, sizeof hex, "%064x", i + 1);
            json_t *device = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I}",
                                        "id", id, "tenant", "acme", "type", "gateway",
                                        "role", "gateway", "path", path,
                                        "enrolled", (json_int_t) 1700000000, "sign_key", hex,
                                        "curve_key", hex, "cert_serial", (json_int_t) i + 1);
            assert (registry_device_put (txn, device) == 0);
            json_decref (device);
        }
        assert (store_commit (&txn) == 0);
    }
}

//  Raw LMDB: count records of RECORD bytes in one committed transaction
static double
s_raw_puts (const char *path, int count)
{
    bench_clear (path);
    zsys_dir_create ("%s", path);
    MDB_env *env;
    assert (mdb_env_create (&env) == 0);
    assert (mdb_env_set_mapsize (env, (size_t) 1 << 30) == 0);
    assert (mdb_env_open (env, path, 0, 0600) == 0);
    uint8_t value [RECORD];
    memset (value, 'x', sizeof value);
    double start = s_now ();
    MDB_txn *txn;
    MDB_dbi dbi;
    assert (mdb_txn_begin (env, NULL, 0, &txn) == 0);
    assert (mdb_dbi_open (txn, NULL, 0, &dbi) == 0);
    for (int i = 0; i < count; i++) {
        char key [48];
        int size = snprintf (key, sizeof key, "d/campaign-1/gw-%06d", i);
        MDB_val k = { (size_t) size, key }, v = { sizeof value, value };
        assert (mdb_put (txn, dbi, &k, &v, 0) == 0);
    }
    assert (mdb_txn_commit (txn) == 0);
    double took = s_now () - start;
    mdb_env_close (env);
    bench_clear (path);
    return took;
}

static double
s_raw_signs (int count)
{
    uint8_t pk [crypto_sign_PUBLICKEYBYTES], sk [crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair (pk, sk);
    uint8_t message [ASSIGNMENT], signature [crypto_sign_BYTES];
    randombytes_buf (message, sizeof message);
    double start = s_now ();
    for (int i = 0; i < count; i++) {
        message [0] = (uint8_t) i;
        crypto_sign_detached (signature, NULL, message, sizeof message, sk);
    }
    return s_now () - start;
}

//  Time one call, committed; its status must be OK
static double
s_timed (rpc_env_t *env, store_t *store, const char *method, const char *args,
         uint64_t now_ms, rpc_result_t *result)
{
    double start = s_now ();
    int status = director_fixture_call_at (env, store, "admin", "acme", method, args, now_ms,
                                           result);
    double took = s_now () - start;
    if (status != WEFT_STATUS_OK) {
        fprintf (stderr, "%s: %s\n", method, result->error);
        assert (false);
    }
    return took;
}

int
main (void)
{
    assert (sodium_init () >= 0);
    zsys_init ();
    char path [] = "/tmp/weft-bench-campaign-XXXXXX";
    assert (mkdtemp (path));
    char store_path [64], raw_path [64];
    snprintf (store_path, sizeof store_path, "%s/store", path);
    snprintf (raw_path, sizeof raw_path, "%s/raw", path);
    assert (mkdir (store_path, 0700) == 0);
    store_t *store = store_new (store_path, registry_tables (), (size_t) 4 << 30);
    assert (store);
    artrepo_t *repo = artrepo_new (store);
    uint8_t hash [32];
    director_fixture_release (store, repo, 64 * 1024, hash);
    s_register (store);
    keys_t ca, coord;
    keys_generate (&ca);
    keys_generate (&coord);
    coord_stats_t stats;
    memset (&stats, 0, sizeof stats);
    rpc_env_t env = { registry_new (store), pki_new (&ca), coord.curve_public, &stats,
                      coord.sign_secret, repo };
    rpc_result_t result;
    memset (&result, 0, sizeof result);

    double create [RUNS], start [RUNS], raw [RUNS];
    uint64_t now_ms = FIXTURE_NOW;
    int number = 0;
    for (int run = 0; run < RUNS; run++) {
        now_ms += 60000;
        create [run] = s_timed (&env, store, "campaign.create", "{\"query\":\"tenant=acme and "
                                "type=gateway\",\"name\":\"plc\",\"version\":\"1.0\","
                                "\"waves\":[\"1\",\"1%\",\"10%\",\"100%\"],\"threshold\":"
                                "\"1%\"}", now_ms, &result);
        assert (json_integer_value (json_object_get (result.result, "devices")) == DEVICES);
        char id [64];
        snprintf (id, sizeof id, "{\"id\":\"campaign-%d\"}", ++number);
        start [run] = s_timed (&env, store, "campaign.start", id, now_ms, &result);
        assert (json_integer_value (json_object_get (result.result, "offered")) == 1);
        s_timed (&env, store, "campaign.abort", id, now_ms, &result);
        raw [run] = s_raw_puts (raw_path, 2 * DEVICES);
    }
    double create_s = bench_median (create, RUNS), raw_s = bench_median (raw, RUNS);
    printf ("BENCH campaign_create_100k %.2f s ratio=%.1f vs raw LMDB puts of 200k records "
            "in one transaction (%.2f s) goal=10 %s\n", create_s, create_s / raw_s, raw_s,
            create_s < 10? "met": "MISSED");
    printf ("BENCH campaign_start_canary_100k %.1f ms\n", bench_median (start, RUNS) * 1000);

    //  A first wave of every device: 100,000 offers at once
    now_ms += 60000;
    s_timed (&env, store, "campaign.create", "{\"query\":\"tenant=acme and type=gateway\","
             "\"name\":\"plc\",\"version\":\"1.0\",\"waves\":[\"100%\"]}", now_ms, &result);
    char id [64];
    snprintf (id, sizeof id, "{\"id\":\"campaign-%d\"}", ++number);
    double all_s = s_timed (&env, store, "campaign.start", id, now_ms, &result);
    assert (json_integer_value (json_object_get (result.result, "offered")) == DEVICES);
    double signs_s = s_raw_signs (DEVICES);
    printf ("BENCH campaign_start_all_100k %.2f s ratio=%.1f vs raw libsodium: 100k Ed25519 "
            "signatures (%.2f s) goal=10 %s\n", all_s, all_s / signs_s, signs_s,
            all_s < 10? "met": "MISSED");

    rpc_result_clear (&result);
    registry_destroy (&env.registry);
    pki_destroy (&env.pki);
    artrepo_destroy (&repo);
    store_destroy (&store);
    bench_clear (path);
    return 0;
}
