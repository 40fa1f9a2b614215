/*  ctl_import - weftctl hierarchy import of any size up to 4 MiB
    A document that fits one call (56 KiB of arguments) goes as one
    call. A larger one goes in parts of at most CTL_PART_BYTES of nodes
    under a random upload id; the coordinator imports the whole
    document, all or nothing, when the last part arrives
    (coordinator/core/hierupload.h), and that reply is the report.  */

#include <czmq.h>
#include <sodium.h>
#include "tools/ctl.h"

#define CTL_PART_BYTES      (48 * 1024)     //  Nodes per part, as compact JSON
#define CTL_ONE_CALL_BYTES  (56 * 1024)     //  Below the coordinator's 64 KiB
#define CTL_PARTS_MAX       256             //  = HIERUPLOAD_PARTS_MAX

//  The next part: nodes from *index on, as many as fit
static json_t *
s_part (json_t *doc, size_t *index)
{
    json_t *nodes = json_object_get (doc, "nodes");
    json_t *slice = json_array ();
    size_t bytes = 0;
    while (*index < json_array_size (nodes)) {
        json_t *node = json_array_get (nodes, *index);
        char *text = jsontext_dumps (node, JSON_COMPACT);
        size_t size = text? strlen (text) + 1: 0;
        free (text);
        if (json_array_size (slice) && bytes + size > CTL_PART_BYTES)
            break;
        json_array_append (slice, node);
        bytes += size;
        (*index)++;
    }
    json_t *part = json_deep_copy (doc);
    json_object_set_new (part, "nodes", slice);
    return part;
}

int
ctl_import (ctl_t *self, json_t *args, json_t **result_p)
{
    *result_p = NULL;
    json_t *doc = json_object_get (args, "doc");
    char *text = jsontext_dumps (args, JSON_COMPACT);
    size_t size = text? strlen (text): 0;
    free (text);
    json_t *nodes = json_object_get (doc, "nodes");
    if (size <= CTL_ONE_CALL_BYTES || !json_is_array (nodes))
        return ctl_call (self, "hierarchy.import", args, result_p);

    //  Count the parts first: the coordinator needs the total in each
    size_t parts = 0;
    for (size_t index = 0; index < json_array_size (nodes); parts++) {
        json_t *part = s_part (doc, &index);
        json_decref (part);
    }
    if (parts > CTL_PARTS_MAX) {
        ctl_fail ("the document needs %zu parts; at most %d", parts, CTL_PARTS_MAX);
        json_decref (args);
        return CTL_USAGE;
    }
    uint8_t id_bin [8];
    char id [17];
    randombytes_buf (id_bin, sizeof id_bin);
    keys_hex (id_bin, sizeof id_bin, id);
    int rc = CTL_OK;
    size_t index = 0;
    for (size_t number = 1; number <= parts && rc == CTL_OK; number++) {
        json_t *part = s_part (doc, &index);
        json_t *call = json_pack ("{s:o, s:{s:s, s:I, s:I}}", "doc", part, "upload",
                                  "id", id, "part", (json_int_t) number, "parts", (json_int_t) parts);
        json_t *result = NULL;
        rc = ctl_call (self, "hierarchy.import", call, &result);
        if (rc == CTL_OK && number < parts) {
            if (self->verbose)
                fprintf (stderr, "weftctl: upload %s: part %zu of %zu staged\n", id, number, parts);
            if ((size_t) json_integer_value (json_object_get (result, "received")) != number) {
                ctl_fail ("upload %s: the coordinator holds %lld parts after part %zu (expired?)",
                          id, (long long) json_integer_value (json_object_get (result, "received")),
                          number);
                rc = CTL_REFUSED;
            }
            json_decref (result);
        }
        else
        if (rc == CTL_OK)
            *result_p = result;
    }
    json_decref (args);
    return rc;
}
