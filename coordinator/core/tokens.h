/*  tokens - single-use, expiring enrolment tokens
    Text form: wt1.<id: 16 hex>.<secret: 32 hex>.<coordinator CURVE
    public key: 64 hex>. The store keeps, under the id, only BLAKE2b of
    the secret with the tenant, optional place in the hierarchy and
    device type, expiry and, once used, the device that used it: a copy
    of the database does not let anyone enrol. Records: {id, hash,
    tenant, path, type, created, expires, used_by}.  */

#ifndef WEFT_TOKENS_H_INCLUDED
#define WEFT_TOKENS_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "proto/store.h"

#define TOKENS_TTL_DEFAULT      3600            //  One hour
#define TOKENS_TTL_MAX          (30 * 86400)    //  Thirty days
#define TOKENS_ID_SIZE          8               //  Bytes; 16 hex
#define TOKENS_SECRET_SIZE      16              //  Bytes; 32 hex

//  Outcome of tokens_check
typedef enum {
    TOKENS_OK = 0,                  //  Valid and unused
    TOKENS_UNKNOWN = 1,             //  Malformed, no such id, or wrong secret
    TOKENS_USED = 2,                //  Valid secret, already used
    TOKENS_EXPIRED = 3              //  Valid secret, past its expiry
} tokens_status_t;

//  Make a token in txn. tenant, path and type may be "" (type "" = any
//  type; path: where the device is placed, written into its
//  certificate). Writes the text and id; returns 0 or -1.
int
    tokens_create (store_txn_t *txn, const char *tenant, const char *path, const char *type,
                   uint64_t ttl_s, uint64_t now_s, const uint8_t coord_curve [32],
                   char text [WEFT_TOKEN_MAX + 1], char id [2 * TOKENS_ID_SIZE + 1],
                   uint64_t *expires_p);

//  Split token text. Returns 0, or -1 if it is not a wt1 token. The
//  caller wipes secret.
int
    tokens_parse (const char *text, char id [2 * TOKENS_ID_SIZE + 1],
                  uint8_t secret [TOKENS_SECRET_SIZE], uint8_t curve [32]);

//  Check token text at now_s. Unless the result is TOKENS_UNKNOWN,
//  *record_p gets the stored record (caller json_decref's it). A token
//  naming another coordinator's key is unknown here.
tokens_status_t
    tokens_check (store_txn_t *txn, const char *text, const uint8_t coord_curve [32],
                  uint64_t now_s, json_t **record_p);

//  Mark a checked token used by device_id, in txn. Returns 0 or -1.
int
    tokens_use (store_txn_t *txn, json_t *record, const char *device_id);

void
    tokens_test (bool verbose);

#endif
