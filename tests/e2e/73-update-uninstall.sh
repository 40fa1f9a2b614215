#!/usr/bin/env bash
#   73-update-uninstall - weftctl update uninstall: the coordinator sends
#   gw-1 a signed uninstall order by custody; gw-1 removes plc (the file
#   handler's DIR/plc), the twin says "uninstalled", the bytes freed are
#   measured (du) and logged, and its chunks are no longer pinned: a later
#   release pushing the chunk store past a smaller budget evicts them
#   (after those of the release it replaced, least recently used first). An
#   uninstall is refused while a release waits staged for its maintenance
#   window (the job goes on), and for software not installed. The offer
#   of what was uninstalled, brought again, installs nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
source "$(dirname "$0")/update-lib.sh"
E2E_DIR=$(cd "$(dirname "$0")" && pwd)
cd "$T"
chunkstore () { python3 "$E2E_DIR/chunkstore-check.py" "$T/gw-1/db"; }
BUDGET=(--chunk-budget 7)       #   MiB: two 3 MB releases
#   release VERSION AR: a 3 MB plc VERSION, the only chunks of the
#   publisher's repository (a bundle carries every chunk it holds)
release () {
    rm -rf repo/chunks repo/deltas
    head -c 3000000 /dev/urandom > "v$1.bin"
    art build --repo repo --name plc --version "$1" --types gateway --handler file \
        --anti-rollback "$2" "v$1.bin" > /dev/null || fail "build $1"
}

say "gw-1 installs plc 1.0 (3 MB) from a bundle"
gw_setup
release 1.0 1
publish repo plc=1.0
bundle_for 1.0
gw_run "${BUDGET[@]}" --import v1.0.wbd
wait_for '[[ "$(software state)" == committed ]]' 20 || fail "twin: $(ctl --json twin get gw-1)"
cmp -s v1.0.bin "$INST/plc" || fail "v1 not installed"
stop_proc gw-1
held_v1=$(chunkstore) || fail "chunk store: $held_v1"
[[ "$held_v1" == "wanted 1 held "* ]] || fail "after install: $held_v1"

say "refused while plc 2.0 waits staged for its window; the job goes on"
hour=$(( ($(date -u +%-H) + 3) % 24 ))
from=$(printf '%02d:00' $(( (hour + 2) % 24 )))
to=$(printf '%02d:00' $(( (hour + 3) % 24 )))
gw_run "${BUDGET[@]}"
ctl twin set gw-1 "{\"maintenance\": {\"windows\": [\"* $from-$to\"]}}" > /dev/null \
    || fail "twin set"
wait_for 'grep -q "maintenance window set" gw-1.log' 20 || fail "gw-1 did not take the window"
stop_proc gw-1
release 2.0 2
publish repo plc=2.0
bundle_for 2.0
gw_run "${BUDGET[@]}" --import v2.0.wbd
wait_for '[[ "$(software state)" == staged ]]' 30 || fail "twin: $(ctl --json twin get gw-1)"
ctl update uninstall gw-1 plc > /dev/null || fail "uninstall call"
wait_for 'grep -q "DENIED uninstall refused: plc 2.0 is staged" coord.log' 40 \
    || fail "not refused: $(grep -i uninstall coord.log gw-1.log | tail -3)"
[[ "$(software state)" == staged ]] && cmp -s v1.0.bin "$INST/plc" || fail "the refusal changed it"
say "the window goes: 2.0 installs"
ctl twin set gw-1 '{"maintenance": null}' > /dev/null || fail "twin set"
wait_for 'software_is committed 2.0' 30 \
    || fail "twin: $(ctl --json twin get gw-1)"
cmp -s v2.0.bin "$INST/plc" || fail "v2 not installed"

say "uninstall: the file goes, the twin says so, the bytes freed are measured"
before=$(du -sb "$INST" | cut -f1)
out=$(ctl --json update uninstall gw-1 plc) || fail "uninstall: $out"
[[ "$(jget 'devices.*' <<<"$out")" == gw-1 ]] || fail "uninstall said: $out"
wait_for '[[ "$(software state)" == uninstalled ]]' 20 || fail "twin: $(ctl --json twin get gw-1)"
[[ ! -e "$INST/plc" && -z "$(ls -A "$INST")" ]] || fail "left: $(ls -A "$INST")"
after=$(du -sb "$INST" | cut -f1)
freed=$(( before - after ))
(( freed >= 3000000 )) || fail "freed $freed bytes ($before -> $after)"
logged=$(sed -n 's/.*install: plc removed, \([0-9]*\) bytes freed.*/\1/p' gw-1.log | tail -1)
(( logged >= 3000000 )) || fail "logged: $logged"
say "freed $freed bytes (du), $logged on disk blocks (log)"
[[ -z "$(software installed)" && "$(software version)" == 2.0 ]] \
    || fail "twin: $(ctl --json twin get gw-1)"
grep -q "update.uninstall" <<<"$(ctl audit list --limit 20)" || fail "not audited"

say "refused for software not installed; the old offer of 2.0 brings nothing back"
ctl update uninstall gw-1 plc > /dev/null || fail "second uninstall call"
wait_for 'grep -q "DENIED uninstall refused: plc is not installed" coord.log' 40 \
    || fail "not refused: $(grep -i uninstall coord.log | tail -3)"
stop_proc gw-1
gw_run "${BUDGET[@]}" --import v2.0.wbd
wait_for "grep -q 'import: plc 2.0 for this device taken: duplicate' gw-1.log" 20 \
    || fail "old offer: $(grep 'update' gw-1.log | tail -3)"
[[ ! -e "$INST/plc" ]] || fail "an old offer reinstalled plc"
stop_proc gw-1

say "its chunks are no longer pinned; a new release past the budget evicts them"
held=$(chunkstore) || fail "chunk store: $held"
n2=$(art inspect repo/manifests/plc_2.0 | jget chunks)
#   Nothing pinned: 1.0 (let go at 2.0's commit) and 2.0 evictable
[[ "$held" == "wanted 0 held "* ]] || fail "after uninstall: $held"
held_before=${held##* }
release 3.0 3
publish repo plc=3.0
bundle_for 3.0
gw_run --chunk-budget 4 --import v3.0.wbd
wait_for "cmp -s v3.0.bin '$INST/plc'" 30 || fail "3.0 not installed: $(tail -3 gw-1.log)"
stop_proc gw-1
held=$(chunkstore) || fail "chunk store: $held"
n3=$(art inspect repo/manifests/plc_3.0 | jget chunks)
held_after=${held##* }
#   3.0 whole, and fewer than 2.0's chunks beside it: 1.0's went, then
#   2.0's, as the budget needed (4 MiB: 3.0 and at most a third of 2.0)
[[ "$held" == "wanted 1 held "* ]] && (( held_after >= n3 && held_after - n3 < n2 / 2 )) \
    || fail "after 3.0 ($n3 chunks; 2.0 had $n2, held $held_before before): $held"
say "chunks held: $held_before unpinned after the uninstall, $held_after after 3.0 ($n3 its own)"
