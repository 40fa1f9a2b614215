/*  mesh_attest - attestation passports in the mesh: ours, presented in
    every HELLO, and our neighbours', checked against the profile of
    their device type
    A neighbour whose type's profile (the CA-signed policy object
    "profile/<tenant>/<type>" of its tenant that this node holds)
    requires attestation is admitted only while the passport of its
    last HELLO is fresh: issued to its
    certificate by the coordinator or by a site server of its tenant
    that is not revoked, and not expired by our clock. Otherwise (never
    attested, overdue, a passport that does not check) it is treated as
    quarantined: its own attestation traffic only, nothing it relays, no
    route through it (mesh_lists.c, mesh_route.c). Whether a type
    requires it is cached per profile name and version, so a message
    costs a hash lookup, not a signature check. Our own passport lives
    in MESH_TABLE under prefix + "passport".  */

#include "proto/corelib.h"
#include <jansson.h>
#include "proto/passport.h"
#include "node/core/mesh_internal.h"

//  A device type's requirement, as its profile version said
typedef struct {
    uint64_t version;               //  Policy version it was read from, 0 none
    bool required;
} s_required_t;

//  --------------------------------------------------------------------------
//  Does this node require fresh attestation of a device type?

static bool
s_required (mesh_t *self, mesh_link_t *link)
{
    //  The key is the same for every frame on the link: made once, not
    //  formatted per frame on the relay's hot path
    if (!link->profile_known) {
        char name [POLICYMSG_NAME_MAX + 1];
        link->profile_key [0] = 0;
        if (*link->role && !policymsg_name (link->tenant, link->role, name))
            snprintf (link->profile_key, sizeof link->profile_key, "%s/%s",
                      POLICY_KIND_PROFILE, name);
        link->profile_known = true;
    }
    if (self->admit_unattested || !link->profile_key [0])
        return false;
    const char *key = link->profile_key;
    const char *name = key + strlen (POLICY_KIND_PROFILE) + 1;
    uint64_t version = policy_store_version (self->policies, key);
    if (version == 0)
        return false;               //  No profile for the type: nothing to attest
    if (!self->required) {
        self->required = zhashx_new ();
        zhashx_set_destructor (self->required, mesh_free_item);
    }
    s_required_t *cached = (s_required_t *) zhashx_lookup (self->required, name);
    if (cached && cached->version == version)
        return cached->required;
    //  A new version: read it, verified
    policy_t policy;
    bool required = false;
    if (policy_store_get (self->policies, POLICY_KIND_PROFILE, name, &policy) == 0) {
        json_t *profile = json_loadb ((const char *) policy.content, policy.content_size, 0,
                                      NULL);
        passport_profile_terms (profile, NULL, NULL, &required);
        json_decref (profile);
        policy_free (&policy);
    }
    if (!cached && zhashx_size (self->required) < POLICY_OBJECTS_MAX) {
        cached = (s_required_t *) zmalloc (sizeof (s_required_t));
        zhashx_insert (self->required, name, cached);
    }
    if (cached) {
        cached->version = version;
        cached->required = required;
    }
    return required;
}

bool
mesh_unattested (mesh_t *self, mesh_link_t *link, uint64_t now_ms)
{
    return link->kind != MESH_LINK_COORDINATOR && link->verified
        && link->attested_until <= now_ms && s_required (self, link);
}

bool
mesh_admitted (mesh_t *self, const char *name, uint64_t now_ms)
{
    assert (self && name);
    const char *link_name = (const char *) zhashx_lookup (self->peers, name);
    mesh_link_t *link = link_name? (mesh_link_t *) zhashx_lookup (self->links, link_name): NULL;
    return link && link->verified && link->up && !qlist_has (self->quarantine, name)
        && !mesh_unattested (self, link, now_ms);
}

//  --------------------------------------------------------------------------
//  A neighbour's HELLO: its passport

void
mesh_attest_hello (mesh_t *self, mesh_link_t *link, const cert_t *cert, const meshmsg_t *msg,
                   uint64_t now_ms)
{
    link->serial = cert->serial;
    uint64_t until = 0;
    char why [256] = "never attested (no passport)";
    passport_t passport;
    if (msg->passport_size) {
        int rc = passport_check (msg->passport, msg->passport_size, cert, self->ca_key,
                                 self->coord_sign, now_ms, &passport, why, sizeof why);
        //  A site server that vouches for it must not be revoked itself
        if (rc == PASSPORT_OK && passport.issuer_cert
        &&  mesh_is_revoked (self, passport.issuer, passport.issuer_curve)) {
            rc = PASSPORT_BAD_ISSUER;
            snprintf (why, sizeof why, "passport issued by %s, which is revoked",
                      passport.issuer);
        }
        if (rc == PASSPORT_OK) {
            until = passport.expires_ms;
            snprintf (link->attested_by, sizeof link->attested_by, "%s", passport.issuer);
        }
    }
    bool was = link->attested_until > now_ms;
    link->attested_until = until;
    if (!s_required (self, link))
        return;
    if (until) {
        link->overdue_told = false;
        if (!was)
            zsys_info ("mesh: neighbour %s admitted: attested (passport from %s, valid "
                       "%" PRIu64 " s more)", cert->subject, link->attested_by,
                       (until - now_ms) / 1000);
    }
    else {
        link->overdue_told = true;
        zsys_warning ("mesh: neighbour %s refused: %s; its type %s requires attestation, "
                      "so only its attestation traffic is taken", cert->subject, why,
                      link->role);
    }
}

void
mesh_attest_tick (mesh_t *self, uint64_t now_ms)
{
    for (mesh_link_t *link = (mesh_link_t *) zhashx_first (self->links); link;
         link = (mesh_link_t *) zhashx_next (self->links))
        if (!link->overdue_told && link->attested_until && link->up
        &&  mesh_unattested (self, link, now_ms)) {
            link->overdue_told = true;
            zsys_warning ("mesh: neighbour %s refused: attestation overdue (passport from %s "
                          "expired %" PRIu64 " s ago); only its attestation traffic is taken",
                          link->peer, link->attested_by,
                          (now_ms - link->attested_until) / 1000);
        }
}

//  --------------------------------------------------------------------------
//  Our own passport

static int
s_key (mesh_t *self, char key [WEFT_NAME_MAX + 16])
{
    return snprintf (key, WEFT_NAME_MAX + 16, "%spassport", self->prefix);
}

//  Our certificate, to check passports issued to it
static int
s_own_cert (mesh_t *self, cert_t *cert)
{
    return cert_decode (cert, self->cert, self->cert_size, self->ca_key, 0);
}

int
mesh_attest_restore (mesh_t *self)
{
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return -1;
    char key [WEFT_NAME_MAX + 16];
    int key_size = s_key (self, key);
    size_t size = 0;
    uint8_t *data = (uint8_t *) store_get (txn, MESH_TABLE, key, (size_t) key_size, &size);
    store_abort (&txn);
    cert_t cert;
    passport_t passport;
    //  An expired one is kept: the coordinator sees from our heartbeat
    //  that we need a newer one, and our peers refuse us meanwhile
    int rc = data && s_own_cert (self, &cert) == 0
           ? passport_check (data, size, &cert, self->ca_key, self->coord_sign, 0, &passport,
                             NULL, 0): PASSPORT_MALFORMED;
    if (rc == PASSPORT_OK || rc == PASSPORT_EXPIRED) {
        self->passport = data;
        self->passport_size = size;
        self->passport_ms = passport.attested_ms;
    }
    else {
        if (data)
            zsys_warning ("mesh: stored passport is not ours or does not verify; ignored");
        free (data);
    }
    return 0;
}

int
mesh_on_passport (mesh_t *self, const envelope_t *env, uint64_t now_ms,
                  char reason [WEFT_TEXT_MAX + 1])
{
    cert_t cert;
    passport_t passport;
    char why [256] = "our certificate does not decode";
    int rc = s_own_cert (self, &cert) == 0
           ? passport_check (env->payload, env->payload_size, &cert, self->ca_key,
                             self->coord_sign, now_ms, &passport, why, sizeof why)
           : PASSPORT_MALFORMED;
    if (rc == PASSPORT_OK && !streq (passport.issuer, env->origin)) {
        rc = PASSPORT_BAD_ISSUER;
        snprintf (why, sizeof why, "passport of %s brought by %s", passport.issuer,
                  env->origin);
    }
    if (rc == PASSPORT_OK && passport.issuer_cert
    &&  mesh_is_revoked (self, passport.issuer, passport.issuer_curve)) {
        rc = PASSPORT_BAD_ISSUER;
        snprintf (why, sizeof why, "passport issued by %s, which is revoked", passport.issuer);
    }
    if (rc != PASSPORT_OK) {
        zsys_warning ("mesh: passport from %s refused: %s", env->origin, why);
        snprintf (reason, WEFT_TEXT_MAX + 1, "passport refused: %.*s",
                  (int) (WEFT_TEXT_MAX - sizeof "passport refused: " + 1), why);
        return WEFT_STATUS_DENIED;
    }
    if (passport.attested_ms <= self->passport_ms)
        return WEFT_STATUS_OK;      //  Held already, or older
    store_txn_t *txn = store_begin (self->store, true);
    char key [WEFT_NAME_MAX + 16];
    int key_size = s_key (self, key);
    int stored = txn? store_put (txn, MESH_TABLE, key, (size_t) key_size, env->payload,
                                 env->payload_size): -1;
    if (stored == 0)
        stored = store_commit (&txn);
    else
        store_abort (&txn);
    if (stored) {
        zsys_warning ("mesh: cannot store our passport");
        snprintf (reason, WEFT_TEXT_MAX + 1, "cannot store the passport");
        return WEFT_STATUS_INTERNAL;
    }
    free (self->passport);
    self->passport = (uint8_t *) zmalloc (env->payload_size);
    memcpy (self->passport, env->payload, env->payload_size);
    self->passport_size = env->payload_size;
    self->passport_ms = passport.attested_ms;
    zsys_info ("mesh: passport from %s: attested, valid %" PRIu64 " s", passport.issuer,
               (passport.expires_ms - now_ms) / 1000);
    if (self->fx.passport)
        self->fx.passport (self->fx.ctx, self->passport_ms);
    //  Every neighbour learns it now, not at its next reconnection
    for (mesh_link_t *link = (mesh_link_t *) zhashx_first (self->links); link;
         link = (mesh_link_t *) zhashx_next (self->links))
        if (link->up && link->verified && link->kind != MESH_LINK_COORDINATOR)
            mesh_send_advert (self, link, MSG_HELLO, now_ms);
    return WEFT_STATUS_OK;
}

uint64_t
mesh_passport_ms (mesh_t *self)
{
    assert (self);
    return self->passport_ms;
}

//  --------------------------------------------------------------------------
//  A site server's passport for a gateway it verified

int
mesh_passport_issue (mesh_t *self, const char *device, uint64_t attested_ms,
                     uint64_t expires_ms, uint8_t **passport_p, size_t *size_p)
{
    assert (self && device && passport_p && size_p);
    const char *link_name = (const char *) zhashx_lookup (self->peers, device);
    mesh_link_t *link = link_name? (mesh_link_t *) zhashx_lookup (self->links, link_name): NULL;
    if (!link || !link->verified)
        return -1;
    passport_t passport;
    memset (&passport, 0, sizeof passport);
    snprintf (passport.device, sizeof passport.device, "%s", device);
    snprintf (passport.tenant, sizeof passport.tenant, "%s", link->tenant);
    passport.cert_serial = link->serial;
    passport.verdict = PASSPORT_PASSED;
    passport.attested_ms = attested_ms;
    passport.expires_ms = expires_ms;
    snprintf (passport.issuer, sizeof passport.issuer, "%s", self->name);
    passport.issuer_cert = self->cert;
    passport.issuer_cert_size = self->cert_size;
    return passport_encode (&passport, self->keys.sign_secret, passport_p, size_p)? -1: 0;
}
