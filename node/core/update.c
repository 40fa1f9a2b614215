/*  update - software updates on the device (see update.h)
    One job at a time: the release under way, or the last one finished.
    A state is committed with what it needs (the manifest, the trust the
    offer moved forward) before the effect it leads to is called, so a
    crash between the two only asks for the same idempotent step again.  */

#include "proto/corelib.h"
#include <jansson.h>
#include "proto/jsontext.h"
#include "proto/bundle.h"
#include "proto/manifest.h"
#include "proto/keys.h"
#include "node/core/update.h"
#include "node/core/update_internal.h"

static void s_resume (update_t *self, uint64_t now_ms);
static void s_report (update_t *self);

//  Does a staged release wait for its maintenance window? Then why, in
//  the words of reported.software's "waiting"
static bool
s_waiting (update_t *self, uint64_t now_ms, char why [UPDATE_ERROR_MAX + 1])
{
    if (self->state != UPDATE_STAGED || !self->window
    ||  window_open (self->window, now_ms, self->offset_s))
        return false;
    char text [WINDOW_DESCRIBE_MAX + 1];
    window_describe (self->window, now_ms, self->offset_s, text);
    snprintf (why, UPDATE_ERROR_MAX + 1, "maintenance window%s %s",
              self->window->malformed? "": ":", text);
    return true;
}

//  --------------------------------------------------------------------------
//  The module

update_t *
update_new (const update_config_t *config, const update_effects_t *effects)
{
    assert (config && effects);
    if (!config->name || !config->type || !config->coord_sign || !config->store
    ||  !config->chunks || !effects->want || !effects->drop || !effects->install
    ||  (config->prefix && strlen (config->prefix) > WEFT_NAME_MAX))
        return NULL;
    update_t *self = (update_t *) zmalloc (sizeof (update_t));
    self->effects = *effects;
    self->in_use = -1;
    self->store = config->store;
    self->chunks = config->chunks;
    self->prefix = strndup (config->prefix? config->prefix: "", WEFT_NAME_MAX);
    self->name = strndup (config->name, WEFT_NAME_MAX);
    self->tenant = strndup (config->tenant? config->tenant: "", WEFT_NAME_MAX);
    self->type = strndup (config->type, WEFT_NAME_MAX);
    memcpy (self->coord_sign, config->coord_sign, WEFT_KEY_SIZE);
    if (config->release_root && config->release_root_size) {
        self->root = (uint8_t *) zmalloc (config->release_root_size);
        memcpy (self->root, config->release_root, config->release_root_size);
        self->root_size = config->release_root_size;
    }
    return self;
}

void
update_destroy (update_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        update_t *self = *self_p;
        free (self->root);
        free (self->manifest);
        free (self->window);
        if (self->link)
            free (self->link->waiting);
        free (self->link);
        free (self->trust);
        free (self->prefix);
        free (self->name);
        free (self->tenant);
        free (self->type);
        free (self);
        *self_p = NULL;
    }
}

//  Trust from the pinned root, the first time there is one
static void
s_pin (update_t *self, uint64_t now_ms)
{
    release_trust_t trust;
    int rc = release_trust_init (&trust, self->root, self->root_size, now_ms);
    if (rc == 0 && *self->tenant && !streq (trust.root.tenant, self->tenant))
        rc = RELEASE_TENANT;
    if (rc) {
        zsys_error ("update: the pinned release root is refused: %s", release_strerror (rc));
        return;
    }
    if (!self->trust)
        self->trust = (release_trust_t *) zmalloc (sizeof (release_trust_t));
    *self->trust = trust;
    if (update_store_trust (self) == 0) {
        self->trusting = true;
        zsys_info ("update: release root version %" PRIu64 " of %s pinned",
                   trust.root.version, trust.root.tenant);
    }
}

//  Does the module need this release's chunks: the job's (until it is
//  rolled back), or what is installed?
static bool
s_needs (update_t *self, const uint8_t hash [32])
{
    if (self->installed && memcmp (hash, self->inst_hash, 32) == 0)
        return true;
    return self->state >= UPDATE_ASSIGNED && self->state <= UPDATE_FAILED
        && memcmp (hash, self->hash, 32) == 0;
}

//  A release's chunks go unless the module still needs them (a release
//  offered again while installed, then rolled back or replaced, is the
//  installed one)
static void
s_drop (update_t *self, const uint8_t hash [32])
{
    if (!s_needs (self, hash))
        self->effects.drop (self->effects.ctx, hash);
}

//  The release a committed state let go is dropped again at start: a
//  state is committed before the drop it leads to, so a crash between
//  the two would keep its chunks pinned for good (dropping one already
//  dropped changes nothing)
static void
s_let_go (update_t *self)
{
    static const uint8_t none [32] = { 0 };
    if (memcmp (self->left, none, 32))
        s_drop (self, self->left);
}

int
update_start (update_t *self, uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
    if (update_store_load (self))
        return -1;
    if (!self->trusting && self->root)
        s_pin (self, now_ms);
    if (self->state != UPDATE_IDLE)
        zsys_info ("update: %s %s %s at start", self->job_name, self->job_version,
                   update_state_name (self->state));
    //  A job under way reports anew: the ACK of this report, not of one
    //  sent before the restart, says the device came back and checked in
    if (self->state != UPDATE_IDLE && self->state != UPDATE_COMMITTED
    &&  self->state != UPDATE_ROLLED_BACK && self->state != UPDATE_UNINSTALLED)
        s_report (self);
    s_let_go (self);
    s_resume (self, now_ms);
    update_use_settle (self, now_ms);
    return 0;
}

//  --------------------------------------------------------------------------
//  The state machine

const char *
update_state_name (int state)
{
    static const char *names [] = { "idle", "assigned", "downloading", "verified", "staged",
                                    "installing", "health", "committed", "failed",
                                    "rolled-back", "removing", "uninstalled" };
    return state >= 0 && state <= UPDATE_UNINSTALLED? names [state]: "unknown";
}

char *
update_report_json (update_t *self)
{
    assert (self);
    json_t *json = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I}",
                              "state", update_state_name (self->state),
                              "name", self->job_name, "version", self->job_version,
                              "previous", self->previous, "installed", self->inst_version,
                              "chunks", (json_int_t) self->chunk_count);
    if (self->state == UPDATE_DOWNLOADING && self->chunk_count) {
        //  Progress: chunks held of the release (a scan of its manifest,
        //  at a state change only)
        size_t held = 0;
        manifest_t manifest;
        store_txn_t *txn = store_begin (self->store, false);
        if (txn && manifest_decode (&manifest, self->manifest, self->manifest_size) == 0)
            for (size_t i = 0; i < manifest.chunk_count; i++) {
                const uint8_t *hash;
                uint32_t size;
                manifest_chunk (&manifest, i, &hash, &size);
                held += chunkstore_has (self->chunks, txn, hash);
            }
        store_abort (&txn);
        json_object_set_new (json, "held", json_integer ((json_int_t) held));
    }
    if (*self->error)
        json_object_set_new (json, "error", json_string (self->error));
    if (*self->handler)
        json_object_set_new (json, "handler", json_string (self->handler));
    //  The firmware revision flashed: the node's fw (agent.h)
    if (self->state == UPDATE_COMMITTED && streq (self->handler, "firmware"))
        json_object_set_new (json, "fw", json_string (self->inst_version));
    if (self->assigned_ms)
        json_object_set_new (json, "assigned_ms", json_integer ((json_int_t) self->assigned_ms));
    update_use_report (self, json);
    char waiting [UPDATE_ERROR_MAX + 1];
    if (s_waiting (self, self->now_ms, waiting)) {
        json_object_set_new (json, "waiting", json_string (waiting));
        //  When the window opens (UTC): a campaign's deadline counts from it
        uint64_t opens_ms = window_next (self->window, self->now_ms, self->offset_s);
        if (opens_ms > self->now_ms)
            json_object_set_new (json, "opens_ms", json_integer ((json_int_t) opens_ms));
    }
    if (self->link && self->link->kind)
        json_object_set_new (json, "link", json_string (self->link->kind));
    if (self->link && self->link->waiting && self->state == UPDATE_DOWNLOADING) {
        json_object_set_new (json, "waiting", json_string (self->link->waiting));
        if (self->link->resumes_ms)
            json_object_set_new (json, "resumes_ms",
                                 json_integer ((json_int_t) self->link->resumes_ms));
    }
    char *text = jsontext_dumps (json, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (json);
    return text;
}

const char *
update_offerer (update_t *self)
{
    assert (self);
    return self->offerer;
}

static void
s_report (update_t *self)
{
    if (!self->effects.report)
        return;
    char *json = update_report_json (self);
    if (json)
        self->effects.report (self->effects.ctx, json, strlen (json));
    free (json);
}

static void
s_install (update_t *self, int step)
{
    update_install_t install = {
        .step = step, .manifest = self->manifest, .manifest_size = self->manifest_size,
        .name = self->job_name, .version = self->job_version, .handler = self->handler,
        .previous = self->previous
    };
    memcpy (install.manifest_hash, self->hash, 32);
    self->step = step;
    self->effects.install (self->effects.ctx, &install);
}

//  Are all chunks of the job's release in the chunk store?
static bool
s_all_held (update_t *self)
{
    manifest_t manifest;
    if (manifest_decode (&manifest, self->manifest, self->manifest_size))
        return false;
    store_txn_t *txn = store_begin (self->store, false);
    bool held = txn != NULL;
    for (size_t i = 0; held && i < manifest.chunk_count; i++) {
        const uint8_t *hash;
        uint32_t size;
        manifest_chunk (&manifest, i, &hash, &size);
        held = chunkstore_has (self->chunks, txn, hash);
    }
    store_abort (&txn);
    return held;
}

//  Enter state (committed first), then do what it asks
static void
s_enter (update_t *self, int state, const char *error, bool installed, uint64_t now_ms)
{
    self->now_ms = now_ms;
    self->state = state;
    if (error)
        snprintf (self->error, sizeof self->error, "%s", error);
    if (update_store_save (self, false, installed)) {
        update_store_load (self);   //  As committed: the next start asks again
        return;
    }
    zsys_info ("update: %s %s %s%s%s", self->job_name, self->job_version,
               update_state_name (state), *self->error? ": ": "", self->error);
    s_report (self);
    s_resume (self, now_ms);
}

//  Ask for what the state waits for (after entering it, or at start)
static void
s_resume (update_t *self, uint64_t now_ms)
{
    switch (self->state) {
        case UPDATE_ASSIGNED:
            s_enter (self, UPDATE_DOWNLOADING, NULL, false, now_ms);
            break;
        case UPDATE_DOWNLOADING:
            self->effects.want (self->effects.ctx, self->hash, self->manifest,
                                self->manifest_size);
            //  Chunks held already (an imported bundle, an earlier release)
            if (s_all_held (self))
                s_enter (self, UPDATE_VERIFIED, NULL, false, now_ms);
            break;
        case UPDATE_VERIFIED:
            s_install (self, UPDATE_STEP_STAGE);
            break;
        case UPDATE_STAGED: {
            //  Installs start only inside the maintenance window; one
            //  started runs to its end, whenever the window closes
            char why [UPDATE_ERROR_MAX + 1];
            if (s_waiting (self, now_ms, why))
                zsys_info ("update: %s %s waits: %s", self->job_name, self->job_version, why);
            else
                s_enter (self, UPDATE_INSTALLING, NULL, false, now_ms);
            break;
        }
        case UPDATE_INSTALLING:
            s_install (self, UPDATE_STEP_ACTIVATE);
            break;
        case UPDATE_HEALTH:
            s_install (self, UPDATE_STEP_HEALTH);
            break;
        case UPDATE_FAILED:
            s_install (self, UPDATE_STEP_ROLLBACK);
            break;
        case UPDATE_REMOVING:
            s_install (self, UPDATE_STEP_REMOVE);
            break;
        default:
            break;                  //  Idle, committed, rolled back: nothing waits
    }
}

void
update_chunks_held (update_t *self, const uint8_t hash [32], uint64_t now_ms)
{
    assert (self);
    if (self->state != UPDATE_DOWNLOADING || memcmp (hash, self->hash, 32))
        return;
    if (s_all_held (self))
        s_enter (self, UPDATE_VERIFIED, NULL, false, now_ms);
    else
        zsys_warning ("update: %s %s: chunks said held are not all in the chunk store",
                      self->job_name, self->job_version);
}

void
update_installed (update_t *self, int step, bool ok, const char *error, uint64_t now_ms)
{
    assert (self);
    if (step == 0 || step != self->step) {
        zsys_debug ("update: result of step %d not expected", step);
        return;
    }
    self->step = 0;
    char why [UPDATE_ERROR_MAX + 1];
    if (!ok) {
        static const char *names [] = { "", "stage", "activate", "health check", "commit",
                                        "rollback", "uninstall", "deactivate", "reactivate" };
        snprintf (why, sizeof why, "%s failed: %s", names [step],
                  error && *error? error: "no reason given");
    }
    if (update_use_installed (self, step, ok, ok? NULL: why, now_ms))
        return;
    switch (step) {
        case UPDATE_STEP_STAGE:
            s_enter (self, ok? UPDATE_STAGED: UPDATE_FAILED, ok? NULL: why, false, now_ms);
            break;
        case UPDATE_STEP_ACTIVATE:
            s_enter (self, ok? UPDATE_HEALTH: UPDATE_FAILED, ok? NULL: why, false, now_ms);
            break;
        case UPDATE_STEP_HEALTH:
            if (ok)
                s_install (self, UPDATE_STEP_COMMIT);
            else
                s_enter (self, UPDATE_FAILED, why, false, now_ms);
            break;
        case UPDATE_STEP_COMMIT: {
            //  The new version runs: it is installed, even if the previous
            //  could not be let go (said in the error)
            uint8_t left [32];
            bool had = self->installed;
            memcpy (left, self->inst_hash, 32);
            snprintf (self->inst_name, sizeof self->inst_name, "%s", self->job_name);
            snprintf (self->inst_version, sizeof self->inst_version, "%s", self->job_version);
            self->inst_anti_rollback = self->anti_rollback;
            memcpy (self->inst_hash, self->hash, 32);
            self->installed = true;
            bool leaving = had && memcmp (left, self->hash, 32);
            if (leaving)
                memcpy (self->left, left, 32);     //  Committed with the state
            s_enter (self, UPDATE_COMMITTED, ok? NULL: why, true, now_ms);
            if (leaving)
                s_drop (self, left);
            break;
        }
        case UPDATE_STEP_ROLLBACK:
            if (!ok)
                zsys_error ("update: %s %s: %s", self->job_name, self->job_version, why);
            //  The first failure is the reason the twin shows
            memcpy (self->left, self->hash, 32);
            s_enter (self, UPDATE_ROLLED_BACK, NULL, false, now_ms);
            s_drop (self, self->hash);
            break;
        default:
            break;
    }
    update_use_settle (self, now_ms);
}

//  --------------------------------------------------------------------------
//  Offers

//  Walk the offer's records through a bundle check from our trust;
//  keep the manifest and the assignment. RELEASE_OK or the refusal.
static int
s_check_offer (const uint8_t *data, size_t size, bundle_check_t *check,
               const uint8_t **manifest_p, size_t *manifest_size_p,
               const uint8_t **assign_p, size_t *assign_size_p)
{
    if (size < BUNDLE_MAGIC_SIZE || bundle_check_magic (check, data))
        return RELEASE_MALFORMED;
    size_t at = BUNDLE_MAGIC_SIZE;
    int rc = RELEASE_OK;
    bool ended = false;
    while (rc == RELEASE_OK && at < size && !ended) {
        bundle_record_t type;
        size_t length;
        if (size - at < BUNDLE_HEADER_SIZE || bundle_header (data + at, &type, &length)
        ||  size - at - BUNDLE_HEADER_SIZE < length)
            return RELEASE_MALFORMED;
        const uint8_t *body = data + at + BUNDLE_HEADER_SIZE;
        if (type == BUNDLE_CHUNK)
            return RELEASE_MALFORMED;           //  An offer carries no chunk
        if (type == BUNDLE_MANIFEST) {
            if (*manifest_p)
                return RELEASE_MALFORMED;       //  One release per offer
            *manifest_p = body;
            *manifest_size_p = length;
        }
        if (type == BUNDLE_ASSIGNMENT) {
            if (*assign_p)
                return RELEASE_MALFORMED;
            *assign_p = body;
            *assign_size_p = length;
        }
        rc = bundle_check_record (check, data + at, body, length);
        ended = type == BUNDLE_END;
        at += BUNDLE_HEADER_SIZE + length;
    }
    if (rc == RELEASE_OK && at != size)
        rc = RELEASE_MALFORMED;                 //  Bytes after the end record
    if (rc == RELEASE_OK)
        rc = bundle_check_done (check);
    return rc;
}

int
update_offer (update_t *self, const uint8_t *metadata, size_t size, uint64_t now_ms,
              char reason [WEFT_TEXT_MAX + 1])
{
    return update_offer_from (self, "", metadata, size, now_ms, reason);
}

int
update_offer_from (update_t *self, const char *offerer, const uint8_t *metadata, size_t size,
                   uint64_t now_ms, char reason [WEFT_TEXT_MAX + 1])
{
    assert (self && offerer && reason);
    *reason = 0;
    if (!self->trusting)
        return proto_refusal (reason, WEFT_STATUS_DENIED, "update refused: no release root "
                              "is pinned on this device");
    const uint8_t *manifest_data = NULL, *assign = NULL;
    size_t manifest_size = 0, assign_size = 0;
    bundle_check_t *check = bundle_check_new (self->trust, now_ms);
    int rc = s_check_offer (metadata, size, check, &manifest_data,
                            &manifest_size, &assign, &assign_size);
    if (rc == RELEASE_OK && !assign)
        rc = RELEASE_NOT_ASSIGNED;
    if (rc == RELEASE_OK && !manifest_data)
        rc = RELEASE_UNKNOWN;
    release_trust_t trust;
    if (rc == RELEASE_OK)
        trust = *bundle_check_trust (check);
    bundle_check_destroy (&check);
    manifest_t manifest;
    if (rc == RELEASE_OK)
        rc = release_check (&trust, assign, assign_size, self->coord_sign, self->name,
                            self->type, self->inst_anti_rollback,
                            manifest_data, manifest_size, now_ms, &manifest);
    if (rc != RELEASE_OK) {
        zsys_warning ("update: offer refused: %s", release_strerror (rc));
        return proto_refusal (reason, WEFT_STATUS_DENIED, "update refused: %s",
                              release_strerror (rc));
    }
    uint8_t assign_hash [32], hash [32];
    keys_hash (assign, assign_size, assign_hash);
    keys_hash (manifest_data, manifest_size, hash);
    if (self->state != UPDATE_IDLE && memcmp (assign_hash, self->assign_hash, 32) == 0)
        return proto_refusal (reason, WEFT_STATUS_OK, "duplicate");
    if (self->installed && memcmp (hash, self->inst_hash, 32) == 0
    &&  (self->state == UPDATE_COMMITTED || self->state == UPDATE_IDLE))
        return proto_refusal (reason, WEFT_STATUS_OK, "already installed");
    //  A release staged but waiting for its window was not touched yet
    char why [UPDATE_ERROR_MAX + 1];
    bool waiting = s_waiting (self, now_ms, why);
    if (self->state >= UPDATE_STAGED && self->state <= UPDATE_HEALTH && !waiting)
        return proto_refusal (reason, WEFT_STATUS_INTERNAL, "an install of %s %s is under "
                              "way", self->job_name, self->job_version);
    if (self->state == UPDATE_FAILED)
        return proto_refusal (reason, WEFT_STATUS_INTERNAL, "a rollback of %s %s is under "
                              "way", self->job_name, self->job_version);
    if (self->state == UPDATE_REMOVING || self->step >= UPDATE_STEP_REMOVE)
        return proto_refusal (reason, WEFT_STATUS_INTERNAL, "%s is being %s", self->inst_name,
                              self->state == UPDATE_REMOVING? "removed": "(de)activated");
    //  An assignment from before an uninstall order does not bring back
    //  what the order removed
    release_assignment_t opened;
    if (self->state == UPDATE_UNINSTALLED
    &&  release_assignment_open (&opened, assign, assign_size, self->coord_sign) == 0
    &&  opened.issued_ms <= self->assigned_ms)
        return proto_refusal (reason, WEFT_STATUS_DENIED, "update refused: assigned before "
                              "the order that uninstalled %s", self->job_name);
    //  A release not yet touched on the device gives way to the new one
    bool superseded = ((self->state >= UPDATE_ASSIGNED && self->state <= UPDATE_VERIFIED)
                       || waiting) && memcmp (hash, self->hash, 32);
    uint8_t old_hash [32];
    memcpy (old_hash, self->hash, 32);
    if (superseded)
        memcpy (self->left, old_hash, 32);
    //  The new job, with the trust the offer moved forward, in one commit
    *self->trust = trust;
    self->state = UPDATE_ASSIGNED;
    memcpy (self->hash, hash, 32);
    memcpy (self->assign_hash, assign_hash, 32);
    //  Checked above: its issue time
    self->assigned_ms = release_assignment_open (&opened, assign, assign_size,
                                                 self->coord_sign) == 0? opened.issued_ms: 0;
    self->anti_rollback = manifest.anti_rollback;
    snprintf (self->job_name, sizeof self->job_name, "%s", manifest.name);
    snprintf (self->job_version, sizeof self->job_version, "%s", manifest.version);
    snprintf (self->handler, sizeof self->handler, "%s", manifest.handler);
    snprintf (self->previous, sizeof self->previous, "%s", self->inst_version);
    snprintf (self->offerer, sizeof self->offerer, "%s", offerer);
    *self->error = 0;
    self->now_ms = now_ms;
    uint8_t *copy = (uint8_t *) zmalloc (manifest_size + 1);
    memcpy (copy, manifest_data, manifest_size);
    free (self->manifest);
    self->manifest = copy;
    self->manifest_size = manifest_size;
    self->chunk_count = manifest.chunk_count;
    self->step = 0;
    if (update_store_save (self, true, false)) {
        update_store_load (self);
        return proto_refusal (reason, WEFT_STATUS_INTERNAL, "cannot store the offer");
    }
    if (superseded)
        s_drop (self, old_hash);
    zsys_info ("update: %s %s assigned (handler %s, %zu chunks)", self->job_name,
               self->job_version, self->handler, self->chunk_count);
    s_report (self);
    s_resume (self, now_ms);
    return WEFT_STATUS_OK;
}

//  --------------------------------------------------------------------------
//  The maintenance window

//  The window or the offset changed: a staged release may install now,
//  or waits with another reason
static void
s_window_changed (update_t *self, uint64_t now_ms)
{
    self->now_ms = now_ms;
    char why [UPDATE_ERROR_MAX + 1];
    if (self->state == UPDATE_STAGED && self->step == 0) {
        if (s_waiting (self, now_ms, why))
            s_report (self);            //  Waits, with another reason
        else
            s_resume (self, now_ms);
    }
}

void
update_set_window (update_t *self, const window_t *window, uint64_t now_ms)
{
    assert (self && window);
    if (self->window? window_eq (self->window, window): !window->set)
        return;
    free (self->window);
    self->window = NULL;
    if (window->set) {
        self->window = (window_t *) zmalloc (sizeof (window_t));
        *self->window = *window;
    }
    if (window->malformed)
        zsys_warning ("update: maintenance window malformed, no install starts: %s",
                      window->error);
    else
        zsys_info ("update: maintenance window %s (%zu)", window->set? "set": "removed",
                   window->count);
    s_window_changed (self, now_ms);
}

void
update_set_utc_offset (update_t *self, int32_t offset_s, uint64_t now_ms)
{
    assert (self);
    if (offset_s == self->offset_s)
        return;
    self->offset_s = offset_s;
    if (self->window)
        s_window_changed (self, now_ms);
}

void
update_set_link (update_t *self, const char *link, const char *waiting, uint64_t resumes_ms)
{
    assert (self);
    if (!self->link) {
        if (!link && !waiting)
            return;                     //  Never metered: nothing to keep
        self->link = (update_link_t *) zmalloc (sizeof (update_link_t));
    }
    update_link_t *held = self->link;
    //  The words count down ("in 3 h"): only a new reason or a new time
    //  it resumes is worth a report
    bool same = (held->kind == link || (held->kind && link && streq (held->kind, link)))
             && !held->waiting == !waiting && held->resumes_ms == resumes_ms;
    if (same && (!waiting || streq (held->waiting, waiting)))
        return;
    held->kind = link;
    free (held->waiting);
    held->waiting = waiting? strdup (waiting): NULL;
    held->resumes_ms = resumes_ms;
    if (!same)
        s_report (self);
}

uint64_t
update_deadline (update_t *self)
{
    assert (self);
    if (self->state != UPDATE_STAGED || self->step || !self->window)
        return 0;
    return window_next (self->window, self->now_ms, self->offset_s);
}

void
update_tick (update_t *self, uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
    char why [UPDATE_ERROR_MAX + 1];
    if (self->state == UPDATE_STAGED && self->step == 0 && !s_waiting (self, now_ms, why))
        s_resume (self, now_ms);
}

//  --------------------------------------------------------------------------
//  State

int
update_state (update_t *self)
{
    assert (self);
    return self->state;
}

const char *
update_installed_version (update_t *self)
{
    assert (self);
    return self->inst_version;
}

const char *
update_error (update_t *self)
{
    assert (self);
    return self->error;
}

const release_trust_t *
update_trust (update_t *self)
{
    assert (self);
    return self->trusting? self->trust: NULL;
}

bool
update_trusting (update_t *self)
{
    assert (self);
    return self->trusting;
}

//  --------------------------------------------------------------------------
//  For update_use.c

void
update_enter (update_t *self, int state, const char *error, bool installed, uint64_t now_ms)
{
    s_enter (self, state, error, installed, now_ms);
}

void
update_step (update_t *self, int step)
{
    s_install (self, step);
}

void
update_report_now (update_t *self)
{
    s_report (self);
}

void
update_let_go (update_t *self, const uint8_t hash [32])
{
    s_drop (self, hash);
}
