/*  sworder - the director's signed orders about installed software:
    an entitlement ("tenant T's device D, or its devices of type T, or
    all its devices, may run software N until U") and an uninstall
    ("device D removes software N"). docs/updates.md, Entitlements and
    Uninstall; docs/protocol.md section 21 (SOFTWARE_ORDER).
    Signed form: [body: bin, sig: bin(64)], sig Ed25519 by the
    coordinator's signing key over "weft-sworder-v1" || 0 || body, and
    body = [format: 1, kind: uint, tenant: str, scope: str, name: str,
    issued_ms: uint, until_ms: uint]. The scope is a device id,
    "type:" and a device type, or "*" (every device of the tenant); an
    uninstall names one device. A device keeps the signed form and
    checks it again when it reads it back.  */

#ifndef WEFT_SWORDER_H_INCLUDED
#define WEFT_SWORDER_H_INCLUDED

#include "proto.h"

#define SWORDER_CONTEXT     "weft-sworder-v1"
#define SWORDER_MAX         1024            //  Signed form, bytes
#define SWORDER_SCOPE_MAX   (WEFT_NAME_MAX + 5)

typedef enum {
    SWORDER_ENTITLE = 1,            //  May run name until until_ms
    SWORDER_UNINSTALL = 2           //  Remove name (until_ms 0)
} sworder_kind_t;

typedef enum {
    SWORDER_OK = 0,
    SWORDER_MALFORMED = 1,          //  Not an order
    SWORDER_FORGED = 2,             //  Not signed by the coordinator
    SWORDER_TENANT = 3,             //  Another tenant's
    SWORDER_DEVICE = 4              //  For other devices
} sworder_rc_t;

typedef struct {
    int kind;                       //  sworder_kind_t
    char tenant [WEFT_NAME_MAX + 1];
    char scope [SWORDER_SCOPE_MAX + 1];
    char name [WEFT_NAME_MAX + 1];  //  The software (its manifest's name)
    uint64_t issued_ms;
    uint64_t until_ms;              //  Entitlement: end (Unix ms); uninstall: 0
} sworder_t;

//  Encode and sign with the coordinator's secret. 0 and a heap buffer
//  (free()), or a proto_rc_t.
int
    sworder_sign (const sworder_t *order, const uint8_t secret [WEFT_SECRET_SIZE],
                  uint8_t **out_p, size_t *size_p);

//  Verify with the coordinator's key and decode; then is it for the
//  device named, of type, in tenant? sworder_rc_t; *order zeroed
//  unless SWORDER_OK.
int
    sworder_open (sworder_t *order, const uint8_t *data, size_t size,
                  const uint8_t coord_key [WEFT_KEY_SIZE], const char *tenant,
                  const char *device, const char *type);

//  Why an order was refused, for an ACK's reason
const char *
    sworder_strerror (int rc);

void
    sworder_test (bool verbose);

#endif
