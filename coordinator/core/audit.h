/*  audit - append-only, hash-chained log of operator actions and
    security events
    Records live in the "audit" table under their sequence number (8
    bytes big-endian), as compact JSON: {seq, time, actor, action,
    scope, target, status, detail, prev}, where prev is the BLAKE2b-256
    (hex) of the previous record's stored bytes (zeros for the first).
    The meta table's "audit_head" holds the last seq and the hash of the
    last record, so removing the newest record is detected as well.
    audit_append runs in the caller's transaction, so a record commits
    exactly with the action it describes. audit_verify walks the chain
    and names the first record that was changed, removed or reordered.
    A writer with the database and no other check could rewrite the
    whole chain from some point on: compare the head that verify prints
    with a copy kept elsewhere (docs/registry.md).  */

#ifndef WEFT_AUDIT_H_INCLUDED
#define WEFT_AUDIT_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "node/io/store.h"
#include "coordinator/core/query.h"

#define AUDIT_HASH_SIZE     32          //  BLAKE2b-256
#define AUDIT_LIST_MAX      1000        //  Most records one list returns

//  Append a record. actor: operator name, device id or "coordinator";
//  action: e.g. "twin.set", "enrol", "revoke"; scope: hierarchy path or
//  tenant the action touched ("" = global); target: device, operator
//  or path, may be ""; status: weft_status_t; detail: extra JSON
//  (borrowed, may be NULL). Returns 0 or -1.
int
    audit_append (store_txn_t *txn, uint64_t now_ms, const char *actor,
                  const char *action, const char *scope, const char *target,
                  int status, json_t *detail);

//  Check the whole chain. Returns 0 if intact, else -1 with the reason
//  in error (e.g. "record 5: hash chain broken: record 4 was changed or
//  removed"). *records_p: how many records; head: last hash in hex.
int
    audit_verify (store_txn_t *txn, uint64_t *records_p,
                  char head [2 * AUDIT_HASH_SIZE + 1], char error [WEFT_TEXT_MAX + 1]);

//  The newest up to limit records that match query (NULL = all) and
//  whose scope lies inside one of the scopes, newest first. Query
//  attributes: seq, time, actor, action, scope, target, status. NULL
//  on a store error.
json_t *
    audit_list (store_txn_t *txn, query_t *query, const char **scopes,
                size_t scope_count, size_t limit);

void
    audit_test (bool verbose);

#endif
