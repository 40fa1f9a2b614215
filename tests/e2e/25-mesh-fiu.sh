#!/usr/bin/env bash
#   25-mesh-fiu - the custody path under injected I/O failures: the relay
#   runs under libfiu (fiu-run): LMDB's pwrite and every fsync/fdatasync
#   fail at random (5%; not plain writes, which libzmq's own signalling
#   needs and asserts on). A neighbour (weft-probe as
#   the enrolled node "src") hands it 300 reports and retransmits each
#   until the relay's CUSTODY_ACK. The relay is restarted (still under
#   faults) whenever a failed commit made it exit; after 8 s it is
#   restarted without faults. Failed commits are logged and never acknowledged:
#   every envelope the relay acknowledged reaches the coordinator. Skipped (passes) when fiu-run is not installed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"
command -v fiu-run > /dev/null || { say "fiu-run not installed; skipped"; exit 0; }
#   fiu's LD_PRELOAD and AddressSanitizer's interposition do not mix
ldd "$NODE" | grep -q libasan && { say "sanitizer build: skipped (fiu preload)"; exit 0; }

start_coord
enrol_nodes relay src
LISTEN=$(free_port)
RELAY_EP="tcp://127.0.0.1:$LISTEN"
#   The relay under fault injection. A failed meta-page write makes LMDB
#   refuse every later transaction (MDB_PANIC) and the relay exits so that
#   a restart recovers; like a service manager, the test starts it again
#   (still under faults) whenever it has exited.
RESTARTS=0
fiu_relay () {
    if [[ -n "${PID_OF[relay]:-}" ]] && kill -0 "${PID_OF[relay]}" 2>/dev/null; then
        return 0
    fi
    [[ -n "${PID_OF[relay]:-}" ]] && RESTARTS=$((RESTARTS + 1))
    # shellcheck disable=SC2046
    fiu-run -x -c 'enable_random name=posix/io/rw/pwrite,probability=0.05' \
        -c 'enable_random name=posix/io/sync/*,probability=0.05' \
        "$NODE" $(node_args relay) --listen "$RELAY_EP" >> "$T/relay.log" 2>&1 &
    PID_OF[relay]=$!
}
fiu_relay
wait_for 'fiu_relay; is_online relay' 30 || fail "relay not online under fiu-run"

COUNT=300
FIRST=1000
say "src hands $COUNT reports to the relay while its writes and syncs fail at random"
"$PROBE" mesh-send "$RELAY_EP" --keyfile "$T/src/node.key" --server-key "$(curve relay)" \
    --count $COUNT --seq $FIRST --window 20 --timeout 50000 > "$T/answers.txt" 2> "$T/probe.log" &
PID_OF[probe]=$!
FAULT_END=$((SECONDS + 8))
while (( SECONDS < FAULT_END )); do
    fiu_relay
    sleep 0.2
done
failed=$(grep -c "commit failed; the burst is not acknowledged" "$T/relay.log")
say "$failed commits failed, $RESTARTS restarts, $(grep -c '^acked' "$T/answers.txt") envelopes acknowledged"
(( failed > 0 )) || fail "no commit failed: the fault injection did not bite"
say "restart the relay without fault injection"
stop_proc relay KILL
start_node relay --listen "$RELAY_EP"
wait "${PID_OF[probe]}" || fail "not every envelope was answered: $(tail -n 1 "$T/probe.log")"
unset "PID_OF[probe]"
arrived () {
    grep -o 'custody transfer [0-9a-f]* of src' "$T/coord.log" | awk '{print $3}' \
        | sort -u > "$T/arrived.txt"
    awk '$1 == "acked" {print $2}' "$T/answers.txt" | sort -u > "$T/acked.txt"
    [[ -z "$(comm -23 "$T/acked.txt" "$T/arrived.txt")" ]]
}
wait_for arrived 30 || fail "$(comm -23 "$T/acked.txt" "$T/arrived.txt" | wc -l) acknowledged envelopes lost"
say "ok"
