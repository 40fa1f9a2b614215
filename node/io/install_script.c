/*  install_script - the script handler: a shell script signed with the
    release, run on the device with a timeout
    The artifact is one script. Stage: assembled into DIR/.NAME.weft-new
    (every chunk checked against the signed manifest, so the bytes run
    are the bytes signed). Activate: /bin/sh DIR/.NAME.weft-new install.
    Rollback (a failure of the script or of the health check after it):
    /bin/sh DIR/.NAME.weft-new rollback, the script's own undo (one with
    nothing to undo exits 0), then the staged script removed. Commit: it
    becomes DIR/NAME, the record of what ran. Each run gets the release
    as JSON on stdin (name, version, previous, step) and runs through
    the health command's runner (apply.h): /bin/sh in a process group of
    its own, the whole group killed after --script-timeout, stdout and
    stderr read up to a bound, exit status 0 is success, the last line
    of stderr the reason of a failure. After a crash the step is asked
    again and the script runs again: a script must be idempotent.  */

#include <jansson.h>
#include "proto/jsontext.h"
#include "node/io/apply.h"
#include "node/io/install_internal.h"

struct _install_script_t {
    int timeout_ms;                 //  Longest run
    bool verbose;
    apply_t *runner;                //  The script running, or NULL
    int step;                       //  Its step
    char *staged;                   //  The script it runs, or NULL
};

install_script_t *
install_script_new (int timeout_ms, bool verbose)
{
    install_script_t *self = (install_script_t *) zmalloc (sizeof (install_script_t));
    self->timeout_ms = timeout_ms;
    self->verbose = verbose;
    return self;
}

void
install_script_destroy (install_script_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        install_script_t *self = *self_p;
        apply_destroy (&self->runner);  //  A script running is killed
        free (self->staged);
        free (self);
        *self_p = NULL;
    }
}

void
install_script_set_timeout (install_script_t *self, int timeout_ms)
{
    assert (self);
    self->timeout_ms = timeout_ms;
}

static char *
s_staged (install_t *install, const node_action_t *action)
{
    return zsys_sprintf ("%s/.%s.weft-new", install_dir (install), action->release);
}

int
install_script_step (install_t *self, const node_action_t *action, store_t *store,
                     chunkstore_t *chunks, char *error)
{
    char *staged = s_staged (self, action);
    int rc = 0;
    if (action->step == UPDATE_STEP_STAGE)
        rc = install_assemble (action, store, chunks, staged, error);
    else
    if (action->step == UPDATE_STEP_COMMIT && install_exists (staged)) {
        char *target = zsys_sprintf ("%s/%s", install_dir (self), action->release);
        rc = rename (staged, target);
        if (rc)
            snprintf (error, UPDATE_ERROR_MAX + 1, "cannot keep the script as %s: %s", target,
                      strerror (errno));
        install_sync_dir (install_dir (self));
        free (target);
    }
    free (staged);
    return rc;
}

bool
install_script_runs (const node_action_t *action)
{
    return streq (action->handler, "script")
        && (action->step == UPDATE_STEP_ACTIVATE || action->step == UPDATE_STEP_ROLLBACK);
}

//  path in single quotes for /bin/sh -c
static char *
s_quoted (const char *path)
{
    char *text = (char *) zmalloc (strlen (path) * 4 + 3);
    char *at = text;
    *at++ = '\'';
    for (const char *c = path; *c; c++)
        if (*c == '\'') {
            memcpy (at, "'\\''", 4);
            at += 4;
        }
        else
            *at++ = *c;
    *at = '\'';
    return text;
}

//  The run's result; after a rollback's run the staged script goes
static void
s_result (install_script_t *self, install_t *install, zpoller_t *poller, bool *ok,
          char *error)
{
    apply_result_t result;
    *ok = false;
    if (apply_result (self->runner, &result) == 0) {
        *ok = result.ok;
        //  The runner says "command ...": here the command is the script
        const char *why = result.error? result.error: "";
        if (strncmp (why, "command ", 8) == 0)
            why += 8;
        if (*why)
            snprintf (error, UPDATE_ERROR_MAX + 1, "script %s", why);
        apply_result_clear (&result);
    }
    else
        snprintf (error, UPDATE_ERROR_MAX + 1, "the script gave no result");
    if (self->verbose || !*ok)
        zsys_info ("install: script %s %s: %s", self->staged,
                   self->step == UPDATE_STEP_ACTIVATE? "install": "rollback",
                   *ok? "done": error);
    if (poller)
        zpoller_remove (poller, apply_sock (self->runner));
    apply_destroy (&self->runner);
    if (self->step == UPDATE_STEP_ROLLBACK && unlink (self->staged) == 0)
        install_sync_dir (install_dir (install));
    zstr_free (&self->staged);
}

int
install_script_run (install_script_t *self, install_t *install, const node_action_t *action,
                    zpoller_t *poller, bool *ok, char error [UPDATE_ERROR_MAX + 1])
{
    assert (self && install && action && ok && error);
    *ok = false;
    *error = 0;
    bool activate = action->step == UPDATE_STEP_ACTIVATE;
    char *staged = s_staged (install, action);
    if (!install_exists (staged)) {
        //  Activate: nothing staged; rollback: undone and removed before
        *ok = !activate;
        if (activate)
            snprintf (error, UPDATE_ERROR_MAX + 1, "nothing staged for %s", action->release);
        free (staged);
        return 1;
    }
    if (self->runner) {
        snprintf (error, UPDATE_ERROR_MAX + 1, "a script is running already");
        free (staged);
        return 1;
    }
    char *quoted = s_quoted (staged);
    char *command = zsys_sprintf ("exec /bin/sh %s %s", quoted, activate? "install": "rollback");
    json_t *json = json_pack ("{s:s, s:s, s:s, s:s}", "name", action->release, "version",
                              action->release_version, "previous", action->previous, "step",
                              activate? "install": "rollback");
    char *doc = json? jsontext_dumps (json, JSON_COMPACT): NULL;
    json_decref (json);
    self->runner = apply_new (NULL, command, self->timeout_ms, self->verbose);
    self->step = action->step;
    free (self->staged);
    self->staged = strdup (staged);
    int rc = self->runner && doc? apply_request (self->runner, (uint64_t) action->step, doc,
                                                 strlen (doc)): -1;
    free (doc);
    free (command);
    free (quoted);
    free (staged);
    if (rc) {
        apply_destroy (&self->runner);
        snprintf (error, UPDATE_ERROR_MAX + 1, "cannot start the script");
        return 1;
    }
    if (poller) {
        zpoller_add (poller, apply_sock (self->runner));
        return 0;
    }
    //  No event loop to come back on: wait here
    zpoller_t *waiter = zpoller_new (apply_sock (self->runner), NULL);
    zpoller_wait (waiter, -1);
    zpoller_destroy (&waiter);
    s_result (self, install, NULL, ok, error);
    return 1;
}

bool
install_script_handle (install_script_t *self, install_t *install, void *which,
                       zpoller_t *poller, int *step, bool *ok, char error [UPDATE_ERROR_MAX + 1])
{
    assert (self && install && step && ok && error);
    if (!self->runner || which != (void *) apply_sock (self->runner))
        return false;
    *step = self->step;
    s_result (self, install, poller, ok, error);
    return true;
}
