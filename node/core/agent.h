/*  agent - the node's mesh link and twin logic, without I/O
    One agent talks to one upstream (the coordinator, in issue 2). It is
    driven by events (start, connected, message, timer, applied) that
    carry the current time, and acts only through the effects it was
    given (send a frame upstream, arm a timer, ask for an apply) and the
    store it was bound to. It never reads the clock, a socket, the disk
    or the TPM, so weft-node and weft-sim run the same code.

    Durability rules, each a single store transaction:
    - a TWIN_DESIRED is ACKed only after its document and the replay
      window that accepted it are committed together;
    - a TWIN_REPORTED is persisted (with its new version) before its
      first send, and retransmitted with back-off until ACKed;
    - our own envelope seq is reserved in blocks of AGENT_SEQ_BLOCK, so
      a restart never reuses a seq even though not every send writes.
    Time is Unix milliseconds (wall clock): it feeds the HLC and is
    compared with envelope expiry. Timers use the same time base.  */

#ifndef WEFT_AGENT_H_INCLUDED
#define WEFT_AGENT_H_INCLUDED

#include "proto/proto.h"
#include "proto/keys.h"
#include "proto/store.h"

#define AGENT_TABLE             "agent"     //  Table the agent keeps its state in
#define AGENT_SEQ_BLOCK         1024        //  Seq numbers reserved per write
#define AGENT_RETRY_MIN_MS      2000        //  First TWIN_REPORTED retransmit
#define AGENT_RETRY_MAX_MS      30000       //  Back-off ceiling
#define AGENT_RESEAL_MS         300000      //  A pending report is sealed anew past this age
#define AGENT_DOC_MAX           (64 * 1024) //  Largest desired/reported doc accepted
#define AGENT_COORDINATOR       "coordinator"   //  Origin of the coordinator

//  Timer kinds; one deadline per kind, a new one replaces the old.
typedef enum {
    AGENT_TIMER_HEARTBEAT = 0,
    AGENT_TIMER_RETRANSMIT = 1,
    AGENT_TIMERS = 2
} agent_timer_t;

//  Effects the daemon (or simulator) binds. All are called synchronously
//  from inside an event and must not call back into the agent.
typedef struct {
    void *ctx;
    //  Send one encoded envelope upstream; the frame is borrowed. Returns
    //  0, or -1 if it could not be queued (the agent copes: heartbeats
    //  repeat, reported retransmits, desired is re-sent by the coordinator).
    int (*send) (void *ctx, const uint8_t *frame, size_t size);
    //  Arm timer kind at at_ms (Unix ms); at_ms == 0 disarms it.
    void (*timer) (void *ctx, int kind, uint64_t at_ms);
    //  Apply desired doc (JSON object, not NUL-terminated, borrowed) at
    //  version. The result comes back later through agent_applied. At
    //  most one apply is outstanding at a time.
    void (*apply) (void *ctx, uint64_t version, const char *doc, size_t size);
} agent_effects_t;

typedef struct {
    const char *name;               //  Our device id (certificate subject)
    const char *tenant;             //  Our tenant, may be ""
    const keys_t *keys;             //  Our signing keys, copied
    const uint8_t *coord_sign;      //  Coordinator Ed25519 public key (32 bytes)
    uint64_t heartbeat_ms;          //  Heartbeat interval
    store_t *store;                 //  Store with AGENT_TABLE; borrowed
    const char *prefix;             //  Key prefix in AGENT_TABLE ("" in the daemon)
    bool verbose;                   //  Log per-message traffic
} agent_config_t;

typedef struct _agent_t agent_t;

//  Create an agent. Returns NULL if the configuration is incomplete.
agent_t *
    agent_new (const agent_config_t *config, const agent_effects_t *effects);

void
    agent_destroy (agent_t **self_p);

//  Load persisted state, arm the heartbeat, resume an interrupted apply
//  or an unacknowledged report. Returns 0, or -1 if the store failed.
int
    agent_start (agent_t *self, uint64_t now_ms);

//  The upstream link is (re)established: heartbeat now, resend the
//  pending report without waiting for its timer.
void
    agent_connected (agent_t *self, uint64_t now_ms);

//  The upstream link is down: until agent_connected, heartbeats are not
//  queued and a pending report is not sealed anew (nothing stale piles
//  up in the outbox during an outage). An agent starts disconnected.
void
    agent_disconnected (agent_t *self, uint64_t now_ms);

//  One frame from upstream. Bad frames are logged at debug level and
//  dropped. Returns 0 if handled, -1 if dropped (a duplicate too).
int
    agent_message (agent_t *self, uint64_t now_ms, const uint8_t *frame, size_t size);

//  The same, answering as a custody transfer is acknowledged: a
//  weft_status_t, OK if taken or if it is a TWIN_DESIRED whose version
//  we already hold (a retransmission; reason "duplicate"), INTERNAL if
//  it could not be stored (the sender retransmits), otherwise the
//  refusal for good (DENIED, EXPIRED, BAD_REQUEST) with its reason.
int
    agent_receive (agent_t *self, uint64_t now_ms, const uint8_t *frame, size_t size,
                   char reason [WEFT_TEXT_MAX + 1]);

//  The attested_ms of the passport the node's mesh holds (0: none),
//  which our heartbeats name so the coordinator sends a newer one
//  (docs/protocol.md, HEARTBEAT).
void
    agent_set_passport (agent_t *self, uint64_t attested_ms);

//  A timer armed through the effects has expired.
void
    agent_timer (agent_t *self, uint64_t now_ms, int kind);

//  Result of an apply. On success, reported (JSON object, may be NULL to
//  report the desired document itself) becomes the reported document;
//  on failure error says why and the previous reported document stays.
void
    agent_applied (agent_t *self, uint64_t now_ms, uint64_t version, bool ok,
                   const char *reported, size_t reported_size, const char *error);

//  The update module's state (a JSON object, borrowed) as the member
//  "software" of the reported document: stored as a new reported
//  version and sent (retransmitted until ACKed, as every report). An
//  apply's report keeps it. Its member "fw" (a firmware release
//  committed) becomes the node's own fw, "weft": {"fw": ...}, and its
//  member "link" ("metered": the uplink is) the node's link, which an
//  apply's report keeps too unless it has its own "weft". 0 or -1 (not
//  a JSON object, or the store).
int
    agent_report_software (agent_t *self, uint64_t now_ms, const char *json, size_t size);

//  Versions held.
uint64_t
    agent_desired_version (agent_t *self);
uint64_t
    agent_applied_version (agent_t *self);

//  The desired document held (JSON, *size_p bytes, no NUL), borrowed
//  until the next event; NULL if none.
const char *
    agent_desired (agent_t *self, size_t *size_p);
uint64_t
    agent_reported_version (agent_t *self);

//  True while a report waits for its ACK.
bool
    agent_report_pending (agent_t *self);

//  Frames dropped since creation (bad signature, replay, malformed...).
uint64_t
    agent_dropped (agent_t *self);

//  Reports the coordinator refused for good (an ACK with a status other
//  than OK or INTERNAL): their custody ended without their effect.
uint64_t
    agent_refused (agent_t *self);

//  Seal a payload as one of our envelopes (our seq, id and key) without
//  sending it: for envelopes to another destination than the
//  coordinator (a site server's challenge). Caller frees *frame_p.
int
    agent_seal_payload (agent_t *self, uint64_t now_ms, int type, const uint8_t *payload,
                        size_t payload_size, uint8_t **frame_p, size_t *size_p);

//  Sign and send upstream one envelope of type around an already
//  encoded payload (e.g. ATTEST_EVIDENCE, proto/tpmmsg.h), in our
//  sequence. Returns 0, or -1 if it could not be built or queued.
int
    agent_send_payload (agent_t *self, uint64_t now_ms, int type, const uint8_t *payload,
                        size_t payload_size);

//  Next HLC timestamp at now_ms (ms << 16 | logical counter).
uint64_t
    agent_hlc (agent_t *self, uint64_t now_ms);

void
    agent_test (bool verbose);

#endif
