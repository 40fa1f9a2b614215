/*  policy - the site-wide policy objects a node holds
    Index entries live in one hash by key and in one list per bucket, so
    a summary costs O(buckets) and a bucket's listing O(its keys). A
    bucket digest is the XOR of the BLAKE2b-128 digests of its objects'
    bytes: updated in O(1) when an object is replaced (XOR out the old,
    XOR in the new). Objects are never removed (a withdrawn policy is a
    newer version with empty content), so lists only grow, up to
    POLICY_OBJECTS_MAX.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "proto/policy.h"

typedef struct {
    char key [POLICYMSG_KEY_MAX + 1];
    uint64_t version;
    size_t size;                        //  Object bytes
    uint8_t digest [POLICYMSG_DIGEST_SIZE];
} s_entry_t;

struct _policy_store_t {
    store_t *store;
    char *table;
    char *prefix;                       //  Caller's prefix + POLICY_KEY_PREFIX
    uint8_t ca_key [WEFT_KEY_SIZE];
    zhashx_t *entries;                  //  Key -> s_entry_t (owned), made at the
                                        //  first object: most nodes hold none
    //  Entries (borrowed) by bucket: the array made at the first object,
    //  each list at its first entry. Most nodes hold a few policies or
    //  none, and a node is a few KB in weft-sim
    zlistx_t **buckets;                 //  POLICYMSG_BUCKETS lists
    uint8_t *digests;                   //  POLICYMSG_BUCKETS * DIGEST_SIZE, made at the
                                        //  first object or summary (zeros until then)
    size_t bytes;                       //  Object bytes held
};

static void
s_entry_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

size_t
policy_bucket (const char *key)
{
    assert (key);
    uint8_t hash [32];
    keys_hash (key, strlen (key), hash);
    return hash [0] % POLICYMSG_BUCKETS;
}

static void
s_digest (const uint8_t *object, size_t size, uint8_t digest [POLICYMSG_DIGEST_SIZE])
{
    uint8_t hash [32];
    keys_hash (object, size, hash);
    memcpy (digest, hash, POLICYMSG_DIGEST_SIZE);
}

static void
s_xor (uint8_t *into, const uint8_t *digest)
{
    for (size_t i = 0; i < POLICYMSG_DIGEST_SIZE; i++)
        into [i] ^= digest [i];
}

//  --------------------------------------------------------------------------
//  Create and destroy

policy_store_t *
policy_store_new (store_t *store, const char *table, const char *prefix,
                  const uint8_t ca_key [WEFT_KEY_SIZE])
{
    assert (store && table && ca_key);
    policy_store_t *self = (policy_store_t *) zmalloc (sizeof (policy_store_t));
    self->store = store;
    self->table = strndup (table, WEFT_NAME_MAX);
    self->prefix = zsys_sprintf ("%.*s%s", WEFT_NAME_MAX, prefix? prefix: "",
                                 POLICY_KEY_PREFIX);
    memcpy (self->ca_key, ca_key, WEFT_KEY_SIZE);
    return self;
}

void
policy_store_destroy (policy_store_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        policy_store_t *self = *self_p;
        for (size_t i = 0; self->buckets && i < POLICYMSG_BUCKETS; i++)
            zlistx_destroy (&self->buckets [i]);
        free (self->buckets);
        zhashx_destroy (&self->entries);
        free (self->digests);
        free (self->table);
        free (self->prefix);
        free (self);
        *self_p = NULL;
    }
}

static s_entry_t *
s_lookup (policy_store_t *self, const char *key)
{
    return self->entries? (s_entry_t *) zhashx_lookup (self->entries, key): NULL;
}

static size_t
s_count (policy_store_t *self)
{
    return self->entries? zhashx_size (self->entries): 0;
}

//  Index one verified object (new key or a replacement)
static void
s_index (policy_store_t *self, const char *key, uint64_t version, const uint8_t *object,
         size_t size)
{
    size_t bucket = policy_bucket (key);
    if (!self->digests)
        self->digests = (uint8_t *) zmalloc (POLICYMSG_BUCKETS * POLICYMSG_DIGEST_SIZE);
    uint8_t *bucket_digest = self->digests + bucket * POLICYMSG_DIGEST_SIZE;
    if (!self->entries) {
        self->entries = zhashx_new ();
        zhashx_set_destructor (self->entries, s_entry_destroy);
        self->buckets = (zlistx_t **) zmalloc (POLICYMSG_BUCKETS * sizeof (zlistx_t *));
    }
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->entries, key);
    if (entry) {
        s_xor (bucket_digest, entry->digest);
        self->bytes -= entry->size;
    }
    else {
        entry = (s_entry_t *) zmalloc (sizeof (s_entry_t));
        snprintf (entry->key, sizeof entry->key, "%s", key);
        zhashx_insert (self->entries, key, entry);
        if (!self->buckets [bucket])
            self->buckets [bucket] = zlistx_new ();
        zlistx_add_end (self->buckets [bucket], entry);
    }
    entry->version = version;
    entry->size = size;
    s_digest (object, size, entry->digest);
    s_xor (bucket_digest, entry->digest);
    self->bytes += size;
}

static int
s_load_one (void *arg, const void *key, size_t key_size, const void *value, size_t value_size)
{
    policy_store_t *self = (policy_store_t *) arg;
    policy_object_t object;
    char name [POLICYMSG_KEY_MAX + 1];
    size_t prefix_size = strlen (self->prefix);
    if (policymsg_decode (&object, (const uint8_t *) value, value_size, self->ca_key)) {
        zsys_warning ("policy: a stored object does not verify with the CA key; ignored");
        return 0;
    }
    snprintf (name, sizeof name, "%s/%s", object.kind, object.name);
    if (key_size != prefix_size + strlen (name)
    ||  memcmp ((const char *) key + prefix_size, name, strlen (name)) != 0) {
        zsys_warning ("policy: stored object %s is under another key; ignored", name);
        return 0;
    }
    if (s_count (self) < POLICY_OBJECTS_MAX)
        s_index (self, name, object.version, (const uint8_t *) value, value_size);
    return 0;
}

int
policy_store_load (policy_store_t *self)
{
    assert (self);
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return -1;
    int rc = store_scan (txn, self->table, self->prefix, strlen (self->prefix),
                         s_load_one, self);
    store_abort (&txn);
    return rc < 0? -1: (int) s_count (self);
}

//  --------------------------------------------------------------------------
//  Offer

int
policy_store_offer (policy_store_t *self, const uint8_t *data, size_t size, char *key,
                    uint64_t *version_p)
{
    assert (self && data);
    policy_object_t object;
    int rc = policymsg_decode (&object, data, size, self->ca_key);
    if (rc == PROTO_ERR_SIGNATURE || rc == PROTO_ERR_UNSIGNED)
        return POLICY_FORGED;
    if (rc)
        return POLICY_MALFORMED;
    char name [POLICYMSG_KEY_MAX + 1];
    snprintf (name, sizeof name, "%s/%s", object.kind, object.name);
    if (key)
        memcpy (key, name, strlen (name) + 1);
    if (version_p)
        *version_p = object.version;
    s_entry_t *entry = s_lookup (self, name);
    if (entry && object.version < entry->version)
        return POLICY_STALE;
    if (entry && object.version == entry->version) {
        //  Two different objects of one version (the CA signed both):
        //  the larger digest wins everywhere, so holders still converge
        uint8_t digest [POLICYMSG_DIGEST_SIZE];
        s_digest (data, size, digest);
        if (memcmp (digest, entry->digest, sizeof digest) <= 0)
            return POLICY_DUPLICATE;
    }
    if (!entry && s_count (self) >= POLICY_OBJECTS_MAX)
        return POLICY_FULL;
    if (self->bytes - (entry? entry->size: 0) + size > POLICY_BYTES_MAX)
        return POLICY_FULL;
    store_txn_t *txn = store_begin (self->store, true);
    char *full = zsys_sprintf ("%s%s", self->prefix, name);
    rc = txn? store_put (txn, self->table, full, strlen (full), data, size): -1;
    if (rc == 0)
        rc = store_commit (&txn);
    store_abort (&txn);
    free (full);
    if (rc) {
        zsys_warning ("policy: cannot store %s version %" PRIu64, name, object.version);
        return POLICY_STORE_FAILED;
    }
    s_index (self, name, object.version, data, size);
    return POLICY_STORED;
}

//  --------------------------------------------------------------------------
//  Lookups

uint64_t
policy_store_version (policy_store_t *self, const char *key)
{
    assert (self && key);
    s_entry_t *entry = s_lookup (self, key);
    return entry? entry->version: 0;
}

uint8_t *
policy_store_object (policy_store_t *self, const char *key, size_t *size_p)
{
    assert (self && key && size_p);
    *size_p = 0;
    if (!s_lookup (self, key))
        return NULL;
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return NULL;
    char *full = zsys_sprintf ("%s%s", self->prefix, key);
    uint8_t *object = (uint8_t *) store_get (txn, self->table, full, strlen (full), size_p);
    store_abort (&txn);
    free (full);
    return object;
}

int
policy_get (store_txn_t *txn, const char *table, const char *prefix, const char *kind,
            const char *name, const uint8_t ca_key [WEFT_KEY_SIZE], policy_t *policy)
{
    assert (txn && table && kind && name && ca_key && policy);
    memset (policy, 0, sizeof *policy);
    if (!policymsg_kind_valid (kind) || !policymsg_name_valid (name))
        return 1;
    char *full = zsys_sprintf ("%s%s%s/%s", prefix? prefix: "", POLICY_KEY_PREFIX, kind, name);
    size_t size = 0;
    uint8_t *data = (uint8_t *) store_get (txn, table, full, strlen (full), &size);
    free (full);
    if (!data)
        return 1;
    policy_object_t object;
    int rc = 1;
    if (policymsg_decode (&object, data, size, ca_key) == 0
    &&  streq (object.kind, kind) && streq (object.name, name)) {
        snprintf (policy->kind, sizeof policy->kind, "%s", object.kind);
        snprintf (policy->name, sizeof policy->name, "%s", object.name);
        policy->version = object.version;
        policy->content = (uint8_t *) zmalloc (object.content_size + 1);
        memcpy (policy->content, object.content, object.content_size);
        policy->content_size = object.content_size;
        rc = 0;
    }
    else
        zsys_warning ("policy: stored %s/%s does not verify with the CA key; ignored",
                      kind, name);
    free (data);
    return rc;
}

int
policy_store_get (policy_store_t *self, const char *kind, const char *name, policy_t *policy)
{
    assert (self);
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn) {
        memset (policy, 0, sizeof *policy);
        return -1;
    }
    //  prefix already holds POLICY_KEY_PREFIX: give policy_get the caller's part
    char prefix [WEFT_NAME_MAX + 16];
    snprintf (prefix, sizeof prefix, "%.*s", (int) (strlen (self->prefix)
              - strlen (POLICY_KEY_PREFIX)), self->prefix);
    int rc = policy_get (txn, self->table, prefix, kind, name, self->ca_key, policy);
    store_abort (&txn);
    return rc;
}

void
policy_free (policy_t *policy)
{
    if (policy) {
        free (policy->content);
        policy->content = NULL;
        policy->content_size = 0;
    }
}

size_t
policy_store_count (policy_store_t *self)
{
    assert (self);
    return s_count (self);
}

void
policy_store_root (policy_store_t *self, uint8_t root [POLICYMSG_DIGEST_SIZE])
{
    assert (self && root);
    uint8_t hash [32];
    uint8_t none [POLICYMSG_BUCKETS * POLICYMSG_DIGEST_SIZE] = { 0 };
    keys_hash (self->digests? self->digests: none, sizeof none, hash);
    memcpy (root, hash, POLICYMSG_DIGEST_SIZE);
}

const uint8_t *
policy_store_buckets (policy_store_t *self)
{
    assert (self);
    if (!self->digests)
        self->digests = (uint8_t *) zmalloc (POLICYMSG_BUCKETS * POLICYMSG_DIGEST_SIZE);
    return self->digests;
}

void
policy_store_each (policy_store_t *self, size_t bucket, policy_each_fn *fn, void *arg)
{
    assert (self && fn);
    if (bucket >= POLICYMSG_BUCKETS || !self->buckets || !self->buckets [bucket])
        return;
    for (s_entry_t *entry = (s_entry_t *) zlistx_first (self->buckets [bucket]); entry;
         entry = (s_entry_t *) zlistx_next (self->buckets [bucket]))
        if (fn (arg, entry->key, entry->version))
            break;
}

//  --------------------------------------------------------------------------
//  Selftest

static int
s_count_each (void *arg, const char *key, uint64_t version)
{
    (void) key;
    (void) version;
    (*(int *) arg)++;
    return 0;
}

void
policy_test (bool verbose)
{
    printf (" * policy: ");
    //  @selftest
    char dir [] = "/tmp/weft-policy-test.XXXXXX";
    assert (mkdtemp (dir));
    const char *tables [] = { "mesh", NULL };
    store_t *store = store_new (dir, tables, 0);
    assert (store);
    keys_t ca, rogue;
    keys_generate (&ca);
    keys_generate (&rogue);
    policy_store_t *a = policy_store_new (store, "mesh", "a/", ca.sign_public);
    policy_store_t *b = policy_store_new (store, "mesh", "b/", ca.sign_public);
    assert (policy_store_load (a) == 0);
    uint8_t root_a [POLICYMSG_DIGEST_SIZE], root_b [POLICYMSG_DIGEST_SIZE];
    policy_store_root (a, root_a);
    policy_store_root (b, root_b);
    assert (memcmp (root_a, root_b, sizeof root_a) == 0);       //  Both empty

    policy_object_t object = { "profile", "gateway", 2, (const uint8_t *) "{\"v\":2}", 7 };
    uint8_t *v2, *v1, *forged;
    size_t v2_size, v1_size, forged_size;
    assert (policymsg_encode (&object, ca.sign_secret, &v2, &v2_size) == 0);
    object.version = 1;
    object.content = (const uint8_t *) "{\"v\":1}";
    assert (policymsg_encode (&object, ca.sign_secret, &v1, &v1_size) == 0);
    object.version = 9;
    assert (policymsg_encode (&object, rogue.sign_secret, &forged, &forged_size) == 0);

    char key [POLICYMSG_KEY_MAX + 1];
    uint64_t version = 0;
    assert (policy_store_offer (a, v2, v2_size, key, &version) == POLICY_STORED);
    assert (streq (key, "profile/gateway") && version == 2);
    assert (policy_store_offer (a, v2, v2_size, NULL, NULL) == POLICY_DUPLICATE);
    assert (policy_store_offer (a, v1, v1_size, NULL, NULL) == POLICY_STALE);
    assert (policy_store_offer (a, forged, forged_size, NULL, NULL) == POLICY_FORGED);
    assert (policy_store_offer (a, (const uint8_t *) "\x92\xc4\x00", 3, NULL, NULL)
            == POLICY_MALFORMED);
    assert (policy_store_version (a, "profile/gateway") == 2);
    assert (policy_store_count (a) == 1);

    //  b gets v1 then v2: the same root as a once it holds v2
    assert (policy_store_offer (b, v1, v1_size, NULL, NULL) == POLICY_STORED);
    policy_store_root (a, root_a);
    policy_store_root (b, root_b);
    assert (memcmp (root_a, root_b, sizeof root_a) != 0);
    assert (policy_store_offer (b, v2, v2_size, NULL, NULL) == POLICY_STORED);
    policy_store_root (b, root_b);
    assert (memcmp (root_a, root_b, sizeof root_a) == 0);
    int listed = 0;
    policy_store_each (b, policy_bucket ("profile/gateway"), s_count_each, &listed);
    assert (listed == 1);

    //  Lookup, from the store and through the holder
    policy_t policy;
    store_txn_t *txn = store_begin (store, false);
    assert (policy_get (txn, "mesh", "a/", "profile", "gateway", ca.sign_public, &policy) == 0);
    assert (policy.version == 2 && policy.content_size == 7);
    assert (streq ((char *) policy.content, "{\"v\":2}"));
    policy_free (&policy);
    policy_free (&policy);
    assert (policy_get (txn, "mesh", "a/", "profile", "server", ca.sign_public, &policy) == 1);
    assert (policy_get (txn, "mesh", "a/", "profile", "gateway", rogue.sign_public,
                        &policy) == 1);
    store_abort (&txn);
    assert (policy_store_get (b, "profile", "gateway", &policy) == 0);
    assert (policy.version == 2);
    policy_free (&policy);
    size_t size;
    uint8_t *bytes = policy_store_object (a, "profile/gateway", &size);
    assert (bytes && size == v2_size && memcmp (bytes, v2, size) == 0);
    free (bytes);

    //  A restart finds the same set
    policy_store_destroy (&a);
    a = policy_store_new (store, "mesh", "a/", ca.sign_public);
    assert (policy_store_load (a) == 1);
    policy_store_root (a, root_a);
    assert (memcmp (root_a, root_b, sizeof root_a) == 0);
    //  A store that fails its write leaves the held version
    object.version = 3;
    uint8_t *v3;
    size_t v3_size;
    assert (policymsg_encode (&object, ca.sign_secret, &v3, &v3_size) == 0);
    store_fail_after (store, 1);
    assert (policy_store_offer (a, v3, v3_size, NULL, NULL) == POLICY_STORE_FAILED);
    store_fail_after (store, 0);
    assert (policy_store_version (a, "profile/gateway") == 2);
    assert (policy_store_offer (a, v3, v3_size, NULL, NULL) == POLICY_STORED);
    //  Count limit: keys beyond POLICY_OBJECTS_MAX are refused
    store_set_nosync (store, true);
    for (int i = 0; i < POLICY_OBJECTS_MAX; i++) {
        policy_object_t many = { "test", "", 1, (const uint8_t *) "", 0 };
        snprintf (many.name, sizeof many.name, "n%d", i);
        uint8_t *one;
        size_t one_size;
        assert (policymsg_encode (&many, ca.sign_secret, &one, &one_size) == 0);
        int rc = policy_store_offer (a, one, one_size, NULL, NULL);
        assert (rc == (i < POLICY_OBJECTS_MAX - 1? POLICY_STORED: POLICY_FULL));
        free (one);
    }
    assert (policy_store_count (a) == POLICY_OBJECTS_MAX);
    if (verbose)
        printf ("(%zu objects) ", policy_store_count (a));
    free (v1);
    free (v2);
    free (v3);
    free (forged);
    policy_store_destroy (&a);
    policy_store_destroy (&b);
    keys_wipe (&ca);
    keys_wipe (&rogue);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    //  @end
    printf ("OK\n");
}
