/*  entitle_test - selftest of the entitlements over a real LMDB store:
    a grant makes its software governed and active, the clock passing its
    end deactivates it (at the deadline the module names), a renewal
    re-activates it, a replayed older grant and orders that are forged,
    another tenant's or another device's change nothing, and what is
    held survives a restart.  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "node/core/update.h"
#include "node/core/entitle.h"

#define S_NOW   1767225600000ULL
#define S_DAY   86400000ULL

typedef struct {
    char name [WEFT_NAME_MAX + 1];
    bool active;
    char why [64];
    int calls;
} s_seen_t;

static void
s_changed (void *ctx, const char *name, bool active, const char *why)
{
    s_seen_t *seen = (s_seen_t *) ctx;
    snprintf (seen->name, sizeof seen->name, "%s", name);
    seen->active = active;
    snprintf (seen->why, sizeof seen->why, "%s", why);
    seen->calls++;
}

//  An order signed by signer, opened as the device would (0 if refused)
static int
s_order (entitle_t *entitle, const keys_t *signer, const keys_t *coord, const char *tenant,
         const char *scope, uint64_t issued, uint64_t until, uint64_t now,
         char reason [WEFT_TEXT_MAX + 1])
{
    sworder_t order = { .kind = SWORDER_ENTITLE, .issued_ms = issued, .until_ms = until };
    snprintf (order.tenant, sizeof order.tenant, "%s", tenant);
    snprintf (order.scope, sizeof order.scope, "%s", scope);
    strcpy (order.name, "plc-app");
    uint8_t *data;
    size_t size;
    assert (sworder_sign (&order, signer->sign_secret, &data, &size) == 0);
    sworder_t opened;
    int rc = sworder_open (&opened, data, size, coord->sign_public, "acme", "gw-1", "gateway");
    if (rc)
        snprintf (reason, WEFT_TEXT_MAX + 1, "%s", sworder_strerror (rc));
    else
        rc = entitle_order (entitle, &opened, data, size, now, reason);
    free (data);
    return rc;
}

void
entitle_test (bool verbose)
{
    (void) verbose;
    printf (" * entitle: ");
    //  @selftest
    char dir [] = "/tmp/weft-entitle-test-XXXXXX";
    assert (mkdtemp (dir));
    const char *tables [] = { UPDATE_TABLE, NULL };
    store_t *store = store_new (dir, tables, 0);
    assert (store);
    keys_t coord, rogue;
    keys_from_byte (&coord, 0xc0);
    keys_from_byte (&rogue, 0xc1);
    entitle_config_t config = { .name = "gw-1", .tenant = "acme", .type = "gateway",
                                .coord_sign = coord.sign_public, .store = store,
                                .prefix = "" };
    s_seen_t seen;
    memset (&seen, 0, sizeof seen);
    entitle_effects_t effects = { &seen, s_changed };
    entitle_t *entitle = entitle_new (&config, &effects);
    assert (entitle);
    uint64_t now = S_NOW;
    assert (entitle_start (entitle, now) == 0);
    assert (seen.calls == 0 && entitle_deadline (entitle) == 0);
    assert (!entitle_governed (entitle, "plc-app") && entitle_active (entitle, "plc-app", now));
    char reason [WEFT_TEXT_MAX + 1];

    //  A grant for a day, to the device's type: governed and active
    assert (s_order (entitle, &coord, &coord, "acme", "type:gateway", now, now + S_DAY, now,
                     reason) == WEFT_STATUS_OK);
    assert (seen.calls == 1 && seen.active && streq (seen.name, "plc-app"));
    assert (entitle_governed (entitle, "plc-app"));
    assert (entitle_deadline (entitle) == now + S_DAY);
    //  The same again (a custody retry): nothing changes
    assert (s_order (entitle, &coord, &coord, "acme", "type:gateway", now, now + S_DAY, now,
                     reason) == WEFT_STATUS_OK);
    assert (seen.calls == 1);
    //  Forged, another tenant's, another device's: refused, nothing changes
    assert (s_order (entitle, &rogue, &coord, "acme", "gw-1", now + 1, now + 9 * S_DAY, now,
                     reason) == SWORDER_FORGED);
    assert (s_order (entitle, &coord, &coord, "globex", "gw-1", now + 1, now + 9 * S_DAY, now,
                     reason) == SWORDER_TENANT);
    assert (s_order (entitle, &coord, &coord, "acme", "gw-2", now + 1, now + 9 * S_DAY, now,
                     reason) == SWORDER_DEVICE);
    assert (entitle_until (entitle, "plc-app") == now + S_DAY && seen.calls == 1);

    //  The clock passes the end: deactivated, with the reason
    now += S_DAY;
    entitle_tick (entitle, now);
    assert (seen.calls == 2 && !seen.active && streq (seen.why, ENTITLE_EXPIRED));
    assert (!entitle_active (entitle, "plc-app", now) && entitle_deadline (entitle) == 0);
    entitle_tick (entitle, now + 1);
    assert (seen.calls == 2);
    //  A renewal re-activates it
    assert (s_order (entitle, &coord, &coord, "acme", "gw-1", now, now + 30 * S_DAY, now,
                     reason) == WEFT_STATUS_OK);
    assert (seen.calls == 3 && seen.active && entitle_active (entitle, "plc-app", now));
    //  A replay of the first grant (older): refused, the renewal holds
    assert (s_order (entitle, &coord, &coord, "acme", "type:gateway", S_NOW, S_NOW + S_DAY,
                     now, reason) == WEFT_STATUS_DENIED);
    assert (strstr (reason, "older than the one held"));
    assert (entitle_until (entitle, "plc-app") == now + 30 * S_DAY && seen.calls == 3);
    //  A newer grant may also cut it short (revocation)
    assert (s_order (entitle, &coord, &coord, "acme", "*", now + 1, now + 1, now + 1,
                     reason) == WEFT_STATUS_OK);
    assert (seen.calls == 4 && !seen.active);

    //  A restart reads back what is held and tells it
    entitle_destroy (&entitle);
    entitle_destroy (&entitle);
    memset (&seen, 0, sizeof seen);
    entitle = entitle_new (&config, &effects);
    assert (entitle_start (entitle, now + 2) == 0);
    assert (seen.calls == 1 && !seen.active && entitle_governed (entitle, "plc-app"));
    //  Another tenant's device reading the same store trusts none of it
    entitle_config_t other = config;
    other.tenant = "globex";
    entitle_t *stranger = entitle_new (&other, &effects);
    memset (&seen, 0, sizeof seen);
    assert (entitle_start (stranger, now) == 0);
    assert (seen.calls == 0 && !entitle_governed (stranger, "plc-app"));
    entitle_destroy (&stranger);
    entitle_destroy (&entitle);
    store_destroy (&store);
    char command [64];
    snprintf (command, sizeof command, "rm -rf %s", dir);
    assert (system (command) == 0);
    //  @end
    printf ("OK\n");
}
