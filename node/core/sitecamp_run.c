/*  sitecamp_run - a site's campaign: directives taken, and the tick
    that runs the waves and reports (see sitecamp.h)  */

#include "proto/corelib.h"
#include "proto/bundle.h"
#include "proto/release.h"
#include "proto/sitemsg.h"
#include "node/core/update.h"
#include "node/core/sitecamp_internal.h"

//  --------------------------------------------------------------------------
//  Directives

//  A scan's keys collected (device names after a fixed tail offset)
typedef struct {
    size_t skip;                        //  Bytes of the key before the device
    size_t stop_at;                     //  Bytes compared to stop (0: none)
    uint8_t stop [8];                   //  Stop at a key whose bytes pass this
    size_t max, count;
    char (*devices) [WEFT_NAME_MAX + 1];
} s_collect_t;

static int
s_collect_one (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    s_collect_t *collect = (s_collect_t *) arg;
    (void) value, (void) size;
    const uint8_t *bytes = (const uint8_t *) key;
    if (key_size <= collect->skip || key_size - collect->skip > WEFT_NAME_MAX)
        return 0;
    if (collect->stop_at
    &&  memcmp (bytes + collect->skip - collect->stop_at, collect->stop, collect->stop_at) > 0)
        return 1;
    snprintf (collect->devices [collect->count], WEFT_NAME_MAX + 1, "%.*s",
              (int) (key_size - collect->skip), bytes + collect->skip);
    return ++collect->count == collect->max;
}

//  Devices of an index of campaign: kind, after a tail of tail_size
//  bytes, stopping past stop (its first stop_at bytes; none if 0)
static int
s_collect (sitecamp_t *self, store_txn_t *txn, char kind, const char *campaign,
           size_t tail_size, const uint8_t *stop, size_t stop_at, size_t max,
           char (*devices) [WEFT_NAME_MAX + 1])
{
    uint8_t prefix [S_KEY_MAX];
    size_t prefix_size = sitecamp_key (self, prefix, kind, campaign, NULL, 0);
    s_collect_t collect = { prefix_size + tail_size, stop_at, { 0 }, max, 0, devices };
    if (stop_at)
        memcpy (collect.stop, stop, stop_at);
    int rc = store_scan (txn, UPDATE_TABLE, prefix, prefix_size, s_collect_one, &collect);
    return rc < 0? -1: (int) collect.count;
}

//  The devices of a directive, taken in txn
static int
s_take_devices (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, const sitemsg_t *msg,
                char reason [WEFT_TEXT_MAX + 1])
{
    const uint8_t *at = msg->entries;
    size_t left = msg->entries_size;
    sitemsg_device_t entry;
    int rc;
    while ((rc = sitemsg_next_device (&at, &left, &entry)) == 1) {
        release_assignment_t assignment;
        if (release_assignment_open (&assignment, entry.assignment, entry.assignment_size,
                                     self->coord_sign)
        ||  !streq (assignment.device, entry.device) || !streq (assignment.tenant, self->tenant)
        ||  !streq (assignment.name, msg->name) || !streq (assignment.version, msg->version))
            return proto_refusal (reason, WEFT_STATUS_DENIED, "the assignment of %s in "
                                  "SITE_DIRECTIVE does not verify or names another device "
                                  "or release", entry.device);
        s_dev_t dev;
        bool held = sitecamp_dev_get (self, txn, camp->id, entry.device, &dev, NULL) == 0;
        if (held && dev.state != SITE_DEV_FAILED && dev.state != SITE_DEV_ROLLED_BACK)
            continue;               //  Pending or under way or succeeded: unchanged
        rc = 0;
        if (held) {
            //  A retry: pending again with the new assignment, its old
            //  outcome no longer to report
            camp->failed--;
            rc = sitecamp_wave_add (self, txn, camp->id, dev.wave, -1, -1, 0);
            if (rc == 0)
                rc = sitecamp_unmark (self, txn, camp, entry.device);
        }
        memset (&dev, 0, sizeof dev);
        snprintf (dev.device, sizeof dev.device, "%s", entry.device);
        dev.wave = entry.wave;
        dev.issued_ms = assignment.issued_ms;
        dev.assignment_size = (uint32_t) entry.assignment_size;
        if (rc == 0)
            rc = sitecamp_dev_new (self, txn, camp, &dev, entry.assignment);
        if (rc == 0)
            rc = sitecamp_dev_pend (self, txn, camp, &dev, true);
        if (rc == 0)
            rc = sitecamp_wave_add (self, txn, camp->id, dev.wave, 1, 0, 0);
        if (rc)
            return proto_refusal (reason, WEFT_STATUS_INTERNAL, "store write failed");
        if (dev.wave + 1 > camp->waves)
            camp->waves = dev.wave + 1;
    }
    return WEFT_STATUS_OK;
}

//  Abort: the pending devices are dropped
static int
s_drop_pending (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp)
{
    char (*devices) [WEFT_NAME_MAX + 1] = malloc (256 * sizeof *devices);
    assert (devices);
    int rc = 0, count;
    while (rc == 0 && (count = s_collect (self, txn, 'p', camp->id, 2, NULL, 0, 256,
                                          devices)) > 0)
        for (int i = 0; i < count && rc == 0; i++) {
            s_dev_t dev;
            rc = sitecamp_dev_get (self, txn, camp->id, devices [i], &dev, NULL);
            if (rc == 0)
                rc = sitecamp_dev_pend (self, txn, camp, &dev, false);
            if (rc == 0)
                rc = sitecamp_wave_add (self, txn, camp->id, dev.wave, -1, 0, 0);
            if (rc == 0)
                rc = sitecamp_dev_drop (self, txn, camp, devices [i]);
        }
    free (devices);
    return rc || count < 0? -1: 0;
}

int
sitecamp_directive (sitecamp_t *self, const char *origin, const uint8_t *payload, size_t size,
                    uint64_t now_ms, char reason [WEFT_TEXT_MAX + 1])
{
    assert (self && origin && payload && reason);
    self->now_ms = now_ms;
    if (!streq (origin, "coordinator"))
        return proto_refusal (reason, WEFT_STATUS_DENIED, "a site directive comes from the "
                              "coordinator only");
    sitemsg_t msg;
    if (sitemsg_decode (&msg, MSG_SITE_DIRECTIVE, payload, size))
        return proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "SITE_DIRECTIVE malformed");
    if (!streq (msg.tenant, self->tenant))
        return proto_refusal (reason, WEFT_STATUS_DENIED, "a directive of tenant %s for a "
                              "server of %s", msg.tenant, self->tenant);
    //  Every offer is the common bytes, an assignment and two records
    if (msg.common_size + BUNDLE_OFFER_EXTRA > UPDMSG_METADATA_MAX)
        return proto_refusal (reason, WEFT_STATUS_DENIED, "the common bytes of SITE_DIRECTIVE "
                              "(%zu) leave no room for an offer's assignment", msg.common_size);
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn)
        return proto_refusal (reason, WEFT_STATUS_INTERNAL, "store read failed");
    s_camp_t camp;
    bool held = sitecamp_camp_get (self, txn, msg.campaign, &camp) == 0;
    if (held && msg.generation <= camp.generation) {
        store_abort (&txn);
        return WEFT_STATUS_OK;      //  A duplicate, or older than the one applied
    }
    if (!held) {
        if (self->live_count == SITECAMP_CAMPAIGNS_MAX) {
            store_abort (&txn);
            return proto_refusal (reason, WEFT_STATUS_INTERNAL, "this server runs %d "
                                  "campaigns already", SITECAMP_CAMPAIGNS_MAX);
        }
        memset (&camp, 0, sizeof camp);
        snprintf (camp.id, sizeof camp.id, "%s", msg.campaign);
        camp.site_state = SITE_RUNNING;
    }
    uint32_t was = camp.site_state;
    camp.generation = msg.generation;
    snprintf (camp.site, sizeof camp.site, "%s", msg.site);
    snprintf (camp.name, sizeof camp.name, "%s", msg.name);
    snprintf (camp.version, sizeof camp.version, "%s", msg.version);
    camp.threshold = msg.threshold;
    camp.success_pct = msg.success_pct;
    camp.soak_s = msg.soak_s;
    camp.concurrency = msg.concurrency;
    camp.timeout_s = msg.timeout_s;
    int status = camp.site_state == SITE_ABORTED? WEFT_STATUS_OK
               : s_take_devices (self, txn, &camp, &msg, reason);
    if (status == WEFT_STATUS_OK && camp.site_state != SITE_ABORTED) {
        if (msg.state == SITE_ABORT) {
            camp.site_state = SITE_ABORTED;
            if (s_drop_pending (self, txn, &camp))
                status = proto_refusal (reason, WEFT_STATUS_INTERNAL, "store write failed");
        }
        else
        if (msg.state == SITE_PAUSE)
            camp.site_state = SITE_PAUSED;
        else
        if (camp.failed < camp.threshold
        &&  (camp.site_state != SITE_FINISHED || camp.pending))
            camp.site_state = SITE_RUNNING;     //  Resumed, or retried after a halt
        if (camp.site_state == SITE_RUNNING)
            *camp.reason = 0;
    }
    if (camp.site_state != was)
        camp.report_due = 1;
    uint8_t key [S_KEY_MAX];
    if (status == WEFT_STATUS_OK && msg.common_size
    &&  store_put (txn, UPDATE_TABLE, key, sitecamp_key (self, key, 'b', camp.id, NULL, 0),
                   msg.common, msg.common_size))
        status = proto_refusal (reason, WEFT_STATUS_INTERNAL, "store write failed");
    if (status == WEFT_STATUS_OK
    &&  (sitecamp_camp_put (self, txn, &camp) || store_commit (&txn)))
        status = proto_refusal (reason, WEFT_STATUS_INTERNAL, "store write failed");
    store_abort (&txn);
    if (status != WEFT_STATUS_OK)
        return status;
    sitecamp_live_due (self, camp.id, now_ms);
    //  The site holds the release from now on, also if cut off next
    if (msg.common_size && self->effects.release)
        self->effects.release (self->effects.ctx, msg.common, msg.common_size);
    if (self->verbose)
        zsys_info ("sitecamp: campaign %s generation %" PRIu64 " at %s: %u pending",
                   camp.id, camp.generation, camp.site, camp.pending);
    return WEFT_STATUS_OK;
}

//  --------------------------------------------------------------------------
//  The tick

//  Devices under way past their deadline fail
static int
s_timeouts (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, uint64_t now_ms)
{
    char (*devices) [WEFT_NAME_MAX + 1] = malloc (SITECAMP_TIMEOUTS_TICK * sizeof *devices);
    assert (devices);
    uint8_t stop [8];
    proto_put_be64 (stop, now_ms);
    int count = s_collect (self, txn, 'u', camp->id, 8, stop, 8, SITECAMP_TIMEOUTS_TICK,
                           devices);
    int rc = count < 0? -1: 0;
    for (int i = 0; i < count && rc == 0; i++) {
        s_dev_t dev;
        rc = sitecamp_dev_get (self, txn, camp->id, devices [i], &dev, NULL);
        if (rc == 0 && S_UNDER (dev.state)) {
            char why [WEFT_TEXT_MAX + 1];
            snprintf (why, sizeof why, "timed out: %s after %" PRIu64 " s",
                      sitemsg_dev_state_name (dev.state),
                      (dev.deadline_ms - dev.offered_ms) / 1000);
            rc = sitecamp_dev_set (self, txn, camp, &dev, SITE_DEV_FAILED, why, now_ms);
        }
    }
    free (devices);
    return rc;
}

//  The current wave is over: all ended, or success_pct of it succeeded
static bool
s_wave_over (const s_camp_t *camp, const s_wave_t *counts)
{
    return counts->ended >= counts->total
        || (camp->success_pct
            && (uint64_t) counts->succeeded * 100 >= (uint64_t) camp->success_pct * counts->total);
}

//  Waves move on (after their soak); the site finishes after the last
static int
s_waves (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, uint64_t now_ms)
{
    while (true) {
        s_wave_t counts;
        sitecamp_wave_get (self, txn, camp->id, camp->wave, &counts);
        if (!s_wave_over (camp, &counts))
            return 0;
        if (camp->wave + 1 >= camp->waves) {
            if (camp->pending == 0 && camp->under_way == 0
            &&  camp->site_state != SITE_FINISHED) {
                camp->site_state = SITE_FINISHED;
                camp->report_due = 1;
                zsys_info ("sitecamp: campaign %s at %s finished its %u waves", camp->id,
                           camp->site, camp->waves);
            }
            return 0;
        }
        if (counts.total && camp->soak_s) {
            if (camp->soak_until_ms == 0)
                camp->soak_until_ms = now_ms + (uint64_t) camp->soak_s * 1000;
            if (now_ms < camp->soak_until_ms)
                return 0;
        }
        camp->soak_until_ms = 0;
        camp->wave++;
        zsys_info ("sitecamp: campaign %s at %s: wave %u of %u", camp->id, camp->site,
                   camp->wave + 1, camp->waves);
    }
}

//  What one campaign's tick sends once its transaction is committed
//  (effects are called with no transaction open: sealing an envelope
//  may write to the store)
typedef struct {
    uint8_t *common;                    //  The campaign's common bytes
    size_t common_size;
    size_t count;                       //  Offers
    char (*devices) [WEFT_NAME_MAX + 1];
    uint8_t *assignments [SITECAMP_OFFERS_TICK];
    size_t sizes [SITECAMP_OFFERS_TICK];
    uint8_t *report;                    //  A SITE_REPORT payload, or NULL
    size_t report_size;
    int reported;                       //  Devices it carries (their markers)
    char (*outcomes) [WEFT_NAME_MAX + 1];
} s_out_t;

static void
s_out_free (s_out_t *out)
{
    for (size_t i = 0; i < out->count; i++)
        free (out->assignments [i]);
    free (out->common);
    free (out->devices);
    free (out->report);
    free (out->outcomes);
    memset (out, 0, sizeof *out);
}

//  Pending devices of the waves so far, within concurrency, are offered:
//  under way from now, their offers in out. *more when some are left.
static int
s_offers (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, uint64_t now_ms, s_out_t *out,
          bool *more)
{
    size_t room = SITECAMP_OFFERS_TICK;
    if (camp->concurrency && camp->under_way >= camp->concurrency)
        return 0;
    if (camp->concurrency && camp->concurrency - camp->under_way < room)
        room = camp->concurrency - camp->under_way;
    out->devices = malloc (room * sizeof *out->devices);
    assert (out->devices);
    uint8_t stop [2] = { (uint8_t) (camp->wave >> 8), (uint8_t) camp->wave };
    int count = s_collect (self, txn, 'p', camp->id, 2, stop, 2, room, out->devices);
    uint8_t key [S_KEY_MAX];
    if (count > 0)
        out->common = (uint8_t *) store_get (txn, UPDATE_TABLE, key,
                                             sitecamp_key (self, key, 'b', camp->id, NULL, 0),
                                             &out->common_size);
    int rc = count < 0 || (count > 0 && !out->common)? -1: 0;
    for (int i = 0; i < count && rc == 0; i++) {
        s_dev_t dev;
        rc = sitecamp_dev_get (self, txn, camp->id, out->devices [i], &dev,
                               &out->assignments [i]);
        if (rc)
            break;
        out->sizes [i] = dev.assignment_size;
        out->count++;
        rc = sitecamp_dev_pend (self, txn, camp, &dev, false);
        dev.offered_ms = now_ms;
        dev.deadline_ms = now_ms + (uint64_t) camp->timeout_s * 1000;
        if (rc == 0)
            rc = sitecamp_dev_under (self, txn, camp, &dev);
        if (rc == 0)
            rc = sitecamp_dev_set (self, txn, camp, &dev, SITE_DEV_OFFERED, "", now_ms);
    }
    if (rc == 0 && (size_t) count == room && room == SITECAMP_OFFERS_TICK)
        *more = true;
    return rc;
}

//  A SITE_REPORT of up to SITEMSG_OUTCOMES_MAX outcomes not yet reported,
//  into out; their markers go once it is queued
static int
s_report (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, uint64_t now_ms, s_out_t *out)
{
    out->outcomes = malloc (SITEMSG_OUTCOMES_MAX * sizeof *out->outcomes);
    assert (out->outcomes);
    int count = s_collect (self, txn, 'r', camp->id, 0, NULL, 0, SITEMSG_OUTCOMES_MAX,
                           out->outcomes);
    int rc = count < 0? -1: 0;
    uint8_t *outcomes = NULL;
    size_t outcomes_size = 0;
    for (int i = 0; i < count && rc == 0; i++) {
        s_dev_t dev;
        if (sitecamp_dev_get (self, txn, camp->id, out->outcomes [i], &dev, NULL)
        ||  dev.state == 0)
            continue;               //  Dropped or re-armed since
        sitemsg_outcome_t outcome = { .state = dev.state, .at_ms = dev.at_ms };
        snprintf (outcome.device, sizeof outcome.device, "%s", dev.device);
        snprintf (outcome.reason, sizeof outcome.reason, "%s", dev.reason);
        rc = sitemsg_put_outcome (&outcomes, &outcomes_size, &outcome);
    }
    sitemsg_t msg = { .type = MSG_SITE_REPORT, .generation = camp->generation,
                      .state = camp->site_state, .wave = camp->wave, .sent_ms = now_ms,
                      .entries = outcomes, .entries_size = outcomes_size };
    snprintf (msg.campaign, sizeof msg.campaign, "%s", camp->id);
    snprintf (msg.site, sizeof msg.site, "%s", camp->site);
    snprintf (msg.reason, sizeof msg.reason, "%s", camp->reason);
    if (rc == 0)
        rc = sitemsg_encode (&msg, &out->report, &out->report_size);
    if (rc == 0)
        out->reported = count;
    free (outcomes);
    return rc;
}

//  The earliest deadline of a device under way, 0 if none
typedef struct {
    size_t skip;
    uint8_t first [8];
    bool found;
} s_first_t;

static int
s_first_one (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    s_first_t *found = (s_first_t *) arg;
    (void) value, (void) size;
    if (key_size >= found->skip + 8) {
        memcpy (found->first, (const uint8_t *) key + found->skip, 8);
        found->found = true;
    }
    return 1;
}

static uint64_t
s_first_deadline (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp)
{
    uint8_t prefix [S_KEY_MAX];
    size_t prefix_size = sitecamp_key (self, prefix, 'u', camp->id, NULL, 0);
    s_first_t found = { prefix_size, { 0 }, false };
    store_scan (txn, UPDATE_TABLE, prefix, prefix_size, s_first_one, &found);
    return found.found? proto_get_be64 (found.first): 0;
}

//  One campaign's decisions in txn; what to send in out
static int
s_camp_step (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, uint64_t now_ms,
             s_out_t *out, bool *more)
{
    int rc = s_timeouts (self, txn, camp, now_ms);
    bool live = camp->site_state == SITE_RUNNING || camp->site_state == SITE_PAUSED;
    if (rc == 0 && live && camp->failed >= camp->threshold) {
        camp->site_state = SITE_HALTED;
        snprintf (camp->reason, sizeof camp->reason, "%u device%s failed: the threshold is %u",
                  camp->failed, camp->failed == 1? "": "s", camp->threshold);
        camp->report_due = 1;
        zsys_warning ("sitecamp: campaign %s halted at %s: %s", camp->id, camp->site,
                      camp->reason);
    }
    if (rc == 0 && camp->site_state == SITE_RUNNING)
        rc = s_waves (self, txn, camp, now_ms);
    if (rc == 0 && camp->site_state == SITE_RUNNING)
        rc = s_offers (self, txn, camp, now_ms, out, more);
    uint64_t report_at = camp->reported_ms + SITECAMP_REPORT_MS;
    if (rc == 0 && (camp->report_due || (camp->unreported && now_ms >= report_at)))
        rc = s_report (self, txn, camp, now_ms, out);
    if (rc == 0)
        rc = sitecamp_camp_put (self, txn, camp);
    return rc;
}

//  After the commit: offers and the report go out; an offer not queued
//  makes its device pending again, a report queued ends its markers
static int
s_camp_send (sitecamp_t *self, s_camp_t *camp, s_out_t *out, uint64_t now_ms, bool *more)
{
    bool failed [SITECAMP_OFFERS_TICK] = { false };
    size_t failures = 0;
    for (size_t i = 0; i < out->count; i++) {
        size_t size;
        uint8_t *offer = bundle_offer_compose (out->common, out->common_size,
                                               out->assignments [i], out->sizes [i], &size);
        if (self->effects.offer (self->effects.ctx, out->devices [i], offer, size)) {
            failed [i] = true;
            failures++;
        }
        free (offer);
    }
    //  A report built with an offer that did not go out waits for the
    //  next tick, which tells that device pending again
    bool reported = out->report && failures == 0
                 && self->effects.report (self->effects.ctx, out->report, out->report_size) == 0;
    if (failures == 0 && !reported)
        return 0;
    store_txn_t *txn = store_begin (self->store, true);
    int rc = txn && sitecamp_camp_get (self, txn, camp->id, camp) == 0? 0: -1;
    for (size_t i = 0; i < out->count && rc == 0; i++) {
        s_dev_t dev;
        if (!failed [i] || sitecamp_dev_get (self, txn, camp->id, out->devices [i], &dev, NULL)
        ||  dev.state != SITE_DEV_OFFERED)
            continue;
        uint8_t tail [8 + WEFT_NAME_MAX];
        proto_put_be64 (tail, dev.deadline_ms);
        size_t name_size = strlen (dev.device);
        memcpy (tail + 8, dev.device, name_size);
        uint8_t key [S_KEY_MAX];
        size_t key_size = sitecamp_key (self, key, 'u', camp->id, tail, 8 + name_size);
        rc = store_del (txn, UPDATE_TABLE, key, key_size) < 0? -1: 0;
        camp->under_way--;
        dev.state = 0;
        if (rc == 0)
            rc = sitecamp_dev_new (self, txn, camp, &dev, NULL);
        if (rc == 0)
            rc = sitecamp_dev_pend (self, txn, camp, &dev, true);
        *more = true;
    }
    for (int i = 0; reported && i < out->reported && rc == 0; i++)
        rc = sitecamp_unmark (self, txn, camp, out->outcomes [i]);
    if (reported) {
        camp->report_due = 0;
        camp->reported_ms = now_ms;
    }
    else
    if (out->report)
        *more = true;
    if (rc == 0)
        rc = sitecamp_camp_put (self, txn, camp);
    if (rc == 0)
        rc = store_commit (&txn);
    store_abort (&txn);
    return rc;
}

//  When a campaign is due again (0: nothing left to do)
static uint64_t
s_due (sitecamp_t *self, s_camp_t *camp, uint64_t now_ms, bool more)
{
    store_txn_t *txn = store_begin (self->store, false);
    uint64_t due = txn? s_first_deadline (self, txn, camp): now_ms + 1000;
    store_abort (&txn);
    uint64_t report_at = camp->reported_ms + SITECAMP_REPORT_MS;
    if ((camp->unreported || camp->report_due) && (due == 0 || report_at < due))
        due = report_at;
    if (camp->site_state == SITE_RUNNING && camp->soak_until_ms
    &&  (due == 0 || camp->soak_until_ms < due))
        due = camp->soak_until_ms;
    if (more && (due == 0 || now_ms + 1000 < due))
        due = now_ms + 1000;
    if (due && due <= now_ms)
        due = now_ms + 1;
    return sitecamp_settled (camp)? 0: due;
}

//  One campaign's tick. 0, or -1 if the store failed.
static int
s_camp_tick (sitecamp_t *self, const char *campaign, uint64_t now_ms, uint64_t *due_p)
{
    *due_p = 0;
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn)
        return -1;
    s_camp_t camp;
    if (sitecamp_camp_get (self, txn, campaign, &camp)) {
        store_abort (&txn);
        return 0;                   //  Gone: no longer live
    }
    s_out_t out;
    memset (&out, 0, sizeof out);
    bool more = false;
    int rc = s_camp_step (self, txn, &camp, now_ms, &out, &more);
    if (rc == 0)
        rc = store_commit (&txn);
    store_abort (&txn);
    if (rc == 0)
        rc = s_camp_send (self, &camp, &out, now_ms, &more);
    s_out_free (&out);
    //  The last wave may have ended with this tick's reports: look again
    if (rc == 0 && camp.site_state == SITE_RUNNING && camp.pending == 0
    &&  camp.under_way == 0)
        more = true;
    *due_p = rc? now_ms + 1000: s_due (self, &camp, now_ms, more);
    return rc;
}

void
sitecamp_tick (sitecamp_t *self, uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
    for (size_t index = 0; index < self->live_count; index++) {
        uint64_t due = self->live [index].due_ms;
        if (due == 0 || due > now_ms)
            continue;
        if (s_camp_tick (self, self->live [index].id, now_ms, &due))
            zsys_error ("sitecamp: campaign %s: store failed, tried again",
                        self->live [index].id);
        self->live [index].due_ms = due;
    }
    //  Campaigns with nothing left to do leave the live set
    size_t kept = 0;
    for (size_t index = 0; index < self->live_count; index++)
        if (self->live [index].due_ms)
            self->live [kept++] = self->live [index];
    self->live_count = kept;
}
