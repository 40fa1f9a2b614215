/*  codec - the one msgpack reader and writer of Weft (internal to proto/)
    Every Weft structure on the wire is a flat msgpack array whose nested
    documents travel as bin, so the codec offers a writer that appends
    values and a reader that indexes the items of a top-level array.

    Decoding is bounded before msgpack-c sees a byte: codec_scan walks
    the raw headers and refuses truncated, malformed, oversized or too
    deeply nested input, trailing bytes, and any input that would make
    the unpacker allocate more than 4 * size + 64 KiB of objects (a
    5-byte header may announce 2^32-1 elements; msgpack-c would reserve
    memory for them before reading any). Strings and bins are borrowed
    from the input buffer, never copied.

    This header deliberately does not include msgpack.h: only the .c files
    of proto/ may see msgpack, and the selftest runner includes every header that
    declares a selftest.  */

#ifndef WEFT_CODEC_H_INCLUDED
#define WEFT_CODEC_H_INCLUDED

#include "proto.h"

typedef struct _codec_writer_t codec_writer_t;
typedef struct _codec_reader_t codec_reader_t;

//  Create a writer; size_hint preallocates the buffer (secrets written
//  into a buffer that never grows leave no copies behind in freed memory).
codec_writer_t *
    codec_writer_new (size_t size_hint);

//  Destroy a writer, wiping its buffer. Safe on NULL.
void
    codec_writer_destroy (codec_writer_t **self_p);

//  Append values. A value over its limit records an error that
//  codec_writer_finish returns; later writes are then ignored.
void
    codec_put_array (codec_writer_t *self, size_t count);
void
    codec_put_uint (codec_writer_t *self, uint64_t value);
void
    codec_put_nil (codec_writer_t *self);
void
    codec_put_bin (codec_writer_t *self, const void *data, size_t size);

//  Append a string of size bytes (data may be NULL if size is 0).
//  Refuses size > max (PROTO_ERR_OVERSIZE) and embedded NUL
//  (PROTO_ERR_VALUE).
void
    codec_put_strn (codec_writer_t *self, const char *data, size_t size, size_t max);

//  Append a NUL-terminated string held in a char [max + 1] field.
//  Refuses a field that is not terminated within max + 1 bytes.
void
    codec_put_str (codec_writer_t *self, const char *field, size_t max);

//  Finish: returns 0 and hands over a heap buffer (free with free()),
//  or the first error recorded, or PROTO_ERR_OVERSIZE if the output
//  exceeds WEFT_FRAME_MAX. Destroys the writer either way.
int
    codec_writer_finish (codec_writer_t **self_p, uint8_t **out_p, size_t *size_p);

//  Check raw bytes against the limits of proto.h without allocating.
//  Returns 0 or a proto_rc_t.
int
    codec_scan (const uint8_t *data, size_t size);

//  Scan and unpack one top-level value. Returns 0 and a reader, or a
//  proto_rc_t. The reader borrows from data: keep data alive.
int
    codec_reader_new (codec_reader_t **self_p, const uint8_t *data, size_t size);

//  Destroy a reader. Safe on NULL.
void
    codec_reader_destroy (codec_reader_t **self_p);

//  Number of items if the top-level value is an array, else -1.
int
    codec_items (codec_reader_t *self);

//  Typed getters for item index of the top-level array. Each returns 0,
//  or PROTO_ERR_TYPE for a wrong msgpack type or a missing item, and:
//  uint: PROTO_ERR_VALUE if above max.
int
    codec_get_uint (codec_reader_t *self, size_t index, uint64_t max, uint64_t *value);

//  str into a char [max + 1] buffer, NUL-terminated: PROTO_ERR_OVERSIZE
//  if longer than max, PROTO_ERR_VALUE if it holds a NUL byte.
int
    codec_get_str (codec_reader_t *self, size_t index, char *buf, size_t max);

//  str borrowed from the input: same checks, no terminator.
int
    codec_get_strn (codec_reader_t *self, size_t index, const char **data_p,
                    size_t *size_p, size_t max);

//  bin of exactly size bytes copied into buf: PROTO_ERR_VALUE if the
//  size differs.
int
    codec_get_bin (codec_reader_t *self, size_t index, uint8_t *buf, size_t size);

//  bin of any size borrowed from the input.
int
    codec_get_binref (codec_reader_t *self, size_t index, const uint8_t **data_p,
                      size_t *size_p);

//  True if the item exists and is nil.
bool
    codec_is_nil (codec_reader_t *self, size_t index);

//  Ed25519 over context || 0x00 || body, the domain-separated signing
//  input of envelopes ("weft-envelope-v1") and certificates
//  ("weft-cert-v1"). codec_verify returns 0 or PROTO_ERR_SIGNATURE.
void
    codec_sign (const char *context, const uint8_t *body, size_t body_size,
                const uint8_t secret [WEFT_SECRET_SIZE], uint8_t sig [WEFT_SIG_SIZE]);
int
    codec_verify (const char *context, const uint8_t *body, size_t body_size,
                  const uint8_t sig [WEFT_SIG_SIZE], const uint8_t public_key [WEFT_KEY_SIZE]);

//  A signed object as certificates and passports are: the array [body,
//  sig] with sig from codec_sign. Caller frees *out_p. Returns 0 or a
//  PROTO_ERR_ code.
int
    codec_seal (const char *context, const uint8_t *body, size_t body_size,
                const uint8_t secret [WEFT_SECRET_SIZE], uint8_t **out_p, size_t *size_p);

//  Test helper for golden vectors: compare data with the hex file
//  tests/golden/NAME.hex (relative to the current directory, or to
//  $WEFT_GOLDEN_DIR), or write it when WEFT_GOLDEN_WRITE=1. Returns 0 if
//  equal (or written); prints why and returns -1 otherwise. If data_p
//  is not NULL, returns the file's bytes there (caller frees).
int
    codec_golden (const char *name, const uint8_t *data, size_t size,
                  uint8_t **data_p, size_t *size_p);

void
    codec_test (bool verbose);

#endif
