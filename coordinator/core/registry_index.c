/*  registry_index - reading the secondary indexes of devices: entries
    by attribute and value or value prefix, a scope's devices through
    the path and tenant entries, and single entries, by lookup or
    through a cursor for ids in ascending order
    An entry is "attr NUL value NUL id" with an empty value; registry_device
    writes them with each record.  */

#include "proto/corelib.h"
#include "coordinator/core/registry.h"

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

//  Passes ids on and remembers whether fn asked to stop
typedef struct {
    registry_index_fn *fn;
    void *arg;
    bool stopped;
} s_scope_scan_t;

static int
s_scope_one (void *arg, const char *id)
{
    s_scope_scan_t *self = (s_scope_scan_t *) arg;
    self->stopped = self->fn (self->arg, id) != 0;
    return self->stopped;
}

int
registry_scope_scan (store_txn_t *txn, const char *scope, registry_index_fn *fn, void *arg)
{
    assert (scope && *scope && fn);
    //  The node itself and everything below it, by path; then by tenant,
    //  where the devices without a path sit
    char below [REGISTRY_INDEX_KEY_MAX];
    snprintf (below, sizeof below, "%s/", scope);
    const char *attrs [] = { "path", "path", "tenant", "tenant" };
    const char *values [] = { scope, below, scope, below };
    s_scope_scan_t scan = { fn, arg, false };
    int visited = 0;
    for (int i = 0; i < 4 && !scan.stopped; i++) {
        int rc = registry_index_scan (txn, attrs [i], values [i], i % 2 == 1, s_scope_one,
                                      &scan);
        if (rc < 0)
            return -1;
        visited += rc;
    }
    return visited;
}

bool
registry_index_has (store_txn_t *txn, const char *attr, const char *value, const char *id)
{
    char key [REGISTRY_INDEX_KEY_MAX];
    size_t len = registry_index_key (key, sizeof key, attr, value, id);
    return len && store_has (txn, "device_index", key, len);
}

store_cursor_t *
registry_index_cursor (store_txn_t *txn)
{
    return store_cursor_new (txn, "device_index");
}

bool
registry_index_has_at (store_cursor_t *cursor, const char *attr, const char *value,
                       const char *id)
{
    assert (cursor);
    char key [REGISTRY_INDEX_KEY_MAX];
    size_t len = registry_index_key (key, sizeof key, attr, value, id);
    return len && store_cursor_has (cursor, key, len);
}
