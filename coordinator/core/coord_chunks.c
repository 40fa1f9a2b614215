/*  coord_chunks - the coordinator as the upstream of its sites' chunks
    A site server fetches from the coordinator, over its own link, the
    chunks of a release that no neighbour holds (docs/protocol.md
    section 21): each address of a CHUNK_WANT (at most 64, so the work of
    one want is bounded) is answered with one CHUNK_DATA, link-local and
    signed by us, from the artifact repository. Only a release of the
    asker's own tenant is served, named by its manifest's hash: a chunk
    of another tenant's release, one the release does not name, or one
    not held is answered with size 0. The answers go on the asker's link
    alone (send_link), never by custody: the asker asks again.
    A want that names releases the asker holds in full (have) gets, for
    a chunk the upload brought a delta of, that delta instead of the
    packed chunk when every base it names is a chunk of one of those
    releases (of the asker's tenant) and it is the smaller: the uplink
    carries the change, not the chunk.  */

#include "proto/corelib.h"
#include "coordinator/core/coord_internal.h"

void
coord_chunk_want (coord_t *self, const char *origin, const char *tenant,
                  const updmsg_t *want, uint64_t now_ms)
{
    assert (self && origin && want);
    self->stats.chunk_wants++;
    if (!self->effects.send_link)
        return;
    store_txn_t *txn = self->repo? store_begin (self->store, false): NULL;
    for (size_t i = 0; i < want->address_count; i++) {
        updmsg_t data;
        memset (&data, 0, sizeof data);
        data.type = MSG_CHUNK_DATA;
        memcpy (data.manifest, want->manifest, 32);
        memcpy (data.address, want->addresses + 32 * i, 32);
        size_t packed_size = 0, payload_size = 0, frame_size = 0;
        uint32_t chunk_size = 0;
        uint8_t *packed = txn && tenant
                        ? artrepo_serve (self->repo, txn, tenant, want->manifest, data.address,
                                         &packed_size, &chunk_size)
                        : NULL;
        //  A delta instead, against chunks the asker says it holds, when
        //  it is the smaller (the uplink is the scarce link)
        size_t delta_size = 0;
        uint8_t *delta = packed && want->have_count
                       ? artrepo_serve_delta (self->repo, txn, tenant, want->have,
                                              want->have_count, data.address, &delta_size)
                       : NULL;
        if (delta && delta_size >= packed_size) {
            free (delta);
            delta = NULL;
        }
        if (delta) {
            data.size = chunk_size;
            data.delta = delta;
            data.delta_size = delta_size;
        }
        else
        if (packed) {
            data.size = chunk_size;
            data.packed = packed;
            data.packed_size = packed_size;
        }
        uint8_t *payload = NULL, *frame = NULL;
        if (updmsg_encode (&data, &payload, &payload_size) == 0
        &&  coord_seal_local (self, MSG_CHUNK_DATA, payload, payload_size, now_ms, &frame,
                              &frame_size) == 0) {
            self->effects.send_link (self->effects.ctx, origin, frame, frame_size);
            if (packed) {
                self->stats.chunks_served++;
                self->stats.chunk_bytes_served += delta? delta_size: packed_size;
                self->stats.chunk_deltas_served += delta != NULL;
            }
        }
        free (frame);
        free (payload);
        free (delta);
        free (packed);
    }
    store_abort (&txn);
    coord_debug (self, "coord: %s wanted %zu chunks", origin, want->address_count);
}
