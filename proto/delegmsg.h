/*  delegmsg - the payload of delegated attestation (type 26)
    Wire form, one msgpack array (docs/protocol.md section 19):
        DELEGATED_VERDICT  [device: str(64), ok: uint (0 or 1),
                            reason: str(512), pcr: uint, event: uint,
                            time_ms: uint, evidence: bin(1..DELEGMSG_EVIDENCE_MAX)]
    DELEGATED_VERDICT is a site server's verdict on one of its gateways,
    signed by the server (envelope origin), with the raw ATTEST_EVIDENCE
    payload it judged, so the coordinator can check it again. pcr and
    event are the index + 1 (0: none). (Site servers get the profiles
    they verify with as CA-signed policy objects: proto/policymsg.h.)
    Decoders check every field against its limit, accept longer arrays
    and refuse shorter ones. Large fields are borrowed.  */

#ifndef WEFT_DELEGMSG_H_INCLUDED
#define WEFT_DELEGMSG_H_INCLUDED

#include "proto.h"

#define DELEGMSG_REASON_MAX     512
#define DELEGMSG_EVIDENCE_MAX   (960 * 1024)    //  Fits a frame with the envelope

typedef struct {
    int type;                           //  MSG_DELEGATED_VERDICT
    //  DELEGATED_VERDICT
    char device [WEFT_NAME_MAX + 1];
    bool ok;
    char reason [DELEGMSG_REASON_MAX + 1];
    int pcr;                            //  -1: none
    int event;                          //  -1: none
    uint64_t time_ms;                   //  When the server judged (its clock)
    const uint8_t *evidence;            //  ATTEST_EVIDENCE payload, borrowed
    size_t evidence_size;
} delegmsg_t;

//  Encode. Returns 0 and a heap buffer (free()), or a proto_rc_t.
int
    delegmsg_encode (const delegmsg_t *msg, uint8_t **payload_p, size_t *size_p);

//  Decode a payload of the given type. Returns 0 or a proto_rc_t; *msg
//  is zeroed on error.
int
    delegmsg_decode (delegmsg_t *msg, int type, const uint8_t *payload, size_t size);

void
    delegmsg_test (bool verbose);

#endif
