#!/usr/bin/env bash
#   69-update-firmware - the firmware handler (simulated flashing: a slot
#   file under the install directory): a device on fw 2.2.0 is listed by
#   the query fw<2.3; firmware 2.3.0 flashes, commits, and the node
#   reports weft.fw 2.3.0, so the registry's fw moves and fw<2.3 no
#   longer lists it; 2.4.0 failing its health check rolls back: the old
#   image and revision are back and fw stays 2.3.0, also after an
#   applied desired document.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
source "$(dirname "$0")/update-lib.sh"
cd "$T"

listed () {     # listed QUERY : the ids the query selects, one line
    ctl --json device list --query "$1" | jget 'devices.*.id' | tr '\n' ' '
}
release () {    # release VERSION ANTI-ROLLBACK : firmware image VERSION, bundled
    head -c 200000 /dev/urandom > "fw-$1.img"
    release_of mcu firmware "$1" "$2" "fw-$1.img"
}

say "gw-1 enrols in acme, its release root pinned; its registry fw is 2.2.0"
gw_setup
ctl device set gw-1 fw=2.2.0 > /dev/null || fail "device set"
[[ "$(listed 'fw<2.3')" == "gw-1 " ]] || fail "fw<2.3 before: $(listed 'fw<2.3')"

say "firmware 2.3.0 flashed and committed: weft.fw 2.3.0, the registry's fw moves"
release 2.3.0 1
gw_run --import v2.3.0.wbd
wait_for 'software_is committed 2.3.0' 20 || fail "twin: $(ctl --json twin get gw-1)"
cmp -s fw-2.3.0.img "$INST/mcu" || fail "slot not flashed"
[[ "$(cat "$INST/.mcu.weft-rev")" == 2.3.0 ]] || fail "revision: $(cat "$INST/.mcu.weft-rev")"
[[ "$(ctl --json twin get gw-1 | jget reported.weft.fw)" == 2.3.0 ]] \
    || fail "weft.fw: $(ctl --json twin get gw-1)"
wait_for '[[ "$(ctl --json device show gw-1 | jget fw)" == 2.3.0 ]]' 10 \
    || fail "registry fw: $(ctl --json device show gw-1)"
[[ -z "$(listed 'fw<2.3')" ]] || fail "fw<2.3 still lists $(listed 'fw<2.3')"
[[ "$(listed 'fw>=2.3')" == "gw-1 " ]] || fail "fw>=2.3: $(listed 'fw>=2.3')"
[[ "$(ls -A "$INST" | sort | tr '\n' ' ')" == ".mcu.weft-rev mcu " ]] \
    || fail "left over after commit: $(ls -A "$INST")"
stop_proc gw-1

say "firmware 2.4.0 fails its health check: the 2.3.0 image and revision are back, fw stays"
release 2.4.0 2
gw_run --import v2.4.0.wbd --health-command "exit 5"
wait_for 'software_is rolled-back 2.4.0' 20 || fail "twin: $(ctl --json twin get gw-1)"
software error | grep -q "health check failed: command exited with status 5" \
    || fail "twin error: $(software error)"
cmp -s fw-2.3.0.img "$INST/mcu" || fail "the 2.3.0 image is not back"
[[ "$(cat "$INST/.mcu.weft-rev")" == 2.3.0 ]] || fail "revision: $(cat "$INST/.mcu.weft-rev")"
[[ "$(ls -A "$INST" | sort | tr '\n' ' ')" == ".mcu.weft-rev mcu " ]] \
    || fail "left over after the rollback: $(ls -A "$INST")"
[[ "$(ctl --json twin get gw-1 | jget reported.weft.fw)" == 2.3.0 ]] \
    || fail "weft.fw: $(ctl --json twin get gw-1)"
[[ "$(ctl --json device show gw-1 | jget fw)" == 2.3.0 ]] \
    || fail "registry fw: $(ctl --json device show gw-1)"

say "an applied desired document keeps weft.fw"
ctl twin set gw-1 '{"rate": 7}' > /dev/null || fail "twin set"
wait_for 'twin_synced gw-1 rate 7' 20 || fail "twin: $(ctl --json twin get gw-1)"
[[ "$(ctl --json twin get gw-1 | jget reported.weft.fw)" == 2.3.0 ]] \
    || fail "apply dropped weft.fw: $(ctl --json twin get gw-1)"
[[ -z "$(listed 'fw<2.3')" ]] || fail "fw<2.3 lists $(listed 'fw<2.3')"
stop_proc gw-1
