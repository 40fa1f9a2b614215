/*  meshmsg - the payloads of the mesh messages (types 9..19, and 25)
    Their fields and limits are rows of proto/wire_table.c; this file
    holds the rules between fields (meshmsg_check), the comma lists of
    names, and the selftest with the golden vectors. See meshmsg.h for
    the wire forms.  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "codec.h"
#include "keys.h"
#include "cert.h"
#include "envelope.h"
#include "passport.h"
#include "meshmsg.h"
#include "wire.h"

//  --------------------------------------------------------------------------
//  Names in a comma list.

static bool
s_name_char (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || c == '.' || c == '_' || c == '-';
}

int
meshmsg_names (const char *list, size_t size)
{
    if (size == 0)
        return 0;
    assert (list);
    int count = 0;
    size_t length = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || list [i] == ',') {
            if (length == 0 || length > WEFT_NAME_MAX)
                return -1;
            count++;
            length = 0;
        }
        else
        if (!s_name_char (list [i]))
            return -1;
        else
            length++;
    }
    return count;
}

bool
meshmsg_has_name (const char *list, size_t size, const char *name)
{
    assert (name);
    size_t name_size = strlen (name);
    size_t start = 0;
    for (size_t i = 0; i <= size; i++)
        if (i == size || list [i] == ',') {
            if (i - start == name_size && memcmp (list + start, name, name_size) == 0)
                return true;
            start = i + 1;
        }
    return false;
}

//  --------------------------------------------------------------------------
//  The rules between fields, for proto/wire_table.c: a path of valid ids
//  shorter than the hop limit, one name per revoked key, a quarantine
//  list of valid ids.

int
meshmsg_check (const void *arg)
{
    const meshmsg_t *msg = (const meshmsg_t *) arg;
    if (msg->type == MSG_HELLO || msg->type == MSG_ROUTE) {
        size_t path_size = strnlen (msg->path, sizeof msg->path);
        int names = meshmsg_names (msg->path, path_size);
        if (path_size > MESHMSG_PATH_MAX || names < 0 || names >= WEFT_HOP_LIMIT)
            return PROTO_ERR_VALUE;
    }
    if (msg->type == MSG_REVOCATIONS
    &&  meshmsg_names (msg->names, msg->names_size) != (int) msg->key_count)
        return PROTO_ERR_VALUE;
    if (msg->type == MSG_QUARANTINE) {
        int count = meshmsg_names (msg->names, msg->names_size);
        if (count < 0 || count > MESHMSG_QUARANTINED_MAX)
            return PROTO_ERR_VALUE;
    }
    return 0;
}

int
meshmsg_encode (const meshmsg_t *msg, uint8_t **payload_p, size_t *size_p)
{
    assert (msg);
    return wire_encode_family (WIRE_FAMILY_MESH, msg->type, msg, payload_p, size_p);
}

int
meshmsg_decode (meshmsg_t *msg, int type, const uint8_t *payload, size_t size)
{
    return wire_decode_family (WIRE_FAMILY_MESH, type, msg, sizeof (meshmsg_t),
                               payload, size);
}

//  --------------------------------------------------------------------------
//  Selftest, with golden vectors (tests/golden/envelope-hello.hex etc.)

#define GOLDEN_TIME_MS      (1767225600ULL * 1000)

//  Golden sample of each type; *cert_p is a certificate to free
static void
s_sample (meshmsg_t *msg, int type, int variant, uint8_t **cert_p)
{
    static uint8_t ids [2 * WEFT_ID_SIZE];
    static uint8_t keys [2 * WEFT_KEY_SIZE];
    for (size_t i = 0; i < sizeof ids; i++)
        ids [i] = (uint8_t) (0x30 + i);
    memset (msg, 0, sizeof (meshmsg_t));
    msg->type = type;
    *cert_p = NULL;
    switch (type) {
        case MSG_HELLO: {
            keys_t ca, node;
            keys_from_byte (&ca, 0xca);
            keys_from_byte (&node, 0x01);
            cert_t cert;
            memset (&cert, 0, sizeof cert);
            cert.serial = 2;
            cert.kind = CERT_KIND_NODE;
            strcpy (cert.subject, "node-1");
            strcpy (cert.tenant, "acme");
            strcpy (cert.role, "gateway");
            memcpy (cert.sign_key, node.sign_public, WEFT_KEY_SIZE);
            memcpy (cert.curve_key, node.curve_public, WEFT_KEY_SIZE);
            cert.not_before = 1767225600ULL;
            cert.not_after = 1767225600ULL + 365 * 86400;
            size_t size;
            int rc = cert_encode (&cert, ca.sign_secret, cert_p, &size);
            assert (rc == 0);
            msg->cert = *cert_p;
            msg->cert_size = size;
            strcpy (msg->path, "node-1,server-1");
            msg->revocations = 3;
            keys_wipe (&ca);
            keys_wipe (&node);
            break;
        }
        case MSG_ROUTE:
            strcpy (msg->path, "node-1,server-1");
            msg->revocations = 3;
            break;
        case MSG_CUSTODY_ACK:
            msg->ids = ids;
            msg->id_count = variant? 1: 2;
            msg->status = variant? WEFT_STATUS_DENIED: WEFT_STATUS_OK;
            if (variant)
                strcpy (msg->reason, "report names device node-2, not its origin node-1");
            break;
        case MSG_REVOCATIONS: {
            keys_t a, b;
            keys_from_byte (&a, 0x02);
            keys_from_byte (&b, 0x03);
            memcpy (keys, a.curve_public, WEFT_KEY_SIZE);
            memcpy (keys + WEFT_KEY_SIZE, b.curve_public, WEFT_KEY_SIZE);
            msg->revocations = 3;
            msg->names = "node-2,node-3";
            msg->names_size = 13;
            msg->curve_keys = keys;
            msg->key_count = 2;
            break;
        }
        case MSG_NODE_STATS:
            msg->counters = "{\"retransmits\":4}";
            msg->counters_size = strlen (msg->counters);
            break;
        case MSG_QUARANTINE:
            msg->quarantine = 5;
            msg->names = "gw-7,gw-9";
            msg->names_size = 9;
            break;
    }
}

static bool
s_equal (const meshmsg_t *a, const meshmsg_t *b)
{
    return a->type == b->type && a->cert_size == b->cert_size
        && (a->cert_size == 0 || memcmp (a->cert, b->cert, a->cert_size) == 0)
        && strcmp (a->path, b->path) == 0 && a->revocations == b->revocations
        && a->quarantine == b->quarantine && a->passport_size == b->passport_size
        && (a->passport_size == 0 || memcmp (a->passport, b->passport, a->passport_size) == 0)
        && a->id_count == b->id_count && a->status == b->status
        && strcmp (a->reason, b->reason) == 0
        && (a->id_count == 0 || memcmp (a->ids, b->ids, a->id_count * WEFT_ID_SIZE) == 0)
        && a->names_size == b->names_size
        && (a->names_size == 0 || memcmp (a->names, b->names, a->names_size) == 0)
        && a->key_count == b->key_count
        && (a->key_count == 0
            || memcmp (a->curve_keys, b->curve_keys, a->key_count * WEFT_KEY_SIZE) == 0)
        && a->operator_count == b->operator_count
        && (a->operator_count == 0
            || memcmp (a->operator_keys, b->operator_keys,
                       a->operator_count * WEFT_KEY_SIZE) == 0)
        && a->counters_size == b->counters_size
        && (a->counters_size == 0 || memcmp (a->counters, b->counters, a->counters_size) == 0);
}

void
meshmsg_test (bool verbose)
{
    printf (" * meshmsg: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    assert (meshmsg_names ("", 0) == 0);
    assert (meshmsg_names ("a", 1) == 1);
    assert (meshmsg_names ("a,b.c,d-e", 9) == 3);
    assert (meshmsg_names ("a,,b", 4) == -1);
    assert (meshmsg_names ("a,", 2) == -1);
    assert (meshmsg_names ("a b", 3) == -1);
    assert (meshmsg_has_name ("gw-1,server", 11, "server"));
    assert (meshmsg_has_name ("gw-1,server", 11, "gw-1"));
    assert (!meshmsg_has_name ("gw-1,server", 11, "gw"));
    assert (!meshmsg_has_name ("", 0, "gw"));

    //  Each type, and a CUSTODY_ACK refusing with a reason (variant 1)
    int types [] = { MSG_HELLO, MSG_ROUTE, MSG_CUSTODY_ACK, MSG_REVOCATIONS,
                     MSG_NODE_STATS, MSG_QUARANTINE, MSG_CUSTODY_ACK };
    for (size_t t = 0; t < sizeof types / sizeof types [0]; t++) {
        int type = types [t];
        int variant = t == 6;
        meshmsg_t msg, back;
        uint8_t *cert;
        s_sample (&msg, type, variant, &cert);
        uint8_t *payload;
        size_t payload_size;
        assert (meshmsg_encode (&msg, &payload, &payload_size) == 0);
        assert (meshmsg_decode (&back, type, payload, payload_size) == 0);
        assert (s_equal (&msg, &back));
        //  Truncated: always an error
        for (size_t cut = 0; cut < payload_size; cut++)
            assert (meshmsg_decode (&back, type, payload, cut) != 0);
        //  As a golden envelope from node-1 (REVOCATIONS from the coordinator)
        keys_t signer;
        envelope_t env;
        memset (&env, 0, sizeof env);
        for (int i = 0; i < WEFT_ID_SIZE; i++)
            env.id [i] = (uint8_t) ((type << 4 | i) ^ (variant? 0xff: 0));
        env.type = type;
        bool from_coord = type == MSG_REVOCATIONS || type == MSG_QUARANTINE || variant;
        strcpy (env.origin, from_coord? "coordinator": "node-1");
        strcpy (env.tenant, from_coord? "": "acme");
        keys_from_byte (&signer, from_coord? 0xc0: 0x01);
        env.seq = (uint64_t) type;
        env.hlc = GOLDEN_TIME_MS << 16 | (uint64_t) type;
        env.hop_limit = env.hops = WEFT_HOP_LIMIT;
        env.payload = payload;
        env.payload_size = payload_size;
        uint8_t *frame;
        size_t frame_size;
        assert (envelope_encode (&env, signer.sign_secret, &frame, &frame_size) == 0);
        char name [64];
        snprintf (name, sizeof name, "envelope-%s%s", proto_msg_name (type),
                  variant? "-denied": "");
        for (char *c = name; *c; c++)
            *c = *c == '_'? '-': (char) (*c >= 'A' && *c <= 'Z'? *c + 32: *c);
        uint8_t *file;
        size_t file_size;
        assert (codec_golden (name, frame, frame_size, &file, &file_size) == 0);
        envelope_t got;
        assert (envelope_decode (&got, file, file_size) == 0);
        assert (envelope_verify (&got, signer.sign_public) == 0);
        assert (meshmsg_decode (&back, type, got.payload, got.payload_size) == 0);
        assert (s_equal (&msg, &back));
        if (verbose)
            printf ("   %s: %zu bytes\n", name, frame_size);
        free (file);
        free (frame);
        free (payload);
        free (cert);
        keys_wipe (&signer);
    }

    //  HELLO with the sender's passport (a coordinator's, for node-1),
    //  and the quarantine version before it even when 0
    {
        meshmsg_t hello, back;
        uint8_t *cert;
        s_sample (&hello, MSG_HELLO, 0, &cert);
        keys_t coord;
        keys_from_byte (&coord, 0xc0);
        passport_t passport = {
            .device = "node-1", .tenant = "acme", .cert_serial = 2,
            .verdict = PASSPORT_PASSED, .attested_ms = GOLDEN_TIME_MS,
            .expires_ms = GOLDEN_TIME_MS + 660000, .issuer = PASSPORT_COORDINATOR
        };
        uint8_t *bytes;
        size_t bytes_size;
        assert (passport_encode (&passport, coord.sign_secret, &bytes, &bytes_size) == 0);
        hello.passport = bytes;
        hello.passport_size = bytes_size;
        uint8_t *payload;
        size_t payload_size;
        assert (meshmsg_encode (&hello, &payload, &payload_size) == 0);
        assert (meshmsg_decode (&back, MSG_HELLO, payload, payload_size) == 0);
        assert (s_equal (&hello, &back) && back.quarantine == 0);
        for (size_t cut = 0; cut < payload_size; cut++)
            assert (meshmsg_decode (&back, MSG_HELLO, payload, cut) != 0);
        envelope_t got;
        uint8_t *file = envelope_golden (MSG_HELLO, payload, payload_size,
                                         "envelope-hello-passport", &got);
        assert (meshmsg_decode (&back, MSG_HELLO, got.payload, got.payload_size) == 0);
        assert (back.passport_size == bytes_size
                && memcmp (back.passport, bytes, bytes_size) == 0);
        free (file);
        free (payload);
        //  An oversized passport is refused both ways
        hello.passport_size = PASSPORT_MAX + 1;
        assert (meshmsg_encode (&hello, &payload, &payload_size) == PROTO_ERR_OVERSIZE);
        assert (!payload);
        free (bytes);
        free (cert);
        keys_wipe (&coord);
    }

    //  Limits and bad values
    meshmsg_t msg;
    uint8_t *payload;
    size_t size;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_CUSTODY_ACK;
    assert (meshmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);    //  No ids
    msg.type = MSG_ROUTE;
    strcpy (msg.path, "a,,b");
    assert (meshmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    //  A path as long as the hop limit is refused: it could not be extended
    msg.path [0] = 0;
    for (int i = 0; i < WEFT_HOP_LIMIT; i++)
        strcat (msg.path, i? ",n": "n");
    assert (meshmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    msg.type = MSG_REVOCATIONS;
    msg.names = "a,b";
    msg.names_size = 3;
    msg.key_count = 1;
    uint8_t key [WEFT_KEY_SIZE] = { 0 };
    msg.curve_keys = key;
    assert (meshmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);   //  2 names, 1 key
    assert (meshmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    assert (meshmsg_decode (&msg, MSG_HEARTBEAT, (const uint8_t *) "\x90", 1)
            == PROTO_ERR_UNKNOWN);
    assert (meshmsg_decode (&msg, MSG_ROUTE, (const uint8_t *) "\x90", 1) == PROTO_ERR_TYPE);
    //  HELLO and ROUTE carry the quarantine version only when set; an
    //  older node's ROUTE (two items) still decodes, with version 0
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_ROUTE;
    strcpy (msg.path, "n1,s1");
    msg.revocations = 2;
    msg.quarantine = 7;
    assert (meshmsg_encode (&msg, &payload, &size) == 0);
    meshmsg_t back;
    assert (meshmsg_decode (&back, MSG_ROUTE, payload, size) == 0);
    assert (back.quarantine == 7 && back.revocations == 2);
    free (payload);
    msg.quarantine = 0;
    assert (meshmsg_encode (&msg, &payload, &size) == 0);
    assert (payload [0] == 0x92);
    assert (meshmsg_decode (&back, MSG_ROUTE, payload, size) == 0 && back.quarantine == 0);
    free (payload);
    //  QUARANTINE: names must be valid ids, at most MESHMSG_QUARANTINED_MAX
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_QUARANTINE;
    msg.quarantine = 1;
    msg.names = "a,,b";
    msg.names_size = 4;
    assert (meshmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    msg.names = "";
    msg.names_size = 0;
    assert (meshmsg_encode (&msg, &payload, &size) == 0);     //  Empty list: all released
    assert (meshmsg_decode (&back, MSG_QUARANTINE, payload, size) == 0);
    assert (back.quarantine == 1 && back.names_size == 0);
    free (payload);
    char *many = (char *) malloc (3 * (MESHMSG_QUARANTINED_MAX + 1));
    size_t many_size = 0;
    for (int i = 0; i <= MESHMSG_QUARANTINED_MAX; i++)
        many_size += (size_t) sprintf (many + many_size, "%s%c", i? ",": "", 'a' + i % 26);
    msg.names = many;
    msg.names_size = many_size;
    assert (meshmsg_encode (&msg, &payload, &size) == PROTO_ERR_VALUE);
    msg.names_size -= 2;        //  Exactly the limit
    assert (meshmsg_encode (&msg, &payload, &size) == 0);
    free (payload);
    //  A list over the limit is refused by the decoder too
    codec_writer_t *w = codec_writer_new (0);
    codec_put_array (w, 2);
    codec_put_uint (w, 9);
    codec_put_strn (w, many, many_size, WEFT_STR_MAX);
    assert (codec_writer_finish (&w, &payload, &size) == 0);
    assert (meshmsg_decode (&back, MSG_QUARANTINE, payload, size) == PROTO_ERR_VALUE);
    free (payload);
    free (many);
    //  CUSTODY_ACK with 17 bytes of ids
    assert (meshmsg_decode (&msg, MSG_CUSTODY_ACK,
            (const uint8_t *) "\x92\xc4\x11" "0123456789abcdefg" "\x00", 21) == PROTO_ERR_VALUE);
    //  Its reason: a third item only when there is one (an ACK of
    //  custody stays two items, as nodes before it sent); at most 255
    //  bytes, no NUL; a reason of another type is TYPE
    {
        const uint8_t ack_ids [WEFT_ID_SIZE] = { 1 };
        memset (&msg, 0, sizeof msg);
        msg.type = MSG_CUSTODY_ACK;
        msg.ids = ack_ids;
        msg.id_count = 1;
        assert (meshmsg_encode (&msg, &payload, &size) == 0);
        assert (payload [0] == 0x92);
        free (payload);
        msg.status = WEFT_STATUS_EXPIRED;
        memset (msg.reason, 'r', WEFT_TEXT_MAX);
        msg.reason [WEFT_TEXT_MAX] = 0;
        assert (meshmsg_encode (&msg, &payload, &size) == 0);
        assert (payload [0] == 0x93);
        assert (meshmsg_decode (&back, MSG_CUSTODY_ACK, payload, size) == 0);
        assert (back.status == WEFT_STATUS_EXPIRED && strlen (back.reason) == WEFT_TEXT_MAX);
        free (payload);
        char longer [WEFT_TEXT_MAX + 2];
        memset (longer, 'r', sizeof longer - 1);
        longer [sizeof longer - 1] = 0;
        codec_writer_t *w = codec_writer_new (0);
        codec_put_array (w, 3);
        codec_put_bin (w, ack_ids, WEFT_ID_SIZE);
        codec_put_uint (w, WEFT_STATUS_DENIED);
        codec_put_strn (w, longer, WEFT_TEXT_MAX + 1, WEFT_STR_MAX);
        assert (codec_writer_finish (&w, &payload, &size) == 0);
        assert (meshmsg_decode (&back, MSG_CUSTODY_ACK, payload, size) == PROTO_ERR_OVERSIZE);
        free (payload);
        w = codec_writer_new (0);
        codec_put_array (w, 3);
        codec_put_bin (w, ack_ids, WEFT_ID_SIZE);
        codec_put_uint (w, WEFT_STATUS_DENIED);
        codec_put_uint (w, 7);
        assert (codec_writer_finish (&w, &payload, &size) == 0);
        assert (meshmsg_decode (&back, MSG_CUSTODY_ACK, payload, size) == PROTO_ERR_TYPE);
        free (payload);
        uint8_t nul [3 + WEFT_ID_SIZE + 1 + 4] = { 0x93, 0xc4, WEFT_ID_SIZE };
        memcpy (nul + 3 + WEFT_ID_SIZE, "\x07\xa3" "a\0b", 5);
        assert (meshmsg_decode (&back, MSG_CUSTODY_ACK, nul, sizeof nul) == PROTO_ERR_VALUE);
    }

    //  Revoked operators: a fourth field, only when there are some
    {
        meshmsg_t list, back;
        uint8_t *cert;
        s_sample (&list, MSG_REVOCATIONS, 0, &cert);
        uint8_t operators [3 * WEFT_KEY_SIZE];
        for (size_t i = 0; i < sizeof operators; i++)
            operators [i] = (uint8_t) i;
        list.operator_keys = operators;
        list.operator_count = 3;
        assert (meshmsg_encode (&list, &payload, &size) == 0);
        assert (payload [0] == 0x94);
        assert (meshmsg_decode (&back, MSG_REVOCATIONS, payload, size) == 0);
        assert (s_equal (&list, &back) && back.operator_count == 3);
        //  A key cut short: 95 bytes
        assert (payload [size - 98] == 0xc4 && payload [size - 97] == 96);
        payload [size - 97] = 95;
        assert (meshmsg_decode (&back, MSG_REVOCATIONS, payload, size - 1) == PROTO_ERR_VALUE);
        free (payload);
        list.operator_count = MESHMSG_REVOKED_MAX + 1;
        assert (meshmsg_encode (&list, &payload, &size) == PROTO_ERR_VALUE);
        list.operator_count = 0;
        assert (meshmsg_encode (&list, &payload, &size) == 0);
        assert (payload [0] == 0x93);
        assert (meshmsg_decode (&back, MSG_REVOCATIONS, payload, size) == 0);
        assert (back.operator_count == 0 && back.operator_keys == NULL);
        free (payload);
        free (cert);
    }
    //  @end
    printf ("OK\n");
}
