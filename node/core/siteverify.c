/*  siteverify - a site server's delegated verifier (see siteverify.h)  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/codec.h"
#include "proto/keys.h"
#include "proto/policymsg.h"
#include "proto/policy.h"
#include "proto/tpmverify.h"
#include "node/core/siteverify.h"

#define S_INTERVAL_DEFAULT  600

typedef struct {
    char tenant [WEFT_NAME_MAX + 1];
    char type [WEFT_NAME_MAX + 1];
    uint8_t ak_name [64];
    size_t ak_name_size;
    uint8_t nonce [SITEVERIFY_NONCE_SIZE];
    uint64_t issued_ms;                 //  0: no challenge outstanding
    uint32_t mask;
    uint64_t verified_ms;               //  0: no verdict from us yet
    uint64_t interval_ms;               //  The profile's, at the last challenge
} s_gateway_t;

struct _siteverify_t {
    store_t *store;
    char *table;
    char *prefix;
    uint8_t ca_key [WEFT_KEY_SIZE];
    zhashx_t *gateways;                 //  Id -> s_gateway_t, made at the first
                                        //  challenge: only a site server makes one
};

siteverify_t *
siteverify_new (store_t *store, const char *table, const char *prefix,
                const uint8_t ca_key [WEFT_KEY_SIZE])
{
    assert (store && table && ca_key);
    siteverify_t *self = (siteverify_t *) zmalloc (sizeof (siteverify_t));
    self->store = store;
    self->table = strndup (table, WEFT_NAME_MAX);
    self->prefix = strndup (prefix? prefix: "", WEFT_NAME_MAX);
    memcpy (self->ca_key, ca_key, WEFT_KEY_SIZE);
    return self;
}

void
siteverify_destroy (siteverify_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        siteverify_t *self = *self_p;
        zhashx_destroy (&self->gateways);
        free (self->table);
        free (self->prefix);
        free (self);
        *self_p = NULL;
    }
}

json_t *
siteverify_profile_get (siteverify_t *self, const char *tenant, const char *device_type)
{
    assert (self && tenant && device_type);
    char name [POLICYMSG_NAME_MAX + 1];
    if (policymsg_name (tenant, device_type, name))
        return NULL;
    store_txn_t *txn = store_begin (self->store, false);
    policy_t policy;
    memset (&policy, 0, sizeof policy);
    int rc = txn? policy_get (txn, self->table, self->prefix, POLICY_KIND_PROFILE,
                              name, self->ca_key, &policy): -1;
    store_abort (&txn);
    json_t *doc = rc == 0? json_loadb ((const char *) policy.content, policy.content_size,
                                       0, NULL): NULL;
    policy_free (&policy);
    if (doc && !json_is_object (doc)) {
        json_decref (doc);
        doc = NULL;
    }
    return doc;
}

void
siteverify_forget (siteverify_t *self, const char *gateway)
{
    assert (self && gateway);
    if (self->gateways)
        zhashx_delete (self->gateways, gateway);
}

//  The profile's PCRs (PCR 10 is IMA's, not checked here)
static uint32_t
s_profile_mask (json_t *profile)
{
    uint32_t mask = 0;
    const char *key;
    json_t *value;
    json_object_foreach (json_object_get (profile, "pcrs"), key, value) {
        char *end = NULL;
        long pcr = strtol (key, &end, 10);
        if (*key && end && *end == 0 && pcr >= 0 && pcr < EVENTLOG_PCRS && pcr != 10)
            mask |= 1u << pcr;
    }
    json_object_foreach (json_object_get (profile, "events"), key, value) {
        char *end = NULL;
        long pcr = strtol (key, &end, 10);
        if (*key && end && *end == 0 && pcr >= 0 && pcr < EVENTLOG_PCRS && pcr != 10)
            mask |= 1u << pcr;
    }
    return mask;
}

int
siteverify_challenge (siteverify_t *self, const char *gateway, const char *tenant,
                      const char *device_type, const uint8_t *ak_name, size_t ak_name_size,
                      const uint8_t nonce [SITEVERIFY_NONCE_SIZE], uint64_t now_ms,
                      uint32_t *mask_p)
{
    assert (self && gateway && tenant && device_type && nonce && mask_p);
    if (!ak_name || ak_name_size == 0 || ak_name_size > sizeof (((s_gateway_t *) 0)->ak_name))
        return 0;                   //  No TPM: nothing to attest
    s_gateway_t *gw = self->gateways? (s_gateway_t *) zhashx_lookup (self->gateways, gateway)
                                     : NULL;
    //  The cheap checks first: this runs for every gateway every second
    if (gw && gw->issued_ms && now_ms < gw->issued_ms + SITEVERIFY_NONCE_TTL_MS)
        return 0;                   //  One outstanding at a time
    if (gw && gw->verified_ms && now_ms < gw->verified_ms + gw->interval_ms)
        return 0;
    json_t *profile = siteverify_profile_get (self, tenant, device_type);
    if (!profile)
        return 0;
    json_int_t interval = json_integer_value (json_object_get (profile, "interval_s"));
    uint32_t mask = s_profile_mask (profile);
    json_decref (profile);
    if (mask == 0)
        return 0;
    if (!self->gateways) {
        self->gateways = zhashx_new ();
        zhashx_set_destructor (self->gateways, (zhashx_destructor_fn *) zstr_free);
    }
    if (!gw) {
        if (zhashx_size (self->gateways) >= SITEVERIFY_GATEWAYS_MAX)
            return 0;
        gw = (s_gateway_t *) zmalloc (sizeof (s_gateway_t));
        zhashx_insert (self->gateways, gateway, gw);
    }
    snprintf (gw->tenant, sizeof gw->tenant, "%s", tenant);
    snprintf (gw->type, sizeof gw->type, "%s", device_type);
    memcpy (gw->ak_name, ak_name, ak_name_size);
    gw->ak_name_size = ak_name_size;
    memcpy (gw->nonce, nonce, SITEVERIFY_NONCE_SIZE);
    gw->issued_ms = now_ms;
    gw->mask = mask;
    gw->interval_ms = 1000 * (uint64_t) (interval > 0? interval: S_INTERVAL_DEFAULT);
    *mask_p = mask;
    return 1;
}

int
siteverify_evidence (siteverify_t *self, const char *gateway, const tpmmsg_t *evidence,
                     uint64_t now_ms, bootverify_t *result)
{
    assert (self && gateway && evidence && result);
    s_gateway_t *gw = self->gateways? (s_gateway_t *) zhashx_lookup (self->gateways, gateway)
                                     : NULL;
    if (!gw || !gw->issued_ms || evidence->nonce_size != SITEVERIFY_NONCE_SIZE
    ||  sodium_memcmp (evidence->nonce, gw->nonce, SITEVERIFY_NONCE_SIZE) != 0)
        return 0;                   //  Not an answer to our challenge
    uint64_t issued = gw->issued_ms;
    gw->issued_ms = 0;              //  Used, whatever the outcome
    gw->verified_ms = now_ms;
    memset (result, 0, sizeof *result);
    result->pcr = result->event = result->events = -1;
    if (now_ms > issued + SITEVERIFY_NONCE_TTL_MS) {
        snprintf (result->reason, sizeof result->reason,
                  "stale nonce: evidence came %" PRIu64 " ms after the challenge", now_ms - issued);
        return 1;
    }
    if (evidence->pcr_mask != gw->mask) {
        snprintf (result->reason, sizeof result->reason, "quote covers other PCRs than asked");
        return 1;
    }
    //  The AK must be the one bound in the gateway's certificate
    zchunk_t *name = evidence->ak_public_size?
        tpmverify_name (evidence->ak_public, evidence->ak_public_size): NULL;
    bool bound = name && zchunk_size (name) == gw->ak_name_size
              && sodium_memcmp (zchunk_data (name), gw->ak_name, gw->ak_name_size) == 0;
    zchunk_destroy (&name);
    if (!bound) {
        snprintf (result->reason, sizeof result->reason,
                  "the AK sent is not the one bound in the certificate");
        return 1;
    }
    json_t *profile = siteverify_profile_get (self, gw->tenant, gw->type);
    bootverify_check (evidence->ak_public, evidence->ak_public_size, evidence, gw->mask,
                      profile, result);
    json_decref (profile);
    return 1;
}

//  --------------------------------------------------------------------------
//  Selftest (a real quote through a site server: tests/e2e/55-tpm-delegated.sh)

void
siteverify_test (bool verbose)
{
    printf (" * siteverify: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    char path [] = "/tmp/weft-siteverify.XXXXXX";
    assert (mkdtemp (path));
    const char *tables [] = { "mesh", NULL };
    store_t *store = store_new (path, tables, 0);
    assert (store);
    keys_t ca, rogue;
    keys_generate (&ca);
    keys_generate (&rogue);
    siteverify_t *sv = siteverify_new (store, "mesh", "", ca.sign_public);
    policy_store_t *policies = policy_store_new (store, "mesh", "", ca.sign_public);
    assert (policies && policy_store_load (policies) >= 0);
    const char *doc = "{\"pcrs\":{\"8\":\"00\",\"9\":\"00\"},\"interval_s\":60}";
    policy_object_t object;
    memset (&object, 0, sizeof object);
    strcpy (object.kind, POLICY_KIND_PROFILE);
    strcpy (object.name, "acme/gateway");
    object.version = 1;
    object.content = (const uint8_t *) doc;
    object.content_size = strlen (doc);
    //  A profile not signed by our CA is refused by the policy store
    uint8_t *bytes;
    size_t size;
    assert (policymsg_encode (&object, rogue.sign_secret, &bytes, &size) == 0);
    assert (policy_store_offer (policies, bytes, size, NULL, NULL) == POLICY_FORGED);
    free (bytes);
    assert (siteverify_profile_get (sv, "acme", "gateway") == NULL);
    //  The profile as the coordinator publishes it (policy gossip): acme's
    assert (policymsg_encode (&object, ca.sign_secret, &bytes, &size) == 0);
    assert (policy_store_offer (policies, bytes, size, NULL, NULL) == POLICY_STORED);
    free (bytes);
    json_t *profile = siteverify_profile_get (sv, "acme", "gateway");
    assert (profile);
    json_decref (profile);
    //  ... which is no other tenant's, nor the devices' without a tenant
    assert (siteverify_profile_get (sv, "acmex", "gateway") == NULL);
    assert (siteverify_profile_get (sv, "", "gateway") == NULL);

    //  Challenges: only for a TPM gateway of a type with a profile, one
    //  outstanding at a time, again after the interval or a new link
    uint8_t name [34] = { 0, 0x0b, 1, 2, 3 };
    uint8_t nonce [SITEVERIFY_NONCE_SIZE];
    memset (nonce, 0x11, sizeof nonce);
    uint32_t mask = 0;
    uint64_t now = 1000000;
    assert (siteverify_challenge (sv, "gw-a", "acme", "gateway", NULL, 0, nonce, now, &mask) == 0);
    assert (siteverify_challenge (sv, "gw-a", "acme", "sensor", name, 34, nonce, now, &mask) == 0);
    assert (siteverify_challenge (sv, "gw-x", "acmex", "gateway", name, 34, nonce, now, &mask)
            == 0);
    assert (siteverify_challenge (sv, "gw-a", "acme", "gateway", name, 34,
                                  nonce, now, &mask) == 1);
    assert (mask == ((1u << 8) | (1u << 9)));
    assert (siteverify_challenge (sv, "gw-a", "acme", "gateway", name, 34,
                                  nonce, now + 1000, &mask)
            == 0);
    //  Evidence with another nonce is not ours
    tpmmsg_t ev;
    memset (&ev, 0, sizeof ev);
    ev.type = MSG_ATTEST_EVIDENCE;
    uint8_t other [SITEVERIFY_NONCE_SIZE];
    memset (other, 0x22, sizeof other);
    ev.nonce = other;
    ev.nonce_size = sizeof other;
    ev.pcr_mask = mask;
    bootverify_t result;
    assert (siteverify_evidence (sv, "gw-a", &ev, now + 2000, &result) == 0);
    //  Ours, but the AK is not the certificate's: failed, nonce used up
    ev.nonce = nonce;
    ev.ak_public = (const uint8_t *) "not an AK";
    ev.ak_public_size = 9;
    assert (siteverify_evidence (sv, "gw-a", &ev, now + 2000, &result) == 1);
    assert (!result.ok && strstr (result.reason, "not the one bound"));
    assert (siteverify_evidence (sv, "gw-a", &ev, now + 2100, &result) == 0);
    //  A verdict is recent: not due until the interval passed...
    assert (siteverify_challenge (sv, "gw-a", "acme", "gateway", name, 34,
                                  nonce, now + 3000, &mask)
            == 0);
    assert (siteverify_challenge (sv, "gw-a", "acme", "gateway", name, 34,
                                  nonce, now + 63000, &mask)
            == 1);
    //  ...or it linked again; a late answer is stale
    siteverify_forget (sv, "gw-a");
    assert (siteverify_challenge (sv, "gw-a", "acme", "gateway", name, 34,
                                  nonce, now + 64000, &mask)
            == 1);
    assert (siteverify_evidence (sv, "gw-a", &ev, now + 64000 + SITEVERIFY_NONCE_TTL_MS + 1,
                                 &result) == 1);
    assert (!result.ok && strstr (result.reason, "stale nonce"));
    siteverify_destroy (&sv);
    policy_store_destroy (&policies);
    keys_wipe (&ca);
    keys_wipe (&rogue);
    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
