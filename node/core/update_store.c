/*  update_store - the update module's records in the node's store (see
    update.h: "trust", "job", "installed" under the node's prefix)  */

#include "proto/corelib.h"
#include "proto/manifest.h"
#include "node/core/update.h"
#include "node/core/update_internal.h"

static size_t
s_key (update_t *self, const char *name, char *key)
{
    return (size_t) snprintf (key, UPDATE_KEY_MAX, "%s%s", self->prefix, name);
}

static int
s_put (update_t *self, store_txn_t *txn, const char *name, const void *data, size_t size)
{
    char key [UPDATE_KEY_MAX];
    size_t key_size = s_key (self, name, key);
    return store_put (txn, UPDATE_TABLE, key, key_size, data, size);
}

static void *
s_get (update_t *self, store_txn_t *txn, const char *name, size_t *size_p)
{
    char key [UPDATE_KEY_MAX];
    size_t key_size = s_key (self, name, key);
    return store_get (txn, UPDATE_TABLE, key, key_size, size_p);
}

//  Trust is kept as the struct itself behind a format byte: only this
//  build of this module ever reads it back (a node's own store)
static int
s_put_trust (update_t *self, store_txn_t *txn)
{
    size_t size = 1 + sizeof (release_trust_t);
    uint8_t *data = (uint8_t *) zmalloc (size);
    data [0] = UPDATE_TRUST_FORMAT;
    assert (self->trust);
    memcpy (data + 1, self->trust, sizeof (release_trust_t));
    int rc = s_put (self, txn, "trust", data, size);
    free (data);
    return rc;
}

//  Job record: format, state, hash (32), assignment hash (32),
//  anti-rollback be64, assignment issue time be64, the hash of the
//  release let go (32, zero: none), then name, version, handler,
//  previous, error and (format 4) offerer each NUL-terminated, then the
//  manifest's bytes
static int
s_put_job (update_t *self, store_txn_t *txn)
{
    const char *texts [] = { self->job_name, self->job_version, self->handler,
                             self->previous, self->error, self->offerer };
    size_t size = 2 + 64 + 16 + 32 + self->manifest_size;
    for (size_t i = 0; i < 6; i++)
        size += strlen (texts [i]) + 1;
    uint8_t *data = (uint8_t *) zmalloc (size);
    data [0] = UPDATE_JOB_FORMAT;
    data [1] = (uint8_t) self->state;
    memcpy (data + 2, self->hash, 32);
    memcpy (data + 34, self->assign_hash, 32);
    proto_put_be64 (data + 66, self->anti_rollback);
    proto_put_be64 (data + 74, self->assigned_ms);
    memcpy (data + 82, self->left, 32);
    size_t at = 114;
    for (size_t i = 0; i < 6; i++) {
        size_t length = strlen (texts [i]) + 1;
        memcpy (data + at, texts [i], length);
        at += length;
    }
    if (self->manifest_size)
        memcpy (data + at, self->manifest, self->manifest_size);
    int rc = s_put (self, txn, "job", data, size);
    free (data);
    return rc;
}

//  A NUL-terminated text at *at of data, into text (max bytes with the
//  NUL). False if it does not end within data or does not fit.
static bool
s_take_text (const uint8_t *data, size_t size, size_t *at, char *text, size_t max)
{
    const uint8_t *end = (const uint8_t *) memchr (data + *at, 0, size - *at);
    if (!end || (size_t) (end - data - *at) + 1 > max)
        return false;
    memcpy (text, data + *at, (size_t) (end - data - *at) + 1);
    *at = (size_t) (end - data) + 1;
    return true;
}

static int
s_load_job (update_t *self, const uint8_t *data, size_t size)
{
    size_t at = size == 0 || data [0] == 2? 82: data [0] == 1? 74: 114;
    if (size < at || data [0] < 1 || data [0] > UPDATE_JOB_FORMAT
    ||  data [1] > UPDATE_UNINSTALLED)
        return -1;
    self->state = data [1];
    memcpy (self->hash, data + 2, 32);
    memcpy (self->assign_hash, data + 34, 32);
    self->anti_rollback = proto_get_be64 (data + 66);
    self->assigned_ms = at >= 82? proto_get_be64 (data + 74): 0;
    memset (self->left, 0, 32);
    if (at == 114)
        memcpy (self->left, data + 82, 32);
    if (!s_take_text (data, size, &at, self->job_name, sizeof self->job_name)
    ||  !s_take_text (data, size, &at, self->job_version, sizeof self->job_version)
    ||  !s_take_text (data, size, &at, self->handler, sizeof self->handler)
    ||  !s_take_text (data, size, &at, self->previous, sizeof self->previous)
    ||  !s_take_text (data, size, &at, self->error, sizeof self->error))
        return -1;
    *self->offerer = 0;
    if (data [0] >= 4 && !s_take_text (data, size, &at, self->offerer, sizeof self->offerer))
        return -1;
    free (self->manifest);
    self->manifest_size = size - at;
    self->manifest = (uint8_t *) zmalloc (self->manifest_size + 1);
    memcpy (self->manifest, data + at, self->manifest_size);
    manifest_t manifest;
    if (self->manifest_size && manifest_decode (&manifest, self->manifest, self->manifest_size))
        return -1;
    self->chunk_count = self->manifest_size? manifest.chunk_count: 0;
    return 0;
}

//  Installed record: anti-rollback be64, manifest hash (32), name, version
static int
s_put_installed (update_t *self, store_txn_t *txn)
{
    size_t name_size = strlen (self->inst_name) + 1;
    size_t version_size = strlen (self->inst_version) + 1;
    uint8_t data [8 + 32 + WEFT_NAME_MAX + MANIFEST_VERSION_MAX + 2];
    proto_put_be64 (data, self->inst_anti_rollback);
    memcpy (data + 8, self->inst_hash, 32);
    memcpy (data + 40, self->inst_name, name_size);
    memcpy (data + 40 + name_size, self->inst_version, version_size);
    return s_put (self, txn, "installed", data, 40 + name_size + version_size);
}

static int
s_load_installed (update_t *self, const uint8_t *data, size_t size)
{
    size_t at = 40;
    if (size < 42)
        return -1;
    self->inst_anti_rollback = proto_get_be64 (data);
    memcpy (self->inst_hash, data + 8, 32);
    if (!s_take_text (data, size, &at, self->inst_name, sizeof self->inst_name)
    ||  !s_take_text (data, size, &at, self->inst_version, sizeof self->inst_version))
        return -1;
    //  Uninstalled: the name and anti-rollback version stay, no version
    self->installed = *self->inst_version != 0;
    return 0;
}

int
update_store_save (update_t *self, bool trust, bool installed)
{
    store_txn_t *txn = store_begin (self->store, true);
    int rc = txn? s_put_job (self, txn): -1;
    if (rc == 0 && trust)
        rc = s_put_trust (self, txn);
    if (rc == 0 && installed)
        rc = s_put_installed (self, txn);
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    if (rc)
        zsys_error ("update: cannot store the state of %s %s", self->job_name,
                    self->job_version);
    return rc;
}

int
update_store_trust (update_t *self)
{
    store_txn_t *txn = store_begin (self->store, true);
    int rc = txn? s_put_trust (self, txn): -1;
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    return rc;
}

int
update_store_load (update_t *self)
{
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return -1;
    int rc = 0;
    size_t size;
    self->trusting = false;
    self->installed = false;
    *self->inst_name = *self->inst_version = 0;
    self->inst_anti_rollback = 0;
    self->state = UPDATE_IDLE;
    uint8_t *data = (uint8_t *) s_get (self, txn, "trust", &size);
    if (data && size == 1 + sizeof (release_trust_t) && data [0] == UPDATE_TRUST_FORMAT) {
        if (!self->trust)
            self->trust = (release_trust_t *) zmalloc (sizeof (release_trust_t));
        memcpy (self->trust, data + 1, sizeof (release_trust_t));
        self->trusting = true;
    }
    else
    if (data)
        rc = -1;
    free (data);
    data = (uint8_t *) s_get (self, txn, "installed", &size);
    if (data && s_load_installed (self, data, size))
        rc = -1;
    free (data);
    data = (uint8_t *) s_get (self, txn, "job", &size);
    if (data && s_load_job (self, data, size))
        rc = -1;
    free (data);
    store_abort (&txn);
    if (rc)
        zsys_error ("update: the stored update state does not read back");
    return rc;
}
