/*  delegate - delegated verification at a site server (see delegate.h)  */

#include "proto/corelib.h"
#include "proto/envelope.h"
#include "proto/tpmmsg.h"
#include "proto/delegmsg.h"
#include "proto/passport.h"
#include "node/core/delegate.h"

struct _delegate_t {
    mesh_t *mesh;                       //  Not owned
    agent_t *agent;                     //  Not owned
    siteverify_t *verify;
    bool server;
    zhashx_t *linked;                   //  Gateway -> link epoch at the last look,
                                        //  NULL until a server's first look
    uint64_t next_check;
};

delegate_t *
delegate_new (mesh_t *mesh, agent_t *agent, store_t *store, const char *prefix,
              const uint8_t ca_key [WEFT_KEY_SIZE], bool server)
{
    assert (mesh && agent && store && ca_key);
    delegate_t *self = (delegate_t *) zmalloc (sizeof (delegate_t));
    self->mesh = mesh;
    self->agent = agent;
    self->verify = siteverify_new (store, MESH_TABLE, prefix, ca_key);
    self->server = server;
    return self;
}

void
delegate_destroy (delegate_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        delegate_t *self = *self_p;
        siteverify_destroy (&self->verify);
        zhashx_destroy (&self->linked);
        free (self);
        *self_p = NULL;
    }
}

bool
delegate_challenger (delegate_t *self, const char *origin)
{
    assert (self && origin);
    char role [WEFT_NAME_MAX + 1] = "";
    return mesh_neighbour (self->mesh, origin, role, NULL, NULL) && streq (role, "server");
}

typedef struct {
    delegate_t *self;
    uint64_t now_ms;
    delegate_random_fn *random_fn;
    zhashx_t *linked;
} s_tick_t;

static void
s_check_one (void *arg, const char *name, const char *role, const char *tenant,
             const uint8_t *ak_name, size_t ak_name_size, uint64_t epoch)
{
    s_tick_t *tick = (s_tick_t *) arg;
    delegate_t *self = tick->self;
    if (ak_name_size == 0 || streq (role, "server"))
        return;                     //  No TPM, or another site server
    if (!streq (tenant, mesh_tenant (self->mesh)))
        return;                     //  Another tenant's: not ours to attest
    zhashx_update (tick->linked, name, (void *) (uintptr_t) epoch);
    if (!self->linked || (uintptr_t) zhashx_lookup (self->linked, name) != (uintptr_t) epoch)
        siteverify_forget (self->verify, name);     //  (Re)linked: due at once
    uint8_t nonce [SITEVERIFY_NONCE_SIZE];
    tick->random_fn (nonce, sizeof nonce);
    uint32_t mask = 0;
    if (siteverify_challenge (self->verify, name, tenant, role, ak_name, ak_name_size, nonce,
                              tick->now_ms, &mask) != 1)
        return;
    tpmmsg_t challenge;
    memset (&challenge, 0, sizeof challenge);
    challenge.type = MSG_ATTEST_CHALLENGE;
    challenge.nonce = nonce;
    challenge.nonce_size = sizeof nonce;
    challenge.pcr_mask = mask;
    uint8_t *payload = NULL, *frame = NULL;
    size_t payload_size = 0, size = 0;
    if (tpmmsg_encode (&challenge, &payload, &payload_size) == 0
    &&  agent_seal_payload (self->agent, tick->now_ms, MSG_ATTEST_CHALLENGE, payload,
                            payload_size, &frame, &size) == 0
    &&  mesh_send_to (self->mesh, name, frame, size) == 0)
        zsys_info ("delegate: attestation challenge to %s (site cut off from the coordinator)",
                   name);
    free (payload);
    free (frame);
}

void
delegate_tick (delegate_t *self, uint64_t now_ms, delegate_random_fn *random_fn)
{
    assert (self && random_fn);
    if (!self->server || now_ms < self->next_check)
        return;
    self->next_check = now_ms + DELEGATE_CHECK_MS;
    zhashx_t *linked = zhashx_new ();
    if (mesh_distance (self->mesh) == 0) {
        s_tick_t tick = { self, now_ms, random_fn, linked };
        mesh_neighbours_each (self->mesh, s_check_one, &tick);
    }
    zhashx_destroy (&self->linked);
    self->linked = linked;
}

//  A gateway passed here: our passport, so its neighbours admit it while
//  the site is cut off (it expires when the profile says it falls due)
static void
s_issue_passport (delegate_t *self, const char *gateway, uint64_t now_ms)
{
    char role [WEFT_NAME_MAX + 1] = "";
    if (!mesh_neighbour (self->mesh, gateway, role, NULL, NULL))
        return;
    json_t *profile = siteverify_profile_get (self->verify, mesh_tenant (self->mesh), role);
    int interval_s, grace_s;
    passport_profile_terms (profile, &interval_s, &grace_s, NULL);
    json_decref (profile);
    uint64_t expires_ms = now_ms + (uint64_t) (interval_s + grace_s) * 1000;
    uint8_t *passport = NULL, *frame = NULL;
    size_t passport_size = 0, size = 0;
    if (mesh_passport_issue (self->mesh, gateway, now_ms, expires_ms, &passport,
                             &passport_size) == 0
    &&  agent_seal_payload (self->agent, now_ms, MSG_PASSPORT, passport, passport_size,
                            &frame, &size) == 0
    &&  mesh_send_to (self->mesh, gateway, frame, size) == 0)
        zsys_info ("delegate: passport to %s (attested here, valid %d s)", gateway,
                   interval_s + grace_s);
    else
        zsys_warning ("delegate: cannot send %s its passport", gateway);
    free (passport);
    free (frame);
}

bool
delegate_evidence (delegate_t *self, const uint8_t *frame, size_t size, uint64_t now_ms)
{
    assert (self);
    envelope_t env;
    tpmmsg_t evidence;
    if (!self->server || envelope_decode (&env, frame, size)
    ||  tpmmsg_decode (&evidence, MSG_ATTEST_EVIDENCE, env.payload, env.payload_size))
        return false;
    bootverify_t *result = (bootverify_t *) zmalloc (sizeof (bootverify_t));
    if (siteverify_evidence (self->verify, env.origin, &evidence, now_ms, result) == 0) {
        free (result);
        return false;               //  Not ours: on to the coordinator
    }
    if (result->ok)
        zsys_info ("delegate: attestation of %s passed (verified here)", env.origin);
    else
        zsys_warning ("delegate: ALERT attestation of %s failed (verified here): %s",
                      env.origin, result->reason);
    mesh_quarantine_local (self->mesh, env.origin, !result->ok);
    if (result->ok)
        s_issue_passport (self, env.origin, now_ms);
    delegmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_DELEGATED_VERDICT;
    snprintf (msg.device, sizeof msg.device, "%s", env.origin);
    msg.ok = result->ok;
    snprintf (msg.reason, sizeof msg.reason, "%s", result->reason);
    msg.pcr = result->pcr;
    msg.event = result->event;
    msg.time_ms = now_ms;
    msg.evidence = env.payload;
    msg.evidence_size = env.payload_size;
    uint8_t *payload = NULL;
    size_t payload_size = 0;
    if (delegmsg_encode (&msg, &payload, &payload_size)
    ||  agent_send_payload (self->agent, now_ms, MSG_DELEGATED_VERDICT, payload,
                            payload_size))
        zsys_error ("delegate: cannot queue the verdict on %s for the coordinator",
                    env.origin);
    free (payload);
    free (result);
    return true;
}
