/*  seal - the one way a Weft sender seals, and a receiver opens, an
    envelope; and the one envelope id generator
    Every sender (node agent and mesh, coordinator, site server operator
    port, weftctl, the simulator) fills an envelope_head_t and calls
    envelope_seal; a receiver that knows the signer's key in advance
    calls envelope_open (one that must look the key up by origin calls
    envelope_decode, then envelope_verify). Ids are either random (the
    coordinator, operators) or derived from the origin and a number the
    origin never uses twice (nodes: their seq, or their HLC for
    link-local messages), so a node's run in weft-sim draws no
    randomness for them.  */

#ifndef WEFT_SEAL_H_INCLUDED
#define WEFT_SEAL_H_INCLUDED

#include "proto.h"
#include "envelope.h"

//  What a sender chooses; envelope_seal fills in the rest
typedef struct {
    int type;                   //  msg_type_t
    const char *origin;         //  Signer's id, not empty
    const char *tenant;         //  Origin's tenant; NULL is ""
    uint64_t seq;               //  Origin's sequence (docs/protocol.md 4.7)
    uint64_t hlc;               //  From hlc_next (proto/hlc.h)
    uint64_t expiry;            //  Unix ms; 0 = never
    uint8_t hop_limit;          //  Signed; the frame starts with as many hops
    const uint8_t *id;          //  WEFT_ID_SIZE bytes, or NULL for a random id
} envelope_head_t;

//  Sign payload into a frame under head. Returns 0 and a heap frame the
//  caller frees, or a proto_rc_t. If id is not NULL, it gets the
//  envelope's id.
int
    envelope_seal (const envelope_head_t *head, const uint8_t *payload, size_t payload_size,
                   const uint8_t secret [WEFT_SECRET_SIZE], uint8_t id [WEFT_ID_SIZE],
                   uint8_t **frame_p, size_t *size_p);

//  Decode a frame and verify it with the signer's public key. Returns 0,
//  or the proto_rc_t of envelope_decode, or PROTO_ERR_SIGNATURE; env is
//  zeroed on error. env borrows from frame.
int
    envelope_open (envelope_t *env, const uint8_t *frame, size_t size,
                   const uint8_t key [WEFT_KEY_SIZE]);

//  The id of origin's envelope number n: BLAKE2b of origin, a 0 byte
//  and n in 8 big-endian bytes, first WEFT_ID_SIZE bytes. Unique as long
//  as the origin never uses n twice: nodes use their seq, and their HLC
//  with ENVELOPE_ID_LINK set for link-local messages (which have no seq).
#define ENVELOPE_ID_LINK    (1ULL << 63)
void
    envelope_id_derive (uint8_t id [WEFT_ID_SIZE], const char *origin, uint64_t n);

void
    seal_test (bool verbose);

#endif
