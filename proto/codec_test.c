/*  codec - golden vector files and the selftest (see codec.h)  */

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "codec.h"

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
