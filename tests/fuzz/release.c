/*  fuzz/release - libFuzzer target for release metadata and the
    director's assignment (proto/release.c, proto/release_trust.c), as
    bundles, peers and the coordinator bring them. Whatever the input,
    every role decodes or is refused without reading outside it, and
    trust built from the golden root never moves to metadata not signed
    by the golden keys (the fuzzer cannot forge Ed25519): a refused
    update leaves trust unchanged. Seeded with the golden vectors.  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/codec.h"
#include "proto/release.h"

#define S_NOW   1800000000000ULL

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static release_trust_t trusted;
    static keys_t coord;
    static bool ready = false;
    if (!ready) {
        //  The golden vectors' root (proto/release_test.c): root keys
        //  0x10..0x12 (2 of 3), targets 0x20, 0x21 (2 of 2), snapshot
        //  0x30, timestamp 0x40, tenant acme
        memset (&trusted, 0, sizeof trusted);
        release_root_t *root = &trusted.root;
        root->version = 1;
        root->expires_ms = S_NOW + 365 * 86400000ULL;
        strcpy (root->tenant, "acme");
        uint8_t bytes [4][3] = { { 0x10, 0x11, 0x12 }, { 0x20, 0x21 }, { 0x30 }, { 0x40 } };
        size_t counts [4] = { 3, 2, 1, 1 };
        uint32_t thresholds [4] = { 2, 2, 1, 1 };
        for (int role = 0; role < 4; role++) {
            root->roles [role].threshold = thresholds [role];
            root->roles [role].key_count = counts [role];
            for (size_t i = 0; i < counts [role]; i++) {
                keys_t keys;
                keys_from_byte (&keys, bytes [role][i]);
                memcpy (root->roles [role].keys [i], keys.sign_public, 32);
            }
        }
        keys_from_byte (&coord, 0xc0);
        ready = true;
    }
    release_role_t role;
    const uint8_t *body;
    size_t body_size;
    if (release_open (data, size, &role, &body, &body_size) == 0) {
        assert (role >= RELEASE_ROOT && role <= RELEASE_TIMESTAMP);
        assert (body >= data && body + body_size <= data + size);
        release_root_t root;
        (void) release_root_decode (&root, body, body_size);
    }
    release_trust_t trust = trusted;
    int rc = release_trust_update (&trust, data, size, S_NOW);
    if (rc)
        assert (memcmp (&trust, &trusted, sizeof trust) == 0);
    release_assignment_t assignment;
    if (release_assignment_open (&assignment, data, size, coord.sign_public) == 0)
        assert (strlen (assignment.device) <= WEFT_NAME_MAX);
    manifest_t manifest;
    (void) release_check (&trusted, data, size, coord.sign_public, "gw-1", "gateway", 0,
                          data, size, S_NOW, &manifest);
    return 0;
}
