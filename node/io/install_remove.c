/*  install_remove - taking installed software out of use (see .h)  */

#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <sys/stat.h>
#include "proto/corelib.h"
#include "node/io/install_internal.h"
#include "node/io/install_remove.h"

//  nftw gives its callback no argument: the sum goes through a
//  thread's own variable
static _Thread_local uint64_t s_freed;

static int
s_remove_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) ftw;
    if (flag == FTW_F || flag == FTW_SL)
        s_freed += (uint64_t) st->st_blocks * 512;
    return remove (path) && errno != ENOENT? -1: 0;
}

//  Delete a file or a tree; 0 when gone (or never there), else -1
static int
s_remove (const char *path, uint64_t *freed_p)
{
    if (!install_exists (path))
        return 0;
    s_freed = 0;
    int rc = nftw (path, s_remove_one, 8, FTW_DEPTH | FTW_PHYS);
    *freed_p += s_freed;
    return rc? -1: 0;
}

int
install_remove_step (const char *dir, const node_action_t *action, uint64_t *freed_p,
                     char error [UPDATE_ERROR_MAX + 1])
{
    assert (dir && action && freed_p && error);
    *freed_p = 0;
    *error = 0;
    if (!streq (action->handler, "file") && !streq (action->handler, "ab")) {
        snprintf (error, UPDATE_ERROR_MAX + 1, "the %s handler cannot take software out "
                  "of use", action->handler);
        return -1;
    }
    char *target = zsys_sprintf ("%s/%s", dir, action->release);
    char *off = zsys_sprintf ("%s/.%s.weft-off", dir, action->release);
    int rc = 0;
    if (action->step == UPDATE_STEP_DEACTIVATE) {
        if (install_exists (target))
            rc = rename (target, off);
        else
        if (!install_exists (off)) {
            snprintf (error, UPDATE_ERROR_MAX + 1, "%s is not there", target);
            rc = -1;
            errno = 0;
        }
    }
    else
    if (action->step == UPDATE_STEP_REACTIVATE) {
        if (install_exists (off))
            rc = rename (off, target);
        else
        if (!install_exists (target)) {
            snprintf (error, UPDATE_ERROR_MAX + 1, "%s is not there", target);
            rc = -1;
            errno = 0;
        }
    }
    else
    if (action->step == UPDATE_STEP_REMOVE) {
        const char *leftovers [] = { "weft-new", "weft-prev", "weft-none" };
        rc = s_remove (target, freed_p) || s_remove (off, freed_p)? -1: 0;
        for (size_t i = 0; rc == 0 && i < 3; i++) {
            char *path = zsys_sprintf ("%s/.%s.%s", dir, action->release, leftovers [i]);
            rc = s_remove (path, freed_p);
            free (path);
        }
    }
    else {
        snprintf (error, UPDATE_ERROR_MAX + 1, "step %d is not one of taking software out "
                  "of use", action->step);
        rc = -1;
        errno = 0;
    }
    if (rc && !*error)
        snprintf (error, UPDATE_ERROR_MAX + 1, "%s: %s", target, strerror (errno));
    install_sync_dir (dir);
    free (target);
    free (off);
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest on a real directory

static void
s_write (const char *path, size_t size)
{
    FILE *file = fopen (path, "w");
    assert (file);
    for (size_t i = 0; i < size; i++)
        fputc ((int) (i & 0xff), file);
    fclose (file);
}

void
install_remove_test (bool verbose)
{
    (void) verbose;
    printf (" * install_remove: ");
    //  @selftest
    char dir [] = "/tmp/weft-install-remove-test-XXXXXX";
    assert (mkdtemp (dir));
    node_action_t action;
    memset (&action, 0, sizeof action);
    strcpy (action.release, "plc-app");
    strcpy (action.handler, "file");
    char error [UPDATE_ERROR_MAX + 1];
    uint64_t freed;
    char *target = zsys_sprintf ("%s/plc-app", dir);
    char *off = zsys_sprintf ("%s/.plc-app.weft-off", dir);
    s_write (target, 64 * 1024);
    //  file: deactivate twice, reactivate twice (idempotent)
    action.step = UPDATE_STEP_DEACTIVATE;
    for (int i = 0; i < 2; i++) {
        assert (install_remove_step (dir, &action, &freed, error) == 0);
        assert (!install_exists (target) && install_exists (off));
    }
    action.step = UPDATE_STEP_REACTIVATE;
    for (int i = 0; i < 2; i++) {
        assert (install_remove_step (dir, &action, &freed, error) == 0);
        assert (install_exists (target) && !install_exists (off));
    }
    //  Remove: the file and the leftovers, the bytes counted
    char *prev = zsys_sprintf ("%s/.plc-app.weft-prev", dir);
    s_write (prev, 4096);
    action.step = UPDATE_STEP_REMOVE;
    assert (install_remove_step (dir, &action, &freed, error) == 0);
    assert (!install_exists (target) && !install_exists (prev) && freed >= 64 * 1024 + 4096);
    assert (install_remove_step (dir, &action, &freed, error) == 0 && freed == 0);
    //  Nothing there: (de)activation says so
    action.step = UPDATE_STEP_DEACTIVATE;
    assert (install_remove_step (dir, &action, &freed, error) == -1);
    assert (strstr (error, "is not there"));
    //  ab: the whole home moves aside and back, then goes
    strcpy (action.handler, "ab");
    char *slot = zsys_sprintf ("%s/slot-a", target);
    char *file = zsys_sprintf ("%s/plc-app", slot);
    assert (mkdir (target, 0755) == 0 && mkdir (slot, 0755) == 0);
    s_write (file, 8192);
    action.step = UPDATE_STEP_DEACTIVATE;
    assert (install_remove_step (dir, &action, &freed, error) == 0);
    assert (!install_exists (target) && install_exists (off));
    action.step = UPDATE_STEP_REMOVE;       //  Removed while deactivated
    assert (install_remove_step (dir, &action, &freed, error) == 0);
    assert (!install_exists (target) && !install_exists (off) && freed >= 8192);
    //  A handler that cannot
    strcpy (action.handler, "firmware");
    assert (install_remove_step (dir, &action, &freed, error) == -1);
    assert (strstr (error, "cannot take software out of use"));
    assert (rmdir (dir) == 0);
    free (target);
    free (off);
    free (prev);
    free (slot);
    free (file);
    //  @end
    printf ("OK\n");
}
