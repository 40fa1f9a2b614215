/*  fuzz/meshmsg - libFuzzer target for the mesh payloads (types 9..13, 25)
    The first byte picks the type, the rest is the payload. Whatever
    decodes must re-encode and decode to the same counts, and every
    borrowed field must lie inside the input.  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/meshmsg.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const int types [] = { MSG_HELLO, MSG_ROUTE, MSG_CUSTODY_ACK, MSG_REVOCATIONS,
                                  MSG_NODE_STATS, MSG_QUARANTINE };
    int type = types [data [0] % 6];
    meshmsg_t msg;
    if (meshmsg_decode (&msg, type, data + 1, size - 1) != 0)
        return 0;
    assert (msg.id_count <= MESHMSG_ACK_IDS_MAX);
    assert (msg.key_count <= MESHMSG_REVOKED_MAX);
    assert (strlen (msg.path) <= MESHMSG_PATH_MAX);
    assert (strlen (msg.reason) <= WEFT_TEXT_MAX);
    if (type == MSG_QUARANTINE) {
        assert (msg.names_size <= MESHMSG_QUARANTINE_NAMES_MAX);
        int count = meshmsg_names (msg.names, msg.names_size);
        assert (count >= 0 && count <= MESHMSG_QUARANTINED_MAX);
        if (msg.names_size)
            assert ((const uint8_t *) msg.names > data
                    && (const uint8_t *) msg.names + msg.names_size <= data + size);
    }
    if (msg.ids)
        assert (msg.ids > data && msg.ids + msg.id_count * 16 <= data + size);
    uint8_t *payload;
    size_t payload_size;
    if (meshmsg_encode (&msg, &payload, &payload_size) == 0) {
        meshmsg_t back;
        assert (meshmsg_decode (&back, type, payload, payload_size) == 0);
        assert (back.id_count == msg.id_count && back.key_count == msg.key_count);
        assert (strcmp (back.path, msg.path) == 0);
        assert (back.status == msg.status && strcmp (back.reason, msg.reason) == 0);
        assert (back.quarantine == msg.quarantine && back.names_size == msg.names_size);
        free (payload);
    }
    return 0;
}
