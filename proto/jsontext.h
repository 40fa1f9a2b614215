/*  jsontext - JSON text as Weft writes it: jansson's layout, with every
    real number in its shortest round-trip form
    jansson prints a real with 17 significant digits, so an operator's
    0.1 comes back as 0.10000000000000001: the same double, other text.
    Every JSON document Weft stores or sends (twins, RPC results, the
    applied file, weftctl's output) is written here instead: the layout,
    key order and string escapes are exactly json_dumps's, and a real is
    written with the fewest significant digits that read back as the
    same double (0.1, 1.5e300, 100.0), in fixed notation for exponents
    -4..15 and with an exponent otherwise (1e16, 1e-5), always with a
    '.' or an 'e' so that it reads back as a real. No I/O.  */

#ifndef WEFT_JSONTEXT_H_INCLUDED
#define WEFT_JSONTEXT_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define JSONTEXT_REAL_MAX   32          //  Longest text of one real

//  As json_dumps (json, flags), for the flags JSON_INDENT(n),
//  JSON_COMPACT, JSON_SORT_KEYS and JSON_ENCODE_ANY (others are
//  refused: NULL). NULL also where json_dumps returns NULL (a scalar
//  without JSON_ENCODE_ANY). Caller frees.
char *
    jsontext_dumps (const json_t *json, size_t flags);

//  The shortest round-trip text of a real into text. Returns its length.
size_t
    jsontext_real (double value, char text [JSONTEXT_REAL_MAX]);

void
    jsontext_test (bool verbose);

#endif
