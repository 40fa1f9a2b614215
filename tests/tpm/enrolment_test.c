/*  enrolment_test - selftest of enrolment: tokens, their retries and
    refusals, and TPM onboarding against two swtpm processes, over a real
    store in a temporary directory.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/keys.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/tokens.h"
#include "proto/credential.h"
#include "node/io/tpm.h"
#include "tests/tpm/tpm_tests.h"
#include "coordinator/core/enrolment.h"

typedef struct {
    store_t *store;
    pki_t *pki;
    keys_t ca;
    uint8_t coord_curve [32];
    uint64_t now;
} s_rig_t;

//  Revoke a device as device.revoke does: marked in its record
static void
s_revoke (s_rig_t *rig, const char *id)
{
    store_txn_t *txn = store_begin (rig->store, true);
    json_t *device = registry_device_get (txn, id);
    assert (device);
    json_object_set_new (device, "revoked", json_true ());
    assert (registry_device_put (txn, device) == 0);
    assert (store_commit (&txn) == 0);
    json_decref (device);
}

//  One enrolment attempt in its own transaction, committed if created.
static int
s_enrol (s_rig_t *rig, const char *name, const char *token, keys_t *keys,
         enrolment_result_t *result)
{
    msg_enrol_request_t request;
    memset (&request, 0, sizeof request);
    snprintf (request.token, sizeof request.token, "%s", token);
    memcpy (request.sign_key, keys->sign_public, 32);
    memcpy (request.curve_key, keys->curve_public, 32);
    strcpy (request.device_type, "gateway");
    store_txn_t *txn = store_begin (rig->store, true);
    assert (txn);
    enrolment_apply (rig->pki, txn, rig->coord_curve, name, &request,
                     keys->curve_public, rig->now, result);
    if (result->created) {
        if (store_commit (&txn)) {
            enrolment_result_clear (result);
            result->status = WEFT_STATUS_INTERNAL;
        }
    }
    else
        store_abort (&txn);
    return result->status;
}

static void
s_token (s_rig_t *rig, const char *type, uint64_t ttl, char *text)
{
    char id [17];
    store_txn_t *txn = store_begin (rig->store, true);
    assert (tokens_create (txn, "acme", "acme/plant-1", type, ttl, rig->now, rig->coord_curve,
                           text, id, NULL) == 0);
    assert (store_commit (&txn) == 0);
}

//  --- TPM onboarding selftest: two swtpm processes, A and B, each with
//  an EK certificate from its own local CA

typedef struct {
    tpm_t *tpm;
    zchunk_t *ek;                   //  EK public (RSA)
    zchunk_t *ek_cert;              //  DER
    zchunk_t *ak_blob;
    zchunk_t *ak;                   //  AK public (ECC)
    keys_t keys;                    //  The node's own keys
} s_tpm_node_t;

static void
s_tpm_node_init (s_tpm_node_t *node, const char *tcti)
{
    memset (node, 0, sizeof *node);
    node->tpm = tpm_new (tcti);
    assert (node->tpm);
    assert (tpm_ek_public (node->tpm, TPM_KEY_RSA, &node->ek, NULL) == 0);
    node->ek_cert = tpm_ek_cert (node->tpm, TPM_KEY_RSA);
    assert (node->ek_cert);
    assert (tpm_ak_create (node->tpm, TPM_KEY_RSA, TPM_KEY_ECC, &node->ak_blob,
                           &node->ak, NULL) == 0);
    keys_generate (&node->keys);
}

static void
s_tpm_node_fini (s_tpm_node_t *node)
{
    tpm_destroy (&node->tpm);
    zchunk_destroy (&node->ek);
    zchunk_destroy (&node->ek_cert);
    zchunk_destroy (&node->ak_blob);
    zchunk_destroy (&node->ak);
    keys_wipe (&node->keys);
}

//  A request from node with this EK and AK (either may be another node's)
static void
s_tpm_request (tpmmsg_t *msg, int type, s_tpm_node_t *node, zchunk_t *ek, zchunk_t *ak,
               bool with_cert)
{
    memset (msg, 0, sizeof *msg);
    msg->type = type;
    memcpy (msg->sign_key, node->keys.sign_public, 32);
    memcpy (msg->curve_key, node->keys.curve_public, 32);
    strcpy (msg->device_type, "gateway");
    msg->ek_public = zchunk_data (ek);
    msg->ek_public_size = zchunk_size (ek);
    if (with_cert) {
        msg->ek_cert = zchunk_data (node->ek_cert);
        msg->ek_cert_size = zchunk_size (node->ek_cert);
    }
    msg->ak_public = zchunk_data (ak);
    msg->ak_public_size = zchunk_size (ak);
}

//  node's proof of activation: the secret it recovered for ticket
static void
s_tpm_proof (tpmmsg_t *msg, s_tpm_node_t *node, zchunk_t *ek, zchunk_t *ak, bool with_cert,
             const uint8_t *ticket, const uint8_t *proof, size_t proof_size)
{
    s_tpm_request (msg, MSG_TPM_PROOF, node, ek, ak, with_cert);
    msg->ticket = ticket;
    msg->ticket_size = TPMMSG_TICKET_SIZE;
    msg->proof = proof;
    msg->proof_size = proof_size;
}

//  One step in its own transaction, committed if created
static int
s_tpm_step (s_rig_t *rig, const keys_t *coord, const char *bundle, const char *name,
            tpmmsg_t *msg, const uint8_t *link_key, enrolment_result_t *result)
{
    store_txn_t *txn = store_begin (rig->store, true);
    assert (txn);
    enrolment_tpm_apply (rig->pki, txn, coord, bundle, bundle? strlen (bundle): 0, name,
                         msg, link_key, rig->now, result);
    if (result->created)
        assert (store_commit (&txn) == 0);
    else
        store_abort (&txn);
    return result->status;
}

//  Full onboarding of node as name with the given EK and AK, activating
//  with activator's TPM. Returns the final status; message in result.
static int
s_tpm_onboard (s_rig_t *rig, const keys_t *coord, const char *bundle, const char *name,
               s_tpm_node_t *node, s_tpm_node_t *activator, bool with_cert,
               enrolment_result_t *result)
{
    tpmmsg_t msg;
    s_tpm_request (&msg, MSG_TPM_ENROL_REQUEST, node, node->ek, node->ak, with_cert);
    if (s_tpm_step (rig, coord, bundle, name, &msg, node->keys.curve_public, result))
        return result->status;
    assert (result->challenge);
    zchunk_t *secret = tpm_activate (activator->tpm, activator->ak_blob,
                                     result->credential, result->secret);
    uint8_t ticket [TPMMSG_TICKET_SIZE];
    memcpy (ticket, result->ticket, sizeof ticket);
    enrolment_result_clear (result);
    uint8_t guess [32];
    randombytes_buf (guess, sizeof guess);
    s_tpm_proof (&msg, node, node->ek, node->ak, with_cert, ticket,
                 secret? zchunk_data (secret): guess, 32);
    int status = s_tpm_step (rig, coord, bundle, name, &msg, node->keys.curve_public, result);
    zchunk_destroy (&secret);
    return status;
}

static void
s_tpm_test (s_rig_t *rig, bool verbose)
{
    tpm_swtpm_t *swtpm_a = tpm_swtpm_new (true);
    tpm_swtpm_t *swtpm_b = tpm_swtpm_new (true);
    assert (swtpm_a && swtpm_b);
    s_tpm_node_t a, b;
    s_tpm_node_init (&a, tpm_swtpm_tcti (swtpm_a));
    s_tpm_node_init (&b, tpm_swtpm_tcti (swtpm_b));
    char *bundle_a = tpm_swtpm_ca_bundle (swtpm_a);
    keys_t coord;
    keys_generate (&coord);
    enrolment_result_t result;
    char error [256];
    rig->now = (uint64_t) time (NULL);  //  The EK certificates were made just now
    #define S_CASE(name) if (verbose) printf ("\n   tpm: %s", name)

    S_CASE ("refuses an unregistered EK");
    assert (s_tpm_onboard (rig, &coord, NULL, "gw-a", &a, &a, false, &result)
            == WEFT_STATUS_DENIED);
    assert (streq (result.message, "EK is not pre-registered"));
    assert (s_tpm_onboard (rig, &coord, NULL, "gw-a", &a, &a, true, &result)
            == WEFT_STATUS_DENIED);
    assert (streq (result.message, "EK is not pre-registered and no EK CA is configured"));

    S_CASE ("refuses an EK certificate from an unknown CA");
    assert (s_tpm_onboard (rig, &coord, bundle_a, "gw-b", &b, &b, true, &result)
            == WEFT_STATUS_DENIED);
    const char *unknown = "EK certificate refused: EK certificate's issuer is unknown (not "
                          "in the EK CA bundle): ";
    assert (strncmp (result.message, unknown, strlen (unknown)) == 0);

    S_CASE ("pre-registered EK onboards with placement, AK bound in the certificate");
    store_txn_t *txn = store_begin (rig->store, true);
    json_t *tags = json_pack ("{s:s}", "line", "3");
    assert (enrolment_tpm_preregister (txn, "gw-a", zchunk_data (a.ek), zchunk_size (a.ek),
                                       "acme", "acme/plant-1", tags, "gateway", rig->now,
                                       error, sizeof error) == 0);
    //  One id, one EK
    assert (enrolment_tpm_preregister (txn, "gw-a", zchunk_data (b.ek), zchunk_size (b.ek),
                                       "acme", "", NULL, "", rig->now,
                                       error, sizeof error) == -1);
    assert (enrolment_tpm_preregister (txn, "gw-x", (const uint8_t *) "junk", 4,
                                       "acme", "", NULL, "", rig->now,
                                       error, sizeof error) == -1);
    json_decref (tags);
    assert (store_commit (&txn) == 0);
    //  The id is held for that TPM: a token (of any tenant) cannot take
    //  it, and the refusal is the one for any id held elsewhere
    char token [WEFT_TOKEN_MAX + 1];
    s_token (rig, "", 3600, token);
    keys_t squatter;
    keys_generate (&squatter);
    assert (s_enrol (rig, "gw-a", token, &squatter, &result) == WEFT_STATUS_CONFLICT);
    assert (streq (result.message, "device id gw-a is not available"));
    keys_wipe (&squatter);
    //  The node asks as "whatever": the pre-registration names it
    assert (s_tpm_onboard (rig, &coord, NULL, "whatever", &a, &a, false, &result)
            == WEFT_STATUS_OK);
    assert (result.created && streq (result.device, "gw-a"));
    cert_t cert;
    assert (cert_decode (&cert, result.cert, result.cert_size, rig->ca.sign_public,
                         rig->now) == 0);
    assert (streq (cert.subject, "gw-a") && streq (cert.tenant, "acme"));
    assert (streq (cert.path, "acme/plant-1"));
    zchunk_t *ak_name = tpmverify_name (zchunk_data (a.ak), zchunk_size (a.ak));
    assert (cert.ak_name_size == CERT_AK_NAME_SIZE
            && memcmp (cert.ak_name, zchunk_data (ak_name), CERT_AK_NAME_SIZE) == 0);
    zchunk_destroy (&ak_name);
    enrolment_result_clear (&result);
    txn = store_begin (rig->store, false);
    json_t *device = registry_device_get (txn, "gw-a");
    store_abort (&txn);
    assert (device);
    assert (streq (json_string_value (json_object_get (device, "assurance")), "tpm"));
    assert (streq (json_string_value (json_object_get (device, "path")), "acme/plant-1"));
    assert (streq (json_string_value (
                   json_object_get (json_object_get (device, "tags"), "line")), "3"));
    json_decref (device);
    //  A lost reply: the same node gets the same certificate again
    assert (s_tpm_onboard (rig, &coord, NULL, "gw-a", &a, &a, false, &result)
            == WEFT_STATUS_OK);
    assert (!result.created && streq (result.message, "already enrolled"));
    enrolment_result_clear (&result);

    S_CASE ("an ECC P-256 EK onboards like an RSA one");
    //  TPM A's ECC EK, with an AK made under it; A's TPM activates
    s_tpm_node_t e;
    memset (&e, 0, sizeof e);
    e.tpm = a.tpm;
    assert (tpm_ek_public (a.tpm, TPM_KEY_ECC, &e.ek, NULL) == 0);
    assert (tpm_ak_create (a.tpm, TPM_KEY_ECC, TPM_KEY_ECC, &e.ak_blob, &e.ak, NULL) == 0);
    keys_generate (&e.keys);
    txn = store_begin (rig->store, true);
    assert (enrolment_tpm_preregister (txn, "gw-e", zchunk_data (e.ek), zchunk_size (e.ek),
                                       "acme", "acme/plant-1", NULL, "gateway", rig->now,
                                       error, sizeof error) == 0);
    assert (store_commit (&txn) == 0);
    assert (s_tpm_onboard (rig, &coord, NULL, "gw-e", &e, &e, false, &result)
            == WEFT_STATUS_OK);
    assert (result.created && streq (result.device, "gw-e"));
    assert (cert_decode (&cert, result.cert, result.cert_size, rig->ca.sign_public,
                         rig->now) == 0);
    ak_name = tpmverify_name (zchunk_data (e.ak), zchunk_size (e.ak));
    assert (cert.ak_name_size == CERT_AK_NAME_SIZE
            && memcmp (cert.ak_name, zchunk_data (ak_name), CERT_AK_NAME_SIZE) == 0);
    zchunk_destroy (&ak_name);
    enrolment_result_clear (&result);
    //  Its RSA EK is another key: not the one pre-registered as gw-e
    assert (s_tpm_onboard (rig, &coord, NULL, "gw-e", &a, &a, false, &result)
            != WEFT_STATUS_OK || !streq (result.device, "gw-e"));
    enrolment_result_clear (&result);
    zchunk_destroy (&e.ek);
    zchunk_destroy (&e.ak_blob);
    zchunk_destroy (&e.ak);
    keys_wipe (&e.keys);

    S_CASE ("an activation proof replayed after a revocation gets no certificate");
    //  The proof is captured within its ticket's life; then gw-a is revoked
    tpmmsg_t msg;
    s_tpm_request (&msg, MSG_TPM_ENROL_REQUEST, &a, a.ek, a.ak, false);
    assert (s_tpm_step (rig, &coord, NULL, "gw-a", &msg, a.keys.curve_public, &result)
            == WEFT_STATUS_OK && result.challenge);
    zchunk_t *captured = tpm_activate (a.tpm, a.ak_blob, result.credential, result.secret);
    assert (captured);
    uint8_t ticket [TPMMSG_TICKET_SIZE];
    memcpy (ticket, result.ticket, sizeof ticket);
    enrolment_result_clear (&result);
    s_revoke (rig, "gw-a");
    s_tpm_proof (&msg, &a, a.ek, a.ak, false, ticket, zchunk_data (captured),
                 zchunk_size (captured));
    assert (s_tpm_step (rig, &coord, NULL, "gw-a", &msg, a.keys.curve_public, &result)
            == WEFT_STATUS_DENIED);
    assert (streq (result.message, "device is revoked") && !result.cert);
    zchunk_destroy (&captured);
    //  ... and a new request gets no challenge
    assert (s_tpm_onboard (rig, &coord, NULL, "gw-a", &a, &a, false, &result)
            == WEFT_STATUS_DENIED);
    assert (streq (result.message, "device is revoked") && !result.challenge);

    S_CASE ("refuses a second enrolment claiming an existing device's id");
    //  B's EK is accepted by its certificate, but gw-a is taken
    char *bundle_b = tpm_swtpm_ca_bundle (swtpm_b);
    assert (s_tpm_onboard (rig, &coord, bundle_b, "gw-a", &b, &b, true, &result)
            == WEFT_STATUS_CONFLICT);
    assert (streq (result.message, "device id gw-a is not available"));
    //  New keys with A's own EK and AK: still another key
    s_tpm_node_t thief = a;
    keys_generate (&thief.keys);
    assert (s_tpm_onboard (rig, &coord, NULL, "gw-a", &thief, &a, false, &result)
            == WEFT_STATUS_CONFLICT);
    keys_wipe (&thief.keys);

    S_CASE ("EK accepted by a certificate chaining to the vendor CA");
    assert (s_tpm_onboard (rig, &coord, bundle_b, "gw-b", &b, &b, true, &result)
            == WEFT_STATUS_OK);
    assert (result.created);
    enrolment_result_clear (&result);
    //  Identity takeover of a device enrolled by EK certificate: B's own
    //  EK and AK, but other keys
    s_tpm_node_t other = b;
    keys_generate (&other.keys);
    assert (s_tpm_onboard (rig, &coord, bundle_b, "gw-b", &other, &b, true, &result)
            == WEFT_STATUS_CONFLICT);
    assert (streq (result.message, "device id gw-b is not available"));
    keys_wipe (&other.keys);
    //  ... and B asking for a privileged role with its certificate alone
    s_tpm_node_t srv = b;
    keys_generate (&srv.keys);
    tpmmsg_t ask;
    s_tpm_request (&ask, MSG_TPM_ENROL_REQUEST, &srv, b.ek, b.ak, true);
    strcpy (ask.device_type, "server");
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-s", &ask, srv.keys.curve_public, &result)
            == WEFT_STATUS_BAD_REQUEST);
    assert (strstr (result.message, "enrols a gateway, not a server"));
    keys_wipe (&srv.keys);

    S_CASE ("an EK registered once is never registered again, from any tenant");
    txn = store_begin (rig->store, true);
    //  A's EK, pre-registered in acme and enrolled: not under another
    //  id or tenant, and not again as itself
    assert (enrolment_tpm_preregister (txn, "gw-stolen", zchunk_data (a.ek), zchunk_size (a.ek),
                                       "globex", "", NULL, "", rig->now, error, sizeof error)
            == -1);
    assert (streq (error, "this EK is already registered"));
    assert (enrolment_tpm_preregister (txn, "gw-a", zchunk_data (a.ek), zchunk_size (a.ek),
                                       "acme", "", NULL, "", rig->now, error, sizeof error)
            == -1);
    //  B's EK, enrolled by its certificate only
    assert (enrolment_tpm_preregister (txn, "gw-b2", zchunk_data (b.ek), zchunk_size (b.ek),
                                       "globex", "", NULL, "", rig->now, error, sizeof error)
            == -1);
    assert (streq (error, "this EK is already registered"));
    json_t *entry = enrolment_tpm_prereg_get (txn, zchunk_data (a.ek), zchunk_size (a.ek));
    assert (streq (json_string_value (json_object_get (entry, "id")), "gw-a"));
    assert (streq (json_string_value (json_object_get (entry, "tenant")), "acme"));
    json_decref (entry);
    //  A database from before the index: indexed once at start
    char hash [ENROLMENT_EK_HASH_HEX];
    enrolment_ek_hash (zchunk_data (b.ek), zchunk_size (b.ek), hash);
    char *key = zsys_sprintf ("cert-ek/%s", hash);
    assert (store_del (txn, ENROLMENT_TPM_TABLE, key, strlen (key)) == 0);
    free (key);
    assert (registry_meta_put (txn, "cert_ek_index", 0) == 0);
    assert (enrolment_tpm_preregister (txn, "gw-b2", zchunk_data (b.ek), zchunk_size (b.ek),
                                       "globex", "", NULL, "", rig->now, error, sizeof error)
            == 0);              //  The hole the index closes
    store_abort (&txn);
    txn = store_begin (rig->store, true);
    key = zsys_sprintf ("cert-ek/%s", hash);
    assert (store_del (txn, ENROLMENT_TPM_TABLE, key, strlen (key)) == 0);
    free (key);
    assert (registry_meta_put (txn, "cert_ek_index", 0) == 0);
    assert (enrolment_tpm_index (txn) == 0);
    assert (enrolment_tpm_preregister (txn, "gw-b2", zchunk_data (b.ek), zchunk_size (b.ek),
                                       "globex", "", NULL, "", rig->now, error, sizeof error)
            == -1);
    assert (registry_meta_get (txn, "cert_ek_index") == 1);
    assert (enrolment_tpm_index (txn) == 0);
    assert (store_commit (&txn) == 0);

    S_CASE ("refuses an AK not resident with the EK");
    //  C: A's pre-registered EK with B's AK; neither TPM can activate
    s_tpm_node_t c;
    memset (&c, 0, sizeof c);
    keys_generate (&c.keys);
    s_tpm_request (&msg, MSG_TPM_ENROL_REQUEST, &c, a.ek, b.ak, false);
    assert (s_tpm_step (rig, &coord, NULL, "gw-c", &msg, c.keys.curve_public, &result)
            == WEFT_STATUS_CONFLICT);   //  A's EK is pre-registered as gw-a: taken
    enrolment_result_clear (&result);
    //  With an EK accepted by certificate (B's), and A's AK
    s_tpm_request (&msg, MSG_TPM_ENROL_REQUEST, &c, b.ek, a.ak, false);
    msg.ek_cert = zchunk_data (b.ek_cert);
    msg.ek_cert_size = zchunk_size (b.ek_cert);
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-c", &msg, c.keys.curve_public, &result)
            == WEFT_STATUS_OK && result.challenge);
    zchunk_t *secret_a = tpm_activate (a.tpm, a.ak_blob, result.credential, result.secret);
    zchunk_t *secret_b = tpm_activate (b.tpm, b.ak_blob, result.credential, result.secret);
    assert (!secret_a && !secret_b);    //  Neither TPM holds both
    memcpy (ticket, result.ticket, sizeof ticket);
    enrolment_result_clear (&result);
    uint8_t guess [32];
    randombytes_buf (guess, sizeof guess);
    msg.type = MSG_TPM_PROOF;
    msg.ticket = ticket;
    msg.ticket_size = sizeof ticket;
    msg.proof = guess;
    msg.proof_size = sizeof guess;
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-c", &msg, c.keys.curve_public, &result)
            == WEFT_STATUS_DENIED);
    assert (streq (result.message,
                   "activation proof does not match (not the TPM holding this EK and AK)"));
    //  An AK that is not an AK (the EK itself) is refused at once
    s_tpm_request (&msg, MSG_TPM_ENROL_REQUEST, &c, b.ek, b.ek, false);
    msg.ek_cert = zchunk_data (b.ek_cert);
    msg.ek_cert_size = zchunk_size (b.ek_cert);
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-c", &msg, c.keys.curve_public, &result)
            == WEFT_STATUS_DENIED);
    assert (strncmp (result.message, "AK refused: ", 12) == 0);

    S_CASE ("refuses a replay of another node's activation response");
    //  D captures gw-b's challenge and the secret TPM B recovered, and
    //  presents them with its own keys
    s_tpm_node_t d = b;
    keys_generate (&d.keys);
    s_tpm_request (&msg, MSG_TPM_ENROL_REQUEST, &b, b.ek, b.ak, true);
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-b", &msg, b.keys.curve_public, &result)
            == WEFT_STATUS_OK && result.challenge);
    zchunk_t *secret = tpm_activate (b.tpm, b.ak_blob, result.credential, result.secret);
    assert (secret);
    memcpy (ticket, result.ticket, sizeof ticket);
    enrolment_result_clear (&result);
    s_tpm_proof (&msg, &d, b.ek, b.ak, true, ticket, zchunk_data (secret), zchunk_size (secret));
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-d", &msg, d.keys.curve_public, &result)
            == WEFT_STATUS_DENIED);
    assert (streq (result.message,
                   "activation proof does not match (not the TPM holding this EK and AK)"));
    //  The very same proof from another connection
    s_tpm_proof (&msg, &b, b.ek, b.ak, true, ticket, zchunk_data (secret), zchunk_size (secret));
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-b", &msg, d.keys.curve_public, &result)
            == WEFT_STATUS_DENIED);
    assert (streq (result.message, "curve key does not match the connection"));
    //  ... and after the ticket expired, even from its owner
    rig->now += ENROLMENT_TICKET_TTL_S;
    assert (s_tpm_step (rig, &coord, bundle_b, "gw-b", &msg, b.keys.curve_public, &result)
            == WEFT_STATUS_EXPIRED);
    rig->now -= ENROLMENT_TICKET_TTL_S;
    zchunk_destroy (&secret);
    keys_wipe (&d.keys);
    keys_wipe (&c.keys);

    keys_wipe (&coord);
    free (bundle_a);
    free (bundle_b);
    s_tpm_node_fini (&a);
    s_tpm_node_fini (&b);
    tpm_swtpm_destroy (&swtpm_a);
    tpm_swtpm_destroy (&swtpm_b);
    if (verbose)
        printf ("\n   ");
}

void
enrolment_test (bool verbose)
{
    printf (" * enrolment: ");
    //  @selftest
    s_rig_t rig;
    char path [] = "/tmp/weft-enrolment-test-XXXXXX";
    assert (mkdtemp (path));
    rig.store = store_new (path, registry_tables (), 0);
    assert (rig.store);
    keys_generate (&rig.ca);
    rig.pki = pki_new (&rig.ca);
    randombytes_buf (rig.coord_curve, 32);
    rig.now = 1700000000;

    keys_t node, other, third;
    keys_generate (&node);
    keys_generate (&other);
    keys_generate (&third);
    char token [WEFT_TOKEN_MAX + 1], token2 [WEFT_TOKEN_MAX + 1];
    enrolment_result_t result;

    //  Unknown token
    assert (s_enrol (&rig, "dev-1", "wt1.nonsense", &node, &result) == WEFT_STATUS_DENIED);
    assert (streq (result.message, "unknown token"));

    //  Good enrolment
    s_token (&rig, "", 3600, token);
    assert (s_enrol (&rig, "dev-1", token, &node, &result) == WEFT_STATUS_OK);
    assert (result.created);
    cert_t cert;
    assert (cert_decode (&cert, result.cert, result.cert_size, rig.ca.sign_public, rig.now) == 0);
    assert (streq (cert.subject, "dev-1"));
    assert (streq (cert.tenant, "acme"));
    assert (streq (cert.role, "gateway"));
    assert (streq (cert.path, "acme/plant-1"));     //  The token's place
    assert (memcmp (cert.curve_key, node.curve_public, 32) == 0);
    {
        store_txn_t *txn = store_begin (rig.store, false);
        json_t *device = registry_device_get (txn, "dev-1");
        store_abort (&txn);
        assert (streq (json_string_value (json_object_get (device, "path")), "acme/plant-1"));
        json_decref (device);
    }
    uint8_t *first = result.cert;
    size_t first_size = result.cert_size;
    result.cert = NULL;

    //  Lost reply: the same keys and token get the same certificate
    assert (s_enrol (&rig, "dev-1", token, &node, &result) == WEFT_STATUS_OK);
    assert (!result.created);
    assert (result.cert_size == first_size && memcmp (result.cert, first, first_size) == 0);
    enrolment_result_clear (&result);
    free (first);

    //  Revoked since: the same request again gets no certificate
    s_revoke (&rig, "dev-1");
    assert (s_enrol (&rig, "dev-1", token, &node, &result) == WEFT_STATUS_DENIED);
    assert (streq (result.message, "device is revoked") && !result.cert);

    //  Single use: another key, or another name, is refused
    assert (s_enrol (&rig, "dev-2", token, &other, &result) == WEFT_STATUS_DENIED);
    assert (streq (result.message, "token already used"));
    assert (s_enrol (&rig, "dev-1", token, &other, &result) == WEFT_STATUS_DENIED);
    assert (streq (result.message, "token already used"));

    //  Identity takeover with a fresh token is refused, token stays unused
    s_token (&rig, "", 3600, token2);
    assert (s_enrol (&rig, "dev-1", token2, &other, &result) == WEFT_STATUS_CONFLICT);
    assert (streq (result.message, "device id dev-1 is not available"));
    //  Same key under a second name
    assert (s_enrol (&rig, "dev-9", token2, &node, &result) == WEFT_STATUS_CONFLICT);
    assert (streq (result.message, "curve key already enrolled as another device"));
    //  Reserved and invalid names
    assert (s_enrol (&rig, "coordinator", token2, &other, &result) == WEFT_STATUS_BAD_REQUEST);
    assert (streq (result.message, "device name coordinator is reserved"));
    assert (s_enrol (&rig, "bad name", token2, &other, &result) == WEFT_STATUS_BAD_REQUEST);
    //  Link key differs from the request's key
    msg_enrol_request_t request;
    memset (&request, 0, sizeof request);
    strcpy (request.token, token2);
    memcpy (request.sign_key, other.sign_public, 32);
    memcpy (request.curve_key, other.curve_public, 32);
    store_txn_t *txn = store_begin (rig.store, true);
    enrolment_apply (rig.pki, txn, rig.coord_curve, "dev-2", &request,
                     third.curve_public, rig.now, &result);
    store_abort (&txn);
    assert (result.status == WEFT_STATUS_DENIED);
    assert (streq (result.message, "curve key does not match the connection"));
    //  token2 still works
    assert (s_enrol (&rig, "dev-2", token2, &other, &result) == WEFT_STATUS_OK);
    enrolment_result_clear (&result);

    //  Expiry
    s_token (&rig, "", 60, token);
    rig.now += 60;
    assert (s_enrol (&rig, "dev-3", token, &third, &result) == WEFT_STATUS_EXPIRED);
    assert (streq (result.message, "token expired"));
    //  Type bound by the token
    s_token (&rig, "server", 60, token);
    assert (s_enrol (&rig, "dev-3", token, &third, &result) == WEFT_STATUS_BAD_REQUEST);
    assert (streq (result.message, "token is for device type server"));
    //  A token without a type enrols a gateway: the device cannot ask
    //  for a privileged role itself
    s_token (&rig, "", 60, token);
    memset (&request, 0, sizeof request);
    strcpy (request.token, token);
    strcpy (request.device_type, "server");
    memcpy (request.sign_key, third.sign_public, 32);
    memcpy (request.curve_key, third.curve_public, 32);
    txn = store_begin (rig.store, true);
    enrolment_apply (rig.pki, txn, rig.coord_curve, "dev-3", &request,
                     third.curve_public, rig.now, &result);
    store_abort (&txn);
    assert (result.status == WEFT_STATUS_BAD_REQUEST);
    assert (streq (result.message, "a token without a type enrols a gateway, not a server "
                                   "(ask for a token of that type)"));
    request.device_type [0] = 0;    //  Asking for nothing: a gateway
    txn = store_begin (rig.store, true);
    enrolment_apply (rig.pki, txn, rig.coord_curve, "dev-3", &request,
                     third.curve_public, rig.now, &result);
    store_abort (&txn);
    assert (result.status == WEFT_STATUS_OK);
    cert_t gateway;
    assert (cert_decode (&gateway, result.cert, result.cert_size, rig.ca.sign_public, rig.now)
            == 0 && streq (gateway.role, "gateway"));
    enrolment_result_clear (&result);

    //  Store failures at every write: all or nothing
    s_token (&rig, "", 3600, token);
    for (int nth = 1; nth <= 8; nth++) {
        store_fail_after (rig.store, nth);
        int status = s_enrol (&rig, "dev-4", token, &third, &result);
        store_fail_after (rig.store, 0);
        enrolment_result_clear (&result);
        txn = store_begin (rig.store, false);
        json_t *device = registry_device_get (txn, "dev-4");
        json_t *record = NULL;
        tokens_status_t token_status = tokens_check (txn, token, rig.coord_curve,
                                                     rig.now, &record);
        char *holder = registry_device_by_curve (txn, third.curve_public);
        store_abort (&txn);
        if (verbose)
            printf ("\n   fail at write %d: status %d device %s", nth, status,
                    device? "yes": "no");
        if (status == WEFT_STATUS_OK) {
            assert (device && token_status == TOKENS_USED && holder);
            json_decref (device);
            json_decref (record);
            free (holder);
            break;
        }
        assert (!device);
        assert (token_status == TOKENS_OK);     //  Still unused
        assert (!holder);
        json_decref (record);
    }

    //  TPM onboarding, against real swtpm processes
    s_tpm_test (&rig, verbose);

    pki_destroy (&rig.pki);
    keys_wipe (&rig.ca);
    keys_wipe (&node);
    keys_wipe (&other);
    keys_wipe (&third);
    store_destroy (&rig.store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("%sOK\n", verbose? "\n   ": "");
}
