/*  install - the daemon's install handlers (see install.h)  */

#include <fcntl.h>
#include <sys/stat.h>
#include <jansson.h>
#include "proto/jsontext.h"
#include "proto/io/filewrite.h"
#include "proto/io/options.h"
#include "node/io/apply.h"
#include "node/io/install_internal.h"
#include "node/io/install_remove.h"

struct _install_t {
    char *dir;
    apply_t *health;                //  Runs the health command, or NULL
    uint64_t health_runs;           //  Its runs, to match results
    uint64_t checkin_ms;            //  No command: check in within this, 0 = off
    uint64_t checkin_deadline;      //  A check-in awaited until then, 0 if none
    zactor_t *stager;               //  Stage under way in its own thread, or NULL
    zpoller_t *poller;              //  The driver's, to watch the stager on
    install_script_t *script;       //  The script handler's runs
};

//  A stage handed to its thread: the action copied (the node's is
//  gone at its next action)
typedef struct {
    install_t *self;                //  Its dir only, never changed
    node_action_t action;
    store_t *store;
    chunkstore_t *chunks;
} s_stage_t;

install_t *
install_new (const char *dir, const char *health_command, int timeout_ms,
             uint64_t checkin_ms, bool verbose)
{
    assert (dir);
    if (mkdir (dir, 0755) && errno != EEXIST) {
        zsys_error ("install: cannot make %s: %s", dir, strerror (errno));
        return NULL;
    }
    install_t *self = (install_t *) zmalloc (sizeof (install_t));
    self->dir = strdup (dir);
    if (health_command && *health_command)
        self->health = apply_new (NULL, health_command, timeout_ms, verbose);
    self->checkin_ms = checkin_ms;
    self->script = install_script_new (INSTALL_SCRIPT_TIMEOUT * 1000, verbose);
    return self;
}

install_t *
install_from_options (keyfile_t *options, bool verbose)
{
    assert (options);
    const char *dir = keyfile_get (options, "install-dir");
    char *fallback = zsys_sprintf ("%s/install", keyfile_get (options, "data-dir"));
    //  Inside the data directory, as private as the rest of it (0700):
    //  what other users must run goes to an --install-dir of its own
    if (!(dir && *dir) && mkdir (fallback, 0700) && errno != EEXIST)
        zsys_error ("install: cannot make %s: %s", fallback, strerror (errno));
    install_t *self = install_new (dir && *dir? dir: fallback,
                                   keyfile_get (options, "health-command"),
                                   (int) options_int (options, "health-timeout", 60) * 1000,
                                   (uint64_t) options_int (options, "health-checkin", 0) * 1000,
                                   verbose);
    if (self)
        install_script_set_timeout (self->script,
            (int) options_int (options, "script-timeout", INSTALL_SCRIPT_TIMEOUT) * 1000);
    free (fallback);
    return self;
}

uint8_t *
install_release_root (const char *data_dir, size_t *size_p)
{
    assert (data_dir && size_p);
    *size_p = 0;
    char *path = zsys_sprintf ("%s/release-root", data_dir);
    char *error = NULL;
    uint8_t *root = zsys_file_exists (path)
                  ? (uint8_t *) filewrite_read (path, 64 * 1024, size_p, &error): NULL;
    if (error)
        zsys_error ("node: %s", error);
    free (error);
    free (path);
    return root;
}

void
install_destroy (install_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        install_t *self = *self_p;
        zactor_destroy (&self->stager);     //  Waits for a stage under way
        apply_destroy (&self->health);
        install_script_destroy (&self->script);
        free (self->dir);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Files

static void
s_sync_dir (const char *dir)
{
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync (fd);
        close (fd);
    }
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return lstat (path, &st) == 0;
}

static int
s_sink (void *arg, const uint8_t *data, size_t size)
{
    int fd = *(int *) arg;
    size_t done = 0;
    while (done < size) {
        ssize_t written = write (fd, data + done, size - done);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return -1;
        done += (size_t) written;
    }
    return 0;
}

//  Assemble the release into path (replaced whole), synced
static int
s_assemble (const node_action_t *action, store_t *store, chunkstore_t *chunks,
            const char *path, char *error)
{
    char *temp = zsys_sprintf ("%s.part", path);
    int fd = open (temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    int rc = fd < 0? -1: 0;
    if (rc)
        snprintf (error, UPDATE_ERROR_MAX + 1, "cannot create %s: %s", temp, strerror (errno));
    if (rc == 0)
        rc = update_assemble (chunks, store, action->manifest, action->manifest_size, s_sink,
                              &fd, error);
    if (rc == 0 && fsync (fd)) {
        snprintf (error, UPDATE_ERROR_MAX + 1, "cannot sync %s: %s", temp, strerror (errno));
        rc = -1;
    }
    if (fd >= 0 && close (fd) && rc == 0) {
        snprintf (error, UPDATE_ERROR_MAX + 1, "cannot write %s: %s", temp, strerror (errno));
        rc = -1;
    }
    if (rc == 0 && rename (temp, path)) {
        snprintf (error, UPDATE_ERROR_MAX + 1, "cannot rename to %s: %s", path,
                  strerror (errno));
        rc = -1;
    }
    if (rc)
        unlink (temp);
    free (temp);
    return rc;
}

//  --------------------------------------------------------------------------
//  The file handler

//  Keep target as prev (a hard link, so target is never missing), or
//  mark with none that there was no target. 0, or -1 with errno.
int
install_keep_previous (const char *target, const char *prev, const char *none)
{
    int rc = 0;
    if (s_exists (target)) {
        char *link_tmp = zsys_sprintf ("%s.tmp", prev);
        unlink (link_tmp);
        rc = link (target, link_tmp) || rename (link_tmp, prev)? -1: 0;
        int saved = errno;
        //  After a crash past this point prev is already a link to
        //  target, and a rename between links of one file does nothing:
        //  the temporary link would stay
        unlink (link_tmp);
        free (link_tmp);
        errno = saved;
    }
    else {
        int fd = open (none, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        rc = fd < 0 || fsync (fd)? -1: 0;
        if (fd >= 0)
            close (fd);
    }
    return rc;
}

//  Put prev back as target, or remove target if none says there was
//  none. 0, or -1 with errno.
int
install_put_back (const char *target, const char *prev, const char *none)
{
    int rc = 0;
    if (s_exists (prev))
        rc = rename (prev, target);
    else
    if (s_exists (none)) {
        unlink (target);
        rc = unlink (none);
    }
    return rc;
}

static int
s_file_step (install_t *self, const node_action_t *action, store_t *store,
             chunkstore_t *chunks, char *error)
{
    char *target = zsys_sprintf ("%s/%s", self->dir, action->release);
    char *staged = zsys_sprintf ("%s/.%s.weft-new", self->dir, action->release);
    char *prev = zsys_sprintf ("%s/.%s.weft-prev", self->dir, action->release);
    char *none = zsys_sprintf ("%s/.%s.weft-none", self->dir, action->release);
    int rc = 0;
    if (action->step == UPDATE_STEP_STAGE)
        rc = s_assemble (action, store, chunks, staged, error);
    else
    if (action->step == UPDATE_STEP_ACTIVATE) {
        if (s_exists (staged)) {
            //  Keep the previous (or that there was none), then switch:
            //  the target is the old file or the new one at every instant
            rc = install_keep_previous (target, prev, none);
            if (rc == 0) {
                s_sync_dir (self->dir);
                rc = rename (staged, target);
            }
            if (rc)
                snprintf (error, UPDATE_ERROR_MAX + 1, "cannot switch %s: %s", target,
                          strerror (errno));
        }
        else
        if (!s_exists (target)) {
            snprintf (error, UPDATE_ERROR_MAX + 1, "nothing staged for %s", target);
            rc = -1;
        }
        //  Else switched before a restart
    }
    else
    if (action->step == UPDATE_STEP_COMMIT) {
        unlink (prev);
        unlink (none);
    }
    else
    if (action->step == UPDATE_STEP_ROLLBACK) {
        unlink (staged);
        rc = install_put_back (target, prev, none);
        if (rc)
            snprintf (error, UPDATE_ERROR_MAX + 1, "cannot put back %s: %s", target,
                      strerror (errno));
    }
    s_sync_dir (self->dir);
    free (target);
    free (staged);
    free (prev);
    free (none);
    return rc;
}

//  --------------------------------------------------------------------------
//  The ab handler: the boot-selection record

typedef struct {
    char active, trying;            //  'a' or 'b'; trying 0 if none
} s_boot_t;

static void
s_boot_read (const char *path, s_boot_t *boot)
{
    boot->active = 'a';
    boot->trying = 0;
    char *error = NULL;
    size_t size;
    char *text = (char *) filewrite_read (path, 256, &size, &error);
    free (error);
    if (!text)
        return;
    const char *active = strstr (text, "active=");
    const char *trying = strstr (text, "trying=");
    if (active && (active [7] == 'a' || active [7] == 'b'))
        boot->active = active [7];
    if (trying && (trying [7] == 'a' || trying [7] == 'b'))
        boot->trying = trying [7];
    free (text);
}

static int
s_boot_write (const char *path, const s_boot_t *boot, char *error)
{
    char text [64];
    snprintf (text, sizeof text, "active=%c\ntrying=%c\n", boot->active,
              boot->trying? boot->trying: '-');
    char *why = NULL;
    int rc = filewrite_atomic (path, text, strlen (text), 0644, &why);
    if (rc)
        snprintf (error, UPDATE_ERROR_MAX + 1, "%s", why);
    free (why);
    return rc;
}

static int
s_ab_step (install_t *self, const node_action_t *action, store_t *store, chunkstore_t *chunks,
           bool *reboot, char *error)
{
    char *home = zsys_sprintf ("%s/%s", self->dir, action->release);
    char *boot_path = zsys_sprintf ("%s/boot", home);
    s_boot_t boot;
    s_boot_read (boot_path, &boot);
    char other = boot.active == 'a'? 'b': 'a';
    int rc = 0;
    if (action->step == UPDATE_STEP_STAGE) {
        char *slot = zsys_sprintf ("%s/slot-%c", home, other);
        char *file = zsys_sprintf ("%s/%s", slot, action->release);
        if ((mkdir (home, 0755) && errno != EEXIST) || (mkdir (slot, 0755) && errno != EEXIST)) {
            snprintf (error, UPDATE_ERROR_MAX + 1, "cannot make %s: %s", slot, strerror (errno));
            rc = -1;
        }
        if (rc == 0 && boot.trying) {
            snprintf (error, UPDATE_ERROR_MAX + 1, "slot %c is being tried", boot.trying);
            rc = -1;
        }
        if (rc == 0)
            rc = s_assemble (action, store, chunks, file, error);
        if (rc == 0)
            s_sync_dir (slot);
        free (slot);
        free (file);
    }
    else
    if (action->step == UPDATE_STEP_ACTIVATE) {
        if (!boot.trying) {
            boot.trying = other;
            rc = s_boot_write (boot_path, &boot, error);
            *reboot = rc == 0;
        }
        //  Else the restart into the tried slot happened
    }
    else
    if (action->step == UPDATE_STEP_COMMIT) {
        if (boot.trying) {
            boot.active = boot.trying;
            boot.trying = 0;
            rc = s_boot_write (boot_path, &boot, error);
        }
    }
    else
    if (action->step == UPDATE_STEP_ROLLBACK) {
        //  The old slot runs again after a restart, as after a reboot
        if (boot.trying) {
            boot.trying = 0;
            rc = s_boot_write (boot_path, &boot, error);
            *reboot = rc == 0;
        }
    }
    free (home);
    free (boot_path);
    return rc;
}

//  --------------------------------------------------------------------------

int
install_step (install_t *self, const node_action_t *action, store_t *store,
              chunkstore_t *chunks, bool *reboot, char error [UPDATE_ERROR_MAX + 1])
{
    assert (self && action && store && chunks && reboot && error);
    *reboot = false;
    *error = 0;
    //  A release's name becomes a file name: no path in it
    if (!*action->release || strchr (action->release, '/') || *action->release == '.') {
        snprintf (error, UPDATE_ERROR_MAX + 1, "release name '%s' is not a file name",
                  action->release);
        return -1;
    }
    //  Uninstall and (de)activation: install_remove.c
    if (action->step >= UPDATE_STEP_REMOVE) {
        uint64_t freed;
        int rc = install_remove_step (self->dir, action, &freed, error);
        if (rc == 0 && action->step == UPDATE_STEP_REMOVE)
            zsys_info ("install: %s removed, %" PRIu64 " bytes freed", action->release, freed);
        return rc;
    }
    if (streq (action->handler, "file"))
        return s_file_step (self, action, store, chunks, error);
    if (streq (action->handler, "ab"))
        return s_ab_step (self, action, store, chunks, reboot, error);
    if (streq (action->handler, "config"))
        return install_config_step (self, action, store, chunks, error);
    if (streq (action->handler, "firmware"))
        return install_firmware_step (self, action, store, chunks, error);
    if (streq (action->handler, "script") && install_script_runs (action)) {
        bool ok = false;
        install_script_run (self->script, self, action, NULL, &ok, error);
        return ok? 0: -1;
    }
    if (streq (action->handler, "script"))
        return install_script_step (self, action, store, chunks, error);
    if (action->step == UPDATE_STEP_ROLLBACK)
        return 0;                   //  Nothing was done
    snprintf (error, UPDATE_ERROR_MAX + 1, "no handler '%s' on this device", action->handler);
    return -1;
}

char *
install_path (install_t *self, const char *name, const char *handler)
{
    assert (self && name && handler);
    if (streq (handler, "script"))
        return zsys_sprintf ("%s/.%s.weft-new", self->dir, name);     //  Until the commit
    if (!streq (handler, "ab"))
        return zsys_sprintf ("%s/%s", self->dir, name);
    char *boot_path = zsys_sprintf ("%s/%s/boot", self->dir, name);
    s_boot_t boot;
    s_boot_read (boot_path, &boot);
    free (boot_path);
    return zsys_sprintf ("%s/%s/slot-%c/%s", self->dir, name,
                         boot.trying? boot.trying: boot.active, name);
}

//  --------------------------------------------------------------------------
//  The stager: one stage in its own thread (reads through its own LMDB
//  read transaction), its result on the pipe, then it waits for $TERM

static void
s_stager (zsock_t *pipe, void *args)
{
    s_stage_t *stage = (s_stage_t *) args;
    zsock_signal (pipe, 0);
    bool reboot = false;
    char error [UPDATE_ERROR_MAX + 1] = "";
    int rc = install_step (stage->self, &stage->action, stage->store, stage->chunks, &reboot,
                           error);
    zsock_send (pipe, "is", rc, error);
    free (stage->action.manifest);
    free (stage);
    while (true) {
        char *command = zstr_recv (pipe);
        bool term = !command || streq (command, "$TERM");
        free (command);
        if (term)
            break;
    }
}

void
install_set_poller (install_t *self, zpoller_t *poller)
{
    assert (self);
    self->poller = poller;
    if (poller && self->health)
        zpoller_add (poller, apply_sock (self->health));
}

//  --------------------------------------------------------------------------
//  The driver

bool
install_action (install_t *self, node_t *node, store_t *store, const node_action_t *action,
                uint64_t now_ms)
{
    assert (self && node && store && action);
    int step = action->step;
    if (step == UPDATE_STEP_HEALTH && self->health) {
        //  The command reads the release on stdin; its exit status decides
        char *path = install_path (self, action->release, action->handler);
        json_t *json = json_pack ("{s:s, s:s, s:s, s:s, s:s}", "name", action->release,
                                  "version", action->release_version, "previous",
                                  action->previous, "handler", action->handler, "path", path);
        char *doc = json? jsontext_dumps (json, JSON_COMPACT): NULL;
        json_decref (json);
        if (!doc)
            doc = strdup ("{}");
        int rc = apply_request (self->health, ++self->health_runs, doc, strlen (doc));
        free (doc);
        free (path);
        if (rc)
            node_installed (node, step, false, "cannot start the health command", now_ms);
        return false;
    }
    if (step == UPDATE_STEP_HEALTH && self->checkin_ms) {
        //  Healthy when the report saying so reached the coordinator
        //  (install_tick)
        self->checkin_deadline = now_ms + self->checkin_ms;
        install_tick (self, node, now_ms);
        return false;
    }
    if (self->poller && install_script_runs (action)) {
        //  A script runs as long as it needs to: its end comes back
        //  through install_handle
        bool ok = false;
        char error [UPDATE_ERROR_MAX + 1] = "";
        if (install_script_run (self->script, self, action, self->poller, &ok, error))
            node_installed (node, step, ok, error, now_ms);
        return false;
    }
    if (step == UPDATE_STEP_STAGE && self->poller && !self->stager) {
        //  Assembling reads every chunk and writes the image: in a
        //  thread, so the node's messages go on (install_handle)
        s_stage_t *stage = (s_stage_t *) zmalloc (sizeof (s_stage_t));
        stage->self = self;
        stage->action = *action;
        stage->action.doc = NULL;
        stage->action.manifest = (uint8_t *) zmalloc (action->manifest_size + 1);
        memcpy (stage->action.manifest, action->manifest, action->manifest_size);
        stage->store = store;
        stage->chunks = node_chunks (node);
        self->stager = zactor_new (s_stager, stage);
        zpoller_add (self->poller, self->stager);
        return false;
    }
    bool reboot = false;
    char error [UPDATE_ERROR_MAX + 1] = "";
    int rc = step == UPDATE_STEP_HEALTH
           ? 0: install_step (self, action, store, node_chunks (node), &reboot, error);
    if (rc)
        zsys_warning ("install: %s %s: %s", action->release, action->release_version, error);
    node_installed (node, step, rc == 0, error, now_ms);
    return reboot;
}

void
install_tick (install_t *self, node_t *node, uint64_t now_ms)
{
    assert (self && node);
    if (!self->checkin_deadline)
        return;
    agent_t *agent = node_agent (node);
    if (agent && !agent_report_pending (agent)) {
        self->checkin_deadline = 0;
        node_installed (node, UPDATE_STEP_HEALTH, true, NULL, now_ms);
    }
    else
    if (now_ms >= self->checkin_deadline) {
        self->checkin_deadline = 0;
        char error [UPDATE_ERROR_MAX + 1];
        snprintf (error, sizeof error, "the node did not check in with the coordinator "
                  "within %" PRIu64 " s", self->checkin_ms / 1000);
        node_installed (node, UPDATE_STEP_HEALTH, false, error, now_ms);
    }
}

bool
install_handle (install_t *self, node_t *node, void *which, uint64_t now_ms)
{
    assert (self && node);
    if (!which)
        return false;
    if (self->stager && which == (void *) self->stager) {
        int rc = -1;
        char *error = NULL;
        if (zsock_recv (self->stager, "is", &rc, &error))
            rc = -1;
        zpoller_remove (self->poller, self->stager);
        zactor_destroy (&self->stager);
        if (rc)
            zsys_warning ("install: stage: %s", error? error: "no answer");
        node_installed (node, UPDATE_STEP_STAGE, rc == 0, error? error: "no answer", now_ms);
        free (error);
        return true;
    }
    int step = 0;
    bool ok = false;
    char error [UPDATE_ERROR_MAX + 1] = "";
    if (install_script_handle (self->script, self, which, self->poller, &step, &ok, error)) {
        node_installed (node, step, ok, error, now_ms);
        return true;
    }
    if (!self->health || which != (void *) apply_sock (self->health))
        return false;
    apply_result_t result;
    if (apply_result (self->health, &result) == 0) {
        if (result.version == self->health_runs)
            node_installed (node, UPDATE_STEP_HEALTH, result.ok, result.error, now_ms);
        apply_result_clear (&result);
    }
    return true;
}

//  --------------------------------------------------------------------------
//  What the other handlers share with file (install_internal.h)

int
install_assemble (const node_action_t *action, store_t *store, chunkstore_t *chunks,
                  const char *path, char *error)
{
    return s_assemble (action, store, chunks, path, error);
}

int
install_file_step (install_t *self, const node_action_t *action, store_t *store,
                   chunkstore_t *chunks, char *error)
{
    return s_file_step (self, action, store, chunks, error);
}

void
install_sync_dir (const char *dir)
{
    s_sync_dir (dir);
}

bool
install_exists (const char *path)
{
    return s_exists (path);
}

const char *
install_dir (install_t *self)
{
    return self->dir;
}
