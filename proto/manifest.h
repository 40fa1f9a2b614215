/*  manifest - what an artifact is made of: its name and version, the
    device types it fits, its anti-rollback version, the handler that
    installs it, and the ordered list of its content-defined chunks
    Wire form (docs/updates.md, Manifest):
        manifest = [format: 1, name: str(64), version: str(32),
                    anti_rollback: uint, types: str(255), handler: str(32),
                    size: uint, chunks: bin(count * 36)
                    [, ima: bin | nil, boot: bin | nil]]
        chunk    = hash: 32 bytes (BLAKE2b-256 of the chunk's bytes)
                   || size: uint32 big-endian (1..CHUNKER_MAX)
        ima      = [entry: bin(33..287), ...]   1..256 entries, each
                   sha256 (32 bytes) || path (1..255 bytes, no NUL or
                   control character)
        boot     = [entry: bin(33), ...]        1..16 entries, each
                   pcr (1 byte, 0..23) || sha256 (32 bytes)
    ima and boot are the release's reference values: the sha256 file
    digests it installs, as the IMA list shows them, and the event-log
    digests of the boot measurements it introduces (kernel, initrd,
    bootloader) with their PCR. Both are written (nil for an empty one)
    only when the release has any, so a manifest without them is the
    8-item form, byte for byte; a decoder ignores items past the tenth.
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
#define MANIFEST_IMA_MAX        256         //  File digests one release names
#define MANIFEST_BOOT_MAX       16          //  Boot measurements one release names
#define MANIFEST_PATH_MAX       255         //  Bytes of a reference's path
#define MANIFEST_PCR_MAX        23          //  Highest PCR a boot reference names

//  One file a release installs: its sha256 as IMA measures it
typedef struct {
    uint8_t digest [32];
    char path [MANIFEST_PATH_MAX + 1];  //  Informational: the digest is what counts
} manifest_ima_t;

//  One boot measurement a release introduces: an event's sha256 digest
//  as the TCG event log records it, in PCR pcr
typedef struct {
    uint32_t pcr;
    uint8_t digest [32];
} manifest_boot_t;

//  A release's reference values, unpacked (about 70 KiB: allocate it)
typedef struct {
    size_t ima_count;
    manifest_ima_t ima [MANIFEST_IMA_MAX];
    size_t boot_count;
    manifest_boot_t boot [MANIFEST_BOOT_MAX];
} manifest_refs_t;

typedef struct {
    char name [WEFT_NAME_MAX + 1];
    char version [MANIFEST_VERSION_MAX + 1];
    uint64_t anti_rollback;
    char types [MANIFEST_TYPES_MAX + 1];
    char handler [MANIFEST_HANDLER_MAX + 1];
    uint64_t size;                      //  Bytes of the artifact
    size_t chunk_count;
    const uint8_t *chunks;              //  chunk_count entries (borrowed)
    //  Reference values. Encode: refs (NULL or empty: none). Decode:
    //  their counts, and their packed bytes borrowed from data, read
    //  with manifest_refs.
    const manifest_refs_t *refs;
    size_t ima_count, boot_count;
    const uint8_t *ima_packed, *boot_packed;
    size_t ima_packed_size, boot_packed_size;
} manifest_t;

//  Encode. Caller frees *out_p. 0 or a PROTO_ERR_ code (PROTO_ERR_VALUE
//  for sizes that do not add up or a chunk of a size out of bounds).
int
    manifest_encode (const manifest_t *manifest, uint8_t **out_p, size_t *size_p);

//  Decode within the limits above; chunks borrow from data. 0 or a
//  PROTO_ERR_ code; *manifest is zeroed on error.
int
    manifest_decode (manifest_t *manifest, const uint8_t *data, size_t size);

//  The reference values of a decoded manifest, unpacked into refs
//  (checked on decode already). 0 or a PROTO_ERR_ code.
int
    manifest_refs (const manifest_t *manifest, manifest_refs_t *refs);

//  Parse one IMA reference "PATH=SHA256HEX" (the hex after the last
//  '=') into entry. 0, or -1 with the reason in error.
int
    manifest_ima_parse (const char *text, manifest_ima_t *entry, char *error,
                        size_t error_size);

//  Parse one boot reference "PCR:SHA256HEX" into entry. 0, or -1 with
//  the reason in error.
int
    manifest_boot_parse (const char *text, manifest_boot_t *entry, char *error,
                         size_t error_size);

//  Add the file digests of a list to refs: an IMA ascii measurement
//  list ("10 <template> ima-ng sha256:<hex> <path>" lines) or
//  sha256sum output ("<hex>  <path>"); blank and "#" lines skipped.
//  0, or -1 with the reason (naming the line) in error.
int
    manifest_ima_list (const char *text, size_t size, manifest_refs_t *refs, char *error,
                       size_t error_size);

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
