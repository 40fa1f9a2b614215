/*  rollout - weft-sim's software release (the "release" line)
    One release of tenant acme, "sim-app" version 2 of release_size
    deterministic bytes, signed by release keys drawn from the seed
    (root 2 of 3, targets 2 of 2, snapshot, timestamp; the root names
    the simulated coordinator's key for assignments). Every node's
    enrolment pinned that root; the release goes to the coordinator's
    repository through its RPC path (release.root.set, artifact.upload,
    artifact.part) before the first node boots, and an "assign" action
    is update.assign of it to every gateway: the director's offers,
    carried by custody like any push. The node cores then fetch, verify
    and install it with their own fetch and update modules; the install
    handler is the world's (every step a success after the apply
    latency, but the health check of the gateways "fail=" names).
    Every CHUNK_DATA the coordinator sends down a site's uplink is
    counted here: its bytes against one copy of the release, and each
    chunk at most once per site (invariant 8).  */

#include "sim/world_internal.h"
#include "proto/release_fixture.h"
#include "proto/updmsg.h"
#include "proto/sitemsg.h"
#include "proto/bundle.h"
#include "node/core/update.h"
#include "coordinator/core/artrepo.h"
#include "coordinator/core/campaign.h"
#include "coordinator/core/campaign_run.h"

#define S_NAME      "sim-app"
#define S_VERSION   "2"
#define S_TENANT    "acme"

//  Keys of the release roles, from the seed; coord is the simulated
//  coordinator's
static void
s_release_keys (world_t *self, release_fixture_t *k)
{
    memset (k, 0, sizeof *k);
    const char *labels [] = { "release root 0", "release root 1", "release root 2",
                              "release targets 0", "release targets 1",
                              "release snapshot", "release timestamp", "release rogue" };
    keys_t *slots [] = { &k->root [0], &k->root [1], &k->root [2], &k->targets [0],
                         &k->targets [1], &k->snapshot, &k->timestamp, &k->rogue };
    for (size_t i = 0; i < 8; i++)
        world_keys (self->scn->seed, labels [i], slots [i]);
    k->coord = self->coord_keys;
}

static uint64_t
s_root_expires (void)
{
    return FIXTURE_NOW + FIXTURE_DAY;
}

int
rollout_setup (world_t *self)
{
    const scenario_t *scn = self->scn;
    if (!scn->release)
        return 0;
    if (scn->attest && scn->attest_tenants > 1) {
        fprintf (stderr, "weft-sim: release: one tenant (attest tenants=1)\n");
        return -1;
    }
    release_fixture_t k;
    s_release_keys (self, &k);
    size_t root_size;
    uint8_t *root = release_fixture_root_of (&k, S_TENANT, 1, s_root_expires (), k.root, 2,
                                             k.root, &root_size);
    int rc = node_host_releases (self->host, root, root_size);
    free (root);
    self->rel.fail = (uint8_t *) zmalloc (self->nodes);
    self->rel.done = (uint8_t *) zmalloc (self->nodes);
    self->rel.site_bytes = (uint64_t *) zmalloc (self->nsites * sizeof (uint64_t));
    self->rel.site_chunks = (uint32_t *) zmalloc (self->nsites * sizeof (uint32_t));
    self->rel.seen = zhashx_new ();
    self->rel.site_failed = (uint32_t *) zmalloc (self->nsites * sizeof (uint32_t));
    self->rel.site_threshold = (uint32_t *) zmalloc (self->nsites * sizeof (uint32_t));
    self->rel.site_concurrency = (uint32_t *) zmalloc (self->nsites * sizeof (uint32_t));
    self->rel.site_late = (uint32_t *) zmalloc (self->nsites * sizeof (uint32_t));
    //  The last gateway of sites 1, 2, ... (or its fail-at'th) fails its
    //  health check
    for (uint32_t k = 0; k < scn->release_fail; k++) {
        const site_t *site = &self->sites [(1 + k) % self->nsites];
        uint32_t at = scn->release_fail_at? scn->release_fail_at: site->count - 1;
        uint32_t last = site->first + at;
        if (site->count < 2 || at >= site->count || self->rel.fail [last]) {
            fprintf (stderr, "weft-sim: release fail=%u: not enough sites with gateways\n",
                     scn->release_fail);
            return -1;
        }
        self->rel.fail [last] = 1;
    }
    for (uint32_t i = 0; i < self->nsites; i++)
        self->rel.gateways += self->sites [i].count - 1;
    keys_wipe (&k.rogue);
    return rc;
}

//  The device record of a node names the release's tenant, and its place
//  the node's site (acme/site-N: a campaign's site is its path's first
//  two segments when no hierarchy node says otherwise)
void
rollout_record (world_t *self, uint32_t node, json_t *record)
{
    if (self->scn->release && !self->scn->attest) {
        char path [32];
        snprintf (path, sizeof path, "%s/site-%u", S_TENANT, self->node [node].site);
        json_object_set_new (record, "tenant", json_string (S_TENANT));
        json_object_set_new (record, "path", json_string (path));
    }
}

//  One copy of the release: the packed bytes of the chunks the bundle
//  (ours, well formed) carries, and how many
static uint64_t
s_copy_bytes (const uint8_t *bundle, size_t size, uint32_t *chunks_p)
{
    uint64_t bytes = 0;
    *chunks_p = 0;
    for (size_t at = BUNDLE_MAGIC_SIZE; at + BUNDLE_HEADER_SIZE <= size; ) {
        bundle_record_t type;
        size_t length;
        if (bundle_header (bundle + at, &type, &length))
            break;
        if (type == BUNDLE_CHUNK && length > 32) {
            bytes += length - 32;
            (*chunks_p)++;
        }
        at += BUNDLE_HEADER_SIZE + length;
    }
    return bytes;
}

//  The root, then the bundle in parts, through the operator's RPC path
int
rollout_upload (world_t *self)
{
    if (!self->scn->release)
        return 0;
    release_fixture_t k;
    s_release_keys (self, &k);
    size_t root_size, bundle_size;
    uint8_t *root = release_fixture_root_of (&k, S_TENANT, 1, s_root_expires (), k.root, 2,
                                             k.root, &root_size);
    char *hex = (char *) zmalloc (2 * root_size + 1);
    keys_hex (root, root_size, hex);
    json_t *result = coord_host_call (self, "release.root.set", zsys_sprintf (
        "{\"tenant\":\"%s\",\"root\":\"%s\"}", S_TENANT, hex));
    free (hex);
    int rc = result? 0: -1;
    json_decref (result);
    uint8_t hash [32];
    uint8_t *bundle = release_fixture_bundle (&k, root, root_size, 1, S_NAME, S_VERSION,
                                              (size_t) self->scn->release_size, hash,
                                              &bundle_size);
    free (root);
    result = rc? NULL: coord_host_call (self, "artifact.upload", zsys_sprintf (
        "{\"tenant\":\"%s\",\"size\":%zu}", S_TENANT, bundle_size));
    char upload [17] = "";
    snprintf (upload, sizeof upload, "%s",
              result? json_string_value (json_object_get (result, "upload")): "");
    json_decref (result);
    rc = *upload? 0: -1;
    hex = (char *) zmalloc (2 * ARTREPO_PART_MAX + 1);
    for (size_t offset = 0; rc == 0 && offset < bundle_size; offset += ARTREPO_PART_MAX) {
        size_t part = bundle_size - offset < ARTREPO_PART_MAX
                    ? bundle_size - offset: ARTREPO_PART_MAX;
        keys_hex (bundle + offset, part, hex);
        result = coord_host_call (self, "artifact.part", zsys_sprintf (
            "{\"upload\":\"%s\",\"offset\":%zu,\"data\":\"%s\"}", upload, offset, hex));
        rc = result? 0: -1;
        json_decref (result);
    }
    free (hex);
    //  One copy: the packed bytes of its chunks, as the bundle holds them
    self->rel.copy_bytes = s_copy_bytes (bundle, bundle_size, &self->rel.chunks);
    free (bundle);
    if (rc)
        fprintf (stderr, "weft-sim: release: the coordinator refused the release's upload\n");
    return rc;
}

//  update.assign of the release to every gateway: one call per 10,000
//  names (n00...., n01....: the RPC's batch limit)
void
rollout_assign (world_t *self)
{
    self->rel.assigned = 0;
    for (uint32_t first = 0; first < self->nodes; first += 10000) {
        json_t *result = coord_host_call (self, "update.assign", zsys_sprintf (
            "{\"name\":\"%s\",\"version\":\"%s\",\"query\":\"type=gateway and id^=n%02u\"}",
            S_NAME, S_VERSION, first / 10000));
        self->rel.assigned += (uint32_t) json_array_size (json_object_get (result, "assigned"));
        json_decref (result);
    }
    if (self->rel.assigned != self->rel.gateways) {
        world_violation (self, "update.assign of %s %s reached %u of %u gateways", S_NAME,
                         S_VERSION, self->rel.assigned, self->rel.gateways);
        return;
    }
    self->rel.assign_us = self->sched.now;
}

//  A campaign of the release over every gateway (the action's plan:
//  waves, threshold, rate, concurrency), then started: the coordinator
//  offers each wave, follows the gateways' reports and moves on, halts
//  or finishes by itself
void
rollout_campaign (world_t *self, const scn_action_t *action)
{
    json_t *plan = json_loads (action->doc, 0, NULL);
    json_object_set_new (plan, "name", json_string (S_NAME));
    json_object_set_new (plan, "version", json_string (S_VERSION));
    json_object_set_new (plan, "query", json_string ("type=gateway"));
    json_object_set_new (plan, "timeout", json_integer (CAMPAIGN_TIMEOUT_MAX_S));
    json_t *result = coord_host_call (self, "campaign.create",
                                      json_dumps (plan, JSON_COMPACT));
    json_decref (plan);
    uint32_t devices = (uint32_t) json_integer_value (json_object_get (result, "devices"));
    json_decref (result);
    result = devices? coord_host_call (self, "campaign.start",
                                       strdup ("{\"id\":\"campaign-1\"}")): NULL;
    if (devices != self->rel.gateways || !result) {
        world_violation (self, "the campaign of %s %s holds %u of %u gateways%s", S_NAME,
                         S_VERSION, devices, self->rel.gateways, result? "": ", or did not start");
        json_decref (result);
        return;
    }
    json_decref (result);
    self->rel.assigned = devices;
    self->rel.campaign = true;
    self->rel.assign_us = self->sched.now;
}

//  The campaign's record at the coordinator (caller decrefs), or NULL
static json_t *
s_campaign (world_t *self)
{
    store_txn_t *txn = store_begin (self->coord_store, false);
    json_t *campaign = txn? campaign_get (txn, "campaign-1"): NULL;
    store_abort (&txn);
    return campaign;
}

static uint32_t
s_total (json_t *campaign, const char *name)
{
    return (uint32_t) campaign_total (campaign, name);
}

//  The world's install handler: a step takes as long as an apply
void
rollout_install_asked (void *ctx, uint32_t node, int step)
{
    world_t *self = (world_t *) ctx;
    sched_push (&self->sched, self->sched.now + self->scn->apply_ms * 1000, EV_INSTALL_DONE,
                node, ((uint64_t) self->node [node].incarnation << 32) | (uint32_t) step, NULL);
}

//  Invariant 10, for a campaign run at the sites: only the target (the
//  gateways) installs, and once a site's gateways failed as many as its
//  directive's threshold, its server starts no more than it had under way
//  (at most its concurrency) -- counted at the first step, staging
static void
s_site_check (world_t *self, uint32_t node, int step)
{
    uint32_t site = self->node [node].site;
    if (node == self->sites [site].first)
        world_violation (self, "node %u, a site server outside the campaign's target, "
                         "was asked to install", node);
    uint32_t threshold = self->rel.site_threshold [site];
    if (step != UPDATE_STEP_STAGE || !threshold || self->rel.site_failed [site] < threshold)
        return;
    uint32_t late = ++self->rel.site_late [site];
    if (late > self->rel.late_max)
        self->rel.late_max = late;
    uint32_t concurrency = self->rel.site_concurrency [site];
    if (concurrency && late > concurrency)
        world_violation (self, "site %u: %u gateways started after %u failed (threshold %u, "
                         "concurrency %u)", site, late, self->rel.site_failed [site],
                         threshold, concurrency);
}

static bool
s_install_ok (world_t *self, uint32_t node, int step)
{
    bool ok = !(self->rel.fail && self->rel.fail [node] && step == UPDATE_STEP_HEALTH);
    if (self->rel.site_threshold)
        s_site_check (self, node, step);
    if (self->rel.done && !self->rel.done [node]) {
        if (step == UPDATE_STEP_COMMIT && ok) {
            self->rel.done [node] = 1;
            self->rel.committed++;
            self->rel.last_us = self->sched.now;
        }
        else
        if (step == UPDATE_STEP_ROLLBACK) {
            self->rel.site_failed [self->node [node].site]++;
            self->rel.done [node] = 2;
            self->rel.rolled_back++;
            self->rel.last_us = self->sched.now;
        }
    }
    return ok;
}

//  Its answer, unless the node crashed since it asked
void
rollout_install_done (world_t *self, uint32_t node, uint64_t arg)
{
    snode_t *n = &self->node [node];
    if (n->up && n->incarnation == (uint32_t) (arg >> 32)) {
        int step = (int) (arg & 0xff);
        node_host_installed (self->host, node, world_now_ms (self), step,
                             s_install_ok (self, node, step));
        check_node (self, node);
    }
}

//  A frame the coordinator sends on a site's uplink: a CHUNK_DATA
//  counts against the site; a chunk the site had is invariant 8's,
//  unless the uplink lost a frame or was cut since (the site server
//  then asks again, rightly)
//  A SITE_DIRECTIVE to the server: its site's threshold and concurrency
static void
s_observe_directive (world_t *self, uint32_t server, const envelope_t *env)
{
    sitemsg_t msg;
    if (sitemsg_decode (&msg, MSG_SITE_DIRECTIVE, env->payload, env->payload_size))
        return;
    uint32_t site = self->node [server].site;
    self->rel.site_threshold [site] = msg.threshold;
    self->rel.site_concurrency [site] = msg.concurrency;
    self->rel.directive_frames++;
}

void
rollout_observe (world_t *self, uint32_t server, const uint8_t *data, size_t size)
{
    if (!self->rel.seen)
        return;
    envelope_t env;
    updmsg_t msg;
    if (envelope_decode (&env, data, size))
        return;
    if (env.type == MSG_SITE_DIRECTIVE) {
        s_observe_directive (self, server, &env);
        return;
    }
    if (env.type != MSG_CHUNK_DATA
    ||  updmsg_decode (&msg, MSG_CHUNK_DATA, env.payload, env.payload_size)
    ||  msg.size == 0)
        return;
    uint32_t site = self->node [server].site;
    const link_t *uplink = &self->links [2 * site + 1];
    self->rel.site_bytes [site] += msg.packed_size;
    self->rel.site_chunks [site]++;
    char key [8 + 2 * 32 + 1];
    snprintf (key, 9, "%08x", site);
    keys_hex (msg.address, 32, key + 8);
    uint64_t losses = uplink->dropped + uplink->cut + uplink->epoch + 1;
    uint64_t before = (uint64_t) (uintptr_t) zhashx_lookup (self->rel.seen, key);
    if (before == losses)
        world_violation (self, "site %u's uplink carried chunk %.16s of the release twice "
                         "with no frame lost or cut between", site, key + 8);
    else
    if (before)
        self->rel.resent++;
    zhashx_update (self->rel.seen, key, (void *) (uintptr_t) losses);
}

//  A frame arriving at a node: an UPDATE_OFFER reaches only a gateway
//  (invariant 10), whoever offers it. With --bug site-deaf a site
//  server never hears a failing gateway's update status nor its twin
//  reports (so it never learns of the failure): false, not delivered
bool
rollout_delivered (world_t *self, const frame_t *frame)
{
    if (!self->rel.campaign || frame->dst >= self->nodes
    ||  frame->dst != self->sites [self->node [frame->dst].site].first)
        return true;
    envelope_t env;
    if (frame->dest == frame->dst
    &&  envelope_decode (&env, frame->data, frame->size) == 0 && env.type == MSG_UPDATE_OFFER)
        world_violation (self, "node %u, a site server outside the campaign's target, was "
                         "offered the release by %s", frame->dst, env.origin);
    uint32_t origin;
    if (self->opt->bug_site_deaf && frame->src < self->nodes && self->rel.fail [frame->src]
    &&  envelope_decode (&env, frame->data, frame->size) == 0
    &&  (env.type == MSG_UPDATE_STATUS || env.type == MSG_TWIN_REPORTED)
    &&  node_host_index (env.origin, &origin) && origin == frame->src)
        return false;
    return true;
}

//  Every assigned gateway that can has committed or rolled back; a
//  campaign finished or halted with the coordinator's counts the
//  gateways' own (read at most once a virtual second)
bool
rollout_idle (world_t *self)
{
    if (!self->scn->release || !self->rel.assign_us)
        return true;
    if (!self->rel.campaign)
        return self->rel.committed + self->rel.rolled_back >= self->rel.assigned;
    if (!self->rel.campaign_idle && self->sched.now >= self->rel.campaign_seen_us + 1000000) {
        self->rel.campaign_seen_us = self->sched.now;
        json_t *campaign = s_campaign (self);
        const char *state = json_string_value (json_object_get (campaign, "state"));
        self->rel.campaign_idle = state && (streq (state, "finished") || streq (state, "halted"))
            && s_total (campaign, "succeeded") == self->rel.committed
            && s_total (campaign, "failed") == self->rel.rolled_back;
        if (self->rel.campaign_idle)
            self->rel.idle_us = self->sched.now;
        json_decref (campaign);
    }
    return self->rel.campaign_idle;
}

//  Invariant 9, per gateway: the coordinator's final state of each is
//  what the gateway did (so, with the totals equal, each outcome counted
//  once), also for the sites cut off while they ran theirs
static void
s_device_check (world_t *self)
{
    store_txn_t *txn = store_begin (self->coord_store, false);
    for (uint32_t node = 0; txn && node < self->nodes; node++) {
        if (node == self->sites [self->node [node].site].first)
            continue;
        char name [NH_NAME_MAX];
        node_host_name (node, name);
        json_t *record = campaign_device_get (txn, "campaign-1", name);
        const char *state = json_string_value (json_object_get (record, "state"));
        const char *want = self->rel.done [node] == 1? "succeeded"
                         : self->rel.done [node] == 2? "failed or rolled-back": "not ended";
        bool same = state && (self->rel.done [node] == 1? streq (state, "succeeded")
                            : self->rel.done [node] == 2? streq (state, "failed")
                                                          || streq (state, "rolled-back")
                            : !campaign_device_final (state) || streq (state, "skipped"));
        if (!same)
            world_violation (self, "campaign: the coordinator holds %s %s, the gateway %s",
                             name, state? state: "nowhere", want);
        json_decref (record);
        if (!same)
            break;
    }
    store_abort (&txn);
}

//  Invariant 9: a campaign halts if and only if as many gateways failed
//  as its threshold, else finishes, and what it counts is what the
//  gateways did
static void
s_campaign_check (world_t *self)
{
    json_t *campaign = s_campaign (self);
    const char *state = json_string_value (json_object_get (campaign, "state"));
    uint32_t threshold = (uint32_t) json_integer_value (json_object_get (campaign,
                                                                         "threshold_devices"));
    const char *want = self->scn->release_fail >= threshold? "halted": "finished";
    if (!state || !streq (state, want))
        world_violation (self, "campaign: %s, not %s (%u gateways set to fail, threshold %u)",
                         state? state: "missing", want, self->scn->release_fail, threshold);
    else
    if (s_total (campaign, "succeeded") != self->rel.committed
    ||  s_total (campaign, "failed") != self->rel.rolled_back)
        world_violation (self, "campaign: counts %u succeeded and %u failed; the gateways "
                         "committed %u and rolled back %u", s_total (campaign, "succeeded"),
                         s_total (campaign, "failed"), self->rel.committed,
                         self->rel.rolled_back);
    json_decref (campaign);
    s_device_check (self);
}

//  The end: every gateway committed but the failing ones, which rolled back
void
rollout_check (world_t *self)
{
    if (!self->scn->release || !self->rel.assign_us)
        return;
    if (self->rel.campaign) {
        s_campaign_check (self);
        return;
    }
    uint32_t fail = self->scn->release_fail;
    if (self->rel.committed + fail != self->rel.assigned || self->rel.rolled_back != fail)
        world_violation (self, "release: %u of %u gateways committed and %u rolled back "
                         "(%u set to fail)", self->rel.committed, self->rel.assigned,
                         self->rel.rolled_back, fail);
}

//  Sites whose gateways failed as many as their directive's threshold
static uint32_t
s_sites_halted (world_t *self)
{
    uint32_t halted = 0;
    for (uint32_t s = 0; s < self->nsites; s++)
        halted += self->rel.site_threshold [s]
               && self->rel.site_failed [s] >= self->rel.site_threshold [s];
    return halted;
}

//  Sites whose every gateway committed or rolled back; the first 16 of
//  them listed (JSON numbers) in list
static uint32_t
s_sites_complete (world_t *self, char list [16 * 11])
{
    uint32_t complete = 0;
    size_t used = 0;
    *list = 0;
    for (uint32_t s = 0; s < self->nsites; s++) {
        const site_t *site = &self->sites [s];
        uint32_t node = site->first + 1;
        while (node < site->first + site->count && self->rel.done [node])
            node++;
        if (site->count > 1 && node == site->first + site->count && complete++ < 16)
            used += (size_t) snprintf (list + used, 16 * 11 - used, "%s%u", used? ", ": "", s);
    }
    return complete;
}

void
rollout_report (world_t *self, FILE *out)
{
    if (!self->scn->release)
        return;
    uint64_t min = UINT64_MAX, max = 0, total = 0;
    for (uint32_t s = 0; s < self->nsites; s++) {
        uint64_t bytes = self->rel.site_bytes [s];
        min = bytes < min? bytes: min;
        max = bytes > max? bytes: max;
        total += bytes;
    }
    fprintf (out, "  \"release\": {\"size\": %" PRIu64 ", \"chunks\": %u, \"copy_bytes\": %"
             PRIu64 ", \"assigned\": %u, \"committed\": %u, \"rolled_back\": %u, "
             "\"spread_s\": %.3f, \"uplink_chunk_bytes_per_site\": {\"min\": %" PRIu64
             ", \"max\": %" PRIu64 ", \"total\": %" PRIu64 "}, \"copies_per_site_max\": %.3f, "
             "\"chunks_resent\": %" PRIu64 "},\n",
             self->scn->release_size, self->rel.chunks, self->rel.copy_bytes,
             self->rel.assigned, self->rel.committed, self->rel.rolled_back,
             self->rel.last_us > self->rel.assign_us
             ? (self->rel.last_us - self->rel.assign_us) / 1e6: 0.0,
             min, max, total,
             self->rel.copy_bytes? (double) max / self->rel.copy_bytes: 0.0, self->rel.resent);
    json_t *campaign = self->rel.campaign? s_campaign (self): NULL;
    char complete [16 * 11];
    uint32_t sites_complete = campaign? s_sites_complete (self, complete): 0;
    if (campaign)
        fprintf (out, "  \"campaign\": {\"state\": \"%s\", \"wave\": %" JSON_INTEGER_FORMAT
                 ", \"waves\": %zu, \"succeeded\": %u, \"failed\": %u, \"directive_frames\": %u, "
                 "\"sites_halted\": %u, \"sites_complete\": %u, \"complete_sites\": [%s], "
                 "\"site_late_max\": %u, "
                 "\"complete_s\": %.3f},\n",
                 json_string_value (json_object_get (campaign, "state")),
                 json_integer_value (json_object_get (campaign, "wave")) + 1,
                 json_array_size (json_object_get (campaign, "sizes")),
                 s_total (campaign, "succeeded"), s_total (campaign, "failed"),
                 self->rel.directive_frames, s_sites_halted (self), sites_complete, complete,
                 self->rel.late_max, self->rel.idle_us > self->rel.assign_us
                 ? (self->rel.idle_us - self->rel.assign_us) / 1e6: 0.0);
    json_decref (campaign);
}

void
rollout_teardown (world_t *self)
{
    free (self->rel.fail);
    free (self->rel.done);
    free (self->rel.site_bytes);
    free (self->rel.site_chunks);
    free (self->rel.site_failed);
    free (self->rel.site_threshold);
    free (self->rel.site_concurrency);
    free (self->rel.site_late);
    zhashx_destroy (&self->rel.seen);
    memset (&self->rel, 0, sizeof self->rel);
}
