/*  eventlog - the TCG PC Client binary event log (see eventlog.h)
    Needs only libcrypto and libsodium (SHA-256), so the fuzz target
    (tests/fuzz/eventlog.c) includes this file directly. A replay
    extends with one libcrypto digest context (SHA-NI where the CPU
    has it): libsodium's portable SHA-256 made the extends of a 120-event
    firmware log cost as much as verifying the quote. The selftest is
    in eventlog_test.c, with the real logs under tests/fixtures/eventlog.  */

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include <openssl/evp.h>
#include "proto/corelib.h"
#include "proto/eventlog.h"

#define S_SPEC_ID           "Spec ID Event03"
#define S_STARTUP_LOCALITY  "StartupLocality"   //  16 bytes with its NUL
#define S_ALG_SHA1          0x0004
#define S_ALG_SHA256        0x000b
#define S_ALGS_MAX          8

//  The digest context of one replay; NULLs (out of memory) fall back
//  to libsodium
typedef struct {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
} s_hasher_t;

static void
s_hasher_init (s_hasher_t *hasher)
{
    hasher->md = EVP_MD_fetch (NULL, "SHA256", NULL);
    hasher->ctx = hasher->md? EVP_MD_CTX_new (): NULL;
}

static void
s_hasher_free (s_hasher_t *hasher)
{
    EVP_MD_CTX_free (hasher->ctx);
    EVP_MD_free (hasher->md);
}

static void
s_extend (s_hasher_t *hasher, uint8_t pcr [32], const uint8_t digest [32])
{
    unsigned int size = 0;
    if (hasher->ctx
    &&  EVP_DigestInit_ex2 (hasher->ctx, hasher->md, NULL) == 1
    &&  EVP_DigestUpdate (hasher->ctx, pcr, 32) == 1
    &&  EVP_DigestUpdate (hasher->ctx, digest, 32) == 1
    &&  EVP_DigestFinal_ex (hasher->ctx, pcr, &size) == 1)
        return;
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init (&state);
    crypto_hash_sha256_update (&state, pcr, 32);
    crypto_hash_sha256_update (&state, digest, 32);
    crypto_hash_sha256_final (&state, pcr);
}

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t at;
} s_reader_t;

static bool
s_take (s_reader_t *r, size_t size, const uint8_t **out)
{
    if (r->at > r->size || size > r->size - r->at)
        return false;
    *out = r->data + r->at;
    r->at += size;
    return true;
}

static bool
s_u32 (s_reader_t *r, uint32_t *value)
{
    const uint8_t *p;
    if (!s_take (r, 4, &p))
        return false;
    *value = (uint32_t) p [0] | (uint32_t) p [1] << 8 | (uint32_t) p [2] << 16
           | (uint32_t) p [3] << 24;
    return true;
}

static bool
s_u16 (s_reader_t *r, uint16_t *value)
{
    const uint8_t *p;
    if (!s_take (r, 2, &p))
        return false;
    *value = (uint16_t) (p [0] | p [1] << 8);
    return true;
}

static int
s_refuse (char *error, size_t error_size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (error, error_size, format, args);
    va_end (args);
    return -1;
}

//  Is everything from r's position on a zero byte?
static bool
s_rest_zero (const s_reader_t *r)
{
    for (size_t at = r->at; at < r->size; at++)
        if (r->data [at])
            return false;
    return true;
}

//  The banks a Spec ID event names
typedef struct {
    uint32_t count;
    uint16_t ids [S_ALGS_MAX];
    uint16_t sizes [S_ALGS_MAX];
} s_banks_t;

//  The header: a TCG_PCR_EVENT (the SHA-1 format every log opens with)
//  whose data is the Spec ID event of a crypto-agile log
static int
s_header (s_reader_t *r, s_banks_t *banks, char *error, size_t error_size)
{
    uint32_t pcr, type, data_size;
    const uint8_t *digest, *data;
    if (!s_u32 (r, &pcr) || !s_u32 (r, &type) || !s_take (r, 20, &digest)
    ||  !s_u32 (r, &data_size) || data_size > EVENTLOG_EVENT_DATA_MAX
    ||  !s_take (r, data_size, &data))
        return s_refuse (error, error_size, "event log is empty or its first event is "
                         "truncated");
    if (type != EVENTLOG_EV_NO_ACTION || data_size < 16 || memcmp (data, S_SPEC_ID, 16) != 0) {
        //  A TPM 1.2 log, or firmware that logs only SHA-1 ("Spec ID
        //  Event00"/"02", or no Spec ID event at all)
        if (pcr < EVENTLOG_PCRS)
            return s_refuse (error, error_size, "event log is in the SHA-1-only format "
                             "(TPM 1.2, no \"Spec ID Event03\" header): Weft replays "
                             "crypto-agile logs with a sha256 bank only");
        return s_refuse (error, error_size, "event log does not start with a TCG event "
                         "(first PCR index %u)", pcr);
    }
    //  signature[16] platformClass minor major errata uintnSize, then
    //  numberOfAlgorithms and the (id, size) pairs
    if (data_size < 28)
        return s_refuse (error, error_size, "event log header of %u bytes is truncated "
                         "(a Spec ID event has at least 28)", data_size);
    s_reader_t spec = { data, data_size, 24 };
    if (!s_u32 (&spec, &banks->count) || banks->count == 0 || banks->count > S_ALGS_MAX)
        return s_refuse (error, error_size, "event log header names %u digest algorithms",
                         banks->count);
    bool has_sha256 = false, has_sha1 = false;
    for (uint32_t i = 0; i < banks->count; i++) {
        if (!s_u16 (&spec, &banks->ids [i]) || !s_u16 (&spec, &banks->sizes [i])
        ||  banks->sizes [i] == 0 || banks->sizes [i] > 64)
            return s_refuse (error, error_size, "event log header truncated");
        if (banks->ids [i] == S_ALG_SHA256 && banks->sizes [i] == 32)
            has_sha256 = true;
        if (banks->ids [i] == S_ALG_SHA1)
            has_sha1 = true;
    }
    if (!has_sha256)
        return s_refuse (error, error_size, "event log has no sha256 bank (%s): Weft "
                         "replays crypto-agile logs with a sha256 bank only",
                         has_sha1? "SHA-1 digests only": "other digests only");
    return 0;
}

//  An EV_NO_ACTION event in PCR 0: the StartupLocality event sets where
//  PCR 0 starts, if nothing extended it yet
static int
s_no_action (const uint8_t *data, uint32_t data_size, int count, bool pcr0_extended,
             eventlog_info_t *info, char *error, size_t error_size)
{
    if (data_size < 16 || memcmp (data, S_STARTUP_LOCALITY, 16) != 0)
        return 0;                   //  Other EV_NO_ACTION events carry no extend
    if (data_size != 17)
        return s_refuse (error, error_size, "event #%d: StartupLocality event of %u bytes "
                         "(want 17)", count, data_size);
    if (info->startup_locality >= 0)
        return s_refuse (error, error_size, "event #%d: a second StartupLocality event",
                         count);
    if (pcr0_extended)
        return s_refuse (error, error_size, "event #%d: StartupLocality event after PCR 0 "
                         "was extended", count);
    uint8_t locality = data [16];
    if (locality != 0 && locality != 3 && locality != 4)
        return s_refuse (error, error_size, "event #%d: StartupLocality %u (PCR 0 starts "
                         "from locality 0, 3 or 4 only)", count, locality);
    info->startup_locality = locality;
    info->pcr0_start = locality;
    return 0;
}

static int
s_replay (s_hasher_t *hasher, const uint8_t *log, size_t size,
          uint8_t pcrs [EVENTLOG_PCRS][32], eventlog_event_t *events, size_t events_max,
          eventlog_info_t *info_out, char *error, size_t error_size)
{
    assert (pcrs && error);
    memset (pcrs, 0, EVENTLOG_PCRS * 32);
    eventlog_info_t info = { -1, false, 0, 0 };
    s_reader_t r = { log, log? size: 0, 0 };
    s_banks_t banks = { 0, { 0 }, { 0 } };
    if (s_header (&r, &banks, error, error_size))
        return -1;
    int count = 0;
    bool pcr0_extended = false;
    while (r.at < r.size) {
        if (s_rest_zero (&r)) {
            info.padding = r.size - r.at;
            break;
        }
        if (count >= EVENTLOG_EVENTS_MAX)
            return s_refuse (error, error_size, "event log has more than %d events",
                             EVENTLOG_EVENTS_MAX);
        uint32_t pcr, type, digests, data_size;
        if (!s_u32 (&r, &pcr) || !s_u32 (&r, &type) || !s_u32 (&r, &digests)
        ||  digests == 0 || digests > banks.count || pcr >= EVENTLOG_PCRS)
            return s_refuse (error, error_size, "event #%d is malformed", count);
        const uint8_t *sha256 = NULL, *digest, *data;
        for (uint32_t i = 0; i < digests; i++) {
            uint16_t alg;
            if (!s_u16 (&r, &alg))
                return s_refuse (error, error_size, "event #%d is truncated", count);
            uint32_t k = 0;
            while (k < banks.count && banks.ids [k] != alg)
                k++;
            if (k == banks.count || !s_take (&r, banks.sizes [k], &digest))
                return s_refuse (error, error_size, "event #%d has an unknown digest", count);
            if (alg == S_ALG_SHA256)
                sha256 = digest;
        }
        if (!s_u32 (&r, &data_size) || data_size > EVENTLOG_EVENT_DATA_MAX
        ||  !s_take (&r, data_size, &data))
            return s_refuse (error, error_size, "event #%d is truncated", count);
        if (!sha256)
            return s_refuse (error, error_size, "event #%d has no sha256 digest", count);
        if (type == EVENTLOG_EV_NO_ACTION && pcr == 0
        &&  s_no_action (data, data_size, count, pcr0_extended, &info, error, error_size))
            return -1;
        if (type == EVENTLOG_EV_EFI_HCRTM_EVENT && pcr == 0) {
            //  TPM 2.0 Part 1, H-CRTM: _TPM_Hash_Start resets PCR 0 to 4
            if (pcr0_extended)
                return s_refuse (error, error_size, "event #%d: H-CRTM event after PCR 0 "
                                 "was extended", count);
            info.hcrtm = true;
            info.pcr0_start = 4;
        }
        if (type != EVENTLOG_EV_NO_ACTION) {
            if (pcr == 0 && !pcr0_extended) {
                pcrs [0][31] = info.pcr0_start;
                pcr0_extended = true;
            }
            s_extend (hasher, pcrs [pcr], sha256);
        }
        if (events && (size_t) count < events_max) {
            events [count].pcr = pcr;
            events [count].type = type;
            memcpy (events [count].digest, sha256, 32);
        }
        count++;
    }
    if (!pcr0_extended)
        pcrs [0][31] = info.pcr0_start;
    if (info_out)
        *info_out = info;
    return count;
}

int
eventlog_replay (const uint8_t *log, size_t size, uint8_t pcrs [EVENTLOG_PCRS][32],
                 eventlog_event_t *events, size_t events_max, eventlog_info_t *info_out,
                 char *error, size_t error_size)
{
    s_hasher_t hasher;
    s_hasher_init (&hasher);
    int count = s_replay (&hasher, log, size, pcrs, events, events_max, info_out, error,
                          error_size);
    s_hasher_free (&hasher);
    return count;
}

void
eventlog_replay_pcr (const eventlog_event_t *events, int count, uint32_t pcr,
                     uint8_t start, uint8_t value [32])
{
    assert (value && (events || count == 0));
    memset (value, 0, 32);
    value [31] = start;
    s_hasher_t hasher;
    s_hasher_init (&hasher);
    for (int i = 0; i < count; i++)
        if (events [i].pcr == pcr && events [i].type != EVENTLOG_EV_NO_ACTION)
            s_extend (&hasher, value, events [i].digest);
    s_hasher_free (&hasher);
}

//  --------------------------------------------------------------------------
//  Append (weft-node --measure, tests)

static void
s_put_u32 (zchunk_t *chunk, uint32_t value)
{
    uint8_t bytes [4] = { (uint8_t) value, (uint8_t) (value >> 8), (uint8_t) (value >> 16),
                          (uint8_t) (value >> 24) };
    zchunk_extend (chunk, bytes, 4);
}

//  A new log: its Spec ID header alone
static zchunk_t *
s_new_log (void)
{
    zchunk_t *log = zchunk_new (NULL, 0);
    s_put_u32 (log, 0);
    s_put_u32 (log, EVENTLOG_EV_NO_ACTION);
    uint8_t zero [20] = { 0 };
    zchunk_extend (log, zero, 20);
    //  Spec ID: signature, platform class, version 2.0 errata 0,
    //  uintn 2 (64-bit), one bank (sha256), no vendor info
    uint8_t spec [16 + 4 + 4 + 4 + 4 + 1];
    memset (spec, 0, sizeof spec);
    memcpy (spec, S_SPEC_ID, 16);
    spec [21] = 2;
    spec [23] = 2;
    spec [24] = 1;
    spec [28] = S_ALG_SHA256;
    spec [30] = 32;
    s_put_u32 (log, sizeof spec);
    zchunk_extend (log, spec, sizeof spec);
    return log;
}

//  One crypto-agile event with a single sha256 digest
static void
s_put_event (zchunk_t *log, uint32_t pcr, uint32_t type, const uint8_t digest [32],
             const void *data, size_t data_size)
{
    s_put_u32 (log, pcr);
    s_put_u32 (log, type);
    s_put_u32 (log, 1);
    uint8_t alg [2] = { S_ALG_SHA256, 0 };
    zchunk_extend (log, alg, 2);
    zchunk_extend (log, digest, 32);
    s_put_u32 (log, (uint32_t) data_size);
    zchunk_extend (log, data, data_size);
}

void
eventlog_append (zchunk_t **log_p, uint32_t pcr, const void *data, size_t data_size,
                 uint8_t digest [32])
{
    assert (log_p && pcr < EVENTLOG_PCRS);
    if (!*log_p)
        *log_p = s_new_log ();
    uint8_t hash [32];
    crypto_hash_sha256 (hash, (const uint8_t *) data, data_size);
    s_put_event (*log_p, pcr, EVENTLOG_EV_IPL, hash, data, data_size);
    if (digest)
        memcpy (digest, hash, 32);
}

void
eventlog_append_locality (zchunk_t **log_p, uint8_t locality)
{
    assert (log_p);
    if (!*log_p)
        *log_p = s_new_log ();
    uint8_t data [17];
    memcpy (data, S_STARTUP_LOCALITY, 16);
    data [16] = locality;
    uint8_t zero [32] = { 0 };
    s_put_event (*log_p, 0, EVENTLOG_EV_NO_ACTION, zero, data, sizeof data);
}
