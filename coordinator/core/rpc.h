/*  rpc - the coordinator's operator methods: dispatch, authorization,
    argument validation
    The caller's identity (name, role, tenant) comes from the operator
    record that the authenticated link's User-Id names, never from the
    arguments. Roles: viewer reads, operator also sets twins, admin may
    do everything. An operator with a tenant sees only that tenant's
    devices; another tenant's device answers exactly as a missing one.
    Methods run inside the caller's write transaction; one that fails
    with a status other than INTERNAL has written nothing.  */

#ifndef WEFT_RPC_H_INCLUDED
#define WEFT_RPC_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "coordinator/core/coord_stats.h"
#include "coordinator/core/pki.h"
#include "coordinator/core/registry.h"

#define RPC_ARGS_MAX    (64 * 1024)     //  Largest args document accepted

//  What the methods may use
typedef struct {
    registry_t *registry;           //  Liveness in memory
    pki_t *pki;                     //  Issues operator certificates
    const uint8_t *coord_curve;     //  32 bytes, for token text
    const coord_stats_t *stats;     //  Counters for coord.stats
} rpc_env_t;

//  Who is calling, from the operator record
typedef struct {
    char name [WEFT_NAME_MAX + 1];
    char role [WEFT_NAME_MAX + 1];  //  viewer, operator or admin
    char tenant [WEFT_NAME_MAX + 1];    //  "" = all tenants
} rpc_caller_t;

typedef struct {
    int status;                     //  weft_status_t
    char error [WEFT_TEXT_MAX + 1];     //  Human message when not OK
    json_t *result;                 //  Result on OK; owned, see clear
    char push [WEFT_NAME_MAX + 1];  //  Device whose desired twin changed
} rpc_result_t;

//  Run one method. now_ms is the wall clock in unix milliseconds.
void
    rpc_call (rpc_env_t *env, store_txn_t *txn, const rpc_caller_t *caller,
              const char *method, const char *args, size_t args_size,
              uint64_t now_ms, rpc_result_t *result);

void
    rpc_result_clear (rpc_result_t *result);

//  Create an operator with a fresh certificate in txn (operator.add and
//  the first-start admin). Replaces an existing operator only with
//  replace. Returns a weft_status_t and sets error; on OK the cert
//  (heap, caller frees) and serial.
int
    rpc_operator_create (pki_t *pki, store_txn_t *txn, const char *name,
                         const char *role, const char *tenant,
                         const uint8_t sign_key [32], const uint8_t curve_key [32],
                         bool replace, uint64_t now_s, uint8_t **cert_p,
                         size_t *cert_size_p, uint64_t *serial_p,
                         char error [WEFT_TEXT_MAX + 1]);

void
    rpc_test (bool verbose);

#endif
