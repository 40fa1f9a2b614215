/*  sitecamp_internal - what sitecamp.c (store, reports of devices) and
    sitecamp_run.c (directives, the tick) share  */

#ifndef WEFT_SITECAMP_INTERNAL_H_INCLUDED
#define WEFT_SITECAMP_INTERNAL_H_INCLUDED

#include <jansson.h>
#include "proto/sitemsg.h"
#include "node/core/sitecamp.h"

#define S_KEY_MAX       512
#define S_UNDER(state)  ((state) >= SITE_DEV_OFFERED && (state) <= SITE_DEV_INSTALLING)
#define S_FINAL(state)  ((state) >= SITE_DEV_SUCCEEDED)

//  A campaign as this site runs it (sc/c/)
typedef struct {
    char id [SITEMSG_CAMPAIGN_MAX + 1];
    uint64_t generation;
    uint32_t site_state;                //  SITE_RUNNING..
    char site [SITEMSG_SITE_MAX + 1];
    char name [WEFT_NAME_MAX + 1];
    char version [WEFT_NAME_MAX + 1];
    uint32_t threshold, success_pct, soak_s, concurrency, timeout_s;
    uint32_t wave;                      //  The current wave
    uint32_t waves;                     //  Highest wave held + 1
    uint64_t soak_until_ms;             //  The current wave ended: next wave then
    uint32_t failed, under_way, pending, unreported;
    uint32_t report_due;                //  The site's state changed
    uint64_t reported_ms;               //  Last report sent
    char reason [WEFT_TEXT_MAX + 1];    //  Why halted
} s_camp_t;

//  A wave's counts (sc/w/)
typedef struct {
    uint32_t total, ended, succeeded;
} s_wave_t;

//  A device (sc/d/), its assignment after it
typedef struct {
    char device [WEFT_NAME_MAX + 1];
    uint8_t state;                      //  0 pending, SITE_DEV_*
    uint32_t wave;
    uint64_t issued_ms;                 //  The assignment's
    uint64_t offered_ms, deadline_ms, at_ms;
    char reason [WEFT_TEXT_MAX + 1];
    uint32_t assignment_size;
} s_dev_t;

struct _sitecamp_t {
    sitecamp_effects_t effects;
    store_t *store;
    char name [WEFT_NAME_MAX + 1];
    char tenant [WEFT_NAME_MAX + 1];
    char prefix [WEFT_NAME_MAX + 8];
    uint8_t coord_sign [WEFT_KEY_SIZE];
    bool verbose;
    uint64_t now_ms;
    struct {
        char id [SITEMSG_CAMPAIGN_MAX + 1];
        uint64_t due_ms;                //  0: nothing waits
    } live [SITECAMP_CAMPAIGNS_MAX];
    size_t live_count;
};

size_t
    sitecamp_key (sitecamp_t *self, uint8_t *key, char kind, const char *campaign,
                  const void *tail, size_t tail_size);
int
    sitecamp_camp_get (sitecamp_t *self, store_txn_t *txn, const char *campaign,
                       s_camp_t *camp);
int
    sitecamp_camp_put (sitecamp_t *self, store_txn_t *txn, const s_camp_t *camp);
int
    sitecamp_dev_get (sitecamp_t *self, store_txn_t *txn, const char *campaign,
                      const char *device, s_dev_t *dev, uint8_t **assignment_p);
//  Move a device to state (forward only), marked for the next report
int
    sitecamp_dev_set (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, s_dev_t *dev,
                      int state, const char *reason, uint64_t now_ms);
//  A new or re-armed device's record (and index of its campaign)
int
    sitecamp_dev_new (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, s_dev_t *dev,
                      const uint8_t *assignment);
int
    sitecamp_dev_drop (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp,
                       const char *device);
//  Into (pending true) or out of the pending index
int
    sitecamp_dev_pend (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, s_dev_t *dev,
                       bool pending);
//  Into the under-way index at its deadline
int
    sitecamp_dev_under (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, s_dev_t *dev);
int
    sitecamp_wave_add (sitecamp_t *self, store_txn_t *txn, const char *campaign,
                       uint32_t wave, int total, int ended, int succeeded);
int
    sitecamp_wave_get (sitecamp_t *self, store_txn_t *txn, const char *campaign,
                       uint32_t wave, s_wave_t *counts);
int
    sitecamp_unmark (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, const char *device);
void
    sitecamp_live_due (sitecamp_t *self, const char *campaign, uint64_t due_ms);
//  Nothing more will happen: stopped, nothing under way or to report
bool
    sitecamp_settled (const s_camp_t *camp);

#endif
