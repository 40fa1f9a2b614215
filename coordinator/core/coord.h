/*  coord - the coordinator's core: envelopes in, envelopes out
    Takes one frame at a time from the enrol, mesh and RPC sockets with
    the link's authenticated User-Id and the wall clock, and returns the
    reply frame. Checks every envelope in order: decode, origin = link
    identity, signature with the origin's registered key, expiry, then
    the per-origin replay window, which is saved in the transaction
    that holds the message's effect. Sends to devices other than the
    one replying (TWIN_DESIRED after twin.set) go through the push
    effect. No sockets, no clock, storage only through the store.
    Own envelopes carry origin "coordinator" and a sequence number from
    coordseq.h: numbered per destination for the envelopes a device's
    replay window checks, from a global counter for the others; neither
    goes back across restarts.  */

#ifndef WEFT_COORD_H_INCLUDED
#define WEFT_COORD_H_INCLUDED

#include "proto/keys.h"
#include "proto/msg.h"
#include "proto/store.h"
#include "coordinator/core/coord_stats.h"

#define COORD_FLUSH_MS      5000        //  Liveness batch interval
#define COORD_ORIGIN        "coordinator"
#define COORD_USER_ID_MAX   64          //  = ZAP_USER_ID_MAX (proto/io/zap.h)
#define COORD_GOSSIP_MS     1000        //  Policy gossip request window per node
#define COORD_GOSSIP_LINKS  100000      //  Nodes linked directly, for gossip

typedef struct _coord_t coord_t;

typedef struct {
    void *ctx;
    //  Send a frame to a device over the mesh, and tell the core where it
    //  went (coord_sent_custody: the relay, sent or not, or no route).
    //  Borrowed frame. coord_tick also retransmits through it the custody
    //  transfers no relay acknowledged.
    void (*push) (void *ctx, const char *device_id, const uint8_t *frame, size_t size);
    //  Send a link-local frame on the link of a node linked directly (no
    //  custody: dropped when the link is gone). Borrowed frame. May be
    //  NULL (no chunks served).
    void (*send_link) (void *ctx, const char *device_id, const uint8_t *frame, size_t size);
} coord_effects_t;

//  Called after a device was revoked: the adapter closes its live
//  connection (ZAP runs only at the handshake) and sends the new
//  revocation list (coord_revocations) to the nodes linked directly.
typedef void (coord_revoked_fn) (void *ctx, const char *device_id);

//  How a mesh frame arrived and what it was (coord_on_mesh_link). An
//  envelope that decoded (decoded) is answered, when it came as custody,
//  with a CUSTODY_ACK of its id carrying ack_status and ack_reason: OK
//  (taken, or a duplicate), INTERNAL (not stored: retransmit), or the
//  refusal (DENIED, EXPIRED, BAD_REQUEST) that ends the sender's custody.
typedef struct {
    bool custody;                       //  In: a custody transfer [dest, envelope]
    bool decoded;                       //  Out: id is valid
    uint8_t id [WEFT_ID_SIZE];          //  Out: envelope id, for CUSTODY_ACK
    char origin [WEFT_NAME_MAX + 1];    //  Out: verified origin, "" if dropped
    char reply_dest [WEFT_NAME_MAX + 1];    //  Out: send the reply as custody to this
    int ack_status;                     //  Out: the CUSTODY_ACK's status
    char ack_reason [WEFT_TEXT_MAX + 1];    //  Out: and its reason ("" when OK)
    bool checked;                       //  In: the signature verified with checked_key
    uint8_t checked_key [32];           //  (coord_mesh_key), so it is not checked again
} coord_link_t;

//  Create over an open store (with registry_tables), the CA keys, the
//  coordinator's own keys and its encoded certificate (all copied).
//  effects may be NULL (no pushes). Returns NULL if the store fails.
coord_t *
    coord_new (store_t *store, const keys_t *ca, const keys_t *keys,
               const uint8_t *cert, size_t cert_size, const coord_effects_t *effects);

//  Write pending batches and free.
void
    coord_destroy (coord_t **self_p);

//  Free without writing what is pending (liveness, the replay windows
//  of replies not yet committed) and without sending anything: what a
//  crash of weft-coord leaves in the store. weft-sim crashes its
//  coordinator with it.
void
    coord_abandon (coord_t **self_p);

//  Handle one frame from a socket. user_id is the link's User-Id (ZAP),
//  peer the link's peer address (for the audit log; "" if unknown).
//  Returns 0 with *reply_p a heap frame to send back (caller frees) or
//  NULL for none; PROTO_ERR_DROPPED if the frame was dropped unanswered
//  (not an envelope, or no User-Id; counted); PROTO_ERR_REFUSED if
//  coord_on_mesh refused an envelope (link->ack_status and ack_reason
//  say why, for its CUSTODY_ACK); PROTO_ERR_INTERNAL if the answer
//  cannot be sealed. A refusal that coord_on_enrol or coord_on_rpc
//  answers returns 0 with the reply. Replies from
//  coord_on_mesh wait for coord_commit. A refused enrolment or RPC is
//  recorded in the audit log (proto/refusals.h bounds how
//  many records one source causes).
int
    coord_on_enrol (coord_t *self, const char *user_id, const char *peer,
                    const uint8_t *frame, size_t size, uint64_t now_ms,
                    uint8_t **reply_p, size_t *reply_size_p);
int
    coord_on_mesh (coord_t *self, const char *user_id, const uint8_t *frame,
                   size_t size, uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p);
//  The same for a frame that came through the mesh: with link->custody
//  the envelope's origin may differ from the link's User-Id (a relay
//  forwarded it; it is verified with the origin's registered key). Also
//  handles the link-local mesh messages (ROUTE: answered with the
//  revocation list when the node's is older; NODE_STATS; CUSTODY_ACK:
//  the relay took custody of those ids, or refused them, see
//  coord_sent_custody; HELLO is ignored). link->ack_status and
//  ack_reason say how to acknowledge the custody transfer.
int
    coord_on_mesh_link (coord_t *self, const char *user_id, coord_link_t *link,
                        const uint8_t *frame, size_t size, uint64_t now_ms,
                        uint8_t **reply_p, size_t *reply_size_p);

//  The key coord_on_mesh_link would check the signature of frame with,
//  read in txn (a read transaction of the store the core was made
//  with): that of the envelope's origin, enrolled and not revoked, if
//  the link of user_id may carry it. An adapter verifies a burst's
//  signatures on several threads with these keys, then hands each frame
//  on with link->checked and the key it verified it with: the core
//  skips the check only if that is still the origin's key. Returns
//  true and the key, or false (the core checks, or refuses, itself).
bool
    coord_mesh_key (coord_t *self, store_txn_t *txn, const char *user_id, bool custody,
                    const uint8_t *frame, size_t size, uint8_t key [32]);

//  Set the revocation hook (ctx is the push effect's ctx).
void
    coord_set_revoked (coord_t *self, coord_revoked_fn *fn);

//  The coordinator's signed revocation list (borrowed), or NULL if no
//  device was ever revoked.
const uint8_t *
    coord_revocations (coord_t *self, size_t *size_p);

//  Called when the quarantine list changed (a verdict failed, a device
//  passed again or was cleared): the adapter sends coord_quarantine to
//  the nodes linked to it, which spread it. ctx is the push effect's.
typedef void (coord_quarantine_fn) (void *ctx);

void
    coord_set_quarantine_hook (coord_t *self, coord_quarantine_fn *fn);

//  The coordinator's signed QUARANTINE list (borrowed), or NULL if the
//  set never changed. ROUTE adverts with an older version are answered
//  with it (after the revocation list, one list per advert).
const uint8_t *
    coord_quarantine (coord_t *self, size_t *size_p);

//  Seal a CUSTODY_ACK of the ids (count at most 256) with a status and
//  its reason ("" or NULL for none). Returns 0 or -1.
int
    coord_custody_ack (coord_t *self, const uint8_t *ids, size_t count, int status,
                       const char *reason, uint64_t now_ms, uint8_t **frame_p,
                       size_t *size_p);

//  coord_custody_ack in two steps, for a burst whose acks are sealed on
//  a verifier pool: take the next HLC (in the event loop, in order),
//  then seal with it. Sealing reads only the coordinator's signing key,
//  so the acks of one burst may be sealed on several threads at once.
uint64_t
    coord_custody_ack_hlc (coord_t *self, uint64_t now_ms);
int
    coord_custody_ack_seal (const coord_t *self, uint64_t hlc, const uint8_t *ids,
                            size_t count, int status, const char *reason,
                            uint8_t **frame_p, size_t *size_p);

int
    coord_on_rpc (coord_t *self, const char *user_id, const char *peer, const uint8_t *frame,
                  size_t size, uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p);

//  Make the replay windows of heartbeats and ACKs handled since the last
//  call durable, in one transaction. A reply coord_on_mesh returned may
//  be sent only after this returned 0; on -1 drop those replies (the
//  peers retry). Never call it inside a transaction.
int
    coord_commit (coord_t *self);

//  ZAP decision: "enrol" admits any key (User-Id = key hex), "mesh" an
//  enrolled unrevoked device (User-Id = device id), "rpc" an operator
//  (User-Id = operator name). address is the peer's; a revoked
//  operator's attempt is recorded in the audit log with it.
bool
    coord_admit (coord_t *self, const char *domain, const char *address,
                 const uint8_t client_key [32], uint64_t now_ms,
                 char user_id [COORD_USER_ID_MAX + 1]);

//  The adapter sent frame to dest as a custody transfer through relay
//  ([routing id, dest, frame]; sent true), or tried to and the relay's
//  connection was gone (sent false). The core keeps a copy, durably,
//  and retransmits it through the push effect per link (in flight on a
//  connection it is not sent again there; coordinator/core/custody.h)
//  until a relay's CUSTODY_ACK names its id. Sent to the device itself
//  (relay == dest; relay NULL: no route): only a TWIN_DESIRED is kept,
//  until the device's ACK of it; an UPDATE_OFFER too, and with no route
//  (relay NULL) an UPDATE_OFFER alone waits for one. The push effect
//  tells it the same for its retransmissions. Call it only for frames really released: never
//  for a reply that coord_commit did not release.
void
    coord_sent_custody (coord_t *self, const char *dest, const char *relay, bool sent,
                        const uint8_t *frame, size_t size, uint64_t now_ms);

//  relay has a new connection (it restarted, or its link came back): what
//  the core keeps for devices behind it is retransmitted at once.
void
    coord_relay_linked (coord_t *self, const char *relay, uint64_t now_ms);

//  device has a route now (its envelope came, directly or through a
//  relay): what the core keeps for it and could not send goes at once.
void
    coord_route_up (coord_t *self, const char *device, uint64_t now_ms);

//  When coord_tick next wants to run (unix ms): the next batch write or
//  the next custody retransmission.
uint64_t
    coord_deadline (coord_t *self);

//  Timer work: custody retransmissions due, batched liveness and replay
//  writes.
void
    coord_tick (coord_t *self, uint64_t now_ms);

//  Log every message (at debug level), or only events.
void
    coord_set_verbose (coord_t *self, bool verbose);

//  The heartbeat interval of the fleet (default 5 s): a device heard
//  from within 3 of them is online.
void
    coord_set_heartbeat (coord_t *self, uint64_t heartbeat_ms);

//  Count a message the adapter dropped before the core saw it.
void
    coord_count_malformed (coord_t *self);

//  Counters so far.
const coord_stats_t *
    coord_stats (coord_t *self);

//  Sign and encode one of the coordinator's own envelopes (a msg_t
//  from proto/msg.h). dest is the device whose agent windows it
//  (TWIN_DESIRED, ACK: numbered per device, see coordseq.h), or NULL
//  for an envelope no device's replay window sees (global counter).
//  Never call it inside a write transaction. Returns 0 or -1.
int
    coord_seal (coord_t *self, const char *dest, const msg_t *msg, uint64_t now_ms,
                uint8_t **frame_p, size_t *size_p);

//  The same around a payload already encoded (e.g. proto/tpmmsg.h).
int
    coord_seal_payload (coord_t *self, const char *dest, int type, const uint8_t *payload,
                        size_t payload_size, uint64_t now_ms,
                        uint8_t **frame_p, size_t *size_p);

void
    coord_test (bool verbose);

//  Chunks served to site servers (coord_chunks_test.c)
void
    coord_chunks_test (bool verbose);

//  Envelopes to one device through a reordering relay (coord_seal_test.c)
void
    coord_seal_test (bool verbose);

//  The golden vectors accepted, every refusal answered (coord_wire_test.c)
void
    coord_wire_test (bool verbose);

#endif
