#!/usr/bin/env bash
#   99-campaign-site-cut - a campaign run at the sites: two sites of acme,
#   each a server and three gateways behind it. plc 1.0 in waves 1, then
#   the rest, created --at-sites: each server gets its site's part as
#   one signed directive and runs the waves itself. Plant 1's uplink is
#   cut as soon as its server holds the directive and the release: the
#   server still offers its second wave, a2 installs and a3 (health
#   check failing) rolls back, all while cut off, and the coordinator
#   sees none of it. Plant 2 finishes meanwhile. When the uplink comes
#   back the coordinator learns each of plant 1's outcomes once: 5
#   succeeded, 1 rolled back, the campaign finished. Real coordinator,
#   nodes, downloads and installs; the cut is the server's fault switch.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"

say "acme's publisher: plc 1.0 for gateways; sites acme/plant-1 and acme/plant-2"
plc_release 60000
start_coord
import_tree acme acme/plant-1 acme/plant-2 globex
add_op olga --role admin --tenant acme
add_op otto --role operator --tenant acme
as_op olga release root set repo/root.1 > /dev/null || fail "set root"
as_op olga artifact add site.wbd > /dev/null || fail "artifact add"
curve () { keyfile_value "$T/$1/node.key" curve_public; }

touch "$T/sick-a3"
declare -A PORT
for s in a b; do
    PORT[$s]=$(free_port)
    start_node "srv$s" --type server --listen "tcp://127.0.0.1:${PORT[$s]}" \
        --fault-file "$T/uplink-cut-$s" \
        --token-file "$(new_token_file --tenant acme --type server)"
done
wait_for "grep -q '^cert=' '$T/srva/node.key' && grep -q '^cert=' '$T/srvb/node.key'" 20 \
    || fail "the servers did not enrol"
for s in a b; do
    for i in 1 2 3; do
        start_node "$s$i" --token-file "$(new_token_file --tenant acme --type gateway)" \
            --no-coordinator --neighbour "$(curve "srv$s")@tcp://127.0.0.1:${PORT[$s]}" \
            --health-command "test ! -e '$T/sick-$s$i'"
    done
done
all=(srva srvb a1 a2 a3 b1 b2 b3)
online () { for n in "${all[@]}"; do is_online "$n" || return 1; done; }
wait_for online 40 || fail "not all online"
for n in srva a1 a2 a3; do ctl device set "$n" path=acme/plant-1 > /dev/null || fail "place $n"; done
for n in srvb b1 b2 b3; do ctl device set "$n" path=acme/plant-2 > /dev/null || fail "place $n"; done

shown () { as_op otto campaign show campaign-1 "$@"; }
state_of () { as_op otto --json campaign show campaign-1 | jget state; }
row () { as_op otto --json campaign show campaign-1 \
             | python3 -c "import json,sys; d=json.load(sys.stdin)
print(next((r.get('state','') for r in d.get('device_rows',[]) if r.get('id')=='$1'),''))"; }
installed () { cmp -s v1.bin "$T/$1/install/plc"; }

say "created --at-sites, waves 1 then the rest, soak 3 s, threshold 2; started"
as_op otto campaign create --query 'tenant=acme and type=gateway' plc 1.0 --waves 1,100% \
    --threshold 2 --soak 3s --device-timeout 2m --at-sites > /dev/null || fail "create"
grep -q "^at sites   each site.s server runs the waves" <<<"$(shown)" || fail "not shown as run at the sites: $(shown)"
as_op otto campaign start campaign-1 > /dev/null || fail "start"

say "plant 1's server holds the directive and the release; its uplink is cut"
wait_for "grep -q 'sitecamp: campaign campaign-1' '$T/srva.log' \
          && grep -q 'fetch: srva: release .*: every chunk held' '$T/srva.log'" 30 \
    || fail "srva has no directive or release: $(grep 'site\|fetch' srva.log | tail -5)"
touch "$T/uplink-cut-a"
wait_for 'grep -q "coordinator link cut" "$T/srva.log"' 10 || fail "the fault switch did not cut"

say "cut off, plant 1 runs its second wave: a2 installs, a3 rolls back"
wait_for 'installed a1 && installed a2' 90 \
    || fail "plant 1 did not install: $(grep -h 'update:\|site' srva.log a*.log | tail -10)"
wait_for "grep -q 'update: plc 1.0 rolled-back' '$T/a3.log'" 60 \
    || fail "a3 did not roll back: $(grep -h 'update:' a3.log | tail -5)"
wait_for "grep -q 'sitecamp: campaign campaign-1 at acme/plant-1 finished' '$T/srva.log'" 30 \
    || fail "plant 1 did not finish its waves: $(grep 'site' srva.log | tail -5)"
for n in a2 a3; do
    case "$(row $n)" in succeeded|rolled-back) fail "the coordinator knows $n while cut off";; esac
done

say "plant 2 finishes meanwhile"
wait_for 'installed b1 && installed b2 && installed b3' 60 || fail "plant 2: $(shown --sites)"
wait_for '[[ "$(row b3)" == succeeded ]]' 30 || fail "b3: $(shown)"
[[ "$(state_of)" == running ]] || fail "the campaign did not wait for plant 1: $(shown)"

say "the uplink comes back: each outcome learnt once, the campaign finishes"
rm -f "$T/uplink-cut-a"
wait_for '[[ "$(state_of)" == finished ]]' 60 || fail "not finished: $(shown --sites)"
out=$(shown)
grep -Eq "^all +0 +0 +0 +0 +0 +5 +0 +1 +0" <<<"$out" || fail "counts: $out"
grep -q "^progress   \[#*\] 100%  ended 6 of 6 (5 succeeded, 0 failed, 1 rolled back)$" <<<"$out" \
    || fail "progress: $out"
grep -q "^a3 rolled-back: health check failed" <<<"$out" || fail "a3's reason: $out"
[[ "$(row a2)" == succeeded ]] || fail "a2: $(row a2)"
#   A server's report sent again (the custody retransmission after the
#   cut) changes nothing: the counts above are the outcomes once each
say "ok"
