/*  attest_runtime - the IMA part of a verdict  */

#include "proto/corelib.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/attest_runtime.h"
#include "coordinator/core/attest_software.h"

//  Each tenant's allowlist, parsed once per signed version. Parsing
//  and sorting up to 262,144 digests, and checking the CA signature
//  over megabytes, at every evidence would make a fleet's attestations
//  CPU bound. A copy is keyed by its tenant and the signature it was
//  verified with (and the CA key): a new list has a new signature, and
//  reading the stored signature costs one small record. The few most
//  recently used tenants' lists are kept (S_CACHED); a tenant beyond
//  them costs one parse when its turn comes. Each coordinator core owns
//  one (weft-sim runs several cores in a process): what one core parsed
//  from its store is never taken for what another core's store holds.
#define S_CACHED    8

typedef struct {
    bool loaded;
    char tenant [WEFT_NAME_MAX + 1];
    uint8_t sig [64];
    uint8_t ca_key [32];
    attest_ima_allowlist_t allow;
    uint64_t used;                      //  Tick of the last use, for eviction
} s_cached_t;

struct _attest_runtime_t {
    s_cached_t lists [S_CACHED];        //  Parsed allowlists, owned
    uint64_t tick;                      //  Counts uses, for eviction
};

//  --------------------------------------------------------------------------
//  Create an empty cache.

attest_runtime_t *
attest_runtime_new (void)
{
    return (attest_runtime_t *) zmalloc (sizeof (attest_runtime_t));
}

//  --------------------------------------------------------------------------
//  Destroy a cache and the lists it holds; nulls the caller's pointer.

void
attest_runtime_destroy (attest_runtime_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        attest_runtime_t *self = *self_p;
        for (size_t i = 0; i < S_CACHED; i++)
            attest_ima_allowlist_free (&self->lists [i].allow);
        free (self);
        *self_p = NULL;
    }
}

//  The tenant's allowlist as txn holds it, verified with ca_key, or NULL.
//  From self's copy when its signature is the stored one; else parsed
//  into self (or, without self, into scratch, which the caller frees).
static const attest_ima_allowlist_t *
s_allowlist (attest_runtime_t *self, store_txn_t *txn, const char *tenant,
             const uint8_t ca_key [32], attest_ima_allowlist_t *scratch)
{
    uint8_t sig [64];
    if (attest_allowlist_sig (txn, tenant, sig))
        return NULL;                //  None: nothing to parse or to cache
    if (!self)
        return attest_allowlist_get (txn, tenant, ca_key, scratch, sig) == 0? scratch: NULL;
    s_cached_t *slot = &self->lists [0];
    for (size_t i = 0; i < S_CACHED; i++) {
        s_cached_t *cached = &self->lists [i];
        if (cached->loaded && streq (cached->tenant, tenant)) {
            slot = cached;
            break;
        }
        if (cached->used < slot->used)
            slot = cached;          //  The least recently used, if none matches
    }
    slot->used = ++self->tick;
    if (slot->loaded && streq (slot->tenant, tenant)
    &&  memcmp (sig, slot->sig, 64) == 0 && memcmp (ca_key, slot->ca_key, 32) == 0)
        return &slot->allow;
    attest_ima_allowlist_free (&slot->allow);
    snprintf (slot->tenant, sizeof slot->tenant, "%s", tenant);
    slot->loaded = attest_allowlist_get (txn, tenant, ca_key, &slot->allow, slot->sig) == 0;
    memcpy (slot->ca_key, ca_key, 32);
    return slot->loaded? &slot->allow: NULL;
}

static int
s_fail (json_t *verdict, int64_t entry, const char *reason)
{
    json_object_set_new (verdict, "ok", json_false ());
    json_object_set_new (verdict, "reason", json_string (reason));
    json_object_set_new (verdict, "pcr", json_integer (ATTEST_IMA_PCR));
    json_object_set_new (verdict, "event", json_integer (entry));
    return -1;
}

static size_t
s_lines (const char *text, size_t size)
{
    size_t lines = 0;
    const char *end = text + size;
    for (const char *at = text; at && at < end; lines++) {
        at = memchr (at, '\n', (size_t) (end - at));
        at = at? at + 1: NULL;
    }
    return lines;
}

int
attest_runtime_check (attest_runtime_t *self, store_txn_t *txn, json_t *device,
                      const uint8_t ca_key [32], const tpmmsg_t *evidence,
                      const uint8_t quoted_pcr10 [32], json_t *verdict)
{
    assert (txn && device && ca_key && evidence && quoted_pcr10 && verdict);
    const char *device_id = json_string_value (json_object_get (device, "id"));
    const char *tenant = json_string_value (json_object_get (device, "tenant"));
    assert (device_id);
    attest_ima_state_t state;
    attest_ima_state_get (txn, device_id, &state);
    json_t *ima = json_pack ("{s:I, s:I, s:I, s:i}",
        "from", (json_int_t) evidence->ima_from,
        "sent", (json_int_t) s_lines (evidence->ima_list, evidence->ima_list_size),
        "verified", (json_int_t) state.count, "entry", -1);
    json_object_set_new (verdict, "ima", ima);
    if (!evidence->ima)
        return s_fail (verdict, -1, "IMA list missing: the profile asks for runtime "
                       "attestation (start weft-node with --ima-log)");
    attest_ima_allowlist_t scratch;
    memset (&scratch, 0, sizeof scratch);
    const attest_ima_allowlist_t *allow = s_allowlist (self, txn, tenant? tenant: "", ca_key,
                                                       &scratch);
    if (!allow)
        return s_fail (verdict, -1, "no valid IMA allowlist for its tenant "
                       "(weftctl attest allowlist set)");
    //  The files of the releases the device committed are allowed too
    //  (attest_software.h): the tenant's list and the device's own
    attest_ima_allowlist_t expected;
    if (attest_software_allowlist (txn, device_id, &expected)) {
        attest_ima_allowlist_free (&scratch);
        return s_fail (verdict, -1, "IMA: cannot read the device's expected software");
    }
    attest_ima_allowlist_t both = *allow;
    both.also = &expected;
    char error [512];
    int64_t entry = -1;
    int rc = attest_ima_verify (evidence->ima_list, evidence->ima_list_size, evidence->ima_from,
                                quoted_pcr10, &both, &state, &entry, error, sizeof error);
    attest_ima_allowlist_free (&scratch);
    attest_ima_allowlist_free (&expected);
    json_object_set_new (ima, "entry", json_integer (entry));
    if (rc)
        return s_fail (verdict, entry, error);
    json_object_set_new (ima, "verified", json_integer ((json_int_t) state.count));
    if (attest_ima_state_put (txn, device_id, &state))
        return s_fail (verdict, -1, "IMA state: store write failed");
    return 0;
}

//  --------------------------------------------------------------------------
//  Selftest: the checks and the stored state, with lists and PCR 10
//  values made here (the quote itself is attest's and 52-tpm-ima's)

#include <sodium.h>
#include "proto/keys.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/artrepo.h"
#include "proto/manifest.h"

//  Append an entry for a file with content to list, extend pcr
static void
s_measure (char *list, size_t list_size, uint8_t pcr [32], const char *content,
           const char *path)
{
    uint8_t file_hash [32], template_hash [32];
    crypto_hash_sha256 (file_hash, (const uint8_t *) content, strlen (content));
    char line [ATTEST_IMA_LINE_MAX + 1];
    assert (attest_ima_line (line, sizeof line, file_hash, path, template_hash) > 0);
    assert (strlen (list) + strlen (line) < list_size);
    strcat (list, line);
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init (&state);
    crypto_hash_sha256_update (&state, pcr, 32);
    crypto_hash_sha256_update (&state, template_hash, 32);
    crypto_hash_sha256_final (&state, pcr);
}

static json_t *
s_check_as (attest_runtime_t *rt, store_t *store, const char *tenant, const keys_t *ca,
            const char *list, uint64_t from, const uint8_t pcr [32], int *rc_p)
{
    json_t *device = json_pack ("{s:s, s:s}", "id", "gw-1", "tenant", tenant);
    tpmmsg_t evidence;
    memset (&evidence, 0, sizeof evidence);
    evidence.ima = list != NULL;
    evidence.ima_from = from;
    evidence.ima_list = list;
    evidence.ima_list_size = list? strlen (list): 0;
    json_t *verdict = json_pack ("{s:b, s:s}", "ok", 1, "reason", "");
    store_txn_t *txn = store_begin (store, true);
    *rc_p = attest_runtime_check (rt, txn, device, ca->sign_public, &evidence, pcr, verdict);
    assert (store_commit (&txn) == 0);
    json_decref (device);
    return verdict;
}

//  The same for a device of tenant acme
static json_t *
s_check (attest_runtime_t *rt, store_t *store, const keys_t *ca, const char *list,
         uint64_t from, const uint8_t pcr [32], int *rc_p)
{
    return s_check_as (rt, store, "acme", ca, list, from, pcr, rc_p);
}

//  The reason of a verdict has text in it
static bool
s_says (json_t *verdict, const char *text)
{
    const char *reason = json_string_value (json_object_get (verdict, "reason"));
    return reason && strstr (reason, text);
}

static int64_t
s_ima (json_t *verdict, const char *field)
{
    return (int64_t) json_integer_value (json_object_get (json_object_get (verdict, "ima"),
                                                          field));
}

void
attest_runtime_test (bool verbose)
{
    printf (" * attest_runtime: ");
    //  @selftest
    char path [] = "/tmp/weft-attest-runtime-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    keys_t ca;
    keys_generate (&ca);
    pki_t *pki = pki_new (&ca);
    attest_runtime_t *rt = attest_runtime_new ();
    char list [8192] = "";
    uint8_t pcr [32] = { 0 };
    s_measure (list, sizeof list, pcr, "aggregate", "boot_aggregate");
    s_measure (list, sizeof list, pcr, "init", "/sbin/init");
    int rc;

    //  No allowlist installed: fails closed
    json_t *verdict = s_check (rt, store, &ca, list, 0, pcr, &rc);
    assert (rc == -1 && strstr (json_string_value (json_object_get (verdict, "reason")),
                                "no valid IMA allowlist"));
    json_decref (verdict);
    uint8_t h_init [32], h_sh [32];
    crypto_hash_sha256 (h_init, (const uint8_t *) "init", 4);
    crypto_hash_sha256 (h_sh, (const uint8_t *) "sh", 2);
    char hex_init [65], hex_sh [65], allow [400], error [256];
    keys_hex (h_init, 32, hex_init);
    keys_hex (h_sh, 32, hex_sh);
    snprintf (allow, sizeof allow, "%s  /sbin/init\n%s  /bin/sh\n", hex_init, hex_sh);
    store_txn_t *txn = store_begin (store, true);
    assert (attest_allowlist_put (txn, "acme", allow, strlen (allow), pki, error, sizeof error)
            == 2);
    assert (store_commit (&txn) == 0);
    //  acme's list is acme's: a device of acmex (or of no tenant) has none
    verdict = s_check_as (rt, store, "acmex", &ca, list, 0, pcr, &rc);
    assert (rc == -1 && strstr (json_string_value (json_object_get (verdict, "reason")),
                                "no valid IMA allowlist for its tenant"));
    json_decref (verdict);
    verdict = s_check_as (rt, store, "", &ca, list, 0, pcr, &rc);
    assert (rc == -1);
    json_decref (verdict);

    //  No list sent although asked: fails, state untouched
    verdict = s_check (rt, store, &ca, NULL, 0, pcr, &rc);
    assert (rc == -1 && strstr (json_string_value (json_object_get (verdict, "reason")),
                                "--ima-log"));
    json_decref (verdict);

    //  The whole list passes; the state is stored
    verdict = s_check (rt, store, &ca, list, 0, pcr, &rc);
    assert (rc == 0 && s_ima (verdict, "sent") == 2 && s_ima (verdict, "verified") == 2);
    json_decref (verdict);
    attest_ima_state_t state;
    txn = store_begin (store, false);
    attest_ima_state_get (txn, "gw-1", &state);
    store_abort (&txn);
    assert (state.count == 2 && memcmp (state.pcr10, pcr, 32) == 0);

    //  Incremental: one new entry, sent alone from #2
    size_t old = strlen (list);
    s_measure (list, sizeof list, pcr, "sh", "/bin/sh");
    verdict = s_check (rt, store, &ca, list + old, 2, pcr, &rc);
    assert (rc == 0 && s_ima (verdict, "from") == 2 && s_ima (verdict, "sent") == 1
            && s_ima (verdict, "verified") == 3);
    json_decref (verdict);

    //  A file off the allowlist: fails naming #3 and its path, pcr 10,
    //  and the state stays at 3
    old = strlen (list);
    s_measure (list, sizeof list, pcr, "evil", "/tmp/evil");
    verdict = s_check (rt, store, &ca, list + old, 3, pcr, &rc);
    if (verbose)
        printf ("\n   %s", json_string_value (json_object_get (verdict, "reason")));
    assert (rc == -1 && !json_is_true (json_object_get (verdict, "ok")));
    assert (strstr (json_string_value (json_object_get (verdict, "reason")),
                    "IMA entry #3 (/tmp/evil)"));
    assert (json_integer_value (json_object_get (verdict, "pcr")) == 10
            && json_integer_value (json_object_get (verdict, "event")) == 3
            && s_ima (verdict, "entry") == 3 && s_ima (verdict, "verified") == 3);
    json_decref (verdict);
    txn = store_begin (store, false);
    attest_ima_state_get (txn, "gw-1", &state);
    store_abort (&txn);
    assert (state.count == 3);

    //  The same entry edited to carry an allowed file hash: the template
    //  hash no longer matches, fails naming it
    char edited [8192];
    strcpy (edited, list + old);
    memcpy (strchr (edited, ':') + 1, hex_init, 64);
    verdict = s_check (rt, store, &ca, edited, 3, pcr, &rc);
    if (verbose)
        printf ("\n   %s", json_string_value (json_object_get (verdict, "reason")));
    assert (rc == -1 && strstr (json_string_value (json_object_get (verdict, "reason")),
                                "#3 (/tmp/evil): template hash does not match"));
    json_decref (verdict);

    //  The parsed allowlist is reused while the stored signature is the
    //  one it was verified with: the stored text replaced behind the
    //  coordinator's back is not read...
    uint8_t h_evil [32];
    crypto_hash_sha256 (h_evil, (const uint8_t *) "evil", 4);
    char hex_evil [65], forged [300];
    keys_hex (h_evil, 32, hex_evil);
    txn = store_begin (store, true);
    char sig_hex [129];
    uint8_t sig [64];
    assert (attest_allowlist_sig (txn, "acme", sig) == 0);
    keys_hex (sig, 64, sig_hex);
    snprintf (forged, sizeof forged, "{\"doc\": \"%s  /tmp/evil\\n\", \"sig\": \"%s\"}",
              hex_evil, sig_hex);
    assert (store_put (txn, ATTEST_TABLE, "allowlist/acme/list", 19, forged, strlen (forged))
            == 0);
    assert (store_commit (&txn) == 0);
    verdict = s_check (rt, store, &ca, list + old, 3, pcr, &rc);
    assert (rc == -1 && strstr (json_string_value (json_object_get (verdict, "reason")),
                                "not on the allowlist"));
    json_decref (verdict);
    //  (without a cache it is read, and does not verify)
    verdict = s_check (NULL, store, &ca, list + old, 3, pcr, &rc);
    assert (rc == -1 && s_says (verdict, "no valid IMA allowlist"));
    json_decref (verdict);
    //  ... and once the signature changes too, the forged list does not
    //  verify: no allowlist, fail closed
    txn = store_begin (store, true);
    const char *other = "{\"sig\": \"00\"}";
    assert (store_put (txn, ATTEST_TABLE, "allowlist/acme/sig", 18, other, strlen (other)) == 0);
    assert (store_commit (&txn) == 0);
    verdict = s_check (rt, store, &ca, list + old, 3, pcr, &rc);
    assert (rc == -1 && strstr (json_string_value (json_object_get (verdict, "reason")),
                                "no valid IMA allowlist"));
    json_decref (verdict);
    //  A new signed list that allows the file takes effect at once
    snprintf (allow, sizeof allow, "%s  /sbin/init\n%s  /bin/sh\n%s  /tmp/evil\n",
              hex_init, hex_sh, hex_evil);
    txn = store_begin (store, true);
    assert (attest_allowlist_put (txn, "acme", allow, strlen (allow), pki, error, sizeof error)
            == 3);
    assert (store_commit (&txn) == 0);
    verdict = s_check (rt, store, &ca, list + old, 3, pcr, &rc);
    assert (rc == 0 && s_ima (verdict, "verified") == 4);
    json_decref (verdict);

    //  Two coordinator cores in one process keep their own lists. The
    //  second core's store holds the same signed list (the same
    //  signature), but its text was replaced behind its back: that core
    //  reads its own store and refuses the forgery, where a cache shared
    //  with the first core would hand it the first core's copy
    char path2 [] = "/tmp/weft-attest-runtime-XXXXXX";
    assert (mkdtemp (path2));
    store_t *store2 = store_new (path2, registry_tables (), 0);
    assert (store2);
    attest_runtime_t *rt2 = attest_runtime_new ();
    txn = store_begin (store2, true);
    assert (attest_allowlist_put (txn, "acme", allow, strlen (allow), pki, error, sizeof error)
            == 3);
    uint8_t sig2 [64];
    assert (attest_allowlist_sig (txn, "acme", sig2) == 0);
    assert (store_commit (&txn) == 0);
    txn = store_begin (store, false);
    assert (attest_allowlist_sig (txn, "acme", sig) == 0);
    store_abort (&txn);
    assert (memcmp (sig, sig2, 64) == 0);
    keys_hex (sig2, 64, sig_hex);
    snprintf (forged, sizeof forged, "{\"doc\": \"%s  /bin/sh\\n\", \"sig\": \"%s\"}",
              hex_sh, sig_hex);
    txn = store_begin (store2, true);
    assert (store_put (txn, ATTEST_TABLE, "allowlist/acme/list", 19, forged, strlen (forged))
            == 0);
    assert (store_commit (&txn) == 0);
    verdict = s_check (rt2, store2, &ca, list, 0, pcr, &rc);
    assert (rc == -1 && s_says (verdict, "no valid IMA allowlist"));
    json_decref (verdict);
    //  ... while the first core's list is the one its store holds
    verdict = s_check_as (rt, store, "acme", &ca, list, 0, pcr, &rc);
    assert (rc == 0 && s_ima (verdict, "verified") == 4);
    json_decref (verdict);
    //  The second core's list signed again: now it passes there too
    txn = store_begin (store2, true);
    assert (attest_allowlist_put (txn, "acme", allow, strlen (allow), pki, error, sizeof error)
            == 3);
    assert (store_commit (&txn) == 0);
    verdict = s_check (rt2, store2, &ca, list, 0, pcr, &rc);
    assert (rc == 0 && s_ima (verdict, "verified") == 4);
    json_decref (verdict);
    attest_runtime_destroy (&rt2);
    assert (rt2 == NULL);

    //  The device's software: a file off the tenant's list passes once
    //  the device committed a release that names it, and fails again
    //  once the device left that release
    old = strlen (list);
    s_measure (list, sizeof list, pcr, "plc 1.0", "/opt/plc");
    verdict = s_check (rt, store, &ca, list + old, 4, pcr, &rc);
    assert (rc == -1 && s_says (verdict, "#4 (/opt/plc)"));
    json_decref (verdict);
    manifest_refs_t *refs = (manifest_refs_t *) zmalloc (sizeof (manifest_refs_t));
    crypto_hash_sha256 (refs->ima [0].digest, (const uint8_t *) "plc 1.0", 7);
    snprintf (refs->ima [0].path, sizeof refs->ima [0].path, "/opt/plc");
    refs->ima_count = 1;
    manifest_t manifest = { .name = "plc", .version = "1.0", .types = "*",
                            .handler = "file", .refs = refs };
    uint8_t *manifest_data;
    size_t manifest_size;
    assert (manifest_encode (&manifest, &manifest_data, &manifest_size) == 0);
    free (refs);
    txn = store_begin (store, true);
    assert (store_put (txn, ARTREPO_TABLE, "man/acme/plc/1.0", 16, manifest_data,
                       manifest_size) == 0);
    free (manifest_data);
    json_t *software = json_pack ("{s:s, s:s, s:s}", "state", "committed", "name", "plc",
                                  "installed", "1.0");
    assert (attest_software_follow (txn, "gw-1", "acme", software, NULL, 0) == 1);
    assert (store_commit (&txn) == 0);
    verdict = s_check (rt, store, &ca, list + old, 4, pcr, &rc);
    assert (rc == 0 && s_ima (verdict, "verified") == 5);
    json_decref (verdict);
    //  plc 2.0 (not in the repository) replaces it: the same file
    //  measured again no longer passes
    json_object_set_new (software, "installed", json_string ("2.0"));
    txn = store_begin (store, true);
    assert (attest_software_follow (txn, "gw-1", "acme", software, NULL, 0) == 1);
    assert (store_commit (&txn) == 0);
    json_decref (software);
    old = strlen (list);
    s_measure (list, sizeof list, pcr, "plc 1.0", "/opt/plc");
    verdict = s_check (rt, store, &ca, list + old, 5, pcr, &rc);
    assert (rc == -1 && s_says (verdict, "#5 (/opt/plc)"));
    json_decref (verdict);
    store_destroy (&store2);
    zdir_t *dir2 = zdir_new (path2, NULL);
    zdir_remove (dir2, true);
    zdir_destroy (&dir2);

    attest_runtime_destroy (&rt);
    pki_destroy (&pki);
    keys_wipe (&ca);
    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("%sOK\n", verbose? "\n   ": "");
}
