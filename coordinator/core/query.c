/*  query - the device query language: parse, print, match, plan
    A recursive-descent parser over the text, with no separate token
    stream: what a character means depends on where the parser is (after
    an operator everything up to a delimiter is a value, so "type=and"
    is never confused with the keyword). The tree is immutable once
    built; 'and' and 'or' chains are flattened into n-ary nodes, which
    makes the canonical form and the planner's terms fall out directly.

    Limits are checked while parsing, before any work they bound: the
    text length first, then nesting as written (which bounds recursion in
    the parser) and the number of terms. After parsing, nesting and
    length are checked again as the canonical form writes them (it adds
    parentheses for precedence), which bounds recursion in the matcher
    and guarantees that a canonical form parses back. Only inline CZMQ
    helpers are used (zmalloc, streq), so the fuzz target can include
    this file without linking the library. The grammar is in
    docs/query.md.  */

#include <czmq.h>
#include <stdarg.h>

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

//  Parser state, on the stack of query_new for one parse.
typedef struct {
    const char *text;               //  The whole query
    size_t pos;                     //  Byte offset of the next character
    size_t depth;                   //  Open '(' and 'not' around pos
    size_t terms;                   //  Terms seen so far
    char *error;                    //  Caller's error buffer, may be NULL
    size_t error_size;              //  Its size
    bool failed;                    //  An error has been reported
} query_parser_t;

//  A growing string for query_to_string.
typedef struct {
    char *data;                     //  NUL-terminated, owned
    size_t size;                    //  Length without the NUL
    size_t limit;                   //  Allocated bytes
} query_buf_t;


//  --------------------------------------------------------------------------
//  Character classes. ASCII only, never the locale: the language must
//  mean the same thing on every coordinator.

static bool
s_is_alpha (int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
s_is_digit (int c)
{
    return c >= '0' && c <= '9';
}

static bool
s_is_name_start (int c)
{
    return s_is_alpha (c) || c == '_';
}

static bool
s_is_name_char (int c)
{
    return s_is_alpha (c) || s_is_digit (c) || c == '_' || c == '-' || c == '.';
}

static bool
s_is_space (int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

//  A byte that may appear in an unquoted value.
static bool
s_is_bare_char (int c)
{
    if (c >= 0x80)
        return true;                //  Part of a UTF-8 character
    if (c <= 0x20 || c == 0x7f)
        return false;
    return strchr ("()\"=!<>^\\", c) == NULL;
}

static bool
s_is_keyword (const char *word, size_t size)
{
    static const char *keywords [] = { "and", "or", "not" };
    for (size_t index = 0; index < sizeof keywords / sizeof *keywords; index++)
        if (strlen (keywords [index]) == size
        &&  strncasecmp (word, keywords [index], size) == 0)
            return true;
    return false;
}

//  --------------------------------------------------------------------------
//  Offset of the first byte that is not well-formed UTF-8, or -1 if the
//  text is valid. Rejects overlong forms, surrogates and values past
//  U+10FFFF, so values are safe to put in JSON and logs.

static long
s_utf8_invalid (const char *text)
{
    const unsigned char *start = (const unsigned char *) text;
    const unsigned char *at = start;
    while (*at) {
        unsigned char c = *at;
        size_t extra = 0;
        unsigned int low = 0x80, high = 0xbf;      //  Bounds of the second byte
        if (c < 0x80)
            extra = 0;
        else
        if (c >= 0xc2 && c <= 0xdf)
            extra = 1;
        else
        if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            if (c == 0xe0)
                low = 0xa0;         //  Overlong
            if (c == 0xed)
                high = 0x9f;        //  Surrogates
        }
        else
        if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            if (c == 0xf0)
                low = 0x90;         //  Overlong
            if (c == 0xf4)
                high = 0x8f;        //  Past U+10FFFF
        }
        else
            return (long) (at - start);
        for (size_t index = 1; index <= extra; index++) {
            unsigned int next = at [index];
            unsigned int min = index == 1? low: 0x80;
            unsigned int max = index == 1? high: 0xbf;
            if (next < min || next > max)
                return (long) (at - start);
        }
        at += extra + 1;
    }
    return -1;
}

//  1-based column of a byte offset, counting UTF-8 characters.

static size_t
s_column (const char *text, size_t pos)
{
    size_t column = 1;
    for (size_t index = 0; index < pos && text [index]; index++)
        if (((unsigned char) text [index] & 0xc0) != 0x80)
            column++;
    return column;
}

//  --------------------------------------------------------------------------
//  Report an error at a byte offset (SIZE_MAX for none); the first
//  report wins.

static void
s_fail (query_parser_t *parser, size_t pos, const char *format, ...)
{
    if (parser->failed)
        return;
    parser->failed = true;
    if (!parser->error || parser->error_size == 0)
        return;
    int prefix = 0;
    if (pos != SIZE_MAX)
        prefix = snprintf (parser->error, parser->error_size, "column %zu: ",
                           s_column (parser->text, pos));
    if (prefix < 0 || (size_t) prefix >= parser->error_size)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (parser->error + prefix, parser->error_size - prefix, format, args);
    va_end (args);
}

//  --------------------------------------------------------------------------
//  Tree nodes

static query_node_t *
s_node_new (query_node_kind_t kind)
{
    query_node_t *self = (query_node_t *) zmalloc (sizeof (query_node_t));
    self->kind = kind;
    return self;
}

static void
s_node_destroy (query_node_t **self_p)
{
    if (*self_p) {
        query_node_t *self = *self_p;
        for (size_t index = 0; index < self->children; index++)
            s_node_destroy (&self->child [index]);
        free (self->child);
        free (self->attr);
        free (self->value);
        free (self);
        *self_p = NULL;
    }
}

static void
s_node_append (query_node_t *self, query_node_t *child)
{
    query_node_t **child_list = (query_node_t **) realloc (
        self->child, (self->children + 1) * sizeof (query_node_t *));
    assert (child_list);
    self->child = child_list;
    self->child [self->children++] = child;
}

//  Join left and right with 'and' or 'or', flattening chains of the same
//  operator (it is associative), including one in parentheses on the
//  right. Takes both nodes.

static query_node_t *
s_node_join (query_node_kind_t kind, query_node_t *left, query_node_t *right)
{
    query_node_t *self = left;
    if (left->kind != kind) {
        self = s_node_new (kind);
        self->pos = left->pos;
        s_node_append (self, left);
    }
    if (right->kind == kind) {
        for (size_t index = 0; index < right->children; index++)
            s_node_append (self, right->child [index]);
        right->children = 0;
        s_node_destroy (&right);
    }
    else
        s_node_append (self, right);
    return self;
}

//  --------------------------------------------------------------------------
//  The parser. Each s_parse_ function returns a node, or NULL after
//  reporting an error.

static void
s_skip_space (query_parser_t *parser)
{
    while (s_is_space ((unsigned char) parser->text [parser->pos]))
        parser->pos++;
}

//  Consume the keyword (any case) if it is the next word.

static bool
s_accept_keyword (query_parser_t *parser, const char *keyword)
{
    s_skip_space (parser);
    const char *at = parser->text + parser->pos;
    size_t size = strlen (keyword);
    if (strncasecmp (at, keyword, size) == 0
    &&  !s_is_name_char ((unsigned char) at [size])) {
        parser->pos += size;
        return true;
    }
    return false;
}

//  A value in double quotes, starting at the quote. Only \" and \\ are
//  escapes; control characters must not appear.

static char *
s_parse_string (query_parser_t *parser)
{
    const char *text = parser->text;
    size_t open = parser->pos++;
    char *value = (char *) zmalloc (strlen (text + open) + 1);
    size_t size = 0;
    while (true) {
        unsigned char c = (unsigned char) text [parser->pos];
        if (c == 0) {
            s_fail (parser, parser->pos,
                    "expected '\"' to end the string that starts at column %zu",
                    s_column (text, open));
            break;
        }
        else
        if (c == '"') {
            parser->pos++;
            return value;
        }
        else
        if (c == '\\') {
            char next = text [parser->pos + 1];
            if (next != '"' && next != '\\') {
                s_fail (parser, parser->pos,
                        "expected '\\\"' or '\\\\' after a backslash");
                break;
            }
            value [size++] = next;
            parser->pos += 2;
        }
        else
        if (c < 0x20 || c == 0x7f) {
            s_fail (parser, parser->pos, "control character in a quoted value");
            break;
        }
        else {
            value [size++] = (char) c;
            parser->pos++;
        }
    }
    free (value);
    return NULL;
}

//  One operator, at an operator character.

static bool
s_parse_op (query_parser_t *parser, query_op_t *op_p)
{
    static const struct {
        const char *name;
        query_op_t op;
    } ops [] = {                    //  Longest first
        { "!=", QUERY_OP_NE }, { "<=", QUERY_OP_LE }, { ">=", QUERY_OP_GE },
        { "^=", QUERY_OP_PREFIX }, { "=", QUERY_OP_EQ }, { "<", QUERY_OP_LT },
        { ">", QUERY_OP_GT }
    };
    const char *at = parser->text + parser->pos;
    for (size_t index = 0; index < sizeof ops / sizeof *ops; index++) {
        size_t size = strlen (ops [index].name);
        if (strncmp (at, ops [index].name, size) == 0) {
            parser->pos += size;
            *op_p = ops [index].op;
            return true;
        }
    }
    s_fail (parser, parser->pos, "expected an operator: = != < <= > >= ^=");
    return false;
}

//  term = attribute [ operator value ]

static query_node_t *
s_parse_term (query_parser_t *parser)
{
    const char *text = parser->text;
    size_t start = parser->pos;
    if (++parser->terms > QUERY_TERMS_MAX) {
        s_fail (parser, start, "more than %d terms", QUERY_TERMS_MAX);
        return NULL;
    }
    while (s_is_name_char ((unsigned char) text [parser->pos]))
        parser->pos++;
    query_node_t *node = s_node_new (QUERY_NODE_TERM);
    node->pos = start;
    node->attr = strndup (text + start, parser->pos - start);
    assert (node->attr);
    node->op = QUERY_OP_TRUE;

    s_skip_space (parser);
    if (!strchr ("=!<>^", text [parser->pos]) || text [parser->pos] == 0)
        return node;                //  Bare attribute
    if (!s_parse_op (parser, &node->op)) {
        s_node_destroy (&node);
        return NULL;
    }
    s_skip_space (parser);
    size_t value_at = parser->pos;
    if (text [value_at] == '"')
        node->value = s_parse_string (parser);
    else {
        while (s_is_bare_char ((unsigned char) text [parser->pos]))
            parser->pos++;
        size_t size = parser->pos - value_at;
        if (size == 0 || s_is_keyword (text + value_at, size))
            s_fail (parser, value_at, "expected a value after '%s'",
                    query_op_name (node->op));
        else {
            node->value = strndup (text + value_at, size);
            assert (node->value);
        }
    }
    if (!node->value)
        s_node_destroy (&node);
    return node;
}

static query_node_t *
    s_parse_or (query_parser_t *parser);

//  primary = "(" or-expression ")" | term

static query_node_t *
s_parse_primary (query_parser_t *parser)
{
    s_skip_space (parser);
    const char *text = parser->text;
    size_t start = parser->pos;
    if (text [start] == '(') {
        if (++parser->depth > QUERY_DEPTH_MAX) {
            s_fail (parser, start, "nesting deeper than %d", QUERY_DEPTH_MAX);
            return NULL;
        }
        parser->pos++;
        query_node_t *node = s_parse_or (parser);
        if (!node)
            return NULL;
        s_skip_space (parser);
        if (text [parser->pos] != ')') {
            s_fail (parser, parser->pos,
                    "expected 'and', 'or' or ')' to close the '(' at column %zu",
                    s_column (text, start));
            s_node_destroy (&node);
            return NULL;
        }
        parser->pos++;
        parser->depth--;
        return node;
    }
    if (s_is_name_start ((unsigned char) text [start])) {
        size_t size = 0;
        while (s_is_name_char ((unsigned char) text [start + size]))
            size++;
        if (!s_is_keyword (text + start, size))
            return s_parse_term (parser);
    }
    s_fail (parser, start, "expected an attribute, 'not' or '('");
    return NULL;
}

//  not-expression = "not" not-expression | primary

static query_node_t *
s_parse_not (query_parser_t *parser)
{
    s_skip_space (parser);
    size_t start = parser->pos;
    if (!s_accept_keyword (parser, "not"))
        return s_parse_primary (parser);
    if (++parser->depth > QUERY_DEPTH_MAX) {
        s_fail (parser, start, "nesting deeper than %d", QUERY_DEPTH_MAX);
        return NULL;
    }
    query_node_t *child = s_parse_not (parser);
    parser->depth--;
    if (!child)
        return NULL;
    query_node_t *node = s_node_new (QUERY_NODE_NOT);
    node->pos = start;
    s_node_append (node, child);
    return node;
}

//  and-expression = not-expression { "and" not-expression }

static query_node_t *
s_parse_and (query_parser_t *parser)
{
    query_node_t *node = s_parse_not (parser);
    while (node && s_accept_keyword (parser, "and")) {
        query_node_t *right = s_parse_not (parser);
        if (!right)
            s_node_destroy (&node);
        else
            node = s_node_join (QUERY_NODE_AND, node, right);
    }
    return node;
}

//  or-expression = and-expression { "or" and-expression }

static query_node_t *
s_parse_or (query_parser_t *parser)
{
    query_node_t *node = s_parse_and (parser);
    while (node && s_accept_keyword (parser, "or")) {
        query_node_t *right = s_parse_and (parser);
        if (!right)
            s_node_destroy (&node);
        else
            node = s_node_join (QUERY_NODE_OR, node, right);
    }
    return node;
}

//  --------------------------------------------------------------------------
//  Nesting as the canonical form writes it: each term is enclosed by its
//  'not', 'and' and 'or' ancestors. This can exceed the nesting as
//  written, where precedence groups without parentheses. Returns false
//  after reporting the first term that is too deep.

static bool
s_check_depth (query_parser_t *parser, query_node_t *node, size_t enclosing)
{
    if (node->kind == QUERY_NODE_TERM) {
        if (enclosing <= QUERY_DEPTH_MAX)
            return true;
        s_fail (parser, node->pos, "nesting deeper than %d", QUERY_DEPTH_MAX);
        return false;
    }
    for (size_t index = 0; index < node->children; index++)
        if (!s_check_depth (parser, node->child [index], enclosing + 1))
            return false;
    return true;
}

//  --------------------------------------------------------------------------
//  Parse a query. Returns NULL on a syntax error or a broken limit, with
//  a message in error.

query_t *
query_new (const char *text, char *error, size_t error_size)
{
    assert (text);
    query_parser_t parser = { .text = text, .error = error, .error_size = error_size };
    if (error && error_size)
        *error = 0;
    if (strnlen (text, QUERY_TEXT_MAX + 1) > QUERY_TEXT_MAX) {
        s_fail (&parser, SIZE_MAX, "query is longer than %d bytes", QUERY_TEXT_MAX);
        return NULL;
    }
    long invalid = s_utf8_invalid (text);
    if (invalid >= 0) {
        s_fail (&parser, (size_t) invalid, "invalid UTF-8");
        return NULL;
    }
    query_node_t *root = s_parse_or (&parser);
    if (root) {
        s_skip_space (&parser);
        char next = text [parser.pos];
        if (next == ')')
            s_fail (&parser, parser.pos, "')' without a matching '('");
        else
        if (next)
            s_fail (&parser, parser.pos,
                    "expected 'and', 'or' or the end of the query");
        if (next || !s_check_depth (&parser, root, 0))
            s_node_destroy (&root);
    }
    if (!root)
        return NULL;
    query_t *self = (query_t *) zmalloc (sizeof (query_t));
    self->root = root;

    //  The canonical form can be longer than the text (parentheses,
    //  spaces); hold it to the same limit so that it always parses back.
    //  Its nesting was checked above.
    char *canonical = query_to_string (self);
    if (strlen (canonical) > QUERY_TEXT_MAX) {
        s_fail (&parser, SIZE_MAX,
                "query is longer than %d bytes in canonical form", QUERY_TEXT_MAX);
        query_destroy (&self);
    }
    free (canonical);
    return self;
}

//  --------------------------------------------------------------------------
//  Destroy a query; safe to call twice, nulls the caller's pointer.

void
query_destroy (query_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        query_t *self = *self_p;
        s_node_destroy (&self->root);
        free (self);
        *self_p = NULL;
    }
}

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

static int
s_piece_rank (const char *at, bool after_number)
{
    unsigned char c = (unsigned char) *at;
    if (after_number && c == '-')
        return -2;
    if (c == 0)
        return -1;
    if (s_is_digit (c))
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
        if (s_is_digit (*left) && s_is_digit (*right)) {
            while (*left == '0')
                left++;
            while (*right == '0')
                right++;
            size_t left_size = 0, right_size = 0;
            while (s_is_digit (left [left_size]))
                left_size++;
            while (s_is_digit (right [right_size]))
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
//  Canonical text

static void
s_buf_append (query_buf_t *buf, const char *data, size_t size)
{
    if (buf->size + size + 1 > buf->limit) {
        size_t limit = buf->limit? buf->limit * 2: 64;
        while (limit < buf->size + size + 1)
            limit *= 2;
        char *grown = (char *) realloc (buf->data, limit);
        assert (grown);
        buf->data = grown;
        buf->limit = limit;
    }
    memcpy (buf->data + buf->size, data, size);
    buf->size += size;
    buf->data [buf->size] = 0;
}

static void
s_buf_puts (query_buf_t *buf, const char *string)
{
    s_buf_append (buf, string, strlen (string));
}

//  A value bare when the parser would read it back the same, else quoted.

static void
s_value_print (query_buf_t *buf, const char *value)
{
    size_t size = strlen (value);
    bool bare = size > 0 && !s_is_keyword (value, size);
    for (size_t index = 0; bare && index < size; index++)
        if (!s_is_bare_char ((unsigned char) value [index]))
            bare = false;
    if (bare) {
        s_buf_append (buf, value, size);
        return;
    }
    s_buf_puts (buf, "\"");
    for (size_t index = 0; index < size; index++) {
        if (value [index] == '"' || value [index] == '\\')
            s_buf_puts (buf, "\\");
        s_buf_append (buf, value + index, 1);
    }
    s_buf_puts (buf, "\"");
}

static void
s_node_print (query_buf_t *buf, query_node_t *node)
{
    if (node->kind == QUERY_NODE_TERM) {
        s_buf_puts (buf, node->attr);
        if (node->op != QUERY_OP_TRUE) {
            s_buf_puts (buf, query_op_name (node->op));
            s_value_print (buf, node->value);
        }
    }
    else
    if (node->kind == QUERY_NODE_NOT) {
        s_buf_puts (buf, "not ");
        s_node_print (buf, node->child [0]);
    }
    else {
        s_buf_puts (buf, "(");
        for (size_t index = 0; index < node->children; index++) {
            if (index)
                s_buf_puts (buf, node->kind == QUERY_NODE_AND? " and ": " or ");
            s_node_print (buf, node->child [index]);
        }
        s_buf_puts (buf, ")");
    }
}

char *
query_to_string (query_t *self)
{
    assert (self);
    query_buf_t buf = { NULL, 0, 0 };
    s_node_print (&buf, self->root);
    return buf.data;
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

//  --------------------------------------------------------------------------
//  Selftest

//  A device for the tests: parallel arrays of names and values.
typedef struct {
    const char *name [16];          //  Attribute names
    const char *value [16];         //  Their values
    size_t size;                    //  Attributes set
} query_test_device_t;

static const char *
s_test_get (const char *name, void *arg)
{
    query_test_device_t *device = (query_test_device_t *) arg;
    for (size_t index = 0; index < device->size; index++)
        if (streq (device->name [index], name))
            return device->value [index];
    return NULL;
}

//  Parse text, which must be valid, and check its canonical form.
static void
s_test_canonical (const char *text, const char *expected)
{
    char error [256];
    query_t *query = query_new (text, error, sizeof error);
    if (!query) {
        printf ("\nquery: '%s' failed: %s\n", text, error);
        assert (false);
    }
    char *canonical = query_to_string (query);
    if (!streq (canonical, expected)) {
        printf ("\nquery: '%s' gave '%s', expected '%s'\n", text, canonical, expected);
        assert (false);
    }
    //  The canonical form reads back as itself
    query_t *again = query_new (canonical, error, sizeof error);
    assert (again);
    char *second = query_to_string (again);
    assert (streq (second, canonical));
    free (second);
    query_destroy (&again);
    free (canonical);
    query_destroy (&query);
}

//  Parse text, which must fail with exactly this message.
static void
s_test_error (const char *text, const char *expected)
{
    char error [256] = "untouched";
    query_t *query = query_new (text, error, sizeof error);
    if (query || !streq (error, expected)) {
        printf ("\nquery: '%s' gave '%s', expected '%s'\n",
                text, query? "a query": error, expected);
        assert (false);
    }
}

static bool
s_test_matches (const char *text, query_test_device_t *device)
{
    char error [256];
    query_t *query = query_new (text, error, sizeof error);
    if (!query) {
        printf ("\nquery: '%s' failed: %s\n", text, error);
        assert (false);
    }
    bool matches = query_match (query, s_test_get, device);
    query_destroy (&query);
    return matches;
}

//  The property test's own model: a small random query tree, rendered
//  to text in random but equivalent ways, and evaluated here without
//  the parser or query_compare. Ordering comparisons use each value's
//  position in s_test_pool, which is written out in ascending order by
//  hand (and checked against query_compare separately).

static const char *s_test_pool [] = {
    "", "0", "00", "1", "01.2", "1.2", "1.2.0", "1.2.1", "1.10", "2",
    "2.3.0-rc1", "2.3.0-rc2", "2.3.0", "2.3.0+b1", "2.9.1", "2.10.0", "3",
    "10", "Gateway", "acme", "acme/plant-1", "acme/plant-1/line-7",
    "acme/plant-2", "acme/plant-10", "and", "d\xc3\xbcsseldorf", "failed",
    "false", "gateway", "passed", "plant 2", "server", "true", "v2",
    "with space", "with\"quote", "x\\y"
};
#define QUERY_TEST_POOL     (sizeof s_test_pool / sizeof *s_test_pool)

static const char *s_test_attrs [] = {
    "site", "type", "fw", "path", "tag.line", "tag.maintenance", "online", "attest"
};
#define QUERY_TEST_ATTRS    (sizeof s_test_attrs / sizeof *s_test_attrs)

#define QUERY_TEST_NODES    64

typedef struct {
    int kind;                       //  0 term, 1 not, 2 and, 3 or
    size_t attr;                    //  Term: index in s_test_attrs
    query_op_t op;                  //  Term: operator
    char value [64];                //  Term: value
    size_t child [4];               //  Indexes in the tree's node array
    size_t children;                //  Children used
} query_test_node_t;

typedef struct {
    query_test_node_t node [QUERY_TEST_NODES];
    size_t size;                    //  Nodes used; node 0 is the root
} query_test_tree_t;

static uint32_t
s_test_random (uint64_t *state)
{
    //  xorshift64*, enough for test data
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t) ((*state * 2685821657736338717ULL) >> 32);
}

static size_t
s_test_pick (uint64_t *state, size_t range)
{
    return s_test_random (state) % range;
}

static size_t
s_test_rank (const char *value)
{
    for (size_t index = 0; index < QUERY_TEST_POOL; index++)
        if (streq (s_test_pool [index], value))
            return index;
    assert (false);
    return 0;
}

//  Add a random subtree of at most budget nodes; returns its index.
static size_t
s_test_generate (query_test_tree_t *tree, uint64_t *state, size_t budget)
{
    assert (budget >= 1 && tree->size + budget <= QUERY_TEST_NODES);
    size_t at = tree->size++;
    query_test_node_t *node = &tree->node [at];
    memset (node, 0, sizeof *node);
    size_t dice = s_test_pick (state, 10);
    if (budget < 3 || dice < 4) {
        node->kind = 0;
        node->attr = s_test_pick (state, QUERY_TEST_ATTRS);
        node->op = (query_op_t) s_test_pick (state, QUERY_OP_PREFIX + 1);
        const char *value = s_test_pool [s_test_pick (state, QUERY_TEST_POOL)];
        snprintf (node->value, sizeof node->value, "%s", value);
        if (node->op == QUERY_OP_PREFIX) {
            //  Cut a pool value, on a character boundary
            size_t cut = s_test_pick (state, strlen (value) + 1);
            while (cut > 0 && ((unsigned char) value [cut] & 0xc0) == 0x80)
                cut--;
            node->value [cut] = 0;
        }
    }
    else
    if (dice < 5) {
        node->kind = 1;
        size_t child = s_test_generate (tree, state, budget - 1);
        tree->node [at].child [0] = child;
        tree->node [at].children = 1;
    }
    else {
        node->kind = dice < 8? 2: 3;
        size_t children = 2 + s_test_pick (state, 3);
        if (children > budget - 1)
            children = budget - 1;
        for (size_t index = 0; index < children; index++) {
            size_t child = s_test_generate (tree, state, (budget - 1) / children);
            tree->node [at].child [index] = child;
        }
        tree->node [at].children = children;
    }
    return at;
}

static bool
s_test_evaluate (query_test_tree_t *tree, size_t at, query_test_device_t *device)
{
    query_test_node_t *node = &tree->node [at];
    if (node->kind == 0) {
        const char *actual = s_test_get (s_test_attrs [node->attr], device);
        if (!actual)
            return false;
        switch (node->op) {
            case QUERY_OP_TRUE:   return strcmp (actual, "false") != 0;
            case QUERY_OP_EQ:     return strcmp (actual, node->value) == 0;
            case QUERY_OP_NE:     return strcmp (actual, node->value) != 0;
            case QUERY_OP_LT:     return s_test_rank (actual) < s_test_rank (node->value);
            case QUERY_OP_LE:     return s_test_rank (actual) <= s_test_rank (node->value);
            case QUERY_OP_GT:     return s_test_rank (actual) > s_test_rank (node->value);
            case QUERY_OP_GE:     return s_test_rank (actual) >= s_test_rank (node->value);
            case QUERY_OP_PREFIX:
                return strncmp (actual, node->value, strlen (node->value)) == 0;
        }
        assert (false);
    }
    if (node->kind == 1)
        return !s_test_evaluate (tree, node->child [0], device);
    for (size_t index = 0; index < node->children; index++) {
        bool result = s_test_evaluate (tree, node->child [index], device);
        if (node->kind == 2 && !result)
            return false;
        if (node->kind == 3 && result)
            return true;
    }
    return node->kind == 2;
}

static void
s_test_spaces (char **out, uint64_t *state, size_t least)
{
    size_t count = least + (s_test_pick (state, 4) == 0? 1 + s_test_pick (state, 2): 0);
    for (size_t index = 0; index < count; index++)
        *(*out)++ = s_test_pick (state, 5) == 0? '\t': ' ';
}

static void
s_test_keyword (char **out, uint64_t *state, const char *word)
{
    size_t style = s_test_pick (state, 4);
    for (const char *at = word; *at; at++)
        *(*out)++ = style == 0? (char) (*at - 'a' + 'A'): *at;
}

static void
s_test_render (query_test_tree_t *tree, size_t at, int parent, uint64_t *state,
               char **out)
{
    query_test_node_t *node = &tree->node [at];
    bool needed = (parent == 1 && node->kind >= 2) || (parent == 2 && node->kind == 3);
    bool parens = needed || s_test_pick (state, 8) == 0;
    if (parens) {
        *(*out)++ = '(';
        s_test_spaces (out, state, 0);
    }
    if (node->kind == 0) {
        const char *attr = s_test_attrs [node->attr];
        memcpy (*out, attr, strlen (attr));
        *out += strlen (attr);
        if (node->op != QUERY_OP_TRUE) {
            static const char *spelling [] = { "", "=", "!=", "<", "<=", ">", ">=", "^=" };
            s_test_spaces (out, state, 0);
            memcpy (*out, spelling [node->op], strlen (spelling [node->op]));
            *out += strlen (spelling [node->op]);
            s_test_spaces (out, state, 0);
            const char *value = node->value;
            bool quote = *value == 0 || s_test_pick (state, 4) == 0
                      || strcasecmp (value, "and") == 0 || strcasecmp (value, "or") == 0
                      || strcasecmp (value, "not") == 0
                      || strpbrk (value, " \t()\"=!<>^\\");
            if (quote)
                *(*out)++ = '"';
            for (; *value; value++) {
                if (quote && (*value == '"' || *value == '\\'))
                    *(*out)++ = '\\';
                *(*out)++ = *value;
            }
            if (quote)
                *(*out)++ = '"';
        }
    }
    else
    if (node->kind == 1) {
        s_test_keyword (out, state, "not");
        s_test_spaces (out, state, 1);
        s_test_render (tree, node->child [0], 1, state, out);
    }
    else
        for (size_t index = 0; index < node->children; index++) {
            if (index) {
                s_test_spaces (out, state, 1);
                s_test_keyword (out, state, node->kind == 2? "and": "or");
                s_test_spaces (out, state, 1);
            }
            s_test_render (tree, node->child [index], node->kind, state, out);
        }
    if (parens) {
        s_test_spaces (out, state, 0);
        *(*out)++ = ')';
    }
}

void
query_test (bool verbose)
{
    printf (" * query: ");
    //  @selftest
    //  Parsing and precedence: not binds tightest, then and, then or
    s_test_canonical ("online", "online");
    s_test_canonical ("a or b and c", "(a or (b and c))");
    s_test_canonical ("a and b or c and d", "((a and b) or (c and d))");
    s_test_canonical ("not a and b", "(not a and b)");
    s_test_canonical ("not (a and b)", "not (a and b)");
    s_test_canonical ("not not online", "not not online");
    s_test_canonical ("not(online)", "not online");
    s_test_canonical ("(a or b) and c", "((a or b) and c)");
    s_test_canonical ("a and (b and c) and d", "(a and b and c and d)");
    s_test_canonical ("a or (b or c)", "(a or b or c)");
    s_test_canonical ("((a))", "a");
    s_test_canonical ("NOT a AND b Or c", "((not a and b) or c)");
    s_test_canonical ("notary and order and android", "(notary and order and android)");
    s_test_canonical (
        "site=plant-2 and type=gateway and fw<2.3.0 and tag.line=7 and not tag.maintenance",
        "(site=plant-2 and type=gateway and fw<2.3.0 and tag.line=7 and not tag.maintenance)");
    s_test_canonical ("path^=acme/plant-2/", "path^=acme/plant-2/");
    s_test_canonical ("attest=failed", "attest=failed");
    s_test_canonical ("(type=gateway or type=server) and not fw>=3",
                      "((type=gateway or type=server) and not fw>=3)");
    s_test_canonical (" fw < 2.3.0\t", "fw<2.3.0");
    s_test_canonical ("a!=1 and b<=2 and c>3 and d^=x", "(a!=1 and b<=2 and c>3 and d^=x)");
    s_test_canonical ("name = \"with spaces\"", "name=\"with spaces\"");
    s_test_canonical ("x=\"plain\"", "x=plain");
    s_test_canonical ("x=\"\"", "x=\"\"");
    s_test_canonical ("x=\"a\\\"b\\\\c\"", "x=\"a\\\"b\\\\c\"");
    s_test_canonical ("x=\"AND\"", "x=\"AND\"");
    s_test_canonical ("x=\"a=b\" or y=\"(z)\"", "(x=\"a=b\" or y=\"(z)\")");
    s_test_canonical ("site=d\xc3\xbcsseldorf", "site=d\xc3\xbcsseldorf");
    s_test_canonical ("x=-1", "x=-1");

    //  Every operator, against one device
    query_test_device_t device = {
        .name = { "site", "fw", "online", "tag.maintenance", "tag.line", "path",
                  "tag.empty", "type" },
        .value = { "plant-2", "2.3.0-rc1", "true", "false", "7", "acme/plant-2/line-7",
                   "", "gateway" },
        .size = 8
    };
    assert (s_test_matches ("online", &device));
    assert (!s_test_matches ("tag.maintenance", &device));
    assert (s_test_matches ("tag.empty", &device));
    assert (!s_test_matches ("attest", &device));
    assert (s_test_matches ("not attest", &device));
    assert (s_test_matches ("site=plant-2", &device));
    assert (!s_test_matches ("site=plant-20", &device));
    assert (!s_test_matches ("site=Plant-2", &device));
    assert (s_test_matches ("site!=plant-3", &device));
    assert (!s_test_matches ("site!=plant-2", &device));
    assert (!s_test_matches ("attest!=failed", &device));
    assert (s_test_matches ("not attest=failed", &device));
    assert (s_test_matches ("fw<2.3.0", &device));
    assert (s_test_matches ("fw<=2.3.0-rc1", &device));
    assert (!s_test_matches ("fw<2.3.0-rc1", &device));
    assert (s_test_matches ("fw>2.2.9", &device));
    assert (s_test_matches ("fw>=2.3.0-rc1", &device));
    assert (!s_test_matches ("fw>=2.3.0", &device));
    assert (!s_test_matches ("hw<9", &device));
    assert (!s_test_matches ("hw>=0", &device));
    assert (s_test_matches ("path^=acme/plant-2/", &device));
    assert (s_test_matches ("path^=\"\"", &device));
    assert (!s_test_matches ("path^=acme/plant-20", &device));
    assert (!s_test_matches ("hw^=\"\"", &device));
    assert (s_test_matches ("tag.line=7 and tag.line>=7 and tag.line<10", &device));
    assert (s_test_matches (
        "site=plant-2 and type=gateway and fw<2.3.0 and tag.line=7 and not tag.maintenance",
        &device));
    assert (s_test_matches ("(type=gateway or type=server) and not fw>=3", &device));
    assert (!s_test_matches ("(type=sensor or type=server) and not fw>=3", &device));
    assert (query_op_match (QUERY_OP_EQ, "x", "x"));
    assert (!query_op_match (QUERY_OP_NE, NULL, "x"));
    assert (!query_op_match (QUERY_OP_TRUE, NULL, NULL));
    assert (streq (query_op_name (QUERY_OP_PREFIX), "^="));

    //  Version comparison: the semantic versioning precedence example,
    //  then our own rules, then the property pool in its stated order
    const char *semver [] = {
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
        "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0",
        "1.9.0", "1.10.0", "2.0.0"
    };
    for (size_t index = 0; index + 1 < sizeof semver / sizeof *semver; index++) {
        assert (query_compare (semver [index], semver [index + 1]) < 0);
        assert (query_compare (semver [index + 1], semver [index]) > 0);
    }
    assert (query_compare ("2.10.0", "2.9.1") > 0);
    assert (query_compare ("1.2", "1.2.1") < 0);
    assert (query_compare ("1.2", "1.2.0") < 0);
    assert (query_compare ("1.2.0", "1.2.0") == 0);
    assert (query_compare ("", "") == 0);
    assert (query_compare ("1.02", "1.2") < 0);        //  Same pieces: bytes decide
    assert (query_compare ("1.2", "1.02") > 0);
    assert (query_compare ("1.02", "1.3") < 0);
    assert (query_compare ("v1.9", "v1.10") < 0);
    assert (query_compare ("plant-2", "plant-10") < 0);
    assert (query_compare ("2.3.0+build.7", "2.3.0") > 0);
    assert (query_compare ("99999999999999999999999", "100000000000000000000000") < 0);
    assert (query_compare ("000000000000000000000001", "2") < 0);
    assert (query_compare ("1.x", "1.2") > 0);          //  A number ranks as '0'
    for (size_t index = 0; index < QUERY_TEST_POOL; index++)
        for (size_t other = 0; other < QUERY_TEST_POOL; other++) {
            int rc = query_compare (s_test_pool [index], s_test_pool [other]);
            int expected = index < other? -1: index > other? 1: 0;
            if (rc != expected) {
                printf ("\nquery: compare '%s' '%s' gave %d\n",
                        s_test_pool [index], s_test_pool [other], rc);
                assert (false);
            }
        }

    //  Syntax errors name the column and what was expected
    s_test_error ("", "column 1: expected an attribute, 'not' or '('");
    s_test_error ("   ", "column 4: expected an attribute, 'not' or '('");
    s_test_error ("online and fw < )", "column 17: expected a value after '<'");
    s_test_error ("site=plant-2 and fw<", "column 21: expected a value after '<'");
    s_test_error ("fw<and", "column 4: expected a value after '<'");
    s_test_error ("a==1", "column 3: expected a value after '='");
    s_test_error ("a^=", "column 4: expected a value after '^='");
    s_test_error ("a=1 b=2", "column 5: expected 'and', 'or' or the end of the query");
    s_test_error ("a=b=c", "column 4: expected 'and', 'or' or the end of the query");
    s_test_error ("a=1)", "column 4: ')' without a matching '('");
    s_test_error ("(a=1", "column 5: expected 'and', 'or' or ')' to close the '(' at column 1");
    s_test_error ("x and (a or (b)",
                  "column 16: expected 'and', 'or' or ')' to close the '(' at column 7");
    s_test_error ("a and", "column 6: expected an attribute, 'not' or '('");
    s_test_error ("and a", "column 1: expected an attribute, 'not' or '('");
    s_test_error ("a=1 and ()", "column 10: expected an attribute, 'not' or '('");
    s_test_error ("not", "column 4: expected an attribute, 'not' or '('");
    s_test_error ("#x", "column 1: expected an attribute, 'not' or '('");
    s_test_error ("9=1", "column 1: expected an attribute, 'not' or '('");
    s_test_error ("a !x", "column 3: expected an operator: = != < <= > >= ^=");
    s_test_error ("a ^ x", "column 3: expected an operator: = != < <= > >= ^=");
    s_test_error ("a=\"abc", "column 7: expected '\"' to end the string that starts at column 3");
    s_test_error ("a=\"x\\n\"", "column 5: expected '\\\"' or '\\\\' after a backslash");
    s_test_error ("a=\"x\ty\"", "column 5: control character in a quoted value");
    s_test_error ("x=\"\xc3\xa9\" y", "column 7: expected 'and', 'or' or the end of the query");
    s_test_error ("\xc3\xa9=1", "column 1: expected an attribute, 'not' or '('");
    s_test_error ("a=\xff", "column 3: invalid UTF-8");
    s_test_error ("a=\xc3", "column 3: invalid UTF-8");
    s_test_error ("a=\xed\xa0\x80", "column 3: invalid UTF-8");       //  Surrogate
    s_test_error ("a=\xc0\xaf", "column 3: invalid UTF-8");           //  Overlong
    //  The error buffer is optional and never overrun
    assert (query_new ("a=", NULL, 0) == NULL);
    char tiny [8] = "xxxxxxx";
    assert (query_new ("a=", tiny, 1) == NULL);
    assert (tiny [0] == 0);
    assert (query_new ("a=", tiny, sizeof tiny) == NULL);
    assert (streq (tiny, "column "));

    //  Limits: length, nesting, terms
    char *text = (char *) zmalloc (QUERY_TEXT_MAX * 2 + 64);
    memset (text, 'x', QUERY_TEXT_MAX * 2);
    memcpy (text, "a=", 2);
    text [QUERY_TEXT_MAX] = 0;
    query_t *query = query_new (text, NULL, 0);
    assert (query);
    query_destroy (&query);
    text [QUERY_TEXT_MAX] = 'x';
    text [QUERY_TEXT_MAX * 2] = 0;
    s_test_error (text, "query is longer than 4096 bytes");

    //  Short enough as written, too long in canonical form, which adds
    //  a space before each 'or' here
    char *cursor = text;
    for (int index = 0; index < QUERY_TERMS_MAX; index++)
        cursor += sprintf (cursor, "%sx=\"         \"", index? "or ": "");
    assert (strlen (text) <= QUERY_TEXT_MAX);
    s_test_error (text, "query is longer than 4096 bytes in canonical form");

    cursor = text;
    for (int index = 0; index < QUERY_DEPTH_MAX; index++)
        *cursor++ = '(';
    *cursor++ = 'a';
    for (int index = 0; index < QUERY_DEPTH_MAX; index++)
        *cursor++ = ')';
    *cursor = 0;
    s_test_canonical (text, "a");
    memmove (text + 1, text, strlen (text) + 1);
    strcat (text, ")");
    s_test_error (text, "column 33: nesting deeper than 32");

    cursor = text;
    for (int index = 0; index < QUERY_DEPTH_MAX; index++)
        cursor += sprintf (cursor, "not ");
    strcpy (cursor, "a");
    query = query_new (text, NULL, 0);
    assert (query);
    query_destroy (&query);
    memmove (text + 4, text, strlen (text) + 1);
    memcpy (text, "not ", 4);
    s_test_error (text, "column 129: nesting deeper than 32");

    cursor = text;
    for (int index = 0; index < QUERY_DEPTH_MAX / 2; index++)
        cursor += sprintf (cursor, "not (");
    strcpy (cursor, "a");
    query = query_new (text, NULL, 0);
    assert (query == NULL);             //  Unclosed, but within depth
    strcpy (cursor, "(a");
    s_test_error (text, "column 81: nesting deeper than 32");

    //  Nesting as written is 22 here, but the canonical form makes each
    //  'y and' a group of its own: 33 deep at the innermost y
    char *wrapped = (char *) zmalloc (QUERY_TEXT_MAX);
    for (int round = 0; round < 2; round++) {
        //  The second round stops at 32: 10 levels of three, then 'not', 'or'
        strcpy (text, round? "not (x or z)": "z");
        for (int index = 0; index < (round? 10: 11); index++) {
            snprintf (wrapped, QUERY_TEXT_MAX, "not (x or y and %s)", text);
            strcpy (text, wrapped);
        }
        query = query_new (text, wrapped, QUERY_TEXT_MAX);
        if (round)
            assert (query);
        else
            assert (streq (wrapped, "column 171: nesting deeper than 32"));
        if (query) {
            char *canonical = query_to_string (query);
            query_t *again = query_new (canonical, NULL, 0);
            assert (again);
            query_destroy (&again);
            free (canonical);
            query_destroy (&query);
        }
    }
    free (wrapped);

    cursor = text;
    for (int index = 0; index < QUERY_TERMS_MAX; index++)
        cursor += sprintf (cursor, "%sa", index? " and ": "");
    query = query_new (text, NULL, 0);
    assert (query);
    query_destroy (&query);
    strcat (text, " or b");
    s_test_error (text, "column 1536: more than 256 terms");
    free (text);

    //  The planner's terms
    query = query_new (
        "site=plant-2 and type=gateway and fw<2.3.0 and (tag.line=7) "
        "and not tag.maintenance and path^=acme/", NULL, 0);
    assert (query);
    query_term_t terms [QUERY_TERMS_MAX];
    size_t count = query_index_terms (query, terms, QUERY_TERMS_MAX);
    assert (count == 4);
    assert (streq (terms [0].attr, "site") && terms [0].op == QUERY_OP_EQ
            && streq (terms [0].value, "plant-2"));
    assert (streq (terms [1].attr, "type") && streq (terms [1].value, "gateway"));
    assert (streq (terms [2].attr, "tag.line") && streq (terms [2].value, "7"));
    assert (streq (terms [3].attr, "path") && terms [3].op == QUERY_OP_PREFIX
            && streq (terms [3].value, "acme/"));
    assert (query_index_terms (query, terms, 1) == 4);
    assert (streq (terms [0].attr, "site"));
    assert (query_index_terms (query, NULL, 0) == 4);
    query_destroy (&query);
    const char *none [] = { "a=1 or b=2", "not a=1", "online", "fw<3", "(a=1 or b) and c!=2" };
    for (size_t index = 0; index < sizeof none / sizeof *none; index++) {
        query = query_new (none [index], NULL, 0);
        assert (query);
        assert (query_index_terms (query, terms, QUERY_TERMS_MAX) == 0);
        query_destroy (&query);
    }
    query = query_new ("type=\"edge box\"", NULL, 0);
    assert (query_index_terms (query, terms, QUERY_TERMS_MAX) == 1);
    assert (streq (terms [0].value, "edge box"));
    query_destroy (&query);

    //  Property test: random devices and random queries, query_match
    //  against the model's evaluator, with a fixed seed
    #define QUERY_TEST_DEVICES  300
    #define QUERY_TEST_QUERIES  4000
    uint64_t state = 0x5eed2026cafef00dULL;
    query_test_device_t *devices = (query_test_device_t *)
        zmalloc (QUERY_TEST_DEVICES * sizeof (query_test_device_t));
    for (size_t index = 0; index < QUERY_TEST_DEVICES; index++)
        for (size_t attr = 0; attr < QUERY_TEST_ATTRS; attr++)
            if (s_test_pick (&state, 5) != 0) {
                query_test_device_t *each = &devices [index];
                each->name [each->size] = s_test_attrs [attr];
                each->value [each->size] = s_test_pool [s_test_pick (&state, QUERY_TEST_POOL)];
                each->size++;
            }
    query_test_tree_t *tree = (query_test_tree_t *) zmalloc (sizeof (query_test_tree_t));
    char *rendered = (char *) zmalloc (QUERY_TEXT_MAX + 1);
    size_t matched = 0, with_terms = 0, checked_terms = 0;
    for (size_t round = 0; round < QUERY_TEST_QUERIES; round++) {
        tree->size = 0;
        s_test_generate (tree, &state, QUERY_TEST_NODES);
        char *out = rendered;
        s_test_spaces (&out, &state, 0);
        s_test_render (tree, 0, 0, &state, &out);
        s_test_spaces (&out, &state, 0);
        *out = 0;
        assert (strlen (rendered) < QUERY_TEXT_MAX);
        char error [256];
        query = query_new (rendered, error, sizeof error);
        if (!query) {
            printf ("\nquery: '%s' failed: %s\n", rendered, error);
            assert (false);
        }
        char *canonical = query_to_string (query);
        query_t *again = query_new (canonical, NULL, 0);
        assert (again);
        char *second = query_to_string (again);
        assert (streq (canonical, second));

        count = query_index_terms (query, terms, QUERY_TERMS_MAX);
        if (count)
            with_terms++;
        for (size_t index = 0; index < QUERY_TEST_DEVICES; index++) {
            query_test_device_t *each = &devices [index];
            bool expected = s_test_evaluate (tree, 0, each);
            bool actual = query_match (query, s_test_get, each);
            if (actual != expected || query_match (again, s_test_get, each) != expected) {
                printf ("\nquery: '%s' (%s) on device %zu: %d, expected %d\n",
                        rendered, canonical, index, actual, expected);
                assert (false);
            }
            if (!actual)
                continue;
            matched++;
            for (size_t term = 0; term < count; term++) {
                const char *value = s_test_get (terms [term].attr, each);
                assert (value);
                if (terms [term].op == QUERY_OP_EQ)
                    assert (streq (value, terms [term].value));
                else {
                    assert (terms [term].op == QUERY_OP_PREFIX);
                    assert (strncmp (value, terms [term].value,
                                     strlen (terms [term].value)) == 0);
                }
                checked_terms++;
            }
        }
        free (second);
        free (canonical);
        query_destroy (&again);
        query_destroy (&query);
        query_destroy (&query);         //  Idempotent
    }
    //  The generator must exercise both outcomes and the planner
    assert (matched > QUERY_TEST_QUERIES);
    assert (matched < QUERY_TEST_QUERIES * QUERY_TEST_DEVICES / 2);
    assert (with_terms > QUERY_TEST_QUERIES / 20);
    assert (checked_terms > 0);
    if (verbose)
        printf ("\nquery: %d queries x %d devices, %zu matches, %zu with index terms, "
                "%zu term checks\n", QUERY_TEST_QUERIES, QUERY_TEST_DEVICES,
                matched, with_terms, checked_terms);
    free (rendered);
    free (tree);
    free (devices);
    //  @end
    printf ("OK\n");
}
