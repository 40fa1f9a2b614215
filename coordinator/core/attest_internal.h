/*  attest_internal - the attest table's record helpers, shared by the
    attest_ files (attest.c keeps profiles, nonces and verdicts there,
    attest_state.c the due index). Records are JSON under prefix + key.
    Private to coordinator/core/attest*.c.  */

#ifndef WEFT_ATTEST_INTERNAL_H_INCLUDED
#define WEFT_ATTEST_INTERNAL_H_INCLUDED

#include "proto/corelib.h"
#include <jansson.h>
#include "proto/store.h"

//  The record at prefix + key, or NULL. Caller json_decref's it.
json_t *
    attest_record_get (store_txn_t *txn, const char *prefix, const char *key);

//  Write json at prefix + key. Returns 0 or -1.
int
    attest_record_put (store_txn_t *txn, const char *prefix, const char *key, json_t *json);

#endif
