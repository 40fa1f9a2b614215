/*  artrepo_test - selftest of the artifact repository: a bundle
    uploaded in parts is checked as it arrives and taken in whole at its
    end; a damaged, cut or stale bundle, a bundle of another tenant's
    publisher, parts out of order and uploads of others are refused, and
    each refusal leaves the repository as it was. On a real store.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "proto/release_fixture.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/relroot.h"
#include "coordinator/core/artrepo.h"

#define S_PART      7000

//  Upload data as owner for tenant in parts of S_PART, each in its own
//  committed transaction as the coordinator runs them. Returns the
//  status of the first part refused, or of the last; the last result
//  in *result_p (caller decrefs).
static int
s_upload (artrepo_t *repo, store_t *store, const char *owner, const char *tenant,
          const uint8_t *data, size_t size, uint64_t now_ms, json_t **result_p, char *error)
{
    char id [17];
    store_txn_t *txn = store_begin (store, true);
    int status = artrepo_begin (repo, txn, owner, tenant, size, now_ms, id, error);
    assert (store_commit (&txn) == 0);
    *result_p = NULL;
    for (size_t at = 0; status == WEFT_STATUS_OK && at < size; at += S_PART) {
        json_decref (*result_p);
        txn = store_begin (store, true);
        status = artrepo_part (repo, txn, owner, id, at, data + at,
                               size - at < S_PART? size - at: S_PART, now_ms, result_p, error);
        assert (store_commit (&txn) == 0);
    }
    return status;
}

static int
s_count (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    (void) arg; (void) key; (void) key_size; (void) value; (void) size;
    return 0;
}

//  Releases listed for tenant, and staged records left
static size_t
s_listed (store_t *store, const char *tenant, int64_t *staged)
{
    store_txn_t *txn = store_begin (store, false);
    json_t *list = artrepo_list (txn, tenant, NULL);
    size_t count = json_array_size (json_object_get (list, "releases"));
    json_decref (list);
    *staged = store_scan (txn, ARTREPO_TABLE, "stage/", 6, s_count, NULL);
    store_abort (&txn);
    return count;
}

void
artrepo_test (bool verbose)
{
    printf (" * artrepo: ");
    //  @selftest
    char dir [] = "/tmp/weft-artrepo-test-XXXXXX";
    assert (mkdtemp (dir));
    store_t *store = store_new (dir, registry_tables (), 0);
    assert (store);
    artrepo_t *repo = artrepo_new (store);
    assert (repo);
    release_fixture_t k;
    release_fixture_keys (&k);
    uint64_t now = FIXTURE_NOW;
    size_t root_size, size;
    uint8_t *root = release_fixture_root (&k, 1, now + 365 * FIXTURE_DAY, k.root, 2, k.root,
                                          &root_size);
    uint8_t hash [32];
    uint8_t *bundle = release_fixture_bundle (&k, root, root_size, 1, "plc", "1.0",
                                              300 * 1024, hash, &size);
    char error [WEFT_TEXT_MAX + 1];
    json_t *result;
    int64_t staged;

    //  No root for the tenant yet: nothing to check against
    assert (s_upload (repo, store, "olga", "acme", bundle, size, now, &result, error)
            == WEFT_STATUS_CONFLICT);
    assert (strstr (error, "tenant acme has no release root"));
    store_txn_t *txn = store_begin (store, true);
    assert (relroot_set (txn, "acme", root, root_size, now, NULL, error, sizeof error) == 0);
    assert (store_commit (&txn) == 0);

    //  A byte changed in a chunk: refused at that part, nothing kept
    size_t at = size - 2000;
    bundle [at] ^= 0x40;
    assert (s_upload (repo, store, "olga", "acme", bundle, size, now, &result, error)
            == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (error, "bundle refused at byte"));
    bundle [at] ^= 0x40;
    assert (s_listed (store, "acme", &staged) == 0 && staged == 0);
    //  Cut short: refused when the last byte announced arrives
    assert (s_upload (repo, store, "olga", "acme", bundle, size - 40, now, &result, error)
            == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (error, "cut short"));
    assert (s_listed (store, "acme", &staged) == 0 && staged == 0);
    //  Not a bundle
    uint8_t noise [4096];
    randombytes_buf (noise, sizeof noise);
    assert (s_upload (repo, store, "olga", "acme", noise, sizeof noise, now, &result, error)
            == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (error, "not a bundle"));
    //  Another tenant's root cannot check acme's publisher's bundle
    size_t globex_size;
    uint8_t *globex = release_fixture_root_of (&k, "globex", 1, now + FIXTURE_DAY, k.root, 2,
                                               k.root, &globex_size);
    txn = store_begin (store, true);
    assert (relroot_set (txn, "globex", globex, globex_size, now, NULL, error, sizeof error)
            == 0);
    assert (store_commit (&txn) == 0);
    assert (s_upload (repo, store, "gina", "globex", bundle, size, now, &result, error)
            == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (error, "another tenant"));
    assert (s_listed (store, "globex", &staged) == 0 && staged == 0);

    //  The whole bundle: taken in at its end record, chunks pinned
    assert (s_upload (repo, store, "olga", "acme", bundle, size, now, &result, error)
            == WEFT_STATUS_OK);
    assert (json_array_size (json_object_get (result, "releases")) == 1);
    size_t chunks = (size_t) json_integer_value (json_object_get (result, "chunks"));
    assert (chunks > 5);
    json_decref (result);
    assert (s_listed (store, "acme", &staged) == 1 && staged == 0);
    assert (s_listed (store, "globex", &staged) == 0);
    txn = store_begin (store, false);
    json_t *shown = artrepo_show (txn, "acme", "plc", "1.0");
    assert (shown);
    char hex [65];
    keys_hex (hash, 32, hex);
    assert (streq (json_string_value (json_object_get (shown, "manifest_hash")), hex));
    assert ((size_t) json_integer_value (json_object_get (shown, "chunks")) == chunks);
    json_decref (shown);
    assert (!artrepo_show (txn, "globex", "plc", "1.0"));
    store_abort (&txn);
    assert (chunkstore_count (artrepo_chunks (repo)) == chunks);

    //  The same publication again is stale for no one: taken again (no
    //  change); an older one is refused
    uint8_t hash2 [32];
    size_t size2;
    uint8_t *bundle2 = release_fixture_bundle (&k, root, root_size, 2, "plc", "2.0",
                                               100 * 1024, hash2, &size2);
    assert (s_upload (repo, store, "olga", "acme", bundle2, size2, now, &result, error)
            == WEFT_STATUS_OK);
    json_decref (result);
    assert (s_upload (repo, store, "olga", "acme", bundle, size, now, &result, error)
            == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (error, "older than"));

    //  Parts: in order only; a retried one is acknowledged; another
    //  operator's upload is not there for them; an idle one expires
    char id [17];
    txn = store_begin (store, true);
    assert (artrepo_begin (repo, txn, "olga", "acme", size2, now, id, error) == 0);
    assert (artrepo_part (repo, txn, "olga", id, 10, bundle2, 100, now, &result, error)
            == WEFT_STATUS_BAD_REQUEST);
    assert (artrepo_part (repo, txn, "olga", id, 0, bundle2, ARTREPO_PART_MAX + 1, now,
                          &result, error) == WEFT_STATUS_BAD_REQUEST);
    assert (artrepo_part (repo, txn, "olga", id, 0, bundle2, 100, now, &result, error) == 0);
    json_decref (result);
    assert (artrepo_part (repo, txn, "olga", id, 0, bundle2, 100, now, &result, error) == 0);
    assert (json_integer_value (json_object_get (result, "received")) == 100);
    json_decref (result);
    assert (artrepo_part (repo, txn, "gina", id, 100, bundle2 + 100, 100, now, &result, error)
            == WEFT_STATUS_NOT_FOUND);
    assert (artrepo_part (repo, txn, "olga", id, 100, bundle2 + 100, 100,
                          now + ARTREPO_TTL_MS + 1, &result, error) == WEFT_STATUS_NOT_FOUND);
    assert (store_commit (&txn) == 0);
    //  At most ARTREPO_UPLOADS_MAX at once
    txn = store_begin (store, true);
    for (int i = 0; i < ARTREPO_UPLOADS_MAX; i++)
        assert (artrepo_begin (repo, txn, "olga", "acme", size2, now, id, error) == 0);
    assert (artrepo_begin (repo, txn, "olga", "acme", size2, now, id, error)
            == WEFT_STATUS_CONFLICT);
    store_abort (&txn);
    artrepo_aborted (repo);

    //  A restart drops what an upload in progress staged
    txn = store_begin (store, true);
    assert (artrepo_begin (repo, txn, "olga", "acme", size2, now, id, error) == 0);
    assert (artrepo_part (repo, txn, "olga", id, 0, bundle2, S_PART, now, &result, error) == 0);
    json_decref (result);
    assert (store_commit (&txn) == 0);
    assert (s_listed (store, "acme", &staged) == 2 && staged > 0);
    artrepo_destroy (&repo);
    repo = artrepo_new (store);
    assert (repo);
    assert (s_listed (store, "acme", &staged) == 2 && staged == 0);

    //  Remove: the release goes, its chunks are unpinned
    txn = store_begin (store, true);
    assert (artrepo_remove (repo, txn, "globex", "plc", "1.0", error) == WEFT_STATUS_NOT_FOUND);
    assert (artrepo_remove (repo, txn, "acme", "plc", "1.0", error) == WEFT_STATUS_OK);
    assert (!artrepo_show (txn, "acme", "plc", "1.0"));
    assert (store_commit (&txn) == 0);
    assert (s_listed (store, "acme", &staged) == 1);

    free (bundle);
    free (bundle2);
    free (root);
    free (globex);
    artrepo_destroy (&repo);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    if (verbose)
        printf ("(upload in parts, refusals, remove) ");
    //  @end
    printf ("OK\n");
}
