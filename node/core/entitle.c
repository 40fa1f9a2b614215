/*  entitle - the entitlements a device holds (see entitle.h)
    At most ENTITLE_MAX names, so a walk of the table is bounded and
    runs only at an order or a deadline, never per message.  */

#include "proto/corelib.h"
#include "node/core/update.h"
#include "node/core/entitle.h"

#define S_KEY_MAX   (2 * WEFT_NAME_MAX + 16)

typedef struct {
    char name [WEFT_NAME_MAX + 1];
    uint64_t issued_ms;
    uint64_t until_ms;
    bool active;                    //  As last told
} s_entry_t;

struct _entitle_t {
    entitle_effects_t effects;
    store_t *store;
    char *prefix;                   //  These four sized to fit
    char *name;
    char *tenant;
    char *type;
    uint8_t coord_sign [WEFT_KEY_SIZE];
    s_entry_t *entries;             //  Grown as names come (weft-sim hosts 100,000
    size_t count, alloc;            //  devices, most with none)
};

//  Room for one more entry (count < ENTITLE_MAX)
static s_entry_t *
s_append (entitle_t *self)
{
    if (self->count == self->alloc) {
        self->alloc = self->alloc? self->alloc * 2: 2;
        self->entries = (s_entry_t *) realloc (self->entries, self->alloc * sizeof (s_entry_t));
        assert (self->entries);
    }
    s_entry_t *entry = &self->entries [self->count++];
    memset (entry, 0, sizeof *entry);
    return entry;
}

entitle_t *
entitle_new (const entitle_config_t *config, const entitle_effects_t *effects)
{
    assert (config && effects);
    if (!config->name || !config->coord_sign || !config->store || !config->prefix)
        return NULL;
    entitle_t *self = (entitle_t *) zmalloc (sizeof (entitle_t));
    self->effects = *effects;
    self->store = config->store;
    self->prefix = strndup (config->prefix, WEFT_NAME_MAX);
    self->name = strndup (config->name, WEFT_NAME_MAX);
    self->tenant = strndup (config->tenant? config->tenant: "", WEFT_NAME_MAX);
    self->type = strndup (config->type? config->type: "", WEFT_NAME_MAX);
    memcpy (self->coord_sign, config->coord_sign, WEFT_KEY_SIZE);
    return self;
}

void
entitle_destroy (entitle_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        entitle_t *self = *self_p;
        free (self->entries);
        free (self->prefix);
        free (self->name);
        free (self->tenant);
        free (self->type);
        free (self);
        *self_p = NULL;
    }
}

static size_t
s_name_key (entitle_t *self, const char *name, char key [S_KEY_MAX])
{
    return (size_t) snprintf (key, S_KEY_MAX, "%sentitle/%s", self->prefix, name);
}

static s_entry_t *
s_find (entitle_t *self, const char *name)
{
    for (size_t i = 0; i < self->count; i++)
        if (streq (self->entries [i].name, name))
            return &self->entries [i];
    return NULL;
}

//  Tell the owner of every name whose state differs from what it was
//  told (all of them when told is false)
static void
s_tell (entitle_t *self, uint64_t now_ms, bool told)
{
    for (size_t i = 0; i < self->count; i++) {
        s_entry_t *entry = &self->entries [i];
        bool active = now_ms < entry->until_ms;
        if (told && active == entry->active)
            continue;
        entry->active = active;
        zsys_info ("entitle: %s %s", entry->name, active? "entitled": ENTITLE_EXPIRED);
        if (self->effects.changed)
            self->effects.changed (self->effects.ctx, entry->name, active,
                                   active? "": ENTITLE_EXPIRED);
    }
}

//  One stored order: checked again as on arrival (a store is no
//  signature), kept if it reads
static int
s_load_one (void *arg, const void *key, size_t key_size, const void *value,
            size_t value_size)
{
    (void) key;
    (void) key_size;
    entitle_t *self = (entitle_t *) arg;
    sworder_t order;
    int rc = sworder_open (&order, (const uint8_t *) value, value_size, self->coord_sign,
                           self->tenant, self->name, self->type);
    if (rc || order.kind != SWORDER_ENTITLE || self->count == ENTITLE_MAX) {
        zsys_warning ("entitle: a stored entitlement is refused: %s",
                      rc? sworder_strerror (rc): "not an entitlement, or too many");
        return 0;
    }
    s_entry_t *entry = s_append (self);
    snprintf (entry->name, sizeof entry->name, "%s", order.name);
    entry->issued_ms = order.issued_ms;
    entry->until_ms = order.until_ms;
    return 0;
}

int
entitle_start (entitle_t *self, uint64_t now_ms)
{
    assert (self);
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return -1;
    char prefix [S_KEY_MAX];
    size_t size = s_name_key (self, "", prefix);
    self->count = 0;
    int64_t rc = store_scan (txn, UPDATE_TABLE, prefix, size, s_load_one, self);
    store_abort (&txn);
    if (rc < 0)
        return -1;
    s_tell (self, now_ms, false);
    return 0;
}

int
entitle_order (entitle_t *self, const sworder_t *order, const uint8_t *data, size_t size,
               uint64_t now_ms, char reason [WEFT_TEXT_MAX + 1])
{
    assert (self && order && data && reason);
    *reason = 0;
    assert (order->kind == SWORDER_ENTITLE);
    s_entry_t *entry = s_find (self, order->name);
    if (entry && order->issued_ms == entry->issued_ms && order->until_ms == entry->until_ms)
        return WEFT_STATUS_OK;          //  The same again (a custody retry)
    if (entry && order->issued_ms <= entry->issued_ms)
        return proto_refusal (reason, WEFT_STATUS_DENIED, "entitlement refused: older than "
                              "the one held for %s", order->name);
    if (!entry && self->count == ENTITLE_MAX)
        return proto_refusal (reason, WEFT_STATUS_DENIED, "entitlement refused: this device "
                              "holds entitlements for %d names already", ENTITLE_MAX);
    char key [S_KEY_MAX];
    size_t key_size = s_name_key (self, order->name, key);
    store_txn_t *txn = store_begin (self->store, true);
    int rc = txn? store_put (txn, UPDATE_TABLE, key, key_size, data, size): -1;
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    if (rc)
        return proto_refusal (reason, WEFT_STATUS_INTERNAL, "cannot store the entitlement");
    if (!entry) {
        entry = s_append (self);
        snprintf (entry->name, sizeof entry->name, "%s", order->name);
        //  Newly governed: the owner hears its state whatever it is
        entry->active = !(now_ms < order->until_ms);
    }
    entry->issued_ms = order->issued_ms;
    entry->until_ms = order->until_ms;
    s_tell (self, now_ms, true);
    return WEFT_STATUS_OK;
}

bool
entitle_governed (entitle_t *self, const char *name)
{
    assert (self && name);
    return s_find (self, name) != NULL;
}

bool
entitle_active (entitle_t *self, const char *name, uint64_t now_ms)
{
    assert (self && name);
    s_entry_t *entry = s_find (self, name);
    return !entry || now_ms < entry->until_ms;
}

uint64_t
entitle_until (entitle_t *self, const char *name)
{
    assert (self && name);
    s_entry_t *entry = s_find (self, name);
    return entry? entry->until_ms: 0;
}

uint64_t
entitle_deadline (entitle_t *self)
{
    assert (self);
    uint64_t next = 0;
    for (size_t i = 0; i < self->count; i++) {
        const s_entry_t *entry = &self->entries [i];
        if (entry->active && (next == 0 || entry->until_ms < next))
            next = entry->until_ms;
    }
    return next;
}

void
entitle_tick (entitle_t *self, uint64_t now_ms)
{
    assert (self);
    s_tell (self, now_ms, true);
}
