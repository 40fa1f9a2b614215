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
static json_t *
s_decode (store_txn_t *txn, const char *table, const void *key, size_t key_size,
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

static json_t *
s_rec_get (store_txn_t *txn, const char *table, const char *key)
{
    size_t size;
    void *data = store_get (txn, table, key, strlen (key), &size);
    if (!data)
        return NULL;
    json_t *json = s_decode (txn, table, key, strlen (key), data, size);
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
//  secondary indexes, record_format 2 made records msgpack
#define S_INDEX_VERSION     1
#define S_RECORD_FORMAT     2

static int s_device_store (store_txn_t *txn, const char *id, const uint8_t *data,
                           size_t size);
static json_t *s_rec_get (store_txn_t *txn, const char *table, const char *key);
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
               : s_device_store (txn, key, data, data_size);
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
    int rc = 0;
    if (registry_meta_get (txn, "record_format") < S_RECORD_FORMAT) {
        int64_t devices = store_count (txn, "devices");
        const char *tables [] = { "devices", "twins", "operators", NULL };
        int converted = 0;
        for (int i = 0; tables [i] && rc == 0; i++) {
            int count = s_convert_table (txn, tables [i]);
            rc = count < 0? -1: 0;
            converted += count > 0? count: 0;
        }
        if (rc == 0)
            rc = registry_meta_put (txn, "record_format", S_RECORD_FORMAT);
        if (rc == 0)
            rc = registry_meta_put (txn, "index_version", S_INDEX_VERSION);
        if (rc == 0)
            rc = store_commit (&txn);
        if (rc)
            zsys_error ("registry: cannot convert the records of an older database to "
                        "msgpack; nothing was changed, refusing to start");
        else
        if (converted)
            zsys_info ("registry: converted %d records (%" PRId64 " devices) to msgpack",
                       converted, devices);
    }
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

//  --------------------------------------------------------------------------
//  Decoded device records

void
registry_device_init (registry_device_t *self)
{
    assert (self);
    memset (self, 0, sizeof *self);
}

void
registry_device_fini (registry_device_t *self)
{
    assert (self);
    free (self->copy);
    free (self->arena);
    free (self->tag_value);
    memset (self, 0, sizeof *self);
}

//  Copy text into the arena, NUL-terminated (room was made for every
//  field of the record up front)
static const char *
s_arena_text (registry_device_t *self, const uint8_t *data, size_t size)
{
    assert (self->arena_used + size + 1 <= self->arena_max);
    char *text = self->arena + self->arena_used;
    memcpy (text, data, size);
    text [size] = 0;
    self->arena_used += size + 1;
    return text;
}

//  The text fields of a decoded device, by name
static const struct {
    const char *name;
    size_t offset;
} s_text_fields [] = {
    { "id", offsetof (registry_device_t, id) },
    { "tenant", offsetof (registry_device_t, tenant) },
    { "type", offsetof (registry_device_t, type) },
    { "role", offsetof (registry_device_t, role) },
    { "path", offsetof (registry_device_t, path) },
    { "asset", offsetof (registry_device_t, asset) },
    { "fw", offsetof (registry_device_t, fw) },
    { "hw", offsetof (registry_device_t, hw) },
    { "sw", offsetof (registry_device_t, sw) },
    { "location", offsetof (registry_device_t, location) },
    { "assurance", offsetof (registry_device_t, assurance) },
};
#define S_TEXT_FIELDS   (sizeof s_text_fields / sizeof s_text_fields [0])

bool
registry_device_field (registry_device_t *self, const char *name, const char **value_p)
{
    assert (self && name && value_p);
    for (size_t i = 0; i < S_TEXT_FIELDS; i++)
        if (streq (s_text_fields [i].name, name)) {
            *value_p = *(const char **) ((char *) self + s_text_fields [i].offset);
            return true;
        }
    return false;
}

static int
s_decode_field (void *arg, const char *key, size_t key_size, const recpack_value_t *value)
{
    registry_device_t *self = (registry_device_t *) arg;
    for (size_t i = 0; i < S_TEXT_FIELDS; i++)
        if (strlen (s_text_fields [i].name) == key_size
        &&  memcmp (s_text_fields [i].name, key, key_size) == 0) {
            const char **field = (const char **) ((char *) self + s_text_fields [i].offset);
            if (value->type == RECPACK_STR)
                *field = s_arena_text (self, value->data, value->size);
            else
            if (value->type == RECPACK_INT && streq (s_text_fields [i].name, "assurance")) {
                char number [24];
                int len = snprintf (number, sizeof number, "%" PRId64, value->integer);
                *field = s_arena_text (self, (const uint8_t *) number, (size_t) len);
            }
            return 0;
        }
    if (key_size == 7 && memcmp (key, "revoked", 7) == 0)
        self->revoked = value->type == RECPACK_BOOL && value->boolean;
    else
    if (key_size == 4 && memcmp (key, "tags", 4) == 0 && value->type == RECPACK_MAP) {
        self->tags = value->data;
        self->tags_size = value->size;
    }
    else
    if (key_size == 8 && memcmp (key, "sign_key", 8) == 0 && value->type == RECPACK_BIN
    &&  value->size == 32) {
        memcpy (self->sign_key, value->data, 32);
        self->has_sign_key = true;
    }
    else
    if (key_size == 9 && memcmp (key, "curve_key", 9) == 0 && value->type == RECPACK_BIN
    &&  value->size == 32) {
        memcpy (self->curve_key, value->data, 32);
        self->has_curve_key = true;
    }
    return 0;
}

int
registry_device_decode (registry_device_t *self, const void *data, size_t size)
{
    assert (self);
    uint8_t *copy = self->copy;
    size_t copy_max = self->copy_max;
    char *arena = self->arena;
    size_t arena_max = self->arena_max;
    char *tag_value = self->tag_value;
    size_t tag_max = self->tag_max;
    memset (self, 0, sizeof *self);
    self->copy = copy;
    self->copy_max = copy_max;
    self->tag_value = tag_value;
    self->tag_max = tag_max;
    //  Every text takes its bytes in the record plus a NUL, and a
    //  number at most 21 bytes more than its own
    size_t need = size + 64;
    if (need > arena_max) {
        free (arena);
        arena = (char *) zmalloc (need);
        arena_max = need;
    }
    self->arena = arena;
    self->arena_max = arena_max;
    self->data = (const uint8_t *) data;
    self->size = size;
    if (size > REGISTRY_RECORD_MAX
    ||  recpack_map ((const uint8_t *) data, size, s_decode_field, self) != 0
    ||  !self->id)
        return -1;
    return 0;
}

int
registry_device_read (store_txn_t *txn, const char *id, registry_device_t *self)
{
    assert (self);
    if (!registry_name_valid (id))
        return 1;
    size_t size;
    uint8_t *data = (uint8_t *) store_get (txn, "devices", id, strlen (id), &size);
    if (!data)
        return 1;
    free (self->copy);
    self->copy = data;
    self->copy_max = size;
    store_note_decode (txn);
    if (registry_device_decode (self, data, size)) {
        zsys_error ("registry: corrupt record devices/%s", id);
        return -1;
    }
    return 0;
}

const char *
registry_device_tag (registry_device_t *self, const char *key)
{
    assert (self && key);
    recpack_value_t value;
    if (!self->tags || recpack_get (self->tags, self->tags_size, key, &value) != 0
    ||  value.type != RECPACK_STR)
        return NULL;
    if (value.size + 1 > self->tag_max) {
        free (self->tag_value);
        self->tag_max = value.size + 1;
        self->tag_value = (char *) zmalloc (self->tag_max);
    }
    memcpy (self->tag_value, value.data, value.size);
    self->tag_value [value.size] = 0;
    return self->tag_value;
}

const char *
registry_device_place (registry_device_t *self)
{
    assert (self);
    if (self->path && *self->path)
        return self->path;
    return self->tenant? self->tenant: "";
}

json_t *
registry_device_json (registry_device_t *self)
{
    assert (self && self->data);
    return recpack_decode (self->data, self->size);
}

typedef struct {
    store_txn_t *txn;
    registry_device_t device;
    registry_device_fn *fn;
    void *arg;
} s_scan_t;

static int
s_scan_one (void *arg, const void *key, size_t key_size, const void *value,
            size_t value_size)
{
    s_scan_t *scan = (s_scan_t *) arg;
    store_note_decode (scan->txn);
    if (registry_device_decode (&scan->device, value, value_size)) {
        zsys_error ("registry: corrupt record devices/%.*s", (int) key_size,
                    (const char *) key);
        return 0;
    }
    return scan->fn (scan->arg, &scan->device);
}

int
registry_device_scan (store_txn_t *txn, registry_device_fn *fn, void *arg)
{
    assert (fn);
    s_scan_t scan = { txn, { 0 }, fn, arg };
    registry_device_init (&scan.device);
    int rc = store_scan (txn, "devices", "", 0, s_scan_one, &scan);
    registry_device_fini (&scan.device);
    return rc;
}

//  --------------------------------------------------------------------------
//  Secondary indexes of devices: key attr NUL value NUL id, empty value

//  Site of a path: its second segment
static bool
s_site_of (const char *path, char *site, size_t size)
{
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
    return s_site_of (json_string_value (json_object_get (device, "path")), site, size);
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

//  The index keys of one device, built before any is written so that
//  a replaced record touches only the entries that changed
typedef struct {
    size_t count;
    size_t sizes [REGISTRY_INDEX_ENTRIES_MAX];
    char keys [REGISTRY_INDEX_ENTRIES_MAX][REGISTRY_INDEX_KEY_MAX];
    bool overflow;                  //  An entry did not fit
} s_keys_t;

static void
s_keys_add (s_keys_t *keys, const char *attr, const char *value, const char *id)
{
    size_t len = keys->count < REGISTRY_INDEX_ENTRIES_MAX
               ? registry_index_key (keys->keys [keys->count], REGISTRY_INDEX_KEY_MAX,
                                     attr, value, id): 0;
    if (len == 0) {
        zsys_error ("registry: index entry %s of %s does not fit", attr, id);
        keys->overflow = true;
        return;
    }
    keys->sizes [keys->count++] = len;
}

typedef struct {
    s_keys_t *keys;
    const char *id;
} s_tag_keys_t;

static int
s_tag_key (void *arg, const char *key, size_t key_size, const recpack_value_t *value)
{
    s_tag_keys_t *self = (s_tag_keys_t *) arg;
    //  Only text tags are indexed, as only they match
    if (value->type != RECPACK_STR || key_size > WEFT_NAME_MAX
    ||  value->size >= REGISTRY_INDEX_KEY_MAX)
        return 0;
    char attr [WEFT_NAME_MAX + 8];
    char text [REGISTRY_INDEX_KEY_MAX];
    snprintf (attr, sizeof attr, "tag.%.*s", (int) key_size, key);
    memcpy (text, value->data, value->size);
    text [value->size] = 0;
    s_keys_add (self->keys, attr, text, self->id);
    return 0;
}

static void
s_keys_of (registry_device_t *device, s_keys_t *keys)
{
    keys->count = 0;
    keys->overflow = false;
    const char *values [] = {
        device->tenant, device->type, device->role, device->path, NULL,
        device->fw, device->hw, device->sw, device->asset
    };
    char site [WEFT_NAME_MAX + 1];
    for (int i = 0; s_indexed [i]; i++) {
        const char *value = values [i];
        if (streq (s_indexed [i], "site"))
            value = s_site_of (device->path, site, sizeof site)? site: NULL;
        if (value && (*value || streq (s_indexed [i], "tenant")))
            s_keys_add (keys, s_indexed [i], value, device->id);
    }
    if (device->tags) {
        s_tag_keys_t tags = { keys, device->id };
        recpack_map (device->tags, device->tags_size, s_tag_key, &tags);
    }
    s_keys_add (keys, REGISTRY_SCOPE_ATTR, registry_device_place (device), device->id);
}

static bool
s_keys_hold (const s_keys_t *keys, const char *key, size_t size)
{
    for (size_t i = 0; i < keys->count; i++)
        if (keys->sizes [i] == size && memcmp (keys->keys [i], key, size) == 0)
            return true;
    return false;
}

//  Write the entries of now that were not in before and delete those of
//  before that are not in now (either may be NULL: none)
static int
s_index_update (store_txn_t *txn, const s_keys_t *before, const s_keys_t *now)
{
    int rc = 0;
    for (size_t i = 0; before && i < before->count && rc == 0; i++)
        if (!now || !s_keys_hold (now, before->keys [i], before->sizes [i]))
            rc = store_del (txn, "device_index", before->keys [i], before->sizes [i]) < 0? -1: 0;
    for (size_t i = 0; now && i < now->count && rc == 0; i++)
        if (!before || !s_keys_hold (before, now->keys [i], now->sizes [i]))
            rc = store_put (txn, "device_index", now->keys [i], now->sizes [i], "", 0);
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

bool
registry_index_has (store_txn_t *txn, const char *attr, const char *value, const char *id)
{
    char key [REGISTRY_INDEX_KEY_MAX];
    size_t len = registry_index_key (key, sizeof key, attr, value, id);
    void *data = len? store_get (txn, "device_index", key, len, NULL): NULL;
    free (data);
    return data != NULL;
}

//  --------------------------------------------------------------------------
//  Devices

json_t *
registry_device_get (store_txn_t *txn, const char *id)
{
    if (!registry_name_valid (id))
        return NULL;
    return s_rec_get (txn, "devices", id);
}

//  Store a device record given as bytes, with its index entries: only
//  those that differ from the record it replaces are written
static int
s_device_store (store_txn_t *txn, const char *id, const uint8_t *data, size_t size)
{
    registry_device_t now, before;
    registry_device_init (&now);
    registry_device_init (&before);
    s_keys_t *keys = (s_keys_t *) malloc (2 * sizeof (s_keys_t));
    assert (keys);
    int rc = registry_device_decode (&now, data, size) || !now.has_curve_key? -1: 0;
    if (rc == 0)
        s_keys_of (&now, &keys [1]);
    //  A corrupt old record has no entries we can find: keep going
    bool replaces = rc == 0 && registry_device_read (txn, id, &before) == 0;
    if (replaces)
        s_keys_of (&before, &keys [0]);
    if (rc == 0 && (keys [1].overflow || (replaces && keys [0].overflow)))
        rc = -1;
    if (rc == 0)
        rc = s_index_update (txn, replaces? &keys [0]: NULL, &keys [1]);
    if (rc == 0)
        rc = store_put (txn, "devices", id, strlen (id), data, size);
    if (rc == 0)
        rc = store_put (txn, "device_keys", now.curve_key, 32, id, strlen (id));
    free (keys);
    registry_device_fini (&now);
    registry_device_fini (&before);
    return rc;
}

int
registry_device_put (store_txn_t *txn, json_t *device)
{
    const char *id = json_string_value (json_object_get (device, "id"));
    if (!registry_name_valid (id))
        return -1;
    uint8_t *data;
    size_t size;
    if (recpack_encode (device, s_bin_fields, &data, &size))
        return -1;
    int rc = size <= REGISTRY_RECORD_MAX? s_device_store (txn, id, data, size): -1;
    free (data);
    return rc;
}

//  The reported text of one metadata field, if it is valid
static const char *
s_meta_value (json_t *meta, const char *field)
{
    const char *value = json_string_value (json_object_get (meta, field));
    size_t len = value? strlen (value): 0;
    bool valid = len > 0 && len <= 128;
    for (size_t c = 0; valid && c < len; c++)
        if ((unsigned char) value [c] < 0x20 || value [c] == 0x7f)
            valid = false;
    return valid? value: NULL;
}

int
registry_device_report_meta (store_txn_t *txn, const char *id, registry_device_t *device_held,
                             json_t *reported)
{
    json_t *meta = json_object_get (reported, REGISTRY_REPORTED_META);
    if (!json_is_object (meta))
        return 0;
    //  Most reports change nothing here: compare on the decoded record
    //  and build JSON only for a change
    registry_device_t own;
    registry_device_init (&own);
    registry_device_t *held = device_held;
    if (!held || !held->id || !streq (held->id, id))
        held = registry_device_read (txn, id, &own) == 0? &own: NULL;
    int rc = 0;
    if (held) {
        const char *fields [] = { "fw", "hw", "sw" };
        const char *values [] = { held->fw, held->hw, held->sw };
        json_t *device = NULL;
        for (int i = 0; i < 3; i++) {
            const char *value = s_meta_value (meta, fields [i]);
            if (value && !(values [i] && streq (values [i], value))) {
                if (!device)
                    device = registry_device_json (held);
                if (device)
                    json_object_set_new (device, fields [i], json_string (value));
            }
        }
        if (device) {
            uint8_t *data;
            size_t size;
            rc = recpack_encode (device, s_bin_fields, &data, &size);
            //  The old record's entries are those of held: no second read
            if (rc == 0) {
                s_keys_t *keys = (s_keys_t *) malloc (2 * sizeof (s_keys_t));
                assert (keys);
                registry_device_t now;
                registry_device_init (&now);
                rc = size > REGISTRY_RECORD_MAX || registry_device_decode (&now, data, size)
                   ? -1: 0;
                if (rc == 0) {
                    s_keys_of (held, &keys [0]);
                    s_keys_of (&now, &keys [1]);
                    rc = keys [0].overflow || keys [1].overflow? -1
                       : s_index_update (txn, &keys [0], &keys [1]);
                }
                if (rc == 0)
                    rc = store_put (txn, "devices", id, strlen (id), data, size);
                registry_device_fini (&now);
                free (keys);
                free (data);
            }
            json_decref (device);
        }
    }
    registry_device_fini (&own);
    return rc;
}

char *
registry_device_by_curve (store_txn_t *txn, const uint8_t curve_key [32])
{
    return s_get_text (txn, "device_keys", curve_key, 32);
}

typedef struct {
    store_txn_t *txn;
    const char *table;
    registry_each_fn *fn;
    void *arg;
} s_each_t;

static int
s_each_record (void *arg, const void *key, size_t key_size,
               const void *value, size_t value_size)
{
    s_each_t *each = (s_each_t *) arg;
    json_t *record = s_decode (each->txn, each->table, key, key_size, value, value_size);
    if (!record)
        return 0;
    int rc = each->fn (each->arg, record);
    json_decref (record);
    return rc;
}

int
registry_device_each (store_txn_t *txn, registry_each_fn *fn, void *arg)
{
    s_each_t each = { txn, "devices", fn, arg };
    //  An empty, non-NULL prefix: store_scan memcmp's it even at size 0
    return store_scan (txn, "devices", "", 0, s_each_record, &each);
}

int
registry_operator_each (store_txn_t *txn, registry_each_fn *fn, void *arg)
{
    s_each_t each = { txn, "operators", fn, arg };
    return store_scan (txn, "operators", "", 0, s_each_record, &each);
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
    json_t *twin = s_decode (txn, "twins", id, strlen (id), data, size);
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

//  --------------------------------------------------------------------------
//  Operators

json_t *
registry_operator_get (store_txn_t *txn, const char *name)
{
    if (!registry_name_valid (name))
        return NULL;
    return s_rec_get (txn, "operators", name);
}

int
registry_operator_put (store_txn_t *txn, json_t *op)
{
    const char *name = json_string_value (json_object_get (op, "name"));
    if (!registry_name_valid (name))
        return -1;
    //  Replacing an operator's keys must unlink the old key
    json_t *old = s_rec_get (txn, "operators", name);
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
    assert (registry_device_report_meta (txn, "dev-1", NULL, reported) == 0);
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
    assert (registry_meta_get (txn, "index_version") == 1);
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

    registry_destroy (&registry);
    registry_destroy (&registry);
    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
