/*  registry_device - device records: decoded once without JSON
    (registry_device_t), stored with their secondary index entries, read
    and scanned for queries (registry_index reads the entries)
    An index entry is "attr NUL value NUL id" with an empty value. A put
    computes the entries of the new record and of the one it replaces
    and writes only the difference, so a report that changes a device's
    firmware rewrites one entry, not every one.  */

#include "proto/corelib.h"
#include "proto/recpack.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/registry_internal.h"

//  Device attributes with a secondary index (besides tag.KEY). A scope
//  is found through path and tenant (registry_scope_scan): no entry of
//  its own
static const char *s_indexed [] = {
    "tenant", "type", "role", "path", "site", "fw", "hw", "sw", "asset", "link", NULL
};

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
//  (with the length of each name: a decode compares every key of a
//  record with these, so the length and first byte decide most at once)
#define S_FIELD(name, member)   { name, sizeof name - 1, offsetof (registry_device_t, member) }
static const struct {
    const char *name;
    size_t size;
    size_t offset;
} s_text_fields [] = {
    S_FIELD ("id", id), S_FIELD ("tenant", tenant), S_FIELD ("type", type),
    S_FIELD ("role", role), S_FIELD ("path", path), S_FIELD ("asset", asset),
    S_FIELD ("fw", fw), S_FIELD ("hw", hw), S_FIELD ("sw", sw),
    S_FIELD ("location", location), S_FIELD ("assurance", assurance),
    S_FIELD ("link", link),
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
        if (s_text_fields [i].size == key_size && s_text_fields [i].name [0] == key [0]
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

//  Read through cursor if not NULL, else with one lookup
static int
s_device_read (store_txn_t *txn, store_cursor_t *cursor, const char *id,
               registry_device_t *self)
{
    assert (self);
    if (!registry_name_valid (id))
        return 1;
    size_t size;
    //  Into the buffer of the previous read: a query reading thousands
    //  of candidates allocates once
    int rc = cursor
           ? store_cursor_get_buf (cursor, id, strlen (id), &self->copy, &self->copy_max, &size)
           : store_get_buf (txn, "devices", id, strlen (id), &self->copy, &self->copy_max, &size);
    if (rc)
        return rc > 0? 1: -1;
    store_note_decode (txn);
    if (registry_device_decode (self, self->copy, size)) {
        zsys_error ("registry: corrupt record devices/%s", id);
        return -1;
    }
    return 0;
}

int
registry_device_read (store_txn_t *txn, const char *id, registry_device_t *self)
{
    return s_device_read (txn, NULL, id, self);
}

store_cursor_t *
registry_device_cursor (store_txn_t *txn)
{
    return store_cursor_new (txn, "devices");
}

int
registry_device_read_at (store_txn_t *txn, store_cursor_t *cursor, const char *id,
                         registry_device_t *self)
{
    assert (cursor);
    return s_device_read (txn, cursor, id, self);
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
    for (int i = 0; s_indexed [i]; i++)
        if (streq (attr, s_indexed [i]))
            return true;
    return false;
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
        device->fw, device->hw, device->sw, device->asset, device->link
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

//  --------------------------------------------------------------------------
//  Devices

json_t *
registry_device_get (store_txn_t *txn, const char *id)
{
    if (!registry_name_valid (id))
        return NULL;
    return registry_rec_get (txn, "devices", id);
}

//  Store a device record given as bytes, with its index entries: only
//  those that differ from the record it replaces are written. A new
//  device (the common case) costs no read: the record goes in with an
//  insert that hands back the record it would replace, if there is one.
int
registry_device_store (store_txn_t *txn, const char *id, const uint8_t *data, size_t size)
{
    registry_device_t now, before;
    registry_device_init (&now);
    registry_device_init (&before);
    s_keys_t *keys = (s_keys_t *) malloc (2 * sizeof (s_keys_t));
    assert (keys);
    int rc = registry_device_decode (&now, data, size) || !now.has_curve_key? -1: 0;
    if (rc == 0)
        s_keys_of (&now, &keys [1]);
    if (rc == 0 && keys [1].overflow)
        rc = -1;
    void *old = NULL;
    size_t old_size = 0;
    int present = rc? -1: store_insert (txn, "devices", id, strlen (id), data, size,
                                        &old, &old_size);
    rc = present < 0? -1: 0;
    bool replaces = false;
    if (present == 1) {
        //  before owns the old bytes from here (freed by fini)
        before.copy = (uint8_t *) old;
        before.copy_max = old_size;
        store_note_decode (txn);
        //  A corrupt old record has no entries we can find: keep going
        replaces = registry_device_decode (&before, old, old_size) == 0;
        if (!replaces)
            zsys_error ("registry: corrupt record devices/%s", id);
        if (replaces)
            s_keys_of (&before, &keys [0]);
        if (replaces && keys [0].overflow)
            rc = -1;
        if (rc == 0)
            rc = store_put (txn, "devices", id, strlen (id), data, size);
    }
    if (rc == 0)
        rc = s_index_update (txn, replaces? &keys [0]: NULL, &keys [1]);
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
    if (registry_pack (device, &data, &size))
        return -1;
    int rc = size <= REGISTRY_RECORD_MAX? registry_device_store (txn, id, data, size): -1;
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
        const char *fields [] = { "fw", "hw", "sw", "link" };
        const char *values [] = { held->fw, held->hw, held->sw, held->link };
        json_t *device = NULL;
        for (int i = 0; i < 4; i++) {
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
            rc = registry_pack (device, &data, &size);
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
    return registry_text_get (txn, "device_keys", curve_key, 32);
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
    json_t *record = registry_rec_decode (each->txn, each->table, key, key_size, value, value_size);
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

