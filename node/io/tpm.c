/*  tpm - the node's TPM 2.0 adapter (tpm2-tss ESYS): context and sessions
    Opening and closing the TPM, the fault hook, flushing, the endorsement
    policy session and marshalling shared by the other tpm_ files:
    tpm_keys.c (EK, EK certificate, AK, credential activation),
    tpm_quote.c (quotes and PCRs), tpm_actor.c (the actor),
    tpm_swtpm.c (swtpm for tests) and tpm_test.c (the selftest).

    Blocking and thread-confined: the node drives a tpm_t from an actor of
    its own (see tpm.h). Without a resource manager (swtpm, /dev/tpm0) a
    TPM holds only a few transient objects and sessions (swtpm: 3 of
    each), so at most two objects are ever loaded here (the cached EK and
    the AK of the operation at hand), and every session and AK is flushed
    before a call returns, on every path. Each ESYS output starts NULL,
    each handle ESYS_TR_NONE, and each function has one exit that frees.

    The EK is never made persistent and neither is the AK: the EK comes
    back from the endorsement seed with the same template, and the AK is a
    blob (its TPM2B_PUBLIC and TPM2B_PRIVATE, the private part wrapped by
    the EK) that Esys_Load takes under that EK. Persistent handles are a
    small, machine-wide resource we leave to the platform owner.  */

#include "node/io/tpm_internal.h"

#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

//  Count a TPM command; true if the test hook says this one fails

bool
tpm_fault (tpm_t *self)
{
    self->calls++;
    return self->fault_at && self->calls == self->fault_at;
}

//  --------------------------------------------------------------------------
//  Open the TPM through the TCTI loader

tpm_t *
tpm_new (const char *tcti)
{
    tpm_t *self = (tpm_t *) zmalloc (sizeof (tpm_t));
    self->ek = ESYS_TR_NONE;
    const char *config = tcti && *tcti? tcti: NULL;
    TSS2_RC r = Tss2_TctiLdr_Initialize (config, &self->tcti);
    if (r != TSS2_RC_SUCCESS)
        zsys_error ("tpm: open TCTI '%s': %s", config? config: "(default)", Tss2_RC_Decode (r));
    else {
        r = Esys_Initialize (&self->ectx, self->tcti, NULL);
        if (r != TSS2_RC_SUCCESS)
            zsys_error ("tpm: initialise ESYS: %s", Tss2_RC_Decode (r));
    }
    if (r != TSS2_RC_SUCCESS)
        tpm_destroy (&self);
    return self;
}

//  --------------------------------------------------------------------------
//  Test hook: fail the nth TPM command from now (flushes never fail)

void
tpm_set_fault (tpm_t *self, unsigned nth)
{
    assert (self);
    self->calls = 0;
    self->fault_at = nth;
}

//  --------------------------------------------------------------------------
//  Flush the cached EK, close ESYS and the TCTI

void
tpm_ek_flush (tpm_t *self)
{
    if (self->ek != ESYS_TR_NONE) {
        TSS2_RC r = Esys_FlushContext (self->ectx, self->ek);
        if (r != TSS2_RC_SUCCESS)
            zsys_warning ("tpm: flush EK: %s", Tss2_RC_Decode (r));
        self->ek = ESYS_TR_NONE;
    }
    Esys_Free (self->ek_public);
    self->ek_public = NULL;
}

void
tpm_destroy (tpm_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        tpm_t *self = *self_p;
        if (self->ectx) {
            tpm_ek_flush (self);
            Esys_Finalize (&self->ectx);
        }
        if (self->tcti)
            Tss2_TctiLdr_Finalize (&self->tcti);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Marshal a TPM2B_PUBLIC into a new chunk

zchunk_t *
tpm_public_chunk (const TPM2B_PUBLIC *public)
{
    byte buffer [sizeof (TPM2B_PUBLIC)];
    size_t offset = 0;
    if (Tss2_MU_TPM2B_PUBLIC_Marshal (public, buffer, sizeof buffer, &offset) != TSS2_RC_SUCCESS)
        return NULL;
    return zchunk_new (buffer, offset);
}

//  Name of a loaded object as a new chunk

zchunk_t *
tpm_name_chunk (tpm_t *self, ESYS_TR handle)
{
    TPM2B_NAME *name = NULL;
    zchunk_t *chunk = NULL;
    TSS2_RC r = Esys_TR_GetName (self->ectx, handle, &name);
    if (r == TSS2_RC_SUCCESS)
        chunk = zchunk_new (name->name, name->size);
    else
        zsys_error ("tpm: get name: %s", Tss2_RC_Decode (r));
    Esys_Free (name);
    return chunk;
}

//  --------------------------------------------------------------------------
//  Start a policy session satisfied by PolicySecret(TPM_RH_ENDORSEMENT): the
//  only way to use the EK. The caller flushes *session_p.

int
tpm_endorsement_session (tpm_t *self, ESYS_TR *session_p)
{
    TPMT_SYM_DEF symmetric = { .algorithm = TPM2_ALG_NULL };
    *session_p = ESYS_TR_NONE;
    TSS2_RC r = tpm_fault (self)? TPM_FAULT_RC: Esys_StartAuthSession (self->ectx, ESYS_TR_NONE, ESYS_TR_NONE,
        ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL,
        TPM2_SE_POLICY, &symmetric, TPM2_ALG_SHA256, session_p);
    if (r != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: start policy session: %s", Tss2_RC_Decode (r));
        *session_p = ESYS_TR_NONE;
        return -1;
    }
    //  Keep the session after use, so that it is always ours to flush
    r = Esys_TRSess_SetAttributes (self->ectx, *session_p,
        TPMA_SESSION_CONTINUESESSION, TPMA_SESSION_CONTINUESESSION);
    if (r == TSS2_RC_SUCCESS)
        r = tpm_fault (self)? TPM_FAULT_RC: Esys_PolicySecret (self->ectx, ESYS_TR_RH_ENDORSEMENT, *session_p,
            ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
            NULL, NULL, NULL, 0, NULL, NULL);
    if (r != TSS2_RC_SUCCESS) {
        zsys_error ("tpm: policy secret: %s", Tss2_RC_Decode (r));
        return -1;
    }
    return 0;
}

//  Flush a transient object or session if set, and clear the handle

void
tpm_flush (tpm_t *self, ESYS_TR *handle_p)
{
    if (*handle_p != ESYS_TR_NONE) {
        TSS2_RC r = Esys_FlushContext (self->ectx, *handle_p);
        if (r != TSS2_RC_SUCCESS)
            zsys_warning ("tpm: flush: %s", Tss2_RC_Decode (r));
        *handle_p = ESYS_TR_NONE;
    }
}
