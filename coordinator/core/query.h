/*  query - the device query language: parse, print, match, plan
    One query selects devices for every batch operation, campaign and
    listing, e.g.

        site=plant-2 and type=gateway and fw<2.3.0 and not tag.maintenance

    A query is parsed once into an immutable tree and then matched against
    any number of devices through a callback that returns a device's value
    for an attribute name. The parser has hard limits (text, nesting,
    terms) and reports a syntax error with the column and what was
    expected. Ordering operators compare values version-aware (2.10.0 >
    2.9.1). No I/O, no logging, no global state: a query is safe to match
    from several threads at once. The language is specified in
    docs/query.md.  */

#ifndef WEFT_QUERY_H_INCLUDED
#define WEFT_QUERY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define QUERY_TEXT_MAX      4096    //  Longest query text, in bytes
#define QUERY_DEPTH_MAX     32      //  Deepest nesting, as written and canonical
#define QUERY_TERMS_MAX     256     //  Most terms (comparisons and bare attributes)

typedef struct _query_t query_t;

//  The operator of one term.
typedef enum {
    QUERY_OP_TRUE,                  //  Bare attribute: present and not "false"
    QUERY_OP_EQ,                    //  =   same bytes
    QUERY_OP_NE,                    //  !=  present and not the same bytes
    QUERY_OP_LT,                    //  <   version order, see query_compare
    QUERY_OP_LE,                    //  <=
    QUERY_OP_GT,                    //  >
    QUERY_OP_GE,                    //  >=
    QUERY_OP_PREFIX                 //  ^=  value starts with the given bytes
} query_op_t;

//  One term for the planner. The strings are borrowed from the query
//  and live until it is destroyed.
typedef struct {
    const char *attr;               //  Attribute name, e.g. "site"
    query_op_t op;                  //  QUERY_OP_EQ or QUERY_OP_PREFIX
    const char *value;              //  Value to equal, or prefix
} query_term_t;

//  Returns a device's value for the attribute name, or NULL if the device
//  has no such attribute. The string must stay valid until the next call.
typedef const char *(query_attr_fn) (const char *name, void *arg);

//  Parse a query. Returns NULL on a syntax error or a broken limit, with
//  a message in error (if error is not NULL and error_size > 0), e.g.
//  "column 17: expected a value after '<'". Columns count characters
//  from 1. The length limit holds for the text and for its canonical
//  form, so a canonical form always parses back.
query_t *
    query_new (const char *text, char *error, size_t error_size);

//  Destroy a query; safe to call twice, nulls the caller's pointer.
void
    query_destroy (query_t **self_p);

//  True if the device whose attributes get returns matches the query.
//  Calls get zero or more times, possibly more than once per name.
bool
    query_match (query_t *self, query_attr_fn *get, void *arg);

//  The canonical form: every 'and' and 'or' group in parentheses, no
//  redundant ones, operators without spaces, values quoted only where
//  needed. Parsing it gives the same query again. Caller frees.
char *
    query_to_string (query_t *self);

//  The planner's view: the equality and prefix terms that are joined by
//  'and' at the top level of the query (the query itself if it is a
//  single such term). Contract: every device that matches the query
//  matches every one of these terms (query_op_match (term.op,
//  device value, term.value) is true), so the registry may intersect
//  index lookups for them and then run query_match on what is left.
//  There may be none, e.g. for an 'or' at the top. Fills at most max
//  terms in order of appearance and returns how many there are in all
//  (never more than QUERY_TERMS_MAX).
size_t
    query_index_terms (query_t *self, query_term_t *terms, size_t max);

//  True if a device value (NULL if absent) satisfies "op value". Absent
//  attributes satisfy no operator, not even !=.
bool
    query_op_match (query_op_t op, const char *actual, const char *value);

//  Total version-aware order of values: <0, 0 or >0 like strcmp, and 0
//  only for identical strings. Digit runs compare as numbers, other
//  characters by byte, a value sorts before its own extensions (1.2 <
//  1.2.1), and a '-' right after a number starts a pre-release that
//  sorts before the bare release (2.3.0-rc1 < 2.3.0).
int
    query_compare (const char *a, const char *b);

//  The operator's spelling ("=", "^=", ...), "" for QUERY_OP_TRUE.
const char *
    query_op_name (query_op_t op);

void
    query_test (bool verbose);

#endif
