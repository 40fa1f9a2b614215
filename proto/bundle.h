/*  bundle - a release in one file, for sites with no uplink or behind a
    one-way data diode: every role, manifest, assignment and chunk it
    needs, checked completely before anything in it is trusted, with no
    round trip
    File form (docs/updates.md, Bundles):
        bundle = magic "weftbnd1" (8 bytes), records..., end record
        record = type (1 byte) || length (uint32 big-endian) || body
    Types, in this order (a record out of order is refused):
        1 root        a signed root, versions ascending (a device walks
                      from the root it trusts; older ones it skips)
        2 timestamp   3 snapshot   4 targets      (one each)
        5 manifest    one per release of the targets the bundle carries
        6 assignment  the director's assignments (any number, none needed
                      to verify the bundle, each checked by its device)
        7 chunk       a packed chunk, BLAKE2b-256 address (32) || packed
                      bytes; only chunks a carried manifest names, once each
        8 delta       optional: a carried chunk as a delta, its address (32)
                      || delta (proto/chunker.h: count || bases || zstd
                      frame), at most one per chunk. For the coordinator,
                      which serves it over a site's uplink; its bases are
                      not in the bundle, so a holder applies it against
                      its own chunks before trusting it, and a node
                      importing the bundle ignores it
        255 end       BLAKE2b-256 of every byte before this record
    The bundle is not signed as a whole: every byte in it is named by the
    chain of trust (chunks by manifests, manifests by targets, targets
    by snapshot and timestamp, those by the root), and the end record
    catches a file cut short. Limits: a record body of at most
    BUNDLE_RECORD_MAX bytes; at most BUNDLE_MANIFESTS_MAX manifests.
    Sans-IO: the caller reads the file and hands each record over.  */

#ifndef WEFT_BUNDLE_H_INCLUDED
#define WEFT_BUNDLE_H_INCLUDED

#include "proto/proto.h"
#include "proto/release.h"
#include "proto/chunker.h"

#define BUNDLE_MAGIC            "weftbnd1"
#define BUNDLE_MAGIC_SIZE       8
#define BUNDLE_HEADER_SIZE      5
#define BUNDLE_RECORD_MAX       WEFT_FRAME_MAX
#define BUNDLE_MANIFESTS_MAX    RELEASE_TARGETS_MAX
#define BUNDLE_DELTA_MAX        (1 + CHUNKER_DELTA_BASES * CHUNKER_HASH_SIZE + CHUNKER_MAX + 1024)
#define BUNDLE_ASSIGNMENT_MAX   1024    //  Largest assignment record an offer carries
//  What an offer adds to the records every offer shares: its assignment
//  record and the end record (the director and a site server size an
//  offer alike with it)
#define BUNDLE_OFFER_EXTRA      (2 * BUNDLE_HEADER_SIZE + BUNDLE_ASSIGNMENT_MAX + 32)

typedef enum {
    BUNDLE_ROOT = 1,
    BUNDLE_TIMESTAMP = 2,
    BUNDLE_SNAPSHOT = 3,
    BUNDLE_TARGETS = 4,
    BUNDLE_MANIFEST = 5,
    BUNDLE_ASSIGNMENT = 6,
    BUNDLE_CHUNK = 7,
    BUNDLE_DELTA = 8,
    BUNDLE_END = 255
} bundle_record_t;

typedef struct _bundle_check_t bundle_check_t;

//  Check a bundle against trust (what the device or publisher trusts;
//  copied, and moved forward by the bundle's roles). Never NULL.
bundle_check_t *
    bundle_check_new (const release_trust_t *trust, uint64_t now_ms);
void
    bundle_check_destroy (bundle_check_t **self_p);

//  The file's first bytes. 0 or PROTO_ERR_VERSION.
int
    bundle_check_magic (bundle_check_t *self, const uint8_t magic [BUNDLE_MAGIC_SIZE]);

//  A record's header: its type and body length. 0, or PROTO_ERR_OVERSIZE
//  or PROTO_ERR_MALFORMED (an unknown type).
int
    bundle_header (const uint8_t header [BUNDLE_HEADER_SIZE], bundle_record_t *type_p,
                   size_t *length_p);

//  Take the record whose header and body these are. RELEASE_OK, or a
//  release_result_t: RELEASE_ORDER for a record out of order,
//  RELEASE_MISMATCH for a manifest no target names, a chunk no manifest
//  names or one carried twice, a chunk that does not unpack to its
//  address, or an end record whose hash differs; or the refusal of a role.
int
    bundle_check_record (bundle_check_t *self, const uint8_t header [BUNDLE_HEADER_SIZE],
                         const uint8_t *body, size_t size);

//  After the end record: RELEASE_OK if the bundle was whole, else
//  RELEASE_MALFORMED (cut short).
int
    bundle_check_done (bundle_check_t *self);

//  What the bundle made trusted (valid after bundle_check_done == 0).
const release_trust_t *
    bundle_check_trust (bundle_check_t *self);

//  Chunks the bundle carried, and chunks its manifests name that it did
//  not carry (a device may hold them already).
size_t
    bundle_check_chunks (bundle_check_t *self, size_t *missing_p);

//  The body of the first record of type in a bundle held in memory (an
//  offer's metadata), not checked beyond its framing: 0, or -1 if there
//  is none or the bundle is cut or malformed before it.
int
    bundle_find (const uint8_t *data, size_t size, bundle_record_t type,
                 const uint8_t **body_p, size_t *length_p);

//  Write a record header.
void
    bundle_header_put (uint8_t header [BUNDLE_HEADER_SIZE], bundle_record_t type,
                       size_t length);

//  An UPDATE_OFFER's metadata: common (magic, roots, roles and manifest
//  records, no end record) + an ASSIGNMENT record of the assignment's
//  body + the END record over every byte before it. Returns a heap
//  buffer (free()) and sets *size_p. The director builds the same bytes
//  for a batch with a cached hash state (director_batch_offer); a site
//  server builds them from a site directive.
uint8_t *
    bundle_offer_compose (const uint8_t *common, size_t common_size,
                          const uint8_t *assignment, size_t assignment_size,
                          size_t *size_p);

void
    bundle_test (bool verbose);

#endif
