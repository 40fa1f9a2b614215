/*  registry - the coordinator's records in the store, and the liveness
    and replay state it keeps in memory between batched writes
    Devices, twins and operators are msgpack maps (proto/recpack.h) with
    their keys, certificate and TPM names as bin; the JSON an operator
    sees is made from them at the edge (RPC). Indexes are raw 32-byte
    keys. Readers never trust a stored record blindly: a record that
    does not decode, or lacks a field, reads as absent and is logged, so
    one corrupt entry cannot crash the coordinator. Every decode of a
    stored record is counted (store_note_decode), so a test can pin how
    many one message costs.  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/jsontext.h"
#include "proto/recpack.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/registry_internal.h"
#include "coordinator/core/mergepatch.h"

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
    "releases",                     //  Tenants' release roots (relroot.h)
    "artifacts", "chunks",          //  The artifact repository (artrepo.h) and its chunks
    "campaigns",                    //  Release campaigns (campaign.h)
    NULL
};

//  Top-level fields of device and operator records held as bin: hex
//  text in the JSON the rest of the coordinator and operators see
static const char *s_bin_fields [] = {
    "sign_key", "curve_key", "cert", "ek", "ak_public", "ak_name", NULL
};

const char **
registry_tables (void)
{
    return s_tables;
}

//  A stored record (devices, twins, operators) as JSON; NULL if the
//  bytes are not a record (logged with where it was)
json_t *
registry_rec_decode (store_txn_t *txn, const char *table, const void *key, size_t key_size,
                     const void *data, size_t size)
{
    store_note_decode (txn);
    json_t *json = size <= REGISTRY_RECORD_MAX
                 ? recpack_decode ((const uint8_t *) data, size): NULL;
    if (!json)
        zsys_error ("registry: corrupt record %s/%.*s", table, (int) key_size,
                    (const char *) key);
    return json;
}

int
registry_pack (const json_t *record, uint8_t **data_p, size_t *size_p)
{
    return recpack_encode (record, s_bin_fields, data_p, size_p);
}

json_t *
registry_rec_get (store_txn_t *txn, const char *table, const char *key)
{
    size_t size;
    void *data = store_get (txn, table, key, strlen (key), &size);
    if (!data)
        return NULL;
    json_t *json = registry_rec_decode (txn, table, key, strlen (key), data, size);
    free (data);
    return json;
}

static int
s_rec_put (store_txn_t *txn, const char *table, const char *key, json_t *json)
{
    uint8_t *data;
    size_t size;
    if (registry_pack (json, &data, &size))
        return -1;
    int rc = size <= REGISTRY_RECORD_MAX
           ? store_put (txn, table, key, strlen (key), data, size): -1;
    if (size > REGISTRY_RECORD_MAX)
        zsys_error ("registry: record %s/%s too large (%zu bytes)", table, key, size);
    free (data);
    return rc;
}

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  Versions of the stored layout, in meta: index_version 1 added the
//  secondary indexes, 2 dropped the place entries ("@scope NUL place NUL
//  id", which the path and tenant entries duplicate); record_format 2
//  made records msgpack
#define S_INDEX_VERSION     2
#define S_RECORD_FORMAT     2
#define S_OLD_SCOPE_PREFIX  "@scope"

static int s_rec_put (store_txn_t *txn, const char *table, const char *key, json_t *json);

//  The ids of one table, collected before any is rewritten (a cursor
//  does not survive writes to its own table)
static int
s_collect_key (void *arg, const void *key, size_t key_size, const void *value,
               size_t value_size)
{
    (void) value;
    (void) value_size;
    zlistx_add_end ((zlistx_t *) arg, zsys_sprintf ("%.*s", (int) key_size, (const char *) key));
    return 0;
}

//  Rewrite every JSON text record of table as msgpack; devices get
//  their index entries (built again from the record, so an older
//  database without indexes gets them too). Returns records converted,
//  or -1.
static int
s_convert_table (store_txn_t *txn, const char *table)
{
    zlistx_t *keys = zlistx_new ();
    zlistx_set_destructor (keys, (czmq_destructor *) zstr_free);
    int rc = store_scan (txn, table, "", 0, s_collect_key, keys) < 0? -1: 0;
    int converted = 0;
    for (char *key = (char *) zlistx_first (keys); key && rc == 0;
         key = (char *) zlistx_next (keys)) {
        size_t size;
        char *text = (char *) store_get (txn, table, key, strlen (key), &size);
        json_error_t error;
        json_t *json = !text || recpack_is_record ((uint8_t *) text, size)? NULL
                     : json_loadb (text, size, JSON_REJECT_DUPLICATES, &error);
        free (text);
        if (!json_is_object (json)) {
            //  Already converted, or unreadable as before (read as absent)
            json_decref (json);
            continue;
        }
        uint8_t *data;
        size_t data_size;
        rc = recpack_encode (json, s_bin_fields, &data, &data_size);
        //  The old record's index entries are the new one's: s_device_store
        //  must not read the text as a record it replaces
        if (rc == 0 && streq (table, "devices"))
            rc = store_del (txn, table, key, strlen (key)) < 0? -1
               : registry_device_store (txn, key, data, data_size);
        else
        if (rc == 0)
            rc = store_put (txn, table, key, strlen (key), data, data_size);
        if (rc)
            zsys_error ("registry: cannot convert %s/%s", table, key);
        converted++;
        free (data);
        json_decref (json);
    }
    zlistx_destroy (&keys);
    return rc? -1: converted;
}

//  Bring an older database to the current layout, in one transaction:
//  all of it is converted, or none. Returns 0 or -1.
static int
s_upgrade (store_t *store)
{
    store_txn_t *txn = store_begin (store, true);
    if (!txn)
        return -1;
    bool convert = registry_meta_get (txn, "record_format") < S_RECORD_FORMAT;
    bool reindex = registry_meta_get (txn, "index_version") < S_INDEX_VERSION;
    int rc = 0;
    int converted = 0;
    int64_t devices = store_count (txn, "devices");
    if (convert) {
        const char *tables [] = { "devices", "twins", "operators", NULL };
        for (int i = 0; tables [i] && rc == 0; i++) {
            int count = s_convert_table (txn, tables [i]);
            rc = count < 0? -1: 0;
            converted += count > 0? count: 0;
        }
        if (rc == 0)
            rc = registry_meta_put (txn, "record_format", S_RECORD_FORMAT);
    }
    int64_t dropped = 0;
    if (rc == 0 && reindex) {
        //  Entries of index_version 1 that nothing reads any more
        dropped = store_del_prefix (txn, "device_index", S_OLD_SCOPE_PREFIX,
                                    sizeof S_OLD_SCOPE_PREFIX);
        rc = dropped < 0? -1: 0;
        if (rc == 0)
            rc = registry_meta_put (txn, "index_version", S_INDEX_VERSION);
    }
    if ((convert || reindex) && rc == 0)
        rc = store_commit (&txn);
    if (rc)
        zsys_error ("registry: cannot bring the database of an older release to the "
                    "current layout; nothing was changed, refusing to start");
    else
    if (converted)
        zsys_info ("registry: converted %d records (%" PRId64 " devices) to msgpack",
                   converted, devices);
    if (rc == 0 && dropped)
        zsys_info ("registry: dropped %" PRId64 " index entries of an older layout", dropped);
    store_abort (&txn);
    return rc;
}

//  --------------------------------------------------------------------------
//  Create the in-memory part.

registry_t *
registry_new (store_t *store)
{
    assert (store);
    if (s_upgrade (store))
        return NULL;
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

char *
registry_text_get (store_txn_t *txn, const char *table, const void *key, size_t key_size)
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
    json_t *twin = registry_rec_decode (txn, "twins", id, strlen (id), data, size);
    free (data);
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
    return s_rec_put (txn, "twins", id, twin);
}

json_t *
registry_twin_patch (store_txn_t *txn, const char *id, json_t *patch, json_int_t *version_p,
                     int *status_p, char error [WEFT_TEXT_MAX + 1])
{
    assert (txn && id && patch && version_p && status_p && error);
    json_t *twin = registry_twin_get (txn, id);
    if (!twin) {
        *status_p = WEFT_STATUS_INTERNAL;
        snprintf (error, WEFT_TEXT_MAX + 1, "twin of %s is corrupt", id);
        return NULL;
    }
    json_t *desired = mergepatch_apply (json_object_get (twin, "desired"), patch);
    char *text = registry_dump (desired);
    if (!text || strlen (text) > REGISTRY_DOC_MAX) {
        *status_p = WEFT_STATUS_BAD_REQUEST;
        snprintf (error, WEFT_TEXT_MAX + 1, "desired document of %s would exceed %d bytes",
                  id, REGISTRY_DOC_MAX);
        free (text);
        json_decref (desired);
        json_decref (twin);
        return NULL;
    }
    free (text);
    json_int_t version = json_integer_value (json_object_get (twin, "desired_version")) + 1;
    json_object_set (twin, "desired", desired);
    json_object_set_new (twin, "desired_version", json_integer (version));
    *status_p = WEFT_STATUS_OK;
    if (registry_twin_put (txn, id, twin)) {
        *status_p = WEFT_STATUS_INTERNAL;
        snprintf (error, WEFT_TEXT_MAX + 1, "store write failed");
        json_decref (desired);
        desired = NULL;
    }
    json_decref (twin);
    *version_p = version;
    return desired;
}

//  --------------------------------------------------------------------------
//  Operators

json_t *
registry_operator_get (store_txn_t *txn, const char *name)
{
    if (!registry_name_valid (name))
        return NULL;
    return registry_rec_get (txn, "operators", name);
}

int
registry_operator_put (store_txn_t *txn, json_t *op)
{
    const char *name = json_string_value (json_object_get (op, "name"));
    if (!registry_name_valid (name))
        return -1;
    //  Replacing an operator's keys must unlink the old key
    json_t *old = registry_rec_get (txn, "operators", name);
    if (old) {
        const char *hex = json_string_value (json_object_get (old, "curve_key"));
        uint8_t key [32];
        if (hex && keys_unhex (hex, key, 32) == 0)
            store_del (txn, "operator_keys", key, 32);
        json_decref (old);
    }
    const char *hex = json_string_value (json_object_get (op, "curve_key"));
    uint8_t key [32];
    if (!hex || keys_unhex (hex, key, 32) || s_rec_put (txn, "operators", name, op))
        return -1;
    return store_put (txn, "operator_keys", key, 32, name, strlen (name));
}

char *
registry_operator_by_curve (store_txn_t *txn, const uint8_t curve_key [32])
{
    return registry_text_get (txn, "operator_keys", curve_key, 32);
}

//  --------------------------------------------------------------------------
//  Meta counters, as decimal text

uint64_t
registry_meta_get (store_txn_t *txn, const char *name)
{
    char *text = registry_text_get (txn, "meta", name, strlen (name));
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
    char *text = registry_text_get (txn, "last_seen", id, strlen (id));
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
