/*  coord_stats - counters of the coordinator, reported by coord.stats
    Process lifetime only: they restart at zero with the daemon.  */

#ifndef WEFT_COORD_STATS_H_INCLUDED
#define WEFT_COORD_STATS_H_INCLUDED

#include <stdint.h>

typedef struct {
    uint64_t rejected_signature;    //  Envelope did not verify
    uint64_t rejected_replay;       //  Sequence number already seen
    uint64_t rejected_origin;       //  Origin not the authenticated peer
    uint64_t rejected_malformed;    //  Undecodable, wrong type, bad fields
    uint64_t rejected_expired;      //  Past the envelope's expiry
    uint64_t enrolments;            //  Devices created
    uint64_t enrol_refused;         //  Enrolment requests refused
    uint64_t rpc_calls;             //  Authenticated RPC requests handled
    uint64_t duplicates;            //  Retransmissions re-acknowledged
    //  Custody of frames sent through relays (custody.h)
    uint64_t custody_held;          //  Frames waiting for a relay's ACK now
    uint64_t custody_resent;        //  Retransmissions
    uint64_t custody_acked;         //  Frames a relay acknowledged
    uint64_t custody_refused;       //  Frames the next hop refused for good
    uint64_t custody_over_budget;   //  Not held: over the budget (per device or in all)
    uint64_t custody_expired;       //  Given up: too old, or superseded
    //  Updates (director.h)
    uint64_t update_offers;         //  UPDATE_OFFERs sealed and sent by custody
    uint64_t chunk_wants;           //  CHUNK_WANTs answered
    uint64_t chunks_served;         //  CHUNK_DATA sent with a chunk
    uint64_t chunk_bytes_served;    //  Their bytes as sent (packed, or as deltas)
    uint64_t chunk_deltas_served;   //  Of them, sent as deltas
    //  Refused requests counted but not recorded one by one (refusals.h)
    uint64_t audit_refusals_held;
} coord_stats_t;

#endif
