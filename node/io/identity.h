/*  identity - the node's keys, certificate and enrolment (DIR/node.key)
    The key file is made on first start (mode 0600) and reused at every
    restart, so a node keeps its keys for life. Enrolment runs once: its
    result (certificate, root key, coordinator certificate, tenant) is
    written into the same file, and an enrolled node never enrols again.
    The tenant's release root that comes with the certificate is pinned
    in DIR/release-root (mode 0644, the signed bytes as weft-artifact
    wrote them), written before the key file and never replaced by an
    enrolment; identity_pin_release_root writes it by hand.  */

#ifndef WEFT_IDENTITY_H_INCLUDED
#define WEFT_IDENTITY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>
#include "proto/keys.h"
#include "node/io/tpm.h"

#define IDENTITY_FILE   "node.key"
#define IDENTITY_RELEASE_ROOT   "release-root"  //  DIR/release-root: the pinned release root

typedef struct _identity_t identity_t;

//  Load DIR/node.key, or create it with fresh keys, name and type if it
//  does not exist. Returns NULL with a reason in error on failure (e.g.
//  the file is readable by others, or enrolment data does not verify).
identity_t *
    identity_load (const char *dir, const char *name, const char *type,
                   char *error, size_t error_size);

void
    identity_destroy (identity_t **self_p);

//  Pin root (a signed release root of this node's tenant:
//  enrol_release_root_check) in DIR/release-root, replacing the one
//  there (weft-node --pin-release-root: physical access, as enrolment).
//  The node must be enrolled, so that its tenant is known. Returns 0,
//  or -1 with the reason in error.
int
    identity_pin_release_root (identity_t *self, const uint8_t *root, size_t size,
                               char *error, size_t error_size);

//  Has this node enrolled?
bool
    identity_enrolled (identity_t *self);

//  Enrol with token at endpoint (a CURVE link to the token's server
//  key), waiting up to timeout_ms for the answer, and save the result.
//  Returns 0; PROTO_ERR_REFUSED if the coordinator refused (error holds
//  its message); else (error says why) PROTO_ERR_VALUE for a bad token
//  or endpoint, PROTO_ERR_TIMEOUT for no connection or answer in time,
//  PROTO_ERR_BAD_REPLY, PROTO_ERR_INTERNAL if the request cannot be
//  built, PROTO_ERR_IO if the key file cannot be written.
int
    identity_enrol (identity_t *self, const char *endpoint, const char *token,
                    int timeout_ms, char *error, size_t error_size);

//  Enrol with the TPM behind tpm (a tpm_actor, node/io/tpm.h): EK and
//  its certificate, an AK made once and kept in the key file (ak_blob),
//  TPM_ENROL_REQUEST, credential activation, TPM_PROOF, certificate
//  with the AK bound into it. server_key is the coordinator's CURVE key;
//  token may be NULL (pre-registered EK, or EK certificate from a
//  trusted vendor). The coordinator may assign another device id (the
//  pre-registration's): it becomes ours. Returns as identity_enrol
//  (PROTO_ERR_IO also when the TPM fails).
//  ek_type 0 presents the EK the TPM is provisioned with (tpm_ek_type),
//  or TPM_KEY_RSA / TPM_KEY_ECC that one (--ek-type); an AK made before
//  fixes it to the EK the AK was made under.
int
    identity_enrol_tpm (identity_t *self, const char *endpoint,
                        const uint8_t server_key [32], zactor_t *tpm,
                        tpm_key_type_t ek_type, const char *token,
                        int timeout_ms, char *error, size_t error_size);

//  Write the TPM's EK public (TPM2B_PUBLIC) of ek_type (0: the one the
//  TPM is provisioned with, as enrolment presents it) to path, for
//  weftctl device preregister. Returns 0 or -1 with a reason.
int
    identity_tpm_ek_write (zactor_t *tpm, tpm_key_type_t ek_type, const char *path,
                           int timeout_ms, char *error, size_t error_size);

//  --ek-type: "auto" (or empty, NULL) 0, "rsa", "ecc". Returns 0 or -1.
int
    identity_ek_type_parse (const char *text, tpm_key_type_t *type_p);

//  The AK blob saved at TPM enrolment (caller destroys), or NULL.
zchunk_t *
    identity_ak_blob (identity_t *self);

//  Our keys; borrowed.
const keys_t *
    identity_keys (identity_t *self);

//  Device id, tenant ("" until enrolled) and type.
const char *
    identity_name (identity_t *self);
const char *
    identity_tenant (identity_t *self);
const char *
    identity_type (identity_t *self);

//  Coordinator's signing and CURVE keys, from its certificate (enrolled only).
const uint8_t *
    identity_coord_sign (identity_t *self);
const uint8_t *
    identity_coord_curve (identity_t *self);

//  Path of the key file.
const char *
    identity_path (identity_t *self);

void
    identity_test (bool verbose);

#endif
