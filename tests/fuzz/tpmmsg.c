/*  fuzz/tpmmsg - libFuzzer target for the TPM payloads (types 20..24)
    Seeds in tests/fuzz/corpus/tpmmsg (type byte 3 = ATTEST_CHALLENGE,
    4 = ATTEST_EVIDENCE, with and without the IMA fields).
    The first byte picks the type, the rest is the payload. Whatever
    decodes must lie within the limits of proto/tpmmsg.h, borrow only
    from the input, and re-encode to something that decodes again.  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/tpmmsg.h"

static void
s_inside (const uint8_t *field, size_t field_size, const uint8_t *data, size_t size)
{
    if (field_size)
        assert (field >= data && field + field_size <= data + size);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int type = MSG_TPM_ENROL_REQUEST + data [0] % 5;
    tpmmsg_t msg;
    if (tpmmsg_decode (&msg, type, data + 1, size - 1) != 0)
        return 0;
    assert (msg.ek_public_size <= TPMMSG_PUBLIC_MAX && msg.ak_public_size <= TPMMSG_PUBLIC_MAX);
    assert (msg.ek_cert_size <= TPMMSG_EK_CERT_MAX);
    assert (msg.attest_size <= TPMMSG_BLOB_MAX && msg.signature_size <= TPMMSG_BLOB_MAX);
    assert (msg.event_log_size <= TPMMSG_EVENT_LOG_MAX);
    assert (msg.ima_list_size <= TPMMSG_IMA_LIST_MAX && msg.ima_from <= TPMMSG_IMA_FROM_MAX);
    assert (msg.ima || (msg.ima_from == 0 && msg.ima_list_size == 0));
    s_inside (msg.ek_public, msg.ek_public_size, data, size);
    s_inside (msg.ak_public, msg.ak_public_size, data, size);
    s_inside (msg.event_log, msg.event_log_size, data, size);
    s_inside (msg.pcrs, msg.pcrs_size, data, size);
    s_inside ((const uint8_t *) msg.ima_list, msg.ima_list_size, data, size);
    uint8_t *payload;
    size_t payload_size;
    assert (tpmmsg_encode (&msg, &payload, &payload_size) == 0);
    tpmmsg_t back;
    assert (tpmmsg_decode (&back, type, payload, payload_size) == 0);
    assert (back.pcr_mask == msg.pcr_mask && back.ak_public_size == msg.ak_public_size);
    assert (back.ima == msg.ima && back.ima_from == msg.ima_from
            && back.ima_list_size == msg.ima_list_size);
    free (payload);
    return 0;
}
