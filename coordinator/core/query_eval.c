/*  query_eval - matching a parsed query, the version order, the planner
    Reads the immutable tree that query_new built (query_internal.h), so a
    query is safe to match from several threads at once. Recursion in the
    matcher is bounded by the nesting limit query_new checked on the
    canonical form.  */

#include "proto/corelib.h"

#include "coordinator/core/query_internal.h"

//  --------------------------------------------------------------------------
//  Match one device. Recursion is bounded by QUERY_DEPTH_MAX.

static bool
s_node_match (query_node_t *node, query_attr_fn *get, void *arg)
{
    switch (node->kind) {
        case QUERY_NODE_TERM:
            return query_op_match (node->op, get (node->attr, arg), node->value);
        case QUERY_NODE_NOT:
            return !s_node_match (node->child [0], get, arg);
        case QUERY_NODE_AND:
            for (size_t index = 0; index < node->children; index++)
                if (!s_node_match (node->child [index], get, arg))
                    return false;
            return true;
        case QUERY_NODE_OR:
            for (size_t index = 0; index < node->children; index++)
                if (s_node_match (node->child [index], get, arg))
                    return true;
            return false;
    }
    assert (false);
    return false;
}

bool
query_match (query_t *self, query_attr_fn *get, void *arg)
{
    assert (self);
    assert (get);
    return s_node_match (self->root, get, arg);
}

//  --------------------------------------------------------------------------
//  Does a device value satisfy "op value"?

bool
query_op_match (query_op_t op, const char *actual, const char *value)
{
    if (!actual)
        return false;
    switch (op) {
        case QUERY_OP_TRUE:
            return !streq (actual, "false");
        case QUERY_OP_EQ:
            return streq (actual, value);
        case QUERY_OP_NE:
            return !streq (actual, value);
        case QUERY_OP_LT:
            return query_compare (actual, value) < 0;
        case QUERY_OP_LE:
            return query_compare (actual, value) <= 0;
        case QUERY_OP_GT:
            return query_compare (actual, value) > 0;
        case QUERY_OP_GE:
            return query_compare (actual, value) >= 0;
        case QUERY_OP_PREFIX:
            return strncmp (actual, value, strlen (value)) == 0;
    }
    assert (false);
    return false;
}

//  --------------------------------------------------------------------------
//  The version order. Both values are read as pieces: a run of digits (a
//  number, of any length) or one other character. At the first piece
//  that differs:
//    - two numbers compare by value;
//    - otherwise each side ranks: the end of the value below anything,
//      except that right after a number a '-' ranks lowest of all (a
//      pre-release, 2.3.0-rc1 < 2.3.0); a number ranks as the character
//      '0'; any other character by its byte.
//  The rank depends only on the common prefix, so this is a total order
//  of piece sequences; values with equal pieces ("1.02", "1.2") are
//  ordered by their bytes, so only identical strings compare equal.

#define S_RANK_PRERELEASE   -2      //  A rank, not a result code
#define S_RANK_END          -1

static int
s_piece_rank (const char *at, bool after_number)
{
    unsigned char c = (unsigned char) *at;
    if (after_number && c == '-')
        return S_RANK_PRERELEASE;
    if (c == 0)
        return S_RANK_END;
    if (query_is_digit (c))
        return '0';
    return c;
}

int
query_compare (const char *a, const char *b)
{
    assert (a && b);
    const char *left = a, *right = b;
    bool after_number = false;
    while (true) {
        if (query_is_digit (*left) && query_is_digit (*right)) {
            while (*left == '0')
                left++;
            while (*right == '0')
                right++;
            size_t left_size = 0, right_size = 0;
            while (query_is_digit (left [left_size]))
                left_size++;
            while (query_is_digit (right [right_size]))
                right_size++;
            if (left_size != right_size)
                return left_size < right_size? -1: 1;
            int rc = memcmp (left, right, left_size);
            if (rc)
                return rc < 0? -1: 1;
            left += left_size;
            right += right_size;
            after_number = true;
        }
        else
        if (*left && *left == *right) {
            left++;
            right++;
            after_number = false;
        }
        else
        if (*left == 0 && *right == 0)
            break;
        else
            return s_piece_rank (left, after_number)
                 < s_piece_rank (right, after_number)? -1: 1;
    }
    int rc = strcmp (a, b);
    return rc < 0? -1: rc > 0? 1: 0;
}

//  --------------------------------------------------------------------------
//  The operator's spelling.

const char *
query_op_name (query_op_t op)
{
    switch (op) {
        case QUERY_OP_TRUE:     return "";
        case QUERY_OP_EQ:       return "=";
        case QUERY_OP_NE:       return "!=";
        case QUERY_OP_LT:       return "<";
        case QUERY_OP_LE:       return "<=";
        case QUERY_OP_GT:       return ">";
        case QUERY_OP_GE:       return ">=";
        case QUERY_OP_PREFIX:   return "^=";
    }
    return "?";
}

//  --------------------------------------------------------------------------
//  The equality and prefix terms joined by 'and' at the top.

size_t
query_index_terms (query_t *self, query_term_t *terms, size_t max)
{
    assert (self);
    assert (terms || max == 0);
    query_node_t *root = self->root;
    query_node_t **list = &root;
    size_t count = 1;
    if (root->kind == QUERY_NODE_AND) {
        list = root->child;
        count = root->children;
    }
    size_t found = 0;
    for (size_t index = 0; index < count; index++) {
        query_node_t *node = list [index];
        if (node->kind == QUERY_NODE_TERM
        && (node->op == QUERY_OP_EQ || node->op == QUERY_OP_PREFIX)) {
            if (found < max) {
                terms [found].attr = node->attr;
                terms [found].op = node->op;
                terms [found].value = node->value;
            }
            found++;
        }
    }
    return found;
}
