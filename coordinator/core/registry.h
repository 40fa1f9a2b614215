/*  registry - the coordinator's records: devices, twins, operators,
    replay windows and counters kept in the store
    Devices, twins and operators are stored under their name as msgpack
    maps with key material as bin (proto/recpack.h); callers see them
    as JSON objects, or, where a hot path reads a device's fields only,
    as a registry_device_t decoded without building JSON. A database
    written with JSON text records is converted on open, in one
    transaction. Binary indexes map a CURVE public key to the device id
    or operator name that owns it, for the ZAP handler. Every function
    that takes a store_txn_t works inside the caller's transaction, so
    a message's effect and its replay window commit together.
    The registry_t object keeps last_seen per device in memory and
    writes it in batches with registry_flush, so liveness costs no disk
    write per heartbeat; it also caches replay windows, which callers
    write with each message's effect or in a group commit
    (registry_flush_windows). Never call registry_flush while
    holding a write transaction: LMDB allows one writer.  */

#ifndef WEFT_REGISTRY_H_INCLUDED
#define WEFT_REGISTRY_H_INCLUDED

#include <jansson.h>
#include "proto/proto.h"
#include "proto/replay.h"
#include "proto/store.h"

#define REGISTRY_DOC_MAX        (32 * 1024) //  Largest twin document, encoded
#define REGISTRY_RECORD_MAX     (256 * 1024)    //  Largest stored record
#define REGISTRY_ONLINE_MS      15000       //  Default: seen within 3 heartbeats of 5 s

typedef struct _registry_t registry_t;

//  NULL-terminated table names to pass to store_new.
const char **
    registry_tables (void);

//  Create the in-memory part over an open store (not owned). Converts
//  a database written by an older release first (one transaction);
//  NULL if that fails (logged; the database is left as it was).
registry_t *
    registry_new (store_t *store);

//  Write pending batches (registry_flush) and free.
void
    registry_destroy (registry_t **self_p);

//  Is name a valid device, operator or tenant name ([A-Za-z0-9._-]{1,64})?
bool
    registry_name_valid (const char *name);

//  Record a JSON document as compact text (sorted keys). Caller frees.
char *
    registry_dump (const json_t *json);

//  The bytes a device, twin or operator record is stored as (msgpack,
//  proto/recpack.h). Returns 0 and a buffer the caller frees, or -1.
int
    registry_pack (const json_t *record, uint8_t **data_p, size_t *size_p);

//  A JSON object stored in table under key (at most REGISTRY_RECORD_MAX
//  bytes), or NULL if absent or corrupt (logged). Caller json_decref's it.
json_t *
    registry_record_get (store_txn_t *txn, const char *table, const char *key);

//  Store a JSON document in table under key (registry_dump). 0 or -1.
int
    registry_record_put (store_txn_t *txn, const char *table, const char *key, json_t *json);

//  --- Devices. Records: {id, tenant, type, role, enrolled, cert_serial,
//  sign_key, curve_key, cert, token, revoked} and the metadata {path,
//  asset, hw, fw, sw, location, tags: {key: value}}; keys and cert in hex.

//  Device record, or NULL if absent. Caller json_decref's it.
json_t *
    registry_device_get (store_txn_t *txn, const char *id);

//  A device record decoded once, without JSON: the fields that queries,
//  scopes and the check-in path read. Text fields are NUL-terminated
//  copies (NULL if absent or not text) that live until the next read
//  into the same struct or registry_device_fini; tags and the whole
//  record stay in msgpack, borrowed likewise.
typedef struct {
    const char *id, *tenant, *type, *role, *path, *asset;
    const char *fw, *hw, *sw, *location;
    const char *link;               //  "metered" (the device reports its uplink is)
    const char *assurance;          //  "software", "tpm", or a number as text
    bool revoked;
    bool has_sign_key;              //  sign_key holds 32 bytes
    bool has_curve_key;             //  curve_key holds 32 bytes
    uint8_t sign_key [32];
    uint8_t curve_key [32];
    const uint8_t *tags;            //  The tags map, or NULL
    size_t tags_size;
    const uint8_t *data;            //  The whole record
    size_t size;
    //  Private: storage reused from one read to the next
    uint8_t *copy;                  //  The record when read by id
    size_t copy_max;
    char *arena;                    //  Text fields
    size_t arena_max, arena_used;
    char *tag_value;                //  Last registry_device_tag value
    size_t tag_max;
} registry_device_t;

//  An empty struct to read into (or memset it to 0).
void
    registry_device_init (registry_device_t *self);

//  Free what reads into self allocated.
void
    registry_device_fini (registry_device_t *self);

//  Read and decode device id. Returns 0, 1 if absent, or -1 if the
//  record is corrupt (logged).
int
    registry_device_read (store_txn_t *txn, const char *id, registry_device_t *device);

//  A cursor on the devices table, for registry_device_read_at.
store_cursor_t *
    registry_device_cursor (store_txn_t *txn);

//  As registry_device_read, through cursor: reading ids in ascending
//  order costs less than one lookup each.
int
    registry_device_read_at (store_txn_t *txn, store_cursor_t *cursor, const char *id,
                             registry_device_t *device);

//  Decode stored record bytes into device; data is borrowed (stay valid
//  while device is used). Returns 0 or -1 if corrupt or without an id.
int
    registry_device_decode (registry_device_t *device, const void *data, size_t size);

//  Value of tag key (NUL-terminated, valid until the next call on
//  device), or NULL.
const char *
    registry_device_tag (registry_device_t *device, const char *key);

//  A text field of a decoded device by its name in the record (id,
//  tenant, type, role, path, asset, fw, hw, sw, location, assurance):
//  true and *value_p (NULL if unset), or false if it is no such field.
bool
    registry_device_field (registry_device_t *device, const char *name, const char **value_p);

//  Where the device sits for authorization (registry_device_scope).
const char *
    registry_device_place (registry_device_t *device);

//  The whole record as JSON. Caller json_decref's it.
json_t *
    registry_device_json (registry_device_t *device);

//  Call fn for each device in id order, decoded once into one reused
//  struct (borrowed for the call). fn returns 0 to go on. Corrupt
//  records are logged and skipped. Returns entries visited or -1.
typedef int (registry_device_fn) (void *arg, registry_device_t *device);
int
    registry_device_scan (store_txn_t *txn, registry_device_fn *fn, void *arg);

//  Put a device record, index its curve key and its attributes
//  (replacing the entries of the record it replaces). Returns 0 or -1.
int
    registry_device_put (store_txn_t *txn, json_t *device);

//  --- Secondary indexes, kept by registry_device_put: one entry per
//  indexed attribute (tenant type role path site fw hw sw link asset tag.KEY),
//  key "attr NUL value NUL id". A device's place (path, else tenant) has
//  no entry of its own: the path and tenant entries find it.

#define REGISTRY_INDEX_KEY_MAX  512         //  LMDB's default key limit - 1
#define REGISTRY_INDEX_ENTRIES_MAX  64      //  Index entries of one device

//  Where a device sits for authorization: its path, else its tenant,
//  else "" (only global grants see it). Borrowed from the record.
const char *
    registry_device_scope (json_t *device);

//  The site: second segment of the device's path. False if none.
bool
    registry_device_site (json_t *device, char *site, size_t size);

//  Is there an index for this attribute?
bool
    registry_indexed (const char *attr);

//  Build an index key; id NULL leaves off the NUL before the id, for a
//  prefix scan. Returns its size, or 0 if it does not fit.
size_t
    registry_index_key (char *key, size_t size, const char *attr,
                        const char *value, const char *id);

//  Call fn with the id of every device whose attr equals value, or
//  with prefix, starts with value, in index order. fn returns 0 to go
//  on. Returns entries visited or -1.
typedef int (registry_index_fn) (void *arg, const char *id);
int
    registry_index_scan (store_txn_t *txn, const char *attr, const char *value,
                         bool prefix, registry_index_fn *fn, void *arg);

//  Call fn with the id of every device whose place (registry_device_place)
//  is scope or below it ("a/b" covers "a/b/c", not "a/bc"; scope not
//  empty): the path index under scope, and the tenant index for devices
//  without a path. fn may also get devices of tenant scope that sit
//  elsewhere, and an id twice: callers check the place of what they
//  read. fn returns 0 to go on. Returns entries visited or -1.
int
    registry_scope_scan (store_txn_t *txn, const char *scope, registry_index_fn *fn,
                         void *arg);

//  Has device id an index entry attr = value? (One lookup, no record
//  read: how a query intersects a broad term with a small set.)
bool
    registry_index_has (store_txn_t *txn, const char *attr, const char *value,
                        const char *id);

//  A cursor on the index, for registry_index_has_at.
store_cursor_t *
    registry_index_cursor (store_txn_t *txn);

//  As registry_index_has, through cursor: probing ids in ascending order
//  costs less than one lookup each.
bool
    registry_index_has_at (store_cursor_t *cursor, const char *attr, const char *value,
                           const char *id);

//  Copy the well-known metadata a device reports in its reported twin,
//  {"weft": {"fw": ..., "hw": ..., "sw": ..., "link": ...}}, into its record (and
//  indexes). Values that are not text of 1-128 bytes without control
//  characters are ignored. Writes only if something changed, and only
//  the index entries that changed. held, if not NULL, is the device as
//  the caller read it in txn (it is not read again). Returns 0 or -1
//  (store failure).
#define REGISTRY_REPORTED_META  "weft"
int
    registry_device_report_meta (store_txn_t *txn, const char *id, registry_device_t *held,
                                 json_t *reported);

//  Id of the device holding this CURVE key, or NULL. Caller frees.
char *
    registry_device_by_curve (store_txn_t *txn, const uint8_t curve_key [32]);

//  Call fn for each device record in id order. fn returns 0 to go on.
typedef int (registry_each_fn) (void *arg, json_t *record);
int
    registry_device_each (store_txn_t *txn, registry_each_fn *fn, void *arg);

//  Number of devices.
int64_t
    registry_device_count (store_txn_t *txn);

//  --- Twins. Records: {desired, desired_version, reported,
//  reported_version, applied_version, status}.

//  Twin record; an empty twin at version 0 if none is stored yet.
//  Caller json_decref's it. NULL only on a corrupt record.
json_t *
    registry_twin_get (store_txn_t *txn, const char *id);

int
    registry_twin_put (store_txn_t *txn, const char *id, json_t *twin);

//  Apply a JSON merge patch (RFC 7396) to the desired document of id's
//  twin and store it with the next desired version: the new document
//  (caller decrefs) and *version_p, or NULL with *status_p
//  (BAD_REQUEST: it would exceed REGISTRY_DOC_MAX; INTERNAL) and error.
json_t *
    registry_twin_patch (store_txn_t *txn, const char *id, json_t *patch,
                         json_int_t *version_p, int *status_p,
                         char error [WEFT_TEXT_MAX + 1]);

//  --- Operators. Records: {name, role, tenant, sign_key, curve_key,
//  cert_serial, created}.

json_t *
    registry_operator_get (store_txn_t *txn, const char *name);

//  Put an operator and index its curve key (replacing the index entry
//  of the key it had before, if any). Returns 0 or -1.
int
    registry_operator_put (store_txn_t *txn, json_t *op);

char *
    registry_operator_by_curve (store_txn_t *txn, const uint8_t curve_key [32]);

//  Call fn for every operator record, in name order (as
//  registry_device_each).
int
    registry_operator_each (store_txn_t *txn, registry_each_fn *fn, void *arg);

//  --- Counters in the meta table (cert serial, seq reservation).

//  Value of a counter; 0 if never set.
uint64_t
    registry_meta_get (store_txn_t *txn, const char *name);

int
    registry_meta_put (store_txn_t *txn, const char *name, uint64_t value);

//  --- Replay windows, per origin key ("d/<device>", "o/<operator>").

//  Current window of an origin: the in-memory one if cached, else the
//  stored one (txn may be a read or write transaction).
void
    registry_replay_window (registry_t *self, store_txn_t *txn,
                            const char *origin, replay_t *window);

//  Save a window in txn (the transaction that holds the message's
//  effect). After that transaction commits, call registry_replay_set
//  with the same window so the cache follows.
int
    registry_replay_put (store_txn_t *txn, const char *origin,
                         const replay_t *window);

//  Update the cached window. With dirty, registry_flush writes it later
//  (messages whose only effect is in memory: heartbeats, ACKs).
void
    registry_replay_set (registry_t *self, const char *origin,
                         const replay_t *window, bool dirty);

//  --- Liveness, in memory, flushed in batches.

//  A message from device id arrived at now_ms.
void
    registry_seen (registry_t *self, const char *id, uint64_t now_ms);

//  Last time device id was seen (unix ms), from memory or else the
//  store; 0 if never.
uint64_t
    registry_last_seen (registry_t *self, store_txn_t *txn, const char *id);

//  Seen within the online window (REGISTRY_ONLINE_MS unless set) of
//  now_ms (memory only: after a restart a device is offline until it
//  speaks).
bool
    registry_online (registry_t *self, const char *id, uint64_t now_ms);

//  Set the online window (0: REGISTRY_ONLINE_MS).
void
    registry_set_online_ms (registry_t *self, uint64_t online_ms);

//  Number of devices online at now_ms.
size_t
    registry_online_count (registry_t *self, uint64_t now_ms);

//  Are there unwritten last_seen values or replay windows?
bool
    registry_dirty (registry_t *self);

//  Write dirty last_seen values and replay windows in one transaction.
//  Returns 0 or -1 (they stay dirty and are retried next time).
int
    registry_flush (registry_t *self);

//  Write only the dirty replay windows (group commit of heartbeats and
//  ACKs). Returns 0 (also when there was nothing to write) or -1.
int
    registry_flush_windows (registry_t *self);

//  Forget the unwritten last_seen values and replay windows, as a crash
//  of the process would (a simulator's coordinator crash).
void
    registry_discard (registry_t *self);

void
    registry_test (bool verbose);

#endif
