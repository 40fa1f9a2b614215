/*  attest_ima - runtime attestation: the IMA measurement list (ima-ng)
    See attest_ima.h. Input comes from the network: every line, field
    and hex string is checked against the limits before it is used.  */

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "proto/attest_ima.h"

#define S_ALG_PREFIX    "sha256:"

static void
s_extend (uint8_t pcr [32], const uint8_t digest [32])
{
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init (&state);
    crypto_hash_sha256_update (&state, pcr, 32);
    crypto_hash_sha256_update (&state, digest, 32);
    crypto_hash_sha256_final (&state, pcr);
}

static int
s_nibble (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

//  Exactly 64 hex digits in text [0..size) -> 32 bytes
static bool
s_hex32 (const char *text, size_t size, uint8_t out [32])
{
    if (size != 64)
        return false;
    for (size_t i = 0; i < 32; i++) {
        int hi = s_nibble (text [2 * i]), lo = s_nibble (text [2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out [i] = (uint8_t) (hi << 4 | lo);
    }
    return true;
}

static void
s_le32 (uint8_t out [4], uint32_t value)
{
    out [0] = (uint8_t) value;
    out [1] = (uint8_t) (value >> 8);
    out [2] = (uint8_t) (value >> 16);
    out [3] = (uint8_t) (value >> 24);
}

static void
s_template_hash (const uint8_t file_hash [32], const char *path, size_t path_size,
                 uint8_t template_hash [32])
{
    crypto_hash_sha256_state state;
    uint8_t length [4];
    const uint8_t zero = 0;
    crypto_hash_sha256_init (&state);
    //  d-ng: "sha256:" NUL digest
    s_le32 (length, (uint32_t) (sizeof S_ALG_PREFIX + 32));
    crypto_hash_sha256_update (&state, length, 4);
    crypto_hash_sha256_update (&state, (const uint8_t *) S_ALG_PREFIX, sizeof S_ALG_PREFIX - 1);
    crypto_hash_sha256_update (&state, &zero, 1);
    crypto_hash_sha256_update (&state, file_hash, 32);
    //  n-ng: path NUL
    s_le32 (length, (uint32_t) (path_size + 1));
    crypto_hash_sha256_update (&state, length, 4);
    crypto_hash_sha256_update (&state, (const uint8_t *) path, path_size);
    crypto_hash_sha256_update (&state, &zero, 1);
    crypto_hash_sha256_final (&state, template_hash);
}

void
attest_ima_template_hash (const uint8_t file_hash [32], const char *path,
                          uint8_t template_hash [32])
{
    assert (file_hash && path && template_hash);
    s_template_hash (file_hash, path, strlen (path), template_hash);
}

int
attest_ima_line (char *line, size_t line_size, const uint8_t file_hash [32],
                 const char *path, uint8_t template_hash [32])
{
    assert (line && file_hash && path);
    uint8_t hash [32];
    char hash_hex [65], file_hex [65];
    if (strlen (path) == 0 || strlen (path) > ATTEST_IMA_PATH_MAX || strchr (path, '\n'))
        return -1;
    attest_ima_template_hash (file_hash, path, hash);
    sodium_bin2hex (hash_hex, sizeof hash_hex, hash, 32);
    sodium_bin2hex (file_hex, sizeof file_hex, file_hash, 32);
    int length = snprintf (line, line_size, "%d %s ima-ng " S_ALG_PREFIX "%s %s\n",
                           ATTEST_IMA_PCR, hash_hex, file_hex, path);
    if (length < 0 || (size_t) length >= line_size || length > ATTEST_IMA_LINE_MAX)
        return -1;
    if (template_hash)
        memcpy (template_hash, hash, 32);
    return length;
}

//  --- Allowlist

static int
s_digest_compare (const void *a, const void *b)
{
    return memcmp (a, b, 32);
}

int
attest_ima_allowlist_parse (const char *text, size_t size, attest_ima_allowlist_t *allow,
                            char *error, size_t error_size)
{
    assert (allow && error);
    allow->digests = NULL;
    allow->count = 0;
    allow->also = NULL;
    size_t capacity = 0, at = 0, line_no = 0;
    while (text && at < size) {
        line_no++;
        const char *line = text + at;
        const char *end = memchr (line, '\n', size - at);
        size_t length = end? (size_t) (end - line): size - at;
        at += length + (end? 1: 0);
        if (length > ATTEST_IMA_LINE_MAX) {
            snprintf (error, error_size, "allowlist line %zu is longer than %d bytes",
                      line_no, ATTEST_IMA_LINE_MAX);
            goto failed;
        }
        if (length > 0 && line [length - 1] == '\r')
            length--;
        if (length == 0 || line [0] == '#')
            continue;
        uint8_t digest [32];
        if (length < 64 || !s_hex32 (line, 64, digest)
        ||  (length > 64 && line [64] != ' ' && line [64] != '\t')) {
            snprintf (error, error_size, "allowlist line %zu does not start with a sha256 "
                      "(64 hex digits, then a space and the path)", line_no);
            goto failed;
        }
        if (allow->count == ATTEST_IMA_ALLOW_MAX) {
            snprintf (error, error_size, "allowlist has more than %d digests",
                      ATTEST_IMA_ALLOW_MAX);
            goto failed;
        }
        if (allow->count == capacity) {
            capacity = capacity? capacity * 2: 64;
            void *grown = realloc (allow->digests, capacity * 32);
            if (!grown) {
                snprintf (error, error_size, "allowlist: out of memory");
                goto failed;
            }
            allow->digests = grown;
        }
        memcpy (allow->digests [allow->count++], digest, 32);
    }
    attest_ima_allowlist_sort (allow);
    return 0;
failed:
    attest_ima_allowlist_free (allow);
    return -1;
}

void
attest_ima_allowlist_sort (attest_ima_allowlist_t *allow)
{
    assert (allow);
    if (allow->count > 1) {
        qsort (allow->digests, allow->count, 32, s_digest_compare);
        size_t unique = 1;
        for (size_t i = 1; i < allow->count; i++)
            if (memcmp (allow->digests [i], allow->digests [unique - 1], 32) != 0)
                memcpy (allow->digests [unique++], allow->digests [i], 32);
        allow->count = unique;
    }
}

void
attest_ima_allowlist_free (attest_ima_allowlist_t *allow)
{
    if (allow) {
        free (allow->digests);
        allow->digests = NULL;
        allow->count = 0;
    }
}

bool
attest_ima_allowed (const attest_ima_allowlist_t *allow, const uint8_t digest [32])
{
    for (; allow; allow = allow->also)
        if (allow->count
        &&  bsearch (digest, allow->digests, allow->count, 32, s_digest_compare))
            return true;
    return false;
}

//  --- The list

//  One parsed entry; path points into the list (not NUL-terminated)
typedef struct {
    uint8_t template_hash [32];
    uint8_t file_hash [32];
    const char *path;
    size_t path_size;
    bool violation;                 //  Template hash all zero
} s_entry_t;

static void
s_path (char *out, size_t out_size, const char *path, size_t path_size)
{
    //  For messages: at most 200 bytes, control characters as '?'
    size_t n = path_size < 200? path_size: 200;
    if (n >= out_size)
        n = out_size - 1;
    for (size_t i = 0; i < n; i++)
        out [i] = (unsigned char) path [i] < 0x20 || path [i] == 0x7f? '?': path [i];
    out [n] = 0;
}

//  Parse one line (without its newline). Returns true, or false with
//  the reason in error.
static bool
s_parse_line (const char *line, size_t length, uint64_t number, s_entry_t *entry,
              char *error, size_t error_size)
{
    //  "10 " <64 hex> " ima-ng sha256:" <64 hex> " " <path>
    static const char pcr_field [] = "10 ";
    static const char template_field [] = " ima-ng " S_ALG_PREFIX;
    size_t at = 0;
    if (length < sizeof pcr_field - 1 || memcmp (line, pcr_field, sizeof pcr_field - 1) != 0) {
        snprintf (error, error_size, "IMA entry #%" PRIu64 " is not for PCR 10", number);
        return false;
    }
    at += sizeof pcr_field - 1;
    if (length - at < 64 || !s_hex32 (line + at, 64, entry->template_hash)) {
        snprintf (error, error_size, "IMA entry #%" PRIu64 " has no sha256 template hash "
                  "(64 hex digits: the sha256 list is required)", number);
        return false;
    }
    at += 64;
    if (length - at < sizeof template_field - 1
    ||  memcmp (line + at, template_field, sizeof template_field - 1) != 0) {
        snprintf (error, error_size, "IMA entry #%" PRIu64 " is not an ima-ng entry with a "
                  "sha256 file hash (boot with ima_template=ima-ng ima_hash=sha256)", number);
        return false;
    }
    at += sizeof template_field - 1;
    if (length - at < 64 || !s_hex32 (line + at, 64, entry->file_hash)) {
        snprintf (error, error_size, "IMA entry #%" PRIu64 " has a malformed file hash", number);
        return false;
    }
    at += 64;
    if (length - at < 2 || line [at] != ' ' || length - at - 1 > ATTEST_IMA_PATH_MAX
    ||  memchr (line + at + 1, 0, length - at - 1)) {
        snprintf (error, error_size, "IMA entry #%" PRIu64 " has no path, or a malformed one",
                  number);
        return false;
    }
    entry->path = line + at + 1;
    entry->path_size = length - at - 1;
    static const uint8_t zero [32] = { 0 };
    entry->violation = memcmp (entry->template_hash, zero, 32) == 0;
    return true;
}

//  What the kernel extends for an entry: its template hash, or for a
//  violation (all zero) 32 bytes of 0xff
static void
s_extend_entry (uint8_t pcr [32], const s_entry_t *entry)
{
    static const uint8_t ff [32] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    s_extend (pcr, entry->violation? ff: entry->template_hash);
}

int
attest_ima_extend_line (const char *line, size_t length, uint8_t pcr [32])
{
    assert (line && pcr);
    s_entry_t entry;
    char error [160];
    if (length > ATTEST_IMA_LINE_MAX || !s_parse_line (line, length, 0, &entry, error, sizeof error))
        return -1;
    s_extend_entry (pcr, &entry);
    return 0;
}

typedef enum { S_PASS, S_MALFORMED, S_NO_REPLAY, S_NOT_ALLOWED } s_result_t;

static s_result_t
s_verify (const char *list, size_t size, uint64_t first, const uint8_t quoted [32],
          const attest_ima_allowlist_t *allow, attest_ima_state_t *state,
          int64_t *entry_p, char *error, size_t error_size)
{
    uint8_t pcr [32];
    memcpy (pcr, state->pcr10, 32);
    uint64_t number = first;
    size_t at = 0, entries = 0;
    int64_t first_new = -1, not_allowed = -1;
    char first_path [256] = "", not_allowed_path [256] = "", not_allowed_why [64] = "";
    //  The list is read after the quote, so it may end with entries
    //  measured since: the longest prefix that replays to the quoted
    //  value is what the quote covers (the rest comes again next time)
    uint64_t matched = memcmp (pcr, quoted, 32) == 0? state->count: UINT64_MAX;
    *entry_p = -1;
    if (first > state->count) {
        snprintf (error, error_size, "IMA list starts at entry #%" PRIu64 ", but only %"
                  PRIu64 " entries were verified", first, state->count);
        return S_MALFORMED;
    }
    while (list && at < size) {
        const char *line = list + at;
        size_t left = size - at;
        size_t scan = left < ATTEST_IMA_LINE_MAX + 1? left: ATTEST_IMA_LINE_MAX + 1;
        const char *end = memchr (line, '\n', scan);
        size_t length = end? (size_t) (end - line): scan;
        if (!end && left > ATTEST_IMA_LINE_MAX) {
            *entry_p = (int64_t) number;
            snprintf (error, error_size, "IMA entry #%" PRIu64 " is longer than %d bytes",
                      number, ATTEST_IMA_LINE_MAX);
            return S_MALFORMED;
        }
        at += length + (end? 1: 0);
        if (++entries > ATTEST_IMA_ENTRIES_MAX) {
            snprintf (error, error_size, "IMA list has more than %d entries",
                      ATTEST_IMA_ENTRIES_MAX);
            return S_MALFORMED;
        }
        s_entry_t entry;
        if (!s_parse_line (line, length, number, &entry, error, error_size)) {
            *entry_p = (int64_t) number;
            return S_MALFORMED;
        }
        if (number < state->count) {
            number++;               //  Verified before: PCR 10 already covers it
            continue;
        }
        if (first_new < 0) {
            first_new = (int64_t) number;
            s_path (first_path, sizeof first_path, entry.path, entry.path_size);
        }
        if (entry.violation) {
            s_extend_entry (pcr, &entry);
            if (not_allowed < 0) {
                not_allowed = (int64_t) number;
                s_path (not_allowed_path, sizeof not_allowed_path, entry.path, entry.path_size);
                snprintf (not_allowed_why, sizeof not_allowed_why, "is a measurement violation");
            }
        }
        else {
            uint8_t expected [32];
            s_template_hash (entry.file_hash, entry.path, entry.path_size, expected);
            if (memcmp (expected, entry.template_hash, 32) != 0) {
                char path [256];
                s_path (path, sizeof path, entry.path, entry.path_size);
                *entry_p = (int64_t) number;
                snprintf (error, error_size, "IMA entry #%" PRIu64 " (%s): template hash "
                          "does not match its file hash and path (list edited)", number, path);
                return S_NO_REPLAY;
            }
            s_extend_entry (pcr, &entry);
            bool boot_aggregate = number == 0 && entry.path_size == 14
                               && memcmp (entry.path, "boot_aggregate", 14) == 0;
            if (allow && !boot_aggregate && not_allowed < 0
            &&  !attest_ima_allowed (allow, entry.file_hash)) {
                not_allowed = (int64_t) number;
                s_path (not_allowed_path, sizeof not_allowed_path, entry.path, entry.path_size);
                char hex [17];
                sodium_bin2hex (hex, sizeof hex, entry.file_hash, 8);
                snprintf (not_allowed_why, sizeof not_allowed_why,
                          "has sha256 %s…, not on the allowlist", hex);
            }
        }
        number++;
        if (number > state->count && memcmp (pcr, quoted, 32) == 0)
            matched = number;
    }
    if (number < state->count) {
        snprintf (error, error_size, "IMA list ends at entry #%" PRIu64 ", but %" PRIu64
                  " entries were verified before (list truncated)", number, state->count);
        return S_NO_REPLAY;
    }
    if (matched != UINT64_MAX && matched >= state->count)
        number = matched;           //  Entries past it are not quoted yet
    else {
        *entry_p = first_new;
        if (first_new >= 0)
            snprintf (error, error_size, "PCR 10: IMA entries #%" PRId64 "..#%" PRIu64
                      " do not replay to the quoted value (first unverified entry #%"
                      PRId64 " %s)", first_new, number - 1, first_new, first_path);
        else
            snprintf (error, error_size, "PCR 10 was extended outside the IMA list (after "
                      "entry #%" PRIu64 ")", number);
        return S_NO_REPLAY;
    }
    if (not_allowed >= 0 && (uint64_t) not_allowed < number) {
        *entry_p = not_allowed;
        snprintf (error, error_size, "IMA entry #%" PRId64 " (%s) %s", not_allowed,
                  not_allowed_path, not_allowed_why);
        return S_NOT_ALLOWED;
    }
    state->count = number;
    memcpy (state->pcr10, quoted, 32);
    return S_PASS;
}

int
attest_ima_verify (const char *list, size_t size, uint64_t first,
                   const uint8_t quoted_pcr10 [32], const attest_ima_allowlist_t *allow,
                   attest_ima_state_t *state, int64_t *entry_p,
                   char *error, size_t error_size)
{
    assert (quoted_pcr10 && state && entry_p && error);
    s_result_t result = s_verify (list, size, first, quoted_pcr10, allow, state,
                                  entry_p, error, error_size);
    if (result == S_NO_REPLAY && first == 0 && state->count > 0) {
        //  The device may have rebooted: verify the whole list from zero
        attest_ima_state_t fresh = { 0, { 0 } };
        char error2 [512];
        int64_t entry2;
        s_result_t result2 = s_verify (list, size, 0, quoted_pcr10, allow, &fresh,
                                       &entry2, error2, sizeof error2);
        if (result2 != S_NO_REPLAY) {
            result = result2;
            *entry_p = entry2;
            snprintf (error, error_size, "%s", error2);
            if (result2 == S_PASS)
                *state = fresh;
        }
    }
    return result == S_PASS? 0: -1;
}

//  --- Selftest

static void
s_file_hash (const char *content, uint8_t hash [32])
{
    crypto_hash_sha256 (hash, (const uint8_t *) content, strlen (content));
}

//  Append a measured file to list (a buffer of list_size) and pcr
static void
s_measure (char *list, size_t list_size, uint8_t pcr [32], const char *content,
           const char *path)
{
    uint8_t file_hash [32], template_hash [32];
    char line [ATTEST_IMA_LINE_MAX + 1];
    s_file_hash (content, file_hash);
    int length = attest_ima_line (line, sizeof line, file_hash, path, template_hash);
    assert (length > 0);
    assert (strlen (list) + (size_t) length < list_size);
    strcat (list, line);
    s_extend (pcr, template_hash);
}

void
attest_ima_test (bool verbose)
{
    printf (" * attest_ima: ");
    (void) verbose;
    char error [512];
    int64_t entry;

    //  Allowlist in sha256sum format
    uint8_t h_init [32], h_sh [32], h_evil [32];
    s_file_hash ("init", h_init);
    s_file_hash ("sh", h_sh);
    s_file_hash ("evil", h_evil);
    char hex_init [65], hex_sh [65];
    sodium_bin2hex (hex_init, sizeof hex_init, h_init, 32);
    sodium_bin2hex (hex_sh, sizeof hex_sh, h_sh, 32);
    char allow_text [400];
    snprintf (allow_text, sizeof allow_text, "# weft allowlist\n%s  /sbin/init\n\n%s  /bin/sh\r\n%s  /bin/sh\n",
              hex_init, hex_sh, hex_sh);
    attest_ima_allowlist_t allow;
    assert (attest_ima_allowlist_parse (allow_text, strlen (allow_text), &allow,
                                        error, sizeof error) == 0);
    assert (allow.count == 2);
    assert (attest_ima_allowed (&allow, h_init));
    assert (attest_ima_allowed (&allow, h_sh));
    assert (!attest_ima_allowed (&allow, h_evil));
    attest_ima_allowlist_t bad;
    assert (attest_ima_allowlist_parse ("abc  /x\n", 8, &bad, error, sizeof error) == -1);
    assert (strstr (error, "line 1"));

    //  A list: boot_aggregate, /sbin/init, /bin/sh
    char list [8192] = "";
    uint8_t pcr [32] = { 0 };
    s_measure (list, sizeof list, pcr, "aggregate", "boot_aggregate");
    s_measure (list, sizeof list, pcr, "init", "/sbin/init");
    s_measure (list, sizeof list, pcr, "sh", "/bin/sh");
    attest_ima_state_t state = { 0, { 0 } };
    assert (attest_ima_verify (list, strlen (list), 0, pcr, &allow, &state, &entry,
                               error, sizeof error) == 0);
    assert (state.count == 3);
    assert (memcmp (state.pcr10, pcr, 32) == 0);

    //  Incremental: only the new entry, numbered 3, passes
    size_t old_length = strlen (list);
    s_measure (list, sizeof list, pcr, "sh", "/usr/bin/sh");
    const char *tail = list + old_length;
    assert (attest_ima_verify (tail, strlen (tail), 3, pcr, &allow, &state, &entry,
                               error, sizeof error) == 0);
    assert (state.count == 4);
    //  The whole list again: the verified entries are skipped, passes
    assert (attest_ima_verify (list, strlen (list), 0, pcr, &allow, &state, &entry,
                               error, sizeof error) == 0);
    assert (state.count == 4);
    //  A gap (entries missing before the tail) is refused
    attest_ima_state_t saved = state;
    assert (attest_ima_verify (tail, strlen (tail), 5, pcr, &allow, &state, &entry,
                               error, sizeof error) == -1);
    assert (strstr (error, "only 4 entries"));
    assert (memcmp (&state, &saved, sizeof state) == 0);

    //  A measured file whose hash is not on the allowlist fails, naming it
    old_length = strlen (list);
    s_measure (list, sizeof list, pcr, "evil", "/tmp/evil");
    tail = list + old_length;
    assert (attest_ima_verify (tail, strlen (tail), 4, pcr, &allow, &state, &entry,
                               error, sizeof error) == -1);
    assert (entry == 4);
    assert (strstr (error, "#4 (/tmp/evil)") && strstr (error, "not on the allowlist"));
    assert (state.count == 4);      //  Not advanced
    //  With the file on the allowlist it passes
    attest_ima_allowlist_t allow2;
    char allow_text2 [400];
    char hex_evil [65];
    sodium_bin2hex (hex_evil, sizeof hex_evil, h_evil, 32);
    snprintf (allow_text2, sizeof allow_text2, "%s\n%s x\n%s y\n", hex_init, hex_sh, hex_evil);
    assert (attest_ima_allowlist_parse (allow_text2, strlen (allow_text2), &allow2,
                                        error, sizeof error) == 0);
    assert (attest_ima_verify (tail, strlen (tail), 4, pcr, &allow2, &state, &entry,
                               error, sizeof error) == 0);
    assert (state.count == 5);
    attest_ima_allowlist_free (&allow2);

    //  Tampered lists: an entry dropped, a file hash edited (template
    //  hash kept), a template hash edited consistently, PCR 10 extended
    //  outside the list
    attest_ima_state_t zero = { 0, { 0 } };
    //  Drop /bin/sh (entry #2): the replay misses the quoted PCR
    char dropped [8192];
    const char *second = strchr (list, '\n') + 1;
    const char *third = strchr (second, '\n') + 1;
    const char *fourth = strchr (third, '\n') + 1;
    size_t head = (size_t) (third - list);
    memcpy (dropped, list, head);
    strcpy (dropped + head, fourth);
    state = zero;
    assert (attest_ima_verify (dropped, strlen (dropped), 0, pcr, &allow, &state, &entry,
                               error, sizeof error) == -1);
    assert (strstr (error, "do not replay") && entry == 0);
    assert (state.count == 0);
    //  Edit /sbin/init's file hash to /bin/sh's: template hash no longer matches
    char edited [8192];
    strcpy (edited, list);
    char *field = strstr (edited, "sha256:") + 7;            //  Entry #0
    field = strstr (field, "sha256:") + 7;                   //  Entry #1
    memcpy (field, hex_sh, 64);
    state = zero;
    assert (attest_ima_verify (edited, strlen (edited), 0, pcr, &allow, &state, &entry,
                               error, sizeof error) == -1);
    assert (entry == 1 && strstr (error, "#1 (/sbin/init)") && strstr (error, "list edited"));
    //  An extra extend outside the list
    uint8_t extra [32] = { 1 }, pcr2 [32];
    memcpy (pcr2, pcr, 32);
    s_extend (pcr2, extra);
    state = zero;
    assert (attest_ima_verify (list, strlen (list), 0, pcr2, NULL, &state, &entry,
                               error, sizeof error) == -1);
    assert (strstr (error, "do not replay"));
    //  Without an allowlist only the replay is checked
    assert (attest_ima_verify (list, strlen (list), 0, pcr, NULL, &state, &entry,
                               error, sizeof error) == 0);
    assert (state.count == 5);

    //  Entries measured after the quote (the list is read after it): the
    //  quoted prefix passes, the rest is not counted, not even a file
    //  off the allowlist; they come again from entry #5 next time
    uint8_t quoted5 [32];
    memcpy (quoted5, pcr, 32);
    old_length = strlen (list);
    s_measure (list, sizeof list, pcr, "evil", "/tmp/evil-later");
    s_measure (list, sizeof list, pcr, "sh", "/bin/sh");
    tail = list + old_length;
    assert (attest_ima_verify (list, strlen (list), 0, quoted5, &allow, &state, &entry,
                               error, sizeof error) == 0);
    assert (state.count == 5 && memcmp (state.pcr10, quoted5, 32) == 0);
    //  Once quoted, the late file fails, named with its number
    assert (attest_ima_verify (tail, strlen (tail), 5, pcr, &allow, &state, &entry,
                               error, sizeof error) == -1);
    assert (entry == 5 && strstr (error, "#5 (/tmp/evil-later)"));
    assert (state.count == 5);
    list [old_length] = 0;
    memcpy (pcr, quoted5, 32);

    //  A node replays its list's lines to the same PCR 10; a line that
    //  is not an entry is refused
    uint8_t replay [32] = { 0 };
    for (const char *at = list; *at; at = strchr (at, '\n') + 1)
        assert (attest_ima_extend_line (at, (size_t) (strchr (at, '\n') - at), replay) == 0);
    assert (memcmp (replay, pcr, 32) == 0);
    assert (attest_ima_extend_line ("10 xyz", 6, replay) == -1);

    //  Reboot with a list longer than what was verified, sent from 0
    //  (the node saw its list no longer starts with the verified PCR
    //  10): verified again from a zero PCR
    char longer [8192] = "";
    uint8_t pcr4 [32] = { 0 };
    attest_ima_state_t before_reboot = state;
    s_measure (longer, sizeof longer, pcr4, "aggregate3", "boot_aggregate");
    for (uint64_t i = 0; i < before_reboot.count + 2; i++)
        s_measure (longer, sizeof longer, pcr4, "sh", "/bin/sh");
    assert (attest_ima_verify (longer, strlen (longer), 0, pcr4, &allow, &state, &entry,
                               error, sizeof error) == 0);
    assert (state.count == before_reboot.count + 3 && memcmp (state.pcr10, pcr4, 32) == 0);
    state = before_reboot;

    //  Reboot: a new, shorter list from entry 0 verifies from a zero PCR
    char rebooted [4096] = "";
    uint8_t pcr3 [32] = { 0 };
    s_measure (rebooted, sizeof rebooted, pcr3, "aggregate2", "boot_aggregate");
    s_measure (rebooted, sizeof rebooted, pcr3, "init", "/sbin/init");
    assert (attest_ima_verify (rebooted, strlen (rebooted), 0, pcr3, &allow, &state, &entry,
                               error, sizeof error) == 0);
    assert (state.count == 2 && memcmp (state.pcr10, pcr3, 32) == 0);
    //  ...but a truncated list without a reboot is refused
    assert (attest_ima_verify (rebooted, strlen (rebooted) / 2, 0, pcr3, &allow, &state,
                               &entry, error, sizeof error) == -1);

    //  Malformed input: limits and fields
    const char *malformed [] = {
        "9 00 ima-ng sha256:00 /x\n",
        "10 abc ima-ng sha256:00 /x\n",
        "10 0000000000000000000000000000000000000000 ima-ng sha1:0000000000000000000000000000000000000000 /x\n",
        NULL
    };
    for (int i = 0; malformed [i]; i++) {
        state = zero;
        assert (attest_ima_verify (malformed [i], strlen (malformed [i]), 0, pcr, NULL,
                                   &state, &entry, error, sizeof error) == -1);
        assert (entry == 0);
    }
    char *long_line = malloc (ATTEST_IMA_LINE_MAX + 10);
    assert (long_line);
    memset (long_line, 'a', ATTEST_IMA_LINE_MAX + 10);
    state = zero;
    assert (attest_ima_verify (long_line, ATTEST_IMA_LINE_MAX + 10, 0, pcr, NULL, &state,
                               &entry, error, sizeof error) == -1);
    assert (strstr (error, "longer than"));
    free (long_line);
    //  A path with a NUL inside
    char nul_line [300];
    int length = attest_ima_line (nul_line, sizeof nul_line, h_sh, "/bin/sh", NULL);
    assert (length > 0);
    nul_line [length - 3] = 0;
    state = zero;
    assert (attest_ima_verify (nul_line, (size_t) length, 0, pcr, NULL, &state, &entry,
                               error, sizeof error) == -1);
    //  Empty list: passes only against a zero PCR 10
    uint8_t zero_pcr [32] = { 0 };
    state = zero;
    assert (attest_ima_verify ("", 0, 0, zero_pcr, &allow, &state, &entry,
                               error, sizeof error) == 0);
    assert (attest_ima_verify ("", 0, 0, pcr, &allow, &state, &entry,
                               error, sizeof error) == -1);

    attest_ima_allowlist_free (&allow);
    printf ("OK\n");
}
