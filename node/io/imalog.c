/*  imalog - read the node's IMA measurement list  */

#include <czmq.h>
#include <errno.h>
#include "node/io/imalog.h"
#include "proto/proto.h"
#include "proto/attest_ima.h"

//  One pass: entries from number from on into list. Returns the number
//  of entries in the file (counting stops once list is full, or at a
//  line longer than any entry can be), PROTO_ERR_IO on a read error, or
//  PROTO_ERR_MISMATCH if the entries before from do not replay to pcr10.
static int64_t
s_pass (FILE *file, uint64_t from, const uint8_t *pcr10, size_t max, zchunk_t *list,
        bool *full_p)
{
    char line [ATTEST_IMA_LINE_MAX + 2];
    uint8_t pcr [32] = { 0 };
    uint64_t number = 0;
    bool checked = !pcr10;
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
        if (line [length - 1] != '\n')
            break;                  //  Being written: not an entry yet
        if (number < from) {
            if (!checked && attest_ima_extend_line (line, length - 1, pcr))
                return PROTO_ERR_MISMATCH;
            number++;
            continue;
        }
        if (!checked) {
            checked = true;
            if (memcmp (pcr, pcr10, 32) != 0)
                return PROTO_ERR_MISMATCH;
        }
        number++;
        if (zchunk_size (list) + length > max)
            *full_p = true;
        else
            zchunk_extend (list, line, length);
    }
    if (ferror (file))
        return PROTO_ERR_IO;
    if (!checked && number == from && memcmp (pcr, pcr10, 32) != 0)
        return PROTO_ERR_MISMATCH;
    return (int64_t) number;
}

int
imalog_read (const char *path, uint64_t from, const uint8_t pcr10 [32], size_t max,
             zchunk_t **list_p, uint64_t *first_p, char *error, size_t error_size)
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
    int64_t entries = from? s_pass (file, from, pcr10, max, list, &full): PROTO_ERR_MISMATCH;
    if (entries == PROTO_ERR_MISMATCH || (entries >= 0 && !full && (uint64_t) entries < from)) {
        //  Not the list the verifier knows (a reboot started another),
        //  or shorter than what it verified: all of it, from entry 0
        *first_p = 0;
        rewind (file);
        zchunk_destroy (&list);
        list = zchunk_new (NULL, 0);
        entries = s_pass (file, 0, NULL, max, list, &full);
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
    assert (imalog_read (path, 0, NULL, 4096, &list, &first, error, sizeof error) == 0);
    assert (first == 0 && zchunk_size (list) == strlen (text) - strlen ("10 dd ima-ng sha256:33 /partial"));
    zchunk_destroy (&list);
    //  From 2: only /bin/sh
    assert (imalog_read (path, 2, NULL, 4096, &list, &first, error, sizeof error) == 0);
    assert (first == 2 && zchunk_size (list) == strlen ("10 cc ima-ng sha256:22 /bin/sh\n")
            && memcmp (zchunk_data (list), "10 cc", 5) == 0);
    zchunk_destroy (&list);
    //  From 3 (all verified, only a partial line): empty, still from 3
    assert (imalog_read (path, 3, NULL, 4096, &list, &first, error, sizeof error) == 0);
    assert (first == 3 && zchunk_size (list) == 0);
    zchunk_destroy (&list);
    //  From 10 (more than the list holds: rebooted): from 0
    assert (imalog_read (path, 10, NULL, 4096, &list, &first, error, sizeof error) == 0);
    assert (first == 0 && memcmp (zchunk_data (list), "10 aa", 5) == 0);
    zchunk_destroy (&list);
    //  At most max bytes, whole lines
    assert (imalog_read (path, 0, NULL, 80, &list, &first, error, sizeof error) == 0);
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
    assert (imalog_read (path, 0, NULL, 100000, &list, &first, error, sizeof error) == 0);
    assert (zchunk_size (list) == strlen ("10 aa ima-ng sha256:00 boot_aggregate\n"));
    zchunk_destroy (&list);
    //  Real entries: read from #2 only if the first two replay to the
    //  verifier's PCR 10, else (another list: a reboot) from #0
    file = fopen (path, "w");
    assert (file);
    uint8_t pcr10 [32] = { 0 }, other [32] = { 0 }, hash [32];
    char entry [ATTEST_IMA_LINE_MAX + 1];
    const char *paths [] = { "boot_aggregate", "/sbin/init", "/bin/sh" };
    for (int i = 0; i < 3; i++) {
        memset (hash, i + 1, sizeof hash);
        assert (attest_ima_line (entry, sizeof entry, hash, paths [i], NULL) > 0);
        fputs (entry, file);
        if (i < 2)
            assert (attest_ima_extend_line (entry, strlen (entry) - 1, pcr10) == 0);
    }
    fclose (file);
    memset (other, 0x55, sizeof other);
    assert (imalog_read (path, 2, pcr10, 100000, &list, &first, error, sizeof error) == 0);
    assert (first == 2 && memcmp (zchunk_data (list) + zchunk_size (list) - 8, "/bin/sh\n", 8) == 0
            && memchr (zchunk_data (list), '\n', zchunk_size (list)) ==
               zchunk_data (list) + zchunk_size (list) - 1);
    zchunk_destroy (&list);
    assert (imalog_read (path, 2, other, 100000, &list, &first, error, sizeof error) == 0);
    assert (first == 0 && memcmp (zchunk_data (list), "10 ", 3) == 0
            && strstr ((char *) zchunk_data (list), "boot_aggregate"));
    zchunk_destroy (&list);
    //  Nothing new: empty from #3 if the three replay, else all from #0
    uint8_t pcr3 [32];
    memcpy (pcr3, pcr10, 32);
    memset (hash, 3, sizeof hash);
    assert (attest_ima_line (entry, sizeof entry, hash, paths [2], NULL) > 0);
    assert (attest_ima_extend_line (entry, strlen (entry) - 1, pcr3) == 0);
    assert (imalog_read (path, 3, pcr3, 100000, &list, &first, error, sizeof error) == 0);
    assert (first == 3 && zchunk_size (list) == 0);
    zchunk_destroy (&list);
    assert (imalog_read (path, 3, pcr10, 100000, &list, &first, error, sizeof error) == 0);
    assert (first == 0 && zchunk_size (list) > 0);
    zchunk_destroy (&list);
    unlink (path);
    //  No file: an error naming it
    assert (imalog_read (path, 0, NULL, 4096, &list, &first, error, sizeof error) == -1);
    assert (strstr (error, path) && !list);
    //  @end
    printf ("OK\n");
}
