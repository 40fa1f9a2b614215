/*  chunker - content-defined chunking of artifacts (FastCDC)
    An artifact is cut where a rolling gear hash of the last 64 bytes
    matches a mask, so an insertion or a change moves only the cuts near
    it: two versions of a file share every chunk outside the edited
    regions, whatever their offsets. Chunks are addressed by BLAKE2b-256
    of their bytes (chunker_hash), so a node holding a chunk never
    fetches it again, whatever artifact it came in.
    Sizes (docs/updates.md, Chunks): at least CHUNKER_MIN bytes, at most
    CHUNKER_MAX, CHUNKER_AVG on average with normalized chunking (a
    stricter mask before the average size, a looser one after it, which
    narrows the spread of sizes around the average). The gear table is
    fixed by the format: splitmix64 from CHUNKER_GEAR_SEED, so every
    implementation cuts the same bytes at the same places. Chunks travel
    and rest zlib-compressed; unpacking checks the size and the address
    before a byte is used.  */

#ifndef WEFT_CHUNKER_H_INCLUDED
#define WEFT_CHUNKER_H_INCLUDED

#include "proto/proto.h"

#define CHUNKER_MIN         (4 * 1024)
#define CHUNKER_AVG         (16 * 1024)
#define CHUNKER_MAX         (64 * 1024)
#define CHUNKER_GEAR_SEED   0x77656674636463ULL     //  "weftcdc"
#define CHUNKER_HASH_SIZE   32
#define CHUNKER_DELTA_BASES 3           //  Base chunks a delta may name
#define CHUNKER_DELTA_WINDOW_LOG 18     //  2^18 >= 3 * CHUNKER_MAX + CHUNKER_MAX

typedef struct _chunker_t chunker_t;

//  A chunker (the gear table of the format). Never NULL.
chunker_t *
    chunker_new (void);
void
    chunker_destroy (chunker_t **self_p);

//  Length of the first chunk of data[0..size). If final is false, data
//  is a window of a longer stream and holds at least CHUNKER_MAX bytes
//  or the answer is 0 (read more first); if final is true, the stream
//  ends at size and the answer is at most size (0 only for size 0).
size_t
    chunker_cut (const chunker_t *self, const uint8_t *data, size_t size, bool final);

//  The address of a chunk: BLAKE2b-256 of its bytes.
void
    chunker_hash (const uint8_t *data, size_t size, uint8_t hash [CHUNKER_HASH_SIZE]);

//  A chunk as it is stored and carried: zlib (RFC 1950) of its bytes.
//  Caller frees *out_p. 0, or PROTO_ERR_VALUE if zlib fails.
int
    chunker_pack (const uint8_t *data, size_t size, uint8_t **out_p, size_t *size_p);

//  Unpack a chunk that must be size bytes (1..CHUNKER_MAX) with address
//  hash into out (size bytes). Inflates no more than size + 1 bytes, so
//  a chunk that would expand further costs nothing. 0, or
//  PROTO_ERR_MALFORMED (not zlib, or longer or shorter than size),
//  PROTO_ERR_SIGNATURE (the bytes do not hash to hash).
int
    chunker_unpack (const uint8_t *packed, size_t packed_size, const uint8_t hash [32],
                    uint8_t *out, size_t size);

//  Resemblance features of a chunk: for each of CHUNKER_FEATURES fixed
//  transforms of the rolling gear hash, its largest value over the
//  chunk. Two chunks that share many features share much content
//  (Broder's min-wise sketch), wherever it moved: how a publisher picks
//  the bases of a delta.
#define CHUNKER_FEATURES    12
void
    chunker_features (const chunker_t *self, const uint8_t *data, size_t size,
                      uint64_t features [CHUNKER_FEATURES]);

//  A chunk as a delta against base chunks the receiver holds (up to
//  CHUNKER_DELTA_BASES of them, concatenated in the order the delta
//  names them): zstd (RFC 8878) with the base as its prefix, level 19.
//  Caller frees *out_p. 0, or PROTO_ERR_VALUE.
int
    chunker_delta (const uint8_t *base, size_t base_size, const uint8_t *data, size_t size,
                   uint8_t **out_p, size_t *size_p);

//  Apply a delta to base (base_size <= CHUNKER_DELTA_BASES *
//  CHUNKER_MAX) into out, which must become size bytes (1..CHUNKER_MAX)
//  with address hash. The frame must state its size; the decoder's
//  window is bounded to the base and one chunk. 0, or
//  PROTO_ERR_MALFORMED (not a zstd frame of that size), PROTO_ERR_SIGNATURE
//  (the bytes do not hash to hash).
int
    chunker_undelta (const uint8_t *delta, size_t delta_size, const uint8_t *base,
                     size_t base_size, const uint8_t hash [32], uint8_t *out, size_t size);

//  A delta as it is stored and carried names its bases:
//      delta = count (1 byte, 1..CHUNKER_DELTA_BASES)
//              || count base addresses (32 bytes each) || zstd frame
//  Split one (pointers into delta). 0 or PROTO_ERR_MALFORMED.
int
    chunker_delta_split (const uint8_t *delta, size_t size, size_t *base_count_p,
                         const uint8_t **bases_p, const uint8_t **frame_p,
                         size_t *frame_size_p);

void
    chunker_test (bool verbose);

#endif
