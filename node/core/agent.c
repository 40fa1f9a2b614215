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
#include "proto/msg.h"
#include "proto/replay.h"

#define AGENT_REPORT_IDS    8           //  Envelope ids of one report we accept ACKs for
#define AGENT_KEY_MAX       (WEFT_NAME_MAX + 16)
#define AGENT_HLC_AHEAD_MS  (3600 * 1000)   //  Ignore peer clocks further ahead

struct _agent_t {
    char name [WEFT_NAME_MAX + 1];      //  Our device id
    char tenant [WEFT_NAME_MAX + 1];    //  Our tenant
    keys_t keys;                        //  Our keys; wiped on destroy
    uint8_t coord_sign [WEFT_KEY_SIZE]; //  Verifies the coordinator's envelopes
    uint64_t heartbeat_ms;              //  Heartbeat interval
    store_t *store;                     //  Borrowed
    char prefix [WEFT_NAME_MAX + 1];    //  Key prefix in AGENT_TABLE
    bool verbose;                       //  Log per-message traffic
    agent_effects_t fx;                 //  Bound by the daemon or simulator
    bool started;                       //  agent_start succeeded
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
    uint64_t acked_version;             //  Highest reported version ACKed
    uint8_t report_ids [AGENT_REPORT_IDS][WEFT_ID_SIZE];    //  Ids sent for it
    size_t report_sent;                 //  Number of sends of the current report
    uint64_t retry_ms;                  //  Current retransmit interval
    uint64_t dropped;                   //  Frames dropped
};

//  --------------------------------------------------------------------------
//  Helpers for the persisted state

static size_t
s_key (agent_t *self, const char *name, char *key)
{
    return (size_t) snprintf (key, AGENT_KEY_MAX, "%s%s", self->prefix, name);
}

static void
s_put_be64 (uint8_t *out, uint64_t value)
{
    for (int i = 7; i >= 0; i--) {
        out [i] = (uint8_t) value;
        value >>= 8;
    }
}

static uint64_t
s_get_be64 (const uint8_t *in)
{
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value = (value << 8) | in [i];
    return value;
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
    s_put_be64 (data, value);
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
    uint64_t value = data && size == 8? s_get_be64 (data): 0;
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
    uint64_t physical = now_ms << 16;
    if (physical > self->hlc)
        self->hlc = physical;
    else
        self->hlc++;
    return self->hlc;
}

static void
s_hlc_seen (agent_t *self, uint64_t now_ms, uint64_t remote)
{
    if ((remote >> 16) > now_ms + AGENT_HLC_AHEAD_MS)
        return;                     //  A clock that far off would drag ours
    if (remote > self->hlc)
        self->hlc = remote;
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
//  Sign and send one message upstream. Fills id (if not NULL) with the
//  envelope id. Returns 0; -1 if it could not be built; -2 if it was
//  built (id is valid) but not queued.

static int
s_send (agent_t *self, uint64_t now_ms, const msg_t *msg, uint8_t *id)
{
    uint64_t seq = s_next_seq (self);
    if (seq == 0)
        return -1;
    uint8_t *payload = NULL;
    size_t payload_size = 0;
    int rc = msg_encode (msg, &payload, &payload_size);
    if (rc) {
        zsys_error ("agent: encode %s: %s", proto_msg_name (msg->type),
                    proto_strerror (rc));
        return -1;
    }
    envelope_t env;
    memset (&env, 0, sizeof env);
    uint8_t material [WEFT_NAME_MAX + 1 + 8];
    size_t name_size = strlen (self->name);
    memcpy (material, self->name, name_size + 1);
    s_put_be64 (material + name_size + 1, seq);
    uint8_t hash [32];
    keys_hash (material, name_size + 1 + 8, hash);
    memcpy (env.id, hash, WEFT_ID_SIZE);
    env.type = msg->type;
    snprintf (env.origin, sizeof env.origin, "%s", self->name);
    snprintf (env.tenant, sizeof env.tenant, "%s", self->tenant);
    env.seq = seq;
    env.hlc = agent_hlc (self, now_ms);
    env.expiry = 0;                 //  Ordering is by seq; clocks may be off
    env.hop_limit = WEFT_HOP_LIMIT;
    env.hops = WEFT_HOP_LIMIT;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame = NULL;
    size_t size = 0;
    rc = envelope_encode (&env, self->keys.sign_secret, &frame, &size);
    free (payload);
    if (rc) {
        zsys_error ("agent: sign %s: %s", proto_msg_name (msg->type),
                    proto_strerror (rc));
        return -1;
    }
    if (id)
        memcpy (id, env.id, WEFT_ID_SIZE);
    rc = self->fx.send (self->fx.ctx, frame, size);
    if (self->verbose)
        zsys_debug ("agent: sent %s seq %" PRIu64 "%s", proto_msg_name (msg->type),
                    seq, rc? " (not queued)": "");
    free (frame);
    return rc? -2: 0;
}

int
agent_seal_payload (agent_t *self, uint64_t now_ms, int type, const uint8_t *payload,
                    size_t payload_size, uint8_t **frame_p, size_t *size_p)
{
    assert (self && payload && frame_p && size_p);
    *frame_p = NULL;
    uint64_t seq = s_next_seq (self);
    if (seq == 0)
        return -1;
    envelope_t env;
    memset (&env, 0, sizeof env);
    uint8_t material [WEFT_NAME_MAX + 1 + 8];
    size_t name_size = strlen (self->name);
    memcpy (material, self->name, name_size + 1);
    s_put_be64 (material + name_size + 1, seq);
    uint8_t hash [32];
    keys_hash (material, name_size + 1 + 8, hash);
    memcpy (env.id, hash, WEFT_ID_SIZE);
    env.type = type;
    snprintf (env.origin, sizeof env.origin, "%s", self->name);
    snprintf (env.tenant, sizeof env.tenant, "%s", self->tenant);
    env.seq = seq;
    env.hlc = agent_hlc (self, now_ms);
    env.hop_limit = WEFT_HOP_LIMIT;
    env.hops = WEFT_HOP_LIMIT;
    env.payload = payload;
    env.payload_size = payload_size;
    return envelope_encode (&env, self->keys.sign_secret, frame_p, size_p)? -1: 0;
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
    s_send (self, now_ms, &msg, NULL);
    self->fx.timer (self->fx.ctx, AGENT_TIMER_HEARTBEAT, now_ms + self->heartbeat_ms);
}

static void
s_send_report (agent_t *self, uint64_t now_ms)
{
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
    if (s_send (self, now_ms, &msg, id) != -1) {
        //  Also when not queued: ZeroMQ may still deliver it later
        memcpy (self->report_ids [self->report_sent % AGENT_REPORT_IDS], id, WEFT_ID_SIZE);
        self->report_sent++;
    }
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
    snprintf (self->name, sizeof self->name, "%s", config->name);
    snprintf (self->tenant, sizeof self->tenant, "%s", config->tenant? config->tenant: "");
    snprintf (self->prefix, sizeof self->prefix, "%s", config->prefix? config->prefix: "");
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
        self->desired_version = s_get_be64 (data);
        free (self->desired);
        self->desired = s_dup ((char *) data + 8, size - 8);
        self->desired_size = size - 8;
    }
    free (data);
    self->applied_version = s_get_u64 (self, txn, "applied");

    data = (uint8_t *) s_get (self, txn, "reported", &size);
    if (data && size >= 17 && size >= 17 + (size_t) data [16]) {
        self->reported_version = s_get_be64 (data);
        self->reported_desired = s_get_be64 (data + 8);
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
        s_send_report (self, now_ms);
    }
}

//  --------------------------------------------------------------------------
//  TWIN_DESIRED from the coordinator, already verified.

static int
s_on_desired (agent_t *self, uint64_t now_ms, const envelope_t *env)
{
    msg_t msg;
    int rc = msg_decode (&msg, MSG_TWIN_DESIRED, env->payload, env->payload_size);
    if (rc) {
        zsys_debug ("agent: malformed TWIN_DESIRED: %s", proto_strerror (rc));
        return -1;
    }
    msg_twin_desired_t *desired = &msg.twin_desired;
    if (strcmp (desired->device, self->name) != 0) {
        zsys_debug ("agent: TWIN_DESIRED for %s, not us", desired->device);
        return -1;
    }
    if (!s_json_object (desired->doc, desired->doc_size)) {
        zsys_debug ("agent: TWIN_DESIRED version %" PRIu64 " is not a JSON object",
                    desired->version);
        return -1;
    }
    replay_t window = self->replay;
    if (replay_accept (&window, env->seq) != 0)
        return -1;                  //  Checked by the caller; cannot happen
    bool newer = desired->version > self->desired_version;

    //  The replay window and the document commit together, before the ACK
    store_txn_t *txn = store_begin (self->store, true);
    rc = txn? s_put_replay (self, txn, &window): -1;
    if (rc == 0 && newer) {
        size_t size = 8 + desired->doc_size;
        uint8_t *data = (uint8_t *) zmalloc (size);
        s_put_be64 (data, desired->version);
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
        return -1;
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
    s_send (self, now_ms, &ack, NULL);
    s_maybe_apply (self);
    return 0;
}

//  --------------------------------------------------------------------------
//  ACK from the coordinator, already verified.

static int
s_on_ack (agent_t *self, const envelope_t *env)
{
    msg_t msg;
    int rc = msg_decode (&msg, MSG_ACK, env->payload, env->payload_size);
    if (rc) {
        zsys_debug ("agent: malformed ACK: %s", proto_strerror (rc));
        return -1;
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
        return 0;
    }
    if (msg.ack.status == WEFT_STATUS_INTERNAL) {
        //  The coordinator could not commit; our retransmit tries again
        self->replay = window;
        zsys_warning ("agent: coordinator could not store reported version %" PRIu64
                      ": %s", self->reported_version, msg.ack.message);
        return 0;
    }
    if (msg.ack.status != WEFT_STATUS_OK)
        zsys_warning ("agent: coordinator refused reported version %" PRIu64 ": %s %s",
                      self->reported_version, proto_status_name (msg.ack.status),
                      msg.ack.message);
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
        return -1;
    }
    self->replay = window;
    self->acked_version = self->reported_version;
    self->fx.timer (self->fx.ctx, AGENT_TIMER_RETRANSMIT, 0);
    if (self->verbose)
        zsys_debug ("agent: reported version %" PRIu64 " acknowledged", self->acked_version);
    return 0;
}

//  --------------------------------------------------------------------------
//  One frame from upstream.

bool
agent_windowed (int type)
{
    return type == MSG_TWIN_DESIRED || type == MSG_ACK;
}

int
agent_message (agent_t *self, uint64_t now_ms, const uint8_t *frame, size_t size)
{
    assert (self);
    envelope_t env;
    int rc = self->started? envelope_decode (&env, frame, size): -1;
    const char *why = NULL;
    if (rc)
        why = self->started? proto_strerror (rc): "not started";
    else
    if (strcmp (env.origin, AGENT_COORDINATOR) != 0)
        why = "origin is not the coordinator";
    else
    if (envelope_verify (&env, self->coord_sign) != 0)
        why = "bad signature";
    else
    if (env.expiry && env.expiry <= now_ms)
        why = "expired";
    else
    if (!agent_windowed (env.type))
        why = "unexpected message type";
    else
    if (!replay_fresh (&self->replay, env.seq))
        why = "replayed";
    if (why) {
        zsys_debug ("agent: dropped frame of %zu bytes: %s", size, why);
        self->dropped++;
        return -1;
    }
    s_hlc_seen (self, now_ms, env.hlc);
    if (self->verbose)
        zsys_debug ("agent: received %s seq %" PRIu64,
                    proto_msg_name (env.type)? proto_msg_name (env.type): "?", env.seq);
    if (env.type == MSG_TWIN_DESIRED)
        rc = s_on_desired (self, now_ms, &env);
    else
        rc = s_on_ack (self, &env);
    if (rc)
        self->dropped++;
    return rc;
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
    size_t status_size = strlen (status);
    uint64_t new_version = self->reported_version + 1;

    //  Persist the report (and that this version is done) before sending it
    size_t size = 17 + status_size + doc_size;
    uint8_t *data = (uint8_t *) zmalloc (size);
    s_put_be64 (data, new_version);
    s_put_be64 (data + 8, version);
    data [16] = (uint8_t) status_size;
    memcpy (data + 17, status, status_size);
    memcpy (data + 17 + status_size, doc, doc_size);
    store_txn_t *txn = store_begin (self->store, true);
    int rc = txn? s_put (self, txn, "reported", data, size): -1;
    if (rc == 0)
        rc = s_put_u64 (self, txn, "applied", version);
    if (rc == 0)
        rc = store_commit (&txn);
    else
        store_abort (&txn);
    free (data);
    self->applying = 0;
    if (rc) {
        //  Not persisted: the next start applies this version again
        zsys_error ("twin: cannot store the report for desired version %" PRIu64, version);
        return;
    }
    char *copy = s_dup (doc, doc_size);
    free (self->reported);
    self->reported = copy;
    self->reported_size = doc_size;
    memcpy (self->status, status, status_size + 1);
    self->reported_version = new_version;
    self->reported_desired = version;
    self->applied_version = version;
    self->report_sent = 0;
    self->retry_ms = AGENT_RETRY_MIN_MS;
    if (ok)
        zsys_info ("twin: applied desired version %" PRIu64, version);
    else
        zsys_warning ("twin: applying desired version %" PRIu64 " failed: %s",
                      version, status);
    s_send_report (self, now_ms);
    s_maybe_apply (self);
}

//  --------------------------------------------------------------------------
//  Accessors.

uint64_t
agent_desired_version (agent_t *self)
{
    assert (self);
    return self->desired_version;
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

//  --------------------------------------------------------------------------
//  Selftest: fake time, captured frames, a fake coordinator, and a real
//  LMDB store in a temporary directory.

#define TEST_FRAMES 64

typedef struct {
    uint8_t *frames [TEST_FRAMES];      //  Sent frames, owned
    size_t sizes [TEST_FRAMES];
    size_t sent;
    bool fail_send;                     //  Simulate a lost link
    uint64_t timers [AGENT_TIMERS];     //  Armed deadlines
    uint64_t apply_version;             //  Last apply asked
    char *apply_doc;
    size_t applies;
} test_world_t;

static int
s_test_send (void *ctx, const uint8_t *frame, size_t size)
{
    test_world_t *world = (test_world_t *) ctx;
    if (world->fail_send)
        return -1;
    assert (world->sent < TEST_FRAMES);
    world->frames [world->sent] = (uint8_t *) zmalloc (size);
    memcpy (world->frames [world->sent], frame, size);
    world->sizes [world->sent++] = size;
    return 0;
}

static void
s_test_timer (void *ctx, int kind, uint64_t at_ms)
{
    test_world_t *world = (test_world_t *) ctx;
    assert (kind >= 0 && kind < AGENT_TIMERS);
    world->timers [kind] = at_ms;
}

static void
s_test_apply (void *ctx, uint64_t version, const char *doc, size_t size)
{
    test_world_t *world = (test_world_t *) ctx;
    world->apply_version = version;
    free (world->apply_doc);
    world->apply_doc = s_dup (doc, size);
    world->applies++;
}

static void
s_test_clear (test_world_t *world)
{
    for (size_t i = 0; i < world->sent; i++)
        free (world->frames [i]);
    world->sent = 0;
}

//  Decode the nth sent frame, verified with the node's key
static int
s_test_sent (test_world_t *world, size_t index, const keys_t *node,
             envelope_t *env, msg_t *msg)
{
    assert (index < world->sent);
    assert (envelope_decode (env, world->frames [index], world->sizes [index]) == 0);
    assert (envelope_verify (env, node->sign_public) == 0);
    assert (msg_decode (msg, env->type, env->payload, env->payload_size) == 0);
    return env->type;
}

//  A coordinator envelope; caller frees
static uint8_t *
s_test_coord (const keys_t *signer, const char *origin, uint64_t seq,
              uint64_t expiry, const msg_t *msg, size_t *size_p, uint8_t *id)
{
    uint8_t *payload;
    size_t payload_size;
    int rc = msg_encode (msg, &payload, &payload_size);
    assert (rc == 0);
    envelope_t env;
    memset (&env, 0, sizeof env);
    randombytes_buf (env.id, WEFT_ID_SIZE);
    if (id)
        memcpy (id, env.id, WEFT_ID_SIZE);
    env.type = msg->type;
    strcpy (env.origin, origin);
    env.seq = seq;
    env.hlc = (uint64_t) 1000 << 16;
    env.expiry = expiry;
    env.hop_limit = env.hops = WEFT_HOP_LIMIT;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame;
    rc = envelope_encode (&env, signer->sign_secret, &frame, size_p);
    assert (rc == 0);
    free (payload);
    return frame;
}

static uint8_t *
s_test_desired (const keys_t *signer, uint64_t seq, uint64_t version,
                const char *doc, size_t *size_p, uint8_t *id)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_TWIN_DESIRED;
    strcpy (msg.twin_desired.device, "gw-1");
    msg.twin_desired.version = version;
    msg.twin_desired.doc = doc;
    msg.twin_desired.doc_size = strlen (doc);
    return s_test_coord (signer, AGENT_COORDINATOR, seq, 0, &msg, size_p, id);
}

static uint8_t *
s_test_ack (const keys_t *signer, uint64_t seq, const uint8_t *ack_id, int status,
            size_t *size_p)
{
    msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_ACK;
    memcpy (msg.ack.ack_id, ack_id, WEFT_ID_SIZE);
    msg.ack.status = status;
    return s_test_coord (signer, AGENT_COORDINATOR, seq, 0, &msg, size_p, NULL);
}

void
agent_test (bool verbose)
{
    printf (" * agent: ");
    //  @selftest
    char dir [] = "/tmp/weft-agent-test.XXXXXX";
    assert (mkdtemp (dir));
    const char *tables [] = { AGENT_TABLE, NULL };
    store_t *store = store_new (dir, tables, 0);
    assert (store);
    keys_t node, coord, forger;
    keys_generate (&node);
    keys_generate (&coord);
    keys_generate (&forger);
    test_world_t world;
    memset (&world, 0, sizeof world);
    agent_effects_t effects = { &world, s_test_send, s_test_timer, s_test_apply };
    agent_config_t config = {
        .name = "gw-1", .tenant = "acme", .keys = &node,
        .coord_sign = coord.sign_public, .heartbeat_ms = 5000,
        .store = store, .prefix = "", .verbose = verbose
    };
    agent_t *agent = agent_new (&config, &effects);
    assert (agent);
    uint64_t now = 1700000000000ULL;
    envelope_t env;
    msg_t msg;
    size_t size;
    uint8_t id [WEFT_ID_SIZE];

    //  Heartbeat on connect, and the heartbeat timer
    assert (agent_start (agent, now) == 0);
    assert (world.timers [AGENT_TIMER_HEARTBEAT] == now + 5000);
    assert (world.applies == 0);
    agent_connected (agent, now);
    assert (world.sent == 1);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_HEARTBEAT);
    assert (streq (env.origin, "gw-1") && streq (env.tenant, "acme"));
    assert (env.seq == 2);          //  Seq 1 was the enrolment request
    assert ((env.hlc >> 16) == now);
    assert (msg.heartbeat.desired_version == 0);
    uint64_t last_seq = env.seq;
    s_test_clear (&world);
    now += 5000;
    agent_timer (agent, now, AGENT_TIMER_HEARTBEAT);
    assert (world.sent == 1);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_HEARTBEAT);
    assert (env.seq > last_seq);
    assert (msg.heartbeat.uptime_s == 5);
    assert (world.timers [AGENT_TIMER_HEARTBEAT] == now + 5000);
    s_test_clear (&world);

    //  Desired version 1: stored, ACKed, applied once
    uint8_t *desired1 = s_test_desired (&coord, 1, 1, "{\"led\":\"on\"}", &size, id);
    size_t desired1_size = size;
    assert (agent_message (agent, now, desired1, desired1_size) == 0);
    assert (agent_desired_version (agent) == 1);
    assert (world.sent == 1);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_ACK);
    assert (memcmp (msg.ack.ack_id, id, WEFT_ID_SIZE) == 0);
    assert (msg.ack.status == WEFT_STATUS_OK);
    assert (world.applies == 1 && world.apply_version == 1);
    assert (streq (world.apply_doc, "{\"led\":\"on\"}"));
    s_test_clear (&world);

    //  Delivered twice: refused as a replay, no ACK, no second apply
    assert (agent_message (agent, now, desired1, desired1_size) == -1);
    assert (world.sent == 0 && world.applies == 1);

    //  Applied: the report goes out and repeats with back-off until ACKed
    agent_applied (agent, now, 1, true, NULL, 0, NULL);
    assert (agent_applied_version (agent) == 1);
    assert (agent_reported_version (agent) == 1);
    assert (agent_report_pending (agent));
    assert (world.sent == 1);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_TWIN_REPORTED);
    assert (msg.twin_reported.version == 1);
    assert (msg.twin_reported.desired_version == 1);
    assert (streq (msg.twin_reported.status, "ok"));
    assert (msg.twin_reported.doc_size == strlen ("{\"led\":\"on\"}"));
    uint8_t first_id [WEFT_ID_SIZE];
    memcpy (first_id, env.id, WEFT_ID_SIZE);
    assert (world.timers [AGENT_TIMER_RETRANSMIT] == now + AGENT_RETRY_MIN_MS);
    s_test_clear (&world);
    now += AGENT_RETRY_MIN_MS;
    agent_timer (agent, now, AGENT_TIMER_RETRANSMIT);
    assert (world.sent == 1);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_TWIN_REPORTED);
    assert (msg.twin_reported.version == 1);
    assert (world.timers [AGENT_TIMER_RETRANSMIT] == now + 2 * AGENT_RETRY_MIN_MS);
    uint8_t second_id [WEFT_ID_SIZE];
    memcpy (second_id, env.id, WEFT_ID_SIZE);
    assert (memcmp (first_id, second_id, WEFT_ID_SIZE) != 0);
    s_test_clear (&world);

    //  An ACK for something else does not end it; the right one does
    uint8_t other_id [WEFT_ID_SIZE] = { 1, 2, 3 };
    uint8_t *ack = s_test_ack (&coord, 2, other_id, WEFT_STATUS_OK, &size);
    assert (agent_message (agent, now, ack, size) == 0);
    free (ack);
    assert (agent_report_pending (agent));
    ack = s_test_ack (&coord, 3, first_id, WEFT_STATUS_OK, &size);
    assert (agent_message (agent, now, ack, size) == 0);
    free (ack);
    assert (!agent_report_pending (agent));
    assert (world.timers [AGENT_TIMER_RETRANSMIT] == 0);
    agent_timer (agent, now + 60000, AGENT_TIMER_RETRANSMIT);
    assert (world.sent == 0);

    //  A newer version, then an older one, which is ACKed but ignored
    uint8_t *frame = s_test_desired (&coord, 5, 3, "{\"led\":\"off\"}", &size, NULL);
    assert (agent_message (agent, now, frame, size) == 0);
    free (frame);
    assert (agent_desired_version (agent) == 3);
    assert (world.applies == 2 && world.apply_version == 3);
    s_test_clear (&world);
    frame = s_test_desired (&coord, 4, 2, "{\"led\":\"dim\"}", &size, NULL);
    assert (agent_message (agent, now, frame, size) == 0);   //  In the window
    free (frame);
    assert (agent_desired_version (agent) == 3);
    assert (world.applies == 2);
    assert (world.sent == 1);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_ACK);
    s_test_clear (&world);

    //  Forged signature, wrong origin, expired, not a JSON object, garbage
    uint64_t dropped = agent_dropped (agent);
    frame = s_test_desired (&forger, 6, 9, "{\"led\":\"evil\"}", &size, NULL);
    assert (agent_message (agent, now, frame, size) == -1);
    free (frame);
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_TWIN_DESIRED;
    strcpy (msg.twin_desired.device, "gw-1");
    msg.twin_desired.version = 9;
    msg.twin_desired.doc = "{}";
    msg.twin_desired.doc_size = 2;
    frame = s_test_coord (&coord, "gw-2", 7, 0, &msg, &size, NULL);
    assert (agent_message (agent, now, frame, size) == -1);
    free (frame);
    frame = s_test_coord (&coord, AGENT_COORDINATOR, 8, now - 1, &msg, &size, NULL);
    assert (agent_message (agent, now, frame, size) == -1);
    free (frame);
    frame = s_test_desired (&coord, 9, 9, "[1,2]", &size, NULL);
    assert (agent_message (agent, now, frame, size) == -1);
    free (frame);
    uint8_t garbage [64];
    randombytes_buf (garbage, sizeof garbage);
    assert (agent_message (agent, now, garbage, sizeof garbage) == -1);
    assert (agent_message (agent, now, garbage, 0) == -1);
    assert (agent_dropped (agent) == dropped + 6);
    assert (agent_desired_version (agent) == 3);
    assert (world.sent == 0 && world.applies == 2);

    //  Restart before version 3's apply finished: it is applied again,
    //  the replay window survived, and seqs never go back
    agent_destroy (&agent);
    agent_destroy (&agent);
    store_destroy (&store);
    store = store_new (dir, tables, 0);
    assert (store);
    config.store = store;
    free (world.apply_doc);
    memset (&world, 0, sizeof world);
    agent = agent_new (&config, &effects);
    now += 1000;
    assert (agent_start (agent, now) == 0);
    assert (agent_desired_version (agent) == 3);
    assert (agent_applied_version (agent) == 1);
    assert (agent_reported_version (agent) == 1);
    assert (!agent_report_pending (agent));
    assert (world.applies == 1 && world.apply_version == 3);
    assert (streq (world.apply_doc, "{\"led\":\"off\"}"));
    assert (agent_message (agent, now, desired1, desired1_size) == -1);
    assert (world.applies == 1);
    agent_connected (agent, now);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_HEARTBEAT);
    assert (env.seq >= last_seq + AGENT_SEQ_BLOCK);
    assert (msg.heartbeat.desired_version == 3);
    assert (msg.heartbeat.reported_version == 1);
    last_seq = env.seq;
    s_test_clear (&world);

    //  Apply fails: reported carries the error and the previous document
    agent_applied (agent, now, 3, false, NULL, 0, "exit status 1");
    assert (agent_applied_version (agent) == 3);
    assert (agent_reported_version (agent) == 2);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_TWIN_REPORTED);
    assert (streq (msg.twin_reported.status, "exit status 1"));
    assert (msg.twin_reported.desired_version == 3);
    assert (msg.twin_reported.doc_size == strlen ("{\"led\":\"on\"}"));
    s_test_clear (&world);
    //  A stale result is ignored
    agent_applied (agent, now, 3, true, NULL, 0, NULL);
    assert (agent_reported_version (agent) == 2 && world.sent == 0);

    //  Crash between store and ACK: the ACK is lost, the document is not
    world.fail_send = true;
    frame = s_test_desired (&coord, 10, 4, "{\"fan\":2}", &size, NULL);
    assert (agent_message (agent, now, frame, size) == 0);
    free (frame);
    assert (world.applies == 2);    //  The crash comes before the apply ends
    agent_destroy (&agent);
    store_destroy (&store);
    store = store_new (dir, tables, 0);
    config.store = store;
    free (world.apply_doc);
    memset (&world, 0, sizeof world);
    agent = agent_new (&config, &effects);
    now += 1000;
    assert (agent_start (agent, now) == 0);
    assert (agent_desired_version (agent) == 4);
    assert (world.applies == 1 && world.apply_version == 4);
    assert (streq (world.apply_doc, "{\"fan\":2}"));
    //  The unacknowledged report from before the crash is resent on connect
    assert (agent_report_pending (agent));
    assert (world.timers [AGENT_TIMER_RETRANSMIT] == now + AGENT_RETRY_MIN_MS);
    agent_connected (agent, now);
    assert (world.sent == 2);
    assert (s_test_sent (&world, 1, &node, &env, &msg) == MSG_TWIN_REPORTED);
    assert (msg.twin_reported.version == 2);
    assert (env.seq > last_seq);
    s_test_clear (&world);

    //  Apply with the handler's own report
    agent_applied (agent, now, 4, true, "{\"fan\":2,\"rpm\":900}", 19, NULL);
    assert (s_test_sent (&world, 0, &node, &env, &msg) == MSG_TWIN_REPORTED);
    assert (msg.twin_reported.version == 3);
    assert (msg.twin_reported.doc_size == 19);
    assert (memcmp (msg.twin_reported.doc, "{\"fan\":2,\"rpm\":900}", 19) == 0);
    s_test_clear (&world);

    //  The store fails: no ACK, nothing changes, and the same frame is
    //  accepted once the store works again
    frame = s_test_desired (&coord, 11, 5, "{\"fan\":3}", &size, NULL);
    store_fail_after (store, 1);
    assert (agent_message (agent, now, frame, size) == -1);
    assert (agent_desired_version (agent) == 4 && world.sent == 0);
    store_fail_after (store, 0);
    assert (agent_message (agent, now, frame, size) == 0);
    assert (agent_desired_version (agent) == 5);
    assert (world.sent == 1);
    s_test_clear (&world);
    agent_applied (agent, now, 5, true, NULL, 0, NULL);
    assert (agent_applied_version (agent) == 5);
    s_test_clear (&world);

    //  Restart once everything is applied: nothing is applied again, and
    //  the last desired frame delivered once more is still a replay
    agent_destroy (&agent);
    store_destroy (&store);
    store = store_new (dir, tables, 0);
    config.store = store;
    free (world.apply_doc);
    memset (&world, 0, sizeof world);
    agent = agent_new (&config, &effects);
    assert (agent_start (agent, now) == 0);
    assert (agent_desired_version (agent) == 5 && agent_applied_version (agent) == 5);
    assert (world.applies == 0);
    assert (agent_message (agent, now, frame, size) == -1);
    assert (world.applies == 0 && world.sent == 0);
    free (frame);

    //  HLC never goes backwards, even if the clock does
    uint64_t hlc = agent_hlc (agent, now);
    assert (agent_hlc (agent, now - 10000) > hlc);

    free (desired1);
    free (world.apply_doc);
    agent_destroy (&agent);
    store_destroy (&store);
    keys_wipe (&node);
    keys_wipe (&coord);
    keys_wipe (&forger);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    //  @end
    printf ("OK\n");
}
