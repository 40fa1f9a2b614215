/*  custody_store - the frames of the coordinator's custody in
    CUSTODY_TABLE: written in batches, read back at start, read when one
    goes again after its bytes left memory
    Layout: key = order (u64 BE, grows across restarts); value = dest
    length (1 byte), dest, link length (1 byte), link, expiry (u64 BE),
    frame. A frame is written with the link it was last placed on; after
    a restart it waits for that link (or, with none, for a route).  */

#include "proto/corelib.h"
#include "coordinator/core/custody_internal.h"

uint8_t *
custody_frame (custody_t *self, const custody_entry_t *pub, size_t *size_p)
{
    assert (self && pub && size_p);
    custody_held_t *entry = (custody_held_t *) pub;
    uint8_t *frame = NULL;
    if (entry->data) {
        frame = (uint8_t *) zmalloc (pub->size);
        memcpy (frame, entry->data, pub->size);
        *size_p = pub->size;
        return frame;
    }
    store_txn_t *txn = self->store? store_begin (self->store, false): NULL;
    uint8_t key [8];
    proto_put_be64 (key, entry->order);
    size_t size = 0;
    uint8_t *value = txn? (uint8_t *) store_get (txn, CUSTODY_TABLE, key, 8, &size): NULL;
    store_abort (&txn);
    //  dest, link, expiry, then the frame, as custody_flush wrote them
    size_t at = value && size > 0? 1 + value [0]: 0;
    at = value && size > at? at + 1 + value [at] + 8: 0;
    if (value && at && size == at + pub->size) {
        frame = (uint8_t *) zmalloc (pub->size);
        memcpy (frame, value + at, pub->size);
        *size_p = pub->size;
    }
    free (value);
    return frame;
}

int
custody_flush (custody_t *self)
{
    assert (self);
    if (!self->store || (zlistx_size (self->unwritten) == 0 && zlistx_size (self->deletes) == 0))
        return 0;
    store_txn_t *txn = store_begin (self->store, true);
    int rc = txn? 0: -1;
    for (uint64_t *order = (uint64_t *) zlistx_first (self->deletes); order && rc == 0;
         order = (uint64_t *) zlistx_next (self->deletes)) {
        uint8_t key [8];
        proto_put_be64 (key, *order);
        if (store_del (txn, CUSTODY_TABLE, key, 8) < 0)
            rc = -1;
    }
    for (custody_held_t *entry = (custody_held_t *) zlistx_first (self->unwritten);
         entry && rc == 0; entry = (custody_held_t *) zlistx_next (self->unwritten)) {
        char link [CUSTODY_LINK_MAX + 1] = "";
        if (entry->link)
            snprintf (link, sizeof link, "%s", entry->link->name);
        size_t dest_size = strlen (entry->pub.dest), link_size = strlen (link);
        size_t size = 1 + dest_size + 1 + link_size + 8 + entry->pub.size;
        uint8_t *value = (uint8_t *) zmalloc (size);
        value [0] = (uint8_t) dest_size;
        memcpy (value + 1, entry->pub.dest, dest_size);
        value [1 + dest_size] = (uint8_t) link_size;
        memcpy (value + 2 + dest_size, link, link_size);
        proto_put_be64 (value + 2 + dest_size + link_size, entry->expires_ms);
        memcpy (value + 10 + dest_size + link_size, entry->data, entry->pub.size);
        uint8_t key [8];
        proto_put_be64 (key, entry->order);
        rc = store_put (txn, CUSTODY_TABLE, key, 8, value, size);
        free (value);
    }
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    if (rc == 0) {
        //  Written: their bytes now live in the store only
        for (custody_held_t *entry = (custody_held_t *) zlistx_first (self->unwritten); entry;
             entry = (custody_held_t *) zlistx_next (self->unwritten)) {
            free (entry->data);
            entry->data = NULL;
            entry->unwritten_handle = NULL;
        }
        zlistx_purge (self->unwritten);
        for (uint64_t *order = (uint64_t *) zlistx_first (self->deletes); order;
             order = (uint64_t *) zlistx_next (self->deletes))
            free (order);
        zlistx_purge (self->deletes);
    }
    else
        zsys_warning ("custody: cannot write the frames held; trying again later");
    return rc;
}

typedef struct {
    custody_t *self;
    uint64_t now_ms;
    int loaded;
    zlistx_t *bad;                  //  Orders of records to delete
} s_load_t;

static int
s_load_one (void *arg, const void *key, size_t key_size, const void *value,
            size_t value_size)
{
    s_load_t *load = (s_load_t *) arg;
    custody_t *self = load->self;
    const uint8_t *v = (const uint8_t *) value;
    if (key_size != 8)
        return 0;
    uint64_t order = proto_get_be64 ((const uint8_t *) key);
    size_t dest_size = value_size > 0? v [0]: 0;
    size_t link_at = 1 + dest_size;
    size_t link_size = value_size > link_at? v [link_at]: 0;
    size_t frame_at = link_at + 1 + link_size + 8;
    char dest [WEFT_NAME_MAX + 1], link [CUSTODY_LINK_MAX + 1];
    envelope_t env;
    bool good = value_size > frame_at && dest_size >= 1 && dest_size <= WEFT_NAME_MAX
             && link_size <= CUSTODY_LINK_MAX
             && envelope_decode (&env, v + frame_at, value_size - frame_at) == 0;
    if (good) {
        memcpy (dest, v + 1, dest_size);
        dest [dest_size] = 0;
        memcpy (link, v + link_at + 1, link_size);
        link [link_size] = 0;
        char hex [2 * WEFT_ID_SIZE + 1];
        envelope_id_hex (env.id, hex);
        good = custody_name_ok (dest) && !zhashx_lookup (self->by_id, hex);
    }
    uint64_t expires_ms = good? proto_get_be64 (v + link_at + 1 + link_size): 0;
    if (!good || expires_ms <= load->now_ms) {
        if (!good)
            zsys_warning ("custody: skipping a malformed stored frame");
        uint64_t *doomed = (uint64_t *) zmalloc (sizeof (uint64_t));
        *doomed = order;
        zlistx_add_end (load->bad, doomed);
        return 0;
    }
    //  Every frame waits for its link to come: the connections of the
    //  last run are gone
    custody_hold (self, &env, dest, link, false, NULL, value_size - frame_at, order,
                 expires_ms, load->now_ms);
    if (order >= self->next_order)
        self->next_order = order + 1;
    load->loaded++;
    return 0;
}

int
custody_load (custody_t *self, uint64_t now_ms)
{
    assert (self);
    if (!self->store)
        return 0;
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return -1;
    s_load_t load = { self, now_ms, 0, zlistx_new () };
    int rc = store_scan (txn, CUSTODY_TABLE, NULL, 0, s_load_one, &load);
    store_abort (&txn);
    //  Expired or unreadable ones are deleted at the next flush
    for (uint64_t *order = (uint64_t *) zlistx_first (load.bad); order;
         order = (uint64_t *) zlistx_next (load.bad))
        zlistx_add_end (self->deletes, order);
    zlistx_destroy (&load.bad);
    return rc < 0? -1: load.loaded;
}
