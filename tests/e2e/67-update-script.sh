#!/usr/bin/env bash
#   67-update-script - the script handler: a shell script signed with the
#   release runs on the device (/bin/sh SCRIPT install, the release as
#   JSON on stdin) and its exit status decides. A good one commits and
#   is kept as DIR/NAME; one that fails is rolled back (its own
#   "rollback" run undoes what it did) and the twin gives the last line
#   of its stderr; one that runs past --script-timeout is killed with
#   its whole process group and rolled back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
source "$(dirname "$0")/update-lib.sh"
cd "$T"
mkdir -p work
W="$T/work"

release () { release_of tool script "$1" "$2" "tool-$1.sh"; }

say "gw-1 enrols in acme, its release root pinned"
gw_setup

say "script 1.0 succeeds: committed, kept as DIR/tool, it was told the release"
cat > tool-1.0.sh <<SCRIPT
case "\$1" in
    install) cat > '$W/stdin.json'; echo 1.0 > '$W/state' ;;
    rollback) echo rollback-1.0 >> '$W/undone' ;;
esac
SCRIPT
release 1.0 1
gw_run --import v1.0.wbd --health-command "'$PROBE' json path > '$W/health-path'"
wait_for 'software_is committed 1.0' 20 || fail "twin: $(ctl --json twin get gw-1)"
[[ "$(cat "$W/state")" == 1.0 ]] || fail "the script did not run"
[[ "$(jget name < "$W/stdin.json")" == tool && "$(jget version < "$W/stdin.json")" == 1.0 \
   && "$(jget step < "$W/stdin.json")" == install ]] || fail "stdin: $(cat "$W/stdin.json")"
cmp -s tool-1.0.sh "$INST/tool" || fail "the script that ran is not kept as $INST/tool"
[[ "$(cat "$W/health-path")" == "$INST/.tool.weft-new" ]] \
    || fail "the health command was told $(cat "$W/health-path")"
[[ "$(software handler)" == script && ! -e "$W/undone" ]] || fail "twin: $(software handler)"
[[ "$(ls -A "$INST")" == tool ]] || fail "left over after commit: $(ls -A "$INST")"
stop_proc gw-1

say "script 2.0 fails half way: its rollback run undoes it, the twin gives its stderr"
cat > tool-2.0.sh <<SCRIPT
case "\$1" in
    install) echo 2.0-half > '$W/state'; echo "no space left for the cache" >&2; exit 4 ;;
    rollback) echo 1.0 > '$W/state'; echo rollback-2.0 >> '$W/undone' ;;
esac
SCRIPT
release 2.0 2
gw_run --import v2.0.wbd
wait_for 'software_is rolled-back 2.0' 20 || fail "twin: $(ctl --json twin get gw-1)"
[[ "$(software error)" == "activate failed: script exited with status 4: no space left for the cache" ]] \
    || fail "twin error: $(software error)"
[[ "$(software installed)" == 1.0 ]] || fail "twin: $(ctl --json twin get gw-1)"
[[ "$(cat "$W/state")" == 1.0 && "$(cat "$W/undone")" == rollback-2.0 ]] \
    || fail "not undone: $(cat "$W/state" "$W/undone")"
cmp -s tool-1.0.sh "$INST/tool" && [[ "$(ls -A "$INST")" == tool ]] \
    || fail "install dir after the rollback: $(ls -A "$INST")"
stop_proc gw-1

say "script 3.0 hangs with a child: killed with its process group at --script-timeout"
cat > tool-3.0.sh <<SCRIPT
[ "\$1" = rollback ] && exit 0
sleep 300 &
echo \$! > '$W/child'
echo \$\$ > '$W/pid'
wait
SCRIPT
release 3.0 3
started=$(date +%s)
gw_run --import v3.0.wbd --script-timeout 2
wait_for 'software_is rolled-back 3.0' 20 || fail "twin: $(ctl --json twin get gw-1)"
(( $(date +%s) - started < 15 )) || fail "the timeout took too long"
software error | grep -q "activate failed: script timed out after 2 s" \
    || fail "twin error: $(software error)"
#   Dead, or a zombie left to a PID 1 that does not reap (a container)
runs () { [[ "$(ps -o stat= -p "$1" 2>/dev/null)" =~ ^[^Z] ]]; }
for p in pid child; do
    wait_for "! runs $(cat "$W/$p")" 5 || fail "the script's $p still runs: $(ps -o pid,stat,args -p "$(cat "$W/$p")")"
done
cmp -s tool-1.0.sh "$INST/tool" && [[ "$(ls -A "$INST")" == tool ]] \
    || fail "install dir after the timeout: $(ls -A "$INST")"
stop_proc gw-1
