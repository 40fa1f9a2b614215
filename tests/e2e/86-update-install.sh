#!/usr/bin/env bash
#   86-update-install - a node with a pinned release root imports
#   bundles (weft-node --import) and installs v1 then v2 with the file
#   handler (the artifact replaced whole, the twin's reported.software
#   says so); a tampered or cut bundle stores nothing and is refused with
#   a clear error; a release for another device type, a lower
#   anti-rollback version are refused and leave version and file as they
#   were; a failing health check rolls back by itself and the twin says
#   why; with libfiu, a failed fsync of the stage rolls back too. A new
#   root signed by the offline root keys that allows plc down to
#   anti-rollback 0 lets the refused 0.9 install.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
source "$(dirname "$0")/update-lib.sh"
cd "$T"

say "gw-1 enrols in acme, then its tenant's release root is pinned"
gw_setup
head -c 3000000 /dev/urandom > v1.bin
art build --repo repo --name plc --version 1.0 --types gateway --handler file \
    --anti-rollback 1 v1.bin > /dev/null || fail "build 1.0"
publish repo plc=1.0

say "v1 from a bundle: checked, its chunks stored, installed, reported"
bundle_for 1.0
gw_run --import v1.0.wbd
wait_for "cmp -s v1.bin '$INST/plc'" 20 || fail "v1 not installed: $(tail -5 gw-1.log)"
wait_for '[[ "$(software state)" == committed ]]' 20 || fail "twin: $(ctl --json twin get gw-1)"
[[ "$(software version)" == 1.0 && "$(software previous)" == "" ]] \
    || fail "twin: $(ctl --json twin get gw-1)"
grep -q "import: bundle v1.0.wbd checked, [0-9]* chunks stored" gw-1.log || fail "import log"
[[ ! -e "$INST/.plc.weft-prev" && ! -e "$INST/.plc.weft-new" ]] || fail "leftovers after commit"
stop_proc gw-1

say "v2, about 5% changed: installed over v1, the twin names the previous"
cp v1.bin v2.bin
for at in 100000 900000 1700000 2500000; do
    head -c 40000 /dev/urandom | dd of=v2.bin bs=1 seek=$at conv=notrunc 2>/dev/null
done
art build --repo repo --name plc --version 2.0 --types gateway --handler file \
    --anti-rollback 2 v2.bin > /dev/null || fail "build 2.0"
publish repo plc=1.0 plc=2.0
bundle_for 2.0
gw_run --import v2.0.wbd
wait_for "cmp -s v2.bin '$INST/plc'" 20 || fail "v2 not installed: $(tail -5 gw-1.log)"
wait_for 'software_is committed 2.0' 20 \
    || fail "twin: $(ctl --json twin get gw-1)"
[[ "$(software previous)" == 1.0 ]] || fail "previous: $(ctl --json twin get gw-1)"
say "an applied desired document keeps reported.software"
ctl twin set gw-1 '{"rate": 7}' > /dev/null || fail "twin set"
wait_for 'twin_synced gw-1 rate 7' 20 || fail "twin: $(ctl --json twin get gw-1)"
software_is committed 2.0 \
    || fail "apply dropped reported.software: $(ctl --json twin get gw-1)"
stop_proc gw-1

say "a bundle cut short or altered: refused, nothing stored, the node does not start"
size=$(stat -c %s v2.0.wbd)
head -c $((size / 2)) v2.0.wbd > cut.wbd
cp v2.0.wbd bad.wbd
flip_byte bad.wbd $((size / 3))
for b in cut bad; do
    out=$(timeout 20 "$NODE" $(node_args gw-1) --install-dir "$INST" --import $b.wbd 2>&1) \
        && fail "$b bundle imported"
    grep -q "bundle $b.wbd refused, nothing stored" <<<"$out" || fail "$b: $out"
done
cmp -s v2.bin "$INST/plc" || fail "a refused bundle changed the file"

say "refused offers leave version and file: another type, a lower anti-rollback, a stranger's assignment"
head -c 500000 /dev/urandom > srv.bin
art build --repo repo --name plc --version 2.1 --types server --handler file \
    --anti-rollback 3 srv.bin > /dev/null || fail "build 2.1"
art build --repo repo --name plc --version 0.9 --types gateway --handler file \
    --anti-rollback 0 srv.bin > /dev/null || fail "build 0.9"
publish repo plc=2.0 plc=2.1 plc=0.9
bundle_for 2.1
bundle_for 0.9
for v in 2.1 0.9; do
    gw_run --import v$v.wbd
    wait_for "grep -q 'import: plc $v for this device: update refused' gw-1.log" 20 \
        || fail "$v not refused: $(tail -5 gw-1.log)"
    stop_proc gw-1
done
grep -q "plc 2.1 for this device: update refused: release not for this device type" gw-1.log \
    || fail "wrong type: $(grep 'update refused' gw-1.log)"
grep -q "plc 0.9 for this device: update refused: release below the installed anti-rollback" \
    gw-1.log || fail "anti-rollback: $(grep 'update refused' gw-1.log)"
cmp -s v2.bin "$INST/plc" || fail "a refused offer changed the file"

say "a failing health check rolls back by itself; the twin says why"
cp v2.bin v3.bin
head -c 40000 /dev/urandom | dd of=v3.bin bs=1 seek=50000 conv=notrunc 2>/dev/null
art build --repo repo --name plc --version 3.0 --types gateway --handler file \
    --anti-rollback 3 v3.bin > /dev/null || fail "build 3.0"
publish repo plc=2.0 plc=3.0
bundle_for 3.0
gw_run --import v3.0.wbd --health-command "cat > '$T/health.json'; exit 3"
wait_for '[[ "$(software state)" == rolled-back ]]' 20 \
    || fail "not rolled back: $(ctl --json twin get gw-1)"
software error | grep -q "health check failed: command exited with status 3" \
    || fail "twin error: $(software error)"
[[ "$(software version)" == 3.0 && "$(software installed)" == 2.0 ]] \
    || fail "twin: $(ctl --json twin get gw-1)"
cmp -s v2.bin "$INST/plc" || fail "rollback did not put v2 back"
[[ "$(jget path < health.json)" == "$INST/plc" && "$(jget version < health.json)" == 3.0 ]] \
    || fail "the health command was told: $(cat health.json)"
[[ ! -e "$INST/.plc.weft-prev" ]] || fail "previous left after the rollback"
stop_proc gw-1

say "the stage's fsync fails (libfiu): rolled back, the twin says why, v2 stays"
if command -v fiu-run > /dev/null && ! ldd "$NODE" | grep -q libasan; then
    cp v2.bin v4.bin
    head -c 40000 /dev/urandom | dd of=v4.bin bs=1 seek=70000 conv=notrunc 2>/dev/null
    art build --repo repo --name plc --version 4.0 --types gateway --handler file \
        --anti-rollback 4 v4.bin > /dev/null || fail "build 4.0"
    publish repo plc=2.0 plc=4.0
    bundle_for 4.0
    # shellcheck disable=SC2046
    fiu-run -x -c 'enable name=posix/io/sync/fsync' \
        "$NODE" $(node_args gw-1) --install-dir "$INST" --import v4.0.wbd >> gw-1.log 2>&1 &
    PID_OF[gw-1]=$!
    wait_for 'software_is rolled-back 4.0' 20 \
        || fail "not rolled back: $(ctl --json twin get gw-1)"
    software error | grep -q "stage failed: cannot sync" || fail "twin error: $(software error)"
    [[ "$(software installed)" == 2.0 ]] || fail "twin: $(ctl --json twin get gw-1)"
    cmp -s v2.bin "$INST/plc" || fail "a failed stage changed the file"
    [[ -z "$(ls -A "$INST" | grep -v '^plc$')" ]] || fail "left over: $(ls -A "$INST")"
    stop_proc gw-1
else
    say "fiu-run not installed or a sanitizer build: skipped"
fi

say "a downgrade the offline root allows: root 2 lets plc down to anti-rollback 0; 0.9 installs"
new_root repo r1 r2 r3 -- --allow-downgrade plc=0
art sign --key r1.key repo/root.2 && art sign --key r2.key repo/root.2 || fail "sign root 2"
[[ "$(art inspect repo/root.2 | jget downgrades.plc)" == 0 ]] \
    || fail "root 2: $(art inspect repo/root.2)"
publish repo plc=2.0 plc=0.9
bundle_for 0.9
gw_run --import v0.9.wbd
wait_for "cmp -s srv.bin '$INST/plc'" 20 || fail "0.9 not installed: $(grep 'update' gw-1.log | tail -3)"
wait_for 'software_is committed 0.9' 20 \
    || fail "twin: $(ctl --json twin get gw-1)"
stop_proc gw-1
