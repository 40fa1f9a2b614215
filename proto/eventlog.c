/*  eventlog - the TCG PC Client binary event log (see eventlog.h)
    Needs only libsodium (SHA-256), so the fuzz target
    (tests/fuzz/eventlog.c) includes this file directly.  */

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "proto/corelib.h"
#include "proto/eventlog.h"

#define S_SPEC_ID           "Spec ID Event03"
#define S_ALG_SHA256        0x000b

static void
s_extend (uint8_t pcr [32], const uint8_t digest [32])
{
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
    if (size > r->size - r->at)
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

int
eventlog_replay (const uint8_t *log, size_t size, uint8_t pcrs [EVENTLOG_PCRS][32],
                        eventlog_event_t *events, size_t events_max,
                        char *error, size_t error_size)
{
    assert (pcrs && error);
    memset (pcrs, 0, EVENTLOG_PCRS * 32);
    s_reader_t r = { log, log? size: 0, 0 };
    //  Header: a TCG_PCR_EVENT (SHA-1 format) whose data is the Spec ID event
    uint32_t pcr, type, data_size, algs;
    const uint8_t *digest, *data;
    if (!s_u32 (&r, &pcr) || !s_u32 (&r, &type) || !s_take (&r, 20, &digest)
    ||  !s_u32 (&r, &data_size) || type != EVENTLOG_EV_NO_ACTION
    ||  data_size < 24 + 4 + 1 || data_size > EVENTLOG_EVENT_DATA_MAX
    ||  !s_take (&r, data_size, &data) || memcmp (data, S_SPEC_ID, 16) != 0) {
        snprintf (error, error_size, "event log has no Spec ID header (not crypto-agile)");
        return -1;
    }
    s_reader_t spec = { data, data_size, 24 };
    uint16_t alg_ids [8], alg_sizes [8];
    if (!s_u32 (&spec, &algs) || algs == 0 || algs > 8) {
        snprintf (error, error_size, "event log header names %u digest algorithms", algs);
        return -1;
    }
    bool has_sha256 = false;
    for (uint32_t i = 0; i < algs; i++) {
        if (!s_u16 (&spec, &alg_ids [i]) || !s_u16 (&spec, &alg_sizes [i])
        ||  alg_sizes [i] == 0 || alg_sizes [i] > 64) {
            snprintf (error, error_size, "event log header truncated");
            return -1;
        }
        if (alg_ids [i] == S_ALG_SHA256 && alg_sizes [i] == 32)
            has_sha256 = true;
    }
    if (!has_sha256) {
        snprintf (error, error_size, "event log has no sha256 bank");
        return -1;
    }
    int count = 0;
    while (r.at < r.size) {
        uint32_t digests;
        if (count >= EVENTLOG_EVENTS_MAX) {
            snprintf (error, error_size, "event log has more than %d events", EVENTLOG_EVENTS_MAX);
            return -1;
        }
        if (!s_u32 (&r, &pcr) || !s_u32 (&r, &type) || !s_u32 (&r, &digests)
        ||  digests == 0 || digests > algs || pcr >= EVENTLOG_PCRS) {
            snprintf (error, error_size, "event #%d is malformed", count);
            return -1;
        }
        const uint8_t *sha256 = NULL;
        for (uint32_t i = 0; i < digests; i++) {
            uint16_t alg;
            if (!s_u16 (&r, &alg)) {
                snprintf (error, error_size, "event #%d is truncated", count);
                return -1;
            }
            uint32_t k = 0;
            while (k < algs && alg_ids [k] != alg)
                k++;
            if (k == algs || !s_take (&r, alg_sizes [k], &digest)) {
                snprintf (error, error_size, "event #%d has an unknown digest", count);
                return -1;
            }
            if (alg == S_ALG_SHA256)
                sha256 = digest;
        }
        if (!s_u32 (&r, &data_size) || data_size > EVENTLOG_EVENT_DATA_MAX
        ||  !s_take (&r, data_size, &data)) {
            snprintf (error, error_size, "event #%d is truncated", count);
            return -1;
        }
        if (!sha256) {
            snprintf (error, error_size, "event #%d has no sha256 digest", count);
            return -1;
        }
        if (type != EVENTLOG_EV_NO_ACTION)
            s_extend (pcrs [pcr], sha256);
        if (events && (size_t) count < events_max) {
            events [count].pcr = pcr;
            events [count].type = type;
            memcpy (events [count].digest, sha256, 32);
        }
        count++;
    }
    return count;
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

void
eventlog_append (zchunk_t **log_p, uint32_t pcr, const void *data, size_t data_size,
                        uint8_t digest [32])
{
    assert (log_p && pcr < EVENTLOG_PCRS);
    if (!*log_p) {
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
        *log_p = log;
    }
    uint8_t hash [32];
    crypto_hash_sha256 (hash, (const uint8_t *) data, data_size);
    s_put_u32 (*log_p, pcr);
    s_put_u32 (*log_p, EVENTLOG_EV_IPL);
    s_put_u32 (*log_p, 1);
    uint8_t alg [2] = { S_ALG_SHA256, 0 };
    zchunk_extend (*log_p, alg, 2);
    zchunk_extend (*log_p, hash, 32);
    s_put_u32 (*log_p, (uint32_t) data_size);
    zchunk_extend (*log_p, data, data_size);
    if (digest)
        memcpy (digest, hash, 32);
}
