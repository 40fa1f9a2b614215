/*  fuzz/bundle - libFuzzer target for bundles (proto/bundle.c), as a
    USB stick or a data diode brings them. The input is read as a bundle
    file is, record by record, from the fixture publisher's root (the
    golden vectors' keys), and searched for each record type
    (bundle_find). Whatever the input, checking returns a result
    and reads nothing outside it; a bundle that passes has its end record
    and moved trust only to metadata the fixture keys signed (the
    fuzzer cannot forge Ed25519, so the tenant stays the fixture's).  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/corelib.h"
#include "proto/bundle.h"
#include "proto/release_fixture.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static release_trust_t trust;
    static bool ready = false;
    if (!ready) {
        release_fixture_t k;
        release_fixture_keys (&k);
        size_t root_size;
        uint8_t *root = release_fixture_root (&k, 1, FIXTURE_NOW + 365 * FIXTURE_DAY, k.root,
                                              2, k.root, &root_size);
        assert (release_trust_init (&trust, root, root_size, FIXTURE_NOW) == 0);
        free (root);
        ready = true;
    }
    bundle_check_t *check = bundle_check_new (&trust, FIXTURE_NOW);
    int rc = size >= BUNDLE_MAGIC_SIZE? bundle_check_magic (check, data): -1;
    size_t at = BUNDLE_MAGIC_SIZE;
    while (rc == 0 && at < size) {
        bundle_record_t type;
        size_t length;
        if (size - at < BUNDLE_HEADER_SIZE || bundle_header (data + at, &type, &length)
        ||  size - at - BUNDLE_HEADER_SIZE < length)
            rc = -1;
        else {
            rc = bundle_check_record (check, data + at, data + at + BUNDLE_HEADER_SIZE, length);
            at += BUNDLE_HEADER_SIZE + length;
        }
    }
    if (rc == 0 && bundle_check_done (check) == 0) {
        const release_trust_t *after = bundle_check_trust (check);
        assert (streq (after->root.tenant, "acme"));
        assert (after->root.version >= trust.root.version);
    }
    size_t missing;
    (void) bundle_check_chunks (check, &missing);
    //  bundle_find (a relayed offer's manifest): a record it finds lies
    //  inside the input
    for (int type = BUNDLE_ROOT; type <= BUNDLE_CHUNK; type++) {
        const uint8_t *body;
        size_t body_size;
        if (bundle_find (data, size, (bundle_record_t) type, &body, &body_size) == 0)
            assert (body >= data && body_size <= size && body - data <= (ptrdiff_t) (size - body_size));
    }
    bundle_check_destroy (&check);
    return 0;
}
