/*  fuzz/bundlein - libFuzzer target for the arguments of the operator
    port's bundle uploads (node/io/bundlein.c)
    The input is a sequence of calls, one a line: its first byte picks
    the method (p put, i import, s status), the rest is the arguments'
    text, as an operator's request would carry it. Whatever they are,
    each call ends OK with a result or a refusal with a reason, and the
    file of the upload holds exactly the bytes said received, never
    more than its size. A node that takes no bundles (NULL) is given, so
    no import runs: the import functions below stand in for
    node/io/import.c, which needs a whole node, and are never reached.
    The module is included (fuzz targets link proto/ only).  */

#include "node/io/bundlein.c"

import_t *
import_new (node_t *node, store_t *store, const char *path, const char *name,
            const uint8_t coord_key [32], uint64_t now_ms, char **error)
{
    (void) node, (void) store, (void) path, (void) name, (void) coord_key, (void) now_ms;
    (void) error;
    abort ();
}
void import_destroy (import_t **self_p) { assert (!*self_p); }
int import_step (import_t *self, size_t slice, uint64_t now_ms)
{ (void) self, (void) slice, (void) now_ms; abort (); }
int import_state (import_t *self) { (void) self; abort (); }
const char *import_text (import_t *self) { (void) self; abort (); }
void import_progress (import_t *self, uint64_t *done_p, uint64_t *size_p)
{ (void) self, (void) done_p, (void) size_p; abort (); }

static char s_dir [64];

static void
s_clean (void)
{
    char command [128];
    snprintf (command, sizeof command, "rm -rf %s", s_dir);
    if (system (command)) {}
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!*s_dir) {
        snprintf (s_dir, sizeof s_dir, "/tmp/weft-fuzz-bundlein-%d", (int) getpid ());
        mkdir (s_dir, 0700);
        atexit (s_clean);
    }
    uint8_t key [32] = { 0 };
    bundlein_t *in = bundlein_new (NULL, NULL, s_dir, "srv", key, 1 << 20);
    const char *at = (const char *) data, *end = at + size;
    while (at < end) {
        const char *line_end = memchr (at, '\n', (size_t) (end - at));
        if (!line_end)
            line_end = end;
        const char *method = *at == 'p'? "node.bundle.put"
                           : *at == 'i'? "node.bundle.import": "node.bundle.status";
        const char *args = at + 1 <= line_end? at + 1: line_end;
        char *result = NULL, reason [WEFT_TEXT_MAX + 1] = "";
        int status = bundlein_call (in, method, args, (size_t) (line_end - args), 0, &result,
                                    reason);
        assert (status >= WEFT_STATUS_OK && status <= WEFT_STATUS_DENIED);
        assert ((status == WEFT_STATUS_OK) == (result != NULL));
        assert (status == WEFT_STATUS_OK || *reason);
        free (result);
        assert (in->received <= in->size || !*in->id);
        if (*in->id) {
            struct stat st;
            assert (stat (in->path, &st) == 0 && (uint64_t) st.st_size == in->received);
        }
        at = line_end + 1;
    }
    bundlein_destroy (&in);
    return 0;
}
