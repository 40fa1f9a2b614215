#!/usr/bin/env bash
#   23-mesh-forged-replay - coordinator - server - gw1, gw2 (the gateways
#   reach the coordinator only through the server). weft-probe, speaking
#   as the enrolled node "src", is a neighbour of the real gateways:
#   - envelopes naming another node (the server, whose certificate gw1
#     holds) injected at gw1, one signed by src's own key and one by a
#     wrong key, are refused at that first hop, counted in gw1's
#     forged_rejected, and never reach the coordinator;
#   - src's own envelopes with a bad signature (a wrong signing key, or
#     changed after signing) are taken unchecked by gw1 (the CURVE link
#     vouches for their origin, docs/mesh.md), refused by the coordinator
#     (DENIED), which ends the server's custody, and never applied;
#   - a valid report handed to gw1, then the same envelope handed to gw2
#     (another neighbour: the server, which relayed it already, drops it
#     as a duplicate), then to gw1 after gw1 and the server restarted,
#     then to gw2 after gw2, the server and the coordinator restarted (both
#     times the relays forgot it and it reaches the coordinator): it is
#     applied exactly once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"

start_coord
enrol_nodes server gw1 gw2 src
declare -A LISTEN=([server]=$(free_port) [gw1]=$(free_port) [gw2]=$(free_port))
endpoint () { echo "tcp://127.0.0.1:${LISTEN[$1]}"; }
start_node server --listen "$(endpoint server)"
start_gw () {
    start_node "$1" --no-coordinator --listen "$(endpoint "$1")" \
        --neighbour "$(curve server)@$(endpoint server)"
}
start_gw gw1
start_gw gw2
wait_for 'is_online gw1 && is_online gw2 && [[ "$(hops gw1)" == 2 && "$(hops gw2)" == 2 ]]' 30 \
    || fail "gateways not online through the server: $(ctl device list)"
inject () {     #   inject GATEWAY [probe args...]: prints the answers
    local gw=$1; shift
    "$PROBE" mesh-send "$(endpoint "$gw")" --keyfile "$T/src/node.key" \
        --server-key "$(curve "$gw")" --timeout 15000 "$@" 2>> "$T/probe.log"
}
arrivals () { grep -c "custody transfer $1 of src" "$T/coord.log"; }

say "envelopes src forges in the server's name die at gw1"
answer=$(inject gw1 --claim server --seq 10) || fail "no answer to the envelope signed by src"
[[ "$answer" == denied* ]] || fail "the server's name with src's signature not refused: $answer"
claimed_id=${answer#* }
answer=$(inject gw1 --claim server --mode forge --seq 11) || fail "no answer to the forged envelope"
[[ "$answer" == denied* ]] || fail "forged envelope not refused: $answer"
forged_id=${answer#* }
wait_for '[[ "$(mesh_stat gw1 forged_rejected)" == 2 ]]' 15 \
    || fail "gw1 counts $(mesh_stat gw1 forged_rejected) forged envelopes, not 2"
grep -q "forged or tampered envelope (origin server)" "$T/gw1.log" \
    || fail "gw1 did not log the forgery"
[[ "$(mesh_stat server forged_rejected)" == 0 ]] || fail "a forgery got past gw1"
for id in "$claimed_id" "$forged_id"; do
    ! grep -q "custody transfer $id " "$T/coord.log" || fail "a forged envelope reached the coordinator"
done

say "src's own envelopes with a bad signature: taken by gw1, refused by the coordinator"
answer=$(inject gw1 --mode forge --seq 12) || fail "no answer to src's wrongly signed envelope"
[[ "$answer" == acked* ]] || fail "gw1 did not take src's own envelope: $answer"
own_forged_id=${answer#* }
answer=$(inject gw1 --mode tamper --seq 13) || fail "no answer to src's tampered envelope"
[[ "$answer" == acked* ]] || fail "gw1 did not take src's own envelope: $answer"
own_tampered_id=${answer#* }
wait_for '[[ "$(mesh_stat server custody_refused)" == 2 ]]' 15 \
    || fail "the server's custody of them was not ended by the coordinator's refusal"
for id in "$own_forged_id" "$own_tampered_id"; do
    grep -q "custody transfer $id of ? via server (DENIED: not authenticated" "$T/coord.log" \
        || fail "the coordinator did not refuse $id for its signature"
    [[ "$(arrivals "$id")" == 0 ]] || fail "the coordinator took $id"
done
[[ "$(mesh_stat gw1 forged_rejected)" == 2 ]] || fail "gw1 checked src's own envelopes"
[[ "$(ctl --json twin get src | jget reported_version)" != 1[23] ]] \
    || fail "a badly signed report was applied"

say "a valid report through gw1, then the same envelope through gw2"
VERSION=500
answer=$(inject gw1 --seq $VERSION --save "$T/report.frame") || fail "report not taken by gw1"
[[ "$answer" == acked* ]] || fail "gw1 refused a valid report: $answer"
id=${answer#* }
wait_for '[[ "$(arrivals $id)" == 1 ]]' 15 || fail "the report did not reach the coordinator"
wait_for '[[ "$(ctl --json twin get src | jget reported_version)" == $VERSION ]]' 10 \
    || fail "the report was not applied"
answer=$(inject gw2 --frame "$T/report.frame") || fail "the replay got no answer from gw2"
[[ "$answer" == acked* ]] || fail "gw2 refused the replay: $answer"
#   The server relayed it once already: it acknowledges and drops it
wait_for '[[ "$(mesh_stat server duplicates)" -ge 1 ]]' 15 \
    || fail "the server did not see the replay as a duplicate"
sleep 1
[[ "$(arrivals $id)" == 1 ]] || fail "the server relayed the same envelope twice"

say "the same envelope through gw1 after gw1 and the server restart (they forgot it)"
stop_proc gw1
stop_proc server
start_node server --listen "$(endpoint server)"
start_gw gw1
wait_for 'is_online gw1 && is_online server' 20 || fail "server and gw1 did not come back"
answer=$(inject gw1 --frame "$T/report.frame") || fail "the replay got no answer from gw1"
wait_for '[[ "$(arrivals $id)" == 2 ]]' 15 || fail "the replay after restarts did not reach the coordinator"

say "and through gw2 after gw2, the server and the coordinator restart (replay windows are on disk)"
stop_proc gw2
stop_proc server
stop_proc coord
start_coord
start_node server --listen "$(endpoint server)"
start_gw gw2
wait_for 'is_online gw2 && [[ "$(hops gw2)" == 2 ]]' 20 || fail "gw2 not back after the restarts"
answer=$(inject gw2 --frame "$T/report.frame") || fail "the replay got no answer from gw2"
wait_for '[[ "$(arrivals $id)" == 3 ]]' 15 || fail "the replay did not reach the restarted coordinator"

say "applied once: one accepted report, the replays refused or acknowledged as duplicates"
applied=$(grep -c "coord: src reported version $VERSION " "$T/coord.log")
[[ "$applied" == 1 ]] || fail "report applied $applied times"
[[ "$(ctl --json twin get src | jget reported_version)" == $VERSION ]] || fail "reported version changed"
say "ok"
