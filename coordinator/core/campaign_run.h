/*  campaign_run - a running campaign follows its devices: offers to a
    wave, a device's reported.software moving its record, devices timed
    out, and the campaign moving on to its next wave, halting at its
    failure threshold, or finishing
    A campaign carries a release (name, version) or a configuration
    (patch: a JSON merge patch of the desired twin). A configuration's
    device is "offered" once its desired twin is patched (desired_version
    in its record), and ends when it reports that version applied:
    "succeeded" with status ok, else "failed" (apply failed: STATUS).
    A device of a wave is offered the release (its record: "offered",
    offered_ms = the assignment's issue time, deadline_ms). Its reports
    move it while they name the campaign's release and that assignment
    (reported.software.assigned_ms = offered_ms): "downloading" (node
    states assigned, downloading, verified), "waiting-window" (staged
    and waiting for its maintenance window: reported.software.waiting,
    the row's reason), "installing" (staged, installing, health, failed:
    the rollback runs), then for good "succeeded" (committed) or
    "rolled-back" (with the node's error). A device past its deadline
    fails ("timed out"); one waiting for its window that says when it
    opens (reported.software.opens_ms) has its deadline moved to the
    opening plus the timeout, never earlier. The campaign counts
    each wave's succeeded and failed devices in its record (arrays
    "succeeded" and "failed", one number per wave), so a report costs
    one campaign read, never a scan of its devices:
        failed devices (all waves) >= threshold_devices -> halted
        the current wave all succeeded or failed -> the next wave is
            offered, or, after the last, finished (devices released)
    Transitions the campaign makes by itself are audited with actor
    "coordinator" in the deployment's chain and each of its tenants'.
    Deadlines are kept in an index of their own, in deadline order, so a
    sweep reads only the devices that are due:
        t/<deadline_ms as 16 hex digits>/<campaign>/<device>   (empty)
    A plan may pace its offers (campaign_offer.c): at most `rate`
    devices a minute, at most `concurrency` under way per site, and a
    soak of `soak_s` between waves (soak_until_ms while it runs); a
    campaign that waits is in the pace index (p/<campaign>), and so is
    a dynamic campaign, which takes late joiners (campaign_join.c) and
    never finishes by itself: after its last wave it keeps running.
    Offers are made in the caller's transaction and kept in the run (one
    batch per tenant), for the caller to send once it has committed.
    Sans-IO: the caller passes the transaction.  */

#ifndef WEFT_CAMPAIGN_RUN_H_INCLUDED
#define WEFT_CAMPAIGN_RUN_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "proto/store.h"
#include "coordinator/core/pki.h"
#include "coordinator/core/director.h"
#include "coordinator/core/campaign.h"

#define CAMPAIGN_TENANTS_MAX    16      //  Tenants one wave offers to
#define CAMPAIGN_SWEEP_MAX      1000    //  Devices one sweep times out, or joins
#define CAMPAIGN_JOIN_MS        60000   //  A dynamic campaign runs its query again
//  The furthest a maintenance window's opening may push a deadline: a
//  window recurs within a week
#define CAMPAIGN_WINDOW_WAIT_MAX_MS (8 * 24 * 3600 * 1000ULL)

typedef struct {
    store_txn_t *txn;
    pki_t *pki;                         //  Signs the audit heads
    const uint8_t *secret;              //  Signs the assignments
    const char *actor;                  //  The operator, or "coordinator"
    uint64_t now_ms;
    director_batch_t *offers [CAMPAIGN_TENANTS_MAX];    //  To send once committed
    size_t offer_count;
    size_t patched;                     //  Desired twins a configuration patched
    zlistx_t *directives;               //  Site directives to send once committed
                                        //  (campaign_directive_t, campaign_site.h)
    int status;                         //  weft_status_t of the first failure
    char error [WEFT_TEXT_MAX + 1];
} campaign_run_t;

void
    campaign_run_init (campaign_run_t *run, store_txn_t *txn, pki_t *pki,
                       const uint8_t secret [WEFT_SECRET_SIZE], const char *actor,
                       uint64_t now_ms);

//  Destroy the batches still in the run (not taken by the caller)
void
    campaign_run_fini (campaign_run_t *run);

//  Devices offered by the run: in its batches, and patched
size_t
    campaign_run_offered (campaign_run_t *run);

//  Offer the release to the due devices of campaign (record, changed in
//  place, not stored): the pending ones of its current wave or an
//  earlier one and, with retry, the failed ones (counted in
//  *retried_p). A device that already runs the release succeeds at
//  once; one whose type no longer fits fails. 0, or -1 with the run's
//  status and error set.
int
    campaign_offer_due (campaign_run_t *run, json_t *campaign, bool retry,
                        size_t *retried_p);

//  Move a running campaign on (record changed in place and stored):
//  halt it at the threshold, offer the next wave when the current one
//  is done, finish it after the last. 0 or -1 (run's error set).
int
    campaign_advance (campaign_run_t *run, json_t *campaign);

//  A device reported (its reported.software object, may be NULL; the
//  desired version it applied or tried, and the status of that): move
//  its record in the campaign that holds it, if the report is of that
//  campaign's release and assignment, or, for a configuration, applied
//  the version the campaign's patch made; and the campaign on. 0 (also
//  when the device is in no campaign or the report is of something
//  else) or -1 (run's error set).
int
    campaign_report (campaign_run_t *run, const char *device, json_t *software,
                     uint64_t applied_version, const char *status);

//  The device refused the offer of its campaign for good (the reason of
//  its ACK): an offered device fails ("offer refused: REASON") and the
//  campaign moves on. 1 if it moved, 0 if not (in no campaign, or past
//  offered), -1 (run's error set).
int
    campaign_refused (campaign_run_t *run, const char *device, const char *reason);

//  Time out the devices whose deadline passed, at most
//  CAMPAIGN_SWEEP_MAX, and move their campaigns on; a deadline left by
//  an aborted campaign or a device that moved on is dropped. Returns
//  the number of deadlines handled, or -1.
int
    campaign_expire (campaign_run_t *run);

//  A dynamic campaign (running, paused or halted) takes the devices
//  that match its query now and are in no live campaign: each joins
//  the current wave as pending, or is kept skipped if the release does
//  not fit it (campaign_join.c; record changed in place, not stored).
//  Returns how many joined, or -1.
int
    campaign_join (campaign_run_t *run, json_t *campaign);

//  Offer again the campaigns whose pace held devices back, and move on
//  those whose soak between waves ended (the pace index,
//  campaign_offer.c). Returns the number of campaigns looked at, or -1.
int
    campaign_pace (campaign_run_t *run);

//  Put the device's deadline (an offer's: now + the campaign's timeout)
//  into its record and the index, replacing the one it had; drop it
//  (record without one: nothing)
int
    campaign_deadline_set (campaign_run_t *run, const char *id, const char *device,
                           json_t *record, uint64_t deadline_ms);
int
    campaign_deadline_drop (campaign_run_t *run, const char *id, const char *device,
                            json_t *record);

//  Is a device state one it ends in (succeeded, failed, rolled-back,
//  skipped)?
bool
    campaign_device_final (const char *state);

//  The site of a place, as the pace counts devices under way per site
//  and campaign.show per site: the nearest place at or above path of
//  level site in the hierarchy, else its first two segments
//  (campaign_offer.c). cache (from campaign_sites_new) keeps each path's
//  answer, so one pass over a campaign's devices reads the hierarchy
//  once per distinct place. The string is the cache's.
const char *
    campaign_site (store_txn_t *txn, zhashx_t *cache, const char *path);

//  A cache for campaign_site: path -> site. Caller destroys.
zhashx_t *
    campaign_sites_new (void);

void
    campaign_run_test (bool verbose);

#endif
