/*  query - the device query language: parse and print
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
    and guarantees that a canonical form parses back. Matching, the
    version order and the planner's terms are in query_eval.c, the
    selftest in query_test.c. Only inline CZMQ helpers are used (zmalloc,
    streq), so the fuzz target can include query.c and query_eval.c
    without linking the library. The grammar is in docs/query.md.  */

#include "proto/corelib.h"
#include <stdarg.h>

#include "coordinator/core/query_internal.h"

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
s_is_name_start (int c)
{
    return s_is_alpha (c) || c == '_';
}

static bool
s_is_name_char (int c)
{
    return s_is_alpha (c) || query_is_digit (c) || c == '_' || c == '-' || c == '.';
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
