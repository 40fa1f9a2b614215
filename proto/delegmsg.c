/*  delegmsg - the payloads of delegated attestation (see delegmsg.h)
    The fields and limits are a row of proto/wire_table.c.  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "codec.h"
#include "keys.h"
#include "envelope.h"
#include "delegmsg.h"
#include "wire.h"

int
delegmsg_encode (const delegmsg_t *msg, uint8_t **payload_p, size_t *size_p)
{
    assert (msg);
    return wire_encode_family (WIRE_FAMILY_DELEG, msg->type, msg, payload_p, size_p);
}

int
delegmsg_decode (delegmsg_t *msg, int type, const uint8_t *payload, size_t size)
{
    return wire_decode_family (WIRE_FAMILY_DELEG, type, msg, sizeof (delegmsg_t),
                               payload, size);
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
    assert (delegmsg_encode (&msg, &payload, &size) == PROTO_ERR_OVERSIZE);
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
