#!/usr/bin/env bash
#   92-campaign-waves - a campaign follows its devices: plc 1.0 over four
#   gateways in waves 1, 1, then the rest, halting at the first failure,
#   with a soak of 1 s between waves and one gateway of the site under
#   way at a time (the coordinator's tick offers what the pace held back).
#   The canary installs (its reported.software says committed) and the
#   second wave is offered by the coordinator itself; the second
#   gateway's health check fails, it rolls back by itself, and the
#   campaign halts, saying why, with the last wave never offered. The
#   operator mends the gateway and retries (and watches it with show
#   --watch, which ends by itself): it installs, the last wave
#   is offered, and the campaign finishes with every gateway on 1.0 and
#   its devices free again. Each move the campaign made by itself is
#   audited as the coordinator's. Real coordinator and nodes, real
#   downloads and installs.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"

say "acme's publisher: plc 1.0 for gateways, bundled"
plc_release 60000
plc_coord

say "four gateways; g2's health check fails while $T/sick-g2 exists"
touch "$T/sick-g2"
for n in g1 g2 g3 g4; do
    start_node "$n" --token-file "$(new_token_file --tenant acme --type gateway)" \
        --health-command "test ! -e '$T/sick-$n'"
done
wait_for 'is_online g1 && is_online g2 && is_online g3 && is_online g4' 30 \
    || fail "the devices did not come online"
offers () { ctl --json stats | jget update_offers; }
shown () { as_op otto campaign show campaign-1; }
state_of () { as_op otto --json campaign show campaign-1 | jget state; }
installed () { as_op otto --json update status "$1" | jget 'devices.*.software.installed'; }

say "create and start: waves 1, 1, rest; halt at 1 failed"
as_op otto campaign create --query 'tenant=acme and type=gateway' plc 1.0 \
    --waves 1,1,100% --threshold 1 --device-timeout 2m --soak 1s --concurrency 1 \
    > /dev/null || fail "create"
grep -q "^pace       0 devices a minute, 1 under way per site, soak 1s" <<<"$(shown)" \
    || fail "no pace: $(shown)"
as_op otto campaign start campaign-1 > /dev/null || fail "start"

say "the canary installs; the second wave goes by itself; g2 rolls back; halted"
wait_for '[[ "$(state_of)" == halted ]]' 60 || fail "not halted: $(shown)"
out=$(shown)
grep -q "^halted  *1 device failed: the threshold is 1" <<<"$out" || fail "no reason: $out"
grep -Eq "^wave 1 +0 +0 +0 +0 +0 +1 +0 +0 +0" <<<"$out" || fail "wave 1: $out"
grep -Eq "^wave 2 +0 +0 +0 +0 +0 +0 +0 +1 +0" <<<"$out" || fail "wave 2: $out"
grep -Eq "^wave 3 +2 +0 +0 +0 +0 +0 +0 +0 +0" <<<"$out" || fail "wave 3 was offered: $out"
grep -q "^g2 rolled-back: health check failed" <<<"$out" || fail "g2's reason: $out"
grep -q "^progress   \[##########----------\]  50%  ended 2 of 4 (1 succeeded, 0 failed, 1 rolled back)$" \
    <<<"$out" || fail "progress: $out"
[[ "$(installed g1)" == 1.0 ]] || fail "g1 runs $(installed g1)"
[[ "$(offers)" == 2 ]] || fail "offers sent: $(offers)"

say "mended and retried: g2 installs, the last wave follows, finished"
rm -f "$T/sick-g2"
out=$(as_op otto campaign retry campaign-1) || fail "retry: $out"
[[ "$out" == "campaign-1: halted -> running, 1 devices offered the release (1 of them failed before)" ]] \
    || fail "retry said: $out"
#   Watched: rendered again every second, and the watch ends by itself
#   when the campaign finishes (the soak of 1 s alone takes one render)
WEFT_IDENTITY="$T/otto.op" timeout 60 "$CTL" --timeout 5 campaign show campaign-1 --watch 1 \
    > "$T/watch.out" || fail "the watch did not end by itself: rc $?, $(tail -20 "$T/watch.out")"
(( $(grep -c "^campaign-1  " "$T/watch.out") >= 2 )) || fail "one render: $(cat "$T/watch.out")"
[[ "$(grep "^campaign-1  " "$T/watch.out" | tail -1)" == "campaign-1  finished  plc 1.0  tenants acme" ]] \
    || fail "the last render: $(tail -20 "$T/watch.out")"
[[ "$(state_of)" == finished ]] || fail "not finished: $(shown)"
out=$(shown)
grep -Eq "^all +0 +0 +0 +0 +0 +4 +0 +0 +0" <<<"$out" || fail "counts: $out"
grep -q "^progress   \[#*\] 100%  ended 4 of 4 (4 succeeded, 0 failed)$" <<<"$out" \
    || fail "progress: $out"
for n in g1 g2 g3 g4; do
    [[ "$(installed $n)" == 1.0 ]] || fail "$n runs '$(installed $n)'"
done
[[ "$(offers)" == 5 ]] || fail "offers sent: $(offers)"
as_op otto campaign create --query 'tenant=acme and type=gateway' plc 1.0 --waves 100% \
    > /dev/null || fail "a finished campaign still holds its devices"

say "audited: the waves, the halt and the finish, as the coordinator's"
for a in campaign.wave campaign.halt campaign.finish; do
    ctl audit list --query "action=$a" | grep -q " coordinator .*$a .*campaign-1" \
        || fail "no audit record of $a: $(ctl audit list --query "action=$a")"
done
say "ok"
