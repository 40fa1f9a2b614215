/*  campaign - a release rolled out to a fleet in waves: the stored model
    A campaign is a target (a registry query, evaluated once when the
    campaign is created: the campaign is static), a payload (release
    NAME VERSION of the repository of each targeted device's tenant), a
    plan (ordered waves, each a count or a percentage of the devices
    that fit; a failure threshold, a count or a percentage of them; a
    per-device timeout) and a state:
        created -> running <-> paused; running -> halted -> (retry) running;
        running -> finished; any but finished -> aborted.
    Records in CAMPAIGN_TABLE (JSON):
        seq                 the last campaign number given
        c/<id>              the campaign: id, state, tenants, query, name,
                            version, waves (as given), sizes (devices per
                            wave), threshold (as given), threshold_devices,
                            timeout_s, rate, concurrency, soak_s (0:
                            none), wave (current, -1 before start),
                            devices, skipped, by, created_ms, updated_ms,
                            places (true: its h/ index is kept)
                            (campaign_run.h:) succeeded, failed (devices
                            per wave that ended so), reason (why halted);
                            success (as given: the succeeded devices
                            of a wave that start the next one early);
                            excludable (false: its tenants may not
                            leave it), excluded (tenants that left it,
                            rpc_campaign_exclude.c)
        d/<id>/<device>     one device: wave (-1 when skipped), state,
                            reason, tenant, type, path; offered_ms,
                            deadline_ms and site once offered
                            (campaign_run.h)
        q/<id>/<wave>/<device>  (value: its path) the device is pending;
                            wave as 4 hex digits, so the due devices of
                            waves up to N are one range, read in order
        w/<id>/<site> <device>  (empty) the device is under way (offered,
                            downloading, waiting-window, installing) at site: a site's
                            count is a range as long as its devices
                            under way
                            Both indexes are kept by campaign_device_put
                            from the record it stores, never by hand.
        h/<id>/<path>       ("COUNT FIRST") the places of the campaign's
                            devices (skipped ones too): how many are there
                            and the smallest id, so who may move the
                            campaign is checked per place, not per
                            device; kept by campaign_device_add, as
                            devices only join a campaign
        t/<deadline>/<id>/<device>  the deadlines (campaign_run.h)
        p/<id>              campaigns that wait: pace, soak (campaign_run.h)
        x/<device>          the campaign that holds the device, while that
                            campaign is neither aborted nor finished: a
                            device is in at most one such campaign, and
                            a twin report finds its campaign in one lookup
    Sans-IO: the caller passes transactions.  */

#ifndef WEFT_CAMPAIGN_H_INCLUDED
#define WEFT_CAMPAIGN_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "proto/store.h"

#define CAMPAIGN_TABLE          "campaigns"
#define CAMPAIGN_ID_MAX         32              //  "campaign-" and a number
#define CAMPAIGN_WAVES_MAX      16              //  Waves in a plan
#define CAMPAIGN_DEVICES_MAX    100000          //  Devices one campaign targets
#define CAMPAIGN_TIMEOUT_S      3600            //  Default per-device timeout
#define CAMPAIGN_TIMEOUT_MAX_S  (7 * 24 * 3600) //  Longest per-device timeout, and soak
#define CAMPAIGN_RATE_MAX       100000          //  Highest rate, devices a minute
#define CAMPAIGN_JOIN_MAX_S     86400           //  Longest interval of a dynamic query

//  Parse a plan size: "N" (1..max) or "P%" (1..100). Returns 0 with
//  *value and *percent set, or -1.
int
    campaign_size_parse (const char *text, int64_t max, int64_t *value, bool *percent);

//  Resolve the plan's waves (an array of size texts) over total devices
//  into sizes (CAMPAIGN_WAVES_MAX): a count takes that many devices, a
//  percentage that share of total rounded up, at most what is left.
//  The waves must cover every device, and none may be empty. Returns 0,
//  or -1 with error set.
int
    campaign_plan (json_t *waves, size_t total, size_t sizes [CAMPAIGN_WAVES_MAX],
                   char error [WEFT_TEXT_MAX + 1]);

//  The failure threshold text over total devices, in devices; -1 with
//  error set if it is not a size, or a count larger than total (a
//  threshold that can never be reached).
int64_t
    campaign_threshold (const char *text, size_t total, char error [WEFT_TEXT_MAX + 1]);

//  The succeeded devices of a wave of size devices that let the next
//  wave start before the wave's last devices end (the success threshold
//  text: N devices, at most size, or P% of size rounded up; NULL: all of
//  them). -1 with error set if text is not a size.
int64_t
    campaign_success (const char *text, int64_t size, char error [WEFT_TEXT_MAX + 1]);

//  A new campaign id from the sequence, into id
int
    campaign_next_id (store_txn_t *txn, char id [CAMPAIGN_ID_MAX + 1]);

//  The campaign, or NULL (caller decrefs)
json_t *
    campaign_get (store_txn_t *txn, const char *id);

//  Store the campaign record (its "id" names it). 0 or -1.
int
    campaign_put (store_txn_t *txn, json_t *campaign);

//  One device's record in campaign id, or NULL (caller decrefs)
json_t *
    campaign_device_get (store_txn_t *txn, const char *id, const char *device);

//  Is a device state one a device is under way in (offered,
//  downloading, waiting-window, installing)?
bool
    campaign_state_under_way (const char *state);

//  Store one device's record, and its entries in the due (q/) and
//  under-way (w/) indexes as its state says. 0 or -1.
int
    campaign_device_put (store_txn_t *txn, const char *id, const char *device,
                         json_t *record);

//  Store a device new to campaign id (campaign_device_put) and count it
//  at its place (h/ index: the record's path). 0 or -1.
int
    campaign_device_add (store_txn_t *txn, const char *id, const char *device,
                         json_t *record);

//  Each place of campaign id's devices, in path order, with how many are
//  there and the smallest of their ids; fn returns 0 to go on. Returns
//  the number visited or -1.
typedef int (campaign_place_fn) (void *arg, const char *path, uint64_t count,
                                 const char *first);
int64_t
    campaign_places (store_txn_t *txn, const char *id, campaign_place_fn *fn, void *arg);

//  The campaign that holds device (x/ index) into id; false if none
bool
    campaign_of (store_txn_t *txn, const char *device, char id [CAMPAIGN_ID_MAX + 1]);

//  Set or clear (id NULL) the x/ index of device. 0 or -1.
int
    campaign_hold (store_txn_t *txn, const char *device, const char *id);

//  Drop the device's due and under-way entries (its campaign ended
//  with the device still pending or under way). 0 or -1.
int
    campaign_device_unindex (store_txn_t *txn, const char *id, const char *device,
                             json_t *record);

//  Call fn for each device record of campaign id, in device order:
//  fn (arg, device, record) returns 0 to go on. Returns the number
//  visited or -1.
typedef int (campaign_device_fn) (void *arg, const char *device, json_t *record);
int64_t
    campaign_devices (store_txn_t *txn, const char *id, campaign_device_fn *fn, void *arg);

//  The sum of a per-wave counter of the campaign ("succeeded", "failed")
json_int_t
    campaign_total (json_t *campaign, const char *name);

//  Does the campaign hold devices of tenant: one of its tenants, not
//  excluded by its admin (campaign.exclude)?
bool
    campaign_has_tenant (json_t *campaign, const char *tenant);

//  Is state one a campaign never leaves (aborted, finished, reverted)?
bool
    campaign_state_final (const char *state);

void
    campaign_test (bool verbose);

#endif
