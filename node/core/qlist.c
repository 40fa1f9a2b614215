/*  qlist - the quarantine list a node holds (see qlist.h)  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "proto/envelope.h"
#include "proto/seal.h"
#include "proto/meshmsg.h"
#include "node/core/qlist.h"

#define S_ORIGIN    "coordinator"

struct _qlist_t {
    store_t *store;
    char *table;
    char *key;                          //  Prefix + "quarantine"
    uint8_t coord_sign [WEFT_KEY_SIZE];
    uint64_t version;
    uint8_t *frame;                     //  Coordinator's signed envelope
    size_t frame_size;
    //  Both made at their first name: most nodes never hold one
    zhashx_t *names;                    //  Device id -> (void *) 1
    zhashx_t *local;                    //  Our own verdicts: id -> (void *) 1
    char *local_prefix;
};

qlist_t *
qlist_new (store_t *store, const char *table, const char *prefix,
           const uint8_t coord_sign [WEFT_KEY_SIZE])
{
    assert (store && table && coord_sign);
    qlist_t *self = (qlist_t *) zmalloc (sizeof (qlist_t));
    self->store = store;
    self->table = strndup (table, WEFT_NAME_MAX);
    self->key = zsys_sprintf ("%.*squarantine", WEFT_NAME_MAX, prefix? prefix: "");
    memcpy (self->coord_sign, coord_sign, WEFT_KEY_SIZE);
    self->local_prefix = zsys_sprintf ("%.*squarantine-local/", WEFT_NAME_MAX,
                                       prefix? prefix: "");
    return self;
}

void
qlist_destroy (qlist_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        qlist_t *self = *self_p;
        zhashx_destroy (&self->names);
        zhashx_destroy (&self->local);
        free (self->frame);
        free (self->table);
        free (self->key);
        free (self->local_prefix);
        free (self);
        *self_p = NULL;
    }
}

static zhashx_t *
s_made (zhashx_t **hash_p)
{
    if (!*hash_p)
        *hash_p = zhashx_new ();
    return *hash_p;
}

static bool
s_holds (zhashx_t *hash, const char *name)
{
    return hash && zhashx_lookup (hash, name);
}

static size_t
s_size (zhashx_t *hash)
{
    return hash? zhashx_size (hash): 0;
}

//  Verify and decode; hold it if hold is set. Returns the version, or 0
//  if the frame is not a valid coordinator QUARANTINE envelope.
static uint64_t
s_open (qlist_t *self, const uint8_t *frame, size_t size, bool hold)
{
    envelope_t env;
    meshmsg_t msg;
    if (envelope_open (&env, frame, size, self->coord_sign) || env.type != MSG_QUARANTINE
    ||  strcmp (env.origin, S_ORIGIN) != 0
    ||  meshmsg_decode (&msg, MSG_QUARANTINE, env.payload, env.payload_size)
    ||  msg.quarantine == 0)
        return 0;
    if (hold) {
        free (self->frame);
        self->frame = (uint8_t *) zmalloc (size);
        memcpy (self->frame, frame, size);
        self->frame_size = size;
        self->version = msg.quarantine;
        zhashx_destroy (&self->names);
        size_t start = 0;
        for (size_t i = 0; i <= msg.names_size; i++)
            if (i == msg.names_size || msg.names [i] == ',') {
                if (i > start) {
                    char name [WEFT_NAME_MAX + 1];
                    memcpy (name, msg.names + start, i - start);
                    name [i - start] = 0;
                    zhashx_update (s_made (&self->names), name, (void *) 1);
                }
                start = i + 1;
            }
    }
    return msg.quarantine;
}

static int
s_local_one (void *arg, const void *key, size_t key_size, const void *value,
             size_t value_size)
{
    (void) value;
    (void) value_size;
    qlist_t *self = (qlist_t *) arg;
    size_t prefix_size = strlen (self->local_prefix);
    char name [WEFT_NAME_MAX + 1];
    if (key_size > prefix_size && key_size - prefix_size <= WEFT_NAME_MAX) {
        memcpy (name, (const char *) key + prefix_size, key_size - prefix_size);
        name [key_size - prefix_size] = 0;
        zhashx_update (s_made (&self->local), name, (void *) 1);
    }
    return 0;
}

int
qlist_load (qlist_t *self)
{
    assert (self);
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return -1;
    size_t size = 0;
    uint8_t *frame = (uint8_t *) store_get (txn, self->table, self->key, strlen (self->key),
                                            &size);
    store_scan (txn, self->table, self->local_prefix, strlen (self->local_prefix),
                s_local_one, self);
    store_abort (&txn);
    int rc = 0;
    if (frame && s_open (self, frame, size, true) == 0) {
        zsys_warning ("mesh: stored quarantine list does not verify; ignored");
        rc = -1;
    }
    free (frame);
    return rc;
}

int
qlist_take (qlist_t *self, const uint8_t *frame, size_t size)
{
    assert (self);
    uint64_t version = s_open (self, frame, size, false);
    if (version == 0)
        return -1;
    if (version <= self->version)
        return 0;
    store_txn_t *txn = store_begin (self->store, true);
    int rc = txn? store_put (txn, self->table, self->key, strlen (self->key), frame, size)
                : -1;
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    if (rc)
        return PROTO_ERR_STORE;
    s_open (self, frame, size, true);
    return 1;
}

uint64_t
qlist_version (qlist_t *self)
{
    assert (self);
    return self->version;
}

const uint8_t *
qlist_frame (qlist_t *self, size_t *size_p)
{
    assert (self && size_p);
    *size_p = self->frame_size;
    return self->frame;
}

bool
qlist_has (qlist_t *self, const char *name)
{
    assert (self);
    return name && (s_holds (self->names, name) || s_holds (self->local, name));
}

size_t
qlist_size (qlist_t *self)
{
    assert (self);
    return s_size (self->names) + s_size (self->local);
}

int
qlist_local (qlist_t *self, const char *name, bool quarantined)
{
    assert (self && name);
    if (s_holds (self->local, name) == quarantined)
        return 0;
    char key [2 * WEFT_NAME_MAX + 24];
    int key_size = snprintf (key, sizeof key, "%s%s", self->local_prefix, name);
    store_txn_t *txn = store_begin (self->store, true);
    int rc = !txn? -1: quarantined? store_put (txn, self->table, key, (size_t) key_size, "1", 1)
                                  : store_del (txn, self->table, key, (size_t) key_size);
    if (rc >= 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    if (rc)
        return -1;
    if (quarantined)
        zhashx_update (s_made (&self->local), name, (void *) 1);
    else
    if (self->local)
        zhashx_delete (self->local, name);
    return 0;
}

size_t
qlist_local_size (qlist_t *self)
{
    assert (self);
    return s_size (self->local);
}

void
qlist_settle (qlist_t *self, bool handed_over)
{
    assert (self);
    if (!self->local)
        return;
    zlistx_t *done = zlistx_new ();
    zlistx_set_destructor (done, (czmq_destructor *) zstr_free);
    for (void *item = zhashx_first (self->local); item; item = zhashx_next (self->local)) {
        const char *name = (const char *) zhashx_cursor (self->local);
        if (handed_over || s_holds (self->names, name))
            zlistx_add_end (done, strdup (name));
    }
    for (char *name = (char *) zlistx_first (done); name; name = (char *) zlistx_next (done))
        qlist_local (self, name, false);
    zlistx_destroy (&done);
}

bool
qlist_attestation (int type)
{
    return type == MSG_HEARTBEAT || type == MSG_ATTEST_CHALLENGE
        || type == MSG_ATTEST_EVIDENCE || type == MSG_DELEGATED_VERDICT
        || type == MSG_PASSPORT;
}

//  --------------------------------------------------------------------------
//  Selftest

static uint8_t *
s_test_list (const keys_t *signer, const char *origin, uint64_t version, const char *names,
             size_t *size_p)
{
    meshmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_QUARANTINE;
    msg.quarantine = version;
    msg.names = names;
    msg.names_size = strlen (names);
    uint8_t *payload;
    size_t payload_size;
    int rc = meshmsg_encode (&msg, &payload, &payload_size);
    assert (rc == 0);
    envelope_head_t head = { .type = MSG_QUARANTINE, .origin = origin, .seq = version,
                             .hop_limit = WEFT_HOP_LIMIT };
    uint8_t *frame;
    rc = envelope_seal (&head, payload, payload_size, signer->sign_secret, NULL,
                        &frame, size_p);
    assert (rc == 0);
    free (payload);
    return frame;
}

void
qlist_test (bool verbose)
{
    printf (" * qlist: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    char path [] = "/tmp/weft-qlist.XXXXXX";
    assert (mkdtemp (path));
    const char *tables [] = { "mesh", NULL };
    store_t *store = store_new (path, tables, 0);
    assert (store);
    keys_t coord, other;
    keys_generate (&coord);
    keys_generate (&other);
    qlist_t *list = qlist_new (store, "mesh", "n1/", coord.sign_public);
    assert (qlist_load (list) == 0 && qlist_version (list) == 0 && !qlist_has (list, "gw-1"));

    //  Version 2 quarantines gw-1 and gw-2
    size_t size;
    uint8_t *v2 = s_test_list (&coord, "coordinator", 2, "gw-1,gw-2", &size);
    assert (qlist_take (list, v2, size) == 1);
    assert (qlist_version (list) == 2 && qlist_size (list) == 2);
    assert (qlist_has (list, "gw-1") && qlist_has (list, "gw-2") && !qlist_has (list, "gw"));
    assert (qlist_take (list, v2, size) == 0);              //  Held already
    //  Forged (another key), not from the coordinator, or garbage: refused
    size_t bad_size;
    uint8_t *forged = s_test_list (&other, "coordinator", 9, "", &bad_size);
    assert (qlist_take (list, forged, bad_size) == -1);
    free (forged);
    forged = s_test_list (&coord, "gw-9", 9, "", &bad_size);
    assert (qlist_take (list, forged, bad_size) == -1);
    free (forged);
    assert (qlist_take (list, (const uint8_t *) "junk", 4) == -1);
    assert (qlist_version (list) == 2 && qlist_has (list, "gw-1"));

    //  Version 3 releases gw-1: removals spread as a newer whole list
    uint8_t *v3 = s_test_list (&coord, "coordinator", 3, "gw-2", &size);
    assert (qlist_take (list, v3, size) == 1);
    assert (!qlist_has (list, "gw-1") && qlist_has (list, "gw-2"));
    //  An older list never comes back
    size_t v2_size;
    free (v2);
    v2 = s_test_list (&coord, "coordinator", 2, "gw-1,gw-2", &v2_size);
    assert (qlist_take (list, v2, v2_size) == 0);
    assert (!qlist_has (list, "gw-1"));
    qlist_destroy (&list);

    //  Persisted: a restart holds version 3
    list = qlist_new (store, "mesh", "n1/", coord.sign_public);
    assert (qlist_load (list) == 0);
    assert (qlist_version (list) == 3 && qlist_has (list, "gw-2") && !qlist_has (list, "gw-1"));
    size_t held_size;
    const uint8_t *held = qlist_frame (list, &held_size);
    assert (held && held_size == size && memcmp (held, v3, size) == 0);
    qlist_destroy (&list);
    //  Another prefix (another node sharing the store) holds nothing
    list = qlist_new (store, "mesh", "n2/", coord.sign_public);
    assert (qlist_load (list) == 0 && qlist_version (list) == 0);
    //  A store that refuses the write: not held, the caller does not ACK
    store_fail_after (store, 1);
    assert (qlist_take (list, v3, size) == PROTO_ERR_STORE);
    store_fail_after (store, 0);
    assert (qlist_version (list) == 0 && !qlist_has (list, "gw-2"));
    //  The empty list (everyone released) is a valid newer version
    uint8_t *v4 = s_test_list (&coord, "coordinator", 4, "", &size);
    assert (qlist_take (list, v4, size) == 1);
    assert (qlist_version (list) == 4 && qlist_size (list) == 0);
    qlist_destroy (&list);
    //  A stored list that no longer verifies (another coordinator key) is ignored
    list = qlist_new (store, "mesh", "n2/", other.sign_public);
    assert (qlist_load (list) == -1 && qlist_version (list) == 0);
    qlist_destroy (&list);

    //  Our own verdict (a site server's): refused at once, persisted,
    //  settled by the coordinator's list
    list = qlist_new (store, "mesh", "n3/", coord.sign_public);
    assert (qlist_load (list) == 0);
    assert (qlist_local (list, "gw-5", true) == 0);
    assert (qlist_has (list, "gw-5") && qlist_size (list) == 1 && qlist_local_size (list) == 1);
    qlist_destroy (&list);
    list = qlist_new (store, "mesh", "n3/", coord.sign_public);
    assert (qlist_load (list) == 0 && qlist_has (list, "gw-5"));
    //  A coordinator list without it, while our verdict is not handed over: kept
    uint8_t *v5 = s_test_list (&coord, "coordinator", 5, "gw-2", &size);
    assert (qlist_take (list, v5, size) == 1);
    qlist_settle (list, false);
    assert (qlist_has (list, "gw-5"));
    //  Handed over: the coordinator decides from now on
    qlist_settle (list, true);
    assert (!qlist_has (list, "gw-5") && qlist_local_size (list) == 0);
    //  A coordinator list that carries it takes it over
    assert (qlist_local (list, "gw-2", true) == 0);
    qlist_settle (list, false);
    assert (qlist_local_size (list) == 0 && qlist_has (list, "gw-2"));
    //  A local pass removes it
    assert (qlist_local (list, "gw-6", true) == 0);
    assert (qlist_local (list, "gw-6", false) == 0 && !qlist_has (list, "gw-6"));
    qlist_destroy (&list);
    list = qlist_new (store, "mesh", "n3/", coord.sign_public);
    assert (qlist_load (list) == 0 && qlist_local_size (list) == 0);
    qlist_destroy (&list);
    free (v5);

    assert (qlist_attestation (MSG_ATTEST_EVIDENCE) && qlist_attestation (MSG_HEARTBEAT));
    assert (!qlist_attestation (MSG_TWIN_REPORTED) && !qlist_attestation (MSG_NODE_STATS));
    free (v2);
    free (v3);
    free (v4);
    keys_wipe (&coord);
    keys_wipe (&other);
    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
