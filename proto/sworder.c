/*  sworder - the director's signed orders about installed software (see .h)
    Checked in the order an attacker's input meets them: the outer
    array, the signature over the body's bytes, then the body. Nothing
    of an unsigned body is decoded.  */

#include "proto/corelib.h"
#include "proto/codec.h"
#include "proto/keys.h"
#include "proto/sworder.h"

#define S_ITEMS     7
#define S_FORMAT    1

int
sworder_sign (const sworder_t *order, const uint8_t secret [WEFT_SECRET_SIZE],
              uint8_t **out_p, size_t *size_p)
{
    assert (order && secret && out_p && size_p);
    *out_p = NULL;
    *size_p = 0;
    if (order->kind != SWORDER_ENTITLE && order->kind != SWORDER_UNINSTALL)
        return PROTO_ERR_VALUE;
    codec_writer_t *w = codec_writer_new (256);
    codec_put_array (w, S_ITEMS);
    codec_put_uint (w, S_FORMAT);
    codec_put_uint (w, (uint64_t) order->kind);
    codec_put_str (w, order->tenant, WEFT_NAME_MAX);
    codec_put_str (w, order->scope, SWORDER_SCOPE_MAX);
    codec_put_str (w, order->name, WEFT_NAME_MAX);
    codec_put_uint (w, order->issued_ms);
    codec_put_uint (w, order->until_ms);
    uint8_t *body;
    size_t body_size;
    int rc = codec_writer_finish (&w, &body, &body_size);
    if (rc)
        return rc;
    rc = codec_seal (SWORDER_CONTEXT, body, body_size, secret, out_p, size_p);
    free (body);
    return rc;
}

//  Is the scope ours: our id, our type, or the whole tenant?
static bool
s_in_scope (const char *scope, const char *device, const char *type)
{
    if (streq (scope, "*"))
        return true;
    if (strncmp (scope, "type:", 5) == 0)
        return *type && streq (scope + 5, type);
    return streq (scope, device);
}

int
sworder_open (sworder_t *order, const uint8_t *data, size_t size,
              const uint8_t coord_key [WEFT_KEY_SIZE], const char *tenant,
              const char *device, const char *type)
{
    assert (order && coord_key && tenant && device && type);
    memset (order, 0, sizeof *order);
    codec_reader_t *r;
    if (!data || size == 0 || size > SWORDER_MAX || codec_reader_new (&r, data, size))
        return SWORDER_MALFORMED;
    const uint8_t *body = NULL;
    size_t body_size = 0;
    uint8_t sig [WEFT_SIG_SIZE];
    int rc = codec_items (r) == 2 && codec_get_binref (r, 0, &body, &body_size) == 0
          && codec_get_bin (r, 1, sig, sizeof sig) == 0? SWORDER_OK: SWORDER_MALFORMED;
    codec_reader_destroy (&r);
    if (rc)
        return rc;
    if (codec_verify (SWORDER_CONTEXT, body, body_size, sig, coord_key))
        return SWORDER_FORGED;
    if (codec_reader_new (&r, body, body_size))
        return SWORDER_MALFORMED;
    uint64_t format = 0, kind = 0;
    if (codec_items (r) != S_ITEMS
    ||  codec_get_uint (r, 0, UINT64_MAX, &format) || format != S_FORMAT
    ||  codec_get_uint (r, 1, SWORDER_UNINSTALL, &kind) || kind < SWORDER_ENTITLE
    ||  codec_get_str (r, 2, order->tenant, WEFT_NAME_MAX)
    ||  codec_get_str (r, 3, order->scope, SWORDER_SCOPE_MAX)
    ||  codec_get_str (r, 4, order->name, WEFT_NAME_MAX)
    ||  codec_get_uint (r, 5, UINT64_MAX, &order->issued_ms)
    ||  codec_get_uint (r, 6, UINT64_MAX, &order->until_ms)
    ||  !*order->name || !*order->scope)
        rc = SWORDER_MALFORMED;
    codec_reader_destroy (&r);
    order->kind = (int) kind;
    if (rc == SWORDER_OK && !streq (order->tenant, tenant))
        rc = SWORDER_TENANT;
    else
    if (rc == SWORDER_OK && !s_in_scope (order->scope, device, type))
        rc = SWORDER_DEVICE;
    //  An uninstall names one device: a broad one is no order of ours
    else
    if (rc == SWORDER_OK && kind == SWORDER_UNINSTALL && !streq (order->scope, device))
        rc = SWORDER_DEVICE;
    if (rc)
        memset (order, 0, sizeof *order);
    return rc;
}

const char *
sworder_strerror (int rc)
{
    switch (rc) {
        case SWORDER_OK:        return "ok";
        case SWORDER_MALFORMED: return "malformed order";
        case SWORDER_FORGED:    return "not signed by the coordinator";
        case SWORDER_TENANT:    return "for another tenant";
        case SWORDER_DEVICE:    return "for other devices";
        default:                return "unknown";
    }
}

//  --------------------------------------------------------------------------
//  Selftest

void
sworder_test (bool verbose)
{
    (void) verbose;
    printf (" * sworder: ");
    //  @selftest
    keys_t coord, other;
    keys_from_byte (&coord, 0xc0);
    keys_from_byte (&other, 0xc1);
    sworder_t order = { .kind = SWORDER_ENTITLE, .tenant = "acme", .scope = "plc-1",
                        .name = "plc-app", .issued_ms = 1767225600000ULL,
                        .until_ms = 1767225600000ULL + 86400000ULL };
    uint8_t *data;
    size_t size;
    assert (sworder_sign (&order, coord.sign_secret, &data, &size) == 0);
    assert (size <= SWORDER_MAX);
    assert (codec_golden ("sworder-entitle", data, size, NULL, NULL) == 0);
    sworder_t back;
    assert (sworder_open (&back, data, size, coord.sign_public, "acme", "plc-1", "plc")
            == SWORDER_OK);
    assert (back.kind == SWORDER_ENTITLE && streq (back.name, "plc-app"));
    assert (back.until_ms == order.until_ms && back.issued_ms == order.issued_ms);
    //  Another key, tenant, device
    assert (sworder_open (&back, data, size, other.sign_public, "acme", "plc-1", "plc")
            == SWORDER_FORGED);
    assert (*back.name == 0);
    assert (sworder_open (&back, data, size, coord.sign_public, "globex", "plc-1", "plc")
            == SWORDER_TENANT);
    assert (sworder_open (&back, data, size, coord.sign_public, "acme", "plc-2", "plc")
            == SWORDER_DEVICE);
    //  Every flipped byte and every cut is refused
    for (size_t i = 0; i < size; i++) {
        data [i] ^= 0x01;
        assert (sworder_open (&back, data, size, coord.sign_public, "acme", "plc-1", "plc")
                != SWORDER_OK);
        data [i] ^= 0x01;
    }
    for (size_t cut = 0; cut < size; cut++)
        assert (sworder_open (&back, data, cut, coord.sign_public, "acme", "plc-1", "plc")
                != SWORDER_OK);
    free (data);
    //  Scopes: a type, the tenant
    strcpy (order.scope, "type:plc");
    assert (sworder_sign (&order, coord.sign_secret, &data, &size) == 0);
    assert (sworder_open (&back, data, size, coord.sign_public, "acme", "plc-9", "plc") == 0);
    assert (sworder_open (&back, data, size, coord.sign_public, "acme", "gw-1", "gateway")
            == SWORDER_DEVICE);
    free (data);
    strcpy (order.scope, "*");
    assert (sworder_sign (&order, coord.sign_secret, &data, &size) == 0);
    assert (sworder_open (&back, data, size, coord.sign_public, "acme", "gw-1", "gateway") == 0);
    free (data);
    //  An uninstall is one device's
    order.kind = SWORDER_UNINSTALL;
    order.until_ms = 0;
    assert (sworder_sign (&order, coord.sign_secret, &data, &size) == 0);
    assert (sworder_open (&back, data, size, coord.sign_public, "acme", "gw-1", "gateway")
            == SWORDER_DEVICE);
    free (data);
    strcpy (order.scope, "gw-1");
    assert (sworder_sign (&order, coord.sign_secret, &data, &size) == 0);
    assert (sworder_open (&back, data, size, coord.sign_public, "acme", "gw-1", "gateway") == 0);
    assert (back.kind == SWORDER_UNINSTALL);
    free (data);
    order.kind = 3;
    assert (sworder_sign (&order, coord.sign_secret, &data, &size) == PROTO_ERR_VALUE);
    assert (streq (sworder_strerror (SWORDER_FORGED), "not signed by the coordinator"));
    //  @end
    printf ("OK\n");
}
