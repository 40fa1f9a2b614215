/*  fuzz/wire - libFuzzer target for every message type through the
    table-driven codec (proto/wire.c)
    The first byte picks the message type (any value below 64, so
    unknown and unused types are exercised too); the rest is the
    payload. A payload that decodes must encode again, and its
    re-encoding must decode and encode to the same bytes once more.  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/wire.h"
#include "proto/msg.h"
#include "proto/meshmsg.h"
#include "proto/policymsg.h"
#include "proto/tpmmsg.h"
#include "proto/delegmsg.h"
#include "proto/updmsg.h"
#include "proto/sitemsg.h"

//  Room for the struct of any family
typedef union {
    msg_t msg;
    meshmsg_t mesh;
    policymsg_t policy;
    tpmmsg_t tpm;
    delegmsg_t deleg;
    updmsg_t update;
    sitemsg_t site;
} s_any_t;

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int type = data [0] % 64;
    const wire_msg_t *spec = wire_msg (type);
    if (!spec)
        return 0;
    assert (spec->struct_size <= sizeof (s_any_t));
    s_any_t msg;
    if (wire_decode (spec, &msg, data + 1, size - 1) != 0)
        return 0;
    assert (spec->family != WIRE_FAMILY_DOCUMENT);
    assert (msg.msg.type == type);
    uint8_t *payload;
    size_t payload_size;
    int rc = wire_encode (spec, &msg, &payload, &payload_size);
    assert (rc == 0);
    s_any_t again;
    rc = wire_decode (spec, &again, payload, payload_size);
    assert (rc == 0);
    uint8_t *twice;
    size_t twice_size;
    rc = wire_encode (spec, &again, &twice, &twice_size);
    assert (rc == 0);
    assert (twice_size == payload_size && memcmp (twice, payload, payload_size) == 0);
    free (twice);
    free (payload);
    return 0;
}
