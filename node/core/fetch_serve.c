/*  fetch_serve - answering peers' CHUNK_WANT (see fetch.h: a chunk
    only of a release we know, to our tenant; a site server with an
    uplink makes peers wait for a chunk it is fetching itself)  */

#include "node/core/fetch_internal.h"

//  --------------------------------------------------------------------------
//  Sending

static void
s_send_data (fetch_t *self, const char *peer, const uint8_t manifest [32],
             const uint8_t address [32], const uint8_t *packed, size_t packed_size,
             uint32_t size)
{
    updmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_CHUNK_DATA;
    memcpy (msg.manifest, manifest, 32);
    memcpy (msg.address, address, 32);
    msg.size = packed? size: 0;
    msg.packed = packed;
    msg.packed_size = packed? packed_size: 0;
    uint8_t *payload;
    size_t payload_size;
    if (updmsg_encode (&msg, &payload, &payload_size))
        return;
    if (self->fx.send (self->fx.ctx, peer, MSG_CHUNK_DATA, payload, payload_size) == 0) {
        if (packed) {
            self->stats.served++;
            self->stats.served_bytes += packed_size;
        }
        else
            self->stats.refused++;
    }
    free (payload);
}

//  Answer and forget the peers waiting for address: with the chunk, or
//  size 0 (packed NULL)
void
fetch_answer_waiters (fetch_t *self, const uint8_t address [32], const uint8_t *packed,
                  size_t packed_size, uint32_t size)
{
    fetch_waiter_t *waiter = (fetch_waiter_t *) zhashx_lookup (self->waiting, address);
    if (!waiter)
        return;
    for (size_t i = 0; i < waiter->count; i++)
        s_send_data (self, waiter->peers [i], waiter->manifest, address, packed, packed_size,
                     size);
    if (packed)
        self->stats.merged += waiter->count;
    if (waiter->urgent)
        zlistx_delete (self->urgent, waiter->urgent);
    zlistx_delete (self->waiters, waiter->handle);
    zhashx_delete (self->waiting, address);
    free (waiter);
}

//  A chunk peers wait for turned out to be held already: they get it
void
fetch_answer_held (fetch_t *self, store_txn_t *txn, fetch_release_t *release, size_t index)
{
    const uint8_t *address;
    uint32_t chunk_size;
    manifest_chunk (&release->manifest, index, &address, &chunk_size);
    size_t packed_size = 0;
    uint8_t *packed = chunkstore_get (self->chunks, txn, address, &packed_size, &chunk_size);
    fetch_answer_waiters (self, address, packed, packed_size, chunk_size);
    free (packed);
}

//  --------------------------------------------------------------------------
//  Answering a CHUNK_WANT

void
fetch_on_want (fetch_t *self, const char *peer, const char *tenant, const updmsg_t *msg,
           uint64_t now_ms)
{
    fetch_release_t *release = (fetch_release_t *) zhashx_lookup (self->releases, msg->manifest);
    bool known = release && (streq (peer, FETCH_COORDINATOR) || streq (tenant, self->tenant));
    store_txn_t *txn = known? store_begin (self->store, false): NULL;
    for (size_t i = 0; i < msg->address_count; i++) {
        const uint8_t *address = msg->addresses + 32 * i;
        ssize_t index = txn? fetch_index_of (release, address): -1;
        size_t packed_size = 0;
        uint32_t chunk_size = 0;
        uint8_t *packed = index >= 0? chunkstore_get (self->chunks, txn, address, &packed_size,
                                                      &chunk_size): NULL;
        if (packed) {
            s_send_data (self, peer, msg->manifest, address, packed, packed_size, chunk_size);
            if (!self->touch)
                self->touch = (uint8_t (*) [32]) zmalloc (FETCH_TOUCH_MAX * 32);
            if (self->touch_count < FETCH_TOUCH_MAX)
                memcpy (self->touch [self->touch_count++], address, 32);
            free (packed);
            continue;
        }
        //  Not held: if we are fetching it ourselves and have an uplink
        //  (a site server), the peer waits for it. Only a node with an
        //  uplink makes peers wait, so waits lead up to the coordinator,
        //  which waits for no one, and never go round in a circle.
        int state = index >= 0? release->state [index]: FETCH_HELD;
        fetch_waiter_t *waiter = index >= 0
                               ? (fetch_waiter_t *) zhashx_lookup (self->waiting, address)
                               : NULL;
        bool coming = !self->paused && self->uplink
                   && (state == FETCH_QUEUED || state == FETCH_FLIGHT || state == FETCH_STAGED);
        if (coming && !waiter && zhashx_size (self->waiting) < FETCH_WAITING_MAX) {
            waiter = (fetch_waiter_t *) zmalloc (sizeof (fetch_waiter_t));
            memcpy (waiter->address, address, 32);
            memcpy (waiter->manifest, msg->manifest, 32);
            waiter->expires = now_ms + self->timeout_ms;
            zhashx_insert (self->waiting, waiter->address, waiter);
            waiter->handle = zlistx_add_end (self->waiters, waiter);
            if (state == FETCH_QUEUED)
                waiter->urgent = zlistx_add_end (self->urgent, waiter);
        }
        bool waits = false;
        for (size_t j = 0; coming && waiter && j < waiter->count; j++)
            if (streq (waiter->peers [j], peer))
                waits = true;           //  Asked again: it waits once
        if (coming && waiter && !waits && waiter->count < FETCH_WAITERS_MAX) {
            snprintf (waiter->peers [waiter->count++], WEFT_NAME_MAX + 1, "%s", peer);
            waits = true;
        }
        if (!waits)
            s_send_data (self, peer, msg->manifest, address, NULL, 0, 0);
    }
    store_abort (&txn);
}
