/*  mesh_internal - what the mesh_ files share: the mesh's state, one
    link's state, and the helpers one part calls in another
    Private to node/core/mesh*.c; callers use mesh.h.

    State in memory: the links (by the I/O layer's link name), the peer
    index (device id -> link), reverse routes (device id -> neighbour id),
    the ids taken (proto/seen.h: bounded, windowed by envelope time),
    certificates learnt from HELLOs (device id -> sign key), the current
    route, and the ACKs waiting for the next commit.
    In the store: the outbox (outbox.c) and, in MESH_TABLE under
    prefix "revocations", the coordinator's last REVOCATIONS envelope.  */

#ifndef WEFT_MESH_INTERNAL_H_INCLUDED
#define WEFT_MESH_INTERNAL_H_INCLUDED

#include "proto/envelope.h"
#include "proto/meshmsg.h"
#include "proto/cert.h"
#include "proto/seen.h"
#include "proto/gossip.h"
#include "node/core/mesh.h"
#include "node/core/qlist.h"

#define mesh_debug(self, ...) \
    do { if ((self)->verbose) zsys_debug (__VA_ARGS__); } while (0)

typedef struct {
    char name [WEFT_NAME_MAX + 1];      //  I/O layer's link name
    int kind;                           //  mesh_link_kind_t
    uint8_t key [WEFT_KEY_SIZE];        //  Authenticated CURVE key
    bool up;                            //  Transport says connected
    bool verified;                      //  HELLO accepted (coordinator: always)
    bool hello_sent;                    //  Our HELLO went out on it
    char peer [WEFT_NAME_MAX + 1];      //  Certificate subject
    uint8_t sign_key [WEFT_KEY_SIZE];   //  Peer's Ed25519 key
    char *path;                         //  Peer's advertised path, NULL none (up to
                                        //  MESHMSG_PATH_MAX: sized to fit, a server
                                        //  has a link per gateway)
    uint64_t revocations;               //  Peer's revocation version
    uint64_t quarantine;                //  Peer's quarantine list version
    char role [WEFT_NAME_MAX + 1];      //  Certificate role (= device type)
    char tenant [WEFT_NAME_MAX + 1];    //  Certificate tenant
    uint8_t ak_name [CERT_AK_NAME_SIZE];    //  Certificate's AK name, if TPM
    size_t ak_name_size;
    uint64_t epoch;                     //  Changes each time the peer is verified anew
    uint64_t heard_ms;                  //  Last HELLO or ROUTE
    uint64_t serial;                    //  Certificate serial
    uint64_t attested_until;            //  Expiry of its passport (mesh_attest.c), 0 none
    char attested_by [WEFT_NAME_MAX + 1];   //  That passport's issuer
    //  Store key of the security profile of its type in its tenant,
    //  made once per certificate (mesh_attest.c): "" if none can apply
    char profile_key [POLICYMSG_KEY_MAX + 1];
    bool profile_known;                 //  profile_key is made
    bool overdue_told;                  //  Its lapse was logged
    uint8_t *acks;                      //  Ids (16 B each) to ACK after commit
    size_t ack_count;
    size_t ack_max;                     //  Room in acks, in ids
} mesh_link_t;

//  An id to mark seen once its burst is committed
typedef struct {
    uint8_t id [WEFT_ID_SIZE];
    uint64_t time_ms;
} mesh_pending_t;

struct _mesh_t {
    //  Name, tenant and prefix are sized to fit (a node is a few KB in weft-sim)
    char *name;
    char *tenant;
    keys_t keys;
    uint8_t *cert;
    size_t cert_size;
    uint8_t ca_key [WEFT_KEY_SIZE];
    uint8_t coord_sign [WEFT_KEY_SIZE];
    uint64_t advert_ms;
    store_t *store;
    char *prefix;
    bool verbose;
    mesh_effects_t fx;
    outbox_t *outbox;
    zhashx_t *links;                    //  Link name -> mesh_link_t
    zhashx_t *peers;                    //  Device id -> link name (strdup)
    //  Both made at the first route: only a node that relays learns one
    zhashx_t *routes;                   //  Device id -> neighbour id (strdup)
    zlistx_t *route_order;              //  Device ids, oldest first (bound)
    seen_t *seen;                       //  Ids taken, in their window (proto/seen.h)
    zhashx_t *certs;                    //  Device id -> sign key (32 B)
    mesh_pending_t *pending;            //  Ids to mark seen after commit
    size_t pending_count;
    size_t pending_max;                 //  Room in pending
    zlistx_t *ack_links;                //  Names of links with ACKs queued
    char route_link [WEFT_NAME_MAX + 1];    //  Next hop's link, "" none
    char coord_link [WEFT_NAME_MAX + 1];    //  The coordinator link's name, "" none
    char *path;                         //  Our path, "" none (sized to fit)
    uint64_t next_advert;               //  Unix ms
    uint64_t adverts;                   //  Adverts sent (stats every 5)
    uint64_t hlc;                       //  Last HLC issued
    uint64_t now_ms;                    //  Time of the last event
    uint64_t revocations;               //  List version held
    uint8_t *revocation_frame;          //  Coordinator's signed list
    size_t revocation_size;
    char *revoked_names;                //  Comma list, NUL-ended
    uint8_t *revoked_keys;              //  32 B each
    size_t revoked_count;
    qlist_t *quarantine;                //  Coordinator's quarantine list
    uint64_t epochs;                    //  Link verifications so far
    uint8_t *revoked_operators;         //  Operators' CURVE keys, 32 B each
    size_t revoked_operator_count;
    const uint8_t *checked_key;         //  mesh_on_checked_frame: already verified with
    const envelope_t *decoded;          //  mesh_on_decoded_frame: the frame, decoded
    mesh_stats_t stats;
    policy_store_t *policies;           //  Site-wide policies held (policy.h)
    gossip_t *gossip;                   //  Their spreading (gossip.h)
    uint64_t serial;                    //  Our certificate's serial
    bool admit_unattested;              //  Never require a peer's attestation
    uint8_t *passport;                  //  Our passport (proto/passport.h), or NULL
    size_t passport_size;
    uint64_t passport_ms;               //  Its attested_ms, 0 none
    zhashx_t *required;                 //  Device type -> s_required_t (mesh_attest.c)
};

//  --------------------------------------------------------------------------
//  Links and link-local envelopes (mesh.c)

//  Destructor of the mesh's lists and hashes of heap strings
void
    mesh_free_item (void **item_p);

//  Make room for one more key in hash, bounded at max entries, whose
//  keys order lists oldest first: the oldest is forgotten
void
    mesh_forget_oldest (zhashx_t *hash, zlistx_t *order, size_t max);

//  The peer's advertised path from its HELLO or ROUTE ("": none)
void
    mesh_link_set_path (mesh_link_t *link, const char *path);

//  Seal a link-local message and send it on link
void
    mesh_send_local (mesh_t *self, mesh_link_t *link, uint64_t now_ms, const meshmsg_t *msg);

//  Our HELLO (with our certificate) or ROUTE advert on link: our path to
//  the coordinator and the versions of the lists we hold
void
    mesh_send_advert (mesh_t *self, mesh_link_t *link, int type, uint64_t now_ms);

//  Is this a policy gossip message type (gossip.h)?
bool
    mesh_gossip_type (int type);

//  --------------------------------------------------------------------------
//  Routing (mesh_route.c)

//  Choose the next hop toward the coordinator again; a new path goes to
//  every neighbour at once, a new route wakes the coordinator's queue
void
    mesh_route_update (mesh_t *self, uint64_t now_ms);

//  Remember that device id is reached through neighbour peer
void
    mesh_learn_route (mesh_t *self, const char *device, const char *peer);

//  Link toward dest (a device id or MESH_COORDINATOR), or NULL
mesh_link_t *
    mesh_next_hop (mesh_t *self, const char *dest);

//  A neighbour's ROUTE advert, its signature checked. 0 or -1.
int
    mesh_on_route (mesh_t *self, mesh_link_t *link, const envelope_t *env, uint64_t now_ms);

//  --------------------------------------------------------------------------
//  Custody (mesh_custody.c)

//  A custody transfer toward dest from link. 0 if taken, -1 if dropped.
//  decoded: frame already decoded by the caller, or NULL.
int
    mesh_on_custody (mesh_t *self, mesh_link_t *link, const char *dest,
                     const uint8_t *frame, size_t size, const envelope_t *decoded,
                     uint64_t now_ms);

//  A CUSTODY_ACK, its signature checked: the outbox drops what it names
int
    mesh_on_custody_ack (mesh_t *self, const envelope_t *env);

//  --------------------------------------------------------------------------
//  Attestation passports (mesh_attest.c)

//  Load our passport as an earlier run stored it. Returns 0 or -1.
int
    mesh_attest_restore (mesh_t *self);

//  A verified HELLO: take the peer's passport (msg) for its certificate
void
    mesh_attest_hello (mesh_t *self, mesh_link_t *link, const cert_t *cert,
                       const meshmsg_t *msg, uint64_t now_ms);

//  Does this link's peer lack the fresh attestation its type requires
//  here? (Never the coordinator's link.)
bool
    mesh_unattested (mesh_t *self, mesh_link_t *link, uint64_t now_ms);

//  A PASSPORT envelope addressed to us, its signature checked: ours if
//  it is for our certificate and newer. Returns WEFT_STATUS_OK (taken,
//  or older than ours), DENIED if refused for good, INTERNAL if it could
//  not be stored; why in reason.
int
    mesh_on_passport (mesh_t *self, const envelope_t *env, uint64_t now_ms,
                      char reason [WEFT_TEXT_MAX + 1]);

//  Timer work: log the neighbours whose passport just lapsed
void
    mesh_attest_tick (mesh_t *self, uint64_t now_ms);

//  --------------------------------------------------------------------------
//  Revocation and quarantine lists (mesh_lists.c)

//  Is a device name or CURVE key (either may be NULL) revoked?
bool
    mesh_is_revoked (mesh_t *self, const char *name, const uint8_t *key);

//  Hold the revocation list an earlier run stored, verified again (one
//  that does not verify is ignored). Returns 0, or -1 if the store failed.
int
    mesh_restore_revocations (mesh_t *self);

//  A newer revocation list: stored, links of revoked peers closed, pushed
//  on. Returns 0 (also when held already), -1 malformed, PROTO_ERR_STORE
//  not stored.
int
    mesh_on_revocations (mesh_t *self, const uint8_t *frame, size_t size, uint64_t now_ms);

//  A newer quarantine list: stored, pushed on. Returns 0 (also when held
//  already), -1 not a valid list, PROTO_ERR_STORE not stored.
int
    mesh_on_quarantine (mesh_t *self, const uint8_t *frame, size_t size);

//  Our revocation list to a link that holds an older one
void
    mesh_send_revocations (mesh_t *self, mesh_link_t *link);

//  Our quarantine list to a link that holds an older one
void
    mesh_send_quarantine (mesh_t *self, mesh_link_t *link);

//  Refuse this custody envelope because of the quarantine list or a
//  lack of fresh attestation? Returns MESH_ADMITTED, MESH_QUARANTINED
//  or MESH_UNATTESTED.
typedef enum {
    MESH_ADMITTED = 0,
    MESH_QUARANTINED = 1,           //  On the quarantine list (failed)
    MESH_UNATTESTED = 2             //  Never attested, or overdue, where required
} mesh_refusal_t;
int
    mesh_quarantine_refuses (mesh_t *self, mesh_link_t *link, const envelope_t *env,
                             const char *dest, uint64_t now_ms);

#endif
