/*  fuzz/policymsg - libFuzzer target for policy objects and the gossip
    payloads (types 14..16). The first byte picks what the rest is: a
    gossip payload of one of the three types, or an object body, which
    is signed here with a fixed CA key so the body parser (reached only
    after the signature verified) sees arbitrary bytes too. Whatever
    decodes must re-encode and decode to the same values, and every
    borrowed field must lie inside the input.  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/codec.h"
#include "proto/keys.h"
#include "proto/policymsg.h"

static void
s_object (const uint8_t *body, size_t size)
{
    static keys_t ca;
    static bool ready = false;
    if (!ready) {
        uint8_t seed [32];
        memset (seed, 0xca, sizeof seed);
        keys_from_seed (&ca, seed);
        ready = true;
    }
    uint8_t sig [WEFT_SIG_SIZE];
    codec_sign (POLICYMSG_CONTEXT, body, size, ca.sign_secret, sig);
    uint8_t *object;
    size_t object_size;
    if (policymsg_seal (body, size, sig, &object, &object_size))
        return;
    policy_object_t got;
    if (policymsg_decode (&got, object, object_size, ca.sign_public) == 0) {
        assert (policymsg_kind_valid (got.kind) && policymsg_name_valid (got.name));
        assert (got.version > 0 && got.content_size <= POLICYMSG_CONTENT_MAX);
        assert (got.content >= object && got.content + got.content_size <= object + object_size);
        uint8_t *again;
        size_t again_size;
        assert (policymsg_encode (&got, ca.sign_secret, &again, &again_size) == 0);
        policy_object_t back;
        assert (policymsg_decode (&back, again, again_size, ca.sign_public) == 0);
        assert (back.version == got.version && back.content_size == got.content_size);
        free (again);
    }
    free (object);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data [0] % 4 == 3) {
        s_object (data + 1, size - 1);
        return 0;
    }
    int type = MSG_POLICY + data [0] % 4;
    policymsg_t msg;
    if (policymsg_msg_decode (&msg, type, data + 1, size - 1) != 0)
        return 0;
    assert (msg.key_count <= POLICYMSG_KEYS_MAX);
    if (msg.object)
        assert (msg.object > data && msg.object + msg.object_size <= data + size);
    if (msg.buckets)
        assert (msg.buckets > data
                && msg.buckets + POLICYMSG_BUCKETS * POLICYMSG_DIGEST_SIZE <= data + size);
    size_t offset = 0;
    char key [POLICYMSG_KEY_MAX + 1];
    char kind [POLICYMSG_KIND_MAX + 1], name [POLICYMSG_NAME_MAX + 1];
    uint64_t version;
    size_t keys = 0;
    while (policymsg_key_next (&msg, &offset, keys, key, &version) == 0) {
        assert (policymsg_key_split (key, kind, name) == 0);
        keys++;
    }
    assert (keys == msg.key_count);
    uint8_t *payload;
    size_t payload_size;
    if (policymsg_msg_encode (&msg, &payload, &payload_size) == 0) {
        policymsg_t back;
        assert (policymsg_msg_decode (&back, type, payload, payload_size) == 0);
        assert (back.key_count == msg.key_count && back.count == msg.count);
        assert (back.object_size == msg.object_size);
        free (payload);
    }
    return 0;
}
