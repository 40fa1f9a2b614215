#!/usr/bin/env bash
#   21-mesh-ring - a ring of 6 nodes, n0 the only one with an uplink;
#   n(i) dials n(i+1). The link n0 -> n1 is cut by n0's fault switch:
#   n1 (and n2 behind it) re-route the long way round, twin changes
#   made across the cut all arrive, in order and once, and no envelope
#   ever runs out of hops (a loop would burn them). Then the link
#   comes back and the short path is taken again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"

start_coord
N=6
names=()
for i in $(seq 0 $((N - 1))); do names+=("n$i"); done
say "enrol ${names[*]}"
enrol_nodes "${names[@]}"
declare -A LISTEN=()
for name in "${names[@]}"; do LISTEN[$name]=$(free_port); done
endpoint () { echo "tcp://127.0.0.1:${LISTEN[$1]}"; }

say "wire the ring: n(i) dials n(i+1); only n0 dials the coordinator"
for i in $(seq 0 $((N - 1))); do
    name=n$i
    next=n$(( (i + 1) % N ))
    extra=(--no-coordinator)
    [[ $i == 0 ]] && extra=(--fault-file "$T/n0.fault")
    start_node "$name" --listen "$(endpoint "$name")" "${extra[@]}" \
        --neighbour "$(curve "$next")@$(endpoint "$next")"
done
all_online () { for n in "${names[@]}"; do is_online "$n" || return 1; done; }
wait_for all_online 30 || fail "ring not online: $(ctl device list)"
expect_hops () {    #   n0 n1 ... n5
    local i=0 h
    for h in "$@"; do
        [[ "$(hops "n$i")" == "$h" ]] || return 1
        i=$((i + 1))
    done
}
wait_for 'expect_hops 1 2 3 4 3 2' 20 \
    || fail "hops: $(for n in "${names[@]}"; do echo -n "$n=$(hops "$n") "; done)"
ctl device list

say "twins to every node"
for name in "${names[@]}"; do
    ctl twin set "$name" '{"rate": 1}' > /dev/null || fail "twin set $name"
done
all_synced () { for n in "${names[@]}"; do twin_synced "$n" rate "$1" || return 1; done; }
wait_for 'all_synced 1' 20 || fail "twins not synced before the cut"

say "cut n0 -> n1; change twins while the ring re-routes"
endpoint n1 > "$T/n0.fault"
wait_for 'grep -q "link to .* cut" "$T/n0.log"' 5 || fail "fault switch did not cut"
for v in $(seq 2 11); do
    for name in "${names[@]}"; do
        ctl twin set "$name" "{\"rate\": $v}" > /dev/null || fail "twin set $name during the cut"
    done
    sleep 0.3
done
#   n1 goes the long way: n1 n2 n3 n4 n5 n0 coordinator
wait_for 'expect_hops 1 6 5 4 3 2' 30 \
    || fail "no re-route: $(for n in "${names[@]}"; do echo -n "$n=$(hops "$n") "; done)"
wait_for 'all_synced 11' 30 || fail "twins not synced after the re-route: $(ctl device list)"
grep -q "route to the coordinator via n2" "$T/n1.log" || fail "n1 did not route via n2"

say "restore the link: back to the short path"
rm -f "$T/n0.fault"
wait_for 'expect_hops 1 2 3 4 3 2' 30 \
    || fail "hops after restore: $(for n in "${names[@]}"; do echo -n "$n=$(hops "$n") "; done)"
for name in "${names[@]}"; do
    ctl twin set "$name" '{"rate": 12}' > /dev/null || fail "twin set $name after"
done
wait_for 'all_synced 12' 20 || fail "twins not synced after the restore"

say "no loop, no loss: no envelope ran out of hops, every version applied once, in order"
#   Counters arrive with NODE_STATS every 5 heartbeats
sleep 6
for name in "${names[@]}"; do
    applied_in_order "$name" || fail "$name applied a desired version twice or out of order"
    h=$(mesh_stat "$name" dropped.hop_limit)
    [[ "$h" == 0 ]] || fail "$name dropped $h envelopes at the hop limit (a loop?)"
done
ctl device list
say "ok"
