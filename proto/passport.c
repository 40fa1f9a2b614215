/*  passport - a short-lived, signed attestation result (see passport.h)
    Bytes come from the network (in HELLO and in PASSPORT envelopes):
    the codec's pre-scan bounds them before msgpack sees a byte, and
    every field is checked against its limit before it is believed.  */

#include "proto/corelib.h"
#include "proto/codec.h"
#include "proto/passport.h"

#define S_BODY_ITEMS    9

const char *
passport_strerror (int result)
{
    switch (result) {
        case PASSPORT_OK:               return "fresh";
        case PASSPORT_MALFORMED:        return "passport malformed";
        case PASSPORT_BAD_ISSUER:       return "passport not issued by the coordinator or a "
                                               "site server of the device's tenant";
        case PASSPORT_BAD_SIGNATURE:    return "passport signature does not verify";
        case PASSPORT_NOT_THEIRS:       return "passport issued to another device or "
                                               "certificate";
        case PASSPORT_EXPIRED:          return "attestation overdue (passport expired)";
        default:                        return "unknown passport result";
    }
}

void
passport_profile_terms (json_t *profile, int *interval_s_p, int *grace_s_p, bool *required_p)
{
    json_int_t interval = json_integer_value (json_object_get (profile, "interval_s"));
    json_int_t grace = json_integer_value (json_object_get (profile, "grace_s"));
    if (interval_s_p)
        *interval_s_p = interval > 0 && interval <= PASSPORT_INTERVAL_MAX_S? (int) interval
                                                                           : PASSPORT_INTERVAL_DEFAULT_S;
    if (grace_s_p)
        *grace_s_p = grace > 0 && grace <= PASSPORT_GRACE_MAX_S? (int) grace
                                                               : PASSPORT_GRACE_DEFAULT_S;
    if (required_p)
        *required_p = json_is_object (profile)
                   && !json_is_false (json_object_get (profile, "require_attestation"));
}

//  --------------------------------------------------------------------------
//  Encode and sign.

int
passport_encode (const passport_t *passport, const uint8_t secret [WEFT_SECRET_SIZE],
                 uint8_t **out_p, size_t *size_p)
{
    assert (passport && secret && out_p && size_p);
    *out_p = NULL;
    *size_p = 0;
    if (passport->issuer_cert_size > PASSPORT_ISSUER_CERT_MAX
    ||  (passport->verdict != PASSPORT_PASSED && passport->verdict != PASSPORT_CLEARED)
    ||  passport->expires_ms <= passport->attested_ms
    ||  passport->expires_ms - passport->attested_ms > PASSPORT_TTL_MAX_MS)
        return PROTO_ERR_VALUE;
    codec_writer_t *w = codec_writer_new (256 + passport->issuer_cert_size);
    codec_put_array (w, S_BODY_ITEMS);
    codec_put_uint (w, WEFT_PROTO_VERSION);
    codec_put_str (w, passport->device, WEFT_NAME_MAX);
    codec_put_str (w, passport->tenant, WEFT_NAME_MAX);
    codec_put_uint (w, passport->cert_serial);
    codec_put_uint (w, (uint64_t) passport->verdict);
    codec_put_uint (w, passport->attested_ms);
    codec_put_uint (w, passport->expires_ms);
    codec_put_str (w, passport->issuer, WEFT_NAME_MAX);
    codec_put_bin (w, passport->issuer_cert, passport->issuer_cert_size);
    uint8_t *body;
    size_t body_size;
    int rc = codec_writer_finish (&w, &body, &body_size);
    if (rc)
        return rc;
    rc = codec_seal (PASSPORT_CONTEXT, body, body_size, secret, out_p, size_p);
    free (body);
    if (rc == 0 && *size_p > PASSPORT_MAX) {
        free (*out_p);
        *out_p = NULL;
        *size_p = 0;
        rc = PROTO_ERR_OVERSIZE;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Decode: the outer [body, sig], then the body's fields

static int
s_split (const uint8_t *data, size_t size, const uint8_t **body_p, size_t *body_size_p,
         const uint8_t **sig_p)
{
    if (!data || size == 0 || size > PASSPORT_MAX)
        return PROTO_ERR_OVERSIZE;
    codec_reader_t *r;
    int rc = codec_reader_new (&r, data, size);
    if (rc)
        return rc;
    size_t sig_size = 0;
    if (codec_items (r) != 2)
        rc = PROTO_ERR_TYPE;
    if (rc == 0)
        rc = codec_get_binref (r, 0, body_p, body_size_p);
    if (rc == 0)
        rc = codec_get_binref (r, 1, sig_p, &sig_size);
    if (rc == 0 && sig_size != WEFT_SIG_SIZE)
        rc = PROTO_ERR_UNSIGNED;
    codec_reader_destroy (&r);
    return rc;
}

static int
s_decode_body (passport_t *passport, const uint8_t *body, size_t body_size)
{
    codec_reader_t *r;
    int rc = codec_reader_new (&r, body, body_size);
    if (rc)
        return rc;
    uint64_t value = 0;
    if (codec_items (r) < S_BODY_ITEMS)
        rc = PROTO_ERR_TYPE;
    if (rc == 0)
        rc = codec_get_uint (r, 0, UINT64_MAX, &value);
    if (rc == 0 && value != WEFT_PROTO_VERSION)
        rc = PROTO_ERR_VERSION;
    if (rc == 0)
        rc = codec_get_str (r, 1, passport->device, WEFT_NAME_MAX);
    if (rc == 0)
        rc = codec_get_str (r, 2, passport->tenant, WEFT_NAME_MAX);
    if (rc == 0)
        rc = codec_get_uint (r, 3, UINT64_MAX, &passport->cert_serial);
    if (rc == 0)
        rc = codec_get_uint (r, 4, PASSPORT_CLEARED, &value);
    if (rc == 0 && value < PASSPORT_PASSED)
        rc = PROTO_ERR_VALUE;
    passport->verdict = (int) value;
    if (rc == 0)
        rc = codec_get_uint (r, 5, UINT64_MAX, &passport->attested_ms);
    if (rc == 0)
        rc = codec_get_uint (r, 6, UINT64_MAX, &passport->expires_ms);
    if (rc == 0 && (passport->expires_ms <= passport->attested_ms
                    || passport->expires_ms - passport->attested_ms > PASSPORT_TTL_MAX_MS))
        rc = PROTO_ERR_VALUE;
    if (rc == 0)
        rc = codec_get_str (r, 7, passport->issuer, WEFT_NAME_MAX);
    if (rc == 0 && (!passport->device [0] || !passport->issuer [0]))
        rc = PROTO_ERR_VALUE;
    if (rc == 0)
        rc = codec_get_binref (r, 8, &passport->issuer_cert, &passport->issuer_cert_size);
    if (rc == 0 && passport->issuer_cert_size > PASSPORT_ISSUER_CERT_MAX)
        rc = PROTO_ERR_OVERSIZE;
    if (rc == 0 && passport->issuer_cert_size == 0)
        passport->issuer_cert = NULL;
    codec_reader_destroy (&r);
    return rc;
}

int
passport_decode (passport_t *passport, const uint8_t *data, size_t size)
{
    assert (passport);
    memset (passport, 0, sizeof *passport);
    const uint8_t *body, *sig;
    size_t body_size;
    int rc = s_split (data, size, &body, &body_size, &sig);
    if (rc == 0)
        rc = s_decode_body (passport, body, body_size);
    if (rc)
        memset (passport, 0, sizeof *passport);
    return rc;
}

//  --------------------------------------------------------------------------
//  Check a passport presented by the holder of a certificate.

static int
s_result (int result, char *why, size_t why_size, const char *format, ...)
{
    if (why && why_size) {
        if (format) {
            va_list args;
            va_start (args, format);
            vsnprintf (why, why_size, format, args);
            va_end (args);
        }
        else
            snprintf (why, why_size, "%s", passport_strerror (result));
    }
    return result;
}

int
passport_check (const uint8_t *data, size_t size, const cert_t *holder,
                const uint8_t ca_key [WEFT_KEY_SIZE], const uint8_t coord_sign [WEFT_KEY_SIZE],
                uint64_t now_ms, passport_t *passport_out, char *why, size_t why_size)
{
    assert (holder && ca_key && coord_sign);
    passport_t passport;
    memset (&passport, 0, sizeof passport);
    const uint8_t *body, *sig;
    size_t body_size;
    if (s_split (data, size, &body, &body_size, &sig)
    ||  s_decode_body (&passport, body, body_size))
        return s_result (PASSPORT_MALFORMED, why, why_size, NULL);
    if (!streq (passport.device, holder->subject) || !streq (passport.tenant, holder->tenant)
    ||  passport.cert_serial != holder->serial)
        return s_result (PASSPORT_NOT_THEIRS, why, why_size, "passport issued to %s "
                         "(certificate %" PRIu64 "), not this certificate", passport.device,
                         passport.cert_serial);
    //  Who vouches: the coordinator, or a site server of the tenant
    const uint8_t *key = NULL;
    cert_t issuer;
    if (streq (passport.issuer, PASSPORT_COORDINATOR)) {
        if (passport.issuer_cert)
            return s_result (PASSPORT_BAD_ISSUER, why, why_size, NULL);
        key = coord_sign;
    }
    else {
        if (!passport.issuer_cert
        ||  cert_decode (&issuer, passport.issuer_cert, passport.issuer_cert_size, ca_key,
                         now_ms / 1000)
        ||  issuer.kind != CERT_KIND_NODE || !streq (issuer.role, "server")
        ||  !streq (issuer.subject, passport.issuer) || !streq (issuer.tenant, passport.tenant))
            return s_result (PASSPORT_BAD_ISSUER, why, why_size, "passport issued by %s, "
                             "which is not a site server of tenant %s", passport.issuer,
                             *passport.tenant? passport.tenant: "-");
        key = issuer.sign_key;
        memcpy (passport.issuer_curve, issuer.curve_key, WEFT_KEY_SIZE);
    }
    if (codec_verify (PASSPORT_CONTEXT, body, body_size, sig, key))
        return s_result (PASSPORT_BAD_SIGNATURE, why, why_size, NULL);
    if (passport_out) {
        *passport_out = passport;
        //  Borrowed from data, which the caller holds
        passport_out->issuer_cert = passport.issuer_cert;
    }
    if (now_ms >= passport.expires_ms)
        return s_result (PASSPORT_EXPIRED, why, why_size, "attestation overdue: passport "
                         "from %s expired %" PRIu64 " s ago", passport.issuer,
                         (now_ms - passport.expires_ms) / 1000);
    return s_result (PASSPORT_OK, why, why_size, NULL);
}

//  --------------------------------------------------------------------------
//  Selftest

#include "proto/keys.h"
#include "proto/envelope.h"

#define S_TIME_MS   1767225600000ULL        //  2026-01-01, the golden vectors' time

//  A node certificate signed by ca
static uint8_t *
s_cert (const keys_t *ca, const keys_t *keys, const char *subject, const char *tenant,
        const char *role, uint64_t serial, cert_t *cert, size_t *size_p)
{
    memset (cert, 0, sizeof *cert);
    cert->serial = serial;
    cert->kind = CERT_KIND_NODE;
    snprintf (cert->subject, sizeof cert->subject, "%s", subject);
    snprintf (cert->tenant, sizeof cert->tenant, "%s", tenant);
    snprintf (cert->role, sizeof cert->role, "%s", role);
    memcpy (cert->sign_key, keys->sign_public, WEFT_KEY_SIZE);
    memcpy (cert->curve_key, keys->curve_public, WEFT_KEY_SIZE);
    cert->not_before = S_TIME_MS / 1000;
    cert->not_after = S_TIME_MS / 1000 + 365 * 86400;
    uint8_t *data;
    assert (cert_encode (cert, ca->sign_secret, &data, size_p) == 0);
    return data;
}

void
passport_test (bool verbose)
{
    printf (" * passport: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    keys_t ca, coord, node, server, other_server;
    keys_from_byte (&ca, 0xca);
    keys_from_byte (&coord, 0xc0);
    keys_from_byte (&node, 0x01);
    keys_from_byte (&server, 0x05);
    keys_from_byte (&other_server, 0x06);
    cert_t holder, server_cert, foreign_cert, gateway_cert;
    size_t holder_size, server_size, foreign_size, gateway_size;
    uint8_t *holder_data = s_cert (&ca, &node, "node-1", "acme", "gateway", 2, &holder,
                                   &holder_size);
    uint8_t *server_data = s_cert (&ca, &server, "server-1", "acme", "server", 5,
                                   &server_cert, &server_size);
    uint8_t *foreign_data = s_cert (&ca, &other_server, "server-9", "globex", "server", 6,
                                    &foreign_cert, &foreign_size);
    uint8_t *gateway_data = s_cert (&ca, &other_server, "gw-9", "acme", "gateway", 7,
                                    &gateway_cert, &gateway_size);

    //  The coordinator's passport for node-1: round trip and golden bytes
    passport_t passport = {
        .device = "node-1", .tenant = "acme", .cert_serial = 2, .verdict = PASSPORT_PASSED,
        .attested_ms = S_TIME_MS, .expires_ms = S_TIME_MS + 660000,
        .issuer = PASSPORT_COORDINATOR
    };
    uint8_t *data;
    size_t size;
    assert (passport_encode (&passport, coord.sign_secret, &data, &size) == 0);
    passport_t back;
    assert (passport_decode (&back, data, size) == 0);
    assert (streq (back.device, "node-1") && back.cert_serial == 2);
    assert (back.attested_ms == S_TIME_MS && back.expires_ms == S_TIME_MS + 660000);
    assert (!back.issuer_cert && back.verdict == PASSPORT_PASSED);
    char why [256];
    assert (passport_check (data, size, &holder, ca.sign_public, coord.sign_public,
                            S_TIME_MS + 1000, &back, why, sizeof why) == PASSPORT_OK);
    assert (streq (why, "fresh"));
    //  As a PASSPORT envelope from the coordinator (golden vector)
    envelope_t got;
    uint8_t *file = envelope_golden (MSG_PASSPORT, data, size, "envelope-passport", &got);
    assert (passport_check (got.payload, got.payload_size, &holder, ca.sign_public,
                            coord.sign_public, S_TIME_MS, NULL, NULL, 0) == PASSPORT_OK);
    free (file);

    //  Overdue: at and after expires_ms
    assert (passport_check (data, size, &holder, ca.sign_public, coord.sign_public,
                            S_TIME_MS + 660000, &back, why, sizeof why) == PASSPORT_EXPIRED);
    assert (streq (why, "attestation overdue: passport from coordinator expired 0 s ago"));
    //  Not for another device, nor for this one's next certificate
    cert_t other = holder;
    strcpy (other.subject, "node-2");
    assert (passport_check (data, size, &other, ca.sign_public, coord.sign_public, S_TIME_MS,
                            NULL, why, sizeof why) == PASSPORT_NOT_THEIRS);
    other = holder;
    other.serial = 3;
    assert (passport_check (data, size, &other, ca.sign_public, coord.sign_public, S_TIME_MS,
                            NULL, NULL, 0) == PASSPORT_NOT_THEIRS);
    other = holder;
    strcpy (other.tenant, "globex");
    assert (passport_check (data, size, &other, ca.sign_public, coord.sign_public, S_TIME_MS,
                            NULL, NULL, 0) == PASSPORT_NOT_THEIRS);
    //  Signed by anyone but the coordinator: refused
    assert (passport_check (data, size, &holder, ca.sign_public, node.sign_public, S_TIME_MS,
                            NULL, NULL, 0) == PASSPORT_BAD_SIGNATURE);
    //  Every flipped byte and every truncation is refused, never believed
    for (size_t at = 0; at < size; at++) {
        data [at] ^= 0x40;
        assert (passport_check (data, size, &holder, ca.sign_public, coord.sign_public,
                                S_TIME_MS, NULL, NULL, 0) != PASSPORT_OK);
        data [at] ^= 0x40;
    }
    for (size_t cut = 0; cut < size; cut++)
        assert (passport_check (data, cut, &holder, ca.sign_public, coord.sign_public,
                                S_TIME_MS, NULL, NULL, 0) == PASSPORT_MALFORMED);
    free (data);

    //  A site server's passport: its certificate rides along
    passport.verdict = PASSPORT_PASSED;
    strcpy (passport.issuer, "server-1");
    passport.issuer_cert = server_data;
    passport.issuer_cert_size = server_size;
    assert (passport_encode (&passport, server.sign_secret, &data, &size) == 0);
    assert (passport_check (data, size, &holder, ca.sign_public, coord.sign_public, S_TIME_MS,
                            &back, why, sizeof why) == PASSPORT_OK);
    assert (memcmp (back.issuer_curve, server.curve_public, WEFT_KEY_SIZE) == 0);
    assert (back.issuer_cert_size == server_size);
    free (data);
    //  ... signed by another key than its certificate's
    assert (passport_encode (&passport, other_server.sign_secret, &data, &size) == 0);
    assert (passport_check (data, size, &holder, ca.sign_public, coord.sign_public, S_TIME_MS,
                            NULL, NULL, 0) == PASSPORT_BAD_SIGNATURE);
    free (data);
    //  ... by a server of another tenant, or by a gateway
    strcpy (passport.issuer, "server-9");
    passport.issuer_cert = foreign_data;
    passport.issuer_cert_size = foreign_size;
    assert (passport_encode (&passport, other_server.sign_secret, &data, &size) == 0);
    assert (passport_check (data, size, &holder, ca.sign_public, coord.sign_public, S_TIME_MS,
                            NULL, why, sizeof why) == PASSPORT_BAD_ISSUER);
    assert (streq (why, "passport issued by server-9, which is not a site server of "
                   "tenant acme"));
    free (data);
    strcpy (passport.issuer, "gw-9");
    passport.issuer_cert = gateway_data;
    passport.issuer_cert_size = gateway_size;
    assert (passport_encode (&passport, other_server.sign_secret, &data, &size) == 0);
    assert (passport_check (data, size, &holder, ca.sign_public, coord.sign_public, S_TIME_MS,
                            NULL, NULL, 0) == PASSPORT_BAD_ISSUER);
    free (data);
    //  ... a certificate the CA did not sign, or one claiming the coordinator
    assert (passport_check (data = NULL, 0, &holder, ca.sign_public, coord.sign_public,
                            S_TIME_MS, NULL, NULL, 0) == PASSPORT_MALFORMED);
    strcpy (passport.issuer, "server-1");
    passport.issuer_cert = server_data;
    passport.issuer_cert_size = server_size;
    assert (passport_encode (&passport, server.sign_secret, &data, &size) == 0);
    assert (passport_check (data, size, &holder, coord.sign_public, coord.sign_public,
                            S_TIME_MS, NULL, NULL, 0) == PASSPORT_BAD_ISSUER);
    free (data);
    strcpy (passport.issuer, PASSPORT_COORDINATOR);
    assert (passport_encode (&passport, coord.sign_secret, &data, &size) == 0);
    assert (passport_check (data, size, &holder, ca.sign_public, coord.sign_public, S_TIME_MS,
                            NULL, NULL, 0) == PASSPORT_BAD_ISSUER);
    free (data);

    //  Limits: a verdict other than passed or cleared, a validity that
    //  ends before it starts or lasts past the longest interval
    passport.issuer_cert = NULL;
    passport.issuer_cert_size = 0;
    passport.verdict = 3;
    assert (passport_encode (&passport, coord.sign_secret, &data, &size) == PROTO_ERR_VALUE);
    passport.verdict = PASSPORT_CLEARED;
    passport.expires_ms = passport.attested_ms;
    assert (passport_encode (&passport, coord.sign_secret, &data, &size) == PROTO_ERR_VALUE);
    passport.expires_ms = passport.attested_ms + PASSPORT_TTL_MAX_MS + 1;
    assert (passport_encode (&passport, coord.sign_secret, &data, &size) == PROTO_ERR_VALUE);
    if (verbose)
        printf ("   coordinator's and site server's passports: fresh, overdue, not theirs, "
                "forged, wrong issuer\n");
    free (holder_data);
    free (server_data);
    free (foreign_data);
    free (gateway_data);
    keys_wipe (&ca);
    keys_wipe (&coord);
    keys_wipe (&node);
    keys_wipe (&server);
    keys_wipe (&other_server);
    //  @end
    printf ("OK\n");
}
