/*  coord_internal - what the coord_ files share: the core's state and
    the envelope helpers more than one of them calls
    Private to coordinator/core/coord*.c; callers use coord.h. The files:
    coord.c (life cycle, sealing, RPC dispatch, ZAP), coord_chunks.c
    (chunks served to site servers), coord_enrol.c
    (token and TPM enrolment), coord_mesh.c (heartbeats, reports, ACKs,
    attestation, link-local messages), coord_lists.c (the revocation and
    quarantine lists), coord_test.c (selftest).  */

#ifndef WEFT_COORD_INTERNAL_H_INCLUDED
#define WEFT_COORD_INTERNAL_H_INCLUDED

#include "proto/envelope.h"
#include "proto/hlc.h"
#include "proto/seal.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/pki.h"
#include "coordinator/core/publish.h"
#include "coordinator/core/coordseq.h"
#include "coordinator/core/custody.h"
#include "coordinator/core/akcache.h"
#include "coordinator/core/attest_runtime.h"
#include "coordinator/core/artrepo.h"
#include "proto/updmsg.h"
#include "proto/refusals.h"
#include "coordinator/core/audit.h"
#include "coordinator/core/coord.h"
#include "coordinator/core/campaign_run.h"

//  Per-message logs only when verbose
#define COORD_OVERDUE_BATCH     1000    //  Overdue alerts a sweep, the rest wait

#define coord_debug(self, ...) \
    do { if ((self)->verbose) zsys_debug (__VA_ARGS__); } while (0)

struct _coord_t {
    store_t *store;                 //  Not owned
    registry_t *registry;           //  Records and liveness
    pki_t *pki;                     //  CA
    keys_t keys;                    //  Coordinator's own keys
    uint8_t *cert;                  //  Coordinator's certificate
    size_t cert_size;
    coord_effects_t effects;        //  Push to devices
    coord_stats_t stats;            //  Counters
    coordseq_t *seqs;               //  Sequence numbers of our envelopes
    uint64_t hlc;                   //  Last hybrid logical clock issued
    uint64_t next_flush;            //  Unix ms of the next batch write
    bool verbose;                   //  Log every message
    coord_revoked_fn *revoked;      //  Revocation hook, or NULL
    json_t *mesh_info;              //  Device id -> {hops, stats}, memory only
    uint8_t *revocations;           //  Our signed REVOCATIONS envelope, or NULL
    size_t revocations_size;
    uint64_t revocations_version;   //  Its version
    coord_quarantine_fn *quarantine_changed;    //  Quarantine hook, or NULL
    uint8_t *quarantine;            //  Our signed QUARANTINE envelope, or NULL
    size_t quarantine_size;
    uint64_t quarantine_version;    //  Its version
    policy_store_t *policies;       //  Site-wide policies published (publish.h)
    gossip_t *gossip;               //  Their gossip with the nodes linked to us
    custody_t *custody;             //  Frames sent through relays, until ACKed
    uint64_t now_ms;                //  Time of the event being handled
    refusals_t *refusals;           //  How many refusals get audit records
    akcache_t *aks;                 //  The devices' AKs, parsed once
    attest_runtime_t *imas;         //  The tenants' IMA allowlists, parsed once
    artrepo_t *repo;                //  The artifact repository, or NULL if unreadable
};

//  --------------------------------------------------------------------------
//  Envelopes (coord.c)

//  Has env expired at now_ms? Counts it as rejected if so.
bool
    coord_envelope_expired (coord_t *self, const envelope_t *env, uint64_t now_ms);

//  Record a refused request in the audit log, in a write transaction of
//  its own (never call it inside one), if its source's budget allows
//  (refusals.h); also writes the summaries of a window that ended.
//  entry NULL: the summaries only.
void
    coord_audit_refusal (coord_t *self, uint64_t now_ms, const audit_entry_t *entry);

//  Hex key field of a record into key; -1 if missing or bad.
int
    coord_record_key (json_t *record, const char *field, uint8_t key [32]);

//  Seal the desired document of device id from its twin record
int
    coord_seal_desired (coord_t *self, const char *id, json_t *twin, uint64_t now_ms,
                        uint8_t **frame_p, size_t *size_p);

//  Refuse the envelope link carries: its CUSTODY_ACK says status and
//  why (printf format). Returns PROTO_ERR_REFUSED.
int
    coord_refuse (coord_t *self, coord_link_t *link, const envelope_t *env, int status,
                  const char *format, ...);

//  Refuse an envelope whose payload did not decode (rc), counted.
//  Returns PROTO_ERR_REFUSED.
int
    coord_refuse_malformed (coord_t *self, coord_link_t *link, const envelope_t *env,
                            int rc);

//  Check env's seq against origin_key's replay window, read into window
//  (0, or PROTO_ERR_REFUSED with the refusal set on link); the caller
//  accepts it with registry_replay_set once its effect is stored.
int
    coord_fresh (coord_t *self, coord_link_t *link, const envelope_t *env,
                 const char *origin_key, replay_t *window);

//  Boot attestation on the mesh socket (coord_mesh_attest.c). Why device
//  id is quarantined, read in txn; NULL if it is not.
const char *
    coord_quarantined_in (coord_t *self, store_txn_t *txn, const char *id, uint64_t now_ms);

//  The answer to a TPM device's heartbeat when it is due for
//  attestation: an ATTEST_CHALLENGE sealed into *reply_p, else nothing.
void
    coord_attest_challenge (coord_t *self, const char *id, uint64_t uptime_s,
                            uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p);

//  The device's passport sealed into *reply_p if it is fresh or cleared
//  and the node holds an older one (held_ms: the attested time its
//  heartbeat names); txn a read transaction or NULL for one of its own.
void
    coord_attest_passport (coord_t *self, store_txn_t *txn, const char *id,
                           uint64_t held_ms, uint64_t now_ms, uint8_t **reply_p,
                           size_t *reply_size_p);

//  ATTEST_EVIDENCE from a device: verified, the verdict recorded.
int
    coord_on_attest_evidence (coord_t *self, coord_link_t *link, const envelope_t *env,
                              uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p);

//  A site server's delegated verdict with its evidence: checked again,
//  recorded as ours.
int
    coord_on_attest_delegated (coord_t *self, coord_link_t *link, const envelope_t *env,
                               uint64_t now_ms);

//  Is the device quarantined at now_ms: failed attestation, or never
//  attested or overdue where its profile requires it (attest_state.h)?
//  Returns why ("failed attestation", "attestation overdue", "never
//  attested"), or NULL if it is not.
const char *
    coord_device_quarantined (coord_t *self, const char *id, uint64_t now_ms);

//  Alert on the devices whose attestation fell overdue since the last
//  sweep: the front of the due index, never a scan of the fleet
//  (attest_state.h); at most COORD_OVERDUE_BATCH a sweep
void
    coord_overdue_sweep (coord_t *self, uint64_t now_ms);

//  Seal an ACK of env to its origin, end to end: status and message.
//  0 or PROTO_ERR_INTERNAL.
int
    coord_ack (coord_t *self, const envelope_t *env, int status, const char *message,
               uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p);

//  The UPDATE_OFFERs of a batch that committed: sealed to each device
//  and sent by custody
void
    coord_send_offers (coord_t *self, director_batch_t *batch, uint64_t now_ms);

//  Seal and push the SOFTWARE_ORDERs of an RPC's result (rpc.h: device
//  id, 0, the signed order), each by custody to its device
void
    coord_send_orders (coord_t *self, zlistx_t *orders, uint64_t now_ms);

//  --------------------------------------------------------------------------
//  Campaigns that follow their devices (coord_campaign.c)

//  A device's stored report (doc, its reported document; the desired
//  version it applied and the status) moves its campaign, in the
//  report's transaction
int
    coord_campaign_report (coord_t *self, campaign_run_t *run, const char *device,
                           json_t *doc, uint64_t applied_version, const char *status);

//  Send the offers the run made once its transaction committed (sent:
//  it did), then free them
void
    coord_campaign_end (coord_t *self, campaign_run_t *run, bool sent, uint64_t now_ms);

//  The SITE_DIRECTIVEs of a run or a call that committed
//  (campaign_directive_t, campaign_site.h): sealed to each site server
//  and sent by custody
void
    coord_send_directives (coord_t *self, zlistx_t *directives, uint64_t now_ms);

//  A SITE_REPORT env from a site server, authenticated (link: how to
//  acknowledge its custody transfer; the ACK to its origin in reply):
//  read, applied and its seq taken in one transaction. 0, or
//  PROTO_ERR_REFUSED with link's refusal set.
int
    coord_campaign_site_report (coord_t *self, coord_link_t *link, const envelope_t *env,
                                uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p);

//  Selftest of the directives and reports through envelopes
//  (coord_site_test.c)
void
    coord_site_test (bool verbose);

//  device refused its update offer for good (reason: its ACK's)
void
    coord_campaign_refused (coord_t *self, const char *device, const char *reason,
                            uint64_t now_ms);

//  server refused the SITE_DIRECTIVE frame (held in custody) for good:
//  the site's devices fail with reason (campaign_site_refused)
void
    coord_campaign_directive_refused (coord_t *self, const char *server,
                                      const uint8_t *frame, size_t size, const char *reason,
                                      uint64_t now_ms);

//  Time out the campaigns' devices past their deadline (campaign_run.h)
void
    coord_campaign_sweep (coord_t *self, uint64_t now_ms);

//  Seal a link-local envelope of ours (hop limit 1, seq its HLC)
int
    coord_seal_local (coord_t *self, int type, const uint8_t *payload, size_t payload_size,
                      uint64_t now_ms, uint8_t **frame_p, size_t *size_p);

//  --------------------------------------------------------------------------
//  Chunks for site servers (coord_chunks.c)

//  A CHUNK_WANT from origin (of tenant), linked directly: each address
//  answered with a CHUNK_DATA on its link (send_link), from the
//  artifact repository, only of a release of tenant the want names by
//  its manifest's hash (else size 0)
void
    coord_chunk_want (coord_t *self, const char *origin, const char *tenant,
                      const updmsg_t *want, uint64_t now_ms);

//  --------------------------------------------------------------------------
//  The lists we gossip (coord_lists.c)

//  (Re)build and seal the revocation list from the registry
void
    coord_revocations_build (coord_t *self, uint64_t now_ms);

//  (Re)seal the quarantine list when the set's version moved, and tell
//  the adapter (not at start, now_ms 0)
void
    coord_quarantine_build (coord_t *self, uint64_t now_ms);

#endif
