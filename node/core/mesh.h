/*  mesh - links, routes, custody and revocations of a node, without I/O
    A node has links: a DEALER to the coordinator (optional), DEALERs it
    dialled to configured neighbours, and the peers that connected to its
    own ROUTER. A neighbour link is usable only after a HELLO that carries
    a certificate of the deployment's CA whose CURVE key is the link's
    authenticated key; the dialler sends HELLO first, the listener answers.

    Routing is a path vector toward the coordinator: each ROUTE advert
    carries the sender's whole path (node ids, the sender first), a node
    refuses any path that already holds its own id (so no advert can ever
    build a loop, and the next hop's own advert back to it is poisoned by
    construction) or that would exceed the hop limit, and picks the
    shortest, keeping the current next hop on a tie. Downward routes
    (coordinator to a device) are learnt from upward traffic: the link
    an origin's envelope came in on leads back to it.

    Custody: see outbox.h. An envelope taken from a neighbour is ACKed
    (CUSTODY_ACK) only after mesh_flush committed it; one refused for
    good (forged, revoked, quarantined, out of hops, or refused by the
    agent it was for) is answered at once with a CUSTODY_ACK naming the
    status and the reason, which ends the sender's custody. A refusal
    from our next hop ends ours the same way: counted, logged with its
    reason, never retransmitted. Signatures (docs/mesh.md): the first hop
    takes the neighbour's own envelopes toward the coordinator without a
    check (the link's CURVE key is the one in the neighbour's
    certificate, so the link vouches for the origin, and the coordinator
    checks every signature), and checks the neighbour's envelopes for
    anyone else; an envelope naming another origin is checked wherever
    that origin's certificate is held (learnt from HELLOs), so a forgery
    dies at the first hop that can tell, and otherwise the
    CURVE-authenticated neighbour is trusted; the coordinator and the
    agent always verify. Envelopes from the coordinator are verified at
    every hop (every node holds its key).

    Revocations spread as the coordinator's signed REVOCATIONS list,
    persisted before it is acknowledged, pushed at once to every
    neighbour and re-sent to any neighbour whose HELLO/ROUTE shows an
    older version (anti-entropy), so it keeps spreading while the site
    is cut off from the coordinator.

    The quarantine list (qlist.h: devices whose attestation failed)
    spreads the same way, with its version in HELLO and ROUTE; names
    also leave it. A quarantined peer keeps its link, but is no next hop
    and relays nothing, and only attestation traffic from or for it is
    taken (counted "quarantined"); see docs/mesh.md.

    Fresh attestation: where this node holds a security profile that
    requires it for a neighbour's device type in the neighbour's tenant
    (policy "profile/<tenant>/<type>"), the neighbour must present in its
    HELLO a passport (proto/passport.h) issued to its certificate by the
    coordinator or a site server of its tenant, and not expired. Without one (never attested, or overdue) it
    is refused like a quarantined peer (counted "unattested"), offline,
    by this node's clock. Our own passport comes in PASSPORT envelopes,
    is stored, presented in our HELLOs and sent again on every link when
    it changes.

    Site-wide policies (policy.h) spread by gossip (gossip.h) over the
    verified links and the coordinator link; the mesh hands it link
    events and gossip frames, and seals what it sends.  */

#ifndef WEFT_MESH_H_INCLUDED
#define WEFT_MESH_H_INCLUDED

#include "proto/proto.h"
#include "proto/envelope.h"
#include "proto/keys.h"
#include "proto/cert.h"
#include "proto/seen.h"
#include "proto/store.h"
#include "node/core/outbox.h"
#include "proto/policy.h"
#include "proto/gossip.h"

#define MESH_TABLE          "mesh"          //  Revocation list
#define MESH_COORDINATOR    "coordinator"   //  Destination and origin name
#define MESH_SEEN_MAX       SEEN_MAX        //  Envelope ids remembered, within SEEN_WINDOW_MS
#define MESH_ROUTES_MAX     100000          //  Reverse routes remembered
#define MESH_LINKS_MAX      1024            //  Links at once
#define MESH_PUMP_MAX       512             //  Sends per pump
#define MESH_DEAD_ADVERTS   3               //  Silent intervals before a link is stale

typedef enum {
    MESH_LINK_COORDINATOR = 0,      //  Our DEALER to the coordinator
    MESH_LINK_DIALLED = 1,          //  Our DEALER to a neighbour
    MESH_LINK_ACCEPTED = 2          //  A peer on our ROUTER
} mesh_link_kind_t;

typedef struct {
    void *ctx;
    //  Send on a link: dest NULL sends a link-local envelope (HELLO,
    //  ROUTE, CUSTODY_ACK); otherwise a custody transfer toward dest.
    //  Borrowed frame. Returns 0, or -1 if not queued.
    int (*send) (void *ctx, const char *link, const char *dest,
                 const uint8_t *frame, size_t size);
    //  Close a link whose peer is revoked.
    void (*close) (void *ctx, const char *link);
    //  An envelope addressed to this node (for the agent). Borrowed.
    //  Returns a weft_status_t: OK (taken, or a duplicate of one taken),
    //  INTERNAL (not stored: the sender retransmits), or why it is refused
    //  for good, with the reason in reason; the CUSTODY_ACK says so.
    int (*deliver) (void *ctx, const uint8_t *frame, size_t size,
                    char reason [WEFT_TEXT_MAX + 1]);
    //  Optional: ATTEST_EVIDENCE a neighbour sent (its signature checked)
    //  before it is relayed. Return true to take it (it answers this
    //  node's own challenge: a site server verifying); it is then
    //  acknowledged and goes no further. Borrowed.
    bool (*intercept) (void *ctx, const uint8_t *frame, size_t size);
    //  Optional: we hold a new passport, attested at attested_ms (the
    //  agent names it in its heartbeats)
    void (*passport) (void *ctx, uint64_t attested_ms);
    //  Optional: a link-local envelope of a type the mesh does not take
    //  itself (the chunk exchange: CHUNK_WANT, CHUNK_DATA), its signature
    //  checked: from the verified neighbour peer of tenant, or on the
    //  coordinator link (peer MESH_COORDINATOR, tenant "", signed with
    //  the coordinator's key). Return true if taken; if not, it is
    //  counted malformed and dropped (from the coordinator: delivered to
    //  the agent as before). env and its payload are borrowed.
    bool (*local) (void *ctx, const char *peer, const char *tenant, const envelope_t *env);
    //  Optional: a custody envelope of the coordinator's (its signature
    //  checked) that this node relays to another node, the first time it
    //  takes it; a site server fetches the release of an UPDATE_OFFER it
    //  relays for its site. env and its payload are borrowed.
    void (*relaying) (void *ctx, const envelope_t *env);
    //  Optional: a custody envelope to the coordinator from another node
    //  (not the coordinator's) that this node relays, the first time it
    //  takes it; a site server follows the twin reports of the devices
    //  its site campaign holds. env and its payload are borrowed.
    void (*upward) (void *ctx, const envelope_t *env);
} mesh_effects_t;

typedef struct {
    const char *name;               //  Our device id
    const char *tenant;
    const keys_t *keys;             //  Copied
    const uint8_t *cert;            //  Our certificate, copied
    size_t cert_size;
    const uint8_t *ca_key;          //  Root public key (32)
    const uint8_t *coord_sign;      //  Coordinator Ed25519 key (32)
    uint64_t advert_ms;             //  ROUTE interval (the heartbeat)
    store_t *store;                 //  With MESH_TABLE and OUTBOX_TABLE
    const char *prefix;             //  Key prefix ("" in the daemon)
    bool admit_unattested;          //  Never require peers' attestation (off)
    bool verbose;
} mesh_config_t;

typedef struct {
    uint64_t forged;                //  Bad signature at this hop
    uint64_t malformed;             //  Undecodable frames
    uint64_t unauthenticated;       //  Custody frames before a valid HELLO
    uint64_t refused_hello;         //  HELLOs refused (cert, key, revoked)
    uint64_t revoked;               //  Envelopes of revoked origins dropped
    uint64_t quarantined;           //  Refused because of the quarantine list
    uint64_t unattested;            //  Refused: never attested or overdue
    uint64_t hop_limit;             //  Envelopes out of hops
    uint64_t duplicates;            //  Ids seen before (re-ACKed)
    uint64_t stale;                 //  Older than the de-duplication window (refused)
    uint64_t delivered;             //  Envelopes for us
    uint64_t relayed;               //  Envelopes taken into custody for others
    uint64_t acks_sent;             //  CUSTODY_ACK messages sent
    uint64_t custody_refused;       //  Ours the next hop refused for good
    uint64_t route_changes;         //  Next hop changes
} mesh_stats_t;

typedef struct _mesh_t mesh_t;

mesh_t *
    mesh_new (const mesh_config_t *config, const mesh_effects_t *effects);

void
    mesh_destroy (mesh_t **self_p);

//  Load the outbox and the revocation list. Returns 0 or -1.
int
    mesh_start (mesh_t *self, uint64_t now_ms);

//  A link came up. key is the peer's authenticated CURVE key (the
//  server key we dialled, or the ZAP-admitted client key). A dialled
//  link sends our HELLO at once.
void
    mesh_link_up (mesh_t *self, const char *link, int kind,
                  const uint8_t key [WEFT_KEY_SIZE], uint64_t now_ms);

//  A link went down (or was closed).
void
    mesh_link_down (mesh_t *self, const char *link, uint64_t now_ms);

//  Is the link known to the mesh?
bool
    mesh_has_link (mesh_t *self, const char *link);

//  One message from a link: dest NULL for a link-local envelope, else a
//  custody transfer. Staged work is committed by mesh_flush. Returns 0
//  if handled, -1 if dropped.
int
    mesh_on_frame (mesh_t *self, const char *link, const char *dest,
                   const uint8_t *frame, size_t size, uint64_t now_ms);

//  For an I/O layer that checks signatures on other threads: the key
//  mesh_on_frame would check this custody frame's signature with
//  (copied to key), or false if it would check none (not custody, link
//  not past HELLO, undecodable, a duplicate, an origin it trusts).
bool
    mesh_custody_key (mesh_t *self, const char *link, const char *dest,
                      const uint8_t *frame, size_t size, uint8_t key [WEFT_KEY_SIZE]);

//  As mesh_on_frame, for a custody frame whose signature the caller
//  found valid with key: if that is the key mesh_on_frame would use,
//  the check is not made again; otherwise it is.
int
    mesh_on_checked_frame (mesh_t *self, const char *link, const char *dest,
                           const uint8_t *frame, size_t size,
                           const uint8_t key [WEFT_KEY_SIZE], uint64_t now_ms);

//  The same two for a custody frame the caller decoded once into env
//  (envelope_decode of frame; env borrows frame's bytes), so a relay's
//  hot path decodes each frame once. mesh_on_decoded_frame's key is the
//  one the caller found the signature valid with, or NULL (unchecked).
bool
    mesh_custody_key_of (mesh_t *self, const char *link, const char *dest,
                         const envelope_t *env, uint8_t key [WEFT_KEY_SIZE]);
int
    mesh_on_decoded_frame (mesh_t *self, const char *link, const char *dest,
                           const uint8_t *frame, size_t size, const envelope_t *env,
                           const uint8_t *key, uint64_t now_ms);

//  One of our own envelopes (from the agent) for the coordinator.
//  Returns 0 (staged), 1 (queue full: back-pressure), -1 (bad frame).
int
    mesh_send_own (mesh_t *self, const uint8_t *frame, size_t size);

//  End of a burst: commit staged custody, send the CUSTODY_ACKs, then
//  forward what is due. Returns 0, or -1 if the commit failed (nothing
//  staged in this burst is acknowledged).
int
    mesh_flush (mesh_t *self, uint64_t now_ms);

//  Timer work: adverts, stale links, retransmits, stats.
void
    mesh_tick (mesh_t *self, uint64_t now_ms);

//  When mesh_tick next wants to run (unix ms).
uint64_t
    mesh_deadline (mesh_t *self);

//  Is a neighbour with this CURVE key linked and past its HELLO? Walks
//  the links: for discovery's few checks a second, not per message.
bool
    mesh_key_linked (mesh_t *self, const uint8_t key [WEFT_KEY_SIZE]);

//  ZAP: may this CURVE key connect (not revoked)?
bool
    mesh_admit (mesh_t *self, const uint8_t key [WEFT_KEY_SIZE]);

//  Hops to the coordinator (1 = direct), 0 = no route.
size_t
    mesh_distance (mesh_t *self);

//  Version of the revocation list held.
uint64_t
    mesh_revocations (mesh_t *self);

//  A custody transfer of one of our own envelopes to dest (a device id,
//  or MESH_COORDINATOR). Returns as mesh_send_own.
int
    mesh_send_to (mesh_t *self, const char *dest, const uint8_t *frame, size_t size);

//  Seal a link-local envelope of type around payload with our key and
//  send it to the verified neighbour peer whose link is up, or on the
//  coordinator link for MESH_COORDINATOR. Returns 0, or -1 if there is
//  no such link or the transport did not queue it.
int
    mesh_send_local_to (mesh_t *self, const char *peer, int type, const uint8_t *payload,
                        size_t size, uint64_t now_ms);

//  Is our link to the coordinator up?
bool
    mesh_coordinator_up (mesh_t *self);

//  Is name a verified neighbour on a link that is up? Fills its
//  certificate's role and AK name (size 0 without a TPM) if asked.
bool
    mesh_neighbour (mesh_t *self, const char *name, char role [WEFT_NAME_MAX + 1],
                    uint8_t ak_name [CERT_AK_NAME_SIZE], size_t *ak_name_size_p);

//  Our own tenant (from our certificate).
const char *
    mesh_tenant (mesh_t *self);

//  Call fn for each verified neighbour whose link is up, with its
//  certificate's role and tenant. epoch changes each time a link's
//  peer is verified anew (it reconnected, restarted).
typedef void (mesh_neighbour_fn) (void *arg, const char *name, const char *role,
                                  const char *tenant, const uint8_t *ak_name,
                                  size_t ak_name_size, uint64_t epoch);
void
    mesh_neighbours_each (mesh_t *self, mesh_neighbour_fn *fn, void *arg);

//  This node's own attestation verdict on a device (a site server's
//  delegated verification): quarantine it here at once, or lift that.
//  Kept until the coordinator's list takes over (qlist_settle). 0 or -1.
int
    mesh_quarantine_local (mesh_t *self, const char *device, bool quarantined);

//  Version of the quarantine list held (0: none).
uint64_t
    mesh_quarantine (mesh_t *self);

//  attested_ms of the passport we hold, 0 if none.
uint64_t
    mesh_passport_ms (mesh_t *self);

//  A site server's passport for neighbour device (a gateway it just
//  verified at attested_ms, expiring at expires_ms), issued by us with
//  our certificate, for its certificate (serial and tenant from its
//  HELLO). Returns 0 with a heap buffer (free()), or -1.
int
    mesh_passport_issue (mesh_t *self, const char *device, uint64_t attested_ms,
                         uint64_t expires_ms, uint8_t **passport_p, size_t *size_p);

//  Is neighbour name admitted: verified, and attested where required?
//  For discovery and tests; walks nothing.
bool
    mesh_admitted (mesh_t *self, const char *name, uint64_t now_ms);

//  Is the device on the quarantine list held?
bool
    mesh_quarantined (mesh_t *self, const char *device);

//  CURVE keys of the operators on the revocation list held (borrowed
//  until the next list, 32 bytes each), for proto/opcred.h; *count_p
//  gets how many (the pointer may be NULL when 0).
const uint8_t *
    mesh_revoked_operators (mesh_t *self, size_t *count_p);

//  Counters and queue depths as a JSON object text. Caller frees.
char *
    mesh_stats_json (mesh_t *self);

const mesh_stats_t *
    mesh_stats (mesh_t *self);

outbox_t *
    mesh_outbox (mesh_t *self);

//  The site-wide policies this node holds (policy.h: policy_store_get),
//  and their gossip (counters). Borrowed.
policy_store_t *
    mesh_policies (mesh_t *self);
gossip_t *
    mesh_gossip (mesh_t *self);

void
    mesh_test (bool verbose);

//  Fresh attestation in the mesh (mesh_attest_test.c)
void
    mesh_attest_test (bool verbose);

#endif
