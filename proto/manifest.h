/*  manifest - what an artifact is made of: its name and version, the
    device types it fits, its anti-rollback version, the handler that
    installs it, and the ordered list of its content-defined chunks
    Wire form (docs/updates.md, Manifest):
        manifest = [format: 1, name: str(64), version: str(32),
                    anti_rollback: uint, types: str(255), handler: str(32),
                    size: uint, chunks: bin(count * 36)]
        chunk    = hash: 32 bytes (BLAKE2b-256 of the chunk's bytes)
                   || size: uint32 big-endian (1..CHUNKER_MAX)
    types is a comma-separated list of device types ("gateway,server"),
    "*" for any. size is the sum of the chunk sizes, checked on decode.
    A manifest is not signed itself: release metadata (proto/release.h)
    names it by its BLAKE2b-256 hash, which a device checks before it
    reads a byte of it. Pure functions over bytes.  */

#ifndef WEFT_MANIFEST_H_INCLUDED
#define WEFT_MANIFEST_H_INCLUDED

#include "proto/proto.h"

#define MANIFEST_FORMAT         1
#define MANIFEST_VERSION_MAX    32          //  Version text, e.g. "2.4.1"
#define MANIFEST_TYPES_MAX      255
#define MANIFEST_HANDLER_MAX    32
#define MANIFEST_ENTRY_SIZE     36          //  hash || be32 size
#define MANIFEST_CHUNKS_MAX     ((WEFT_FRAME_MAX - 4096) / MANIFEST_ENTRY_SIZE)
#define MANIFEST_SIZE_MAX       ((uint64_t) MANIFEST_CHUNKS_MAX * 64 * 1024)

typedef struct {
    char name [WEFT_NAME_MAX + 1];
    char version [MANIFEST_VERSION_MAX + 1];
    uint64_t anti_rollback;
    char types [MANIFEST_TYPES_MAX + 1];
    char handler [MANIFEST_HANDLER_MAX + 1];
    uint64_t size;                      //  Bytes of the artifact
    size_t chunk_count;
    const uint8_t *chunks;              //  chunk_count entries (borrowed)
} manifest_t;

//  Encode. Caller frees *out_p. 0 or a PROTO_ERR_ code (PROTO_ERR_VALUE
//  for sizes that do not add up or a chunk of a size out of bounds).
int
    manifest_encode (const manifest_t *manifest, uint8_t **out_p, size_t *size_p);

//  Decode within the limits above; chunks borrow from data. 0 or a
//  PROTO_ERR_ code; *manifest is zeroed on error.
int
    manifest_decode (manifest_t *manifest, const uint8_t *data, size_t size);

//  Chunk index of a decoded manifest: its hash and size.
void
    manifest_chunk (const manifest_t *manifest, size_t index, const uint8_t **hash_p,
                    uint32_t *size_p);

//  Does the manifest fit a device of type?
bool
    manifest_fits (const manifest_t *manifest, const char *type);

void
    manifest_test (bool verbose);

#endif
