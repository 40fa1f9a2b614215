/*  hierupload - a hierarchy import larger than one RPC, in parts
    Every put first removes the owner's expired parts and adds up what
    it still stages, so the table is bounded without a timer: an owner
    never holds more than HIERUPLOAD_BYTES_MAX, whatever it sends.  */

#include "proto/corelib.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/hierupload.h"

#define S_TABLE     "uploads"
#define S_KEY_MAX   (WEFT_NAME_MAX + HIERUPLOAD_ID_MAX + 4)

static size_t
s_prefix (const char *owner, const char *id, uint8_t *key)
{
    size_t size = strlen (owner) + 1;
    memcpy (key, owner, size);
    if (id) {
        size_t id_size = strlen (id) + 1;
        memcpy (key + size, id, id_size);
        size += id_size;
    }
    return size;
}

static bool
s_id_valid (const char *id)
{
    size_t size = id? strlen (id): 0;
    if (size < 8 || size > HIERUPLOAD_ID_MAX)
        return false;
    for (size_t i = 0; i < size; i++)
        if (!((id [i] >= '0' && id [i] <= '9') || (id [i] >= 'a' && id [i] <= 'f')))
            return false;
    return true;
}

//  The owner's staged parts: expired ones collected for removal, the
//  rest counted
typedef struct {
    uint64_t now_ms;
    zlistx_t *expired;              //  Keys (zchunk_t *) to delete
    size_t bytes;                   //  Staged and live
} s_owner_t;

static int
s_owner_one (void *arg, const void *key, size_t key_size, const void *value, size_t value_size)
{
    s_owner_t *self = (s_owner_t *) arg;
    json_error_t error;
    json_t *part = json_loadb ((const char *) value, value_size, 0, &error);
    json_int_t expires = json_integer_value (json_object_get (part, "expires"));
    json_decref (part);
    if ((uint64_t) expires < self->now_ms)
        zlistx_add_end (self->expired, zchunk_new (key, key_size));
    else
        self->bytes += value_size;
    return 0;
}

static void
s_chunk_free (void **item_p)
{
    zchunk_destroy ((zchunk_t **) item_p);
}

//  The parts of one upload, in order, up to the first gap
typedef struct {
    int parts;                      //  As this call says
    int count;                      //  Parts 1..count found
    int other;                      //  A part that says another count, or 0
    json_t *first;                  //  Part 1
    json_t *nodes;                  //  Their nodes, in part order
} s_upload_t;

static int
s_upload_one (void *arg, const void *key, size_t key_size, const void *value,
              size_t value_size)
{
    s_upload_t *self = (s_upload_t *) arg;
    json_error_t error;
    json_t *part = json_loadb ((const char *) value, value_size, 0, &error);
    const uint8_t *tail = (const uint8_t *) key + key_size - 2;
    int number = tail [0] << 8 | tail [1];
    int parts = (int) json_integer_value (json_object_get (part, "parts"));
    int rc = 1;
    if (parts != self->parts)
        self->other = parts;
    else
    if (number == self->count + 1) {
        self->count++;
        json_array_extend (self->nodes, json_object_get (part, "nodes"));
        if (number == 1)
            self->first = json_incref (part);
        rc = 0;
    }
    json_decref (part);
    return rc;
}

int
hierupload_put (store_txn_t *txn, const char *owner, const char *id, int part,
                int parts, json_t *doc, uint64_t now_ms, json_t **doc_p,
                size_t *received_p, char error [WEFT_TEXT_MAX + 1])
{
    assert (txn && owner && doc && doc_p && received_p);
    *doc_p = NULL;
    *received_p = 0;
    if (!registry_name_valid (owner))
        return WEFT_STATUS_INTERNAL;
    if (!s_id_valid (id)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "upload id must be 8 to %d of 0-9 a-f",
                  HIERUPLOAD_ID_MAX);
        return WEFT_STATUS_BAD_REQUEST;
    }
    if (parts < 1 || parts > HIERUPLOAD_PARTS_MAX || part < 1 || part > parts) {
        snprintf (error, WEFT_TEXT_MAX + 1, "upload part must be 1..parts, parts 1..%d",
                  HIERUPLOAD_PARTS_MAX);
        return WEFT_STATUS_BAD_REQUEST;
    }
    json_t *nodes = json_object_get (doc, "nodes");
    if (!json_is_object (doc) || !json_is_array (nodes)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "each part is a document with a nodes array");
        return WEFT_STATUS_BAD_REQUEST;
    }
    //  Forget expired parts; refuse past the owner's staging budget
    uint8_t key [S_KEY_MAX];
    size_t prefix_size = s_prefix (owner, NULL, key);
    s_owner_t staged = { now_ms, zlistx_new (), 0 };
    zlistx_set_destructor (staged.expired, s_chunk_free);
    int rc = store_scan (txn, S_TABLE, key, prefix_size, s_owner_one, &staged) < 0? -1: 0;
    for (zchunk_t *gone = (zchunk_t *) zlistx_first (staged.expired); gone && rc == 0;
         gone = (zchunk_t *) zlistx_next (staged.expired))
        rc = store_del (txn, S_TABLE, zchunk_data (gone), zchunk_size (gone)) < 0? -1: 0;
    zlistx_destroy (&staged.expired);
    json_t *record = json_pack ("{s:I, s:i, s:O, s:O, s:O}", "expires",
        (json_int_t) (now_ms + HIERUPLOAD_TTL_MS), "parts", parts,
        "version", json_object_get (doc, "version")?: json_null (),
        "prune", json_object_get (doc, "prune")?: json_false (), "nodes", nodes);
    char *text = registry_dump (record);
    json_decref (record);
    if (rc || !text) {
        free (text);
        snprintf (error, WEFT_TEXT_MAX + 1, "store failure");
        return WEFT_STATUS_INTERNAL;
    }
    if (staged.bytes + strlen (text) > HIERUPLOAD_BYTES_MAX) {
        free (text);
        snprintf (error, WEFT_TEXT_MAX + 1, "an upload stages at most %d bytes per operator",
                  HIERUPLOAD_BYTES_MAX);
        return WEFT_STATUS_BAD_REQUEST;
    }
    prefix_size = s_prefix (owner, id, key);
    key [prefix_size] = (uint8_t) (part >> 8);
    key [prefix_size + 1] = (uint8_t) part;
    rc = store_put (txn, S_TABLE, key, prefix_size + 2, text, strlen (text));
    free (text);
    if (rc) {
        snprintf (error, WEFT_TEXT_MAX + 1, "store failure");
        return WEFT_STATUS_INTERNAL;
    }
    //  All there? Then the whole document
    s_upload_t upload = { parts, 0, 0, NULL, json_array () };
    int status = WEFT_STATUS_OK;
    if (store_scan (txn, S_TABLE, key, prefix_size, s_upload_one, &upload) < 0) {
        snprintf (error, WEFT_TEXT_MAX + 1, "store failure");
        status = WEFT_STATUS_INTERNAL;
    }
    else
    if (upload.other) {
        snprintf (error, WEFT_TEXT_MAX + 1, "upload %s has %d parts, not %d", id,
                  upload.other, parts);
        status = WEFT_STATUS_BAD_REQUEST;
    }
    else
    if (upload.count == parts)
        *doc_p = json_pack ("{s:O, s:O, s:O}",
                            "version", json_object_get (upload.first, "version"),
                            "prune", json_object_get (upload.first, "prune"),
                            "nodes", upload.nodes);
    *received_p = (size_t) upload.count;
    json_decref (upload.first);
    json_decref (upload.nodes);
    return status;
}

static int
s_key_one (void *arg, const void *key, size_t key_size, const void *value, size_t value_size)
{
    (void) value;
    (void) value_size;
    zlistx_add_end ((zlistx_t *) arg, zchunk_new (key, key_size));
    return 0;
}

int
hierupload_drop (store_txn_t *txn, const char *owner, const char *id)
{
    assert (txn && owner && id);
    uint8_t key [S_KEY_MAX];
    if (!registry_name_valid (owner) || !s_id_valid (id))
        return -1;
    size_t prefix_size = s_prefix (owner, id, key);
    zlistx_t *keys = zlistx_new ();
    zlistx_set_destructor (keys, s_chunk_free);
    int rc = store_scan (txn, S_TABLE, key, prefix_size, s_key_one, keys) < 0? -1: 0;
    for (zchunk_t *item = (zchunk_t *) zlistx_first (keys); item && rc == 0;
         item = (zchunk_t *) zlistx_next (keys))
        rc = store_del (txn, S_TABLE, zchunk_data (item), zchunk_size (item)) < 0? -1: 0;
    zlistx_destroy (&keys);
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest

static json_t *
s_part (int from, int count)
{
    json_t *nodes = json_array ();
    for (int i = from; i < from + count; i++) {
        char path [32];
        snprintf (path, sizeof path, "acme/site-%d", i);
        json_array_append_new (nodes, json_pack ("{s:s, s:s}", "path", path, "level", "site"));
    }
    return json_pack ("{s:i, s:b, s:o}", "version", 1, "prune", 0, "nodes", nodes);
}

void
hierupload_test (bool verbose)
{
    printf (" * hierupload: ");
    (void) verbose;
    //  @selftest
    char dir [] = "/tmp/weft-hierupload-test-XXXXXX";
    assert (mkdtemp (dir));
    store_t *store = store_new (dir, registry_tables (), 0);
    assert (store);
    store_txn_t *txn = store_begin (store, true);
    char error [WEFT_TEXT_MAX + 1];
    json_t *doc, *part;
    size_t received;
    const uint64_t now = 1767225600000ULL;

    //  Three parts, out of order and one sent twice: the whole document
    //  only once all are there, nodes in part order
    part = s_part (20, 5);
    assert (hierupload_put (txn, "olga", "0123abcd", 3, 3, part, now, &doc, &received, error) == 0);
    assert (doc == NULL && received == 0);
    json_decref (part);
    part = s_part (0, 10);
    assert (hierupload_put (txn, "olga", "0123abcd", 1, 3, part, now, &doc, &received, error) == 0);
    assert (hierupload_put (txn, "olga", "0123abcd", 1, 3, part, now, &doc, &received, error) == 0);
    assert (doc == NULL && received == 1);
    json_decref (part);
    //  Another operator's upload with the same id is its own
    part = s_part (100, 1);
    assert (hierupload_put (txn, "pete", "0123abcd", 1, 2, part, now, &doc, &received, error) == 0);
    assert (doc == NULL && received == 1);
    json_decref (part);
    part = s_part (10, 10);
    assert (hierupload_put (txn, "olga", "0123abcd", 2, 3, part, now, &doc, &received, error) == 0);
    json_decref (part);
    assert (doc && received == 3);
    json_t *nodes = json_object_get (doc, "nodes");
    assert (json_array_size (nodes) == 25);
    assert (streq (json_string_value (json_object_get (json_array_get (nodes, 24), "path")),
                   "acme/site-24"));
    assert (json_integer_value (json_object_get (doc, "version")) == 1);
    json_decref (doc);
    assert (hierupload_drop (txn, "olga", "0123abcd") == 0);
    assert (store_count (txn, "uploads") == 1);             //  pete's

    //  Bad ids, part numbers, shapes; a part count that disagrees
    part = s_part (0, 1);
    assert (hierupload_put (txn, "olga", "XYZ", 1, 1, part, now, &doc, &received, error)
            == WEFT_STATUS_BAD_REQUEST);
    assert (hierupload_put (txn, "olga", "0123abcd", 0, 1, part, now, &doc, &received, error)
            == WEFT_STATUS_BAD_REQUEST);
    assert (hierupload_put (txn, "olga", "0123abcd", 2, 1, part, now, &doc, &received, error)
            == WEFT_STATUS_BAD_REQUEST);
    assert (hierupload_put (txn, "olga", "0123abcd", 1, HIERUPLOAD_PARTS_MAX + 1, part, now,
                            &doc, &received, error) == WEFT_STATUS_BAD_REQUEST);
    assert (hierupload_put (txn, "pete", "0123abcd", 2, 3, part, now, &doc, &received, error)
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (error, "upload 0123abcd has 2 parts, not 3"));
    json_t *shapeless = json_pack ("{s:i}", "version", 1);
    assert (hierupload_put (txn, "olga", "0123abcd", 1, 1, shapeless, now, &doc, &received, error)
            == WEFT_STATUS_BAD_REQUEST);
    json_decref (shapeless);
    json_decref (part);

    //  Expired parts are forgotten at the next put
    part = s_part (0, 1);
    assert (hierupload_put (txn, "pete", "feedbeef", 1, 2, part, now, &doc, &received, error) == 0);
    json_decref (part);
    part = s_part (1, 1);
    assert (hierupload_put (txn, "pete", "feedbeef", 2, 2, part, now + HIERUPLOAD_TTL_MS + 1,
                            &doc, &received, error) == 0);
    assert (doc == NULL && received == 0);
    json_decref (part);

    //  The staging budget per operator
    part = s_part (0, 2000);
    int status = WEFT_STATUS_OK;
    int sent = 0;
    while (status == WEFT_STATUS_OK && sent < 100)
        status = hierupload_put (txn, "lea", "abcdef01", ++sent, 100, part, now, &doc,
                                 &received, error);
    assert (status == WEFT_STATUS_BAD_REQUEST && sent < 100);
    assert (strstr (error, "stages at most"));
    json_decref (part);
    store_abort (&txn);
    store_destroy (&store);
    zdir_t *tmp = zdir_new (dir, NULL);
    zdir_remove (tmp, true);
    zdir_destroy (&tmp);
    //  @end
    printf ("OK\n");
}
