#!/usr/bin/env bash
#   32-sim-determinism: the same seed and scenario give the same event
#   trace hash and result hash, run after run; another seed does not.
source "$(dirname "$0")/sim-lib.sh"
run () { "$SIM" "$SCENARIOS/site-outage.scn" --dir "$T" -q --seed "$1" --json "$2" \
             --trace "$2.trace" || fail "seed $1 violated an invariant"; }
run 7 "$T/a.json"
run 7 "$T/b.json"
run 8 "$T/c.json"
for key in trace_hash result_hash; do
    [[ "$(json "$T/a.json" $key)" == "$(json "$T/b.json" $key)" ]] || fail "$key differs for one seed"
done
cmp -s "$T/a.json.trace" "$T/b.json.trace" || fail "event traces differ"
[[ "$(json "$T/a.json" trace_hash)" != "$(json "$T/c.json" trace_hash)" ]] \
    || fail "seeds 7 and 8 gave the same trace"
#   Random faults come from the seed too
"$SIM" "$SCENARIOS/random-faults.scn" --dir "$T" -q --seed 5 --json "$T/d.json" || fail "seed 5"
"$SIM" "$SCENARIOS/random-faults.scn" --dir "$T" -q --seed 5 --json "$T/e.json" || fail "seed 5"
[[ "$(json "$T/d.json" result_hash)" == "$(json "$T/e.json" result_hash)" ]] || fail "random faults"
echo "ok: trace $(json "$T/a.json" trace_hash) result $(json "$T/a.json" result_hash)"
