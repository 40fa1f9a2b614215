/*  mesh_lists - the coordinator's revocation and quarantine lists at a
    node: verified, stored before they are acknowledged, pushed to every
    neighbour that holds an older version
    The revocation list lives in MESH_TABLE under prefix "revocations"
    (its signed envelope, verified again at each start); the quarantine
    list is a qlist (qlist.h).  */

#include "proto/corelib.h"
#include "node/core/mesh_internal.h"
#include "proto/seal.h"

//  --------------------------------------------------------------------------
//  Revocations

bool
mesh_is_revoked (mesh_t *self, const char *name, const uint8_t *key)
{
    if (name && self->revoked_names
    &&  meshmsg_has_name (self->revoked_names, strlen (self->revoked_names), name))
        return true;
    if (key)
        for (size_t i = 0; i < self->revoked_count; i++)
            if (memcmp (self->revoked_keys + i * WEFT_KEY_SIZE, key, WEFT_KEY_SIZE) == 0)
                return true;
    return false;
}

//  --------------------------------------------------------------------------
//  Revocation list: verify, hold in memory. Returns 0, or -1 if the
//  frame is not a valid coordinator REVOCATIONS envelope.

static int
s_load_revocations (mesh_t *self, const uint8_t *frame, size_t size)
{
    envelope_t env;
    meshmsg_t msg;
    if (envelope_open (&env, frame, size, self->coord_sign) || env.type != MSG_REVOCATIONS
    ||  strcmp (env.origin, MESH_COORDINATOR) != 0
    ||  meshmsg_decode (&msg, MSG_REVOCATIONS, env.payload, env.payload_size))
        return -1;
    free (self->revocation_frame);
    self->revocation_frame = (uint8_t *) zmalloc (size);
    memcpy (self->revocation_frame, frame, size);
    self->revocation_size = size;
    self->revocations = msg.revocations;
    free (self->revoked_names);
    self->revoked_names = (char *) zmalloc (msg.names_size + 1);
    memcpy (self->revoked_names, msg.names, msg.names_size);
    free (self->revoked_keys);
    self->revoked_count = msg.key_count;
    self->revoked_keys = (uint8_t *) zmalloc (msg.key_count * WEFT_KEY_SIZE + 1);
    memcpy (self->revoked_keys, msg.curve_keys, msg.key_count * WEFT_KEY_SIZE);
    free (self->revoked_operators);
    self->revoked_operator_count = msg.operator_count;
    self->revoked_operators = (uint8_t *) zmalloc (msg.operator_count * WEFT_KEY_SIZE + 1);
    if (msg.operator_count)
        memcpy (self->revoked_operators, msg.operator_keys, msg.operator_count * WEFT_KEY_SIZE);
    return 0;
}

//  The stored list's key in MESH_TABLE; returns its length
static int
s_revocations_key (mesh_t *self, char key [WEFT_NAME_MAX + 16])
{
    return snprintf (key, WEFT_NAME_MAX + 16, "%srevocations", self->prefix);
}

int
mesh_restore_revocations (mesh_t *self)
{
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return -1;
    char key [WEFT_NAME_MAX + 16];
    int key_size = s_revocations_key (self, key);
    size_t size = 0;
    uint8_t *frame = (uint8_t *) store_get (txn, MESH_TABLE, key, (size_t) key_size, &size);
    store_abort (&txn);
    if (frame && s_load_revocations (self, frame, size))
        zsys_warning ("mesh: stored revocation list does not verify; ignored");
    free (frame);
    return 0;
}

bool
mesh_admit (mesh_t *self, const uint8_t key [WEFT_KEY_SIZE])
{
    assert (self);
    return !mesh_is_revoked (self, NULL, key);
}

//  Close every link of a revoked peer.
static void
s_close_revoked (mesh_t *self, uint64_t now_ms)
{
    zlistx_t *doomed = zlistx_new ();
    zlistx_set_destructor (doomed, mesh_free_item);
    for (mesh_link_t *link = (mesh_link_t *) zhashx_first (self->links); link;
         link = (mesh_link_t *) zhashx_next (self->links))
        if (link->kind != MESH_LINK_COORDINATOR
        &&  mesh_is_revoked (self, *link->peer? link->peer: NULL, link->key))
            zlistx_add_end (doomed, strdup (link->name));
    for (char *name = (char *) zlistx_first (doomed); name;
         name = (char *) zlistx_next (doomed)) {
        zsys_info ("mesh: closing link %s of a revoked peer", name);
        if (self->fx.close)
            self->fx.close (self->fx.ctx, name);
        mesh_link_down (self, name, now_ms);
        zhashx_delete (self->links, name);
    }
    zlistx_destroy (&doomed);
}

int
mesh_on_revocations (mesh_t *self, const uint8_t *frame, size_t size, uint64_t now_ms)
{
    envelope_t env;
    meshmsg_t msg;
    if (envelope_decode (&env, frame, size)
    ||  meshmsg_decode (&msg, MSG_REVOCATIONS, env.payload, env.payload_size))
        return -1;
    if (msg.revocations <= self->revocations)
        return 0;                   //  Held already (ACKed all the same)
    uint64_t before = self->revocations;
    //  Persist before anything else sees it (and before the ACK)
    store_txn_t *txn = store_begin (self->store, true);
    char key [WEFT_NAME_MAX + 16];
    int key_size = s_revocations_key (self, key);
    int rc = txn? store_put (txn, MESH_TABLE, key, (size_t) key_size, frame, size): -1;
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    if (rc || s_load_revocations (self, frame, size)) {
        zsys_warning ("mesh: cannot store revocation list version %" PRIu64, msg.revocations);
        return PROTO_ERR_STORE;
    }
    zsys_info ("mesh: revocation list version %" PRIu64 " (was %" PRIu64 "): %zu revoked",
               self->revocations, before, self->revoked_count);
    s_close_revoked (self, now_ms);
    for (mesh_link_t *link = (mesh_link_t *) zhashx_first (self->links); link;
         link = (mesh_link_t *) zhashx_next (self->links))
        mesh_send_revocations (self, link);
    return 0;
}

//  A newer quarantine list: stored before the ACK, then pushed on.
//  Returns 0, -1 if it is not a valid list, or PROTO_ERR_STORE if it
//  could not be stored (not ACKed).
int
mesh_on_quarantine (mesh_t *self, const uint8_t *frame, size_t size)
{
    uint64_t before = qlist_version (self->quarantine);
    int rc = qlist_take (self->quarantine, frame, size);
    if (rc == PROTO_ERR_STORE) {
        zsys_warning ("mesh: cannot store the quarantine list");
        return PROTO_ERR_STORE;
    }
    if (rc == -1)
        return -1;
    if (rc != 1)
        return 0;
    //  Our own verdicts are the coordinator's once it has them all: they
    //  travel in the evidence class, acknowledged after its commit
    qlist_settle (self->quarantine,
                  outbox_stats (self->outbox)->depth [OUTBOX_EVIDENCE] == 0);
    zsys_info ("mesh: quarantine list version %" PRIu64 " (was %" PRIu64 "): %zu quarantined",
               qlist_version (self->quarantine), before, qlist_size (self->quarantine));
    //  A quarantined peer may have been our next hop
    mesh_route_update (self, self->now_ms);
    for (mesh_link_t *link = (mesh_link_t *) zhashx_first (self->links); link;
         link = (mesh_link_t *) zhashx_next (self->links))
        mesh_send_quarantine (self, link);
    return 0;
}

//  Our revocation list to a link that holds an older one.
void
mesh_send_revocations (mesh_t *self, mesh_link_t *link)
{
    if (self->revocation_frame && link->verified && link->kind != MESH_LINK_COORDINATOR
    &&  link->revocations < self->revocations)
        self->fx.send (self->fx.ctx, link->name, "*", self->revocation_frame,
                       self->revocation_size);
}

//  Our quarantine list to a link that holds an older one (also to a
//  quarantined peer: it learns when it is released)
void
mesh_send_quarantine (mesh_t *self, mesh_link_t *link)
{
    size_t size;
    const uint8_t *frame = qlist_frame (self->quarantine, &size);
    if (frame && link->verified && link->kind != MESH_LINK_COORDINATOR
    &&  link->quarantine < qlist_version (self->quarantine))
        self->fx.send (self->fx.ctx, link->name, "*", frame, size);
}

//  Refuse this envelope because of the quarantine, or for a lack of
//  fresh attestation (mesh_attest.c)? A quarantined or unattested node
//  keeps its link (it must still deliver attestation evidence, or it
//  could never pass again), but its peers take nothing from it that it
//  relays for others (but the coordinator's own attestation traffic,
//  which every hop verifies), and nothing from or for it but attestation
//  traffic (qlist_attestation). An unattested origin further away is
//  refused by its own first hop; here, a neighbour's own traffic and
//  traffic toward a neighbour are checked.
int
mesh_quarantine_refuses (mesh_t *self, mesh_link_t *link, const envelope_t *env,
                         const char *dest, uint64_t now_ms)
{
    //  The lists are the coordinator's, verified at every hop: a
    //  quarantined relay cannot change them, and it must learn its release
    if (streq (dest, "*"))
        return MESH_ADMITTED;
    int peer = MESH_ADMITTED;
    if (link->kind != MESH_LINK_COORDINATOR) {
        if (qlist_has (self->quarantine, link->peer))
            peer = MESH_QUARANTINED;
        else
        if (mesh_unattested (self, link, now_ms))
            peer = MESH_UNATTESTED;
    }
    if (peer && !streq (env->origin, link->peer)) {
        bool coordinator = streq (env->origin, MESH_COORDINATOR)
                        && qlist_attestation (env->type);
        return coordinator? MESH_ADMITTED: peer;
    }
    if (qlist_attestation (env->type))
        return MESH_ADMITTED;
    if (peer)
        return peer;
    //  (The peer was looked up above, and the coordinator is on no list)
    if ((!streq (env->origin, link->peer) && qlist_has (self->quarantine, env->origin))
    ||  (!streq (dest, MESH_COORDINATOR) && qlist_has (self->quarantine, dest)))
        return MESH_QUARANTINED;
    if (streq (dest, MESH_COORDINATOR))
        return MESH_ADMITTED;
    //  Toward a neighbour that may not take part
    const char *next = (const char *) zhashx_lookup (self->peers, dest);
    mesh_link_t *toward = next? (mesh_link_t *) zhashx_lookup (self->links, next): NULL;
    if (toward && mesh_unattested (self, toward, now_ms))
        return MESH_UNATTESTED;
    return MESH_ADMITTED;
}

int
mesh_quarantine_local (mesh_t *self, const char *device, bool quarantined)
{
    assert (self && device);
    int rc = qlist_local (self->quarantine, device, quarantined);
    if (rc == 0)
        zsys_info ("mesh: %s %s by this node's own attestation verdict", device,
                   quarantined? "quarantined": "released");
    return rc;
}

uint64_t
mesh_revocations (mesh_t *self)
{
    assert (self);
    return self->revocations;
}

uint64_t
mesh_quarantine (mesh_t *self)
{
    assert (self);
    return qlist_version (self->quarantine);
}

bool
mesh_quarantined (mesh_t *self, const char *device)
{
    assert (self);
    return qlist_has (self->quarantine, device);
}

const uint8_t *
mesh_revoked_operators (mesh_t *self, size_t *count_p)
{
    assert (self && count_p);
    *count_p = self->revoked_operator_count;
    return self->revoked_operators;
}
