/*  fuzz/msg - libFuzzer target for msg_decode
    The first byte picks the message type (any value, so unknown types
    are exercised too); the rest is the payload. A payload that decodes
    must encode again, and its re-encoding must decode to the same
    bytes once more.  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/msg.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int type = data [0] % 16;
    msg_t msg;
    if (msg_decode (&msg, type, data + 1, size - 1) != 0)
        return 0;
    assert (msg.type == type);
    uint8_t *payload;
    size_t payload_size;
    int rc = msg_encode (&msg, &payload, &payload_size);
    assert (rc == 0);
    msg_t again;
    rc = msg_decode (&again, type, payload, payload_size);
    assert (rc == 0);
    uint8_t *twice;
    size_t twice_size;
    rc = msg_encode (&again, &twice, &twice_size);
    assert (rc == 0);
    assert (twice_size == payload_size && memcmp (twice, payload, payload_size) == 0);
    free (twice);
    free (payload);
    return 0;
}
