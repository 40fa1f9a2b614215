#!/usr/bin/env bash
#   run.sh - every test: each module selftest in its own process, then
#   the static checks under tests/static, then each end-to-end scenario
#   under tests/e2e. Prints one line per test
#   and ends with "N passed, N failed". Usage: tests/run.sh BUILD_DIR [FILTER]
set -u
BUILD=${1:-build}
FILTER=${2:-}
BUILD=$(cd "$BUILD" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export WEFT_BUILD="$BUILD"
LOGDIR=$(mktemp -d /tmp/weft-test-logs.XXXXXX)
passed=0
failed=0
failures=()

s_run () {          #   name, command...
    local name=$1; shift
    local log="$LOGDIR/${name//\//_}.log"
    local start=$(date +%s)
    if timeout 300 "$@" > "$log" 2>&1; then
        passed=$((passed + 1))
        printf 'ok    %-40s %3ss\n' "$name" $(( $(date +%s) - start ))
    else
        failed=$((failed + 1))
        failures+=("$name")
        printf 'FAIL  %-40s %3ss\n' "$name" $(( $(date +%s) - start ))
        tail -n 40 "$log" | sed 's/^/    | /'
    fi
}

for t in $("$BUILD/weft-selftest" --list); do
    [[ -n "$FILTER" && "selftest/$t" != *"$FILTER"* ]] && continue
    s_run "selftest/$t" "$BUILD/weft-selftest" --test "$t"
done
for t in tests/static/*.sh; do
    name="static/$(basename "$t" .sh)"
    [[ -n "$FILTER" && "$name" != *"$FILTER"* ]] && continue
    s_run "$name" bash "$t"
done
for t in tests/e2e/[0-9]*.sh; do
    [[ -e "$t" ]] || continue
    name="e2e/$(basename "$t" .sh)"
    [[ -n "$FILTER" && "$name" != *"$FILTER"* ]] && continue
    s_run "$name" bash "$t"
done
rm -rf "$LOGDIR"
if (( failed > 0 )); then
    echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
(( failed == 0 ))
