/*  wire_table - every message payload of Weft, one row each
    The single description of the payloads: wire order, msgpack kind,
    the C member each field decodes into, and its explicit limits. The
    codec (wire.c) and the message table of docs/protocol.md section 5
    both come from these rows. The table is indexed by type (a row per
    type number, empty for numbers not in use).  */

#include <stddef.h>
#include <assert.h>
#include "wire.h"
#include "msg.h"
#include "meshmsg.h"
#include "policymsg.h"
#include "tpmmsg.h"
#include "delegmsg.h"
#include "passport.h"
#include "updmsg.h"
#include "sworder.h"
#include "sitemsg.h"

#define S_STATUS_MAX    255
#define S_INDEX_MAX     (1u << 16)      //  DELEGATED_VERDICT pcr + 1, event + 1

#define S_WIDTH(st, m)  sizeof (((st *) 0)->m)

//  Field makers: st is the family's struct, m the member (a path such as
//  enrol_request.token inside msg_t)
#define UINT(st, n, m, lo, hi, fl) \
    { n, WIRE_UINT, fl, offsetof (st, m), 0, S_WIDTH (st, m), 0, lo, hi }
#define UINT_NIL(st, n, m, flag, lo, hi, fl) \
    { n, WIRE_UINT_NIL, fl, offsetof (st, m), offsetof (st, flag), 8, 0, lo, hi }
#define INDEX(st, n, m, hi) \
    { n, WIRE_INDEX, 0, offsetof (st, m), 0, sizeof (int), 0, 0, hi }
#define STR(st, n, m, lo, hi, fl) \
    { n, WIRE_STR, fl, offsetof (st, m), 0, 0, 0, lo, hi }
#define STRN(st, n, m, lo, hi, fl) \
    { n, WIRE_STRN, fl, offsetof (st, m), offsetof (st, m##_size), 0, 0, lo, hi }
#define BIN(st, n, m, size, fl) \
    { n, WIRE_BIN, fl, offsetof (st, m), 0, 0, 0, size, size }
#define BINREF(st, n, m, lo, hi, fl) \
    { n, WIRE_BINREF, fl, offsetof (st, m), offsetof (st, m##_size), 0, 0, lo, hi }
#define BINPTR(st, n, m, size) \
    { n, WIRE_BINPTR, 0, offsetof (st, m), 0, 0, 0, size, size }
#define BINLIST(st, n, m, count, unit, lo, hi, fl) \
    { n, WIRE_BINLIST, fl, offsetof (st, m), offsetof (st, count), 0, unit, lo, hi }

#define S_ROW(type, name, family, st, fields, check, direction, section) \
    [type] = { type, name, family, sizeof (st), fields, sizeof fields / sizeof fields [0], \
      check, direction, section }

//  --------------------------------------------------------------------------
//  Enrolment, twins, acknowledgements, RPC (msg_t, proto/msg.h)

static const wire_field_t s_enrol_request [] = {
    STR (msg_t, "token", enrol_request.token, 0, WEFT_TOKEN_MAX, 0),
    BIN (msg_t, "sign_key", enrol_request.sign_key, WEFT_KEY_SIZE, 0),
    BIN (msg_t, "curve_key", enrol_request.curve_key, WEFT_KEY_SIZE, 0),
    STR (msg_t, "device_type", enrol_request.device_type, 0, WEFT_NAME_MAX, 0),
};
static const wire_field_t s_enrol_response [] = {
    UINT (msg_t, "status", enrol_response.status, 0, S_STATUS_MAX, 0),
    STR (msg_t, "message", enrol_response.message, 0, WEFT_TEXT_MAX, 0),
    BINREF (msg_t, "cert", enrol_response.cert, 0, WEFT_FRAME_MAX, 0),
    BIN (msg_t, "ca_key", enrol_response.ca_key, WEFT_KEY_SIZE, 0),
    BINREF (msg_t, "coord_cert", enrol_response.coord_cert, 0, WEFT_FRAME_MAX, 0),
    BINREF (msg_t, "release_root", enrol_response.release_root, 0, MSG_RELEASE_ROOT_MAX,
            WIRE_OPTIONAL),
};
static const wire_field_t s_twin_desired [] = {
    STR (msg_t, "device", twin_desired.device, 0, WEFT_NAME_MAX, 0),
    UINT (msg_t, "version", twin_desired.version, 0, UINT64_MAX, 0),
    STRN (msg_t, "doc", twin_desired.doc, 0, WEFT_STR_MAX, 0),
};
static const wire_field_t s_twin_reported [] = {
    STR (msg_t, "device", twin_reported.device, 0, WEFT_NAME_MAX, 0),
    UINT (msg_t, "version", twin_reported.version, 0, UINT64_MAX, 0),
    UINT (msg_t, "desired_version", twin_reported.desired_version, 0, UINT64_MAX, 0),
    STRN (msg_t, "doc", twin_reported.doc, 0, WEFT_STR_MAX, 0),
    STR (msg_t, "status", twin_reported.status, 0, WEFT_TEXT_MAX, 0),
};
static const wire_field_t s_ack [] = {
    BIN (msg_t, "ack_id", ack.ack_id, WEFT_ID_SIZE, 0),
    UINT (msg_t, "status", ack.status, 0, S_STATUS_MAX, 0),
    STR (msg_t, "message", ack.message, 0, WEFT_TEXT_MAX, 0),
};
static const wire_field_t s_heartbeat [] = {
    UINT (msg_t, "uptime_s", heartbeat.uptime_s, 0, UINT64_MAX, 0),
    UINT (msg_t, "desired_version", heartbeat.desired_version, 0, UINT64_MAX, 0),
    UINT (msg_t, "reported_version", heartbeat.reported_version, 0, UINT64_MAX, 0),
    UINT (msg_t, "passport_ms", heartbeat.passport_ms, 0, UINT64_MAX, WIRE_OPTIONAL),
};
static const wire_field_t s_rpc_request [] = {
    STR (msg_t, "method", rpc_request.method, 0, WEFT_NAME_MAX, 0),
    STRN (msg_t, "args", rpc_request.args, 0, WEFT_STR_MAX, 0),
    BINREF (msg_t, "credential", rpc_request.credential, 1, MSG_CREDENTIAL_MAX, WIRE_OPTIONAL),
};
static const wire_field_t s_rpc_reply [] = {
    BIN (msg_t, "request_id", rpc_reply.request_id, WEFT_ID_SIZE, 0),
    UINT (msg_t, "status", rpc_reply.status, 0, S_STATUS_MAX, 0),
    STR (msg_t, "error", rpc_reply.error, 0, WEFT_TEXT_MAX, 0),
    BINREF (msg_t, "result", rpc_reply.result, 0, WEFT_FRAME_MAX, 0),
};

//  --------------------------------------------------------------------------
//  Mesh (meshmsg_t, proto/meshmsg.h)

static const wire_field_t s_hello [] = {
    BINREF (meshmsg_t, "cert", cert, 0, WEFT_FRAME_MAX, 0),
    STR (meshmsg_t, "path", path, 0, MESHMSG_PATH_MAX, 0),
    UINT (meshmsg_t, "revocations", revocations, 0, UINT64_MAX, 0),
    UINT (meshmsg_t, "quarantine", quarantine, 0, UINT64_MAX, WIRE_OPTIONAL),
    BINREF (meshmsg_t, "passport", passport, 0, PASSPORT_MAX,
            WIRE_OPTIONAL | WIRE_NULL_EMPTY),
};
static const wire_field_t s_route [] = {
    STR (meshmsg_t, "path", path, 0, MESHMSG_PATH_MAX, 0),
    UINT (meshmsg_t, "revocations", revocations, 0, UINT64_MAX, 0),
    UINT (meshmsg_t, "quarantine", quarantine, 0, UINT64_MAX, WIRE_OPTIONAL),
};
static const wire_field_t s_custody_ack [] = {
    BINLIST (meshmsg_t, "ids", ids, id_count, WEFT_ID_SIZE, 1, MESHMSG_ACK_IDS_MAX, 0),
    UINT (meshmsg_t, "status", status, 0, S_STATUS_MAX, 0),
    STR (meshmsg_t, "reason", reason, 0, WEFT_TEXT_MAX, WIRE_OPTIONAL),
};
static const wire_field_t s_revocations [] = {
    UINT (meshmsg_t, "version", revocations, 0, UINT64_MAX, 0),
    STRN (meshmsg_t, "names", names, 0, WEFT_STR_MAX, 0),
    BINLIST (meshmsg_t, "curve_keys", curve_keys, key_count, WEFT_KEY_SIZE, 0,
             MESHMSG_REVOKED_MAX, 0),
    BINLIST (meshmsg_t, "operator_keys", operator_keys, operator_count, WEFT_KEY_SIZE, 0,
             MESHMSG_REVOKED_MAX, WIRE_OPTIONAL),
};
static const wire_field_t s_node_stats [] = {
    STRN (meshmsg_t, "counters", counters, 0, MESHMSG_STATS_MAX, 0),
};
static const wire_field_t s_quarantine [] = {
    UINT (meshmsg_t, "version", quarantine, 0, UINT64_MAX, 0),
    STRN (meshmsg_t, "names", names, 0, MESHMSG_QUARANTINE_NAMES_MAX, 0),
};

//  --------------------------------------------------------------------------
//  Policy gossip (policymsg_t, proto/policymsg.h)

static const wire_field_t s_policy [] = {
    BINREF (policymsg_t, "object", object, 1, POLICYMSG_OBJECT_MAX, 0),
};
static const wire_field_t s_policy_summary [] = {
    UINT (policymsg_t, "count", count, 0, UINT64_MAX, 0),
    BIN (policymsg_t, "root", root, POLICYMSG_DIGEST_SIZE, 0),
    BINPTR (policymsg_t, "buckets", buckets, POLICYMSG_BUCKETS * POLICYMSG_DIGEST_SIZE),
};
static const wire_field_t s_policy_keys [] = {
    UINT (policymsg_t, "want", want, 0, 1, 0),
    STRN (policymsg_t, "keys", keys, 0, POLICYMSG_KEYS_TEXT_MAX, 0),
    BINLIST (policymsg_t, "versions", versions, key_count, 8, 0, POLICYMSG_KEYS_MAX, 0),
};

//  --------------------------------------------------------------------------
//  TPM onboarding and attestation (tpmmsg_t, proto/tpmmsg.h)

#define S_TPM_IDENTITY(ticket_size, proof_size) \
    STR (tpmmsg_t, "token", token, 0, WEFT_TOKEN_MAX, 0), \
    BIN (tpmmsg_t, "sign_key", sign_key, WEFT_KEY_SIZE, 0), \
    BIN (tpmmsg_t, "curve_key", curve_key, WEFT_KEY_SIZE, 0), \
    STR (tpmmsg_t, "device_type", device_type, 0, WEFT_NAME_MAX, 0), \
    BINREF (tpmmsg_t, "ek_public", ek_public, 1, TPMMSG_PUBLIC_MAX, 0), \
    BINREF (tpmmsg_t, "ek_cert", ek_cert, 0, TPMMSG_EK_CERT_MAX, 0), \
    BINREF (tpmmsg_t, "ak_public", ak_public, 1, TPMMSG_PUBLIC_MAX, 0), \
    BINREF (tpmmsg_t, "ticket", ticket, ticket_size, ticket_size, 0), \
    BINREF (tpmmsg_t, "proof", proof, proof_size, proof_size, 0)

static const wire_field_t s_tpm_enrol_request [] = {
    S_TPM_IDENTITY (0, 0)
};
static const wire_field_t s_tpm_challenge [] = {
    STR (tpmmsg_t, "device", device, 0, WEFT_NAME_MAX, 0),
    BINREF (tpmmsg_t, "credential", credential, 1, TPMMSG_BLOB_MAX, 0),
    BINREF (tpmmsg_t, "secret", secret, 1, TPMMSG_BLOB_MAX, 0),
    BINREF (tpmmsg_t, "ticket", ticket, TPMMSG_TICKET_SIZE, TPMMSG_TICKET_SIZE, 0),
};
static const wire_field_t s_tpm_proof [] = {
    S_TPM_IDENTITY (TPMMSG_TICKET_SIZE, TPMMSG_PROOF_SIZE)
};
static const wire_field_t s_attest_challenge [] = {
    BINREF (tpmmsg_t, "nonce", nonce, TPMMSG_NONCE_MIN, TPMMSG_NONCE_MAX, 0),
    UINT (tpmmsg_t, "pcr_mask", pcr_mask, 1, TPMMSG_PCR_MASK_MAX, 0),
    UINT_NIL (tpmmsg_t, "ima_from", ima_from, ima, 0, TPMMSG_IMA_FROM_MAX, WIRE_OPTIONAL),
    BIN (tpmmsg_t, "ima_pcr10", ima_pcr10, 32, WIRE_WITH_PREV),
};
static const wire_field_t s_attest_evidence [] = {
    BINREF (tpmmsg_t, "nonce", nonce, TPMMSG_NONCE_MIN, TPMMSG_NONCE_MAX, 0),
    UINT (tpmmsg_t, "pcr_mask", pcr_mask, 1, TPMMSG_PCR_MASK_MAX, 0),
    BINREF (tpmmsg_t, "attest", attest, 1, TPMMSG_BLOB_MAX, 0),
    BINREF (tpmmsg_t, "signature", signature, 1, TPMMSG_BLOB_MAX, 0),
    BINREF (tpmmsg_t, "pcrs", pcrs, 0, 32 * 24, 0),
    BINREF (tpmmsg_t, "event_log", event_log, 0, TPMMSG_EVENT_LOG_MAX, 0),
    UINT_NIL (tpmmsg_t, "ima_from", ima_from, ima, 0, TPMMSG_IMA_FROM_MAX, WIRE_OPTIONAL),
    BINREF (tpmmsg_t, "ima_list", ima_list, 0, TPMMSG_IMA_LIST_MAX, WIRE_OPTIONAL),
    BINREF (tpmmsg_t, "ak_public", ak_public, 0, TPMMSG_PUBLIC_MAX, WIRE_OPTIONAL),
};

//  --------------------------------------------------------------------------
//  Delegated attestation (delegmsg_t, proto/delegmsg.h)

static const wire_field_t s_delegated_verdict [] = {
    STR (delegmsg_t, "device", device, 1, WEFT_NAME_MAX, 0),
    UINT (delegmsg_t, "ok", ok, 0, 1, 0),
    STR (delegmsg_t, "reason", reason, 0, DELEGMSG_REASON_MAX, 0),
    INDEX (delegmsg_t, "pcr", pcr, S_INDEX_MAX - 1),
    INDEX (delegmsg_t, "event", event, S_INDEX_MAX - 1),
    UINT (delegmsg_t, "time_ms", time_ms, 0, UINT64_MAX, 0),
    BINREF (delegmsg_t, "evidence", evidence, 1, DELEGMSG_EVIDENCE_MAX, 0),
};

//  --------------------------------------------------------------------------
//  Software updates (updmsg_t, proto/updmsg.h)

static const wire_field_t s_update_offer [] = {
    BINREF (updmsg_t, "metadata", metadata, 1, UPDMSG_METADATA_MAX, 0),
};
static const wire_field_t s_update_status [] = {
    STRN (updmsg_t, "software", status, 1, UPDMSG_STATUS_MAX, 0),
};
static const wire_field_t s_software_order [] = {
    BINREF (updmsg_t, "order", order, 1, SWORDER_MAX, 0),
};
static const wire_field_t s_chunk_want [] = {
    BIN (updmsg_t, "manifest", manifest, 32, 0),
    BINLIST (updmsg_t, "addresses", addresses, address_count, 32, 1, UPDMSG_WANT_MAX, 0),
    BINLIST (updmsg_t, "have", have, have_count, 32, 1, UPDMSG_HAVE_MAX, WIRE_OPTIONAL),
};
static const wire_field_t s_chunk_data [] = {
    BIN (updmsg_t, "manifest", manifest, 32, 0),
    BIN (updmsg_t, "address", address, 32, 0),
    UINT (updmsg_t, "size", size, 0, CHUNKER_MAX, 0),
    BINREF (updmsg_t, "packed", packed, 0, UPDMSG_PACKED_MAX, 0),
    BINREF (updmsg_t, "delta", delta, 1, UPDMSG_DELTA_MAX, WIRE_OPTIONAL),
};

//  --------------------------------------------------------------------------
//  Campaigns at the sites (sitemsg_t, proto/sitemsg.h)

static const wire_field_t s_site_directive [] = {
    STR (sitemsg_t, "campaign", campaign, 1, SITEMSG_CAMPAIGN_MAX, 0),
    UINT (sitemsg_t, "generation", generation, 1, UINT32_MAX, 0),
    STR (sitemsg_t, "site", site, 1, SITEMSG_SITE_MAX, 0),
    STR (sitemsg_t, "tenant", tenant, 1, WEFT_NAME_MAX, 0),
    UINT (sitemsg_t, "state", state, SITE_RUN, SITE_ABORT, 0),
    STR (sitemsg_t, "name", name, 1, WEFT_NAME_MAX, 0),
    STR (sitemsg_t, "version", version, 1, WEFT_NAME_MAX, 0),
    UINT (sitemsg_t, "threshold", threshold, 1, SITEMSG_THRESHOLD_MAX, 0),
    UINT (sitemsg_t, "success_pct", success_pct, 0, 100, 0),
    UINT (sitemsg_t, "soak_s", soak_s, 0, SITEMSG_SECONDS_MAX, 0),
    UINT (sitemsg_t, "concurrency", concurrency, 0, SITEMSG_THRESHOLD_MAX, 0),
    UINT (sitemsg_t, "timeout_s", timeout_s, 1, SITEMSG_SECONDS_MAX, 0),
    BINREF (sitemsg_t, "common", common, 0, UPDMSG_METADATA_MAX, 0),
    BINREF (sitemsg_t, "devices", entries, 0, SITEMSG_ENTRIES_MAX, 0),
};
static const wire_field_t s_site_report [] = {
    STR (sitemsg_t, "campaign", campaign, 1, SITEMSG_CAMPAIGN_MAX, 0),
    UINT (sitemsg_t, "generation", generation, 1, UINT32_MAX, 0),
    STR (sitemsg_t, "site", site, 1, SITEMSG_SITE_MAX, 0),
    UINT (sitemsg_t, "state", state, SITE_RUNNING, SITE_FINISHED, 0),
    UINT (sitemsg_t, "wave", wave, 0, 65535, 0),
    STR (sitemsg_t, "reason", reason, 0, WEFT_TEXT_MAX, 0),
    UINT (sitemsg_t, "sent_ms", sent_ms, 0, UINT64_MAX, 0),
    BINREF (sitemsg_t, "outcomes", entries, 0, SITEMSG_ENTRIES_MAX, 0),
};

//  A passport travels as its own signed document (proto/passport.h)
static const wire_field_t s_none [1];

//  --------------------------------------------------------------------------
//  The table, indexed by type: wire_msg is one array access

static const wire_msg_t s_msgs [WIRE_TYPE_LIMIT] = {
    S_ROW (MSG_ENROL_REQUEST, "ENROL_REQUEST", WIRE_FAMILY_MSG, msg_t, s_enrol_request,
           NULL, "node → coordinator", "§5.1"),
    S_ROW (MSG_ENROL_RESPONSE, "ENROL_RESPONSE", WIRE_FAMILY_MSG, msg_t, s_enrol_response,
           NULL, "coordinator → node", "§5.2"),
    S_ROW (MSG_TWIN_DESIRED, "TWIN_DESIRED", WIRE_FAMILY_MSG, msg_t, s_twin_desired,
           NULL, "coordinator → node", "§5.3"),
    S_ROW (MSG_TWIN_REPORTED, "TWIN_REPORTED", WIRE_FAMILY_MSG, msg_t, s_twin_reported,
           NULL, "node → coordinator", "§5.4"),
    S_ROW (MSG_ACK, "ACK", WIRE_FAMILY_MSG, msg_t, s_ack,
           NULL, "both", "§5.5"),
    S_ROW (MSG_HEARTBEAT, "HEARTBEAT", WIRE_FAMILY_MSG, msg_t, s_heartbeat,
           NULL, "node → coordinator", "§5.6"),
    S_ROW (MSG_RPC_REQUEST, "RPC_REQUEST", WIRE_FAMILY_MSG, msg_t, s_rpc_request,
           NULL, "operator → coordinator or site server", "§5.7"),
    S_ROW (MSG_RPC_REPLY, "RPC_REPLY", WIRE_FAMILY_MSG, msg_t, s_rpc_reply,
           NULL, "coordinator or site server → operator", "§5.8"),
    S_ROW (MSG_HELLO, "HELLO", WIRE_FAMILY_MESH, meshmsg_t, s_hello,
           meshmsg_check, "node ↔ node, node → coordinator", "§16"),
    S_ROW (MSG_ROUTE, "ROUTE", WIRE_FAMILY_MESH, meshmsg_t, s_route,
           meshmsg_check, "node ↔ node", "§16"),
    S_ROW (MSG_CUSTODY_ACK, "CUSTODY_ACK", WIRE_FAMILY_MESH, meshmsg_t, s_custody_ack,
           meshmsg_check, "both", "§16"),
    S_ROW (MSG_REVOCATIONS, "REVOCATIONS", WIRE_FAMILY_MESH, meshmsg_t, s_revocations,
           meshmsg_check, "coordinator → nodes", "§16"),
    S_ROW (MSG_NODE_STATS, "NODE_STATS", WIRE_FAMILY_MESH, meshmsg_t, s_node_stats,
           meshmsg_check, "node → coordinator", "§16"),
    S_ROW (MSG_POLICY, "POLICY", WIRE_FAMILY_POLICY, policymsg_t, s_policy,
           policymsg_msg_check, "node ↔ node, coordinator → node", "§18"),
    S_ROW (MSG_POLICY_SUMMARY, "POLICY_SUMMARY", WIRE_FAMILY_POLICY, policymsg_t,
           s_policy_summary, policymsg_msg_check, "node ↔ node", "§18"),
    S_ROW (MSG_POLICY_KEYS, "POLICY_KEYS", WIRE_FAMILY_POLICY, policymsg_t, s_policy_keys,
           policymsg_msg_check, "node ↔ node", "§18"),
    S_ROW (MSG_TPM_ENROL_REQUEST, "TPM_ENROL_REQUEST", WIRE_FAMILY_TPM, tpmmsg_t,
           s_tpm_enrol_request, tpmmsg_check, "node → coordinator", "§17"),
    S_ROW (MSG_TPM_CHALLENGE, "TPM_CHALLENGE", WIRE_FAMILY_TPM, tpmmsg_t, s_tpm_challenge,
           tpmmsg_check, "coordinator → node", "§17"),
    S_ROW (MSG_TPM_PROOF, "TPM_PROOF", WIRE_FAMILY_TPM, tpmmsg_t, s_tpm_proof,
           tpmmsg_check, "node → coordinator", "§17"),
    S_ROW (MSG_ATTEST_CHALLENGE, "ATTEST_CHALLENGE", WIRE_FAMILY_TPM, tpmmsg_t,
           s_attest_challenge, tpmmsg_check, "verifier → node", "§17"),
    S_ROW (MSG_ATTEST_EVIDENCE, "ATTEST_EVIDENCE", WIRE_FAMILY_TPM, tpmmsg_t,
           s_attest_evidence, tpmmsg_check, "node → verifier", "§17"),
    S_ROW (MSG_QUARANTINE, "QUARANTINE", WIRE_FAMILY_MESH, meshmsg_t, s_quarantine,
           meshmsg_check, "coordinator → nodes", "§16"),
    S_ROW (MSG_DELEGATED_VERDICT, "DELEGATED_VERDICT", WIRE_FAMILY_DELEG, delegmsg_t,
           s_delegated_verdict, NULL, "site server → coordinator", "§19"),
    [MSG_PASSPORT] = { MSG_PASSPORT, "PASSPORT", WIRE_FAMILY_DOCUMENT, 0, s_none, 0, NULL,
      "verifier → node", "§20" },
    S_ROW (MSG_UPDATE_OFFER, "UPDATE_OFFER", WIRE_FAMILY_UPDATE, updmsg_t, s_update_offer,
           NULL, "coordinator or importing node → device", "§21"),
    S_ROW (MSG_CHUNK_WANT, "CHUNK_WANT", WIRE_FAMILY_UPDATE, updmsg_t, s_chunk_want,
           NULL, "node ↔ node, site server → coordinator", "§21"),
    S_ROW (MSG_CHUNK_DATA, "CHUNK_DATA", WIRE_FAMILY_UPDATE, updmsg_t, s_chunk_data,
           updmsg_check, "node ↔ node, coordinator → site server", "§21"),
    S_ROW (MSG_SITE_DIRECTIVE, "SITE_DIRECTIVE", WIRE_FAMILY_SITE, sitemsg_t, s_site_directive,
           sitemsg_check, "coordinator → site server", "§22"),
    S_ROW (MSG_SITE_REPORT, "SITE_REPORT", WIRE_FAMILY_SITE, sitemsg_t, s_site_report,
           sitemsg_check, "site server → coordinator", "§22"),
    S_ROW (MSG_UPDATE_STATUS, "UPDATE_STATUS", WIRE_FAMILY_UPDATE, updmsg_t, s_update_status,
           NULL, "device → the node that offered its update", "§21"),
    S_ROW (MSG_SOFTWARE_ORDER, "SOFTWARE_ORDER", WIRE_FAMILY_UPDATE, updmsg_t,
           s_software_order, NULL, "coordinator → device", "§21"),
};

const wire_msg_t *
wire_msg (int type)
{
    if (type < 0 || type >= WIRE_TYPE_LIMIT || !s_msgs [type].name)
        return NULL;
    return &s_msgs [type];
}

const wire_msg_t *
wire_msgs (size_t *count_p)
{
    assert (count_p);
    *count_p = WIRE_TYPE_LIMIT;
    return s_msgs;
}
