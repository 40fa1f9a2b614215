#!/usr/bin/env bash
#   68-update-config - the config handler: a signed configuration for
#   installed software. A good one passes its health check and commits
#   (kept as the last good one); a bad one fails its health check and
#   the last good one is put back byte for byte, the twin saying why; a
#   change made to the file outside a release is not taken for a good
#   one: the next failed release puts the last good one back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
source "$(dirname "$0")/update-lib.sh"
cd "$T"

say "gw-1 enrols in acme, its release root pinned; app.conf is there before any release"
gw_setup
mkdir -p "$INST"
printf 'rate=1\n' > "$INST/app.conf"
cp "$INST/app.conf" c0.conf
#   The software's own check of its configuration: rate must be a number
HEALTH="grep -qx 'rate=[0-9]*' '$INST/app.conf'"
release () {    # release VERSION ANTI-ROLLBACK TEXT
    printf '%s\n' "$3" > "c$1.conf"
    release_of app.conf config "$1" "$2" "c$1.conf"
}

say "a good config (rate=2) passes its health check and commits; it is the last good one"
release 1.0 1 'rate=2'
gw_run --import v1.0.wbd --health-command "$HEALTH"
wait_for 'software_is committed 1.0' 20 || fail "twin: $(ctl --json twin get gw-1)"
[[ "$(software handler)" == config && "$(software installed)" == 1.0 ]] \
    || fail "twin: $(ctl --json twin get gw-1)"
cmp -s c1.0.conf "$INST/app.conf" || fail "config 1.0 not in place: $(cat "$INST/app.conf")"
cmp -s c1.0.conf "$INST/.app.conf.weft-good" || fail "1.0 not kept as the last good one"
[[ "$(ls -A "$INST" | sort | tr '\n' ' ')" == ".app.conf.weft-good app.conf " ]] \
    || fail "left over after commit: $(ls -A "$INST")"
stop_proc gw-1

say "a bad config (rate=fast) fails its health check: the last good one is back, the twin says why"
sum_before=$(sha256sum "$INST/app.conf")
release 2.0 2 'rate=fast'
gw_run --import v2.0.wbd --health-command "$HEALTH"
wait_for 'software_is rolled-back 2.0' 20 \
    || fail "not rolled back: $(ctl --json twin get gw-1)"
software error | grep -q "health check failed: command exited with status 1" \
    || fail "twin error: $(software error)"
[[ "$(software version)" == 2.0 && "$(software installed)" == 1.0 ]] \
    || fail "twin: $(ctl --json twin get gw-1)"
[[ "$(sha256sum "$INST/app.conf")" == "$sum_before" ]] || fail "app.conf not as before"
[[ "$(ls -A "$INST" | sort | tr '\n' ' ')" == ".app.conf.weft-good app.conf " ]] \
    || fail "left over after the rollback: $(ls -A "$INST")"
stop_proc gw-1

say "app.conf changed outside a release; a bad release puts the last good one back, not that"
printf 'rate=9\n# edited by hand\n' > "$INST/app.conf"
release 3.0 3 'rate=slow'
gw_run --import v3.0.wbd --health-command "$HEALTH"
wait_for 'software_is rolled-back 3.0' 20 \
    || fail "not rolled back: $(ctl --json twin get gw-1)"
cmp -s c1.0.conf "$INST/app.conf" || fail "not the last good one: $(cat "$INST/app.conf")"
stop_proc gw-1

say "a good one again (rate=5) commits and becomes the last good one"
release 4.0 4 'rate=5'
gw_run --import v4.0.wbd --health-command "$HEALTH"
wait_for 'software_is committed 4.0' 20 \
    || fail "twin: $(ctl --json twin get gw-1)"
cmp -s c4.0.conf "$INST/app.conf" && cmp -s c4.0.conf "$INST/.app.conf.weft-good" \
    || fail "4.0 not in place and kept"
stop_proc gw-1
