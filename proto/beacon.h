/*  beacon - the LAN discovery beacon (one UDP datagram), no I/O
    A beacon says only what a neighbour needs to dial this node:

        offset  size  field
        0       4     magic "WFTB"
        4       1     version (1)
        5       16    deployment: BLAKE2b-256 of the CA's root public
                      key, first 16 bytes
        21      2     mesh port, big-endian, 1..65535
        23      32    CURVE public key (the listener's server key)

    55 bytes; longer datagrams (up to BEACON_MAX) are accepted and the
    bytes after the key ignored, so later versions can append fields.
    The dialler takes the address from the datagram's source. A beacon
    proves nothing: it is unsigned and anyone on the LAN can send one.
    Admission is the HELLO's business (docs/mesh.md).  */

#ifndef WEFT_BEACON_H_INCLUDED
#define WEFT_BEACON_H_INCLUDED

#include "proto.h"

#define BEACON_SIZE             55          //  Version 1 datagram
#define BEACON_MAX              512         //  Largest datagram parsed
#define BEACON_VERSION          1
#define BEACON_FINGERPRINT_SIZE 16

typedef struct {
    uint8_t deployment [BEACON_FINGERPRINT_SIZE];
    uint16_t port;
    uint8_t curve_key [WEFT_KEY_SIZE];
} beacon_t;

//  The deployment fingerprint of a CA root public key.
void
    beacon_fingerprint (const uint8_t ca_key [WEFT_KEY_SIZE],
                        uint8_t fingerprint [BEACON_FINGERPRINT_SIZE]);

//  Encode into data (BEACON_SIZE bytes). Returns 0, or PROTO_ERR_VALUE
//  for port 0.
int
    beacon_encode (const beacon_t *beacon, uint8_t data [BEACON_SIZE]);

//  Decode one datagram. Returns 0, PROTO_ERR_TRUNCATED (shorter than
//  BEACON_SIZE), PROTO_ERR_OVERSIZE (longer than BEACON_MAX),
//  PROTO_ERR_MALFORMED (not a beacon), PROTO_ERR_VERSION or
//  PROTO_ERR_VALUE (port 0); *beacon is zeroed on error.
int
    beacon_decode (beacon_t *beacon, const uint8_t *data, size_t size);

void
    beacon_test (bool verbose);

#endif
