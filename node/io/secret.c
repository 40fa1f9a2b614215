/*  secret - a secret from a file, standard input or the environment
    Reads are bounded (SECRET_MAX, and the caller's buffer) and every
    copy of the secret this module makes is wiped before it returns.
    A file may be a pipe (--token-file <(weftctl token create)); only a
    regular file has permissions worth checking.  */

#include <czmq.h>
#include <sodium.h>
#include <sys/stat.h>

#include "node/io/secret.h"

//  --------------------------------------------------------------------------
//  Wipe and remove the variable.

void
secret_forget_env (const char *env_name)
{
    assert (env_name);
    char *value = getenv (env_name);
    if (value) {
        //  The text lives in the process's initial environment, which
        //  /proc/PID/environ shows: overwrite it there, not only unset it
        sodium_memzero (value, strlen (value));
        unsetenv (env_name);
    }
}

//  Trim white space in place; returns the new length.
static size_t
s_trim (char *text, size_t size)
{
    while (size && isspace ((unsigned char) text [size - 1]))
        size--;
    size_t start = 0;
    while (start < size && isspace ((unsigned char) text [start]))
        start++;
    memmove (text, text + start, size - start);
    size -= start;
    text [size] = 0;
    return size;
}

//  Read up to max bytes from fd into buffer (max + 1 bytes), stopping at
//  the first newline when one_line. Returns the size, or -1 on error.
static ssize_t
s_read_fd (int fd, char *buffer, size_t max, bool one_line)
{
    size_t size = 0;
    while (size <= max) {
        ssize_t got = read (fd, buffer + size, one_line? 1: max + 1 - size);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        size += (size_t) got;
        if (one_line && buffer [size - 1] == '\n')
            break;
    }
    return (ssize_t) size;
}

//  --------------------------------------------------------------------------
//  Read the secret.

int
secret_read (const char *path, const char *env_name, char *out, size_t out_size,
             char *error, size_t error_size)
{
    assert (env_name && out && out_size > 1 && error);
    *out = 0;
    *error = 0;
    const char *env = getenv (env_name);
    bool from_env = env && *env;
    bool from_file = path && *path;
    size_t max = out_size - 1 < SECRET_MAX? out_size - 1: SECRET_MAX;
    char buffer [SECRET_MAX + 2];
    ssize_t size = -1;
    int rc = -1;
    if (from_env && from_file) {
        snprintf (error, error_size, "the secret is given twice: in a file and in %s; "
                  "give one", env_name);
        goto done;
    }
    if (!from_env && !from_file) {
        rc = 0;
        goto done;
    }
    if (from_env) {
        size = (ssize_t) strlen (env);
        if ((size_t) size > max) {
            snprintf (error, error_size, "%s is longer than %zu bytes", env_name, max);
            goto done;
        }
        memcpy (buffer, env, (size_t) size);
    }
    else
    if (streq (path, "-")) {
        size = s_read_fd (STDIN_FILENO, buffer, max, true);
        if (size < 0) {
            snprintf (error, error_size, "cannot read standard input: %s", strerror (errno));
            goto done;
        }
    }
    else {
        int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat (fd, &st)) {
            snprintf (error, error_size, "cannot read %s: %s", path, strerror (errno));
            if (fd >= 0)
                close (fd);
            goto done;
        }
        if (S_ISREG (st.st_mode) && (st.st_mode & 077)) {
            snprintf (error, error_size, "%s is open to group or others (mode 0%o): "
                      "it holds a secret; chmod 600 it", path, (unsigned) (st.st_mode & 0777));
            close (fd);
            goto done;
        }
        if (!S_ISREG (st.st_mode) && !S_ISFIFO (st.st_mode) && !S_ISCHR (st.st_mode)) {
            snprintf (error, error_size, "%s is not a file", path);
            close (fd);
            goto done;
        }
        //  A pipe's writer may not have written yet: block from here on
        fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
        size = s_read_fd (fd, buffer, max, false);
        if (size < 0)
            snprintf (error, error_size, "cannot read %s: %s", path, strerror (errno));
        close (fd);
        if (size < 0)
            goto done;
    }
    if ((size_t) size > max) {
        snprintf (error, error_size, "%s holds more than %zu bytes: not a secret of ours",
                  from_env? env_name: streq (path, "-")? "standard input": path, max);
        goto done;
    }
    size = (ssize_t) s_trim (buffer, (size_t) size);
    if (size == 0) {
        snprintf (error, error_size, "%s is empty",
                  from_env? env_name: streq (path, "-")? "standard input": path);
        goto done;
    }
    memcpy (out, buffer, (size_t) size + 1);
    rc = 1;
done:
    sodium_memzero (buffer, sizeof buffer);
    secret_forget_env (env_name);
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest

void
secret_test (bool verbose)
{
    (void) verbose;
    printf (" * secret: ");
    //  @selftest
    char dir [] = "/tmp/weft-secret-test.XXXXXX";
    assert (mkdtemp (dir));
    char *path = zsys_sprintf ("%s/token", dir);
    char out [161], error [256];
    unsetenv ("WEFT_SECRET_TEST");

    //  Nothing given
    assert (secret_read (NULL, "WEFT_SECRET_TEST", out, sizeof out, error, sizeof error) == 0);
    assert (secret_read ("", "WEFT_SECRET_TEST", out, sizeof out, error, sizeof error) == 0);

    //  A private file, trailing newline dropped
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert (fd >= 0);
    assert (write (fd, "wt1.abc\n", 8) == 8);
    close (fd);
    assert (secret_read (path, "WEFT_SECRET_TEST", out, sizeof out, error, sizeof error) == 1);
    assert (streq (out, "wt1.abc"));

    //  Open to others: refused, naming the fix
    assert (chmod (path, 0644) == 0);
    assert (secret_read (path, "WEFT_SECRET_TEST", out, sizeof out, error, sizeof error) == -1);
    assert (strstr (error, "mode 0644") && strstr (error, "chmod 600"));
    assert (*out == 0);
    assert (chmod (path, 0600) == 0);

    //  The environment: read once, wiped and removed
    setenv ("WEFT_SECRET_TEST", " wt1.env ", 1);
    char *value = getenv ("WEFT_SECRET_TEST");
    size_t length = strlen (value);
    assert (secret_read (NULL, "WEFT_SECRET_TEST", out, sizeof out, error, sizeof error) == 1);
    assert (streq (out, "wt1.env"));
    assert (getenv ("WEFT_SECRET_TEST") == NULL);
    for (size_t i = 0; i < length; i++)
        assert (value [i] == 0);        //  setenv's copy, still ours, wiped

    //  Both: refused, and the variable is gone anyway
    setenv ("WEFT_SECRET_TEST", "wt1.env", 1);
    assert (secret_read (path, "WEFT_SECRET_TEST", out, sizeof out, error, sizeof error) == -1);
    assert (strstr (error, "given twice"));
    assert (getenv ("WEFT_SECRET_TEST") == NULL);

    //  Too long, empty, missing
    char big [300];
    memset (big, 'x', sizeof big - 1);
    big [sizeof big - 1] = 0;
    setenv ("WEFT_SECRET_TEST", big, 1);
    assert (secret_read (NULL, "WEFT_SECRET_TEST", out, sizeof out, error, sizeof error) == -1);
    assert (strstr (error, "longer than 160 bytes"));
    FILE *file = fopen (path, "w");
    fputs (big, file);
    fclose (file);
    assert (secret_read (path, "WEFT_SECRET_TEST", out, sizeof out, error, sizeof error) == -1);
    assert (strstr (error, "more than 160 bytes"));
    file = fopen (path, "w");
    fputs (" \n", file);
    fclose (file);
    assert (secret_read (path, "WEFT_SECRET_TEST", out, sizeof out, error, sizeof error) == -1);
    assert (strstr (error, "is empty"));
    unlink (path);
    assert (secret_read (path, "WEFT_SECRET_TEST", out, sizeof out, error, sizeof error) == -1);
    assert (strstr (error, "cannot read"));

    //  Standard input: the first line
    int pipe_fds [2];
    assert (pipe (pipe_fds) == 0);
    int saved = dup (STDIN_FILENO);
    assert (write (pipe_fds [1], "wt1.stdin\nnext\n", 15) == 15);
    close (pipe_fds [1]);
    dup2 (pipe_fds [0], STDIN_FILENO);
    close (pipe_fds [0]);
    assert (secret_read ("-", "WEFT_SECRET_TEST", out, sizeof out, error, sizeof error) == 1);
    assert (streq (out, "wt1.stdin"));
    dup2 (saved, STDIN_FILENO);
    close (saved);

    zstr_free (&path);
    rmdir (dir);
    //  @end
    printf ("OK\n");
}
