/*  ctl_offline - weftctl for site servers cut off from the coordinator
    "operator credential" fetches, while the coordinator is reachable, a
    credential listing all of the operator's grants and keeps it in the
    identity file (key "cert"); "node stats --node EP --node-key HEX"
    then calls a site server's operator port (weft-node --ops-listen),
    which authorises the request from that credential alone.  */

#include <czmq.h>
#include "proto/cert.h"
#include "tools/ctl.h"

int
ctl_node_mode (ctl_t *self)
{
    const char *endpoint = keyfile_get (self->options, "node");
    const char *key = keyfile_get (self->options, "node-key");
    if (!endpoint || !*endpoint || !key
    ||  strlen (key) != 64 || keys_unhex (key, self->coord_curve, WEFT_KEY_SIZE)) {
        ctl_fail ("node commands need --node ENDPOINT and --node-key HEX (the node's CURVE "
                  "key, 64 hex digits: weftctl device show ID)");
        return CTL_USAGE;
    }
    self->credential = keyfile_get_blob (self->identity, "cert", &self->credential_size);
    if (!self->credential) {
        ctl_fail ("identity %s holds no credential (weftctl operator credential)",
                  self->identity_path);
        return CTL_REFUSED;
    }
    self->endpoint = endpoint;
    self->node_mode = true;
    return CTL_OK;
}

int
ctl_credential_save (ctl_t *self, json_t *result)
{
    const char *cert = json_string_value (json_object_get (result, "cert"));
    if (!cert || !*cert) {
        ctl_fail ("coordinator answered without a credential");
        return CTL_REFUSED;
    }
    keyfile_set (self->identity, "cert", cert);
    if (keyfile_save (self->identity, self->identity_path, true)) {
        ctl_fail ("cannot write %s: %s", self->identity_path, strerror (errno));
        return CTL_REFUSED;
    }
    if (self->json) {
        char *text = jsontext_dumps (result, JSON_INDENT (2) | JSON_SORT_KEYS);
        printf ("%s\n", text);
        free (text);
        return CTL_OK;
    }
    time_t until = (time_t) json_integer_value (json_object_get (result, "not_after"));
    char when [32] = "?";
    struct tm tm;
    if (gmtime_r (&until, &tm))
        strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf ("credential of %s (serial %lld, valid until %s) written to %s; grants:",
            self->name, (long long) json_integer_value (json_object_get (result, "serial")),
            when, self->identity_path);
    size_t index;
    json_t *grant;
    json_array_foreach (json_object_get (result, "grants"), index, grant) {
        const char *path = json_string_value (json_object_get (grant, "path"));
        printf (" %s@%s", json_string_value (json_object_get (grant, "role")),
                path && *path? path: "*");
    }
    printf ("\n");
    return CTL_OK;
}
