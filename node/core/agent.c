/*  agent - the node's mesh link and twin logic, without I/O
    State lives in memory and, for everything that must survive a crash,
    under a few keys in AGENT_TABLE (each prefixed with config.prefix, so
    the simulator can keep many agents in one LMDB environment):
        seq         u64 BE   highest seq reserved for our envelopes
        replay      16 B     replay window of the coordinator's envelopes
        desired     u64 BE version + JSON document
        applied     u64 BE   last desired version whose apply finished
        reported    u64 version, u64 desired version, u8 status length,
                    status, JSON document
        acked       u64 BE   highest reported version the coordinator ACKed
    Every change that matters is one transaction together with the
    replay window that admitted the message causing it, and frames are
    sent only after that transaction commits. No write transaction is
    ever open while another is begun (LMDB would wait on itself).

    Envelope ids are BLAKE2b (name, seq) rather than random, so a run of
    the simulator is reproducible; they are unique because the seq never
    repeats for a name.  */

#include "proto/corelib.h"
#include <jansson.h>
#include <sodium.h>
#include "node/core/agent.h"
#include "proto/envelope.h"
#include "proto/hlc.h"
#include "proto/seal.h"
#include "proto/msg.h"
#include "proto/replay.h"
#include "proto/jsontext.h"

#define AGENT_REPORT_IDS    8           //  Envelope ids of one report we accept ACKs for
#define AGENT_KEY_MAX       (WEFT_NAME_MAX + 16)
#define AGENT_HLC_AHEAD_MS  (3600 * 1000)   //  Ignore peer clocks further ahead

struct _agent_t {
    char *name;                         //  Our device id
    char *tenant;                       //  Our tenant
    keys_t keys;                        //  Our keys; wiped on destroy
    uint8_t coord_sign [WEFT_KEY_SIZE]; //  Verifies the coordinator's envelopes
    uint64_t heartbeat_ms;              //  Heartbeat interval
    store_t *store;                     //  Borrowed
    char *prefix;                       //  Key prefix in AGENT_TABLE
    bool verbose;                       //  Log per-message traffic
    agent_effects_t fx;                 //  Bound by the daemon or simulator
    bool started;                       //  agent_start succeeded
    bool upstream;                      //  A route to the coordinator (agent_connected)
    uint64_t start_ms;                  //  For uptime
    uint64_t hlc;                       //  Last HLC issued or seen
    uint64_t next_seq;                  //  Seq of our next envelope
    uint64_t seq_reserved;              //  Highest seq covered by the store
    replay_t replay;                    //  Coordinator's window, as committed
    uint64_t desired_version;           //  Desired version held (0 = none)
    char *desired;                      //  Its JSON document, owned
    size_t desired_size;
    uint64_t applied_version;           //  Last desired version applied (or failed)
    uint64_t applying;                  //  Version being applied, 0 = none
    char *applying_doc;                 //  Copy of the document being applied
    size_t applying_size;
    uint64_t reported_version;          //  Our reported version
    uint64_t reported_desired;          //  Desired version that report covers
    char *reported;                     //  Reported JSON document, owned
    size_t reported_size;
    char status [WEFT_TEXT_MAX + 1];    //  "ok" or why applying failed
    uint64_t passport_ms;               //  attested_ms of the passport the mesh holds
    uint64_t acked_version;             //  Highest reported version ACKed
    uint8_t report_ids [AGENT_REPORT_IDS][WEFT_ID_SIZE];    //  Ids sealed for it
    size_t report_sent;                 //  Envelopes sealed for the current report
    uint8_t *report_frame;              //  The latest of them, sent again as is
    size_t report_frame_size;
    uint64_t report_sealed_ms;          //  When it was sealed
    uint64_t retry_ms;                  //  Current retransmit interval
    uint64_t dropped;                   //  Frames dropped
    uint64_t refused;                   //  Reports the coordinator refused for good
};

//  --------------------------------------------------------------------------
//  Helpers for the persisted state

static size_t
s_key (agent_t *self, const char *name, char *key)
{
    return (size_t) snprintf (key, AGENT_KEY_MAX, "%s%s", self->prefix, name);
}

static int
s_put (agent_t *self, store_txn_t *txn, const char *name, const void *value,
       size_t size)
{
    char key [AGENT_KEY_MAX];
    size_t key_size = s_key (self, name, key);
    return store_put (txn, AGENT_TABLE, key, key_size, value, size);
}

static int
s_put_u64 (agent_t *self, store_txn_t *txn, const char *name, uint64_t value)
{
    uint8_t data [8];
    proto_put_be64 (data, value);
    return s_put (self, txn, name, data, sizeof data);
}

static void *
s_get (agent_t *self, store_txn_t *txn, const char *name, size_t *size_p)
{
    char key [AGENT_KEY_MAX];
    size_t key_size = s_key (self, name, key);
    return store_get (txn, AGENT_TABLE, key, key_size, size_p);
}

static uint64_t
s_get_u64 (agent_t *self, store_txn_t *txn, const char *name)
{
    size_t size = 0;
    uint8_t *data = (uint8_t *) s_get (self, txn, name, &size);
    uint64_t value = data && size == 8? proto_get_be64 (data): 0;
    free (data);
    return value;
}

static int
s_put_replay (agent_t *self, store_txn_t *txn, const replay_t *window)
{
    uint8_t data [16];
    replay_save (window, data);
    return s_put (self, txn, "replay", data, sizeof data);
}

//  Is doc (size bytes) a JSON object within our limit?

static bool
s_json_object (const char *doc, size_t size)
{
    if (!doc || size == 0 || size > AGENT_DOC_MAX)
        return false;
    json_error_t error;
    json_t *json = json_loadb (doc, size, JSON_REJECT_DUPLICATES, &error);
    bool valid = json && json_is_object (json);
    json_decref (json);
    return valid;
}

static char *
s_dup (const char *data, size_t size)
{
    char *copy = (char *) zmalloc (size + 1);
    if (size)
        memcpy (copy, data, size);
    return copy;
}

//  --------------------------------------------------------------------------
//  Hybrid logical clock: physical ms in the high bits, a counter below,
//  never going backwards, pulled forward by the peer's clock.

uint64_t
agent_hlc (agent_t *self, uint64_t now_ms)
{
    assert (self);
    return hlc_next (&self->hlc, now_ms);
}

//  --------------------------------------------------------------------------
//  Next seq for our envelopes; reserves a new block in its own
//  transaction when the current one is used up. Returns 0 on failure.

static uint64_t
s_next_seq (agent_t *self)
{
    if (self->next_seq > self->seq_reserved) {
        uint64_t reserve = self->next_seq + AGENT_SEQ_BLOCK - 1;
        store_txn_t *txn = store_begin (self->store, true);
        int rc = txn? s_put_u64 (self, txn, "seq", reserve): -1;
        if (rc == 0)
            rc = store_commit (&txn);
        else
            store_abort (&txn);
        if (rc) {
            zsys_error ("agent: cannot reserve envelope seq numbers");
            return 0;
        }
        self->seq_reserved = reserve;
    }
    return self->next_seq++;
}

//  --------------------------------------------------------------------------
//  Seal an encoded payload with the next seq: *frame_p (heap) and its id
//  (if id is not NULL). Returns 0 or -1.

static int
s_seal_payload (agent_t *self, uint64_t now_ms, int type, const uint8_t *payload,
                size_t payload_size, uint8_t *id, uint8_t **frame_p, size_t *size_p)
{
    uint64_t seq = s_next_seq (self);
    if (seq == 0)
        return -1;
    uint8_t frame_id [WEFT_ID_SIZE];
    envelope_id_derive (frame_id, self->name, seq);
    //  Ordering is by seq and clocks may be off: no expiry
    envelope_head_t head = { .type = type, .origin = self->name, .tenant = self->tenant,
                             .seq = seq, .hlc = agent_hlc (self, now_ms),
                             .hop_limit = WEFT_HOP_LIMIT, .id = frame_id };
    int rc = envelope_seal (&head, payload, payload_size, self->keys.sign_secret, id,
                            frame_p, size_p);
    if (rc) {
        zsys_error ("agent: sign %s: %s", proto_msg_name (type), proto_strerror (rc));
        return -1;
    }
    if (self->verbose)
        zsys_debug ("agent: sealed %s seq %" PRIu64, proto_msg_name (type), seq);
    return 0;
}

//  Sign one message: *frame_p (heap) and its id (if id is not NULL).
//  Returns 0 or -1.

static int
s_seal (agent_t *self, uint64_t now_ms, const msg_t *msg, uint8_t *id,
        uint8_t **frame_p, size_t *size_p)
{
    uint8_t *payload = NULL;
    size_t payload_size = 0;
    int rc = msg_encode (msg, &payload, &payload_size);
    if (rc) {
        zsys_error ("agent: encode %s: %s", proto_msg_name (msg->type),
                    proto_strerror (rc));
        return -1;
    }
    rc = s_seal_payload (self, now_ms, msg->type, payload, payload_size, id, frame_p, size_p);
    free (payload);
    return rc;
}

//  Sign and send one message upstream. Returns 0; PROTO_ERR_INTERNAL if
//  it could not be built; PROTO_ERR_NOT_QUEUED if it was built but not
//  queued.
static int
s_send (agent_t *self, uint64_t now_ms, const msg_t *msg)
{
    uint8_t *frame = NULL;
    size_t size = 0;
    if (s_seal (self, now_ms, msg, NULL, &frame, &size))
        return PROTO_ERR_INTERNAL;
    int rc = self->fx.send (self->fx.ctx, frame, size);
    if (rc && self->verbose)
        zsys_debug ("agent: %s not queued", proto_msg_name (msg->type));
    free (frame);
    return rc? PROTO_ERR_NOT_QUEUED: 0;
}

int
agent_seal_payload (agent_t *self, uint64_t now_ms, int type, const uint8_t *payload,
                    size_t payload_size, uint8_t **frame_p, size_t *size_p)
{
    assert (self && payload && frame_p && size_p);
    *frame_p = NULL;
    return s_seal_payload (self, now_ms, type, payload, payload_size, NULL, frame_p, size_p);
}

int
agent_send_payload (agent_t *self, uint64_t now_ms, int type, const uint8_t *payload,
                    size_t payload_size)
{
    uint8_t *frame = NULL;
    size_t size = 0;
    int rc = agent_seal_payload (self, now_ms, type, payload, payload_size, &frame, &size);
    if (rc == 0)
        rc = self->fx.send (self->fx.ctx, frame, size);
    if (self->verbose)
        zsys_debug ("agent: sent %s%s", proto_msg_name (type)?: "envelope",
                    rc? " (not queued)": "");
    free (frame);
    return rc? -1: 0;
}

static void
s_send_heartbeat (agent_t *self, uint64_t now_ms)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_HEARTBEAT;
    msg.heartbeat.uptime_s = now_ms > self->start_ms? (now_ms - self->start_ms) / 1000: 0;
    msg.heartbeat.desired_version = self->desired_version;
    msg.heartbeat.reported_version = self->reported_version;
    msg.heartbeat.passport_ms = self->passport_ms;
    //  With no route a heartbeat would only wait in the outbox, stale
    //  by the time it left (a week's outage: 2,000 of them a node);
    //  agent_connected sends a fresh one the moment a route is back
    if (self->upstream)
        s_send (self, now_ms, &msg);
    self->fx.timer (self->fx.ctx, AGENT_TIMER_HEARTBEAT, now_ms + self->heartbeat_ms);
}

//  Send the pending report: the same sealed envelope (same id) every
//  time, so a hop that took it already acknowledges it again and
//  forwards no second copy. It is sealed anew only after a restart or
//  once it is older than AGENT_RESEAL_MS, half the hops' de-duplication
//  window (proto/seen.h): older, a hop would refuse it as stale.
static void
s_send_report (agent_t *self, uint64_t now_ms)
{
    if (!self->report_frame || now_ms >= self->report_sealed_ms + AGENT_RESEAL_MS) {
        msg_t msg;
        memset (&msg, 0, sizeof msg);
        msg.type = MSG_TWIN_REPORTED;
        snprintf (msg.twin_reported.device, sizeof msg.twin_reported.device, "%s", self->name);
        msg.twin_reported.version = self->reported_version;
        msg.twin_reported.desired_version = self->reported_desired;
        msg.twin_reported.doc = self->reported;
        msg.twin_reported.doc_size = self->reported_size;
        snprintf (msg.twin_reported.status, sizeof msg.twin_reported.status, "%s", self->status);
        uint8_t id [WEFT_ID_SIZE];
        uint8_t *frame = NULL;
        size_t size = 0;
        if (s_seal (self, now_ms, &msg, id, &frame, &size) == 0) {
            free (self->report_frame);
            self->report_frame = frame;
            self->report_frame_size = size;
            self->report_sealed_ms = now_ms;
            //  An ACK of any envelope of this report counts
            memcpy (self->report_ids [self->report_sent % AGENT_REPORT_IDS], id, WEFT_ID_SIZE);
            self->report_sent++;
        }
    }
    if (self->report_frame
    &&  self->fx.send (self->fx.ctx, self->report_frame, self->report_frame_size)
    &&  self->verbose)
        zsys_debug ("agent: report not queued");
    self->fx.timer (self->fx.ctx, AGENT_TIMER_RETRANSMIT, now_ms + self->retry_ms);
}

//  Start applying the desired document if it is newer than the last one
//  applied and nothing is being applied now.

static void
s_maybe_apply (agent_t *self)
{
    if (self->applying || !self->desired || self->desired_version <= self->applied_version)
        return;
    self->applying = self->desired_version;
    free (self->applying_doc);
    self->applying_doc = s_dup (self->desired, self->desired_size);
    self->applying_size = self->desired_size;
    if (self->verbose)
        zsys_debug ("agent: applying desired version %" PRIu64, self->applying);
    self->fx.apply (self->fx.ctx, self->applying, self->applying_doc, self->applying_size);
}

//  --------------------------------------------------------------------------
//  Create an agent.

agent_t *
agent_new (const agent_config_t *config, const agent_effects_t *effects)
{
    assert (config);
    assert (effects);
    if (!config->name || !*config->name || strlen (config->name) > WEFT_NAME_MAX
    ||  !config->keys || !config->coord_sign || !config->store
    ||  !effects->send || !effects->timer || !effects->apply
    ||  (config->tenant && strlen (config->tenant) > WEFT_NAME_MAX)
    ||  (config->prefix && strlen (config->prefix) > WEFT_NAME_MAX)) {
        zsys_error ("agent: incomplete configuration");
        return NULL;
    }
    agent_t *self = (agent_t *) zmalloc (sizeof (agent_t));
    self->name = strndup (config->name, WEFT_NAME_MAX);
    self->tenant = strndup (config->tenant? config->tenant: "", WEFT_NAME_MAX);
    self->prefix = strndup (config->prefix? config->prefix: "", WEFT_NAME_MAX);
    self->keys = *config->keys;
    memcpy (self->coord_sign, config->coord_sign, WEFT_KEY_SIZE);
    self->heartbeat_ms = config->heartbeat_ms? config->heartbeat_ms: 5000;
    self->store = config->store;
    self->verbose = config->verbose;
    self->fx = *effects;
    self->retry_ms = AGENT_RETRY_MIN_MS;
    return self;
}

//  --------------------------------------------------------------------------
//  Destroy an agent; safe to call twice.

void
agent_destroy (agent_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        agent_t *self = *self_p;
        keys_wipe (&self->keys);
        free (self->desired);
        free (self->applying_doc);
        free (self->reported);
        free (self->report_frame);
        free (self->name);
        free (self->tenant);
        free (self->prefix);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Load the persisted state and resume.

int
agent_start (agent_t *self, uint64_t now_ms)
{
    assert (self);
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return -1;
    self->seq_reserved = s_get_u64 (self, txn, "seq");
    //  Seq 1 went into our enrolment request, under the same origin
    self->next_seq = self->seq_reserved + 1 > 2? self->seq_reserved + 1: 2;

    size_t size = 0;
    uint8_t *data = (uint8_t *) s_get (self, txn, "replay", &size);
    memset (&self->replay, 0, sizeof self->replay);
    if (data && size == 16)
        replay_load (&self->replay, data);
    free (data);

    data = (uint8_t *) s_get (self, txn, "desired", &size);
    if (data && size > 8) {
        self->desired_version = proto_get_be64 (data);
        free (self->desired);
        self->desired = s_dup ((char *) data + 8, size - 8);
        self->desired_size = size - 8;
    }
    free (data);
    self->applied_version = s_get_u64 (self, txn, "applied");

    data = (uint8_t *) s_get (self, txn, "reported", &size);
    if (data && size >= 17 && size >= 17 + (size_t) data [16]) {
        self->reported_version = proto_get_be64 (data);
        self->reported_desired = proto_get_be64 (data + 8);
        size_t status_size = data [16];
        memcpy (self->status, data + 17, status_size);
        self->status [status_size] = 0;
        free (self->reported);
        self->reported = s_dup ((char *) data + 17 + status_size, size - 17 - status_size);
        self->reported_size = size - 17 - status_size;
    }
    free (data);
    self->acked_version = s_get_u64 (self, txn, "acked");
    store_abort (&txn);

    self->started = true;
    self->start_ms = now_ms;
    self->fx.timer (self->fx.ctx, AGENT_TIMER_HEARTBEAT, now_ms + self->heartbeat_ms);
    if (self->reported_version > self->acked_version) {
        self->retry_ms = AGENT_RETRY_MIN_MS;
        self->fx.timer (self->fx.ctx, AGENT_TIMER_RETRANSMIT, now_ms + self->retry_ms);
    }
    if (self->verbose)
        zsys_debug ("agent: started, desired %" PRIu64 " applied %" PRIu64
                    " reported %" PRIu64 " acked %" PRIu64, self->desired_version,
                    self->applied_version, self->reported_version, self->acked_version);
    //  A crash after storing a desired doc but before finishing its apply
    s_maybe_apply (self);
    return 0;
}

//  --------------------------------------------------------------------------
//  Link (re)established.

void
agent_connected (agent_t *self, uint64_t now_ms)
{
    assert (self);
    if (!self->started)
        return;
    self->upstream = true;
    if (self->verbose)
        zsys_debug ("agent: connected upstream");
    s_send_heartbeat (self, now_ms);
    if (agent_report_pending (self)) {
        self->retry_ms = AGENT_RETRY_MIN_MS;
        s_send_report (self, now_ms);
    }
}

void
agent_disconnected (agent_t *self, uint64_t now_ms)
{
    assert (self);
    (void) now_ms;
    self->upstream = false;
    if (self->verbose)
        zsys_debug ("agent: disconnected from upstream");
}

//  --------------------------------------------------------------------------
//  Timers.

void
agent_timer (agent_t *self, uint64_t now_ms, int kind)
{
    assert (self);
    if (!self->started)
        return;
    if (kind == AGENT_TIMER_HEARTBEAT) {
        s_send_heartbeat (self, now_ms);
        s_maybe_apply (self);       //  Retries an apply whose report could not be stored
    }
    else
    if (kind == AGENT_TIMER_RETRANSMIT && agent_report_pending (self)) {
        self->retry_ms *= 2;
        if (self->retry_ms > AGENT_RETRY_MAX_MS)
            self->retry_ms = AGENT_RETRY_MAX_MS;
        //  With no route the envelope already queued waits in the
        //  outbox; sealing it anew every AGENT_RESEAL_MS would add one
        //  more there each time. agent_connected resends it at once.
        if (self->upstream)
            s_send_report (self, now_ms);
        else
            self->fx.timer (self->fx.ctx, AGENT_TIMER_RETRANSMIT, now_ms + self->retry_ms);
    }
}

//  --------------------------------------------------------------------------
//  TWIN_DESIRED from the coordinator, already verified.

//  A TWIN_DESIRED's payload, for us, with a JSON object: OK, or why not
static int
s_desired_valid (agent_t *self, const envelope_t *env, msg_t *msg,
                 char reason [WEFT_TEXT_MAX + 1])
{
    int rc = msg_decode (msg, MSG_TWIN_DESIRED, env->payload, env->payload_size);
    if (rc)
        return proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "malformed TWIN_DESIRED: %s",
                          proto_strerror (rc));
    if (strcmp (msg->twin_desired.device, self->name) != 0)
        return proto_refusal (reason, WEFT_STATUS_DENIED, "TWIN_DESIRED for %s, not for %s",
                          msg->twin_desired.device, self->name);
    if (!s_json_object (msg->twin_desired.doc, msg->twin_desired.doc_size))
        return proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "TWIN_DESIRED version %" PRIu64
                          " is not a JSON object of at most %d bytes",
                          msg->twin_desired.version, AGENT_DOC_MAX);
    return WEFT_STATUS_OK;
}

static int
s_on_desired (agent_t *self, uint64_t now_ms, const envelope_t *env,
              char reason [WEFT_TEXT_MAX + 1])
{
    msg_t msg;
    int status = s_desired_valid (self, env, &msg, reason);
    if (status != WEFT_STATUS_OK) {
        zsys_debug ("agent: %s", reason);
        return status;
    }
    msg_twin_desired_t *desired = &msg.twin_desired;
    replay_t window = self->replay;
    if (replay_accept (&window, env->seq) != 0)
        return proto_refusal (reason, WEFT_STATUS_DENIED, "replayed");   //  Checked before
    bool newer = desired->version > self->desired_version;

    //  The replay window and the document commit together, before the ACK
    store_txn_t *txn = store_begin (self->store, true);
    int rc = txn? s_put_replay (self, txn, &window): -1;
    if (rc == 0 && newer) {
        size_t size = 8 + desired->doc_size;
        uint8_t *data = (uint8_t *) zmalloc (size);
        proto_put_be64 (data, desired->version);
        memcpy (data + 8, desired->doc, desired->doc_size);
        rc = s_put (self, txn, "desired", data, size);
        free (data);
    }
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    if (rc) {
        zsys_warning ("agent: cannot store desired version %" PRIu64 ", not acknowledged",
                      desired->version);
        return proto_refusal (reason, WEFT_STATUS_INTERNAL, "cannot store desired version %"
                          PRIu64, desired->version);
    }
    self->replay = window;
    if (newer) {
        self->desired_version = desired->version;
        free (self->desired);
        self->desired = s_dup (desired->doc, desired->doc_size);
        self->desired_size = desired->doc_size;
        zsys_info ("twin: received desired version %" PRIu64, desired->version);
    }
    else
    if (self->verbose)
        zsys_debug ("agent: desired version %" PRIu64 " not newer than %" PRIu64,
                    desired->version, self->desired_version);

    msg_t ack;
    memset (&ack, 0, sizeof ack);
    ack.type = MSG_ACK;
    memcpy (ack.ack.ack_id, env->id, WEFT_ID_SIZE);
    ack.ack.status = WEFT_STATUS_OK;
    if (!newer)
        snprintf (ack.ack.message, sizeof ack.ack.message,
                  "holding desired version %" PRIu64, self->desired_version);
    s_send (self, now_ms, &ack);
    s_maybe_apply (self);
    return WEFT_STATUS_OK;
}

//  --------------------------------------------------------------------------
//  ACK from the coordinator, already verified.

static int
s_on_ack (agent_t *self, const envelope_t *env, char reason [WEFT_TEXT_MAX + 1])
{
    msg_t msg;
    int rc = msg_decode (&msg, MSG_ACK, env->payload, env->payload_size);
    if (rc) {
        zsys_debug ("agent: malformed ACK: %s", proto_strerror (rc));
        return proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "malformed ACK: %s",
                          proto_strerror (rc));
    }
    bool ours = false;
    if (agent_report_pending (self)) {
        size_t count = self->report_sent < AGENT_REPORT_IDS? self->report_sent: AGENT_REPORT_IDS;
        for (size_t i = 0; i < count && !ours; i++)
            ours = memcmp (self->report_ids [i], msg.ack.ack_id, WEFT_ID_SIZE) == 0;
    }
    replay_t window = self->replay;
    replay_accept (&window, env->seq);
    if (!ours) {
        //  Heartbeat ACKs and late duplicates: nothing to persist
        self->replay = window;
        if (self->verbose)
            zsys_debug ("agent: ACK for an envelope we no longer track");
        return WEFT_STATUS_OK;
    }
    if (msg.ack.status == WEFT_STATUS_INTERNAL) {
        //  The coordinator could not commit; our retransmit tries again
        self->replay = window;
        zsys_warning ("agent: coordinator could not store reported version %" PRIu64
                      ": %s", self->reported_version, msg.ack.message);
        return WEFT_STATUS_OK;
    }
    if (msg.ack.status != WEFT_STATUS_OK) {
        //  Refused for good: the report's custody ends here, counted
        self->refused++;
        zsys_warning ("agent: coordinator refused reported version %" PRIu64 ": %s %s",
                      self->reported_version, proto_status_name (msg.ack.status),
                      msg.ack.message);
    }
    store_txn_t *txn = store_begin (self->store, true);
    rc = txn? s_put_replay (self, txn, &window): -1;
    if (rc == 0)
        rc = s_put_u64 (self, txn, "acked", self->reported_version);
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    if (rc) {
        zsys_warning ("agent: cannot store ACK of reported version %" PRIu64,
                      self->reported_version);
        return proto_refusal (reason, WEFT_STATUS_INTERNAL, "cannot store the ACK of reported "
                          "version %" PRIu64, self->reported_version);
    }
    self->replay = window;
    self->acked_version = self->reported_version;
    free (self->report_frame);
    self->report_frame = NULL;
    self->fx.timer (self->fx.ctx, AGENT_TIMER_RETRANSMIT, 0);
    if (self->verbose)
        zsys_debug ("agent: reported version %" PRIu64 " acknowledged", self->acked_version);
    return WEFT_STATUS_OK;
}

//  --------------------------------------------------------------------------
//  The passport the mesh holds, named in our heartbeats

void
agent_set_passport (agent_t *self, uint64_t attested_ms)
{
    assert (self);
    self->passport_ms = attested_ms;
}

//  --------------------------------------------------------------------------
//  One frame from upstream.

//  A replayed TWIN_DESIRED whose version we hold: a retransmission of
//  one we took and acknowledged (the ACK was lost), not a refusal
static bool
s_duplicate (agent_t *self, const envelope_t *env, char reason [WEFT_TEXT_MAX + 1])
{
    msg_t msg;
    if (env->type != MSG_TWIN_DESIRED
    ||  s_desired_valid (self, env, &msg, reason) != WEFT_STATUS_OK
    ||  msg.twin_desired.version > self->desired_version)
        return false;
    snprintf (reason, WEFT_TEXT_MAX + 1, "duplicate: holding desired version %" PRIu64,
              self->desired_version);
    return true;
}

//  Handle one frame; the status and reason of agent_receive, and
//  whether it was taken fresh (not a duplicate)
static int
s_receive (agent_t *self, uint64_t now_ms, const uint8_t *frame, size_t size,
           char reason [WEFT_TEXT_MAX + 1], bool *fresh_p)
{
    *fresh_p = false;
    reason [0] = 0;
    envelope_t env;
    int rc = self->started? envelope_decode (&env, frame, size): -1;
    int status = WEFT_STATUS_OK;
    if (!self->started)
        status = proto_refusal (reason, WEFT_STATUS_INTERNAL, "the agent has not started");
    else
    if (rc)
        status = proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "%s", proto_strerror (rc));
    else
    if (strcmp (env.origin, AGENT_COORDINATOR) != 0)
        status = proto_refusal (reason, WEFT_STATUS_DENIED, "origin %s is not the coordinator",
                            env.origin);
    else
    if (envelope_verify (&env, self->coord_sign) != 0)
        status = proto_refusal (reason, WEFT_STATUS_DENIED,
                            "the signature does not verify with the coordinator's key");
    else
    if (env.expiry && env.expiry <= now_ms)
        status = proto_refusal (reason, WEFT_STATUS_EXPIRED, "expired at %" PRIu64
                            " (unix ms), received at %" PRIu64, env.expiry, now_ms);
    else
    if (!replay_windowed (env.type))
        status = proto_refusal (reason, WEFT_STATUS_BAD_REQUEST, "%s is not for the agent",
                            proto_msg_name (env.type)? proto_msg_name (env.type): "type");
    else
    if (!replay_fresh (&self->replay, env.seq)) {
        if (s_duplicate (self, &env, reason)) {
            //  Taken before: not applied again, but the sender may stop
            zsys_debug ("agent: dropped frame of %zu bytes: %s", size, reason);
            self->dropped++;
            return WEFT_STATUS_OK;
        }
        status = proto_refusal (reason, WEFT_STATUS_DENIED, "replayed: seq %" PRIu64
                            " was seen or is too old", env.seq);
    }
    if (status != WEFT_STATUS_OK) {
        zsys_debug ("agent: dropped frame of %zu bytes: %s", size, reason);
        self->dropped++;
        return status;
    }
    hlc_observe (&self->hlc, now_ms, env.hlc, AGENT_HLC_AHEAD_MS);
    if (self->verbose)
        zsys_debug ("agent: received %s seq %" PRIu64,
                    proto_msg_name (env.type)? proto_msg_name (env.type): "?", env.seq);
    if (env.type == MSG_TWIN_DESIRED)
        status = s_on_desired (self, now_ms, &env, reason);
    else
        status = s_on_ack (self, &env, reason);
    if (status != WEFT_STATUS_OK)
        self->dropped++;
    *fresh_p = status == WEFT_STATUS_OK;
    return status;
}

int
agent_receive (agent_t *self, uint64_t now_ms, const uint8_t *frame, size_t size,
               char reason [WEFT_TEXT_MAX + 1])
{
    assert (self && reason);
    bool fresh;
    return s_receive (self, now_ms, frame, size, reason, &fresh);
}

int
agent_message (agent_t *self, uint64_t now_ms, const uint8_t *frame, size_t size)
{
    assert (self);
    char reason [WEFT_TEXT_MAX + 1];
    bool fresh;
    s_receive (self, now_ms, frame, size, reason, &fresh);
    return fresh? 0: -1;
}

//  --------------------------------------------------------------------------
//  A new reported document: persisted (with its version, the desired
//  version it covers and the status; with applied, that version is
//  done) before it is sent. 0 or -1 (nothing changed).

static int
s_report_new (agent_t *self, uint64_t desired, const char *status, const char *doc,
              size_t doc_size, bool applied)
{
    size_t status_size = strlen (status);
    uint64_t new_version = self->reported_version + 1;
    size_t size = 17 + status_size + doc_size;
    uint8_t *data = (uint8_t *) zmalloc (size);
    proto_put_be64 (data, new_version);
    proto_put_be64 (data + 8, desired);
    data [16] = (uint8_t) status_size;
    memcpy (data + 17, status, status_size);
    memcpy (data + 17 + status_size, doc, doc_size);
    store_txn_t *txn = store_begin (self->store, true);
    int rc = txn? s_put (self, txn, "reported", data, size): -1;
    if (rc == 0 && applied)
        rc = s_put_u64 (self, txn, "applied", desired);
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    free (data);
    if (rc)
        return -1;
    char *copy = s_dup (doc, doc_size);
    free (self->reported);
    self->reported = copy;
    self->reported_size = doc_size;
    memcpy (self->status, status, status_size + 1);
    self->reported_version = new_version;
    self->reported_desired = desired;
    self->report_sent = 0;
    free (self->report_frame);      //  A newer report: a new envelope
    self->report_frame = NULL;
    self->retry_ms = AGENT_RETRY_MIN_MS;
    return 0;
}

//  doc with member key of from (if from has it and doc does not), as
//  compact JSON the caller frees; NULL when nothing is to be kept
static char *
s_keep_member (const char *doc, size_t size, const char *from, size_t from_size,
               const char *key)
{
    json_t *source = json_loadb (from, from_size, 0, NULL);
    json_t *value = source? json_object_get (source, key): NULL;
    json_t *target = value? json_loadb (doc, size, 0, NULL): NULL;
    char *text = NULL;
    if (target && json_is_object (target) && !json_object_get (target, key)) {
        json_object_set (target, key, value);
        text = jsontext_dumps (target, JSON_COMPACT);
    }
    json_decref (target);
    json_decref (source);
    return text;
}

//  --------------------------------------------------------------------------
//  Result of an apply.

void
agent_applied (agent_t *self, uint64_t now_ms, uint64_t version, bool ok,
               const char *reported, size_t reported_size, const char *error)
{
    assert (self);
    if (!self->started || version == 0 || version != self->applying) {
        zsys_debug ("agent: apply result for version %" PRIu64 " not expected", version);
        return;
    }
    const char *doc;
    size_t doc_size;
    if (ok && reported && s_json_object (reported, reported_size)) {
        doc = reported;
        doc_size = reported_size;
    }
    else
    if (ok) {
        if (reported)
            zsys_warning ("twin: apply handler's report is not a JSON object; "
                          "reporting the desired document");
        doc = self->applying_doc;
        doc_size = self->applying_size;
    }
    else
    if (self->reported) {
        doc = self->reported;       //  Nothing changed: keep what we reported
        doc_size = self->reported_size;
    }
    else {
        doc = "{}";
        doc_size = 2;
    }
    char status [WEFT_TEXT_MAX + 1];
    snprintf (status, sizeof status, "%s", ok? "ok": error && *error? error: "apply failed");
    //  What the update module reports stays in the document
    char *merged = self->reported? s_keep_member (doc, doc_size, self->reported,
                                                  self->reported_size, "software"): NULL;
    //  and so does the node's own versions (a firmware release's fw),
    //  unless the apply reports its own
    char *kept = self->reported? s_keep_member (merged? merged: doc,
                                                merged? strlen (merged): doc_size,
                                                self->reported, self->reported_size, "weft")
                               : NULL;
    if (kept) {
        free (merged);
        merged = kept;
    }
    int rc = s_report_new (self, version, status, merged? merged: doc,
                           merged? strlen (merged): doc_size, true);
    free (merged);
    self->applying = 0;
    if (rc) {
        //  Not persisted: the next start applies this version again
        zsys_error ("twin: cannot store the report for desired version %" PRIu64, version);
        return;
    }
    self->applied_version = version;
    if (ok)
        zsys_info ("twin: applied desired version %" PRIu64, version);
    else
        zsys_warning ("twin: applying desired version %" PRIu64 " failed: %s",
                      version, status);
    s_send_report (self, now_ms);
    s_maybe_apply (self);
}

//  --------------------------------------------------------------------------
//  The update module's state, as member "software" of the reported
//  document: a new reported version, sent as any report.

int
agent_report_software (agent_t *self, uint64_t now_ms, const char *json, size_t size)
{
    assert (self && json);
    json_t *value = json_loadb (json, size, 0, NULL);
    json_t *doc = self->reported? json_loadb (self->reported, self->reported_size, 0, NULL)
                                : json_object ();
    if (!doc || !json_is_object (doc))
        doc = (json_decref (doc), json_object ());
    char *text = NULL;
    if (value && json_is_object (value)) {
        json_object_set (doc, "software", value);
        //  A firmware release committed: its version is the node's own
        //  fw, reported where the registry takes it from
        //  fw, and the uplink's kind ("metered"), which a query finds
        const char *members [] = { "fw", "link" };
        for (size_t i = 0; i < 2; i++) {
            json_t *member = json_object_get (value, members [i]);
            if (!json_is_string (member))
                continue;
            json_t *meta = json_object_get (doc, "weft");
            if (!json_is_object (meta)) {
                meta = json_object ();
                json_object_set_new (doc, "weft", meta);
            }
            json_object_set (meta, members [i], member);
        }
        text = jsontext_dumps (doc, JSON_COMPACT);
    }
    json_decref (doc);
    json_decref (value);
    int rc = text && strlen (text) <= AGENT_DOC_MAX? 0: -1;
    if (rc == 0)
        rc = s_report_new (self, self->reported_desired, *self->status? self->status: "ok",
                           text, strlen (text), false);
    free (text);
    if (rc) {
        zsys_error ("twin: cannot store the software report");
        return -1;
    }
    if (self->started)
        s_send_report (self, now_ms);
    return 0;
}

//  --------------------------------------------------------------------------
//  Accessors.

uint64_t
agent_desired_version (agent_t *self)
{
    assert (self);
    return self->desired_version;
}

const char *
agent_desired (agent_t *self, size_t *size_p)
{
    assert (self && size_p);
    *size_p = self->desired_size;
    return self->desired;
}

uint64_t
agent_applied_version (agent_t *self)
{
    assert (self);
    return self->applied_version;
}

uint64_t
agent_reported_version (agent_t *self)
{
    assert (self);
    return self->reported_version;
}

bool
agent_report_pending (agent_t *self)
{
    assert (self);
    return self->reported_version > self->acked_version;
}

uint64_t
agent_dropped (agent_t *self)
{
    assert (self);
    return self->dropped;
}

uint64_t
agent_refused (agent_t *self)
{
    assert (self);
    return self->refused;
}
