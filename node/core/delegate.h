/*  delegate - delegated verification at a site server, without I/O
    Glue between the mesh, the agent and siteverify.h. On a site server
    whose site is cut off from the coordinator (no route to it), each
    TPM gateway linked to it is challenged when due (ATTEST_CHALLENGE
    signed by the server, a custody transfer to the gateway). The
    gateway answers as it answers the coordinator; the mesh hands the
    evidence here (mesh_effects_t.intercept) instead of relaying it. The
    verdict acts at once: a failure quarantines the gateway at this
    server (mesh_quarantine_local: it refuses all but its attestation
    traffic), a pass lifts that; and it goes up by custody as a signed
    DELEGATED_VERDICT carrying the raw evidence, which the coordinator
    checks again (coordinator/core/attest_delegated.h). Profiles are the
    coordinator's CA-signed policy objects the node holds (policy.h),
    those of our own tenant: a gateway of another tenant linked to us
    is not ours to attest (the coordinator would refuse our verdict).  */

#ifndef WEFT_DELEGATE_H_INCLUDED
#define WEFT_DELEGATE_H_INCLUDED

#include "node/core/mesh.h"
#include "node/core/agent.h"
#include "node/core/siteverify.h"

#define DELEGATE_CHECK_MS   1000        //  How often gateways are looked at

typedef struct _delegate_t delegate_t;

//  server: this node is a site server (its certificate's role); other
//  nodes only accept challenges. store and prefix hold the node's
//  policy objects (MESH_TABLE).
delegate_t *
    delegate_new (mesh_t *mesh, agent_t *agent, store_t *store, const char *prefix,
                  const uint8_t ca_key [WEFT_KEY_SIZE], bool server);

void
    delegate_destroy (delegate_t **self_p);

//  May origin challenge us (a neighbour site server)?
bool
    delegate_challenger (delegate_t *self, const char *origin);

//  Timer work: challenge the gateways that are due while cut off. nonce
//  material is random bytes from the caller (SITEVERIFY_NONCE_SIZE per
//  gateway that is due, drawn as needed through random_fn).
typedef void (delegate_random_fn) (uint8_t *buf, size_t size);
void
    delegate_tick (delegate_t *self, uint64_t now_ms, delegate_random_fn *random_fn);

//  The mesh's intercept effect: evidence from a neighbour. True if it
//  answered our challenge (taken, judged, reported).
bool
    delegate_evidence (delegate_t *self, const uint8_t *frame, size_t size, uint64_t now_ms);

#endif
