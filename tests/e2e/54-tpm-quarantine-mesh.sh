#!/usr/bin/env bash
#   54-tpm-quarantine-mesh - the mesh refuses a node that failed
#   attestation. coordinator - site server - gw-a (swtpm, reaches the
#   coordinator only through the server). gw-a passes; then an unexpected
#   value is measured into PCR 9 and the next attestation fails, naming
#   PCR 9 and the event. The quarantine list reaches the server, which
#   refuses gw-a's twin reports (DENIED, counted in its metrics; the
#   coordinator never sees them) while gw-a's attestation traffic still
#   passes; the server keeps refusing after a restart while cut off from
#   the coordinator. gw-a passes again (the operator accepts the new
#   measurement): released, its twin flows again. It fails once more and
#   `weftctl attest clear` releases it: with the passport of the cleared
#   verdict (the server requires attestation of gateways) its reports
#   arrive again; without one they are still refused.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"
source "$(dirname "$0")/tpm-lib.sh"
#   The profile of the events measured so far: profile FILE EVENT...
profile () {
    python3 - "$@" <<'PY'
import hashlib, json, sys
pcrs, ev = {}, {}
for item in sys.argv[2:]:
    pcr, data = item.split(":", 1)
    d = hashlib.sha256(data.encode()).digest()
    pcrs[pcr] = hashlib.sha256(pcrs.get(pcr, bytes(32)) + d).digest()
    ev.setdefault(pcr, []).append(d.hex())
json.dump({"pcrs": {k: v.hex() for k, v in pcrs.items()}, "events": ev, "interval_s": 2},
          open(sys.argv[1], "w"))
PY
}
BOOT=(8:kernel-6.1 9:initrd-6.1 8:root=/dev/sda2)
say "measured boot: ${BOOT[*]}"
for m in "${BOOT[@]}"; do measure "$m"; done
profile "$T/profile.json" "${BOOT[@]}"

coord_with_gw_a "$T/profile.json"

say "site server, and gw-a behind it (TPM enrolment, then the mesh only)"
enrol_site_server
SERVER_PORT=$(free_port)
SERVER_EP="tcp://127.0.0.1:$SERVER_PORT"
start_server () {
    start_node server --listen "$SERVER_EP" --fault-file "$T/uplink-cut"
}
start_server
start_gw_behind_server
wait_for '[[ "$(hops gw-a)" == 2 ]]' 30 || fail "gw-a not behind the server: $(ctl device list)"
wait_for 'ctl attest show gw-a' 30 \
    || fail "gw-a did not pass: $(ctl attest show gw-a 2>&1; tail -5 "$T/box-a.log")"
ctl twin set gw-a '{"rate": 1}' > /dev/null || fail "twin set failed"
wait_for 'gw_synced 1' 20 || fail "twin of gw-a not synced through the server"

say "an unexpected event measured into PCR 9: the next attestation fails, naming it"
stop_proc box-a             #   swtpm serves one client at a time
measure 9:evil-module
start_gw_behind_server
wait_for '! ctl attest show gw-a && ctl attest show gw-a | grep -q "first mismatch: *PCR 9, event #3"' 30 \
    || fail "attestation did not fail on PCR 9: $(ctl attest show gw-a 2>&1)"
ctl attest show gw-a
ctl attest show gw-a | grep -q "^reason: *PCR 9: event #3 .* is not the profile's" \
    || fail "reason does not name PCR 9's event: $(ctl attest show gw-a)"
grep -q "ALERT attestation of gw-a failed: PCR 9: event #3" "$T/coord.log" \
    || fail "no alert naming PCR 9 and the event in the coordinator log"

say "the quarantine list reaches the server; it refuses gw-a's reports"
wait_for 'grep -q "mesh: quarantine list version .*: 1 quarantined" "$T/server.log"' 20 \
    || fail "the server did not get the quarantine list"
wait_for 'grep -q "mesh: quarantine list version .*: 1 quarantined" "$T/box-a.log"' 20 \
    || fail "gw-a did not get the quarantine list through its server"
stop_proc box-a
#   gw-a's own keys sign three reports, handed to the server as gw-a does
send_reports () {
    "$PROBE" mesh-send "$SERVER_EP" --keyfile "$T/box-a/node.key" --server-key "$(curve server)" \
        --count 3 --seq "$1" --timeout 10000 "${@:2}" > "$T/answers-$1.txt" 2>> "$T/probe.log"
}
send_reports 100000000
[[ "$(grep -c '^denied' "$T/answers-100000000.txt")" == 3 ]] \
    || fail "the server took a quarantined node's reports: $(cat "$T/answers-100000000.txt")"
wait_for '(( $(mesh_stat server dropped.quarantined) >= 3 ))' 20 \
    || fail "the server's metrics do not count the refusals: $(ctl --json device show server)"
grep -q "gw-a reported version 10000000" "$T/coord.log" && fail "a refused report reached the coordinator"

say "cut off from the coordinator and restarted, the server still refuses"
touch "$T/uplink-cut"
stop_proc server
start_server
wait_for 'grep -q "coordinator link cut" "$T/server.log"' 10 || fail "fault switch did not cut"
send_reports 100000010
[[ "$(grep -c '^denied' "$T/answers-100000010.txt")" == 3 ]] \
    || fail "the restarted, cut-off server took the reports: $(cat "$T/answers-100000010.txt")"
rm -f "$T/uplink-cut"

say "the operator accepts the new measurement: gw-a passes again and is released"
profile "$T/profile2.json" "${BOOT[@]}" 9:evil-module
ctl attest profile set gateway "$T/profile2.json" --tenant acme > /dev/null || fail "attest profile set failed"
ctl twin set gw-a '{"rate": 2}' > /dev/null || fail "twin set failed"
start_gw_behind_server
wait_for 'ctl attest show gw-a' 30 || fail "gw-a did not pass again: $(ctl attest show gw-a 2>&1)"
wait_for 'grep -q "mesh: quarantine list version .*: 0 quarantined" "$T/server.log"' 20 \
    || fail "the server did not learn the release"
wait_for 'gw_synced 2' 30 || fail "gw-a's twin did not flow after it passed again"

say "it fails once more; attest clear releases it and its reports arrive"
stop_proc box-a
measure 9:evil-module-2
start_gw_behind_server
wait_for '! ctl attest show gw-a' 30 || fail "the second failure was not seen"
wait_for '[[ "$(grep -c "mesh: quarantine list version .*: 1 quarantined" "$T/server.log")" -ge 2 ]]' 20 \
    || fail "the server did not learn the second quarantine"
stop_proc box-a
ctl attest clear gw-a > /dev/null || fail "attest clear failed"
wait_for '[[ "$(grep -c "mesh: quarantine list version .*: 0 quarantined" "$T/server.log")" -ge 2 ]]' 20 \
    || fail "the server did not learn the clear"
#   Released, but the server admits a gateway only with a fresh passport:
#   the cleared verdict's, which gw-a's next heartbeat would bring
send_reports 100000030
[[ "$(grep -c '^denied' "$T/answers-100000030.txt")" == 3 ]] \
    || fail "the server took reports without a passport: $(cat "$T/answers-100000030.txt")"
PASSPORT=$(ctl --json attest show gw-a | jget passport)
[[ ${#PASSPORT} -gt 100 ]] || fail "no passport for the cleared gw-a: $(ctl --json attest show gw-a)"
send_reports 100000020 --passport "$PASSPORT"
[[ "$(grep -c '^acked' "$T/answers-100000020.txt")" == 3 ]] \
    || fail "the server still refuses after attest clear: $(cat "$T/answers-100000020.txt")"
wait_for 'grep -q "gw-a reported version 100000022" "$T/coord.log"' 20 \
    || fail "gw-a's reports did not reach the coordinator after attest clear"
grep -q "gw-a reported version 10000000[0-9] \|gw-a reported version 10000001[0-9] \|gw-a reported version 10000003[0-9] " "$T/coord.log" \
    && fail "a report refused during the quarantine arrived later"
say "ok"
