/*  relroot - each tenant's signed release root, as the coordinator holds it
    The root of a tenant's release metadata (proto/release.h) is made
    and signed offline by its root key holders; an admin of the tenant
    gives it to the coordinator (release.root.set), which hands it to
    every device of the tenant at enrolment (ENROL_RESPONSE
    release_root) and puts every root it holds into the tenant's update
    offers, so a device pinned to an old root walks the rotations.
    The first root of a tenant must decode, name the tenant, be signed
    by its own root threshold and be unexpired. Each later one must be
    the next version, signed by a threshold of the stored root's keys
    and of its own (release_trust_update) and unexpired: a root cannot
    be replaced by one its predecessor did not vouch for, nor moved
    back. Every version is kept, under RELROOT_TABLE:
        root/<tenant>/<version, 20 digits>  the signed root
        rootnew/<tenant>                    the newest, the one enrolment gives
    Sans-IO: the caller passes the transaction and the time.  */

#ifndef WEFT_RELROOT_H_INCLUDED
#define WEFT_RELROOT_H_INCLUDED

#include "proto/proto.h"
#include "proto/store.h"
#include "proto/release.h"

#define RELROOT_TABLE       "releases"
#define RELROOT_MAX         (64 * 1024)     //  Largest signed root, bytes

//  Take root (the signed form, as weft-artifact root and sign wrote
//  it) as tenant's newest, checked as above at now_ms. Returns 0 when
//  stored, 1 when it is the newest already (same bytes: nothing
//  written), -1 when refused or PROTO_ERR_IO when the store failed, with error
//  set (the stored roots unchanged). decoded, if not NULL, gets the
//  root's body on 0 or 1.
int
    relroot_set (store_txn_t *txn, const char *tenant, const uint8_t *root, size_t size,
                 uint64_t now_ms, release_root_t *decoded, char *error, size_t error_size);

//  The newest root of tenant (heap, caller frees, *size_p its size), or
//  NULL if the tenant has none.
uint8_t *
    relroot_get (store_txn_t *txn, const char *tenant, size_t *size_p);

//  Call fn for each root of tenant held, oldest first (the bytes are
//  borrowed for the call). fn returns 0 to go on. Returns the number
//  visited, or -1 on a store error.
typedef int (relroot_fn) (void *arg, uint64_t version, const uint8_t *root, size_t size);
int
    relroot_each (store_txn_t *txn, const char *tenant, relroot_fn *fn, void *arg);

void
    relroot_test (bool verbose);

#endif
