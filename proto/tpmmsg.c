/*  tpmmsg - the payloads of TPM onboarding and attestation (types 20..29)
    One encoder and one decoder for the five messages; every binary
    field is checked against its limit on both sides, so a peer can
    neither make us send nor make us accept an oversized TPM structure.  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "codec.h"
#include "keys.h"
#include "envelope.h"
#include "tpmmsg.h"

//  Items each type needs; longer arrays are accepted.
static int
s_items (int type)
{
    switch (type) {
        case MSG_TPM_ENROL_REQUEST: return 9;
        case MSG_TPM_CHALLENGE:     return 4;
        case MSG_TPM_PROOF:         return 9;
        case MSG_ATTEST_CHALLENGE:  return 2;     //  4 with IMA
        case MSG_ATTEST_EVIDENCE:   return 6;     //  8 with IMA
        default:                    return 0;
    }
}

//  Are the field sizes of msg within the limits of its type?
static bool
s_valid (const tpmmsg_t *msg)
{
    switch (msg->type) {
        case MSG_TPM_ENROL_REQUEST:
        case MSG_TPM_PROOF:
            if (msg->ek_public_size == 0 || msg->ek_public_size > TPMMSG_PUBLIC_MAX
            ||  msg->ak_public_size == 0 || msg->ak_public_size > TPMMSG_PUBLIC_MAX
            ||  msg->ek_cert_size > TPMMSG_EK_CERT_MAX)
                return false;
            if (msg->type == MSG_TPM_PROOF)
                return msg->ticket_size == TPMMSG_TICKET_SIZE
                    && msg->proof_size == TPMMSG_PROOF_SIZE;
            return msg->ticket_size == 0 && msg->proof_size == 0;
        case MSG_TPM_CHALLENGE:
            return msg->credential_size > 0 && msg->credential_size <= TPMMSG_BLOB_MAX
                && msg->secret_size > 0 && msg->secret_size <= TPMMSG_BLOB_MAX
                && msg->ticket_size == TPMMSG_TICKET_SIZE;
        case MSG_ATTEST_CHALLENGE:
        case MSG_ATTEST_EVIDENCE:
            if (msg->nonce_size < TPMMSG_NONCE_MIN || msg->nonce_size > TPMMSG_NONCE_MAX
            ||  msg->pcr_mask == 0 || msg->pcr_mask > TPMMSG_PCR_MASK_MAX)
                return false;
            if (msg->ima && msg->ima_from > TPMMSG_IMA_FROM_MAX)
                return false;
            if (msg->type == MSG_ATTEST_CHALLENGE)
                return true;
            return msg->attest_size > 0 && msg->attest_size <= TPMMSG_BLOB_MAX
                && msg->signature_size > 0 && msg->signature_size <= TPMMSG_BLOB_MAX
                && msg->pcrs_size == 32 * (size_t) __builtin_popcount (msg->pcr_mask)
                && msg->event_log_size <= TPMMSG_EVENT_LOG_MAX
                && msg->ima_list_size <= TPMMSG_IMA_LIST_MAX
                && (msg->ima || msg->ima_list_size == 0)
                && msg->ak_public_size <= TPMMSG_PUBLIC_MAX;
        default:
            return false;
    }
}

//  --------------------------------------------------------------------------
//  Encode.

int
tpmmsg_encode (const tpmmsg_t *msg, uint8_t **payload_p, size_t *size_p)
{
    assert (msg && payload_p && size_p);
    *payload_p = NULL;
    *size_p = 0;
    int items = s_items (msg->type);
    if (items == 0)
        return PROTO_ERR_UNKNOWN;
    if (!s_valid (msg))
        return PROTO_ERR_VALUE;
    if (msg->ima || msg->ima_list_size)
        items += msg->type == MSG_ATTEST_CHALLENGE? 2:
                 msg->type == MSG_ATTEST_EVIDENCE? 2: 0;
    //  The AK public trails the IMA fields (nil and empty without IMA)
    if (msg->type == MSG_ATTEST_EVIDENCE && msg->ak_public_size)
        items = 9;
    codec_writer_t *w = codec_writer_new (0);
    codec_put_array (w, (size_t) items);
    switch (msg->type) {
        case MSG_TPM_ENROL_REQUEST:
        case MSG_TPM_PROOF:
            codec_put_str (w, msg->token, WEFT_TOKEN_MAX);
            codec_put_bin (w, msg->sign_key, WEFT_KEY_SIZE);
            codec_put_bin (w, msg->curve_key, WEFT_KEY_SIZE);
            codec_put_str (w, msg->device_type, WEFT_NAME_MAX);
            codec_put_bin (w, msg->ek_public, msg->ek_public_size);
            codec_put_bin (w, msg->ek_cert, msg->ek_cert_size);
            codec_put_bin (w, msg->ak_public, msg->ak_public_size);
            codec_put_bin (w, msg->ticket, msg->ticket_size);
            codec_put_bin (w, msg->proof, msg->proof_size);
            break;
        case MSG_TPM_CHALLENGE:
            codec_put_str (w, msg->device, WEFT_NAME_MAX);
            codec_put_bin (w, msg->credential, msg->credential_size);
            codec_put_bin (w, msg->secret, msg->secret_size);
            codec_put_bin (w, msg->ticket, msg->ticket_size);
            break;
        case MSG_ATTEST_CHALLENGE:
            codec_put_bin (w, msg->nonce, msg->nonce_size);
            codec_put_uint (w, msg->pcr_mask);
            if (items > 2) {
                codec_put_uint (w, msg->ima_from);
                codec_put_bin (w, msg->ima_pcr10, sizeof msg->ima_pcr10);
            }
            break;
        case MSG_ATTEST_EVIDENCE:
            codec_put_bin (w, msg->nonce, msg->nonce_size);
            codec_put_uint (w, msg->pcr_mask);
            codec_put_bin (w, msg->attest, msg->attest_size);
            codec_put_bin (w, msg->signature, msg->signature_size);
            codec_put_bin (w, msg->pcrs, msg->pcrs_size);
            codec_put_bin (w, msg->event_log, msg->event_log_size);
            if (items > 6) {
                if (msg->ima)
                    codec_put_uint (w, msg->ima_from);
                else
                    codec_put_nil (w);
                codec_put_bin (w, msg->ima_list, msg->ima_list_size);
            }
            if (items > 8)
                codec_put_bin (w, msg->ak_public, msg->ak_public_size);
            break;
    }
    return codec_writer_finish (&w, payload_p, size_p);
}

//  --------------------------------------------------------------------------
//  Decode.

static int
s_decode_fields (tpmmsg_t *msg, codec_reader_t *r)
{
    uint64_t value = 0;
    int rc = 0;
    switch (msg->type) {
        case MSG_TPM_ENROL_REQUEST:
        case MSG_TPM_PROOF:
            rc = codec_get_str (r, 0, msg->token, WEFT_TOKEN_MAX);
            if (rc == 0)
                rc = codec_get_bin (r, 1, msg->sign_key, WEFT_KEY_SIZE);
            if (rc == 0)
                rc = codec_get_bin (r, 2, msg->curve_key, WEFT_KEY_SIZE);
            if (rc == 0)
                rc = codec_get_str (r, 3, msg->device_type, WEFT_NAME_MAX);
            if (rc == 0)
                rc = codec_get_binref (r, 4, &msg->ek_public, &msg->ek_public_size);
            if (rc == 0)
                rc = codec_get_binref (r, 5, &msg->ek_cert, &msg->ek_cert_size);
            if (rc == 0)
                rc = codec_get_binref (r, 6, &msg->ak_public, &msg->ak_public_size);
            if (rc == 0)
                rc = codec_get_binref (r, 7, &msg->ticket, &msg->ticket_size);
            if (rc == 0)
                rc = codec_get_binref (r, 8, &msg->proof, &msg->proof_size);
            break;
        case MSG_TPM_CHALLENGE:
            rc = codec_get_str (r, 0, msg->device, WEFT_NAME_MAX);
            if (rc == 0)
                rc = codec_get_binref (r, 1, &msg->credential, &msg->credential_size);
            if (rc == 0)
                rc = codec_get_binref (r, 2, &msg->secret, &msg->secret_size);
            if (rc == 0)
                rc = codec_get_binref (r, 3, &msg->ticket, &msg->ticket_size);
            break;
        case MSG_ATTEST_CHALLENGE:
        case MSG_ATTEST_EVIDENCE:
            rc = codec_get_binref (r, 0, &msg->nonce, &msg->nonce_size);
            if (rc == 0)
                rc = codec_get_uint (r, 1, TPMMSG_PCR_MASK_MAX, &value);
            msg->pcr_mask = (uint32_t) value;
            if (rc == 0 && msg->type == MSG_ATTEST_EVIDENCE) {
                rc = codec_get_binref (r, 2, &msg->attest, &msg->attest_size);
                if (rc == 0)
                    rc = codec_get_binref (r, 3, &msg->signature, &msg->signature_size);
                if (rc == 0)
                    rc = codec_get_binref (r, 4, &msg->pcrs, &msg->pcrs_size);
                if (rc == 0)
                    rc = codec_get_binref (r, 5, &msg->event_log, &msg->event_log_size);
            }
            //  Trailing IMA fields: nil or absent means no IMA
            size_t at = msg->type == MSG_ATTEST_CHALLENGE? 2: 6;
            if (rc == 0 && codec_items (r) > (int) at && !codec_is_nil (r, at)) {
                rc = codec_get_uint (r, at, TPMMSG_IMA_FROM_MAX, &msg->ima_from);
                msg->ima = rc == 0;
                if (rc == 0 && msg->type == MSG_ATTEST_CHALLENGE)
                    rc = codec_get_bin (r, at + 1, msg->ima_pcr10, sizeof msg->ima_pcr10);
            }
            if (rc == 0 && msg->type == MSG_ATTEST_EVIDENCE && codec_items (r) > (int) at + 1) {
                const uint8_t *list = NULL;
                rc = codec_get_binref (r, at + 1, &list, &msg->ima_list_size);
                msg->ima_list = (const char *) list;
            }
            if (rc == 0 && msg->type == MSG_ATTEST_EVIDENCE && codec_items (r) > 8)
                rc = codec_get_binref (r, 8, &msg->ak_public, &msg->ak_public_size);
            break;
    }
    if (rc == 0 && !s_valid (msg))
        rc = PROTO_ERR_VALUE;
    return rc;
}

int
tpmmsg_decode (tpmmsg_t *msg, int type, const uint8_t *payload, size_t size)
{
    assert (msg);
    memset (msg, 0, sizeof (tpmmsg_t));
    int items = s_items (type);
    if (items == 0)
        return PROTO_ERR_UNKNOWN;
    codec_reader_t *reader;
    int rc = codec_reader_new (&reader, payload, size);
    if (rc)
        return rc;
    if (codec_items (reader) < items)
        rc = PROTO_ERR_TYPE;
    if (rc == 0) {
        msg->type = type;
        rc = s_decode_fields (msg, reader);
    }
    codec_reader_destroy (&reader);
    if (rc)
        memset (msg, 0, sizeof (tpmmsg_t));
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest, with golden vectors (tests/golden/envelope-tpm-*.hex,
//  envelope-attest-*.hex). TPM structures are stand-in bytes: the codec
//  carries them opaquely.

#define GOLDEN_TIME_MS      (1767225600ULL * 1000)

static void
s_sample (tpmmsg_t *msg, int type, uint8_t *bytes, size_t bytes_size)
{
    for (size_t i = 0; i < bytes_size; i++)
        bytes [i] = (uint8_t) i;
    memset (msg, 0, sizeof (tpmmsg_t));
    msg->type = type;
    keys_t node;
    uint8_t seed [32];
    memset (seed, 0x01, sizeof seed);
    keys_from_seed (&node, seed);
    switch (type) {
        case MSG_TPM_PROOF:
            msg->ticket = bytes + 100;
            msg->ticket_size = TPMMSG_TICKET_SIZE;
            msg->proof = bytes + 200;
            msg->proof_size = TPMMSG_PROOF_SIZE;
            //  Fall through
        case MSG_TPM_ENROL_REQUEST:
            memcpy (msg->sign_key, node.sign_public, WEFT_KEY_SIZE);
            memcpy (msg->curve_key, node.curve_public, WEFT_KEY_SIZE);
            strcpy (msg->device_type, "gateway");
            msg->ek_public = bytes;
            msg->ek_public_size = 58;
            msg->ek_cert = bytes + 10;
            msg->ek_cert_size = 20;
            msg->ak_public = bytes + 20;
            msg->ak_public_size = 40;
            break;
        case MSG_TPM_CHALLENGE:
            strcpy (msg->device, "node-1");
            msg->credential = bytes;
            msg->credential_size = 68;
            msg->secret = bytes + 68;
            msg->secret_size = 70;
            msg->ticket = bytes + 100;
            msg->ticket_size = TPMMSG_TICKET_SIZE;
            break;
        case MSG_ATTEST_EVIDENCE:
            msg->attest = bytes;
            msg->attest_size = 100;
            msg->signature = bytes + 100;
            msg->signature_size = 72;
            msg->pcrs = bytes + 32;
            msg->pcrs_size = 64;
            msg->event_log = bytes + 7;
            msg->event_log_size = 50;
            //  Fall through
        case MSG_ATTEST_CHALLENGE:
            msg->nonce = bytes + 5;
            msg->nonce_size = 32;
            msg->pcr_mask = 0x81;      //  PCRs 0 and 7
            break;
    }
    keys_wipe (&node);
}

static bool
s_bin_equal (const uint8_t *a, size_t a_size, const uint8_t *b, size_t b_size)
{
    return a_size == b_size && (a_size == 0 || memcmp (a, b, a_size) == 0);
}

static bool
s_equal (const tpmmsg_t *a, const tpmmsg_t *b)
{
    return a->type == b->type && strcmp (a->token, b->token) == 0
        && memcmp (a->sign_key, b->sign_key, WEFT_KEY_SIZE) == 0
        && memcmp (a->curve_key, b->curve_key, WEFT_KEY_SIZE) == 0
        && strcmp (a->device_type, b->device_type) == 0 && strcmp (a->device, b->device) == 0
        && s_bin_equal (a->ek_public, a->ek_public_size, b->ek_public, b->ek_public_size)
        && s_bin_equal (a->ek_cert, a->ek_cert_size, b->ek_cert, b->ek_cert_size)
        && s_bin_equal (a->ak_public, a->ak_public_size, b->ak_public, b->ak_public_size)
        && s_bin_equal (a->ticket, a->ticket_size, b->ticket, b->ticket_size)
        && s_bin_equal (a->proof, a->proof_size, b->proof, b->proof_size)
        && s_bin_equal (a->credential, a->credential_size, b->credential, b->credential_size)
        && s_bin_equal (a->secret, a->secret_size, b->secret, b->secret_size)
        && s_bin_equal (a->nonce, a->nonce_size, b->nonce, b->nonce_size)
        && a->pcr_mask == b->pcr_mask
        && s_bin_equal (a->attest, a->attest_size, b->attest, b->attest_size)
        && s_bin_equal (a->signature, a->signature_size, b->signature, b->signature_size)
        && s_bin_equal (a->pcrs, a->pcrs_size, b->pcrs, b->pcrs_size)
        && s_bin_equal (a->event_log, a->event_log_size, b->event_log, b->event_log_size)
        && a->ima == b->ima && a->ima_from == b->ima_from
        && memcmp (a->ima_pcr10, b->ima_pcr10, sizeof a->ima_pcr10) == 0
        && s_bin_equal ((const uint8_t *) a->ima_list, a->ima_list_size,
                        (const uint8_t *) b->ima_list, b->ima_list_size);
}

void
tpmmsg_test (bool verbose)
{
    printf (" * tpmmsg: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    uint8_t bytes [256];
    for (int type = MSG_TPM_ENROL_REQUEST; type <= MSG_ATTEST_EVIDENCE + 2; type++) {
        //  The last two rounds: challenge and evidence with the IMA fields
        bool ima = type > MSG_ATTEST_EVIDENCE;
        int wire = ima? type - 2: type;
        tpmmsg_t msg, back;
        s_sample (&msg, wire, bytes, sizeof bytes);
        if (ima) {
            msg.ima = true;
            msg.ima_from = 70000;       //  Past 16 bits: a uint32 on the wire
            if (wire == MSG_ATTEST_CHALLENGE)
                memset (msg.ima_pcr10, 0x10, sizeof msg.ima_pcr10);
            if (wire == MSG_ATTEST_EVIDENCE) {
                msg.ima_list = "10 " "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                               " ima-ng sha256:"
                               "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
                               " /usr/bin/weft-node\n";
                msg.ima_list_size = strlen (msg.ima_list);
            }
        }
        uint8_t *payload;
        size_t payload_size;
        assert (tpmmsg_encode (&msg, &payload, &payload_size) == 0);
        assert (tpmmsg_decode (&back, wire, payload, payload_size) == 0);
        assert (s_equal (&msg, &back));
        for (size_t cut = 0; cut < payload_size; cut++)
            assert (tpmmsg_decode (&back, wire, payload, cut) != 0);
        //  As a golden envelope from node-1, or from the coordinator
        bool from_coord = wire == MSG_TPM_CHALLENGE || wire == MSG_ATTEST_CHALLENGE;
        keys_t signer;
        uint8_t seed [32];
        memset (seed, from_coord? 0xc0: 0x01, sizeof seed);
        keys_from_seed (&signer, seed);
        envelope_t env;
        memset (&env, 0, sizeof env);
        for (int i = 0; i < WEFT_ID_SIZE; i++)
            env.id [i] = (uint8_t) (type << 4 | i);
        env.type = wire;
        strcpy (env.origin, from_coord? "coordinator": "node-1");
        strcpy (env.tenant, from_coord? "": "acme");
        env.seq = (uint64_t) type;
        env.hlc = GOLDEN_TIME_MS << 16 | (uint64_t) type;
        env.hop_limit = env.hops = WEFT_HOP_LIMIT;
        env.payload = payload;
        env.payload_size = payload_size;
        uint8_t *frame;
        size_t frame_size;
        assert (envelope_encode (&env, signer.sign_secret, &frame, &frame_size) == 0);
        char name [64];
        snprintf (name, sizeof name, "envelope-%s%s", proto_msg_name (wire), ima? "-ima": "");
        for (char *c = name; *c; c++)
            *c = *c == '_'? '-': (char) (*c >= 'A' && *c <= 'Z'? *c + 32: *c);
        uint8_t *file;
        size_t file_size;
        assert (codec_golden (name, frame, frame_size, &file, &file_size) == 0);
        envelope_t got;
        assert (envelope_decode (&got, file, file_size) == 0);
        assert (envelope_verify (&got, signer.sign_public) == 0);
        assert (tpmmsg_decode (&back, wire, got.payload, got.payload_size) == 0);
        assert (s_equal (&msg, &back));
        if (verbose)
            printf ("   %s: %zu bytes\n", name, frame_size);
        free (file);
        free (frame);
        free (payload);
        keys_wipe (&signer);
    }
    //  Limits
    tpmmsg_t msg;
    uint8_t *payload;
    size_t size;
    s_sample (&msg, MSG_TPM_ENROL_REQUEST, bytes, sizeof bytes);
    msg.ticket = bytes;
    msg.ticket_size = TPMMSG_TICKET_SIZE;   //  A request carries no ticket
    assert (tpmmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    s_sample (&msg, MSG_TPM_PROOF, bytes, sizeof bytes);
    msg.proof_size = 31;
    assert (tpmmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    s_sample (&msg, MSG_ATTEST_EVIDENCE, bytes, sizeof bytes);
    msg.pcrs_size = 32;                     //  Two PCRs selected, one value
    assert (tpmmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    s_sample (&msg, MSG_ATTEST_CHALLENGE, bytes, sizeof bytes);
    msg.nonce_size = 4;
    assert (tpmmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    //  IMA limits: an entry number past 32 bits, a list without ima_from,
    //  a list over TPMMSG_IMA_LIST_MAX
    s_sample (&msg, MSG_ATTEST_CHALLENGE, bytes, sizeof bytes);
    msg.ima = true;
    msg.ima_from = TPMMSG_IMA_FROM_MAX + 1;
    assert (tpmmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    s_sample (&msg, MSG_ATTEST_EVIDENCE, bytes, sizeof bytes);
    msg.ima_list = "x";
    msg.ima_list_size = 1;
    assert (tpmmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    char *big = (char *) calloc (1, TPMMSG_IMA_LIST_MAX + 1);
    msg.ima = true;
    msg.ima_list = big;
    msg.ima_list_size = TPMMSG_IMA_LIST_MAX;
    assert (tpmmsg_encode (&msg, &payload, &size) == 0);
    tpmmsg_t back;
    assert (tpmmsg_decode (&back, MSG_ATTEST_EVIDENCE, payload, size) == 0
            && back.ima_list_size == TPMMSG_IMA_LIST_MAX);
    free (payload);
    msg.ima_list_size = TPMMSG_IMA_LIST_MAX + 1;
    assert (tpmmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    free (big);
    //  A challenge with ima_from needs ima_pcr10, of 32 bytes
    const uint8_t no_pcr10 [] = { 0x93, 0xc4, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0x01, 0x05 };
    assert (tpmmsg_decode (&back, MSG_ATTEST_CHALLENGE, no_pcr10, sizeof no_pcr10) != 0);
    const uint8_t short_pcr10 [] = { 0x94, 0xc4, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0x01, 0x05,
                                     0xc4, 1, 0 };
    assert (tpmmsg_decode (&back, MSG_ATTEST_CHALLENGE, short_pcr10, sizeof short_pcr10) != 0);
    //  A nil ima_from is "no IMA": [nonce, mask, nil]
    const uint8_t nil_from [] = { 0x93, 0xc4, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0x01, 0xc0 };
    assert (tpmmsg_decode (&back, MSG_ATTEST_CHALLENGE, nil_from, sizeof nil_from) == 0
            && !back.ima && back.pcr_mask == 1);
    assert (tpmmsg_decode (&msg, MSG_HEARTBEAT, (const uint8_t *) "\x90", 1)
            == PROTO_ERR_UNKNOWN);
    assert (tpmmsg_decode (&msg, MSG_ATTEST_CHALLENGE, (const uint8_t *) "\x90", 1)
            == PROTO_ERR_TYPE);
    //  Evidence for a site server carries the AK public after the IMA
    //  fields (nil and empty without IMA); older evidence decodes without it
    {
        tpmmsg_t ev, back;
        uint8_t bytes [64];
        memset (bytes, 7, sizeof bytes);
        memset (&ev, 0, sizeof ev);
        ev.type = MSG_ATTEST_EVIDENCE;
        ev.nonce = bytes;
        ev.nonce_size = 32;
        ev.pcr_mask = 0x300;
        ev.attest = ev.signature = bytes;
        ev.attest_size = ev.signature_size = 10;
        uint8_t pcrs [64] = { 0 };
        ev.pcrs = pcrs;
        ev.pcrs_size = 64;
        ev.ak_public = bytes;
        ev.ak_public_size = 40;
        uint8_t *payload;
        size_t size;
        assert (tpmmsg_encode (&ev, &payload, &size) == 0);
        assert (payload [0] == 0x99);       //  9 items
        assert (tpmmsg_decode (&back, MSG_ATTEST_EVIDENCE, payload, size) == 0);
        assert (!back.ima && back.ima_list_size == 0 && back.ak_public_size == 40);
        assert (memcmp (back.ak_public, bytes, 40) == 0);
        free (payload);
        ev.ak_public_size = TPMMSG_PUBLIC_MAX + 1;
        uint8_t big [TPMMSG_PUBLIC_MAX + 1] = { 0 };
        ev.ak_public = big;
        assert (tpmmsg_encode (&ev, &payload, &size) == PROTO_ERR_VALUE);
        ev.ak_public_size = 0;
        assert (tpmmsg_encode (&ev, &payload, &size) == 0);
        assert (payload [0] == 0x96);       //  as before
        assert (tpmmsg_decode (&back, MSG_ATTEST_EVIDENCE, payload, size) == 0);
        assert (back.ak_public_size == 0);
        free (payload);
    }
    //  @end
    printf ("OK\n");
}
