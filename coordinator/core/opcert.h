/*  opcert - the operator credentials the coordinator's CA issues
    An operator's credential is an operator certificate that lists all
    of its grants (proto/cert.h), so a site server can authorise the
    operator offline (proto/opcred.h). The coordinator itself never
    authorises from a credential: it reads the operator record, so a
    grant changed or removed takes effect there at once, and at a site
    server when the operator's next credential replaces the old one
    (or the old one expires, or the operator is revoked).  */

#ifndef WEFT_OPCERT_H_INCLUDED
#define WEFT_OPCERT_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "proto/cert.h"
#include "proto/store.h"
#include "coordinator/core/pki.h"

#define OPCERT_TTL_DEFAULT_S    (7 * 86400)     //  operator.credential
#define OPCERT_TTL_MAX_S        (365 * 86400)

//  The grants of an operator record as a JSON array [{role, path}] (a
//  copy): its "grants", or for a record from before grants, its role
//  on its tenant.
json_t *
    opcert_grants (json_t *op);

//  Fill cert (kind, subject, keys, first grant, grant list) from an
//  operator record. Grants with an unknown role or a bad path are left
//  out (they grant nothing). Returns 0, or -1 with error if the record
//  has bad keys or no usable grant.
int
    opcert_fill (cert_t *cert, json_t *op, char error [WEFT_TEXT_MAX + 1]);

//  Issue a credential for the record op valid for validity_s seconds
//  from now_s, in txn (takes a serial), and set op's cert_serial (the
//  caller stores op). Returns a weft_status_t; on OK *cert_p (caller
//  frees), its size and serial.
int
    opcert_issue (pki_t *pki, store_txn_t *txn, json_t *op, uint64_t now_s,
                  uint64_t validity_s, uint8_t **cert_p, size_t *size_p,
                  uint64_t *serial_p, char error [WEFT_TEXT_MAX + 1]);

void
    opcert_test (bool verbose);

#endif
