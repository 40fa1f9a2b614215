/*  release - signed release metadata (TUF roles) and the director's
    assignment (Uptane): a device installs only what a threshold of the
    tenant's release keys published and the coordinator assigned to it
    Four roles, each signed by a threshold of its own keys, each with a
    version and an expiry (docs/updates.md, Trust):
      root      names the keys and thresholds of every role; offline;
                a new root is signed by a threshold of the old root's keys
                and of its own, and its version is the old one + 1
      targets   the releases: name, version, and the BLAKE2b-256 hash and
                size of each manifest (proto/manifest.h)
      snapshot  the targets version and hash the publisher meant, so a
                mix of metadata of two releases is refused
      timestamp the snapshot version and hash, re-signed often with a
                short expiry, so frozen metadata is refused
    Wire form of a signed role:
        signed    = [role: uint (1 root, 2 targets, 3 snapshot, 4 timestamp),
                     body: bin, sigs: bin(n * 96, n <= RELEASE_SIGS_MAX)]
        sig entry = key: 32 bytes || Ed25519 over
                    "weft-<role>-v1" || 0x00 || body: 64 bytes
        root      = [version, expires_ms, tenant: str(64),
                     root_threshold, root_keys: bin(k * 32), targets_threshold,
                     targets_keys, snapshot_threshold, snapshot_keys,
                     timestamp_threshold, timestamp_keys     (k <= RELEASE_KEYS_MAX)
                     (, downgrade_count (1..RELEASE_DOWNGRADES_MAX), then per
                     downgrade: name: str(64), floor: uint)]
                  a downgrade lets a device install release NAME whose
                  anti-rollback version is at least floor, even below the
                  one installed: signed by the offline root keys only, so a
                  stolen coordinator or release key cannot take a fleet back
                  to a vulnerable version; the next root without it ends it
        targets   = [version, expires_ms, tenant, count (<= RELEASE_TARGETS_MAX),
                     then per target: name: str(64), version: str(32),
                     manifest_hash: bin(32), manifest_size: uint]
        snapshot  = [version, expires_ms, tenant, targets_version, targets_hash: bin(32)]
        timestamp = [version, expires_ms, tenant, snapshot_version, snapshot_hash: bin(32)]
    hashes are BLAKE2b-256 of the whole signed form of the role named.
    The director's assignment is signed by the coordinator alone:
        assignment = [body: bin, sig: bin(64)], sig over "weft-assign-v1" || 0x00 || body
        body       = [format: 1, device: str(64), tenant: str(64), name: str(64),
                      version: str(32), manifest_hash: bin(32), issued_ms, expires_ms]
    Neither key alone installs anything: the release keys cannot aim a
    release at a device, the coordinator cannot make one.
    Pure functions over bytes; no clock (the caller passes now).  */

#ifndef WEFT_RELEASE_H_INCLUDED
#define WEFT_RELEASE_H_INCLUDED

#include "proto/proto.h"
#include "proto/manifest.h"

#define RELEASE_KEYS_MAX        16          //  Keys of one role
#define RELEASE_SIGS_MAX        16          //  Signatures on one role
#define RELEASE_TARGETS_MAX     32          //  Releases in one targets role
#define RELEASE_DOWNGRADES_MAX  8           //  Downgrades one root allows
#define RELEASE_ASSIGN_CONTEXT  "weft-assign-v1"

typedef enum {
    RELEASE_ROOT = 1,
    RELEASE_TARGETS = 2,
    RELEASE_SNAPSHOT = 3,
    RELEASE_TIMESTAMP = 4
} release_role_t;

//  Why a release is refused; each has its text (release_strerror)
typedef enum {
    RELEASE_OK = 0,
    RELEASE_MALFORMED = -1,         //  Does not decode within the limits
    RELEASE_THRESHOLD = -2,         //  Too few valid signatures of the role's keys
    RELEASE_EXPIRED = -3,           //  Past its expiry (frozen metadata)
    RELEASE_ROLLED_BACK = -4,       //  Older than the metadata the device trusts
    RELEASE_MISMATCH = -5,          //  Hash or version differs from what the chain names
    RELEASE_UNKNOWN = -6,           //  No such release in the targets
    RELEASE_WRONG_TYPE = -7,        //  Not for this device type
    RELEASE_ANTI_ROLLBACK = -8,     //  Anti-rollback version below the installed one
    RELEASE_NOT_ASSIGNED = -9,      //  No valid assignment by the coordinator to this device
    RELEASE_TENANT = -10,           //  Metadata of another tenant
    RELEASE_ORDER = -11             //  A role before the one it depends on
} release_result_t;

typedef struct {
    uint32_t threshold;
    size_t key_count;
    uint8_t keys [RELEASE_KEYS_MAX][WEFT_KEY_SIZE];
} release_keyset_t;

typedef struct {
    char name [WEFT_NAME_MAX + 1];      //  Of the release (manifest name)
    uint64_t floor;                     //  Lowest anti-rollback version allowed
} release_downgrade_t;

typedef struct {
    uint64_t version;
    uint64_t expires_ms;
    char tenant [WEFT_NAME_MAX + 1];
    release_keyset_t roles [4];         //  Indexed by role - 1
    size_t downgrade_count;
    release_downgrade_t downgrades [RELEASE_DOWNGRADES_MAX];
} release_root_t;

typedef struct {
    char name [WEFT_NAME_MAX + 1];
    char version [MANIFEST_VERSION_MAX + 1];
    uint8_t manifest_hash [32];
    uint64_t manifest_size;
} release_target_t;

typedef struct {
    char device [WEFT_NAME_MAX + 1];
    char tenant [WEFT_NAME_MAX + 1];
    char name [WEFT_NAME_MAX + 1];
    char version [MANIFEST_VERSION_MAX + 1];
    uint8_t manifest_hash [32];
    uint64_t issued_ms;
    uint64_t expires_ms;
} release_assignment_t;

//  What a device trusts: a root, and the newest timestamp, snapshot
//  and targets it accepted (versions never go down).
typedef struct {
    release_root_t root;
    uint64_t timestamp_version, snapshot_version, targets_version;
    uint64_t timestamp_expires_ms, snapshot_expires_ms, targets_expires_ms;
    uint64_t snapshot_named;            //  Snapshot version the timestamp names
    uint8_t snapshot_hash [32];         //  and its hash
    uint64_t targets_named;             //  Targets version the snapshot names
    uint8_t targets_hash [32];          //  and its hash
    size_t target_count;                //  Of the trusted targets
    release_target_t targets [RELEASE_TARGETS_MAX];
} release_trust_t;

const char *
    release_strerror (int result);

//  Sign body as role with each secret (a key holder signs alone; the
//  signatures of several holders are merged by release_merge).
//  Caller frees *out_p. 0 or a PROTO_ERR_ code.
int
    release_sign (release_role_t role, const uint8_t *body, size_t body_size,
                  const uint8_t (*secrets) [WEFT_SECRET_SIZE], size_t secret_count,
                  uint8_t **out_p, size_t *size_p);

//  The signatures of b added to a (same role and body; a key's second
//  signature is dropped). Caller frees *out_p. 0, or RELEASE_MISMATCH
//  if the bodies differ, RELEASE_MALFORMED, or RELEASE_THRESHOLD if the
//  result would exceed RELEASE_SIGS_MAX.
int
    release_merge (const uint8_t *a, size_t a_size, const uint8_t *b, size_t b_size,
                   uint8_t **out_p, size_t *size_p);

//  Role and body of a signed role, borrowed. RELEASE_OK or RELEASE_MALFORMED.
int
    release_open (const uint8_t *data, size_t size, release_role_t *role_p,
                  const uint8_t **body_p, size_t *body_size_p);

//  Bodies of each role: encode (caller frees) and decode.
int
    release_root_encode (const release_root_t *root, uint8_t **out_p, size_t *size_p);
int
    release_root_decode (release_root_t *root, const uint8_t *body, size_t size);
int
    release_targets_encode (uint64_t version, uint64_t expires_ms, const char *tenant,
                            const release_target_t *targets, size_t count,
                            uint8_t **out_p, size_t *size_p);
//  A snapshot (role RELEASE_SNAPSHOT) or timestamp body: the version
//  and hash of the role below it.
int
    release_pointer_encode (uint64_t version, uint64_t expires_ms, const char *tenant,
                            uint64_t named_version, const uint8_t named_hash [32],
                            uint8_t **out_p, size_t *size_p);

//  Bodies of targets, snapshot and timestamp, decoded (no signature is
//  checked: release_trust_update does that). RELEASE_OK or RELEASE_MALFORMED.
int
    release_targets_decode (const uint8_t *body, size_t size, uint64_t *version,
                            uint64_t *expires_ms, char *tenant, release_target_t *targets,
                            size_t *count_p);
int
    release_pointer_decode (const uint8_t *body, size_t size, uint64_t *version,
                            uint64_t *expires_ms, char *tenant, uint64_t *named_version,
                            uint8_t named_hash [32]);

//  The keys a signed role carries signatures of (unchecked), for display.
typedef struct {
    size_t count;
    uint8_t keys [RELEASE_SIGS_MAX][WEFT_KEY_SIZE];
} release_signed_view_t;

int
    release_signatures (const uint8_t *data, size_t size, release_signed_view_t *view);

//  Does root let a release named name of that anti-rollback version
//  in, below the one installed?
bool
    release_downgrade_allowed (const release_root_t *root, const char *name,
                               uint64_t anti_rollback);

//  Start trusting root (the signed form), pinned at enrolment: it must
//  be signed by its own root threshold and unexpired.
int
    release_trust_init (release_trust_t *trust, const uint8_t *root, size_t size,
                        uint64_t now_ms);

//  Take a newer signed role into trust, checked against what it trusts:
//  root (version + 1, threshold of the old root and of itself),
//  timestamp, then snapshot (the hash the timestamp names), then
//  targets (the hash the snapshot names). On refusal trust is unchanged.
int
    release_trust_update (release_trust_t *trust, const uint8_t *data, size_t size,
                          uint64_t now_ms);

//  Check an assignment and a manifest before anything is downloaded:
//  the coordinator's signature (coord_key), for device of tenant,
//  unexpired; a release of the trusted targets with the same name,
//  version and manifest hash; the manifest's bytes hash to it, fit
//  type, and do not go below installed_anti_rollback unless the trusted
//  root allows that downgrade (release_downgrade_allowed). Fills *manifest
//  (borrowing from manifest_data) on success.
int
    release_check (const release_trust_t *trust, const uint8_t *assignment,
                   size_t assignment_size, const uint8_t coord_key [WEFT_KEY_SIZE],
                   const char *device, const char *type, uint64_t installed_anti_rollback,
                   const uint8_t *manifest_data, size_t manifest_size, uint64_t now_ms,
                   manifest_t *manifest);

//  The director's assignment: encode and sign with the coordinator's
//  secret; decode and verify with its key.
int
    release_assign (const release_assignment_t *assignment,
                    const uint8_t secret [WEFT_SECRET_SIZE], uint8_t **out_p, size_t *size_p);
int
    release_assignment_open (release_assignment_t *assignment, const uint8_t *data,
                             size_t size, const uint8_t coord_key [WEFT_KEY_SIZE]);

void
    release_test (bool verbose);

#endif
