#!/usr/bin/env bash
#   59-tpm-real-eventlog - a real firmware event log, attested end to end.
#   A swtpm started at locality 3, as the firmware of the machine that
#   wrote tests/fixtures/eventlog/keylime-fedora41-locality3.bin started
#   its TPM, gets every sha256 digest of that log extended into it; the
#   node sends the log as firmware hands it over (zero padding after the
#   last event). The profile holds PCRs 0-7 as tpm2_eventlog 5.8 replays
#   the log: the device passes, PCR 0 included (it starts at 0x00..03).
#   The same log without its StartupLocality event fails naming exactly
#   that, and a SHA-1-only log is refused saying so.
source "$(dirname "$0")/lib.sh"
SWTPM_OPTS="--locality 3"
source "$(dirname "$0")/tpm-lib.sh"
FIX="$E2E_ROOT/tests/fixtures/eventlog"
REAL="$FIX/keylime-fedora41-locality3.bin"

say "the TPM, started at locality 3, holds what that firmware measured"
replay_log "$REAL"
{ cat "$REAL"; head -c 4096 /dev/zero; } > "$T/boot.log"
python3 - "$FIX/keylime-fedora41-locality3.pcrs" "$T/profile.json" <<'PY'
import json, re, sys
pcrs = {}
for line in open(sys.argv[1]):
    m = re.match(r"\s+(\d+)\s*: 0x([0-9a-f]{64})$", line)
    if m and int(m.group(1)) < 8:
        pcrs[m.group(1)] = m.group(2)
assert len(pcrs) == 8
json.dump({"pcrs": pcrs, "interval_s": 600}, open(sys.argv[2], "w"))
PY
coord_with_gw_a "$T/profile.json"

say "gw-a attests with the real log: passes, PCR 0 replayed from locality 3"
start_node box-a --tpm "$TCTI" --coord-key "$COORD_KEY" --event-log "$T/boot.log"
wait_for 'ctl attest show gw-a' 30 \
    || fail "an honest device failed: $(ctl attest show gw-a 2>&1; tail -5 "$T/box-a.log")"
out=$(ctl --json attest show gw-a)
[[ "$(jget verdict.events <<< "$out")" == 120 ]] || fail "not all 120 events replayed: $out"
[[ "$(jget verdict.pcrs.0 <<< "$out")" == "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pcrs"]["0"])' "$T/profile.json")" ]] \
    || fail "quoted PCR 0 is not the firmware's: $out"
ctl attest show gw-a

say "the same log without its StartupLocality event: fails, naming the cause"
python3 - "$REAL" "$T/no-locality.log" <<'PY'
import struct, sys
log = open(sys.argv[1], "rb").read()
at = 32 + struct.unpack_from("<I", log, 28)[0]          # after the Spec ID event
pcr, kind, count = struct.unpack_from("<III", log, at)
end = at + 12 + count * 2 + 20 + 32                    # sha1 and sha256 digests
end += 4 + struct.unpack_from("<I", log, end)[0]
assert kind == 3 and log[end - 17:end - 1] == b"StartupLocality\0"
open(sys.argv[2], "wb").write(log[:at] + log[end:])
PY
stop_proc box-a             #   swtpm serves one client at a time
start_node box-a --tpm "$TCTI" --coord-key "$COORD_KEY" --event-log "$T/no-locality.log"
wait_for '! ctl attest show gw-a' 30 || fail "an edited log passed: $(ctl attest show gw-a)"
ctl attest show gw-a
ctl attest show gw-a | grep -q "^reason: *PCR 0: event log does not replay to the quoted value, but would from locality 3: the log has no StartupLocality event" \
    || fail "the reason does not name the missing StartupLocality event: $(ctl attest show gw-a)"

say "a SHA-1-only log is refused, saying so"
stop_proc box-a
start_node box-a --tpm "$TCTI" --coord-key "$COORD_KEY" --event-log "$FIX/tpm2-tools-uefi-sha1.bin"
wait_for 'ctl attest show gw-a | grep -q "SHA-1-only"' 30 \
    || fail "no SHA-1-only refusal: $(ctl attest show gw-a)"
ctl attest show gw-a | grep -q "^reason: *event log refused: event log is in the SHA-1-only format" \
    || fail "reason: $(ctl attest show gw-a)"
say "ok"
