/*  audit - append-only, hash-chained logs of operator actions and
    security events: one for the deployment, one per tenant
    The deployment chain holds every record: the "audit" table, under
    its sequence number (8 bytes big-endian), as compact JSON {seq, time,
    actor, action, scope, target, status, source, tenant, detail, prev},
    where prev is the BLAKE2b-256 (hex) of the previous record's stored
    bytes (zeros for the first), source the peer address of the request
    ("" if none) and tenant the tenant it concerns ("" if none).
    A record that concerns a tenant is also appended, as a record of its
    own, to that tenant's chain ("audit_tenant" table, key "<tenant>/"
    and its 8-byte sequence number in that chain), with its own seq and
    prev, so a tenant's auditor reads, verifies and anchors the chain of
    its tenant without learning anything of the others, not even how
    many records they have. An action that touches several tenants (a
    deployment operator's batch) gets one record per tenant there, each
    with that tenant's part only.
    Each chain's head (last seq and the hash of the last record) is kept
    in the meta table ("audit_head", "audit_head/<tenant>") and signed
    with the CA key at every append (context weft-audit-head-v1 over
    "<seq> <hash>" for the deployment, weft-audit-tenant-head-v1 over
    "<tenant> <seq> <hash>" for a tenant), so removing the newest records
    is detected even if the head is rewritten to match. audit_append runs
    in the caller's transaction, so records commit exactly with the
    action they describe. audit_verify walks a chain and names the first
    record that was changed, removed or reordered. Someone with the
    database and an older signed head could still roll a chain back to
    it: an auditor exports the signed head (audit_head) and keeps it
    elsewhere, and verify with that anchor fails if the anchored record
    is gone or changed (docs/registry.md).  */

#ifndef WEFT_AUDIT_H_INCLUDED
#define WEFT_AUDIT_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "proto/store.h"
#include "coordinator/core/query.h"
#include "coordinator/core/pki.h"

#define AUDIT_HASH_SIZE     32          //  BLAKE2b-256
#define AUDIT_LIST_MAX      1000        //  Most records one list returns

//  The head of a chain: its tenant ("" = the deployment), last seq, its
//  record's hash, the CA's signature (hex; "" if not signed). Also the
//  form of an anchor kept outside.
typedef struct {
    char tenant [WEFT_NAME_MAX + 1];
    uint64_t seq;
    char hash [2 * AUDIT_HASH_SIZE + 1];
    char sig [2 * WEFT_SIG_SIZE + 1];
} audit_head_t;

//  One record to append
typedef struct {
    const char *actor;              //  Operator name, device id or "coordinator"
    const char *action;             //  e.g. "twin.set", "enrol", "revoke"
    const char *scope;              //  Hierarchy path or tenant touched ("" = none)
    const char *target;             //  Device, operator or path, may be NULL
    int status;                     //  weft_status_t
    json_t *detail;                 //  Extra JSON, borrowed, may be NULL
    const char *source;             //  Peer address of the request, may be NULL
    const char *tenant;             //  Tenant concerned: its chain gets it too; NULL = none
} audit_entry_t;

//  Read the head of tenant's chain ("" = the deployment's). Returns 0,
//  or -1 if it is corrupt.
int
    audit_head (store_txn_t *txn, const char *tenant, audit_head_t *head);

//  Does the head's signature verify with the CA key? 0 or -1.
int
    audit_head_check (const audit_head_t *head, const uint8_t ca_key [WEFT_KEY_SIZE]);

//  Sign a deployment head written before heads were signed (at start).
//  0 or -1.
int
    audit_sign_head (store_txn_t *txn, pki_t *pki);

//  Append a record to the deployment chain and, if entry->tenant is set,
//  to that tenant's chain; sign the new heads with the CA key (pki).
//  Returns 0 or -1.
int
    audit_append (store_txn_t *txn, pki_t *pki, uint64_t now_ms, const audit_entry_t *entry);

//  Append a record to tenant's chain only (the tenant's part of an
//  action whose deployment record was appended without a tenant).
int
    audit_append_tenant (store_txn_t *txn, pki_t *pki, uint64_t now_ms, const char *tenant,
                         const audit_entry_t *entry);

//  Check tenant's chain ("" = the deployment's) and its head's
//  signature (ca_key), and with an anchor (a signed head of that chain
//  kept outside, may be NULL) that the anchored record is still there
//  unchanged. Returns 0 if intact, else -1 with the reason in error
//  (e.g. "record 5: hash chain broken: record 4 was changed or
//  removed"). *records_p: how many records; head: last hash in hex.
int
    audit_verify (store_txn_t *txn, const uint8_t ca_key [WEFT_KEY_SIZE], const char *tenant,
                  const audit_head_t *anchor, uint64_t *records_p,
                  char head [2 * AUDIT_HASH_SIZE + 1], char error [WEFT_TEXT_MAX + 1]);

//  The newest up to limit records of tenant's chain ("" = the
//  deployment's) that match query (NULL = all) and whose scope lies
//  inside one of the scopes, newest first. Query attributes: seq, time,
//  actor, action, scope, target, status, source, tenant. Reads that
//  chain only. NULL on a store error.
json_t *
    audit_list (store_txn_t *txn, const char *tenant, query_t *query, const char **scopes,
                size_t scope_count, size_t limit);

void
    audit_test (bool verbose);

#endif
