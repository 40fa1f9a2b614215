/*  devquery - run a device query (coordinator/core/query.h) over the
    registry within an operator's scopes, using the secondary indexes
    The planner takes the equality and prefix terms that every match
    must satisfy (query_index_terms) plus the caller's scopes, reads the
    index entries of each (most selective attributes first, each scan
    capped at the size of the smallest set found so far), intersects
    the sets that completed, and runs query_match on what is left. With
    no usable index and a global scope it scans the devices table.
    Results come in id order. devquery_brute is the reference evaluator
    the property test compares against.  */

#ifndef WEFT_DEVQUERY_H_INCLUDED
#define WEFT_DEVQUERY_H_INCLUDED

#include <jansson.h>
#include "coordinator/core/query.h"
#include "coordinator/core/registry.h"

#define DEVQUERY_SCOPES_MAX     16      //  Grants per operator

//  Where and as whom a query runs
typedef struct {
    registry_t *registry;           //  Liveness, for "online"; may be NULL
    store_txn_t *txn;               //  Read or write transaction
    uint64_t now_ms;                //  For "online"
    const char *scopes [DEVQUERY_SCOPES_MAX];   //  "" = everything
    size_t scope_count;             //  0 = nothing is visible
} devquery_ctx_t;

//  Called per matching device, decoded (borrowed for the call; its JSON
//  from registry_device_json). Returns 0 to go on.
typedef int (devquery_fn) (void *arg, registry_device_t *device);

//  Does the subtree grant cover path? "" covers everything; "a/b"
//  covers "a/b" and "a/b/..." but not "a/bc".
bool
    devquery_covers (const char *grant, const char *path);

//  Is the device inside one of the context's scopes?
bool
    devquery_visible (const devquery_ctx_t *ctx, json_t *device);

//  Run query (NULL = every visible device). Returns how many devices
//  matched (fn was called for each, until it returned non-zero), or -1
//  on a store error. *examined_p (if not NULL) gets the number of
//  candidate records read.
int64_t
    devquery_run (const devquery_ctx_t *ctx, query_t *query, devquery_fn *fn,
                  void *arg, size_t *examined_p);

//  The same result by scanning every device; for tests and comparison.
int64_t
    devquery_brute (const devquery_ctx_t *ctx, query_t *query, devquery_fn *fn,
                    void *arg);

//  query_attr_fn over a decoded device record; arg is a devquery_attr_t.
typedef struct {
    const devquery_ctx_t *ctx;
    registry_device_t *device;
    char buf [256];                 //  Derived values
} devquery_attr_t;

const char *
    devquery_attr (const char *name, void *arg);

void
    devquery_test (bool verbose);

#endif
