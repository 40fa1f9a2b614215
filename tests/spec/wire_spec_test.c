/*  wire_spec_test - docs/protocol.md's message table is the code's
    The table of every message type in docs/protocol.md section 5
    follows the comment "<!-- messages:" and is printed from the rows of
    proto/wire_table.c (wire_doc_row), so the docs cannot drift from the
    codec: this test compares them line by line, prints each row that
    differs with what the code says, and fails (spec_doc_table).  */

#include "proto/corelib.h"
#include "proto/wire.h"
#include "tests/spec/spec_tests.h"

#define S_MARKER    "<!-- messages:"
#define S_HEADER    "| type | name | payload (msgpack array, wire order) | direction | meaning |\n" \
                    "|---|---|---|---|---|\n"

//  The table as the code says it should be: header and one row per type
static char *
s_expected (void)
{
    size_t count, alloc = 65536, used = 0;
    char *table = (char *) malloc (alloc);
    assert (table);
    used += (size_t) snprintf (table, alloc, "%s", S_HEADER);
    const wire_msg_t *rows = wire_msgs (&count);
    for (size_t type = 0; type < count; type++) {
        if (!rows [type].name)
            continue;
        char row [4096];
        int rc = wire_doc_row (&rows [type], row, sizeof row);
        assert (rc == 0);
        assert (used + strlen (row) + 2 < alloc);
        used += (size_t) snprintf (table + used, alloc - used, "%s\n", row);
    }
    return table;
}

void
wire_spec_test (bool verbose)
{
    printf (" * wire_spec: ");
    //  @selftest
    char *expected = s_expected ();
    assert (spec_doc_table (S_MARKER, expected, "section 5 message table", "wire_spec",
                            verbose));
    free (expected);
    //  @end
    printf ("OK\n");
}
