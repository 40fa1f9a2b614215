#!/usr/bin/env bash
#   36-sim-mesh-rounds: rounds on 1,000 devices behind 10 site servers,
#   all getting a twin change (rounds and the link model: docs/sim.md).
#   - 2% packet loss on every link: TCP resends, so every device still
#     gets the change in the oracle's two rounds (one hop to the server,
#     one relayed by its mesh); the loss shows in time, not in rounds.
#   - 2% of the frames dropped unnoticed: half of the devices still take
#     two rounds, a drop costs a retransmission (one more round, by the
#     coordinator's or the relay's custody), and the last device is
#     within 1.5x the oracle under the same drop rate. The same seed
#     gives the same rounds.
source "$(dirname "$0")/sim-lib.sh"
"$SIM" "$SCENARIOS/twin-all.scn" --nodes 1000 --sites 10 --loss 0.02 --seed 3 \
    --dir "$T" -q --json "$T/loss.json" 2> "$T/err" || fail "violation: $(head -3 "$T/err")"
for run in a b; do
    "$SIM" "$SCENARIOS/twin-all.scn" --nodes 1000 --sites 10 --drop 0.02 --seed 3 \
        --dir "$T" -q --json "$T/$run.json" 2> "$T/err" || fail "violation: $(head -3 "$T/err")"
done
python3 - "$T/loss.json" "$T/a.json" "$T/b.json" <<'PY' || fail "rounds"
import json, sys
loss, a, b = (json.load(open(f)) for f in sys.argv[1:4])
d = loss["delivery"]
assert loss["result"] == "ok" and d["ratio"] == 1.0, d
assert loss["frames"]["resent"] > 0 and loss["frames"]["dropped"] == 0, loss["frames"]
assert d["oracle_rounds"] == 2 and d["rounds100"] == 2, d
assert d["t100_ms"] > 200, d        # a resend waits for TCP's timeout
d = a["delivery"]
assert a["result"] == "ok" and d["ratio"] == 1.0, d
assert a["frames"]["dropped"] > 0 and a["frames"]["resent"] == 0, a["frames"]
assert d["oracle_rounds"] == 2 and d["rounds50"] == 2 and d["rounds100"] >= 3, d
assert d["oracle_rounds_drop"] >= 3 and d["rounds_vs_oracle_drop"] <= 1.5, d
assert d["t100_ms"] > 1000, d       # a repair waits for a retransmission
assert a["delivery"] == b["delivery"] and a["result_hash"] == b["result_hash"], (d, b["delivery"])
print("loss: rounds100 %d; drop: rounds50 %d rounds99 %d rounds100 %d, oracle %d, "
      "oracle under drops %d" % (loss["delivery"]["rounds100"], d["rounds50"], d["rounds99"],
      d["rounds100"], d["oracle_rounds"], d["oracle_rounds_drop"]))
PY
[[ -z "$(ls "$T" | grep weft-sim)" ]] || fail "store directory left behind"
echo "ok"
