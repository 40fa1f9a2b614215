#!/usr/bin/env bash
#   87-update-ab - the ab handler across a restart: the release is
#   assembled into the slot not booted, the boot record names it as
#   tried and weft-node exits with status 3 (a device reboots); started
#   again it runs the health check on the slot tried and commits it, or
#   falls back to the old slot (exit 3 again) with the reason in the
#   twin. The health check without a command: the node checks in with
#   the coordinator within --health-checkin seconds.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
source "$(dirname "$0")/update-lib.sh"
cd "$T"

HOME_AB="$INST/fw"
boot () { cat "$HOME_AB/boot" 2>/dev/null; }

say "gw-1 enrols in acme, then its tenant's release root is pinned"
gw_setup
head -c 1500000 /dev/urandom > v1.bin
cp v1.bin v2.bin
head -c 30000 /dev/urandom | dd of=v2.bin bs=1 seek=700000 conv=notrunc 2>/dev/null
cp v1.bin v3.bin
head -c 30000 /dev/urandom | dd of=v3.bin bs=1 seek=200000 conv=notrunc 2>/dev/null
for v in 1 2 3; do
    art build --repo repo --name fw --version $v.0 --types gateway --handler ab \
        --anti-rollback $v v$v.bin > /dev/null || fail "build $v.0"
done
publish repo fw=1.0 fw=2.0 fw=3.0
for v in 1 2 3; do
    "$PROBE" assign "$COORD_DIR/coord.key" gw-1 acme "repo/manifests/fw_$v.0" 3600 \
        "assign-$v" && art bundle --repo repo --out "v$v.wbd" "assign-$v" > /dev/null \
        || fail "bundle $v.0"
done

say "v1 into slot b, tried after a restart, checked in with the coordinator, committed"
gw_run --import v1.wbd --health-checkin 15
gw_exited || fail "gw-1 did not restart for slot b: $(tail -5 gw-1.log)"
(( GW_EXIT == 3 )) || fail "exit status $GW_EXIT, not 3"
cmp -s v1.bin "$HOME_AB/slot-b/fw" || fail "slot b does not hold v1"
[[ "$(boot)" == $'active=a\ntrying=b' ]] || fail "boot record: $(boot)"
gw_run --health-checkin 15
wait_for '[[ "$(boot)" == $'"'"'active=b\ntrying=-'"'"' ]]' 20 || fail "not committed: $(boot)"
wait_for 'software_is committed 1.0' 20 \
    || fail "twin: $(ctl --json twin get gw-1)"
stop_proc gw-1

say "v2 into slot a, its health command fails after the restart: back to slot b"
gw_run --import v2.wbd
gw_exited && (( GW_EXIT == 3 )) || fail "gw-1 did not restart for slot a ($GW_EXIT)"
cmp -s v2.bin "$HOME_AB/slot-a/fw" || fail "slot a does not hold v2"
[[ "$(boot)" == $'active=b\ntrying=a' ]] || fail "boot record: $(boot)"
gw_run --health-command "cat > '$T/health.json'; exit 5"
gw_exited && (( GW_EXIT == 3 )) || fail "gw-1 did not restart into slot b ($GW_EXIT)"
[[ "$(boot)" == $'active=b\ntrying=-' ]] || fail "boot record: $(boot)"
[[ "$(jget path < health.json)" == "$HOME_AB/slot-a/fw" ]] \
    || fail "the health command was told: $(cat health.json)"
gw_run
wait_for '[[ "$(software state)" == rolled-back ]]' 20 \
    || fail "twin: $(ctl --json twin get gw-1)"
software error | grep -q "health check failed: command exited with status 5" \
    || fail "twin error: $(software error)"
[[ "$(software installed)" == 1.0 ]] || fail "twin: $(ctl --json twin get gw-1)"
cmp -s v1.bin "$HOME_AB/slot-b/fw" || fail "slot b changed"
stop_proc gw-1

say "v3 tried while the coordinator is down: no check-in within 3 s, back to slot b"
gw_run --import v3.wbd
gw_exited && (( GW_EXIT == 3 )) || fail "gw-1 did not restart for slot a ($GW_EXIT)"
stop_proc coord
gw_run --health-checkin 3
gw_exited && (( GW_EXIT == 3 )) || fail "gw-1 did not fall back ($GW_EXIT): $(tail -5 gw-1.log)"
[[ "$(boot)" == $'active=b\ntrying=-' ]] || fail "boot record: $(boot)"
grep -q "did not check in with the coordinator within 3 s" gw-1.log || fail "no reason logged"
