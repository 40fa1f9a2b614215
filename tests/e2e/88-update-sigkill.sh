#!/usr/bin/env bash
#   88-update-sigkill - weft-node killed (SIGKILL) at several points of
#   an install with the file handler (strace injects the kill as a given
#   file operation starts; a health command is killed while it runs): at
#   every kill the artifact is exactly the old version or the new one,
#   and the node started again (without the bundle) completes the install
#   from its stored state, nothing left over. A stage held up does not
#   hold up the node: it runs in a thread of its own.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
source "$(dirname "$0")/update-lib.sh"
cd "$T"

#   old_or_new OLD NEW : the artifact is one of them, whole
old_or_new () {
    cmp -s "$1" "$INST/plc" || cmp -s "$2" "$INST/plc" \
        || fail "after the kill the artifact is neither $1 nor $2"
}

#   completes V : started again, gw-1 commits plc V, nothing left over
completes () {
    wait_for "cmp -s v$1.bin '$INST/plc'" 20 || fail "v$1 not installed: $(tail -5 gw-1.log)"
    wait_for "grep -q 'update: plc $1 committed' gw-1.log" 20 \
        || fail "v$1 not committed: $(tail -5 gw-1.log)"
    wait_for 'software_is committed '"$1" 20 \
        || fail "twin: $(ctl --json twin get gw-1)"
    [[ -z "$(ls -A "$INST" | grep -v '^plc$')" ]] || fail "left over: $(ls -A "$INST")"
}

say "gw-1 enrols in acme, then its tenant's release root is pinned; plc 1 to 7 published"
gw_setup
head -c 4000000 /dev/urandom > v1.bin
for v in 2 3 4 5 6 7; do
    cp v$((v - 1)).bin v$v.bin
    head -c 50000 /dev/urandom | dd of=v$v.bin bs=1 seek=$((v * 500000)) conv=notrunc 2>/dev/null
done
names=""
for v in 1 2 3 4 5 6 7; do
    art build --repo repo --name plc --version $v --types gateway --handler file \
        --anti-rollback $v v$v.bin > /dev/null || fail "build $v"
    names+=" plc=$v"
done
publish repo $names
for v in 1 2 3 4 5 6 7; do bundle_for $v; done
gw_run --import v1.wbd
completes 1
stop_proc gw-1

say "killed during its health check: the new version stays, checked again at start"
health="echo \$\$ > '$T/health.pid'; [ -e '$T/healthy' ] || exec sleep 30"
gw_run --import v2.wbd --health-command "$health"
wait_for "[[ -s '$T/health.pid' ]]" 20 || fail "no health check: $(tail -5 gw-1.log)"
stop_proc gw-1 KILL
kill "$(cat health.pid)" 2>/dev/null
cmp -s v2.bin "$INST/plc" || fail "not on v2 while its health is checked"
touch healthy
gw_run --health-command "$health"
completes 2
stop_proc gw-1

#   kill_at SYSCALLS PATH VERSION : gw-1 imports plc VERSION under strace,
#   which kills it with SIGKILL as it enters the first of SYSCALLS on
#   PATH (before the call takes effect)
kill_at () {
    # shellcheck disable=SC2046
    strace -f -qq -o /dev/null -e trace="$1" -P "$2" -e inject="$1":signal=KILL:when=1 \
        "$NODE" $(node_args gw-1) --install-dir "$INST" --import "v$3.wbd" >> gw-1.log 2>&1 &
    PID_OF[gw-1]=$!
    gw_exited || fail "gw-1 not killed at $1 on $2"
    grep -q "update: plc $3 committed" gw-1.log && fail "plc $3 committed before the kill"
}

RENAME=rename,renameat,renameat2
v=3
for point in "$RENAME $INST/.plc.weft-new.part the staged file's rename" \
             "link,linkat $INST/plc the link keeping the previous" \
             "$RENAME $INST/.plc.weft-new the switch to the new" \
             "unlink,unlinkat $INST/.plc.weft-prev the commit letting the previous go"; do
    read -r calls path what <<<"$point"
    say "killed at $what: old or new, and the restart completes"
    kill_at "$calls" "$path" $v
    old_or_new v$((v - 1)).bin v$v.bin
    gw_run
    completes $v
    stop_proc gw-1
    v=$((v + 1))
done

say "a stage held up 8 s (strace delays its rename): the node's messages go on meanwhile"
# shellcheck disable=SC2046
strace -f -qq -o /dev/null -e trace="$RENAME" -P "$INST/.plc.weft-new.part" \
    -e inject="$RENAME":delay_enter=8000000 \
    "$NODE" $(node_args gw-1) --install-dir "$INST" --import v7.wbd >> gw-1.log 2>&1 &
PID_OF[gw-1]=$!
wait_for "grep -q 'update: plc 7 verified' gw-1.log" 20 || fail "no stage: $(tail -5 gw-1.log)"
ctl twin set gw-1 '{"rate": 9}' > /dev/null || fail "twin set"
wait_for 'twin_synced gw-1 rate 9' 6 || fail "the node stood still while staging"
grep -q 'update: plc 7 staged' gw-1.log && fail "the stage was not held up"
completes 7
stop_proc gw-1
