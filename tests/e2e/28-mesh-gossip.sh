#!/usr/bin/env bash
#   28-mesh-gossip - site-wide policies spread by gossip. Coordinator -
#   site server - gw1, gw2, gw3, gw6 dial the server (2 hops), gw4 dials
#   gw1 (3 hops), gw5 dials gw4 (4 hops). The coordinator publishes 4
#   security profiles and the IMA allowlist, then changes one profile:
#   every node ends up holding exactly those 5 objects at their newest
#   version (each version stored once per node). The server has 4
#   gateways but pushes a new object to at most 3 (bounded fan-out); the
#   one left out gets the server's summary instead and pulls it. A forged object, an unsigned
#   one and a stale version (really signed by the CA) gossiped to gw2 by
#   a neighbour are refused, counted and go no further.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"

start_coord
gws=(gw1 gw2 gw3 gw4 gw5 gw6)
nodes=(server "${gws[@]}")
say "enrol ${nodes[*]} src"
enrol_nodes "${nodes[@]}" src
declare -A LISTEN=()
for name in "${nodes[@]}"; do LISTEN[$name]=$(free_port); done
endpoint () { echo "tcp://127.0.0.1:${LISTEN[$1]}"; }
declare -A UP=([gw1]=server [gw2]=server [gw3]=server [gw6]=server [gw4]=gw1 [gw5]=gw4)
start_node server --listen "$(endpoint server)"
for gw in "${gws[@]}"; do
    start_node "$gw" --no-coordinator --listen "$(endpoint "$gw")" \
        --neighbour "$(curve "${UP[$gw]}")@$(endpoint "${UP[$gw]}")"
done
topology () {
    local gw
    for gw in gw1 gw2 gw3 gw6; do [[ "$(hops $gw)" == 2 ]] || return 1; done
    [[ "$(hops gw4)" == 3 && "$(hops gw5)" == 4 ]]
}
wait_for topology 40 || fail "topology: $(ctl device list)"

say "publish 4 profiles and the allowlist at the coordinator"
Z64=$(printf '0%.0s' $(seq 64))
for t in t1 t2 t3 t4; do
    echo "{\"pcrs\": {\"0\": \"$Z64\"}, \"interval_s\": 600}" > "$T/$t.json"
    ctl attest profile set "$t" "$T/$t.json" > /dev/null || fail "profile $t"
done
printf '%s  /usr/bin/weft\n' "$(printf '1%.0s' $(seq 64))" > "$T/allow.txt"
ctl attest allowlist set "$T/allow.txt" > /dev/null || fail "allowlist"
grep -q 'publish: allowlist/fleet version 1 published' "$T/coord.log" || fail "not published"

#   A node holds key at version: its log says so (nodes run with -v)
holds () { grep -q "gossip: $2 version $3 stored" "$T/$1.log"; }
all_hold () {
    local name
    for name in "${nodes[@]}"; do holds "$name" "$1" "$2" || return 1; done
}
for key in profile/t1 profile/t2 profile/t3 profile/t4 allowlist/fleet; do
    wait_for "all_hold $key 1" 30 || fail "$key did not reach every node"
done

say "change profile t1: version 2 everywhere"
echo "{\"pcrs\": {\"0\": \"$Z64\", \"7\": \"$Z64\"}}" > "$T/t1.json"
ctl attest profile set t1 "$T/t1.json" > /dev/null || fail "profile t1 v2"
wait_for "all_hold profile/t1 2" 30 || fail "t1 version 2 did not reach every node"
#   Setting the same profile again publishes nothing new
ctl attest profile set t1 "$T/t1.json" > /dev/null || fail "profile t1 again"
sleep 1
[[ "$(grep -c 'publish: profile/t1 version' "$T/coord.log")" == 2 ]] || fail "an unchanged profile was published again"

say "counters: each version stored once per node, fan-out bounded"
stats_final () {
    local name
    for name in "${nodes[@]}"; do
        [[ "$(mesh_stat "$name" policies.held)" == 5 ]] || return 1
        [[ "$(mesh_stat "$name" policies.stored)" == 6 ]] || return 1
    done
}
wait_for stats_final 30 || fail "policy counters: $(for n in "${nodes[@]}"; do echo "$n $(ctl --json device show "$n" | jget mesh.policies)"; done)"
pulled_total=0
for name in "${nodes[@]}"; do
    stored=$(mesh_stat "$name" policies.stored)
    pushed=$(mesh_stat "$name" policies.pushed)
    dups=$(mesh_stat "$name" policies.duplicates)
    pulled=$(mesh_stat "$name" policies.pulled)
    say "$name: stored $stored pushed $pushed pulled $pulled duplicates $dups"
    (( pushed <= 3 * stored )) || fail "$name pushed $pushed for $stored new objects (fan-out 3)"
    (( dups <= stored )) || fail "$name received $dups duplicates"
    [[ "$name" == gw[1236] ]] && pulled_total=$((pulled_total + pulled))
done
#   The server pushes each of the 6 versions to 3 of its 4 gateways
(( $(mesh_stat server policies.pushed) == 18 )) || fail "server pushed $(mesh_stat server policies.pushed), not 3 x 6"
(( pulled_total >= 6 )) || fail "the gateways left out of the fan-out pulled $pulled_total, not 6"

say "forged, unsigned and stale objects gossiped to gw2 are refused"
gw2_pushed=$(mesh_stat gw2 policies.pushed)
"$PROBE" policy-make --ca "$COORD_DIR/ca.key" --kind profile --name t1 --version 99 \
    --content '{"pcrs":{}}' --mode forge --save "$T/forged.obj" || fail "policy-make forge"
"$PROBE" policy-make --ca "$COORD_DIR/ca.key" --kind profile --name t1 --version 98 \
    --content '{"pcrs":{}}' --mode unsigned --save "$T/unsigned.obj" || fail "policy-make unsigned"
"$PROBE" policy-make --ca "$COORD_DIR/ca.key" --kind profile --name t1 --version 1 \
    --content '{"pcrs":{}}' --save "$T/stale.obj" || fail "policy-make stale"
for obj in forged unsigned stale; do
    "$PROBE" policy-send "$(endpoint gw2)" --keyfile "$T/src/node.key" --server-key "$(curve gw2)" \
        --object "$T/$obj.obj" 2>> "$T/probe.log" || fail "policy-send $obj"
done
refused () {
    [[ "$(mesh_stat gw2 policies.forged)" == 2 && "$(mesh_stat gw2 policies.stale)" == 1 ]]
}
wait_for refused 20 || fail "gw2 counted $(ctl --json device show gw2 | jget mesh.policies)"
grep -q 'gossip: profile/t1 version 1 from .* refused: older than version 2' "$T/gw2.log" \
    || fail "stale version not logged"
for name in "${nodes[@]}"; do
    grep -q 'profile/t1 version 9[89] stored' "$T/$name.log" && fail "$name stored a forged object"
    [[ "$(mesh_stat "$name" policies.stored)" == 6 ]] || fail "$name stored something more"
done
[[ "$(mesh_stat gw2 policies.pushed)" == "$gw2_pushed" ]] || fail "gw2 forwarded a refused object"
say "ok"
