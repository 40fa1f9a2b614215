/*  apply - benchmark of applying a release's chunks on a device
    A 20 MB release of machine code (this benchmark's own executable,
    tiled, one byte in 4 KiB varied per copy), chunked and packed as
    weft-artifact build does. Figures, medians of RUNS interleaved runs:
      - apply_unpack: chunker_unpack of every chunk (inflate, size and
        BLAKE2b-256 address checked) written in order into the staged
        artifact file, MB/s of artifact, against raw zlib inflate of one
        zlib stream of the whole file written the same way;
      - apply_undelta: the same release, every chunk arriving as a delta
        (chunker_undelta against the earlier version's chunk at the same
        index, 16-byte edits every 16 KiB, hash checked) written the same
        way, MB/s, against the same raw zlib inflate;
      - apply_rss: peak resident memory (getrusage ru_maxrss of a child
        process, exec'd afresh so it inherits nothing) applying the
        packed chunks from a file into the staged artifact, against a
        child inflating the one zlib stream from a file with raw zlib
        streaming into the same place.
    Prints
        BENCH <name> <value> <unit> ratio=<x> vs <comparator>  */

#include <czmq.h>
#include <zlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "proto/chunker.h"
#include "tests/bench/bench.h"

#define RUNS        5
#define SIZE        (20 * 1000 * 1000)
#define IO_BLOCK    (64 * 1024)

typedef struct {
    uint8_t *data;                  //  The artifact
    size_t count;
    size_t *offset;                 //  Per chunk
    uint32_t *size;
    uint8_t (*hash) [32];
    uint8_t **packed;
    size_t *packed_size;
} s_release_t;

//  The artifact: this executable tiled to SIZE bytes
static uint8_t *
s_artifact (uint8_t variant)
{
    zfile_t *file = zfile_new (NULL, "/proc/self/exe");
    zchunk_t *chunk = file && zfile_input (file) == 0? zfile_read (file, 64 << 20, 0): NULL;
    assert (chunk && zchunk_size (chunk) > 0);
    size_t exe_size = zchunk_size (chunk);
    const uint8_t *exe = zchunk_data (chunk);
    uint8_t *data = (uint8_t *) malloc (SIZE);
    assert (data);
    for (size_t at = 0, copy = 0; at < SIZE; at += exe_size, copy++) {
        size_t n = SIZE - at < exe_size? SIZE - at: exe_size;
        memcpy (data + at, exe, n);
        for (size_t i = 0; i < n; i += 4096)
            data [at + i] ^= (uint8_t) (copy + 1);
    }
    for (size_t i = 100; variant && i + 16 <= SIZE; i += 16384)
        for (size_t j = 0; j < 16; j++)
            data [i + j] ^= variant;
    zchunk_destroy (&chunk);
    zfile_destroy (&file);
    return data;
}

static void
s_release_make (s_release_t *self, uint8_t *data)
{
    memset (self, 0, sizeof *self);
    self->data = data;
    size_t max = SIZE / CHUNKER_MIN + 1;
    self->offset = (size_t *) malloc (max * sizeof (size_t));
    self->size = (uint32_t *) malloc (max * sizeof (uint32_t));
    self->hash = malloc (max * 32);
    self->packed = (uint8_t **) malloc (max * sizeof (uint8_t *));
    self->packed_size = (size_t *) malloc (max * sizeof (size_t));
    chunker_t *chunker = chunker_new ();
    for (size_t at = 0; at < SIZE; ) {
        size_t cut = chunker_cut (chunker, data + at, SIZE - at, true);
        size_t c = self->count++;
        self->offset [c] = at;
        self->size [c] = (uint32_t) cut;
        chunker_hash (data + at, cut, self->hash [c]);
        assert (chunker_pack (data + at, cut, &self->packed [c], &self->packed_size [c]) == 0);
        at += cut;
    }
    chunker_destroy (&chunker);
}

static void
s_release_free (s_release_t *self)
{
    for (size_t c = 0; c < self->count; c++)
        free (self->packed [c]);
    free (self->packed);
    free (self->packed_size);
    free (self->hash);
    free (self->size);
    free (self->offset);
    free (self->data);
}

//  One zlib stream of the whole artifact (the comparator's input)
static uint8_t *
s_zlib_whole (const uint8_t *data, size_t size, size_t *out_size)
{
    uLongf bound = compressBound (size);
    uint8_t *out = (uint8_t *) malloc (bound);
    assert (out && compress2 (out, &bound, data, size, Z_DEFAULT_COMPRESSION) == Z_OK);
    *out_size = bound;
    return out;
}

//  The staged artifact, written in blocks as an installer does
static int
s_stage_open (const char *path)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert (fd >= 0);
    return fd;
}

static void
s_write (int fd, const uint8_t *data, size_t size)
{
    while (size) {
        ssize_t n = write (fd, data, size);
        assert (n > 0);
        data += n;
        size -= (size_t) n;
    }
}

//  Raw zlib streaming inflate of in into fd; bytes out
static size_t
s_inflate (const uint8_t *in, size_t in_size, int fd)
{
    z_stream stream;
    memset (&stream, 0, sizeof stream);
    assert (inflateInit (&stream) == Z_OK);
    static uint8_t block [IO_BLOCK];
    stream.next_in = (Bytef *) in;
    stream.avail_in = (uInt) in_size;
    size_t total = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        stream.next_out = block;
        stream.avail_out = sizeof block;
        rc = inflate (&stream, Z_NO_FLUSH);
        assert (rc == Z_OK || rc == Z_STREAM_END);
        s_write (fd, block, sizeof block - stream.avail_out);
        total += sizeof block - stream.avail_out;
    }
    inflateEnd (&stream);
    return total;
}

static double
s_mbps (size_t bytes, int64_t usecs)
{
    return usecs > 0? (double) bytes / (double) usecs: 0;
}

//  --------------------------------------------------------------------------
//  Children for peak memory: exec'd afresh

//  Packed chunks file: per chunk size (4, LE) || packed size (4) || hash (32) || packed
static int
s_child_apply (const char *in_path, const char *out_path)
{
    FILE *in = fopen (in_path, "rb");
    assert (in);
    int fd = s_stage_open (out_path);
    uint8_t *chunk = (uint8_t *) malloc (CHUNKER_MAX);
    uint8_t *packed = (uint8_t *) malloc (CHUNKER_MAX + 1024);
    uint32_t head [2];
    uint8_t hash [32];
    while (fread (head, sizeof head, 1, in) == 1) {
        assert (head [0] <= CHUNKER_MAX && head [1] <= CHUNKER_MAX + 1024);
        assert (fread (hash, 32, 1, in) == 1 && fread (packed, head [1], 1, in) == 1);
        assert (chunker_unpack (packed, head [1], hash, chunk, head [0]) == 0);
        s_write (fd, chunk, head [0]);
    }
    close (fd);
    fclose (in);
    free (chunk);
    free (packed);
    return 0;
}

static int
s_child_inflate (const char *in_path, const char *out_path)
{
    FILE *in = fopen (in_path, "rb");
    assert (in);
    int fd = s_stage_open (out_path);
    z_stream stream;
    memset (&stream, 0, sizeof stream);
    assert (inflateInit (&stream) == Z_OK);
    static uint8_t block_in [IO_BLOCK], block_out [IO_BLOCK];
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (stream.avail_in == 0) {
            stream.avail_in = (uInt) fread (block_in, 1, sizeof block_in, in);
            stream.next_in = block_in;
            assert (stream.avail_in > 0);
        }
        stream.next_out = block_out;
        stream.avail_out = sizeof block_out;
        rc = inflate (&stream, Z_NO_FLUSH);
        assert (rc == Z_OK || rc == Z_STREAM_END);
        s_write (fd, block_out, sizeof block_out - stream.avail_out);
    }
    inflateEnd (&stream);
    close (fd);
    fclose (in);
    return 0;
}

//  Peak RSS (KiB) of this executable run as a child with args
static double
s_child_rss (const char *mode, const char *in_path, const char *out_path)
{
    pid_t pid = fork ();
    assert (pid >= 0);
    if (pid == 0) {
        execl ("/proc/self/exe", "bench-apply", mode, in_path, out_path, (char *) NULL);
        _exit (127);
    }
    int status;
    struct rusage usage;
    assert (wait4 (pid, &status, 0, &usage) == pid);
    assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    return (double) usage.ru_maxrss;
}

//  The children's input files: 1.0's packed chunks, and one zlib stream
//  of it. 0.
static int
s_prepare (const char *packed_path, const char *zlib_path)
{
    s_release_t one;
    s_release_make (&one, s_artifact (0));
    size_t whole_size;
    uint8_t *whole = s_zlib_whole (one.data, SIZE, &whole_size);
    FILE *file = fopen (packed_path, "wb");
    assert (file);
    for (size_t c = 0; c < one.count; c++) {
        uint32_t head [2] = { one.size [c], (uint32_t) one.packed_size [c] };
        assert (fwrite (head, sizeof head, 1, file) == 1
             && fwrite (one.hash [c], 32, 1, file) == 1
             && fwrite (one.packed [c], one.packed_size [c], 1, file) == 1);
    }
    fclose (file);
    file = fopen (zlib_path, "wb");
    assert (file && fwrite (whole, whole_size, 1, file) == 1);
    fclose (file);
    free (whole);
    s_release_free (&one);
    return 0;
}

int
main (int argc, char *argv [])
{
    if (argc == 4 && streq (argv [1], "--child-apply"))
        return s_child_apply (argv [2], argv [3]);
    if (argc == 4 && streq (argv [1], "--child-inflate"))
        return s_child_inflate (argv [2], argv [3]);

    char dir [] = "/tmp/weft-bench-apply.XXXXXX";
    assert (mkdtemp (dir));
    char *staged = zsys_sprintf ("%s/staged", dir);
    char *packed_path = zsys_sprintf ("%s/chunks", dir);
    char *zlib_path = zsys_sprintf ("%s/whole.z", dir);

    //  Peak memory first, while this process is small: a child's peak
    //  counts what it inherited before its exec. The files they read are
    //  made by a child of their own, which takes its memory with it.
    pid_t pid = fork ();
    assert (pid >= 0);
    if (pid == 0)
        _exit (s_prepare (packed_path, zlib_path));
    int status;
    assert (waitpid (pid, &status, 0) == pid && WIFEXITED (status) && !WEXITSTATUS (status));
    double rss_apply [RUNS], rss_zlib [RUNS];
    for (int run = 0; run < RUNS; run++) {
        rss_apply [run] = s_child_rss ("--child-apply", packed_path, staged);
        rss_zlib [run] = s_child_rss ("--child-inflate", zlib_path, staged);
    }
    double apply_kib = bench_median (rss_apply, RUNS);
    double zlib_kib = bench_median (rss_zlib, RUNS);

    s_release_t one, two;
    s_release_make (&one, s_artifact (0));
    s_release_make (&two, s_artifact (0x5a));
    size_t whole_size;
    uint8_t *whole = s_zlib_whole (one.data, SIZE, &whole_size);
    //  2.0's chunks as deltas against 1.0's at the same index
    uint8_t **delta = (uint8_t **) calloc (two.count, sizeof (uint8_t *));
    size_t *delta_size = (size_t *) calloc (two.count, sizeof (size_t));
    size_t *base_of = (size_t *) calloc (two.count, sizeof (size_t));
    for (size_t c = 0; c < two.count; c++) {
        size_t b = c < one.count? c: one.count - 1;
        base_of [c] = b;
        assert (chunker_delta (one.data + one.offset [b], one.size [b],
                               two.data + two.offset [c], two.size [c],
                               &delta [c], &delta_size [c]) == 0);
    }
    double unpack [RUNS], undelta [RUNS], inflate [RUNS];
    uint8_t *chunk = (uint8_t *) malloc (CHUNKER_MAX);
    for (int run = 0; run < RUNS; run++) {
        //  Raw zlib, one stream
        int fd = s_stage_open (staged);
        int64_t start = zclock_usecs ();
        assert (s_inflate (whole, whole_size, fd) == SIZE);
        close (fd);
        inflate [run] = s_mbps (SIZE, zclock_usecs () - start);
        //  chunker_unpack of every chunk
        fd = s_stage_open (staged);
        start = zclock_usecs ();
        for (size_t c = 0; c < one.count; c++) {
            assert (chunker_unpack (one.packed [c], one.packed_size [c], one.hash [c], chunk,
                                    one.size [c]) == 0);
            s_write (fd, chunk, one.size [c]);
        }
        close (fd);
        unpack [run] = s_mbps (SIZE, zclock_usecs () - start);
        //  chunker_undelta of every chunk of 2.0
        fd = s_stage_open (staged);
        start = zclock_usecs ();
        for (size_t c = 0; c < two.count; c++) {
            size_t b = base_of [c];
            assert (chunker_undelta (delta [c], delta_size [c], one.data + one.offset [b],
                                     one.size [b], two.hash [c], chunk, two.size [c]) == 0);
            s_write (fd, chunk, two.size [c]);
        }
        close (fd);
        undelta [run] = s_mbps (SIZE, zclock_usecs () - start);
    }
    double zlib_mbps = bench_median (inflate, RUNS);
    double unpack_mbps = bench_median (unpack, RUNS);
    double undelta_mbps = bench_median (undelta, RUNS);
    printf ("BENCH apply_unpack %.1f MB/s ratio=%.2f vs raw zlib inflate of one stream "
            "(%.1f MB/s; %zu chunks, 20 MB)\n", unpack_mbps, unpack_mbps / zlib_mbps,
            zlib_mbps, one.count);
    printf ("BENCH apply_undelta %.1f MB/s ratio=%.2f vs raw zlib inflate of one stream "
            "(%.1f MB/s)\n", undelta_mbps, undelta_mbps / zlib_mbps, zlib_mbps);
    printf ("BENCH apply_rss %.0f KiB ratio=%.2f vs raw zlib streaming inflate "
            "(%.0f KiB peak RSS)\n", apply_kib, apply_kib / zlib_kib, zlib_kib);

    for (size_t c = 0; c < two.count; c++)
        free (delta [c]);
    free (delta);
    free (delta_size);
    free (base_of);
    free (chunk);
    free (whole);
    s_release_free (&one);
    s_release_free (&two);
    bench_clear (dir);
    free (staged);
    free (packed_path);
    free (zlib_path);
    return 0;
}
