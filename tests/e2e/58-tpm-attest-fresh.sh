#!/usr/bin/env bash
#   58-tpm-attest-fresh - mesh membership tied to fresh attestation.
#   coordinator - site server - gw-a (swtpm, behind the server). The
#   gateway profile requires attestation every 4 s with 4 s of grace.
#   (a) never attested: the server takes only gw-a's attestation traffic
#   until its first pass brings a passport (coordinator-signed) that its
#   HELLO presents; then it is admitted and its twin flows.
#   (b) overdue, with the site cut off: gw-a stops answering (SIGSTOP)
#   and its passport lapses; the cut-off server drops its dead link and
#   refuses it by its own clock when it returns; the coordinator, which
#   cannot reach it either, alerts and quarantines it (overdue, across a
#   restart of the coordinator).
#   (c) gw-a resumes: the cut-off server attests it itself and gives it
#   a passport of its own; admitted again. The uplink returns: gw-a is
#   fresh at the coordinator too and its twin flows.
#   (d) a restarted gw-a presents its stored passport and is admitted at
#   once. (e) with gw-a stopped, its keys on a link of their own: no
#   passport, or its first (expired) one, is refused; its current one
#   is taken.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"
source "$(dirname "$0")/tpm-lib.sh"
BOOT=(8:kernel-6.1 9:initrd-6.1)
for m in "${BOOT[@]}"; do measure "$m"; done
python3 - "$T/profile.json" "${BOOT[@]}" <<'PY'
import hashlib, json, sys
pcrs = {}
for item in sys.argv[2:]:
    pcr, data = item.split(":", 1)
    d = hashlib.sha256(data.encode()).digest()
    pcrs[pcr] = hashlib.sha256(pcrs.get(pcr, bytes(32)) + d).digest()
json.dump({"pcrs": {k: v.hex() for k, v in pcrs.items()}, "interval_s": 4, "grace_s": 4},
          open(sys.argv[1], "w"))
PY
coord_with_gw_a "$T/profile.json"
enrol_site_server
SERVER_EP="tcp://127.0.0.1:$(free_port)"
start_node server --listen "$SERVER_EP" --fault-file "$T/uplink-cut"
wait_for 'grep -q "gossip: profile/acme/gateway version .* stored" "$T/server.log"' 20 \
    || fail "the server did not get the profile"
reports () {    #   reports SEQ [probe options]: gw-a's keys hand the server 3 reports
    "$PROBE" mesh-send "$SERVER_EP" --keyfile "$T/box-a/node.key" --server-key "$(curve server)" \
        --count 3 --seq "$1" --timeout 10000 "${@:2}" > "$T/answers-$1.txt" 2>> "$T/probe.log"
    grep -c '^denied' "$T/answers-$1.txt"
}

say "(a) never attested: refused until its first pass, then admitted"
start_gw_behind_server
wait_for 'grep -q "mesh: neighbour gw-a refused: never attested (no passport)" "$T/server.log"' 20 \
    || fail "the server did not refuse the never-attested gw-a: $(grep gw-a "$T/server.log" | tail -3)"
wait_for 'grep -q "mesh: neighbour gw-a admitted: attested (passport from coordinator" "$T/server.log"' 30 \
    || fail "gw-a was not admitted after passing: $(ctl attest show gw-a 2>&1)"
grep -q "mesh: passport from coordinator: attested" "$T/box-a.log" || fail "gw-a took no passport"
ctl attest show gw-a | grep -q "^state: *fresh" || fail "not fresh: $(ctl attest show gw-a)"
ctl twin set gw-a '{"rate": 1}' > /dev/null || fail "twin set failed"
wait_for 'gw_synced 1' 20 || fail "the twin of the admitted gw-a did not flow"
FIRST_PASSPORT=$(ctl --json attest show gw-a | jget passport)

say "(b) the site is cut off and gw-a stops answering: overdue, refused offline"
kill -STOP "${PID_OF[box-a]}"
touch "$T/uplink-cut"
wait_for 'grep -q "route to the coordinator lost" "$T/server.log"' 20 || fail "the uplink was not cut"
#   The stopped gw-a's link is noticed dead within 3 heartbeats, before
#   its passport lapses; a link still up when it lapses is refused then
wait_for 'grep -q "mesh: neighbour gw-a refused: attestation overdue (passport from coordinator expired\|mesh: neighbour gw-a on .* lost" "$T/server.log"' 20 \
    || fail "the cut-off server neither lost nor refused the stopped gw-a: $(grep gw-a "$T/server.log" | tail -3)"
wait_for 'grep -q "ALERT attestation of gw-a overdue" "$T/coord.log"' 20 \
    || fail "the coordinator did not alert on the overdue gw-a"
out=$(ctl attest show gw-a) && fail "attest show passes an overdue device: $out"
echo "$out" | grep -q "^state: *overdue" || fail "not overdue: $out"
echo "$out" | grep -q "^quarantined: *yes" || fail "the overdue gw-a is not quarantined: $out"
ctl attest status | grep -q "^OVERDUE gw-a: attestation overdue" || fail "status: $(ctl attest status)"
stop_proc coord
start_coord
ctl attest show gw-a | grep -q "^state: *overdue" || fail "a restart forgot the overdue state"

say "(c) gw-a resumes: the cut-off server attests it and gives it its own passport"
refused=$(grep -c "mesh: neighbour gw-a refused: attestation overdue" "$T/server.log")
sleep 5                         #   its passport (4 + 4 s) has lapsed by now
kill -CONT "${PID_OF[box-a]}"
wait_for '(( $(grep -c "mesh: neighbour gw-a refused: attestation overdue" "$T/server.log") > refused ))' 20 \
    || fail "the cut-off server took the overdue gw-a back: $(grep gw-a "$T/server.log" | tail -3)"
wait_for 'grep -q "delegate: passport to gw-a (attested here" "$T/server.log"' 60 \
    || fail "the server did not attest gw-a: $(grep -a 'delegate\|gw-a' "$T/server.log" | tail -4)"
wait_for 'grep -q "mesh: neighbour gw-a admitted: attested (passport from server" "$T/server.log"' 20 \
    || fail "gw-a was not admitted on the server's passport"
grep -q "mesh: passport from server: attested" "$T/box-a.log" || fail "gw-a did not take the server's passport"

say "the uplink returns: fresh at the coordinator too, the twin flows"
rm -f "$T/uplink-cut"
wait_for 'ctl attest show gw-a' 40 || fail "gw-a is not fresh at the coordinator: $(ctl attest show gw-a)"
ctl twin set gw-a '{"rate": 2}' > /dev/null || fail "twin set failed"
wait_for 'gw_synced 2' 30 || fail "gw-a's twin did not flow after it attested again"

say "a restarted gw-a presents its stored passport and is admitted at once"
stop_proc box-a
admitted=$(grep -c "mesh: neighbour gw-a admitted" "$T/server.log")
start_gw_behind_server
wait_for '(( $(grep -c "mesh: neighbour gw-a admitted" "$T/server.log") > admitted ))' 20 \
    || fail "the restarted gw-a was not admitted"
sed -n "/mesh: neighbour gw-a admitted/{=}" "$T/server.log" | tail -1 > "$T/line"
grep -q "mesh: neighbour gw-a refused: never attested" <(tail -n +$(cat "$T/line") "$T/server.log") \
    && fail "the restarted gw-a presented no passport"

say "(e) gw-a's keys without a passport, or with its expired first one: refused"
#   gw-a is stopped: the probe speaks with its keys on a link of its own
stop_proc box-a
[[ "$(reports 100000000)" == 3 ]] \
    || fail "a link without a passport was admitted: $(cat "$T/answers-100000000.txt")"
[[ "$(reports 100000010 --passport "$FIRST_PASSPORT")" == 3 ]] \
    || fail "an expired passport was taken: $(cat "$T/answers-100000010.txt")"
grep -q "refused: attestation overdue: passport from coordinator expired" "$T/server.log" \
    || fail "the refusal of the expired passport does not say so"
wait_for '(( $(mesh_stat server dropped.unattested) >= 6 ))' 20 \
    || fail "the server's metrics do not count the refusals: $(ctl --json device show server)"
CURRENT=$(ctl --json attest show gw-a | jget passport)
[[ "$(reports 100000020 --passport "$CURRENT")" == 0 ]] \
    || fail "gw-a's current passport was refused: $(cat "$T/answers-100000020.txt")"
say "ok"
