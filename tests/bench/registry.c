/*  registry - benchmark of the device registry at 100,000 devices
    Registers 100,000 devices (msgpack record, curve key and secondary
    indexes, 1,000 per transaction), then times queries through
    devquery_run (index planner + query_match) for selective and broad
    queries. Comparators measured in the same run:
        registration:  raw LMDB puts of the same records (the same
                       msgpack bytes), no indexes
        queries:       a raw LMDB cursor scan over every device record
                       (no decoding, no matching) - the floor of
                       any evaluator that reads every device - and the
                       brute-force evaluator (parse + match every record)
        writers during broad queries: a thread commits a small write
                       transaction every millisecond while broad
                       device.count RPCs run as weft-coord runs them
                       (request id in a short write transaction, the
                       query in a read transaction); the comparator is
                       the same RPCs inside one write transaction, as
                       before
    Prints BENCH lines, with the goal of issue 13 where there is one:
        BENCH <name> <value> <unit> ratio=<x> vs <comparator> [goal=<g> met|MISSED]  */

#include <czmq.h>
#include <lmdb.h>
#include <sodium.h>

#include <pthread.h>
#include "coordinator/core/registry.h"
#include "coordinator/core/devquery.h"
#include "coordinator/core/nonces.h"
#include "coordinator/core/rpc.h"
#include "tests/bench/bench.h"

#define DEVICES     100000
#define BATCH       1000
#define TENANTS     10
#define SITES       5
#define LINES       8

static const char *s_fws [] = {
    "2.1.0", "2.2.0", "2.2.1", "2.3.0-rc1", "2.3.0", "2.3.1", "2.10.0", "3.0.0"
};
static const char *s_types [] = { "gateway", "server", "sensor-hub" };

static json_t *
s_device (int i)
{
    char id [32], tenant [32], path [96], curve [65], asset [128];
    snprintf (id, sizeof id, "dev-%06d", i);
    int t = i % TENANTS;
    int site = (i / TENANTS) % SITES;
    int line = (i / (TENANTS * SITES)) % LINES;
    snprintf (tenant, sizeof tenant, "tenant-%d", t);
    snprintf (path, sizeof path, "tenant-%d/plant-%d/line-%d", t, site, line);
    snprintf (asset, sizeof asset, "%s/pump-%d", path, i % 50);
    snprintf (curve, sizeof curve, "%064x", i + 1);
    char line_text [8];
    snprintf (line_text, sizeof line_text, "%d", line);
    json_t *device = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:{s:s}}",
        "id", id, "tenant", tenant, "type", s_types [i % 3], "role", s_types [i % 3],
        "path", path, "asset", asset, "fw", s_fws [(i / 7) % 8], "hw", "rev-b",
        "curve_key", curve, "enrolled", (json_int_t) 1700000000, "tags", "line", line_text);
    if (i % 50 == 0)
        json_object_set_new (json_object_get (device, "tags"), "maintenance",
                             json_string (""));
    return device;
}

static int
s_count (void *arg, registry_device_t *device)
{
    (void) device;
    (*(size_t *) arg)++;
    return 0;
}

//  Raw LMDB: a cursor over every record of the devices table
static double
s_raw_scan_ms (const char *path, size_t *records_p)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cursor;
    MDB_val key, value;
    assert (mdb_env_create (&env) == 0);
    mdb_env_set_maxdbs (env, 64);
    assert (mdb_env_open (env, path, MDB_RDONLY, 0600) == 0);
    int64_t start = zclock_usecs ();
    assert (mdb_txn_begin (env, NULL, MDB_RDONLY, &txn) == 0);
    assert (mdb_dbi_open (txn, "devices", 0, &dbi) == 0);
    assert (mdb_cursor_open (txn, dbi, &cursor) == 0);
    size_t records = 0, bytes = 0;
    int rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST);
    while (rc == 0) {
        records++;
        bytes += ((const uint8_t *) value.mv_data) [value.mv_size / 2];
        rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    mdb_txn_abort (txn);
    double ms = (double) (zclock_usecs () - start) / 1000.0;
    mdb_env_close (env);
    *records_p = records + (bytes == (size_t) -1);
    return ms;
}

//  Registration of all devices; returns devices per second
static double
s_register (store_t *store, bool raw)
{
    int64_t start = zclock_usecs ();
    for (int base = 0; base < DEVICES; base += BATCH) {
        store_txn_t *txn = store_begin (store, true);
        assert (txn);
        for (int i = base; i < base + BATCH; i++) {
            json_t *device = s_device (i);
            if (raw) {
                uint8_t *data;
                size_t size;
                assert (registry_pack (device, &data, &size) == 0);
                const char *id = json_string_value (json_object_get (device, "id"));
                assert (store_put (txn, "devices", id, strlen (id), data, size) == 0);
                free (data);
            }
            else
                assert (registry_device_put (txn, device) == 0);
            json_decref (device);
        }
        assert (store_commit (&txn) == 0);
    }
    return DEVICES / ((double) (zclock_usecs () - start) / 1e6);
}

//  A writer that commits a small transaction every millisecond and
//  records how long each took, begin to commit
#define S_WRITES_MAX    100000
typedef struct {
    store_t *store;
    volatile bool stop;
    double *ms;                     //  Latency of each write
    int count;
} s_writer_t;

static void *
s_writer (void *arg)
{
    s_writer_t *self = (s_writer_t *) arg;
    while (!self->stop && self->count < S_WRITES_MAX) {
        int64_t start = zclock_usecs ();
        store_txn_t *txn = store_begin (self->store, true);
        assert (txn);
        int tick = self->count;
        assert (store_put (txn, "meta", "bench_tick", 10, &tick, sizeof tick) == 0);
        assert (store_commit (&txn) == 0);
        self->ms [self->count++] = (double) (zclock_usecs () - start) / 1000.0;
        zclock_sleep (1);
    }
    return NULL;
}

//  Broad device.count RPCs while the writer runs; read: as weft-coord
//  runs a read-only method (coord.c), else in one write transaction.
//  Returns the writer's worst wait; *p99_p its 99th percentile, *query_p
//  the median RPC time.
static double
s_writers_during (store_t *store, rpc_env_t *env, bool read, double *p99_p, double *query_p)
{
    s_writer_t writer = { store, false, (double *) zmalloc (sizeof (double) * S_WRITES_MAX), 0 };
    pthread_t thread;
    assert (pthread_create (&thread, NULL, s_writer, &writer) == 0);
    rpc_caller_t caller;
    memset (&caller, 0, sizeof caller);
    strcpy (caller.name, "admin");
    strcpy (caller.grants [0].role, "admin");
    caller.grant_count = 1;             //  On everything ("")
    const char *args = "{\"query\":\"type=gateway and fw>=2.3.0\"}";
    double rpc_ms [5];
    for (int r = 0; r < 5; r++) {
        int64_t start = zclock_usecs ();
        uint64_t now_ms = (uint64_t) zclock_time ();
        uint8_t id [WEFT_ID_SIZE];
        randombytes_buf (id, sizeof id);
        store_txn_t *txn = store_begin (store, true);
        assert (nonces_check (txn, "admin", id, now_ms + 30000, now_ms) == NONCES_OK);
        rpc_result_t result;
        if (read) {
            assert (store_commit (&txn) == 0);
            txn = store_begin (store, false);
            rpc_call_read (env, txn, &caller, "device.count", args, strlen (args), now_ms, &result);
            store_abort (&txn);
        }
        else {
            rpc_call (env, txn, &caller, "device.count", args, strlen (args), now_ms, &result);
            assert (store_commit (&txn) == 0);
        }
        if (result.status != WEFT_STATUS_OK
        ||  json_integer_value (json_object_get (result.result, "count")) < 10000) {
            fprintf (stderr, "bench: device.count: %d %s %s\n", result.status, result.error,
                     result.result? json_dumps (result.result, 0): "");
            abort ();
        }
        rpc_result_clear (&result);
        rpc_ms [r] = (double) (zclock_usecs () - start) / 1000.0;
        zclock_sleep (20);
    }
    writer.stop = true;
    pthread_join (thread, NULL);
    *p99_p = bench_percentile (writer.ms, writer.count, 99);
    double worst = bench_percentile (writer.ms, writer.count, 100);
    *query_p = bench_median (rpc_ms, 5);
    free (writer.ms);
    return worst;
}

static void
s_remove (const char *path)
{
    zdir_t *dir = zdir_new (path, NULL);
    if (dir)
        zdir_remove (dir, true);
    zdir_destroy (&dir);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    zsys_init ();
    zsys_set_logstream (stderr);
    char raw_path [] = "/tmp/weft-bench-raw-XXXXXX";
    char path [] = "/tmp/weft-bench-registry-XXXXXX";
    assert (mkdtemp (raw_path) && mkdtemp (path));

    //  Registration: indexed vs raw puts of the same records
    store_t *raw = store_new (raw_path, registry_tables (), (size_t) 2 << 30);
    double raw_rate = s_register (raw, true);
    store_destroy (&raw);
    s_remove (raw_path);
    store_t *store = store_new (path, registry_tables (), (size_t) 2 << 30);
    assert (store);
    registry_t *registry = registry_new (store);      //  Marks the indexes current
    store_stats_t before, after;
    store_stats (store, &before);
    double rate = s_register (store, false);
    store_stats (store, &after);
    printf ("BENCH registry_register_100k %.0f devices/s ratio=%.2f vs raw LMDB puts of the same "
            "records without indexes (%.0f/s; per device %.1f puts and %.1f lookups, raw 1 and 0) "
            "goal=ratio>=0.60 %s\n", rate, rate / raw_rate, raw_rate,
            (double) (after.puts - before.puts) / DEVICES,
            (double) (after.gets - before.gets) / DEVICES, rate / raw_rate >= 0.6? "met": "MISSED");

    //  Query latency
    store_txn_t *txn = store_begin (store, false);
    devquery_ctx_t all = { NULL, txn, 0, { "" }, 1 };
    devquery_ctx_t scoped = { NULL, txn, 0, { "tenant-3/plant-2" }, 1 };
    struct {
        const char *name;
        const char *text;
        devquery_ctx_t *ctx;
        int runs;
    } queries [] = {
        { "selective_id", "id=dev-054321", &all, 200 },
        { "selective_line", "path=tenant-3/plant-2/line-5 and fw<2.3.0 and not tag.maintenance",
          &all, 100 },
        { "selective_asset_tag", "asset=tenant-7/plant-1/line-2/pump-17 and tag.line=2", &all, 100 },
        { "selective_scoped_subtree", "type=gateway", &scoped, 50 },
        { "broad_type", "type=gateway and fw>=2.3.0", &all, 7 },
        { "broad_unindexed", "not tag.maintenance or fw=3.0.0", &all, 7 },
    };
    size_t scanned = 0;
    double raw_ms [7];
    for (int r = 0; r < 7; r++)
        raw_ms [r] = s_raw_scan_ms (path, &scanned);
    double raw_p50 = bench_percentile (raw_ms, 7, 50);
    assert (scanned == DEVICES);
    printf ("BENCH raw_lmdb_cursor_scan_100k %.2f ms p50 (comparator: every device record, no parsing)\n",
            raw_p50);
    for (size_t q = 0; q < sizeof queries / sizeof queries [0]; q++) {
        query_t *query = query_new (queries [q].text, NULL, 0);
        assert (query);
        double *times = (double *) zmalloc (sizeof (double) * (size_t) queries [q].runs);
        size_t matched = 0, examined = 0;
        for (int r = 0; r < queries [q].runs; r++) {
            matched = 0;
            int64_t start = zclock_usecs ();
            assert (devquery_run (queries [q].ctx, query, s_count, &matched, &examined) >= 0);
            times [r] = (double) (zclock_usecs () - start) / 1000.0;
        }
        double p50 = bench_percentile (times, queries [q].runs, 50);
        double p99 = bench_percentile (times, queries [q].runs, 99);
        //  Goals: a broad query costs at most twice reading every
        //  record; a selective one stays within 10 ms at the 99th
        //  percentile
        bool broad = strncmp (queries [q].name, "broad", 5) == 0;
        bool met = broad? p50 / raw_p50 <= 2.0: p99 <= 10.0;
        printf ("BENCH registry_query_%s p50=%.3f ms p99=%.3f ms ratio=%.3f vs raw LMDB cursor scan "
                "(%zu matched, %zu records read) [%s] goal=%s %s\n", queries [q].name, p50, p99,
                p50 / raw_p50, matched, examined, queries [q].text,
                broad? "ratio<=2": "p99<=10ms", met? "met": "MISSED");
        free (times);
        query_destroy (&query);
    }
    //  The brute-force evaluator, for scale
    query_t *query = query_new ("path=tenant-3/plant-2/line-5 and fw<2.3.0", NULL, 0);
    size_t matched = 0;
    int64_t start = zclock_usecs ();
    devquery_brute (&all, query, s_count, &matched);
    double brute_ms = (double) (zclock_usecs () - start) / 1000.0;
    printf ("BENCH registry_brute_force_100k %.1f ms ratio=%.2f vs raw LMDB cursor scan "
            "(parse and match every record; %zu matched)\n", brute_ms, brute_ms / raw_p50, matched);
    query_destroy (&query);
    store_abort (&txn);

    //  A small write waits for a broad read-only RPC only if the RPC
    //  holds LMDB's writer
    keys_t ca;
    keys_generate (&ca);
    pki_t *pki = pki_new (&ca);
    coord_stats_t stats;
    memset (&stats, 0, sizeof stats);
    rpc_env_t env = { registry, pki, ca.curve_public, &stats, NULL, NULL };
    double held_p99, held_query, read_p99, read_query;
    double held = s_writers_during (store, &env, false, &held_p99, &held_query);
    double read = s_writers_during (store, &env, true, &read_p99, &read_query);
    printf ("BENCH registry_writer_wait_during_broad_rpc max=%.2f ms p99=%.2f ms ratio=%.3f vs the "
            "same RPCs holding the writer (max=%.1f ms p99=%.1f ms; device.count p50 %.0f ms "
            "in a read transaction, %.0f ms in a write transaction)\n",
            read, read_p99, read / held, held, held_p99, read_query, held_query);
    pki_destroy (&pki);
    registry_destroy (&registry);
    keys_wipe (&ca);
    store_destroy (&store);
    s_remove (path);
    return 0;
}
