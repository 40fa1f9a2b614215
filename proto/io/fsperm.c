/*  fsperm - the directories and files that hold Weft's state are its
    owner's alone
    Checks follow symbolic links (a data directory may be a link to a
    private directory elsewhere); only the final directory is checked,
    not its parents, as ssh does with ~/.ssh.  */

#include <czmq.h>
#include <sys/stat.h>

#include "proto/io/fsperm.h"

//  Check a stat result: ours, of the right kind, nothing for others
static int
s_check (const char *path, const struct stat *st, bool dir, char *error, size_t error_size)
{
    unsigned mode = (unsigned) (st->st_mode & 07777);
    if (dir? !S_ISDIR (st->st_mode): !S_ISREG (st->st_mode)) {
        snprintf (error, error_size, "%s is not a %s", path, dir? "directory": "file");
        return -1;
    }
    if (st->st_uid != geteuid ()) {
        snprintf (error, error_size, "%s belongs to user %u, not to us (%u): it holds keys "
                  "and state, so whoever owns it could change them; chown it or choose "
                  "another", path, (unsigned) st->st_uid, (unsigned) geteuid ());
        return -1;
    }
    if (mode & 077) {
        snprintf (error, error_size, "%s has mode 0%o: group or others may use it, and it "
                  "holds keys and state; chmod %s %s", path, mode, dir? "700": "600", path);
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Create or check a directory.

int
fsperm_dir (const char *path, char *error, size_t error_size)
{
    assert (path && error);
    struct stat st;
    if (stat (path, &st) == 0)
        return s_check (path, &st, true, error, error_size);
    if (errno != ENOENT || !*path) {
        snprintf (error, error_size, "cannot use %s: %s", path, strerror (errno));
        return -1;
    }
    //  Each missing component, from the top: ours, 0700 whatever the umask
    char *copy = strdup (path);
    int rc = 0;
    for (char *slash = strchr (copy + 1, '/'); rc == 0; slash = strchr (slash + 1, '/')) {
        if (slash)
            *slash = 0;
        if (mkdir (copy, 0700) == 0) {
            if (chmod (copy, 0700))
                rc = -1;
        }
        else
        if (errno != EEXIST)
            rc = -1;
        if (rc)
            snprintf (error, error_size, "cannot create %s: %s", copy, strerror (errno));
        if (!slash)
            break;
        *slash = '/';
        while (slash [1] == '/')
            slash++;
        if (!slash [1])
            break;                  //  A trailing slash
    }
    free (copy);
    if (rc == 0 && stat (path, &st) == 0)
        rc = s_check (path, &st, true, error, error_size);
    return rc;
}

//  --------------------------------------------------------------------------
//  Check a file.

int
fsperm_file (const char *path, char *error, size_t error_size)
{
    assert (path && error);
    struct stat st;
    if (stat (path, &st))
        return errno == ENOENT? 0: -1;
    return s_check (path, &st, false, error, error_size);
}

//  --------------------------------------------------------------------------
//  Selftest

void
fsperm_test (bool verbose)
{
    (void) verbose;
    printf (" * fsperm: ");
    //  @selftest
    char top [] = "/tmp/weft-fsperm-test.XXXXXX";
    assert (mkdtemp (top));
    char error [512];
    mode_t saved = umask (022);
    //  Created with every missing parent, 0700 under umask 022
    char *deep = zsys_sprintf ("%s/a/b/c/", top);
    assert (fsperm_dir (deep, error, sizeof error) == 0);
    struct stat st;
    char *middle = zsys_sprintf ("%s/a/b", top);
    assert (stat (middle, &st) == 0 && (st.st_mode & 0777) == 0700);
    assert (stat (deep, &st) == 0 && (st.st_mode & 0777) == 0700);
    assert (fsperm_dir (deep, error, sizeof error) == 0);      //  Again: fine
    //  A wider directory is refused, naming its mode and the fix; its
    //  mode is left alone
    assert (chmod (middle, 0755) == 0);
    assert (fsperm_dir (middle, error, sizeof error) == -1);
    assert (strstr (error, "mode 0755") && strstr (error, "chmod 700"));
    assert (stat (middle, &st) == 0 && (st.st_mode & 0777) == 0755);
    assert (chmod (middle, 0710) == 0);
    assert (fsperm_dir (middle, error, sizeof error) == -1);
    //  Files: missing is fine, 0600 is, 0644 is not
    char *file = zsys_sprintf ("%s/data.mdb", deep);
    assert (fsperm_file (file, error, sizeof error) == 0);
    int fd = open (file, O_WRONLY | O_CREAT, 0644);
    assert (fd >= 0);
    close (fd);
    assert (fsperm_file (file, error, sizeof error) == -1);
    assert (strstr (error, "mode 0644") && strstr (error, "chmod 600"));
    assert (chmod (file, 0600) == 0);
    assert (fsperm_file (file, error, sizeof error) == 0);
    assert (fsperm_dir (file, error, sizeof error) == -1);
    assert (strstr (error, "is not a directory"));
    unlink (file);
    umask (saved);
    zdir_t *dir = zdir_new (top, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    zstr_free (&file);
    zstr_free (&middle);
    zstr_free (&deep);
    //  @end
    printf ("OK\n");
}
