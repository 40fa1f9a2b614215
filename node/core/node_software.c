/*  node_software - the software modules the node core binds: the chunk
    exchange with its neighbours (fetch), software updates (update) and a
    site server's part of campaigns (sitecamp); their effects on each
    other, on the mesh and on the action queue, and the events of the
    driver that concern them  */

#include "proto/corelib.h"
#include "proto/updmsg.h"
#include "proto/bundle.h"
#include "proto/chunker.h"
#include "proto/sitemsg.h"
#include "proto/sworder.h"
#include "node/core/node_internal.h"

//  The maintenance window of the twin's desired document to the update
//  module (a malformed one stops installs: it waits and says why), and
//  its link to the chunk exchange (a malformed one holds the uplink)
void
node_window_from (node_t *self, const char *doc, size_t size)
{
    window_t window;
    memset (&window, 0, sizeof window);
    if (doc)
        window_from_doc (&window, doc, size);
    update_set_window (self->update, &window, self->now_ms);
    if (self->fetch) {
        meter_link_t link;
        memset (&link, 0, sizeof link);
        if (doc)
            meter_link_from_doc (&link, doc, size);
        fetch_set_link (self->fetch, &link, self->offset_s, self->now_ms);
        node_link_settle (self);
    }
}

void
node_link_settle (node_t *self)
{
    //  Most nodes never had a link member: nothing to say, every burst
    if (!self->update || !self->fetch || !fetch_link_set (self->fetch))
        return;
    char why [METER_DESCRIBE_MAX + 1];
    uint64_t resumes = 0;
    bool waiting = fetch_link_waiting (self->fetch, self->now_ms, why, &resumes);
    const char *link = fetch_metered (self->fetch)? "metered"
                     : fetch_link_set (self->fetch)? "unmetered": NULL;
    update_set_link (self->update, link, waiting? why: NULL, resumes);
}

//  --------------------------------------------------------------------------
//  The update module's effects. The chunks of a release it wants are
//  fetched from the neighbours (or were stored by an imported bundle):
//  the fetch module pins them until the release is dropped, and tells
//  the update module when all are held (s_fetch_done).

static void
s_update_want (void *ctx, const uint8_t hash [32], const uint8_t *manifest, size_t size)
{
    node_t *self = (node_t *) ctx;
    if (fetch_want (self->fetch, hash, manifest, size, self->now_ms))
        zsys_error ("node: a release's chunks cannot be fetched (see above)");
}

static void
s_update_drop (void *ctx, const uint8_t hash [32])
{
    node_t *self = (node_t *) ctx;
    if (fetch_drop (self->fetch, hash))
        zsys_error ("node: a release's chunks could not be let go (store failed)");
}

static void
s_update_install (void *ctx, const update_install_t *install)
{
    node_t *self = (node_t *) ctx;
    node_action_t *action = node_push (self, NODE_ACT_INSTALL);
    if (!action)
        return;
    action->step = install->step;
    memcpy (action->manifest_hash, install->manifest_hash, 32);
    action->manifest = (uint8_t *) zmalloc (install->manifest_size + 1);
    memcpy (action->manifest, install->manifest, install->manifest_size);
    action->manifest_size = install->manifest_size;
    snprintf (action->release, sizeof action->release, "%s", install->name);
    snprintf (action->release_version, sizeof action->release_version, "%s", install->version);
    snprintf (action->handler, sizeof action->handler, "%s", install->handler);
    snprintf (action->previous, sizeof action->previous, "%s", install->previous);
}

//  An update message (UPDATE_OFFER, UPDATE_STATUS) sealed by us, by
//  custody to dest. 0 or -1.
static int
s_updmsg_send (node_t *self, const char *dest, const updmsg_t *msg)
{
    uint8_t *payload = NULL, *frame = NULL;
    size_t payload_size = 0, frame_size = 0;
    int rc = updmsg_encode (msg, &payload, &payload_size);
    if (rc == 0)
        rc = agent_seal_payload (self->agent, self->now_ms, msg->type, payload, payload_size,
                                 &frame, &frame_size);
    if (rc == 0 && mesh_send_to (self->mesh, dest, frame, frame_size) != 0)
        rc = -1;
    free (payload);
    free (frame);
    return rc? -1: 0;
}

//  The device's update state to the node whose offer its job is (a site
//  server running its campaign), by custody: that node follows it also
//  while the site is cut off and the twin reports wait here for a route
static void
s_status_send (node_t *self, const char *offerer, const char *json, size_t size)
{
    updmsg_t msg = { .type = MSG_UPDATE_STATUS, .status = json, .status_size = size };
    if (s_updmsg_send (self, offerer, &msg))
        zsys_warning ("node: the update status for %s was not queued", offerer);
}

static void
s_update_report (void *ctx, const char *json, size_t size)
{
    node_t *self = (node_t *) ctx;
    if (self->agent)
        agent_report_software (self->agent, self->now_ms, json, size);
    //  A site server that is itself a target of its site's campaign
    if (self->sitecamp)
        sitecamp_software (self->sitecamp, self->cert.subject, json, size, self->now_ms);
    const char *offerer = self->update? update_offerer (self->update): "";
    if (self->agent && *offerer && !streq (offerer, self->cert.subject))
        s_status_send (self, offerer, json, size);
}

//  A link-local envelope the mesh does not take: the chunk exchange's
bool
node_software_local (void *ctx, const char *peer, const char *tenant, const envelope_t *env)
{
    node_t *self = (node_t *) ctx;
    return self->fetch && fetch_on_message (self->fetch, peer, tenant, env->type, env->payload,
                                            env->payload_size, self->now_ms);
}

//  --------------------------------------------------------------------------
//  The release of an offer this node passes on (metadata: the offer's)
//  is fetched and kept for the site: the device the offer is for finds
//  its chunks here (docs/updates.md, Distribution through the mesh)
static void
s_site_release (node_t *self, const uint8_t *metadata, size_t size)
{
    const uint8_t *manifest;
    size_t manifest_size;
    if (self->fetch
    &&  bundle_find (metadata, size, BUNDLE_MANIFEST, &manifest, &manifest_size) == 0) {
        uint8_t hash [32];
        chunker_hash (manifest, manifest_size, hash);
        fetch_want_site (self->fetch, hash, manifest, manifest_size, self->now_ms);
    }
}

//  An offer of the coordinator's that a site server relays to a device
//  of its site: the server fetches the release too, from its uplink, so
//  each chunk crosses the uplink once
void
node_software_relaying (void *ctx, const envelope_t *env)
{
    node_t *self = (node_t *) ctx;
    updmsg_t offer;
    if (streq (self->cert.role, "server") && env->type == MSG_UPDATE_OFFER
    &&  updmsg_decode (&offer, MSG_UPDATE_OFFER, env->payload, env->payload_size) == 0)
        s_site_release (self, offer.metadata, offer.metadata_size);
}

//  A device's envelope to the coordinator that a site server relays: a
//  twin report of a device its site campaign holds moves that device
//  (one point lookup, and none while no campaign runs here)
void
node_software_upward (void *ctx, const envelope_t *env)
{
    node_t *self = (node_t *) ctx;
    if (self->sitecamp && env->type == MSG_TWIN_REPORTED
    &&  sitecamp_holds (self->sitecamp, env->origin))
        sitecamp_twin_reported (self->sitecamp, env->origin, env->payload, env->payload_size,
                                self->now_ms);
}

//  An UPDATE_OFFER sealed by us, by custody to device; its release kept
//  for the site. 0 or -1.
static int
s_offer_send (node_t *self, const char *device, const uint8_t *metadata, size_t size)
{
    updmsg_t msg = { .type = MSG_UPDATE_OFFER, .metadata = metadata, .metadata_size = size };
    int rc = s_updmsg_send (self, device, &msg);
    //  The device fetches the release from us (an imported bundle's
    //  chunks are here), also when we do not install it ourselves
    if (rc == 0)
        s_site_release (self, metadata, size);
    return rc;
}

//  The site campaign's effects: offers, reports, the release at once

static int
s_site_offer (void *ctx, const char *device, const uint8_t *metadata, size_t size)
{
    node_t *self = (node_t *) ctx;
    return s_offer_send (self, device, metadata, size);
}

static int
s_site_report (void *ctx, const uint8_t *payload, size_t size)
{
    node_t *self = (node_t *) ctx;
    return agent_send_payload (self->agent, self->now_ms, MSG_SITE_REPORT, payload, size);
}

static void
s_site_fetch (void *ctx, const uint8_t *common, size_t size)
{
    node_t *self = (node_t *) ctx;
    s_site_release (self, common, size);
}

//  The chunk exchange's effects

static int
s_fetch_send (void *ctx, const char *peer, int type, const uint8_t *payload, size_t size)
{
    node_t *self = (node_t *) ctx;
    return mesh_send_local_to (self->mesh, peer, type, payload, size, self->now_ms);
}

typedef struct {
    fetch_peer_fn *fn;
    void *arg;
    const char *tenant;
} s_peers_t;

static void
s_fetch_neighbour (void *arg, const char *name, const char *role, const char *tenant,
                   const uint8_t *ak_name, size_t ak_name_size, uint64_t epoch)
{
    s_peers_t *peers = (s_peers_t *) arg;
    (void) ak_name, (void) ak_name_size, (void) epoch;
    if (streq (tenant, peers->tenant))
        peers->fn (peers->arg, name, streq (role, "server")? FETCH_PEER_SERVER
                                                           : FETCH_PEER_GATEWAY);
}

//  Whom chunks may be asked of: our tenant's neighbours, the coordinator
static void
s_fetch_peers (void *ctx, fetch_peer_fn *fn, void *arg)
{
    node_t *self = (node_t *) ctx;
    s_peers_t peers = { fn, arg, mesh_tenant (self->mesh) };
    mesh_neighbours_each (self->mesh, s_fetch_neighbour, &peers);
    if (mesh_coordinator_up (self->mesh))
        fn (arg, MESH_COORDINATOR, FETCH_PEER_COORDINATOR);
}

//  Every chunk of a release is held: the update module may verify it
static void
s_fetch_done (void *ctx, const uint8_t manifest_hash [32])
{
    node_t *self = (node_t *) ctx;
    if (self->update)
        update_chunks_held (self->update, manifest_hash, self->now_ms);
}

//  One chunk store for the node (the update module reads it too), and
//  its exchange. 0, or -1 if the store cannot be read.
int
node_fetch_start (node_t *self, const node_config_t *config, const char *prefix, uint64_t now_ms)
{
    self->chunks = chunkstore_new (config->store, prefix, config->chunk_budget);
    if (!self->chunks
    ||  (config->chunk_shared && chunkstore_share (self->chunks, config->chunk_shared)))
        return -1;
    fetch_config_t fetch_config = {
        .name = config->name, .tenant = mesh_tenant (self->mesh), .store = config->store,
        .prefix = prefix, .chunks = self->chunks, .server = streq (self->cert.role, "server"),
        .rate = config->chunk_rate, .verbose = config->verbose
    };
    fetch_effects_t fetch_effects = { self, s_fetch_send, s_fetch_peers, s_fetch_done };
    self->fetch = fetch_new (&fetch_config, &fetch_effects);
    return self->fetch && fetch_start (self->fetch, now_ms) == 0? 0: -1;
}

//  The director's entitlement or uninstall order: trusted for its
//  signature by the coordinator's key, whoever relayed it, and only for
//  our tenant and us (docs/updates.md, Entitlements and Uninstall)
static int
s_order (node_t *self, const envelope_t *env, char reason [WEFT_TEXT_MAX + 1])
{
    updmsg_t msg;
    if (!self->update || !self->entitle)
        return proto_refusal (reason, WEFT_STATUS_DENIED, "order refused: this node takes "
                              "no software updates");
    if (updmsg_decode (&msg, MSG_SOFTWARE_ORDER, env->payload, env->payload_size))
        return proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "SOFTWARE_ORDER malformed");
    sworder_t order;
    int rc = sworder_open (&order, msg.order, msg.order_size, self->coord_sign,
                           self->cert.tenant, self->cert.subject, self->cert.role);
    if (rc) {
        zsys_warning ("node: software order from %s refused: %s", env->origin,
                      sworder_strerror (rc));
        return proto_refusal (reason, rc == SWORDER_MALFORMED? WEFT_STATUS_BAD_REQUEST
                                                             : WEFT_STATUS_DENIED,
                              "order refused: %s", sworder_strerror (rc));
    }
    if (order.kind == SWORDER_UNINSTALL)
        return update_uninstall (self->update, &order, self->now_ms, reason);
    return entitle_order (self->entitle, &order, msg.order, msg.order_size, self->now_ms,
                          reason);
}

//  An entitlement's state changed: what is installed follows
static void
s_entitle_changed (void *ctx, const char *name, bool active, const char *why)
{
    (void) name; (void) active; (void) why;
    node_t *self = (node_t *) ctx;
    if (self->update)
        update_entitlement_changed (self->update, self->now_ms);
}

//  An envelope for us of the software modules
int
node_software_deliver (node_t *self, const envelope_t *env, char reason [WEFT_TEXT_MAX + 1])
{
    if (env->type == MSG_SITE_DIRECTIVE) {
        if (!self->sitecamp)
            return proto_refusal (reason, WEFT_STATUS_DENIED, "this node runs no site "
                                  "campaigns");
        return sitecamp_directive (self->sitecamp, env->origin, env->payload,
                                   env->payload_size, self->now_ms, reason);
    }
    if (env->type == MSG_UPDATE_OFFER) {
        //  Whoever sent it: the offer carries its own chain of trust
        updmsg_t offer;
        if (!self->update)
            return proto_refusal (reason, WEFT_STATUS_DENIED, "update refused: this node "
                                  "takes no software updates");
        if (updmsg_decode (&offer, MSG_UPDATE_OFFER, env->payload, env->payload_size))
            return proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "UPDATE_OFFER malformed");
        //  An offer of a node's (not the coordinator's): our status goes
        //  back to it too
        const char *offerer = streq (env->origin, MESH_COORDINATOR)? "": env->origin;
        return update_offer_from (self->update, offerer, offer.metadata, offer.metadata_size,
                                  self->now_ms, reason);
    }
    if (env->type == MSG_SOFTWARE_ORDER)
        return s_order (self, env, reason);
    if (env->type == MSG_UPDATE_STATUS) {
        //  A device we offered an update to: followed by the site
        //  campaign that holds it, if any (else nothing to do)
        updmsg_t status;
        if (updmsg_decode (&status, MSG_UPDATE_STATUS, env->payload, env->payload_size))
            return proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "UPDATE_STATUS malformed");
        if (self->sitecamp && sitecamp_holds (self->sitecamp, env->origin))
            sitecamp_software (self->sitecamp, env->origin, status.status, status.status_size,
                               self->now_ms);
        return WEFT_STATUS_OK;
    }
    return -1;
}

//  The update module (its window from the twin held, before a staged
//  release resumes) and a site server's campaigns
int
node_software_start (node_t *self, const node_config_t *config, const char *prefix,
                     const char *tenant, uint64_t now_ms)
{
    int rc = 0;
    if (config->chunk_budget) {
        update_config_t update_config = {
            .name = config->name, .tenant = tenant, .type = self->cert.role,
            .coord_sign = config->coord_sign, .release_root = config->release_root,
            .release_root_size = config->release_root_size, .store = config->store,
            .prefix = prefix, .chunks = self->chunks
        };
        update_effects_t update_effects = { self, s_update_want, s_update_drop,
                                            s_update_install, s_update_report };
        self->update = update_new (&update_config, &update_effects);
        if (self->update) {
            //  The window held, before a staged release resumes
            size_t size;
            const char *doc = agent_desired (self->agent, &size);
            update_set_utc_offset (self->update, config->utc_offset_s, now_ms);
            self->offset_s = config->utc_offset_s;
            node_window_from (self, doc, size);
        }
        rc = self->update && update_start (self->update, now_ms) == 0? 0: -1;
        //  Entitlements: what is installed is taken out of use while its
        //  entitlement has lapsed
        entitle_config_t entitle_config = {
            .name = config->name, .tenant = tenant, .type = self->cert.role,
            .coord_sign = config->coord_sign, .store = config->store, .prefix = prefix
        };
        entitle_effects_t entitle_effects = { self, s_entitle_changed };
        if (rc == 0)
            self->entitle = entitle_new (&entitle_config, &entitle_effects);
        if (self->entitle) {
            update_set_entitle (self->update, self->entitle, now_ms);
            rc = entitle_start (self->entitle, now_ms);
        }
        else
            rc = -1;
    }
    if (rc == 0 && self->update && streq (self->cert.role, "server")) {
        //  A site server runs its site's part of campaigns
        sitecamp_config_t site_config = {
            .name = config->name, .tenant = tenant, .coord_sign = config->coord_sign,
            .store = config->store, .prefix = prefix, .verbose = config->verbose
        };
        sitecamp_effects_t site_effects = { self, s_site_offer, s_site_report, s_site_fetch };
        self->sitecamp = sitecamp_new (&site_config, &site_effects, now_ms);
        rc = self->sitecamp? 0: -1;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Events of the driver

void
node_installed (node_t *self, int step, bool ok, const char *error, uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
    if (self->update)
        update_installed (self->update, step, ok, error, now_ms);
    node_settle (self, now_ms);
}

void
node_chunks_held (node_t *self, const uint8_t hash [32], uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
    if (self->update)
        update_chunks_held (self->update, hash, now_ms);
    node_settle (self, now_ms);
}

int
node_update_offer (node_t *self, const uint8_t *metadata, size_t size, uint64_t now_ms,
                   char reason [WEFT_TEXT_MAX + 1])
{
    assert (self);
    self->now_ms = now_ms;
    int rc = self->update? update_offer (self->update, metadata, size, now_ms, reason)
                         : proto_refusal (reason, WEFT_STATUS_DENIED, "update refused: this "
                                          "node takes no software updates");
    node_settle (self, now_ms);
    return rc;
}

int
node_update_send (node_t *self, const char *device, const uint8_t *metadata, size_t size,
                  uint64_t now_ms)
{
    assert (self && device);
    self->now_ms = now_ms;
    int rc = s_offer_send (self, device, metadata, size);
    node_settle (self, now_ms);
    return rc;
}
