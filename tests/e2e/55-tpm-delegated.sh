#!/usr/bin/env bash
#   55-tpm-delegated - delegated verification at a site server.
#   coordinator - site server - gw-a (swtpm, reaches the coordinator only
#   through the server; the test runs as root and the server's uplink is
#   cut the way 24-mesh-site-cut cuts it). The coordinator sends the server its CA-signed
#   profiles; gw-a passes at the coordinator. Then the server's uplink is
#   really cut (its fault switch closes the socket) and gw-a reboots with
#   an unexpected event in PCR 9. The server challenges it itself (its
#   own nonce), verifies the quote against the AK of gw-a's certificate,
#   replays the event log, compares with the profile: fails, naming PCR 9
#   and the event; quarantines gw-a at once (its non-attestation traffic
#   is refused at the server) while the coordinator still knows nothing.
#   When the uplink returns the verdict and the raw evidence arrive; the
#   coordinator checks them again and adopts the failure: gw-a is
#   quarantined there too, and the site's entry becomes the coordinator's.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"
source "$(dirname "$0")/tpm-lib.sh"
BOOT=(8:kernel-6.1 9:initrd-6.1 8:root=/dev/sda2)
say "measured boot: ${BOOT[*]}"
for m in "${BOOT[@]}"; do measure "$m"; done
python3 - "$T/profile.json" "${BOOT[@]}" <<'PY'
import hashlib, json, sys
pcrs, ev = {}, {}
for item in sys.argv[2:]:
    pcr, data = item.split(":", 1)
    d = hashlib.sha256(data.encode()).digest()
    pcrs[pcr] = hashlib.sha256(pcrs.get(pcr, bytes(32)) + d).digest()
    ev.setdefault(pcr, []).append(d.hex())
json.dump({"pcrs": {k: v.hex() for k, v in pcrs.items()}, "events": ev, "interval_s": 600},
          open(sys.argv[1], "w"))
PY

coord_with_gw_a "$T/profile.json"
#   The site server is in gw-a's tenant
enrol_site_server
[[ "$(ctl --json device show server | jget role)" == server ]] || fail "server's role: $(ctl device show server)"
SERVER_EP="tcp://127.0.0.1:$(free_port)"
start_node server --listen "$SERVER_EP" --fault-file "$T/uplink-cut"

say "the server gets the CA-signed profile (policy gossip) while linked to the coordinator"
wait_for 'grep -q "gossip: profile/acme/gateway version .* stored" "$T/server.log"' 20 \
    || fail "the server did not store the profile"
start_gw_behind_server
wait_for '[[ "$(hops gw-a)" == 2 ]]' 30 || fail "gw-a not behind the server: $(ctl device list)"
wait_for 'ctl attest show gw-a' 30 \
    || fail "gw-a did not pass at the coordinator: $(ctl attest show gw-a 2>&1)"
grep -q "delegate: attestation challenge" "$T/server.log" \
    && fail "the server challenged while linked to the coordinator"

say "the server's uplink is cut; gw-a reboots with an unexpected event in PCR 9"
touch "$T/uplink-cut"
wait_for 'grep -q "coordinator link cut" "$T/server.log"' 5 || fail "fault switch did not cut"
wait_for 'grep -q "route to the coordinator lost" "$T/server.log"' 20 || fail "the server kept a route"
stop_proc box-a
measure 9:evil-module
start_gw_behind_server
wait_for 'grep -q "delegate: attestation challenge to gw-a" "$T/server.log"' 30 \
    || fail "the cut-off server did not challenge gw-a: $(tail -5 "$T/server.log")"
wait_for 'grep -q "node: attestation challenge from server" "$T/box-a.log"' 20 \
    || fail "gw-a did not take the server's challenge: $(grep -i challenge "$T/box-a.log" | tail -3)"
wait_for 'grep -q "delegate: ALERT attestation of gw-a failed (verified here)" "$T/server.log"' 30 \
    || fail "the server did not judge gw-a: $(grep delegate "$T/server.log" | tail -5)"
grep "delegate: ALERT" "$T/server.log"
grep -q "delegate: ALERT attestation of gw-a failed (verified here): PCR 9: event #3 .* is not the profile's" \
    "$T/server.log" || fail "the site's verdict does not name PCR 9 and event #3"
grep -q "mesh: gw-a quarantined by this node's own attestation verdict" "$T/server.log" \
    || fail "the server did not quarantine gw-a at once"

say "at the site gw-a is refused at once; the coordinator does not know yet"
#   While cut off gw-a has no route up; what it hands the server (three
#   reports signed with its keys, as the server takes custody of them
#   while cut off) is refused. gw-a is stopped first: the probe speaks
#   with its keys on a link of its own.
stop_proc box-a
"$PROBE" mesh-send "$SERVER_EP" --keyfile "$T/box-a/node.key" --server-key "$(curve server)" \
    --count 3 --seq 100000000 --timeout 10000 > "$T/answers.txt" 2> "$T/probe.log"
[[ "$(grep -c '^denied' "$T/answers.txt")" == 3 ]] \
    || fail "the server took the reports of a gateway it found failing: $(cat "$T/answers.txt")"
grep -q "mesh: TWIN_REPORTED from gw-a for coordinator refused: quarantined" "$T/server.log" \
    || fail "no refusal in the server's log"
ctl attest show gw-a > /dev/null || fail "the coordinator learnt of the failure through a cut uplink"
grep -q "DELEGATED_VERDICT\|verified by server" "$T/coord.log" && fail "the verdict crossed a cut uplink"

say "the uplink returns: the coordinator checks the evidence again and adopts the failure"
rm -f "$T/uplink-cut"
wait_for 'grep -q "ALERT attestation of gw-a failed (verified by server, checked again): PCR 9: event #3" "$T/coord.log"' 40 \
    || fail "the coordinator did not adopt the site's verdict: $(grep -i 'delegated\|verified by' "$T/coord.log" | tail -3)"
out=$(ctl attest show gw-a) && fail "attest show gw-a passes: $out"
echo "$out"
echo "$out" | grep -q "first mismatch: *PCR 9, event #3" || fail "verdict does not name PCR 9, event #3"
echo "$out" | grep -q "^quarantined: *yes" || fail "gw-a not quarantined at the coordinator"
[[ "$(ctl --json attest show gw-a | jget verdict.via)" == server ]] || fail "the verdict does not name the server"
echo "$out" | grep -q "^verified by: *server (site server, while cut off; checked again here)" \
    || fail "attest show does not say who verified"
grep -q "our check says otherwise" "$T/coord.log" && fail "the coordinator disagreed with a right verdict"
grep -q "gw-a reported version 10000000" "$T/coord.log" && fail "a refused report reached the coordinator"
wait_for 'grep -q "mesh: quarantine list version .*: 1 quarantined" "$T/server.log"' 20 \
    || fail "the coordinator's quarantine list did not reach the server"
say "ok"
