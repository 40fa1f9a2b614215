/*  relroot - each tenant's signed release root (see .h)
    Tenants are names (registry_name_valid): no "/" or NUL, so the keys
    split one way only.  */

#include "proto/corelib.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/relroot.h"

#define S_VERSION_KEY   "root/%s/%020" PRIu64
#define S_NEWEST_KEY    "rootnew/%s"

static uint8_t *
s_get (store_txn_t *txn, const char *key, size_t *size_p)
{
    return (uint8_t *) store_get (txn, RELROOT_TABLE, key, strlen (key), size_p);
}

int
relroot_set (store_txn_t *txn, const char *tenant, const uint8_t *root, size_t size,
             uint64_t now_ms, release_root_t *decoded, char *error, size_t error_size)
{
    assert (txn && tenant && error);
    if (!registry_name_valid (tenant)) {
        snprintf (error, error_size, "release roots are per tenant: '%s' is not one", tenant);
        return -1;
    }
    if (!root || size == 0 || size > RELROOT_MAX) {
        snprintf (error, error_size, "a release root is 1 to %d bytes", RELROOT_MAX);
        return -1;
    }
    release_role_t role;
    const uint8_t *body;
    size_t body_size;
    release_root_t next;
    if (release_open (root, size, &role, &body, &body_size) || role != RELEASE_ROOT
    ||  release_root_decode (&next, body, body_size)) {
        snprintf (error, error_size, "not a signed release root (weft-artifact root, then sign)");
        return -1;
    }
    if (!streq (next.tenant, tenant)) {
        snprintf (error, error_size, "the root is tenant %s's, not %s's", next.tenant, tenant);
        return -1;
    }
    //  Its own threshold and expiry, whether first or a rotation
    release_trust_t trust;
    int rc = release_trust_init (&trust, root, size, now_ms);
    if (rc) {
        snprintf (error, error_size, "root version %" PRIu64 " refused: %s", next.version,
                  release_strerror (rc));
        return -1;
    }
    char key [WEFT_NAME_MAX + 32];
    snprintf (key, sizeof key, S_NEWEST_KEY, tenant);
    size_t stored_size = 0;
    uint8_t *stored = s_get (txn, key, &stored_size);
    if (stored && stored_size == size && memcmp (stored, root, size) == 0) {
        free (stored);
        if (decoded)
            *decoded = next;
        return 1;
    }
    if (stored) {
        //  A rotation: the stored root must vouch for it. The stored one
        //  may have expired since (its keys still decide its successor).
        rc = release_trust_init (&trust, stored, stored_size, 0);
        uint64_t stored_version = trust.root.version;
        free (stored);
        if (rc == 0)
            rc = release_trust_update (&trust, root, size, now_ms);
        if (rc == RELEASE_ROLLED_BACK)
            snprintf (error, error_size, "root version %" PRIu64 " is not newer than the "
                      "stored version %" PRIu64, next.version, stored_version);
        else
        if (rc == RELEASE_MISMATCH)
            snprintf (error, error_size, "root version %" PRIu64 " does not follow the "
                      "stored version %" PRIu64 ": set version %" PRIu64 " first",
                      next.version, stored_version, stored_version + 1);
        else
        if (rc)
            snprintf (error, error_size, "root version %" PRIu64 " does not follow from "
                      "the stored version %" PRIu64 ": %s", next.version, stored_version,
                      release_strerror (rc));
        if (rc)
            return -1;
    }
    char version_key [WEFT_NAME_MAX + 32];
    snprintf (version_key, sizeof version_key, S_VERSION_KEY, tenant, next.version);
    if (store_put (txn, RELROOT_TABLE, version_key, strlen (version_key), root, size)
    ||  store_put (txn, RELROOT_TABLE, key, strlen (key), root, size)) {
        snprintf (error, error_size, "store write failed");
        return PROTO_ERR_IO;
    }
    if (decoded)
        *decoded = next;
    return 0;
}

uint8_t *
relroot_get (store_txn_t *txn, const char *tenant, size_t *size_p)
{
    assert (txn && tenant && size_p);
    *size_p = 0;
    if (!registry_name_valid (tenant))
        return NULL;
    char key [WEFT_NAME_MAX + 32];
    snprintf (key, sizeof key, S_NEWEST_KEY, tenant);
    return s_get (txn, key, size_p);
}

typedef struct {
    relroot_fn *fn;
    void *arg;
} s_each_t;

static int
s_each_one (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    s_each_t *each = (s_each_t *) arg;
    //  The version is the key's last 20 digits
    uint64_t version = 0;
    for (size_t i = key_size >= 20? key_size - 20: key_size; i < key_size; i++)
        version = version * 10 + (uint64_t) (((const char *) key) [i] - '0');
    return each->fn (each->arg, version, (const uint8_t *) value, size);
}

int
relroot_each (store_txn_t *txn, const char *tenant, relroot_fn *fn, void *arg)
{
    assert (txn && tenant && fn);
    if (!registry_name_valid (tenant))
        return 0;
    char prefix [WEFT_NAME_MAX + 8];
    snprintf (prefix, sizeof prefix, "root/%s/", tenant);
    s_each_t each = { fn, arg };
    int64_t count = store_scan (txn, RELROOT_TABLE, prefix, strlen (prefix), s_each_one, &each);
    return count < 0? -1: (int) count;
}
