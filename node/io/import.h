/*  import - a bundle file taken in at this node (weft-node --import at
    start, or `weftctl bundle import --node` through the operator port)
    An import is a job the event loop advances a slice at a time, so a
    bundle of gigabytes never stalls the mesh:
    1. check: the file is read record by record through a bundle check
       from the metadata the node trusts (proto/bundle.h), with no round
       trip; nothing is stored, so a bundle truncated or tampered
       anywhere stores nothing;
    2. store: the file is read again and each chunk, unpacked to its
       address once more (the file may be on a stick that changes under
       us), goes into the chunk store, one transaction per slice;
    3. offers: each of its assignments becomes an offer
       (update_offer_compose): ours is taken as a delivered UPDATE_OFFER
       is, the others are sent by custody to their devices
       (docs/updates.md, Bundles).  */

#ifndef WEFT_IMPORT_H_INCLUDED
#define WEFT_IMPORT_H_INCLUDED

#include <czmq.h>
#include "node/core/node.h"

#define IMPORT_SLICE_BYTES  (4 * 1024 * 1024)   //  Read per step of the event loop

typedef struct _import_t import_t;

typedef enum {
    IMPORT_CHECKING = 1,
    IMPORT_STORING,
    IMPORT_DONE,
    IMPORT_FAILED
} import_state_t;

//  Start importing path at node (its store, our device id, the
//  coordinator's key to read the assignments with). NULL with *error set
//  (caller frees) when the node trusts no release root or the file
//  cannot be opened.
import_t *
    import_new (node_t *node, store_t *store, const char *path, const char *name,
                const uint8_t coord_key [32], uint64_t now_ms, char **error);

void
    import_destroy (import_t **self_p);

//  Advance by about slice bytes of the file. Returns the state after.
int
    import_step (import_t *self, size_t slice, uint64_t now_ms);

//  The state, and what it means for an operator: progress, the summary
//  once done ("N chunks stored, M offers"), or why it failed
int
    import_state (import_t *self);
const char *
    import_text (import_t *self);

//  Bytes of the file read by the current pass, and the file's size
void
    import_progress (import_t *self, uint64_t *done_p, uint64_t *size_p);

//  The whole job at once (weft-node --import, before the event loop).
//  0, or -1 with *error set (caller frees).
int
    import_bundle (node_t *node, store_t *store, const char *path, const char *name,
                   const uint8_t coord_key [32], uint64_t now_ms, char **error);

#endif
