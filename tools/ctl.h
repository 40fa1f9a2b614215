/*  ctl - what weftctl's parts share: one run's state and the call
    weftctl.c parses the command line and talks to the coordinator;
    ctl_offline.c adds what an operator needs for site servers that are
    cut off from it (a fresh credential, calls to a node's operator
    port).  */

#ifndef WEFT_CTL_H_INCLUDED
#define WEFT_CTL_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "proto/keys.h"
#include "node/io/keyfile.h"

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
    uint8_t *credential;            //  Sent with each request in node mode
    size_t credential_size;
} ctl_t;

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

//  Store the credential of an operator.credential result in the
//  identity file and say what it grants. Returns 0 or an exit code.
int
    ctl_credential_save (ctl_t *self, json_t *result);

#endif
