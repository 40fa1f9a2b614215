/*  updmsg - the payloads of software updates (types 28..30, 33, 34)
    Wire forms, one msgpack array each (docs/protocol.md section 21):
        UPDATE_OFFER  [metadata: bin(1..UPDMSG_METADATA_MAX)]
        CHUNK_WANT    [manifest: bin(32), addresses: bin(32 * n, 1 <= n <= UPDMSG_WANT_MAX),
                       have: bin(32 * n, 1 <= n <= UPDMSG_HAVE_MAX) (optional)]
        CHUNK_DATA    [manifest: bin(32), address: bin(32), size: uint 0..CHUNKER_MAX,
                       packed: bin(<= UPDMSG_PACKED_MAX),
                       delta: bin(<= UPDMSG_DELTA_MAX) (optional)]
        UPDATE_STATUS [software: str(1..UPDMSG_STATUS_MAX)]
        SOFTWARE_ORDER [order: bin(1..SWORDER_MAX)]
    UPDATE_OFFER travels by custody to one device, from the coordinator
    (the director) or from the node a bundle was imported at. Its
    metadata is a bundle (proto/bundle.h) with no chunk record: the
    tenant's roots, timestamp, snapshot and targets, the manifest of the
    release offered and the director's assignment of it to the device,
    then the end record. The device trusts none of it for who sent it:
    it walks the chain from the root pinned at its enrolment, and the
    assignment carries the coordinator's own signature.
    CHUNK_WANT and CHUNK_DATA are link-local, between neighbours (and
    between a site server and the coordinator): a node asks for chunks
    of a release by the hash of its manifest (so the holder can tell the
    asker knows the release), and the holder answers each address with
    one CHUNK_DATA: the packed chunk (proto/chunker.h) and its unpacked
    size, or size 0 and no bytes when it does not hold it. The asker
    checks the bytes against the address before it keeps them.
    A site server asking its uplink names in have the manifest hashes of
    releases it holds in full; the holder may then answer a chunk with a
    delta (count || base addresses || zstd frame, proto/chunker.h)
    instead of packed, when every base is a chunk of a have release of
    the asker's tenant and the delta is the smaller. The asker applies it
    against its own bases and checks the result against the address.
    UPDATE_STATUS travels by custody from a device to the node whose
    UPDATE_OFFER it took, when that is not the coordinator (a site
    server running its site's part of a campaign, or the node a bundle
    was imported at): the device's reported software (the JSON object
    it reports as reported.software), at every change, so that node
    follows the device also while the site is cut off from the
    coordinator and its reports wait at the device.
    SOFTWARE_ORDER travels by custody from the coordinator to one
    device: an entitlement or an uninstall order the director signed
    (proto/sworder.h). The device trusts it for its signature, never
    for who relayed it.  */

#ifndef WEFT_UPDMSG_H_INCLUDED
#define WEFT_UPDMSG_H_INCLUDED

#include "proto.h"
#include "chunker.h"

#define UPDMSG_METADATA_MAX     (WEFT_FRAME_MAX - 4096)  //  Fits a frame with the envelope
#define UPDMSG_WANT_MAX         64                      //  Addresses in one CHUNK_WANT
#define UPDMSG_PACKED_MAX       (CHUNKER_MAX + 1024)    //  zlib's worst case of a chunk
#define UPDMSG_STATUS_MAX       4096                    //  A device's reported software
#define UPDMSG_HAVE_MAX         4                       //  Releases named in have
#define UPDMSG_DELTA_MAX        (1 + CHUNKER_DELTA_BASES * CHUNKER_HASH_SIZE + UPDMSG_PACKED_MAX)

typedef struct {
    int type;                           //  MSG_UPDATE_OFFER .. MSG_SOFTWARE_ORDER
    //  UPDATE_OFFER: a bundle without chunks (borrowed)
    const uint8_t *metadata;
    size_t metadata_size;
    //  CHUNK_WANT, CHUNK_DATA: the release's manifest hash
    uint8_t manifest [32];
    //  CHUNK_WANT: addresses (borrowed, address_count * 32 bytes)
    const uint8_t *addresses;
    size_t address_count;
    //  CHUNK_WANT: manifest hashes of releases the asker holds in full
    //  (borrowed, have_count * 32 bytes; 0: no deltas wanted)
    const uint8_t *have;
    size_t have_count;
    //  CHUNK_DATA: one address, the chunk's unpacked size (0: not held)
    //  and its packed bytes (borrowed; empty when not held)
    uint8_t address [32];
    uint32_t size;
    const uint8_t *packed;
    size_t packed_size;
    //  CHUNK_DATA: or the chunk as a delta (borrowed), packed then empty
    const uint8_t *delta;
    size_t delta_size;
    //  UPDATE_STATUS: the reported software, JSON text (borrowed)
    const char *status;
    size_t status_size;
    //  SOFTWARE_ORDER: the signed order (borrowed)
    const uint8_t *order;
    size_t order_size;
} updmsg_t;

//  Encode. Returns 0 and a heap buffer (free()), or a proto_rc_t.
int
    updmsg_encode (const updmsg_t *msg, uint8_t **payload_p, size_t *size_p);

//  Decode a payload of the given type. Returns 0 or a proto_rc_t; *msg
//  is zeroed on error.
int
    updmsg_decode (updmsg_t *msg, int type, const uint8_t *payload, size_t size);

//  The rule between CHUNK_DATA's fields (proto/wire_table.c runs it):
//  size 0 with no bytes (not held), or a size and bytes: packed or a
//  delta, not both. 0 or PROTO_ERR_VALUE.
int
    updmsg_check (const void *msg);

void
    updmsg_test (bool verbose);

#endif
