/*  hierarchy - each tenant's tree of places and assets
    Nodes are named by their path, "/"-separated segments of 1-64
    characters A-Z a-z 0-9 . _ -; the first segment is the tenant (the
    enterprise), e.g. acme/plant-2/line-7/pump-a. Levels follow ISO
    14224 loosely: enterprise (the root, one segment), then site, area,
    line, unit, asset, component in any order below it. Records in the
    "hierarchy" table: {path, level, name} where name is the display
    name ("Pump A"). Import validates a whole document before writing
    anything, inside the caller's transaction, so a malformed file
    changes nothing. Format: docs/registry.md.  */

#ifndef WEFT_HIERARCHY_H_INCLUDED
#define WEFT_HIERARCHY_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "proto/store.h"

#define HIERARCHY_PATH_MAX      255     //  Longest path, bytes
#define HIERARCHY_DEPTH_MAX     8       //  Most segments
#define HIERARCHY_NAME_MAX      128     //  Longest display name, bytes
#define HIERARCHY_NODES_MAX     10000   //  Most nodes in one import

//  Is path a well-formed hierarchy path?
bool
    hierarchy_path_valid (const char *path);

//  Node record, or NULL if absent. Caller json_decref's it.
json_t *
    hierarchy_get (store_txn_t *txn, const char *path);

//  Import a document {"version": 1, "nodes": [...], "prune": false}.
//  Every node must lie inside one of the scopes ("" = everywhere).
//  Returns a weft_status_t; on OK *report_p is {created: [paths],
//  updated: [paths], removed: [paths], unchanged: N}; otherwise error
//  says why and nothing was written (INTERNAL: a store write failed,
//  abort the transaction).
int
    hierarchy_import (store_txn_t *txn, json_t *doc, const char **scopes,
                      size_t scope_count, json_t **report_p,
                      char error [WEFT_TEXT_MAX + 1]);

//  The nodes inside the scopes as an import document, in path order.
//  NULL on a store error.
json_t *
    hierarchy_export (store_txn_t *txn, const char **scopes, size_t scope_count);

//  An alert line that names the asset and the place, e.g. "Primary
//  bearing on Pump A (plant-2/line-7): 150 °C". The asset is the
//  device's asset node (else its hierarchy node, else the device id);
//  the place is the asset's parent path without the tenant.
void
    hierarchy_alert_text (store_txn_t *txn, json_t *device, const char *subject,
                          const char *reading, char *out, size_t size);

void
    hierarchy_test (bool verbose);

#endif
