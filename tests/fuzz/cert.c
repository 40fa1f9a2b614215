/*  fuzz/cert - libFuzzer target for cert_decode and the offline
    operator credential checks (proto/opcred.h)
    Verifies against the golden vectors' CA key (seed 0xca), so inputs
    derived from tests/golden/cert.hex and cert-operator.hex reach the
    body and grant parsers, and with a validity time so the expiry
    check runs too.  */

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/cert.h"
#include "proto/opcred.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static uint8_t ca_key [WEFT_KEY_SIZE];
    static bool ready = false;
    if (!ready) {
        if (sodium_init () < 0)
            abort ();
        uint8_t seed [32], secret [WEFT_SECRET_SIZE];
        memset (seed, 0xca, sizeof seed);
        crypto_sign_seed_keypair (ca_key, secret, seed);
        ready = true;
    }
    cert_t cert;
    int rc = cert_decode (&cert, data, size, ca_key, 1767225600);
    if (rc == 0) {
        assert (cert.subject [0]);
        assert (cert.not_before <= 1767225600 && 1767225600 <= cert.not_after);
    }
    cert_decode (&cert, data, size, ca_key, 0);
    char reason [WEFT_TEXT_MAX + 1];
    if (opcred_verify (&cert, data, size, ca_key, 1767225600, ca_key, 1, reason) == OPCRED_OK) {
        assert (cert.kind == CERT_KIND_OPERATOR && cert.grant_count <= CERT_GRANTS_MAX);
        for (size_t i = 0; i < cert.grant_count; i++)
            assert (cert_path_valid (cert.grants [i].path));
        opcred_may (&cert, "viewer", "acme", "acme/plant-2", reason);
        opcred_may (&cert, "admin", "globex", "", reason);
    }
    else
        assert (reason [0]);
    return 0;
}
