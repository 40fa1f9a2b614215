#!/usr/bin/env bash
#   34-sim-reply-order: every coordinator frame a node's replay window
#   checks reaches the node within that window. Replies wait for the
#   coordinator's group commit while twin changes to every device push
#   meanwhile; pushes wait behind them, so frames reach the first hop in
#   seq order. The coordinator numbers each device's frames on their own
#   (coordinator/core/coordseq.h), so the test-only bug
#   "push-overtakes-reply" is harmless in reply-order.scn (a reply ends
#   up as many seqs behind as pushes to its device overtook it, about
#   ten): the run must hold every invariant, with frames behind but none
#   refused. A single counter for all devices would put it hundreds of
#   seqs behind and fail here. reply-burst.scn makes 69 pushes to each
#   device overtake its waiting reply: the checker must catch that one.
source "$(dirname "$0")/sim-lib.sh"
#   frames FILE KEY: a counter of the summary's "frames" object
frames () { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frames"][sys.argv[2]])' "$1" "$2"; }
for seed in 1 2; do
    "$SIM" "$SCENARIOS/reply-order.scn" --seed "$seed" --dir "$T" -q \
        --json "$T/out.json" 2> "$T/err" || fail "seed $seed: $(head -3 "$T/err")"
    [[ "$(json "$T/out.json" result)" == ok ]] || fail "seed $seed: result not ok"
    [[ "$(json "$T/out.json" converged)" == 600 ]] || fail "seed $seed: not converged"
    [[ "$(frames "$T/out.json" first_hop_behind)" == 0 ]] \
        || fail "seed $seed: coordinator frames left out of seq order"
    [[ "$(frames "$T/out.json" relayed_refused)" == 0 ]] || fail "seed $seed: frames refused"
done
"$SIM" "$SCENARIOS/reply-order.scn" --bug push-overtakes-reply --dir "$T" -q \
    --json "$T/out.json" 2> "$T/err" || fail "pushes overtaking replies: $(head -3 "$T/err")"
[[ "$(json "$T/out.json" converged)" == 600 ]] || fail "bug run: not converged"
(( $(frames "$T/out.json" first_hop_behind) > 0 )) || fail "the bug run reordered nothing"
[[ "$(frames "$T/out.json" relayed_refused)" == 0 ]] || fail "bug run: frames refused"

"$SIM" "$SCENARIOS/reply-burst.scn" --dir "$T" -q --json "$T/out.json" 2> "$T/err" \
    || fail "reply-burst: $(head -3 "$T/err")"
[[ "$(json "$T/out.json" converged)" == 60 ]] || fail "reply-burst: not converged"
"$SIM" "$SCENARIOS/reply-burst.scn" --bug push-overtakes-reply --dir "$T" -q \
    --json "$T/out.json" 2> "$T/err" && fail "69 pushes overtaking a held reply went unnoticed"
grep -q 'outside the replay window' "$T/err" || fail "not the window invariant: $(head -3 "$T/err")"
[[ -z "$(ls "$T" | grep weft-sim)" ]] || fail "store directory left behind"
echo "ok"
