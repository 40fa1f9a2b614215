/*  release_trust - the chain a device walks before it installs: root,
    timestamp, snapshot, targets, then the director's assignment and the
    manifest (see release.h). Trust moves only forward and only whole: a
    refused role leaves it as it was.  */

#include "proto/corelib.h"
#include "proto/codec.h"
#include "proto/keys.h"
#include "proto/release.h"
#include "proto/release_internal.h"

#define S_ASSIGN_ITEMS  8
#define S_ASSIGN_FORMAT 1

static const release_keyset_t *
s_keyset (const release_root_t *root, release_role_t role)
{
    return &root->roles [role - 1];
}

int
release_trust_init (release_trust_t *trust, const uint8_t *root, size_t size,
                    uint64_t now_ms)
{
    assert (trust);
    memset (trust, 0, sizeof *trust);
    release_signed_t signed_root;
    release_root_t decoded;
    int rc = release_signed_open (&signed_root, root, size);
    if (!rc && signed_root.role != RELEASE_ROOT)
        rc = RELEASE_MALFORMED;
    if (!rc)
        rc = release_root_decode (&decoded, signed_root.body, signed_root.body_size);
    if (!rc && !release_threshold_met (&signed_root, s_keyset (&decoded, RELEASE_ROOT)))
        rc = RELEASE_THRESHOLD;
    if (!rc && decoded.expires_ms <= now_ms)
        rc = RELEASE_EXPIRED;
    if (!rc)
        trust->root = decoded;
    return rc;
}

static bool
s_keyset_equal (const release_keyset_t *a, const release_keyset_t *b)
{
    return a->threshold == b->threshold && a->key_count == b->key_count
        && memcmp (a->keys, b->keys, a->key_count * WEFT_KEY_SIZE) == 0;
}

//  A new root: the next version, signed by a threshold of the old
//  root's keys and of its own. An intermediate root may have expired
//  (a device offline through two rotations walks both); the roles
//  below check the root they end on.
static int
s_update_root (release_trust_t *trust, const release_signed_t *signed_root)
{
    release_root_t next;
    int rc = release_root_decode (&next, signed_root->body, signed_root->body_size);
    if (rc)
        return rc;
    if (!streq (next.tenant, trust->root.tenant))
        return RELEASE_TENANT;
    if (next.version <= trust->root.version)
        return RELEASE_ROLLED_BACK;
    if (next.version != trust->root.version + 1)
        return RELEASE_MISMATCH;
    if (!release_threshold_met (signed_root, s_keyset (&trust->root, RELEASE_ROOT))
    ||  !release_threshold_met (signed_root, s_keyset (&next, RELEASE_ROOT)))
        return RELEASE_THRESHOLD;
    //  New timestamp or snapshot keys: what the old keys signed is
    //  forgotten, so a compromised key's fast-forwarded versions do not
    //  lock the device out (TUF 5.3.11)
    if (!s_keyset_equal (s_keyset (&next, RELEASE_TIMESTAMP),
                         s_keyset (&trust->root, RELEASE_TIMESTAMP))) {
        trust->timestamp_version = 0;
        trust->timestamp_expires_ms = 0;
        trust->snapshot_named = 0;
    }
    if (!s_keyset_equal (s_keyset (&next, RELEASE_SNAPSHOT),
                         s_keyset (&trust->root, RELEASE_SNAPSHOT))) {
        trust->snapshot_version = 0;
        trust->snapshot_expires_ms = 0;
        trust->targets_named = 0;
    }
    trust->root = next;
    return RELEASE_OK;
}

//  A role that names the one below it must be signed by its keys,
//  of the trusted tenant, the version the role above named (named_by,
//  0 for the timestamp, which nothing names), not older than the
//  trusted version, and unexpired
static int
s_admit (const release_trust_t *trust, const release_signed_t *signed_role,
         const char *tenant, uint64_t version, uint64_t named_by, uint64_t trusted,
         uint64_t expires_ms, uint64_t now_ms)
{
    if (!streq (tenant, trust->root.tenant))
        return RELEASE_TENANT;
    if (!release_threshold_met (signed_role, s_keyset (&trust->root, signed_role->role)))
        return RELEASE_THRESHOLD;
    if (named_by && version != named_by)
        return RELEASE_MISMATCH;
    if (version < trusted)
        return RELEASE_ROLLED_BACK;
    return expires_ms > now_ms? RELEASE_OK: RELEASE_EXPIRED;
}

//  Are the bytes the ones the role above named (named: its version, 0
//  if nothing is trusted above them yet)?
static int
s_named (const uint8_t *data, size_t size, uint64_t named, const uint8_t hash [32])
{
    if (!named)
        return RELEASE_ORDER;
    uint8_t actual [32];
    keys_hash (data, size, actual);
    return memcmp (actual, hash, 32)? RELEASE_MISMATCH: RELEASE_OK;
}

//  A timestamp (naming a snapshot) or a snapshot (naming targets)
static int
s_update_pointer (release_trust_t *trust, const release_signed_t *signed_role,
                  const uint8_t *data, size_t size, uint64_t now_ms)
{
    bool timestamp = signed_role->role == RELEASE_TIMESTAMP;
    int rc = timestamp? RELEASE_OK: s_named (data, size, trust->snapshot_named,
                                              trust->snapshot_hash);
    uint64_t version, expires_ms, named;
    uint8_t hash [32];
    char tenant [WEFT_NAME_MAX + 1];
    if (!rc)
        rc = release_pointer_decode (signed_role->body, signed_role->body_size, &version,
                                     &expires_ms, tenant, &named, hash);
    if (!rc)
        rc = s_admit (trust, signed_role, tenant, version,
                      timestamp? 0: trust->snapshot_named,
                      timestamp? trust->timestamp_version: trust->snapshot_version,
                      expires_ms, now_ms);
    //  Nor may it name an older version than the one trusted below it
    if (!rc && named < (timestamp? trust->snapshot_version: trust->targets_version))
        rc = RELEASE_ROLLED_BACK;
    if (rc)
        return rc;
    if (timestamp) {
        trust->timestamp_version = version;
        trust->timestamp_expires_ms = expires_ms;
        trust->snapshot_named = named;
        memcpy (trust->snapshot_hash, hash, 32);
    }
    else {
        trust->snapshot_version = version;
        trust->snapshot_expires_ms = expires_ms;
        trust->targets_named = named;
        memcpy (trust->targets_hash, hash, 32);
    }
    return RELEASE_OK;
}

static int
s_update_targets (release_trust_t *trust, const release_signed_t *signed_role,
                  const uint8_t *data, size_t size, uint64_t now_ms)
{
    int rc = s_named (data, size, trust->targets_named, trust->targets_hash);
    uint64_t version, expires_ms;
    char tenant [WEFT_NAME_MAX + 1];
    release_target_t targets [RELEASE_TARGETS_MAX];
    size_t count;
    if (!rc)
        rc = release_targets_decode (signed_role->body, signed_role->body_size, &version,
                                     &expires_ms, tenant, targets, &count);
    if (!rc)
        rc = s_admit (trust, signed_role, tenant, version, trust->targets_named,
                      trust->targets_version, expires_ms, now_ms);
    if (rc)
        return rc;
    trust->targets_version = version;
    trust->targets_expires_ms = expires_ms;
    trust->target_count = count;
    memcpy (trust->targets, targets, count * sizeof targets [0]);
    return RELEASE_OK;
}

int
release_trust_update (release_trust_t *trust, const uint8_t *data, size_t size,
                      uint64_t now_ms)
{
    assert (trust);
    release_signed_t signed_role;
    int rc = release_signed_open (&signed_role, data, size);
    if (rc)
        return rc;
    if (signed_role.role == RELEASE_ROOT)
        return s_update_root (trust, &signed_role);
    //  Nothing signed under an expired root is taken
    if (trust->root.expires_ms <= now_ms)
        return RELEASE_EXPIRED;
    if (signed_role.role == RELEASE_TARGETS)
        return s_update_targets (trust, &signed_role, data, size, now_ms);
    return s_update_pointer (trust, &signed_role, data, size, now_ms);
}

//  --------------------------------------------------------------------------
//  The director's assignment

int
release_assign (const release_assignment_t *assignment,
                const uint8_t secret [WEFT_SECRET_SIZE], uint8_t **out_p, size_t *size_p)
{
    assert (assignment && secret && out_p && size_p);
    *out_p = NULL;
    *size_p = 0;
    codec_writer_t *w = codec_writer_new (512);
    codec_put_array (w, S_ASSIGN_ITEMS);
    codec_put_uint (w, S_ASSIGN_FORMAT);
    codec_put_str (w, assignment->device, WEFT_NAME_MAX);
    codec_put_str (w, assignment->tenant, WEFT_NAME_MAX);
    codec_put_str (w, assignment->name, WEFT_NAME_MAX);
    codec_put_str (w, assignment->version, MANIFEST_VERSION_MAX);
    codec_put_bin (w, assignment->manifest_hash, 32);
    codec_put_uint (w, assignment->issued_ms);
    codec_put_uint (w, assignment->expires_ms);
    uint8_t *body;
    size_t body_size;
    int rc = codec_writer_finish (&w, &body, &body_size);
    if (rc)
        return rc;
    rc = codec_seal (RELEASE_ASSIGN_CONTEXT, body, body_size, secret, out_p, size_p);
    free (body);
    return rc;
}

int
release_assignment_open (release_assignment_t *assignment, const uint8_t *data, size_t size,
                         const uint8_t coord_key [WEFT_KEY_SIZE])
{
    assert (assignment && coord_key);
    memset (assignment, 0, sizeof *assignment);
    codec_reader_t *r;
    if (codec_reader_new (&r, data, size))
        return RELEASE_MALFORMED;
    const uint8_t *body = NULL;
    size_t body_size = 0;
    uint8_t sig [WEFT_SIG_SIZE];
    int rc = codec_items (r) == 2 && codec_get_binref (r, 0, &body, &body_size) == 0
          && codec_get_bin (r, 1, sig, sizeof sig) == 0? RELEASE_OK: RELEASE_MALFORMED;
    codec_reader_destroy (&r);
    if (rc)
        return rc;
    if (codec_verify (RELEASE_ASSIGN_CONTEXT, body, body_size, sig, coord_key))
        return RELEASE_NOT_ASSIGNED;
    if (codec_reader_new (&r, body, body_size))
        return RELEASE_MALFORMED;
    uint64_t format = 0;
    if (codec_items (r) != S_ASSIGN_ITEMS
    ||  codec_get_uint (r, 0, UINT64_MAX, &format) || format != S_ASSIGN_FORMAT
    ||  codec_get_str (r, 1, assignment->device, WEFT_NAME_MAX)
    ||  codec_get_str (r, 2, assignment->tenant, WEFT_NAME_MAX)
    ||  codec_get_str (r, 3, assignment->name, WEFT_NAME_MAX)
    ||  codec_get_str (r, 4, assignment->version, MANIFEST_VERSION_MAX)
    ||  codec_get_bin (r, 5, assignment->manifest_hash, 32)
    ||  codec_get_uint (r, 6, UINT64_MAX, &assignment->issued_ms)
    ||  codec_get_uint (r, 7, UINT64_MAX, &assignment->expires_ms))
        rc = RELEASE_MALFORMED;
    codec_reader_destroy (&r);
    if (rc)
        memset (assignment, 0, sizeof *assignment);
    return rc;
}

bool
release_downgrade_allowed (const release_root_t *root, const char *name,
                           uint64_t anti_rollback)
{
    assert (root && name);
    for (size_t i = 0; i < root->downgrade_count; i++)
        if (streq (root->downgrades [i].name, name)
        &&  anti_rollback >= root->downgrades [i].floor)
            return true;
    return false;
}

//  --------------------------------------------------------------------------
//  The whole check, before a byte of the artifact is fetched

//  Is every role of the chain fresh at now?
static bool
s_fresh (const release_trust_t *trust, uint64_t now_ms)
{
    return trust->root.expires_ms > now_ms && trust->timestamp_expires_ms > now_ms
        && trust->snapshot_expires_ms > now_ms && trust->targets_expires_ms > now_ms;
}

int
release_check (const release_trust_t *trust, const uint8_t *assignment_data,
               size_t assignment_size, const uint8_t coord_key [WEFT_KEY_SIZE],
               const char *device, const char *type, uint64_t installed_anti_rollback,
               const uint8_t *manifest_data, size_t manifest_size, uint64_t now_ms,
               manifest_t *manifest)
{
    assert (trust && coord_key && device && type && manifest);
    memset (manifest, 0, sizeof *manifest);
    release_assignment_t assignment;
    int rc = release_assignment_open (&assignment, assignment_data, assignment_size,
                                      coord_key);
    if (rc)
        return rc == RELEASE_MALFORMED? RELEASE_NOT_ASSIGNED: rc;
    if (!streq (assignment.device, device) || assignment.expires_ms <= now_ms)
        return RELEASE_NOT_ASSIGNED;
    if (!streq (assignment.tenant, trust->root.tenant))
        return RELEASE_TENANT;
    if (!trust->targets_version || !s_fresh (trust, now_ms))
        return RELEASE_EXPIRED;
    const release_target_t *target = NULL;
    for (size_t i = 0; i < trust->target_count && !target; i++)
        if (streq (trust->targets [i].name, assignment.name)
        &&  streq (trust->targets [i].version, assignment.version))
            target = &trust->targets [i];
    if (!target)
        return RELEASE_UNKNOWN;
    uint8_t hash [32];
    keys_hash (manifest_data, manifest_size, hash);
    if (memcmp (target->manifest_hash, assignment.manifest_hash, 32)
    ||  memcmp (target->manifest_hash, hash, 32) || target->manifest_size != manifest_size)
        return RELEASE_MISMATCH;
    manifest_t decoded;
    if (manifest_decode (&decoded, manifest_data, manifest_size))
        return RELEASE_MALFORMED;
    if (!streq (decoded.name, target->name) || !streq (decoded.version, target->version))
        return RELEASE_MISMATCH;
    if (!manifest_fits (&decoded, type))
        return RELEASE_WRONG_TYPE;
    if (decoded.anti_rollback < installed_anti_rollback
    &&  !release_downgrade_allowed (&trust->root, decoded.name, decoded.anti_rollback))
        return RELEASE_ANTI_ROLLBACK;
    *manifest = decoded;
    return RELEASE_OK;
}
