/*  install_remove - the handlers' steps that take installed software out
    of use (node/core/update.h: remove, deactivate, reactivate), for the
    file and ab handlers, under the install directory DIR:
      deactivate  DIR/NAME (the file, or the ab home with its slots and
                  boot record) renamed to DIR/.NAME.weft-off: nothing
                  runs or reads it at its path, and its bytes stay
      reactivate  renamed back
      remove      DIR/NAME, DIR/.NAME.weft-off and the file handler's
                  leftovers (.weft-new, .weft-prev, .weft-none) deleted;
                  the bytes freed are logged
    Each is idempotent (a rename already done is found done), and the
    directory is synced after it.  */

#ifndef WEFT_INSTALL_REMOVE_H_INCLUDED
#define WEFT_INSTALL_REMOVE_H_INCLUDED

#include "node/core/node.h"

//  Carry out action's step (UPDATE_STEP_REMOVE .. REACTIVATE) under dir.
//  0, or -1 with error saying why. *freed_p: bytes a remove deleted.
int
    install_remove_step (const char *dir, const node_action_t *action, uint64_t *freed_p,
                         char error [UPDATE_ERROR_MAX + 1]);

void
    install_remove_test (bool verbose);

#endif
