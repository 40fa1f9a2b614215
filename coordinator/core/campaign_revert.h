/*  campaign_revert - a configuration campaign undone, wave by wave in
    reverse order
    When a configuration campaign patches a device's desired twin, it
    keeps in the device's record (d/<id>/<device>) the device's undo: a
    merge patch that gives each key the patch touched the value it had
    before (null where the key did not exist), written in the same
    transaction as the patch, so a patched device never lacks its undo.
    It holds only the patch's keys: its size is bounded by the patch's
    keys and the previous values (each within the desired document's
    limit). A retry patches again but keeps the first undo.
    campaign.revert (running, paused, halted, finished, aborted or
    revert-halted) puts the campaign in state "reverting" and takes, for
    each device that has an undo and was not reverted already, the
    device's hold again (x/, so its reports find the campaign); a device
    another live campaign holds now is skipped with that reason. The
    waves are then undone from the last to the first: each device of
    the wave gets its undo in its desired twin (revert "offered",
    revert_version, a deadline of the campaign's per-device timeout)
    and ends when it reports that version applied: "succeeded", or
    "failed" (apply failed: STATUS, or timed out). A device whose desired
    twin holds, on the keys the patch set, neither what the patch set
    nor its undo (an earlier revert that did not end), was changed since
    by twin.set or another campaign: it is not reverted but "skipped"
    with the key, so a newer operator value is never undone.
    A wave is done when each of its devices ended; the failed ones
    counted over every wave reaching the campaign's threshold halt the
    revert ("revert-halted", with the reason); revert again retries
    them. After the first wave the campaign is "reverted" (final) and
    its holds are released. The revert is not paced (rate, concurrency
    and soak are the forward run's).
    Records: the device's undo, revert (pending, offered, succeeded,
    failed, skipped), revert_reason, revert_version; the campaign's
    revert_wave, revert_sizes (devices to revert per wave) and per-wave
    counters reverted, revert_failed, revert_skipped.
    Sans-IO: the caller passes the transaction.  */

#ifndef WEFT_CAMPAIGN_REVERT_H_INCLUDED
#define WEFT_CAMPAIGN_REVERT_H_INCLUDED

#include <jansson.h>
#include "coordinator/core/campaign_run.h"

//  The undo of patch over desired (the document before it): for each
//  key the patch touches, its value in desired, or null. Caller decrefs.
json_t *
    campaign_revert_undo (json_t *desired, json_t *patch);

//  Does desired no longer hold what patch set on the keys it set? The
//  first such key, dotted, into key.
bool
    campaign_revert_changed (json_t *desired, json_t *patch,
                             char key [WEFT_TEXT_MAX + 1]);

//  A device whose apply of the campaign's patch failed goes back to its
//  last good configuration: its undo into its desired twin, unless the
//  desired twin was changed since on the patch's keys. True if restored
//  (its new desired version in the record's rollback_version); false
//  with nothing done; -1 on a store failure (run's error set).
int
    campaign_revert_failed_device (campaign_run_t *run, json_t *campaign, const char *device,
                                   json_t *record);

//  Is the campaign reverting or revert-halted?
bool
    campaign_reverting (json_t *campaign);

//  Start (or take up again) the revert of a configuration campaign
//  (record changed in place and stored): the last wave's devices get
//  their undo. 0 or -1 (run's error set).
int
    campaign_revert_start (campaign_run_t *run, json_t *campaign);

//  A device of a reverting campaign applied (or tried) version: its
//  revert ends if it is that of its undo, and the revert moves on
int
    campaign_revert_report (campaign_run_t *run, json_t *campaign, const char *device,
                            json_t *record, uint64_t applied_version, const char *status);

//  A device's deadline passed in a reverting campaign: a device whose
//  undo is under way fails. 1 if it moved, 0 if not, -1.
int
    campaign_revert_expire (campaign_run_t *run, json_t *campaign, const char *device,
                            json_t *record);

void
    campaign_revert_test (bool verbose);

#endif
