/*  custody - the coordinator's custody of the frames it sends through relays
    weft-coord sends replies and pushes to a device behind a site server
    as custody transfers; the server commits them and answers with a
    CUSTODY_ACK of their envelope ids. Until that ACK the coordinator
    keeps the frame, durably: each is written to CUSTODY_TABLE (in
    batches, custody_flush) and read back at start, so a restart forgets
    nothing it held. A TWIN_DESIRED sent to a node linked directly is
    kept the same way until that node's own ACK.

    Retransmission is per link, as a node's outbox does it (outbox.h):
    a frame sent on a relay's connection is in flight there and is not
    sent on it again while that connection lives, however long the ACK
    takes. A CUSTODY_ACK of a frame means the relay received every
    frame sent before it on that connection: those it did not answer
    were dropped and go again after the link's back-off
    (RETRY_MIN_MS doubling to RETRY_MAX_MS, reset when a retransmission
    is taken). A relay that acknowledges nothing for the link timeout
    gets its oldest frame once more as a probe. A relay (or device) that
    links again makes what waits for it due at once: what was in flight
    on its old connection, and what could not be sent (no route, or the
    connection was gone). The same envelope every time (same id): a hop
    that had it acknowledges it again and forwards no second copy.

    Budget: at most CUSTODY_PER_DEST frames and CUSTODY_DEST_BYTES bytes
    per device, CUSTODY_COUNT_MAX frames and CUSTODY_BYTES_MAX bytes in
    all. A frame beyond the budget is refused (not held, counted in
    custody_over_budget); nothing held is ever evicted for room. One the
    next hop refuses for good (custody_refused) is forgotten. A frame is
    given up (custody_expired) at its envelope's own expiry, after
    CUSTODY_AGE_MS (the hops' de-duplication window, proto/seen.h: an
    older frame would be refused there as stale), or once the device
    was sent a frame REPLAY_WINDOW seqs newer (it would refuse the old
    one as a replay). Memory holds an index of the frames; their bytes
    are in the store once written. Sans-IO: the caller gives the time
    and sends.  */

#ifndef WEFT_CUSTODY_H_INCLUDED
#define WEFT_CUSTODY_H_INCLUDED

#include "proto/proto.h"
#include "proto/retry.h"
#include "proto/seen.h"
#include "proto/store.h"
#include "coordinator/core/coord_stats.h"

#define CUSTODY_TABLE           "custody"
#define CUSTODY_PER_DEST        64              //  Frames held per device (= REPLAY_WINDOW)
#define CUSTODY_DEST_BYTES      (1u << 20)      //  Frame bytes held per device
#define CUSTODY_COUNT_MAX       200000          //  Frames held in all
#define CUSTODY_BYTES_MAX       (256u << 20)    //  Frame bytes held in all
#define CUSTODY_AGE_MS          SEEN_WINDOW_MS  //  Longest custody of a frame
#define CUSTODY_LINK_TIMEOUT_MS RETRY_LINK_DEAD (5000)  //  Default silence before a probe

typedef struct {
    size_t per_dest;                //  0 = CUSTODY_PER_DEST
    size_t dest_bytes;              //  0 = CUSTODY_DEST_BYTES
    size_t count_max;               //  0 = CUSTODY_COUNT_MAX
    size_t bytes_max;               //  0 = CUSTODY_BYTES_MAX
    uint64_t age_ms;                //  0 = CUSTODY_AGE_MS
    uint64_t link_timeout_ms;       //  0 = CUSTODY_LINK_TIMEOUT_MS
} custody_limits_t;

//  One held frame, borrowed while it is held
typedef struct {
    uint8_t id [WEFT_ID_SIZE];      //  Envelope id
    char dest [WEFT_NAME_MAX + 1];  //  Device it goes to
    size_t size;                    //  Frame bytes
    uint64_t seq;                   //  The envelope's seq
    uint32_t sends;                 //  Transmissions so far
    int type;                       //  The envelope's message type
} custody_entry_t;

typedef struct _custody_t custody_t;

//  Create over a store with CUSTODY_TABLE (store may be NULL: memory
//  only, for tests); stats (borrowed) gets the custody_* counters.
//  limits may be NULL (defaults).
custody_t *
    custody_new (store_t *store, const custody_limits_t *limits, coord_stats_t *stats);

void
    custody_destroy (custody_t **self_p);

//  The links' heartbeat interval (default 5 s): a link that acknowledges
//  nothing gets its probe after RETRY_LINK_DEAD of it.
void
    custody_set_heartbeat (custody_t *self, uint64_t heartbeat_ms);

//  Read what an earlier run held: each waits for its relay (or device)
//  to link. Returns the number of frames, or -1 if the store failed.
int
    custody_load (custody_t *self, uint64_t now_ms);

//  frame to dest went through relay (sent true), or could not (sent
//  false: the relay's connection was gone, or relay is NULL: no route).
//  relay == dest: sent to the device itself. A new frame is held if the
//  budget allows; one held already (our own retransmission) is in
//  flight on that relay now, or waits for it. Returns 0 (held), 1
//  (refused: over budget), or -1 if the frame is not an envelope or a
//  name is bad.
int
    custody_sent (custody_t *self, const char *dest, const char *relay, bool sent,
                  const uint8_t *frame, size_t size, uint64_t now_ms);

//  A frame of seq went to dest and is not held (not custody): the frames
//  held for dest that it makes REPLAY_WINDOW seqs old are superseded.
void
    custody_note_seq (custody_t *self, const char *dest, uint64_t seq);

//  relay has a new connection: what was in flight on the old one, or
//  waits for it (its own frames too), is due now. Returns how many.
size_t
    custody_wake (custody_t *self, const char *relay, uint64_t now_ms);

//  dest has a route now: its frames that wait for one are due now.
//  Returns how many.
size_t
    custody_wake_dest (custody_t *self, const char *dest, uint64_t now_ms);

//  A relay (or the device) acknowledged id: forget it; what went before
//  it on the same link and is not answered was dropped unanswered (due
//  again after the link's back-off). Returns 0, or -1 if not held.
int
    custody_ack (custody_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t now_ms);

//  The frame held under id, or NULL
const custody_entry_t *
    custody_find (custody_t *self, const uint8_t id [WEFT_ID_SIZE]);

//  The next hop refused id for good (a CUSTODY_ACK or ACK whose status
//  is neither OK nor INTERNAL): forget it, counted as refused. Nothing is
//  inferred of what went before it (a refusal is answered at once, ahead
//  of the ACKs that wait for the hop's commit). Returns 0, or -1 if not
//  held.
int
    custody_refused (custody_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t now_ms);

//  The relay received id and could not take it (INTERNAL): due again
//  after the link's back-off. Returns 0, or -1 if not in flight.
int
    custody_not_taken (custody_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t now_ms);

//  The entry due first at now_ms, or NULL if none is due. Expired and
//  superseded entries on the way are dropped (counted). It stays the
//  answer until custody_sent (or custody_settle) moves it.
const custody_entry_t *
    custody_due (custody_t *self, uint64_t now_ms);

//  The due entry was handed to the push effect, which said nothing of
//  it (no route to its device): it waits for one.
void
    custody_settle (custody_t *self, const custody_entry_t *entry);

//  The frame of a held entry, a heap copy the caller frees, or NULL if
//  the store could not give it back.
uint8_t *
    custody_frame (custody_t *self, const custody_entry_t *entry, size_t *size_p);

//  Write the frames taken and forget the ones let go since the last
//  call, in one transaction. Returns 0, or -1 (kept for the next call).
int
    custody_flush (custody_t *self);

//  Earliest time custody_due has work (a due entry, a probe, an
//  expiry), 0 if none.
uint64_t
    custody_deadline (custody_t *self);

//  Frames and frame bytes held.
size_t
    custody_size (custody_t *self);
size_t
    custody_bytes (custody_t *self);

void
    custody_test (bool verbose);

#endif
