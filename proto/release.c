/*  release - signed release metadata and the director's assignment
    (see release.h). Metadata comes from bundles, peers and the
    coordinator: the codec bounds it, signatures are counted per key of
    the role (a key counts once however often it signs), and trust moves
    only forward, one checked role at a time.  */

#include "proto/corelib.h"
#include "proto/codec.h"
#include "proto/keys.h"
#include "proto/release.h"
#include "proto/release_internal.h"

#define S_ROOT_ITEMS    11
#define S_POINTER_ITEMS 5

const char *
release_strerror (int result)
{
    switch (result) {
        case RELEASE_OK:            return "trusted";
        case RELEASE_MALFORMED:     return "release metadata malformed";
        case RELEASE_THRESHOLD:     return "not signed by a threshold of the role's keys";
        case RELEASE_EXPIRED:       return "release metadata expired (frozen)";
        case RELEASE_ROLLED_BACK:   return "release metadata older than the trusted";
        case RELEASE_MISMATCH:      return "release metadata does not match the version or "
                                           "hash the chain names (mix and match)";
        case RELEASE_UNKNOWN:       return "no such release in the trusted targets";
        case RELEASE_WRONG_TYPE:    return "release not for this device type";
        case RELEASE_ANTI_ROLLBACK: return "release below the installed anti-rollback version";
        case RELEASE_NOT_ASSIGNED:  return "no valid assignment of the release to this device";
        case RELEASE_TENANT:        return "release metadata of another tenant";
        case RELEASE_ORDER:         return "release metadata before the role that names it";
        default:                    return "unknown release result";
    }
}

static const char *
s_context (release_role_t role)
{
    switch (role) {
        case RELEASE_ROOT:      return "weft-root-v1";
        case RELEASE_TARGETS:   return "weft-targets-v1";
        case RELEASE_SNAPSHOT:  return "weft-snapshot-v1";
        case RELEASE_TIMESTAMP: return "weft-timestamp-v1";
    }
    return NULL;
}

//  --------------------------------------------------------------------------
//  Signed roles

int
release_signed_open (release_signed_t *self, const uint8_t *data, size_t size)
{
    memset (self, 0, sizeof *self);
    codec_reader_t *r;
    if (codec_reader_new (&r, data, size))
        return RELEASE_MALFORMED;
    uint64_t role = 0;
    size_t sigs_size = 0;
    int rc = codec_items (r) == 3? 0: PROTO_ERR_TYPE;
    if (!rc)
        rc = codec_get_uint (r, 0, RELEASE_TIMESTAMP, &role);
    if (!rc)
        rc = codec_get_binref (r, 1, &self->body, &self->body_size);
    if (!rc)
        rc = codec_get_binref (r, 2, &self->sigs, &sigs_size);
    codec_reader_destroy (&r);
    if (rc || role < RELEASE_ROOT || sigs_size % RELEASE_SIG_ENTRY
    ||  sigs_size / RELEASE_SIG_ENTRY > RELEASE_SIGS_MAX) {
        memset (self, 0, sizeof *self);
        return RELEASE_MALFORMED;
    }
    self->role = (release_role_t) role;
    self->sig_count = sigs_size / RELEASE_SIG_ENTRY;
    return RELEASE_OK;
}

static int
s_write_signed (release_role_t role, const uint8_t *body, size_t body_size,
                const uint8_t *sigs, size_t sig_count, uint8_t **out_p, size_t *size_p)
{
    codec_writer_t *w = codec_writer_new (body_size + sig_count * RELEASE_SIG_ENTRY + 32);
    codec_put_array (w, 3);
    codec_put_uint (w, role);
    codec_put_bin (w, body, body_size);
    codec_put_bin (w, sigs, sig_count * RELEASE_SIG_ENTRY);
    return codec_writer_finish (&w, out_p, size_p);
}

int
release_sign (release_role_t role, const uint8_t *body, size_t body_size,
              const uint8_t (*secrets) [WEFT_SECRET_SIZE], size_t secret_count,
              uint8_t **out_p, size_t *size_p)
{
    assert (body && out_p && size_p && (secrets || secret_count == 0));
    *out_p = NULL;
    *size_p = 0;
    if (!s_context (role) || secret_count > RELEASE_SIGS_MAX)
        return PROTO_ERR_VALUE;
    uint8_t sigs [RELEASE_SIGS_MAX * RELEASE_SIG_ENTRY];
    for (size_t i = 0; i < secret_count; i++) {
        //  An Ed25519 secret holds its public key in its second half
        memcpy (sigs + i * RELEASE_SIG_ENTRY, secrets [i] + 32, WEFT_KEY_SIZE);
        codec_sign (s_context (role), body, body_size, secrets [i],
                    sigs + i * RELEASE_SIG_ENTRY + WEFT_KEY_SIZE);
    }
    return s_write_signed (role, body, body_size, sigs, secret_count, out_p, size_p);
}

int
release_merge (const uint8_t *a, size_t a_size, const uint8_t *b, size_t b_size,
               uint8_t **out_p, size_t *size_p)
{
    assert (out_p && size_p);
    *out_p = NULL;
    *size_p = 0;
    release_signed_t one, two;
    if (release_signed_open (&one, a, a_size) || release_signed_open (&two, b, b_size))
        return RELEASE_MALFORMED;
    if (one.role != two.role || one.body_size != two.body_size
    ||  memcmp (one.body, two.body, one.body_size))
        return RELEASE_MISMATCH;
    uint8_t sigs [2 * RELEASE_SIGS_MAX * RELEASE_SIG_ENTRY];
    memcpy (sigs, one.sigs, one.sig_count * RELEASE_SIG_ENTRY);
    size_t count = one.sig_count;
    for (size_t j = 0; j < two.sig_count; j++) {
        const uint8_t *entry = two.sigs + j * RELEASE_SIG_ENTRY;
        bool known = false;
        for (size_t i = 0; i < count && !known; i++)
            known = memcmp (sigs + i * RELEASE_SIG_ENTRY, entry, WEFT_KEY_SIZE) == 0;
        if (!known)
            memcpy (sigs + count++ * RELEASE_SIG_ENTRY, entry, RELEASE_SIG_ENTRY);
    }
    if (count > RELEASE_SIGS_MAX)
        return RELEASE_THRESHOLD;
    return s_write_signed (one.role, one.body, one.body_size, sigs, count, out_p, size_p)
         ? RELEASE_MALFORMED: RELEASE_OK;
}

int
release_open (const uint8_t *data, size_t size, release_role_t *role_p,
              const uint8_t **body_p, size_t *body_size_p)
{
    release_signed_t self;
    int rc = release_signed_open (&self, data, size);
    if (role_p)
        *role_p = self.role;
    if (body_p)
        *body_p = self.body;
    if (body_size_p)
        *body_size_p = self.body_size;
    return rc;
}

int
release_signatures (const uint8_t *data, size_t size, release_signed_view_t *view)
{
    assert (view);
    memset (view, 0, sizeof *view);
    release_signed_t self;
    int rc = release_signed_open (&self, data, size);
    for (size_t i = 0; rc == 0 && i < self.sig_count; i++)
        memcpy (view->keys [view->count++], self.sigs + i * RELEASE_SIG_ENTRY, WEFT_KEY_SIZE);
    return rc;
}

//  Do valid signatures of at least keyset's threshold of its keys sign
//  the role? Each key counts once.
bool
release_threshold_met (const release_signed_t *self, const release_keyset_t *keyset)
{
    uint32_t valid = 0;
    for (size_t k = 0; k < keyset->key_count && valid < keyset->threshold; k++)
        for (size_t i = 0; i < self->sig_count; i++) {
            const uint8_t *entry = self->sigs + i * RELEASE_SIG_ENTRY;
            if (memcmp (entry, keyset->keys [k], WEFT_KEY_SIZE) == 0
            &&  codec_verify (s_context (self->role), self->body, self->body_size,
                              entry + WEFT_KEY_SIZE, keyset->keys [k]) == 0) {
                valid++;
                break;
            }
        }
    return keyset->threshold > 0 && valid >= keyset->threshold;
}

//  --------------------------------------------------------------------------
//  Bodies

static void
s_put_keyset (codec_writer_t *w, const release_keyset_t *keyset)
{
    codec_put_uint (w, keyset->threshold);
    codec_put_bin (w, keyset->keys, keyset->key_count * WEFT_KEY_SIZE);
}

//  A keyset of distinct keys with a threshold they can meet
static int
s_get_keyset (codec_reader_t *r, size_t index, release_keyset_t *keyset)
{
    uint64_t threshold;
    const uint8_t *keys;
    size_t size;
    if (codec_get_uint (r, index, RELEASE_KEYS_MAX, &threshold)
    ||  codec_get_binref (r, index + 1, &keys, &size)
    ||  size % WEFT_KEY_SIZE || size / WEFT_KEY_SIZE > RELEASE_KEYS_MAX)
        return RELEASE_MALFORMED;
    keyset->threshold = (uint32_t) threshold;
    keyset->key_count = size / WEFT_KEY_SIZE;
    memcpy (keyset->keys, keys, size);
    for (size_t i = 0; i < keyset->key_count; i++)
        for (size_t j = 0; j < i; j++)
            if (memcmp (keyset->keys [i], keyset->keys [j], WEFT_KEY_SIZE) == 0)
                return RELEASE_MALFORMED;
    return threshold >= 1 && threshold <= keyset->key_count? RELEASE_OK: RELEASE_MALFORMED;
}

int
release_root_encode (const release_root_t *root, uint8_t **out_p, size_t *size_p)
{
    assert (root && out_p && size_p);
    for (int role = 0; role < 4; role++)
        if (root->roles [role].key_count > RELEASE_KEYS_MAX
        ||  root->roles [role].threshold < 1
        ||  root->roles [role].threshold > root->roles [role].key_count)
            return PROTO_ERR_VALUE;
    if (root->downgrade_count > RELEASE_DOWNGRADES_MAX)
        return PROTO_ERR_VALUE;
    codec_writer_t *w = codec_writer_new (1024);
    //  Without downgrades, the root as it always was
    size_t count = root->downgrade_count;
    codec_put_array (w, S_ROOT_ITEMS + (count? 1 + 2 * count: 0));
    codec_put_uint (w, root->version);
    codec_put_uint (w, root->expires_ms);
    codec_put_str (w, root->tenant, WEFT_NAME_MAX);
    for (int role = 0; role < 4; role++)
        s_put_keyset (w, &root->roles [role]);
    if (count)
        codec_put_uint (w, count);
    for (size_t i = 0; i < count; i++) {
        codec_put_str (w, root->downgrades [i].name, WEFT_NAME_MAX);
        codec_put_uint (w, root->downgrades [i].floor);
    }
    return codec_writer_finish (&w, out_p, size_p);
}

//  version, expires_ms and tenant, the first three items of every body
static int
s_get_head (codec_reader_t *r, uint64_t *version, uint64_t *expires_ms, char *tenant)
{
    return codec_get_uint (r, 0, UINT64_MAX, version)
        || codec_get_uint (r, 1, UINT64_MAX, expires_ms)
        || codec_get_str (r, 2, tenant, WEFT_NAME_MAX)? RELEASE_MALFORMED: RELEASE_OK;
}

int
release_root_decode (release_root_t *root, const uint8_t *body, size_t size)
{
    assert (root);
    memset (root, 0, sizeof *root);
    codec_reader_t *r;
    if (codec_reader_new (&r, body, size))
        return RELEASE_MALFORMED;
    size_t items = codec_items (r);
    uint64_t count = 0;
    int rc = items == S_ROOT_ITEMS
          || (items > S_ROOT_ITEMS
          &&  codec_get_uint (r, S_ROOT_ITEMS, RELEASE_DOWNGRADES_MAX, &count) == 0
          &&  count >= 1 && items == S_ROOT_ITEMS + 1 + 2 * count)? RELEASE_OK: RELEASE_MALFORMED;
    if (!rc)
        rc = s_get_head (r, &root->version, &root->expires_ms, root->tenant);
    for (int role = 0; role < 4 && !rc; role++)
        rc = s_get_keyset (r, 3 + 2 * role, &root->roles [role]);
    for (size_t i = 0; i < count && !rc; i++) {
        release_downgrade_t *downgrade = &root->downgrades [i];
        size_t at = S_ROOT_ITEMS + 1 + 2 * i;
        if (codec_get_str (r, at, downgrade->name, WEFT_NAME_MAX)
        ||  codec_get_uint (r, at + 1, UINT64_MAX, &downgrade->floor) || !downgrade->name [0])
            rc = RELEASE_MALFORMED;
    }
    root->downgrade_count = rc? 0: (size_t) count;
    codec_reader_destroy (&r);
    if (rc || !root->tenant [0])
        memset (root, 0, sizeof *root);
    return rc? rc: root->tenant [0]? RELEASE_OK: RELEASE_MALFORMED;
}

int
release_targets_encode (uint64_t version, uint64_t expires_ms, const char *tenant,
                        const release_target_t *targets, size_t count,
                        uint8_t **out_p, size_t *size_p)
{
    assert (tenant && out_p && size_p && (targets || count == 0));
    if (count > RELEASE_TARGETS_MAX)
        return PROTO_ERR_VALUE;
    codec_writer_t *w = codec_writer_new (256 + count * 160);
    codec_put_array (w, 4 + 4 * count);
    codec_put_uint (w, version);
    codec_put_uint (w, expires_ms);
    codec_put_strn (w, tenant, strlen (tenant), WEFT_NAME_MAX);
    codec_put_uint (w, count);
    for (size_t i = 0; i < count; i++) {
        codec_put_str (w, targets [i].name, WEFT_NAME_MAX);
        codec_put_str (w, targets [i].version, MANIFEST_VERSION_MAX);
        codec_put_bin (w, targets [i].manifest_hash, 32);
        codec_put_uint (w, targets [i].manifest_size);
    }
    return codec_writer_finish (&w, out_p, size_p);
}

int
release_targets_decode (const uint8_t *body, size_t size, uint64_t *version, uint64_t *expires_ms,
                  char *tenant, release_target_t *targets, size_t *count_p)
{
    codec_reader_t *r;
    if (codec_reader_new (&r, body, size))
        return RELEASE_MALFORMED;
    uint64_t count = 0;
    int rc = s_get_head (r, version, expires_ms, tenant);
    if (!rc && (codec_get_uint (r, 3, RELEASE_TARGETS_MAX, &count)
                || codec_items (r) != (int) (4 + 4 * count)))
        rc = RELEASE_MALFORMED;
    for (size_t i = 0; i < count && !rc; i++) {
        release_target_t *target = &targets [i];
        size_t at = 4 + 4 * i;
        if (codec_get_str (r, at, target->name, WEFT_NAME_MAX) || !target->name [0]
        ||  codec_get_str (r, at + 1, target->version, MANIFEST_VERSION_MAX)
        ||  !target->version [0]
        ||  codec_get_bin (r, at + 2, target->manifest_hash, 32)
        ||  codec_get_uint (r, at + 3, WEFT_FRAME_MAX, &target->manifest_size))
            rc = RELEASE_MALFORMED;
    }
    codec_reader_destroy (&r);
    *count_p = rc? 0: (size_t) count;
    return rc;
}

int
release_pointer_encode (uint64_t version, uint64_t expires_ms, const char *tenant,
                        uint64_t named_version, const uint8_t named_hash [32],
                        uint8_t **out_p, size_t *size_p)
{
    assert (tenant && named_hash && out_p && size_p);
    codec_writer_t *w = codec_writer_new (160);
    codec_put_array (w, S_POINTER_ITEMS);
    codec_put_uint (w, version);
    codec_put_uint (w, expires_ms);
    codec_put_strn (w, tenant, strlen (tenant), WEFT_NAME_MAX);
    codec_put_uint (w, named_version);
    codec_put_bin (w, named_hash, 32);
    return codec_writer_finish (&w, out_p, size_p);
}

int
release_pointer_decode (const uint8_t *body, size_t size, uint64_t *version, uint64_t *expires_ms,
                  char *tenant, uint64_t *named_version, uint8_t named_hash [32])
{
    codec_reader_t *r;
    if (codec_reader_new (&r, body, size))
        return RELEASE_MALFORMED;
    int rc = codec_items (r) == S_POINTER_ITEMS? RELEASE_OK: RELEASE_MALFORMED;
    if (!rc)
        rc = s_get_head (r, version, expires_ms, tenant);
    if (!rc && (codec_get_uint (r, 3, UINT64_MAX, named_version)
                || codec_get_bin (r, 4, named_hash, 32)))
        rc = RELEASE_MALFORMED;
    codec_reader_destroy (&r);
    return rc;
}

