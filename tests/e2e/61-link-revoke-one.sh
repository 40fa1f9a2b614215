#!/usr/bin/env bash
#   61-link-revoke-one - revoking one device closes that device's links
#   only. Three nodes linked to the coordinator directly (d1 d2 d3), and a
#   site server with three gateways on its listener (g1 g2 g3). d2 is
#   revoked, then g2: the coordinator closes d2's connection and the
#   server g2's, while every other node keeps the very same TCP
#   connection (same local port, no "connected" logged again) and its
#   twin keeps flowing. The revoked ones dial again and ZAP refuses them.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"

start_coord
say "enrol d1 d2 d3 server g1 g2 g3"
enrol_nodes d1 d2 d3 server g1 g2 g3
LISTEN=$(free_port)
start_node server --listen "tcp://127.0.0.1:$LISTEN"
for d in d1 d2 d3; do start_node "$d"; done
for g in g1 g2 g3; do
    start_node "$g" --no-coordinator --neighbour "$(curve server)@tcp://127.0.0.1:$LISTEN"
done
all_online () { local n; for n in "$@"; do is_online "$n" || return 1; done; }
wait_for 'all_online d1 d2 d3 server g1 g2 g3' 30 || fail "not all online: $(ctl device list)"

#   The local port of a node's connection to PORT, from its side
local_port () {
    ss -Htnp state established "( dport = :$2 )" 2>/dev/null \
        | grep "pid=${PID_OF[$1]}," | awk '{print $3}' | sed 's/.*://' | sort | head -n 1
}
connects () { grep -c "transport: connected to" "$T/$1.log"; }
declare -A PORT_BEFORE CONNECTS_BEFORE
for d in d1 d3; do
    PORT_BEFORE[$d]=$(local_port "$d" "$MESH_PORT")
    CONNECTS_BEFORE[$d]=$(connects "$d")
    [[ -n "${PORT_BEFORE[$d]}" ]] || fail "$d has no connection to the coordinator"
done
for g in g1 g3; do
    PORT_BEFORE[$g]=$(local_port "$g" "$LISTEN")
    CONNECTS_BEFORE[$g]=$(connects "$g")
    [[ -n "${PORT_BEFORE[$g]}" ]] || fail "$g has no connection to the server"
done
server_connects=$(connects server)
server_port=$(local_port server "$MESH_PORT")

say "revoke d2 (linked to the coordinator)"
ctl device revoke d2 > /dev/null || fail "device revoke d2"
wait_for 'grep -q "refused our key" "$T/d2.log"' 15 || fail "d2 was not refused when it dialled again"

say "revoke g2 (on the server's listener)"
ctl device revoke g2 > /dev/null || fail "device revoke g2"
wait_for 'grep -q "closing link .* of a revoked peer" "$T/server.log"' 15 \
    || fail "the server did not close g2's link"
wait_for 'grep -q "refused our key" "$T/g2.log"' 15 || fail "g2 was not refused when it dialled again"

say "the others kept their connections and keep flowing"
ctl twin set d1 '{"after": 1}' > /dev/null || fail "twin set d1"
ctl twin set d3 '{"after": 3}' > /dev/null || fail "twin set d3"
ctl twin set g1 '{"after": 11}' > /dev/null || fail "twin set g1"
ctl twin set g3 '{"after": 13}' > /dev/null || fail "twin set g3"
wait_for 'twin_synced d1 after 1 && twin_synced d3 after 3' 20 || fail "d1/d3 twins did not flow"
wait_for 'twin_synced g1 after 11 && twin_synced g3 after 13' 20 || fail "g1/g3 twins did not flow"
for n in d1 d3; do
    [[ "$(local_port "$n" "$MESH_PORT")" == "${PORT_BEFORE[$n]}" ]] \
        || fail "$n's connection to the coordinator changed (it was dropped)"
    [[ "$(connects "$n")" == "${CONNECTS_BEFORE[$n]}" ]] || fail "$n reconnected"
done
for n in g1 g3; do
    [[ "$(local_port "$n" "$LISTEN")" == "${PORT_BEFORE[$n]}" ]] \
        || fail "$n's connection to the server changed (it was dropped)"
    [[ "$(connects "$n")" == "${CONNECTS_BEFORE[$n]}" ]] || fail "$n reconnected"
done
[[ "$(connects server)" == "$server_connects" && "$(local_port server "$MESH_PORT")" == "$server_port" ]] \
    || fail "the server's own uplink was dropped"
grep -q "disconnected from" "$T/d1.log" "$T/d3.log" "$T/g1.log" "$T/g3.log" \
    && fail "a node that was not revoked saw its link drop"
grep -q "closed the mesh connection of revoked d2" "$T/coord.log" \
    || fail "the coordinator did not say it closed d2's connection"
wait_for '! is_online d2 && ! is_online g2' 30 || fail "revoked devices still online"
all_online d1 d3 server g1 g3 || fail "a device that was not revoked went offline"
say "ok"
