/*  install_config - the config handler: a signed configuration file for
    installed software, put back to the last good one when its health
    check fails
    DIR/NAME is the configuration. Stage and switch as the file handler
    does (the previous kept as DIR/.NAME.weft-prev). Commit: the new one,
    which passed its health check, is copied to the last good one,
    DIR/.NAME.weft-good (replaced whole, filewrite.h); then the previous
    is let go as file does. Rollback: the last good one is copied over
    DIR/NAME (replaced whole, so DIR/NAME is never missing nor half
    written); with none yet (the first configuration installed by Weft)
    the file handler's rollback puts the previous back, or removes
    DIR/NAME if there was none. Copies, not links: software may write
    its configuration in place, which would change a linked good one
    too. The last good one is kept, not the previous: a file changed
    outside a release between two releases is not taken for a good one.
    Every step is idempotent, as install.h asks.  */

#include <sys/stat.h>
#include "proto/io/filewrite.h"
#include "node/io/install_internal.h"

#define INSTALL_CONFIG_MAX  (64 * 1024 * 1024)  //  Largest configuration kept

//  Copy from over to, replaced whole (filewrite.h): a copy, not a link,
//  as the software may write its configuration in place
static int
s_copy_over (const char *from, const char *to, char *error)
{
    char *why = NULL;
    size_t size = 0;
    struct stat st;
    void *data = filewrite_read (from, INSTALL_CONFIG_MAX, &size, &why);
    int rc = data && stat (from, &st) == 0? 0: -1;
    if (rc == 0)
        rc = filewrite_atomic (to, data, size, st.st_mode & 07777, &why);
    if (rc)
        snprintf (error, UPDATE_ERROR_MAX + 1, "cannot copy %s to %s: %s", from, to,
                  why? why: strerror (errno));
    free (why);
    free (data);
    return rc;
}

int
install_config_step (install_t *self, const node_action_t *action, store_t *store,
                     chunkstore_t *chunks, char *error)
{
    const char *dir = install_dir (self);
    char *target = zsys_sprintf ("%s/%s", dir, action->release);
    char *good = zsys_sprintf ("%s/.%s.weft-good", dir, action->release);
    int rc = 0;
    if (action->step == UPDATE_STEP_COMMIT) {
        rc = s_copy_over (target, good, error);
        //  The previous goes even if the good one could not be kept (the
        //  file handler's commit only removes files: it cannot fail)
        char ignored [UPDATE_ERROR_MAX + 1];
        install_file_step (self, action, store, chunks, ignored);
    }
    else
    if (action->step == UPDATE_STEP_ROLLBACK && install_exists (good)) {
        rc = s_copy_over (good, target, error);
        if (rc == 0) {
            char *staged = zsys_sprintf ("%s/.%s.weft-new", dir, action->release);
            char *prev = zsys_sprintf ("%s/.%s.weft-prev", dir, action->release);
            char *none = zsys_sprintf ("%s/.%s.weft-none", dir, action->release);
            unlink (staged);
            unlink (prev);
            unlink (none);
            free (staged);
            free (prev);
            free (none);
        }
        install_sync_dir (dir);
    }
    else
        rc = install_file_step (self, action, store, chunks, error);
    free (target);
    free (good);
    return rc;
}
