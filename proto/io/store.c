/*  store - LMDB-backed tables for node and coordinator state
    One environment, one named database per table, opened once at start
    so transactions never open databases (LMDB requires DBI handles to be
    opened by one transaction at a time). Values are copied out before
    the transaction ends. A test-only fault switch makes the nth write
    fail like a full disk, so callers can prove that a failed write
    leaves their state sound.  */

#include <czmq.h>
#include <lmdb.h>
#include <sys/stat.h>

#include "proto/store.h"
#include "proto/io/fsperm.h"

#define STORE_TABLES_MAX    32
#define STORE_MAP_DEFAULT   ((size_t) 1 << 30)

struct _store_t {
    MDB_env *env;                   //  LMDB environment, owned
    char *path;                     //  Directory, owned
    size_t ntables;                 //  Tables opened
    char *names [STORE_TABLES_MAX]; //  Table names, owned
    MDB_dbi dbis [STORE_TABLES_MAX];    //  Matching handles
    int fail_after;                 //  Test fault: writes until failure, 0 = off
    bool broken;                    //  LMDB refuses all transactions (MDB_PANIC)
    store_stats_t stats;            //  Counters (store_stats), updated atomically
};

struct _store_txn_t {
    store_t *store;                 //  Owner, borrowed
    MDB_txn *txn;                   //  LMDB transaction, owned
    bool write;                     //  Opened for writing
    const char *last_table;         //  The table last looked up (store's copy)
    MDB_dbi last_dbi;               //  Its handle
};

//  --------------------------------------------------------------------------
//  Find a table's handle; -1 if the name was not declared at open.

static int
s_table (store_t *self, const char *table, MDB_dbi *dbi)
{
    for (size_t i = 0; i < self->ntables; i++)
        if (streq (self->names [i], table)) {
            *dbi = self->dbis [i];
            return 0;
        }
    zsys_error ("store: unknown table '%s'", table);
    return -1;
}

//  The same within a transaction, where callers pass the same name (a
//  literal) over and over: an index update writes one table a dozen
//  times. One comparison with the name last found, not one per table
//  (a buffer reused for another name fails it and takes the long way).
static int
s_txn_table (store_txn_t *txn, const char *table, MDB_dbi *dbi)
{
    if (txn->last_table && streq (table, txn->last_table)) {
        *dbi = txn->last_dbi;
        return 0;
    }
    for (size_t i = 0; i < txn->store->ntables; i++)
        if (streq (txn->store->names [i], table)) {
            txn->last_table = txn->store->names [i];
            txn->last_dbi = *dbi = txn->store->dbis [i];
            return 0;
        }
    return s_table (txn->store, table, dbi);       //  Logs the unknown name
}

//  --------------------------------------------------------------------------
//  Count down the fault switch; true when this write must fail.

static bool
s_fault (store_t *self)
{
    if (self->fail_after <= 0)
        return false;
    return --self->fail_after == 0;
}

//  --------------------------------------------------------------------------
//  Open or create the environment with the given tables.

store_t *
store_new (const char *path, const char **tables, size_t map_size)
{
    assert (path);
    assert (tables);
    //  The database is state: its directory and files are ours alone
    char error [512];
    char *data = zsys_sprintf ("%s/data.mdb", path);
    char *lock = zsys_sprintf ("%s/lock.mdb", path);
    int checked = fsperm_dir (path, error, sizeof error);
    if (checked == 0)
        checked = fsperm_file (data, error, sizeof error);
    if (checked == 0)
        checked = fsperm_file (lock, error, sizeof error);
    zstr_free (&data);
    zstr_free (&lock);
    if (checked) {
        zsys_error ("store: refusing the database: %s", error);
        return NULL;
    }
    store_t *self = (store_t *) zmalloc (sizeof (store_t));
    self->path = strdup (path);
    int rc = mdb_env_create (&self->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs (self->env, STORE_TABLES_MAX);
    if (rc == 0)
        rc = mdb_env_set_mapsize (self->env, map_size? map_size: STORE_MAP_DEFAULT);
    if (rc == 0)
        rc = mdb_env_open (self->env, path, MDB_NOTLS, 0600);
    if (rc) {
        zsys_error ("store: open %s: %s", path, mdb_strerror (rc));
        store_destroy (&self);
        return NULL;
    }
    MDB_txn *txn;
    rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    for (size_t i = 0; rc == 0 && tables [i]; i++) {
        assert (i < STORE_TABLES_MAX);
        rc = mdb_dbi_open (txn, tables [i], MDB_CREATE, &self->dbis [i]);
        if (rc == 0)
            self->names [self->ntables++] = strdup (tables [i]);
    }
    if (rc == 0)
        rc = mdb_txn_commit (txn);
    else
        mdb_txn_abort (txn);
    if (rc) {
        zsys_error ("store: open tables in %s: %s", path, mdb_strerror (rc));
        store_destroy (&self);
    }
    return self;
}

//  --------------------------------------------------------------------------
//  Close the environment; safe to call twice.

void
store_destroy (store_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        store_t *self = *self_p;
        if (self->env)
            mdb_env_close (self->env);
        for (size_t i = 0; i < self->ntables; i++)
            free (self->names [i]);
        free (self->path);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Begin a transaction.

store_txn_t *
store_begin (store_t *self, bool write)
{
    assert (self);
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, write? 0: MDB_RDONLY, &txn);
    if (rc) {
        if (rc == MDB_PANIC)
            self->broken = true;
        zsys_error ("store: begin: %s", mdb_strerror (rc));
        return NULL;
    }
    __atomic_fetch_add (write? &self->stats.writes: &self->stats.reads, 1, __ATOMIC_RELAXED);
    store_txn_t *self_txn = (store_txn_t *) zmalloc (sizeof (store_txn_t));
    self_txn->store = self;
    self_txn->txn = txn;
    self_txn->write = write;
    return self_txn;
}

//  --------------------------------------------------------------------------
//  Commit; frees the transaction whatever happens.

int
store_commit (store_txn_t **txn_p)
{
    assert (txn_p);
    store_txn_t *self = *txn_p;
    assert (self);
    int rc;
    if (self->write && s_fault (self->store)) {
        mdb_txn_abort (self->txn);
        rc = ENOSPC;
    }
    else {
        rc = mdb_txn_commit (self->txn);
        if (rc == MDB_PANIC)
            self->store->broken = true;
        if (rc == 0 && self->write)
            __atomic_fetch_add (&self->store->stats.commits, 1, __ATOMIC_RELAXED);
    }
    if (rc)
        zsys_error ("store: commit: %s", rc == ENOSPC? "no space left on device"
                                                      : mdb_strerror (rc));
    free (self);
    *txn_p = NULL;
    return rc? -1: 0;
}

//  --------------------------------------------------------------------------
//  Counters, for tests that pin how much work one event costs.

void
store_stats (store_t *self, store_stats_t *stats)
{
    assert (self && stats);
    stats->reads = __atomic_load_n (&self->stats.reads, __ATOMIC_RELAXED);
    stats->writes = __atomic_load_n (&self->stats.writes, __ATOMIC_RELAXED);
    stats->commits = __atomic_load_n (&self->stats.commits, __ATOMIC_RELAXED);
    stats->decodes = __atomic_load_n (&self->stats.decodes, __ATOMIC_RELAXED);
    stats->gets = __atomic_load_n (&self->stats.gets, __ATOMIC_RELAXED);
    stats->puts = __atomic_load_n (&self->stats.puts, __ATOMIC_RELAXED);
    stats->dels = __atomic_load_n (&self->stats.dels, __ATOMIC_RELAXED);
}

void
store_note_decode (store_txn_t *txn)
{
    assert (txn);
    __atomic_fetch_add (&txn->store->stats.decodes, 1, __ATOMIC_RELAXED);
}

//  --------------------------------------------------------------------------
//  Abandon a transaction.

void
store_abort (store_txn_t **txn_p)
{
    assert (txn_p);
    if (*txn_p) {
        mdb_txn_abort ((*txn_p)->txn);
        free (*txn_p);
        *txn_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Copy of a value, or NULL.

void *
store_get (store_txn_t *txn, const char *table, const void *key,
           size_t key_size, size_t *size_p)
{
    assert (txn);
    assert (key);
    MDB_dbi dbi;
    if (s_txn_table (txn, table, &dbi))
        return NULL;
    __atomic_fetch_add (&txn->store->stats.gets, 1, __ATOMIC_RELAXED);
    MDB_val k = { key_size, (void *) key };
    MDB_val v;
    int rc = mdb_get (txn->txn, dbi, &k, &v);
    if (rc) {
        if (rc != MDB_NOTFOUND)
            zsys_error ("store: get %s: %s", table, mdb_strerror (rc));
        return NULL;
    }
    //  One spare NUL byte so text values can be used as strings
    uint8_t *copy = (uint8_t *) zmalloc (v.mv_size + 1);
    memcpy (copy, v.mv_data, v.mv_size);
    if (size_p)
        *size_p = v.mv_size;
    return copy;
}

//  --------------------------------------------------------------------------
//  A value into the caller's reusable buffer.

//  Copy a value out of LMDB's map into *buf_p, grown to fit, with one
//  spare NUL byte as store_get
static void
s_copy_out (const MDB_val *value, uint8_t **buf_p, size_t *buf_max_p, size_t *size_p)
{
    if (value->mv_size + 1 > *buf_max_p) {
        uint8_t *grown = (uint8_t *) realloc (*buf_p, value->mv_size + 1);
        assert (grown);
        *buf_p = grown;
        *buf_max_p = value->mv_size + 1;
    }
    memcpy (*buf_p, value->mv_data, value->mv_size);
    (*buf_p) [value->mv_size] = 0;
    *size_p = value->mv_size;
}

int
store_get_buf (store_txn_t *txn, const char *table, const void *key, size_t key_size,
               uint8_t **buf_p, size_t *buf_max_p, size_t *size_p)
{
    assert (txn && key && buf_p && buf_max_p && size_p);
    MDB_dbi dbi;
    if (s_txn_table (txn, table, &dbi))
        return -1;
    __atomic_fetch_add (&txn->store->stats.gets, 1, __ATOMIC_RELAXED);
    MDB_val k = { key_size, (void *) key };
    MDB_val v;
    int rc = mdb_get (txn->txn, dbi, &k, &v);
    if (rc) {
        if (rc != MDB_NOTFOUND)
            zsys_error ("store: get %s: %s", table, mdb_strerror (rc));
        return rc == MDB_NOTFOUND? 1: -1;
    }
    s_copy_out (&v, buf_p, buf_max_p, size_p);
    return 0;
}

//  --------------------------------------------------------------------------
//  Presence of a key.

bool
store_has (store_txn_t *txn, const char *table, const void *key, size_t key_size)
{
    assert (txn && key);
    MDB_dbi dbi;
    if (s_txn_table (txn, table, &dbi))
        return false;
    __atomic_fetch_add (&txn->store->stats.gets, 1, __ATOMIC_RELAXED);
    MDB_val k = { key_size, (void *) key };
    MDB_val v;
    int rc = mdb_get (txn->txn, dbi, &k, &v);
    if (rc && rc != MDB_NOTFOUND)
        zsys_error ("store: get %s: %s", table, mdb_strerror (rc));
    return rc == 0;
}

//  --------------------------------------------------------------------------
//  Cursors for lookups in key order

//  An LMDB cursor on table, or NULL (logged)
static MDB_cursor *
s_cursor_open (store_txn_t *txn, const char *table)
{
    MDB_dbi dbi;
    if (s_txn_table (txn, table, &dbi))
        return NULL;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn->txn, dbi, &cursor);
    if (rc) {
        zsys_error ("store: cursor on %s: %s", table, mdb_strerror (rc));
        return NULL;
    }
    return cursor;
}

struct _store_cursor_t {
    store_txn_t *txn;               //  Borrowed
    MDB_cursor *cursor;
};

store_cursor_t *
store_cursor_new (store_txn_t *txn, const char *table)
{
    assert (txn);
    MDB_cursor *cursor = s_cursor_open (txn, table);
    if (!cursor)
        return NULL;
    store_cursor_t *self = (store_cursor_t *) zmalloc (sizeof (store_cursor_t));
    self->txn = txn;
    self->cursor = cursor;
    return self;
}

void
store_cursor_destroy (store_cursor_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        mdb_cursor_close ((*self_p)->cursor);
        free (*self_p);
        *self_p = NULL;
    }
}

//  Position on key: 0 and *value_p if it is there, 1 if not, -1 on error.
//  MDB_SET_RANGE leaves the cursor on a page even when the key is absent
//  (MDB_SET need not), so the next lookup can start from there.
static int
s_cursor_find (store_cursor_t *self, const void *key, size_t key_size, MDB_val *value_p)
{
    __atomic_fetch_add (&self->txn->store->stats.gets, 1, __ATOMIC_RELAXED);
    MDB_val k = { key_size, (void *) key };
    int rc = mdb_cursor_get (self->cursor, &k, value_p, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        return 1;
    if (rc) {
        zsys_error ("store: cursor get: %s", mdb_strerror (rc));
        return -1;
    }
    return k.mv_size == key_size && memcmp (k.mv_data, key, key_size) == 0? 0: 1;
}

bool
store_cursor_has (store_cursor_t *self, const void *key, size_t key_size)
{
    assert (self && key);
    MDB_val v;
    return s_cursor_find (self, key, key_size, &v) == 0;
}

int
store_cursor_get_buf (store_cursor_t *self, const void *key, size_t key_size,
                      uint8_t **buf_p, size_t *buf_max_p, size_t *size_p)
{
    assert (self && key && buf_p && buf_max_p && size_p);
    MDB_val v;
    int rc = s_cursor_find (self, key, key_size, &v);
    if (rc)
        return rc;
    s_copy_out (&v, buf_p, buf_max_p, size_p);
    return 0;
}

//  --------------------------------------------------------------------------
//  Put a value with LMDB flags: 0, 1 if MDB_NOOVERWRITE found a value
//  (*found is it, in LMDB's map), or -1 (logged).

static int
s_put (store_txn_t *txn, const char *table, const void *key, size_t key_size,
       const void *value, size_t value_size, unsigned flags, MDB_val *found)
{
    assert (txn);
    assert (txn->write);
    MDB_dbi dbi;
    if (s_txn_table (txn, table, &dbi))
        return -1;
    if (s_fault (txn->store)) {
        zsys_error ("store: put %s: no space left on device", table);
        return -1;
    }
    __atomic_fetch_add (&txn->store->stats.puts, 1, __ATOMIC_RELAXED);
    MDB_val k = { key_size, (void *) key };
    MDB_val v = { value_size, (void *) value };
    int rc = mdb_put (txn->txn, dbi, &k, &v, flags);
    if (rc == MDB_KEYEXIST && (flags & MDB_NOOVERWRITE)) {
        *found = v;
        return 1;
    }
    if (rc)
        zsys_error ("store: put %s: %s", table, mdb_strerror (rc));
    return rc? -1: 0;
}

int
store_put (store_txn_t *txn, const char *table, const void *key,
           size_t key_size, const void *value, size_t value_size)
{
    return s_put (txn, table, key, key_size, value, value_size, 0, NULL);
}

//  --------------------------------------------------------------------------
//  Put unless present; LMDB hands back the present value instead.

int
store_insert (store_txn_t *txn, const char *table, const void *key, size_t key_size,
              const void *value, size_t value_size, void **old_p, size_t *old_size_p)
{
    MDB_val found;
    int rc = s_put (txn, table, key, key_size, value, value_size, MDB_NOOVERWRITE, &found);
    if (rc == 1 && old_p) {
        uint8_t *copy = NULL;
        size_t copy_max = 0, size;
        s_copy_out (&found, &copy, &copy_max, &size);
        *old_p = copy;
        if (old_size_p)
            *old_size_p = size;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Delete a value.

int
store_del (store_txn_t *txn, const char *table, const void *key, size_t key_size)
{
    assert (txn);
    assert (txn->write);
    MDB_dbi dbi;
    if (s_txn_table (txn, table, &dbi))
        return -1;
    if (s_fault (txn->store)) {
        zsys_error ("store: del %s: no space left on device", table);
        return -1;
    }
    __atomic_fetch_add (&txn->store->stats.dels, 1, __ATOMIC_RELAXED);
    MDB_val k = { key_size, (void *) key };
    int rc = mdb_del (txn->txn, dbi, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return 1;
    if (rc)
        zsys_error ("store: del %s: %s", table, mdb_strerror (rc));
    return rc? -1: 0;
}

//  --------------------------------------------------------------------------
//  Visit the entries under a key prefix in order.

int
store_scan (store_txn_t *txn, const char *table, const void *prefix,
            size_t prefix_size, store_scan_fn *fn, void *arg)
{
    assert (txn);
    assert (fn);
    MDB_cursor *cursor = s_cursor_open (txn, table);
    if (!cursor)
        return -1;
    MDB_val k = { prefix_size, (void *) prefix };
    MDB_val v;
    int visited = 0;
    int rc = mdb_cursor_get (cursor, &k, &v, prefix_size? MDB_SET_RANGE: MDB_FIRST);
    while (rc == 0) {
        if (prefix_size
            && (k.mv_size < prefix_size || memcmp (k.mv_data, prefix, prefix_size)))
            break;
        visited++;
        if (fn (arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size))
            break;
        rc = mdb_cursor_get (cursor, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    if (rc && rc != MDB_NOTFOUND) {
        zsys_error ("store: scan %s: %s", table, mdb_strerror (rc));
        return -1;
    }
    return visited;
}

//  --------------------------------------------------------------------------
//  Delete the entries under a key prefix.

int64_t
store_del_prefix (store_txn_t *txn, const char *table, const void *prefix,
                  size_t prefix_size)
{
    assert (txn);
    assert (txn->write);
    assert (prefix && prefix_size > 0);
    MDB_cursor *cursor = s_cursor_open (txn, table);
    if (!cursor)
        return -1;
    MDB_val k = { prefix_size, (void *) prefix };
    MDB_val v;
    int64_t deleted = 0;
    int rc;
    //  Seek again after each delete rather than trust where a delete
    //  leaves the cursor (at a page's end it is not on the next entry)
    while (true) {
        k.mv_size = prefix_size;
        k.mv_data = (void *) prefix;
        rc = mdb_cursor_get (cursor, &k, &v, MDB_SET_RANGE);
        if (rc || k.mv_size < prefix_size || memcmp (k.mv_data, prefix, prefix_size))
            break;
        if (s_fault (txn->store)) {
            rc = ENOSPC;
            break;
        }
        rc = mdb_cursor_del (cursor, 0);
        if (rc)
            break;
        deleted++;
        __atomic_fetch_add (&txn->store->stats.dels, 1, __ATOMIC_RELAXED);
    }
    mdb_cursor_close (cursor);
    if (rc && rc != MDB_NOTFOUND) {
        zsys_error ("store: delete in %s: %s", table, rc == ENOSPC? "no space left on device"
                                                                  : mdb_strerror (rc));
        return -1;
    }
    return deleted;
}

//  --------------------------------------------------------------------------
//  Entries in a table.

int64_t
store_count (store_txn_t *txn, const char *table)
{
    assert (txn);
    MDB_dbi dbi;
    if (s_txn_table (txn, table, &dbi))
        return -1;
    MDB_stat stat;
    int rc = mdb_stat (txn->txn, dbi, &stat);
    if (rc) {
        zsys_error ("store: stat %s: %s", table, mdb_strerror (rc));
        return -1;
    }
    return (int64_t) stat.ms_entries;
}

//  --------------------------------------------------------------------------
//  After a write to the disk failed halfway (e.g. a failed fsync of the
//  meta page), LMDB marks the environment fatal and refuses every later
//  transaction. Nothing committed is lost, but this process can make no
//  progress: the daemons check this after each event and exit, so the
//  service manager restarts them on a sound environment.

bool
store_broken (store_t *self)
{
    assert (self);
    return self->broken;
}

//  --------------------------------------------------------------------------
//  Test-only: fail the nth write from now.

void
store_fail_after (store_t *self, int nth)
{
    assert (self);
    self->fail_after = nth;
}

//  Skip the fsync at commit (weft-sim, which models crashes itself).

int
store_set_nosync (store_t *self, bool nosync)
{
    assert (self);
    int rc = mdb_env_set_flags (self->env, MDB_NOSYNC, nosync? 1: 0);
    if (rc)
        zsys_error ("store: set nosync: %s", mdb_strerror (rc));
    return rc? -1: 0;
}

//  --------------------------------------------------------------------------
//  Selftest

static int
s_collect (void *arg, const void *key, size_t key_size, const void *value,
           size_t value_size)
{
    (void) value;
    (void) value_size;
    char text [64];
    snprintf (text, sizeof text, "%.*s", (int) key_size, (const char *) key);
    zlist_append ((zlist_t *) arg, text);     //  autofree list copies it
    return 0;
}

void
store_test (bool verbose)
{
    (void) verbose;
    printf (" * store: ");
    //  @selftest
    char dir [] = "/tmp/weft-store-test.XXXXXX";
    assert (mkdtemp (dir));
    const char *tables [] = { "alpha", "beta", NULL };
    store_t *store = store_new (dir, tables, 0);
    assert (store);

    store_txn_t *txn = store_begin (store, true);
    assert (txn);
    assert (store_put (txn, "alpha", "a/1", 3, "one", 3) == 0);
    assert (store_put (txn, "alpha", "a/2", 3, "two", 3) == 0);
    assert (store_put (txn, "alpha", "b/1", 3, "three", 5) == 0);
    assert (store_put (txn, "gamma", "x", 1, "y", 1) == -1);
    assert (store_commit (&txn) == 0);
    assert (txn == NULL);

    //  Values outlive their transaction
    txn = store_begin (store, false);
    size_t size;
    char *value = (char *) store_get (txn, "alpha", "a/2", 3, &size);
    store_abort (&txn);
    assert (value && size == 3 && streq (value, "two"));
    free (value);

    txn = store_begin (store, false);
    assert (store_get (txn, "beta", "a/2", 3, &size) == NULL);
    zlist_t *keys = zlist_new ();
    zlist_autofree (keys);
    assert (store_scan (txn, "alpha", "a/", 2, s_collect, keys) == 2);
    assert (zlist_size (keys) == 2);
    assert (streq ((char *) zlist_first (keys), "a/1"));
    assert (store_count (txn, "alpha") == 3);
    store_abort (&txn);
    zlist_destroy (&keys);

    //  Insert only where nothing is; the present value comes back
    txn = store_begin (store, true);
    store_stats_t before, after;
    store_stats (store, &before);
    void *old = NULL;
    size_t old_size = 0;
    assert (store_insert (txn, "beta", "n", 1, "first", 5, &old, &old_size) == 0);
    assert (old == NULL);
    assert (store_insert (txn, "beta", "n", 1, "second", 6, &old, &old_size) == 1);
    assert (old && old_size == 5 && memcmp (old, "first", 5) == 0);
    free (old);
    assert (store_insert (txn, "beta", "n", 1, "third", 5, NULL, NULL) == 1);
    assert (store_has (txn, "beta", "n", 1));
    assert (!store_has (txn, "beta", "m", 1));
    uint8_t *buf = NULL;
    size_t buf_max = 0;
    assert (store_get_buf (txn, "beta", "n", 1, &buf, &buf_max, &size) == 0);
    assert (size == 5 && buf_max == 6 && streq ((char *) buf, "first"));
    assert (store_get_buf (txn, "beta", "m", 1, &buf, &buf_max, &size) == 1);
    //  A cursor finds keys in any order, and only those that are there
    store_cursor_t *cursor = store_cursor_new (txn, "beta");
    assert (cursor);
    assert (!store_cursor_has (cursor, "a", 1));
    assert (store_cursor_has (cursor, "n", 1));
    assert (!store_cursor_has (cursor, "nn", 2));
    assert (!store_cursor_has (cursor, "z", 1));            //  Past the end
    assert (store_cursor_get_buf (cursor, "n", 1, &buf, &buf_max, &size) == 0);
    assert (size == 5 && memcmp (buf, "first", 5) == 0);
    assert (store_cursor_get_buf (cursor, "m", 1, &buf, &buf_max, &size) == 1);
    store_cursor_destroy (&cursor);
    store_cursor_destroy (&cursor);
    assert (store_cursor_new (txn, "gamma") == NULL);
    free (buf);
    value = (char *) store_get (txn, "beta", "n", 1, &size);
    assert (value && streq (value, "first"));
    free (value);
    //  Deleting a prefix takes its entries only, across pages
    char key [16];
    for (int i = 0; i < 2000; i++) {
        snprintf (key, sizeof key, "p/%04d", i);
        assert (store_put (txn, "beta", key, strlen (key), "0123456789abcdef", 16) == 0);
    }
    assert (store_put (txn, "beta", "q", 1, "v", 1) == 0);
    assert (store_del_prefix (txn, "beta", "p/", 2) == 2000);
    assert (store_del_prefix (txn, "beta", "p/", 2) == 0);
    assert (store_count (txn, "beta") == 2);
    store_stats (store, &after);
    assert (after.puts - before.puts == 3 + 2001);
    assert (after.dels - before.dels == 2000);
    assert (after.gets - before.gets == 1 + 4 + 6);
    store_abort (&txn);

    //  An aborted write leaves nothing behind
    txn = store_begin (store, true);
    assert (store_put (txn, "beta", "k", 1, "v", 1) == 0);
    store_abort (&txn);
    store_abort (&txn);
    txn = store_begin (store, false);
    assert (store_count (txn, "beta") == 0);
    store_abort (&txn);

    //  A failed commit (full disk) keeps the old state
    store_fail_after (store, 2);
    txn = store_begin (store, true);
    assert (store_put (txn, "alpha", "a/1", 3, "uno", 3) == 0);
    assert (store_commit (&txn) == -1);
    txn = store_begin (store, true);
    assert (store_del (txn, "alpha", "zz", 2) == 1);
    assert (store_del (txn, "alpha", "a/1", 3) == 0);
    assert (store_commit (&txn) == 0);
    store_destroy (&store);

    //  Reopened, committed data is there
    store = store_new (dir, tables, 0);
    assert (store);
    txn = store_begin (store, false);
    assert (store_get (txn, "alpha", "a/1", 3, NULL) == NULL);
    value = (char *) store_get (txn, "alpha", "b/1", 3, &size);
    assert (value && streq (value, "three"));
    free (value);
    store_abort (&txn);
    store_destroy (&store);
    store_destroy (&store);
    zdir_t *tree = zdir_new (dir, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    //  @end
    printf ("OK\n");
}
