/*  tpm_internal - what the tpm_ files share: the context, the swtpm
    handle and the helpers that every TPM command path uses
    Private to node/io/tpm*.c; callers use tpm.h.  */

#ifndef WEFT_TPM_INTERNAL_H_INCLUDED
#define WEFT_TPM_INTERNAL_H_INCLUDED

#include "node/io/tpm.h"

#include <sys/types.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

struct _tpm_t {
    TSS2_TCTI_CONTEXT *tcti;            //  Transport, from the TCTI loader
    ESYS_CONTEXT *ectx;                 //  ESYS context over tcti
    ESYS_TR ek;                         //  Loaded EK, or ESYS_TR_NONE
    tpm_key_type_t ek_type;             //  Type of the loaded EK
    TPM2B_PUBLIC *ek_public;            //  Its public area (Esys_Free)
    unsigned calls;                     //  TPM commands since tpm_set_fault
    unsigned fault_at;                  //  Fail this command (1-based), 0 never
};

//  What an injected fault looks like: a TPM that gave up on the command
#define TPM_FAULT_RC    (TPM2_RC_FAILURE)

//  Count a TPM command; true if the test hook says this one fails. Every
//  command except a flush goes through it.
bool
    tpm_fault (tpm_t *self);

//  Flush a transient object or session if set, and clear the handle
void
    tpm_flush (tpm_t *self, ESYS_TR *handle_p);

//  Flush the cached EK and free its public area
void
    tpm_ek_flush (tpm_t *self);

//  Start a policy session satisfied by PolicySecret(TPM_RH_ENDORSEMENT);
//  the caller flushes *session_p. Returns 0 or -1.
int
    tpm_endorsement_session (tpm_t *self, ESYS_TR *session_p);

//  Marshal a TPM2B_PUBLIC into a new chunk, or NULL
zchunk_t *
    tpm_public_chunk (const TPM2B_PUBLIC *public);

//  Name of a loaded object as a new chunk, or NULL
zchunk_t *
    tpm_name_chunk (tpm_t *self, ESYS_TR handle);

//  Make sure the EK of the given type is loaded (tpm_keys.c). Returns 0 or -1.
int
    tpm_ek_load (tpm_t *self, tpm_key_type_t type);

//  Split an AK blob into its EK type, public and private parts
//  (tpm_keys.c). Returns 0 or -1.
int
    tpm_ak_blob_parse (zchunk_t *blob, tpm_key_type_t *ek_type,
                       TPM2B_PUBLIC *public, TPM2B_PRIVATE *private);

//  Load an AK blob under its EK; the caller flushes *ak_p (tpm_keys.c).
//  Returns 0 or -1.
int
    tpm_ak_load (tpm_t *self, zchunk_t *blob, ESYS_TR *ak_p);

struct _tpm_swtpm_t {
    char dir [64];                      //  mkdtemp directory, absolute
    char tcti [64];                     //  swtpm:host=127.0.0.1,port=N
    char ca_dir [96];                   //  Local CA directory, or ""
    pid_t swtpm;                        //  swtpm process
    pid_t watchdog;                     //  Cleanup process
    int watchdog_fd;                    //  Write end of the watchdog's pipe
};

//  Run a program to completion, output appended to a log file; envp NULL
//  keeps ours. Returns its exit status, -1 if it did not exit (tpm_swtpm.c).
int
    tpm_swtpm_run (char *const argv [], const char *log, char *const envp []);

#endif
