/*  bootverify - boot evidence checked against a security profile
    The pure part of boot attestation, run by the coordinator (verifier
    of record) and by site servers (delegated verification), so both
    reach the same verdict on the same bytes: the quote signed by the
    AK over the nonce and the PCR values sent (tpmverify.h), the TCG
    event log replayed to every quoted PCR (eventlog.h), then the
    profile's event digests and PCR values. Freshness (which nonce is
    outstanding, and since when) is the caller's: this module only
    checks that the quote carries the evidence's nonce. No state, no
    I/O; lives in proto/ for the reason given in tpmverify.c.  */

#ifndef WEFT_BOOTVERIFY_H_INCLUDED
#define WEFT_BOOTVERIFY_H_INCLUDED

#include <jansson.h>
#include "proto/tpmmsg.h"
#include "proto/eventlog.h"
#include "proto/tpmverify.h"

typedef struct {
    bool ok;
    char reason [512];              //  Names the first failure
    int pcr;                        //  First mismatching PCR, or -1
    int event;                      //  Event index named, or -1
    int events;                     //  Events in the log, -1 if not replayed
    bool quoted;                    //  The quote verified: values hold its PCRs
    uint32_t mask;                  //  PCRs in values
    uint8_t values [EVENTLOG_PCRS][32];
} bootverify_t;

//  Check evidence (its nonce, mask, quote, PCR values and event log)
//  with the AK public (TPM2B_PUBLIC) against profile ({"pcrs": {"N":
//  hex}, "events": {"N": [hex, ...]}, "release_events": {"N": [hex,
//  ...]}}): an event of PCR N passes at its place in "events" if its
//  digest is the one listed there or any of "release_events" N. The event log must replay to
//  the PCRs in boot_mask (the quoted ones that are not checked some
//  other way, e.g. PCR 10 by the IMA list). Returns true if it passed;
//  result says why not.
bool
    bootverify_check (const uint8_t *ak_public, size_t ak_public_size,
                      const tpmmsg_t *evidence, uint32_t boot_mask, json_t *profile,
                      bootverify_t *result);

//  The same with an AK made once by tpmverify_ak_new (the verifier's
//  cache of it per device).
bool
    bootverify_check_ak (const tpmverify_ak_t *ak, const tpmmsg_t *evidence,
                         uint32_t boot_mask, json_t *profile, bootverify_t *result);

void
    bootverify_test (bool verbose);

#endif
