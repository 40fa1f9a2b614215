/*  passport - a short-lived, signed attestation result a node presents
    to its peers, so that a peer cut off from the coordinator can tell
    offline whether a neighbour was attested recently enough
    Wire form (docs/protocol.md section 20), as a certificate:
        passport = [body: bin, sig: bin(64)]
        body     = [version: 1, device: str(64), tenant: str(64),
                    cert_serial: uint, verdict: uint (1 passed, 2 cleared),
                    attested_ms: uint, expires_ms: uint, issuer: str(64),
                    issuer_cert: bin(0..2048)]
        sig      = Ed25519 (issuer's key, "weft-passport-v1" || 0x00 || body)
    The issuer is the coordinator (issuer "coordinator", issuer_cert
    empty, signed with the coordinator's key every node holds) or a site
    server verifying for it while its site is cut off (issuer = its
    device id, issuer_cert = its certificate: CA-signed, role "server",
    the device's tenant). A passport names the certificate it was issued
    under (device, tenant, serial), so it is worth nothing to another
    device or after the device enrolled again. expires_ms is the time of
    the verdict plus the profile's interval and grace: past it, the
    device is overdue and peers that require attestation refuse it.
    Pure functions over bytes; no clock (the caller passes now), no I/O.  */

#ifndef WEFT_PASSPORT_H_INCLUDED
#define WEFT_PASSPORT_H_INCLUDED

#include "proto/proto.h"
#include "proto/cert.h"
#include <jansson.h>

#define PASSPORT_CONTEXT        "weft-passport-v1"
#define PASSPORT_COORDINATOR    "coordinator"
#define PASSPORT_ISSUER_CERT_MAX 2048       //  Bytes of a site server's certificate
#define PASSPORT_MAX            2560        //  Bytes of a whole passport
#define PASSPORT_TTL_MAX_MS     (32ULL * 86400 * 1000)  //  expires - attested at most

//  A security profile's terms (JSON, as weftctl attest profile set
//  stores it): "interval_s" between attestations, "grace_s" past it
//  before a device is overdue, "require_attestation" (peers and the
//  coordinator refuse devices of the type without a fresh passport)
#define PASSPORT_INTERVAL_DEFAULT_S 600
#define PASSPORT_INTERVAL_MAX_S     (30 * 86400)
#define PASSPORT_GRACE_DEFAULT_S    60
#define PASSPORT_GRACE_MAX_S        86400

typedef enum {
    PASSPORT_PASSED = 1,            //  The last attestation passed
    PASSPORT_CLEARED = 2            //  An operator cleared a failed verdict
} passport_verdict_t;

typedef enum {
    PASSPORT_OK = 0,
    PASSPORT_MALFORMED = -1,        //  Does not decode within the limits
    PASSPORT_BAD_ISSUER = -2,       //  Neither the coordinator nor a site server of the tenant
    PASSPORT_BAD_SIGNATURE = -3,    //  Not signed by its issuer
    PASSPORT_NOT_THEIRS = -4,       //  Another device, tenant or certificate
    PASSPORT_EXPIRED = -5           //  Past expires_ms: the device is overdue
} passport_result_t;

typedef struct {
    char device [WEFT_NAME_MAX + 1];
    char tenant [WEFT_NAME_MAX + 1];
    uint64_t cert_serial;           //  Serial of the device's certificate
    int verdict;                    //  passport_verdict_t
    uint64_t attested_ms;           //  When the verifier judged (its clock)
    uint64_t expires_ms;            //  Overdue from then on
    char issuer [WEFT_NAME_MAX + 1];    //  "coordinator" or a site server's id
    const uint8_t *issuer_cert;     //  Its certificate (borrowed), or NULL
    size_t issuer_cert_size;
    uint8_t issuer_curve [WEFT_KEY_SIZE];   //  Out of passport_check: a server's CURVE key
} passport_t;

//  Sign passport with the issuer's secret key and encode it. Returns 0
//  and a heap buffer (free()), or a proto_rc_t.
int
    passport_encode (const passport_t *passport, const uint8_t secret [WEFT_SECRET_SIZE],
                     uint8_t **out_p, size_t *size_p);

//  Decode without checking the signature (to read what it claims).
//  issuer_cert is borrowed from data. Returns 0 or a proto_rc_t.
int
    passport_decode (passport_t *passport, const uint8_t *data, size_t size);

//  Decode and check a passport presented by the holder of certificate
//  holder: issued to it (device, tenant, serial), by the coordinator
//  (signed with coord_sign) or by a site server of its tenant (its
//  certificate verifies with ca_key, is valid at now and has role
//  "server"), well signed, and not expired at now_ms. Fills passport
//  (may be NULL) and a reason (why may be NULL). Whether a server
//  issuer is revoked is the caller's to check (issuer, issuer_curve).
//  Returns a passport_result_t.
int
    passport_check (const uint8_t *data, size_t size, const cert_t *holder,
                    const uint8_t ca_key [WEFT_KEY_SIZE],
                    const uint8_t coord_sign [WEFT_KEY_SIZE], uint64_t now_ms,
                    passport_t *passport, char *why, size_t why_size);

//  The terms of profile (may be NULL: no profile, nothing required):
//  interval and grace in seconds (defaults above where absent or out of
//  range), and whether fresh attestation is required (true unless the
//  profile says "require_attestation": false). Any output may be NULL.
//  A passport issued on a pass at attested_ms expires at attested_ms +
//  (interval + grace) * 1000.
void
    passport_profile_terms (json_t *profile, int *interval_s_p, int *grace_s_p,
                            bool *required_p);

//  Human text of a passport_result_t
const char *
    passport_strerror (int result);

void
    passport_test (bool verbose);

#endif
