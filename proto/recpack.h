/*  recpack - stored records as msgpack: the JSON data model in binary,
    with key material as raw bytes
    The coordinator keeps its per-device records (devices, twins,
    operators) as one msgpack map each. A record is written from a JSON
    object: keys in byte order at every level, integers as the smallest
    msgpack integer, reals as float 64, and the top-level string fields
    the caller names as binary (hex text that reads back as the same text becomes
    bin; anything else stays str, so nothing is lost). Reading back gives
    the same JSON object, bin as lowercase hex text.

    Records come from our own store, but a corrupt one must not crash
    the coordinator: every reader walks the bytes with explicit bounds
    (RECPACK_DEPTH_MAX nesting, counts no larger than the bytes left,
    strings without NUL and in UTF-8) and refuses anything else before
    it allocates. recpack_map walks one map without allocating at all,
    for scans that look at a few fields of many records. No I/O.  */

#ifndef WEFT_RECPACK_H_INCLUDED
#define WEFT_RECPACK_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  As deep as jansson parses (JSON_PARSER_MAX_DEPTH), so every document
//  a device may report today can be stored
#define RECPACK_DEPTH_MAX       2048

//  Types of a value seen by recpack_map
typedef enum {
    RECPACK_NIL,
    RECPACK_BOOL,
    RECPACK_INT,
    RECPACK_REAL,
    RECPACK_STR,
    RECPACK_BIN,
    RECPACK_ARRAY,
    RECPACK_MAP
} recpack_type_t;

//  One value, borrowed from the record bytes
typedef struct {
    recpack_type_t type;
    const uint8_t *data;            //  STR, BIN: content; ARRAY, MAP: the
    size_t size;                    //  whole encoded value, header included
    int64_t integer;                //  INT
    double real;                    //  REAL
    bool boolean;                   //  BOOL
} recpack_value_t;

//  Encode a JSON object. bin_fields (NULL-terminated, may be NULL) names
//  the top-level keys whose hex text values are stored as bin.
//  Returns 0 and a buffer the caller frees, or -1 if json is not an
//  object.
int
    recpack_encode (const json_t *json, const char *const *bin_fields,
                    uint8_t **data_p, size_t *size_p);

//  Decode a record to a JSON object; NULL if the bytes are not exactly
//  one well-formed map within the limits. Caller json_decref's it.
json_t *
    recpack_decode (const uint8_t *data, size_t size);

//  Call fn for each entry of the map in data (key borrowed, not
//  NUL-terminated), in stored order; fn returns 0 to go on. Checks the
//  whole map (nested values too) on the way. Returns 0, 1 if fn
//  stopped, or -1 if the bytes are not one well-formed map.
typedef int (recpack_entry_fn) (void *arg, const char *key, size_t key_size,
                                const recpack_value_t *value);
int
    recpack_map (const uint8_t *data, size_t size, recpack_entry_fn *fn, void *arg);

//  The value under key in the map in data. Returns 0, 1 if absent, or
//  -1 if malformed.
int
    recpack_get (const uint8_t *data, size_t size, const char *key,
                 recpack_value_t *value);

//  Is this byte string a record in this format (a map), as opposed to
//  JSON text (which starts with '{', a msgpack integer)?
bool
    recpack_is_record (const uint8_t *data, size_t size);

void
    recpack_test (bool verbose);

#endif
