/*  sitemsg - the payloads of campaigns run at the sites (see sitemsg.h)
    The fields and limits are rows of proto/wire_table.c; the entries
    inside devices and outcomes are read and written here.  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "codec.h"
#include "keys.h"
#include "envelope.h"
#include "bundle.h"
#include "sitemsg.h"
#include "wire.h"

int
sitemsg_encode (const sitemsg_t *msg, uint8_t **payload_p, size_t *size_p)
{
    assert (msg);
    return wire_encode_family (WIRE_FAMILY_SITE, msg->type, msg, payload_p, size_p);
}

int
sitemsg_decode (sitemsg_t *msg, int type, const uint8_t *payload, size_t size)
{
    return wire_decode_family (WIRE_FAMILY_SITE, type, msg, sizeof (sitemsg_t),
                               payload, size);
}

//  --------------------------------------------------------------------------
//  Entries

static uint32_t
s_get_be (const uint8_t *at, size_t bytes)
{
    uint32_t value = 0;
    for (size_t i = 0; i < bytes; i++)
        value = value << 8 | at [i];
    return value;
}

//  A text of size bytes (no NUL among them) into out [size + 1]
static int
s_get_text (const uint8_t *at, size_t size, char *out)
{
    if (memchr (at, 0, size))
        return PROTO_ERR_VALUE;
    memcpy (out, at, size);
    out [size] = 0;
    return 0;
}

//  A device id: its size byte at p [at], the id after it, then at
//  least after more bytes of the entry. The id's size, or a proto_rc_t.
static int
s_get_id (const uint8_t *p, size_t n, size_t at, size_t after, char out [WEFT_NAME_MAX + 1])
{
    size_t id_size = p [at];
    if (id_size < 1 || id_size > WEFT_NAME_MAX)
        return PROTO_ERR_VALUE;
    if (n < at + 1 + id_size + after)
        return PROTO_ERR_TRUNCATED;
    if (s_get_text (p + at + 1, id_size, out))
        return PROTO_ERR_VALUE;
    return (int) id_size;
}

int
sitemsg_next_device (const uint8_t **at, size_t *left, sitemsg_device_t *out)
{
    assert (at && left && out);
    memset (out, 0, sizeof *out);
    if (*left == 0)
        return 0;
    const uint8_t *p = *at;
    size_t n = *left;
    if (n < 3)
        return PROTO_ERR_TRUNCATED;
    uint32_t wave = s_get_be (p, 2);
    int id_size = s_get_id (p, n, 2, 2, out->device);
    if (id_size < 0)
        return id_size;
    size_t assignment_size = s_get_be (p + 3 + id_size, 2);
    if (assignment_size < 1 || assignment_size > SITEMSG_ASSIGNMENT_MAX)
        return PROTO_ERR_VALUE;
    size_t whole = 3 + id_size + 2 + assignment_size;
    if (n < whole)
        return PROTO_ERR_TRUNCATED;
    out->wave = wave;
    out->assignment = p + 3 + id_size + 2;
    out->assignment_size = assignment_size;
    *at = p + whole;
    *left = n - whole;
    return 1;
}

int
sitemsg_next_outcome (const uint8_t **at, size_t *left, sitemsg_outcome_t *out)
{
    assert (at && left && out);
    memset (out, 0, sizeof *out);
    if (*left == 0)
        return 0;
    const uint8_t *p = *at;
    size_t n = *left;
    if (n < 10)
        return PROTO_ERR_TRUNCATED;
    if (!sitemsg_dev_state_name (p [0]))
        return PROTO_ERR_VALUE;
    int id_size = s_get_id (p, n, 9, 1, out->device);
    if (id_size < 0)
        return id_size;
    size_t reason_size = p [10 + id_size];
    size_t whole = 10 + (size_t) id_size + 1 + reason_size;
    if (n < whole)
        return PROTO_ERR_TRUNCATED;
    if (s_get_text (p + 11 + id_size, reason_size, out->reason))
        return PROTO_ERR_VALUE;
    out->state = p [0];
    out->at_ms = proto_get_be64 (p + 1);
    *at = p + whole;
    *left = n - whole;
    return 1;
}

//  Grow *buf by add bytes within SITEMSG_ENTRIES_MAX; the new room, or
//  NULL
static uint8_t *
s_grow (uint8_t **buf, size_t *size, size_t add)
{
    if (*size + add > SITEMSG_ENTRIES_MAX)
        return NULL;
    uint8_t *grown = (uint8_t *) realloc (*buf, *size + add);
    assert (grown);
    *buf = grown;
    uint8_t *room = grown + *size;
    *size += add;
    return room;
}

int
sitemsg_put_device (uint8_t **buf, size_t *size, const sitemsg_device_t *device)
{
    assert (buf && size && device);
    size_t id_size = strnlen (device->device, sizeof device->device);
    if (device->wave > 0xffff || id_size < 1 || id_size > WEFT_NAME_MAX
    ||  device->assignment_size < 1 || device->assignment_size > SITEMSG_ASSIGNMENT_MAX
    ||  !device->assignment)
        return PROTO_ERR_VALUE;
    uint8_t *p = s_grow (buf, size, 3 + id_size + 2 + device->assignment_size);
    if (!p)
        return PROTO_ERR_OVERSIZE;
    p [0] = (uint8_t) (device->wave >> 8);
    p [1] = (uint8_t) device->wave;
    p [2] = (uint8_t) id_size;
    memcpy (p + 3, device->device, id_size);
    p [3 + id_size] = (uint8_t) (device->assignment_size >> 8);
    p [4 + id_size] = (uint8_t) device->assignment_size;
    memcpy (p + 5 + id_size, device->assignment, device->assignment_size);
    return 0;
}

int
sitemsg_put_outcome (uint8_t **buf, size_t *size, const sitemsg_outcome_t *outcome)
{
    assert (buf && size && outcome);
    size_t id_size = strnlen (outcome->device, sizeof outcome->device);
    size_t reason_size = strnlen (outcome->reason, sizeof outcome->reason);
    if (!sitemsg_dev_state_name (outcome->state) || id_size < 1 || id_size > WEFT_NAME_MAX
    ||  reason_size > WEFT_TEXT_MAX)
        return PROTO_ERR_VALUE;
    uint8_t *p = s_grow (buf, size, 10 + id_size + 1 + reason_size);
    if (!p)
        return PROTO_ERR_OVERSIZE;
    p [0] = (uint8_t) outcome->state;
    proto_put_be64 (p + 1, outcome->at_ms);
    p [9] = (uint8_t) id_size;
    memcpy (p + 10, outcome->device, id_size);
    p [10 + id_size] = (uint8_t) reason_size;
    memcpy (p + 11 + id_size, outcome->reason, reason_size);
    return 0;
}

int
sitemsg_check (const void *msg)
{
    const sitemsg_t *self = (const sitemsg_t *) msg;
    const uint8_t *at = self->entries;
    size_t left = at? self->entries_size: 0;
    size_t count = 0;
    int rc;
    if (self->type == MSG_SITE_DIRECTIVE) {
        if (left && !self->common_size)
            return PROTO_ERR_VALUE;         //  Devices need the bytes of their offers
        if (self->common_size
        &&  (self->common_size < BUNDLE_MAGIC_SIZE
          || memcmp (self->common, BUNDLE_MAGIC, BUNDLE_MAGIC_SIZE)))
            return PROTO_ERR_VALUE;
        sitemsg_device_t device;
        while ((rc = sitemsg_next_device (&at, &left, &device)) == 1)
            if (++count > SITEMSG_DEVICES_MAX)
                return PROTO_ERR_OVERSIZE;
    }
    else {
        sitemsg_outcome_t outcome;
        while ((rc = sitemsg_next_outcome (&at, &left, &outcome)) == 1)
            if (++count > SITEMSG_OUTCOMES_MAX)
                return PROTO_ERR_OVERSIZE;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Device states

static const char *s_dev_names [] = {
    NULL, "offered", "downloading", "waiting-window", "installing", "succeeded",
    "failed", "rolled-back"
};

const char *
sitemsg_dev_state_name (int state)
{
    if (state < SITE_DEV_OFFERED || state > SITE_DEV_ROLLED_BACK)
        return NULL;
    return s_dev_names [state];
}

int
sitemsg_dev_state_of (const char *node_state, const char *waiting)
{
    if (!node_state)
        return 0;
    //  A staged release held for its maintenance window says `waiting`
    if (strcmp (node_state, "staged") == 0 && waiting && *waiting)
        return SITE_DEV_WAITING;
    static const struct { const char *node; int state; } map [] = {
        { "assigned", SITE_DEV_DOWNLOADING }, { "downloading", SITE_DEV_DOWNLOADING },
        { "verified", SITE_DEV_DOWNLOADING }, { "staged", SITE_DEV_INSTALLING },
        { "installing", SITE_DEV_INSTALLING }, { "health", SITE_DEV_INSTALLING },
        { "failed", SITE_DEV_INSTALLING }, { "committed", SITE_DEV_SUCCEEDED },
        { "rolled-back", SITE_DEV_ROLLED_BACK }
    };
    for (size_t index = 0; index < sizeof map / sizeof map [0]; index++)
        if (strcmp (node_state, map [index].node) == 0)
            return map [index].state;
    return 0;
}

//  --------------------------------------------------------------------------
//  Selftest, with golden vectors

//  The envelope a peer would send, compared with tests/golden/NAME.hex
//  (the fields and signers of every golden envelope), decoded back
static void
s_golden (const char *name, int type, const uint8_t *payload, size_t size)
{
    envelope_t got;
    uint8_t *file = envelope_golden (type, payload, size, name, &got);
    sitemsg_t back;
    assert (sitemsg_decode (&back, type, got.payload, got.payload_size) == 0);
    assert (back.entries_size && back.entries >= file);
    free (file);
}

//  Decoding payload fails with rc and every cut of it fails
static void
s_refused (int type, const uint8_t *payload, size_t size)
{
    sitemsg_t back;
    for (size_t cut = 0; cut < size; cut++)
        assert (sitemsg_decode (&back, type, payload, cut) != 0);
}

void
sitemsg_test (bool verbose)
{
    printf (" * sitemsg: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    static const uint8_t common [] = "weftbnd1 (roots, roles, manifest)";
    static const uint8_t assignment [] = { 0x92, 0xc4, 0x02, 0x01, 0x02, 0xc4, 0x01, 0x40 };
    uint8_t *devices = NULL, *outcomes = NULL, *payload;
    size_t devices_size = 0, outcomes_size = 0, size;

    //  Entries: put and read back, every limit
    sitemsg_device_t device = { .wave = 0, .device = "gw-1",
                                .assignment = assignment, .assignment_size = sizeof assignment };
    assert (sitemsg_put_device (&devices, &devices_size, &device) == 0);
    device.wave = 2;
    strcpy (device.device, "gw-2");
    assert (sitemsg_put_device (&devices, &devices_size, &device) == 0);
    device.wave = 0x10000;
    assert (sitemsg_put_device (&devices, &devices_size, &device) == PROTO_ERR_VALUE);
    device.wave = 1;
    device.assignment_size = SITEMSG_ASSIGNMENT_MAX + 1;
    assert (sitemsg_put_device (&devices, &devices_size, &device) == PROTO_ERR_VALUE);
    device.assignment_size = sizeof assignment;
    device.device [0] = 0;
    assert (sitemsg_put_device (&devices, &devices_size, &device) == PROTO_ERR_VALUE);

    const uint8_t *at = devices;
    size_t left = devices_size;
    sitemsg_device_t read;
    assert (sitemsg_next_device (&at, &left, &read) == 1);
    assert (read.wave == 0 && strcmp (read.device, "gw-1") == 0
            && read.assignment_size == sizeof assignment
            && memcmp (read.assignment, assignment, sizeof assignment) == 0);
    assert (sitemsg_next_device (&at, &left, &read) == 1);
    assert (read.wave == 2 && strcmp (read.device, "gw-2") == 0);
    assert (sitemsg_next_device (&at, &left, &read) == 0 && left == 0);
    for (size_t cut = 1; cut < devices_size / 2; cut++) {
        at = devices;
        left = cut;
        assert (sitemsg_next_device (&at, &left, &read) == PROTO_ERR_TRUNCATED);
    }

    sitemsg_outcome_t outcome = { .state = SITE_DEV_SUCCEEDED, .at_ms = 1767225600000ULL,
                                  .device = "gw-1", .reason = "" };
    assert (sitemsg_put_outcome (&outcomes, &outcomes_size, &outcome) == 0);
    outcome.state = SITE_DEV_FAILED;
    strcpy (outcome.device, "gw-2");
    strcpy (outcome.reason, "timed out: installing after 600 s");
    assert (sitemsg_put_outcome (&outcomes, &outcomes_size, &outcome) == 0);
    outcome.state = 8;
    assert (sitemsg_put_outcome (&outcomes, &outcomes_size, &outcome) == PROTO_ERR_VALUE);
    at = outcomes;
    left = outcomes_size;
    sitemsg_outcome_t got;
    assert (sitemsg_next_outcome (&at, &left, &got) == 1);
    assert (got.state == SITE_DEV_SUCCEEDED && got.at_ms == 1767225600000ULL
            && strcmp (got.device, "gw-1") == 0 && got.reason [0] == 0);
    assert (sitemsg_next_outcome (&at, &left, &got) == 1);
    assert (got.state == SITE_DEV_FAILED && strcmp (got.reason, outcome.reason) == 0);
    assert (sitemsg_next_outcome (&at, &left, &got) == 0);

    //  SITE_DIRECTIVE
    sitemsg_t msg, back;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_SITE_DIRECTIVE;
    strcpy (msg.campaign, "c-0001");
    msg.generation = 1;
    strcpy (msg.site, "plant-1");
    strcpy (msg.tenant, "acme");
    msg.state = SITE_RUN;
    strcpy (msg.name, "gw-fw");
    strcpy (msg.version, "2.1.0");
    msg.threshold = 2;
    msg.success_pct = 100;
    msg.soak_s = 60;
    msg.concurrency = 4;
    msg.timeout_s = 600;
    msg.common = common;
    msg.common_size = sizeof common;
    msg.entries = devices;
    msg.entries_size = devices_size;
    assert (sitemsg_encode (&msg, &payload, &size) == 0);
    assert (sitemsg_decode (&back, MSG_SITE_DIRECTIVE, payload, size) == 0);
    assert (back.generation == 1 && back.state == SITE_RUN && back.threshold == 2
            && back.success_pct == 100 && back.soak_s == 60 && back.concurrency == 4
            && back.timeout_s == 600 && strcmp (back.tenant, "acme") == 0
            && strcmp (back.site, "plant-1") == 0 && strcmp (back.version, "2.1.0") == 0
            && back.common_size == sizeof common && back.entries_size == devices_size
            && memcmp (back.entries, devices, devices_size) == 0);
    s_refused (MSG_SITE_DIRECTIVE, payload, size);
    s_golden ("site-directive", MSG_SITE_DIRECTIVE, payload, size);
    free (payload);

    //  Refusals of the row and its check
    sitemsg_t bad = msg;
    bad.state = 4;
    assert (sitemsg_encode (&bad, &payload, &size) == PROTO_ERR_VALUE);
    bad = msg;
    bad.generation = 0;
    assert (sitemsg_encode (&bad, &payload, &size) == PROTO_ERR_VALUE);
    bad = msg;
    bad.timeout_s = 0;
    assert (sitemsg_encode (&bad, &payload, &size) == PROTO_ERR_VALUE);
    bad = msg;
    bad.success_pct = 101;
    assert (sitemsg_encode (&bad, &payload, &size) == PROTO_ERR_VALUE);
    bad = msg;
    bad.common_size = 0;            //  Devices with no bytes to offer
    assert (sitemsg_encode (&bad, &payload, &size) == PROTO_ERR_VALUE);
    bad = msg;
    bad.common = assignment;        //  Not a bundle's start
    bad.common_size = sizeof assignment;
    assert (sitemsg_encode (&bad, &payload, &size) == PROTO_ERR_VALUE);
    bad = msg;
    bad.entries_size = devices_size - 1;        //  An entry cut short
    assert (sitemsg_encode (&bad, &payload, &size) == PROTO_ERR_TRUNCATED);
    bad = msg;
    bad.campaign [0] = 0;
    assert (sitemsg_encode (&bad, &payload, &size) == PROTO_ERR_VALUE);
    //  A device id with a NUL byte
    uint8_t *nul = (uint8_t *) malloc (devices_size);
    memcpy (nul, devices, devices_size);
    nul [4] = 0;
    bad = msg;
    bad.entries = nul;
    assert (sitemsg_encode (&bad, &payload, &size) == PROTO_ERR_VALUE);
    free (nul);
    //  A directive that only changes the state
    bad = msg;
    bad.common = NULL;
    bad.common_size = 0;
    bad.entries = NULL;
    bad.entries_size = 0;
    bad.state = SITE_PAUSE;
    bad.generation = 2;
    assert (sitemsg_encode (&bad, &payload, &size) == 0);
    assert (sitemsg_decode (&back, MSG_SITE_DIRECTIVE, payload, size) == 0);
    assert (back.state == SITE_PAUSE && back.entries_size == 0 && back.common_size == 0);
    free (payload);
    //  More devices than SITEMSG_DEVICES_MAX (small assignments so they fit)
    uint8_t *many = NULL;
    size_t many_size = 0;
    sitemsg_device_t small = { .wave = 0, .assignment = assignment, .assignment_size = 1 };
    for (int i = 0; i <= SITEMSG_DEVICES_MAX; i++) {
        snprintf (small.device, sizeof small.device, "d-%d", i);
        assert (sitemsg_put_device (&many, &many_size, &small) == 0);
    }
    bad = msg;
    bad.entries = many;
    bad.entries_size = many_size;
    assert (sitemsg_encode (&bad, &payload, &size) == PROTO_ERR_OVERSIZE);
    free (many);
    //  A buffer full to SITEMSG_ENTRIES_MAX takes no more
    many = NULL;
    many_size = SITEMSG_ENTRIES_MAX - 4;
    many = (uint8_t *) calloc (1, many_size);
    assert (sitemsg_put_device (&many, &many_size, &device) == PROTO_ERR_VALUE);
    device.device [0] = 'x';
    assert (sitemsg_put_device (&many, &many_size, &device) == PROTO_ERR_OVERSIZE);
    assert (many_size == SITEMSG_ENTRIES_MAX - 4);
    free (many);

    //  SITE_REPORT
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_SITE_REPORT;
    strcpy (msg.campaign, "c-0001");
    msg.generation = 1;
    strcpy (msg.site, "plant-1");
    msg.state = SITE_HALTED;
    msg.wave = 1;
    strcpy (msg.reason, "2 devices failed: the threshold is 2");
    msg.sent_ms = 1767225660000ULL;
    msg.entries = outcomes;
    msg.entries_size = outcomes_size;
    assert (sitemsg_encode (&msg, &payload, &size) == 0);
    assert (sitemsg_decode (&back, MSG_SITE_REPORT, payload, size) == 0);
    assert (back.state == SITE_HALTED && back.wave == 1 && back.sent_ms == msg.sent_ms
            && strcmp (back.reason, msg.reason) == 0 && back.entries_size == outcomes_size);
    s_refused (MSG_SITE_REPORT, payload, size);
    s_golden ("site-report", MSG_SITE_REPORT, payload, size);
    //  A report's outcomes are not a directive's devices
    assert (sitemsg_decode (&back, MSG_SITE_DIRECTIVE, payload, size) != 0);
    free (payload);
    bad = msg;
    bad.state = 6;
    assert (sitemsg_encode (&bad, &payload, &size) == PROTO_ERR_VALUE);
    bad = msg;
    bad.wave = 65536;
    assert (sitemsg_encode (&bad, &payload, &size) == PROTO_ERR_VALUE);
    uint8_t *wrong = (uint8_t *) malloc (outcomes_size);
    memcpy (wrong, outcomes, outcomes_size);
    wrong [0] = 0;                  //  No such device state
    bad = msg;
    bad.entries = wrong;
    assert (sitemsg_encode (&bad, &payload, &size) == PROTO_ERR_VALUE);
    free (wrong);
    uint8_t *full = NULL;
    size_t full_size = 0;
    outcome.state = SITE_DEV_OFFERED;
    outcome.reason [0] = 0;
    for (int i = 0; i <= SITEMSG_OUTCOMES_MAX; i++) {
        snprintf (outcome.device, sizeof outcome.device, "d-%d", i);
        assert (sitemsg_put_outcome (&full, &full_size, &outcome) == 0);
    }
    bad = msg;
    bad.entries = full;
    bad.entries_size = full_size;
    assert (sitemsg_encode (&bad, &payload, &size) == PROTO_ERR_OVERSIZE);
    free (full);
    //  A type of another family
    assert (sitemsg_decode (&back, MSG_HELLO, assignment, sizeof assignment)
            == PROTO_ERR_UNKNOWN);

    //  Device states: names and the map from a node's report
    assert (strcmp (sitemsg_dev_state_name (SITE_DEV_WAITING), "waiting-window") == 0);
    assert (strcmp (sitemsg_dev_state_name (SITE_DEV_ROLLED_BACK), "rolled-back") == 0);
    assert (!sitemsg_dev_state_name (0) && !sitemsg_dev_state_name (8));
    assert (sitemsg_dev_state_of ("assigned", NULL) == SITE_DEV_DOWNLOADING);
    assert (sitemsg_dev_state_of ("verified", "") == SITE_DEV_DOWNLOADING);
    assert (sitemsg_dev_state_of ("staged", "") == SITE_DEV_INSTALLING);
    assert (sitemsg_dev_state_of ("staged", "window opens at 02:00") == SITE_DEV_WAITING);
    assert (sitemsg_dev_state_of ("failed", NULL) == SITE_DEV_INSTALLING);
    assert (sitemsg_dev_state_of ("committed", NULL) == SITE_DEV_SUCCEEDED);
    assert (sitemsg_dev_state_of ("rolled-back", NULL) == SITE_DEV_ROLLED_BACK);
    assert (sitemsg_dev_state_of ("idle", NULL) == 0 && sitemsg_dev_state_of (NULL, NULL) == 0);
    free (devices);
    free (outcomes);
    //  @end

    printf ("OK\n");
}
