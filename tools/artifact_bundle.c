/*  artifact_bundle - weft-artifact bundle (a release in one file, for a
    site with no uplink) and its check, record by record, as a node that
    imports it checks it  */

#include <czmq.h>
#include <sodium.h>
#include "proto/bundle.h"
#include "proto/chunker.h"
#include "proto/keys.h"
#include "proto/manifest.h"
#include "tools/artifact.h"

typedef struct {
    FILE *file;
    crypto_generichash_state hash;
    int rc;
    size_t records;
} s_writer_t;

static void
s_put (s_writer_t *self, const void *data, size_t size)
{
    if (self->rc == 0 && fwrite (data, 1, size, self->file) != size)
        self->rc = -1;
    crypto_generichash_update (&self->hash, data, size);
}

static void
s_record (s_writer_t *self, bundle_record_t type, const uint8_t *body, size_t size)
{
    uint8_t header [BUNDLE_HEADER_SIZE];
    bundle_header_put (header, type, size);
    s_put (self, header, sizeof header);
    s_put (self, body, size);
    self->records++;
}

//  Add the file at path as a record; 0 or -1 (said why)
static int
s_record_file (s_writer_t *self, bundle_record_t type, const char *path)
{
    size_t size;
    uint8_t *data = artifact_read (path, BUNDLE_RECORD_MAX, &size);
    if (!data)
        return -1;
    s_record (self, type, data, size);
    free (data);
    return 0;
}

//  The smallest delta the repository holds of each chunk carried (in
//  seen), as delta records: the coordinator serves them over its sites'
//  uplinks. Deltas of chunks not carried are left out.
static int
s_record_deltas (s_writer_t *self, const char *repo, zhashx_t *seen)
{
    char *dir_path = zsys_sprintf ("%s/deltas", repo);
    zdir_t *dir = zdir_new (dir_path, "-");
    free (dir_path);
    zlist_t *files = dir? zdir_list (dir): NULL;
    zhashx_t *best = zhashx_new ();         //  Chunk hex -> path of its smallest delta
    zhashx_t *best_size = zhashx_new ();
    zhashx_set_destructor (best, (zhashx_destructor_fn *) zstr_free);
    for (zfile_t *file = files? (zfile_t *) zlist_first (files): NULL; file;
         file = (zfile_t *) zlist_next (files)) {
        const char *path = zfile_filename (file, NULL);
        const char *name = strrchr (path, '/');
        name = name? name + 1: path;
        char hex [65] = "";
        snprintf (hex, sizeof hex, "%.64s", name);
        if (strlen (name) < 65 || name [64] != '.' || !zhashx_lookup (seen, hex))
            continue;
        size_t size = (size_t) zfile_cursize (file);
        size_t held = (size_t) (uintptr_t) zhashx_lookup (best_size, hex);
        if (held && held <= size)
            continue;
        zhashx_update (best, hex, strdup (path));
        zhashx_update (best_size, hex, (void *) (uintptr_t) size);
    }
    int rc = 0;
    zlistx_t *keys = zhashx_keys (best);
    zlistx_set_comparator (keys, (zlistx_comparator_fn *) strcmp);
    zlistx_sort (keys);                     //  The same bundle every time
    for (const char *hex = (const char *) zlistx_first (keys); hex && rc == 0;
         hex = (const char *) zlistx_next (keys)) {
        size_t size;
        uint8_t *delta = artifact_read ((const char *) zhashx_lookup (best, hex),
                                        BUNDLE_DELTA_MAX, &size);
        uint8_t *body = delta? (uint8_t *) zmalloc (32 + size): NULL;
        if (!body || keys_unhex (hex, body, 32)) {
            rc = -1;
            free (delta);
            free (body);
            break;
        }
        memcpy (body + 32, delta, size);
        s_record (self, BUNDLE_DELTA, body, 32 + size);
        free (body);
        free (delta);
    }
    zlistx_destroy (&keys);
    zhashx_destroy (&best);
    zhashx_destroy (&best_size);
    zlist_destroy (&files);
    zdir_destroy (&dir);
    return rc;
}

//  The chunks of every manifest, each once; then their deltas if asked
static int
s_record_chunks (s_writer_t *self, const char *repo, const release_trust_t *trust,
                 bool deltas)
{
    zhashx_t *seen = zhashx_new ();
    int rc = 0;
    for (size_t t = 0; t < trust->target_count && rc == 0; t++) {
        char *path = zsys_sprintf ("%s/manifests/%s_%s", repo, trust->targets [t].name,
                                   trust->targets [t].version);
        size_t size;
        uint8_t *data = artifact_read (path, WEFT_FRAME_MAX, &size);
        free (path);
        manifest_t manifest;
        if (!data || manifest_decode (&manifest, data, size)) {
            free (data);
            rc = -1;
            break;
        }
        for (size_t i = 0; i < manifest.chunk_count && rc == 0; i++) {
            const uint8_t *hash;
            manifest_chunk (&manifest, i, &hash, NULL);
            char hex [65];
            keys_hex (hash, 32, hex);
            if (zhashx_lookup (seen, hex))
                continue;
            zhashx_insert (seen, hex, (void *) 1);
            char *chunk_path = zsys_sprintf ("%s/chunks/%s", repo, hex);
            size_t packed_size;
            uint8_t *packed = artifact_read (chunk_path, 2 * CHUNKER_MAX, &packed_size);
            free (chunk_path);
            if (!packed) {
                rc = -1;
                break;
            }
            uint8_t *body = (uint8_t *) zmalloc (32 + packed_size);
            memcpy (body, hash, 32);
            memcpy (body + 32, packed, packed_size);
            s_record (self, BUNDLE_CHUNK, body, 32 + packed_size);
            free (body);
            free (packed);
        }
        free (data);
    }
    if (rc == 0 && deltas)
        rc = s_record_deltas (self, repo, seen);
    zhashx_destroy (&seen);
    return rc;
}

int
artifact_bundle (keyfile_t *options, int argc, char *argv [], int argi)
{
    const char *repo = keyfile_get (options, "repo");
    const char *out = keyfile_get (options, "out");
    if (!repo || !out) {
        artifact_fail ("bundle needs --repo DIR and --out FILE [ASSIGNMENT...]");
        return 2;
    }
    //  The repository must verify before it is bundled: the bundle
    //  carries what its targets name
    release_trust_t *trust = artifact_trust (repo, (uint64_t) zclock_time ());
    if (!trust)
        return 1;
    char *temp = zsys_sprintf ("%s.tmp", out);
    s_writer_t writer = { fopen (temp, "wb"), { { 0 } }, 0, 0 };
    if (!writer.file) {
        artifact_fail ("cannot write %s: %s", temp, strerror (errno));
        free (temp);
        free (trust);
        return 1;
    }
    crypto_generichash_init (&writer.hash, NULL, 0, 32);
    s_put (&writer, BUNDLE_MAGIC, BUNDLE_MAGIC_SIZE);
    int rc = 0;
    for (uint64_t version = 1; rc == 0; version++) {
        char *path = zsys_sprintf ("%s/root.%" PRIu64, repo, version);
        bool exists = zsys_file_exists (path);
        if (exists)
            rc = s_record_file (&writer, BUNDLE_ROOT, path);
        free (path);
        if (!exists)
            break;
    }
    const char *roles [] = { "timestamp", "snapshot", "targets" };
    bundle_record_t types [] = { BUNDLE_TIMESTAMP, BUNDLE_SNAPSHOT, BUNDLE_TARGETS };
    for (int i = 0; i < 3 && rc == 0; i++) {
        char *path = zsys_sprintf ("%s/%s", repo, roles [i]);
        rc = s_record_file (&writer, types [i], path);
        free (path);
    }
    for (size_t t = 0; t < trust->target_count && rc == 0; t++) {
        char *path = zsys_sprintf ("%s/manifests/%s_%s", repo, trust->targets [t].name,
                                   trust->targets [t].version);
        rc = s_record_file (&writer, BUNDLE_MANIFEST, path);
        free (path);
    }
    for (; argi < argc && rc == 0; argi++)
        rc = s_record_file (&writer, BUNDLE_ASSIGNMENT, argv [argi]);
    if (rc == 0)
        rc = s_record_chunks (&writer, repo, trust,
                              streq (keyfile_get (options, "deltas"), "yes"));
    uint8_t hash [32];
    crypto_generichash_final (&writer.hash, hash, sizeof hash);
    uint8_t header [BUNDLE_HEADER_SIZE];
    bundle_header_put (header, BUNDLE_END, 32);
    if (rc == 0 && (fwrite (header, 1, sizeof header, writer.file) != sizeof header
                    || fwrite (hash, 1, 32, writer.file) != 32))
        rc = -1;
    if (fflush (writer.file) || fsync (fileno (writer.file)))
        rc = -1;
    fclose (writer.file);
    if (rc == 0 && writer.rc == 0 && rename (temp, out) == 0)
        printf ("%s: %zu records, release %s\n", out, writer.records + 1,
                trust->target_count? trust->targets [0].name: "(metadata only)");
    else {
        if (writer.rc || rc == 0)
            artifact_fail ("cannot write %s: %s", out, strerror (errno));
        unlink (temp);
        rc = -1;
    }
    free (temp);
    free (trust);
    return rc? 1: 0;
}

//  --------------------------------------------------------------------------
//  Check a bundle file from the root given, as a node that imports it

int
artifact_bundle_verify (const char *path, const char *root_path)
{
    size_t root_size;
    uint8_t *root = artifact_read (root_path, WEFT_FRAME_MAX, &root_size);
    if (!root)
        return 1;
    release_trust_t *trust = (release_trust_t *) zmalloc (sizeof (release_trust_t));
    uint64_t now_ms = (uint64_t) zclock_time ();
    int rc = release_trust_init (trust, root, root_size, now_ms);
    free (root);
    if (rc) {
        artifact_fail ("%s refused: %s", root_path, release_strerror (rc));
        free (trust);
        return 1;
    }
    FILE *file = fopen (path, "rb");
    if (!file) {
        artifact_fail ("cannot read %s: %s", path, strerror (errno));
        free (trust);
        return 1;
    }
    bundle_check_t *check = bundle_check_new (trust, now_ms);
    uint8_t magic [BUNDLE_MAGIC_SIZE], header [BUNDLE_HEADER_SIZE];
    uint8_t *body = (uint8_t *) zmalloc (BUNDLE_RECORD_MAX);
    size_t records = 0;
    const char *why = NULL;
    if (fread (magic, 1, sizeof magic, file) != sizeof magic
    ||  bundle_check_magic (check, magic))
        why = "not a Weft bundle";
    while (!why) {
        size_t got = fread (header, 1, sizeof header, file);
        if (got == 0 && feof (file))
            break;
        bundle_record_t type;
        size_t length;
        if (got != sizeof header || bundle_header (header, &type, &length)
        ||  fread (body, 1, length, file) != length) {
            why = "cut short or malformed";
            break;
        }
        rc = bundle_check_record (check, header, body, length);
        if (rc) {
            artifact_fail ("%s: record %zu (type %d) refused: %s", path, records + 1, type,
                           type == BUNDLE_CHUNK && rc == RELEASE_MISMATCH
                           ? "a chunk damaged, carried twice, or named by no manifest"
                           : release_strerror (rc));
            break;
        }
        records++;
    }
    if (!why && rc == 0 && bundle_check_done (check))
        why = "cut short (no end record)";
    if (why)
        artifact_fail ("%s: %s", path, why);
    size_t missing = 0;
    size_t carried = bundle_check_chunks (check, &missing);
    if (!why && rc == 0) {
        const release_trust_t *after = bundle_check_trust (check);
        printf ("%s: whole and trusted: %zu records, root %" PRIu64 ", targets %" PRIu64
                ", %zu releases, %zu chunks carried, %zu not carried\n", path, records,
                after->root.version, after->targets_version, after->target_count, carried,
                missing);
    }
    bundle_check_destroy (&check);
    fclose (file);
    free (body);
    free (trust);
    return why || rc? 1: 0;
}
