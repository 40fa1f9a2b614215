/*  coord_campaign - the coordinator's side of running campaigns: a
    device's report moves its campaign in the report's own transaction,
    deadlines are swept at the coordinator's tick, and the offers of a
    next wave go by custody once their transaction committed (the model
    is campaign_run.h)  */

#include "proto/corelib.h"
#include "coordinator/core/coord_internal.h"

int
coord_campaign_report (coord_t *self, campaign_run_t *run, const char *device, json_t *doc)
{
    assert (self && run && device);
    json_t *software = json_object_get (doc, "software");
    if (!json_is_object (software))
        return 0;
    int rc = campaign_report (run, device, software);
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

void
coord_campaign_sweep (coord_t *self, uint64_t now_ms)
{
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn) {
        zsys_error ("coord: campaign sweep: store unavailable");
        return;
    }
    campaign_run_t run;
    campaign_run_init (&run, txn, self->pki, self->keys.sign_secret, "coordinator", now_ms);
    int handled = campaign_expire (&run);
    bool committed = handled > 0 && store_commit (&txn) == 0;
    if (handled < 0)
        zsys_error ("coord: campaign sweep failed: %s", run.error);
    else
    if (handled > 0 && !committed)
        zsys_error ("coord: cannot record the campaign sweep");
    else
    if (handled > 0)
        coord_debug (self, "coord: %d campaign deadlines passed", handled);
    store_abort (&txn);
    coord_campaign_end (self, &run, committed, now_ms);
}
