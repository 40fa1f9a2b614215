#!/usr/bin/env bash
#   run.sh - every test: each module selftest in its own process, the
#   static checks under tests/static, and each end-to-end scenario under
#   tests/e2e. Tests are independent (private temp dirs, free ports), so
#   they run side by side: WEFT_TEST_JOBS at a time (default 3; most e2e
#   scenarios spend their time waiting on timers, not on a CPU). The
#   slowest start first, so the run ends with short ones. Prints one line
#   per test as it ends and finishes with "N passed, N failed".
#   Usage: tests/run.sh BUILD_DIR [FILTER]
set -u
BUILD=${1:-build}
FILTER=${2:-}
BUILD=$(cd "$BUILD" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export WEFT_BUILD="$BUILD"
JOBS=${WEFT_TEST_JOBS:-3}
#   Per-test limit; make check raises it, as the sanitizers slow the
#   simulator runs several times over
LIMIT=${WEFT_TEST_TIMEOUT:-480}
LOGDIR=$(mktemp -d /tmp/weft-test-logs.XXXXXX)
trap 'rm -rf "$LOGDIR"' EXIT

names=()
declare -A CMD_OF=()
s_add () {          #   name, command...
    local name=$1; shift
    [[ -n "$FILTER" && "$name" != *"$FILTER"* ]] && return
    names+=("$name")
    CMD_OF[$name]=$(printf '%q ' "$@")
}

for t in $("$BUILD/weft-selftest" --list); do
    s_add "selftest/$t" "$BUILD/weft-selftest" --test "$t"
done
for t in tests/static/*.sh; do
    s_add "static/$(basename "$t" .sh)" bash "$t"
done
for t in tests/e2e/[0-9]*.sh; do
    [[ -e "$t" ]] && s_add "e2e/$(basename "$t" .sh)" bash "$t"
done

#   Longest first, by tests/durations (seconds on an idle 2-core
#   machine; a test not listed counts as short), so the run ends with
#   short ones and the cores stay busy
ordered=()
while read -r _ name; do
    ordered+=("$name")
done < <(for name in "${names[@]}"; do
             secs=$(awk -v n="$name" '$1 == n { print $2 }' tests/durations)
             echo "${secs:-1} $name"
         done | sort -s -k1,1nr)

passed=0
failed=0
failures=()
declare -A PID_NAME=()
declare -A START_OF=()

s_start () {        #   name
    local name=$1
    local log="$LOGDIR/${name//\//_}"
    ( eval "timeout $LIMIT ${CMD_OF[$name]}" > "$log.log" 2>&1; echo $? > "$log.rc" ) &
    PID_NAME[$!]=$name
    START_OF[$name]=$(date +%s)
}

s_reap () {         #   wait for one test to end and report it
    local pid name log rc
    wait -n
    for pid in "${!PID_NAME[@]}"; do
        kill -0 "$pid" 2>/dev/null && continue
        wait "$pid" 2>/dev/null
        name=${PID_NAME[$pid]}
        unset "PID_NAME[$pid]"
        log="$LOGDIR/${name//\//_}"
        rc=$(cat "$log.rc" 2>/dev/null || echo 1)
        if [[ "$rc" == 0 ]]; then
            passed=$((passed + 1))
            printf 'ok    %-40s %3ss\n' "$name" $(( $(date +%s) - START_OF[$name] ))
        else
            failed=$((failed + 1))
            failures+=("$name")
            printf 'FAIL  %-40s %3ss\n' "$name" $(( $(date +%s) - START_OF[$name] ))
            #   The reason first: a failing scenario dumps its logs' tails
            #   after it, which would push it out of the last 40 lines
            grep -m 5 '^FAIL \[' "$log.log" | sed 's/^/    | /'
            tail -n 40 "$log.log" | sed 's/^/    | /'
        fi
    done
}

for name in "${ordered[@]}"; do
    while (( ${#PID_NAME[@]} >= JOBS )); do
        s_reap
    done
    s_start "$name"
done
while (( ${#PID_NAME[@]} > 0 )); do
    s_reap
done

if (( failed > 0 )); then
    echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
(( failed == 0 ))
