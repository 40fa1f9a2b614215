#!/usr/bin/env bash
#   62-link-stall-once - a stalled uplink carries each report across at
#   most once after it recovers. The coordinator, a site server and a
#   gateway in network namespaces of their own (netns-lib.sh), heartbeat
#   5 s. The server's uplink is blackholed for 3 s: a stall, not a dead
#   link (its TCP connection and ZMTP heartbeats survive 3 s; nothing is
#   closed). Meanwhile the server takes custody of 40 reports of a
#   device "src" (weft-probe, as a neighbour) and the gateway applies a
#   desired twin and reports (its agent retries after 2 s). When the
#   uplink drains, the coordinator counts the custody transfers it
#   receives: each report once (the server sent each once on that
#   connection, and the gateway's retry was the same envelope, which the
#   server acknowledged again without forwarding it), no duplicates.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"
source "$(dirname "$0")/netns-lib.sh"

HEARTBEAT=5
REPORTS=40
FIRST=7000
netns_site coord srv gw
netns_coordinator $HEARTBEAT -v
start_in () { netns_node "$@" --heartbeat $HEARTBEAT; }

say "enrol src (its keys only); server and gateway"
start_in gw src --token-file "$(new_token_file)" --no-coordinator
wait_for "grep -q '^cert=' '$T/src/node.key'" 20 || fail "src did not enrol"
stop_proc src
start_in srv srv --token-file "$(new_token_file)" --listen "tcp://$S:7720"
wait_for "grep -q '^cert=' '$T/srv/node.key'" 20 || fail "srv did not enrol"
start_in gw gw --token-file "$(new_token_file)" --no-coordinator --neighbour "$(curve srv)@tcp://$S:7720" \
    --apply-command "sleep 1; cat > /dev/null"
wait_for '[[ "$(hops gw)" == 2 ]]' 30 || fail "gw not reached through srv: $(ctl device list)"

say "stall the uplink for 3 s while the server takes reports"
ctl twin set gw '{"stall": 1}' > /dev/null || fail "twin set"
wait_for 'grep -q "received desired version 1" "$T/gw.log"' 10 || fail "gw got no desired twin"
netns_blackhole srv coord
STALLED=$SECONDS
netns_exec gw "$PROBE" mesh-send "tcp://$S:7720" --keyfile "$T/src/node.key" \
    --server-key "$(curve srv)" --count $REPORTS --seq $FIRST --window $REPORTS \
    --timeout 10000 > "$T/answers.txt" 2> "$T/probe.log" || fail "srv did not take custody of every report"
[[ "$(grep -c '^acked' "$T/answers.txt")" == $REPORTS ]] || fail "reports refused"
#   gw applied (1 s), reported, and its agent retried 2 s later
wait_for 'grep -q "applied desired version 1" "$T/gw.log"' 10 || fail "gw did not apply"
sleep $(( 3 - (SECONDS - STALLED) > 0? 3 - (SECONDS - STALLED): 0 ))
netns_heal srv coord

say "the uplink drains"
reports_in () {
    [[ "$(ctl --json twin get src | jget reported_version)" == $((FIRST + REPORTS - 1)) ]] \
        && twin_synced_gw
}
twin_synced_gw () {
    local twin
    twin=$(ctl --json twin get gw) || return 1
    [[ "$(echo "$twin" | jget reported_version)" -ge 1 && "$(echo "$twin" | jget status)" == ok ]]
}
wait_for reports_in 30 || fail "the reports did not all arrive: $(ctl --json twin get src)"
sleep 2     #   Any second copy still on its way
grep -q "transport: disconnected from tcp://$C" "$T/srv.log" \
    && fail "the 3 s stall closed the uplink (the test needs it to survive)"
#   Every custody transfer of a report the coordinator received, by id
grep -o 'custody transfer [0-9a-f]* of src via srv' "$T/coord.log" | awk '{print $3}' \
    > "$T/src-ids.txt"
received=$(wc -l < "$T/src-ids.txt")
distinct=$(sort -u "$T/src-ids.txt" | wc -l)
gw_received=$(grep -c 'custody transfer [0-9a-f]* of gw via srv' "$T/coord.log")
say "src: $received transfers of $distinct reports; coordinator duplicates $(counter duplicates)"
[[ "$distinct" == $REPORTS ]] || fail "$distinct of $REPORTS reports reached the coordinator"
[[ "$received" == "$distinct" ]] || fail "reports crossed the uplink more than once ($received for $distinct)"
[[ "$(counter duplicates)" == 0 ]] || fail "the coordinator received duplicate reports: $(ctl stats)"
[[ "$(counter rejected_replay)" == 0 ]] || fail "the coordinator refused replays: $(ctl stats)"
(( gw_received >= 1 )) || fail "no envelope of gw crossed the uplink"
[[ "$(grep -c 'coord: gw reported version' "$T/coord.log")" == 1 ]] || fail "gw's report applied more than once"
say "ok"
