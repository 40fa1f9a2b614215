#!/usr/bin/env bash
#   44-registry-audit-head - the audit head is signed by the CA, so the
#   newest records cannot be removed from the LMDB file unnoticed, even
#   with the head rewritten to match; a rollback to an older signed
#   head is caught by an anchor exported with "weftctl audit head" and
#   kept elsewhere. The database is edited with mdb_dump/mdb_load, the
#   coordinator stopped.
source "$(dirname "$0")/lib.sh"
command -v mdb_dump > /dev/null && command -v mdb_load > /dev/null \
    || fail "mdb_dump/mdb_load missing (make deps installs lmdb-utils)"
#   A database restored by hand must be private (mode 0700/0600) or the
#   coordinator refuses it
umask 077

start_coord
printf '%s\n' '{"version": 1, "nodes": [{"path": "acme", "level": "enterprise"}]}' \
    > "$T/tree.json"
ctl hierarchy import "$T/tree.json" > /dev/null || fail "import"
for i in 1 2 3; do
    ctl token create --tenant acme > /dev/null 2>&1 || fail "token $i"
done
ctl audit head > "$T/early.json" || fail "audit head"
EARLY=$(jget seq < "$T/early.json")
for i in 4 5 6; do
    ctl token create --tenant acme > /dev/null 2>&1 || fail "token $i"
done
ctl twin set nope '{"a": 1}' > /dev/null 2>&1 && fail "twin set on a missing device"

out=$(ctl audit verify --anchor "$T/tree.json" 2>&1) && fail "a bad anchor was taken"
echo "$out" | grep -q "anchor must be {seq, hash, sig}" || fail "bad anchor: $out"

say "the head is signed; an operator exports it"
ctl audit head > "$T/anchor.json" || fail "audit head"
cat "$T/anchor.json"
LAST=$(jget seq < "$T/anchor.json")
(( EARLY == 4 && LAST == 9 )) || fail "heads at $EARLY and $LAST, expected 4 and 9"
out=$(ctl audit verify --anchor "$T/anchor.json") || fail "verify with the anchor: $out"
echo "$out"
echo "$out" | grep -q "^audit log intact: 9 records, head .*, signed by the CA, anchor found" \
    || fail "verify: $out"

DB="$COORD_DIR/db"
stop_proc coord TERM
mdb_dump -a "$DB" > "$T/all.dump" || fail "mdb_dump -a"

#   edit KEEP HEAD: a copy of the database with audit records after KEEP
#   removed and meta's audit_head set to HEAD ("" = unchanged; "rehash"
#   = record KEEP's seq and hash with the old signature), then swapped in
edit () {
    python3 - "$1" "$2" "$T/all.dump" > "$T/edited.dump" <<'PY' || fail "edit the dump"
import hashlib, sys
keep, head, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lines = open(path).read().split("\n")
out, db, i, hashes, old_head = [], None, 0, {}, None
while i < len(lines):
    line = lines[i]
    if line.startswith("database="):
        db = line[len("database="):]
    if db in ("audit", "meta") and line.startswith(" ") and i + 1 < len(lines):
        key, value = bytes.fromhex(line[1:]), bytes.fromhex(lines[i + 1][1:])
        if db == "audit":
            seq = int.from_bytes(key, "big")
            hashes[seq] = hashlib.blake2b(value, digest_size=32).hexdigest()
            if seq > keep:
                i += 2
                continue
        if db == "meta" and key == b"audit_head":
            old_head = value.decode()
            if head == "rehash":
                value = ("%d %s %s" % (keep, hashes[keep], old_head.split()[2])).encode()
            elif head:
                value = head.encode()
        out += [line, " " + value.hex()]
        i += 2
        continue
    out.append(line)
    i += 1
print("\n".join(out), end="")
PY
    rm -rf "$T/newdb" && mkdir "$T/newdb"
    mdb_load -f "$T/edited.dump" "$T/newdb" 2> /dev/null || fail "mdb_load"
    rm -rf "$DB" && mv "$T/newdb" "$DB"
}
#   verify_fails MESSAGE [verify options]
verify_fails () {
    local message=$1 out rc; shift
    start_coord
    out=$(ctl audit verify "$@" 2>&1); rc=$?
    (( rc == 1 )) || fail "verify after tampering: expected exit 1, got $rc ($out)"
    echo "detected: $out"
    echo "$out" | grep -qF "$message" || fail "expected '$message', got '$out'"
    stop_proc coord TERM
}

say "the newest two records removed"
edit 7 ""
verify_fails "the log ends at record 7 but the head says 9: records were removed"

say "the newest two records removed and the head rewritten to match"
edit 7 rehash
verify_fails "the head (record 7) is not signed by the CA: it was rewritten"

say "rolled back to an older signed head: intact on its own, caught by the anchor"
edit "$EARLY" "$(printf '%s %s %s' "$EARLY" "$(jget hash < "$T/early.json")" \
                                       "$(jget sig < "$T/early.json")")"
start_coord
out=$(ctl audit verify) || fail "the rolled-back log should verify on its own: $out"
echo "$out"
stop_proc coord TERM
verify_fails "the log ends at record 4, before the anchored record 9: records were removed" \
    --anchor "$T/anchor.json"

say "restored, the log verifies with its anchor again"
rm -rf "$T/newdb" && mkdir "$T/newdb"
mdb_load -f "$T/all.dump" "$T/newdb" 2> /dev/null || fail "restore"
rm -rf "$DB" && mv "$T/newdb" "$DB"
start_coord
ctl audit verify --anchor "$T/anchor.json" | grep -q "anchor found" \
    || fail "restored log does not verify with its anchor"
say "ok"
