/*  fuzz/passport - libFuzzer target for attestation passports
    (proto/passport.c), as a HELLO or a PASSPORT envelope brings them.
    Whatever the input, decoding and checking return a result, never
    read outside the input, and a passport that checks as fresh is one
    for the holder's certificate, unexpired (the seed corpus holds a
    genuine one, signed with the golden vectors' coordinator key).  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/passport.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static keys_t ca, coord;
    static cert_t holder;
    static bool ready = false;
    if (!ready) {
        keys_from_byte (&ca, 0xca);
        keys_from_byte (&coord, 0xc0);
        memset (&holder, 0, sizeof holder);
        holder.serial = 2;
        holder.kind = CERT_KIND_NODE;
        strcpy (holder.subject, "node-1");
        strcpy (holder.tenant, "acme");
        strcpy (holder.role, "gateway");
        ready = true;
    }
    passport_t passport;
    if (passport_decode (&passport, data, size) == 0) {
        assert (passport.device [0] && passport.issuer [0]);
        assert (passport.expires_ms > passport.attested_ms);
        assert (passport.issuer_cert_size <= PASSPORT_ISSUER_CERT_MAX);
        if (passport.issuer_cert)
            assert (passport.issuer_cert >= data
                    && passport.issuer_cert + passport.issuer_cert_size <= data + size);
    }
    char why [256];
    int rc = passport_check (data, size, &holder, ca.sign_public, coord.sign_public,
                             1767225600000ULL, &passport, why, sizeof why);
    assert (rc <= PASSPORT_OK && rc >= PASSPORT_EXPIRED);
    if (rc == PASSPORT_OK)
        assert (streq (passport.device, holder.subject) && passport.cert_serial == holder.serial
                && passport.expires_ms > 1767225600000ULL);
    assert (strlen (why) < sizeof why);
    return 0;
}
