/*  fuzz/query - libFuzzer target for the device query parser
    Any input must parse or fail cleanly within the limits. When it
    parses, the canonical form must parse back to itself and match the
    same devices, and a matching device must satisfy every planner term.
    The input also drives query_compare, which must be antisymmetric and
    zero only for identical strings. The module's sources (all but its
    selftest) are included directly so the Makefile's fuzz rule needs
    nothing beyond proto/.  */

#include "coordinator/core/query.c"
#include "coordinator/core/query_eval.c"

//  A fixed device with values that many inputs can hit.
static const char *s_names [] = {
    "a", "b", "id", "site", "type", "fw", "path", "tag.line", "online", "attest"
};
static const char *s_values [] = {
    "1", "", "dev-1", "plant-2", "gateway", "2.3.0-rc1", "acme/plant-2/line-7",
    "7", "true", "failed"
};

static const char *
s_fuzz_get (const char *name, void *arg)
{
    size_t skip = (size_t) (uintptr_t) arg;     //  Hide one attribute
    for (size_t index = 0; index < sizeof s_names / sizeof *s_names; index++)
        if (index != skip && streq (s_names [index], name))
            return s_values [index];
    return NULL;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size > QUERY_TEXT_MAX + 16)
        return 0;
    char *text = (char *) malloc (size + 1);
    memcpy (text, data, size);
    text [size] = 0;

    char error [128];
    query_t *query = query_new (text, error, sizeof error);
    if (query) {
        char *canonical = query_to_string (query);
        query_t *again = query_new (canonical, error, sizeof error);
        assert (again);
        char *second = query_to_string (again);
        assert (streq (canonical, second));
        query_term_t terms [QUERY_TERMS_MAX];
        size_t count = query_index_terms (query, terms, QUERY_TERMS_MAX);
        assert (count <= QUERY_TERMS_MAX);
        for (size_t skip = 0; skip <= sizeof s_names / sizeof *s_names; skip++) {
            void *arg = (void *) (uintptr_t) skip;
            bool matches = query_match (query, s_fuzz_get, arg);
            assert (matches == query_match (again, s_fuzz_get, arg));
            for (size_t index = 0; matches && index < count; index++)
                assert (query_op_match (terms [index].op,
                                        s_fuzz_get (terms [index].attr, arg),
                                        terms [index].value));
        }
        free (second);
        free (canonical);
        query_destroy (&again);
        query_destroy (&query);
    }
    else
        assert (strlen (error) > 0);

    //  Split the input at its first NUL, or in half, into two values
    size_t length = strlen (text);
    size_t cut = length < size? length: size / 2;
    size_t rest = length < size? length + 1: cut;
    char *left = strndup (text, cut);
    char *right = strndup ((const char *) data + rest, size - rest);
    assert (left && right);
    int forward = query_compare (left, right);
    int backward = query_compare (right, left);
    assert (forward == -backward);
    assert ((forward == 0) == streq (left, right));
    assert (query_compare (left, left) == 0);
    free (left);
    free (right);
    free (text);
    return 0;
}
