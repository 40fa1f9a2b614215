/*  delegmsg - the payloads of delegated attestation (see delegmsg.h)  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "codec.h"
#include "keys.h"
#include "envelope.h"
#include "delegmsg.h"

#define S_INDEX_MAX     (1u << 16)      //  pcr + 1 and event + 1

static int
s_items (int type)
{
    return type == MSG_DELEGATED_VERDICT? 7: 0;
}

static bool
s_valid (const delegmsg_t *msg)
{
    if (msg->type == MSG_DELEGATED_VERDICT)
        return *msg->device && msg->pcr >= -1 && msg->pcr < (int) S_INDEX_MAX - 1
            && msg->event >= -1 && msg->event < (int) S_INDEX_MAX - 1
            && msg->evidence_size > 0 && msg->evidence_size <= DELEGMSG_EVIDENCE_MAX;
    return false;
}

int
delegmsg_encode (const delegmsg_t *msg, uint8_t **payload_p, size_t *size_p)
{
    assert (msg && payload_p && size_p);
    *payload_p = NULL;
    *size_p = 0;
    int items = s_items (msg->type);
    if (items == 0)
        return PROTO_ERR_UNKNOWN;
    if (!s_valid (msg))
        return PROTO_ERR_VALUE;
    codec_writer_t *w = codec_writer_new (0);
    codec_put_array (w, (size_t) items);
    codec_put_str (w, msg->device, WEFT_NAME_MAX);
    codec_put_uint (w, msg->ok? 1: 0);
    codec_put_str (w, msg->reason, DELEGMSG_REASON_MAX);
    codec_put_uint (w, (uint64_t) (msg->pcr + 1));
    codec_put_uint (w, (uint64_t) (msg->event + 1));
    codec_put_uint (w, msg->time_ms);
    codec_put_bin (w, msg->evidence, msg->evidence_size);
    return codec_writer_finish (&w, payload_p, size_p);
}

int
delegmsg_decode (delegmsg_t *msg, int type, const uint8_t *payload, size_t size)
{
    assert (msg);
    memset (msg, 0, sizeof (delegmsg_t));
    int items = s_items (type);
    if (items == 0)
        return PROTO_ERR_UNKNOWN;
    codec_reader_t *r;
    int rc = codec_reader_new (&r, payload, size);
    if (rc)
        return rc;
    if (codec_items (r) < items)
        rc = PROTO_ERR_TYPE;
    msg->type = type;
    uint64_t value = 0;
    if (rc == 0) {
        rc = codec_get_str (r, 0, msg->device, WEFT_NAME_MAX);
        if (rc == 0)
            rc = codec_get_uint (r, 1, 1, &value);
        msg->ok = value == 1;
        if (rc == 0)
            rc = codec_get_str (r, 2, msg->reason, DELEGMSG_REASON_MAX);
        if (rc == 0)
            rc = codec_get_uint (r, 3, S_INDEX_MAX - 1, &value);
        msg->pcr = (int) value - 1;
        if (rc == 0)
            rc = codec_get_uint (r, 4, S_INDEX_MAX - 1, &value);
        msg->event = (int) value - 1;
        if (rc == 0)
            rc = codec_get_uint (r, 5, UINT64_MAX, &msg->time_ms);
        if (rc == 0)
            rc = codec_get_binref (r, 6, &msg->evidence, &msg->evidence_size);
    }
    if (rc == 0 && !s_valid (msg))
        rc = PROTO_ERR_VALUE;
    codec_reader_destroy (&r);
    if (rc)
        memset (msg, 0, sizeof (delegmsg_t));
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest, with golden vectors

void
delegmsg_test (bool verbose)
{
    printf (" * delegmsg: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    static const uint8_t evidence [] = { 0x96, 0xc4, 0x01, 0x01 };
    {
        int type = MSG_DELEGATED_VERDICT;
        delegmsg_t msg, back;
        memset (&msg, 0, sizeof msg);
        msg.type = type;
        strcpy (msg.device, "gw-a");
        strcpy (msg.reason, "PCR 9: event #3 is not the profile's");
        msg.pcr = 9;
        msg.event = 3;
        msg.time_ms = 1767225600000ULL;
        msg.evidence = evidence;
        msg.evidence_size = sizeof evidence;
        uint8_t *payload;
        size_t size;
        assert (delegmsg_encode (&msg, &payload, &size) == 0);
        assert (delegmsg_decode (&back, type, payload, size) == 0);
        assert (strcmp (back.device, msg.device) == 0 && back.ok == msg.ok
                && strcmp (back.reason, msg.reason) == 0 && back.pcr == msg.pcr
                && back.event == msg.event && back.time_ms == msg.time_ms
                && back.evidence_size == msg.evidence_size);
        for (size_t cut = 0; cut < size; cut++)
            assert (delegmsg_decode (&back, type, payload, cut) != 0);
        //  The golden envelope, from a site server
        keys_t signer;
        uint8_t seed [32];
        memset (seed, 0x04, sizeof seed);
        keys_from_seed (&signer, seed);
        envelope_t env;
        memset (&env, 0, sizeof env);
        for (int i = 0; i < WEFT_ID_SIZE; i++)
            env.id [i] = (uint8_t) (type << 3 | i);
        env.type = type;
        strcpy (env.origin, "server-1");
        env.seq = (uint64_t) type;
        env.hlc = 1767225600000ULL << 16;
        env.hop_limit = env.hops = WEFT_HOP_LIMIT;
        env.payload = payload;
        env.payload_size = size;
        uint8_t *frame;
        size_t frame_size;
        assert (envelope_encode (&env, signer.sign_secret, &frame, &frame_size) == 0);
        uint8_t *file;
        size_t file_size;
        const char *name = "envelope-delegated-verdict";
        assert (codec_golden (name, frame, frame_size, &file, &file_size) == 0);
        envelope_t got;
        assert (envelope_decode (&got, file, file_size) == 0);
        assert (envelope_verify (&got, signer.sign_public) == 0);
        assert (delegmsg_decode (&back, type, got.payload, got.payload_size) == 0);
        free (file);
        free (frame);
        free (payload);
        keys_wipe (&signer);
    }
    //  Limits
    delegmsg_t msg;
    uint8_t *payload;
    size_t size;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_DELEGATED_VERDICT;
    strcpy (msg.device, "gw-a");
    msg.pcr = msg.event = -1;
    assert (delegmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);   //  No evidence
    msg.evidence = evidence;
    msg.evidence_size = DELEGMSG_EVIDENCE_MAX + 1;
    assert (delegmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    msg.evidence_size = sizeof evidence;
    msg.ok = true;
    assert (delegmsg_encode (&msg, &payload, &size) == 0);
    assert (delegmsg_decode (&msg, MSG_DELEGATED_VERDICT, payload, size) == 0);
    assert (msg.ok && msg.pcr == -1 && msg.event == -1);
    //  ok must be 0 or 1
    payload [6] = 2;
    assert (payload [1] == 0xa4 && payload [6] == 2);
    assert (delegmsg_decode (&msg, MSG_DELEGATED_VERDICT, payload, size) != 0);
    free (payload);
    assert (delegmsg_decode (&msg, MSG_HEARTBEAT, (const uint8_t *) "\x90", 1)
            == PROTO_ERR_UNKNOWN);
    //  @end
    printf ("OK\n");
}
