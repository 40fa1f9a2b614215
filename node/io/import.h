/*  import - a bundle file taken in at this node (weft-node --import)
    The file is read once, record by record, through a bundle check from
    the metadata the node trusts (proto/bundle.h): no round trip. Its
    chunks go into the node's chunk store in one write transaction that
    is committed only if the whole file passed, so a bundle truncated or
    tampered anywhere stores nothing. Then each of its assignments
    becomes an offer (update_offer_compose): ours is taken as a delivered
    UPDATE_OFFER is, the others are sent by custody to their devices
    (docs/updates.md, Bundles).  */

#ifndef WEFT_IMPORT_H_INCLUDED
#define WEFT_IMPORT_H_INCLUDED

#include <czmq.h>
#include "node/core/node.h"

//  Import path at node (its store, our device id, the coordinator's key
//  to read the assignments with). 0, or -1 with *error set (caller frees).
int
    import_bundle (node_t *node, store_t *store, const char *path, const char *name,
                   const uint8_t coord_key [32], uint64_t now_ms, char **error);

#endif
