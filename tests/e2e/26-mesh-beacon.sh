#!/usr/bin/env bash
#   26-mesh-beacon - LAN discovery on lo: a server (with an uplink) and
#   two gateways (without one), none with a configured neighbour, find
#   each other by beacons (--beacon lo) and the gateways reach the
#   coordinator through the server. A node of another deployment on the
#   same LAN and port is ignored (its fingerprint is not ours); a forged
#   beacon with our fingerprint that points at it gets dialled, fails
#   the HELLO check, is never admitted, and is dropped and banned; junk
#   datagrams are ignored. A node that stops is let go by its peers
#   once its beacons stop.
#   UDP broadcast on lo: a datagram to 127.255.255.255 reaches every
#   socket bound to the port on lo (Linux keeps the local broadcast
#   route), so no namespace is needed; each run uses its own UDP port.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"

free_udp_port () {
    local port
    for _ in $(seq 100); do
        port=$(( 20000 + RANDOM % 12000 ))
        [[ "$PORTS_TAKEN" == *" $port "* ]] && continue
        if [[ -z "$(ss -Huan "( sport = :$port )" 2>/dev/null)" ]]; then
            PORTS_TAKEN="$PORTS_TAKEN$port "
            echo "$port"
            return 0
        fi
    done
    fail "no free UDP port"
}

#   Send one datagram (hex) to the beacon port on lo, as anyone on the LAN could
send_datagram () {
    python3 -c '
import socket, sys
s = socket.socket (socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt (socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.sendto (bytes.fromhex (sys.argv [1]), ("127.255.255.255", int (sys.argv [2])))' "$1" "$BEACON_PORT"
}

#   A version 1 beacon: beacon_hex CA_KEY_HEX PORT CURVE_KEY_HEX
beacon_hex () {
    python3 -c '
import hashlib, sys
ca, port, key = bytes.fromhex (sys.argv [1]), int (sys.argv [2]), bytes.fromhex (sys.argv [3])
print ((b"WFTB" + bytes ([1]) + hashlib.blake2b (ca, digest_size = 32).digest () [:16]
        + port.to_bytes (2, "big") + key).hex ())' "$1" "$2" "$3"
}

BEACON_PORT=$(free_udp_port)
start_coord
say "enrol server, gw1, gw2"
enrol_nodes server gw1 gw2
declare -A LISTEN=()
for name in server gw1 gw2; do
    LISTEN[$name]=$(free_port)
done
say "start them with beacons on lo and no configured neighbour"
start_node server --listen "tcp://127.0.0.1:${LISTEN[server]}" \
    --beacon lo --beacon-port "$BEACON_PORT"
for name in gw1 gw2; do
    start_node "$name" --no-coordinator --listen "tcp://127.0.0.1:${LISTEN[$name]}" \
        --beacon lo --beacon-port "$BEACON_PORT"
done
wait_for 'is_online gw1 && is_online gw2 && is_online server' 30 \
    || fail "gateways not online through discovered neighbours"
grep -q "announcing and listening on lo" "$T/gw1.log" || fail "gw1 did not announce"
grep -h "dialling discovered peer" "$T"/server.log "$T"/gw*.log
[[ "$(cat "$T"/server.log "$T"/gw*.log | grep -c 'dialling discovered peer')" -ge 2 ]] \
    || fail "fewer than 2 discovered links dialled"
wait_for '[[ "$(hops gw1)" == 2 && "$(hops gw2)" == 2 && "$(hops server)" == 1 ]]' 15 \
    || fail "hops: server $(hops server) gw1 $(hops gw1) gw2 $(hops gw2)"

say "twins across the discovered links"
ctl twin set gw1 '{"rate": 1}' > /dev/null || fail "twin set gw1"
ctl twin set gw2 '{"rate": 2}' > /dev/null || fail "twin set gw2"
wait_for 'twin_synced gw1 rate 1 && twin_synced gw2 rate 2' 20 \
    || fail "twins not synced: $(ctl --json twin get gw2)"

say "a node of another deployment beacons on the same LAN and port"
C2_MESH=$(free_port); C2_ENROL=$(free_port); C2_RPC=$(free_port)
"$COORD" --data-dir "$T/coord2" --bind 127.0.0.1 --mesh-port "$C2_MESH" \
    --enrol-port "$C2_ENROL" --rpc-port "$C2_RPC" >> "$T/coord2.log" 2>&1 &
PID_OF[coord2]=$!
ctl2 () { WEFT_IDENTITY="$T/coord2/admin.op" "$CTL" --timeout 5 "$@"; }
wait_for "[[ -s '$T/coord2/admin.op' ]] && ctl2 --timeout 1 stats" 20 || fail "coord2 did not start"
LISTEN[alien]=$(free_port)
"$NODE" --data-dir "$T/alien" --name alien --coordinator "tcp://127.0.0.1:$C2_MESH" \
    --enrol-endpoint "tcp://127.0.0.1:$C2_ENROL" --heartbeat 1 -v \
    --apply-file "$T/alien.applied.json" --token-file "$(token_file "$(ctl2 token create 2>/dev/null)")" \
    --listen "tcp://127.0.0.1:${LISTEN[alien]}" --beacon lo --beacon-port "$BEACON_PORT" \
    >> "$T/alien.log" 2>&1 &
PID_OF[alien]=$!
wait_for "WEFT_IDENTITY='$T/coord2/admin.op' is_online alien" 20 || fail "alien not online at coord2"
wait_for 'grep -q "beacon from 127.0.0.1 ignored: another deployment" "$T/gw1.log"' 10 \
    || fail "gw1 did not ignore the other deployment's beacon"
wait_for 'grep -q "beacon from 127.0.0.1 ignored: another deployment" "$T/alien.log"' 10 \
    || fail "alien did not ignore our beacons"
sleep 2
! grep -q "dialling discovered peer tcp://127.0.0.1:${LISTEN[alien]}" "$T"/server.log "$T"/gw*.log \
    || fail "a node dialled the other deployment's node from its own beacon"

say "junk datagrams and a forged beacon (our fingerprint, the alien's key and port)"
send_datagram "00112233"
send_datagram "$(printf 'ab%.0s' $(seq 600))"
wait_for 'grep -q "ignored: malformed" "$T/gw2.log"' 5 || fail "junk not reported as malformed"
FORGED=$(beacon_hex "$(keyfile_value "$T/gw1/node.key" ca_key)" "${LISTEN[alien]}" \
    "$(keyfile_value "$T/alien/node.key" curve_public)")
[[ ${#FORGED} == 110 ]] || fail "forged beacon has the wrong size: $FORGED"
for _ in $(seq 6); do
    send_datagram "$FORGED"
    sleep 1
done
grep -h "dialling discovered peer tcp://127.0.0.1:${LISTEN[alien]}" "$T"/server.log "$T"/gw*.log
[[ "$(cat "$T"/server.log "$T"/gw*.log \
      | grep -c "dialling discovered peer tcp://127.0.0.1:${LISTEN[alien]}")" == 3 ]] \
    || fail "the forged peer was not dialled by all three nodes (each once)"
wait_for 'grep -q "HELLO from .* refused: certificate does not verify with our CA" "$T/alien.log"' 10 \
    || fail "the alien did not refuse our HELLO"
wait_for '[[ "$(cat "$T"/server.log "$T"/gw*.log | grep -c "dropping discovered peer tcp://127.0.0.1:${LISTEN[alien]}: no valid HELLO in time")" == 3 ]]' 20 \
    || fail "the forged peer was not dropped by every node"
send_datagram "$FORGED"
wait_for 'grep -q "ignored: banned" "$T/gw1.log"' 5 || fail "the forged peer was not banned"
! grep -q "neighbour alien on" "$T"/server.log "$T"/gw*.log || fail "alien was admitted"
! ctl device show alien > /dev/null 2>&1 || fail "the coordinator knows alien"

say "the discovered mesh still works"
ctl twin set gw2 '{"rate": 3}' > /dev/null || fail "twin set gw2"
wait_for 'twin_synced gw2 rate 3' 20 || fail "gw2 not synced after the forgery"
is_online gw1 || fail "gw1 went offline"

say "gw2 stops: its peers let it go once its beacons stop"
stop_proc gw2
for name in server gw1; do
    wait_for "grep -Eq '(dropping|forgetting) discovered peer tcp://127.0.0.1:${LISTEN[gw2]}: no beacon in time' '$T/$name.log'" 20 \
        || fail "$name did not let the silent gw2 go"
done
grep -h "discovered peer tcp://127.0.0.1:${LISTEN[gw2]}: no beacon" "$T"/server.log "$T"/gw1.log
ctl twin set gw1 '{"rate": 4}' > /dev/null || fail "twin set gw1"
wait_for 'twin_synced gw1 rate 4' 20 || fail "gw1 not synced after gw2 left"
say "ok"
