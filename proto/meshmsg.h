/*  meshmsg - the payloads of the mesh messages (types 9..19, and 25)
    Wire forms, one msgpack array each (docs/protocol.md section 16):
        HELLO        [cert: bin, path: str(1040), revocations: uint,
                      quarantine: uint (optional: only when not 0, or
                      when a passport follows),
                      passport: bin(1..2560) (optional, proto/passport.h)]
        ROUTE        [path: str(1040), revocations: uint,
                      quarantine: uint (optional, only when not 0)]
        CUSTODY_ACK  [ids: bin(16 * n, 1 <= n <= 256), status: uint,
                      reason: str(255) (optional, only when not empty)]
        REVOCATIONS  [version: uint, names: str, curve_keys: bin(32 * n)
                      [, operator_keys: bin(32 * m)]]
        NODE_STATS   [counters: str (JSON object)]
        QUARANTINE   [version: uint, names: str(62400, n <= 960)]
    Lists travel flat: a path and a revocation list's names are node
    ids joined by ',' (ids never hold a comma), ids and keys are
    concatenated fixed-size binaries. Decoders check every count
    against the limits below, accept longer arrays (trailing fields
    ignored) and refuse shorter ones. Large fields are borrowed.  */

#ifndef WEFT_MESHMSG_H_INCLUDED
#define WEFT_MESHMSG_H_INCLUDED

#include "proto.h"

#define MESHMSG_PATH_MAX        ((WEFT_NAME_MAX + 1) * WEFT_HOP_LIMIT)
#define MESHMSG_ACK_IDS_MAX     256         //  Envelope ids per CUSTODY_ACK
#define MESHMSG_REVOKED_MAX     512         //  Entries in one revocation list
#define MESHMSG_STATS_MAX       4096        //  NODE_STATS JSON text
#define MESHMSG_QUARANTINED_MAX 960         //  Names in one quarantine list
#define MESHMSG_QUARANTINE_NAMES_MAX    (MESHMSG_QUARANTINED_MAX * (WEFT_NAME_MAX + 1))

typedef struct {
    int type;                           //  MSG_HELLO .. MSG_NODE_STATS
    //  HELLO: the sender's certificate (borrowed)
    const uint8_t *cert;
    size_t cert_size;
    //  HELLO, ROUTE: sender's path to the coordinator, sender first,
    //  coordinator excluded, "" = no route (NUL-terminated copy)
    char path [MESHMSG_PATH_MAX + 1];
    //  HELLO, ROUTE: version of the revocation list the sender holds;
    //  REVOCATIONS: version of this list
    uint64_t revocations;
    //  HELLO, ROUTE: version of the quarantine list the sender holds
    //  (0: none); QUARANTINE: version of this list
    uint64_t quarantine;
    //  HELLO: the sender's attestation passport (borrowed), or none
    const uint8_t *passport;
    size_t passport_size;
    //  CUSTODY_ACK: ids (borrowed, count * WEFT_ID_SIZE bytes), status,
    //  and why they were refused ("" = no reason given)
    const uint8_t *ids;
    size_t id_count;
    int status;
    char reason [WEFT_TEXT_MAX + 1];
    //  REVOCATIONS, QUARANTINE: names (borrowed, not NUL-ended);
    //  REVOCATIONS: keys (borrowed)
    const char *names;
    size_t names_size;
    const uint8_t *curve_keys;
    size_t key_count;
    //  REVOCATIONS: CURVE keys of revoked operators (borrowed), whose
    //  credentials site servers refuse (proto/opcred.h); optional
    const uint8_t *operator_keys;
    size_t operator_count;
    //  NODE_STATS: JSON object text (borrowed)
    const char *counters;
    size_t counters_size;
} meshmsg_t;

//  Encode. Returns 0 and a heap buffer (free()), or a proto_rc_t.
int
    meshmsg_encode (const meshmsg_t *msg, uint8_t **payload_p, size_t *size_p);

//  Decode a payload of the given type. Returns 0 or a proto_rc_t; *msg
//  is zeroed on error.
int
    meshmsg_decode (meshmsg_t *msg, int type, const uint8_t *payload, size_t size);

//  The rules between fields of a decoded or to-be-encoded meshmsg_t
//  (proto/wire_table.c runs it): 0 or PROTO_ERR_VALUE.
int
    meshmsg_check (const void *msg);

//  Number of names in a comma list (0 for ""), or -1 if a name is empty,
//  too long or holds a byte outside [A-Za-z0-9._-].
int
    meshmsg_names (const char *list, size_t size);

//  True if name is one of the comma list's names.
bool
    meshmsg_has_name (const char *list, size_t size, const char *name);

void
    meshmsg_test (bool verbose);

#endif
