/*  chunkstore - the chunks a node holds for updates, under a byte budget
    Every node keeps the chunks of the releases it installed or will
    install, and a site server those of its whole site: each fetched
    once over the uplink, then served to the site from here. Chunks are
    kept packed (proto/chunker.h) under their BLAKE2b-256 address, in
    one LMDB table (CHUNKSTORE_TABLE), every key under the caller's
    prefix ("" in the daemon and the coordinator, the node's own prefix
    in weft-sim, where all nodes share one store):
        'c' address          -> last use (be64) || size (be32) || packed bytes
        'l' last use address -> (empty)      unpinned chunks, least recently used first
        'p' address manifest -> (empty)      pinned by a release that needs it
        'm' "bytes", "tick"  -> be64         totals, kept with every change
    weft-sim's nodes may share the packed bytes (chunkstore_share): then
    'c' keeps last use || size || packed size (be32), and the bytes are
    kept once per address for the whole store under the shared prefix,
    counted by the chunk stores holding them:
        'b' address          -> packed bytes
        'r' address          -> be64         chunk stores holding it
    Budget, eviction, pins and what is held stay each chunk store's own:
    a node that evicted a chunk does not hold it because another does.
    When the packed bytes pass the budget, the least recently used
    chunks that no pinned release needs are evicted, in the transaction
    that passed it: pinned chunks are not in the eviction order at all,
    so an eviction never walks past them. Pinned chunks are never evicted: a budget smaller
    than the releases in use is exceeded and said so (chunkstore_over).
    Works inside the caller's transaction; no I/O of its own.  */

#ifndef WEFT_CHUNKSTORE_H_INCLUDED
#define WEFT_CHUNKSTORE_H_INCLUDED

#include "proto/store.h"
#include "proto/manifest.h"

#define CHUNKSTORE_TABLE        "chunks"
#define CHUNKSTORE_EVICT_SCAN   256         //  Chunks evicted at most per call

typedef struct _chunkstore_t chunkstore_t;

//  Over store (opened with CHUNKSTORE_TABLE among its tables), keeping
//  at most budget packed bytes of unpinned chunks, all keys under
//  prefix (NULL or "" for none; at most WEFT_NAME_MAX bytes, and no
//  prefix may begin with another's). Reads the totals in a transaction
//  of its own. NULL if the store cannot be read or prefix is too long.
chunkstore_t *
    chunkstore_new (store_t *store, const char *prefix, uint64_t budget);
void
    chunkstore_destroy (chunkstore_t **self_p);

//  Keep packed bytes once per address under shared (a prefix no chunk
//  store's own begins with, nor it with theirs), for every chunk store
//  of the store that shares it; this one keeps only its index. Call
//  before the first put, and always or never over the same prefix: a
//  simulator's memory saving, not for weft-node. 0, or -1 if shared
//  is longer than a name.
int
    chunkstore_share (chunkstore_t *self, const char *shared);

//  Hold a packed chunk the caller checked (chunker_unpack) under its
//  address; chunk_size is its unpacked size. Holding it already only
//  marks it used. Evicts to the budget. 0 or -1 (store error: the
//  caller aborts txn).
int
    chunkstore_put (chunkstore_t *self, store_txn_t *txn, const uint8_t hash [32],
                    const uint8_t *packed, size_t packed_size, uint32_t chunk_size);

//  The packed chunk under hash (caller frees) and its unpacked size,
//  or NULL if not held.
uint8_t *
    chunkstore_get (chunkstore_t *self, store_txn_t *txn, const uint8_t hash [32],
                    size_t *packed_size_p, uint32_t *chunk_size_p);

bool
    chunkstore_has (chunkstore_t *self, store_txn_t *txn, const uint8_t hash [32]);

//  Mark a held chunk used now (served to a peer, read to install). 0 or -1.
int
    chunkstore_touch (chunkstore_t *self, store_txn_t *txn, const uint8_t hash [32]);

//  Pin (or unpin) every chunk of a release's manifest, named by the
//  manifest's hash: pinned chunks are never evicted. 0 or -1.
int
    chunkstore_pin (chunkstore_t *self, store_txn_t *txn, const uint8_t manifest_hash [32],
                    const manifest_t *manifest);
int
    chunkstore_unpin (chunkstore_t *self, store_txn_t *txn, const uint8_t manifest_hash [32],
                      const manifest_t *manifest);

//  Apply a delta (count || base addresses || zstd frame, proto/
//  chunker.h) against the bases held here, into out, which must become
//  size bytes (1..CHUNKER_MAX) with address hash. 0; -1 if a base is not
//  held (or not as packed); PROTO_ERR_MALFORMED (a delta that does not
//  split or decode to size bytes) or PROTO_ERR_SIGNATURE (the bytes do
//  not hash to hash). Bounded work: at most CHUNKER_DELTA_BASES bases.
int
    chunkstore_undelta (chunkstore_t *self, store_txn_t *txn, const uint8_t *delta,
                        size_t delta_size, const uint8_t hash [32], uint8_t *out, size_t size);

//  Packed bytes held, and chunks held.
uint64_t
    chunkstore_bytes (chunkstore_t *self);
uint64_t
    chunkstore_count (chunkstore_t *self);

//  True when pinned chunks alone pass the budget (the last eviction
//  found nothing it could evict).
bool
    chunkstore_over (chunkstore_t *self);

//  After a write transaction of the caller's was aborted: read the
//  totals again. 0 or -1.
int
    chunkstore_reload (chunkstore_t *self);

void
    chunkstore_test (bool verbose);

#endif
