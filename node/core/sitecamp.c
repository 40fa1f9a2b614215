/*  sitecamp - a site server runs its site's part of a campaign (see
    sitecamp.h)
    Every change is one write transaction: a directive, a device's
    report, a tick over the live campaigns. Records are this node's own
    (fixed layouts, never on the wire).  */

#include "proto/corelib.h"
#include "proto/bundle.h"
#include "proto/msg.h"
#include "proto/release.h"
#include "proto/sitemsg.h"
#include "node/core/update.h"
#include "node/core/sitecamp_internal.h"

//  --------------------------------------------------------------------------
//  Keys and records

size_t
sitecamp_key (sitecamp_t *self, uint8_t *key, char kind, const char *campaign,
              const void *tail, size_t tail_size)
{
    size_t size = (size_t) snprintf ((char *) key, S_KEY_MAX, "%ssc/%c/%s", self->prefix,
                                     kind, campaign);
    key [size++] = 0;               //  The campaign id ends here
    assert (size + tail_size <= S_KEY_MAX);
    if (tail_size)
        memcpy (key + size, tail, tail_size);
    return size + tail_size;
}

//  The key of the index that names a device's campaign
static size_t
s_key_x (sitecamp_t *self, uint8_t *key, const char *device)
{
    return (size_t) snprintf ((char *) key, S_KEY_MAX, "%ssc/x/%s", self->prefix, device);
}

//  wave (BE16) || device, the tail of p keys
static size_t
s_tail_wave (uint8_t *tail, uint32_t wave, const char *device)
{
    tail [0] = (uint8_t) (wave >> 8);
    tail [1] = (uint8_t) wave;
    size_t size = strlen (device);
    memcpy (tail + 2, device, size);
    return 2 + size;
}

//  deadline (BE64) || device, the tail of u keys
static size_t
s_tail_deadline (uint8_t *tail, uint64_t deadline_ms, const char *device)
{
    proto_put_be64 (tail, deadline_ms);
    size_t size = strlen (device);
    memcpy (tail + 8, device, size);
    return 8 + size;
}

int
sitecamp_camp_get (sitecamp_t *self, store_txn_t *txn, const char *campaign, s_camp_t *camp)
{
    uint8_t key [S_KEY_MAX];
    size_t key_size = sitecamp_key (self, key, 'c', campaign, NULL, 0);
    size_t size;
    uint8_t *data = (uint8_t *) store_get (txn, UPDATE_TABLE, key, key_size, &size);
    int rc = data && size == sizeof *camp? 0: -1;
    if (rc == 0)
        memcpy (camp, data, sizeof *camp);
    free (data);
    return rc;
}

int
sitecamp_camp_put (sitecamp_t *self, store_txn_t *txn, const s_camp_t *camp)
{
    uint8_t key [S_KEY_MAX];
    size_t key_size = sitecamp_key (self, key, 'c', camp->id, NULL, 0);
    return store_put (txn, UPDATE_TABLE, key, key_size, camp, sizeof *camp);
}

//  A device's record and its assignment (*assignment_p: caller frees)
int
sitecamp_dev_get (sitecamp_t *self, store_txn_t *txn, const char *campaign,
                  const char *device, s_dev_t *dev, uint8_t **assignment_p)
{
    uint8_t key [S_KEY_MAX];
    size_t key_size = sitecamp_key (self, key, 'd', campaign, device, strlen (device));
    size_t size;
    uint8_t *data = (uint8_t *) store_get (txn, UPDATE_TABLE, key, key_size, &size);
    int rc = data && size >= sizeof *dev? 0: -1;
    if (rc == 0) {
        memcpy (dev, data, sizeof *dev);
        rc = size == sizeof *dev + dev->assignment_size? 0: -1;
    }
    if (rc == 0 && assignment_p) {
        *assignment_p = (uint8_t *) malloc (dev->assignment_size);
        assert (*assignment_p);
        memcpy (*assignment_p, data + sizeof *dev, dev->assignment_size);
    }
    free (data);
    return rc;
}

//  Put a device's record; assignment NULL keeps the one stored
static int
s_dev_put (sitecamp_t *self, store_txn_t *txn, const char *campaign, const s_dev_t *dev,
           const uint8_t *assignment)
{
    uint8_t key [S_KEY_MAX];
    size_t key_size = sitecamp_key (self, key, 'd', campaign, dev->device, strlen (dev->device));
    uint8_t *held = NULL;
    if (!assignment) {
        s_dev_t old;
        if (sitecamp_dev_get (self, txn, campaign, dev->device, &old, &held))
            return -1;
        assignment = held;
    }
    size_t size = sizeof *dev + dev->assignment_size;
    uint8_t *data = (uint8_t *) malloc (size);
    assert (data);
    memcpy (data, dev, sizeof *dev);
    memcpy (data + sizeof *dev, assignment, dev->assignment_size);
    int rc = store_put (txn, UPDATE_TABLE, key, key_size, data, size);
    free (data);
    free (held);
    return rc;
}

static int
s_wave_get (sitecamp_t *self, store_txn_t *txn, const char *campaign, uint32_t wave,
            s_wave_t *counts)
{
    uint8_t key [S_KEY_MAX], tail [2] = { (uint8_t) (wave >> 8), (uint8_t) wave };
    size_t key_size = sitecamp_key (self, key, 'w', campaign, tail, 2);
    memset (counts, 0, sizeof *counts);
    size_t size;
    uint8_t *data = (uint8_t *) store_get (txn, UPDATE_TABLE, key, key_size, &size);
    if (data && size == sizeof *counts)
        memcpy (counts, data, sizeof *counts);
    free (data);
    return 0;
}

static int
s_wave_put (sitecamp_t *self, store_txn_t *txn, const char *campaign, uint32_t wave,
            const s_wave_t *counts)
{
    uint8_t key [S_KEY_MAX], tail [2] = { (uint8_t) (wave >> 8), (uint8_t) wave };
    size_t key_size = sitecamp_key (self, key, 'w', campaign, tail, 2);
    return store_put (txn, UPDATE_TABLE, key, key_size, counts, sizeof *counts);
}

//  Add to a wave's counts (total, ended, succeeded)
static int
s_wave_add (sitecamp_t *self, store_txn_t *txn, const char *campaign, uint32_t wave,
            int total, int ended, int succeeded)
{
    s_wave_t counts;
    s_wave_get (self, txn, campaign, wave, &counts);
    counts.total = (uint32_t) ((int) counts.total + total);
    counts.ended = (uint32_t) ((int) counts.ended + ended);
    counts.succeeded = (uint32_t) ((int) counts.succeeded + succeeded);
    return s_wave_put (self, txn, campaign, wave, &counts);
}

//  Put or delete an index key of a campaign
static int
s_index (sitecamp_t *self, store_txn_t *txn, char kind, const char *campaign,
         const uint8_t *tail, size_t tail_size, bool put)
{
    uint8_t key [S_KEY_MAX];
    size_t key_size = sitecamp_key (self, key, kind, campaign, tail, tail_size);
    if (put)
        return store_put (txn, UPDATE_TABLE, key, key_size, "", 0);
    return store_del (txn, UPDATE_TABLE, key, key_size) < 0? -1: 0;
}

//  An outcome change to report: marked once until the report carries it
static int
s_mark (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, const char *device)
{
    uint8_t key [S_KEY_MAX];
    size_t key_size = sitecamp_key (self, key, 'r', camp->id, device, strlen (device));
    int rc = store_insert (txn, UPDATE_TABLE, key, key_size, "", 0, NULL, NULL);
    if (rc == 0)
        camp->unreported++;
    return rc < 0? -1: 0;
}

static int
s_unmark (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, const char *device)
{
    uint8_t key [S_KEY_MAX];
    size_t key_size = sitecamp_key (self, key, 'r', camp->id, device, strlen (device));
    int rc = store_del (txn, UPDATE_TABLE, key, key_size);
    if (rc == 0 && camp->unreported)
        camp->unreported--;
    return rc < 0? -1: 0;
}

//  --------------------------------------------------------------------------
//  A device moves

int
sitecamp_dev_set (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, s_dev_t *dev,
                  int state, const char *reason, uint64_t now_ms)
{
    if (S_FINAL (dev->state) || (dev->state == state && streq (dev->reason, reason)))
        return 0;                   //  Forward only; no change, nothing to report
    int rc = 0;
    uint8_t tail [8 + WEFT_NAME_MAX];
    if (S_FINAL (state)) {
        if (S_UNDER (dev->state)) {
            size_t tail_size = s_tail_deadline (tail, dev->deadline_ms, dev->device);
            rc = s_index (self, txn, 'u', camp->id, tail, tail_size, false);
            camp->under_way--;
        }
        if (rc == 0)
            rc = s_wave_add (self, txn, camp->id, dev->wave, 0, 1,
                             state == SITE_DEV_SUCCEEDED);
        if (state != SITE_DEV_SUCCEEDED)
            camp->failed++;
    }
    dev->state = (uint8_t) state;
    dev->at_ms = now_ms;
    snprintf (dev->reason, sizeof dev->reason, "%s", reason);
    if (rc == 0)
        rc = s_dev_put (self, txn, camp->id, dev, NULL);
    if (rc == 0)
        rc = s_mark (self, txn, camp, dev->device);
    return rc;
}

//  A device's deadline moves (waiting for its maintenance window)
static int
s_dev_deadline (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, s_dev_t *dev,
                uint64_t deadline_ms)
{
    uint8_t tail [8 + WEFT_NAME_MAX];
    size_t tail_size = s_tail_deadline (tail, dev->deadline_ms, dev->device);
    int rc = s_index (self, txn, 'u', camp->id, tail, tail_size, false);
    dev->deadline_ms = deadline_ms;
    tail_size = s_tail_deadline (tail, dev->deadline_ms, dev->device);
    return rc? rc: s_index (self, txn, 'u', camp->id, tail, tail_size, true);
}

//  --------------------------------------------------------------------------
//  Live campaigns in memory: their ids and when each is due

void
sitecamp_live_due (sitecamp_t *self, const char *campaign, uint64_t due_ms)
{
    size_t index = 0;
    while (index < self->live_count && !streq (self->live [index].id, campaign))
        index++;
    if (index == self->live_count) {
        if (self->live_count == SITECAMP_CAMPAIGNS_MAX)
            return;
        snprintf (self->live [index].id, sizeof self->live [index].id, "%s", campaign);
        self->live_count++;
    }
    self->live [index].due_ms = due_ms;
}

static int
s_load_one (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    sitecamp_t *self = (sitecamp_t *) arg;
    (void) key, (void) key_size;
    s_camp_t camp;
    if (size != sizeof camp)
        return 0;
    memcpy (&camp, value, sizeof camp);
    if (!sitecamp_settled (&camp))
        sitecamp_live_due (self, camp.id, self->now_ms);
    return 0;
}

bool
sitecamp_settled (const s_camp_t *camp)
{
    bool stopped = camp->site_state == SITE_FINISHED || camp->site_state == SITE_ABORTED
                || camp->site_state == SITE_HALTED;
    return stopped && camp->under_way == 0 && camp->unreported == 0 && !camp->report_due;
}

sitecamp_t *
sitecamp_new (const sitecamp_config_t *config, const sitecamp_effects_t *effects,
              uint64_t now_ms)
{
    assert (config && config->store && config->coord_sign && effects);
    sitecamp_t *self = (sitecamp_t *) zmalloc (sizeof (sitecamp_t));
    self->effects = *effects;
    self->store = config->store;
    self->verbose = config->verbose;
    self->now_ms = now_ms;
    snprintf (self->name, sizeof self->name, "%s", config->name? config->name: "");
    snprintf (self->tenant, sizeof self->tenant, "%s", config->tenant? config->tenant: "");
    snprintf (self->prefix, sizeof self->prefix, "%s", config->prefix? config->prefix: "");
    memcpy (self->coord_sign, config->coord_sign, WEFT_KEY_SIZE);
    char start [S_KEY_MAX];
    size_t start_size = (size_t) snprintf (start, sizeof start, "%ssc/c/", self->prefix);
    store_txn_t *txn = store_begin (self->store, false);
    int rc = txn? store_scan (txn, UPDATE_TABLE, start, start_size, s_load_one, self): -1;
    store_abort (&txn);
    if (rc < 0) {
        zsys_error ("sitecamp: the campaigns held cannot be read");
        sitecamp_destroy (&self);
    }
    return self;
}

void
sitecamp_destroy (sitecamp_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

uint64_t
sitecamp_deadline (sitecamp_t *self)
{
    assert (self);
    uint64_t next = 0;
    for (size_t index = 0; index < self->live_count; index++) {
        uint64_t due = self->live [index].due_ms;
        if (due && (next == 0 || due < next))
            next = due;
    }
    return next;
}

//  --------------------------------------------------------------------------
//  A device's report

bool
sitecamp_holds (sitecamp_t *self, const char *device)
{
    assert (self && device);
    if (self->live_count == 0 || strlen (device) > WEFT_NAME_MAX)
        return false;
    uint8_t key [S_KEY_MAX];
    size_t key_size = s_key_x (self, key, device);
    store_txn_t *txn = store_begin (self->store, false);
    bool held = txn && store_has (txn, UPDATE_TABLE, key, key_size);
    store_abort (&txn);
    return held;
}

//  The software object of a report, applied in txn. 1 if a device moved.
static int
s_software (sitecamp_t *self, store_txn_t *txn, const char *device, json_t *software,
            uint64_t now_ms, char campaign [SITEMSG_CAMPAIGN_MAX + 1])
{
    uint8_t key [S_KEY_MAX];
    size_t key_size = s_key_x (self, key, device);
    size_t size;
    char *id = (char *) store_get (txn, UPDATE_TABLE, key, key_size, &size);
    s_camp_t camp;
    s_dev_t dev;
    int rc = id && size <= SITEMSG_CAMPAIGN_MAX? 0: 1;
    if (rc == 0) {
        snprintf (campaign, SITEMSG_CAMPAIGN_MAX + 1, "%.*s", (int) size, id);
        rc = sitecamp_camp_get (self, txn, campaign, &camp)
          || sitecamp_dev_get (self, txn, campaign, device, &dev, NULL)? 1: 0;
    }
    free (id);
    if (rc || !S_UNDER (dev.state))
        return 0;
    //  Only a report of this campaign's release and assignment counts
    const char *name = json_string_value (json_object_get (software, "name"));
    const char *version = json_string_value (json_object_get (software, "version"));
    json_t *assigned = json_object_get (software, "assigned_ms");
    if (!name || !version || !streq (name, camp.name) || !streq (version, camp.version)
    ||  !json_is_integer (assigned)
    ||  (uint64_t) json_integer_value (assigned) != dev.issued_ms)
        return 0;
    const char *waiting = json_string_value (json_object_get (software, "waiting"));
    int state = sitemsg_dev_state_of (json_string_value (json_object_get (software, "state")),
                                      waiting);
    if (state == 0)
        return 0;
    const char *error = json_string_value (json_object_get (software, "error"));
    const char *reason = state == SITE_DEV_ROLLED_BACK? error: waiting;
    //  A device waiting for its window has its whole timeout from the
    //  window's opening: the wait is not its fault
    json_t *opens = json_object_get (software, "opens_ms");
    uint64_t opens_ms = json_is_integer (opens)? (uint64_t) json_integer_value (opens): 0;
    uint64_t deadline_ms = opens_ms + (uint64_t) camp.timeout_s * 1000;
    if (state == SITE_DEV_WAITING && opens_ms && deadline_ms > dev.deadline_ms
    &&  s_dev_deadline (self, txn, &camp, &dev, deadline_ms))
        return -1;
    if (sitecamp_dev_set (self, txn, &camp, &dev, state, reason? reason: "", now_ms)
    ||  sitecamp_camp_put (self, txn, &camp))
        return -1;
    return 1;
}

void
sitecamp_software (sitecamp_t *self, const char *device, const char *json, size_t size,
                   uint64_t now_ms)
{
    assert (self && device && json);
    self->now_ms = now_ms;
    if (self->live_count == 0)
        return;
    json_t *software = json_loadb (json, size, 0, NULL);
    store_txn_t *txn = json_is_object (software)? store_begin (self->store, true): NULL;
    char campaign [SITEMSG_CAMPAIGN_MAX + 1];
    int rc = txn? s_software (self, txn, device, software, now_ms, campaign): 0;
    if (rc == 1 && store_commit (&txn) == 0)
        sitecamp_live_due (self, campaign, now_ms);
    else
    if (rc < 0)
        zsys_error ("sitecamp: the report of %s could not be stored", device);
    store_abort (&txn);
    json_decref (software);
}

void
sitecamp_twin_reported (sitecamp_t *self, const char *device, const uint8_t *payload,
                        size_t size, uint64_t now_ms)
{
    assert (self && device && payload);
    msg_t msg;
    if (msg_decode (&msg, MSG_TWIN_REPORTED, payload, size) != 0)
        return;
    json_t *doc = json_loadb (msg.twin_reported.doc, msg.twin_reported.doc_size, 0, NULL);
    json_t *software = json_object_get (doc, "software");
    if (json_is_object (software)) {
        char *text = json_dumps (software, JSON_COMPACT);
        if (text)
            sitecamp_software (self, device, text, strlen (text), now_ms);
        free (text);
    }
    json_decref (doc);
}

//  --------------------------------------------------------------------------
//  Queries

int
sitecamp_state (sitecamp_t *self, const char *campaign, uint32_t *wave_p,
                uint32_t *failed_p, uint32_t *under_way_p)
{
    assert (self && campaign);
    store_txn_t *txn = store_begin (self->store, false);
    s_camp_t camp;
    int rc = txn && sitecamp_camp_get (self, txn, campaign, &camp) == 0? 0: -1;
    store_abort (&txn);
    if (rc)
        return -1;
    if (wave_p)
        *wave_p = camp.wave;
    if (failed_p)
        *failed_p = camp.failed;
    if (under_way_p)
        *under_way_p = camp.under_way;
    return (int) camp.site_state;
}

int
sitecamp_device (sitecamp_t *self, const char *campaign, const char *device)
{
    assert (self && campaign && device);
    store_txn_t *txn = store_begin (self->store, false);
    s_dev_t dev;
    int rc = txn && sitecamp_dev_get (self, txn, campaign, device, &dev, NULL) == 0? 0: -1;
    store_abort (&txn);
    return rc? -1: dev.state;
}

//  --------------------------------------------------------------------------
//  Internal helpers for the directive and the tick (sitecamp_run.c)

int
sitecamp_dev_pend (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, s_dev_t *dev,
                   bool pending)
{
    uint8_t tail [2 + WEFT_NAME_MAX];
    size_t tail_size = s_tail_wave (tail, dev->wave, dev->device);
    if (pending)
        camp->pending++;
    else
        camp->pending--;
    return s_index (self, txn, 'p', camp->id, tail, tail_size, pending);
}

int
sitecamp_dev_under (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, s_dev_t *dev)
{
    uint8_t tail [8 + WEFT_NAME_MAX];
    size_t tail_size = s_tail_deadline (tail, dev->deadline_ms, dev->device);
    camp->under_way++;
    return s_index (self, txn, 'u', camp->id, tail, tail_size, true);
}

int
sitecamp_dev_new (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, s_dev_t *dev,
                  const uint8_t *assignment)
{
    uint8_t key [S_KEY_MAX];
    size_t key_size = s_key_x (self, key, dev->device);
    int rc = store_put (txn, UPDATE_TABLE, key, key_size, camp->id, strlen (camp->id));
    if (rc == 0)
        rc = s_dev_put (self, txn, camp->id, dev, assignment);
    return rc;
}

int
sitecamp_dev_drop (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, const char *device)
{
    uint8_t key [S_KEY_MAX];
    size_t key_size = s_key_x (self, key, device);
    int rc = store_del (txn, UPDATE_TABLE, key, key_size) < 0? -1: 0;
    key_size = sitecamp_key (self, key, 'd', camp->id, device, strlen (device));
    if (rc == 0 && store_del (txn, UPDATE_TABLE, key, key_size) < 0)
        rc = -1;
    return rc;
}

int
sitecamp_wave_add (sitecamp_t *self, store_txn_t *txn, const char *campaign, uint32_t wave,
                   int total, int ended, int succeeded)
{
    return s_wave_add (self, txn, campaign, wave, total, ended, succeeded);
}

int
sitecamp_wave_get (sitecamp_t *self, store_txn_t *txn, const char *campaign, uint32_t wave,
                   s_wave_t *counts)
{
    return s_wave_get (self, txn, campaign, wave, counts);
}

int
sitecamp_unmark (sitecamp_t *self, store_txn_t *txn, s_camp_t *camp, const char *device)
{
    return s_unmark (self, txn, camp, device);
}
