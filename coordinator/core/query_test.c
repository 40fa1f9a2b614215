/*  query_test - selftest of the query language
    Fixed cases (the examples in docs/query.md, syntax errors, limits,
    the version order, the planner's terms), then random trees checked
    against a direct evaluation. Uses only the public API in query.h.  */

#include "proto/corelib.h"

#include "coordinator/core/query.h"

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
