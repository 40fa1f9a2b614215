/*  entitle - the entitlements a device holds: which software it may run,
    until when (docs/updates.md, Entitlements)
    An entitlement is the director's signed order (proto/sworder.h); the
    device keeps the signed form of the newest one per software name in
    its store and checks it again when it reads it back. Software is
    governed once an entitlement for its name has arrived: from then on
    it runs only while one is valid by the device's clock, and when the
    last one lapses it is deactivated until a renewal comes. Software no
    entitlement ever named is not governed (entitlements are optional
    per software, chosen by the operator who grants the first one).
    Only a newer order (by its issue time) replaces the one held, so a
    replayed old grant never brings back what a later one cut short.
    The module tells its owner when a name's state changes (at start,
    at an order, and when the clock passes an end: entitle_deadline
    says when, so nothing scans per message).
    Sans-IO; table UPDATE_TABLE, keys "<prefix>entitle/<name>".  */

#ifndef WEFT_ENTITLE_H_INCLUDED
#define WEFT_ENTITLE_H_INCLUDED

#include "proto/proto.h"
#include "proto/store.h"
#include "proto/sworder.h"

#define ENTITLE_MAX         32          //  Software names governed on one device
#define ENTITLE_EXPIRED     "entitlement expired"

typedef struct {
    void *ctx;
    //  name's state changed: active, or not with why (borrowed)
    void (*changed) (void *ctx, const char *name, bool active, const char *why);
} entitle_effects_t;

typedef struct {
    const char *name;               //  Our device id
    const char *tenant;
    const char *type;               //  Our device type
    const uint8_t *coord_sign;      //  The coordinator's key
    store_t *store;                 //  With UPDATE_TABLE
    const char *prefix;
} entitle_config_t;

typedef struct _entitle_t entitle_t;

entitle_t *
    entitle_new (const entitle_config_t *config, const entitle_effects_t *effects);
void
    entitle_destroy (entitle_t **self_p);

//  Read what is held and tell each name's state. 0 or -1 (store).
int
    entitle_start (entitle_t *self, uint64_t now_ms);

//  An entitlement order (opened and checked for us: sworder_open) and
//  its signed bytes. Returns a weft_status_t for its custody ACK: OK
//  (kept, or the same again), DENIED with the reason (older than the
//  one held; too many names), INTERNAL (store failure).
int
    entitle_order (entitle_t *self, const sworder_t *order, const uint8_t *data,
                   size_t size, uint64_t now_ms, char reason [WEFT_TEXT_MAX + 1]);

//  Is name governed, and is it entitled now? (true if not governed)
bool
    entitle_governed (entitle_t *self, const char *name);
bool
    entitle_active (entitle_t *self, const char *name, uint64_t now_ms);

//  The end of a name's entitlement (Unix ms), 0 if not governed
uint64_t
    entitle_until (entitle_t *self, const char *name);

//  When the next entitlement ends (Unix ms), 0 if none is to; then
//  entitle_tick.
uint64_t
    entitle_deadline (entitle_t *self);
void
    entitle_tick (entitle_t *self, uint64_t now_ms);

void
    entitle_test (bool verbose);

#endif
