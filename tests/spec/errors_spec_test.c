/*  errors_spec_test - docs/protocol.md's result codes are the code's
    The table of section 8.2 follows the comment "<!-- errors:" and is
    printed from proto_rcs (proto/proto.c), one row per code: value,
    name, text. The test fails on any row that differs.  */

#include "proto/corelib.h"
#include "proto/proto.h"
#include "tests/spec/spec_tests.h"

#define S_MARKER    "<!-- errors:"

void
errors_spec_test (bool verbose)
{
    printf (" * errors_spec: ");
    //  @selftest
    size_t count;
    const proto_rc_row_t *rows = proto_rcs (&count);
    char *table = zsys_sprintf ("| value | name | meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < count; i++) {
        char *more = zsys_sprintf ("%s| %d | %s | %s |\n", table, rows [i].rc, rows [i].name,
                                   rows [i].text);
        zstr_free (&table);
        table = more;
    }
    assert (spec_doc_table (S_MARKER, table, "section 8.2 result code table", "errors_spec",
                            verbose));
    zstr_free (&table);
    //  @end
    printf ("OK\n");
}
