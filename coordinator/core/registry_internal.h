/*  registry_internal - what registry.c and registry_device.c share
    Not for other modules: they use registry.h.  */

#ifndef WEFT_REGISTRY_INTERNAL_H_INCLUDED
#define WEFT_REGISTRY_INTERNAL_H_INCLUDED

#include "coordinator/core/registry.h"

//  A stored record (devices, twins, operators) as JSON; NULL if the
//  bytes are not a record (logged with table and key). Counted as a
//  decode.
json_t *
    registry_rec_decode (store_txn_t *txn, const char *table, const void *key,
                         size_t key_size, const void *data, size_t size);

//  The record under key in table, decoded; NULL if absent or corrupt.
json_t *
    registry_rec_get (store_txn_t *txn, const char *table, const char *key);

//  A value as NUL-terminated text, or NULL. Caller frees.
char *
    registry_text_get (store_txn_t *txn, const char *table, const void *key,
                       size_t key_size);

//  Store device id's record given as its bytes (registry_pack), with its
//  key and the index entries that differ from those of the record it
//  replaces. Returns 0 or -1.
int
    registry_device_store (store_txn_t *txn, const char *id, const uint8_t *data,
                           size_t size);

#endif
