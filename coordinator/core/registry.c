/*  registry - the coordinator's records in the store, and the liveness
    and replay state it keeps in memory between batched writes
    Records are JSON text; indexes are raw 32-byte keys. Readers never
    trust a stored record blindly: a record that does not parse, or
    lacks a field, reads as absent and is logged, so one corrupt entry
    cannot crash the coordinator.  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/jsontext.h"
#include "coordinator/core/registry.h"

//  In-memory state that outlives single messages
typedef struct {
    uint64_t last_seen;             //  Unix ms
} s_seen_t;

typedef struct {
    replay_t window;                //  Newest window
} s_window_t;

struct _registry_t {
    store_t *store;                 //  Not owned
    zhashx_t *seen;                 //  Device id -> s_seen_t
    zhashx_t *windows;              //  Origin key -> s_window_t
    //  Keys of the entries above not yet written, so a group commit
    //  touches only what changed, not the whole fleet
    zhashx_t *seen_dirty;           //  Device id -> s_seen_t, borrowed
    zhashx_t *windows_dirty;        //  Origin key -> s_window_t, borrowed
    uint64_t online_ms;             //  Heard within this long: online
};

static const char *s_tables [] = {
    "devices", "device_keys", "twins", "tokens", "operators",
    "operator_keys", "replay", "meta", "last_seen", "device_index",
    "hierarchy", "audit", "audit_tenant", "rpc_ids", "rpc_expiry",
    "tpm_ek", "attest",             //  TPM pre-registrations; attestation
    "policies",                     //  Site-wide policy objects (publish.h)
    "uploads",                      //  Hierarchy imports in parts
    "custody",                      //  Frames held until a relay's ACK (custody.h)
    NULL
};

//  Device attributes with a secondary index (besides tag.KEY and the
//  internal REGISTRY_SCOPE_ATTR)
static const char *s_indexed [] = {
    "tenant", "type", "role", "path", "site", "fw", "hw", "sw", "asset", NULL
};

const char **
registry_tables (void)
{
    return s_tables;
}

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static int s_index_device (store_txn_t *txn, json_t *device, bool add);

//  A database written before the secondary indexes existed: index its
//  devices once
#define S_INDEX_VERSION     1

static int
s_reindex_one (void *arg, const void *key, size_t key_size, const void *value,
               size_t value_size)
{
    (void) key;
    (void) key_size;
    json_error_t error;
    json_t *device = json_loadb ((const char *) value, value_size, 0, &error);
    int rc = json_is_object (device)? s_index_device ((store_txn_t *) arg, device, true): 0;
    json_decref (device);
    return rc;
}

static void
s_upgrade (store_t *store)
{
    store_txn_t *txn = store_begin (store, true);
    if (!txn)
        return;
    int rc = 0;
    if (registry_meta_get (txn, "index_version") < S_INDEX_VERSION) {
        if (store_count (txn, "devices") > 0) {
            zsys_info ("registry: indexing the devices of an older database");
            rc = store_scan (txn, "devices", "", 0, s_reindex_one, txn) < 0? -1: 0;
        }
        if (rc == 0)
            rc = registry_meta_put (txn, "index_version", S_INDEX_VERSION);
        if (rc == 0)
            rc = store_commit (&txn);
        if (rc)
            zsys_error ("registry: cannot index the devices; queries may miss some");
    }
    store_abort (&txn);
}

//  --------------------------------------------------------------------------
//  Create the in-memory part.

registry_t *
registry_new (store_t *store)
{
    assert (store);
    s_upgrade (store);
    registry_t *self = (registry_t *) zmalloc (sizeof (registry_t));
    self->store = store;
    self->seen = zhashx_new ();
    zhashx_set_destructor (self->seen, s_free_item);
    self->windows = zhashx_new ();
    zhashx_set_destructor (self->windows, s_free_item);
    self->seen_dirty = zhashx_new ();
    self->windows_dirty = zhashx_new ();
    self->online_ms = REGISTRY_ONLINE_MS;
    return self;
}

//  --------------------------------------------------------------------------
//  Flush and free.

void
registry_destroy (registry_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        registry_t *self = *self_p;
        if (registry_dirty (self))
            registry_flush (self);
        zhashx_destroy (&self->seen_dirty);
        zhashx_destroy (&self->windows_dirty);
        zhashx_destroy (&self->seen);
        zhashx_destroy (&self->windows);
        free (self);
        *self_p = NULL;
    }
}

bool
registry_name_valid (const char *name)
{
    if (!name)
        return false;
    size_t len = strlen (name);
    if (len == 0 || len > WEFT_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name [i];
        if (!(isalnum ((unsigned char) c) || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

char *
registry_dump (const json_t *json)
{
    return jsontext_dumps (json, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

//  Load a JSON object record; NULL if absent or corrupt (logged).

json_t *
registry_record_get (store_txn_t *txn, const char *table, const char *key)
{
    size_t size;
    char *data = (char *) store_get (txn, table, key, strlen (key), &size);
    if (!data)
        return NULL;
    json_error_t error;
    json_t *json = NULL;
    if (size <= REGISTRY_RECORD_MAX)
        json = json_loadb (data, size, JSON_REJECT_DUPLICATES, &error);
    free (data);
    if (!json || !json_is_object (json)) {
        zsys_error ("registry: corrupt record %s/%s", table, key);
        json_decref (json);
        return NULL;
    }
    return json;
}

int
registry_record_put (store_txn_t *txn, const char *table, const char *key, json_t *json)
{
    char *text = registry_dump (json);
    if (!text)
        return -1;
    int rc = store_put (txn, table, key, strlen (key), text, strlen (text));
    free (text);
    return rc;
}

static char *
s_get_text (store_txn_t *txn, const char *table, const void *key, size_t key_size)
{
    size_t size;
    char *data = (char *) store_get (txn, table, key, key_size, &size);
    if (!data)
        return NULL;
    char *text = (char *) zmalloc (size + 1);
    memcpy (text, data, size);
    free (data);
    return text;
}

//  Index a curve key (hex text field of record) to owner in table.

static int
s_index (store_txn_t *txn, const char *table, json_t *record, const char *owner)
{
    const char *hex = json_string_value (json_object_get (record, "curve_key"));
    uint8_t key [32];
    if (!hex || keys_unhex (hex, key, 32))
        return -1;
    return store_put (txn, table, key, 32, owner, strlen (owner));
}

//  --------------------------------------------------------------------------
//  Secondary indexes of devices: key attr NUL value NUL id, empty value

const char *
registry_device_scope (json_t *device)
{
    const char *path = json_string_value (json_object_get (device, "path"));
    if (path && *path)
        return path;
    const char *tenant = json_string_value (json_object_get (device, "tenant"));
    return tenant? tenant: "";
}

bool
registry_device_site (json_t *device, char *site, size_t size)
{
    const char *path = json_string_value (json_object_get (device, "path"));
    const char *slash = path? strchr (path, '/'): NULL;
    if (!slash)
        return false;
    const char *end = strchr (slash + 1, '/');
    size_t len = end? (size_t) (end - slash - 1): strlen (slash + 1);
    if (len == 0 || len >= size)
        return false;
    memcpy (site, slash + 1, len);
    site [len] = 0;
    return true;
}

bool
registry_indexed (const char *attr)
{
    if (strncmp (attr, "tag.", 4) == 0 && attr [4])
        return true;
    if (streq (attr, REGISTRY_SCOPE_ATTR))
        return true;
    for (int i = 0; s_indexed [i]; i++)
        if (streq (attr, s_indexed [i]))
            return true;
    return false;
}

size_t
registry_index_key (char *key, size_t size, const char *attr, const char *value,
                    const char *id)
{
    size_t attr_len = strlen (attr), value_len = strlen (value);
    size_t id_len = id? strlen (id): 0;
    size_t len = attr_len + 1 + value_len + (id? 1 + id_len: 0);
    if (len > size)
        return 0;
    memcpy (key, attr, attr_len);
    key [attr_len] = 0;
    memcpy (key + attr_len + 1, value, value_len);
    if (id) {
        key [attr_len + 1 + value_len] = 0;
        memcpy (key + attr_len + 2 + value_len, id, id_len);
    }
    return len;
}

//  Add or remove one index entry
static int
s_index_one (store_txn_t *txn, bool add, const char *attr, const char *value,
             const char *id)
{
    char key [REGISTRY_INDEX_KEY_MAX];
    size_t len = registry_index_key (key, sizeof key, attr, value, id);
    if (len == 0) {
        zsys_error ("registry: index key of %s too long", id);
        return -1;
    }
    if (add)
        return store_put (txn, "device_index", key, len, "", 0);
    return store_del (txn, "device_index", key, len) < 0? -1: 0;
}

//  Add or remove every index entry of a device record
static int
s_index_device (store_txn_t *txn, json_t *device, bool add)
{
    const char *id = json_string_value (json_object_get (device, "id"));
    if (!id)
        return -1;
    int rc = 0;
    for (int i = 0; s_indexed [i] && rc == 0; i++) {
        const char *value;
        char site [WEFT_NAME_MAX + 1];
        if (streq (s_indexed [i], "site"))
            value = registry_device_site (device, site, sizeof site)? site: NULL;
        else
            value = json_string_value (json_object_get (device, s_indexed [i]));
        if (value && (*value || streq (s_indexed [i], "tenant")))
            rc = s_index_one (txn, add, s_indexed [i], value, id);
    }
    json_t *tags = json_object_get (device, "tags");
    const char *key;
    json_t *value;
    char attr [WEFT_NAME_MAX + 8];
    json_object_foreach (tags, key, value) {
        if (rc || !json_is_string (value))
            break;
        snprintf (attr, sizeof attr, "tag.%s", key);
        rc = s_index_one (txn, add, attr, json_string_value (value), id);
    }
    if (rc == 0)
        rc = s_index_one (txn, add, REGISTRY_SCOPE_ATTR, registry_device_scope (device), id);
    return rc;
}

typedef struct {
    size_t prefix_size;
    registry_index_fn *fn;
    void *arg;
} s_index_scan_t;

static int
s_index_scan_one (void *arg, const void *key, size_t key_size, const void *value,
                  size_t value_size)
{
    (void) value;
    (void) value_size;
    s_index_scan_t *scan = (s_index_scan_t *) arg;
    //  The id follows the last NUL
    const char *start = (const char *) key;
    const char *id = (const char *) memrchr (start, 0, key_size);
    if (!id || (size_t) (id - start) < scan->prefix_size - 1)
        return 0;
    id++;
    char text [WEFT_NAME_MAX + 1];
    size_t len = key_size - (size_t) (id - start);
    if (len == 0 || len > WEFT_NAME_MAX)
        return 0;
    memcpy (text, id, len);
    text [len] = 0;
    return scan->fn (scan->arg, text);
}

int
registry_index_scan (store_txn_t *txn, const char *attr, const char *value,
                     bool prefix, registry_index_fn *fn, void *arg)
{
    char key [REGISTRY_INDEX_KEY_MAX];
    size_t len = registry_index_key (key, sizeof key, attr, value, prefix? NULL: "");
    if (len == 0)
        return 0;
    s_index_scan_t scan = { len, fn, arg };
    return store_scan (txn, "device_index", key, len, s_index_scan_one, &scan);
}

//  --------------------------------------------------------------------------
//  Devices

json_t *
registry_device_get (store_txn_t *txn, const char *id)
{
    if (!registry_name_valid (id))
        return NULL;
    return registry_record_get (txn, "devices", id);
}

int
registry_device_put (store_txn_t *txn, json_t *device)
{
    const char *id = json_string_value (json_object_get (device, "id"));
    if (!registry_name_valid (id))
        return -1;
    //  Replace the index entries of the record this one replaces
    json_t *old = registry_record_get (txn, "devices", id);
    int rc = old? s_index_device (txn, old, false): 0;
    json_decref (old);
    if (rc == 0)
        rc = registry_record_put (txn, "devices", id, device);
    if (rc == 0)
        rc = s_index_device (txn, device, true);
    if (rc)
        return -1;
    return s_index (txn, "device_keys", device, id);
}

int
registry_device_report_meta (store_txn_t *txn, const char *id, json_t *reported)
{
    json_t *meta = json_object_get (reported, REGISTRY_REPORTED_META);
    if (!json_is_object (meta))
        return 0;
    json_t *device = registry_device_get (txn, id);
    if (!device)
        return 0;
    static const char *fields [] = { "fw", "hw", "sw", NULL };
    bool changed = false;
    for (int i = 0; fields [i]; i++) {
        const char *value = json_string_value (json_object_get (meta, fields [i]));
        size_t len = value? strlen (value): 0;
        bool valid = len > 0 && len <= 128;
        for (size_t c = 0; valid && c < len; c++)
            if ((unsigned char) value [c] < 0x20 || value [c] == 0x7f)
                valid = false;
        const char *held = json_string_value (json_object_get (device, fields [i]));
        if (valid && !(held && streq (held, value))) {
            json_object_set_new (device, fields [i], json_string (value));
            changed = true;
        }
    }
    int rc = changed? registry_device_put (txn, device): 0;
    json_decref (device);
    return rc;
}

char *
registry_device_by_curve (store_txn_t *txn, const uint8_t curve_key [32])
{
    return s_get_text (txn, "device_keys", curve_key, 32);
}

typedef struct {
    registry_each_fn *fn;
    void *arg;
} s_each_t;

static int
s_each_device (void *arg, const void *key, size_t key_size,
               const void *value, size_t value_size)
{
    s_each_t *each = (s_each_t *) arg;
    json_error_t error;
    json_t *record = NULL;
    if (value_size <= REGISTRY_RECORD_MAX)
        record = json_loadb ((const char *) value, value_size, JSON_REJECT_DUPLICATES, &error);
    if (!record || !json_is_object (record)) {
        zsys_error ("registry: corrupt device record %.*s", (int) key_size,
                    (const char *) key);
        json_decref (record);
        return 0;
    }
    int rc = each->fn (each->arg, record);
    json_decref (record);
    return rc;
}

int
registry_device_each (store_txn_t *txn, registry_each_fn *fn, void *arg)
{
    s_each_t each = { fn, arg };
    //  An empty, non-NULL prefix: store_scan memcmp's it even at size 0
    return store_scan (txn, "devices", "", 0, s_each_device, &each);
}

int
registry_operator_each (store_txn_t *txn, registry_each_fn *fn, void *arg)
{
    s_each_t each = { fn, arg };
    return store_scan (txn, "operators", "", 0, s_each_device, &each);
}

int64_t
registry_device_count (store_txn_t *txn)
{
    return store_count (txn, "devices");
}

//  --------------------------------------------------------------------------
//  Twins

json_t *
registry_twin_get (store_txn_t *txn, const char *id)
{
    size_t size;
    void *data = store_get (txn, "twins", id, strlen (id), &size);
    if (!data)
        return json_pack ("{s:{}, s:I, s:{}, s:I, s:I, s:s}",
                          "desired", "desired_version", (json_int_t) 0,
                          "reported", "reported_version", (json_int_t) 0,
                          "applied_version", (json_int_t) 0, "status", "");
    free (data);
    json_t *twin = registry_record_get (txn, "twins", id);
    if (twin
    && (!json_is_object (json_object_get (twin, "desired"))
    ||  !json_is_object (json_object_get (twin, "reported")))) {
        zsys_error ("registry: corrupt twin %s", id);
        json_decref (twin);
        twin = NULL;
    }
    return twin;
}

int
registry_twin_put (store_txn_t *txn, const char *id, json_t *twin)
{
    return registry_record_put (txn, "twins", id, twin);
}

//  --------------------------------------------------------------------------
//  Operators

json_t *
registry_operator_get (store_txn_t *txn, const char *name)
{
    if (!registry_name_valid (name))
        return NULL;
    return registry_record_get (txn, "operators", name);
}

int
registry_operator_put (store_txn_t *txn, json_t *op)
{
    const char *name = json_string_value (json_object_get (op, "name"));
    if (!registry_name_valid (name))
        return -1;
    //  Replacing an operator's keys must unlink the old key
    json_t *old = registry_record_get (txn, "operators", name);
    if (old) {
        const char *hex = json_string_value (json_object_get (old, "curve_key"));
        uint8_t key [32];
        if (hex && keys_unhex (hex, key, 32) == 0)
            store_del (txn, "operator_keys", key, 32);
        json_decref (old);
    }
    if (registry_record_put (txn, "operators", name, op))
        return -1;
    return s_index (txn, "operator_keys", op, name);
}

char *
registry_operator_by_curve (store_txn_t *txn, const uint8_t curve_key [32])
{
    return s_get_text (txn, "operator_keys", curve_key, 32);
}

//  --------------------------------------------------------------------------
//  Meta counters, as decimal text

uint64_t
registry_meta_get (store_txn_t *txn, const char *name)
{
    char *text = s_get_text (txn, "meta", name, strlen (name));
    uint64_t value = text? strtoull (text, NULL, 10): 0;
    free (text);
    return value;
}

int
registry_meta_put (store_txn_t *txn, const char *name, uint64_t value)
{
    char text [24];
    snprintf (text, sizeof text, "%" PRIu64, value);
    return store_put (txn, "meta", name, strlen (name), text, strlen (text));
}

//  --------------------------------------------------------------------------
//  Replay windows

void
registry_replay_window (registry_t *self, store_txn_t *txn, const char *origin,
                        replay_t *window)
{
    s_window_t *cached = (s_window_t *) zhashx_lookup (self->windows, origin);
    if (cached) {
        *window = cached->window;
        return;
    }
    memset (window, 0, sizeof *window);
    size_t size;
    uint8_t *data = (uint8_t *) store_get (txn, "replay", origin, strlen (origin), &size);
    if (data && size == 16)
        replay_load (window, data);
    else
    if (data)
        zsys_error ("registry: corrupt replay window for %s", origin);
    free (data);
}

int
registry_replay_put (store_txn_t *txn, const char *origin, const replay_t *window)
{
    uint8_t data [16];
    replay_save (window, data);
    return store_put (txn, "replay", origin, strlen (origin), data, 16);
}

void
registry_replay_set (registry_t *self, const char *origin, const replay_t *window,
                     bool dirty)
{
    s_window_t *cached = (s_window_t *) zhashx_lookup (self->windows, origin);
    if (!cached) {
        cached = (s_window_t *) zmalloc (sizeof (s_window_t));
        zhashx_insert (self->windows, origin, cached);
    }
    cached->window = *window;
    if (dirty)
        zhashx_update (self->windows_dirty, origin, cached);
    else
        zhashx_delete (self->windows_dirty, origin);
}

//  --------------------------------------------------------------------------
//  Liveness

void
registry_seen (registry_t *self, const char *id, uint64_t now_ms)
{
    s_seen_t *seen = (s_seen_t *) zhashx_lookup (self->seen, id);
    if (!seen) {
        seen = (s_seen_t *) zmalloc (sizeof (s_seen_t));
        zhashx_insert (self->seen, id, seen);
    }
    if (now_ms > seen->last_seen) {
        seen->last_seen = now_ms;
        zhashx_update (self->seen_dirty, id, seen);
    }
}

uint64_t
registry_last_seen (registry_t *self, store_txn_t *txn, const char *id)
{
    s_seen_t *seen = (s_seen_t *) zhashx_lookup (self->seen, id);
    if (seen)
        return seen->last_seen;
    char *text = s_get_text (txn, "last_seen", id, strlen (id));
    uint64_t value = text? strtoull (text, NULL, 10): 0;
    free (text);
    return value;
}

bool
registry_online (registry_t *self, const char *id, uint64_t now_ms)
{
    s_seen_t *seen = (s_seen_t *) zhashx_lookup (self->seen, id);
    return seen && seen->last_seen + self->online_ms >= now_ms;
}

void
registry_set_online_ms (registry_t *self, uint64_t online_ms)
{
    assert (self);
    self->online_ms = online_ms? online_ms: REGISTRY_ONLINE_MS;
}

size_t
registry_online_count (registry_t *self, uint64_t now_ms)
{
    size_t count = 0;
    for (s_seen_t *seen = (s_seen_t *) zhashx_first (self->seen); seen;
         seen = (s_seen_t *) zhashx_next (self->seen))
        if (seen->last_seen + self->online_ms >= now_ms)
            count++;
    return count;
}

bool
registry_dirty (registry_t *self)
{
    return zhashx_size (self->seen_dirty) > 0 || zhashx_size (self->windows_dirty) > 0;
}

//  Write dirty replay windows and, with seen, dirty last_seen values in
//  one transaction.

static int
s_flush (registry_t *self, bool seen_too)
{
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn)
        return -1;
    int rc = 0;
    for (s_seen_t *seen = (s_seen_t *) zhashx_first (self->seen_dirty);
         seen && rc == 0 && seen_too; seen = (s_seen_t *) zhashx_next (self->seen_dirty)) {
        const char *id = (const char *) zhashx_cursor (self->seen_dirty);
        char text [24];
        snprintf (text, sizeof text, "%" PRIu64, seen->last_seen);
        rc = store_put (txn, "last_seen", id, strlen (id), text, strlen (text));
    }
    for (s_window_t *w = (s_window_t *) zhashx_first (self->windows_dirty); w && rc == 0;
         w = (s_window_t *) zhashx_next (self->windows_dirty))
        rc = registry_replay_put (txn, (const char *) zhashx_cursor (self->windows_dirty),
                                  &w->window);
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    if (rc) {
        zsys_warning ("registry: batch write failed, will retry");
        return -1;
    }
    if (seen_too)
        zhashx_purge (self->seen_dirty);
    zhashx_purge (self->windows_dirty);
    return 0;
}

int
registry_flush (registry_t *self)
{
    assert (self);
    return s_flush (self, true);
}

int
registry_flush_windows (registry_t *self)
{
    assert (self);
    return zhashx_size (self->windows_dirty)? s_flush (self, false): 0;
}

void
registry_discard (registry_t *self)
{
    assert (self);
    zhashx_purge (self->seen_dirty);
    zhashx_purge (self->windows_dirty);
}

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
    assert (registry_device_report_meta (txn, "dev-1", reported) == 0);
    json_decref (reported);
    device = registry_device_get (txn, "dev-1");
    assert (streq (json_string_value (json_object_get (device, "fw")), "2.3.0"));
    assert (json_object_get (device, "hw") == NULL);
    json_decref (device);
    int hits = 0;
    assert (registry_index_scan (txn, "fw", "2.3.0", false, s_test_index, &hits) == 1);
    assert (hits == 1);
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

    //  An older database: devices without index entries are indexed once
    registry_destroy (&registry);
    txn = store_begin (store, true);
    const char *old = "{\"id\":\"dev-old\",\"tenant\":\"acme\",\"type\":\"legacy\"}";
    assert (store_put (txn, "devices", "dev-old", 7, old, strlen (old)) == 0);
    assert (store_del (txn, "meta", "index_version", 13) == 0);
    assert (store_commit (&txn) == 0);
    registry = registry_new (store);
    txn = store_begin (store, false);
    int found = 0;
    assert (registry_index_scan (txn, "type", "legacy", false, s_test_count_id, &found) == 1);
    assert (found == 1);
    assert (registry_meta_get (txn, "index_version") == 1);
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
