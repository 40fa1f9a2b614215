/*  oplocal - operator requests a node serves on its own
    A site server cut off from the coordinator still answers an
    operator on site, authorised only by what it can check offline:
    the request (an RPC_REQUEST envelope) carries the operator's
    CA-signed credential (proto/opcred.h). In order, the node checks:
    the credential chains to the deployment CA, is an operator's, is
    valid now and not on the revocation list the node holds; it belongs
    to the connection (its CURVE key is the link's, proven by the CURVE
    handshake); the envelope comes from the credential's subject and is
    signed by its key; it expires within OPLOCAL_TTL_MAX_MS and its id
    was not seen before (kept in memory until expiry); the method is
    one this node serves; a grant holds the method's role on the node's
    place (its certificate's path, else its tenant). Every refusal
    answers with a reason and is recorded, with the peer address, in the
    node's durable log (node/core/oplog.h), which an auditor reads with
    node.audit. No I/O but the store: the other answers come from a
    callback.  */

#ifndef WEFT_OPLOCAL_H_INCLUDED
#define WEFT_OPLOCAL_H_INCLUDED

#include "proto/proto.h"
#include "proto/keys.h"
#include "proto/store.h"

#define OPLOCAL_TTL_MAX_MS      60000   //  Longest request expiry accepted
#define OPLOCAL_IDS_MAX         1024    //  Request ids remembered (replay)

typedef struct _oplocal_t oplocal_t;

typedef struct {
    const char *name;               //  Node id: origin of the replies
    const char *tenant;             //  The node's tenant (certificate)
    const char *path;               //  The node's place (certificate), may be ""
    const keys_t *keys;             //  Signs the replies
    const uint8_t *ca_key;          //  Deployment CA, 32 bytes
    store_t *store;                 //  Holds the log of refusals (OPLOG_TABLE), or NULL
} oplocal_config_t;

//  Carry out an authorised method with its arguments (a JSON object's
//  text, args_size bytes, not NUL-ended). Returns a weft_status_t:
//  OK with *result_p the result as JSON text (heap, caller frees), or
//  a refusal with its reason.
typedef int (oplocal_call_fn) (void *ctx, const char *method, const char *args,
                               size_t args_size, char **result_p,
                               char reason [WEFT_TEXT_MAX + 1]);

//  Counters
typedef struct {
    uint64_t accepted;
    uint64_t refused;
} oplocal_stats_t;

//  Create. config strings and keys are copied.
oplocal_t *
    oplocal_new (const oplocal_config_t *config, oplocal_call_fn *call, void *ctx);

void
    oplocal_destroy (oplocal_t **self_p);

//  Methods served, and the role each needs: "node.stats" (viewer),
//  "node.audit" {limit?} (auditor: the newest refusals recorded here,
//  {node, records}), "node.bundle.put" and "node.bundle.import"
//  (operator), "node.bundle.status" (viewer): a bundle uploaded and
//  imported here (node/io/bundlein.h). Handle one frame from an operator link whose CURVE
//  key is link_key and peer address peer ("" if unknown),
//  against the operators' keys on the revocation list held (count keys
//  of 32 bytes). Returns 0 with *reply_p a signed RPC_REPLY to send back
//  (caller frees), PROTO_ERR_DROPPED if the frame is not a request
//  envelope at all (dropped unanswered), or PROTO_ERR_INTERNAL if the
//  reply cannot be signed.
int
    oplocal_on_request (oplocal_t *self, const uint8_t link_key [WEFT_KEY_SIZE],
                        const char *peer, const uint8_t *frame, size_t size, uint64_t now_ms,
                        const uint8_t *revoked, size_t revoked_count,
                        uint8_t **reply_p, size_t *reply_size_p);

const oplocal_stats_t *
    oplocal_stats (oplocal_t *self);

void
    oplocal_test (bool verbose);

#endif
