/*  tpm_tests - selftests that run the coordinator's verifiers against a
    real TPM (swtpm) driven by the node's TPM adapter. They join the two
    sides, so they live here rather than in either (docs/architecture.md,
    the layer map).  */

#ifndef WEFT_TPM_TESTS_H_INCLUDED
#define WEFT_TPM_TESTS_H_INCLUDED

#include <stdbool.h>

//  MakeCredential and quote checks against real TPMs (proto/credential.h)
void
    credential_test (bool verbose);

//  Enrolment: tokens, retries and TPM onboarding (coordinator/core/enrolment.h)
void
    enrolment_test (bool verbose);

//  Attestation verdicts on real quotes (coordinator/core/attest.h)
void
    attest_test (bool verbose);

#endif
