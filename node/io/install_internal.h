/*  install_internal - what the install handlers (install.c and its
    install_NAME.c) share: the file handler's steps and file helpers  */

#ifndef WEFT_INSTALL_INTERNAL_H_INCLUDED
#define WEFT_INSTALL_INTERNAL_H_INCLUDED

#include "node/io/install.h"

//  Assemble the release into path (replaced whole, mode 0755), synced.
//  0, or -1 with error saying why.
int
    install_assemble (const node_action_t *action, store_t *store, chunkstore_t *chunks,
                      const char *path, char *error);

//  The file handler's step on DIR/NAME (install.h). 0 or -1 with error.
int
    install_file_step (install_t *self, const node_action_t *action, store_t *store,
                       chunkstore_t *chunks, char *error);

//  The file handler's keeping of the previous at a switch: target kept
//  as prev (a hard link), or none made if there is no target; and
//  putting it back at a rollback. 0, or -1 with errno.
int
    install_keep_previous (const char *target, const char *prev, const char *none);
int
    install_put_back (const char *target, const char *prev, const char *none);

//  fsync a directory (its entries), errors ignored
void
    install_sync_dir (const char *dir);

//  Is there anything at path (a dangling link counts)?
bool
    install_exists (const char *path);

//  The install directory, borrowed
const char *
    install_dir (install_t *self);

//  --------------------------------------------------------------------------
//  config (install_config.c): DIR/NAME as file does, and the last good
//  one (passed its health check) kept as DIR/.NAME.weft-good to put back
int
    install_config_step (install_t *self, const node_action_t *action, store_t *store,
                         chunkstore_t *chunks, char *error);

//  firmware (install_firmware.c): the image flashed to the slot file
//  DIR/NAME as file does, its revision in DIR/.NAME.weft-rev
int
    install_firmware_step (install_t *self, const node_action_t *action, store_t *store,
                           chunkstore_t *chunks, char *error);

//  --------------------------------------------------------------------------
//  script (install_script.c): the artifact is a shell script, staged as
//  DIR/.NAME.weft-new and run (/bin/sh SCRIPT install, or rollback) in
//  its own process group through the health command's runner (apply.h)

#define INSTALL_SCRIPT_TIMEOUT  300     //  --script-timeout's default, seconds

typedef struct _install_script_t install_script_t;

install_script_t *
    install_script_new (int timeout_ms, bool verbose);
void
    install_script_destroy (install_script_t **self_p);
void
    install_script_set_timeout (install_script_t *self, int timeout_ms);

//  Steps that touch files only (stage, commit), on any thread.
int
    install_script_step (install_t *self, const node_action_t *action, store_t *store,
                         chunkstore_t *chunks, char *error);

//  Does the script run for this step (activate, rollback)?
bool
    install_script_runs (const node_action_t *action);

//  Start the script for an activate or rollback step; its result comes
//  back through install_script_handle. With no poller, waits for the
//  result. Returns 1 when the result is in *ok and error already (no
//  script to run, or it could not start, or no poller), 0 when started.
int
    install_script_run (install_script_t *self, install_t *install,
                        const node_action_t *action, zpoller_t *poller, bool *ok,
                        char error [UPDATE_ERROR_MAX + 1]);

//  which is the script's: its step and result (ok, error). False if not.
bool
    install_script_handle (install_script_t *self, install_t *install, void *which,
                           zpoller_t *poller, int *step, bool *ok,
                           char error [UPDATE_ERROR_MAX + 1]);

#endif
