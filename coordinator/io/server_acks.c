/*  server_acks - the CUSTODY_ACKs of a mesh burst (see server_internal.h)
    One CUSTODY_ACK per next hop for the whole burst, not one per
    envelope (a burst holds at most SERVER_BURST ids, within the 256 one
    CUSTODY_ACK carries). A status other than OK goes alone, with its own
    reason. The acks go in the order of their first message; they are
    sealed at once on the verifier pool, which is otherwise idle while
    the core takes the burst.  */

#include <czmq.h>
#include "coordinator/core/coord.h"
#include "coordinator/io/server_internal.h"

//  A CUSTODY_ACK of a burst: its ids are ids [offset .. offset + count)
typedef struct {
    size_t first;                   //  Its first held reply (route, status)
    size_t offset, count;
    uint64_t hlc;
    uint8_t *frame;                 //  Sealed on the pool, or NULL
    size_t size;
} s_ack_t;

//  What the sealing jobs of one burst share
typedef struct {
    const coord_t *coord;
    const server_held_t *held;
    const uint8_t *ids;
} s_acks_t;

static void
s_seal_ack (void *item, void *arg)
{
    s_ack_t *ack = (s_ack_t *) item;
    const s_acks_t *acks = (const s_acks_t *) arg;
    const server_held_t *held = &acks->held [ack->first];
    if (coord_custody_ack_seal (acks->coord, ack->hlc, acks->ids + ack->offset * WEFT_ID_SIZE,
                                ack->count, held->ack_status, held->ack_reason, &ack->frame,
                                &ack->size))
        ack->frame = NULL;
}

//  Order held replies by link, then by arrival (qsort_r's context)
static int
s_by_route (const void *a, const void *b, void *arg)
{
    const server_held_t *held = (const server_held_t *) arg;
    size_t i = *(const size_t *) a, j = *(const size_t *) b;
    size_t size_i = zframe_size (held [i].route), size_j = zframe_size (held [j].route);
    if (size_i != size_j)
        return size_i < size_j? -1: 1;
    int cmp = memcmp (zframe_data (held [i].route), zframe_data (held [j].route), size_i);
    if (cmp)
        return cmp;
    return i < j? -1: i > j;
}

static int
s_by_first (const void *a, const void *b)
{
    size_t i = ((const s_ack_t *) a)->first, j = ((const s_ack_t *) b)->first;
    return i < j? -1: i > j;
}

void
server_send_acks (coord_t *coord, workpool_t *pool, zsock_t *mesh, bool verbose,
                  server_held_t *held, size_t count, uint64_t now_ms)
{
    //  The OK ones sorted by link (n log n, not a scan per message)
    size_t order [SERVER_BURST];
    size_t oks = 0;
    for (size_t i = 0; i < count; i++)
        if (held [i].ack && held [i].ack_status == WEFT_STATUS_OK)
            order [oks++] = i;
    qsort_r (order, oks, sizeof order [0], s_by_route, held);

    uint8_t ids [SERVER_BURST * WEFT_ID_SIZE];
    s_ack_t acks [SERVER_BURST];
    size_t ack_count = 0, id_count = 0;
    for (size_t k = 0; k < oks; k++) {
        size_t i = order [k];
        if (k == 0 || !zframe_eq (held [order [k - 1]].route, held [i].route))
            acks [ack_count++] = (s_ack_t) { .first = i, .offset = id_count };
        memcpy (ids + id_count++ * WEFT_ID_SIZE, held [i].ack_id, WEFT_ID_SIZE);
        acks [ack_count - 1].count++;
    }
    for (size_t i = 0; i < count; i++)
        if (held [i].ack && held [i].ack_status != WEFT_STATUS_OK) {
            acks [ack_count++] = (s_ack_t) { .first = i, .offset = id_count, .count = 1 };
            memcpy (ids + id_count++ * WEFT_ID_SIZE, held [i].ack_id, WEFT_ID_SIZE);
        }
    qsort (acks, ack_count, sizeof acks [0], s_by_first);
    //  The HLCs in the order the acks leave, as when sealed one by one
    for (size_t a = 0; a < ack_count; a++)
        acks [a].hlc = coord_custody_ack_hlc (coord, now_ms);
    s_acks_t shared = { coord, held, ids };
    workpool_run (pool, s_seal_ack, &shared, acks, ack_count, sizeof acks [0]);
    for (size_t a = 0; a < ack_count; a++) {
        server_held_t *first = &held [acks [a].first];
        if (acks [a].frame) {
            if (verbose)
                zsys_debug ("coord: CUSTODY_ACK of %zu ids (%s)", acks [a].count,
                            proto_status_name (first->ack_status));
            server_send (mesh, first->route, false, acks [a].frame, acks [a].size);
            free (acks [a].frame);
        }
    }
}
