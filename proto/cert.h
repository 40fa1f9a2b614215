/*  cert - certificates signed by the Weft root CA
    Wire form (docs/protocol.md):
        cert = [body: bin, sig: bin(64)]
        body = [version, serial, kind, subject: str, tenant: str,
                role: str, path: str, sign_key: bin(32),
                curve_key: bin(32), not_before, not_after
                [, ak_name: bin(34) | nil [, grants: bin]]]
        grants = [role: str(64), path: str(255), ...] (1..16 pairs)
        sig  = Ed25519 (CA key, "weft-cert-v1" || 0x00 || body)
    Any holder of the root public key verifies a certificate offline.
    An operator certificate lists every grant of the operator (role on
    a hierarchy subtree; "" = everything, the first segment is the
    tenant), so a site server cut off from the coordinator can decide
    what the operator may do there (proto/opcred.h). role, tenant and
    path repeat the first grant for readers that predate the list.  */

#ifndef WEFT_CERT_H_INCLUDED
#define WEFT_CERT_H_INCLUDED

#include "proto.h"

//  A TPM attestation key's name: nameAlg (SHA-256) || SHA-256 (TPMT_PUBLIC).
//  Optional trailing body field: certificates without it decode as before.
#define CERT_AK_NAME_SIZE   34

#define CERT_GRANTS_MAX     16          //  Grants one certificate lists
#define CERT_PATH_MAX       255         //  Longest grant path, bytes

typedef enum {
    CERT_KIND_NODE = 1,             //  weft-node; role gateway or server
    CERT_KIND_OPERATOR = 2,         //  weftctl user; role is a permission level
    CERT_KIND_COORDINATOR = 3       //  weft-coord's service identity
} cert_kind_t;

//  One grant: a role on a hierarchy subtree
typedef struct {
    char role [WEFT_NAME_MAX + 1];  //  viewer, operator, auditor, ...
    char path [CERT_PATH_MAX + 1];  //  "" = everything, "acme" = a tenant
} cert_grant_t;

typedef struct {
    uint64_t serial;                //  Unique per CA
    int kind;                       //  cert_kind_t
    char subject [WEFT_NAME_MAX + 1];   //  Device id or operator name
    char tenant [WEFT_NAME_MAX + 1];    //  "" for the coordinator
    char role [WEFT_NAME_MAX + 1];  //  gateway, server, admin, viewer, ...
    char path [WEFT_NAME_MAX + 1];  //  Hierarchy placement, may be ""
    uint8_t sign_key [WEFT_KEY_SIZE];   //  Subject's Ed25519 public key
    uint8_t curve_key [WEFT_KEY_SIZE];  //  Subject's CURVE public key
    uint64_t not_before;            //  Unix seconds
    uint64_t not_after;             //  Unix seconds
    uint8_t ak_name [CERT_AK_NAME_SIZE];    //  TPM AK name bound at enrolment
    size_t ak_name_size;            //  0 (no TPM) or CERT_AK_NAME_SIZE
    cert_grant_t grants [CERT_GRANTS_MAX];  //  Operators only
    size_t grant_count;             //  0: none listed (node, or older cert)
} cert_t;

//  Is path a grant path: "" or 1..8 "/"-separated segments of 1-64
//  bytes A-Z a-z 0-9 . _ -, at most CERT_PATH_MAX bytes?
bool
    cert_path_valid (const char *path);

//  Sign cert with the CA secret key and encode it. Caller frees *out_p.
int
    cert_encode (const cert_t *cert, const uint8_t ca_secret [WEFT_SECRET_SIZE],
                 uint8_t **out_p, size_t *size_p);

//  Decode and verify against the root public key, and check validity
//  at now_s (pass 0 to skip the time check). Returns 0 or a proto_rc_t
//  (PROTO_ERR_SIGNATURE, PROTO_ERR_EXPIRED, ...); cert is filled only
//  on success.
int
    cert_decode (cert_t *cert, const uint8_t *data, size_t size,
                 const uint8_t ca_key [WEFT_KEY_SIZE], uint64_t now_s);

void
    cert_test (bool verbose);

#endif
