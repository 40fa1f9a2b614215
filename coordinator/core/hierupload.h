/*  hierupload - a hierarchy import larger than one RPC, in parts
    One RPC carries at most 64 KiB of arguments, a few hundred nodes. A
    larger import document travels as parts, each a document with a
    slice of the nodes (same version and prune), under one upload id
    chosen by the client. Parts are staged in the "uploads" table; only
    when the last one is there is the whole document assembled and
    imported, in that one transaction, with every check of
    hierarchy_import: all or nothing, as a single-call import. A part
    sent again replaces itself, so a retried call is harmless; staged
    parts expire after HIERUPLOAD_TTL_MS, and each operator may stage at
    most HIERUPLOAD_BYTES_MAX.
    Records: "owner NUL id NUL part (2 bytes BE)" -> {expires, parts,
    version, prune, nodes}.  */

#ifndef WEFT_HIERUPLOAD_H_INCLUDED
#define WEFT_HIERUPLOAD_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "proto/store.h"

#define HIERUPLOAD_PARTS_MAX    256                 //  Parts of one upload
#define HIERUPLOAD_BYTES_MAX    (4 * 1024 * 1024)   //  Staged per operator
#define HIERUPLOAD_TTL_MS       (10 * 60 * 1000)    //  A staged part lives
#define HIERUPLOAD_ID_MAX       32                  //  Upload id: 8-32 of [0-9a-f]

//  Stage part (1..parts) of upload id for owner. doc is an import
//  document with a slice of the nodes (borrowed). Returns a
//  weft_status_t; on OK *doc_p is NULL while parts are missing (and
//  *received_p says how many are staged), or the whole document once
//  all are (caller decrefs; drop the parts with hierupload_drop after
//  importing it).
int
    hierupload_put (store_txn_t *txn, const char *owner, const char *id, int part,
                    int parts, json_t *doc, uint64_t now_ms, json_t **doc_p,
                    size_t *received_p, char error [WEFT_TEXT_MAX + 1]);

//  Remove the parts of an upload. Returns 0 or -1.
int
    hierupload_drop (store_txn_t *txn, const char *owner, const char *id);

void
    hierupload_test (bool verbose);

#endif
