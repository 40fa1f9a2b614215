/*  policymsg - site-wide policy objects and their gossip payloads
    Objects are parsed only after their CA signature verified, as
    certificates are; gossip payloads come from any neighbour and every
    count and key is checked against the limits in policymsg.h.  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "codec.h"
#include "keys.h"
#include "envelope.h"
#include "policymsg.h"
#include "wire.h"

#define S_FORMAT    1
#define S_ITEMS     5
#define streq(a, b) (strcmp ((a), (b)) == 0)

//  --------------------------------------------------------------------------
//  Names

bool
policymsg_kind_valid (const char *kind)
{
    size_t size = kind? strlen (kind): 0;
    if (size == 0 || size > POLICYMSG_KIND_MAX)
        return false;
    for (size_t i = 0; i < size; i++)
        if (!((kind [i] >= 'a' && kind [i] <= 'z') || (kind [i] >= '0' && kind [i] <= '9')
              || kind [i] == '-'))
            return false;
    return true;
}

static bool
s_name_char (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || c == '.' || c == '_' || c == '-';
}

//  Is name[0..size) one segment: 1-64 name characters?
static bool
s_segment_valid (const char *name, size_t size)
{
    if (size == 0 || size > WEFT_NAME_MAX)
        return false;
    for (size_t i = 0; i < size; i++)
        if (!s_name_char (name [i]))
            return false;
    return true;
}

bool
policymsg_name_valid (const char *name)
{
    if (!name)
        return false;
    const char *slash = strchr (name, '/');
    if (!slash)
        return s_segment_valid (name, strlen (name));
    return s_segment_valid (name, (size_t) (slash - name))
        && s_segment_valid (slash + 1, strlen (slash + 1));
}

int
policymsg_name (const char *tenant, const char *local, char out [POLICYMSG_NAME_MAX + 1])
{
    assert (tenant && local && out);
    out [0] = 0;
    if (!s_segment_valid (local, strlen (local))
    ||  (*tenant && !s_segment_valid (tenant, strlen (tenant))))
        return -1;
    snprintf (out, POLICYMSG_NAME_MAX + 1, "%s%s%s", tenant, *tenant? "/": "", local);
    return 0;
}

int
policymsg_key_split (const char *key, char kind [POLICYMSG_KIND_MAX + 1],
                     char name [POLICYMSG_NAME_MAX + 1])
{
    assert (key && kind && name);
    const char *slash = strchr (key, '/');
    if (!slash || (size_t) (slash - key) > POLICYMSG_KIND_MAX
    ||  strlen (slash + 1) > POLICYMSG_NAME_MAX)
        return -1;
    memcpy (kind, key, (size_t) (slash - key));
    kind [slash - key] = 0;
    strcpy (name, slash + 1);
    return policymsg_kind_valid (kind) && policymsg_name_valid (name)? 0: -1;
}

//  --------------------------------------------------------------------------
//  Objects

int
policymsg_body (const policy_object_t *object, uint8_t **body_p, size_t *size_p)
{
    assert (object && body_p && size_p);
    *body_p = NULL;
    *size_p = 0;
    if (!policymsg_kind_valid (object->kind) || !policymsg_name_valid (object->name)
    ||  object->version == 0)
        return PROTO_ERR_VALUE;
    if (object->content_size > POLICYMSG_CONTENT_MAX)
        return PROTO_ERR_OVERSIZE;
    codec_writer_t *w = codec_writer_new (object->content_size + 128);
    codec_put_array (w, S_ITEMS);
    codec_put_uint (w, S_FORMAT);
    codec_put_str (w, object->kind, POLICYMSG_KIND_MAX);
    codec_put_str (w, object->name, POLICYMSG_NAME_MAX);
    codec_put_uint (w, object->version);
    codec_put_bin (w, object->content, object->content_size);
    return codec_writer_finish (&w, body_p, size_p);
}

int
policymsg_seal (const uint8_t *body, size_t body_size, const uint8_t sig [WEFT_SIG_SIZE],
                uint8_t **object_p, size_t *size_p)
{
    assert (body && sig && object_p && size_p);
    codec_writer_t *w = codec_writer_new (body_size + 80);
    codec_put_array (w, 2);
    codec_put_bin (w, body, body_size);
    codec_put_bin (w, sig, WEFT_SIG_SIZE);
    return codec_writer_finish (&w, object_p, size_p);
}

int
policymsg_encode (const policy_object_t *object, const uint8_t ca_secret [WEFT_SECRET_SIZE],
                  uint8_t **object_p, size_t *size_p)
{
    assert (ca_secret);
    uint8_t *body;
    size_t body_size;
    int rc = policymsg_body (object, &body, &body_size);
    if (rc)
        return rc;
    uint8_t sig [WEFT_SIG_SIZE];
    codec_sign (POLICYMSG_CONTEXT, body, body_size, ca_secret, sig);
    rc = policymsg_seal (body, body_size, sig, object_p, size_p);
    free (body);
    return rc;
}

int
policymsg_decode (policy_object_t *object, const uint8_t *data, size_t size,
                  const uint8_t ca_key [WEFT_KEY_SIZE])
{
    assert (object && ca_key);
    memset (object, 0, sizeof *object);
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
    if (rc == 0 && (codec_is_nil (r, 1) || codec_get_binref (r, 1, &sig, &sig_size)
                    || sig_size != WEFT_SIG_SIZE))
        rc = PROTO_ERR_UNSIGNED;
    if (rc == 0 && codec_verify (POLICYMSG_CONTEXT, body, body_size, sig, ca_key))
        rc = PROTO_ERR_SIGNATURE;
    codec_reader_destroy (&r);
    if (rc)
        return rc;
    //  Signed by the CA: now the body, field by field
    rc = codec_reader_new (&r, body, body_size);
    if (rc)
        return rc;
    uint64_t format = 0;
    if (codec_items (r) < 1 || codec_get_uint (r, 0, UINT64_MAX, &format))
        rc = PROTO_ERR_TYPE;
    else
    if (format != S_FORMAT)
        rc = PROTO_ERR_VERSION;
    else
    if (codec_items (r) < S_ITEMS)
        rc = PROTO_ERR_TYPE;
    if (rc == 0)
        rc = codec_get_str (r, 1, object->kind, POLICYMSG_KIND_MAX);
    if (rc == 0)
        rc = codec_get_str (r, 2, object->name, POLICYMSG_NAME_MAX);
    if (rc == 0)
        rc = codec_get_uint (r, 3, UINT64_MAX, &object->version);
    if (rc == 0)
        rc = codec_get_binref (r, 4, &object->content, &object->content_size);
    if (rc == 0 && object->content_size > POLICYMSG_CONTENT_MAX)
        rc = PROTO_ERR_OVERSIZE;
    if (rc == 0 && (!policymsg_kind_valid (object->kind)
                    || !policymsg_name_valid (object->name) || object->version == 0))
        rc = PROTO_ERR_VALUE;
    codec_reader_destroy (&r);
    if (rc)
        memset (object, 0, sizeof *object);
    return rc;
}

//  --------------------------------------------------------------------------
//  Key lists

//  Number of valid keys in a comma list, or -1
static int
s_keys_count (const char *list, size_t size)
{
    if (size == 0)
        return 0;
    int count = 0;
    size_t start = 0;
    for (size_t i = 0; i <= size; i++)
        if (i == size || list [i] == ',') {
            size_t length = i - start;
            char key [POLICYMSG_KEY_MAX + 1];
            char kind [POLICYMSG_KIND_MAX + 1];
            char name [POLICYMSG_NAME_MAX + 1];
            if (length == 0 || length > POLICYMSG_KEY_MAX)
                return -1;
            memcpy (key, list + start, length);
            key [length] = 0;
            if (memchr (key, 0, length) || policymsg_key_split (key, kind, name))
                return -1;
            count++;
            start = i + 1;
        }
    return count;
}

int
policymsg_key_next (const policymsg_t *msg, size_t *offset_p, size_t index,
                    char key [POLICYMSG_KEY_MAX + 1], uint64_t *version_p)
{
    assert (msg && offset_p && key && version_p);
    size_t start = *offset_p;
    if (index >= msg->key_count || start >= msg->keys_size)
        return -1;
    size_t end = start;
    while (end < msg->keys_size && msg->keys [end] != ',')
        end++;
    if (end - start > POLICYMSG_KEY_MAX)
        return -1;                  //  Cannot happen after decode
    memcpy (key, msg->keys + start, end - start);
    key [end - start] = 0;
    uint64_t version = 0;
    for (int i = 0; i < 8; i++)
        version = (version << 8) | msg->versions [index * 8 + (size_t) i];
    *version_p = version;
    *offset_p = end + 1;
    return 0;
}

//  --------------------------------------------------------------------------
//  Gossip payloads

//  --------------------------------------------------------------------------
//  Gossip payloads: rows of proto/wire_table.c. The rule between fields
//  is one valid key per version.

int
policymsg_msg_check (const void *arg)
{
    const policymsg_t *msg = (const policymsg_t *) arg;
    if (msg->type == MSG_POLICY_KEYS
    &&  s_keys_count (msg->keys, msg->keys_size) != (int) msg->key_count)
        return PROTO_ERR_VALUE;
    return 0;
}

int
policymsg_msg_encode (const policymsg_t *msg, uint8_t **payload_p, size_t *size_p)
{
    assert (msg);
    return wire_encode_family (WIRE_FAMILY_POLICY, msg->type, msg, payload_p, size_p);
}

int
policymsg_msg_decode (policymsg_t *msg, int type, const uint8_t *payload, size_t size)
{
    return wire_decode_family (WIRE_FAMILY_POLICY, type, msg, sizeof (policymsg_t),
                               payload, size);
}

//  --------------------------------------------------------------------------
//  Selftest, with golden vectors for the three payloads in envelopes

#define GOLDEN_TIME_MS      (1767225600ULL * 1000)

void
policymsg_test (bool verbose)
{
    printf (" * policymsg: ");
    //  @selftest
    keys_t ca, rogue;
    keys_from_byte (&ca, 0xca);
    keys_from_byte (&rogue, 0x66);
    policy_object_t object = { "profile", "gateway", 3,
                               (const uint8_t *) "{\"pcrs\":{}}", 11 };
    uint8_t *bytes;
    size_t size;
    assert (policymsg_encode (&object, ca.sign_secret, &bytes, &size) == 0);
    policy_object_t back;
    assert (policymsg_decode (&back, bytes, size, ca.sign_public) == 0);
    assert (streq (back.kind, "profile") && streq (back.name, "gateway"));
    assert (back.version == 3 && back.content_size == 11);
    assert (memcmp (back.content, "{\"pcrs\":{}}", 11) == 0);
    //  Another CA's key: refused before the body is read
    assert (policymsg_decode (&back, bytes, size, rogue.sign_public) == PROTO_ERR_SIGNATURE);
    assert (back.version == 0);
    //  A flipped content byte breaks the signature
    bytes [size - 70] ^= 1;
    assert (policymsg_decode (&back, bytes, size, ca.sign_public) == PROTO_ERR_SIGNATURE);
    free (bytes);
    //  Unsigned: the body alone
    uint8_t *body;
    size_t body_size;
    assert (policymsg_body (&object, &body, &body_size) == 0);
    codec_writer_t *w = codec_writer_new (0);
    codec_put_array (w, 1);
    codec_put_bin (w, body, body_size);
    assert (codec_writer_finish (&w, &bytes, &size) == 0);
    assert (policymsg_decode (&back, bytes, size, ca.sign_public) == PROTO_ERR_UNSIGNED);
    free (bytes);
    free (body);
    //  Bad names and versions are not encoded
    policy_object_t bad = object;
    strcpy (bad.kind, "Profile");
    assert (policymsg_encode (&bad, ca.sign_secret, &bytes, &size) == PROTO_ERR_VALUE);
    bad = object;
    bad.version = 0;
    assert (policymsg_encode (&bad, ca.sign_secret, &bytes, &size) == PROTO_ERR_VALUE);
    bad = object;
    bad.content_size = POLICYMSG_CONTENT_MAX + 1;
    assert (policymsg_encode (&bad, ca.sign_secret, &bytes, &size) == PROTO_ERR_OVERSIZE);
    char kind [POLICYMSG_KIND_MAX + 1], name [POLICYMSG_NAME_MAX + 1];
    assert (policymsg_key_split ("profile/gw-1.a", kind, name) == 0);
    assert (streq (kind, "profile") && streq (name, "gw-1.a"));
    assert (policymsg_key_split ("profile", kind, name) == -1);
    assert (policymsg_key_split ("/a", kind, name) == -1);
    //  A tenant's policy: "<tenant>/<name>", one slash at most
    assert (policymsg_key_split ("profile/acme/gateway", kind, name) == 0);
    assert (streq (kind, "profile") && streq (name, "acme/gateway"));
    assert (policymsg_key_split ("profile/a/b/c", kind, name) == -1);
    assert (policymsg_key_split ("profile/a/", kind, name) == -1);
    assert (policymsg_key_split ("profile//b", kind, name) == -1);
    char longest [POLICYMSG_NAME_MAX + 2];
    memset (longest, 'n', POLICYMSG_NAME_MAX);
    longest [WEFT_NAME_MAX] = '/';
    longest [POLICYMSG_NAME_MAX] = 0;
    assert (policymsg_name_valid (longest));
    longest [POLICYMSG_NAME_MAX] = 'n';
    longest [POLICYMSG_NAME_MAX + 1] = 0;
    assert (!policymsg_name_valid (longest));
    assert (policymsg_name ("acme", "gateway", name) == 0 && streq (name, "acme/gateway"));
    assert (policymsg_name ("", "fleet", name) == 0 && streq (name, "fleet"));
    assert (policymsg_name ("a/b", "fleet", name) == -1 && *name == 0);
    assert (policymsg_name ("acme", "", name) == -1);
    //  ... and such an object round-trips, with the longest name
    bad = object;
    memset (bad.name, 'n', POLICYMSG_NAME_MAX);
    bad.name [WEFT_NAME_MAX] = '/';
    bad.name [POLICYMSG_NAME_MAX] = 0;
    assert (policymsg_encode (&bad, ca.sign_secret, &bytes, &size) == 0);
    assert (policymsg_decode (&back, bytes, size, ca.sign_public) == 0);
    assert (streq (back.name, bad.name));
    free (bytes);

    //  Payloads round-trip, and the golden envelopes pin their bytes
    uint8_t versions [16] = { 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1 };
    uint8_t buckets [POLICYMSG_BUCKETS * POLICYMSG_DIGEST_SIZE];
    for (size_t i = 0; i < sizeof buckets; i++)
        buckets [i] = (uint8_t) i;
    assert (policymsg_encode (&object, ca.sign_secret, &bytes, &size) == 0);
    keys_t node;
    keys_from_byte (&node, 0x01);
    const char *golden [] = { "envelope-policy", "envelope-policy-summary",
                              "envelope-policy-keys" };
    for (int type = MSG_POLICY; type <= MSG_POLICY_KEYS; type++) {
        policymsg_t msg;
        memset (&msg, 0, sizeof msg);
        msg.type = type;
        msg.object = bytes;
        msg.object_size = size;
        msg.count = 42;
        memset (msg.root, 0xab, sizeof msg.root);
        msg.buckets = buckets;
        msg.want = true;
        msg.keys = "profile/gateway,allowlist/fleet";
        msg.keys_size = strlen (msg.keys);
        msg.versions = versions;
        msg.key_count = 2;
        uint8_t *payload;
        size_t payload_size;
        assert (policymsg_msg_encode (&msg, &payload, &payload_size) == 0);
        policymsg_t got;
        assert (policymsg_msg_decode (&got, type, payload, payload_size) == 0);
        if (type == MSG_POLICY)
            assert (got.object_size == size && memcmp (got.object, bytes, size) == 0);
        if (type == MSG_POLICY_SUMMARY) {
            assert (got.count == 42 && got.buckets);
            assert (memcmp (got.buckets, buckets, sizeof buckets) == 0);
        }
        if (type == MSG_POLICY_KEYS) {
            assert (got.want && got.key_count == 2);
            size_t offset = 0;
            char key [POLICYMSG_KEY_MAX + 1];
            uint64_t version;
            assert (policymsg_key_next (&got, &offset, 0, key, &version) == 0);
            assert (streq (key, "profile/gateway") && version == 3);
            assert (policymsg_key_next (&got, &offset, 1, key, &version) == 0);
            assert (streq (key, "allowlist/fleet") && version == 1);
            assert (policymsg_key_next (&got, &offset, 2, key, &version) == -1);
        }
        //  Short arrays are refused
        assert (policymsg_msg_decode (&got, type, (const uint8_t *) "\x90", 1)
                == PROTO_ERR_TYPE);
        envelope_t env;
        memset (&env, 0, sizeof env);
        memset (env.id, 0x20 + type, WEFT_ID_SIZE);
        env.type = type;
        strcpy (env.origin, "node-1");
        env.seq = env.hlc = GOLDEN_TIME_MS << 16;
        env.hop_limit = env.hops = 1;
        env.payload = payload;
        env.payload_size = payload_size;
        uint8_t *frame;
        size_t frame_size;
        assert (envelope_encode (&env, node.sign_secret, &frame, &frame_size) == 0);
        assert (codec_golden (golden [type - MSG_POLICY], frame, frame_size, NULL, NULL) == 0);
        free (frame);
        free (payload);
    }
    //  A key list that does not match its versions, or holds a bad key
    policymsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_POLICY_KEYS;
    msg.keys = "profile/gateway";
    msg.keys_size = strlen (msg.keys);
    msg.versions = versions;
    msg.key_count = 2;
    uint8_t *payload;
    size_t payload_size;
    assert (policymsg_msg_encode (&msg, &payload, &payload_size) == PROTO_ERR_VALUE);
    msg.keys = "profile/gateway,bad key/x";
    msg.keys_size = strlen (msg.keys);
    assert (policymsg_msg_encode (&msg, &payload, &payload_size) == PROTO_ERR_VALUE);
    free (bytes);
    keys_wipe (&ca);
    keys_wipe (&rogue);
    keys_wipe (&node);
    if (verbose)
        printf ("(golden vectors checked) ");
    //  @end
    printf ("OK\n");
}
