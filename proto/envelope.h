/*  envelope - the signed outer frame of every Weft message
    Wire form (docs/protocol.md):
        frame = [hops: uint, body: bin, sig: bin(64)]
        body  = [version, id: bin(16), type, origin: str, tenant: str,
                 seq, hlc, expiry, hop_limit, payload: bin]
        sig   = Ed25519 (origin key, "weft-envelope-v1" || 0x00 || body)
    hops is outside the signature because relays decrement it; it may
    never exceed the signed hop_limit. A decoded envelope borrows its
    body, signature and payload from the frame buffer: keep the frame
    alive while you use them.  */

#ifndef WEFT_ENVELOPE_H_INCLUDED
#define WEFT_ENVELOPE_H_INCLUDED

#include "proto.h"

#define ENVELOPE_CONTEXT    "weft-envelope-v1"  //  Signature context of every body
#define ENVELOPE_ITEMS      10                  //  Body items a decoder requires
#define ENVELOPE_TYPE_MAX   65535

typedef struct {
    uint8_t id [WEFT_ID_SIZE];      //  Random, unique per message
    int type;                       //  msg_type_t
    char origin [WEFT_NAME_MAX + 1];    //  Node, operator or coordinator id
    char tenant [WEFT_NAME_MAX + 1];    //  Tenant of the origin, may be ""
    uint64_t seq;                   //  Per-origin sequence, starts at 1
    uint64_t hlc;                   //  Hybrid logical clock, ms << 16 | count
    uint64_t expiry;                //  Unix ms after which to drop; 0 = never
    uint8_t hop_limit;              //  Signed maximum number of hops
    uint8_t hops;                   //  Hops left; relays decrement
    const uint8_t *payload;         //  Message body, msgpack; borrowed
    size_t payload_size;            //  Bytes at payload
    const uint8_t *body;            //  Signed bytes, after decode; borrowed
    size_t body_size;               //  Bytes at body
    const uint8_t *sig;             //  Signature, after decode; borrowed
} envelope_t;

//  Sign and encode an envelope. Returns 0 and a heap frame the caller
//  frees with free(), or a proto_rc_t. Fills env->body/sig pointers
//  with NULL (they would dangle).
int
    envelope_encode (envelope_t *env, const uint8_t secret_key [WEFT_SECRET_SIZE],
                     uint8_t **frame_p, size_t *size_p);

//  Decode a frame within the limits of proto.h. Does not verify the
//  signature: look up the origin's key, then call envelope_verify.
int
    envelope_decode (envelope_t *env, const uint8_t *frame, size_t size);

//  Verify a decoded envelope's signature. Returns 0 or PROTO_ERR_SIGNATURE.
int
    envelope_verify (const envelope_t *env, const uint8_t public_key [WEFT_KEY_SIZE]);

//  Re-encode a decoded frame with a new hop count, for relays. The body
//  and signature are copied unchanged. Caller frees *frame_p.
int
    envelope_reframe (const envelope_t *env, uint8_t hops, uint8_t **frame_p,
                      size_t *size_p);

//  Encode a frame around a body already signed with sig (a relay's
//  reframe, and tests that craft bodies). Caller frees *frame_p.
int
    envelope_frame (uint8_t hops, const uint8_t *body, size_t body_size,
                    const uint8_t *sig, uint8_t **frame_p, size_t *size_p);

//  Envelope id as 32 hex characters plus NUL.
void
    envelope_id_hex (const uint8_t id [WEFT_ID_SIZE], char hex [2 * WEFT_ID_SIZE + 1]);

//  Selftest support: the golden envelope of type carrying payload, with
//  the fields and signer every golden envelope has (a node's goes up as
//  node-1 of tenant acme, the coordinator's comes down): encoded,
//  compared with tests/golden/NAME.hex (codec_golden), and the file's
//  bytes decoded and verified into got. Returns those bytes, into which
//  got points; caller frees.
uint8_t *
    envelope_golden (int type, const uint8_t *payload, size_t payload_size,
                     const char *name, envelope_t *got);

void
    envelope_test (bool verbose);

#endif
