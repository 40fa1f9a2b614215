/*  coord_campaign - the coordinator's side of running campaigns: a
    device's report moves its campaign in the report's own transaction,
    deadlines are swept at the coordinator's tick, and the offers of a
    next wave go by custody once their transaction committed (the model
    is campaign_run.h)  */

#include "proto/corelib.h"
#include "coordinator/core/coord_internal.h"

int
coord_campaign_report (coord_t *self, campaign_run_t *run, const char *device, json_t *doc,
                       uint64_t applied_version, const char *status)
{
    assert (self && run && device);
    int rc = campaign_report (run, device, json_object_get (doc, "software"), applied_version,
                              status);
    if (rc)
        zsys_error ("coord: campaign of %s: %s", device, run->error);
    return rc;
}

void
coord_campaign_end (coord_t *self, campaign_run_t *run, bool sent, uint64_t now_ms)
{
    assert (self && run);
    for (size_t index = 0; sent && index < run->offer_count; index++)
        coord_send_offers (self, run->offers [index], now_ms);
    campaign_run_fini (run);
}

//  One move in a transaction of its own: what (campaign_refused, or
//  campaign_expire and campaign_pace) returns how many things changed,
//  or -1
typedef int (s_move_fn) (campaign_run_t *run, const char *device, const char *reason);

static int
s_sweep (campaign_run_t *run, const char *device, const char *reason)
{
    (void) device;
    (void) reason;
    int expired = campaign_expire (run);
    int paced = expired < 0? -1: campaign_pace (run);
    return paced < 0? -1: expired + paced;
}

static int
s_move (coord_t *self, s_move_fn *what, const char *device, const char *reason,
        uint64_t now_ms)
{
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn)
        return -1;
    campaign_run_t run;
    campaign_run_init (&run, txn, self->pki, self->keys.sign_secret, "coordinator", now_ms);
    int moved = what (&run, device, reason);
    bool committed = moved > 0 && store_commit (&txn) == 0;
    if (moved < 0)
        zsys_error ("coord: campaign: %s", run.error);
    else
    if (moved > 0 && !committed) {
        zsys_error ("coord: campaign: cannot commit");
        moved = -1;
    }
    store_abort (&txn);
    coord_campaign_end (self, &run, committed, now_ms);
    return moved;
}

void
coord_campaign_refused (coord_t *self, const char *device, const char *reason,
                        uint64_t now_ms)
{
    assert (self && device);
    if (s_move (self, campaign_refused, device, reason, now_ms) > 0)
        coord_debug (self, "coord: %s refused its campaign's offer: %s", device, reason);
}

void
coord_campaign_sweep (coord_t *self, uint64_t now_ms)
{
    int handled = s_move (self, s_sweep, NULL, NULL, now_ms);
    if (handled > 0)
        coord_debug (self, "coord: %d campaign deadlines and paced campaigns", handled);
}
