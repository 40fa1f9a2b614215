#   sim-lib.sh - shared setup of the weft-sim tests (30-34): the binary,
#   a private temp dir removed on exit, and the scenarios directory.
set -u
SIM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WEFT_BUILD=${WEFT_BUILD:-$SIM_ROOT/build}
SIM="$(cd "$WEFT_BUILD" && pwd)/weft-sim"
SCENARIOS="$SIM_ROOT/sim/scenarios"
[[ -x "$SIM" ]] || { echo "FAIL: $SIM is missing (build first)" >&2; exit 1; }
T=$(mktemp -d /tmp/weft-sim-test.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
fail () { echo "FAIL: $*" >&2; exit 1; }
#   json FILE KEY: a top-level string or number of a summary
json () { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
#   sim_twice SCENARIO [ARGS...]: run a scenario twice with the same
#   seed, summaries in $T/a.json and $T/b.json (a violation fails)
sim_twice () {
    local scenario=$1 run; shift
    for run in a b; do
        "$SIM" "$SCENARIOS/$scenario" "$@" --dir "$T" -q --json "$T/$run.json" 2> "$T/err" \
            || fail "weft-sim reported a violation: $(head -3 "$T/err")"
    done
}
