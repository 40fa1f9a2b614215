/*  attestor - the node's side of boot attestation, off the event loop
    An actor that owns the TPM (a tpm_t of its own: the enrolment TPM
    actor is closed before it starts, as swtpm and a bare /dev/tpm0 serve
    one client) and answers the coordinator's ATTEST_CHALLENGE with an
    ATTEST_EVIDENCE payload: a quote by the AK over the verifier's nonce,
    the quoted PCR values and the TCG binary event log read from its
    path. Requests on its pipe, one reply each:
        "CHALLENGE" nonce mask(4 bytes BE) [ima_from(8 bytes BE) ima_pcr10(32)]
                                             -> "EVIDENCE" payload | "ERROR" reason
    With ima_from and an IMA list configured (--ima-log), the evidence
    also carries the list's entries from that number (node/io/imalog.h).
        "MEASURE" pcr(1 byte) data           -> "OK" | "ERROR" reason
    MEASURE appends an EV_IPL event with SHA-256 (data) to the event log
    (creating it with its header) and extends the PCR with the same
    digest: what a measured boot loader does, for tests and demos.  */

#ifndef WEFT_ATTESTOR_H_INCLUDED
#define WEFT_ATTESTOR_H_INCLUDED

#include <czmq.h>

#define ATTESTOR_EVENT_LOG  "/sys/kernel/security/tpm0/binary_bios_measurements"

typedef struct {
    const char *tcti;               //  TPM to open
    const char *event_log;          //  Path of the binary event log
    const char *ima_log;            //  Path of the IMA ascii list, or NULL
    zchunk_t *ak_blob;              //  Our AK (copied), NULL for MEASURE only
} attestor_config_t;

//  The actor; args is an attestor_config_t (copied before it returns).
void
    attestor_actor (zsock_t *pipe, void *args);

void
    attestor_test (bool verbose);

#endif
