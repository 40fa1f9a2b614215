/*  apply - carries a desired twin document into the device
    The actor owns the running command. It polls the command's pipes
    with a short tick so a $TERM from the node stops it promptly: the
    command runs in a process group of its own and the whole group is
    killed on timeout or shutdown, so a shell's children go too. The
    child's side of every pipe is close-on-exec except the three it gets
    as stdin, stdout and stderr; ZeroMQ's own descriptors are opened
    close-on-exec by libzmq, so the command inherits none of them.
    Writing to a command that exits early would raise SIGPIPE: weft-node
    ignores SIGPIPE (main.c), so the write just fails.  */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <jansson.h>
#include "proto/jsontext.h"
#include "proto/io/filewrite.h"
#include "node/io/apply.h"

#define APPLY_TICK_MS   100         //  How often a run checks for $TERM

extern char **environ;

typedef struct {
    char *file;                     //  --apply-file, or NULL
    char *command;                  //  --apply-command, or NULL
    int timeout_ms;                 //  Longest run of a command
    bool verbose;                   //  Log each result
} apply_args_t;

struct _apply_t {
    zactor_t *actor;                //  The worker
    apply_args_t *args;             //  Read by the worker until it ends
};

//  --------------------------------------------------------------------------
//  Append what is readable on fd to buffer (up to limit; the rest is
//  read and dropped). Returns false at end of file or error.

static bool
s_drain (int fd, char *buffer, size_t *size_p, size_t limit)
{
    char chunk [4096];
    while (true) {
        ssize_t got = read (fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return errno == EAGAIN;
        if (got == 0)
            return false;
        size_t keep = (size_t) got;
        if (*size_p + keep > limit)
            keep = limit - *size_p;
        memcpy (buffer + *size_p, chunk, keep);
        *size_p += keep;
    }
}

//  Last non-empty line of text, trimmed, into a new string.
static char *
s_last_line (const char *text, size_t size)
{
    while (size && (text [size - 1] == '\n' || text [size - 1] == '\r'
                ||  text [size - 1] == ' '))
        size--;
    size_t start = size;
    while (start && text [start - 1] != '\n')
        start--;
    char *line = (char *) zmalloc (size - start + 1);
    memcpy (line, text + start, size - start);
    return line;
}

//  --------------------------------------------------------------------------
//  Run the command with doc on stdin. Returns false if $TERM came in.

static bool
s_run_command (apply_args_t *args, zsock_t *pipe, uint64_t version,
               const char *doc, size_t size, apply_result_t *result)
{
    int in [2], out [2], err [2];
    if (pipe2 (in, O_CLOEXEC) || pipe2 (out, O_CLOEXEC) || pipe2 (err, O_CLOEXEC)) {
        result->error = zsys_sprintf ("cannot create pipes: %s", strerror (errno));
        return true;
    }
    //  The environment is built before fork: the child may only exec
    size_t count = 0;
    while (environ && environ [count])
        count++;
    char **envp = (char **) zmalloc ((count + 2) * sizeof (char *));
    size_t envc = 0;
    for (size_t i = 0; i < count; i++)
        if (strncmp (environ [i], "WEFT_DESIRED_VERSION=", 21) != 0)
            envp [envc++] = environ [i];
    char *version_env = zsys_sprintf ("WEFT_DESIRED_VERSION=%" PRIu64, version);
    envp [envc++] = version_env;
    char *argv [] = { "sh", "-c", args->command, NULL };

    pid_t pid = fork ();
    if (pid == 0) {
        setpgid (0, 0);
        signal (SIGPIPE, SIG_DFL);
        if (dup2 (in [0], 0) < 0 || dup2 (out [1], 1) < 0 || dup2 (err [1], 2) < 0)
            _exit (127);
        execve ("/bin/sh", argv, envp);
        _exit (127);
    }
    free (envp);
    free (version_env);
    close (in [0]);
    close (out [1]);
    close (err [1]);
    if (pid < 0) {
        result->error = zsys_sprintf ("cannot start command: %s", strerror (errno));
        close (in [1]);
        close (out [0]);
        close (err [0]);
        return true;
    }
    setpgid (pid, pid);             //  Also here: no race with the kill below
    fcntl (in [1], F_SETFL, O_NONBLOCK);
    fcntl (out [0], F_SETFL, O_NONBLOCK);
    fcntl (err [0], F_SETFL, O_NONBLOCK);

    char *output = (char *) zmalloc (APPLY_OUTPUT_MAX + 1);
    char *errors = (char *) zmalloc (APPLY_STDERR_MAX + 1);
    size_t output_size = 0, errors_size = 0, written = 0;
    int in_fd = in [1], out_fd = out [0], err_fd = err [0];
    if (size == 0) {
        close (in_fd);
        in_fd = -1;
    }
    int64_t deadline = zclock_mono () + args->timeout_ms;
    bool exited = false, timed_out = false, terminated = false;
    int status = 0;
    while (!exited) {
        struct pollfd fds [3] = {
            { in_fd, POLLOUT, 0 }, { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 }
        };
        poll (fds, 3, APPLY_TICK_MS);
        if (in_fd >= 0 && (fds [0].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t rc = write (in_fd, doc + written, size - written);
            if (rc > 0)
                written += (size_t) rc;
            if ((rc < 0 && errno != EAGAIN && errno != EINTR) || written == size) {
                close (in_fd);      //  EOF tells the command the document ended
                in_fd = -1;
            }
        }
        if (out_fd >= 0 && fds [1].revents
        &&  !s_drain (out_fd, output, &output_size, APPLY_OUTPUT_MAX)) {
            close (out_fd);
            out_fd = -1;
        }
        if (err_fd >= 0 && fds [2].revents
        &&  !s_drain (err_fd, errors, &errors_size, APPLY_STDERR_MAX)) {
            close (err_fd);
            err_fd = -1;
        }
        if (waitpid (pid, &status, WNOHANG) == pid) {
            exited = true;
            //  Take what it wrote before exiting; a lingering grandchild
            //  holding the pipes open does not keep us waiting
            if (out_fd >= 0)
                s_drain (out_fd, output, &output_size, APPLY_OUTPUT_MAX);
            if (err_fd >= 0)
                s_drain (err_fd, errors, &errors_size, APPLY_STDERR_MAX);
            kill (-pid, SIGKILL);
            break;
        }
        if (zsock_events (pipe) & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            terminated = !command || streq (command, "$TERM");
            if (!terminated)
                zsys_warning ("apply: %s while a command runs, ignored", command);
            zstr_free (&command);
        }
        if (terminated || zclock_mono () > deadline) {
            timed_out = !terminated;
            kill (-pid, SIGKILL);
            waitpid (pid, &status, 0);
            exited = true;
        }
    }
    if (in_fd >= 0)
        close (in_fd);
    if (out_fd >= 0)
        close (out_fd);
    if (err_fd >= 0)
        close (err_fd);
    if (terminated)
        result->error = strdup ("node stopping");
    else
    if (timed_out)
        result->error = zsys_sprintf ("command timed out after %d s", args->timeout_ms / 1000);
    else
    if (WIFSIGNALED (status))
        result->error = zsys_sprintf ("command killed by signal %d", WTERMSIG (status));
    else
    if (WEXITSTATUS (status) != 0) {
        char *line = s_last_line (errors, errors_size);
        result->error = *line
            ? zsys_sprintf ("command exited with status %d: %s", WEXITSTATUS (status), line)
            : zsys_sprintf ("command exited with status %d", WEXITSTATUS (status));
        free (line);
    }
    else {
        result->ok = true;
        //  A JSON object on stdout is the reported document
        json_error_t error;
        json_t *json = output_size? json_loadb (output, output_size, 0, &error): NULL;
        if (json && json_is_object (json)) {
            result->reported = jsontext_dumps (json, JSON_COMPACT);
            result->reported_size = strlen (result->reported);
        }
        json_decref (json);
    }
    free (output);
    free (errors);
    return !terminated;
}

//  --------------------------------------------------------------------------
//  The worker actor.

static void
s_apply_actor (zsock_t *pipe, void *arg)
{
    apply_args_t *args = (apply_args_t *) arg;
    zsock_signal (pipe, 0);
    bool running = true;
    while (running) {
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break;                  //  Interrupted
        char *command = zmsg_popstr (msg);
        zframe_t *version_frame = zmsg_pop (msg);
        zframe_t *doc_frame = zmsg_pop (msg);
        if (command && streq (command, "APPLY") && version_frame && doc_frame
        &&  zframe_size (version_frame) == 8) {
            uint64_t version;
            memcpy (&version, zframe_data (version_frame), 8);
            const char *doc = (const char *) zframe_data (doc_frame);
            size_t size = zframe_size (doc_frame);
            apply_result_t result = { version, false, NULL, 0, NULL };
            if (args->file) {
                //  The desired twin is the device's state: its owner's
                //  alone, also when an older version of the file was
                //  left wider (docs/node.md); one line of JSON
                char *text = (char *) zmalloc (size + 1);
                memcpy (text, doc, size);
                text [size] = '\n';
                if (filewrite_atomic (args->file, text, size + 1, 0600, &result.error) == 0)
                    result.ok = true;
                free (text);
            }
            else
            if (args->command)
                running = s_run_command (args, pipe, version, doc, size, &result);
            else
                result.ok = true;   //  No handler: held and reported as is
            if (args->verbose)
                zsys_debug ("apply: version %" PRIu64 " %s%s", version,
                            result.ok? "ok": "failed: ", result.ok? "": result.error);
            zsock_send (pipe, "8ibb", version, (int) result.ok,
                        result.reported, result.reported_size,
                        result.error, result.error? strlen (result.error): (size_t) 0);
            apply_result_clear (&result);
        }
        else
        if (command && streq (command, "$TERM"))
            running = false;
        zstr_free (&command);
        zframe_destroy (&version_frame);
        zframe_destroy (&doc_frame);
        zmsg_destroy (&msg);
    }
}

//  --------------------------------------------------------------------------
//  Start the handler actor.

apply_t *
apply_new (const char *file, const char *command, int timeout_ms, bool verbose)
{
    if (file && *file && command && *command) {
        zsys_error ("apply: give either an apply file or an apply command, not both");
        return NULL;
    }
    apply_t *self = (apply_t *) zmalloc (sizeof (apply_t));
    apply_args_t *args = (apply_args_t *) zmalloc (sizeof (apply_args_t));
    args->file = file && *file? strdup (file): NULL;
    args->command = command && *command? strdup (command): NULL;
    args->timeout_ms = timeout_ms > 0? timeout_ms: 60000;
    args->verbose = verbose;
    self->args = args;
    self->actor = zactor_new (s_apply_actor, args);
    return self;
}

//  Stop the actor; a running command is killed.

void
apply_destroy (apply_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        apply_t *self = *self_p;
        zactor_destroy (&self->actor);
        free (self->args->file);
        free (self->args->command);
        free (self->args);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
apply_sock (apply_t *self)
{
    assert (self);
    return zactor_sock (self->actor);
}

//  --------------------------------------------------------------------------
//  Ask for a document to be applied.

int
apply_request (apply_t *self, uint64_t version, const char *doc, size_t size)
{
    assert (self);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "APPLY");
    zmsg_addmem (msg, &version, sizeof version);
    zmsg_addmem (msg, doc, size);
    return zmsg_send (&msg, self->actor);
}

//  --------------------------------------------------------------------------
//  Read one result.

int
apply_result (apply_t *self, apply_result_t *result)
{
    assert (self && result);
    memset (result, 0, sizeof *result);
    int ok = 0;
    uint8_t *reported = NULL, *error = NULL;
    size_t reported_size = 0, error_size = 0;
    if (zsock_recv (self->actor, "8ibb", &result->version, &ok, &reported,
                    &reported_size, &error, &error_size) != 0)
        return -1;
    result->ok = ok != 0;
    if (reported && reported_size) {
        result->reported = (char *) zmalloc (reported_size + 1);
        memcpy (result->reported, reported, reported_size);
        result->reported_size = reported_size;
    }
    if (error && error_size) {
        result->error = (char *) zmalloc (error_size + 1);
        memcpy (result->error, error, error_size);
    }
    free (reported);
    free (error);
    return 0;
}

void
apply_result_clear (apply_result_t *result)
{
    if (result) {
        free (result->reported);
        free (result->error);
        result->reported = NULL;
        result->error = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Selftest

static void
s_test_one (apply_t *apply, uint64_t version, const char *doc, apply_result_t *result)
{
    assert (apply_request (apply, version, doc, strlen (doc)) == 0);
    zpoller_t *poller = zpoller_new (apply_sock (apply), NULL);
    void *which = zpoller_wait (poller, 20000);
    assert (which == apply_sock (apply));
    zpoller_destroy (&poller);
    assert (apply_result (apply, result) == 0);
    assert (result->version == version);
}

void
apply_test (bool verbose)
{
    printf (" * apply: ");
    //  @selftest
    signal (SIGPIPE, SIG_IGN);
    char dir [] = "/tmp/weft-apply-test.XXXXXX";
    assert (mkdtemp (dir));
    char *path = zsys_sprintf ("%s/desired.json", dir);
    apply_result_t result;

    //  No handler: always applied, report the desired document
    apply_t *apply = apply_new (NULL, NULL, 0, verbose);
    s_test_one (apply, 1, "{\"a\":1}", &result);
    assert (result.ok && !result.reported && !result.error);
    apply_destroy (&apply);
    apply_destroy (&apply);
    assert (apply_new ("x", "y", 0, verbose) == NULL);

    //  File: written atomically, readable by the consumer
    apply = apply_new (path, NULL, 0, verbose);
    s_test_one (apply, 2, "{\"a\":2}", &result);
    assert (result.ok);
    FILE *file = fopen (path, "r");
    assert (file);
    char line [64] = "";
    assert (fgets (line, sizeof line, file));
    fclose (file);
    assert (streq (line, "{\"a\":2}\n"));
    apply_destroy (&apply);
    char *bad = zsys_sprintf ("%s/missing/desired.json", dir);
    apply = apply_new (bad, NULL, 0, verbose);
    s_test_one (apply, 3, "{}", &result);
    assert (!result.ok && result.error);
    apply_result_clear (&result);
    apply_destroy (&apply);
    free (bad);

    //  Command: stdin, env, stdout as report, failures, timeout
    char *command = zsys_sprintf ("cat > %s; echo \"{\\\"v\\\":$WEFT_DESIRED_VERSION}\"", path);
    apply = apply_new (NULL, command, 5000, verbose);
    s_test_one (apply, 7, "{\"a\":7}", &result);
    assert (result.ok);
    assert (result.reported && streq (result.reported, "{\"v\":7}"));
    apply_result_clear (&result);
    file = fopen (path, "r");
    assert (fgets (line, sizeof line, file));
    fclose (file);
    assert (streq (line, "{\"a\":7}"));
    apply_destroy (&apply);
    free (command);

    apply = apply_new (NULL, "echo not json; true", 5000, verbose);
    s_test_one (apply, 8, "{}", &result);
    assert (result.ok && !result.reported);
    apply_destroy (&apply);

    apply = apply_new (NULL, "echo oops >&2; exit 3", 5000, verbose);
    s_test_one (apply, 9, "{}", &result);
    assert (!result.ok);
    assert (streq (result.error, "command exited with status 3: oops"));
    apply_result_clear (&result);
    apply_destroy (&apply);

    //  Exits without reading stdin: no SIGPIPE, still a result
    apply = apply_new (NULL, "exit 0", 5000, verbose);
    char *big = (char *) zmalloc (300000);
    memset (big, ' ', 299999);
    big [0] = '{';
    big [299998] = '}';
    s_test_one (apply, 10, big, &result);
    assert (result.ok);
    free (big);
    apply_destroy (&apply);

    apply = apply_new (NULL, "sleep 30", 300, verbose);
    int64_t start = zclock_mono ();
    s_test_one (apply, 11, "{}", &result);
    assert (!result.ok && strstr (result.error, "timed out"));
    assert (zclock_mono () - start < 5000);
    apply_result_clear (&result);
    apply_destroy (&apply);

    //  Shutdown while a command runs is prompt
    apply = apply_new (NULL, "sleep 30", 60000, verbose);
    assert (apply_request (apply, 12, "{}", 2) == 0);
    zclock_sleep (100);
    start = zclock_mono ();
    apply_destroy (&apply);
    assert (zclock_mono () - start < 5000);

    unlink (path);
    free (path);
    rmdir (dir);
    //  @end
    printf ("OK\n");
}
