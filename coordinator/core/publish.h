/*  publish - the coordinator's site-wide policies, as objects for the mesh
    The policies operators set per tenant (security profiles per device
    type, the IMA allowlist; attest_policy.h) are republished as
    CA-signed policy objects (proto/policymsg.h) whenever their text
    changes: kind "profile" named "<tenant>/<device type>", kind
    "allowlist" named "<tenant>/fleet" (proto/policy.h,
    policy_name; the devices without a tenant: "<device type>" and
    "fleet"), the content being the same text the coordinator verifies
    with. Each
    change takes the next version of its (kind, name), so nodes keep
    the newest. The objects go into the coordinator's own policy store
    and gossip (proto/gossip.h), which pushes them to the nodes
    linked to it and answers their anti-entropy summaries.  */

#ifndef WEFT_PUBLISH_H_INCLUDED
#define WEFT_PUBLISH_H_INCLUDED

#include "proto/store.h"
#include "proto/gossip.h"
#include "coordinator/core/pki.h"

#define PUBLISH_TABLE       "policies"      //  The coordinator's policy store

//  Publish every policy whose text differs from the object held (or
//  that has none). Returns the number published, or -1 on a store error.
int
    publish_policies (store_t *store, pki_t *pki, policy_store_t *policies,
                      gossip_t *gossip, uint64_t now_ms);

void
    publish_test (bool verbose);

#endif
