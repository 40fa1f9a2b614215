/*  jsontext - JSON text as Weft writes it: jansson's layout, with every
    real number in its shortest round-trip form
    The layout follows jansson 2.x's dump.c rule for rule (separators,
    indentation, sorted keys by byte order, the escapes of dump_string),
    and the selftest compares both on documents without reals, so a
    document that holds no real is written byte for byte as before.
    Recursion follows the document's depth, which jansson's parser
    bounds (JSON_PARSER_MAX_DEPTH).  */

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proto/jsontext.h"

#define S_FLAGS_KNOWN   (JSON_MAX_INDENT | JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)

typedef struct {
    char *data;
    size_t size;
    size_t alloc;
} s_text_t;

static void
s_put (s_text_t *text, const char *data, size_t size)
{
    if (text->size + size + 1 > text->alloc) {
        size_t alloc = text->alloc? text->alloc: 256;
        while (text->size + size + 1 > alloc)
            alloc *= 2;
        char *bigger = (char *) realloc (text->data, alloc);
        if (!bigger)
            abort ();               //  Out of memory, as zmalloc
        text->data = bigger;
        text->alloc = alloc;
    }
    memcpy (text->data + text->size, data, size);
    text->size += size;
    text->data [text->size] = 0;
}

static void
s_puts (s_text_t *text, const char *data)
{
    s_put (text, data, strlen (data));
}

//  jansson's dump_indent: a newline and depth levels of indentation, or
//  a space between items when neither indenting nor compact
static void
s_indent (s_text_t *text, size_t flags, size_t depth, bool space)
{
    size_t width = flags & JSON_MAX_INDENT;
    if (width) {
        s_put (text, "\n", 1);
        for (size_t i = 0; i < depth * width; i++)
            s_put (text, " ", 1);
    }
    else
    if (space && !(flags & JSON_COMPACT))
        s_put (text, " ", 1);
}

//  jansson's dump_string without JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH:
//  UTF-8 as it is, the two mandatory escapes and control characters
static void
s_string (s_text_t *text, const char *value, size_t size)
{
    s_put (text, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char) value [i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        s_put (text, value + start, i - start);
        char escape [8];
        switch (c) {
            case '\\': s_puts (text, "\\\\"); break;
            case '"':  s_puts (text, "\\\""); break;
            case '\b': s_puts (text, "\\b"); break;
            case '\f': s_puts (text, "\\f"); break;
            case '\n': s_puts (text, "\\n"); break;
            case '\r': s_puts (text, "\\r"); break;
            case '\t': s_puts (text, "\\t"); break;
            default:
                snprintf (escape, sizeof escape, "\\u%04X", c);
                s_puts (text, escape);
        }
        start = i + 1;
    }
    s_put (text, value + start, size - start);
    s_put (text, "\"", 1);
}

//  --------------------------------------------------------------------------
//  The shortest round-trip text of a real.

size_t
jsontext_real (double value, char text [JSONTEXT_REAL_MAX])
{
    //  Fewest significant digits that read back as the same double; 17
    //  always do (IEEE 754 binary64)
    char mantissa [JSONTEXT_REAL_MAX];
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf (mantissa, sizeof mantissa, "%.*e", digits - 1, value);
        if (strtod (mantissa, NULL) == value)
            break;
    }
    snprintf (mantissa, sizeof mantissa, "%.*e", digits - 1, value);
    const char *mark = strchr (mantissa, 'e');
    int exponent = mark? atoi (mark + 1): 0;
    if (exponent >= -4 && exponent < 16) {
        int decimals = digits - 1 - exponent;
        snprintf (text, JSONTEXT_REAL_MAX, "%.*f", decimals > 0? decimals: 0, value);
    }
    else
        snprintf (text, JSONTEXT_REAL_MAX, "%s", mantissa);
    //  As jansson: a '.' or an 'e' so that it reads back as a real, and
    //  an exponent without '+' or leading zeros (1e+05 -> 1e5)
    size_t length = strlen (text);
    if (!strchr (text, '.') && !strchr (text, 'e')) {
        memcpy (text + length, ".0", 3);
        length += 2;
    }
    char *e = strchr (text, 'e');
    if (e) {
        char *out = e + 1;
        const char *in = e + 1;
        if (*in == '+')
            in++;
        else
        if (*in == '-')
            *out++ = *in++;
        while (*in == '0' && in [1])
            in++;
        memmove (out, in, strlen (in) + 1);
        length = strlen (text);
    }
    return length;
}

//  --------------------------------------------------------------------------
//  Write one value at depth.

static int
    s_value (s_text_t *text, const json_t *json, size_t flags, size_t depth);

static int
s_key_order (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static int
s_object (s_text_t *text, const json_t *json, size_t flags, size_t depth)
{
    const char *separator = flags & JSON_COMPACT? ":": ": ";
    size_t count = json_object_size (json);
    s_put (text, "{", 1);
    if (count == 0) {
        s_put (text, "}", 1);
        return 0;
    }
    const char **keys = (const char **) malloc (count * sizeof (char *));
    if (!keys)
        abort ();
    size_t index = 0;
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *) json, key, value)
        keys [index++] = key;
    if (flags & JSON_SORT_KEYS)
        qsort (keys, count, sizeof (char *), s_key_order);
    s_indent (text, flags, depth + 1, false);
    int rc = 0;
    for (index = 0; index < count && rc == 0; index++) {
        s_string (text, keys [index], strlen (keys [index]));
        s_puts (text, separator);
        rc = s_value (text, json_object_get (json, keys [index]), flags, depth + 1);
        if (index + 1 < count) {
            s_put (text, ",", 1);
            s_indent (text, flags, depth + 1, true);
        }
        else
            s_indent (text, flags, depth, false);
    }
    free (keys);
    s_put (text, "}", 1);
    return rc;
}

static int
s_array (s_text_t *text, const json_t *json, size_t flags, size_t depth)
{
    size_t count = json_array_size (json);
    s_put (text, "[", 1);
    if (count == 0) {
        s_put (text, "]", 1);
        return 0;
    }
    s_indent (text, flags, depth + 1, false);
    int rc = 0;
    for (size_t index = 0; index < count && rc == 0; index++) {
        rc = s_value (text, json_array_get (json, index), flags, depth + 1);
        if (index + 1 < count) {
            s_put (text, ",", 1);
            s_indent (text, flags, depth + 1, true);
        }
        else
            s_indent (text, flags, depth, false);
    }
    s_put (text, "]", 1);
    return rc;
}

static int
s_value (s_text_t *text, const json_t *json, size_t flags, size_t depth)
{
    char number [JSONTEXT_REAL_MAX];
    switch (json_typeof (json)) {
        case JSON_OBJECT:
            return s_object (text, json, flags, depth);
        case JSON_ARRAY:
            return s_array (text, json, flags, depth);
        case JSON_STRING:
            s_string (text, json_string_value (json), json_string_length (json));
            return 0;
        case JSON_INTEGER:
            snprintf (number, sizeof number, "%" JSON_INTEGER_FORMAT,
                      json_integer_value (json));
            s_puts (text, number);
            return 0;
        case JSON_REAL:
            jsontext_real (json_real_value (json), number);
            s_puts (text, number);
            return 0;
        case JSON_TRUE:
            s_puts (text, "true");
            return 0;
        case JSON_FALSE:
            s_puts (text, "false");
            return 0;
        case JSON_NULL:
            s_puts (text, "null");
            return 0;
    }
    return -1;
}

char *
jsontext_dumps (const json_t *json, size_t flags)
{
    if (!json || (flags & ~(size_t) S_FLAGS_KNOWN))
        return NULL;
    if (!(flags & JSON_ENCODE_ANY) && !json_is_object (json) && !json_is_array (json))
        return NULL;
    s_text_t text = { NULL, 0, 0 };
    if (s_value (&text, json, flags, 0)) {
        free (text.data);
        return NULL;
    }
    return text.data;
}

//  --------------------------------------------------------------------------
//  Selftest

//  A random document of depth at most depth, without reals
static json_t *
s_random_doc (unsigned *seed, int depth)
{
    static const char *strings [] = {
        "", "a", "plant-2", "quote\"back\\slash", "tab\tnew\nline\r\b\f", "\x01\x1f ctl",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "slash/ok", "zz", "A", "\x7f"
    };
    size_t strings_count = sizeof strings / sizeof strings [0];
    int kind = rand_r (seed) % (depth > 0? 8: 6);
    switch (kind) {
        case 0: return json_integer ((json_int_t) rand_r (seed) - RAND_MAX / 2);
        case 1: return json_string (strings [rand_r (seed) % strings_count]);
        case 2: return json_true ();
        case 3: return json_false ();
        case 4: return json_null ();
        case 5: return json_integer (rand_r (seed) % 2? INT64_MAX: INT64_MIN);
        case 6: {
            json_t *object = json_object ();
            int count = rand_r (seed) % 5;
            for (int i = 0; i < count; i++) {
                char key [32];
                snprintf (key, sizeof key, "%s%d", strings [rand_r (seed) % strings_count],
                          rand_r (seed) % 7);
                json_object_set_new (object, key, s_random_doc (seed, depth - 1));
            }
            return object;
        }
        default: {
            json_t *array = json_array ();
            int count = rand_r (seed) % 5;
            for (int i = 0; i < count; i++)
                json_array_append_new (array, s_random_doc (seed, depth - 1));
            return array;
        }
    }
}

void
jsontext_test (bool verbose)
{
    printf (" * jsontext: ");
    //  @selftest
    //  Reals: the text an operator wrote, or the shortest that reads back
    const char *reals [][2] = {
        { "0.1", "0.1" }, { "0.10", "0.1" }, { "1.0", "1.0" }, { "100.0", "100.0" },
        { "1e2", "100.0" }, { "-0.0", "-0.0" }, { "0.0", "0.0" }, { "2.5", "2.5" },
        { "0.3", "0.3" }, { "1.1", "1.1" }, { "123.456", "123.456" },
        { "0.30000000000000004", "0.30000000000000004" }, { "3.141592653589793", "3.141592653589793" },
        { "1e16", "1e16" }, { "1E+16", "1e16" }, { "1.5e300", "1.5e300" }, { "-2.5e-300", "-2.5e-300" },
        { "0.0001", "0.0001" }, { "0.00001", "1e-5" }, { "123456789012345.6", "123456789012345.6" },
        { "1e15", "1000000000000000.0" }, { "5e-324", "5e-324" },
        { "1.7976931348623157e308", "1.7976931348623157e308" }, { "-7.25", "-7.25" },
    };
    for (size_t i = 0; i < sizeof reals / sizeof reals [0]; i++) {
        char text [JSONTEXT_REAL_MAX];
        double value = strtod (reals [i][0], NULL);
        jsontext_real (value, text);
        if (verbose)
            printf ("\n   %s -> %s", reals [i][0], text);
        if (strcmp (text, reals [i][1]) != 0) {
            fprintf (stderr, "jsontext: %s written as %s, expected %s\n", reals [i][0], text,
                     reals [i][1]);
            assert (false);
        }
        assert (strtod (text, NULL) == value);
    }
    //  Any double reads back the same
    unsigned seed = 42;
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = ((uint64_t) rand_r (&seed) << 42) ^ ((uint64_t) rand_r (&seed) << 21)
                      ^ (uint64_t) rand_r (&seed);
        double value;
        memcpy (&value, &bits, sizeof value);
        if (value != value || value - value != 0)
            continue;               //  NaN and infinities are not JSON
        char text [JSONTEXT_REAL_MAX];
        size_t length = jsontext_real (value, text);
        assert (length == strlen (text) && length < JSONTEXT_REAL_MAX);
        assert (strtod (text, NULL) == value);
        assert (strchr (text, '.') || strchr (text, 'e'));
    }
    //  Documents: the operator's 0.1 stays 0.1, in an object, an array,
    //  compact or indented
    json_error_t error;
    json_t *doc = json_loads ("{\"rate\":0.1,\"list\":[0.2,1.0,3],\"n\":{\"x\":-1.5e-7}}", 0,
                              &error);
    assert (doc);
    char *text = jsontext_dumps (doc, JSON_COMPACT | JSON_SORT_KEYS);
    assert (!strcmp (text, "{\"list\":[0.2,1.0,3],\"n\":{\"x\":-1.5e-7},\"rate\":0.1}"));
    free (text);
    text = jsontext_dumps (doc, JSON_INDENT (2) | JSON_SORT_KEYS);
    assert (!strcmp (text, "{\n  \"list\": [\n    0.2,\n    1.0,\n    3\n  ],\n"
                         "  \"n\": {\n    \"x\": -1.5e-7\n  },\n  \"rate\": 0.1\n}"));
    free (text);
    json_decref (doc);
    //  Scalars only with JSON_ENCODE_ANY; unknown flags refused
    json_t *real = json_real (0.1);
    assert (jsontext_dumps (real, JSON_COMPACT) == NULL);
    text = jsontext_dumps (real, JSON_ENCODE_ANY);
    assert (!strcmp (text, "0.1"));
    free (text);
    assert (jsontext_dumps (real, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) == NULL);
    json_decref (real);
    assert (jsontext_dumps (NULL, JSON_ENCODE_ANY) == NULL);

    //  Without reals, byte for byte what json_dumps writes, for every
    //  layout Weft uses
    size_t layouts [] = {
        JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY, JSON_COMPACT, JSON_INDENT (2) | JSON_SORT_KEYS,
        JSON_INDENT (2) | JSON_SORT_KEYS | JSON_ENCODE_ANY, JSON_SORT_KEYS | JSON_ENCODE_ANY, 0,
        JSON_INDENT (4), JSON_INDENT (3) | JSON_COMPACT
    };
    seed = 7;
    for (int i = 0; i < 2000; i++) {
        json_t *random = s_random_doc (&seed, 4);
        for (size_t l = 0; l < sizeof layouts / sizeof layouts [0]; l++) {
            char *ours = jsontext_dumps (random, layouts [l]);
            char *theirs = json_dumps (random, layouts [l]);
            assert ((ours == NULL) == (theirs == NULL));
            if (ours && strcmp (ours, theirs) != 0) {
                fprintf (stderr, "jsontext: layout %zx differs:\n%s\n%s\n", layouts [l], ours,
                         theirs);
                assert (false);
            }
            free (ours);
            free (theirs);
        }
        json_decref (random);
    }
    //  @end
    printf ("%sOK\n", verbose? "\n   ": "");
}
