/*  publish - the coordinator's site-wide policies, as objects for the mesh
    A sync reads every profile and allowlist once (a handful of records
    per tenant: one per device type), so it runs after each change that
    may touch them and at start, never per message.  */

#include "proto/corelib.h"
#include "proto/codec.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/publish.h"

typedef struct {
    char kind [POLICYMSG_KIND_MAX + 1];
    char name [POLICYMSG_NAME_MAX + 1];
    char tenant [WEFT_NAME_MAX + 1];
    char type [WEFT_NAME_MAX + 1];      //  Profiles
    char *text;                         //  Heap
    size_t size;
} s_item_t;

static void
s_item_destroy (void **item_p)
{
    s_item_t *item = (s_item_t *) *item_p;
    if (item) {
        free (item->text);
        free (item);
        *item_p = NULL;
    }
}

//  A profile or allowlist of tenant to publish: named "<tenant>/<name>",
//  or "<name>" for the devices without a tenant
static int
s_item_add (void *arg, const char *tenant, const char *type)
{
    s_item_t *item = (s_item_t *) zmalloc (sizeof (s_item_t));
    snprintf (item->kind, sizeof item->kind, "%s",
              type? POLICY_KIND_PROFILE: POLICY_KIND_ALLOWLIST);
    snprintf (item->tenant, sizeof item->tenant, "%s", tenant);
    snprintf (item->type, sizeof item->type, "%s", type? type: "");
    if (policymsg_name (tenant, type? type: POLICY_ALLOWLIST_NAME, item->name)) {
        free (item);
        return 0;                   //  Names checked when stored: not reached
    }
    zlistx_add_end ((zlistx_t *) arg, item);
    return 0;
}

//  Sign and offer one object at the next version of its key
static int
s_publish (pki_t *pki, policy_store_t *policies, gossip_t *gossip, const s_item_t *item,
           uint64_t now_ms)
{
    char key [POLICYMSG_KEY_MAX + 1];
    snprintf (key, sizeof key, "%s/%s", item->kind, item->name);
    policy_object_t object;
    memset (&object, 0, sizeof object);
    snprintf (object.kind, sizeof object.kind, "%s", item->kind);
    snprintf (object.name, sizeof object.name, "%s", item->name);
    object.version = policy_store_version (policies, key) + 1;
    object.content = (const uint8_t *) item->text;
    object.content_size = item->size;
    uint8_t *body, *bytes;
    size_t body_size, size;
    if (policymsg_body (&object, &body, &body_size)) {
        zsys_warning ("publish: %s cannot be published (name or size)", key);
        return -1;
    }
    uint8_t sig [WEFT_SIG_SIZE];
    pki_sign (pki, POLICYMSG_CONTEXT, body, body_size, sig);
    int rc = policymsg_seal (body, body_size, sig, &bytes, &size);
    free (body);
    if (rc)
        return -1;
    rc = gossip_publish (gossip, bytes, size, now_ms);
    free (bytes);
    if (rc != POLICY_STORED)
        return -1;
    zsys_info ("publish: %s version %" PRIu64 " published to the mesh", key, object.version);
    return 0;
}

int
publish_policies (store_t *store, pki_t *pki, policy_store_t *policies, gossip_t *gossip,
                  uint64_t now_ms)
{
    assert (store && pki && policies && gossip);
    zlistx_t *items = zlistx_new ();
    zlistx_set_destructor (items, s_item_destroy);
    store_txn_t *txn = store_begin (store, false);
    if (!txn) {
        zlistx_destroy (&items);
        return -1;
    }
    int rc = attest_profile_each (txn, s_item_add, items);
    if (rc == 0)
        rc = attest_allowlist_each (txn, s_item_add, items);
    for (s_item_t *item = (s_item_t *) zlistx_first (items); item;
         item = (s_item_t *) zlistx_next (items)) {
        if (streq (item->kind, POLICY_KIND_PROFILE)) {
            json_t *profile = attest_profile_get (txn, item->tenant, item->type,
                                                  pki_ca_key (pki));
            item->text = profile? registry_dump (profile): NULL;
            item->size = item->text? strlen (item->text): 0;
            json_decref (profile);
        }
        else
            item->text = attest_allowlist_text (txn, item->tenant, pki_ca_key (pki),
                                                &item->size);
    }
    store_abort (&txn);
    int published = 0;
    for (s_item_t *item = (s_item_t *) zlistx_first (items); rc >= 0 && item;
         item = (s_item_t *) zlistx_next (items)) {
        if (!item->text)
            continue;                   //  None, or it does not verify (logged)
        char key [POLICYMSG_KEY_MAX + 1];
        snprintf (key, sizeof key, "%s/%s", item->kind, item->name);
        policy_t held;
        int found = policy_store_get (policies, item->kind, item->name, &held);
        bool same = found == 0 && held.content_size == item->size
                 && memcmp (held.content, item->text, item->size) == 0;
        policy_free (&held);
        if (!same && s_publish (pki, policies, gossip, item, now_ms) == 0)
            published++;
    }
    zlistx_destroy (&items);
    return rc < 0? -1: published;
}

//  --------------------------------------------------------------------------
//  Selftest

static int
s_test_send (void *ctx, const char *link, int type, const uint8_t *payload, size_t size)
{
    (void) link;
    (void) payload;
    (void) size;
    if (type == MSG_POLICY)
        (*(int *) ctx)++;
    return 0;
}

void
publish_test (bool verbose)
{
    printf (" * publish: ");
    //  @selftest
    char dir [] = "/tmp/weft-publish-test.XXXXXX";
    assert (mkdtemp (dir));
    store_t *store = store_new (dir, registry_tables (), 0);
    assert (store);
    keys_t ca;
    keys_generate (&ca);
    pki_t *pki = pki_new (&ca);
    policy_store_t *policies = policy_store_new (store, PUBLISH_TABLE, "", ca.sign_public);
    int pushed = 0;
    gossip_config_t config = { policies, 1000, 16, true, verbose };
    gossip_effects_t effects = { &pushed, s_test_send };
    gossip_t *gossip = gossip_new (&config, &effects);
    gossip_link_up (gossip, "server-1", true, 0);
    assert (publish_policies (store, pki, policies, gossip, 0) == 0);

    char error [256];
    store_txn_t *txn = store_begin (store, true);
    json_t *doc = json_pack ("{s:{s:s}}", "pcrs", "0",
        "0000000000000000000000000000000000000000000000000000000000000000");
    assert (attest_profile_put (txn, "acme", "gateway", doc, pki, error, sizeof error) == 0);
    assert (attest_profile_put (txn, "", "gateway", doc, pki, error, sizeof error) == 0);
    const char *allow = "1111111111111111111111111111111111111111111111111111111111111111  /bin/a\n";
    assert (attest_allowlist_put (txn, "acmex", allow, strlen (allow), pki, error, sizeof error)
            == 1);
    assert (store_commit (&txn) == 0);
    assert (publish_policies (store, pki, policies, gossip, 0) == 3);
    assert (pushed == 3);
    //  Each tenant's under its name; the devices without a tenant's plain
    assert (policy_store_version (policies, "profile/acme/gateway") == 1);
    assert (policy_store_version (policies, "profile/gateway") == 1);
    assert (policy_store_version (policies, "allowlist/acmex/fleet") == 1);
    assert (policy_store_version (policies, "allowlist/acme/fleet") == 0);
    //  Nothing changed: nothing published
    assert (publish_policies (store, pki, policies, gossip, 0) == 0);
    //  A changed profile: version 2, with the text the coordinator verifies
    json_object_set_new (json_object_get (doc, "pcrs"), "7", json_string (
        "7777777777777777777777777777777777777777777777777777777777777777"));
    txn = store_begin (store, true);
    assert (attest_profile_put (txn, "acme", "gateway", doc, pki, error, sizeof error) == 0);
    assert (store_commit (&txn) == 0);
    assert (publish_policies (store, pki, policies, gossip, 0) == 1);
    assert (policy_store_version (policies, "profile/gateway") == 1);
    policy_t policy;
    assert (policy_store_get (policies, "profile", "acme/gateway", &policy) == 0);
    assert (policy.version == 2);
    json_t *back = json_loads ((const char *) policy.content, 0, NULL);
    assert (json_equal (back, doc));
    json_decref (back);
    policy_free (&policy);
    json_decref (doc);

    gossip_destroy (&gossip);
    policy_store_destroy (&policies);
    pki_destroy (&pki);
    keys_wipe (&ca);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    //  @end
    printf ("OK\n");
}
