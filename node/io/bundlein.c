/*  bundlein - a bundle uploaded through the operator port and imported
    (see bundlein.h)  */

#include "proto/corelib.h"
#include <sodium.h>
#include <sys/statvfs.h>
#include "proto/keys.h"
#include "node/io/import.h"
#include "node/io/bundlein.h"

#define S_DISK_MARGIN   (64ULL << 20)   //  Left free on the disk after an upload

struct _bundlein_t {
    node_t *node;                   //  NULL: uploads only (the selftest)
    store_t *store;
    char *dir;                      //  DATA-DIR/uploads
    char *name;
    uint8_t coord_key [32];
    uint64_t size_max;
    //  The upload: its id ("" none), file, size and bytes held so far
    char id [BUNDLEIN_ID_SIZE + 1];
    char path [PATH_MAX];
    FILE *file;
    uint64_t size;
    uint64_t received;
    crypto_generichash_state hash;  //  Of the bytes held
    import_t *job;                  //  Its import, once asked
};

bundlein_t *
bundlein_new (node_t *node, store_t *store, const char *data_dir, const char *name,
              const uint8_t coord_key [32], uint64_t size_max)
{
    assert (data_dir && name && coord_key);
    bundlein_t *self = (bundlein_t *) zmalloc (sizeof (bundlein_t));
    self->node = node;
    self->store = store;
    self->dir = zsys_sprintf ("%s/uploads", data_dir);
    self->name = strdup (name);
    memcpy (self->coord_key, coord_key, 32);
    self->size_max = size_max? size_max: BUNDLEIN_SIZE_MAX;
    return self;
}

//  Drop the upload: its file and its job
static void
s_drop (bundlein_t *self)
{
    if (self->file)
        fclose (self->file);
    self->file = NULL;
    if (*self->path)
        unlink (self->path);
    *self->path = 0;
    *self->id = 0;
    import_destroy (&self->job);
}

void
bundlein_destroy (bundlein_t **self_p)
{
    assert (self_p);
    bundlein_t *self = *self_p;
    if (self) {
        s_drop (self);
        free (self->dir);
        free (self->name);
        free (self);
        *self_p = NULL;
    }
}

//  The state of the upload as JSON text
static char *
s_state (bundlein_t *self)
{
    const char *state = "receiving", *text = "";
    uint64_t done = self->received, size = self->size;
    if (self->job) {
        int at = import_state (self->job);
        state = at == IMPORT_CHECKING? "checking": at == IMPORT_STORING? "storing"
              : at == IMPORT_DONE? "done": "failed";
        text = import_text (self->job);
        import_progress (self->job, &done, &size);
    }
    json_t *json = json_pack ("{s:s, s:s, s:s, s:I, s:I}", "upload", self->id, "state", state,
                              "text", text, "done", (json_int_t) done, "size",
                              (json_int_t) size);
    char *result = json_dumps (json, JSON_COMPACT);
    json_decref (json);
    return result;
}

//  Is text an upload id (hex digits)?
static bool
s_is_id (const char *text)
{
    if (!text || strlen (text) != BUNDLEIN_ID_SIZE)
        return false;
    for (const char *c = text; *c; c++)
        if (!strchr ("0123456789abcdef", *c))
            return false;
    return true;
}

static bool
s_running (bundlein_t *self)
{
    return self->job && (import_state (self->job) == IMPORT_CHECKING
                      || import_state (self->job) == IMPORT_STORING);
}

//  A new upload of size bytes under id
static int
s_begin (bundlein_t *self, const char *id, uint64_t size, char reason [WEFT_TEXT_MAX + 1])
{
    if (size == 0 || size > self->size_max)
        return proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "a bundle of %" PRIu64 " bytes: "
                              "this node takes 1 to %" PRIu64, size, self->size_max);
    if (s_running (self))
        return proto_refusal (reason, WEFT_STATUS_CONFLICT, "the import of upload %s is under way",
                              self->id);
    s_drop (self);
    if (mkdir (self->dir, 0700) && errno != EEXIST)
        return proto_refusal (reason, WEFT_STATUS_INTERNAL, "cannot make %s: %s", self->dir,
                              strerror (errno));
    struct statvfs disk;
    if (statvfs (self->dir, &disk) == 0
    &&  (uint64_t) disk.f_bavail * disk.f_frsize < size + S_DISK_MARGIN)
        return proto_refusal (reason, WEFT_STATUS_INTERNAL, "not enough disk: %" PRIu64 " MiB "
                              "free, a bundle of %" PRIu64 " MiB needs %" PRIu64 " MiB more",
                              (uint64_t) disk.f_bavail * disk.f_frsize >> 20, size >> 20,
                              (uint64_t) (S_DISK_MARGIN >> 20));
    snprintf (self->path, sizeof self->path, "%s/%s.wbd", self->dir, id);
    int fd = open (self->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    self->file = fd >= 0? fdopen (fd, "wb"): NULL;
    if (!self->file) {
        if (fd >= 0)
            close (fd);
        int error = errno;
        *self->path = 0;
        return proto_refusal (reason, WEFT_STATUS_INTERNAL, "cannot write %s/%s.wbd: %s",
                              self->dir, id, strerror (error));
    }
    snprintf (self->id, sizeof self->id, "%s", id);
    self->size = size;
    self->received = 0;
    crypto_generichash_init (&self->hash, NULL, 0, 32);
    return WEFT_STATUS_OK;
}

static int
s_put (bundlein_t *self, json_t *args, char **result_p, char reason [WEFT_TEXT_MAX + 1])
{
    const char *id = json_string_value (json_object_get (args, "upload"));
    json_t *offset_json = json_object_get (args, "offset");
    json_t *size_json = json_object_get (args, "size");
    const char *hex = json_string_value (json_object_get (args, "data"));
    if (!s_is_id (id) || !json_is_integer (offset_json) || !json_is_integer (size_json)
    ||  json_integer_value (offset_json) < 0 || json_integer_value (size_json) < 0 || !hex
    ||  json_object_size (args) != 4)
        return proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "node.bundle.put takes {upload: "
                              "%d hex digits, offset, size, data: hex}", BUNDLEIN_ID_SIZE);
    size_t hex_size = strlen (hex);
    if (hex_size == 0 || hex_size % 2 || hex_size > 2 * BUNDLEIN_PART_MAX)
        return proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "a part carries 1 to %d bytes as hex",
                              BUNDLEIN_PART_MAX);
    uint64_t offset = (uint64_t) json_integer_value (offset_json);
    uint64_t size = (uint64_t) json_integer_value (size_json);
    if (offset == 0 && !(streq (id, self->id) && self->received > 0 && !self->job)) {
        int status = s_begin (self, id, size, reason);
        if (status)
            return status;
    }
    if (!streq (id, self->id))
        return proto_refusal (reason, WEFT_STATUS_NOT_FOUND, "no upload %s here (it starts at "
                              "offset 0)", id);
    if (self->job)
        return proto_refusal (reason, WEFT_STATUS_CONFLICT, "upload %s is being imported", id);
    if (size != self->size)
        return proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "upload %s is of %" PRIu64 " bytes",
                              id, self->size);
    if (offset > self->received)
        return proto_refusal (reason, WEFT_STATUS_CONFLICT, "upload %s holds %" PRIu64 " bytes: "
                              "the next part starts there", id, self->received);
    uint8_t data [BUNDLEIN_PART_MAX];
    size_t data_size = hex_size / 2;
    if (keys_unhex (hex, data, data_size))
        return proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "data is not hex");
    if (offset + data_size > self->size)
        return proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "a part past the upload's %" PRIu64
                              " bytes", self->size);
    if (offset == self->received) {
        //  Else a part sent again whose answer was lost: what is held
        if (fwrite (data, 1, data_size, self->file) != data_size || fflush (self->file)) {
            int error = errno;
            char id_was [BUNDLEIN_ID_SIZE + 1];
            snprintf (id_was, sizeof id_was, "%s", self->id);
            s_drop (self);
            return proto_refusal (reason, WEFT_STATUS_INTERNAL, "upload %s dropped: cannot write "
                                  "it: %s", id_was, strerror (error));
        }
        crypto_generichash_update (&self->hash, data, data_size);
        self->received += data_size;
    }
    json_t *json = json_pack ("{s:s, s:I}", "upload", id, "received",
                              (json_int_t) self->received);
    *result_p = json_dumps (json, JSON_COMPACT);
    json_decref (json);
    return WEFT_STATUS_OK;
}

static int
s_import (bundlein_t *self, json_t *args, uint64_t now_ms, char **result_p,
          char reason [WEFT_TEXT_MAX + 1])
{
    const char *id = json_string_value (json_object_get (args, "upload"));
    const char *hash = json_string_value (json_object_get (args, "hash"));
    uint8_t want [32];
    if (!s_is_id (id) || !hash || strlen (hash) != 64 || keys_unhex (hash, want, 32)
    ||  json_object_size (args) != 2)
        return proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "node.bundle.import takes {upload, "
                              "hash: BLAKE2b-256 of the file, hex}");
    if (!streq (id, self->id))
        return proto_refusal (reason, WEFT_STATUS_NOT_FOUND, "no upload %s here", id);
    if (self->job) {
        //  Asked again (the answer lost): how it goes
        *result_p = s_state (self);
        return WEFT_STATUS_OK;
    }
    if (self->received != self->size)
        return proto_refusal (reason, WEFT_STATUS_CONFLICT, "upload %s holds %" PRIu64 " of its %"
                              PRIu64 " bytes", id, self->received, self->size);
    uint8_t held [32];
    crypto_generichash_state state = self->hash;
    crypto_generichash_final (&state, held, 32);
    if (sodium_memcmp (held, want, 32) != 0) {
        s_drop (self);
        return proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "upload %s differs from its hash: "
                              "dropped, send it again", id);
    }
    if (!self->node) {
        s_drop (self);
        return proto_refusal (reason, WEFT_STATUS_DENIED, "this node takes no bundles");
    }
    fclose (self->file);
    self->file = NULL;
    char *error = NULL;
    self->job = import_new (self->node, self->store, self->path, self->name, self->coord_key,
                            now_ms, &error);
    if (!self->job) {
        int status = proto_refusal (reason, WEFT_STATUS_DENIED, "%s", error? error: "?");
        free (error);
        s_drop (self);
        return status;
    }
    zsys_info ("bundlein: upload %s of %" PRIu64 " bytes: importing", id, self->size);
    *result_p = s_state (self);
    return WEFT_STATUS_OK;
}

int
bundlein_call (bundlein_t *self, const char *method, const char *args, size_t args_size,
               uint64_t now_ms, char **result_p, char reason [WEFT_TEXT_MAX + 1])
{
    assert (self && method && result_p && reason);
    *result_p = NULL;
    json_t *json = args && args_size? json_loadb (args, args_size, 0, NULL): NULL;
    int status;
    if (!json_is_object (json))
        status = proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "%s takes a JSON object", method);
    else
    if (streq (method, "node.bundle.put"))
        status = s_put (self, json, result_p, reason);
    else
    if (streq (method, "node.bundle.import"))
        status = s_import (self, json, now_ms, result_p, reason);
    else
    if (streq (method, "node.bundle.status")) {
        const char *id = json_string_value (json_object_get (json, "upload"));
        if (!s_is_id (id) || json_object_size (json) != 1)
            status = proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "node.bundle.status takes "
                                    "{upload}");
        else
        if (!streq (id, self->id))
            status = proto_refusal (reason, WEFT_STATUS_NOT_FOUND, "no upload %s here", id);
        else {
            *result_p = s_state (self);
            status = WEFT_STATUS_OK;
        }
    }
    else
        status = proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "unknown method %s", method);
    json_decref (json);
    return status;
}

bool
bundlein_busy (bundlein_t *self)
{
    assert (self);
    return s_running (self);
}

void
bundlein_step (bundlein_t *self, uint64_t now_ms)
{
    assert (self);
    if (!s_running (self))
        return;
    int state = import_step (self->job, IMPORT_SLICE_BYTES, now_ms);
    if (state == IMPORT_DONE || state == IMPORT_FAILED) {
        //  Its chunks are in the chunk store now (or it was refused)
        unlink (self->path);
        *self->path = 0;
    }
}

//  --------------------------------------------------------------------------
//  Selftest: uploads and their refusals (the import itself runs in the
//  e2e tests, on a real node)

static int
s_call (bundlein_t *self, const char *method, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char text [2 * BUNDLEIN_PART_MAX + 256];
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    char *result = NULL, reason [WEFT_TEXT_MAX + 1] = "";
    int status = bundlein_call (self, method, text, strlen (text), 0, &result, reason);
    assert ((status == WEFT_STATUS_OK) == (result != NULL));
    free (result);
    return status;
}

void
bundlein_test (bool verbose)
{
    printf (" * bundlein: ");
    //  @selftest
    char dir [] = "/tmp/weft-bundlein-test-XXXXXX";
    assert (mkdtemp (dir));
    uint8_t key [32] = { 1 };
    bundlein_t *in = bundlein_new (NULL, NULL, dir, "srv", key, 100);
    const char *id = "0123456789abcdef";
    //  Malformed, too large, out of order, unknown
    assert (s_call (in, "node.bundle.put", "[]") == WEFT_STATUS_BAD_REQUEST);
    assert (s_call (in, "node.bundle.put", "{\"upload\": \"x\", \"offset\": 0, \"size\": 4, "
                    "\"data\": \"00\"}") == WEFT_STATUS_BAD_REQUEST);
    assert (s_call (in, "node.bundle.put", "{\"upload\": \"%s\", \"offset\": 0, \"size\": 101, "
                    "\"data\": \"00\"}", id) == WEFT_STATUS_BAD_REQUEST);
    assert (s_call (in, "node.bundle.put", "{\"upload\": \"%s\", \"offset\": 0, \"size\": 4, "
                    "\"data\": \"0g\"}", id) == WEFT_STATUS_BAD_REQUEST);
    assert (s_call (in, "node.bundle.put", "{\"upload\": \"%s\", \"offset\": 2, \"size\": 4, "
                    "\"data\": \"00\"}", "fedcba9876543210") == WEFT_STATUS_NOT_FOUND);
    //  Two parts, the first sent twice (its answer lost), one too far
    assert (s_call (in, "node.bundle.put", "{\"upload\": \"%s\", \"offset\": 0, \"size\": 4, "
                    "\"data\": \"0102\"}", id) == WEFT_STATUS_OK);
    assert (s_call (in, "node.bundle.put", "{\"upload\": \"%s\", \"offset\": 0, \"size\": 4, "
                    "\"data\": \"0102\"}", id) == WEFT_STATUS_OK);
    assert (in->received == 2);
    assert (s_call (in, "node.bundle.put", "{\"upload\": \"%s\", \"offset\": 3, \"size\": 4, "
                    "\"data\": \"04\"}", id) == WEFT_STATUS_CONFLICT);
    assert (s_call (in, "node.bundle.put", "{\"upload\": \"%s\", \"offset\": 2, \"size\": 4, "
                    "\"data\": \"030405\"}", id) == WEFT_STATUS_BAD_REQUEST);
    uint8_t whole [4] = { 1, 2, 3, 4 }, hash [32];
    char hex [65];
    crypto_generichash (hash, 32, whole, 4, NULL, 0);
    keys_hex (hash, 32, hex);
    assert (s_call (in, "node.bundle.import", "{\"upload\": \"%s\", \"hash\": \"%s\"}", id, hex)
            == WEFT_STATUS_CONFLICT);                       //  Incomplete
    assert (s_call (in, "node.bundle.put", "{\"upload\": \"%s\", \"offset\": 2, \"size\": 4, "
                    "\"data\": \"0304\"}", id) == WEFT_STATUS_OK);
    assert (s_call (in, "node.bundle.status", "{\"upload\": \"%s\"}", id) == WEFT_STATUS_OK);
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/uploads/%s.wbd", dir, id);
    struct stat st;
    assert (stat (path, &st) == 0 && st.st_size == 4 && (st.st_mode & 0777) == 0600);
    //  A hash that differs drops the upload
    char other [65];
    snprintf (other, sizeof other, "%s", hex);
    other [0] = other [0] == '0'? '1': '0';
    assert (s_call (in, "node.bundle.import", "{\"upload\": \"%s\", \"hash\": \"%s\"}", id,
                    other) == WEFT_STATUS_BAD_REQUEST);
    assert (stat (path, &st) != 0);
    assert (s_call (in, "node.bundle.status", "{\"upload\": \"%s\"}", id)
            == WEFT_STATUS_NOT_FOUND);
    //  Whole and matching: a node that takes no bundles refuses it
    assert (s_call (in, "node.bundle.put", "{\"upload\": \"%s\", \"offset\": 0, \"size\": 4, "
                    "\"data\": \"01020304\"}", id) == WEFT_STATUS_OK);
    assert (s_call (in, "node.bundle.import", "{\"upload\": \"%s\", \"hash\": \"%s\"}", id, hex)
            == WEFT_STATUS_DENIED);
    assert (s_call (in, "node.bundle.nothing", "{}") == WEFT_STATUS_BAD_REQUEST);
    bundlein_destroy (&in);
    char command [128];
    snprintf (command, sizeof command, "rm -rf %s", dir);
    assert (system (command) == 0);
    if (verbose)
        printf ("(uploads, parts sent again, refusals) ");
    //  @end
    printf ("OK\n");
}
