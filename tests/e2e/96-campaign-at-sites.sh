#!/usr/bin/env bash
#   96-campaign-at-sites - a campaign run by the site server: acme's
#   site server and three gateways behind it; `campaign create
#   --at-sites`, canary 1 then the rest, threshold 1, gw2's health check
#   failing. The coordinator offers nothing itself: it hands the site its
#   directive, the server runs the waves, gw2 rolls back, the site halts
#   and reports, the campaign halts and the site is told to pause
#   (directive 2). Fixed, `campaign retry` re-arms gw2 at its site
#   (directive 3) and the campaign finishes; every gateway runs the
#   release. Real coordinator and nodes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"

say "acme's publisher: plc 1.0 for gateways, bundled and uploaded"
plc_release 300000
plc_coord

say "a site server and three gateways behind it; gw2's health check fails"
curve () { keyfile_value "$T/$1/node.key" curve_public; }
LISTEN=$(free_port)
start_node srv --token-file "$(new_token_file --tenant acme --type server)" \
    --type server --listen "tcp://127.0.0.1:$LISTEN"
wait_for "grep -q '^cert=' '$T/srv/node.key'" 20 || fail "srv did not enrol"
for i in 1 2 3; do
    start_node "gw$i" --no-coordinator --neighbour "$(curve srv)@tcp://127.0.0.1:$LISTEN" \
        --token-file "$(new_token_file --tenant acme --type gateway)" \
        --health-command "test ! -e '$T/bad-gw$i'"
done
touch "$T/bad-gw2"
online () { for i in 1 2 3; do is_online "gw$i" || return 1; done; }
wait_for online 40 || fail "the gateways did not come online through srv"

say "create --at-sites and start: the site's server is told, the coordinator offers nothing"
out=$(as_op otto campaign create --query type=gateway plc 1.0 --waves 1,100% --threshold 1 \
      --at-sites) || fail "create: $out"
grep -q "^at sites   each site's server runs the waves of its devices" <<<"$out" \
    || fail "create said: $out"
out=$(as_op otto campaign start campaign-1) || fail "start: $out"
[[ "$out" == "campaign-1: created -> running, 1 site servers told (3 devices run by their site)" ]] \
    || fail "start said: $out"

say "gw2 rolls back at the site: the campaign halts, the site is paused"
wait_for 'as_op otto campaign list | grep -q "^campaign-1 *halted"' 60 \
    || fail "not halted: $(as_op otto campaign show campaign-1 --sites)"
shown=$(as_op otto campaign show campaign-1 --sites)
grep -q "^halted     1 device failed: the threshold is 1" <<<"$shown" || fail "show: $shown"
grep -q "^gw2 rolled-back: health check failed" <<<"$shown" || fail "show: $shown"
grep -Eq "^acme +srv +3 pause #2 " <<<"$shown" || fail "the site was not paused: $shown"
wait_for 'as_op otto campaign show campaign-1 --sites | grep -Eq "^acme +srv +3 pause #2 +halted "' \
    20 || fail "the site did not report its halt: $(as_op otto campaign show campaign-1 --sites)"
[[ "$(ctl --json stats | jget update_offers)" == 0 ]] \
    || fail "the coordinator offered itself: $(ctl --json stats)"

say "fixed, retried: gw2 re-armed at its site, the campaign finishes"
rm "$T/bad-gw2"
out=$(as_op otto campaign retry campaign-1) || fail "retry: $out"
[[ "$out" == "campaign-1: halted -> running, 1 failed devices retried, 1 site servers told (3 devices run by their site)" ]] \
    || fail "retry said: $out"
wait_for 'as_op otto campaign list | grep -q "^campaign-1 *finished"' 60 \
    || fail "not finished: $(as_op otto campaign show campaign-1 --sites)"
shown=$(as_op otto campaign show campaign-1 --sites)
grep -q "ended 3 of 3 (3 succeeded, 0 failed)" <<<"$shown" || fail "show: $shown"
grep -Eq "^acme +srv +3 run #3 +finished " <<<"$shown" || fail "show: $shown"
for i in 1 2 3; do
    twin=$(ctl --json twin get "gw$i")
    [[ "$(jget reported.software.state <<<"$twin")" == committed
       && "$(jget reported.software.installed <<<"$twin")" == 1.0 ]] \
        || fail "gw$i does not run plc 1.0: $twin"
done
[[ "$(as_op otto --json campaign show campaign-1 | jget site_runs.0.report.state)" == finished ]] \
    || fail "--json: $(as_op otto --json campaign show campaign-1)"
say "ok"
