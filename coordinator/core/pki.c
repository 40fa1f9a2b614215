/*  pki - the coordinator's certificate authority
    The CA secret never leaves this object: it is copied in once and
    wiped on destroy.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/codec.h"
#include "coordinator/core/pki.h"
#include "coordinator/core/registry.h"

struct _pki_t {
    keys_t ca;                      //  Root keys; sign_secret signs certs
};

pki_t *
pki_new (const keys_t *ca)
{
    assert (ca);
    pki_t *self = (pki_t *) zmalloc (sizeof (pki_t));
    self->ca = *ca;
    return self;
}

void
pki_destroy (pki_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        pki_t *self = *self_p;
        keys_wipe (&self->ca);
        sodium_memzero (self, sizeof (pki_t));
        free (self);
        *self_p = NULL;
    }
}

const uint8_t *
pki_ca_key (pki_t *self)
{
    assert (self);
    return self->ca.sign_public;
}

//  --------------------------------------------------------------------------
//  Issue a certificate with the next serial.

int
pki_issue (pki_t *self, store_txn_t *txn, cert_t *cert, uint64_t now_s,
           uint8_t **out_p, size_t *size_p)
{
    return pki_issue_valid (self, txn, cert, now_s, PKI_NODE_VALIDITY_S, out_p, size_p);
}

int
pki_issue_valid (pki_t *self, store_txn_t *txn, cert_t *cert, uint64_t now_s,
                 uint64_t validity_s, uint8_t **out_p, size_t *size_p)
{
    assert (self);
    assert (cert);
    uint64_t serial = registry_meta_get (txn, "serial") + 1;
    if (registry_meta_put (txn, "serial", serial))
        return -1;
    cert->serial = serial;
    cert->not_before = now_s > PKI_CLOCK_SKEW_S? now_s - PKI_CLOCK_SKEW_S: 0;
    cert->not_after = now_s + validity_s;
    int rc = cert_encode (cert, self->ca.sign_secret, out_p, size_p);
    if (rc) {
        zsys_error ("pki: cannot encode certificate for %s: %s", cert->subject,
                    proto_strerror (rc));
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Sign a policy with the root key.

void
pki_sign (pki_t *self, const char *context, const uint8_t *body, size_t size,
          uint8_t sig [WEFT_SIG_SIZE])
{
    assert (self && context && body && sig);
    codec_sign (context, body, size, self->ca.sign_secret, sig);
}

//  --------------------------------------------------------------------------
//  Selftest

void
pki_test (bool verbose)
{
    printf (" * pki: ");
    (void) verbose;
    //  @selftest
    char path [] = "/tmp/weft-pki-test-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    keys_t ca, node;
    keys_generate (&ca);
    keys_generate (&node);
    pki_t *pki = pki_new (&ca);
    assert (memcmp (pki_ca_key (pki), ca.sign_public, 32) == 0);

    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.kind = CERT_KIND_NODE;
    strcpy (cert.subject, "dev-1");
    strcpy (cert.tenant, "acme");
    strcpy (cert.role, "gateway");
    memcpy (cert.sign_key, node.sign_public, 32);
    memcpy (cert.curve_key, node.curve_public, 32);
    uint64_t now = 1700000000;

    store_txn_t *txn = store_begin (store, true);
    uint8_t *data;
    size_t size;
    assert (pki_issue (pki, txn, &cert, now, &data, &size) == 0);
    assert (cert.serial == 1);
    cert_t check;
    assert (cert_decode (&check, data, size, ca.sign_public, now) == 0);
    assert (check.serial == 1);
    assert (streq (check.subject, "dev-1"));
    assert (memcmp (check.curve_key, node.curve_public, 32) == 0);
    free (data);
    //  Serials grow
    assert (pki_issue (pki, txn, &cert, now, &data, &size) == 0);
    assert (cert.serial == 2);
    free (data);
    assert (store_commit (&txn) == 0);
    //  An aborted issue does not advance the counter for good
    txn = store_begin (store, true);
    assert (pki_issue (pki, txn, &cert, now, &data, &size) == 0);
    free (data);
    store_abort (&txn);
    txn = store_begin (store, true);
    assert (pki_issue (pki, txn, &cert, now, &data, &size) == 0);
    assert (cert.serial == 3);
    free (data);
    store_abort (&txn);

    pki_destroy (&pki);
    pki_destroy (&pki);
    keys_wipe (&ca);
    keys_wipe (&node);
    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
