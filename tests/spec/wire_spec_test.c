/*  wire_spec_test - docs/protocol.md's message table is the code's
    The table of every message type in docs/protocol.md section 5
    follows the comment "<!-- messages:" and is printed from the rows of
    proto/wire_table.c (wire_doc_row), so the docs cannot drift from the
    codec: this test compares them line by line, prints each row that
    differs with what the code says, and fails. With WEFT_DOCS_WRITE=1
    it writes the table from the code instead (after a change to a row).
    Run from the repository root (as tests/run.sh does), or set
    WEFT_DOCS_DIR.  */

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
    const char *dir = getenv ("WEFT_DOCS_DIR");
    char path [512];
    snprintf (path, sizeof path, "%s/protocol.md", dir && *dir? dir: "docs");
    zchunk_t *chunk = zchunk_slurp (path, 0);
    char *doc = NULL;
    if (chunk) {
        doc = (char *) zmalloc (zchunk_size (chunk) + 1);
        memcpy (doc, zchunk_data (chunk), zchunk_size (chunk));
        zchunk_destroy (&chunk);
    }
    if (!doc) {
        fprintf (stderr, "wire_spec: cannot read %s: run from the repository root or set "
                 "WEFT_DOCS_DIR\n", path);
        assert (false);
    }
    char *marker = strstr (doc, S_MARKER);
    if (!marker) {
        fprintf (stderr, "docs/protocol.md: no table marked '%s ... -->'\n", S_MARKER);
        assert (false);
    }
    //  The table: from the line after the marker to the first line that
    //  does not start with '|'
    char *start = strchr (marker, '\n');
    assert (start);
    start++;
    char *end = start;
    while (*end == '|') {
        char *next = strchr (end, '\n');
        end = next? next + 1: end + strlen (end);
    }
    char *expected = s_expected ();
    size_t found = (size_t) (end - start);
    bool same = found == strlen (expected) && memcmp (start, expected, found) == 0;
    const char *write = getenv ("WEFT_DOCS_WRITE");
    if (!same && write && strcmp (write, "1") == 0) {
        FILE *file = fopen (path, "wb");
        assert (file);
        fwrite (doc, 1, (size_t) (start - doc), file);
        fputs (expected, file);
        fputs (end, file);
        fclose (file);
        printf ("(%s: message table written) ", path);
        same = true;
    }
    if (!same) {
        //  Each line that differs, with what the code says
        char *want = expected, *got = start;
        while (*want || got < end) {
            char *want_end = strchr (want, '\n');
            char *got_end = got < end? strchr (got, '\n'): NULL;
            size_t want_size = want_end? (size_t) (want_end - want): strlen (want);
            size_t got_size = got_end && got_end < end? (size_t) (got_end - got): 0;
            if (want_size != got_size || memcmp (want, got, want_size) != 0)
                fprintf (stderr, "docs/protocol.md section 5, message table:\n"
                         "   the docs say: %.*s\n   the code says: %.*s\n",
                         (int) got_size, got_size? got: "(nothing)",
                         (int) want_size, want_size? want: "(nothing)");
            want = want_end? want_end + 1: want + want_size;
            got = got_end && got_end < end? got_end + 1: end;
        }
        fprintf (stderr, "docs/protocol.md: the message table differs from "
                 "proto/wire_table.c; WEFT_DOCS_WRITE=1 weft-selftest --test wire_spec "
                 "writes it\n");
    }
    assert (same);
    if (verbose)
        printf ("(%zu bytes of table checked) ", found);
    free (expected);
    free (doc);
    //  @end
    printf ("OK\n");
}
