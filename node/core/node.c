/*  node - the node core (see node.h)
    Owns the mesh, the agent and the delegated verifier, binds their
    effects to each other and to one action queue; the software modules
    (chunk exchange, updates, site campaigns) are bound in
    node_software.c. The cores call the effects synchronously from
    inside an event; nothing here calls back into the driver except the
    links' send. Actions wait in a ring that
    starts at NODE_ACTIONS_MIN and doubles up to NODE_ACTIONS_MAX, and
    is freed when drained, so an idle node holds none, not the bound
    (weft-sim hosts 100,000 of them); an event makes a handful, and a
    driver drains them after each event), and an APPLY's document is
    owned by its action until the driver has taken the next one.  */

#include <sodium.h>
#include "proto/corelib.h"
#include "proto/cert.h"
#include "proto/envelope.h"
#include "proto/updmsg.h"
#include "proto/bundle.h"
#include "proto/chunker.h"
#include "proto/sitemsg.h"
#include "node/core/node_internal.h"

//  --------------------------------------------------------------------------
//  The action queue

node_action_t *
node_push (node_t *self, int kind)
{
    if (self->count == self->capacity && self->capacity < NODE_ACTIONS_MAX) {
        //  Grow, the queued actions in order from the start
        size_t capacity = self->capacity? self->capacity * 2: NODE_ACTIONS_MIN;
        node_action_t *ring = (node_action_t *) zmalloc (capacity * sizeof (node_action_t));
        for (size_t i = 0; i < self->count; i++)
            ring [i] = self->ring [(self->head + i) % self->capacity];
        free (self->ring);
        self->ring = ring;
        self->capacity = capacity;
        self->head = 0;
    }
    if (self->count == self->capacity) {
        //  A driver that never drains: a bug of ours, not of a peer
        zsys_error ("node: %s: action queue full, action %d dropped", self->cert.subject,
                    kind);
        return NULL;
    }
    node_action_t *action = &self->ring [(self->head + self->count) % self->capacity];
    self->count++;
    memset (action, 0, sizeof *action);
    action->kind = kind;
    return action;
}

const node_action_t *
node_next (node_t *self)
{
    assert (self);
    free (self->current.doc);
    free (self->current.manifest);
    memset (&self->current, 0, sizeof self->current);
    if (self->count == 0)
        return NULL;
    self->current = self->ring [self->head];
    self->head = (self->head + 1) % self->capacity;
    self->count--;
    if (self->count == 0) {
        //  Drained after each event: an idle node holds no ring
        free (self->ring);
        self->ring = NULL;
        self->capacity = self->head = 0;
    }
    return &self->current;
}

static void
s_arm (node_t *self, int kind, uint64_t at_ms)
{
    self->timers [kind] = at_ms;
    node_action_t *action = node_push (self, NODE_ACT_TIMER);
    if (action) {
        action->timer = kind;
        action->at_ms = at_ms;
    }
}

//  Nonces of our own challenges: libsodium's source (weft-sim seeds it)
static void
s_random (uint8_t *buf, size_t size)
{
    randombytes_buf (buf, size);
}

//  --------------------------------------------------------------------------
//  The agent's effects

static int
s_agent_send (void *ctx, const uint8_t *frame, size_t size)
{
    node_t *self = (node_t *) ctx;
    return mesh_send_own (self->mesh, frame, size) == 0? 0: -1;
}

static void
s_agent_timer (void *ctx, int kind, uint64_t at_ms)
{
    node_t *self = (node_t *) ctx;
    assert (kind >= 0 && kind < AGENT_TIMERS);
    s_arm (self, kind, at_ms);
}

static void
s_agent_apply (void *ctx, uint64_t version, const char *doc, size_t size)
{
    node_t *self = (node_t *) ctx;
    if (self->update)
        node_window_from (self, doc, size);
    node_action_t *action = node_push (self, NODE_ACT_APPLY);
    if (action) {
        action->version = version;
        action->doc = (char *) zmalloc (size + 1);
        memcpy (action->doc, doc, size);
        action->doc_size = size;
    }
}

//  --------------------------------------------------------------------------
//  The mesh's effects

static int
s_mesh_send (void *ctx, const char *link, const char *dest, const uint8_t *frame,
             size_t size)
{
    node_t *self = (node_t *) ctx;
    return self->links.send (self->links.ctx, link, dest, frame, size);
}

static void
s_mesh_close (void *ctx, const char *link)
{
    node_t *self = (node_t *) ctx;
    node_action_t *action = node_push (self, NODE_ACT_CLOSE);
    if (action)
        snprintf (action->link, sizeof action->link, "%s", link);
}

//  Evidence a neighbour sent in answer to our challenge (site server)
static bool
s_mesh_intercept (void *ctx, const uint8_t *frame, size_t size)
{
    node_t *self = (node_t *) ctx;
    return self->delegate && delegate_evidence (self->delegate, frame, size, self->now_ms);
}

//  The mesh holds a new passport: our heartbeats name it from now on
static void
s_mesh_passport (void *ctx, uint64_t attested_ms)
{
    node_t *self = (node_t *) ctx;
    if (self->agent)
        agent_set_passport (self->agent, attested_ms);
}

//  A challenge for us becomes a QUOTE action. The coordinator's must
//  carry its signature; a site server's was checked by the mesh (it is
//  our neighbour) and is taken only from a server we are linked to.
static int
s_challenge (node_t *self, envelope_t *env, char reason [WEFT_TEXT_MAX + 1])
{
    tpmmsg_t challenge;
    bool from_coord = streq (env->origin, MESH_COORDINATOR);
    bool site = !from_coord && self->delegate
             && delegate_challenger (self->delegate, env->origin);
    if (!(site || (from_coord && envelope_verify (env, self->coord_sign) == 0))
    ||  tpmmsg_decode (&challenge, MSG_ATTEST_CHALLENGE, env->payload,
                       env->payload_size) != 0
    ||  challenge.nonce_size > TPMMSG_NONCE_MAX) {
        snprintf (reason, WEFT_TEXT_MAX + 1, "ATTEST_CHALLENGE from %s refused: not "
                  "from the coordinator or our site server, or malformed", env->origin);
        zsys_warning ("node: %s", reason);
        return WEFT_STATUS_DENIED;
    }
    node_action_t *action = node_push (self, NODE_ACT_QUOTE);
    if (!action) {
        snprintf (reason, WEFT_TEXT_MAX + 1, "busy");
        return WEFT_STATUS_INTERNAL;
    }
    memcpy (action->nonce, challenge.nonce, challenge.nonce_size);
    action->nonce_size = challenge.nonce_size;
    action->pcr_mask = challenge.pcr_mask;
    action->ima = challenge.ima;
    action->ima_from = challenge.ima_from;
    memcpy (action->ima_pcr10, challenge.ima_pcr10, sizeof action->ima_pcr10);
    //  A site server's challenge is answered to it: the site may have no
    //  route to the coordinator
    snprintf (self->challenger, sizeof self->challenger, "%s",
              site? env->origin: MESH_COORDINATOR);
    if (challenge.ima)
        zsys_info ("node: attestation challenge from the coordinator (IMA from "
                   "entry #%" PRIu64 ")", challenge.ima_from);
    else
        zsys_info ("node: attestation challenge from %s",
                   site? env->origin: "the coordinator");
    return WEFT_STATUS_OK;
}

//  An envelope for us: a challenge becomes a quote, the rest goes to
//  the agent. Returns how its custody transfer is acknowledged.
static int
s_mesh_deliver (void *ctx, const uint8_t *frame, size_t size, char reason [WEFT_TEXT_MAX + 1])
{
    node_t *self = (node_t *) ctx;
    if (self->links.delivered)
        self->links.delivered (self->links.ctx, frame, size);
    envelope_t env;
    bool decoded = envelope_decode (&env, frame, size) == 0;
    if (self->quotes && decoded && env.type == MSG_ATTEST_CHALLENGE)
        return s_challenge (self, &env, reason);
    int status = decoded? node_software_deliver (self, &env, reason): -1;
    if (status >= 0)
        return status;
    if (!self->agent) {
        snprintf (reason, WEFT_TEXT_MAX + 1, "this node runs no agent yet");
        return WEFT_STATUS_INTERNAL;
    }
    return agent_receive (self->agent, self->now_ms, frame, size, reason);
}

//  --------------------------------------------------------------------------

node_t *
node_new (const node_config_t *config, const node_links_t *links, uint64_t now_ms)
{
    assert (config && links && links->send);
    if (!config->name || !config->keys || !config->cert || !config->ca_key
    ||  !config->coord_sign || !config->store)
        return NULL;
    node_t *self = (node_t *) zmalloc (sizeof (node_t));
    self->links = *links;
    self->quotes = config->quotes;
    self->verbose = config->verbose;
    self->now_ms = now_ms;
    memcpy (self->coord_sign, config->coord_sign, WEFT_KEY_SIZE);
    cert_t cert;
    int rc = cert_decode (&cert, config->cert, config->cert_size, config->ca_key, 0);
    if (rc == 0) {
        memcpy (self->cert.subject, cert.subject, sizeof self->cert.subject);
        memcpy (self->cert.tenant, cert.tenant, sizeof self->cert.tenant);
        memcpy (self->cert.role, cert.role, sizeof self->cert.role);
        memcpy (self->cert.path, cert.path, sizeof self->cert.path);
    }
    if (rc)
        zsys_error ("node: our certificate does not verify (%d)", rc);
    const char *prefix = config->prefix? config->prefix: "";
    const char *tenant = config->tenant? config->tenant: "";
    if (rc == 0) {
        mesh_config_t mesh_config = {
            .name = config->name, .tenant = tenant, .keys = config->keys,
            .cert = config->cert, .cert_size = config->cert_size, .ca_key = config->ca_key,
            .coord_sign = config->coord_sign, .advert_ms = config->heartbeat_ms,
            .store = config->store, .prefix = prefix,
            .admit_unattested = config->admit_unattested, .verbose = config->verbose
        };
        mesh_effects_t mesh_effects = { self, s_mesh_send, s_mesh_close, s_mesh_deliver,
                                        s_mesh_intercept, s_mesh_passport,
                                        node_software_local, node_software_relaying,
                                        node_software_upward };
        self->mesh = mesh_new (&mesh_config, &mesh_effects);
        rc = self->mesh && mesh_start (self->mesh, now_ms) == 0? 0: -1;
    }
    if (rc == 0 && config->chunk_budget)
        rc = node_fetch_start (self, config, prefix, now_ms);
    if (rc == 0) {
        agent_config_t agent_config = {
            .name = config->name, .tenant = tenant, .keys = config->keys,
            .coord_sign = config->coord_sign, .heartbeat_ms = config->heartbeat_ms,
            .store = config->store, .prefix = prefix, .verbose = config->verbose
        };
        agent_effects_t agent_effects = { self, s_agent_send, s_agent_timer, s_agent_apply };
        self->agent = agent_new (&agent_config, &agent_effects);
        rc = self->agent && agent_start (self->agent, now_ms) == 0? 0: -1;
    }
    if (rc == 0)
        rc = node_software_start (self, config, prefix, tenant, now_ms);
    if (rc == 0) {
        agent_set_passport (self->agent, mesh_passport_ms (self->mesh));
        self->delegate = delegate_new (self->mesh, self->agent, config->store, prefix,
                                       config->ca_key, streq (self->cert.role, "server"));
    }
    if (rc) {
        node_destroy (&self);
        return NULL;
    }
    node_settle (self, now_ms);
    return self;
}

void
node_destroy (node_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        node_t *self = *self_p;
        delegate_destroy (&self->delegate);
        sitecamp_destroy (&self->sitecamp);
        update_destroy (&self->update);
        entitle_destroy (&self->entitle);
        fetch_destroy (&self->fetch);
        chunkstore_destroy (&self->chunks);
        agent_destroy (&self->agent);
        mesh_destroy (&self->mesh);
        while (node_next (self))
            ;                       //  Frees the APPLY documents
        free (self->ring);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Events

void
node_link_up (node_t *self, const char *link, int kind, const uint8_t key [32],
              uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
    mesh_link_up (self->mesh, link, kind, key, now_ms);
    node_settle (self, now_ms);
}

void
node_link_down (node_t *self, const char *link, uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
    mesh_link_down (self->mesh, link, now_ms);
    node_settle (self, now_ms);
}

int
node_frame (node_t *self, const char *link, const char *dest, const uint8_t *frame,
            size_t size, uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
    int rc = mesh_on_frame (self->mesh, link, dest, frame, size, now_ms);
    node_settle (self, now_ms);
    return rc;
}

void
node_clock (node_t *self, uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
}

void
node_timer (node_t *self, int kind, uint64_t now_ms)
{
    assert (self && kind >= 0 && kind < NODE_TIMERS);
    self->now_ms = now_ms;
    self->timers [kind] = 0;
    if (kind == NODE_TIMER_MESH)
        self->mesh_armed = 0;       //  Fired: arm the next one whatever it is
    else
        agent_timer (self->agent, now_ms, kind);
    node_settle (self, now_ms);
}

void
node_tick (node_t *self, uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
    for (int kind = 0; kind < AGENT_TIMERS; kind++)
        if (self->timers [kind] && self->timers [kind] <= now_ms) {
            self->timers [kind] = 0;
            agent_timer (self->agent, now_ms, kind);
        }
    node_settle (self, now_ms);
}

void
node_set_utc_offset (node_t *self, int32_t offset_s)
{
    assert (self);
    if (self->update)
        update_set_utc_offset (self->update, offset_s, self->now_ms);
    if (self->fetch && offset_s != self->offset_s) {
        self->offset_s = offset_s;
        size_t size;
        const char *doc = agent_desired (self->agent, &size);
        if (doc && self->update)
            node_window_from (self, doc, size);
    }
    self->offset_s = offset_s;
}

//  The mesh's deadline, the chunk exchange's, a maintenance window's
//  opening or an entitlement's end, the earliest
static uint64_t
s_mesh_deadline (node_t *self)
{
    uint64_t next = mesh_deadline (self->mesh);
    uint64_t due = self->fetch? fetch_deadline (self->fetch): 0;
    next = due && (next == 0 || due < next)? due: next;
    due = self->update? update_deadline (self->update): 0;
    next = due && (next == 0 || due < next)? due: next;
    due = self->entitle? entitle_deadline (self->entitle): 0;
    next = due && (next == 0 || due < next)? due: next;
    due = self->sitecamp? sitecamp_deadline (self->sitecamp): 0;
    return due && (next == 0 || due < next)? due: next;
}

//  End of a burst: commit and pump (or tick when due), tell the agent
//  about a route gained or lost (its heartbeat then needs another
//  flush), and tell the mesh's next deadline.
void
node_settle (node_t *self, uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
    delegate_tick (self->delegate, now_ms, s_random);
    //  A staged release whose maintenance window opened installs
    uint64_t opens = self->update? update_deadline (self->update): 0;
    if (opens && opens <= now_ms)
        update_tick (self->update, now_ms);
    //  An entitlement that ended deactivates its software
    uint64_t ends = self->entitle? entitle_deadline (self->entitle): 0;
    if (ends && ends <= now_ms)
        entitle_tick (self->entitle, now_ms);
    //  The site's campaigns: offers and reports go out with this flush
    uint64_t site_due = self->sitecamp? sitecamp_deadline (self->sitecamp): 0;
    if (site_due && site_due <= now_ms)
        sitecamp_tick (self->sitecamp, now_ms);
    for (int pass = 0; pass < 2; pass++) {
        if (mesh_deadline (self->mesh) <= now_ms)
            mesh_tick (self->mesh, now_ms);
        else
            mesh_flush (self->mesh, now_ms);
        size_t hops = mesh_distance (self->mesh);
        bool was = self->distance != 0;
        self->distance = hops;
        if (hops && !was)
            agent_connected (self->agent, now_ms);
        else
        if (!hops && was)
            agent_disconnected (self->agent, now_ms);
        else
            break;
    }
    //  The chunk exchange: store what came, ask for more, time out
    if (self->fetch) {
        uint64_t due = fetch_deadline (self->fetch);
        if (due && due <= now_ms)
            fetch_tick (self->fetch, now_ms);
        else
            fetch_flush (self->fetch, now_ms);
        node_link_settle (self);
    }
    uint64_t deadline = s_mesh_deadline (self);
    if (deadline != self->mesh_armed) {
        self->mesh_armed = deadline;
        s_arm (self, NODE_TIMER_MESH, deadline);
    }
}

void
node_quote_done (node_t *self, const uint8_t *payload, size_t size, uint64_t now_ms)
{
    assert (self && payload);
    self->now_ms = now_ms;
    int rc = -1;
    if (*self->challenger && !streq (self->challenger, MESH_COORDINATOR)) {
        uint8_t *frame = NULL;
        size_t frame_size = 0;
        rc = agent_seal_payload (self->agent, now_ms, MSG_ATTEST_EVIDENCE, payload, size,
                                 &frame, &frame_size);
        if (rc == 0)
            rc = mesh_send_to (self->mesh, self->challenger, frame, frame_size);
        free (frame);
        if (rc == 0)
            zsys_info ("node: attestation evidence sent to %s", self->challenger);
    }
    else {
        rc = agent_send_payload (self->agent, now_ms, MSG_ATTEST_EVIDENCE, payload, size);
        if (rc == 0)
            zsys_info ("node: attestation evidence sent");
    }
    if (rc == 0)
        self->evidence_sent++;
    else
        zsys_warning ("node: attestation evidence not queued (the challenge comes again)");
    node_settle (self, now_ms);
}

void
node_quote_failed (node_t *self, const char *reason, uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
    self->quotes_failed++;
    zsys_warning ("node: attestation failed: %s", reason? reason: "");
}

void
node_applied (node_t *self, uint64_t version, bool ok, const char *reported,
              size_t reported_size, const char *error, uint64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
    agent_applied (self->agent, now_ms, version, ok, reported, reported_size, error);
    node_settle (self, now_ms);
}

//  --------------------------------------------------------------------------
//  State

uint64_t
node_deadline (node_t *self)
{
    assert (self);
    uint64_t next = s_mesh_deadline (self);
    for (int kind = 0; kind < AGENT_TIMERS; kind++)
        if (self->timers [kind] && (next == 0 || self->timers [kind] < next))
            next = self->timers [kind];
    return next;
}

bool
node_admit (node_t *self, const uint8_t key [32])
{
    assert (self);
    return mesh_admit (self->mesh, key);
}

mesh_t *
node_mesh (node_t *self)
{
    assert (self);
    return self->mesh;
}

agent_t *
node_agent (node_t *self)
{
    assert (self);
    return self->agent;
}

fetch_t *
node_fetch (node_t *self)
{
    assert (self);
    return self->fetch;
}

update_t *
node_update (node_t *self)
{
    assert (self);
    return self->update;
}

chunkstore_t *
node_chunks (node_t *self)
{
    assert (self);
    return self->chunks;
}

const char *
node_role (node_t *self)
{
    assert (self);
    return self->cert.role;
}

const char *
node_path (node_t *self)
{
    assert (self);
    return self->cert.path;
}

uint64_t
node_evidence_sent (node_t *self)
{
    assert (self);
    return self->evidence_sent;
}

uint64_t
node_quotes_failed (node_t *self)
{
    assert (self);
    return self->quotes_failed;
}
