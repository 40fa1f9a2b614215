#!/usr/bin/env bash
#   24-mesh-site-cut - coordinator - site server - 5 gateways that reach
#   the coordinator only through the mesh: gw1..gw3 dial the server
#   (2 hops), gw4 dials gw1 and gw5 dials gw2 (3 hops). Then the
#   server's uplink is cut (its fault switch closes the socket) while
#   - 200 desired changes are made (40 batches over the 5 gateways), and
#   - 500 reported changes are made by a device behind gw3 (weft-probe
#     speaking as the enrolled node "src": 3 hops, one envelope each).
#   When the uplink returns: every gateway converges on its last desired
#   version and never applied a version twice or out of order (desired
#   twins coalesce at the coordinator: state, not events), and all 500
#   reports arrive exactly once, in order (each one a custody envelope).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"

start_coord
gws=(gw1 gw2 gw3 gw4 gw5)
say "enrol server ${gws[*]} src"
enrol_nodes server "${gws[@]}" src
declare -A LISTEN=()
for name in server "${gws[@]}"; do LISTEN[$name]=$(free_port); done
endpoint () { echo "tcp://127.0.0.1:${LISTEN[$1]}"; }
declare -A UP=([gw1]=server [gw2]=server [gw3]=server [gw4]=gw1 [gw5]=gw2)
start_node server --listen "$(endpoint server)" --fault-file "$T/uplink-cut"
for gw in "${gws[@]}"; do
    start_node "$gw" --no-coordinator --listen "$(endpoint "$gw")" \
        --neighbour "$(curve "${UP[$gw]}")@$(endpoint "${UP[$gw]}")"
done
expect () {
    local gw
    for gw in gw1 gw2 gw3; do [[ "$(hops $gw)" == 2 ]] || return 1; done
    for gw in gw4 gw5; do [[ "$(hops $gw)" == 3 ]] || return 1; done
}
wait_for 'expect' 30 || fail "topology: $(ctl device list)"
for gw in "${gws[@]}"; do ctl device set "$gw" tag.site=s1 > /dev/null || fail "tag $gw"; done
ctl device list

say "twin round trip across 2 and 3 hops"
ctl batch twin --query tag.site=s1 '{"rate": 0}' > /dev/null || fail "batch twin"
all_synced () { local gw; for gw in "${gws[@]}"; do twin_synced "$gw" rate "$1" || return 1; done; }
wait_for 'all_synced 0' 20 || fail "twins not synced before the cut"

say "cut the server's uplink"
touch "$T/uplink-cut"
wait_for 'grep -q "coordinator link cut" "$T/server.log"' 5 || fail "fault switch did not cut"
wait_for '! is_online gw5' 20 || fail "gw5 still online while cut off"

say "500 reports from src behind gw3, 200 desired changes, all while cut off"
FIRST=1000
REPORTS=500
"$PROBE" mesh-send "$(endpoint gw3)" --keyfile "$T/src/node.key" --server-key "$(curve gw3)" \
    --count $REPORTS --seq $FIRST --window 50 --timeout 40000 > "$T/answers.txt" 2> "$T/probe.log" &
PID_OF[probe]=$!
for v in $(seq 1 40); do
    ctl batch twin --query tag.site=s1 "{\"rate\": $v}" > /dev/null || fail "batch twin $v"
done
wait "${PID_OF[probe]}" || fail "gw3 did not take custody of every report: $(tail -n 1 "$T/probe.log")"
unset "PID_OF[probe]"
[[ "$(grep -c '^acked' "$T/answers.txt")" == $REPORTS ]] || fail "reports refused"
sleep 1
[[ "$(grep -c 'coord: src reported version' "$T/coord.log")" == 0 ]] \
    || fail "reports reached the coordinator through a cut uplink"
#   200 desired versions: each gateway's desired version moved 40 times
for gw in "${gws[@]}"; do
    [[ "$(ctl --json twin get "$gw" | jget desired.rate)" == 40 ]] || fail "$gw desired not at 40"
done

say "restore the uplink"
rm -f "$T/uplink-cut"
wait_for 'all_synced 40' 40 || fail "gateways did not converge: $(ctl device list)"
for gw in "${gws[@]}"; do
    applied_in_order "$gw" || fail "$gw applied a desired version twice or out of order"
done
reports_in () {
    grep -o 'coord: src reported version [0-9]*' "$T/coord.log" | awk '{print $5}' > "$T/reported.txt"
    [[ "$(wc -l < "$T/reported.txt")" -ge $REPORTS ]]
}
wait_for reports_in 30 || fail "$(wc -l < "$T/reported.txt") of $REPORTS reports arrived"
seq $FIRST $((FIRST + REPORTS - 1)) > "$T/expected.txt"
cmp -s "$T/reported.txt" "$T/expected.txt" \
    || fail "reports not applied exactly once in order: $(diff "$T/expected.txt" "$T/reported.txt" | head -5)"
[[ "$(ctl --json twin get src | jget reported_version)" == $((FIRST + REPORTS - 1)) ]] \
    || fail "src's reported version is not the last one"
#   The backlog arrives in bursts: the coordinator acknowledges each
#   burst's envelopes from one next hop with one CUSTODY_ACK
most=$(grep -o 'coord: CUSTODY_ACK of [0-9]* ids' "$T/coord.log" | awk '{print $4}' | sort -n | tail -n 1)
say "largest CUSTODY_ACK from the coordinator: ${most:-0} ids"
(( ${most:-0} > 1 )) || fail "the coordinator acknowledged one envelope per CUSTODY_ACK"
say "ok"
