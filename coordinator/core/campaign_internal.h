/*  campaign_internal - what campaign_run.c, campaign_offer.c and campaign_revert.c share  */

#ifndef WEFT_CAMPAIGN_INTERNAL_H_INCLUDED
#define WEFT_CAMPAIGN_INTERNAL_H_INCLUDED

#include "coordinator/core/campaign_run.h"

//  Set the run's status and error (the first failure's); returns -1
int
    campaign_run_fail (campaign_run_t *run, int status, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Audit a move the campaign makes by itself (actor "coordinator") in
//  the deployment's chain and each of its tenants'; takes detail. 0 or -1.
int
    campaign_audit (campaign_run_t *run, json_t *campaign, const char *action, json_t *detail);

//  Add delta to the campaign's per-wave counter name ("succeeded",
//  "failed"), never below zero
void
    campaign_count_add (json_t *campaign, const char *name, json_int_t wave, json_int_t delta);

//  Store the device's new state and reason; a final state is counted
//  for its wave and drops its deadline. 0 or -1.
int
    campaign_settle (campaign_run_t *run, json_t *campaign, const char *device,
                     json_t *record, const char *state, const char *reason);

//  How often a dynamic campaign runs its query again: its join_s, else
//  CAMPAIGN_JOIN_MS
uint64_t
    campaign_join_ms (const json_t *campaign);

//  The same for the record's fields state_key and reason_key; counter
//  names the per-wave counter a final state adds to (NULL: not final)
int
    campaign_settle_in (campaign_run_t *run, json_t *campaign, const char *device,
                        json_t *record, const char *state_key, const char *reason_key,
                        const char *state, const char *reason, const char *counter);

//  When the devices of the campaign's counter (all waves) reach its
//  threshold, halt it: state to, reason "N devices WHAT: the threshold
//  is T", audited (wave, 0-based, the one it halts in). 1 if halted, 0
//  if not, -1 (run's error set).
int
    campaign_halt (campaign_run_t *run, json_t *campaign, const char *counter,
                   const char *what, const char *to, json_int_t wave);

//  The campaign is due at when_ms in the pace index (0: not due)
int
    campaign_pace_at (campaign_run_t *run, const char *id, uint64_t when_ms);

#endif
