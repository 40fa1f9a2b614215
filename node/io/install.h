/*  install - the daemon's install handlers: carry out a step of a
    software install (node/core/update.h) on the files of the device
    Under --install-dir DIR:
      file  DIR/NAME is the artifact. stage: assembled from its chunks
            into DIR/.NAME.weft-new, synced; activate: the previous kept
            as DIR/.NAME.weft-prev (a hard link, so DIR/NAME is never
            missing; DIR/.NAME.weft-none if there was none), then the new
            renamed over it and the directory synced; commit: the
            previous removed; rollback: the previous renamed back.
      ab    DIR/NAME/slot-a/NAME and slot-b/NAME, and DIR/NAME/boot, the
            boot-selection record ("active=a\ntrying=b\n"). stage: into
            the slot not active; activate: boot record names it as
            trying, and the node restarts (the "reboot": weft-node
            exits with status 3 for its service manager to start it
            again); after the restart the health check runs on the slot
            tried; commit: it becomes the active slot; rollback: trying
            cleared, and the node restarts into the old slot.
    Every step is idempotent: after a crash the update module asks for
    the step again and it completes, the device on the old version or
    the new one. A stage (it reads every chunk and writes the image) runs
    in a thread of its own when the driver has a poller; the other
    steps are a few file operations, on the event loop.  */

#ifndef WEFT_INSTALL_H_INCLUDED
#define WEFT_INSTALL_H_INCLUDED

#include <czmq.h>
#include "node/core/node.h"
#include "proto/io/keyfile.h"

typedef struct _install_t install_t;

//  Handlers as weft-node's options ask: --install-dir (default
//  DATA-DIR/install), --health-command, --health-timeout,
//  --health-checkin. NULL (logged) if the directory cannot be made.
install_t *
    install_from_options (keyfile_t *options, bool verbose);

//  The release root pinned at DATA-DIR/release-root (docs/updates.md),
//  or NULL if there is none (or it cannot be read: logged).
uint8_t *
    install_release_root (const char *data_dir, size_t *size_p);

//  Handlers installing under dir (created 0755 if missing), with a
//  health command killed after timeout_ms; with none, the health check
//  is that the node checks in (its report of the new version ACKed by
//  the coordinator) within checkin_ms, or, if 0, that it runs again.
//  NULL (logged) if dir cannot be made.
install_t *
    install_new (const char *dir, const char *health_command, int timeout_ms,
                 uint64_t checkin_ms, bool verbose);
void
    install_destroy (install_t **self_p);

//  Carry out an INSTALL action's step other than the health check.
//  *reboot is set when the node must restart to run the new version
//  (ab activate). 0, or -1 with error saying why.
int
    install_step (install_t *self, const node_action_t *action, store_t *store,
                  chunkstore_t *chunks, bool *reboot, char error [UPDATE_ERROR_MAX + 1]);

//  The daemon's driver: carry out an INSTALL action for node, and give
//  the result back (node_installed) at once, or when the stage's thread
//  or the health command ends (install_handle). Returns true when the
//  node must restart now to run the new version (ab): the driver stops
//  taking INSTALL actions and exits; the restart continues the install.
bool
    install_action (install_t *self, node_t *node, store_t *store,
                    const node_action_t *action, uint64_t now_ms);

//  A check-in awaited: healthy once the node's report is ACKed, failed
//  at its deadline. Call at least every second.
void
    install_tick (install_t *self, node_t *node, uint64_t now_ms);

//  Watch the handlers' sockets (a stage's thread, the health command)
//  on the driver's poller; they come back through install_handle.
void
    install_set_poller (install_t *self, zpoller_t *poller);

//  which (from the poller) is ours: a stage or the health command
//  ended, its result given to node. False if which is not ours.
bool
    install_handle (install_t *self, node_t *node, void *which, uint64_t now_ms);

//  Where the version the device runs of release name is (for the
//  health check): DIR/NAME, the slot booted, or a script's staged copy
//  (it becomes DIR/NAME at the commit). Caller frees.
char *
    install_path (install_t *self, const char *name, const char *handler);

void
    install_test (bool verbose);

#endif
