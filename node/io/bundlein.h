/*  bundlein - a bundle uploaded through the operator port and imported
    (weftctl bundle import FILE --node ENDPOINT)
    An operator on site hands a site server a bundle (a release on a
    stick, docs/updates.md, Bundles) without restarting it:
        node.bundle.put     {upload, offset, size, data}  -> {upload, received}
        node.bundle.import  {upload, hash}                -> {upload, state, text, done, size}
        node.bundle.status  {upload}                      -> the same
    put carries the bytes in order, as hex (at most BUNDLEIN_PART_MAX a
    part), into DATA-DIR/uploads/UPLOAD.wbd; a part sent again (its
    answer lost) is answered with what is held. import checks the size
    and the BLAKE2b-256 of the whole file (hash, hex), then runs the
    import as a job the event loop advances a slice at a time
    (node/io/import.h); status follows it. One upload at a time: a new
    one replaces one not imported, and is refused while an import runs.
    The file is removed once imported. Refusals: a size over the limit
    or over the free disk, a write that fails (disk full: the upload is
    dropped), a part out of order, an unknown upload, an incomplete one,
    a hash that differs (the upload is dropped: send it again).  */

#ifndef WEFT_BUNDLEIN_H_INCLUDED
#define WEFT_BUNDLEIN_H_INCLUDED

#include <czmq.h>
#include "node/core/node.h"

#define BUNDLEIN_PART_MAX   30000                   //  Bytes a part carries (hex: twice)
#define BUNDLEIN_SIZE_MAX   (16ULL << 30)           //  Largest bundle taken (16 GiB)
#define BUNDLEIN_ID_SIZE    16                      //  Hex digits of an upload id

typedef struct _bundlein_t bundlein_t;

//  Uploads under data_dir/uploads, imported at node (its store, our
//  device id, the coordinator's key). size_max 0: BUNDLEIN_SIZE_MAX.
bundlein_t *
    bundlein_new (node_t *node, store_t *store, const char *data_dir, const char *name,
                  const uint8_t coord_key [32], uint64_t size_max);

void
    bundlein_destroy (bundlein_t **self_p);

//  Serve node.bundle.put, import or status (fits oplocal_call_fn, with
//  the time). A weft_status_t, *result_p JSON text on OK.
int
    bundlein_call (bundlein_t *self, const char *method, const char *args, size_t args_size,
                   uint64_t now_ms, char **result_p, char reason [WEFT_TEXT_MAX + 1]);

//  Is an import under way? Then the event loop calls step without
//  waiting.
bool
    bundlein_busy (bundlein_t *self);

//  Advance the import under way by one slice
void
    bundlein_step (bundlein_t *self, uint64_t now_ms);

void
    bundlein_test (bool verbose);

#endif
