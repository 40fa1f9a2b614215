/*  nonces - replay protection for operator requests by request id
    weftctl keeps no state between runs, so a sequence window cannot
    serve it: parallel runs under one identity arrive out of order. An
    operator request instead carries a random 16-byte envelope id and
    an expiry at most NONCES_TTL_MAX_MS ahead of the coordinator's
    clock. The coordinator keeps the ids it accepted until they expire,
    in the store, inside the transaction of the request's effect, so a
    replay is refused while the request could still be valid, also
    after a restart; after its expiry the envelope is refused as
    expired. Per operator at most NONCES_PER_ORIGIN_MAX ids are live
    (a bound on the table, and a rate limit of that many requests per
    minute). Every check prunes a batch of expired ids, so the tables
    stay bounded without a timer.
    Tables: rpc_ids "origin NUL id" -> expiry (8 bytes BE), and
    "origin NUL" -> live count; rpc_expiry "expiry origin NUL id".  */

#ifndef WEFT_NONCES_H_INCLUDED
#define WEFT_NONCES_H_INCLUDED

#include "proto/proto.h"
#include "proto/store.h"

#define NONCES_TTL_MAX_MS       60000   //  Longest expiry accepted, from now
#define NONCES_PER_ORIGIN_MAX   100000  //  Live ids per operator
#define NONCES_PRUNE_BATCH      64      //  Expired ids removed per check

typedef enum {
    NONCES_OK = 0,                  //  Fresh; recorded in txn
    NONCES_REPLAY = 1,              //  Seen before, not yet expired
    NONCES_NO_EXPIRY = 2,           //  Expiry 0, past, or too far ahead
    NONCES_FULL = 3,                //  Too many live requests
    NONCES_ERROR = 4                //  Store failure
} nonces_status_t;

//  Check and record one request in txn (a write transaction).
nonces_status_t
    nonces_check (store_txn_t *txn, const char *origin, const uint8_t id [WEFT_ID_SIZE],
                  uint64_t expiry_ms, uint64_t now_ms);

//  Remove up to max expired ids. Returns how many, or -1.
int
    nonces_prune (store_txn_t *txn, uint64_t now_ms, size_t max);

void
    nonces_test (bool verbose);

#endif
