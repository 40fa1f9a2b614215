#!/usr/bin/env bash
#   41-registry-isolation - an operator of tenant acme cannot read, list,
#   count, query, patch or update a device of tenant globex, nor learn
#   that it exists (the same error as for a missing device); an operator
#   granted one plant sees only that plant; a tenant, role or caller
#   smuggled into a request is refused.
source "$(dirname "$0")/lib.sh"

start_coord
start_node a1 --token-file "$(new_token_file --tenant acme)"
start_node a2 --token-file "$(new_token_file --tenant acme)"
start_node x1 --token-file "$(new_token_file --tenant globex)"
wait_for '[[ "$(online_count)" == 3 ]]' 20 || fail "nodes did not come online"
cat > "$T/tree.json" <<'JSON'
{"version": 1, "nodes": [
  {"path": "acme", "level": "enterprise"},
  {"path": "acme/plant-1", "level": "site"},
  {"path": "acme/plant-2", "level": "site"},
  {"path": "globex", "level": "enterprise"}
]}
JSON
ctl hierarchy import "$T/tree.json" > /dev/null || fail "import"
ctl device set a1 path=acme/plant-1 > /dev/null || fail "place a1"
ctl device set a2 path=acme/plant-2 > /dev/null || fail "place a2"

ctl operator add olga --role admin --tenant acme --out "$T/olga.op" > /dev/null || fail "add olga"
ctl operator add pete --role operator --path acme/plant-2 --out "$T/pete.op" > /dev/null \
    || fail "add pete"
OLGA="env WEFT_IDENTITY=$T/olga.op $CTL --timeout 5"
PETE="env WEFT_IDENTITY=$T/pete.op $CTL --timeout 5"

#   same_as_missing WHO COMMAND...: the command on x1 fails exactly as
#   on a device that does not exist
same_as_missing () {
    local who=$1; shift
    local hidden missing rc_h rc_m
    hidden=$($who "${@//@/x1}" 2>&1); rc_h=$?
    missing=$($who "${@//@/nope-42}" 2>&1); rc_m=$?
    (( rc_h == 1 && rc_m == 1 )) || fail "$*: exit codes hidden $rc_h, missing $rc_m"
    [[ "${hidden//x1/X}" == "${missing//nope-42/X}" ]] \
        || fail "$*: '$hidden' differs from '$missing'"
}

say "tenant acme's admin: globex's device is indistinguishable from a missing one"
same_as_missing "$OLGA" device show @
same_as_missing "$OLGA" twin get @
same_as_missing "$OLGA" twin set @ '{"a": 1}'
same_as_missing "$OLGA" device set @ fw=9.9
[[ "$($OLGA --json device list | jget 'devices.*.id' | sort | tr '\n' ' ')" == "a1 a2 " ]] \
    || fail "acme's admin lists more than a1 a2"
[[ "$($OLGA device count --query 'tenant=globex or id=x1')" == 0 ]] || fail "count leaks x1"
[[ -z "$($OLGA --json device list --query 'id=x1' | jget 'devices.*.id')" ]] || fail "query leaks x1"
out=$($OLGA batch twin --query 'id=x1 or tenant=globex' '{"a": 1}') || fail "batch: $out"
echo "$out" | grep -q "^changed 0 devices" || fail "batch reached x1: $out"
[[ "$(ctl --json twin get x1 | jget desired_version)" == 0 ]] || fail "x1's twin changed"
$OLGA hierarchy export | grep -q globex && fail "acme's admin sees globex's hierarchy"
out=$($OLGA token create --tenant globex 2>&1) && fail "token for globex: $out"
echo "$out" | grep -q "outside your scope" || fail "token create globex: $out"

say "a tenant option where none applies is a usage error, never a filter"
out=$(WEFT_IDENTITY=$T/olga.op "$CTL" --timeout 5 device list --tenant globex 2>&1); rc=$?
(( rc == 2 )) || fail "--tenant on device list: expected usage error, got $rc ($out)"

say "plant 2's operator sees only plant 2"
[[ "$($PETE --json device list | jget 'devices.*.id')" == a2 ]] || fail "pete sees more than a2"
same_as_missing "$PETE" device show @
hidden=$($PETE device show a1 2>&1) && fail "pete reads a1"
echo "$hidden" | grep -q "unknown device a1" || fail "pete a1: $hidden"
$PETE twin set a2 '{"b": 2}' > /dev/null || fail "pete cannot patch a2"
out=$($PETE batch twin --query 'tenant=acme' '{"c": 3}') || fail "pete batch"
echo "$out" | grep -q "^changed 1 device matching" || fail "pete's batch: $out"
out=$($PETE device set a2 path=acme/plant-1 2>&1) && fail "pete moved a2 out of his plant"
echo "$out" | grep -q "unknown hierarchy node acme/plant-1" || fail "pete move: $out"
out=$($PETE token create 2>&1) && fail "an operator made a token"
wait_for "twin_synced a2 c 3" 20 || fail "a2 did not apply pete's batch"

say "a grant widens what pete reads, not what he changes; removing it narrows again"
out=$(ctl operator grant pete viewer acme/plant-1) || fail "grant: $out"
[[ "$out" == "pete: operator@acme/plant-2 viewer@acme/plant-1" ]] || fail "grant output: $out"
[[ "$($PETE --json device list | jget 'devices.*.id' | sort | tr '\n' ' ')" == "a1 a2 " ]] \
    || fail "pete does not see a1 after the grant"
out=$($PETE twin set a1 '{"d": 4}' 2>&1) && fail "a viewer grant let pete change a1"
echo "$out" | grep -q "your grants do not allow changing a1" || fail "pete twin set a1: $out"
out=$($OLGA operator grant pete admin '*' 2>&1) && fail "acme's admin granted admin on everything"
echo "$out" | grep -q "outside your scope" || fail "olga global grant: $out"
ctl operator grant pete viewer acme/plant-1 --remove > /dev/null || fail "remove grant"
$PETE device show a1 > /dev/null 2>&1 && fail "pete still reads a1 after the grant was removed"
out=$($PETE operator grant pete admin acme 2>&1) && fail "pete granted himself admin"
echo "$out" | grep -q "may not call operator.grant" || fail "self-grant: $out"
say "ok"
