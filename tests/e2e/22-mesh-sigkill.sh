#!/usr/bin/env bash
#   22-mesh-sigkill - a relay killed with SIGKILL at random moments, 20
#   times in a row, loses no envelope it acknowledged. A neighbour
#   (weft-probe speaking as the enrolled node "src") hands the relay 300
#   twin reports, a few at a time, and retransmits each until the relay's
#   CUSTODY_ACK. For the first 10 kills the relay's uplink is cut, so
#   what it acknowledged waits in its outbox across the kills; for the
#   last 10 it forwards while being killed. Every envelope the relay
#   acknowledged must reach the coordinator (its log names each custody
#   transfer it receives), and the newest report is the one it holds.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"

start_coord
enrol_nodes relay src
LISTEN=$(free_port)
RELAY_EP="tcp://127.0.0.1:$LISTEN"
start_relay () { start_node relay --listen "$RELAY_EP" --fault-file "$T/uplink-cut"; }
start_relay
wait_for 'is_online relay' 20 || fail "relay not online"
touch "$T/uplink-cut"
wait_for 'grep -q "coordinator link cut" "$T/relay.log"' 5 || fail "fault switch did not cut"

COUNT=300
FIRST=1000
say "src hands $COUNT reports to the relay; the relay is SIGKILLed 20 times meanwhile"
"$PROBE" mesh-send "$RELAY_EP" --keyfile "$T/src/node.key" --server-key "$(curve relay)" \
    --count $COUNT --seq $FIRST --window 4 --timeout 120000 > "$T/answers.txt" 2> "$T/probe.log" &
PID_OF[probe]=$!
for kill in $(seq 1 20); do
    sleep "0.$(( 2 + RANDOM % 6 ))$(( RANDOM % 10 ))"
    kill -KILL "${PID_OF[relay]}"
    { wait "${PID_OF[relay]}"; } 2>/dev/null
    echo "---- SIGKILL $kill" >> "$T/relay.log"
    (( kill == 10 )) && rm -f "$T/uplink-cut"
    start_relay
done
held=$(grep -o 'mesh: started, [0-9]* queued' "$T/relay.log" | awk '$3 > 0' | wc -l)
say "the relay restarted $held times with envelopes in custody"
(( held >= 5 )) || fail "the kills never caught the relay holding anything"
acked_during=$(grep -c '^acked' "$T/answers.txt")
say "$acked_during acknowledged while the relay was being killed"
(( acked_during > 0 )) || fail "the relay acknowledged nothing between kills"
wait "${PID_OF[probe]}" || fail "not every envelope was answered: $(tail -n 2 "$T/probe.log")"
unset "PID_OF[probe]"
[[ "$(grep -c '^acked' "$T/answers.txt")" == "$COUNT" ]] \
    || fail "$(grep -c '^denied' "$T/answers.txt") envelopes denied"

say "every acknowledged envelope reaches the coordinator"
arrived () {
    grep -o 'custody transfer [0-9a-f]* of src' "$T/coord.log" | awk '{print $3}' \
        | sort -u > "$T/arrived.txt"
    awk '{print $2}' "$T/answers.txt" | sort -u > "$T/acked.txt"
    [[ -z "$(comm -23 "$T/acked.txt" "$T/arrived.txt")" ]]
}
wait_for arrived 40 || fail "$(comm -23 "$T/acked.txt" "$T/arrived.txt" | wc -l) acknowledged envelopes lost"
wait_for '[[ "$(ctl --json twin get src | jget reported_version)" == $((FIRST + COUNT - 1)) ]]' 10 \
    || fail "newest report not held: $(ctl --json twin get src | jget reported_version)"
say "ok ($(wc -l < "$T/arrived.txt") distinct custody transfers arrived)"
