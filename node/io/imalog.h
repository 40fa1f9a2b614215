/*  imalog - read the node's IMA measurement list for runtime attestation
    The list is the kernel's ascii list of the sha256 bank
    (/sys/kernel/security/ima/ascii_runtime_measurements_sha256), or a
    file in the same format; one entry a line. The verifier asks for the
    entries from the number it has verified up to, so only those are
    read into the evidence. The entries before it must replay to the PCR
    10 value the verifier holds for them: a list that does not (the
    device rebooted and its new list is another one), or that is
    shorter, is sent from entry 0, which the verifier takes as a
    reboot. Whole lines only, at most max bytes:
    what does not fit is left for the next challenge (and the verdict
    says the list does not replay, as the quote covers more).  */

#ifndef WEFT_IMALOG_H_INCLUDED
#define WEFT_IMALOG_H_INCLUDED

#include <czmq.h>

#define IMALOG_PATH "/sys/kernel/security/ima/ascii_runtime_measurements_sha256"

//  Read the entries of path from number from on, at most max bytes.
//  pcr10 (may be NULL: not checked) is PCR 10 after the first from
//  entries as the verifier has it. Returns 0 with *list_p (possibly
//  empty) and *first_p (the number of its first entry: from, or 0 if
//  the list is shorter than from or does not replay to pcr10), or -1
//  with a reason if the file cannot be read.
int
    imalog_read (const char *path, uint64_t from, const uint8_t pcr10 [32], size_t max,
                 zchunk_t **list_p, uint64_t *first_p, char *error, size_t error_size);

void
    imalog_test (bool verbose);

#endif
