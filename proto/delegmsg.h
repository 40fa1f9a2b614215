/*  delegmsg - the payloads of delegated attestation (types 26, 27)
    Wire forms, one msgpack array each (docs/protocol.md section 18):
        DELEGATED_VERDICT  [device: str(64), ok: uint (0 or 1),
                            reason: str(512), pcr: uint, event: uint,
                            time_ms: uint, evidence: bin(1..DELEGMSG_EVIDENCE_MAX)]
        PROFILE            [device_type: str(64), doc: str(16384), sig: bin(64)]
    DELEGATED_VERDICT is a site server's verdict on one of its gateways,
    signed by the server (envelope origin), with the raw ATTEST_EVIDENCE
    payload it judged, so the coordinator can check it again. pcr and
    event are the index + 1 (0: none). PROFILE is a security profile as
    the coordinator stores it: the JSON text and the CA's signature over
    it (context "weft-profile-v1"), so any node verifies it offline.
    Decoders check every field against its limit, accept longer arrays
    and refuse shorter ones. Large fields are borrowed.  */

#ifndef WEFT_DELEGMSG_H_INCLUDED
#define WEFT_DELEGMSG_H_INCLUDED

#include "proto.h"

#define DELEGMSG_REASON_MAX     512
#define DELEGMSG_EVIDENCE_MAX   (960 * 1024)    //  Fits a frame with the envelope
#define DELEGMSG_PROFILE_MAX    16384
#define DELEGMSG_SIG_SIZE       64

typedef struct {
    int type;                           //  MSG_DELEGATED_VERDICT or MSG_PROFILE
    //  DELEGATED_VERDICT
    char device [WEFT_NAME_MAX + 1];
    bool ok;
    char reason [DELEGMSG_REASON_MAX + 1];
    int pcr;                            //  -1: none
    int event;                          //  -1: none
    uint64_t time_ms;                   //  When the server judged (its clock)
    const uint8_t *evidence;            //  ATTEST_EVIDENCE payload, borrowed
    size_t evidence_size;
    //  PROFILE
    char device_type [WEFT_NAME_MAX + 1];
    const char *doc;                    //  JSON text, borrowed, not NUL-ended
    size_t doc_size;
    uint8_t sig [DELEGMSG_SIG_SIZE];
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
