#!/usr/bin/env bash
#   40-registry-hierarchy - a tenant's places and assets: import is
#   idempotent, reports what changed and refuses a malformed file
#   without changing anything; devices are placed and described, found
#   by query, and changed in batches after a dry run; metadata a node
#   reports in its twin reaches the indexes.
source "$(dirname "$0")/lib.sh"

start_coord
start_node g1 --token-file "$(new_token_file --tenant acme)"
start_node g2 --token-file "$(new_token_file --tenant acme)"
start_node x1 --token-file "$(new_token_file --tenant globex)"
wait_for '[[ "$(online_count)" == 3 ]]' 20 || fail "nodes did not come online"

cat > "$T/acme.json" <<'JSON'
{"version": 1, "nodes": [
  {"path": "acme", "level": "enterprise", "name": "ACME Corp"},
  {"path": "acme/plant-1", "level": "site", "name": "Plant 1"},
  {"path": "acme/plant-2", "level": "site", "name": "Plant 2"},
  {"path": "acme/plant-2/line-7", "level": "line", "name": "Line 7"},
  {"path": "acme/plant-2/line-7/pump-a", "level": "asset", "name": "Pump A"},
  {"path": "globex", "level": "enterprise"}
]}
JSON

say "import creates every node, a second import changes nothing"
out=$(ctl hierarchy import "$T/acme.json") || fail "import: $out"
echo "$out"
echo "$out" | grep -q "^created 6, updated 0, removed 0, unchanged 0$" || fail "first import: $out"
echo "$out" | grep -q "^+ acme/plant-2/line-7/pump-a$" || fail "created paths not listed"
out=$(ctl hierarchy import "$T/acme.json") || fail "second import: $out"
echo "$out" | grep -q "^created 0, updated 0, removed 0, unchanged 6$" || fail "not idempotent: $out"

say "a changed name is reported as updated"
sed 's/"Plant 1"/"Plant One"/' "$T/acme.json" > "$T/renamed.json"
out=$(ctl hierarchy import "$T/renamed.json") || fail "rename import: $out"
echo "$out" | grep -q "^~ acme/plant-1$" || fail "rename not reported: $out"

say "a malformed file is refused as a whole"
before=$(ctl hierarchy export)
cat > "$T/bad.json" <<'JSON'
{"version": 1, "nodes": [
  {"path": "acme/plant-3", "level": "site"},
  {"path": "acme/plant-4/line-1", "level": "line"}
]}
JSON
out=$(ctl hierarchy import "$T/bad.json" 2>&1); rc=$?
(( rc == 1 )) || fail "bad parent: expected exit 1, got $rc ($out)"
echo "$out" | grep -q "parent acme/plant-4 is neither in the file nor in the hierarchy" \
    || fail "bad parent message: $out"
printf '{"version": 1, "nodes": [' > "$T/broken.json"
out=$(ctl hierarchy import "$T/broken.json" 2>&1); rc=$?
(( rc == 2 )) || fail "broken JSON: expected exit 2, got $rc ($out)"
[[ "$(ctl hierarchy export)" == "$before" ]] || fail "a refused import changed the hierarchy"
ctl hierarchy export | grep -q '"acme/plant-3"' && fail "acme/plant-3 was created"

say "devices are placed and described; a query finds them"
ctl device set g1 path=acme/plant-2/line-7 asset=acme/plant-2/line-7/pump-a \
    fw=2.2.0 hw=rev-b "location=Hall 3" tag.line=7 tag.maintenance= > /dev/null \
    || fail "device set g1"
ctl device set g2 path=acme/plant-1 fw=2.4.0 tag.line=1 > /dev/null || fail "device set g2"
out=$(ctl device set x1 path=acme/plant-1 2>&1) && fail "x1 (globex) placed in acme: $out"
echo "$out" | grep -q "outside the tenant of x1" || fail "cross-tenant placement: $out"
ctl device show g1 | grep -q "^path: *acme/plant-2/line-7$" || fail "device show has no path"
ctl device show g1 | grep -q "^tags: *.*line=7" || fail "device show has no tags"
ids=$(ctl --json device list --query 'site=plant-2 and fw<2.3.0 and tag.line=7' | jget 'devices.*.id')
[[ "$ids" == g1 ]] || fail "query found '$ids', expected g1"
[[ "$(ctl device count --query 'path^=acme/')" == 2 ]] || fail "device count"
out=$(ctl device list --query 'fw < )' 2>&1) && fail "a bad query was accepted"
echo "$out" | grep -q "column 6" || fail "syntax error without a column: $out"

say "batch twin: a dry run lists and changes nothing, then the change reaches both"
out=$(ctl batch twin --query 'tenant=acme' '{"rate": 5}' --dry-run) || fail "dry run: $out"
echo "$out" | grep -q "^would change 2 devices" || fail "dry run output: $out"
[[ "$(ctl --json twin get g1 | jget desired_version)" == 0 ]] || fail "dry run changed a twin"
out=$(ctl batch twin --query 'tenant=acme' '{"rate": 5}') || fail "batch twin: $out"
echo "$out" | grep -q "^changed 2 devices" || fail "batch twin output: $out"
wait_for "twin_synced g1 rate 5 && twin_synced g2 rate 5" 20 || fail "batch patch not applied"
[[ "$(ctl --json twin get x1 | jget desired_version)" == 0 ]] || fail "x1 was patched"

say "batch tag and move"
ctl batch tag --query 'path^=acme/' tag.campaign=c1 untag=maintenance > /dev/null || fail "batch tag"
[[ "$(ctl device count --query 'tag.campaign=c1 and not tag.maintenance')" == 2 ]] \
    || fail "batch tag did not apply"
out=$(ctl batch move --query 'id=g2' acme/plant-2 --dry-run) || fail "move dry run"
echo "$out" | grep -q "^  g2$" || fail "move dry run does not list g2: $out"
[[ "$(ctl device count --query 'site=plant-2')" == 1 ]] || fail "dry run moved a device"
ctl batch move --query 'id=g2' acme/plant-2 > /dev/null || fail "batch move"
[[ "$(ctl device count --query 'site=plant-2')" == 2 ]] || fail "move did not apply"

say "metadata a node reports under \"weft\" in its reported twin is indexed"
ctl twin set g2 '{"weft": {"sw": "app-1.4"}}' > /dev/null || fail "twin set weft"
wait_for '[[ "$(ctl device count --query "sw=app-1.4")" == 1 ]]' 20 \
    || fail "reported sw did not reach the registry"

say "the hierarchy export is an import file"
ctl hierarchy export > "$T/export.json"
out=$(ctl hierarchy import "$T/export.json") || fail "re-import of the export: $out"
echo "$out" | grep -q "^created 0, updated 0, removed 0, unchanged 6$" || fail "export/import: $out"

say "an import larger than one call (64 KiB) goes in parts, still all or nothing"
#   big.json: tenant bigco, 40 sites of 99 lines each: 4,000 nodes, ~330 KB
big () {
    python3 - "$1" <<'PY'
import json, sys
nodes = [{"path": "bigco", "level": "enterprise", "name": "Big Co"}]
for s in range(40):
    nodes.append({"path": "bigco/site-%d" % s, "level": "site"})
    for l in range(99):
        nodes.append({"path": "bigco/site-%d/line-%d" % (s, l), "level": "line",
                      "name": "Line %d of site %d" % (l, s)})
if sys.argv[1] == "bad":
    nodes.append({"path": "bigco/site-39/line-0/x y", "level": "asset"})
print(json.dumps({"version": 1, "nodes": nodes}, indent=1))
PY
}
big bad > "$T/big-bad.json"
big good > "$T/big.json"
(( $(stat -c %s "$T/big.json") > 300000 )) || fail "big.json is too small to need parts"
out=$(ctl -v hierarchy import "$T/big-bad.json" 2>&1) && fail "a bad node in the last part was taken"
echo "$out" | tail -n 2
echo "$out" | grep -q "part 1 of .* staged" || fail "not sent in parts: $out"
echo "$out" | grep -q "node 4002: path must be" || fail "bad node not named: $out"
[[ "$(ctl --json hierarchy export | jget 'nodes.*.path' | grep -c '^bigco')" == 0 ]] \
    || fail "a refused import left nodes behind"
out=$(ctl hierarchy import "$T/big.json") || fail "big import: $out"
echo "$out" | tail -n 1
echo "$out" | grep -q "^created 4001, updated 0, removed 0, unchanged 0$" || fail "big import: $out"
out=$(ctl hierarchy import "$T/big.json") || fail "big import again: $out"
echo "$out" | grep -q "^created 0, updated 0, removed 0, unchanged 4001$" || fail "not idempotent: $out"
[[ "$(ctl --json hierarchy export | jget 'nodes.*.path' | grep -c '^bigco')" == 4001 ]] \
    || fail "export after the big import"
say "ok"
