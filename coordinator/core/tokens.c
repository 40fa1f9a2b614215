/*  tokens - single-use, expiring enrolment tokens
    A wrong secret answers exactly as a missing id ("unknown token"), so
    guessing ids teaches nothing. Secrets are compared as hashes with
    sodium_memcmp and wiped after use.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/tokens.h"

#define S_PREFIX    "wt1."
#define S_TEXT_SIZE (4 + 2 * TOKENS_ID_SIZE + 1 + 2 * TOKENS_SECRET_SIZE + 1 + 64)

//  --------------------------------------------------------------------------
//  Make and store a token.

int
tokens_create (store_txn_t *txn, const char *tenant, const char *path, const char *type,
               uint64_t ttl_s, uint64_t now_s, const uint8_t coord_curve [32],
               char text [WEFT_TOKEN_MAX + 1], char id [2 * TOKENS_ID_SIZE + 1],
               uint64_t *expires_p)
{
    assert (tenant && path && type);
    uint8_t id_bin [TOKENS_ID_SIZE];
    uint8_t secret [TOKENS_SECRET_SIZE];
    uint8_t hash [32];
    char secret_hex [2 * TOKENS_SECRET_SIZE + 1];
    char hash_hex [65];
    char curve_hex [65];
    randombytes_buf (id_bin, sizeof id_bin);
    randombytes_buf (secret, sizeof secret);
    keys_hex (id_bin, sizeof id_bin, id);
    keys_hash (secret, sizeof secret, hash);
    keys_hex (hash, sizeof hash, hash_hex);
    keys_hex (secret, sizeof secret, secret_hex);
    keys_hex (coord_curve, 32, curve_hex);
    uint64_t expires = now_s + ttl_s;

    json_t *record = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}",
        "id", id, "hash", hash_hex, "tenant", tenant, "path", path, "type", type,
        "created", (json_int_t) now_s, "expires", (json_int_t) expires,
        "used_by", "");
    char *json = registry_dump (record);
    json_decref (record);
    int rc = store_put (txn, "tokens", id, strlen (id), json, strlen (json));
    free (json);
    if (rc == 0) {
        snprintf (text, WEFT_TOKEN_MAX + 1, S_PREFIX "%s.%s.%s", id, secret_hex, curve_hex);
        if (expires_p)
            *expires_p = expires;
    }
    sodium_memzero (secret, sizeof secret);
    sodium_memzero (secret_hex, sizeof secret_hex);
    return rc;
}

//  --------------------------------------------------------------------------
//  Split token text.

int
tokens_parse (const char *text, char id [2 * TOKENS_ID_SIZE + 1],
              uint8_t secret [TOKENS_SECRET_SIZE], uint8_t curve [32])
{
    if (!text || strlen (text) != S_TEXT_SIZE || strncmp (text, S_PREFIX, 4) != 0)
        return -1;
    const char *id_hex = text + 4;
    const char *secret_hex = id_hex + 2 * TOKENS_ID_SIZE + 1;
    const char *curve_hex = secret_hex + 2 * TOKENS_SECRET_SIZE + 1;
    if (id_hex [2 * TOKENS_ID_SIZE] != '.' || secret_hex [2 * TOKENS_SECRET_SIZE] != '.')
        return -1;
    char buffer [65];
    uint8_t id_bin [TOKENS_ID_SIZE];
    memcpy (buffer, id_hex, 2 * TOKENS_ID_SIZE);
    buffer [2 * TOKENS_ID_SIZE] = 0;
    if (keys_unhex (buffer, id_bin, TOKENS_ID_SIZE))
        return -1;
    //  Canonical lower-case id, so the store key is unique
    keys_hex (id_bin, TOKENS_ID_SIZE, id);
    memcpy (buffer, secret_hex, 2 * TOKENS_SECRET_SIZE);
    buffer [2 * TOKENS_SECRET_SIZE] = 0;
    int rc = keys_unhex (buffer, secret, TOKENS_SECRET_SIZE);
    sodium_memzero (buffer, sizeof buffer);
    if (rc == 0)
        rc = keys_unhex (curve_hex, curve, 32);
    if (rc)
        sodium_memzero (secret, TOKENS_SECRET_SIZE);
    return rc? -1: 0;
}

//  --------------------------------------------------------------------------
//  Check a token.

tokens_status_t
tokens_check (store_txn_t *txn, const char *text, const uint8_t coord_curve [32],
              uint64_t now_s, json_t **record_p)
{
    assert (record_p);
    *record_p = NULL;
    char id [2 * TOKENS_ID_SIZE + 1];
    uint8_t secret [TOKENS_SECRET_SIZE];
    uint8_t curve [32];
    if (tokens_parse (text, id, secret, curve))
        return TOKENS_UNKNOWN;
    uint8_t hash [32];
    keys_hash (secret, sizeof secret, hash);
    sodium_memzero (secret, sizeof secret);
    if (sodium_memcmp (curve, coord_curve, 32) != 0)
        return TOKENS_UNKNOWN;

    size_t size;
    char *data = (char *) store_get (txn, "tokens", id, strlen (id), &size);
    if (!data)
        return TOKENS_UNKNOWN;
    json_error_t error;
    json_t *record = json_loadb (data, size, 0, &error);
    free (data);
    const char *hash_hex = json_string_value (json_object_get (record, "hash"));
    uint8_t stored [32];
    if (!hash_hex || keys_unhex (hash_hex, stored, 32)
    ||  !json_is_integer (json_object_get (record, "expires"))
    ||  !json_is_string (json_object_get (record, "used_by"))) {
        zsys_error ("tokens: corrupt record %s", id);
        json_decref (record);
        return TOKENS_UNKNOWN;
    }
    if (sodium_memcmp (hash, stored, 32) != 0) {
        json_decref (record);
        return TOKENS_UNKNOWN;
    }
    *record_p = record;
    if (*json_string_value (json_object_get (record, "used_by")))
        return TOKENS_USED;
    if ((uint64_t) json_integer_value (json_object_get (record, "expires")) <= now_s)
        return TOKENS_EXPIRED;
    return TOKENS_OK;
}

//  --------------------------------------------------------------------------
//  Mark used.

int
tokens_use (store_txn_t *txn, json_t *record, const char *device_id)
{
    const char *id = json_string_value (json_object_get (record, "id"));
    if (!id)
        return -1;
    json_object_set_new (record, "used_by", json_string (device_id));
    char *json = registry_dump (record);
    int rc = store_put (txn, "tokens", id, strlen (id), json, strlen (json));
    free (json);
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest

void
tokens_test (bool verbose)
{
    printf (" * tokens: ");
    (void) verbose;
    //  @selftest
    char path [] = "/tmp/weft-tokens-test-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    uint8_t curve [32], other [32];
    randombytes_buf (curve, 32);
    randombytes_buf (other, 32);
    uint64_t now = 1700000000;

    char text [WEFT_TOKEN_MAX + 1];
    char id [2 * TOKENS_ID_SIZE + 1];
    uint64_t expires;
    store_txn_t *txn = store_begin (store, true);
    assert (tokens_create (txn, "acme", "", "", 60, now, curve, text, id, &expires) == 0);
    assert (store_commit (&txn) == 0);
    assert (expires == now + 60);
    assert (strlen (text) == S_TEXT_SIZE);
    assert (strncmp (text + 4, id, 16) == 0);

    char parsed_id [17];
    uint8_t secret [TOKENS_SECRET_SIZE], parsed_curve [32];
    assert (tokens_parse (text, parsed_id, secret, parsed_curve) == 0);
    assert (streq (parsed_id, id));
    assert (memcmp (parsed_curve, curve, 32) == 0);
    assert (tokens_parse ("wt1.zz", parsed_id, secret, parsed_curve) == -1);
    assert (tokens_parse (NULL, parsed_id, secret, parsed_curve) == -1);
    assert (tokens_parse ("", parsed_id, secret, parsed_curve) == -1);

    //  The secret is not stored
    txn = store_begin (store, false);
    size_t size;
    char *stored = (char *) store_get (txn, "tokens", id, strlen (id), &size);
    assert (stored);
    char secret_hex [33];
    memcpy (secret_hex, text + 4 + 17, 32);
    secret_hex [32] = 0;
    assert (!memmem (stored, size, secret_hex, 32));
    free (stored);

    json_t *record;
    assert (tokens_check (txn, text, curve, now, &record) == TOKENS_OK);
    assert (streq (json_string_value (json_object_get (record, "tenant")), "acme"));
    json_decref (record);
    //  Expired at and after its expiry
    assert (tokens_check (txn, text, curve, now + 60, &record) == TOKENS_EXPIRED);
    json_decref (record);
    //  Another coordinator's token, a wrong secret, an unknown id
    assert (tokens_check (txn, text, other, now, &record) == TOKENS_UNKNOWN);
    assert (record == NULL);
    char wrong [WEFT_TOKEN_MAX + 1];
    strcpy (wrong, text);
    wrong [4 + 17] = wrong [4 + 17] == '0'? '1': '0';
    assert (tokens_check (txn, wrong, curve, now, &record) == TOKENS_UNKNOWN);
    strcpy (wrong, text);
    wrong [4] = wrong [4] == '0'? '1': '0';
    assert (tokens_check (txn, wrong, curve, now, &record) == TOKENS_UNKNOWN);
    assert (tokens_check (txn, "garbage", curve, now, &record) == TOKENS_UNKNOWN);
    store_abort (&txn);

    //  Single use
    txn = store_begin (store, true);
    assert (tokens_check (txn, text, curve, now, &record) == TOKENS_OK);
    assert (tokens_use (txn, record, "dev-1") == 0);
    json_decref (record);
    assert (store_commit (&txn) == 0);
    txn = store_begin (store, false);
    assert (tokens_check (txn, text, curve, now, &record) == TOKENS_USED);
    assert (streq (json_string_value (json_object_get (record, "used_by")), "dev-1"));
    json_decref (record);
    store_abort (&txn);

    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
