/*  quarantine - the coordinator's set of quarantined devices (see .h)  */

#include "proto/corelib.h"
#include "proto/meshmsg.h"
#include "coordinator/core/attest.h"
#include "coordinator/core/quarantine.h"

#define S_PREFIX    "quarantine/"
#define S_VERSION   "quarantine-version"

uint64_t
quarantine_version (store_txn_t *txn)
{
    assert (txn);
    size_t size = 0;
    char *text = (char *) store_get (txn, ATTEST_TABLE, S_VERSION, strlen (S_VERSION), &size);
    uint64_t version = 0;
    if (text && size < 24) {
        char copy [24];
        memcpy (copy, text, size);
        copy [size] = 0;
        version = strtoull (copy, NULL, 10);
    }
    free (text);
    return version;
}

int
quarantine_mark (store_txn_t *txn, const char *device_id, bool quarantined)
{
    assert (txn && device_id);
    char key [WEFT_NAME_MAX + 16];
    int key_size = snprintf (key, sizeof key, S_PREFIX "%s", device_id);
    size_t size = 0;
    void *held = store_get (txn, ATTEST_TABLE, key, (size_t) key_size, &size);
    free (held);
    if ((held != NULL) == quarantined)
        return 0;
    int rc = quarantined? store_put (txn, ATTEST_TABLE, key, (size_t) key_size, "1", 1)
                        : store_del (txn, ATTEST_TABLE, key, (size_t) key_size);
    if (rc == 0) {
        char text [24];
        int text_size = snprintf (text, sizeof text, "%" PRIu64, quarantine_version (txn) + 1);
        rc = store_put (txn, ATTEST_TABLE, S_VERSION, strlen (S_VERSION), text,
                        (size_t) text_size);
    }
    return rc? -1: 1;
}

typedef struct {
    char names [MESHMSG_QUARANTINE_NAMES_MAX + 1];
    size_t names_size;
    size_t count;
} s_list_t;

static int
s_list_one (void *arg, const void *key, size_t key_size, const void *value,
            size_t value_size)
{
    (void) value;
    (void) value_size;
    s_list_t *list = (s_list_t *) arg;
    size_t id_size = key_size - strlen (S_PREFIX);
    if (list->count == MESHMSG_QUARANTINED_MAX) {
        zsys_warning ("coord: quarantine list full (%d); %.*s and later ones not listed",
                      MESHMSG_QUARANTINED_MAX, (int) id_size, (const char *) key + strlen (S_PREFIX));
        return 1;
    }
    if (list->count)
        list->names [list->names_size++] = ',';
    memcpy (list->names + list->names_size, (const char *) key + strlen (S_PREFIX), id_size);
    list->names_size += id_size;
    list->count++;
    return 0;
}

int
quarantine_payload (store_txn_t *txn, uint8_t **payload_p, size_t *size_p,
                    uint64_t *version_p)
{
    assert (txn && payload_p && size_p && version_p);
    s_list_t *list = (s_list_t *) zmalloc (sizeof (s_list_t));
    int rc = store_scan (txn, ATTEST_TABLE, S_PREFIX, strlen (S_PREFIX), s_list_one, list);
    meshmsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_QUARANTINE;
    msg.quarantine = quarantine_version (txn);
    msg.names = list->names;
    msg.names_size = list->names_size;
    *version_p = msg.quarantine;
    if (rc >= 0)
        rc = meshmsg_encode (&msg, payload_p, size_p)? -1: 0;
    free (list);
    return rc < 0? -1: 0;
}

//  --------------------------------------------------------------------------
//  Selftest

void
quarantine_test (bool verbose)
{
    printf (" * quarantine: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    char path [] = "/tmp/weft-quarantine.XXXXXX";
    assert (mkdtemp (path));
    const char *tables [] = { ATTEST_TABLE, NULL };
    store_t *store = store_new (path, tables, 0);
    assert (store);
    store_txn_t *txn = store_begin (store, true);
    assert (quarantine_version (txn) == 0);
    assert (quarantine_mark (txn, "gw-2", false) == 0);     //  Not in: no change
    assert (quarantine_version (txn) == 0);
    assert (quarantine_mark (txn, "gw-2", true) == 1);
    assert (quarantine_mark (txn, "gw-1", true) == 1);
    assert (quarantine_mark (txn, "gw-1", true) == 0);      //  Already in
    assert (quarantine_version (txn) == 2);
    uint8_t *payload;
    size_t size;
    uint64_t version;
    assert (quarantine_payload (txn, &payload, &size, &version) == 0 && version == 2);
    meshmsg_t msg;
    assert (meshmsg_decode (&msg, MSG_QUARANTINE, payload, size) == 0);
    assert (msg.quarantine == 2 && msg.names_size == 9
            && memcmp (msg.names, "gw-1,gw-2", 9) == 0);
    free (payload);
    //  Leaving the set is a change too
    assert (quarantine_mark (txn, "gw-1", false) == 1);
    assert (quarantine_version (txn) == 3);
    assert (store_commit (&txn) == 0);
    txn = store_begin (store, false);
    assert (quarantine_payload (txn, &payload, &size, &version) == 0 && version == 3);
    assert (meshmsg_decode (&msg, MSG_QUARANTINE, payload, size) == 0);
    assert (msg.names_size == 4 && memcmp (msg.names, "gw-2", 4) == 0);
    free (payload);
    store_abort (&txn);
    //  A failed write reports -1 and the committed set stays as it was
    txn = store_begin (store, true);
    store_fail_after (store, 1);
    assert (quarantine_mark (txn, "gw-3", true) == -1);
    store_fail_after (store, 0);
    store_abort (&txn);
    txn = store_begin (store, false);
    assert (quarantine_version (txn) == 3);
    store_abort (&txn);
    //  More than the list holds: the first MESHMSG_QUARANTINED_MAX are listed
    txn = store_begin (store, true);
    for (int i = 0; i < MESHMSG_QUARANTINED_MAX + 5; i++) {
        char id [32];
        snprintf (id, sizeof id, "dev-%05d", i);
        assert (quarantine_mark (txn, id, true) == 1);
    }
    assert (quarantine_payload (txn, &payload, &size, &version) == 0);
    assert (meshmsg_decode (&msg, MSG_QUARANTINE, payload, size) == 0);
    assert (meshmsg_names (msg.names, msg.names_size) == MESHMSG_QUARANTINED_MAX);
    free (payload);
    store_abort (&txn);
    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
