/*  release_fixture - a publisher's keys and signed roles for the
    selftests and fuzz targets of releases and bundles: the keys of the
    golden vectors (root 0x10..0x12, 2 of 3; targets 0x20, 0x21, 2 of
    2; snapshot 0x30; timestamp 0x40; coordinator 0xc0; a stranger
    0xee), tenant acme, at FIXTURE_NOW. Also weft-sim's release
    (sim/rollout.c), with keys of its own from the seed; never weft-node
    or weft-coord.  */

#ifndef WEFT_RELEASE_FIXTURE_H_INCLUDED
#define WEFT_RELEASE_FIXTURE_H_INCLUDED

#include "proto/keys.h"
#include "proto/release.h"

#define FIXTURE_NOW     1800000000000ULL
#define FIXTURE_DAY     (86400ULL * 1000)

typedef struct {
    keys_t root [3], targets [2], snapshot, timestamp, coord, rogue;
    const char *tenant;             //  Whose publications these are; NULL = acme
} release_fixture_t;

//  A publication: targets, snapshot and timestamp of one version
typedef struct {
    uint8_t *targets, *snapshot, *timestamp;
    size_t targets_size, snapshot_size, timestamp_size;
} release_published_t;

void
    release_fixture_keys (release_fixture_t *k);

//  body signed as role by each of keys
uint8_t *
    release_fixture_sign (release_role_t role, const uint8_t *body, size_t body_size,
                          const keys_t *keys, size_t count, size_t *size_p);

//  A root of version naming root_keys (3, threshold 2) and the fixture's
//  other keys, signed by signers
uint8_t *
    release_fixture_root (const release_fixture_t *k, uint64_t version, uint64_t expires_ms,
                          const keys_t *signers, size_t count, const keys_t *root_keys,
                          size_t *size_p);

//  The same for another tenant than acme
uint8_t *
    release_fixture_root_of (const release_fixture_t *k, const char *tenant, uint64_t version,
                             uint64_t expires_ms, const keys_t *signers, size_t count,
                             const keys_t *root_keys, size_t *size_p);

//  Publish targets as version v of every role, the timestamp expiring then
void
    release_fixture_publish (const release_fixture_t *k, uint64_t v,
                             const release_target_t *targets, size_t count,
                             uint64_t timestamp_expires, release_published_t *out);
//  The same, the targets signed by signers (fewer than the threshold,
//  a stranger) instead of both targets keys
void
    release_fixture_publish_by (const release_fixture_t *k, uint64_t v,
                                const release_target_t *targets, size_t count,
                                uint64_t timestamp_expires, const keys_t *signers,
                                size_t signer_count, release_published_t *out);
void
    release_fixture_free (release_published_t *published);

//  The director's assignment of plc-runtime version (manifest hash) to
//  device of acme, signed by signer. Caller frees.
uint8_t *
    release_fixture_assign (const keys_t *signer, const char *device, const char *version,
                            const uint8_t hash [32], uint64_t issued, uint64_t expires,
                            size_t *size_p);

//  A bundle (proto/bundle.h): root, publication v of one release name
//  version (types gateway, handler file) of artifact_size deterministic
//  bytes, its manifest and every chunk. Caller frees; manifest_hash
//  gets the manifest's hash.
uint8_t *
    release_fixture_bundle (const release_fixture_t *k, const uint8_t *root, size_t root_size,
                            uint64_t v, const char *name, const char *version,
                            size_t artifact_size, uint8_t manifest_hash [32], size_t *size_p);

//  Take a publication into trust: timestamp, snapshot, targets
int
    release_fixture_take (release_trust_t *trust, const release_published_t *published,
                          uint64_t now_ms);

#endif
