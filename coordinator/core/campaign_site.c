/*  campaign_site - campaigns run at the sites (see campaign_site.h)  */

#include "proto/corelib.h"
#include "proto/updmsg.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/hierarchy.h"
#include "coordinator/core/campaign_site.h"
#include "coordinator/core/campaign_internal.h"
#include "coordinator/core/rpc_internal.h"

//  Bytes of a directive besides its common and devices fields
#define S_FIELDS_MAX    1024
#define S_KEY_MAX       (2 + CAMPAIGN_ID_MAX + 1 + HIERARCHY_PATH_MAX + 1)

void
campaign_directive_destroy (campaign_directive_t **self_p)
{
    assert (self_p);
    campaign_directive_t *self = *self_p;
    if (self) {
        free (self->common);
        free (self->entries);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Site records

static json_t *
s_site_get (store_txn_t *txn, const char *id, const char *site)
{
    char key [S_KEY_MAX];
    snprintf (key, sizeof key, "s/%s/%s", id, site);
    return registry_record_get (txn, CAMPAIGN_TABLE, key);
}

static int
s_site_put (store_txn_t *txn, const char *id, json_t *record)
{
    char key [S_KEY_MAX];
    snprintf (key, sizeof key, "s/%s/%s", id, rpc_json_str (record, "site"));
    return registry_record_put (txn, CAMPAIGN_TABLE, key, record);
}

static int
s_site_one (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    (void) key, (void) key_size;
    json_t *record = json_loadb ((const char *) value, size, 0, NULL);
    if (record)
        json_array_append_new ((json_t *) arg, record);
    return json_array_size ((json_t *) arg) >= CAMPAIGN_SITE_SHOWN;
}

//  The campaign's site records; NULL if they cannot be read
static json_t *
s_sites (store_txn_t *txn, const char *id)
{
    char prefix [CAMPAIGN_ID_MAX + 4];
    int size = snprintf (prefix, sizeof prefix, "s/%s/", id);
    json_t *sites = json_array ();
    if (store_scan (txn, CAMPAIGN_TABLE, prefix, (size_t) size, s_site_one, sites) < 0)
        json_decref (sites);
    else
        return sites;
    return NULL;
}

json_t *
campaign_site_runs (store_txn_t *txn, const char *id)
{
    assert (txn && id);
    json_t *sites = s_sites (txn, id);
    if (json_array_size (sites) == 0) {
        json_decref (sites);
        return NULL;
    }
    return sites;
}

//  --------------------------------------------------------------------------
//  The servers of the sites

typedef struct {
    campaign_run_t *run;
    json_t *campaign;
    json_t *sites;                  //  Site -> {server, tenant, devices: [...]}
    zhashx_t *site_of;              //  Path -> its site
    registry_device_t device;
} s_servers_t;

//  A server of the type index: the first (smallest id) of a campaign's
//  tenant at a site of the campaign takes it
static int
s_server_one (void *arg, const char *id)
{
    s_servers_t *servers = (s_servers_t *) arg;
    if (registry_device_read (servers->run->txn, id, &servers->device)
    ||  servers->device.revoked || !servers->device.tenant
    ||  !campaign_has_tenant (servers->campaign, servers->device.tenant))
        return 0;
    const char *path = servers->device.path && *servers->device.path
                     ? servers->device.path: servers->device.tenant;
    const char *site = campaign_site (servers->run->txn, servers->site_of, path);
    json_t *entry = json_object_get (servers->sites, site);
    if (entry && !json_object_get (entry, "server")) {
        json_object_set_new (entry, "server", json_string (id));
        json_object_set_new (entry, "tenant", json_string (servers->device.tenant));
    }
    return 0;
}

//  The pending devices of the campaign, grouped by site
static int
s_group_one (void *arg, const char *device, json_t *record)
{
    s_servers_t *servers = (s_servers_t *) arg;
    if (!streq (rpc_json_str (record, "state"), "pending") || rpc_json_int (record, "wave") < 0)
        return 0;
    const char *site = campaign_site (servers->run->txn, servers->site_of,
                                      rpc_json_str (record, "path"));
    json_t *entry = json_object_get (servers->sites, site);
    if (!entry) {
        entry = json_pack ("{s:[]}", "devices");
        json_object_set_new (servers->sites, site, entry);
    }
    json_array_append_new (json_object_get (entry, "devices"), json_pack ("[s, O]", device,
                                                                          record));
    return 0;
}

//  --------------------------------------------------------------------------
//  The site's plan

//  Devices per wave of a site of total devices: the campaign's waves, a
//  count at most those left, a percentage of total rounded up; the
//  waves after the site's last device are empty
static void
s_site_sizes (json_t *campaign, size_t total, size_t sizes [CAMPAIGN_WAVES_MAX])
{
    json_t *waves = json_object_get (campaign, "waves");
    size_t left = total;
    for (size_t index = 0; index < CAMPAIGN_WAVES_MAX; index++) {
        int64_t value = 0;
        bool percent = false;
        if (index < json_array_size (waves))
            campaign_size_parse (json_string_value (json_array_get (waves, index)), INT32_MAX,
                                 &value, &percent);
        size_t size = percent? (size_t) ((total * (uint64_t) value + 99) / 100): (size_t) value;
        sizes [index] = size < left? size: left;
        left -= sizes [index];
    }
    if (left && json_array_size (waves))
        sizes [json_array_size (waves) - 1] += left;
}

static uint32_t
s_site_threshold (json_t *campaign, size_t total)
{
    int64_t value = 1;
    bool percent = false;
    campaign_size_parse (rpc_json_str (campaign, "threshold"), INT32_MAX, &value, &percent);
    if (percent)
        value = (int64_t) ((total * (uint64_t) value + 99) / 100);
    return value < 1? 1: value > 100000? 100000: (uint32_t) value;
}

static uint32_t
s_success_pct (json_t *campaign)
{
    int64_t value = 0;
    bool percent = false;
    if (campaign_size_parse (rpc_json_str (campaign, "success"), INT32_MAX, &value, &percent)
    ||  !percent)
        return 0;
    return (uint32_t) value;
}

static uint32_t
s_state_code (const char *state)
{
    return streq (state, "running")? 1: streq (state, "aborted")? 3
         : streq (state, "paused") || streq (state, "halted")? 2: 0;
}

//  A directive of the site record's generation and state, to server
static campaign_directive_t *
s_directive (json_t *campaign, json_t *site, uint32_t state)
{
    campaign_directive_t *self = (campaign_directive_t *) zmalloc (sizeof *self);
    snprintf (self->server, sizeof self->server, "%s", rpc_json_str (site, "server"));
    sitemsg_t *msg = &self->msg;
    msg->type = MSG_SITE_DIRECTIVE;
    snprintf (msg->campaign, sizeof msg->campaign, "%s", rpc_json_str (campaign, "id"));
    msg->generation = (uint64_t) rpc_json_int (site, "generation");
    snprintf (msg->site, sizeof msg->site, "%s", rpc_json_str (site, "site"));
    snprintf (msg->tenant, sizeof msg->tenant, "%s", rpc_json_str (site, "tenant"));
    msg->state = state;
    snprintf (msg->name, sizeof msg->name, "%s", rpc_json_str (campaign, "name"));
    snprintf (msg->version, sizeof msg->version, "%s", rpc_json_str (campaign, "version"));
    msg->threshold = s_site_threshold (campaign, (size_t) rpc_json_int (site, "devices"));
    msg->success_pct = s_success_pct (campaign);
    msg->soak_s = (uint32_t) rpc_json_int (campaign, "soak_s");
    msg->concurrency = (uint32_t) rpc_json_int (campaign, "concurrency");
    msg->timeout_s = (uint32_t) rpc_json_int (campaign, "timeout_s");
    return self;
}

static void
s_queue (campaign_run_t *run, campaign_directive_t *directive)
{
    if (!run->directives) {
        run->directives = zlistx_new ();
        zlistx_set_destructor (run->directives, (czmq_destructor *) campaign_directive_destroy);
    }
    zlistx_add_end (run->directives, directive);
}

//  The batch of tenant in batches, made on first use; NULL with the
//  run's error set
static director_batch_t *
s_batch (campaign_run_t *run, json_t *campaign, zhashx_t *batches, const char *tenant)
{
    director_batch_t *batch = (director_batch_t *) zhashx_lookup (batches, tenant);
    if (batch)
        return batch;
    int status;
    char error [WEFT_TEXT_MAX + 1] = "";
    batch = director_batch_new (run->txn, tenant, rpc_json_str (campaign, "name"),
                                rpc_json_str (campaign, "version"), run->now_ms, &status, error);
    if (!batch)
        campaign_run_fail (run, status, "%s", error);
    else
        zhashx_insert (batches, tenant, batch);
    return batch;
}

//  Assign the release to each device of rows ([[device, record, wave]])
//  into directive's common and entries, the records marked as run by
//  the site: pending, offered_ms the assignment's. A device whose type
//  no longer fits fails. 0 or -1.
static int
s_assign (campaign_run_t *run, json_t *campaign, json_t *site, zhashx_t *batches,
          json_t *rows, campaign_directive_t *directive)
{
    const char *id = rpc_json_str (campaign, "id");
    director_batch_t *batch = s_batch (run, campaign, batches, rpc_json_str (site, "tenant"));
    if (!batch)
        return -1;
    uint64_t expires_ms = run->now_ms + (uint64_t) DIRECTOR_TTL_S * 1000;
    size_t entries_size = 0, index;
    json_t *row;
    json_array_foreach (rows, index, row) {
        const char *device = json_string_value (json_array_get (row, 0));
        json_t *record = json_array_get (row, 1);
        char error [WEFT_TEXT_MAX + 1] = "";
        int status = director_batch_add (batch, run->txn, device, rpc_json_str (record, "type"),
                                         run->actor, run->secret, run->now_ms, expires_ms,
                                         error);
        if (status == WEFT_STATUS_INTERNAL)
            return campaign_run_fail (run, status, "%s", error);
        if (status) {
            if (campaign_settle (run, campaign, device, record, "failed", error))
                return -1;
            continue;
        }
        sitemsg_device_t entry = { (uint32_t) json_integer_value (json_array_get (row, 2)), "",
                                   NULL, 0 };
        const char *named;
        entry.assignment = director_batch_assignment (batch, director_batch_size (batch) - 1,
                                                      &named, &entry.assignment_size);
        snprintf (entry.device, sizeof entry.device, "%s", device);
        int put = sitemsg_put_device (&directive->entries, &entries_size, &entry);
        if (put == PROTO_ERR_OVERSIZE)
            return campaign_run_fail (run, WEFT_STATUS_BAD_REQUEST, "the directive of site %s "
                                      "of %s would be more than %zu bytes: more than a frame "
                                      "carries (%d); narrow the campaign's query",
                                      rpc_json_str (site, "site"), id, entries_size,
                                      UPDMSG_METADATA_MAX);
        if (put)
            return campaign_run_fail (run, WEFT_STATUS_BAD_REQUEST, "device %s cannot go in a "
                                      "site directive", device);
        json_object_set_new (record, "at_site", json_string (rpc_json_str (site, "server")));
        json_object_set_new (record, "site", json_string (rpc_json_str (site, "site")));
        json_object_set_new (record, "site_wave", json_integer (entry.wave));
        json_object_set_new (record, "offered_ms", json_integer ((json_int_t) run->now_ms));
        if (campaign_settle (run, campaign, device, record, "pending", NULL))
            return -1;
    }
    size_t common_size = 0;
    const uint8_t *common = director_batch_shared (batch, &common_size);
    if (entries_size) {
        directive->common = (uint8_t *) malloc (common_size);
        memcpy (directive->common, common, common_size);
        directive->msg.common = directive->common;
        directive->msg.common_size = common_size;
    }
    directive->msg.entries = directive->entries;
    directive->msg.entries_size = entries_size;
    size_t size = directive->msg.common_size + entries_size + S_FIELDS_MAX;
    if (size > UPDMSG_METADATA_MAX)
        return campaign_run_fail (run, WEFT_STATUS_BAD_REQUEST, "the directive of site %s of "
                                  "%s would be %zu bytes: more than a frame carries (%d); "
                                  "narrow the campaign's query", rpc_json_str (site, "site"),
                                  id, size, UPDMSG_METADATA_MAX);
    return 0;
}

//  --------------------------------------------------------------------------
//  Start

//  A site's part (entry: server, tenant, devices), checked before anything
//  is written: its devices of its server's tenant, in id order, each
//  with its wave (entry's rows: [[device, record, wave]]); refused when
//  they are more than a directive carries, or its directive would not
//  fit a frame (counting each assignment as the longest id's). 0 or -1.
static int
s_site_check (campaign_run_t *run, json_t *campaign, zhashx_t *batches, const char *site,
              json_t *entry)
{
    const char *id = rpc_json_str (campaign, "id");
    const char *tenant = rpc_json_str (entry, "tenant");
    json_t *rows = json_array ();
    json_object_set_new (entry, "rows", rows);
    size_t index, longest = 0, ids = 0;
    json_t *row;
    json_array_foreach (json_object_get (entry, "devices"), index, row)
        if (streq (rpc_json_str (json_array_get (row, 1), "tenant"), tenant)) {
            json_array_append (rows, row);
            const char *device = json_string_value (json_array_get (row, 0));
            ids += strlen (device);
            if (strlen (device) > strlen (json_string_value (json_array_get (
                    json_array_get (rows, longest), 0))))
                longest = json_array_size (rows) - 1;
        }
    size_t count = json_array_size (rows);
    if (count > SITEMSG_DEVICES_MAX)
        return campaign_run_fail (run, WEFT_STATUS_BAD_REQUEST, "site %s has %zu devices of "
                                  "%s: a site directive carries at most %d", site, count, id,
                                  SITEMSG_DEVICES_MAX);
    size_t sizes [CAMPAIGN_WAVES_MAX], wave = 0, taken = 0;
    s_site_sizes (campaign, count, sizes);
    json_array_foreach (rows, index, row) {
        while (wave + 1 < CAMPAIGN_WAVES_MAX && taken == sizes [wave]) {
            wave++;
            taken = 0;
        }
        taken++;
        json_array_append_new (row, json_integer ((json_int_t) wave));
    }
    director_batch_t *batch = count? s_batch (run, campaign, batches, tenant): NULL;
    if (count && !batch)
        return -1;
    size_t common = 0;
    if (count)
        director_batch_shared (batch, &common);
    size_t assignment = count? director_batch_assignment_size (batch, json_string_value (
                                   json_array_get (json_array_get (rows, longest), 0)),
                                   run->now_ms, run->now_ms + DIRECTOR_TTL_S * 1000ULL): 0;
    size_t size = common + ids + count * (5 + assignment) + S_FIELDS_MAX;
    if (count && size > UPDMSG_METADATA_MAX)
        return campaign_run_fail (run, WEFT_STATUS_BAD_REQUEST, "the directive of site %s of "
                                  "%s would be %zu bytes: more than a frame carries (%d); "
                                  "narrow the campaign's query", site, id, size,
                                  UPDMSG_METADATA_MAX);
    return 0;
}

int
campaign_site_start (campaign_run_t *run, json_t *campaign)
{
    assert (run && campaign);
    if (!run->secret)
        return campaign_run_fail (run, WEFT_STATUS_INTERNAL, "no signing key for assignments");
    const char *id = rpc_json_str (campaign, "id");
    s_servers_t servers;
    memset (&servers, 0, sizeof servers);
    servers.run = run;
    servers.campaign = campaign;
    servers.sites = json_object ();
    servers.site_of = campaign_sites_new ();
    registry_device_init (&servers.device);
    int rc = 0;
    if (campaign_devices (run->txn, id, s_group_one, &servers) < 0
    ||  registry_index_scan (run->txn, "type", "server", false, s_server_one, &servers) < 0)
        rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "cannot read the campaign");
    registry_device_fini (&servers.device);
    zhashx_t *batches = zhashx_new ();
    zhashx_set_destructor (batches, (czmq_destructor *) director_batch_destroy);
    //  Every site checked first: a refusal leaves nothing written
    const char *site;
    json_t *entry;
    json_object_foreach (servers.sites, site, entry)
        if (rc == 0 && json_object_get (entry, "server"))
            rc = s_site_check (run, campaign, batches, site, entry);
    json_int_t at_sites = 0, site_count = 0;
    json_object_foreach (servers.sites, site, entry) {
        json_t *rows = json_object_get (entry, "rows");
        if (rc || json_array_size (rows) == 0)
            continue;
        json_t *record = json_pack ("{s:s, s:O, s:O, s:I, s:I, s:s, s:I}", "site", site,
                                    "server", json_object_get (entry, "server"),
                                    "tenant", json_object_get (entry, "tenant"),
                                    "devices", (json_int_t) json_array_size (rows),
                                    "generation", (json_int_t) 1, "state", "run",
                                    "sent_ms", (json_int_t) run->now_ms);
        campaign_directive_t *directive = s_directive (campaign, record, 1);
        rc = s_assign (run, campaign, record, batches, rows, directive);
        if (rc == 0 && s_site_put (run->txn, id, record))
            rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
        if (rc == 0) {
            at_sites += (json_int_t) json_array_size (rows);
            site_count++;
            s_queue (run, directive);
        }
        else
            campaign_directive_destroy (&directive);
        json_decref (record);
    }
    if (rc == 0) {
        json_object_set_new (campaign, "site_devices", json_integer (at_sites));
        json_object_set_new (campaign, "site_count", json_integer (site_count));
    }
    zhashx_destroy (&batches);
    zhashx_destroy (&servers.site_of);
    json_decref (servers.sites);
    return rc;
}

//  --------------------------------------------------------------------------
//  A new generation: the campaign's state, and a retry's devices

//  A retry: the failed and rolled-back devices run by a site, by site
static int
s_failed_one (void *arg, const char *device, json_t *record)
{
    const char *state = rpc_json_str (record, "state");
    const char *site = rpc_json_str (record, "site");
    if (!json_object_get (record, "at_site")
    ||  !(streq (state, "failed") || streq (state, "rolled-back")))
        return 0;
    json_t *rows = json_object_get ((json_t *) arg, site);
    if (!rows) {
        rows = json_array ();
        json_object_set_new ((json_t *) arg, site, rows);
    }
    json_array_append_new (rows, json_pack ("[s, O, O]", device, record,
                                            json_object_get (record, "site_wave")));
    return 0;
}

//  A new generation of state for each site of the campaign: of tenant
//  only, or (tenant NULL) of each tenant still in the campaign
static int
s_generations (campaign_run_t *run, json_t *campaign, uint32_t state, const char *tenant,
               bool retry, size_t *retried_p)
{
    const char *id = rpc_json_str (campaign, "id");
    json_t *sites = state? s_sites (run->txn, id): json_array ();
    json_t *failed = json_object ();
    int rc = sites? 0: campaign_run_fail (run, WEFT_STATUS_INTERNAL, "cannot read the campaign");
    if (rc == 0 && retry && json_array_size (sites)
    &&  campaign_devices (run->txn, id, s_failed_one, failed) < 0)
        rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "cannot read the campaign");
    zhashx_t *batches = zhashx_new ();
    zhashx_set_destructor (batches, (czmq_destructor *) director_batch_destroy);
    size_t index;
    json_t *site;
    json_array_foreach (sites, index, site) {
        if (rc)
            break;
        const char *owner = rpc_json_str (site, "tenant");
        if (tenant? !streq (owner, tenant): !campaign_has_tenant (campaign, owner))
            continue;
        json_object_set_new (site, "generation", json_integer (rpc_json_int (site,
                                                                "generation") + 1));
        json_object_set_new (site, "state", json_string (state == 1? "run": state == 2? "pause"
                                                                           : "abort"));
        json_object_set_new (site, "sent_ms", json_integer ((json_int_t) run->now_ms));
        campaign_directive_t *directive = s_directive (campaign, site, state);
        json_t *rows = json_object_get (failed, rpc_json_str (site, "site"));
        //  Retried: pending again, no longer counted as failed
        size_t row_index;
        json_t *row;
        json_array_foreach (rows, row_index, row) {
            campaign_count_add (campaign, "failed",
                                rpc_json_int (json_array_get (row, 1), "wave"), -1);
            if (retried_p)
                (*retried_p)++;
        }
        if (json_array_size (rows))
            rc = s_assign (run, campaign, site, batches, rows, directive);
        if (rc == 0 && s_site_put (run->txn, id, site))
            rc = campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed");
        if (rc == 0)
            s_queue (run, directive);
        else
            campaign_directive_destroy (&directive);
    }
    zhashx_destroy (&batches);
    json_decref (failed);
    json_decref (sites);
    return rc;
}

int
campaign_site_directives (campaign_run_t *run, json_t *campaign, bool retry,
                          size_t *retried_p)
{
    assert (run && campaign);
    return s_generations (run, campaign, s_state_code (rpc_json_str (campaign, "state")),
                          NULL, retry, retried_p);
}

int
campaign_site_exclude (campaign_run_t *run, json_t *campaign, const char *tenant)
{
    assert (run && campaign && tenant);
    return s_generations (run, campaign, SITE_ABORT, tenant, false, NULL);
}

//  --------------------------------------------------------------------------
//  Reports

//  How far a device state is: a report never moves a device back
static int
s_rank (const char *state)
{
    static const char *order [] = { "pending", "offered", "downloading", "waiting-window",
                                    "installing" };
    for (int index = 0; index < 5; index++)
        if (streq (state, order [index]))
            return index;
    return 5;
}

static const char *
s_site_state_name (uint32_t state)
{
    static const char *names [] = { "?", "running", "paused", "aborted", "halted",
                                    "finished" };
    return state >= 1 && state <= 5? names [state]: "?";
}

int
campaign_site_report (campaign_run_t *run, const char *origin, const sitemsg_t *report,
                      size_t *applied_p, char reason [WEFT_TEXT_MAX + 1])
{
    assert (run && origin && report && applied_p && reason);
    *applied_p = 0;
    json_t *campaign = campaign_get (run->txn, report->campaign);
    json_t *site = campaign? s_site_get (run->txn, report->campaign, report->site): NULL;
    if (!site || !streq (rpc_json_str (site, "server"), origin)) {
        snprintf (reason, WEFT_TEXT_MAX + 1, "not the site server of campaign %.32s at %.160s",
                  report->campaign, report->site);
        json_decref (site);
        json_decref (campaign);
        return WEFT_STATUS_DENIED;
    }
    //  The site's own state: the latest report
    json_t *held = json_object_get (site, "report");
    if (!held || (uint64_t) rpc_json_int (held, "generation") < report->generation
    ||  ((uint64_t) rpc_json_int (held, "generation") == report->generation
         && (uint64_t) rpc_json_int (held, "sent_ms") <= report->sent_ms))
        json_object_set_new (site, "report", json_pack ("{s:I, s:s, s:I, s:s, s:I, s:I}",
            "generation", (json_int_t) report->generation,
            "state", s_site_state_name (report->state), "wave", (json_int_t) report->wave,
            "reason", report->reason, "sent_ms", (json_int_t) report->sent_ms,
            "received_ms", (json_int_t) run->now_ms));
    int rc = s_site_put (run->txn, report->campaign, site)
           ? campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed"): 0;
    //  Outcomes, forward only, each final state counted once; an
    //  aborted or finished campaign takes none
    bool ended = false;
    const uint8_t *at = report->entries;
    size_t left = report->entries_size;
    sitemsg_outcome_t outcome;
    while (rc == 0 && !campaign_state_final (rpc_json_str (campaign, "state"))
       &&  sitemsg_next_outcome (&at, &left, &outcome) == 1) {
        const char *state = sitemsg_dev_state_name (outcome.state);
        json_t *record = state? campaign_device_get (run->txn, report->campaign, outcome.device)
                              : NULL;
        const char *now_state = rpc_json_str (record, "state");
        if (record && streq (rpc_json_str (record, "at_site"), origin)
        &&  streq (rpc_json_str (record, "site"), report->site)
        &&  !campaign_device_final (now_state) && s_rank (state) >= s_rank (now_state)
        &&  (!streq (state, now_state)
             || !streq (outcome.reason, rpc_json_str (record, "reason")))) {
            rc = campaign_settle (run, campaign, outcome.device, record, state,
                                  *outcome.reason? outcome.reason: NULL);
            ended = ended || campaign_device_final (state);
            (*applied_p)++;
        }
        json_decref (record);
    }
    if (rc == 0 && ended)
        rc = campaign_advance (run, campaign);
    json_decref (site);
    json_decref (campaign);
    return rc? run->status: WEFT_STATUS_OK;
}

//  --------------------------------------------------------------------------
//  A directive refused

int
campaign_site_refused (campaign_run_t *run, const char *server, const sitemsg_t *directive,
                       const char *reason)
{
    assert (run && server && directive);
    json_t *campaign = campaign_get (run->txn, directive->campaign);
    json_t *site = campaign? s_site_get (run->txn, directive->campaign, directive->site)
                           : NULL;
    //  Only the site's latest directive, to the server it went to, of a
    //  site that never reported (one that did runs its part)
    if (!site || !streq (rpc_json_str (site, "server"), server)
    ||  (uint64_t) rpc_json_int (site, "generation") != directive->generation
    ||  json_object_get (site, "report")
    ||  campaign_state_final (rpc_json_str (campaign, "state"))) {
        json_decref (site);
        json_decref (campaign);
        return 0;
    }
    char why [WEFT_TEXT_MAX + 1];
    snprintf (why, sizeof why, "site directive refused by %.64s: %.160s", server,
              reason && *reason? reason: "no reason");
    json_object_set_new (site, "refused", json_string (why));
    int rc = s_site_put (run->txn, directive->campaign, site)
           ? campaign_run_fail (run, WEFT_STATUS_INTERNAL, "store write failed"): 0;
    int failed = 0;
    const uint8_t *at = directive->entries;
    size_t left = directive->entries_size;
    sitemsg_device_t device;
    while (rc == 0 && sitemsg_next_device (&at, &left, &device) == 1) {
        json_t *record = campaign_device_get (run->txn, directive->campaign, device.device);
        if (record && streq (rpc_json_str (record, "at_site"), server)
        &&  streq (rpc_json_str (record, "site"), directive->site)
        &&  !campaign_device_final (rpc_json_str (record, "state"))) {
            rc = campaign_settle (run, campaign, device.device, record, "failed", why);
            failed++;
        }
        json_decref (record);
    }
    if (rc == 0 && failed)
        rc = campaign_advance (run, campaign);
    json_decref (site);
    json_decref (campaign);
    return rc? -1: 1 + failed;
}
