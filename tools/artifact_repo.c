/*  artifact_repo - weft-artifact build and verify: artifacts into
    content-defined chunks and manifests, and the whole repository
    checked as a device would check it  */

#include <czmq.h>
#include <sys/stat.h>
#include "proto/chunker.h"
#include "proto/manifest.h"
#include "proto/release.h"
#include "proto/keys.h"
#include "proto/io/options.h"
#include "tools/artifact.h"

//  Names and versions become file names: a safe alphabet only
static bool
s_file_safe (const char *text)
{
    if (!*text || *text == '.')
        return false;
    for (; *text; text++)
        if (!isalnum ((unsigned char) *text) && !strchr ("._+-", *text))
            return false;
    return true;
}

static char *
s_chunk_path (const char *repo, const uint8_t hash [32])
{
    char hex [65];
    keys_hex (hash, 32, hex);
    return zsys_sprintf ("%s/chunks/%s", repo, hex);
}

//  Store one chunk unless the repository holds it. 1 stored, 0 held, -1.
static int
s_store_chunk (const char *repo, const uint8_t *data, size_t size, const uint8_t hash [32],
               size_t *packed_total)
{
    char *path = s_chunk_path (repo, hash);
    struct stat st;
    int rc = 0;
    if (stat (path, &st) != 0) {
        uint8_t *packed;
        size_t packed_size;
        rc = chunker_pack (data, size, &packed, &packed_size) == 0
          && artifact_write (path, packed, packed_size, 0644) == 0? 1: -1;
        if (rc == 1)
            *packed_total += packed_size;
        free (packed);
    }
    free (path);
    return rc;
}

int
artifact_build (keyfile_t *options, int argc, char *argv [], int argi)
{
    const char *repo = keyfile_get (options, "repo");
    const char *name = keyfile_get (options, "name");
    const char *version = keyfile_get (options, "version");
    if (!repo || !name || !version || argc - argi != 1) {
        artifact_fail ("build needs --repo DIR --name NAME --version VERSION and one FILE");
        return 2;
    }
    if (!s_file_safe (name) || strlen (name) > WEFT_NAME_MAX
    ||  !s_file_safe (version) || strlen (version) > MANIFEST_VERSION_MAX) {
        artifact_fail ("name and version are letters, digits and . _ + - (at most %d and "
                       "%d characters)", WEFT_NAME_MAX, MANIFEST_VERSION_MAX);
        return 2;
    }
    manifest_t manifest;
    memset (&manifest, 0, sizeof manifest);
    snprintf (manifest.name, sizeof manifest.name, "%s", name);
    snprintf (manifest.version, sizeof manifest.version, "%s", version);
    snprintf (manifest.types, sizeof manifest.types, "%s", keyfile_get (options, "types"));
    snprintf (manifest.handler, sizeof manifest.handler, "%s",
              keyfile_get (options, "handler"));
    manifest.anti_rollback = (uint64_t) options_int (options, "anti-rollback", 0);
    const char *source = argv [argi];
    FILE *file = fopen (source, "rb");
    if (!file) {
        artifact_fail ("cannot read %s: %s", source, strerror (errno));
        return 1;
    }
    char *dir = zsys_sprintf ("%s/chunks", repo);
    zsys_dir_create (dir);
    free (dir);
    dir = zsys_sprintf ("%s/manifests", repo);
    zsys_dir_create (dir);
    free (dir);

    //  Stream the file through a window of two maximum chunks
    chunker_t *chunker = chunker_new ();
    size_t window_size = 2 * CHUNKER_MAX, filled = 0, start = 0;
    uint8_t *window = (uint8_t *) zmalloc (window_size);
    size_t entries_alloc = 1024, stored = 0, packed_total = 0;
    uint8_t *entries = (uint8_t *) zmalloc (entries_alloc * MANIFEST_ENTRY_SIZE);
    bool eof = false;
    int rc = 0;
    while (rc == 0) {
        if (!eof && filled - start < CHUNKER_MAX) {
            memmove (window, window + start, filled - start);
            filled -= start;
            start = 0;
            size_t got = fread (window + filled, 1, window_size - filled, file);
            filled += got;
            eof = got == 0 && (feof (file) || ferror (file));
            if (ferror (file)) {
                artifact_fail ("cannot read %s: %s", source, strerror (errno));
                rc = 1;
            }
            continue;
        }
        size_t cut = chunker_cut (chunker, window + start, filled - start, eof);
        if (cut == 0)
            break;
        if (manifest.chunk_count == MANIFEST_CHUNKS_MAX) {
            artifact_fail ("%s is larger than a manifest can hold", source);
            rc = 1;
            break;
        }
        if (manifest.chunk_count == entries_alloc) {
            entries_alloc *= 2;
            entries = (uint8_t *) realloc (entries, entries_alloc * MANIFEST_ENTRY_SIZE);
            assert (entries);
        }
        uint8_t *entry = entries + manifest.chunk_count++ * MANIFEST_ENTRY_SIZE;
        chunker_hash (window + start, cut, entry);
        entry [32] = (uint8_t) (cut >> 24);
        entry [33] = (uint8_t) (cut >> 16);
        entry [34] = (uint8_t) (cut >> 8);
        entry [35] = (uint8_t) cut;
        int stored_rc = s_store_chunk (repo, window + start, cut, entry, &packed_total);
        if (stored_rc < 0)
            rc = 1;
        stored += stored_rc > 0;
        manifest.size += cut;
        start += cut;
    }
    fclose (file);
    free (window);
    chunker_destroy (&chunker);
    manifest.chunks = entries;
    uint8_t *data = NULL;
    size_t size = 0;
    if (rc == 0 && manifest_encode (&manifest, &data, &size)) {
        artifact_fail ("cannot encode the manifest (types or handler too long?)");
        rc = 1;
    }
    if (rc == 0) {
        char *path = zsys_sprintf ("%s/manifests/%s_%s", repo, name, version);
        rc = artifact_write (path, data, size, 0644)? 1: 0;
        free (path);
    }
    if (rc == 0) {
        uint8_t hash [32];
        char hex [65];
        keys_hash (data, size, hash);
        keys_hex (hash, 32, hex);
        printf ("%s %s: %" PRIu64 " bytes in %zu chunks (%zu new, %zu bytes packed), "
                "manifest %s\n", name, version, manifest.size, manifest.chunk_count, stored,
                packed_total, hex);
    }
    free (data);
    free (entries);
    return rc;
}

//  --------------------------------------------------------------------------
//  verify

//  Take path's role into trust. 0, or 1 (said why).
static int
s_take (release_trust_t *trust, const char *path, uint64_t now_ms)
{
    size_t size;
    uint8_t *data = artifact_read (path, WEFT_FRAME_MAX, &size);
    int rc = data? release_trust_update (trust, data, size, now_ms): RELEASE_MALFORMED;
    if (data && rc)
        artifact_fail ("%s refused: %s", path, release_strerror (rc));
    free (data);
    return rc? 1: 0;
}

//  Every chunk of a target's manifest present, whole and of its address
static int
s_verify_target (const char *repo, const release_target_t *target)
{
    char *path = zsys_sprintf ("%s/manifests/%s_%s", repo, target->name, target->version);
    size_t size;
    uint8_t *data = artifact_read (path, WEFT_FRAME_MAX, &size);
    free (path);
    if (!data)
        return 1;
    uint8_t hash [32];
    keys_hash (data, size, hash);
    manifest_t manifest;
    int rc = 0;
    if (size != target->manifest_size || memcmp (hash, target->manifest_hash, 32)) {
        artifact_fail ("%s %s: the manifest is not the one the targets name", target->name,
                       target->version);
        rc = 1;
    }
    else
    if (manifest_decode (&manifest, data, size)) {
        artifact_fail ("%s %s: the manifest is malformed", target->name, target->version);
        rc = 1;
    }
    uint8_t *chunk = (uint8_t *) zmalloc (CHUNKER_MAX);
    for (size_t i = 0; rc == 0 && i < manifest.chunk_count; i++) {
        const uint8_t *address;
        uint32_t chunk_size;
        manifest_chunk (&manifest, i, &address, &chunk_size);
        char *chunk_path = s_chunk_path (repo, address);
        size_t packed_size;
        uint8_t *packed = artifact_read (chunk_path, 2 * CHUNKER_MAX, &packed_size);
        if (!packed
        ||  chunker_unpack (packed, packed_size, address, chunk, chunk_size)) {
            if (packed)
                artifact_fail ("%s: damaged", chunk_path);
            rc = 1;
        }
        free (packed);
        free (chunk_path);
    }
    if (rc == 0)
        printf ("%s %s: %zu chunks, %" PRIu64 " bytes, handler %s, anti-rollback %" PRIu64
                ", types %s: OK\n", manifest.name, manifest.version, manifest.chunk_count,
                manifest.size, manifest.handler, manifest.anti_rollback, manifest.types);
    free (chunk);
    free (data);
    return rc;
}

release_trust_t *
artifact_trust (const char *repo, uint64_t now_ms)
{
    //  From the first root, as a device pinned to it walks
    char *path = zsys_sprintf ("%s/root.1", repo);
    size_t size;
    uint8_t *data = artifact_read (path, WEFT_FRAME_MAX, &size);
    release_trust_t *trust = (release_trust_t *) zmalloc (sizeof (release_trust_t));
    int rc = data? release_trust_init (trust, data, size, now_ms): RELEASE_MALFORMED;
    if (data && rc)
        artifact_fail ("%s refused: %s", path, release_strerror (rc));
    free (data);
    free (path);
    rc = rc? 1: 0;
    for (uint64_t version = 2; rc == 0; version++) {
        path = zsys_sprintf ("%s/root.%" PRIu64, repo, version);
        bool exists = zsys_file_exists (path);
        if (exists)
            rc = s_take (trust, path, now_ms);
        free (path);
        if (!exists)
            break;
    }
    if (rc == 0 && trust->root.expires_ms <= now_ms) {
        artifact_fail ("root version %" PRIu64 " has expired", trust->root.version);
        rc = 1;
    }
    const char *roles [] = { "timestamp", "snapshot", "targets" };
    for (int i = 0; i < 3 && rc == 0; i++) {
        path = zsys_sprintf ("%s/%s", repo, roles [i]);
        rc = s_take (trust, path, now_ms);
        free (path);
    }
    if (rc) {
        free (trust);
        return NULL;
    }
    return trust;
}

int
artifact_verify (keyfile_t *options)
{
    const char *bundle = keyfile_get (options, "bundle");
    if (bundle) {
        const char *root = keyfile_get (options, "root");
        if (!root) {
            artifact_fail ("verify --bundle needs --root FILE, the root the devices trust");
            return 2;
        }
        return artifact_bundle_verify (bundle, root);
    }
    const char *repo = keyfile_get (options, "repo");
    if (!repo) {
        artifact_fail ("verify needs --repo DIR, or --bundle FILE --root FILE");
        return 2;
    }
    release_trust_t *trust = artifact_trust (repo, (uint64_t) zclock_time ());
    if (!trust)
        return 1;
    printf ("trusted: root %" PRIu64 ", timestamp %" PRIu64 ", snapshot %" PRIu64
            ", targets %" PRIu64 " of tenant %s\n", trust->root.version,
            trust->timestamp_version, trust->snapshot_version, trust->targets_version,
            trust->root.tenant);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < trust->target_count; i++)
        rc = s_verify_target (repo, &trust->targets [i]);
    free (trust);
    return rc;
}
