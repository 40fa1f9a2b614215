/*  campaign - a release rolled out to a fleet in waves: the stored model
    The records and the plan's arithmetic; the methods that create and
    move campaigns are in rpc_campaign.c.  */

#include "proto/corelib.h"
#include "coordinator/core/registry.h"
#include "coordinator/core/hierarchy.h"
#include "coordinator/core/campaign.h"

int
campaign_size_parse (const char *text, int64_t max, int64_t *value, bool *percent)
{
    assert (value && percent);
    if (!text || !*text || strlen (text) > 12)
        return -1;
    int64_t number = 0;
    const char *at = text;
    for (; *at >= '0' && *at <= '9'; at++)
        number = number * 10 + (*at - '0');
    if (at == text || (*at && !streq (at, "%")))
        return -1;
    *percent = *at == '%';
    if (number < 1 || number > (*percent? 100: max))
        return -1;
    *value = number;
    return 0;
}

int
campaign_plan (json_t *waves, size_t total, size_t sizes [CAMPAIGN_WAVES_MAX],
               char error [WEFT_TEXT_MAX + 1])
{
    assert (sizes && error);
    size_t count = json_array_size (waves);
    if (!json_is_array (waves) || count == 0 || count > CAMPAIGN_WAVES_MAX) {
        snprintf (error, WEFT_TEXT_MAX + 1, "waves: want 1 to %d sizes, each N devices or "
                  "P%% of them", CAMPAIGN_WAVES_MAX);
        return -1;
    }
    size_t left = total;
    for (size_t index = 0; index < count; index++) {
        const char *text = json_string_value (json_array_get (waves, index));
        int64_t value;
        bool percent;
        if (campaign_size_parse (text, INT32_MAX, &value, &percent)) {
            snprintf (error, WEFT_TEXT_MAX + 1, "wave %zu: '%.16s' is not N devices (1 or "
                      "more) or P%% (1 to 100)", index + 1, text? text: "");
            return -1;
        }
        size_t size = percent? (size_t) ((total * (uint64_t) value + 99) / 100): (size_t) value;
        if (left == 0 && total) {
            snprintf (error, WEFT_TEXT_MAX + 1, "wave %zu would be empty: the waves before "
                      "it take all %zu devices", index + 1, total);
            return -1;
        }
        if (total && !percent && size > left) {
            snprintf (error, WEFT_TEXT_MAX + 1, "wave %zu wants %zu devices; %zu of the "
                      "target's %zu are left for it", index + 1, size, left, total);
            return -1;
        }
        sizes [index] = size < left? size: left;
        left -= sizes [index];
    }
    if (left) {
        snprintf (error, WEFT_TEXT_MAX + 1, "the waves cover %zu of the %zu devices; end "
                  "the plan with 100%% (the rest)", total - left, total);
        return -1;
    }
    return 0;
}

int64_t
campaign_threshold (const char *text, size_t total, char error [WEFT_TEXT_MAX + 1])
{
    int64_t value;
    bool percent;
    if (campaign_size_parse (text, INT32_MAX, &value, &percent)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "threshold: '%.16s' is not N failed devices "
                  "(1 or more) or P%% (1 to 100)", text? text: "");
        return -1;
    }
    if (percent)
        return (int64_t) ((total * (uint64_t) value + 99) / 100);
    if (total && (size_t) value > total) {
        snprintf (error, WEFT_TEXT_MAX + 1, "threshold %lld is more than the campaign's "
                  "%zu devices: it could never be reached", (long long) value, total);
        return -1;
    }
    return value;
}

int64_t
campaign_success (const char *text, int64_t size, char error [WEFT_TEXT_MAX + 1])
{
    if (!text)
        return size;
    int64_t value;
    bool percent;
    if (campaign_size_parse (text, INT32_MAX, &value, &percent)) {
        snprintf (error, WEFT_TEXT_MAX + 1, "success: '%.16s' is not N succeeded devices of a "
                  "wave (1 or more) or P%% (1 to 100)", text);
        return -1;
    }
    if (percent)
        return (size * value + 99) / 100;
    return value < size? value: size;
}

int
campaign_next_id (store_txn_t *txn, char id [CAMPAIGN_ID_MAX + 1])
{
    json_t *seq = registry_record_get (txn, CAMPAIGN_TABLE, "seq");
    json_int_t next = json_integer_value (json_object_get (seq, "last")) + 1;
    json_decref (seq);
    seq = json_pack ("{s:I}", "last", next);
    int rc = registry_record_put (txn, CAMPAIGN_TABLE, "seq", seq);
    json_decref (seq);
    snprintf (id, CAMPAIGN_ID_MAX + 1, "campaign-%lld", (long long) next);
    return rc;
}

json_t *
campaign_get (store_txn_t *txn, const char *id)
{
    assert (txn && id);
    char key [CAMPAIGN_ID_MAX + WEFT_NAME_MAX + 8];
    snprintf (key, sizeof key, "c/%s", id);
    return registry_record_get (txn, CAMPAIGN_TABLE, key);
}

int
campaign_put (store_txn_t *txn, json_t *campaign)
{
    const char *id = json_string_value (json_object_get (campaign, "id"));
    assert (txn && id);
    char key [CAMPAIGN_ID_MAX + WEFT_NAME_MAX + 8];
    snprintf (key, sizeof key, "c/%s", id);
    return registry_record_put (txn, CAMPAIGN_TABLE, key, campaign);
}

json_t *
campaign_device_get (store_txn_t *txn, const char *id, const char *device)
{
    char key [CAMPAIGN_ID_MAX + WEFT_NAME_MAX + 8];
    snprintf (key, sizeof key, "d/%s/%s", id, device);
    return registry_record_get (txn, CAMPAIGN_TABLE, key);
}

bool
campaign_state_under_way (const char *state)
{
    return state && (streq (state, "offered") || streq (state, "downloading")
                 ||  streq (state, "waiting-window") || streq (state, "installing"));
}

//  An index entry present (value) or absent (NULL) as the record says
static int
s_index (store_txn_t *txn, const char *key, size_t size, const char *value)
{
    if (value)
        return store_put (txn, CAMPAIGN_TABLE, key, size, value, strlen (value));
    return store_del (txn, CAMPAIGN_TABLE, key, size) < 0? -1: 0;
}

//  The device's due and under-way entries as its record says (live), or
//  none
static int
s_indexes (store_txn_t *txn, const char *id, const char *device, json_t *record, bool live)
{
    const char *state = json_string_value (json_object_get (record, "state"));
    const char *path = json_string_value (json_object_get (record, "path"));
    const char *site = json_string_value (json_object_get (record, "site"));
    json_int_t wave = json_integer_value (json_object_get (record, "wave"));
    char index [CAMPAIGN_ID_MAX + WEFT_NAME_MAX + HIERARCHY_PATH_MAX + 16];
    int rc = 0;
    if (json_object_get (record, "wave") && wave >= 0 && wave < CAMPAIGN_WAVES_MAX) {
        int size = snprintf (index, sizeof index, "q/%s/%04x/%s", id, (unsigned) wave, device);
        //  A device its site runs is never due here (campaign_site.h)
        bool pending = live && state && streq (state, "pending")
                    && !json_object_get (record, "at_site");
        rc = s_index (txn, index, (size_t) size, pending? (path? path: ""): NULL);
    }
    if (rc == 0 && site) {
        int size = snprintf (index, sizeof index, "w/%s/%s %s", id, site, device);
        rc = (size_t) size < sizeof index
           ? s_index (txn, index, (size_t) size,
                      live && campaign_state_under_way (state)? "": NULL)
           : -1;
    }
    return rc;
}

int
campaign_device_put (store_txn_t *txn, const char *id, const char *device, json_t *record)
{
    char key [CAMPAIGN_ID_MAX + WEFT_NAME_MAX + 8];
    snprintf (key, sizeof key, "d/%s/%s", id, device);
    if (registry_record_put (txn, CAMPAIGN_TABLE, key, record))
        return -1;
    return s_indexes (txn, id, device, record, true);
}

//  --------------------------------------------------------------------------
//  The places of a campaign's devices: h/<id>/<path> holds "COUNT FIRST",
//  its devices there and the smallest of their ids

#define S_PLACE_KEY_MAX     (2 + CAMPAIGN_ID_MAX + 1 + HIERARCHY_PATH_MAX + 1)
#define S_PLACE_VALUE_MAX   (20 + 1 + WEFT_NAME_MAX + 1)

//  The count and first device of a place value (not NUL-ended); false if
//  it is not one
static bool
s_place_parse (const void *value, size_t size, uint64_t *count_p,
               char first [WEFT_NAME_MAX + 1])
{
    char text [S_PLACE_VALUE_MAX];
    if (size == 0 || size >= sizeof text)
        return false;
    memcpy (text, value, size);
    text [size] = 0;
    char *space = strchr (text, ' ');
    if (!space || space == text || !space [1] || strlen (space + 1) > WEFT_NAME_MAX)
        return false;
    *space = 0;
    char *end;
    *count_p = strtoull (text, &end, 10);
    if (*end)
        return false;
    snprintf (first, WEFT_NAME_MAX + 1, "%s", space + 1);
    return true;
}

int
campaign_device_add (store_txn_t *txn, const char *id, const char *device, json_t *record)
{
    assert (txn && id && device && record);
    if (campaign_device_put (txn, id, device, record))
        return -1;
    const char *path = json_string_value (json_object_get (record, "path"));
    char key [S_PLACE_KEY_MAX];
    int key_size = snprintf (key, sizeof key, "h/%s/%s", id, path? path: "");
    if (key_size < 0 || (size_t) key_size >= sizeof key)
        return -1;
    uint64_t count = 0;
    char first [WEFT_NAME_MAX + 1] = "";
    size_t size;
    char *held = (char *) store_get (txn, CAMPAIGN_TABLE, key, (size_t) key_size, &size);
    if (held && !s_place_parse (held, size, &count, first)) {
        zsys_error ("campaign: corrupt place record %s", key);
        count = 0;
        *first = 0;
    }
    free (held);
    if (!*first || strcmp (device, first) < 0)
        snprintf (first, sizeof first, "%s", device);
    char value [S_PLACE_VALUE_MAX];
    int value_size = snprintf (value, sizeof value, "%" PRIu64 " %s", count + 1, first);
    return store_put (txn, CAMPAIGN_TABLE, key, (size_t) key_size, value, (size_t) value_size);
}

typedef struct {
    campaign_place_fn *fn;
    void *arg;
    size_t prefix_size;
} s_places_t;

static int
s_place_one (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    s_places_t *places = (s_places_t *) arg;
    char path [HIERARCHY_PATH_MAX + 1], first [WEFT_NAME_MAX + 1];
    uint64_t count;
    if (key_size - places->prefix_size > HIERARCHY_PATH_MAX
    ||  !s_place_parse (value, size, &count, first)) {
        zsys_error ("campaign: corrupt place record %.*s", (int) key_size, (const char *) key);
        return 0;
    }
    snprintf (path, sizeof path, "%.*s", (int) (key_size - places->prefix_size),
              (const char *) key + places->prefix_size);
    return places->fn (places->arg, path, count, first);
}

int64_t
campaign_places (store_txn_t *txn, const char *id, campaign_place_fn *fn, void *arg)
{
    assert (txn && id && fn);
    char prefix [CAMPAIGN_ID_MAX + 8];
    snprintf (prefix, sizeof prefix, "h/%s/", id);
    s_places_t places = { fn, arg, strlen (prefix) };
    return store_scan (txn, CAMPAIGN_TABLE, prefix, strlen (prefix), s_place_one, &places);
}

int
campaign_device_unindex (store_txn_t *txn, const char *id, const char *device, json_t *record)
{
    return s_indexes (txn, id, device, record, false);
}

bool
campaign_of (store_txn_t *txn, const char *device, char id [CAMPAIGN_ID_MAX + 1])
{
    char key [WEFT_NAME_MAX + 8];
    snprintf (key, sizeof key, "x/%s", device);
    size_t size;
    char *text = (char *) store_get (txn, CAMPAIGN_TABLE, key, strlen (key), &size);
    if (!text)
        return false;
    snprintf (id, CAMPAIGN_ID_MAX + 1, "%.*s", (int) size, text);
    free (text);
    return true;
}

int
campaign_hold (store_txn_t *txn, const char *device, const char *id)
{
    char key [WEFT_NAME_MAX + 8];
    snprintf (key, sizeof key, "x/%s", device);
    if (!id)
        return store_del (txn, CAMPAIGN_TABLE, key, strlen (key)) < 0? -1: 0;
    return store_put (txn, CAMPAIGN_TABLE, key, strlen (key), id, strlen (id));
}

typedef struct {
    campaign_device_fn *fn;
    void *arg;
    size_t prefix_size;
} s_scan_t;

static int
s_scan_one (void *arg, const void *key, size_t key_size, const void *value, size_t size)
{
    s_scan_t *scan = (s_scan_t *) arg;
    char device [WEFT_NAME_MAX + 1];
    snprintf (device, sizeof device, "%.*s", (int) (key_size - scan->prefix_size),
              (const char *) key + scan->prefix_size);
    json_t *record = json_loadb ((const char *) value, size, 0, NULL);
    if (!record) {
        zsys_error ("campaign: corrupt device record %.*s", (int) key_size, (const char *) key);
        return 0;
    }
    int rc = scan->fn (scan->arg, device, record);
    json_decref (record);
    return rc;
}

int64_t
campaign_devices (store_txn_t *txn, const char *id, campaign_device_fn *fn, void *arg)
{
    char prefix [CAMPAIGN_ID_MAX + 8];
    snprintf (prefix, sizeof prefix, "d/%s/", id);
    s_scan_t scan = { fn, arg, strlen (prefix) };
    return store_scan (txn, CAMPAIGN_TABLE, prefix, strlen (prefix), s_scan_one, &scan);
}

json_int_t
campaign_total (json_t *campaign, const char *name)
{
    json_int_t total = 0;
    size_t index;
    json_t *value;
    json_array_foreach (json_object_get (campaign, name), index, value)
        total += json_integer_value (value);
    return total;
}

bool
campaign_state_final (const char *state)
{
    return state && (streq (state, "aborted") || streq (state, "finished")
                 ||  streq (state, "reverted"));
}

static bool
s_listed (json_t *list, const char *tenant)
{
    size_t index;
    json_t *item;
    json_array_foreach (list, index, item)
        if (streq (json_string_value (item), tenant))
            return true;
    return false;
}

bool
campaign_has_tenant (json_t *campaign, const char *tenant)
{
    return s_listed (json_object_get (campaign, "tenants"), tenant)
        && !s_listed (json_object_get (campaign, "excluded"), tenant);
}
