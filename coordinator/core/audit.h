/*  audit - append-only, hash-chained log of operator actions and
    security events
    Records live in the "audit" table under their sequence number (8
    bytes big-endian), as compact JSON: {seq, time, actor, action,
    scope, target, status, detail, prev}, where prev is the BLAKE2b-256
    (hex) of the previous record's stored bytes (zeros for the first).
    The meta table's "audit_head" holds the last seq and the hash of the
    last record, signed with the CA key at every append (context
    weft-audit-head-v1 over "<seq> <hash>"), so removing the newest
    records is detected even if the head is rewritten to match.
    audit_append runs in the caller's transaction, so a record commits
    exactly with the action it describes. audit_verify walks the chain
    and names the first record that was changed, removed or reordered.
    Someone with the database and an older signed head could still roll
    the log back to it: an operator exports the signed head (audit_head)
    and keeps it elsewhere, and verify with that anchor fails if the
    anchored record is gone or changed (docs/registry.md).  */

#ifndef WEFT_AUDIT_H_INCLUDED
#define WEFT_AUDIT_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "node/io/store.h"
#include "coordinator/core/query.h"
#include "coordinator/core/pki.h"

#define AUDIT_HASH_SIZE     32          //  BLAKE2b-256
#define AUDIT_LIST_MAX      1000        //  Most records one list returns

//  The head: last seq, its record's hash, the CA's signature (hex; ""
//  if not signed). Also the form of an anchor kept outside.
typedef struct {
    uint64_t seq;
    char hash [2 * AUDIT_HASH_SIZE + 1];
    char sig [2 * WEFT_SIG_SIZE + 1];
} audit_head_t;

//  Read the head. Returns 0, or -1 if it is corrupt.
int
    audit_head (store_txn_t *txn, audit_head_t *head);

//  Does the head's signature verify with the CA key? 0 or -1.
int
    audit_head_check (const audit_head_t *head, const uint8_t ca_key [WEFT_KEY_SIZE]);

//  Sign a head written before heads were signed (at start). 0 or -1.
int
    audit_sign_head (store_txn_t *txn, pki_t *pki);

//  Append a record and sign the new head with the CA key (pki). actor: operator name, device id or "coordinator";
//  action: e.g. "twin.set", "enrol", "revoke"; scope: hierarchy path or
//  tenant the action touched ("" = global); target: device, operator
//  or path, may be ""; status: weft_status_t; detail: extra JSON
//  (borrowed, may be NULL). Returns 0 or -1.
int
    audit_append (store_txn_t *txn, pki_t *pki, uint64_t now_ms, const char *actor,
                  const char *action, const char *scope, const char *target,
                  int status, json_t *detail);

//  Check the whole chain and the head's signature (ca_key), and with an
//  anchor (a signed head kept outside, may be NULL) that the anchored
//  record is still there unchanged. Returns 0 if intact, else -1 with
//  the reason in error (e.g. "record 5: hash chain broken: record 4 was
//  changed or removed"). *records_p: how many records; head: last hash
//  in hex.
int
    audit_verify (store_txn_t *txn, const uint8_t ca_key [WEFT_KEY_SIZE],
                  const audit_head_t *anchor, uint64_t *records_p,
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
