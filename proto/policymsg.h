/*  policymsg - site-wide policy objects and their gossip (types 14..16)
    A policy object is a standalone document signed by the deployment CA,
    so any node verifies it offline with the root key, whoever relayed it:
        object = [body: bin, sig: bin(64)]
        body   = [format: uint = 1, kind: str(16), name: str(129),
                  version: uint >= 1, content: bin(<= POLICYMSG_CONTENT_MAX)]
    A name is one or two segments of [A-Za-z0-9._-]{1,64} joined by "/":
    the policies of a tenant are named "<tenant>/<name>" (policymsg_name).
        sig    = Ed25519 (CA, "weft-policy-v1" || 0x00 || body)
    The signature is checked before the body is parsed. Newer versions
    of one (kind, name) replace older ones.

    Gossip payloads (docs/protocol.md section 18), one msgpack array each:
        POLICY          [object: bin]
        POLICY_SUMMARY  [count: uint, root: bin(16), buckets: bin(0 | 16 * 64)]
        POLICY_KEYS     [want: uint 0|1, keys: str, versions: bin(8 * n)]
    keys is a comma list of "kind/name" (n <= POLICYMSG_KEYS_MAX), versions
    the matching big-endian uint64s. Decoders accept longer arrays
    (trailing fields ignored) and refuse shorter ones. Large fields are
    borrowed from the input.  */

#ifndef WEFT_POLICYMSG_H_INCLUDED
#define WEFT_POLICYMSG_H_INCLUDED

#include "proto.h"

#define POLICYMSG_KIND_MAX      16          //  [a-z0-9-]
#define POLICYMSG_NAME_MAX      (2 * WEFT_NAME_MAX + 1)     //  [tenant "/"] name
#define POLICYMSG_KEY_MAX       (POLICYMSG_KIND_MAX + 1 + POLICYMSG_NAME_MAX)
#define POLICYMSG_CONTENT_MAX   (256 * 1024)    //  Bytes of one object's content
#define POLICYMSG_KEYS_MAX      256         //  Keys in one POLICY_KEYS
#define POLICYMSG_BUCKETS       64          //  Digest ranges in a summary
#define POLICYMSG_DIGEST_SIZE   16          //  BLAKE2b-128
#define POLICYMSG_KEYS_TEXT_MAX (POLICYMSG_KEYS_MAX * (POLICYMSG_KEY_MAX + 1))
#define POLICYMSG_OBJECT_MAX    (POLICYMSG_CONTENT_MAX + 1024)  //  Object with its body

//  One object, decoded. Strings are NUL-terminated copies; content is
//  borrowed from the bytes decoded.
typedef struct {
    char kind [POLICYMSG_KIND_MAX + 1];
    char name [POLICYMSG_NAME_MAX + 1];
    uint64_t version;
    const uint8_t *content;
    size_t content_size;
} policy_object_t;

//  Encode the body of an object (to be signed). Returns 0 and a heap
//  buffer, or a proto_rc_t (bad kind, name, version or size).
int
    policymsg_body (const policy_object_t *object, uint8_t **body_p, size_t *size_p);

//  Wrap a body and its CA signature into an object. Returns 0 and a heap
//  buffer, or a proto_rc_t.
int
    policymsg_seal (const uint8_t *body, size_t body_size, const uint8_t sig [WEFT_SIG_SIZE],
                    uint8_t **object_p, size_t *size_p);

//  Body, signature and seal in one call with the CA secret (tests,
//  tools). Returns 0 or a proto_rc_t.
int
    policymsg_encode (const policy_object_t *object, const uint8_t ca_secret [WEFT_SECRET_SIZE],
                      uint8_t **object_p, size_t *size_p);

//  Verify the CA signature, then decode. Returns 0, PROTO_ERR_UNSIGNED
//  or PROTO_ERR_SIGNATURE for a missing or bad signature, or another
//  proto_rc_t; *object is zeroed on error.
int
    policymsg_decode (policy_object_t *object, const uint8_t *data, size_t size,
                      const uint8_t ca_key [WEFT_KEY_SIZE]);

//  Signing context
#define POLICYMSG_CONTEXT       "weft-policy-v1"

//  Is kind a valid kind, name a valid name?
bool
    policymsg_kind_valid (const char *kind);
bool
    policymsg_name_valid (const char *name);

//  The name of a tenant's policy: "<tenant>/<local>", or "<local>" for
//  tenant "" (the devices without a tenant). local is a name segment.
//  Returns 0, or -1 (out "") if tenant or local is not a segment.
int
    policymsg_name (const char *tenant, const char *local, char out [POLICYMSG_NAME_MAX + 1]);

//  --- Gossip payloads

typedef struct {
    int type;                           //  MSG_POLICY .. MSG_POLICY_KEYS
    //  POLICY: the object (borrowed)
    const uint8_t *object;
    size_t object_size;
    //  POLICY_SUMMARY: objects held, root digest, bucket digests or NULL
    uint64_t count;
    uint8_t root [POLICYMSG_DIGEST_SIZE];
    const uint8_t *buckets;             //  POLICYMSG_BUCKETS * DIGEST_SIZE, borrowed
    //  POLICY_KEYS: want (1: send me these) or have (0: I hold these)
    bool want;
    const char *keys;                   //  Comma list, borrowed, not NUL-ended
    size_t keys_size;
    const uint8_t *versions;            //  8 * key_count, borrowed
    size_t key_count;
} policymsg_t;

//  The rule between fields (proto/wire_table.c runs it): 0 or
//  PROTO_ERR_VALUE.
int
    policymsg_msg_check (const void *msg);

//  Encode. Returns 0 and a heap buffer, or a proto_rc_t.
int
    policymsg_msg_encode (const policymsg_t *msg, uint8_t **payload_p, size_t *size_p);

//  Decode a payload of the given type. Returns 0 or a proto_rc_t; *msg is
//  zeroed on error. Every key of a POLICY_KEYS is checked.
int
    policymsg_msg_decode (policymsg_t *msg, int type, const uint8_t *payload, size_t size);

//  Key index of a POLICY_KEYS list: copy the index-th key into key
//  (POLICYMSG_KEY_MAX + 1) and return its version. *offset_p walks the
//  list (start at 0). Returns 0, or -1 at the end.
int
    policymsg_key_next (const policymsg_t *msg, size_t *offset_p, size_t index,
                        char key [POLICYMSG_KEY_MAX + 1], uint64_t *version_p);

//  "kind/name" into its parts; returns 0 or -1 if not a valid key.
int
    policymsg_key_split (const char *key, char kind [POLICYMSG_KIND_MAX + 1],
                         char name [POLICYMSG_NAME_MAX + 1]);

void
    policymsg_test (bool verbose);

#endif
