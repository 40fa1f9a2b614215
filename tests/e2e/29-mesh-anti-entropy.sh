#!/usr/bin/env bash
#   29-mesh-anti-entropy - a node that missed policy changes pulls exactly
#   what it missed when it comes back, nothing more. Coordinator - site
#   server - gw1 and gw2 (2 hops); gw3 dials gw2 (3 hops).
#   1. gw3's link to gw2 is cut (its fault switch) while two profiles
#      change, one is added and a device is revoked: when the link
#      returns gw3 pulls those 3 (pulled and wanted grow by 3, not by the
#      7 objects held) and gets the new revocation list.
#   2. gw2 is stopped while one profile changes and one is added; then
#      the server's uplink is cut and gw2 restarts: with the site cut off
#      from the coordinator, the server serves gw2 the 2 it missed (and
#      gw2 passes them on to gw3), counted by the restarted gw2 as
#      exactly 2 pulled.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"

start_coord
nodes=(server gw1 gw2 gw3)
say "enrol ${nodes[*]} spare"
enrol_nodes "${nodes[@]}" spare
declare -A LISTEN=()
for name in "${nodes[@]}"; do LISTEN[$name]=$(free_port); done
endpoint () { echo "tcp://127.0.0.1:${LISTEN[$1]}"; }
declare -A UP=([gw1]=server [gw2]=server [gw3]=gw2)
start_server () { start_node server --listen "$(endpoint server)" --fault-file "$T/uplink-cut"; }
start_gw () {
    start_node "$1" --no-coordinator --listen "$(endpoint "$1")" --fault-file "$T/$1-cut" \
        --neighbour "$(curve "${UP[$1]}")@$(endpoint "${UP[$1]}")"
}
start_server
for gw in gw1 gw2 gw3; do start_gw "$gw"; done
topology () { [[ "$(hops gw1)" == 2 && "$(hops gw2)" == 2 && "$(hops gw3)" == 3 ]]; }
wait_for topology 40 || fail "topology: $(ctl device list)"

Z64=$(printf '0%.0s' $(seq 64))
#   profile NAME [PCR]: set the profile of device type NAME
profile () {
    echo "{\"pcrs\": {\"${2:-0}\": \"$Z64\"}}" > "$T/$1.json"
    ctl attest profile set "$1" "$T/$1.json" > /dev/null || fail "profile $1"
}
holds () { grep -q "gossip: $2 version $3 stored" "$T/$1.log"; }
all_hold () {
    local name
    for name in "${nodes[@]}"; do holds "$name" "$1" "$2" || return 1; done
}
#   Lines gw logged for objects it pulled (not pushed to it)
pulled_lines () { grep -c 'stored (pulled from' "$T/$1.log"; }

say "6 profiles everywhere"
for p in p1 p2 p3 p4 p5 p6; do profile "$p"; done
for p in p1 p2 p3 p4 p5 p6; do
    wait_for "all_hold profile/$p 1" 30 || fail "profile/$p did not reach every node"
done
settled () { [[ "$(mesh_stat gw3 policies.held)" == 6 ]]; }
wait_for settled 30 || fail "gw3 does not report 6 policies"
pulled0=$(mesh_stat gw3 policies.pulled)
wanted0=$(mesh_stat gw3 policies.wanted)
stored0=$(mesh_stat gw3 policies.stored)
lines0=$(pulled_lines gw3)

say "1. cut gw3 - gw2; change p1, p2, add p7; revoke spare"
endpoint gw2 > "$T/gw3-cut"
wait_for 'grep -q "link to .* cut" "$T/gw3.log"' 10 || fail "gw3's link was not cut"
profile p1 7
profile p2 7
profile p7
ctl device revoke spare > /dev/null || fail "revoke spare"
for key in "profile/p1 2" "profile/p2 2" "profile/p7 1"; do
    wait_for "holds gw2 $key" 20 || fail "gw2 did not get $key"
done
wait_for 'grep -q "mesh: revocation list version 1" "$T/gw2.log"' 20 || fail "gw2 did not get the revocation list"
sleep 2
holds gw3 profile/p7 1 && fail "gw3 got p7 through a cut link"
grep -q "mesh: revocation list version 1" "$T/gw3.log" && fail "gw3 got the revocation list through a cut link"
rm -f "$T/gw3-cut"
for key in "profile/p1 2" "profile/p2 2" "profile/p7 1"; do
    wait_for "holds gw3 $key" 30 || fail "gw3 did not catch up with $key"
done
wait_for 'grep -q "mesh: revocation list version 1" "$T/gw3.log"' 20 || fail "gw3 did not get the revocation list"
counted () {
    [[ "$(mesh_stat gw3 policies.held)" == 7 && "$(mesh_stat gw3 policies.stored)" == $((stored0 + 3))
       && "$(mesh_stat gw3 revocations)" == 1 ]]
}
wait_for counted 30 || fail "gw3 counters: $(ctl --json device show gw3 | jget mesh.policies)"
pulled=$(( $(mesh_stat gw3 policies.pulled) - pulled0 ))
wanted=$(( $(mesh_stat gw3 policies.wanted) - wanted0 ))
lines=$(( $(pulled_lines gw3) - lines0 ))
say "gw3 missed 3 of 7: pulled $pulled, asked for $wanted ($lines logged)"
[[ "$pulled" == 3 && "$wanted" == 3 && "$lines" == 3 ]] || fail "gw3 pulled $pulled / asked $wanted, not the 3 it missed"

say "2. stop gw2; change p3, add p8; cut the site's uplink; restart gw2"
stop_proc gw2
profile p3 7
profile p8
for name in server gw1; do
    wait_for "holds $name profile/p8 1 && holds $name profile/p3 2" 20 || fail "$name did not get p3, p8"
done
touch "$T/uplink-cut"
wait_for 'grep -q "coordinator link cut" "$T/server.log"' 10 || fail "uplink not cut"
lines0=$(pulled_lines gw2)
start_gw gw2
for name in gw2 gw3; do
    wait_for "holds $name profile/p8 1 && holds $name profile/p3 2" 30 \
        || fail "$name did not catch up while the site is cut off"
done
lines=$(( $(pulled_lines gw2) - lines0 ))
[[ "$lines" == 2 ]] || fail "gw2 logged $lines objects pulled, not the 2 it missed"
grep -q 'coordinator link restored' "$T/server.log" && fail "the uplink came back too early"
say "restore the uplink; gw2's own counters (since its restart)"
rm -f "$T/uplink-cut"
restarted () {
    [[ "$(mesh_stat gw2 policies.held)" == 8 && "$(mesh_stat gw2 policies.stored)" == 2 ]]
}
wait_for restarted 40 || fail "gw2 counters: $(ctl --json device show gw2 | jget mesh.policies)"
[[ "$(mesh_stat gw2 policies.pulled)" == 2 && "$(mesh_stat gw2 policies.wanted)" == 2 ]] \
    || fail "gw2 counters: $(ctl --json device show gw2 | jget mesh.policies)"
say "ok"
