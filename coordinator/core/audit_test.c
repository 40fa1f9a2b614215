/*  audit_test - the audit log's selftest: tamper with the stored
    records directly, as someone with the database would  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/audit_internal.h"

static int
s_verify_chain (store_t *store, const uint8_t *ca_key, const char *tenant,
                const audit_head_t *anchor, char *error, uint64_t *records_p)
{
    store_txn_t *txn = store_begin (store, false);
    uint64_t records;
    char head [2 * AUDIT_HASH_SIZE + 1];
    int rc = audit_verify (txn, ca_key, tenant, anchor, records_p? records_p: &records,
                           head, error);
    store_abort (&txn);
    return rc;
}

static int
s_verify_anchor (store_t *store, const uint8_t *ca_key, const audit_head_t *anchor,
                 char *error)
{
    return s_verify_chain (store, ca_key, "", anchor, error, NULL);
}

static int
s_verify (store_t *store, const uint8_t *ca_key, char *error)
{
    return s_verify_anchor (store, ca_key, NULL, error);
}

static void
s_fill (store_t *store, pki_t *pki, int count)
{
    store_txn_t *txn = store_begin (store, true);
    for (int i = 0; i < count; i++) {
        char target [16];
        snprintf (target, sizeof target, "dev-%d", i);
        json_t *detail = json_pack ("{s:i}", "n", i);
        audit_entry_t entry = { i % 2? "alice": "bob", "twin.set",
                                i % 3? "acme/plant-2": "globex", target, WEFT_STATUS_OK,
                                detail, "192.0.2.7", i % 3? "acme": "globex" };
        assert (audit_append (txn, pki, 1700000000000ULL + (uint64_t) i, &entry) == 0);
        json_decref (detail);
    }
    assert (store_commit (&txn) == 0);
}

static void *
s_get_chain (store_t *store, const char *tenant, uint64_t seq, size_t *size)
{
    audit_chain_t chain;
    audit_chain (tenant, &chain);
    uint8_t key [AUDIT_KEY_MAX];
    size_t key_size = audit_chain_key (&chain, seq, key);
    store_txn_t *txn = store_begin (store, false);
    char *data = (char *) store_get (txn, chain.table, key, key_size, size);
    store_abort (&txn);
    assert (data);
    char *text = (char *) zmalloc (*size + 1);
    memcpy (text, data, *size);
    free (data);
    return text;
}

static void *
s_get (store_t *store, uint64_t seq, size_t *size)
{
    return s_get_chain (store, "", seq, size);
}

static audit_head_t
s_head_of_chain (store_t *store, const char *tenant)
{
    audit_head_t head;
    store_txn_t *txn = store_begin (store, false);
    assert (audit_head (txn, tenant, &head) == 0);
    store_abort (&txn);
    return head;
}

static audit_head_t
s_head_of (store_t *store)
{
    return s_head_of_chain (store, "");
}

//  Write a head as someone with the database would: any text
static void
s_head_write_chain (store_t *store, const char *tenant, const char *text)
{
    audit_chain_t chain;
    audit_chain (tenant, &chain);
    store_txn_t *txn = store_begin (store, true);
    assert (store_put (txn, "meta", chain.head_key, strlen (chain.head_key), text,
                       strlen (text)) == 0);
    assert (store_commit (&txn) == 0);
}

static void
s_head_write (store_t *store, const char *text)
{
    s_head_write_chain (store, "", text);
}

static void
s_put_chain (store_t *store, const char *tenant, uint64_t seq, const void *data, size_t size)
{
    audit_chain_t chain;
    audit_chain (tenant, &chain);
    uint8_t key [AUDIT_KEY_MAX];
    size_t key_size = audit_chain_key (&chain, seq, key);
    store_txn_t *txn = store_begin (store, true);
    if (data)
        assert (store_put (txn, chain.table, key, key_size, data, size) == 0);
    else
        assert (store_del (txn, chain.table, key, key_size) == 0);
    assert (store_commit (&txn) == 0);
}

static void
s_put (store_t *store, uint64_t seq, const void *data, size_t size)
{
    s_put_chain (store, "", seq, data, size);
}

void
audit_test (bool verbose)
{
    printf (" * audit: ");
    //  @selftest
    char path [] = "/tmp/weft-audit-test-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    keys_t ca, rogue;
    keys_generate (&ca);
    keys_generate (&rogue);
    pki_t *pki = pki_new (&ca);
    pki_t *rogue_pki = pki_new (&rogue);
    char error [WEFT_TEXT_MAX + 1];
    assert (s_verify (store, ca.sign_public, error) == 0);      //  Empty log is intact
    s_fill (store, pki, 6);
    audit_head_t acme_early = s_head_of_chain (store, "acme");
    assert (acme_early.seq == 4);
    assert (s_verify (store, ca.sign_public, error) == 0);
    audit_head_t six = s_head_of (store);
    assert (six.seq == 6 && strlen (six.sig) == 2 * WEFT_SIG_SIZE);
    assert (audit_head_check (&six, ca.sign_public) == 0);
    assert (audit_head_check (&six, rogue.sign_public) == -1);

    //  List: newest first, by scope and query
    store_txn_t *txn = store_begin (store, false);
    const char *all [] = { "" };
    const char *acme [] = { "acme" };
    json_t *list = audit_list (txn, "", NULL, all, 1, 100);
    assert (json_array_size (list) == 6);
    assert (json_integer_value (json_object_get (json_array_get (list, 0), "seq")) == 6);
    json_decref (list);
    list = audit_list (txn, "", NULL, acme, 1, 100);
    assert (json_array_size (list) == 4);
    json_decref (list);
    query_t *query = query_new ("actor=alice and seq>=3", NULL, 0);
    list = audit_list (txn, "", query, all, 1, 2);
    assert (json_array_size (list) == 2);
    query_destroy (&query);
    json_decref (list);
    store_abort (&txn);

    //  A modified record
    size_t size;
    char *original = (char *) s_get (store, 3, &size);
    char *changed = (char *) zmalloc (size + 1);
    memcpy (changed, original, size);
    char *at = strstr (changed, "dev-2");
    assert (at);
    at [4] = '9';
    s_put (store, 3, changed, size);
    assert (s_verify (store, ca.sign_public, error) == -1);
    assert (streq (error, "record 4: hash chain broken: record 3 was changed or removed"));
    if (verbose)
        printf ("\n   %s", error);
    s_put (store, 3, original, size);
    assert (s_verify (store, ca.sign_public, error) == 0);
    //  The newest record modified
    char *last = (char *) s_get (store, 6, &size);
    char *last_changed = (char *) zmalloc (size + 1);
    memcpy (last_changed, last, size);
    *strstr (last_changed, "alice") = 'A';
    s_put (store, 6, last_changed, size);
    assert (s_verify (store, ca.sign_public, error) == -1);
    assert (streq (error, "record 6 does not match the head: it was changed"));
    s_put (store, 6, last, size);
    //  A removed record, in the middle and at the end
    s_put (store, 3, NULL, 0);
    assert (s_verify (store, ca.sign_public, error) == -1);
    assert (streq (error, "record 3 is missing (next is 4)"));
    if (verbose)
        printf ("\n   %s", error);
    s_put (store, 3, original, strlen (original));
    assert (s_verify (store, ca.sign_public, error) == 0);
    s_put (store, 6, NULL, 0);
    assert (s_verify (store, ca.sign_public, error) == -1);
    assert (streq (error, "the log ends at record 5 but the head says 6: records were removed"));
    if (verbose)
        printf ("\n   %s", error);
    size_t last_size = strlen (last);
    s_put (store, 6, last, last_size);
    //  Two records swapped
    size_t size2, size4;
    char *two = (char *) s_get (store, 2, &size2);
    char *four = (char *) s_get (store, 4, &size4);
    s_put (store, 2, four, size4);
    s_put (store, 4, two, size2);
    assert (s_verify (store, ca.sign_public, error) == -1);
    assert (streq (error, "record 2 holds record 4: records were moved"));
    if (verbose)
        printf ("\n   %s\n   ", error);
    s_put (store, 2, two, size2);
    s_put (store, 4, four, size4);
    assert (s_verify (store, ca.sign_public, error) == 0);
    free (two);
    free (four);
    free (original);
    free (changed);

    //  The newest records removed and the head rewritten to match: the
    //  head's signature gives it away, with the old signature, none, or
    //  one by another key
    s_fill (store, pki, 2);
    audit_head_t eight = s_head_of (store);
    assert (eight.seq == 8 && s_verify_anchor (store, ca.sign_public, &eight, error) == 0);
    size_t size7, size8;
    char *seven_text = (char *) s_get (store, 7, &size7);
    char *eight_text = (char *) s_get (store, 8, &size8);
    s_put (store, 8, NULL, 0);
    s_put (store, 7, NULL, 0);
    char forged [256];
    snprintf (forged, sizeof forged, "6 %s %s", six.hash, eight.sig);
    s_head_write (store, forged);
    assert (s_verify (store, ca.sign_public, error) == -1);
    assert (streq (error, "the head (record 6) is not signed by the CA: it was rewritten"));
    if (verbose)
        printf ("\n   %s", error);
    snprintf (forged, sizeof forged, "6 %s", six.hash);
    s_head_write (store, forged);
    assert (s_verify (store, ca.sign_public, error) == -1);
    assert (streq (error, "the head (record 6) is not signed"));
    store_txn_t *wtxn = store_begin (store, true);
    assert (audit_sign_head (wtxn, rogue_pki) == 0);
    assert (store_commit (&wtxn) == 0);
    assert (s_verify (store, ca.sign_public, error) == -1);

    //  Rolled back to an older signed head: only an anchor kept outside
    //  tells; so does an anchor whose record was rewritten, or a forged one
    snprintf (forged, sizeof forged, "6 %s %s", six.hash, six.sig);
    s_head_write (store, forged);
    assert (s_verify (store, ca.sign_public, error) == 0);
    assert (s_verify_anchor (store, ca.sign_public, &six, error) == 0);
    assert (s_verify_anchor (store, ca.sign_public, &eight, error) == -1);
    assert (streq (error, "the log ends at record 6, before the anchored record 8: "
                          "records were removed"));
    if (verbose)
        printf ("\n   %s", error);
    audit_head_t other = six;
    other.hash [0] = other.hash [0] == 'a'? 'b': 'a';
    assert (s_verify_anchor (store, ca.sign_public, &other, error) == -1);
    assert (streq (error, "the anchor's signature does not verify with the CA key"));
    s_put (store, 7, seven_text, size7);
    s_put (store, 8, eight_text, size8);
    snprintf (forged, sizeof forged, "8 %s %s", eight.hash, eight.sig);
    s_head_write (store, forged);
    assert (s_verify_anchor (store, ca.sign_public, &eight, error) == 0);
    s_put (store, 6, last_changed, strlen (last_changed));
    assert (s_verify_anchor (store, ca.sign_public, &six, error) == -1);
    assert (streq (error, "record 6 does not match the anchor: the log was rewritten"));
    s_put (store, 6, last, strlen (last));

    //  A head from before signed heads is signed at start, once
    snprintf (forged, sizeof forged, "8 %s", eight.hash);
    s_head_write (store, forged);
    assert (s_verify (store, ca.sign_public, error) == -1);
    wtxn = store_begin (store, true);
    assert (audit_sign_head (wtxn, pki) == 0);
    assert (store_commit (&wtxn) == 0);
    assert (s_verify_anchor (store, ca.sign_public, &eight, error) == 0);
    assert (streq (s_head_of (store).sig, eight.sig));
    free (seven_text);
    free (eight_text);
    free (last);
    free (last_changed);

    //  Tenant chains: each holds its tenant's records only, numbered
    //  from 1, under a signed head of its own that names the tenant
    uint64_t records = 0;
    assert (s_verify_chain (store, ca.sign_public, "acme", NULL, error, &records) == 0);
    assert (records == 5);
    assert (s_verify_chain (store, ca.sign_public, "globex", NULL, error, &records) == 0);
    assert (records == 3);
    assert (s_verify_chain (store, ca.sign_public, "initech", NULL, error, &records) == 0);
    assert (records == 0);
    audit_head_t acme_head = s_head_of_chain (store, "acme");
    assert (acme_head.seq == 5 && streq (acme_head.tenant, "acme"));
    assert (audit_head_check (&acme_head, ca.sign_public) == 0);
    audit_head_t posed = acme_head;
    strcpy (posed.tenant, "globex");
    assert (audit_head_check (&posed, ca.sign_public) == -1);
    posed.tenant [0] = 0;
    assert (audit_head_check (&posed, ca.sign_public) == -1);
    assert (s_verify_chain (store, ca.sign_public, "globex", &acme_head, error, NULL) == -1);
    assert (streq (error, "the anchor is the head of another chain"));
    txn = store_begin (store, false);
    list = audit_list (txn, "acme", NULL, all, 1, 100);
    assert (json_array_size (list) == 5);
    json_t *newest = json_array_get (list, 0);
    assert (json_integer_value (json_object_get (newest, "seq")) == 5);
    assert (streq (json_string_value (json_object_get (newest, "tenant")), "acme"));
    assert (streq (json_string_value (json_object_get (newest, "source")), "192.0.2.7"));
    json_decref (list);
    list = audit_list (txn, "acme", NULL, acme, 1, 100);
    assert (json_array_size (list) == 5);
    json_decref (list);
    store_abort (&txn);
    //  A tenant's newest record removed: its head tells; rolled back to
    //  an older signed head: its anchor tells
    size_t size5;
    char *five = (char *) s_get_chain (store, "acme", 5, &size5);
    s_put_chain (store, "acme", 5, NULL, 0);
    assert (s_verify_chain (store, ca.sign_public, "acme", NULL, error, NULL) == -1);
    assert (streq (error, "the log ends at record 4 but the head says 5: records were removed"));
    snprintf (forged, sizeof forged, "4 %s %s", acme_early.hash, acme_early.sig);
    s_head_write_chain (store, "acme", forged);
    assert (s_verify_chain (store, ca.sign_public, "acme", NULL, error, NULL) == 0);
    assert (s_verify_chain (store, ca.sign_public, "acme", &acme_head, error, NULL) == -1);
    assert (streq (error, "the log ends at record 4, before the anchored record 5: "
                          "records were removed"));
    s_put_chain (store, "acme", 5, five, size5);
    snprintf (forged, sizeof forged, "5 %s %s", acme_head.hash, acme_head.sig);
    s_head_write_chain (store, "acme", forged);
    assert (s_verify_chain (store, ca.sign_public, "acme", &acme_head, error, NULL) == 0);
    //  Another tenant's record at the same position
    size_t size3;
    char *three = (char *) s_get_chain (store, "acme", 3, &size3);
    size_t other_size;
    char *moved = (char *) s_get_chain (store, "globex", 3, &other_size);
    s_put_chain (store, "acme", 3, moved, other_size);
    assert (s_verify_chain (store, ca.sign_public, "acme", NULL, error, NULL) == -1);
    assert (streq (error, "record 3 belongs to another chain: records were moved"));
    s_put_chain (store, "acme", 3, three, size3);
    assert (s_verify_chain (store, ca.sign_public, "acme", &acme_head, error, NULL) == 0);
    //  The deployment chain is unaffected by all of it
    assert (s_verify_anchor (store, ca.sign_public, &eight, error) == 0);
    free (five);
    free (three);
    free (moved);
    pki_destroy (&pki);
    pki_destroy (&rogue_pki);
    keys_wipe (&ca);
    keys_wipe (&rogue);

    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
