#!/usr/bin/env bash
#   91-campaign-start - weftctl campaign: a campaign of plc 1.0 over
#   acme's gateways, canary 1 then the rest; the sensor is skipped with
#   its reason, a second campaign over the same devices is refused, and
#   start offers the release to the canary alone (the other gateways are
#   assigned nothing and sent nothing). Paused, the campaign offers
#   nothing more when the canary succeeds; resumed, it offers wave 2.
#   show --watch renders it again each second until interrupted.
#   globex's operator neither sees nor moves it. --at-sites is kept and
#   shown, and refused with a patch or --dynamic. Real coordinator and
#   nodes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"

say "acme's publisher: plc 1.0 for gateways, bundled"
plc_release 100000

plc_coord

say "devices: three gateways and a sensor of acme"
#   A gateway's health check waits for $T/go: the canary stays under
#   way until the test lets it end (so pausing the campaign never races it)
for n in g1 g2 g3 s1; do
    start_node "$n" --token-file "$(new_token_file --tenant acme --type gateway)" \
        --health-command "while [ ! -e '$T/go' ]; do sleep 0.1; done"
done
wait_for 'is_online g1 && is_online g2 && is_online g3 && is_online s1' 30 \
    || fail "the devices did not come online"
as_op olga device set s1 type=sensor > /dev/null || fail "s1 becomes a sensor"
offers () { ctl --json stats | jget update_offers; }

say "create: canary 1, then the rest; the sensor skipped; refusals"
refused "the waves cover 1 of the 3 devices" \
    as_op otto campaign create --query tenant=acme plc 1.0 --waves 1
refused "no release plc 9.9 in tenant acme" \
    as_op otto campaign create --query tenant=acme plc 9.9 --waves 100%
refused "the query matches no device you may change" \
    as_op gus campaign create --query tenant=acme plc 1.0 --waves 100%
out=$(as_op otto campaign create --query tenant=acme plc 1.0 --waves 1,100% --threshold 1) \
    || fail "create: $out"
grep -q "^campaign-1  created  plc 1.0  tenants acme" <<<"$out" || fail "create said: $out"
grep -q "devices per wave: 1 2" <<<"$out" || fail "create said: $out"
grep -q "^skipped s1: type sensor; plc 1.0 is for gateway" <<<"$out" || fail "create said: $out"
refused "is in campaign-1, which is neither aborted nor finished" \
    as_op otto campaign create --query 'tenant=acme and type=gateway' plc 1.0 --waves 100%
[[ "$(offers)" == 0 ]] || fail "creating a campaign sent offers: $(offers)"

say "globex's operator neither sees nor moves it"
refused "unknown campaign campaign-1" as_op gus campaign show campaign-1
refused "unknown campaign campaign-1" as_op gus campaign start campaign-1
[[ "$(as_op gus --json campaign list | jget 'campaigns.*.id')" == "" ]] || fail "gus sees it"

say "start: the canary alone is offered plc 1.0; paused at once"
out=$(as_op otto campaign start campaign-1) || fail "start: $out"
as_op otto campaign pause campaign-1 > /dev/null || fail "pause"
[[ "$out" == "campaign-1: created -> running, 1 devices offered the release" ]] \
    || fail "start said: $out"
[[ "$(offers)" == 1 ]] || fail "offers sent: $(offers)"
status=$(as_op otto --json update status --query 'tenant=acme and type=gateway')
[[ "$(jget 'devices.*.assigned.version' <<<"$status" | grep -c '^1.0$')" == 1 ]] \
    || fail "not exactly one gateway assigned: $status"
shown=$(as_op otto campaign show campaign-1) || fail "show: $shown"
grep -Eq "^wave 1 +0 " <<<"$shown" || fail "wave 1 not offered: $shown"
grep -Eq "^wave 2 +2 +0 +0 +0 +0 +0 +0 +0 +0" <<<"$shown" || fail "wave 2 touched: $shown"
grep -Eq "^all +2 .* 1$" <<<"$shown" || fail "counts: $shown"
grep -q "^progress   \[-*\]   0%  ended 0 of 3 (0 succeeded, 0 failed); 1 skipped$" <<<"$shown" \
    || fail "progress: $shown"
refused "campaign-1 is paused: it cannot start" as_op otto campaign start campaign-1

say "watched while paused: rendered again every second until interrupted (SIGINT: exit 0)"
WEFT_IDENTITY="$T/otto.op" "$CTL" --timeout 5 campaign show campaign-1 --watch 1 \
    > "$T/watch.out" 2> "$T/watch.err" &
PID_OF[watch]=$!
wait_for '(( $(grep -c "^campaign-1  paused" "$T/watch.out") >= 2 ))' 20 \
    || fail "fewer than two renders: $(cat "$T/watch.out" "$T/watch.err")"
kill -INT "${PID_OF[watch]}"
rc=0
wait "${PID_OF[watch]}" || rc=$?
unset "PID_OF[watch]"
[[ $rc == 0 ]] || fail "the watch exited $rc on SIGINT: $(cat "$T/watch.err")"
grep -q "^----$" "$T/watch.out" || fail "no separator between renders (not a terminal)"
#   On a terminal (script's pseudo-terminal) the screen is cleared instead
WEFT_IDENTITY="$T/otto.op" timeout -s INT 4 script -qec \
    "'$CTL' --timeout 5 campaign show campaign-1 --watch 1" /dev/null > "$T/watch.tty"
grep -q $'\e\[H\e\[2J' "$T/watch.tty" || fail "no clear screen on a terminal: $(cat -v "$T/watch.tty")"
grep -q "^----" "$T/watch.tty" && fail "a separator on a terminal"
out=$(as_op otto campaign show campaign-1 --watch 0 2>&1); rc=$?
[[ $rc == 2 && "$out" == *"bad --watch '0'"* ]] || fail "--watch 0: rc $rc, $out"

say "paused: the canary installs, nothing more is offered; resumed, wave 2 is"
touch "$T/go"
wait_for 'as_op otto campaign show campaign-1 | grep -Eq "^wave 1 +0 +0 +0 +0 +0 +1 "' 40 \
    || fail "the canary did not succeed: $(as_op otto campaign show campaign-1)"
sleep 2
[[ "$(offers)" == 1 ]] || fail "a paused campaign offered: $(offers)"
out=$(as_op otto campaign resume campaign-1) || fail "resume: $out"
[[ "$out" == "campaign-1: paused -> running, 2 devices offered the release" ]] \
    || fail "resume said: $out"
[[ "$(offers)" == 3 ]] || fail "resume offered: $(offers)"

say "finished: its devices free again; abort frees them too"
wait_for 'as_op otto campaign list | grep -q "^campaign-1 *finished"' 40 \
    || fail "not finished: $(as_op otto campaign show campaign-1)"
as_op otto campaign create --query 'tenant=acme and type=gateway' plc 1.0 --waves 100% \
    > /dev/null || fail "a campaign over the finished one's devices"
refused "campaign-1 is finished: it cannot abort" as_op otto campaign abort campaign-1
as_op otto campaign abort campaign-2 > /dev/null || fail "abort"
as_op otto campaign list | grep -q "^campaign-2 *aborted" || fail "list: $(as_op otto campaign list)"
as_op otto campaign create --query 'tenant=acme and type=gateway' plc 1.0 --waves 100% \
    > /dev/null || fail "a campaign over the aborted one's devices"

say "--at-sites: a release campaign only; kept in the record and shown"
as_op otto campaign abort campaign-3 > /dev/null || fail "abort campaign-3"
refused "--at-sites runs release campaigns only" as_op otto campaign create \
    --query 'tenant=acme and type=gateway' --patch '{"a":1}' --waves 100% --at-sites
refused "--at-sites and --dynamic do not go together yet" as_op otto campaign create \
    --query 'tenant=acme and type=gateway' plc 1.0 --waves 100% --dynamic --at-sites
out=$(as_op otto campaign create --query 'tenant=acme and type=gateway' plc 1.0 --waves 100% \
      --at-sites) || fail "create --at-sites: $out"
grep -q "^at sites   each site's server runs the waves of its devices" <<<"$out" \
    || fail "create --at-sites said: $out"
[[ "$(as_op otto --json campaign show campaign-4 | jget at_sites)" == true ]] \
    || fail "show --json: $(as_op otto --json campaign show campaign-4)"

say "audited: each move"
for a in campaign.create campaign.start campaign.pause campaign.resume campaign.abort; do
    ctl audit list --query "action=$a and status=OK" | grep -q " otto .*$a .*campaign-" \
        || fail "no audit record of $a: $(ctl audit list --query "action=$a")"
done
say "ok"
