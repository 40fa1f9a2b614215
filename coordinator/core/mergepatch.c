/*  mergepatch - JSON merge patch (RFC 7386) over jansson values
    Recursion is bounded by the patch's depth, which callers check with
    mergepatch_depth before applying (jansson itself stops parsing at
    JSON_PARSER_MAX_DEPTH).  */

#include "proto/corelib.h"
#include "coordinator/core/mergepatch.h"

//  --------------------------------------------------------------------------
//  RFC 7386 section 2, on a deep copy of target.

json_t *
mergepatch_apply (const json_t *target, const json_t *patch)
{
    assert (patch);
    if (!json_is_object (patch))
        return json_deep_copy (patch);
    json_t *result = json_is_object (target)? json_deep_copy (target): json_object ();
    const char *name;
    json_t *value;
    json_object_foreach ((json_t *) patch, name, value) {
        if (json_is_null (value))
            json_object_del (result, name);
        else {
            json_t *merged = mergepatch_apply (json_object_get (result, name), value);
            json_object_set_new (result, name, merged);
        }
    }
    return result;
}

size_t
mergepatch_depth (const json_t *json, size_t limit)
{
    size_t deepest = 0;
    if (json_is_object (json)) {
        if (limit == 0)
            return 1;
        const char *name;
        json_t *value;
        json_object_foreach ((json_t *) json, name, value) {
            size_t depth = mergepatch_depth (value, limit - 1);
            if (depth > deepest)
                deepest = depth;
        }
        return deepest + 1;
    }
    if (json_is_array (json)) {
        if (limit == 0)
            return 1;
        size_t index;
        json_t *value;
        json_array_foreach ((json_t *) json, index, value) {
            size_t depth = mergepatch_depth (value, limit - 1);
            if (depth > deepest)
                deepest = depth;
        }
        return deepest + 1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Selftest: the examples of RFC 7386 appendix A, and depth limits.

void
mergepatch_test (bool verbose)
{
    printf (" * mergepatch: ");
    //  @selftest
    const char *cases [][3] = {
        { "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
        { "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
        { "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
        { "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
        { "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
        { "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
        { "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
          "{\"a\":{\"b\":\"d\"}}" },
        { "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
        { "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
        { "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
        { "{\"a\":\"foo\"}", "null", "null" },
        { "{\"a\":\"foo\"}", "\"bar\"", "\"bar\"" },
        { "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}" },
        { "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
        { "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        json_error_t error;
        json_t *target = json_loads (cases [i][0], JSON_DECODE_ANY, &error);
        json_t *patch = json_loads (cases [i][1], JSON_DECODE_ANY, &error);
        json_t *expect = json_loads (cases [i][2], JSON_DECODE_ANY, &error);
        assert (target && patch && expect);
        char *before = json_dumps (target, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        json_t *result = mergepatch_apply (target, patch);
        if (verbose) {
            char *text = json_dumps (result, JSON_COMPACT | JSON_ENCODE_ANY);
            printf ("\n   %s + %s = %s", cases [i][0], cases [i][1], text);
            free (text);
        }
        assert (json_equal (result, expect));
        //  The target is untouched
        char *after = json_dumps (target, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        assert (streq (before, after));
        free (before);
        free (after);
        json_decref (result);
        json_decref (target);
        json_decref (patch);
        json_decref (expect);
    }
    //  Absent target
    json_t *patch = json_pack ("{s:i, s:n}", "a", 1, "b");
    json_t *result = mergepatch_apply (NULL, patch);
    assert (json_object_size (result) == 1);
    json_decref (result);
    json_decref (patch);

    //  Depth
    json_error_t error;
    json_t *deep = json_loads ("{\"a\":{\"b\":[1,{\"c\":2}]}}", 0, &error);
    assert (mergepatch_depth (deep, 32) == 4);
    assert (mergepatch_depth (deep, 2) == 3);
    json_decref (deep);
    json_t *scalar = json_integer (1);
    assert (mergepatch_depth (scalar, 32) == 0);
    json_decref (scalar);
    //  @end
    printf ("%sOK\n", verbose? "\n   ": "");
}
