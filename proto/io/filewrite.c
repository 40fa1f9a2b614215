/*  filewrite - a file replaced whole or not at all (see filewrite.h)  */

#include <czmq.h>
#include <fcntl.h>
#include "proto/io/filewrite.h"

static int
s_write (const char *path, const void *data, size_t size, mode_t mode, bool sync,
         char **error)
{
    assert (path && (data || size == 0) && error);
    *error = NULL;
    char *temp = zsys_sprintf ("%s.tmp.XXXXXX", path);
    int fd = mkstemp (temp);
    if (fd < 0) {
        *error = zsys_sprintf ("cannot create %s: %s", temp, strerror (errno));
        free (temp);
        return -1;
    }
    int rc = fchmod (fd, mode);
    size_t done = 0;
    while (rc == 0 && done < size) {
        ssize_t written = write (fd, (const char *) data + done, size - done);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            rc = -1;
        else
            done += (size_t) written;
    }
    if (rc == 0 && sync)
        rc = fsync (fd);
    if (close (fd) != 0)
        rc = -1;
    if (rc == 0)
        rc = rename (temp, path);
    if (rc) {
        *error = zsys_sprintf ("cannot write %s: %s", path, strerror (errno));
        unlink (temp);
        free (temp);
        return -1;
    }
    free (temp);
    if (!sync)
        return 0;
    //  Make the rename itself durable
    char *dir = strdup (path);
    char *slash = strrchr (dir, '/');
    if (slash && slash != dir)
        *slash = 0;
    else
        strcpy (dir, slash? "/": ".");
    int dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
        fsync (dir_fd);
        close (dir_fd);
    }
    free (dir);
    return 0;
}

int
filewrite_atomic (const char *path, const void *data, size_t size, mode_t mode,
                  char **error)
{
    return s_write (path, data, size, mode, true, error);
}

int
filewrite_batch (const char *path, const void *data, size_t size, mode_t mode,
                 char **error)
{
    return s_write (path, data, size, mode, false, error);
}

void *
filewrite_read (const char *path, size_t max, size_t *size_p, char **error)
{
    assert (path && size_p && error);
    *error = NULL;
    *size_p = 0;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *error = zsys_sprintf ("cannot read %s: %s", path, strerror (errno));
        return NULL;
    }
    size_t alloc = 4096, size = 0;
    char *data = (char *) malloc (alloc + 1);
    while (data) {
        if (size == alloc) {
            if (alloc > max)
                break;
            alloc *= 2;
            char *bigger = (char *) realloc (data, alloc + 1);
            if (!bigger)
                free (data);
            data = bigger;
            continue;
        }
        ssize_t got = read (fd, data + size, alloc - size);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            *error = zsys_sprintf ("cannot read %s: %s", path, strerror (errno));
            break;
        }
        if (got == 0) {
            close (fd);
            if (size > max) {
                free (data);
                *error = zsys_sprintf ("%s is larger than %zu bytes", path, max);
                return NULL;
            }
            data [size] = 0;
            *size_p = size;
            return data;
        }
        size += (size_t) got;
    }
    close (fd);
    if (!*error)
        *error = data? zsys_sprintf ("%s is larger than %zu bytes", path, max)
                     : zsys_sprintf ("cannot read %s: out of memory", path);
    free (data);
    return NULL;
}

void
filewrite_test (bool verbose)
{
    (void) verbose;
    printf (" * filewrite: ");
    //  @selftest
    char dir [] = "/tmp/weft-filewrite-test.XXXXXX";
    assert (mkdtemp (dir));
    char *path = zsys_sprintf ("%s/file", dir);
    char *error;
    assert (filewrite_atomic (path, "first", 5, 0600, &error) == 0 && !error);
    assert (filewrite_batch (path, "second!", 7, 0644, &error) == 0);
    size_t size;
    char *data = (char *) filewrite_read (path, 100, &size, &error);
    assert (data && size == 7 && streq (data, "second!"));
    free (data);
    struct stat st;
    assert (stat (path, &st) == 0 && (st.st_mode & 0777) == 0644);
    //  Too large, missing, and a directory that does not exist
    assert (!filewrite_read (path, 6, &size, &error) && error && strstr (error, "larger"));
    free (error);
    char *missing = zsys_sprintf ("%s/none/file", dir);
    assert (!filewrite_read (missing, 100, &size, &error) && strstr (error, "none/file"));
    free (error);
    assert (filewrite_atomic (missing, "x", 1, 0600, &error) == -1 && strstr (error, "none"));
    free (error);
    free (missing);
    //  A large file read whole
    size_t big = 100000;
    char *bytes = (char *) zmalloc (big);
    memset (bytes, 'a', big);
    assert (filewrite_atomic (path, bytes, big, 0600, &error) == 0);
    data = (char *) filewrite_read (path, big, &size, &error);
    assert (data && size == big && memcmp (data, bytes, big) == 0);
    free (data);
    free (bytes);
    //  No temporary file is left behind
    zdir_t *listing = zdir_new (dir, NULL);
    assert (zdir_count (listing) == 1);
    zdir_destroy (&listing);
    unlink (path);
    rmdir (dir);
    free (path);
    //  @end
    printf ("OK\n");
}
