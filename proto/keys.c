/*  keys - node and operator key material, and small crypto helpers
    Key file blob (docs/protocol.md):
        keys = [version: 1, sign_public: bin(32), sign_secret: bin(64),
                curve_public: bin(32), curve_secret: bin(32)]
    keys_decode checks that each public half matches its secret half, so
    a corrupted key file is refused rather than signing with a key whose
    public half nobody knows. CURVE keys are X25519 as libzmq expects
    (crypto_box); Z85 text comes from libzmq's own encoder.  */

#include <sodium.h>
#include <zmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "codec.h"
#include "keys.h"

#define KEYS_VERSION    1
#define KEYS_ITEMS      5
//  Encoded size is 1 + 1 + 34 + 66 + 34 + 34 = 170 bytes; preallocating
//  more means the writer never reallocates, so no secret copy is freed
//  unwiped.
#define KEYS_BLOB_ALLOC 256

//  --------------------------------------------------------------------------
//  Make a fresh identity.

void
keys_generate (keys_t *keys)
{
    assert (keys);
    crypto_sign_keypair (keys->sign_public, keys->sign_secret);
    crypto_box_keypair (keys->curve_public, keys->curve_secret);
}

//  --------------------------------------------------------------------------
//  Make an identity from a seed (tests, golden vectors, simulator).

void
keys_from_seed (keys_t *keys, const uint8_t seed [32])
{
    assert (keys && seed);
    static const char context [] = "weft-curve-seed-v1";
    uint8_t curve_seed [crypto_box_SEEDBYTES];
    crypto_sign_seed_keypair (keys->sign_public, keys->sign_secret, seed);
    crypto_generichash (curve_seed, sizeof curve_seed, seed, 32,
                        (const uint8_t *) context, sizeof context - 1);
    crypto_box_seed_keypair (keys->curve_public, keys->curve_secret, curve_seed);
    sodium_memzero (curve_seed, sizeof curve_seed);
}

void
keys_from_byte (keys_t *keys, uint8_t byte)
{
    uint8_t seed [32];
    memset (seed, byte, sizeof seed);
    keys_from_seed (keys, seed);
}

//  --------------------------------------------------------------------------
//  Serialise an identity.

int
keys_encode (const keys_t *keys, uint8_t **out_p, size_t *size_p)
{
    assert (keys && out_p && size_p);
    codec_writer_t *writer = codec_writer_new (KEYS_BLOB_ALLOC);
    codec_put_array (writer, KEYS_ITEMS);
    codec_put_uint (writer, KEYS_VERSION);
    codec_put_bin (writer, keys->sign_public, WEFT_KEY_SIZE);
    codec_put_bin (writer, keys->sign_secret, WEFT_SECRET_SIZE);
    codec_put_bin (writer, keys->curve_public, WEFT_KEY_SIZE);
    codec_put_bin (writer, keys->curve_secret, WEFT_KEY_SIZE);
    return codec_writer_finish (&writer, out_p, size_p);
}

//  --------------------------------------------------------------------------
//  Parse an identity and check its halves belong together.

int
keys_decode (keys_t *keys, const uint8_t *data, size_t size)
{
    assert (keys);
    codec_reader_t *reader;
    int rc = codec_reader_new (&reader, data, size);
    if (rc)
        return rc;
    keys_t got;
    uint64_t version = 0;
    if (codec_items (reader) < 1)
        rc = PROTO_ERR_TYPE;
    if (rc == 0)
        rc = codec_get_uint (reader, 0, UINT64_MAX, &version);
    if (rc == 0 && version != KEYS_VERSION)
        rc = PROTO_ERR_VERSION;
    if (rc == 0 && codec_items (reader) < KEYS_ITEMS)
        rc = PROTO_ERR_TYPE;
    if (rc == 0)
        rc = codec_get_bin (reader, 1, got.sign_public, WEFT_KEY_SIZE);
    if (rc == 0)
        rc = codec_get_bin (reader, 2, got.sign_secret, WEFT_SECRET_SIZE);
    if (rc == 0)
        rc = codec_get_bin (reader, 3, got.curve_public, WEFT_KEY_SIZE);
    if (rc == 0)
        rc = codec_get_bin (reader, 4, got.curve_secret, WEFT_KEY_SIZE);
    codec_reader_destroy (&reader);
    if (rc == 0) {
        uint8_t derived [WEFT_KEY_SIZE];
        crypto_sign_ed25519_sk_to_pk (derived, got.sign_secret);
        if (sodium_memcmp (derived, got.sign_public, WEFT_KEY_SIZE) != 0)
            rc = PROTO_ERR_VALUE;
        if (rc == 0 && crypto_scalarmult_base (derived, got.curve_secret) != 0)
            rc = PROTO_ERR_VALUE;
        if (rc == 0 && sodium_memcmp (derived, got.curve_public, WEFT_KEY_SIZE) != 0)
            rc = PROTO_ERR_VALUE;
    }
    if (rc == 0)
        *keys = got;
    keys_wipe (&got);
    return rc;
}

//  --------------------------------------------------------------------------
//  Wipe secret material (and the public halves, so a wiped identity
//  cannot be mistaken for a valid one).

void
keys_wipe (keys_t *keys)
{
    assert (keys);
    sodium_memzero (keys, sizeof (keys_t));
}

//  --------------------------------------------------------------------------
//  Lower-case hex.

void
keys_hex (const uint8_t *data, size_t size, char *hex)
{
    assert (hex);
    assert (data || size == 0);
    static const char digits [] = "0123456789abcdef";
    for (size_t i = 0; i < size; i++) {
        hex [2 * i] = digits [data [i] >> 4];
        hex [2 * i + 1] = digits [data [i] & 15];
    }
    hex [2 * size] = 0;
}

static int
s_nibble (char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

//  --------------------------------------------------------------------------
//  Parse exactly size bytes of hex; nothing before or after. data is
//  written only on success.

int
keys_unhex (const char *hex, uint8_t *data, size_t size)
{
    assert (data || size == 0);
    if (!hex || strlen (hex) != 2 * size)
        return -1;
    for (size_t i = 0; i < 2 * size; i++)
        if (s_nibble (hex [i]) < 0)
            return -1;
    for (size_t i = 0; i < size; i++)
        data [i] = (uint8_t) (s_nibble (hex [2 * i]) << 4 | s_nibble (hex [2 * i + 1]));
    return 0;
}

//  --------------------------------------------------------------------------
//  Z85 of a CURVE key, as zmq_setsockopt (ZMQ_CURVE_SERVERKEY) takes it.

void
keys_z85 (const uint8_t key [WEFT_KEY_SIZE], char z85 [41])
{
    assert (key && z85);
    char *rc = zmq_z85_encode (z85, key, WEFT_KEY_SIZE);
    assert (rc);                    //  32 is a multiple of 4
    (void) rc;
}

//  --------------------------------------------------------------------------
//  BLAKE2b-256.

void
keys_hash (const void *data, size_t size, uint8_t hash [32])
{
    assert (hash);
    assert (data || size == 0);
    crypto_generichash (hash, 32, (const uint8_t *) data, size, NULL, 0);
}

//  --------------------------------------------------------------------------
//  Selftest

void
keys_test (bool verbose)
{
    printf (" * keys: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    keys_t keys;
    keys_generate (&keys);
    uint8_t *blob;
    size_t blob_size;
    assert (keys_encode (&keys, &blob, &blob_size) == 0);
    assert (blob_size == 170);
    keys_t copy;
    assert (keys_decode (&copy, blob, blob_size) == 0);
    assert (memcmp (&copy, &keys, sizeof keys) == 0);

    //  Truncated at every offset, trailing bytes, tampered halves
    for (size_t cut = 0; cut < blob_size; cut++)
        assert (keys_decode (&copy, blob, cut) != 0);
    uint8_t *longer = (uint8_t *) malloc (blob_size + 1);
    assert (longer);
    memcpy (longer, blob, blob_size);
    longer [blob_size] = 0;
    assert (keys_decode (&copy, longer, blob_size + 1) == PROTO_ERR_TRAILING);
    free (longer);
    blob [4] ^= 1;                  //  In sign_public
    assert (keys_decode (&copy, blob, blob_size) == PROTO_ERR_VALUE);
    blob [4] ^= 1;
    blob [blob_size - 1] ^= 1;      //  In curve_secret
    assert (keys_decode (&copy, blob, blob_size) == PROTO_ERR_VALUE);
    blob [blob_size - 1] ^= 1;
    blob [1] = 2;                   //  Version
    assert (keys_decode (&copy, blob, blob_size) == PROTO_ERR_VERSION);
    sodium_memzero (blob, blob_size);
    free (blob);
    keys_wipe (&copy);

    //  Deterministic from a seed, and the two pairs are unrelated
    uint8_t seed [32];
    memset (seed, 7, sizeof seed);
    keys_t a, b;
    keys_from_seed (&a, seed);
    keys_from_seed (&b, seed);
    assert (memcmp (&a, &b, sizeof a) == 0);
    assert (memcmp (a.sign_public, a.curve_public, WEFT_KEY_SIZE) != 0);
    assert (keys_encode (&a, &blob, &blob_size) == 0);
    assert (keys_decode (&b, blob, blob_size) == 0);
    free (blob);
    keys_wipe (&a);
    keys_wipe (&b);

    //  Hex
    const uint8_t bytes [4] = { 0x00, 0x9a, 0xff, 0x10 };
    char hex [9];
    keys_hex (bytes, 4, hex);
    assert (strcmp (hex, "009aff10") == 0);
    uint8_t back [4];
    assert (keys_unhex ("009AFF10", back, 4) == 0);
    assert (memcmp (back, bytes, 4) == 0);
    assert (keys_unhex ("009aff1", back, 4) == -1);
    assert (keys_unhex ("009aff100", back, 4) == -1);
    assert (keys_unhex ("009aff1g", back, 4) == -1);
    assert (keys_unhex (" 09aff10", back, 4) == -1);
    assert (keys_unhex (NULL, back, 4) == -1);
    assert (keys_unhex ("", back, 0) == 0);

    //  Z85 (the libzmq man page's test key) and BLAKE2b-256
    uint8_t z85_key [WEFT_KEY_SIZE];
    assert (keys_unhex ("bb88471d65e2659b30c55a5321cebb5aab2b70a398645c26dca2b2fcb43fc518",
                        z85_key, sizeof z85_key) == 0);
    char z85 [41];
    keys_z85 (z85_key, z85);
    assert (strcmp (z85, "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID") == 0);
    uint8_t hash [32];
    keys_hash ("abc", 3, hash);
    char hash_hex [65];
    keys_hex (hash, 32, hash_hex);
    assert (strcmp (hash_hex,
        "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319") == 0);
    keys_wipe (&keys);
    //  @end
    printf ("OK\n");
}
