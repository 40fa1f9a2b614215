#!/usr/bin/env bash
#   33-sim-injected-bug: with the test-only bug "ack-before-commit" (a
#   node's ACK goes out before its write is durable, so a crash soon
#   after loses an acknowledged document), the invariant checker stops
#   a run within the first 100 seeds, printing the seed, the command
#   that reproduces it and a trace excerpt; the command reproduces it.
source "$(dirname "$0")/sim-lib.sh"
caught=""
for seed in $(seq 1 100); do
    if ! "$SIM" "$SCENARIOS/random-faults.scn" --bug ack-before-commit --seed "$seed" \
            --dir "$T" -q --json "$T/out.json" 2> "$T/err"; then
        caught=$seed
        break
    fi
done
[[ -n "$caught" ]] || fail "the injected bug went unnoticed for 100 seeds"
grep -q 'INVARIANT VIOLATED' "$T/err" || fail "no violation message"
grep -q "seed $caught" "$T/err" || fail "seed not printed"
grep -q 'last events' "$T/err" || fail "no trace excerpt"
grep -q 'acknowledged desired version .* lost' "$T/err" || fail "not the lost-ACK invariant: $(head -3 "$T/err")"
[[ "$(json "$T/out.json" result)" == violation ]] || fail "summary does not say violation"
command=$(sed -n 's/^weft-sim: reproduce with: //p' "$T/err")
[[ -n "$command" ]] || fail "no reproducing command"
eval "$command" 2> "$T/err2" > /dev/null && fail "the reproducing command passed"
diff <(grep 'INVARIANT' "$T/err") <(grep 'INVARIANT' "$T/err2") || fail "reproduction differs"
#   Without the bug the same seed passes
"$SIM" "$SCENARIOS/random-faults.scn" --seed "$caught" --dir "$T" -q --json /dev/null \
    || fail "seed $caught fails without the bug"
echo "ok: caught at seed $caught"
