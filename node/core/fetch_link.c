/*  fetch_link - the chunk exchange over a metered uplink (see fetch.h):
    the link's settings, the day's count kept in FETCH_TABLE, and why
    chunks wait for it  */

#include "node/core/fetch_internal.h"

//  The key of the day's count: prefix + "meter" -> day (be64), bytes (be64)
static size_t
s_meter_key (fetch_t *self, uint8_t key [FETCH_KEY_MAX])
{
    size_t prefix = strlen (self->prefix);
    memcpy (key, self->prefix, prefix);
    memcpy (key + prefix, "meter", 5);
    return prefix + 5;
}

int
fetch_meter_save (fetch_t *self, store_txn_t *txn)
{
    assert (self->meter);
    uint8_t key [FETCH_KEY_MAX], value [16];
    proto_put_be64 (value, self->meter->meter.day);
    proto_put_be64 (value + 8, self->meter->meter.spent);
    int rc = store_put (txn, FETCH_TABLE, key, s_meter_key (self, key), value, sizeof value);
    if (rc == 0)
        self->meter->dirty = false;
    return rc;
}

//  The count an earlier run kept (none: nothing spent today)
static void
s_meter_load (fetch_t *self, uint64_t now_ms)
{
    store_txn_t *txn = store_begin (self->store, false);
    uint8_t key [FETCH_KEY_MAX];
    size_t size = 0;
    uint8_t *value = txn? (uint8_t *) store_get (txn, FETCH_TABLE, key, s_meter_key (self, key),
                                                 &size): NULL;
    store_abort (&txn);
    meter_t *meter = &self->meter->meter;
    if (value && size == 16)
        meter_restore (meter, proto_get_be64 (value), proto_get_be64 (value + 8), now_ms);
    else
        meter_restore (meter, meter_day (now_ms, meter->offset_s), 0, now_ms);
    free (value);
}

void
fetch_set_link (fetch_t *self, const meter_link_t *link, int32_t offset_s, uint64_t now_ms)
{
    assert (self && link);
    if (!self->meter) {
        if (!link->set)
            return;                     //  Never metered: nothing to keep
        self->meter = (fetch_meter_t *) zmalloc (sizeof (fetch_meter_t));
        self->meter->meter.offset_s = offset_s;
        s_meter_load (self, now_ms);
    }
    meter_t *meter = &self->meter->meter;
    bool same = meter_link_eq (&meter->link, link) && meter->offset_s == offset_s;
    meter->link = *link;
    meter->offset_s = offset_s;
    if (same)
        return;
    if (link->malformed)
        zsys_warning ("fetch: %s: link malformed, no chunk crosses the uplink: %s",
                      self->name, link->error);
    else
        zsys_info ("fetch: %s: uplink %s", self->name, link->metered? "metered": "not metered");
    //  Held asks may go now, or wait with another reason
    fetch_pump (self, now_ms);
}

bool
fetch_metered (fetch_t *self)
{
    assert (self);
    return self->meter && self->meter->meter.link.metered;
}

bool
fetch_link_set (fetch_t *self)
{
    assert (self);
    return self->meter != NULL;
}

bool
fetch_link_waiting (fetch_t *self, uint64_t now_ms, char why [METER_DESCRIBE_MAX + 1],
                    uint64_t *resumes_p)
{
    assert (self && why && resumes_p);
    *why = 0;
    *resumes_p = 0;
    if (!self->meter || !self->meter->held)
        return false;
    meter_t *meter = &self->meter->meter;
    uint64_t bytes = self->meter->flight + self->meter->held;
    if (meter_check (meter, bytes, now_ms) == METER_OPEN)
        return false;
    meter_describe (meter, bytes, now_ms, why);
    *resumes_p = meter_resumes (meter, bytes, now_ms);
    return true;
}
