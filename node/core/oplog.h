/*  oplog - a site server's durable record of refused operator requests
    A site server answers operators on its operator port while it may be
    cut off from the coordinator for days, so it keeps its own record of
    what it refused there (node/core/oplocal.h), in its LMDB store
    (table OPLOG_TABLE): time, who asked (as claimed, or the credential's
    subject once verified), the method, status and reason, and the peer
    address. An auditor with a credential reads it on the port
    (node.audit), also offline. It holds the newest OPLOG_MAX records;
    older ones are dropped, and what a source may add is bounded like
    the coordinator's (proto/refusals.h): beyond its budget a refusal is
    counted, and one record per source sums up each window. The records
    stay at the site: they do not flow to the coordinator's audit log,
    and someone with root on the site server can rewrite them (the
    coordinator's CA-signed chain is the tamper-evident log).  */

#ifndef WEFT_OPLOG_H_INCLUDED
#define WEFT_OPLOG_H_INCLUDED

#include "proto/corelib.h"
#include <jansson.h>
#include "proto/store.h"

#define OPLOG_TABLE     "oplog"
#define OPLOG_MAX       10000       //  Records kept
#define OPLOG_LIST_MAX  1000        //  Records one list returns

typedef struct _oplog_t oplog_t;

//  Open the log in store (declared with OPLOG_TABLE), keeping the newest
//  max records (0: OPLOG_MAX). NULL on a store error.
oplog_t *
    oplog_new (store_t *store, size_t max);

void
    oplog_destroy (oplog_t **self_p);

//  Record a refusal at now_ms from source (peer address, "" if unknown):
//  actor, action (the method, or "rpc"), status, reason. Returns 0, or
//  -1 on a store error (logged).
int
    oplog_refused (oplog_t *self, uint64_t now_ms, const char *source, const char *actor,
                   const char *action, int status, const char *reason);

//  The newest up to limit records, newest first: [{seq, time, actor,
//  action, status, error, source}], or NULL on a store error.
json_t *
    oplog_list (oplog_t *self, size_t limit);

void
    oplog_test (bool verbose);

#endif
