/*  weft-artifact - build, sign and check releases (docs/updates.md)
    Works on a release repository, a directory the publisher keeps off
    the coordinator:
        REPO/root.N              signed roots, one per version
        REPO/targets             the releases on offer
        REPO/snapshot            the targets version and hash
        REPO/timestamp           the snapshot version and hash
        REPO/manifests/NAME_VERSION
        REPO/chunks/HEX          content-defined chunks, zlib-compressed
    Each role is written unsigned; every key holder signs it alone with
    `sign` (on their own machine, with their own key), and `merge`
    gathers the signatures. Nothing here talks to the network.
    Exit codes: 0 success, 1 failed or refused, 2 usage error.  */

#include <czmq.h>
#include <jansson.h>
#include <sodium.h>
#include <zlib.h>
#include "proto/chunker.h"
#include "proto/manifest.h"
#include "proto/release.h"
#include "proto/keys.h"
#include "proto/io/keyfile.h"
#include "proto/io/options.h"
#include "proto/io/filewrite.h"
#include "tools/artifact.h"

static const option_spec_t s_specs [] = {
    { "repo", "DIR", NULL, "the release repository" },
    { "out", "FILE", NULL, "keygen, merge: where to write" },
    { "key", "FILE", NULL, "sign: the key file to sign with (from keygen)" },
    { "name", "NAME", NULL, "build: the artifact's name" },
    { "version", "TEXT", NULL,
      "build: the artifact's version (e.g. 2.4.1); root, targets, snapshot,\n"
      "timestamp: the role's version (default: one above the repository's)" },
    { "types", "LIST", "*", "build: device types it fits, comma-separated" },
    { "handler", "NAME", "file", "build: how it installs (file, ab, script, config, firmware)" },
    { "anti-rollback", "N", "0", "build: a device never installs below this" },
    { "delta-from", "VERSION", NULL,
      "build: also store each new chunk as a delta against the chunk at the same\n"
      "offset of this earlier version of the artifact, where that is smaller" },
    { "ima", "PATH=SHA256,...", NULL,
      "build: files the release installs, as IMA measures them (reference values)" },
    { "ima-from", "FILE", NULL,
      "build: more such files from an IMA ascii list or sha256sum output" },
    { "boot", "PCR:SHA256,...", NULL,
      "build: boot measurements (event-log digests) the release introduces" },
    { "expires", "DURATION", NULL,
      "root, targets, snapshot, timestamp: lifetime (e.g. 365d, 30d, 7d, 1d)" },
    { "tenant", "TENANT", NULL, "root: the tenant whose releases these are" },
    { "bundle", "FILE", NULL, "verify: check this bundle instead of a repository" },
    { "deltas", "yes|no", "no",
      "bundle: also carry the repository's deltas of the chunks it carries (for an\n"
      "upload to the coordinator, which sends them over its sites' uplinks)" },
    { "root", "FILE", NULL, "verify --bundle: the root the devices trust (pinned)" },
    { "root-keys", "HEX,...", NULL, "root: public keys of the root role" },
    { "root-threshold", "N", "1", "root: signatures the root role needs" },
    { "allow-downgrade", "NAME=N,...", NULL,
      "root: let devices install release NAME of anti-rollback version N or more, even "
      "below the one installed" },
    { "targets-keys", "HEX,...", NULL, "root: public keys of the targets role" },
    { "targets-threshold", "N", "1", "root: signatures the targets role needs" },
    { "snapshot-keys", "HEX,...", NULL, "root: public keys of the snapshot role" },
    { "snapshot-threshold", "N", "1", "root: signatures the snapshot role needs" },
    { "timestamp-keys", "HEX,...", NULL, "root: public keys of the timestamp role" },
    { "timestamp-threshold", "N", "1", "root: signatures the timestamp role needs" },
    { NULL, NULL, NULL, NULL }
};

static const char *s_synopsis =
    "usage: weft-artifact COMMAND [options] [ARGS]\n"
    "  keygen --out FILE                       a release key (prints its public key)\n"
    "  build --repo R --name N --version V [--types T --handler H --anti-rollback N]\n"
    "        [--delta-from VERSION] [--ima P=H,.. --ima-from F --boot PCR:H,..] FILE\n"
    "  root --repo R --tenant T --expires D --root-keys K,.. --targets-keys K,..\n"
    "       --snapshot-keys K --timestamp-keys K [--*-threshold N] [--version N]\n"
    "       [--allow-downgrade NAME=N,...]\n"
    "  targets --repo R --expires D NAME=VERSION...\n"
    "  snapshot --repo R --expires D\n"
    "  timestamp --repo R --expires D\n"
    "  sign --key KEYFILE FILE...              add the key's signature to each role file\n"
    "  merge --out FILE A B                    gather the signatures of A and B\n"
    "  bundle --repo R --out FILE [--deltas yes] [ASSIGNMENT...]  the release in one file\n"
    "  verify --repo R                         walk the chain of trust and every chunk\n"
    "  verify --bundle FILE --root ROOT        check a bundle as a node importing it does\n"
    "  inspect FILE                            print a role, manifest or assignment as JSON";

uint8_t *
artifact_read (const char *path, size_t max, size_t *size_p)
{
    char *error;
    uint8_t *data = (uint8_t *) filewrite_read (path, max, size_p, &error);
    if (!data) {
        artifact_fail ("%s", error);
        free (error);
    }
    return data;
}

int
artifact_write (const char *path, const void *data, size_t size, mode_t mode)
{
    char *error;
    if (filewrite_atomic (path, data, size, mode, &error)) {
        artifact_fail ("%s", error);
        free (error);
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  keygen, sign, merge

static int
s_keygen (keyfile_t *options)
{
    const char *out = keyfile_get (options, "out");
    if (!out) {
        artifact_fail ("keygen needs --out FILE");
        return 2;
    }
    keys_t keys;
    keys_generate (&keys);
    keyfile_t *file = keyfile_new ();
    keyfile_set (file, "kind", "release-key");
    keyfile_set_bin (file, "public", keys.sign_public, WEFT_KEY_SIZE);
    keyfile_set_bin (file, "secret", keys.sign_secret, WEFT_SECRET_SIZE);
    int rc = keyfile_save (file, out, true);
    keyfile_destroy (&file);
    char hex [2 * WEFT_KEY_SIZE + 1];
    keys_hex (keys.sign_public, WEFT_KEY_SIZE, hex);
    keys_wipe (&keys);
    if (rc) {
        artifact_fail ("cannot write %s", out);
        return 1;
    }
    printf ("%s\n", hex);
    return 0;
}

static int
s_sign (keyfile_t *options, int argc, char *argv [], int argi)
{
    const char *key_path = keyfile_get (options, "key");
    if (!key_path || argi >= argc) {
        artifact_fail ("sign needs --key FILE and one or more role files");
        return 2;
    }
    const char *error;
    keyfile_t *file = keyfile_load (key_path, true, &error);
    uint8_t secret [1][WEFT_SECRET_SIZE];
    if (!file || keyfile_get_bin (file, "secret", secret [0], WEFT_SECRET_SIZE)) {
        artifact_fail ("%s: %s", key_path, file? "not a release key": error);
        keyfile_destroy (&file);
        return 1;
    }
    keyfile_destroy (&file);
    int rc = 0;
    for (; argi < argc && rc == 0; argi++) {
        size_t size, body_size, signed_size, merged_size;
        uint8_t *data = artifact_read (argv [argi], WEFT_FRAME_MAX, &size);
        release_role_t role;
        const uint8_t *body;
        uint8_t *signed_data = NULL, *merged = NULL;
        if (!data)
            rc = 1;
        else
        if (release_open (data, size, &role, &body, &body_size)) {
            artifact_fail ("%s is not a release role", argv [argi]);
            rc = 1;
        }
        else
        if (release_sign (role, body, body_size, (const uint8_t (*) [64]) secret, 1,
                          &signed_data, &signed_size)
        ||  release_merge (data, size, signed_data, signed_size, &merged, &merged_size)) {
            artifact_fail ("%s: too many signatures", argv [argi]);
            rc = 1;
        }
        else
            rc = artifact_write (argv [argi], merged, merged_size, 0644)? 1: 0;
        free (data);
        free (signed_data);
        free (merged);
    }
    sodium_memzero (secret, sizeof secret);
    return rc;
}

static int
s_merge (keyfile_t *options, int argc, char *argv [], int argi)
{
    const char *out = keyfile_get (options, "out");
    if (!out || argc - argi != 2) {
        artifact_fail ("merge needs --out FILE and two role files");
        return 2;
    }
    size_t a_size, b_size, size;
    uint8_t *a = artifact_read (argv [argi], WEFT_FRAME_MAX, &a_size);
    uint8_t *b = a? artifact_read (argv [argi + 1], WEFT_FRAME_MAX, &b_size): NULL;
    uint8_t *merged = NULL;
    int rc = b? release_merge (a, a_size, b, b_size, &merged, &size): RELEASE_MALFORMED;
    if (b && rc)
        artifact_fail ("cannot merge: %s", release_strerror (rc));
    if (!rc)
        rc = artifact_write (out, merged, size, 0644);
    free (a);
    free (b);
    free (merged);
    return rc? 1: 0;
}

int
main (int argc, char *argv [])
{
    if (sodium_init () < 0)
        return 1;
    zsys_init ();
    zsys_set_logident ("weft-artifact");
    if (argc < 2 || argv [1][0] == '-') {
        puts (s_synopsis);
        return argc < 2? 2: 0;
    }
    const char *command = argv [1];
    int argi = 0, exit_code = 0;
    keyfile_t *options = options_parse (s_synopsis, s_specs, argc - 1, argv + 1, &argi,
                                        &exit_code);
    if (!options)
        return exit_code;
    argi++;                             //  Relative to argv, past the command
    int rc = 2;
    if (streq (command, "keygen"))
        rc = s_keygen (options);
    else
    if (streq (command, "sign"))
        rc = s_sign (options, argc, argv, argi);
    else
    if (streq (command, "merge"))
        rc = s_merge (options, argc, argv, argi);
    else
    if (streq (command, "build"))
        rc = artifact_build (options, argc, argv, argi);
    else
    if (streq (command, "root") || streq (command, "targets") || streq (command, "snapshot")
    ||  streq (command, "timestamp"))
        rc = artifact_role (command, options, argc, argv, argi);
    else
    if (streq (command, "bundle"))
        rc = artifact_bundle (options, argc, argv, argi);
    else
    if (streq (command, "verify"))
        rc = artifact_verify (options);
    else
    if (streq (command, "inspect"))
        rc = argi < argc? artifact_inspect (argv [argi]): 2;
    else
        artifact_fail ("unknown command '%s' (weft-artifact --help)", command);
    keyfile_destroy (&options);
    return rc;
}
