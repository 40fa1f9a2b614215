/*  attest_ima - runtime attestation: the IMA measurement list (ima-ng)
    The verifier's side of IMA. The node sends the kernel's ascii
    measurement list for the sha256 bank (ascii_runtime_measurements_sha256,
    or a file in the same format), or only the entries added since the
    last verified one; the verifier:
        1. parses each line with the limits below:
               "10 <sha256 template hash> ima-ng sha256:<file hash> <path>"
        2. recomputes each entry's template hash from its file hash and
           path (the ima-ng template data, see attest_ima_template_hash)
           and refuses an entry whose listed hash differs;
        3. replays the template hashes into PCR 10 (sha256 bank:
           PCR10 = SHA256 (PCR10 || template hash); a violation entry,
           template hash all zero, extends all 0xff as the kernel does)
           and compares with the quoted PCR 10;
        4. checks each entry's file hash against the allowlist (a sorted
           set of sha256 digests; entry #0 "boot_aggregate" is exempt,
           boot attestation covers PCRs 0-9).
    Incremental: attest_ima_state_t remembers how many entries were
    verified and PCR 10 at that point; a list starting at an earlier
    index skips what was verified, a list starting later is refused. The
    state only advances when everything passes. If the replay from the
    remembered state does not reach the quoted PCR 10 but the list starts
    at entry 0 (the device rebooted), the whole list is verified again
    from a zero PCR. Needs only libsodium, so tests/fuzz/ima.c includes
    this file directly. No clock, no I/O.  */

#ifndef WEFT_ATTEST_IMA_H_INCLUDED
#define WEFT_ATTEST_IMA_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ATTEST_IMA_PCR          10
#define ATTEST_IMA_LINE_MAX     4400        //  PATH_MAX + the other fields
#define ATTEST_IMA_PATH_MAX     4096        //  Bytes of one path
#define ATTEST_IMA_ENTRIES_MAX  65536       //  Entries in one evidence
#define ATTEST_IMA_ALLOW_MAX    262144      //  Digests in one allowlist

//  What the verifier remembers per device
typedef struct {
    uint64_t count;                 //  Entries verified so far
    uint8_t pcr10 [32];             //  PCR 10 after those entries
} attest_ima_state_t;

//  A parsed allowlist: sorted, unique sha256 file digests, and another
//  list whose digests are allowed as well (not owned; NULL: none), as
//  a device's expected software adds to its tenant's list
typedef struct _attest_ima_allowlist_t {
    uint8_t (*digests) [32];
    size_t count;
    const struct _attest_ima_allowlist_t *also;
} attest_ima_allowlist_t;

//  Parse an allowlist in sha256sum format: one "<64 hex>  <path>" per
//  line (the path is informational; "#" lines and blank lines are
//  skipped). Returns 0, or -1 with a reason naming the line. Free with
//  attest_ima_allowlist_free.
int
    attest_ima_allowlist_parse (const char *text, size_t size, attest_ima_allowlist_t *allow,
                                char *error, size_t error_size);

void
    attest_ima_allowlist_free (attest_ima_allowlist_t *allow);

//  Sort allow's digests and drop repeats (for a list built by hand).
void
    attest_ima_allowlist_sort (attest_ima_allowlist_t *allow);

//  Is digest on allow or on a list it chains (allow->also)?
bool
    attest_ima_allowed (const attest_ima_allowlist_t *allow, const uint8_t digest [32]);

//  The ima-ng template hash of (file hash, path): SHA256 over
//  le32 (40) || "sha256:" || 0 || file hash || le32 (len+1) || path || 0
void
    attest_ima_template_hash (const uint8_t file_hash [32], const char *path,
                              uint8_t template_hash [32]);

//  Format one ima-ng line (with its newline) into line; writes the
//  template hash (may be NULL). Returns the length, or -1 if it does
//  not fit. For tests and nodes that measure their own files.
int
    attest_ima_line (char *line, size_t line_size, const uint8_t file_hash [32],
                     const char *path, uint8_t template_hash [32]);

//  Extend pcr with one entry of a list (line without its newline), as
//  the verifier replays it (a violation extends 32 bytes of 0xff).
//  Returns 0, or -1 if the line is not an entry. For a node that checks
//  its list still starts with what the verifier has verified.
int
    attest_ima_extend_line (const char *line, size_t length, uint8_t pcr [32]);

//  Verify list, whose first entry is entry number first, against the
//  quoted PCR 10 and allow (NULL: no allowlist check). On success
//  advances *state and returns 0. On failure returns -1, leaves *state,
//  writes the reason into error (naming the first failing entry: its
//  number and path) and that entry's number into *entry_p (-1 if none).
int
    attest_ima_verify (const char *list, size_t size, uint64_t first,
                       const uint8_t quoted_pcr10 [32], const attest_ima_allowlist_t *allow,
                       attest_ima_state_t *state, int64_t *entry_p,
                       char *error, size_t error_size);

void
    attest_ima_test (bool verbose);

#endif
