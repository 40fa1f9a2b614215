/*  envelope - the signed outer frame of every Weft message
    Wire form (docs/protocol.md):
        frame = [hops: uint, body: bin, sig: bin(64)]
        body  = [version, id: bin(16), type, origin: str, tenant: str,
                 seq, hlc, expiry, hop_limit, payload: bin]
        sig   = Ed25519 (origin key, "weft-envelope-v1" || 0x00 || body)
    The signature covers the body's bytes exactly as received, so a
    receiver never re-encodes before verifying. The frame must have
    exactly three items (nothing unsigned may ride along); the body may
    have more than ten, and a decoder ignores the extra ones, so later
    versions can append signed fields.  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include <sodium.h>
#include "codec.h"
#include "keys.h"
#include "msg.h"
#include "cert.h"
#include "envelope.h"

//  --------------------------------------------------------------------------
//  Encode a frame around an already signed body.

int
envelope_frame (uint8_t hops, const uint8_t *body, size_t body_size,
                const uint8_t *sig, uint8_t **frame_p, size_t *size_p)
{
    codec_writer_t *w = codec_writer_new (body_size + WEFT_SIG_SIZE + 16);
    codec_put_array (w, 3);
    codec_put_uint (w, hops);
    codec_put_bin (w, body, body_size);
    codec_put_bin (w, sig, WEFT_SIG_SIZE);
    return codec_writer_finish (&w, frame_p, size_p);
}

//  --------------------------------------------------------------------------
//  Sign and encode an envelope.

int
envelope_encode (envelope_t *env, const uint8_t secret_key [WEFT_SECRET_SIZE],
                 uint8_t **frame_p, size_t *size_p)
{
    assert (env && secret_key && frame_p && size_p);
    *frame_p = NULL;
    *size_p = 0;
    env->body = NULL;
    env->body_size = 0;
    env->sig = NULL;
    if (env->type < 1 || env->type > ENVELOPE_TYPE_MAX)
        return PROTO_ERR_VALUE;
    if (env->origin [0] == 0 || env->hops > env->hop_limit)
        return PROTO_ERR_VALUE;
    if (env->payload_size > WEFT_FRAME_MAX)
        return PROTO_ERR_OVERSIZE;      //  Before sizing a buffer by it

    codec_writer_t *w = codec_writer_new (env->payload_size + 256);
    codec_put_array (w, ENVELOPE_ITEMS);
    codec_put_uint (w, WEFT_PROTO_VERSION);
    codec_put_bin (w, env->id, WEFT_ID_SIZE);
    codec_put_uint (w, (uint64_t) env->type);
    codec_put_str (w, env->origin, WEFT_NAME_MAX);
    codec_put_str (w, env->tenant, WEFT_NAME_MAX);
    codec_put_uint (w, env->seq);
    codec_put_uint (w, env->hlc);
    codec_put_uint (w, env->expiry);
    codec_put_uint (w, env->hop_limit);
    codec_put_bin (w, env->payload, env->payload_size);
    uint8_t *body;
    size_t body_size;
    int rc = codec_writer_finish (&w, &body, &body_size);
    if (rc)
        return rc;
    uint8_t sig [WEFT_SIG_SIZE];
    codec_sign (ENVELOPE_CONTEXT, body, body_size, secret_key, sig);
    rc = envelope_frame (env->hops, body, body_size, sig, frame_p, size_p);
    free (body);
    return rc;
}

//  --------------------------------------------------------------------------
//  Decode the signed body into env (fields only; pointers set by caller).

static int
s_decode_body (envelope_t *env, const uint8_t *body, size_t body_size)
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
        rc = PROTO_ERR_VERSION;     //  Before the shape: v2 may differ
    if (rc == 0 && codec_items (r) < ENVELOPE_ITEMS)
        rc = PROTO_ERR_TYPE;
    if (rc == 0)
        rc = codec_get_bin (r, 1, env->id, WEFT_ID_SIZE);
    if (rc == 0)
        rc = codec_get_uint (r, 2, ENVELOPE_TYPE_MAX, &value);
    if (rc == 0 && value == 0)
        rc = PROTO_ERR_VALUE;
    env->type = (int) value;
    if (rc == 0)
        rc = codec_get_str (r, 3, env->origin, WEFT_NAME_MAX);
    if (rc == 0 && env->origin [0] == 0)
        rc = PROTO_ERR_VALUE;
    if (rc == 0)
        rc = codec_get_str (r, 4, env->tenant, WEFT_NAME_MAX);
    if (rc == 0)
        rc = codec_get_uint (r, 5, UINT64_MAX, &env->seq);
    if (rc == 0)
        rc = codec_get_uint (r, 6, UINT64_MAX, &env->hlc);
    if (rc == 0)
        rc = codec_get_uint (r, 7, UINT64_MAX, &env->expiry);
    if (rc == 0)
        rc = codec_get_uint (r, 8, UINT8_MAX, &value);
    env->hop_limit = (uint8_t) value;
    if (rc == 0)
        rc = codec_get_binref (r, 9, &env->payload, &env->payload_size);
    codec_reader_destroy (&r);
    return rc;
}

//  --------------------------------------------------------------------------
//  Decode a frame within the limits of proto.h.

int
envelope_decode (envelope_t *env, const uint8_t *frame, size_t size)
{
    assert (env);
    memset (env, 0, sizeof (envelope_t));
    codec_reader_t *r;
    int rc = codec_reader_new (&r, frame, size);
    if (rc)
        return rc;
    envelope_t got;
    memset (&got, 0, sizeof got);
    uint64_t hops = 0;
    int items = codec_items (r);
    if (items == 2)
        rc = PROTO_ERR_UNSIGNED;
    else
    if (items != 3)
        rc = PROTO_ERR_TYPE;
    if (rc == 0)
        rc = codec_get_uint (r, 0, UINT8_MAX, &hops);
    if (rc == 0)
        rc = codec_get_binref (r, 1, &got.body, &got.body_size);
    if (rc == 0) {
        size_t sig_size = 0;
        if (codec_is_nil (r, 2))
            rc = PROTO_ERR_UNSIGNED;
        else
            rc = codec_get_binref (r, 2, &got.sig, &sig_size);
        if (rc == 0 && sig_size != WEFT_SIG_SIZE)
            rc = PROTO_ERR_UNSIGNED;
    }
    codec_reader_destroy (&r);
    if (rc == 0)
        rc = s_decode_body (&got, got.body, got.body_size);
    if (rc == 0 && hops > got.hop_limit)
        rc = PROTO_ERR_VALUE;
    if (rc == 0) {
        got.hops = (uint8_t) hops;
        *env = got;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Verify a decoded envelope's signature.

int
envelope_verify (const envelope_t *env, const uint8_t public_key [WEFT_KEY_SIZE])
{
    assert (env && public_key);
    if (!env->body || !env->sig)
        return PROTO_ERR_SIGNATURE;
    return codec_verify (ENVELOPE_CONTEXT, env->body, env->body_size, env->sig,
                         public_key);
}

//  --------------------------------------------------------------------------
//  Re-encode a decoded frame with a new hop count.

int
envelope_reframe (const envelope_t *env, uint8_t hops, uint8_t **frame_p,
                  size_t *size_p)
{
    assert (env && frame_p && size_p);
    *frame_p = NULL;
    *size_p = 0;
    if (!env->body || !env->sig || hops > env->hop_limit)
        return PROTO_ERR_VALUE;
    return envelope_frame (hops, env->body, env->body_size, env->sig, frame_p, size_p);
}

//  --------------------------------------------------------------------------
//  Envelope id as hex.

void
envelope_id_hex (const uint8_t id [WEFT_ID_SIZE], char hex [2 * WEFT_ID_SIZE + 1])
{
    keys_hex (id, WEFT_ID_SIZE, hex);
}

