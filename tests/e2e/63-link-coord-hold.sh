#!/usr/bin/env bash
#   63-link-coord-hold - the coordinator holds what it sends to a device
#   behind a site server whose uplink is down, durably, within a budget.
#   gw reaches the coordinator only through srv and heartbeats every
#   2 minutes (so only the coordinator's custody brings it anything).
#   A. srv's uplink is cut; 10 desired changes for gw are held (not the
#      last 4 of them), and when the uplink returns gw receives all 10,
#      in order.
#   B. Cut again, 5 changes held, the coordinator restarts: it still
#      holds the 5 (read back from its store), and gw converges when the
#      uplink returns; nothing stays held.
#   C. Cut again, 40 changes of 30 KiB each: past the per-device budget
#      (1 MiB) the coordinator refuses to hold more, says so and counts
#      it (custody_over_budget); gw still converges on the last version
#      when the uplink returns (its heartbeat brings it).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"

start_coord
say "enrol srv gw"
enrol_nodes srv gw
LISTEN=$(free_port)
start_node srv --listen "tcp://127.0.0.1:$LISTEN" --fault-file "$T/uplink-cut"
start_node gw --no-coordinator --heartbeat 120 --neighbour "$(curve srv)@tcp://127.0.0.1:$LISTEN"
wait_for '[[ "$(hops gw)" == 2 ]]' 30 || fail "gw not reached through srv: $(ctl device list)"
ctl twin set gw '{"v": 1}' > /dev/null || fail "twin set 1"
wait_for 'twin_synced gw v 1' 15 || fail "gw not synced: $(ctl --json twin get gw)"

cut () {
    touch "$T/uplink-cut"
    wait_for "[[ \$(grep -c 'coordinator link cut' '$T/srv.log') -ge $1 ]]" 5 || fail "srv's uplink not cut"
}
received () { grep -c "twin: received desired version" "$T/gw.log"; }

say "A. uplink cut: 10 changes held, all delivered when it returns"
cut 1
before=$(received)
for v in $(seq 2 11); do ctl twin set gw "{\"v\": $v}" > /dev/null || fail "twin set $v"; done
[[ "$(counter custody_held)" == 10 ]] || fail "the coordinator does not hold the 10: $(ctl stats)"
[[ "$(counter custody_over_budget)" == 0 ]] || fail "refused within the budget: $(ctl stats)"
rm -f "$T/uplink-cut"
wait_for 'twin_synced gw v 11' 20 || fail "gw did not converge: $(ctl --json twin get gw)"
got=$(grep "twin: received desired version" "$T/gw.log" | tail -n +$((before + 1)) \
      | awk '{print $NF}' | tr '\n' ' ')
say "gw received versions: $got"
[[ "$got" == "2 3 4 5 6 7 8 9 10 11 " ]] || fail "gw did not receive all 10 versions in order: $got"
wait_for '[[ "$(counter custody_held)" == 0 ]]' 10 || fail "frames still held: $(ctl stats)"

say "B. cut, 5 changes held, the coordinator restarts: still held"
cut 2
for v in $(seq 12 16); do ctl twin set gw "{\"v\": $v}" > /dev/null || fail "twin set $v"; done
[[ "$(counter custody_held)" == 5 ]] || fail "the coordinator does not hold the 5: $(ctl stats)"
stop_proc coord
start_coord
grep -q "coord: 5 frames held in custody from the last run" "$T/coord.log" \
    || fail "the restarted coordinator did not read back what it held"
[[ "$(counter custody_held)" == 5 ]] || fail "held after the restart: $(counter custody_held)"
rm -f "$T/uplink-cut"
wait_for 'twin_synced gw v 16' 30 || fail "gw did not converge after the restart: $(ctl --json twin get gw)"
wait_for '[[ "$(counter custody_held)" == 0 ]]' 20 || fail "frames still held: $(ctl stats)"

say "C. cut, 40 changes of 30 KiB: over the 1 MiB budget, refused and counted"
cut 3
pad=$(head -c 30000 /dev/zero | tr '\0' 'x')
for v in $(seq 17 56); do
    ctl twin set gw "{\"v\": $v, \"pad\": \"$pad\"}" > /dev/null || fail "twin set $v"
done
refused=$(counter custody_over_budget)
held=$(counter custody_held)
say "held $held, refused $refused"
(( refused > 0 )) || fail "nothing refused past the budget: $(ctl stats)"
(( held > 4 && held < 40 )) || fail "held $held of 40"
grep -q "is not held: over the custody budget" "$T/coord.log" || fail "no warning for the refused frames"
rm -f "$T/uplink-cut"
wait_for 'twin_synced gw v 56' 30 || fail "gw did not converge on the last version: $(ctl --json twin get gw | head -c 300)"
say "ok"
