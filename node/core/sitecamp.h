/*  sitecamp - a site server runs its site's part of a campaign
    (docs/protocol.md section 22, docs/campaigns.md)
    Sans-IO. Takes SITE_DIRECTIVEs (custody from the coordinator), keeps
    each campaign, its plan and every device in the node's LMDB store
    (UPDATE_TABLE, keys under the node's prefix + "sc/"), so a restart
    resumes where it was, and on each tick runs the site's waves: offers
    pending devices of the current wave (an UPDATE_OFFER composed from
    the directive's common bytes and the device's assignment, sent by
    the node), follows each device's reported software, fails a device
    past its timeout, halts the site at its threshold, soaks between
    waves, and reports every outcome change in SITE_REPORTs.
    Store keys (c = campaign id, NUL-ended; numbers big-endian):
        sc/c/c          the campaign: plan, state, counters
        sc/b/c          the common bundle bytes of its offers
        sc/d/c/device   a device: wave, state, assignment, deadline
        sc/w/c/wave     a wave's counts: devices, ended, succeeded
        sc/p/c/wave/device      pending, in wave order (range read)
        sc/u/c/deadline/device  under way, by deadline (range read)
        sc/r/c/device   an outcome change not yet reported
        sc/x/device     the campaign that holds a device (point lookup)
    Memory: a few counters per live campaign; devices are read a tick's
    worth at a time.  */

#ifndef WEFT_SITECAMP_H_INCLUDED
#define WEFT_SITECAMP_H_INCLUDED

#include "proto/proto.h"
#include "proto/store.h"

#define SITECAMP_REPORT_MS      2000    //  Outcomes batched at most this long
#define SITECAMP_OFFERS_TICK    256     //  Offers sent in one tick at most
#define SITECAMP_TIMEOUTS_TICK  1024    //  Devices timed out in one tick at most
#define SITECAMP_CAMPAIGNS_MAX  64      //  Live campaigns a server runs at once

typedef struct {
    void *ctx;
    //  Send an UPDATE_OFFER (metadata: a bundle without chunks) to device
    //  by custody, origin this node. 0, or -1 if not queued.
    int (*offer) (void *ctx, const char *device, const uint8_t *metadata, size_t size);
    //  Send a SITE_REPORT payload by custody to the coordinator. 0 or -1.
    int (*report) (void *ctx, const uint8_t *payload, size_t size);
    //  Fetch for the site the release the common bundle bytes name
    void (*release) (void *ctx, const uint8_t *common, size_t size);
} sitecamp_effects_t;

typedef struct {
    const char *name;                   //  This server's device id
    const char *tenant;
    const uint8_t *coord_sign;          //  Coordinator key (assignments), copied
    store_t *store;                     //  With UPDATE_TABLE
    const char *prefix;                 //  Key prefix ("" in the daemon)
    bool verbose;
} sitecamp_config_t;

typedef struct _sitecamp_t sitecamp_t;

//  Create and load the live campaigns from the store. NULL if the store
//  cannot be read.
sitecamp_t *
    sitecamp_new (const sitecamp_config_t *config, const sitecamp_effects_t *effects,
                  uint64_t now_ms);
void
    sitecamp_destroy (sitecamp_t **self_p);

//  A SITE_DIRECTIVE payload delivered by custody from origin. Returns
//  the weft_status_t of its CUSTODY_ACK, the reason in reason.
int
    sitecamp_directive (sitecamp_t *self, const char *origin, const uint8_t *payload,
                        size_t size, uint64_t now_ms, char reason [WEFT_TEXT_MAX + 1]);

//  Does a live campaign hold device? (No live campaign: no store read.)
bool
    sitecamp_holds (sitecamp_t *self, const char *device);

//  A device's reported software (the JSON object of reported.software,
//  size bytes): moves the device if it names the campaign's release and
//  assignment.
void
    sitecamp_software (sitecamp_t *self, const char *device, const char *json, size_t size,
                       uint64_t now_ms);

//  A TWIN_REPORTED payload a device sent the coordinator through us.
void
    sitecamp_twin_reported (sitecamp_t *self, const char *device, const uint8_t *payload,
                            size_t size, uint64_t now_ms);

//  Whatever is due: timeouts, the threshold, waves, offers, reports.
void
    sitecamp_tick (sitecamp_t *self, uint64_t now_ms);

//  When the next tick is due (Unix ms), 0 if nothing waits.
uint64_t
    sitecamp_deadline (sitecamp_t *self);

//  The site's state of a campaign (SITE_RUNNING..), its current wave
//  and counts: for tests and stats. -1 if not held.
int
    sitecamp_state (sitecamp_t *self, const char *campaign, uint32_t *wave_p,
                    uint32_t *failed_p, uint32_t *under_way_p);

//  A device's state in a campaign (0 pending, SITE_DEV_*), -1 if not held.
int
    sitecamp_device (sitecamp_t *self, const char *campaign, const char *device);

void
    sitecamp_test (bool verbose);

#endif
