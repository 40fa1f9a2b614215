/*  codec - benchmark of the envelope path against raw libsodium and raw LMDB
    Prints one line per figure:
        BENCH <name> <value> <unit> ratio=<x> vs <comparator>
    Each figure is the median of several runs, and each comparator is
    measured in the same process, on the same machine, interleaved with
    Weft's own runs, so a noisy machine moves both sides alike.  */

#include <czmq.h>
#include <lmdb.h>
#include <sodium.h>

#include "proto/envelope.h"
#include "proto/keys.h"
#include "proto/msg.h"
#include "proto/store.h"
#include "tests/bench/bench.h"

#define RUNS        7
#define MESSAGES    20000
#define PAYLOAD     512

//  Weft: build a 512-byte twin report, sign, encode, decode, verify.
static double
s_weft_envelopes (const keys_t *keys)
{
    char doc [PAYLOAD];
    memset (doc, 'x', sizeof doc);
    doc [0] = '"';
    doc [sizeof doc - 1] = '"';
    int64_t start = zclock_usecs ();
    for (int i = 0; i < MESSAGES; i++) {
        msg_t msg = { .type = MSG_TWIN_REPORTED };
        strcpy (msg.twin_reported.device, "gw-1");
        msg.twin_reported.version = (uint64_t) i + 1;
        msg.twin_reported.doc = doc;
        msg.twin_reported.doc_size = sizeof doc;
        strcpy (msg.twin_reported.status, "ok");
        uint8_t *payload;
        size_t payload_size;
        int rc = msg_encode (&msg, &payload, &payload_size);
        assert (rc == 0);
        envelope_t env = { .type = MSG_TWIN_REPORTED, .seq = (uint64_t) i + 1,
                           .hop_limit = WEFT_HOP_LIMIT, .hops = WEFT_HOP_LIMIT,
                           .payload = payload, .payload_size = payload_size };
        randombytes_buf (env.id, sizeof env.id);
        strcpy (env.origin, "gw-1");
        uint8_t *frame;
        size_t size;
        rc = envelope_encode (&env, keys->sign_secret, &frame, &size);
        assert (rc == 0);
        envelope_t got;
        rc = envelope_decode (&got, frame, size);
        if (rc == 0)
            rc = envelope_verify (&got, keys->sign_public);
        msg_t back;
        if (rc == 0)
            rc = msg_decode (&back, got.type, got.payload, got.payload_size);
        assert (rc == 0);
        free (frame);
        free (payload);
    }
    return (double) MESSAGES * 1e6 / (double) (zclock_usecs () - start);
}

//  Comparator: the same signature work done with libsodium directly.
static double
s_raw_sodium (const keys_t *keys)
{
    uint8_t buffer [PAYLOAD + 128];
    memset (buffer, 'x', sizeof buffer);
    uint8_t sig [crypto_sign_BYTES];
    int64_t start = zclock_usecs ();
    for (int i = 0; i < MESSAGES; i++) {
        buffer [0] = (uint8_t) i;
        crypto_sign_detached (sig, NULL, buffer, sizeof buffer, keys->sign_secret);
        int rc = crypto_sign_verify_detached (sig, buffer, sizeof buffer,
                                              keys->sign_public);
        assert (rc == 0);
    }
    return (double) MESSAGES * 1e6 / (double) (zclock_usecs () - start);
}

//  Weft store: batched puts of 512-byte values, 100 per transaction.
static double
s_weft_store (const char *dir)
{
    const char *tables [] = { "bench", NULL };
    store_t *store = store_new (dir, tables, 0);
    assert (store);
    uint8_t value [PAYLOAD];
    memset (value, 'v', sizeof value);
    int64_t start = zclock_usecs ();
    for (int batch = 0; batch < MESSAGES / 100; batch++) {
        store_txn_t *txn = store_begin (store, true);
        for (int i = 0; i < 100; i++) {
            char key [32];
            int length = snprintf (key, sizeof key, "k%08d", batch * 100 + i);
            int rc = store_put (txn, "bench", key, (size_t) length, value, sizeof value);
            assert (rc == 0);
        }
        int rc = store_commit (&txn);
        assert (rc == 0);
    }
    double rate = (double) MESSAGES * 1e6 / (double) (zclock_usecs () - start);
    store_destroy (&store);
    return rate;
}

//  Comparator: the same puts through the LMDB API directly.
static double
s_raw_lmdb (const char *dir)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    int rc = mdb_env_create (&env);
    assert (rc == 0);
    mdb_env_set_maxdbs (env, 4);
    mdb_env_set_mapsize (env, (size_t) 1 << 30);
    rc = mdb_env_open (env, dir, MDB_NOTLS, 0600);
    assert (rc == 0);
    mdb_txn_begin (env, NULL, 0, &txn);
    mdb_dbi_open (txn, "bench", MDB_CREATE, &dbi);
    mdb_txn_commit (txn);
    uint8_t value [PAYLOAD];
    memset (value, 'v', sizeof value);
    int64_t start = zclock_usecs ();
    for (int batch = 0; batch < MESSAGES / 100; batch++) {
        rc = mdb_txn_begin (env, NULL, 0, &txn);
        assert (rc == 0);
        for (int i = 0; i < 100; i++) {
            char key [32];
            int length = snprintf (key, sizeof key, "k%08d", batch * 100 + i);
            MDB_val k = { (size_t) length, key }, v = { sizeof value, value };
            rc = mdb_put (txn, dbi, &k, &v, 0);
            assert (rc == 0);
        }
        rc = mdb_txn_commit (txn);
        assert (rc == 0);
    }
    double rate = (double) MESSAGES * 1e6 / (double) (zclock_usecs () - start);
    mdb_env_close (env);
    return rate;
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    zsys_init ();
    keys_t keys;
    keys_generate (&keys);
    double weft [RUNS], raw [RUNS], store [RUNS], lmdb [RUNS];
    char dir [] = "/tmp/weft-bench.XXXXXX";
    if (!mkdtemp (dir))
        return 1;
    char *a = zsys_sprintf ("%s/store", dir);
    char *b = zsys_sprintf ("%s/lmdb", dir);
    for (int run = 0; run < RUNS; run++) {
        weft [run] = s_weft_envelopes (&keys);
        raw [run] = s_raw_sodium (&keys);
        bench_clear (a);
        bench_clear (b);
        zsys_dir_create (b);
        store [run] = s_weft_store (a);
        lmdb [run] = s_raw_lmdb (b);
    }
    double w = bench_median (weft, RUNS), r = bench_median (raw, RUNS);
    double s = bench_median (store, RUNS), l = bench_median (lmdb, RUNS);
    printf ("BENCH envelope_roundtrip_512B %.0f msg/s ratio=%.2f vs raw libsodium sign+verify\n",
            w, w / r);
    printf ("BENCH store_batched_put_512B %.0f puts/s ratio=%.2f vs raw LMDB batched puts\n",
            s, s / l);
    bench_clear (dir);
    zstr_free (&a);
    zstr_free (&b);
    keys_wipe (&keys);
    return 0;
}
