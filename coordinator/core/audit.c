/*  audit - append-only, hash-chained logs
    The hash covers the exact stored bytes, so verify needs no
    canonical re-encoding: any changed byte breaks the link from the
    next record (or from the head). A head "<seq> <hash> <sig>" is
    signed with the CA key at every append, so truncating the newest
    records of a chain and rewriting its head to match needs the CA key.
    A tenant's record carries its tenant, and verify checks it, so a
    record moved from one tenant's chain into another's is caught even
    where its position and hashes were rewritten.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "proto/codec.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/devquery.h"
#include "coordinator/core/audit.h"
#include "coordinator/core/audit_internal.h"

#define S_CONTEXT   "weft-audit-head-v1"
#define S_TENANT_CONTEXT    "weft-audit-tenant-head-v1"

//  The table, key prefix and head of tenant's chain ("" = the
//  deployment's). -1 if tenant cannot name a chain.
int
audit_chain (const char *tenant, audit_chain_t *chain)
{
    if (!tenant)
        tenant = "";
    if (strlen (tenant) > WEFT_NAME_MAX || strchr (tenant, '/'))
        return -1;
    chain->tenant = tenant;
    chain->table = *tenant? "audit_tenant": "audit";
    snprintf (chain->prefix, sizeof chain->prefix, "%s%s", tenant, *tenant? "/": "");
    chain->prefix_size = strlen (chain->prefix);
    snprintf (chain->head_key, sizeof chain->head_key, "%s%s%s", AUDIT_HEAD_KEY,
              *tenant? "/": "", tenant);
    return 0;
}

//  Key of record seq in the chain; returns its size
size_t
audit_chain_key (const audit_chain_t *chain, uint64_t seq, uint8_t key [AUDIT_KEY_MAX])
{
    memcpy (key, chain->prefix, chain->prefix_size);
    for (int i = 7; i >= 0; i--) {
        key [chain->prefix_size + (size_t) i] = (uint8_t) seq;
        seq >>= 8;
    }
    return chain->prefix_size + 8;
}

static void
s_hash (const void *data, size_t size, char hex [2 * AUDIT_HASH_SIZE + 1])
{
    uint8_t hash [AUDIT_HASH_SIZE];
    crypto_generichash (hash, sizeof hash, (const uint8_t *) data, size, NULL, 0);
    keys_hex (hash, sizeof hash, hex);
}

//  Head: "<seq> <hash hex>[ <sig hex>]"; seq 0, zero hash and no
//  signature when empty (sig "" also for a head written before heads
//  were signed)
static int
s_head (store_txn_t *txn, const audit_chain_t *chain, audit_head_t *head)
{
    size_t size;
    char *data = (char *) store_get (txn, "meta", chain->head_key, strlen (chain->head_key),
                                     &size);
    memset (head, 0, sizeof *head);
    snprintf (head->tenant, sizeof head->tenant, "%s", chain->tenant);
    memset (head->hash, '0', 2 * AUDIT_HASH_SIZE);
    if (!data)
        return 0;
    int rc = -1;
    char text [2 * AUDIT_HASH_SIZE + 2 * WEFT_SIG_SIZE + 32];
    if (size < sizeof text) {
        memcpy (text, data, size);
        text [size] = 0;
        char *hash = strchr (text, ' ');
        char *sig = hash? strchr (hash + 1, ' '): NULL;
        if (sig)
            *sig++ = 0;
        if (hash && strlen (hash + 1) == 2 * AUDIT_HASH_SIZE
        &&  (!sig || strlen (sig) == 2 * WEFT_SIG_SIZE)) {
            head->seq = strtoull (text, NULL, 10);
            memcpy (head->hash, hash + 1, 2 * AUDIT_HASH_SIZE);
            if (sig)
                memcpy (head->sig, sig, 2 * WEFT_SIG_SIZE);
            rc = 0;
        }
    }
    free (data);
    return rc;
}

//  The signed bytes of a head, and their signature context: a tenant's
//  head names its tenant, so it cannot pass for another chain's
static size_t
s_head_body (const audit_head_t *head, char *body, size_t size, const char **context)
{
    *context = *head->tenant? S_TENANT_CONTEXT: S_CONTEXT;
    if (*head->tenant)
        return (size_t) snprintf (body, size, "%s %" PRIu64 " %s", head->tenant, head->seq,
                                  head->hash);
    return (size_t) snprintf (body, size, "%" PRIu64 " %s", head->seq, head->hash);
}

static int
s_head_put (store_txn_t *txn, const audit_chain_t *chain, pki_t *pki, audit_head_t *head)
{
    char body [WEFT_NAME_MAX + 2 * AUDIT_HASH_SIZE + 32];
    const char *context;
    size_t body_size = s_head_body (head, body, sizeof body, &context);
    uint8_t sig [WEFT_SIG_SIZE];
    pki_sign (pki, context, (const uint8_t *) body, body_size, sig);
    keys_hex (sig, sizeof sig, head->sig);
    char text [2 * AUDIT_HASH_SIZE + 2 * WEFT_SIG_SIZE + 32];
    int size = snprintf (text, sizeof text, "%" PRIu64 " %s %s", head->seq, head->hash,
                         head->sig);
    return store_put (txn, "meta", chain->head_key, strlen (chain->head_key), text,
                      (size_t) size);
}

int
audit_head (store_txn_t *txn, const char *tenant, audit_head_t *head)
{
    assert (txn && head);
    audit_chain_t chain;
    if (audit_chain (tenant, &chain))
        return -1;
    return s_head (txn, &chain, head);
}

int
audit_head_check (const audit_head_t *head, const uint8_t ca_key [WEFT_KEY_SIZE])
{
    assert (head && ca_key);
    char body [WEFT_NAME_MAX + 2 * AUDIT_HASH_SIZE + 32];
    const char *context;
    size_t body_size = s_head_body (head, body, sizeof body, &context);
    uint8_t sig [WEFT_SIG_SIZE];
    if (strlen (head->sig) != 2 * WEFT_SIG_SIZE || keys_unhex (head->sig, sig, sizeof sig))
        return -1;
    return codec_verify (context, (const uint8_t *) body, body_size, sig, ca_key)? -1: 0;
}

int
audit_sign_head (store_txn_t *txn, pki_t *pki)
{
    assert (txn && pki);
    audit_chain_t chain;
    audit_chain ("", &chain);
    audit_head_t head;
    if (s_head (txn, &chain, &head))
        return -1;
    if (head.seq == 0 || *head.sig)
        return 0;
    return s_head_put (txn, &chain, pki, &head);
}

//  Append entry to one chain; tenant is the record's tenant field
static int
s_append (store_txn_t *txn, pki_t *pki, uint64_t now_ms, const audit_chain_t *chain,
          const char *tenant, const audit_entry_t *entry)
{
    audit_head_t head;
    if (s_head (txn, chain, &head)) {
        zsys_error ("audit: the head of chain '%s' is corrupt; not appending", chain->tenant);
        return -1;
    }
    uint64_t seq = head.seq + 1;
    //  In a tenant's chain the scope is in the tenant (a refusal's, or a
    //  deployment operator's call, may name none): its auditors see it
    const char *scope = entry->scope? entry->scope: "";
    size_t length = strlen (chain->tenant);
    if (length && !(strncmp (scope, chain->tenant, length) == 0
                    && (scope [length] == 0 || scope [length] == '/')))
        scope = chain->tenant;
    json_t *record = json_pack ("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
        "seq", (json_int_t) seq, "time", (json_int_t) now_ms, "actor", entry->actor,
        "action", entry->action, "scope", scope,
        "target", entry->target? entry->target: "", "status", proto_status_name (entry->status),
        "source", entry->source? entry->source: "", "tenant", tenant, "prev", head.hash);
    if (!record)
        return -1;
    if (entry->detail)
        json_object_set (record, "detail", entry->detail);
    char *text = registry_dump (record);
    json_decref (record);
    if (!text)
        return -1;
    uint8_t key [AUDIT_KEY_MAX];
    size_t key_size = audit_chain_key (chain, seq, key);
    char hash [2 * AUDIT_HASH_SIZE + 1];
    s_hash (text, strlen (text), hash);
    int rc = store_put (txn, chain->table, key, key_size, text, strlen (text));
    free (text);
    if (rc == 0) {
        head.seq = seq;
        memcpy (head.hash, hash, sizeof head.hash);
        rc = s_head_put (txn, chain, pki, &head);
    }
    return rc;
}

int
audit_append (store_txn_t *txn, pki_t *pki, uint64_t now_ms, const audit_entry_t *entry)
{
    assert (txn && pki && entry && entry->actor && entry->action);
    const char *tenant = entry->tenant? entry->tenant: "";
    audit_chain_t deployment;
    audit_chain ("", &deployment);
    int rc = s_append (txn, pki, now_ms, &deployment, tenant, entry);
    if (rc == 0 && *tenant)
        rc = audit_append_tenant (txn, pki, now_ms, tenant, entry);
    return rc;
}

int
audit_append_tenant (store_txn_t *txn, pki_t *pki, uint64_t now_ms, const char *tenant,
                     const audit_entry_t *entry)
{
    assert (txn && pki && tenant && entry && entry->actor && entry->action);
    audit_chain_t chain;
    if (!*tenant || audit_chain (tenant, &chain)) {
        zsys_error ("audit: no chain for tenant '%s'", tenant);
        return -1;
    }
    return s_append (txn, pki, now_ms, &chain, tenant, entry);
}

//  --------------------------------------------------------------------------
//  Verify

typedef struct {
    const audit_chain_t *chain;
    uint64_t expect;                //  Next seq
    char prev [2 * AUDIT_HASH_SIZE + 1];
    char *error;
    bool broken;
    const audit_head_t *anchor;     //  Record that must be in the log, or NULL
} s_verify_t;

static int
s_verify_one (void *arg, const void *key, size_t key_size, const void *value,
              size_t value_size)
{
    s_verify_t *self = (s_verify_t *) arg;
    size_t prefix = self->chain->prefix_size;
    uint64_t key_seq = 0;
    for (size_t i = prefix; i < key_size && i < prefix + 8; i++)
        key_seq = (key_seq << 8) | ((const uint8_t *) key) [i];
    json_error_t json_error;
    json_t *record = json_loadb ((const char *) value, value_size, 0, &json_error);
    json_int_t seq = json_integer_value (json_object_get (record, "seq"));
    const char *prev = json_string_value (json_object_get (record, "prev"));
    const char *tenant = json_string_value (json_object_get (record, "tenant"));
    if (key_size != prefix + 8 || !json_is_object (record) || !prev)
        snprintf (self->error, WEFT_TEXT_MAX + 1, "record %" PRIu64 " is unreadable",
                  key_seq);
    else
    if (key_seq != self->expect)
        snprintf (self->error, WEFT_TEXT_MAX + 1,
                  "record %" PRIu64 " is missing (next is %" PRIu64 ")", self->expect,
                  key_seq);
    else
    if ((uint64_t) seq != key_seq)
        snprintf (self->error, WEFT_TEXT_MAX + 1,
                  "record %" PRIu64 " holds record %lld: records were moved", key_seq,
                  (long long) seq);
    else
    if (*self->chain->tenant && (!tenant || !streq (tenant, self->chain->tenant)))
        snprintf (self->error, WEFT_TEXT_MAX + 1,
                  "record %" PRIu64 " belongs to another chain: records were moved", key_seq);
    else
    if (!streq (prev, self->prev))
        snprintf (self->error, WEFT_TEXT_MAX + 1,
                  "record %" PRIu64 ": hash chain broken: record %" PRIu64
                  " was changed or removed", key_seq, key_seq - 1);
    json_decref (record);
    if (*self->error) {
        self->broken = true;
        return 1;
    }
    s_hash (value, value_size, self->prev);
    if (self->anchor && self->anchor->seq == key_seq
    &&  !streq (self->prev, self->anchor->hash)) {
        snprintf (self->error, WEFT_TEXT_MAX + 1,
                  "record %" PRIu64 " does not match the anchor: the log was rewritten",
                  key_seq);
        self->broken = true;
        return 1;
    }
    self->expect++;
    return 0;
}

int
audit_verify (store_txn_t *txn, const uint8_t ca_key [WEFT_KEY_SIZE], const char *tenant,
              const audit_head_t *anchor, uint64_t *records_p,
              char head [2 * AUDIT_HASH_SIZE + 1], char error [WEFT_TEXT_MAX + 1])
{
    assert (txn && ca_key);
    error [0] = 0;
    *records_p = 0;
    memset (head, '0', 2 * AUDIT_HASH_SIZE);
    head [2 * AUDIT_HASH_SIZE] = 0;
    audit_chain_t chain;
    if (audit_chain (tenant, &chain)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "no such audit chain");
        return -1;
    }
    if (anchor && !streq (anchor->tenant, chain.tenant)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "the anchor is the head of another chain");
        return -1;
    }
    if (anchor && audit_head_check (anchor, ca_key)) {
        snprintf (error, WEFT_TEXT_MAX + 1,
                  "the anchor's signature does not verify with the CA key");
        return -1;
    }
    s_verify_t verify = { &chain, 1, "", error, false, anchor };
    memset (verify.prev, '0', 2 * AUDIT_HASH_SIZE);
    verify.prev [2 * AUDIT_HASH_SIZE] = 0;
    if (store_scan (txn, chain.table, chain.prefix, chain.prefix_size, s_verify_one,
                    &verify) < 0) {
        snprintf (error, WEFT_TEXT_MAX + 1, "cannot read the audit log");
        return -1;
    }
    *records_p = verify.expect - 1;
    snprintf (head, 2 * AUDIT_HASH_SIZE + 1, "%s", verify.prev);
    if (verify.broken)
        return -1;
    audit_head_t stored;
    if (s_head (txn, &chain, &stored)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "the head record is corrupt");
        return -1;
    }
    uint64_t head_seq = stored.seq;
    const char *head_hash = stored.hash;
    if (anchor && anchor->seq > verify.expect - 1) {
        snprintf (error, WEFT_TEXT_MAX + 1,
                  "the log ends at record %" PRIu64 ", before the anchored record %" PRIu64
                  ": records were removed", verify.expect - 1, anchor->seq);
        return -1;
    }
    //  Without a valid signature the head proves nothing: someone who
    //  removed the newest records could have rewritten it to match
    if (head_seq && audit_head_check (&stored, ca_key)) {
        snprintf (error, WEFT_TEXT_MAX + 1, *stored.sig
                  ? "the head (record %" PRIu64 ") is not signed by the CA: it was rewritten"
                  : "the head (record %" PRIu64 ") is not signed", head_seq);
        return -1;
    }
    if (head_seq != verify.expect - 1) {
        snprintf (error, WEFT_TEXT_MAX + 1,
                  "the log ends at record %" PRIu64 " but the head says %" PRIu64
                  ": records were removed", verify.expect - 1, head_seq);
        return -1;
    }
    if (!streq (head_hash, verify.prev)) {
        snprintf (error, WEFT_TEXT_MAX + 1,
                  "record %" PRIu64 " does not match the head: it was changed", head_seq);
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  List

typedef struct {
    query_t *query;
    const char **scopes;
    size_t scope_count;
    size_t limit;
    zlistx_t *kept;                 //  json_t *, oldest first
} s_list_t;

typedef struct {
    json_t *record;
    char buf [32];
} s_attr_t;

static const char *
s_attr (const char *name, void *arg)
{
    s_attr_t *self = (s_attr_t *) arg;
    json_t *value = json_object_get (self->record, name);
    if (json_is_string (value))
        return json_string_value (value);
    if (json_is_integer (value) && (streq (name, "seq") || streq (name, "time"))) {
        snprintf (self->buf, sizeof self->buf, "%" JSON_INTEGER_FORMAT,
                  json_integer_value (value));
        return self->buf;
    }
    return NULL;
}

static void
s_json_free (void **item_p)
{
    json_decref ((json_t *) *item_p);
    *item_p = NULL;
}

static int
s_list_one (void *arg, const void *key, size_t key_size, const void *value,
            size_t value_size)
{
    (void) key;
    (void) key_size;
    s_list_t *self = (s_list_t *) arg;
    json_error_t error;
    json_t *record = json_loadb ((const char *) value, value_size, 0, &error);
    if (!json_is_object (record)) {
        json_decref (record);
        return 0;
    }
    const char *scope = json_string_value (json_object_get (record, "scope"));
    bool visible = false;
    for (size_t i = 0; i < self->scope_count && !visible; i++)
        visible = devquery_covers (self->scopes [i], scope? scope: "");
    s_attr_t attr = { record, "" };
    if (visible && (!self->query || query_match (self->query, s_attr, &attr))) {
        zlistx_add_end (self->kept, record);
        if (zlistx_size (self->kept) > self->limit) {
            zlistx_first (self->kept);
            zlistx_delete (self->kept, NULL);
        }
    }
    else
        json_decref (record);
    return 0;
}

json_t *
audit_list (store_txn_t *txn, const char *tenant, query_t *query, const char **scopes,
            size_t scope_count, size_t limit)
{
    audit_chain_t chain;
    if (audit_chain (tenant, &chain))
        return NULL;
    s_list_t list = { query, scopes, scope_count, limit? limit: 1, zlistx_new () };
    zlistx_set_destructor (list.kept, s_json_free);
    json_t *result = NULL;
    if (store_scan (txn, chain.table, chain.prefix, chain.prefix_size, s_list_one,
                    &list) >= 0) {
        result = json_array ();
        for (json_t *record = (json_t *) zlistx_last (list.kept); record;
             record = (json_t *) zlistx_prev (list.kept))
            json_array_append (result, record);
    }
    zlistx_destroy (&list.kept);
    return result;
}

