/*  artifact_repo - weft-artifact build and verify: artifacts into
    content-defined chunks and manifests, and the whole repository
    checked as a device would check it  */

#include <czmq.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <zlib.h>
#include "proto/chunker.h"
#include "proto/manifest.h"
#include "proto/release.h"
#include "proto/keys.h"
#include "proto/io/options.h"
#include "proto/io/filewrite.h"
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

//  Unpack a stored chunk of unknown size (at most CHUNKER_MAX) into
//  out, adding its size to *size_p. 0 or -1.
static int
s_unpack_any (const uint8_t *packed, size_t packed_size, const uint8_t hash [32],
              uint8_t *out, size_t *size_p)
{
    //  zlib's stream does not state its length: inflate, then check
    //  with the length found
    uLongf size = CHUNKER_MAX;
    if (uncompress (out, &size, packed, packed_size) != Z_OK || size == 0
    ||  chunker_unpack (packed, packed_size, hash, out, size))
        return -1;
    *size_p += size;
    return 0;
}

//  Store one chunk unless the repository holds it: 1 stored (its
//  packed size in *packed_size_p), 0 held, -1 failed (said why). Not
//  synced: build syncs the repository once, before the manifest.
static int
s_store_chunk (const char *repo, const uint8_t *data, size_t size, const uint8_t hash [32],
               size_t *packed_size_p)
{
    char *path = s_chunk_path (repo, hash);
    struct stat st;
    int rc = 0;
    if (stat (path, &st) != 0) {
        uint8_t *packed;
        char *error = NULL;
        rc = chunker_pack (data, size, &packed, packed_size_p) == 0
          && filewrite_batch (path, packed, *packed_size_p, 0644, &error) == 0? 1: -1;
        if (error) {
            artifact_fail ("%s", error);
            free (error);
        }
        free (packed);
    }
    free (path);
    return rc;
}

//  The version a build deltas against: its manifest, where each of its
//  chunks begins, and the base last assembled
typedef struct {
    uint64_t value;
    uint32_t feature;               //  Which transform
    uint32_t chunk;                 //  Index in the base manifest
} s_feature_t;

typedef struct {
    uint8_t *data;
    manifest_t manifest;
    uint64_t *offsets;
    uint8_t *window;                //  Base chunks, concatenated
    size_t window_size;
    size_t bases [CHUNKER_DELTA_BASES];     //  Which ones
    size_t base_count;
    s_feature_t *features;          //  Of every base chunk, sorted
    size_t feature_count;
    uint32_t *scores;               //  Scratch, one per base chunk
} s_base_t;

static int
s_feature_compare (const void *a, const void *b)
{
    const s_feature_t *x = (const s_feature_t *) a, *y = (const s_feature_t *) b;
    if (x->feature != y->feature)
        return x->feature < y->feature? -1: 1;
    return x->value < y->value? -1: x->value > y->value? 1: 0;
}

static int
s_base_load (s_base_t *self, const char *repo, const char *name, const char *version)
{
    memset (self, 0, sizeof *self);
    char *path = zsys_sprintf ("%s/manifests/%s_%s", repo, name, version);
    size_t size;
    self->data = artifact_read (path, WEFT_FRAME_MAX, &size);
    free (path);
    if (!self->data || manifest_decode (&self->manifest, self->data, size)) {
        if (self->data)
            artifact_fail ("%s %s: the manifest is malformed", name, version);
        return -1;
    }
    self->offsets = (uint64_t *) zmalloc ((self->manifest.chunk_count + 1) * sizeof (uint64_t));
    for (size_t i = 0; i < self->manifest.chunk_count; i++) {
        uint32_t chunk_size;
        manifest_chunk (&self->manifest, i, NULL, &chunk_size);
        self->offsets [i + 1] = self->offsets [i] + chunk_size;
    }
    self->window = (uint8_t *) zmalloc (CHUNKER_DELTA_BASES * CHUNKER_MAX);
    //  Every base chunk's features, to find the chunks most like a new one
    size_t count = self->manifest.chunk_count;
    self->features = (s_feature_t *) zmalloc ((count * CHUNKER_FEATURES + 1)
                                              * sizeof (s_feature_t));
    self->scores = (uint32_t *) zmalloc ((count + 1) * sizeof (uint32_t));
    chunker_t *chunker = chunker_new ();
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        const uint8_t *hash;
        uint32_t size;
        manifest_chunk (&self->manifest, i, &hash, &size);
        char *path = s_chunk_path (repo, hash);
        size_t packed_size;
        uint8_t *packed = artifact_read (path, 2 * CHUNKER_MAX, &packed_size);
        free (path);
        rc = packed? chunker_unpack (packed, packed_size, hash, self->window, size): -1;
        free (packed);
        uint64_t features [CHUNKER_FEATURES];
        chunker_features (chunker, self->window, size, features);
        for (uint32_t f = 0; rc == 0 && f < CHUNKER_FEATURES; f++)
            self->features [self->feature_count++] = (s_feature_t) { features [f], f,
                                                                     (uint32_t) i };
    }
    chunker_destroy (&chunker);
    if (rc) {
        artifact_fail ("%s %s: a chunk of it is missing or damaged", name, version);
        return -1;
    }
    qsort (self->features, self->feature_count, sizeof (s_feature_t), s_feature_compare);
    return 0;
}

static void
s_base_free (s_base_t *self)
{
    free (self->data);
    free (self->offsets);
    free (self->window);
    free (self->features);
    free (self->scores);
}

//  Assemble the base chunks listed into the window. 0 or -1.
static int
s_base_window (s_base_t *self, const char *repo, const size_t *bases, size_t count)
{
    if (count == self->base_count && memcmp (bases, self->bases, count * sizeof (size_t)) == 0)
        return 0;
    self->window_size = 0;
    self->base_count = 0;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *hash;
        uint32_t size;
        manifest_chunk (&self->manifest, bases [i], &hash, &size);
        char *path = s_chunk_path (repo, hash);
        size_t packed_size;
        uint8_t *packed = artifact_read (path, 2 * CHUNKER_MAX, &packed_size);
        free (path);
        int rc = packed? chunker_unpack (packed, packed_size, hash,
                                         self->window + self->window_size, size): -1;
        free (packed);
        if (rc)
            return -1;
        self->window_size += size;
    }
    memcpy (self->bases, bases, count * sizeof (size_t));
    self->base_count = count;
    return 0;
}

//  The base chunks sharing the most features with data, best last (zstd
//  reaches the end of its prefix cheapest); 0 if none shares any
static size_t
s_base_similar (s_base_t *self, const chunker_t *chunker, const uint8_t *data, size_t size,
                size_t bases [CHUNKER_DELTA_BASES])
{
    uint64_t features [CHUNKER_FEATURES];
    chunker_features (chunker, data, size, features);
    uint32_t touched [CHUNKER_FEATURES * 8];
    size_t touched_count = 0;
    for (uint32_t f = 0; f < CHUNKER_FEATURES; f++) {
        s_feature_t key = { features [f], f, 0 };
        s_feature_t *hit = (s_feature_t *) bsearch (&key, self->features, self->feature_count,
                                                    sizeof (s_feature_t), s_feature_compare);
        if (!hit)
            continue;
        while (hit > self->features && s_feature_compare (hit - 1, &key) == 0)
            hit--;
        //  A feature many chunks share (runs of one byte) says little
        for (size_t n = 0; n < 8 && hit < self->features + self->feature_count
                           && s_feature_compare (hit, &key) == 0; n++, hit++) {
            if (self->scores [hit->chunk]++ == 0)
                touched [touched_count++] = hit->chunk;
        }
    }
    size_t count = 0;
    for (size_t pick = 0; pick < CHUNKER_DELTA_BASES; pick++) {
        uint32_t best = 0, best_score = 0;
        for (size_t i = 0; i < touched_count; i++)
            if (self->scores [touched [i]] > best_score) {
                best = touched [i];
                best_score = self->scores [best];
            }
        if (best_score == 0)
            break;
        bases [count++] = best;
        self->scores [best] = 0;
    }
    for (size_t i = 0; i < touched_count; i++)
        self->scores [touched [i]] = 0;
    //  Best last
    for (size_t i = 0; i < count / 2; i++) {
        size_t keep = bases [i];
        bases [i] = bases [count - 1 - i];
        bases [count - 1 - i] = keep;
    }
    return count;
}

//  A delta of data against bases, if smaller than best so far: the
//  carried form (caller frees) and its size
static uint8_t *
s_delta_try (s_base_t *base, const char *repo, const size_t *bases, size_t count,
             const uint8_t *data, size_t size, size_t best, size_t *carried_size_p)
{
    uint8_t *delta;
    size_t delta_size;
    if (count == 0 || s_base_window (base, repo, bases, count)
    ||  chunker_delta (base->window, base->window_size, data, size, &delta, &delta_size))
        return NULL;
    size_t carried_size = 1 + count * CHUNKER_HASH_SIZE + delta_size;
    uint8_t *carried = NULL;
    if (carried_size < best) {
        //  As it travels: the bases it names, then the frame
        carried = (uint8_t *) zmalloc (carried_size);
        carried [0] = (uint8_t) count;
        for (size_t i = 0; i < count; i++) {
            const uint8_t *base_hash;
            manifest_chunk (&base->manifest, bases [i], &base_hash, NULL);
            memcpy (carried + 1 + i * CHUNKER_HASH_SIZE, base_hash, CHUNKER_HASH_SIZE);
        }
        memcpy (carried + carried_size - delta_size, delta, delta_size);
        *carried_size_p = carried_size;
    }
    free (delta);
    return carried;
}

//  A delta of data (at offset of the new version) against the base
//  chunks most like it (by features), or else those around the same
//  offset, whichever is smaller; stored as deltas/NEW.BASES (BASES: the
//  first 8 bytes of the hash of the base list, in hex) if smaller than
//  packed. Returns its size as carried, or packed if it is not smaller.
static size_t
s_store_delta (s_base_t *base, const chunker_t *chunker, const char *repo, uint64_t offset,
               const uint8_t *data, size_t size, const uint8_t hash [32], size_t packed)
{
    size_t count = base->manifest.chunk_count;
    if (count == 0)
        return packed;
    //  The base chunk covering offset (the last one past its end), and
    //  its neighbours
    size_t lo = 0, hi = count;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (base->offsets [mid] <= offset)
            lo = mid;
        else
            hi = mid;
    }
    size_t near [CHUNKER_DELTA_BASES], near_count = 0;
    for (size_t i = lo > 0? lo - 1: lo; i <= lo + 1 && i < count; i++)
        near [near_count++] = i;
    size_t similar [CHUNKER_DELTA_BASES];
    size_t similar_count = s_base_similar (base, chunker, data, size, similar);
    size_t best = packed, carried_size = 0;
    uint8_t *carried = s_delta_try (base, repo, near, near_count, data, size, best,
                                    &carried_size);
    if (carried)
        best = carried_size;
    uint8_t *other = s_delta_try (base, repo, similar, similar_count, data, size, best,
                                  &carried_size);
    if (other) {
        free (carried);
        carried = other;
        best = carried_size;
    }
    if (carried) {
        //  Named by the chunk and the bases, so deltas against two
        //  earlier versions live side by side
        size_t bases_size = 1 + (size_t) carried [0] * CHUNKER_HASH_SIZE;
        uint8_t bases_hash [32];
        char hex [65], bases_hex [65];
        keys_hash (carried, bases_size, bases_hash);
        keys_hex (hash, 32, hex);
        keys_hex (bases_hash, 8, bases_hex);
        char *path = zsys_sprintf ("%s/deltas/%s.%s", repo, hex, bases_hex);
        char *error = NULL;
        if (filewrite_batch (path, carried, best, 0644, &error) == 0)
            packed = best;
        else {
            artifact_fail ("%s", error);
            free (error);
        }
        free (path);
        free (carried);
    }
    return packed;
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
    //  Reference values, checked before any chunk is written
    manifest_refs_t *refs = (manifest_refs_t *) zmalloc (sizeof (manifest_refs_t));
    int refs_rc = artifact_refs_load (options, refs);
    if (refs_rc) {
        free (refs);
        return refs_rc;
    }
    manifest.refs = refs;
    const char *delta_from = keyfile_get (options, "delta-from");
    s_base_t base;
    memset (&base, 0, sizeof base);
    if (delta_from && s_base_load (&base, repo, name, delta_from)) {
        free (refs);
        return 1;
    }
    const char *source = argv [argi];
    FILE *file = fopen (source, "rb");
    if (!file) {
        artifact_fail ("cannot read %s: %s", source, strerror (errno));
        s_base_free (&base);
        free (refs);
        return 1;
    }
    char *dir = zsys_sprintf ("%s/chunks", repo);
    zsys_dir_create (dir);
    free (dir);
    dir = zsys_sprintf ("%s/manifests", repo);
    zsys_dir_create (dir);
    free (dir);
    dir = zsys_sprintf ("%s/deltas", repo);
    zsys_dir_create (dir);
    free (dir);

    //  Stream the file through a window of two maximum chunks
    chunker_t *chunker = chunker_new ();
    size_t window_size = 2 * CHUNKER_MAX, filled = 0, start = 0;
    uint8_t *window = (uint8_t *) zmalloc (window_size);
    size_t entries_alloc = 1024, stored = 0, packed_total = 0, send_total = 0, deltas = 0;
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
        size_t packed = 0;
        int stored_rc = s_store_chunk (repo, window + start, cut, entry, &packed);
        if (stored_rc < 0)
            rc = 1;
        if (stored_rc > 0) {
            stored++;
            packed_total += packed;
            size_t send = delta_from? s_store_delta (&base, chunker, repo, manifest.size,
                                                     window + start, cut, entry, packed)
                                    : packed;
            deltas += send < packed;
            send_total += send;
        }
        manifest.size += cut;
        start += cut;
    }
    fclose (file);
    free (window);
    chunker_destroy (&chunker);
    s_base_free (&base);
    //  The chunks durable before the manifest that names them
    int dir_fd = open (repo, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rc == 0 && (dir_fd < 0 || syncfs (dir_fd))) {
        artifact_fail ("cannot sync %s: %s", repo, strerror (errno));
        rc = 1;
    }
    if (dir_fd >= 0)
        close (dir_fd);
    manifest.chunks = entries;
    uint8_t *data = NULL;
    size_t size = 0;
    if (rc == 0 && manifest_encode (&manifest, &data, &size)) {
        artifact_fail ("cannot encode the manifest (types or handler too long, or the "
                       "chunk list and reference values over 1 MiB?)");
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
        printf ("%s %s: %" PRIu64 " bytes in %zu chunks (%zu new, %zu bytes packed, %zu as "
                "deltas, %zu bytes to send), manifest %s\n", name, version, manifest.size,
                manifest.chunk_count, stored, packed_total, deltas, send_total + size, hex);
        if (refs->ima_count || refs->boot_count)
            printf ("%s %s: reference values: %zu files, %zu boot measurements\n", name,
                    version, refs->ima_count, refs->boot_count);
    }
    free (data);
    free (entries);
    free (refs);
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

//  Every stored delta applies to the bases it names and gives its chunk
static int
s_verify_deltas (const char *repo)
{
    char *dir_path = zsys_sprintf ("%s/deltas", repo);
    zdir_t *dir = zdir_new (dir_path, "-");
    free (dir_path);
    zlist_t *files = dir? zdir_list (dir): NULL;
    uint8_t *base = (uint8_t *) zmalloc (CHUNKER_DELTA_BASES * CHUNKER_MAX);
    uint8_t *out = (uint8_t *) zmalloc (CHUNKER_MAX);
    size_t checked = 0;
    int rc = 0;
    for (zfile_t *file = files? (zfile_t *) zlist_first (files): NULL; file && rc == 0;
         file = (zfile_t *) zlist_next (files)) {
        const char *path = zfile_filename (file, NULL);
        const char *name = strrchr (path, '/');
        name = name? name + 1: path;
        uint8_t hash [32];
        char hex [65] = "";
        snprintf (hex, sizeof hex, "%.64s", name);
        size_t size, base_count = 0, frame_size, base_size = 0;
        const uint8_t *bases, *frame;
        uint8_t *delta = artifact_read (path, 2 * CHUNKER_MAX, &size);
        rc = delta && keys_unhex (hex, hash, 32) == 0
          && chunker_delta_split (delta, size, &base_count, &bases, &frame, &frame_size) == 0
             ? 0: -1;
        for (size_t i = 0; rc == 0 && i < base_count; i++) {
            char *chunk_path = s_chunk_path (repo, bases + i * 32);
            size_t packed_size;
            uint8_t *packed = artifact_read (chunk_path, 2 * CHUNKER_MAX, &packed_size);
            free (chunk_path);
            //  The base's size: whatever it unpacks to, up to a chunk
            rc = packed? s_unpack_any (packed, packed_size, bases + i * 32, base + base_size,
                                       &base_size): -1;
            free (packed);
        }
        //  The chunk's size is the stored chunk's
        size_t chunk_size = 0;
        if (rc == 0) {
            char *chunk_path = s_chunk_path (repo, hash);
            size_t packed_size;
            uint8_t *packed = artifact_read (chunk_path, 2 * CHUNKER_MAX, &packed_size);
            free (chunk_path);
            rc = packed? s_unpack_any (packed, packed_size, hash, out, &chunk_size): -1;
            free (packed);
        }
        if (rc == 0 && chunker_undelta (frame, frame_size, base, base_size, hash, out,
                                        chunk_size))
            rc = -1;
        if (rc)
            artifact_fail ("%s: damaged", path);
        free (delta);
        checked++;
    }
    if (rc == 0 && checked)
        printf ("%zu deltas: OK\n", checked);
    free (base);
    free (out);
    zlist_destroy (&files);
    zdir_destroy (&dir);
    return rc? 1: 0;
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
    if (rc == 0)
        rc = s_verify_deltas (repo);
    free (trust);
    return rc;
}
