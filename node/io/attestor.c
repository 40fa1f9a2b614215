/*  attestor - quotes and event logs for boot attestation, off the loop  */

#include <czmq.h>
#include <openssl/crypto.h>
#include "proto/tpmmsg.h"
#include "node/io/tpm.h"
#include "node/io/attestor.h"
#include "node/io/imalog.h"
#include "proto/eventlog.h"

typedef struct {
    tpm_t *tpm;
    char *event_log;
    char *ima_log;                  //  NULL: no runtime attestation
    zchunk_t *ak_blob;
    zchunk_t *ak_public;                //  Sent with evidence: a site server
                                        //  checks it against our certificate
} s_self_t;

static zchunk_t *
s_read_log (const char *path)
{
    zfile_t *file = zfile_new (NULL, path);
    zchunk_t *log = file && zfile_input (file) == 0
                  ? zfile_read (file, TPMMSG_EVENT_LOG_MAX + 1, 0): NULL;
    zfile_destroy (&file);
    return log;
}

//  The PCRs of mask, ascending, 32 bytes each
static int
s_read_pcrs (tpm_t *tpm, uint32_t mask, uint8_t *pcrs, size_t *count_p)
{
    *count_p = 0;
    for (int pcr = 0; pcr < EVENTLOG_PCRS; pcr++)
        if ((mask & (1u << pcr)) && tpm_pcr_read (tpm, pcr, pcrs + 32 * (*count_p)++))
            return -1;
    return 0;
}

static void
s_challenge (s_self_t *self, zsock_t *pipe, zmsg_t *request)
{
    zframe_t *nonce = zmsg_pop (request);
    zframe_t *mask_frame = zmsg_pop (request);
    zframe_t *ima_frame = zmsg_pop (request);
    zframe_t *pcr10_frame = zmsg_pop (request);
    zchunk_t *attest = NULL, *sig = NULL, *log = NULL, *ima_list = NULL;
    const char *error = NULL;
    char ima_error [256];
    uint32_t mask = 0;
    uint64_t ima_from = 0;
    if (!nonce || !mask_frame || zframe_size (mask_frame) != 4
    ||  (ima_frame && zframe_size (ima_frame) != 8)
    ||  (ima_frame && (!pcr10_frame || zframe_size (pcr10_frame) != 32)))
        error = "bad request";
    else {
        const byte *m = zframe_data (mask_frame);
        mask = (uint32_t) m [0] << 24 | (uint32_t) m [1] << 16 | (uint32_t) m [2] << 8 | m [3];
        for (size_t i = 0; ima_frame && i < 8; i++)
            ima_from = ima_from << 8 | zframe_data (ima_frame) [i];
    }
    if (!error && (!self->tpm || !self->ak_blob))
        error = "TPM unavailable";
    //  The values must be those the quote covers: read them before and
    //  after it, and quote again if a PCR moved in between (IMA extends
    //  PCR 10 at any time)
    uint8_t pcrs [EVENTLOG_PCRS * 32], after [EVENTLOG_PCRS * 32];
    size_t count = 0;
    for (int attempt = 0; !error; attempt++) {
        zchunk_destroy (&attest);
        zchunk_destroy (&sig);
        if (s_read_pcrs (self->tpm, mask, pcrs, &count)
        ||  tpm_quote (self->tpm, self->ak_blob, mask, zframe_data (nonce),
                       zframe_size (nonce), &attest, &sig)
        ||  s_read_pcrs (self->tpm, mask, after, &count))
            error = "quote failed";
        else
        if (memcmp (pcrs, after, 32 * count) == 0)
            break;
        else
        if (attempt == 3)
            error = "PCRs kept changing during the quote";
    }
    //  The IMA list is read after the quote: it then holds every entry
    //  the quote covers (the verifier uses the prefix that replays)
    if (!error && ima_frame && self->ima_log
    &&  imalog_read (self->ima_log, ima_from, zframe_data (pcr10_frame), TPMMSG_IMA_LIST_MAX,
                     &ima_list, &ima_from, ima_error, sizeof ima_error))
        error = ima_error;
    if (!error) {
        log = s_read_log (self->event_log);
        if (!log)
            zsys_warning ("attest: no event log at %s; sending none", self->event_log);
        else
        if (zchunk_size (log) > TPMMSG_EVENT_LOG_MAX)
            error = "event log too large";
    }
    if (error)
        zsock_send (pipe, "ss", "ERROR", error);
    else {
        tpmmsg_t msg;
        memset (&msg, 0, sizeof msg);
        msg.type = MSG_ATTEST_EVIDENCE;
        msg.nonce = zframe_data (nonce);
        msg.nonce_size = zframe_size (nonce);
        msg.pcr_mask = mask;
        msg.attest = zchunk_data (attest);
        msg.attest_size = zchunk_size (attest);
        msg.signature = zchunk_data (sig);
        msg.signature_size = zchunk_size (sig);
        msg.pcrs = pcrs;
        msg.pcrs_size = 32 * count;
        msg.event_log = log? zchunk_data (log): NULL;
        msg.event_log_size = log? zchunk_size (log): 0;
        //  Asked for IMA without --ima-log: no list, the verdict says so
        msg.ima = ima_list != NULL;
        msg.ima_from = ima_from;
        msg.ima_list = ima_list? (const char *) zchunk_data (ima_list): NULL;
        msg.ima_list_size = ima_list? zchunk_size (ima_list): 0;
        msg.ak_public = self->ak_public? zchunk_data (self->ak_public): NULL;
        msg.ak_public_size = self->ak_public? zchunk_size (self->ak_public): 0;
        uint8_t *payload = NULL;
        size_t size = 0;
        int rc = tpmmsg_encode (&msg, &payload, &size);
        if (rc)
            zsock_send (pipe, "ss", "ERROR", proto_strerror (rc));
        else
            zsock_send (pipe, "sb", "EVIDENCE", payload, size);
        free (payload);
    }
    zchunk_destroy (&attest);
    zchunk_destroy (&sig);
    zchunk_destroy (&log);
    zchunk_destroy (&ima_list);
    zframe_destroy (&nonce);
    zframe_destroy (&mask_frame);
    zframe_destroy (&ima_frame);
    zframe_destroy (&pcr10_frame);
}

static void
s_measure (s_self_t *self, zsock_t *pipe, zmsg_t *request)
{
    zframe_t *pcr = zmsg_pop (request);
    zframe_t *data = zmsg_pop (request);
    const char *error = NULL;
    if (!pcr || zframe_size (pcr) != 1 || *zframe_data (pcr) >= EVENTLOG_PCRS || !data)
        error = "bad request";
    else
    if (!self->tpm)
        error = "TPM unavailable";
    zchunk_t *log = error? NULL: s_read_log (self->event_log);
    uint8_t digest [32];
    if (!error) {
        eventlog_append (&log, *zframe_data (pcr), zframe_data (data),
                                zframe_size (data), digest);
        zfile_t *file = zfile_new (NULL, self->event_log);
        if (!file || zfile_output (file) || zfile_write (file, log, 0))
            error = "cannot write the event log";
        zfile_destroy (&file);
    }
    if (!error && tpm_pcr_extend (self->tpm, *zframe_data (pcr), digest))
        error = "PCR extend failed";
    zsock_send (pipe, "ss", error? "ERROR": "OK", error? error: "");
    zchunk_destroy (&log);
    zframe_destroy (&pcr);
    zframe_destroy (&data);
}

void
attestor_actor (zsock_t *pipe, void *args)
{
    attestor_config_t *config = (attestor_config_t *) args;
    s_self_t self;
    memset (&self, 0, sizeof self);
    self.tpm = tpm_new (config->tcti);
    self.event_log = strdup (config->event_log? config->event_log: ATTESTOR_EVENT_LOG);
    self.ima_log = config->ima_log && *config->ima_log? strdup (config->ima_log): NULL;
    self.ak_blob = config->ak_blob? zchunk_dup (config->ak_blob): NULL;
    if (self.ak_blob)
        tpm_ak_blob_public (self.ak_blob, &self.ak_public, NULL);
    zsock_signal (pipe, 0);
    while (true) {
        zmsg_t *request = zmsg_recv (pipe);
        if (!request)
            break;
        char *command = zmsg_popstr (request);
        bool term = command && streq (command, "$TERM");
        if (command && streq (command, "CHALLENGE"))
            s_challenge (&self, pipe, request);
        else
        if (command && streq (command, "MEASURE"))
            s_measure (&self, pipe, request);
        else
        if (!term)
            zsock_send (pipe, "ss", "ERROR", "unknown request");
        free (command);
        zmsg_destroy (&request);
        if (term)
            break;
    }
    tpm_destroy (&self.tpm);
    zchunk_destroy (&self.ak_blob);
    zchunk_destroy (&self.ak_public);
    free (self.event_log);
    free (self.ima_log);
    OPENSSL_thread_stop ();         //  As tpm_actor does: ESYS used OpenSSL here
}

void
attestor_test (bool verbose)
{
    printf (" * attestor: ");
    (void) verbose;
    //  @selftest
    //  Without a TPM every request is answered, with an error
    attestor_config_t config = { "swtpm:host=127.0.0.1,port=1", "/nonexistent/log", NULL,
                                 NULL };
    zactor_t *actor = zactor_new (attestor_actor, &config);
    assert (actor);
    uint8_t nonce [32] = { 0 };
    uint8_t mask [4] = { 0, 0, 1, 0 };
    zsock_send (actor, "sbb", "CHALLENGE", nonce, sizeof nonce, mask, sizeof mask);
    char *status = NULL, *reason = NULL;
    zsock_recv (actor, "ss", &status, &reason);
    assert (streq (status, "ERROR") && streq (reason, "TPM unavailable"));
    zstr_free (&status);
    zstr_free (&reason);
    zactor_destroy (&actor);
    //  @end
    printf ("OK\n");
}
