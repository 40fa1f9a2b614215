/*  gossip - site-wide policy objects spread over links, without I/O
    Push: an object a node stores for the first time (newer than the one
    it held) is sent to at most GOSSIP_FANOUT of its links, never back
    to the one it came from, and up to GOSSIP_LAZY_MAX other links get
    our summary at once (they pull it if they lack it); a duplicate or
    an older version is counted and goes no further, so each node
    forwards each version at most once. Anti-entropy: on link up and every GOSSIP_SUMMARY_TICKS ticks
    a node sends each link its summary (object count and root digest).
    A receiver whose root differs answers with its bucket digests (at
    most once per interval per link); the holder of those lists its
    keys and versions in each bucket that differs (at most
    GOSSIP_LIST_MAX keys per answer); the receiver of a listing pulls
    exactly the keys it lacks or holds older (POLICY_KEYS want), and the
    holder sends those objects. Each side pulls only what it is missing;
    nothing is sent whole. Every object is verified against the CA key
    before it is stored or forwarded (policy.h); summaries and listings
    are untrusted hints: a lie costs at most one bounded exchange per
    interval, never a stored object.

    Bounds per link: one request window per interval answers at most
    GOSSIP_REQUESTS_MAX requests (bucket summaries and pulls, each at
    most POLICYMSG_KEYS_MAX keys); beyond, requests are dropped and
    counted. Pulls in flight: GOSSIP_PULLS_MAX keys for the node, each
    forgotten after 3 intervals. Links: links_max.

    Used by the node's mesh (links = verified neighbours and the
    coordinator link) and by the coordinator (links = nodes linked to
    it directly, made when they first speak, forgotten after
    GOSSIP_IDLE_MS of silence).  */

#ifndef WEFT_GOSSIP_H_INCLUDED
#define WEFT_GOSSIP_H_INCLUDED

#include "proto/policymsg.h"
#include "proto/policy.h"

#define GOSSIP_FANOUT           3           //  Links a new object is pushed to
#define GOSSIP_LAZY_MAX         16          //  Other links told at once (a summary)
#define GOSSIP_SUMMARY_TICKS    6           //  Ticks between periodic summaries
#define GOSSIP_LIST_MAX         1024        //  Keys listed in answer to one summary
#define GOSSIP_REQUESTS_MAX     8           //  Requests answered per link per interval
#define GOSSIP_PULLS_MAX        1024        //  Keys pulled and not yet received
#define GOSSIP_IDLE_MS          60000       //  Silent links forgotten (auto links)

typedef struct {
    void *ctx;
    //  Send one gossip payload of type (MSG_POLICY..MSG_POLICY_KEYS) on
    //  link; the owner seals it in an envelope. Borrowed. Returns 0 or -1.
    int (*send) (void *ctx, const char *link, int type, const uint8_t *payload, size_t size);
} gossip_effects_t;

typedef struct {
    policy_store_t *policies;       //  Borrowed
    uint64_t interval_ms;           //  Tick interval (the heartbeat); request windows
    size_t links_max;               //  Links remembered
    bool auto_links;                //  A message from an unknown link makes it (pushed to)
    bool verbose;
} gossip_config_t;

typedef struct {
    uint64_t stored;                //  New objects kept (pushed, pulled or published)
    uint64_t pulled;                //  Of those, answers to our pulls
    uint64_t pushed;                //  Objects sent to links by fan-out
    uint64_t served;                //  Objects sent in answer to pulls
    uint64_t duplicates;            //  The version held came again
    uint64_t stale;                 //  Older than the version held
    uint64_t forged;                //  Unsigned or not signed by our CA
    uint64_t malformed;             //  Undecodable payloads or objects
    uint64_t refused_full;          //  Beyond the count or byte limits
    uint64_t throttled;             //  Requests over a link's budget
    uint64_t summaries;             //  Summaries sent
    uint64_t wanted;                //  Keys asked for in pulls
    uint64_t listed;                //  Keys sent in listings (answers to summaries)
} gossip_stats_t;

typedef struct _gossip_t gossip_t;

gossip_t *
    gossip_new (const gossip_config_t *config, const gossip_effects_t *effects);

void
    gossip_destroy (gossip_t **self_p);

//  A link is up (verified): remember it and send it our summary. push:
//  new objects are pushed to it (not to their source, the coordinator).
void
    gossip_link_up (gossip_t *self, const char *link, bool push, uint64_t now_ms);

void
    gossip_link_down (gossip_t *self, const char *link);

//  One gossip payload (types 14..16) from an authenticated link.
//  Returns 0 if handled, -1 if dropped (counted).
int
    gossip_on_message (gossip_t *self, const char *link, int type, const uint8_t *payload,
                       size_t size, uint64_t now_ms);

//  Periodic work: summaries, forgetting pulls and idle links.
void
    gossip_tick (gossip_t *self, uint64_t now_ms);

//  Offer an object from this holder's own source (the coordinator's
//  publisher): stored and pushed like one received. Returns a
//  policy_offer_t.
int
    gossip_publish (gossip_t *self, const uint8_t *object, size_t size, uint64_t now_ms);

const gossip_stats_t *
    gossip_stats (gossip_t *self);

//  Counters as a JSON object text (with the count of objects held).
//  Caller frees.
char *
    gossip_stats_json (gossip_t *self);

void
    gossip_test (bool verbose);

#endif
