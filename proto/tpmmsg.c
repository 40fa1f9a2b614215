/*  tpmmsg - the payloads of TPM onboarding and attestation (types 20..29)
    Their fields and limits are rows of proto/wire_table.c, checked on
    both sides, so a peer can neither make us send nor make us accept an
    oversized TPM structure; this file holds the rules between fields
    (tpmmsg_check) and the selftest with the golden vectors.  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "codec.h"
#include "keys.h"
#include "envelope.h"
#include "tpmmsg.h"
#include "wire.h"

//  --------------------------------------------------------------------------
//  The rules between fields, for proto/wire_table.c (each field's own
//  limits are in its row): one 32-byte digest per PCR the mask selects,
//  and an IMA list only with IMA.

int
tpmmsg_check (const void *arg)
{
    const tpmmsg_t *msg = (const tpmmsg_t *) arg;
    if (msg->type == MSG_ATTEST_EVIDENCE
    &&  (msg->pcrs_size != 32 * (size_t) __builtin_popcount (msg->pcr_mask)
         || (!msg->ima && msg->ima_list_size)))
        return PROTO_ERR_VALUE;
    return 0;
}

int
tpmmsg_encode (const tpmmsg_t *msg, uint8_t **payload_p, size_t *size_p)
{
    assert (msg);
    return wire_encode_family (WIRE_FAMILY_TPM, msg->type, msg, payload_p, size_p);
}

int
tpmmsg_decode (tpmmsg_t *msg, int type, const uint8_t *payload, size_t size)
{
    return wire_decode_family (WIRE_FAMILY_TPM, type, msg, sizeof (tpmmsg_t),
                               payload, size);
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
    assert (tpmmsg_encode (&msg, &payload, &size) == PROTO_ERR_OVERSIZE);
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
        assert (tpmmsg_encode (&ev, &payload, &size) == PROTO_ERR_OVERSIZE);
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
