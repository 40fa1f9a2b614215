/*  tpmmsg - the payloads of TPM onboarding and attestation (types 20..29)
    Wire forms, one msgpack array each (docs/protocol.md, "TPM"):
        TPM_ENROL_REQUEST  [token: str(160), sign_key: bin(32),
                            curve_key: bin(32), device_type: str(64),
                            ek_public: bin, ek_cert: bin, ak_public: bin,
                            ticket: bin, proof: bin]
        TPM_CHALLENGE      [device: str(64), credential: bin,
                            secret: bin, ticket: bin]
        TPM_PROOF          as TPM_ENROL_REQUEST, with ticket and proof set
        ATTEST_CHALLENGE   [nonce: bin(8..64), pcr_mask: uint,
                            ima_from: uint | nil, ima_pcr10: bin(32)]
        ATTEST_EVIDENCE    [nonce: bin(8..64), pcr_mask: uint, attest: bin,
                            signature: bin, pcrs: bin(32 * n), event_log: bin,
                            ima_from: uint | nil, ima_list: bin,
                            ak_public: bin]
    The IMA fields are trailing: a challenge or evidence without them
    (2 or 6 items) is one without IMA, as before. ima_from in a challenge
    is the entry number the verifier wants the list from (what it has
    verified so far) and ima_pcr10 PCR 10 after those entries, so that
    a node whose list is another one (it rebooted) sends it from 0; in
    evidence, ima_from is the number of the first entry sent.
    ak_public (TPM2B_PUBLIC, after the IMA fields, nil and empty without
    IMA) is sent to a site server that challenged: it checks it against
    the AK name in the device's certificate (docs/security.md).
    TPM structures travel as the TPM marshals them (node/io/tpm.h). Each
    binary field has a limit below; a TPM_ENROL_REQUEST carries an empty
    ticket and proof, a TPM_PROOF both. Decoders accept longer arrays
    (trailing fields ignored) and refuse shorter ones. Large fields are
    borrowed from the payload.  */

#ifndef WEFT_TPMMSG_H_INCLUDED
#define WEFT_TPMMSG_H_INCLUDED

#include "proto.h"

#define TPMMSG_PUBLIC_MAX       1024        //  TPM2B_PUBLIC of an EK or AK
#define TPMMSG_EK_CERT_MAX      4096        //  EK certificate, DER
#define TPMMSG_BLOB_MAX         1024        //  Credential, secret, attest, signature
#define TPMMSG_TICKET_SIZE      24          //  Coordinator's enrolment ticket
#define TPMMSG_PROOF_SIZE       32          //  Secret recovered by the TPM
#define TPMMSG_NONCE_MIN        8
#define TPMMSG_NONCE_MAX        64
#define TPMMSG_PCR_MASK_MAX     0xffffff    //  PCRs 0..23
#define TPMMSG_EVENT_LOG_MAX    (512 * 1024)    //  TCG binary event log
#define TPMMSG_IMA_LIST_MAX     (384 * 1024)    //  IMA entries in one evidence
#define TPMMSG_IMA_FROM_MAX     0xffffffffULL   //  Entry numbers

typedef struct {
    int type;                           //  MSG_TPM_ENROL_REQUEST .. MSG_ATTEST_EVIDENCE
    //  TPM_ENROL_REQUEST, TPM_PROOF
    char token [WEFT_TOKEN_MAX + 1];    //  Optional: "" when pre-registered
    uint8_t sign_key [WEFT_KEY_SIZE];   //  Node's Ed25519 public key
    uint8_t curve_key [WEFT_KEY_SIZE];  //  Node's X25519 (CURVE) public key
    char device_type [WEFT_NAME_MAX + 1];
    const uint8_t *ek_public;           //  TPM2B_PUBLIC, borrowed
    size_t ek_public_size;
    const uint8_t *ek_cert;             //  DER, borrowed; may be empty
    size_t ek_cert_size;
    const uint8_t *ak_public;           //  TPM2B_PUBLIC, borrowed; also evidence
    size_t ak_public_size;
    const uint8_t *ticket;              //  Also TPM_CHALLENGE; borrowed
    size_t ticket_size;
    const uint8_t *proof;               //  TPM_PROOF: the recovered secret
    size_t proof_size;
    //  TPM_CHALLENGE
    char device [WEFT_NAME_MAX + 1];    //  Device id the coordinator will issue
    const uint8_t *credential;          //  TPM2B_ID_OBJECT, borrowed
    size_t credential_size;
    const uint8_t *secret;              //  TPM2B_ENCRYPTED_SECRET, borrowed
    size_t secret_size;
    //  ATTEST_CHALLENGE, ATTEST_EVIDENCE
    const uint8_t *nonce;               //  Verifier's fresh nonce, borrowed
    size_t nonce_size;
    uint32_t pcr_mask;                  //  Bit N = sha256 PCR N
    bool ima;                           //  IMA asked (challenge) or sent (evidence)
    uint64_t ima_from;                  //  First IMA entry number, if ima
    uint8_t ima_pcr10 [32];             //  ATTEST_CHALLENGE: PCR 10 after ima_from entries
    //  ATTEST_EVIDENCE
    const uint8_t *attest;              //  TPMS_ATTEST, borrowed
    size_t attest_size;
    const uint8_t *signature;           //  TPMT_SIGNATURE, borrowed
    size_t signature_size;
    const uint8_t *pcrs;                //  32 bytes per selected PCR, ascending
    size_t pcrs_size;
    const uint8_t *event_log;           //  TCG binary event log, borrowed
    size_t event_log_size;
    const char *ima_list;               //  IMA ascii entries from ima_from, borrowed
    size_t ima_list_size;
} tpmmsg_t;

//  The rules between fields (proto/wire_table.c runs it): 0 or
//  PROTO_ERR_VALUE.
int
    tpmmsg_check (const void *msg);

//  Encode. Returns 0 and a heap buffer (free()), or a proto_rc_t.
int
    tpmmsg_encode (const tpmmsg_t *msg, uint8_t **payload_p, size_t *size_p);

//  Decode a payload of the given type. Returns 0 or a proto_rc_t; *msg
//  is zeroed on error.
int
    tpmmsg_decode (tpmmsg_t *msg, int type, const uint8_t *payload, size_t size);

void
    tpmmsg_test (bool verbose);

#endif
