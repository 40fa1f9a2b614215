/*  ctl - what weftctl's parts share: one run's state and the call
    weftctl.c has main and operator add; ctl_parse.c turns the command
    line into a method and its args; ctl_call.c loads the identity and
    makes the one signed RPC; ctl_show.c prints results for people;
    ctl_import.c sends a large hierarchy in parts; ctl_release.c has the
    commands of software releases; ctl_artifact.c those of the artifact
    repository (a bundle uploaded in parts); ctl_campaign.c those of
    release campaigns; ctl_offline.c adds
    what an operator needs for site servers that are cut off from the
    coordinator (a fresh credential, calls to a node's operator port).  */

#ifndef WEFT_CTL_H_INCLUDED
#define WEFT_CTL_H_INCLUDED

#include "proto/io/options.h"
#include <jansson.h>
#include "proto/proto.h"
#include "proto/keys.h"
#include "proto/jsontext.h"
#include "proto/io/keyfile.h"

#define CTL_OK              0
#define CTL_REFUSED         1
#define CTL_USAGE           2
#define CTL_UNREACHABLE     3

//  Everything one run needs; lives on main's stack.
typedef struct {
    keyfile_t *options;             //  Parsed flags and config
    keyfile_t *identity;            //  Operator identity file
    const char *identity_path;      //  Where it came from, for messages
    const char *name;               //  Operator name (envelope origin)
    const char *tenant;             //  Operator tenant, may be ""
    const char *endpoint;           //  Coordinator RPC endpoint, or the node's
    keys_t keys;                    //  Operator keys; wiped at exit
    uint8_t coord_sign [WEFT_KEY_SIZE];     //  Verifies replies
    uint8_t coord_curve [WEFT_KEY_SIZE];    //  CURVE server key (the node's in node mode)
    int timeout_s;                  //  Reply deadline
    bool json;                      //  Print raw JSON results
    bool verbose;                   //  Say why replies are ignored
    bool node_mode;                 //  Talking to a node's operator port
    bool raw;                       //  weftctl call: any method, JSON in and out
    uint8_t *credential;            //  Sent with each request in node mode
    size_t credential_size;
} ctl_t;

//  Print "weftctl: message" on stderr.
#define ctl_fail(...) options_fail ("weftctl", __VA_ARGS__)

//  Wall clock in microseconds; only weftctl, not the library, reads it.
uint64_t
    ctl_now_us (void);

//  Load the operator identity (--identity, $WEFT_IDENTITY, or the
//  default path) and the coordinator keys it carries. Returns 0 or an
//  exit code after printing why.
int
    ctl_identity_load (ctl_t *self);

//  Check the command line and build the request: 0 with *method_p and
//  *args_p set (args NULL for operator add), or an exit code after
//  printing why.
int
    ctl_parse_command (ctl_t *self, int argc, char **argv, const char **method_p,
                       json_t **args_p);

//  Print a method's result for people. Returns CTL_OK, or CTL_REFUSED
//  when the result is itself a failure (attestation, audit log).
int
    ctl_show_result (const char *method, json_t *result);

//  A reply's string field, "" if missing or not a string (borrowed)
const char *
    ctl_str (json_t *obj, const char *key);

//  A reply's number field, 0 if missing or not a number
int64_t
    ctl_int (json_t *obj, const char *key);

//  Call method with args (taken). On success *result_p holds the JSON
//  result (caller decrefs). Returns 0 or an exit code, after printing
//  the reason.
int
    ctl_call (ctl_t *self, const char *method, json_t *args, json_t **result_p);

//  hierarchy.import with args {doc} (taken): one call, or the document
//  in parts under an upload id when it is larger than one call allows.
int
    ctl_import (ctl_t *self, json_t *args, json_t **result_p);

//  Switch to a node's operator port (--node ENDPOINT, --node-key HEX):
//  requests carry the identity's credential. Returns 0 or an exit code
//  after printing why.
int
    ctl_node_mode (ctl_t *self);

//  The --limit option (1..1000) into *args_p: CTL_OK, or CTL_USAGE
//  after printing why (*args_p dropped)
int
    ctl_limit_arg (ctl_t *self, json_t **args_p);

//  release ... (ctl_release.c): as ctl_parse_command, or -1 if argv
//  is no release command
int
    ctl_parse_release (ctl_t *self, int argc, char **argv, const char **method_p,
                       json_t **args_p);

//  update ... (ctl_release.c): as ctl_parse_command, or -1 if argv is
//  no update command
int
    ctl_parse_update (ctl_t *self, int argc, char **argv, const char **method_p,
                      json_t **args_p);

//  entitlement grant (ctl_release.c): as ctl_parse_command, or -1 if
//  argv is no entitlement command
int
    ctl_parse_entitlement (ctl_t *self, int argc, char **argv, const char **method_p,
                           json_t **args_p);

//  Print a release method's result for people; false if method is not one
bool
    ctl_show_release (const char *method, json_t *result);

//  artifact ... (ctl_artifact.c): as ctl_parse_command, or -1 if argv
//  is no artifact command. artifact add gives artifact.upload with
//  args {file}, for ctl_artifact_add.
int
    ctl_parse_artifact (ctl_t *self, int argc, char **argv, const char **method_p,
                        json_t **args_p);

//  Upload the bundle args names (args taken) in parts; *result_p gets
//  the last part's answer: what the coordinator took in.
int
    ctl_artifact_add (ctl_t *self, json_t *args, json_t **result_p);

//  args {file}: the bundle to a site server's operator port in parts,
//  imported there, followed until it ends (node/io/bundlein.h)
int
    ctl_bundle_import (ctl_t *self, json_t *args, json_t **result_p);

//  Print an artifact method's result for people; false if method is not one
bool
    ctl_show_artifact (const char *method, json_t *result);

//  A twin patch from the command line: a JSON object; NULL after
//  printing why (ctl_parse.c)
json_t *
    ctl_parse_patch (const char *text);

//  campaign ... (ctl_campaign.c): as ctl_parse_command, or -1 if argv
//  is no campaign command
int
    ctl_parse_campaign (ctl_t *self, int argc, char **argv, const char **method_p,
                        json_t **args_p);

//  Print a campaign method's result for people; false if method is not one
bool
    ctl_show_campaign (const char *method, json_t *result);

//  campaign show ID --watch [SECONDS] (argv as ctl_parse_campaign's):
//  render campaign.show with args (taken) every SECONDS until the
//  campaign is finished or aborted, or SIGINT. Returns 0 or an exit code.
int
    ctl_campaign_watch (ctl_t *self, int argc, char **argv, json_t *args);

//  Store the credential of an operator.credential result in the
//  identity file and say what it grants. Returns 0 or an exit code.
int
    ctl_credential_save (ctl_t *self, json_t *result);

#endif
