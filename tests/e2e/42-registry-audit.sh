#!/usr/bin/env bash
#   42-registry-audit - operator actions and refusals are in the
#   hash-chained audit log; "weftctl audit verify" detects a record
#   modified, swapped or deleted directly in the LMDB file (with
#   mdb_dump/mdb_load from lmdb-utils, the coordinator stopped).
source "$(dirname "$0")/lib.sh"
command -v mdb_dump > /dev/null && command -v mdb_load > /dev/null \
    || fail "mdb_dump/mdb_load missing (make deps installs lmdb-utils)"
#   A database restored by hand must be private (mode 0700/0600) or the
#   coordinator refuses it
umask 077

start_coord
start_node g1 --token-file "$(new_token_file --tenant acme)"
wait_for '[[ "$(online_count)" == 1 ]]' 20 || fail "g1 did not come online"
printf '%s\n' '{"version": 1, "nodes": [{"path": "acme", "level": "enterprise"},' \
    '{"path": "acme/plant-2", "level": "site"}]}' > "$T/tree.json"
ctl hierarchy import "$T/tree.json" > /dev/null || fail "import"
ctl device set g1 path=acme/plant-2 fw=1.0 > /dev/null || fail "device set"
ctl twin set g1 '{"rate": 1}' > /dev/null || fail "twin set"
ctl operator add aude --role auditor --out "$T/aude.op" > /dev/null || fail "add"
ctl twin set nope '{"rate": 1}' > /dev/null 2>&1 && fail "twin set on a missing device"
AUD="env WEFT_IDENTITY=$T/aude.op $CTL --timeout 5"

say "changes and refusals are recorded; the chain verifies"
out=$($AUD audit verify) || fail "verify on an intact log: $out"
echo "$out"
echo "$out" | grep -q "^audit log intact: 7 records" || fail "verify: $out"
$AUD audit list --query 'action=enrol' | grep -q " g1 .*enrol .*acme .*g1 .*OK" \
    || fail "the enrolment of g1 is not in the audit list"
$AUD audit list --query 'action=twin.set and target=g1' | grep -q " admin .*twin.set .*g1 .*OK" \
    || fail "twin.set of g1 not in the audit list"
$AUD audit list --query 'status=NOT_FOUND' | grep -q "nope" || fail "refusal not recorded"
out=$(ctl audit verify) || fail "admin verify: $out"
olga_out=$(ctl operator add olga --role operator --tenant acme --out "$T/olga.op" 2>&1) \
    || fail "add olga: $olga_out"
out=$(WEFT_IDENTITY="$T/olga.op" "$CTL" --timeout 5 audit list 2>&1) && fail "an operator read the audit log"
echo "$out" | grep -q "may not call audit.list" || fail "operator audit list: $out"

DB="$COORD_DIR/db"
#   key of record N as mdb_dump prints it
key_of () { printf ' %016x' "$1"; }

#   tamper NAME: stop the coordinator, apply the change, restart,
#   expect verify to fail with MESSAGE, then restore the original
verify_fails () {
    local message=$1 out rc
    start_coord
    out=$($AUD audit verify 2>&1); rc=$?
    (( rc == 1 )) || fail "verify after tampering: expected exit 1, got $rc ($out)"
    echo "detected: $out"
    echo "$out" | grep -qF "$message" || fail "expected '$message', got '$out'"
    stop_proc coord TERM
}
restore () {
    mdb_load -s audit -f "$T/audit.dump" "$DB" 2> /dev/null || fail "restore"
}

stop_proc coord TERM
mdb_dump -s audit "$DB" > "$T/audit.dump" || fail "mdb_dump"
grep -q "^$(key_of 3)\$" "$T/audit.dump" || fail "record 3 not in the dump"

say "a modified record"
awk -v key="$(key_of 3)" '
    found == 1 { sub ("224f4b22", "224e4f22"); found = 2 }      #  "OK" -> "NO"
    $0 == key { found = 1 }
    { print }' "$T/audit.dump" > "$T/modified.dump"
cmp -s "$T/audit.dump" "$T/modified.dump" && fail "the modification did not apply"
mdb_load -s audit -f "$T/modified.dump" "$DB" 2> /dev/null || fail "mdb_load modified"
verify_fails "record 4: hash chain broken: record 3 was changed or removed"
restore

say "two records swapped"
awk -v a="$(key_of 2)" -v b="$(key_of 3)" '
    { line [NR] = $0 }
    END {
        for (i = 1; i <= NR; i++) {
            if (line [i] == a) va = i + 1
            if (line [i] == b) vb = i + 1
        }
        tmp = line [va]; line [va] = line [vb]; line [vb] = tmp
        for (i = 1; i <= NR; i++) print line [i]
    }' "$T/audit.dump" > "$T/swapped.dump"
mdb_load -s audit -f "$T/swapped.dump" "$DB" 2> /dev/null || fail "mdb_load swapped"
verify_fails "record 2 holds record 3: records were moved"
restore

say "a deleted record"
mdb_dump -a "$DB" > "$T/all.dump" || fail "mdb_dump -a"
awk -v key="$(key_of 2)" '
    /^database=/ { audit = ($0 == "database=audit") }
    audit && $0 == key { skip = 2 }
    skip > 0 { skip--; next }
    { print }' "$T/all.dump" > "$T/deleted.dump"
mkdir "$T/newdb"
mdb_load -f "$T/deleted.dump" "$T/newdb" 2> /dev/null || fail "mdb_load deleted"
mv "$DB" "$T/olddb" && mv "$T/newdb" "$DB"
verify_fails "record 2 is missing (next is 3)"
rm -rf "$DB" && mv "$T/olddb" "$DB"

say "restored, the log verifies again"
start_coord
$AUD audit verify | grep -q "^audit log intact" || fail "restored log does not verify"
say "ok"
