/*  update_use - what is installed leaving use: the director's uninstall
    order, and deactivation while its entitlement has lapsed (see
    update.h)
    Both run only between jobs (idle, committed, rolled back,
    uninstalled) and with no step at the handler, so they never meet an
    install half done. An uninstall is a state of the job record,
    committed before its step: after a crash the same idempotent step is
    asked again. Whether the software is in use is not stored: at start
    the handler is asked once for the state the entitlements say (its
    steps are idempotent), then only at a change.  */

#include "proto/corelib.h"
#include "node/core/update.h"
#include "node/core/update_internal.h"

//  No job under way and no step at the handler
static bool
s_between_jobs (update_t *self)
{
    return self->step == 0
        && (self->state == UPDATE_IDLE || self->state == UPDATE_COMMITTED
        ||  self->state == UPDATE_ROLLED_BACK || self->state == UPDATE_UNINSTALLED);
}

int
update_uninstall (update_t *self, const sworder_t *order, uint64_t now_ms,
                  char reason [WEFT_TEXT_MAX + 1])
{
    assert (self && order && reason);
    assert (order->kind == SWORDER_UNINSTALL);
    *reason = 0;
    if (self->state == UPDATE_UNINSTALLED && streq (self->job_name, order->name)
    &&  self->assigned_ms == order->issued_ms)
        return proto_refusal (reason, WEFT_STATUS_OK, "duplicate");
    if (self->state == UPDATE_REMOVING && streq (self->job_name, order->name))
        return proto_refusal (reason, WEFT_STATUS_OK, "being removed");
    if (!s_between_jobs (self) && self->step < UPDATE_STEP_REMOVE)
        return proto_refusal (reason, WEFT_STATUS_DENIED, "uninstall refused: %s %s is %s",
                              self->job_name, self->job_version,
                              update_state_name (self->state));
    if (!s_between_jobs (self))
        return proto_refusal (reason, WEFT_STATUS_INTERNAL, "%s is being (de)activated",
                              self->inst_name);
    if (!self->installed || !streq (self->inst_name, order->name))
        return proto_refusal (reason, WEFT_STATUS_DENIED, "uninstall refused: %s is not "
                              "installed", order->name);
    //  A replayed order never removes what was assigned after it
    if (order->issued_ms <= self->assigned_ms)
        return proto_refusal (reason, WEFT_STATUS_DENIED, "uninstall refused: the order is "
                              "older than the assignment of %s %s", self->inst_name,
                              self->inst_version);
    //  The job becomes the removal of what is installed
    if (memcmp (self->hash, self->inst_hash, 32)) {
        free (self->manifest);
        self->manifest = NULL;
        self->manifest_size = 0;
        self->chunk_count = 0;
    }
    snprintf (self->job_name, sizeof self->job_name, "%s", self->inst_name);
    snprintf (self->job_version, sizeof self->job_version, "%s", self->inst_version);
    memcpy (self->hash, self->inst_hash, 32);
    *self->previous = *self->offerer = *self->error = 0;
    self->assigned_ms = order->issued_ms;
    zsys_info ("update: %s %s ordered uninstalled", self->inst_name, self->inst_version);
    update_enter (self, UPDATE_REMOVING, NULL, false, now_ms);
    if (self->state != UPDATE_REMOVING)
        return proto_refusal (reason, WEFT_STATUS_INTERNAL, "cannot store the uninstall");
    return WEFT_STATUS_OK;
}

bool
update_use_installed (update_t *self, int step, bool ok, const char *why, uint64_t now_ms)
{
    if (step == UPDATE_STEP_REMOVE) {
        if (!ok) {
            //  Still installed: the reason says why it stays
            update_enter (self, UPDATE_COMMITTED, why, false, now_ms);
            return true;
        }
        uint8_t left [32];
        memcpy (left, self->inst_hash, 32);
        memcpy (self->left, left, 32);      //  Committed with the state
        *self->inst_version = 0;            //  The name and anti-rollback stay
        memset (self->inst_hash, 0, 32);
        self->installed = false;
        self->in_use = -1;
        update_enter (self, UPDATE_UNINSTALLED, NULL, true, now_ms);
        update_let_go (self, left);
        return true;
    }
    if (step == UPDATE_STEP_DEACTIVATE || step == UPDATE_STEP_REACTIVATE) {
        //  A step that failed is not asked again until the entitlement
        //  changes or the node starts again (a handler that cannot would
        //  be asked for ever)
        self->in_use = step == UPDATE_STEP_REACTIVATE;
        if (!ok)
            zsys_error ("update: %s %s: %s", self->inst_name, self->inst_version, why);
        update_report_now (self);
        update_use_settle (self, now_ms);
        return true;
    }
    return false;
}

//  Should what is installed be in use now? Ungoverned software is.
static bool
s_entitled (update_t *self, uint64_t now_ms)
{
    return !self->entitle || entitle_active (self->entitle, self->inst_name, now_ms);
}

void
update_use_settle (update_t *self, uint64_t now_ms)
{
    if (!self->installed || !s_between_jobs (self) || !self->entitle
    ||  !entitle_governed (self->entitle, self->inst_name))
        return;
    int want = s_entitled (self, now_ms);
    if (self->in_use == want)
        return;
    //  The handler's step names what is installed (the job may be
    //  another release, rolled back)
    const char *handler = self->handler;
    update_install_t install = {
        .step = want? UPDATE_STEP_REACTIVATE: UPDATE_STEP_DEACTIVATE,
        .name = self->inst_name, .version = self->inst_version, .handler = handler,
        .previous = "", .manifest = self->manifest, .manifest_size = self->manifest_size
    };
    memcpy (install.manifest_hash, self->inst_hash, 32);
    self->step = install.step;
    zsys_info ("update: %s %s %s", self->inst_name, self->inst_version,
               want? "reactivated (entitled)": "deactivated (" ENTITLE_EXPIRED ")");
    self->effects.install (self->effects.ctx, &install);
}

void
update_use_report (update_t *self, json_t *json)
{
    if (!self->installed || !self->entitle || !entitle_governed (self->entitle, self->inst_name))
        return;
    bool active = s_entitled (self, self->now_ms);
    json_object_set_new (json, "active", json_boolean (active));
    if (!active)
        json_object_set_new (json, "reason", json_string (ENTITLE_EXPIRED));
    json_object_set_new (json, "entitled_until", json_integer ((json_int_t)
                         entitle_until (self->entitle, self->inst_name)));
}

void
update_set_entitle (update_t *self, entitle_t *entitle, uint64_t now_ms)
{
    assert (self);
    self->entitle = entitle;
    self->in_use = -1;
    update_use_settle (self, now_ms);
}

void
update_entitlement_changed (update_t *self, uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
    update_report_now (self);
    update_use_settle (self, now_ms);
}
