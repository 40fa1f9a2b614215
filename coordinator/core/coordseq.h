/*  coordseq - sequence numbers of the coordinator's own envelopes
    A device's agent keeps one replay window of 64 seqs for the
    coordinator (proto/replay.h). If every envelope to every device came
    from one counter, two frames for the same device would be thousands
    of seqs apart in a large fleet, and a relay that reorders them (its
    outbox serves control before twin envelopes, a retransmission goes
    after newer frames) would push the older one out of the window. So
    envelopes addressed to one device are numbered per destination: the
    destination is hashed (SipHash, key from the core's random source)
    to one of COORDSEQ_BUCKETS counters, and seq = epoch base + counter.
    A device's seqs are then dense (shared only with the few devices of
    its bucket), and any reordering of up to ~64 of its own frames is
    accepted. Memory is fixed whatever the number of devices.
    The epoch base is reserved in the store once when the core opens:
    one write that moves meta/seq_reserved past the whole epoch, so the
    base is above every seq an earlier run used, with either stream or
    with the single counter of older releases (whose reservation is the
    same key). A counter at its limit reserves a new epoch.
    Envelopes no device windows (RPC replies, enrolment answers,
    revocation and quarantine lists, gossip, attestation challenges)
    take the global counter: blocks of COORDSEQ_BLOCK above the store's
    reservation. The two streams share values but never a window.  */

#ifndef WEFT_COORDSEQ_H_INCLUDED
#define WEFT_COORDSEQ_H_INCLUDED

#include "proto/store.h"

#define COORDSEQ_BUCKETS    65536           //  Counters, destinations hashed to one
#define COORDSEQ_LIMIT      UINT32_MAX      //  Highest counter value in an epoch
#define COORDSEQ_BLOCK      1024            //  Global seqs reserved per write

typedef struct _coordseq_t coordseq_t;

//  Reserve this run's epoch in store (tables of registry_tables). limit
//  is the highest counter value before a new epoch is reserved
//  (COORDSEQ_LIMIT; smaller only in tests). NULL if the store fails.
coordseq_t *
    coordseq_new (store_t *store, uint32_t limit);

void
    coordseq_destroy (coordseq_t **self_p);

//  Next seq for an envelope to device dest, or from the global counter
//  if dest is NULL. Never call it inside a write transaction (it may
//  reserve). Returns 0 if the store fails.
uint64_t
    coordseq_next (coordseq_t *self, const char *dest);

//  Epochs reserved so far by this run (1 after coordseq_new).
uint64_t
    coordseq_epochs (coordseq_t *self);

void
    coordseq_test (bool verbose);

#endif
