/*  hierarchy - each tenant's tree of places and assets
    Import runs in two passes: check everything (shape, limits, paths,
    parents, scope, what a prune would remove), then write. Only a store
    failure can stop the second pass, and then the caller aborts.  */

#include "proto/corelib.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/devquery.h"
#include "coordinator/core/hierarchy.h"

static const char *s_levels [] = {
    "enterprise", "site", "area", "line", "unit", "asset", "component", NULL
};

bool
hierarchy_path_valid (const char *path)
{
    if (!path || !*path || strlen (path) > HIERARCHY_PATH_MAX)
        return false;
    char segment [WEFT_NAME_MAX + 1];
    int depth = 0;
    const char *start = path;
    while (true) {
        const char *slash = strchr (start, '/');
        size_t len = slash? (size_t) (slash - start): strlen (start);
        if (len == 0 || len > WEFT_NAME_MAX || ++depth > HIERARCHY_DEPTH_MAX)
            return false;
        memcpy (segment, start, len);
        segment [len] = 0;
        if (!registry_name_valid (segment))
            return false;
        if (!slash)
            return true;
        start = slash + 1;
    }
}

static bool
s_level_valid (const char *level)
{
    for (int i = 0; s_levels [i]; i++)
        if (streq (level, s_levels [i]))
            return true;
    return false;
}

static bool
s_name_valid (const char *name)
{
    if (strlen (name) > HIERARCHY_NAME_MAX)
        return false;
    for (const unsigned char *c = (const unsigned char *) name; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return false;
    return true;
}

json_t *
hierarchy_get (store_txn_t *txn, const char *path)
{
    if (!hierarchy_path_valid (path))
        return NULL;
    size_t size;
    char *data = (char *) store_get (txn, "hierarchy", path, strlen (path), &size);
    if (!data)
        return NULL;
    json_error_t error;
    json_t *node = json_loadb (data, size, JSON_REJECT_DUPLICATES, &error);
    free (data);
    if (!json_is_object (node)) {
        zsys_error ("hierarchy: corrupt node %s", path);
        json_decref (node);
        return NULL;
    }
    return node;
}

static bool
s_in_scopes (const char **scopes, size_t count, const char *path)
{
    for (size_t i = 0; i < count; i++)
        if (devquery_covers (scopes [i], path))
            return true;
    return false;
}

//  Parent path of path into out; false for a root
static bool
s_parent (const char *path, char *out, size_t size)
{
    const char *slash = strrchr (path, '/');
    if (!slash || (size_t) (slash - path) >= size)
        return false;
    memcpy (out, path, (size_t) (slash - path));
    out [slash - path] = 0;
    return true;
}

//  Collect stored node paths under a root
static int
s_collect_path (void *arg, const void *key, size_t key_size, const void *value,
                size_t value_size)
{
    (void) value;
    (void) value_size;
    char path [HIERARCHY_PATH_MAX + 1];
    if (key_size > HIERARCHY_PATH_MAX)
        return 0;
    memcpy (path, key, key_size);
    path [key_size] = 0;
    zlistx_add_end ((zlistx_t *) arg, strdup (path));
    return 0;
}

static int
s_count_one (void *arg, const char *id)
{
    (void) id;
    (*(size_t *) arg)++;
    return 1;                       //  One is enough
}

int
hierarchy_import (store_txn_t *txn, json_t *doc, const char **scopes,
                  size_t scope_count, json_t **report_p, char error [WEFT_TEXT_MAX + 1])
{
    assert (txn && report_p);
    *report_p = NULL;
    error [0] = 0;
    if (!json_is_object (doc))
        return proto_refusal (error, WEFT_STATUS_BAD_REQUEST, "hierarchy must be a JSON object");
    const char *key;
    json_t *value;
    json_object_foreach (doc, key, value)
        if (!streq (key, "version") && !streq (key, "nodes") && !streq (key, "prune"))
            return proto_refusal (error, WEFT_STATUS_BAD_REQUEST, "unknown field %.64s", key);
    if (json_integer_value (json_object_get (doc, "version")) != 1
    ||  !json_is_integer (json_object_get (doc, "version")))
        return proto_refusal (error, WEFT_STATUS_BAD_REQUEST, "version must be 1");
    json_t *prune_json = json_object_get (doc, "prune");
    if (prune_json && !json_is_boolean (prune_json))
        return proto_refusal (error, WEFT_STATUS_BAD_REQUEST, "prune must be true or false");
    bool prune = json_is_true (prune_json);
    json_t *nodes = json_object_get (doc, "nodes");
    if (!json_is_array (nodes))
        return proto_refusal (error, WEFT_STATUS_BAD_REQUEST, "nodes must be an array");
    if (json_array_size (nodes) > HIERARCHY_NODES_MAX)
        return proto_refusal (error, WEFT_STATUS_BAD_REQUEST, "more than %d nodes",
                       HIERARCHY_NODES_MAX);

    //  Pass 1: every node on its own, then parents and scope
    zhashx_t *listed = zhashx_new ();       //  path -> node (borrowed)
    int status = WEFT_STATUS_OK;
    size_t index;
    json_t *node;
    json_array_foreach (nodes, index, node) {
        if (!json_is_object (node)) {
            status = proto_refusal (error, WEFT_STATUS_BAD_REQUEST, "node %zu is not an object",
                             index + 1);
            goto done;
        }
        json_object_foreach (node, key, value)
            if (!streq (key, "path") && !streq (key, "level") && !streq (key, "name")) {
                status = proto_refusal (error, WEFT_STATUS_BAD_REQUEST,
                                 "node %zu: unknown field %.64s", index + 1, key);
                goto done;
            }
        const char *path = json_string_value (json_object_get (node, "path"));
        const char *level = json_string_value (json_object_get (node, "level"));
        json_t *name = json_object_get (node, "name");
        if (!hierarchy_path_valid (path)) {
            status = proto_refusal (error, WEFT_STATUS_BAD_REQUEST,
                             "node %zu: path must be 1-%d segments of A-Z a-z 0-9 . _ - "
                             "joined by /, at most %d bytes", index + 1,
                             HIERARCHY_DEPTH_MAX, HIERARCHY_PATH_MAX);
            goto done;
        }
        if (!level || !s_level_valid (level)) {
            status = proto_refusal (error, WEFT_STATUS_BAD_REQUEST,
                             "node %zu (%s): level must be enterprise, site, area, line, "
                             "unit, asset or component", index + 1, path);
            goto done;
        }
        bool root = strchr (path, '/') == NULL;
        if (root != streq (level, "enterprise")) {
            status = proto_refusal (error, WEFT_STATUS_BAD_REQUEST,
                             "node %zu (%s): the enterprise is exactly the first segment",
                             index + 1, path);
            goto done;
        }
        if (name && (!json_is_string (name) || !s_name_valid (json_string_value (name)))) {
            status = proto_refusal (error, WEFT_STATUS_BAD_REQUEST,
                             "node %zu (%s): name must be text of at most %d bytes "
                             "without control characters", index + 1, path,
                             HIERARCHY_NAME_MAX);
            goto done;
        }
        if (!s_in_scopes (scopes, scope_count, path)) {
            status = proto_refusal (error, WEFT_STATUS_FORBIDDEN,
                             "node %zu (%s) is outside your scope", index + 1, path);
            goto done;
        }
        if (zhashx_lookup (listed, path)) {
            status = proto_refusal (error, WEFT_STATUS_BAD_REQUEST, "node %zu: %s is listed twice",
                             index + 1, path);
            goto done;
        }
        zhashx_insert (listed, path, node);
    }
    json_array_foreach (nodes, index, node) {
        const char *path = json_string_value (json_object_get (node, "path"));
        char parent [HIERARCHY_PATH_MAX + 1];
        if (!s_parent (path, parent, sizeof parent) || zhashx_lookup (listed, parent))
            continue;
        json_t *stored = hierarchy_get (txn, parent);
        json_decref (stored);
        if (!stored) {
            status = proto_refusal (error, WEFT_STATUS_BAD_REQUEST,
                             "node %zu (%s): parent %s is neither in the file nor in the "
                             "hierarchy", index + 1, path, parent);
            goto done;
        }
    }
    //  What a prune removes: stored nodes under the file's roots, in
    //  scope, not listed; none may hold a device
    zlistx_t *removed = zlistx_new ();
    zlistx_set_destructor (removed, (czmq_destructor *) zstr_free);
    if (prune) {
        zlistx_t *stored = zlistx_new ();
        zlistx_set_destructor (stored, (czmq_destructor *) zstr_free);
        json_array_foreach (nodes, index, node) {
            const char *path = json_string_value (json_object_get (node, "path"));
            if (strchr (path, '/'))
                continue;
            char below [HIERARCHY_PATH_MAX + 2];
            snprintf (below, sizeof below, "%s/", path);
            if (store_scan (txn, "hierarchy", below, strlen (below), s_collect_path,
                            stored) < 0)
                status = proto_refusal (error, WEFT_STATUS_INTERNAL, "cannot read the hierarchy");
        }
        for (char *path = (char *) zlistx_first (stored); path && status == 0;
             path = (char *) zlistx_next (stored)) {
            if (zhashx_lookup (listed, path) || !s_in_scopes (scopes, scope_count, path))
                continue;
            size_t holders = 0;
            registry_index_scan (txn, "path", path, false, s_count_one, &holders);
            registry_index_scan (txn, "asset", path, false, s_count_one, &holders);
            if (holders)
                status = proto_refusal (error, WEFT_STATUS_CONFLICT,
                                 "cannot remove %s: devices are attached to it", path);
            else
                zlistx_add_end (removed, strdup (path));
        }
        zlistx_destroy (&stored);
    }
    if (status) {
        zlistx_destroy (&removed);
        goto done;
    }

    //  Pass 2: write
    json_t *created = json_array ();
    json_t *updated = json_array ();
    json_t *gone = json_array ();
    size_t unchanged = 0;
    json_array_foreach (nodes, index, node) {
        const char *path = json_string_value (json_object_get (node, "path"));
        const char *level = json_string_value (json_object_get (node, "level"));
        const char *name = json_string_value (json_object_get (node, "name"));
        const char *last = strrchr (path, '/');
        if (!name)
            name = last? last + 1: path;
        json_t *record = json_pack ("{s:s, s:s, s:s}", "path", path, "level", level,
                                    "name", name);
        json_t *stored = hierarchy_get (txn, path);
        if (stored && json_equal (stored, record))
            unchanged++;
        else {
            char *text = registry_dump (record);
            if (!text || store_put (txn, "hierarchy", path, strlen (path), text,
                                    strlen (text)))
                status = proto_refusal (error, WEFT_STATUS_INTERNAL, "store write failed");
            free (text);
            json_array_append_new (stored? updated: created, json_string (path));
        }
        json_decref (stored);
        json_decref (record);
        if (status)
            break;
    }
    for (char *path = (char *) zlistx_first (removed); path && status == 0;
         path = (char *) zlistx_next (removed)) {
        if (store_del (txn, "hierarchy", path, strlen (path)) < 0)
            status = proto_refusal (error, WEFT_STATUS_INTERNAL, "store write failed");
        json_array_append_new (gone, json_string (path));
    }
    zlistx_destroy (&removed);
    if (status) {
        json_decref (created);
        json_decref (updated);
        json_decref (gone);
    }
    else
        *report_p = json_pack ("{s:o, s:o, s:o, s:I}", "created", created,
                               "updated", updated, "removed", gone,
                               "unchanged", (json_int_t) unchanged);
done:
    zhashx_destroy (&listed);
    return status;
}

typedef struct {
    const char **scopes;
    size_t scope_count;
    json_t *nodes;
} s_export_t;

static int
s_export_one (void *arg, const void *key, size_t key_size, const void *value,
              size_t value_size)
{
    s_export_t *self = (s_export_t *) arg;
    char path [HIERARCHY_PATH_MAX + 1];
    if (key_size > HIERARCHY_PATH_MAX)
        return 0;
    memcpy (path, key, key_size);
    path [key_size] = 0;
    if (!s_in_scopes (self->scopes, self->scope_count, path))
        return 0;
    json_error_t error;
    json_t *node = json_loadb ((const char *) value, value_size, 0, &error);
    if (json_is_object (node))
        json_array_append (self->nodes, node);
    json_decref (node);
    return 0;
}

json_t *
hierarchy_export (store_txn_t *txn, const char **scopes, size_t scope_count)
{
    s_export_t export = { scopes, scope_count, json_array () };
    if (store_scan (txn, "hierarchy", "", 0, s_export_one, &export) < 0) {
        json_decref (export.nodes);
        return NULL;
    }
    return json_pack ("{s:i, s:o}", "version", 1, "nodes", export.nodes);
}

void
hierarchy_alert_text (store_txn_t *txn, json_t *device, const char *subject,
                      const char *reading, char *out, size_t size)
{
    const char *asset = json_string_value (json_object_get (device, "asset"));
    if (!asset || !*asset)
        asset = json_string_value (json_object_get (device, "path"));
    const char *id = json_string_value (json_object_get (device, "id"));
    json_t *node = asset && *asset? hierarchy_get (txn, asset): NULL;
    const char *name = json_string_value (json_object_get (node, "name"));
    if (!name)
        name = id? id: "?";
    //  The place: the asset's parent without the tenant
    char place [HIERARCHY_PATH_MAX + 1] = "";
    if (asset && s_parent (asset, place, sizeof place)) {
        const char *slash = strchr (place, '/');
        memmove (place, slash? slash + 1: place + strlen (place),
                 strlen (slash? slash + 1: place + strlen (place)) + 1);
    }
    if (*place)
        snprintf (out, size, "%s on %s (%s): %s", subject, name, place, reading);
    else
        snprintf (out, size, "%s on %s: %s", subject, name, reading);
    json_decref (node);
}

//  --------------------------------------------------------------------------
//  Selftest

static int
s_import (store_t *store, const char *text, const char **scopes, size_t count,
          json_t **report_p, char *error)
{
    json_error_t json_error;
    json_t *doc = json_loads (text, 0, &json_error);
    assert (doc);
    store_txn_t *txn = store_begin (store, true);
    int status = hierarchy_import (txn, doc, scopes, count, report_p, error);
    if (status == WEFT_STATUS_OK)
        assert (store_commit (&txn) == 0);
    else
        store_abort (&txn);
    json_decref (doc);
    return status;
}

void
hierarchy_test (bool verbose)
{
    printf (" * hierarchy: ");
    //  @selftest
    assert (hierarchy_path_valid ("acme"));
    assert (hierarchy_path_valid ("acme/plant-2/line-7/pump-a"));
    assert (!hierarchy_path_valid ("acme//x"));
    assert (!hierarchy_path_valid ("/acme"));
    assert (!hierarchy_path_valid ("acme/"));
    assert (!hierarchy_path_valid ("acme/a b"));
    assert (!hierarchy_path_valid ("a/b/c/d/e/f/g/h/i"));

    char path [] = "/tmp/weft-hierarchy-test-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    const char *all [] = { "" };
    const char *plant2 [] = { "acme/plant-2" };
    char error [WEFT_TEXT_MAX + 1];
    json_t *report;
    const char *doc =
        "{\"version\":1,\"nodes\":["
        "{\"path\":\"acme\",\"level\":\"enterprise\",\"name\":\"ACME Corp\"},"
        "{\"path\":\"acme/plant-2\",\"level\":\"site\",\"name\":\"Plant 2\"},"
        "{\"path\":\"acme/plant-2/line-7\",\"level\":\"line\"},"
        "{\"path\":\"acme/plant-2/line-7/pump-a\",\"level\":\"asset\",\"name\":\"Pump A\"}]}";
    assert (s_import (store, doc, all, 1, &report, error) == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (report, "created")) == 4);
    json_decref (report);
    //  Idempotent
    assert (s_import (store, doc, all, 1, &report, error) == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (report, "created")) == 0);
    assert (json_integer_value (json_object_get (report, "unchanged")) == 4);
    json_decref (report);
    //  A change is reported
    assert (s_import (store, "{\"version\":1,\"nodes\":[{\"path\":\"acme/plant-2\","
                      "\"level\":\"site\",\"name\":\"Plant Two\"}]}", all, 1, &report,
                      error) == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (report, "updated")) == 1);
    json_decref (report);
    //  Malformed files change nothing, and say why
    const char *bad [] = {
        "{\"version\":2,\"nodes\":[]}",
        "{\"version\":1,\"nodes\":{}}",
        "{\"version\":1,\"nodes\":[{\"path\":\"acme/new\",\"level\":\"site\"},"
            "{\"path\":\"acme/x y\",\"level\":\"site\"}]}",
        "{\"version\":1,\"nodes\":[{\"path\":\"acme/new\",\"level\":\"site\"},"
            "{\"path\":\"acme/b/c\",\"level\":\"line\"}]}",
        "{\"version\":1,\"nodes\":[{\"path\":\"acme/new\",\"level\":\"moon\"}]}",
        "{\"version\":1,\"nodes\":[{\"path\":\"acme/new\",\"level\":\"enterprise\"}]}",
        "{\"version\":1,\"nodes\":[{\"path\":\"acme/new\",\"level\":\"site\"},"
            "{\"path\":\"acme/new\",\"level\":\"site\"}]}",
        "{\"version\":1,\"nodes\":[{\"path\":\"acme/new\",\"level\":\"site\",\"x\":1}]}",
        "{\"version\":1,\"tenant\":\"globex\",\"nodes\":[]}",
        NULL
    };
    for (int i = 0; bad [i]; i++) {
        assert (s_import (store, bad [i], all, 1, &report, error) == WEFT_STATUS_BAD_REQUEST);
        if (verbose)
            printf ("\n   refused: %s", error);
    }
    store_txn_t *txn = store_begin (store, false);
    json_t *node = hierarchy_get (txn, "acme/new");
    assert (node == NULL);
    store_abort (&txn);
    //  Scope: a plant admin imports only below the plant
    assert (s_import (store, "{\"version\":1,\"nodes\":[{\"path\":\"acme/plant-3\","
                      "\"level\":\"site\"}]}", plant2, 1, &report, error)
            == WEFT_STATUS_FORBIDDEN);
    assert (s_import (store, "{\"version\":1,\"nodes\":[{\"path\":\"acme/plant-2/line-8\","
                      "\"level\":\"line\"}]}", plant2, 1, &report, error) == WEFT_STATUS_OK);
    json_decref (report);
    //  Export within scope
    txn = store_begin (store, false);
    json_t *exported = hierarchy_export (txn, plant2, 1);
    assert (json_array_size (json_object_get (exported, "nodes")) == 4);
    json_decref (exported);
    //  Alerts name the asset and the place
    json_t *device = json_pack ("{s:s, s:s, s:s}", "id", "gw-1",
                                "path", "acme/plant-2/line-7",
                                "asset", "acme/plant-2/line-7/pump-a");
    char text [256];
    hierarchy_alert_text (txn, device, "Primary bearing", "150 \u00b0C", text, sizeof text);
    assert (streq (text, "Primary bearing on Pump A (plant-2/line-7): 150 \u00b0C"));
    json_object_del (device, "asset");
    hierarchy_alert_text (txn, device, "Temperature", "80 \u00b0C", text, sizeof text);
    assert (streq (text, "Temperature on line-7 (plant-2): 80 \u00b0C"));
    json_decref (device);
    store_abort (&txn);
    //  Prune removes what the file no longer lists, refused while a
    //  device is attached
    txn = store_begin (store, true);
    device = json_pack ("{s:s, s:s, s:s, s:s}", "id", "gw-1", "tenant", "acme",
                        "path", "acme/plant-2/line-8", "curve_key",
                        "0101010101010101010101010101010101010101010101010101010101010101");
    assert (registry_device_put (txn, device) == 0);
    assert (store_commit (&txn) == 0);
    const char *pruned = "{\"version\":1,\"prune\":true,\"nodes\":["
        "{\"path\":\"acme\",\"level\":\"enterprise\",\"name\":\"ACME Corp\"},"
        "{\"path\":\"acme/plant-2\",\"level\":\"site\",\"name\":\"Plant Two\"}]}";
    assert (s_import (store, pruned, all, 1, &report, error) == WEFT_STATUS_CONFLICT);
    assert (streq (error, "cannot remove acme/plant-2/line-8: devices are attached to it"));
    json_object_set_new (device, "path", json_string ("acme/plant-2"));
    txn = store_begin (store, true);
    assert (registry_device_put (txn, device) == 0);
    assert (store_commit (&txn) == 0);
    json_decref (device);
    assert (s_import (store, pruned, all, 1, &report, error) == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (report, "removed")) == 3);
    json_decref (report);

    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
