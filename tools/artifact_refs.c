/*  artifact_refs - a release's reference values from weft-artifact's
    options: --ima PATH=SHA256HEX,... and --ima-from FILE (an IMA ascii
    measurement list or sha256sum output) for the files it installs,
    --boot PCR:SHA256HEX,... for the boot measurements it introduces
    (docs/updates.md, Manifest). The parsing itself is proto/manifest's,
    the one a device and the coordinator share.  */

#include <czmq.h>
#include <jansson.h>
#include "proto/manifest.h"
#include "proto/keys.h"
#include "tools/artifact.h"

#define S_LIST_MAX  (4 * 1024 * 1024)   //  Bytes of an --ima-from file

//  Each comma-separated item of list through parse into refs. 0, or 1
//  (said why).
static int
s_items (const char *list, manifest_refs_t *refs, bool ima)
{
    char *copy = strdup (list);
    assert (copy);
    char error [256];
    int rc = 0;
    char *save = NULL;
    for (char *item = strtok_r (copy, ",", &save); item && rc == 0;
         item = strtok_r (NULL, ",", &save)) {
        if (ima && refs->ima_count == MANIFEST_IMA_MAX) {
            artifact_fail ("more than %d IMA references", MANIFEST_IMA_MAX);
            rc = 1;
        }
        else
        if (!ima && refs->boot_count == MANIFEST_BOOT_MAX) {
            artifact_fail ("more than %d boot references", MANIFEST_BOOT_MAX);
            rc = 1;
        }
        else
        if (ima? manifest_ima_parse (item, &refs->ima [refs->ima_count++], error,
                                     sizeof error)
               : manifest_boot_parse (item, &refs->boot [refs->boot_count++], error,
                                      sizeof error)) {
            artifact_fail ("%s", error);
            rc = 1;
        }
    }
    free (copy);
    return rc;
}

int
artifact_refs_load (keyfile_t *options, manifest_refs_t *refs)
{
    memset (refs, 0, sizeof *refs);
    const char *from = keyfile_get (options, "ima-from");
    if (from) {
        size_t size;
        uint8_t *text = artifact_read (from, S_LIST_MAX, &size);
        if (!text)
            return 1;
        char error [256];
        int rc = manifest_ima_list ((const char *) text, size, refs, error, sizeof error);
        free (text);
        if (rc) {
            artifact_fail ("%s: %s", from, error);
            return 1;
        }
    }
    const char *ima = keyfile_get (options, "ima");
    int rc = ima? s_items (ima, refs, true): 0;
    const char *boot = keyfile_get (options, "boot");
    if (rc == 0 && boot)
        rc = s_items (boot, refs, false);
    return rc;
}

json_t *
artifact_refs_json (const manifest_t *manifest)
{
    if (!manifest->ima_count && !manifest->boot_count)
        return NULL;
    manifest_refs_t *refs = (manifest_refs_t *) zmalloc (sizeof (manifest_refs_t));
    json_t *out = NULL;
    if (manifest_refs (manifest, refs) == 0) {
        json_t *ima = json_array (), *boot = json_array ();
        char hex [65];
        for (size_t i = 0; i < refs->ima_count; i++) {
            keys_hex (refs->ima [i].digest, 32, hex);
            json_array_append_new (ima, json_pack ("{s:s, s:s}", "path", refs->ima [i].path,
                                                   "sha256", hex));
        }
        for (size_t i = 0; i < refs->boot_count; i++) {
            keys_hex (refs->boot [i].digest, 32, hex);
            json_array_append_new (boot, json_pack ("{s:i, s:s}", "pcr",
                                                    (int) refs->boot [i].pcr, "sha256", hex));
        }
        out = json_pack ("{s:o, s:o}", "ima", ima, "boot", boot);
    }
    free (refs);
    return out;
}
