/*  artifact - what the parts of weft-artifact share (tools/artifact*.c)  */

#ifndef WEFT_ARTIFACT_H_INCLUDED
#define WEFT_ARTIFACT_H_INCLUDED

#include <czmq.h>
#include <jansson.h>
#include "proto/io/options.h"
#include "proto/release.h"
#include "proto/manifest.h"

//  Print "weft-artifact: message" on stderr.
#define artifact_fail(...) options_fail ("weft-artifact", __VA_ARGS__)

//  A whole file of at most max bytes, or NULL (said why).
uint8_t *
    artifact_read (const char *path, size_t max, size_t *size_p);

//  Replace path atomically. 0, or -1 (said why).
int
    artifact_write (const char *path, const void *data, size_t size, mode_t mode);

//  The commands; each returns the exit code.
int
    artifact_build (keyfile_t *options, int argc, char *argv [], int argi);
int
    artifact_role (const char *role, keyfile_t *options, int argc, char *argv [], int argi);
int
    artifact_verify (keyfile_t *options);
int
    artifact_inspect (const char *path);
int
    artifact_bundle (keyfile_t *options, int argc, char *argv [], int argi);
int
    artifact_bundle_verify (const char *path, const char *root_path);

//  The reference values build's options name (--ima, --ima-from,
//  --boot) into refs. 0, or the exit code (said why).
int
    artifact_refs_load (keyfile_t *options, manifest_refs_t *refs);

//  A decoded manifest's reference values as {ima: [{path, sha256}],
//  boot: [{pcr, sha256}]}, or NULL when it has none.
json_t *
    artifact_refs_json (const manifest_t *manifest);

//  The repository's chain walked from root.1, as a device walks it:
//  a heap copy of the trust it ends on, or NULL (said why).
release_trust_t *
    artifact_trust (const char *repo, uint64_t now_ms);

#endif
