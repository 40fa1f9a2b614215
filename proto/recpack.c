/*  recpack - stored records as msgpack maps
    The reader is a cursor over the bytes: every header is checked
    against what is left before anything is read or allocated, so a
    count can never announce more elements than there are bytes (each
    element takes at least one). Decoding to JSON refuses what JSON
    cannot hold (non-string keys, duplicate keys, integers above
    INT64_MAX, strings with NUL or not in UTF-8), so a record decodes to
    exactly the object it was written from.  */

#include "proto/corelib.h"
#include "proto/recpack.h"
#include "proto/keys.h"

//  --------------------------------------------------------------------------
//  Writer: a growing buffer

typedef struct {
    uint8_t *data;
    size_t size;
    size_t max;
} s_out_t;

static void
s_reserve (s_out_t *out, size_t more)
{
    if (out->size + more <= out->max)
        return;
    size_t max = out->max? out->max * 2: 256;
    while (max < out->size + more)
        max *= 2;
    out->data = (uint8_t *) realloc (out->data, max);
    assert (out->data);
    out->max = max;
}

static void
s_put (s_out_t *out, const void *data, size_t size)
{
    s_reserve (out, size);
    memcpy (out->data + out->size, data, size);
    out->size += size;
}

//  A tag byte then value in big-endian order in width bytes
static void
s_put_be (s_out_t *out, uint8_t tag, uint64_t value, int width)
{
    uint8_t bytes [9];
    bytes [0] = tag;
    for (int i = 0; i < width; i++)
        bytes [1 + i] = (uint8_t) (value >> (8 * (width - 1 - i)));
    s_put (out, bytes, 1 + (size_t) width);
}

static void
s_put_int (s_out_t *out, int64_t value)
{
    if (value >= 0) {
        uint64_t v = (uint64_t) value;
        if (v < 128)
            s_put_be (out, (uint8_t) v, 0, 0);
        else
        if (v <= UINT8_MAX)
            s_put_be (out, 0xcc, v, 1);
        else
        if (v <= UINT16_MAX)
            s_put_be (out, 0xcd, v, 2);
        else
        if (v <= UINT32_MAX)
            s_put_be (out, 0xce, v, 4);
        else
            s_put_be (out, 0xcf, v, 8);
    }
    else
    if (value >= -32)
        s_put_be (out, (uint8_t) (int8_t) value, 0, 0);
    else
    if (value >= INT8_MIN)
        s_put_be (out, 0xd0, (uint64_t) value & 0xff, 1);
    else
    if (value >= INT16_MIN)
        s_put_be (out, 0xd1, (uint64_t) value & 0xffff, 2);
    else
    if (value >= INT32_MIN)
        s_put_be (out, 0xd2, (uint64_t) value & 0xffffffff, 4);
    else
        s_put_be (out, 0xd3, (uint64_t) value, 8);
}

//  Header of a str (fix 0xa0, 8 0xd9), bin (8 0xc4) or container
static void
s_put_head (s_out_t *out, recpack_type_t type, size_t count)
{
    if (type == RECPACK_STR) {
        if (count < 32)
            s_put_be (out, (uint8_t) (0xa0 | count), 0, 0);
        else
        if (count <= UINT8_MAX)
            s_put_be (out, 0xd9, count, 1);
        else
        if (count <= UINT16_MAX)
            s_put_be (out, 0xda, count, 2);
        else
            s_put_be (out, 0xdb, count, 4);
    }
    else
    if (type == RECPACK_BIN) {
        if (count <= UINT8_MAX)
            s_put_be (out, 0xc4, count, 1);
        else
        if (count <= UINT16_MAX)
            s_put_be (out, 0xc5, count, 2);
        else
            s_put_be (out, 0xc6, count, 4);
    }
    else {
        bool map = type == RECPACK_MAP;
        if (count < 16)
            s_put_be (out, (uint8_t) ((map? 0x80: 0x90) | count), 0, 0);
        else
        if (count <= UINT16_MAX)
            s_put_be (out, map? 0xde: 0xdc, count, 2);
        else
            s_put_be (out, map? 0xdf: 0xdd, count, 4);
    }
}

static void
s_put_str (s_out_t *out, const char *text, size_t size)
{
    s_put_head (out, RECPACK_STR, size);
    s_put (out, text, size);
}

//  Text written as bin if it is lowercase hex of whole bytes (upper case
//  would not read back as the same text)
static bool
s_put_hex (s_out_t *out, const char *text, size_t size)
{
    if (size == 0 || size % 2 || strspn (text, "0123456789abcdef") != size)
        return false;
    s_put_head (out, RECPACK_BIN, size / 2);
    s_reserve (out, size / 2);
    if (keys_unhex (text, out->data + out->size, size / 2))
        return false;               //  Not reached: checked above
    out->size += size / 2;
    return true;
}

static bool
s_is_bin_field (const char *key, const char *const *bin_fields)
{
    for (size_t i = 0; bin_fields && bin_fields [i]; i++)
        if (streq (key, bin_fields [i]))
            return true;
    return false;
}

static int
s_key_cmp (const void *a, const void *b)
{
    return strcmp (*(const char **) a, *(const char **) b);
}

static void
s_put_json (s_out_t *out, const json_t *json, const char *const *bin_fields)
{
    switch (json_typeof (json)) {
        case JSON_OBJECT: {
            size_t count = json_object_size (json);
            s_put_head (out, RECPACK_MAP, count);
            const char *stack_keys [32];
            const char **keys = count <= 32? stack_keys
                              : (const char **) zmalloc (count * sizeof (char *));
            size_t n = 0;
            const char *key;
            json_t *value;
            json_object_foreach ((json_t *) json, key, value)
                keys [n++] = key;
            qsort (keys, n, sizeof keys [0], s_key_cmp);
            for (size_t i = 0; i < n; i++) {
                value = json_object_get (json, keys [i]);
                s_put_str (out, keys [i], strlen (keys [i]));
                if (!(json_is_string (value) && s_is_bin_field (keys [i], bin_fields)
                      && s_put_hex (out, json_string_value (value), json_string_length (value))))
                    s_put_json (out, value, NULL);
            }
            if (keys != stack_keys)
                free (keys);
            break;
        }
        case JSON_ARRAY: {
            size_t count = json_array_size (json);
            s_put_head (out, RECPACK_ARRAY, count);
            for (size_t i = 0; i < count; i++)
                s_put_json (out, json_array_get (json, i), NULL);
            break;
        }
        case JSON_STRING:
            s_put_str (out, json_string_value (json), json_string_length (json));
            break;
        case JSON_INTEGER:
            s_put_int (out, (int64_t) json_integer_value (json));
            break;
        case JSON_REAL: {
            double real = json_real_value (json);
            uint64_t bits;
            memcpy (&bits, &real, sizeof bits);
            s_put_be (out, 0xcb, bits, 8);
            break;
        }
        case JSON_TRUE:
            s_put_be (out, 0xc3, 0, 0);
            break;
        case JSON_FALSE:
            s_put_be (out, 0xc2, 0, 0);
            break;
        case JSON_NULL:
            s_put_be (out, 0xc0, 0, 0);
            break;
    }
}

int
recpack_encode (const json_t *json, const char *const *bin_fields, uint8_t **data_p,
                size_t *size_p)
{
    assert (data_p && size_p);
    if (!json_is_object (json))
        return -1;
    s_out_t out = { NULL, 0, 0 };
    s_reserve (&out, 256);
    s_put_json (&out, json, bin_fields);
    *data_p = out.data;
    *size_p = out.size;
    return 0;
}

//  --------------------------------------------------------------------------
//  Reader: a bounded cursor

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} s_in_t;

//  Big-endian unsigned of width bytes; false if the input ends first
static bool
s_be (s_in_t *in, int width, uint64_t *value)
{
    if (in->end - in->p < width)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < width; i++)
        v = v << 8 | in->p [i];
    in->p += width;
    *value = v;
    return true;
}

//  Read one value's header. Scalars, str and bin are read whole
//  (*count_p 0); arrays and maps give their item count in *count_p, each
//  checked against the bytes left. Returns 0 or -1.
static int
s_head (s_in_t *in, recpack_value_t *value, size_t *count_p)
{
    if (in->p >= in->end)
        return -1;
    const uint8_t *start = in->p;
    uint8_t tag = *in->p++;
    uint64_t n = 0;
    int width = 0;
    *count_p = 0;
    memset (value, 0, sizeof *value);
    if (tag <= 0x7f || tag >= 0xe0) {
        value->type = RECPACK_INT;
        value->integer = tag <= 0x7f? tag: (int8_t) tag;
        return 0;
    }
    if ((tag & 0xf0) == 0x80 || (tag & 0xf0) == 0x90) {
        value->type = (tag & 0xf0) == 0x80? RECPACK_MAP: RECPACK_ARRAY;
        n = tag & 0x0f;
    }
    else
    if ((tag & 0xe0) == 0xa0) {
        value->type = RECPACK_STR;
        n = tag & 0x1f;
    }
    else
    switch (tag) {
        case 0xc0: value->type = RECPACK_NIL; return 0;
        case 0xc2:
        case 0xc3: value->type = RECPACK_BOOL; value->boolean = tag == 0xc3; return 0;
        case 0xc4: case 0xc5: case 0xc6:
            value->type = RECPACK_BIN;
            width = 1 << (tag - 0xc4);
            break;
        case 0xd9: case 0xda: case 0xdb:
            value->type = RECPACK_STR;
            width = 1 << (tag - 0xd9);
            break;
        case 0xdc: case 0xdd:
            value->type = RECPACK_ARRAY;
            width = tag == 0xdc? 2: 4;
            break;
        case 0xde: case 0xdf:
            value->type = RECPACK_MAP;
            width = tag == 0xde? 2: 4;
            break;
        case 0xca: case 0xcb: {
            uint64_t bits;
            if (!s_be (in, tag == 0xca? 4: 8, &bits))
                return -1;
            value->type = RECPACK_REAL;
            if (tag == 0xca) {
                uint32_t bits32 = (uint32_t) bits;
                float real;
                memcpy (&real, &bits32, sizeof real);
                value->real = real;
            }
            else
                memcpy (&value->real, &bits, sizeof value->real);
            return 0;
        }
        case 0xcc: case 0xcd: case 0xce: case 0xcf: {
            uint64_t v;
            if (!s_be (in, 1 << (tag - 0xcc), &v) || v > INT64_MAX)
                return -1;          //  JSON integers are int64
            value->type = RECPACK_INT;
            value->integer = (int64_t) v;
            return 0;
        }
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            int bytes = 1 << (tag - 0xd0);
            uint64_t v;
            if (!s_be (in, bytes, &v))
                return -1;
            //  Sign-extend from the width read
            if (bytes < 8 && (v >> (8 * bytes - 1)) & 1)
                v |= ~(uint64_t) 0 << (8 * bytes);
            value->type = RECPACK_INT;
            value->integer = (int64_t) v;
            return 0;
        }
        default:
            return -1;              //  Ext, reserved
    }
    if (width && !s_be (in, width, &n))
        return -1;
    size_t left = (size_t) (in->end - in->p);
    if (value->type == RECPACK_STR || value->type == RECPACK_BIN) {
        if (n > left)
            return -1;
        value->data = in->p;
        value->size = (size_t) n;
        in->p += n;
        if (value->type == RECPACK_STR && memchr (value->data, 0, value->size))
            return -1;
        return 0;
    }
    //  Each item takes one byte at least; a map's entry two
    if (n > left || (value->type == RECPACK_MAP && n > left / 2))
        return -1;
    value->data = start;
    *count_p = (size_t) n;
    return 0;
}

//  Walk past one value, checking everything in it
static int
s_skip (s_in_t *in, int depth)
{
    recpack_value_t value;
    size_t count;
    if (depth > RECPACK_DEPTH_MAX || s_head (in, &value, &count))
        return -1;
    if (value.type == RECPACK_ARRAY)
        for (size_t i = 0; i < count; i++)
            if (s_skip (in, depth + 1))
                return -1;
    if (value.type == RECPACK_MAP)
        for (size_t i = 0; i < count; i++) {
            recpack_value_t key;
            size_t none;
            if (s_head (in, &key, &none) || key.type != RECPACK_STR
            ||  s_skip (in, depth + 1))
                return -1;
        }
    return 0;
}

static json_t *
s_json (s_in_t *in, int depth)
{
    recpack_value_t value;
    size_t count;
    if (depth > RECPACK_DEPTH_MAX || s_head (in, &value, &count))
        return NULL;
    switch (value.type) {
        case RECPACK_NIL: return json_null ();
        case RECPACK_BOOL: return json_boolean (value.boolean);
        case RECPACK_INT: return json_integer ((json_int_t) value.integer);
        case RECPACK_REAL: return json_real (value.real);
        case RECPACK_STR: return json_stringn ((const char *) value.data, value.size);
        case RECPACK_BIN: {
            char *hex = (char *) zmalloc (value.size * 2 + 1);
            keys_hex (value.data, value.size, hex);
            json_t *text = json_stringn (hex, value.size * 2);
            free (hex);
            return text;
        }
        case RECPACK_ARRAY: {
            json_t *array = json_array ();
            for (size_t i = 0; i < count; i++) {
                json_t *item = s_json (in, depth + 1);
                if (!item || json_array_append_new (array, item)) {
                    json_decref (array);
                    return NULL;
                }
            }
            return array;
        }
        case RECPACK_MAP: {
            json_t *object = json_object ();
            for (size_t i = 0; i < count; i++) {
                recpack_value_t key;
                size_t none;
                char name [256];
                char *heap = NULL;
                if (s_head (in, &key, &none) || key.type != RECPACK_STR) {
                    json_decref (object);
                    return NULL;
                }
                char *text = key.size < sizeof name? name: (heap = (char *) zmalloc (key.size + 1));
                memcpy (text, key.data, key.size);
                text [key.size] = 0;
                json_t *item = json_object_get (object, text)? NULL: s_json (in, depth + 1);
                int rc = item? json_object_set_new (object, text, item): -1;
                free (heap);
                if (rc) {
                    json_decref (object);
                    return NULL;
                }
            }
            return object;
        }
    }
    return NULL;
}

json_t *
recpack_decode (const uint8_t *data, size_t size)
{
    if (!recpack_is_record (data, size))
        return NULL;
    s_in_t in = { data, data + size };
    json_t *json = s_json (&in, 0);
    if (json && in.p != in.end) {
        json_decref (json);
        json = NULL;
    }
    return json;
}

int
recpack_map (const uint8_t *data, size_t size, recpack_entry_fn *fn, void *arg)
{
    assert (fn);
    s_in_t in = { data, data + size };
    recpack_value_t map;
    size_t count;
    if (!data || s_head (&in, &map, &count) || map.type != RECPACK_MAP)
        return -1;
    int stopped = 0;
    for (size_t i = 0; i < count; i++) {
        recpack_value_t key, value;
        size_t items;
        if (s_head (&in, &key, &items) || key.type != RECPACK_STR)
            return -1;
        const uint8_t *start = in.p;
        if (s_head (&in, &value, &items))
            return -1;
        if (value.type == RECPACK_ARRAY || value.type == RECPACK_MAP) {
            in.p = start;
            if (s_skip (&in, 1))
                return -1;
            value.size = (size_t) (in.p - start);
        }
        if (!stopped && fn (arg, (const char *) key.data, key.size, &value))
            stopped = 1;
    }
    return in.p == in.end? stopped: -1;
}

typedef struct {
    const char *key;
    size_t key_size;
    recpack_value_t *value;
    bool found;
} s_get_t;

static int
s_get_one (void *arg, const char *key, size_t key_size, const recpack_value_t *value)
{
    s_get_t *get = (s_get_t *) arg;
    if (key_size == get->key_size && memcmp (key, get->key, key_size) == 0) {
        *get->value = *value;
        get->found = true;
        return 1;
    }
    return 0;
}

int
recpack_get (const uint8_t *data, size_t size, const char *key, recpack_value_t *value)
{
    assert (key && value);
    s_get_t get = { key, strlen (key), value, false };
    if (recpack_map (data, size, s_get_one, &get) < 0)
        return -1;
    return get.found? 0: 1;
}

bool
recpack_is_record (const uint8_t *data, size_t size)
{
    return data && size > 0
        && ((data [0] & 0xf0) == 0x80 || data [0] == 0xde || data [0] == 0xdf);
}

//  --------------------------------------------------------------------------
//  Selftest

static int
s_test_count (void *arg, const char *key, size_t key_size, const recpack_value_t *value)
{
    (void) key;
    (void) key_size;
    (void) value;
    (*(int *) arg)++;
    return 0;
}

static void
s_test_bad (const uint8_t *data, size_t size)
{
    assert (recpack_decode (data, size) == NULL);
    int count = 0;
    assert (recpack_map (data, size, s_test_count, &count) == -1);
}

void
recpack_test (bool verbose)
{
    printf (" * recpack: ");
    (void) verbose;
    //  @selftest
    const char *text =
        "{\"id\":\"dev-1\",\"curve_key\":\"00ff10ab\",\"sign_key\":\"ABCD\",\"cert\":\"abc\","
        "\"n\":[0,1,127,128,255,256,65535,65536,4294967295,4294967296,-1,-32,-33,-128,"
        "-129,-32768,-32769,-2147483648,-2147483649,-9223372036854775807,"
        "9223372036854775807],\"r\":0.1,\"t\":true,\"f\":false,\"z\":null,"
        "\"tags\":{\"line\":\"7\",\"b\":\"\"},\"long\":\"0123456789012345678901234567890123456789\","
        "\"nested\":{\"curve_key\":\"beef\",\"deep\":[[[{}]]]}}";
    json_error_t error;
    json_t *json = json_loads (text, 0, &error);
    assert (json);
    static const char *bin [] = { "curve_key", "sign_key", "cert", NULL };
    uint8_t *data;
    size_t size;
    assert (recpack_encode (json, bin, &data, &size) == 0);
    assert (recpack_is_record (data, size));
    json_t *back = recpack_decode (data, size);
    assert (back && json_equal (json, back));
    //  Keys come back in byte order
    const char *first = json_object_iter_key (json_object_iter (back));
    assert (streq (first, "cert"));
    json_decref (back);

    //  Lowercase hex became bin; upper case and odd lengths stayed text
    recpack_value_t value;
    assert (recpack_get (data, size, "curve_key", &value) == 0);
    assert (value.type == RECPACK_BIN && value.size == 4 && value.data [1] == 0xff);
    assert (recpack_get (data, size, "sign_key", &value) == 0 && value.type == RECPACK_STR);
    assert (recpack_get (data, size, "cert", &value) == 0 && value.type == RECPACK_STR);
    assert (recpack_get (data, size, "tags", &value) == 0 && value.type == RECPACK_MAP);
    recpack_value_t line;
    assert (recpack_get (value.data, value.size, "line", &line) == 0);
    assert (line.type == RECPACK_STR && line.size == 1 && line.data [0] == '7');
    assert (recpack_get (data, size, "missing", &value) == 1);
    //  Only top-level fields are binary
    assert (recpack_get (data, size, "nested", &value) == 0);
    recpack_value_t inner;
    assert (recpack_get (value.data, value.size, "curve_key", &inner) == 0);
    assert (inner.type == RECPACK_STR);
    int count = 0;
    assert (recpack_map (data, size, s_test_count, &count) == 0);
    assert (count == (int) json_object_size (json));

    //  Every truncation is refused, never read past
    for (size_t cut = 0; cut < size; cut++) {
        uint8_t *copy = (uint8_t *) malloc (cut? cut: 1);
        memcpy (copy, data, cut);
        s_test_bad (copy, cut);
        free (copy);
    }
    free (data);
    json_decref (json);

    //  Not records: JSON text, trailing bytes, non-string keys, duplicate
    //  keys, counts past the end, NUL in a string, ext types, uint64 past
    //  int64, nesting past the limit
    assert (!recpack_is_record ((const uint8_t *) "{}", 2));
    s_test_bad ((const uint8_t *) "{}", 2);
    s_test_bad ((const uint8_t *) "\x80\x01", 2);
    s_test_bad ((const uint8_t *) "\x81\x01\x01", 3);
    assert (recpack_decode ((const uint8_t *) "\x82\xa1" "a\x01\xa1" "a\x02", 7) == NULL);
    s_test_bad ((const uint8_t *) "\xdf\xff\xff\xff\xff", 5);
    s_test_bad ((const uint8_t *) "\x81\xa1" "a\xa2" "b\x00", 6);
    s_test_bad ((const uint8_t *) "\x81\xa1" "a\xd4\x01\x02", 6);
    s_test_bad ((const uint8_t *) "\x81\xa1" "a\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 12);
    size_t deep = RECPACK_DEPTH_MAX + 8;
    uint8_t *nest = (uint8_t *) malloc (deep + 3);
    nest [0] = 0x81;
    nest [1] = 0xa1;
    nest [2] = 'a';
    memset (nest + 3, 0x91, deep - 1);
    nest [deep + 2] = 0x90;
    s_test_bad (nest, deep + 3);
    free (nest);
    //  A non-UTF-8 string is a valid map but not a JSON record
    assert (recpack_decode ((const uint8_t *) "\x81\xa1" "a\xa1\xff", 5) == NULL);
    //  @end
    printf ("OK\n");
}
