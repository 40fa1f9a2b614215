#!/usr/bin/env bash
#   34-sim-reply-order: every coordinator frame reaches its node within
#   the node's replay window. Replies wait for the coordinator's group
#   commit while twin changes to every device number hundreds of pushes;
#   a push must not overtake a waiting reply to the same node (it would
#   leave the reply more than 64 seqs behind, refused as a replay). With
#   the test-only bug "push-overtakes-reply" the checker catches exactly
#   that, so the scenario does exercise the race.
source "$(dirname "$0")/sim-lib.sh"
for seed in 1 2; do
    "$SIM" "$SCENARIOS/reply-order.scn" --seed "$seed" --dir "$T" -q \
        --json "$T/out.json" 2> "$T/err" || fail "seed $seed: $(head -3 "$T/err")"
    [[ "$(json "$T/out.json" result)" == ok ]] || fail "seed $seed: result not ok"
    [[ "$(json "$T/out.json" converged)" == 600 ]] || fail "seed $seed: not converged"
done
"$SIM" "$SCENARIOS/reply-order.scn" --bug push-overtakes-reply --dir "$T" -q \
    --json "$T/out.json" 2> "$T/err" && fail "a push overtaking a held reply went unnoticed"
grep -q 'outside the replay window' "$T/err" || fail "not the window invariant: $(head -3 "$T/err")"
[[ -z "$(ls "$T" | grep weft-sim)" ]] || fail "store directory left behind"
echo "ok"
