/*  policy - the site-wide policy objects a node holds, and their lookup
    Objects are CA-signed (proto/policymsg.h): kind, name, version and
    content. The store keeps the newest version of each (kind, name) in
    LMDB, verified before it is stored and again when it is loaded; an
    older or equal version is refused, never stored. In memory it keeps
    only an index (key -> version and a digest of the object) grouped
    in POLICYMSG_BUCKETS buckets by a hash of the key, with one XOR
    digest per bucket and a root digest over them, so two holders can
    find where they differ without listing everything (gossip.h).

    Kinds published by the coordinator today (content is UTF-8 text),
    one of each per tenant (policymsg_name: "<tenant>/<name>", and the
    plain name for the devices without a tenant):
        profile/<tenant>/<device type>  the security profile of a device
                                type of the tenant, JSON as set by
                                weftctl attest profile set
        allowlist/<tenant>/fleet    the tenant's IMA allowlist, sha256sum
                                lines
    Other features read them with policy_get (any code holding the
    store, inside its own read transaction) or policy_store_get (the
    mesh's copy, mesh_policies). No I/O besides the store given.  */

#ifndef WEFT_POLICY_H_INCLUDED
#define WEFT_POLICY_H_INCLUDED

#include "proto/proto.h"
#include "proto/policymsg.h"
#include "proto/store.h"

#define POLICY_KEY_PREFIX       "policy/"           //  Inside the table and prefix given
#define POLICY_OBJECTS_MAX      1024                //  (kind, name) pairs held
#define POLICY_BYTES_MAX        (64 * 1024 * 1024)  //  Bytes of objects held

//  Kinds the coordinator publishes, and the allowlist's name in a tenant
#define POLICY_KIND_PROFILE     "profile"
#define POLICY_KIND_ALLOWLIST   "allowlist"
#define POLICY_ALLOWLIST_NAME   "fleet"

//  What became of an offered object
typedef enum {
    POLICY_STORED = 0,              //  New, or newer than the one held
    POLICY_DUPLICATE = 1,           //  The same version held already
    POLICY_STALE = 2,               //  Older than the one held
    POLICY_FORGED = 3,              //  Unsigned, or not signed by our CA
    POLICY_MALFORMED = 4,           //  Signed bytes that do not decode
    POLICY_FULL = 5,                //  A new key beyond the limits
    POLICY_STORE_FAILED = 6         //  The write did not commit
} policy_offer_t;

//  A policy, read and verified: a copy the caller owns
typedef struct {
    char kind [POLICYMSG_KIND_MAX + 1];
    char name [POLICYMSG_NAME_MAX + 1];
    uint64_t version;
    uint8_t *content;               //  Heap, NUL-terminated (not counted in size)
    size_t content_size;
} policy_t;

typedef struct _policy_store_t policy_store_t;

//  --- Lookup for other features (no policy_store_t needed)

//  The held (kind, name), verified again with ca_key. Returns 0 with
//  *policy filled (policy_free it), 1 if none is held (or it does not
//  verify: logged), -1 on a store error. table and prefix as the
//  holder's (the daemon's mesh: MESH_TABLE, "").
int
    policy_get (store_txn_t *txn, const char *table, const char *prefix, const char *kind,
                const char *name, const uint8_t ca_key [WEFT_KEY_SIZE], policy_t *policy);

//  Free a policy's content; safe twice.
void
    policy_free (policy_t *policy);

//  --- The holder's store

//  Objects under table, keys prefix + POLICY_KEY_PREFIX + "kind/name".
policy_store_t *
    policy_store_new (store_t *store, const char *table, const char *prefix,
                      const uint8_t ca_key [WEFT_KEY_SIZE]);

void
    policy_store_destroy (policy_store_t **self_p);

//  Build the index from the store; objects that no longer verify are
//  skipped (logged). Returns the number held, or -1 on a store error.
int
    policy_store_load (policy_store_t *self);

//  Verify and keep an object if it is newer than the one held. Writes
//  it in its own transaction. key gets "kind/name" (may be NULL;
//  POLICYMSG_KEY_MAX + 1) and *version_p its version (may be NULL)
//  whenever it decoded. Returns a policy_offer_t.
int
    policy_store_offer (policy_store_t *self, const uint8_t *object, size_t size,
                        char *key, uint64_t *version_p);

//  Version held of key ("kind/name"), 0 if none.
uint64_t
    policy_store_version (policy_store_t *self, const char *key);

//  The held object's bytes (as signed) of key, or NULL. Caller frees.
uint8_t *
    policy_store_object (policy_store_t *self, const char *key, size_t *size_p);

//  The same as policy_get, on this store.
int
    policy_store_get (policy_store_t *self, const char *kind, const char *name,
                      policy_t *policy);

//  Objects held.
size_t
    policy_store_count (policy_store_t *self);

//  Root digest (POLICYMSG_DIGEST_SIZE) and bucket digests
//  (POLICYMSG_BUCKETS * POLICYMSG_DIGEST_SIZE, borrowed).
void
    policy_store_root (policy_store_t *self, uint8_t root [POLICYMSG_DIGEST_SIZE]);
const uint8_t *
    policy_store_buckets (policy_store_t *self);

//  Bucket of a key.
size_t
    policy_bucket (const char *key);

//  Call fn for each key held in bucket; fn returns non-zero to stop.
typedef int (policy_each_fn) (void *arg, const char *key, uint64_t version);
void
    policy_store_each (policy_store_t *self, size_t bucket, policy_each_fn *fn, void *arg);

void
    policy_test (bool verbose);

#endif
