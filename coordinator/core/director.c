/*  director - the coordinator's assignments of releases to devices (see .h)
    The offers of a batch differ only in their assignment record and end
    hash: the shared records are hashed once, and each offer continues
    from a copy of that hash state.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "proto/bundle.h"
#include "proto/release.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/relroot.h"
#include "coordinator/core/custody.h"
#include "coordinator/core/artrepo.h"
#include "coordinator/core/director.h"

_Static_assert (DIRECTOR_OFFER_MAX + 4096 <= CUSTODY_DEST_BYTES,
                "an offer must fit one device's custody budget");

//  The assignment record of one device
typedef struct {
    char device [WEFT_NAME_MAX + 1];
    uint8_t *assignment;
    size_t size;
} s_offer_t;

struct _director_batch_t {
    char tenant [WEFT_NAME_MAX + 1];
    release_target_t target;        //  The release, as the targets name it
    char hash_hex [65];
    uint8_t *manifest_data;         //  Its bytes; manifest borrows them
    manifest_t manifest;
    uint8_t *shared;                //  Magic and the records every offer carries
    size_t shared_size, shared_alloc;
    crypto_generichash_state hashed;    //  BLAKE2b-256 of shared
    s_offer_t *offers;
    size_t count, alloc;
};

static void
s_append (director_batch_t *self, bundle_record_t type, const uint8_t *body, size_t size)
{
    size_t need = self->shared_size + BUNDLE_HEADER_SIZE + size;
    if (need > self->shared_alloc) {
        self->shared_alloc = need * 2;
        self->shared = (uint8_t *) realloc (self->shared, self->shared_alloc);
        assert (self->shared);
    }
    bundle_header_put (self->shared + self->shared_size, type, size);
    memcpy (self->shared + self->shared_size + BUNDLE_HEADER_SIZE, body, size);
    self->shared_size = need;
}

static int
s_root (void *arg, uint64_t version, const uint8_t *root, size_t size)
{
    (void) version;
    s_append ((director_batch_t *) arg, BUNDLE_ROOT, root, size);
    return 0;
}

director_batch_t *
director_batch_new (store_txn_t *txn, const char *tenant, const char *name,
                    const char *version, uint64_t now_ms, int *status_p,
                    char error [WEFT_TEXT_MAX + 1])
{
    assert (txn && tenant && name && version && status_p && error);
    *status_p = WEFT_STATUS_NOT_FOUND;
    director_batch_t *self = (director_batch_t *) zmalloc (sizeof (director_batch_t));
    snprintf (self->tenant, sizeof self->tenant, "%s", tenant);
    size_t size;
    self->manifest_data = artrepo_manifest (txn, tenant, name, version, &size);
    if (!self->manifest_data || manifest_decode (&self->manifest, self->manifest_data, size)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "no release %s %s in tenant %s (weftctl artifact "
                  "list)", name, version, tenant);
        director_batch_destroy (&self);
        return NULL;
    }
    //  The release as the trusted targets name it now: a device checks
    //  the same, so an offer the repository no longer vouches for is
    //  never sent
    uint8_t hash [32];
    keys_hash (self->manifest_data, size, hash);
    keys_hex (hash, 32, self->hash_hex);
    release_trust_t trust;
    bool named = false;
    if (artrepo_trust (txn, tenant, now_ms, &trust) == 0)
        for (size_t i = 0; i < trust.target_count && !named; i++)
            if (streq (trust.targets [i].name, name) && streq (trust.targets [i].version, version)
            &&  memcmp (trust.targets [i].manifest_hash, hash, 32) == 0) {
                self->target = trust.targets [i];
                named = true;
            }
    if (!named) {
        *status_p = WEFT_STATUS_CONFLICT;
        snprintf (error, WEFT_TEXT_MAX + 1, "release %s %s is not in tenant %s's current "
                  "targets, or they expired: upload a fresh bundle (weftctl artifact add)",
                  name, version, tenant);
        director_batch_destroy (&self);
        return NULL;
    }
    self->shared = (uint8_t *) zmalloc (BUNDLE_MAGIC_SIZE + 4096);
    self->shared_alloc = BUNDLE_MAGIC_SIZE + 4096;
    memcpy (self->shared, BUNDLE_MAGIC, BUNDLE_MAGIC_SIZE);
    self->shared_size = BUNDLE_MAGIC_SIZE;
    bool read = relroot_each (txn, tenant, s_root, self) > 0;
    release_role_t roles [] = { RELEASE_TIMESTAMP, RELEASE_SNAPSHOT, RELEASE_TARGETS };
    bundle_record_t types [] = { BUNDLE_TIMESTAMP, BUNDLE_SNAPSHOT, BUNDLE_TARGETS };
    for (size_t i = 0; i < 3 && read; i++) {
        uint8_t *data = artrepo_meta (txn, tenant, roles [i], &size);
        if (data)
            s_append (self, types [i], data, size);
        read = data != NULL;
        free (data);
    }
    if (!read) {
        *status_p = WEFT_STATUS_INTERNAL;
        snprintf (error, WEFT_TEXT_MAX + 1, "cannot read tenant %s's release metadata", tenant);
        director_batch_destroy (&self);
        return NULL;
    }
    s_append (self, BUNDLE_MANIFEST, self->manifest_data, self->target.manifest_size);
    //  Room for an assignment and the end record
    if (self->shared_size + BUNDLE_OFFER_EXTRA > DIRECTOR_OFFER_MAX) {
        *status_p = WEFT_STATUS_BAD_REQUEST;
        snprintf (error, WEFT_TEXT_MAX + 1, "the offer of %s %s would be %zu bytes: more than "
                  "custody carries to one device (%d)", name, version,
                  self->shared_size + BUNDLE_OFFER_EXTRA, DIRECTOR_OFFER_MAX);
        director_batch_destroy (&self);
        return NULL;
    }
    crypto_generichash_init (&self->hashed, NULL, 0, 32);
    crypto_generichash_update (&self->hashed, self->shared, self->shared_size);
    *status_p = WEFT_STATUS_OK;
    return self;
}

void
director_batch_destroy (director_batch_t **self_p)
{
    assert (self_p);
    director_batch_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->count; i++)
            free (self->offers [i].assignment);
        free (self->offers);
        free (self->shared);
        free (self->manifest_data);
        free (self);
        *self_p = NULL;
    }
}

const manifest_t *
director_batch_manifest (director_batch_t *self)
{
    assert (self);
    return &self->manifest;
}

const char *
director_batch_hash (director_batch_t *self)
{
    assert (self);
    return self->hash_hex;
}

size_t
director_batch_size (director_batch_t *self)
{
    assert (self);
    return self->count;
}

//  The assignment of the batch's release to device, unsigned
static void
s_assignment (director_batch_t *self, release_assignment_t *assignment, const char *device,
              uint64_t now_ms, uint64_t expires_ms)
{
    memset (assignment, 0, sizeof *assignment);
    snprintf (assignment->device, sizeof assignment->device, "%s", device);
    snprintf (assignment->tenant, sizeof assignment->tenant, "%s", self->tenant);
    snprintf (assignment->name, sizeof assignment->name, "%s", self->target.name);
    snprintf (assignment->version, sizeof assignment->version, "%s", self->target.version);
    memcpy (assignment->manifest_hash, self->target.manifest_hash, 32);
    assignment->issued_ms = now_ms;
    assignment->expires_ms = expires_ms;
}

int
director_batch_add (director_batch_t *self, store_txn_t *txn, const char *device,
                    const char *type, const char *operator_name,
                    const uint8_t secret [WEFT_SECRET_SIZE], uint64_t now_ms,
                    uint64_t expires_ms, char error [WEFT_TEXT_MAX + 1])
{
    assert (self && txn && device && operator_name && secret && error);
    if (!type || !manifest_fits (&self->manifest, type)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "device %s is of type %.64s; %s %s is for %.64s",
                  device, type && *type? type: "(none)", self->target.name,
                  self->target.version, self->manifest.types);
        return WEFT_STATUS_BAD_REQUEST;
    }
    release_assignment_t assignment;
    s_assignment (self, &assignment, device, now_ms, expires_ms);
    s_offer_t offer;
    snprintf (offer.device, sizeof offer.device, "%s", device);
    if (release_assign (&assignment, secret, &offer.assignment, &offer.size)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "cannot sign the assignment to %s", device);
        return WEFT_STATUS_INTERNAL;
    }
    json_t *record = json_pack ("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "tenant", self->tenant,
                                "name", self->target.name, "version", self->target.version,
                                "manifest_hash", self->hash_hex, "issued_ms",
                                (json_int_t) now_ms, "expires_ms", (json_int_t) expires_ms,
                                "by", operator_name);
    char *text = json_dumps (record, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (record);
    char key [WEFT_NAME_MAX + 8];
    snprintf (key, sizeof key, "asg/%s", device);
    int rc = store_put (txn, ARTREPO_TABLE, key, strlen (key), text, strlen (text));
    free (text);
    if (rc) {
        free (offer.assignment);
        snprintf (error, WEFT_TEXT_MAX + 1, "store write failed");
        return WEFT_STATUS_INTERNAL;
    }
    if (self->count == self->alloc) {
        self->alloc = self->alloc? 2 * self->alloc: 16;
        self->offers = (s_offer_t *) realloc (self->offers, self->alloc * sizeof (s_offer_t));
        assert (self->offers);
    }
    self->offers [self->count++] = offer;
    return WEFT_STATUS_OK;
}

uint8_t *
director_batch_offer (director_batch_t *self, size_t index, const char **device_p,
                      size_t *size_p)
{
    assert (self && device_p && size_p && index < self->count);
    s_offer_t *offer = &self->offers [index];
    size_t size = self->shared_size + 2 * BUNDLE_HEADER_SIZE + offer->size + 32;
    uint8_t *data = (uint8_t *) zmalloc (size);
    memcpy (data, self->shared, self->shared_size);
    uint8_t *at = data + self->shared_size;
    bundle_header_put (at, BUNDLE_ASSIGNMENT, offer->size);
    memcpy (at + BUNDLE_HEADER_SIZE, offer->assignment, offer->size);
    at += BUNDLE_HEADER_SIZE + offer->size;
    crypto_generichash_state state = self->hashed;
    crypto_generichash_update (&state, data + self->shared_size,
                               BUNDLE_HEADER_SIZE + offer->size);
    bundle_header_put (at, BUNDLE_END, 32);
    crypto_generichash_final (&state, at + BUNDLE_HEADER_SIZE, 32);
    *device_p = offer->device;
    *size_p = size;
    return data;
}

size_t
director_batch_assignment_size (director_batch_t *self, const char *device, uint64_t now_ms,
                                uint64_t expires_ms)
{
    assert (self && device);
    release_assignment_t assignment;
    s_assignment (self, &assignment, device, now_ms, expires_ms);
    //  The signature's size does not depend on the key
    uint8_t secret [WEFT_SECRET_SIZE] = { 0 };
    uint8_t *data = NULL;
    size_t size = 0;
    if (release_assign (&assignment, secret, &data, &size))
        size = 0;
    free (data);
    return size;
}

const uint8_t *
director_batch_shared (director_batch_t *self, size_t *size_p)
{
    assert (self && size_p);
    *size_p = self->shared_size;
    return self->shared;
}

const uint8_t *
director_batch_assignment (director_batch_t *self, size_t index, const char **device_p,
                           size_t *size_p)
{
    assert (self && device_p && size_p && index < self->count);
    *device_p = self->offers [index].device;
    *size_p = self->offers [index].size;
    return self->offers [index].assignment;
}

json_t *
director_assigned (store_txn_t *txn, const char *device)
{
    assert (txn && device);
    char key [WEFT_NAME_MAX + 8];
    snprintf (key, sizeof key, "asg/%s", device);
    size_t size;
    char *text = (char *) store_get (txn, ARTREPO_TABLE, key, strlen (key), &size);
    json_t *record = text? json_loadb (text, size, 0, NULL): NULL;
    free (text);
    return record;
}
