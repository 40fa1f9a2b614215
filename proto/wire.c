/*  wire - the table-driven payload codec (see wire.h)
    One encoder and one decoder walk a message's row of fields; they
    know nothing of any type. Every limit a field has is checked on both
    sides, so a peer can neither make us accept nor make us send a
    field out of range. C members are read and written through memcpy
    at the row's offsets, so the structs keep their plain field names.  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "codec.h"
#include "wire.h"

//  --------------------------------------------------------------------------
//  Member access at an offset

static uint64_t
s_get_uint (const void *msg, size_t offset, size_t width)
{
    const uint8_t *at = (const uint8_t *) msg + offset;
    if (width == 1) {
        bool flag;
        memcpy (&flag, at, 1);
        return flag? 1: 0;
    }
    if (width == 4) {
        uint32_t value;             //  An int read as uint32: negative is huge
        memcpy (&value, at, 4);
        return value;
    }
    uint64_t value;
    memcpy (&value, at, 8);
    return value;
}

static void
s_set_uint (void *msg, size_t offset, size_t width, uint64_t value)
{
    uint8_t *at = (uint8_t *) msg + offset;
    if (width == 1) {
        bool flag = value != 0;
        memcpy (at, &flag, 1);
    }
    else
    if (width == 4) {
        uint32_t narrow = (uint32_t) value;
        memcpy (at, &narrow, 4);
    }
    else
        memcpy (at, &value, 8);
}

static const void *
s_get_ptr (const void *msg, size_t offset)
{
    const void *ptr;
    memcpy (&ptr, (const uint8_t *) msg + offset, sizeof ptr);
    return ptr;
}

static void
s_set_ptr (void *msg, size_t offset, const void *ptr)
{
    memcpy ((uint8_t *) msg + offset, &ptr, sizeof ptr);
}

static size_t
s_get_size (const void *msg, size_t offset)
{
    size_t size;
    memcpy (&size, (const uint8_t *) msg + offset, sizeof size);
    return size;
}

static void
s_set_size (void *msg, size_t offset, size_t size)
{
    memcpy ((uint8_t *) msg + offset, &size, sizeof size);
}

static bool
s_get_flag (const void *msg, size_t offset)
{
    bool flag;
    memcpy (&flag, (const uint8_t *) msg + offset, 1);
    return flag;
}

//  --------------------------------------------------------------------------
//  The rows

size_t
wire_required (const wire_msg_t *spec)
{
    assert (spec);
    size_t required = 0;
    while (required < spec->field_count
       &&  !(spec->fields [required].flags & (WIRE_OPTIONAL | WIRE_WITH_PREV)))
        required++;
    return required;
}

//  Is an optional field present in msg (not zero, not empty)?
static bool
s_present (const wire_field_t *f, const void *msg)
{
    const uint8_t *at = (const uint8_t *) msg + f->offset;
    switch (f->kind) {
        case WIRE_UINT:
        case WIRE_INDEX:
            return s_get_uint (msg, f->offset, f->width) != 0;
        case WIRE_UINT_NIL:
            return s_get_flag (msg, f->aux);
        case WIRE_STR:
            return at [0] != 0;
        case WIRE_STRN:
        case WIRE_BINREF:
        case WIRE_BINLIST:
            return s_get_size (msg, f->aux) != 0;
        case WIRE_BINPTR:
            return s_get_ptr (msg, f->offset) != NULL;
        default:
            return false;           //  A fixed bin is never present alone
    }
}

//  Items the encoder writes: the required ones, then optional ones up
//  to the last present, with the fields that go with them.
static size_t
s_items_out (const wire_msg_t *spec, const void *msg)
{
    size_t items = wire_required (spec);
    for (size_t i = items; i < spec->field_count; i++)
        if (!(spec->fields [i].flags & WIRE_WITH_PREV) && s_present (&spec->fields [i], msg))
            items = i + 1;
    while (items > 0 && items < spec->field_count
       &&  (spec->fields [items].flags & WIRE_WITH_PREV))
        items++;
    return items;
}

//  --------------------------------------------------------------------------
//  Encode one field

static int
s_put (codec_writer_t *w, const wire_field_t *f, const void *msg)
{
    const uint8_t *at = (const uint8_t *) msg + f->offset;
    switch (f->kind) {
        case WIRE_UINT: {
            uint64_t value = s_get_uint (msg, f->offset, f->width);
            if (value < f->min || value > f->max)
                return PROTO_ERR_VALUE;
            codec_put_uint (w, value);
            return 0;
        }
        case WIRE_UINT_NIL: {
            if (!s_get_flag (msg, f->aux)) {
                codec_put_nil (w);
                return 0;
            }
            uint64_t value = s_get_uint (msg, f->offset, 8);
            if (value < f->min || value > f->max)
                return PROTO_ERR_VALUE;
            codec_put_uint (w, value);
            return 0;
        }
        case WIRE_INDEX: {
            int index;
            memcpy (&index, at, sizeof index);
            if (index < -1 || (uint64_t) index + 1 > f->max)
                return PROTO_ERR_VALUE;
            codec_put_uint (w, (uint64_t) (index + 1));
            return 0;
        }
        case WIRE_STR: {
            size_t length = strnlen ((const char *) at, f->max + 1);
            if (length < f->min)
                return PROTO_ERR_VALUE;
            codec_put_str (w, (const char *) at, f->max);
            return 0;
        }
        case WIRE_STRN:
        case WIRE_BINREF: {
            const void *data = s_get_ptr (msg, f->offset);
            size_t size = s_get_size (msg, f->aux);
            if (size > f->max)
                return f->min == f->max? PROTO_ERR_VALUE: PROTO_ERR_OVERSIZE;
            if (size < f->min || (size && !data))
                return PROTO_ERR_VALUE;
            if (f->kind == WIRE_STRN)
                codec_put_strn (w, (const char *) data, size, f->max);
            else
                codec_put_bin (w, data, size);
            return 0;
        }
        case WIRE_BIN:
            codec_put_bin (w, at, f->max);
            return 0;
        case WIRE_BINPTR: {
            const void *data = s_get_ptr (msg, f->offset);
            codec_put_bin (w, data, data? f->max: 0);
            return 0;
        }
        case WIRE_BINLIST: {
            const void *data = s_get_ptr (msg, f->offset);
            size_t count = s_get_size (msg, f->aux);
            if (count < f->min || count > f->max || (count && !data))
                return PROTO_ERR_VALUE;
            codec_put_bin (w, data, count * f->unit);
            return 0;
        }
    }
    return PROTO_ERR_UNKNOWN;
}

int
wire_encode (const wire_msg_t *spec, const void *msg, uint8_t **payload_p, size_t *size_p)
{
    assert (spec && msg && payload_p && size_p);
    *payload_p = NULL;
    *size_p = 0;
    if (spec->family == WIRE_FAMILY_DOCUMENT)
        return PROTO_ERR_UNKNOWN;
    int rc = spec->check? spec->check (msg): 0;
    if (rc)
        return rc;
    size_t items = s_items_out (spec, msg);
    codec_writer_t *w = codec_writer_new (0);
    codec_put_array (w, items);
    for (size_t i = 0; i < items && rc == 0; i++)
        rc = s_put (w, &spec->fields [i], msg);
    if (rc) {
        codec_writer_destroy (&w);
        return rc;
    }
    return codec_writer_finish (&w, payload_p, size_p);
}

//  --------------------------------------------------------------------------
//  Decode one field

static int
s_get (codec_reader_t *r, size_t index, const wire_field_t *f, void *msg)
{
    uint8_t *at = (uint8_t *) msg + f->offset;
    uint64_t value = 0;
    int rc = 0;
    switch (f->kind) {
        case WIRE_UINT:
            rc = codec_get_uint (r, index, f->max, &value);
            if (rc == 0 && value < f->min)
                rc = PROTO_ERR_VALUE;
            if (rc == 0)
                s_set_uint (msg, f->offset, f->width, value);
            return rc;
        case WIRE_UINT_NIL:
            if (codec_is_nil (r, index))
                return 0;
            rc = codec_get_uint (r, index, f->max, &value);
            if (rc == 0 && value < f->min)
                rc = PROTO_ERR_VALUE;
            if (rc == 0) {
                s_set_uint (msg, f->offset, 8, value);
                bool flag = true;
                memcpy ((uint8_t *) msg + f->aux, &flag, 1);
            }
            return rc;
        case WIRE_INDEX: {
            rc = codec_get_uint (r, index, f->max, &value);
            int index_value = (int) value - 1;
            if (rc == 0)
                memcpy (at, &index_value, sizeof index_value);
            return rc;
        }
        case WIRE_STR:
            rc = codec_get_str (r, index, (char *) at, f->max);
            if (rc == 0 && strlen ((const char *) at) < f->min)
                rc = PROTO_ERR_VALUE;
            return rc;
        case WIRE_STRN:
        case WIRE_BINREF: {
            const void *data = NULL;
            size_t size = 0;
            if (f->kind == WIRE_STRN) {
                const char *text = NULL;
                rc = codec_get_strn (r, index, &text, &size, f->max);
                data = text;
            }
            else {
                const uint8_t *bytes = NULL;
                rc = codec_get_binref (r, index, &bytes, &size);
                data = bytes;
            }
            if (rc == 0 && size > f->max)
                rc = f->min == f->max? PROTO_ERR_VALUE: PROTO_ERR_OVERSIZE;
            if (rc == 0 && size < f->min)
                rc = PROTO_ERR_VALUE;
            if (rc == 0) {
                if (size == 0 && (f->flags & WIRE_NULL_EMPTY))
                    data = NULL;
                s_set_ptr (msg, f->offset, data);
                s_set_size (msg, f->aux, size);
            }
            return rc;
        }
        case WIRE_BIN:
            return codec_get_bin (r, index, at, f->max);
        case WIRE_BINPTR:
        case WIRE_BINLIST: {
            const uint8_t *data = NULL;
            size_t size = 0;
            rc = codec_get_binref (r, index, &data, &size);
            if (rc)
                return rc;
            if (f->kind == WIRE_BINPTR) {
                if (size != 0 && size != f->max)
                    return PROTO_ERR_VALUE;
                s_set_ptr (msg, f->offset, size? data: NULL);
                return 0;
            }
            if (size % f->unit || size / f->unit < f->min || size / f->unit > f->max)
                return PROTO_ERR_VALUE;
            s_set_ptr (msg, f->offset, data);
            s_set_size (msg, f->aux, size / f->unit);
            return 0;
        }
    }
    return PROTO_ERR_UNKNOWN;
}

int
wire_decode (const wire_msg_t *spec, void *msg, const uint8_t *payload, size_t size)
{
    assert (spec && msg);
    memset (msg, 0, spec->struct_size);
    if (spec->family == WIRE_FAMILY_DOCUMENT)
        return PROTO_ERR_UNKNOWN;
    codec_reader_t *reader;
    int rc = codec_reader_new (&reader, payload, size);
    if (rc)
        return rc;
    int items = codec_items (reader);
    if (items < (int) wire_required (spec))
        rc = PROTO_ERR_TYPE;
    memcpy (msg, &spec->type, sizeof (int));
    const wire_field_t *f = spec->fields;
    const wire_field_t *last = spec->fields + spec->field_count;
    for (size_t i = 0; f < last && rc == 0; i++, f++) {
        //  Optional fields are read when there; a field that goes with
        //  the one before is read (and then required) when that one was
        //  not nil
        if (f->flags) {
            if (f->flags & WIRE_WITH_PREV) {
                const wire_field_t *prev = f - 1;
                if (prev->kind == WIRE_UINT_NIL && !s_get_flag (msg, prev->aux))
                    continue;
            }
            else
            if ((f->flags & WIRE_OPTIONAL) && (int) i >= items)
                break;
        }
        rc = s_get (reader, i, f, msg);
    }
    codec_reader_destroy (&reader);
    if (rc == 0 && spec->check)
        rc = spec->check (msg);
    if (rc)
        memset (msg, 0, spec->struct_size);
    return rc;
}

//  --------------------------------------------------------------------------
//  Family entry points

int
wire_encode_family (int family, int type, const void *msg, uint8_t **payload_p,
                    size_t *size_p)
{
    assert (payload_p && size_p);
    *payload_p = NULL;
    *size_p = 0;
    const wire_msg_t *spec = wire_msg (type);
    if (!spec || spec->family != family)
        return PROTO_ERR_UNKNOWN;
    return wire_encode (spec, msg, payload_p, size_p);
}

int
wire_decode_family (int family, int type, void *msg, size_t msg_size,
                    const uint8_t *payload, size_t size)
{
    assert (msg);
    const wire_msg_t *spec = wire_msg (type);
    if (!spec || spec->family != family) {
        memset (msg, 0, msg_size);
        return PROTO_ERR_UNKNOWN;
    }
    assert (spec->struct_size == msg_size);
    return wire_decode (spec, msg, payload, size);
}

//  --------------------------------------------------------------------------
//  The docs table row

//  A limit as docs/protocol.md writes it: large sizes in KiB or MiB
static void
s_number (char *buf, size_t size, uint64_t value)
{
    if (value >= 1024 * 1024 && value % (1024 * 1024) == 0 && value < UINT32_MAX)
        snprintf (buf, size, "%llu MiB", (unsigned long long) (value >> 20));
    else
    if (value >= 65536 && value % 1024 == 0 && value < UINT32_MAX)
        snprintf (buf, size, "%llu KiB", (unsigned long long) (value >> 10));
    else
    if (value == 0xffffffffULL)
        snprintf (buf, size, "2³²-1");
    else
        snprintf (buf, size, "%llu", (unsigned long long) value);
}

//  "N" for a fixed size, "≤ N" from 0, "M..N" otherwise
static void
s_range (char *buf, size_t size, uint64_t min, uint64_t max)
{
    char low [32], high [32];
    s_number (low, sizeof low, min);
    s_number (high, sizeof high, max);
    if (min == max)
        snprintf (buf, size, "%s", high);
    else
    if (min == 0)
        snprintf (buf, size, "≤ %s", high);
    else
        snprintf (buf, size, "%s..%s", low, high);
}

//  One field as "name: type(limits)"
static void
s_doc_field (const wire_field_t *f, char *buf, size_t size)
{
    char range [80];
    s_range (range, sizeof range, f->min, f->max);
    const char *suffix = (f->flags & WIRE_WITH_PREV)? " (with the one before)":
                         (f->flags & WIRE_OPTIONAL)? " (optional)": "";
    bool any = f->min == 0 && f->max == UINT64_MAX;
    switch (f->kind) {
        case WIRE_UINT:
            snprintf (buf, size, "%s: uint%s%s%s", f->name, any? "": " ", any? "": range, suffix);
            break;
        case WIRE_UINT_NIL:
            snprintf (buf, size, "%s: uint%s%s \\| nil%s", f->name, any? "": " ",
                      any? "": range, suffix);
            break;
        case WIRE_INDEX:
            snprintf (buf, size, "%s: uint %s (index + 1, 0 none)%s", f->name, range, suffix);
            break;
        case WIRE_STR:
        case WIRE_STRN:
            if (f->min == 0)        //  Strings are written by their maximum only
                s_number (range, sizeof range, f->max);
            snprintf (buf, size, "%s: str(%s)%s", f->name, range, suffix);
            break;
        case WIRE_BIN:
        case WIRE_BINREF:
            snprintf (buf, size, "%s: bin(%s)%s", f->name, range, suffix);
            break;
        case WIRE_BINPTR: {
            char whole [32];
            s_number (whole, sizeof whole, f->max);
            snprintf (buf, size, "%s: bin(0 \\| %s)%s", f->name, whole, suffix);
            break;
        }
        case WIRE_BINLIST:
            snprintf (buf, size, "%s: bin(%zu × n), n %s%s", f->name, f->unit, range, suffix);
            break;
        default:
            snprintf (buf, size, "%s: ?", f->name);
    }
}

int
wire_doc_row (const wire_msg_t *spec, char *buf, size_t size)
{
    assert (spec && buf && size);
    int used = snprintf (buf, size, "| %d | %s | ", spec->type, spec->name);
    if (spec->family == WIRE_FAMILY_DOCUMENT)
        used += snprintf (buf + used, used < (int) size? size - (size_t) used: 0,
                          "a signed document (%s)", spec->section);
    else {
        used += snprintf (buf + used, used < (int) size? size - (size_t) used: 0, "`[");
        for (size_t i = 0; i < spec->field_count; i++) {
            char field [256];
            s_doc_field (&spec->fields [i], field, sizeof field);
            used += snprintf (buf + used, used < (int) size? size - (size_t) used: 0,
                              "%s%s", i? ", ": "", field);
        }
        used += snprintf (buf + used, used < (int) size? size - (size_t) used: 0, "]`");
    }
    used += snprintf (buf + used, used < (int) size? size - (size_t) used: 0,
                      " | %s | %s |", spec->direction, spec->section);
    return used < (int) size? 0: -1;
}

//  --------------------------------------------------------------------------
//  Selftest: proto/wire_test.c
