/*  fuzz/hierarchy - libFuzzer target for the hierarchy import document
    Arbitrary bytes are loaded as JSON (when they are) and imported
    twice into an in-memory store: a document must be imported or
    refused with a message, a refused import must write nothing, and a
    second import of an accepted document must change nothing. The
    store and the registry functions hierarchy.c uses are small
    in-memory stand-ins here (fuzz: own store); hierarchy.c is included
    directly.  */

#include <assert.h>
#include <czmq.h>
#include <jansson.h>
#include "proto/proto.c"
#include "coordinator/core/hierarchy.c"

//  In-memory store: "table NUL key" -> value, both as zchunk
static zhashx_t *s_tables;
static int s_writes;

struct _store_txn_t { int unused; };

static char *
s_name (const char *table, const void *key, size_t key_size)
{
    char *name = (char *) zmalloc (strlen (table) + key_size + 2);
    sprintf (name, "%s:", table);
    memcpy (name + strlen (table) + 1, key, key_size);
    return name;
}

void *
store_get (store_txn_t *txn, const char *table, const void *key, size_t key_size,
           size_t *size_p)
{
    (void) txn;
    char *name = s_name (table, key, key_size);
    zchunk_t *chunk = (zchunk_t *) zhashx_lookup (s_tables, name);
    free (name);
    if (!chunk)
        return NULL;
    *size_p = zchunk_size (chunk);
    void *copy = zmalloc (*size_p + 1);
    memcpy (copy, zchunk_data (chunk), *size_p);
    return copy;
}

int
store_put (store_txn_t *txn, const char *table, const void *key, size_t key_size,
           const void *value, size_t value_size)
{
    (void) txn;
    char *name = s_name (table, key, key_size);
    zhashx_update (s_tables, name, zchunk_new (value, value_size));
    free (name);
    s_writes++;
    return 0;
}

int
store_del (store_txn_t *txn, const char *table, const void *key, size_t key_size)
{
    (void) txn;
    char *name = s_name (table, key, key_size);
    bool had = zhashx_lookup (s_tables, name) != NULL;
    zhashx_delete (s_tables, name);
    free (name);
    s_writes++;
    return had? 0: 1;
}

int
store_scan (store_txn_t *txn, const char *table, const void *prefix, size_t prefix_size,
            store_scan_fn *fn, void *arg)
{
    (void) txn;
    char *start = s_name (table, prefix, prefix_size);
    zlistx_t *keys = zhashx_keys (s_tables);
    zlistx_set_comparator (keys, (czmq_comparator *) strcmp);
    zlistx_sort (keys);
    int visited = 0;
    for (const char *name = (const char *) zlistx_first (keys); name;
         name = (const char *) zlistx_next (keys)) {
        if (strncmp (name, start, strlen (start)))
            continue;
        zchunk_t *chunk = (zchunk_t *) zhashx_lookup (s_tables, name);
        const char *key = name + strlen (table) + 1;
        visited++;
        if (fn (arg, key, strlen (key), zchunk_data (chunk), zchunk_size (chunk)))
            break;
    }
    zlistx_destroy (&keys);
    free (start);
    return visited;
}

bool
registry_name_valid (const char *name)
{
    size_t len = name? strlen (name): 0;
    if (len == 0 || len > WEFT_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(isalnum ((unsigned char) name [i]) || strchr ("._-", name [i])))
            return false;
    return true;
}

char *
registry_dump (const json_t *json)
{
    return json_dumps (json, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

int
registry_index_scan (store_txn_t *txn, const char *attr, const char *value, bool prefix,
                     registry_index_fn *fn, void *arg)
{
    (void) txn, (void) attr, (void) value, (void) prefix, (void) fn, (void) arg;
    return 0;                       //  No devices attached
}

bool
devquery_covers (const char *grant, const char *path)
{
    size_t len = strlen (grant);
    return len == 0 || (strncmp (path, grant, len) == 0 && (!path [len] || path [len] == '/'));
}

//  Used only by hierarchy_test, which the fuzzer never runs
const char **registry_tables (void) { abort (); }
store_t *store_new (const char *p, const char **t, size_t m) { (void) p, (void) t, (void) m; abort (); }
void store_destroy (store_t **s) { (void) s; abort (); }
store_txn_t *store_begin (store_t *s, bool w) { (void) s, (void) w; abort (); }
int store_commit (store_txn_t **t) { (void) t; abort (); }
void store_abort (store_txn_t **t) { (void) t; abort (); }
int registry_device_put (store_txn_t *t, json_t *d) { (void) t, (void) d; abort (); }

static void
s_chunk_free (void **item_p)
{
    zchunk_destroy ((zchunk_t **) item_p);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    json_error_t json_error;
    json_t *doc = json_loadb ((const char *) data, size, JSON_REJECT_DUPLICATES, &json_error);
    if (!doc)
        return 0;
    s_tables = zhashx_new ();
    zhashx_set_destructor (s_tables, s_chunk_free);
    //  A stored root, so files may hang nodes below it
    const char *root = "{\"level\":\"enterprise\",\"name\":\"acme\",\"path\":\"acme\"}";
    store_put (NULL, "hierarchy", "acme", 4, root, strlen (root));
    store_txn_t txn;
    const char *scopes [] = { "", "acme/plant-2" };
    for (size_t scope = 0; scope < 2; scope++) {
        char error [WEFT_TEXT_MAX + 1];
        json_t *report = NULL;
        s_writes = 0;
        int status = hierarchy_import (&txn, doc, scopes + scope, 1, &report, error);
        if (status != WEFT_STATUS_OK) {
            assert (error [0] && !report && s_writes == 0);
            continue;
        }
        assert (report);
        json_decref (report);
        //  Idempotent
        s_writes = 0;
        assert (hierarchy_import (&txn, doc, scopes + scope, 1, &report, error) == 0);
        assert (s_writes == 0);
        assert (json_array_size (json_object_get (report, "created")) == 0);
        json_decref (report);
        json_t *exported = hierarchy_export (&txn, scopes + scope, 1);
        assert (exported);
        json_decref (exported);
    }
    zhashx_destroy (&s_tables);
    json_decref (doc);
    return 0;
}
