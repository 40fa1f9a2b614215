#!/usr/bin/env bash
#   20-mesh-relay - coordinator - server - gw1 - gw2, where the gateways
#   reach the coordinator only through the mesh (no coordinator link):
#   twin changes cross 2 and 3 hops; the server's uplink is cut (the
#   node's fault switch closes its coordinator socket) while twins
#   change and the gateways report, and everything arrives once the
#   uplink is back; then gw2 is revoked and its neighbour closes it.
source "$(dirname "$0")/lib.sh"

start_coord
say "enrol server, gw1, gw2 (enrolment is direct; the mesh link is not)"
LISTEN_server=$(free_port)
LISTEN_gw1=$(free_port)
curve () { keyfile_value "$T/$1/node.key" curve_public; }

#   The server: direct uplink and a listener
start_node server --token-file "$(new_token_file)" --listen "tcp://127.0.0.1:$LISTEN_server" \
    --fault-file "$T/uplink-cut"
wait_for "[[ -s '$T/server/node.key' ]] && grep -q '^cert=' '$T/server/node.key'" 20 \
    || fail "server did not enrol"
wait_for 'is_online server' 20 || fail "server not online"
#   gw1: dials the server only
start_node gw1 --token-file "$(new_token_file)" --no-coordinator --listen "tcp://127.0.0.1:$LISTEN_gw1" \
    --neighbour "$(curve server)@tcp://127.0.0.1:$LISTEN_server"
wait_for "grep -q '^cert=' '$T/gw1/node.key'" 20 || fail "gw1 did not enrol"
#   gw2: dials gw1 only
start_node gw2 --token-file "$(new_token_file)" --no-coordinator \
    --neighbour "$(curve gw1)@tcp://127.0.0.1:$LISTEN_gw1"
wait_for "grep -q '^cert=' '$T/gw2/node.key'" 20 || fail "gw2 did not enrol"

wait_for 'is_online gw1 && is_online gw2' 20 || fail "gateways not online through the mesh"
ctl device list
hops () { ctl --json device show "$1" | jget hops; }
wait_for '[[ "$(hops gw2)" == 3 && "$(hops gw1)" == 2 && "$(hops server)" == 1 ]]' 10 \
    || fail "hops: server $(hops server) gw1 $(hops gw1) gw2 $(hops gw2)"

say "twin round trip across 2 and 3 hops"
ctl twin set gw1 '{"rate": 1}' > /dev/null || fail "twin set gw1"
ctl twin set gw2 '{"rate": 2}' > /dev/null || fail "twin set gw2"
wait_for 'twin_synced gw1 rate 1 && twin_synced gw2 rate 2' 20 \
    || fail "twins not synced: $(ctl --json twin get gw2)"

say "cut the server's uplink; change twins meanwhile"
touch "$T/uplink-cut"
wait_for 'grep -q "coordinator link cut" "$T/server.log"' 5 || fail "fault switch did not cut"
wait_for '! is_online gw2' 20 || fail "gw2 still online while cut off"
for i in $(seq 1 20); do
    ctl twin set gw2 "{\"rate\": $((100 + i))}" > /dev/null || fail "twin set during the cut"
done
sleep 2
say "restore the uplink: the latest desired version arrives and is reported"
rm -f "$T/uplink-cut"
wait_for 'twin_synced gw2 rate 120' 30 || fail "gw2 not synced after the cut: $(ctl --json twin get gw2)"
#   Every desired version gw2 applied was newer than the one before
grep -o 'applied desired version [0-9]*' "$T/gw2.log" | awk '{print $4}' > "$T/applied.txt"
sort -n -c "$T/applied.txt" || fail "desired versions applied out of order"
[[ "$(sort -n "$T/applied.txt" | uniq -d | wc -l)" == 0 ]] || fail "a desired version applied twice"

say "counters"
ctl device show gw1 | tail -n 3
wait_for '[[ "$(ctl --json device show gw1 | jget mesh.relayed)" -ge 1 ]]' 15 \
    || fail "gw1 reports no relayed envelopes: $(ctl --json device show gw1)"

say "revoke gw2: refused by gw1 (its only neighbour)"
ctl device revoke gw2 || fail "device revoke failed"
wait_for 'grep -q "closing link .* of a revoked peer" "$T/gw1.log"' 15 \
    || fail "gw1 did not close gw2's link"
wait_for 'grep -q "revocation list version 1" "$T/gw1.log"' 5 || fail "gw1 did not store the list"
sleep 3
n=$(grep -c "neighbour gw2 on" "$T/gw1.log")
sleep 3
[[ "$(grep -c "neighbour gw2 on" "$T/gw1.log")" == "$n" ]] || fail "gw2 came back after revocation"
wait_for '! is_online gw2' 20 || fail "revoked gw2 still online"
say "ok"
