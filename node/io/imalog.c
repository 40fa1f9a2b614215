/*  imalog - read the node's IMA measurement list  */

#include <czmq.h>
#include <errno.h>
#include "node/io/imalog.h"
#include "coordinator/core/attest_ima.h"

//  One pass: entries from number from on into list; returns the number
//  of entries in the file (counting stops once list is full, or at a
//  line longer than any entry can be) or -1
static int64_t
s_pass (FILE *file, uint64_t from, size_t max, zchunk_t *list, bool *full_p)
{
    char line [ATTEST_IMA_LINE_MAX + 2];
    uint64_t number = 0;
    *full_p = false;
    while (!*full_p && fgets (line, sizeof line, file)) {
        size_t length = strlen (line);
        if (length == sizeof line - 1 && line [length - 1] != '\n') {
            //  The verifier refuses it anyway; what comes after would
            //  not replay without it
            zsys_warning ("attest: IMA entry #%" PRIu64 " is longer than %d bytes; "
                          "sending the entries before it", number, ATTEST_IMA_LINE_MAX);
            break;
        }
        if (number++ < from)
            continue;
        if (line [length - 1] != '\n')
            break;                  //  Being written: not an entry yet
        if (zchunk_size (list) + length > max)
            *full_p = true;
        else
            zchunk_extend (list, line, length);
    }
    return ferror (file)? -1: (int64_t) number;
}

int
imalog_read (const char *path, uint64_t from, size_t max, zchunk_t **list_p,
             uint64_t *first_p, char *error, size_t error_size)
{
    assert (path && list_p && first_p && error);
    *list_p = NULL;
    *first_p = from;
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (error, error_size, "cannot read the IMA list %s: %s", path, strerror (errno));
        return -1;
    }
    zchunk_t *list = zchunk_new (NULL, 0);
    bool full = false;
    int64_t entries = s_pass (file, from, max, list, &full);
    if (entries >= 0 && !full && (uint64_t) entries < from) {
        //  Fewer entries than verified: a new list since a reboot
        *first_p = 0;
        rewind (file);
        entries = s_pass (file, 0, max, list, &full);
    }
    fclose (file);
    if (entries < 0) {
        snprintf (error, error_size, "cannot read the IMA list %s", path);
        zchunk_destroy (&list);
        return -1;
    }
    if (full)
        zsys_warning ("attest: IMA entries from #%" PRIu64 " exceed %zu bytes; sending "
                      "what fits", *first_p, max);
    *list_p = list;
    return 0;
}

void
imalog_test (bool verbose)
{
    printf (" * imalog: ");
    (void) verbose;
    //  @selftest
    char path [] = "/tmp/weft-imalog-XXXXXX";
    int fd = mkstemp (path);
    assert (fd >= 0);
    const char *text = "10 aa ima-ng sha256:00 boot_aggregate\n"
                       "10 bb ima-ng sha256:11 /sbin/init\n"
                       "10 cc ima-ng sha256:22 /bin/sh\n"
                       "10 dd ima-ng sha256:33 /partial";        //  No newline yet
    assert (write (fd, text, strlen (text)) == (ssize_t) strlen (text));
    close (fd);
    zchunk_t *list = NULL;
    uint64_t first = 99;
    char error [256];
    //  From 0: the three whole lines
    assert (imalog_read (path, 0, 4096, &list, &first, error, sizeof error) == 0);
    assert (first == 0 && zchunk_size (list) == strlen (text) - strlen ("10 dd ima-ng sha256:33 /partial"));
    zchunk_destroy (&list);
    //  From 2: only /bin/sh
    assert (imalog_read (path, 2, 4096, &list, &first, error, sizeof error) == 0);
    assert (first == 2 && zchunk_size (list) == strlen ("10 cc ima-ng sha256:22 /bin/sh\n")
            && memcmp (zchunk_data (list), "10 cc", 5) == 0);
    zchunk_destroy (&list);
    //  From 3 (all verified, only a partial line): empty, still from 3
    assert (imalog_read (path, 3, 4096, &list, &first, error, sizeof error) == 0);
    assert (first == 3 && zchunk_size (list) == 0);
    zchunk_destroy (&list);
    //  From 10 (more than the list holds: rebooted): from 0
    assert (imalog_read (path, 10, 4096, &list, &first, error, sizeof error) == 0);
    assert (first == 0 && memcmp (zchunk_data (list), "10 aa", 5) == 0);
    zchunk_destroy (&list);
    //  At most max bytes, whole lines
    assert (imalog_read (path, 0, 80, &list, &first, error, sizeof error) == 0);
    assert (zchunk_size (list) == strlen ("10 aa ima-ng sha256:00 boot_aggregate\n"
                                          "10 bb ima-ng sha256:11 /sbin/init\n"));
    zchunk_destroy (&list);
    //  A line longer than any entry: the entries before it, no more
    FILE *file = fopen (path, "w");
    assert (file);
    fputs ("10 aa ima-ng sha256:00 boot_aggregate\n", file);
    for (int i = 0; i < 10000; i++)
        fputc ('x', file);
    fputs ("\n10 bb ima-ng sha256:11 /sbin/init\n", file);
    fclose (file);
    assert (imalog_read (path, 0, 100000, &list, &first, error, sizeof error) == 0);
    assert (zchunk_size (list) == strlen ("10 aa ima-ng sha256:00 boot_aggregate\n"));
    zchunk_destroy (&list);
    unlink (path);
    //  No file: an error naming it
    assert (imalog_read (path, 0, 4096, &list, &first, error, sizeof error) == -1);
    assert (strstr (error, path) && !list);
    //  @end
    printf ("OK\n");
}
