/*  cert - certificates signed by the Weft root CA
    Wire form (docs/protocol.md):
        cert = [body: bin, sig: bin(64)]
        body = [version, serial, kind, subject: str, tenant: str,
                role: str, path: str, sign_key: bin(32),
                curve_key: bin(32), not_before, not_after
                [, ak_name: bin(34) | nil [, grants: bin]]]
        grants = [role, path, role, path, ...]
        sig  = Ed25519 (CA key, "weft-cert-v1" || 0x00 || body)
    cert_decode verifies the signature before it looks inside the body,
    so only bytes the CA signed are ever parsed field by field. The
    validity interval is inclusive at both ends.  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "codec.h"
#include "keys.h"
#include "cert.h"

#define CERT_CONTEXT    "weft-cert-v1"
#define CERT_ITEMS      11
#define CERT_SEGMENT_MAX    64
#define CERT_DEPTH_MAX      8

//  --------------------------------------------------------------------------
//  Is path a grant path?

bool
cert_path_valid (const char *path)
{
    assert (path);
    size_t size = strnlen (path, CERT_PATH_MAX + 1);
    if (size > CERT_PATH_MAX)
        return false;
    if (size == 0)
        return true;
    size_t segment = 0, segments = 1;
    for (size_t i = 0; i < size; i++) {
        char c = path [i];
        if (c == '/') {
            if (segment == 0 || ++segments > CERT_DEPTH_MAX)
                return false;
            segment = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '.' || c == '_' || c == '-'))
            return false;
        if (++segment > CERT_SEGMENT_MAX)
            return false;
    }
    return segment > 0;
}

//  Grants are checked the same way on both sides of the wire
static bool
s_grants_valid (const cert_t *cert)
{
    if (cert->grant_count > CERT_GRANTS_MAX)
        return false;
    if (cert->grant_count && cert->kind != CERT_KIND_OPERATOR)
        return false;
    for (size_t i = 0; i < cert->grant_count; i++)
        if (cert->grants [i].role [0] == 0 || !cert_path_valid (cert->grants [i].path))
            return false;
    return true;
}

//  The grants as one msgpack array of strings, carried as a bin
static int
s_encode_grants (const cert_t *cert, uint8_t **out_p, size_t *size_p)
{
    codec_writer_t *w = codec_writer_new (64 * cert->grant_count + 16);
    codec_put_array (w, 2 * cert->grant_count);
    for (size_t i = 0; i < cert->grant_count; i++) {
        codec_put_str (w, cert->grants [i].role, WEFT_NAME_MAX);
        codec_put_str (w, cert->grants [i].path, CERT_PATH_MAX);
    }
    return codec_writer_finish (&w, out_p, size_p);
}

static int
s_decode_grants (cert_t *cert, const uint8_t *data, size_t size)
{
    codec_reader_t *r;
    int rc = codec_reader_new (&r, data, size);
    if (rc)
        return rc;
    int items = codec_items (r);
    if (items < 0 || items % 2)
        rc = PROTO_ERR_TYPE;
    else
    if (items == 0 || items > 2 * CERT_GRANTS_MAX)
        rc = PROTO_ERR_VALUE;
    cert->grant_count = 0;
    for (int i = 0; rc == 0 && i < items; i += 2) {
        cert_grant_t *grant = &cert->grants [cert->grant_count++];
        rc = codec_get_str (r, (size_t) i, grant->role, WEFT_NAME_MAX);
        if (rc == 0)
            rc = codec_get_str (r, (size_t) i + 1, grant->path, CERT_PATH_MAX);
    }
    codec_reader_destroy (&r);
    if (rc == 0 && !s_grants_valid (cert))
        rc = PROTO_ERR_VALUE;
    return rc;
}

//  --------------------------------------------------------------------------
//  Sign cert with the CA secret key and encode it.

int
cert_encode (const cert_t *cert, const uint8_t ca_secret [WEFT_SECRET_SIZE],
             uint8_t **out_p, size_t *size_p)
{
    assert (cert && ca_secret && out_p && size_p);
    *out_p = NULL;
    *size_p = 0;
    if (cert->kind < CERT_KIND_NODE || cert->kind > CERT_KIND_COORDINATOR)
        return PROTO_ERR_VALUE;
    if (cert->subject [0] == 0 || cert->not_before > cert->not_after)
        return PROTO_ERR_VALUE;

    if (cert->ak_name_size != 0 && cert->ak_name_size != CERT_AK_NAME_SIZE)
        return PROTO_ERR_VALUE;
    if (!s_grants_valid (cert))
        return PROTO_ERR_VALUE;
    uint8_t *grants = NULL;
    size_t grants_size = 0;
    if (cert->grant_count) {
        int rc = s_encode_grants (cert, &grants, &grants_size);
        if (rc)
            return rc;
    }
    codec_writer_t *w = codec_writer_new (512 + grants_size);
    codec_put_array (w, CERT_ITEMS + (grants? 2: cert->ak_name_size? 1: 0));
    codec_put_uint (w, WEFT_PROTO_VERSION);
    codec_put_uint (w, cert->serial);
    codec_put_uint (w, (uint64_t) cert->kind);
    codec_put_str (w, cert->subject, WEFT_NAME_MAX);
    codec_put_str (w, cert->tenant, WEFT_NAME_MAX);
    codec_put_str (w, cert->role, WEFT_NAME_MAX);
    codec_put_str (w, cert->path, WEFT_NAME_MAX);
    codec_put_bin (w, cert->sign_key, WEFT_KEY_SIZE);
    codec_put_bin (w, cert->curve_key, WEFT_KEY_SIZE);
    codec_put_uint (w, cert->not_before);
    codec_put_uint (w, cert->not_after);
    if (cert->ak_name_size)
        codec_put_bin (w, cert->ak_name, cert->ak_name_size);
    else
    if (grants)
        codec_put_nil (w);
    if (grants)
        codec_put_bin (w, grants, grants_size);
    free (grants);
    uint8_t *body;
    size_t body_size;
    int rc = codec_writer_finish (&w, &body, &body_size);
    if (rc)
        return rc;
    rc = codec_seal (CERT_CONTEXT, body, body_size, ca_secret, out_p, size_p);
    free (body);
    return rc;
}

//  --------------------------------------------------------------------------
//  Parse a verified body.

static int
s_decode_body (cert_t *cert, const uint8_t *body, size_t body_size)
{
    codec_reader_t *r;
    int rc = codec_reader_new (&r, body, body_size);
    if (rc)
        return rc;
    uint64_t value = 0;
    if (codec_items (r) < 1)
        rc = PROTO_ERR_TYPE;
    if (rc == 0)
        rc = codec_get_uint (r, 0, UINT64_MAX, &value);
    if (rc == 0 && value != WEFT_PROTO_VERSION)
        rc = PROTO_ERR_VERSION;
    if (rc == 0 && codec_items (r) < CERT_ITEMS)
        rc = PROTO_ERR_TYPE;
    if (rc == 0)
        rc = codec_get_uint (r, 1, UINT64_MAX, &cert->serial);
    if (rc == 0)
        rc = codec_get_uint (r, 2, UINT8_MAX, &value);
    if (rc == 0 && (value < CERT_KIND_NODE || value > CERT_KIND_COORDINATOR))
        rc = PROTO_ERR_VALUE;
    cert->kind = (int) value;
    if (rc == 0)
        rc = codec_get_str (r, 3, cert->subject, WEFT_NAME_MAX);
    if (rc == 0 && cert->subject [0] == 0)
        rc = PROTO_ERR_VALUE;
    if (rc == 0)
        rc = codec_get_str (r, 4, cert->tenant, WEFT_NAME_MAX);
    if (rc == 0)
        rc = codec_get_str (r, 5, cert->role, WEFT_NAME_MAX);
    if (rc == 0)
        rc = codec_get_str (r, 6, cert->path, WEFT_NAME_MAX);
    if (rc == 0)
        rc = codec_get_bin (r, 7, cert->sign_key, WEFT_KEY_SIZE);
    if (rc == 0)
        rc = codec_get_bin (r, 8, cert->curve_key, WEFT_KEY_SIZE);
    if (rc == 0)
        rc = codec_get_uint (r, 9, UINT64_MAX, &cert->not_before);
    if (rc == 0)
        rc = codec_get_uint (r, 10, UINT64_MAX, &cert->not_after);
    if (rc == 0 && cert->not_before > cert->not_after)
        rc = PROTO_ERR_VALUE;
    cert->ak_name_size = 0;
    if (rc == 0 && codec_items (r) > CERT_ITEMS && !codec_is_nil (r, CERT_ITEMS)) {
        const uint8_t *ak_name = NULL;
        rc = codec_get_binref (r, CERT_ITEMS, &ak_name, &cert->ak_name_size);
        if (rc == 0 && cert->ak_name_size != CERT_AK_NAME_SIZE)
            rc = PROTO_ERR_VALUE;
        if (rc == 0)
            memcpy (cert->ak_name, ak_name, CERT_AK_NAME_SIZE);
    }
    cert->grant_count = 0;
    if (rc == 0 && codec_items (r) > CERT_ITEMS + 1) {
        const uint8_t *grants = NULL;
        size_t grants_size = 0;
        rc = codec_get_binref (r, CERT_ITEMS + 1, &grants, &grants_size);
        if (rc == 0)
            rc = s_decode_grants (cert, grants, grants_size);
    }
    codec_reader_destroy (&r);
    return rc;
}

//  --------------------------------------------------------------------------
//  Decode, verify against the root key, and check validity at now_s.

int
cert_decode (cert_t *cert, const uint8_t *data, size_t size,
             const uint8_t ca_key [WEFT_KEY_SIZE], uint64_t now_s)
{
    assert (cert && ca_key);
    codec_reader_t *r;
    int rc = codec_reader_new (&r, data, size);
    if (rc)
        return rc;
    const uint8_t *body = NULL, *sig = NULL;
    size_t body_size = 0, sig_size = 0;
    int items = codec_items (r);
    if (items == 1)
        rc = PROTO_ERR_UNSIGNED;
    else
    if (items != 2)
        rc = PROTO_ERR_TYPE;
    if (rc == 0)
        rc = codec_get_binref (r, 0, &body, &body_size);
    if (rc == 0) {
        if (codec_is_nil (r, 1))
            rc = PROTO_ERR_UNSIGNED;
        else
            rc = codec_get_binref (r, 1, &sig, &sig_size);
        if (rc == 0 && sig_size != WEFT_SIG_SIZE)
            rc = PROTO_ERR_UNSIGNED;
    }
    codec_reader_destroy (&r);
    if (rc == 0)
        rc = codec_verify (CERT_CONTEXT, body, body_size, sig, ca_key);
    cert_t got;
    memset (&got, 0, sizeof got);
    if (rc == 0)
        rc = s_decode_body (&got, body, body_size);
    if (rc == 0 && now_s && (now_s < got.not_before || now_s > got.not_after))
        rc = PROTO_ERR_EXPIRED;
    if (rc == 0)
        *cert = got;
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest

//  The golden certificate: a node certificate from a CA made from a fixed
//  seed, valid for 2026. The envelope golden vectors embed the same one.
#define GOLDEN_TIME_S   1767225600ULL

static void
s_golden_cert (cert_t *cert, keys_t *ca)
{
    uint8_t seed [32];
    memset (seed, 0xca, sizeof seed);
    keys_from_seed (ca, seed);
    keys_t node;
    memset (seed, 0x01, sizeof seed);
    keys_from_seed (&node, seed);
    memset (cert, 0, sizeof (cert_t));
    cert->serial = 2;
    cert->kind = CERT_KIND_NODE;
    strcpy (cert->subject, "node-1");
    strcpy (cert->tenant, "acme");
    strcpy (cert->role, "gateway");
    memcpy (cert->sign_key, node.sign_public, WEFT_KEY_SIZE);
    memcpy (cert->curve_key, node.curve_public, WEFT_KEY_SIZE);
    cert->not_before = GOLDEN_TIME_S;
    cert->not_after = GOLDEN_TIME_S + 365 * 86400;
    keys_wipe (&node);
}

//  Body with field bad given a wrong wire type, signed by ca.
static void
s_craft (int bad, uint64_t version, uint64_t kind, const keys_t *ca,
         uint8_t **out_p, size_t *size_p)
{
    uint8_t key [WEFT_KEY_SIZE] = { 0 };
    codec_writer_t *w = codec_writer_new (0);
    codec_put_array (w, CERT_ITEMS);
    for (int i = 0; i < CERT_ITEMS; i++) {
        if (i == bad) {
            if (i >= 3 && i <= 6)
                codec_put_uint (w, 1);
            else
                codec_put_strn (w, "x", 1, 1);
            continue;
        }
        switch (i) {
            case 0: codec_put_uint (w, version); break;
            case 1: codec_put_uint (w, 9); break;
            case 2: codec_put_uint (w, kind); break;
            case 3: codec_put_strn (w, "node-9", 6, WEFT_NAME_MAX); break;
            case 4: case 5: case 6: codec_put_strn (w, "", 0, 1); break;
            case 7: case 8: codec_put_bin (w, key, sizeof key); break;
            case 9: codec_put_uint (w, 100); break;
            case 10: codec_put_uint (w, 200); break;
        }
    }
    uint8_t *body;
    size_t body_size;
    int rc = codec_writer_finish (&w, &body, &body_size);
    assert (rc == 0);
    uint8_t sig [WEFT_SIG_SIZE];
    codec_sign (CERT_CONTEXT, body, body_size, ca->sign_secret, sig);
    w = codec_writer_new (0);
    codec_put_array (w, 2);
    codec_put_bin (w, body, body_size);
    codec_put_bin (w, sig, WEFT_SIG_SIZE);
    rc = codec_writer_finish (&w, out_p, size_p);
    assert (rc == 0);
    free (body);
}

//  Sign body with ca and wrap it as a certificate
static void
s_wrap (const keys_t *ca, uint8_t *body, size_t body_size, uint8_t **out_p, size_t *size_p)
{
    uint8_t sig [WEFT_SIG_SIZE];
    codec_sign (CERT_CONTEXT, body, body_size, ca->sign_secret, sig);
    codec_writer_t *w = codec_writer_new (0);
    codec_put_array (w, 2);
    codec_put_bin (w, body, body_size);
    codec_put_bin (w, sig, WEFT_SIG_SIZE);
    int rc = codec_writer_finish (&w, out_p, size_p);
    assert (rc == 0);
    free (body);
}

//  An operator body whose grants field is the given msgpack value,
//  signed by ca; kind may be a node's to test the kind check
static void
s_craft_grants (const keys_t *ca, uint64_t kind, const uint8_t *grants, size_t grants_size,
                bool grants_as_str, uint8_t **out_p, size_t *size_p)
{
    uint8_t key [WEFT_KEY_SIZE] = { 0 };
    codec_writer_t *w = codec_writer_new (0);
    codec_put_array (w, CERT_ITEMS + 2);
    codec_put_uint (w, WEFT_PROTO_VERSION);
    codec_put_uint (w, 7);
    codec_put_uint (w, kind);
    codec_put_strn (w, "olga", 4, WEFT_NAME_MAX);
    codec_put_strn (w, "acme", 4, WEFT_NAME_MAX);
    codec_put_strn (w, "admin", 5, WEFT_NAME_MAX);
    codec_put_strn (w, "acme", 4, WEFT_NAME_MAX);
    codec_put_bin (w, key, sizeof key);
    codec_put_bin (w, key, sizeof key);
    codec_put_uint (w, 100);
    codec_put_uint (w, 200);
    codec_put_nil (w);
    if (grants_as_str)
        codec_put_strn (w, (const char *) grants, grants_size, WEFT_STR_MAX);
    else
        codec_put_bin (w, grants, grants_size);
    uint8_t *body;
    size_t body_size;
    int rc = codec_writer_finish (&w, &body, &body_size);
    assert (rc == 0);
    s_wrap (ca, body, body_size, out_p, size_p);
}

//  A grants array of count strings, each "viewer" or path text
static void
s_grants_array (size_t count, const char *path, uint8_t **out_p, size_t *size_p)
{
    codec_writer_t *w = codec_writer_new (0);
    codec_put_array (w, count);
    for (size_t i = 0; i < count; i++)
        if (i % 2)
            codec_put_strn (w, path, strlen (path), WEFT_STR_MAX);
        else
            codec_put_strn (w, "viewer", 6, WEFT_NAME_MAX);
    int rc = codec_writer_finish (&w, out_p, size_p);
    assert (rc == 0);
}

//  The golden operator certificate: olga, admin on acme and viewer on
//  globex/plant-1, same CA and validity as the node's
static void
s_golden_operator (cert_t *cert, keys_t *ca)
{
    s_golden_cert (cert, ca);
    keys_t op;
    uint8_t seed [32];
    memset (seed, 0xad, sizeof seed);
    keys_from_seed (&op, seed);
    cert->serial = 3;
    cert->kind = CERT_KIND_OPERATOR;
    memset (cert->subject, 0, sizeof cert->subject);
    memset (cert->role, 0, sizeof cert->role);
    strcpy (cert->subject, "olga");
    strcpy (cert->role, "admin");
    strcpy (cert->path, "acme");
    memcpy (cert->sign_key, op.sign_public, WEFT_KEY_SIZE);
    memcpy (cert->curve_key, op.curve_public, WEFT_KEY_SIZE);
    cert->grant_count = 2;
    strcpy (cert->grants [0].role, "admin");
    strcpy (cert->grants [0].path, "acme");
    strcpy (cert->grants [1].role, "viewer");
    strcpy (cert->grants [1].path, "globex/plant-1");
    keys_wipe (&op);
}

void
cert_test (bool verbose)
{
    printf (" * cert: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    keys_t ca;
    cert_t cert;
    s_golden_cert (&cert, &ca);
    uint8_t *data;
    size_t size;
    assert (cert_encode (&cert, ca.sign_secret, &data, &size) == 0);
    if (verbose)
        printf ("   cert: %zu bytes\n", size);

    //  Golden vector, byte for byte, and decoded from the file
    uint8_t *file;
    size_t file_size;
    int rc = codec_golden ("cert", data, size, &file, &file_size);
    assert (rc == 0);
    cert_t got;
    assert (cert_decode (&got, file, file_size, ca.sign_public, 0) == 0);
    assert (memcmp (&got, &cert, sizeof cert) == 0);
    free (file);

    //  Validity: inclusive at both ends; 0 skips the check
    uint64_t start = cert.not_before, end = cert.not_after;
    assert (cert_decode (&got, data, size, ca.sign_public, start) == 0);
    assert (cert_decode (&got, data, size, ca.sign_public, end) == 0);
    memset (&got, 0x5a, sizeof got);
    cert_t untouched = got;
    assert (cert_decode (&got, data, size, ca.sign_public, end + 1) == PROTO_ERR_EXPIRED);
    assert (cert_decode (&got, data, size, ca.sign_public, start - 1) == PROTO_ERR_EXPIRED);
    assert (memcmp (&got, &untouched, sizeof got) == 0);   //  Filled only on success

    //  Signed by another CA
    keys_t rogue;
    keys_generate (&rogue);
    uint8_t *forged;
    size_t forged_size;
    assert (cert_encode (&cert, rogue.sign_secret, &forged, &forged_size) == 0);
    assert (forged_size == size);
    assert (cert_decode (&got, forged, forged_size, ca.sign_public, 0) == PROTO_ERR_SIGNATURE);
    assert (cert_decode (&got, forged, forged_size, rogue.sign_public, 0) == 0);
    free (forged);

    //  Truncated at every offset, trailing byte, every byte flipped
    for (size_t cut = 0; cut < size; cut++)
        assert (cert_decode (&got, data, cut, ca.sign_public, 0) != 0);
    uint8_t *longer = (uint8_t *) malloc (size + 1);
    assert (longer);
    memcpy (longer, data, size);
    longer [size] = 0xc0;
    assert (cert_decode (&got, longer, size + 1, ca.sign_public, 0) == PROTO_ERR_TRAILING);
    free (longer);
    for (size_t at = 0; at < size; at++) {
        data [at] ^= 0x01;
        assert (cert_decode (&got, data, size, ca.sign_public, 0) != 0);
        data [at] ^= 0xff;
        assert (cert_decode (&got, data, size, ca.sign_public, 0) != 0);
        data [at] ^= 0xfe;
    }
    assert (cert_decode (&got, data, size, ca.sign_public, 0) == 0);
    free (data);

    //  Crafted bodies, properly signed: each field with a wrong type,
    //  wrong version, bad kind
    s_craft (-1, 1, 1, &ca, &data, &size);
    assert (cert_decode (&got, data, size, ca.sign_public, 150) == 0);
    assert (strcmp (got.subject, "node-9") == 0 && got.serial == 9);
    free (data);
    for (int bad = 0; bad < CERT_ITEMS; bad++) {
        s_craft (bad, 1, 1, &ca, &data, &size);
        assert (cert_decode (&got, data, size, ca.sign_public, 0) == PROTO_ERR_TYPE);
        free (data);
    }
    s_craft (-1, 2, 1, &ca, &data, &size);
    assert (cert_decode (&got, data, size, ca.sign_public, 0) == PROTO_ERR_VERSION);
    free (data);
    s_craft (-1, 1, 4, &ca, &data, &size);
    assert (cert_decode (&got, data, size, ca.sign_public, 0) == PROTO_ERR_VALUE);
    free (data);

    //  Unsigned forms
    {
        const uint8_t one [] = { 0x91, 0xc4, 0x01, 0x90 };
        assert (cert_decode (&got, one, sizeof one, ca.sign_public, 0) == PROTO_ERR_UNSIGNED);
        const uint8_t nil [] = { 0x92, 0xc4, 0x01, 0x90, 0xc0 };
        assert (cert_decode (&got, nil, sizeof nil, ca.sign_public, 0) == PROTO_ERR_UNSIGNED);
        const uint8_t short_sig [] = { 0x92, 0xc4, 0x01, 0x90, 0xc4, 0x01, 0x00 };
        assert (cert_decode (&got, short_sig, sizeof short_sig, ca.sign_public, 0)
                == PROTO_ERR_UNSIGNED);
        const uint8_t scalar [] = { 0x01 };
        assert (cert_decode (&got, scalar, 1, ca.sign_public, 0) == PROTO_ERR_TYPE);
        const uint8_t huge [] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
        assert (cert_decode (&got, huge, 5, ca.sign_public, 0) == PROTO_ERR_OVERSIZE);
    }

    //  Encode refuses what decode would refuse
    cert_t bad = cert;
    bad.kind = 0;
    assert (cert_encode (&bad, ca.sign_secret, &data, &size) == PROTO_ERR_VALUE);
    bad = cert;
    bad.subject [0] = 0;
    assert (cert_encode (&bad, ca.sign_secret, &data, &size) == PROTO_ERR_VALUE);
    bad = cert;
    bad.not_after = bad.not_before - 1;
    assert (cert_encode (&bad, ca.sign_secret, &data, &size) == PROTO_ERR_VALUE);
    bad = cert;
    memset (bad.role, 'r', sizeof bad.role);
    assert (cert_encode (&bad, ca.sign_secret, &data, &size) == PROTO_ERR_OVERSIZE);

    //  The optional AK name: round-trips, and a certificate without it
    //  decodes with ak_name_size 0
    cert_t with_ak = cert;
    with_ak.ak_name [0] = 0x00;
    with_ak.ak_name [1] = 0x0b;
    memset (with_ak.ak_name + 2, 0xa5, CERT_AK_NAME_SIZE - 2);
    with_ak.ak_name_size = CERT_AK_NAME_SIZE;
    assert (cert_encode (&with_ak, ca.sign_secret, &data, &size) == 0);
    assert (cert_decode (&got, data, size, ca.sign_public, 0) == 0);
    assert (got.ak_name_size == CERT_AK_NAME_SIZE
            && memcmp (got.ak_name, with_ak.ak_name, CERT_AK_NAME_SIZE) == 0);
    free (data);
    with_ak.ak_name_size = 20;
    assert (cert_encode (&with_ak, ca.sign_secret, &data, &size) == PROTO_ERR_VALUE);
    assert (cert_encode (&cert, ca.sign_secret, &data, &size) == 0);
    assert (cert_decode (&got, data, size, ca.sign_public, 0) == 0);
    assert (got.ak_name_size == 0 && got.grant_count == 0);
    free (data);

    //  Operator grants: golden vector, round trip, with an AK name too
    cert_t op;
    s_golden_operator (&op, &ca);
    assert (cert_encode (&op, ca.sign_secret, &data, &size) == 0);
    rc = codec_golden ("cert-operator", data, size, &file, &file_size);
    assert (rc == 0);
    assert (cert_decode (&got, file, file_size, ca.sign_public, 0) == 0);
    assert (memcmp (&got, &op, sizeof op) == 0);
    assert (got.grant_count == 2 && strcmp (got.grants [1].path, "globex/plant-1") == 0);
    free (file);
    for (size_t cut = 0; cut < size; cut++)
        assert (cert_decode (&got, data, cut, ca.sign_public, 0) != 0);
    free (data);
    cert_t both = op;
    memcpy (both.ak_name, with_ak.ak_name, CERT_AK_NAME_SIZE);
    both.ak_name_size = CERT_AK_NAME_SIZE;
    assert (cert_encode (&both, ca.sign_secret, &data, &size) == 0);
    assert (cert_decode (&got, data, size, ca.sign_public, 0) == 0);
    assert (memcmp (&got, &both, sizeof both) == 0);
    free (data);

    //  The most grants, the longest role and path; one more is refused
    cert_t full = op;
    full.grant_count = CERT_GRANTS_MAX;
    for (size_t i = 0; i < CERT_GRANTS_MAX; i++) {
        memset (full.grants [i].role, 'r', WEFT_NAME_MAX);
        full.grants [i].role [WEFT_NAME_MAX] = 0;
        //  4 segments of 63 bytes and "/": 255 bytes
        char *path = full.grants [i].path;
        memset (path, 'a' + (int) i, CERT_PATH_MAX);
        path [63] = path [127] = path [191] = '/';
        path [CERT_PATH_MAX] = 0;
    }
    assert (cert_path_valid (full.grants [0].path));
    assert (cert_encode (&full, ca.sign_secret, &data, &size) == 0);
    if (verbose)
        printf ("   operator cert with %d grants: %zu bytes\n", CERT_GRANTS_MAX, size);
    assert (cert_decode (&got, data, size, ca.sign_public, 0) == 0);
    assert (memcmp (&got, &full, sizeof full) == 0);
    free (data);
    full.grant_count = CERT_GRANTS_MAX + 1;
    assert (cert_encode (&full, ca.sign_secret, &data, &size) == PROTO_ERR_VALUE);

    //  Encode refuses a bad grant, and grants on a node certificate
    cert_t bad_op = op;
    strcpy (bad_op.grants [1].path, "acme//x");
    assert (cert_encode (&bad_op, ca.sign_secret, &data, &size) == PROTO_ERR_VALUE);
    bad_op = op;
    bad_op.grants [0].role [0] = 0;
    assert (cert_encode (&bad_op, ca.sign_secret, &data, &size) == PROTO_ERR_VALUE);
    bad_op = op;
    bad_op.kind = CERT_KIND_NODE;
    assert (cert_encode (&bad_op, ca.sign_secret, &data, &size) == PROTO_ERR_VALUE);

    //  Paths: segments, characters, depth, length
    assert (cert_path_valid ("") && cert_path_valid ("acme") && cert_path_valid ("a/b.c/d_e-1"));
    assert (!cert_path_valid ("/acme") && !cert_path_valid ("acme/") && !cert_path_valid ("a b"));
    assert (!cert_path_valid ("a/b/c/d/e/f/g/h/i") && cert_path_valid ("a/b/c/d/e/f/g/h"));
    char long_segment [80];
    memset (long_segment, 'x', 65);
    long_segment [65] = 0;
    assert (!cert_path_valid (long_segment));
    long_segment [64] = 0;
    assert (cert_path_valid (long_segment));

    //  Crafted grants, properly signed: valid, odd count, none, too
    //  many, a path too long or malformed, not a bin, on a node cert
    uint8_t *grants;
    size_t grants_size;
    s_grants_array (2, "acme/plant-2", &grants, &grants_size);
    s_craft_grants (&ca, CERT_KIND_OPERATOR, grants, grants_size, false, &data, &size);
    assert (cert_decode (&got, data, size, ca.sign_public, 0) == 0);
    assert (got.grant_count == 1 && strcmp (got.grants [0].path, "acme/plant-2") == 0);
    free (data);
    s_craft_grants (&ca, CERT_KIND_NODE, grants, grants_size, false, &data, &size);
    assert (cert_decode (&got, data, size, ca.sign_public, 0) == PROTO_ERR_VALUE);
    free (data);
    s_craft_grants (&ca, CERT_KIND_OPERATOR, grants, grants_size, true, &data, &size);
    assert (cert_decode (&got, data, size, ca.sign_public, 0) == PROTO_ERR_TYPE);
    free (data);
    free (grants);
    struct {
        size_t count;
        const char *path;
        int rc;
    } crafted [] = {
        { 3, "acme", PROTO_ERR_TYPE },
        { 0, "acme", PROTO_ERR_VALUE },
        { 2 * CERT_GRANTS_MAX + 2, "acme", PROTO_ERR_VALUE },
        { 2 * CERT_GRANTS_MAX, "acme", 0 },
        { 2, "acme/../x", 0 },              //  ".." is a valid segment name
        { 2, "acme//x", PROTO_ERR_VALUE },
        { 2, "acme/pl ant", PROTO_ERR_VALUE },
        { 2, long_segment, 0 },
    };
    for (size_t i = 0; i < sizeof crafted / sizeof crafted [0]; i++) {
        s_grants_array (crafted [i].count, crafted [i].path, &grants, &grants_size);
        s_craft_grants (&ca, CERT_KIND_OPERATOR, grants, grants_size, false, &data, &size);
        assert (cert_decode (&got, data, size, ca.sign_public, 0) == crafted [i].rc);
        free (data);
        free (grants);
    }
    char too_long [CERT_PATH_MAX + 2];
    memset (too_long, 'p', sizeof too_long - 1);
    too_long [sizeof too_long - 1] = 0;
    s_grants_array (2, too_long, &grants, &grants_size);
    s_craft_grants (&ca, CERT_KIND_OPERATOR, grants, grants_size, false, &data, &size);
    assert (cert_decode (&got, data, size, ca.sign_public, 0) == PROTO_ERR_OVERSIZE);
    free (data);
    free (grants);
    keys_wipe (&ca);
    keys_wipe (&rogue);
    //  @end
    printf ("OK\n");
}
