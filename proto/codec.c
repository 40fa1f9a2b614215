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

//  --------------------------------------------------------------------------
//  Selftest support: golden vector files, lower-case hex, 64 characters a
//  line. Only the selftests read and write them (tests/golden/).

int
codec_golden (const char *name, const uint8_t *data, size_t size,
              uint8_t **data_p, size_t *size_p)
{
    assert (name);
    const char *dir = getenv ("WEFT_GOLDEN_DIR");
    if (!dir || !*dir)
        dir = "tests/golden";
    char path [512];
    snprintf (path, sizeof path, "%s/%s.hex", dir, name);
    const char *write = getenv ("WEFT_GOLDEN_WRITE");
    if (write && strcmp (write, "1") == 0 && data) {
        FILE *file = fopen (path, "w");
        if (!file) {
            fprintf (stderr, "golden: cannot write %s\n", path);
            return -1;
        }
        for (size_t i = 0; i < size; i++)
            fprintf (file, "%02x%s", data [i], (i % 32 == 31 || i + 1 == size)? "\n": "");
        fclose (file);
        fprintf (stderr, "golden: wrote %s\n", path);
    }
    FILE *file = fopen (path, "r");
    if (!file) {
        fprintf (stderr, "golden: %s is missing; run the selftest from the "
                 "repository root, or regenerate it (tests/golden/README.md)\n", path);
        return -1;
    }
    size_t text_alloc = 4096, text_size = 0;
    char *text = (char *) malloc (text_alloc);
    int ch;
    while (text && (ch = fgetc (file)) != EOF) {
        if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
            continue;
        if (text_size + 1 >= text_alloc) {
            text_alloc *= 2;
            char *bigger = (char *) realloc (text, text_alloc);
            if (!bigger)
                free (text);
            text = bigger;
        }
        if (text)
            text [text_size++] = (char) ch;
    }
    fclose (file);
    if (!text) {
        fprintf (stderr, "proto: out of memory\n");
        abort ();
    }
    text [text_size] = 0;
    size_t bytes_size = text_size / 2;
    uint8_t *bytes = (uint8_t *) malloc (bytes_size + 1);
    size_t bin_len = 0;
    int rc = 0;
    if (!bytes
    ||  text_size % 2
    ||  sodium_hex2bin (bytes, bytes_size, text, text_size, NULL, &bin_len, NULL) != 0
    ||  bin_len != bytes_size) {
        fprintf (stderr, "golden: %s is not valid hex\n", path);
        rc = -1;
    }
    else
    if (data && (bytes_size != size || memcmp (bytes, data, size) != 0)) {
        fprintf (stderr, "golden: %s differs from the encoder's output "
                 "(%zu bytes in file, %zu encoded)\n", path, bytes_size, size);
        for (size_t i = 0; i < size && i < bytes_size; i++)
            if (bytes [i] != data [i]) {
                fprintf (stderr, "golden: first difference at byte %zu\n", i);
                break;
            }
        rc = -1;
    }
    free (text);
    if (rc == 0 && data_p) {
        *data_p = bytes;
        *size_p = bytes_size;
    }
    else
        free (bytes);
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest

static int
s_scan_hex (const char *hex)
{
    uint8_t buf [256];
    size_t size = 0;
    int rc = sodium_hex2bin (buf, sizeof buf, hex, strlen (hex), " ", &size, NULL);
    assert (rc == 0);
    return codec_scan (buf, size);
}

void
codec_test (bool verbose)
{
    printf (" * codec: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    //  Scalars and containers within limits
    assert (s_scan_hex ("00") == PROTO_OK);
    assert (s_scan_hex ("c0") == PROTO_OK);
    assert (s_scan_hex ("cf 0102030405060708") == PROTO_OK);
    assert (s_scan_hex ("93 01 a1 61 c4 01 ff") == PROTO_OK);
    assert (s_scan_hex ("82 01 02 03 90") == PROTO_OK);
    assert (s_scan_hex ("90") == PROTO_OK);
    assert (s_scan_hex ("cb 0000000000000000") == PROTO_OK);

    //  Truncated, malformed, trailing
    assert (codec_scan (NULL, 0) == PROTO_ERR_TRUNCATED);
    assert (s_scan_hex ("cf 01020304") == PROTO_ERR_TRUNCATED);
    assert (s_scan_hex ("a3 6162") == PROTO_ERR_TRUNCATED);
    assert (s_scan_hex ("c4 05 01") == PROTO_ERR_TRUNCATED);
    assert (s_scan_hex ("da 00") == PROTO_ERR_TRUNCATED);
    assert (s_scan_hex ("92 01") == PROTO_ERR_OVERSIZE);    //  count > bytes left
    assert (s_scan_hex ("91 92 01 02") == PROTO_OK);
    assert (s_scan_hex ("91 92 01") == PROTO_ERR_OVERSIZE);
    assert (s_scan_hex ("c1") == PROTO_ERR_MALFORMED);
    assert (s_scan_hex ("92 01 c1") == PROTO_ERR_MALFORMED);
    assert (s_scan_hex ("01 02") == PROTO_ERR_TRAILING);
    assert (s_scan_hex ("91 01 00") == PROTO_ERR_TRAILING);
    assert (s_scan_hex ("d4 01 00") == PROTO_ERR_TYPE);     //  ext is not Weft

    //  5-byte headers announcing 2^32-1 elements fail fast
    assert (s_scan_hex ("dd ffffffff") == PROTO_ERR_OVERSIZE);
    assert (s_scan_hex ("df ffffffff") == PROTO_ERR_OVERSIZE);
    assert (s_scan_hex ("db ffffffff") == PROTO_ERR_OVERSIZE);
    assert (s_scan_hex ("c6 ffffffff") == PROTO_ERR_OVERSIZE);
    assert (s_scan_hex ("c9 ffffffff 01") == PROTO_ERR_TYPE);
    assert (s_scan_hex ("dc 0101") == PROTO_ERR_OVERSIZE);  //  257 > ITEMS_MAX

    //  Depth: 8 nested arrays pass, 9 do not
    assert (s_scan_hex ("91 91 91 91 91 91 91 90") == PROTO_OK);
    assert (s_scan_hex ("91 91 91 91 91 91 91 91 90") == PROTO_ERR_DEPTH);
    assert (s_scan_hex ("91 91 91 91 91 91 91 91 00") == PROTO_OK);
    assert (s_scan_hex ("91 91 91 91 91 91 91 91 91 00") == PROTO_ERR_DEPTH);
    assert (s_scan_hex ("81 01 81 01 81 01 81 01 81 01 81 01 81 01 81 01 01") == PROTO_OK);
    assert (s_scan_hex ("81 01 81 01 81 01 81 01 81 01 81 01 81 01 81 01 81 01 01")
            == PROTO_ERR_DEPTH);

    //  Largest string passes, one more byte does not (str32 headers)
    {
        size_t size = 5 + WEFT_STR_MAX + 1;
        uint8_t *big = (uint8_t *) malloc (size);
        assert (big);
        memset (big, 'x', size);
        big [0] = 0xdb;
        big [1] = 0;
        big [2] = (WEFT_STR_MAX >> 16) & 0xff;
        big [3] = (WEFT_STR_MAX >> 8) & 0xff;
        big [4] = WEFT_STR_MAX & 0xff;
        assert (codec_scan (big, size - 1) == PROTO_OK);
        big [4] = (WEFT_STR_MAX + 1) & 0xff;
        assert (codec_scan (big, size) == PROTO_ERR_OVERSIZE);
        free (big);
    }
    //  Frame limit
    {
        uint8_t *huge = (uint8_t *) calloc (1, WEFT_FRAME_MAX + 1);
        assert (huge);
        assert (codec_scan (huge, WEFT_FRAME_MAX + 1) == PROTO_ERR_OVERSIZE);
        free (huge);
    }
    //  Object budget: 4 * size + 64 KiB of msgpack_object. A 512 KiB
    //  input of 255-element arrays of fixints needs about 24 objects per
    //  byte (on 64-bit) and is refused; a short one passes.
    {
        size_t size = 512 * 1024;
        uint8_t *flat = (uint8_t *) calloc (1, size);
        assert (flat);
        //  Top array of N arrays, each 0xdc 00ff + 255 zero bytes
        size_t per = 3 + 255;
        size_t n = (size - 3) / per;
        if (n > WEFT_ITEMS_MAX)
            n = WEFT_ITEMS_MAX;
        flat [0] = 0xdc;
        flat [1] = (uint8_t) (n >> 8);
        flat [2] = (uint8_t) n;
        for (size_t i = 0; i < n; i++) {
            flat [3 + i * per] = 0xdc;
            flat [3 + i * per + 1] = 0x00;
            flat [3 + i * per + 2] = 0xff;
        }
        size_t used = 3 + n * per;
        //  256 * 256 objects * 24 bytes = 1.5 MiB > 4 * 66 KiB + 64 KiB
        assert (codec_scan (flat, used) == PROTO_ERR_OVERSIZE);
        //  8 inner arrays: 2049 objects, well within
        flat [2] = 8;
        flat [1] = 0;
        assert (codec_scan (flat, 3 + 8 * per) == PROTO_OK);
        free (flat);
    }

    //  Writer and reader round trip
    codec_writer_t *writer = codec_writer_new (0);
    codec_put_array (writer, 7);
    codec_put_uint (writer, 0);
    codec_put_uint (writer, UINT64_MAX);
    codec_put_str (writer, "hello", WEFT_NAME_MAX);
    codec_put_strn (writer, "{\"a\":1}", 7, WEFT_STR_MAX);
    uint8_t key [WEFT_KEY_SIZE];
    memset (key, 0xab, sizeof key);
    codec_put_bin (writer, key, sizeof key);
    codec_put_nil (writer);
    codec_put_bin (writer, NULL, 0);
    uint8_t *out;
    size_t out_size;
    assert (codec_writer_finish (&writer, &out, &out_size) == 0);
    assert (writer == NULL);

    codec_reader_t *reader;
    assert (codec_reader_new (&reader, out, out_size) == 0);
    assert (codec_items (reader) == 7);
    uint64_t value;
    assert (codec_get_uint (reader, 0, 10, &value) == 0 && value == 0);
    assert (codec_get_uint (reader, 1, UINT64_MAX, &value) == 0 && value == UINT64_MAX);
    assert (codec_get_uint (reader, 1, 255, &value) == PROTO_ERR_VALUE);
    assert (codec_get_uint (reader, 2, 255, &value) == PROTO_ERR_TYPE);
    assert (codec_get_uint (reader, 7, 255, &value) == PROTO_ERR_TYPE);
    char name [WEFT_NAME_MAX + 1];
    assert (codec_get_str (reader, 2, name, WEFT_NAME_MAX) == 0);
    assert (strcmp (name, "hello") == 0);
    assert (codec_get_str (reader, 2, name, 4) == PROTO_ERR_OVERSIZE);
    assert (codec_get_str (reader, 0, name, WEFT_NAME_MAX) == PROTO_ERR_TYPE);
    assert (codec_get_str (reader, 4, name, WEFT_NAME_MAX) == PROTO_ERR_TYPE);
    const char *doc;
    size_t doc_size;
    assert (codec_get_strn (reader, 3, &doc, &doc_size, WEFT_STR_MAX) == 0);
    assert (doc_size == 7 && memcmp (doc, "{\"a\":1}", 7) == 0);
    assert (doc >= (const char *) out && doc < (const char *) out + out_size);
    uint8_t got [WEFT_KEY_SIZE];
    assert (codec_get_bin (reader, 4, got, sizeof got) == 0);
    assert (memcmp (got, key, sizeof key) == 0);
    assert (codec_get_bin (reader, 4, got, 16) == PROTO_ERR_VALUE);
    assert (codec_get_bin (reader, 3, got, sizeof got) == PROTO_ERR_TYPE);
    assert (codec_is_nil (reader, 5));
    assert (!codec_is_nil (reader, 4));
    assert (!codec_is_nil (reader, 9));
    const uint8_t *bin;
    size_t bin_size;
    assert (codec_get_binref (reader, 6, &bin, &bin_size) == 0 && bin_size == 0);
    codec_reader_destroy (&reader);
    codec_reader_destroy (&reader);
    assert (reader == NULL);
    free (out);

    //  Embedded NUL refused both ways
    writer = codec_writer_new (0);
    codec_put_strn (writer, "a\0b", 3, WEFT_NAME_MAX);
    assert (codec_writer_finish (&writer, &out, &out_size) == PROTO_ERR_VALUE);
    assert (out == NULL);
    {
        const uint8_t nul [] = { 0x91, 0xa3, 'a', 0, 'b' };
        assert (codec_reader_new (&reader, nul, sizeof nul) == 0);
        assert (codec_get_str (reader, 0, name, WEFT_NAME_MAX) == PROTO_ERR_VALUE);
        assert (codec_get_strn (reader, 0, &doc, &doc_size, WEFT_STR_MAX) == PROTO_ERR_VALUE);
        codec_reader_destroy (&reader);
    }
    //  Over-long and unterminated fields refused on encode
    writer = codec_writer_new (0);
    char unterminated [4] = { 'a', 'b', 'c', 'd' };
    codec_put_str (writer, unterminated, 3);
    assert (codec_writer_finish (&writer, &out, &out_size) == PROTO_ERR_OVERSIZE);
    writer = codec_writer_new (0);
    codec_put_array (writer, WEFT_ITEMS_MAX + 1);
    assert (codec_writer_finish (&writer, &out, &out_size) == PROTO_ERR_OVERSIZE);
    writer = codec_writer_new (16);
    codec_writer_destroy (&writer);

    //  Negative integers and floats are not uints
    {
        const uint8_t odd [] = { 0x92, 0xff, 0xca, 0, 0, 0, 0 };
        assert (codec_reader_new (&reader, odd, sizeof odd) == 0);
        assert (codec_get_uint (reader, 0, UINT64_MAX, &value) == PROTO_ERR_TYPE);
        assert (codec_get_uint (reader, 1, UINT64_MAX, &value) == PROTO_ERR_TYPE);
        codec_reader_destroy (&reader);
        //  A non-negative value in an int format is a uint
        const uint8_t signed_form [] = { 0x92, 0xd0, 0x05, 0xd3, 0, 0, 0, 0, 0, 0, 0, 9 };
        assert (codec_reader_new (&reader, signed_form, sizeof signed_form) == 0);
        assert (codec_get_uint (reader, 0, UINT64_MAX, &value) == 0 && value == 5);
        assert (codec_get_uint (reader, 1, UINT64_MAX, &value) == 0 && value == 9);
        codec_reader_destroy (&reader);
        const uint8_t scalar [] = { 0x05 };
        assert (codec_reader_new (&reader, scalar, 1) == 0);
        assert (codec_items (reader) == -1);
        assert (codec_get_uint (reader, 0, UINT64_MAX, &value) == PROTO_ERR_TYPE);
        codec_reader_destroy (&reader);
    }
    //  @end
    printf ("OK\n");
}
