/*  attestation - boot attestation and delegated verification in weft-sim
    With an "attest" line in the scenario every node has a simulated
    TPM (node_host.h: an RSA AK from the seed, bound in its certificate
    and its registry record as enrolment binds a real one) and every
    tenant a CA-signed profile per device type at the coordinator,
    which publishes them to the mesh as weft-coord does. From there on
    nothing here decides: the coordinator core challenges a device at
    its heartbeat when due, the node core turns the challenge into a
    QUOTE action, the simulated TPM answers it after the scenario's
    quote latency, and the evidence goes up by custody; a site server
    cut off from the coordinator challenges its own tenant's gateways
    itself (node/core/delegate.h), judges them, and sends its verdict
    with the evidence up when the uplink is back, where the coordinator
    checks it again. This file sets that up, carries the quotes, watches
    the verdicts the coordinator records (one read per evidence it
    takes, never a scan), and counts.
    Tenants: with "tenants=2", site s belongs to tenant s % 2 and its
    first gateway is a guest of the other tenant, which its server must
    not attest. Bad actors: "bad=N" gateways, the last gateway of sites
    spread over the fleet (the first one in site 1), boot a loader the
    profile does not name, so their event log replays to another PCR 8.  */

#include "sim/world_internal.h"
#include "coordinator/core/attest.h"
#include "proto/delegmsg.h"

//  Is node a guest of the other tenant in its site?
static bool
s_guest (world_t *self, uint32_t node)
{
    const site_t *site = &self->sites [self->node [node].site];
    return self->scn->attest_tenants > 1 && site->count > 2 && node == site->first + 1;
}

int
attest_setup (world_t *self)
{
    const scenario_t *scn = self->scn;
    if (!scn->attest)
        return 0;
    self->tenant_of = (uint8_t *) zmalloc (self->nodes);
    self->bad_of = (uint8_t *) zmalloc (self->nodes);
    for (uint32_t i = 0; i < self->nodes; i++) {
        uint8_t tenant = (uint8_t) (self->node [i].site % scn->attest_tenants);
        if (s_guest (self, i))
            tenant = (uint8_t) (1 - tenant);
        self->tenant_of [i] = tenant;
    }
    uint32_t bad = 0;
    for (uint32_t k = 0; k < scn->attest_bad; k++) {
        uint32_t s = (uint32_t) ((1 + (uint64_t) k * self->nsites / scn->attest_bad)
                                 % self->nsites);
        const site_t *site = &self->sites [s];
        uint32_t last = site->first + site->count - 1;
        if (site->count < 2 || self->bad_of [last]) {
            fprintf (stderr, "weft-sim: attest bad=%u: not enough sites with gateways\n",
                     scn->attest_bad);
            return -1;
        }
        self->bad_of [last] = 1;
        bad++;
    }
    self->attest.bad = bad;
    self->tpm_bad = (uint8_t *) zmalloc (self->nodes);
    memcpy (self->tpm_bad, self->bad_of, self->nodes);
    //  Test-only: the first gateway boots badly, and the checker, which
    //  expects it to pass, must catch it
    if (self->opt->bug_tpm_tampered && self->sites [0].count > 1)
        self->tpm_bad [1] = 1;
    self->attest.in_flight = zhashx_new ();
    self->attest.unsettled = self->nodes;
    return node_host_attest (self->host, self->tenant_of, self->tpm_bad);
}

int
attest_coord_setup (world_t *self, store_txn_t *txn, pki_t *pki)
{
    if (!self->scn->attest)
        return 0;
    json_t *profile = node_host_profile (self->host, self->scn->attest_interval_ms / 1000);
    int rc = profile? 0: -1;
    char error [256] = "";
    for (uint8_t t = 0; rc == 0 && t < self->scn->attest_tenants; t++) {
        rc = attest_profile_put (txn, node_host_tenant (t), "server", profile, pki,
                                 error, sizeof error);
        if (rc == 0)
            rc = attest_profile_put (txn, node_host_tenant (t), "gateway", profile, pki,
                                     error, sizeof error);
    }
    if (rc)
        fprintf (stderr, "weft-sim: cannot store the attestation profiles: %s\n", error);
    json_decref (profile);
    return rc;
}

int
attest_record (world_t *self, uint32_t node, json_t *record)
{
    if (!self->scn->attest)
        return 0;
    char *name_hex = NULL;
    char *public_hex = node_host_ak_hex (self->host, node, &name_hex);
    if (!public_hex)
        return -1;
    json_object_set_new (record, "tenant", json_string (node_host_tenant (self->tenant_of [node])));
    json_object_set_new (record, "assurance", json_string ("tpm"));
    //  Passports are issued to the certificate the device presents
    json_object_set_new (record, "cert_serial", json_integer ((json_int_t) node_host_serial (node)));
    json_object_set_new (record, "ak_public", json_string (public_hex));
    json_object_set_new (record, "ak_name", json_string (name_hex));
    free (public_hex);
    free (name_hex);
    return 0;
}

//  --------------------------------------------------------------------------
//  The simulated TPM: a quote takes the scenario's quote latency

void
attest_quote_asked (void *ctx, uint32_t node)
{
    world_t *self = (world_t *) ctx;
    self->attest.asked++;
    sched_push (&self->sched, self->sched.now + self->scn->quote_ms * 1000, EV_QUOTE, node,
                self->node [node].incarnation, NULL);
}

void
attest_quote_due (world_t *self, uint32_t node, uint64_t incarnation)
{
    snode_t *n = &self->node [node];
    if (!n->up || n->incarnation != (uint32_t) incarnation)
        return;                     //  The node crashed meanwhile: its TPM forgot
    int rc = node_host_quote (self->host, node, world_now_ms (self));
    if (rc == 1)
        self->attest.answered++;
    else
    if (rc < 0)
        self->attest.failed_quotes++;
}

//  --------------------------------------------------------------------------
//  Verdicts at the coordinator

//  A node sends a custody envelope toward dest: a gateway's evidence to
//  its site server answers the server's own challenge, so a delegated
//  verdict on it is due at the coordinator (a run ends no sooner)
void
attest_sent (world_t *self, uint32_t node, uint32_t dest, const envelope_t *env)
{
    if (self->attest.in_flight && env->type == MSG_ATTEST_EVIDENCE && dest < self->nodes
    &&  net_is_server (self, dest) && !net_is_server (self, node))
        zhashx_update (self->attest.in_flight, env->origin, (void *) 1);
}

//  Nothing left to settle: every verdict is the expected one and every
//  delegated verdict reached the coordinator
bool
attest_idle (world_t *self)
{
    return !self->scn->attest
        || (self->attest.unsettled == 0 && zhashx_size (self->attest.in_flight) == 0);
}

//  device's verdict as the coordinator now holds it: 1 passed, 2 failed
static uint8_t
s_verdict (world_t *self, const char *device)
{
    store_txn_t *txn = store_begin (self->coord_store, false);
    json_t *verdict = txn? attest_verdict_get (txn, device): NULL;
    store_abort (&txn);
    uint8_t state = verdict? (json_is_true (json_object_get (verdict, "ok"))? 1: 2): 0;
    json_decref (verdict);
    return state;
}

//  A device's verdict may have changed: an honest node settles on a
//  pass, a bad actor on a failure
static void
s_follow (world_t *self, uint32_t node)
{
    snode_t *n = &self->node [node];
    uint8_t expected = self->bad_of [node]? 2: 1;
    char name [NH_NAME_MAX];
    node_host_name (node, name);
    uint8_t state = s_verdict (self, name);
    bool was = n->verdict == expected, is = state == expected;
    n->verdict = state;
    if (was && !is)
        self->attest.unsettled++;
    else
    if (!was && is) {
        self->attest.unsettled--;
        if (self->attest.unsettled == 0)
            self->attest.settled_us = self->sched.now;
    }
}

//  An envelope the coordinator core took (not refused): evidence it
//  judged, or a site server's verdict it checked again
void
attest_observe (world_t *self, const uint8_t *data, size_t size)
{
    envelope_t env;
    uint32_t origin;
    if (!self->scn->attest || envelope_decode (&env, data, size)
    ||  !node_host_index (env.origin, &origin) || origin >= self->nodes)
        return;
    if (env.type == MSG_ATTEST_EVIDENCE) {
        self->attest.coord_evidence++;
        s_follow (self, origin);
    }
    else
    if (env.type == MSG_DELEGATED_VERDICT) {
        delegmsg_t msg;
        uint32_t device;
        if (delegmsg_decode (&msg, MSG_DELEGATED_VERDICT, env.payload, env.payload_size)
        ||  !node_host_index (msg.device, &device) || device >= self->nodes)
            return;
        zhashx_delete (self->attest.in_flight, msg.device);
        self->attest.delegated++;
        if (msg.ok)
            self->attest.delegated_pass++;
        else
            self->attest.delegated_fail++;
        //  A server judges its own tenant's gateways only
        if (self->tenant_of [origin] != self->tenant_of [device])
            world_violation (self, "site server %u (tenant %s) sent a verdict on node %u "
                             "(tenant %s)", origin, node_host_tenant (self->tenant_of [origin]),
                             device, node_host_tenant (self->tenant_of [device]));
        s_follow (self, device);
    }
}

//  At the end: passes, failures and quarantine, at the coordinator and
//  at each bad actor's site server
void
attest_tally (world_t *self)
{
    if (!self->scn->attest)
        return;
    store_txn_t *txn = store_begin (self->coord_store, false);
    const uint8_t *ca_key = self->ca_keys.sign_public;
    for (uint32_t i = 0; txn && i < self->nodes; i++) {
        char name [NH_NAME_MAX];
        node_host_name (i, name);
        json_t *verdict = attest_verdict_get (txn, name);
        if (verdict && json_is_true (json_object_get (verdict, "ok")))
            self->attest.passed++;
        else
        if (verdict)
            self->attest.failed++;
        json_decref (verdict);
        if (attest_quarantined (txn, name, ca_key, world_now_ms (self)))
            self->attest.quarantined++;
        uint32_t server = self->sites [self->node [i].site].first;
        if (i != server && node_host_quarantines (self->host, server, i))
            self->attest.site_quarantined++;
    }
    store_abort (&txn);
}

void
attest_teardown (world_t *self)
{
    zhashx_destroy (&self->attest.in_flight);
    free (self->tenant_of);
    free (self->bad_of);
    free (self->tpm_bad);
}
