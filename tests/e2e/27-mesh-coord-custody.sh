#!/usr/bin/env bash
#   27-mesh-coord-custody - the coordinator keeps custody of what it
#   sends through a relay. gw dials two site servers, srv-a and srv-b,
#   and reaches the coordinator through srv-a; it heartbeats only every
#   2 minutes. srv-a is SIGKILLed: gw's route moves to srv-b (it never
#   loses one, so nothing makes it heartbeat early), and a twin.set for
#   gw is pushed meanwhile, through the relay the coordinator knows,
#   srv-a, whose connection is gone: the coordinator holds it (durably)
#   for srv-a. srv-a comes back after 16 s: its new connection makes the
#   coordinator send it at once, over that connection, until srv-a's
#   CUSTODY_ACK, and gw holds the new version within 8 s (gw dials srv-a
#   again within 5 s, tcplink.h) instead of at its next heartbeat. weftctl stats counts the frame held, then
#   acknowledged.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"

start_coord
say "enrol srv-a srv-b gw"
enrol_nodes srv-a srv-b gw
declare -A LISTEN=([srv-a]=$(free_port) [srv-b]=$(free_port))
endpoint () { echo "tcp://127.0.0.1:${LISTEN[$1]}"; }
start_srv () { start_node "$1" --listen "$(endpoint "$1")"; }
start_srv srv-a
start_srv srv-b
wait_for 'is_online srv-a && is_online srv-b' 20 || fail "servers not online"
#   gw links to srv-b only once its route goes through srv-a (a node
#   keeps its route while another as short appears)
endpoint srv-b > "$T/gw-cut"
start_node gw --no-coordinator --heartbeat 120 --fault-file "$T/gw-cut" \
    --neighbour "$(curve srv-a)@$(endpoint srv-a),$(curve srv-b)@$(endpoint srv-b)"
wait_for '[[ "$(hops gw)" == 2 ]] && grep -q "coord: gw connected via srv-a" "$T/coord.log"' 20 \
    || fail "gw not reached through srv-a: hops $(hops gw)"
rm -f "$T/gw-cut"
wait_for 'grep -q "mesh: neighbour srv-b" "$T/gw.log"' 10 || fail "gw did not link to srv-b"

say "a push through srv-a, acknowledged by it"
ctl twin set gw '{"rate": 1}' > /dev/null || fail "twin set 1"
wait_for 'twin_synced gw rate 1' 10 || fail "first push not applied: $(ctl --json twin get gw)"
wait_for '(( $(counter custody_acked) >= 1 ))' 10 || fail "no CUSTODY_ACK from the relay: $(ctl stats)"
acked_before=$(counter custody_acked)

say "SIGKILL srv-a; gw moves to srv-b; a push for gw is lost with srv-a's connection"
stop_proc srv-a KILL
wait_for 'grep -q "route to the coordinator via srv-b" "$T/gw.log"' 10 \
    || fail "gw did not move to srv-b"
ctl twin set gw '{"rate": 2}' > /dev/null || fail "twin set 2"
sleep 16
[[ "$(jget rate < "$T/gw.applied.json")" == 1 ]] || fail "gw got the push with srv-a down"
[[ "$(counter custody_held)" == 1 ]] || fail "the coordinator does not hold the push: $(ctl stats)"

say "srv-a comes back: the coordinator retransmits through it"
start_srv srv-a
START=$SECONDS
wait_for 'twin_synced gw rate 2' 8 \
    || fail "gw does not hold the new version 8 s after srv-a came back: $(ctl --json twin get gw)"
say "gw holds version 2 after $((SECONDS - START)) s (its next heartbeat is due 2 minutes after its start)"
wait_for '(( $(counter custody_acked) > acked_before )) && [[ "$(counter custody_held)" == 0 ]]' 5 \
    || fail "srv-a did not acknowledge the push: $(ctl stats)"
ctl stats | grep custody_
grep -q "coord: srv-a linked again: 1 frames through it due now" "$T/coord.log" \
    || fail "srv-a's new connection did not wake the frame kept for gw"
say "ok"
