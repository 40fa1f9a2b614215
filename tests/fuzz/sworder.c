/*  fuzz/sworder - libFuzzer target for the director's signed orders
    (proto/sworder.c), as any relay or bundle could bring them. Whatever
    the input, it is opened or refused without reading outside it; only
    an order signed by the coordinator's key is ever SWORDER_OK (the
    fuzzer cannot forge Ed25519, so a mutated order never passes); a
    refusal leaves the output zeroed. Seeded with the golden order.  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/sworder.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static keys_t coord;
    static uint8_t *golden;
    static size_t golden_size;
    static bool ready = false;
    if (!ready) {
        //  The golden order (proto/sworder.c's selftest): key 0xc0
        keys_from_byte (&coord, 0xc0);
        sworder_t order = { .kind = SWORDER_ENTITLE, .tenant = "acme", .scope = "plc-1",
                            .name = "plc-app", .issued_ms = 1767225600000ULL,
                            .until_ms = 1767225600000ULL + 86400000ULL };
        int rc = sworder_sign (&order, coord.sign_secret, &golden, &golden_size);
        assert (rc == 0);
        (void) rc;
        ready = true;
    }
    static const char *scopes [][2] = { { "plc-1", "plc" }, { "plc-2", "plc" },
                                        { "gw-1", "gateway" } };
    for (size_t i = 0; i < 3; i++) {
        sworder_t order;
        int rc = sworder_open (&order, data, size, coord.sign_public, "acme", scopes [i][0],
                               scopes [i][1]);
        assert (rc >= SWORDER_OK && rc <= SWORDER_DEVICE);
        if (rc == SWORDER_OK) {
            //  Signed: only the golden bytes can be
            assert (size == golden_size && memcmp (data, golden, size) == 0);
            assert (order.kind == SWORDER_ENTITLE || order.kind == SWORDER_UNINSTALL);
            assert (*order.name && streq (order.tenant, "acme"));
        }
        else {
            static const sworder_t zero;
            assert (memcmp (&order, &zero, sizeof order) == 0);
        }
        assert (*sworder_strerror (rc));
    }
    return 0;
}
