/*  oplog - a site server's durable record of refused operator requests
    Records live under "r" + seq (8 bytes big-endian); "h" holds the
    first and last seq kept. Each append is one write transaction (the
    refusal budget bounds how many a minute), and drops the oldest record
    once OPLOG_MAX are kept. No I/O but the store.  */

#include "proto/proto.h"
#include "proto/refusals.h"
#include "node/core/oplog.h"

struct _oplog_t {
    store_t *store;                 //  Not owned
    uint64_t first;                 //  Oldest seq kept (0 = none)
    uint64_t last;                  //  Newest seq written
    uint64_t max;                   //  Records kept
    refusals_t *refusals;           //  The budget of each source
};

static void
s_key (uint64_t seq, uint8_t key [9])
{
    key [0] = 'r';
    for (int i = 8; i >= 1; i--) {
        key [i] = (uint8_t) seq;
        seq >>= 8;
    }
}

oplog_t *
oplog_new (store_t *store, size_t max)
{
    assert (store);
    store_txn_t *txn = store_begin (store, false);
    if (!txn)
        return NULL;
    size_t size;
    char *head = (char *) store_get (txn, OPLOG_TABLE, "h", 1, &size);
    store_abort (&txn);
    oplog_t *self = (oplog_t *) zmalloc (sizeof (oplog_t));
    self->store = store;
    self->max = max? max: OPLOG_MAX;
    self->refusals = refusals_new ();
    if (head) {
        char text [64];
        snprintf (text, sizeof text, "%.*s", (int) (size < 63? size: 63), head);
        if (sscanf (text, "%" SCNu64 " %" SCNu64, &self->first, &self->last) != 2)
            zsys_warning ("oplog: head record unreadable; numbering starts again");
        free (head);
    }
    return self;
}

void
oplog_destroy (oplog_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        oplog_t *self = *self_p;
        refusals_destroy (&self->refusals);
        free (self);
        *self_p = NULL;
    }
}

//  Append one record in txn, dropping the oldest beyond OPLOG_MAX
static int
s_append (oplog_t *self, store_txn_t *txn, uint64_t now_ms, const char *source,
          const char *actor, const char *action, int status, const char *reason)
{
    json_t *record = json_pack ("{s:I, s:I, s:s, s:s, s:s, s:s, s:s}",
        "seq", (json_int_t) (self->last + 1), "time", (json_int_t) now_ms, "actor", actor,
        "action", action, "status", proto_status_name (status), "error", reason,
        "source", source);
    char *text = record? json_dumps (record, JSON_COMPACT | JSON_SORT_KEYS): NULL;
    json_decref (record);
    if (!text)
        return -1;
    uint8_t key [9];
    s_key (self->last + 1, key);
    int rc = store_put (txn, OPLOG_TABLE, key, sizeof key, text, strlen (text));
    free (text);
    if (rc)
        return -1;
    self->last++;
    if (self->first == 0)
        self->first = self->last;
    while (self->last - self->first + 1 > self->max) {
        s_key (self->first, key);
        if (store_del (txn, OPLOG_TABLE, key, sizeof key))
            return -1;
        self->first++;
    }
    return 0;
}

int
oplog_refused (oplog_t *self, uint64_t now_ms, const char *source, const char *actor,
               const char *action, int status, const char *reason)
{
    assert (self && actor && action && reason);
    if (!source)
        source = "";
    json_t *held = refusals_roll (self->refusals, now_ms);
    bool admit = refusals_admit (self->refusals, source);
    if (!held && !admit)
        return 0;
    uint64_t first = self->first, last = self->last;
    store_txn_t *txn = store_begin (self->store, true);
    int rc = txn? 0: -1;
    const char *from;
    json_t *count;
    json_object_foreach (held, from, count) {
        char summary [96];
        snprintf (summary, sizeof summary, "%" JSON_INTEGER_FORMAT " refusals in %d s "
                  "not recorded one by one", json_integer_value (count),
                  REFUSALS_WINDOW_MS / 1000);
        if (rc == 0)
            rc = s_append (self, txn, now_ms, from, "node", "audit.held", WEFT_STATUS_DENIED,
                           summary);
    }
    if (rc == 0 && admit)
        rc = s_append (self, txn, now_ms, source, actor, action, status, reason);
    if (rc == 0) {
        char head [64];
        int size = snprintf (head, sizeof head, "%" PRIu64 " %" PRIu64, self->first,
                             self->last);
        rc = store_put (txn, OPLOG_TABLE, "h", 1, head, (size_t) size);
    }
    if (rc == 0)
        rc = store_commit (&txn);
    store_abort (&txn);
    json_decref (held);
    if (rc) {
        self->first = first;        //  Nothing was written
        self->last = last;
        zsys_error ("oplog: cannot record a refusal");
    }
    return rc;
}

json_t *
oplog_list (oplog_t *self, size_t limit)
{
    assert (self);
    store_txn_t *txn = store_begin (self->store, false);
    if (!txn)
        return NULL;
    json_t *records = json_array ();
    for (uint64_t seq = self->last; seq >= self->first && seq > 0
                                     && json_array_size (records) < limit; seq--) {
        uint8_t key [9];
        s_key (seq, key);
        size_t size;
        char *text = (char *) store_get (txn, OPLOG_TABLE, key, sizeof key, &size);
        json_error_t error;
        json_t *record = text? json_loadb (text, size, 0, &error): NULL;
        free (text);
        if (record)
            json_array_append_new (records, record);
    }
    store_abort (&txn);
    return records;
}

//  --------------------------------------------------------------------------
//  Selftest

void
oplog_test (bool verbose)
{
    (void) verbose;
    printf (" * oplog: ");
    //  @selftest
    char path [] = "/tmp/weft-oplog-test-XXXXXX";
    assert (mkdtemp (path));
    const char *tables [] = { OPLOG_TABLE, NULL };
    store_t *store = store_new (path, tables, 0);
    assert (store);
    oplog_t *log = oplog_new (store, 0);
    uint64_t now = 1700000000000ULL;
    assert (oplog_refused (log, now, "192.0.2.1", "eve", "node.stats", WEFT_STATUS_DENIED,
                           "credential not signed by the deployment CA") == 0);
    assert (oplog_refused (log, now + 1, "192.0.2.2", "rex", "rpc", WEFT_STATUS_DENIED,
                           "credential of rex is revoked") == 0);
    json_t *list = oplog_list (log, 10);
    assert (json_array_size (list) == 2);
    json_t *newest = json_array_get (list, 0);
    assert (json_integer_value (json_object_get (newest, "seq")) == 2);
    assert (streq (json_string_value (json_object_get (newest, "source")), "192.0.2.2"));
    assert (streq (json_string_value (json_object_get (newest, "error")),
                   "credential of rex is revoked"));
    json_decref (list);
    //  Durable: a restart reads them back and numbers on
    oplog_destroy (&log);
    store_destroy (&store);
    store = store_new (path, tables, 0);
    log = oplog_new (store, 40);
    list = oplog_list (log, 1);
    assert (json_array_size (list) == 1);
    assert (json_integer_value (json_object_get (json_array_get (list, 0), "seq")) == 2);
    json_decref (list);
    //  One source's flood: its budget, then one summary at the window's end
    for (int i = 0; i < REFUSALS_PER_SOURCE + 5; i++)
        assert (oplog_refused (log, now + 2, "192.0.2.9", "x", "rpc", WEFT_STATUS_DENIED,
                               "malformed request") == 0);
    list = oplog_list (log, OPLOG_LIST_MAX);
    assert (json_array_size (list) == 2 + REFUSALS_PER_SOURCE);
    json_decref (list);
    assert (oplog_refused (log, now + REFUSALS_WINDOW_MS + 3, "192.0.2.1", "eve", "rpc",
                           WEFT_STATUS_DENIED, "request expired") == 0);
    list = oplog_list (log, 2);
    assert (streq (json_string_value (json_object_get (json_array_get (list, 0), "error")),
                   "request expired"));
    json_t *summary = json_array_get (list, 1);
    assert (streq (json_string_value (json_object_get (summary, "action")), "audit.held"));
    assert (streq (json_string_value (json_object_get (summary, "source")), "192.0.2.9"));
    json_decref (list);
    //  Bounded (here to 40): the oldest go
    for (int i = 0; i < 50; i++) {
        char source [32];
        snprintf (source, sizeof source, "10.0.0.%d", i);
        assert (oplog_refused (log, now + 3 * REFUSALS_WINDOW_MS, source, "x", "rpc",
                               WEFT_STATUS_DENIED, "no credential") == 0);
    }
    list = oplog_list (log, OPLOG_LIST_MAX);
    assert (json_array_size (list) == 40);
    assert (streq (json_string_value (json_object_get (json_array_get (list, 0), "source")),
                   "10.0.0.49"));
    json_decref (list);
    oplog_destroy (&log);
    oplog_destroy (&log);
    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
