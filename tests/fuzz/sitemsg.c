/*  fuzz/sitemsg - libFuzzer target for the payloads of campaigns run at
    the sites (types 31..32) and the entries inside them. The first
    byte picks what the rest is: a SITE_DIRECTIVE (odd) or SITE_REPORT
    (even) payload, so the type byte of the corpus (tests/fuzz/run.sh)
    reads as itself, or, with bit 7 set, raw entries read by the device
    or outcome cursor. Whatever decodes must have entries the cursors read to the
    end with every borrowed pointer inside the input; rebuilt entry by
    entry and re-encoded, it must decode to the same values.  */

#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "proto/sitemsg.h"

//  Walk entries of type; rebuild them into *copy_p. Returns the cursor's
//  last result (0 at a clean end).
static int
s_walk (int type, const uint8_t *data, size_t size, uint8_t **copy_p, size_t *copy_size_p)
{
    const uint8_t *at = data;
    size_t left = size;
    int rc;
    if (type == MSG_SITE_DIRECTIVE) {
        sitemsg_device_t device;
        while ((rc = sitemsg_next_device (&at, &left, &device)) == 1) {
            assert (device.assignment >= data
                    && device.assignment + device.assignment_size <= data + size);
            assert (device.assignment_size >= 1
                    && device.assignment_size <= SITEMSG_ASSIGNMENT_MAX);
            assert (strlen (device.device) >= 1 && device.wave <= 0xffff);
            if (copy_p)
                assert (sitemsg_put_device (copy_p, copy_size_p, &device) == 0);
        }
    }
    else {
        sitemsg_outcome_t outcome;
        while ((rc = sitemsg_next_outcome (&at, &left, &outcome)) == 1) {
            assert (sitemsg_dev_state_name (outcome.state));
            if (copy_p)
                assert (sitemsg_put_outcome (copy_p, copy_size_p, &outcome) == 0);
        }
    }
    assert (rc <= 0 && at >= data && at + left == data + size);
    return rc;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int type = (data [0] & 1)? MSG_SITE_DIRECTIVE: MSG_SITE_REPORT;
    const uint8_t *payload = data + 1;
    size_t payload_size = size - 1;
    if (data [0] & 0x80) {
        s_walk (type, payload, payload_size, NULL, NULL);
        return 0;
    }
    sitemsg_t msg;
    if (sitemsg_decode (&msg, type, payload, payload_size))
        return 0;
    assert (msg.type == type);
    assert (!msg.entries_size
            || (msg.entries >= payload && msg.entries + msg.entries_size <= payload + payload_size));
    assert (!msg.common_size
            || (msg.common >= payload && msg.common + msg.common_size <= payload + payload_size));
    uint8_t *copy = NULL;
    size_t copy_size = 0;
    assert (s_walk (type, msg.entries, msg.entries_size, &copy, &copy_size) == 0);
    assert (copy_size == msg.entries_size
            && (copy_size == 0 || memcmp (copy, msg.entries, copy_size) == 0));
    sitemsg_t again = msg;
    again.entries = copy;
    uint8_t *encoded;
    size_t encoded_size;
    assert (sitemsg_encode (&again, &encoded, &encoded_size) == 0);
    sitemsg_t back;
    assert (sitemsg_decode (&back, type, encoded, encoded_size) == 0);
    assert (back.generation == msg.generation && back.state == msg.state
            && back.wave == msg.wave && back.sent_ms == msg.sent_ms
            && back.threshold == msg.threshold && back.timeout_s == msg.timeout_s
            && strcmp (back.campaign, msg.campaign) == 0 && strcmp (back.site, msg.site) == 0
            && strcmp (back.reason, msg.reason) == 0
            && back.entries_size == msg.entries_size
            && back.common_size == msg.common_size);
    free (encoded);
    free (copy);
    return 0;
}
