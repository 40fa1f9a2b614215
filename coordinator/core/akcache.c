/*  akcache - the attestation keys of the devices, parsed once (akcache.h)  */

#include "coordinator/core/akcache.h"

struct _akcache_t {
    zhashx_t *entries;              //  Device id -> s_entry_t
};

typedef struct {
    byte *ak;                       //  The TPM2B_PUBLIC it was parsed from
    size_t size;
    tpmverify_ak_t *parsed;
} s_entry_t;

static void
s_entry_destroy (void **item_p)
{
    s_entry_t *entry = (s_entry_t *) *item_p;
    if (entry) {
        tpmverify_ak_destroy (&entry->parsed);
        free (entry->ak);
        free (entry);
    }
    *item_p = NULL;
}

akcache_t *
akcache_new (void)
{
    akcache_t *self = (akcache_t *) zmalloc (sizeof (akcache_t));
    self->entries = zhashx_new ();
    zhashx_set_destructor (self->entries, s_entry_destroy);
    return self;
}

void
akcache_destroy (akcache_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        akcache_t *self = *self_p;
        zhashx_destroy (&self->entries);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  The parsed AK of a device, from the cache if its bytes are unchanged

const tpmverify_ak_t *
akcache_get (akcache_t *self, const char *device_id, const byte *ak, size_t size,
             int *result)
{
    assert (self && device_id);
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->entries, device_id);
    if (entry && ak && entry->size == size && memcmp (entry->ak, ak, size) == 0) {
        if (result)
            *result = TPMVERIFY_OK;
        return entry->parsed;
    }
    if (entry)
        zhashx_delete (self->entries, device_id);
    tpmverify_ak_t *parsed = tpmverify_ak_new (ak, size, result);
    if (!parsed)
        return NULL;
    //  Full: drop the first entry the table walks to (cheap, and a
    //  dropped device only costs one parse on its next quote)
    if (zhashx_size (self->entries) >= AKCACHE_SIZE && zhashx_first (self->entries))
        zhashx_delete (self->entries, zhashx_cursor (self->entries));
    entry = (s_entry_t *) zmalloc (sizeof (s_entry_t));
    entry->ak = (byte *) zmalloc (size);
    memcpy (entry->ak, ak, size);
    entry->size = size;
    entry->parsed = parsed;
    zhashx_insert (self->entries, device_id, entry);
    return parsed;
}

size_t
akcache_size (akcache_t *self)
{
    assert (self);
    return zhashx_size (self->entries);
}

//  --------------------------------------------------------------------------
//  Selftest: an ECC P-256 AK's TPM2B_PUBLIC made by hand (the attributes
//  a TPM gives an AK); the same bytes hit, new bytes replace, a bad AK
//  is refused with its reason and leaves nothing behind.

#include <openssl/ec.h>
#include <openssl/core_names.h>
//  tss2_mu only marshals TPM structures to and from bytes in memory; it
//  never reaches a TPM (that is node/io/tpm*.c), so this stays a core
#include <tss2/tss2_mu.h>

static size_t
s_test_ak (byte *out, size_t max)
{
    EVP_PKEY *pkey = EVP_EC_gen ("P-256");
    assert (pkey);
    byte point [65];
    size_t point_size = 0;
    int rc = EVP_PKEY_get_octet_string_param (pkey, OSSL_PKEY_PARAM_PUB_KEY, point,
                                              sizeof point, &point_size);
    assert (rc == 1 && point_size == 65);
    EVP_PKEY_free (pkey);
    TPM2B_PUBLIC public;
    memset (&public, 0, sizeof public);
    TPMT_PUBLIC *area = &public.publicArea;
    area->type = TPM2_ALG_ECC;
    area->nameAlg = TPM2_ALG_SHA256;
    area->objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT
                           | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                           | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;
    area->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    area->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    area->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    area->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    area->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    area->unique.ecc.x.size = area->unique.ecc.y.size = 32;
    memcpy (area->unique.ecc.x.buffer, point + 1, 32);
    memcpy (area->unique.ecc.y.buffer, point + 33, 32);
    size_t offset = 0;
    rc = Tss2_MU_TPM2B_PUBLIC_Marshal (&public, out, max, &offset);
    assert (rc == TSS2_RC_SUCCESS);
    return offset;
}

void
akcache_test (bool verbose)
{
    (void) verbose;
    printf (" * akcache: ");
    //  @selftest
    byte ak1 [512], ak2 [512];
    size_t size1 = s_test_ak (ak1, sizeof ak1);
    size_t size2 = s_test_ak (ak2, sizeof ak2);
    akcache_t *cache = akcache_new ();
    int result = -99;
    const tpmverify_ak_t *first = akcache_get (cache, "gw-1", ak1, size1, &result);
    assert (first && result == TPMVERIFY_OK);
    //  The same bytes: the same parsed key, not parsed again
    assert (akcache_get (cache, "gw-1", ak1, size1, NULL) == first);
    assert (akcache_size (cache) == 1);
    //  A new AK for the device (re-enrolled): parsed anew, in its place
    const tpmverify_ak_t *second = akcache_get (cache, "gw-1", ak2, size2, &result);
    assert (second && result == TPMVERIFY_OK);
    assert (akcache_size (cache) == 1);
    assert (akcache_get (cache, "gw-1", ak2, size2, NULL) == second);
    //  An AK that may leave its TPM is refused with its reason, and the
    //  device's entry goes
    byte bad [512];
    memcpy (bad, ak2, size2);
    TPM2B_PUBLIC parsed;
    assert (tpmverify_parse_public (bad, size2, &parsed) == 0);
    parsed.publicArea.objectAttributes &= ~TPMA_OBJECT_FIXEDTPM;
    size_t offset = 0;
    assert (Tss2_MU_TPM2B_PUBLIC_Marshal (&parsed, bad, sizeof bad, &offset) == 0);
    assert (!akcache_get (cache, "gw-1", bad, offset, &result));
    assert (result == TPMVERIFY_AK_NOT_FIXED);
    assert (akcache_size (cache) == 0);
    assert (!akcache_get (cache, "gw-1", bad, 3, &result));
    assert (result == TPMVERIFY_BAD_PUBLIC);
    //  Bounded: past AKCACHE_SIZE devices one entry makes room
    char id [32];
    for (int i = 0; i < AKCACHE_SIZE + 10; i++) {
        snprintf (id, sizeof id, "gw-%d", i);
        assert (akcache_get (cache, id, ak1, size1, NULL));
    }
    assert (akcache_size (cache) == AKCACHE_SIZE);
    akcache_destroy (&cache);
    akcache_destroy (&cache);
    assert (cache == NULL);
    //  @end
    printf ("OK\n");
}
