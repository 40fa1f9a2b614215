/*  fuzz/manifest - libFuzzer target for artifact manifests
    (proto/manifest.c), as bundles and peers bring them. Whatever the
    input, decoding returns a result, never reads outside the input, and
    a manifest that decodes has chunk sizes within the chunker's bounds
    that add up to its size, and reference values that unpack within
    their limits (seeded with the golden manifests, with and without
    reference values).  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/corelib.h"
#include "proto/chunker.h"
#include "proto/manifest.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    manifest_t manifest;
    if (manifest_decode (&manifest, data, size) == 0) {
        assert (manifest.name [0] && manifest.version [0] && manifest.handler [0]);
        assert (manifest.chunk_count <= MANIFEST_CHUNKS_MAX);
        uint64_t total = 0;
        for (size_t i = 0; i < manifest.chunk_count; i++) {
            const uint8_t *hash;
            uint32_t chunk;
            manifest_chunk (&manifest, i, &hash, &chunk);
            assert (hash >= data && hash + 36 <= data + size);
            assert (chunk >= 1 && chunk <= CHUNKER_MAX);
            total += chunk;
        }
        assert (total == manifest.size);
        (void) manifest_fits (&manifest, "gateway");
        assert (manifest.ima_count <= MANIFEST_IMA_MAX
                && manifest.boot_count <= MANIFEST_BOOT_MAX);
        static manifest_refs_t refs;
        assert (manifest_refs (&manifest, &refs) == 0);
        assert (refs.ima_count == manifest.ima_count && refs.boot_count == manifest.boot_count);
        for (size_t i = 0; i < refs.ima_count; i++)
            assert (refs.ima [i].path [0] && strlen (refs.ima [i].path) <= MANIFEST_PATH_MAX);
        for (size_t i = 0; i < refs.boot_count; i++)
            assert (refs.boot [i].pcr <= MANIFEST_PCR_MAX);
    }
    return 0;
}
