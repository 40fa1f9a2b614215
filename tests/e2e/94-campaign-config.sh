#!/usr/bin/env bash
#   94-campaign-config - a configuration campaign: a merge patch of the
#   desired twin ({"sampling_ms": 250}) over three gateways in waves 1,
#   then the rest, halting at the first failure. The canary applies it
#   and the coordinator offers the next wave by itself; g2's apply
#   command fails, so g2 fails with the device's own status, its desired
#   twin goes back to what it was (rolled back), and the campaign halts; mended and retried, g2 applies it and the campaign
#   finishes with every gateway holding the setting; show --sites counts
#   per site (plant-1, plant-2). Then the operator
#   sets g1's sampling_ms again by twin set, and reverts the campaign:
#   g3 gets back the 100 it had before, g2 loses the key it did not
#   have, each applies that and reports it; g1 is skipped with the key
#   and keeps the operator's newer value; the campaign is reverted and
#   audited. Refusals: a patch that is not JSON, or not an object, or
#   with a release; another tenant's operator reverting it. Real
#   coordinator and nodes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"
start_coord
import_tree acme acme/plant-1 acme/plant-2
add_op otto --role operator --tenant acme

say "three gateways (g1 at plant-1, g2 and g3 at plant-2); g2's apply command fails while $T/sick-g2 exists"
touch "$T/sick-g2"
for n in g1 g2 g3; do
    site=acme/plant-2
    [[ $n == g1 ]] && site=acme/plant-1
    start_node "$n" --token-file "$(new_token_file --tenant acme --type gateway --path "$site")" \
        --apply-command "test ! -e '$T/sick-$n' && cat > '$T/$n.applied.json'"
done
wait_for 'is_online g1 && is_online g2 && is_online g3' 30 || fail "the devices did not come online"
shown () { as_op otto campaign show campaign-1; }
state_of () { as_op otto --json campaign show campaign-1 | jget state; }
applied () { [[ -f "$T/$1.applied.json" ]] && jget sampling_ms < "$T/$1.applied.json"; }

say "g3 holds sampling_ms 100 before the campaign"
as_op otto twin set g3 '{"sampling_ms": 100}' > /dev/null || fail "twin set g3"
wait_for '[[ "$(applied g3)" == 100 ]]' 30 || fail "g3 did not apply 100: '$(applied g3)'"

say "refused: bad JSON, not an object, a release and a patch"
usage_error () {         #   PATTERN COMMAND...: exits 2 (as twin set) and says PATTERN
    local pattern=$1 out rc; shift
    out=$("$@" 2>&1); rc=$?
    (( rc == 2 )) && grep -q -- "$pattern" <<<"$out" || fail "'$*': exit $rc, $out"
}
usage_error "bad JSON" as_op otto campaign create --query tenant=acme --patch '{"a":' \
    --waves 100%
usage_error "must be a JSON object" as_op otto campaign create --query tenant=acme \
    --patch '[1]' --waves 100%
refused "a release (name, version) or a patch" \
    as_op otto call campaign.create '{"query":"tenant=acme","name":"plc","version":"1.0","patch":{"a":1},"waves":["100%"]}'

say "create and start: waves 1, rest; halt at 1 failed"
out=$(as_op otto campaign create --query 'tenant=acme and type=gateway' \
    --patch '{"sampling_ms": 250}' --waves 1,100% --threshold 1) || fail "create: $out"
grep -q '^campaign-1  created  patch {"sampling_ms":250}  tenants acme' <<<"$out" \
    || fail "create said: $out"
as_op otto campaign start campaign-1 > /dev/null || fail "start"

say "g1 applies it; the second wave goes by itself; g2 fails and goes back to its configuration; halted"
wait_for '[[ "$(state_of)" == halted ]]' 40 || fail "not halted: $(shown)"
out=$(shown)
grep -Eq "^wave 1 +0 +0 +0 +0 +0 +1 +0 +0 +0" <<<"$out" || fail "wave 1: $out"
grep -q "^g2 rolled-back: apply failed: .*; its previous configuration restored" <<<"$out" \
    || fail "g2's reason: $out"
[[ "$(ctl --json twin get g2 | jget desired.sampling_ms)" == "" ]] \
    || fail "g2's desired twin was not restored: $(ctl --json twin get g2)"
#   Per site: every device ended, so the sites come by name
out=$(as_op otto campaign show campaign-1 --sites) || fail "show --sites: $out"
sites=$(sed -n '/^site /,$p' <<<"$out")
grep -Eq "^acme/plant-1 +0 +0 +0 +0 +0 +1 +0 +0 +0$" <<<"$(sed -n 2p <<<"$sites")" \
    || fail "plant-1's row: $out"
grep -Eq "^acme/plant-2 +0 +0 +0 +0 +0 +1 +0 +1 +0$" <<<"$(sed -n 3p <<<"$sites")" \
    || fail "plant-2's row: $out"
json=$(as_op otto --json campaign show campaign-1 --sites)
[[ "$(jget 'site_counts.1.site' <<<"$json")" == acme/plant-2 && "$(jget 'site_counts.1.open' <<<"$json")" == 0 \
   && "$(jget 'sites_rest.sites' <<<"$json")" == 0 ]] || fail "json: $json"
[[ "$(applied g1)" == 250 ]] || fail "g1 holds '$(applied g1)'"
[[ "$(applied g2)" != 250 ]] || fail "g2 applied it while sick"

say "mended and retried: finished, every gateway holds the setting"
rm -f "$T/sick-g2"
as_op otto campaign retry campaign-1 > /dev/null || fail "retry"
wait_for '[[ "$(state_of)" == finished ]]' 40 || fail "not finished: $(shown)"
grep -Eq "^all +0 +0 +0 +0 +0 +3 +0 +0 +0" <<<"$(shown)" || fail "counts: $(shown)"
for n in g1 g2 g3; do
    [[ "$(applied $n)" == 250 ]] || fail "$n holds '$(applied $n)'"
done
ctl audit list --query "action=campaign.create" | grep -q " otto .*campaign.create .*campaign-1" \
    || fail "the create is not audited"

say "the operator sets g1's sampling_ms since; another tenant cannot revert"
as_op otto twin set g1 '{"sampling_ms": 500}' > /dev/null || fail "twin set g1"
wait_for '[[ "$(applied g1)" == 500 ]]' 30 || fail "g1 did not apply 500: '$(applied g1)'"
import_tree globex
add_op gina --role operator --tenant globex
refused "unknown campaign campaign-1" as_op gina campaign revert campaign-1
[[ "$(state_of)" == finished ]] || fail "a refused revert moved it: $(shown)"

say "revert: the last wave first, g1 skipped and keeps 500"
out=$(as_op otto --json campaign revert campaign-1) || fail "revert: $out"
[[ "$(jget state <<<"$out")" == reverting && "$(jget skipped <<<"$out")" == 0 \
   && "$(jget devices <<<"$out")" == 3 && "$(jget offered <<<"$out")" == 2 ]] \
    || fail "revert said: $out"
wait_for '[[ "$(state_of)" == reverted ]]' 40 || fail "not reverted: $(shown)"
out=$(shown)
grep -q "^campaign-1  reverted  " <<<"$out" || fail "show: $out"
grep -q "^revert .*succeeded 2 failed 0 skipped 1" <<<"$out" || fail "revert counts: $out"
grep -q "^g1 revert skipped: desired sampling_ms changed since the campaign set it" <<<"$out" \
    || fail "g1's reason: $out"
[[ "$(applied g3)" == 100 ]] || fail "g3 holds '$(applied g3)', not its 100 of before"
[[ -f "$T/g2.applied.json" && -z "$(applied g2)" ]] || fail "g2 holds '$(applied g2)'"
[[ "$(applied g1)" == 500 ]] || fail "g1 holds '$(applied g1)', not the operator's 500"
for n in g2 g3; do
    twin=$(as_op otto --json twin get $n)
    [[ "$(jget applied_version <<<"$twin")" == "$(jget desired_version <<<"$twin")" \
       && "$(jget status <<<"$twin")" == ok ]] || fail "$n did not report the revert: $twin"
done
[[ "$(as_op otto --json twin get g2 | jget desired.sampling_ms)" == "" ]] || fail "g2's desired"
refused "campaign-1 is reverted: it cannot revert" as_op otto campaign revert campaign-1
ctl audit list --query "action=campaign.revert" | grep -q " otto .*campaign.revert .*campaign-1" \
    || fail "the revert is not audited"
ctl audit list --query "action=campaign.reverted" | grep -q " coordinator .*campaign.reverted" \
    || fail "the coordinator's move is not audited"
say "ok"
