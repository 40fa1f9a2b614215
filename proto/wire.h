/*  wire - the one description of every message payload, and the codec
    that reads it
    Each message type is one row of a table (proto/wire_table.c): its
    number, name, the C struct it decodes into, and its fields in wire
    order, each with its msgpack kind, where it lives in the struct and
    its explicit limits (bytes, counts, values). wire_encode and
    wire_decode walk that row; msg_encode, meshmsg_encode, tpmmsg_encode,
    delegmsg_encode, policymsg_msg_encode, updmsg_encode and sitemsg_encode
    (and their decoders) are
    thin calls into them, so callers keep their structs and names. The
    message table of docs/protocol.md section 5 is printed from the same
    rows (wire_doc_row) and a selftest compares the two.

    Rules every row follows, so a peer can be written from the table:
    a payload is one msgpack array in field order; a decoder accepts
    longer arrays (extra items ignored) and refuses shorter than the
    required count (PROTO_ERR_TYPE); optional fields trail the required
    ones and an encoder writes them up to the last one that is present
    (not zero, not empty), so a message without them is byte for byte
    the shorter, older form. A string or binary over its maximum is
    PROTO_ERR_OVERSIZE (PROTO_ERR_VALUE if its size is fixed), any other
    value, size or count out of its range PROTO_ERR_VALUE.
    Rules that tie fields together (a count of names equal to a count of
    keys) are the row's check function, run after decoding and before
    encoding.

    Adding a message type = one enum value in proto.h and one row.  */

#ifndef WEFT_WIRE_H_INCLUDED
#define WEFT_WIRE_H_INCLUDED

#include "proto.h"

//  The msgpack kind of a field and the C member(s) it maps to
typedef enum {
    WIRE_UINT = 1,      //  uint; C member of width 1 (bool), 4 (int, uint32_t) or 8
    WIRE_UINT_NIL,      //  uint or nil; uint64_t + bool at aux (false: nil)
    WIRE_INDEX,         //  uint = C int + 1, so -1 (none) travels as 0
    WIRE_STR,           //  str copied into char [max + 1], NUL-ended
    WIRE_STRN,          //  str borrowed: const char * + size_t at aux
    WIRE_BIN,           //  bin of exactly max bytes copied into uint8_t [max]
    WIRE_BINREF,        //  bin borrowed: const uint8_t * + size_t at aux
    WIRE_BINPTR,        //  bin of 0 or exactly max bytes, borrowed: NULL = empty
    WIRE_BINLIST        //  bin of n * unit bytes, borrowed: pointer + n at aux
} wire_kind_t;

//  Field flags
#define WIRE_OPTIONAL   1       //  May be absent (trailing); absent reads as zero
#define WIRE_WITH_PREV  2       //  Optional, written and required with the field before
#define WIRE_NULL_EMPTY 4       //  BINREF: an empty bin decodes as NULL

typedef struct {
    const char *name;           //  Field name, as in docs/protocol.md
    int kind;                   //  wire_kind_t
    int flags;                  //  WIRE_OPTIONAL etc.
    size_t offset;              //  Of the value (or pointer) in the struct
    size_t aux;                 //  Of its size, count or presence flag
    size_t width;               //  UINT: bytes of the C member
    size_t unit;                //  BINLIST: bytes per element
    uint64_t min;               //  Least value, bytes or count
    uint64_t max;               //  Most value, bytes or count (explicit, never 0 = any)
} wire_field_t;

//  The C struct a family of types decodes into
typedef enum {
    WIRE_FAMILY_MSG = 1,        //  msg_t (proto/msg.h)
    WIRE_FAMILY_MESH,           //  meshmsg_t (proto/meshmsg.h)
    WIRE_FAMILY_POLICY,         //  policymsg_t (proto/policymsg.h)
    WIRE_FAMILY_TPM,            //  tpmmsg_t (proto/tpmmsg.h)
    WIRE_FAMILY_DELEG,          //  delegmsg_t (proto/delegmsg.h)
    WIRE_FAMILY_UPDATE,         //  updmsg_t (proto/updmsg.h)
    WIRE_FAMILY_DOCUMENT,       //  a signed document of its own (passport)
    WIRE_FAMILY_SITE            //  sitemsg_t (proto/sitemsg.h)
} wire_family_t;

typedef struct {
    int type;                   //  msg_type_t
    const char *name;           //  e.g. "HELLO"
    int family;                 //  wire_family_t
    size_t struct_size;         //  sizeof the family's struct
    const wire_field_t *fields; //  In wire order
    size_t field_count;
    //  Cross-field rule, after decode and before encode: 0 or a proto_rc_t
    int (*check) (const void *msg);
    const char *direction;      //  For the docs table, e.g. "node → coordinator"
    const char *section;        //  docs/protocol.md section with the meaning
} wire_msg_t;

//  The row of a message type, or NULL if none.
const wire_msg_t *
    wire_msg (int type);

#define WIRE_TYPE_LIMIT 35      //  Message types are below this

//  The rows indexed by type, *count_p of them; a row whose name is
//  NULL is a number not in use.
const wire_msg_t *
    wire_msgs (size_t *count_p);

//  Items a decoder requires (the fields before the first optional one).
size_t
    wire_required (const wire_msg_t *spec);

//  Encode msg (the family's struct) as the payload of spec's type.
//  Returns 0 and a heap buffer (free()), or a proto_rc_t.
int
    wire_encode (const wire_msg_t *spec, const void *msg, uint8_t **payload_p,
                 size_t *size_p);

//  Decode a payload into msg (the family's struct, zeroed first, its
//  int type set). Large fields borrow from payload. Returns 0 or a
//  proto_rc_t; msg is zeroed again on error.
int
    wire_decode (const wire_msg_t *spec, void *msg, const uint8_t *payload, size_t size);

//  Family-checked entry points of the per-family wrappers: type must
//  belong to family, else PROTO_ERR_UNKNOWN.
int
    wire_encode_family (int family, int type, const void *msg, uint8_t **payload_p,
                        size_t *size_p);
int
    wire_decode_family (int family, int type, void *msg, size_t msg_size,
                        const uint8_t *payload, size_t size);

//  The docs/protocol.md section 5 row of spec, "| type | NAME | payload |
//  direction | section |", into buf. Returns 0, or -1 if it does not fit.
int
    wire_doc_row (const wire_msg_t *spec, char *buf, size_t size);

void
    wire_test (bool verbose);

#endif
