/*  fuzz/recpack - libFuzzer target for the stored record reader
    Any bytes must be refused or read within the limits, never read past
    the end. What recpack_decode accepts must re-encode to a record that
    decodes to the same JSON, recpack_map must agree with it on being a
    map, and registry-style lookups (recpack_get) must not crash on it.  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/recpack.h"

static int
s_entry (void *arg, const char *key, size_t key_size, const recpack_value_t *value)
{
    (void) key;
    (void) key_size;
    //  Nested maps are walked too, as the tags of a device are
    if (value->type == RECPACK_MAP) {
        recpack_value_t inner;
        recpack_get (value->data, value->size, "line", &inner);
    }
    (*(size_t *) arg)++;
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    //  A copy of exactly size bytes, so ASan sees any read past the end
    uint8_t *copy = (uint8_t *) malloc (size? size: 1);
    memcpy (copy, data, size);
    size_t entries = 0;
    int walked = recpack_map (copy, size, s_entry, &entries);
    json_t *json = recpack_decode (copy, size);
    if (json) {
        assert (walked == 0);
        assert (entries == json_object_size (json));
        static const char *bin [] = { "curve_key", "sign_key", NULL };
        uint8_t *again;
        size_t again_size;
        assert (recpack_encode (json, bin, &again, &again_size) == 0);
        json_t *back = recpack_decode (again, again_size);
        assert (back && json_equal (json, back));
        json_decref (back);
        free (again);
        json_decref (json);
    }
    recpack_value_t value;
    recpack_get (copy, size, "id", &value);
    free (copy);
    return 0;
}
