#!/usr/bin/env bash
#   71-tpm-attest-software - attestation follows the software, against a
#   real swtpm. The tenant's signed allowlist holds the base system only;
#   release plc 1.0 names its binary's sha256 among its reference values
#   (weft-artifact build --ima), is added to acme's repository and
#   installed on gw-a from a bundle. (a) Once the device reports it
#   committed, the binary's entry in the IMA list passes with no change
#   to the allowlist; (b) v2 replaces it, with a new kernel (its boot
#   reference value for PCR 8): the device reboots into it (swtpm reset,
#   a new event log and IMA list) and passes with the profile unchanged;
#   (c) a file changed outside a release fails, naming it; (d) once the
#   operator allows that file, v1's binary measured again fails: the
#   device left v1. weft-artifact refuses malformed reference values.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tpm-lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
command -v tpm2_pcrextend > /dev/null || { echo "SKIP: tpm2-tools not installed"; exit 0; }
cd "$T"
IMA="$T/ima.list"
INST="$T/inst"
sha () { sha256sum "$1" | cut -c1-64; }

say "boot (PCR 8) and the base system measured; the allowlist names the base system only"
measure 8:kernel-6.1
mkdir -p fs
echo "init of the base system" > fs/init
ima_measure boot_aggregate
ima_measure fs/init /sbin/init
python3 - profile.json <<'PY'
import hashlib, json, sys
kernel = hashlib.sha256(b"kernel-6.1").digest()
pcr8 = hashlib.sha256(bytes(32) + kernel).hexdigest()
json.dump({"pcrs": {"8": pcr8}, "events": {"8": [kernel.hex()]}, "ima": True,
           "interval_s": 3600}, open(sys.argv[1], "w"))
PY
coord_with_gw_a profile.json
import_tree acme
sha256sum fs/init > allowlist
ctl attest allowlist set allowlist --tenant acme | grep -q "1 digests" || fail "allowlist set"

say "the publisher: plc 1.0 and 2.0, each naming its binary's digest; acme's repository holds them"
make_keys r1 r2 r3 t1 t2 s ts
new_root repo r1 r2 r3
art sign --key r1.key repo/root.1 && art sign --key r2.key repo/root.1 || fail "sign root"
head -c 200000 /dev/urandom > v1.bin
head -c 200000 /dev/urandom > v2.bin
refused "the digest is not 64 hex digits" \
    art build --repo repo --name plc --version 0.1 --ima /usr/bin/plc=abc v1.bin
refused "PCR 24 is above 23" \
    art build --repo repo --name plc --version 0.1 --boot "24:$(sha v1.bin)" v1.bin
[[ ! -e repo/manifests/plc_0.1 ]] || fail "a refused build wrote a manifest"
KERNEL2=$(printf kernel-6.2 | sha256sum | cut -c1-64)
boot=("" "--boot=8:$KERNEL2")
for v in 1 2; do
    art build --repo repo --name plc --version $v.0 --types gateway --handler file \
        --anti-rollback $v --ima "/usr/bin/plc=$(sha v$v.bin)" ${boot[$((v - 1))]} v$v.bin \
        > build$v.out || fail "build $v.0"
    grep -q "reference values: 1 files, $((v - 1)) boot measurements" build$v.out \
        || fail "build $v.0: $(cat build$v.out)"
done
[[ "$(art inspect repo/manifests/plc_1.0 | jget references.ima.0.sha256)" == "$(sha v1.bin)" ]] \
    || fail "inspect: $(art inspect repo/manifests/plc_1.0)"
publish repo plc=1.0 plc=2.0
art bundle --repo repo --out pub.wbd > /dev/null || fail "bundle"
ctl release root set repo/root.1 --tenant acme > /dev/null || fail "release root set"
ctl artifact add pub.wbd --tenant acme > /dev/null || fail "artifact add"

say "(a) gw-a enrols and passes on the base system"
mkdir -m 700 box-a
cp repo/root.1 box-a/release-root
NODE_ARGS=(--tpm "$TCTI" --coord-key "$COORD_KEY" --event-log "$LOG" --ima-log "$IMA"
           --install-dir "$INST")
start_node box-a "${NODE_ARGS[@]}"
wait_for 'ctl attest show gw-a' 30 || fail "gw-a did not pass: $(ctl attest show gw-a 2>&1)"
stop_proc box-a

#   install V BOOTS : the director's assignment of plc V to gw-a, imported at
#   gw-a; waits for the twin to say it is committed
install () {
    "$PROBE" assign "$COORD_DIR/coord.key" gw-a acme "repo/manifests/plc_$1" 3600 "assign-$1" \
        || fail "assign $1"
    art bundle --repo repo --out "v$1.wbd" "assign-$1" > /dev/null || fail "bundle $1"
    start_node box-a "${NODE_ARGS[@]}" --import "v$1.wbd"
    wait_for "cmp -s v${1%.0}.bin '$INST/plc'" 30 || fail "$1 not installed: $(tail -5 box-a.log)"
    wait_for "[[ \"\$(ctl --json twin get gw-a | jget reported.software.installed)\" == $1 \
               && \"\$(ctl --json twin get gw-a | jget reported.software.state)\" == committed ]]" 30 \
        || fail "twin: $(ctl --json twin get gw-a)"
    wait_for "grep -q 'gw-a now expects plc $1: 1 files, $2 boot measurements' coord.log" 10 \
        || fail "the coordinator did not follow plc $1: $(grep 'now ' coord.log)"
    stop_proc box-a
}

#   attest_entry N PATH : restarted, gw-a sends its list from entry #N;
#   waits for the verdict on it (pass or fail)
attest_entry () {
    start_node box-a "${NODE_ARGS[@]}"
    wait_for "ctl attest show gw-a | grep -q '^IMA: *1 entries sent from #$1, ' \
              && { ctl attest show gw-a | grep -q '^verdict: *passed' \
                   || ctl attest show gw-a | grep -q '$2'; }" 30 \
        || fail "no verdict on entry #$1: $(ctl attest show gw-a 2>&1)"
    stop_proc box-a
}

say "(a) plc 1.0 installed and committed: its binary, measured, passes with the allowlist unchanged"
install 1.0 0
ima_measure "$INST/plc" /usr/bin/plc
attest_entry 2 /usr/bin/plc
out=$(ctl attest show gw-a) || fail "v1's binary did not pass: $out"
grep -q "^IMA: *1 entries sent from #2, 3 verified in all" <<< "$out" || fail "counts: $out"

say "(b) plc 2.0 replaces it, with kernel 6.2; gw-a reboots into it: boot and IMA pass"
install 2.0 1
#   The reboot: the TPM reset (PCRs zero), a new event log and IMA list
port=${TCTI##*port=}
swtpm_ioctl --tcp "127.0.0.1:$((port + 1))" -i > /dev/null || fail "swtpm reset failed"
python3 - "$port" <<'PY' || fail "TPM2_Startup after the reset failed"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(bytes.fromhex("80010000000c000001440000"))
sys.exit(0 if s.recv(64)[6:10] == bytes(4) else 1)
PY
rm -f "$LOG" "$IMA"
measure 8:kernel-6.2
ima_measure boot_aggregate
ima_measure fs/init /sbin/init
ima_measure "$INST/plc" /usr/bin/plc
start_node box-a "${NODE_ARGS[@]}"
wait_for 'ctl attest show gw-a | grep -q "^IMA: *3 entries sent from #0, 3 verified in all"' 30 \
    || fail "no verdict after the reboot: $(ctl attest show gw-a 2>&1)"
out=$(ctl attest show gw-a) || fail "kernel 6.2 and v2's binary did not pass: $out"
grep -q "^expects release: *plc 2.0 (1 files, 1 boot measurements)" <<< "$out" \
    || fail "attest show does not say what gw-a expects: $out"
stop_proc box-a

say "(c) a file changed outside a release fails, naming it"
cp "$INST/plc" fs/patched
echo "a patch no release carries" >> fs/patched
ima_measure fs/patched /usr/bin/plc
attest_entry 3 /usr/bin/plc
out=$(ctl attest show gw-a) && fail "a file no release names passed: $out"
grep -q "^reason: *IMA entry #3 (/usr/bin/plc) has sha256 .*not on the allowlist" <<< "$out" \
    || fail "reason: $out"

say "(d) the operator allows the patched file; v1's binary measured again fails: gw-a left v1"
sha256sum fs/patched >> allowlist
ctl attest allowlist set allowlist --tenant acme | grep -q "2 digests" || fail "allowlist set"
ima_measure v1.bin /usr/bin/plc
start_node box-a "${NODE_ARGS[@]}"
wait_for 'ctl attest show gw-a | grep -q "IMA entry #4 (/usr/bin/plc)"' 30 \
    || fail "v1's binary after v2 was not refused: $(ctl attest show gw-a 2>&1)"
out=$(ctl attest show gw-a) && fail "v1's binary passed after v2: $out"
grep -q "^IMA: *2 entries sent from #3, 3 verified in all" <<< "$out" || fail "counts: $out"
stop_proc box-a
say "ok"
