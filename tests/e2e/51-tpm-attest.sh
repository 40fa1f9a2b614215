#!/usr/bin/env bash
#   51-tpm-attest - boot attestation against a real swtpm: a measured
#   "boot" (events logged and extended into PCRs 8 and 9), a CA-signed
#   profile for the device type, the coordinator's nonce, quote and event
#   log verified against the AK bound at enrolment: passes. Then an
#   unexpected value is extended into PCR 9 and the next attestation
#   fails, naming PCR 9.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tpm-lib.sh"

say "measured boot: two events into PCR 8, one into PCR 9, logged in $LOG"
for m in 8:kernel-6.1 9:initrd-6.1 8:root=/dev/sda2; do
    measure "$m"
done
if command -v tpm2_eventlog > /dev/null; then
    tpm2_eventlog "$LOG" > "$T/eventlog.yaml" 2>&1 || fail "tpm2_eventlog cannot read our log"
    [[ "$(grep -c 'EV_IPL' "$T/eventlog.yaml")" == 3 ]] || fail "tpm2_eventlog sees $(grep -c EV_IPL "$T/eventlog.yaml") events"
fi

say "the profile for type gateway: PCRs 8 and 9 and PCR 8's events"
python3 - "$T/profile.json" <<'PY'
import hashlib, json, sys
events = [(8, b"kernel-6.1"), (9, b"initrd-6.1"), (8, b"root=/dev/sda2")]
pcrs, ev = {}, {}
for pcr, data in events:
    d = hashlib.sha256(data).digest()
    pcrs[pcr] = hashlib.sha256(pcrs.get(pcr, bytes(32)) + d).digest()
    ev.setdefault(str(pcr), []).append(d.hex())
json.dump({"pcrs": {str(k): v.hex() for k, v in pcrs.items()},
           "events": {"8": ev["8"]}, "interval_s": 2}, open(sys.argv[1], "w"))
PY
start_coord
COORD_KEY=$(keyfile_value "$WEFT_IDENTITY" coord_curve)
ctl attest profile set gateway "$T/profile.json" --tenant acme || fail "attest profile set failed"
say "the IMA allowlist (sha256sum lines) is stored signed; a malformed one is refused"
printf 'weft\n' > "$T/a.bin"; printf 'node\n' > "$T/b.bin"
{ echo "# fleet allowlist"; sha256sum "$T/a.bin" "$T/b.bin"; } > "$T/allowlist"
ctl attest allowlist set "$T/allowlist" --tenant acme | grep -q "2 digests" \
    || fail "attest allowlist set: $(ctl attest allowlist set "$T/allowlist" --tenant acme 2>&1)"
echo "abc  /bin/sh" > "$T/allowlist.bad"
out=$(ctl attest allowlist set "$T/allowlist.bad" --tenant acme 2>&1) && fail "a malformed allowlist was taken"
grep -q "line 1" <<< "$out" || fail "no reason for the malformed allowlist: $out"
"$NODE" --data-dir "$T/ek" --tpm "$TCTI" --write-ek "$T/a.ek" > "$T/ek.log" 2>&1 \
    || fail "--write-ek failed"
ctl device preregister gw-a --ek-pub "$T/a.ek" --tenant acme > /dev/null || fail "preregister failed"

say "gw-a enrols and passes boot attestation"
start_node box-a --tpm "$TCTI" --coord-key "$COORD_KEY" --event-log "$LOG"
wait_for 'ctl attest show gw-a' 30 \
    || fail "gw-a did not pass: $(ctl attest show gw-a 2>&1; tail -5 "$T/box-a.log")"
ctl attest show gw-a
ctl attest status | grep -q "1 passed, 0 failed" || fail "status: $(ctl attest status)"

say "an unexpected value extended into PCR 9: the next attestation fails, naming it"
stop_proc box-a             #   swtpm serves one client at a time
if command -v tpm2_pcrextend > /dev/null; then
    tpm2_pcrextend -T "$TCTI" 9:sha256=$(printf 'ab%.0s' $(seq 32)) \
        || fail "tpm2_pcrextend failed"
else
    "$NODE" --data-dir "$T/measure" --tpm "$TCTI" --event-log "$T/other.log" \
        --measure 9:unexpected > /dev/null 2>&1 || fail "extend failed"
fi
start_node box-a --tpm "$TCTI" --coord-key "$COORD_KEY" --event-log "$LOG"
wait_for '! ctl attest show gw-a && ctl attest show gw-a | grep -q "first mismatch: *PCR 9"' 30 \
    || fail "attestation did not fail on PCR 9: $(ctl attest show gw-a 2>&1)"
out=$(ctl attest show gw-a)
echo "$out"
echo "$out" | grep -q "^reason: *PCR 9: event log does not replay" || fail "reason does not name PCR 9"
ctl attest status | grep -q "^FAILED gw-a: PCR 9" || fail "status does not list gw-a: $(ctl attest status)"
grep -q "ALERT attestation of gw-a failed: PCR 9" "$T/coord.log" || fail "no alert in the coordinator log"

say "quarantined: no desired twin reaches it, until an operator clears the verdict"
echo "$out" | grep -q "^quarantined: *yes" || fail "gw-a not shown as quarantined"
ctl twin set gw-a '{"mode": "fast"}' > /dev/null || fail "twin set failed"
sleep 3
[[ "$(jget mode < "$T/box-a.applied.json" 2>/dev/null)" == fast ]] \
    && fail "a quarantined node got its desired twin"
ctl attest clear gw-a > /dev/null || fail "attest clear failed"
wait_for '[[ "$(jget mode < "$T/box-a.applied.json")" == fast ]]' 20 \
    || fail "gw-a did not get its twin after attest clear"
say "ok"
