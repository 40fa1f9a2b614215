#!/usr/bin/env bash
#   94-campaign-config - a configuration campaign: a merge patch of the
#   desired twin ({"sampling_ms": 250}) over three gateways in waves 1,
#   then the rest, halting at the first failure. The canary applies it
#   and the coordinator offers the next wave by itself; g2's apply
#   command fails, so g2 fails with the device's own status and the
#   campaign halts; mended and retried, g2 applies it and the campaign
#   finishes with every gateway holding the setting. Refusals: a patch
#   that is not JSON, or not an object, or with a release. Real
#   coordinator and nodes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"
start_coord
import_tree acme
add_op otto --role operator --tenant acme

say "three gateways; g2's apply command fails while $T/sick-g2 exists"
touch "$T/sick-g2"
for n in g1 g2 g3; do
    start_node "$n" --token-file "$(new_token_file --tenant acme --type gateway)" \
        --apply-command "test ! -e '$T/sick-$n' && cat > '$T/$n.applied.json'"
done
wait_for 'is_online g1 && is_online g2 && is_online g3' 30 || fail "the devices did not come online"
shown () { as_op otto campaign show campaign-1; }
state_of () { as_op otto --json campaign show campaign-1 | jget state; }
applied () { [[ -f "$T/$1.applied.json" ]] && jget sampling_ms < "$T/$1.applied.json"; }

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

say "g1 applies it; the second wave goes by itself; g2 fails; halted"
wait_for '[[ "$(state_of)" == halted ]]' 40 || fail "not halted: $(shown)"
out=$(shown)
grep -Eq "^wave 1 +0 +0 +0 +0 +1 +0 +0 +0" <<<"$out" || fail "wave 1: $out"
grep -q "^g2 failed: apply failed: " <<<"$out" || fail "g2's reason: $out"
[[ "$(applied g1)" == 250 ]] || fail "g1 holds '$(applied g1)'"
[[ "$(applied g2)" != 250 ]] || fail "g2 applied it while sick"

say "mended and retried: finished, every gateway holds the setting"
rm -f "$T/sick-g2"
as_op otto campaign retry campaign-1 > /dev/null || fail "retry"
wait_for '[[ "$(state_of)" == finished ]]' 40 || fail "not finished: $(shown)"
grep -Eq "^all +0 +0 +0 +0 +3 +0 +0 +0" <<<"$(shown)" || fail "counts: $(shown)"
for n in g1 g2 g3; do
    [[ "$(applied $n)" == 250 ]] || fail "$n holds '$(applied $n)'"
done
ctl audit list --query "action=campaign.create" | grep -q " otto .*campaign.create .*campaign-1" \
    || fail "the create is not audited"
say "ok"
