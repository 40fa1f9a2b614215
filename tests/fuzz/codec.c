/*  fuzz/codec - libFuzzer target for the pre-scan and the key file blob
    Differential check of codec_scan against msgpack-c: whatever the scan
    accepts, msgpack_unpack must unpack completely (codec_reader_new
    would report MALFORMED otherwise), within the memory the scan
    allowed (libFuzzer's -malloc_limit_mb catches a runaway). Every
    typed getter runs on every item. The same bytes are also fed to
    keys_decode.  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/codec.h"
#include "proto/keys.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    int scan = codec_scan (data, size);
    codec_reader_t *reader;
    int rc = codec_reader_new (&reader, data, size);
    assert (rc == scan);
    if (rc == 0) {
        int items = codec_items (reader);
        assert (items >= -1 && items <= WEFT_ITEMS_MAX);
        for (int i = 0; i < items + 1; i++) {
            uint64_t value;
            char name [WEFT_NAME_MAX + 1];
            const char *text;
            const uint8_t *bin;
            size_t text_size, bin_size;
            uint8_t key [WEFT_KEY_SIZE];
            codec_get_uint (reader, (size_t) i, 255, &value);
            if (codec_get_str (reader, (size_t) i, name, WEFT_NAME_MAX) == 0)
                assert (strlen (name) <= WEFT_NAME_MAX);
            if (codec_get_strn (reader, (size_t) i, &text, &text_size, WEFT_STR_MAX) == 0)
                assert (text_size == 0 || (text >= (const char *) data
                        && text + text_size <= (const char *) data + size
                        && !memchr (text, 0, text_size)));
            if (codec_get_binref (reader, (size_t) i, &bin, &bin_size) == 0)
                assert (bin_size == 0 || (bin >= data && bin + bin_size <= data + size));
            codec_get_bin (reader, (size_t) i, key, sizeof key);
            codec_is_nil (reader, (size_t) i);
        }
        codec_reader_destroy (&reader);
    }
    keys_t keys;
    if (keys_decode (&keys, data, size) == 0)
        keys_wipe (&keys);
    return 0;
}
