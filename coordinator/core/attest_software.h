/*  attest_software - a device's expected state follows its software
    When a device reports a release committed (reported.software: state
    "committed", name, installed), the coordinator reads that release's
    manifest in the device's own tenant repository (artrepo.h) and
    records its reference values (proto/manifest.h: the files' sha256
    digests, the boot measurements) as the device's expectations for
    that release name, replacing those of the version it left. A
    release the repository does not hold leaves the name with no values
    (the old ones are gone all the same). At most ATTEST_SW_NAMES_MAX
    names per device; a further name is not recorded (said in the log).
    Records in the attest table:
        sw/<device>/<release name>  {version, manifest: hex, ima: hex of
                                     the sorted digests, boot: [{pcr,
                                     sha256}], found: bool}
    The IMA check (attest_runtime.h) accepts a measured file whose
    digest is on the tenant's signed allowlist or in the device's
    expectations; the boot check (attest.h) accepts, at its place in the
    profile's expected events of a PCR, an event digest of that PCR
    that a committed release names. Works inside the caller's transactions; no I/O.  */

#ifndef WEFT_ATTEST_SOFTWARE_H_INCLUDED
#define WEFT_ATTEST_SOFTWARE_H_INCLUDED

#include "proto/corelib.h"
#include <jansson.h>
#include "proto/store.h"
#include "proto/attest_ima.h"

#define ATTEST_SW_NAMES_MAX     8       //  Release names followed per device

//  Follow a device's report: software is its reported.software (may be
//  NULL or anything a device sent). When it says a release is committed,
//  records the release's reference values from tenant's repository for
//  device. Returns 1 if the expectations changed, 0 if not (nothing
//  committed, the same version already recorded, or too many names),
//  -1 on a store failure. note (may be NULL) says what was done.
int
    attest_software_follow (store_txn_t *txn, const char *device, const char *tenant,
                            json_t *software, char *note, size_t note_size);

//  The file digests a device's committed releases name, sorted and
//  unique, into allow (free with attest_ima_allowlist_free; empty when
//  none). Returns 0 or -1.
int
    attest_software_allowlist (store_txn_t *txn, const char *device,
                               attest_ima_allowlist_t *allow);

//  profile as device is checked against it: a copy with
//  "release_events": {"N": [hex, ...]}, the boot measurements of the
//  releases the device committed, when it has any (proto/bootverify.h:
//  an event of PCR N passes at its place in the profile's "events" if
//  it is one of them), else profile itself. Caller decrefs; NULL if
//  profile is NULL.
json_t *
    attest_software_profile (store_txn_t *txn, const char *device, json_t *profile);

//  A device's expectations as {name: {version, files, boot: [...],
//  found}}, for attest show (caller decrefs).
json_t *
    attest_software_show (store_txn_t *txn, const char *device);

void
    attest_software_test (bool verbose);

#endif
