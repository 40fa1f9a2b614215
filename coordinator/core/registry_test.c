/*  registry_test - selftest of the registry: records, indexes, the
    decoded device, liveness and replay windows over a real store in a
    temporary directory, and the conversion of a database written with
    JSON text records.  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "coordinator/core/registry.h"

//  --------------------------------------------------------------------------
//  Selftest

static int
s_test_count (void *arg, json_t *record)
{
    (void) record;
    (*(int *) arg)++;
    return 0;
}

static int
s_test_count_id (void *arg, const char *id)
{
    (void) id;
    (*(int *) arg)++;
    return 0;
}

static int
s_test_index (void *arg, const char *id)
{
    assert (streq (id, "dev-1"));
    (*(int *) arg)++;
    return 0;
}

void
registry_test (bool verbose)
{
    printf (" * registry: ");
    (void) verbose;
    //  @selftest
    char path [] = "/tmp/weft-registry-test-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    registry_t *registry = registry_new (store);

    assert (registry_name_valid ("dev-1.a_b"));
    assert (!registry_name_valid (""));
    assert (!registry_name_valid ("a/b"));
    assert (!registry_name_valid ("a b"));
    char long_name [WEFT_NAME_MAX + 2];
    memset (long_name, 'a', sizeof long_name - 1);
    long_name [WEFT_NAME_MAX + 1] = 0;
    assert (!registry_name_valid (long_name));

    uint8_t curve [32];
    memset (curve, 7, 32);
    char curve_hex [65];
    keys_hex (curve, 32, curve_hex);

    store_txn_t *txn = store_begin (store, true);
    json_t *device = json_pack ("{s:s, s:s, s:s}", "id", "dev-1", "tenant", "acme",
                                "curve_key", curve_hex);
    assert (registry_device_put (txn, device) == 0);
    json_decref (device);
    json_t *twin = registry_twin_get (txn, "dev-1");
    assert (json_integer_value (json_object_get (twin, "desired_version")) == 0);
    json_object_set_new (twin, "desired_version", json_integer (3));
    assert (registry_twin_put (txn, "dev-1", twin) == 0);
    json_decref (twin);
    assert (registry_meta_get (txn, "serial") == 0);
    assert (registry_meta_put (txn, "serial", 41) == 0);
    replay_t window = { 0, 0 };
    assert (replay_accept (&window, 5) == 0);
    assert (registry_replay_put (txn, "d/dev-1", &window) == 0);
    assert (store_commit (&txn) == 0);

    //  Heartbeat-style state lives in memory until flushed
    registry_seen (registry, "dev-1", 1000);
    assert (registry_online (registry, "dev-1", 1000 + REGISTRY_ONLINE_MS));
    assert (!registry_online (registry, "dev-1", 1001 + REGISTRY_ONLINE_MS));
    assert (registry_online_count (registry, 2000) == 1);
    assert (registry_dirty (registry));
    replay_t cached;
    txn = store_begin (store, false);
    registry_replay_window (registry, txn, "d/dev-1", &cached);
    store_abort (&txn);
    assert (cached.top == 5);
    assert (replay_accept (&cached, 6) == 0);
    registry_replay_set (registry, "d/dev-1", &cached, true);
    registry_destroy (&registry);           //  Flushes
    store_destroy (&store);

    //  Reopen: everything is where it was
    store = store_new (path, registry_tables (), 0);
    assert (store);
    registry = registry_new (store);
    assert (!registry_dirty (registry));
    txn = store_begin (store, false);
    device = registry_device_get (txn, "dev-1");
    assert (device);
    assert (streq (json_string_value (json_object_get (device, "tenant")), "acme"));
    json_decref (device);
    assert (registry_device_get (txn, "dev-2") == NULL);
    assert (registry_device_get (txn, "../x") == NULL);
    char *id = registry_device_by_curve (txn, curve);
    assert (id && streq (id, "dev-1"));
    free (id);
    twin = registry_twin_get (txn, "dev-1");
    assert (json_integer_value (json_object_get (twin, "desired_version")) == 3);
    json_decref (twin);
    assert (registry_meta_get (txn, "serial") == 41);
    assert (registry_last_seen (registry, txn, "dev-1") == 1000);
    assert (!registry_online (registry, "dev-1", 1000));    //  Until it speaks
    registry_replay_window (registry, txn, "d/dev-1", &window);
    assert (window.top == 6);
    assert (!replay_fresh (&window, 5));
    assert (registry_device_count (txn) == 1);
    int count = 0;
    assert (registry_device_each (txn, s_test_count, &count) == 1);
    assert (count == 1);
    store_abort (&txn);

    //  Metadata a device reports, indexed; junk ignored
    txn = store_begin (store, true);
    json_t *reported = json_pack ("{s:{s:s, s:s, s:i}}", "weft", "fw", "2.3.0", "hw", "a\nb",
                                  "sw", 7);
    assert (registry_device_report_meta (txn, "dev-1", NULL, reported) == 0);
    json_decref (reported);
    device = registry_device_get (txn, "dev-1");
    assert (streq (json_string_value (json_object_get (device, "fw")), "2.3.0"));
    assert (json_object_get (device, "hw") == NULL);
    json_decref (device);
    int hits = 0;
    assert (registry_index_scan (txn, "fw", "2.3.0", false, s_test_index, &hits) == 1);
    assert (hits == 1);
    //  A metered uplink is found by link=metered, and unfound once it is not
    assert (registry_indexed ("link"));
    reported = json_pack ("{s:{s:s}}", "weft", "link", "metered");
    assert (registry_device_report_meta (txn, "dev-1", NULL, reported) == 0);
    json_decref (reported);
    assert (registry_index_has (txn, "link", "metered", "dev-1"));
    device = registry_device_get (txn, "dev-1");
    assert (streq (json_string_value (json_object_get (device, "link")), "metered"));
    assert (streq (json_string_value (json_object_get (device, "fw")), "2.3.0"));
    json_decref (device);
    reported = json_pack ("{s:{s:s}}", "weft", "link", "unmetered");
    assert (registry_device_report_meta (txn, "dev-1", NULL, reported) == 0);
    json_decref (reported);
    assert (!registry_index_has (txn, "link", "metered", "dev-1"));
    assert (registry_index_has (txn, "link", "unmetered", "dev-1"));
    assert (store_commit (&txn) == 0);

    //  A crash loses what is not written: a discarded window and last_seen
    //  are not in the store after the registry is gone
    registry_seen (registry, "dev-1", 5000);
    txn = store_begin (store, false);
    registry_replay_window (registry, txn, "d/dev-1", &cached);
    store_abort (&txn);
    assert (replay_accept (&cached, 7) == 0);
    registry_replay_set (registry, "d/dev-1", &cached, true);
    assert (registry_dirty (registry));
    registry_discard (registry);
    assert (!registry_dirty (registry));
    registry_destroy (&registry);
    registry = registry_new (store);
    txn = store_begin (store, false);
    registry_replay_window (registry, txn, "d/dev-1", &window);
    assert (window.top == 6 && replay_fresh (&window, 7));
    assert (registry_last_seen (registry, txn, "dev-1") == 1000);
    store_abort (&txn);

    //  Operators: a new key replaces the old one in the index
    uint8_t curve2 [32];
    memset (curve2, 9, 32);
    char curve2_hex [65];
    keys_hex (curve2, 32, curve2_hex);
    txn = store_begin (store, true);
    json_t *op = json_pack ("{s:s, s:s, s:s, s:s}", "name", "alice", "role", "admin",
                            "tenant", "", "curve_key", curve_hex);
    assert (registry_operator_put (txn, op) == 0);
    json_object_set_new (op, "curve_key", json_string (curve2_hex));
    assert (registry_operator_put (txn, op) == 0);
    json_decref (op);
    assert (registry_operator_by_curve (txn, curve) == NULL);
    char *name = registry_operator_by_curve (txn, curve2);
    assert (name && streq (name, "alice"));
    free (name);
    assert (store_commit (&txn) == 0);

    //  A database written by the release before msgpack records, in its
    //  own layout: JSON text records with hex keys, some devices never
    //  indexed (from before the indexes), a twin and an operator. Opening
    //  converts all of it in one transaction.
    registry_destroy (&registry);
    store_stats_t before_stats, after_stats;
    store_stats (store, &before_stats);
    txn = store_begin (store, true);
    char old [512];
    snprintf (old, sizeof old, "{\"curve_key\":\"%s\",\"id\":\"dev-old\",\"sign_key\":\"%s\","
              "\"tags\":{\"line\":\"4\"},\"tenant\":\"acme\",\"type\":\"legacy\"}",
              curve2_hex, curve_hex);
    assert (store_put (txn, "devices", "dev-old", 7, old, strlen (old)) == 0);
    assert (store_put (txn, "device_keys", curve2, 32, "dev-old", 7) == 0);
    const char *old_twin = "{\"applied_version\":1,\"desired\":{\"gain\":0.1},"
        "\"desired_version\":2,\"reported\":{\"weft\":{\"fw\":\"1.0\"}},"
        "\"reported_version\":5,\"status\":\"ok\"}";
    assert (store_put (txn, "twins", "dev-old", 7, old_twin, strlen (old_twin)) == 0);
    snprintf (old, sizeof old, "{\"curve_key\":\"%s\",\"name\":\"bob\",\"role\":\"viewer\","
              "\"tenant\":\"acme\"}", curve_hex);
    assert (store_put (txn, "operators", "bob", 3, old, strlen (old)) == 0);
    assert (store_put (txn, "devices", "dev-bad", 7, "{not json", 9) == 0);
    assert (store_del (txn, "meta", "index_version", 13) == 0);
    assert (store_del (txn, "meta", "record_format", 13) == 0);
    assert (store_commit (&txn) == 0);
    registry = registry_new (store);
    assert (registry);
    store_stats (store, &after_stats);
    assert (after_stats.commits == before_stats.commits + 2);     //  Ours, and the conversion
    txn = store_begin (store, false);
    assert (registry_meta_get (txn, "record_format") == 2);
    assert (registry_meta_get (txn, "index_version") == 2);
    //  Binary now, keys as raw bytes
    size_t stored_size;
    uint8_t *stored = (uint8_t *) store_get (txn, "devices", "dev-old", 7, &stored_size);
    assert (stored && (stored [0] & 0xf0) == 0x80);
    assert (memmem (stored, stored_size, "\xa9" "curve_key\xc4\x20", 12));
    assert (memmem (stored, stored_size, curve2, 32));
    free (stored);
    int found = 0;
    assert (registry_index_scan (txn, "type", "legacy", false, s_test_count_id, &found) == 1);
    assert (found == 1);
    assert (registry_index_has (txn, "tag.line", "4", "dev-old"));
    assert (!registry_index_has (txn, "tag.line", "5", "dev-old"));
    //  The same JSON as before, hex keys and all
    device = registry_device_get (txn, "dev-old");
    assert (device);
    assert (streq (json_string_value (json_object_get (device, "curve_key")), curve2_hex));
    assert (streq (json_string_value (json_object_get (device, "sign_key")), curve_hex));
    json_decref (device);
    registry_device_t decoded;
    registry_device_init (&decoded);
    assert (registry_device_read (txn, "dev-old", &decoded) == 0);
    assert (streq (decoded.type, "legacy") && decoded.has_curve_key && !decoded.revoked);
    assert (memcmp (decoded.curve_key, curve2, 32) == 0);
    assert (streq (registry_device_tag (&decoded, "line"), "4"));
    assert (registry_device_tag (&decoded, "none") == NULL);
    assert (streq (registry_device_place (&decoded), "acme"));
    assert (registry_device_read (txn, "dev-none", &decoded) == 1);
    assert (registry_device_read (txn, "dev-bad", &decoded) == -1);      //  As before: unreadable
    registry_device_fini (&decoded);
    id = registry_device_by_curve (txn, curve2);
    assert (id && streq (id, "dev-old"));
    free (id);
    twin = registry_twin_get (txn, "dev-old");
    char *twin_text = registry_dump (twin);
    assert (streq (twin_text, old_twin));
    free (twin_text);
    json_decref (twin);
    op = registry_operator_get (txn, "bob");
    assert (op && streq (json_string_value (json_object_get (op, "curve_key")), curve_hex));
    json_decref (op);
    store_abort (&txn);
    //  Once only: opening again converts nothing
    registry_destroy (&registry);
    store_stats (store, &before_stats);
    registry = registry_new (store);
    store_stats (store, &after_stats);
    assert (after_stats.commits == before_stats.commits);

    //  A report's metadata costs one decode of the device and rewrites
    //  only the index entries that changed
    txn = store_begin (store, true);
    store_stats (store, &before_stats);
    reported = json_pack ("{s:{s:s}}", "weft", "fw", "1.1");
    assert (registry_device_report_meta (txn, "dev-old", NULL, reported) == 0);
    assert (registry_device_report_meta (txn, "dev-old", NULL, reported) == 0);     //  No change
    //  With the record its caller read already, none
    registry_device_t held;
    registry_device_init (&held);
    assert (registry_device_read (txn, "dev-old", &held) == 0);
    assert (registry_device_report_meta (txn, "dev-old", &held, reported) == 0);
    registry_device_fini (&held);
    json_decref (reported);
    store_stats (store, &after_stats);
    assert (after_stats.decodes - before_stats.decodes == 3);
    assert (registry_index_has (txn, "fw", "1.1", "dev-old"));
    assert (registry_index_has (txn, "type", "legacy", "dev-old"));
    assert (store_commit (&txn) == 0);

    //  What registering a device writes, pinned: its record, its key and
    //  one index entry per indexed attribute (tenant type role path site
    //  fw hw asset tag.line here), and no read; putting the same record
    //  again writes the record and key only
    txn = store_begin (store, true);
    char curve3_hex [65];
    memset (curve, 0x33, 32);
    keys_hex (curve, 32, curve3_hex);
    device = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:i}}",
                        "id", "dev-new", "tenant", "acme", "type", "gateway", "role", "gateway",
                        "path", "acme/plant-2/line-7", "asset", "acme/plant-2/line-7/pump-a",
                        "fw", "2.3.0", "hw", "rev-b", "curve_key", curve3_hex,
                        "tags", "line", "7", "rank", 3);
    store_stats (store, &before_stats);
    assert (registry_device_put (txn, device) == 0);
    store_stats (store, &after_stats);
    if (verbose)
        printf ("\n   register: %d puts, %d gets, %d dels ",
                (int) (after_stats.puts - before_stats.puts),
                (int) (after_stats.gets - before_stats.gets),
                (int) (after_stats.dels - before_stats.dels));
    assert (after_stats.puts - before_stats.puts == 2 + 9);
    assert (after_stats.gets == before_stats.gets);
    assert (after_stats.dels == before_stats.dels);
    store_stats (store, &before_stats);
    assert (registry_device_put (txn, device) == 0);
    store_stats (store, &after_stats);
    assert (after_stats.puts - before_stats.puts == 3);     //  Insert refused, record, key
    assert (after_stats.gets == before_stats.gets);
    assert (after_stats.dels == before_stats.dels);
    //  A new firmware: one entry out, one in
    json_object_set_new (device, "fw", json_string ("2.4.0"));
    store_stats (store, &before_stats);
    assert (registry_device_put (txn, device) == 0);
    store_stats (store, &after_stats);
    assert (after_stats.puts - before_stats.puts == 3 + 1);
    assert (after_stats.dels - before_stats.dels == 1);
    assert (!registry_index_has (txn, "fw", "2.3.0", "dev-new"));
    assert (registry_index_has (txn, "fw", "2.4.0", "dev-new"));
    assert (registry_index_has (txn, "site", "plant-2", "dev-new"));
    json_decref (device);
    //  The place is found through path and tenant: a subtree finds the
    //  devices placed in it, a tenant also its devices without a path
    found = 0;
    assert (registry_scope_scan (txn, "acme/plant-2", s_test_count_id, &found) == 1);
    assert (found == 1);
    found = 0;
    assert (registry_scope_scan (txn, "acme/plant", s_test_count_id, &found) == 0);
    found = 0;
    assert (registry_scope_scan (txn, "acme", s_test_count_id, &found) >= 3);
    assert (found >= 3);                //  dev-1, dev-old (no path), dev-new
    assert (store_commit (&txn) == 0);

    //  A database of index_version 1 kept an entry per device for its
    //  place ("@scope NUL place NUL id"): opening drops them, in one
    //  transaction, and leaves every other entry
    registry_destroy (&registry);
    txn = store_begin (store, true);
    int64_t entries = store_count (txn, "device_index");
    const char *places [][2] = {
        { "acme/plant-2/line-7", "dev-new" }, { "acme", "dev-1" }, { "acme", "dev-old" }
    };
    for (int i = 0; i < 3; i++) {
        char key [REGISTRY_INDEX_KEY_MAX];
        size_t size = registry_index_key (key, sizeof key, "@scope", places [i][0],
                                          places [i][1]);
        assert (size && store_put (txn, "device_index", key, size, "", 0) == 0);
    }
    assert (registry_meta_put (txn, "index_version", 1) == 0);
    assert (store_commit (&txn) == 0);
    store_stats (store, &before_stats);
    registry = registry_new (store);
    assert (registry);
    store_stats (store, &after_stats);
    assert (after_stats.commits == before_stats.commits + 1);
    assert (after_stats.dels - before_stats.dels == 3);
    txn = store_begin (store, false);
    assert (registry_meta_get (txn, "index_version") == 2);
    assert (store_count (txn, "device_index") == entries);
    assert (registry_meta_get (txn, "record_format") == 2);
    store_abort (&txn);

    registry_destroy (&registry);
    registry_destroy (&registry);
    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
