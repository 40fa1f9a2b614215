/*  weftctl - the operator command line over the coordinator RPC
    One call per run: parse the command (ctl_parse.c), load the operator
    identity, send one signed request and wait for its reply
    (ctl_call.c), print the result (ctl_show.c). weftctl keeps no state.

    Arguments are checked before anything touches the network, so a
    usage error (exit 2) never depends on the coordinator being up.
    Exit codes: 0 success, 1 refused or failed operation, 2 usage error,
    3 coordinator unreachable within --timeout.  */

#include <czmq.h>
#include <sodium.h>
#include "proto/io/options.h"
#include "tools/ctl.h"

static const option_spec_t s_specs [] = {
    { "identity", "FILE", NULL,
      "operator identity (default $WEFT_IDENTITY, else .weft/coord/admin.op)" },
    { "json", NULL, NULL, "print the JSON result instead of a table" },
    { "timeout", "SECONDS", "5", "how long to wait for the coordinator" },
    { "tenant", "TENANT", NULL,
      "token create, operator add, device preregister: tenant; audit list/verify/head:\n"
      "that tenant's audit chain (default: yours); attest profile set, attest\n"
      "allowlist set: the tenant whose policy it is ('-': the devices without a\n"
      "tenant; default: your own); release root, artifact: the tenant whose root\n"
      "or releases it is" },
    { "ttl", "DURATION", NULL,
      "token create, operator credential, update assign: lifetime, e.g. 90s, 30m,\n"
      "1h, 2d (default 1h for a token, 7d for a credential or an assignment)" },
    { "type", "TYPE", NULL, "token create: device type the token is for" },
    { "until", "TIME", NULL,
      "entitlement grant: when it ends: now, a duration from now (30d), or a UTC\n"
      "time (2027-01-31, 2027-01-31T12:00:00Z)" },
    { "role", "ROLE", NULL,
      "operator add: viewer, operator, auditor, security-officer or admin" },
    { "path", "PATH", NULL,
      "operator add: subtree granted, e.g. acme/plant-2; token create: where the\n"
      "device is placed (into its certificate)" },
    { "anchor", "FILE", NULL, "audit verify: a signed head saved by 'audit head', kept elsewhere" },
    { "node", "ENDPOINT", NULL,
      "node stats, node audit, bundle import: a site server's operator port (weft-node --ops-listen)" },
    { "node-key", "HEX", NULL, "node stats, node audit: that node's CURVE public key" },
    { "query", "QUERY", NULL,
      "device list/count, batch, audit list, update assign/uninstall, entitlement\n"
      "grant, campaign create: which\n"
      "ones (docs/query.md)" },
    { "limit", "N", NULL, "device list, audit list, node audit: at most N rows" },
    { "dry-run", NULL, NULL, "batch: list the matching devices, change nothing" },
    { "asset", "PATH", NULL, "batch move: the asset the devices monitor" },
    { "remove", NULL, NULL, "operator grant: remove the grant instead" },
    { "out", "FILE", NULL,
      "operator add: where to write the new identity; token create: write the\n"
      "token to FILE (mode 0600) instead of standard output" },
    { "ek-pub", "FILE", NULL,
      "device preregister: the TPM's EK public (weft-node --write-ek, tpm2_createek -u)" },
    { "waves", "SIZES", NULL,
      "campaign create: devices per wave, in order, each N or P% of those that fit,\n"
      "e.g. 1,3,100% (the waves must cover every device)" },
    { "success", "N|P%", NULL,
      "campaign create: start the next wave once N (or P%) of a wave succeeded" },
    { "threshold", "N|P%", NULL,
      "campaign create: halt when this many devices (or percent) failed (default 1)" },
    { "device-timeout", "DURATION", NULL,
      "campaign create: how long one device may take (default 1h, at most 7d)" },
    { "patch", "JSON", NULL,
      "campaign create: a configuration, this merge patch of the desired twin,\n"
      "instead of a release NAME VERSION" },
    { "rate", "N", NULL, "campaign create: offer at most N devices a minute" },
    { "concurrency", "N", NULL,
      "campaign create: at most N devices of one site under way at once" },
    { "soak", "DURATION", NULL,
      "campaign create: wait this long after a wave before the next" },
    { "allow-empty", NULL, NULL, "campaign create: create it even if the query matches nothing" },
    { "dynamic", NULL, NULL,
      "campaign create: devices that match the query later join it (it never finishes)" },
    { "not-excludable", NULL, NULL,
      "campaign create: no tenant's admin may take the tenant out (campaign exclude)" },
    { "at-sites", NULL, NULL,
      "campaign create: each site's server runs the waves of its devices, also\n"
      "while the site is cut off (a release, not --dynamic)" },
    { "join-every", "DURATION", NULL,
      "campaign create --dynamic: run the query again this often (default 1m)" },
    { "sites", NULL, NULL,
      "campaign show: counts per site too (the 20 with the most devices not yet\n"
      "ended, then the others summed)" },
    { "watch", NULL, NULL,
      "campaign show ID --watch [SECONDS]: render it again every SECONDS (default 2)\n"
      "until it is finished or aborted, or interrupted" },
    { "verbose", NULL, NULL, "explain ignored replies on stderr" },
    { NULL, NULL, NULL, NULL }
};

static const char *s_synopsis =
    "usage: weftctl [options] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  token create [--tenant T] [--path P] [--ttl 1h] [--type TYPE] [--out FILE]\n"
    "                                     make an enrolment token (for weft-node --token-file)\n"
    "  device list [--query Q] [--limit N]   visible devices, state, place, versions\n"
    "  device count [--query Q]           how many visible devices match\n"
    "  device show ID                     one device: certificate, keys, metadata, state\n"
    "  device set ID KEY=VALUE...         metadata: type hw fw sw location path asset\n"
    "                                     (KEY= clears), tag.KEY=VALUE, untag=KEY\n"
    "  device revoke ID                   revoke a device: refused by the coordinator and the mesh\n"
    "  device preregister ID --ek-pub FILE [--tenant T] [--path P] [--type T] [tag.KEY=VALUE...]\n"
    "                                     let the TPM with this EK enrol as ID, placed so\n"
    "  twin get ID                        desired and reported twin of a device\n"
    "  twin set ID 'JSON'                 apply a JSON merge patch (RFC 7386) to desired\n"
    "  batch twin --query Q 'JSON' [--dry-run]     patch every matching twin\n"
    "  batch tag --query Q tag.KEY=VALUE|untag=KEY... [--dry-run]\n"
    "  batch move --query Q PATH [--asset A] [--dry-run]   place matching devices\n"
    "  hierarchy import FILE              create/update places and assets (docs/registry.md)\n"
    "  hierarchy export                   the visible hierarchy as an import file\n"
    "  operator add NAME --role ROLE [--tenant T] [--path P] --out FILE\n"
    "                                     create an operator identity file\n"
    "  operator grant NAME ROLE PATH [--remove]   add or remove a grant\n"
    "  operator credential [--ttl 7d]     fetch a credential with all your grants into\n"
    "                                     your identity, for site servers offline\n"
    "  operator revoke NAME               revoke an operator, at the coordinator and sites\n"
    "  node stats --node EP --node-key HEX   a site server's counters, authorised by\n"
    "                                     your credential alone (works offline)\n"
    "  node audit --node EP --node-key HEX [--limit N]   the requests a site server's\n"
    "                                     operator port refused (auditor; works offline)\n"
    "  bundle import FILE --node EP --node-key HEX   a bundle (a release on a stick) into\n"
    "                                     a site server, checked and spread to its site\n"
    "                                     (operator; works offline)\n"
    "  audit list [--query Q] [--limit N] [--tenant T]   newest audit records first\n"
    "  audit verify [--anchor FILE] [--tenant T]   check an audit chain and its signed head\n"
    "  audit head [--tenant T]            the CA-signed head (seq, hash): keep it elsewhere\n"
    "                                     (without --tenant: the deployment's chain for an\n"
    "                                     auditor of everything, else your tenant's)\n"
    "  attest profile set TYPE FILE [--tenant T]   a tenant's security profile of a type\n"
    "                                     (JSON, docs/security.md)\n"
    "  attest allowlist set FILE [--tenant T]      a tenant's IMA allowlist (sha256sum lines)\n"
    "  attest status                      attestation verdicts across the fleet\n"
    "  attest show ID                     a device's last attestation verdict\n"
    "  attest clear ID                    forget a device's verdict (re-attested next heartbeat)\n"
    "  release root set FILE [--tenant T] the tenant's signed release root (weft-artifact\n"
    "                                     root + sign), pinned by its devices at enrolment\n"
    "  release root show [--tenant T]     the release root the coordinator holds\n"
    "  artifact add FILE.wbd [--tenant T] upload a bundle (weft-artifact bundle) to the\n"
    "                                     coordinator's repository, checked against the\n"
    "                                     tenant's release root\n"
    "  artifact list [NAME] [--tenant T]  the tenant's releases\n"
    "  artifact show NAME [VERSION] [--tenant T]   one release (without VERSION: its versions)\n"
    "  artifact remove NAME VERSION [--tenant T]   remove a release from the repository\n"
    "  update assign DEVICE|--query Q NAME VERSION [--ttl 7d]   offer a release of the\n"
    "                                     repository to devices of one tenant, by custody\n"
    "  update status [DEVICE|--query Q] [--limit N]   what devices were assigned, and\n"
    "                                     their software as they report it\n"
    "  update uninstall DEVICE|--query Q NAME   order devices to remove software NAME\n"
    "  entitlement grant DEVICE|--query Q NAME --until T   let devices run software NAME\n"
    "                                     until T (a past T takes the right away)\n"
    "  campaign create --query Q NAME VERSION --waves 1,3,100% [--threshold N|P%]\n"
    "                 [--success N|P%]\n"
    "                 [--device-timeout 1h] [--rate N] [--concurrency N] [--soak 1h]\n"
    "                 [--allow-empty] [--dynamic [--join-every 1m]]    a release, in waves\n"
    "                 [--at-sites]       (each site's server runs its waves)\n"
    "  campaign create --query Q --patch JSON --waves ...   a configuration, in waves\n"
    "  campaign show ID [--limit N] [--sites] [--watch [SECONDS]]\n"
    "                                     plan, state, counts per state and per wave\n"
    "  campaign list [--limit N]          the campaigns you may see\n"
    "  campaign start|pause|resume|abort|retry|revert ID   move a campaign (docs/campaigns.md)\n"
    "  campaign exclude ID --tenant T     take your tenant out of a campaign of several\n"
    "  stats                              coordinator counters\n"
    "  call METHOD ['JSON']               any RPC method with its arguments as a JSON\n"
    "                                     object (docs/protocol.md); prints the JSON result\n"
    "\n"
    "Exit codes: 0 ok, 1 refused or failed, 2 usage error, 3 coordinator unreachable.";



//  --------------------------------------------------------------------------
//  operator add: make keys here, have the coordinator certify the public
//  halves, and write the new identity. The secret keys never leave this
//  machine.

static int
s_operator_add (ctl_t *self, const char *name, const char *role, const char *tenant,
                const char *out)
{
    if (access (out, F_OK) == 0) {
        ctl_fail ("%s already exists; not overwriting an identity", out);
        return CTL_REFUSED;
    }
    keys_t keys;
    keys_generate (&keys);
    char sign_hex [2 * WEFT_KEY_SIZE + 1], curve_hex [2 * WEFT_KEY_SIZE + 1];
    keys_hex (keys.sign_public, WEFT_KEY_SIZE, sign_hex);
    keys_hex (keys.curve_public, WEFT_KEY_SIZE, curve_hex);
    json_t *args = json_pack ("{s:s, s:s, s:s, s:s}", "name", name, "role", role,
                              "sign_key", sign_hex, "curve_key", curve_hex);
    //  Without --tenant or --path the coordinator gives the creator's
    //  own subtree
    if (tenant)
        json_object_set_new (args, "tenant", json_string (tenant));
    const char *path = keyfile_get (self->options, "path");
    if (path)
        json_object_set_new (args, "path", json_string (path));
    json_t *result;
    int rc = ctl_call (self, "operator.add", args, &result);
    if (rc) {
        keys_wipe (&keys);
        return rc;
    }
    const char *cert_hex = ctl_str (result, "cert");
    if (!*cert_hex) {
        ctl_fail ("coordinator answered without a certificate");
        json_decref (result);
        keys_wipe (&keys);
        return CTL_REFUSED;
    }
    keyfile_t *identity = keyfile_new ();
    keyfile_set (identity, "name", name);
    keyfile_set (identity, "role", role);
    //  The tenant the coordinator certified, which may be the creator's
    if (json_is_string (json_object_get (result, "tenant")))
        tenant = ctl_str (result, "tenant");
    keyfile_set (identity, "tenant", tenant? tenant: "");
    keyfile_set_bin (identity, "sign_public", keys.sign_public, WEFT_KEY_SIZE);
    keyfile_set_bin (identity, "sign_secret", keys.sign_secret, WEFT_SECRET_SIZE);
    keyfile_set_bin (identity, "curve_public", keys.curve_public, WEFT_KEY_SIZE);
    keyfile_set_bin (identity, "curve_secret", keys.curve_secret, WEFT_KEY_SIZE);
    keyfile_set (identity, "cert", cert_hex);
    const char *ca_key = keyfile_get (self->identity, "ca_key");
    if (ca_key)
        keyfile_set (identity, "ca_key", ca_key);
    keyfile_set (identity, "endpoint", self->endpoint);
    keyfile_set (identity, "coord_curve", keyfile_get (self->identity, "coord_curve"));
    keyfile_set (identity, "coord_sign", keyfile_get (self->identity, "coord_sign"));
    keys_wipe (&keys);
    rc = keyfile_save (identity, out, true);
    keyfile_destroy (&identity);
    if (rc) {
        ctl_fail ("cannot write %s: %s", out, strerror (errno));
        json_decref (result);
        return CTL_REFUSED;
    }
    if (self->json) {
        char *text = jsontext_dumps (result, JSON_INDENT (2) | JSON_SORT_KEYS);
        printf ("%s\n", text);
        free (text);
    }
    else
        printf ("operator %s (role %s%s%s, serial %lld) written to %s\n", name, role,
                tenant && *tenant? ", tenant ": "", tenant && *tenant? tenant: "",
                (long long) ctl_int (result, "serial"), out);
    json_decref (result);
    return CTL_OK;
}


//  --------------------------------------------------------------------------
//  token create --out FILE: the token goes into a new file that only
//  its owner reads, never through a command line (weft-node
//  --token-file FILE). The result keeps the rest.

static int
s_token_save (ctl_t *self, json_t *result, const char *out)
{
    const char *token = ctl_str (result, "token");
    int fd = open (out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    size_t size = strlen (token);
    bool written = fd >= 0 && fchmod (fd, 0600) == 0
                && write (fd, token, size) == (ssize_t) size && write (fd, "\n", 1) == 1
                && fsync (fd) == 0;
    if (fd >= 0 && close (fd))
        written = false;
    if (!written) {
        ctl_fail ("cannot write the token to %s: %s", out, strerror (errno));
        if (fd >= 0)
            unlink (out);
        return CTL_REFUSED;
    }
    json_object_del (result, "token");
    json_object_set_new (result, "file", json_string (out));
    (void) self;
    return CTL_OK;
}


int
main (int argc, char *argv [])
{
    ctl_t ctl;
    memset (&ctl, 0, sizeof (ctl));
    int argi = 0, exit_code = 0;
    ctl.options = options_parse (s_synopsis, s_specs, argc, argv, &argi, &exit_code);
    if (!ctl.options)
        return exit_code;
    if (sodium_init () < 0) {
        ctl_fail ("libsodium failed to initialise");
        keyfile_destroy (&ctl.options);
        return CTL_REFUSED;
    }
    //  weftctl is a foreground tool: errors go to stderr, no log noise
    zsys_init ();
    zsys_set_logstream (stderr);
    ctl.json = options_flag (ctl.options, "json");
    ctl.verbose = options_flag (ctl.options, "verbose");
    ctl.timeout_s = (int) options_int (ctl.options, "timeout", 5);
    if (ctl.timeout_s < 1 || ctl.timeout_s > 3600) {
        ctl_fail ("bad --timeout: use 1 to 3600 seconds");
        keyfile_destroy (&ctl.options);
        return CTL_USAGE;
    }
    const char *method = NULL;
    json_t *args = NULL;
    int rc = ctl_parse_command (&ctl, argc - argi, argv + argi, &method, &args);
    if (rc == CTL_OK)
        rc = ctl_identity_load (&ctl);
    if (rc == CTL_OK && strncmp (method, "node.", 5) == 0)
        rc = ctl_node_mode (&ctl);
    if (rc == CTL_OK && ctl.raw) {
        json_t *result = NULL;
        rc = ctl_call (&ctl, method, args, &result);
        args = NULL;
        if (rc == CTL_OK) {
            char *text = json_dumps (result, JSON_INDENT (2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            printf ("%s\n", text);
            free (text);
        }
        json_decref (result);
    }
    else
    if (rc == CTL_OK && streq (method, "campaign.show")
    &&  options_flag (ctl.options, "watch")) {
        rc = ctl_campaign_watch (&ctl, argc - argi, argv + argi, args);
        args = NULL;
    }
    else
    if (rc == CTL_OK && streq (method, "operator.add")) {
        rc = s_operator_add (&ctl, argv [argi + 2], keyfile_get (ctl.options, "role"),
                             keyfile_get (ctl.options, "tenant"),
                             keyfile_get (ctl.options, "out"));
    }
    else
    if (rc == CTL_OK) {
        json_t *result = NULL;
        rc = streq (method, "hierarchy.import")? ctl_import (&ctl, args, &result)
           : streq (method, "artifact.upload")? ctl_artifact_add (&ctl, args, &result)
           : streq (method, "node.bundle.import")? ctl_bundle_import (&ctl, args, &result)
           : ctl_call (&ctl, method, args, &result);
        args = NULL;
        const char *out = keyfile_get (ctl.options, "out");
        if (rc == CTL_OK && streq (method, "token.create") && out)
            rc = s_token_save (&ctl, result, out);
        if (rc == CTL_OK && streq (method, "operator.credential"))
            rc = ctl_credential_save (&ctl, result);
        else
        if (rc == CTL_OK && ctl.json) {
            char *text = jsontext_dumps (result, JSON_INDENT (2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            printf ("%s\n", text);
            free (text);
            if (streq (method, "audit.verify")
            &&  !json_is_true (json_object_get (result, "intact")))
                rc = CTL_REFUSED;
        }
        else
        if (rc == CTL_OK)
            rc = ctl_show_result (method, result);
        json_decref (result);
    }
    json_decref (args);
    keys_wipe (&ctl.keys);
    free (ctl.credential);
    keyfile_destroy (&ctl.identity);
    keyfile_destroy (&ctl.options);
    return rc;
}
