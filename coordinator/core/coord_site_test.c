/*  coord_site_test - selftest of the coordinator's side of campaigns
    run at the sites, through real envelopes: a site directive goes to
    its server sealed by the coordinator and is held in custody until
    the server acknowledges it; a SITE_REPORT by custody from the server
    the directive went to moves its devices and is acknowledged, once
    (a retransmission is a duplicate, applied no second time); one from
    another tenant's server at the same site, or a malformed one, is
    refused with its reason, which ends the sender's custody, and
    changes nothing; so is one from a server that must attest and has
    not. A server that refuses its directive for good fails the devices
    it was to run, with its reason. A campaign started through rpc_call on a real
    store, then a coordinator over that store.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/envelope.h"
#include "proto/sitemsg.h"
#include "proto/release_fixture.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/campaign_site.h"
#include "coordinator/core/coord_internal.h"
#include "coordinator/core/director_fixture.h"
#include "coordinator/core/rpc_internal.h"

#define S_PCR   "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct {
    coord_t *coord;
    int pushes;
    uint8_t *frame;                 //  The last frame pushed
    size_t size;
} s_rig_t;

static void
s_push (void *ctx, const char *device_id, const uint8_t *frame, size_t size)
{
    s_rig_t *rig = (s_rig_t *) ctx;
    rig->pushes++;
    free (rig->frame);
    rig->frame = (uint8_t *) malloc (size);
    memcpy (rig->frame, frame, size);
    rig->size = size;
    //  Sent straight to it: the core keeps it until the server's ACK
    coord_sent_custody (rig->coord, device_id, device_id, true, frame, size, FIXTURE_NOW);
}

//  A SITE_REPORT of site from origin (signed with keys) at seq, by
//  custody: the status of its CUSTODY_ACK and of the ACK to origin
//  (which must agree), the reason in reason
static int
s_report (s_rig_t *rig, const keys_t *keys, const char *origin, uint64_t seq,
          const char *outcome, int dev_state, bool malformed, char reason [WEFT_TEXT_MAX + 1])
{
    sitemsg_t report;
    memset (&report, 0, sizeof report);
    report.type = MSG_SITE_REPORT;
    strcpy (report.campaign, "campaign-1");
    report.generation = 1;
    strcpy (report.site, "acme/north");
    report.state = SITE_RUNNING;
    report.sent_ms = FIXTURE_NOW;
    sitemsg_outcome_t entry;
    memset (&entry, 0, sizeof entry);
    entry.state = dev_state;
    entry.at_ms = FIXTURE_NOW;
    snprintf (entry.device, sizeof entry.device, "%s", outcome);
    uint8_t *entries = NULL;
    size_t entries_size = 0;
    assert (sitemsg_put_outcome (&entries, &entries_size, &entry) == 0);
    report.entries = entries;
    report.entries_size = entries_size;
    uint8_t *payload;
    size_t payload_size;
    assert (sitemsg_encode (&report, &payload, &payload_size) == 0);
    free (entries);
    envelope_t env;
    memset (&env, 0, sizeof env);
    memset (env.id, (int) seq, sizeof env.id);
    env.type = MSG_SITE_REPORT;
    snprintf (env.origin, sizeof env.origin, "%s", origin);
    env.seq = seq;
    env.hlc = seq;
    env.hop_limit = WEFT_HOP_LIMIT;
    env.hops = WEFT_HOP_LIMIT;
    env.payload = payload;
    env.payload_size = malformed? payload_size - 1: payload_size;
    uint8_t *frame, *reply = NULL;
    size_t size, reply_size = 0;
    assert (envelope_encode (&env, keys->sign_secret, &frame, &size) == 0);
    free (payload);
    coord_link_t link;
    memset (&link, 0, sizeof link);
    link.custody = true;
    int rc = coord_on_mesh_link (rig->coord, origin, &link, frame, size, FIXTURE_NOW, &reply,
                                 &reply_size);
    assert (rc == 0 || rc == PROTO_ERR_REFUSED);
    assert ((rc == 0) == (link.ack_status == WEFT_STATUS_OK));
    snprintf (reason, WEFT_TEXT_MAX + 1, "%s", link.ack_reason);
    //  The ACK to the server says the same
    envelope_t answer;
    msg_t ack;
    assert (reply && envelope_decode (&answer, reply, reply_size) == 0);
    assert (answer.type == MSG_ACK && streq (answer.origin, COORD_ORIGIN));
    assert (msg_decode (&ack, MSG_ACK, answer.payload, answer.payload_size) == 0);
    assert (ack.ack.status == link.ack_status);
    assert (memcmp (ack.ack.ack_id, env.id, WEFT_ID_SIZE) == 0);
    if (link.ack_status == WEFT_STATUS_OK)
        snprintf (reason, WEFT_TEXT_MAX + 1, "%s", ack.ack.message);
    free (frame);
    free (reply);
    return link.ack_status;
}

//  origin's ACK (signed with keys, at seq) of the envelope id, with
//  status and message; the core's return
static int
s_ack (s_rig_t *rig, const keys_t *keys, const char *origin, uint64_t seq,
       const uint8_t id [WEFT_ID_SIZE], int status, const char *message)
{
    msg_t ack;
    memset (&ack, 0, sizeof ack);
    ack.type = MSG_ACK;
    memcpy (ack.ack.ack_id, id, WEFT_ID_SIZE);
    ack.ack.status = status;
    snprintf (ack.ack.message, sizeof ack.ack.message, "%s", message);
    uint8_t *payload;
    size_t payload_size;
    assert (msg_encode (&ack, &payload, &payload_size) == 0);
    envelope_t env;
    memset (&env, 0, sizeof env);
    memset (env.id, (int) (0x80 + seq), sizeof env.id);
    env.type = MSG_ACK;
    snprintf (env.origin, sizeof env.origin, "%s", origin);
    env.seq = seq;
    env.hlc = seq;
    env.hop_limit = WEFT_HOP_LIMIT;
    env.hops = WEFT_HOP_LIMIT;
    env.payload = payload;
    env.payload_size = payload_size;
    uint8_t *frame, *reply = NULL;
    size_t size, reply_size = 0;
    assert (envelope_encode (&env, keys->sign_secret, &frame, &size) == 0);
    free (payload);
    coord_link_t link;
    memset (&link, 0, sizeof link);
    int rc = coord_on_mesh_link (rig->coord, origin, &link, frame, size, FIXTURE_NOW, &reply,
                                 &reply_size);
    free (frame);
    free (reply);
    return rc;
}

//  A device's record in campaign id (caller decrefs)
static json_t *
s_record (store_t *store, const char *id, const char *device)
{
    store_txn_t *txn = store_begin (store, false);
    json_t *record = campaign_device_get (txn, id, device);
    store_abort (&txn);
    return record;
}

static const char *
s_state_of (store_t *store, const char *device)
{
    static char state [32];
    store_txn_t *txn = store_begin (store, false);
    json_t *record = campaign_device_get (txn, "campaign-1", device);
    store_abort (&txn);
    snprintf (state, sizeof state, "%s", json_string_value (json_object_get (record, "state")));
    json_decref (record);
    return state;
}

void
coord_site_test (bool verbose)
{
    printf (" * coord_site: ");
    //  @selftest
    char dir [] = "/tmp/weft-coord-site-test-XXXXXX";
    assert (mkdtemp (dir));
    store_t *store = store_new (dir, registry_tables (), 0);
    assert (store);
    keys_t north, globex;
    keys_generate (&north);
    keys_generate (&globex);

    //  An at-sites campaign of acme/north's two gateways, started
    director_fixture_t fixture;
    director_fixture_init (&fixture, store);
    uint8_t hash [32];
    director_fixture_release (store, fixture.repo, 4096, hash);
    assert (director_fixture_call (&fixture.env, store, "admin", "", "hierarchy.import",
                                   "{\"doc\":{\"version\":1,\"nodes\":[{\"path\":\"acme\","
                                   "\"level\":\"enterprise\"},{\"path\":\"acme/north\","
                                   "\"level\":\"site\"}]}}", &fixture.result) == 0);
    director_fixture_server (store, "srv-n", "acme", "acme/north", &north);
    director_fixture_server (store, "srv-g", "globex", "acme/north", &globex);
    director_fixture_device_at (store, "n-1", "acme", "gateway", "acme/north/line");
    director_fixture_device_at (store, "n-2", "acme", "gateway", "acme/north/line");
    assert (director_fixture_call (&fixture.env, store, "admin", "acme", "campaign.create",
                                   "{\"query\":\"type=gateway\",\"name\":\"plc\","
                                   "\"version\":\"1.0\",\"waves\":[\"100%\"],"
                                   "\"threshold\":\"2\",\"at_sites\":true}",
                                   &fixture.result) == 0);
    assert (director_fixture_call (&fixture.env, store, "admin", "acme", "campaign.start",
                                   "{\"id\":\"campaign-1\"}", &fixture.result) == 0);
    zlistx_t *directives = fixture.result.directives;
    fixture.result.directives = NULL;
    assert (zlistx_size (directives) == 1);

    //  The coordinator of the fixture's CA (its attestation profiles)
    keys_t keys;
    keys_generate (&keys);
    s_rig_t rig = { NULL, 0, NULL, 0 };
    coord_effects_t effects = { &rig, s_push, NULL };
    uint8_t cert [1] = { 0 };          //  Not read here
    rig.coord = coord_new (store, &fixture.ca, &keys, cert, sizeof cert, &effects);
    assert (rig.coord);

    //  The directive: sealed by the coordinator to srv-n, held in custody
    coord_send_directives (rig.coord, directives, FIXTURE_NOW);
    zlistx_destroy (&directives);
    assert (rig.pushes == 1);
    envelope_t env;
    assert (envelope_decode (&env, rig.frame, rig.size) == 0);
    assert (env.type == MSG_SITE_DIRECTIVE && streq (env.origin, COORD_ORIGIN));
    assert (envelope_verify (&env, keys.sign_public) == 0);
    sitemsg_t directive;
    assert (sitemsg_decode (&directive, MSG_SITE_DIRECTIVE, env.payload, env.payload_size) == 0);
    assert (streq (directive.site, "acme/north") && directive.generation == 1);
    const custody_entry_t *held = custody_find (rig.coord->custody, env.id);
    assert (held && held->type == MSG_SITE_DIRECTIVE && streq (held->dest, "srv-n"));

    //  Another tenant's server at the same site: refused, nothing moves
    char reason [WEFT_TEXT_MAX + 1];
    assert (s_report (&rig, &globex, "srv-g", 1, "n-1", SITE_DEV_FAILED, false, reason)
            == WEFT_STATUS_DENIED);
    assert (streq (reason, "not the site server of campaign campaign-1 at acme/north"));
    assert (streq (s_state_of (store, "n-1"), "pending"));
    //  Malformed
    assert (s_report (&rig, &north, "srv-n", 1, "n-1", SITE_DEV_SUCCEEDED, true, reason)
            == WEFT_STATUS_BAD_REQUEST);
    assert (streq (reason, "SITE_REPORT malformed"));
    //  Its own server: taken; the same envelope again is a duplicate
    assert (s_report (&rig, &north, "srv-n", 2, "n-1", SITE_DEV_SUCCEEDED, false, reason)
            == WEFT_STATUS_OK);
    assert (streq (s_state_of (store, "n-1"), "succeeded"));
    uint64_t duplicates = coord_stats (rig.coord)->duplicates;
    assert (s_report (&rig, &north, "srv-n", 2, "n-1", SITE_DEV_SUCCEEDED, false, reason)
            == WEFT_STATUS_OK);
    assert (streq (reason, "duplicate"));
    assert (coord_stats (rig.coord)->duplicates == duplicates + 1);
    assert (s_report (&rig, &north, "srv-n", 3, "n-2", SITE_DEV_ROLLED_BACK, false, reason)
            == WEFT_STATUS_OK);
    store_txn_t *txn = store_begin (store, false);
    json_t *campaign = campaign_get (txn, "campaign-1");
    store_abort (&txn);
    assert (streq (json_string_value (json_object_get (campaign, "state")), "finished"));
    assert (campaign_total (campaign, "succeeded") == 1 && campaign_total (campaign, "failed")
            == 1);
    json_decref (campaign);

    //  A server that refuses its directive for good (here: the south
    //  site's): the devices it was to run fail with its reason, the
    //  campaign halts at its threshold; a later refusal changes nothing
    keys_t south;
    keys_generate (&south);
    director_fixture_server (store, "srv-s", "acme", "acme/south", &south);
    director_fixture_device_at (store, "s-1", "acme", "gateway", "acme/south/line");
    director_fixture_device_at (store, "s-2", "acme", "gateway", "acme/south/line");
    assert (director_fixture_call (&fixture.env, store, "admin", "acme", "campaign.create",
                                   "{\"query\":\"id=s-1 or id=s-2\",\"name\":\"plc\","
                                   "\"version\":\"1.0\",\"waves\":[\"100%\"],"
                                   "\"threshold\":\"2\",\"at_sites\":true}",
                                   &fixture.result) == 0);
    assert (director_fixture_call (&fixture.env, store, "admin", "acme", "campaign.start",
                                   "{\"id\":\"campaign-2\"}", &fixture.result) == 0);
    directives = fixture.result.directives;
    fixture.result.directives = NULL;
    assert (zlistx_size (directives) == 1);
    coord_send_directives (rig.coord, directives, FIXTURE_NOW);
    zlistx_destroy (&directives);
    assert (envelope_decode (&env, rig.frame, rig.size) == 0 && env.type == MSG_SITE_DIRECTIVE);
    uint8_t refused_id [WEFT_ID_SIZE];
    memcpy (refused_id, env.id, WEFT_ID_SIZE);
    int pushes = rig.pushes;
    assert (s_ack (&rig, &south, "srv-s", 1, refused_id, WEFT_STATUS_DENIED,
                   "not enrolled as a server") == 0);
    assert (!custody_find (rig.coord->custody, refused_id));
    for (int index = 1; index <= 2; index++) {
        json_t *record = s_record (store, "campaign-2", index == 1? "s-1": "s-2");
        assert (streq (rpc_json_str (record, "state"), "failed"));
        assert (streq (rpc_json_str (record, "reason"),
                       "site directive refused by srv-s: not enrolled as a server"));
        json_decref (record);
    }
    txn = store_begin (store, false);
    campaign = campaign_get (txn, "campaign-2");
    store_abort (&txn);
    assert (streq (json_string_value (json_object_get (campaign, "state")), "halted"));
    assert (campaign_total (campaign, "failed") == 2);
    json_decref (campaign);
    //  The halt's pause went to srv-s; refused too, nothing more moves
    assert (rig.pushes == pushes + 1);
    assert (envelope_decode (&env, rig.frame, rig.size) == 0 && env.type == MSG_SITE_DIRECTIVE);
    assert (s_ack (&rig, &south, "srv-s", 2, env.id, WEFT_STATUS_DENIED, "still not") == 0);
    assert (rig.pushes == pushes + 1);
    json_t *record = s_record (store, "campaign-2", "s-1");
    assert (strstr (rpc_json_str (record, "reason"), "not enrolled as a server"));
    json_decref (record);
    keys_wipe (&south);

    //  A server that must attest and never did is not believed
    assert (director_fixture_call (&fixture.env, store, "admin", "", "attest.profile.set",
                                   "{\"tenant\":\"acme\",\"type\":\"server\",\"profile\":"
                                   "{\"pcrs\":{\"8\":\"" S_PCR "\"},\"interval_s\":10,"
                                   "\"grace_s\":5}}", &fixture.result) == 0);
    assert (s_report (&rig, &north, "srv-n", 4, "n-2", SITE_DEV_SUCCEEDED, false, reason)
            == WEFT_STATUS_DENIED);
    assert (streq (reason, "srv-n is quarantined (never attested): report refused"));

    director_fixture_fini (&fixture);
    coord_destroy (&rig.coord);
    free (rig.frame);
    keys_wipe (&keys);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    if (verbose)
        printf ("(directive custody, report, duplicate, wrong server, malformed, "
                "refused directive, quarantined) ");
    //  @end
    printf ("OK\n");
}
