/*  spec_doc - hold a table in docs/protocol.md equal to the code's
    The table follows a marker comment ("<!-- messages: ... -->") and
    runs to the first line that does not start with '|'. A table that
    differs is printed line by line with what the code says, and fails
    the test; with WEFT_DOCS_WRITE=1 the code's table is written instead
    (after a change to a row). Run from the repository root (as
    tests/run.sh does), or set WEFT_DOCS_DIR.  */

#include "proto/corelib.h"
#include "tests/spec/spec_tests.h"

bool
spec_doc_table (const char *marker_text, const char *expected, const char *what,
                const char *test, bool verbose)
{
    assert (marker_text && expected && what && test);
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
        fprintf (stderr, "%s: cannot read %s: run from the repository root or set "
                 "WEFT_DOCS_DIR\n", test, path);
        return false;
    }
    char *marker = strstr (doc, marker_text);
    if (!marker) {
        fprintf (stderr, "docs/protocol.md: no table marked '%s ... -->'\n", marker_text);
        free (doc);
        return false;
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
        printf ("(%s: %s written) ", path, what);
        same = true;
    }
    if (!same) {
        //  Each line that differs, with what the code says
        const char *want = expected;
        char *got = start;
        while (*want || got < end) {
            const char *want_end = strchr (want, '\n');
            char *got_end = got < end? strchr (got, '\n'): NULL;
            size_t want_size = want_end? (size_t) (want_end - want): strlen (want);
            size_t got_size = got_end && got_end < end? (size_t) (got_end - got): 0;
            if (want_size != got_size || memcmp (want, got, want_size) != 0)
                fprintf (stderr, "docs/protocol.md, %s:\n"
                         "   the docs say: %.*s\n   the code says: %.*s\n", what,
                         (int) got_size, got_size? got: "(nothing)",
                         (int) want_size, want_size? want: "(nothing)");
            want = want_end? want_end + 1: want + want_size;
            got = got_end && got_end < end? got_end + 1: end;
        }
        fprintf (stderr, "docs/protocol.md: the %s differs from the code; "
                 "WEFT_DOCS_WRITE=1 weft-selftest --test %s writes it\n", what, test);
    }
    if (same && verbose)
        printf ("(%zu bytes of table checked) ", found);
    free (doc);
    return same;
}
