/*  discovery - neighbours found by LAN beacons, without I/O
    The I/O layer hands every received beacon datagram here with its
    source address; this module decides which peers to dial and when to
    let them go. It never admits anyone: a discovered peer becomes a
    dialled mesh link like a configured one, and the mesh's HELLO check
    (certificate of the same CA, the link's CURVE key, not revoked)
    decides. What it guards against is the LAN itself, where anyone may
    send beacons:

    * beacons of another deployment (fingerprint), our own (echoed back
      on the interface), and keys we already dial by configuration are
      ignored;
    * at most DISCOVERY_PEERS_MAX peers at once; beacons handled at most
      DISCOVERY_RATE per second and new peers at most
      DISCOVERY_NEW_RATE per second, so a flood costs bounded work;
    * a dialled peer that has no verified link within hello_ms is
      dropped and its (key, endpoint) ignored for ban_ms (a forged
      beacon costs one CURVE handshake, then nothing);
    * a peer silent for expire_ms is dropped (its link closed).

    Two nodes that hear each other would both dial: the one with the
    smaller CURVE key dials at once, the other waits yield_ms and dials
    only if no verified link with that key exists by then (so a one-way
    LAN still links up, and a two-way one makes one link).  */

#ifndef WEFT_DISCOVERY_H_INCLUDED
#define WEFT_DISCOVERY_H_INCLUDED

#include "proto/proto.h"
#include "proto/beacon.h"

#define DISCOVERY_PEERS_MAX     16          //  Discovered peers at once
#define DISCOVERY_RATE          64          //  Beacons handled per second
#define DISCOVERY_NEW_RATE      4           //  New peers per second
#define DISCOVERY_BANNED_MAX    256         //  (key, endpoint) pairs ignored
#define DISCOVERY_ENDPOINT_MAX  63          //  "tcp://ADDRESS:PORT"

typedef enum {
    DISCOVERY_NEW = 0,              //  A new peer: dialled at its dial time
    DISCOVERY_REFRESHED = 1,        //  A known peer beaconed again
    DISCOVERY_OWN = 2,              //  Our own beacon
    DISCOVERY_FOREIGN = 3,          //  Another deployment
    DISCOVERY_MALFORMED = 4,        //  Not a beacon, or a bad address
    DISCOVERY_RATE_LIMITED = 5,     //  Over DISCOVERY_RATE or DISCOVERY_NEW_RATE
    DISCOVERY_FULL = 6,             //  DISCOVERY_PEERS_MAX peers already
    DISCOVERY_BANNED = 7,           //  Failed to verify recently
    DISCOVERY_CONFIGURED = 8,       //  A configured neighbour's key
    DISCOVERY_DUPLICATE = 9,        //  Its key is verified at another endpoint
    DISCOVERY_OUTCOMES = 10
} discovery_outcome_t;

typedef enum {
    DISCOVERY_DIAL = 1,             //  Dial peer->endpoint with peer->key
    DISCOVERY_DROP = 2,             //  Close the link of peer->slot
    DISCOVERY_FORGET = 3            //  Gone silent before we dialled it: no link to close
} discovery_action_t;

typedef struct {
    size_t slot;                    //  0 .. DISCOVERY_PEERS_MAX - 1, stable
    uint8_t key [WEFT_KEY_SIZE];    //  Its CURVE server key
    char endpoint [DISCOVERY_ENDPOINT_MAX + 1];
    bool dialled;                   //  DISCOVERY_DIAL was returned for it
    bool verified;                  //  A verified link with its key was seen
    const char *why;                //  DISCOVERY_DROP, _FORGET: the reason
} discovery_peer_t;

typedef struct {
    const uint8_t *own_key;         //  Our CURVE public key (32)
    const uint8_t *ca_key;          //  Root public key (32): our deployment
    uint64_t hello_ms;              //  Dialled to verified, at most
    uint64_t expire_ms;             //  Silence before a peer is dropped
    uint64_t ban_ms;                //  Unverified (key, endpoint) ignored this long
    uint64_t yield_ms;              //  Larger key waits this long before dialling
    //  Is there a verified mesh link with this CURVE key? (the mesh)
    bool (*linked) (void *ctx, const uint8_t key [WEFT_KEY_SIZE]);
    void *ctx;
    bool verbose;
} discovery_config_t;

typedef struct {
    uint64_t outcomes [DISCOVERY_OUTCOMES];
    uint64_t dialled;
    uint64_t verified;
    uint64_t expired;               //  Dropped for silence
    uint64_t unverified;            //  Dropped for no verified link in time
} discovery_stats_t;

typedef struct _discovery_t discovery_t;

discovery_t *
    discovery_new (const discovery_config_t *config);

void
    discovery_destroy (discovery_t **self_p);

//  Never discover this key (a configured neighbour's).
void
    discovery_exclude (discovery_t *self, const uint8_t key [WEFT_KEY_SIZE]);

//  One datagram from address (dotted IPv4 text, as the socket gave it).
//  Returns a discovery_outcome_t.
int
    discovery_beacon (discovery_t *self, const char *address, const uint8_t *data,
                      size_t size, uint64_t now_ms);

//  The next thing to do at now_ms, or 0 if nothing: fills *peer (a
//  copy; after DISCOVERY_DROP or DISCOVERY_FORGET the peer is gone and
//  its slot free).
//  Call until it returns 0.
int
    discovery_next (discovery_t *self, uint64_t now_ms, discovery_peer_t *peer);

//  Peers held now.
size_t
    discovery_size (discovery_t *self);

const discovery_stats_t *
    discovery_stats (discovery_t *self);

//  Name of an outcome, for logs.
const char *
    discovery_outcome_name (int outcome);

void
    discovery_test (bool verbose);

#endif
