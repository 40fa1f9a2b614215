/*  coord_lists - the signed lists the coordinator gossips to the mesh:
    revoked devices and operators (REVOCATIONS) and quarantined devices
    (QUARANTINE). Each is sealed once when it changes and then sent as
    is, by version, to every node whose ROUTE shows an older one.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/meshmsg.h"
#include "coordinator/core/quarantine.h"
#include "coordinator/core/coord_internal.h"

//  --------------------------------------------------------------------------
//  Revocations

typedef struct {
    char names [WEFT_STR_MAX];
    size_t names_size;
    uint8_t keys [MESHMSG_REVOKED_MAX * WEFT_KEY_SIZE];
    size_t count;
    uint8_t operators [MESHMSG_REVOKED_MAX * WEFT_KEY_SIZE];
    size_t operator_count;
} s_revoked_t;

//  Revoked operators travel as keys only: their names may equal device ids
static int
s_revoked_operator (void *arg, json_t *op)
{
    s_revoked_t *list = (s_revoked_t *) arg;
    uint8_t key [WEFT_KEY_SIZE];
    if (!json_is_true (json_object_get (op, "revoked"))
    ||  coord_record_key (op, "curve_key", key))
        return 0;
    if (list->operator_count == MESHMSG_REVOKED_MAX) {
        zsys_warning ("coord: revocation list full; operator %s and later ones not listed",
                      json_string_value (json_object_get (op, "name")));
        return 1;
    }
    memcpy (list->operators + list->operator_count++ * WEFT_KEY_SIZE, key, WEFT_KEY_SIZE);
    return 0;
}

static int
s_revoked_one (void *arg, json_t *device)
{
    s_revoked_t *list = (s_revoked_t *) arg;
    if (!json_is_true (json_object_get (device, "revoked")))
        return 0;
    const char *id = json_string_value (json_object_get (device, "id"));
    uint8_t key [WEFT_KEY_SIZE];
    if (!id || coord_record_key (device, "curve_key", key))
        return 0;
    if (list->count == MESHMSG_REVOKED_MAX
    ||  list->names_size + strlen (id) + 1 >= sizeof list->names) {
        zsys_warning ("coord: revocation list full; %s and later ones not listed", id);
        return 1;
    }
    list->names_size += (size_t) snprintf (list->names + list->names_size,
        sizeof list->names - list->names_size, "%s%s", list->count? ",": "", id);
    memcpy (list->keys + list->count * WEFT_KEY_SIZE, key, WEFT_KEY_SIZE);
    list->count++;
    return 0;
}

//  (Re)build and seal the revocation list from the registry
void
coord_revocations_build (coord_t *self, uint64_t now_ms)
{
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return;
    uint64_t version = registry_meta_get (txn, "revocations_version");
    s_revoked_t *list = (s_revoked_t *) zmalloc (sizeof (s_revoked_t));
    if (version) {
        registry_device_each (txn, s_revoked_one, list);
        registry_operator_each (txn, s_revoked_operator, list);
    }
    store_abort (&txn);
    if (version) {
        meshmsg_t msg;
        memset (&msg, 0, sizeof msg);
        msg.type = MSG_REVOCATIONS;
        msg.revocations = version;
        msg.names = list->names;
        msg.names_size = list->names_size;
        msg.curve_keys = list->keys;
        msg.key_count = list->count;
        msg.operator_keys = list->operators;
        msg.operator_count = list->operator_count;
        uint8_t *payload;
        size_t payload_size;
        if (meshmsg_encode (&msg, &payload, &payload_size) == 0) {
            uint64_t seq = coordseq_next (self->seqs, NULL);
            envelope_head_t head = { .type = MSG_REVOCATIONS, .origin = COORD_ORIGIN,
                                     .seq = seq, .hlc = hlc_next (&self->hlc, now_ms),
                                     .hop_limit = WEFT_HOP_LIMIT };
            uint8_t *frame;
            size_t size;
            if (seq && envelope_seal (&head, payload, payload_size, self->keys.sign_secret,
                                      NULL, &frame, &size) == 0) {
                free (self->revocations);
                self->revocations = frame;
                self->revocations_size = size;
                self->revocations_version = version;
            }
            free (payload);
        }
    }
    free (list);
}

//  --------------------------------------------------------------------------
//  Quarantine (coordinator/core/quarantine.h): (re)seal the list when
//  the set's version moved, and tell the adapter

void
coord_quarantine_build (coord_t *self, uint64_t now_ms)
{
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return;
    uint64_t version = quarantine_version (txn);
    uint8_t *payload = NULL;
    size_t payload_size = 0;
    int rc = -1;
    if (version && version != self->quarantine_version)
        rc = quarantine_payload (txn, &payload, &payload_size, &version);
    store_abort (&txn);
    uint8_t *frame;
    size_t size;
    if (rc == 0
    &&  coord_seal_payload (self, NULL, MSG_QUARANTINE, payload, payload_size, now_ms,
                            &frame, &size) == 0) {
        free (self->quarantine);
        self->quarantine = frame;
        self->quarantine_size = size;
        self->quarantine_version = version;
        zsys_info ("coord: quarantine list version %" PRIu64, version);
        if (self->quarantine_changed && now_ms)
            self->quarantine_changed (self->effects.ctx);
    }
    free (payload);
}

void
coord_set_quarantine_hook (coord_t *self, coord_quarantine_fn *fn)
{
    assert (self);
    self->quarantine_changed = fn;
}

const uint8_t *
coord_quarantine (coord_t *self, size_t *size_p)
{
    assert (self && size_p);
    *size_p = self->quarantine_size;
    return self->quarantine;
}

void
coord_set_revoked (coord_t *self, coord_revoked_fn *fn)
{
    assert (self);
    self->revoked = fn;
}

const uint8_t *
coord_revocations (coord_t *self, size_t *size_p)
{
    assert (self && size_p);
    *size_p = self->revocations_size;
    return self->revocations;
}
