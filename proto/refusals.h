/*  refusals - how many audit records refused requests may cause
    A refused enrolment or RPC is recorded with its source address, but
    the party refused may have proved nothing (a made-up token, a
    replayed frame), and each record is a signed, permanent entry: a
    flood must not fill the disk. So in each window of
    REFUSALS_WINDOW_MS at most REFUSALS_PER_SOURCE refusals per source
    address, and REFUSALS_TOTAL in all, get records of their own; the
    others are counted, and when the window ends one record per source
    says how many of its refusals were not recorded one by one. At most
    REFUSALS_SOURCES_MAX sources are told apart in a window; the rest
    share the source "*". No I/O: the caller gives the time.  */

#ifndef WEFT_REFUSALS_H_INCLUDED
#define WEFT_REFUSALS_H_INCLUDED

#include "proto/corelib.h"
#include <jansson.h>

#define REFUSALS_WINDOW_MS      60000
#define REFUSALS_PER_SOURCE     20
#define REFUSALS_TOTAL          600
#define REFUSALS_SOURCES_MAX    1024

typedef struct _refusals_t refusals_t;

refusals_t *
    refusals_new (void);

void
    refusals_destroy (refusals_t **self_p);

//  End the window if it is over at now_ms: returns {source: count} of
//  the refusals held back in it (caller decrefs), or NULL if the window
//  runs on or none was held back. Call it before refusals_admit.
json_t *
    refusals_roll (refusals_t *self, uint64_t now_ms);

//  May a refusal from source ("" if unknown) get a record of its own?
//  If not, it is counted for the window's summary.
bool
    refusals_admit (refusals_t *self, const char *source);

//  Refusals held back so far (the process's lifetime).
uint64_t
    refusals_held (refusals_t *self);

void
    refusals_test (bool verbose);

#endif
