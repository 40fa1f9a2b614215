/*  outbox - the custody queue of a mesh node, durable in LMDB
    Every envelope this node has taken custody of (its own, or one it
    relays) waits here until the next hop acknowledges it. Entries are
    staged in memory and made durable together by outbox_flush: one
    write transaction per poll burst, never one per message (group
    commit). Only after outbox_flush returned 0 may the caller
    acknowledge the staged entries to the previous hop, so a failed
    commit is never acknowledged.

    Five priority classes, served strictly in order: control > twin >
    evidence > telemetry > bulk, FIFO within a class. Each class is
    bounded; when it is full, telemetry and bulk drop their oldest entry
    (counted), control, twin and evidence refuse the new one
    (back-pressure: the previous hop keeps it and retransmits later).

    Retransmission is per link, never per message. An entry sent on a
    link is *in flight* there: it is not sent on that link again while
    the link is up, however long the ACK takes, so a link that does not
    drain (a stalled or slow peer) never gets a second copy of anything
    stacked behind the first. A link delivers in order (one TCP
    connection), so when the next hop acknowledges an entry, every entry
    sent on that link before it and not answered was received and
    dropped (the hop could not take it): those are sent
    again after the link's back-off (RETRY_MIN_MS doubling to
    RETRY_MAX_MS, reset when a retransmission is taken). A link that
    acknowledges nothing at all for the link timeout (its dead-link
    time, RETRY_LINK_DEAD: a dead link has been closed by then, so one
    still up has read what was sent on it; or the link's back-off, if
    longer) gets its oldest entry once more as a probe. A link
    that goes down makes everything in flight on it due at once (for
    the next hop the caller picks); a retransmission is always the same
    frame, same id.

    Sans-IO: no clock, no sockets; storage only through the store.  */

#ifndef WEFT_OUTBOX_H_INCLUDED
#define WEFT_OUTBOX_H_INCLUDED

#include "proto/proto.h"
#include "proto/retry.h"
#include "proto/store.h"

#define OUTBOX_TABLE            "outbox"
#define OUTBOX_RETRY_MIN_MS     RETRY_MIN_MS    //  First retransmit (proto/retry.h)
#define OUTBOX_RETRY_MAX_MS     RETRY_MAX_MS    //  Back-off ceiling
#define OUTBOX_DEST_MAX         WEFT_NAME_MAX
#define OUTBOX_LINK_TIMEOUT_MS  RETRY_LINK_DEAD (5000)     //  Default: heartbeat 5 s
#define OUTBOX_LINK_MAX         (2 + 256)       //  Longest link name

typedef enum {
    OUTBOX_CONTROL = 0,             //  ACKs, revocations: never dropped
    OUTBOX_TWIN = 1,                //  Twin reports and desired: never dropped
    OUTBOX_EVIDENCE = 2,            //  Attestation evidence: never dropped
    OUTBOX_TELEMETRY = 3,           //  Heartbeats, stats: oldest dropped when full
    OUTBOX_BULK = 4,                //  Artifacts: oldest dropped when full
    OUTBOX_CLASSES = 5
} outbox_class_t;

//  One queued envelope, borrowed from the outbox while it is queued.
typedef struct {
    uint8_t id [WEFT_ID_SIZE];      //  Envelope id
    int klass;                      //  outbox_class_t
    char dest [OUTBOX_DEST_MAX + 1];    //  "coordinator", a device id, or "*"
    const uint8_t *frame;           //  Envelope frame as it will be sent
    size_t size;
    uint64_t due_ms;                //  Next (re)transmission; 0 = now
    uint32_t sends;                 //  Transmissions so far
    bool durable;                   //  Committed (false while staged)
} outbox_entry_t;

typedef struct {
    uint64_t depth [OUTBOX_CLASSES];    //  Entries queued per class
    uint64_t staged;                //  Entries taken into custody
    uint64_t acked;                 //  Entries the next hop acknowledged
    uint64_t retransmits;           //  Sends after the first
    uint64_t dropped_full;          //  Telemetry/bulk dropped oldest-first
    uint64_t refused_full;          //  Control/twin/evidence refused (back-pressure)
    uint64_t commit_failed;         //  Flushes whose commit failed
    uint64_t duplicates;            //  Stage of an id already queued
    uint64_t visited;               //  Entries outbox_due handed to a pump
    uint64_t woken;                 //  Entries outbox_wake made due
    uint64_t refused;               //  Refused for good by the next hop: removed
    uint64_t passed_over;           //  In flight, a later one ACKed: missed, resent
    uint64_t probes;                //  Oldest entry resent on a link that ACKs nothing
    uint64_t links_down;            //  Entries in flight on a link that went down
} outbox_stats_t;

typedef struct _outbox_t outbox_t;

//  Create over a store that has OUTBOX_TABLE; prefix separates several
//  nodes in one environment (the simulator). limits [class] is the
//  largest number of entries per class (0 = default).
outbox_t *
    outbox_new (store_t *store, const char *prefix, const size_t *limits);

void
    outbox_destroy (outbox_t **self_p);

//  Load the entries a previous run left (all due now). Returns the
//  number loaded or -1.
int
    outbox_load (outbox_t *self);

//  Stage one envelope (copied). Returns 0 (staged, or already queued:
//  a duplicate is not an error), 1 if the class is full and refuses it
//  (back-pressure), -1 on bad arguments.
int
    outbox_stage (outbox_t *self, int klass, const char *dest,
                  const uint8_t id [WEFT_ID_SIZE], const uint8_t *frame, size_t size);

//  Stage one envelope as outbox_stage does, taking the frame instead of
//  copying it (a relay's re-framed copy): *frame_p is freed whatever the
//  outcome, and nulled.
int
    outbox_stage_owned (outbox_t *self, int klass, const char *dest,
                        const uint8_t id [WEFT_ID_SIZE], uint8_t **frame_p, size_t size);

//  How long a link that acknowledges nothing may keep entries in flight
//  before its oldest is sent again (default OUTBOX_LINK_TIMEOUT_MS). Give
//  at least the time a dead link takes to be closed.
void
    outbox_set_link_timeout (outbox_t *self, uint64_t timeout_ms);

//  Remove an acknowledged entry (the delete reaches the store in the next
//  flush). If it was in flight, what was sent on its link before it and
//  is not answered was dropped: due again after the link's back-off (a
//  hop sends its ACKs in the order it received: after its commit).
//  Returns 0, or -1 if no such entry.
int
    outbox_ack (outbox_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t now_ms);

//  The next hop refused this entry for good: remove it, counted. Nothing
//  is inferred of what went before it (a hop answers a refusal at once,
//  ahead of the ACKs that wait for its commit). Returns 0, or -1 if no
//  such entry.
int
    outbox_refused (outbox_t *self, const uint8_t id [WEFT_ID_SIZE]);

//  The next hop received this entry and could not take it yet (an
//  INTERNAL CUSTODY_ACK): due again after its link's back-off. Returns
//  0, or -1 if no such entry in flight.
int
    outbox_not_taken (outbox_t *self, const uint8_t id [WEFT_ID_SIZE], uint64_t now_ms);

//  Commit staged entries and pending deletes in one transaction. On
//  failure the staged entries are forgotten (never acknowledged: the
//  previous hop still holds them) and the deletes are kept for the next
//  flush. Returns 0 or -1.
int
    outbox_flush (outbox_t *self);

//  True if anything waits for outbox_flush.
bool
    outbox_dirty (outbox_t *self);

//  Iterate durable entries in priority then FIFO order: first/next
//  return NULL at the end. Do not stage or ack while iterating.
outbox_entry_t *
    outbox_first (outbox_t *self);
outbox_entry_t *
    outbox_next (outbox_t *self);

//  Record a transmission of entry on link at now_ms: it is in flight
//  there until an ACK, a refusal, a probe, or the link goes down.
void
    outbox_sent (outbox_t *self, outbox_entry_t *entry, const char *link, uint64_t now_ms);

//  link went down (or came up anew: a new connection): what was in
//  flight on it is due now. Returns how many entries.
size_t
    outbox_link_down (outbox_t *self, const char *link);

//  Entries in flight on link.
size_t
    outbox_in_flight (outbox_t *self, const char *link);

//  The most urgent durable entry due at now_ms (priority, then FIFO),
//  or NULL if none is due. It stays the answer until the caller moves
//  it with outbox_sent or outbox_defer (or acks it). Touches only due
//  entries (an index by due time, never a walk of the outbox) and the
//  links whose probe is due (an index by probe time).
outbox_entry_t *
    outbox_due (outbox_t *self, uint64_t now_ms);

//  Not sent now (no route, or the link refused it): due again after
//  delay_ms, without counting a transmission or growing the back-off.
void
    outbox_defer (outbox_t *self, outbox_entry_t *entry, uint64_t now_ms,
                  uint64_t delay_ms);

//  Make every entry for dest that is not in flight due now (a new route
//  or link appeared). Touches only dest's entries (an index by
//  destination); dest NULL walks them all.
void
    outbox_wake (outbox_t *self, const char *dest);

//  Earliest due time of a durable entry or of a link's probe, 0 if none.
uint64_t
    outbox_deadline (outbox_t *self);

//  Total entries queued.
size_t
    outbox_size (outbox_t *self);

const outbox_stats_t *
    outbox_stats (outbox_t *self);

void
    outbox_test (bool verbose);

#endif
