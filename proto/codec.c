/*  codec - the one msgpack reader and writer of Weft (internal to proto/)
    Writing goes through msgpack-c's sbuffer and packer, which always
    choose the shortest encoding, so equal values give equal bytes (the
    golden vectors depend on it). Reading first runs codec_scan, a small
    walker over the msgpack headers that allocates nothing and enforces
    every limit of proto.h; only input that passes it reaches
    msgpack_unpack, whose memory use is then bounded by the scan's
    object budget. Nothing here asserts on input bytes.  */

#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "codec.h"

struct _codec_writer_t {
    msgpack_sbuffer sbuf;           //  Output bytes, malloc'd
    msgpack_packer pk;              //  Writes into sbuf
    int rc;                         //  First error recorded, or 0
};

struct _codec_reader_t {
    msgpack_zone zone;              //  Holds the unpacked object tree
    msgpack_object root;            //  Top-level value; strings borrow input
};

//  Objects msgpack_unpack may allocate per byte of input, beyond a
//  fixed allowance: the scan refuses input needing more.
#define CODEC_BUDGET_FACTOR     4
#define CODEC_BUDGET_BASE       (64 * 1024)

//  --------------------------------------------------------------------------
//  Out of memory is not recoverable here; the service manager restarts us.

static void
s_check_pack (int rc)
{
    if (rc != 0) {
        fprintf (stderr, "proto: out of memory\n");
        abort ();
    }
}

//  --------------------------------------------------------------------------
//  Create a writer.

codec_writer_t *
codec_writer_new (size_t size_hint)
{
    codec_writer_t *self = (codec_writer_t *) calloc (1, sizeof (codec_writer_t));
    if (!self) {
        fprintf (stderr, "proto: out of memory\n");
        abort ();
    }
    msgpack_sbuffer_init (&self->sbuf);
    if (size_hint) {
        self->sbuf.data = (char *) malloc (size_hint);
        if (!self->sbuf.data) {
            fprintf (stderr, "proto: out of memory\n");
            abort ();
        }
        self->sbuf.alloc = size_hint;
    }
    msgpack_packer_init (&self->pk, &self->sbuf, msgpack_sbuffer_write);
    return self;
}

//  --------------------------------------------------------------------------
//  Destroy a writer, wiping what it wrote (it may hold secret keys).

void
codec_writer_destroy (codec_writer_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        codec_writer_t *self = *self_p;
        if (self->sbuf.data)
            sodium_memzero (self->sbuf.data, self->sbuf.size);
        msgpack_sbuffer_destroy (&self->sbuf);
        free (self);
        *self_p = NULL;
    }
}

void
codec_put_array (codec_writer_t *self, size_t count)
{
    assert (self);
    if (self->rc)
        return;
    if (count > WEFT_ITEMS_MAX) {
        self->rc = PROTO_ERR_OVERSIZE;
        return;
    }
    s_check_pack (msgpack_pack_array (&self->pk, count));
}

void
codec_put_uint (codec_writer_t *self, uint64_t value)
{
    assert (self);
    if (self->rc)
        return;
    s_check_pack (msgpack_pack_uint64 (&self->pk, value));
}

void
codec_put_nil (codec_writer_t *self)
{
    assert (self);
    if (self->rc)
        return;
    s_check_pack (msgpack_pack_nil (&self->pk));
}

void
codec_put_bin (codec_writer_t *self, const void *data, size_t size)
{
    assert (self);
    if (self->rc)
        return;
    if (size > WEFT_FRAME_MAX) {
        self->rc = PROTO_ERR_OVERSIZE;
        return;
    }
    if (!data && size) {
        self->rc = PROTO_ERR_VALUE;
        return;
    }
    s_check_pack (msgpack_pack_bin (&self->pk, size));
    if (size)
        s_check_pack (msgpack_pack_bin_body (&self->pk, data, size));
}

void
codec_put_strn (codec_writer_t *self, const char *data, size_t size, size_t max)
{
    assert (self);
    if (self->rc)
        return;
    if (size > max || size > WEFT_STR_MAX) {
        self->rc = PROTO_ERR_OVERSIZE;
        return;
    }
    if ((!data && size) || (size && memchr (data, 0, size))) {
        self->rc = PROTO_ERR_VALUE;
        return;
    }
    s_check_pack (msgpack_pack_str (&self->pk, size));
    if (size)
        s_check_pack (msgpack_pack_str_body (&self->pk, data, size));
}

void
codec_put_str (codec_writer_t *self, const char *field, size_t max)
{
    assert (self);
    assert (field);
    if (self->rc)
        return;
    size_t size = strnlen (field, max + 1);
    if (size > max) {
        self->rc = PROTO_ERR_OVERSIZE;
        return;
    }
    codec_put_strn (self, field, size, max);
}

//  --------------------------------------------------------------------------
//  Finish and hand over the buffer.

int
codec_writer_finish (codec_writer_t **self_p, uint8_t **out_p, size_t *size_p)
{
    assert (self_p && *self_p);
    assert (out_p && size_p);
    codec_writer_t *self = *self_p;
    *out_p = NULL;
    *size_p = 0;
    int rc = self->rc;
    if (rc == 0 && self->sbuf.size > WEFT_FRAME_MAX)
        rc = PROTO_ERR_OVERSIZE;
    if (rc == 0) {
        *size_p = self->sbuf.size;
        *out_p = (uint8_t *) msgpack_sbuffer_release (&self->sbuf);
        if (!*out_p) {
            //  An empty writer; give the caller a real allocation anyway
            *out_p = (uint8_t *) malloc (1);
            if (!*out_p) {
                fprintf (stderr, "proto: out of memory\n");
                abort ();
            }
        }
    }
    codec_writer_destroy (self_p);
    return rc;
}

//  --------------------------------------------------------------------------
//  Read a big-endian length of n bytes at data.

static uint64_t
s_be (const uint8_t *data, size_t n)
{
    uint64_t value = 0;
    for (size_t i = 0; i < n; i++)
        value = (value << 8) | data [i];
    return value;
}

//  --------------------------------------------------------------------------
//  Walk the msgpack headers of data and enforce the limits. The walk
//  keeps, per open container, the number of values still to come; it
//  never allocates and is linear in size.

int
codec_scan (const uint8_t *data, size_t size)
{
    if (size > WEFT_FRAME_MAX)
        return PROTO_ERR_OVERSIZE;
    if (size == 0 || !data)
        return PROTO_ERR_TRUNCATED;

    const size_t budget = CODEC_BUDGET_FACTOR * size + CODEC_BUDGET_BASE;
    size_t objects = 1;             //  Objects msgpack_unpack will create
    uint32_t pending [WEFT_DEPTH_MAX];
    size_t depth = 0;
    size_t pos = 0;

    while (true) {
        if (pos >= size)
            return PROTO_ERR_TRUNCATED;
        uint8_t b = data [pos++];
        size_t field = 0;           //  Size of the length or value field
        enum { SCALAR, STR, BIN, ARRAY, MAP } kind = SCALAR;
        uint64_t n = 0;             //  Length or count when known from b

        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
            ;                       //  fixint, nil, false, true
        else
        if (b >= 0x80 && b <= 0x8f) {
            kind = MAP;
            n = b & 0x0f;
        }
        else
        if (b >= 0x90 && b <= 0x9f) {
            kind = ARRAY;
            n = b & 0x0f;
        }
        else
        if (b >= 0xa0 && b <= 0xbf) {
            kind = STR;
            n = b & 0x1f;
        }
        else
        if (b == 0xc1)
            return PROTO_ERR_MALFORMED;
        else
        if (b >= 0xc4 && b <= 0xc6) {
            kind = BIN;
            field = (size_t) 1 << (b - 0xc4);
        }
        else
        if ((b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8))
            return PROTO_ERR_TYPE;  //  ext: valid msgpack, not in Weft
        else
        if (b == 0xca)
            field = 4;
        else
        if (b == 0xcb)
            field = 8;
        else
        if (b >= 0xcc && b <= 0xcf)
            field = (size_t) 1 << (b - 0xcc);
        else
        if (b >= 0xd0 && b <= 0xd3)
            field = (size_t) 1 << (b - 0xd0);
        else
        if (b >= 0xd9 && b <= 0xdb) {
            kind = STR;
            field = (size_t) 1 << (b - 0xd9);
        }
        else
        if (b == 0xdc || b == 0xdd) {
            kind = ARRAY;
            field = b == 0xdc? 2: 4;
        }
        else {                      //  0xde, 0xdf
            kind = MAP;
            field = b == 0xde? 2: 4;
        }

        if (field > size - pos)
            return PROTO_ERR_TRUNCATED;
        if (kind == SCALAR) {
            pos += field;           //  The field is the value
        }
        else {
            if (field) {
                n = s_be (data + pos, field);
                pos += field;
            }
            size_t left = size - pos;
            if (kind == STR || kind == BIN) {
                if ((kind == STR && n > WEFT_STR_MAX) || n > WEFT_FRAME_MAX)
                    return PROTO_ERR_OVERSIZE;
                if (n > left)
                    return PROTO_ERR_TRUNCATED;
                pos += n;
            }
            else {
                if (n > WEFT_ITEMS_MAX)
                    return PROTO_ERR_OVERSIZE;
                uint64_t values = kind == MAP? 2 * n: n;
                if (values > left)
                    return PROTO_ERR_OVERSIZE;
                if (depth >= WEFT_DEPTH_MAX)
                    return PROTO_ERR_DEPTH;
                objects += values;
                if (objects > budget / sizeof (msgpack_object))
                    return PROTO_ERR_OVERSIZE;
                if (values > 0) {
                    pending [depth++] = (uint32_t) values;
                    continue;       //  Next value is the first child
                }
            }
        }
        //  One value complete: close every container it completes
        while (depth > 0) {
            if (--pending [depth - 1] > 0)
                break;
            depth--;
        }
        if (depth == 0)
            break;
    }
    return pos == size? PROTO_OK: PROTO_ERR_TRAILING;
}

//  --------------------------------------------------------------------------
//  Scan, then unpack into a zone.

int
codec_reader_new (codec_reader_t **self_p, const uint8_t *data, size_t size)
{
    assert (self_p);
    *self_p = NULL;
    int rc = codec_scan (data, size);
    if (rc)
        return rc;
    codec_reader_t *self = (codec_reader_t *) calloc (1, sizeof (codec_reader_t));
    if (!self || !msgpack_zone_init (&self->zone, 1024)) {
        fprintf (stderr, "proto: out of memory\n");
        abort ();
    }
    size_t offset = 0;
    msgpack_unpack_return ret = msgpack_unpack ((const char *) data, size, &offset,
                                                &self->zone, &self->root);
    if (ret != MSGPACK_UNPACK_SUCCESS || offset != size) {
        //  The scan accepted it, so this is a disagreement with msgpack-c
        codec_reader_destroy (&self);
        return ret == MSGPACK_UNPACK_NOMEM_ERROR? PROTO_ERR_OVERSIZE: PROTO_ERR_MALFORMED;
    }
    *self_p = self;
    return PROTO_OK;
}

void
codec_reader_destroy (codec_reader_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        codec_reader_t *self = *self_p;
        msgpack_zone_destroy (&self->zone);
        free (self);
        *self_p = NULL;
    }
}

int
codec_items (codec_reader_t *self)
{
    assert (self);
    if (self->root.type != MSGPACK_OBJECT_ARRAY)
        return -1;
    return (int) self->root.via.array.size;
}

static const msgpack_object *
s_item (codec_reader_t *self, size_t index)
{
    if (self->root.type != MSGPACK_OBJECT_ARRAY || index >= self->root.via.array.size)
        return NULL;
    return &self->root.via.array.ptr [index];
}

int
codec_get_uint (codec_reader_t *self, size_t index, uint64_t max, uint64_t *value)
{
    assert (self && value);
    const msgpack_object *item = s_item (self, index);
    if (!item || item->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return PROTO_ERR_TYPE;
    if (item->via.u64 > max)
        return PROTO_ERR_VALUE;
    *value = item->via.u64;
    return PROTO_OK;
}

int
codec_get_strn (codec_reader_t *self, size_t index, const char **data_p,
                size_t *size_p, size_t max)
{
    assert (self && data_p && size_p);
    const msgpack_object *item = s_item (self, index);
    if (!item || item->type != MSGPACK_OBJECT_STR)
        return PROTO_ERR_TYPE;
    size_t size = item->via.str.size;
    if (size > max)
        return PROTO_ERR_OVERSIZE;
    if (size && memchr (item->via.str.ptr, 0, size))
        return PROTO_ERR_VALUE;
    *data_p = size? item->via.str.ptr: "";
    *size_p = size;
    return PROTO_OK;
}

int
codec_get_str (codec_reader_t *self, size_t index, char *buf, size_t max)
{
    assert (buf);
    const char *data;
    size_t size;
    int rc = codec_get_strn (self, index, &data, &size, max);
    if (rc == 0) {
        memcpy (buf, data, size);
        buf [size] = 0;
    }
    return rc;
}

int
codec_get_binref (codec_reader_t *self, size_t index, const uint8_t **data_p,
                  size_t *size_p)
{
    assert (self && data_p && size_p);
    const msgpack_object *item = s_item (self, index);
    if (!item || item->type != MSGPACK_OBJECT_BIN)
        return PROTO_ERR_TYPE;
    *data_p = (const uint8_t *) item->via.bin.ptr;
    *size_p = item->via.bin.size;
    return PROTO_OK;
}

int
codec_get_bin (codec_reader_t *self, size_t index, uint8_t *buf, size_t size)
{
    assert (buf);
    const uint8_t *data;
    size_t data_size;
    int rc = codec_get_binref (self, index, &data, &data_size);
    if (rc == 0 && data_size != size)
        rc = PROTO_ERR_VALUE;
    if (rc == 0)
        memcpy (buf, data, size);
    return rc;
}

bool
codec_is_nil (codec_reader_t *self, size_t index)
{
    assert (self);
    const msgpack_object *item = s_item (self, index);
    return item && item->type == MSGPACK_OBJECT_NIL;
}

//  --------------------------------------------------------------------------
//  Build context || 0x00 || body in one buffer: Ed25519 signs whole
//  messages, so the domain prefix must be contiguous with the body.

static uint8_t *
s_signing_input (const char *context, const uint8_t *body, size_t body_size,
                 size_t *size_p)
{
    size_t prefix = strlen (context) + 1;
    uint8_t *input = (uint8_t *) malloc (prefix + body_size + 1);
    if (!input) {
        fprintf (stderr, "proto: out of memory\n");
        abort ();
    }
    memcpy (input, context, prefix);            //  Includes the NUL
    if (body_size)
        memcpy (input + prefix, body, body_size);
    *size_p = prefix + body_size;
    return input;
}

void
codec_sign (const char *context, const uint8_t *body, size_t body_size,
            const uint8_t secret [WEFT_SECRET_SIZE], uint8_t sig [WEFT_SIG_SIZE])
{
    assert (context && secret && sig);
    assert (body || body_size == 0);
    size_t size;
    uint8_t *input = s_signing_input (context, body, body_size, &size);
    crypto_sign_detached (sig, NULL, input, size, secret);
    free (input);
}

int
codec_verify (const char *context, const uint8_t *body, size_t body_size,
              const uint8_t sig [WEFT_SIG_SIZE], const uint8_t public_key [WEFT_KEY_SIZE])
{
    assert (context && public_key);
    if (!sig || (!body && body_size))
        return PROTO_ERR_SIGNATURE;
    size_t size;
    uint8_t *input = s_signing_input (context, body, body_size, &size);
    int rc = crypto_sign_verify_detached (sig, input, size, public_key);
    free (input);
    return rc == 0? PROTO_OK: PROTO_ERR_SIGNATURE;
}

int
codec_seal (const char *context, const uint8_t *body, size_t body_size,
            const uint8_t secret [WEFT_SECRET_SIZE], uint8_t **out_p, size_t *size_p)
{
    assert (out_p && size_p);
    uint8_t sig [WEFT_SIG_SIZE];
    codec_sign (context, body, body_size, secret, sig);
    codec_writer_t *w = codec_writer_new (body_size + WEFT_SIG_SIZE + 16);
    codec_put_array (w, 2);
    codec_put_bin (w, body, body_size);
    codec_put_bin (w, sig, WEFT_SIG_SIZE);
    return codec_writer_finish (&w, out_p, size_p);
}
