/*  artrepo - the coordinator's artifact repository, per tenant
    A publisher's release reaches the coordinator as a bundle
    (proto/bundle.h, weft-artifact bundle) uploaded in parts: one RPC
    carries at most 64 KiB of arguments, a release megabytes. An upload
    is a session in memory (begin, parts in order, at most
    ARTREPO_UPLOADS_MAX at once, each expiring ARTREPO_TTL_MS after its
    last part, at most ARTREPO_BUNDLE_MAX bytes) that checks the bundle
    record by record as it arrives (bundle_check_record) from what the
    coordinator trusts for the tenant: its stored release root
    (relroot.h) and the newest publication stored before, so neither an
    older publication nor another publisher's gets in. Records wait in
    ARTREPO_TABLE under the upload's id, invisible; only when the end
    record checks are they taken in, in that part's transaction: newer
    roots, the timestamp, snapshot and targets, each manifest as a
    release of the tenant, its chunks into the chunkstore (proto/
    chunkstore.h), pinned by the manifest. A refused part ends the
    upload and drops what it staged: the repository is as it was.
    Records in ARTREPO_TABLE:
        stage/<id>/<n, 8 digits>        a staged record: type || body
        meta/<tenant>/<role>            newest timestamp, snapshot, targets
        rel/<tenant>/<name>/<version>   a release: JSON (see artrepo_show)
        man/<tenant>/<name>/<version>   its manifest's bytes
        mh/<tenant>/<manifest hash hex> "name/version": the release by hash
        delta/<tenant>/<address hex>    a chunk as a delta (proto/chunker.h),
                                        from a bundle's delta record, kept
                                        once it applied to its chunk here
    Sans-IO: the caller passes transactions and the time.  */

#ifndef WEFT_ARTREPO_H_INCLUDED
#define WEFT_ARTREPO_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "proto/store.h"
#include "proto/chunkstore.h"
#include "proto/release.h"

#define ARTREPO_TABLE           "artifacts"
#define ARTREPO_UPLOADS_MAX     4                       //  Uploads at once
#define ARTREPO_TTL_MS          (5 * 60 * 1000)         //  Idle upload expires
#define ARTREPO_BUNDLE_MAX      (4ULL << 30)            //  Bytes of one bundle
#define ARTREPO_PART_MAX        30000                   //  Bytes of one part
#define ARTREPO_BUDGET          (8ULL << 30)            //  Unpinned chunk bytes kept

typedef struct _artrepo_t artrepo_t;

//  Over store (with ARTREPO_TABLE, CHUNKSTORE_TABLE and relroot's
//  table). NULL if the chunkstore cannot be read.
artrepo_t *
    artrepo_new (store_t *store);
void
    artrepo_destroy (artrepo_t **self_p);

//  Begin an upload of size bytes for tenant, by owner. Returns a
//  weft_status_t; on OK id gets the upload's id (16 hex).
int
    artrepo_begin (artrepo_t *self, store_txn_t *txn, const char *owner, const char *tenant,
                   uint64_t size, uint64_t now_ms, char id [17],
                   char error [WEFT_TEXT_MAX + 1]);

//  Part of upload id at offset (the bytes received so far; a part
//  already received is acknowledged again). Returns a weft_status_t;
//  *result_p gets {upload, received, size} and, once the bundle is
//  whole and taken in, {releases: [{name, version}], chunks, deltas, tenant}
//  (caller decrefs). On a refusal the upload is gone and what it staged
//  is deleted in txn.
int
    artrepo_part (artrepo_t *self, store_txn_t *txn, const char *owner, const char *id,
                  uint64_t offset, const uint8_t *data, size_t size, uint64_t now_ms,
                  json_t **result_p, char error [WEFT_TEXT_MAX + 1]);

//  The caller's write transaction was aborted: end every upload (it
//  may have advanced them) and delete what they staged, in a write
//  transaction of its own (call it with none open); read the
//  chunkstore's totals again.
void
    artrepo_aborted (artrepo_t *self);

//  Releases of tenant (name NULL: all), as {releases: [...]}.
json_t *
    artrepo_list (store_txn_t *txn, const char *tenant, const char *name);

//  One release {name, version, manifest_hash, manifest_size, size,
//  chunks, types, handler, anti_rollback, added_ms}, or NULL.
json_t *
    artrepo_show (store_txn_t *txn, const char *tenant, const char *name,
                  const char *version);

//  What the coordinator trusts for tenant at now_ms: its stored root,
//  then the newest timestamp, snapshot and targets taken in, as far as
//  they check (an expired one and those below it are left out). 0, or
//  -1 when the tenant has no root.
int
    artrepo_trust (store_txn_t *txn, const char *tenant, uint64_t now_ms,
                   release_trust_t *trust);

//  The newest signed role (RELEASE_TARGETS, _SNAPSHOT or _TIMESTAMP)
//  of tenant taken in (heap), or NULL.
uint8_t *
    artrepo_meta (store_txn_t *txn, const char *tenant, release_role_t role, size_t *size_p);

//  A release's manifest bytes (heap), or NULL.
uint8_t *
    artrepo_manifest (store_txn_t *txn, const char *tenant, const char *name,
                      const char *version, size_t *size_p);

//  Remove a release: its chunks are unpinned (evicted when the budget
//  needs room). Returns a weft_status_t.
int
    artrepo_remove (artrepo_t *self, store_txn_t *txn, const char *tenant, const char *name,
                    const char *version, char error [WEFT_TEXT_MAX + 1]);

chunkstore_t *
    artrepo_chunks (artrepo_t *self);

//  The packed chunk at address (heap, caller frees) and its unpacked
//  size, if tenant holds a release whose manifest hashes to manifest and
//  names that address, and the chunk is held; else NULL. The addresses
//  of the release served last are kept in memory.
uint8_t *
    artrepo_serve (artrepo_t *self, store_txn_t *txn, const char *tenant,
                   const uint8_t manifest [32], const uint8_t address [32], size_t *size_p,
                   uint32_t *chunk_size_p);

//  The chunk at address as a delta (heap, caller frees: count || bases
//  || zstd frame), if tenant's upload brought one and every base it
//  names is a chunk of a release of tenant whose manifest hash is in
//  have (have_count hashes, 1..UPDMSG_HAVE_MAX: what the asker holds in
//  full); else NULL. The caller checks it is smaller than the packed
//  chunk, and serves it only for an address artrepo_serve serves.
uint8_t *
    artrepo_serve_delta (artrepo_t *self, store_txn_t *txn, const char *tenant,
                         const uint8_t *have, size_t have_count, const uint8_t address [32],
                         size_t *size_p);

void
    artrepo_test (bool verbose);

#endif
