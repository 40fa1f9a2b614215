/*  akcache - the attestation keys of the devices, parsed once
    The verifier of record checks every quote with the AK bound to the
    device at enrolment. Parsing that TPM2B_PUBLIC, checking it is a
    usable AK and making it a libcrypto key cost about half as much as
    verifying the quote itself, and nothing of it changes between the
    quotes of one device: the cache keeps it per device, keyed by the
    device id and checked against the AK's bytes on each use, so an AK
    bound anew (re-enrolment) is parsed anew. Bounded: past
    AKCACHE_SIZE devices, one entry is dropped to make room.  */

#ifndef WEFT_AKCACHE_H_INCLUDED
#define WEFT_AKCACHE_H_INCLUDED

#include "proto/corelib.h"
#include "proto/tpmverify.h"

#define AKCACHE_SIZE    4096        //  Devices kept at most

typedef struct _akcache_t akcache_t;

akcache_t *
    akcache_new (void);

void
    akcache_destroy (akcache_t **self_p);

//  The parsed AK of device_id whose TPM2B_PUBLIC is ak (size bytes):
//  the cached one if the bytes are the same, else parsed now and kept.
//  Borrowed until the next akcache_get or akcache_destroy. NULL if the
//  AK is unusable (tpmverify_ak_new's result in *result, if not NULL).
const tpmverify_ak_t *
    akcache_get (akcache_t *self, const char *device_id, const byte *ak, size_t size,
                 int *result);

//  Devices cached.
size_t
    akcache_size (akcache_t *self);

void
    akcache_test (bool verbose);

#endif
