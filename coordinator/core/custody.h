/*  custody - the coordinator's custody of the frames it sends through relays
    weft-coord sends replies and pushes to a device behind a site server
    as custody transfers; the server commits them and answers with a
    CUSTODY_ACK of their envelope ids. Until that ACK the coordinator
    keeps a copy and retransmits it with the mesh's back-off
    (proto/retry.h: 1 s, doubling, capped at 30 s), the same envelope
    each time (same id: the relay acknowledges a duplicate again and
    does not forward it twice). It gives up at the envelope's expiry,
    after COORD_CUSTODY_AGE_MS, or when the device has since been sent
    a frame REPLAY_WINDOW or more seqs newer (the device would refuse
    the old one as a replay). Memory is bounded: a few frames per device
    (the oldest is evicted; the device's next heartbeat, or its own
    report retry, still repairs) and a global count and byte cap
    (oldest first). A relay that links again (after a restart or a cut)
    makes the frames last sent through it due at once, as a new route
    wakes a node's outbox. Memory only: a restart forgets it, as it
    forgets routes. Sans-IO: the caller gives the time and sends.  */

#ifndef WEFT_CUSTODY_H_INCLUDED
#define WEFT_CUSTODY_H_INCLUDED

#include "proto/proto.h"
#include "coordinator/core/coord_stats.h"

#define CUSTODY_PER_DEST        4               //  Frames held per device
#define CUSTODY_COUNT_MAX       100000          //  Frames held in all
#define CUSTODY_BYTES_MAX       (64u << 20)     //  Frame bytes held in all
#define CUSTODY_AGE_MS          300000          //  Longest custody of a frame

typedef struct {
    size_t per_dest;                //  0 = CUSTODY_PER_DEST
    size_t count_max;               //  0 = CUSTODY_COUNT_MAX
    size_t bytes_max;               //  0 = CUSTODY_BYTES_MAX
    uint64_t age_ms;                //  0 = CUSTODY_AGE_MS
} custody_limits_t;

//  One held frame, borrowed while it is held
typedef struct {
    uint8_t id [WEFT_ID_SIZE];      //  Envelope id
    char dest [WEFT_NAME_MAX + 1];  //  Device it goes to
    const uint8_t *frame;           //  The envelope as first sent
    size_t size;
    uint64_t seq;                   //  The envelope's seq
    uint64_t due_ms;                //  Next retransmission
    uint64_t backoff_ms;            //  Interval after that one
    uint32_t sends;                 //  Transmissions so far
} custody_entry_t;

typedef struct _custody_t custody_t;

//  Create; stats (borrowed) gets the custody_* counters. limits may be
//  NULL (defaults).
custody_t *
    custody_new (const custody_limits_t *limits, coord_stats_t *stats);

void
    custody_destroy (custody_t **self_p);

//  A custody transfer of frame to dest was sent through relay, or tried
//  (its link was gone): hold a copy until a relay acknowledges its id. A
//  frame already held (a retransmission) only notes the relay it went
//  through. Returns 0, or -1 if the frame is not an envelope or dest or
//  relay is not a device id.
int
    custody_sent (custody_t *self, const char *dest, const char *relay,
                  const uint8_t *frame, size_t size, uint64_t now_ms);

//  relay linked again: the frames last sent through it are due at now_ms,
//  with the first back-off. Touches only those (an index by relay).
//  Returns how many.
size_t
    custody_wake (custody_t *self, const char *relay, uint64_t now_ms);

//  A relay acknowledged id: forget it. Returns 0, or -1 if not held.
int
    custody_ack (custody_t *self, const uint8_t id [WEFT_ID_SIZE]);

//  The next hop refused id for good (a CUSTODY_ACK or ACK whose status
//  is neither OK nor INTERNAL): forget it, counted as refused. Returns
//  0, or -1 if not held.
int
    custody_refused (custody_t *self, const uint8_t id [WEFT_ID_SIZE]);

//  The entry due first at now_ms, or NULL if none is due. Expired and
//  superseded entries on the way are dropped (counted). It stays the
//  answer until custody_resent (or custody_ack).
const custody_entry_t *
    custody_due (custody_t *self, uint64_t now_ms);

//  The due entry was sent again at now_ms: due again after back-off.
void
    custody_resent (custody_t *self, const custody_entry_t *entry, uint64_t now_ms);

//  Earliest due time of a held entry, 0 if none.
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
