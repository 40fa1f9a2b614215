/*  query_internal - the parsed query tree, shared by the query_ files
    Private to coordinator/core/query*.c; callers use query.h. A tree is
    immutable once query_new has built it.  */

#ifndef WEFT_QUERY_INTERNAL_H_INCLUDED
#define WEFT_QUERY_INTERNAL_H_INCLUDED

#include "coordinator/core/query.h"

typedef enum {
    QUERY_NODE_TERM,                //  attr [op value]
    QUERY_NODE_NOT,                 //  One child
    QUERY_NODE_AND,                 //  Two or more children, none an AND
    QUERY_NODE_OR                   //  Two or more children, none an OR
} query_node_kind_t;

typedef struct _query_node_t query_node_t;
struct _query_node_t {
    query_node_kind_t kind;         //  What this node is
    query_op_t op;                  //  Term operator
    char *attr;                     //  Term attribute name, owned
    char *value;                    //  Term value, owned; NULL for QUERY_OP_TRUE
    query_node_t **child;           //  Children, owned
    size_t children;                //  Number of children
    size_t pos;                     //  Byte offset in the text, for errors
};

struct _query_t {
    query_node_t *root;             //  The parsed tree, never NULL
};


//  ASCII digits only, never the locale: the language must mean the same
//  thing on every coordinator. Shared by the lexer and query_compare.
static inline bool
query_is_digit (int c)
{
    return c >= '0' && c <= '9';
}

#endif
