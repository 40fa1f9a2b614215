/*  coord_campaign - the coordinator's side of running campaigns: a
    device's report moves its campaign in the report's own transaction,
    deadlines are swept at the coordinator's tick, and the offers of a
    next wave go by custody once their transaction committed (the model
    is campaign_run.h)  */

#include "proto/corelib.h"
#include "proto/sitemsg.h"
#include "coordinator/core/campaign_site.h"
#include "coordinator/core/coord_internal.h"

int
coord_campaign_report (coord_t *self, campaign_run_t *run, const char *device, json_t *doc,
                       uint64_t applied_version, const char *status)
{
    assert (self && run && device);
    int rc = campaign_report (run, device, json_object_get (doc, "software"), applied_version,
                              status);
    if (rc)
        zsys_error ("coord: campaign of %s: %s", device, run->error);
    return rc;
}

void
coord_campaign_end (coord_t *self, campaign_run_t *run, bool sent, uint64_t now_ms)
{
    assert (self && run);
    for (size_t index = 0; sent && index < run->offer_count; index++)
        coord_send_offers (self, run->offers [index], now_ms);
    if (sent)
        coord_send_directives (self, run->directives, now_ms);
    campaign_run_fini (run);
}

void
coord_send_directives (coord_t *self, zlistx_t *directives, uint64_t now_ms)
{
    assert (self);
    campaign_directive_t *directive = directives
        ? (campaign_directive_t *) zlistx_first (directives): NULL;
    for (; directive; directive = (campaign_directive_t *) zlistx_next (directives)) {
        uint8_t *payload = NULL, *frame = NULL;
        size_t payload_size = 0, frame_size = 0;
        if (sitemsg_encode (&directive->msg, &payload, &payload_size) == 0
        &&  coord_seal_payload (self, directive->server, MSG_SITE_DIRECTIVE, payload,
                                payload_size, now_ms, &frame, &frame_size) == 0) {
            if (self->effects.push)
                self->effects.push (self->effects.ctx, directive->server, frame, frame_size);
            coord_debug (self, "coord: %s directive %" PRIu64 " to %s (%s)",
                         directive->msg.campaign, directive->msg.generation, directive->server,
                         directive->msg.site);
        }
        else
            zsys_error ("coord: cannot seal the directive of %s to %s", directive->msg.campaign,
                        directive->server);
        free (frame);
        free (payload);
    }
}

//  Refuse env: the custody transfer and the origin both hear why, which
//  ends the server's custody of it
static int
s_refuse (coord_t *self, coord_link_t *link, const envelope_t *env, int status,
          const char *reason, uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p)
{
    link->ack_status = status;
    snprintf (link->ack_reason, sizeof link->ack_reason, "%s", reason);
    coord_debug (self, "coord: SITE_REPORT from %s refused: %s %s", env->origin,
                 proto_status_name (status), reason);
    if (status != WEFT_STATUS_INTERNAL)
        coord_ack (self, env, status, reason, now_ms, reply_p, reply_size_p);
    return PROTO_ERR_REFUSED;
}

int
coord_campaign_site_report (coord_t *self, coord_link_t *link, const envelope_t *env,
                            uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p)
{
    assert (self && link && env);
    sitemsg_t report;
    int rc = sitemsg_decode (&report, MSG_SITE_REPORT, env->payload, env->payload_size);
    if (rc) {
        self->stats.rejected_malformed++;
        return s_refuse (self, link, env, WEFT_STATUS_BAD_REQUEST, "SITE_REPORT malformed",
                         now_ms, reply_p, reply_size_p);
    }
    //  A server that failed its attestation is not believed
    const char *quarantined = coord_device_quarantined (self, env->origin, now_ms);
    if (quarantined) {
        char reason [WEFT_TEXT_MAX + 1];
        snprintf (reason, sizeof reason, "%s is quarantined (%s): report refused", env->origin,
                  quarantined);
        self->stats.rejected_origin++;
        return s_refuse (self, link, env, WEFT_STATUS_DENIED, reason, now_ms, reply_p,
                         reply_size_p);
    }
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn)
        return s_refuse (self, link, env, WEFT_STATUS_INTERNAL, "store unavailable", now_ms,
                         reply_p, reply_size_p);
    char origin_key [WEFT_NAME_MAX + 3];
    snprintf (origin_key, sizeof origin_key, "d/%s", env->origin);
    replay_t window;
    registry_replay_window (self->registry, txn, origin_key, &window);
    if (replay_accept (&window, env->seq)) {
        //  Applied already (a seq is taken only with its report): a
        //  retransmission whose ACK was lost
        store_abort (&txn);
        self->stats.duplicates++;
        return coord_ack (self, env, WEFT_STATUS_OK, "duplicate", now_ms, reply_p, reply_size_p);
    }
    campaign_run_t run;
    campaign_run_init (&run, txn, self->pki, self->keys.sign_secret, "coordinator", now_ms);
    size_t applied = 0;
    char reason [WEFT_TEXT_MAX + 1] = "";
    int status = campaign_site_report (&run, env->origin, &report, &applied, reason);
    if (status == WEFT_STATUS_OK && registry_replay_put (txn, origin_key, &window))
        status = WEFT_STATUS_INTERNAL;
    bool committed = status == WEFT_STATUS_OK && store_commit (&txn) == 0;
    store_abort (&txn);
    coord_campaign_end (self, &run, committed, now_ms);
    if (status == WEFT_STATUS_DENIED) {
        self->stats.rejected_origin++;
        return s_refuse (self, link, env, status, reason, now_ms, reply_p, reply_size_p);
    }
    if (!committed) {
        zsys_warning ("coord: cannot store the site report of %s: %s", env->origin,
                      run.error);
        return s_refuse (self, link, env, WEFT_STATUS_INTERNAL, "cannot store the report",
                         now_ms, reply_p, reply_size_p);
    }
    registry_replay_set (self->registry, origin_key, &window, false);
    registry_seen (self->registry, env->origin, now_ms);
    coord_debug (self, "coord: %s reported %s at %s: %zu devices moved", env->origin,
                 report.campaign, report.site, applied);
    return coord_ack (self, env, WEFT_STATUS_OK, "", now_ms, reply_p, reply_size_p);
}

//  One move in a transaction of its own: what (campaign_refused, or
//  campaign_expire and campaign_pace) returns how many things changed,
//  or -1
typedef int (s_move_fn) (campaign_run_t *run, const char *device, const char *reason);

static int
s_sweep (campaign_run_t *run, const char *device, const char *reason)
{
    (void) device;
    (void) reason;
    int expired = campaign_expire (run);
    int paced = expired < 0? -1: campaign_pace (run);
    return paced < 0? -1: expired + paced;
}

static int
s_move (coord_t *self, s_move_fn *what, const char *device, const char *reason,
        uint64_t now_ms)
{
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn)
        return -1;
    campaign_run_t run;
    campaign_run_init (&run, txn, self->pki, self->keys.sign_secret, "coordinator", now_ms);
    int moved = what (&run, device, reason);
    bool committed = moved > 0 && store_commit (&txn) == 0;
    if (moved < 0)
        zsys_error ("coord: campaign: %s", run.error);
    else
    if (moved > 0 && !committed) {
        zsys_error ("coord: campaign: cannot commit");
        moved = -1;
    }
    store_abort (&txn);
    coord_campaign_end (self, &run, committed, now_ms);
    return moved;
}

void
coord_campaign_refused (coord_t *self, const char *device, const char *reason,
                        uint64_t now_ms)
{
    assert (self && device);
    if (s_move (self, campaign_refused, device, reason, now_ms) > 0)
        coord_debug (self, "coord: %s refused its campaign's offer: %s", device, reason);
}

void
coord_campaign_directive_refused (coord_t *self, const char *server, const uint8_t *frame,
                                  size_t size, const char *reason, uint64_t now_ms)
{
    assert (self && server && frame);
    envelope_t env;
    sitemsg_t directive;
    if (envelope_decode (&env, frame, size)
    ||  sitemsg_decode (&directive, MSG_SITE_DIRECTIVE, env.payload, env.payload_size))
        return;                     //  Ours, held: not expected
    store_txn_t *txn = store_begin (self->store, true);
    if (!txn)
        return;
    campaign_run_t run;
    campaign_run_init (&run, txn, self->pki, self->keys.sign_secret, "coordinator", now_ms);
    int moved = campaign_site_refused (&run, server, &directive, reason);
    bool committed = moved > 0 && store_commit (&txn) == 0;
    store_abort (&txn);
    if (moved < 0)
        zsys_error ("coord: campaign: %s", run.error);
    else
    if (committed)
        zsys_warning ("coord: %s refused the directive of %s at %s (%s): %d devices failed",
                      server, directive.campaign, directive.site, reason, moved - 1);
    coord_campaign_end (self, &run, committed, now_ms);
}

void
coord_campaign_sweep (coord_t *self, uint64_t now_ms)
{
    int handled = s_move (self, s_sweep, NULL, NULL, now_ms);
    if (handled > 0)
        coord_debug (self, "coord: %d campaign deadlines and paced campaigns", handled);
}
