/*  install_firmware - the firmware handler: an image flashed to a slot,
    its revision recorded beside it
    The slot is the file DIR/NAME: staged, switched, committed and put
    back as the file handler does (install.h), which is the flashing in
    tests and on devices whose firmware is a file the boot loader reads.
    The revision flashed is the release's version, in DIR/.NAME.weft-rev
    ("2.3.0\n"); the switch keeps the one before as
    DIR/.NAME.weft-rev-prev (DIR/.NAME.weft-rev-none if there was none)
    and the rollback puts it back. The node reports the revision as its
    fw (node/core/update.c: reported weft.fw once committed), so the
    registry's fw follows it. Every step is idempotent.  */

#include "proto/io/filewrite.h"
#include "node/io/install_internal.h"

//  Is the revision in path version?
static bool
s_revision_is (const char *path, const char *version)
{
    char *why = NULL;
    size_t size = 0;
    char *text = (char *) filewrite_read (path, MANIFEST_VERSION_MAX + 2, &size, &why);
    free (why);
    bool same = text && size == strlen (version) + 1 && memcmp (text, version, size - 1) == 0
             && text [size - 1] == '\n';
    free (text);
    return same;
}

//  The switch of the revision: the one before kept, the new one written
static int
s_revision_switch (const char *rev, const char *prev, const char *none, const char *version,
                   char *error)
{
    if (s_revision_is (rev, version))
        return 0;                   //  Switched before a restart
    int rc = install_keep_previous (rev, prev, none);
    if (rc) {
        snprintf (error, UPDATE_ERROR_MAX + 1, "cannot keep the revision %s: %s", rev,
                  strerror (errno));
        return -1;
    }
    char *text = zsys_sprintf ("%s\n", version);
    char *why = NULL;
    rc = filewrite_atomic (rev, text, strlen (text), 0644, &why);
    if (rc)
        snprintf (error, UPDATE_ERROR_MAX + 1, "%s", why);
    free (why);
    free (text);
    return rc;
}

int
install_firmware_step (install_t *self, const node_action_t *action, store_t *store,
                       chunkstore_t *chunks, char *error)
{
    const char *dir = install_dir (self);
    char *rev = zsys_sprintf ("%s/.%s.weft-rev", dir, action->release);
    char *prev = zsys_sprintf ("%s/.%s.weft-rev-prev", dir, action->release);
    char *none = zsys_sprintf ("%s/.%s.weft-rev-none", dir, action->release);
    int rc = install_file_step (self, action, store, chunks, error);
    if (action->step == UPDATE_STEP_ACTIVATE && rc == 0)
        rc = s_revision_switch (rev, prev, none, action->release_version, error);
    else
    if (action->step == UPDATE_STEP_COMMIT) {
        unlink (prev);
        unlink (none);
    }
    else
    if (action->step == UPDATE_STEP_ROLLBACK) {
        //  The image is back (or the rollback said why not): its revision too
        if (install_put_back (rev, prev, none)) {
            if (rc == 0)
                snprintf (error, UPDATE_ERROR_MAX + 1, "cannot put back the revision %s: %s",
                          rev, strerror (errno));
            rc = -1;
        }
    }
    install_sync_dir (dir);
    free (rev);
    free (prev);
    free (none);
    return rc;
}
