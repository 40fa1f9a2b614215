/*  coord_mesh_attest - boot attestation on the mesh socket: a TPM device
    due for it gets an ATTEST_CHALLENGE as the answer to its heartbeat,
    its ATTEST_EVIDENCE is verified and the verdict recorded, a site
    server's delegated verdict is checked again, and a device that
    passed gets its passport (docs/protocol.md, sections 17, 19, 20).  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/meshmsg.h"
#include "proto/tpmmsg.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/attest_software.h"
#include "coordinator/core/attest_state.h"
#include "coordinator/core/attest_delegated.h"
#include "coordinator/core/hierarchy.h"
#include "coordinator/core/coord_internal.h"

//  Why device id is quarantined, read in txn; NULL if it is not
const char *
coord_quarantined_in (coord_t *self, store_txn_t *txn, const char *id, uint64_t now_ms)
{
    attest_status_t status;
    int state = txn && attest_status (txn, id, NULL, pki_ca_key (self->pki), now_ms,
                                      &status) == 0? status.state: ATTEST_NOT_REQUIRED;
    return state == ATTEST_FAILED? "failed attestation"
         : state == ATTEST_OVERDUE? "attestation overdue"
         : state == ATTEST_NEVER? "never attested": NULL;
}

const char *
coord_device_quarantined (coord_t *self, const char *id, uint64_t now_ms)
{
    store_txn_t *txn = store_begin (self->store, false);
    const char *reason = coord_quarantined_in (self, txn, id, now_ms);
    store_abort (&txn);
    return reason;
}

void
coord_attest_challenge (coord_t *self, const char *id, uint64_t uptime_s, uint64_t now_ms,
                        uint8_t **reply_p, size_t *reply_size_p)
{
    store_txn_t *txn = store_begin (self->store, false);
    json_t *device = txn? registry_device_get (txn, id): NULL;
    store_abort (&txn);
    const char *assurance = json_string_value (json_object_get (device, "assurance"));
    uint8_t nonce [ATTEST_NONCE_SIZE];
    uint32_t mask = 0;
    int64_t ima_from = -1;
    uint8_t ima_pcr10 [32] = { 0 };
    int due = 0;
    if (assurance && streq (assurance, "tpm")) {
        txn = store_begin (self->store, true);
        due = txn? attest_challenge (txn, device, pki_ca_key (self->pki), uptime_s, now_ms,
                                     nonce, &mask, &ima_from, ima_pcr10): -1;
        if (due == 1 && store_commit (&txn))
            due = -1;
        store_abort (&txn);
    }
    json_decref (device);
    if (due != 1)
        return;
    tpmmsg_t challenge;
    memset (&challenge, 0, sizeof challenge);
    challenge.type = MSG_ATTEST_CHALLENGE;
    challenge.nonce = nonce;
    challenge.nonce_size = sizeof nonce;
    challenge.pcr_mask = mask;
    challenge.ima = ima_from >= 0;
    challenge.ima_from = ima_from >= 0? (uint64_t) ima_from: 0;
    memcpy (challenge.ima_pcr10, ima_pcr10, 32);
    uint8_t *payload = NULL;
    size_t payload_size = 0;
    //  Global counter: the node's attestor answers it by its nonce, no
    //  replay window sees it, and the device's windowed seqs stay dense
    if (tpmmsg_encode (&challenge, &payload, &payload_size) == 0
    &&  coord_seal_payload (self, NULL, MSG_ATTEST_CHALLENGE, payload, payload_size, now_ms,
                            reply_p, reply_size_p) == 0)
        coord_debug (self, "coord: attestation challenge to %s (IMA from entry #%" PRId64 ")",
                 id, ima_from);
    free (payload);
}

//  The device's passport (attest_state.h), sealed, if it is fresh or
//  cleared and the node holds an older one (held_ms: the attested time
//  its heartbeat names). The node's mesh takes it, presents it in its
//  HELLOs, and names it in its next heartbeats. Global counter: the
//  agent's replay window never sees it.
//  txn: a read transaction to use, or NULL for one of its own
void
coord_attest_passport (coord_t *self, store_txn_t *txn, const char *id, uint64_t held_ms,
                       uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p)
{
    store_txn_t *own = txn? NULL: store_begin (self->store, false);
    uint8_t *passport = NULL;
    size_t size = 0;
    uint64_t attested_ms = 0;
    int rc = txn || own? attest_passport (txn? txn: own, id, NULL, held_ms, now_ms,
                                          self->keys.sign_secret, &passport, &size,
                                          &attested_ms): 1;
    store_abort (&own);
    if (rc == 0
    &&  coord_seal_payload (self, NULL, MSG_PASSPORT, passport, size, now_ms,
                            reply_p, reply_size_p) == 0)
        coord_debug (self, "coord: passport to %s (attested at %" PRIu64 ")", id, attested_ms);
    free (passport);
}

int
coord_on_attest_evidence (coord_t *self, coord_link_t *link, const envelope_t *env,
                          uint64_t now_ms, uint8_t **reply_p, size_t *reply_size_p)
{
    char origin_key [WEFT_NAME_MAX + 3];
    snprintf (origin_key, sizeof origin_key, "d/%s", env->origin);
    tpmmsg_t evidence;
    int rc = tpmmsg_decode (&evidence, MSG_ATTEST_EVIDENCE, env->payload, env->payload_size);
    if (rc)
        return coord_refuse_malformed (self, link, env, rc);
    replay_t window;
    if (coord_fresh (self, link, env, origin_key, &window))
        return PROTO_ERR_REFUSED;
    registry_seen (self->registry, env->origin, now_ms);
    store_txn_t *txn = store_begin (self->store, true);
    json_t *device = txn? registry_device_get (txn, env->origin): NULL;
    json_t *verdict = device? attest_evidence (txn, device, pki_ca_key (self->pki),
                                               &evidence, self->aks, self->imas, now_ms)
                              : NULL;
    //  The alert names the asset and the place, not only the device id
    char alert [512] = "";
    if (txn && verdict && !json_is_true (json_object_get (verdict, "ok")))
        hierarchy_alert_text (txn, device, "Attestation failed",
                              json_string_value (json_object_get (verdict, "reason"))?: "?",
                              alert, sizeof alert);
    bool stored = txn && store_commit (&txn) == 0;
    if (!stored)
        zsys_error ("coord: cannot record the attestation verdict of %s", env->origin);
    store_abort (&txn);
    json_t *ima = json_object_get (verdict, "ima");
    if (json_is_true (json_object_get (verdict, "ok")) && ima)
        zsys_info ("coord: attestation of %s passed (IMA: %" JSON_INTEGER_FORMAT
                   " entries sent from #%" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT
                   " verified in all)", env->origin,
                   json_integer_value (json_object_get (ima, "sent")),
                   json_integer_value (json_object_get (ima, "from")),
                   json_integer_value (json_object_get (ima, "verified")));
    else
    if (json_is_true (json_object_get (verdict, "ok")))
        zsys_info ("coord: attestation of %s passed", env->origin);
    else
    if (verdict)
        zsys_warning ("coord: ALERT attestation of %s failed: %s [%s]", env->origin,
                      json_string_value (json_object_get (verdict, "reason")), alert);
    bool passed = json_is_true (json_object_get (verdict, "ok"));
    json_decref (verdict);
    json_decref (device);
    coord_quarantine_build (self, now_ms);
    if (!stored)
        return coord_refuse (self, link, env, WEFT_STATUS_INTERNAL,
                             "cannot record the attestation verdict");
    registry_replay_set (self->registry, origin_key, &window, true);
    //  A pass is answered with the passport that admits it to its peers
    if (passed)
        coord_attest_passport (self, NULL, env->origin, 0, now_ms, reply_p, reply_size_p);
    return 0;
}

//  A site server's verdict with its evidence (attest_delegated.h): checked
//  again, recorded as ours, and quarantine follows our result
int
coord_on_attest_delegated (coord_t *self, coord_link_t *link, const envelope_t *env,
                           uint64_t now_ms)
{
    delegmsg_t msg;
    int rc = delegmsg_decode (&msg, MSG_DELEGATED_VERDICT, env->payload, env->payload_size);
    char origin_key [WEFT_NAME_MAX + 3];
    snprintf (origin_key, sizeof origin_key, "d/%s", env->origin);
    if (rc)
        return coord_refuse_malformed (self, link, env, rc);
    replay_t window;
    if (coord_fresh (self, link, env, origin_key, &window))
        return PROTO_ERR_REFUSED;
    registry_seen (self->registry, env->origin, now_ms);
    store_txn_t *txn = store_begin (self->store, true);
    bool opened = txn != NULL;
    json_t *server = txn? registry_device_get (txn, env->origin): NULL;
    json_t *device = txn? registry_device_get (txn, msg.device): NULL;
    char error [256] = "unknown device";
    json_t *verdict = server && device? attest_delegated (txn, server, device,
                                                          pki_ca_key (self->pki), &msg,
                                                          error, sizeof error): NULL;
    char alert [512] = "";
    if (verdict && !json_is_true (json_object_get (verdict, "ok")))
        hierarchy_alert_text (txn, device, "Attestation failed (verified by a site server)",
                              json_string_value (json_object_get (verdict, "reason"))?: "?",
                              alert, sizeof alert);
    bool stored = txn && verdict && store_commit (&txn) == 0;
    if (txn && verdict && !stored)
        zsys_error ("coord: cannot record the delegated verdict on %s", msg.device);
    store_abort (&txn);
    if (!verdict)
        zsys_warning ("coord: delegated verdict on %s from %s refused: %s", msg.device,
                      env->origin, error);
    else
    if (json_is_true (json_object_get (verdict, "ok")))
        zsys_info ("coord: attestation of %s passed (verified by %s, checked again)",
                   msg.device, env->origin);
    else
        zsys_warning ("coord: ALERT attestation of %s failed (verified by %s, checked again): "
                      "%s [%s]", msg.device, env->origin,
                      json_string_value (json_object_get (verdict, "reason")), alert);
    if (json_is_true (json_object_get (verdict, "disagrees")))
        zsys_warning ("coord: ALERT site server %s judged %s %s, our check says otherwise",
                      env->origin, msg.device, msg.ok? "passed": "failed");
    //  A device of another tenant is answered as a missing one: the
    //  reason must not tell a server which ids exist elsewhere
    bool foreign = !device || strstr (error, "is not in the tenant of");
    json_decref (server);
    json_decref (device);
    coord_quarantine_build (self, now_ms);
    if (!opened || (!verdict && streq (error, "store write failed")))
        return coord_refuse (self, link, env, WEFT_STATUS_INTERNAL, "store unavailable");
    if (verdict && !stored) {
        json_decref (verdict);
        return coord_refuse (self, link, env, WEFT_STATUS_INTERNAL,
                             "cannot record the delegated verdict");
    }
    registry_replay_set (self->registry, origin_key, &window, true);
    if (!verdict)
        //  Refused for good (not a server, stale...): the server's
        //  retransmission would get the same answer
        return coord_refuse (self, link, env, WEFT_STATUS_DENIED, "delegated verdict on %s "
                             "refused: %s", msg.device, foreign? "unknown device": error);
    json_decref (verdict);
    return 0;
}
