#!/usr/bin/env bash
#   45-registry-audit-tenants - refusals are recorded with their source
#   address (a refused enrolment, a replayed RPC, a revoked operator's
#   attempt), and each record reaches the auditors of the tenant it
#   concerns, and only them: tenant acme's auditor sees a refused
#   enrolment whose token was acme's and a deployment admin's changes to
#   acme's devices, never globex's or acmex's records or the deployment's
#   log size; its own chain has its own numbering and CA-signed head,
#   and a record removed from it is caught against that head (anchor).
source "$(dirname "$0")/lib.sh"
command -v mdb_dump > /dev/null && command -v mdb_load > /dev/null \
    || fail "mdb_dump/mdb_load missing (make deps installs lmdb-utils)"
umask 077

start_coord
cat > "$T/tree.json" <<'JSON'
{"version": 1, "nodes": [
  {"path": "acme", "level": "enterprise"},
  {"path": "acmex", "level": "enterprise"},
  {"path": "globex", "level": "enterprise"}
]}
JSON
ctl hierarchy import "$T/tree.json" > /dev/null || fail "import"
for n in a1 a2; do start_node $n --token-file "$(new_token_file --tenant acme)"; done
start_node x1 --token-file "$(new_token_file --tenant globex)"
wait_for '[[ "$(online_count)" == 3 ]]' 20 || fail "nodes did not come online"
for who in acme acmex globex; do
    ctl operator add "aud-$who" --role auditor --tenant "$who" --out "$T/aud-$who.op" \
        > /dev/null || fail "add aud-$who"
done
ctl operator add aude --role auditor --out "$T/aude.op" > /dev/null || fail "add aude"
ctl operator add olga --role admin --tenant acme --out "$T/olga.op" > /dev/null || fail "add olga"
ctl operator add pete --role viewer --tenant acme --out "$T/pete.op" > /dev/null || fail "add pete"
as () { local who=$1; shift; WEFT_IDENTITY="$T/$who.op" "$CTL" --timeout 5 "$@"; }

say "a refused enrolment with an acme token: acme's auditors see it, with the address"
used=$(new_token_file --tenant acme) || fail "token"
start_node a3 --token-file "$used"
wait_for 'is_online a3' 20 || fail "a3 did not enrol"
run_node r1 --token-file "$used" > /dev/null && fail "a used token enrolled r1"
list=$(as aud-acme audit list --query 'action=enrol and status=DENIED') || fail "acme list"
echo "$list"
echo "$list" | grep -q " r1 .*enrol .*acme .*r1 .*DENIED .*127.0.0.1" \
    || fail "acme's auditor does not see the refused enrolment of r1 from 127.0.0.1"
json=$(as aud-acme --json audit list --query 'target=r1')
echo "$json" | grep -q '"token_id"' || fail "no token id in the record: $json"
grep -qF "$(cut -d. -f3 "$used")" <<< "$json" && fail "the token's secret is in the audit log"
for who in aud-globex aud-acmex; do
    as $who audit list --query 'target=r1' | grep -q r1 && fail "$who sees acme's refusal"
done
say "an unknown token concerns no tenant: the deployment's auditor alone sees it"
unknown="wt1.0123456789abcdef.0123456789abcdef0123456789abcdef.$(keyfile_value "$WEFT_IDENTITY" coord_curve)"
run_node r2 --token-file "$(token_file "$unknown")" > /dev/null && fail "r2 enrolled"
as aude audit list --query 'target=r2' | grep -q " r2 .*DENIED .*127.0.0.1" \
    || fail "the deployment auditor does not see r2's refusal"
as aud-acme audit list --query 'target=r2' | grep -q r2 && fail "acme sees a tenant-less refusal"

say "a replayed RPC is refused and recorded in the caller's tenant"
WEFT_CTL_SAVE_REQUEST="$T/req.bin" as olga device show a1 > /dev/null || fail "olga device show"
out=$(WEFT_CTL_SEND_REQUEST="$T/req.bin" as olga device show a1 2>&1) && fail "a replay passed"
echo "$out" | grep -q "replayed request" || fail "replay: $out"
as aud-acme audit list --query 'actor=olga and status=DENIED' \
    | grep -q " olga .*device.show .*DENIED .*127.0.0.1" || fail "the replay is not in acme's log"

say "a revoked operator's attempt is recorded"
ctl operator revoke pete > /dev/null || fail "revoke pete"
as pete device list > /dev/null 2>&1 && fail "a revoked operator was served"
wait_for 'as aud-acme audit list --query "actor=pete and action=connect" | grep -q DENIED' 10 \
    || fail "pete's attempt after revocation is not in acme's log"

say "a deployment admin's changes to acme's devices are acme's too, per tenant"
ctl twin set a1 '{"rate": 2}' > /dev/null || fail "twin set a1"
as aud-acme audit list --query 'actor=admin and action=twin.set' | grep -q " admin .*a1 .*OK" \
    || fail "acme's auditor does not see the admin's twin set"
as aud-globex audit list --query 'target=a1' | grep -q a1 && fail "globex sees acme's twin set"
ctl batch tag --query 'type=gateway' tag.zone=9 > /dev/null || fail "batch across tenants"
[[ "$(as aud-acme --json audit list --query 'action=batch.tag' | jget records.0.detail.matched)" \
   == 3 ]] || fail "acme's batch record: $(as aud-acme --json audit list --query 'action=batch.tag')"
[[ "$(as aud-globex --json audit list --query 'action=batch.tag' | jget records.0.detail.matched)" \
   == 1 ]] || fail "globex's batch record"
[[ "$(as aude --json audit list --query 'action=batch.tag' | jget records.0.detail.matched)" \
   == 4 ]] || fail "the deployment's batch record"

say "each tenant's chain: its own numbering and signed head, not the deployment's size"
deployment=$(as aude --json audit head | jget seq)
acme_list=$(as aud-acme --json audit list --limit 1000)
acme_count=$(echo "$acme_list" | jget 'records.*.seq' | wc -l)
as aud-acme audit head > "$T/acme-head.json" || fail "acme head"
cat "$T/acme-head.json"
[[ "$(jget tenant < "$T/acme-head.json")" == acme ]] || fail "the head names no tenant"
[[ "$(jget seq < "$T/acme-head.json")" == "$acme_count" ]] || fail "acme head vs its records"
(( acme_count < deployment )) || fail "acme's chain ($acme_count) is not its own ($deployment)"
out=$(as aud-acme audit verify --anchor "$T/acme-head.json") || fail "acme verify: $out"
echo "$out" | grep -q "^audit log of tenant acme intact: $acme_count records, .*anchor found" \
    || fail "acme verify: $out"
all=$(as aud-acme --json audit list --limit 1000; as aud-acme --json audit head
      as aud-acme --json audit verify)
for word in globex acmex x1 r2 "\"seq\": $deployment,"; do
    grep -qF -- "$word" <<< "$all" && fail "acme's auditor learns '$word'"
done

say "another tenant's chain, or none, answers alike; the deployment's needs a grant on all"
out1=$(as aud-acme audit list --tenant globex 2>&1); rc1=$?
out2=$(as aud-acme audit list --tenant nosuch 2>&1); rc2=$?
(( rc1 == 1 && rc2 == 1 )) || fail "foreign chains: exit $rc1 and $rc2"
[[ "${out1//globex/X}" == "${out2//nosuch/X}" ]] || fail "globex vs missing: '$out1' / '$out2'"
as aud-acme audit head --tenant acmex > /dev/null 2>&1 && fail "acme read acmex's head"
as aud-acme audit verify --tenant globex > /dev/null 2>&1 && fail "acme verified globex"
as aude audit verify --tenant acme | grep -q "of tenant acme intact" \
    || fail "the deployment auditor cannot verify acme's chain"

say "the newest record of acme's chain removed: its signed head, and the anchor, tell"
as aud-acme audit head > "$T/acme-head.json" || fail "acme head"
acme_count=$(jget seq < "$T/acme-head.json")
stop_proc coord
DB="$COORD_DIR/db"
mdb_dump -a "$DB" > "$T/all.dump" || fail "mdb_dump"
python3 - "$acme_count" "$T/all.dump" > "$T/cut.dump" <<'PY' || fail "cut the dump"
import sys
seq, lines = int(sys.argv[1]), open(sys.argv[2]).read().split("\n")
key = " " + (b"acme/" + seq.to_bytes(8, "big")).hex()
out, db, i, cut = [], None, 0, False
while i < len(lines):
    if lines[i].startswith("database="):
        db = lines[i][len("database="):]
    if db == "audit_tenant" and lines[i] == key:
        i, cut = i + 2, True
        continue
    out.append(lines[i])
    i += 1
assert cut, "no record %d in acme's chain" % seq
print("\n".join(out), end="")
PY
rm -rf "$T/newdb" && mkdir "$T/newdb"
mdb_load -f "$T/cut.dump" "$T/newdb" 2> /dev/null || fail "mdb_load"
rm -rf "$DB" && mv "$T/newdb" "$DB"
start_coord
out=$(as aud-acme audit verify --anchor "$T/acme-head.json" 2>&1) && fail "a cut chain verified"
echo "detected: $out"
echo "$out" | grep -q "the log ends at record $((acme_count - 1)), before the anchored record" \
    || fail "truncation: $out"
as aude audit verify | grep -q "^audit log intact" || fail "the deployment chain was touched"

say "a flood of refusals from one address: 20 a minute are recorded, the rest counted"
olga_refused () {
    as aude --json audit list --query 'actor=olga and status!=OK' --limit 1000 \
        | jget 'records.*.seq' | wc -l
}
before=$(olga_refused)
for i in $(seq 25); do
    WEFT_CTL_SEND_REQUEST="$T/req.bin" as olga device show a1 > /dev/null 2>&1 \
        && fail "a replay passed"
done
held=$(counter audit_refusals_held)
recorded=$(( $(olga_refused) - before ))
echo "recorded $recorded, held $held"
(( recorded == 20 && held == 5 )) || fail "the flood: $recorded recorded, $held held"
say "ok"
