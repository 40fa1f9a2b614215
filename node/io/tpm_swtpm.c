/*  tpm_swtpm - test support: swtpm on free loopback ports
    Used by selftests and benches, never by the daemons.  */

#include "node/io/tpm_internal.h"
#include "proto/credential.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <tss2/tss2_rc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  Test support: swtpm on free loopback ports
//
//  A watchdog process owns the cleanup. It holds the read end of a pipe
//  whose write end only this process holds, and it learns the pid of each
//  swtpm through it. When the pipe closes (tpm_swtpm_destroy, or this
//  process dying for any reason, an assertion included) it kills those
//  swtpm processes and removes the state directory. swtpm itself also gets
//  PR_SET_PDEATHSIG, so it never outlives its parent.

static void
s_watchdog (int fd, const char *dir)
{
    pid_t pids [64];
    size_t count = 0;
    pid_t pid;
    while (read (fd, &pid, sizeof pid) == sizeof pid)
        if (count < 64)
            pids [count++] = pid;
    for (size_t index = 0; index < count; index++)
        kill (pids [index], SIGKILL);
    //  Give the kernel a moment to close swtpm's files before removing them
    for (int tries = 0; tries < 50; tries++) {
        size_t alive = 0;
        for (size_t index = 0; index < count; index++)
            if (kill (pids [index], 0) == 0)
                alive++;
        if (alive == 0)
            break;
        usleep (20000);
    }
    execlp ("rm", "rm", "-rf", dir, (char *) NULL);
    _exit (1);
}

//  True if a loopback TCP port can be bound now

static bool
s_port_free (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons (port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    bool free = bind (fd, (struct sockaddr *) &address, sizeof address) == 0;
    close (fd);
    return free;
}

static bool
s_port_open (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons (port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    bool open = connect (fd, (struct sockaddr *) &address, sizeof address) == 0;
    close (fd);
    return open;
}

//  Run a program to completion, output to a log file; returns exit status

int
tpm_swtpm_run (char *const argv [], const char *log, char *const envp [])
{
    pid_t pid = fork ();
    if (pid == 0) {
        int fd = open (log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2 (fd, 1);
            dup2 (fd, 2);
        }
        if (envp)
            execve (argv [0], argv, envp);
        else
            execvp (argv [0], argv);
        _exit (127);
    }
    int status = -1;
    if (pid < 0 || waitpid (pid, &status, 0) != pid)
        return -1;
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  Provision the state with EK certificates from a local CA in dir/ca

static int
s_swtpm_provision (tpm_swtpm_t *self, const char *state, const char *log)
{
    snprintf (self->ca_dir, sizeof self->ca_dir, "%s/ca", self->dir);
    if (mkdir (self->ca_dir, 0700))
        return -1;
    char path [160];
    snprintf (path, sizeof path, "%s/swtpm_setup.conf", self->dir);
    FILE *file = fopen (path, "w");
    if (!file)
        return -1;
    fprintf (file, "create_certs_tool = /usr/bin/swtpm_localca\n"
                   "create_certs_tool_config = %s/swtpm-localca.conf\n"
                   "create_certs_tool_options = %s/swtpm-localca.options\n"
                   "active_pcr_banks = sha256\n", self->dir, self->dir);
    fclose (file);
    snprintf (path, sizeof path, "%s/swtpm-localca.conf", self->dir);
    if (!(file = fopen (path, "w")))
        return -1;
    fprintf (file, "statedir = %s\nsigningkey = %s/signkey.pem\n"
                   "issuercert = %s/issuercert.pem\ncertserial = %s/certserial\n",
             self->ca_dir, self->ca_dir, self->ca_dir, self->ca_dir);
    fclose (file);
    snprintf (path, sizeof path, "%s/swtpm-localca.options", self->dir);
    if (!(file = fopen (path, "w")))
        return -1;
    fprintf (file, "--platform-manufacturer Weft\n--platform-version 2.1\n"
                   "--platform-model weft-test\n");
    fclose (file);
    char config [160];
    snprintf (config, sizeof config, "%s/swtpm_setup.conf", self->dir);
    char *argv [] = {
        "swtpm_setup", "--tpm2", "--tpmstate", (char *) state, "--config", config,
        "--create-ek-cert", "--overwrite", NULL
    };
    return tpm_swtpm_run (argv, log, NULL) == 0? 0: -1;
}

tpm_swtpm_t *
tpm_swtpm_new (bool ek_cert)
{
    tpm_swtpm_t *self = (tpm_swtpm_t *) zmalloc (sizeof (tpm_swtpm_t));
    self->watchdog_fd = -1;
    strcpy (self->dir, "/tmp/weft-swtpm.XXXXXX");
    if (!mkdtemp (self->dir)) {
        free (self);
        return NULL;
    }
    int fds [2];
    if (pipe2 (fds, O_CLOEXEC)) {
        rmdir (self->dir);
        free (self);
        return NULL;
    }
    self->watchdog = fork ();
    if (self->watchdog == 0) {
        //  Keep only the read end: another watchdog's pipe held open here
        //  would keep that one waiting for ever
        for (int fd = 3; fd < 4096; fd++)
            if (fd != fds [0])
                close (fd);
        s_watchdog (fds [0], self->dir);
    }
    close (fds [0]);
    self->watchdog_fd = fds [1];
    if (self->watchdog < 0) {
        tpm_swtpm_destroy (&self);
        return NULL;
    }
    char state [96], log [96];
    snprintf (state, sizeof state, "%s/state", self->dir);
    snprintf (log, sizeof log, "%s/swtpm.log", self->dir);
    if (mkdir (state, 0700)
    ||  (ek_cert && s_swtpm_provision (self, state, log))) {
        zsys_error ("tpm: cannot prepare swtpm state in %s", self->dir);
        tpm_swtpm_destroy (&self);
        return NULL;
    }
    for (int attempt = 0; attempt < 20; attempt++) {
        int port = 20000 + 2 * (int) randombytes_uniform (20000);
        if (!s_port_free (port) || !s_port_free (port + 1))
            continue;
        char server [64], ctrl [64], tpmstate [128];
        snprintf (server, sizeof server, "type=tcp,port=%d,bindaddr=127.0.0.1", port);
        snprintf (ctrl, sizeof ctrl, "type=tcp,port=%d,bindaddr=127.0.0.1", port + 1);
        snprintf (tpmstate, sizeof tpmstate, "dir=%s", state);
        char *argv [] = {
            "swtpm", "socket", "--tpm2", "--server", server, "--ctrl", ctrl,
            "--tpmstate", tpmstate, "--flags", "not-need-init,startup-clear", NULL
        };
        pid_t pid = fork ();
        if (pid == 0) {
            prctl (PR_SET_PDEATHSIG, SIGKILL);
            int fd = open (log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0) {
                dup2 (fd, 1);
                dup2 (fd, 2);
            }
            execvp (argv [0], argv);
            _exit (127);
        }
        if (pid < 0)
            break;
        if (write (self->watchdog_fd, &pid, sizeof pid) != sizeof pid)
            zsys_warning ("tpm: watchdog does not listen");
        //  Wait until swtpm listens, or gives up (port taken meanwhile)
        bool up = false;
        for (int tries = 0; tries < 500 && !up; tries++) {
            if (waitpid (pid, NULL, WNOHANG) == pid)
                break;
            up = s_port_open (port);
            if (!up)
                usleep (10000);
        }
        if (up) {
            self->swtpm = pid;
            snprintf (self->tcti, sizeof self->tcti, "swtpm:host=127.0.0.1,port=%d", port);
            return self;
        }
        kill (pid, SIGKILL);
        waitpid (pid, NULL, 0);
    }
    zsys_error ("tpm: swtpm did not start, see %s", log);
    tpm_swtpm_destroy (&self);
    return NULL;
}

void
tpm_swtpm_destroy (tpm_swtpm_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        tpm_swtpm_t *self = *self_p;
        if (self->swtpm > 0) {
            kill (self->swtpm, SIGTERM);
            waitpid (self->swtpm, NULL, 0);
        }
        if (self->watchdog_fd >= 0)
            close (self->watchdog_fd);      //  watchdog removes the directory
        if (self->watchdog > 0)
            waitpid (self->watchdog, NULL, 0);
        free (self);
        *self_p = NULL;
    }
}

const char *
tpm_swtpm_tcti (tpm_swtpm_t *self)
{
    assert (self);
    return self->tcti;
}

const char *
tpm_swtpm_ca_dir (tpm_swtpm_t *self)
{
    assert (self);
    return *self->ca_dir? self->ca_dir: NULL;
}

char *
tpm_swtpm_ca_bundle (tpm_swtpm_t *self)
{
    assert (self && *self->ca_dir);
    const char *names [] = { "swtpm-localca-rootca-cert.pem", "issuercert.pem" };
    char *bundle = (char *) zmalloc (16384);
    size_t size = 0;
    for (int index = 0; index < 2; index++) {
        char path [sizeof self->ca_dir + 64];
        snprintf (path, sizeof path, "%s/%s", self->ca_dir, names [index]);
        FILE *file = fopen (path, "r");
        assert (file);
        size += fread (bundle + size, 1, 16383 - size, file);
        fclose (file);
    }
    assert (size < 16383);
    return bundle;
}

//  --------------------------------------------------------------------------
//  Test support: provision a TPM as a vendor or an owner would, so that
//  tests can give a swtpm the EK certificate or persistent EK it lacks

int
tpm_nv_provision (tpm_t *self, uint32_t index, const byte *data, size_t size)
{
    assert (self && data);
    if (size == 0 || size > 4096)
        return -1;
    TPM2B_AUTH auth = { 0 };
    TPM2B_NV_PUBLIC info = { 0 };
    info.nvPublic.nvIndex = index;
    info.nvPublic.nameAlg = TPM2_ALG_SHA256;
    info.nvPublic.attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_AUTHREAD
                             | TPMA_NV_NO_DA;
    info.nvPublic.dataSize = (UINT16) size;
    ESYS_TR nv = ESYS_TR_NONE;
    TSS2_RC r = Esys_NV_DefineSpace (self->ectx, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
                                     ESYS_TR_NONE, ESYS_TR_NONE, &auth, &info, &nv);
    for (size_t offset = 0; r == TSS2_RC_SUCCESS && offset < size; ) {
        TPM2B_MAX_NV_BUFFER chunk = { 0 };
        chunk.size = (UINT16) (size - offset > 512? 512: size - offset);
        memcpy (chunk.buffer, data + offset, chunk.size);
        r = Esys_NV_Write (self->ectx, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                           ESYS_TR_NONE, &chunk, (UINT16) offset);
        offset += chunk.size;
    }
    if (nv != ESYS_TR_NONE)
        Esys_TR_Close (self->ectx, &nv);
    if (r != TSS2_RC_SUCCESS)
        zsys_error ("tpm: provision NV 0x%08x: %s", index, Tss2_RC_Decode (r));
    return r == TSS2_RC_SUCCESS? 0: -1;
}

int
tpm_ek_persist (tpm_t *self, tpm_key_type_t type, uint32_t handle)
{
    assert (self);
    if (tpm_ek_load (self, type))
        return -1;
    ESYS_TR persistent = ESYS_TR_NONE;
    TSS2_RC r = Esys_EvictControl (self->ectx, ESYS_TR_RH_OWNER, self->ek, ESYS_TR_PASSWORD,
                                   ESYS_TR_NONE, ESYS_TR_NONE, handle, &persistent);
    if (persistent != ESYS_TR_NONE)
        Esys_TR_Close (self->ectx, &persistent);
    if (r != TSS2_RC_SUCCESS)
        zsys_error ("tpm: persist EK at 0x%08x: %s", handle, Tss2_RC_Decode (r));
    return r == TSS2_RC_SUCCESS? 0: -1;
}

bool
tpm_swtpm_activates (tpm_t *tpm, zchunk_t *ek_public, zchunk_t *name, zchunk_t *ak_blob)
{
    byte secret [32];
    randombytes_buf (secret, sizeof secret);
    zchunk_t *credential = NULL, *encrypted = NULL;
    int rc = credential_make (zchunk_data (ek_public), zchunk_size (ek_public),
        zchunk_data (name), zchunk_size (name), secret, sizeof secret, &credential, &encrypted);
    assert (rc == TPMVERIFY_OK);
    zchunk_t *recovered = tpm_activate (tpm, ak_blob, credential, encrypted);
    bool ok = recovered && zchunk_size (recovered) == sizeof secret
           && sodium_memcmp (zchunk_data (recovered), secret, sizeof secret) == 0;
    zchunk_destroy (&recovered);
    zchunk_destroy (&credential);
    zchunk_destroy (&encrypted);
    return ok;
}
