/*  enrolment - the coordinator's side of device enrolment
    Decides an ENROL_REQUEST whose envelope signature the caller has
    already checked against the request's own sign key, and records the
    device inside the caller's write transaction: token marked used,
    device record, curve key index and empty twin, all or nothing. The
    caller commits only when result.created is set.  */

#ifndef WEFT_ENROLMENT_H_INCLUDED
#define WEFT_ENROLMENT_H_INCLUDED

#include "proto/msg.h"
#include "coordinator/core/pki.h"

typedef struct {
    int status;                     //  weft_status_t
    char message [WEFT_TEXT_MAX + 1];   //  Why refused, or "enrolled"
    uint8_t *cert;                  //  Node certificate on OK, heap
    size_t cert_size;
    bool created;                   //  A new device was written to txn
} enrolment_result_t;

//  Decide and record. name is the envelope origin (the requested device
//  id), link_key the CURVE key the connection authenticated. On OK,
//  either created (commit txn) or a retry by the same key with the same
//  token (the stored certificate is returned; nothing to commit).
void
    enrolment_apply (pki_t *pki, store_txn_t *txn, const uint8_t coord_curve [32],
                     const char *name, const msg_enrol_request_t *request,
                     const uint8_t link_key [32], uint64_t now_s,
                     enrolment_result_t *result);

//  Free the certificate in a result.
void
    enrolment_result_clear (enrolment_result_t *result);

void
    enrolment_test (bool verbose);

#endif
