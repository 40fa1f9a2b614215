/*  coord_chunks_test - selftest of the chunks the coordinator serves: a
    CHUNK_WANT of a node linked directly is answered on its link, one
    CHUNK_DATA per address, with the chunk of a release of the node's
    tenant (it unpacks to its address), and size 0 for an address the
    release does not name, another tenant's release, or a custody
    transfer (refused); a delta instead only to an asker naming a
    release of its own tenant that holds the delta's bases. On a real
    store.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "proto/envelope.h"
#include "proto/release_fixture.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/relroot.h"
#include "coordinator/core/coord_internal.h"
#include "coordinator/core/director_fixture.h"

typedef struct {
    zlistx_t *sent;                 //  Frames sent on links (zchunk_t)
    char to [WEFT_NAME_MAX + 1];
} s_links_t;

static void
s_send_link (void *ctx, const char *device_id, const uint8_t *frame, size_t size)
{
    s_links_t *links = (s_links_t *) ctx;
    snprintf (links->to, sizeof links->to, "%s", device_id);
    zlistx_add_end (links->sent, zchunk_new (frame, size));
}

//  Send a CHUNK_WANT of addresses as origin, naming have_count releases
//  held; the chunk sizes answered (0: not served), packed chunks checked
//  against their addresses, deltas against the delta the test stored
static int
s_want_full (coord_t *coord, s_links_t *links, const keys_t *keys, const char *origin,
             const uint8_t manifest [32], const uint8_t *addresses, size_t count,
             const uint8_t *have, size_t have_count, bool custody, uint32_t *sizes)
{
    updmsg_t want = { .type = MSG_CHUNK_WANT, .addresses = addresses, .address_count = count,
                      .have = have, .have_count = have_count };
    memcpy (want.manifest, manifest, 32);
    uint8_t *payload, *frame;
    size_t payload_size, frame_size;
    assert (updmsg_encode (&want, &payload, &payload_size) == 0);
    envelope_head_t head = { .type = MSG_CHUNK_WANT, .origin = origin, .seq = FIXTURE_NOW,
                             .hlc = FIXTURE_NOW << 16, .hop_limit = 1 };
    assert (envelope_seal (&head, payload, payload_size, keys->sign_secret, NULL, &frame,
                           &frame_size) == 0);
    coord_link_t link;
    memset (&link, 0, sizeof link);
    link.custody = custody;
    uint8_t *reply = NULL;
    size_t reply_size;
    int rc = coord_on_mesh_link (coord, origin, &link, frame, frame_size, FIXTURE_NOW, &reply,
                                 &reply_size);
    free (reply);
    free (frame);
    free (payload);
    size_t index = 0;
    for (zchunk_t *chunk = (zchunk_t *) zlistx_first (links->sent); chunk;
         chunk = (zchunk_t *) zlistx_next (links->sent), index++) {
        envelope_t env;
        updmsg_t data;
        assert (envelope_decode (&env, zchunk_data (chunk), zchunk_size (chunk)) == 0);
        assert (env.type == MSG_CHUNK_DATA && env.hop_limit == 1 && streq (links->to, origin));
        assert (updmsg_decode (&data, env.type, env.payload, env.payload_size) == 0);
        assert (memcmp (data.address, addresses + 32 * index, 32) == 0);
        sizes [index] = data.size;
        if (data.delta_size)
            assert (data.delta_size == 37 && !data.packed_size && data.delta [0] == 1);
        else
        if (data.size) {
            uint8_t *chunk_bytes = (uint8_t *) zmalloc (data.size);
            assert (chunker_unpack (data.packed, data.packed_size, data.address, chunk_bytes,
                                    data.size) == 0);
            free (chunk_bytes);
        }
    }
    assert (index == (rc == 0? count: 0));
    zlistx_purge (links->sent);
    return rc;
}

static int
s_want (coord_t *coord, s_links_t *links, const keys_t *keys, const char *origin,
        const uint8_t manifest [32], const uint8_t *addresses, size_t count, bool custody,
        uint32_t *sizes)
{
    return s_want_full (coord, links, keys, origin, manifest, addresses, count, NULL, 0,
                        custody, sizes);
}

static int
s_want_have (coord_t *coord, s_links_t *links, const keys_t *keys, const char *origin,
             const uint8_t manifest [32], const uint8_t *addresses, size_t count,
             const uint8_t *have, size_t have_count, uint32_t *sizes)
{
    return s_want_full (coord, links, keys, origin, manifest, addresses, count, have,
                        have_count, false, sizes);
}

void
coord_chunks_test (bool verbose)
{
    printf (" * coord_chunks: ");
    //  @selftest
    char dir [] = "/tmp/weft-coord-chunks-test-XXXXXX";
    assert (mkdtemp (dir));
    store_t *store = store_new (dir, registry_tables (), 0);
    assert (store);
    //  acme's release plc 1.0 in the repository
    uint8_t manifest [32];
    artrepo_t *repo = artrepo_new (store);
    director_fixture_release (store, repo, 150 * 1024, manifest);
    store_txn_t *txn = store_begin (store, true);
    //  Two addresses of the release, and one it does not name
    size_t manifest_size;
    uint8_t *manifest_data = artrepo_manifest (txn, "acme", "plc", "1.0", &manifest_size);
    manifest_t parsed;
    assert (manifest_decode (&parsed, manifest_data, manifest_size) == 0);
    uint8_t addresses [3 * 32];
    const uint8_t *address;
    uint32_t chunk_size;
    manifest_chunk (&parsed, 0, &address, &chunk_size);
    memcpy (addresses, address, 32);
    manifest_chunk (&parsed, parsed.chunk_count - 1, &address, &chunk_size);
    memcpy (addresses + 32, address, 32);
    randombytes_buf (addresses + 64, 32);
    //  A delta an upload kept of the first chunk, against the last: only
    //  for an asker whose have names a release of the tenant holding
    //  that base
    uint8_t delta [1 + 32 + 4] = { 1 };
    memcpy (delta + 1, addresses + 32, 32);
    memcpy (delta + 33, "\x28\xb5\x2f\xfd", 4);
    char hex [65], key [WEFT_NAME_MAX + 80];
    keys_hex (addresses, 32, hex);
    snprintf (key, sizeof key, "delta/acme/%s", hex);
    assert (store_put (txn, ARTREPO_TABLE, key, strlen (key), delta, sizeof delta) == 0);
    size_t delta_size;
    uint8_t *served = artrepo_serve_delta (repo, txn, "acme", manifest, 1, addresses,
                                           &delta_size);
    assert (served && delta_size == sizeof delta && memcmp (served, delta, sizeof delta) == 0);
    free (served);
    uint8_t stranger [32];
    randombytes_buf (stranger, sizeof stranger);
    assert (!artrepo_serve_delta (repo, txn, "globex", manifest, 1, addresses, &delta_size));
    assert (!artrepo_serve_delta (repo, txn, "acme", stranger, 1, addresses, &delta_size));
    assert (!artrepo_serve_delta (repo, txn, "acme", manifest, 0, addresses, &delta_size));
    assert (!artrepo_serve_delta (repo, txn, "acme", manifest, 1, addresses + 32,
                                  &delta_size));     //  None kept of that chunk
    delta [1] ^= 1;             //  A base the release does not name
    assert (store_put (txn, ARTREPO_TABLE, key, strlen (key), delta, sizeof delta) == 0);
    assert (!artrepo_serve_delta (repo, txn, "acme", manifest, 1, addresses, &delta_size));
    delta [1] ^= 1;
    assert (store_put (txn, ARTREPO_TABLE, key, strlen (key), delta, sizeof delta) == 0);
    assert (store_commit (&txn) == 0);
    artrepo_destroy (&repo);

    keys_t ca, keys, site_a, site_g;
    keys_generate (&ca);
    keys_generate (&keys);
    keys_generate (&site_a);
    keys_generate (&site_g);
    director_fixture_server (store, "site-a", "acme", "acme", &site_a);
    director_fixture_server (store, "site-g", "globex", "globex", &site_g);
    s_links_t links = { zlistx_new (), "" };
    zlistx_set_destructor (links.sent, (czmq_destructor *) zchunk_destroy);
    coord_effects_t effects = { &links, NULL, s_send_link };
    uint8_t cert [1] = { 0 };
    coord_t *coord = coord_new (store, &ca, &keys, cert, sizeof cert, &effects);
    assert (coord);

    //  acme's site server gets acme's chunks; not an address the
    //  release does not name
    uint32_t sizes [3];
    assert (s_want (coord, &links, &site_a, "site-a", manifest, addresses, 3, false, sizes)
            == 0);
    assert (sizes [0] > 0 && sizes [1] > 0 && sizes [2] == 0);
    const coord_stats_t *stats = coord_stats (coord);
    assert (stats->chunk_wants == 1 && stats->chunks_served == 2);
    assert (stats->chunk_bytes_served > 0);
    //  globex's gets nothing of acme's release
    assert (s_want (coord, &links, &site_g, "site-g", manifest, addresses, 2, false, sizes)
            == 0);
    assert (sizes [0] == 0 && sizes [1] == 0);
    assert (stats->chunks_served == 2);
    //  Naming a release it holds, acme's server gets the first chunk as
    //  the delta only when it is smaller than the packed chunk (a frame
    //  of 4 bytes is); globex's, naming the same, gets no delta
    const uint8_t *have = manifest;
    uint64_t deltas = stats->chunk_deltas_served, bytes = stats->chunk_bytes_served;
    assert (s_want_have (coord, &links, &site_a, "site-a", manifest, addresses, 2, have, 1,
                         sizes) == 0);
    assert (sizes [0] > 0 && sizes [1] > 0);
    assert (stats->chunk_deltas_served == deltas + 1);
    assert (stats->chunks_served == 4);
    assert (s_want_have (coord, &links, &site_g, "site-g", manifest, addresses, 1, have, 1,
                         sizes) == 0);
    assert (sizes [0] == 0 && stats->chunk_deltas_served == deltas + 1);
    assert (stats->chunk_bytes_served > bytes);
    //  Never as a custody transfer
    assert (s_want (coord, &links, &site_a, "site-a", manifest, addresses, 1, true, sizes)
            == PROTO_ERR_REFUSED);

    coord_destroy (&coord);
    zlistx_destroy (&links.sent);
    keys_wipe (&ca);
    keys_wipe (&keys);
    keys_wipe (&site_a);
    keys_wipe (&site_g);
    free (manifest_data);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    if (verbose)
        printf ("(served per tenant, size 0 otherwise, link-local only) ");
    //  @end
    printf ("OK\n");
}
