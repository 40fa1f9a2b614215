/*  campaign_site - campaigns run at the sites (docs/campaigns.md,
    "Campaigns run at the sites"): a campaign created with at_sites hands
    each site's part to that site's server as one signed SITE_DIRECTIVE
    (proto/sitemsg.h), by custody, and learns its devices' outcomes
    from the server's SITE_REPORTs.
    The server of a site: a registered device of type "server", of one
    of the campaign's tenants, not revoked, whose own site (campaign_site
    of its place) is that site; of several, the smallest id. Found
    through the registry's type index: one read per server, never a scan
    of the devices. A site's devices of the server's tenant are its part;
    the devices of a site without such a server are run by the
    coordinator, as in any campaign.
    The site's plan: the campaign's waves over the site's devices (N:
    at most those left; P%: of the site's count, rounded up), each
    device's wave in its directive entry; the threshold N stays N, P%
    becomes P% of the site's devices rounded up, at least 1; a success
    threshold P% stays P%, a count (or none) is 0 (all of each wave).
    Records in CAMPAIGN_TABLE (campaign.h):
        s/<id>/<site>   the site's part (JSON): site, server, tenant,
                        devices, generation and state ("run", "pause",
                        "abort") of the last directive, sent_ms; report
                        {generation, state, wave, reason, sent_ms,
                        received_ms} once the server reported
    A device run by its site keeps in its record at_site (the server),
    site, site_wave and offered_ms (its assignment's issued_ms); it is
    pending until its site (or its own twin report, matched by
    offered_ms) says more, and is in neither the due index nor the
    deadlines: the site times it out.
    Directives are made in the caller's transaction and kept in the run
    (campaign_run_t.directives), for the caller to send once committed.
    Sans-IO.  */

#ifndef WEFT_CAMPAIGN_SITE_H_INCLUDED
#define WEFT_CAMPAIGN_SITE_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "proto/sitemsg.h"
#include "coordinator/core/campaign_run.h"

#define CAMPAIGN_SITE_SHOWN     100     //  Sites campaign.show lists

//  A directive to send: msg's common and entries are the owned bytes
typedef struct {
    char server [WEFT_NAME_MAX + 1];    //  Its destination
    sitemsg_t msg;
    uint8_t *common;
    uint8_t *entries;
} campaign_directive_t;

void
    campaign_directive_destroy (campaign_directive_t **self_p);

//  At start of an at_sites campaign (record changed in place, not
//  stored): each site with a server gets a directive of its devices,
//  marked as run by it. Refused (BAD_REQUEST, the run's error naming the
//  site) when a site's directive would not fit a frame. 0 or -1.
int
    campaign_site_start (campaign_run_t *run, json_t *campaign);

//  The campaign's state went to the sites: a new directive generation
//  for each of a tenant still in it (running: run; paused, halted:
//  pause; aborted: abort). With
//  retry, a site's failed and rolled-back devices are pending again
//  under a fresh assignment, in its directive (counted in *retried_p).
//  0 or -1.
int
    campaign_site_directives (campaign_run_t *run, json_t *campaign, bool retry,
                              size_t *retried_p);

//  Tenant left the campaign (campaign.exclude): its sites are told to
//  abort (they drop their pending devices; those under way go on and
//  are reported), and hear of no later move. 0 or -1.
int
    campaign_site_exclude (campaign_run_t *run, json_t *campaign, const char *tenant);

//  A SITE_REPORT from origin: applied when origin is the server the
//  site's directive went to; each outcome moves a device of that
//  campaign and site forward only, each final state counted once, and
//  the campaign moves on. Returns a weft_status_t: OK (*applied_p
//  outcomes moved a device), DENIED with reason, INTERNAL (run's error).
int
    campaign_site_report (campaign_run_t *run, const char *origin, const sitemsg_t *report,
                          size_t *applied_p, char reason [WEFT_TEXT_MAX + 1]);

//  Server refused the site directive for good (its reason): when it is
//  the site's latest and the site never reported, the site record says
//  so and each device it names that the site was to run fails with the
//  reason (the campaign moves on, or halts, as for any failure). Returns
//  1 + the devices failed, 0 if nothing changed, -1 (run's error).
int
    campaign_site_refused (campaign_run_t *run, const char *server,
                           const sitemsg_t *directive, const char *reason);

//  The site records of campaign id, by site, at most CAMPAIGN_SITE_SHOWN
//  (caller decrefs), or NULL if it has none
json_t *
    campaign_site_runs (store_txn_t *txn, const char *id);

void
    campaign_site_test (bool verbose);

#endif
