/*  softquote - a software stand-in for a TPM's attestation key, for the
    selftests and the simulator (a device with no TPM chip cannot be
    attested: weft-node never uses this)
    Holds a signing key shaped as a TPM AK would be (restricted, fixedTPM,
    fixedParent, sensitiveDataOrigin): an ECC P-256 key (ECDSA-SHA256)
    from the system's random source, or an RSA 2048 key (RSASSA-PKCS1-v1_5
    SHA-256) derived from a seed, whose signatures are deterministic: the
    same seed gives the same AK and the same quote bytes, which weft-sim
    needs (a run is a function of its seed). It answers
    the node core's QUOTE action as a TPM and weft-node's attestor would:
    a TPMS_ATTEST quote over the verifier's nonce and the PCRs asked, the
    PCR values replayed from a TCG event log, the log itself, and the AK
    public, as one ATTEST_EVIDENCE payload (proto/tpmmsg.h). The
    verifiers (proto/tpmverify.h, proto/bootverify.h) accept it as they
    accept swtpm's.  */

#ifndef WEFT_SOFTQUOTE_H_INCLUDED
#define WEFT_SOFTQUOTE_H_INCLUDED

#include "proto/proto.h"
#include "proto/cert.h"
#include "node/core/node.h"

typedef struct _softquote_t softquote_t;

//  A new P-256 AK. NULL if libcrypto fails.
softquote_t *
    softquote_new (void);

//  The RSA 2048 AK of seed: the same seed, the same key. Its primes are
//  searched from the seed's SHA-256 stream (tens of ms: share one key
//  between many simulated devices). NULL if libcrypto fails.
softquote_t *
    softquote_new_rsa (const uint8_t seed [32]);
void
    softquote_destroy (softquote_t **self_p);

//  The AK's name (nameAlg sha256 || digest), as bound in a certificate.
void
    softquote_name (softquote_t *self, uint8_t name [CERT_AK_NAME_SIZE]);

//  The AK's public area (a marshalled TPM2B_PUBLIC, as the coordinator
//  keeps it at enrolment), borrowed.
const uint8_t *
    softquote_public (softquote_t *self, size_t *size_p);

//  The evidence payload answering quote (a NODE_ACT_QUOTE), with the
//  PCRs replayed from event_log. Caller frees *payload_p. 0 or -1.
int
    softquote_evidence (softquote_t *self, const node_action_t *quote,
                        const uint8_t *event_log, size_t event_log_size,
                        uint8_t **payload_p, size_t *size_p);

void
    softquote_test (bool verbose);

#endif
