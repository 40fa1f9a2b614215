/*  identity - the node's keys, certificate and enrolment (DIR/node.key)
    node.key entries: name, type, sign_public, sign_secret, curve_public,
    curve_secret; after enrolment also tenant, cert, ca_key, coord_cert
    (hex). On load the certificates are verified again against the root
    key, so a tampered file is refused rather than half trusted. Their
    validity period is not checked here: a device whose clock is wrong
    must still reach the coordinator to be told.  */

#include <czmq.h>
#include <sodium.h>
#include <sys/stat.h>
#include "node/io/identity.h"
#include "proto/io/filewrite.h"
#include "proto/io/fsperm.h"
#include "proto/io/keyfile.h"
#include "proto/io/tcplink.h"
#include "node/core/enrol.h"
#include "node/io/tpm.h"
#include "proto/cert.h"
#include "proto/envelope.h"
#include "proto/seal.h"
#include "proto/msg.h"

struct _identity_t {
    char *path;                         //  DIR/node.key
    char *root_path;                    //  DIR/release-root
    keyfile_t *file;                    //  Its contents
    keys_t keys;                        //  Our keys; wiped on destroy
    char name [WEFT_NAME_MAX + 1];      //  Device id
    char type [WEFT_NAME_MAX + 1];      //  Device type
    char tenant [WEFT_NAME_MAX + 1];    //  From our certificate
    bool enrolled;                      //  Certificates present and verified
    cert_t coord;                       //  Coordinator certificate
};

//  Read keys from the file. Returns 0 or -1.
static int
s_read_keys (identity_t *self)
{
    keyfile_t *file = self->file;
    if (keyfile_get_bin (file, "sign_public", self->keys.sign_public, WEFT_KEY_SIZE)
    ||  keyfile_get_bin (file, "sign_secret", self->keys.sign_secret, WEFT_SECRET_SIZE)
    ||  keyfile_get_bin (file, "curve_public", self->keys.curve_public, WEFT_KEY_SIZE)
    ||  keyfile_get_bin (file, "curve_secret", self->keys.curve_secret, WEFT_KEY_SIZE))
        return -1;
    //  The secret half must match the public half we advertise
    uint8_t check [WEFT_KEY_SIZE];
    crypto_sign_ed25519_sk_to_pk (check, self->keys.sign_secret);
    if (sodium_memcmp (check, self->keys.sign_public, WEFT_KEY_SIZE) != 0)
        return -1;
    crypto_scalarmult_base (check, self->keys.curve_secret);
    if (sodium_memcmp (check, self->keys.curve_public, WEFT_KEY_SIZE) != 0)
        return -1;
    return 0;
}

//  Verify the enrolment entries, if any. Returns 0 or -1.
static int
s_read_enrolment (identity_t *self, char *error, size_t error_size)
{
    if (!keyfile_get (self->file, "cert"))
        return 0;
    uint8_t ca_key [WEFT_KEY_SIZE];
    size_t cert_size = 0, coord_size = 0;
    uint8_t *cert_data = keyfile_get_blob (self->file, "cert", &cert_size);
    uint8_t *coord_data = keyfile_get_blob (self->file, "coord_cert", &coord_size);
    cert_t node;
    int rc = -1;
    if (keyfile_get_bin (self->file, "ca_key", ca_key, WEFT_KEY_SIZE) != 0
    ||  !cert_data || !coord_data)
        snprintf (error, error_size, "%s: enrolment entries are incomplete", self->path);
    else
    if (cert_decode (&self->coord, coord_data, coord_size, ca_key, 0) != 0
    ||  self->coord.kind != CERT_KIND_COORDINATOR)
        snprintf (error, error_size, "%s: coordinator certificate does not verify",
                  self->path);
    else
    if (cert_decode (&node, cert_data, cert_size, ca_key, 0) != 0
    ||  memcmp (node.sign_key, self->keys.sign_public, WEFT_KEY_SIZE) != 0
    ||  memcmp (node.curve_key, self->keys.curve_public, WEFT_KEY_SIZE) != 0)
        snprintf (error, error_size, "%s: our certificate does not verify", self->path);
    else {
        snprintf (self->name, sizeof self->name, "%s", node.subject);
        snprintf (self->tenant, sizeof self->tenant, "%s", node.tenant);
        self->enrolled = true;
        rc = 0;
    }
    free (cert_data);
    free (coord_data);
    return rc;
}

//  --------------------------------------------------------------------------
//  Load or create DIR/node.key.

identity_t *
identity_load (const char *dir, const char *name, const char *type,
               char *error, size_t error_size)
{
    assert (dir && name && type && error);
    if (strlen (name) == 0 || strlen (name) > WEFT_NAME_MAX
    ||  strlen (type) == 0 || strlen (type) > WEFT_NAME_MAX) {
        snprintf (error, error_size, "name and type must be 1 to %d characters",
                  WEFT_NAME_MAX);
        return NULL;
    }
    //  The data directory holds secrets and state: ours alone, made so
    //  or refused (proto/io/fsperm.h)
    if (fsperm_dir (dir, error, error_size) != 0)
        return NULL;
    identity_t *self = (identity_t *) zmalloc (sizeof (identity_t));
    self->path = zsys_sprintf ("%s/%s", dir, IDENTITY_FILE);
    self->root_path = zsys_sprintf ("%s/%s", dir, IDENTITY_RELEASE_ROOT);
    struct stat st;
    if (stat (self->path, &st) == 0) {
        const char *reason = NULL;
        self->file = keyfile_load (self->path, true, &reason);
        if (!self->file) {
            snprintf (error, error_size, "%s: %s", self->path, reason? reason: "unreadable");
            identity_destroy (&self);
            return NULL;
        }
        if (s_read_keys (self) != 0) {
            snprintf (error, error_size, "%s: keys are missing or do not match", self->path);
            identity_destroy (&self);
            return NULL;
        }
        const char *saved_name = keyfile_get (self->file, "name");
        const char *saved_type = keyfile_get (self->file, "type");
        snprintf (self->name, sizeof self->name, "%s", saved_name? saved_name: name);
        snprintf (self->type, sizeof self->type, "%s", saved_type? saved_type: type);
        if (s_read_enrolment (self, error, error_size) != 0) {
            identity_destroy (&self);
            return NULL;
        }
        if (!self->enrolled && (strcmp (self->name, name) || strcmp (self->type, type))) {
            //  Not enrolled yet: the latest name and type asked for win
            snprintf (self->name, sizeof self->name, "%s", name);
            snprintf (self->type, sizeof self->type, "%s", type);
            keyfile_set (self->file, "name", self->name);
            keyfile_set (self->file, "type", self->type);
            if (keyfile_save (self->file, self->path, true) != 0) {
                snprintf (error, error_size, "cannot write %s", self->path);
                identity_destroy (&self);
                return NULL;
            }
        }
    }
    else {
        keys_generate (&self->keys);
        snprintf (self->name, sizeof self->name, "%s", name);
        snprintf (self->type, sizeof self->type, "%s", type);
        self->file = keyfile_new ();
        keyfile_set (self->file, "name", self->name);
        keyfile_set (self->file, "type", self->type);
        keyfile_set_bin (self->file, "sign_public", self->keys.sign_public, WEFT_KEY_SIZE);
        keyfile_set_bin (self->file, "sign_secret", self->keys.sign_secret, WEFT_SECRET_SIZE);
        keyfile_set_bin (self->file, "curve_public", self->keys.curve_public, WEFT_KEY_SIZE);
        keyfile_set_bin (self->file, "curve_secret", self->keys.curve_secret, WEFT_KEY_SIZE);
        if (keyfile_save (self->file, self->path, true) != 0) {
            snprintf (error, error_size, "cannot write %s", self->path);
            identity_destroy (&self);
            return NULL;
        }
        zsys_info ("node: created identity %s", self->path);
    }
    return self;
}

void
identity_destroy (identity_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        identity_t *self = *self_p;
        keys_wipe (&self->keys);
        keyfile_destroy (&self->file);
        free (self->path);
        free (self->root_path);
        free (self);
        *self_p = NULL;
    }
}

bool
identity_enrolled (identity_t *self)
{
    assert (self);
    return self->enrolled;
}

//  Write DIR/release-root whole (readable by all: it is public, and
//  what the update module trusts first). Returns 0 or -1 with error set.
static int
s_write_release_root (identity_t *self, const uint8_t *root, size_t size, char *error,
                      size_t error_size)
{
    char *why = NULL;
    if (filewrite_atomic (self->root_path, root, size, 0644, &why) == 0)
        return 0;
    snprintf (error, error_size, "%s", why);
    free (why);
    return -1;
}

int
identity_pin_release_root (identity_t *self, const uint8_t *root, size_t size,
                           char *error, size_t error_size)
{
    assert (self && error);
    if (!self->enrolled) {
        snprintf (error, error_size, "not enrolled yet: the release root comes with "
                  "enrolment, or is pinned once the node knows its tenant");
        return -1;
    }
    if (enrol_release_root_check (root, size, self->tenant, error, error_size))
        return -1;
    return s_write_release_root (self, root, size, error, error_size);
}

//  Save an accepted enrolment; clears result. The release root first:
//  if it cannot be written the enrolment is not saved, and the next
//  start enrols again (the coordinator answers with the same
//  certificate). One already there stays: enrolment never replaces it.
static int
s_save_enrolment (identity_t *self, enrol_result_t *result, char *error, size_t error_size)
{
    struct stat st;
    if (result->release_root && stat (self->root_path, &st) != 0
    &&  s_write_release_root (self, result->release_root, result->release_root_size,
                              error, error_size)) {
        enrol_result_clear (result);
        return PROTO_ERR_IO;
    }
    keyfile_set (self->file, "tenant", result->node.tenant);
    keyfile_set_bin (self->file, "cert", result->cert, result->cert_size);
    keyfile_set_bin (self->file, "ca_key", result->ca_key, WEFT_KEY_SIZE);
    keyfile_set_bin (self->file, "coord_cert", result->coord_cert, result->coord_cert_size);
    self->coord = result->coord;
    snprintf (self->tenant, sizeof self->tenant, "%s", result->node.tenant);
    enrol_result_clear (result);
    if (keyfile_save (self->file, self->path, true) != 0) {
        snprintf (error, error_size, "enrolled, but cannot write %s", self->path);
        return PROTO_ERR_IO;
    }
    self->enrolled = true;
    return 0;
}

//  --------------------------------------------------------------------------
//  Enrol: one request, one answer, over CURVE to the token's server key.

int
identity_enrol (identity_t *self, const char *endpoint, const char *token,
                int timeout_ms, char *error, size_t error_size)
{
    assert (self && endpoint && error);
    enrol_token_t parsed;
    if (enrol_token_parse (token, &parsed, error, error_size) != 0)
        return PROTO_ERR_VALUE;
    uint8_t *frame = NULL;
    size_t size = 0;
    if (enrol_request_encode (&self->keys, self->name, self->type, token,
                              (uint64_t) zclock_time (), &frame, &size) != 0) {
        snprintf (error, error_size, "cannot build the enrolment request");
        return PROTO_ERR_INTERNAL;
    }
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_linger (dealer, 0);
    zsock_set_immediate (dealer, 1);
    tcplink_tune (dealer, TCPLINK_HEARTBEAT_MS);
    zsock_set_curve_serverkey_bin (dealer, parsed.server_key);
    zsock_set_curve_publickey_bin (dealer, self->keys.curve_public);
    zsock_set_curve_secretkey_bin (dealer, self->keys.curve_secret);
    int rc = PROTO_ERR_TIMEOUT;
    zmsg_t *reply = NULL;
    if (zsock_connect (dealer, "%s", endpoint) != 0) {
        snprintf (error, error_size, "bad enrol endpoint %s", endpoint);
        rc = PROTO_ERR_VALUE;
    }
    else {
        //  With IMMEDIATE the request waits for the CURVE handshake, so a
        //  blocking send with a timeout tells "no coordinator" apart
        zsock_set_sndtimeo (dealer, timeout_ms);
        int64_t deadline = zclock_mono () + timeout_ms;
        zframe_t *request = zframe_new (frame, size);
        if (zframe_send (&request, dealer, 0) != 0) {
            zframe_destroy (&request);
            snprintf (error, error_size,
                      "no connection to %s within %d s (is the coordinator running, "
                      "and is the token for it?)", endpoint, timeout_ms / 1000);
        }
        else {
            zpoller_t *poller = zpoller_new (dealer, NULL);
            int64_t wait = deadline - zclock_mono ();
            void *which = zpoller_wait (poller, wait > 0? (int) wait: 0);
            if (which == dealer)
                reply = zmsg_recv (dealer);
            zpoller_destroy (&poller);
            if (!reply)
                snprintf (error, error_size, "no answer from %s within %d s",
                          endpoint, timeout_ms / 1000);
        }
    }
    free (frame);
    zsock_destroy (&dealer);
    if (!reply)
        return rc;

    zframe_t *last = zmsg_last (reply);
    enrol_result_t result;
    rc = enrol_response_check (zframe_data (last), zframe_size (last), &self->keys,
                               self->name, parsed.server_key, 0, &result,
                               error, error_size);
    zmsg_destroy (&reply);
    if (rc != 0)
        return rc;
    return s_save_enrolment (self, &result, error, error_size);
}

//  --------------------------------------------------------------------------
//  TPM onboarding

//  One request to the TPM actor; the reply's frames after "OK", or NULL
//  with the actor's reason in error.
static zmsg_t *
s_tpm_call (zactor_t *tpm, zmsg_t **request_p, int timeout_ms, char *error,
            size_t error_size)
{
    zmsg_send (request_p, tpm);
    zpoller_t *poller = zpoller_new (tpm, NULL);
    void *which = zpoller_wait (poller, timeout_ms);
    zpoller_destroy (&poller);
    zmsg_t *reply = which? zmsg_recv (tpm): NULL;
    char *status = reply? zmsg_popstr (reply): NULL;
    if (!status || strcmp (status, "OK")) {
        char *reason = reply? zmsg_popstr (reply): NULL;
        snprintf (error, error_size, "TPM: %s", reason? reason: "no answer");
        free (reason);
        zmsg_destroy (&reply);
    }
    free (status);
    return reply;
}

//  The EK of type (0: the one the TPM is provisioned with): the reply's
//  frames public, name, cert (empty if none), type
static zmsg_t *
s_tpm_ek (zactor_t *tpm, tpm_key_type_t type, int timeout_ms, char *error,
          size_t error_size)
{
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, "EK");
    byte type_byte = (byte) type;
    zmsg_addmem (request, &type_byte, 1);
    zmsg_t *reply = s_tpm_call (tpm, &request, timeout_ms, error, error_size);
    zframe_t *last = reply? zmsg_last (reply): NULL;
    if (reply && (zmsg_size (reply) != 4 || zframe_size (last) != 1)) {
        snprintf (error, error_size, "TPM: malformed EK reply");
        zmsg_destroy (&reply);
    }
    if (reply)
        zsys_info ("node: the TPM's EK is %s%s", zframe_data (last) [0] == TPM_KEY_RSA
                   ? "RSA-2048": "ECC NIST P-256", type? " (as asked)": "");
    return reply;
}

int
identity_ek_type_parse (const char *text, tpm_key_type_t *type_p)
{
    assert (type_p);
    if (!text || !*text || streq (text, "auto"))
        *type_p = (tpm_key_type_t) 0;
    else
    if (streq (text, "rsa"))
        *type_p = TPM_KEY_RSA;
    else
    if (streq (text, "ecc"))
        *type_p = TPM_KEY_ECC;
    else
        return -1;
    return 0;
}

int
identity_tpm_ek_write (zactor_t *tpm, tpm_key_type_t type, const char *path, int timeout_ms,
                       char *error, size_t error_size)
{
    assert (tpm && path && error);
    zmsg_t *reply = s_tpm_ek (tpm, type, timeout_ms, error, error_size);
    if (!reply)
        return -1;
    zframe_t *public = zmsg_first (reply);
    //  Public, but written like every file Weft writes: its owner's alone
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *file = fd >= 0? fdopen (fd, "wb"): NULL;
    if (fd >= 0 && !file)
        close (fd);
    int rc = file && fwrite (zframe_data (public), 1, zframe_size (public), file)
                     == zframe_size (public)? 0: -1;
    if (file && fclose (file))
        rc = -1;
    if (rc)
        snprintf (error, error_size, "cannot write %s: %s", path, strerror (errno));
    zmsg_destroy (&reply);
    return rc;
}

zchunk_t *
identity_ak_blob (identity_t *self)
{
    assert (self);
    size_t size = 0;
    uint8_t *blob = keyfile_get_blob (self->file, "ak_blob", &size);
    zchunk_t *chunk = blob? zchunk_new (blob, size): NULL;
    free (blob);
    return chunk;
}

//  Send one frame on dealer and wait for the answer until deadline.
static zmsg_t *
s_exchange (zsock_t *dealer, uint8_t *frame, size_t size, int64_t deadline,
            const char *endpoint, char *error, size_t error_size)
{
    int64_t wait = deadline - zclock_mono ();
    zsock_set_sndtimeo (dealer, wait > 0? (int) wait: 0);
    zframe_t *request = zframe_new (frame, size);
    if (zframe_send (&request, dealer, 0) != 0) {
        zframe_destroy (&request);
        snprintf (error, error_size, "no connection to %s (is the coordinator running, "
                  "and is its key right?)", endpoint);
        return NULL;
    }
    zpoller_t *poller = zpoller_new (dealer, NULL);
    wait = deadline - zclock_mono ();
    void *which = zpoller_wait (poller, wait > 0? (int) wait: 0);
    zpoller_destroy (&poller);
    zmsg_t *reply = which == dealer? zmsg_recv (dealer): NULL;
    if (!reply)
        snprintf (error, error_size, "no answer from %s", endpoint);
    return reply;
}

int
identity_enrol_tpm (identity_t *self, const char *endpoint, const uint8_t server_key [32],
                    zactor_t *tpm, tpm_key_type_t ek_type, const char *token, int timeout_ms,
                    char *error, size_t error_size)
{
    assert (self && endpoint && server_key && tpm && error);
    int rc = PROTO_ERR_IO;          //  Until the exchange: the TPM or the key file failed
    zmsg_t *ek = NULL, *ak = NULL, *reply = NULL;
    zchunk_t *ak_blob = identity_ak_blob (self);
    zchunk_t *ak_public = NULL, *secret = NULL;
    zsock_t *dealer = NULL;
    uint8_t *frame = NULL;
    size_t size = 0;
    enrol_tpm_challenge_t challenge;
    memset (&challenge, 0, sizeof challenge);
    int64_t deadline = zclock_mono () + timeout_ms;

    //  EK (and its certificate, if the vendor put one in NV): an AK made
    //  before lives under the EK its blob names, so that EK it is
    if (ak_blob && tpm_ak_blob_ek_type (ak_blob)) {
        if (ek_type && ek_type != tpm_ak_blob_ek_type (ak_blob)) {
            snprintf (error, error_size, "the AK in %s was made under the %s EK, not the one "
                      "--ek-type asks for", self->path,
                      tpm_ak_blob_ek_type (ak_blob) == TPM_KEY_RSA? "RSA": "ECC");
            rc = PROTO_ERR_VALUE;
            goto done;
        }
        ek_type = tpm_ak_blob_ek_type (ak_blob);
    }
    ek = s_tpm_ek (tpm, ek_type, timeout_ms, error, error_size);
    if (!ek)
        goto done;
    zframe_t *ek_frame = zmsg_first (ek);
    zmsg_next (ek);                             //  Name
    zframe_t *cert_frame = zmsg_next (ek);
    byte ek_type_byte = zframe_data (zmsg_last (ek)) [0];
    zchunk_t *ek_public = zchunk_new (zframe_data (ek_frame), zframe_size (ek_frame));
    zchunk_t *ek_cert = cert_frame && zframe_size (cert_frame)
                      ? zchunk_new (zframe_data (cert_frame), zframe_size (cert_frame)): NULL;
    //  The AK: made once, kept for life in the key file
    if (ak_blob && tpm_ak_blob_public (ak_blob, &ak_public, NULL) != 0)
        zchunk_destroy (&ak_blob);
    if (!ak_blob) {
        zmsg_t *request = zmsg_new ();
        zmsg_addstr (request, "AK");
        byte ak_type = TPM_KEY_ECC;
        zmsg_addmem (request, &ek_type_byte, 1);
        zmsg_addmem (request, &ak_type, 1);
        ak = s_tpm_call (tpm, &request, timeout_ms, error, error_size);
        if (!ak) {
            zchunk_destroy (&ek_public);
            zchunk_destroy (&ek_cert);
            goto done;
        }
        zframe_t *blob = zmsg_first (ak);
        zframe_t *public = zmsg_next (ak);
        ak_blob = zchunk_new (zframe_data (blob), zframe_size (blob));
        ak_public = zchunk_new (zframe_data (public), zframe_size (public));
        keyfile_set_bin (self->file, "ak_blob", zchunk_data (ak_blob), zchunk_size (ak_blob));
        if (keyfile_save (self->file, self->path, true) != 0) {
            snprintf (error, error_size, "cannot write %s", self->path);
            zchunk_destroy (&ek_public);
            zchunk_destroy (&ek_cert);
            goto done;
        }
    }
    dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_linger (dealer, 0);
    zsock_set_immediate (dealer, 1);
    tcplink_tune (dealer, TCPLINK_HEARTBEAT_MS);
    zsock_set_curve_serverkey_bin (dealer, server_key);
    zsock_set_curve_publickey_bin (dealer, self->keys.curve_public);
    zsock_set_curve_secretkey_bin (dealer, self->keys.curve_secret);
    if (zsock_connect (dealer, "%s", endpoint) != 0) {
        snprintf (error, error_size, "bad enrol endpoint %s", endpoint);
        zchunk_destroy (&ek_public);
        zchunk_destroy (&ek_cert);
        rc = PROTO_ERR_VALUE;
        goto done;
    }
    rc = PROTO_ERR_TIMEOUT;         //  Until an answer comes
    //  Step 1: request, challenge
    if (enrol_tpm_request_encode (&self->keys, self->name, self->type, token, ek_public,
                                  ek_cert, ak_public, NULL, NULL,
                                  (uint64_t) zclock_time (), &frame, &size) == 0)
        reply = s_exchange (dealer, frame, size, deadline, endpoint, error, error_size);
    else {
        snprintf (error, error_size, "cannot build the TPM enrolment request");
        rc = PROTO_ERR_INTERNAL;
    }
    free (frame);
    frame = NULL;
    int step = reply? enrol_tpm_challenge_decode (zframe_data (zmsg_last (reply)),
                                                  zframe_size (zmsg_last (reply)),
                                                  &challenge, error, error_size)
                    : PROTO_ERR_TIMEOUT;
    if (step == 0) {
        //  Step 2: only our TPM recovers the secret
        zmsg_destroy (&reply);
        zmsg_t *request = zmsg_new ();
        zmsg_addstr (request, "ACTIVATE");
        zmsg_addmem (request, zchunk_data (ak_blob), zchunk_size (ak_blob));
        zmsg_addmem (request, zchunk_data (challenge.credential),
                     zchunk_size (challenge.credential));
        zmsg_addmem (request, zchunk_data (challenge.secret), zchunk_size (challenge.secret));
        zmsg_t *activated = s_tpm_call (tpm, &request, timeout_ms, error, error_size);
        rc = PROTO_ERR_IO;          //  Unless the TPM recovers the secret
        zframe_t *recovered = activated? zmsg_first (activated): NULL;
        if (recovered && zframe_size (recovered) == TPMMSG_PROOF_SIZE) {
            secret = zchunk_new (zframe_data (recovered), zframe_size (recovered));
            sodium_memzero (zframe_data (recovered), zframe_size (recovered));
            rc = PROTO_ERR_TIMEOUT;
        }
        else
        if (activated)
            snprintf (error, error_size, "TPM: recovered secret has the wrong size");
        zmsg_destroy (&activated);
        if (secret
        &&  enrol_tpm_request_encode (&self->keys, self->name, self->type, token, ek_public,
                                      ek_cert, ak_public, challenge.ticket,
                                      zchunk_data (secret), (uint64_t) zclock_time (),
                                      &frame, &size) == 0)
            reply = s_exchange (dealer, frame, size, deadline, endpoint, error, error_size);
        else
        if (secret) {
            snprintf (error, error_size, "cannot build the TPM proof");
            rc = PROTO_ERR_INTERNAL;
        }
        free (frame);
        frame = NULL;
    }
    zchunk_destroy (&ek_public);
    zchunk_destroy (&ek_cert);
    if (!reply)
        goto done;
    //  The answer: certificate or refusal, checked in full; a refusal at
    //  step 1 carries no device id, so the name we asked for is used
    const char *name = challenge.device [0]? challenge.device: self->name;
    enrol_result_t result;
    zframe_t *last = zmsg_last (reply);
    rc = enrol_response_check (zframe_data (last), zframe_size (last), &self->keys,
                               name, server_key, 0, &result, error, error_size);
    if (rc != 0)
        goto done;
    if (result.node.ak_name_size != CERT_AK_NAME_SIZE) {
        snprintf (error, error_size, "our certificate does not carry our AK");
        enrol_result_clear (&result);
        rc = PROTO_ERR_BAD_REPLY;
        goto done;
    }
    snprintf (self->name, sizeof self->name, "%s", result.node.subject);
    keyfile_set (self->file, "name", self->name);
    rc = s_save_enrolment (self, &result, error, error_size);
done:
    enrol_tpm_challenge_clear (&challenge);
    if (secret)
        sodium_memzero (zchunk_data (secret), zchunk_size (secret));
    zchunk_destroy (&secret);
    zchunk_destroy (&ak_blob);
    zchunk_destroy (&ak_public);
    zmsg_destroy (&ek);
    zmsg_destroy (&ak);
    zmsg_destroy (&reply);
    zsock_destroy (&dealer);
    return rc;
}

//  --------------------------------------------------------------------------
//  Accessors.

const keys_t *
identity_keys (identity_t *self)
{
    assert (self);
    return &self->keys;
}

const char *
identity_name (identity_t *self)
{
    assert (self);
    return self->name;
}

const char *
identity_tenant (identity_t *self)
{
    assert (self);
    return self->tenant;
}

const char *
identity_type (identity_t *self)
{
    assert (self);
    return self->type;
}

const uint8_t *
identity_coord_sign (identity_t *self)
{
    assert (self);
    return self->enrolled? self->coord.sign_key: NULL;
}

const uint8_t *
identity_coord_curve (identity_t *self)
{
    assert (self);
    return self->enrolled? self->coord.curve_key: NULL;
}

const char *
identity_path (identity_t *self)
{
    assert (self);
    return self->path;
}

