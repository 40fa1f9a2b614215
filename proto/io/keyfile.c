/*  keyfile - small text files of name=value lines holding identities
    The format is deliberately trivial (one "name=value" per line, '#'
    comments) so an operator can read what a file holds without tools.
    Loading is bounded: files over KEYFILE_SIZE_MAX or with more than
    KEYFILE_ENTRIES_MAX entries are refused. Values that held secrets
    are wiped when the keyfile is destroyed.  */

#include <czmq.h>
#include <sodium.h>
#include <sys/stat.h>

#include "proto/io/keyfile.h"

#define KEYFILE_SIZE_MAX    (256 * 1024)
#define KEYFILE_ENTRIES_MAX 256
#define KEYFILE_NAME_MAX    64

typedef struct {
    char *name;                     //  [a-z0-9_-]+
    char *value;                    //  One line, no '\n'
} entry_t;

struct _keyfile_t {
    entry_t entries [KEYFILE_ENTRIES_MAX];  //  In insertion order
    size_t size;                    //  Entries used
};

//  --------------------------------------------------------------------------
//  Is name a valid entry name?

static bool
s_valid_name (const char *name, size_t length)
{
    if (length == 0 || length > KEYFILE_NAME_MAX)
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = name [i];
        if (!(islower ((unsigned char) c) || isdigit ((unsigned char) c)
              || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static void
s_free_value (char *value)
{
    if (value) {
        sodium_memzero (value, strlen (value));
        free (value);
    }
}

keyfile_t *
keyfile_new (void)
{
    return (keyfile_t *) zmalloc (sizeof (keyfile_t));
}

//  --------------------------------------------------------------------------
//  Destroy, wiping every value; safe to call twice.

void
keyfile_destroy (keyfile_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        keyfile_t *self = *self_p;
        for (size_t i = 0; i < self->size; i++) {
            free (self->entries [i].name);
            s_free_value (self->entries [i].value);
        }
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Load a file.

keyfile_t *
keyfile_load (const char *path, bool private, const char **error)
{
    assert (path);
    const char *unused;
    if (!error)
        error = &unused;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *error = errno == ENOENT? "no such file": "cannot open file";
        return NULL;
    }
    struct stat st;
    if (fstat (fd, &st) || !S_ISREG (st.st_mode)) {
        close (fd);
        *error = "not a regular file";
        return NULL;
    }
    if (private && (st.st_mode & 077)) {
        close (fd);
        *error = "file holds secrets but is readable by group or others (chmod 600 it)";
        return NULL;
    }
    if (st.st_size > KEYFILE_SIZE_MAX) {
        close (fd);
        *error = "file too large";
        return NULL;
    }
    size_t size = (size_t) st.st_size;
    char *text = (char *) zmalloc (size + 1);
    size_t got = 0;
    while (got < size) {
        ssize_t n = read (fd, text + got, size - got);
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    close (fd);
    keyfile_t *self = NULL;
    if (got != size) {
        *error = "cannot read file";
        goto done;
    }
    self = keyfile_new ();
    char *line = text;
    while (line < text + size) {
        char *end = strchr (line, '\n');
        if (!end)
            end = text + size;
        *end = 0;
        if (*line && *line != '#') {
            char *equals = strchr (line, '=');
            if (!equals || !s_valid_name (line, (size_t) (equals - line))) {
                *error = "malformed line (expected name=value)";
                keyfile_destroy (&self);
                goto done;
            }
            if (self->size == KEYFILE_ENTRIES_MAX) {
                *error = "too many entries";
                keyfile_destroy (&self);
                goto done;
            }
            *equals = 0;
            keyfile_set (self, line, equals + 1);
        }
        line = end + 1;
    }
done:
    sodium_memzero (text, size);
    free (text);
    return self;
}

//  --------------------------------------------------------------------------
//  Save atomically: a crash leaves the old file or the new, never half.

int
keyfile_save (keyfile_t *self, const char *path, bool private)
{
    assert (self);
    assert (path);
    //  A fresh temporary name, made 0600 by mkstemp with O_EXCL: a file
    //  or link someone left at a guessable name is never written through
    char *temp = zsys_sprintf ("%s.tmp.XXXXXX", path);
    int fd = mkstemp (temp);
    int rc = fd < 0? -1: 0;
    if (rc == 0 && fchmod (fd, private? 0600: 0644))
        rc = -1;
    for (size_t i = 0; rc == 0 && i < self->size; i++) {
        char *line = zsys_sprintf ("%s=%s\n", self->entries [i].name,
                                   self->entries [i].value);
        size_t length = strlen (line);
        if (write (fd, line, length) != (ssize_t) length)
            rc = -1;
        s_free_value (line);
    }
    if (rc == 0 && fsync (fd))
        rc = -1;
    if (fd >= 0 && close (fd))
        rc = -1;
    if (rc == 0 && rename (temp, path))
        rc = -1;
    if (rc) {
        zsys_error ("keyfile: cannot write %s: %s", path, strerror (errno));
        if (fd >= 0)
            unlink (temp);
    }
    zstr_free (&temp);
    return rc;
}

//  --------------------------------------------------------------------------
//  Value for name, borrowed.

const char *
keyfile_get (keyfile_t *self, const char *name)
{
    assert (self);
    assert (name);
    for (size_t i = 0; i < self->size; i++)
        if (streq (self->entries [i].name, name))
            return self->entries [i].value;
    return NULL;
}

//  --------------------------------------------------------------------------
//  Set a value. A bad name or a value with a newline is our own bug.

void
keyfile_set (keyfile_t *self, const char *name, const char *value)
{
    assert (self);
    assert (name && s_valid_name (name, strlen (name)));
    assert (value && !strchr (value, '\n'));
    for (size_t i = 0; i < self->size; i++)
        if (streq (self->entries [i].name, name)) {
            s_free_value (self->entries [i].value);
            self->entries [i].value = strdup (value);
            return;
        }
    assert (self->size < KEYFILE_ENTRIES_MAX);
    self->entries [self->size].name = strdup (name);
    self->entries [self->size].value = strdup (value);
    self->size++;
}

//  --------------------------------------------------------------------------
//  Binary values as hex.

void
keyfile_set_bin (keyfile_t *self, const char *name, const void *data, size_t size)
{
    char *hex = (char *) zmalloc (2 * size + 1);
    sodium_bin2hex (hex, 2 * size + 1, (const unsigned char *) data, size);
    keyfile_set (self, name, hex);
    sodium_memzero (hex, 2 * size);
    free (hex);
}

int
keyfile_get_bin (keyfile_t *self, const char *name, void *data, size_t size)
{
    const char *hex = keyfile_get (self, name);
    if (!hex || strlen (hex) != 2 * size)
        return -1;
    size_t got = 0;
    if (sodium_hex2bin ((unsigned char *) data, size, hex, 2 * size, NULL, &got, NULL)
        || got != size)
        return -1;
    return 0;
}

uint8_t *
keyfile_get_blob (keyfile_t *self, const char *name, size_t *size_p)
{
    const char *hex = keyfile_get (self, name);
    if (!hex)
        return NULL;
    size_t length = strlen (hex);
    if (length % 2)
        return NULL;
    uint8_t *data = (uint8_t *) zmalloc (length / 2 + 1);
    size_t got = 0;
    if (sodium_hex2bin (data, length / 2, hex, length, NULL, &got, NULL)
        || got != length / 2) {
        free (data);
        return NULL;
    }
    if (size_p)
        *size_p = got;
    return data;
}

//  --------------------------------------------------------------------------
//  Selftest

void
keyfile_test (bool verbose)
{
    (void) verbose;
    printf (" * keyfile: ");
    //  @selftest
    char dir [] = "/tmp/weft-keyfile-test.XXXXXX";
    assert (mkdtemp (dir));
    char *path = zsys_sprintf ("%s/id.key", dir);

    keyfile_t *keys = keyfile_new ();
    keyfile_set (keys, "name", "gw-1");
    keyfile_set (keys, "name", "gw-2");
    uint8_t secret [4] = { 0xde, 0xad, 0xbe, 0xef };
    keyfile_set_bin (keys, "secret", secret, sizeof secret);
    assert (keyfile_save (keys, path, true) == 0);
    keyfile_destroy (&keys);
    keyfile_destroy (&keys);

    struct stat st;
    assert (stat (path, &st) == 0 && (st.st_mode & 0777) == 0600);
    const char *error = NULL;
    keys = keyfile_load (path, true, &error);
    assert (keys);
    assert (streq (keyfile_get (keys, "name"), "gw-2"));
    uint8_t back [4];
    assert (keyfile_get_bin (keys, "secret", back, sizeof back) == 0);
    assert (memcmp (back, secret, 4) == 0);
    assert (keyfile_get_bin (keys, "secret", back, 3) == -1);
    assert (keyfile_get_bin (keys, "name", back, 2) == -1);
    size_t size;
    uint8_t *blob = keyfile_get_blob (keys, "secret", &size);
    assert (blob && size == 4 && blob [3] == 0xef);
    free (blob);
    assert (keyfile_get (keys, "missing") == NULL);
    keyfile_destroy (&keys);

    //  A secret file others can read is refused
    assert (chmod (path, 0644) == 0);
    keys = keyfile_load (path, true, &error);
    assert (keys == NULL && strstr (error, "readable"));
    keys = keyfile_load (path, false, &error);
    assert (keys);
    keyfile_destroy (&keys);

    //  Malformed files are refused
    FILE *file = fopen (path, "w");
    fprintf (file, "# comment\nname=ok\nBad Name=x\n");
    fclose (file);
    keys = keyfile_load (path, false, &error);
    assert (keys == NULL && strstr (error, "malformed"));
    assert (keyfile_load ("/nonexistent/weft", false, &error) == NULL);
    assert (streq (error, "no such file"));

    unlink (path);
    zstr_free (&path);
    rmdir (dir);
    //  @end
    printf ("OK\n");
}
