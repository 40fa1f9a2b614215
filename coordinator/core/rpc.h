/*  rpc - the coordinator's operator methods: dispatch, authorization,
    argument validation, audit
    The caller's identity and grants come from the operator record that
    the authenticated link's User-Id names, never from the arguments. A
    grant is a role on a hierarchy subtree ("" = everything, "acme" = a
    tenant, "acme/plant-2" = one site). Roles: viewer reads; operator
    also changes twins and metadata; auditor and security-officer read
    and read the audit log, security-officer also manages operators;
    admin may do everything. A method runs with the subtrees of the
    grants whose role allows it; a device outside every subtree the
    caller may read answers exactly as a missing one. Methods that
    change something run inside the caller's write transaction; one
    that fails with a status other than INTERNAL has written nothing
    but its audit record. Every call that changes something, and every
    refused call, is appended to the audit log in that transaction, with
    the request's peer address, and to the audit chain of the tenant it
    concerns (coordinator/core/audit.h): the tenant whose objects it
    touched, else, for a refusal, the caller's own.
    Read-only methods may instead run in a read transaction
    (rpc_call_read), their refusal's record appended afterwards.  */

#ifndef WEFT_RPC_H_INCLUDED
#define WEFT_RPC_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "coordinator/core/coord_stats.h"
#include "coordinator/core/pki.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/devquery.h"
#include "coordinator/core/hierarchy.h"
#include "coordinator/core/artrepo.h"
#include "coordinator/core/director.h"

#define RPC_ARGS_MAX    (64 * 1024)     //  Largest args document accepted
#define RPC_GRANTS_MAX  DEVQUERY_SCOPES_MAX     //  Grants per operator
#define RPC_LIST_DEFAULT 1000           //  Devices device.list returns
#define RPC_LIST_MAX    2000            //  ... at most
#define RPC_BATCH_MAX   10000           //  Devices one batch may change
#define RPC_TAGS_MAX    32              //  Tags per device
#define RPC_VALUE_MAX   128             //  Metadata and tag values, bytes
#define RPC_SOURCE_MAX  63              //  Peer address text in audit records
#define RPC_OFFER_BATCHES 15            //  Tenants of one campaign wave, past the first

//  What the methods may use
typedef struct {
    registry_t *registry;           //  Liveness in memory
    pki_t *pki;                     //  Issues operator certificates
    const uint8_t *coord_curve;     //  32 bytes, for token text
    const coord_stats_t *stats;     //  Counters for coord.stats
    const uint8_t *coord_secret;    //  64 bytes: signs the passport attest.show gives, or NULL
    artrepo_t *repo;                //  The artifact repository, or NULL (artifact.* refused)
} rpc_env_t;

//  One grant: a role on a subtree
typedef struct {
    char role [WEFT_NAME_MAX + 1];  //  viewer, operator, admin, auditor, security-officer
    char path [HIERARCHY_PATH_MAX + 1]; //  "" = everything
} rpc_grant_t;

//  Who is calling, from the operator record (rpc_caller_load). Only
//  the grants give rights: an operator whose last grant was removed
//  has none, whatever role it was created with.
typedef struct {
    char name [WEFT_NAME_MAX + 1];
    char tenant [WEFT_NAME_MAX + 1];    //  The operator's own tenant
    rpc_grant_t grants [RPC_GRANTS_MAX];
    size_t grant_count;
    char source [RPC_SOURCE_MAX + 1];   //  Peer address of the request, for the audit log
} rpc_caller_t;

//  Fill caller from an operator record: its grants (for a record from
//  before grant lists, its role on its tenant: opcert_grants).
void
    rpc_caller_load (rpc_caller_t *caller, const char *name, json_t *op);

typedef struct {
    int status;                     //  weft_status_t
    char error [WEFT_TEXT_MAX + 1];     //  Human message when not OK
    json_t *result;                 //  Result on OK; owned, see clear
    char push [WEFT_NAME_MAX + 1];  //  Device whose desired twin changed
    json_t *audit;                  //  rpc_call_read: the refusal's audit record, owned
    director_batch_t *offers;       //  UPDATE_OFFERs to send once committed, owned
    director_batch_t *more_offers [RPC_OFFER_BATCHES];  //  Of the other tenants of a
                                    //  campaign's wave, owned, NULL-ended
    zlistx_t *orders;               //  SOFTWARE_ORDERs to send once committed, owned
                                    //  (zframe_t: device id, 0, the signed order)
    zlistx_t *directives;           //  SITE_DIRECTIVEs to send once committed, owned
                                    //  (campaign_directive_t, campaign_site.h)
} rpc_result_t;

//  Run one method. now_ms is the wall clock in unix milliseconds.
void
    rpc_call (rpc_env_t *env, store_txn_t *txn, const rpc_caller_t *caller,
              const char *method, const char *args, size_t args_size,
              uint64_t now_ms, rpc_result_t *result);

//  The method table, for listings (weft-coord --list-methods) and the
//  tests that must cover every method: the index-th method's name, the
//  permission it needs (OPCRED_P_*, proto/opcred.h), whether it writes,
//  and its argument names (NULL-ended). False past the last method.
bool
    rpc_method_at (size_t index, const char **name_p, int *perm_p, bool *writes_p,
                   const char *const **keys_p);

//  Does the method only read (no audit record when it succeeds)?
//  False for an unknown method.
bool
    rpc_is_read (const char *method);

//  Run a read-only method (rpc_is_read) in a read transaction, so a
//  broad query never holds LMDB's single writer. Writes nothing: a
//  refusal's audit record is left in result->audit, for
//  rpc_audit_deferred in a short write transaction.
void
    rpc_call_read (rpc_env_t *env, store_txn_t *txn, const rpc_caller_t *caller,
                   const char *method, const char *args, size_t args_size,
                   uint64_t now_ms, rpc_result_t *result);

//  Append the audit record rpc_call_read left, if any, in txn (a write
//  transaction). Returns 0 or -1.
int
    rpc_audit_deferred (rpc_env_t *env, store_txn_t *txn, const rpc_caller_t *caller,
                        const char *method, rpc_result_t *result, uint64_t now_ms);

void
    rpc_result_clear (rpc_result_t *result);

//  Create an operator with a fresh certificate in txn (operator.add and
//  the first-start admin), granted role on the subtree path ("" =
//  everything; a tenant name is a subtree too). Replaces an existing
//  operator only with replace. Returns a weft_status_t and sets error; on OK the cert
//  (heap, caller frees) and serial.
int
    rpc_operator_create (pki_t *pki, store_txn_t *txn, const char *name,
                         const char *role, const char *path,
                         const uint8_t sign_key [32], const uint8_t curve_key [32],
                         bool replace, uint64_t now_s, uint8_t **cert_p,
                         size_t *cert_size_p, uint64_t *serial_p,
                         char error [WEFT_TEXT_MAX + 1]);

void
    rpc_test (bool verbose);

#endif
