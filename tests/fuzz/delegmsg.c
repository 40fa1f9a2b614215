/*  fuzz/delegmsg - libFuzzer target for the delegated attestation
    payload (DELEGATED_VERDICT, type 26). Whatever decodes is within its limits, its borrowed
    fields lie inside the input, and it re-encodes to the same fields.  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/delegmsg.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    int type = MSG_DELEGATED_VERDICT;
    delegmsg_t msg;
    if (delegmsg_decode (&msg, type, data, size) != 0)
        return 0;
    assert (strlen (msg.device) <= WEFT_NAME_MAX && strlen (msg.reason) <= DELEGMSG_REASON_MAX);
    assert (msg.evidence_size <= DELEGMSG_EVIDENCE_MAX);
    if (msg.evidence_size)
        assert (msg.evidence > data && msg.evidence + msg.evidence_size <= data + size);
    uint8_t *payload;
    size_t payload_size;
    assert (delegmsg_encode (&msg, &payload, &payload_size) == 0);
    delegmsg_t back;
    assert (delegmsg_decode (&back, type, payload, payload_size) == 0);
    assert (back.ok == msg.ok && back.pcr == msg.pcr && back.event == msg.event
            && back.evidence_size == msg.evidence_size
            && strcmp (back.device, msg.device) == 0);
    free (payload);
    return 0;
}
