/*  store - LMDB-backed tables for node and coordinator state
    One LMDB environment per process (a directory), with named tables.
    Values read are copied out before the transaction ends, so callers
    never hold LMDB memory. Write transactions are short and batched by
    the callers: commit is where durability (fsync) happens.
    Shared by weft-node, weft-coord and weft-sim.  */

#ifndef WEFT_STORE_H_INCLUDED
#define WEFT_STORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _store_t store_t;
typedef struct _store_txn_t store_txn_t;

//  Open or create the environment in directory path (created 0700 if
//  missing) with the given NULL-terminated list of table names. map_size
//  0 means the default (1 GiB). Returns NULL and logs on failure.
store_t *
    store_new (const char *path, const char **tables, size_t map_size);

void
    store_destroy (store_t **self_p);

//  Begin a transaction. Returns NULL and logs on failure.
store_txn_t *
    store_begin (store_t *self, bool write);

//  Commit; frees the transaction even on failure and nulls *txn_p.
//  Returns 0, or -1 (logged) if the data did not reach the disk.
int
    store_commit (store_txn_t **txn_p);

//  Abandon; frees the transaction and nulls *txn_p. Safe on NULL.
void
    store_abort (store_txn_t **txn_p);

//  Copy of the value under key, which the caller frees, or NULL if
//  absent (or on error, logged). *size_p gets its size.
void *
    store_get (store_txn_t *txn, const char *table, const void *key,
               size_t key_size, size_t *size_p);

//  The value under key copied into *buf_p, grown (realloc) to fit, so a
//  caller reading many values allocates rarely. Returns 0 (*size_p is
//  its size), 1 if absent, or -1 (logged).
int
    store_get_buf (store_txn_t *txn, const char *table, const void *key,
                   size_t key_size, uint8_t **buf_p, size_t *buf_max_p, size_t *size_p);

//  Is there a value under key? (No copy: a probe of an index.)
bool
    store_has (store_txn_t *txn, const char *table, const void *key, size_t key_size);

//  A read position in one table of a transaction, for lookups of many
//  keys in ascending order: a key on the page the previous lookup ended
//  on is found without a descent from the root. Lives within txn.
typedef struct _store_cursor_t store_cursor_t;

//  NULL (logged) if the table is unknown or LMDB refuses.
store_cursor_t *
    store_cursor_new (store_txn_t *txn, const char *table);

void
    store_cursor_destroy (store_cursor_t **self_p);

//  As store_has, through the cursor.
bool
    store_cursor_has (store_cursor_t *self, const void *key, size_t key_size);

//  As store_get_buf, through the cursor.
int
    store_cursor_get_buf (store_cursor_t *self, const void *key, size_t key_size,
                          uint8_t **buf_p, size_t *buf_max_p, size_t *size_p);

//  Put or replace. Returns 0 or -1 (logged; e.g. map full).
int
    store_put (store_txn_t *txn, const char *table, const void *key,
               size_t key_size, const void *value, size_t value_size);

//  Put value under key only if the key holds nothing yet (one B-tree
//  descent where a get then a put would take two). Returns 0 (stored),
//  1 if a value was there (left as it was; if old_p is not NULL, it gets
//  a copy the caller frees and *old_size_p its size), or -1 (logged).
int
    store_insert (store_txn_t *txn, const char *table, const void *key,
                  size_t key_size, const void *value, size_t value_size,
                  void **old_p, size_t *old_size_p);

//  Delete. Returns 0, 1 if absent, or -1 on error.
int
    store_del (store_txn_t *txn, const char *table, const void *key,
               size_t key_size);

//  Delete every entry whose key starts with prefix (prefix_size > 0),
//  with one cursor. Returns the number deleted, or -1 on error.
int64_t
    store_del_prefix (store_txn_t *txn, const char *table, const void *prefix,
                      size_t prefix_size);

//  Call fn for every entry whose key starts with prefix (all entries if
//  prefix_size is 0), in key order. Key and value are borrowed for the
//  duration of the call only. fn returns 0 to go on, non-zero to stop.
//  Returns the number of entries visited, or -1 on error.
typedef int (store_scan_fn) (void *arg, const void *key, size_t key_size,
                             const void *value, size_t value_size);
int
    store_scan (store_txn_t *txn, const char *table, const void *prefix,
                size_t prefix_size, store_scan_fn *fn, void *arg);

//  Number of entries in a table, or -1 on error.
int64_t
    store_count (store_txn_t *txn, const char *table);

//  True once LMDB has refused a transaction as fatal (MDB_PANIC): the
//  process must exit and be restarted to make progress again.
bool
    store_broken (store_t *self);

//  Test-only fault switch: the nth write operation from now (put, del,
//  commit) fails as if the disk were full; 0 turns it off.
void
    store_fail_after (store_t *self, int nth);

//  Commit without fsync (MDB_NOSYNC): a commit stays atomic and is what
//  later transactions see, but an OS crash may lose it. Only for
//  weft-sim, which models node crashes itself. Returns 0 or -1.
int
    store_set_nosync (store_t *self, bool nosync);

//  What a store has done since it was opened: transactions begun (read,
//  write), write transactions committed, records decoded by the layers
//  above (store_note_decode), and lookups, puts and deletes. Tests pin the cost of one event
//  with these, so it cannot grow unnoticed.
typedef struct {
    uint64_t reads;                 //  Read transactions begun
    uint64_t writes;                //  Write transactions begun
    uint64_t commits;               //  Write transactions committed
    uint64_t decodes;               //  Records decoded from stored bytes
    uint64_t gets;                  //  Lookups by key (store_get)
    uint64_t puts;                  //  Entries written (store_put, store_insert)
    uint64_t dels;                  //  Entries deleted
} store_stats_t;

void
    store_stats (store_t *self, store_stats_t *stats);

//  A layer above decoded one record read in txn (to count parses).
void
    store_note_decode (store_txn_t *txn);

void
    store_test (bool verbose);

#endif
